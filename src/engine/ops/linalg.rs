//! Matrix products: Gemm (`Y = alpha * A' B' + beta * C`, C unidirectionally
//! broadcast to [M, N]) and MatMul (numpy `matmul`: 1-D operands are
//! promoted, leading batch dimensions broadcast).
//!
//! All heavy work goes through `ndarray::linalg::general_mat_mul` on 2-D
//! views (matrixmultiply, which has a wasm simd128 kernel); transposes are
//! strided views, never copies. Shapes are checked before every product
//! because `general_mat_mul` panics on a mismatch.

use super::super::{EngineError, Tensor};
use super::elementwise::{broadcast_shape, sum_to_shape};
use super::gemm::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, Ix2, IxDyn};

fn view2<'a>(
    name: &'static str,
    t: &'a Tensor,
    what: &str,
) -> Result<ArrayView2<'a, f32>, EngineError> {
    t.view().into_dimensionality::<Ix2>().map_err(|_| {
        EngineError::op(
            name,
            format!("{what} must be 2-D, got shape {:?}", t.shape()),
        )
    })
}

pub fn gemm_forward(
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
    inputs: &[&Tensor],
) -> Result<Tensor, EngineError> {
    let a = view2("Gemm", inputs[0], "A")?;
    let b = view2("Gemm", inputs[1], "B")?;
    let a = if trans_a { a.reversed_axes() } else { a };
    let b = if trans_b { b.reversed_axes() } else { b };
    if a.ncols() != b.nrows() {
        return Err(EngineError::op(
            "Gemm",
            format!(
                "A {:?} (transA={trans_a}) and B {:?} (transB={trans_b}) have inner dimensions {} and {}",
                inputs[0].shape(),
                inputs[1].shape(),
                a.ncols(),
                b.nrows()
            ),
        ));
    }
    let (m, n) = (a.nrows(), b.ncols());
    super::checked_len(&[m, n])?;
    let mut y = match inputs.get(2) {
        Some(c) => {
            let cb = c
                .broadcast(IxDyn(&[m, n]))
                .and_then(|v| v.into_dimensionality::<Ix2>().ok())
                .ok_or_else(|| {
                    EngineError::op(
                        "Gemm",
                        format!(
                            "C of shape {:?} does not broadcast to [{m}, {n}]",
                            c.shape()
                        ),
                    )
                })?;
            let mut y = Array2::<f32>::zeros((m, n));
            if beta != 0.0 {
                y.zip_mut_with(&cb, |dst, &src| *dst = beta * src);
            }
            y
        }
        None => Array2::zeros((m, n)),
    };
    general_mat_mul(alpha, &a, &b, 1.0, &mut y);
    Ok(y.into_dyn())
}

pub fn gemm_backward(
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
    inputs: &[&Tensor],
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let a0 = view2("Gemm", inputs[0], "A")?;
    let b0 = view2("Gemm", inputs[1], "B")?;
    let g = view2("Gemm", g, "the output gradient")?;
    let a = if trans_a { a0.t() } else { a0.view() };
    let b = if trans_b { b0.t() } else { b0.view() };
    if a.ncols() != b.nrows() || g.dim() != (a.nrows(), b.ncols()) {
        return Err(EngineError::op(
            "Gemm",
            format!(
                "A {:?}, B {:?} and output gradient {:?} do not match",
                inputs[0].shape(),
                inputs[1].shape(),
                g.shape()
            ),
        ));
    }
    // op(A) = a [M,K], op(B) = b [K,N], g [M,N]
    let mut ga = Array2::<f32>::zeros(a0.raw_dim());
    if trans_a {
        // dA = alpha * b g^T  [K,M]
        general_mat_mul(alpha, &b, &g.t(), 0.0, &mut ga);
    } else {
        // dA = alpha * g b^T  [M,K]
        general_mat_mul(alpha, &g, &b.t(), 0.0, &mut ga);
    }
    let mut gb = Array2::<f32>::zeros(b0.raw_dim());
    if trans_b {
        // dB = alpha * g^T a  [N,K]
        general_mat_mul(alpha, &g.t(), &a, 0.0, &mut gb);
    } else {
        // dB = alpha * a^T g  [K,N]
        general_mat_mul(alpha, &a.t(), &g, 0.0, &mut gb);
    }
    let mut out = vec![Some(ga.into_dyn()), Some(gb.into_dyn())];
    if let Some(c) = inputs.get(2) {
        let gc = sum_to_shape("Gemm", g.mapv(|v| v * beta).into_dyn(), c.shape())?;
        out.push(Some(gc));
    }
    Ok(out)
}

/// The shapes of a MatMul after 1-D promotion: (batch shape, n, k, m,
/// output shape without the promoted dimensions).
struct MatMulShape {
    batch: Vec<usize>,
    n: usize,
    k: usize,
    m: usize,
    a_prom: Vec<usize>,
    b_prom: Vec<usize>,
    out: Vec<usize>,
}

fn matmul_shape(a: &[usize], b: &[usize]) -> Result<MatMulShape, EngineError> {
    if a.is_empty() || b.is_empty() {
        return Err(EngineError::op(
            "MatMul",
            format!("operands must be at least 1-D, got shapes {a:?} and {b:?}"),
        ));
    }
    let a_prom: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b_prom: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (n, k) = (a_prom[a_prom.len() - 2], a_prom[a_prom.len() - 1]);
    let (k2, m) = (b_prom[b_prom.len() - 2], b_prom[b_prom.len() - 1]);
    if k != k2 {
        return Err(EngineError::op(
            "MatMul",
            format!("shapes {a:?} and {b:?} have inner dimensions {k} and {k2}"),
        ));
    }
    let batch = broadcast_shape(
        "MatMul",
        &a_prom[..a_prom.len() - 2],
        &b_prom[..b_prom.len() - 2],
    )?;
    for tail in [[n, k], [k, m], [n, m]] {
        let mut full = batch.clone();
        full.extend_from_slice(&tail);
        super::checked_len(&full)?;
    }
    let mut out = batch.clone();
    if a.len() > 1 {
        out.push(n);
    }
    if b.len() > 1 {
        out.push(m);
    }
    Ok(MatMulShape {
        batch,
        n,
        k,
        m,
        a_prom,
        b_prom,
        out,
    })
}

/// Broadcasts `t` (promoted to `prom`) to `batch + tail` and returns it as a
/// standard-layout 3-D array [batch, tail0, tail1].
fn to_batched(
    t: &Tensor,
    prom: &[usize],
    batch: &[usize],
    tail: [usize; 2],
) -> Result<ndarray::Array3<f32>, EngineError> {
    let bad = |e: ndarray::ShapeError| EngineError::op("MatMul", e.to_string());
    let std = t.as_standard_layout();
    let v = std.view().into_shape_with_order(IxDyn(prom)).map_err(bad)?;
    let mut full = batch.to_vec();
    full.extend_from_slice(&tail);
    let bv = v.broadcast(IxDyn(&full)).ok_or_else(|| {
        EngineError::op(
            "MatMul",
            format!("shape {:?} does not broadcast to {full:?}", t.shape()),
        )
    })?;
    let nb: usize = batch.iter().product();
    bv.as_standard_layout()
        .into_owned()
        .into_shape_with_order((nb, tail[0], tail[1]))
        .map_err(bad)
}

pub fn matmul_forward(a: &Tensor, b: &Tensor) -> Result<Tensor, EngineError> {
    let s = matmul_shape(a.shape(), b.shape())?;
    let bad = |e: ndarray::ShapeError| EngineError::op("MatMul", e.to_string());
    if b.ndim() == 2 && a.ndim() >= 2 && s.k > 0 {
        // [.., n, k] x [k, m]: one product over all rows.
        let rows = a.len() / s.k;
        let a_std = a.as_standard_layout();
        let a2 = a_std
            .view()
            .into_shape_with_order((rows, s.k))
            .map_err(bad)?;
        let b2 = view2("MatMul", b, "B")?;
        let mut y = Array2::<f32>::zeros((a2.nrows(), s.m));
        general_mat_mul(1.0, &a2, &b2, 0.0, &mut y);
        return y.into_shape_with_order(IxDyn(&s.out)).map_err(bad);
    }
    let a3 = to_batched(a, &s.a_prom, &s.batch, [s.n, s.k])?;
    let b3 = to_batched(b, &s.b_prom, &s.batch, [s.k, s.m])?;
    let nb = a3.len_of(Axis(0));
    let mut y = ndarray::Array3::<f32>::zeros((nb, s.n, s.m));
    for i in 0..nb {
        let mut yi = y.index_axis_mut(Axis(0), i);
        general_mat_mul(
            1.0,
            &a3.index_axis(Axis(0), i),
            &b3.index_axis(Axis(0), i),
            0.0,
            &mut yi,
        );
    }
    y.into_shape_with_order(IxDyn(&s.out)).map_err(bad)
}

pub fn matmul_backward(
    a: &Tensor,
    b: &Tensor,
    g: &Tensor,
) -> Result<(Tensor, Tensor), EngineError> {
    let s = matmul_shape(a.shape(), b.shape())?;
    let bad = |e: ndarray::ShapeError| EngineError::op("MatMul", e.to_string());
    if g.shape() != &s.out[..] {
        return Err(EngineError::op(
            "MatMul",
            format!(
                "output gradient has shape {:?}, expected {:?}",
                g.shape(),
                s.out
            ),
        ));
    }
    let g_std = g.as_standard_layout();
    if b.ndim() == 2 && a.ndim() >= 2 && s.k > 0 {
        let rows = a.len() / s.k;
        let a_std = a.as_standard_layout();
        let a2 = a_std
            .view()
            .into_shape_with_order((rows, s.k))
            .map_err(bad)?;
        let g2 = g_std
            .view()
            .into_shape_with_order((rows, s.m))
            .map_err(bad)?;
        let b2 = view2("MatMul", b, "B")?;
        let mut ga = Array2::<f32>::zeros((rows, s.k));
        general_mat_mul(1.0, &g2, &b2.t(), 0.0, &mut ga);
        let mut gb = Array2::<f32>::zeros((s.k, s.m));
        general_mat_mul(1.0, &a2.t(), &g2, 0.0, &mut gb);
        return Ok((
            ga.into_shape_with_order(a.raw_dim()).map_err(bad)?,
            gb.into_dyn(),
        ));
    }
    let a3 = to_batched(a, &s.a_prom, &s.batch, [s.n, s.k])?;
    let b3 = to_batched(b, &s.b_prom, &s.batch, [s.k, s.m])?;
    let nb = a3.len_of(Axis(0));
    let g3 = g_std
        .view()
        .into_shape_with_order((nb, s.n, s.m))
        .map_err(bad)?;
    let mut ga = ndarray::Array3::<f32>::zeros((nb, s.n, s.k));
    let mut gb = ndarray::Array3::<f32>::zeros((nb, s.k, s.m));
    for i in 0..nb {
        let gi = g3.index_axis(Axis(0), i);
        let mut gai = ga.index_axis_mut(Axis(0), i);
        general_mat_mul(1.0, &gi, &b3.index_axis(Axis(0), i).t(), 0.0, &mut gai);
        let mut gbi = gb.index_axis_mut(Axis(0), i);
        general_mat_mul(1.0, &a3.index_axis(Axis(0), i).t(), &gi, 0.0, &mut gbi);
    }
    let mut full_a = s.batch.clone();
    full_a.extend_from_slice(&[s.n, s.k]);
    let mut full_b = s.batch.clone();
    full_b.extend_from_slice(&[s.k, s.m]);
    let ga = sum_to_shape(
        "MatMul",
        ga.into_shape_with_order(IxDyn(&full_a)).map_err(bad)?,
        &s.a_prom,
    )?;
    let gb = sum_to_shape(
        "MatMul",
        gb.into_shape_with_order(IxDyn(&full_b)).map_err(bad)?,
        &s.b_prom,
    )?;
    let ga = ga
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(a.raw_dim())
        .map_err(bad)?;
    let gb = gb
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(b.raw_dim())
        .map_err(bad)?;
    Ok((ga, gb))
}
