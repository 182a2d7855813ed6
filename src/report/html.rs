//! HTML rendering of a [`Report`]: a summary that leads with TPR at low FPR
//! and the epsilon lower bound, the per-record vulnerability (attack
//! agreement, most vulnerable members), then per attack the ROC on log-log axes and
//! the member / non-member score histograms as inline SVG. No script, no
//! external request. `standalone = true` gives a whole document with its own
//! `<style>` (the CLI's `--html` and the page's export); `false` gives a
//! fragment for the page, which styles it from `www/style.css` (the page's
//! CSP forbids inline styles).

use super::Report;
use crate::attacks::membership::audit::AttackResult;
use crate::stats::vulnerability::RecordTable;
use std::fmt::Write;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{:.1}%", 100.0 * v)
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid #d8dce6;padding:.3rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}
.nr{color:#8a6d00}.skip{color:#6b7280}.plots,.gallery{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;max-width:220px}figcaption{font-size:12px;color:#4b5563}.explain{font-style:italic}.figure-guide{font-size:12px;color:#4b5563;max-width:60rem}section.guidance article.action{border-left:3px solid #c2410c;padding:.25rem .75rem;margin:.5rem 0;background:#fff7ed}section.guidance p.figure,section.guidance ul.sources{font-size:12px;color:#4b5563}section.guidance span.where{font-family:monospace;font-size:11px}svg{background:#fbfcfe;border:1px solid #e3e6ee}td.flag{background:#fde8e8;font-weight:600}section.gates td:last-child,section.gates th:last-child{text-align:left}
.meta{color:#4b5563}.flag{color:#b91c1c}section.records td{white-space:nowrap}code{font-size:.9em}@media print{body{margin:0;max-width:none}section.attack,figure,tr{break-inside:avoid}h2{break-after:avoid}details::details-content{content-visibility:visible;display:block}details>summary{list-style:none;font-weight:600}}";

/// Render the report.
pub fn render(report: &Report, standalone: bool) -> String {
    let mut h = String::new();
    if standalone {
        let _ = write!(
            h,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Privacy audit {}</title><style>{STYLE}</style></head><body>",
            esc(&report.subject_sha256()[..report.subject_sha256().len().min(12)])
        );
    }
    let _ = write!(h, "<div class=\"pi-report\" data-testid=\"report\">");
    if let Some(p) = &report.predictions {
        predictions_header(&mut h, report, p);
    } else {
        let _ = write!(
        h,
        "<h1>Privacy report</h1><p class=\"meta\">{} {} &middot; model SHA-256 <code>{}</code> &middot; {} output ({}) &middot; {} classes &middot; seed {} &middot; {} members, {} non-members, {} population records</p>",
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(&report.model.sha256),
        esc(match report.model.output_kind {
            crate::engine::OutputKind::Probabilities => "probability",
            crate::engine::OutputKind::Logits => "logit",
        }),
        esc(&report.model.output_kind_source),
        report.model.num_classes,
        report.seed,
        report.counts.members,
        report.counts.nonmembers,
        report.counts.population
    );
    }
    if let Some(note) = &report.redacted {
        let _ = write!(
            h,
            "<p class=\"note\" data-testid=\"redacted-note\">This export holds no training data: {}.</p>",
            esc(note)
        );
    }
    // the lead: what an attacker achieves; then what to do about it
    if !report.attacks.is_empty() {
        let _ = write!(h, "<h2>Membership inference</h2>");
        summary(&mut h, report);
    }
    calibration(&mut h, report);
    if let Some(g) = &report.gates {
        h.push_str(&crate::gate::render_html(g));
    }
    if let Some(g) = &report.guidance {
        h.push_str(&crate::guidance::render_html(g));
    }
    if let Some(s) = &report.scan {
        super::scan_html::render(&mut h, s);
    }
    if let Some(t) = &report.records {
        records(&mut h, t, !standalone);
    }
    if let Some(sl) = &report.slices {
        slices(&mut h, sl);
    }
    for a in &report.attacks {
        attack(&mut h, a, !standalone);
    }
    if let Some(l) = &report.leaves {
        leaves(&mut h, l);
    }
    if let Some(a) = &report.attribute {
        attribute(&mut h, a);
    }
    if let Some(inv) = &report.inversion {
        inversion(&mut h, inv);
    }
    if let Some(d) = &report.dp_audit {
        dp_audit(&mut h, d);
    }
    if !report.attacks.is_empty() {
        let _ = write!(h, "<h2>Conventions</h2><ul>");
        for c in &report.conventions {
            let _ = write!(h, "<li>{}</li>", esc(c));
        }
        let settings = serde_json::to_string_pretty(&report.settings).unwrap_or_default();
        let refs = serde_json::to_string_pretty(&report.references).unwrap_or_default();
        let _ = write!(
            h,
            "</ul><details><summary>Every setting of the membership audit</summary><pre>{}</pre></details><details><summary>Reference models</summary><pre>{}</pre></details>",
            esc(&settings),
            esc(&refs)
        );
    }
    if let Some(a) = &report.attribute {
        let s = serde_json::to_string_pretty(&a.settings).unwrap_or_default();
        let _ = write!(h, "<details><summary>Every setting of the attribute inference</summary><pre>{}</pre></details>", esc(&s));
    }
    if let Some(inv) = &report.inversion {
        let s = serde_json::to_string_pretty(&inv.settings).unwrap_or_default();
        let _ = write!(h, "<details><summary>Every setting of the model inversion</summary><pre>{}</pre></details>", esc(&s));
    }
    let _ = write!(h, "</div>");
    if standalone {
        h.push_str("</body></html>");
    }
    h
}

/// The head of an audit from predictions: what it is, each file with its
/// SHA-256, and what did not run for want of the model.
fn predictions_header(
    h: &mut String,
    report: &Report,
    p: &crate::attacks::membership::predictions::PredictionsInfo,
) {
    let _ = write!(
        h,
        "<h1>Privacy report: audit from predictions</h1><p class=\"meta\" data-testid=\"predictions-lead\">{} {} &middot; <b>{}</b>: the model's outputs on the records, not the model &middot; {} declared &middot; {} classes &middot; seed {} &middot; {} members, {} non-members, {} population records</p><ul class=\"meta\" data-testid=\"predictions-files\">",
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(&p.source),
        esc(match p.output_kind {
            crate::engine::OutputKind::Probabilities => "probabilities",
            crate::engine::OutputKind::Logits => "logits",
        }),
        p.num_classes,
        report.seed,
        report.counts.members,
        report.counts.nonmembers,
        report.counts.population
    );
    for f in &p.files {
        let _ = write!(
            h,
            "<li>{}: {} ({} rows), SHA-256 <code>{}</code></li>",
            esc(&f.role),
            esc(&f.file),
            f.rows,
            esc(&f.sha256)
        );
    }
    let _ = write!(
        h,
        "</ul><p class=\"meta\" data-testid=\"predictions-not-run\">Not run without the model:"
    );
    for n in &p.not_run {
        let _ = write!(h, " <b>{}</b>: {}.", esc(&n.section), esc(&n.reason));
    }
    let _ = write!(
        h,
        " Attacks that need the model are listed below as skipped, with the reason.</p>"
    );
}

fn summary(h: &mut String, r: &Report) {
    let stats_cfg = r
        .settings
        .as_ref()
        .map(|s| s.stats.clone())
        .unwrap_or_default();
    let ran: Vec<&AttackResult> = r.attacks.iter().filter(|a| a.stats.is_some()).collect();
    // plain-language lead: the best TPR at 1% FPR
    let best = ran
        .iter()
        .filter_map(|a| a.stats.as_ref().map(|s| (a, s)))
        .max_by(|(_, x), (_, y)| {
            x.tpr_at_fpr["0.01"]
                .tpr
                .total_cmp(&y.tpr_at_fpr["0.01"].tpr)
        });
    let _ = write!(h, "<h3>Summary</h3>");
    if let Some((a, s)) = best {
        let p = &s.tpr_at_fpr["0.01"];
        let eps_best = ran
            .iter()
            .filter_map(|a| a.stats.as_ref().map(|s| s.epsilon_lower_bound))
            .fold(0.0f64, f64::max);
        let _ = write!(
            h,
            "<p data-testid=\"report-lead\">Wrongly accusing at most 1% of non-members, the strongest attack (<b>{}</b>) picks out <b>{}</b> of the members{}. The largest empirical lower bound on &epsilon; is <b>{:.2}</b> (&delta; = {}): no training procedure with a smaller &epsilon; could have produced these results, at {}% confidence.</p>",
            esc(&a.id),
            pct(p.tpr),
            if p.resolvable { String::new() } else { format!(" (not resolvable with {} non-members)", s.n_nonmembers) },
            eps_best,
            stats_cfg.delta,
            100.0 * (1.0 - stats_cfg.alpha)
        );
    }
    let _ = write!(
        h,
        "<table data-testid=\"report-summary\"><thead><tr><th>attack</th><th>TPR @ 0.1% FPR</th><th>TPR @ 1% FPR</th><th>TPR @ 10% FPR</th><th>AUC [95% CI]</th><th>advantage</th><th>&epsilon; lower bound</th></tr></thead><tbody>"
    );
    for a in &r.attacks {
        match &a.stats {
            Some(s) => {
                let cell = |k: &str| {
                    let p = &s.tpr_at_fpr[k];
                    if p.resolvable {
                        pct(p.tpr)
                    } else {
                        format!("<span class=\"nr\" title=\"{} non-members cannot resolve this FPR\">{} (n/r)</span>", s.n_nonmembers, pct(p.tpr))
                    }
                };
                let _ = write!(
                    h,
                    "<tr data-testid=\"summary-{id}\"><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3} [{:.3}, {:.3}]</td><td>{:.3}</td><td>{:.2}</td></tr>",
                    cell("0.001"),
                    cell("0.01"),
                    cell("0.1"),
                    s.auc,
                    s.auc_ci95[0],
                    s.auc_ci95[1],
                    s.advantage,
                    s.epsilon_lower_bound,
                    id = esc(&a.id)
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<tr class=\"skip\" data-testid=\"summary-{id}\"><td>{id}</td><td colspan=\"6\">skipped: {}</td></tr>",
                    esc(a.skipped.as_deref().unwrap_or("")),
                    id = esc(&a.id)
                );
            }
        }
    }
    let _ = write!(h, "</tbody></table><p class=\"meta\">n/r: fewer than one non-member per allowed false positive, so that FPR cannot be measured with these records.</p>");
}

/// Rows of the most-vulnerable table.
pub const TOP_RECORDS: usize = 50;

/// The per-record section: the lead, the attack agreement at 1% FPR and the
/// most vulnerable members (`stats::vulnerability`). `links`: each row's
/// index is a button the page answers with the record; the page also sorts
/// the table (`data-sortable`, each cell's `data-sort` value).
fn records(h: &mut String, t: &RecordTable, links: bool) {
    let (m, n) = t.counts();
    let k = t.attacks.len();
    let g = &t.agreement;
    let level = |i: usize| {
        t.levels
            .get(i)
            .map(|&l| format!("{}%", 100.0 * l))
            .unwrap_or_default()
    };
    let any = m.saturating_sub(g.by_count.first().copied().unwrap_or(0));
    let all = g.by_count.last().copied().unwrap_or(0);
    let _ = write!(
        h,
        "<section class=\"records\" data-testid=\"records\"><h2>Per-record vulnerability</h2><p class=\"explain\">Each attack flags the records whose score is at or above the threshold of its TPR at {l0} (and {l1}) FPR: at most {l0} (and {l1}) of the non-members are flagged. A member flagged by several attacks is exposed whatever the attacker chooses.</p><p data-testid=\"records-lead\">At {l0} FPR, <b>{any}</b> of {m} members are flagged by at least one of the {k} attacks and <b>{all}</b> by every one; {} of {n} non-members ({}) are flagged by at least one attack, the false alarms of trusting any of them.</p>",
        g.nonmembers_any,
        pct(g.nonmembers_any as f64 / n.max(1) as f64),
        l0 = esc(&level(0)),
        l1 = esc(&level(1)),
    );
    for note in &t.notes {
        let _ = write!(h, "<p class=\"nr\">{}</p>", esc(note));
    }
    let _ = write!(
        h,
        "<h3>Attack agreement</h3><table data-testid=\"records-agreement\"><thead><tr><th>attack</th><th>members flagged</th><th>flagged by no other</th>"
    );
    for a in &t.attacks {
        let _ = write!(h, "<th>{}</th>", esc(&a.id));
    }
    let _ = write!(h, "</tr></thead><tbody>");
    for (i, a) in t.attacks.iter().enumerate() {
        let _ = write!(
            h,
            "<tr data-testid=\"agreement-{id}\"><th scope=\"row\">{id}</th><td>{}</td><td>{}</td>",
            g.flagged.get(i).copied().unwrap_or(0),
            g.alone.get(i).copied().unwrap_or(0),
            id = esc(&a.id)
        );
        for j in 0..k {
            let v = g.both.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0);
            let _ = write!(h, "<td>{v}</td>");
        }
        let _ = write!(h, "</tr>");
    }
    let by_count: Vec<String> = g
        .by_count
        .iter()
        .enumerate()
        .map(|(c, v)| format!("{c}: {v}"))
        .collect();
    let _ = write!(
        h,
        "</tbody></table><p class=\"meta\">Members flagged at {l0} FPR; a cell counts the members flagged by both its row's and its column's attack (the diagonal: by the attack). Members flagged by exactly k attacks, k: count &mdash; {}.</p>",
        esc(&by_count.join(", ")),
        l0 = esc(&level(0)),
    );
    let _ = write!(
        h,
        "<h3>Most vulnerable members</h3><table data-testid=\"records-top\" data-sortable=\"true\"><thead><tr><th>row</th><th>label</th><th>attacks flagging at {}</th><th>at {}</th><th>mean percentile</th>",
        esc(&level(0)),
        esc(&level(1))
    );
    for a in &t.attacks {
        let _ = write!(h, "<th>{}</th>", esc(&a.id));
    }
    let _ = write!(h, "</tr></thead><tbody>");
    let member_flagged = |a: &crate::stats::vulnerability::RecordAttack, l: usize, r: usize| {
        a.flagged
            .members
            .get(l)
            .is_some_and(|f| f.binary_search(&r).is_ok())
    };
    let mark_both = format!(
        " <span class=\"flag\" title=\"flagged at {} and at {} FPR\">&#9679;&#9679;</span>",
        esc(&level(0)),
        esc(&level(1))
    );
    let mark_one = format!(
        " <span class=\"flag\" title=\"flagged at {} FPR\">&#9679;</span>",
        esc(&level(0))
    );
    for r in t.most_vulnerable(TOP_RECORDS) {
        let row = if links {
            format!("<button type=\"button\" class=\"record-link\" data-record-set=\"members\" data-record-index=\"{r}\" aria-label=\"Show member row {r}\">{r}</button>")
        } else {
            r.to_string()
        };
        let label = t.labels.members.get(r).copied().unwrap_or(0);
        let (c0, c1) = (t.member_flags(0, r), t.member_flags(1, r));
        let mean = t.mean_percentile(r);
        let _ = write!(
            h,
            "<tr data-testid=\"records-row\" data-record-index=\"{r}\"><td data-sort=\"{r}\">{row}</td><td data-sort=\"{label}\">{label}</td><td data-sort=\"{c0}\">{c0}</td><td data-sort=\"{c1}\">{c1}</td><td data-sort=\"{mean}\">{mean:.1}</td>"
        );
        for a in &t.attacks {
            let p = t.percentile(a.rank.members.get(r).copied().unwrap_or(0.0));
            let mark = if member_flagged(a, 1, r) {
                mark_both.as_str()
            } else if member_flagged(a, 0, r) {
                mark_one.as_str()
            } else {
                ""
            };
            let _ = write!(h, "<td data-sort=\"{p}\">{p:.1}{mark}</td>");
        }
        let _ = write!(h, "</tr>");
    }
    let _ = write!(
        h,
        "</tbody></table><p class=\"meta\">The {} members flagged by the most attacks (then by the highest mean percentile). Percentile: the rank of the member's score among the non-members' (100 = above every non-member; ties count half). &#9679; flagged at {l0} FPR, &#9679;&#9679; also at {l1}. Every record with each attack's score and flags: the per-record CSV.</p></section>",
        TOP_RECORDS.min(m),
        l0 = esc(&level(0)),
        l1 = esc(&level(1)),
    );
}

/// One sentence on what an attack does, for readers new to it.
pub fn explain(id: &str) -> &'static str {
    match id {
        "loss" => "Calls a record a member when the model's loss on it is low: models fit their training records better (Yeom et al. 2018).",
        "confidence" => "Calls a record a member when the model is confident in its true class.",
        "entropy" => "Calls a record a member when the model's output is peaked (low entropy), whatever the class.",
        "modified_entropy" => "Entropy that also uses the true label, so confident wrong answers count against membership (Song and Mittal 2021).",
        "risk_score" => "The posterior probability of membership given the signal, from member and non-member histograms (Song and Mittal 2021).",
        "gap" => "Label only: a record is a member exactly when the model classifies it correctly (the train/test gap).",
        "noise_robustness" => "Label only: training records keep their predicted label under more random noise (Choquette-Choo et al. 2021).",
        "boundary_distance" => "Label only (predicted labels alone, a query budget per record): training records lie farther from the decision boundary; measured by the smallest input change found that flips the label, searched with label queries only (HopSkipJump).",
        "boundary_distance_gradient" => "White-box (the model's input gradients, not label-only): training records lie farther from the decision boundary; measured by the smallest input change that flips the label, searched along the gradients (DeepFool).",
        "shokri" => "Shadow models trained like the target teach a classifier what a member's output looks like (Shokri et al. 2017).",
        "qmia" => "A small regressor fitted on population records predicts how confident the model would be on a record it never saw (a high quantile); a record far above that prediction is likely a member (Bertran et al. 2023). No reference models.",
        "lira_online" => "Likelihood ratio: compares the target's confidence on a record with reference models trained with and without it (Carlini et al. 2022).",
        "lira_offline" => "LiRA with reference models that never saw the record: how unusually confident the target is on it.",
        "rmia_online" | "rmia_offline" => "Relative membership: how much more likely the record is under the target than under reference models, compared with population records (Zarifzadeh et al. 2024).",
        _ => "",
    }
}

/// Under an attack's plots: what each figure shows.
const FIGURE_GUIDE: &str = "Left: the ROC on log-log axes, the fraction of members found (TPR) against the fraction of non-members wrongly accused (FPR); the lower left is what matters for privacy, where an attacker is confident. Middle: the same on linear axes (the area under it is the AUC; the diagonal is guessing). Right: the scores of members and non-members; the more the two differ, the more the model leaks.";

/// `links`: make each most-exposed row a button the page answers with the
/// record (the page holds the CSVs; an export does not).
fn attack(h: &mut String, a: &AttackResult, links: bool) {
    let (Some(s), Some(scores)) = (&a.stats, &a.scores) else {
        return;
    };
    let _ = write!(
        h,
        "<section class=\"attack\" data-testid=\"attack-{id}\"><h2>{id}</h2><p class=\"explain\">{}</p><p>AUC {:.3} [{:.3}, {:.3}], advantage {:.3}, &epsilon; &ge; {:.2}. {}</p><div class=\"plots\">",
        esc(explain(&a.id)),
        s.auc,
        s.auc_ci95[0],
        s.auc_ci95[1],
        s.advantage,
        s.epsilon_lower_bound,
        esc(a.details.get("label").and_then(|v| v.as_str()).unwrap_or("")),
        id = esc(&a.id)
    );
    roc_svg(
        h,
        &s.roc.fpr,
        &s.roc.tpr,
        s.n_nonmembers.max(1),
        s.n_members.max(1),
    );
    roc_linear_svg(h, &s.roc.fpr, &s.roc.tpr);
    hist_svg(h, &scores.members, &scores.nonmembers);
    let _ = write!(h, "</div><p class=\"figure-guide\">{FIGURE_GUIDE}</p>");
    if !s.per_class.is_empty() {
        let _ = write!(h, "<details data-testid=\"per-class-{}\"><summary>Per class</summary><table><thead><tr><th>class</th><th>members</th><th>non-members</th><th>AUC [95% CI]</th><th>TPR @ 1% FPR</th><th>advantage</th></tr></thead><tbody>", esc(&a.id));
        for c in &s.per_class {
            let auc = match (c.auc, c.auc_ci95) {
                (Some(v), Some(ci)) => format!("{v:.3} [{:.3}, {:.3}]", ci[0], ci[1]),
                (Some(v), None) => format!("{v:.3}"),
                _ => esc(c.note.as_deref().unwrap_or("n/a")),
            };
            let tpr = c
                .tpr_at_fpr_0_01
                .as_ref()
                .map(|p| format!("{}{}", pct(p.tpr), if p.resolvable { "" } else { " (n/r)" }))
                .unwrap_or_else(|| "n/a".into());
            let adv = c
                .advantage
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "n/a".into());
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{auc}</td><td>{tpr}</td><td>{adv}</td></tr>",
                c.label, c.n_members, c.n_nonmembers
            );
        }
        let _ = write!(h, "</tbody></table></details>");
    }
    if !s.most_exposed.is_empty() {
        let _ = write!(h, "<details><summary>Most exposed members</summary><table><thead><tr><th>row</th><th>label</th><th>score</th><th>percentile among non-members</th></tr></thead><tbody>");
        for r in s.most_exposed.iter().take(20) {
            let v = serde_json::to_value(r).unwrap_or_default();
            let index = v.get("index").map(|x| x.to_string()).unwrap_or_default();
            let row = if links {
                format!("<button type=\"button\" class=\"record-link\" data-record-index=\"{index}\" aria-label=\"Show member row {index}\">{index}</button>")
            } else {
                index
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                row,
                v.get("label").map(|x| x.to_string()).unwrap_or_default(),
                v.get("score")
                    .and_then(|x| x.as_f64())
                    .map(|x| format!("{x:.4}"))
                    .unwrap_or_default(),
                v.get("percentile")
                    .and_then(|x| x.as_f64())
                    .map(|x| format!("{x:.1}"))
                    .unwrap_or_default()
            );
        }
        let _ = write!(h, "</tbody></table></details>");
    }
    let _ = write!(h, "</section>");
}

const W: f64 = 300.0;
const HGT: f64 = 240.0;
const PAD: f64 = 36.0;

/// ROC on log-log axes, from 1/(2n) to 1 on both.
fn roc_svg(h: &mut String, fpr: &[f64], tpr: &[f64], n_non: usize, n_mem: usize) {
    let lo_x = (0.5 / n_non as f64).log10();
    let lo_y = (0.5 / n_mem as f64).log10();
    let x = |v: f64| PAD + (W - PAD - 8.0) * ((v.max(10f64.powf(lo_x)).log10() - lo_x) / -lo_x);
    let y =
        |v: f64| HGT - PAD - (HGT - PAD - 8.0) * ((v.max(10f64.powf(lo_y)).log10() - lo_y) / -lo_y);
    let _ = write!(
        h,
        "<svg role=\"img\" aria-label=\"ROC curve, log-log axes\" width=\"{W}\" height=\"{HGT}\" viewBox=\"0 0 {W} {HGT}\"><title>ROC (log-log)</title>"
    );
    // chance line and axes
    let _ = write!(
        h,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c3c8d4\" stroke-dasharray=\"4 3\"/>",
        x(10f64.powf(lo_x.max(lo_y))),
        y(10f64.powf(lo_x.max(lo_y))),
        x(1.0),
        y(1.0)
    );
    let mut d = String::new();
    for (i, (&f, &t)) in fpr.iter().zip(tpr).enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(f),
            y(t)
        );
    }
    let _ = write!(
        h,
        "<path d=\"{d}\" fill=\"none\" stroke=\"#2456c9\" stroke-width=\"2\"/>"
    );
    for (decade, v) in decades(lo_x) {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(v),
            HGT - PAD + 14.0,
            fmt_pow(decade)
        );
    }
    for (decade, v) in decades(lo_y) {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            PAD - 4.0,
            y(v) + 3.0,
            fmt_pow(decade)
        );
    }
    roc_axis_titles(h);
}

/// ROC on linear axes (the log-log one shows the low-FPR end; this one the
/// whole curve and the area).
fn roc_linear_svg(h: &mut String, fpr: &[f64], tpr: &[f64]) {
    let x = |v: f64| PAD + (W - PAD - 8.0) * v.clamp(0.0, 1.0);
    let y = |v: f64| HGT - PAD - (HGT - PAD - 8.0) * v.clamp(0.0, 1.0);
    let _ = write!(
        h,
        "<svg role=\"img\" aria-label=\"ROC curve, linear axes\" width=\"{W}\" height=\"{HGT}\" viewBox=\"0 0 {W} {HGT}\"><title>ROC (linear)</title><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c3c8d4\" stroke-dasharray=\"4 3\"/>",
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    let mut d = String::new();
    for (i, (&f, &t)) in fpr.iter().zip(tpr).enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(f),
            y(t)
        );
    }
    let _ = write!(
        h,
        "<path d=\"{d}\" fill=\"none\" stroke=\"#2456c9\" stroke-width=\"2\"/>"
    );
    for v in [0.0, 0.5, 1.0] {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{v}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{v}</text>",
            x(v),
            HGT - PAD + 14.0,
            PAD - 4.0,
            y(v) + 3.0
        );
    }
    roc_axis_titles(h);
}

/// Axis titles of both ROC plots, closing the SVG.
fn roc_axis_titles(h: &mut String) {
    let _ = write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">false positive rate</text><text x=\"10\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 10 {:.1})\">true positive rate</text></svg>",
        (W + PAD) / 2.0,
        HGT - 4.0,
        HGT / 2.0,
        HGT / 2.0
    );
}

/// The decades 1, 0.1, 0.01, ... down to 10^lo (log10 scale), with their
/// exponent.
fn decades(lo: f64) -> impl Iterator<Item = (i32, f64)> {
    (0..)
        .map(|k: i32| -k)
        .take_while(move |&d| f64::from(d) >= lo.floor())
        .map(|d| (d, 10f64.powi(d)))
        .filter(move |&(_, v)| v.log10() >= lo)
}

fn fmt_pow(decade: i32) -> String {
    match decade {
        0 => "1".into(),
        -1 => "0.1".into(),
        -2 => "0.01".into(),
        d => format!("1e{d}"),
    }
}

/// Member (blue) and non-member (orange) score histograms, 24 bins over the
/// finite score range, as fractions of each set.
fn hist_svg(h: &mut String, members: &[f64], nonmembers: &[f64]) {
    let finite = members
        .iter()
        .chain(nonmembers)
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let bins = 24usize;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let width_bin = |s: f64| {
        let s = if s.is_finite() {
            s
        } else if s > 0.0 {
            hi
        } else {
            lo
        };
        (((s - lo) / span) * bins as f64)
            .floor()
            .clamp(0.0, (bins - 1) as f64) as usize
    };
    // Scores such as the loss pile up at one end of their range; when one
    // equal-width bin would hold most records, bin by the pooled percentile
    // (midrank) instead, which always shows how the two sets separate.
    let mut pooled: Vec<f64> = members.iter().chain(nonmembers).copied().collect();
    pooled.sort_by(|a, b| a.total_cmp(b));
    let mut fullest = vec![0usize; bins];
    for &s in &pooled {
        fullest[width_bin(s)] += 1;
    }
    let by_rank = fullest.iter().copied().max().unwrap_or(0) * 10 > pooled.len() * 6;
    let bin_of = |s: f64| {
        if by_rank {
            let below = pooled.partition_point(|&x| x.total_cmp(&s).is_lt());
            let upto = pooled.partition_point(|&x| x.total_cmp(&s).is_le());
            let mid = (below + upto) as f64 / 2.0 / pooled.len().max(1) as f64;
            ((mid * bins as f64).floor() as usize).min(bins - 1)
        } else {
            width_bin(s)
        }
    };
    let count = |v: &[f64]| {
        let mut c = vec![0f64; bins];
        for &s in v {
            c[bin_of(s)] += 1.0;
        }
        let n = v.len().max(1) as f64;
        c.iter().map(|x| x / n).collect::<Vec<_>>()
    };
    let (lo_label, hi_label, axis) = if by_rank {
        (
            "0%".to_string(),
            "100%".to_string(),
            "score percentile (both sets pooled)",
        )
    } else {
        (format!("{lo:.3}"), format!("{hi:.3}"), "score")
    };
    let (cm, cn) = (count(members), count(nonmembers));
    let top = cm.iter().chain(&cn).copied().fold(1e-9, f64::max);
    let _ = write!(
        h,
        "<svg role=\"img\" aria-label=\"score histograms\" width=\"{W}\" height=\"{HGT}\" viewBox=\"0 0 {W} {HGT}\"><title>Score histograms: members (blue), non-members (orange)</title>"
    );
    let bw = (W - PAD - 8.0) / bins as f64;
    for (set, color, off) in [(&cn, "#e8871e", 0.0), (&cm, "#2456c9", bw / 2.0)] {
        for (i, &f) in set.iter().enumerate() {
            // bars stop below the legend (two lines at the top)
            let bh = (HGT - PAD - 36.0) * f / top;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"0.75\"/>",
                PAD + i as f64 * bw + off,
                HGT - PAD - bh,
                bw / 2.0,
                bh
            );
        }
    }
    let _ = write!(
        h,
        "<text x=\"{PAD}\" y=\"{:.1}\" font-size=\"10\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#2456c9\">members</text><text x=\"{:.1}\" y=\"28\" font-size=\"11\" text-anchor=\"end\" fill=\"#e8871e\">non-members</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{axis}</text></svg>",
        HGT - PAD + 14.0,
        lo_label,
        W - 8.0,
        HGT - PAD + 14.0,
        hi_label,
        W - 10.0,
        W - 10.0,
        (W + PAD) / 2.0,
        HGT - 4.0
    );
}

fn attribute(h: &mut String, a: &crate::attacks::attribute::AttributeReport) {
    let _ = write!(
        h,
        "<section class=\"attribute\" data-testid=\"attribute-report\"><h2>Attribute inference: {}</h2><p data-testid=\"attribute-lead\">Filling in each candidate value of <b>{}</b> and keeping the one the model finds most likely (times the value's prior), the attack is right for <b>{}</b> of the members and <b>{}</b> of the non-members: a gap of <b>{}</b> [{}, {}] (95% CI). The same gap for the imputation baseline, which never queries the model, is {} [{}, {}], and for the prior baseline {} [{}, {}]. A gap well above the baseline's is what the model leaks about its training records.</p>",
        esc(&a.column_name),
        esc(&a.column_name),
        pct(a.members.attack_accuracy),
        pct(a.nonmembers.attack_accuracy),
        pct(a.gap),
        pct(a.gap_ci95[0]),
        pct(a.gap_ci95[1]),
        pct(a.baseline_gap),
        pct(a.baseline_gap_ci95[0]),
        pct(a.baseline_gap_ci95[1]),
        pct(a.prior_gap),
        pct(a.prior_gap_ci95[0]),
        pct(a.prior_gap_ci95[1])
    );
    let _ = write!(
        h,
        "<table data-testid=\"attribute-table\"><thead><tr><th>records</th><th>n</th><th>attack (model)</th><th>prior baseline</th><th>imputation baseline</th></tr></thead><tbody>"
    );
    for (name, f) in [("members", &a.members), ("non-members", &a.nonmembers)] {
        let _ = write!(
            h,
            "<tr><td>{name}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{}</td></tr>",
            f.n,
            pct(f.attack_accuracy),
            pct(f.attack_ci95[0]),
            pct(f.attack_ci95[1]),
            pct(f.prior_accuracy),
            pct(f.imputation_accuracy)
        );
    }
    let _ = write!(h, "</tbody></table>");
    for (name, f) in [("members", &a.members), ("non-members", &a.nonmembers)] {
        let _ = write!(
            h,
            "<details><summary>Confusion table, {name} (rows: true value, columns: predicted)</summary><table><thead><tr><th></th>"
        );
        for v in &a.values {
            let _ = write!(h, "<th>{}</th>", esc(v));
        }
        let _ = write!(h, "</tr></thead><tbody>");
        for (v, row) in a.values.iter().zip(&f.confusion) {
            let _ = write!(h, "<tr><td>{}</td>", esc(v));
            for c in row {
                let _ = write!(h, "<td>{c}</td>");
            }
            let _ = write!(h, "</tr>");
        }
        let _ = write!(h, "</tbody></table></details>");
    }
    let _ = write!(
        h,
        "<p class=\"meta\">Reference set for the prior and the imputation model: {}.</p></section>",
        esc(&a.reference_set)
    );
}

fn inversion(h: &mut String, inv: &super::InversionReport) {
    use crate::attacks::inversion::image_u8;
    let _ = write!(
        h,
        "<section class=\"inversion\" data-testid=\"inversion-report\"><h2>Model inversion (MI-Face, {})</h2><p data-testid=\"inversion-lead\">",
        match inv.mode {
            crate::attacks::inversion::InversionMode::WhiteBox => "white-box",
            crate::attacks::inversion::InversionMode::BlackBox => "black-box",
        }
    );
    match inv.recognised_fraction {
        Some(f) => {
            let _ = write!(
                h,
                "An independent nearest-neighbour classifier fitted on the supplied records ({} rows) recognises the class of <b>{}</b> of the {} reconstructions.",
                inv.classifier_rows,
                pct(f),
                inv.classes.len()
            );
        }
        None => {
            let _ = write!(
                h,
                "No labelled records were supplied, so recognition was not measured."
            );
        }
    }
    let _ = write!(h, "</p><div class=\"gallery\">");
    for c in &inv.classes {
        let _ = write!(h, "<figure data-testid=\"inversion-class-{}\">", c.class);
        let (lo, hi) = c
            .reconstruction
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        match image_u8(
            &c.reconstruction,
            &inv.layout,
            lo,
            if hi > lo { hi } else { lo + 1.0 },
        ) {
            Ok((w, ih, ch, px)) => {
                let scale = (96 / w.max(ih).max(1)).max(2);
                let _ = write!(
                    h,
                    "<svg role=\"img\" aria-label=\"reconstruction of class {}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {w} {ih}\" shape-rendering=\"crispEdges\">",
                    c.class,
                    w * scale,
                    ih * scale
                );
                for y in 0..ih {
                    for x in 0..w {
                        let i = (y * w + x) * ch;
                        let (r, g, b) = if ch >= 3 {
                            (px[i], px[i + 1], px[i + 2])
                        } else {
                            (px[i], px[i], px[i])
                        };
                        let _ = write!(h, "<rect x=\"{x}\" y=\"{y}\" width=\"1\" height=\"1\" fill=\"#{r:02x}{g:02x}{b:02x}\"/>");
                    }
                }
                let _ = write!(h, "</svg>");
            }
            Err(_) => {
                // tabular: the reconstruction beside the members' class mean
                let _ = write!(
                    h,
                    "<table class=\"recon\"><thead><tr><th>feature</th><th>reconstruction</th><th>members' mean</th></tr></thead><tbody>"
                );
                for (k, v) in c.reconstruction.iter().enumerate().take(32) {
                    let mean = c
                        .members_class_mean
                        .as_ref()
                        .and_then(|m| m.get(k))
                        .map(|m| format!("{m:.3}"))
                        .unwrap_or_else(|| "n/a".into());
                    let _ = write!(h, "<tr><td>{k}</td><td>{v:.3}</td><td>{mean}</td></tr>");
                }
                let _ = write!(h, "</tbody></table>");
                if c.reconstruction.len() > 32 {
                    let _ = write!(
                        h,
                        "<p class=\"meta\">first 32 of {} features; all are in the JSON report</p>",
                        c.reconstruction.len()
                    );
                }
            }
        }
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into());
        let _ = write!(
            h,
            "<figcaption>class {} &middot; confidence {} &middot; nearest member {} / non-member {} &middot; {} to members' mean {} &middot; {}</figcaption></figure>",
            c.class,
            pct(c.target_confidence),
            opt(c.nearest_member_distance),
            opt(c.nearest_nonmember_distance),
            match c.similarity_kind {
                crate::attacks::inversion::SimilarityKind::Ssim => "SSIM",
                crate::attacks::inversion::SimilarityKind::Cosine => "cosine",
            },
            opt(c.class_mean_similarity),
            match c.recognised {
                Some(true) => "recognised",
                Some(false) => "not recognised",
                None => "recognition not measured",
            }
        );
    }
    let _ = write!(h, "</div></section>");
}

/// Leaf membership of a tree ensemble: the counts and the first uniquely
/// identifying leaves.
fn leaves(h: &mut String, l: &crate::attacks::membership::leaves::LeafReport) {
    const SHOWN: usize = 20;
    let _ = write!(
        h,
        "<section class=\"leaves\" data-testid=\"leaves-report\"><h2>Tree leaves that single out a member</h2><p data-testid=\"leaves-lead\">Of the <b>{}</b> leaves of the {} trees in <code>{}</code>, the {} members reach <b>{}</b>. <b>{}</b> leaves are reached by exactly one member and none of the {} non-members: they identify <b>{}</b> members, whose presence in the training set shows in the model itself.</p>",
        l.leaves,
        l.trees,
        esc(&l.node),
        l.members,
        l.leaves_reached_by_members,
        l.unique_leaves,
        l.nonmembers,
        l.members_with_unique_leaf
    );
    if !l.unique.is_empty() {
        let _ = write!(
            h,
            "<table data-testid=\"leaves-table\"><thead><tr><th>tree</th><th>leaf node</th><th>member row (0-based)</th></tr></thead><tbody>"
        );
        for u in l.unique.iter().take(SHOWN) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                u.tree, u.node, u.member
            );
        }
        let _ = write!(h, "</tbody></table>");
        if l.unique_leaves > SHOWN {
            let _ = write!(
                h,
                "<p class=\"meta\">{} more in the JSON report.</p>",
                l.unique_leaves - SHOWN
            );
        }
    }
    let _ = write!(h, "</section>");
}

/// The reference models' fit beside the target's (one table per set).
fn calibration(h: &mut String, report: &Report) {
    use crate::attacks::membership::references::{Calibration, Spread};
    let sets = Calibration::from_report(&report.references);
    if sets.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h2>Reference models: how well they fit, beside the target</h2><p>The reference attacks (LiRA, RMIA) compare the target with models trained like it. They are only as strong as that likeness: references that fit their training records less than the target fits its members make a leaky model look safe.</p>"
    );
    let spread = |s: Option<Spread>, f: &dyn Fn(f64) -> String| match s {
        Some(s) => format!("{} [{}, {}]", f(s.median), f(s.min), f(s.max)),
        None => "-".into(),
    };
    let loss = |v: f64| format!("{v:.3e}");
    let acc = |v: f64| format!("{v:.3}");
    for (mode, c) in sets {
        let stop = match c.stop.as_str() {
            "target_loss" => "trained until the median loss on their own training records reached the target's on its members",
            "target_accuracy" => "trained until a training accuracy given in the settings",
            _ => "trained a fixed number of epochs (settings)",
        };
        let _ = write!(
            h,
            "<table class=\"calibration\" data-testid=\"calibration-{mode}\"><caption>{mode} references ({}): {} records each, {} epochs (median, cap {})</caption><tr><th></th><th>median loss -ln p<sub>y</sub></th><th>accuracy</th></tr><tr><td>target on its members</td><td>{}</td><td>{}</td></tr><tr><td>target on non-members</td><td>{}</td><td>{}</td></tr><tr><td>references on their training records (median [range])</td><td>{}</td><td>{}</td></tr><tr><td>references on other audit records</td><td>{}</td><td>{}</td></tr></table>",
            esc(stop),
            c.train_size,
            c.epochs_median,
            c.max_epochs,
            loss(c.target.members.loss_median),
            acc(c.target.members.accuracy),
            loss(c.target.nonmembers.loss_median),
            acc(c.target.nonmembers.accuracy),
            esc(&spread(c.in_loss_median, &loss)),
            esc(&spread(c.in_accuracy, &acc)),
            esc(&spread(c.out_loss_median, &loss)),
            esc(&spread(c.out_accuracy, &acc)),
        );
        let penalty = match (c.l2_source.as_str(), c.target.stationarity) {
            ("target", Some(st)) => format!(
                "The target looks trained to convergence with an L2 penalty: its loss gradient on the members points against its weights (cosine {:.2}) with the strength of a penalty {:.3e}, so the references trained with that penalty until their fit reached the target's or stopped improving.",
                st.cosine, c.l2
            ),
            ("recipe", _) => format!("The references trained with the L2 penalty of the settings, {:.3e}.", c.l2),
            (_, Some(st))
                if st.cosine < crate::attacks::membership::references::L2_MIN_COSINE =>
            {
                format!(
                    "No L2 penalty: the target's loss gradient on the members is not balanced by one (cosine {:.2}, below {}).",
                    st.cosine,
                    crate::attacks::membership::references::L2_MIN_COSINE
                )
            }
            (_, Some(st)) => format!(
                "No L2 penalty, as the settings fix the epochs or an accuracy, although the target's loss gradient on the members suggests one ({:.3e}, cosine {:.2}).",
                st.l2, st.cosine
            ),
            _ => String::new(),
        };
        if !penalty.is_empty() {
            let _ = write!(
                h,
                "<p data-testid=\"calibration-l2-{mode}\">{}</p>",
                esc(&penalty)
            );
        }
        for w in &c.warnings {
            let _ = write!(
                h,
                "<p class=\"warning\" data-testid=\"calibration-warning\">Warning: {}</p>",
                esc(w)
            );
        }
    }
}

fn dp_audit(h: &mut String, d: &crate::attacks::dp_audit::DpAuditReport) {
    let b = &d.bound;
    let acc = match d.accountant_epsilon {
        Some(e) => format!("{e:.3}"),
        None => "none (no noise: no guarantee)".into(),
    };
    let _ = write!(
        h,
        "<section class=\"dp-audit\" data-testid=\"dp-audit-report\"><h2>Checking the DP-SGD claim in one run</h2><p data-testid=\"dp-audit-lead\">{} canaries (mislabelled training records), each included in training with probability 1/2 ({} were), in one DP-SGD run on {} records. Guessing IN for the highest-scoring canaries and OUT for the lowest, the audit shows the run is <b>not ({:.3}, {})-DP</b> at {:.0}% confidence (Steinke, Nasr and Jagielski 2023). The accountant's epsilon for the same run is <b>{}</b>: a lower bound far below it means this attack could not show the guarantee is loose, not that it is tight.</p>",
        b.canaries,
        b.included,
        d.trained_on,
        b.epsilon_lower_bound,
        b.delta,
        100.0 * (1.0 - b.beta),
        esc(&acc)
    );
    let _ = write!(
        h,
        "<table data-testid=\"dp-audit-table\"><thead><tr><th>guesses (IN + OUT)</th><th>correct</th><th>epsilon lower bound (at beta {:.4})</th></tr></thead><tbody>",
        b.beta_per_row
    );
    for r in &b.rows {
        let _ = write!(
            h,
            "<tr><td>{} + {}</td><td>{}</td><td>{:.3}</td></tr>",
            r.k_plus, r.k_minus, r.correct, r.epsilon_lower_bound
        );
    }
    let _ = write!(
        h,
        "</tbody></table><p class=\"note\">{}</p><details><summary>Every setting of the DP audit</summary><pre>{}</pre></details></section>",
        esc(&b.method),
        esc(&serde_json::to_string_pretty(&d.config).unwrap_or_default())
    );
}

fn slices(h: &mut String, r: &crate::stats::slices::SliceReport) {
    let flagged: Vec<String> = r
        .attacks
        .iter()
        .flat_map(|a| {
            a.slices
                .iter()
                .filter(|f| f.leaks_more)
                .map(move |f| format!("{} on {}", a.attack, r.slices[f.slice].label))
        })
        .collect();
    let lead = if flagged.is_empty() {
        format!(
            "No slice of <b>{}</b> leaks more than the whole at the {}% level once the number of slices is accounted for (Holm).",
            esc(&r.spec.name),
            100.0 * (1.0 - r.alpha)
        )
    } else {
        format!(
            "Leaking more than the whole after the Holm correction ({}% level): <b>{}</b>.",
            100.0 * (1.0 - r.alpha),
            esc(&flagged.join("; "))
        )
    };
    let _ = write!(
        h,
        "<section class=\"slices\" data-testid=\"slices-report\"><h2>Leakage by subgroup: {} ({})</h2><p data-testid=\"slices-lead\">{lead}</p><p class=\"note\">{}</p><div class=\"table-scroll\"><table data-testid=\"slices-table\"><thead><tr><th>slice</th><th>members</th><th>non-members</th>",
        esc(&r.spec.name),
        esc(&r.kind),
        esc(&r.caution)
    );
    for a in &r.attacks {
        let _ = write!(
            h,
            "<th>{} AUC (overall {:.3})</th>",
            esc(&a.attack),
            a.overall_auc
        );
    }
    let _ = write!(h, "</tr></thead><tbody>");
    for (i, sl) in r.slices.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&sl.label),
            sl.members,
            sl.nonmembers
        );
        for a in &r.attacks {
            match a.slices.iter().find(|f| f.slice == i) {
                Some(f) => {
                    let p = f
                        .p_holm
                        .map_or("not tested".into(), |p| format!("Holm p {p:.3}"));
                    let mark = if f.leaks_more { " class=\"flag\"" } else { "" };
                    let _ = write!(
                        h,
                        "<td{mark} title=\"{}\">{:.3} [{:.3}, {:.3}]{}</td>",
                        esc(&p),
                        f.auc,
                        f.auc_ci95[0],
                        f.auc_ci95[1],
                        if f.leaks_more { " leaks more" } else { "" }
                    );
                }
                None => {
                    let _ = write!(h, "<td>-</td>");
                }
            }
        }
        let _ = write!(h, "</tr>");
    }
    let _ = write!(
        h,
        "</tbody></table></div><p class=\"note\">{}</p></section>",
        esc(&r.method)
    );
}
