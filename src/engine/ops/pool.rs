//! Pooling: MaxPool, AveragePool (2-D, on [N, C, H, W]) and
//! GlobalAveragePool (any rank >= 3).
//!
//! The window geometry (pads, strides, dilations, ceil_mode, auto_pad) is
//! [`super::conv::geometry`]. Semantics (as onnxruntime):
//! - MaxPool: padding never wins; the maximum is over the in-image positions
//!   of the window. Backward routes the gradient to the first maximum in
//!   row-major window order. A window with no in-image position (only
//!   possible with pads >= kernel) outputs `f32::MIN` and gets no gradient.
//! - AveragePool: the sum over in-image positions divided by the number of
//!   in-image positions, or with `count_include_pad` by the number of window
//!   positions inside the padded input; a window that hangs past the padded
//!   end (ceil_mode) is clipped there first. Backward spreads the gradient
//!   over the same positions with the same divisor.

use super::super::graph::Window;
use super::super::{EngineError, Tensor};
use super::conv::{geometry, Geometry};

/// For every output index along one axis: its window's in-image input
/// indices `first[o] + t * step` for `t < count[o]`, and the number of
/// window positions inside the padded input.
struct AxisTaps {
    first: Vec<usize>,
    count: Vec<usize>,
    step: usize,
    padded_count: Vec<usize>,
}

impl AxisTaps {
    fn new(
        out: usize,
        size: usize,
        k: usize,
        s: usize,
        d: usize,
        pad_b: usize,
        pad_e: usize,
    ) -> Self {
        let mut t = AxisTaps {
            first: Vec::with_capacity(out),
            count: Vec::with_capacity(out),
            step: d,
            padded_count: Vec::with_capacity(out),
        };
        for o in 0..out {
            let (mut first, mut count, mut pc) = (0, 0, 0);
            for ki in 0..k {
                // position in padded coordinates
                let p = o * s + ki * d;
                if p < size + pad_b + pad_e {
                    pc += 1;
                }
                if p >= pad_b && p - pad_b < size {
                    if count == 0 {
                        first = p - pad_b;
                    }
                    count += 1;
                }
            }
            t.first.push(first);
            t.count.push(count);
            t.padded_count.push(pc);
        }
        t
    }

    fn iter(&self, o: usize) -> impl Iterator<Item = usize> {
        let (first, step) = (self.first[o], self.step);
        (0..self.count[o]).map(move |t| first + t * step)
    }
}

fn taps(g: &Geometry) -> (AxisTaps, AxisTaps) {
    (
        AxisTaps::new(g.oh, g.h, g.kh, g.sh, g.dh, g.pt, g.pb),
        AxisTaps::new(g.ow, g.w, g.kw, g.sw, g.dw, g.pl, g.pr),
    )
}

fn shape_err(name: &'static str) -> impl Fn(ndarray::ShapeError) -> EngineError {
    move |e| EngineError::op(name, e.to_string())
}

fn check_grad_shape(name: &'static str, g: &Geometry, grad: &Tensor) -> Result<(), EngineError> {
    if grad.shape() != [g.n, g.c, g.oh, g.ow] {
        return Err(EngineError::op(
            name,
            format!(
                "output gradient has shape {:?}, expected {:?}",
                grad.shape(),
                [g.n, g.c, g.oh, g.ow]
            ),
        ));
    }
    Ok(())
}

/// Index (within the plane) and value of the first maximum of window
/// (oh, ow); `None` when the window has no in-image position.
fn argmax(
    plane: &[f32],
    w: usize,
    th: &AxisTaps,
    tw: &AxisTaps,
    oh: usize,
    ow: usize,
) -> Option<(usize, f32)> {
    let mut best_i = usize::MAX;
    let mut best_v = f32::NEG_INFINITY;
    for ih in th.iter(oh) {
        let row = &plane[ih * w..(ih + 1) * w];
        for iw in tw.iter(ow) {
            let v = row[iw];
            if v > best_v || best_i == usize::MAX {
                best_i = ih * w + iw;
                best_v = v;
            }
        }
    }
    (best_i != usize::MAX).then_some((best_i, best_v))
}

pub fn max_pool_forward(window: &Window, x: &Tensor) -> Result<Tensor, EngineError> {
    let g = geometry("MaxPool", window, x.shape())?;
    let (th, tw) = taps(&g);
    let x = x.as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut out = vec![0.0f32; g.n * g.c * ohw];
    for (plane, dst) in xs.chunks_exact(hw).zip(out.chunks_exact_mut(ohw)) {
        for (oh, drow) in dst.chunks_exact_mut(g.ow).enumerate() {
            for (ow, d) in drow.iter_mut().enumerate() {
                *d = argmax(plane, g.w, &th, &tw, oh, ow).map_or(f32::MIN, |(_, v)| v);
            }
        }
    }
    Tensor::from_shape_vec(vec![g.n, g.c, g.oh, g.ow], out).map_err(shape_err("MaxPool"))
}

pub fn max_pool_backward(
    window: &Window,
    x: &Tensor,
    grad: &Tensor,
) -> Result<Tensor, EngineError> {
    let g = geometry("MaxPool", window, x.shape())?;
    check_grad_shape("MaxPool", &g, grad)?;
    let (th, tw) = taps(&g);
    let xstd = x.as_standard_layout();
    let xs = xstd.as_slice().unwrap_or(&[]);
    let gy = grad.as_standard_layout();
    let gys = gy.as_slice().unwrap_or(&[]);
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut gx = vec![0.0f32; xs.len()];
    for ((plane, gplane), gxp) in xs
        .chunks_exact(hw)
        .zip(gys.chunks_exact(ohw))
        .zip(gx.chunks_exact_mut(hw))
    {
        for (oh, grow) in gplane.chunks_exact(g.ow).enumerate() {
            for (ow, &gv) in grow.iter().enumerate() {
                if let Some((i, _)) = argmax(plane, g.w, &th, &tw, oh, ow) {
                    gxp[i] += gv;
                }
            }
        }
    }
    Tensor::from_shape_vec(x.raw_dim(), gx).map_err(shape_err("MaxPool"))
}

fn divisor(th: &AxisTaps, tw: &AxisTaps, oh: usize, ow: usize, include_pad: bool) -> f32 {
    let n = if include_pad {
        th.padded_count[oh] * tw.padded_count[ow]
    } else {
        th.count[oh] * tw.count[ow]
    };
    n as f32
}

pub fn avg_pool_forward(
    window: &Window,
    include_pad: bool,
    x: &Tensor,
) -> Result<Tensor, EngineError> {
    let g = geometry("AveragePool", window, x.shape())?;
    let (th, tw) = taps(&g);
    let x = x.as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut out = vec![0.0f32; g.n * g.c * ohw];
    for (plane, dst) in xs.chunks_exact(hw).zip(out.chunks_exact_mut(ohw)) {
        for (oh, drow) in dst.chunks_exact_mut(g.ow).enumerate() {
            for (ow, d) in drow.iter_mut().enumerate() {
                let mut sum = 0.0f32;
                for ih in th.iter(oh) {
                    let row = &plane[ih * g.w..(ih + 1) * g.w];
                    for iw in tw.iter(ow) {
                        sum += row[iw];
                    }
                }
                let n = divisor(&th, &tw, oh, ow, include_pad);
                *d = if n > 0.0 { sum / n } else { 0.0 };
            }
        }
    }
    Tensor::from_shape_vec(vec![g.n, g.c, g.oh, g.ow], out).map_err(shape_err("AveragePool"))
}

pub fn avg_pool_backward(
    window: &Window,
    include_pad: bool,
    x: &Tensor,
    grad: &Tensor,
) -> Result<Tensor, EngineError> {
    let g = geometry("AveragePool", window, x.shape())?;
    check_grad_shape("AveragePool", &g, grad)?;
    let (th, tw) = taps(&g);
    let gy = grad.as_standard_layout();
    let gys = gy.as_slice().unwrap_or(&[]);
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut gx = vec![0.0f32; x.len()];
    for (gplane, gxp) in gys.chunks_exact(ohw).zip(gx.chunks_exact_mut(hw)) {
        for (oh, grow) in gplane.chunks_exact(g.ow).enumerate() {
            for (ow, &gv) in grow.iter().enumerate() {
                let n = divisor(&th, &tw, oh, ow, include_pad);
                if n == 0.0 {
                    continue;
                }
                let v = gv / n;
                for ih in th.iter(oh) {
                    let row = &mut gxp[ih * g.w..(ih + 1) * g.w];
                    for iw in tw.iter(ow) {
                        row[iw] += v;
                    }
                }
            }
        }
    }
    Tensor::from_shape_vec(x.raw_dim(), gx).map_err(shape_err("AveragePool"))
}

/// (rows = N*C, spatial size) of a GlobalAveragePool input.
fn global_dims(x: &Tensor) -> Result<(usize, usize), EngineError> {
    if x.ndim() < 3 {
        return Err(EngineError::op(
            "GlobalAveragePool",
            format!(
                "input must be [N, C, spatial...], got shape {:?}",
                x.shape()
            ),
        ));
    }
    let s: usize = x.shape()[2..].iter().product();
    if s == 0 {
        return Err(EngineError::op(
            "GlobalAveragePool",
            format!(
                "input has an empty spatial dimension: shape {:?}",
                x.shape()
            ),
        ));
    }
    Ok((x.shape()[0] * x.shape()[1], s))
}

fn global_out_shape(x: &Tensor) -> Vec<usize> {
    let mut shape = x.shape().to_vec();
    shape[2..].iter_mut().for_each(|d| *d = 1);
    shape
}

pub fn global_avg_pool_forward(x: &Tensor) -> Result<Tensor, EngineError> {
    let (rows, s) = global_dims(x)?;
    let xstd = x.as_standard_layout();
    let xs = xstd.as_slice().unwrap_or(&[]);
    let inv = 1.0 / s as f32;
    let out: Vec<f32> = xs
        .chunks_exact(s)
        .take(rows)
        .map(|r| r.iter().sum::<f32>() * inv)
        .collect();
    Tensor::from_shape_vec(global_out_shape(x), out).map_err(shape_err("GlobalAveragePool"))
}

pub fn global_avg_pool_backward(x: &Tensor, grad: &Tensor) -> Result<Tensor, EngineError> {
    let (rows, s) = global_dims(x)?;
    let want = global_out_shape(x);
    if grad.shape() != &want[..] {
        return Err(EngineError::op(
            "GlobalAveragePool",
            format!(
                "output gradient has shape {:?}, expected {want:?}",
                grad.shape()
            ),
        ));
    }
    let inv = 1.0 / s as f32;
    let mut gx = vec![0.0f32; rows * s];
    for (dst, &gv) in gx.chunks_exact_mut(s).zip(grad.iter()) {
        dst.fill(gv * inv);
    }
    Tensor::from_shape_vec(x.raw_dim(), gx).map_err(shape_err("GlobalAveragePool"))
}
