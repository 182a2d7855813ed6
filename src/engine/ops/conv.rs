//! 2-D window geometry (shared with pooling) and Conv.
//!
//! Geometry, per spatial axis with input size `i`, kernel `k`, stride `s`,
//! dilation `d` and effective kernel `dk = (k - 1) d + 1`:
//! - `NOTSET`: explicit pads `b`, `e`; `o = floor((i + b + e - dk) / s) + 1`,
//!   or with `ceil_mode` the ceiling, dropping a last window that would start
//!   inside the end padding (onnxruntime / PyTorch rule).
//! - `VALID`: no padding, `o = floor((i - dk) / s) + 1`.
//! - `SAME_UPPER` / `SAME_LOWER`: `o = ceil(i / s)`, total padding
//!   `max(0, (o - 1) s + dk - i)`, the odd extra at the end (UPPER) or the
//!   beginning (LOWER). `ceil_mode` is ignored with auto_pad.
//!
//! Conv: X [N, C, H, W], W [M, C/group, kh, kw], optional B [M]. Forward is
//! im2col per (image, group) followed by one matrix product
//! `W_g [M/g, C/g*kh*kw] x col [C/g*kh*kw, OH*OW]`; backward recomputes the
//! column matrix, accumulates `dW_g += dY_g col^T`, and scatters
//! `W_g^T dY_g` back onto dX (col2im).

use super::super::graph::{AutoPad, Window};
use super::super::{EngineError, Tensor};
use super::gemm::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2};

/// Geometry of one 2-D windowed operator on an [N, C, H, W] input.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    /// padding at the beginning of each axis (top, left)
    pub pt: usize,
    pub pl: usize,
    /// padding at the end of each axis (bottom, right)
    pub pb: usize,
    pub pr: usize,
}

#[allow(clippy::too_many_arguments)]
fn axis_geometry(
    name: &'static str,
    what: &str,
    i: usize,
    k: usize,
    s: usize,
    d: usize,
    pad: (usize, usize),
    auto_pad: AutoPad,
    ceil_mode: bool,
) -> Result<(usize, usize, usize), EngineError> {
    if k == 0 || s == 0 || d == 0 {
        return Err(EngineError::op(
            name,
            format!("{what}: kernel {k}, stride {s} and dilation {d} must all be positive"),
        ));
    }
    // Bounding every attribute keeps all index arithmetic below 2^31, so it
    // cannot overflow even with a 32-bit usize (wasm32).
    let limit = super::MAX_ELEMENTS;
    if [k, s, d, pad.0, pad.1].iter().any(|&v| v > limit) {
        return Err(EngineError::op(
            name,
            format!("{what}: kernel {k}, stride {s}, dilation {d} or pads {pad:?} exceed {limit}"),
        ));
    }
    let dk = (k - 1)
        .checked_mul(d)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(|| {
            EngineError::op(name, format!("{what}: kernel {k} x dilation {d} overflows"))
        })?;
    let too_small = |padded: usize| {
        EngineError::op(
            name,
            format!(
                "{what}: input size {i} (padded {padded}) is smaller than the dilated kernel {dk}"
            ),
        )
    };
    match auto_pad {
        AutoPad::NotSet => {
            let padded = i
                .checked_add(pad.0)
                .and_then(|v| v.checked_add(pad.1))
                .ok_or_else(|| EngineError::op(name, format!("{what}: pads {pad:?} overflow")))?;
            if padded < dk {
                return Err(too_small(padded));
            }
            let num = padded - dk;
            let mut o = if ceil_mode {
                num.div_ceil(s) + 1
            } else {
                num / s + 1
            };
            if ceil_mode && o > 1 && (o - 1) * s >= i + pad.0 {
                o -= 1;
            }
            Ok((o, pad.0, pad.1))
        }
        AutoPad::Valid => {
            if i < dk {
                return Err(too_small(i));
            }
            Ok(((i - dk) / s + 1, 0, 0))
        }
        AutoPad::SameUpper | AutoPad::SameLower => {
            let o = i.div_ceil(s);
            let total = ((o.max(1) - 1) * s + dk).saturating_sub(i);
            let begin = if auto_pad == AutoPad::SameUpper {
                total / 2
            } else {
                total - total / 2
            };
            Ok((o, begin, total - begin))
        }
    }
}

/// Validates an [N, C, H, W] input against a window and computes the output
/// size and effective pads.
pub fn geometry(
    name: &'static str,
    window: &Window,
    shape: &[usize],
) -> Result<Geometry, EngineError> {
    if shape.len() != 4 {
        return Err(EngineError::op(
            name,
            format!("input must be 4-D [N, C, H, W], got shape {shape:?}"),
        ));
    }
    if shape[2] == 0 || shape[3] == 0 {
        return Err(EngineError::op(
            name,
            format!("input has an empty spatial dimension: shape {shape:?}"),
        ));
    }
    let [kh, kw] = window.kernel;
    let [sh, sw] = window.strides;
    let [dh, dw] = window.dilations;
    let [pt, pl, pb, pr] = window.pads;
    let (oh, pt, pb) = axis_geometry(
        name,
        "height",
        shape[2],
        kh,
        sh,
        dh,
        (pt, pb),
        window.auto_pad,
        window.ceil_mode,
    )?;
    let (ow, pl, pr) = axis_geometry(
        name,
        "width",
        shape[3],
        kw,
        sw,
        dw,
        (pl, pr),
        window.auto_pad,
        window.ceil_mode,
    )?;
    super::checked_len(&[shape[0], shape[1], oh, ow])?;
    Ok(Geometry {
        n: shape[0],
        c: shape[1],
        h: shape[2],
        w: shape[3],
        oh,
        ow,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        pb,
        pr,
    })
}

/// For a kernel offset `off` (= kj * dw), the range of output positions
/// `o` whose input position `o * s + off - pad` lies in `[0, size)`.
fn valid_range(out: usize, s: usize, off: usize, pad: usize, size: usize) -> (usize, usize) {
    // o * s + off >= pad
    let lo = if off >= pad {
        0
    } else {
        (pad - off).div_ceil(s)
    };
    // o * s + off < size + pad
    let hi = if size + pad <= off {
        0
    } else {
        (size + pad - off).div_ceil(s)
    };
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// Fills `col` [cg*kh*kw, oh*ow] from one image's `cg` channels `x`
/// [cg, h, w].
fn im2col(x: &[f32], cg: usize, g: &Geometry, col: &mut [f32]) {
    let (ohw, hw) = (g.oh * g.ow, g.h * g.w);
    for c in 0..cg {
        let xc = &x[c * hw..(c + 1) * hw];
        for ki in 0..g.kh {
            let (h_lo, h_hi) = valid_range(g.oh, g.sh, ki * g.dh, g.pt, g.h);
            for kj in 0..g.kw {
                let (w_lo, w_hi) = valid_range(g.ow, g.sw, kj * g.dw, g.pl, g.w);
                let row = ((c * g.kh + ki) * g.kw + kj) * ohw;
                let dst_rows = &mut col[row..row + ohw];
                for (oh, dst) in dst_rows.chunks_exact_mut(g.ow).enumerate() {
                    if oh < h_lo || oh >= h_hi {
                        dst.fill(0.0);
                        continue;
                    }
                    let ih = oh * g.sh + ki * g.dh - g.pt;
                    let src = &xc[ih * g.w..(ih + 1) * g.w];
                    dst[..w_lo].fill(0.0);
                    dst[w_hi..].fill(0.0);
                    // iw = ow * sw + kj * dw - pl
                    let start = w_lo * g.sw + kj * g.dw - g.pl;
                    if g.sw == 1 {
                        dst[w_lo..w_hi].copy_from_slice(&src[start..start + (w_hi - w_lo)]);
                    } else {
                        for (t, d) in dst[w_lo..w_hi].iter_mut().enumerate() {
                            *d = src[start + t * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// Adds `col` [cg*kh*kw, oh*ow] back onto one image's channels `x`
/// [cg, h, w] (the adjoint of [`im2col`]).
fn col2im(col: &[f32], cg: usize, g: &Geometry, x: &mut [f32]) {
    let (ohw, hw) = (g.oh * g.ow, g.h * g.w);
    for c in 0..cg {
        let xc = &mut x[c * hw..(c + 1) * hw];
        for ki in 0..g.kh {
            let (h_lo, h_hi) = valid_range(g.oh, g.sh, ki * g.dh, g.pt, g.h);
            for kj in 0..g.kw {
                let (w_lo, w_hi) = valid_range(g.ow, g.sw, kj * g.dw, g.pl, g.w);
                let row = ((c * g.kh + ki) * g.kw + kj) * ohw;
                for oh in h_lo..h_hi {
                    let ih = oh * g.sh + ki * g.dh - g.pt;
                    let src = &col[row + oh * g.ow..row + (oh + 1) * g.ow];
                    let dst = &mut xc[ih * g.w..(ih + 1) * g.w];
                    let start = w_lo * g.sw + kj * g.dw - g.pl;
                    for (t, &v) in src[w_lo..w_hi].iter().enumerate() {
                        dst[start + t * g.sw] += v;
                    }
                }
            }
        }
    }
}

/// Validated Conv shapes.
struct ConvShape {
    geo: Geometry,
    m: usize,
    cg: usize,
    mg: usize,
    group: usize,
    kdim: usize,
}

fn conv_shape(window: &Window, group: usize, inputs: &[&Tensor]) -> Result<ConvShape, EngineError> {
    let (x, w) = (inputs[0], inputs[1]);
    let geo = geometry("Conv", window, x.shape())?;
    if w.ndim() != 4 {
        return Err(EngineError::op(
            "Conv",
            format!(
                "weight must be 4-D [M, C/group, kh, kw], got shape {:?}",
                w.shape()
            ),
        ));
    }
    let ws = w.shape();
    if group == 0 || geo.c % group != 0 || ws[0] % group != 0 {
        return Err(EngineError::op(
            "Conv",
            format!(
                "group {group} must divide the input channels {} and output channels {}",
                geo.c, ws[0]
            ),
        ));
    }
    let cg = geo.c / group;
    if ws[1] != cg || ws[2] != geo.kh || ws[3] != geo.kw {
        return Err(EngineError::op(
            "Conv",
            format!(
                "weight shape {ws:?} does not match input shape {:?} with group {group} and kernel {:?}",
                x.shape(),
                window.kernel
            ),
        ));
    }
    let m = ws[0];
    super::checked_len(&[geo.n, m, geo.oh, geo.ow])?;
    super::checked_len(&[cg, geo.kh, geo.kw, geo.oh, geo.ow])?;
    if let Some(b) = inputs.get(2) {
        if b.ndim() != 1 || b.len() != m {
            return Err(EngineError::op(
                "Conv",
                format!("bias has shape {:?}, expected [{m}]", b.shape()),
            ));
        }
    }
    Ok(ConvShape {
        geo,
        m,
        cg,
        mg: m / group,
        group,
        kdim: cg * geo.kh * geo.kw,
    })
}

fn shape_err(e: ndarray::ShapeError) -> EngineError {
    EngineError::op("Conv", e.to_string())
}

pub fn conv_forward(
    window: &Window,
    group: usize,
    inputs: &[&Tensor],
) -> Result<Tensor, EngineError> {
    let cs = conv_shape(window, group, inputs)?;
    let g = cs.geo;
    let x = inputs[0].as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let w = inputs[1].as_standard_layout();
    let w2 =
        ArrayView2::from_shape((cs.m, cs.kdim), w.as_slice().unwrap_or(&[])).map_err(shape_err)?;
    let ohw = g.oh * g.ow;
    let chw = g.c * g.h * g.w;
    let mut out = vec![0.0f32; g.n * cs.m * ohw];
    let mut col = vec![0.0f32; cs.kdim * ohw];
    for n in 0..g.n {
        for gi in 0..cs.group {
            let xg = &xs[n * chw + gi * cs.cg * g.h * g.w..][..cs.cg * g.h * g.w];
            im2col(xg, cs.cg, &g, &mut col);
            let colv = ArrayView2::from_shape((cs.kdim, ohw), &col[..]).map_err(shape_err)?;
            let o0 = (n * cs.m + gi * cs.mg) * ohw;
            let mut outv = ArrayViewMut2::from_shape((cs.mg, ohw), &mut out[o0..o0 + cs.mg * ohw])
                .map_err(shape_err)?;
            let wg = w2.slice(s![gi * cs.mg..(gi + 1) * cs.mg, ..]);
            general_mat_mul(1.0, &wg, &colv, 0.0, &mut outv);
        }
        if let Some(b) = inputs.get(2) {
            for (mi, &bv) in b.iter().enumerate() {
                let o0 = (n * cs.m + mi) * ohw;
                out[o0..o0 + ohw].iter_mut().for_each(|v| *v += bv);
            }
        }
    }
    Tensor::from_shape_vec(vec![g.n, cs.m, g.oh, g.ow], out).map_err(shape_err)
}

pub fn conv_backward(
    window: &Window,
    group: usize,
    inputs: &[&Tensor],
    grad: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let cs = conv_shape(window, group, inputs)?;
    let g = cs.geo;
    if grad.shape() != [g.n, cs.m, g.oh, g.ow] {
        return Err(EngineError::op(
            "Conv",
            format!(
                "output gradient has shape {:?}, expected {:?}",
                grad.shape(),
                [g.n, cs.m, g.oh, g.ow]
            ),
        ));
    }
    let x = inputs[0].as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    let w = inputs[1].as_standard_layout();
    let w2 =
        ArrayView2::from_shape((cs.m, cs.kdim), w.as_slice().unwrap_or(&[])).map_err(shape_err)?;
    let gy = grad.as_standard_layout();
    let gys = gy.as_slice().unwrap_or(&[]);
    let ohw = g.oh * g.ow;
    let chw = g.c * g.h * g.w;
    let ghw = cs.cg * g.h * g.w;
    let mut gx = vec![0.0f32; xs.len()];
    let mut gw = vec![0.0f32; cs.m * cs.kdim];
    let mut col = vec![0.0f32; cs.kdim * ohw];
    let mut dcol = vec![0.0f32; cs.kdim * ohw];
    for n in 0..g.n {
        for gi in 0..cs.group {
            let x0 = n * chw + gi * ghw;
            im2col(&xs[x0..x0 + ghw], cs.cg, &g, &mut col);
            let colv = ArrayView2::from_shape((cs.kdim, ohw), &col[..]).map_err(shape_err)?;
            let o0 = (n * cs.m + gi * cs.mg) * ohw;
            let gyv = ArrayView2::from_shape((cs.mg, ohw), &gys[o0..o0 + cs.mg * ohw])
                .map_err(shape_err)?;
            let w0 = gi * cs.mg * cs.kdim;
            let mut gwv =
                ArrayViewMut2::from_shape((cs.mg, cs.kdim), &mut gw[w0..w0 + cs.mg * cs.kdim])
                    .map_err(shape_err)?;
            general_mat_mul(1.0, &gyv, &colv.t(), 1.0, &mut gwv);
            let wg = w2.slice(s![gi * cs.mg..(gi + 1) * cs.mg, ..]);
            let mut dcolv =
                ArrayViewMut2::from_shape((cs.kdim, ohw), &mut dcol[..]).map_err(shape_err)?;
            general_mat_mul(1.0, &wg.t(), &gyv, 0.0, &mut dcolv);
            col2im(&dcol, cs.cg, &g, &mut gx[x0..x0 + ghw]);
        }
    }
    let mut out = vec![
        Some(Tensor::from_shape_vec(inputs[0].raw_dim(), gx).map_err(shape_err)?),
        Some(Tensor::from_shape_vec(inputs[1].raw_dim(), gw).map_err(shape_err)?),
    ];
    if inputs.len() > 2 {
        let mut gb = vec![0.0f32; cs.m];
        for (i, plane) in gys.chunks_exact(ohw.max(1)).enumerate().take(g.n * cs.m) {
            gb[i % cs.m] += plane.iter().sum::<f32>();
        }
        out.push(Some(
            Tensor::from_shape_vec(vec![cs.m], gb).map_err(shape_err)?,
        ));
    }
    Ok(out)
}
