//! Threshold attacks (no reference models): `loss` (Yeom et al. 2018),
//! `confidence`, `entropy` and `modified_entropy` (Song & Mittal 2021).
//!
//! Contract:
//! - The score of a record is its signal (see [`super::signals`]) oriented
//!   so that higher = more likely a member:
//!   `loss`: -l; `confidence`: p_y; `entropy`: -H; `modified_entropy`: -Mentr.
//!   The statistics sweep a threshold over these scores, so the attack
//!   itself never picks a threshold.
//! - **Class-dependent thresholds** (optional, [`ThresholdConfig::class_dependent`]):
//!   one threshold per class is realised by calibrating each raw score
//!   within its class, `score' = F_c(score)`, where F_c is the mid-rank
//!   empirical CDF of the class's *reference non-member* scores:
//!   `F(s) = (#{r < s} + #{r = s} / 2) / n`. Thresholding score' at t is
//!   then a per-class threshold at the class's non-member quantile t.
//!   Reference non-members:
//!   - the population records of the class, when population records are
//!     given (they are never in the target's training set; every audit record
//!     is calibrated against them);
//!   - otherwise the audit's own non-members of the class, **leave-one-out**:
//!     a non-member is calibrated against the other non-members of its class
//!     (never against itself), a member against all of them. With no signal
//!     the calibrated scores of members and non-members have the same
//!     distribution (both uniform on a grid over [0, 1]), so no membership
//!     information enters through the calibration.
//!   - A class with no reference record (fewer than 2 audit non-members in
//!     the leave-one-out case) is calibrated against the reference records of
//!     all classes; such classes are listed in the details.
//!   - Records above every reference score of their class all get 1: the
//!     calibrated scores tie there, which is all a class-dependent threshold
//!     can resolve from that reference set.
//! - Labels outside the model's classes are [`AttackError::Input`] errors
//!   naming the record set and row.

use super::signals::{check_label_slice, Signal, Source};
use super::{AttackError, AttackOutput, AuditInputs, Outputs, Set, Target};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The four threshold attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdAttack {
    Loss,
    Confidence,
    Entropy,
    ModifiedEntropy,
}

impl ThresholdAttack {
    pub const ALL: [ThresholdAttack; 4] = [
        ThresholdAttack::Loss,
        ThresholdAttack::Confidence,
        ThresholdAttack::Entropy,
        ThresholdAttack::ModifiedEntropy,
    ];

    /// The attack id used in reports and the CLI.
    pub fn id(self) -> &'static str {
        self.signal().id()
    }

    /// The signal the attack thresholds.
    pub fn signal(self) -> Signal {
        match self {
            ThresholdAttack::Loss => Signal::Loss,
            ThresholdAttack::Confidence => Signal::Confidence,
            ThresholdAttack::Entropy => Signal::Entropy,
            ThresholdAttack::ModifiedEntropy => Signal::ModifiedEntropy,
        }
    }

    /// The score as a formula of the signal.
    pub fn score_formula(self) -> &'static str {
        match self {
            ThresholdAttack::Loss => "score = -l",
            ThresholdAttack::Confidence => "score = p_y",
            ThresholdAttack::Entropy => "score = -H",
            ThresholdAttack::ModifiedEntropy => "score = -Mentr",
        }
    }

    /// Parse an attack id.
    pub fn from_id(id: &str) -> Option<ThresholdAttack> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }
}

/// Settings of the threshold attacks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdConfig {
    /// Calibrate scores per class (one threshold per class); see the module
    /// docs for the reference set.
    pub class_dependent: bool,
}

/// Mid-rank empirical CDF of a sorted reference set, with `exclude_one`
/// removing one occurrence of the value itself (leave-one-out).
fn mid_rank_cdf(sorted: &[f64], s: f64, exclude_one: bool) -> f64 {
    let below = sorted.partition_point(|&r| r < s);
    let upto = sorted.partition_point(|&r| r <= s);
    let mut n = sorted.len() as f64;
    let mut equal = (upto - below) as f64;
    if exclude_one {
        n -= 1.0;
        equal -= 1.0;
    }
    if n <= 0.0 {
        return 0.5;
    }
    (below as f64 + equal / 2.0) / n
}

/// Oriented scores of a set (higher = member) and what they were computed
/// from.
fn oriented(
    attack: ThresholdAttack,
    outputs: &Outputs,
    set: Set,
) -> Result<(Vec<f64>, Source), AttackError> {
    let sig = attack.signal();
    let out = outputs
        .signal_output(set)?
        .ok_or_else(|| AttackError::Input(format!("no {} records", set.name())))?;
    let scores = out
        .signals(sig, outputs.labels_or_empty(set))?
        .into_iter()
        .map(|v| sig.member_sign() * v)
        .collect();
    Ok((scores, out.source))
}

/// Run one threshold attack on the target model.
pub fn run(
    attack: ThresholdAttack,
    target: &Target,
    inputs: &AuditInputs,
    cfg: &ThresholdConfig,
) -> Result<AttackOutput, AttackError> {
    run_on(attack, &Outputs::Model { target, inputs }, cfg)
}

/// Run one threshold attack on the target's outputs (a model or supplied
/// predictions).
pub fn run_on(
    attack: ThresholdAttack,
    outputs: &Outputs,
    cfg: &ThresholdConfig,
) -> Result<AttackOutput, AttackError> {
    let (n_members, n_nonmembers) = (
        outputs.labels_or_empty(Set::Members).len(),
        outputs.labels_or_empty(Set::Nonmembers).len(),
    );
    if n_members == 0 || n_nonmembers == 0 {
        return Err(AttackError::Input(format!(
            "the audit needs members and non-members (got {n_members} members, {n_nonmembers} non-members)"
        )));
    }
    // one output column = one binary score = two classes
    let k = outputs.num_classes();
    check_label_slice(outputs.labels_or_empty(Set::Members), k, "members")?;
    check_label_slice(outputs.labels_or_empty(Set::Nonmembers), k, "non-members")?;
    if let Some(pop) = outputs.labels(Set::Population) {
        check_label_slice(pop, k, "population")?;
    }
    let (mut members, source) = oriented(attack, outputs, Set::Members)?;
    let (mut nonmembers, _) = oriented(attack, outputs, Set::Nonmembers)?;
    let computed_from = source.id();
    let mut details = json!({
        "attack": attack.id(),
        "signal": attack.signal().id(),
        "signal_formula": attack.signal().formula(),
        "score": attack.score_formula(),
        "orientation": "higher score = more likely a member",
        "computed_from": computed_from,
        "class_dependent": cfg.class_dependent,
        "reference": match attack {
            ThresholdAttack::Loss => "Yeom et al. 2018",
            _ => "Song & Mittal 2021",
        },
    });
    if cfg.class_dependent {
        let pop = outputs.labels(Set::Population).filter(|p| !p.is_empty());
        // labels are checked against k above
        let classes = k;
        // reference scores per class, sorted
        let (ref_scores, ref_labels, leave_one_out, source) = match pop {
            Some(p) => (
                oriented(attack, outputs, Set::Population)?.0,
                p.to_vec(),
                false,
                "population records of the class",
            ),
            None => (
                nonmembers.clone(),
                outputs.labels_or_empty(Set::Nonmembers).to_vec(),
                true,
                "the audit's non-members of the class, leave-one-out (a non-member is never in its own reference set)",
            ),
        };
        let mut per_class: Vec<Vec<f64>> = vec![Vec::new(); classes];
        for (&s, &c) in ref_scores.iter().zip(&ref_labels) {
            per_class[c].push(s);
        }
        let mut all = ref_scores.clone();
        all.sort_by(f64::total_cmp);
        let min_ref = if leave_one_out { 2 } else { 1 };
        let mut pooled = Vec::new();
        for (c, v) in per_class.iter_mut().enumerate() {
            v.sort_by(f64::total_cmp);
            if v.len() < min_ref {
                pooled.push(c);
            }
        }
        let counts: Vec<usize> = per_class.iter().map(|v| v.len()).collect();
        let calibrate = |s: f64, c: usize, own: bool| -> f64 {
            if counts[c] < min_ref {
                // own is only true in the leave-one-out case, where the
                // record is also in the pooled set
                mid_rank_cdf(&all, s, own)
            } else {
                mid_rank_cdf(&per_class[c], s, own)
            }
        };
        for (s, &c) in members
            .iter_mut()
            .zip(outputs.labels_or_empty(Set::Members))
        {
            *s = calibrate(*s, c, false);
        }
        for (s, &c) in nonmembers
            .iter_mut()
            .zip(outputs.labels_or_empty(Set::Nonmembers))
        {
            *s = calibrate(*s, c, leave_one_out);
        }
        details["calibration"] = json!({
            "method": "score' = mid-rank empirical CDF of the class's reference non-member scores: (#below + #equal/2) / n",
            "reference": source,
            "reference_counts_per_class": counts,
            "classes_calibrated_on_all_classes": pooled,
        });
    }
    Ok(AttackOutput {
        members,
        nonmembers,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_rank_cdf_counts_ties_half_and_can_leave_one_out() {
        let r = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(mid_rank_cdf(&r, 0.0, false), 0.0);
        assert_eq!(mid_rank_cdf(&r, 2.0, false), 0.5);
        assert_eq!(mid_rank_cdf(&r, 5.0, false), 1.0);
        // 3.0 against {1, 2, 2}: all below
        assert_eq!(mid_rank_cdf(&r, 3.0, true), 1.0);
        // 2.0 against {1, 2, 3}: (1 + 1/2) / 3
        assert!((mid_rank_cdf(&r, 2.0, true) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn ids_round_trip() {
        for a in ThresholdAttack::ALL {
            assert_eq!(ThresholdAttack::from_id(a.id()), Some(a));
        }
    }
}
