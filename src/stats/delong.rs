//! DeLong et al. (1988) variance of the AUC and its 95% confidence interval,
//! in the fast O((m + n) log(m + n)) form of Sun & Xu (2014).
//!
//! With psi(x, y) = 1 if x > y, 1/2 if x = y, 0 otherwise, member scores X_i
//! (m of them) and non-member scores Y_j (n):
//! - V10_i = (1/n) sum_j psi(X_i, Y_j), V01_j = (1/m) sum_i psi(X_i, Y_j);
//!   both average to the AUC. Sun & Xu obtain them from midranks:
//!   V10_i = (midrank of X_i among all scores - midrank of X_i among the
//!   X) / n, which is the number of non-members below X_i plus half the tied
//!   ones, divided by n; this module reads those counts off the tie groups of
//!   the sorted scores, which is the same quantity.
//! - S10 = sample variance (divisor m - 1) of the V10, S01 likewise (n - 1);
//!   Var(AUC) = S10 / m + S01 / n.
//! - CI = AUC -/+ z sqrt(Var), z = Phi^-1(0.975), clamped to [0, 1].
//! - With fewer than 2 members or 2 non-members the variance is undefined:
//!   `variance` is `None` and the interval is the uninformative [0, 1].
//!   With perfect separation the variance is 0 and the interval collapses to
//!   the point (a known property of DeLong's estimator).

use super::roc::{auc_from_groups, check_scores, tie_groups};
use super::StatsError;
use serde::Serialize;

/// Phi^-1(0.975) (scipy.stats.norm.ppf(0.975)).
pub const Z_975: f64 = 1.959_963_984_540_054;

/// AUC with its DeLong variance and 95% CI.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DelongCi {
    pub auc: f64,
    pub variance: Option<f64>,
    pub ci95: [f64; 2],
}

/// DeLong 95% CI of the AUC of member scores against non-member scores.
pub fn delong_ci(members: &[f64], nonmembers: &[f64]) -> Result<DelongCi, StatsError> {
    check_scores(members, nonmembers)?;
    Ok(delong_unchecked(members, nonmembers))
}

pub(crate) fn delong_unchecked(members: &[f64], nonmembers: &[f64]) -> DelongCi {
    let (m, n) = (members.len(), nonmembers.len());
    let groups = tie_groups(members, nonmembers);
    let (mf, nf) = (m as f64, n as f64);
    // Per group: V10 of its members, V01 of its non-members.
    let mut v10 = Vec::with_capacity(groups.len());
    let mut v01 = Vec::with_capacity(groups.len());
    let total_neg: usize = groups.iter().map(|g| g.2).sum();
    let (mut pos_above, mut neg_seen) = (0usize, 0usize);
    for &(_, gm, gn) in &groups {
        neg_seen += gn;
        let neg_below = total_neg - neg_seen;
        v10.push((neg_below as f64 + 0.5 * gn as f64) / nf);
        v01.push((pos_above as f64 + 0.5 * gm as f64) / mf);
        pos_above += gm;
    }
    let weighted_mean = |v: &[f64], w: &dyn Fn(usize) -> usize, total: f64| -> f64 {
        v.iter()
            .enumerate()
            .map(|(g, x)| w(g) as f64 * x)
            .sum::<f64>()
            / total
    };
    let wm = |g: usize| groups[g].1;
    let wn = |g: usize| groups[g].2;
    let auc = auc_from_groups(&groups, m, n);
    if m < 2 || n < 2 {
        return DelongCi {
            auc,
            variance: None,
            ci95: [0.0, 1.0],
        };
    }
    let mean01 = weighted_mean(&v01, &wn, nf);
    let ss = |v: &[f64], w: &dyn Fn(usize) -> usize, mean: f64| -> f64 {
        v.iter()
            .enumerate()
            .map(|(g, x)| w(g) as f64 * (x - mean) * (x - mean))
            .sum::<f64>()
    };
    let mean10 = weighted_mean(&v10, &wm, mf);
    let s10 = ss(&v10, &wm, mean10) / (mf - 1.0);
    let s01 = ss(&v01, &wn, mean01) / (nf - 1.0);
    let variance = s10 / mf + s01 / nf;
    let half = Z_975 * variance.max(0.0).sqrt();
    DelongCi {
        auc,
        variance: Some(variance),
        ci95: [(auc - half).clamp(0.0, 1.0), (auc + half).clamp(0.0, 1.0)],
    }
}
