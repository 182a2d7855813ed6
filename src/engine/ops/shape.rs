//! Shape operators: Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat
//! and Identity. None of them changes values; their backward passes reshape,
//! inverse-permute or split the output gradient.
//!
//! ONNX rules: Flatten's axis is in `[-r, r]`; Reshape's 0 copies the input
//! dimension at the same index (unless `allowzero`) and at most one -1 is
//! inferred; Squeeze axes must name dimensions of size 1; Unsqueeze axes are
//! relative to the output rank (negative allowed, no duplicates); Concat
//! needs equal ranks and equal sizes off the concatenation axis.

use super::super::{EngineError, Tensor};
use ndarray::{Axis, IxDyn, Slice};

/// Copies `t` to standard layout and gives it `shape` (same element count).
pub fn reshape_to(name: &'static str, t: &Tensor, shape: &[usize]) -> Result<Tensor, EngineError> {
    let n = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if n != Some(t.len()) {
        return Err(EngineError::op(
            name,
            format!(
                "cannot reshape {} elements of shape {:?} to {shape:?}",
                t.len(),
                t.shape()
            ),
        ));
    }
    t.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(shape))
        .map_err(|e| EngineError::op(name, e.to_string()))
}

fn norm_axis(
    name: &'static str,
    axis: i64,
    rank: usize,
    inclusive: bool,
) -> Result<usize, EngineError> {
    let r = rank as i64;
    let hi = if inclusive { r } else { r - 1 };
    if axis < -r || axis > hi {
        return Err(EngineError::op(
            name,
            format!("axis {axis} is out of range for rank {rank}"),
        ));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

pub fn flatten(x: &Tensor, axis: i64) -> Result<Tensor, EngineError> {
    let ax = norm_axis("Flatten", axis, x.ndim(), true)?;
    let rows: usize = x.shape()[..ax].iter().product();
    let cols: usize = x.shape()[ax..].iter().product();
    reshape_to("Flatten", x, &[rows, cols])
}

/// The output shape of Reshape.
pub fn reshape_shape(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, EngineError> {
    let bad = |msg: String| EngineError::op("Reshape", msg);
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 => {
                if infer.is_some() {
                    return Err(bad(format!("target shape {target:?} has more than one -1")));
                }
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => match input.get(i) {
                Some(&v) => out.push(v),
                None => {
                    return Err(bad(format!(
                        "target shape {target:?} copies dimension {i} with 0, but the input shape {input:?} has rank {}",
                        input.len()
                    )))
                }
            },
            d if d >= 0 => out.push(usize::try_from(d).unwrap_or(usize::MAX)),
            _ => return Err(bad(format!("target shape {target:?} has a negative dimension {d}"))),
        }
    }
    let total: usize = input.iter().product();
    if let Some(i) = infer {
        let known = out
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .unwrap_or(0);
        if known == 0 || total % known != 0 {
            return Err(bad(format!(
                "cannot infer the -1 in target shape {target:?} for input shape {input:?}"
            )));
        }
        out[i] = total / known;
    }
    if out.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) != Some(total) {
        return Err(bad(format!(
            "cannot reshape input shape {input:?} ({total} elements) to {target:?}"
        )));
    }
    Ok(out)
}

pub fn reshape_forward(x: &Tensor, shape: &[i64], allowzero: bool) -> Result<Tensor, EngineError> {
    let out = reshape_shape(x.shape(), shape, allowzero)?;
    reshape_to("Reshape", x, &out)
}

fn perm_of(rank: usize, perm: Option<&[usize]>) -> Result<Vec<usize>, EngineError> {
    match perm {
        None => Ok((0..rank).rev().collect()),
        Some(p) => {
            let mut seen = vec![false; rank];
            let ok = p.len() == rank
                && p.iter()
                    .all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
            if ok {
                Ok(p.to_vec())
            } else {
                Err(EngineError::op(
                    "Transpose",
                    format!("perm {p:?} is not a permutation of the {rank} axes"),
                ))
            }
        }
    }
}

pub fn transpose_forward(x: &Tensor, perm: Option<&[usize]>) -> Result<Tensor, EngineError> {
    let p = perm_of(x.ndim(), perm)?;
    Ok(x.view()
        .permuted_axes(IxDyn(&p))
        .as_standard_layout()
        .into_owned())
}

pub fn transpose_backward(
    x: &Tensor,
    perm: Option<&[usize]>,
    g: &Tensor,
) -> Result<Tensor, EngineError> {
    let p = perm_of(x.ndim(), perm)?;
    if g.ndim() != p.len() {
        return Err(EngineError::op(
            "Transpose",
            format!(
                "output gradient has shape {:?} for input shape {:?}",
                g.shape(),
                x.shape()
            ),
        ));
    }
    let mut inv = vec![0; p.len()];
    for (i, &a) in p.iter().enumerate() {
        inv[a] = i;
    }
    Ok(g.view()
        .permuted_axes(IxDyn(&inv))
        .as_standard_layout()
        .into_owned())
}

pub fn squeeze_forward(x: &Tensor, axes: Option<&[i64]>) -> Result<Tensor, EngineError> {
    let shape = x.shape();
    let out: Vec<usize> = match axes {
        None => shape.iter().copied().filter(|&d| d != 1).collect(),
        Some(axes) => {
            let mut drop = vec![false; shape.len()];
            for &a in axes {
                let ax = norm_axis("Squeeze", a, shape.len(), false)?;
                if shape[ax] != 1 {
                    return Err(EngineError::op(
                        "Squeeze",
                        format!("axis {a} of shape {shape:?} has size {}, not 1", shape[ax]),
                    ));
                }
                drop[ax] = true;
            }
            shape
                .iter()
                .zip(&drop)
                .filter(|(_, &d)| !d)
                .map(|(&s, _)| s)
                .collect()
        }
    };
    reshape_to("Squeeze", x, &out)
}

pub fn unsqueeze_forward(x: &Tensor, axes: &[i64]) -> Result<Tensor, EngineError> {
    let rank = x.ndim() + axes.len();
    let mut insert = vec![false; rank];
    for &a in axes {
        let ax = norm_axis("Unsqueeze", a, rank, false)?;
        if std::mem::replace(&mut insert[ax], true) {
            return Err(EngineError::op(
                "Unsqueeze",
                format!("axes {axes:?} name axis {ax} twice"),
            ));
        }
    }
    let mut src = x.shape().iter();
    let out: Vec<usize> = insert
        .iter()
        .map(|&ins| {
            if ins {
                1
            } else {
                src.next().copied().unwrap_or(1)
            }
        })
        .collect();
    reshape_to("Unsqueeze", x, &out)
}

fn concat_axis(inputs: &[&Tensor], axis: i64) -> Result<usize, EngineError> {
    let first = inputs[0];
    let ax = norm_axis("Concat", axis, first.ndim(), false)?;
    for t in &inputs[1..] {
        let same = t.ndim() == first.ndim()
            && t.shape()
                .iter()
                .zip(first.shape())
                .enumerate()
                .all(|(i, (a, b))| i == ax || a == b);
        if !same {
            return Err(EngineError::op(
                "Concat",
                format!(
                    "shapes {:?} and {:?} differ off axis {axis}",
                    first.shape(),
                    t.shape()
                ),
            ));
        }
    }
    Ok(ax)
}

pub fn concat_forward(inputs: &[&Tensor], axis: i64) -> Result<Tensor, EngineError> {
    let ax = concat_axis(inputs, axis)?;
    let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
    ndarray::concatenate(Axis(ax), &views)
        .map(|t| t.as_standard_layout().into_owned())
        .map_err(|e| EngineError::op("Concat", e.to_string()))
}

pub fn concat_backward(
    inputs: &[&Tensor],
    axis: i64,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let ax = concat_axis(inputs, axis)?;
    let total: usize = inputs.iter().map(|t| t.shape()[ax]).sum();
    if g.ndim() != inputs[0].ndim() || g.shape()[ax] != total {
        return Err(EngineError::op(
            "Concat",
            format!(
                "output gradient has shape {:?}, expected {total} along axis {ax}",
                g.shape()
            ),
        ));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(inputs.len());
    for t in inputs {
        let len = t.shape()[ax];
        let part = g.slice_axis(Axis(ax), Slice::from(start..start + len));
        out.push(Some(part.as_standard_layout().into_owned()));
        start += len;
    }
    Ok(out)
}
