//! Per-class slices and the per-record table of the most exposed members.
//!
//! Contract:
//! - Per class (every label present among members or non-members, ascending):
//!   the AUC with its DeLong 95% CI, TPR at 1% FPR and the membership
//!   advantage computed on that class's members and non-members only, with
//!   their counts. A class without members or without non-members gets `None`
//!   figures and a note saying which side is missing.
//! - Most exposed: the `top_k` members with the highest scores (ties: lower
//!   input row first), each with its input row index, label, score and the
//!   percentile of its score among all non-member scores:
//!   100 x (#non-members strictly below + 1/2 #non-members equal) / n
//!   (scipy.stats.percentileofscore with kind="mean").

use super::delong::delong_unchecked;
use super::roc::roc_unchecked;
use super::TprAtFpr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Figures within one class label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub label: usize,
    pub n_members: usize,
    pub n_nonmembers: usize,
    pub auc: Option<f64>,
    pub auc_ci95: Option<[f64; 2]>,
    /// TPR at FPR = 1% within the class.
    pub tpr_at_fpr_0_01: Option<TprAtFpr>,
    pub advantage: Option<f64>,
    pub note: Option<String>,
}

pub(crate) fn per_class(
    members: &[f64],
    nonmembers: &[f64],
    member_labels: &[usize],
    nonmember_labels: &[usize],
) -> Vec<ClassStats> {
    let classes: BTreeSet<usize> = member_labels
        .iter()
        .chain(nonmember_labels)
        .copied()
        .collect();
    let of_class = |scores: &[f64], labels: &[usize], c: usize| -> Vec<f64> {
        scores
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l == c)
            .map(|(&s, _)| s)
            .collect()
    };
    classes
        .into_iter()
        .map(|c| {
            let mc = of_class(members, member_labels, c);
            let nc = of_class(nonmembers, nonmember_labels, c);
            let mut cs = ClassStats {
                label: c,
                n_members: mc.len(),
                n_nonmembers: nc.len(),
                auc: None,
                auc_ci95: None,
                tpr_at_fpr_0_01: None,
                advantage: None,
                note: None,
            };
            if mc.is_empty() || nc.is_empty() {
                let missing = if mc.is_empty() {
                    "members"
                } else {
                    "non-members"
                };
                cs.note = Some(format!(
                    "class {c} has no {missing} ({} members, {} non-members): no figures",
                    mc.len(),
                    nc.len()
                ));
                return cs;
            }
            let d = delong_unchecked(&mc, &nc);
            let r = roc_unchecked(&mc, &nc);
            cs.auc = Some(d.auc);
            cs.auc_ci95 = Some(d.ci95);
            cs.tpr_at_fpr_0_01 = Some(r.tpr_at_fpr(0.01));
            cs.advantage = Some(r.advantage().1);
            if d.variance.is_none() {
                cs.note = Some(format!(
                    "class {c}: the DeLong CI needs at least 2 members and 2 non-members \
                     ({} and {}): the interval is [0, 1]",
                    mc.len(),
                    nc.len()
                ));
            }
            cs
        })
        .collect()
}

/// One row of the most-exposed table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposedRecord {
    /// Row of the member in the input (0-based).
    pub index: usize,
    pub label: usize,
    pub score: f64,
    /// Percent of non-members scoring strictly below, plus half of the ties.
    pub percentile: f64,
}

/// Mid-rank of `s` among the sorted non-member scores: those strictly
/// below plus half those equal.
pub(crate) fn mid_rank(sorted_nonmembers: &[f64], s: f64) -> f64 {
    let below = sorted_nonmembers.partition_point(|&x| x < s);
    let upto = sorted_nonmembers.partition_point(|&x| x <= s);
    below as f64 + 0.5 * (upto - below) as f64
}

/// A mid-rank among `n` non-members as a percentile: 100 x rank / n.
pub fn rank_percentile(rank: f64, n: usize) -> f64 {
    100.0 * rank / n as f64
}

/// Percentile of `s` among the sorted non-member scores (see the contract).
pub(crate) fn percentile_of(sorted_nonmembers: &[f64], s: f64) -> f64 {
    rank_percentile(mid_rank(sorted_nonmembers, s), sorted_nonmembers.len())
}

pub(crate) fn most_exposed(
    members: &[f64],
    nonmembers: &[f64],
    member_labels: &[usize],
    top_k: usize,
) -> Vec<ExposedRecord> {
    let mut sorted = nonmembers.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| members[b].total_cmp(&members[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(top_k)
        .map(|i| ExposedRecord {
            index: i,
            label: member_labels[i],
            score: members[i],
            percentile: percentile_of(&sorted, members[i]),
        })
        .collect()
}
