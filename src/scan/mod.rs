//! Model-file privacy scan: training data and personal details stored in the
//! model file itself, found without running any attack.
//!
//! Three parts, all working on the decoded `ModelProto` (never on executing
//! the classical operators that hold the data):
//! - [`verbatim`]: every float tensor of the file (initializers, `Constant`
//!   values, FLOATS/TENSOR attributes such as `SVMClassifier.support_vectors`,
//!   tree thresholds, `LinearClassifier.coefficients`, also inside `Scan`/
//!   `Loop`/`If` bodies) is cut into rows and matched against the supplied
//!   member / non-member / population records, exactly and within a
//!   tolerance, in the model's input space and, where the graph transforms
//!   the data before the consuming node (a `Scaler` in front of an SVM), in
//!   that preprocessed space computed by the engine. Without records,
//!   tensors that look like stored records are flagged with the reasons.
//! - [`metadata`]: producer, domain, doc strings, `metadata_props` and every
//!   name (graph, node, value, initializer) checked for file paths, user and
//!   host names, e-mail addresses, URLs and record-like number lists, each
//!   finding with its field path.
//! - [`strip`]: a cleaned copy of the file (doc strings, metadata_props and
//!   producer fields cleared, flagged names replaced consistently).
//!
//! Tolerance: a tensor value `t` matches a record value `r` when
//! `|t - r| <= atol + rtol * max(|t|, |r|)` for every column of the row
//! (defaults `rtol = 1e-4`, `atol = 1e-5`: f32 storage of values computed in
//! f64, and the engine's f32 preprocessing, stay well inside it). "Exact"
//! means bit-equal rows (`-0.0 == 0.0`).
//!
//! Errors: only an undecodable file or records of the wrong width fail
//! ([`ScanError`]); a preprocessed space that cannot be computed is recorded
//! as a note and the raw space is still compared.

pub mod metadata;
pub mod strip;
pub mod verbatim;

use crate::onnx::proto::ModelProto;
use ndarray::Array2;
use prost::Message;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use metadata::{scan_metadata, MetadataFinding, MetadataKind};
pub use strip::{strip_metadata, StripSummary};
pub use verbatim::{scan_tensors, Role, SetMatches, TensorFinding};

/// Errors of the scan.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScanError {
    #[error("the model file is empty")]
    Empty,
    #[error("the file is not an ONNX model: {0}")]
    Decode(String),
    #[error("the model has no graph")]
    NoGraph,
    #[error("{set} records have {got} columns, the model input has {expected} values per record")]
    Width {
        set: String,
        got: usize,
        expected: usize,
    },
    #[error("bad scan setting: {0}")]
    Setting(String),
    #[error("could not encode the cleaned model: {0}")]
    Encode(String),
}

impl ScanError {
    /// Stable code for the page and the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Empty => "empty_file",
            ScanError::Decode(_) => "not_onnx",
            ScanError::NoGraph => "not_a_model",
            ScanError::Width { .. } => "scan_width",
            ScanError::Setting(_) => "bad_setting",
            ScanError::Encode(_) => "internal",
        }
    }
}

/// Settings of the scan (serde: snake_case, every field optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanSettings {
    /// Relative tolerance of a row match, in [0, 0.5].
    pub rtol: f32,
    /// Absolute tolerance of a row match, >= 0.
    pub atol: f32,
    /// Rows of the input width from which a tensor of unknown role is
    /// flagged as possibly stored records when no records are supplied.
    pub min_rows: usize,
    /// At most this many record indices listed per set and space.
    pub max_indices: usize,
    /// Bound on the elements of one decoded tensor.
    pub max_tensor_elements: u128,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            rtol: 1e-4,
            atol: 1e-5,
            min_rows: 10,
            max_indices: 10_000,
            max_tensor_elements: crate::onnx::import::DEFAULT_MAX_TENSOR_ELEMENTS,
        }
    }
}

impl ScanSettings {
    /// Check the settings.
    pub fn validate(&self) -> Result<(), ScanError> {
        if !(self.rtol.is_finite() && (0.0..=0.5).contains(&self.rtol)) {
            return Err(ScanError::Setting(format!(
                "rtol is {}, it must be in [0, 0.5]",
                self.rtol
            )));
        }
        if !(self.atol.is_finite() && self.atol >= 0.0) {
            return Err(ScanError::Setting(format!(
                "atol is {}, it must be finite and >= 0",
                self.atol
            )));
        }
        Ok(())
    }
}

/// Records to match, each `[rows, features]` in the model's input feature
/// space (flattened per record).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanData<'a> {
    pub members: Option<&'a Array2<f32>>,
    pub nonmembers: Option<&'a Array2<f32>>,
    pub population: Option<&'a Array2<f32>>,
}

impl<'a> ScanData<'a> {
    /// The supplied sets with their names, in report order.
    pub fn sets(&self) -> Vec<(&'static str, &'a Array2<f32>)> {
        [
            ("members", self.members),
            ("nonmembers", self.nonmembers),
            ("population", self.population),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.sets().is_empty()
    }
}

/// Records in a model's input shape `[N, ...]` flattened to `[N, d]`.
pub fn flatten_records(x: &crate::engine::Tensor) -> Array2<f32> {
    let n = x.shape().first().copied().unwrap_or(0);
    let d = x.len().checked_div(n).unwrap_or(0);
    Array2::from_shape_vec((n, d), x.iter().copied().collect())
        .unwrap_or_else(|_| Array2::zeros((0, 0)))
}

/// Headline figures of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanSummary {
    pub tensors_scanned: usize,
    /// Tensors with at least one row equal (within tolerance) to a member.
    pub tensors_with_member_rows: usize,
    /// Distinct member records found in some tensor (any space).
    pub member_records_embedded: usize,
    /// Distinct non-member records found in some tensor (coincidence level).
    pub nonmember_records_matched: usize,
    /// Tensors flagged as looking like stored records.
    pub tensors_flagged: usize,
    pub metadata_findings: usize,
}

/// The `scan` section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub settings: ScanSettings,
    pub tolerance_rule: String,
    /// Scalars per record of the model input, when fixed.
    pub input_width: Option<usize>,
    /// Which record sets were supplied, with their row counts.
    pub records: serde_json::Value,
    pub summary: ScanSummary,
    pub tensors: Vec<TensorFinding>,
    pub metadata: Vec<MetadataFinding>,
    pub notes: Vec<String>,
}

impl ScanReport {
    /// Pretty JSON of the section.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Decode model bytes (no import, no operator checks).
pub fn decode(bytes: &[u8]) -> Result<ModelProto, ScanError> {
    if bytes.is_empty() {
        return Err(ScanError::Empty);
    }
    let m = ModelProto::decode(bytes).map_err(|e| ScanError::Decode(e.to_string()))?;
    if m.graph.is_none() {
        return Err(ScanError::NoGraph);
    }
    Ok(m)
}

/// Scan a model file: verbatim records in its tensors (matched against
/// `data` when given) and personal details in its metadata.
pub fn scan_model(
    bytes: &[u8],
    data: &ScanData,
    settings: &ScanSettings,
) -> Result<ScanReport, ScanError> {
    settings.validate()?;
    let model = decode(bytes)?;
    let (tensors, input_width, notes) = scan_tensors(&model, bytes, data, settings)?;
    let metadata = scan_metadata(&model);
    let distinct = |set: &str| {
        let mut all: Vec<usize> = tensors
            .iter()
            .flat_map(|t| t.matches.iter())
            .filter(|m| m.set == set)
            .flat_map(|m| m.record_indices.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    };
    let summary = ScanSummary {
        tensors_scanned: tensors.len(),
        tensors_with_member_rows: tensors
            .iter()
            .filter(|t| {
                t.matches
                    .iter()
                    .any(|m| m.set == "members" && m.rows_matched > 0)
            })
            .count(),
        member_records_embedded: distinct("members"),
        nonmember_records_matched: distinct("nonmembers"),
        tensors_flagged: tensors.iter().filter(|t| t.looks_like_records).count(),
        metadata_findings: metadata.len(),
    };
    let mut records = serde_json::Map::new();
    for (name, set) in data.sets() {
        records.insert(name.to_string(), set.nrows().into());
    }
    Ok(ScanReport {
        settings: settings.clone(),
        tolerance_rule: format!(
            "a row matches when every column has |t - r| <= {} + {} * max(|t|, |r|); exact = bit-equal",
            settings.atol, settings.rtol
        ),
        input_width,
        records: serde_json::Value::Object(records),
        summary,
        tensors,
        metadata,
        notes,
    })
}
