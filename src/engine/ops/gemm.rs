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
    // B row-major and contiguous: rows of C are built from whole B rows
    let b = b.as_standard_layout();
    let bs = b.as_slice().expect("standard layout");
    // A copied to row-major too: the kernel reads 4 of its rows at a time
    let a = a.as_standard_layout();
    let az = a.as_slice().expect("standard layout");
    let mut acc = vec![0f32; 4 * n];
    let mut i = 0;
    while i < m {
        let rows = (m - i).min(4);
        acc.iter_mut().for_each(|v| *v = 0.0);
        kernel(&az[i * k..(i + rows) * k], rows, k, bs, n, &mut acc);
        for r in 0..rows {
            let src = &acc[r * n..(r + 1) * n];
            let mut ci = c.row_mut(i + r);
            if alpha == 1.0 {
                for (cv, &v) in ci.iter_mut().zip(src) {
                    *cv += v;
                }
            } else {
                for (cv, &v) in ci.iter_mut().zip(src) {
                    *cv += alpha * v;
                }
            }
        }
        i += rows;
    }
}

/// `acc[r][j] = sum_k a[r][k] * b[k][j]` for `rows` (<= 4) rows of A, k
/// ascending, one rounded multiply and one rounded add per term. On x86_64
/// with AVX the same code runs 8 lanes wide (AVX without FMA: the same
/// IEEE operations, so the same bits as SSE and wasm simd128).
fn kernel(a: &[f32], rows: usize, k: usize, b: &[f32], n: usize, acc: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above); the function
            // only does safe slice arithmetic.
            unsafe { kernel_avx(a, rows, k, b, n, acc) };
            return;
        }
    }
    kernel_portable(a, rows, k, b, n, acc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn kernel_avx(a: &[f32], rows: usize, k: usize, b: &[f32], n: usize, acc: &mut [f32]) {
    kernel_portable(a, rows, k, b, n, acc);
}

#[inline(always)]
fn kernel_portable(a: &[f32], rows: usize, k: usize, b: &[f32], n: usize, acc: &mut [f32]) {
    if rows == 4 {
        let (acc0, rest) = acc.split_at_mut(n);
        let (acc1, rest) = rest.split_at_mut(n);
        let (acc2, acc3) = rest.split_at_mut(n);
        let acc3 = &mut acc3[..n];
        for kk in 0..k {
            let br = &b[kk * n..(kk + 1) * n];
            let (s0, s1, s2, s3) = (a[kk], a[k + kk], a[2 * k + kk], a[3 * k + kk]);
            for j in 0..n {
                let t = br[j];
                acc0[j] += s0 * t;
                acc1[j] += s1 * t;
                acc2[j] += s2 * t;
                acc3[j] += s3 * t;
            }
        }
    } else {
        for r in 0..rows {
            let out = &mut acc[r * n..(r + 1) * n];
            for kk in 0..k {
                let s = a[r * k + kk];
                let br = &b[kk * n..(kk + 1) * n];
                for (o, &t) in out.iter_mut().zip(br) {
                    *o += s * t;
                }
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
        // a row computed in a block of 4 equals the same row computed alone
        let mut whole = Array2::zeros((7, 9));
        general_mat_mul(1.0, &a, &b, 0.0, &mut whole);
        for i in 0..7 {
            let mut one = Array2::zeros((1, 9));
            general_mat_mul(1.0, &a.slice(ndarray::s![i..i + 1, ..]), &b, 0.0, &mut one);
            assert_eq!(one.row(0), whole.row(i));
        }
        // beta = 0 ignores NaN in C
        let mut c = Array2::from_elem((7, 9), f32::NAN);
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        assert!(c.iter().all(|v| v.is_finite()));
    }
}
