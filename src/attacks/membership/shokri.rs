//! The shadow-model attack of Shokri et al. 2017 ("Membership Inference
//! Attacks Against Machine Learning Models").
//!
//! Contract (attacks.md, "Shokri"):
//! - K shadow models (default K = 4), each a fresh copy of the target's graph
//!   trained with the reference recipe ([`TrainRecipe`], calibrated to the
//!   target's member accuracy by default) on a seeded random half of the
//!   population ("in"); the other half is its "out" set (disjoint).
//! - Attack features of a record under a model: the class-probability
//!   vector sorted descending, followed by the probability of the true label
//!   (C + 1 values, C >= 2 classes).
//! - One L2-regularised logistic regression per true class, fitted in f64 by
//!   Newton's method on the shadows' (features, in/out) pairs:
//!   minimise `sum_i log(1 + exp(-t_i (w.f_i + b))) + l2/2 (|w|^2 + 1e-4 b^2)`
//!   (`t_i` = +1 in, -1 out; `l2` default 1.0; the tiny intercept penalty
//!   keeps the Hessian invertible). A class with fewer than 2 records of
//!   either label uses one model fitted on all classes instead (said in the
//!   details).
//! - Score of a member / non-member = the attack model's P(in) on the
//!   target's features for it, `sigmoid(w.f + b)`.
//! - Needs a population CSV with at least [`MIN_POPULATION`] records.

use super::references::{model_seed, resolve_recipe, train_one, TargetFit, TrainRecipe};
use super::{predict_probs, AttackError, AttackOutput, AuditInputs, Progress, Records, Target};
use crate::engine::math::PortableMath;
use crate::engine::train::check_trainable;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Smallest population accepted (each shadow trains on half of it).
pub const MIN_POPULATION: usize = 20;

/// Shokri settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShokriConfig {
    /// Number of shadow models.
    pub k: usize,
    pub recipe: TrainRecipe,
    /// L2 penalty of the attack classifiers.
    pub l2: f64,
    pub seed: u64,
}

impl Default for ShokriConfig {
    fn default() -> Self {
        ShokriConfig {
            k: 4,
            recipe: TrainRecipe::default(),
            l2: 1.0,
            seed: 0,
        }
    }
}

/// A fitted logistic regression `P(in) = sigmoid(w.f + b)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logistic {
    pub w: Vec<f64>,
    pub b: f64,
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).p_exp())
    } else {
        let e = t.p_exp();
        e / (1.0 + e)
    }
}

impl Logistic {
    pub fn predict(&self, f: &[f64]) -> f64 {
        sigmoid(self.w.iter().zip(f).map(|(a, b)| a * b).sum::<f64>() + self.b)
    }
}

/// Solve `a x = r` (a symmetric positive definite, small) by Gaussian
/// elimination with partial pivoting; `None` if singular.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut r: Vec<f64>) -> Option<Vec<f64>> {
    let n = r.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, p);
        r.swap(c, p);
        for i in c + 1..n {
            let f = a[i][c] / a[c][c];
            for j in c..n {
                a[i][j] -= f * a[c][j];
            }
            r[i] -= f * r[c];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| a[i][j] * x[j]).sum();
        x[i] = (r[i] - s) / a[i][i];
    }
    Some(x)
}

/// Fit an L2-regularised logistic regression by Newton's method.
#[allow(clippy::needless_range_loop)]
pub fn fit_logistic(
    features: &[Vec<f64>],
    is_in: &[bool],
    l2: f64,
) -> Result<Logistic, AttackError> {
    if !(l2.is_finite() && l2 > 0.0) {
        return Err(AttackError::Config(format!(
            "the attack classifier's L2 must be > 0, got {l2}"
        )));
    }
    let d = features.first().map_or(0, |f| f.len());
    let lb = l2 * 1e-4;
    let mut theta = vec![0.0; d + 1]; // w..., b
    for _ in 0..100 {
        let mut grad = vec![0.0; d + 1];
        let mut hess = vec![vec![0.0; d + 1]; d + 1];
        for (f, &y) in features.iter().zip(is_in) {
            let z = f.iter().zip(&theta).map(|(a, b)| a * b).sum::<f64>() + theta[d];
            let p = sigmoid(z);
            let e = p - if y { 1.0 } else { 0.0 };
            let wgt = p * (1.0 - p);
            let fx = |j: usize| if j < d { f[j] } else { 1.0 };
            for j in 0..=d {
                grad[j] += e * fx(j);
                for k in 0..=d {
                    hess[j][k] += wgt * fx(j) * fx(k);
                }
            }
        }
        for j in 0..=d {
            let pen = if j < d { l2 } else { lb };
            grad[j] += pen * theta[j];
            hess[j][j] += pen;
        }
        let step = solve(hess, grad.clone()).ok_or_else(|| {
            AttackError::Input("the attack classifier's Newton system is singular".into())
        })?;
        let mut max_step: f64 = 0.0;
        for j in 0..=d {
            theta[j] -= step[j];
            max_step = max_step.max(step[j].abs());
        }
        if !max_step.is_finite() {
            return Err(AttackError::Input(
                "the attack classifier diverged (non-finite weights)".into(),
            ));
        }
        if max_step < 1e-10 {
            break;
        }
    }
    Ok(Logistic {
        w: theta[..d].to_vec(),
        b: theta[d],
    })
}

/// Sorted-descending probabilities plus the true label's probability.
pub fn attack_features(probs: &Array2<f64>, y: &[usize]) -> Vec<Vec<f64>> {
    probs
        .rows()
        .into_iter()
        .zip(y)
        .map(|(row, &label)| {
            let mut f: Vec<f64> = row.to_vec();
            f.sort_by(|a, b| b.total_cmp(a));
            f.push(row.get(label).copied().unwrap_or(0.0));
            f
        })
        .collect()
}

fn check_labels(r: &Records, classes: usize, what: &str) -> Result<(), AttackError> {
    if let Some((i, &y)) = r.y.iter().enumerate().find(|(_, &y)| y >= classes) {
        return Err(AttackError::Input(format!(
            "{what} record {i} has label {y}, the model has {classes} classes"
        )));
    }
    Ok(())
}

/// Run the shadow-model attack.
pub fn shokri(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &ShokriConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttackOutput, AttackError> {
    let pop = match &inputs.population {
        Some(p) if p.len() >= MIN_POPULATION => p,
        other => {
            return Err(AttackError::Needs {
                attack: "Shokri shadow models".into(),
                what: format!(
                    "a population CSV with at least {MIN_POPULATION} labelled records \
                     (got {})",
                    other.as_ref().map_or(0, |p| p.len())
                ),
            })
        }
    };
    if cfg.k == 0 || cfg.k > 256 {
        return Err(AttackError::Config(format!(
            "Shokri needs 1 <= K <= 256 shadow models, got {}",
            cfg.k
        )));
    }
    check_trainable(target.graph)?;
    let target_fit = TargetFit::of(target, inputs)?;
    let member_acc = target_fit.members.accuracy;
    let (recipe, train_cfg) = resolve_recipe(&cfg.recipe, &target_fit)?;
    let kind = target.output_kind;
    let probs_of = |params: &crate::engine::ParamSet, r: &Records| {
        predict_probs(target.graph, params, kind, &r.x)
    };
    let classes = probs_of(target.params, &pop.select(&[0]))?.ncols();
    check_labels(pop, classes, "population")?;
    check_labels(&inputs.members, classes, "member")?;
    check_labels(&inputs.nonmembers, classes, "non-member")?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7368_6f6b_7269);
    let mut feats: Vec<Vec<f64>> = Vec::new();
    let mut labels_in: Vec<bool> = Vec::new();
    let mut classes_of: Vec<usize> = Vec::new();
    let mut models = Vec::with_capacity(cfg.k);
    let mut idx: Vec<usize> = (0..pop.len()).collect();
    for s in 0..cfg.k {
        let stage = format!("training shadow model {}/{}", s + 1, cfg.k);
        if !progress(Progress {
            stage: stage.clone(),
            done: s,
            total: cfg.k,
        }) {
            return Err(AttackError::Cancelled);
        }
        idx.shuffle(&mut rng);
        let half = pop.len() / 2;
        let din = pop.select(&idx[..half]);
        let dout = pop.select(&idx[half..]);
        let seed = model_seed(cfg.seed, 2, s);
        let at = Progress {
            stage,
            done: s,
            total: cfg.k,
        };
        let (params, info) = train_one(target, &din, &train_cfg, seed, &at, progress)?;
        for (data, is_in) in [(&din, true), (&dout, false)] {
            let f = attack_features(&probs_of(&params, data)?, &data.y);
            labels_in.extend(std::iter::repeat(is_in).take(f.len()));
            classes_of.extend(&data.y);
            feats.extend(f);
        }
        models.push(info);
    }

    let global = fit_logistic(&feats, &labels_in, cfg.l2)?;
    let mut per_class: Vec<Option<Logistic>> = Vec::with_capacity(classes);
    let mut fallback_classes = Vec::new();
    for c in 0..classes {
        let (mut f, mut l) = (Vec::new(), Vec::new());
        for i in 0..feats.len() {
            if classes_of[i] == c {
                f.push(feats[i].clone());
                l.push(labels_in[i]);
            }
        }
        let n_in = l.iter().filter(|&&b| b).count();
        if n_in < 2 || l.len() - n_in < 2 {
            fallback_classes.push(c);
            per_class.push(None);
        } else {
            per_class.push(Some(fit_logistic(&f, &l, cfg.l2)?));
        }
    }
    let score = |r: &Records| -> Result<Vec<f64>, AttackError> {
        let f = attack_features(&probs_of(target.params, r)?, &r.y);
        Ok(f.iter()
            .zip(&r.y)
            .map(|(f, &c)| per_class[c].as_ref().unwrap_or(&global).predict(f))
            .collect())
    };
    let members = score(&inputs.members)?;
    let nonmembers = score(&inputs.nonmembers)?;
    Ok(AttackOutput {
        members,
        nonmembers,
        details: serde_json::json!({
            "attack": "shokri",
            "label": "shadow models + per-class logistic regression (Shokri et al. 2017)",
            "k": cfg.k,
            "populationSize": pop.len(),
            "shadowTrainSize": pop.len() / 2,
            "features": "class probabilities sorted descending, then the true label's probability",
            "classifierL2": cfg.l2,
            "classesUsingGlobalModel": fallback_classes,
            "recipe": recipe,
            "targetMemberAccuracy": member_acc,
            "models": models,
        }),
    })
}
