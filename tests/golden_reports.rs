//! Golden reports: committed JSON audit reports for small fixture models and
//! data (`tests/fixtures/golden/*.json`), compared field by field with the
//! report this build produces, so any change in the figures is a visible,
//! reviewed change.
//!
//! - Numbers match within 1e-9 (absolute, or relative to the larger
//!   magnitude when above 1); strings, booleans, nulls, keys and array
//!   lengths match exactly. `tool.version` is not compared (a version bump
//!   is not a change of figures).
//! - A mismatch names the field path (`attacks[3].stats.auc`) and both
//!   values; every mismatch is listed (up to 30).
//! - `UPDATE_GOLDEN=1 cargo test --test golden_reports` rewrites the files
//!   (review the diff before committing).
//! - The same build and seed give byte-identical JSON twice, and every
//!   golden file reads back through `report::read_json`.

use privacy_inspector::attacks::membership::audit::{run_audit, AuditSettings};
use privacy_inspector::attacks::membership::references::TrainRecipe;
use privacy_inspector::attacks::membership::{AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::train::Optimizer;
use privacy_inspector::onnx::{load, Model};
use privacy_inspector::report::{read_json, Counts, Report};
use privacy_inspector::summary::num_classes;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One golden case: a fixture model, member and non-member CSVs (the
/// first `rows` of each, to keep the files small), the attack list and the
/// number of references. With `population`, the non-member rows after the
/// first `population` serve as the population.
struct Case {
    name: &'static str,
    model: &'static str,
    members: &'static str,
    nonmembers: &'static str,
    rows: usize,
    population: Option<usize>,
    attacks: &'static str,
    references: usize,
    seed: u64,
}

const CASES: [Case; 3] = [
    Case {
        name: "quick_iris_logreg",
        model: "sk_logreg_multi.onnx",
        members: "data/iris.train.csv",
        nonmembers: "data/iris.test.csv",
        rows: 30,
        population: None,
        attacks: "quick",
        references: 16,
        seed: 7,
    },
    Case {
        name: "quick_breast_cancer_mlp",
        model: "sk_mlp_binary.onnx",
        members: "data/breast_cancer10.train.csv",
        nonmembers: "data/breast_cancer10.test.csv",
        rows: 30,
        population: None,
        attacks: "quick",
        references: 16,
        seed: 11,
    },
    Case {
        name: "references_wine_pipeline",
        model: "sk_pipeline_wine.onnx",
        members: "data/wine.train.csv",
        nonmembers: "data/wine.test.csv",
        rows: 50,
        population: Some(25),
        attacks: "loss,shokri,lira_online,lira_offline,rmia_online,rmia_offline",
        references: 4,
        seed: 3,
    },
];

fn records(path: &str, model: &Model, rows: std::ops::Range<usize>) -> Records {
    let ds = read_csv(
        &std::fs::read(fixtures().join(path)).expect(path),
        &CsvOptions {
            require_label: true,
            ..CsvOptions::default()
        },
    )
    .expect(path);
    let all = Records {
        x: ds.to_batch(&model.graph.input).expect("batch"),
        y: ds.labels.expect("labels"),
    };
    let idx: Vec<usize> = rows.filter(|&i| i < all.len()).collect();
    all.select(&idx)
}

/// The report the CLI's `audit` would write for this case.
fn report(c: &Case) -> Report {
    let model = load(&std::fs::read(fixtures().join(c.model)).expect(c.model)).expect("model");
    let classes = num_classes(&model).unwrap_or(2);
    let split = c.population.unwrap_or(c.rows);
    let inputs = AuditInputs {
        members: records(c.members, &model, 0..c.rows),
        nonmembers: records(c.nonmembers, &model, 0..split),
        population: c
            .population
            .map(|p| records(c.nonmembers, &model, p..c.rows)),
    };
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: classes,
    };
    let mut settings = AuditSettings {
        attacks: AuditSettings::parse_attacks(c.attacks).expect("attacks"),
        references: c.references,
        seed: c.seed,
        recipe: TrainRecipe {
            optimizer: Optimizer::adam(0.01),
            batch_size: 32,
            fixed_epochs: Some(20),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    settings.shokri.k = 2;
    let counts = Counts {
        members: inputs.members.len(),
        nonmembers: inputs.nonmembers.len(),
        population: inputs.population.as_ref().map_or(0, |p| p.len()),
    };
    let outcome = run_audit(&target, &inputs, settings, &mut |_| true).expect("audit");
    Report::new(
        &model,
        Some(c.model.to_string()),
        None,
        classes,
        counts,
        serde_json::json!({
            "members": c.members,
            "nonmembers": c.nonmembers,
            "rows": c.rows,
            "population_from_nonmembers_row": c.population,
        }),
        outcome,
    )
}

const TOLERANCE: f64 = 1e-9;
const SKIP: [&str; 1] = ["tool.version"];

/// Every difference between `want` and `got`, as "path: golden X, now Y".
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    if SKIP.contains(&path) {
        return;
    }
    let at = |p: &str| {
        if p.is_empty() {
            "<root>".to_string()
        } else {
            p.to_string()
        }
    };
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(vb) => diff(&p, va, vb, out),
                    None => out.push(format!("{p}: golden {va}, now missing")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push(format!("{p}: golden missing, now {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{}: golden has {} entries, now {}",
                    at(path),
                    a.len(),
                    b.len()
                ));
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            let scale = x.abs().max(y.abs()).max(1.0);
            // integers beyond 2^53 (seeds are below) compare exactly
            let same = if a.is_f64() || b.is_f64() {
                (x - y).abs() <= TOLERANCE * scale
            } else {
                a == b
            };
            if !same {
                out.push(format!("{}: golden {a}, now {b}", at(path)));
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{}: golden {want}, now {got}", at(path))),
    }
}

fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

fn golden_path(name: &str) -> PathBuf {
    fixtures().join("golden").join(format!("{name}.json"))
}

#[track_caller]
fn check(c: &Case) {
    let json = report(c).to_json();
    let path = golden_path(c.name);
    if updating() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, format!("{json}\n")).expect("write golden");
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_GOLDEN=1 cargo test --test golden_reports",
            path.display()
        )
    });
    let want: Value = serde_json::from_str(&golden).expect("golden JSON");
    let got: Value = serde_json::from_str(&json).expect("report JSON");
    let mut out = Vec::new();
    diff("", &want, &got, &mut out);
    let n = out.len();
    out.truncate(30);
    assert!(
        n == 0,
        "{}: {n} field(s) differ from the golden report (UPDATE_GOLDEN=1 rewrites it; review the diff):\n  {}",
        c.name,
        out.join("\n  ")
    );
}

#[test]
fn quick_iris_logreg_matches_golden() {
    check(&CASES[0]);
}

#[test]
fn quick_breast_cancer_mlp_matches_golden() {
    check(&CASES[1]);
}

#[test]
fn references_wine_pipeline_matches_golden() {
    check(&CASES[2]);
}

#[test]
fn same_build_and_seed_give_byte_identical_json() {
    let c = &CASES[2];
    let a = report(c).to_json();
    let b = report(c).to_json();
    assert!(a == b, "two runs with seed {} differ", c.seed);
}

#[test]
fn golden_reports_read_back_and_validate() {
    if updating() {
        return; // the files are being rewritten by the other tests
    }
    for c in &CASES {
        let path = golden_path(c.name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue; // reported by the case's own test
        };
        let r = read_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // what was read writes back to the same figures
        let want: Value = serde_json::from_slice(&bytes).expect("json");
        let got: Value = serde_json::from_str(&r.to_json()).expect("json");
        let mut out = Vec::new();
        diff("", &want, &got, &mut out);
        assert!(out.is_empty(), "{}: {out:?}", c.name);
    }
}

/// The comparison itself: it finds a changed number, a changed string, a
/// missing key and a changed length, and names the path and both values.
#[test]
fn diff_names_path_and_both_values() {
    let want = serde_json::json!({"a": {"b": [1.0, 0.5]}, "s": "x", "k": 1});
    let same = serde_json::json!({"a": {"b": [1.0, 0.5 + 1e-12]}, "s": "x", "k": 1});
    let mut out = Vec::new();
    diff("", &want, &same, &mut out);
    assert!(out.is_empty(), "{out:?}");
    let got = serde_json::json!({"a": {"b": [1.0, 0.5001, 3.0]}, "s": "y"});
    diff("", &want, &got, &mut out);
    assert_eq!(
        out,
        vec![
            "a.b: golden has 2 entries, now 3".to_string(),
            "a.b[1]: golden 0.5, now 0.5001".to_string(),
            "k: golden 1, now missing".to_string(),
            "s: golden \"x\", now \"y\"".to_string(),
        ]
    );
}
