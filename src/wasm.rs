//! THE JS boundary: the only module that imports `wasm_bindgen`, `js_sys` or
//! `web_sys` (a check in `scripts/test.sh` enforces it).
//!
//! Contract:
//! - [`ModelHandle`] owns one loaded model (built from the file bytes with
//!   [`crate::onnx::load_with`]); [`DatasetHandle`] owns one parsed CSV
//!   ([`crate::data::read_csv`]). Both stay inside wasm memory; JS holds the
//!   handles and frees them with `.free()`.
//! - Bulk numbers cross as typed arrays (`Float32Array`, `Uint32Array`),
//!   never JSON. Summaries and small records cross as camelCase serde DTOs
//!   (through `serde-wasm-bindgen`, JSON-compatible: `None` becomes `null`).
//! - Every failure is thrown as a JS `Error` whose `message` is the Rust
//!   error's Display text and whose `code` property is the stable code from
//!   `OnnxError::code()`, `DataError::code()`, `EngineError::code()` or
//!   `PrivacyError::code()` (`bad_argument` for misuse of this API from JS).
//! - `predict*` return class probabilities, row-major `[rows, classes]`,
//!   with the one convention of [`crate::engine::proba`] (softmax for
//!   logits; a single binary score `p` becomes the columns `[1 - p, p]`),
//!   checked as the CLI's `predict` checks them
//!   (`proba::checked_probabilities`: NaN, or "probabilities" outside
//!   [0, 1], are a `bad_output` error, never clamped).
//! - Every rule the page applies is asked here, never copied into JS: the
//!   attack catalogue and presets, setting ranges and checks, the training
//!   plan (DP-SGD schedule, accountant), automatic bins, the membership
//!   split, limits parsing, an audit CSV's check against the model, report
//!   file names.
//! - A Rust panic is a bug: the panic hook installed at start logs it to the
//!   console, and the JS side discards the instance (the worker respawns).
//! - Resource limits ([`crate::limits::Limits`]): each instance holds one
//!   set, the defaults until [`set_limits`] replaces it (the JSON of the
//!   CLI's `--limits FILE.json`, every field optional, unknown fields
//!   refused with `bad_limits`). Every later call uses them: model loading
//!   (`import_options`), CSV parsing (`csv_options`), the model-file scan
//!   (`max_model_bytes`, `max_tensor_elements`) and the audit's
//!   `max_reference_params` (unless its settings object sets that field).
//!   A value already loaded keeps the limits it was loaded under. The set
//!   lives in this module only (a `thread_local`); the core stays pure and
//!   takes limits as arguments. Reports record non-default limits.
#![deny(clippy::unwrap_used)]

use crate::data::{read_csv, CsvOptions, DataError, Dataset};
use crate::engine::train::{init_params, train, TrainConfig};
use crate::engine::{EngineError, OutputKind, Tensor};
use crate::limits::Limits;
use crate::onnx::{load_with, ImportOptions, Model, OnnxError};
use js_sys::{Float32Array, Reflect, Uint32Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The resource limits of this instance's later calls ([`set_limits`]).
    static LIMITS: std::cell::Cell<Limits> = std::cell::Cell::new(Limits::default());
    /// The message of the last panic, for the page's diagnostic (the
    /// instance traps right after; this export stays readable).
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Installs the panic hook when the module is instantiated: the panic goes
/// to the console (with its location) and is kept for [`last_panic`].
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let text = info.to_string();
        LAST_PANIC.with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                *p = text;
            }
        });
    }));
}

/// The message and location of the last panic in this instance ("" if none).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> String {
    LAST_PANIC.with(|p| p.try_borrow().map(|s| s.clone()).unwrap_or_default())
}

/// Test hook (the page calls it only when opened with `?test-hooks`): a
/// deliberate panic, to prove that a crash of the engine loses nothing.
#[wasm_bindgen(js_name = testPanic)]
pub fn test_panic(what: &str) {
    panic!("test panic requested in {what}");
}

/// The tool version (the crate version).
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

/// The resource limits of this instance's calls (the defaults until
/// [`set_limits`]).
fn current_limits() -> Limits {
    LIMITS.with(|l| l.get())
}

/// The limits as pretty JSON text (every field, by its `Limits` name).
fn limits_json(limits: &Limits) -> Result<String, JsValue> {
    serde_json::to_string_pretty(limits).map_err(|e| js_error("internal", &e.to_string()))
}

/// `limits` from JSON text: [`Limits::from_json`], the CLI's parser.
fn parse_limits(json: &str) -> Result<Limits, JsValue> {
    Limits::from_json(json).map_err(|e| e.to_js())
}

/// Set the resource limits of this instance's later calls: `json` is the
/// JSON of the CLI's `--limits FILE.json` (README "Limits"); fields left out
/// take their defaults, so `"{}"` restores every default. Returns the
/// limits now in force as pretty JSON text (every field). Throws
/// `bad_limits` naming the problem, and then keeps the limits in force.
/// Models and CSVs already loaded keep the limits they were loaded under.
#[wasm_bindgen(js_name = setLimits)]
pub fn set_limits(json: &str) -> Result<String, JsValue> {
    let limits = parse_limits(json)?;
    LIMITS.with(|l| l.set(limits));
    limits_json(&limits)
}

/// The limits now in force in this instance, as pretty JSON text.
#[wasm_bindgen(js_name = currentLimits)]
pub fn current_limits_json() -> Result<String, JsValue> {
    limits_json(&current_limits())
}

/// The default limits as pretty JSON text (every field), for the page to
/// show and let the user edit.
#[wasm_bindgen(js_name = limitsDefaults)]
pub fn limits_defaults() -> Result<String, JsValue> {
    limits_json(&Limits::default())
}

/// A JS `Error` carrying a stable `code` property.
fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("InspectorError");
    // Setting a property on a fresh Error object cannot fail; if it somehow
    // did, the message still carries the meaning.
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// Errors of the core that cross the boundary with their stable code.
trait Coded: std::fmt::Display {
    fn code(&self) -> &'static str;
    fn to_js(&self) -> JsValue {
        js_error(self.code(), &self.to_string())
    }
}

impl Coded for OnnxError {
    fn code(&self) -> &'static str {
        OnnxError::code(self)
    }
}

impl Coded for DataError {
    fn code(&self) -> &'static str {
        DataError::code(self)
    }
}

impl Coded for EngineError {
    fn code(&self) -> &'static str {
        EngineError::code(self)
    }
}

impl Coded for crate::privacy::PrivacyError {
    fn code(&self) -> &'static str {
        crate::privacy::PrivacyError::code(self)
    }
}

impl Coded for crate::limits::BadLimits {
    fn code(&self) -> &'static str {
        crate::limits::BadLimits::code(self)
    }
}

impl Coded for crate::limits::LimitExceeded {
    fn code(&self) -> &'static str {
        crate::limits::LimitExceeded::code(self)
    }
}

fn bad_argument(message: &str) -> JsValue {
    js_error("bad_argument", message)
}

/// Serialize a DTO as a plain JS object (JSON-compatible).
fn to_js_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", &format!("could not convert to JS: {e}")))
}

fn parse_kind(kind: &str) -> Result<OutputKind, JsValue> {
    match kind {
        "probabilities" => Ok(OutputKind::Probabilities),
        "logits" => Ok(OutputKind::Logits),
        other => Err(bad_argument(&format!(
            "output kind '{other}' is not one of 'probabilities', 'logits'"
        ))),
    }
}

/// One loaded model.
#[wasm_bindgen]
pub struct ModelHandle {
    model: Model,
    /// The file, for the model-file scan that joins every audit report.
    bytes: Vec<u8>,
    kind_override: Option<OutputKind>,
    num_classes: Option<usize>,
}

/// Load a model from its file bytes, within this instance's limits
/// ([`set_limits`]). `output` names the output to use instead of the
/// detected probability/logit output.
#[wasm_bindgen(js_name = loadModel)]
pub fn load_model(bytes: &[u8], output: Option<String>) -> Result<ModelHandle, JsValue> {
    let opts = ImportOptions {
        output,
        ..current_limits().import_options()
    };
    let model = load_with(bytes, &opts).map_err(|e| e.to_js())?;
    let num_classes = crate::summary::num_classes(&model);
    Ok(ModelHandle {
        model,
        bytes: bytes.to_vec(),
        kind_override: None,
        num_classes,
    })
}

#[wasm_bindgen]
impl ModelHandle {
    /// Same as [`load_model`] with the detected output.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<ModelHandle, JsValue> {
        load_model(bytes, None)
    }

    /// The model summary (`crate::summary::ModelSummary`, camelCase).
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        to_js_value(&crate::summary::summarize(&self.model, self.kind_override))
    }

    /// Override the detected output kind: "probabilities" or "logits";
    /// `undefined`/`null` returns to the detected kind.
    #[wasm_bindgen(js_name = setOutputKind)]
    pub fn set_output_kind(&mut self, kind: Option<String>) -> Result<(), JsValue> {
        self.kind_override = kind.as_deref().map(parse_kind).transpose()?;
        Ok(())
    }

    /// "probabilities" or "logits" (after any override).
    #[wasm_bindgen(getter, js_name = outputKind)]
    pub fn output_kind(&self) -> String {
        match self.kind() {
            OutputKind::Probabilities => "probabilities",
            OutputKind::Logits => "logits",
        }
        .to_string()
    }

    /// Number of classes, when the input shape is fixed.
    #[wasm_bindgen(getter, js_name = numClasses)]
    pub fn num_classes(&self) -> Option<u32> {
        self.num_classes.and_then(|n| u32::try_from(n).ok())
    }

    /// Scalars per record (the number of CSV feature columns), when fixed.
    #[wasm_bindgen(getter, js_name = recordLen)]
    pub fn record_len(&self) -> Option<u32> {
        self.model
            .graph
            .input
            .record_len()
            .and_then(|n| u32::try_from(n).ok())
    }

    /// Hex SHA-256 of the model file.
    #[wasm_bindgen(getter)]
    pub fn sha256(&self) -> String {
        self.model.sha256.clone()
    }

    /// Class probabilities for `rows` records given row-major in `data`
    /// (`rows * recordLen` values), as a `Float32Array` of `rows * classes`.
    pub fn predict(&self, data: &[f32], rows: usize) -> Result<Float32Array, JsValue> {
        let x = self.batch(data, rows)?;
        self.run(&x, rows, 0)
    }

    /// The raw output of the chosen model output (no softmax), row-major,
    /// for comparing with other runtimes.
    #[wasm_bindgen(js_name = forwardRaw)]
    pub fn forward_raw(&self, data: &[f32], rows: usize) -> Result<Float32Array, JsValue> {
        let x = self.batch(data, rows)?;
        let y = self
            .model
            .graph
            .forward(&self.model.params, &x)
            .map_err(|e| e.to_js())?;
        let y = y.as_standard_layout();
        Ok(match y.as_slice() {
            Some(s) => Float32Array::from(s),
            None => Float32Array::from(y.iter().copied().collect::<Vec<f32>>().as_slice()),
        })
    }

    /// Class probabilities for rows `start..end` of a parsed CSV (features
    /// reshaped to the model input), as a `Float32Array` of
    /// `(end - start) * classes`.
    #[wasm_bindgen(js_name = predictDataset)]
    pub fn predict_dataset(
        &self,
        dataset: &DatasetHandle,
        start: usize,
        end: usize,
    ) -> Result<Float32Array, JsValue> {
        let n = dataset.data.len();
        if start > end || end > n {
            return Err(bad_argument(&format!(
                "row range {start}..{end} is outside the dataset's {n} rows"
            )));
        }
        let slice = Dataset {
            feature_names: dataset.data.feature_names.clone(),
            features: dataset
                .data
                .features
                .slice(ndarray::s![start..end, ..])
                .to_owned(),
            labels: None,
            label_column: None,
        };
        let x = slice
            .to_batch(&self.model.graph.input)
            .map_err(|e| e.to_js())?;
        self.run(&x, end - start, start)
    }
}

#[wasm_bindgen]
impl ModelHandle {
    /// A deterministic synthetic workload for this model (the same data the
    /// native `bench` binary uses, `crate::engine::bench_data`):
    /// `{ data: Float32Array, labels: Uint32Array }` with `rows` records.
    #[wasm_bindgen(js_name = syntheticBatch)]
    pub fn synthetic_batch(&self, rows: usize, seed: u64) -> Result<JsValue, JsValue> {
        let classes = self.num_classes.unwrap_or(2);
        let (x, y) =
            crate::engine::bench_data::synthetic_batch(&self.model.graph, rows, classes, seed)
                .map_err(|e| e.to_js())?;
        let out = js_sys::Object::new();
        let data = Float32Array::from(
            x.as_standard_layout()
                .iter()
                .copied()
                .collect::<Vec<f32>>()
                .as_slice(),
        );
        let labels: Vec<u32> = y
            .iter()
            .map(|&v| u32::try_from(v).unwrap_or(u32::MAX))
            .collect();
        let _ = Reflect::set(&out, &JsValue::from_str("data"), &data);
        let _ = Reflect::set(
            &out,
            &JsValue::from_str("labels"),
            &Uint32Array::from(labels.as_slice()),
        );
        Ok(out.into())
    }

    /// Train a freshly initialised copy of this model's graph on `rows`
    /// records (`data` row-major, `labels` class indices) with `config` (a
    /// camelCase `TrainConfig`; missing fields take the defaults) and
    /// `initSeed`; returns the `TrainReport`. The model's own weights are
    /// not changed. DP-SGD: `config.dp = { clipNorm, noiseMultiplier,
    /// delta }` (each optional: 1, 1, 1e-5); the report's `dp` then holds
    /// `{ clipNorm, noiseMultiplier, sampleRate, expectedBatchSize, steps,
    /// delta, epsilon, clipped, recordsSeen }` (`epsilon` null when sigma = 0).
    #[wasm_bindgen(js_name = trainCopy)]
    pub fn train_copy(
        &self,
        data: &[f32],
        labels: &[u32],
        rows: usize,
        config: JsValue,
        init_seed: u64,
    ) -> Result<JsValue, JsValue> {
        let cfg: TrainConfig = if config.is_undefined() || config.is_null() {
            TrainConfig::default()
        } else {
            serde_wasm_bindgen::from_value(config)
                .map_err(|e| bad_argument(&format!("training settings: {e}")))?
        };
        if labels.len() != rows {
            return Err(bad_argument(&format!(
                "got {} labels for {rows} rows",
                labels.len()
            )));
        }
        let x = self.batch(data, rows)?;
        let y: Vec<usize> = labels.iter().map(|&v| v as usize).collect();
        let mut params = init_params(&self.model.graph, &self.model.params, init_seed);
        let report = train(&self.model.graph, &mut params, &x, &y, &cfg, &mut |_| true)
            .map_err(|e| e.to_js())?;
        to_js_value(&report)
    }
}

/// What a training run will spend, before it runs
/// (`engine::train::plan`): `config` (a `TrainConfig` object, camelCase,
/// every field optional) checked as training checks it, on `records`
/// records; returns `{ schedule: { records, sampleRate, stepsPerEpoch,
/// steps }, dp }`, `dp` the accountant's `{ epsilon, order, ... }` after
/// every epoch (null without DP-SGD). Throws `bad_config` naming the field.
#[wasm_bindgen(js_name = trainPlan)]
pub fn train_plan(config: JsValue, records: usize) -> Result<JsValue, JsValue> {
    let cfg: TrainConfig = serde_wasm_bindgen::from_value(config)
        .map_err(|e| bad_argument(&format!("training settings: {e}")))?;
    let plan = crate::engine::train::plan(&cfg, records).map_err(|e| e.to_js())?;
    to_js_value(&plan)
}

/// The attack catalogue and the presets (`attacks::membership::audit`
/// `CATALOGUE`, `PRESETS`): `{ attacks: [{ id, title, labelOnly,
/// needsReferences, needsPopulation, quick }], presets: [{ id, title, attacks,
/// references, followUp }] }`.
#[wasm_bindgen(js_name = auditCatalogue)]
pub fn audit_catalogue() -> Result<JsValue, JsValue> {
    use crate::attacks::membership::audit::{CATALOGUE, PRESETS};
    #[derive(Serialize)]
    struct Catalogue {
        attacks: &'static [crate::attacks::membership::audit::AttackInfo],
        presets: &'static [crate::attacks::membership::audit::Preset],
    }
    to_js_value(&Catalogue {
        attacks: &CATALOGUE,
        presets: &PRESETS,
    })
}

/// Check `settings` (an `AuditSettings` object, snake_case) and `guidance`
/// (`GuidanceOptions`, optional) as an audit checks them
/// (`AuditSettings::validate`: attack ids, every declared range, seed,
/// delta, recipe; `GuidanceOptions::validate`); throws the audit's error,
/// returns nothing.
#[wasm_bindgen(js_name = checkAuditSettings)]
pub fn check_audit_settings(settings: JsValue, guidance: JsValue) -> Result<(), JsValue> {
    audit_settings(settings)?;
    guidance_options(guidance).map(|_| ())
}

/// Split the CSV `bytes` on its 0/1 column `column` into a members and a
/// non-members CSV (`data::split_by_membership`, within this instance's CSV
/// limits): `{ members, nonmembers, memberRows, nonmemberRows }`, the parts
/// as CSV text.
#[wasm_bindgen(js_name = splitByMembership)]
pub fn split_by_membership(bytes: &[u8], column: &str) -> Result<JsValue, JsValue> {
    let split = crate::data::split_by_membership(bytes, column, &current_limits().csv_options())
        .map_err(|e| e.to_js())?;
    to_js_value(&split)
}

/// The smallest noise multiplier whose epsilon after `steps` steps at
/// sampling rate `q` and `delta` is at most `targetEpsilon`. Returns
/// `{ noiseMultiplier, epsilon, targetEpsilon, sampleRate, steps, delta }`;
/// throws `privacy_target_unreachable` when no sigma up to 1e6 reaches it.
#[wasm_bindgen(js_name = noiseMultiplierFor)]
pub fn noise_multiplier_for(
    target_epsilon: f64,
    q: f64,
    steps: u32,
    delta: f64,
) -> Result<JsValue, JsValue> {
    let s = crate::privacy::accountant::noise_multiplier_for(
        target_epsilon,
        q,
        u64::from(steps),
        delta,
    )
    .map_err(|e| e.to_js())?;
    to_js_value(&s)
}

impl ModelHandle {
    /// `data` (row-major, `rows` records) as a batch in the model's input shape.
    fn batch(&self, data: &[f32], rows: usize) -> Result<Tensor, JsValue> {
        let input = &self.model.graph.input;
        let Some(record) = input.record_shape() else {
            return Err(js_error(
                "input_shape",
                &format!(
                    "the model input '{}' has symbolic dimensions beyond the batch; a fixed record shape is needed",
                    input.name
                ),
            ));
        };
        let per_row: usize = record.iter().product();
        if data.len() != rows.saturating_mul(per_row) {
            return Err(js_error(
                "input_shape",
                &format!(
                    "got {} values for {rows} rows; the model expects {per_row} values per row ({} in all)",
                    data.len(),
                    rows.saturating_mul(per_row)
                ),
            ));
        }
        let mut shape = vec![rows];
        shape.extend(record);
        Tensor::from_shape_vec(ndarray::IxDyn(&shape), data.to_vec())
            .map_err(|e| bad_argument(&format!("cannot shape the input: {e}")))
    }

    fn kind(&self) -> OutputKind {
        self.kind_override.unwrap_or(self.model.graph.output_kind)
    }

    /// Class probabilities of `rows` records (`offset` records before them,
    /// for messages), checked as the CLI's `predict` checks them
    /// (`proba::checked_probabilities`: NaN, or "probabilities" outside
    /// [0, 1], are refused, not clamped).
    fn run(&self, x: &Tensor, rows: usize, offset: usize) -> Result<Float32Array, JsValue> {
        if rows == 0 {
            return Ok(Float32Array::new_with_length(0));
        }
        let y = self
            .model
            .graph
            .forward(&self.model.params, x)
            .map_err(|e| e.to_js())?;
        let probs = crate::engine::proba::checked_probabilities(&y, rows, self.kind(), offset)
            .map_err(|e| e.to_js())?;
        Ok(match probs.as_slice() {
            Some(s) => Float32Array::from(s),
            None => Float32Array::from(probs.iter().copied().collect::<Vec<f32>>().as_slice()),
        })
    }
}

/// One parsed CSV file.
#[wasm_bindgen]
pub struct DatasetHandle {
    data: Dataset,
}

/// Parse CSV bytes (header row, numeric features, optional label column;
/// `labelColumn` defaults to `label` when present), within this instance's
/// CSV limits ([`set_limits`]).
#[wasm_bindgen(js_name = parseCsv)]
pub fn parse_csv(bytes: &[u8], label_column: Option<String>) -> Result<DatasetHandle, JsValue> {
    let opts = CsvOptions {
        require_label: label_column.is_some(),
        label_column,
        ..current_limits().csv_options()
    };
    let data = read_csv(bytes, &opts).map_err(|e| e.to_js())?;
    Ok(DatasetHandle { data })
}

/// A CSV parsed as its bytes arrive (`data::CsvPushParser`): the page
/// streams a `File` into it chunk by chunk, so the file's text is never held
/// whole, in JS or in wasm memory; only the parsed rows are kept.
#[wasm_bindgen]
pub struct CsvParser {
    inner: Option<crate::data::CsvPushParser>,
}

#[wasm_bindgen]
impl CsvParser {
    /// `labelColumn` as for [`parse_csv`]; `expectedBytes` the file size
    /// (reserves the rows' memory once). The instance's CSV limits when the
    /// parser is made apply to the whole file.
    #[wasm_bindgen(constructor)]
    pub fn new(label_column: Option<String>, expected_bytes: f64) -> CsvParser {
        let opts = CsvOptions {
            require_label: label_column.is_some(),
            label_column,
            ..current_limits().csv_options()
        };
        let expected = if expected_bytes.is_finite() && expected_bytes > 0.0 {
            expected_bytes as u64
        } else {
            0
        };
        CsvParser {
            inner: Some(crate::data::CsvPushParser::new(&opts, expected)),
        }
    }

    /// Append the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let p = self
            .inner
            .as_mut()
            .ok_or_else(|| bad_argument("this CSV parser has finished; start a new one"))?;
        p.push(bytes).map_err(|e| {
            // a failed parser takes no more bytes
            self.inner = None;
            e.to_js()
        })
    }

    /// Data rows parsed so far.
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.rows())
    }

    /// Parse the rest and return the dataset.
    pub fn finish(&mut self) -> Result<DatasetHandle, JsValue> {
        let p = self
            .inner
            .take()
            .ok_or_else(|| bad_argument("this CSV parser has finished; start a new one"))?;
        let data = p.finish().map_err(|e| e.to_js())?;
        Ok(DatasetHandle { data })
    }
}

#[wasm_bindgen]
impl DatasetHandle {
    /// An independent copy (the probes take their optional datasets by
    /// value; a copy keeps this one, without keeping the CSV bytes around).
    pub fn copy(&self) -> DatasetHandle {
        DatasetHandle {
            data: self.data.clone(),
        }
    }

    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.data.len()
    }

    /// Number of feature columns.
    #[wasm_bindgen(getter)]
    pub fn features(&self) -> usize {
        self.data.features.ncols()
    }

    #[wasm_bindgen(getter, js_name = featureNames)]
    pub fn feature_names(&self) -> Vec<String> {
        self.data.feature_names.clone()
    }

    /// The label column used, if any.
    #[wasm_bindgen(getter, js_name = labelColumn)]
    pub fn label_column(&self) -> Option<String> {
        self.data.label_column.clone()
    }

    /// Row-major features `[rows, features]`.
    pub fn data(&self) -> Float32Array {
        match self.data.features.as_slice() {
            Some(s) => Float32Array::from(s),
            None => {
                let v: Vec<f32> = self.data.features.iter().copied().collect();
                Float32Array::from(v.as_slice())
            }
        }
    }

    /// Class index per row, when the CSV has a label column.
    pub fn labels(&self) -> Option<Uint32Array> {
        self.data.labels.as_ref().map(|l| {
            let v: Vec<u32> = l
                .iter()
                .map(|&c| u32::try_from(c).unwrap_or(u32::MAX))
                .collect();
            Uint32Array::from(v.as_slice())
        })
    }
}

impl Coded for crate::attacks::membership::AttackError {
    fn code(&self) -> &'static str {
        crate::attacks::membership::AttackError::code(self)
    }
}

/// Lend the records of a parsed CSV to an audit: the features move into the
/// model's input shape (no copy) and the labels (required) move with them;
/// [`give_back`] returns both to the handle.
fn lend_records(
    model: &ModelHandle,
    ds: &mut DatasetHandle,
    role: &str,
) -> Result<crate::attacks::membership::Records, JsValue> {
    if ds.data.labels.is_none() {
        return Err(js_error(
            "csv_no_label_column",
            &format!(
                "{role} CSV has no label column; an audit needs the true class of every record"
            ),
        ));
    }
    let x = ds
        .data
        .take_batch(&model.model.graph.input)
        .map_err(|e| js_error(e.code(), &format!("{role} CSV: {e}")))?;
    let y = ds.data.labels.take().unwrap_or_default();
    Ok(crate::attacks::membership::Records { x, y })
}

/// Return lent records to their handle.
fn give_back(ds: &mut DatasetHandle, r: crate::attacks::membership::Records) {
    ds.data.give_back_batch(r.x);
    ds.data.labels = Some(r.y);
}

/// Reference models trained by other workers for the next `runAudit`, added
/// one by one as they arrive (`add`), each parsed at once: the page never
/// holds the whole set as text, here or in JS.
#[wasm_bindgen]
#[derive(Default)]
pub struct ReferenceSet {
    online: Vec<Option<crate::attacks::membership::references::TrainedReference>>,
    offline: Vec<Option<crate::attacks::membership::references::TrainedReference>>,
}

#[wasm_bindgen]
impl ReferenceSet {
    #[wasm_bindgen(constructor)]
    pub fn new() -> ReferenceSet {
        ReferenceSet::default()
    }

    /// Add the `trainReference` result `json` of model `index` of the
    /// `mode` ("online" / "offline") set; any order.
    pub fn add(&mut self, mode: &str, index: usize, json: &str) -> Result<(), JsValue> {
        let trained: crate::attacks::membership::references::TrainedReference =
            serde_json::from_str(json)
                .map_err(|e| bad_argument(&format!("reference model {index} ({mode}): {e}")))?;
        if trained.index != index {
            return Err(bad_argument(&format!(
                "reference model {index} ({mode}) holds model {}",
                trained.index
            )));
        }
        let list = match mode {
            "online" => &mut self.online,
            "offline" => &mut self.offline,
            _ => {
                return Err(bad_argument(&format!(
                    "reference mode must be 'online' or 'offline', got '{mode}'"
                )))
            }
        };
        if index > 1024 {
            return Err(bad_argument(&format!(
                "reference model index {index} is over 1024"
            )));
        }
        if list.len() <= index {
            list.resize(index + 1, None);
        }
        list[index] = Some(trained);
        Ok(())
    }

    /// Models added so far.
    #[wasm_bindgen(getter)]
    pub fn count(&self) -> usize {
        self.online.iter().chain(&self.offline).flatten().count()
    }
}

impl ReferenceSet {
    /// The sets for `run_audit_with`: a mode with no model stays `None`
    /// (the audit trains it); a set with a gap is an error.
    fn into_precomputed(
        self,
    ) -> Result<crate::attacks::membership::audit::PrecomputedReferences, JsValue> {
        let whole = |mode: &str, list: Vec<Option<_>>| -> Result<Option<Vec<_>>, JsValue> {
            if list.is_empty() {
                return Ok(None);
            }
            let k = list.len();
            list.into_iter()
                .enumerate()
                .map(|(i, t)| {
                    t.ok_or_else(|| {
                        bad_argument(&format!(
                            "reference model {i} of the {k} {mode} models is missing"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        Ok(crate::attacks::membership::audit::PrecomputedReferences {
            online: whole("online", self.online)?,
            offline: whole("offline", self.offline)?,
        })
    }
}

/// Run the membership audit (`attacks::membership::audit::run_audit`) in this
/// worker. `settings` is an `AuditSettings` object (snake_case, every field
/// optional), `names` an object of input file names recorded in the report,
/// `progress` a function called with `{stage, done, total}` that may return
/// `false` to cancel, `precomputed` the reference models other workers
/// trained (a [`ReferenceSet`], consumed). Returns `{ report, reportJson,
/// html, htmlStandalone }`: the report as JSON text (the format of the
/// CLI's `--report`) and parsed (seeds above 2^53 lose precision there),
/// its HTML fragment for the page and the standalone HTML document.
#[wasm_bindgen(js_name = runAudit)]
#[allow(clippy::too_many_arguments)]
pub fn run_audit(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    settings: JsValue,
    names: JsValue,
    progress: &js_sys::Function,
    precomputed: Option<ReferenceSet>,
    guidance: JsValue,
) -> Result<JsValue, JsValue> {
    use crate::attacks::membership::audit::run_audit_with;
    use crate::report::Report;
    let settings = audit_settings(settings)?;
    let names: serde_json::Value = if names.is_undefined() || names.is_null() {
        serde_json::Value::Null
    } else {
        serde_wasm_bindgen::from_value(names)
            .map_err(|e| bad_argument(&format!("input names: {e}")))?
    };
    let precomputed = match precomputed {
        None => Default::default(),
        Some(set) => set.into_precomputed()?,
    };
    // the model-file scan (stored records, metadata) joins the report, as in
    // the CLI; the parsed rows are the flattened records, as they are
    let scan = crate::scan::scan_model(
        &model.bytes,
        &crate::scan::ScanData {
            members: Some(&members.data.features),
            nonmembers: Some(&nonmembers.data.features),
            population: population.as_ref().map(|p| &p.data.features),
        },
        &scan_settings(),
    )
    .map_err(|e| e.to_js())?;
    let classes = model.num_classes.unwrap_or(2);
    let target = model.target();
    let (outcome, counts) =
        with_audit_inputs(model, members, nonmembers, population, |inputs, counts| {
            run_audit_with(
                &target,
                inputs,
                settings,
                precomputed,
                &mut progress_fn(progress),
            )
            .map(|o| (o, counts))
            .map_err(|e| e.to_js())
        })?;
    let report = Report::new(
        &model.model,
        None,
        model.kind_override,
        classes,
        counts,
        names,
        outcome,
    )
    .with_scan(scan)
    .with_limits(&current_limits())
    .with_guidance(&guidance_options(guidance)?)
    .map_err(|e| e.to_js())?;
    report_out(&report)
}

/// The per-record CSV of a JSON report (the text `runAudit` returned as
/// `reportJson`): the report is read back and checked
/// (`report::read_json_with`, this instance's `max_report_bytes`), then
/// written by `Report::records_csv`, the writer of the CLI's
/// `--records-csv`. Errors: the report's code (`report_not_json`,
/// `report_invalid`, `report_too_large`), or `no_records` when it holds no
/// per-record table.
#[wasm_bindgen(js_name = recordsCsv)]
pub fn records_csv(report_json: &str) -> Result<String, JsValue> {
    let report =
        crate::report::read_json_with(report_json.as_bytes(), current_limits().max_report_bytes)
            .map_err(|e| js_error(e.code(), &e.to_string()))?;
    report.records_csv().map_err(|e| js_error("no_records", &e))
}

impl Coded for crate::attacks::membership::predictions::PredictionError {
    fn code(&self) -> &'static str {
        crate::attacks::membership::predictions::PredictionError::code(self)
    }
}

/// The audit from predictions alone (no model;
/// `attacks::membership::audit::run_audit_from_predictions`), as the CLI's
/// `audit --members-predictions ...`: `members`, `nonmembers` and the
/// optional `population` are the bytes of prediction CSVs (columns
/// `class_0..class_{K-1}` as `predict` writes them, plus the label column
/// `labelColumn`, default `label`), `kind` what they hold ('probabilities'
/// or 'logits'). Each file is read and checked by
/// `predictions::read_predictions` (errors name the file, the row and the
/// value; code `bad_predictions` or the CSV error's) under this instance's
/// CSV limits. `settings`, `names`, `progress` and `guidance` as for
/// [`run_audit`]; the file names in messages are `names.members`,
/// `names.nonmembers` and `names.population`. Returns `{ report,
/// reportJson, html, htmlStandalone }`.
#[wasm_bindgen(js_name = runPredictionsAudit)]
#[allow(clippy::too_many_arguments)]
pub fn run_predictions_audit(
    members: &[u8],
    nonmembers: &[u8],
    population: Option<Vec<u8>>,
    kind: &str,
    label_column: Option<String>,
    settings: JsValue,
    names: JsValue,
    progress: &js_sys::Function,
    guidance: JsValue,
) -> Result<JsValue, JsValue> {
    use crate::attacks::membership::audit::run_audit_from_predictions;
    use crate::attacks::membership::predictions::{read_predictions, PredictionInputs};
    use crate::report::Report;
    let kind = parse_kind(kind)?;
    let settings = audit_settings(settings)?;
    let names: serde_json::Value = if names.is_undefined() || names.is_null() {
        serde_json::Value::Null
    } else {
        serde_wasm_bindgen::from_value(names)
            .map_err(|e| bad_argument(&format!("input names: {e}")))?
    };
    let name = |role: &str| {
        names
            .get(role)
            .and_then(|v| v.as_str())
            .unwrap_or(role)
            .to_string()
    };
    let opts = CsvOptions {
        label_column: label_column.clone(),
        ..current_limits().csv_options()
    };
    let read = |bytes: &[u8], role: &str| {
        read_predictions(bytes, &name(role), kind, &opts).map_err(|e| e.to_js())
    };
    let predictions = PredictionInputs::new(
        kind,
        read(members, "members")?,
        read(nonmembers, "nonmembers")?,
        population
            .as_deref()
            .map(|b| read(b, "population"))
            .transpose()?,
    )
    .map_err(|e| e.to_js())?;
    let outcome = run_audit_from_predictions(&predictions, settings, &mut progress_fn(progress))
        .map_err(|e| e.to_js())?;
    let mut inputs = names.clone();
    if let Some(o) = inputs.as_object_mut() {
        o.insert(
            "label_column".into(),
            serde_json::Value::from(label_column.unwrap_or_else(|| "label".into())),
        );
    }
    let report = Report::from_predictions(&predictions, inputs, outcome)
        .with_limits(&current_limits())
        .with_guidance(&guidance_options(guidance)?)
        .map_err(|e| e.to_js())?;
    report_out(&report)
}

/// The audit settings of a JS object (snake_case, every field optional);
/// `max_reference_params` comes from this instance's limits unless the
/// object sets it.
fn audit_settings(
    settings: JsValue,
) -> Result<crate::attacks::membership::audit::AuditSettings, JsValue> {
    let limit = current_limits().max_reference_params;
    if settings.is_undefined() || settings.is_null() {
        return Ok(crate::attacks::membership::audit::AuditSettings {
            max_reference_params: limit,
            ..Default::default()
        });
    }
    let own = settings.is_object()
        && Reflect::has(&settings, &JsValue::from_str("max_reference_params")).unwrap_or(false);
    let mut s: crate::attacks::membership::audit::AuditSettings =
        serde_wasm_bindgen::from_value(settings)
            .map_err(|e| bad_argument(&format!("audit settings: {e}")))?;
    if !own {
        s.max_reference_params = limit;
    }
    // every typed number in its declared range (`crate::settings`) before
    // the scan or any training; the audit checks them again
    s.clone().validate().map_err(|e| e.to_js())?;
    Ok(s)
}

/// The reference models an audit with these settings will train, as
/// `[{mode: "online" | "offline", k}]`: only the sets that can be planned
/// with these inputs (a set that cannot, e.g. offline without a population,
/// is left to `runAudit`, which reports its attacks as skipped with the
/// reason). A page with several workers trains these with `trainReference`
/// and hands the results to `runAudit` in a [`ReferenceSet`]. Throws
/// `references_too_large` when the sets are over `max_reference_params`
/// (the settings' own, else this instance's limits).
#[wasm_bindgen(js_name = referenceJobs)]
pub fn reference_jobs(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    settings: JsValue,
) -> Result<JsValue, JsValue> {
    use crate::attacks::membership::audit::{needed_reference_modes, reference_config};
    use crate::attacks::membership::references::plan_references;
    let settings = audit_settings(settings)?
        .validate()
        .map_err(|e| e.to_js())?;
    let target = model.target();
    // refused here, before any worker trains a reference model, when the
    // reference sets are over `max_reference_params` (runAudit would refuse
    // them at the end)
    settings.check_target(&target).map_err(|e| e.to_js())?;
    let jobs: Vec<serde_json::Value> =
        with_audit_inputs(model, members, nonmembers, population, |inputs, _| {
            Ok(needed_reference_modes(&settings)
                .into_iter()
                .filter_map(|mode| {
                    plan_references(&target, inputs, &reference_config(&settings, mode))
                        .ok()
                        .map(|plan| serde_json::json!({ "mode": mode, "k": plan.k }))
                })
                .collect())
        })?;
    to_js_value(&jobs)
}

/// Train reference model `index` of the `mode` ("online" / "offline") set
/// of an audit with these settings and inputs, and return it as JSON text
/// (a `TrainedReference`). Any worker given the same model, CSVs and
/// settings trains the same model; [`ReferenceSet::add`] collects them for
/// `runAudit`.
#[wasm_bindgen(js_name = trainReference)]
#[allow(clippy::too_many_arguments)]
pub fn train_reference(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    settings: JsValue,
    mode: &str,
    index: usize,
    progress: &js_sys::Function,
) -> Result<String, JsValue> {
    use crate::attacks::membership::audit::reference_config;
    use crate::attacks::membership::references::{plan_references, ReferenceMode};
    let mode: ReferenceMode =
        serde_json::from_value(serde_json::Value::from(mode)).map_err(|_| {
            bad_argument(&format!(
                "reference mode must be 'online' or 'offline', got '{mode}'"
            ))
        })?;
    let settings = audit_settings(settings)?
        .validate()
        .map_err(|e| e.to_js())?;
    let target = model.target();
    settings.check_target(&target).map_err(|e| e.to_js())?;
    let trained = with_audit_inputs(model, members, nonmembers, population, |inputs, _| {
        let plan = plan_references(&target, inputs, &reference_config(&settings, mode))
            .map_err(|e| e.to_js())?;
        plan.train(&target, inputs, index, &mut progress_fn(progress))
            .map_err(|e| e.to_js())
    })?;
    serde_json::to_string(&trained).map_err(|e| js_error("internal", &e.to_string()))
}

/// Records of an optional parsed CSV (the page's copy, consumed: its
/// features move into the model's input shape), labels optional.
fn optional_records(
    model: &ModelHandle,
    ds: Option<DatasetHandle>,
    role: &str,
) -> Result<Option<crate::attacks::membership::Records>, JsValue> {
    let Some(mut ds) = ds else { return Ok(None) };
    let x = ds
        .data
        .take_batch(&model.model.graph.input)
        .map_err(|e| js_error(e.code(), &format!("{role} CSV: {e}")))?;
    let y = ds.data.labels.take().unwrap_or_default();
    Ok(Some(crate::attacks::membership::Records { x, y }))
}

/// The report object, its JSON text and HTML (fragment for the page, and
/// standalone for download, without training data; with it under
/// `...WithTrainingData` when the report has any).
/// The report crosses as the core's JSON text (the format of the CLI's
/// `--report`) plus `JSON.parse` of it, so every number is what the JSON
/// says (seeds are kept below 2^53, so they stay exact).
fn report_out(report: &crate::report::Report) -> Result<JsValue, JsValue> {
    use crate::report::html;
    let out = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        let _ = Reflect::set(&out, &JsValue::from_str(key), value);
    };
    // the downloads hold no training data unless the page asks for the
    // "...WithTrainingData" variants (present only when they differ)
    let export = report.without_training_data();
    let json = export.to_json();
    let parsed = js_sys::JSON::parse(&json)
        .map_err(|_| js_error("internal", "report JSON did not parse"))?;
    set("report", &parsed);
    set("reportJson", &JsValue::from_str(&json));
    // the downloads' base names (`Report::file_stem`)
    set("fileStem", &JsValue::from_str(&report.file_stem(false)));
    set("recordsStem", &JsValue::from_str(&report.file_stem(true)));
    set("html", &JsValue::from_str(&html::render(report, false)));
    set(
        "htmlStandalone",
        &JsValue::from_str(&html::render(&export, true)),
    );
    if report.has_training_data() {
        set(
            "reportJsonWithTrainingData",
            &JsValue::from_str(&report.to_json()),
        );
        set(
            "htmlStandaloneWithTrainingData",
            &JsValue::from_str(&html::render(report, true)),
        );
    }
    Ok(out.into())
}

fn progress_fn(
    progress: &js_sys::Function,
) -> impl FnMut(crate::attacks::membership::Progress) -> bool + '_ {
    move |pr| {
        let Ok(v) = to_js_value(&pr) else { return true };
        match progress.call1(&JsValue::NULL, &v) {
            Ok(r) => r.as_bool() != Some(false),
            Err(_) => true,
        }
    }
}

/// Model inversion (MI-Face, `attacks::inversion::invert`) in this worker.
/// `classes`: class indices (empty = all); `settings`: an `InversionConfig`
/// object (snake_case, every field optional); `inputShape`: per-record image
/// shape for flat inputs (e.g. `[1, 8, 8]`) or `undefined`; `data`,
/// `members`, `nonmembers`: optional parsed CSVs. Returns `{ report,
/// reportJson, html, htmlStandalone }` with the `inversion` section filled.
#[wasm_bindgen(js_name = runInversion)]
#[allow(clippy::too_many_arguments)]
pub fn run_inversion(
    model: &ModelHandle,
    classes: &[u32],
    settings: JsValue,
    input_shape: Option<Vec<u32>>,
    data: Option<DatasetHandle>,
    members: Option<DatasetHandle>,
    nonmembers: Option<DatasetHandle>,
    progress: &js_sys::Function,
) -> Result<JsValue, JsValue> {
    use crate::attacks::inversion::{invert, ImageLayout, InversionConfig};
    use crate::attacks::membership::Target;
    use crate::report::{Counts, Report};
    let cfg: InversionConfig = if settings.is_undefined() || settings.is_null() {
        InversionConfig::default()
    } else {
        serde_wasm_bindgen::from_value(settings)
            .map_err(|e| bad_argument(&format!("inversion settings: {e}")))?
    };
    let n_classes = model.num_classes.unwrap_or(2);
    let classes: Vec<usize> = if classes.is_empty() {
        (0..n_classes).collect()
    } else {
        classes.iter().map(|&c| c as usize).collect()
    };
    let shape: Option<Vec<usize>> = input_shape.map(|s| s.iter().map(|&v| v as usize).collect());
    let layout =
        ImageLayout::for_model(&model.model.graph, shape.as_deref()).map_err(|e| e.to_js())?;
    let d = optional_records(model, data, "data")?;
    let m = optional_records(model, members, "members")?;
    let n = optional_records(model, nonmembers, "non-members")?;
    let target = Target {
        graph: &model.model.graph,
        params: &model.model.params,
        output_kind: model.kind(),
        num_classes: n_classes,
    };
    let seed = cfg.seed;
    let result = invert(
        &target,
        &classes,
        d.as_ref(),
        m.as_ref(),
        n.as_ref(),
        &layout,
        &cfg,
        &mut progress_fn(progress),
    )
    .map_err(|e| e.to_js())?;
    let counts = Counts {
        members: m.as_ref().map_or(0, |r| r.len()),
        nonmembers: n.as_ref().map_or(0, |r| r.len()),
        population: d.as_ref().map_or(0, |r| r.len()),
    };
    let mut report = Report::base(
        &model.model,
        None,
        model.kind_override,
        n_classes,
        seed,
        counts,
        serde_json::Value::Null,
    );
    report.inversion = Some(result);
    report_out(&report.with_limits(&current_limits()))
}

/// Attribute inference (`attacks::attribute::run`) in this worker.
/// `column`: the sensitive column's name among the CSV feature columns;
/// `settings`: an `AttributeConfig` object (its `column` is replaced by the
/// named column's index; `bins` for continuous columns). Returns `{ report,
/// reportJson, html, htmlStandalone }` with the `attribute` section filled.
#[wasm_bindgen(js_name = runAttribute)]
pub fn run_attribute(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    column: &str,
    settings: JsValue,
    progress: &js_sys::Function,
) -> Result<JsValue, JsValue> {
    use crate::attacks::attribute::{run, AttributeConfig};
    use crate::report::Report;
    let mut cfg: AttributeConfig = if settings.is_undefined() || settings.is_null() {
        AttributeConfig::default()
    } else {
        serde_wasm_bindgen::from_value(settings)
            .map_err(|e| bad_argument(&format!("attribute settings: {e}")))?
    };
    let names = members.data.feature_names.clone();
    cfg.column = sensitive_column(members, column)?;
    let n_classes = model.num_classes.unwrap_or(2);
    let target = model.target();
    let seed = cfg.seed;
    let (result, counts) =
        with_audit_inputs(model, members, nonmembers, population, |inputs, counts| {
            run(&target, inputs, &names, &cfg, &mut progress_fn(progress))
                .map(|r| (r, counts))
                .map_err(|e| e.to_js())
        })?;
    let mut report = Report::base(
        &model.model,
        None,
        model.kind_override,
        n_classes,
        seed,
        counts,
        serde_json::Value::Null,
    );
    report.attribute = Some(result);
    report_out(&report.with_limits(&current_limits()))
}

/// The automatic bin edges of the sensitive column `column` (its name among
/// the members CSV's feature columns): `attacks::attribute::auto_bins`, the
/// quartiles of every supplied record (members, non-members and the
/// population when given), as the CLI's `attribute --auto-bins`.
#[wasm_bindgen(js_name = attributeAutoBins)]
pub fn attribute_auto_bins(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    column: &str,
) -> Result<Vec<f64>, JsValue> {
    let col = sensitive_column(members, column)?;
    with_audit_inputs(model, members, nonmembers, population, |inputs, _| {
        crate::attacks::attribute::auto_bins(inputs, col).map_err(|e| e.to_js())
    })
}

/// The index of the feature column `column` of the members CSV.
fn sensitive_column(members: &DatasetHandle, column: &str) -> Result<usize, JsValue> {
    let names = &members.data.feature_names;
    names.iter().position(|n| n == column).ok_or_else(|| {
        crate::attacks::membership::AttackError::Config(format!(
            "sensitive column '{column}' is not among the {} feature columns of the members CSV",
            names.len()
        ))
        .to_js()
    })
}

/// Check one audit CSV (`role` names it: members, non-members, population)
/// against `model` as the audit will: its records reshape to the model
/// input and run (one record), and its labels lie within the model's
/// classes (`audit::check_labels`). Throws the coded error.
#[wasm_bindgen(js_name = checkAuditSet)]
pub fn check_audit_set(model: &ModelHandle, ds: &DatasetHandle, role: &str) -> Result<(), JsValue> {
    if !ds.data.is_empty() {
        let one = Dataset {
            feature_names: Vec::new(),
            features: ds.data.features.slice(ndarray::s![0..1, ..]).to_owned(),
            labels: None,
            label_column: None,
        };
        let x = one
            .to_batch(&model.model.graph.input)
            .map_err(|e| e.to_js())?;
        model
            .model
            .graph
            .forward(&model.model.params, &x)
            .map_err(|e| e.to_js())?;
    }
    if let Some(labels) = &ds.data.labels {
        crate::attacks::membership::audit::check_labels(
            role,
            labels,
            model.num_classes.unwrap_or(2),
        )
        .map_err(|e| e.to_js())?;
    }
    Ok(())
}

/// Run `f` on the members, non-members and optional population of an
/// audit-style probe, with their counts for the report. The members' and
/// non-members' records are lent (moved in place into the model's input
/// shape, not copied: at 100k records that copy was the worker's largest
/// allocation after the records themselves) and given back afterwards,
/// whatever `f` returns; the population (a copy the page made) is consumed.
fn with_audit_inputs<T>(
    model: &ModelHandle,
    members: &mut DatasetHandle,
    nonmembers: &mut DatasetHandle,
    population: Option<DatasetHandle>,
    f: impl FnOnce(
        &crate::attacks::membership::AuditInputs,
        crate::report::Counts,
    ) -> Result<T, JsValue>,
) -> Result<T, JsValue> {
    let m = lend_records(model, members, "members")?;
    let n = match lend_records(model, nonmembers, "non-members") {
        Ok(n) => n,
        Err(e) => {
            give_back(members, m);
            return Err(e);
        }
    };
    let p = match population.map(|mut d| lend_records(model, &mut d, "population")) {
        Some(Err(e)) => {
            give_back(members, m);
            give_back(nonmembers, n);
            return Err(e);
        }
        p => p.transpose().unwrap_or(None),
    };
    let counts = crate::report::Counts {
        members: m.len(),
        nonmembers: n.len(),
        population: p.as_ref().map_or(0, |r| r.len()),
    };
    let inputs = crate::attacks::membership::AuditInputs {
        members: m,
        nonmembers: n,
        population: p,
    };
    let out = f(&inputs, counts);
    give_back(members, inputs.members);
    give_back(nonmembers, inputs.nonmembers);
    out
}

impl ModelHandle {
    /// The model as an attack target (with any output-kind override).
    fn target(&self) -> crate::attacks::membership::Target<'_> {
        crate::attacks::membership::Target {
            graph: &self.model.graph,
            params: &self.model.params,
            output_kind: self.kind(),
            num_classes: self.num_classes.unwrap_or(2),
        }
    }
}

/// Teaching mode: re-initialise the model `template` (ONNX bytes) with
/// `seed`, train it on `members` (a parsed, labelled CSV) with `config` (a
/// `TrainConfig` object, snake_case, every field optional), and return
/// `{ bytes, report }`: the trained model as ONNX bytes (the template's file
/// with the new weights and a `privacy_inspector_training` metadata entry
/// holding `note`) and the training report. `progress` gets
/// `{epoch, epochs, loss, train_accuracy}` after each epoch and may return
/// `false` to cancel.
#[wasm_bindgen(js_name = trainTarget)]
pub fn train_target(
    template: &[u8],
    members: &DatasetHandle,
    config: JsValue,
    seed: u64,
    note: String,
    progress: &js_sys::Function,
) -> Result<JsValue, JsValue> {
    let model = load_with(template, &current_limits().import_options()).map_err(|e| e.to_js())?;
    let cfg: TrainConfig = if config.is_undefined() || config.is_null() {
        TrainConfig::default()
    } else {
        serde_wasm_bindgen::from_value(config)
            .map_err(|e| bad_argument(&format!("training settings: {e}")))?
    };
    let x = members
        .data
        .to_batch(&model.graph.input)
        .map_err(|e| js_error(e.code(), &format!("members CSV: {e}")))?;
    let Some(y) = members.data.labels.clone() else {
        return Err(js_error(
            "csv_no_label_column",
            "members CSV has no label column; training needs the true class of every record",
        ));
    };
    let mut params = init_params(&model.graph, &model.params, seed);
    let report = train(&model.graph, &mut params, &x, &y, &cfg, &mut |p| {
        let Ok(v) = to_js_value(&serde_json::json!({
            "epoch": p.epoch, "epochs": p.epochs, "loss": p.loss, "train_accuracy": p.train_accuracy,
        })) else {
            return true;
        };
        match progress.call1(&JsValue::NULL, &v) {
            Ok(r) => r.as_bool() != Some(false),
            Err(_) => true,
        }
    })
    .map_err(|e| e.to_js())?;
    if report.stopped_by == "cancelled" {
        return Err(js_error("cancelled", "training was cancelled"));
    }
    let bytes = crate::onnx::export::with_params(
        template,
        &model.graph,
        &params,
        "privacy_inspector_training",
        &note,
    )
    .map_err(|e| e.to_js())?;
    let out = js_sys::Object::new();
    let _ = Reflect::set(
        &out,
        &JsValue::from_str("bytes"),
        &js_sys::Uint8Array::from(bytes.as_slice()),
    );
    let _ = Reflect::set(&out, &JsValue::from_str("report"), &to_js_value(&report)?);
    Ok(out.into())
}

/// The one-run check of a DP-SGD claim (`attacks::dp_audit`): a fresh
/// copy of `template` trained with `config.train` (DP-SGD) on the labelled
/// `members` plus `config.canaries` mislabelled canaries, each included
/// with probability 1/2. `config` is a camelCase `DpAuditConfig` (missing
/// fields take the defaults). Returns the `DpAuditReport` (the bound, the
/// accountant's epsilon, the canaries). `progress` gets
/// `{done, total, stage}` per epoch; returning false cancels.
#[wasm_bindgen(js_name = dpAudit)]
pub fn dp_audit(
    template: &[u8],
    members: &DatasetHandle,
    config: JsValue,
    progress: &js_sys::Function,
) -> Result<JsValue, JsValue> {
    let model = load_with(template, &current_limits().import_options()).map_err(|e| e.to_js())?;
    let cfg: crate::attacks::dp_audit::DpAuditConfig = if config.is_undefined() || config.is_null()
    {
        Default::default()
    } else {
        serde_wasm_bindgen::from_value(config)
            .map_err(|e| bad_argument(&format!("DP audit settings: {e}")))?
    };
    let x = members
        .data
        .to_batch(&model.graph.input)
        .map_err(|e| js_error(e.code(), &format!("members CSV: {e}")))?;
    let Some(y) = members.data.labels.clone() else {
        return Err(js_error(
            "csv_no_label_column",
            "members CSV has no label column; training needs the true class of every record",
        ));
    };
    let (report, _) = crate::attacks::dp_audit::run_dp_audit(
        &model.graph,
        &model.params,
        &x,
        &y,
        &cfg,
        &mut |p| {
            let Ok(v) = to_js_value(&p) else {
                return true;
            };
            match progress.call1(&JsValue::NULL, &v) {
                Ok(r) => r.as_bool() != Some(false),
                Err(_) => true,
            }
        },
    )
    .map_err(|e| e.to_js())?;
    to_js_value(&report)
}

impl Coded for crate::guidance::GuidanceError {
    fn code(&self) -> &'static str {
        crate::guidance::GuidanceError::code(self)
    }
}

/// Guidance options (`guidance::GuidanceOptions`, snake_case, every field
/// optional) from a JS value.
fn guidance_options(v: JsValue) -> Result<crate::guidance::GuidanceOptions, JsValue> {
    if v.is_undefined() || v.is_null() {
        Ok(Default::default())
    } else {
        let opts: crate::guidance::GuidanceOptions = serde_wasm_bindgen::from_value(v)
            .map_err(|e| bad_argument(&format!("guidance options: {e}")))?;
        // refused before any work, as the CLI does
        opts.validate().map_err(|e| e.to_js())?;
        Ok(opts)
    }
}

impl Coded for crate::scan::ScanError {
    fn code(&self) -> &'static str {
        crate::scan::ScanError::code(self)
    }
}

/// Scan settings with this instance's bound on decoded tensor elements.
fn scan_settings() -> crate::scan::ScanSettings {
    crate::scan::ScanSettings {
        max_tensor_elements: current_limits().max_tensor_elements,
        ..Default::default()
    }
}

/// The model-file scan (`scan::scan_model`) on the model's file bytes, with
/// optional member, non-member and population records as row-major
/// `Float32Array`s in the model's input feature space (e.g.
/// `DatasetHandle.data()`; the record width is the model input's). Runs on
/// the decoded file, so it works for models the engine cannot run. Returns
/// `{ scan, scanJson, html }`: the report's `scan` section parsed, as JSON
/// text, and its HTML fragment.
#[wasm_bindgen(js_name = scanModel)]
pub fn scan_model(
    model_bytes: &[u8],
    members: Option<Vec<f32>>,
    nonmembers: Option<Vec<f32>>,
    population: Option<Vec<f32>>,
    guidance: JsValue,
) -> Result<JsValue, JsValue> {
    use crate::scan::{scan_model as core_scan, ScanData};
    // the file size first, as the CLI's `scan` checks it
    let limits = current_limits();
    crate::limits::LimitExceeded::check(
        crate::limits::Limit::ModelBytes,
        model_bytes.len() as u128,
        limits.max_model_bytes as u128,
    )
    .map_err(|e| e.to_js())?;
    let any = members.is_some() || nonmembers.is_some() || population.is_some();
    let width = if any {
        let m = crate::scan::decode(model_bytes).map_err(|e| e.to_js())?;
        match crate::scan::verbatim::model_input(&m).and_then(|(_, w)| w) {
            Some(w) if w > 0 => w,
            _ => {
                return Err(bad_argument(
                    "the model input has no fixed per-record width, so flat records cannot be split into rows",
                ))
            }
        }
    } else {
        1
    };
    let matrix =
        |v: Option<Vec<f32>>, role: &str| -> Result<Option<ndarray::Array2<f32>>, JsValue> {
            let Some(v) = v else { return Ok(None) };
            if v.len() % width != 0 {
                return Err(bad_argument(&format!(
                    "{role}: {} values is not a whole number of records of {width} values",
                    v.len()
                )));
            }
            ndarray::Array2::from_shape_vec((v.len() / width, width), v)
                .map(Some)
                .map_err(|e| bad_argument(&format!("{role}: {e}")))
        };
    let m = matrix(members, "members")?;
    let n = matrix(nonmembers, "nonmembers")?;
    let p = matrix(population, "population")?;
    let data = ScanData {
        members: m.as_ref(),
        nonmembers: n.as_ref(),
        population: p.as_ref(),
    };
    let report = core_scan(model_bytes, &data, &scan_settings()).map_err(|e| e.to_js())?;
    let json = report.to_json();
    let out = js_sys::Object::new();
    let parsed =
        js_sys::JSON::parse(&json).map_err(|_| js_error("internal", "scan JSON did not parse"))?;
    let mut html = String::new();
    crate::report::scan_html::render(&mut html, &report);
    let _ = Reflect::set(&out, &JsValue::from_str("scan"), &parsed);
    let _ = Reflect::set(
        &out,
        &JsValue::from_str("scanJson"),
        &JsValue::from_str(&json),
    );
    let _ = Reflect::set(&out, &JsValue::from_str("html"), &JsValue::from_str(&html));
    // what the scan's findings call for, without any attack
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(model_bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let with = crate::report::Report::file_only(sha)
        .with_scan(report)
        .with_guidance(&guidance_options(guidance)?)
        .map_err(|e| e.to_js())?;
    if let Some(g) = &with.guidance {
        let _ = Reflect::set(
            &out,
            &JsValue::from_str("guidanceHtml"),
            &JsValue::from_str(&crate::guidance::render_html(g)),
        );
        let _ = Reflect::set(&out, &JsValue::from_str("guidance"), &to_js_value(g)?);
    }
    Ok(out.into())
}

/// A cleaned copy of the model file (`scan::strip_metadata`): doc strings,
/// metadata_props and producer fields cleared, flagged names replaced.
#[wasm_bindgen(js_name = stripMetadata)]
pub fn strip_metadata(model_bytes: &[u8]) -> Result<js_sys::Uint8Array, JsValue> {
    let (clean, _) = crate::scan::strip_metadata(model_bytes).map_err(|e| e.to_js())?;
    Ok(js_sys::Uint8Array::from(clean.as_slice()))
}

/// The declared range of every typed number that sizes work
/// (`crate::settings::ALL`), as JSON text: `{ key: { min, max, what, flag } }`
/// (`flag` null when only the settings JSON sets it). The page's forms take
/// their bounds from it, so the rule has one owner; the core checks them
/// again when the settings arrive.
#[wasm_bindgen(js_name = settingRanges)]
pub fn setting_ranges() -> Result<String, JsValue> {
    let mut out = serde_json::Map::new();
    for r in crate::settings::ALL {
        out.entry(r.key.to_string()).or_insert_with(
            || serde_json::json!({ "min": r.min, "max": r.max, "what": r.what, "flag": r.flag }),
        );
    }
    serde_json::to_string(&out).map_err(|e| js_error("internal", &e.to_string()))
}

/// The default guidance options (`guidance::GuidanceOptions`): every
/// threshold the guidance uses, for the page to show and let the user edit.
#[wasm_bindgen(js_name = guidanceDefaults)]
pub fn guidance_defaults() -> Result<String, JsValue> {
    serde_json::to_string_pretty(&crate::guidance::GuidanceOptions::default())
        .map_err(|e| js_error("internal", &e.to_string()))
}
