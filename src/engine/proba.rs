//! Turning a model's raw output into class probabilities, and class
//! predictions, with one convention everywhere (CLI `predict`, the page,
//! attacks):
//! - output [N, K] with K >= 2: probabilities are used as they are (clamped
//!   to [0, 1]); logits go through a stable softmax over the last axis;
//! - output [N, 1] or [N] (one binary score): a probability p becomes
//!   [1 - p, p]; a logit s becomes [1 - sigmoid(s), sigmoid(s)].
//!
//! Other output ranks are flattened to [N, rest].

use super::{EngineError, OutputKind, Tensor};
use crate::engine::math::PortableMath;
use ndarray::{Array2, Axis};

/// Reshape a raw output to [N, K] (K = product of the non-batch dims).
pub fn as_matrix(output: &Tensor) -> Result<Array2<f32>, EngineError> {
    let n = output.shape().first().copied().unwrap_or(1);
    let k = output.len().checked_div(n).unwrap_or(0);
    output
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, k))
        .map_err(|e| EngineError::op("Output", e.to_string()))
}

fn sigmoid(s: f32) -> f32 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).p_exp())
    } else {
        let e = s.p_exp();
        e / (1.0 + e)
    }
}

/// Class probabilities [N, K] (K >= 2) from a raw output.
pub fn probabilities(output: &Tensor, kind: OutputKind) -> Result<Array2<f32>, EngineError> {
    let m = as_matrix(output)?;
    let n = m.nrows();
    if m.ncols() == 1 {
        let mut out = Array2::<f32>::zeros((n, 2));
        for (i, &s) in m.column(0).iter().enumerate() {
            let p = match kind {
                OutputKind::Probabilities => s.clamp(0.0, 1.0),
                OutputKind::Logits => sigmoid(s),
            };
            out[[i, 0]] = 1.0 - p;
            out[[i, 1]] = p;
        }
        return Ok(out);
    }
    match kind {
        OutputKind::Probabilities => Ok(m.mapv(|p| p.clamp(0.0, 1.0))),
        OutputKind::Logits => {
            let mut m = m;
            for mut row in m.axis_iter_mut(Axis(0)) {
                let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                row.mapv_inplace(|z| {
                    let e = (z - max).p_exp();
                    sum += e;
                    e
                });
                row.mapv_inplace(|e| e / sum);
            }
            Ok(m)
        }
    }
}

/// Predicted class per row (first maximum on ties) of a [N, K] matrix.
pub fn argmax_rows(m: &Array2<f32>) -> Vec<usize> {
    m.axis_iter(Axis(0))
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, IxDyn};

    #[test]
    fn softmax_of_logits_rows_sum_to_one_and_match_hand_values() {
        let z = array![[1.0f32, 2.0, 3.0], [1000.0, 1000.0, -1000.0]].into_dyn();
        let p = probabilities(&z, OutputKind::Logits).unwrap();
        // softmax([1,2,3]) = [0.09003057, 0.24472847, 0.66524096]
        assert!((p[[0, 0]] - 0.090_030_57).abs() < 1e-6);
        assert!((p[[0, 2]] - 0.665_240_96).abs() < 1e-6);
        assert!((p[[1, 0]] - 0.5).abs() < 1e-6 && p[[1, 2]] == 0.0);
    }

    #[test]
    fn single_column_binary_scores_become_two_columns() {
        let s = Tensor::from_shape_vec(IxDyn(&[2, 1]), vec![0.0, 2.0]).unwrap();
        let p = probabilities(&s, OutputKind::Logits).unwrap();
        assert_eq!(p.shape(), &[2, 2]);
        assert!((p[[0, 1]] - 0.5).abs() < 1e-7);
        assert!((p[[1, 1]] - 0.880_797_1).abs() < 1e-6);
        let q = Tensor::from_shape_vec(IxDyn(&[1, 1]), vec![0.25]).unwrap();
        let p = probabilities(&q, OutputKind::Probabilities).unwrap();
        assert_eq!(p.row(0).to_vec(), vec![0.75, 0.25]);
        assert_eq!(argmax_rows(&p), vec![0]);
    }
}
