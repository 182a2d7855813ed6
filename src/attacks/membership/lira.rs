//! LiRA, the likelihood-ratio attack of Carlini et al. 2022 ("Membership
//! Inference Attacks From First Principles"), on the logit-scaled confidence
//! `phi` of the target and of the reference models ([`super::references`]).
//!
//! Contract (attacks.md, "LiRA"):
//! - For record x, `phi_t` is the target's phi; the IN / OUT references are
//!   the models whose training set did / did not contain x.
//! - `mu_in`, `mu_out`: the **median** of phi over the IN / OUT references.
//! - Standard deviations (population form, divisor = count):
//!   - per record: `s = sqrt(mean_r (phi_r - mean(phi))^2)` over that
//!     record's IN (or OUT) references;
//!   - fixed (global): one `s_in` and one `s_out`, pooling every record's
//!     deviations from *its own* mean:
//!     `s = sqrt(sum_x sum_r (phi_{x,r} - mean_x)^2 / sum_x count_x)`,
//!     `s_out` from the OUT values only (the authors' code uses the IN values
//!     for `s_out`; not copied).
//!   - [`VarianceMode::Auto`] uses fixed when the smallest number of
//!     references on a side (over records) is below 32, per record otherwise.
//!   - Every s is floored at `min_std` (default 1e-6) so a zero spread (all
//!     references agree, or a single reference) gives a finite score.
//! - Online score: `log N(phi_t; mu_in, s_in^2) - log N(phi_t; mu_out, s_out^2)`.
//! - Offline score, **one-sided (Carlini et al. 2022)**:
//!   `Phi((phi_t - mu_out) / s_out)`, Phi the standard normal CDF computed as
//!   `erfc(-z / sqrt 2) / 2` (libm, accurate in both tails). The score
//!   saturates at 1.0 for z above about 8.3 (ties at the top).
//!   Offline uses only the OUT references of each record, so it also runs on
//!   online references.
//! - Input augmentation averaging (noisy copies) is not implemented.
//! - The matrix functions ([`lira_online_scores`], [`lira_offline_scores`])
//!   take `[K][n]` phi matrices and IN masks and are public for tests.

use super::references::{target_signals, ReferenceMode, ReferenceSet};
use super::{AttackError, AttackOutput, AuditInputs, Target};
use crate::engine::math::PortableMath;
use crate::engine::proba::median_in_place as median;
use serde::{Deserialize, Serialize};

/// How the standard deviations are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceMode {
    /// Fixed below 32 references per side, per record from 32 on.
    Auto,
    /// One global s_in and s_out.
    Fixed,
    /// One s per record and side.
    PerRecord,
}

/// LiRA settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiraConfig {
    pub variance: VarianceMode,
    /// Floor on every standard deviation.
    pub min_std: f64,
}

impl Default for LiraConfig {
    fn default() -> Self {
        LiraConfig {
            variance: VarianceMode::Auto,
            min_std: 1e-6,
        }
    }
}

impl LiraConfig {
    fn validate(&self) -> Result<(), AttackError> {
        if !(self.min_std.is_finite() && self.min_std > 0.0) {
            return Err(AttackError::Config(format!(
                "LiRA's minimum standard deviation must be > 0, got {}",
                self.min_std
            )));
        }
        Ok(())
    }
}

/// The references per side below which [`VarianceMode::Auto`] pools.
pub const FIXED_VARIANCE_BELOW: usize = 32;

/// What the score computation used, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiraStats {
    /// "fixed" or "per_record".
    pub variance: String,
    pub min_in_refs: usize,
    pub min_out_refs: usize,
    pub max_in_refs: usize,
    pub max_out_refs: usize,
    /// The global standard deviations when fixed.
    pub s_in: Option<f64>,
    pub s_out: Option<f64>,
}

/// Per-record side statistics: median, mean, sum of squared deviations
/// from the mean, count.
struct Side {
    med: Vec<f64>,
    ss: Vec<f64>,
    count: Vec<usize>,
}

fn side_stats(
    ref_phi: &[Vec<f64>],
    in_mask: &[Vec<bool>],
    n: usize,
    want_in: bool,
) -> Result<Side, AttackError> {
    let mut side = Side {
        med: Vec::with_capacity(n),
        ss: Vec::with_capacity(n),
        count: Vec::with_capacity(n),
    };
    let mut vals = Vec::with_capacity(ref_phi.len());
    for i in 0..n {
        vals.clear();
        for (r, row) in ref_phi.iter().enumerate() {
            if in_mask[r][i] == want_in {
                let v = row[i];
                if !v.is_finite() {
                    return Err(AttackError::Input(format!(
                        "reference {r} has a non-finite phi ({v}) for record {i}"
                    )));
                }
                vals.push(v);
            }
        }
        if vals.is_empty() {
            return Err(AttackError::Input(format!(
                "record {i} has no {} reference model (of {}); LiRA needs at least one",
                if want_in { "IN" } else { "OUT" },
                ref_phi.len()
            )));
        }
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        side.ss
            .push(vals.iter().map(|v| (v - mean).p_powi(2)).sum());
        side.count.push(vals.len());
        side.med.push(median(&mut vals));
    }
    Ok(side)
}

fn check_shapes(
    target_phi: &[f64],
    ref_phi: &[Vec<f64>],
    in_mask: &[Vec<bool>],
) -> Result<usize, AttackError> {
    let n = target_phi.len();
    if ref_phi.is_empty() {
        return Err(AttackError::Input(
            "LiRA needs at least one reference".into(),
        ));
    }
    if in_mask.len() != ref_phi.len() {
        return Err(AttackError::Input(format!(
            "{} references but {} IN-mask rows",
            ref_phi.len(),
            in_mask.len()
        )));
    }
    for (r, (p, m)) in ref_phi.iter().zip(in_mask).enumerate() {
        if p.len() != n || m.len() != n {
            return Err(AttackError::Input(format!(
                "reference {r} has {} phi values and {} mask entries for {n} records",
                p.len(),
                m.len()
            )));
        }
    }
    Ok(n)
}

fn use_fixed(mode: VarianceMode, min_refs: usize) -> bool {
    match mode {
        VarianceMode::Fixed => true,
        VarianceMode::PerRecord => false,
        VarianceMode::Auto => min_refs < FIXED_VARIANCE_BELOW,
    }
}

/// Per-record s of a side (fixed: the pooled global value everywhere).
fn stds(side: &Side, fixed: bool, min_std: f64) -> (Vec<f64>, Option<f64>) {
    if fixed {
        let ss: f64 = side.ss.iter().sum();
        let c: usize = side.count.iter().sum();
        let s = (ss / c as f64).sqrt().max(min_std);
        (vec![s; side.ss.len()], Some(s))
    } else {
        let v = side
            .ss
            .iter()
            .zip(&side.count)
            .map(|(&ss, &c)| (ss / c as f64).sqrt().max(min_std))
            .collect();
        (v, None)
    }
}

fn log_normal_pdf(x: f64, mu: f64, s: f64) -> f64 {
    let z = (x - mu) / s;
    -0.5 * z * z - s.p_ln() - 0.5 * (2.0 * std::f64::consts::PI).p_ln()
}

/// Standard normal CDF, `erfc(-z / sqrt 2) / 2`.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Online LiRA scores from matrices: `target_phi[n]`, `ref_phi[K][n]`,
/// `in_mask[K][n]`.
pub fn lira_online_scores(
    target_phi: &[f64],
    ref_phi: &[Vec<f64>],
    in_mask: &[Vec<bool>],
    cfg: &LiraConfig,
) -> Result<(Vec<f64>, LiraStats), AttackError> {
    cfg.validate()?;
    let n = check_shapes(target_phi, ref_phi, in_mask)?;
    let sin = side_stats(ref_phi, in_mask, n, true)?;
    let sout = side_stats(ref_phi, in_mask, n, false)?;
    let (min_in, max_in) = min_max(&sin.count);
    let (min_out, max_out) = min_max(&sout.count);
    let fixed = use_fixed(cfg.variance, min_in.min(min_out));
    let (s_in, g_in) = stds(&sin, fixed, cfg.min_std);
    let (s_out, g_out) = stds(&sout, fixed, cfg.min_std);
    let scores = (0..n)
        .map(|i| {
            log_normal_pdf(target_phi[i], sin.med[i], s_in[i])
                - log_normal_pdf(target_phi[i], sout.med[i], s_out[i])
        })
        .collect();
    Ok((
        scores,
        LiraStats {
            variance: if fixed { "fixed" } else { "per_record" }.into(),
            min_in_refs: min_in,
            min_out_refs: min_out,
            max_in_refs: max_in,
            max_out_refs: max_out,
            s_in: g_in,
            s_out: g_out,
        },
    ))
}

/// Offline (one-sided) LiRA scores from matrices; only OUT references
/// (`in_mask[r][i] == false`) are used.
pub fn lira_offline_scores(
    target_phi: &[f64],
    ref_phi: &[Vec<f64>],
    in_mask: &[Vec<bool>],
    cfg: &LiraConfig,
) -> Result<(Vec<f64>, LiraStats), AttackError> {
    cfg.validate()?;
    let n = check_shapes(target_phi, ref_phi, in_mask)?;
    let sout = side_stats(ref_phi, in_mask, n, false)?;
    let (min_out, max_out) = min_max(&sout.count);
    let fixed = use_fixed(cfg.variance, min_out);
    let (s_out, g_out) = stds(&sout, fixed, cfg.min_std);
    let scores = (0..n)
        .map(|i| normal_cdf((target_phi[i] - sout.med[i]) / s_out[i]))
        .collect();
    Ok((
        scores,
        LiraStats {
            variance: if fixed { "fixed" } else { "per_record" }.into(),
            min_in_refs: 0,
            min_out_refs: min_out,
            max_in_refs: 0,
            max_out_refs: max_out,
            s_in: None,
            s_out: g_out,
        },
    ))
}

fn min_max(v: &[usize]) -> (usize, usize) {
    (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    )
}

/// (target phi `[n]`, reference phi `[K][n]`, IN mask `[K][n]`).
type Joined = (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<bool>>);

/// Members then non-members as one record axis: (target phi, ref phi, mask).
fn joined(
    target: &Target,
    inputs: &AuditInputs,
    refs: &ReferenceSet,
) -> Result<Joined, AttackError> {
    if refs.n_members != inputs.members.len() || refs.n_nonmembers != inputs.nonmembers.len() {
        return Err(AttackError::Input(format!(
            "the references were trained for {} members and {} non-members, \
             the audit has {} and {}",
            refs.n_members,
            refs.n_nonmembers,
            inputs.members.len(),
            inputs.nonmembers.len()
        )));
    }
    let (_, mut t) = target_signals(target, &inputs.members)?;
    t.extend(target_signals(target, &inputs.nonmembers)?.1);
    let phi: Vec<Vec<f64>> = refs
        .members
        .phi
        .iter()
        .zip(&refs.nonmembers.phi)
        .map(|(a, b)| a.iter().chain(b).copied().collect())
        .collect();
    let n = refs.n_members + refs.n_nonmembers;
    let mask = refs.in_mask.iter().map(|r| r[..n].to_vec()).collect();
    Ok((t, phi, mask))
}

fn split(scores: Vec<f64>, n_members: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = scores;
    let nm = m.split_off(n_members);
    (m, nm)
}

/// Online LiRA on the audit records with online references.
pub fn lira_online(
    target: &Target,
    inputs: &AuditInputs,
    refs: &ReferenceSet,
    cfg: &LiraConfig,
) -> Result<AttackOutput, AttackError> {
    if refs.mode != ReferenceMode::Online {
        return Err(AttackError::Needs {
            attack: "LiRA online".into(),
            what: "online reference models (these were trained offline)".into(),
        });
    }
    let (t, phi, mask) = joined(target, inputs, refs)?;
    let (scores, stats) = lira_online_scores(&t, &phi, &mask, cfg)?;
    let (members, nonmembers) = split(scores, refs.n_members);
    Ok(AttackOutput {
        members,
        nonmembers,
        details: serde_json::json!({
            "attack": "lira_online",
            "label": "LiRA online (Carlini et al. 2022): log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2), mu = median",
            "varianceMode": cfg.variance,
            "minStd": cfg.min_std,
            "stats": stats,
            "augmentation": "none",
            "references": refs.summary(),
        }),
    })
}

/// Offline one-sided LiRA; with online references only each record's OUT
/// references are used.
pub fn lira_offline(
    target: &Target,
    inputs: &AuditInputs,
    refs: &ReferenceSet,
    cfg: &LiraConfig,
) -> Result<AttackOutput, AttackError> {
    let (t, phi, mask) = joined(target, inputs, refs)?;
    let (scores, stats) = lira_offline_scores(&t, &phi, &mask, cfg)?;
    let (members, nonmembers) = split(scores, refs.n_members);
    Ok(AttackOutput {
        members,
        nonmembers,
        details: serde_json::json!({
            "attack": "lira_offline",
            "label": "one-sided (Carlini et al. 2022): Phi((phi - mu_out) / s_out)",
            "varianceMode": cfg.variance,
            "minStd": cfg.min_std,
            "stats": stats,
            "augmentation": "none",
            "references": refs.summary(),
        }),
    })
}
