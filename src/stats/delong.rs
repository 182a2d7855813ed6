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

/// Per-record DeLong placements: `V10_i` of every member (the share of
/// non-members below it, ties 1/2) and `V01_j` of every non-member (the
/// share of members above it, ties 1/2), in input order. Both average to
/// the AUC. Sorting plus binary search: O((m + n) log(m + n)).
pub fn placements(members: &[f64], nonmembers: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut ms = members.to_vec();
    let mut ns = nonmembers.to_vec();
    ms.sort_by(f64::total_cmp);
    ns.sort_by(f64::total_cmp);
    let (mf, nf) = (members.len() as f64, nonmembers.len() as f64);
    // numeric comparisons (-0 ties +0, as in psi); the predicates stay
    // monotone over the total order, where -0 and +0 are neighbours
    let below_and_tied = |sorted: &[f64], x: f64| {
        let lo = sorted.partition_point(|&v| v < x);
        let hi = sorted.partition_point(|&v| v <= x);
        (lo, hi - lo)
    };
    let v10 = members
        .iter()
        .map(|&x| {
            let (below, tied) = below_and_tied(&ns, x);
            (below as f64 + 0.5 * tied as f64) / nf
        })
        .collect();
    let v01 = nonmembers
        .iter()
        .map(|&y| {
            let (below, tied) = below_and_tied(&ms, y);
            let above = ms.len() - below - tied;
            (above as f64 + 0.5 * tied as f64) / mf
        })
        .collect();
    (v10, v01)
}

/// DeLong's test of two correlated AUCs: two score sets (A and B) on the
/// same members and non-members, in the same order (DeLong et al. 1988).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDelong {
    pub auc_a: f64,
    pub auc_b: f64,
    pub var_a: f64,
    pub var_b: f64,
    pub covariance: f64,
    /// (AUC_B - AUC_A) / sqrt(var_a + var_b - 2 cov); `None` when that
    /// variance is 0 (identical placements).
    pub z: Option<f64>,
    /// Two-sided p-value of `z` (1 when `z` is `None` and the AUCs agree,
    /// `None` when they differ with zero variance).
    pub p_value: Option<f64>,
}

/// The paired DeLong test; `None` when the sets differ in size or hold
/// fewer than 2 members or 2 non-members.
pub fn paired_delong(
    a_members: &[f64],
    a_nonmembers: &[f64],
    b_members: &[f64],
    b_nonmembers: &[f64],
) -> Option<PairedDelong> {
    let (m, n) = (a_members.len(), a_nonmembers.len());
    if m < 2 || n < 2 || b_members.len() != m || b_nonmembers.len() != n {
        return None;
    }
    let (a10, a01) = placements(a_members, a_nonmembers);
    let (b10, b01) = placements(b_members, b_nonmembers);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let cov = |x: &[f64], y: &[f64]| {
        let (mx, my) = (mean(x), mean(y));
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - mx) * (b - my))
            .sum::<f64>()
            / (x.len() as f64 - 1.0)
    };
    let (mf, nf) = (m as f64, n as f64);
    let var_a = cov(&a10, &a10) / mf + cov(&a01, &a01) / nf;
    let var_b = cov(&b10, &b10) / mf + cov(&b01, &b01) / nf;
    let covariance = cov(&a10, &b10) / mf + cov(&a01, &b01) / nf;
    let (auc_a, auc_b) = (mean(&a10), mean(&b10));
    let var = var_a + var_b - 2.0 * covariance;
    let (z, p_value) = if var > 0.0 {
        let z = (auc_b - auc_a) / var.sqrt();
        (Some(z), Some(two_sided_p(z)))
    } else if auc_a == auc_b {
        (None, Some(1.0))
    } else {
        (None, None)
    };
    Some(PairedDelong {
        auc_a,
        auc_b,
        var_a,
        var_b,
        covariance,
        z,
        p_value,
    })
}

/// Two-sided p-value of a standard normal statistic, `erfc(|z| / sqrt 2)`.
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}
