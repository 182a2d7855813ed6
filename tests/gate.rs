//! Gates and the report diff in the core:
//! - `gate::evaluate` on a golden report (tests/fixtures/golden), the
//!   expected figures read from the raw JSON, not through the report type;
//!   unresolvable TPR levels and missing attacks fail the gate;
//! - `report::diff`'s significance rule against an independent computation
//!   (tests/fixtures/gate/gen_diff_expected.py: the O(m n) DeLong
//!   placements, brute-force ROC, scipy p-values, Holm), paired and
//!   unpaired;
//! - JUnit XML is well formed and escapes untrusted names; the Markdown
//!   summary escapes table cells.

use privacy_inspector::attacks::membership::audit::{AttackResult, Scores};
use privacy_inspector::gate::{self, GateStatus};
use privacy_inspector::report::{ci, diff, read_json, Report};
use privacy_inspector::stats::{delong, evaluate, StatsConfig};
use serde_json::Value;
use std::path::Path;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const GOLDEN: &str = "golden/quick_breast_cancer_mlp.json";

fn golden() -> (Report, Value) {
    let bytes = fixture(GOLDEN);
    let report = read_json(&bytes)
        .unwrap()
        .with_guidance(&Default::default())
        .unwrap();
    (report, serde_json::from_slice(&bytes).unwrap())
}

#[track_caller]
fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} vs {b}");
}

/// The highest value of `f` over the raw JSON's attacks that ran, with the
/// first attack reaching it.
fn raw_max(v: &Value, f: impl Fn(&Value) -> Option<f64>) -> (String, f64) {
    let mut best: Option<(String, f64)> = None;
    for a in v["attacks"].as_array().unwrap() {
        if let Some(x) = f(a) {
            if best.as_ref().map_or(true, |b| x > b.1) {
                best = Some((a["id"].as_str().unwrap().to_string(), x));
            }
        }
    }
    best.unwrap()
}

#[test]
fn gates_evaluate_the_golden_report() {
    let (report, raw) = golden();
    let loss_auc = raw["attacks"][0]["auc"].as_f64().unwrap();
    assert_eq!(raw["attacks"][0]["id"], "loss");
    let (max_auc_id, max_auc) = raw_max(&raw, |a| a["auc"].as_f64());
    let (tpr_id, max_tpr) = raw_max(&raw, |a| {
        let d = &a["tpr_at_fpr_detail"]["0.1"];
        d["resolvable"]
            .as_bool()
            .unwrap()
            .then(|| d["tpr"].as_f64().unwrap())
    });
    let (adv_id, max_adv) = raw_max(&raw, |a| a["advantage"].as_f64());
    let n = raw["counts"]["nonmembers"].as_u64().unwrap();
    assert!(
        (n as f64) * 0.01 < 1.0,
        "the fixture must leave 1% FPR unresolvable"
    );

    let check = |expr: &str, status: GateStatus, figure: Option<(&str, f64)>| {
        let conds = gate::parse(expr).unwrap();
        let g = gate::evaluate(&report, &conds);
        let o = &g.outcomes[0];
        assert_eq!(o.status, status, "{expr}: {o:?}");
        assert_eq!(g.passed, status == GateStatus::Pass, "{expr}");
        match figure {
            Some((src, v)) => {
                assert_eq!(o.source.as_deref(), Some(src), "{expr}");
                close(o.figure.unwrap(), v, 1e-12, expr);
            }
            None => assert_eq!(o.figure, None, "{expr}"),
        }
        o.message.clone()
    };
    check(
        "loss.auc<0.5",
        GateStatus::Tripped,
        Some(("loss", loss_auc)),
    );
    check("loss.auc>=0.5", GateStatus::Pass, Some(("loss", loss_auc)));
    check(
        &format!("max.auc>={max_auc}"),
        GateStatus::Tripped,
        Some((&max_auc_id, max_auc)),
    );
    check(
        &format!("max.auc>{max_auc}"),
        GateStatus::Pass,
        Some((&max_auc_id, max_auc)),
    );
    check(
        "max.tpr@0.1>=0.05",
        GateStatus::Tripped,
        Some((&tpr_id, max_tpr)),
    );
    check(
        "max.advantage>0.5",
        GateStatus::Pass,
        Some((&adv_id, max_adv)),
    );
    check(
        "max.epsilon_lower_bound>1",
        GateStatus::Pass,
        Some(("loss", 0.0)),
    );
    // 30 non-members cannot resolve 1% or 0.1% FPR: the gate says so and fails
    let m = check("risk_score.tpr@0.01>0.5", GateStatus::Unresolvable, None);
    assert!(
        m.contains("not resolvable with 30 non-members") && m.contains("100"),
        "{m}"
    );
    check("max.tpr@0.001>0.5", GateStatus::Unresolvable, None);
    let m = check("lira_online.auc>0.9", GateStatus::NotEvaluated, None);
    assert!(m.contains("not in the report"), "{m}");
    // guidance rules
    check("dp_sgd", GateStatus::Pass, Some(("dp_sgd", 0.0)));
    let m = check("inversion", GateStatus::NotEvaluated, None);
    assert!(m.contains("not evaluated"), "{m}");
    let fired = report.guidance.as_ref().unwrap().fired().count();
    let any = gate::evaluate(&report, &gate::parse("any").unwrap());
    assert_eq!(any.outcomes[0].figure, Some(fired as f64));
    assert_eq!(any.passed, fired == 0);

    // several conditions: the gate fails when any one does not pass
    let g = gate::evaluate(
        &report,
        &gate::parse("loss.auc>=0.5,max.tpr@0.01>0.5").unwrap(),
    );
    assert!(!g.passed);
    assert_eq!(g.failed().count(), 1);
    let g = gate::evaluate(&report, &gate::parse("loss.auc>=0.9,dp_sgd").unwrap());
    assert!(g.passed, "{g:?}");
    // the section goes into the report's JSON and HTML
    let r = report
        .clone()
        .with_gates(&gate::parse("max.tpr@0.01>0.5").unwrap());
    let back = read_json(r.to_json().as_bytes()).unwrap();
    assert_eq!(back.gates, r.gates);
    let html = privacy_inspector::report::html::render(&r, true);
    assert!(html.contains("data-testid=\"gates\"") && html.contains("unresolvable"));
}

#[test]
fn rule_ids_are_the_guidance_rules_in_order() {
    let (report, _) = golden();
    let ids: Vec<&str> = report
        .guidance
        .as_ref()
        .unwrap()
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, privacy_inspector::guidance::RULE_IDS);
}

/// A report with the attacks `loss` and `confidence` on the given scores
/// (labels all 0) and the records' SHA-256s `hash`.
fn synthetic(base: &Report, scores: &Value, hash: &str) -> Report {
    let mut r = base.clone();
    r.attacks = ["loss", "confidence"]
        .iter()
        .map(|id| {
            let v = |i: usize| -> Vec<f64> {
                scores[id][i]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            };
            let (m, n) = (v(0), v(1));
            let stats = evaluate(
                &m,
                &n,
                &vec![0; m.len()],
                &vec![0; n.len()],
                &StatsConfig::default(),
            )
            .unwrap();
            AttackResult {
                id: id.to_string(),
                skipped: None,
                stats: Some(stats),
                scores: Some(Scores {
                    members: m,
                    nonmembers: n,
                }),
                details: Value::Null,
            }
        })
        .collect();
    r.records = None;
    r.counts.members = r.attacks[0].stats.as_ref().unwrap().n_members;
    r.counts.nonmembers = r.attacks[0].stats.as_ref().unwrap().n_nonmembers;
    r.inputs =
        serde_json::json!({"sha256": {"members": hash, "nonmembers": hash, "population": null}});
    r
}

#[test]
fn diff_significance_matches_the_independent_computation() {
    let (base, _) = golden();
    let base = Report {
        guidance: None,
        ..base
    };
    let scores: Value = serde_json::from_slice(&fixture("gate/scores.json")).unwrap();
    let expected: Value = serde_json::from_slice(&fixture("gate/expected.json")).unwrap();
    let old = synthetic(&base, &scores["old"], "aa");
    for (case, new, same) in [
        (
            "paired",
            synthetic(&base, &scores["new_paired"], "aa"),
            true,
        ),
        (
            "unpaired",
            synthetic(&base, &scores["new_other"], "bb"),
            false,
        ),
    ] {
        let d = diff::diff(&old, &new);
        assert_eq!(d.same_records, Some(same), "{case}");
        let got: Vec<(&str, &diff::FigureDiff)> = d
            .attacks
            .iter()
            .flat_map(|a| {
                a.figures
                    .iter()
                    .filter(|f| f.figure == "auc" || f.figure.starts_with("tpr@"))
                    .map(move |f| (a.id.as_str(), f))
            })
            .collect();
        let want = expected[case].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{case}");
        let mut any_real = false;
        for ((attack, f), w) in got.iter().zip(want) {
            let at = format!("{case} {attack} {}", f.figure);
            assert_eq!(*attack, w["attack"].as_str().unwrap(), "{at}");
            assert_eq!(f.figure, w["figure"].as_str().unwrap(), "{at}");
            assert_eq!(f.test, w["test"].as_str().unwrap(), "{at}");
            close(f.old, w["old"].as_f64().unwrap(), 1e-12, &at);
            close(f.new, w["new"].as_f64().unwrap(), 1e-12, &at);
            match w["p"].as_f64() {
                Some(p) => {
                    close(f.p_value.unwrap(), p, 1e-9, &format!("{at} p"));
                    let h = w["p_holm"].as_f64().unwrap();
                    close(f.p_holm.unwrap(), h, 1e-9, &format!("{at} Holm p"));
                    assert_eq!(f.real, h < 0.05, "{at}");
                    assert_eq!(f.worse, h < 0.05 && f.change > 0.0, "{at}");
                    any_real |= f.real;
                }
                None => assert_eq!(f.p_value, None, "{at}"),
            }
        }
        assert!(any_real, "{case}: the fixture should hold a real change");
        assert_eq!(d.regression, d.regressions().count() > 0);
    }
    // the paired test's parts
    let w = &expected["paired"][0];
    let v = |s: &str, i: usize| -> Vec<f64> {
        scores[s]["loss"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let t = delong::paired_delong(
        &v("old", 0),
        &v("old", 1),
        &v("new_paired", 0),
        &v("new_paired", 1),
    )
    .unwrap();
    close(t.var_a, w["var_old"].as_f64().unwrap(), 1e-9, "var_a");
    close(t.var_b, w["var_new"].as_f64().unwrap(), 1e-9, "var_b");
    close(t.covariance, w["covariance"].as_f64().unwrap(), 1e-9, "cov");
    close(t.z.unwrap(), w["z"].as_f64().unwrap(), 1e-9, "z");
}

#[test]
fn diff_of_a_report_with_itself_is_comparable_and_unchanged() {
    let (r, _) = golden();
    let d = diff::diff(&r, &r);
    // the golden report has no record hashes (made by the library, not the CLI)
    assert_eq!(d.same_records, None);
    assert_eq!(d.differences.len(), 1, "{:?}", d.differences);
    assert!(!d.regression);
    assert!(d
        .attacks
        .iter()
        .all(|a| a.figures.iter().all(|f| !f.real && f.change == 0.0)));
    assert!(d.rules_started.is_empty() && d.rules_stopped.is_empty());
    // settings and seed differences are listed
    let mut other = r.clone();
    other.seed += 1;
    if let Some(s) = other.settings.as_mut() {
        s.references += 1;
    }
    let d = diff::diff(&r, &other);
    assert!(
        d.differences.iter().any(|x| x.starts_with("seed:")),
        "{:?}",
        d.differences
    );
    assert!(
        d.differences
            .iter()
            .any(|x| x.contains("audit settings: references")),
        "{:?}",
        d.differences
    );
    assert!(!d.comparable);
}

/// A small well-formedness check of XML: every tag closes in order,
/// attributes are quoted, and `&` starts only the five predefined
/// entities; no control characters.
fn well_formed(x: &str) -> Result<usize, String> {
    let body = x
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .ok_or("no XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut elements = 0;
    let check_text = |t: &str| -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            rest = &rest[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e))
            {
                return Err(format!("bad entity at '{}'", &rest[..rest.len().min(10)]));
            }
            rest = &rest[1..];
        }
        if t.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err("control character".into());
        }
        if t.contains('<') || t.contains('>') {
            return Err(format!("raw markup in text '{t}'"));
        }
        Ok(())
    };
    let mut rest = body;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            check_text(rest)?;
            break;
        };
        check_text(&rest[..open])?;
        rest = &rest[open..];
        // the tag ends at the first '>' outside quotes
        let mut in_quote = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quote = !in_quote;
                }
                c == '>' && !in_quote
            })
            .ok_or("unclosed tag")?
            .0;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("stray </{name}>"))?;
            if top != name {
                return Err(format!("</{name}> closes <{top}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag
            .split_whitespace()
            .next()
            .ok_or("empty tag")?
            .to_string();
        // attributes: name="value" pairs, values escaped
        let mut attrs = tag[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find("=\"")
                .ok_or(format!("bad attribute in <{tag}>"))?;
            let close = attrs[eq + 2..].find('"').ok_or("unclosed attribute")? + eq + 2;
            check_text(&attrs[eq + 2..close])?;
            attrs = attrs[close + 1..].trim_start();
        }
        elements += 1;
        if !self_closing {
            stack.push(name);
        }
    }
    if stack.is_empty() {
        Ok(elements)
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[test]
fn junit_is_well_formed_and_escapes_untrusted_names() {
    let (mut r, _) = golden();
    // names from a report read from anyone: markup, quotes, control characters
    let g = r.guidance.as_mut().unwrap();
    g.rules[0].id = "x\"/><evil a='1'>&amp;\u{1}".into();
    g.rules[0].status = privacy_inspector::guidance::Status::Fired;
    g.rules[0].title = "</failure></testcase>".into();
    let r = r.with_gates(&gate::parse("max.tpr@0.01>0.5,loss.auc>0.1").unwrap());
    let x = ci::junit(&r);
    let n = well_formed(&x).unwrap_or_else(|e| panic!("{e}\n{x}"));
    // testsuites + 2 suites + 10 rules + 2 gates, plus their failure/skipped children
    assert!(n >= 15, "{n}");
    assert!(
        x.contains("name=\"x&quot;/&gt;&lt;evil a=&apos;1&apos;&gt;&amp;amp;\u{FFFD}\""),
        "{x}"
    );
    assert!(!x.contains("<evil"));
    // each rule and each gate is a test case; failures carry figure and threshold
    assert_eq!(x.matches("<testcase ").count(), 12);
    assert!(
        x.contains("failures=\"2\""),
        "both gates fail (unresolvable, tripped): {x}"
    );
    assert!(x.contains("figure 0.4828 &gt; threshold 0.1000"), "{x}");
    // the checker itself refuses broken XML
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b></a></b>").is_err());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"&y\"/>").is_err());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>1 < 2</a>").is_err());

    let md = ci::summary_md(&r);
    assert!(md.contains("(gates FAILED)"), "{md}");
    assert!(md.contains("| loss | 0.483 ["), "{md}");
    assert!(md.contains("**unresolvable**"), "{md}");
    // the untrusted id stays inside its code span (no backtick to end it;
    // renderers show code spans literally), the title is escaped
    assert!(
        md.contains("- `x\"/><evil a='1'>&amp;\u{1}` &lt;/failure&gt;&lt;/testcase&gt;"),
        "{md}"
    );
    assert!(
        md.lines().count() < 40,
        "short enough for a PR comment: {md}"
    );
}

#[test]
fn diff_lists_attacks_in_one_report_only_or_skipped() {
    let (old, _) = golden();
    let mut new = old.clone();
    // loss skipped in the new report, gap missing, a new attack present
    new.attacks[0].stats = None;
    new.attacks[0].scores = None;
    new.attacks[0].skipped = Some("no population".into());
    let gap = new.attacks.iter().position(|a| a.id == "gap").unwrap();
    let mut extra = new.attacks.remove(gap);
    extra.id = "qmia".into();
    new.attacks.push(extra);
    let d = diff::diff(&old, &new);
    let status = |id: &str| {
        let a = d.attacks.iter().find(|a| a.id == id).unwrap();
        (a.status.clone(), a.note.clone(), a.figures.len())
    };
    let (s, note, n) = status("loss");
    assert_eq!((s.as_str(), n), ("skipped", 0));
    assert_eq!(note.as_deref(), Some("skipped in new: no population"));
    assert_eq!(status("gap").0, "only_old");
    assert_eq!(status("qmia").0, "only_new");
    assert_eq!(status("confidence").0, "compared");
    assert!(
        d.differences
            .iter()
            .any(|x| x.starts_with("attacks that ran:")),
        "{:?}",
        d.differences
    );
    let text = diff::render_text(&d);
    assert!(
        text.contains("only old") && text.contains("skipped: skipped in new"),
        "{text}"
    );
}
