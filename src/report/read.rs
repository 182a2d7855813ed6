//! Reading a JSON report back ([`read_json`]): the inverse of
//! `Report::to_json`, for files that may come from anyone.
//!
//! Contract: the bytes are at most `max_report_bytes` (see
//! [`crate::limits`]), parse as the report's JSON (unknown keys are
//! ignored, missing ones are errors), and pass [`validate`], which checks
//! everything the HTML rendering and the page rely on:
//! - the tool is `privacy-inspector`, the model SHA-256 is 64 hex digits
//!   (for an audit from predictions: absent, and every predictions file's
//!   SHA-256 is 64 hex digits),
//!   the seed at most `MAX_SEED` (2^53 - 1);
//! - each attack id is known; an attack is either skipped (no statistics,
//!   no scores) or has both, with as many scores as its counts say;
//! - rates (AUC and its CI, TPR, FPR, ROC points) are finite and in
//!   [0, 1]; the ROC's FPR and TPR have the same length; the TPR@FPR
//!   levels "0.1", "0.01" and "0.001" are present;
//! - the per-record table (`records`) has one entry per level, attack and
//!   record (the counts), flagged rows in range, and names only attacks
//!   with scores;
//! - attribute inference: one representative, prior and true count per
//!   candidate value, a square confusion table of that size;
//! - model inversion: each reconstruction holds the product of its shape
//!   (and of the image layout, when it is an image) values.
//!
//! Errors name the field path (`attacks[2].stats.auc`) and the value.
//! Floats are read back with serde_json's parser, which may differ from the
//! written value in the last bit; compare figures with a tolerance.

use super::Report;
use crate::attacks::inversion::ImageLayout;
use crate::attacks::membership::audit::{ALL_ATTACKS, MAX_SEED};
use crate::limits::{Limit, LimitExceeded, DEFAULT_MAX_REPORT_BYTES};
use crate::stats::AttackStats;
use thiserror::Error;

/// Errors of [`read_json`]; `code()` is stable.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReportError {
    #[error(
        "not a privacy-inspector report: JSON error at line {line}, column {column}: {message}"
    )]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid report: {field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

impl ReportError {
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::Json { .. } => "report_not_json",
            ReportError::Invalid { .. } => "report_invalid",
            ReportError::Limit(e) => e.code(),
        }
    }
}

/// Read and validate a JSON report with the default size limit.
pub fn read_json(bytes: &[u8]) -> Result<Report, ReportError> {
    read_json_with(bytes, DEFAULT_MAX_REPORT_BYTES)
}

/// Read and validate a JSON report of at most `max_bytes` bytes.
pub fn read_json_with(bytes: &[u8], max_bytes: usize) -> Result<Report, ReportError> {
    LimitExceeded::check(Limit::ReportBytes, bytes.len() as u128, max_bytes as u128)?;
    let report: Report = serde_json::from_slice(bytes).map_err(|e| ReportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    validate(&report)?;
    Ok(report)
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn rate(field: &str, v: f64) -> Result<(), ReportError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(field, format!("{v} is not a rate in [0, 1]")))
    }
}

fn rates(field: &str, v: &[f64]) -> Result<(), ReportError> {
    for (i, &x) in v.iter().enumerate() {
        rate(&format!("{field}[{i}]"), x)?;
    }
    Ok(())
}

/// Check what the rendering and the page rely on (see the module docs).
pub fn validate(r: &Report) -> Result<(), ReportError> {
    if r.tool.name != "privacy-inspector" {
        return Err(invalid(
            "tool.name",
            format!("'{}' is not privacy-inspector", r.tool.name),
        ));
    }
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match &r.predictions {
        None if !hex64(&r.model.sha256) => {
            return Err(invalid(
                "model.sha256",
                format!("'{}' is not 64 hex digits", r.model.sha256),
            ));
        }
        None => {}
        Some(p) => {
            if !r.model.sha256.is_empty() {
                return Err(invalid(
                    "model.sha256",
                    "an audit from predictions has no model SHA-256",
                ));
            }
            if p.files.is_empty() {
                return Err(invalid("predictions.files", "no predictions file"));
            }
            for (i, f) in p.files.iter().enumerate() {
                if !hex64(&f.sha256) {
                    return Err(invalid(
                        format!("predictions.files[{i}].sha256"),
                        format!("'{}' is not 64 hex digits", f.sha256),
                    ));
                }
            }
        }
    }
    if r.seed > MAX_SEED {
        return Err(invalid(
            "seed",
            format!("{} is over 2^53 - 1 = {MAX_SEED}", r.seed),
        ));
    }
    for (i, a) in r.attacks.iter().enumerate() {
        let at = format!("attacks[{i}]");
        if !ALL_ATTACKS.contains(&a.id.as_str()) {
            return Err(invalid(
                format!("{at}.id"),
                format!("unknown attack '{}'", a.id),
            ));
        }
        match (&a.skipped, &a.stats, &a.scores) {
            (Some(_), None, None) => {}
            (None, Some(s), Some(sc)) => {
                check_stats(&format!("{at}.stats"), s)?;
                for (set, v, n) in [
                    ("members", &sc.members, s.n_members),
                    ("nonmembers", &sc.nonmembers, s.n_nonmembers),
                ] {
                    if v.len() != n {
                        return Err(invalid(
                            format!("{at}.scores.{set}"),
                            format!("{} scores, the statistics count {n}", v.len()),
                        ));
                    }
                }
            }
            _ => {
                return Err(invalid(
                    at,
                    "an attack is either skipped (no stats, no scores) or has stats and scores",
                ))
            }
        }
    }
    if let Some(t) = &r.records {
        t.validate(r.counts.members, r.counts.nonmembers)
            .map_err(|(field, message)| invalid(format!("records.{field}"), message))?;
        for (i, a) in t.attacks.iter().enumerate() {
            if !r.attacks.iter().any(|x| x.id == a.id && x.scores.is_some()) {
                return Err(invalid(
                    format!("records.attacks[{i}].id"),
                    format!("'{}' is not an attack with scores in this report", a.id),
                ));
            }
        }
    }
    if let Some(a) = &r.attribute {
        let k = a.values.len();
        for (field, n) in [
            ("representatives", a.representatives.len()),
            ("prior", a.prior.len()),
            ("members.true_counts", a.members.true_counts.len()),
            ("nonmembers.true_counts", a.nonmembers.true_counts.len()),
            ("members.confusion", a.members.confusion.len()),
            ("nonmembers.confusion", a.nonmembers.confusion.len()),
        ] {
            if n != k {
                return Err(invalid(
                    format!("attribute.{field}"),
                    format!("{n} entries for {k} candidate values"),
                ));
            }
        }
        for (set, f) in [("members", &a.members), ("nonmembers", &a.nonmembers)] {
            if let Some(i) = f.confusion.iter().position(|row| row.len() != k) {
                return Err(invalid(
                    format!("attribute.{set}.confusion[{i}]"),
                    format!("{} entries for {k} candidate values", f.confusion[i].len()),
                ));
            }
        }
    }
    if let Some(inv) = &r.inversion {
        let layout_len = match inv.layout {
            ImageLayout::Nchw { c, h, w } | ImageLayout::Nhwc { h, w, c } => {
                Some(c.checked_mul(h).and_then(|v| v.checked_mul(w)))
            }
            ImageLayout::Flat => None,
        };
        for (i, c) in inv.classes.iter().enumerate() {
            let at = format!("inversion.classes[{i}]");
            let n = c
                .shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d));
            if n != Some(c.reconstruction.len()) {
                return Err(invalid(
                    format!("{at}.reconstruction"),
                    format!("{} values for shape {:?}", c.reconstruction.len(), c.shape),
                ));
            }
            if let Some(len) = layout_len {
                if len != Some(c.reconstruction.len()) {
                    return Err(invalid(
                        "inversion.layout",
                        format!(
                            "{:?} does not hold the {} values of {at}",
                            inv.layout,
                            c.reconstruction.len()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_stats(at: &str, s: &AttackStats) -> Result<(), ReportError> {
    rate(&format!("{at}.auc"), s.auc)?;
    rates(&format!("{at}.auc_ci95"), &s.auc_ci95)?;
    rate(&format!("{at}.advantage_tpr"), s.advantage_tpr)?;
    rate(&format!("{at}.advantage_fpr"), s.advantage_fpr)?;
    if s.roc.fpr.len() != s.roc.tpr.len() {
        return Err(invalid(
            format!("{at}.roc"),
            format!("{} FPR and {} TPR values", s.roc.fpr.len(), s.roc.tpr.len()),
        ));
    }
    rates(&format!("{at}.roc.fpr"), &s.roc.fpr)?;
    rates(&format!("{at}.roc.tpr"), &s.roc.tpr)?;
    for level in ["0.1", "0.01", "0.001"] {
        let p = s.tpr_at_fpr.get(level).ok_or_else(|| {
            invalid(
                format!("{at}.tpr_at_fpr_detail"),
                format!("the level \"{level}\" is missing"),
            )
        })?;
        rate(&format!("{at}.tpr_at_fpr_detail.\"{level}\".tpr"), p.tpr)?;
        rate(&format!("{at}.tpr_at_fpr_detail.\"{level}\".fpr"), p.fpr)?;
    }
    for (k, &v) in &s.tpr_at_fpr_values {
        rate(&format!("{at}.tpr_at_fpr.\"{k}\""), v)?;
    }
    for (i, c) in s.per_class.iter().enumerate() {
        if let Some(v) = c.auc {
            rate(&format!("{at}.per_class[{i}].auc"), v)?;
        }
        if let Some(ci) = &c.auc_ci95 {
            rates(&format!("{at}.per_class[{i}].auc_ci95"), ci)?;
        }
    }
    if !s.epsilon_lower_bound.is_finite() || s.epsilon_lower_bound < 0.0 {
        return Err(invalid(
            format!("{at}.epsilon_lower_bound"),
            format!("{} is not a finite value >= 0", s.epsilon_lower_bound),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_codes_and_positions() {
        let e = read_json(b"{\"tool\": ").unwrap_err();
        assert_eq!(e.code(), "report_not_json");
        assert!(matches!(e, ReportError::Json { line: 1, .. }), "{e:?}");
        let e = read_json_with(b"{}", 1).unwrap_err();
        assert_eq!(e.code(), "report_too_large");
        assert_eq!(
            e.to_string(),
            "the report file has 2 bytes, over the limit max_report_bytes = 1"
        );
    }
}
