//! The model summary shown by `privacy-inspector inspect` and by the page:
//! input shape (symbolic batch), chosen output and whether it holds
//! probabilities or logits, number of classes, operator histogram and
//! parameter counts. One serde type serves the CLI's `--json` and the wasm
//! boundary (camelCase). Text from the file (producer, input, output and
//! operator names, dimension names) is display text: escaped and cut by
//! [`crate::text::Shown`], so the CLI and the page show it safely.

use crate::engine::{Dim, OutputKind, Tensor};
use crate::onnx::Model;
use crate::text::shown;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpCount {
    pub op: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InputSummary {
    pub name: String,
    /// e.g. ["N", "1", "8", "8"]; symbolic dims by name.
    pub shape: Vec<String>,
    /// Scalars per record (when fixed): the number of CSV feature columns.
    pub features: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutputSummary {
    pub name: String,
    pub kind: OutputKind,
    /// "detected" or "override".
    pub kind_source: String,
    pub num_classes: Option<usize>,
    pub declared: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub tool_version: String,
    pub sha256: String,
    pub file_size: usize,
    pub producer: String,
    pub ir_version: i64,
    pub opset: i64,
    pub input: InputSummary,
    pub output: OutputSummary,
    pub operators: Vec<OpCount>,
    pub param_count: usize,
    pub trainable_param_count: usize,
    /// Whether fresh reference copies can be trained, and if not, why.
    pub trainable: bool,
    pub trainable_reason: Option<String>,
}

/// Number of classes: the size of the output's last dimension on a one-record
/// batch of zeros (None when the input shape is not fully fixed or the run
/// fails).
pub fn num_classes(model: &Model) -> Option<usize> {
    let rec = model.graph.input.record_shape()?;
    let mut shape = vec![1];
    shape.extend(rec);
    let x = Tensor::zeros(ndarray::IxDyn(&shape));
    let y = model.graph.forward(&model.params, &x).ok()?;
    let n = *y.shape().last()?;
    // a single-column output is a binary model emitting one score
    Some(if n == 1 { 2 } else { n })
}

/// Summarise a model. `kind_override` replaces the detected output kind.
pub fn summarize(model: &Model, kind_override: Option<OutputKind>) -> ModelSummary {
    let g = &model.graph;
    let shape = g
        .input
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => shown(s),
        })
        .collect();
    let trainable_params = g.trainable_param_count(&model.params);
    let (trainable, trainable_reason) = match crate::engine::train::check_trainable(g) {
        Ok(()) => (true, None),
        Err(e) => (false, Some(e.to_string())),
    };
    ModelSummary {
        tool_version: crate::VERSION.to_string(),
        sha256: model.sha256.clone(),
        file_size: model.file_size,
        producer: shown(format!("{} {}", model.producer_name, model.producer_version).trim()),
        ir_version: model.ir_version,
        opset: g.opset,
        input: InputSummary {
            name: shown(&g.input.name),
            shape,
            features: g.input.record_len(),
        },
        output: OutputSummary {
            name: shown(&g.output_name),
            kind: kind_override.unwrap_or(g.output_kind),
            kind_source: if kind_override.is_some() {
                "override"
            } else {
                "detected"
            }
            .to_string(),
            num_classes: num_classes(model),
            declared: model.declared_outputs.iter().map(|o| shown(o)).collect(),
        },
        operators: g
            .source_ops
            .iter()
            .map(|(op, count)| OpCount {
                op: shown(op),
                count: *count,
            })
            .collect(),
        param_count: g.param_count(&model.params),
        trainable_param_count: trainable_params,
        trainable,
        trainable_reason,
    }
}
