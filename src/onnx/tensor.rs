//! Values known at import time: decoding `TensorProto`s (initializers and
//! `Constant` attributes) into [`Const`]s, and the small constant-folding
//! kernels the importer uses for shape subgraphs and all-constant nodes.
//!
//! Contract:
//! - [`Const::from_proto`] checks, before allocating anything, that the
//!   declared element count (overflow-safe, in `u128`) is within the limit,
//!   that no external data is referenced, and that the stored data length
//!   matches the declared shape. Float types (float, double, float16,
//!   bfloat16) become `f32`; integer and bool types become `i64`.
//! - Every folding kernel returns `Err(String)` (a message for the node
//!   error) instead of panicking: indices, axes and shapes are all checked,
//!   integer arithmetic is checked for overflow and division by zero.

use super::proto::{tensor_proto::DataType, TensorProto};
use super::OnnxError;
use ndarray::{ArrayD, Axis, IxDyn};

/// The numbers of a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum CData {
    F(ArrayD<f32>),
    I(ArrayD<i64>),
}

/// A value known at import time.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    pub data: CData,
    /// Derived from the (symbolic) batch size through a folded `Shape`: its
    /// numbers contain the batch sentinel and are valid only as a Reshape
    /// target shape (where the sentinel becomes 0 or -1).
    pub batch_dependent: bool,
}

/// A tensor holds its values in at most one field (onnx.checker: "one and
/// only one value field"; onnxruntime silently reads raw_data): two are
/// refused, naming the tensor and the fields. An empty field does not count.
pub fn check_one_value_field(t: &TensorProto) -> Result<(), OnnxError> {
    let fields: Vec<&'static str> = [
        (
            "raw_data",
            t.raw_data.as_ref().is_some_and(|r| !r.is_empty()),
        ),
        ("float_data", !t.float_data.is_empty()),
        ("int32_data", !t.int32_data.is_empty()),
        ("string_data", !t.string_data.is_empty()),
        ("int64_data", !t.int64_data.is_empty()),
        ("double_data", !t.double_data.is_empty()),
        ("uint64_data", !t.uint64_data.is_empty()),
    ]
    .into_iter()
    .filter_map(|(f, has)| has.then_some(f))
    .collect();
    if fields.len() > 1 {
        return Err(OnnxError::TwoValueFields {
            name: t.name().to_string(),
            fields,
        });
    }
    Ok(())
}

impl Const {
    pub fn f(a: ArrayD<f32>) -> Self {
        Const {
            data: CData::F(a),
            batch_dependent: false,
        }
    }

    pub fn i(a: ArrayD<i64>) -> Self {
        Const {
            data: CData::I(a),
            batch_dependent: false,
        }
    }

    pub fn shape(&self) -> &[usize] {
        match &self.data {
            CData::F(a) => a.shape(),
            CData::I(a) => a.shape(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// The numbers as f32 (integers converted).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match &self.data {
            CData::F(a) => a.clone(),
            CData::I(a) => a.mapv(|v| v as f32),
        }
    }

    /// The numbers as i64, for shapes, axes and indices. Floats must be
    /// integral.
    pub fn to_i64(&self) -> Result<ArrayD<i64>, String> {
        match &self.data {
            CData::I(a) => Ok(a.clone()),
            CData::F(a) => {
                if a.iter().all(|v| v.is_finite() && v.fract() == 0.0) {
                    Ok(a.mapv(|v| v as i64))
                } else {
                    Err("expected integer values".into())
                }
            }
        }
    }

    /// A flat list of i64 (for 0-D or 1-D shape/axes tensors).
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, String> {
        if self.shape().len() > 1 {
            return Err(format!(
                "expected a 1-D list of integers, got shape {:?}",
                self.shape()
            ));
        }
        Ok(self.to_i64()?.iter().copied().collect())
    }

    /// Keep the batch-dependence flag of `inputs`.
    pub fn tainted_by(mut self, inputs: &[&Const]) -> Self {
        self.batch_dependent = inputs.iter().any(|c| c.batch_dependent);
        self
    }
}

/// Number of elements declared by `dims`, overflow-safe. `None` on overflow
/// or a negative dimension.
pub fn declared_elements(dims: &[i64]) -> Option<u128> {
    dims.iter().try_fold(1u128, |acc, &d| {
        if d < 0 {
            None
        } else {
            acc.checked_mul(d as u128)
        }
    })
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let frac = (bits & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 => {
            if frac == 0.0 {
                sign * f32::INFINITY
            } else {
                f32::NAN
            }
        }
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

impl Const {
    /// Decode a tensor. `limit` bounds the declared element count.
    pub fn from_proto(t: &TensorProto, limit: u128) -> Result<Const, OnnxError> {
        let name = t.name().to_string();
        check_one_value_field(t)?;
        if !t.external_data.is_empty() || t.data_location == Some(1) {
            let location = t
                .external_data
                .iter()
                .find(|e| e.key() == "location")
                .map(|e| e.value().to_string())
                .unwrap_or_else(|| "an external file".into());
            return Err(OnnxError::ExternalData { name, location });
        }
        let elements = match declared_elements(&t.dims) {
            Some(n) => n,
            None if t.dims.iter().any(|&d| d < 0) => {
                return Err(OnnxError::BadDims {
                    name,
                    dims: t.dims.clone(),
                })
            }
            None => u128::MAX,
        };
        if elements > limit {
            return Err(OnnxError::TooLarge {
                name,
                elements,
                limit,
            });
        }
        // An empty tensor may declare huge other axes ([2^40, 2^40, 0]):
        // their product must stay within the limit too, or shape arithmetic
        // on it overflows (found by fuzzing).
        let nonzero: Vec<i64> = t.dims.iter().copied().filter(|&d| d != 0).collect();
        if !matches!(declared_elements(&nonzero), Some(v) if v <= limit) {
            return Err(OnnxError::BadDims {
                name,
                dims: t.dims.clone(),
            });
        }
        // elements <= limit, which fits in usize on every target we build.
        let n = usize::try_from(elements).map_err(|_| OnnxError::TooLarge {
            name: name.clone(),
            elements,
            limit,
        })?;
        let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
        let dt = t.data_type();
        let mismatch = |got: usize| OnnxError::TensorData {
            name: name.clone(),
            shape: t.dims.clone(),
            expected: elements,
            got,
        };
        // raw_data wins when present; an empty raw_data means "use the typed
        // fields" (some writers emit it that way).
        let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());

        // Read raw little-endian bytes of `size` bytes each.
        fn chunks<'r>(
            raw: &'r [u8],
            size: usize,
            n: usize,
            mismatch: impl Fn(usize) -> OnnxError,
        ) -> Result<std::slice::ChunksExact<'r, u8>, OnnxError> {
            if raw.len() != n.saturating_mul(size) {
                return Err(mismatch(raw.len() / size));
            }
            Ok(raw.chunks_exact(size))
        }
        fn check_len(
            len: usize,
            n: usize,
            mismatch: impl Fn(usize) -> OnnxError,
        ) -> Result<(), OnnxError> {
            if len != n {
                Err(mismatch(len))
            } else {
                Ok(())
            }
        }

        let dtype = DataType::try_from(dt).ok();
        let le8 = |c: &[u8]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            b
        };
        let data = match dtype {
            Some(DataType::Float) => {
                let v: Vec<f32> = match raw {
                    Some(r) => chunks(r, 4, n, mismatch)?
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    None => {
                        check_len(t.float_data.len(), n, mismatch)?;
                        t.float_data.clone()
                    }
                };
                CData::F(v.into_shape(&shape))
            }
            Some(DataType::Double) => {
                let v: Vec<f32> = match raw {
                    Some(r) => chunks(r, 8, n, mismatch)?
                        .map(|c| f64::from_le_bytes(le8(c)) as f32)
                        .collect(),
                    None => {
                        check_len(t.double_data.len(), n, mismatch)?;
                        t.double_data.iter().map(|&v| v as f32).collect()
                    }
                };
                CData::F(v.into_shape(&shape))
            }
            Some(d @ (DataType::Float16 | DataType::Bfloat16)) => {
                let conv = if d == DataType::Float16 {
                    f16_to_f32
                } else {
                    bf16_to_f32
                };
                let v: Vec<f32> = match raw {
                    Some(r) => chunks(r, 2, n, mismatch)?
                        .map(|c| conv(u16::from_le_bytes([c[0], c[1]])))
                        .collect(),
                    None => {
                        check_len(t.int32_data.len(), n, mismatch)?;
                        t.int32_data.iter().map(|&v| conv(v as u16)).collect()
                    }
                };
                CData::F(v.into_shape(&shape))
            }
            Some(DataType::Int64) => {
                let v: Vec<i64> = match raw {
                    Some(r) => chunks(r, 8, n, mismatch)?
                        .map(|c| i64::from_le_bytes(le8(c)))
                        .collect(),
                    None => {
                        check_len(t.int64_data.len(), n, mismatch)?;
                        t.int64_data.clone()
                    }
                };
                CData::I(v.into_shape(&shape))
            }
            Some(
                d @ (DataType::Int32
                | DataType::Int16
                | DataType::Int8
                | DataType::Uint8
                | DataType::Uint16
                | DataType::Bool),
            ) => {
                let v: Vec<i64> = match raw {
                    Some(r) => {
                        let size = match d {
                            DataType::Int32 => 4,
                            DataType::Int16 | DataType::Uint16 => 2,
                            _ => 1,
                        };
                        chunks(r, size, n, mismatch)?
                            .map(|c| match d {
                                DataType::Int32 => {
                                    i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64
                                }
                                DataType::Int16 => i16::from_le_bytes([c[0], c[1]]) as i64,
                                DataType::Uint16 => u16::from_le_bytes([c[0], c[1]]) as i64,
                                DataType::Int8 => c[0] as i8 as i64,
                                _ => c[0] as i64,
                            })
                            .collect()
                    }
                    None => {
                        check_len(t.int32_data.len(), n, mismatch)?;
                        t.int32_data.iter().map(|&v| v as i64).collect()
                    }
                };
                CData::I(v.into_shape(&shape))
            }
            Some(d @ (DataType::Uint32 | DataType::Uint64)) => {
                let v: Vec<i64> = match raw {
                    Some(r) if d == DataType::Uint32 => chunks(r, 4, n, mismatch)?
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                        .collect(),
                    Some(r) => chunks(r, 8, n, mismatch)?
                        .map(|c| u64::from_le_bytes(le8(c)) as i64)
                        .collect(),
                    None => {
                        check_len(t.uint64_data.len(), n, mismatch)?;
                        t.uint64_data.iter().map(|&v| v as i64).collect()
                    }
                };
                CData::I(v.into_shape(&shape))
            }
            _ => {
                return Err(OnnxError::DataType {
                    name,
                    data_type: dt,
                })
            }
        };
        Ok(Const {
            data,
            batch_dependent: false,
        })
    }
}

/// Build an array from a vector whose length was already checked.
trait IntoShape<T> {
    fn into_shape(self, shape: &[usize]) -> ArrayD<T>;
}

impl<T: Clone + Default> IntoShape<T> for Vec<T> {
    fn into_shape(self, shape: &[usize]) -> ArrayD<T> {
        let n: usize = shape.iter().product();
        let mut v = self;
        // Lengths are checked by the caller; pad/truncate defensively so this
        // can never panic.
        v.resize(n, T::default());
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&[0]), T::default()))
    }
}

// ---------------------------------------------------------------------------
// Shape helpers shared by folding and shape inference.

/// Normalise an axis in `-rank..rank` (or `-rank-1..=rank` with `extra`).
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(a as usize)
}

/// The indices ONNX Slice selects on an axis of extent `dim` (`step != 0`).
pub fn slice_indices(dim: i64, start: i64, end: i64, step: i64) -> Vec<usize> {
    let adj = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
    let mut idx = Vec::new();
    let (mut k, e) = if step > 0 {
        (adj(start).clamp(0, dim), adj(end).clamp(0, dim))
    } else {
        (adj(start).clamp(-1, dim - 1), adj(end).clamp(-1, dim - 1))
    };
    while (step > 0 && k < e) || (step < 0 && k > e) {
        idx.push(k as usize);
        match k.checked_add(step) {
            Some(n) => k = n,
            None => break,
        }
    }
    idx
}

/// Product of dimensions; `None` on overflow.
pub fn checked_product(dims: &[i64]) -> Option<i64> {
    dims.iter().try_fold(1i64, |a, &d| a.checked_mul(d))
}

/// numpy broadcasting of two shapes.
pub fn broadcast(a: &[i64], b: &[i64]) -> Result<Vec<i64>, String> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(format!("shapes {a:?} and {b:?} do not broadcast"));
        };
    }
    Ok(out)
}

/// ONNX Reshape target: 0 copies (unless `allowzero`), -1 inferred.
pub fn reshape_target(input: &[i64], shape: &[i64], allowzero: bool) -> Result<Vec<i64>, String> {
    let total = checked_product(input).ok_or_else(|| format!("shape {input:?} overflows"))?;
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            -1 => return Err(format!("shape {shape:?} has more than one -1")),
            0 if !allowzero => match input.get(i) {
                Some(&d) => out.push(d),
                None => {
                    return Err(format!(
                        "shape {shape:?} copies dimension {i} of a rank-{} input",
                        input.len()
                    ))
                }
            },
            s if s < 0 => return Err(format!("shape {shape:?} has a negative entry")),
            s => out.push(s),
        }
    }
    let known = checked_product(&out).ok_or_else(|| format!("shape {shape:?} overflows"))?;
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return Err(format!("cannot reshape {input:?} to {shape:?}"));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(format!(
            "cannot reshape {input:?} ({total} elements) to {shape:?}"
        ));
    }
    Ok(out)
}

pub fn flatten_shape(input: &[i64], axis: i64) -> Result<Vec<i64>, String> {
    let r = input.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a > r {
        return Err(format!("axis {axis} is out of range for rank {r}"));
    }
    let a = a as usize;
    match (checked_product(&input[..a]), checked_product(&input[a..])) {
        (Some(x), Some(y)) => Ok(vec![x, y]),
        _ => Err(format!("shape {input:?} overflows")),
    }
}

pub fn squeeze_shape(input: &[i64], axes: Option<&[i64]>) -> Result<Vec<i64>, String> {
    match axes {
        None => Ok(input.iter().copied().filter(|&d| d != 1).collect()),
        Some(axes) => {
            let mut drop = vec![false; input.len()];
            for &a in axes {
                let a = norm_axis(a, input.len())?;
                if input[a] != 1 {
                    return Err(format!("cannot squeeze axis {a} of size {}", input[a]));
                }
                drop[a] = true;
            }
            Ok(input
                .iter()
                .zip(drop)
                .filter(|(_, d)| !d)
                .map(|(&s, _)| s)
                .collect())
        }
    }
}

pub fn unsqueeze_shape(input: &[i64], axes: &[i64]) -> Result<Vec<i64>, String> {
    let r = input.len() + axes.len();
    let mut ins = vec![false; r];
    for &a in axes {
        let a = norm_axis(a, r)?;
        if ins[a] {
            return Err(format!("axis {a} repeated in {axes:?}"));
        }
        ins[a] = true;
    }
    let mut it = input.iter();
    Ok(ins
        .into_iter()
        .map(|i| {
            if i {
                1
            } else {
                it.next().copied().unwrap_or(1)
            }
        })
        .collect())
}

pub fn transpose_perm(rank: usize, perm: Option<&[i64]>) -> Result<Vec<usize>, String> {
    match perm {
        None => Ok((0..rank).rev().collect()),
        Some(p) => {
            if p.len() != rank {
                return Err(format!("perm {p:?} does not match rank {rank}"));
            }
            let mut seen = vec![false; rank];
            let mut out = Vec::with_capacity(rank);
            for &a in p {
                let a = norm_axis(a, rank)?;
                if seen[a] {
                    return Err(format!("perm {p:?} repeats axis {a}"));
                }
                seen[a] = true;
                out.push(a);
            }
            Ok(out)
        }
    }
}

pub fn concat_shape(inputs: &[&[i64]], axis: i64) -> Result<Vec<i64>, String> {
    let first = inputs.first().ok_or("no inputs")?;
    let a = norm_axis(axis, first.len())?;
    let mut out = first.to_vec();
    for s in &inputs[1..] {
        if s.len() != first.len() {
            return Err(format!("cannot concatenate shapes {first:?} and {s:?}"));
        }
        for (i, (&x, &y)) in first.iter().zip(s.iter()).enumerate() {
            if i != a && x != y {
                return Err(format!(
                    "cannot concatenate shapes {first:?} and {s:?} on axis {a}"
                ));
            }
        }
        out[a] = out[a]
            .checked_add(s[a])
            .ok_or("concatenated size overflows")?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Folding kernels.

fn to_usize_shape(s: &[i64]) -> Result<Vec<usize>, String> {
    s.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension in {s:?}")))
        .collect()
}

fn ishape(a: &[usize]) -> Vec<i64> {
    a.iter().map(|&d| d as i64).collect()
}

fn reshape_arr<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>, String> {
    let v: Vec<T> = a.iter().cloned().collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| e.to_string())
}

/// Apply `f` to the array of either type.
macro_rules! map_data {
    ($c:expr, |$a:ident| $body:expr) => {
        match &$c.data {
            CData::F($a) => CData::F($body),
            CData::I($a) => CData::I($body),
        }
    };
}

impl Const {
    fn with(&self, data: CData) -> Const {
        Const {
            data,
            batch_dependent: self.batch_dependent,
        }
    }

    pub fn reshape(&self, target: &[i64], allowzero: bool) -> Result<Const, String> {
        let out = to_usize_shape(&reshape_target(&ishape(self.shape()), target, allowzero)?)?;
        Ok(self.with(map_data!(self, |a| reshape_arr(a, &out)?)))
    }

    pub fn reshape_to(&self, out: &[i64]) -> Result<Const, String> {
        let out = to_usize_shape(out)?;
        Ok(self.with(map_data!(self, |a| reshape_arr(a, &out)?)))
    }

    pub fn transpose(&self, perm: Option<&[i64]>) -> Result<Const, String> {
        let p = transpose_perm(self.shape().len(), perm)?;
        Ok(self.with(map_data!(self, |a| a
            .clone()
            .permuted_axes(IxDyn(&p))
            .as_standard_layout()
            .into_owned())))
    }

    /// Gather along `axis` with integer `indices` (negative allowed).
    pub fn gather(&self, indices: &Const, axis: i64) -> Result<Const, String> {
        let shape = self.shape().to_vec();
        let ax = norm_axis(axis, shape.len())?;
        let dim = shape[ax] as i64;
        let idx = indices.to_i64()?;
        let flat: Vec<usize> = idx
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + dim } else { i };
                if j < 0 || j >= dim {
                    Err(format!("index {i} is out of range for dimension {dim}"))
                } else {
                    Ok(j as usize)
                }
            })
            .collect::<Result<_, _>>()?;
        let mut out_shape = shape[..ax].to_vec();
        out_shape.extend_from_slice(idx.shape());
        out_shape.extend_from_slice(&shape[ax + 1..]);
        let data = map_data!(self, |a| reshape_arr(
            &a.select(Axis(ax), &flat),
            &out_shape
        )?);
        Ok(Const {
            data,
            batch_dependent: self.batch_dependent || indices.batch_dependent,
        })
    }

    /// ONNX Slice with per-axis starts/ends/steps.
    pub fn slice(
        &self,
        starts: &[i64],
        ends: &[i64],
        axes: Option<&[i64]>,
        steps: Option<&[i64]>,
    ) -> Result<Const, String> {
        let rank = self.shape().len();
        if starts.len() != ends.len() {
            return Err("starts and ends differ in length".into());
        }
        let axes: Vec<i64> = match axes {
            Some(a) => a.to_vec(),
            None => (0..starts.len() as i64).collect(),
        };
        let steps: Vec<i64> = match steps {
            Some(s) => s.to_vec(),
            None => vec![1; starts.len()],
        };
        if axes.len() != starts.len() || steps.len() != starts.len() {
            return Err("starts, ends, axes and steps differ in length".into());
        }
        let mut cur = self.data.clone();
        for i in 0..starts.len() {
            let ax = norm_axis(axes[i], rank)?;
            // The current extent (an axis listed twice is sliced twice).
            let dim = data_shape(&cur)[ax] as i64;
            let step = steps[i];
            if step == 0 {
                return Err("slice step 0".into());
            }
            let idx = slice_indices(dim, starts[i], ends[i], step);
            cur = match &cur {
                CData::F(a) => CData::F(a.select(Axis(ax), &idx)),
                CData::I(a) => CData::I(a.select(Axis(ax), &idx)),
            };
        }
        Ok(self.with(cur))
    }

    pub fn concat(inputs: &[&Const], axis: i64) -> Result<Const, String> {
        let shapes: Vec<Vec<i64>> = inputs.iter().map(|c| ishape(c.shape())).collect();
        let refs: Vec<&[i64]> = shapes.iter().map(|s| s.as_slice()).collect();
        let out = to_usize_shape(&concat_shape(&refs, axis)?)?;
        let ax = norm_axis(axis, shapes[0].len())?;
        let all_int = inputs.iter().all(|c| matches!(c.data, CData::I(_)));
        let data = if all_int {
            let views: Vec<ArrayD<i64>> = inputs
                .iter()
                .map(|c| c.to_i64())
                .collect::<Result<_, _>>()?;
            let v: Vec<_> = views.iter().map(|a| a.view()).collect();
            CData::I(ndarray::concatenate(Axis(ax), &v).map_err(|e| e.to_string())?)
        } else {
            let arrs: Vec<ArrayD<f32>> = inputs.iter().map(|c| c.to_f32()).collect();
            let v: Vec<_> = arrs.iter().map(|a| a.view()).collect();
            CData::F(ndarray::concatenate(Axis(ax), &v).map_err(|e| e.to_string())?)
        };
        debug_assert_eq!(data_shape(&data), out.as_slice());
        Ok(Const {
            data,
            batch_dependent: false,
        }
        .tainted_by(inputs))
    }

    /// Elementwise binary op with broadcasting. Integers stay integers when
    /// both sides are integers.
    pub fn binary(&self, other: &Const, op: &str) -> Result<Const, String> {
        let out = to_usize_shape(&broadcast(&ishape(self.shape()), &ishape(other.shape()))?)?;
        let data = match (&self.data, &other.data) {
            (CData::I(a), CData::I(b)) => {
                let a = a.broadcast(IxDyn(&out)).ok_or("broadcast failed")?;
                let b = b.broadcast(IxDyn(&out)).ok_or("broadcast failed")?;
                let mut err = None;
                let r = ndarray::Zip::from(&a).and(&b).map_collect(|&x, &y| {
                    let v = match op {
                        "Add" => x.checked_add(y),
                        "Sub" => x.checked_sub(y),
                        "Mul" => x.checked_mul(y),
                        _ => {
                            if y == 0 {
                                None
                            } else {
                                x.checked_div(y)
                            }
                        }
                    };
                    v.unwrap_or_else(|| {
                        err = Some(format!(
                            "integer {op} of {x} and {y} overflows or divides by zero"
                        ));
                        0
                    })
                });
                if let Some(e) = err {
                    return Err(e);
                }
                CData::I(r)
            }
            _ => {
                let (a, b) = (self.to_f32(), other.to_f32());
                let a = a.broadcast(IxDyn(&out)).ok_or("broadcast failed")?;
                let b = b.broadcast(IxDyn(&out)).ok_or("broadcast failed")?;
                CData::F(
                    ndarray::Zip::from(&a)
                        .and(&b)
                        .map_collect(|&x, &y| match op {
                            "Add" => x + y,
                            "Sub" => x - y,
                            "Mul" => x * y,
                            _ => x / y,
                        }),
                )
            }
        };
        Ok(Const {
            data,
            batch_dependent: false,
        }
        .tainted_by(&[self, other]))
    }

    /// Elementwise unary float op.
    pub fn unary(&self, f: impl Fn(f32) -> f32) -> Const {
        self.with(CData::F(self.to_f32().mapv(f)))
    }

    /// Cast to float (`to_float`) or to integer (truncating).
    pub fn cast(&self, to_float: bool) -> Const {
        if to_float {
            self.with(CData::F(self.to_f32()))
        } else {
            match &self.data {
                CData::I(_) => self.clone(),
                CData::F(a) => self.with(CData::I(a.mapv(|v| v as i64))),
            }
        }
    }
}

fn data_shape(d: &CData) -> &[usize] {
    match d {
        CData::F(a) => a.shape(),
        CData::I(a) => a.shape(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_elements_is_overflow_safe() {
        assert_eq!(declared_elements(&[100_000, 100_000]), Some(10_000_000_000));
        assert_eq!(declared_elements(&[i64::MAX, i64::MAX, i64::MAX]), None);
        assert_eq!(declared_elements(&[3, -1]), None);
        assert_eq!(declared_elements(&[]), Some(1));
    }

    #[test]
    fn half_floats_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7c01).is_nan());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }

    #[test]
    fn reshape_targets() {
        assert_eq!(
            reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(),
            vec![2, 12]
        );
        assert_eq!(reshape_target(&[2, 3, 4], &[-1], false).unwrap(), vec![24]);
        assert!(reshape_target(&[2, 3, 4], &[-1, -1], false).is_err());
        assert!(reshape_target(&[2, 3, 4], &[5, -1], false).is_err());
        assert!(reshape_target(&[2, 3, 4], &[0, 0, 0, 0], false).is_err());
    }

    #[test]
    fn gather_slice_concat_fold() {
        let shape = Const::i(ArrayD::from_shape_vec(IxDyn(&[4]), vec![7, 3, 5, 5]).unwrap());
        let idx = Const::i(ArrayD::from_elem(IxDyn(&[]), -4));
        let g = shape.gather(&idx, 0).unwrap();
        assert_eq!(g.shape(), &[] as &[usize]);
        assert_eq!(g.to_i64_vec().unwrap(), vec![7]);
        let s = shape.slice(&[1], &[i64::MAX], None, None).unwrap();
        assert_eq!(s.to_i64_vec().unwrap(), vec![3, 5, 5]);
        let r = shape
            .slice(&[-1], &[i64::MIN], Some(&[0]), Some(&[-2]))
            .unwrap();
        assert_eq!(r.to_i64_vec().unwrap(), vec![5, 3]);
        let u = g.reshape_to(&[1]).unwrap();
        let m1 = Const::i(ArrayD::from_shape_vec(IxDyn(&[1]), vec![-1]).unwrap());
        let c = Const::concat(&[&u, &m1], 0).unwrap();
        assert_eq!(c.to_i64_vec().unwrap(), vec![7, -1]);
        assert!(shape
            .gather(&Const::i(ArrayD::from_elem(IxDyn(&[]), 4)), 0)
            .is_err());
    }

    #[test]
    fn integer_arithmetic_is_checked() {
        let a = Const::i(ArrayD::from_shape_vec(IxDyn(&[2]), vec![6, i64::MAX]).unwrap());
        let two = Const::i(ArrayD::from_elem(IxDyn(&[]), 2));
        let zero = Const::i(ArrayD::from_elem(IxDyn(&[]), 0));
        assert_eq!(
            a.binary(&two, "Div").unwrap().to_i64_vec().unwrap(),
            vec![3, i64::MAX / 2]
        );
        assert!(a.binary(&two, "Mul").is_err());
        assert!(a.binary(&zero, "Div").is_err());
    }
}
