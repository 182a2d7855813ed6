//! The membership audit: runs the chosen attacks on one target and one set
//! of audit inputs, trains reference models once and shares them between
//! the attacks that need them, and computes the statistics of every attack.
//! The CLI (`privacy-inspector audit`) and the page (through `wasm.rs`) both
//! call [`run_audit`], so both give the same numbers for the same inputs and
//! seed.
//!
//! Contract:
//! - [`AuditSettings`] are checked once by [`AuditSettings::validate`] and,
//!   against the target, by [`AuditSettings::check_target`]: models in one
//!   reference set (LiRA/RMIA references, Shokri shadows) x the target's
//!   trainable parameters must be at most `max_reference_params`
//!   ([`crate::limits`], error code `references_too_large`); one
//!   master `seed` seeds everything (each attack's own seed field is
//!   overwritten with a value derived from it, and recorded).
//! - An attack that cannot run with these inputs (no population for the
//!   offline attacks, RMIA, Shokri and QMIA; a model that cannot be
//!   trained for the reference attacks) is reported as skipped with the reason; every
//!   other attack still runs. Bad inputs (labels outside the model's
//!   classes, empty sets) are errors for the whole audit.
//! - Online references (LiRA online, RMIA online) are trained once on the
//!   audit pool; offline references (LiRA offline, RMIA offline) once on the
//!   population.
//! - Classical models (SVMs, tree ensembles) cannot be re-trained: the
//!   reference attacks are skipped with that reason. For a tree ensemble
//!   the outcome also carries the leaf membership (`leaves::analyze`).

use super::boundary_query::{run_boundary_distance, QueryBoundaryConfig};
use super::label_only::{
    run_boundary_distance_gradient, run_gap, run_gap_on, run_noise_robustness, BoundaryConfig,
    NoiseConfig,
};
use super::leaves::{self, LeafReport};
use super::lira::{lira_offline, lira_online, LiraConfig};
use super::predictions::PredictionInputs;
use super::qmia::{qmia, QmiaConfig};
use super::references::{
    plan_references, train_references, ReferenceConfig, ReferenceMode, ReferenceSet, TrainRecipe,
    TrainedReference,
};
use super::risk_score::{self, RiskScoreConfig};
use super::rmia::{rmia, RmiaConfig};
use super::shokri::{shokri, ShokriConfig};
use super::threshold::{self, ThresholdAttack, ThresholdConfig};
use super::{AttackError, AttackOutput, AuditInputs, Outputs, Progress, Target};
use crate::limits::{Limit, LimitExceeded};
use crate::stats::vulnerability::{self, AttackScores, RecordTable};
use crate::stats::{evaluate, AttackStats, StatsConfig};
use serde::{Deserialize, Serialize};

/// One attack of the catalogue: what the page's form and the CLI's
/// `--attacks` offer, and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttackInfo {
    /// The id of settings, reports and `--attacks`.
    pub id: &'static str,
    /// A short title for a menu.
    pub title: &'static str,
    /// Uses predicted labels only (no scores).
    pub label_only: bool,
    /// Trains reference models whose count is `AuditSettings::references`.
    pub needs_references: bool,
    /// Skipped without population records.
    pub needs_population: bool,
    /// Trains no model at all (the Quick preset).
    pub quick: bool,
}

const fn attack(
    id: &'static str,
    title: &'static str,
    label_only: bool,
    needs_references: bool,
    needs_population: bool,
    quick: bool,
) -> AttackInfo {
    AttackInfo {
        id,
        title,
        label_only,
        needs_references,
        needs_population,
        quick,
    }
}

/// Every attack, in report order: the one table the id lists below, the
/// presets and the page's attack menu come from.
pub const CATALOGUE: [AttackInfo; 15] = [
    attack("loss", "Loss threshold", false, false, false, true),
    attack(
        "confidence",
        "Confidence threshold",
        false,
        false,
        false,
        true,
    ),
    attack("entropy", "Entropy threshold", false, false, false, true),
    attack(
        "modified_entropy",
        "Modified entropy",
        false,
        false,
        false,
        true,
    ),
    attack("risk_score", "Risk score", false, false, false, true),
    attack("gap", "Gap (label only)", true, false, false, true),
    attack(
        "noise_robustness",
        "Noise robustness (label only)",
        true,
        false,
        false,
        true,
    ),
    attack(
        "boundary_distance",
        "Boundary distance (label only, queries)",
        true,
        false,
        false,
        false,
    ),
    attack(
        "boundary_distance_gradient",
        "Boundary distance (white-box gradients)",
        false,
        false,
        false,
        false,
    ),
    attack("shokri", "Shokri shadow models", false, false, true, false),
    attack(
        "qmia",
        "QMIA (quantile regression)",
        false,
        false,
        true,
        false,
    ),
    attack("lira_online", "LiRA online", false, true, false, false),
    attack("lira_offline", "LiRA offline", false, true, true, false),
    attack("rmia_online", "RMIA online", false, true, true, false),
    attack("rmia_offline", "RMIA offline", false, true, true, false),
];

/// The labels of one audit set (`set` names it in the message) lie within
/// the model's `num_classes` classes (at least 2): the audit's check of
/// every set, and the page's as each CSV loads.
pub fn check_labels(set: &str, labels: &[usize], num_classes: usize) -> Result<(), AttackError> {
    match labels
        .iter()
        .enumerate()
        .find(|(_, &y)| y >= num_classes.max(2))
    {
        Some((row, &y)) => Err(AttackError::Input(format!(
            "{set} row {}: label {y} is outside the model's {num_classes} classes (0 to {})",
            row + 1,
            num_classes.saturating_sub(1)
        ))),
        None => Ok(()),
    }
}

/// Every attack id, in report order ([`CATALOGUE`]).
pub const ALL_ATTACKS: [&str; 15] = {
    let mut out = [""; 15];
    let mut i = 0;
    while i < CATALOGUE.len() {
        out[i] = CATALOGUE[i].id;
        i += 1;
    }
    out
};

/// Attacks that train no model (the Quick preset; [`CATALOGUE`]'s `quick`).
pub const QUICK_ATTACKS: [&str; 7] = {
    let mut out = [""; 7];
    let (mut i, mut k) = (0, 0);
    while i < CATALOGUE.len() {
        if CATALOGUE[i].quick {
            out[k] = CATALOGUE[i].id;
            k += 1;
        }
        i += 1;
    }
    assert!(k == 7, "QUICK_ATTACKS: the catalogue's quick count changed");
    out
};

/// A named choice of attacks and reference models (the page's preset menu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preset {
    pub id: &'static str,
    /// Its name in a menu.
    pub title: &'static str,
    /// The attack ids it chooses.
    pub attacks: &'static [&'static str],
    /// Reference models per mode it sets (`None`: leaves the count alone).
    pub references: Option<usize>,
    /// Also runs the model inversion and the attribute inference after the
    /// audit.
    pub follow_up: bool,
}

/// The presets: Quick (no model trained), Standard (every attack, 16
/// reference models, the `AuditSettings` default), Thorough (every attack,
/// 64 reference models, then inversion and attribute inference).
pub const PRESETS: [Preset; 3] = [
    Preset {
        id: "quick",
        title: "Quick",
        attacks: &QUICK_ATTACKS,
        references: None,
        follow_up: false,
    },
    Preset {
        id: "standard",
        title: "Standard",
        attacks: &ALL_ATTACKS,
        references: Some(16),
        follow_up: false,
    },
    Preset {
        id: "thorough",
        title: "Thorough",
        attacks: &ALL_ATTACKS,
        references: Some(64),
        follow_up: true,
    },
];

/// What the user chose. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Attack ids to run; an empty list (the JSON default) means all. The
    /// text form (`parse_attacks`, the CLI's `--attacks`) must name at least one.
    pub attacks: Vec<String>,
    /// Reference models per mode (online and offline).
    pub references: usize,
    pub seed: u64,
    /// Training recipe of reference and shadow models (default: calibrated
    /// to the target's median loss on the members).
    pub recipe: TrainRecipe,
    /// Records each LiRA/RMIA reference model trains on (default: the
    /// member count, the target's training-set size).
    pub reference_train_size: Option<usize>,
    /// Also put population records in the online pool.
    pub population_in_pool: bool,
    pub stats: StatsConfig,
    pub threshold: ThresholdConfig,
    pub noise: NoiseConfig,
    /// `boundary_distance`: the query-only (label-only) search.
    pub boundary: QueryBoundaryConfig,
    /// `boundary_distance_gradient`: the white-box gradient search.
    pub boundary_gradient: BoundaryConfig,
    pub risk_score: RiskScoreConfig,
    pub lira: LiraConfig,
    pub rmia: RmiaConfig,
    pub shokri: ShokriConfig,
    /// QMIA (quantile regression, no reference models).
    pub qmia: QmiaConfig,
    /// Limit on models in one reference set x trainable parameters of the
    /// target (see [`crate::limits`]).
    pub max_reference_params: u64,
    /// Subgroup leakage: every attack's figures per slice of this feature
    /// column (`stats::slices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<crate::stats::slices::SliceSpec>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            attacks: Vec::new(),
            references: 16,
            seed: 0,
            recipe: TrainRecipe::default(),
            reference_train_size: None,
            population_in_pool: false,
            stats: StatsConfig::default(),
            threshold: ThresholdConfig::default(),
            noise: NoiseConfig::default(),
            boundary: QueryBoundaryConfig::default(),
            boundary_gradient: BoundaryConfig::default(),
            risk_score: RiskScoreConfig::default(),
            lira: LiraConfig::default(),
            rmia: RmiaConfig::default(),
            shokri: ShokriConfig::default(),
            qmia: QmiaConfig::default(),
            max_reference_params: crate::limits::DEFAULT_MAX_REFERENCE_PARAMS,
            slice: None,
        }
    }
}

/// Largest seed: 2^53 - 1, so every seed in a report stays exact in JSON
/// readers that use doubles (JavaScript, the page).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// splitmix64: derive independent sub-seeds from the master seed (below
/// 2^53, see [`MAX_SEED`]).
fn derive(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(k + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & MAX_SEED
}

impl AuditSettings {
    /// Parse a comma-separated attack list ("all" or ids).
    pub fn parse_attacks(list: &str) -> Result<Vec<String>, AttackError> {
        let mut out = Vec::new();
        for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match id {
                "all" => return Ok(ALL_ATTACKS.iter().map(|s| s.to_string()).collect()),
                "quick" => out.extend(QUICK_ATTACKS.iter().map(|s| s.to_string())),
                _ if ALL_ATTACKS.contains(&id) => out.push(id.to_string()),
                _ => {
                    return Err(AttackError::Config(format!(
                        "unknown attack '{id}'; known: all, quick, {}",
                        ALL_ATTACKS.join(", ")
                    )))
                }
            }
        }
        if out.is_empty() {
            // an empty list is a mistake (an unset variable), never "all"
            return Err(AttackError::Config(format!(
                "no attack given ('{}'): name attack ids, 'quick' or 'all'",
                list.escape_default()
            )));
        }
        Ok(out)
    }

    /// Check the settings and fill in derived seeds and the attack list.
    pub fn validate(mut self) -> Result<AuditSettings, AttackError> {
        if self.attacks.is_empty() {
            self.attacks = ALL_ATTACKS.iter().map(|s| s.to_string()).collect();
        }
        for id in &self.attacks {
            if !ALL_ATTACKS.contains(&id.as_str()) {
                return Err(AttackError::Config(format!(
                    "unknown attack '{id}'; known: {}",
                    ALL_ATTACKS.join(", ")
                )));
            }
        }
        // report order, no duplicates
        self.attacks = ALL_ATTACKS
            .iter()
            .filter(|a| self.attacks.iter().any(|b| b == *a))
            .map(|s| s.to_string())
            .collect();
        if self.seed > MAX_SEED {
            return Err(AttackError::Config(format!(
                "the seed must be at most 2^53 - 1 = {MAX_SEED} (so reports stay exact in JSON), got {}",
                self.seed
            )));
        }
        // every count (references, epochs, batch sizes, budgets, copies,
        // bins) within its declared range (`crate::settings`)
        crate::settings::Ranged::check_ranges(&self)?;
        // the reference recipe as training will check it (learning rate,
        // Adam's betas, L2), before any model trains
        crate::engine::train::TrainConfig {
            optimizer: self.recipe.optimizer,
            batch_size: self.recipe.batch_size,
            epochs: self.recipe.fixed_epochs.unwrap_or(self.recipe.max_epochs),
            l2: self.recipe.l2.unwrap_or(0.0),
            target_accuracy: self.recipe.target_accuracy,
            target_loss: self.recipe.target_loss,
            ..Default::default()
        }
        .validate()
        .map_err(|e| AttackError::Config(format!("the reference recipe: {e}")))?;
        self.stats
            .validate()
            .map_err(|e| AttackError::Config(e.to_string()))?;
        self.noise.validate()?;
        self.boundary.validate()?;
        self.boundary_gradient.validate()?;
        self.risk_score.validate()?;
        self.qmia.validate()?;
        self.stats.seed = derive(self.seed, 1);
        self.noise.seed = derive(self.seed, 2);
        self.risk_score.seed = derive(self.seed, 3);
        self.shokri.seed = derive(self.seed, 4);
        self.boundary.seed = derive(self.seed, 6);
        self.shokri.recipe = self.recipe.clone();
        self.qmia.seed = derive(self.seed, 5);
        Ok(self)
    }

    /// Check the settings against the target: the largest set of reference
    /// or shadow models the chosen attacks train, times the target's
    /// trainable parameters, within `max_reference_params`.
    pub fn check_target(&self, target: &Target) -> Result<(), AttackError> {
        let uses = |ids: &[&str]| self.attacks.iter().any(|a| ids.contains(&a.as_str()));
        let mut models = 0usize;
        let references: Vec<&str> = CATALOGUE
            .iter()
            .filter(|a| a.needs_references)
            .map(|a| a.id)
            .collect();
        if uses(&references) {
            models = self.references;
        }
        if uses(&["shokri"]) {
            models = models.max(self.shokri.k);
        }
        let params = target.graph.trainable_param_count(target.params);
        let need = models as u128 * params as u128;
        LimitExceeded::check(
            Limit::ReferenceParams,
            need,
            self.max_reference_params as u128,
        )?;
        Ok(())
    }
}

impl crate::settings::Ranged for AuditSettings {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::{opt, some, REFERENCES, REF_TRAIN_SIZE, SHADOW_MODELS};
        let mut f = vec![
            (REFERENCES, some(self.references)),
            (REF_TRAIN_SIZE, opt(self.reference_train_size)),
            (SHADOW_MODELS, some(self.shokri.k)),
        ];
        f.extend(self.recipe.fields());
        f.extend(self.stats.fields());
        f.extend(self.noise.fields());
        f.extend(self.boundary.fields());
        f.extend(self.boundary_gradient.fields());
        f.extend(self.risk_score.fields());
        f.extend(self.qmia.fields());
        if let Some(s) = &self.slice {
            f.extend(s.fields());
        }
        f
    }
}

/// One attack's result: statistics and scores, or why it was skipped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttackResult {
    pub id: String,
    /// Set when the attack did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stats: Option<AttackStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    pub details: serde_json::Value,
}

/// Scores in input row order, higher = more likely a member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    pub members: Vec<f64>,
    pub nonmembers: Vec<f64>,
}

/// Everything an audit produced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditOutcome {
    pub settings: AuditSettings,
    pub attacks: Vec<AttackResult>,
    /// Summaries of the reference sets trained (recipe, epochs, accuracies).
    pub references: serde_json::Value,
    /// Leaf membership of the model's tree ensemble (tree models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaves: Option<LeafReport>,
    /// The per-record table across the attacks that ran
    /// (`stats::vulnerability`); `None` when none ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordTable>,
    /// Figures per slice of the column `settings.slice` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<crate::stats::slices::SliceReport>,
}

/// The subgroup section for `settings.slice` (None when unset).
pub fn slice_section(
    settings: &AuditSettings,
    attacks: &[AttackResult],
    inputs: &AuditInputs,
) -> Result<Option<crate::stats::slices::SliceReport>, AttackError> {
    use crate::stats::slices::{slice_report, SliceScores};
    let Some(spec) = &settings.slice else {
        return Ok(None);
    };
    let column = |r: &super::Records, set: &str| -> Result<Vec<f64>, AttackError> {
        let n = r.len();
        let d: usize = r.x.shape().iter().skip(1).product();
        if spec.column >= d {
            return Err(AttackError::Config(format!(
                "slice column {} ('{}') is out of range: the {set} have {d} feature columns",
                spec.column, spec.name
            )));
        }
        let flat = r.x.as_standard_layout();
        let v = flat.as_slice().unwrap_or(&[]);
        Ok((0..n).map(|i| v[i * d + spec.column] as f64).collect())
    };
    let mv = column(&inputs.members, "members")?;
    let nv = column(&inputs.nonmembers, "non-members")?;
    let scores: Vec<SliceScores> = attacks
        .iter()
        .filter_map(|a| {
            let st = a.stats.as_ref()?;
            let sc = a.scores.as_ref()?;
            Some(SliceScores {
                id: &a.id,
                members: &sc.members,
                nonmembers: &sc.nonmembers,
                overall_auc: st.auc,
            })
        })
        .collect();
    slice_report(spec, &mv, &nv, &scores, settings.stats.alpha)
        .map(Some)
        .map_err(|e| AttackError::Config(format!("slices by '{}': {e}", spec.name)))
}

/// The per-record table of the attacks that ran (`None` when none did).
pub fn record_table(
    attacks: &[AttackResult],
    member_labels: &[usize],
    nonmember_labels: &[usize],
) -> Result<Option<RecordTable>, AttackError> {
    let ran: Vec<AttackScores> = attacks
        .iter()
        .filter(|a| a.stats.is_some())
        .filter_map(|a| {
            a.scores.as_ref().map(|s| AttackScores {
                id: &a.id,
                members: &s.members,
                nonmembers: &s.nonmembers,
            })
        })
        .collect();
    if ran.is_empty() {
        return Ok(None);
    }
    vulnerability::record_table(&ran, member_labels, nonmember_labels)
        .map(Some)
        .map_err(|e| AttackError::Input(format!("per-record table: {e}")))
}

fn skipped(id: &str, why: String) -> AttackResult {
    AttackResult {
        id: id.to_string(),
        skipped: Some(why),
        stats: None,
        scores: None,
        details: serde_json::Value::Null,
    }
}

/// Errors that skip one attack rather than fail the audit.
fn skippable(e: &AttackError) -> bool {
    matches!(
        e,
        AttackError::Needs { .. }
            | AttackError::Engine(crate::engine::EngineError::NotTrainable(_))
    )
}

/// The result of one attack: its statistics and scores, or skipped with the
/// reason (an error that only stops this attack), or the audit's error.
fn finish(
    id: &str,
    out: Result<AttackOutput, AttackError>,
    member_labels: &[usize],
    nonmember_labels: &[usize],
    settings: &AuditSettings,
) -> Result<AttackResult, AttackError> {
    match out {
        Ok(o) => {
            let stats = evaluate(
                &o.members,
                &o.nonmembers,
                member_labels,
                nonmember_labels,
                &settings.stats,
            )
            .map_err(|e| AttackError::Input(format!("{id}: {e}")))?;
            Ok(AttackResult {
                id: id.to_string(),
                skipped: None,
                stats: Some(stats),
                scores: Some(Scores {
                    members: o.members,
                    nonmembers: o.nonmembers,
                }),
                details: o.details,
            })
        }
        Err(AttackError::Cancelled) => Err(AttackError::Cancelled),
        Err(e) if skippable(&e) => Ok(skipped(id, e.to_string())),
        Err(e) => Err(e),
    }
}

/// Attacks that read only the target's outputs and the labels: the ones an
/// audit from predictions runs.
pub const OUTPUT_ONLY_ATTACKS: [&str; 6] = [
    "loss",
    "confidence",
    "entropy",
    "modified_entropy",
    "risk_score",
    "gap",
];

/// Why an attack cannot run from predictions alone (every attack outside
/// [`OUTPUT_ONLY_ATTACKS`]).
pub fn needs_the_model(id: &str) -> String {
    let why = match id {
        "noise_robustness" => "it queries the model on noisy copies of every record",
        "boundary_distance" => {
            "it queries the model's predicted labels on perturbed copies of every record"
        }
        "boundary_distance_gradient" => {
            "it follows the model's input gradients to its decision boundary"
        }
        "shokri" => "it trains shadow models like the target on population records",
        "lira_online" | "lira_offline" | "rmia_online" | "rmia_offline" => {
            "it trains reference models like the target"
        }
        "qmia" => {
            "it fits a quantile regressor on the records' features, which predictions do not hold"
        }
        _ => "it needs more than the model's outputs and the labels",
    };
    format!("needs the model: {why}; an audit from predictions has only the outputs and the labels")
}

/// The audit from predictions alone ([`PredictionInputs`]): the same
/// settings, seeds and statistics as [`run_audit`]; the attacks of
/// [`OUTPUT_ONLY_ATTACKS`] read the supplied outputs (through
/// [`Outputs::Predictions`]) and give exactly the figures of a model audit
/// whose outputs these are; every other chosen attack is reported as
/// skipped with the reason ([`needs_the_model`]). No reference models, no
/// leaves.
pub fn run_audit_from_predictions(
    predictions: &PredictionInputs,
    settings: AuditSettings,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AuditOutcome, AttackError> {
    let settings = settings.validate()?;
    if let Some(spec) = &settings.slice {
        return Err(AttackError::Config(format!(
            "slices by '{}' need the records' features: an audit from predictions has only the outputs and the labels",
            spec.name
        )));
    }
    let outputs = Outputs::Predictions(predictions);
    let (ym, yn) = (&predictions.members.labels, &predictions.nonmembers.labels);
    if ym.is_empty() || yn.is_empty() {
        return Err(AttackError::Input(format!(
            "an audit needs members and non-members (got {} and {})",
            ym.len(),
            yn.len()
        )));
    }
    let total = settings.attacks.len();
    let mut results = Vec::with_capacity(total);
    for (i, id) in settings.attacks.iter().enumerate() {
        if !progress(Progress {
            stage: format!("attack {}/{}: {id}", i + 1, total),
            done: i,
            total,
        }) {
            return Err(AttackError::Cancelled);
        }
        let out = match id.as_str() {
            "loss" | "confidence" | "entropy" | "modified_entropy" => {
                let a =
                    ThresholdAttack::from_id(id).ok_or_else(|| AttackError::Config(id.clone()))?;
                threshold::run_on(a, &outputs, &settings.threshold)
            }
            "risk_score" => risk_score::run_on(&outputs, &settings.risk_score),
            "gap" => run_gap_on(&outputs),
            other => {
                results.push(skipped(other, needs_the_model(other)));
                continue;
            }
        };
        results.push(finish(id, out, ym, yn, &settings)?);
    }
    progress(Progress {
        stage: "done".into(),
        done: total,
        total,
    });
    let records = record_table(&results, ym, yn)?;
    Ok(AuditOutcome {
        references: serde_json::json!({ "online": null, "offline": null }),
        settings,
        attacks: results,
        leaves: None,
        records,
        slices: None,
    })
}

/// Reference models trained elsewhere (other workers, processes or
/// machines) for this audit: every model of a mode's set, from
/// [`ReferencePlan::train`](super::references::ReferencePlan::train) with
/// the plan of [`reference_config`]. A mode left `None` is trained by
/// [`run_audit_with`] itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrecomputedReferences {
    pub online: Option<Vec<TrainedReference>>,
    pub offline: Option<Vec<TrainedReference>>,
}

/// The reference sets the (validated) settings' attacks need, in the order
/// the audit uses them.
pub fn needed_reference_modes(settings: &AuditSettings) -> Vec<ReferenceMode> {
    let has = |ids: [&str; 2]| settings.attacks.iter().any(|a| ids.contains(&a.as_str()));
    let mut modes = Vec::new();
    if has(["lira_online", "rmia_online"]) {
        modes.push(ReferenceMode::Online);
    }
    if has(["lira_offline", "rmia_offline"]) {
        modes.push(ReferenceMode::Offline);
    }
    modes
}

/// The reference configuration of one mode for (validated) settings: what
/// every worker must plan with so that their models merge.
pub fn reference_config(settings: &AuditSettings, mode: ReferenceMode) -> ReferenceConfig {
    let salt = match mode {
        ReferenceMode::Online => 0,
        ReferenceMode::Offline => 1,
    };
    ReferenceConfig {
        mode,
        k: settings.references,
        population_in_pool: settings.population_in_pool,
        train_size: settings.reference_train_size,
        recipe: settings.recipe.clone(),
        seed: derive(settings.seed, 10 + salt),
        ..ReferenceConfig::default()
    }
}

/// Why the target has no input gradient (a tree ensemble is piecewise
/// constant), if it has none.
fn no_input_gradient(target: &Target) -> Option<String> {
    target
        .graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, crate::engine::Op::TreeEnsemble(_)))
        .map(|n| {
            format!(
                "{} node '{}' is piecewise constant: no input gradient",
                n.source_op,
                crate::text::Shown(&n.name)
            )
        })
}

/// Run the audit. `progress` gets every stage; returning `false` cancels.
pub fn run_audit(
    target: &Target,
    inputs: &AuditInputs,
    settings: AuditSettings,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AuditOutcome, AttackError> {
    run_audit_with(
        target,
        inputs,
        settings,
        PrecomputedReferences::default(),
        progress,
    )
}

/// [`run_audit`] with some reference sets already trained (see
/// [`PrecomputedReferences`]); the figures are identical to a run that
/// trains them itself.
pub fn run_audit_with(
    target: &Target,
    inputs: &AuditInputs,
    settings: AuditSettings,
    precomputed: PrecomputedReferences,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AuditOutcome, AttackError> {
    let settings = settings.validate()?;
    settings.check_target(target)?;
    if inputs.members.is_empty() || inputs.nonmembers.is_empty() {
        return Err(AttackError::Input(format!(
            "an audit needs members and non-members (got {} and {})",
            inputs.members.len(),
            inputs.nonmembers.len()
        )));
    }
    for (set, recs) in [
        ("members", Some(&inputs.members)),
        ("non-members", Some(&inputs.nonmembers)),
        ("population", inputs.population.as_ref()),
    ] {
        if let Some(r) = recs {
            check_labels(set, &r.y, target.num_classes)?;
        }
    }
    let total = settings.attacks.len();
    let mut results = Vec::with_capacity(total);
    let mut online: Option<Result<ReferenceSet, AttackError>> = None;
    let mut offline: Option<Result<ReferenceSet, AttackError>> = None;
    let PrecomputedReferences {
        online: mut pre_online,
        offline: mut pre_offline,
    } = precomputed;
    let obtain = |mode: ReferenceMode,
                  pre: Option<Vec<TrainedReference>>,
                  sub: &mut dyn FnMut(Progress) -> bool|
     -> Result<ReferenceSet, AttackError> {
        let cfg = reference_config(&settings, mode);
        match pre {
            Some(trained) => plan_references(target, inputs, &cfg)?.assemble(inputs, trained),
            None => train_references(target, inputs, &cfg, sub),
        }
    };
    for (i, id) in settings.attacks.clone().iter().enumerate() {
        let stage = format!("attack {}/{}: {id}", i + 1, total);
        if !progress(Progress {
            stage: stage.clone(),
            done: i,
            total,
        }) {
            return Err(AttackError::Cancelled);
        }
        let mut sub = |p: Progress| {
            progress(Progress {
                stage: format!("{stage}: {}", p.stage),
                done: p.done,
                total: p.total,
            })
        };
        let out: Result<AttackOutput, AttackError> = match id.as_str() {
            "loss" | "confidence" | "entropy" | "modified_entropy" => {
                let a =
                    ThresholdAttack::from_id(id).ok_or_else(|| AttackError::Config(id.clone()))?;
                threshold::run(a, target, inputs, &settings.threshold)
            }
            "risk_score" => risk_score::run(target, inputs, &settings.risk_score),
            "gap" => run_gap(target, inputs),
            "noise_robustness" => run_noise_robustness(target, inputs, &settings.noise, &mut sub),
            "boundary_distance" => {
                run_boundary_distance(target, inputs, &settings.boundary, &mut sub)
            }
            "boundary_distance_gradient" => match no_input_gradient(target) {
                Some(why) => Err(AttackError::Needs {
                    attack: id.clone(),
                    what: format!("input gradients, and {why}"),
                }),
                None => run_boundary_distance_gradient(
                    target,
                    inputs,
                    &settings.boundary_gradient,
                    &mut sub,
                ),
            },
            "shokri" => shokri(target, inputs, &settings.shokri, &mut sub),
            "qmia" => qmia(target, inputs, &settings.qmia, &mut sub),
            "lira_online" | "rmia_online" => {
                let refs = online.get_or_insert_with(|| {
                    obtain(ReferenceMode::Online, pre_online.take(), &mut sub)
                });
                match refs {
                    Ok(r) if id == "lira_online" => lira_online(target, inputs, r, &settings.lira),
                    Ok(r) => rmia(target, inputs, r, &settings.rmia),
                    Err(e) => Err(e.clone()),
                }
            }
            "lira_offline" | "rmia_offline" => {
                let refs = offline.get_or_insert_with(|| {
                    obtain(ReferenceMode::Offline, pre_offline.take(), &mut sub)
                });
                match refs {
                    Ok(r) if id == "lira_offline" => {
                        lira_offline(target, inputs, r, &settings.lira)
                    }
                    Ok(r) => rmia(target, inputs, r, &settings.rmia),
                    Err(e) => Err(e.clone()),
                }
            }
            other => Err(AttackError::Config(format!("unknown attack '{other}'"))),
        };
        results.push(finish(
            id,
            out,
            &inputs.members.y,
            &inputs.nonmembers.y,
            &settings,
        )?);
    }
    let leaves = leaves::analyze(target, inputs)?;
    let records = record_table(&results, &inputs.members.y, &inputs.nonmembers.y)?;
    let slices = slice_section(&settings, &results, inputs)?;
    progress(Progress {
        stage: "done".into(),
        done: total,
        total,
    });
    let summary = |r: &Option<Result<ReferenceSet, AttackError>>| match r {
        Some(Ok(set)) => serde_json::to_value(set.summary()).unwrap_or(serde_json::Value::Null),
        Some(Err(e)) => serde_json::json!({ "error": e.to_string() }),
        None => serde_json::Value::Null,
    };
    Ok(AuditOutcome {
        references: serde_json::json!({ "online": summary(&online), "offline": summary(&offline) }),
        settings,
        attacks: results,
        leaves,
        records,
        slices,
    })
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    #[test]
    fn the_catalogue_is_the_one_table() {
        // ids unique, in report order; the lists and presets derive from it
        let ids: Vec<&str> = CATALOGUE.iter().map(|a| a.id).collect();
        assert_eq!(ids, ALL_ATTACKS.to_vec());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(QUICK_ATTACKS.iter().all(|id| CATALOGUE
            .iter()
            .any(|a| a.id == *id && a.quick && !a.needs_references)));
        // every id the output-only audit runs is in the catalogue, none needs references
        for id in OUTPUT_ONLY_ATTACKS {
            assert!(CATALOGUE.iter().any(|a| a.id == id && !a.needs_references));
        }
        assert_eq!(PRESETS[0].attacks, &QUICK_ATTACKS[..]);
        assert_eq!(
            PRESETS[1].references,
            Some(AuditSettings::default().references)
        );
        // the reference-model attacks are those whose settings the recipe sizes
        let refs: Vec<&str> = CATALOGUE
            .iter()
            .filter(|a| a.needs_references)
            .map(|a| a.id)
            .collect();
        assert_eq!(
            refs,
            ["lira_online", "lira_offline", "rmia_online", "rmia_offline"]
        );
    }

    #[test]
    fn labels_outside_the_classes_are_named() {
        assert!(check_labels("members", &[0, 1, 2], 3).is_ok());
        let e = check_labels("non-members", &[0, 3], 3).unwrap_err();
        assert!(
            e.to_string()
                .contains("non-members row 2: label 3 is outside the model's 3 classes (0 to 2)"),
            "{e}"
        );
        // a one-score model has two classes
        assert!(check_labels("members", &[1], 1).is_ok());
    }

    #[test]
    fn the_reference_recipe_is_checked_before_any_training() {
        let mut s = AuditSettings::default();
        s.recipe.optimizer = crate::engine::train::Optimizer::adam(0.0);
        let e = s.validate().unwrap_err();
        assert!(
            e.to_string().contains("the reference recipe: ")
                && e.to_string().contains("learning rate"),
            "{e}"
        );
        let mut s = AuditSettings::default();
        s.recipe.l2 = Some(-1.0);
        assert!(s.validate().unwrap_err().to_string().contains("L2"));
    }
}
