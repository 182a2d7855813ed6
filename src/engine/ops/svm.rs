//! ai.onnx.ml `SVMClassifier` and `SVMRegressor`: forward as onnxruntime
//! computes it (`svmclassifier.cc`, `svmregressor.cc`, `ml_common.h`) and the
//! gradient with respect to the input.
//!
//! Kernels, with `kernel_params = [gamma, coef0, degree]` and support vector
//! `s`: LINEAR `x.s`, POLY `(gamma x.s + coef0)^degree`, RBF
//! `exp(-gamma |x - s|^2)`, SIGMOID `tanh(gamma x.s + coef0)`.
//!
//! Classifier with `V > 0` support vectors (`vectors_per_class` over `K`
//! classes, coefficients `[K-1, V]`, one `rho` per class pair, pairs `(i, j)`
//! with `i < j` in row-major order): the pair score is
//! `f_ij = sum_{v in i} coef[j-1][v] k_v + sum_{v in j} coef[i][v] k_v + rho_ij`.
//! - without `prob_a`: `K > 2` gives the `K(K-1)/2` pair scores, then the
//!   post transform over them; `K = 2` gives `[-f, f]` (post NONE) or
//!   `[1 - f, f]` (any other post transform, untransformed, as onnxruntime
//!   does);
//! - with `prob_a`/`prob_b` (Platt): `r_ij = clamp(1 - logistic(A f_ij + B),
//!   1e-7, 1 - 1e-7)`, `r_ji = 1 - r_ij`, then libsvm's pairwise coupling
//!   (Wu, Lin and Weng 2004, method 2) iterated exactly as onnxruntime does
//!   (at most 100 sweeps, stop when `max |Qp - pQp| < 0.005 / K`), giving `K`
//!   probabilities, then the post transform.
//!
//! Classifier without support vectors (the liblinear form): `K` scores
//! `x . coef[c] + rho[0]`, then the post transform (`K >= 2`).
//!
//! Regressor: `sum_v coef[v] k_v + rho[0]` (or `x . coef + rho[0]` without
//! support vectors), one column; onnxruntime ignores `post_transform` here.
//!
//! The forward pass computes the kernels of 256 records at a time with one
//! matrix product (`|x|^2 + |s|^2 - 2 x.s` for RBF); the pair sums are
//! accumulated in f64 as onnxruntime does.
//!
//! Backward: the input gradient through kernels, pair scores, Platt
//! sigmoids (zero where clamped) and the post transforms NONE, LOGISTIC and
//! SOFTMAX. The coupling is differentiated implicitly at its optimum
//! (`Q p = lambda 1`, `sum p = 1`): the gradient is that of the exact
//! coupling, which the iterated forward matches to its stopping tolerance.

use super::super::{EngineError, Tensor};
use super::ml_post::{apply_row, logistic, PostTransform};
use crate::engine::math::PortableMath;
use ndarray::{Array2, ArrayView1, IxDyn};

/// SVM kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    Linear,
    Poly { gamma: f32, coef0: f32, degree: f32 },
    Rbf { gamma: f32 },
    Sigmoid { gamma: f32, coef0: f32 },
}

/// Classifier or regressor, with their specific data.
#[derive(Debug, Clone, PartialEq)]
pub enum SvmKind {
    /// `vectors_per_class` empty means the liblinear form (no support
    /// vectors, coefficients `[classes, features]`).
    Classifier {
        classes: usize,
        vectors_per_class: Vec<usize>,
        /// Platt parameters, one per class pair (empty: no probabilities).
        prob_a: Vec<f32>,
        prob_b: Vec<f32>,
    },
    Regressor,
}

/// A validated SVM (built by the ONNX importer; every length is checked
/// there and again by [`Svm::validate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Svm {
    pub kind: SvmKind,
    pub kernel: Kernel,
    /// Input features.
    pub features: usize,
    /// `[V, features]` (V = 0 for the linear form).
    pub support_vectors: Array2<f32>,
    pub coefficients: Vec<f32>,
    pub rho: Vec<f32>,
    pub post: PostTransform,
}

/// Records per kernel matrix product in the forward pass.
const KERNEL_CHUNK: usize = 256;

fn err(m: String) -> EngineError {
    EngineError::op("SVM", m)
}

impl Svm {
    fn vectors(&self) -> usize {
        self.support_vectors.nrows()
    }

    /// Checks every length against the others (the importer's checks, kept
    /// here so a hand-built op cannot index out of bounds).
    pub fn validate(&self) -> Result<(), String> {
        let v = self.vectors();
        if self.support_vectors.ncols() != self.features && v > 0 {
            return Err(format!(
                "support vectors have {} features, expected {}",
                self.support_vectors.ncols(),
                self.features
            ));
        }
        if self.rho.is_empty() {
            return Err("rho is empty".into());
        }
        match &self.kind {
            SvmKind::Regressor => {
                let want = if v > 0 { v } else { self.features };
                if self.coefficients.len() != want {
                    return Err(format!(
                        "{} coefficients, expected {want}",
                        self.coefficients.len()
                    ));
                }
            }
            SvmKind::Classifier {
                classes,
                vectors_per_class,
                prob_a,
                prob_b,
            } => {
                let k = *classes;
                if k == 0 {
                    return Err("no class labels".into());
                }
                if vectors_per_class.is_empty() {
                    if self.coefficients.len() != k * self.features {
                        return Err(format!(
                            "{} coefficients for {k} classes of {} features",
                            self.coefficients.len(),
                            self.features
                        ));
                    }
                } else {
                    let pairs = k * (k - 1) / 2;
                    if k < 2 || vectors_per_class.len() != k {
                        return Err(format!(
                            "vectors_per_class has {} entries for {k} classes",
                            vectors_per_class.len()
                        ));
                    }
                    if vectors_per_class.iter().sum::<usize>() != v {
                        return Err(format!(
                            "vectors_per_class sums to {}, there are {v} support vectors",
                            vectors_per_class.iter().sum::<usize>()
                        ));
                    }
                    if self.coefficients.len() != (k - 1) * v {
                        return Err(format!(
                            "{} coefficients, expected (classes - 1) x vectors = {}",
                            self.coefficients.len(),
                            (k - 1) * v
                        ));
                    }
                    if self.rho.len() != pairs {
                        return Err(format!(
                            "{} rho values, expected one per class pair = {pairs}",
                            self.rho.len()
                        ));
                    }
                    if prob_a.len() != prob_b.len() || (!prob_a.is_empty() && prob_a.len() != pairs)
                    {
                        return Err(format!(
                            "prob_a has {} and prob_b {} values, expected 0 or {pairs} each",
                            prob_a.len(),
                            prob_b.len()
                        ));
                    }
                    if k == 2 && prob_a.is_empty() && self.post == PostTransform::Probit {
                        return Err(
                            "PROBIT on a binary SVM without probabilities is not supported".into(),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of output columns.
    pub fn output_width(&self) -> usize {
        match &self.kind {
            SvmKind::Regressor => 1,
            SvmKind::Classifier {
                classes,
                vectors_per_class,
                prob_a,
                ..
            } => {
                let k = *classes;
                if vectors_per_class.is_empty() || !prob_a.is_empty() {
                    k
                } else if k > 2 {
                    k * (k - 1) / 2
                } else {
                    2
                }
            }
        }
    }

    /// Whether the output holds class probabilities: Platt probabilities
    /// (post NONE or a softmax), or a softmax over the liblinear form's
    /// class scores.
    pub fn outputs_probabilities(&self) -> bool {
        match &self.kind {
            SvmKind::Regressor => false,
            SvmKind::Classifier {
                classes,
                vectors_per_class,
                prob_a,
                ..
            } => {
                let soft = matches!(
                    self.post,
                    PostTransform::Softmax | PostTransform::SoftmaxZero
                );
                if !vectors_per_class.is_empty() && !prob_a.is_empty() {
                    soft || self.post == PostTransform::None
                } else {
                    vectors_per_class.is_empty() && *classes >= 2 && soft
                }
            }
        }
    }

    fn dot_arg(&self, x: ArrayView1<f32>, s: ArrayView1<f32>) -> f32 {
        match self.kernel {
            Kernel::Rbf { .. } => x.iter().zip(s.iter()).map(|(a, b)| (a - b) * (a - b)).sum(),
            _ => x.dot(&s),
        }
    }

    fn kernel_of(&self, d: f32) -> f32 {
        match self.kernel {
            Kernel::Linear => d,
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => (gamma * d + coef0).p_powf(degree),
            Kernel::Rbf { gamma } => (-gamma * d).p_exp(),
            Kernel::Sigmoid { gamma, coef0 } => (gamma * d + coef0).p_tanh(),
        }
    }

    /// d kernel / d x for one support vector, added into `gx` times `w`.
    fn kernel_grad(&self, x: ArrayView1<f32>, s: ArrayView1<f32>, w: f64, gx: &mut [f64]) {
        let d = self.dot_arg(x, s) as f64;
        let scale = match self.kernel {
            Kernel::Linear => 1.0,
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => {
                let (g, c, p) = (gamma as f64, coef0 as f64, degree as f64);
                if p == 0.0 {
                    0.0
                } else {
                    p * (g * d + c).p_powf(p - 1.0) * g
                }
            }
            Kernel::Sigmoid { gamma, coef0 } => {
                let t = (gamma as f64 * d + coef0 as f64).p_tanh();
                (1.0 - t * t) * gamma as f64
            }
            Kernel::Rbf { gamma } => {
                let k = (-(gamma as f64) * d).p_exp();
                // d/dx exp(-g |x-s|^2) = -2 g k (x - s)
                let f = -2.0 * gamma as f64 * k * w;
                for ((g, a), b) in gx.iter_mut().zip(x.iter()).zip(s.iter()) {
                    *g += f * (*a as f64 - *b as f64);
                }
                return;
            }
        };
        for (g, b) in gx.iter_mut().zip(s.iter()) {
            *g += w * scale * *b as f64;
        }
    }

    /// Kernel values of one record against every support vector.
    fn kernels(&self, x: ArrayView1<f32>) -> Vec<f32> {
        self.support_vectors
            .rows()
            .into_iter()
            .map(|s| self.kernel_of(self.dot_arg(x, s)))
            .collect()
    }

    /// Pair scores `f_ij` (`i < j`, row-major) from kernel values.
    fn pair_scores(&self, vpc: &[usize], k: &[f32]) -> Vec<f32> {
        let classes = vpc.len();
        let v = k.len();
        let start: Vec<usize> = vpc
            .iter()
            .scan(0, |acc, &n| {
                let s = *acc;
                *acc += n;
                Some(s)
            })
            .collect();
        let mut out = Vec::with_capacity(classes * (classes - 1) / 2);
        let mut idx = 0;
        for i in 0..classes {
            for j in i + 1..classes {
                let mut sum = 0.0f64;
                for m in 0..vpc[i] {
                    let sv = start[i] + m;
                    sum += self.coefficients[(j - 1) * v + sv] as f64 * k[sv] as f64;
                }
                for m in 0..vpc[j] {
                    let sv = start[j] + m;
                    sum += self.coefficients[i * v + sv] as f64 * k[sv] as f64;
                }
                sum += self.rho[idx] as f64;
                idx += 1;
                out.push(sum as f32);
            }
        }
        out
    }

    /// Transposed pair-score map: d f_ij / d k_v accumulated as
    /// `gk[v] += g_ij * coef`.
    fn pair_scores_back(&self, vpc: &[usize], g: &[f64], gk: &mut [f64]) {
        let classes = vpc.len();
        let v = gk.len();
        let mut start = 0;
        let starts: Vec<usize> = vpc
            .iter()
            .map(|&n| {
                let s = start;
                start += n;
                s
            })
            .collect();
        let mut idx = 0;
        for i in 0..classes {
            for j in i + 1..classes {
                for m in 0..vpc[i] {
                    let sv = starts[i] + m;
                    gk[sv] += g[idx] * self.coefficients[(j - 1) * v + sv] as f64;
                }
                for m in 0..vpc[j] {
                    let sv = starts[j] + m;
                    gk[sv] += g[idx] * self.coefficients[i * v + sv] as f64;
                }
                idx += 1;
            }
        }
    }

    /// Platt pairwise probabilities `r_ij` (i < j) before clamping.
    fn platt(score: f32, a: f32, b: f32) -> f32 {
        1.0 - logistic(score * a + b)
    }

    /// The raw (pre post-transform) row and, for the backward pass, the
    /// intermediate values of one record.
    /// `kern`: this record's kernel values against every support vector.
    fn row(&self, x: ArrayView1<f32>, kern: &[f32]) -> RowState {
        match &self.kind {
            SvmKind::Regressor => {
                let y = if self.vectors() > 0 {
                    let s: f64 = kern
                        .iter()
                        .zip(&self.coefficients)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum();
                    (s + self.rho[0] as f64) as f32
                } else {
                    x.iter()
                        .zip(&self.coefficients)
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        + self.rho[0]
                };
                RowState {
                    out: vec![y],
                    pairs: vec![],
                    r: vec![],
                    p: vec![],
                }
            }
            SvmKind::Classifier {
                classes,
                vectors_per_class,
                prob_a,
                prob_b,
            } => {
                let k = *classes;
                if vectors_per_class.is_empty() {
                    let f = self.features;
                    let mut out: Vec<f32> = (0..k)
                        .map(|c| {
                            x.iter()
                                .zip(&self.coefficients[c * f..(c + 1) * f])
                                .map(|(a, b)| a * b)
                                .sum::<f32>()
                                + self.rho[0]
                        })
                        .collect();
                    if k >= 2 {
                        apply_row(self.post, &mut out);
                    } else if self.post == PostTransform::Probit {
                        out[0] = super::ml_post::probit(out[0]);
                    }
                    return RowState {
                        out,
                        pairs: vec![],
                        r: vec![],
                        p: vec![],
                    };
                }
                let pairs = self.pair_scores(vectors_per_class, kern);
                if prob_a.is_empty() {
                    let out = if k > 2 {
                        let mut o = pairs.clone();
                        apply_row(self.post, &mut o);
                        o
                    } else if self.post == PostTransform::None {
                        vec![-pairs[0], pairs[0]]
                    } else {
                        vec![1.0 - pairs[0], pairs[0]]
                    };
                    return RowState {
                        out,
                        pairs,
                        r: vec![],
                        p: vec![],
                    };
                }
                // r[i * k + j] = probability of i over j.
                let mut r = vec![0f32; k * k];
                let mut idx = 0;
                for i in 0..k {
                    for j in i + 1..k {
                        let v = Self::platt(pairs[idx], prob_a[idx], prob_b[idx])
                            .clamp(1e-7, 1.0 - 1e-7);
                        r[i * k + j] = v;
                        r[j * k + i] = 1.0 - v;
                        idx += 1;
                    }
                }
                let p = coupling(k, &r);
                let mut out = p.clone();
                apply_row(self.post, &mut out);
                RowState { out, pairs, r, p }
            }
        }
    }

    /// Forward over a batch `[N, features]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, EngineError> {
        let x2 = self.check_input(x)?;
        let w = self.output_width();
        let n = x2.nrows();
        let mut out = Vec::with_capacity(n * w);
        for start in (0..n).step_by(KERNEL_CHUNK) {
            let xc = x2.slice(ndarray::s![start..(start + KERNEL_CHUNK).min(n), ..]);
            let k = self.kernel_matrix(xc);
            for (row, kr) in xc.rows().into_iter().zip(k.rows()) {
                let owned;
                let kr = match kr.as_slice() {
                    Some(v) => v,
                    None => {
                        owned = kr.to_vec();
                        &owned
                    }
                };
                out.extend(self.row(row, kr).out);
            }
        }
        Tensor::from_shape_vec(IxDyn(&[n, w]), out).map_err(|e| err(e.to_string()))
    }

    /// Kernel values `[rows, V]` of a chunk of records, through one matrix
    /// product (RBF as `|x|^2 + |s|^2 - 2 x.s`, floored at 0).
    fn kernel_matrix(&self, x: ndarray::ArrayView2<f32>) -> Array2<f32> {
        if self.vectors() == 0 {
            return Array2::zeros((x.nrows(), 0));
        }
        // the engine's fixed-order product (gemm.rs), not ndarray's: native
        // and wasm must compute the same bits
        let mut k = Array2::<f32>::zeros((x.nrows(), self.vectors()));
        super::gemm::general_mat_mul(1.0, &x, &self.support_vectors.t(), 0.0, &mut k);
        match self.kernel {
            Kernel::Rbf { gamma } => {
                let s2: Vec<f32> = self
                    .support_vectors
                    .rows()
                    .into_iter()
                    .map(|s| s.dot(&s))
                    .collect();
                for (mut kr, xr) in k.rows_mut().into_iter().zip(x.rows()) {
                    let x2 = xr.dot(&xr);
                    for (v, s2v) in kr.iter_mut().zip(&s2) {
                        let d = (x2 + s2v - 2.0 * *v).max(0.0);
                        *v = (-gamma * d).p_exp();
                    }
                }
            }
            _ => k.mapv_inplace(|d| self.kernel_of(d)),
        }
        k
    }

    fn check_input<'a>(&self, x: &'a Tensor) -> Result<ndarray::ArrayView2<'a, f32>, EngineError> {
        self.validate().map_err(err)?;
        if x.ndim() != 2 || x.shape()[1] != self.features {
            return Err(err(format!(
                "input has shape {:?}, expected [batch, {}]",
                x.shape(),
                self.features
            )));
        }
        x.view()
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| err(e.to_string()))
    }

    /// d loss / d x given d loss / d output.
    pub fn backward(&self, x: &Tensor, grad_out: &Tensor) -> Result<Tensor, EngineError> {
        let x2 = self.check_input(x)?;
        let w = self.output_width();
        let n = x2.nrows();
        if grad_out.shape() != [n, w] {
            return Err(err(format!(
                "output gradient has shape {:?}, expected [{n}, {w}]",
                grad_out.shape()
            )));
        }
        let g2 = grad_out
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| err(e.to_string()))?;
        let f = self.features;
        let mut gx = Array2::<f32>::zeros((n, f));
        for (i, row) in x2.rows().into_iter().enumerate() {
            let kern = self.kernels(row);
            let st = self.row(row, &kern);
            let g_out: Vec<f64> = g2.row(i).iter().map(|&v| v as f64).collect();
            let mut acc = vec![0f64; f];
            self.row_backward(row, &st, &g_out, &mut acc)?;
            for (d, s) in gx.row_mut(i).iter_mut().zip(&acc) {
                *d = *s as f32;
            }
        }
        Ok(gx.into_dyn())
    }

    fn row_backward(
        &self,
        x: ArrayView1<f32>,
        st: &RowState,
        g_out: &[f64],
        gx: &mut [f64],
    ) -> Result<(), EngineError> {
        match &self.kind {
            SvmKind::Regressor => {
                if self.vectors() > 0 {
                    for (s, c) in self
                        .support_vectors
                        .rows()
                        .into_iter()
                        .zip(&self.coefficients)
                    {
                        self.kernel_grad(x, s, g_out[0] * *c as f64, gx);
                    }
                } else {
                    for (g, c) in gx.iter_mut().zip(&self.coefficients) {
                        *g += g_out[0] * *c as f64;
                    }
                }
                Ok(())
            }
            SvmKind::Classifier {
                classes,
                vectors_per_class,
                prob_a,
                prob_b,
            } => {
                let k = *classes;
                if vectors_per_class.is_empty() {
                    let g_pre = if k >= 2 {
                        post_backward(self.post, &st.out, g_out)?
                    } else if self.post == PostTransform::Probit {
                        return Err(no_grad("PROBIT"));
                    } else {
                        g_out.to_vec()
                    };
                    for (c, gc) in g_pre.iter().enumerate() {
                        for (j, g) in gx.iter_mut().enumerate() {
                            *g += gc * self.coefficients[c * self.features + j] as f64;
                        }
                    }
                    return Ok(());
                }
                let pairs = &st.pairs;
                let g_pairs: Vec<f64> = if prob_a.is_empty() {
                    if k > 2 {
                        post_backward(self.post, &st.out, g_out)?
                    } else {
                        // [-f, f] and [1 - f, f] alike
                        vec![g_out[1] - g_out[0]]
                    }
                } else {
                    let g_p = post_backward(self.post, &st.out, g_out)?;
                    let g_r = coupling_backward(k, &st.r, &st.p, &g_p)?;
                    let mut g = Vec::with_capacity(pairs.len());
                    let mut idx = 0;
                    for i in 0..k {
                        for j in i + 1..k {
                            let raw = Self::platt(pairs[idx], prob_a[idx], prob_b[idx]);
                            // r_ij = v, r_ji = 1 - v
                            let g_v = g_r[i * k + j] - g_r[j * k + i];
                            let clamped = !(1e-7..=1.0 - 1e-7).contains(&raw);
                            let d = if clamped {
                                0.0
                            } else {
                                // v = 1 - logistic(a f + b): dv/df = -a v (1 - v)
                                let v = raw as f64;
                                -(prob_a[idx] as f64) * v * (1.0 - v)
                            };
                            g.push(g_v * d);
                            idx += 1;
                        }
                    }
                    g
                };
                let mut gk = vec![0f64; self.vectors()];
                self.pair_scores_back(vectors_per_class, &g_pairs, &mut gk);
                for (s, w) in self.support_vectors.rows().into_iter().zip(&gk) {
                    if *w != 0.0 {
                        self.kernel_grad(x, s, *w, gx);
                    }
                }
                Ok(())
            }
        }
    }
}

struct RowState {
    out: Vec<f32>,
    pairs: Vec<f32>,
    r: Vec<f32>,
    p: Vec<f32>,
}

fn no_grad(what: &str) -> EngineError {
    err(format!(
        "post_transform {what} has no input gradient here (NONE, LOGISTIC and SOFTMAX do)"
    ))
}

/// d loss / d pre-transform row, from the transformed row `y`.
fn post_backward(post: PostTransform, y: &[f32], g: &[f64]) -> Result<Vec<f64>, EngineError> {
    match post {
        PostTransform::None => Ok(g.to_vec()),
        PostTransform::Logistic => Ok(y
            .iter()
            .zip(g)
            .map(|(&s, &gi)| gi * s as f64 * (1.0 - s as f64))
            .collect()),
        PostTransform::Softmax => {
            let dot: f64 = y.iter().zip(g).map(|(&s, &gi)| s as f64 * gi).sum();
            Ok(y.iter()
                .zip(g)
                .map(|(&s, &gi)| s as f64 * (gi - dot))
                .collect())
        }
        PostTransform::SoftmaxZero => Err(no_grad("SOFTMAX_ZERO")),
        PostTransform::Probit => Err(no_grad("PROBIT")),
    }
}

/// libsvm's pairwise coupling (`multiclass_probability`) exactly as
/// onnxruntime iterates it, in f32. `r[i * k + j]` is the probability of
/// class `i` over class `j`.
pub fn coupling(k: usize, r: &[f32]) -> Vec<f32> {
    let mut q = vec![0f32; k * k];
    let mut qp = vec![0f32; k];
    let mut p = vec![1.0 / k as f32; k];
    let eps = 0.005 / k as f32;
    for i in 0..k {
        for j in 0..i {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for j in i + 1..k {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    for _ in 0..100 {
        let mut pqp = 0f32;
        for i in 0..k {
            qp[i] = 0.0;
            for j in 0..k {
                qp[i] += q[i * k + j] * p[j];
            }
            pqp += p[i] * qp[i];
        }
        let max_error = qp.iter().map(|v| (v - pqp).abs()).fold(0f32, f32::max);
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

/// The coupling matrix `Q` (f64) from `r`.
fn coupling_q(k: usize, r: &[f32]) -> Vec<f64> {
    let mut q = vec![0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let rji = r[j * k + i] as f64;
            q[i * k + i] += rji * rji;
            q[i * k + j] = -rji * r[i * k + j] as f64;
        }
    }
    q
}

/// Solves the dense system `a z = b` (n x n, row-major) by Gaussian
/// elimination with partial pivoting.
fn solve(n: usize, mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))?;
        if a[piv * n + c].abs() < 1e-300 {
            return None;
        }
        if piv != c {
            for j in 0..n {
                a.swap(c * n + j, piv * n + j);
            }
            b.swap(c, piv);
        }
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            if f != 0.0 {
                for j in c..n {
                    a[i * n + j] -= f * a[c * n + j];
                }
                b[i] -= f * b[c];
            }
        }
    }
    let mut z = vec![0f64; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| a[i * n + j] * z[j]).sum();
        z[i] = (b[i] - s) / a[i * n + i];
    }
    Some(z)
}

/// The exact coupling: `p` with `Q p = lambda 1`, `sum p = 1` (f64). The
/// reference the implicit gradient differentiates.
pub fn coupling_exact(k: usize, r: &[f32]) -> Option<Vec<f64>> {
    let q = coupling_q(k, r);
    let n = k + 1;
    let mut m = vec![0f64; n * n];
    for i in 0..k {
        for j in 0..k {
            m[i * n + j] = q[i * k + j];
        }
        m[i * n + k] = -1.0;
        m[k * n + i] = 1.0;
    }
    let mut rhs = vec![0f64; n];
    rhs[k] = 1.0;
    solve(n, m, rhs).map(|z| z[..k].to_vec())
}

/// d loss / d r (as a k x k matrix) from d loss / d p, by implicit
/// differentiation of `Q(r) p = lambda 1`, `sum p = 1` at `p`.
fn coupling_backward(k: usize, r: &[f32], p: &[f32], g_p: &[f64]) -> Result<Vec<f64>, EngineError> {
    let q = coupling_q(k, r);
    let n = k + 1;
    // M = [[Q, -1], [1^T, 0]]; solve M^T w = [g; 0].
    let mut mt = vec![0f64; n * n];
    for i in 0..k {
        for j in 0..k {
            mt[i * n + j] = q[j * k + i];
        }
        mt[i * n + k] = 1.0;
        mt[k * n + i] = -1.0;
    }
    let mut rhs = g_p.to_vec();
    rhs.push(0.0);
    let w = solve(n, mt, rhs)
        .ok_or_else(|| err("the probability coupling is singular here; no gradient".into()))?;
    // dL/dQ_ab = -w_a p_b
    let gq = |a: usize, b: usize| -w[a] * p[b] as f64;
    let mut gr = vec![0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let rji = r[j * k + i] as f64;
            let rij = r[i * k + j] as f64;
            // Q_ii += r_ji^2
            gr[j * k + i] += gq(i, i) * 2.0 * rji;
            // Q_ij = -r_ji r_ij
            gr[j * k + i] += gq(i, j) * -rij;
            gr[i * k + j] += gq(i, j) * -rji;
        }
    }
    Ok(gr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn svc(kernel: Kernel, prob: bool, classes: usize, post: PostTransform) -> Svm {
        // 2 support vectors per class, 3 features.
        let v = 2 * classes;
        let sv = Array2::from_shape_fn((v, 3), |(i, j)| ((i * 3 + j) as f32 * 0.37).sin());
        let coef: Vec<f32> = (0..(classes - 1) * v)
            .map(|i| ((i as f32) * 0.61).cos())
            .collect();
        let pairs = classes * (classes - 1) / 2;
        let rho: Vec<f32> = (0..pairs).map(|i| 0.1 * i as f32 - 0.05).collect();
        let (pa, pb) = if prob {
            (
                (0..pairs).map(|i| -1.5 - 0.3 * i as f32).collect(),
                (0..pairs).map(|i| 0.1 * i as f32 - 0.1).collect(),
            )
        } else {
            (vec![], vec![])
        };
        Svm {
            kind: SvmKind::Classifier {
                classes,
                vectors_per_class: vec![2; classes],
                prob_a: pa,
                prob_b: pb,
            },
            kernel,
            features: 3,
            support_vectors: sv,
            coefficients: coef,
            rho,
            post,
        }
    }

    fn kernels() -> Vec<Kernel> {
        vec![
            Kernel::Linear,
            Kernel::Poly {
                gamma: 0.5,
                coef0: 1.0,
                degree: 3.0,
            },
            Kernel::Rbf { gamma: 0.7 },
            Kernel::Sigmoid {
                gamma: 0.4,
                coef0: 0.2,
            },
        ]
    }

    /// Central differences of sum(forward * r) against backward.
    fn check_grad(m: &Svm, forward: &dyn Fn(&Tensor) -> Tensor, tol: f64) {
        let x = array![[0.3f32, -0.8, 0.5], [-0.2, 0.4, 1.1]].into_dyn();
        let y = forward(&x);
        let r = Tensor::from_shape_fn(y.raw_dim(), |d| ((d[0] * 7 + d[1] * 3) as f32 * 0.9).sin());
        let g = m.backward(&x, &r).expect("backward");
        let h = 1e-2f32;
        for i in 0..2 {
            for j in 0..3 {
                let mut xp = x.clone();
                xp[[i, j]] += h;
                let mut xm = x.clone();
                xm[[i, j]] -= h;
                let lp: f64 = (forward(&xp) * &r).iter().map(|v| *v as f64).sum();
                let lm: f64 = (forward(&xm) * &r).iter().map(|v| *v as f64).sum();
                let fd = (lp - lm) / (2.0 * h as f64);
                let an = g[[i, j]] as f64;
                assert!(
                    (fd - an).abs() <= tol * (1.0 + fd.abs()),
                    "{:?} x[{i},{j}]: backward {an}, finite difference {fd}",
                    m.kernel
                );
            }
        }
    }

    #[test]
    fn svc_scores_gradient_matches_finite_differences() {
        for k in kernels() {
            for classes in [2, 3] {
                for post in [PostTransform::None, PostTransform::Logistic] {
                    let m = svc(k, false, classes, post);
                    check_grad(&m, &|x| m.forward(x).expect("forward"), 2e-3);
                }
            }
        }
    }

    /// The probability gradient is that of the exact coupling.
    #[test]
    fn svc_probability_gradient_matches_exact_coupling() {
        for k in kernels() {
            for classes in [2, 3, 4] {
                let m = svc(k, true, classes, PostTransform::None);
                let exact = |x: &Tensor| -> Tensor {
                    let x2 = x.view().into_dimensionality::<ndarray::Ix2>().unwrap();
                    let SvmKind::Classifier {
                        vectors_per_class,
                        prob_a,
                        prob_b,
                        ..
                    } = &m.kind
                    else {
                        unreachable!()
                    };
                    let mut out = Vec::new();
                    for row in x2.rows() {
                        let pairs = m.pair_scores(vectors_per_class, &m.kernels(row));
                        let mut r = vec![0f32; classes * classes];
                        let mut idx = 0;
                        for i in 0..classes {
                            for j in i + 1..classes {
                                let v = Svm::platt(pairs[idx], prob_a[idx], prob_b[idx]);
                                r[i * classes + j] = v;
                                r[j * classes + i] = 1.0 - v;
                                idx += 1;
                            }
                        }
                        out.extend(
                            coupling_exact(classes, &r)
                                .unwrap()
                                .iter()
                                .map(|&v| v as f32),
                        );
                    }
                    Tensor::from_shape_vec(IxDyn(&[2, classes]), out).unwrap()
                };
                // the iterated forward is within its tolerance of the exact one
                let x = array![[0.3f32, -0.8, 0.5], [-0.2, 0.4, 1.1]].into_dyn();
                let d = (&m.forward(&x).unwrap() - &exact(&x)).mapv(f32::abs);
                assert!(d.iter().all(|&v| v < 0.01), "{d:?}");
                check_grad(&m, &exact, 2e-3);
            }
        }
    }

    #[test]
    fn regressor_and_linear_form_gradients() {
        for k in kernels() {
            let mut m = svc(k, false, 2, PostTransform::None);
            m.kind = SvmKind::Regressor;
            m.coefficients.truncate(4);
            m.rho = vec![0.3];
            check_grad(&m, &|x| m.forward(x).expect("forward"), 2e-3);
        }
        let m = Svm {
            kind: SvmKind::Classifier {
                classes: 3,
                vectors_per_class: vec![],
                prob_a: vec![],
                prob_b: vec![],
            },
            kernel: Kernel::Linear,
            features: 3,
            support_vectors: Array2::zeros((0, 3)),
            coefficients: vec![0.5, -1.0, 0.25, -0.3, 0.8, 0.1, 0.2, 0.2, -0.9],
            rho: vec![0.1],
            post: PostTransform::Softmax,
        };
        check_grad(&m, &|x| m.forward(x).expect("forward"), 2e-3);
    }

    #[test]
    fn binary_coupling_is_exact_and_two_class_output_is_symmetric() {
        // K = 2: the coupling optimum is p = (r01, r10).
        let p = coupling(2, &[0.0, 0.8, 0.2, 0.0]);
        assert!(
            (p[0] - 0.8).abs() < 2e-3 && (p[1] - 0.2).abs() < 2e-3,
            "{p:?}"
        );
        let m = svc(Kernel::Rbf { gamma: 0.5 }, false, 2, PostTransform::None);
        let y = m.forward(&array![[0.1f32, 0.2, 0.3]].into_dyn()).unwrap();
        assert_eq!(y[[0, 0]], -y[[0, 1]]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let m = svc(Kernel::Linear, false, 3, PostTransform::None);
        assert!(m.forward(&array![[0.1f32, 0.2]].into_dyn()).is_err());
        let mut bad = m.clone();
        bad.rho.pop();
        assert!(bad.forward(&array![[0.1f32, 0.2, 0.3]].into_dyn()).is_err());
        let mut bad = m.clone();
        bad.coefficients.pop();
        assert!(bad.validate().is_err());
        assert!(m
            .backward(
                &array![[0.1f32, 0.2, 0.3]].into_dyn(),
                &array![[1.0f32]].into_dyn()
            )
            .is_err());
    }
}
