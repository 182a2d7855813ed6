//! Tabular data: CSV files with a header row, numeric feature columns and an
//! optional label column, validated against a model's input and reshaped to
//! its declared per-record shape (64 columns feed a [N,1,8,8] input).
//!
//! Contract:
//! - [`read_csv`] parses bytes into a [`Dataset`] (f32 features in column
//!   order, optional integer labels) and names the row and column of any
//!   problem (wrong column count, non-numeric cell, NaN/inf, missing label).
//! - [`CsvStream`] reads the same format chunk by chunk from any reader, so
//!   large files are processed in bounded memory; the size limit is checked
//!   as rows arrive. [`CsvPushParser`] takes the bytes as they arrive (the
//!   page streams a `File` into it), with the same result and errors.
//! - [`split_by_membership`] splits one CSV on a 0/1 membership column into
//!   a members and a non-members CSV (parsed by [`read_csv`], written back
//!   exactly: every f32 as its shortest round-trip text).
//! - [`Dataset::to_batch`] checks the feature count against the model input
//!   and returns the batch tensor in the model's input shape.

mod csv_reader;
mod error;
mod split;

pub use csv_reader::{
    read_csv, read_csv_from, CsvOptions, CsvPushParser, CsvStream, Dataset, DEFAULT_LABEL_COLUMN,
    PUSH_PORTION,
};
pub use error::DataError;
pub use split::{split_by_membership, MembershipSplit};
