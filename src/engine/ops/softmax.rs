//! Row normalisations: Softmax and LogSoftmax (opset < 13 "coerce to 2-D"
//! semantics or a single axis), SoftmaxZero (ai.onnx.ml post_transform
//! SOFTMAX_ZERO) and ai.onnx.ml.Normalizer (MAX, L1, L2 over the last axis).
//!
//! Every operator here views the standard-layout data as `outer x n x inner`
//! (element `(o, i, j)` at `(o * n + i) * inner + j`) and normalises each of
//! the `outer * inner` lanes of length `n` (stride `inner`).
//!
//! SoftmaxZero follows onnxruntime's `ComputeSoftmaxZero` (ml_common.h):
//! with `m` the row maximum, entries with `|v| > 1e-7` become
//! `exp(v - m)`, the others `v * exp(-m)`, and all are divided by the sum of
//! the former. A row with no such entry (all zeros) gives zeros here (the
//! reference divides by zero). Normalizer follows onnxruntime: MAX divides by
//! the row maximum (not the maximum absolute value), L1 by the sum of
//! absolute values, L2 by the root of the sum of squares; a zero divisor
//! leaves the row unchanged.

use super::super::graph::Norm;
use super::super::{EngineError, Tensor};
use crate::engine::math::PortableMath;

/// (outer, n, inner) for a normalisation at `axis`.
fn split(
    name: &'static str,
    shape: &[usize],
    axis: i64,
    coerce_2d: bool,
) -> Result<(usize, usize, usize), EngineError> {
    let r = shape.len() as i64;
    if r == 0 || axis < -r || axis >= r {
        return Err(EngineError::op(
            name,
            format!("axis {axis} is out of range for shape {shape:?}"),
        ));
    }
    let ax = if axis < 0 { axis + r } else { axis } as usize;
    let outer = shape[..ax].iter().product();
    if coerce_2d {
        Ok((outer, shape[ax..].iter().product(), 1))
    } else {
        Ok((outer, shape[ax], shape[ax + 1..].iter().product()))
    }
}

fn std_vec(t: &Tensor) -> Vec<f32> {
    match t.as_slice() {
        Some(s) => s.to_vec(),
        None => t.iter().copied().collect(),
    }
}

fn from_vec(name: &'static str, like: &Tensor, v: Vec<f32>) -> Result<Tensor, EngineError> {
    Tensor::from_shape_vec(like.raw_dim(), v).map_err(|e| EngineError::op(name, e.to_string()))
}

/// Calls `f(base, stride)` for every lane of length `n`.
fn for_lanes(outer: usize, n: usize, inner: usize, mut f: impl FnMut(usize, usize)) {
    for o in 0..outer {
        for j in 0..inner {
            f(o * n * inner + j, inner);
        }
    }
}

pub fn softmax_forward(
    name: &'static str,
    x: &Tensor,
    axis: i64,
    coerce_2d: bool,
    log: bool,
) -> Result<Tensor, EngineError> {
    let (outer, n, inner) = split(name, x.shape(), axis, coerce_2d)?;
    let mut y = std_vec(x);
    if n == 0 {
        return from_vec(name, x, y);
    }
    for_lanes(outer, n, inner, |base, st| {
        let idx = |i: usize| base + i * st;
        let mut m = f32::NEG_INFINITY;
        for i in 0..n {
            m = m.max(y[idx(i)]);
        }
        let mut sum = 0.0f32;
        for i in 0..n {
            let e = (y[idx(i)] - m).p_exp();
            sum += e;
            if !log {
                y[idx(i)] = e;
            }
        }
        if log {
            // (x - m) - ln(sum): no cancellation against a large m
            let ls = sum.p_ln();
            for i in 0..n {
                y[idx(i)] = (y[idx(i)] - m) - ls;
            }
        } else {
            let inv = 1.0 / sum;
            for i in 0..n {
                y[idx(i)] *= inv;
            }
        }
    });
    from_vec(name, x, y)
}

pub fn softmax_backward(
    name: &'static str,
    y: &Tensor,
    g: &Tensor,
    axis: i64,
    coerce_2d: bool,
    log: bool,
) -> Result<Tensor, EngineError> {
    let (outer, n, inner) = split(name, y.shape(), axis, coerce_2d)?;
    let ys = std_vec(y);
    let mut gx = std_vec(g);
    for_lanes(outer, n, inner, |base, st| {
        let idx = |i: usize| base + i * st;
        if log {
            // y = x - lse: dx = g - softmax * sum(g)
            let sg: f32 = (0..n).map(|i| gx[idx(i)]).sum();
            for i in 0..n {
                gx[idx(i)] -= ys[idx(i)].p_exp() * sg;
            }
        } else {
            // dx = y * (g - <g, y>)
            let dot: f32 = (0..n).map(|i| gx[idx(i)] * ys[idx(i)]).sum();
            for i in 0..n {
                gx[idx(i)] = ys[idx(i)] * (gx[idx(i)] - dot);
            }
        }
    });
    from_vec(name, g, gx)
}

const ZERO_EPS: f32 = 1e-7;

fn is_zero(v: f32) -> bool {
    (-ZERO_EPS..=ZERO_EPS).contains(&v)
}

fn last_axis(name: &'static str, x: &Tensor) -> Result<usize, EngineError> {
    match x.shape().last() {
        Some(&n) => Ok(n),
        None => Err(EngineError::op(
            name,
            "input must be at least 1-D, got a scalar",
        )),
    }
}

/// Per row: (max, sum of exp(v - max) over non-zero entries).
fn zero_row_stats(row: &[f32]) -> (f32, f32) {
    let m = row.iter().fold(-f32::MAX, |m, &v| m.max(v));
    let sum = row
        .iter()
        .filter(|&&v| !is_zero(v))
        .map(|&v| (v - m).p_exp())
        .sum();
    (m, sum)
}

pub fn softmax_zero_forward(x: &Tensor) -> Result<Tensor, EngineError> {
    let n = last_axis("SoftmaxZero", x)?;
    let mut y = std_vec(x);
    if n == 0 {
        return from_vec("SoftmaxZero", x, y);
    }
    for row in y.chunks_exact_mut(n) {
        let (m, sum) = zero_row_stats(row);
        if sum <= 0.0 {
            row.fill(0.0);
            continue;
        }
        let inv = 1.0 / sum;
        let em = (-m).p_exp();
        for v in row.iter_mut() {
            *v = if is_zero(*v) {
                *v * em * inv
            } else {
                (*v - m).p_exp() * inv
            };
        }
    }
    from_vec("SoftmaxZero", x, y)
}

/// With T = sum of exp(v) over non-zero entries, y = exp(v)/T for those and
/// v/T for the (near-)zero ones, so dx = y (g - <g, y>) for non-zero entries
/// and g / T = g exp(-m) / sum for the others.
pub fn softmax_zero_backward(x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor, EngineError> {
    let n = last_axis("SoftmaxZero", x)?;
    if x.shape() != g.shape() || y.shape() != g.shape() {
        return Err(EngineError::op(
            "SoftmaxZero",
            format!(
                "gradient of shape {:?} for an input of shape {:?}",
                g.shape(),
                x.shape()
            ),
        ));
    }
    let xs = std_vec(x);
    let ys = std_vec(y);
    let mut gx = std_vec(g);
    if n == 0 {
        return from_vec("SoftmaxZero", x, gx);
    }
    for ((xr, yr), gr) in xs
        .chunks_exact(n)
        .zip(ys.chunks_exact(n))
        .zip(gx.chunks_exact_mut(n))
    {
        let (m, sum) = zero_row_stats(xr);
        if sum <= 0.0 {
            gr.fill(0.0);
            continue;
        }
        let dot: f32 = gr.iter().zip(yr).map(|(g, y)| g * y).sum();
        let inv_t = (-m).p_exp() / sum;
        for ((gv, &xv), &yv) in gr.iter_mut().zip(xr).zip(yr) {
            *gv = if is_zero(xv) {
                *gv * inv_t
            } else {
                yv * (*gv - dot)
            };
        }
    }
    from_vec("SoftmaxZero", x, gx)
}

/// The divisor of a Normalizer row (0 means "leave unchanged").
fn norm_divisor(norm: Norm, row: &[f32]) -> f32 {
    match norm {
        Norm::Max => row.iter().fold(f32::MIN, |m, &v| m.max(v)),
        Norm::L1 => row.iter().map(|v| v.abs()).sum(),
        Norm::L2 => row.iter().map(|v| v * v).sum::<f32>().sqrt(),
    }
}

pub fn normalizer_forward(norm: Norm, x: &Tensor) -> Result<Tensor, EngineError> {
    let n = last_axis("Normalizer", x)?;
    let mut y = std_vec(x);
    if n == 0 {
        return from_vec("Normalizer", x, y);
    }
    for row in y.chunks_exact_mut(n) {
        let d = norm_divisor(norm, row);
        if d != 0.0 {
            let inv = 1.0 / d;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
    from_vec("Normalizer", x, y)
}

pub fn normalizer_backward(norm: Norm, x: &Tensor, g: &Tensor) -> Result<Tensor, EngineError> {
    let n = last_axis("Normalizer", x)?;
    if x.shape() != g.shape() {
        return Err(EngineError::op(
            "Normalizer",
            format!(
                "gradient of shape {:?} for an input of shape {:?}",
                g.shape(),
                x.shape()
            ),
        ));
    }
    let xs = std_vec(x);
    let mut gx = std_vec(g);
    if n == 0 {
        return from_vec("Normalizer", x, gx);
    }
    for (xr, gr) in xs.chunks_exact(n).zip(gx.chunks_exact_mut(n)) {
        let d = norm_divisor(norm, xr);
        if d == 0.0 {
            continue; // identity
        }
        // y_i = x_i / d(x): dx_j = g_j / d - (sum_i g_i x_i) / d^2 * dd/dx_j
        let gdotx: f32 = gr.iter().zip(xr).map(|(g, x)| g * x).sum();
        let c = gdotx / (d * d);
        let inv = 1.0 / d;
        match norm {
            Norm::Max => {
                let k = xr.iter().position(|&v| v == d).unwrap_or(0);
                gr.iter_mut().for_each(|v| *v *= inv);
                gr[k] -= c;
            }
            Norm::L1 => {
                for (gv, &xv) in gr.iter_mut().zip(xr) {
                    let sign = if xv > 0.0 {
                        1.0
                    } else if xv < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    *gv = *gv * inv - c * sign;
                }
            }
            Norm::L2 => {
                for (gv, &xv) in gr.iter_mut().zip(xr) {
                    *gv = *gv * inv - c * xv * inv;
                }
            }
        }
    }
    from_vec("Normalizer", x, gx)
}
