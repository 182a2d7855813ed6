//! Differences between two reports (an earlier release OLD and the current
//! NEW): the CLI's `diff` and any other front door call [`diff`] and the
//! renderings here.
//!
//! Contract:
//! - Per membership attack that ran in both, per headline figure (AUC,
//!   TPR at FPR 0.1, 0.01 and 0.001, epsilon lower bound, advantage): old,
//!   new, the change, and whether the change is **real**, i.e. outside the
//!   sampling noise. Higher is worse for every figure (more leakage).
//!   - AUC: when both audits used the same records (their SHA-256s in
//!     `inputs.sha256` agree, as do the counts) and both reports carry the
//!     scores, DeLong's paired test of two correlated AUCs
//!     ([`crate::stats::delong::paired_delong`]); otherwise the unpaired
//!     z-test `(AUC_new - AUC_old) / sqrt(var_old + var_new)` on the
//!     reports' DeLong variances. Two-sided p-values.
//!   - TPR at an FPR level: the two-proportion z-test of `tp / members`
//!     (pooled variance), only when the level is resolvable in both
//!     reports. It treats each report's threshold as fixed (the threshold's
//!     own noise from the non-members is not in it), and ignores the
//!     pairing of shared records (which makes it conservative).
//!   - The epsilon lower bound and the advantage are shown, not tested.
//!
//!   The p-values of all tests of the comparison are Holm-corrected
//!   together; a change is real when its Holm p-value is below
//!   [`ALPHA`] (5%). `regression` is true when a real change is for the
//!   worse.
//! - The guidance rules that started and stopped firing.
//! - Whether the audits are comparable: the list of what differs (tool
//!   version, seed, audit settings by key, attacks that ran, counts, the
//!   records' SHA-256s, guidance options). The models' SHA-256s are shown
//!   but are expected to differ.
//!
//! Pure: no I/O; the caller reads the reports (`report::read_json_with`).

use super::Report;
use crate::attacks::membership::audit::AttackResult;
use crate::report::ci::{md_code, md_esc};
use crate::report::html::esc;
use crate::stats::delong::{paired_delong, two_sided_p};
use crate::stats::AttackStats;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Family-wise significance level of the Holm-corrected tests.
pub const ALPHA: f64 = 0.05;

/// The FPR levels compared, with their report keys.
const LEVELS: [&str; 3] = ["0.1", "0.01", "0.001"];

/// One figure of one attack in both reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureDiff {
    /// `auc`, `tpr@0.1`, `tpr@0.01`, `tpr@0.001`, `epsilon_lower_bound`,
    /// `advantage`.
    pub figure: String,
    pub old: f64,
    pub new: f64,
    /// `new - old`.
    pub change: f64,
    /// `paired_delong`, `delong_z`, `two_proportion_z`, or `none` (with
    /// `note` saying why).
    pub test: String,
    pub z: Option<f64>,
    pub p_value: Option<f64>,
    /// Holm-adjusted over every test of this comparison.
    pub p_holm: Option<f64>,
    /// Outside the sampling noise (`p_holm < ALPHA`).
    pub real: bool,
    /// A real change for the worse (higher).
    pub worse: bool,
    pub note: Option<String>,
}

/// One attack in the two reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackDiff {
    pub id: String,
    /// `compared`, `only_old`, `only_new`, or `skipped` (in one or both).
    pub status: String,
    pub note: Option<String>,
    pub figures: Vec<FigureDiff>,
}

/// The comparison of two reports (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDiff {
    pub old_subject: String,
    pub new_subject: String,
    pub old_version: String,
    pub new_version: String,
    /// No difference in what was audited or how (see `differences`).
    pub comparable: bool,
    pub differences: Vec<String>,
    /// Both audits used the same records (by SHA-256); `None` when a
    /// report does not record them.
    pub same_records: Option<bool>,
    pub attacks: Vec<AttackDiff>,
    pub rules_started: Vec<String>,
    pub rules_stopped: Vec<String>,
    /// Number of tests in the Holm family.
    pub tests: usize,
    pub alpha: f64,
    /// A real change for the worse exists.
    pub regression: bool,
}

impl ReportDiff {
    /// The real changes for the worse, as (attack, figure).
    pub fn regressions(&self) -> impl Iterator<Item = (&str, &FigureDiff)> {
        self.attacks.iter().flat_map(|a| {
            a.figures
                .iter()
                .filter(|f| f.worse)
                .map(move |f| (a.id.as_str(), f))
        })
    }
}

/// The records' SHA-256s recorded by the CLI under `inputs.sha256`
/// (members, non-members, population).
fn record_hashes(r: &Report) -> Option<[Option<String>; 3]> {
    let h = r.inputs.get("sha256")?;
    let get = |k: &str| h.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let v = [get("members"), get("nonmembers"), get("population")];
    (v[0].is_some() && v[1].is_some()).then_some(v)
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

fn comparability(old: &Report, new: &Report) -> (Vec<String>, Option<bool>) {
    let mut d = Vec::new();
    if old.tool.version != new.tool.version {
        d.push(format!(
            "tool version: {} -> {}",
            old.tool.version, new.tool.version
        ));
    }
    if old.seed != new.seed {
        d.push(format!("seed: {} -> {}", old.seed, new.seed));
    }
    let to_value = |s: &Option<crate::attacks::membership::audit::AuditSettings>| {
        s.as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let (so, sn) = (to_value(&old.settings), to_value(&new.settings));
    match (so.as_object(), sn.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let differing: Vec<&str> = keys
                .into_iter()
                .filter(|k| k.as_str() != "seed" && a.get(*k) != b.get(*k))
                .map(String::as_str)
                .collect();
            if !differing.is_empty() {
                d.push(format!("audit settings: {}", differing.join(", ")));
            }
        }
        (None, None) => {}
        _ => d.push("one report has a membership audit, the other none".into()),
    }
    let ran = |r: &Report| -> Vec<String> {
        r.attacks
            .iter()
            .filter(|a| a.stats.is_some())
            .map(|a| a.id.clone())
            .collect()
    };
    let (ro, rn) = (ran(old), ran(new));
    if ro != rn {
        d.push(format!(
            "attacks that ran: [{}] -> [{}]",
            ro.join(", "),
            rn.join(", ")
        ));
    }
    if old.counts != new.counts {
        d.push(format!(
            "records: {} members, {} non-members, {} population -> {}, {}, {}",
            old.counts.members,
            old.counts.nonmembers,
            old.counts.population,
            new.counts.members,
            new.counts.nonmembers,
            new.counts.population
        ));
    }
    let same = match (record_hashes(old), record_hashes(new)) {
        (Some(a), Some(b)) => {
            let mut same = true;
            for (i, set) in ["members", "nonmembers", "population"].iter().enumerate() {
                if a[i] != b[i] {
                    d.push(format!(
                        "{set} records differ (SHA-256 {} -> {})",
                        a[i].as_deref().map_or("none", short),
                        b[i].as_deref().map_or("none", short)
                    ));
                    if i < 2 {
                        same = false;
                    }
                }
            }
            Some(same && old.counts == new.counts)
        }
        (a, b) => {
            let which: Vec<&str> = [("old", a.is_none()), ("new", b.is_none())]
                .iter()
                .filter(|x| x.1)
                .map(|x| x.0)
                .collect();
            d.push(format!(
                "the records' SHA-256s are not recorded in the {} report: cannot tell whether the same records were used",
                which.join(" and ")
            ));
            None
        }
    };
    let opts = |r: &Report| r.guidance.as_ref().map(|g| g.options.clone());
    if opts(old) != opts(new) {
        d.push("guidance options (thresholds, claim, DP plan)".into());
    }
    (d, same)
}

fn figure(name: &str, old: f64, new: f64) -> FigureDiff {
    FigureDiff {
        figure: name.to_string(),
        old,
        new,
        change: new - old,
        test: "none".into(),
        z: None,
        p_value: None,
        p_holm: None,
        real: false,
        worse: false,
        note: None,
    }
}

fn auc_diff(
    o: &AttackResult,
    so: &AttackStats,
    n: &AttackResult,
    sn: &AttackStats,
    paired: bool,
) -> FigureDiff {
    let mut f = figure("auc", so.auc, sn.auc);
    if paired {
        if let (Some(a), Some(b)) = (&o.scores, &n.scores) {
            if let Some(t) = paired_delong(&a.members, &a.nonmembers, &b.members, &b.nonmembers) {
                f.test = "paired_delong".into();
                f.z = t.z;
                f.p_value = t.p_value;
                if t.p_value.is_none() {
                    f.note = Some("the paired variance is 0".into());
                }
                return f;
            }
        }
    }
    match (so.auc_variance, sn.auc_variance) {
        (Some(vo), Some(vn)) if vo + vn > 0.0 => {
            let z = (sn.auc - so.auc) / (vo + vn).sqrt();
            f.test = "delong_z".into();
            f.z = Some(z);
            f.p_value = Some(two_sided_p(z));
            if paired {
                f.note = Some("same records, but the scores are not in both reports: unpaired test".into());
            }
        }
        (Some(_), Some(_)) if so.auc == sn.auc => {
            f.test = "delong_z".into();
            f.p_value = Some(1.0);
            f.note = Some("both DeLong variances are 0 and the AUCs agree".into());
        }
        _ => {
            f.note = Some(
                "no DeLong variance (fewer than 2 members or non-members, or both perfectly separated): not tested"
                    .into(),
            )
        }
    }
    f
}

fn tpr_diff(key: &str, so: &AttackStats, sn: &AttackStats) -> Option<FigureDiff> {
    let (po, pn) = (so.tpr_at_fpr.get(key)?, sn.tpr_at_fpr.get(key)?);
    let mut f = figure(&format!("tpr@{key}"), po.tpr, pn.tpr);
    if !(po.resolvable && pn.resolvable) {
        f.note = Some(format!(
            "FPR {key} is not resolvable with {} -> {} non-members: not tested",
            so.n_nonmembers, sn.n_nonmembers
        ));
        return Some(f);
    }
    let (m1, m2) = (so.n_members as f64, sn.n_members as f64);
    let pooled = (po.tp + pn.tp) as f64 / (m1 + m2);
    let se = (pooled * (1.0 - pooled) * (1.0 / m1 + 1.0 / m2)).sqrt();
    f.test = "two_proportion_z".into();
    if se > 0.0 {
        let z = (pn.tp as f64 / m2 - po.tp as f64 / m1) / se;
        f.z = Some(z);
        f.p_value = Some(two_sided_p(z));
    } else {
        // pooled rate 0 or 1: both rates are equal
        f.p_value = Some(1.0);
    }
    Some(f)
}

/// Holm's step-down adjustment of p-values (same order as given).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let k = p.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; k];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((k - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// Compare two reports (see the module docs).
pub fn diff(old: &Report, new: &Report) -> ReportDiff {
    let (differences, same_records) = comparability(old, new);
    let paired = same_records == Some(true);
    let mut ids: Vec<&str> = old.attacks.iter().map(|a| a.id.as_str()).collect();
    for a in &new.attacks {
        if !ids.contains(&a.id.as_str()) {
            ids.push(&a.id);
        }
    }
    let mut attacks = Vec::new();
    for id in ids {
        let o = old.attacks.iter().find(|a| a.id == id);
        let n = new.attacks.iter().find(|a| a.id == id);
        let mut ad = AttackDiff {
            id: id.to_string(),
            status: "compared".into(),
            note: None,
            figures: Vec::new(),
        };
        match (o, n) {
            (Some(o), Some(n)) => match (&o.stats, &n.stats) {
                (Some(so), Some(sn)) => {
                    ad.figures.push(auc_diff(o, so, n, sn, paired));
                    for key in LEVELS {
                        ad.figures.extend(tpr_diff(key, so, sn));
                    }
                    let mut e = figure(
                        "epsilon_lower_bound",
                        so.epsilon_lower_bound,
                        sn.epsilon_lower_bound,
                    );
                    e.note = Some("shown, not tested".into());
                    ad.figures.push(e);
                    let mut a = figure("advantage", so.advantage, sn.advantage);
                    a.note = Some("shown, not tested".into());
                    ad.figures.push(a);
                }
                _ => {
                    ad.status = "skipped".into();
                    ad.note = Some(
                        [("old", o), ("new", n)]
                            .iter()
                            .filter_map(|(w, a)| {
                                a.skipped.as_ref().map(|r| format!("skipped in {w}: {r}"))
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                }
            },
            (Some(_), None) => ad.status = "only_old".into(),
            _ => ad.status = "only_new".into(),
        }
        attacks.push(ad);
    }
    // Holm over every test of the comparison
    let ps: Vec<f64> = attacks
        .iter()
        .flat_map(|a| a.figures.iter().filter_map(|f| f.p_value))
        .collect();
    let adjusted = holm(&ps);
    let mut next = adjusted.iter();
    let mut regression = false;
    for a in &mut attacks {
        for f in &mut a.figures {
            if f.p_value.is_some() {
                let h = next.next().copied();
                f.p_holm = h;
                f.real = h.is_some_and(|h| h < ALPHA);
                f.worse = f.real && f.change > 0.0;
                regression |= f.worse;
            }
        }
    }
    let fired = |r: &Report| -> Vec<String> {
        r.guidance
            .as_ref()
            .map(|g| g.fired().map(|x| x.id.clone()).collect())
            .unwrap_or_default()
    };
    let (fo, fnew) = (fired(old), fired(new));
    ReportDiff {
        old_subject: old.subject_sha256().to_string(),
        new_subject: new.subject_sha256().to_string(),
        old_version: old.tool.version.clone(),
        new_version: new.tool.version.clone(),
        comparable: differences.is_empty(),
        differences,
        same_records,
        attacks,
        rules_started: fnew.iter().filter(|r| !fo.contains(r)).cloned().collect(),
        rules_stopped: fo.iter().filter(|r| !fnew.contains(r)).cloned().collect(),
        tests: ps.len(),
        alpha: ALPHA,
        regression,
    }
}

fn num(v: f64) -> String {
    format!("{v:.4}")
}

fn signed(v: f64) -> String {
    format!("{v:+.4}")
}

fn p(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 1e-4 => format!("{v:.1e}"),
        Some(v) => format!("{v:.4}"),
        None => "-".into(),
    }
}

fn verdict(f: &FigureDiff) -> &'static str {
    match (f.real, f.change > 0.0) {
        (true, true) => "worse",
        (true, false) => "better",
        _ if f.p_value.is_some() => "within noise",
        _ => "not tested",
    }
}

fn records_line(d: &ReportDiff) -> &'static str {
    match d.same_records {
        Some(true) => {
            "same records in both audits (by SHA-256): AUCs compared with the paired DeLong test"
        }
        Some(false) => "different records: unpaired tests",
        None => "records not recorded by SHA-256 in both reports: unpaired tests",
    }
}

/// The comparison as plain text for the CLI.
pub fn render_text(d: &ReportDiff) -> String {
    let mut s = format!(
        "Comparing {} (privacy-inspector {}) -> {} (privacy-inspector {})\n",
        short(&d.old_subject),
        d.old_version,
        short(&d.new_subject),
        d.new_version
    );
    if d.comparable {
        s.push_str("comparable: same attacks, settings, records, seed and tool version\n");
    } else {
        s.push_str("NOT fully comparable:\n");
        for x in &d.differences {
            let _ = writeln!(s, "  - {x}");
        }
    }
    let _ = writeln!(s, "{}", records_line(d));
    let _ = writeln!(
        s,
        "\n{:<18} {:<20} {:>9} {:>9} {:>9} {:>9} {:>9}  verdict",
        "attack", "figure", "old", "new", "change", "p", "p Holm"
    );
    for a in &d.attacks {
        if a.status != "compared" {
            let _ = writeln!(
                s,
                "{:<18} {}{}",
                a.id,
                a.status.replace('_', " "),
                a.note
                    .as_ref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
            continue;
        }
        for f in &a.figures {
            let _ = writeln!(
                s,
                "{:<18} {:<20} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
                a.id,
                f.figure,
                num(f.old),
                num(f.new),
                signed(f.change),
                p(f.p_value),
                p(f.p_holm),
                verdict(f)
            );
        }
    }
    let _ = writeln!(
        s,
        "{} tests, Holm-corrected at {}; epsilon lower bound and advantage are not tested",
        d.tests, d.alpha
    );
    if !d.rules_started.is_empty() {
        let _ = writeln!(
            s,
            "guidance rules that started firing: {}",
            d.rules_started.join(", ")
        );
    }
    if !d.rules_stopped.is_empty() {
        let _ = writeln!(
            s,
            "guidance rules that stopped firing: {}",
            d.rules_stopped.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "{}",
        if d.regression {
            "REGRESSION: a real change for the worse"
        } else {
            "no real change for the worse"
        }
    );
    s
}

/// The comparison as short Markdown (real changes only, plus the
/// comparability and the rules).
pub fn render_md(d: &ReportDiff) -> String {
    let mut m = format!(
        "### Privacy diff: `{}` -> `{}`{}\n\n",
        md_code(short(&d.old_subject)),
        md_code(short(&d.new_subject)),
        if d.regression { " (REGRESSION)" } else { "" }
    );
    if d.comparable {
        m.push_str("Comparable audits.\n\n");
    } else {
        m.push_str("Not fully comparable:\n\n");
        for x in &d.differences {
            let _ = writeln!(m, "- {}", md_esc(x));
        }
        m.push('\n');
    }
    let _ = writeln!(m, "{}.\n", records_line(d));
    m.push_str("| attack | figure | old | new | change | p (Holm) | verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for a in &d.attacks {
        for f in a.figures.iter().filter(|f| f.p_value.is_some()) {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md_esc(&a.id),
                md_esc(&f.figure),
                num(f.old),
                num(f.new),
                signed(f.change),
                p(f.p_holm),
                if f.real {
                    format!("**{}**", verdict(f))
                } else {
                    verdict(f).to_string()
                }
            );
        }
    }
    if !d.rules_started.is_empty() {
        let _ = writeln!(
            m,
            "\nRules that started firing: {}",
            d.rules_started
                .iter()
                .map(|r| format!("`{}`", md_code(r)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !d.rules_stopped.is_empty() {
        let _ = writeln!(
            m,
            "\nRules that stopped firing: {}",
            d.rules_stopped
                .iter()
                .map(|r| format!("`{}`", md_code(r)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    m
}

/// The comparison as HTML (a fragment, or a standalone page), every text
/// escaped.
pub fn render_html(d: &ReportDiff, standalone: bool) -> String {
    let mut h = String::new();
    if standalone {
        h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Privacy diff</title><style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;color:#1f2937}table{border-collapse:collapse}th,td{border-bottom:1px solid #d8dce6;padding:.3rem .6rem;text-align:right}th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}td.worse{background:#fde8e8;font-weight:600}td.better{background:#e8fde8}</style></head><body>");
    }
    let _ = write!(
        h,
        "<section class=\"pi-diff\" data-testid=\"diff\"><h1>Privacy diff</h1><p>Old: <code>{}</code> (privacy-inspector {}) &rarr; new: <code>{}</code> (privacy-inspector {})</p>",
        esc(&d.old_subject),
        esc(&d.old_version),
        esc(&d.new_subject),
        esc(&d.new_version)
    );
    if d.regression {
        h.push_str("<p class=\"flag\"><b>Regression:</b> a real change for the worse.</p>");
    }
    if d.comparable {
        h.push_str(
            "<p>Comparable audits: same attacks, settings, records, seed and tool version.</p>",
        );
    } else {
        h.push_str("<p>Not fully comparable:</p><ul>");
        for x in &d.differences {
            let _ = write!(h, "<li>{}</li>", esc(x));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<p>{}. {} tests, Holm-corrected at {}.</p>",
        esc(records_line(d)),
        d.tests,
        d.alpha
    );
    h.push_str("<table><thead><tr><th>attack</th><th>figure</th><th>old</th><th>new</th><th>change</th><th>test</th><th>p</th><th>p (Holm)</th><th>verdict</th></tr></thead><tbody>");
    for a in &d.attacks {
        if a.status != "compared" {
            let _ = write!(
                h,
                "<tr><td>{}</td><td colspan=\"8\">{}{}</td></tr>",
                esc(&a.id),
                esc(&a.status.replace('_', " ")),
                esc(&a
                    .note
                    .as_ref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default())
            );
            continue;
        }
        for f in &a.figures {
            let v = verdict(f);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\" title=\"{}\">{}</td></tr>",
                esc(&a.id),
                esc(&f.figure),
                num(f.old),
                num(f.new),
                signed(f.change),
                esc(&f.test),
                p(f.p_value),
                p(f.p_holm),
                if f.real { v } else { "" },
                esc(f.note.as_deref().unwrap_or("")),
                v
            );
        }
    }
    h.push_str("</tbody></table>");
    for (label, rules) in [
        ("Guidance rules that started firing", &d.rules_started),
        ("Guidance rules that stopped firing", &d.rules_stopped),
    ] {
        if !rules.is_empty() {
            let _ = write!(
                h,
                "<p>{label}: {}</p>",
                rules
                    .iter()
                    .map(|r| format!("<code>{}</code>", esc(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    h.push_str("</section>");
    if standalone {
        h.push_str("</body></html>");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::holm;

    #[test]
    fn holm_matches_the_step_down_definition() {
        // by hand: sorted 0.01, 0.02, 0.04, 0.5 -> 0.04, 0.06, 0.08, 0.5
        let h = holm(&[0.04, 0.5, 0.01, 0.02]);
        let want = [0.08, 0.5, 0.04, 0.06];
        for (a, b) in h.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{h:?}");
        }
        // monotone: a larger raw p never gets a smaller adjusted one
        let h = holm(&[0.001, 0.0011, 0.9]);
        assert!((h[0] - 0.003).abs() < 1e-12 && (h[1] - 0.003).abs() < 1e-12);
        assert!(holm(&[]).is_empty());
    }
}
