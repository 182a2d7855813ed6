//! The one-run privacy audit of Steinke, Nasr and Jagielski 2023 ("Privacy
//! Auditing with One (1) Training Run", NeurIPS 2023): m canaries, each
//! included in the training data independently with probability 1/2; the
//! auditor guesses IN for some, OUT for others and abstains on the rest; the
//! number of correct guesses gives an epsilon lower bound at confidence
//! `1 - beta`.
//!
//! Contract (the paper's Appendix D, term for term; checked against a
//! verbatim scipy port in tests/fixtures/privacy/gen_one_run.py):
//! - [`p_value`]`(m, r, v, eps, delta)`: with `q = 1 / (1 + e^-eps)` (the
//!   accuracy of eps-DP randomised response), `B = P[Binomial(r, q) >= v]`,
//!   `a = max over i in 1..=v of P[v > Binomial(r, q) >= v - i] / i`, the
//!   p-value is `min(1, B + 2 m delta a)`: the probability of at least `v`
//!   correct guesses out of `r` under (eps, delta)-DP (Theorem 5.2).
//! - [`epsilon_lower_bound`]`(m, r, v, delta, beta)`: the largest eps whose
//!   p-value is below `beta` (so the mechanism is not (eps, delta)-DP, at
//!   confidence 1 - beta): `eps_max` grows by 1 from 1 until the p-value
//!   reaches beta, then 60 bisection steps on [0, eps_max] (the paper's 30
//!   give 1e-9 of a unit; 60 reach the f64 resolution). 0 when even eps = 0
//!   is not rejected.
//! - [`guesses`]: the auditor's rule for scores (higher = more likely IN):
//!   IN for the `k_plus` highest, OUT for the `k_minus` lowest (ties broken
//!   by record index, lower index first among equal scores on both ends,
//!   so the result is deterministic), and the count of correct guesses.
//! - [`audit`]: the bound for a fixed grid of guess counts decided before
//!   looking at the scores (`k+ = k- = ceil(f m / 2)` for each fraction f of
//!   [`DEFAULT_GUESS_FRACTIONS`]), each tested at `beta / grid size`
//!   (Bonferroni), the reported bound their maximum: valid at 1 - beta
//!   whichever count wins. (Reporting the best of many counts each at
//!   `beta`, as the paper's experiments do, would overstate the
//!   confidence.)
//!
//! Binomial terms are computed in log space by the ratio recurrence
//! `ln P(k) = ln P(k-1) + ln((r - k + 1) / k) + ln(q / (1 - q))` with the
//! portable math (same bits natively and in wasm). Pure; bad arguments are
//! [`PrivacyError`]s.

use super::PrivacyError;
use crate::engine::math::PortableMath;
use serde::{Deserialize, Serialize};

/// Fractions of the m canaries guessed (half IN, half OUT) in the default
/// grid: from a confident few to every canary.
pub const DEFAULT_GUESS_FRACTIONS: [f64; 6] = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

fn bad(m: String) -> PrivacyError {
    PrivacyError::InvalidArgument(m)
}

/// `ln P[Binomial(r, q) = k]` for every k in 0..=r (q in (0, 1)).
fn log_pmf(r: usize, q: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(r + 1);
    let lq = q.p_ln();
    let l1q = (1.0 - q).p_ln();
    let mut cur = r as f64 * l1q;
    out.push(cur);
    for k in 1..=r {
        cur += ((r - k + 1) as f64 / k as f64).p_ln() + lq - l1q;
        out.push(cur);
    }
    out
}

/// The probability of at least `v` correct guesses out of `r` (of `m`
/// canaries) under (eps, delta)-DP (module docs).
pub fn p_value(m: usize, r: usize, v: usize, eps: f64, delta: f64) -> Result<f64, PrivacyError> {
    if !(v <= r && r <= m) {
        return Err(bad(format!(
            "the one-run audit needs 0 <= correct <= guesses <= canaries, got {v}, {r}, {m}"
        )));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(bad(format!(
            "epsilon must be a finite number >= 0, got {eps}"
        )));
    }
    if !(0.0..=1.0).contains(&delta) {
        return Err(bad(format!("delta must be in [0, 1], got {delta}")));
    }
    if v == 0 {
        return Ok(1.0);
    }
    let q = 1.0 / (1.0 + (-eps).p_exp());
    if q >= 1.0 {
        // e^-eps underflows: every guess is right with probability 1
        return Ok(1.0);
    }
    let lp = log_pmf(r, q);
    let pmf = |k: usize| lp[k].p_exp();
    // P[Binomial >= v]: sum the tail from the smallest terms up
    let tail: f64 = (v..=r).rev().map(pmf).sum();
    let mut alpha = 0.0f64;
    let mut sum = 0.0f64;
    for i in 1..=v {
        sum += pmf(v - i);
        if sum > i as f64 * alpha {
            alpha = sum / i as f64;
        }
    }
    Ok((tail + alpha * delta * 2.0 * m as f64).min(1.0))
}

/// The largest epsilon rejected at level `beta` by `v` correct guesses out
/// of `r` among `m` canaries (module docs).
pub fn epsilon_lower_bound(
    m: usize,
    r: usize,
    v: usize,
    delta: f64,
    beta: f64,
) -> Result<f64, PrivacyError> {
    if !(beta > 0.0 && beta < 1.0) {
        return Err(bad(format!(
            "the audit's beta (1 - confidence) must be in (0, 1), got {beta}"
        )));
    }
    let mut lo = 0.0f64;
    if p_value(m, r, v, lo, delta)? >= beta {
        return Ok(0.0);
    }
    let mut hi = 1.0f64;
    while p_value(m, r, v, hi, delta)? < beta {
        hi += 1.0;
        if hi > 1e4 {
            return Err(bad(format!(
                "the one-run bound did not converge ({v} of {r} correct, {m} canaries)"
            )));
        }
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if p_value(m, r, v, mid, delta)? < beta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The guesses for `k_plus` IN and `k_minus` OUT on `scores` and how many
/// are right (`included[i]` is canary i's truth).
pub fn guesses(
    scores: &[f64],
    included: &[bool],
    k_plus: usize,
    k_minus: usize,
) -> Result<(usize, usize), PrivacyError> {
    let m = scores.len();
    if included.len() != m {
        return Err(bad(format!(
            "{m} canary scores but {} inclusion bits",
            included.len()
        )));
    }
    if k_plus + k_minus > m {
        return Err(bad(format!(
            "{k_plus} IN and {k_minus} OUT guesses for {m} canaries"
        )));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(bad(format!("canary {i} has a NaN score")));
    }
    let mut order: Vec<usize> = (0..m).collect();
    // descending score, lower index first on ties
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let right_in = order[..k_plus].iter().filter(|&&i| included[i]).count();
    let mut asc: Vec<usize> = (0..m).collect();
    asc.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let right_out = asc[..k_minus].iter().filter(|&&i| !included[i]).count();
    Ok((k_plus + k_minus, right_in + right_out))
}

/// One guess count of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuessRow {
    pub k_plus: usize,
    pub k_minus: usize,
    /// Guesses made (`k_plus + k_minus`) and how many were right.
    pub guesses: usize,
    pub correct: usize,
    /// The epsilon lower bound of this row at `beta / rows`.
    pub epsilon_lower_bound: f64,
}

/// The one-run bound over the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneRunBound {
    pub canaries: usize,
    pub included: usize,
    pub delta: f64,
    /// 1 - confidence of the reported bound.
    pub beta: f64,
    /// The level each row is tested at (`beta / rows`, Bonferroni).
    pub beta_per_row: f64,
    pub rows: Vec<GuessRow>,
    /// The largest row bound: the mechanism is not (eps, delta)-DP for any
    /// smaller eps, at confidence 1 - beta.
    pub epsilon_lower_bound: f64,
    pub method: String,
}

/// The one-run audit of canary `scores` (higher = more likely IN) with
/// their inclusion bits, over the guess grid `fractions` (module docs).
pub fn audit(
    scores: &[f64],
    included: &[bool],
    delta: f64,
    beta: f64,
    fractions: &[f64],
) -> Result<OneRunBound, PrivacyError> {
    let m = scores.len();
    if m < 2 {
        return Err(bad(format!(
            "the one-run audit needs at least 2 canaries, got {m}"
        )));
    }
    if fractions.is_empty() || fractions.iter().any(|f| !(*f > 0.0 && *f <= 1.0)) {
        return Err(bad(format!(
            "the guess fractions must be in (0, 1], got {fractions:?}"
        )));
    }
    let mut ks: Vec<usize> = fractions
        .iter()
        .map(|f| ((f * m as f64 / 2.0).ceil() as usize).clamp(1, m / 2))
        .collect();
    ks.dedup();
    let beta_row = beta / ks.len() as f64;
    let mut rows = Vec::with_capacity(ks.len());
    for k in ks {
        let (r, v) = guesses(scores, included, k, k)?;
        rows.push(GuessRow {
            k_plus: k,
            k_minus: k,
            guesses: r,
            correct: v,
            epsilon_lower_bound: epsilon_lower_bound(m, r, v, delta, beta_row)?,
        });
    }
    let best = rows
        .iter()
        .map(|r| r.epsilon_lower_bound)
        .fold(0.0f64, f64::max);
    Ok(OneRunBound {
        canaries: m,
        included: included.iter().filter(|&&b| b).count(),
        delta,
        beta,
        beta_per_row: beta_row,
        rows,
        epsilon_lower_bound: best,
        method: "Steinke, Nasr, Jagielski 2023 (one run, Appendix D p-value with delta), IN for the k highest and OUT for the k lowest scores, a fixed grid of k tested at beta / grid size (Bonferroni)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pmf_sums_to_one() {
        for (r, q) in [(10, 0.3), (200, 0.73), (1, 0.5)] {
            let s: f64 = log_pmf(r, q).iter().map(|l| l.p_exp()).sum();
            assert!((s - 1.0).abs() < 1e-12, "{r} {q} {s}");
        }
    }

    #[test]
    fn guesses_count_both_ends() {
        let scores = [0.9, 0.1, 0.8, 0.2, 0.5];
        let inc = [true, false, false, false, true];
        // IN: 0 (right), 2 (wrong); OUT: 1 (right), 3 (right)
        assert_eq!(guesses(&scores, &inc, 2, 2).unwrap(), (4, 3));
        assert!(guesses(&scores, &inc, 3, 3).is_err());
        assert!(guesses(&[f64::NAN], &[true], 1, 0).is_err());
    }
}
