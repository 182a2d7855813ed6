//! The engine's one matrix product, `C = alpha A B + beta C`, written so
//! that native and WebAssembly builds give the same bits.
//!
//! Why not ndarray's `general_mat_mul` (matrixmultiply)? Natively it picks an
//! AVX2 + FMA kernel at run time and in wasm a simd128 kernel without FMA:
//! the rounding of every product differs, reference-model training carries
//! that through thousands of steps, and the page's figures drifted from the
//! CLI's by up to 1e-3. Here every element of C is summed in the same order
//! (k ascending, one separately rounded multiply and add per term, never
//! fused: Rust does not contract `a * b + c`), whatever the target, and the
//! compiler vectorises only across j, which does not change any sum.
//!
//! Contract (as ndarray's): `a` is [m, k], `b` is [k, n], `c` is [m, n], any
//! strides; `beta == 0` overwrites C (NaN in C does not propagate).
//! Shapes that do not fit panic, as ndarray's does; callers check them.

use ndarray::{ArrayBase, Data, DataMut, Ix2};

/// `c = alpha * a . b + beta * c` with a fixed summation order.
pub fn general_mat_mul<S1, S2, S3>(
    alpha: f32,
    a: &ArrayBase<S1, Ix2>,
    b: &ArrayBase<S2, Ix2>,
    beta: f32,
    c: &mut ArrayBase<S3, Ix2>,
) where
    S1: Data<Elem = f32>,
    S2: Data<Elem = f32>,
    S3: DataMut<Elem = f32>,
{
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm shapes: a {:?}, b {:?}, c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.mapv_inplace(|v| beta * v);
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // B row-major and contiguous: each C row is updated with whole B rows
    let b = b.as_standard_layout();
    let bs = b.as_slice().expect("standard layout");
    let mut row = vec![0f32; n];
    for i in 0..m {
        row.iter_mut().for_each(|v| *v = 0.0);
        for kk in 0..k {
            let s = a[[i, kk]];
            let br = &bs[kk * n..(kk + 1) * n];
            for (r, &bv) in row.iter_mut().zip(br) {
                *r += s * bv;
            }
        }
        let mut ci = c.row_mut(i);
        if alpha == 1.0 {
            for (cv, &r) in ci.iter_mut().zip(&row) {
                *cv += r;
            }
        } else {
            for (cv, &r) in ci.iter_mut().zip(&row) {
                *cv += alpha * r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn reference(
        alpha: f32,
        a: &Array2<f32>,
        b: &Array2<f32>,
        beta: f32,
        c: &Array2<f32>,
    ) -> Array2<f32> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| {
            let mut s = 0f64;
            for kk in 0..k {
                s += a[[i, kk]] as f64 * b[[kk, j]] as f64;
            }
            (alpha as f64 * s + beta as f64 * c[[i, j]] as f64) as f32
        })
    }

    #[test]
    fn agrees_with_a_double_precision_product_for_every_layout() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f32 * 0.37).sin());
        let b = Array2::from_shape_fn((5, 9), |(i, j)| ((i * 9 + j) as f32 * 0.11).cos());
        let c0 = Array2::from_shape_fn((7, 9), |(i, j)| (i + j) as f32 * 0.01);
        for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
            let want = reference(alpha, &a, &b, beta, &c0);
            let mut c = c0.clone();
            general_mat_mul(alpha, &a, &b, beta, &mut c);
            for (g, w) in c.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
            }
            // transposed views of the same data give the same bits
            let at = a.t().to_owned();
            let bt = b.t().to_owned();
            let mut c2 = c0.clone();
            general_mat_mul(alpha, &at.t(), &bt.t(), beta, &mut c2);
            assert_eq!(c, c2);
        }
        // beta = 0 ignores NaN in C
        let mut c = Array2::from_elem((7, 9), f32::NAN);
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        assert!(c.iter().all(|v| v.is_finite()));
    }
}
