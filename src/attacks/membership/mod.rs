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

/// Members, non-members and optional population records.
#[derive(Debug, Clone)]
pub struct AuditInputs {
    pub members: Records,
    pub nonmembers: Records,
    pub population: Option<Records>,
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
pub mod references;
pub mod risk_score;
pub mod rmia;
pub mod shokri;
pub mod signals;
pub mod threshold;
