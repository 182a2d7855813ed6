//! ModelProto -> engine Graph. (to be written)

use super::{Model, OnnxError};

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Use this output instead of the detected probability/logit output.
    pub output: Option<String>,
    /// Limit on elements of any one tensor (default 1<<28).
    pub max_tensor_elements: Option<u128>,
}

/// Load a model with default options.
pub fn load(bytes: &[u8]) -> Result<Model, OnnxError> {
    load_with(bytes, &ImportOptions::default())
}

/// Load a model.
pub fn load_with(bytes: &[u8], opts: &ImportOptions) -> Result<Model, OnnxError> {
    let _ = (bytes, opts);
    todo!("onnx import")
}
