//! Training fresh copies of a graph: the reference (shadow) models of the
//! membership attacks are the target's own graph with re-initialised weights.
//!
//! Contract:
//! - [`init_params`] re-initialises every trainable parameter of a
//!   [`ParamSet`] from a seed: weights He-uniform, U(-b, b) with
//!   b = sqrt(6 / fan_in); biases zero; constants (scalers, BN statistics,
//!   folded constants) are kept from the file.
//! - [`train`] fits the trainable parameters with minibatch SGD (momentum) or
//!   Adam on the mean cross-entropy of the labels plus `l2/2 * sum w^2` over
//!   weights (not biases). The loss is computed from logits whenever the graph
//!   exposes them (a final Softmax/LogSoftmax is stripped and the loss taken
//!   on its input; a logit output is used directly), otherwise from the
//!   probability output with p clamped to [1e-7, 1].
//! - Training stops after `epochs`, or as soon as the accuracy on the
//!   training data reaches `target_accuracy`, or as soon as the median
//!   per-record loss `-ln p_y` on the training data (evaluated after each
//!   epoch, from the graph's output: [`fit`]) falls to `target_loss`, or
//!   when the objective stops improving (`plateau`, [`Plateau`]), or
//!   when the progress callback asks to stop. Same graph, data, config and seed on the same build give
//!   bit-identical parameters (ChaCha8 for all randomness, no threads).
//! - [`check_trainable`] says why a graph cannot be trained.
//!
//! DP-SGD (Abadi et al. 2016, with Opacus's semantics), when
//! `TrainConfig::dp` is set:
//! - Sampling: Poisson with rate `q = min(1, batch_size / N)`; each epoch is
//!   `ceil(N / batch_size)` steps; each step includes every record
//!   independently with probability q (the batch may be empty).
//! - Per-record gradients (one forward/backward per record) of the record's
//!   loss, clipped to L2 norm C over all trainable parameters together:
//!   `g_i * min(1, C / (||g_i|| + 1e-6))` (Opacus's clip factor).
//! - `g = (sum_i clip(g_i) + N(0, sigma^2 C^2 I)) / (q N)`: Gaussian noise on
//!   every coordinate of every trainable parameter, divided by the expected
//!   batch size q N (Opacus's `expected_batch_size`). The L2 term (data
//!   independent) is added after, then the SGD or Adam step as usual.
//! - Randomness: the sampling draws from the training RNG, the noise from a
//!   second ChaCha8 stream seeded from `seed`; same inputs, same bits.
//! - The report's `dp` section gives the steps run and epsilon at
//!   `DpConfig::delta` from [`crate::privacy::accountant`] (q, sigma, steps).
//!   Stopping on `target_accuracy` looks at the training data and is not
//!   part of that accounting.

use super::proba::{argmax_rows, probabilities};
use super::{EngineError, Graph, Op, OutputKind, ParamRole, ParamSet, Tensor, ValueId};
use crate::engine::math::PortableMath;
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// The optimiser and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Optimizer {
    Sgd {
        lr: f32,
        momentum: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
}

impl Optimizer {
    /// Adam with the usual defaults and the given learning rate.
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// DP-SGD settings (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DpConfig {
    /// C: every per-record gradient is clipped to this L2 norm.
    pub clip_norm: f64,
    /// sigma: the noise standard deviation is sigma * C.
    pub noise_multiplier: f64,
    /// delta at which the report's epsilon is computed.
    pub delta: f64,
}

impl Default for DpConfig {
    fn default() -> Self {
        DpConfig {
            clip_norm: 1.0,
            noise_multiplier: 1.0,
            delta: 1e-5,
        }
    }
}

impl DpConfig {
    /// Reject settings DP-SGD cannot use.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |m: String| Err(EngineError::Config(m));
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return bad(format!(
                "the DP clipping norm must be a finite number > 0, got {}",
                self.clip_norm
            ));
        }
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier >= 0.0) {
            return bad(format!(
                "the DP noise multiplier must be a finite number >= 0, got {}",
                self.noise_multiplier
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return bad(format!(
                "the DP delta must be in (0, 1), got {}",
                self.delta
            ));
        }
        Ok(())
    }
}

/// A training recipe. Check it with [`TrainConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrainConfig {
    pub optimizer: Optimizer,
    pub epochs: usize,
    pub batch_size: usize,
    /// L2 penalty coefficient on weights (`l2/2 * ||w||^2` added to the loss).
    pub l2: f32,
    /// Stop as soon as the training accuracy reaches this fraction.
    pub target_accuracy: Option<f64>,
    /// Stop as soon as the median per-record loss on the training data
    /// (`-ln p_y`, [`super::proba::loss_from_phi`]) is at most this.
    pub target_loss: Option<f64>,
    pub seed: u64,
    /// DP-SGD (per-record clipping, Gaussian noise, Poisson sampling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<DpConfig>,
    /// Stop when the regularised training objective stops improving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plateau: Option<Plateau>,
}

/// Convergence stop (scikit-learn's rule for its MLPs): training ends when
/// the epoch's objective (mean training loss + `l2/2 * ||w||^2`) has not
/// fallen below the best seen by more than `tol * max(1, |best|)` for
/// `patience` epochs in a row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plateau {
    pub tol: f64,
    pub patience: usize,
}

impl Default for Plateau {
    fn default() -> Self {
        Plateau {
            tol: 1e-4,
            patience: 10,
        }
    }
}

/// How far the target sits from a stationary point of an L2-penalised
/// loss, from [`l2_stationarity`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stationarity {
    /// `max(0, -<g, w> / <w, w>)`: the L2 coefficient `lambda` for which
    /// `g + lambda w` is smallest, `g` the gradient of the mean training
    /// loss over the weights `w` (the trainer's convention: `l2/2 ||w||^2`).
    pub l2: f64,
    /// `-<g, w> / (|g| |w|)`: 1 when the loss gradient points exactly
    /// against the weights (an L2 equilibrium), about 0 when unrelated.
    pub cosine: f64,
    /// `|g + l2 w| / |g|`: the part of the gradient the penalty leaves.
    pub residual: f64,
    pub records: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: Optimizer::adam(1e-3),
            epochs: 50,
            batch_size: 64,
            l2: 0.0,
            target_accuracy: None,
            target_loss: None,
            seed: 0,
            dp: None,
            plateau: None,
        }
    }
}

impl TrainConfig {
    /// Reject settings that cannot train.
    pub fn validate(&self) -> Result<(), EngineError> {
        use crate::settings::Ranged;
        let bad = |m: String| Err(EngineError::Config(m));
        self.check_ranges()?;
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("L2 must be a finite number >= 0, got {}", self.l2));
        }
        if let Some(t) = self.target_accuracy {
            if !(0.0..=1.0).contains(&t) {
                return bad(format!("target accuracy must be in [0, 1], got {t}"));
            }
        }
        if let Some(t) = self.target_loss {
            if !(t.is_finite() && t >= 0.0) {
                return bad(format!(
                    "the target loss must be a finite number >= 0, got {t}"
                ));
            }
        }
        let lr = match self.optimizer {
            Optimizer::Sgd { lr, momentum } => {
                if !(0.0..1.0).contains(&momentum) {
                    return bad(format!("momentum must be in [0, 1), got {momentum}"));
                }
                lr
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if !(0.0..1.0).contains(&beta1)
                    || !(0.0..1.0).contains(&beta2)
                    || eps.is_nan()
                    || eps <= 0.0
                {
                    return bad("Adam needs 0 <= beta1, beta2 < 1 and eps > 0".into());
                }
                lr
            }
        };
        if !(lr.is_finite() && lr > 0.0) {
            return bad(format!("learning rate must be > 0, got {lr}"));
        }
        if let Some(dp) = &self.dp {
            dp.validate()?;
        }
        if let Some(p) = &self.plateau {
            if !(p.tol.is_finite() && p.tol >= 0.0) || p.patience == 0 {
                return bad(format!(
                    "the convergence stop needs a tolerance >= 0 and a patience of at least 1 epoch, got {} and {}",
                    p.tol, p.patience
                ));
            }
        }
        Ok(())
    }
}

impl crate::settings::Ranged for TrainConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::{some, TRAIN_BATCH_SIZE, TRAIN_EPOCHS};
        vec![
            (TRAIN_EPOCHS, some(self.epochs)),
            (TRAIN_BATCH_SIZE, some(self.batch_size)),
        ]
    }
}

/// Progress of one epoch, given to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochProgress {
    pub epoch: usize,
    pub epochs: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    /// Median per-record loss on the training data after the epoch.
    pub train_loss_median: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainReport {
    pub epochs_run: usize,
    pub final_loss: f64,
    pub train_accuracy: f64,
    /// Median per-record loss `-ln p_y` on the training data at the end
    /// (the statistic `target_loss` stops on).
    pub train_loss_median: f64,
    /// "epochs", "target_accuracy", "target_loss", "plateau" or "cancelled".
    pub stopped_by: String,
    pub loss_history: Vec<f64>,
    /// What DP-SGD spent (when `TrainConfig::dp` was set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<DpReport>,
}

/// The privacy spent by a DP-SGD run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DpReport {
    pub clip_norm: f64,
    pub noise_multiplier: f64,
    /// Poisson sampling rate q = min(1, batch_size / N).
    pub sample_rate: f64,
    /// q N, the divisor of the noisy gradient sum.
    pub expected_batch_size: f64,
    /// Steps run (each one a use of the subsampled Gaussian mechanism).
    pub steps: u64,
    pub delta: f64,
    /// epsilon at `delta` after `steps` (RDP accountant); `None` when it is
    /// infinite (sigma = 0) or could not be computed.
    pub epsilon: Option<f64>,
    /// Per-record gradients that were clipped (norm above C), over the run.
    pub clipped: u64,
    /// Per-record gradients computed over the run.
    pub records_seen: u64,
}

/// The DP-SGD schedule [`train`] runs: Poisson sampling at rate
/// q = min(1, batch_size / N) and ceil(N / batch_size) steps per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DpSchedule {
    pub records: usize,
    pub sample_rate: f64,
    pub steps_per_epoch: usize,
    /// Steps of `epochs` full epochs (a run stopped early takes fewer).
    pub steps: u64,
}

impl DpSchedule {
    /// The schedule of `epochs` epochs over `records` records (0 records or
    /// a batch of 0 give rate 0 and no steps).
    pub fn of(records: usize, batch_size: usize, epochs: usize) -> DpSchedule {
        let (sample_rate, steps_per_epoch) = if records == 0 || batch_size == 0 {
            (0.0, 0)
        } else {
            (
                (batch_size as f64 / records as f64).min(1.0),
                records.div_ceil(batch_size),
            )
        };
        DpSchedule {
            records,
            sample_rate,
            steps_per_epoch,
            steps: (steps_per_epoch as u64).saturating_mul(epochs as u64),
        }
    }
}

/// What a training run with `cfg` on `records` records will spend, before
/// it runs: `cfg` checked ([`TrainConfig::validate`]), its schedule and,
/// with DP-SGD, the accountant's epsilon after every epoch ran (the page's
/// figure under the DP fields; the run's own [`DpReport`] counts the epochs
/// it actually ran).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainPlan {
    pub schedule: DpSchedule,
    /// `None` without DP-SGD.
    pub dp: Option<crate::privacy::accountant::EpsilonSpent>,
}

/// The [`TrainPlan`] of `cfg` on `records` records.
pub fn plan(cfg: &TrainConfig, records: usize) -> Result<TrainPlan, EngineError> {
    cfg.validate()?;
    let schedule = DpSchedule::of(records, cfg.batch_size, cfg.epochs);
    let dp = match &cfg.dp {
        Some(dp) => Some(
            crate::privacy::accountant::epsilon(
                schedule.sample_rate,
                dp.noise_multiplier,
                schedule.steps,
                dp.delta,
            )
            .map_err(|e| EngineError::Config(e.to_string()))?,
        ),
        None => None,
    };
    Ok(TrainPlan { schedule, dp })
}

/// The noisy clipped gradient of one DP-SGD step (see [`dp_gradient`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DpGradient {
    /// One tensor per parameter, in `Graph::params` order (zeros for
    /// constants).
    pub grads: Vec<Tensor>,
    /// Sum of the records' losses.
    pub loss_sum: f64,
    /// Records whose gradient norm exceeded C.
    pub clipped: usize,
    /// Largest per-record gradient norm before clipping.
    pub max_norm: f64,
}

/// Where the loss is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LossOn {
    /// Softmax cross-entropy on this logit value ([N, K]).
    Logits(ValueId),
    /// Log-probabilities (output of a LogSoftmax).
    LogProbs(ValueId),
    /// -log(clamp(p_y)) on the probability output.
    Probs(ValueId),
}

/// The value the loss is computed on, and which nodes are needed for it.
fn loss_target(graph: &Graph) -> LossOn {
    let producer = graph.nodes.iter().find(|n| n.output == graph.output);
    if let Some(node) = producer {
        match &node.op {
            Op::Softmax { axis, coerce_2d } if is_last_axis(*axis, *coerce_2d) => {
                return LossOn::Logits(node.inputs[0]);
            }
            Op::LogSoftmax { axis, coerce_2d } if is_last_axis(*axis, *coerce_2d) => {
                return LossOn::LogProbs(graph.output);
            }
            _ => {}
        }
    }
    match graph.output_kind {
        OutputKind::Logits => LossOn::Logits(graph.output),
        OutputKind::Probabilities => LossOn::Probs(graph.output),
    }
}

fn is_last_axis(axis: i64, _coerce_2d: bool) -> bool {
    // For [N, K] outputs, axis 1 and -1 are the class axis under both the
    // opset < 13 (coerce to 2-D) and the opset >= 13 semantics.
    axis == -1 || axis == 1
}

/// Whether the graph can be trained, and if not, why.
pub fn check_trainable(graph: &Graph) -> Result<(), EngineError> {
    if let Some(node) = graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Svm(_) | Op::TreeEnsemble(_)))
    {
        return Err(EngineError::NotTrainable(format!(
            "it is a classical model ({} node '{}'); re-training classical model families (SVM, tree ensembles) is not implemented",
            node.source_op, crate::text::Shown(&node.name)
        )));
    }
    if !graph.params.iter().any(|p| p.trainable()) {
        return Err(EngineError::NotTrainable(
            "it has no trainable weights (every parameter is a fixed constant)".into(),
        ));
    }
    Ok(())
}

/// Fresh parameters: trainable ones re-initialised from `seed`, constants
/// copied from `template`.
pub fn init_params(graph: &Graph, template: &ParamSet, seed: u64) -> ParamSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    graph
        .params
        .iter()
        .zip(template)
        .map(|(p, t)| match p.role {
            ParamRole::Weight { fan_in, .. } => {
                let b = (6.0 / fan_in.max(1) as f32).sqrt();
                ArrayD::from_shape_simple_fn(t.raw_dim(), || rng.gen_range(-b..=b))
            }
            ParamRole::Bias => ArrayD::zeros(t.raw_dim()),
            ParamRole::Constant => t.clone(),
        })
        .collect()
}

/// Rows `idx` of a batch tensor.
fn take_rows(x: &Tensor, idx: &[usize]) -> Tensor {
    x.select(Axis(0), idx)
}

/// Mean loss over the batch and dLoss/dValue for the loss target.
fn loss_and_grad(on: LossOn, value: &Tensor, y: &[usize]) -> Result<(f64, Tensor), EngineError> {
    let n = y.len();
    let nf = n as f32;
    let m = super::proba::as_matrix(value)?;
    let k = m.ncols();
    let check_label = |label: usize, classes: usize| {
        if label >= classes {
            Err(EngineError::Config(format!(
                "label {label} is outside the model's {classes} classes"
            )))
        } else {
            Ok(())
        }
    };
    let mut grad = Array2::<f32>::zeros((n, k));
    let mut loss = 0.0f64;
    match on {
        LossOn::Logits(_) if k >= 2 => {
            let p = probabilities(value, OutputKind::Logits)?;
            for i in 0..n {
                check_label(y[i], k)?;
                loss -= (p[[i, y[i]]].max(1e-30) as f64).p_ln();
                for j in 0..k {
                    let t = if j == y[i] { 1.0 } else { 0.0 };
                    grad[[i, j]] = (p[[i, j]] - t) / nf;
                }
            }
        }
        LossOn::Logits(_) => {
            for i in 0..n {
                check_label(y[i], 2)?;
                let s = m[[i, 0]] as f64;
                let t = y[i] as f64;
                // BCE with logits, stable: max(s,0) - s t + log(1 + e^-|s|)
                loss += s.max(0.0) - s * t + (-s.abs()).p_exp().p_ln_1p();
                let sig = 1.0 / (1.0 + (-s).p_exp());
                grad[[i, 0]] = ((sig - t) / n as f64) as f32;
            }
        }
        LossOn::LogProbs(_) => {
            for i in 0..n {
                check_label(y[i], k)?;
                loss -= m[[i, y[i]]] as f64;
                grad[[i, y[i]]] = -1.0 / nf;
            }
        }
        LossOn::Probs(_) => {
            for i in 0..n {
                if k == 1 {
                    check_label(y[i], 2)?;
                    let p = m[[i, 0]].clamp(1e-7, 1.0 - 1e-7);
                    let (py, dp) = if y[i] == 1 {
                        (p, -1.0 / p)
                    } else {
                        (1.0 - p, 1.0 / (1.0 - p))
                    };
                    loss -= (py as f64).p_ln();
                    grad[[i, 0]] = dp / nf;
                } else {
                    check_label(y[i], k)?;
                    let p = m[[i, y[i]]];
                    let pc = p.clamp(1e-7, 1.0);
                    loss -= (pc as f64).p_ln();
                    if p > 1e-7 {
                        grad[[i, y[i]]] = -1.0 / (pc * nf);
                    }
                }
            }
        }
    }
    let grad = grad
        .into_shape_with_order(IxDyn(value.shape()))
        .map_err(|e| EngineError::op("Loss", e.to_string()))?;
    Ok((loss / n.max(1) as f64, grad))
}

/// Accuracy of `params` on (x, y), evaluated in batches.
pub fn accuracy(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
    y: &[usize],
    batch_size: usize,
) -> Result<f64, EngineError> {
    let n = y.len();
    if n == 0 {
        return Ok(0.0);
    }
    let mut correct = 0usize;
    let bs = batch_size.max(1);
    for start in (0..n).step_by(bs) {
        let end = (start + bs).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let out = graph.forward(params, &take_rows(x, &idx))?;
        let p = probabilities(&out, graph.output_kind)?;
        correct += argmax_rows(&p)
            .iter()
            .zip(&y[start..end])
            .filter(|(a, b)| a == b)
            .count();
    }
    Ok(correct as f64 / n as f64)
}

/// Accuracy and median per-record loss of `params` on (x, y), evaluated
/// in batches, from the graph's own output with the conventions of
/// [`super::proba::fit_signals`] (the same ones the attacks use on the
/// target).
pub fn fit(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
    y: &[usize],
    batch_size: usize,
) -> Result<super::proba::Fit, EngineError> {
    let n = y.len();
    let bs = batch_size.max(1);
    let mut phis = Vec::with_capacity(n);
    let mut correct = Vec::with_capacity(n);
    for start in (0..n).step_by(bs) {
        let end = (start + bs).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let out = graph.forward(params, &take_rows(x, &idx))?;
        let raw = super::proba::as_matrix(&out)?.mapv(f64::from);
        let classes = raw.ncols().max(2);
        if let Some(&bad) = y[start..end].iter().find(|&&l| l >= classes) {
            return Err(EngineError::Config(format!(
                "label {bad} is outside the model's {classes} classes"
            )));
        }
        let (_, phi, ok) = super::proba::fit_signals(&raw, graph.output_kind, &y[start..end]);
        phis.extend(phi);
        correct.extend(ok);
    }
    Ok(
        super::proba::Fit::of(phis, correct).unwrap_or(super::proba::Fit {
            accuracy: 0.0,
            loss_median: f64::NAN,
            records: 0,
        }),
    )
}

/// The L2 coefficient at which `params` would be a stationary point of the
/// trainer's objective on (x, y) (mean loss + `l2/2 ||w||^2`, weights
/// only), and how well that explains the gradient ([`Stationarity`]). A
/// model trained to convergence with an L2 penalty gives its coefficient
/// (scaled to this convention) and a cosine near 1; an unregularised model
/// still fitting separable data also has its gradient against its weights
/// (growing the weights lowers the loss) but with a coefficient near 0.
/// Gradients over the full data, in batches of `batch_size`, summed in f64.
pub fn l2_stationarity(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
    y: &[usize],
    batch_size: usize,
) -> Result<Stationarity, EngineError> {
    check_trainable(graph)?;
    let n = y.len();
    if n == 0 || x.shape().first() != Some(&n) {
        return Err(EngineError::Config(format!(
            "the stationarity check needs as many labels as rows: {} rows, {} labels",
            x.shape().first().copied().unwrap_or(0),
            n
        )));
    }
    let on = loss_target(graph);
    let g = truncated_graph(graph, on);
    let is_weight: Vec<bool> = graph
        .params
        .iter()
        .map(|p| p.trainable() && matches!(p.role, ParamRole::Weight { .. }))
        .collect();
    let mut grad: Vec<Vec<f64>> = params
        .iter()
        .zip(&is_weight)
        .map(|(t, &w)| if w { vec![0.0; t.len()] } else { vec![] })
        .collect();
    let bs = batch_size.max(1);
    for start in (0..n).step_by(bs) {
        let end = (start + bs).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let tape = g.forward_tape(params, &take_rows(x, &idx))?;
        let (_, dl) = loss_and_grad(on, tape.get(g.output), &y[start..end])?;
        let gp = g.backward(&tape, dl)?.params;
        // loss_and_grad averages over the batch: weight it by its share
        let share = (end - start) as f64 / n as f64;
        for (i, t) in gp.iter().enumerate() {
            if is_weight[i] {
                for (acc, &v) in grad[i].iter_mut().zip(t.iter()) {
                    *acc += share * v as f64;
                }
            }
        }
    }
    let (mut gw, mut ww, mut gg) = (0.0f64, 0.0f64, 0.0f64);
    for (i, t) in params.iter().enumerate() {
        if !is_weight[i] {
            continue;
        }
        for (&gv, &wv) in grad[i].iter().zip(t.iter()) {
            let wv = wv as f64;
            gw += gv * wv;
            ww += wv * wv;
            gg += gv * gv;
        }
    }
    if ww <= 0.0 || gg <= 0.0 {
        return Ok(Stationarity {
            l2: 0.0,
            cosine: 0.0,
            residual: 1.0,
            records: n,
        });
    }
    let l2 = (-gw / ww).max(0.0);
    let cosine = -gw / (gg.sqrt() * ww.sqrt());
    // |g + l2 w|^2 = gg + 2 l2 gw + l2^2 ww
    let residual = ((gg + 2.0 * l2 * gw + l2 * l2 * ww).max(0.0) / gg).sqrt();
    Ok(Stationarity {
        l2,
        cosine,
        residual,
        records: n,
    })
}

/// A graph that ends at the loss target (the output, or the logits before a
/// final Softmax).
fn truncated_graph(graph: &Graph, on: LossOn) -> Graph {
    let target = match on {
        LossOn::Logits(v) | LossOn::LogProbs(v) | LossOn::Probs(v) => v,
    };
    if target == graph.output {
        return graph.clone();
    }
    let mut g = graph.clone();
    g.nodes.retain(|n| n.output != graph.output);
    g.output = target;
    g
}

/// The per-record gradients of `rows`, clipped, summed, noised and divided
/// by `expected_batch` (one DP-SGD step, see the module docs), on the loss
/// the trainer uses. Noise from `rng`.
#[allow(clippy::too_many_arguments)]
fn dp_step(
    g: &Graph,
    on: LossOn,
    trainable: &[bool],
    params: &ParamSet,
    x: &Tensor,
    y: &[usize],
    rows: &[usize],
    dp: &DpConfig,
    expected_batch: f64,
    rng: &mut ChaCha8Rng,
    epoch: usize,
) -> Result<DpGradient, EngineError> {
    let mut acc: Vec<Tensor> = params.iter().map(|t| ArrayD::zeros(t.raw_dim())).collect();
    let mut loss_sum = 0.0;
    let mut clipped = 0usize;
    let mut max_norm = 0.0f64;
    let c = dp.clip_norm;
    for &r in rows {
        let xb = take_rows(x, &[r]);
        let tape = g.forward_tape(params, &xb)?;
        let (loss, grad) = loss_and_grad(on, tape.get(g.output), &[y[r]])?;
        if !loss.is_finite() {
            return Err(EngineError::Diverged { epoch, loss });
        }
        loss_sum += loss;
        let grads = g.backward(&tape, grad)?;
        let norm = grads
            .params
            .iter()
            .zip(trainable)
            .filter(|(_, &t)| t)
            .map(|(gp, _)| gp.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>())
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() {
            return Err(EngineError::NonFinite(format!(
                "the gradient of training record {r} (epoch {epoch})"
            )));
        }
        max_norm = max_norm.max(norm);
        let factor = (c / (norm + 1e-6)).min(1.0);
        if norm > c {
            clipped += 1;
        }
        for ((a, gp), &t) in acc.iter_mut().zip(&grads.params).zip(trainable) {
            if t {
                a.scaled_add(factor as f32, gp);
            }
        }
    }
    let std = dp.noise_multiplier * c;
    let scale = 1.0 / expected_batch;
    for (a, &t) in acc.iter_mut().zip(trainable) {
        if !t {
            continue;
        }
        a.mapv_inplace(|v| {
            let z: f64 = rng.sample(StandardNormal);
            ((v as f64 + std * z) * scale) as f32
        });
    }
    Ok(DpGradient {
        grads: acc,
        loss_sum,
        clipped,
        max_norm,
    })
}

/// One DP-SGD step's gradient on the records `rows` of (x, y): each
/// record's gradient clipped to `dp.clip_norm`, summed, plus
/// N(0, (sigma C)^2) per coordinate (ChaCha8 seeded by `noise_seed`),
/// divided by `expected_batch` (q N). Exposed for tests and teaching; the
/// trainer uses the same code.
#[allow(clippy::too_many_arguments)]
pub fn dp_gradient(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
    y: &[usize],
    rows: &[usize],
    dp: &DpConfig,
    expected_batch: f64,
    noise_seed: u64,
) -> Result<DpGradient, EngineError> {
    dp.validate()?;
    if !(expected_batch.is_finite() && expected_batch > 0.0) {
        return Err(EngineError::Config(format!(
            "the expected batch size must be > 0, got {expected_batch}"
        )));
    }
    let n = y.len();
    if x.shape().first() != Some(&n) {
        return Err(EngineError::Config(format!(
            "training needs as many labels as rows: {} rows, {} labels",
            x.shape().first().copied().unwrap_or(0),
            n
        )));
    }
    if let Some(&r) = rows.iter().find(|&&r| r >= n) {
        return Err(EngineError::Config(format!(
            "record {r} is outside the {n} training records"
        )));
    }
    if params.len() != graph.params.len() {
        return Err(EngineError::Config(format!(
            "{} parameter tensors for a graph with {}",
            params.len(),
            graph.params.len()
        )));
    }
    let on = loss_target(graph);
    let g = truncated_graph(graph, on);
    let trainable: Vec<bool> = graph.params.iter().map(|p| p.trainable()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(noise_seed);
    dp_step(
        &g,
        on,
        &trainable,
        params,
        x,
        y,
        rows,
        dp,
        expected_batch,
        &mut rng,
        0,
    )
}

/// Fit the trainable parameters of `params` (in place) on (x, y).
/// `progress` is called after every epoch; returning `false` cancels.
pub fn train(
    graph: &Graph,
    params: &mut ParamSet,
    x: &Tensor,
    y: &[usize],
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(EpochProgress) -> bool,
) -> Result<TrainReport, EngineError> {
    cfg.validate()?;
    check_trainable(graph)?;
    let n = y.len();
    if n == 0 || x.shape().first() != Some(&n) {
        return Err(EngineError::Config(format!(
            "training needs as many labels as rows: {} rows, {} labels",
            x.shape().first().copied().unwrap_or(0),
            n
        )));
    }
    let on = loss_target(graph);
    let g = truncated_graph(graph, on);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_7a11);
    let mut noise_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xd9_5e6d_0153);
    let mut order: Vec<usize> = (0..n).collect();
    let trainable: Vec<bool> = graph.params.iter().map(|p| p.trainable()).collect();
    let is_weight: Vec<bool> = graph
        .params
        .iter()
        .map(|p| matches!(p.role, ParamRole::Weight { .. }))
        .collect();
    let mut m1: Vec<Tensor> = params.iter().map(|t| ArrayD::zeros(t.raw_dim())).collect();
    let mut m2: Vec<Tensor> = m1.clone();
    let mut step = 0i32;
    // grows with the epochs run (a calibrated run stops early)
    let mut history = Vec::with_capacity(cfg.epochs.min(1024));
    let mut train_accuracy = 0.0;
    let mut train_loss_median = f64::NAN;
    let mut stopped_by = "epochs";
    let mut epochs_run = 0;
    // DP-SGD: Poisson rate, steps per epoch, expected batch size
    let DpSchedule {
        sample_rate: q,
        steps_per_epoch,
        ..
    } = DpSchedule::of(n, cfg.batch_size, cfg.epochs);
    let expected_batch = q * n as f64;
    let (mut clipped, mut seen) = (0u64, 0u64);
    let (mut best, mut stale) = (f64::INFINITY, 0usize);
    for epoch in 1..=cfg.epochs {
        let batches: Vec<Vec<usize>> = if cfg.dp.is_some() {
            (0..steps_per_epoch)
                .map(|_| (0..n).filter(|_| rng.gen::<f64>() < q).collect())
                .collect()
        } else {
            order.shuffle(&mut rng);
            order.chunks(cfg.batch_size).map(|c| c.to_vec()).collect()
        };
        let mut epoch_loss = 0.0;
        let mut epoch_rows = 0usize;
        for chunk in &batches {
            let grads = match &cfg.dp {
                Some(dp) => {
                    let d = dp_step(
                        &g,
                        on,
                        &trainable,
                        params,
                        x,
                        y,
                        chunk,
                        dp,
                        expected_batch,
                        &mut noise_rng,
                        epoch,
                    )?;
                    epoch_loss += d.loss_sum;
                    clipped += d.clipped as u64;
                    seen += chunk.len() as u64;
                    d.grads
                }
                None => {
                    let xb = take_rows(x, chunk);
                    let yb: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
                    let tape = g.forward_tape(params, &xb)?;
                    let (loss, grad) = loss_and_grad(on, tape.get(g.output), &yb)?;
                    if !loss.is_finite() {
                        return Err(EngineError::Diverged { epoch, loss });
                    }
                    epoch_loss += loss * chunk.len() as f64;
                    g.backward(&tape, grad)?.params
                }
            };
            epoch_rows += chunk.len();
            step += 1;
            for (i, mut gp) in grads.into_iter().enumerate() {
                if !trainable[i] {
                    continue;
                }
                if is_weight[i] && cfg.l2 > 0.0 {
                    gp.scaled_add(cfg.l2, &params[i]);
                }
                match cfg.optimizer {
                    Optimizer::Sgd { lr, momentum } => {
                        if momentum > 0.0 {
                            m1[i].mapv_inplace(|v| v * momentum);
                            m1[i] += &gp;
                            params[i].scaled_add(-lr, &m1[i]);
                        } else {
                            params[i].scaled_add(-lr, &gp);
                        }
                    }
                    Optimizer::Adam {
                        lr,
                        beta1,
                        beta2,
                        eps,
                    } => {
                        let bc1 = 1.0 - beta1.p_powi(step);
                        let bc2 = 1.0 - beta2.p_powi(step);
                        let (p, a, b) = (&mut params[i], &mut m1[i], &mut m2[i]);
                        ndarray::Zip::from(p)
                            .and(a)
                            .and(b)
                            .and(&gp)
                            .for_each(|p, a, b, &g| {
                                *a = beta1 * *a + (1.0 - beta1) * g;
                                *b = beta2 * *b + (1.0 - beta2) * g * g;
                                let mhat = *a / bc1;
                                let vhat = *b / bc2;
                                *p -= lr * mhat / (vhat.sqrt() + eps);
                            });
                    }
                }
            }
        }
        // the mean loss over the records of this epoch's steps (all N
        // without DP; the Poisson samples with DP)
        let loss = epoch_loss / epoch_rows.max(1) as f64;
        history.push(loss);
        epochs_run = epoch;
        let f = fit(graph, params, x, y, 1024)?;
        train_accuracy = f.accuracy;
        train_loss_median = f.loss_median;
        let go_on = progress(EpochProgress {
            epoch,
            epochs: cfg.epochs,
            loss,
            train_accuracy,
            train_loss_median,
        });
        if let Some(t) = cfg.target_accuracy {
            if train_accuracy >= t {
                stopped_by = "target_accuracy";
                break;
            }
        }
        if let Some(t) = cfg.target_loss {
            if train_loss_median <= t {
                stopped_by = "target_loss";
                break;
            }
        }
        if let Some(p) = cfg.plateau {
            let mut objective = loss;
            if cfg.l2 > 0.0 {
                let w2: f64 = params
                    .iter()
                    .zip(&is_weight)
                    .filter(|(_, &w)| w)
                    .map(|(t, _)| t.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>())
                    .sum();
                objective += 0.5 * cfg.l2 as f64 * w2;
            }
            if !best.is_finite() || objective < best - p.tol * best.abs().max(1.0) {
                stale = 0;
            } else {
                stale += 1;
            }
            best = best.min(objective);
            if stale >= p.patience {
                stopped_by = "plateau";
                break;
            }
        }
        if !go_on {
            stopped_by = "cancelled";
            break;
        }
    }
    let dp = cfg.dp.map(|dp| {
        let steps = (epochs_run * steps_per_epoch) as u64;
        let eps = crate::privacy::accountant::epsilon(q, dp.noise_multiplier, steps, dp.delta)
            .ok()
            .map(|e| e.epsilon)
            .filter(|e| e.is_finite());
        DpReport {
            clip_norm: dp.clip_norm,
            noise_multiplier: dp.noise_multiplier,
            sample_rate: q,
            expected_batch_size: expected_batch,
            steps,
            delta: dp.delta,
            epsilon: eps,
            clipped,
            records_seen: seen,
        }
    });
    Ok(TrainReport {
        epochs_run,
        final_loss: history.last().copied().unwrap_or(f64::NAN),
        train_accuracy,
        train_loss_median,
        stopped_by: stopped_by.to_string(),
        loss_history: history,
        dp,
    })
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_trainers() {
        // 300 records, batch 32: q = 32/300, ceil(300/32) = 10 steps per epoch
        let s = DpSchedule::of(300, 32, 5);
        assert_eq!((s.steps_per_epoch, s.steps), (10, 50));
        assert!((s.sample_rate - 32.0 / 300.0).abs() < 1e-15);
        // a batch larger than the data: q = 1, one step per epoch
        let s = DpSchedule::of(10, 64, 3);
        assert_eq!((s.sample_rate, s.steps_per_epoch, s.steps), (1.0, 1, 3));
        assert_eq!(DpSchedule::of(0, 32, 5).steps, 0);
    }

    #[test]
    fn the_plan_checks_the_recipe_and_gives_the_accountants_epsilon() {
        let cfg = TrainConfig {
            epochs: 5,
            batch_size: 32,
            dp: Some(DpConfig {
                clip_norm: 1.0,
                noise_multiplier: 1.1,
                delta: 1e-5,
            }),
            ..TrainConfig::default()
        };
        let p = plan(&cfg, 300).unwrap();
        let want = crate::privacy::accountant::epsilon(32.0 / 300.0, 1.1, 50, 1e-5).unwrap();
        assert_eq!(p.dp.unwrap().epsilon, want.epsilon);
        let bad = TrainConfig {
            l2: -1.0,
            ..cfg.clone()
        };
        assert_eq!(plan(&bad, 300).unwrap_err().code(), "bad_config");
        let no_dp = TrainConfig { dp: None, ..cfg };
        assert!(plan(&no_dp, 300).unwrap().dp.is_none());
    }
}
