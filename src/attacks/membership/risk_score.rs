//! Song & Mittal (2021) privacy risk score: per record, the posterior
//! probability of membership given a signal of the model's output,
//! `r(x, y) = P_in(s | y) / (P_in(s | y) + P_out(s | y))`, i.e. Bayes with
//! equal priors on per-class histograms of the signal.
//!
//! Contract:
//! - Signal: modified entropy by default (the signal of the authors'
//!   examples; loss, entropy or confidence can be chosen). It must be >= 0,
//!   so `phi` is refused. Values are floored at 1e-10 before binning (the
//!   authors' `small_delta`; a monotone map onto positive values).
//! - Histograms (as in the authors' `privacy_risk_score_utils.py`): per
//!   class c, `bins` (default 5) log-spaced bins between the smallest and
//!   the largest floored value of the class's reference members and
//!   non-members: edges `e_i = min * (max/min)^(i/bins)`, bin i =
//!   [e_i, e_{i+1}), the last bin closed; values below the first edge go to
//!   the first bin and above the last to the last. Each histogram is
//!   normalised by its own count (equal priors). A bin empty on both sides
//!   takes the ratio of the nearest bin that is not (looking one bin lower
//!   first, then one higher, then two lower, ...). A class whose reference
//!   data lack members or non-members uses histograms pooled over all
//!   classes; the details list such classes.
//! - Reference members and non-members are the audit's own records,
//!   cross-fitted: members and non-members are each split into two halves
//!   (a seeded ChaCha8 shuffle, then alternating assignment within each class
//!   so both halves hold about half of every class); histograms fitted on
//!   half A score half B and vice versa, so no record is scored by
//!   histograms that contain it. (This is the "target-based" setting: the
//!   analyst knows half the membership labels. [`RiskModel::fit`] accepts
//!   any reference signals, e.g. of shadow models.)
//! - Score = the risk score in [0, 1], higher = more likely a member.

use super::signals::{check_label_slice, Signal};
use super::{AttackError, AttackOutput, AuditInputs, Outputs, Set, Target};
use crate::engine::math::PortableMath;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Values are floored at this before log-spaced binning.
pub const VALUE_FLOOR: f64 = 1e-10;

/// Settings of the privacy risk score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskScoreConfig {
    pub signal: Signal,
    /// Log-spaced bins per class.
    pub bins: usize,
    /// Seed of the split into two halves.
    pub seed: u64,
}

impl Default for RiskScoreConfig {
    fn default() -> Self {
        RiskScoreConfig {
            signal: Signal::ModifiedEntropy,
            bins: 5,
            seed: 0,
        }
    }
}

impl RiskScoreConfig {
    pub fn validate(&self) -> Result<(), AttackError> {
        if self.signal == Signal::Phi {
            return Err(AttackError::Config(
                "the risk score bins a non-negative signal on a log scale: use loss, confidence, entropy or modified_entropy, not phi".into(),
            ));
        }
        crate::settings::Ranged::check_ranges(self)?;
        Ok(())
    }
}

impl crate::settings::Ranged for RiskScoreConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        vec![(crate::settings::RISK_BINS, crate::settings::some(self.bins))]
    }
}

/// Normalised member and non-member histograms of one class.
#[derive(Debug, Clone, PartialEq)]
struct Hist {
    edges: Vec<f64>,
    member: Vec<f64>,
    nonmember: Vec<f64>,
}

impl Hist {
    fn fit(members: &[f64], nonmembers: &[f64], bins: usize) -> Option<Hist> {
        if members.is_empty() || nonmembers.is_empty() {
            return None;
        }
        let fl = |v: f64| v.max(VALUE_FLOOR);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in members.iter().chain(nonmembers) {
            lo = lo.min(fl(v));
            hi = hi.max(fl(v));
        }
        let (llo, lhi) = (lo.log10(), hi.log10());
        let edges: Vec<f64> = (0..=bins)
            .map(|i| 10f64.p_powf(llo + (lhi - llo) * i as f64 / bins as f64))
            .collect();
        let mut h = Hist {
            edges,
            member: vec![0.0; bins],
            nonmember: vec![0.0; bins],
        };
        for &v in members {
            let b = h.bin(v);
            h.member[b] += 1.0 / members.len() as f64;
        }
        for &v in nonmembers {
            let b = h.bin(v);
            h.nonmember[b] += 1.0 / nonmembers.len() as f64;
        }
        Some(h)
    }

    fn bin(&self, v: f64) -> usize {
        let v = v.max(VALUE_FLOOR);
        let bins = self.member.len();
        if v >= self.edges[bins] {
            return bins - 1;
        }
        if v <= self.edges[0] {
            return 0;
        }
        (self.edges.partition_point(|&e| e <= v) - 1).min(bins - 1)
    }

    fn ratio(&self, b: usize) -> Option<f64> {
        let (m, n) = (self.member[b], self.nonmember[b]);
        (m + n > 0.0).then(|| m / (m + n))
    }

    fn score(&self, v: f64) -> f64 {
        let b = self.bin(v);
        if let Some(r) = self.ratio(b) {
            return r;
        }
        let bins = self.member.len();
        for t in 1..bins {
            if b >= t {
                if let Some(r) = self.ratio(b - t) {
                    return r;
                }
            }
            if b + t < bins {
                if let Some(r) = self.ratio(b + t) {
                    return r;
                }
            }
        }
        // unreachable for a fitted histogram (it holds at least one value)
        0.5
    }
}

/// Fitted per-class histograms: the risk score model.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskModel {
    per_class: Vec<Option<Hist>>,
    pooled: Hist,
}

impl RiskModel {
    /// Fit on reference signal values of members and non-members with their
    /// labels (all < `num_classes`).
    pub fn fit(
        member_values: &[f64],
        member_labels: &[usize],
        nonmember_values: &[f64],
        nonmember_labels: &[usize],
        num_classes: usize,
        bins: usize,
    ) -> Result<RiskModel, AttackError> {
        if bins == 0 {
            return Err(AttackError::Config(
                "the risk score needs at least 1 bin".into(),
            ));
        }
        if member_values.len() != member_labels.len()
            || nonmember_values.len() != nonmember_labels.len()
        {
            return Err(AttackError::Input(
                "risk score: as many labels as values are needed".into(),
            ));
        }
        if let Some(&v) = member_values
            .iter()
            .chain(nonmember_values)
            .find(|v| !v.is_finite())
        {
            return Err(AttackError::Input(format!(
                "risk score: signal value {v} is not finite"
            )));
        }
        if let Some(&c) = member_labels
            .iter()
            .chain(nonmember_labels)
            .find(|&&c| c >= num_classes)
        {
            return Err(AttackError::Input(format!(
                "risk score: label {c} is outside the {num_classes} classes"
            )));
        }
        let pooled =
            Hist::fit(member_values, nonmember_values, bins).ok_or_else(|| AttackError::Needs {
                attack: "risk_score".into(),
                what: "at least one reference member and one reference non-member".into(),
            })?;
        let per_class = (0..num_classes)
            .map(|c| {
                let pick = |v: &[f64], l: &[usize]| -> Vec<f64> {
                    v.iter()
                        .zip(l)
                        .filter(|(_, &y)| y == c)
                        .map(|(&s, _)| s)
                        .collect()
                };
                Hist::fit(
                    &pick(member_values, member_labels),
                    &pick(nonmember_values, nonmember_labels),
                    bins,
                )
            })
            .collect();
        Ok(RiskModel { per_class, pooled })
    }

    /// Classes scored with the pooled histograms (no reference member or
    /// non-member of their own).
    pub fn pooled_classes(&self) -> Vec<usize> {
        self.per_class
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_none())
            .map(|(c, _)| c)
            .collect()
    }

    /// The risk score of a record with signal `value` and label `label`.
    pub fn score(&self, value: f64, label: usize) -> f64 {
        match self.per_class.get(label).and_then(|h| h.as_ref()) {
            Some(h) => h.score(value),
            None => self.pooled.score(value),
        }
    }
}

/// Seeded split of labelled indices into two halves, balanced per class.
fn halves(labels: &[usize], rng: &mut ChaCha8Rng) -> [Vec<usize>; 2] {
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.shuffle(rng);
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut seen = vec![0usize; classes];
    let mut out = [Vec::new(), Vec::new()];
    for i in idx {
        let c = labels[i];
        out[seen[c] % 2].push(i);
        seen[c] += 1;
    }
    out
}

/// Run the privacy risk score attack on the target model.
pub fn run(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &RiskScoreConfig,
) -> Result<AttackOutput, AttackError> {
    run_on(&Outputs::Model { target, inputs }, cfg)
}

/// Run the privacy risk score attack on the target's outputs (a model or
/// supplied predictions).
pub fn run_on(outputs: &Outputs, cfg: &RiskScoreConfig) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    let (ym, yn) = (
        outputs.labels_or_empty(Set::Members),
        outputs.labels_or_empty(Set::Nonmembers),
    );
    if ym.len() < 2 || yn.len() < 2 {
        return Err(AttackError::Needs {
            attack: "risk_score".into(),
            what: format!(
                "at least 2 members and 2 non-members to cross-fit its histograms (got {} and {})",
                ym.len(),
                yn.len()
            ),
        });
    }
    let k = outputs.num_classes();
    check_label_slice(ym, k, "members")?;
    check_label_slice(yn, k, "non-members")?;
    let missing = |set: Set| AttackError::Input(format!("no {} records", set.name()));
    let out_m = outputs
        .signal_output(Set::Members)?
        .ok_or_else(|| missing(Set::Members))?;
    let out_n = outputs
        .signal_output(Set::Nonmembers)?
        .ok_or_else(|| missing(Set::Nonmembers))?;
    let sm = out_m.signals(cfg.signal, ym)?;
    let sn = out_n.signals(cfg.signal, yn)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let hm = halves(ym, &mut rng);
    let hn = halves(yn, &mut rng);
    let mut members = vec![0.0; sm.len()];
    let mut nonmembers = vec![0.0; sn.len()];
    let mut pooled = Vec::new();
    for fit_half in 0..2 {
        let take = |v: &[f64], idx: &[usize]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
        let labels =
            |y: &[usize], idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| y[i]).collect() };
        let (fm, fnm) = (&hm[fit_half], &hn[fit_half]);
        let model = RiskModel::fit(
            &take(&sm, fm),
            &labels(ym, fm),
            &take(&sn, fnm),
            &labels(yn, fnm),
            k,
            cfg.bins,
        )?;
        pooled.push(model.pooled_classes());
        let other = 1 - fit_half;
        for &i in &hm[other] {
            members[i] = model.score(sm[i], ym[i]);
        }
        for &i in &hn[other] {
            nonmembers[i] = model.score(sn[i], yn[i]);
        }
    }
    Ok(AttackOutput {
        members,
        nonmembers,
        details: json!({
            "attack": "risk_score",
            "score": "P(member | signal, class) with equal priors, from per-class histograms",
            "orientation": "higher score = more likely a member",
            "reference": "Song & Mittal 2021, privacy risk score",
            "signal": cfg.signal.id(),
            "signal_formula": cfg.signal.formula(),
            "computed_from": out_m.source.id(),
            "bins": cfg.bins,
            "binning": "per class, log-spaced between the smallest and largest reference value (values floored at 1e-10); empty bin -> nearest non-empty bin",
            "reference_data": "the audit's own members and non-members, split in two seeded halves balanced per class; each half is scored by histograms fitted on the other",
            "seed": cfg.seed,
            "half_sizes": {
                "members": [hm[0].len(), hm[1].len()],
                "nonmembers": [hn[0].len(), hn[1].len()],
            },
            "classes_on_pooled_histograms": pooled,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_ratio_and_nearest_non_empty_bin() {
        // members at 1e-3, non-members at 1: edges 1e-3 .. 1 in 3 bins
        let h = Hist::fit(&[1e-3, 1e-3], &[1.0], 3).unwrap();
        assert_eq!(h.score(1e-3), 1.0);
        assert_eq!(h.score(1.0), 0.0);
        // middle bin is empty on both sides: nearest lower bin first
        assert_eq!(h.score(0.05), 1.0);
        // below / above the range
        assert_eq!(h.score(0.0), 1.0);
        assert_eq!(h.score(7.0), 0.0);
    }

    #[test]
    fn halves_are_balanced_per_class() {
        let labels = [0, 0, 0, 0, 1, 1, 2];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let [a, b] = halves(&labels, &mut rng);
        assert_eq!(a.len() + b.len(), 7);
        for c in 0..3 {
            let na = a.iter().filter(|&&i| labels[i] == c).count();
            let nb = b.iter().filter(|&&i| labels[i] == c).count();
            assert!(na.abs_diff(nb) <= 1, "class {c}: {na} vs {nb}");
        }
    }
}
