//! Errors raised while running or training a graph. Each variant names the
//! node, operator and shapes involved; `code()` is stable across versions and
//! is what the wasm boundary and the CLI report.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("node '{}' ({op}): {message}", crate::text::Shown(node))]
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
    /// A broken invariant of the engine itself: a bug, not bad input.
    #[error("internal error: {0}")]
    Internal(String),
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
            EngineError::Internal(_) => "internal",
            EngineError::BadOutput(_) => "bad_output",
        }
    }

    /// Is this the tool's own failure (a bug; CLI exit 1)? Every other
    /// error comes from the model, the data or a setting (exit 2): an
    /// operator that fails on the shapes it is given (a MatMul whose inner
    /// dimensions differ, a Reshape to an impossible shape, an index out of
    /// range) is a fault of the model, found while running it.
    pub fn is_internal(&self) -> bool {
        matches!(self, EngineError::Internal(_))
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
