//! RMIA, the relative membership inference attack of Zarifzadeh, Liu and
//! Shokri 2024 ("Low-Cost High-Power Membership Inference Attacks").
//!
//! Contract (attacks.md, "RMIA"):
//! - `Pr(x|theta)`: the target's probability of the true label (f64, the
//!   `engine::proba` convention), clamped to [1e-45, 1].
//! - `Pr(x)`: with **online** references the mean of `Pr(x|theta_ref)` over
//!   ALL references (IN and OUT); with **offline** references
//!   `0.5 * ((1 + a) * mean_OUT(x) + (1 - a))`, `a` = 0.3 by default, clamped
//!   to >= 1e-45. The mode follows the [`ReferenceSet`].
//! - Population Z: the population records never in any reference's training
//!   set ([`ReferenceSet::z_indices`]); `Pr(z|theta) / Pr(z)` is computed the
//!   same way. Z must have at least [`MIN_Z`] records.
//! - `score(x) = |{z : (Pr(x|theta)/Pr(x)) / (Pr(z|theta)/Pr(z)) > gamma}| / |Z|`,
//!   gamma = 1 by default. Computed by sorting the Z ratios once and a binary
//!   search per x with the exact predicate (`r_x / r_z > gamma` is monotone in
//!   `r_z` under correctly rounded division): O((n + |Z|) log |Z|), the same
//!   counts as the direct O(n |Z|) comparison.
//! - The score is quantised to 1/|Z|: resolving a low FPR needs a large Z.
//!   The details say |Z|.
//! - Optional tuning of `a` (offline only, `tune_a`): reference 0 is attacked
//!   with the other references as its references, on the population records
//!   that may train references (members of reference 0 = its training half),
//!   with the same Z; `a` in {0, 0.05, ..., 1} with the best AUC (first best
//!   on ties) is kept; records without an OUT reference among the others are
//!   skipped. Needs K >= 2.

use super::references::{target_signals, ReferenceMode, ReferenceSet};
use super::{AttackError, AttackOutput, AuditInputs, Target};
use serde::{Deserialize, Serialize};

/// Smallest population Z accepted (the score's resolution is 1/|Z|).
pub const MIN_Z: usize = 10;

const TINY: f64 = 1e-45;

/// RMIA settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RmiaConfig {
    /// Offline scaling `a` in [0, 1].
    pub a: f64,
    /// Offline: tune `a` by attacking reference 0 with the others.
    pub tune_a: bool,
    /// Likelihood-ratio threshold gamma > 0.
    pub gamma: f64,
}

impl Default for RmiaConfig {
    fn default() -> Self {
        RmiaConfig {
            a: 0.3,
            tune_a: false,
            gamma: 1.0,
        }
    }
}

impl RmiaConfig {
    fn validate(&self) -> Result<(), AttackError> {
        if !(0.0..=1.0).contains(&self.a) {
            return Err(AttackError::Config(format!(
                "RMIA's a must be in [0, 1], got {}",
                self.a
            )));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(AttackError::Config(format!(
                "RMIA's gamma must be > 0, got {}",
                self.gamma
            )));
        }
        Ok(())
    }
}

fn check_matrix(ref_prob: &[Vec<f64>], n: usize) -> Result<(), AttackError> {
    if ref_prob.is_empty() {
        return Err(AttackError::Input(
            "RMIA needs at least one reference".into(),
        ));
    }
    for (r, row) in ref_prob.iter().enumerate() {
        if row.len() != n {
            return Err(AttackError::Input(format!(
                "reference {r} has {} probabilities for {n} records",
                row.len()
            )));
        }
    }
    Ok(())
}

/// Online `Pr(x)`: mean over all references of `ref_prob[K][n]`.
pub fn rmia_pr_online(ref_prob: &[Vec<f64>], n: usize) -> Result<Vec<f64>, AttackError> {
    check_matrix(ref_prob, n)?;
    let k = ref_prob.len() as f64;
    Ok((0..n)
        .map(|i| (ref_prob.iter().map(|r| r[i]).sum::<f64>() / k).max(TINY))
        .collect())
}

/// Offline `Pr(x) = 0.5 * ((1 + a) * mean_OUT + (1 - a))` over the references
/// with `in_mask[r][i] == false`.
pub fn rmia_pr_offline(
    ref_prob: &[Vec<f64>],
    in_mask: &[Vec<bool>],
    n: usize,
    a: f64,
) -> Result<Vec<f64>, AttackError> {
    check_matrix(ref_prob, n)?;
    if in_mask.len() != ref_prob.len() || in_mask.iter().any(|m| m.len() != n) {
        return Err(AttackError::Input(format!(
            "the IN mask does not match {} references x {n} records",
            ref_prob.len()
        )));
    }
    (0..n)
        .map(|i| {
            let (mut s, mut c) = (0.0, 0usize);
            for (r, row) in ref_prob.iter().enumerate() {
                if !in_mask[r][i] {
                    s += row[i];
                    c += 1;
                }
            }
            if c == 0 {
                return Err(AttackError::Input(format!(
                    "record {i} has no OUT reference (of {}); offline RMIA needs one",
                    ref_prob.len()
                )));
            }
            Ok((0.5 * ((1.0 + a) * (s / c as f64) + (1.0 - a))).max(TINY))
        })
        .collect()
}

/// RMIA scores: for each x the fraction of z with
/// `(p_x / pr_x) / (p_z / pr_z) > gamma`.
pub fn rmia_scores(
    target_x: &[f64],
    pr_x: &[f64],
    target_z: &[f64],
    pr_z: &[f64],
    gamma: f64,
) -> Result<Vec<f64>, AttackError> {
    if target_x.len() != pr_x.len() || target_z.len() != pr_z.len() {
        return Err(AttackError::Input(format!(
            "RMIA got {} target and {} reference probabilities for x, {} and {} for z",
            target_x.len(),
            pr_x.len(),
            target_z.len(),
            pr_z.len()
        )));
    }
    if target_z.is_empty() {
        return Err(AttackError::Input(
            "RMIA needs a non-empty population Z".into(),
        ));
    }
    let ratio = |p: f64, q: f64| p.clamp(TINY, 1.0) / q.max(TINY);
    let mut rz: Vec<f64> = target_z
        .iter()
        .zip(pr_z)
        .map(|(&p, &q)| ratio(p, q))
        .collect();
    if rz.iter().any(|v| v.is_nan()) || target_x.iter().chain(pr_x).any(|v| v.is_nan()) {
        return Err(AttackError::Input("RMIA got a NaN probability".into()));
    }
    rz.sort_by(|a, b| a.total_cmp(b));
    let nz = rz.len() as f64;
    Ok(target_x
        .iter()
        .zip(pr_x)
        .map(|(&p, &q)| {
            let rx = ratio(p, q);
            // rx / rz > gamma holds for a prefix of the ascending rz.
            rz.partition_point(|&z| rx / z > gamma) as f64 / nz
        })
        .collect())
}

/// Mann-Whitney AUC (ties count 1/2) of positives vs negatives.
pub(crate) fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|&v| (v, true))
        .chain(neg.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0; // ranks i+1..=j
        rank_sum += all[i..j].iter().filter(|e| e.1).count() as f64 * avg;
        i = j;
    }
    let np = pos.len() as f64;
    (rank_sum - np * (np + 1.0) / 2.0) / (np * neg.len() as f64)
}

/// Grid of `a` values tried by the tuning.
const A_GRID: usize = 21;

/// Tune `a` by attacking reference 0 with the others; returns (a, auc per a).
fn tune_a(refs: &ReferenceSet, gamma: f64) -> Result<(f64, Vec<(f64, f64)>), AttackError> {
    let pop = refs.population.as_ref().ok_or_else(|| AttackError::Needs {
        attack: "RMIA a-tuning".into(),
        what: "a population CSV".into(),
    })?;
    if refs.k < 2 {
        return Err(AttackError::Needs {
            attack: "RMIA a-tuning".into(),
            what: format!("at least 2 reference models (got {})", refs.k),
        });
    }
    let others_prob: Vec<Vec<f64>> = pop.prob[1..].to_vec();
    let others_mask: Vec<Vec<bool>> = refs.pop_in_mask[1..].to_vec();
    let z = &refs.z_indices;
    let cand: Vec<usize> = (0..refs.pop_in_mask[0].len())
        .filter(|j| z.binary_search(j).is_err())
        .filter(|&j| others_mask.iter().any(|m| !m[j]))
        .collect();
    let pick = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<Vec<bool>>) {
        (
            others_prob
                .iter()
                .map(|r| idx.iter().map(|&j| r[j]).collect())
                .collect(),
            others_mask
                .iter()
                .map(|r| idx.iter().map(|&j| r[j]).collect())
                .collect(),
        )
    };
    let (xp, xm) = pick(&cand);
    let (zp, zm) = pick(z);
    let tx: Vec<f64> = cand.iter().map(|&j| pop.prob[0][j]).collect();
    let tz: Vec<f64> = z.iter().map(|&j| pop.prob[0][j]).collect();
    let is_in: Vec<bool> = cand.iter().map(|&j| refs.pop_in_mask[0][j]).collect();
    let mut best = (0.0, f64::NEG_INFINITY);
    let mut table = Vec::with_capacity(A_GRID);
    for g in 0..A_GRID {
        let a = g as f64 / (A_GRID - 1) as f64;
        let prx = rmia_pr_offline(&xp, &xm, cand.len(), a)?;
        let prz = rmia_pr_offline(&zp, &zm, z.len(), a)?;
        let s = rmia_scores(&tx, &prx, &tz, &prz, gamma)?;
        let (mut pos, mut neg) = (vec![], vec![]);
        for (v, &inn) in s.iter().zip(&is_in) {
            if inn {
                pos.push(*v)
            } else {
                neg.push(*v)
            }
        }
        let auc = auc(&pos, &neg);
        table.push((a, auc));
        if auc > best.1 {
            best = (a, auc);
        }
    }
    Ok((best.0, table))
}

/// RMIA on the audit records (online or offline after the references).
pub fn rmia(
    target: &Target,
    inputs: &AuditInputs,
    refs: &ReferenceSet,
    cfg: &RmiaConfig,
) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    let pop = match (&inputs.population, &refs.population) {
        (Some(p), Some(s)) => (p, s),
        _ => {
            return Err(AttackError::Needs {
                attack: "RMIA".into(),
                what: format!(
                    "a population CSV (labelled records never used to train the target); \
                     at least {MIN_Z} of them must stay out of every reference's training set"
                ),
            })
        }
    };
    let z = &refs.z_indices;
    if z.len() < MIN_Z {
        return Err(AttackError::Needs {
            attack: "RMIA".into(),
            what: format!(
                "a population Z of at least {MIN_Z} records outside every training set \
                 (got {} of {} population records)",
                z.len(),
                pop.0.len()
            ),
        });
    }
    if refs.n_members != inputs.members.len() || refs.n_nonmembers != inputs.nonmembers.len() {
        return Err(AttackError::Input(format!(
            "the references were trained for {} members and {} non-members, the audit has {} and {}",
            refs.n_members,
            refs.n_nonmembers,
            inputs.members.len(),
            inputs.nonmembers.len()
        )));
    }
    let n = refs.n_members + refs.n_nonmembers;
    let x_prob: Vec<Vec<f64>> = refs
        .members
        .prob
        .iter()
        .zip(&refs.nonmembers.prob)
        .map(|(a, b)| a.iter().chain(b).copied().collect())
        .collect();
    let x_mask: Vec<Vec<bool>> = refs.in_mask.iter().map(|r| r[..n].to_vec()).collect();
    let z_prob: Vec<Vec<f64>> = pop
        .1
        .prob
        .iter()
        .map(|r| z.iter().map(|&j| r[j]).collect())
        .collect();
    let z_mask: Vec<Vec<bool>> = refs
        .pop_in_mask
        .iter()
        .map(|r| z.iter().map(|&j| r[j]).collect())
        .collect();
    let (mut tx, _) = target_signals(target, &inputs.members)?;
    tx.extend(target_signals(target, &inputs.nonmembers)?.0);
    let (tz_all, _) = target_signals(target, pop.0)?;
    let tz: Vec<f64> = z.iter().map(|&j| tz_all[j]).collect();

    let mut details = serde_json::json!({
        "attack": "rmia",
        "label": "RMIA (Zarifzadeh, Liu, Shokri 2024)",
        "mode": refs.mode,
        "gamma": cfg.gamma,
        "zSize": z.len(),
        "resolution": format!("scores are multiples of 1/{} (|Z| = {})", z.len(), z.len()),
        "references": refs.summary(),
    });
    let (prx, prz) = match refs.mode {
        ReferenceMode::Online => (
            rmia_pr_online(&x_prob, n)?,
            rmia_pr_online(&z_prob, z.len())?,
        ),
        ReferenceMode::Offline => {
            let a = if cfg.tune_a {
                let (a, table) = tune_a(refs, cfg.gamma)?;
                details["aTuning"] = serde_json::json!({
                    "method": "attack reference 0 with the others, best AUC",
                    "grid": table.iter().map(|(a, auc)| serde_json::json!({"a": a, "auc": auc})).collect::<Vec<_>>(),
                });
                a
            } else {
                cfg.a
            };
            details["a"] = serde_json::json!(a);
            (
                rmia_pr_offline(&x_prob, &x_mask, n, a)?,
                rmia_pr_offline(&z_prob, &z_mask, z.len(), a)?,
            )
        }
    };
    let mut members = rmia_scores(&tx, &prx, &tz, &prz, cfg.gamma)?;
    let nonmembers = members.split_off(refs.n_members);
    Ok(AttackOutput {
        members,
        nonmembers,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn binary_search_counts_equal_the_direct_comparison() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // coarse values so that many ratios tie exactly
        let mut draw = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| f64::from(rng.gen_range(1u32..=8)) / 8.0)
                .collect()
        };
        let (tx, px, tz, pz) = (draw(300), draw(300), draw(40), draw(40));
        for gamma in [0.5, 1.0, 2.0] {
            let s = rmia_scores(&tx, &px, &tz, &pz, gamma).unwrap();
            for i in 0..tx.len() {
                let rx = tx[i] / px[i];
                let c = tz
                    .iter()
                    .zip(&pz)
                    .filter(|(a, b)| rx / (*a / *b) > gamma)
                    .count();
                assert_eq!(s[i], c as f64 / 40.0, "x {i}, gamma {gamma}");
            }
        }
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[1.0, 2.0], &[0.0, 0.5]), 1.0);
        assert_eq!(auc(&[1.0], &[1.0]), 0.5);
        assert_eq!(auc(&[0.0, 1.0, 1.0], &[1.0, 0.5]), (0.0 + 1.5 + 1.5) / 6.0);
    }
}
