//! Errors raised while running or training a graph. Each variant names the
//! node, operator and shapes involved; `code()` is stable across versions and
//! is what the wasm boundary and the CLI report.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("node '{node}' ({op}): {message}")]
    Op {
        node: String,
        op: &'static str,
        message: String,
    },
    #[error("input has shape {got:?}, the model expects {expected}")]
    InputShape { got: Vec<usize>, expected: String },
    #[error("tensor of {elements} elements exceeds the limit of {limit} elements")]
    TooLarge { elements: usize, limit: usize },
    #[error("the model cannot be trained: {0}")]
    NotTrainable(String),
    #[error("invalid training setting: {0}")]
    Config(String),
    #[error("training diverged at epoch {epoch}: the loss became {loss}")]
    Diverged { epoch: usize, loss: f64 },
    #[error("non-finite value (NaN or infinity) in {0}")]
    NonFinite(String),
    /// A model output that is not what its declared kind says
    /// (`proba::checked_probabilities`).
    #[error("{0}")]
    BadOutput(String),
}

impl From<crate::settings::SettingError> for EngineError {
    fn from(e: crate::settings::SettingError) -> Self {
        EngineError::Config(e.to_string())
    }
}

impl EngineError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Op { .. } => "op_failed",
            EngineError::InputShape { .. } => "input_shape",
            EngineError::TooLarge { .. } => "too_large",
            EngineError::NotTrainable(_) => "not_trainable",
            EngineError::Config(_) => "bad_config",
            EngineError::Diverged { .. } => "diverged",
            EngineError::NonFinite(_) => "non_finite",
            EngineError::BadOutput(_) => "bad_output",
        }
    }

    /// Helper for operator implementations.
    pub fn op(op: &'static str, message: impl Into<String>) -> Self {
        EngineError::Op {
            node: String::new(),
            op,
            message: message.into(),
        }
    }
}
