//! `ModelProto` bytes -> engine [`Graph`] + [`ParamSet`].
//!
//! Steps of [`load_with`], each failing with its own [`OnnxError`]:
//! 1. decode (empty file, file over `limits.max_model_bytes`, undecodable
//!    bytes, no graph, no nodes, more than `limits.max_nodes` nodes);
//! 2. opsets: every `ai.onnx` entry in [`OPSET_RANGE`] and every
//!    `ai.onnx.ml` entry in [`ML_OPSET_RANGE`] (duplicated entries are
//!    tolerated; the highest is used);
//! 3. initializers: no external data, declared element counts within the
//!    limit, their total (4 bytes per element) within
//!    `limits.max_param_bytes` (checked overflow-safe before anything is
//!    allocated); the per-record size of the data input within the tensor
//!    limit; after lowering, the parameters' f32 memory within
//!    `limits.max_param_bytes` again (see [`crate::limits`]);
//! 4. output choice: `ImportOptions::output`, else the declared float output
//!    holding class scores (names containing "prob" first; integer labels,
//!    ArgMax and LinearClassifier label outputs are skipped; a ZipMap
//!    sequence-of-maps output counts, ZipMap being identity);
//! 5. pruning: only nodes the chosen output needs, in topological order;
//! 6. every unsupported operator of the pruned graph is listed at once;
//! 7. lowering to engine ops with constant folding: `Constant`, `Shape`,
//!    `Gather`, `Slice`, `Cast`, `Unsqueeze`, `Concat`, arithmetic ... on
//!    values known at import are evaluated here. `Shape` of a run-time
//!    value uses static shape inference ([`super::infer`]) with the batch
//!    dimension carried as the sentinel [`BATCH`]; in a Reshape target an
//!    entry equal to the sentinel becomes 0 (copy) and a multiple of it
//!    becomes -1. A constant Reshape target whose first entry equals a
//!    fixed batch size declared by the input (PyTorch exports without
//!    dynamic axes) also gets 0 there, so larger batches run.
//!
//! Parameter roles (how a fresh copy re-initialises them) are decided by the
//! consumer, whether the value came from an initializer or a `Constant`:
//! - `Weight{fan_in, fan_out}`: Gemm B (fan_in = K, respecting transB) and a
//!   constant Gemm A; 2-D MatMul operands; Conv W (fan_in = C/group*kh*kw,
//!   fan_out = M*kh*kw/group); LinearClassifier/LinearRegressor coefficients.
//! - `Bias`: Gemm C, Conv B, the constant operand of an Add whose other
//!   operand comes straight from MatMul/Gemm/Conv, and LinearClassifier/
//!   LinearRegressor intercepts.
//! - `Constant`: everything else (BatchNormalization scale/B/mean/var,
//!   Scaler offset/scale, Sub/Mul/Div operands, Concat operands, ...).
//!
//! ai.onnx.ml lowering (matches onnxruntime, checked against it):
//! - `Scaler`: `(x - offset) * scale` as Sub and Mul with constant params.
//! - `LinearClassifier`: `Gemm(x, coefficients[rows, F], intercepts,
//!   transB)` then NONE: nothing, LOGISTIC: Sigmoid, SOFTMAX:
//!   Softmax(axis -1), SOFTMAX_ZERO: SoftmaxZero. With one coefficient row
//!   and two class labels onnxruntime emits two columns `[1 - s, s]` where
//!   `s` is the sigmoid of the score for LOGISTIC and the raw score
//!   otherwise: lowered as `Concat(Sub(1, s), s)`. PROBIT is an error.
//! - `LinearRegressor`: Gemm with post_transform NONE only.
//! - `SVMClassifier`, `SVMRegressor`: one `Op::Svm` holding the support
//!   vectors, coefficients, rho and Platt parameters (see
//!   `engine::ops::svm`); every length is checked here (vectors per class
//!   against support vectors, coefficients, one rho and prob_a/prob_b per
//!   class pair, kernel_params of 3). `one_class` regressors are refused.
//! - `TreeEnsembleClassifier`, `TreeEnsembleRegressor` (float lists or the
//!   `*_as_tensor` forms): one `Op::TreeEnsemble` with nodes indexed by
//!   (tree id, node id); lengths, child references (same tree, not itself),
//!   duplicate ids, feature ids against the input width, weight targets,
//!   base value counts and cycles are checked here. The ai.onnx.ml 5
//!   `TreeEnsemble` operator is not supported.
//! - Their label output (#0 of the classifiers) is never chosen or run.
//!
//! `Gather` (0-D/1-D constant indices) and `Slice` of a run-time value are
//! lowered to a MatMul with a constant 0/1 selection matrix on a non-batch
//! axis (Transposes around it for a middle axis, a Squeeze for a scalar
//! index), so they run and differentiate with the existing ops.
//!
//! The output kind is `Probabilities` when the output comes (through
//! identity-like ops) from Softmax, Sigmoid, a Sigmoid complement Concat,
//! a LinearClassifier with LOGISTIC (or SOFTMAX/SOFTMAX_ZERO over several
//! rows), an SVMClassifier with Platt probabilities, a tree classifier whose
//! rows are distributions (`TreeEnsemble::outputs_probabilities`), or an L1
//! Normalizer over one of those (L2 and MAX rows do not sum to one);
//! otherwise `Logits`.

use super::error::UnsupportedOp;
use super::lower::{attr_floats, attr_i, attr_s, float_type, lower, type_name, Builder, Val};
use super::proto::{
    tensor_shape_proto::dimension, type_proto, GraphProto, ModelProto, TensorProto, TypeProto,
    ValueInfoProto,
};
use super::tensor::{declared_elements, Const};
use super::{Model, OnnxError};
use crate::engine::{Dim, Graph, Input, Op, OutputKind, ParamSet};
use crate::limits::{Limit, LimitExceeded, Limits};
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

/// Accepted versions of the default (`ai.onnx`) domain. 22 only widened
/// types (bfloat16) of Conv/pooling/Dropout, so its semantics for the
/// operators here equal 21; skl2onnx 1.20 emits 22 for `zipmap=False`.
pub const OPSET_RANGE: RangeInclusive<i64> = 9..=22;
/// Accepted IR versions of the file: 3 is the first with opset imports
/// (onnx.checker refuses lower ones), 14 the newest onnxruntime 1.32 reads
/// (onnx 1.23); later versions may carry what this tool cannot know.
pub const IR_RANGE: RangeInclusive<i64> = 3..=14;
/// Accepted versions of `ai.onnx.ml`.
pub const ML_OPSET_RANGE: RangeInclusive<i64> = 1..=5;
/// Default limit on the elements of any one tensor (see [`crate::limits`]).
pub const DEFAULT_MAX_TENSOR_ELEMENTS: u128 = crate::limits::DEFAULT_MAX_TENSOR_ELEMENTS;
/// Stand-in for the symbolic batch size during import-time shape folding.
pub const BATCH: i64 = 1_000_003;

pub(super) const ML: &str = "ai.onnx.ml";
/// Bound on window attributes (kernel, pads, strides, dilations), so shape
/// arithmetic can never overflow.
pub(super) const MAX_WINDOW: i64 = 1 << 20;
/// Bound on declared input dimensions.
pub(super) const MAX_DIM: i64 = 1 << 31;

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Use this output instead of the detected probability/logit output.
    pub output: Option<String>,
    /// Limit on elements of any one tensor; when set it takes precedence
    /// over `limits.max_tensor_elements` (default 1<<28).
    pub max_tensor_elements: Option<u128>,
    /// File size, node count, tensor and parameter memory limits.
    pub limits: Limits,
}

/// Load a model with default options.
pub fn load(bytes: &[u8]) -> Result<Model, OnnxError> {
    load_with(bytes, &ImportOptions::default())
}

/// Load a model.
pub fn load_with(bytes: &[u8], opts: &ImportOptions) -> Result<Model, OnnxError> {
    if bytes.is_empty() {
        return Err(OnnxError::Empty);
    }
    let lim = &opts.limits;
    LimitExceeded::check(
        Limit::ModelBytes,
        bytes.len() as u128,
        lim.max_model_bytes as u128,
    )?;
    let m = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    let g = m.graph.as_ref().ok_or(OnnxError::NoGraph)?;
    if !IR_RANGE.contains(&m.ir_version()) {
        return Err(OnnxError::IrVersion(m.ir_version()));
    }
    if g.node.is_empty() {
        return Err(OnnxError::NoNodes);
    }
    LimitExceeded::check(Limit::Nodes, g.node.len() as u128, lim.max_nodes as u128)?;
    let opsets = Opsets::from_model(&m)?;
    let graph_out = import_graph(g, &opsets, opts)?;
    let sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Model {
        graph: graph_out.0,
        params: graph_out.1,
        sha256,
        file_size: bytes.len(),
        producer_name: m.producer_name().to_string(),
        producer_version: m.producer_version().to_string(),
        ir_version: m.ir_version(),
        declared_outputs: g.output.iter().map(|o| o.name().to_string()).collect(),
    })
}

/// Declared opset versions.
struct Opsets {
    default: Option<i64>,
    ml: Option<i64>,
    others: HashMap<String, i64>,
}

pub(super) fn norm_domain(d: &str) -> &str {
    if d == "ai.onnx" {
        ""
    } else {
        d
    }
}

impl Opsets {
    fn from_model(m: &ModelProto) -> Result<Opsets, OnnxError> {
        let mut o = Opsets {
            default: None,
            ml: None,
            others: HashMap::new(),
        };
        for e in &m.opset_import {
            let v = e.version();
            match norm_domain(e.domain()) {
                "" => {
                    if !OPSET_RANGE.contains(&v) {
                        return Err(OnnxError::Opset {
                            domain: "ai.onnx".into(),
                            version: v,
                        });
                    }
                    o.default = o.default.max(Some(v));
                }
                ML => {
                    if !ML_OPSET_RANGE.contains(&v) {
                        return Err(OnnxError::Opset {
                            domain: ML.into(),
                            version: v,
                        });
                    }
                    o.ml = o.ml.max(Some(v));
                }
                d => {
                    let cur = o.others.entry(d.to_string()).or_insert(v);
                    *cur = (*cur).max(v);
                }
            }
        }
        Ok(o)
    }

    fn version(&self, domain: &str) -> Option<i64> {
        match domain {
            "" => self.default,
            ML => self.ml,
            d => self.others.get(d).copied(),
        }
    }
}

// ---------------------------------------------------------------------------
// Output choice.

#[derive(PartialEq)]
enum OutClass {
    Score,
    Label,
    Unknown,
}

fn classify_type(t: Option<&TypeProto>) -> OutClass {
    match t.and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(tt)) => match tt.elem_type {
            Some(e) if float_type(e as i64) => OutClass::Score,
            Some(_) => OutClass::Label,
            None => OutClass::Unknown,
        },
        Some(type_proto::Value::SequenceType(s)) => {
            match s.elem_type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(type_proto::Value::MapType(m)) => classify_type(m.value_type.as_deref()),
                _ => OutClass::Label,
            }
        }
        Some(_) => OutClass::Label,
        None => OutClass::Unknown,
    }
}

fn choose_output(
    g: &GraphProto,
    producers: &HashMap<&str, usize>,
    opts: &ImportOptions,
) -> Result<String, OnnxError> {
    if let Some(o) = &opts.output {
        let known = g.output.iter().any(|v| v.name() == o) || producers.contains_key(o.as_str());
        return if known {
            Ok(o.clone())
        } else {
            Err(OnnxError::UnknownOutput(o.clone()))
        };
    }
    let mut scores = Vec::new();
    for vi in &g.output {
        let name = vi.name();
        let mut class = classify_type(vi.r#type.as_ref());
        if let Some(&p) = producers.get(name) {
            let n = &g.node[p];
            let slot = n.output.iter().position(|o| o == name).unwrap_or(0);
            match n.op_type() {
                "ArgMax" | "ArgMin" | "ArrayFeatureExtractor" => class = OutClass::Label,
                "LinearClassifier" | "SVMClassifier" | "TreeEnsembleClassifier" if slot == 0 => {
                    class = OutClass::Label
                }
                "Cast" if !float_type(attr_i(n, "to", 1)) => class = OutClass::Label,
                _ if class == OutClass::Unknown => class = OutClass::Score,
                _ => {}
            }
        }
        if class == OutClass::Score {
            scores.push(name.to_string());
        }
    }
    if let Some(p) = scores.iter().find(|s| s.to_lowercase().contains("prob")) {
        return Ok(p.clone());
    }
    scores.into_iter().next().ok_or_else(|| {
        OnnxError::NoScoreOutput(g.output.iter().map(|o| o.name().to_string()).collect())
    })
}

// ---------------------------------------------------------------------------
// Pruning.

/// The name a node is shown by: its own, or `OpType_index` when it has none.
pub(super) fn node_label(g: &GraphProto, i: usize) -> String {
    let n = &g.node[i];
    if n.name().is_empty() {
        format!("{}_{i}", n.op_type())
    } else {
        n.name().to_string()
    }
}

/// Node indices the value `output` depends on, in topological order.
fn prune(
    g: &GraphProto,
    producers: &HashMap<&str, usize>,
    known: &HashSet<&str>,
    output: &str,
) -> Result<Vec<usize>, OnnxError> {
    let Some(&start) = producers.get(output) else {
        return if known.contains(output) {
            Ok(Vec::new())
        } else {
            Err(OnnxError::Dangling(output.to_string()))
        };
    };
    let mut state = vec![0u8; g.node.len()];
    let mut order = Vec::new();
    depth_first(g, producers, Some(known), start, &mut state, &mut order)?;
    Ok(order)
}

/// Every node of the graph, used or not, is on no cycle (onnxruntime
/// refuses any cyclic graph); the error names a node on the cycle. Linear
/// in nodes and edges.
fn check_acyclic(g: &GraphProto, producers: &HashMap<&str, usize>) -> Result<(), OnnxError> {
    let mut state = vec![0u8; g.node.len()];
    let mut order = Vec::new();
    for start in 0..g.node.len() {
        if state[start] == 0 {
            depth_first(g, producers, None, start, &mut state, &mut order)?;
        }
    }
    Ok(())
}

/// Depth-first walk from node `start` through the producers of its inputs,
/// appending nodes to `order` after their inputs (state 0 unseen, 1 on
/// the path, 2 done). With `known`, an input neither produced nor known
/// is an error.
fn depth_first(
    g: &GraphProto,
    producers: &HashMap<&str, usize>,
    known: Option<&HashSet<&str>>,
    start: usize,
    state: &mut [u8],
    order: &mut Vec<usize>,
) -> Result<(), OnnxError> {
    let mut stack = vec![(start, 0usize)];
    state[start] = 1;
    while let Some(top) = stack.last_mut() {
        let (n, i) = *top;
        if let Some(name) = g.node[n].input.get(i) {
            top.1 += 1;
            if name.is_empty() {
                continue;
            }
            if let Some(&p) = producers.get(name.as_str()) {
                match state[p] {
                    0 => {
                        state[p] = 1;
                        stack.push((p, 0));
                    }
                    1 => {
                        return Err(OnnxError::Cycle {
                            node: node_label(g, n),
                            op: g.node[n].op_type().to_string(),
                            value: name.clone(),
                        })
                    }
                    _ => {}
                }
            } else if known.is_some_and(|k| !k.contains(name.as_str())) {
                return Err(OnnxError::Dangling(name.clone()));
            }
        } else {
            stack.pop();
            state[n] = 2;
            order.push(n);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The data input.

fn input_of(vi: &ValueInfoProto, limit: u128) -> Result<(Vec<Dim>, Option<i64>), OnnxError> {
    let name = vi.name().to_string();
    let bad = |message: String| OnnxError::InputType {
        name: name.clone(),
        message,
    };
    let tt = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(tt)) => tt,
        Some(_) => return Err(bad("is not a tensor".into())),
        None => return Err(bad("has no declared type".into())),
    };
    let et = tt.elem_type() as i64;
    if !float_type(et) {
        return Err(bad(format!(
            "has element type {}; the inspector feeds float tensors",
            type_name(et)
        )));
    }
    let shape = tt
        .shape
        .as_ref()
        .ok_or_else(|| bad("has no declared shape (rank unknown)".into()))?;
    if shape.dim.is_empty() {
        return Err(bad("is a scalar; a batch dimension is needed".into()));
    }
    if let Some(d) = shape.dim.iter().find_map(|d| match d.value {
        Some(dimension::Value::DimValue(v)) if v > MAX_DIM => Some(v),
        _ => None,
    }) {
        return Err(bad(format!(
            "declares a dimension of {d}, over the limit of {MAX_DIM}"
        )));
    }
    let dims: Vec<Dim> = shape
        .dim
        .iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(dimension::Value::DimValue(v)) if *v > 0 => Dim::Fixed(*v as usize),
            Some(dimension::Value::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
            _ if i == 0 => Dim::Symbolic("N".into()),
            _ => Dim::Symbolic("?".into()),
        })
        .collect();
    // The per-record size bounds every zero batch or CSV reshaped to it.
    let record: u128 = dims[1..]
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n as u128,
            Dim::Symbolic(_) => 1,
        })
        .product();
    if record > limit {
        return Err(OnnxError::TooLarge {
            name: name.clone(),
            elements: record,
            limit,
        });
    }
    let fixed_batch = match dims[0] {
        Dim::Fixed(n) => Some(n as i64),
        _ => None,
    };
    Ok((dims, fixed_batch))
}

// ---------------------------------------------------------------------------
// Output kind.

fn output_kind(
    g: &GraphProto,
    producers: &HashMap<&str, usize>,
    b: &Builder,
    out: &str,
) -> OutputKind {
    fn is_prob(
        g: &GraphProto,
        producers: &HashMap<&str, usize>,
        b: &Builder,
        name: &str,
        budget: &mut usize,
    ) -> bool {
        // Bounds the walk on adversarial graphs (deep chains, wide Concats).
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Some(&p) = producers.get(name) else {
            return false;
        };
        let n = &g.node[p];
        let first = n.input.first().map(|s| s.as_str()).unwrap_or("");
        let mut rec = |nm: &str| is_prob(g, producers, b, nm, budget);
        match n.op_type() {
            "Softmax" | "Sigmoid" => true,
            "Identity" | "ZipMap" | "Dropout" | "Cast" | "Reshape" | "Flatten" | "Squeeze"
            | "Unsqueeze" => rec(first),
            "Normalizer" => attr_s(n, "norm").as_deref() == Some("L1") && rec(first),
            "Concat" => n.input.iter().filter(|s| !s.is_empty()).all(|s| rec(s)),
            "Sub" => {
                let one = match b.env.get(first) {
                    Some(Val::Const(c)) => c.to_f32().iter().all(|&v| v == 1.0),
                    _ => false,
                };
                one && n.input.get(1).map(|s| rec(s)).unwrap_or(false)
            }
            "SVMClassifier" | "TreeEnsembleClassifier" => {
                let id = match b.env.get(name) {
                    Some(Val::Dyn(id)) => *id,
                    _ => return false,
                };
                match b.producer_op(id) {
                    Some(Op::Svm(m)) => m.outputs_probabilities(),
                    Some(Op::TreeEnsemble(m)) => m.outputs_probabilities(),
                    _ => false,
                }
            }
            "LinearClassifier" => {
                let post = attr_s(n, "post_transform").unwrap_or_default();
                let rows = attr_floats(n, "intercepts").map(|v| v.len()).unwrap_or(0);
                post == "LOGISTIC" || (rows > 1 && (post == "SOFTMAX" || post == "SOFTMAX_ZERO"))
            }
            _ => false,
        }
    }
    if is_prob(g, producers, b, out, &mut 10_000) {
        OutputKind::Probabilities
    } else {
        OutputKind::Logits
    }
}

// ---------------------------------------------------------------------------

fn import_graph(
    g: &GraphProto,
    opsets: &Opsets,
    opts: &ImportOptions,
) -> Result<(Graph, ParamSet), OnnxError> {
    let limit = opts
        .max_tensor_elements
        .unwrap_or(opts.limits.max_tensor_elements);
    let max_param_bytes = opts.limits.max_param_bytes;
    let mut inits: HashMap<&str, &TensorProto> = HashMap::new();
    let mut declared_bytes: u128 = 0;
    for t in &g.initializer {
        super::tensor::check_one_value_field(t)?;
        if !t.external_data.is_empty() || t.data_location == Some(1) {
            // Decoding reports the location.
            Const::from_proto(t, limit)?;
        }
        match declared_elements(&t.dims) {
            Some(e) if e <= limit => {}
            _ => {
                Const::from_proto(t, limit)?;
            }
        }
        declared_bytes = declared_bytes
            .saturating_add(declared_elements(&t.dims).unwrap_or(0).saturating_mul(4));
        LimitExceeded::check(Limit::ParamBytes, declared_bytes, max_param_bytes)?;
        inits.entry(t.name()).or_insert(t);
    }
    let mut producers: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if let Some(&j) = producers.get(o.as_str()) {
                let prev = g.node[j].name();
                return Err(OnnxError::BadNode {
                    node: n.name().to_string(),
                    op: n.op_type().to_string(),
                    message: format!(
                        "output '{}' is also produced by node '{}'",
                        crate::text::Shown(o),
                        crate::text::Shown(prev)
                    ),
                });
            }
            producers.insert(o.as_str(), i);
        }
    }
    check_acyclic(g, &producers)?;
    for (i, n) in g.node.iter().enumerate() {
        super::schema::check_attributes(n, || node_label(g, i))?;
    }
    let data_inputs: Vec<&ValueInfoProto> = g
        .input
        .iter()
        .filter(|v| !inits.contains_key(v.name()) && !v.name().is_empty())
        .collect();
    if data_inputs.is_empty() {
        return Err(OnnxError::InputCount(0));
    }
    let output = choose_output(g, &producers, opts)?;
    let mut known: HashSet<&str> = inits.keys().copied().collect();
    known.extend(data_inputs.iter().map(|v| v.name()));
    let order = prune(g, &producers, &known, &output)?;

    // Every unsupported operator at once.
    let mut unsupported = Vec::new();
    for &i in &order {
        let n = &g.node[i];
        let d = norm_domain(n.domain());
        if !super::schema::is_supported(d, n.op_type()) {
            unsupported.push(UnsupportedOp {
                op_type: n.op_type().to_string(),
                domain: d.to_string(),
                node: n.name().to_string(),
                opset: opsets.version(d).unwrap_or(0),
            });
        }
    }
    if !unsupported.is_empty() {
        return Err(OnnxError::Unsupported(unsupported));
    }
    for &i in &order {
        let d = norm_domain(g.node[i].domain());
        if opsets.version(d).is_none() {
            return Err(OnnxError::NoOpset(if d.is_empty() {
                "ai.onnx".into()
            } else {
                d.to_string()
            }));
        }
    }

    // Every value the pruned nodes read (a set: one pass, not a scan of
    // the nodes per graph input).
    let mut needed: HashSet<&str> = order
        .iter()
        .flat_map(|&i| g.node[i].input.iter().map(|s| s.as_str()))
        .collect();
    needed.insert(output.as_str());

    // The one data input the output needs.
    let mut used: Vec<&ValueInfoProto> = data_inputs
        .iter()
        .copied()
        .filter(|v| needed.contains(v.name()))
        .collect();
    if used.is_empty() && data_inputs.len() == 1 {
        used = data_inputs.clone();
    }
    if used.len() != 1 {
        return Err(OnnxError::InputCount(if used.len() > 1 {
            used.len()
        } else {
            data_inputs.len()
        }));
    }
    let vi = used[0];
    let (dims, fixed_batch) = input_of(vi, limit)?;

    let mut b = Builder {
        limit,
        opset: opsets.default.unwrap_or(*OPSET_RANGE.end()),
        inits,
        env: HashMap::new(),
        value_names: Vec::new(),
        shapes: Vec::new(),
        params: Vec::new(),
        param_data: Vec::new(),
        param_of: HashMap::new(),
        nodes: Vec::new(),
        producer: HashMap::new(),
        fixed_batch,
        cur: (String::new(), String::new()),
    };
    let inf_shape: Option<Vec<i64>> = dims
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            _ if i == 0 => Some(BATCH),
            Dim::Fixed(n) => Some(*n as i64),
            Dim::Symbolic(_) => None,
        })
        .collect();
    let input_id = b.new_value(vi.name().to_string(), inf_shape);
    b.env.insert(vi.name().to_string(), Val::Dyn(input_id));

    for &i in &order {
        let n = &g.node[i];
        b.cur = (node_label(g, i), n.op_type().to_string());
        lower(&mut b, n, &needed)?;
    }
    let out_id = match b.get(&output)? {
        Val::Dyn(id) => id,
        Val::Const(_) => return Err(OnnxError::ConstantOutput(output)),
    };
    if b.nodes.is_empty() {
        return Err(OnnxError::NoNodes);
    }
    let kind = output_kind(g, &producers, &b, &output);
    let param_bytes: u128 = b.param_data.iter().map(|p| 4 * p.len() as u128).sum();
    LimitExceeded::check(Limit::ParamBytes, param_bytes, max_param_bytes)?;

    let mut hist: HashMap<&str, usize> = HashMap::new();
    for &i in &order {
        *hist.entry(g.node[i].op_type()).or_default() += 1;
    }
    let mut source_ops: Vec<(String, usize)> =
        hist.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    source_ops.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let graph = Graph {
        value_names: b.value_names,
        input: Input {
            name: vi.name().to_string(),
            value: input_id,
            shape: dims,
        },
        params: b.params,
        nodes: b.nodes,
        output: out_id,
        output_name: output,
        output_kind: kind,
        opset: opsets.default.unwrap_or(0),
        source_ops,
    };
    Ok((graph, b.param_data))
}
