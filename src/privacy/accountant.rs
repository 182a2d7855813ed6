//! The RDP accountant of DP-SGD: epsilon of the Poisson-subsampled Gaussian
//! mechanism (SGM) after T steps, and the noise multiplier for a target
//! epsilon.
//!
//! Mechanism: every step includes each record independently with
//! probability `q` (Poisson sampling), clips each per-record gradient to L2
//! norm C and adds N(0, sigma^2 C^2) to their sum (Abadi et al. 2016). Its
//! Renyi-DP at order alpha, for 0 < q < 1 and sigma > 0, is
//! `rdp(alpha) = log(A_alpha) / (alpha - 1)` (Mironov, Talwar and Zhang
//! 2019, "Renyi Differential Privacy of the Sampled Gaussian Mechanism",
//! Section 3.3):
//! - integer alpha: `A_alpha = sum_{i=0}^{alpha} C(alpha, i) q^i (1-q)^(alpha-i)
//!   exp((i^2 - i) / (2 sigma^2))`;
//! - fractional alpha: `A_alpha = A_0 + A_1` with `z0 = sigma^2 log(1/q - 1) + 1/2`,
//!   `A_0 = sum_i C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2-i)/(2 sigma^2)) erfc((i - z0)/(sqrt 2 sigma))/2`,
//!   `A_1 = sum_i C(alpha, i) q^(alpha-i) (1-q)^i exp(((alpha-i)^2-(alpha-i))/(2 sigma^2)) erfc((z0 - (alpha-i))/(sqrt 2 sigma))/2`,
//!   summed (signed, in log space) until both terms fall below e^-30, exactly
//!   as Opacus 1.6 / TF-Privacy do;
//! - `q = 0`: 0; `sigma = 0`: infinite; `q = 1`: `alpha / (2 sigma^2)`.
//!
//! RDP composes additively: T steps give `T rdp(alpha)`.
//!
//! Conversion to (epsilon, delta)-DP (the one Opacus 1.6 uses; Balle et al.
//! 2020, "Hypothesis testing interpretations and Renyi differential privacy",
//! Theorem 21): `eps = min over alpha of
//! T rdp(alpha) - (log delta + log alpha) / (alpha - 1) + log((alpha - 1) / alpha)`,
//! floored at 0. Orders whose series cannot be evaluated in floating point
//! (NaN) are skipped, like Opacus's `nanargmin`.
//!
//! Orders: [`default_orders`] = Opacus's `RDPAccountant.DEFAULT_ALPHAS`:
//! 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
//!
//! Checked against Opacus 1.6 (`tests/fixtures/privacy/gen_accountant.py`,
//! within 1e-3 relative, `tests/dpsgd.rs`).

use super::PrivacyError;
use crate::engine::math::PortableMath;
use serde::Serialize;

/// Largest noise multiplier [`noise_multiplier_for`] tries (as Opacus's
/// `MAX_SIGMA`).
pub const MAX_SIGMA: f64 = 1e6;

/// The conversion named in every result.
pub const CONVERSION: &str =
    "RDP of the Poisson-subsampled Gaussian (Mironov et al. 2019) composed over the steps, converted with Balle et al. 2020 Thm 21 (as Opacus 1.6), min over the orders";

/// Opacus's default RDP orders: 1.1 to 10.9 in steps of 0.1, then 12 to 63.
pub fn default_orders() -> Vec<f64> {
    let mut v: Vec<f64> = (1..100).map(|x| 1.0 + x as f64 / 10.0).collect();
    v.extend((12..64).map(|x| x as f64));
    v
}

/// epsilon after `steps` steps, with the order that attains it (camelCase
/// in JSON, as it crosses the wasm boundary).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpsilonSpent {
    /// epsilon of (epsilon, delta)-DP; infinite when sigma = 0 (serialised
    /// as JSON null).
    pub epsilon: f64,
    /// The RDP order attaining the minimum (None for 0 steps or q = 0 with
    /// no order finite).
    pub order: Option<f64>,
    pub sample_rate: f64,
    pub noise_multiplier: f64,
    pub steps: u64,
    pub delta: f64,
    pub conversion: &'static str,
}

/// The noise multiplier reaching a target epsilon (camelCase in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoiseForTarget {
    /// The smallest sigma found (relative precision 1e-9) with epsilon <= target.
    pub noise_multiplier: f64,
    /// epsilon at that sigma (<= target).
    pub epsilon: f64,
    pub target_epsilon: f64,
    pub sample_rate: f64,
    pub steps: u64,
    pub delta: f64,
}

fn bad(m: String) -> PrivacyError {
    PrivacyError::InvalidArgument(m)
}

fn check_q_sigma(q: f64, sigma: f64) -> Result<(), PrivacyError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(bad(format!(
            "the sampling rate q must be in [0, 1], got {q}"
        )));
    }
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(bad(format!(
            "the noise multiplier sigma must be a finite number >= 0, got {sigma}"
        )));
    }
    Ok(())
}

fn check_delta(delta: f64) -> Result<(), PrivacyError> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(bad(format!("delta must be in (0, 1), got {delta}")));
    }
    Ok(())
}

/// log(e^x + e^y).
fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).p_exp().p_ln_1p() + b
}

/// log(e^x - e^y); None when negative.
fn log_sub(x: f64, y: f64) -> Option<f64> {
    if x < y {
        return None;
    }
    if y == f64::NEG_INFINITY {
        return Some(x);
    }
    if x == y {
        return Some(f64::NEG_INFINITY);
    }
    let d = x - y;
    if d > 700.0 {
        return Some(x);
    }
    Some(d.exp_m1().p_ln() + y)
}

/// log(erfc(x)), accurate in the far right tail.
fn log_erfc(x: f64) -> f64 {
    if x < 20.0 {
        libm::erfc(x).p_ln()
    } else {
        // erfc(x) = e^{-x^2} / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + 105/(16x^8))
        let x2 = x * x;
        let s = 1.0 - 1.0 / (2.0 * x2) + 3.0 / (4.0 * x2 * x2) - 15.0 / (8.0 * x2 * x2 * x2)
            + 105.0 / (16.0 * x2 * x2 * x2 * x2);
        -x2 - x.p_ln() - 0.5 * std::f64::consts::PI.p_ln() + s.p_ln()
    }
}

fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let (lq, l1q) = (q.p_ln(), (-q).p_ln_1p());
    let mut log_a = f64::NEG_INFINITY;
    let mut log_binom = 0.0f64; // log C(alpha, i)
    for i in 0..=alpha {
        let fi = i as f64;
        let log_coef = log_binom + fi * lq + (alpha - i) as f64 * l1q;
        let s = log_coef + (fi * fi - fi) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, s);
        if i < alpha {
            log_binom += ((alpha - i) as f64).p_ln() - (fi + 1.0).p_ln();
        }
    }
    log_a
}

fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> Option<f64> {
    let (lq, l1q) = (q.p_ln(), (-q).p_ln_1p());
    let mut log_a0 = f64::NEG_INFINITY;
    let mut log_a1 = f64::NEG_INFINITY;
    let z0 = sigma * sigma * (1.0 / q - 1.0).p_ln() + 0.5;
    let s2 = std::f64::consts::SQRT_2 * sigma;
    let two_var = 2.0 * sigma * sigma;
    let mut log_binom = 0.0f64; // log |C(alpha, i)|
    let mut positive = true; // sign of C(alpha, i)
    let mut i = 0u32;
    loop {
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_binom + fi * lq + j * l1q;
        let log_t1 = log_binom + j * lq + fi * l1q;
        let log_e0 = 0.5f64.p_ln() + log_erfc((fi - z0) / s2);
        let log_e1 = 0.5f64.p_ln() + log_erfc((z0 - j) / s2);
        let log_s0 = log_t0 + (fi * fi - fi) / two_var + log_e0;
        let log_s1 = log_t1 + (j * j - j) / two_var + log_e1;
        if positive {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0)?;
            log_a1 = log_sub(log_a1, log_s1)?;
        }
        // C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1)
        log_binom += (alpha - fi).abs().p_ln() - (fi + 1.0).p_ln();
        if alpha - fi < 0.0 {
            positive = !positive;
        }
        i += 1;
        if log_s0.max(log_s1) < -30.0 {
            break;
        }
        if i > 1_000_000 || log_s0.is_nan() || log_s1.is_nan() {
            return None;
        }
    }
    Some(log_add(log_a0, log_a1))
}

/// RDP of one step of the Poisson-subsampled Gaussian mechanism at order
/// `alpha` (> 1). Infinite when sigma = 0; NaN when the fractional-order
/// series cannot be evaluated in floating point.
pub fn rdp_sgm(q: f64, sigma: f64, alpha: f64) -> Result<f64, PrivacyError> {
    check_q_sigma(q, sigma)?;
    if !(alpha.is_finite() && alpha > 1.0) {
        return Err(bad(format!(
            "an RDP order must be a finite number > 1, got {alpha}"
        )));
    }
    if q == 0.0 {
        return Ok(0.0);
    }
    if sigma == 0.0 {
        return Ok(f64::INFINITY);
    }
    if q == 1.0 {
        return Ok(alpha / (2.0 * sigma * sigma));
    }
    let log_a = if alpha.fract() == 0.0 && alpha <= 1e6 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        match log_a_frac(q, sigma, alpha) {
            Some(v) => v,
            None => return Ok(f64::NAN),
        }
    };
    Ok(log_a / (alpha - 1.0))
}

/// epsilon from composed RDP values (one per order) at `delta`: the
/// minimum over the orders of Balle et al. 2020 Thm 21, floored at 0, with
/// the order attaining it. NaN orders are skipped; all NaN gives infinity.
pub fn rdp_to_epsilon(
    orders: &[f64],
    rdp: &[f64],
    delta: f64,
) -> Result<(f64, Option<f64>), PrivacyError> {
    check_delta(delta)?;
    if orders.len() != rdp.len() || orders.is_empty() {
        return Err(bad(format!(
            "need one RDP value per order and at least one order: {} orders, {} values",
            orders.len(),
            rdp.len()
        )));
    }
    let mut best: Option<(f64, f64)> = None;
    for (&a, &r) in orders.iter().zip(rdp) {
        if !(a.is_finite() && a > 1.0) {
            return Err(bad(format!(
                "an RDP order must be a finite number > 1, got {a}"
            )));
        }
        let e = r - (delta.p_ln() + a.p_ln()) / (a - 1.0) + ((a - 1.0) / a).p_ln();
        if e.is_nan() {
            continue;
        }
        if best.map_or(true, |(b, _)| e < b) {
            best = Some((e, a));
        }
    }
    Ok(match best {
        Some((e, a)) => (e.max(0.0), Some(a)),
        None => (f64::INFINITY, None),
    })
}

/// epsilon at `delta` after `steps` steps of DP-SGD with sampling rate `q`
/// and noise multiplier `sigma`, over [`default_orders`].
pub fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> Result<EpsilonSpent, PrivacyError> {
    epsilon_with_orders(q, sigma, steps, delta, &default_orders())
}

/// [`epsilon`] over the given orders.
pub fn epsilon_with_orders(
    q: f64,
    sigma: f64,
    steps: u64,
    delta: f64,
    orders: &[f64],
) -> Result<EpsilonSpent, PrivacyError> {
    check_q_sigma(q, sigma)?;
    check_delta(delta)?;
    let (eps, order) = if steps == 0 {
        (0.0, None)
    } else {
        let rdp = orders
            .iter()
            .map(|&a| rdp_sgm(q, sigma, a).map(|r| r * steps as f64))
            .collect::<Result<Vec<f64>, _>>()?;
        rdp_to_epsilon(orders, &rdp, delta)?
    };
    Ok(EpsilonSpent {
        epsilon: eps,
        order,
        sample_rate: q,
        noise_multiplier: sigma,
        steps,
        delta,
        conversion: CONVERSION,
    })
}

/// The smallest noise multiplier (relative precision 1e-9) whose epsilon
/// after `steps` steps at sampling rate `q` and `delta` is at most
/// `target_epsilon` (bisection; epsilon decreases as sigma grows).
pub fn noise_multiplier_for(
    target_epsilon: f64,
    q: f64,
    steps: u64,
    delta: f64,
) -> Result<NoiseForTarget, PrivacyError> {
    if !(target_epsilon.is_finite() && target_epsilon > 0.0) {
        return Err(bad(format!(
            "the target epsilon must be a finite number > 0, got {target_epsilon}"
        )));
    }
    if !(q > 0.0 && q <= 1.0) {
        return Err(bad(format!(
            "the sampling rate q must be in (0, 1], got {q}"
        )));
    }
    if steps == 0 {
        return Err(bad("the number of steps must be at least 1".into()));
    }
    check_delta(delta)?;
    let orders = default_orders();
    let eps_at = |s: f64| epsilon_with_orders(q, s, steps, delta, &orders).map(|e| e.epsilon);
    let mut hi = 1.0f64;
    let mut eps_hi = eps_at(hi)?;
    while eps_hi > target_epsilon {
        hi *= 2.0;
        if hi > MAX_SIGMA {
            let floor = eps_at(MAX_SIGMA)?;
            return Err(PrivacyError::Unreachable(format!(
                "epsilon {target_epsilon} at delta {delta} after {steps} steps at q = {q} needs a noise multiplier above {MAX_SIGMA} (epsilon there is {floor:.4})"
            )));
        }
        eps_hi = eps_at(hi)?;
    }
    let mut lo = if hi == 1.0 { 0.0 } else { hi / 2.0 };
    while hi - lo > 1e-9 * hi {
        let mid = 0.5 * (lo + hi);
        let e = eps_at(mid)?;
        if e <= target_epsilon {
            hi = mid;
            eps_hi = e;
        } else {
            lo = mid;
        }
    }
    Ok(NoiseForTarget {
        noise_multiplier: hi,
        epsilon: eps_hi,
        target_epsilon,
        sample_rate: q,
        steps,
        delta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_match_opacus() {
        let o = default_orders();
        assert_eq!(o.len(), 99 + 52);
        assert!((o[0] - 1.1).abs() < 1e-12 && (o[98] - 10.9).abs() < 1e-12);
        assert_eq!(o[99], 12.0);
        assert_eq!(*o.last().unwrap_or(&0.0), 63.0);
    }

    #[test]
    fn full_batch_is_the_gaussian_mechanism() {
        // q = 1: rdp = alpha / (2 sigma^2)
        let r = rdp_sgm(1.0, 2.0, 10.0).unwrap();
        assert!((r - 10.0 / 8.0).abs() < 1e-12);
        // the integer formula at q -> 1 approaches it
        let r2 = rdp_sgm(1.0 - 1e-12, 2.0, 10.0).unwrap();
        assert!((r2 - r).abs() < 1e-6, "{r2} vs {r}");
    }

    #[test]
    fn log_erfc_is_continuous_at_the_switch() {
        let a = libm::erfc(19.999_999).ln();
        let b = log_erfc(20.0);
        assert!((a - b).abs() < 1e-4, "{a} {b}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(epsilon(1.5, 1.0, 10, 1e-5).is_err());
        assert!(epsilon(0.1, -1.0, 10, 1e-5).is_err());
        assert!(epsilon(0.1, 1.0, 10, 0.0).is_err());
        assert!(noise_multiplier_for(0.0, 0.1, 10, 1e-5).is_err());
        assert_eq!(epsilon(0.1, 1.0, 0, 1e-5).unwrap().epsilon, 0.0);
        assert!(epsilon(0.1, 0.0, 10, 1e-5).unwrap().epsilon.is_infinite());
    }
}
