//! Membership inference: the shared context every attack reads, and the
//! output every attack returns.
//!
//! Contract:
//! - An attack gets the [`Target`] (graph, weights, output kind, class count),
//!   the [`AuditInputs`] (members, non-members, optional population records,
//!   each with labels) and its settings, and returns an [`AttackOutput`]: one
//!   score per member and per non-member, in input row order, higher = more
//!   likely a member, plus attack-specific details for the report.
//! - Conventions follow docs/attacks.md (pinned there): f64 for all
//!   statistics, probabilities clamped to [1e-45, 1] before logs.
//! - Long work reports progress through a callback that may return `false`
//!   to cancel; cancelling returns `AttackError::Cancelled`.
//! - Everything is seeded; no clocks, no OS randomness.

use crate::engine::proba::probabilities;
use crate::engine::{EngineError, Graph, OutputKind, ParamSet, Tensor};
use ndarray::{Array2, Axis};
use serde::Serialize;
use thiserror::Error;

/// The model under audit.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub graph: &'a Graph,
    pub params: &'a ParamSet,
    pub output_kind: OutputKind,
    pub num_classes: usize,
}

/// Labelled records in the model's input shape ([N, ...]).
#[derive(Debug, Clone)]
pub struct Records {
    pub x: Tensor,
    pub y: Vec<usize>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// The rows `idx`.
    pub fn select(&self, idx: &[usize]) -> Records {
        Records {
            x: self.x.select(Axis(0), idx),
            y: idx.iter().map(|&i| self.y[i]).collect(),
        }
    }
    /// Concatenate record sets (same record shape).
    pub fn concat(parts: &[&Records]) -> Result<Records, AttackError> {
        let views: Vec<_> = parts.iter().map(|r| r.x.view()).collect();
        let x = ndarray::concatenate(Axis(0), &views)
            .map_err(|e| AttackError::Input(format!("record shapes differ: {e}")))?;
        let y = parts.iter().flat_map(|r| r.y.iter().copied()).collect();
        Ok(Records { x, y })
    }
}

/// One of the audit's record sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Members,
    Nonmembers,
    Population,
}

impl Set {
    /// The set's name in messages ("members", "non-members", "population").
    pub fn name(self) -> &'static str {
        match self {
            Set::Members => "members",
            Set::Nonmembers => "non-members",
            Set::Population => "population",
        }
    }
}

/// Where the output-only attacks (loss, confidence, entropy, modified
/// entropy, risk score, gap) read the target's outputs: the model run on the
/// records ([`Outputs::Model`], every audit with a model; it runs the same
/// code as before this enum existed, so model audits are unchanged to the
/// bit), or outputs supplied without a model ([`Outputs::Predictions`], see
/// [`predictions`]). Every other attack needs the model itself.
#[derive(Clone, Copy)]
pub enum Outputs<'a> {
    Model {
        target: &'a Target<'a>,
        inputs: &'a AuditInputs,
    },
    Predictions(&'a predictions::PredictionInputs),
}

impl Outputs<'_> {
    /// Number of classes (one binary output column counts as two).
    pub fn num_classes(&self) -> usize {
        match self {
            Outputs::Model { target, .. } => signals::classes_of_width(target.num_classes.max(1)),
            Outputs::Predictions(p) => p.num_classes(),
        }
    }

    /// The labels of a set (`None`: no population).
    pub fn labels(&self, set: Set) -> Option<&[usize]> {
        match self {
            Outputs::Model { inputs, .. } => inputs.records(set).map(|r| r.y.as_slice()),
            Outputs::Predictions(p) => p.set(set).map(|s| s.labels.as_slice()),
        }
    }

    /// The labels of a set, empty without it.
    pub fn labels_or_empty(&self, set: Set) -> &[usize] {
        self.labels(set).unwrap_or(&[])
    }

    /// The target's output on a set in the form signals are computed from
    /// (`None`: no population).
    pub fn signal_output(&self, set: Set) -> Result<Option<signals::ModelOutput>, AttackError> {
        match self {
            Outputs::Model { target, inputs } => inputs
                .records(set)
                .map(|r| {
                    signals::ModelOutput::compute(
                        target.graph,
                        target.params,
                        target.output_kind,
                        r,
                    )
                })
                .transpose(),
            Outputs::Predictions(p) => Ok(p.set(set).map(|s| p.signal_output(s))),
        }
    }

    /// Class probabilities [N, K] of a set (`engine::proba` conventions),
    /// for the label-only attacks (`None`: no population).
    pub fn probabilities(&self, set: Set) -> Result<Option<Array2<f64>>, AttackError> {
        match self {
            Outputs::Model { target, inputs } => inputs
                .records(set)
                .map(|r| predict_probs(target.graph, target.params, target.output_kind, &r.x))
                .transpose(),
            Outputs::Predictions(p) => p.set(set).map(|s| p.probabilities(s)).transpose(),
        }
    }
}

/// Members, non-members and optional population records.
#[derive(Debug, Clone)]
pub struct AuditInputs {
    pub members: Records,
    pub nonmembers: Records,
    pub population: Option<Records>,
}

impl AuditInputs {
    /// The records of a set (`None`: no population).
    pub fn records(&self, set: Set) -> Option<&Records> {
        match set {
            Set::Members => Some(&self.members),
            Set::Nonmembers => Some(&self.nonmembers),
            Set::Population => self.population.as_ref(),
        }
    }
}

/// Scores of one attack, in input row order, higher = more likely member.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttackOutput {
    pub members: Vec<f64>,
    pub nonmembers: Vec<f64>,
    /// Attack-specific settings and diagnostics recorded in the report.
    pub details: serde_json::Value,
}

/// Progress of a long step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    /// e.g. "training reference 3/16"
    pub stage: String,
    pub done: usize,
    pub total: usize,
}

/// Errors of the membership attacks.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AttackError {
    #[error("{0}")]
    Input(String),
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("attack '{attack}' needs {what}")]
    Needs { attack: String, what: String },
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A limit of [`crate::limits::Limits`]; `code()` names which.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitExceeded),
}

impl From<crate::settings::SettingError> for AttackError {
    fn from(e: crate::settings::SettingError) -> Self {
        AttackError::Config(e.to_string())
    }
}

impl AttackError {
    pub fn code(&self) -> &'static str {
        match self {
            AttackError::Input(_) => "bad_audit_input",
            AttackError::Config(_) => "bad_config",
            AttackError::Needs { .. } => "attack_needs_more",
            AttackError::Cancelled => "cancelled",
            AttackError::Engine(e) => e.code(),
            AttackError::Limit(e) => e.code(),
        }
    }
}

/// Run `params` on `x` in batches of 1,024 rows, map each batch output to a
/// [rows, K] f64 matrix with `f`, and stack the results.
fn batched(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
    f: impl Fn(&Tensor) -> Result<Array2<f64>, EngineError>,
) -> Result<Array2<f64>, AttackError> {
    let n = x.shape().first().copied().unwrap_or(0);
    let bs = 1024;
    let mut parts: Vec<Array2<f64>> = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + bs).min(n);
        let xb = x.slice_axis(Axis(0), (start..end).into()).to_owned();
        parts.push(f(&graph.forward(params, &xb)?)?);
        start = end;
    }
    if parts.is_empty() {
        return Ok(Array2::zeros((0, 0)));
    }
    let views: Vec<_> = parts.iter().map(|r| r.view()).collect();
    ndarray::concatenate(Axis(0), &views).map_err(|e| AttackError::Input(e.to_string()))
}

/// Class probabilities [N, K] of `params` on `x` (batched, f64), following
/// `engine::proba` conventions (softmax of logits, [1-p, p] for one column).
pub fn predict_probs(
    graph: &Graph,
    params: &ParamSet,
    kind: OutputKind,
    x: &Tensor,
) -> Result<Array2<f64>, AttackError> {
    batched(graph, params, x, |out| {
        Ok(probabilities(out, kind)?.mapv(|v| v as f64))
    })
}

/// Raw outputs of `params` on `x` as [N, K] f64 (logits stay logits), for
/// attacks that want the stable logit-scaled confidence.
pub fn predict_raw(
    graph: &Graph,
    params: &ParamSet,
    x: &Tensor,
) -> Result<Array2<f64>, AttackError> {
    batched(graph, params, x, |out| {
        Ok(crate::engine::proba::as_matrix(out)?.mapv(|v| v as f64))
    })
}

pub mod audit;
pub mod boundary_query;
pub mod label_only;
pub mod leaves;
pub mod lira;
pub mod predictions;
pub mod qmia;
pub mod references;
pub mod risk_score;
pub mod rmia;
pub mod shokri;
pub mod signals;
pub mod threshold;
