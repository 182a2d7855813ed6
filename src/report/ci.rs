//! Outputs CI systems read, from one report: JUnit XML ([`junit`]) and a
//! short Markdown summary ([`summary_md`]) for a pull-request comment or a
//! job summary. The CLI writes them (`--junit`, `--summary-md`); any other
//! front door asks the same functions, so they agree.
//!
//! JUnit: one `<testsuite name="guidance">` with a `<testcase>` per
//! guidance rule (fired = `<failure>` carrying the figure and threshold,
//! not evaluated = `<skipped>` with the reason, clear = passed) and, when
//! the report has gates, one `<testsuite name="gates">` with a
//! `<testcase>` per condition (anything but `pass` = `<failure>` with the
//! figure and threshold). Every text is escaped for XML ([`xml_esc`]:
//! markup characters as entities, characters XML 1.0 forbids replaced by
//! U+FFFD), so names from a report cannot break the document.
//!
//! Markdown: the lead figures of each attack that ran, the fired rules and
//! the gate outcomes; table cells escape `|`, `<`, `>` and `&`
//! ([`md_esc`]).

use super::Report;
use crate::gate::{fmt_fig as num, status_label, GateStatus};
use crate::guidance::Status;
use std::fmt::Write;

/// Text escaped for an XML attribute or element: `& < > " '` as entities,
/// control characters XML 1.0 does not allow (all below U+0020 except tab,
/// newline, carriage return; U+FFFE, U+FFFF) as U+FFFD.
pub fn xml_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown table cell: `|` escaped, `& < >` as HTML entities
/// (Markdown renderers pass raw HTML through), line breaks as spaces.
pub fn md_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown code span in a table cell: backticks (which would
/// end the span) as `'`, `|` escaped, line breaks as spaces; entities are
/// not decoded inside code spans, so nothing else is escaped.
pub fn md_code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' => "'".to_string(),
            '|' => "\\|".to_string(),
            '\n' | '\r' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

struct Case {
    class: String,
    name: String,
    /// (message, body) of a failure
    failure: Option<(String, String)>,
    skipped: Option<String>,
}

fn suite(x: &mut String, name: &str, cases: &[Case]) {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        xml_esc(name),
        cases.len()
    );
    for c in cases {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_esc(&c.class),
            xml_esc(&c.name)
        );
        match (&c.failure, &c.skipped) {
            (Some((m, body)), _) => {
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml_esc(m),
                    xml_esc(body)
                );
            }
            (None, Some(reason)) => {
                let _ = writeln!(
                    x,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml_esc(reason)
                );
            }
            (None, None) => x.push_str("/>\n"),
        }
    }
    x.push_str("  </testsuite>\n");
}

/// The report as JUnit XML (see the module docs).
pub fn junit(r: &Report) -> String {
    let mut suites: Vec<(&str, Vec<Case>)> = Vec::new();
    if let Some(g) = &r.guidance {
        let cases = g
            .rules
            .iter()
            .map(|rule| {
                let group = serde_json::to_value(rule.group)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let cmp = match (&rule.figure, &rule.threshold) {
                    (Some(f), Some(t)) => format!(
                        "{} = {} {} {} (threshold key {}, measured at {})",
                        f.name,
                        num(f.value),
                        t.comparison,
                        num(t.bound),
                        t.key,
                        f.location
                    ),
                    _ => String::new(),
                };
                Case {
                    class: format!("privacy-inspector.guidance.{group}"),
                    name: rule.id.clone(),
                    failure: (rule.status == Status::Fired).then(|| {
                        (
                            format!("{}: {cmp}", rule.title),
                            format!("{}\n{}\nAction: {}", cmp, rule.finding, rule.action),
                        )
                    }),
                    skipped: (rule.status == Status::NotEvaluated)
                        .then(|| rule.reason.clone().unwrap_or_default()),
                }
            })
            .collect();
        suites.push(("guidance", cases));
    }
    if let Some(g) = &r.gates {
        let cases = g
            .outcomes
            .iter()
            .map(|o| {
                let cmp = match (o.figure, &o.comparison, o.threshold) {
                    (Some(f), Some(c), Some(t)) => {
                        format!("figure {} {c} threshold {}", num(f), num(t))
                    }
                    (None, Some(c), Some(t)) => format!("no figure; threshold {c} {}", num(t)),
                    _ => String::new(),
                };
                Case {
                    class: "privacy-inspector.gates".into(),
                    name: o.condition.clone(),
                    failure: (o.status != GateStatus::Pass).then(|| {
                        (
                            format!("{}: {}", status_label(o.status), o.message),
                            format!("{}\n{cmp}", o.message),
                        )
                    }),
                    skipped: None,
                }
            })
            .collect();
        suites.push(("gates", cases));
    }
    let tests: usize = suites.iter().map(|s| s.1.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.1.iter().filter(|c| c.failure.is_some()).count())
        .sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"privacy-inspector {}\" tests=\"{tests}\" failures=\"{failures}\">",
        xml_esc(&r.tool.version)
    );
    for (name, cases) in &suites {
        suite(&mut x, name, cases);
    }
    x.push_str("</testsuites>\n");
    x
}

/// The lead figures, fired rules and gate outcomes as short Markdown (see
/// the module docs).
pub fn summary_md(r: &Report) -> String {
    let mut m = String::new();
    let verdict = match &r.gates {
        Some(g) if g.passed => " (gates passed)",
        Some(_) => " (gates FAILED)",
        None => "",
    };
    let _ = writeln!(
        m,
        "### Privacy audit: `{}`{verdict}\n",
        md_esc(&r.subject_sha256()[..r.subject_sha256().len().min(12)])
    );
    if r.counts.members + r.counts.nonmembers > 0 {
        let _ = writeln!(
            m,
            "{} members, {} non-members, seed {}, privacy-inspector {}\n",
            r.counts.members,
            r.counts.nonmembers,
            r.seed,
            md_esc(&r.tool.version)
        );
    } else {
        let _ = writeln!(m, "privacy-inspector {}\n", md_esc(&r.tool.version));
    }
    let ran: Vec<_> = r
        .attacks
        .iter()
        .filter_map(|a| a.stats.as_ref().map(|s| (a, s)))
        .collect();
    if !ran.is_empty() {
        m.push_str("| attack | AUC [95% CI] | TPR@0.1% | TPR@1% | TPR@10% | eps LB |\n");
        m.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for (a, s) in &ran {
            let t = |k: &str| {
                s.tpr_at_fpr
                    .get(k)
                    .map(|p| format!("{:.3}{}", p.tpr, if p.resolvable { "" } else { "\\*" }))
                    .unwrap_or_default()
            };
            let _ = writeln!(
                m,
                "| {} | {:.3} [{:.3}, {:.3}] | {} | {} | {} | {:.2} |",
                md_esc(&a.id),
                s.auc,
                s.auc_ci95[0],
                s.auc_ci95[1],
                t("0.001"),
                t("0.01"),
                t("0.1"),
                s.epsilon_lower_bound
            );
        }
        if ran.iter().any(|(_, s)| {
            s.tpr_at_fpr
                .values()
                .any(|p| p.level > 0.0 && !p.resolvable)
        }) {
            m.push_str(
                "\n\\* not resolvable: fewer than one non-member per allowed false positive\n",
            );
        }
        let skipped = r.attacks.iter().filter(|a| a.stats.is_none()).count();
        if skipped > 0 {
            let _ = writeln!(m, "\n{skipped} attacks skipped (see the report).");
        }
        m.push('\n');
    }
    if let Some(g) = &r.guidance {
        let fired: Vec<_> = g.fired().collect();
        if fired.is_empty() {
            m.push_str("**Guidance:** no rule fired.\n\n");
        } else {
            m.push_str("**Guidance rules that fired:**\n\n");
            for rule in fired {
                let fig = match (&rule.figure, &rule.threshold) {
                    (Some(f), Some(t)) => format!(
                        ": {} = {} {} {}",
                        md_esc(&f.name),
                        num(f.value),
                        md_esc(&t.comparison),
                        num(t.bound)
                    ),
                    _ => String::new(),
                };
                let _ = writeln!(m, "- `{}` {}{fig}", md_code(&rule.id), md_esc(&rule.title));
            }
            m.push('\n');
        }
    }
    if let Some(g) = &r.gates {
        m.push_str("| gate | outcome | figure | threshold |\n| --- | --- | --- | --- |\n");
        for o in &g.outcomes {
            let _ = writeln!(
                m,
                "| `{}` | {} | {} | {} |",
                md_code(&o.condition),
                if o.status == GateStatus::Pass {
                    "pass".to_string()
                } else {
                    format!("**{}**", status_label(o.status))
                },
                o.figure.map(num).unwrap_or_default(),
                match (&o.comparison, o.threshold) {
                    (Some(c), Some(t)) => md_esc(&format!("{c} {}", num(t))),
                    _ => String::new(),
                }
            );
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            xml_esc("a<b>&\"c'\u{1}\td"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\td"
        );
        assert_eq!(md_esc("a|b<i>&\nc"), "a\\|b&lt;i&gt;&amp; c");
        assert_eq!(md_code("x`|>y"), "x'\\|>y");
    }
}
