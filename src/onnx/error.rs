//! Import errors. Each names what is wrong in the file; `code()` is stable.

use crate::text::Shown;
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
            Shown(&self.op_type),
            Shown(&self.node),
            Shown(dom),
            self.opset
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
    #[error("input '{}': {message}", Shown(name))]
    InputType { name: String, message: String },
    #[error("unsupported opset {version} for domain '{}' (supported: ai.onnx {}-{}, ai.onnx.ml {}-{})", crate::onnx::import::OPSET_RANGE.start(), crate::onnx::import::OPSET_RANGE.end(), crate::onnx::import::ML_OPSET_RANGE.start(), crate::onnx::import::ML_OPSET_RANGE.end(), Shown(domain))]
    Opset { domain: String, version: i64 },
    #[error("the model uses operators of domain '{}' but declares no opset for it", Shown(.0))]
    NoOpset(String),
    #[error("unsupported operator{}: {}", if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    Unsupported(Vec<UnsupportedOp>),
    #[error(
        "tensor '{}' uses external data ({}); re-export the model with all weights inside the file",
        Shown(name),
        Shown(location)
    )]
    ExternalData { name: String, location: String },
    #[error(
        "tensor '{}' declares {elements} elements, over the limit of {limit}",
        Shown(name)
    )]
    TooLarge {
        name: String,
        elements: u128,
        limit: u128,
    },
    #[error("tensor '{}' has invalid dimensions {dims:?}", Shown(name))]
    BadDims { name: String, dims: Vec<i64> },
    #[error(
        "tensor '{}' holds {got} values but its shape {shape:?} needs {expected}",
        Shown(name)
    )]
    TensorData {
        name: String,
        shape: Vec<i64>,
        expected: u128,
        got: usize,
    },
    #[error(
        "tensor '{}' has data type {data_type}, which is not supported here",
        Shown(name)
    )]
    DataType { name: String, data_type: i32 },
    #[error("weight '{}' contains {count} NaN or infinite values", Shown(name))]
    NonFinite { name: String, count: usize },
    #[error("node '{}' ({}): {message}", Shown(node), Shown(op))]
    BadNode {
        node: String,
        op: String,
        message: String,
    },
    #[error("no output holds class probabilities or logits (outputs: {})", shown_list(.0))]
    NoScoreOutput(Vec<String>),
    #[error("output '{}' does not exist in the model", Shown(.0))]
    UnknownOutput(String),
    #[error("value '{}' is used but never produced", Shown(.0))]
    Dangling(String),
    #[error(
        "node '{}' ({}) is on a cycle: it reads '{}', which depends on its own output",
        Shown(node),
        Shown(op),
        Shown(value)
    )]
    Cycle {
        node: String,
        op: String,
        value: String,
    },
    #[error("the model's IR version is {version}; supported: {} to {} (the newest onnxruntime reads)", crate::onnx::import::IR_RANGE.start(), crate::onnx::import::IR_RANGE.end(), version = .0)]
    IrVersion(i64),
    #[error("tensor '{}' holds its values in {}; a tensor has one value field", Shown(name), fields.join(" and "))]
    TwoValueFields {
        name: String,
        fields: Vec<&'static str>,
    },
    #[error(
        "node '{}' ({}), attribute '{}': {message}",
        Shown(node),
        Shown(op),
        Shown(attribute)
    )]
    BadAttribute {
        node: String,
        op: String,
        attribute: String,
        message: String,
    },
    #[error("output '{}' does not depend on the input (it is a constant)", Shown(.0))]
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
            OnnxError::Cycle { .. } => "bad_graph",
            OnnxError::IrVersion(_) => "unsupported_ir_version",
            OnnxError::TwoValueFields { .. } => "bad_tensor",
            OnnxError::BadAttribute { .. } => "bad_attribute",
            OnnxError::ConstantOutput(_) => "bad_graph",
            OnnxError::Export(_) => "export_failed",
            OnnxError::Limit(e) => e.code(),
        }
    }
}

/// Names (outputs, columns) shown as a list: each through [`Shown`], at
/// most 10, then how many more.
pub fn shown_list(names: &[String]) -> String {
    let mut v: Vec<String> = names
        .iter()
        .take(10)
        .map(|n| Shown(n).to_string())
        .collect();
    if names.len() > 10 {
        v.push(format!("and {} more", names.len() - 10));
    }
    v.join(", ")
}
