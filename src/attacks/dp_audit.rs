//! Checking a DP-SGD claim in one training run (Steinke, Nasr and Jagielski
//! 2023): train a fresh copy of a template graph with DP-SGD on the
//! training records plus canaries, each canary included independently with
//! probability 1/2, score every canary, and turn the correct guesses into an
//! epsilon lower bound ([`crate::privacy::one_run`]) to set beside the
//! accountant's epsilon for the same run.
//!
//! Contract:
//! - Canaries ([`CanaryKind::Mislabelled`]): `m` distinct training records
//!   chosen by a seeded ChaCha8 shuffle, each given a wrong label drawn
//!   uniformly from the other K - 1 classes (K from the template's output).
//!   A mislabelled record is one a model can only fit by memorising it,
//!   the strongest canary short of crafted inputs. The chosen records leave
//!   the training data (a canary's input is seen, with its wrong label,
//!   only when it is included).
//! - Inclusion: one fair coin per canary from the same stream (after the
//!   labels); the training set is the other n - m training records in
//!   their order, then the included canaries in canary order.
//! - Training: `engine::train::train` with the given config (DP-SGD when
//!   `dp` is set; Poisson sampling at q = batch / N over the N records
//!   actually trained on, canaries included), from `init_params(seed)`.
//! - Score: the trained model's logit-scaled confidence phi of the canary's
//!   (wrong) label, `engine::proba::prob_and_phi`; higher = more likely IN
//!   (the loss of the canary label, the signal the paper's black-box audit
//!   uses).
//! - Bound: `one_run::audit` with the default grid, at `beta` (default
//!   0.05, confidence 95%) and the run's `delta`.
//! - The report holds the settings, the seed, the canaries (source row,
//!   label, canary label, included, score), the guesses, the bound, the
//!   accountant's epsilon for the run and the model's fit on the training
//!   records.

use super::membership::{predict_raw, AttackError, Progress};
use crate::engine::proba::prob_and_phi;
use crate::engine::train::{init_params, train, TrainConfig, TrainReport};
use crate::engine::{Graph, OutputKind, ParamSet, Tensor};
use crate::privacy::one_run::{self, OneRunBound, DEFAULT_GUESS_FRACTIONS};
use ndarray::{concatenate, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

impl DpAuditConfig {
    /// Check the settings that do not depend on the data (the canary count
    /// against the records is checked by [`run_dp_audit`]).
    pub fn validate(&self) -> Result<(), AttackError> {
        crate::settings::Ranged::check_ranges(self)?;
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return Err(AttackError::Config(format!(
                "the DP audit's beta (1 - confidence) must be in (0, 1), got {}",
                self.beta
            )));
        }
        self.train
            .validate()
            .map_err(|e| AttackError::Config(format!("DP audit training: {e}")))
    }
}

impl crate::settings::Ranged for DpAuditConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        let mut f = vec![(
            crate::settings::CANARIES,
            crate::settings::some(self.canaries),
        )];
        f.extend(self.train.fields());
        f
    }
}

/// How canaries are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryKind {
    /// Copies of training records with a wrong label.
    Mislabelled,
}

/// Settings of [`run_dp_audit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DpAuditConfig {
    /// m, the number of canaries.
    pub canaries: usize,
    pub canary_kind: CanaryKind,
    /// The training run (DP-SGD when `dp` is set).
    pub train: TrainConfig,
    /// Seed of the canaries, their inclusion and the initial weights.
    pub seed: u64,
    /// 1 - confidence of the bound.
    pub beta: f64,
    /// Instead of the config's noise multiplier: the smallest one whose
    /// accountant epsilon for this run (q = batch / N, N the records
    /// actually trained on, `epochs * ceil(N / batch)` steps) is at most
    /// this (`privacy::accountant::noise_multiplier_for`). Needs `train.dp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_epsilon: Option<f64>,
}

impl Default for DpAuditConfig {
    fn default() -> Self {
        DpAuditConfig {
            canaries: 100,
            canary_kind: CanaryKind::Mislabelled,
            train: TrainConfig::default(),
            seed: 0,
            beta: 0.05,
            target_epsilon: None,
        }
    }
}

/// One canary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// Row of the training data it copies.
    pub source: usize,
    pub label: usize,
    pub canary_label: usize,
    pub included: bool,
    /// phi of the canary label under the trained model.
    pub score: f64,
}

/// What [`run_dp_audit`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpAuditReport {
    pub config: DpAuditConfig,
    pub canary_rule: String,
    pub score: String,
    /// Records trained on (the n - m training records that are not
    /// canaries + the included canaries).
    pub trained_on: usize,
    /// n, the training records given (canaries are made from m of them).
    pub training_records: usize,
    pub canaries: Vec<Canary>,
    pub bound: OneRunBound,
    /// The RDP accountant's epsilon for the run at the bound's delta (None
    /// without DP, or when sigma = 0: no guarantee).
    pub accountant_epsilon: Option<f64>,
    /// The noise multiplier the run used (the config's, or the one found
    /// for `target_epsilon`).
    pub noise_multiplier: Option<f64>,
    pub train: TrainSummary,
}

/// The training run, without its loss history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainSummary {
    pub epochs_run: usize,
    pub final_loss: f64,
    pub train_accuracy: f64,
    pub stopped_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<serde_json::Value>,
}

impl TrainSummary {
    fn of(r: &TrainReport) -> TrainSummary {
        TrainSummary {
            epochs_run: r.epochs_run,
            final_loss: r.final_loss,
            train_accuracy: r.train_accuracy,
            stopped_by: r.stopped_by.clone(),
            dp: r.dp.as_ref().and_then(|d| serde_json::to_value(d).ok()),
        }
    }
}

/// Train `graph` (fresh weights from `template`) on (x, y) plus canaries
/// and bound its epsilon (module docs). Returns the report and the trained
/// parameters. `progress` sees each epoch; returning false cancels.
pub fn run_dp_audit(
    graph: &Graph,
    template: &ParamSet,
    x: &Tensor,
    y: &[usize],
    cfg: &DpAuditConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<(DpAuditReport, ParamSet), AttackError> {
    let n = y.len();
    let m = cfg.canaries;
    if x.shape().first() != Some(&n) || n == 0 {
        return Err(AttackError::Input(format!(
            "the DP audit needs labelled training records: {} rows, {} labels",
            x.shape().first().copied().unwrap_or(0),
            n
        )));
    }
    cfg.validate()?;
    if m > n {
        return Err(AttackError::Config(format!(
            "the DP audit needs 2 to {n} canaries (one per training record at most), got {m}"
        )));
    }
    let delta = cfg.train.dp.map_or(1e-5, |d| d.delta);
    // the class count from the template's output
    let probe = predict_raw(graph, template, &x.select(Axis(0), &[0]))?;
    let k = probe.ncols().max(2);
    if let Some((i, &l)) = y.iter().enumerate().find(|(_, &l)| l >= k) {
        return Err(AttackError::Input(format!(
            "record {i} has label {l}, the model has {k} classes"
        )));
    }

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6470_6175_6469_7421);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    rows.truncate(m);
    // u32 draws: a usize range samples differently on 32-bit wasm
    let shift_max = u32::try_from(k - 1).map_err(|_| {
        AttackError::Input(format!("the model has {k} classes, too many for canaries"))
    })?;
    let labels: Vec<usize> = rows
        .iter()
        .map(|&r| (y[r] + 1 + rng.gen_range(0..shift_max) as usize) % k)
        .collect();
    let included: Vec<bool> = (0..m).map(|_| rng.gen::<bool>()).collect();

    let canary_x = x.select(Axis(0), &rows);
    let mut is_canary = vec![false; n];
    for &r in &rows {
        is_canary[r] = true;
    }
    let rest: Vec<usize> = (0..n).filter(|&i| !is_canary[i]).collect();
    let inc_rows: Vec<usize> = (0..m).filter(|&i| included[i]).collect();
    let train_x = concatenate(
        Axis(0),
        &[
            x.select(Axis(0), &rest).view(),
            canary_x.select(Axis(0), &inc_rows).view(),
        ],
    )
    .map_err(|e| AttackError::Input(format!("cannot stack the canaries: {e}")))?;
    let mut train_y: Vec<usize> = rest.iter().map(|&i| y[i]).collect();
    train_y.extend(inc_rows.iter().map(|&i| labels[i]));

    let mut params = init_params(graph, template, cfg.seed);
    let mut tcfg = cfg.train.clone();
    tcfg.seed = cfg.seed;
    if let Some(eps) = cfg.target_epsilon {
        let Some(dp) = tcfg.dp.as_mut() else {
            return Err(AttackError::Config(
                "a target epsilon needs DP-SGD settings (clipping norm, delta)".into(),
            ));
        };
        let big_n = train_y.len();
        let q = (tcfg.batch_size as f64 / big_n as f64).min(1.0);
        let steps = (tcfg.epochs as u64).saturating_mul(big_n.div_ceil(tcfg.batch_size) as u64);
        let s = crate::privacy::accountant::noise_multiplier_for(eps, q, steps, dp.delta)
            .map_err(|e| AttackError::Config(format!("target epsilon {eps}: {e}")))?;
        dp.noise_multiplier = s.noise_multiplier;
    }
    let epochs = tcfg.epochs;
    let report = train(graph, &mut params, &train_x, &train_y, &tcfg, &mut |p| {
        progress(Progress {
            done: p.epoch,
            total: epochs,
            stage: format!("DP audit: training epoch {}/{}", p.epoch, epochs),
        })
    })?;
    if report.stopped_by == "cancelled" {
        return Err(AttackError::Cancelled);
    }

    let raw = predict_raw(graph, &params, &canary_x)?;
    let kind: OutputKind = graph.output_kind;
    let scores: Vec<f64> = (0..m)
        .map(|i| prob_and_phi(&raw.row(i).to_vec(), kind, labels[i]).1)
        .collect();
    let bound = one_run::audit(
        &scores,
        &included,
        delta,
        cfg.beta,
        &DEFAULT_GUESS_FRACTIONS,
    )
    .map_err(|e| AttackError::Config(e.to_string()))?;
    let canaries = (0..m)
        .map(|i| Canary {
            source: rows[i],
            label: y[rows[i]],
            canary_label: labels[i],
            included: included[i],
            score: scores[i],
        })
        .collect();
    let accountant_epsilon = report.dp.as_ref().and_then(|d| d.epsilon);
    Ok((
        DpAuditReport {
            config: cfg.clone(),
            canary_rule: "m distinct training records (seeded shuffle) taken out of the training data, each given a wrong label drawn uniformly from the other classes; each such canary included in training with probability 1/2 (seeded)".into(),
            score: "phi of the canary label under the trained model (logit-scaled confidence, higher = more likely IN)".into(),
            trained_on: train_y.len(),
            training_records: n,
            canaries,
            bound,
            accountant_epsilon,
            noise_multiplier: tcfg.dp.map(|d| d.noise_multiplier),
            train: TrainSummary::of(&report),
        },
        params,
    ))
}
