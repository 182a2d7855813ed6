//! `privacy-inspector audit` end to end: the JSON report has the documented
//! fields, the HTML report is self-contained, and bad inputs give clear
//! errors with a non-zero exit and no panic.

#[path = "common/cli.rs"]
mod cli;

use cli::{run, tmp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fx(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

#[test]
fn audit_writes_the_documented_report_and_html() {
    let report = tmp("r.json");
    let html = tmp("r.html");
    let (code, stdout, stderr) = run(&[
        "audit",
        fx("sk_logreg_multi.onnx").to_str().unwrap(),
        "--members",
        fx("data/iris.train.csv").to_str().unwrap(),
        "--nonmembers",
        fx("data/iris.test.csv").to_str().unwrap(),
        "--attacks",
        "loss,gap,lira_online,rmia_online",
        "--references",
        "4",
        "--seed",
        "5",
        "--report",
        report.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout {stdout}\nstderr {stderr}");
    assert!(
        stderr.contains("attack 1/4: loss"),
        "progress on stderr: {stderr}"
    );
    assert!(
        stdout.contains("lira_online") && stdout.contains("AUC"),
        "{stdout}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["model"]["output_kind"], "probabilities");
    assert_eq!(v["model"]["num_classes"], 3);
    assert_eq!(v["seed"], 5);
    assert_eq!(v["counts"]["population"], 0);
    assert!(v["counts"]["members"].as_u64().unwrap() > 50);
    assert_eq!(v["settings"]["references"], 4);
    let attacks = v["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), 4);
    for a in &attacks[..3] {
        for key in ["auc", "advantage", "epsilon_lower_bound"] {
            assert!(a[key].is_f64(), "{}: {key}", a["id"]);
        }
        assert_eq!(a["auc_ci95"].as_array().unwrap().len(), 2);
        for key in ["0.1", "0.01", "0.001", "0"] {
            assert!(
                a["tpr_at_fpr"][key].is_f64(),
                "{}: tpr_at_fpr {key}",
                a["id"]
            );
        }
        assert!(a["roc"]["fpr"].is_array() && a["roc"]["tpr"].is_array());
        assert_eq!(
            a["scores"]["members"].as_array().unwrap().len() as u64,
            v["counts"]["members"].as_u64().unwrap()
        );
        assert_eq!(
            a["scores"]["nonmembers"].as_array().unwrap().len() as u64,
            v["counts"]["nonmembers"].as_u64().unwrap()
        );
    }
    // RMIA needs population records: skipped, with the reason
    assert_eq!(attacks[3]["id"], "rmia_online");
    assert!(
        attacks[3]["skipped"]
            .as_str()
            .unwrap()
            .contains("population"),
        "{}",
        attacks[3]
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>") && page.contains("<svg"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"));
    // same inputs and seed: byte-identical JSON
    let again = tmp("r2.json");
    let mut args: Vec<String> = vec![
        "audit".into(),
        fx("sk_logreg_multi.onnx").to_str().unwrap().into(),
        "--members".into(),
        fx("data/iris.train.csv").to_str().unwrap().into(),
        "--nonmembers".into(),
        fx("data/iris.test.csv").to_str().unwrap().into(),
        "--attacks".into(),
        "loss,gap,lira_online,rmia_online".into(),
        "--references".into(),
        "4".into(),
        "--seed".into(),
        "5".into(),
        "--quiet".into(),
        "--report".into(),
    ];
    args.push(again.to_str().unwrap().into());
    let (code, _, _) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(&report).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn audit_bad_inputs_are_clear_errors() {
    let model = fx("sk_mlp_relu.onnx");
    let good = fx("data/digits.test.csv");
    let r = tmp("bad.json");
    let case = |members: &Path, nonmembers: &Path, extra: &[&str], want: &str| {
        let mut args = vec![
            "audit",
            model.to_str().unwrap(),
            "--members",
            members.to_str().unwrap(),
            "--nonmembers",
            nonmembers.to_str().unwrap(),
            "--report",
            r.to_str().unwrap(),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{want}: {stderr}");
        assert!(stderr.contains(want), "expected '{want}' in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    // members with other columns than the model
    case(
        &fx("data/iris.train.csv"),
        &good,
        &[],
        "the model expects 64",
    );
    // an empty file
    case(&fx("bad/empty.csv"), &good, &[], "bad data in");
    // labels outside the model's classes
    let bad_labels = tmp("labels.csv");
    let text = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let last = lines[3].rsplit_once(',').unwrap().0.to_string();
    lines[3] = format!("{last},17");
    std::fs::write(&bad_labels, lines.join("\n")).unwrap();
    case(
        &good,
        &bad_labels,
        &["--attacks", "loss"],
        "non-members row 3: label 17 is outside the model's 10 classes",
    );
    // no label column
    let no_label = tmp("nolabel.csv");
    let stripped: Vec<String> = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    std::fs::write(&no_label, stripped.join("\n")).unwrap();
    case(&no_label, &good, &[], "label");
    // unknown attack id
    case(
        &good,
        &good,
        &["--attacks", "loss,lira"],
        "unknown attack 'lira'",
    );
    // missing file
    case(&fx("data/nope.csv"), &good, &[], "cannot read");
}

#[test]
fn attribute_writes_its_report_and_names_bad_columns() {
    let report = tmp("attr.json");
    let base = |extra: &[&str]| {
        let mut args = vec![
            "attribute",
            "tests/fixtures/sk_pipeline_wine.onnx",
            "--members",
            "tests/fixtures/data/wine.train.csv",
            "--nonmembers",
            "tests/fixtures/data/wine.test.csv",
            "--report",
        ];
        let r = report.to_str().unwrap().to_string();
        let mut owned: Vec<String> = args.drain(..).map(String::from).collect();
        owned.push(r);
        owned.extend(extra.iter().map(|s| s.to_string()));
        let out = Command::new(env!("CARGO_BIN_EXE_privacy-inspector"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&owned)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = base(&["--sensitive", "f0", "--bins", "10,12.5,13.5,15"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("member/non-member gap"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let a = &v["attribute"];
    assert_eq!(a["column_name"], "f0");
    assert_eq!(a["kind"], "binned");
    assert_eq!(a["values"].as_array().unwrap().len(), 3);
    for set in ["members", "nonmembers"] {
        let acc = a[set]["attack_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        assert!(a[set]["prior_accuracy"].is_f64() && a[set]["imputation_accuracy"].is_f64());
        assert_eq!(a[set]["confusion"].as_array().unwrap().len(), 3);
    }
    assert!(a["gap"].is_f64() && a["gap_ci95"].is_array());
    assert!(v["attacks"].as_array().unwrap().is_empty());
    // a column that does not exist
    let (code, _, stderr) = base(&["--sensitive", "age"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("sensitive column 'age' is not among the 13 feature columns"),
        "{stderr}"
    );
    // a continuous column without bins
    let (code, _, stderr) = base(&["--sensitive", "f0"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("126 distinct values") && stderr.contains("bin edges"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn invert_writes_reconstructions_images_and_clear_errors() {
    let dir = tmp("inv-png");
    let report = tmp("inv.json");
    let fxs = |r: &str| fx(r).to_str().unwrap().to_string();
    let args = [
        "invert".to_string(),
        fxs("sk_mlp_relu.onnx"),
        "--members".into(),
        fxs("data/digits.train.csv"),
        "--nonmembers".into(),
        fxs("data/digits.test.csv"),
        "--input-shape".into(),
        "1,8,8".into(),
        "--start".into(),
        "mean".into(),
        "--gamma".into(),
        "1e-4".into(),
        "--steps".into(),
        "1000".into(),
        "--report".into(),
        report.to_str().unwrap().into(),
        "--images".into(),
        dir.to_str().unwrap().into(),
    ];
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("recognised:"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let classes = v["inversion"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 10);
    let mut recognised = 0;
    for c in classes {
        for key in [
            "class",
            "target_confidence",
            "steps",
            "shape",
            "reconstruction",
            "nearest_member_distance",
            "nearest_nonmember_distance",
            "class_mean_similarity",
            "recognised",
        ] {
            assert!(!c[key].is_null(), "class {}: {key} missing", c["class"]);
        }
        assert_eq!(c["reconstruction"].as_array().unwrap().len(), 64);
        recognised += c["recognised"].as_bool().unwrap() as usize;
        let png = std::fs::read(dir.join(format!("class_{}.png", c["class"]))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    assert!(
        recognised >= 8,
        "only {recognised} of 10 classes recognised"
    );
    // the report holds no training data by default (the members' class
    // means are left out and the report says so); --include-training-data
    // keeps them
    assert!(classes
        .iter()
        .all(|c| c.get("members_class_mean").map_or(true, Value::is_null)));
    assert!(v["redacted"].as_str().unwrap().contains("training records"));
    let full = tmp("inv-full.json");
    let mut with: Vec<String> = args[..args.len() - 4].to_vec();
    with.extend([
        "--report".into(),
        full.to_str().unwrap().into(),
        "--include-training-data".into(),
    ]);
    let (code, _, stderr) = run(&with.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
    assert!(f.get("redacted").is_none());
    let means = f["inversion"]["classes"].as_array().unwrap();
    assert!(means
        .iter()
        .all(|c| c["members_class_mean"].as_array().map(|m| m.len()) == Some(64)));
    // a class outside the model
    let (code, _, stderr) = run(&[
        "invert",
        &fxs("sk_mlp_relu.onnx"),
        "--class",
        "12",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("class 12 is outside the model's 10 classes"),
        "{stderr}"
    );
    // images of a flat input without a shape
    let (code, _, stderr) = run(&[
        "invert",
        &fxs("sk_logreg_multi.onnx"),
        "--class",
        "0",
        "--steps",
        "5",
        "--report",
        report.to_str().unwrap(),
        "--images",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--images needs an image-shaped input"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

/// Reference training on several threads, and split into shards run as
/// separate processes whose files are merged, gives the report of a
/// single-threaded run byte for byte; a shard file from another audit is
/// refused by name.
#[test]
fn audit_threads_and_shards_give_the_single_thread_report() {
    let with_seed = |seed: &str, report: &Path, extra: &[&str]| {
        let mut args = vec![
            "audit".to_string(),
            fx("sk_logreg_multi.onnx").to_str().unwrap().into(),
            "--members".into(),
            fx("data/iris.train.csv").to_str().unwrap().into(),
            "--nonmembers".into(),
            fx("data/iris.test.csv").to_str().unwrap().into(),
            "--population".into(),
            fx("data/iris.test.csv").to_str().unwrap().into(),
            "--attacks".into(),
            "loss,lira_online,rmia_offline".into(),
            "--references".into(),
            "5".into(),
            "--ref-epochs".into(),
            "3".into(),
            "--seed".into(),
            seed.into(),
            "--quiet".into(),
            "--report".into(),
            report.to_str().unwrap().into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        run(&refs)
    };
    let base = |report: &Path, extra: &[&str]| with_seed("12", report, extra);
    let one = tmp("jobs1.json");
    let (code, out, err) = base(&one, &["--jobs", "1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let two = tmp("jobs2.json");
    let (code, out, err) = base(&two, &["--jobs", "2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let a = std::fs::read_to_string(&one).unwrap();
    assert!(a.contains("\"rmia_offline\"") && a.contains("\"lira_online\""));
    assert!(!a.contains("\"skipped\":\"") || !a.contains("lira_online\",\"skipped\":\""));
    assert_eq!(a, std::fs::read_to_string(&two).unwrap());

    let (s1, s2) = (tmp("shard1.json"), tmp("shard2.json"));
    for (i, f) in [("1/2", &s1), ("2/2", &s2)] {
        let unused = tmp("unused.json");
        let (code, out, err) = base(
            &unused,
            &[
                "--reference-shard",
                i,
                "--save-references",
                f.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains("saved shard"), "{out}");
    }
    let merged = tmp("merged.json");
    let (code, out, err) = base(
        &merged,
        &[
            "--references-from",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(a, std::fs::read_to_string(&merged).unwrap());

    // one shard only: the merge names the missing model
    let (code, _, err) = base(&merged, &["--references-from", s1.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing"), "{err}");
    // another seed: refused, naming both
    let (code, _, err) = with_seed(
        "13",
        &merged,
        &[
            "--references-from",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("seed 12") && err.contains("seed 13"), "{err}");
    // a malformed shard argument
    let (code, _, err) = base(
        &merged,
        &[
            "--reference-shard",
            "3/2",
            "--save-references",
            s1.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("I/N"), "{err}");
}

/// `--limits FILE.json` changes the resource limits (every field optional):
/// tighter ones refuse the same files with the limit named; a malformed
/// file is a usage error.
#[test]
fn limits_file_adjusts_the_limits() {
    let tight = tmp("tight-limits.json");
    std::fs::write(&tight, r#"{"max_nodes": 1, "max_csv_rows": 10}"#).unwrap();
    let model = fx("sk_logreg_multi.onnx");
    let (code, _, err) = run(&[
        "inspect",
        model.to_str().unwrap(),
        "--limits",
        tight.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nodes"), "{err}");
    let (code, out, err) = run(&["inspect", model.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let rows = tmp("rows-limits.json");
    std::fs::write(&rows, r#"{"max_csv_rows": 10}"#).unwrap();
    let report = tmp("limits.json");
    let (code, _, err) = run(&[
        "audit",
        model.to_str().unwrap(),
        "--members",
        fx("data/iris.train.csv").to_str().unwrap(),
        "--nonmembers",
        fx("data/iris.test.csv").to_str().unwrap(),
        "--attacks",
        "loss",
        "--limits",
        rows.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("10"), "the message names the limit: {err}");
    // the same file applies to every command that reads CSVs or a model file;
    // each command works without it (its own tests) and is refused with it
    let rows_arg = rows.to_str().unwrap().to_string();
    let wine = fx("sk_pipeline_wine.onnx");
    let train = fx("data/wine.train.csv");
    let test = fx("data/wine.test.csv");
    let p = |x: &std::path::PathBuf| x.to_str().unwrap().to_string();
    let limited: Vec<Vec<String>> = vec![
        vec![
            "attribute".into(),
            p(&wine),
            "--members".into(),
            p(&train),
            "--nonmembers".into(),
            p(&test),
            "--sensitive".into(),
            "f0".into(),
            "--bins".into(),
            "10,12.5,13.5,15".into(),
        ],
        vec![
            "invert".into(),
            p(&wine),
            "--class".into(),
            "0".into(),
            "--steps".into(),
            "2".into(),
            "--members".into(),
            p(&train),
        ],
        vec!["predict".into(), p(&wine), "--data".into(), p(&train)],
        vec!["scan".into(), p(&wine), "--members".into(), p(&train)],
    ];
    for cmd in &limited {
        let out_file = tmp(&format!("limited-{}.json", cmd[0]));
        let mut with: Vec<String> = cmd.clone();
        if cmd[0] != "predict" {
            with.extend(["--report".to_string(), p(&out_file)]);
        }
        let (code, _, err) = run(&with.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{} without limits: {err}", cmd[0]);
        with.extend(["--limits".to_string(), rows_arg.clone()]);
        let (code, _, err) = run(&with.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{} with max_csv_rows 10: {err}", cmd[0]);
        assert!(
            err.contains("10") && err.contains("rows"),
            "{}: {err}",
            cmd[0]
        );
    }
    // a report records limits that differ from the defaults, and only those runs
    let loose = tmp("loose-limits.json");
    std::fs::write(&loose, r#"{"max_csv_rows": 100000}"#).unwrap();
    for cmd in &limited[..2] {
        let out_file = tmp(&format!("loose-{}.json", cmd[0]));
        let mut with: Vec<String> = cmd.clone();
        with.extend(["--report".to_string(), p(&out_file)]);
        let (code, _, err) = run(&with.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{err}");
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
        assert!(
            r.get("limits").is_none(),
            "{}: default limits are not recorded",
            cmd[0]
        );
        with.extend(["--limits".to_string(), p(&loose)]);
        let (code, _, err) = run(&with.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{err}");
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
        assert_eq!(r["limits"]["max_csv_rows"], 100000, "{}", cmd[0]);
    }
    // the scan checks the model file size against the limits too
    let small = tmp("small-model-limits.json");
    std::fs::write(&small, r#"{"max_model_bytes": 100}"#).unwrap();
    let (code, _, err) = run(&[
        "scan",
        wine.to_str().unwrap(),
        "--report",
        tmp("limited-scan-model.json").to_str().unwrap(),
        "--limits",
        small.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("100"), "{err}");
    let bad = tmp("bad-limits.json");
    std::fs::write(&bad, "{not json").unwrap();
    let (code, _, err) = run(&[
        "inspect",
        model.to_str().unwrap(),
        "--limits",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a limits file"), "{err}");
}

/// `--records-csv`: the documented columns (skipped attacks have none), one
/// row per member and non-member, flag counts that add up, each attack's 1%
/// flags within 1% of the non-members, and the same text as the report's
/// own table gives (`Report::records_csv`, the page's writer too).
#[test]
fn audit_writes_the_per_record_csv() {
    let report = tmp("records.json");
    let html_path = tmp("records.html");
    let csv_path = tmp("records.csv");
    let (code, stdout, stderr) = run(&[
        "audit",
        fx("sk_mlp_relu.onnx").to_str().unwrap(),
        "--members",
        fx("data/digits.train.csv").to_str().unwrap(),
        "--nonmembers",
        fx("data/digits.test.csv").to_str().unwrap(),
        "--attacks",
        "loss,gap,lira_offline,risk_score",
        "--seed",
        "3",
        "--report",
        report.to_str().unwrap(),
        "--html",
        html_path.to_str().unwrap(),
        "--records-csv",
        csv_path.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "stdout {stdout}\nstderr {stderr}");
    // the HTML report: agreement (one row per attack that ran) and the 50
    // most vulnerable members, no page buttons in the standalone document
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("data-testid=\"agreement-").count(), 3);
    assert_eq!(html.matches("data-testid=\"records-row\"").count(), 50);
    assert!(!html.contains("<button"), "standalone HTML has no buttons");
    assert!(
        stdout.contains("per record at 1% FPR:") && stdout.contains("members flagged by both"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut want = vec!["set", "index", "label"];
    let per_attack =
        |id: &str| ["score", "percentile", "flag_1pct", "flag_0_1pct"].map(|c| format!("{id}_{c}"));
    // report order; lira_offline is skipped (no population)
    let ran = ["loss", "risk_score", "gap"];
    let cols: Vec<String> = ran.iter().flat_map(|id| per_attack(id)).collect();
    want.extend(cols.iter().map(String::as_str));
    want.extend(["flags_1pct", "flags_0_1pct"]);
    assert_eq!(header, want);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1200 + 597, "members + non-members");
    assert_eq!(rows[0][..2], ["member", "0"]);
    assert_eq!(rows[1200][..2], ["nonmember", "0"]);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut false_alarms = [0usize; 3];
    let mut any_flag = 0;
    for r in &rows {
        for level in ["1pct", "0_1pct"] {
            let sum: usize = ran
                .iter()
                .map(|id| {
                    r[col(&format!("{id}_flag_{level}"))]
                        .parse::<usize>()
                        .unwrap()
                })
                .sum();
            assert_eq!(
                r[col(&format!("flags_{level}"))].parse::<usize>().unwrap(),
                sum,
                "{r:?}"
            );
            any_flag += sum;
        }
        if r[0] == "nonmember" {
            for (i, id) in ran.iter().enumerate() {
                false_alarms[i] += usize::from(r[col(&format!("{id}_flag_1pct"))] == "1");
            }
        }
    }
    assert!(any_flag > 0, "nothing flagged: the checks above are empty");
    for (id, fp) in ran.iter().zip(false_alarms) {
        assert!(
            fp as f64 / 597.0 <= 0.01,
            "{id}: {fp} of 597 non-members flagged at 1% FPR"
        );
    }
    // the report holds the table; its CSV is the file's text
    let r = privacy_inspector::report::read_json(&std::fs::read(&report).unwrap()).unwrap();
    let t = r.records.as_ref().expect("records table");
    assert_eq!(
        t.attacks.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ran
    );
    assert_eq!(t.resolvable, vec![true, false]);
    assert_eq!(r.records_csv().unwrap(), text);
    // no temporary file left beside it
    let left: Vec<String> = std::fs::read_dir(csv_path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // a folder that does not exist: a clear error naming the path
    let bad = tmp("no-such-dir").join("records.csv");
    let (code, _, stderr) = run(&[
        "audit",
        fx("sk_mlp_relu.onnx").to_str().unwrap(),
        "--members",
        fx("data/digits.train.csv").to_str().unwrap(),
        "--nonmembers",
        fx("data/digits.test.csv").to_str().unwrap(),
        "--attacks",
        "loss",
        "--report",
        report.to_str().unwrap(),
        "--records-csv",
        bad.to_str().unwrap(),
        "--quiet",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("cannot write") && stderr.contains("no-such-dir"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
