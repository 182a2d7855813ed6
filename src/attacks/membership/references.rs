//! Reference (shadow) models for LiRA, RMIA (and later the risk score): K
//! fresh copies of the target's own graph, trained by the inspector, of which
//! only the per-record signals the attacks need are kept.
//!
//! Contract:
//! - **Online** ([`ReferenceMode::Online`]): the audit pool is members, then
//!   non-members, then (if [`ReferenceConfig::population_in_pool`]) the
//!   population records not reserved for RMIA's Z (see below). The IN matrix
//!   `in_mask[k][i]` is a balanced design: for every pool record a seeded
//!   random permutation of the K models picks `floor(K/2)` of them (for odd
//!   K, `ceil(K/2)` for every other record), so each record is IN for K/2
//!   models (+-1/2) and each model trains on about half of the pool.
//! - **Offline** ([`ReferenceMode::Offline`]): the K models are trained on
//!   population records only, each on a random half (same balanced design)
//!   of the population's *training part*; every audit record is OUT for
//!   every model (`in_mask` is all `false`).
//! - **Z reserve**: whenever population records train references (offline,
//!   or online with `population_in_pool`), a seeded random fraction
//!   `z_reserve` of the population (default 1/2) is held out of every
//!   training set; those records form RMIA's population Z. Otherwise every
//!   population record is in Z. `pop_in_mask[k][j]` records which population
//!   records trained model k; `z_indices` lists the Z records.
//! - **Recipe** ([`TrainRecipe`]): by default calibrated to the target's
//!   *fit*: the target's median per-record loss `-ln p_y` on the members
//!   becomes each reference's `target_loss`; Adam (lr 3e-3), batch 64,
//!   up to `max_epochs` (default 3000) epochs, stopping after the first
//!   epoch at which the median loss on the reference's own training records
//!   is at most the target's (so a reference never trains past the fit of a
//!   regularised or early-stopped target). L2: the target's own penalty when
//!   its loss gradient on the members balances one (cosine at least
//!   [`L2_MIN_COSINE`], [`TargetFit::of`]); the references then also stop
//!   when their penalised objective stops improving ([`Plateau`]); else 0. Why loss and not accuracy: a
//!   converged target reaches 100% training accuracy long before its fit,
//!   and references stopped there are far less confident on their IN
//!   records than the target on its members, so LiRA under-reports
//!   (docs/attacks.md, "Reference models"). Every knob can be overridden
//!   (fixed epochs, an accuracy target, another loss target, the training
//!   size). The recipe used, every reference's epochs and its fit on its IN
//!   and OUT records, and the [`Calibration`] summary are recorded.
//! - **Training size**: every reference trains on as many records as the
//!   target did (the member count; [`ReferenceConfig::train_size`] changes
//!   it): online, each pool record is IN for `floor/ceil(f K)` models with
//!   `f = size / pool` (kept within 1..K-1 models per record; with members
//!   and non-members of equal count and no population in the pool this is
//!   the balanced K/2 design); offline, a fraction `size / T` of the
//!   population's training part T (all of it when T is smaller).
//! - Model k is initialised with `init_params(seed_k)` and trained with
//!   `seed_k`, `seed_k` derived from the config seed and k; everything is
//!   deterministic.
//! - Kept per reference and per record (members, non-members, population):
//!   the probability of the true label `p_y` (f64, the `engine::proba`
//!   convention) and the logit-scaled confidence `phi` (attacks.md). The
//!   parameters are dropped after each model is evaluated.
//! - `phi`: from logits, `z_y - logsumexp_{j!=y} z_j`; a single binary logit
//!   `s` gives `s` for y = 1 and `-s` for y = 0; from probabilities
//!   `ln max(p_y, 1e-45) - ln max(sum_{j!=y} p_j, 1e-45)` in f64 (the sum of
//!   the other classes is `1 - p_y` for normalised rows and does not cancel
//!   when `p_y` is close to 1; this is also what the LiRA authors compute).
//! - Errors: untrainable graph -> [`AttackError::Engine`] with the reason;
//!   too few records -> [`AttackError::Input`] / [`AttackError::Needs`]
//!   naming the numbers; cancelled -> [`AttackError::Cancelled`].

use super::{predict_raw, AttackError, AuditInputs, Progress, Records, Target};
pub use crate::engine::proba::prob_and_phi;
use crate::engine::proba::{fit_signals, Fit};
use crate::engine::train::{
    check_trainable, init_params, train, Optimizer, Plateau, Stationarity, TrainConfig,
};
use crate::engine::OutputKind;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the references relate to the audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceMode {
    Online,
    Offline,
}

/// The training recipe of reference / shadow models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainRecipe {
    pub optimizer: Optimizer,
    pub batch_size: usize,
    /// L2 coefficient on the weights (`l2/2 ||w||^2`). `None` (the default)
    /// when calibrating by fit: the target's own, estimated from where its
    /// loss gradient on the members balances an L2 penalty
    /// ([`crate::engine::train::l2_stationarity`]) when that explains the
    /// gradient (cosine at least [`L2_MIN_COSINE`]), else 0. With fixed
    /// epochs or an accuracy target, `None` is 0.
    #[serde(default)]
    pub l2: Option<f32>,
    /// Upper bound on epochs when calibrating (to the target's loss, or to
    /// an accuracy the user gives).
    pub max_epochs: usize,
    /// Train exactly this many epochs (no calibration stop) when set.
    pub fixed_epochs: Option<usize>,
    /// Stop at this training accuracy instead of calibrating by loss (the
    /// user's choice; the default calibrates by loss).
    pub target_accuracy: Option<f64>,
    /// Stop when the median per-record loss on a reference's own training
    /// records falls to this; `None` (with `fixed_epochs` and
    /// `target_accuracy` unset) means "the target's median loss on the
    /// members", resolved when the references are planned.
    #[serde(default)]
    pub target_loss: Option<f64>,
}

/// Default epoch cap of calibrated reference training: far enough for a
/// reference to reach the fit of a target trained to convergence (a
/// scikit-learn MLP trained to convergence on 250 digits needs about 860
/// epochs at the default learning rate; the digits demo about 230), while
/// a regularised or early-stopped target's fit is reached in a few.
pub const DEFAULT_MAX_EPOCHS: usize = 3000;

/// Default Adam learning rate of reference training. 3e-3 reaches a
/// converged target's fit in about half the epochs 1e-3 needs (measured on
/// tests/fixtures/calibration: 860 against 1570 epochs, LiRA online AUC
/// 0.729 against 0.716, the independent LiRA 0.744).
pub const DEFAULT_LR: f32 = 3e-3;

impl Default for TrainRecipe {
    fn default() -> Self {
        TrainRecipe {
            optimizer: Optimizer::adam(DEFAULT_LR),
            batch_size: 64,
            l2: None,
            max_epochs: DEFAULT_MAX_EPOCHS,
            fixed_epochs: None,
            target_accuracy: None,
            target_loss: None,
        }
    }
}

/// The target's L2 is copied into the references only when its gradient on
/// the members points against its weights at least this closely (cosine).
/// Measured on tests/fixtures/calibration: a scikit-learn MLP with alpha 3
/// gives 0.93 (coefficient 0.037 in the trainer's convention); models
/// trained without a penalty give lower cosines and coefficients near 0.
pub const L2_MIN_COSINE: f64 = 0.8;

impl crate::settings::Ranged for TrainRecipe {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::{opt, some, REF_BATCH_SIZE, REF_FIXED_EPOCHS, REF_MAX_EPOCHS};
        vec![
            (REF_MAX_EPOCHS, some(self.max_epochs)),
            (REF_FIXED_EPOCHS, opt(self.fixed_epochs)),
            (REF_BATCH_SIZE, some(self.batch_size)),
        ]
    }
}

/// Settings of [`train_references`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceConfig {
    pub mode: ReferenceMode,
    /// Number of reference models K.
    pub k: usize,
    /// Online only: also put (the non-reserved part of) the population in
    /// the audit pool.
    pub population_in_pool: bool,
    /// Fraction of the population held out of every training set for RMIA's
    /// Z when population records train references (0 < z_reserve < 1).
    pub z_reserve: f64,
    /// Records each reference trains on; `None` = the target's training-set
    /// size (the member count), capped by the records available.
    #[serde(default)]
    pub train_size: Option<usize>,
    pub recipe: TrainRecipe,
    pub seed: u64,
}

impl Default for ReferenceConfig {
    fn default() -> Self {
        ReferenceConfig {
            mode: ReferenceMode::Online,
            k: 16,
            population_in_pool: false,
            z_reserve: 0.5,
            train_size: None,
            recipe: TrainRecipe::default(),
            seed: 0,
        }
    }
}

/// Per-reference signals on one record set: `[K][records]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefSignals {
    /// Probability of the true label.
    pub prob: Vec<Vec<f64>>,
    /// Logit-scaled confidence.
    pub phi: Vec<Vec<f64>>,
}

/// What training one reference did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceInfo {
    pub seed: u64,
    pub train_size: usize,
    pub epochs_run: usize,
    pub train_accuracy: f64,
    pub stopped_by: String,
    /// Its fit on its own training records (IN) and on every audit record
    /// that did not train it (OUT: members, non-members, population).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_in: Option<Fit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_out: Option<Fit>,
}

/// Trained references, reduced to what the attacks need.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceSet {
    pub mode: ReferenceMode,
    pub k: usize,
    /// `[K][pool_len]`; pool = members, non-members, then population records
    /// in `pool_population` order. All `false` offline.
    pub in_mask: Vec<Vec<bool>>,
    pub pool_len: usize,
    pub n_members: usize,
    pub n_nonmembers: usize,
    /// Population indices that are in the (online) pool, in pool order.
    pub pool_population: Vec<usize>,
    /// `[K][population]`: population record j trained model k.
    pub pop_in_mask: Vec<Vec<bool>>,
    /// Population records never in any training set (RMIA's Z), ascending.
    pub z_indices: Vec<usize>,
    pub members: RefSignals,
    pub nonmembers: RefSignals,
    pub population: Option<RefSignals>,
    /// The recipe as run (loss or accuracy target resolved).
    pub recipe: TrainRecipe,
    /// The target's accuracy on the members.
    pub target_member_accuracy: f64,
    /// The target's fit on the members and on the non-members.
    pub target_fit: TargetFit,
    /// Records each model was asked to train on (the design's size).
    pub train_size: usize,
    /// The L2 coefficient the models trained with (the recipe's, or the
    /// target's when the recipe leaves it to calibration).
    pub train_l2: f32,
    pub models: Vec<ReferenceInfo>,
}

/// The target's fit, the yardstick of the reference calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetFit {
    pub members: Fit,
    pub nonmembers: Fit,
    /// The L2 penalty the target's gradient on the members balances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stationarity: Option<Stationarity>,
}

impl TargetFit {
    /// The target's fit on the members and non-members and its L2
    /// stationarity on the members (`None` when the graph cannot be
    /// differentiated).
    pub fn of(target: &Target, inputs: &AuditInputs) -> Result<TargetFit, AttackError> {
        let members = fit_of(target, &inputs.members)?;
        let nonmembers = fit_of(target, &inputs.nonmembers)?;
        let stationarity = if inputs.members.is_empty() {
            None
        } else {
            crate::engine::train::l2_stationarity(
                target.graph,
                target.params,
                &inputs.members.x,
                &inputs.members.y,
                256,
            )
            .ok()
            .filter(|s| s.l2.is_finite() && s.cosine.is_finite())
        };
        Ok(TargetFit {
            members,
            nonmembers,
            stationarity,
        })
    }
}

/// Median, smallest and largest of a figure over the references.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(v: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = v.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        let median = crate::engine::proba::median_in_place(&mut v);
        Some(Spread {
            median,
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

/// Fit of the references beside the target's (report section
/// `references.<mode>.calibration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    /// How the references were stopped: "target_loss", "target_accuracy"
    /// or "fixed_epochs".
    pub stop: String,
    /// The statistic compared.
    pub statistic: String,
    /// The loss (or accuracy) each reference was trained to reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_accuracy: Option<f64>,
    pub target: TargetFit,
    /// The L2 coefficient the references trained with, and where it came
    /// from: "recipe" (the user's), "target" (the target's stationarity)
    /// or "none".
    pub l2: f64,
    pub l2_source: String,
    /// Over the references: their fit on their own training records (IN)...
    pub in_loss_median: Option<Spread>,
    pub in_accuracy: Option<Spread>,
    /// ...and on the audit records that did not train them (OUT).
    pub out_loss_median: Option<Spread>,
    pub out_accuracy: Option<Spread>,
    /// References that ran to the epoch cap without reaching the target's fit.
    pub capped: usize,
    pub max_epochs: usize,
    /// Median epochs run.
    pub epochs_median: f64,
    pub train_size: usize,
    /// Plain-language warnings (fit clearly below or above the target's;
    /// references that hit the cap).
    pub warnings: Vec<String>,
}

/// The references' median IN loss may differ from the target's member loss
/// by this factor either way before the report warns (a factor of 2 in the
/// median loss is a shift of about ln 2 = 0.69 in the median phi for
/// confident records).
pub const CALIBRATION_WARN_FACTOR: f64 = 2.0;

impl Calibration {
    /// The calibration of each reference set a report's `references`
    /// section holds (mode name, calibration), in the order online,
    /// offline.
    pub fn from_report(references: &serde_json::Value) -> Vec<(&'static str, Calibration)> {
        ["online", "offline"]
            .into_iter()
            .filter_map(|mode| {
                let c = references.get(mode)?.get("calibration")?;
                serde_json::from_value(c.clone()).ok().map(|c| (mode, c))
            })
            .collect()
    }

    /// One line for a terminal summary.
    pub fn line(&self, mode: &str) -> String {
        let goal = match self.stop.as_str() {
            "target_loss" => format!(
                "trained to the target's median loss on its members, {:.3e}",
                self.target_loss.unwrap_or(f64::NAN)
            ),
            "target_accuracy" => format!(
                "trained to a training accuracy of {:.3}",
                self.target_accuracy.unwrap_or(f64::NAN)
            ),
            _ => "trained a fixed number of epochs".to_string(),
        };
        let reach = match (self.in_loss_median, self.in_accuracy) {
            (Some(l), Some(a)) => format!(
                "; they reach a median loss of {:.3e} [{:.3e}, {:.3e}] and accuracy {:.3} on their {} training records (target: {:.3e}, {:.3} on members, {:.3e}, {:.3} on non-members), {} epochs (median)",
                l.median,
                l.min,
                l.max,
                a.median,
                self.train_size,
                self.target.members.loss_median,
                self.target.members.accuracy,
                self.target.nonmembers.loss_median,
                self.target.nonmembers.accuracy,
                self.epochs_median
            ),
            _ => String::new(),
        };
        let penalty = match self.l2_source.as_str() {
            "target" => format!(
                ", with the L2 penalty the target's gradient balances ({:.3e}, cosine {:.2})",
                self.l2,
                self.target.stationarity.map_or(f64::NAN, |s| s.cosine)
            ),
            "recipe" => format!(", L2 {:.3e}", self.l2),
            _ => String::new(),
        };
        let mut s = format!("{mode} references: {goal}{penalty}{reach}");
        for w in &self.warnings {
            s.push_str("\n  warning: ");
            s.push_str(w);
        }
        s
    }
}

impl ReferenceSet {
    /// `in_mask` restricted to members (`[K][members]`).
    pub fn members_in(&self) -> Vec<Vec<bool>> {
        self.in_mask
            .iter()
            .map(|r| r[..self.n_members].to_vec())
            .collect()
    }
    /// `in_mask` restricted to non-members (`[K][non-members]`).
    pub fn nonmembers_in(&self) -> Vec<Vec<bool>> {
        let a = self.n_members;
        let b = a + self.n_nonmembers;
        self.in_mask.iter().map(|r| r[a..b].to_vec()).collect()
    }
    /// The references' fit beside the target's, with warnings.
    pub fn calibration(&self) -> Calibration {
        let stop = if self.recipe.fixed_epochs.is_some() {
            "fixed_epochs"
        } else if self.recipe.target_accuracy.is_some() {
            "target_accuracy"
        } else {
            "target_loss"
        };
        let spread = |f: &dyn Fn(&ReferenceInfo) -> Option<f64>| {
            Spread::of(self.models.iter().filter_map(f))
        };
        let in_loss = spread(&|m| m.fit_in.map(|f| f.loss_median));
        let capped = self
            .models
            .iter()
            .filter(|m| m.stopped_by == "epochs" && stop != "fixed_epochs")
            .count();
        let mut epochs: Vec<f64> = self.models.iter().map(|m| m.epochs_run as f64).collect();
        let epochs_median = if epochs.is_empty() {
            0.0
        } else {
            crate::engine::proba::median_in_place(&mut epochs)
        };
        let mut warnings = Vec::new();
        let target_loss = self.target_fit.members.loss_median;
        if let Some(r) = in_loss {
            let (a, b) = (r.median, target_loss);
            let f = CALIBRATION_WARN_FACTOR;
            if a.is_finite() && b.is_finite() && a > b * f && a - b > 1e-6 {
                warnings.push(format!(
                    "the references fit their training records clearly less than the target fits its members (median loss {a:.3e} against {b:.3e}): the reference attacks may under-report leakage; train them longer (epoch cap, learning rate) or check the recipe"
                ));
            } else if a.is_finite() && b.is_finite() && a * f < b && b - a > 1e-6 {
                warnings.push(format!(
                    "the references fit their training records clearly more than the target fits its members (median loss {a:.3e} against {b:.3e}): the target may be regularised or stopped early in a way the recipe does not copy"
                ));
            }
        }
        if capped > 0 {
            warnings.push(format!(
                "{capped} of {} references reached the epoch cap ({}) before the target's fit",
                self.k, self.recipe.max_epochs
            ));
        }
        let l2 = self.train_l2 as f64;
        let l2_source = match self.recipe.l2 {
            Some(_) => "recipe",
            None if l2 > 0.0 => "target",
            None => "none",
        };
        Calibration {
            l2,
            l2_source: l2_source.into(),
            stop: stop.into(),
            statistic: "median per-record loss -ln p_y (= ln(1 + e^-phi)) and accuracy".into(),
            target_loss: self.recipe.target_loss,
            target_accuracy: self.recipe.target_accuracy,
            target: self.target_fit,
            in_loss_median: in_loss,
            in_accuracy: spread(&|m| m.fit_in.map(|f| f.accuracy)),
            out_loss_median: spread(&|m| m.fit_out.map(|f| f.loss_median)),
            out_accuracy: spread(&|m| m.fit_out.map(|f| f.accuracy)),
            capped,
            max_epochs: self.recipe.max_epochs,
            epochs_median,
            train_size: self.train_size,
            warnings,
        }
    }

    /// The facts the report records about the references.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": self.mode,
            "k": self.k,
            "poolLen": self.pool_len,
            "populationInPool": self.pool_population.len(),
            "zSize": self.z_indices.len(),
            "trainSize": self.train_size,
            "recipe": self.recipe,
            "targetMemberAccuracy": self.target_member_accuracy,
            "calibration": self.calibration(),
            "models": self.models,
        })
    }
}

/// Raw outputs -> (p_y, phi) per record, after checking the labels.
pub(crate) fn signals_of(
    raw: &Array2<f64>,
    kind: OutputKind,
    y: &[usize],
) -> Result<(Vec<f64>, Vec<f64>), AttackError> {
    let classes = raw.ncols().max(2);
    let mut p = Vec::with_capacity(y.len());
    let mut phi = Vec::with_capacity(y.len());
    for (i, &label) in y.iter().enumerate() {
        if label >= classes {
            return Err(AttackError::Input(format!(
                "record {i} has label {label}, the model has {classes} classes"
            )));
        }
        let row: Vec<f64> = raw.row(i).to_vec();
        let (a, b) = prob_and_phi(&row, kind, label);
        p.push(a);
        phi.push(b);
    }
    Ok((p, phi))
}

/// (p_y, phi) of the target model on `records`.
pub fn target_signals(
    target: &Target,
    records: &Records,
) -> Result<(Vec<f64>, Vec<f64>), AttackError> {
    if records.is_empty() {
        return Ok((vec![], vec![]));
    }
    let raw = predict_raw(target.graph, target.params, &records.x)?;
    signals_of(&raw, target.output_kind, &records.y)
}

/// The target's fit on `records` (accuracy, median loss), with the labels
/// checked.
pub fn fit_of(target: &Target, records: &Records) -> Result<Fit, AttackError> {
    let (_, phi, correct) = fit_signals_of(target, records)?;
    Ok(Fit::of(phi, correct).unwrap_or(Fit {
        accuracy: 0.0,
        loss_median: f64::NAN,
        records: 0,
    }))
}

/// `(p_y, phi, correct)` per record.
type FitSignals = (Vec<f64>, Vec<f64>, Vec<bool>);

/// `(p_y, phi, correct)` per record of a model on `records`.
fn fit_signals_of(target: &Target, records: &Records) -> Result<FitSignals, AttackError> {
    if records.is_empty() {
        return Ok((vec![], vec![], vec![]));
    }
    let raw = predict_raw(target.graph, target.params, &records.x)?;
    let classes = raw.ncols().max(2);
    if let Some((i, &l)) = records.y.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(AttackError::Input(format!(
            "record {i} has label {l}, the model has {classes} classes"
        )));
    }
    Ok(fit_signals(&raw, target.output_kind, &records.y))
}

/// Validate a recipe and resolve it into a [`TrainConfig`] (seed 0): fixed
/// epochs, else the user's accuracy target, else calibration to the
/// target's median loss on the members (the default).
pub(crate) fn resolve_recipe(
    recipe: &TrainRecipe,
    target_fit: &TargetFit,
) -> Result<(TrainRecipe, TrainConfig), AttackError> {
    let mut r = recipe.clone();
    let mut cfg = TrainConfig {
        optimizer: r.optimizer,
        epochs: r.max_epochs,
        batch_size: r.batch_size,
        l2: r.l2.unwrap_or(0.0),
        target_accuracy: None,
        target_loss: None,
        seed: 0,
        dp: None,
        plateau: None,
    };
    if r.max_epochs == 0 && r.fixed_epochs.is_none() {
        return Err(AttackError::Config(
            "reference training recipe: the epoch cap must be at least 1".into(),
        ));
    }
    match (r.fixed_epochs, r.target_accuracy) {
        (Some(e), _) => {
            r.target_accuracy = None;
            r.target_loss = None;
            cfg.epochs = e;
        }
        (None, Some(t)) => {
            r.target_loss = None;
            cfg.target_accuracy = Some(t);
        }
        (None, None) => {
            let t = r.target_loss.unwrap_or(target_fit.members.loss_median);
            if !t.is_finite() {
                return Err(AttackError::Input(format!(
                    "the target's median loss on the members is {t}: cannot calibrate the references to it"
                )));
            }
            r.target_loss = Some(t);
            cfg.target_loss = Some(t);
            if r.l2.is_none() {
                if let Some(st) = target_fit.stationarity {
                    if st.cosine >= L2_MIN_COSINE && st.l2 > 0.0 && st.l2 < 1e6 {
                        // the target sits at an L2 equilibrium: train with
                        // its penalty until the fit is reached or the
                        // objective stops improving (a regularised
                        // equilibrium may never reach the exact loss)
                        // (the recipe keeps `None`: the calibration
                        // section records the value and its source)
                        cfg.l2 = st.l2 as f32;
                        cfg.plateau = Some(Plateau::default());
                    }
                }
            }
        }
    }
    cfg.validate()
        .map_err(|e| AttackError::Config(format!("reference training recipe: {e}")))?;
    Ok((r, cfg))
}

/// Train one fresh copy of the target on `data`; returns the parameters'
/// report and the parameters. `at` is the progress message shown while it
/// trains.
pub(crate) fn train_one(
    target: &Target,
    data: &Records,
    cfg: &TrainConfig,
    seed: u64,
    at: &Progress,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<(crate::engine::ParamSet, ReferenceInfo), AttackError> {
    if data.is_empty() {
        return Err(AttackError::Input(format!(
            "{}: its training set is empty",
            at.stage
        )));
    }
    let mut params = init_params(target.graph, target.params, seed);
    let cfg = TrainConfig {
        seed,
        ..cfg.clone()
    };
    let mut cancelled = false;
    let report = train(
        target.graph,
        &mut params,
        &data.x,
        &data.y,
        &cfg,
        &mut |_| {
            let go = progress(at.clone());
            cancelled |= !go;
            go
        },
    )?;
    if cancelled || report.stopped_by == "cancelled" {
        return Err(AttackError::Cancelled);
    }
    Ok((
        params,
        ReferenceInfo {
            seed,
            train_size: data.len(),
            epochs_run: report.epochs_run,
            train_accuracy: report.train_accuracy,
            stopped_by: report.stopped_by,
            fit_in: None,
            fit_out: None,
        },
    ))
}

/// Seed of model `k` derived from the config seed (SplitMix64 step),
/// kept below 2^53 so that every seed in a report is exact in JSON readers
/// (JavaScript numbers).
pub(crate) fn model_seed(seed: u64, salt: u64, k: usize) -> u64 {
    let mut z = seed
        .wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add((k as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & crate::attacks::membership::audit::MAX_SEED
}

/// Balanced IN design: `[k][n]`, each column has `k/2` trues (for odd k,
/// alternately floor and ceil). [`design`] with fraction 1/2.
pub fn balanced_design(k: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<bool>> {
    design(k, n, 0.5, rng)
}

/// IN design with inclusion fraction `f`: `[k][n]`; record i is IN for
/// `floor(f k (i+1)) - floor(f k i)` models (so the counts average f k
/// exactly and alternate between floor and ceil), chosen by a seeded
/// permutation of the k models; each model then trains on about f n
/// records. With f = 1/2 this is the balanced design (the same draws).
pub fn design(k: usize, n: usize, f: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<bool>> {
    let mut mask = vec![vec![false; n]; k];
    let mut perm: Vec<usize> = (0..k).collect();
    let fk = f.clamp(0.0, 1.0) * k as f64;
    #[allow(clippy::needless_range_loop)]
    for i in 0..n {
        perm.shuffle(rng);
        let n_in = ((fk * (i + 1) as f64).floor() - (fk * i as f64).floor()) as usize;
        for &m in &perm[..n_in.min(k)] {
            mask[m][i] = true;
        }
    }
    mask
}

/// (population indices in the pool, IN mask over the pool, IN mask over the
/// population, training set per model).
type Design = (Vec<usize>, Vec<Vec<bool>>, Vec<Vec<bool>>, Vec<TrainSet>);

/// Which records train one reference model: row indices into the members,
/// the non-members and the population, each ascending. Kept as indices (the
/// records are gathered only when that model trains), so a plan of K models
/// costs no copy of the data.
#[derive(Debug, Clone, Default)]
struct TrainSet {
    members: Vec<usize>,
    nonmembers: Vec<usize>,
    population: Vec<usize>,
}

impl TrainSet {
    /// The records, in pool order: members, then non-members, then
    /// population.
    fn gather(&self, inputs: &AuditInputs) -> Result<Records, AttackError> {
        let mut parts = Vec::new();
        if !self.members.is_empty() {
            parts.push(inputs.members.select(&self.members));
        }
        if !self.nonmembers.is_empty() {
            parts.push(inputs.nonmembers.select(&self.nonmembers));
        }
        if !self.population.is_empty() {
            let pop = inputs
                .population
                .as_ref()
                .ok_or_else(|| AttackError::Input("no population".into()))?;
            parts.push(pop.select(&self.population));
        }
        match parts.len() {
            0 => Ok(inputs.members.select(&[])),
            1 => Ok(parts.remove(0)),
            _ => Records::concat(&parts.iter().collect::<Vec<_>>()),
        }
    }
}

/// Everything about a reference set that is decided before any model trains:
/// the resolved recipe, the population split, the IN design and every
/// model's training set. Built by [`plan_references`]; deterministic in the
/// config, so every worker or process that builds it from the same inputs
/// gets the same plan, and model `m` trained anywhere (see
/// [`ReferencePlan::train`]) gives the same signals.
#[derive(Debug, Clone)]
pub struct ReferencePlan {
    pub mode: ReferenceMode,
    pub k: usize,
    pub seed: u64,
    recipe: TrainRecipe,
    train_cfg: TrainConfig,
    target_fit: TargetFit,
    train_size: usize,
    z_indices: Vec<usize>,
    pool_population: Vec<usize>,
    in_mask: Vec<Vec<bool>>,
    pop_in_mask: Vec<Vec<bool>>,
    train_sets: Vec<TrainSet>,
}

/// One trained reference reduced to its signals: the unit of work that can
/// run in any worker or process and be merged by [`ReferencePlan::assemble`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainedReference {
    /// Model index in `0..K`.
    pub index: usize,
    /// `(p_y, phi)` per member, non-member and population record.
    pub members: (Vec<f64>, Vec<f64>),
    pub nonmembers: (Vec<f64>, Vec<f64>),
    pub population: Option<(Vec<f64>, Vec<f64>)>,
    pub info: ReferenceInfo,
}

/// Validate `cfg` against the inputs and decide the design (no training).
pub fn plan_references(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &ReferenceConfig,
) -> Result<ReferencePlan, AttackError> {
    let needs_pop = cfg.mode == ReferenceMode::Offline || cfg.population_in_pool;
    let min_k = if cfg.mode == ReferenceMode::Online {
        2
    } else {
        1
    };
    if cfg.k < min_k || cfg.k > 1024 {
        return Err(AttackError::Config(format!(
            "{:?} references need {min_k} <= K <= 1024, got K = {}",
            cfg.mode, cfg.k
        )));
    }
    if needs_pop && !(cfg.z_reserve > 0.0 && cfg.z_reserve < 1.0) {
        return Err(AttackError::Config(format!(
            "the Z reserve must be a fraction in (0, 1), got {}",
            cfg.z_reserve
        )));
    }
    if inputs.members.is_empty() || inputs.nonmembers.is_empty() {
        return Err(AttackError::Input(format!(
            "reference models need members and non-members, got {} and {}",
            inputs.members.len(),
            inputs.nonmembers.len()
        )));
    }
    check_trainable(target.graph)?;
    let target_fit = TargetFit::of(target, inputs)?;
    let (recipe, train_cfg) = resolve_recipe(&cfg.recipe, &target_fit)?;
    if cfg.train_size == Some(0) {
        return Err(AttackError::Config(
            "the reference training-set size must be at least 1".into(),
        ));
    }
    // every reference trains on as many records as the target did (the
    // member count) unless the user gives another size
    let wanted = cfg.train_size.unwrap_or(inputs.members.len());

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7265_6665_7265_6e63);
    let n_pop = inputs.population.as_ref().map_or(0, |p| p.len());
    // Population split: Z reserve vs records that may train references.
    let (z_indices, trainable_pop): (Vec<usize>, Vec<usize>) = if needs_pop {
        let what = match cfg.mode {
            ReferenceMode::Offline => "offline reference models",
            ReferenceMode::Online => "online reference models with the population in the pool",
        };
        const MIN_POP: usize = 4;
        if n_pop < MIN_POP {
            return Err(AttackError::Needs {
                attack: what.into(),
                what: format!(
                    "a population CSV with at least {MIN_POP} labelled records (got {n_pop})"
                ),
            });
        }
        let mut idx: Vec<usize> = (0..n_pop).collect();
        idx.shuffle(&mut rng);
        let n_z = ((n_pop as f64 * cfg.z_reserve).round() as usize).clamp(1, n_pop - 2);
        let mut z = idx[..n_z].to_vec();
        let mut t = idx[n_z..].to_vec();
        z.sort_unstable();
        t.sort_unstable();
        (z, t)
    } else {
        ((0..n_pop).collect(), vec![])
    };

    let k = cfg.k;
    let n_m = inputs.members.len();
    let n_n = inputs.nonmembers.len();
    let (pool_population, in_mask, pop_in_mask, train_sets): Design = match cfg.mode {
        ReferenceMode::Online => {
            let pool_pop = trainable_pop.clone();
            let pool_len = n_m + n_n + pool_pop.len();
            // inclusion fraction for `wanted` records per model, kept so that
            // every record is IN for at least one model and OUT for another
            let fk = (wanted as f64 / pool_len as f64 * k as f64).clamp(1.0, (k - 1) as f64);
            let mask = design(k, pool_len, fk / k as f64, &mut rng);
            let mut pop_mask = vec![vec![false; n_pop]; k];
            for (m, row) in mask.iter().enumerate() {
                for (q, &j) in pool_pop.iter().enumerate() {
                    pop_mask[m][j] = row[n_m + n_n + q];
                }
            }
            let sets = mask
                .iter()
                .map(|row| TrainSet {
                    members: (0..n_m).filter(|&i| row[i]).collect(),
                    nonmembers: (0..n_n).filter(|&i| row[n_m + i]).collect(),
                    population: pool_pop
                        .iter()
                        .enumerate()
                        .filter(|&(q, _)| row[n_m + n_n + q])
                        .map(|(_, &j)| j)
                        .collect(),
                })
                .collect();
            (pool_pop, mask, pop_mask, sets)
        }
        ReferenceMode::Offline => {
            if inputs.population.is_none() {
                return Err(AttackError::Input("no population".into()));
            }
            // each model trains on `wanted` records of the population's
            // training part (all of it when it has fewer)
            let f = (wanted as f64 / trainable_pop.len().max(1) as f64).min(1.0);
            let design = design(k.max(2), trainable_pop.len(), f, &mut rng);
            let mut pop_mask = vec![vec![false; n_pop]; k];
            let mut sets = Vec::with_capacity(k);
            for m in 0..k {
                let mut idx = Vec::new();
                for (q, &j) in trainable_pop.iter().enumerate() {
                    if design[m][q] {
                        pop_mask[m][j] = true;
                        idx.push(j);
                    }
                }
                sets.push(TrainSet {
                    population: idx,
                    ..TrainSet::default()
                });
            }
            (vec![], vec![vec![false; n_m + n_n]; k], pop_mask, sets)
        }
    };

    let train_size = match cfg.mode {
        ReferenceMode::Online => wanted.min(n_m + n_n + pool_population.len()),
        ReferenceMode::Offline => wanted.min(trainable_pop.len()),
    };
    Ok(ReferencePlan {
        mode: cfg.mode,
        k,
        seed: cfg.seed,
        recipe,
        train_cfg,
        target_fit,
        train_size,
        z_indices,
        pool_population,
        in_mask,
        pop_in_mask,
        train_sets,
    })
}

impl ReferencePlan {
    /// Train model `m` and evaluate it on every audit record. `progress`
    /// sees `training reference m+1/K`; returning `false` cancels.
    pub fn train(
        &self,
        target: &Target,
        inputs: &AuditInputs,
        m: usize,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<TrainedReference, AttackError> {
        let set = self.train_sets.get(m).ok_or_else(|| {
            AttackError::Config(format!(
                "reference {m} does not exist: the plan has K = {} models",
                self.k
            ))
        })?;
        let at = Progress {
            stage: format!("training reference {}/{}", m + 1, self.k),
            done: m,
            total: self.k,
        };
        if !progress(at.clone()) {
            return Err(AttackError::Cancelled);
        }
        let seed = model_seed(self.seed, 1, m);
        let data = set.gather(inputs)?;
        let (params, mut info) = train_one(target, &data, &self.train_cfg, seed, &at, progress)?;
        drop(data);
        let reference = Target {
            graph: target.graph,
            params: &params,
            output_kind: target.output_kind,
            num_classes: target.num_classes,
        };
        // signals on every audit record, and the fit IN (its training
        // records) and OUT (every other audit record)
        let mut fit_in = (Vec::new(), Vec::new());
        let mut fit_out = (Vec::new(), Vec::new());
        let mut split = |phi: &[f64], ok: &[bool], is_in: &dyn Fn(usize) -> bool| {
            for i in 0..phi.len() {
                let side = if is_in(i) { &mut fit_in } else { &mut fit_out };
                side.0.push(phi[i]);
                side.1.push(ok[i]);
            }
        };
        let contains = |v: &[usize], i: usize| v.binary_search(&i).is_ok();
        let (mp, mphi, mok) = fit_signals_of(&reference, &inputs.members)?;
        split(&mphi, &mok, &|i| contains(&set.members, i));
        let (np, nphi, nok) = fit_signals_of(&reference, &inputs.nonmembers)?;
        split(&nphi, &nok, &|i| contains(&set.nonmembers, i));
        let population = match inputs.population.as_ref() {
            Some(pop) => {
                let (pp, pphi, pok) = fit_signals_of(&reference, pop)?;
                split(&pphi, &pok, &|i| contains(&set.population, i));
                Some((pp, pphi))
            }
            None => None,
        };
        info.fit_in = Fit::of(fit_in.0, fit_in.1);
        info.fit_out = Fit::of(fit_out.0, fit_out.1);
        Ok(TrainedReference {
            index: m,
            members: (mp, mphi),
            nonmembers: (np, nphi),
            population,
            info,
        })
    }

    /// Merge trained references (in any order, each index of `0..K` exactly
    /// once, from any worker) into the set the attacks use. Checks every
    /// vector's length against the audit inputs.
    pub fn assemble(
        self,
        inputs: &AuditInputs,
        trained: Vec<TrainedReference>,
    ) -> Result<ReferenceSet, AttackError> {
        let k = self.k;
        let mut slots: Vec<Option<TrainedReference>> = vec![None; k];
        for t in trained {
            let i = t.index;
            if i >= k {
                return Err(AttackError::Input(format!(
                    "trained reference {i} is outside the plan's K = {k} models"
                )));
            }
            if slots[i].is_some() {
                return Err(AttackError::Input(format!(
                    "trained reference {i} was given twice"
                )));
            }
            let n_pop = inputs.population.as_ref().map(|p| p.len());
            let lens_ok = |s: &(Vec<f64>, Vec<f64>), n: usize| s.0.len() == n && s.1.len() == n;
            let ok = lens_ok(&t.members, inputs.members.len())
                && lens_ok(&t.nonmembers, inputs.nonmembers.len())
                && match (&t.population, n_pop) {
                    (Some(s), Some(n)) => lens_ok(s, n),
                    (None, None) => true,
                    _ => false,
                };
            if !ok {
                return Err(AttackError::Input(format!(
                    "trained reference {i} has signals for {} members, {} non-members and {} population records; the audit has {}, {} and {}",
                    t.members.0.len(),
                    t.nonmembers.0.len(),
                    t.population.as_ref().map_or(0, |s| s.0.len()),
                    inputs.members.len(),
                    inputs.nonmembers.len(),
                    n_pop.unwrap_or(0)
                )));
            }
            slots[i] = Some(t);
        }
        if let Some(missing) = slots.iter().position(|s| s.is_none()) {
            return Err(AttackError::Input(format!(
                "trained reference {missing} of K = {k} is missing"
            )));
        }
        let empty = || RefSignals {
            prob: Vec::with_capacity(k),
            phi: Vec::with_capacity(k),
        };
        let mut members = empty();
        let mut nonmembers = empty();
        let mut population = inputs.population.as_ref().map(|_| empty());
        let mut models = Vec::with_capacity(k);
        for t in slots.into_iter().flatten() {
            members.prob.push(t.members.0);
            members.phi.push(t.members.1);
            nonmembers.prob.push(t.nonmembers.0);
            nonmembers.phi.push(t.nonmembers.1);
            if let (Some(sig), Some(p)) = (population.as_mut(), t.population) {
                sig.prob.push(p.0);
                sig.phi.push(p.1);
            }
            models.push(t.info);
        }
        Ok(ReferenceSet {
            mode: self.mode,
            k,
            pool_len: self.in_mask.first().map_or(0, |r| r.len()),
            in_mask: self.in_mask,
            n_members: inputs.members.len(),
            n_nonmembers: inputs.nonmembers.len(),
            pool_population: self.pool_population,
            pop_in_mask: self.pop_in_mask,
            z_indices: self.z_indices,
            members,
            nonmembers,
            population,
            recipe: self.recipe,
            target_member_accuracy: self.target_fit.members.accuracy,
            target_fit: self.target_fit,
            train_l2: self.train_cfg.l2,
            train_size: self.train_size,
            models,
        })
    }
}

/// Train the K reference models and keep their signals (plan, train each
/// model in turn, assemble).
pub fn train_references(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &ReferenceConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<ReferenceSet, AttackError> {
    let plan = plan_references(target, inputs, cfg)?;
    let k = plan.k;
    let mut trained = Vec::with_capacity(k);
    for m in 0..k {
        trained.push(plan.train(target, inputs, m, progress)?);
    }
    if !progress(Progress {
        stage: format!("trained {k} references"),
        done: k,
        total: k,
    }) {
        return Err(AttackError::Cancelled);
    }
    plan.assemble(inputs, trained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_from_logits_is_stable_and_agrees_with_probabilities() {
        // z = [1000, 0, 0], y = 0: phi = 1000 - ln 2 exactly, p_y = 1
        let (p, phi) = prob_and_phi(&[1000.0, 0.0, 0.0], OutputKind::Logits, 0);
        assert_eq!(p, 1.0);
        assert!((phi - (1000.0 - 2f64.ln())).abs() < 1e-12, "{phi}");
        // y = 1: phi = 0 - logsumexp(1000, 0) = -1000
        let (p, phi) = prob_and_phi(&[1000.0, 0.0, 0.0], OutputKind::Logits, 1);
        assert_eq!(p, 0.0);
        assert!((phi + 1000.0).abs() < 1e-12, "{phi}");
        // moderate logits: same phi from the softmax probabilities
        let z = [0.3, -1.2, 2.0];
        let e: Vec<f64> = z.iter().map(|v: &f64| v.exp()).collect();
        let s: f64 = e.iter().sum();
        let probs: Vec<f64> = e.iter().map(|v| v / s).collect();
        for y in 0..3 {
            let (pl, fl) = prob_and_phi(&z, OutputKind::Logits, y);
            let (pp, fp) = prob_and_phi(&probs, OutputKind::Probabilities, y);
            assert!((pl - pp).abs() < 1e-15 && (fl - fp).abs() < 1e-12, "{y}");
            assert!((fl - (pl / (1.0 - pl)).ln()).abs() < 1e-12);
        }
        // one binary logit s: phi = s for y = 1, -s for y = 0
        assert_eq!(prob_and_phi(&[2.5], OutputKind::Logits, 1).1, 2.5);
        assert_eq!(prob_and_phi(&[2.5], OutputKind::Logits, 0).1, -2.5);
        let (p, phi) = prob_and_phi(&[0.8], OutputKind::Probabilities, 0);
        assert!((p - 0.2).abs() < 1e-15 && (phi - (0.2f64 / 0.8).ln()).abs() < 1e-12);
        // p_y = 1 in probabilities: clamped, finite
        let (_, phi) = prob_and_phi(&[1.0, 0.0], OutputKind::Probabilities, 0);
        assert!((phi - (-(1e-45f64).ln())).abs() < 1e-9, "{phi}");
    }

    #[test]
    fn balanced_design_puts_each_record_in_half_the_models() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let m = balanced_design(6, 50, &mut rng);
        for i in 0..50 {
            assert_eq!(m.iter().filter(|r| r[i]).count(), 3);
        }
        // every model gets about half of the records
        for r in &m {
            let c = r.iter().filter(|&&b| b).count();
            assert!((15..=35).contains(&c), "{c}");
        }
        let m = balanced_design(5, 10, &mut rng);
        for i in 0..10 {
            assert_eq!(m.iter().filter(|r| r[i]).count(), 2 + i % 2);
        }
    }

    #[test]
    fn model_seeds_differ_per_model_and_salt() {
        let a: Vec<u64> = (0..8).map(|k| model_seed(7, 1, k)).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), 8);
        assert_ne!(model_seed(7, 1, 0), model_seed(7, 2, 0));
        assert_ne!(model_seed(7, 1, 0), model_seed(8, 1, 0));
    }
}
