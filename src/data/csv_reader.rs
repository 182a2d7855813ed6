//! CSV reading (to be written).

use super::DataError;
use crate::engine::{Input, Tensor};
use ndarray::Array2;

/// CSV options.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Name of the label column; `None` means "use `label` if present".
    pub label_column: Option<String>,
    /// Require the label column to exist.
    pub require_label: bool,
    /// Limit on rows x columns.
    pub max_cells: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            label_column: None,
            require_label: false,
            max_cells: 200_000_000,
        }
    }
}

/// A parsed table.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Names of the feature columns, in order.
    pub feature_names: Vec<String>,
    /// [rows, features]
    pub features: Array2<f32>,
    /// Class index per row, when a label column was present.
    pub labels: Option<Vec<usize>>,
    pub label_column: Option<String>,
}

/// Parse CSV bytes.
pub fn read_csv(bytes: &[u8], opts: &CsvOptions) -> Result<Dataset, DataError> {
    let _ = (bytes, opts);
    todo!("read_csv")
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.features.nrows()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The batch tensor in the model's input shape.
    pub fn to_batch(&self, input: &Input) -> Result<Tensor, DataError> {
        let _ = input;
        todo!("to_batch")
    }
}
