//! Guidance: turn the report's findings into actions.
//!
//! Contract:
//! - Input: a [`Report`] (membership attacks, attribute inference,
//!   inversion, any of them absent), optional [`ScanFindings`] of the
//!   model-file scan, and [`GuidanceOptions`]: the [`Thresholds`] (every one
//!   user-adjustable, with the defaults below), an optional claimed epsilon
//!   (and its delta) and the [`DpPlan`] used to size DP-SGD.
//! - Output: a [`Guidance`] section listing **every** rule, in a fixed order,
//!   with its status (`fired`, `clear` or `not_evaluated` with the reason),
//!   the measured figure and where it comes from, the threshold (its
//!   setting's key, value, and the comparison), what was found in plain
//!   language, the action, and cited sources. A rule fires only through a
//!   threshold the report shows and the user can change: there is no other
//!   verdict.
//! - Rules (id, group, figure, default threshold):
//!   - `generalization_gap` (model): member minus non-member accuracy of the
//!     `gap` attack `>= accuracy_gap` (0.05) -> stronger regularisation or
//!     earlier stopping (Shokri et al. 2017; Yeom et al. 2018).
//!   - `low_fpr_tpr` (model): the highest TPR at FPR = `low_fpr` (0.001) over
//!     the attacks where that level is resolvable, `>= low_fpr_tpr_ratio x
//!     low_fpr` (10x, i.e. 1%) -> the same, since some members are exposed
//!     with confidence (Carlini et al. 2022).
//!   - `dp_sgd` (model): the highest empirical epsilon lower bound `>=
//!     epsilon_lower_bound` (1.0) -> DP-SGD at the plan's target epsilon,
//!     with the noise multiplier from [`crate::privacy::accountant`]
//!     (Abadi et al. 2016; Mironov et al. 2019).
//!   - `claimed_epsilon` (people): the highest empirical epsilon lower bound
//!     `> claimed epsilon` -> the claim is false (Jagielski et al. 2020; Nasr
//!     et al. 2021). Evaluated only with a claim, and only when the claim's
//!     delta is at most the audit's (a bound at delta_a refutes any
//!     (eps, delta_c)-DP claim with delta_c <= delta_a).
//!   - `label_only` (infrastructure): the highest AUC of the label-only
//!     attacks (`gap`, `noise_robustness`, and `boundary_distance` only when
//!     its details say `labels_only: true`, i.e. the query-only search) `>=
//!     label_only_auc` (0.6) -> hiding or rounding confidences does not help
//!     (Choquette-Choo et al. 2021). White-box results
//!     (`boundary_distance_gradient`, or a `boundary_distance` of an older
//!     report that searched with gradients) never feed it; the finding names
//!     the attack that fired.
//!   - `inversion` (infrastructure): the highest similarity of a class's
//!     reconstruction to the members' class mean `>= inversion_ssim` (0.5,
//!     images) or `>= inversion_cosine` (0.9, tabular) -> restrict confidence
//!     outputs and white-box access (Fredrikson et al. 2015).
//!   - `attribute_inference` (data): the attack's member/non-member gap minus
//!     the imputation baseline's `>= attribute_gap_over_baseline` (0.05) ->
//!     drop or coarsen the sensitive column (Fredrikson et al. 2014;
//!     Jayaraman and Evans 2022).
//!   - `embedded_records` (infrastructure): member records found verbatim in
//!     the model file `>= embedded_member_rows` (1) -> never ship the model
//!     beyond the data's trust boundary (scikit-learn user guide, SVM and
//!     nearest neighbours).
//!   - `record_like_tensors` (infrastructure): tensors flagged as looking
//!     like stored records `>= flagged_tensors` (1) -> check them against
//!     the training data before shipping.
//!   - `metadata` (people): metadata findings (paths, user or host names,
//!     e-mails, URLs) `>= metadata_flags` (1) -> strip the metadata (ONNX IR
//!     specification).
//! - Figures that take a maximum over attacks name the attack. Each
//!   epsilon lower bound holds with confidence 1 - alpha for its attack; the
//!   maximum over k attacks holds at 1 - k alpha (Bonferroni), which the
//!   finding says.
//! - [`render_html`] gives the section as an HTML fragment (no inline
//!   styles, every text escaped); [`render_text`] as plain text for the CLI.
//!
//! Pure: no clocks, no randomness, no JS. Bad options are [`GuidanceError`]s.

use crate::attacks::inversion::SimilarityKind;
use crate::privacy::accountant;
use crate::report::html::esc;
use crate::report::Report;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use thiserror::Error;

/// Errors of the guidance options.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GuidanceError {
    #[error("invalid guidance setting: {0}")]
    InvalidSetting(String),
}

impl GuidanceError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            GuidanceError::InvalidSetting(_) => "bad_guidance_setting",
        }
    }
}

/// Where an action belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Data,
    Model,
    Infrastructure,
    People,
}

impl Group {
    /// Every group, in report order.
    pub const ALL: [Group; 4] = [
        Group::Data,
        Group::Model,
        Group::Infrastructure,
        Group::People,
    ];

    /// Heading of the group.
    pub fn title(self) -> &'static str {
        match self {
            Group::Data => "Data",
            Group::Model => "Model",
            Group::Infrastructure => "Infrastructure",
            Group::People => "People",
        }
    }
}

/// Whether a rule's figure crossed its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The figure crossed the threshold: the action applies.
    Fired,
    /// The figure was measured and did not cross the threshold.
    Clear,
    /// The figure is not available (see `reason`).
    NotEvaluated,
}

/// Every threshold, user-adjustable (missing fields take the defaults in
/// the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub accuracy_gap: f64,
    /// FPR level of `low_fpr_tpr`: one of 0.1, 0.01, 0.001.
    pub low_fpr: f64,
    pub low_fpr_tpr_ratio: f64,
    pub epsilon_lower_bound: f64,
    pub label_only_auc: f64,
    pub inversion_ssim: f64,
    pub inversion_cosine: f64,
    pub attribute_gap_over_baseline: f64,
    pub embedded_member_rows: usize,
    pub flagged_tensors: usize,
    pub metadata_flags: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            accuracy_gap: 0.05,
            low_fpr: 0.001,
            low_fpr_tpr_ratio: 10.0,
            epsilon_lower_bound: 1.0,
            label_only_auc: 0.6,
            inversion_ssim: 0.5,
            inversion_cosine: 0.9,
            attribute_gap_over_baseline: 0.05,
            embedded_member_rows: 1,
            flagged_tensors: 1,
            metadata_flags: 1,
        }
    }
}

impl Thresholds {
    /// Check every threshold's range.
    pub fn validate(&self) -> Result<(), GuidanceError> {
        let bad = |m: String| Err(GuidanceError::InvalidSetting(m));
        for (key, v, lo, hi) in [
            ("accuracy_gap", self.accuracy_gap, -1.0, 1.0),
            ("low_fpr_tpr_ratio", self.low_fpr_tpr_ratio, 1.0, f64::MAX),
            (
                "epsilon_lower_bound",
                self.epsilon_lower_bound,
                0.0,
                f64::MAX,
            ),
            ("label_only_auc", self.label_only_auc, 0.0, 1.0),
            ("inversion_ssim", self.inversion_ssim, -1.0, 1.0),
            ("inversion_cosine", self.inversion_cosine, -1.0, 1.0),
            (
                "attribute_gap_over_baseline",
                self.attribute_gap_over_baseline,
                -2.0,
                2.0,
            ),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return bad(format!("{key} must be in [{lo}, {hi}], got {v}"));
            }
        }
        if ![0.1, 0.01, 0.001].contains(&self.low_fpr) {
            return bad(format!(
                "low_fpr must be one of the report's FPR levels 0.1, 0.01, 0.001, got {}",
                self.low_fpr
            ));
        }
        Ok(())
    }
}

impl GuidanceOptions {
    /// Check every value: thresholds in their ranges, the claim and the DP
    /// plan (its counts within their declared ranges, `crate::settings`).
    pub fn validate(&self) -> Result<(), GuidanceError> {
        self.thresholds.validate()?;
        crate::settings::Ranged::check_ranges(&self.dp_plan)
            .map_err(|e| GuidanceError::InvalidSetting(e.to_string()))?;
        if let Some(c) = self.claimed_epsilon {
            if !(c.is_finite() && c >= 0.0) {
                return Err(GuidanceError::InvalidSetting(format!(
                    "claimed_epsilon must be a finite number >= 0, got {c}"
                )));
            }
        }
        if let Some(d) = self.claimed_delta {
            if !(0.0..1.0).contains(&d) {
                return Err(GuidanceError::InvalidSetting(format!(
                    "claimed_delta must be in [0, 1), got {d}"
                )));
            }
        }
        let p = &self.dp_plan;
        if let Some(e) = p.target_epsilon {
            if !(e.is_finite() && e > 0.0) {
                return Err(GuidanceError::InvalidSetting(format!(
                    "dp_plan.target_epsilon must be a finite number > 0, got {e}"
                )));
            }
        }
        if !(p.delta > 0.0 && p.delta < 1.0) {
            return Err(GuidanceError::InvalidSetting(format!(
                "dp_plan.delta must be in (0, 1), got {}",
                p.delta
            )));
        }
        Ok(())
    }
}

impl crate::settings::Ranged for DpPlan {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (DP_PLAN_BATCH, some(self.batch_size)),
            (DP_PLAN_EPOCHS, some(self.epochs)),
            (DP_PLAN_RECORDS, opt(self.records)),
        ]
    }
}

/// How DP-SGD would be run, to size its noise with the accountant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpPlan {
    /// Target epsilon; default: the claimed epsilon, else 8 (the larger of
    /// the two budgets Abadi et al. 2016 report).
    pub target_epsilon: Option<f64>,
    pub delta: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Training records N; default: the report's member count.
    pub records: Option<usize>,
}

impl Default for DpPlan {
    fn default() -> Self {
        DpPlan {
            target_epsilon: None,
            delta: 1e-5,
            batch_size: 64,
            epochs: 30,
            records: None,
        }
    }
}

/// The user's choices for the guidance. Read from JSON with every field
/// optional; an unknown field is an error (a misspelt threshold is never
/// silently left at its default), as in the limits file. Check the values
/// with [`GuidanceOptions::validate`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuidanceOptions {
    pub thresholds: Thresholds,
    /// The epsilon the model's makers claim (if any).
    pub claimed_epsilon: Option<f64>,
    /// The delta of that claim; default: the audit's delta.
    pub claimed_delta: Option<f64>,
    pub dp_plan: DpPlan,
}

/// What the model-file scan found (the caller maps the scan's output to it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanFindings {
    /// Member records found verbatim (or within tolerance) in model tensors.
    pub member_rows_embedded: usize,
    /// Tensors that look like stored records.
    pub tensors_flagged: usize,
    /// Metadata findings (paths, user or host names, e-mails, URLs).
    pub metadata_flags: usize,
    /// Short descriptions shown with the findings (e.g. "SVMClassifier
    /// support_vectors: 37 member rows").
    pub examples: Vec<String>,
}

/// A cited source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Author-year form (e.g. "Carlini et al. 2022").
    pub short: String,
    pub citation: String,
    pub url: Option<String>,
}

/// The measured figure a rule looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    /// Where in the report it comes from.
    pub location: String,
}

/// The threshold a rule compared its figure with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdUse {
    /// Key of the setting that changes it (in `Thresholds`, or
    /// `claimed_epsilon`).
    pub key: String,
    /// The setting's value.
    pub setting: f64,
    /// The bound the figure is compared with (the setting, or derived from
    /// it, e.g. `low_fpr_tpr_ratio x low_fpr`).
    pub bound: f64,
    /// ">=" or ">": the rule fires when `figure <comparison> bound`.
    pub comparison: String,
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleOutcome {
    pub id: String,
    pub group: Group,
    pub status: Status,
    pub title: String,
    pub figure: Option<Figure>,
    pub threshold: Option<ThresholdUse>,
    /// What was measured, in plain language.
    pub finding: String,
    /// What to do (applies when fired).
    pub action: String,
    /// Why the rule was not evaluated.
    pub reason: Option<String>,
    pub sources: Vec<Source>,
    /// Rule-specific numbers (e.g. the DP-SGD noise multiplier).
    pub details: serde_json::Value,
}

/// The guidance section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// Every rule, fired or not, in a fixed order.
    pub rules: Vec<RuleOutcome>,
    /// The options used (thresholds, claim, DP plan).
    pub options: GuidanceOptions,
}

impl Guidance {
    /// The rules that fired.
    pub fn fired(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules.iter().filter(|r| r.status == Status::Fired)
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&RuleOutcome> {
        self.rules.iter().find(|r| r.id == id)
    }
}

// ------------------------------------------------------------ sources

fn src(short: &str, citation: &str, url: Option<&str>) -> Source {
    Source {
        short: short.to_string(),
        citation: citation.to_string(),
        url: url.map(str::to_string),
    }
}

fn shokri2017() -> Source {
    src(
        "Shokri et al. 2017",
        "R. Shokri, M. Stronati, C. Song, V. Shmatikov. Membership Inference Attacks Against Machine Learning Models. IEEE S&P 2017.", Some("https://arxiv.org/abs/1610.05820"))
}
fn yeom2018() -> Source {
    src(
        "Yeom et al. 2018",
        "S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha. Privacy Risk in Machine Learning: Analyzing the Connection to Overfitting. IEEE CSF 2018.", Some("https://arxiv.org/abs/1709.01604"))
}
fn carlini2022() -> Source {
    src(
        "Carlini et al. 2022",
        "N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis, F. Tramèr. Membership Inference Attacks From First Principles. IEEE S&P 2022.", Some("https://arxiv.org/abs/2112.03570"))
}
fn abadi2016() -> Source {
    src(
        "Abadi et al. 2016",
        "M. Abadi, A. Chu, I. Goodfellow, H. B. McMahan, I. Mironov, K. Talwar, L. Zhang. Deep Learning with Differential Privacy. ACM CCS 2016.", Some("https://arxiv.org/abs/1607.00133"))
}
fn mironov2019() -> Source {
    src(
        "Mironov et al. 2019",
        "I. Mironov, K. Talwar, L. Zhang. Rényi Differential Privacy of the Sampled Gaussian Mechanism. 2019.", Some("https://arxiv.org/abs/1908.10530"))
}
fn jagielski2020() -> Source {
    src(
        "Jagielski et al. 2020",
        "M. Jagielski, J. Ullman, A. Oprea. Auditing Differentially Private Machine Learning: How Private is Private SGD? NeurIPS 2020.", Some("https://arxiv.org/abs/2006.07709"))
}
fn nasr2021() -> Source {
    src(
        "Nasr et al. 2021",
        "M. Nasr, S. Song, A. Thakurta, N. Papernot, N. Carlini. Adversary Instantiation: Lower Bounds for Differentially Private Machine Learning. IEEE S&P 2021.", Some("https://arxiv.org/abs/2101.04535"))
}
fn choquette2021() -> Source {
    src(
        "Choquette-Choo et al. 2021",
        "C. A. Choquette-Choo, F. Tramèr, N. Carlini, N. Papernot. Label-Only Membership Inference Attacks. ICML 2021.", Some("https://arxiv.org/abs/2007.14321"))
}
fn fredrikson2015() -> Source {
    src(
        "Fredrikson et al. 2015",
        "M. Fredrikson, S. Jha, T. Ristenpart. Model Inversion Attacks that Exploit Confidence Information and Basic Countermeasures. ACM CCS 2015.", Some("https://doi.org/10.1145/2810103.2813677"))
}
fn fredrikson2014() -> Source {
    src(
        "Fredrikson et al. 2014",
        "M. Fredrikson, E. Lantz, S. Jha, S. Lin, D. Page, T. Ristenpart. Privacy in Pharmacogenetics: An End-to-End Case Study of Personalized Warfarin Dosing. USENIX Security 2014.", Some("https://www.usenix.org/conference/usenixsecurity14/technical-sessions/presentation/fredrikson_matthew"))
}
fn jayaraman2022() -> Source {
    src(
        "Jayaraman and Evans 2022",
        "B. Jayaraman, D. Evans. Are Attribute Inference Attacks Just Imputation? ACM CCS 2022.",
        Some("https://arxiv.org/abs/2209.01292"),
    )
}
fn sklearn_svm() -> Source {
    src(
        "scikit-learn: SVM",
        "scikit-learn User Guide, Support Vector Machines: a fitted SVC keeps support_vectors_, a subset of the training samples.", Some("https://scikit-learn.org/stable/modules/svm.html"))
}
fn sklearn_knn() -> Source {
    src(
        "scikit-learn: nearest neighbours",
        "scikit-learn User Guide, Nearest Neighbors: neighbours-based methods are non-generalizing and remember all of their training data.", Some("https://scikit-learn.org/stable/modules/neighbors.html"))
}
fn onnx_ir() -> Source {
    src(
        "ONNX IR specification",
        "ONNX IR specification: producer_name, doc_string, metadata_props and names travel inside every model file.", Some("https://onnx.ai/onnx/repo-docs/IR.html"))
}

// ------------------------------------------------------------ rules

struct Rule {
    id: &'static str,
    group: Group,
    title: &'static str,
    action: String,
    sources: Vec<Source>,
}

impl Rule {
    fn not_evaluated(self, reason: String) -> RuleOutcome {
        RuleOutcome {
            id: self.id.into(),
            group: self.group,
            status: Status::NotEvaluated,
            title: self.title.into(),
            figure: None,
            threshold: None,
            finding: String::new(),
            action: self.action,
            reason: Some(reason),
            sources: self.sources,
            details: serde_json::Value::Null,
        }
    }

    /// Compare `figure` with `threshold`; `finding` describes it.
    fn judge(self, figure: Figure, threshold: ThresholdUse, finding: String) -> RuleOutcome {
        let fired = match threshold.comparison.as_str() {
            ">" => figure.value > threshold.bound,
            _ => figure.value >= threshold.bound,
        };
        RuleOutcome {
            id: self.id.into(),
            group: self.group,
            status: if fired { Status::Fired } else { Status::Clear },
            title: self.title.into(),
            figure: Some(figure),
            threshold: Some(threshold),
            finding,
            action: self.action,
            reason: None,
            sources: self.sources,
            details: serde_json::Value::Null,
        }
    }
}

fn at_least(key: &str, setting: f64) -> ThresholdUse {
    ThresholdUse {
        key: key.into(),
        setting,
        bound: setting,
        comparison: ">=".into(),
    }
}

/// Attacks that ran (with statistics).
fn ran(report: &Report) -> impl Iterator<Item = (&str, &crate::stats::AttackStats)> {
    report
        .attacks
        .iter()
        .filter_map(|a| a.stats.as_ref().map(|s| (a.id.as_str(), s)))
}

/// The largest value of `f` over the attacks, with the attack's id.
fn max_over<'a>(it: impl Iterator<Item = (&'a str, f64)>) -> Option<(&'a str, f64)> {
    it.filter(|(_, v)| !v.is_nan())
        .fold(None, |best, (id, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((id, v)),
        })
}

/// Attacks that see predicted labels only; `boundary_distance` counts only
/// when its details say so ([`label_only_attack`]).
const LABEL_ONLY: [&str; 3] = ["gap", "noise_robustness", "boundary_distance"];

/// Whether an attack result used predicted labels alone: `gap` and
/// `noise_robustness` always do; `boundary_distance` only in its query-only
/// mode (`details.labels_only == true`; reports before that mode existed
/// ran a white-box gradient search under the same id).
fn label_only_attack(a: &crate::attacks::membership::audit::AttackResult) -> bool {
    match a.id.as_str() {
        "boundary_distance" => a.details.get("labels_only") == Some(&serde_json::Value::Bool(true)),
        id => LABEL_ONLY.contains(&id),
    }
}

fn fmt_level(level: f64) -> String {
    if level == 0.1 {
        "10%".into()
    } else if level == 0.01 {
        "1%".into()
    } else if level == 0.001 {
        "0.1%".into()
    } else {
        format!("{level}")
    }
}

fn generalization_gap(report: &Report, t: &Thresholds) -> RuleOutcome {
    let rule = Rule {
        id: "generalization_gap",
        group: Group::Model,
        title: "Train/test accuracy gap",
        action: "Regularise more (L2 weight decay, dropout, data augmentation) or stop training earlier (pick the epoch on held-out data), then audit again.".into(),
        sources: vec![shokri2017(), yeom2018()],
    };
    let gap = report.attacks.iter().find(|a| a.id == "gap").and_then(|a| {
        let m = a.details.get("member_accuracy")?.as_f64()?;
        let n = a.details.get("nonmember_accuracy")?.as_f64()?;
        Some((m, n))
    });
    let Some((m, n)) = gap else {
        return rule.not_evaluated(
            "the gap attack did not run, so the members' and non-members' accuracies are unknown"
                .into(),
        );
    };
    let g = m - n;
    rule.judge(
        Figure {
            name: "member accuracy - non-member accuracy".into(),
            value: g,
            location: "attacks[gap].details".into(),
        },
        at_least("accuracy_gap", t.accuracy_gap),
        format!(
            "The model is right on {:.1}% of its members and {:.1}% of the non-members: a gap of {:.1} points.",
            100.0 * m,
            100.0 * n,
            100.0 * g
        ),
    )
}

fn low_fpr_tpr(report: &Report, t: &Thresholds) -> RuleOutcome {
    let level = t.low_fpr;
    let rule = Rule {
        id: "low_fpr_tpr",
        group: Group::Model,
        title: "Members exposed at a low false-positive rate",
        action: "Some members are identified with confidence, which averages hide: regularise more or stop earlier, and for a guarantee train with DP-SGD (see the DP-SGD action).".into(),
        sources: vec![carlini2022()],
    };
    let key = format!("{level}");
    let best = max_over(ran(report).filter_map(|(id, s)| {
        let p = s.tpr_at_fpr.get(&key)?;
        p.resolvable.then_some((id, p.tpr))
    }));
    let Some((id, tpr)) = best else {
        let most = ran(report).map(|(_, s)| s.n_nonmembers).max().unwrap_or(0);
        return rule.not_evaluated(if most == 0 {
            "no membership attack ran".into()
        } else {
            format!(
                "TPR at FPR {} needs at least {:.0} non-members; the audit has {most}. Lower the level with low_fpr (0.01 or 0.1) or add non-members.",
                fmt_level(level),
                (1.0 / level).ceil()
            )
        });
    };
    let bound = t.low_fpr_tpr_ratio * level;
    rule.judge(
        Figure {
            name: format!("highest TPR at FPR {}", fmt_level(level)),
            value: tpr,
            location: format!("attacks[{id}].tpr_at_fpr[\"{key}\"]"),
        },
        ThresholdUse {
            key: "low_fpr_tpr_ratio".into(),
            setting: t.low_fpr_tpr_ratio,
            bound,
            comparison: ">=".into(),
        },
        format!(
            "At a false-positive rate of {}, {id} identifies {:.2}% of the members ({:.1} times chance).",
            fmt_level(level),
            100.0 * tpr,
            tpr / level
        ),
    )
}

/// The highest empirical epsilon lower bound, with its attack and the
/// audit's delta and alpha.
fn best_epsilon(report: &Report) -> Option<(&str, f64, f64, f64, usize)> {
    let k = ran(report).count();
    let (id, v) = max_over(ran(report).map(|(id, s)| (id, s.epsilon_lower_bound)))?;
    let s = ran(report).find(|(i, _)| *i == id)?.1;
    Some((id, v, s.epsilon.delta, s.epsilon.alpha, k))
}

fn epsilon_finding(id: &str, v: f64, delta: f64, alpha: f64, k: usize) -> String {
    format!(
        "The audit proves epsilon >= {v:.3} at delta = {delta} ({id}; confidence {:.0}% for that attack, {:.0}% for the highest of {k} attacks by Bonferroni).",
        100.0 * (1.0 - alpha),
        (100.0 * (1.0 - k as f64 * alpha)).max(0.0)
    )
}

fn dp_sgd(report: &Report, opts: &GuidanceOptions) -> RuleOutcome {
    let t = &opts.thresholds;
    let plan = &opts.dp_plan;
    let n = plan.records.unwrap_or(report.counts.members);
    let target = plan.target_epsilon.or(opts.claimed_epsilon).unwrap_or(8.0);
    let mut details = serde_json::json!({
        "target_epsilon": target,
        "delta": plan.delta,
        "records": n,
        "batch_size": plan.batch_size,
        "epochs": plan.epochs,
    });
    let sizing = if n == 0 || plan.batch_size == 0 || plan.epochs == 0 {
        "Set dp_plan.records, batch_size and epochs to size the noise.".to_string()
    } else {
        let q = (plan.batch_size as f64 / n as f64).min(1.0);
        // u64 and saturating: usize is 32 bits in wasm
        let steps = (plan.epochs as u64).saturating_mul(n.div_ceil(plan.batch_size) as u64);
        details["sample_rate"] = serde_json::json!(q);
        details["steps"] = serde_json::json!(steps);
        match accountant::noise_multiplier_for(target, q, steps, plan.delta) {
            Ok(s) => {
                details["noise_multiplier"] = serde_json::json!(s.noise_multiplier);
                details["epsilon"] = serde_json::json!(s.epsilon);
                format!(
                    "With batches of {} of {n} records (q = {q:.4}) for {} epochs ({steps} steps), the RDP accountant gives noise multiplier sigma = {:.3} for epsilon = {target} at delta = {}; pick the clipping norm C near the typical per-record gradient norm.",
                    plan.batch_size, plan.epochs, s.noise_multiplier, plan.delta
                )
            }
            Err(e) => {
                details["error"] = serde_json::json!(e.to_string());
                format!("The accountant cannot size the noise: {e}")
            }
        }
    };
    let rule = Rule {
        id: "dp_sgd",
        group: Group::Model,
        title: "Train with differential privacy",
        action: format!(
            "Train with DP-SGD (per-record clipping and Gaussian noise) at a stated epsilon. {sizing}"
        ),
        sources: vec![abadi2016(), mironov2019()],
    };
    let Some((id, v, delta, alpha, k)) = best_epsilon(report) else {
        let mut o = rule.not_evaluated("no membership attack ran".into());
        o.details = details;
        return o;
    };
    let mut o = rule.judge(
        Figure {
            name: "highest empirical epsilon lower bound".into(),
            value: v,
            location: format!("attacks[{id}].epsilon_lower_bound"),
        },
        at_least("epsilon_lower_bound", t.epsilon_lower_bound),
        epsilon_finding(id, v, delta, alpha, k),
    );
    o.details = details;
    o
}

fn claimed_epsilon(report: &Report, opts: &GuidanceOptions) -> RuleOutcome {
    let rule = Rule {
        id: "claimed_epsilon",
        group: Group::People,
        title: "Claimed differential privacy",
        action: "The stated guarantee is false for this model: withdraw or correct it with everyone it was given to, and check the DP training (sampling, clipping, noise, step count, accounting) before stating one again.".into(),
        sources: vec![jagielski2020(), nasr2021()],
    };
    let Some(claim) = opts.claimed_epsilon else {
        return rule.not_evaluated(
            "no claimed epsilon was given (set claimed_epsilon to test a claim)".into(),
        );
    };
    let Some((id, v, delta, alpha, k)) = best_epsilon(report) else {
        return rule.not_evaluated("no membership attack ran".into());
    };
    let claim_delta = opts.claimed_delta.unwrap_or(delta);
    if claim_delta > delta {
        return rule.not_evaluated(format!(
            "the claim's delta {claim_delta} is above the audit's delta {delta}: a lower bound at delta {delta} cannot refute it (rerun the audit with delta >= {claim_delta})"
        ));
    }
    let mut finding = epsilon_finding(id, v, delta, alpha, k);
    if v > claim {
        let _ = write!(
            finding,
            " That exceeds the claimed epsilon = {claim} (delta = {claim_delta}): the claim is false."
        );
    } else {
        let _ = write!(
            finding,
            " That is within the claimed epsilon = {claim}: consistent with the claim, which an audit can refute but never confirm."
        );
    }
    rule.judge(
        Figure {
            name: "highest empirical epsilon lower bound".into(),
            value: v,
            location: format!("attacks[{id}].epsilon_lower_bound"),
        },
        ThresholdUse {
            key: "claimed_epsilon".into(),
            setting: claim,
            bound: claim,
            comparison: ">".into(),
        },
        finding,
    )
}

fn label_only(report: &Report, t: &Thresholds) -> RuleOutcome {
    let rule = Rule {
        id: "label_only",
        group: Group::Infrastructure,
        title: "Label-only attacks succeed",
        action: "Returning only the predicted label, or rounding confidences, will not stop membership inference on this model: fix the model (regularisation, DP-SGD) rather than the output format.".into(),
        sources: vec![choquette2021()],
    };
    let best = max_over(
        report
            .attacks
            .iter()
            .filter(|a| label_only_attack(a))
            .filter_map(|a| a.stats.as_ref().map(|s| (a.id.as_str(), s.auc))),
    );
    let Some((id, auc)) = best else {
        return rule.not_evaluated(
            "no label-only attack (gap, noise_robustness, query-only boundary_distance) ran; white-box results (boundary_distance_gradient) do not count".into(),
        );
    };
    let ci = ran(report)
        .find(|(i, _)| *i == id)
        .map(|(_, s)| s.auc_ci95)
        .unwrap_or([0.0, 1.0]);
    rule.judge(
        Figure {
            name: "highest AUC of a label-only attack".into(),
            value: auc,
            location: format!("attacks[{id}].auc"),
        },
        at_least("label_only_auc", t.label_only_auc),
        format!(
            "Seeing only predicted labels, {id} tells members from non-members with AUC {auc:.3} [{:.3}, {:.3}] ({}).",
            ci[0],
            ci[1],
            match id {
                "gap" => "the gap attack: right or wrong label",
                "noise_robustness" => "noise robustness: labels of noisy copies",
                _ => "query-only boundary distance: labels of searched points",
            }
        ),
    )
}

fn inversion(report: &Report, t: &Thresholds) -> RuleOutcome {
    let rule = Rule {
        id: "inversion",
        group: Group::Infrastructure,
        title: "Model inversion reconstructs class averages",
        action: "The outputs let an attacker rebuild what a class's members look like on average. If a class stands for a person or a small sensitive group, return labels or coarsely rounded confidences only, and do not hand out the model file (white-box access gives gradients).".into(),
        sources: vec![fredrikson2015()],
    };
    let Some(inv) = &report.inversion else {
        return rule.not_evaluated("model inversion did not run".into());
    };
    let best = inv
        .classes
        .iter()
        .filter_map(|c| c.class_mean_similarity.map(|s| (c, s)))
        .filter(|(_, s)| !s.is_nan())
        .fold(None, |b: Option<(_, f64)>, (c, s)| match b {
            Some((_, bs)) if bs >= s => b,
            _ => Some((c, s)),
        });
    let Some((c, s)) = best else {
        return rule.not_evaluated(
            "no reconstruction could be compared with the members' class mean (members with labels are needed)".into(),
        );
    };
    let (key, setting, kind) = match c.similarity_kind {
        SimilarityKind::Ssim => ("inversion_ssim", t.inversion_ssim, "SSIM"),
        SimilarityKind::Cosine => ("inversion_cosine", t.inversion_cosine, "cosine similarity"),
    };
    let nearer = match (c.nearest_member_distance, c.nearest_nonmember_distance) {
        (Some(m), Some(n)) => {
            format!(" Its nearest member is at distance {m:.3}, its nearest non-member at {n:.3}.")
        }
        _ => String::new(),
    };
    rule.judge(
        Figure {
            name: format!("highest {kind} to the members' class mean"),
            value: s,
            location: format!("inversion.classes[class {}].class_mean_similarity", c.class),
        },
        at_least(key, setting),
        format!(
            "The reconstruction of class {} has {kind} {s:.3} with the members' mean of that class.{nearer}",
            c.class
        ),
    )
}

fn attribute(report: &Report, t: &Thresholds) -> RuleOutcome {
    let rule = Rule {
        id: "attribute_inference",
        group: Group::Data,
        title: "Sensitive attribute inferable beyond imputation",
        action: "The model reveals the sensitive column of its training records beyond what the other columns predict: drop or coarsen that column if the task does not need it, or train with DP-SGD.".into(),
        sources: vec![fredrikson2014(), jayaraman2022()],
    };
    let Some(a) = &report.attribute else {
        return rule.not_evaluated("attribute inference did not run".into());
    };
    rule.judge(
        Figure {
            name: "member/non-member gap minus the imputation baseline's".into(),
            value: a.gap_minus_baseline,
            location: "attribute.gap_minus_baseline".into(),
        },
        at_least("attribute_gap_over_baseline", t.attribute_gap_over_baseline),
        format!(
            "Inferring {}, the attack is right for {:.1}% of members and {:.1}% of non-members (gap {:.3} [{:.3}, {:.3}]); the imputation baseline's gap is {:.3}.",
            a.column_name,
            100.0 * a.members.attack_accuracy,
            100.0 * a.nonmembers.attack_accuracy,
            a.gap,
            a.gap_ci95[0],
            a.gap_ci95[1],
            a.baseline_gap
        ),
    )
}

fn scan_rules(scan: Option<&ScanFindings>, t: &Thresholds) -> Vec<RuleOutcome> {
    let rules = [
        (
            Rule {
                id: "embedded_records",
                group: Group::Infrastructure,
                title: "Training records stored in the model file",
                action: "The model file carries training records verbatim: never ship it beyond the trust boundary of the training data. Where it must leave, use a model family that does not store records (e.g. a linear model or a neural network instead of an SVM or k-NN) and scan again.".into(),
                sources: vec![sklearn_svm(), sklearn_knn()],
            },
            "member records found in model tensors",
            "embedded_member_rows",
            t.embedded_member_rows,
        ),
        (
            Rule {
                id: "record_like_tensors",
                group: Group::Infrastructure,
                title: "Tensors that look like stored records",
                action: "Check these tensors against the training data (scan with the members) before shipping the model; treat it as carrying records until shown otherwise.".into(),
                sources: vec![sklearn_svm(), sklearn_knn()],
            },
            "tensors flagged as record-like",
            "flagged_tensors",
            t.flagged_tensors,
        ),
        (
            Rule {
                id: "metadata",
                group: Group::People,
                title: "Metadata names people, hosts or paths",
                action: "Strip the metadata (producer, doc strings, metadata_props, names) before sharing the model: it identifies the people and machines that made it.".into(),
                sources: vec![onnx_ir()],
            },
            "metadata findings",
            "metadata_flags",
            t.metadata_flags,
        ),
    ];
    rules
        .into_iter()
        .map(|(rule, name, key, setting)| {
            let Some(s) = scan else {
                return rule.not_evaluated("the model file was not scanned".into());
            };
            let value = match key {
                "embedded_member_rows" => s.member_rows_embedded,
                "flagged_tensors" => s.tensors_flagged,
                _ => s.metadata_flags,
            };
            let mut finding = format!("The scan found {value} {name}.");
            if value > 0 && !s.examples.is_empty() {
                let _ = write!(finding, " {}", s.examples.join("; "));
            }
            rule.judge(
                Figure {
                    name: name.into(),
                    value: value as f64,
                    location: "scan".into(),
                },
                at_least(key, setting as f64),
                finding,
            )
        })
        .collect()
}

/// Every rule id, in the order [`evaluate`] lists them (the `--fail-on`
/// gates name rules by these ids, `crate::gate`).
pub const RULE_IDS: [&str; 10] = [
    "attribute_inference",
    "generalization_gap",
    "low_fpr_tpr",
    "dp_sgd",
    "label_only",
    "inversion",
    "embedded_records",
    "record_like_tensors",
    "claimed_epsilon",
    "metadata",
];

/// Evaluate every rule on a report (see the module docs).
pub fn evaluate(
    report: &Report,
    scan: Option<&ScanFindings>,
    opts: &GuidanceOptions,
) -> Result<Guidance, GuidanceError> {
    opts.validate()?;
    let t = &opts.thresholds;
    let mut rules = vec![
        attribute(report, t),
        generalization_gap(report, t),
        low_fpr_tpr(report, t),
        dp_sgd(report, opts),
        label_only(report, t),
        inversion(report, t),
    ];
    let mut scan_out = scan_rules(scan, t);
    let metadata = scan_out.pop();
    rules.append(&mut scan_out);
    rules.push(claimed_epsilon(report, opts));
    rules.extend(metadata);
    Ok(Guidance {
        rules,
        options: opts.clone(),
    })
}

// ------------------------------------------------------------ HTML

fn num(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn comparison_html(r: &RuleOutcome) -> String {
    match (&r.figure, &r.threshold) {
        (Some(f), Some(t)) => {
            let op = if t.comparison == ">" { "&gt;" } else { "&ge;" };
            let held = r.status == Status::Fired;
            let derived = if t.bound != t.setting {
                format!(" (<code>{}</code> = {})", esc(&t.key), num(t.setting))
            } else {
                format!(" (<code>{}</code>)", esc(&t.key))
            };
            format!(
                "{} = <b>{}</b> {} {}{} &middot; <span class=\"where\">{}</span>",
                esc(&f.name),
                num(f.value),
                if held {
                    op.to_string()
                } else {
                    format!("not {op}")
                },
                num(t.bound),
                derived,
                esc(&f.location)
            )
        }
        _ => String::new(),
    }
}

fn sources_html(h: &mut String, sources: &[Source]) {
    let _ = write!(h, "<ul class=\"sources\">");
    for s in sources {
        match &s.url {
            Some(u) => {
                let _ = write!(
                    h,
                    "<li>{} <a href=\"{}\" rel=\"noreferrer\">{}</a></li>",
                    esc(&s.citation),
                    esc(u),
                    esc(u)
                );
            }
            None => {
                let _ = write!(h, "<li>{}</li>", esc(&s.citation));
            }
        }
    }
    let _ = write!(h, "</ul>");
}

/// The guidance section as an HTML fragment: a `<section class="guidance">`
/// with the fired actions grouped (data, model, infrastructure, people),
/// each with its finding, figure, comparison, threshold key and sources,
/// then a table of every rule (status, figure, threshold) so the user sees
/// every threshold, including those that did not fire. No inline styles,
/// no scripts, every text escaped; links are plain `<a href>` to the cited
/// sources (not fetched).
pub fn render_html(g: &Guidance) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<section class=\"guidance\" data-testid=\"guidance\"><h2>Guidance</h2><p class=\"meta\">Each action below is triggered by a measured figure crossing a threshold you can change (its key is shown); the table at the end lists every rule, including those that did not fire.</p>"
    );
    let fired = g.fired().count();
    if fired == 0 {
        let _ = write!(
            h,
            "<p data-testid=\"guidance-none\">No rule fired at the current thresholds.</p>"
        );
    }
    for group in Group::ALL {
        let rules: Vec<&RuleOutcome> = g.fired().filter(|r| r.group == group).collect();
        if rules.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h3 data-testid=\"guidance-group-{}\">{}</h3>",
            esc(&format!("{group:?}").to_lowercase()),
            group.title()
        );
        for r in rules {
            let _ = write!(
                h,
                "<article class=\"action\" data-testid=\"guidance-{}\"><h4>{}</h4><p>{}</p><p><b>What to do:</b> {}</p><p class=\"figure\">{}</p>",
                esc(&r.id),
                esc(&r.title),
                esc(&r.finding),
                esc(&r.action),
                comparison_html(r)
            );
            sources_html(&mut h, &r.sources);
            let _ = write!(h, "</article>");
        }
    }
    let _ = write!(
        h,
        "<details data-testid=\"guidance-rules\"><summary>Every rule and threshold</summary><table><thead><tr><th>rule</th><th>group</th><th>status</th><th>figure</th><th>threshold</th><th>setting</th></tr></thead><tbody>"
    );
    for r in &g.rules {
        let status = match r.status {
            Status::Fired => "fired",
            Status::Clear => "clear",
            Status::NotEvaluated => "not evaluated",
        };
        let figure = r
            .figure
            .as_ref()
            .map(|f| num(f.value))
            .unwrap_or_else(|| esc(r.reason.as_deref().unwrap_or("")));
        let (bound, key) = match &r.threshold {
            Some(t) => (
                format!(
                    "{} {}",
                    if t.comparison == ">" { "&gt;" } else { "&ge;" },
                    num(t.bound)
                ),
                format!("<code>{}</code> = {}", esc(&t.key), num(t.setting)),
            ),
            None => (String::new(), String::new()),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{status}</td><td>{figure}</td><td>{bound}</td><td>{key}</td></tr>",
            esc(&r.title),
            group_name(r.group)
        );
    }
    let _ = write!(h, "</tbody></table></details></section>");
    h
}

/// The guidance as plain text for the CLI summary: the fired actions by
/// group (finding, figure vs threshold with its key, action, sources in
/// author-year form), then one line per rule not evaluated and why.
pub fn render_text(g: &Guidance) -> String {
    let mut t = String::from("Guidance (every threshold is a setting; its key is in brackets)\n");
    if g.fired().next().is_none() {
        t.push_str("  No rule fired at the current thresholds.\n");
    }
    for group in Group::ALL {
        let rules: Vec<&RuleOutcome> = g.fired().filter(|r| r.group == group).collect();
        if rules.is_empty() {
            continue;
        }
        let _ = writeln!(t, "  {}", group.title());
        for r in rules {
            let _ = writeln!(t, "  * {}: {}", r.title, r.finding);
            if let (Some(f), Some(th)) = (&r.figure, &r.threshold) {
                let _ = writeln!(
                    t,
                    "    {} = {} {} {} [{} = {}]",
                    f.name,
                    num(f.value),
                    th.comparison,
                    num(th.bound),
                    th.key,
                    num(th.setting)
                );
            }
            let _ = writeln!(t, "    -> {}", r.action);
            let cites: Vec<&str> = r.sources.iter().map(|s| s.short.as_str()).collect();
            let _ = writeln!(t, "    ({})", cites.join("; "));
        }
    }
    let clear: Vec<&str> = g
        .rules
        .iter()
        .filter(|r| r.status == Status::Clear)
        .map(|r| r.id.as_str())
        .collect();
    if !clear.is_empty() {
        let _ = writeln!(t, "  Below threshold: {}", clear.join(", "));
    }
    for r in g.rules.iter().filter(|r| r.status == Status::NotEvaluated) {
        let _ = writeln!(
            t,
            "  Not evaluated: {} ({})",
            r.id,
            r.reason.as_deref().unwrap_or("")
        );
    }
    t
}

fn group_name(g: Group) -> &'static str {
    match g {
        Group::Data => "data",
        Group::Model => "model",
        Group::Infrastructure => "infrastructure",
        Group::People => "people",
    }
}
