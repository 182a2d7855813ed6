//! Statistics on membership-attack scores: what every attack reports
//! (docs/attacks.md, "Statistics").
//!
//! Input: one score per member and per non-member (higher = more likely a
//! member, NaN rejected with its index, infinities allowed), their class
//! labels and a [`StatsConfig`]. [`evaluate`] returns an [`AttackStats`]:
//! - the exact ROC over all distinct thresholds (`score >= t` is member, ties
//!   move together) and AUC = Mann-Whitney U / (m n) with ties counted 1/2,
//!   never from thresholded labels ([`roc`] module);
//! - the DeLong 95% CI of the AUC, fast midrank form, clamped to [0, 1]
//!   ([`delong`]);
//! - TPR at FPR = 10%, 1%, 0.1% and 0%, each with `resolvable` (false when
//!   level x n_nonmembers < 1) and its threshold; membership advantage
//!   max(TPR - FPR) with its threshold; PPV = pi TPR / (pi TPR + (1 - pi) FPR)
//!   at the stated prior pi at the advantage threshold and at each TPR@FPR
//!   point (`None` for 0/0);
//! - the empirical epsilon lower bound with Clopper-Pearson bounds (each at
//!   alpha/2), threshold chosen on a seeded held-out half and evaluated on the
//!   other ([`epsilon`]);
//! - per-class slices and the most exposed members ([`records`]);
//! - across attacks, the per-record table: each record's rank among the
//!   non-members, its flags at 1% and 0.1% FPR, how many attacks flag it and
//!   how the attacks agree ([`vulnerability`]);
//! - a compact ROC for plotting (at most ~500 points, exact at low FPR); the
//!   AUC always comes from the exact curve.
//!
//! Pure: no clocks, no OS randomness; the only randomness is the ChaCha8
//! split seeded by `StatsConfig::seed`.

pub mod delong;
pub mod epsilon;
pub mod records;
pub mod roc;
pub mod slices;
pub mod vulnerability;

pub use delong::{delong_ci, DelongCi};
pub use epsilon::{
    clopper_pearson, eps_lower_bound, epsilon_bounds, EpsilonBounds, EpsilonDetails,
};
pub use records::{ClassStats, ExposedRecord};
pub use roc::{auc, ppv, roc, Roc, RocCurve, TprAtFpr};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// FPR levels of the `tpr_at_fpr` table, with their report keys.
pub const FPR_LEVELS: [(&str, f64); 4] =
    [("0.1", 0.1), ("0.01", 0.01), ("0.001", 0.001), ("0", 0.0)];

/// Errors of the statistics module.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StatsError {
    #[error("no {0} scores: the statistics need at least one member and one non-member")]
    Empty(&'static str),
    #[error("the score of {set} row {index} is NaN")]
    NanScore { set: &'static str, index: usize },
    #[error("{set}: {labels} labels for {scores} scores")]
    LabelLength {
        set: &'static str,
        labels: usize,
        scores: usize,
    },
    #[error("invalid statistics setting: {0}")]
    InvalidArgument(String),
}

/// Settings of the statistics (recorded in the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsConfig {
    /// delta of (eps, delta)-DP in the epsilon lower bound, in [0, 1).
    pub delta: f64,
    /// 1 - confidence of the Clopper-Pearson interval, in (0, 1); each bound
    /// is at alpha / 2.
    pub alpha: f64,
    /// Member prior pi for the PPV, in (0, 1).
    pub prior: f64,
    /// Rows in the most-exposed table.
    pub top_k: usize,
    /// Seed of the held-out split of the epsilon bound.
    pub seed: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            delta: 1e-5,
            alpha: 0.05,
            prior: 0.5,
            top_k: 20,
            seed: 0,
        }
    }
}

impl StatsConfig {
    /// Check every setting's range.
    pub fn validate(&self) -> Result<(), StatsError> {
        let bad = |what: String| Err(StatsError::InvalidArgument(what));
        if let Err(e) = crate::settings::Ranged::check_ranges(self) {
            return bad(e.to_string());
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad(format!("alpha must be in (0, 1), got {}", self.alpha));
        }
        if !(0.0..1.0).contains(&self.delta) {
            return bad(format!("delta must be in [0, 1), got {}", self.delta));
        }
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return bad(format!("prior must be in (0, 1), got {}", self.prior));
        }
        Ok(())
    }
}

impl crate::settings::Ranged for StatsConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        vec![(crate::settings::TOP_K, crate::settings::some(self.top_k))]
    }
}

/// PPV at the stated member prior.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpvStats {
    pub prior: f64,
    /// At the advantage-maximising threshold.
    pub at_advantage: Option<f64>,
    /// At each TPR@FPR point (same keys as `tpr_at_fpr`).
    pub at_tpr_at_fpr: BTreeMap<String, Option<f64>>,
}

/// Everything the report shows for one attack's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackStats {
    pub n_members: usize,
    pub n_nonmembers: usize,
    pub auc: f64,
    /// DeLong 95% CI, [low, high]; [0, 1] when undefined (see `notes`).
    pub auc_ci95: [f64; 2],
    pub auc_variance: Option<f64>,
    pub advantage: f64,
    /// `score >= threshold` is member; `None` = above every score.
    pub advantage_threshold: Option<f64>,
    pub advantage_tpr: f64,
    pub advantage_fpr: f64,
    /// TPR at each FPR level; keys "0.1", "0.01", "0.001", "0". Serialized
    /// as plain numbers under `tpr_at_fpr`; the full points (threshold,
    /// counts, resolvability) under `tpr_at_fpr_detail`.
    #[serde(rename = "tpr_at_fpr_detail")]
    pub tpr_at_fpr: BTreeMap<String, TprAtFpr>,
    #[serde(rename = "tpr_at_fpr")]
    pub tpr_at_fpr_values: BTreeMap<String, f64>,
    pub ppv: PpvStats,
    pub epsilon_lower_bound: f64,
    pub epsilon: EpsilonDetails,
    /// Compact ROC for plotting.
    pub roc: Roc,
    /// Points of the exact ROC (the compact one may hold fewer).
    pub roc_exact_points: usize,
    pub per_class: Vec<ClassStats>,
    pub most_exposed: Vec<ExposedRecord>,
    pub config: StatsConfig,
    pub notes: Vec<String>,
}

/// All statistics for one attack's scores.
pub fn evaluate(
    members: &[f64],
    nonmembers: &[f64],
    member_labels: &[usize],
    nonmember_labels: &[usize],
    cfg: &StatsConfig,
) -> Result<AttackStats, StatsError> {
    cfg.validate()?;
    roc::check_scores(members, nonmembers)?;
    for (set, labels, scores) in [
        ("members", member_labels.len(), members.len()),
        ("non-members", nonmember_labels.len(), nonmembers.len()),
    ] {
        if labels != scores {
            return Err(StatsError::LabelLength {
                set,
                labels,
                scores,
            });
        }
    }
    let (m, n) = (members.len(), nonmembers.len());
    let mut notes = Vec::new();

    let curve = roc::roc_unchecked(members, nonmembers);
    let d = delong::delong_unchecked(members, nonmembers);
    if d.variance.is_none() {
        notes.push(format!(
            "the DeLong CI needs at least 2 members and 2 non-members ({m} and {n}): \
             the interval is [0, 1]"
        ));
    }
    let (ai, advantage) = curve.advantage();
    let mut tpr_at_fpr = BTreeMap::new();
    let mut ppv_points = BTreeMap::new();
    for (key, level) in FPR_LEVELS {
        let p = curve.tpr_at_fpr(level);
        ppv_points.insert(key.to_string(), ppv(p.tpr, p.fpr, cfg.prior));
        tpr_at_fpr.insert(key.to_string(), p);
    }
    let eps = epsilon::heldout_epsilon(members, nonmembers, cfg.alpha, cfg.delta, cfg.seed);
    if let Some(note) = &eps.note {
        notes.push(format!("epsilon lower bound: {note}"));
    }
    Ok(AttackStats {
        n_members: m,
        n_nonmembers: n,
        auc: d.auc,
        auc_ci95: d.ci95,
        auc_variance: d.variance,
        advantage,
        advantage_threshold: curve.thresholds[ai],
        advantage_tpr: curve.tpr[ai],
        advantage_fpr: curve.fpr[ai],
        tpr_at_fpr_values: tpr_at_fpr.iter().map(|(k, v)| (k.clone(), v.tpr)).collect(),
        tpr_at_fpr,
        ppv: PpvStats {
            prior: cfg.prior,
            at_advantage: ppv(curve.tpr[ai], curve.fpr[ai], cfg.prior),
            at_tpr_at_fpr: ppv_points,
        },
        epsilon_lower_bound: eps.value,
        epsilon: eps,
        roc: curve.compact(),
        roc_exact_points: curve.len(),
        per_class: records::per_class(members, nonmembers, member_labels, nonmember_labels),
        most_exposed: records::most_exposed(members, nonmembers, member_labels, cfg.top_k),
        config: cfg.clone(),
        notes,
    })
}
