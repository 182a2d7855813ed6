//! Per-record membership signals computed from a model's output, shared by
//! every attack (threshold attacks, risk score, LiRA on reference models).
//!
//! Contract (conventions pinned in docs/attacks.md):
//! - For a record (x, y) with class probabilities p (p = softmax(z) for
//!   logits z), everything in f64:
//!   - loss `l = -log p_y`
//!   - confidence `p_y`
//!   - entropy `H = -sum_i p_i log p_i`
//!   - modified entropy (Song & Mittal 2021)
//!     `Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`
//!   - logit-scaled confidence (LiRA) `phi = log p_y - log(1 - p_y)`.
//! - **From probabilities** (a row of [`predict_probs`], K >= 2 columns, as
//!   the engine gives them: clamped to [0, 1], a single binary column already
//!   expanded to [1 - p, p]) every probability is clamped to [1e-45, 1]
//!   before a log. `1 - p_i` is evaluated as `1 - p_i` when p_i < 1/2 and as
//!   the sum of the other probabilities otherwise: the two are equal for a
//!   normalised row, and the sum keeps the information an f32 output still
//!   has when p_i rounds to 1 (this is also how the LiRA authors' code forms
//!   `1 - p_y`).
//! - **From logits** (a row of [`predict_raw`] when the output kind is
//!   logits, and also when the model's probabilities come from a final
//!   Softmax over the class axis of a 2-D tensor: its input is read instead,
//!   see [`Source::LogitsBeforeSoftmax`]; same distribution, but p_y is not
//!   rounded to 1 in f32, so loss and confidence keep ranking very
//!   confident records) the same quantities are computed without ever
//!   forming a rounded probability: `log p_i = z_i - logsumexp(z)` (for the
//!   largest logit `-log1p(sum_{j != i} e^{z_j - z_i})`), `log(1 - p_i) =
//!   log1p(-p_i)` for p_i < 1/2 and `logsumexp_{j != i} z_j - logsumexp(z)`
//!   otherwise, and
//!   `phi = z_y - logsumexp_{j != y} z_j`. A single binary logit s (the
//!   logit of class 1) is the two-logit row [0, s], so phi = s for y = 1 and
//!   -s for y = 0, and the loss is softplus(-s) or softplus(s).
//! - Labels must lie in 0..K (K = number of columns, 2 for a single binary
//!   column); otherwise [`AttackError::Input`] names the row (counted from 1,
//!   like the CSV reader) and the label. A non-finite model output is an
//!   [`EngineError::NonFinite`] naming the row.
//! - [`Signal::member_sign`] gives the orientation: +1 if a larger value
//!   means "more likely a member" (confidence, phi), -1 otherwise (loss,
//!   entropy, modified entropy).

use super::{predict_probs, predict_raw, AttackError, Records, Target};
use crate::engine::math::PortableMath;
use crate::engine::{EngineError, Graph, Op, OutputKind, ParamSet, ValueId};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

/// Smallest probability before a log (attacks.md conventions).
pub const PROB_FLOOR: f64 = 1e-45;

/// A per-record signal of the model's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `-log p_y`
    Loss,
    /// `p_y`
    Confidence,
    /// `-sum_i p_i log p_i`
    Entropy,
    /// `-(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`
    ModifiedEntropy,
    /// `log p_y - log(1 - p_y)`
    Phi,
}

impl Signal {
    pub const ALL: [Signal; 5] = [
        Signal::Loss,
        Signal::Confidence,
        Signal::Entropy,
        Signal::ModifiedEntropy,
        Signal::Phi,
    ];

    /// The id used in reports.
    pub fn id(self) -> &'static str {
        match self {
            Signal::Loss => "loss",
            Signal::Confidence => "confidence",
            Signal::Entropy => "entropy",
            Signal::ModifiedEntropy => "modified_entropy",
            Signal::Phi => "phi",
        }
    }

    /// The formula, for reports.
    pub fn formula(self) -> &'static str {
        match self {
            Signal::Loss => "l = -log p_y",
            Signal::Confidence => "p_y",
            Signal::Entropy => "H = -sum_i p_i log p_i",
            Signal::ModifiedEntropy => {
                "Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i) (Song & Mittal 2021)"
            }
            Signal::Phi => "phi = log p_y - log(1 - p_y) (Carlini et al. 2022)",
        }
    }

    /// +1 if a larger value means "more likely a member", -1 if a smaller one
    /// does.
    pub fn member_sign(self) -> f64 {
        match self {
            Signal::Confidence | Signal::Phi => 1.0,
            Signal::Loss | Signal::Entropy | Signal::ModifiedEntropy => -1.0,
        }
    }
}

fn clamp_p(p: f64) -> f64 {
    // NaN stays NaN (and is reported by the caller); everything else is
    // brought into [1e-45, 1].
    if p.is_nan() {
        p
    } else {
        p.clamp(PROB_FLOOR, 1.0)
    }
}

fn label_error(y: usize, k: usize) -> AttackError {
    AttackError::Input(format!(
        "label {y} is outside the model's {k} classes (0..={})",
        k.saturating_sub(1)
    ))
}

/// `1 - p_i` for a probability row (see the module contract).
fn one_minus(p: &[f64], i: usize) -> f64 {
    if p[i] < 0.5 {
        1.0 - p[i]
    } else {
        p.iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &v)| v)
            .sum()
    }
}

/// `log(sum_{j in row, j != skip} e^{z_j})`, stable; `-inf` for an empty sum.
fn logsumexp_except(z: &[f64], skip: Option<usize>) -> f64 {
    let it = || {
        z.iter()
            .enumerate()
            .filter(move |&(j, _)| Some(j) != skip)
            .map(|(_, &v)| v)
    };
    let m = it().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + it().map(|v| (v - m).p_exp()).sum::<f64>().p_ln()
}

fn from_probs(kind: Signal, p: &[f64], y: usize) -> f64 {
    let py = p[y];
    match kind {
        Signal::Loss => -clamp_p(py).p_ln(),
        Signal::Confidence => py,
        Signal::Entropy => -p.iter().map(|&pi| pi * clamp_p(pi).p_ln()).sum::<f64>(),
        Signal::ModifiedEntropy => {
            let mut m = -one_minus(p, y) * clamp_p(py).p_ln();
            for (i, &pi) in p.iter().enumerate() {
                if i != y {
                    m -= pi * clamp_p(one_minus(p, i)).p_ln();
                }
            }
            m
        }
        Signal::Phi => clamp_p(py).p_ln() - clamp_p(one_minus(p, y)).p_ln(),
    }
}

fn from_logits(kind: Signal, z: &[f64], y: usize) -> f64 {
    let lse = logsumexp_except(z, None);
    // log p_i = z_i - lse, except for the largest logit, whose log-probability
    // is close to 0: -log1p(sum_{j != i} e^{z_j - z_i}) keeps its digits.
    let top = (0..z.len()).fold(0, |b, j| if z[j] > z[b] { j } else { b });
    let log_top = -z
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != top)
        .map(|(_, &v)| (v - z[top]).p_exp())
        .sum::<f64>()
        .p_ln_1p();
    let logp = |i: usize| if i == top { log_top } else { z[i] - lse };
    // log(1 - p_i): log1p(-p_i) is exact enough while p_i < 1/2; above, the
    // sum over the other classes avoids cancellation.
    let log1m = |i: usize| {
        let lp = logp(i);
        if lp < -std::f64::consts::LN_2 {
            (-lp.p_exp()).p_ln_1p()
        } else {
            logsumexp_except(z, Some(i)) - lse
        }
    };
    match kind {
        Signal::Loss => -logp(y),
        Signal::Confidence => logp(y).p_exp(),
        Signal::Entropy => -z
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let lp = logp(i);
                lp.p_exp() * lp
            })
            .sum::<f64>(),
        Signal::ModifiedEntropy => {
            let mut m = -log1m(y).p_exp() * logp(y);
            for i in 0..z.len() {
                if i != y {
                    m -= logp(i).p_exp() * log1m(i);
                }
            }
            m
        }
        Signal::Phi => z[y] - logsumexp_except(z, Some(y)),
    }
}

/// One record's signal. With `logits` given (K >= 2 logits, or one binary
/// logit) the signal is computed from them and `probs` is ignored (it may be
/// empty); otherwise `probs` must hold K >= 2 class probabilities.
pub fn signal(
    kind: Signal,
    probs: &[f64],
    logits: Option<&[f64]>,
    y: usize,
) -> Result<f64, AttackError> {
    match logits {
        Some(z) if z.len() == 1 => {
            if y >= 2 {
                return Err(label_error(y, 2));
            }
            Ok(from_logits(kind, &[0.0, z[0]], y))
        }
        Some(z) => {
            if y >= z.len() {
                return Err(label_error(y, z.len()));
            }
            Ok(from_logits(kind, z, y))
        }
        None => {
            if probs.len() < 2 {
                return Err(AttackError::Input(format!(
                    "a probability row needs at least 2 classes, got {}",
                    probs.len()
                )));
            }
            if y >= probs.len() {
                return Err(label_error(y, probs.len()));
            }
            Ok(from_probs(kind, probs, y))
        }
    }
}

/// Number of classes of an output matrix with `cols` columns (one binary
/// column counts as two classes).
pub fn classes_of_width(cols: usize) -> usize {
    if cols == 1 {
        2
    } else {
        cols
    }
}

/// Check that every label of `records` is a class of a `num_classes`-class
/// model; `set` names the record set in the message ("members", ...).
pub fn check_labels(records: &Records, num_classes: usize, set: &str) -> Result<(), AttackError> {
    check_label_slice(&records.y, num_classes, set)
}

/// [`check_labels`] on a set's labels.
pub fn check_label_slice(
    labels: &[usize],
    num_classes: usize,
    set: &str,
) -> Result<(), AttackError> {
    if let Some((i, &y)) = labels.iter().enumerate().find(|&(_, &y)| y >= num_classes) {
        return Err(AttackError::Input(format!(
            "{set}: row {} has label {y}, but the model has {num_classes} classes (0..={})",
            i + 1,
            num_classes.saturating_sub(1)
        )));
    }
    Ok(())
}

/// What a [`ModelOutput`] holds and signals are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The model's output is logits.
    Logits,
    /// The model outputs probabilities through a final Softmax over the
    /// class axis; its input (the logits) is used instead, which is the same
    /// distribution without the f32 rounding of p_y to 1.
    LogitsBeforeSoftmax,
    /// The model's probability output.
    Probabilities,
}

impl Source {
    pub fn id(self) -> &'static str {
        match self {
            Source::Logits => "logits",
            Source::LogitsBeforeSoftmax => "logits_before_softmax",
            Source::Probabilities => "probabilities",
        }
    }
}

/// The logits of a graph whose output is a Softmax over the last axis of a
/// 2-D tensor (possibly followed by Identity nodes): the Softmax's input.
/// `None` for any other graph.
pub fn logits_before_softmax(graph: &Graph) -> Option<ValueId> {
    let producer = |v: ValueId| graph.nodes.iter().find(|n| n.output == v);
    let mut v = graph.output;
    while let Some(node) = producer(v) {
        match &node.op {
            Op::Identity => v = *node.inputs.first()?,
            Op::Softmax { axis, .. } if *axis == -1 || *axis == 1 => {
                return node.inputs.first().copied()
            }
            _ => return None,
        }
    }
    None
}

/// The model's output on `records`, in the form signals are computed from
/// (see [`Source`]).
#[derive(Debug, Clone)]
pub struct ModelOutput {
    pub source: Source,
    /// [N, K] logits (K may be 1: one binary logit) or [N, K >= 2]
    /// probabilities.
    pub values: Array2<f64>,
}

impl ModelOutput {
    /// Run the model once on `records`. For a probability output that ends
    /// in a class-axis Softmax of a 2-D tensor, the Softmax's input is
    /// returned as logits.
    pub fn compute(
        graph: &Graph,
        params: &ParamSet,
        kind: OutputKind,
        records: &Records,
    ) -> Result<ModelOutput, AttackError> {
        let n = records.len();
        let (source, values) = match kind {
            OutputKind::Logits => (Source::Logits, predict_raw(graph, params, &records.x)?),
            OutputKind::Probabilities => {
                let pre = logits_before_softmax(graph).and_then(|v| {
                    let mut g = graph.clone();
                    g.output = v;
                    // use it only when the logits are [N, K >= 2]
                    let probe = records
                        .x
                        .slice_axis(Axis(0), (0..n.min(1)).into())
                        .to_owned();
                    match g.forward(params, &probe) {
                        Ok(t) if n > 0 && t.ndim() == 2 && t.shape()[1] >= 2 => Some(g),
                        _ => None,
                    }
                });
                match pre {
                    Some(g) => (
                        Source::LogitsBeforeSoftmax,
                        predict_raw(&g, params, &records.x)?,
                    ),
                    None => (
                        Source::Probabilities,
                        predict_probs(graph, params, kind, &records.x)?,
                    ),
                }
            }
        };
        if n == 0 {
            return Ok(ModelOutput {
                source,
                values: Array2::zeros((0, 2)),
            });
        }
        if values.nrows() != n {
            return Err(AttackError::Input(format!(
                "the model gave {} output rows for {} records",
                values.nrows(),
                n
            )));
        }
        Ok(ModelOutput { source, values })
    }

    /// Number of classes (one binary logit counts as two).
    pub fn num_classes(&self) -> usize {
        classes_of_width(self.values.ncols())
    }

    /// The signal of every row with labels `y`.
    pub fn signals(&self, kind: Signal, y: &[usize]) -> Result<Vec<f64>, AttackError> {
        if y.len() != self.values.nrows() {
            return Err(AttackError::Input(format!(
                "{} labels for {} output rows",
                y.len(),
                self.values.nrows()
            )));
        }
        let k = self.num_classes();
        let mut out = Vec::with_capacity(y.len());
        for (i, (row, &label)) in self.values.outer_iter().zip(y).enumerate() {
            if label >= k {
                return Err(AttackError::Input(format!(
                    "row {} has label {label}, but the model has {k} classes (0..={})",
                    i + 1,
                    k - 1
                )));
            }
            let row = row.to_vec();
            let v = match self.source {
                Source::Logits | Source::LogitsBeforeSoftmax => {
                    signal(kind, &[], Some(&row), label)?
                }
                Source::Probabilities => signal(kind, &row, None, label)?,
            };
            if !v.is_finite() {
                return Err(AttackError::Engine(EngineError::NonFinite(format!(
                    "the model's output for row {} ({} = {v})",
                    i + 1,
                    kind.id()
                ))));
            }
            out.push(v);
        }
        Ok(out)
    }
}

/// The signal of every record under `graph` with `params`.
pub fn signals_with(
    graph: &Graph,
    params: &ParamSet,
    kind: OutputKind,
    records: &Records,
    signal: Signal,
) -> Result<Vec<f64>, AttackError> {
    ModelOutput::compute(graph, params, kind, records)?.signals(signal, &records.y)
}

/// The signal of every record under the target model. Labels are checked
/// against `target.num_classes` as well as the output width.
pub fn signals_for(
    target: &Target,
    records: &Records,
    signal: Signal,
) -> Result<Vec<f64>, AttackError> {
    check_labels(
        records,
        classes_of_width(target.num_classes.max(1)),
        "records",
    )?;
    signals_with(
        target.graph,
        target.params,
        target.output_kind,
        records,
        signal,
    )
}

/// Logit-scaled confidence phi of every record under `graph` with `params`
/// (a target or a reference model), computed from logits when `kind` is
/// [`OutputKind::Logits`].
pub fn phi_for(
    graph: &Graph,
    params: &ParamSet,
    kind: OutputKind,
    records: &Records,
) -> Result<Vec<f64>, AttackError> {
    signals_with(graph, params, kind, records, Signal::Phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_and_logit_paths_agree_on_a_three_class_row() {
        let p = [0.7, 0.2, 0.1];
        let z: Vec<f64> = p.iter().map(|v: &f64| v.ln() + 3.0).collect();
        for kind in Signal::ALL {
            for y in 0..3 {
                let a = signal(kind, &p, None, y).unwrap();
                let b = signal(kind, &[], Some(&z), y).unwrap();
                assert!((a - b).abs() < 1e-12, "{kind:?} y={y}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn saturated_logits_stay_finite_and_exact() {
        let z = [60.0, 0.0];
        // phi = 60 exactly, loss = log(1 + e^-60)
        assert_eq!(signal(Signal::Phi, &[], Some(&z), 0).unwrap(), 60.0);
        let l = signal(Signal::Loss, &[], Some(&z), 0).unwrap();
        assert!((l - (-60f64).exp()).abs() < 1e-40);
        assert!(signal(Signal::ModifiedEntropy, &[], Some(&z), 0).unwrap() > 0.0);
    }

    #[test]
    fn labels_outside_the_classes_are_errors() {
        assert!(signal(Signal::Loss, &[0.5, 0.5], None, 2).is_err());
        assert!(signal(Signal::Loss, &[], Some(&[1.0]), 2).is_err());
        assert!(signal(Signal::Loss, &[1.0], None, 0).is_err());
    }
}
