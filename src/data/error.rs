//! Data errors, each naming the row/column and the numbers involved.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    #[error("the CSV file is empty")]
    Empty,
    #[error("the CSV has a header but no data rows")]
    NoRows,
    #[error("CSV row {row} has {got} values, the header has {expected}")]
    RaggedRow {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("CSV row {row}, column '{column}': '{value}' is not a number")]
    NotNumeric {
        row: usize,
        column: String,
        value: String,
    },
    #[error("CSV row {row}, column '{column}': value is NaN or infinite")]
    NonFinite { row: usize, column: String },
    #[error("CSV row {row}: label '{value}' is not a non-negative integer class index")]
    BadLabel { row: usize, value: String },
    #[error("label column '{0}' is not in the CSV header")]
    NoLabelColumn(String),
    #[error("the CSV has {got} feature columns, the model expects {expected}{hint}")]
    FeatureCount {
        got: usize,
        expected: usize,
        hint: String,
    },
    #[error("the CSV has {rows} rows x {cols} columns, over the limit of {limit} cells")]
    TooLarge {
        rows: usize,
        cols: usize,
        limit: usize,
    },
    #[error("CSV parse error: {0}")]
    Parse(String),
}

impl DataError {
    pub fn code(&self) -> &'static str {
        match self {
            DataError::Empty => "csv_empty",
            DataError::NoRows => "csv_no_rows",
            DataError::RaggedRow { .. } => "csv_ragged",
            DataError::NotNumeric { .. } => "csv_not_numeric",
            DataError::NonFinite { .. } => "csv_non_finite",
            DataError::BadLabel { .. } => "csv_bad_label",
            DataError::NoLabelColumn(_) => "csv_no_label_column",
            DataError::FeatureCount { .. } => "csv_feature_count",
            DataError::TooLarge { .. } => "csv_too_large",
            DataError::Parse(_) => "csv_parse",
        }
    }
}
