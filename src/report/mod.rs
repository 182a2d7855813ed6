//! The report: one serde type for the CLI (`--report OUT.json`), the page and
//! the exported HTML, so every front door shows the same numbers. It records
//! the tool version, the model's SHA-256, the seed, the counts and every
//! setting; each attack carries its statistics (`crate::stats`), its scores
//! in input row order, and its details, or the reason it was skipped.
//!
//! JSON keys are snake_case. `html::render` turns a report into a
//! self-contained HTML document (inline SVG, no external requests).

pub mod html;
mod read;

use crate::attacks::attribute::AttributeReport;
use crate::attacks::membership::audit::{AttackResult, AuditOutcome, AuditSettings};
use crate::engine::OutputKind;
use crate::onnx::Model;
use crate::summary::summarize;
use serde::{Deserialize, Serialize};

pub use crate::attacks::inversion::InversionReport;
pub use read::{read_json, read_json_with, ReportError};

/// The conventions the attacks follow, named in every report
/// (../shared/docs/attacks.md pins them).
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
    pub model: ModelInfo,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<AttributeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inversion: Option<InversionReport>,
}

impl Report {
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
            tool: ToolInfo {
                name: "privacy-inspector".into(),
                version: crate::VERSION.into(),
            },
            model: ModelInfo {
                file: model_file,
                sha256: s.sha256,
                producer: s.producer,
                opset: s.opset,
                input_shape: s.input.shape,
                output_name: s.output.name,
                output_kind: s.output.kind,
                output_kind_source: s.output.kind_source,
                num_classes,
            },
            seed,
            counts,
            inputs,
            conventions: CONVENTIONS.iter().map(|s| s.to_string()).collect(),
            settings: None,
            references: serde_json::Value::Null,
            attacks: Vec::new(),
            attribute: None,
            inversion: None,
        }
    }

    /// Add a membership audit's results.
    pub fn with_audit(mut self, outcome: AuditOutcome) -> Report {
        self.seed = outcome.settings.seed;
        self.settings = Some(outcome.settings);
        self.references = outcome.references;
        self.attacks = outcome.attacks;
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

    /// Pretty JSON (stable field order; the same inputs and seed give the
    /// same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
