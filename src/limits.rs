//! Resource limits: every bound the core puts on untrusted input, in one
//! place, with its default, the stable error code it fails with and where
//! it can be adjusted.
//!
//! An inspector for sensitive models is fed files from strangers; a file
//! that is too large must come back as a clear error naming the limit and
//! the value, never as an out-of-memory abort or a page that hangs. Each
//! limit is checked before the memory it guards is allocated (sizes are
//! computed with checked or 128-bit arithmetic, so they cannot overflow).
//!
//! | limit (field of [`Limits`]) | default | what it bounds | error code |
//! | --- | --- | --- | --- |
//! | `max_model_bytes` | 512 MiB | size of the ONNX file | `model_too_large` |
//! | `max_nodes` | 200,000 | nodes in the ONNX graph (before pruning) | `too_many_nodes` |
//! | `max_tensor_elements` | 2^28 | elements of any one tensor the file declares (initializer, `Constant`, the input's per-record shape) or that import-time folding computes | `too_large` |
//! | `max_param_bytes` | 512 MiB | total parameter memory: the initializers' declared sizes (4 bytes per element) before decoding, and the imported parameters (f32) after | `params_too_large` |
//! | `max_csv_bytes` | 1 GiB | bytes of one CSV file (counted as read, also when streamed) | `csv_file_too_large` |
//! | `max_csv_rows` | 10,000,000 | data rows of one CSV | `csv_too_many_rows` |
//! | `max_csv_columns` | 262,144 | columns of one CSV (label included) | `csv_too_many_columns` |
//! | `max_csv_cells` | 200,000,000 | rows x columns of one CSV | `csv_too_large` |
//! | `max_reference_params` | 2^31 | reference models per mode x trainable parameters of the target, for an audit that trains references | `references_too_large` |
//! | `max_report_bytes` | 256 MiB | size of a JSON report read back by `report::read_json` | `report_too_large` |
//! | `max_report_bytes` (also) | 256 MiB | size of a reference-model file read back (`audit --references-from`) | `references_file_too_large` |
//! | [`SETTINGS_FILE_BYTES`] (fixed) | 1 MiB | size of a settings file (`--limits`, `--guidance-options`) | `settings_file_too_large` |
//! | [`COMPUTED_TENSOR_ELEMENTS`] (fixed) | 2^28 | elements of any tensor an operator computes at run time (engine) | `too_large` |
//!
//! Where each is adjusted: the model limits through
//! [`crate::onnx::ImportOptions`] (`limits`, or the older
//! `max_tensor_elements` which takes precedence when set), the CSV limits
//! through [`crate::data::CsvOptions`], the reference limit through
//! `AuditSettings::max_reference_params`, the report limit through
//! `report::read_json_with`. [`Limits::import_options`] and
//! [`Limits::csv_options`] build the options from one `Limits` value.
//! Raising a limit is safe as far as the machine's memory goes: every
//! computation stays overflow-free whatever the value. The run-time bound
//! on computed tensors is fixed (2^28 f32 = 1 GiB per tensor, the most a
//! 32-bit wasm memory can sensibly hold).

use std::fmt;

/// Elements of any one tensor an engine operator computes at run time
/// (fixed; error code `too_large`).
pub const COMPUTED_TENSOR_ELEMENTS: usize = crate::engine::ops::MAX_ELEMENTS;

/// Size of a settings file (limits, guidance options; fixed: the limits
/// file itself is read under it; error code `settings_file_too_large`).
pub const SETTINGS_FILE_BYTES: u64 = 1 << 20;

/// Default of [`Limits::max_model_bytes`]: 512 MiB.
pub const DEFAULT_MAX_MODEL_BYTES: usize = 512 << 20;
/// Default of [`Limits::max_nodes`].
pub const DEFAULT_MAX_NODES: usize = 200_000;
/// Default of [`Limits::max_tensor_elements`]: 2^28.
pub const DEFAULT_MAX_TENSOR_ELEMENTS: u128 = 1 << 28;
/// Default of [`Limits::max_param_bytes`]: 512 MiB.
pub const DEFAULT_MAX_PARAM_BYTES: u128 = 512 << 20;
/// Default of [`Limits::max_csv_bytes`]: 1 GiB.
pub const DEFAULT_MAX_CSV_BYTES: u64 = 1 << 30;
/// Default of [`Limits::max_csv_rows`].
pub const DEFAULT_MAX_CSV_ROWS: usize = 10_000_000;
/// Default of [`Limits::max_csv_columns`]: 2^18.
pub const DEFAULT_MAX_CSV_COLUMNS: usize = 1 << 18;
/// Default of [`Limits::max_csv_cells`].
pub const DEFAULT_MAX_CSV_CELLS: usize = 200_000_000;
/// Default of [`Limits::max_reference_params`]: 2^31.
pub const DEFAULT_MAX_REFERENCE_PARAMS: u64 = 1 << 31;
/// Default of [`Limits::max_report_bytes`]: 256 MiB.
pub const DEFAULT_MAX_REPORT_BYTES: usize = 256 << 20;

/// Every adjustable limit (see the module docs for the table). Reads from
/// JSON with every field optional (the CLI's `--limits FILE.json`, the
/// page's Limits field); an unknown field is an error, so a misspelt limit
/// is never silently left at its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_model_bytes: usize,
    pub max_nodes: usize,
    pub max_tensor_elements: u128,
    pub max_param_bytes: u128,
    pub max_csv_bytes: u64,
    pub max_csv_rows: usize,
    pub max_csv_columns: usize,
    pub max_csv_cells: usize,
    pub max_reference_params: u64,
    pub max_report_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_model_bytes: DEFAULT_MAX_MODEL_BYTES,
            max_nodes: DEFAULT_MAX_NODES,
            max_tensor_elements: DEFAULT_MAX_TENSOR_ELEMENTS,
            max_param_bytes: DEFAULT_MAX_PARAM_BYTES,
            max_csv_bytes: DEFAULT_MAX_CSV_BYTES,
            max_csv_rows: DEFAULT_MAX_CSV_ROWS,
            max_csv_columns: DEFAULT_MAX_CSV_COLUMNS,
            max_csv_cells: DEFAULT_MAX_CSV_CELLS,
            max_reference_params: DEFAULT_MAX_REFERENCE_PARAMS,
            max_report_bytes: DEFAULT_MAX_REPORT_BYTES,
        }
    }
}

impl Limits {
    /// Import options carrying these limits (no output override).
    pub fn import_options(&self) -> crate::onnx::ImportOptions {
        crate::onnx::ImportOptions {
            output: None,
            max_tensor_elements: None,
            limits: *self,
        }
    }

    /// CSV options carrying these limits (default label handling).
    pub fn csv_options(&self) -> crate::data::CsvOptions {
        crate::data::CsvOptions {
            max_cells: self.max_csv_cells,
            max_rows: self.max_csv_rows,
            max_columns: self.max_csv_columns,
            max_bytes: self.max_csv_bytes,
            ..crate::data::CsvOptions::default()
        }
    }
}

impl Limits {
    /// The limits of a JSON text, the format of the CLI's `--limits
    /// FILE.json` and of the page's Limits field (one parser for both): an
    /// object whose fields (any of them; the rest take their defaults) are
    /// the field names of [`Limits`], each a whole number >= 0. The error
    /// names the problem: malformed JSON (with line and column), not an
    /// object, an unknown field (with the known ones), or the field whose
    /// value does not fit.
    pub fn from_json(json: &str) -> Result<Limits, BadLimits> {
        // every step goes through `serde_json::from_str::<Limits>` and
        // `Value` (no other monomorphisation, for the wasm's size)
        let bad = |msg: String| BadLimits(msg);
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let Some(fields) = value.as_object() else {
            return Err(bad(format!(
                "expected a JSON object such as {{\"max_csv_rows\": 5000000}}, got {}",
                match value {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::Object(_) => "an object",
                }
            )));
        };
        // (through the text, as the page shows the limits: no other
        // serialiser is instantiated)
        let known: Vec<String> = serde_json::to_string_pretty(&Limits::default())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default();
        for (key, v) in fields {
            if !known.iter().any(|k| k == key) {
                return Err(bad(format!(
                    "unknown limit '{key}'; the limits are {}",
                    known.join(", ")
                )));
            }
            // each field alone, so the error names it
            let one = serde_json::Value::Object([(key.clone(), v.clone())].into_iter().collect());
            serde_json::from_str::<Limits>(&one.to_string())
                .map_err(|e| bad(format!("{key}: {e} (got {v})")))?;
        }
        // the text itself (exact for the 128-bit fields)
        serde_json::from_str(json).map_err(|e| bad(e.to_string()))
    }
}

/// A limits text that [`Limits::from_json`] refuses (code `bad_limits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLimits(pub String);

impl BadLimits {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        "bad_limits"
    }
}

impl fmt::Display for BadLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limits: {}", self.0)
    }
}

impl std::error::Error for BadLimits {}

/// Which limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ModelBytes,
    Nodes,
    ParamBytes,
    CsvBytes,
    CsvRows,
    CsvColumns,
    ReferenceParams,
    ReportBytes,
    /// A reference-model file read back (bounded by `max_report_bytes`).
    ReferencesFileBytes,
    /// A settings file ([`SETTINGS_FILE_BYTES`], fixed).
    SettingsBytes,
}

impl Limit {
    /// The field of [`Limits`] that sets it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ModelBytes => "max_model_bytes",
            Limit::Nodes => "max_nodes",
            Limit::ParamBytes => "max_param_bytes",
            Limit::CsvBytes => "max_csv_bytes",
            Limit::CsvRows => "max_csv_rows",
            Limit::CsvColumns => "max_csv_columns",
            Limit::ReferenceParams => "max_reference_params",
            Limit::ReportBytes | Limit::ReferencesFileBytes => "max_report_bytes",
            Limit::SettingsBytes => "settings_file_bytes (fixed)",
        }
    }

    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            Limit::ModelBytes => "model_too_large",
            Limit::Nodes => "too_many_nodes",
            Limit::ParamBytes => "params_too_large",
            Limit::CsvBytes => "csv_file_too_large",
            Limit::CsvRows => "csv_too_many_rows",
            Limit::CsvColumns => "csv_too_many_columns",
            Limit::ReferenceParams => "references_too_large",
            Limit::ReportBytes => "report_too_large",
            Limit::ReferencesFileBytes => "references_file_too_large",
            Limit::SettingsBytes => "settings_file_too_large",
        }
    }

    /// What is counted, for the message.
    fn what(self) -> &'static str {
        match self {
            Limit::ModelBytes => "the model file has at least {} bytes",
            Limit::Nodes => "the model graph has {} nodes",
            Limit::ParamBytes => "the model's parameters need {} bytes",
            Limit::CsvBytes => "the CSV file has at least {} bytes",
            Limit::CsvRows => "the CSV has at least {} data rows",
            Limit::CsvColumns => "the CSV has {} columns",
            Limit::ReferenceParams => {
                "the reference models need {} parameters (references per mode x trainable parameters)"
            }
            Limit::ReportBytes => "the report file has {} bytes",
            Limit::ReferencesFileBytes => "the reference-model file has at least {} bytes",
            Limit::SettingsBytes => "the settings file has at least {} bytes",
        }
    }
}

/// A value over a limit: the error every area's enum wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded {
    pub limit: Limit,
    /// The value found (at least this much when counting stopped early).
    pub value: u128,
    /// The limit in force.
    pub max: u128,
}

impl LimitExceeded {
    pub fn new(limit: Limit, value: impl Into<u128>, max: impl Into<u128>) -> Self {
        LimitExceeded {
            limit,
            value: value.into(),
            max: max.into(),
        }
    }

    /// `Err` when `value > max`.
    pub fn check(limit: Limit, value: impl Into<u128>, max: impl Into<u128>) -> Result<(), Self> {
        let (value, max) = (value.into(), max.into());
        if value > max {
            Err(LimitExceeded { limit, value, max })
        } else {
            Ok(())
        }
    }

    pub fn code(&self) -> &'static str {
        self.limit.code()
    }
}

/// 1234567 -> "1,234,567".
pub fn grouped(v: u128) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.limit.what().replace("{}", &grouped(self.value));
        write!(
            f,
            "{what}, over the limit {} = {}",
            self.limit.name(),
            grouped(self.max)
        )
    }
}

impl std::error::Error for LimitExceeded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_limit_and_both_values() {
        let e = LimitExceeded::check(Limit::Nodes, 200_001u64, 200_000u64).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the model graph has 200,001 nodes, over the limit max_nodes = 200,000"
        );
        assert_eq!(e.code(), "too_many_nodes");
        assert!(LimitExceeded::check(Limit::Nodes, 200_000u64, 200_000u64).is_ok());
    }

    #[test]
    fn json_fields_are_optional_and_known() {
        let l: Limits = serde_json::from_str(r#"{"max_csv_rows": 10}"#).unwrap();
        assert_eq!(
            l,
            Limits {
                max_csv_rows: 10,
                ..Limits::default()
            }
        );
        assert_eq!(
            serde_json::from_str::<Limits>("{}").unwrap(),
            Limits::default()
        );
        let e = serde_json::from_str::<Limits>(r#"{"max_csv_row": 10}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `max_csv_row`"), "{e}");
        // what serializes reads back (reports record non-default limits)
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Limits>(&text).unwrap(), l);
    }

    #[test]
    fn from_json_is_the_one_parser_and_names_the_problem() {
        assert_eq!(
            Limits::from_json(r#"{"max_csv_rows": 10}"#).unwrap(),
            Limits {
                max_csv_rows: 10,
                ..Limits::default()
            }
        );
        let msg = |t: &str| Limits::from_json(t).unwrap_err().to_string();
        assert!(msg("{").contains("not valid JSON"));
        assert!(msg("[]").contains("got an array"));
        let e = msg(r#"{"max_csv_row": 1}"#);
        assert!(
            e.contains("unknown limit 'max_csv_row'") && e.contains("max_csv_rows"),
            "{e}"
        );
        let e = msg(r#"{"max_nodes": -1}"#);
        assert!(
            e.starts_with("limits: max_nodes: ") && e.contains("(got -1)"),
            "{e}"
        );
        assert_eq!(Limits::from_json("{}").unwrap(), Limits::default());
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(536_870_912), "536,870,912");
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Limit::ModelBytes,
            Limit::Nodes,
            Limit::ParamBytes,
            Limit::CsvBytes,
            Limit::CsvRows,
            Limit::CsvColumns,
            Limit::ReferenceParams,
            Limit::ReportBytes,
            Limit::ReferencesFileBytes,
            Limit::SettingsBytes,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|l| l.code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
