//! The exact ROC curve of a score-based membership test, its AUC, the
//! operating points read from it (TPR at a fixed FPR, membership advantage,
//! PPV) and a compact copy for plotting.
//!
//! Contract:
//! - A threshold `t` classifies `score >= t` as member. The ROC has one point
//!   per distinct score (sorted descending; records with equal scores move
//!   together, so ties give diagonal segments), preceded by the point (0, 0)
//!   whose threshold is "above every score" (`None`). The last point is
//!   (1, 1). This is the curve of scikit-learn's
//!   `roc_curve(drop_intermediate=False)`.
//! - `fpr = fp / n` and `tpr = tp / m` with `m` members and `n` non-members.
//! - AUC = U / (m n), U the Mann-Whitney statistic with ties counted 1/2,
//!   computed exactly in integers (2U) and equal to the trapezoid area under
//!   the exact ROC.
//! - TPR at FPR level `l`: the highest TPR among ROC points with `fpr <= l`
//!   (among equal TPRs, the one with the lowest FPR). `resolvable` is false
//!   when `l * n < 1`, i.e. not even one false positive is allowed, so the
//!   figure is the zero-false-positive point whatever `l` says.
//! - Membership advantage = max over ROC points of `tpr - fpr` (>= 0 since
//!   (0, 0) is a point); ties keep the highest threshold.
//! - PPV at prior `pi`: `pi tpr / (pi tpr + (1 - pi) fpr)`, `None` for 0/0.

use super::StatsError;
use crate::engine::math::PortableMath;
use serde::{Deserialize, Serialize};

/// Scores grouped by distinct value, highest first: (score, members, non-members).
pub(crate) fn tie_groups(members: &[f64], nonmembers: &[f64]) -> Vec<(f64, usize, usize)> {
    let mut all: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(nonmembers.iter().map(|&s| (s, false)))
        .collect();
    // Scores are NaN-free here; total_cmp puts -0.0 next to 0.0 and the
    // grouping below merges them with `==`.
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut groups: Vec<(f64, usize, usize)> = Vec::new();
    for (s, is_member) in all {
        match groups.last_mut() {
            Some(g) if g.0 == s => {
                if is_member {
                    g.1 += 1
                } else {
                    g.2 += 1
                }
            }
            _ => groups.push((s, usize::from(is_member), usize::from(!is_member))),
        }
    }
    groups
}

/// Reject empty sets and NaN scores, naming the index.
pub(crate) fn check_scores(members: &[f64], nonmembers: &[f64]) -> Result<(), StatsError> {
    if members.is_empty() {
        return Err(StatsError::Empty("members"));
    }
    if nonmembers.is_empty() {
        return Err(StatsError::Empty("non-members"));
    }
    for (set, scores) in [("members", members), ("non-members", nonmembers)] {
        if let Some(index) = scores.iter().position(|s| s.is_nan()) {
            return Err(StatsError::NanScore { set, index });
        }
    }
    Ok(())
}

/// Whether `n` non-members resolve an FPR of `level`: at least one false
/// positive is allowed (`1 / n <= level`), or the level is 0. The one rule
/// for every figure at a fixed FPR (TPR at FPR, per-record flags).
pub fn resolvable(level: f64, n: usize) -> bool {
    level == 0.0 || 1.0 / n as f64 <= level
}

/// The exact ROC curve: one point per distinct threshold plus (0, 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    /// Threshold of each point (`score >= t` is member); `None` for the
    /// leading (0, 0) point, which classifies nothing as member.
    pub thresholds: Vec<Option<f64>>,
    pub tp: Vec<usize>,
    pub fp: Vec<usize>,
    pub tpr: Vec<f64>,
    pub fpr: Vec<f64>,
    pub n_members: usize,
    pub n_nonmembers: usize,
}

/// The exact ROC of member scores against non-member scores.
pub fn roc(members: &[f64], nonmembers: &[f64]) -> Result<RocCurve, StatsError> {
    check_scores(members, nonmembers)?;
    Ok(roc_unchecked(members, nonmembers))
}

pub(crate) fn roc_unchecked(members: &[f64], nonmembers: &[f64]) -> RocCurve {
    let groups = tie_groups(members, nonmembers);
    let (m, n) = (members.len(), nonmembers.len());
    let len = groups.len() + 1;
    let mut r = RocCurve {
        thresholds: Vec::with_capacity(len),
        tp: Vec::with_capacity(len),
        fp: Vec::with_capacity(len),
        tpr: Vec::with_capacity(len),
        fpr: Vec::with_capacity(len),
        n_members: m,
        n_nonmembers: n,
    };
    r.push(None, 0, 0);
    let (mut tp, mut fp) = (0, 0);
    for (s, gm, gn) in groups {
        tp += gm;
        fp += gn;
        r.push(Some(s), tp, fp);
    }
    r
}

impl RocCurve {
    fn push(&mut self, t: Option<f64>, tp: usize, fp: usize) {
        self.thresholds.push(t);
        self.tp.push(tp);
        self.fp.push(fp);
        // m, n >= 1 for every curve built by `roc`.
        self.tpr.push(tp as f64 / self.n_members.max(1) as f64);
        self.fpr.push(fp as f64 / self.n_nonmembers.max(1) as f64);
    }

    /// Number of points (distinct scores + 1).
    pub fn len(&self) -> usize {
        self.tp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tp.is_empty()
    }

    /// Trapezoid area under the exact curve (equals [`auc`]).
    pub fn trapezoid_area(&self) -> f64 {
        (1..self.len())
            .map(|i| (self.fpr[i] - self.fpr[i - 1]) * (self.tpr[i] + self.tpr[i - 1]) / 2.0)
            .sum()
    }

    /// The highest TPR with FPR <= `level` (see the module contract).
    pub fn tpr_at_fpr(&self, level: f64) -> TprAtFpr {
        let n = self.n_nonmembers;
        let mut best = 0;
        for i in 0..self.len() {
            if self.fpr[i] <= level && self.tpr[i] > self.tpr[best] {
                best = i;
            }
        }
        let resolvable = resolvable(level, n);
        let note = if level == 0.0 {
            Some("zero-false-positive operating point".to_string())
        } else if !resolvable {
            Some(format!(
                "{n} non-members cannot resolve an FPR of {level}: {level} x {n} = {:.3} \
                 false positives allowed (< 1), so this is the zero-false-positive point",
                level * n as f64
            ))
        } else {
            None
        };
        TprAtFpr {
            level,
            tpr: self.tpr[best],
            fpr: self.fpr[best],
            tp: self.tp[best],
            fp: self.fp[best],
            threshold: self.thresholds[best],
            resolvable,
            note,
        }
    }

    /// Index of the point maximising `tpr - fpr` (first on ties) and the value.
    pub fn advantage(&self) -> (usize, f64) {
        let mut best = (0, self.tpr[0] - self.fpr[0]);
        for i in 1..self.len() {
            let a = self.tpr[i] - self.fpr[i];
            if a > best.1 {
                best = (i, a);
            }
        }
        best
    }

    /// At most about [`COMPACT_MAX_POINTS`] points for plotting, exact at low
    /// FPR (see [`Roc`]).
    pub fn compact(&self) -> Roc {
        let keep = compact_indices(&self.fp, self.n_nonmembers);
        Roc {
            fpr: keep.iter().map(|&i| self.fpr[i]).collect(),
            tpr: keep.iter().map(|&i| self.tpr[i]).collect(),
        }
    }
}

/// Upper bound on the points of a compact ROC.
pub const COMPACT_MAX_POINTS: usize = 500;
const LOG_BINS: usize = 150;
const LINEAR_BINS: usize = 95;

/// Indices kept by [`RocCurve::compact`]: all of them when there are at most
/// `COMPACT_MAX_POINTS`; otherwise the first and last point of every bin of
/// false-positive counts, bins being log-spaced in `fp` (from 1 to n, fp = 0
/// its own bin) and, separately, linear in FPR. Points sharing an `fp` lie on
/// one vertical segment, so keeping the ends of every bin reproduces the
/// curve exactly wherever a bin holds one `fp` value, which is the case at
/// the low-FPR end.
fn compact_indices(fp: &[usize], n: usize) -> Vec<usize> {
    let len = fp.len();
    if len <= COMPACT_MAX_POINTS {
        return (0..len).collect();
    }
    let ln_n = (n.max(2) as f64).p_ln();
    let log_bin = |f: usize| -> usize {
        if f == 0 {
            0
        } else {
            1 + ((LOG_BINS as f64) * (f as f64).p_ln() / ln_n).floor() as usize
        }
    };
    let lin_bin = |f: usize| -> usize { (LINEAR_BINS * f) / n.max(1) };
    let mut keep = vec![false; len];
    keep[0] = true;
    keep[len - 1] = true;
    for i in 0..len {
        let first_log = i == 0 || log_bin(fp[i - 1]) != log_bin(fp[i]);
        let last_log = i + 1 == len || log_bin(fp[i + 1]) != log_bin(fp[i]);
        let first_lin = i == 0 || lin_bin(fp[i - 1]) != lin_bin(fp[i]);
        let last_lin = i + 1 == len || lin_bin(fp[i + 1]) != lin_bin(fp[i]);
        if first_log || last_log || first_lin || last_lin {
            keep[i] = true;
        }
    }
    (0..len).filter(|&i| keep[i]).collect()
}

/// A ROC for plotting (compact; the AUC is always from the exact curve).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
}

/// AUC = U / (m n), U the Mann-Whitney statistic with ties counted 1/2.
pub fn auc(members: &[f64], nonmembers: &[f64]) -> Result<f64, StatsError> {
    check_scores(members, nonmembers)?;
    Ok(auc_unchecked(members, nonmembers))
}

pub(crate) fn auc_unchecked(members: &[f64], nonmembers: &[f64]) -> f64 {
    auc_from_groups(
        &tie_groups(members, nonmembers),
        members.len(),
        nonmembers.len(),
    )
}

/// Exact AUC from tie groups (2U summed in integers).
pub(crate) fn auc_from_groups(groups: &[(f64, usize, usize)], m: usize, n: usize) -> f64 {
    let n = n as u128;
    let mut neg_seen: u128 = 0;
    let mut two_u: u128 = 0;
    for &(_, gm, gn) in groups {
        neg_seen += gn as u128;
        // Non-members strictly below count 1, tied ones 1/2: doubled.
        two_u += gm as u128 * (2 * (n - neg_seen) + gn as u128);
    }
    let two_mn = 2 * m as u128 * n;
    two_u as f64 / two_mn as f64
}

/// One TPR-at-FPR operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TprAtFpr {
    /// The FPR level asked for.
    pub level: f64,
    pub tpr: f64,
    /// The FPR actually reached (<= level).
    pub fpr: f64,
    pub tp: usize,
    pub fp: usize,
    /// `score >= threshold` is member; `None` = above every score.
    pub threshold: Option<f64>,
    /// False when `level * n_nonmembers < 1`.
    pub resolvable: bool,
    pub note: Option<String>,
}

/// `pi tpr / (pi tpr + (1 - pi) fpr)`; `None` when both terms are 0.
pub fn ppv(tpr: f64, fpr: f64, prior: f64) -> Option<f64> {
    let num = prior * tpr;
    let den = num + (1.0 - prior) * fpr;
    (den > 0.0).then(|| num / den)
}
