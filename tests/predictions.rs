//! Audits from predictions alone (issue 12 part 4), through the CLI binary:
//! - for several fixtures, `predict`'s output (with the labels appended)
//!   audited without the model gives the model audit's figures (every
//!   statistic and every score within 1e-9) for every attack both run, and
//!   the others are skipped with the reason;
//! - bad prediction files (not probabilities, NaN, rows not summing to 1,
//!   class counts that differ across files, labels outside the classes, a
//!   wrong header) are refused with exit code 2 and a message naming the
//!   file, the row and the value.

#[path = "common/cli.rs"]
mod cli;

use cli::{run, tmp};
use privacy_inspector::attacks::membership::audit::{
    run_audit, run_audit_from_predictions, AuditSettings,
};
use privacy_inspector::attacks::membership::predictions::{read_predictions, PredictionInputs};
use privacy_inspector::attacks::membership::{AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::OutputKind;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const TOL: f64 = 1e-9;

fn fx(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `predict` on `data` (its label column is not fed to the model), then the
/// labels appended as a `label` column: a predictions file.
fn predictions_file(model: &Path, data: &Path, logits: bool, out: &Path) {
    let raw = out.with_extension("raw.csv");
    let mut args = vec!["predict", s(model), "--data", s(data), "--out", s(&raw)];
    if logits {
        args.push("--logits");
    }
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 0, "predict failed: {stderr}");
    let ds = read_csv(
        &std::fs::read(data).unwrap(),
        &CsvOptions {
            require_label: true,
            ..Default::default()
        },
    )
    .unwrap();
    let labels = ds.labels.unwrap();
    let text = std::fs::read_to_string(&raw).unwrap();
    let mut lines = text.lines();
    let mut csv = format!("{},label\n", lines.next().unwrap());
    let mut n = 0;
    for (line, y) in lines.zip(&labels) {
        csv.push_str(&format!("{line},{y}\n"));
        n += 1;
    }
    assert_eq!(n, labels.len(), "one prediction per record");
    std::fs::write(out, csv).unwrap();
}

/// Every number of `a` and `b` within TOL (same structure), `at` naming
/// the place.
fn assert_close(a: &Value, b: &Value, at: &str) -> usize {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= TOL, "{at}: {x} vs {y}");
            1
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            x.iter()
                .zip(y)
                .enumerate()
                .map(|(i, (x, y))| assert_close(x, y, &format!("{at}[{i}]")))
                .sum()
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<_> = x.keys().collect();
            assert_eq!(keys, y.keys().collect::<Vec<_>>(), "{at}: keys");
            x.iter()
                .map(|(k, v)| assert_close(v, &y[k], &format!("{at}.{k}")))
                .sum()
        }
        _ => {
            assert_eq!(a, b, "{at}");
            0
        }
    }
}

struct Case {
    model: &'static str,
    members: &'static str,
    nonmembers: &'static str,
    population: Option<&'static str>,
}

/// The model audit and the audit from `predict`'s output agree on every
/// attack both run; returns the number of attacks compared.
fn check_case(c: &Case) -> usize {
    let name = Path::new(c.model).file_stem().unwrap().to_str().unwrap();
    let model = fx(c.model);
    let model_report = tmp(&format!("{name}-model.json"));
    let mut args = vec![
        "audit".to_string(),
        s(&model).into(),
        "--members".into(),
        s(&fx(c.members)).into(),
        "--nonmembers".into(),
        s(&fx(c.nonmembers)).into(),
        "--attacks".into(),
        "quick".into(),
        "--seed".into(),
        "3".into(),
        "--quiet".into(),
        "--report".into(),
        s(&model_report).into(),
    ];
    if let Some(p) = c.population {
        args.extend(["--population".into(), s(&fx(p)).into()]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = run(&argv);
    assert_eq!(code, 0, "{name}: model audit failed: {stderr}");
    let m = read_json(&model_report);
    // logits when the model audit computed its signals from logits
    let source = m["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "loss")
        .unwrap()["details"]["computed_from"]
        .as_str()
        .unwrap()
        .to_string();
    let logits = source != "probabilities";
    let mut files = Vec::new();
    for (role, data) in [
        ("members", Some(c.members)),
        ("nonmembers", Some(c.nonmembers)),
        ("population", c.population),
    ] {
        if let Some(d) = data {
            let out = tmp(&format!("{name}-{role}-predictions.csv"));
            predictions_file(&model, &fx(d), logits, &out);
            files.push((role, out));
        }
    }
    let pred_report = tmp(&format!("{name}-predictions.json"));
    let mut args = vec!["audit".to_string()];
    for (role, f) in &files {
        args.extend([format!("--{role}-predictions"), s(f).into()]);
    }
    if logits {
        args.extend(["--output-kind".into(), "logits".into()]);
    }
    args.extend(
        [
            "--attacks",
            "quick",
            "--seed",
            "3",
            "--quiet",
            "--report",
            s(&pred_report),
        ]
        .map(String::from),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run(&argv);
    assert_eq!(code, 0, "{name}: audit from predictions failed: {stderr}");
    assert!(
        stdout.contains("audit from predictions (no model)"),
        "{stdout}"
    );
    let p = read_json(&pred_report);
    // no model SHA-256; each file's own
    assert!(p["model"].get("sha256").is_none(), "{name}: {}", p["model"]);
    let listed = p["predictions"]["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len());
    for ((role, f), l) in files.iter().zip(listed) {
        let sha: String = Sha256::digest(std::fs::read(f).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(l["role"], *role);
        assert_eq!(l["sha256"], sha.as_str());
    }
    assert_eq!(p["counts"], m["counts"]);
    assert_eq!(p["seed"], m["seed"]);
    let (ma, pa) = (
        m["attacks"].as_array().unwrap(),
        p["attacks"].as_array().unwrap(),
    );
    assert_eq!(ma.len(), pa.len(), "{name}: the same attacks are listed");
    let mut compared = 0;
    for (a, b) in ma.iter().zip(pa) {
        let id = a["id"].as_str().unwrap();
        assert_eq!(a["id"], b["id"]);
        if let Some(why) = b.get("skipped") {
            assert!(
                why.as_str().unwrap().starts_with("needs the model: "),
                "{name} {id}: {why}"
            );
            continue;
        }
        assert!(
            a.get("skipped").is_none(),
            "{name} {id} ran only from predictions"
        );
        let mut x = a.as_object().unwrap().clone();
        let mut y = b.as_object().unwrap().clone();
        // what the signals were computed from is a detail (logits before a
        // Softmax for the model, the logits written by predict --logits)
        for o in [&mut x, &mut y] {
            o.remove("details");
        }
        let numbers = assert_close(
            &Value::Object(x),
            &Value::Object(y),
            &format!("{name}.{id}"),
        );
        assert!(
            numbers > 100,
            "{name} {id}: only {numbers} numbers compared"
        );
        compared += 1;
    }
    // noise_robustness needs the model
    let noise = pa.iter().find(|a| a["id"] == "noise_robustness").unwrap();
    assert!(noise["skipped"].as_str().unwrap().contains("noisy copies"));
    compared
}

#[test]
fn audits_from_predict_output_equal_the_model_audits() {
    let cases = [
        // Softmax output: predict --logits writes the Softmax's input
        Case {
            model: "demo/digits_mlp.onnx",
            members: "demo/digits_members.csv",
            nonmembers: "demo/digits_nonmembers.csv",
            population: Some("demo/digits_population.csv"),
        },
        // probabilities with no Softmax before them (scikit-learn pipeline)
        Case {
            model: "demo/tabular_pipeline.onnx",
            members: "demo/tabular_members.csv",
            nonmembers: "demo/tabular_nonmembers.csv",
            population: Some("demo/tabular_population.csv"),
        },
        // manifest fixtures: multi-class, binary, a logit output
        Case {
            model: "sk_logreg_multi.onnx",
            members: "data/iris.train.csv",
            nonmembers: "data/iris.test.csv",
            population: None,
        },
        Case {
            model: "sk_logreg_binary.onnx",
            members: "data/breast_cancer10.train.csv",
            nonmembers: "data/breast_cancer10.test.csv",
            population: None,
        },
        Case {
            model: "torch_mlp_logits.onnx",
            members: "data/digits.train.csv",
            nonmembers: "data/digits.test.csv",
            population: None,
        },
    ];
    for c in &cases {
        // loss, confidence, entropy, modified entropy, risk score, gap
        assert_eq!(check_case(c), 6, "{}", c.model);
    }
}

/// The library path with class-dependent thresholds (no CLI flag): the
/// model audit and the audit from the same model's `predict --logits`
/// output agree to 1e-9, population calibration included.
#[test]
fn class_dependent_thresholds_agree_from_predictions() {
    let model_path = fx("demo/digits_mlp.onnx");
    let model = privacy_inspector::onnx::load(&std::fs::read(&model_path).unwrap()).unwrap();
    let opts = CsvOptions {
        require_label: true,
        ..Default::default()
    };
    let records = |rel: &str| {
        let ds = read_csv(&std::fs::read(fx(rel)).unwrap(), &opts).unwrap();
        Records {
            x: ds.to_batch(&model.graph.input).unwrap(),
            y: ds.labels.unwrap(),
        }
    };
    let inputs = AuditInputs {
        members: records("demo/digits_members.csv"),
        nonmembers: records("demo/digits_nonmembers.csv"),
        population: Some(records("demo/digits_population.csv")),
    };
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    };
    let mut settings = AuditSettings {
        attacks: AuditSettings::parse_attacks(
            "loss,confidence,entropy,modified_entropy,risk_score,gap",
        )
        .unwrap(),
        seed: 11,
        ..Default::default()
    };
    settings.threshold.class_dependent = true;
    let from_model = run_audit(&target, &inputs, settings.clone(), &mut |_| true).unwrap();
    let read = |role: &str| {
        let out = tmp(&format!("cd-{role}.csv"));
        predictions_file(
            &model_path,
            &fx(&format!("demo/digits_{role}.csv")),
            true,
            &out,
        );
        read_predictions(
            &std::fs::read(&out).unwrap(),
            role,
            OutputKind::Logits,
            &CsvOptions::default(),
        )
        .unwrap()
    };
    let p = PredictionInputs::new(
        OutputKind::Logits,
        read("members"),
        read("nonmembers"),
        Some(read("population")),
    )
    .unwrap();
    let from_predictions = run_audit_from_predictions(&p, settings, &mut |_| true).unwrap();
    assert_eq!(from_model.attacks.len(), 6);
    for (a, b) in from_model.attacks.iter().zip(&from_predictions.attacks) {
        assert_eq!(a.id, b.id);
        let (x, y) = (
            serde_json::to_value(a.stats.as_ref().unwrap()).unwrap(),
            serde_json::to_value(b.stats.as_ref().unwrap()).unwrap(),
        );
        assert_close(&x, &y, &a.id);
        let (sa, sb) = (a.scores.as_ref().unwrap(), b.scores.as_ref().unwrap());
        for (u, v) in sa
            .members
            .iter()
            .chain(&sa.nonmembers)
            .zip(sb.members.iter().chain(&sb.nonmembers))
        {
            assert!((u - v).abs() <= TOL, "{}: {u} vs {v}", a.id);
        }
        if ["loss", "confidence", "entropy", "modified_entropy"].contains(&a.id.as_str()) {
            assert_eq!(b.details["class_dependent"], true);
            assert_eq!(
                b.details["calibration"]["reference"],
                "population records of the class"
            );
        }
    }
}

/// Write a predictions file and return its path.
fn file(name: &str, text: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Run an audit from predictions that must fail: exit code 2, no panic,
/// and stderr containing every one of `needles`.
fn refused(members: &Path, nonmembers: &Path, extra: &[&str], needles: &[&str]) {
    let report = tmp("refused.json");
    let mut args = vec![
        "audit",
        "--members-predictions",
        s(members),
        "--nonmembers-predictions",
        s(nonmembers),
        "--report",
        s(&report),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "{stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "missing '{n}' in: {stderr}");
    }
}

#[test]
fn bad_prediction_files_are_refused_naming_file_row_and_value() {
    let good = file(
        "good.csv",
        "class_0,class_1,label\n0.9,0.1,0\n0.2,0.8,1\n0.5,0.5,1\n",
    );
    // negative
    let neg = file(
        "neg.csv",
        "class_0,class_1,label\n0.9,0.1,0\n-0.25,1.25,1\n",
    );
    refused(
        &neg,
        &good,
        &[],
        &[
            "neg.csv: row 2, column 'class_0': -0.25 is negative",
            "--output-kind logits",
        ],
    );
    // above 1
    let big = file(
        "big.csv",
        "class_0,class_1,label\n0.9,0.1,0\n0.5,0.5,1\n0,1.5,1\n",
    );
    refused(
        &good,
        &big,
        &[],
        &["big.csv: row 3, column 'class_1': 1.5 is above 1"],
    );
    // NaN (a CSV error: row, column and value)
    let nan = file("nan.csv", "class_0,class_1,label\n0.9,0.1,0\n0.5,NaN,1\n");
    refused(
        &nan,
        &good,
        &[],
        &["nan.csv", "row 2", "'class_1'", "'NaN' is NaN or infinite"],
    );
    // NaN is refused for logits too
    refused(
        &nan,
        &good,
        &["--output-kind", "logits"],
        &["nan.csv", "row 2", "'NaN'"],
    );
    // not summing to 1
    let sum = file(
        "sum.csv",
        "class_0,class_1,label\n0.9,0.1,0\n0.5,0.5,1\n0.6,0.3,0\n",
    );
    refused(
        &sum,
        &good,
        &[],
        &[
            "sum.csv: row 3: the probabilities sum to 0.9",
            "tolerance 0.001",
        ],
    );
    // class counts that differ across files
    let three = file(
        "three.csv",
        "class_0,class_1,class_2,label\n0.5,0.25,0.25,2\n",
    );
    refused(
        &good,
        &three,
        &[],
        &["three.csv: 3 class columns", "good.csv", "have 2"],
    );
    let pop3 = ["--population-predictions", s(&three)];
    refused(&good, &good, &pop3, &["three.csv: 3 class columns"]);
    // labels outside the classes
    let lab = file("lab.csv", "class_0,class_1,label\n0.9,0.1,0\n0.2,0.8,7\n");
    refused(
        &good,
        &lab,
        &[],
        &["lab.csv: row 2: label 7 is outside the 2 classes of the predictions (0 to 1)"],
    );
    // a negative or fractional label is a CSV error naming the row and value
    let frac = file("frac.csv", "class_0,class_1,label\n0.9,0.1,0.5\n");
    refused(&frac, &good, &[], &["frac.csv", "row 1", "'0.5'"]);
    // the header must be class_0..class_{K-1}
    let head = file("head.csv", "p0,p1,label\n0.9,0.1,0\n");
    refused(
        &head,
        &good,
        &[],
        &["head.csv: column 1 is 'p0', expected 'class_0'"],
    );
    // no label column
    let nolabel = file("nolabel.csv", "class_0,class_1\n0.9,0.1\n");
    refused(
        &nolabel,
        &good,
        &[],
        &[
            "nolabel.csv",
            "label column 'label' is not in the CSV header",
        ],
    );
    // the same file is fine: an audit from predictions runs
    let report = tmp("good.json");
    let (code, _, stderr) = run(&[
        "audit",
        "--members-predictions",
        s(&good),
        "--nonmembers-predictions",
        s(&good),
        "--attacks",
        "loss,gap",
        "--report",
        s(&report),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn predictions_and_a_model_do_not_mix_and_predict_logits_needs_logits() {
    let good = file("mix.csv", "class_0,class_1,label\n0.9,0.1,0\n0.2,0.8,1\n");
    let report = tmp("mix.json");
    let model = fx("demo/digits_mlp.onnx");
    let (code, _, stderr) = run(&[
        "audit",
        s(&model),
        "--members-predictions",
        s(&good),
        "--nonmembers-predictions",
        s(&good),
        "--report",
        s(&report),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    // no model and no predictions
    let (code, _, stderr) = run(&["audit", "--report", s(&report)]);
    assert_eq!(code, 2, "{stderr}");
    // a probability model with no final Softmax has no logits to write
    let (code, _, stderr) = run(&[
        "predict",
        s(&fx("demo/tabular_pipeline.onnx")),
        "--data",
        s(&fx("demo/tabular_members.csv")),
        "--logits",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("has no logits to write"), "{stderr}");
}

#[test]
fn the_html_report_says_it_is_an_audit_from_predictions() {
    let m = file(
        "hm.csv",
        "class_0,class_1,label\n0.9,0.1,0\n0.2,0.8,1\n0.4,0.6,1\n",
    );
    let n = file(
        "hn.csv",
        "class_0,class_1,label\n0.6,0.4,1\n0.3,0.7,0\n0.5,0.5,0\n",
    );
    let (report, html) = (tmp("h.json"), tmp("h.html"));
    let (code, _, stderr) = run(&[
        "audit",
        "--members-predictions",
        s(&m),
        "--nonmembers-predictions",
        s(&n),
        "--report",
        s(&report),
        "--html",
        s(&html),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("audit from predictions (no model)"));
    assert!(h.contains("data-testid=\"predictions-files\""));
    assert!(h.contains("<b>scan</b>") && h.contains("<b>inversion</b>"));
    assert!(!h.contains("model SHA-256"));
    // the JSON report reads back (the page can open it)
    let r = privacy_inspector::report::read_json(&std::fs::read(&report).unwrap()).unwrap();
    assert!(r.model.sha256.is_empty());
    assert_eq!(r.predictions.unwrap().files.len(), 2);
    assert!(r.scan.is_none() && r.guidance.is_some());
}
