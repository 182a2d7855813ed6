//! Release-pipeline flags shared by `audit`, `attribute`, `invert` and
//! `scan` (`--fail-on`, `--junit`, `--summary-md`), and the `diff`
//! subcommand. The core parses and evaluates (`privacy_inspector::gate`,
//! `report::ci`, `report::diff`); this module reads and writes files and
//! maps a failed gate to its own exit code ([`super::GATE_EXIT`]).

use super::{show, CliError};
use clap::Args;
use privacy_inspector::gate::{self, Condition};
use privacy_inspector::report::{ci, diff, Report};
use std::path::{Path, PathBuf};

/// `--fail-on`, `--junit`, `--summary-md`.
#[derive(Args, Debug)]
pub struct GateArgs {
    /// Fail (exit 3) when any of these conditions holds, after writing every
    /// output: guidance rule ids, 'any' (any rule fired), or figure
    /// conditions ATTACK.FIGURE[@LEVEL]OP NUMBER, e.g.
    /// 'lira_online.tpr@0.01>0.05,max.epsilon_lower_bound>1' (README "Gates")
    #[arg(long, value_name = "LIST")]
    pub fail_on: Option<String>,
    /// Also write JUnit XML: each guidance rule and each gate a test case
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// Also write a short Markdown summary (lead figures, fired rules, gates)
    /// for a pull-request comment or a job summary
    #[arg(long, value_name = "OUT.md")]
    pub summary_md: Option<PathBuf>,
}

impl GateArgs {
    /// The parsed conditions, refused before any work when bad or when
    /// they name an attack the run does not run (`attacks`; empty for a run
    /// without a membership audit).
    pub fn conditions(
        &self,
        attacks: &[String],
        command: &str,
    ) -> Result<Vec<Condition>, CliError> {
        let Some(spec) = &self.fail_on else {
            return Ok(Vec::new());
        };
        let conds = gate::parse(spec).map_err(|e| CliError::Usage(e.to_string()))?;
        gate::check_attacks(&conds, attacks, command)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(conds)
    }

    /// The files `write` writes, for `files::check_outputs`.
    pub fn outputs(&self) -> Vec<(&'static str, &Path)> {
        let mut v: Vec<(&'static str, &Path)> = Vec::new();
        if let Some(p) = &self.junit {
            v.push(("--junit", p));
        }
        if let Some(p) = &self.summary_md {
            v.push(("--summary-md", p));
        }
        v
    }

    /// Write the JUnit XML and the Markdown summary (each atomically).
    pub fn write(&self, report: &Report) -> Result<(), CliError> {
        if let Some(p) = &self.junit {
            super::files::write_atomically(p, ci::junit(report).as_bytes())?;
        }
        if let Some(p) = &self.summary_md {
            super::files::write_atomically(p, ci::summary_md(report).as_bytes())?;
        }
        Ok(())
    }
}

/// Print the gates' outcomes and fail with the gate's exit code when any
/// condition did not pass. Call after every output is written.
pub fn verdict(report: &Report) -> Result<(), CliError> {
    let Some(g) = &report.gates else {
        return Ok(());
    };
    print!("\n{}", gate::render_text(g));
    if g.passed {
        return Ok(());
    }
    let failed: Vec<String> = g
        .failed()
        .map(|o| {
            format!(
                "{} ({}): {}",
                o.condition,
                gate::status_label(o.status),
                o.message
            )
        })
        .collect();
    Err(CliError::Gate(failed.join("; ")))
}

pub const DIFF_EXAMPLES: &str = "\
Compares two JSON reports (an earlier release OLD and the current NEW): per
attack and per headline figure (AUC, TPR at FPR 10%, 1%, 0.1%, epsilon lower
bound, advantage) the old and new values and the change. A change is marked
real only outside the sampling noise: AUC by a z-test on the DeLong variances
(paired DeLong test when both audits used the same records, known from the
records' SHA-256s), TPR by a two-proportion z-test, Holm-corrected over all
tests at 5%. The epsilon bound and the advantage are shown, not tested.
Also: the guidance rules that started or stopped firing, and whether the
audits are comparable (attacks, settings, data, seed, tool version).

Exit codes: 0 (also with regressions, unless --fail-on-regression), 3 with
--fail-on-regression when a real change for the worse exists, 2 bad input.

Examples:
  privacy-inspector diff release-41.json release-42.json
  privacy-inspector diff old.json new.json --html diff.html --summary-md diff.md --fail-on-regression";

/// `privacy-inspector diff OLD.json NEW.json`
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier report
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The current report
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Also write the comparison as a self-contained HTML page
    #[arg(long, value_name = "DIFF.html")]
    pub html: Option<PathBuf>,
    /// Also write the comparison as JSON
    #[arg(long, value_name = "DIFF.json")]
    pub json: Option<PathBuf>,
    /// Also write the comparison as short Markdown
    #[arg(long, value_name = "DIFF.md")]
    pub summary_md: Option<PathBuf>,
    /// Exit 3 when a real change for the worse exists
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Resource limits as JSON (README "Limits"): max_report_bytes applies
    #[arg(long, value_name = "LIMITS.json")]
    pub limits: Option<PathBuf>,
}

fn read_report(path: &Path, max: usize) -> Result<Report, CliError> {
    let bytes = super::files::read_bounded(
        path,
        max as u64,
        privacy_inspector::limits::Limit::ReportBytes,
    )?;
    privacy_inspector::report::read_json_with(&bytes, max).map_err(|source| CliError::Report {
        path: show(path),
        source,
    })
}

pub fn diff_cmd(args: &DiffArgs) -> Result<(), CliError> {
    let limits = super::read_limits(args.limits.as_deref())?;
    let mut inputs: Vec<(&str, &Path)> = vec![("OLD", &args.old), ("NEW", &args.new)];
    if let Some(p) = &args.limits {
        inputs.push(("--limits", p));
    }
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    for (flag, p) in [
        ("--html", &args.html),
        ("--json", &args.json),
        ("--summary-md", &args.summary_md),
    ] {
        if let Some(p) = p {
            outputs.push((flag, p));
        }
    }
    super::files::check_outputs(&inputs, &outputs)?;
    let old = read_report(&args.old, limits.max_report_bytes)?;
    let new = read_report(&args.new, limits.max_report_bytes)?;
    let d = diff::diff(&old, &new);
    if let Some(p) = &args.html {
        super::files::write_atomically(p, diff::render_html(&d, true).as_bytes())?;
    }
    if let Some(p) = &args.json {
        let json = serde_json::to_string_pretty(&d).map_err(|e| CliError::Output {
            path: show(p),
            message: e.to_string(),
        })?;
        super::files::write_atomically(p, json.as_bytes())?;
    }
    if let Some(p) = &args.summary_md {
        super::files::write_atomically(p, diff::render_md(&d).as_bytes())?;
    }
    print!("{}", diff::render_text(&d));
    if args.fail_on_regression && d.regression {
        let worse: Vec<String> = d
            .regressions()
            .map(|(a, f)| {
                format!(
                    "{a}.{}: {:.4} -> {:.4} (Holm p {:.4})",
                    f.figure,
                    f.old,
                    f.new,
                    f.p_holm.unwrap_or(f64::NAN)
                )
            })
            .collect();
        return Err(CliError::Gate(format!("regression: {}", worse.join("; "))));
    }
    Ok(())
}
