//! Import errors. Each names what is wrong in the file; `code()` is stable.

use thiserror::Error;

/// One unsupported node, for [`OnnxError::Unsupported`].
#[derive(Debug, Clone, PartialEq)]
pub struct UnsupportedOp {
    pub op_type: String,
    pub domain: String,
    pub node: String,
    pub opset: i64,
}

impl std::fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dom = if self.domain.is_empty() {
            "ai.onnx"
        } else {
            &self.domain
        };
        write!(
            f,
            "{} (node '{}', {} opset {})",
            self.op_type, self.node, dom, self.opset
        )
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum OnnxError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("not an ONNX model: the file could not be decoded as ONNX protobuf ({0}); it may be truncated or another kind of file")]
    Decode(String),
    #[error("not an ONNX model: the protobuf decodes but has no graph")]
    NoGraph,
    #[error("not an ONNX model: the graph has no nodes")]
    NoNodes,
    #[error("the model has {0} data inputs; the inspector supports models with exactly one")]
    InputCount(usize),
    #[error("input '{name}': {message}")]
    InputType { name: String, message: String },
    #[error("unsupported opset {version} for domain '{domain}' (supported: ai.onnx {}-{}, ai.onnx.ml {}-{})", crate::onnx::import::OPSET_RANGE.start(), crate::onnx::import::OPSET_RANGE.end(), crate::onnx::import::ML_OPSET_RANGE.start(), crate::onnx::import::ML_OPSET_RANGE.end())]
    Opset { domain: String, version: i64 },
    #[error("the model uses operators of domain '{0}' but declares no opset for it")]
    NoOpset(String),
    #[error("unsupported operator{}: {}", if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    Unsupported(Vec<UnsupportedOp>),
    #[error("tensor '{name}' uses external data ({location}); re-export the model with all weights inside the file")]
    ExternalData { name: String, location: String },
    #[error("tensor '{name}' declares {elements} elements, over the limit of {limit}")]
    TooLarge {
        name: String,
        elements: u128,
        limit: u128,
    },
    #[error("tensor '{name}' has invalid dimensions {dims:?}")]
    BadDims { name: String, dims: Vec<i64> },
    #[error("tensor '{name}' holds {got} values but its shape {shape:?} needs {expected}")]
    TensorData {
        name: String,
        shape: Vec<i64>,
        expected: u128,
        got: usize,
    },
    #[error("tensor '{name}' has data type {data_type}, which is not supported here")]
    DataType { name: String, data_type: i32 },
    #[error("weight '{name}' contains {count} NaN or infinite values")]
    NonFinite { name: String, count: usize },
    #[error("node '{node}' ({op}): {message}")]
    BadNode {
        node: String,
        op: String,
        message: String,
    },
    #[error("no output holds class probabilities or logits (outputs: {0})")]
    NoScoreOutput(String),
    #[error("output '{0}' does not exist in the model")]
    UnknownOutput(String),
    #[error("value '{0}' is used but never produced")]
    Dangling(String),
    #[error("the graph has a cycle")]
    Cycle,
    #[error("output '{0}' does not depend on the input (it is a constant)")]
    ConstantOutput(String),
    #[error("cannot write the trained model: {0}")]
    Export(String),
    /// A limit of [`crate::limits::Limits`]; `code()` names which.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitExceeded),
}

impl OnnxError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            OnnxError::Empty => "empty_file",
            OnnxError::Decode(_) => "not_onnx",
            OnnxError::NoGraph => "not_a_model",
            OnnxError::NoNodes => "not_a_model",
            OnnxError::InputCount(_) => "input_count",
            OnnxError::InputType { .. } => "bad_input",
            OnnxError::NoOpset(_) => "unsupported_opset",
            OnnxError::Opset { .. } => "unsupported_opset",
            OnnxError::Unsupported(_) => "unsupported_op",
            OnnxError::ExternalData { .. } => "external_data",
            OnnxError::TooLarge { .. } => "too_large",
            OnnxError::TensorData { .. } => "bad_tensor",
            OnnxError::BadDims { .. } => "bad_tensor",
            OnnxError::DataType { .. } => "bad_dtype",
            OnnxError::NonFinite { .. } => "non_finite_weights",
            OnnxError::BadNode { .. } => "bad_node",
            OnnxError::NoScoreOutput(_) => "no_score_output",
            OnnxError::UnknownOutput(_) => "unknown_output",
            OnnxError::Dangling(_) => "bad_graph",
            OnnxError::Cycle => "bad_graph",
            OnnxError::ConstantOutput(_) => "bad_graph",
            OnnxError::Export(_) => "export_failed",
            OnnxError::Limit(e) => e.code(),
        }
    }
}
