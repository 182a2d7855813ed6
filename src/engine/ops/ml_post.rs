//! The `post_transform` of ai.onnx.ml classifiers and regressors, computed
//! the way onnxruntime computes it (`ml_common.h`), in f32:
//! - LOGISTIC: `1 / (1 + exp(-|v|))`, mirrored for negative `v`;
//! - SOFTMAX: `exp(v - max) / sum`;
//! - SOFTMAX_ZERO: entries with `|v| > 1e-7` become `exp(v - max)`, the
//!   others `v * exp(-max)`, all divided by the sum of the former (a row of
//!   zeros stays zeros here; the reference divides by zero);
//! - PROBIT: `sqrt(2) * erfinv(2v - 1)` with onnxruntime's closed-form
//!   erfinv approximation (Winitzki, a = 0.147), NaN outside [0, 1].
//!
//! Shared by `svm` and `tree`.

use crate::engine::math::PortableMath;

/// ai.onnx.ml `post_transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    /// Parses the attribute value (`None` for an unknown name).
    pub fn parse(s: &str) -> Option<PostTransform> {
        Some(match s {
            "NONE" | "" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => return None,
        })
    }
}

/// onnxruntime's `ComputeLogistic`.
pub fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).p_exp());
    if v < 0.0 {
        1.0 - e
    } else {
        e
    }
}

/// onnxruntime's `ErfInv` approximation.
fn erf_inv(x: f32) -> f32 {
    let sgn = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.p_ln();
    let v = 2.0 / (ORT_PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sgn * v3.sqrt()
}

/// onnxruntime writes pi as 3.14159 in `ErfInv`.
#[allow(clippy::approx_constant)]
const ORT_PI: f32 = 3.14159;

/// onnxruntime's `ComputeProbit`.
pub fn probit(v: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * v - 1.0)
}

/// Applies `post` to one row of at least two scores in place.
pub fn apply_row(post: PostTransform, row: &mut [f32]) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => row.iter_mut().for_each(|v| *v = logistic(*v)),
        PostTransform::Probit => row.iter_mut().for_each(|v| *v = probit(*v)),
        PostTransform::Softmax => {
            let m = row.iter().copied().fold(-f32::MAX, f32::max);
            let mut sum = 0.0f32;
            for v in row.iter_mut() {
                *v = (*v - m).p_exp();
                sum += *v;
            }
            row.iter_mut().for_each(|v| *v /= sum);
        }
        PostTransform::SoftmaxZero => {
            let m = row.iter().copied().fold(-f32::MAX, f32::max);
            let e = (-m).p_exp();
            let mut sum = 0.0f32;
            for v in row.iter_mut() {
                if *v > 1e-7 || *v < -1e-7 {
                    *v = (*v - m).p_exp();
                    sum += *v;
                } else {
                    *v *= e;
                }
            }
            if sum != 0.0 {
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}
