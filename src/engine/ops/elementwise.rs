//! Elementwise operators: numpy-broadcast binary ops (Add, Sub, Mul, Div),
//! unary activations (Neg, Exp, Log, Sqrt, Relu, LeakyRelu, Sigmoid, Tanh),
//! and inference-mode BatchNormalization (a per-channel affine map).
//!
//! Binary gradients are computed at the broadcast output shape and summed
//! back to each operand's shape with [`sum_to_shape`]. Unary gradients use
//! the saved output where that is cheaper (Exp, Sqrt, Sigmoid, Tanh).

use super::super::{EngineError, Tensor};
use crate::engine::math::PortableMath;
use ndarray::{Axis, IxDyn, Zip};

/// A broadcast binary operator.
#[derive(Debug, Clone, Copy)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    fn name(self) -> &'static str {
        match self {
            Binary::Add => "Add",
            Binary::Sub => "Sub",
            Binary::Mul => "Mul",
            Binary::Div => "Div",
        }
    }
}

/// An elementwise unary operator.
#[derive(Debug, Clone, Copy)]
pub enum Unary {
    Neg,
    Exp,
    Log,
    Sqrt,
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shape(
    name: &'static str,
    a: &[usize],
    b: &[usize],
) -> Result<Vec<usize>, EngineError> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
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
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(EngineError::op(
                name,
                format!("shapes {a:?} and {b:?} cannot be broadcast together"),
            ));
        };
    }
    Ok(out)
}

/// Sums a gradient of the broadcast shape back to `shape` (which must
/// broadcast to the gradient's shape).
pub fn sum_to_shape(
    name: &'static str,
    grad: Tensor,
    shape: &[usize],
) -> Result<Tensor, EngineError> {
    if grad.shape() == shape {
        return Ok(grad);
    }
    if shape.len() > grad.ndim() {
        return Err(EngineError::op(
            name,
            format!(
                "cannot reduce a gradient of shape {:?} to shape {shape:?}",
                grad.shape()
            ),
        ));
    }
    // Fast path: `shape` (without leading 1s) is the trailing part of the
    // gradient's shape, so the result sums contiguous blocks.
    let lead = shape.iter().take_while(|&&d| d == 1).count();
    let tail = &shape[lead..];
    if grad.shape().ends_with(tail) {
        if let Some(gs) = grad.as_slice() {
            let inner: usize = tail.iter().product();
            let mut acc = vec![0.0f32; inner];
            if inner > 0 {
                for block in gs.chunks_exact(inner) {
                    for (a, &v) in acc.iter_mut().zip(block) {
                        *a += v;
                    }
                }
            }
            return Tensor::from_shape_vec(IxDyn(shape), acc)
                .map_err(|e| EngineError::op(name, e.to_string()));
        }
    }
    let mut r = grad;
    while r.ndim() > shape.len() {
        r = r.sum_axis(Axis(0));
    }
    for (i, &s) in shape.iter().enumerate() {
        if s != r.shape()[i] {
            if s != 1 {
                return Err(EngineError::op(
                    name,
                    format!(
                        "cannot reduce a gradient of shape {:?} to shape {shape:?}",
                        r.shape()
                    ),
                ));
            }
            r = r.sum_axis(Axis(i)).insert_axis(Axis(i));
        }
    }
    Ok(r)
}

/// Applies `f` elementwise over the broadcast of `a` and `b`.
fn zip_broadcast(
    name: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(f32, f32) -> f32,
) -> Result<Tensor, EngineError> {
    if a.shape() == b.shape() {
        if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
            let v: Vec<f32> = sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect();
            return Tensor::from_shape_vec(a.raw_dim(), v)
                .map_err(|e| EngineError::op(name, e.to_string()));
        }
    }
    let shape = broadcast_shape(name, a.shape(), b.shape())?;
    super::checked_len(&shape)?;
    let dim = IxDyn(&shape);
    let bad = || {
        EngineError::op(
            name,
            format!(
                "shapes {:?} and {:?} cannot be broadcast together",
                a.shape(),
                b.shape()
            ),
        )
    };
    if b.len() == 1 && b.ndim() <= a.ndim() && a.shape() == &shape[..] {
        let y = b.iter().next().copied().unwrap_or(0.0);
        return Ok(a.mapv(|x| f(x, y)));
    }
    let av = a.broadcast(dim.clone()).ok_or_else(bad)?;
    let bv = b.broadcast(dim).ok_or_else(bad)?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

pub fn binary_forward(kind: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor, EngineError> {
    let name = kind.name();
    match kind {
        Binary::Add => zip_broadcast(name, a, b, |x, y| x + y),
        Binary::Sub => zip_broadcast(name, a, b, |x, y| x - y),
        Binary::Mul => zip_broadcast(name, a, b, |x, y| x * y),
        Binary::Div => zip_broadcast(name, a, b, |x, y| x / y),
    }
}

pub fn binary_backward(
    kind: Binary,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    g: &Tensor,
) -> Result<(Tensor, Tensor), EngineError> {
    let name = kind.name();
    match kind {
        Binary::Add => Ok((
            sum_to_shape(name, g.clone(), a.shape())?,
            sum_to_shape(name, g.clone(), b.shape())?,
        )),
        Binary::Sub => Ok((
            sum_to_shape(name, g.clone(), a.shape())?,
            sum_to_shape(name, g.mapv(|v| -v), b.shape())?,
        )),
        Binary::Mul => {
            let ga = zip_broadcast(name, g, b, |g, y| g * y)?;
            let gb = zip_broadcast(name, g, a, |g, x| g * x)?;
            Ok((
                sum_to_shape(name, ga, a.shape())?,
                sum_to_shape(name, gb, b.shape())?,
            ))
        }
        Binary::Div => {
            let ga = zip_broadcast(name, g, b, |g, y| g / y)?;
            // d(a/b)/db = -a/b^2 = -out/b
            let gob = zip_broadcast(name, g, out, |g, o| -g * o)?;
            let gb = zip_broadcast(name, &gob, b, |v, y| v / y)?;
            Ok((
                sum_to_shape(name, ga, a.shape())?,
                sum_to_shape(name, gb, b.shape())?,
            ))
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).p_exp())
    } else {
        let e = x.p_exp();
        e / (1.0 + e)
    }
}

pub fn unary_forward(kind: Unary, x: &Tensor) -> Tensor {
    match kind {
        Unary::Neg => x.mapv(|v| -v),
        Unary::Exp => x.mapv(f32::p_exp),
        Unary::Log => x.mapv(f32::p_ln),
        Unary::Sqrt => x.mapv(f32::sqrt),
        Unary::Relu => x.mapv(|v| v.max(0.0)),
        Unary::LeakyRelu(alpha) => x.mapv(|v| if v >= 0.0 { v } else { alpha * v }),
        Unary::Sigmoid => x.mapv(sigmoid),
        Unary::Tanh => x.mapv(f32::p_tanh),
    }
}

/// Zips two same-shaped tensors (the gradient and an input or the output).
fn zip2(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Tensor {
    if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
        let v: Vec<f32> = sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect();
        if let Ok(t) = Tensor::from_shape_vec(a.raw_dim(), v) {
            return t;
        }
    }
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

pub fn unary_backward(
    kind: Unary,
    x: &Tensor,
    out: &Tensor,
    g: &Tensor,
) -> Result<Tensor, EngineError> {
    if x.shape() != g.shape() {
        return Err(EngineError::op(
            "Elementwise",
            format!(
                "gradient of shape {:?} for an input of shape {:?}",
                g.shape(),
                x.shape()
            ),
        ));
    }
    Ok(match kind {
        Unary::Neg => g.mapv(|v| -v),
        Unary::Exp => zip2(g, out, |g, y| g * y),
        Unary::Log => zip2(g, x, |g, x| g / x),
        Unary::Sqrt => zip2(g, out, |g, y| g * 0.5 / y),
        Unary::Relu => zip2(g, x, |g, x| if x > 0.0 { g } else { 0.0 }),
        Unary::LeakyRelu(alpha) => zip2(g, x, |g, x| if x >= 0.0 { g } else { alpha * g }),
        Unary::Sigmoid => zip2(g, out, |g, y| g * y * (1.0 - y)),
        Unary::Tanh => zip2(g, out, |g, y| g * (1.0 - y * y)),
    })
}

/// Per-channel parameters of BatchNormalization: (N, C, spatial size, scale
/// per channel = scale/sqrt(var+eps), shift per channel = B - mean*scale').
struct BnParams {
    n: usize,
    c: usize,
    s: usize,
    inv_std: Vec<f32>,
}

fn bn_params(epsilon: f32, inputs: &[&Tensor]) -> Result<BnParams, EngineError> {
    let x = inputs[0];
    if x.ndim() < 2 {
        return Err(EngineError::op(
            "BatchNormalization",
            format!("input must be [N, C, ...], got shape {:?}", x.shape()),
        ));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    for (i, what) in ["scale", "B", "mean", "var"].iter().enumerate() {
        let t = inputs[i + 1];
        if t.len() != c || t.ndim() != 1 {
            return Err(EngineError::op(
                "BatchNormalization",
                format!(
                    "{what} has shape {:?}, expected [{c}] for input shape {:?}",
                    t.shape(),
                    x.shape()
                ),
            ));
        }
    }
    let inv_std = inputs[4]
        .iter()
        .map(|&v| 1.0 / (v + epsilon).sqrt())
        .collect();
    Ok(BnParams { n, c, s, inv_std })
}

pub fn batch_norm_forward(epsilon: f32, inputs: &[&Tensor]) -> Result<Tensor, EngineError> {
    let p = bn_params(epsilon, inputs)?;
    let x = inputs[0].as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let scale: Vec<f32> = inputs[1].iter().copied().collect();
    let bias: Vec<f32> = inputs[2].iter().copied().collect();
    let mean: Vec<f32> = inputs[3].iter().copied().collect();
    let mut out = vec![0.0f32; xs.len()];
    for (row, (src, dst)) in xs
        .chunks_exact(p.s.max(1))
        .zip(out.chunks_exact_mut(p.s.max(1)))
        .enumerate()
        .take(p.n * p.c)
    {
        let ch = row % p.c;
        let k = scale[ch] * p.inv_std[ch];
        let b = bias[ch] - mean[ch] * k;
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v * k + b;
        }
    }
    Tensor::from_shape_vec(inputs[0].raw_dim(), out)
        .map_err(|e| EngineError::op("BatchNormalization", e.to_string()))
}

pub fn batch_norm_backward(
    epsilon: f32,
    inputs: &[&Tensor],
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let p = bn_params(epsilon, inputs)?;
    if g.shape() != inputs[0].shape() {
        return Err(EngineError::op(
            "BatchNormalization",
            format!(
                "gradient of shape {:?} for an input of shape {:?}",
                g.shape(),
                inputs[0].shape()
            ),
        ));
    }
    let x = inputs[0].as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let gs_cow = g.as_standard_layout();
    let gs = gs_cow.as_slice().unwrap_or(&[]);
    let scale: Vec<f32> = inputs[1].iter().copied().collect();
    let mean: Vec<f32> = inputs[3].iter().copied().collect();
    let mut gx = vec![0.0f32; xs.len()];
    let mut gscale = vec![0.0f32; p.c];
    let mut gbias = vec![0.0f32; p.c];
    let s = p.s.max(1);
    for (row, ((xr, gr), gxr)) in xs
        .chunks_exact(s)
        .zip(gs.chunks_exact(s))
        .zip(gx.chunks_exact_mut(s))
        .enumerate()
        .take(p.n * p.c)
    {
        let ch = row % p.c;
        let inv = p.inv_std[ch];
        let k = scale[ch] * inv;
        let (mut sg, mut sgx) = (0.0f32, 0.0f32);
        for ((d, &gv), &xv) in gxr.iter_mut().zip(gr).zip(xr) {
            *d = gv * k;
            sg += gv;
            sgx += gv * (xv - mean[ch]);
        }
        gbias[ch] += sg;
        gscale[ch] += sgx * inv;
    }
    let err = |e: ndarray::ShapeError| EngineError::op("BatchNormalization", e.to_string());
    Ok(vec![
        Some(Tensor::from_shape_vec(inputs[0].raw_dim(), gx).map_err(err)?),
        Some(Tensor::from_shape_vec(inputs[1].raw_dim(), gscale).map_err(err)?),
        Some(Tensor::from_shape_vec(inputs[2].raw_dim(), gbias).map_err(err)?),
        None,
        None,
    ])
}
