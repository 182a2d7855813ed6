//! Lowering of ONNX nodes to engine ops, with import-time constant folding.
//!
//! [`lower`] is called once per node of the pruned graph, in topological
//! order, on a [`Builder`] that owns the growing engine graph: value names,
//! statically inferred shapes (batch = [`BATCH`]), parameters and nodes.
//! Values known at import are [`Val::Const`] and never reach the engine
//! unless an engine op consumes them, at which point they become parameters
//! whose role the consumer decides (see the `import` module doc for the
//! rules and for the ai.onnx.ml lowerings). Every failure is a
//! [`OnnxError::BadNode`] naming the node, or a tensor error.

use super::import::{norm_domain, BATCH, MAX_DIM, MAX_WINDOW, ML};
use super::infer::infer;
use super::proto::{AttributeProto, NodeProto, TensorProto};
use super::tensor::{norm_axis, slice_indices, CData, Const};
use super::OnnxError;
use crate::engine::graph::{AutoPad, Norm, Window};
use crate::engine::ops::ml_post::PostTransform;
use crate::engine::ops::svm::{Kernel, Svm, SvmKind};
use crate::engine::ops::tree::{Aggregate, ClassifierInfo, NodeMode, TreeEnsemble, TreeNode};
use crate::engine::{Node, Op, Param, ParamRole, ParamSet, Tensor, ValueId};
use ndarray::{Array2, ArrayD, IxDyn};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

// ---------------------------------------------------------------------------
// Attributes.

pub(super) fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}
pub(super) fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).and_then(|a| a.i).unwrap_or(default)
}
pub(super) fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).and_then(|a| a.f).unwrap_or(default)
}
pub(super) fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}
pub(super) fn attr_floats(n: &NodeProto, name: &str) -> Option<Vec<f32>> {
    attr(n, name).map(|a| a.floats.clone())
}
pub(super) fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

/// Is `to` (a TensorProto data type) a float type?
pub(super) fn float_type(t: i64) -> bool {
    matches!(t, 1 | 10 | 11 | 16)
}

pub(super) fn type_name(t: i64) -> String {
    super::proto::tensor_proto::DataType::try_from(t as i32)
        .map(|d| d.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type {t}"))
}

// ---------------------------------------------------------------------------
// Lowering.

#[derive(Clone)]
pub(super) enum Val {
    Dyn(ValueId),
    Const(Rc<Const>),
}

pub(super) struct Builder<'g> {
    pub(super) limit: u128,
    pub(super) opset: i64,
    pub(super) inits: HashMap<&'g str, &'g TensorProto>,
    pub(super) env: HashMap<String, Val>,
    pub(super) value_names: Vec<String>,
    pub(super) shapes: Vec<Option<Vec<i64>>>,
    pub(super) params: Vec<Param>,
    pub(super) param_data: ParamSet,
    pub(super) param_of: HashMap<String, usize>,
    pub(super) nodes: Vec<Node>,
    pub(super) producer: HashMap<ValueId, usize>,
    pub(super) fixed_batch: Option<i64>,
    /// (node name, op type) of the node being lowered, for errors.
    pub(super) cur: (String, String),
}

fn rank_of(role: ParamRole) -> u8 {
    match role {
        ParamRole::Weight { .. } => 2,
        ParamRole::Bias => 1,
        ParamRole::Constant => 0,
    }
}

fn weight(fan_in: usize, fan_out: usize) -> ParamRole {
    ParamRole::Weight { fan_in, fan_out }
}

impl<'g> Builder<'g> {
    fn err(&self, message: impl Into<String>) -> OnnxError {
        OnnxError::BadNode {
            node: self.cur.0.clone(),
            op: self.cur.1.clone(),
            message: message.into(),
        }
    }

    pub(super) fn new_value(&mut self, name: String, shape: Option<Vec<i64>>) -> ValueId {
        self.value_names.push(name);
        self.shapes.push(shape);
        self.value_names.len() - 1
    }

    pub(super) fn get(&mut self, name: &str) -> Result<Val, OnnxError> {
        if let Some(v) = self.env.get(name) {
            return Ok(v.clone());
        }
        if let Some(t) = self.inits.get(name) {
            let c = Rc::new(Const::from_proto(t, self.limit)?);
            self.env.insert(name.to_string(), Val::Const(c.clone()));
            return Ok(Val::Const(c));
        }
        Err(OnnxError::Dangling(name.to_string()))
    }

    fn get_const(&mut self, name: &str, what: &str) -> Result<Rc<Const>, OnnxError> {
        match self.get(name)? {
            Val::Const(c) => Ok(c),
            Val::Dyn(_) => Err(self.err(format!(
                "{what} '{name}' is computed at run time; only values known at import are supported here",
                name = crate::text::Shown(name)
            ))),
        }
    }

    /// A const as a parameter (created once per name; the strongest role wins).
    fn param(&mut self, name: &str, c: &Const, role: ParamRole) -> Result<ValueId, OnnxError> {
        if c.batch_dependent {
            return Err(self.err(format!(
                "value '{name}' depends on the batch size, which is only known at run time",
                name = crate::text::Shown(name)
            )));
        }
        if let Some(&i) = self.param_of.get(name) {
            if rank_of(role) > rank_of(self.params[i].role) {
                self.params[i].role = role;
            }
            return Ok(self.params[i].value);
        }
        let data: Tensor = c.to_f32();
        let bad = data.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(OnnxError::NonFinite {
                name: name.to_string(),
                count: bad,
            });
        }
        let shape = data.shape().iter().map(|&d| d as i64).collect();
        let id = self.new_value(name.to_string(), Some(shape));
        self.param_of.insert(name.to_string(), self.params.len());
        self.params.push(Param {
            name: name.to_string(),
            value: id,
            role,
        });
        self.param_data.push(data);
        Ok(id)
    }

    /// A new parameter from attribute data, under a unique name.
    fn new_param(
        &mut self,
        name: String,
        shape: &[usize],
        data: Vec<f32>,
        role: ParamRole,
    ) -> Result<ValueId, OnnxError> {
        let mut unique = name.clone();
        let mut k = 1;
        while self.param_of.contains_key(&unique)
            || self.env.contains_key(&unique)
            || self.inits.contains_key(unique.as_str())
        {
            unique = format!("{name}_{k}");
            k += 1;
        }
        let arr = ArrayD::from_shape_vec(IxDyn(shape), data)
            .map_err(|e| self.err(format!("bad attribute data for {name}: {e}")))?;
        self.param(&unique, &Const::f(arr), role)
    }

    /// The value of input `name` as an engine operand; a const becomes a
    /// parameter with the role `role(shape)`.
    fn operand(
        &mut self,
        name: &str,
        role: impl FnOnce(&[usize]) -> ParamRole,
    ) -> Result<ValueId, OnnxError> {
        match self.get(name)? {
            Val::Dyn(id) => Ok(id),
            Val::Const(c) => {
                let r = role(c.shape());
                self.param(name, &c, r)
            }
        }
    }

    fn emit(
        &mut self,
        name: String,
        source_op: &str,
        op: Op,
        inputs: Vec<ValueId>,
        out_name: String,
    ) -> ValueId {
        let shapes: Vec<Option<&Vec<i64>>> =
            inputs.iter().map(|&i| self.shapes[i].as_ref()).collect();
        let shape = infer(&op, &shapes);
        let out = self.new_value(out_name, shape);
        self.producer.insert(out, self.nodes.len());
        self.nodes.push(Node {
            name,
            source_op: source_op.to_string(),
            op,
            inputs,
            output: out,
        });
        out
    }

    pub(super) fn producer_op(&self, v: ValueId) -> Option<&Op> {
        self.producer.get(&v).map(|&i| &self.nodes[i].op)
    }
}

fn constant_role(_: &[usize]) -> ParamRole {
    ParamRole::Constant
}

fn window(b: &Builder, n: &NodeProto, kernel: [usize; 2]) -> Result<Window, OnnxError> {
    let to_us = |v: Vec<i64>, what: &str, len: usize, min: i64| -> Result<Vec<usize>, OnnxError> {
        if v.len() != len || v.iter().any(|&x| x < min || x > MAX_WINDOW) {
            return Err(b.err(format!(
                "{what} {v:?} must be {len} values in {min}..={MAX_WINDOW} for a 2-D window"
            )));
        }
        Ok(v.into_iter().map(|x| x as usize).collect())
    };
    let pads = to_us(attr_ints(n, "pads").unwrap_or(vec![0; 4]), "pads", 4, 0)?;
    let strides = to_us(
        attr_ints(n, "strides").unwrap_or(vec![1; 2]),
        "strides",
        2,
        1,
    )?;
    let dil = to_us(
        attr_ints(n, "dilations").unwrap_or(vec![1; 2]),
        "dilations",
        2,
        1,
    )?;
    let auto_pad = match attr_s(n, "auto_pad").as_deref().unwrap_or("NOTSET") {
        "NOTSET" | "" => AutoPad::NotSet,
        "SAME_UPPER" => AutoPad::SameUpper,
        "SAME_LOWER" => AutoPad::SameLower,
        "VALID" => AutoPad::Valid,
        other => return Err(b.err(format!("unknown auto_pad '{}'", crate::text::Shown(other)))),
    };
    Ok(Window {
        kernel,
        pads: [pads[0], pads[1], pads[2], pads[3]],
        strides: [strides[0], strides[1]],
        dilations: [dil[0], dil[1]],
        auto_pad,
        ceil_mode: attr_i(n, "ceil_mode", 0) != 0,
    })
}

fn kernel2(b: &Builder, k: &[i64]) -> Result<[usize; 2], OnnxError> {
    match k {
        [h, w] if (1..=MAX_WINDOW).contains(h) && (1..=MAX_WINDOW).contains(w) => {
            Ok([*h as usize, *w as usize])
        }
        [_, _] => Err(b.err(format!("kernel_shape {k:?} must be in 1..={MAX_WINDOW}"))),
        _ => Err(b.err(format!(
            "only 2-D windows are supported; this node is {}-D (kernel_shape {k:?})",
            k.len()
        ))),
    }
}

/// Lower one ONNX node.
pub(super) fn lower(
    b: &mut Builder,
    n: &NodeProto,
    needed: &HashSet<&str>,
) -> Result<(), OnnxError> {
    let op_type = n.op_type();
    let domain = norm_domain(n.domain());
    let name = b.cur.0.clone();
    let out0 = n.output.first().cloned().unwrap_or_default();
    // Extra outputs (Dropout mask, MaxPool indices, BN running stats ...)
    // are not produced; any use of them is an error.
    // (LinearClassifier's label output is checked by its lowering.)
    let linear_classifier = domain == ML
        && matches!(
            op_type,
            "LinearClassifier" | "SVMClassifier" | "TreeEnsembleClassifier"
        );
    for (i, o) in n.output.iter().enumerate().skip(1) {
        if linear_classifier {
            break;
        }
        if !o.is_empty() && needed.contains(o.as_str()) {
            return Err(b.err(format!(
                "output #{i} ('{o}') is used, but only the main output is supported",
                o = crate::text::Shown(o)
            )));
        }
    }
    let input = |i: usize| n.input.get(i).filter(|s| !s.is_empty()).cloned();
    let req = |b: &Builder, i: usize| input(i).ok_or_else(|| b.err(format!("missing input #{i}")));

    // Fold nodes whose inputs are all known at import.
    let foldable = domain.is_empty()
        && matches!(
            op_type,
            "Identity"
                | "Dropout"
                | "Cast"
                | "Reshape"
                | "Flatten"
                | "Transpose"
                | "Squeeze"
                | "Unsqueeze"
                | "Concat"
                | "Gather"
                | "Slice"
                | "Add"
                | "Sub"
                | "Mul"
                | "Div"
                | "Neg"
                | "Exp"
                | "Log"
                | "Sqrt"
                | "Relu"
                | "Sigmoid"
                | "Tanh"
        );
    if domain.is_empty() && op_type == "Constant" {
        let c = constant_attr(b, n)?;
        b.env.insert(out0, Val::Const(Rc::new(c)));
        return Ok(());
    }
    if domain.is_empty() && op_type == "Shape" {
        let x = req(b, 0)?;
        let dims: Vec<i64> = match b.get(&x)? {
            Val::Const(c) => c.shape().iter().map(|&d| d as i64).collect(),
            Val::Dyn(id) => b.shapes[id].clone().ok_or_else(|| {
                b.err(format!(
                    "the shape of '{x}' is not known at import, so Shape cannot be folded",
                    x = crate::text::Shown(&x)
                ))
            })?,
        };
        let r = dims.len() as i64;
        let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clampi(attr_i(n, "start", 0));
        let end = clampi(attr_i(n, "end", r));
        let sel: Vec<i64> = if start < end {
            dims[start..end].to_vec()
        } else {
            vec![]
        };
        let dep = sel
            .iter()
            .any(|&d| d == BATCH || (d != 0 && d % BATCH == 0));
        let len = sel.len();
        let mut c =
            Const::i(ArrayD::from_shape_vec(IxDyn(&[len]), sel).map_err(|e| b.err(e.to_string()))?);
        c.batch_dependent = dep;
        b.env.insert(out0, Val::Const(Rc::new(c)));
        return Ok(());
    }
    if foldable {
        let mut vals = Vec::new();
        let mut all_const = true;
        for i in n.input.iter().filter(|s| !s.is_empty()) {
            match b.get(i)? {
                Val::Const(c) => vals.push(c),
                Val::Dyn(_) => all_const = false,
            }
        }
        if all_const && !vals.is_empty() {
            let c = fold(b, n, &vals)?;
            b.env.insert(out0, Val::Const(Rc::new(c)));
            return Ok(());
        }
    }

    let bind = |b: &mut Builder, v: ValueId| {
        b.env
            .insert(n.output.first().cloned().unwrap_or_default(), Val::Dyn(v));
    };
    let emit1 = |b: &mut Builder, op: Op, inputs: Vec<ValueId>| {
        let v = b.emit(name.clone(), op_type, op, inputs, out0.clone());
        bind(b, v);
    };

    match (domain, op_type) {
        ("", "Gemm") => {
            let trans_a = attr_i(n, "transA", 0) != 0;
            let trans_b = attr_i(n, "transB", 0) != 0;
            let a = b.operand(&req(b, 0)?, |s| match s {
                [r, c] if trans_a => weight(*r, *c),
                [r, c] => weight(*c, *r),
                _ => ParamRole::Constant,
            })?;
            let bb = b.operand(&req(b, 1)?, |s| match s {
                [r, c] if trans_b => weight(*c, *r),
                [r, c] => weight(*r, *c),
                _ => ParamRole::Constant,
            })?;
            let mut ins = vec![a, bb];
            if let Some(c) = input(2) {
                ins.push(b.operand(&c, |_| ParamRole::Bias)?);
            }
            let op = Op::Gemm {
                alpha: attr_f(n, "alpha", 1.0),
                beta: attr_f(n, "beta", 1.0),
                trans_a,
                trans_b,
            };
            emit1(b, op, ins);
        }
        ("", "MatMul") => {
            let a = b.operand(&req(b, 0)?, |s| match s {
                [r, c] => weight(*c, *r),
                _ => ParamRole::Constant,
            })?;
            let bb = b.operand(&req(b, 1)?, |s| match s {
                [r, c] => weight(*r, *c),
                _ => ParamRole::Constant,
            })?;
            emit1(b, Op::MatMul, vec![a, bb]);
        }
        ("", "Add" | "Sub" | "Mul" | "Div") => {
            let (x, y) = (req(b, 0)?, req(b, 1)?);
            let (vx, vy) = (b.get(&x)?, b.get(&y)?);
            let after_linear = |b: &Builder, v: &Val| match v {
                Val::Dyn(id) => matches!(
                    b.producer_op(*id),
                    Some(Op::MatMul | Op::Gemm { .. } | Op::Conv { .. })
                ),
                Val::Const(_) => false,
            };
            let role_x = if op_type == "Add" && after_linear(b, &vy) {
                ParamRole::Bias
            } else {
                ParamRole::Constant
            };
            let role_y = if op_type == "Add" && after_linear(b, &vx) {
                ParamRole::Bias
            } else {
                ParamRole::Constant
            };
            let ix = b.operand(&x, |_| role_x)?;
            let iy = b.operand(&y, |_| role_y)?;
            let op = match op_type {
                "Add" => Op::Add,
                "Sub" => Op::Sub,
                "Mul" => Op::Mul,
                _ => Op::Div,
            };
            emit1(b, op, vec![ix, iy]);
        }
        (
            "",
            "Neg" | "Exp" | "Log" | "Sqrt" | "Relu" | "Sigmoid" | "Tanh" | "GlobalAveragePool",
        ) => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let op = match op_type {
                "Neg" => Op::Neg,
                "Exp" => Op::Exp,
                "Log" => Op::Log,
                "Sqrt" => Op::Sqrt,
                "Relu" => Op::Relu,
                "Sigmoid" => Op::Sigmoid,
                "Tanh" => Op::Tanh,
                _ => Op::GlobalAveragePool,
            };
            emit1(b, op, vec![x]);
        }
        ("", "LeakyRelu") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            emit1(
                b,
                Op::LeakyRelu {
                    alpha: attr_f(n, "alpha", 0.01),
                },
                vec![x],
            );
        }
        ("", "Softmax" | "LogSoftmax") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let coerce_2d = b.opset < 13;
            let axis = attr_i(n, "axis", if coerce_2d { 1 } else { -1 });
            let op = if op_type == "Softmax" {
                Op::Softmax { axis, coerce_2d }
            } else {
                Op::LogSoftmax { axis, coerce_2d }
            };
            emit1(b, op, vec![x]);
        }
        ("", "Conv") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let wname = req(b, 1)?;
            let wshape: Option<Vec<i64>> = match b.get(&wname)? {
                Val::Const(c) => Some(c.shape().iter().map(|&d| d as i64).collect()),
                Val::Dyn(id) => b.shapes[id].clone(),
            };
            let k: Vec<i64> = match attr_ints(n, "kernel_shape") {
                Some(k) => k,
                None => match &wshape {
                    Some(s) if s.len() >= 2 => s[2..].to_vec(),
                    _ => {
                        return Err(b.err("kernel_shape is missing and the weight shape is unknown"))
                    }
                },
            };
            let kernel = kernel2(b, &k)?;
            let group = attr_i(n, "group", 1);
            if group < 1 {
                return Err(b.err(format!("group {group} must be >= 1")));
            }
            let group = group as usize;
            let win = window(b, n, kernel)?;
            let kk = kernel[0] * kernel[1];
            let w = b.operand(&wname, |s| match s {
                [m, c, ..] => weight(c * kk, m * kk / group),
                _ => ParamRole::Constant,
            })?;
            let mut ins = vec![x, w];
            if let Some(bias) = input(2) {
                ins.push(b.operand(&bias, |_| ParamRole::Bias)?);
            }
            emit1(b, Op::Conv { window: win, group }, ins);
        }
        ("", "MaxPool" | "AveragePool") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let k =
                attr_ints(n, "kernel_shape").ok_or_else(|| b.err("kernel_shape is required"))?;
            let win = window(b, n, kernel2(b, &k)?)?;
            let op = if op_type == "MaxPool" {
                Op::MaxPool { window: win }
            } else {
                Op::AveragePool {
                    window: win,
                    count_include_pad: attr_i(n, "count_include_pad", 0) != 0,
                }
            };
            emit1(b, op, vec![x]);
        }
        ("", "BatchNormalization") => {
            if attr_i(n, "training_mode", 0) != 0 {
                return Err(b.err("training_mode=1 is not supported; export the model in inference mode (model.eval())"));
            }
            if n.input.len() < 5 {
                return Err(b.err(format!("expects 5 inputs, got {}", n.input.len())));
            }
            let mut ins = Vec::new();
            for i in 0..5 {
                ins.push(b.operand(&req(b, i)?, constant_role)?);
            }
            emit1(
                b,
                Op::BatchNormalization {
                    epsilon: attr_f(n, "epsilon", 1e-5),
                },
                ins,
            );
        }
        ("", "Flatten") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            emit1(
                b,
                Op::Flatten {
                    axis: attr_i(n, "axis", 1),
                },
                vec![x],
            );
        }
        ("", "Reshape") => {
            let xname = req(b, 0)?;
            let x = b.operand(&xname, constant_role)?;
            let sname = req(b, 1)?;
            let sc = b.get_const(&sname, "the Reshape target shape")?;
            let mut shape = sc
                .to_i64_vec()
                .map_err(|e| b.err(format!("shape '{}': {e}", crate::text::Shown(&sname))))?;
            let mut allowzero = attr_i(n, "allowzero", 0) != 0;
            let xs = b.shapes[x].clone();
            let batch_at = |i: usize| {
                xs.as_ref()
                    .map(|s| s.get(i) == Some(&BATCH))
                    .unwrap_or(i == 0)
            };
            let mut inserted_zero = false;
            if sc.batch_dependent {
                let has_minus = shape.contains(&-1);
                let multiples = shape
                    .iter()
                    .filter(|&&e| e != BATCH && e != 0 && e % BATCH == 0)
                    .count();
                for (i, entry) in shape.iter_mut().enumerate() {
                    let e = *entry;
                    if e == BATCH {
                        if !batch_at(i) {
                            return Err(b.err(format!("target shape entry {i} is the batch size, but dimension {i} of the input is not the batch")));
                        }
                        *entry = 0;
                        inserted_zero = true;
                    } else if e != 0 && e % BATCH == 0 {
                        if has_minus || multiples > 1 {
                            return Err(b.err("the target shape mixes the batch size into several dimensions; cannot fold it"));
                        }
                        *entry = -1;
                    }
                }
            } else if let (Some(fb), Some(first)) = (b.fixed_batch, shape.first().copied()) {
                if first == fb && batch_at(0) {
                    shape[0] = 0;
                    inserted_zero = true;
                }
            }
            if inserted_zero && allowzero {
                if shape.iter().filter(|&&e| e == 0).count() > 1 {
                    return Err(b.err("allowzero=1 with both literal zeros and the batch dimension is not supported"));
                }
                allowzero = false;
            }
            emit1(b, Op::Reshape { shape, allowzero }, vec![x]);
        }
        ("", "Transpose") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let perm = match attr_ints(n, "perm") {
                None => None,
                Some(p) => Some(
                    p.iter()
                        .map(|&a| {
                            usize::try_from(a)
                                .map_err(|_| b.err(format!("perm {p:?} has a negative entry")))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            emit1(b, Op::Transpose { perm }, vec![x]);
        }
        ("", "Squeeze" | "Unsqueeze") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let axes = axes_of(b, n)?;
            let op = if op_type == "Squeeze" {
                Op::Squeeze { axes }
            } else {
                Op::Unsqueeze {
                    axes: axes.ok_or_else(|| b.err("Unsqueeze needs axes"))?,
                }
            };
            emit1(b, op, vec![x]);
        }
        ("", "Concat") => {
            let axis = attr(n, "axis")
                .and_then(|a| a.i)
                .ok_or_else(|| b.err("the axis attribute is required"))?;
            let mut ins = Vec::new();
            for i in n.input.iter().filter(|s| !s.is_empty()) {
                ins.push(b.operand(i, constant_role)?);
            }
            emit1(b, Op::Concat { axis }, ins);
        }
        ("", "Dropout" | "Identity") | (ML, "ZipMap") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            emit1(b, Op::Identity, vec![x]);
        }
        ("", "Cast") => {
            let to = attr_i(n, "to", 0);
            if !float_type(to) {
                return Err(b.err(format!(
                    "Cast to {} on the output path is not supported (only casts to float)",
                    type_name(to)
                )));
            }
            let x = b.operand(&req(b, 0)?, constant_role)?;
            emit1(b, Op::Identity, vec![x]);
        }
        ("", "Gather" | "Slice") => lower_select(b, n, op_type, &name, &out0)?,
        (ML, "Normalizer") => {
            let x = b.operand(&req(b, 0)?, constant_role)?;
            let norm = match attr_s(n, "norm").as_deref().unwrap_or("MAX") {
                "MAX" => Norm::Max,
                "L1" => Norm::L1,
                "L2" => Norm::L2,
                other => return Err(b.err(format!("unknown norm '{}'", crate::text::Shown(other)))),
            };
            emit1(b, Op::Normalizer { norm }, vec![x]);
        }
        (ML, "Scaler") => {
            let mut v = b.operand(&req(b, 0)?, constant_role)?;
            let offset = attr_floats(n, "offset").unwrap_or_default();
            let scale = attr_floats(n, "scale").unwrap_or_default();
            let nodes = usize::from(!offset.is_empty()) + usize::from(!scale.is_empty());
            if nodes == 0 {
                emit1(b, Op::Identity, vec![v]);
                return Ok(());
            }
            if !offset.is_empty() {
                let p = b.new_param(
                    format!("{name}.offset"),
                    &[offset.len()],
                    offset,
                    ParamRole::Constant,
                )?;
                let out = if scale.is_empty() {
                    out0.clone()
                } else {
                    format!("{name}/centered")
                };
                v = b.emit(format!("{name}/sub"), op_type, Op::Sub, vec![v, p], out);
            }
            if !scale.is_empty() {
                let p = b.new_param(
                    format!("{name}.scale"),
                    &[scale.len()],
                    scale,
                    ParamRole::Constant,
                )?;
                v = b.emit(
                    format!("{name}/mul"),
                    op_type,
                    Op::Mul,
                    vec![v, p],
                    out0.clone(),
                );
            }
            bind(b, v);
        }
        (ML, "LinearClassifier" | "LinearRegressor") => lower_linear(b, n, op_type, &name, needed)?,
        (ML, "SVMClassifier" | "SVMRegressor") => lower_svm(b, n, op_type, &name, needed)?,
        (ML, "TreeEnsembleClassifier" | "TreeEnsembleRegressor") => {
            lower_tree(b, n, op_type, &name, needed)?
        }
        _ => {
            // Filtered out by the unsupported-operator check before lowering.
            return Err(b.err("unsupported operator"));
        }
    }
    Ok(())
}

fn lower_linear(
    b: &mut Builder,
    n: &NodeProto,
    op_type: &str,
    name: &str,
    needed: &HashSet<&str>,
) -> Result<(), OnnxError> {
    let classifier = op_type == "LinearClassifier";
    let (label_out, score_out) = if classifier {
        (
            n.output.first().cloned(),
            n.output.get(1).cloned().unwrap_or_default(),
        )
    } else {
        (None, n.output.first().cloned().unwrap_or_default())
    };
    if let Some(l) = label_out.filter(|l| !l.is_empty() && needed.contains(l.as_str())) {
        return Err(b.err(format!(
            "the label output '{l}' is not supported; use the scores output",
            l = crate::text::Shown(&l)
        )));
    }
    let xname = n.input.first().cloned().unwrap_or_default();
    let x = b.operand(&xname, constant_role)?;
    let coef = attr_floats(n, "coefficients").unwrap_or_default();
    let mut intercepts = attr_floats(n, "intercepts").unwrap_or_default();
    let rows = if classifier {
        if intercepts.is_empty() {
            return Err(b.err("intercepts are required"));
        }
        intercepts.len()
    } else {
        let t = attr_i(n, "targets", 1);
        if t < 1 {
            return Err(b.err(format!("targets {t} must be >= 1")));
        }
        t as usize
    };
    if coef.is_empty() || coef.len() % rows != 0 {
        return Err(b.err(format!(
            "{} coefficients do not split into {rows} rows",
            coef.len()
        )));
    }
    let f = coef.len() / rows;
    if let Some(s) = &b.shapes[x] {
        if s.last().map(|&d| d != f as i64).unwrap_or(false) {
            return Err(b.err(format!(
                "coefficients expect {f} features, the input has shape {s:?}"
            )));
        }
    }
    if !intercepts.is_empty() && intercepts.len() != rows {
        return Err(b.err(format!("{} intercepts for {rows} rows", intercepts.len())));
    }
    if intercepts.is_empty() {
        intercepts = vec![0.0; rows];
    }
    let post = attr_s(n, "post_transform").unwrap_or_else(|| "NONE".into());
    let labels = attr_ints(n, "classlabels_ints")
        .map(|v| v.len())
        .unwrap_or(0)
        + attr(n, "classlabels_strings")
            .map(|a| a.strings.len())
            .unwrap_or(0);
    let binary = classifier && rows == 1 && labels == 2;
    if !matches!(
        post.as_str(),
        "NONE" | "LOGISTIC" | "SOFTMAX" | "SOFTMAX_ZERO"
    ) || (!classifier && post != "NONE")
    {
        return Err(b.err(format!("post_transform {post} is not supported")));
    }
    let w = b.new_param(
        format!("{name}.coefficients"),
        &[rows, f],
        coef,
        weight(f, rows),
    )?;
    let c = b.new_param(
        format!("{name}.intercepts"),
        &[rows],
        intercepts,
        ParamRole::Bias,
    )?;
    let gemm = Op::Gemm {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: true,
    };
    let last_plain = post == "NONE" || (binary && post != "LOGISTIC");
    let gemm_out = if last_plain && !binary {
        score_out.clone()
    } else {
        format!("{name}/scores")
    };
    let mut v = b.emit(name.to_string(), op_type, gemm, vec![x, w, c], gemm_out);
    if !last_plain {
        let op = match post.as_str() {
            "LOGISTIC" => Op::Sigmoid,
            "SOFTMAX" => Op::Softmax {
                axis: -1,
                coerce_2d: false,
            },
            _ => Op::SoftmaxZero,
        };
        let out = if binary {
            format!("{name}/probability")
        } else {
            score_out.clone()
        };
        v = b.emit(
            format!("{name}/{}", post.to_lowercase()),
            op_type,
            op,
            vec![v],
            out,
        );
    }
    if binary {
        let one = b.new_param(format!("{name}.one"), &[1], vec![1.0], ParamRole::Constant)?;
        let neg = b.emit(
            format!("{name}/complement"),
            op_type,
            Op::Sub,
            vec![one, v],
            format!("{name}/negative_class"),
        );
        v = b.emit(
            format!("{name}/concat"),
            op_type,
            Op::Concat { axis: 1 },
            vec![neg, v],
            score_out.clone(),
        );
    }
    b.env.insert(score_out, Val::Dyn(v));
    Ok(())
}

/// Slice starts, ends, axes, steps: attributes before opset 10, (optional)
/// constant inputs from 10.
type SliceParams = (Vec<i64>, Vec<i64>, Option<Vec<i64>>, Option<Vec<i64>>);

fn slice_params(b: &mut Builder, n: &NodeProto) -> Result<SliceParams, OnnxError> {
    if b.opset < 10 {
        return Ok((
            attr_ints(n, "starts").unwrap_or_default(),
            attr_ints(n, "ends").unwrap_or_default(),
            attr_ints(n, "axes"),
            None,
        ));
    }
    let mut slot = |i: usize| -> Result<Option<Vec<i64>>, OnnxError> {
        match n.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(nm) => {
                let c = b.get_const(nm, "Slice parameter")?;
                c.to_i64_vec().map(Some).map_err(|m| b.err(m))
            }
        }
    };
    Ok((
        slot(1)?.unwrap_or_default(),
        slot(2)?.unwrap_or_default(),
        slot(3)?,
        slot(4)?,
    ))
}

/// Gather (0-D or 1-D constant indices) or Slice of a run-time value along
/// axes of known extent, lowered to existing differentiable ops: a MatMul
/// with a constant 0/1 selection matrix `S[d, k]` (`S[idx[j], j] = 1`) on the
/// last axis, with Transposes around it for another axis, and a Squeeze for
/// scalar Gather indices. The batch axis cannot be selected.
fn lower_select(
    b: &mut Builder,
    n: &NodeProto,
    op_type: &str,
    name: &str,
    out0: &str,
) -> Result<(), OnnxError> {
    let xname = n.input.first().cloned().unwrap_or_default();
    let x = b.operand(&xname, constant_role)?;
    let shape = b.shapes[x].clone().ok_or_else(|| {
        b.err(format!(
            "the shape of '{}' is not known at import",
            crate::text::Shown(&xname)
        ))
    })?;
    let rank = shape.len();
    // (axis, selected indices, squeeze the axis afterwards)
    let mut sel: Vec<(usize, Vec<usize>, bool)> = Vec::new();
    if op_type == "Gather" {
        let iname = n.input.get(1).cloned().unwrap_or_default();
        let ic = b.get_const(&iname, "Gather indices")?;
        let axis = norm_axis(attr_i(n, "axis", 0), rank).map_err(|m| b.err(m))?;
        let d = shape[axis];
        if ic.shape().len() > 1 {
            return Err(
                b.err("Gather with indices of rank > 1 on a run-time value is not supported")
            );
        }
        let mut idx = Vec::new();
        for &i in ic.to_i64().map_err(|m| b.err(m))?.iter() {
            let j = if i < 0 { i + d } else { i };
            if d == BATCH || j < 0 || j >= d {
                return Err(b.err(format!("index {i} is out of range for axis {axis}")));
            }
            idx.push(j as usize);
        }
        sel.push((axis, idx, ic.shape().is_empty()));
    } else {
        let (starts, ends, axes, steps) = slice_params(b, n)?;
        let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(b.err("starts, ends, axes and steps differ in length"));
        }
        for i in 0..starts.len() {
            let axis = norm_axis(axes[i], rank).map_err(|m| b.err(m))?;
            if steps[i] == 0 {
                return Err(b.err("slice step 0"));
            }
            let d = shape[axis];
            if d == BATCH {
                // Only a slice that keeps the whole batch is allowed.
                let whole =
                    steps[i] == 1 && (starts[i] == 0 || starts[i] <= -BATCH) && ends[i] >= BATCH;
                if whole {
                    continue;
                }
                return Err(b.err("slicing the batch dimension is not supported"));
            }
            sel.push((axis, slice_indices(d, starts[i], ends[i], steps[i]), false));
        }
    }
    let mut v = x;
    let last = rank - 1;
    for (step, (axis, idx, squeeze)) in sel.into_iter().enumerate() {
        let d = b.shapes[v]
            .as_ref()
            .and_then(|s| s.get(axis).copied())
            .unwrap_or(0);
        let k = idx.len();
        let elements = (d.max(0) as u128) * (k as u128);
        if k == 0 || d <= 0 {
            return Err(b.err("the selection is empty"));
        }
        if elements > b.limit {
            return Err(OnnxError::TooLarge {
                name: format!("{name}.select"),
                elements,
                limit: b.limit,
            });
        }
        let mut data = vec![0f32; d as usize * k];
        for (j, &i) in idx.iter().enumerate() {
            data[i * k + j] = 1.0;
        }
        let s = b.new_param(
            format!("{name}.select"),
            &[d as usize, k],
            data,
            ParamRole::Constant,
        )?;
        let tag = format!("{name}/select{step}");
        if axis == last {
            v = b.emit(
                tag.clone(),
                op_type,
                Op::MatMul,
                vec![v, s],
                format!("{tag}/matmul"),
            );
        } else {
            let mut perm: Vec<usize> = (0..rank).collect();
            perm.swap(axis, last);
            let t = b.emit(
                format!("{tag}/t"),
                op_type,
                Op::Transpose {
                    perm: Some(perm.clone()),
                },
                vec![v],
                format!("{tag}/t"),
            );
            let m = b.emit(
                tag.clone(),
                op_type,
                Op::MatMul,
                vec![t, s],
                format!("{tag}/matmul"),
            );
            v = b.emit(
                format!("{tag}/t_back"),
                op_type,
                Op::Transpose { perm: Some(perm) },
                vec![m],
                format!("{tag}/t_back"),
            );
        }
        if squeeze {
            v = b.emit(
                format!("{tag}/squeeze"),
                op_type,
                Op::Squeeze {
                    axes: Some(vec![axis as i64]),
                },
                vec![v],
                format!("{tag}/squeeze"),
            );
        }
    }
    if v == x {
        v = b.emit(
            name.to_string(),
            op_type,
            Op::Identity,
            vec![x],
            out0.to_string(),
        );
    }
    b.value_names[v] = out0.to_string();
    b.env.insert(out0.to_string(), Val::Dyn(v));
    Ok(())
}

/// Squeeze/Unsqueeze axes: an attribute before opset 13, an input from 13.
fn axes_of(b: &mut Builder, n: &NodeProto) -> Result<Option<Vec<i64>>, OnnxError> {
    if b.opset < 13 {
        return Ok(attr_ints(n, "axes"));
    }
    match n.input.get(1).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(a) => {
            let c = b.get_const(a, "axes")?;
            c.to_i64_vec()
                .map(Some)
                .map_err(|e| b.err(format!("axes: {e}")))
        }
    }
}

fn constant_attr(b: &Builder, n: &NodeProto) -> Result<Const, OnnxError> {
    let a = n
        .attribute
        .first()
        .ok_or_else(|| b.err("Constant without a value"))?;
    let scalar_f = |v: Vec<f32>, shape: &[usize]| {
        Const::f(
            ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0]))),
        )
    };
    let scalar_i = |v: Vec<i64>, shape: &[usize]| {
        Const::i(
            ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0]))),
        )
    };
    match a.name() {
        "value" => {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| b.err("Constant 'value' holds no tensor"))?;
            let mut t = t.clone();
            if t.name.is_none() {
                t.name = n.output.first().cloned();
            }
            Const::from_proto(&t, b.limit)
        }
        "value_float" => Ok(scalar_f(vec![a.f.unwrap_or(0.0)], &[])),
        "value_floats" => Ok(scalar_f(a.floats.clone(), &[a.floats.len()])),
        "value_int" => Ok(scalar_i(vec![a.i.unwrap_or(0)], &[])),
        "value_ints" => Ok(scalar_i(a.ints.clone(), &[a.ints.len()])),
        other => Err(b.err(format!(
            "Constant attribute '{}' is not supported",
            crate::text::Shown(other)
        ))),
    }
}

/// Evaluate a foldable node on constants.
fn fold(b: &mut Builder, n: &NodeProto, vals: &[Rc<Const>]) -> Result<Const, OnnxError> {
    let e = |b: &Builder, m: String| b.err(m);
    let x = &vals[0];
    let r = match n.op_type() {
        "Identity" | "Dropout" => Ok((**x).clone()),
        "Cast" => Ok(x.cast(float_type(attr_i(n, "to", 1)))),
        "Reshape" => {
            let s = vals.get(1).ok_or_else(|| b.err("missing shape"))?;
            let shape = s.to_i64_vec().map_err(|m| e(b, m))?;
            let mut c = x.reshape(&shape, attr_i(n, "allowzero", 0) != 0);
            if let Ok(c) = &mut c {
                c.batch_dependent |= s.batch_dependent;
            }
            c
        }
        "Flatten" => {
            let s: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
            super::tensor::flatten_shape(&s, attr_i(n, "axis", 1)).and_then(|t| x.reshape_to(&t))
        }
        "Transpose" => x.transpose(attr_ints(n, "perm").as_deref()),
        "Squeeze" | "Unsqueeze" => {
            let axes = if b.opset < 13 {
                attr_ints(n, "axes")
            } else {
                vals.get(1)
                    .map(|a| a.to_i64_vec())
                    .transpose()
                    .map_err(|m| e(b, m))?
            };
            let s: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
            let t = if n.op_type() == "Squeeze" {
                super::tensor::squeeze_shape(&s, axes.as_deref())
            } else {
                super::tensor::unsqueeze_shape(
                    &s,
                    &axes.ok_or_else(|| b.err("Unsqueeze needs axes"))?,
                )
            };
            t.and_then(|t| x.reshape_to(&t))
        }
        "Concat" => {
            let axis = attr(n, "axis")
                .and_then(|a| a.i)
                .ok_or_else(|| b.err("the axis attribute is required"))?;
            let refs: Vec<&Const> = vals.iter().map(|c| &**c).collect();
            Const::concat(&refs, axis)
        }
        "Gather" => {
            let idx = vals.get(1).ok_or_else(|| b.err("missing indices"))?;
            x.gather(idx, attr_i(n, "axis", 0))
        }
        "Slice" => {
            let (starts, ends, axes, steps) = slice_params(b, n)?;
            x.slice(&starts, &ends, axes.as_deref(), steps.as_deref())
                .map(|c| {
                    let dep = vals.iter().any(|v| v.batch_dependent);
                    Const {
                        batch_dependent: dep,
                        ..c
                    }
                })
        }
        op @ ("Add" | "Sub" | "Mul" | "Div") => {
            let y = vals.get(1).ok_or_else(|| b.err("missing input #1"))?;
            x.binary(y, op)
        }
        "Neg" => Ok(match &x.data {
            CData::I(a) => Const {
                data: CData::I(a.mapv(|v| v.wrapping_neg())),
                ..(**x).clone()
            },
            CData::F(_) => x.unary(|v| -v),
        }),
        "Exp" => Ok(x.unary(f32::exp)),
        "Log" => Ok(x.unary(f32::ln)),
        "Sqrt" => Ok(x.unary(f32::sqrt)),
        "Relu" => Ok(x.unary(|v| v.max(0.0))),
        "Sigmoid" => Ok(x.unary(|v| 1.0 / (1.0 + (-v).exp()))),
        "Tanh" => Ok(x.unary(f32::tanh)),
        other => Err(format!("cannot fold {other}")),
    };
    let c = r.map_err(|m| b.err(m))?;
    if c.len() as u128 > b.limit {
        return Err(OnnxError::TooLarge {
            name: n.output.first().cloned().unwrap_or_default(),
            elements: c.len() as u128,
            limit: b.limit,
        });
    }
    Ok(c)
}

// ---------------------------------------------------------------------------
// Classical models: SVMs and tree ensembles (data kept in the op).

/// Most classes or regression targets a classical node may declare
/// (onnxruntime's SVMClassifier limit).
pub(super) const MAX_CLASSICAL_OUTPUTS: usize = 65_535;

/// A float-list attribute, or its `<name>_as_tensor` form.
fn floats_or_tensor(b: &Builder, n: &NodeProto, name: &str) -> Result<Vec<f32>, OnnxError> {
    if let Some(v) = attr(n, name).map(|a| a.floats.clone()) {
        if !v.is_empty() {
            return Ok(v);
        }
    }
    match attr(n, &format!("{name}_as_tensor")).and_then(|a| a.t.as_ref()) {
        Some(t) => {
            let mut t = t.clone();
            if t.name.is_none() {
                t.name = Some(format!("{}.{name}", b.cur.0));
            }
            let c = Const::from_proto(&t, b.limit)?;
            Ok(c.to_f32().iter().copied().collect())
        }
        None => Ok(vec![]),
    }
}

fn strings_attr(n: &NodeProto, name: &str) -> Vec<String> {
    attr(n, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn post_of(b: &Builder, n: &NodeProto) -> Result<PostTransform, OnnxError> {
    let s = attr_s(n, "post_transform").unwrap_or_else(|| "NONE".into());
    PostTransform::parse(&s).ok_or_else(|| {
        b.err(format!(
            "unknown post_transform '{}'",
            crate::text::Shown(&s)
        ))
    })
}

/// The number of class labels (ints or strings), checked against the limit.
fn class_count(b: &Builder, n: &NodeProto, ints: &str) -> Result<usize, OnnxError> {
    let k = attr_ints(n, ints).map(|v| v.len()).unwrap_or(0)
        + strings_attr(n, "classlabels_strings").len();
    if k == 0 {
        return Err(b.err(format!("{ints} or classlabels_strings is required")));
    }
    if k > MAX_CLASSICAL_OUTPUTS {
        return Err(b.err(format!(
            "{k} classes, over the limit of {MAX_CLASSICAL_OUTPUTS}"
        )));
    }
    Ok(k)
}

/// Rejects use of the label output (#0) of a classifier.
fn check_label_unused(b: &Builder, n: &NodeProto, needed: &HashSet<&str>) -> Result<(), OnnxError> {
    if let Some(l) = n
        .output
        .first()
        .filter(|l| !l.is_empty() && needed.contains(l.as_str()))
    {
        return Err(b.err(format!(
            "the label output '{l}' is not supported; use the scores output",
            l = crate::text::Shown(l)
        )));
    }
    Ok(())
}

/// Input width known at import, if any.
fn input_width(b: &Builder, x: ValueId) -> Option<usize> {
    b.shapes[x]
        .as_ref()
        .filter(|s| s.len() == 2)
        .and_then(|s| usize::try_from(s[1]).ok())
        .filter(|&w| w as i64 != BATCH)
}

pub(super) fn lower_svm(
    b: &mut Builder,
    n: &NodeProto,
    op_type: &str,
    name: &str,
    needed: &HashSet<&str>,
) -> Result<(), OnnxError> {
    let classifier = op_type == "SVMClassifier";
    if classifier {
        check_label_unused(b, n, needed)?;
    }
    let out = if classifier {
        n.output.get(1).cloned().unwrap_or_default()
    } else {
        n.output.first().cloned().unwrap_or_default()
    };
    let xname = n.input.first().cloned().unwrap_or_default();
    let x = b.operand(&xname, constant_role)?;
    let params = attr_floats(n, "kernel_params").unwrap_or_default();
    let (gamma, coef0, degree) = match params.as_slice() {
        [] => (0.0, 0.0, 0.0),
        [g, c, d] => (*g, *c, *d),
        other => {
            return Err(b.err(format!(
                "kernel_params has {} values, expected 3 (gamma, coef0, degree)",
                other.len()
            )))
        }
    };
    let kname = attr_s(n, "kernel_type").unwrap_or_else(|| "LINEAR".into());
    let mut kernel = match kname.as_str() {
        "LINEAR" => Kernel::Linear,
        "POLY" => Kernel::Poly {
            gamma,
            coef0,
            degree,
        },
        "RBF" => Kernel::Rbf { gamma },
        "SIGMOID" => Kernel::Sigmoid { gamma, coef0 },
        other => {
            return Err(b.err(format!(
                "unknown kernel_type '{}'",
                crate::text::Shown(other)
            )))
        }
    };
    let coefficients = attr_floats(n, "coefficients").unwrap_or_default();
    let rho = attr_floats(n, "rho").unwrap_or_default();
    let sv = attr_floats(n, "support_vectors").unwrap_or_default();
    if coefficients.is_empty() {
        return Err(b.err("coefficients are empty"));
    }
    if rho.is_empty() {
        return Err(b.err("rho is empty"));
    }
    let to_count = |b: &Builder, v: i64, what: &str| -> Result<usize, OnnxError> {
        usize::try_from(v)
            .ok()
            .filter(|&c| c as u128 <= b.limit)
            .ok_or_else(|| b.err(format!("{what} {v} is negative or over the limit")))
    };
    let (kind, vectors) = if classifier {
        let classes = class_count(b, n, "classlabels_ints")?;
        let mut vpc = Vec::new();
        let mut total: usize = 0;
        for v in attr_ints(n, "vectors_per_class").unwrap_or_default() {
            let c = to_count(b, v, "vectors_per_class entry")?;
            total = total
                .checked_add(c)
                .ok_or_else(|| b.err("vectors_per_class overflows"))?;
            vpc.push(c);
        }
        if total == 0 {
            vpc.clear();
        }
        let prob_a = attr_floats(n, "prob_a").unwrap_or_default();
        let prob_b = attr_floats(n, "prob_b").unwrap_or_default();
        (
            SvmKind::Classifier {
                classes,
                vectors_per_class: vpc,
                prob_a,
                prob_b,
            },
            total,
        )
    } else {
        if attr_i(n, "one_class", 0) != 0 {
            return Err(b.err(
                "one_class=1 (a one-class SVM's +1/-1 output) is not supported; export the decision function",
            ));
        }
        (
            SvmKind::Regressor,
            to_count(b, attr_i(n, "n_supports", 0), "n_supports")?,
        )
    };
    let features = if vectors > 0 {
        if sv.is_empty() || sv.len() % vectors != 0 {
            return Err(b.err(format!(
                "{} support vector values do not split into {vectors} vectors",
                sv.len()
            )));
        }
        sv.len() / vectors
    } else {
        kernel = Kernel::Linear;
        match &kind {
            SvmKind::Classifier { classes, .. } => {
                if coefficients.len() % classes != 0 {
                    return Err(b.err(format!(
                        "{} coefficients do not split into {classes} classes",
                        coefficients.len()
                    )));
                }
                coefficients.len() / classes
            }
            SvmKind::Regressor => coefficients.len(),
        }
    };
    if let Some(w) = input_width(b, x) {
        if w != features {
            return Err(b.err(format!(
                "the model expects {features} features, the input has {w}"
            )));
        }
    }
    let support_vectors =
        Array2::from_shape_vec((vectors, if vectors > 0 { features } else { 0 }), sv)
            .map_err(|e| b.err(e.to_string()))?;
    let svm = Svm {
        kind,
        kernel,
        features,
        support_vectors: if vectors > 0 {
            support_vectors
        } else {
            Array2::zeros((0, features))
        },
        coefficients,
        rho,
        post: post_of(b, n)?,
    };
    svm.validate().map_err(|m| b.err(m))?;
    let v = b.emit(
        name.to_string(),
        op_type,
        Op::Svm(Arc::new(svm)),
        vec![x],
        out.clone(),
    );
    b.env.insert(out, Val::Dyn(v));
    Ok(())
}

pub(super) fn lower_tree(
    b: &mut Builder,
    n: &NodeProto,
    op_type: &str,
    name: &str,
    needed: &HashSet<&str>,
) -> Result<(), OnnxError> {
    let classifier = op_type == "TreeEnsembleClassifier";
    if classifier {
        check_label_unused(b, n, needed)?;
    }
    let out = if classifier {
        n.output.get(1).cloned().unwrap_or_default()
    } else {
        n.output.first().cloned().unwrap_or_default()
    };
    let xname = n.input.first().cloned().unwrap_or_default();
    let x = b.operand(&xname, constant_role)?;
    let ints = |nm: &str| attr_ints(n, nm).unwrap_or_default();
    let tree_ids = ints("nodes_treeids");
    let node_ids = ints("nodes_nodeids");
    let feature_ids = ints("nodes_featureids");
    let true_ids = ints("nodes_truenodeids");
    let false_ids = ints("nodes_falsenodeids");
    let missing = ints("nodes_missing_value_tracks_true");
    let modes = strings_attr(n, "nodes_modes");
    let values = floats_or_tensor(b, n, "nodes_values")?;
    let count = tree_ids.len();
    if count == 0 {
        return Err(b.err("the ensemble has no nodes"));
    }
    for (what, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", feature_ids.len()),
        ("nodes_truenodeids", true_ids.len()),
        ("nodes_falsenodeids", false_ids.len()),
        ("nodes_modes", modes.len()),
        ("nodes_values", values.len()),
    ] {
        if len != count {
            return Err(b.err(format!(
                "{what} has {len} entries, nodes_treeids has {count}"
            )));
        }
    }
    if !missing.is_empty() && missing.len() != count {
        return Err(b.err(format!(
            "nodes_missing_value_tracks_true has {} entries for {count} nodes",
            missing.len()
        )));
    }
    let (pre, outputs) = if classifier {
        ("class", class_count(b, n, "classlabels_int64s")?)
    } else {
        let t = attr_i(n, "n_targets", 1);
        if t < 1 || t as usize > MAX_CLASSICAL_OUTPUTS {
            return Err(b.err(format!(
                "n_targets {t} must be in 1..={MAX_CLASSICAL_OUTPUTS}"
            )));
        }
        ("target", t as usize)
    };
    if classifier && outputs < 2 {
        return Err(b.err("a tree classifier needs at least 2 classes"));
    }
    // Nodes, indexed by (tree id, node id).
    let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(count);
    let mut roots: Vec<usize> = Vec::new();
    let mut trees: Vec<i64> = Vec::new();
    let mut tree_seen: HashSet<i64> = HashSet::new();
    let mut nodes = Vec::with_capacity(count);
    let mut features = 0usize;
    for i in 0..count {
        let (t, id) = (tree_ids[i], node_ids[i]);
        let id32 = u32::try_from(id)
            .map_err(|_| b.err(format!("node id {id} (tree {t}) is outside 0..2^32")))?;
        if index.insert((t, id), i).is_some() {
            return Err(b.err(format!("node {id} of tree {t} is defined twice")));
        }
        if tree_seen.insert(t) {
            trees.push(t);
            roots.push(i);
        }
        let mode = NodeMode::parse(&modes[i]).ok_or_else(|| {
            b.err(format!(
                "unknown node mode '{}' (node {id} of tree {t})",
                crate::text::Shown(&modes[i])
            ))
        })?;
        let feature = if mode == NodeMode::Leaf {
            0
        } else {
            let f = feature_ids[i];
            let f = usize::try_from(f)
                .ok()
                .filter(|&f| f < MAX_DIM as usize)
                .ok_or_else(|| {
                    b.err(format!(
                        "feature id {f} (node {id} of tree {t}) is out of range"
                    ))
                })?;
            features = features.max(f + 1);
            f
        };
        nodes.push(TreeNode {
            id: id32,
            mode,
            feature,
            threshold: values[i],
            missing_tracks_true: missing.get(i).copied().unwrap_or(0) == 1,
            true_child: 0,
            false_child: 0,
            weights: vec![],
        });
    }
    for i in 0..count {
        if nodes[i].mode == NodeMode::Leaf {
            continue;
        }
        let t = tree_ids[i];
        for (side, child) in [("true", true_ids[i]), ("false", false_ids[i])] {
            let c = *index.get(&(t, child)).ok_or_else(|| {
                b.err(format!(
                    "node {} of tree {t} points to {side} node {child}, which tree {t} does not have",
                    node_ids[i]
                ))
            })?;
            if c == i {
                return Err(b.err(format!("node {} of tree {t} points to itself", node_ids[i])));
            }
            if side == "true" {
                nodes[i].true_child = c;
            } else {
                nodes[i].false_child = c;
            }
        }
    }
    let w_tree = ints(&format!("{pre}_treeids"));
    let w_node = ints(&format!("{pre}_nodeids"));
    let w_id = ints(&format!("{pre}_ids"));
    let w_val = floats_or_tensor(b, n, &format!("{pre}_weights"))?;
    if w_node.len() != w_tree.len() || w_id.len() != w_tree.len() || w_val.len() != w_tree.len() {
        return Err(b.err(format!(
            "{pre}_treeids, {pre}_nodeids, {pre}_ids and {pre}_weights have {}, {}, {} and {} entries",
            w_tree.len(),
            w_node.len(),
            w_id.len(),
            w_val.len()
        )));
    }
    let mut classes_used: HashSet<usize> = HashSet::new();
    let mut all_positive = true;
    for i in 0..w_tree.len() {
        let (t, id, c) = (w_tree[i], w_node[i], w_id[i]);
        let node = *index.get(&(t, id)).ok_or_else(|| {
            b.err(format!(
                "a weight refers to node {id} of tree {t}, which does not exist"
            ))
        })?;
        let c = usize::try_from(c)
            .ok()
            .filter(|&c| c < outputs)
            .ok_or_else(|| b.err(format!("{pre} id {c} is outside 0..{outputs}")))?;
        if !w_val[i].is_finite() {
            return Err(OnnxError::NonFinite {
                name: format!("{name}.{pre}_weights"),
                count: w_val.iter().filter(|v| !v.is_finite()).count(),
            });
        }
        all_positive &= w_val[i] >= 0.0;
        classes_used.insert(c);
        nodes[node].weights.push((c, w_val[i]));
    }
    let base_values = floats_or_tensor(b, n, "base_values")?;
    let base_ok = if classifier {
        base_values.len() <= outputs
    } else {
        base_values.len() <= 1 || base_values.len() == outputs
    };
    if !base_ok {
        return Err(b.err(format!(
            "{} base values for {outputs} {pre} columns",
            base_values.len()
        )));
    }
    let aggregate = if classifier {
        Aggregate::Sum
    } else {
        match attr_s(n, "aggregate_function").as_deref().unwrap_or("SUM") {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => {
                return Err(b.err(format!(
                    "unknown aggregate_function '{}'",
                    crate::text::Shown(other)
                )))
            }
        }
    };
    if let Some(w) = input_width(b, x) {
        if w < features {
            return Err(b.err(format!(
                "the trees read feature {}, the input has {w} features",
                features - 1
            )));
        }
    }
    let ens = TreeEnsemble {
        classifier: classifier.then_some(ClassifierInfo {
            binary_case: outputs == 2 && classes_used.len() == 1,
            weights_all_positive: all_positive,
        }),
        outputs,
        features,
        nodes,
        roots,
        tree_ids: trees,
        base_values,
        aggregate,
        post: post_of(b, n)?,
    };
    ens.validate().map_err(|m| b.err(m))?;
    let v = b.emit(
        name.to_string(),
        op_type,
        Op::TreeEnsemble(Arc::new(ens)),
        vec![x],
        out.clone(),
    );
    b.env.insert(out, Val::Dyn(v));
    Ok(())
}
