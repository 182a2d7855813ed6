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

/// Class probabilities of one batch of `n` records, as the CLI's `predict`
/// and the page's predictions show them: [`probabilities`] after checking
/// that the output has one row per record, that every score is finite and,
/// for probabilities, inside [0, 1] (1e-4 tolerance): a model whose
/// "probabilities" are not is more likely emitting logits, and clamping
/// them would show nonsense. `offset` is the number of records before this
/// batch (messages count records from 1). Errors are
/// [`EngineError::BadOutput`] naming the record and the value.
pub fn checked_probabilities(
    y: &Tensor,
    n: usize,
    kind: OutputKind,
    offset: usize,
) -> Result<Array2<f32>, EngineError> {
    let bad = |m: String| Err(EngineError::BadOutput(m));
    if y.ndim() == 0 || y.shape()[0] != n {
        return bad(format!(
            "the output has shape {:?} for a batch of {n} records",
            y.shape()
        ));
    }
    let m = as_matrix(y)?;
    if m.ncols() == 0 {
        return bad(format!(
            "the output has shape {:?}: no class scores",
            y.shape()
        ));
    }
    for (i, scores) in m.rows().into_iter().enumerate() {
        let record = offset + i + 1;
        if scores.iter().any(|v| !v.is_finite()) {
            return bad(format!("the scores of record {record} are NaN or infinite"));
        }
        if kind == OutputKind::Probabilities {
            if let Some(v) = scores.iter().find(|v| **v < -1e-4 || **v > 1.0 + 1e-4) {
                return bad(format!(
                    "record {record} has score {v}, outside [0, 1]: if the model emits logits, \
                     declare its output kind as logits (CLI --output-kind logits; the page's \
                     output kind menu)"
                ));
            }
        }
    }
    probabilities(y, kind)
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
    fn checked_probabilities_refuse_what_clamping_would_hide() {
        let ok = array![[0.25f32, 0.75]].into_dyn();
        let p = checked_probabilities(&ok, 1, OutputKind::Probabilities, 0).unwrap();
        assert_eq!(p, array![[0.25f32, 0.75]]);
        // "probabilities" outside [0, 1]: logits declared wrongly
        let out = array![[0.5f32, 0.5], [2.0, -1.0]].into_dyn();
        let e = checked_probabilities(&out, 2, OutputKind::Probabilities, 10).unwrap_err();
        assert_eq!(e.code(), "bad_output");
        assert!(
            e.to_string()
                .starts_with("record 12 has score 2, outside [0, 1]"),
            "{e}"
        );
        assert!(e.to_string().contains("--output-kind logits"), "{e}");
        // the same output as logits is fine
        assert!(checked_probabilities(&out, 2, OutputKind::Logits, 0).is_ok());
        let nan = array![[f32::NAN, 0.5]].into_dyn();
        let e = checked_probabilities(&nan, 1, OutputKind::Logits, 0).unwrap_err();
        assert!(e.to_string().contains("record 1 are NaN"), "{e}");
        let e = checked_probabilities(&ok, 2, OutputKind::Logits, 0).unwrap_err();
        assert!(e.to_string().contains("for a batch of 2 records"), "{e}");
    }

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

/// Probability of the true label and phi of one row of raw outputs.
/// `row` is the raw model output (K >= 1 columns), `kind` its meaning.
pub fn prob_and_phi(row: &[f64], kind: OutputKind, y: usize) -> (f64, f64) {
    const TINY: f64 = 1e-45;
    if row.len() == 1 {
        let s = row[0];
        return match kind {
            OutputKind::Logits => {
                let phi = if y == 1 { s } else { -s };
                // p_y = sigmoid(phi), stable
                let p = if phi >= 0.0 {
                    1.0 / (1.0 + (-phi).p_exp())
                } else {
                    let e = phi.p_exp();
                    e / (1.0 + e)
                };
                (p, phi)
            }
            OutputKind::Probabilities => {
                let p1 = s.clamp(0.0, 1.0);
                let (py, other) = if y == 1 {
                    (p1, 1.0 - p1)
                } else {
                    (1.0 - p1, p1)
                };
                (py, py.max(TINY).p_ln() - other.max(TINY).p_ln())
            }
        };
    }
    match kind {
        OutputKind::Logits => {
            let lse = |skip: Option<usize>| {
                let m = row
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| Some(*j) != skip)
                    .map(|(_, &v)| v)
                    .fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = row
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| Some(*j) != skip)
                    .map(|(_, &v)| (v - m).p_exp())
                    .sum();
                m + s.p_ln()
            };
            let zy = row[y];
            (((zy - lse(None)).p_exp()).min(1.0), zy - lse(Some(y)))
        }
        OutputKind::Probabilities => {
            let py = row[y].clamp(0.0, 1.0);
            let other: f64 = row
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != y)
                .map(|(_, &v)| v.clamp(0.0, 1.0))
                .sum();
            (py, py.max(TINY).p_ln() - other.max(TINY).p_ln())
        }
    }
}

/// Per-record cross-entropy `-ln p_y` from the logit-scaled confidence:
/// `ln(1 + e^-phi)` (exact when the row is normalised), computed stably, so
/// it stays positive and ordered where `p_y` rounds to 1. The loss the
/// reference calibration compares (the median over records).
pub fn loss_from_phi(phi: f64) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi >= 0.0 {
        (-phi).p_exp().p_ln_1p()
    } else {
        -phi + phi.p_exp().p_ln_1p()
    }
}

/// How well a model fits a set of records: the share it classifies right
/// and the median per-record loss ([`loss_from_phi`]), the statistic the
/// reference models are calibrated on (docs/attacks.md, "Reference models").
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    pub accuracy: f64,
    pub loss_median: f64,
    pub records: usize,
}

impl Fit {
    /// The fit of records with these phis and correctness flags (`None`
    /// for no records).
    pub fn of(
        phi: impl IntoIterator<Item = f64>,
        correct: impl IntoIterator<Item = bool>,
    ) -> Option<Fit> {
        let mut losses: Vec<f64> = phi.into_iter().map(loss_from_phi).collect();
        let n = losses.len();
        if n == 0 {
            return None;
        }
        let right = correct.into_iter().filter(|&c| c).count();
        Some(Fit {
            accuracy: right as f64 / n as f64,
            loss_median: median_in_place(&mut losses),
            records: n,
        })
    }
}

/// Median (mean of the two middle values for an even count; NaN sorts
/// last). `v` must not be empty.
pub fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Per record of a raw output batch with labels `y`: `(p_y, phi, argmax == y)`.
/// `y` must hold valid class indices for the output (the caller checks).
pub fn fit_signals(
    raw: &Array2<f64>,
    kind: OutputKind,
    y: &[usize],
) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
    let mut p = Vec::with_capacity(y.len());
    let mut phi = Vec::with_capacity(y.len());
    let mut correct = Vec::with_capacity(y.len());
    for (i, &label) in y.iter().enumerate() {
        let row: Vec<f64> = raw.row(i).to_vec();
        let (a, b) = prob_and_phi(&row, kind, label);
        p.push(a);
        phi.push(b);
        // predicted class: first maximum of the probabilities (one binary
        // score s: class 1 iff p1 > 1/2, i.e. phi for y = 1 > 0)
        let pred = if row.len() == 1 {
            let (_, phi1) = prob_and_phi(&row, kind, 1);
            usize::from(phi1 > 0.0)
        } else {
            let probs = probabilities_row(&row, kind);
            let mut best = 0;
            for j in 0..probs.len() {
                if probs[j] > probs[best] {
                    best = j;
                }
            }
            best
        };
        correct.push(pred == label);
    }
    (p, phi, correct)
}

/// One row's probabilities in f64 (softmax for logits; the order of the
/// classes is what `argmax` needs, ties resolved to the first).
fn probabilities_row(row: &[f64], kind: OutputKind) -> Vec<f64> {
    match kind {
        OutputKind::Probabilities => row.iter().map(|v| v.clamp(0.0, 1.0)).collect(),
        OutputKind::Logits => {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            row.iter().map(|&z| (z - m).p_exp()).collect()
        }
    }
}
