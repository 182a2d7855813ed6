//! The graph IR: values, nodes, parameters, the single data input and the
//! chosen output. Produced by `crate::onnx::import`, consumed by
//! `crate::engine::exec` and `crate::engine::train`.
//!
//! Values are numbered `0..graph.num_values()`. A value is produced by exactly
//! one of: the data input, a parameter (initializer or folded constant), or a
//! node. `nodes` is in topological order and contains only what the output
//! needs.

use super::ops::svm::Svm;
use super::ops::tree::TreeEnsemble;
use super::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Index of a value (tensor) in the graph.
pub type ValueId = usize;

/// One dimension of the declared input shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Dim {
    Fixed(usize),
    Symbolic(String),
}

/// The data input (exactly one per graph). `shape[0]` is the batch dimension.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub value: ValueId,
    pub shape: Vec<Dim>,
}

impl Input {
    /// The per-record shape (everything after the batch dimension), when all
    /// of those dimensions are fixed.
    pub fn record_shape(&self) -> Option<Vec<usize>> {
        self.shape[1..]
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Symbolic(_) => None,
            })
            .collect()
    }

    /// Number of scalars per record, when fixed.
    pub fn record_len(&self) -> Option<usize> {
        self.record_shape().map(|s| s.iter().product())
    }
}

/// How a parameter is (re-)initialised when training a fresh copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ParamRole {
    /// A weight matrix or kernel: He/Glorot-uniform with the given fan-in and
    /// fan-out.
    Weight { fan_in: usize, fan_out: usize },
    /// A bias: zero-initialised.
    Bias,
    /// A fixed constant (scaler offsets, BN statistics, folded constants):
    /// never trained, kept from the file.
    Constant,
}

/// A parameter: an initializer or folded constant of the model.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub value: ValueId,
    pub role: ParamRole,
}

impl Param {
    pub fn trainable(&self) -> bool {
        !matches!(self.role, ParamRole::Constant)
    }
}

/// The tensors of all parameters, in the order of `Graph::params`.
pub type ParamSet = Vec<Tensor>;

/// What the chosen output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    Probabilities,
    Logits,
}

/// `auto_pad` attribute of Conv and pooling ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// Norm of `ai.onnx.ml.Normalizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    Max,
    L1,
    L2,
}

/// 2-D window geometry shared by Conv, MaxPool and AveragePool.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// [kh, kw]
    pub kernel: [usize; 2],
    /// [top, left, bottom, right] (ONNX order is [x1_begin, x2_begin, x1_end, x2_end])
    pub pads: [usize; 4],
    /// [sh, sw]
    pub strides: [usize; 2],
    /// [dh, dw]
    pub dilations: [usize; 2],
    pub auto_pad: AutoPad,
    pub ceil_mode: bool,
}

/// An operator with its attributes. Inputs are the node's value ids, in ONNX
/// order (optional inputs that were absent are omitted).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// inputs: A, B, [C]. Y = alpha * A' B' + beta * C.
    Gemm {
        alpha: f32,
        beta: f32,
        trans_a: bool,
        trans_b: bool,
    },
    /// numpy matmul semantics (1-D promotion, batch broadcasting).
    MatMul,
    /// Elementwise with numpy broadcasting.
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Exp,
    Log,
    Sqrt,
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    /// `coerce_2d`: opset < 13 semantics (flatten to [prod(shape[..axis]),
    /// prod(shape[axis..])] and normalise rows). Otherwise over one axis.
    Softmax {
        axis: i64,
        coerce_2d: bool,
    },
    LogSoftmax {
        axis: i64,
        coerce_2d: bool,
    },
    /// Softmax over the last axis that leaves zero scores at zero
    /// (post_transform SOFTMAX_ZERO of ai.onnx.ml).
    SoftmaxZero,
    /// inputs: X [N,C,H,W], W [M,C/group,kh,kw], [B [M]].
    Conv {
        window: Window,
        group: usize,
    },
    MaxPool {
        window: Window,
    },
    AveragePool {
        window: Window,
        count_include_pad: bool,
    },
    GlobalAveragePool,
    /// Inference mode. inputs: X, scale, B, mean, var.
    BatchNormalization {
        epsilon: f32,
    },
    Flatten {
        axis: i64,
    },
    /// Target shape with ONNX semantics: 0 copies the input dimension
    /// (unless `allowzero`), -1 is inferred.
    Reshape {
        shape: Vec<i64>,
        allowzero: bool,
    },
    /// `None` reverses the axes.
    Transpose {
        perm: Option<Vec<usize>>,
    },
    /// `None` removes every dimension of size 1.
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes: Vec<i64>,
    },
    Concat {
        axis: i64,
    },
    /// Identity, Dropout (inference), Cast to float, ZipMap.
    Identity,
    /// ai.onnx.ml.Normalizer over the last axis.
    Normalizer {
        norm: Norm,
    },
    /// ai.onnx.ml SVMClassifier / SVMRegressor over `[N, features]` (see
    /// `ops::svm`). Differentiable with respect to the input.
    Svm(Arc<Svm>),
    /// ai.onnx.ml TreeEnsembleClassifier / TreeEnsembleRegressor over
    /// `[N, >= features]` (see `ops::tree`). No gradient.
    TreeEnsemble(Arc<TreeEnsemble>),
}

impl Op {
    /// The ONNX-style operator name, for messages and histograms.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::Div => "Div",
            Op::Neg => "Neg",
            Op::Exp => "Exp",
            Op::Log => "Log",
            Op::Sqrt => "Sqrt",
            Op::Relu => "Relu",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::Softmax { .. } => "Softmax",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::SoftmaxZero => "SoftmaxZero",
            Op::Conv { .. } => "Conv",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::BatchNormalization { .. } => "BatchNormalization",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze { .. } => "Squeeze",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Concat { .. } => "Concat",
            Op::Identity => "Identity",
            Op::Normalizer { .. } => "Normalizer",
            Op::Svm(_) => "SVM",
            Op::TreeEnsemble(_) => "TreeEnsemble",
        }
    }
}

/// One operator application.
#[derive(Debug, Clone)]
pub struct Node {
    /// The ONNX node name (or a generated one), for error messages.
    pub name: String,
    /// The ONNX op_type it came from (e.g. "LinearClassifier" lowers to Gemm).
    pub source_op: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A pruned, topologically sorted model graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Name of every value, indexed by `ValueId`.
    pub value_names: Vec<String>,
    pub input: Input,
    pub params: Vec<Param>,
    pub nodes: Vec<Node>,
    pub output: ValueId,
    /// The ONNX output name chosen (probabilities or logits).
    pub output_name: String,
    /// Detected from the graph structure (a final Softmax, Sigmoid-based
    /// complement, normalised LinearClassifier ...), overridable by the user.
    pub output_kind: OutputKind,
    /// Default-domain opset the model was exported with.
    pub opset: i64,
    /// ONNX op_type histogram of the pruned graph (before lowering).
    pub source_ops: Vec<(String, usize)>,
}

impl Graph {
    pub fn num_values(&self) -> usize {
        self.value_names.len()
    }

    /// Total number of scalars in all parameters of `params`.
    pub fn param_count(&self, params: &ParamSet) -> usize {
        params.iter().map(|t| t.len()).sum()
    }

    /// Number of scalars in trainable parameters.
    pub fn trainable_param_count(&self, params: &ParamSet) -> usize {
        self.params
            .iter()
            .zip(params)
            .filter(|(p, _)| p.trainable())
            .map(|(_, t)| t.len())
            .sum()
    }
}
