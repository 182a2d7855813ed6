//! Golden reports: committed JSON audit reports for small fixture models and
//! data (`tests/fixtures/golden/*.json`), compared field by field with the
//! report this build produces, so any change in the figures is a visible,
//! reviewed change.
//!
//! - Numbers match within 1e-9 (absolute, or relative to the larger
//!   magnitude when above 1); strings, booleans, nulls, keys and array
//!   lengths match exactly (`golden::NATIVE`). `tool.version` is not
//!   compared (a version bump is not a change of figures).
//! - A mismatch names the field path (`attacks[3].stats.auc`) and both
//!   values; every mismatch is listed (up to 30).
//! - `UPDATE_GOLDEN=1 cargo test --test golden_reports` rewrites the files
//!   (review the diff before committing).
//! - The same build and seed give byte-identical JSON twice, and every
//!   full golden file reads back through `report::read_json`.
//! - Besides the three full reports (`CASES`), every fixture model
//!   (manifest.json, classical/, demo/) has a golden file
//!   `golden/<model path without .onnx>.json`: the report of an audit of a
//!   few of its own rows with every attack (see the section below for the
//!   inputs and the labels), without the per-attack fields derived from the
//!   scores (`golden::DERIVED`), or the audit's refusal (error code and
//!   message). tests/wasm.rs recomputes every golden file in wasm; a test
//!   here checks that every fixture on disk has a golden file and an entry
//!   there.
//! - The comparison is tests/common/golden.rs, shared with tests/wasm.rs.

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

#[path = "common/golden.rs"]
mod golden;
use golden::{diff, golden_view, refusal, NATIVE};

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
        attacks: "loss,shokri,qmia,lira_online,lira_offline,rmia_online,rmia_offline",
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
    // QMIA's 0.8 quantile: the wine case's 25 population records fit 20
    // (the default alpha = 0.01 needs 100)
    settings.qmia.alpha = 0.2;
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
    diff("", &want, &got, &NATIVE, &mut out);
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
        diff("", &want, &got, &NATIVE, &mut out);
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
    diff("", &want, &same, &NATIVE, &mut out);
    assert!(out.is_empty(), "{out:?}");
    let got = serde_json::json!({"a": {"b": [1.0, 0.5001, 3.0]}, "s": "y"});
    diff("", &want, &got, &NATIVE, &mut out);
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

// ---------------------------------------------------------------------------
// A golden report for every fixture model (issue 7): tests/fixtures/
// manifest.json's models, tests/fixtures/classical/*.onnx and
// tests/fixtures/demo/*.onnx. The golden file of the model
// `tests/fixtures/<name>.onnx` is `tests/fixtures/golden/<name>.json`
// (`sk_mlp_relu`, `classical/dt_clf`, `demo/digits_overfit`).
//
// Inputs (recorded in the report's `inputs`: which rows of which file,
// `golden::set_csv` turns them into CSV text here and in tests/wasm.rs):
// - models trained on a data/ split (manifest `train_csv`/`test_csv`,
//   classical cancer8/iris, the demos): members = the first ROWS rows the
//   model was trained on, non-members = the first ROWS held-out rows,
//   population = the next POPULATION held-out rows (the demos: the first
//   POPULATION rows of their population CSV); labels = the files' label
//   column.
// - the manifest's op_* models (random weights, no training data): their
//   own input CSV (24 rows) cut in thirds; labels = its label column.
// - the hand-built classical models and the SVMs on standardised iris: the
//   inputs of classical/expected.json without NaN rows, cut in thirds;
//   labels = argmax of onnxruntime's expected output.
// - the teaching templates (untrained): the digits demo's CSVs.
// Attacks: all 14, with 2 reference models and 2 shadows of 3 epochs
// (QMIA is skipped: 20 population records are fewer than it fits on);
// the op_* models get the 8 without reference models only (they are
// operator tests, not trained classifiers). An attack that cannot run is
// skipped with its reason (the reference attacks on SVMs and trees), and
// that decision is part of the golden file. A fixture the audit refuses
// gets `{fixture, inputs, settings, refused: {code, message}}` instead.
// The golden file holds `golden::golden_view` of the report (without the
// per-attack fields derived from the scores, pinned by the three full
// reports above), as compact JSON.

/// Rows of the members and of the non-members.
const ROWS: usize = 8;

/// Rows of the population where the fixture has them (Shokri's shadow
/// models need at least 20).
const POPULATION: usize = 20;

/// Master seed of every fixture case.
const FIXTURE_SEED: u64 = 17;

/// The attacks that need no reference models (`quick` + both boundary distances).
const NO_REFERENCES: &str = "quick,boundary_distance,boundary_distance_gradient";

struct FixtureCase {
    name: String,
    /// `golden::set_csv` recipes.
    members: Value,
    nonmembers: Value,
    population: Value,
    /// Where the rows and the labels come from, in words.
    source: String,
    attacks: &'static str,
}

fn read_text(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn rows_of(file: &str, from: usize, to: usize) -> Value {
    serde_json::json!({"file": file, "from": from, "to": to})
}

/// Members `[0, ROWS)` of `members`, non-members `[0, ROWS)` and the
/// population `[ROWS, ROWS + POPULATION)` of `nonmembers`.
fn split_files(name: &str, members: &str, nonmembers: &str) -> FixtureCase {
    FixtureCase {
        name: name.to_string(),
        members: rows_of(members, 0, ROWS),
        nonmembers: rows_of(nonmembers, 0, ROWS),
        population: rows_of(nonmembers, ROWS, ROWS + POPULATION),
        source: format!(
            "members: the first {ROWS} rows of {members} (trained on); non-members and population: the first {ROWS} and the next {POPULATION} rows of {nonmembers} (held out); labels: their label column"
        ),
        attacks: "all",
    }
}

/// A CSV of `rows` data rows cut in thirds (at most ROWS each); `spec`
/// makes the recipe of rows `from..to`.
fn split_thirds(
    name: &str,
    rows: usize,
    spec: impl Fn(usize, usize) -> Value,
    what: &str,
) -> FixtureCase {
    let t = (rows / 3).clamp(1, ROWS);
    FixtureCase {
        name: name.to_string(),
        members: spec(0, t),
        nonmembers: spec(t, 2 * t),
        population: spec(2 * t, 3 * t),
        source: format!("{what}, cut in thirds of {t} rows (members, non-members, population)"),
        attacks: "all",
    }
}

/// The classical fixtures gen_classical.py trains on its data/ CSVs.
const CLASSICAL_CANCER8: [&str; 14] = [
    "svc_linear_prob",
    "svc_rbf",
    "svc_poly_prob",
    "svc_sigmoid",
    "svr_rbf",
    "svr_linear",
    "dt_clf",
    "dt_clf_full",
    "rf_clf",
    "et_clf",
    "gb_clf",
    "dt_reg",
    "rf_reg",
    "gb_reg",
];
const CLASSICAL_IRIS: [&str; 4] = [
    "pipeline_scaler_svc",
    "dt_clf_multi",
    "rf_clf_multi",
    "gb_clf_multi",
];

fn manifest_models() -> Vec<Value> {
    let v: Value = serde_json::from_str(&read_text("manifest.json")).expect("manifest");
    match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("models") {
            Some(Value::Array(a)) => a,
            _ => panic!("manifest has no models list"),
        },
        _ => panic!("manifest must be a list"),
    }
}

/// `dir/*.onnx` names (without the extension), sorted.
fn onnx_in(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".onnx").map(str::to_string)
        })
        .collect();
    out.sort();
    out
}

fn data_rows(rel: &str) -> usize {
    read_text(rel)
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// Every fixture model's case. A model no rule knows panics: a new fixture
/// needs a case (and a golden file, and an entry in tests/wasm.rs).
fn fixture_cases() -> Vec<FixtureCase> {
    let mut cases = Vec::new();
    for f in manifest_models() {
        let name = f["name"].as_str().expect("name");
        match (f["train_csv"].as_str(), f["test_csv"].as_str()) {
            (Some(train), Some(test)) => cases.push(split_files(name, train, test)),
            _ => {
                let input = f["input_csv"].as_str().expect("input_csv").to_string();
                let mut c = split_thirds(
                    name,
                    data_rows(&input),
                    |a, b| rows_of(&input, a, b),
                    &format!("{input} (random inputs; labels: its label column)"),
                );
                c.attacks = NO_REFERENCES;
                cases.push(c);
            }
        }
    }
    let expected: Value =
        serde_json::from_str(&read_text("classical/expected.json")).expect("expected.json");
    for name in onnx_in("classical") {
        let full = format!("classical/{name}");
        if CLASSICAL_CANCER8.contains(&name.as_str()) {
            cases.push(split_files(
                &full,
                "classical/data/cancer8.members.csv",
                "classical/data/cancer8.nonmembers.csv",
            ));
        } else if CLASSICAL_IRIS.contains(&name.as_str()) {
            cases.push(split_files(
                &full,
                "classical/data/iris.members.csv",
                "classical/data/iris.nonmembers.csv",
            ));
        } else {
            let entry = expected
                .as_array()
                .expect("list")
                .iter()
                .find(|e| e["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{full}: no expected.json entry, no case"));
            let rows = data_rows_text(&golden::expected_json_csv(entry).expect("csv"));
            cases.push(split_thirds(
                &full,
                rows,
                |a, b| serde_json::json!({"expected_json": name, "from": a, "to": b}),
                "classical/expected.json inputs without NaN rows (labels: argmax of onnxruntime's expected output)",
            ));
        }
    }
    let demos: Value = serde_json::from_str(&read_text("demo/demos.json")).expect("demos.json");
    for name in onnx_in("demo") {
        let full = format!("demo/{name}");
        let file = format!("{name}.onnx");
        let demo = demos
            .as_object()
            .expect("demos")
            .values()
            .find(|d| d["model"] == file.as_str());
        let csvs = match (demo, name.as_str()) {
            (Some(d), _) => ["members", "nonmembers", "population"]
                .map(|k| format!("demo/{}", d[k].as_str().expect("csv"))),
            // the fixtures' sk_mlp_relu, trained on data/digits.train.csv
            (None, "digits_mlp") => {
                cases.push(split_files(
                    &full,
                    "data/digits.train.csv",
                    "data/digits.test.csv",
                ));
                continue;
            }
            // untrained templates the page trains on the digits demo
            (None, n) if n.starts_with("teach_mlp_") => [
                "demo/digits_members.csv".to_string(),
                "demo/digits_nonmembers.csv".to_string(),
                "demo/digits_population.csv".to_string(),
            ],
            _ => panic!("{full}: a demo model with no golden case"),
        };
        cases.push(FixtureCase {
            name: full,
            members: rows_of(&csvs[0], 0, ROWS),
            nonmembers: rows_of(&csvs[1], 0, ROWS),
            population: rows_of(&csvs[2], 0, POPULATION),
            source: format!(
                "the first {ROWS} rows of {} and {}, the first {POPULATION} of {}; labels: their label column",
                csvs[0], csvs[1], csvs[2]
            ),
            attacks: "all",
        });
    }
    cases
}

fn data_rows_text(csv: &str) -> usize {
    csv.lines().skip(1).filter(|l| !l.trim().is_empty()).count()
}

/// Two reference models and two shadows of three epochs.
fn fixture_settings(attacks: &str) -> AuditSettings {
    let mut s = AuditSettings {
        attacks: AuditSettings::parse_attacks(attacks).expect("attacks"),
        references: 2,
        seed: FIXTURE_SEED,
        recipe: TrainRecipe {
            optimizer: Optimizer::adam(0.01),
            batch_size: 8,
            fixed_epochs: Some(3),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    s.shokri.k = 2;
    s
}

/// The golden content of a case: `golden_view` of the report (as the page
/// writes it, without the scan and the guidance), or the refusal.
fn fixture_outcome(c: &FixtureCase) -> Value {
    match fixture_run(c) {
        Ok(json) => golden_view(&serde_json::from_str(&json).expect("report JSON")),
        Err(refusal) => refusal,
    }
}

/// The report's JSON text (`Report::to_json`), or the refusal object.
fn fixture_run(c: &FixtureCase) -> Result<String, Value> {
    let settings = fixture_settings(c.attacks);
    let inputs = serde_json::json!({
        "fixture": format!("{}.onnx", c.name),
        "source": c.source,
        "members": c.members,
        "nonmembers": c.nonmembers,
        "population": c.population,
    });
    let refused = |code: &str, message: String| {
        serde_json::json!({
            "fixture": format!("{}.onnx", c.name),
            "inputs": inputs,
            "settings": settings,
            "refused": {"code": code, "message": message},
        })
    };
    let bytes = std::fs::read(fixtures().join(format!("{}.onnx", c.name))).expect("model");
    let model = match load(&bytes) {
        Ok(m) => m,
        Err(e) => return Err(refused(e.code(), e.to_string())),
    };
    let mut sets = Vec::new();
    for (role, spec) in [
        ("members", &c.members),
        ("non-members", &c.nonmembers),
        ("population", &c.population),
    ] {
        let text = golden::set_csv(spec, &read_text).expect("recipe");
        let ds = match read_csv(text.as_bytes(), &CsvOptions::default()) {
            Ok(d) => d,
            Err(e) => return Err(refused(e.code(), e.to_string())),
        };
        let x = match ds.to_batch(&model.graph.input) {
            Ok(x) => x,
            Err(e) => return Err(refused(e.code(), format!("{role} CSV: {e}"))),
        };
        let y = ds.labels.expect("labelled CSV");
        sets.push(Records { x, y });
    }
    let population = sets.pop();
    let nonmembers = sets.pop().expect("non-members");
    let members = sets.pop().expect("members");
    let audit_inputs = AuditInputs {
        members,
        nonmembers,
        population,
    };
    let classes = num_classes(&model).unwrap_or(2);
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: classes,
    };
    let counts = Counts {
        members: audit_inputs.members.len(),
        nonmembers: audit_inputs.nonmembers.len(),
        population: audit_inputs.population.as_ref().map_or(0, |p| p.len()),
    };
    match run_audit(&target, &audit_inputs, settings.clone(), &mut |_| true) {
        Ok(outcome) => {
            Ok(Report::new(&model, None, None, classes, counts, inputs, outcome).to_json())
        }
        Err(e) => Err(refused(e.code(), e.to_string())),
    }
}

fn fixture_golden_path(name: &str) -> PathBuf {
    fixtures().join("golden").join(format!("{name}.json"))
}

/// Each fixture's outcome equals its golden file (1e-9); with
/// UPDATE_GOLDEN=1 the files are written.
#[test]
fn every_fixture_matches_its_golden_report() {
    let cases = fixture_cases();
    let mut failures = Vec::new();
    let (mut reports, mut refusals) = (0, Vec::new());
    for c in &cases {
        let got = fixture_outcome(c);
        if let Some((code, _)) = refusal(&got) {
            refusals.push(format!("{} [{code}]", c.name));
        } else {
            reports += 1;
        }
        let path = fixture_golden_path(&c.name);
        if updating() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, format!("{got}\n")).expect("write golden");
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{}: no golden file {} (UPDATE_GOLDEN=1 cargo test --test golden_reports writes it)",
                c.name,
                path.display()
            ));
            continue;
        };
        let want: Value = serde_json::from_str(&text).expect("golden JSON");
        let mut out = Vec::new();
        diff("", &want, &got, &NATIVE, &mut out);
        if !out.is_empty() {
            let n = out.len();
            out.truncate(10);
            failures.push(format!(
                "{}: {n} field(s) differ from the golden report:\n    {}",
                c.name,
                out.join("\n    ")
            ));
        }
    }
    eprintln!(
        "{} fixtures: {reports} reports, {} refused: {refusals:?}",
        cases.len(),
        refusals.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ (UPDATE_GOLDEN=1 rewrites; review the diff):\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

/// Every fixture model on disk has a case and a golden file, every golden
/// file belongs to a case, and tests/wasm.rs recomputes every one (its
/// include list is literal: a new fixture must be added there too).
#[test]
fn every_fixture_has_a_golden_file_and_a_wasm_check() {
    let cases = fixture_cases();
    let mut names: Vec<String> = cases.iter().map(|c| c.name.clone()).collect();
    let mut models: Vec<String> = manifest_models()
        .iter()
        .map(|f| {
            f["file"]
                .as_str()
                .expect("file")
                .trim_end_matches(".onnx")
                .to_string()
        })
        .collect();
    models.extend(
        onnx_in("classical")
            .into_iter()
            .map(|n| format!("classical/{n}")),
    );
    models.extend(onnx_in("demo").into_iter().map(|n| format!("demo/{n}")));
    for m in &models {
        assert!(
            names.contains(m),
            "fixture model {m}.onnx has no golden case"
        );
    }
    assert!(models.len() >= 115, "only {} fixture models", models.len());
    // the code of tests/wasm.rs, without comment lines
    let wasm_tests: String =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasm.rs"))
            .expect("tests/wasm.rs")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
    for n in &names {
        if !updating() {
            assert!(
                fixture_golden_path(n).is_file(),
                "{n}: no golden file (UPDATE_GOLDEN=1 cargo test --test golden_reports)"
            );
        }
        assert!(
            wasm_tests.contains(&format!("golden!(\"{n}\")")),
            "tests/wasm.rs does not recompute the golden report of {n}: add golden!(\"{n}\")"
        );
    }
    // every golden file on disk is a fixture case or one of CASES
    names.extend(CASES.iter().map(|c| c.name.to_string()));
    let root = fixtures().join("golden");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("golden dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&root).expect("under golden");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let name = rel.trim_end_matches(".json");
            assert!(
                names.iter().any(|n| n == name),
                "golden/{rel} belongs to no case (a stale file?)"
            );
        }
    }
}

/// The same build and seed give byte-identical report JSON for every
/// fixture (and the same refusal).
#[test]
fn every_fixture_gives_byte_identical_json_twice() {
    for c in fixture_cases() {
        let (a, b) = (fixture_run(&c), fixture_run(&c));
        assert!(
            a == b,
            "{}: two runs with seed {FIXTURE_SEED} differ",
            c.name
        );
    }
}

/// The wasm comparison: a number within 1e-6 passes, a TPR (a decision)
/// must be equal, the page's extra sections are skipped on either side, and
/// the largest difference is measured.
#[test]
fn wasm_comparison_tolerates_1e_6_but_not_a_changed_decision() {
    let want = serde_json::json!({"attacks": [{"auc": 0.5, "tpr_at_fpr": {"0.1": 0.25}}]});
    let close = serde_json::json!({
        "attacks": [{"auc": 0.5 + 5e-7, "tpr_at_fpr": {"0.1": 0.25}}],
        "scan": {"x": 1},
    });
    let mut out = Vec::new();
    diff("", &want, &close, &golden::WASM, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert!((golden::max_number_diff(&want, &close) - 5e-7).abs() < 1e-12);
    let off =
        serde_json::json!({"attacks": [{"auc": 0.5 + 2e-6, "tpr_at_fpr": {"0.1": 0.25 + 1e-9}}]});
    diff("", &want, &off, &golden::WASM, &mut out);
    assert_eq!(
        out,
        vec![
            "attacks[0].auc: golden 0.5, now 0.500002".to_string(),
            "attacks[0].tpr_at_fpr.0.1: golden 0.25, now 0.250000001".to_string(),
        ]
    );
    // the fixtures' view leaves out the derived fields and the conventions
    let report = serde_json::json!({
        "conventions": "text",
        "attacks": [{"id": "loss", "auc": 0.5, "roc": {"fpr": [0.0]}, "per_class": [], "scores": {}}],
    });
    assert_eq!(
        golden_view(&report),
        serde_json::json!({"attacks": [{"id": "loss", "auc": 0.5, "scores": {}}]})
    );
}

/// The expected.json rows become CSV rows labelled by the argmax (a
/// non-finite value never wins), rows with a missing input are left out,
/// and a recipe cuts rows from a file.
#[test]
fn expected_json_rows_and_recipes_make_the_right_csv() {
    let entry = serde_json::json!({
        "inputs": [[1.5, -2], [null, 0.0], [0.25, 3]],
        "expected": [[0.1, 0.7, 0.2], [1, 0, 0], ["nan", 0.3, 0.4]],
    });
    let csv = golden::expected_json_csv(&entry).expect("csv");
    assert_eq!(csv, "f0,f1,label\n1.5,-2,1\n0.25,3,2\n");
    let read = |_: &str| "a,label\n1,0\n2,1\n3,0\n".to_string();
    let spec = serde_json::json!({"file": "x.csv", "from": 1, "to": 3});
    assert_eq!(
        golden::set_csv(&spec, &read).expect("rows"),
        "a,label\n2,1\n3,0\n"
    );
    assert!(golden::set_csv(&serde_json::json!({"from": 0, "to": 1}), &read).is_err());
}
