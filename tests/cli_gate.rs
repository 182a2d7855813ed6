//! The release pipeline of docs/ci.md, run on fixtures: the gate trips
//! (exit 3) on an overfit model and passes on a regularised one, every
//! output is written either way, and `diff` between the two reports flags
//! the regression. Bad `--fail-on` lists are input errors (exit 2) before
//! any work. The `--fail-on` list is read from docs/ci.md.

#[path = "common/cli.rs"]
mod cli;

use cli::{run, tmp};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn demo(name: &str) -> String {
    root("tests/fixtures/demo")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// The `--fail-on '...'` list of docs/ci.md's commands.
fn documented_fail_on() -> String {
    let doc = std::fs::read_to_string(root("docs/ci.md")).unwrap();
    let at = doc
        .find("--fail-on '")
        .expect("docs/ci.md has a --fail-on list")
        + "--fail-on '".len();
    let list = &doc[at..at + doc[at..].find('\'').unwrap()];
    // every copy in the document is the same list
    for (i, _) in doc.match_indices("--fail-on '") {
        assert!(
            doc[i..].starts_with(&format!("--fail-on '{list}'")),
            "docs/ci.md: two different lists"
        );
    }
    list.to_string()
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `audit` of a demo model as docs/ci.md runs it; returns (code, stdout,
/// stderr) and the output paths (report, html, junit, summary).
fn audit(
    model: &str,
    data: &str,
    tag: &str,
    fail_on: &str,
) -> ((i32, String, String), [PathBuf; 4]) {
    let out = [
        tmp(&format!("{tag}.json")),
        tmp(&format!("{tag}.html")),
        tmp(&format!("{tag}.xml")),
        tmp(&format!("{tag}.md")),
    ];
    let r = run(&[
        "audit",
        &demo(model),
        "--members",
        &demo(&format!("{data}_members.csv")),
        "--nonmembers",
        &demo(&format!("{data}_nonmembers.csv")),
        "--attacks",
        "loss,confidence",
        "--seed",
        "0",
        "--quiet",
        "--report",
        out[0].to_str().unwrap(),
        "--html",
        out[1].to_str().unwrap(),
        "--junit",
        out[2].to_str().unwrap(),
        "--summary-md",
        out[3].to_str().unwrap(),
        "--fail-on",
        fail_on,
    ]);
    (r, out)
}

#[test]
fn gate_trips_on_the_overfit_model_passes_on_the_regularised_one_and_diff_flags_it() {
    let fail_on = documented_fail_on();
    let ((code, stdout, stderr), over) = audit("digits_overfit.onnx", "digits", "over", &fail_on);
    assert_eq!(code, 3, "stdout {stdout}\nstderr {stderr}");
    assert!(stderr.starts_with("gate failed: "), "{stderr}");
    assert!(
        stderr.contains("max.auc>=0.55 (tripped): auc = 0.58"),
        "{stderr}"
    );
    assert!(stdout.contains("Gates: FAILED"), "{stdout}");
    // every output written in full
    let r = json(&over[0]);
    assert_eq!(r["gates"]["passed"], false);
    let outcomes = r["gates"]["outcomes"].as_array().unwrap();
    let status = |c: &str| {
        outcomes
            .iter()
            .find(|o| o["condition"] == c)
            .unwrap_or_else(|| panic!("{c} in {outcomes:?}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("max.auc>=0.55"), "tripped");
    assert_eq!(status("max.epsilon_lower_bound>1"), "tripped");
    assert_eq!(status("embedded_records"), "pass");
    // the tripped figure is the report's own
    let auc = r["attacks"][0]["auc"].as_f64().unwrap();
    let o = outcomes
        .iter()
        .find(|o| o["condition"] == "max.auc>=0.55")
        .unwrap();
    assert_eq!(o["figure"].as_f64().unwrap(), auc);
    assert_eq!(r["inputs"]["sha256"]["members"].as_str().unwrap().len(), 64);
    let html = std::fs::read_to_string(&over[1]).unwrap();
    assert!(html.contains("data-testid=\"gates\"") && html.contains("tripped"));
    let xml = std::fs::read_to_string(&over[2]).unwrap();
    assert!(
        xml.starts_with("<?xml")
            && xml.contains(
                "<testcase classname=\"privacy-inspector.gates\" name=\"max.auc&gt;=0.55\">"
            ),
        "{xml}"
    );
    let md = std::fs::read_to_string(&over[3]).unwrap();
    assert!(
        md.contains("(gates FAILED)") && md.contains("**tripped**"),
        "{md}"
    );

    let ((code, stdout, stderr), reg) =
        audit("regularised_mlp.onnx", "regularised", "reg", &fail_on);
    assert_eq!(code, 0, "stdout {stdout}\nstderr {stderr}");
    assert!(stdout.contains("Gates: passed"), "{stdout}");
    assert_eq!(json(&reg[0])["gates"]["passed"], true);

    // the diff from the regularised release to the overfit one
    let (dh, dj) = (tmp("diff.html"), tmp("diff.json"));
    let (code, stdout, stderr) = run(&[
        "diff",
        reg[0].to_str().unwrap(),
        over[0].to_str().unwrap(),
        "--html",
        dh.to_str().unwrap(),
        "--json",
        dj.to_str().unwrap(),
        "--fail-on-regression",
    ]);
    assert_eq!(code, 3, "stdout {stdout}\nstderr {stderr}");
    assert!(stdout.contains("REGRESSION"), "{stdout}");
    assert!(
        stderr.contains("gate failed: regression: loss.auc"),
        "{stderr}"
    );
    let d = json(&dj);
    assert_eq!(d["regression"], true);
    assert_eq!(d["same_records"], false);
    assert!(d["differences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x.as_str().unwrap().starts_with("members records differ")));
    assert!(d["rules_started"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "dp_sgd"));
    assert!(std::fs::read_to_string(&dh)
        .unwrap()
        .contains("data-testid=\"diff\""));
    // without --fail-on-regression the diff only reports
    let (code, _, _) = run(&["diff", reg[0].to_str().unwrap(), over[0].to_str().unwrap()]);
    assert_eq!(code, 0);
    // and the other way round it is an improvement, not a regression
    let (code, stdout, _) = run(&[
        "diff",
        over[0].to_str().unwrap(),
        reg[0].to_str().unwrap(),
        "--fail-on-regression",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("better"), "{stdout}");
    // a report against itself: same records, paired test, comparable
    let (code, stdout, _) = run(&[
        "diff",
        reg[0].to_str().unwrap(),
        reg[0].to_str().unwrap(),
        "--fail-on-regression",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("comparable: same attacks") && stdout.contains("paired DeLong"),
        "{stdout}"
    );
}

#[test]
fn bad_gates_are_input_errors_before_any_work() {
    for (list, attacks, needle) in [
        ("lira.tpr@0.01>0.05", "loss", "unknown attack 'lira'"),
        ("loss.tpr>0.05", "loss", "needs an FPR level"),
        ("loss.auc>2", "loss", "out of range"),
        ("lowfpr", "loss", "'lowfpr' is not a guidance rule"),
        (
            "lira_online.auc>0.6",
            "loss,confidence",
            "names attack 'lira_online', which this run does not run",
        ),
    ] {
        let report = tmp("never.json");
        let (code, _, stderr) = run(&[
            "audit",
            &demo("digits_overfit.onnx"),
            "--members",
            &demo("digits_members.csv"),
            "--nonmembers",
            &demo("digits_nonmembers.csv"),
            "--attacks",
            attacks,
            "--quiet",
            "--report",
            report.to_str().unwrap(),
            "--fail-on",
            list,
        ]);
        assert_eq!(code, 2, "{list}: {stderr}");
        assert!(stderr.contains(needle), "{list}: {stderr}");
        assert!(!report.exists(), "{list}: no work, no report");
    }
    // scan runs no membership attack
    let (code, _, stderr) = run(&[
        "scan",
        &demo("digits_overfit.onnx"),
        "--report",
        tmp("scan-never.json").to_str().unwrap(),
        "--fail-on",
        "max.auc>0.6",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`scan` does not run"), "{stderr}");
    // diff of a file that is not a report
    let (code, _, stderr) = run(&[
        "diff",
        &demo("digits_members.csv"),
        &demo("digits_members.csv"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read report") && stderr.contains("not a privacy-inspector report"),
        "{stderr}"
    );
}

#[test]
fn scan_gates_on_its_rules_and_fails_closed_on_rules_it_cannot_evaluate() {
    let (report, junit) = (tmp("scan.json"), tmp("scan.xml"));
    let args = |list: &'static str| {
        vec![
            "scan".to_string(),
            demo("digits_overfit.onnx"),
            "--members".into(),
            demo("digits_members.csv"),
            "--report".into(),
            report.to_str().unwrap().into(),
            "--junit".into(),
            junit.to_str().unwrap().into(),
            "--fail-on".into(),
            list.into(),
        ]
    };
    let a = args("embedded_records,record_like_tensors");
    let (code, stdout, stderr) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(json(&report)["gates"]["passed"], true);
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("name=\"embedded_records\""));
    // a membership rule cannot be evaluated by a scan: the gate says so and fails
    let a = args("low_fpr_tpr");
    let (code, _, stderr) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("low_fpr_tpr (not_evaluated)"), "{stderr}");
    assert_eq!(
        json(&report)["gates"]["outcomes"][0]["status"],
        "not_evaluated"
    );
}

#[test]
fn attribute_reports_carry_the_guidance_and_gate_on_its_rule() {
    let (report, md) = (tmp("attr.json"), tmp("attr.md"));
    let (code, stdout, stderr) = run(&[
        "attribute",
        root("tests/fixtures/sk_pipeline_wine.onnx")
            .to_str()
            .unwrap(),
        "--members",
        root("tests/fixtures/data/wine.train.csv").to_str().unwrap(),
        "--nonmembers",
        root("tests/fixtures/data/wine.test.csv").to_str().unwrap(),
        "--sensitive",
        "f0",
        "--bins",
        "10,12.5,13.5,15",
        "--report",
        report.to_str().unwrap(),
        "--summary-md",
        md.to_str().unwrap(),
        "--fail-on",
        "attribute_inference",
    ]);
    let r = json(&report);
    let rule = r["guidance"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "attribute_inference")
        .unwrap()
        .clone();
    assert_ne!(rule["status"], "not_evaluated", "{rule}");
    let fired = rule["status"] == "fired";
    let o = &r["gates"]["outcomes"][0];
    assert_eq!(o["status"], if fired { "tripped" } else { "pass" });
    assert_eq!(o["figure"], rule["figure"]["value"]);
    assert_eq!(code, if fired { 3 } else { 0 }, "{stdout}\n{stderr}");
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .contains("`attribute_inference`"));
}
