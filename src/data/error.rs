//! Data errors, each naming the 1-based data row (the header is not counted),
//! the column and the numbers involved. `code()` is stable across versions.

use crate::text::Shown;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    #[error("the CSV file is empty")]
    Empty,
    #[error("the CSV has a header but no data rows")]
    NoRows,
    #[error("the CSV header has no feature columns (columns: {})", Shown(.0))]
    NoFeatures(String),
    #[error("the CSV header is one column containing {}: values must be separated by commas", separator_name(*.0))]
    Separator(char),
    #[error("the CSV header names column '{}' more than once", Shown(.0))]
    DuplicateColumn(String),
    #[error("CSV row {row} has {got} values, the header has {expected}")]
    RaggedRow {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("CSV row {row}, column '{}': the value is empty", Shown(column))]
    EmptyCell { row: usize, column: String },
    #[error(
        "CSV row {row}, column '{}': '{}' is not a number",
        Shown(column),
        Shown(value)
    )]
    NotNumeric {
        row: usize,
        column: String,
        value: String,
    },
    #[error(
        "CSV row {row}, column '{}': '{}' is NaN or infinite (or outside the f32 range)",
        Shown(column),
        Shown(value)
    )]
    NonFinite {
        row: usize,
        column: String,
        value: String,
    },
    #[error(
        "CSV row {row}: label '{}' is not a non-negative integer class index",
        Shown(value)
    )]
    BadLabel { row: usize, value: String },
    #[error("label column '{}' is not in the CSV header", Shown(.0))]
    NoLabelColumn(String),
    #[error("the CSV has {got} feature columns, the model expects {expected}{hint}")]
    FeatureCount {
        got: usize,
        expected: usize,
        hint: String,
    },
    #[error("the model input has shape {shape}: its non-batch dimensions are not all fixed, so CSV columns cannot be mapped onto it")]
    UnfixedShape { shape: String },
    #[error("the CSV has at least {rows} rows x {cols} columns, over the limit of {limit} cells")]
    TooLarge {
        rows: usize,
        cols: usize,
        limit: usize,
    },
    #[error("CSV row {row} is not valid UTF-8 text")]
    NotUtf8 { row: usize },
    #[error("CSV parse error: {}", Shown(.0))]
    Parse(String),
    /// A membership column that cannot split the CSV (`split_by_membership`).
    #[error("{0}")]
    Membership(String),
    /// A limit of [`crate::limits::Limits`]; `code()` names which.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitExceeded),
}

fn separator_name(c: char) -> String {
    match c {
        '\t' => "tabs".to_string(),
        c => format!("'{}'", c.escape_debug()),
    }
}

impl DataError {
    pub fn code(&self) -> &'static str {
        match self {
            DataError::Empty => "csv_empty",
            DataError::NoRows => "csv_no_rows",
            DataError::NoFeatures(_) => "csv_no_features",
            DataError::Separator(_) => "csv_separator",
            DataError::DuplicateColumn(_) => "csv_duplicate_column",
            DataError::RaggedRow { .. } => "csv_ragged",
            DataError::EmptyCell { .. } => "csv_empty_cell",
            DataError::NotNumeric { .. } => "csv_not_numeric",
            DataError::NonFinite { .. } => "csv_non_finite",
            DataError::BadLabel { .. } => "csv_bad_label",
            DataError::NoLabelColumn(_) => "csv_no_label_column",
            DataError::FeatureCount { .. } => "csv_feature_count",
            DataError::UnfixedShape { .. } => "csv_unfixed_shape",
            DataError::TooLarge { .. } => "csv_too_large",
            DataError::NotUtf8 { .. } => "csv_not_utf8",
            DataError::Parse(_) => "csv_parse",
            DataError::Membership(_) => "bad_membership_column",
            DataError::Limit(e) => e.code(),
        }
    }
}
