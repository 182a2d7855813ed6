//! Gates: the conditions a release must meet, parsed and evaluated by the
//! core so the CLI (`--fail-on`) and any other front door agree.
//!
//! Contract:
//! - [`parse`] reads a comma-separated list of conditions. Each is one of
//!   - `any`: trips when any guidance rule fired;
//!   - a guidance rule id ([`crate::guidance::RULE_IDS`], e.g.
//!     `low_fpr_tpr`): trips when that rule fired;
//!   - a figure condition `ATTACK.FIGURE[@LEVEL] OP NUMBER`, e.g.
//!     `lira_online.tpr@0.01>0.05`, `max.epsilon_lower_bound>1`,
//!     `loss.auc>=0.6`. `ATTACK` is a membership attack id
//!     ([`crate::attacks::membership::audit::ALL_ATTACKS`]) or `max` (the
//!     highest value over the attacks that ran; the outcome names the
//!     attack); `FIGURE` is one of [`FIGURES`] (`tpr` needs `@LEVEL`, one
//!     of the report's FPR levels 0.1, 0.01, 0.001); `OP` is `>`, `>=`,
//!     `<` or `<=`; `NUMBER` a finite number within the figure's range. The
//!     condition trips when `figure OP NUMBER` holds.
//!
//!   Errors ([`GateError`]) name the bad token and list the valid choices.
//! - [`evaluate`] checks every condition against a report and returns the
//!   [`Gates`] section (recorded in the report's JSON and shown in its
//!   HTML). Each outcome is `pass`, `tripped`, `unresolvable` or
//!   `not_evaluated`; the gate passes only when every outcome is `pass`
//!   (fail closed):
//!   - `unresolvable`: a TPR at an FPR level the non-members cannot resolve
//!     (level x non-members < 1; e.g. 0.001 with fewer than 1,000
//!     non-members). The figure cannot show the condition either way, so
//!     the gate says so and fails rather than passing silently. With `max`,
//!     the maximum runs over the attacks where the level is resolvable.
//!   - `not_evaluated`: the figure or rule is not in the report (the attack
//!     was skipped, the rule could not be evaluated); the reason is given.
//!
//!   [`check_attacks`] refuses, before any work, figure conditions on
//!   attacks the run will not run.
//! - [`render_text`] gives the outcomes as plain text for the CLI.
//!
//! Pure: no clocks, no randomness, no I/O.

use crate::attacks::membership::audit::ALL_ATTACKS;
use crate::guidance::{Status, RULE_IDS};
use crate::report::Report;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use thiserror::Error;

/// A bad `--fail-on` expression; the message names the bad token.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GateError {
    #[error("--fail-on: {0}")]
    Invalid(String),
}

impl GateError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "bad_gate"
    }
}

/// A comparison of a figure with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    /// Whether `figure OP threshold` holds.
    pub fn holds(self, figure: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => figure > threshold,
            Op::Ge => figure >= threshold,
            Op::Lt => figure < threshold,
            Op::Le => figure <= threshold,
        }
    }
}

/// A figure of an attack's statistics that a condition can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Auc,
    AucCiLow,
    AucCiHigh,
    Advantage,
    Tpr,
    EpsilonLowerBound,
}

/// Every figure: its name in an expression, whether it takes `@LEVEL`, its
/// range (thresholds outside it are refused), and what it is.
pub const FIGURES: [(&str, Figure, bool, f64, f64, &str); 6] = [
    ("auc", Figure::Auc, false, 0.0, 1.0, "AUC"),
    (
        "auc_ci_low",
        Figure::AucCiLow,
        false,
        0.0,
        1.0,
        "lower end of the AUC's DeLong 95% CI",
    ),
    (
        "auc_ci_high",
        Figure::AucCiHigh,
        false,
        0.0,
        1.0,
        "upper end of the AUC's DeLong 95% CI",
    ),
    (
        "advantage",
        Figure::Advantage,
        false,
        0.0,
        1.0,
        "membership advantage max(TPR - FPR)",
    ),
    ("tpr", Figure::Tpr, true, 0.0, 1.0, "TPR at an FPR level"),
    (
        "epsilon_lower_bound",
        Figure::EpsilonLowerBound,
        false,
        0.0,
        f64::MAX,
        "empirical epsilon lower bound",
    ),
];

/// The FPR levels a `tpr@LEVEL` can name (the report's resolvable-or-not
/// levels; FPR 0 is never resolvable).
pub const LEVELS: [(&str, f64); 3] = [("0.1", 0.1), ("0.01", 0.01), ("0.001", 0.001)];

/// Which attack a figure condition reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttackSel {
    /// The highest value over the attacks that ran.
    Max,
    Attack(String),
}

/// A condition on a figure of the membership attacks.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureCondition {
    pub attack: AttackSel,
    pub figure: Figure,
    /// The report's key of the FPR level (`tpr` only).
    pub level: Option<&'static str>,
    pub op: Op,
    pub threshold: f64,
}

/// One condition of a gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Any guidance rule fired.
    AnyRule,
    /// This guidance rule fired.
    Rule(&'static str),
    Figure(FigureCondition),
}

impl Condition {
    /// The condition written back in the grammar (normalised: no spaces).
    pub fn text(&self) -> String {
        match self {
            Condition::AnyRule => "any".into(),
            Condition::Rule(id) => (*id).into(),
            Condition::Figure(f) => {
                let attack = match &f.attack {
                    AttackSel::Max => "max",
                    AttackSel::Attack(a) => a.as_str(),
                };
                let name = figure_name(f.figure);
                let level = f.level.map(|l| format!("@{l}")).unwrap_or_default();
                format!(
                    "{attack}.{name}{level}{}{}",
                    f.op.symbol(),
                    fmt_num(f.threshold)
                )
            }
        }
    }
}

fn figure_name(f: Figure) -> &'static str {
    FIGURES
        .iter()
        .find(|x| x.1 == f)
        .map(|x| x.0)
        .unwrap_or("?")
}

fn fmt_num(v: f64) -> String {
    // shortest form that reads back to the same f64
    format!("{v}")
}

fn bad(msg: String) -> GateError {
    GateError::Invalid(msg)
}

const EXAMPLE: &str = "e.g. lira_online.tpr@0.01>0.05, max.epsilon_lower_bound>1, loss.auc>=0.6";

/// Parse a comma-separated list of conditions (see the module docs).
pub fn parse(spec: &str) -> Result<Vec<Condition>, GateError> {
    if spec.trim().is_empty() {
        return Err(bad(format!(
            "no condition given; use 'any', a guidance rule ({}) or a figure condition ({EXAMPLE})",
            RULE_IDS.join(", ")
        )));
    }
    let mut out = Vec::new();
    for item in spec.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad(format!("empty condition in '{spec}'")));
        }
        let c = parse_one(item)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

fn parse_one(item: &str) -> Result<Condition, GateError> {
    let Some(pos) = item.find(['<', '>']) else {
        if item == "any" {
            return Ok(Condition::AnyRule);
        }
        if let Some(id) = RULE_IDS.iter().find(|r| **r == item) {
            return Ok(Condition::Rule(id));
        }
        if item.contains(['=', '!']) {
            return Err(bad(format!(
                "'{item}' has no comparison the gates know: use >, >=, < or <= ({EXAMPLE})"
            )));
        }
        return Err(bad(format!(
            "'{item}' is not a guidance rule ({}), 'any', or a figure condition ({EXAMPLE})",
            RULE_IDS.join(", ")
        )));
    };
    let (lhs, rest) = item.split_at(pos);
    let (op, rhs) = match rest.as_bytes() {
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', ..] => (Op::Gt, &rest[1..]),
        _ => (Op::Lt, &rest[1..]),
    };
    let (lhs, rhs) = (lhs.trim(), rhs.trim());
    let Some((attack, fig)) = lhs.split_once('.') else {
        return Err(bad(format!(
            "'{lhs}' in '{item}' is not ATTACK.FIGURE (ATTACK: max or one of {}; FIGURE: {})",
            ALL_ATTACKS.join(", "),
            figure_list()
        )));
    };
    let attack = match attack.trim() {
        "max" => AttackSel::Max,
        a if ALL_ATTACKS.contains(&a) => AttackSel::Attack(a.to_string()),
        a => {
            return Err(bad(format!(
                "unknown attack '{a}' in '{item}'; use max or one of {}",
                ALL_ATTACKS.join(", ")
            )))
        }
    };
    let (name, level) = match fig.split_once('@') {
        Some((n, l)) => (n.trim(), Some(l.trim())),
        None => (fig.trim(), None),
    };
    let Some(&(_, figure, needs_level, lo, hi, _)) = FIGURES.iter().find(|f| f.0 == name) else {
        return Err(bad(format!(
            "unknown figure '{name}' in '{item}'; figures: {}",
            figure_list()
        )));
    };
    let levels = || LEVELS.iter().map(|l| l.0).collect::<Vec<_>>().join(", ");
    let level = match (needs_level, level) {
        (true, None) => {
            return Err(bad(format!(
                "'{name}' in '{item}' needs an FPR level: {name}@0.01 (levels {})",
                levels()
            )))
        }
        (false, Some(l)) => {
            return Err(bad(format!(
                "'{name}' in '{item}' takes no level, got '@{l}'"
            )))
        }
        (false, None) => None,
        (true, Some(l)) => {
            let v: Option<f64> = l.parse().ok();
            match LEVELS.iter().find(|x| Some(x.1) == v) {
                Some(x) => Some(x.0),
                None => {
                    return Err(bad(format!(
                        "'{l}' in '{item}' is not one of the report's FPR levels {}",
                        levels()
                    )))
                }
            }
        }
    };
    let threshold: f64 = rhs.parse().map_err(|_| {
        bad(format!(
            "'{rhs}' in '{item}' is not a number (after {})",
            op.symbol()
        ))
    })?;
    if !(threshold.is_finite() && (lo..=hi).contains(&threshold)) {
        let range = if hi == f64::MAX {
            format!("a finite number >= {lo}")
        } else {
            format!("in [{lo}, {hi}]")
        };
        return Err(bad(format!(
            "the threshold {rhs} in '{item}' is out of range: {name} is {range}"
        )));
    }
    Ok(Condition::Figure(FigureCondition {
        attack,
        figure,
        level,
        op,
        threshold,
    }))
}

fn figure_list() -> String {
    FIGURES
        .iter()
        .map(|f| {
            if f.2 {
                format!("{}@LEVEL", f.0)
            } else {
                f.0.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuse, before any work, figure conditions on an attack the run will
/// not run (`attacks`: the ids the run's settings name; empty for a run
/// with no membership audit, such as `scan`, `attribute` or `invert`).
pub fn check_attacks(
    conds: &[Condition],
    attacks: &[String],
    command: &str,
) -> Result<(), GateError> {
    for c in conds {
        let Condition::Figure(f) = c else { continue };
        if attacks.is_empty() {
            return Err(bad(format!(
                "'{}' is a condition on membership attacks, which `{command}` does not run; use guidance rules ({}) or any",
                c.text(),
                RULE_IDS.join(", ")
            )));
        }
        if let AttackSel::Attack(a) = &f.attack {
            if !attacks.contains(a) {
                return Err(bad(format!(
                    "'{}' names attack '{a}', which this run does not run (attacks: {})",
                    c.text(),
                    attacks.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The outcome of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    /// The condition does not hold.
    Pass,
    /// The condition holds: the gate fails.
    Tripped,
    /// A TPR at an FPR level the non-members cannot resolve: the gate
    /// fails, since the figure cannot show the condition either way.
    Unresolvable,
    /// The figure or rule is not in the report: the gate fails.
    NotEvaluated,
}

/// One condition's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    /// The condition in the grammar (normalised).
    pub condition: String,
    pub status: GateStatus,
    /// The figure compared (for `any`: the number of rules that fired).
    pub figure: Option<f64>,
    /// The attack the figure comes from, or the guidance rule.
    pub source: Option<String>,
    /// ">", ">=", "<" or "<=": trips when `figure <comparison> threshold`.
    pub comparison: Option<String>,
    pub threshold: Option<f64>,
    /// What was found, in plain language.
    pub message: String,
}

/// The gates section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// Every condition's outcome passed.
    pub passed: bool,
    pub outcomes: Vec<GateOutcome>,
}

impl Gates {
    /// The outcomes that failed the gate.
    pub fn failed(&self) -> impl Iterator<Item = &GateOutcome> {
        self.outcomes
            .iter()
            .filter(|o| o.status != GateStatus::Pass)
    }
}

/// Evaluate every condition on a report (see the module docs).
pub fn evaluate(report: &Report, conds: &[Condition]) -> Gates {
    let outcomes: Vec<GateOutcome> = conds.iter().map(|c| evaluate_one(report, c)).collect();
    Gates {
        passed: outcomes.iter().all(|o| o.status == GateStatus::Pass),
        outcomes,
    }
}

fn outcome(c: &Condition, status: GateStatus, message: String) -> GateOutcome {
    GateOutcome {
        condition: c.text(),
        status,
        figure: None,
        source: None,
        comparison: None,
        threshold: None,
        message,
    }
}

fn evaluate_one(report: &Report, c: &Condition) -> GateOutcome {
    match c {
        Condition::AnyRule => {
            let Some(g) = &report.guidance else {
                return outcome(
                    c,
                    GateStatus::NotEvaluated,
                    "the report has no guidance section".into(),
                );
            };
            let fired: Vec<String> = g
                .fired()
                .map(|r| match &r.figure {
                    Some(f) => format!("{} ({} = {})", r.id, f.name, fmt_fig(f.value)),
                    None => r.id.clone(),
                })
                .collect();
            let n = fired.len();
            GateOutcome {
                figure: Some(n as f64),
                comparison: Some(">".into()),
                threshold: Some(0.0),
                source: Some("guidance".into()),
                ..outcome(
                    c,
                    if n > 0 {
                        GateStatus::Tripped
                    } else {
                        GateStatus::Pass
                    },
                    if n > 0 {
                        format!("{n} guidance rules fired: {}", fired.join(", "))
                    } else {
                        "no guidance rule fired".into()
                    },
                )
            }
        }
        Condition::Rule(id) => {
            let Some(r) = report.guidance.as_ref().and_then(|g| g.rule(id)) else {
                return outcome(
                    c,
                    GateStatus::NotEvaluated,
                    format!("the report has no guidance rule '{id}'"),
                );
            };
            let base = GateOutcome {
                figure: r.figure.as_ref().map(|f| f.value),
                source: Some(r.id.clone()),
                comparison: r.threshold.as_ref().map(|t| t.comparison.clone()),
                threshold: r.threshold.as_ref().map(|t| t.bound),
                ..outcome(c, GateStatus::Pass, String::new())
            };
            let desc = match (&r.figure, &r.threshold) {
                (Some(f), Some(t)) => format!(
                    "{} = {} (threshold {} {}, key {})",
                    f.name,
                    fmt_fig(f.value),
                    t.comparison,
                    fmt_fig(t.bound),
                    t.key
                ),
                _ => String::new(),
            };
            match r.status {
                Status::Fired => GateOutcome {
                    status: GateStatus::Tripped,
                    message: format!("guidance rule {id} fired: {desc}"),
                    ..base
                },
                Status::Clear => GateOutcome {
                    message: format!("guidance rule {id} is clear: {desc}"),
                    ..base
                },
                Status::NotEvaluated => GateOutcome {
                    status: GateStatus::NotEvaluated,
                    message: format!(
                        "guidance rule {id} was not evaluated: {}",
                        r.reason.as_deref().unwrap_or("no reason given")
                    ),
                    ..base
                },
            }
        }
        Condition::Figure(f) => evaluate_figure(report, c, f),
    }
}

/// A figure as messages and summaries show it.
pub(crate) fn fmt_fig(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 0.001 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// The figure of one attack's statistics: `Ok(value)`, or `Err(reason)`
/// when the level is not resolvable.
fn read_figure(
    s: &crate::stats::AttackStats,
    figure: Figure,
    level: Option<&str>,
) -> Result<f64, String> {
    Ok(match figure {
        Figure::Auc => s.auc,
        Figure::AucCiLow => s.auc_ci95[0],
        Figure::AucCiHigh => s.auc_ci95[1],
        Figure::Advantage => s.advantage,
        Figure::EpsilonLowerBound => s.epsilon_lower_bound,
        Figure::Tpr => {
            let key = level.unwrap_or("0.01");
            let p = s
                .tpr_at_fpr
                .get(key)
                .ok_or_else(|| format!("the report has no TPR at FPR {key}"))?;
            if !p.resolvable {
                let need = (1.0 / p.level).ceil();
                return Err(format!(
                    "TPR at FPR {key} is not resolvable with {} non-members (it needs at least {need}): the audit cannot show this condition either way",
                    s.n_nonmembers
                ));
            }
            p.tpr
        }
    })
}

fn evaluate_figure(report: &Report, c: &Condition, f: &FigureCondition) -> GateOutcome {
    let ran: Vec<(&str, &crate::stats::AttackStats)> = report
        .attacks
        .iter()
        .filter_map(|a| a.stats.as_ref().map(|s| (a.id.as_str(), s)))
        .collect();
    let picked: Result<(String, f64), (GateStatus, String)> = match &f.attack {
        AttackSel::Attack(id) => match report.attacks.iter().find(|a| &a.id == id) {
            None => Err((
                GateStatus::NotEvaluated,
                format!(
                    "attack {id} is not in the report (attacks: {})",
                    if report.attacks.is_empty() {
                        "none".to_string()
                    } else {
                        report
                            .attacks
                            .iter()
                            .map(|a| a.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
            Some(a) => match &a.stats {
                None => Err((
                    GateStatus::NotEvaluated,
                    format!(
                        "attack {id} was skipped: {}",
                        a.skipped.as_deref().unwrap_or("no reason given")
                    ),
                )),
                Some(s) => read_figure(s, f.figure, f.level)
                    .map(|v| (id.clone(), v))
                    .map_err(|e| (GateStatus::Unresolvable, e)),
            },
        },
        AttackSel::Max => {
            let mut best: Option<(String, f64)> = None;
            let mut unresolvable = None;
            for (id, s) in &ran {
                match read_figure(s, f.figure, f.level) {
                    Ok(v) => {
                        if best.as_ref().map_or(true, |b| v > b.1) {
                            best = Some((id.to_string(), v));
                        }
                    }
                    Err(e) => unresolvable = Some(e),
                }
            }
            match (best, unresolvable) {
                (Some(b), _) => Ok(b),
                (None, Some(e)) => Err((GateStatus::Unresolvable, e)),
                (None, None) => Err((
                    GateStatus::NotEvaluated,
                    "no membership attack ran in this report".into(),
                )),
            }
        }
    };
    let name = figure_name(f.figure);
    let shown = match f.level {
        Some(l) => format!("{name}@{l}"),
        None => name.to_string(),
    };
    let base = GateOutcome {
        comparison: Some(f.op.symbol().into()),
        threshold: Some(f.threshold),
        ..outcome(c, GateStatus::Pass, String::new())
    };
    match picked {
        Err((status, message)) => GateOutcome {
            status,
            message,
            ..base
        },
        Ok((id, v)) => {
            let holds = f.op.holds(v, f.threshold);
            let of = if f.attack == AttackSel::Max {
                format!("max over attacks: {id}")
            } else {
                id.clone()
            };
            GateOutcome {
                status: if holds {
                    GateStatus::Tripped
                } else {
                    GateStatus::Pass
                },
                figure: Some(v),
                source: Some(id),
                message: format!(
                    "{shown} = {} ({of}) {} {} {}",
                    fmt_fig(v),
                    if holds { "is" } else { "is not" },
                    f.op.symbol(),
                    fmt_num(f.threshold)
                ),
                ..base
            }
        }
    }
}

/// The label of a status (as in the JSON).
pub fn status_label(s: GateStatus) -> &'static str {
    match s {
        GateStatus::Pass => "pass",
        GateStatus::Tripped => "tripped",
        GateStatus::Unresolvable => "unresolvable",
        GateStatus::NotEvaluated => "not_evaluated",
    }
}

/// The outcomes as plain text, one line each, for the CLI.
pub fn render_text(g: &Gates) -> String {
    let mut s = format!(
        "Gates: {}\n",
        if g.passed {
            "passed"
        } else {
            "FAILED (the report is written in full)"
        }
    );
    for o in &g.outcomes {
        let _ = writeln!(
            s,
            "  {:<13} {}: {}",
            status_label(o.status),
            o.condition,
            o.message
        );
    }
    s
}

/// The outcomes as an HTML fragment (`<section class="gates">`), every
/// text escaped.
pub fn render_html(g: &Gates) -> String {
    use crate::report::html::esc;
    let mut h = format!(
        "<section class=\"gates\" data-testid=\"gates\"><h2>Gates: {}</h2><table><thead><tr><th>condition</th><th>outcome</th><th>figure</th><th>threshold</th><th>what was found</th></tr></thead><tbody>",
        if g.passed { "passed" } else { "failed" }
    );
    for o in &g.outcomes {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.condition),
            if o.status == GateStatus::Pass { "" } else { "flag" },
            status_label(o.status),
            o.figure.map(fmt_fig).unwrap_or_default(),
            match (&o.comparison, o.threshold) {
                (Some(c), Some(t)) => esc(&format!("{c} {}", fmt_num(t))),
                _ => String::new(),
            },
            esc(&o.message)
        );
    }
    h.push_str("</tbody></table></section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(s: &str) -> Vec<String> {
        parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .iter()
            .map(Condition::text)
            .collect()
    }

    #[track_caller]
    fn err(s: &str, needles: &[&str]) {
        let e = parse(s).expect_err(s).to_string();
        for n in needles {
            assert!(e.contains(n), "'{s}' -> '{e}' lacks '{n}'");
        }
    }

    #[test]
    fn good_expressions_parse_and_print_back() {
        assert_eq!(ok("any"), ["any"]);
        assert_eq!(
            ok("embedded_records, low_fpr_tpr"),
            ["embedded_records", "low_fpr_tpr"]
        );
        assert_eq!(
            ok("lira_online.tpr@0.01>0.05"),
            ["lira_online.tpr@0.01>0.05"]
        );
        assert_eq!(
            ok(" max.epsilon_lower_bound > 1 ,loss.auc>=0.6"),
            ["max.epsilon_lower_bound>1", "loss.auc>=0.6"]
        );
        assert_eq!(ok("gap.advantage<=0.25"), ["gap.advantage<=0.25"]);
        assert_eq!(ok("loss.auc_ci_low<0.5"), ["loss.auc_ci_low<0.5"]);
        assert_eq!(ok("max.tpr@1e-3>0"), ["max.tpr@0.001>0"]);
        // duplicates collapse
        assert_eq!(ok("any,any"), ["any"]);
        let c = parse("rmia_offline.tpr@0.1>=0.2").unwrap();
        assert_eq!(
            c,
            [Condition::Figure(FigureCondition {
                attack: AttackSel::Attack("rmia_offline".into()),
                figure: Figure::Tpr,
                level: Some("0.1"),
                op: Op::Ge,
                threshold: 0.2
            })]
        );
    }

    #[test]
    fn bad_expressions_name_the_token_and_the_choices() {
        err("", &["no condition", "low_fpr_tpr"]);
        err("any,,loss.auc>0.6", &["empty condition"]);
        err("lowfpr", &["'lowfpr'", "low_fpr_tpr", "any"]);
        err("loss.auc=0.6", &["'loss.auc=0.6'", ">="]);
        err(
            "lira.tpr@0.01>0.05",
            &["unknown attack 'lira'", "lira_online"],
        );
        err(
            "loss.aucc>0.6",
            &["unknown figure 'aucc'", "tpr@LEVEL", "epsilon_lower_bound"],
        );
        err("loss.tpr>0.1", &["needs an FPR level", "0.001"]);
        err("loss.auc@0.1>0.5", &["takes no level", "@0.1"]);
        err("loss.tpr@0.05>0.1", &["'0.05'", "0.1, 0.01, 0.001"]);
        err("loss.tpr@0>0.1", &["'0'"]);
        err(
            "loss.auc>high",
            &["'high' in 'loss.auc>high' is not a number"],
        );
        err("loss.auc>", &["'' in 'loss.auc>' is not a number"]);
        err("loss.auc>1.5", &["out of range", "[0, 1]"]);
        err("loss.auc>NaN", &["out of range"]);
        err("max.epsilon_lower_bound>-1", &["out of range", ">= 0"]);
        err("auc>0.6", &["'auc'", "ATTACK.FIGURE"]);
    }

    #[test]
    fn attacks_outside_the_run_are_refused_before_work() {
        let c = parse("loss.auc>0.6,max.auc>0.7").unwrap();
        assert!(check_attacks(&c, &["loss".into()], "audit").is_ok());
        let e = check_attacks(&c, &["gap".into()], "audit").unwrap_err();
        assert!(e.to_string().contains("'loss'"), "{e}");
        let e = check_attacks(&parse("max.auc>0.7").unwrap(), &[], "scan").unwrap_err();
        assert!(e.to_string().contains("`scan` does not run"), "{e}");
        assert!(check_attacks(&parse("any,metadata").unwrap(), &[], "scan").is_ok());
    }

    #[test]
    fn ops_compare() {
        assert!(Op::Gt.holds(0.6, 0.5) && !Op::Gt.holds(0.5, 0.5));
        assert!(Op::Ge.holds(0.5, 0.5) && !Op::Ge.holds(0.4, 0.5));
        assert!(Op::Lt.holds(0.4, 0.5) && !Op::Lt.holds(0.5, 0.5));
        assert!(Op::Le.holds(0.5, 0.5) && !Op::Le.holds(0.6, 0.5));
    }
}
