//! The report: one serde type for the CLI (`--report OUT.json`), the page and
//! the exported HTML, so every front door shows the same numbers. It records
//! the tool version, the model's SHA-256, the seed, the counts and every
//! setting; each attack carries its statistics (`crate::stats`), its scores
//! in input row order, and its details, or the reason it was skipped; one
//! table (`records`) holds every record's ranks and flags across the attacks
//! (`crate::stats::vulnerability`). Tree models add the leaf membership
//! (`leaves`).
//!
//! JSON keys are snake_case. `html::render` turns a report into a
//! self-contained HTML document (inline SVG, no external requests).

pub mod ci;
pub mod diff;
pub mod html;
mod read;
pub mod scan_html;

use crate::attacks::attribute::AttributeReport;
use crate::attacks::membership::audit::{AttackResult, AuditOutcome, AuditSettings};
use crate::attacks::membership::leaves::LeafReport;
use crate::attacks::membership::predictions::{PredictionInputs, PredictionsInfo};
use crate::engine::OutputKind;
use crate::onnx::Model;
use crate::stats::vulnerability::{records_csv, PerSet, RecordTable};
use crate::summary::summarize;
use serde::{Deserialize, Serialize};

pub use crate::attacks::inversion::InversionReport;
pub use read::{read_json, read_json_with, ReportError};

/// The conventions the attacks follow, named in every report
/// (docs/attacks.md pins them).
pub const CONVENTIONS: [&str; 7] = [
    "every membership score is continuous, higher = more likely a member; ROC, AUC and TPR@FPR sweep a threshold over the scores (score >= t is member)",
    "statistics in f64; probabilities clamped to [1e-45, 1] before logs",
    "AUC = Mann-Whitney U / (m n) with ties counted 1/2; 95% CI by DeLong",
    "epsilon lower bound: Clopper-Pearson bounds at alpha/2 per side, threshold chosen on a seeded half of the records and evaluated on the other half",
    "LiRA offline is one-sided (Carlini et al. 2022): Phi((phi - mu_out) / s_out); fixed (global) variance below 32 references per side",
    "RMIA (Zarifzadeh et al. 2024): offline Pr(x) = 0.5 ((1 + a) mean_OUT + (1 - a)); score quantised to 1/|Z|",
    "TPR at an FPR level is marked not resolvable when level x non-members < 1",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    pub file: Option<String>,
    /// Empty (and left out of the JSON) for an audit from predictions,
    /// which has no model file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    pub producer: String,
    pub opset: i64,
    pub input_shape: Vec<String>,
    pub output_name: String,
    pub output_kind: OutputKind,
    /// "detected" or "override"
    pub output_kind_source: String,
    pub num_classes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub members: usize,
    pub nonmembers: usize,
    pub population: usize,
}

/// A report: the membership audit, the attribute inference and the model
/// inversion results of one model, any of which may be absent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub tool: ToolInfo,
    /// The model's facts; for an audit from predictions only the declared
    /// output kind and the class count (no SHA-256: see `predictions`).
    pub model: ModelInfo,
    /// Set for an audit from predictions alone (no model): each file with
    /// its SHA-256, and the sections that need the model, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictions: Option<PredictionsInfo>,
    pub seed: u64,
    pub counts: Counts,
    /// Named files of the inputs (the CLI knows them; the page passes names).
    pub inputs: serde_json::Value,
    pub conventions: Vec<String>,
    /// Settings of the membership audit (absent when none ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<AuditSettings>,
    pub references: serde_json::Value,
    /// Membership attacks, in report order (empty when no audit ran).
    pub attacks: Vec<AttackResult>,
    /// Per record across the attacks: rank among the non-members, flags at
    /// 1% and 0.1% FPR, flag counts, agreement (`stats::vulnerability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordTable>,
    /// Every attack's figures per slice of a feature column, and the slices
    /// that leak more than the whole after a Holm correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<crate::stats::slices::SliceReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<AttributeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inversion: Option<InversionReport>,
    /// The one-run check of a DP-SGD claim (`attacks::dp_audit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp_audit: Option<crate::attacks::dp_audit::DpAuditReport>,
    /// Set on an export made with [`Report::without_training_data`]: what
    /// was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// The model-file scan (`crate::scan`): stored records and metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::scan::ScanReport>,
    /// Leaf membership of a tree ensemble (filled by the membership audit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaves: Option<LeafReport>,
    /// What to do about the findings (`crate::guidance`), each action tied
    /// to its figure, threshold and source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<crate::guidance::Guidance>,
    /// The `--fail-on` conditions and their outcomes (`crate::gate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<crate::gate::Gates>,
    /// The resource limits of the run (`crate::limits`), recorded only when
    /// they differ from the defaults (see [`Report::with_limits`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::limits::Limits>,
}

/// What [`Report::without_training_data`] removes, as recorded in the
/// report.
pub const REDACTION_NOTE: &str = "values computed directly from training records (the members' mean record of each class in the model inversion) were left out of this export; export with training data included to keep them";

impl Report {
    /// The base name of this report's downloads (the page's JSON, HTML and
    /// per-record CSV links): `privacy-{what}-{id}-seed{seed}`, `what` =
    /// `audit`, `inversion` or `attribute-{column}` (the column name with
    /// every character outside `[A-Za-z0-9_.-]` run replaced by `_`), or
    /// `records` with `records`; `id` = the first 12 hex digits of the model
    /// SHA-256, or, for an audit from predictions, `predictions-` and the
    /// first 12 of its members file's.
    pub fn file_stem(&self, records: bool) -> String {
        let what = if records {
            "records".to_string()
        } else if let Some(a) = &self.attribute {
            let mut col = String::new();
            let mut in_run = false;
            for c in a.column_name.chars() {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    col.push(c);
                    in_run = false;
                } else if !in_run {
                    col.push('_');
                    in_run = true;
                }
            }
            format!("attribute-{col}")
        } else if self.inversion.is_some() {
            "inversion".to_string()
        } else {
            "audit".to_string()
        };
        let id = match (&self.predictions, self.model.sha256.is_empty()) {
            (Some(p), true) => {
                let sha = p.files.first().map_or("", |f| f.sha256.as_str());
                format!("predictions-{}", &sha[..sha.len().min(12)])
            }
            _ => self.model.sha256[..self.model.sha256.len().min(12)].to_string(),
        };
        format!("privacy-{what}-{id}-seed{}", self.seed)
    }

    /// A report with the model facts and no results yet.
    pub fn base(
        model: &Model,
        model_file: Option<String>,
        kind_override: Option<OutputKind>,
        num_classes: usize,
        seed: u64,
        counts: Counts,
        inputs: serde_json::Value,
    ) -> Report {
        let s = summarize(model, kind_override);
        Report {
            seed,
            counts,
            inputs,
            conventions: CONVENTIONS.iter().map(|s| s.to_string()).collect(),
            ..Report::empty(ModelInfo {
                file: model_file,
                sha256: s.sha256,
                producer: s.producer,
                opset: s.opset,
                input_shape: s.input.shape,
                output_name: s.output.name,
                output_kind: s.output.kind,
                output_kind_source: s.output.kind_source,
                num_classes,
            })
        }
    }

    /// A report for a model file the engine could not load: only the
    /// file's SHA-256, for the model-file scan and its guidance.
    pub fn file_only(sha256: String) -> Report {
        Report::empty(ModelInfo {
            file: None,
            sha256,
            producer: String::new(),
            opset: 0,
            input_shape: Vec::new(),
            output_name: String::new(),
            output_kind: OutputKind::Probabilities,
            output_kind_source: "not loaded by the engine".into(),
            num_classes: 0,
        })
    }

    /// The model facts and nothing else: no counts, inputs, conventions or
    /// results.
    fn empty(model: ModelInfo) -> Report {
        Report {
            tool: ToolInfo {
                name: "privacy-inspector".into(),
                version: crate::VERSION.into(),
            },
            model,
            predictions: None,
            seed: 0,
            counts: Counts {
                members: 0,
                nonmembers: 0,
                population: 0,
            },
            inputs: serde_json::Value::Null,
            conventions: Vec::new(),
            settings: None,
            references: serde_json::Value::Null,
            attacks: Vec::new(),
            records: None,
            slices: None,
            attribute: None,
            inversion: None,
            dp_audit: None,
            redacted: None,
            scan: None,
            leaves: None,
            guidance: None,
            gates: None,
            limits: None,
        }
    }

    /// The scan's figures as the guidance reads them.
    pub fn scan_findings(&self) -> Option<crate::guidance::ScanFindings> {
        let s = self.scan.as_ref()?;
        let mut examples = Vec::new();
        for t in &s.tensors {
            let members: usize = t
                .matches
                .iter()
                .filter(|m| m.set == "members")
                .map(|m| m.records_matched)
                .max()
                .unwrap_or(0);
            if members > 0 {
                examples.push(format!(
                    "{} ({}): {members} member records stored",
                    t.location,
                    serde_json::to_value(t.role)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ));
            } else if t.looks_like_records {
                examples.push(format!("{}: looks like stored records", t.location));
            }
        }
        for m in s.metadata.iter().take(3) {
            examples.push(format!("{}: {}", m.field, m.text));
        }
        examples.truncate(6);
        Some(crate::guidance::ScanFindings {
            member_rows_embedded: s.summary.member_records_embedded,
            tensors_flagged: s.summary.tensors_flagged,
            metadata_flags: s.summary.metadata_findings,
            examples,
        })
    }

    /// Add the guidance section (every rule, fired or not, with its figure,
    /// threshold and source).
    pub fn with_guidance(
        mut self,
        opts: &crate::guidance::GuidanceOptions,
    ) -> Result<Report, crate::guidance::GuidanceError> {
        let findings = self.scan_findings();
        self.guidance = Some(crate::guidance::evaluate(&self, findings.as_ref(), opts)?);
        Ok(self)
    }

    /// Evaluate the gate conditions on the report and record their
    /// outcomes in its `gates` section (`crate::gate::evaluate`).
    pub fn with_gates(mut self, conds: &[crate::gate::Condition]) -> Report {
        self.gates = (!conds.is_empty()).then(|| crate::gate::evaluate(&self, conds));
        self
    }

    /// Whether the report holds values computed directly from training
    /// records (beyond scores, indices, labels and aggregate figures).
    pub fn has_training_data(&self) -> bool {
        self.inversion
            .as_ref()
            .is_some_and(|inv| inv.classes.iter().any(|c| c.members_class_mean.is_some()))
    }

    /// The report to hand over by default: every figure, but no values
    /// computed directly from training records (the members' class means
    /// of the model inversion). Scores, record indices, labels and
    /// aggregate statistics stay. Unchanged (and not marked) when there is
    /// nothing to remove.
    pub fn without_training_data(&self) -> Report {
        let mut r = self.clone();
        if !r.has_training_data() {
            return r;
        }
        if let Some(inv) = r.inversion.as_mut() {
            for c in &mut inv.classes {
                c.members_class_mean = None;
            }
        }
        r.redacted = Some(REDACTION_NOTE.to_string());
        r
    }

    /// Add a membership audit's results.
    pub fn with_audit(mut self, outcome: AuditOutcome) -> Report {
        self.seed = outcome.settings.seed;
        self.settings = Some(outcome.settings);
        self.references = outcome.references;
        self.attacks = outcome.attacks;
        self.leaves = outcome.leaves;
        self.records = outcome.records;
        self.slices = outcome.slices;
        self
    }

    /// Record the resource limits the run used: kept when any differs from
    /// [`crate::limits::Limits::default`], left out otherwise (so reports
    /// made with the defaults do not change).
    pub fn with_limits(mut self, limits: &crate::limits::Limits) -> Report {
        self.limits = (*limits != crate::limits::Limits::default()).then_some(*limits);
        self
    }

    /// Add a model-file scan.
    pub fn with_scan(mut self, scan: crate::scan::ScanReport) -> Report {
        self.scan = Some(scan);
        self
    }

    /// Assemble a membership audit report from a model and an audit outcome.
    pub fn new(
        model: &Model,
        model_file: Option<String>,
        kind_override: Option<OutputKind>,
        num_classes: usize,
        counts: Counts,
        inputs: serde_json::Value,
        outcome: AuditOutcome,
    ) -> Report {
        let seed = outcome.settings.seed;
        Report::base(
            model,
            model_file,
            kind_override,
            num_classes,
            seed,
            counts,
            inputs,
        )
        .with_audit(outcome)
    }

    /// The per-record CSV (`stats::vulnerability::records_csv`): the table
    /// with each attack's scores. The one writer of the CLI's
    /// `--records-csv` and the page's download.
    pub fn records_csv(&self) -> Result<String, String> {
        let table = self.records.as_ref().ok_or_else(|| {
            "the report has no per-record table (no membership attack ran)".to_string()
        })?;
        let mut scores = Vec::with_capacity(table.attacks.len());
        for a in &table.attacks {
            let s = self
                .attacks
                .iter()
                .find(|r| r.id == a.id)
                .and_then(|r| r.scores.as_ref())
                .ok_or_else(|| {
                    format!(
                        "the per-record table names attack '{}', which has no scores",
                        a.id
                    )
                })?;
            scores.push(PerSet {
                members: &s.members[..],
                nonmembers: &s.nonmembers[..],
            });
        }
        records_csv(table, &scores).map_err(|e| e.to_string())
    }

    /// Assemble the report of an audit from predictions alone: no model
    /// facts but the declared output kind and the class count, each
    /// predictions file with its SHA-256, and the sections that need the
    /// model listed with the reason.
    pub fn from_predictions(
        predictions: &PredictionInputs,
        inputs: serde_json::Value,
        outcome: AuditOutcome,
    ) -> Report {
        let counts = Counts {
            members: predictions.members.len(),
            nonmembers: predictions.nonmembers.len(),
            population: predictions.population.as_ref().map_or(0, |p| p.len()),
        };
        let mut r = Report::empty(ModelInfo {
            file: None,
            sha256: String::new(),
            producer: String::new(),
            opset: 0,
            input_shape: Vec::new(),
            output_name: String::new(),
            output_kind: predictions.kind,
            output_kind_source: "declared for the predictions (no model)".into(),
            num_classes: predictions.num_classes(),
        });
        r.predictions = Some(PredictionsInfo::of(predictions));
        r.counts = counts;
        r.inputs = inputs;
        r.conventions = CONVENTIONS.iter().map(|s| s.to_string()).collect();
        r.with_audit(outcome)
    }

    /// A short name of what was audited: the model's SHA-256, or for an
    /// audit from predictions the members' file's (for file names).
    pub fn subject_sha256(&self) -> &str {
        match &self.predictions {
            Some(p) if self.model.sha256.is_empty() => {
                p.files.first().map_or("", |f| f.sha256.as_str())
            }
            _ => &self.model.sha256,
        }
    }

    /// Pretty JSON (stable field order; the same inputs and seed give the
    /// same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
