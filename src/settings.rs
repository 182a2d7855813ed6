//! The declared range of every number a user types that sizes work or
//! memory (reference models, epochs, batch sizes, steps, query budgets,
//! copies, bins, input shapes, ...), and the one check that applies them.
//!
//! Contract:
//! - Every such field has one [`Range`] here (its key in the settings JSON,
//!   its CLI flag when it has one, what it counts, min and max); [`ALL`]
//!   lists them (README "Settings ranges" is this table).
//! - A settings struct lists its counted fields with their ranges
//!   ([`Ranged::fields`]); its `validate` starts with
//!   [`Ranged::check_ranges`], so the CLI, the page (through `src/wasm.rs`)
//!   and the tests all go through the same check, before anything is
//!   allocated or trained.
//! - Products of typed numbers (an input shape, copies x record length) are
//!   computed with checked arithmetic ([`shape_len`], [`product`]): they
//!   cannot wrap, and are bounded by the engine's tensor limit.
//! - The error ([`SettingError`], code `bad_setting`) names the setting (key
//!   and flag), the value and the allowed range.

use std::fmt;

/// The declared range of one count setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The field's path in the settings JSON (the page, `--limits`-style files).
    pub key: &'static str,
    /// The CLI flag that sets it, when there is one.
    pub flag: Option<&'static str>,
    /// What it counts, for the message.
    pub what: &'static str,
    pub min: u64,
    pub max: u64,
}

/// A typed number outside its declared range, or a product of typed numbers
/// over its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: &'static str,
    pub flag: Option<&'static str>,
    pub what: &'static str,
    /// The value given (a product may be shown as "more than ...").
    pub value: String,
    pub min: u64,
    pub max: u64,
}

impl SettingError {
    pub fn code(&self) -> &'static str {
        "bad_setting"
    }
}

pub use crate::limits::grouped;

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = self.flag.map(|fl| format!(", {fl}")).unwrap_or_default();
        write!(
            f,
            "{} ({}{flag}) must be {} to {}, got {}",
            self.what,
            self.key,
            grouped(self.min.into()),
            grouped(self.max.into()),
            self.value
        )
    }
}

impl std::error::Error for SettingError {}

impl Range {
    const fn new(
        key: &'static str,
        flag: Option<&'static str>,
        what: &'static str,
        min: u64,
        max: u64,
    ) -> Range {
        Range {
            key,
            flag,
            what,
            min,
            max,
        }
    }

    fn error(&self, value: String) -> SettingError {
        SettingError {
            key: self.key,
            flag: self.flag,
            what: self.what,
            value,
            min: self.min,
            max: self.max,
        }
    }

    /// `Ok(v)` when `min <= v <= max`.
    pub fn check<T: Copy + TryInto<u64> + Into<u128>>(&self, v: T) -> Result<T, SettingError> {
        match v.try_into() {
            Ok(x) if (self.min..=self.max).contains(&x) => Ok(v),
            _ => Err(self.error(grouped(v.into()))),
        }
    }

    /// Parse a number the user typed and check it (the CLI's parser for
    /// flags whose range is declared here).
    pub fn parse(&self, text: &str) -> Result<usize, SettingError> {
        let t = text.trim();
        let v: u128 = t.parse().map_err(|_| {
            self.error(format!(
                "'{}'",
                t.chars().take(40).collect::<String>().escape_default()
            ))
        })?;
        let v = u64::try_from(v)
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.error(grouped(v)))?;
        self.check(v as u64).map(|_| v)
    }
}

macro_rules! ranges {
    ($($name:ident = ($key:expr, $flag:expr, $what:expr, $min:expr, $max:expr);)*) => {
        $(pub const $name: Range = Range::new($key, $flag, $what, $min, $max);)*
        /// Every declared range (README "Settings ranges").
        pub const ALL: &[Range] = &[$($name),*];
    };
}

/// Epochs of any training run (reference models, teaching mode, DP audit).
const EPOCHS_MAX: u64 = 100_000;
/// Minibatch size of any training run.
const BATCH_MAX: u64 = 1 << 20;

ranges! {
    // membership audit (AuditSettings, CLI `audit`)
    REFERENCES = ("references", Some("--references"), "reference models per mode", 1, 1024);
    REF_MAX_EPOCHS = ("recipe.maxEpochs", Some("--ref-max-epochs"), "the epoch cap of reference training", 1, EPOCHS_MAX);
    REF_FIXED_EPOCHS = ("recipe.fixedEpochs", Some("--ref-epochs"), "the fixed epochs of reference training", 1, EPOCHS_MAX);
    REF_BATCH_SIZE = ("recipe.batchSize", Some("--ref-batch-size"), "the minibatch size of reference training", 1, BATCH_MAX);
    REF_TRAIN_SIZE = ("reference_train_size", Some("--ref-train-size"), "records per reference model", 1, 1 << 32);
    SHADOW_MODELS = ("shokri.k", None, "Shokri shadow models", 1, 1024);
    TOP_K = ("stats.top_k", None, "rows of the most-exposed table", 0, 100_000);
    NOISE_COPIES = ("noise.copies", None, "noisy copies per record (noise_robustness)", 1, 100_000);
    BOUNDARY_QUERIES = ("boundary.max_queries", Some("--boundary-queries"), "model queries per record (boundary_distance)", 10, 1_000_000);
    BOUNDARY_ITER = ("boundary.max_iter", None, "HopSkipJump iterations (boundary_distance)", 0, 10_000);
    BOUNDARY_INIT_EVAL = ("boundary.init_eval", None, "points of the first gradient estimate (boundary_distance)", 1, 100_000);
    BOUNDARY_MAX_EVAL = ("boundary.max_eval", None, "points of one gradient estimate (boundary_distance)", 1, 100_000);
    BOUNDARY_INIT_TRIES = ("boundary.init_tries", None, "random starting points (boundary_distance)", 1, 100_000);
    BOUNDARY_HALVINGS = ("boundary.max_halvings", None, "step halvings (boundary_distance)", 0, 60);
    BOUNDARY_BATCH = ("boundary.batch_size", None, "records searched together (boundary_distance)", 1, 65_536);
    GRADIENT_STEPS = ("boundary_gradient.max_steps", None, "DeepFool steps per record (boundary_distance_gradient)", 1, 100_000);
    GRADIENT_BISECTION = ("boundary_gradient.bisection_steps", None, "bisection steps (boundary_distance_gradient)", 0, 64);
    GRADIENT_CANDIDATES = ("boundary_gradient.max_candidates", None, "classes linearised per step (boundary_distance_gradient)", 1, 100_000);
    GRADIENT_BATCH = ("boundary_gradient.batch_size", None, "records searched together (boundary_distance_gradient)", 1, 65_536);
    RISK_BINS = ("risk_score.bins", None, "bins per class of the risk score", 1, 10_000);
    QMIA_HIDDEN = ("qmia.hidden", None, "QMIA's hidden width", 1, 1024);
    QMIA_EPOCHS = ("qmia.epochs", None, "QMIA's epochs", 1, 10_000);
    QMIA_BATCH = ("qmia.batch_size", None, "QMIA's batch size", 1, 65_536);
    QMIA_PATIENCE = ("qmia.patience", None, "QMIA's patience in epochs", 0, 10_000);
    SLICE_CATEGORIES = ("slice.max_categories", None, "most categories of a slice column", 1, 65_536);
    SLICE_EDGES = ("slice.bins", Some("--slice-bins"), "bin edges of a slice column", 2, 10_001);
    // model inversion (InversionConfig, CLI `invert`)
    INVERSION_STEPS = ("steps", Some("--steps"), "inversion steps (alpha)", 1, 1_000_000);
    INVERSION_WINDOW = ("window", Some("--window"), "the no-improvement window (beta)", 1, 1_000_000);
    NES_SAMPLES = ("nes_samples", None, "NES directions per step", 1, 10_000);
    QUERY_BUDGET = ("query_budget", Some("--query-budget"), "black-box model queries per class", 1, 1_000_000_000);
    SHAPE_DIM = ("input_shape", Some("--input-shape"), "each dimension of the input shape", 1, 1 << 28);
    SHAPE_VALUES = ("input_shape", Some("--input-shape"), "values of the input shape (product of its dimensions)", 1, 1 << 28);
    // attribute inference (AttributeConfig, CLI `attribute`)
    MAX_CATEGORIES = ("max_categories", Some("--max-categories"), "most categories of the sensitive column", 2, 65_536);
    KNN_K = ("knn_k", None, "neighbours of the imputation baseline", 1, 10_000);
    KNN_MAX_REFERENCE = ("knn_max_reference", None, "records of the imputation baseline", 1, 10_000_000);
    ATTRIBUTE_EDGES = ("bins", Some("--bins"), "bin edges of the sensitive column", 2, 10_001);
    // training (TrainConfig: teaching mode, CLI `dp-audit`)
    TRAIN_EPOCHS = ("epochs", Some("--epochs"), "training epochs", 1, EPOCHS_MAX);
    TRAIN_BATCH_SIZE = ("batchSize", Some("--batch-size"), "the training minibatch size", 1, BATCH_MAX);
    CANARIES = ("canaries", Some("--canaries"), "canaries of the one-run DP audit", 2, 10_000_000);
    // guidance options (GuidanceOptions.dp_plan; 0 = not sized)
    DP_PLAN_BATCH = ("dp_plan.batch_size", None, "the DP plan's batch size", 0, BATCH_MAX);
    DP_PLAN_EPOCHS = ("dp_plan.epochs", None, "the DP plan's epochs", 0, EPOCHS_MAX);
    DP_PLAN_RECORDS = ("dp_plan.records", None, "the DP plan's training records", 0, 1 << 40);
    // prediction (CLI `predict`)
    PREDICT_BATCH_SIZE = ("batch_size", Some("--batch-size"), "records per forward pass", 1, 1_000_000);
}

/// A settings struct whose counted fields have declared ranges.
pub trait Ranged {
    /// Every counted field with its range (`None`: unset optional field).
    fn fields(&self) -> Vec<(Range, Option<u64>)>;

    /// The first field outside its range, as an error.
    fn check_ranges(&self) -> Result<(), SettingError> {
        for (r, v) in self.fields() {
            if let Some(v) = v {
                r.check(v)?;
            }
        }
        Ok(())
    }
}

/// `usize` -> `Option<u64>` for [`Ranged::fields`] (saturating: a value
/// that does not fit is over every range).
pub fn some(v: usize) -> Option<u64> {
    Some(u64::try_from(v).unwrap_or(u64::MAX))
}

/// An optional `usize` for [`Ranged::fields`].
pub fn opt(v: Option<usize>) -> Option<u64> {
    v.and_then(some)
}

/// The number of values of an input shape the user typed: each dimension
/// within [`SHAPE_DIM`], the product (checked, never wrapping) within
/// [`SHAPE_VALUES`].
pub fn shape_len(dims: &[usize]) -> Result<usize, SettingError> {
    if dims.is_empty() {
        return Err(SHAPE_VALUES.error("an empty shape".into()));
    }
    let mut n: u128 = 1;
    for &d in dims {
        SHAPE_DIM.check(d as u64)?;
        n = n.saturating_mul(d as u128);
        if n > SHAPE_VALUES.max as u128 {
            let shown: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            return Err(SHAPE_VALUES.error(format!(
                "[{}] (more than {})",
                shown.join(", "),
                grouped(SHAPE_VALUES.max as u128)
            )));
        }
    }
    Ok(n as usize)
}

/// The product of `factors` when it is at most `max` (checked: never
/// wraps), else an error naming `range` (the setting that makes it large)
/// with the product.
pub fn product(range: Range, factors: &[usize], max: u128) -> Result<usize, SettingError> {
    let mut n: u128 = 1;
    for &f in factors {
        n = n.saturating_mul(f as u128);
    }
    if n > max {
        let mut e = range.error(format!(
            "a value that makes {} elements, over the limit {}",
            grouped(n),
            grouped(max)
        ));
        e.max = e.max.min(u64::try_from(max).unwrap_or(u64::MAX));
        return Err(e);
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_key_flag_range_and_value() {
        let e = REF_MAX_EPOCHS.check(4_000_000_000u64).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the epoch cap of reference training (recipe.maxEpochs, --ref-max-epochs) must be 1 to 100,000, got 4,000,000,000"
        );
        assert_eq!(e.code(), "bad_setting");
        assert!(REFERENCES.check(1024u64).is_ok());
        assert!(REFERENCES.check(0u64).is_err());
    }

    #[test]
    fn parse_refuses_text_and_huge_numbers() {
        assert_eq!(PREDICT_BATCH_SIZE.parse("256").unwrap(), 256);
        assert!(PREDICT_BATCH_SIZE.parse("0").is_err());
        assert!(PREDICT_BATCH_SIZE.parse("4e9").is_err());
        let e = PREDICT_BATCH_SIZE
            .parse("340282366920938463463374607431768211456")
            .unwrap_err();
        assert!(e.to_string().contains("--batch-size"), "{e}");
    }

    #[test]
    fn shapes_never_wrap() {
        assert_eq!(shape_len(&[1, 8, 8]).unwrap(), 64);
        // 2^32 * 2^32 wraps a u64 to 0
        let e = shape_len(&[1 << 32, 1 << 32, 1]).unwrap_err();
        assert!(e.to_string().contains("--input-shape"), "{e}");
        let e = shape_len(&[1 << 20, 1 << 20]).unwrap_err();
        assert!(e.to_string().contains("more than 268,435,456"), "{e}");
        assert!(shape_len(&[0, 8]).is_err());
        assert!(shape_len(&[]).is_err());
        assert!(product(NOISE_COPIES, &[usize::MAX, usize::MAX], 1 << 28).is_err());
        assert_eq!(product(NOISE_COPIES, &[100, 64], 1 << 28).unwrap(), 6400);
    }

    /// README "Settings ranges" lists every range as declared here.
    #[test]
    fn readme_lists_every_range() {
        let readme = include_str!("../README.md");
        for r in ALL {
            let flag = r.flag.map(|f| format!("`{f}`")).unwrap_or_default();
            let row = format!(
                "| `{}`: {} | {flag} | {} to {} |",
                r.key,
                r.what,
                grouped(r.min.into()),
                grouped(r.max.into())
            );
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }

    #[test]
    fn table_is_consistent() {
        for r in ALL {
            assert!(r.min <= r.max, "{}", r.key);
            assert!(!r.what.is_empty());
            if let Some(f) = r.flag {
                assert!(f.starts_with("--"), "{f}");
            }
        }
    }
}
