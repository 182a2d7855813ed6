//! Audits from predictions alone: the outputs of a model that never becomes
//! ONNX (XGBoost, LightGBM, a hosted API, an LLM classifier) stand in for
//! the model. The output-only attacks read them through
//! [`super::Outputs::Predictions`]; every other attack needs the model and is
//! skipped with the reason (see `audit::run_audit_from_predictions`).
//!
//! Contract (one validation for the CLI and the page, [`read_predictions`]
//! per file and [`PredictionInputs::new`] across files):
//! - A predictions file is a CSV in the format `privacy-inspector predict`
//!   writes: a header `class_0,...,class_{K-1}` (exactly these columns, in
//!   this order) plus the label column (`label` unless named otherwise; the
//!   true class index of the record), one row per record.
//! - Values are read as f32, the engine's precision: `predict`'s own output
//!   (the shortest text of each f32) reads back to the very values the
//!   model audit computes with, so both audits give the same figures.
//! - Declared **probabilities**: every value in [0, 1] (negative is an
//!   error; above 1 by more than [`SUM_TOLERANCE`] too) and, for K >= 2, each
//!   row sums to 1 within [`SUM_TOLERANCE`] (absolute, 1e-3: f32 outputs sum
//!   to 1 within about 1e-6; rounded ones, e.g. 4 decimals over a few dozen
//!   classes, stay within it). Values are then clamped to [0, 1] as for a
//!   model's output (`engine::proba`).
//! - Declared **logits**: any finite values (softmax over the row).
//! - A **single column** `class_0` is one binary score, as for a model
//!   output of one column (`engine::proba`): the probability of class 1
//!   (read as [1 - p, p]) or its logit (the pair [0, s]); two classes.
//! - NaN or infinite values, non-numeric cells, ragged rows are CSV errors;
//!   every error names the file, the data row (1-based, the header is not
//!   counted, as the CSV reader does), the column and the value.
//! - Across files: the same K; every label a class (0 to K - 1, or 0 to 1
//!   for one column).
//! - Each file's SHA-256 is recorded (there is no model file to hash).

use super::signals::{classes_of_width, ModelOutput, Source};
use super::{AttackError, Set};
use crate::data::{read_csv, CsvOptions, DataError};
use crate::engine::proba::{as_matrix, probabilities};
use crate::engine::OutputKind;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Absolute tolerance on the row sum of declared probabilities (and on a
/// value above 1).
pub const SUM_TOLERANCE: f64 = 1e-3;

/// Errors of a predictions file; each names the file.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PredictionError {
    /// The CSV itself (row, column and value in the message).
    #[error("{}: {error}", crate::text::Shown(file))]
    Data { file: String, error: DataError },
    /// Values, header or labels that are not predictions of this audit.
    #[error("{}: {message}", crate::text::Shown(file))]
    Invalid { file: String, message: String },
}

impl PredictionError {
    pub fn code(&self) -> &'static str {
        match self {
            PredictionError::Data { error, .. } => error.code(),
            PredictionError::Invalid { .. } => "bad_predictions",
        }
    }
}

/// One predictions file: the outputs and labels of its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The file's name (for messages and the report).
    pub file: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// [N, K] as written (K may be 1: one binary score).
    pub values: Array2<f32>,
    pub labels: Vec<usize>,
}

impl Predictions {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

fn kind_name(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Probabilities => "probabilities",
        OutputKind::Logits => "logits",
    }
}

/// Read and check one predictions file (see the module contract). `opts`
/// gives the CSV limits and the label column (default `label`; a label
/// column is always required).
pub fn read_predictions(
    bytes: &[u8],
    file: &str,
    kind: OutputKind,
    opts: &CsvOptions,
) -> Result<Predictions, PredictionError> {
    let invalid = |message: String| PredictionError::Invalid {
        file: file.to_string(),
        message,
    };
    let opts = CsvOptions {
        label_column: Some(
            opts.label_column
                .clone()
                .unwrap_or_else(|| "label".to_string()),
        ),
        require_label: true,
        ..opts.clone()
    };
    let ds = read_csv(bytes, &opts).map_err(|error| PredictionError::Data {
        file: file.to_string(),
        error,
    })?;
    let k = ds.feature_names.len();
    if let Some((j, name)) = ds
        .feature_names
        .iter()
        .enumerate()
        .find(|(j, name)| **name != format!("class_{j}"))
    {
        return Err(invalid(format!(
            "column {} is '{name}', expected 'class_{j}': a predictions file has the columns class_0, ..., class_{} (as `predict` writes them) and the label column '{}'",
            j + 1,
            k.saturating_sub(1),
            crate::text::Shown(opts.label_column.as_deref().unwrap_or("label")),
            name = crate::text::Shown(name)
        )));
    }
    let labels = ds.labels.clone().unwrap_or_default();
    if kind == OutputKind::Probabilities {
        let hint = "if the file holds logits, declare them as logits (--output-kind logits)";
        for (i, row) in ds.features.outer_iter().enumerate() {
            let r = i + 1;
            for (j, &v) in row.iter().enumerate() {
                if v < 0.0 {
                    return Err(invalid(format!(
                        "row {r}, column 'class_{j}': {v} is negative, not a probability; {hint}"
                    )));
                }
                if v as f64 > 1.0 + SUM_TOLERANCE {
                    return Err(invalid(format!(
                        "row {r}, column 'class_{j}': {v} is above 1, not a probability; {hint}"
                    )));
                }
            }
            if k >= 2 {
                let sum: f64 = row.iter().map(|&v| v as f64).sum();
                if (sum - 1.0).abs() > SUM_TOLERANCE {
                    return Err(invalid(format!(
                        "row {r}: the probabilities sum to {sum}, not 1 (tolerance {SUM_TOLERANCE}); {hint}"
                    )));
                }
            }
        }
    }
    let sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Predictions {
        file: file.to_string(),
        sha256,
        values: ds.features,
        labels,
    })
}

/// The predictions of an audit: members, non-members, optional population,
/// all of one kind and one class count.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionInputs {
    pub kind: OutputKind,
    pub members: Predictions,
    pub nonmembers: Predictions,
    pub population: Option<Predictions>,
}

impl PredictionInputs {
    /// Check the files against each other: the same number of class
    /// columns, every label a class.
    pub fn new(
        kind: OutputKind,
        members: Predictions,
        nonmembers: Predictions,
        population: Option<Predictions>,
    ) -> Result<PredictionInputs, PredictionError> {
        let p = PredictionInputs {
            kind,
            members,
            nonmembers,
            population,
        };
        let cols = p.members.values.ncols();
        let k = classes_of_width(cols);
        for set in [Set::Members, Set::Nonmembers, Set::Population] {
            let Some(f) = p.set(set) else { continue };
            let invalid = |message: String| PredictionError::Invalid {
                file: f.file.clone(),
                message,
            };
            if f.values.ncols() != cols {
                return Err(invalid(format!(
                    "{} class columns, but the members' predictions ({}) have {cols}: every file must hold the same model's outputs",
                    f.values.ncols(),
                    p.members.file
                )));
            }
            if let Some((i, &y)) = f.labels.iter().enumerate().find(|(_, &y)| y >= k) {
                return Err(invalid(format!(
                    "row {}: label {y} is outside the {k} classes of the predictions (0 to {})",
                    i + 1,
                    k - 1
                )));
            }
        }
        Ok(p)
    }

    /// The predictions of a set (`None`: no population).
    pub fn set(&self, set: Set) -> Option<&Predictions> {
        match set {
            Set::Members => Some(&self.members),
            Set::Nonmembers => Some(&self.nonmembers),
            Set::Population => self.population.as_ref(),
        }
    }

    /// Number of classes (one column counts as two).
    pub fn num_classes(&self) -> usize {
        classes_of_width(self.members.values.ncols())
    }

    /// The declared kind's name ("probabilities" / "logits").
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }

    /// Outputs in the form signals are computed from: logits as written, or
    /// probabilities through `engine::proba` (clamped; one column becomes
    /// [1 - p, p]), as a model's output would be.
    pub fn signal_output(&self, p: &Predictions) -> ModelOutput {
        let t = p.values.clone().into_dyn();
        match self.kind {
            OutputKind::Logits => ModelOutput {
                source: Source::Logits,
                values: as_matrix(&t)
                    .map(|m| m.mapv(|v| v as f64))
                    .unwrap_or_else(|_| p.values.mapv(|v| v as f64)),
            },
            OutputKind::Probabilities => ModelOutput {
                source: Source::Probabilities,
                values: probabilities(&t, OutputKind::Probabilities)
                    .map(|m| m.mapv(|v| v as f64))
                    .unwrap_or_else(|_| p.values.mapv(|v| v as f64)),
            },
        }
    }

    /// Class probabilities [N, K >= 2] (`engine::proba`: softmax of logits).
    pub fn probabilities(&self, p: &Predictions) -> Result<Array2<f64>, AttackError> {
        Ok(probabilities(&p.values.clone().into_dyn(), self.kind)?.mapv(|v| v as f64))
    }
}

/// One predictions file as the report records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PredictionFile {
    /// "members", "nonmembers" or "population".
    pub role: String,
    pub file: String,
    pub sha256: String,
    pub rows: usize,
}

/// The report section of an audit from predictions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PredictionsInfo {
    /// What this audit is: always "audit from predictions (no model)".
    pub source: String,
    pub output_kind: OutputKind,
    pub num_classes: usize,
    pub sum_tolerance: f64,
    pub files: Vec<PredictionFile>,
    /// Parts of a model audit that need the model file, with the reason.
    pub not_run: Vec<NotRun>,
}

/// A report section that did not run, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotRun {
    pub section: String,
    pub reason: String,
}

/// What every audit from predictions says it is.
pub const SOURCE: &str = "audit from predictions (no model)";

impl PredictionsInfo {
    pub fn of(p: &PredictionInputs) -> PredictionsInfo {
        let mut files = Vec::new();
        for (role, set) in [
            ("members", Set::Members),
            ("nonmembers", Set::Nonmembers),
            ("population", Set::Population),
        ] {
            if let Some(f) = p.set(set) {
                files.push(PredictionFile {
                    role: role.into(),
                    file: f.file.clone(),
                    sha256: f.sha256.clone(),
                    rows: f.len(),
                });
            }
        }
        let nr = |section: &str, reason: &str| NotRun {
            section: section.into(),
            reason: reason.into(),
        };
        PredictionsInfo {
            source: SOURCE.into(),
            output_kind: p.kind,
            num_classes: p.num_classes(),
            sum_tolerance: SUM_TOLERANCE,
            files,
            not_run: vec![
                nr(
                    "scan",
                    "the model-file scan reads the model file: an audit from predictions has none",
                ),
                nr(
                    "inversion",
                    "model inversion queries the model (and its gradients) on inputs it chooses: needs the model",
                ),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, kind: OutputKind) -> Result<Predictions, PredictionError> {
        read_predictions(text.as_bytes(), "p.csv", kind, &CsvOptions::default())
    }

    #[test]
    fn reads_predict_output_with_labels() {
        let p = read(
            "class_0,class_1,label\n0.25,0.75,1\n1,0,0\n",
            OutputKind::Probabilities,
        )
        .unwrap();
        assert_eq!(p.labels, vec![1, 0]);
        assert_eq!(p.values.shape(), &[2, 2]);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn bad_probabilities_name_file_row_and_value() {
        let e = read(
            "class_0,class_1,label\n0.5,0.5,0\n-0.25,1.25,1\n",
            OutputKind::Probabilities,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.csv: row 2, column 'class_0': -0.25 is negative"),
            "{e}"
        );
        let e = read(
            "class_0,class_1,label\n0.5,0.4,0\n",
            OutputKind::Probabilities,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.csv: row 1: the probabilities sum to 0.9"),
            "{e}"
        );
        // the same numbers are fine as logits
        assert!(read("class_0,class_1,label\n-0.25,1.25,1\n", OutputKind::Logits).is_ok());
        let e = read("class_0,klass_1,label\n0.5,0.5,0\n", OutputKind::Logits)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column 2 is 'klass_1', expected 'class_1'"),
            "{e}"
        );
    }

    #[test]
    fn files_must_agree_and_labels_be_classes() {
        let m = read(
            "class_0,class_1,label\n0.5,0.5,0\n",
            OutputKind::Probabilities,
        )
        .unwrap();
        let mut n = read(
            "class_0,class_1,class_2,label\n0.5,0.25,0.25,0\n",
            OutputKind::Probabilities,
        )
        .unwrap();
        n.file = "n.csv".into();
        let e = PredictionInputs::new(OutputKind::Probabilities, m.clone(), n, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.csv: 3 class columns"), "{e}");
        let n = read(
            "class_0,class_1,label\n0.5,0.5,2\n",
            OutputKind::Probabilities,
        )
        .unwrap();
        let e = PredictionInputs::new(OutputKind::Probabilities, m, n, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1: label 2 is outside the 2 classes"), "{e}");
    }

    #[test]
    fn one_column_is_a_binary_score() {
        let m = read("class_0,label\n0.25,1\n", OutputKind::Probabilities).unwrap();
        let n = read("class_0,label\n0.75,0\n", OutputKind::Probabilities).unwrap();
        let p = PredictionInputs::new(OutputKind::Probabilities, m, n, None).unwrap();
        assert_eq!(p.num_classes(), 2);
        let o = p.signal_output(&p.members);
        assert_eq!(o.values.row(0).to_vec(), vec![0.75, 0.25]);
        let e = read("class_0,label\n1.5,1\n", OutputKind::Probabilities).unwrap_err();
        assert!(e.to_string().contains("1.5 is above 1"), "{e}");
    }
}
