//! The wasm boundary in a real browser (headless Chromium through
//! wasm-bindgen-test-runner and chromedriver):
//! `cargo test --target wasm32-unknown-unknown --test wasm`
//! with `CHROMEDRIVER=/usr/bin/chromedriver` (scripts/test.sh does this).
//!
//! Fixture models are compiled in with `include_bytes!`; their inputs and
//! onnxruntime outputs come from `tests/fixtures/` (generated once by
//! `tests/fixtures/gen_fixtures.py`). The boundary's results must agree
//! within 1e-4, and its errors must reach JS as `Error`s with a `code`.
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use privacy_inspector::wasm::{load_model, parse_csv, ModelHandle};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const TOL: f32 = 1e-4;

/// One fixture: model bytes, input CSV, onnxruntime's output CSV.
struct Fixture {
    name: &'static str,
    model: &'static [u8],
    input: &'static str,
    expected: &'static str,
}

macro_rules! fixture {
    ($name:literal) => {
        Fixture {
            name: $name,
            model: include_bytes!(concat!("fixtures/", $name, ".onnx")),
            input: include_str!(concat!("fixtures/", $name, ".input.csv")),
            expected: include_str!(concat!("fixtures/", $name, ".expected.csv")),
        }
    };
}

/// A numeric CSV with a header row -> (rows, row-major values), leaving out
/// a `label` column.
fn numbers(csv: &str) -> (usize, Vec<f32>) {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let label = header.iter().position(|h| h.trim() == "label");
    let mut rows = 0;
    let mut values = Vec::new();
    for line in lines {
        rows += 1;
        for (j, cell) in line.split(',').enumerate() {
            if Some(j) == label {
                continue;
            }
            values.push(
                cell.trim()
                    .parse::<f32>()
                    .unwrap_or_else(|e| panic!("bad number '{cell}': {e}")),
            );
        }
    }
    (rows, values)
}

fn load(f: &Fixture) -> ModelHandle {
    load_model(f.model, None)
        .unwrap_or_else(|e| panic!("{}: load failed: {}", f.name, error_text(&e)))
}

fn error_text(e: &JsValue) -> String {
    let code = Reflect::get(e, &"code".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let msg = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    format!("[{code}] {msg}")
}

#[track_caller]
fn check_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: output length");
    let (i, diff) = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |acc, (i, d)| if d > acc.1 { (i, d) } else { acc },
        );
    assert!(
        diff <= TOL,
        "{name}: value {i} is {} but onnxruntime gives {} (|diff| {diff} > {TOL})",
        got[i],
        want[i]
    );
}

/// Models whose chosen output holds probabilities: `predict` must equal
/// onnxruntime's probabilities.
#[wasm_bindgen_test]
fn predict_matches_onnxruntime_probabilities() {
    for f in [
        fixture!("sk_mlp_relu"),
        fixture!("sk_logreg_multi"),
        fixture!("sk_pipeline_wine"),
        fixture!("tf_nhwc_cnn"),
    ] {
        let model = load(&f);
        assert_eq!(model.output_kind(), "probabilities", "{}", f.name);
        let (rows, x) = numbers(f.input);
        let (_, want) = numbers(f.expected);
        let got = model
            .predict(&x, rows)
            .unwrap_or_else(|e| panic!("{}: {}", f.name, error_text(&e)))
            .to_vec();
        check_close(f.name, &got, &want);
    }
}

/// Models that emit logits: the raw output equals onnxruntime's, and
/// `predict` turns each row into probabilities that sum to 1.
#[wasm_bindgen_test]
fn forward_matches_onnxruntime_logits() {
    for f in [fixture!("torch_cnn"), fixture!("torch_mlp_logits")] {
        let model = load(&f);
        assert_eq!(model.output_kind(), "logits", "{}", f.name);
        assert_eq!(model.num_classes(), Some(10), "{}", f.name);
        let (rows, x) = numbers(f.input);
        let (_, want) = numbers(f.expected);
        let raw = model
            .forward_raw(&x, rows)
            .unwrap_or_else(|e| panic!("{}: {}", f.name, error_text(&e)))
            .to_vec();
        check_close(f.name, &raw, &want);
        let probs = model
            .predict(&x, rows)
            .unwrap_or_else(|e| panic!("{}: {}", f.name, error_text(&e)))
            .to_vec();
        assert_eq!(probs.len(), rows * 10);
        for (r, row) in probs.chunks(10).enumerate() {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-5,
                "{}: row {r} sums to {sum}",
                f.name
            );
        }
    }
}

/// The summary crosses as a camelCase object.
#[wasm_bindgen_test]
fn summary_is_a_camel_case_object() {
    let model = load(&fixture!("torch_cnn"));
    let s = model
        .summary()
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let output = Reflect::get(&s, &"output".into()).unwrap_or(JsValue::UNDEFINED);
    let classes = Reflect::get(&output, &"numClasses".into()).unwrap_or(JsValue::UNDEFINED);
    assert_eq!(classes.as_f64(), Some(10.0));
    let input = Reflect::get(&s, &"input".into()).unwrap_or(JsValue::UNDEFINED);
    let features = Reflect::get(&input, &"features".into()).unwrap_or(JsValue::UNDEFINED);
    assert_eq!(features.as_f64(), Some(64.0));
    let sha = Reflect::get(&s, &"sha256".into()).unwrap_or(JsValue::UNDEFINED);
    assert_eq!(sha.as_string().map(|h| h.len()), Some(64));
}

/// Errors reach JS as `Error`s with the stable code and the Display text.
#[wasm_bindgen_test]
fn errors_carry_codes() {
    for (bytes, code) in [
        (&include_bytes!("fixtures/bad/random.onnx")[..], "not_onnx"),
        (&include_bytes!("fixtures/bad/empty.onnx")[..], "empty_file"),
        (
            &include_bytes!("fixtures/bad/huge_tensor.onnx")[..],
            "too_large",
        ),
        (
            &include_bytes!("fixtures/bad/nan_weights.onnx")[..],
            "non_finite_weights",
        ),
    ] {
        let Err(err) = load_model(bytes, None) else {
            panic!("expected {code}, the model loaded");
        };
        assert!(
            err.is_instance_of::<js_sys::Error>(),
            "{code}: not an Error"
        );
        assert!(
            error_text(&err).starts_with(&format!("[{code}] ")),
            "{}",
            error_text(&err)
        );
    }

    // a CSV with the wrong number of columns for the model
    let model = load(&fixture!("sk_mlp_relu"));
    let data = parse_csv(b"a,b,label\n1,2,0\n3,4,1\n", None)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!((data.rows(), data.features()), (2, 2));
    assert_eq!(data.labels().map(|l| l.to_vec()), Some(vec![0, 1]));
    let Err(err) = model.predict_dataset(&data, 0, 2) else {
        panic!("2 columns predicted on a 64-feature model");
    };
    let text = error_text(&err);
    assert!(text.starts_with("[csv_feature_count] "), "{text}");
    assert!(text.contains('2') && text.contains("64"), "{text}");

    // predict with a wrong-length buffer
    let Err(err) = model.predict(&[0.0; 10], 1) else {
        panic!("10 values accepted for a 64-feature row");
    };
    assert!(
        error_text(&err).starts_with("[input_shape] "),
        "{}",
        error_text(&err)
    );
}

/// A parsed CSV predicts like the same numbers given directly.
#[wasm_bindgen_test]
fn dataset_predictions_equal_direct_predictions() {
    let f = fixture!("sk_mlp_relu");
    let model = load(&f);
    let data = parse_csv(f.input.as_bytes(), None).unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let (rows, x) = numbers(f.input);
    assert_eq!(data.rows(), rows);
    assert_eq!(data.data().to_vec(), x);
    let direct = model
        .predict(&x, rows)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .to_vec();
    let via_csv = model
        .predict_dataset(&data, 0, rows)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .to_vec();
    assert_eq!(direct, via_csv);
}

/// Every model of tests/fixtures/manifest.json (this list is checked against
/// the manifest by tests/fixtures_agree.rs): the raw output in wasm equals
/// onnxruntime's within 1e-4 (relative to 1 + |expected|, as natively).
#[wasm_bindgen_test]
fn every_fixture_matches_onnxruntime() {
    let all = [
        fixture!("sk_logreg_binary"),
        fixture!("sk_logreg_binary_nozipmap"),
        fixture!("sk_logreg_multi"),
        fixture!("sk_logreg_multi_nozipmap"),
        fixture!("sk_pipeline_wine"),
        fixture!("sk_pipeline_wine_nozipmap"),
        fixture!("sk_mlp_relu"),
        fixture!("sk_mlp_relu_nozipmap"),
        fixture!("sk_mlp_tanh"),
        fixture!("sk_mlp_tanh_nozipmap"),
        fixture!("sk_mlp_binary"),
        fixture!("sk_mlp_binary_nozipmap"),
        fixture!("torch_mlp_logits"),
        fixture!("torch_mlp_softmax"),
        fixture!("torch_mlp_matmul"),
        fixture!("bench_mlp_64_128_10"),
        fixture!("torch_cnn"),
        fixture!("torch_cnn_batch1"),
        fixture!("torch_cnn_gap"),
        fixture!("tf_nhwc_cnn"),
        fixture!("op_leakyrelu_op9"),
        fixture!("op_concat_op9"),
        fixture!("op_dropout_identity_op9"),
        fixture!("op_gemm_attrs_op9"),
        fixture!("op_scaler_op9"),
        fixture!("op_softmax3d_axis1_op11"),
        fixture!("op_logsoftmax3d_axis1_op11"),
        fixture!("op_leakyrelu_op11"),
        fixture!("op_broadcast_arith_op11"),
        fixture!("op_squeeze_unsqueeze_op11"),
        fixture!("op_concat_op11"),
        fixture!("op_avgpool_ceil_op11"),
        fixture!("op_maxpool_pads_ceil_op11"),
        fixture!("op_conv_same_upper_op11"),
        fixture!("op_flatten_axis_op11"),
        fixture!("op_dropout_identity_op11"),
        fixture!("op_gemm_attrs_op11"),
        fixture!("op_reshape_cast_const_op11"),
        fixture!("op_linclf_softmax_zero_op11"),
        fixture!("op_linclf_none_op11"),
        fixture!("op_linclf_logistic_binary_op11"),
        fixture!("op_linreg_op11"),
        fixture!("op_normalizer_l1_op11"),
        fixture!("op_normalizer_l2_op11"),
        fixture!("op_normalizer_max_op11"),
        fixture!("op_scaler_op11"),
        fixture!("op_softmax3d_axis1_op13"),
        fixture!("op_logsoftmax3d_axis1_op13"),
        fixture!("op_leakyrelu_op13"),
        fixture!("op_broadcast_arith_op13"),
        fixture!("op_squeeze_unsqueeze_op13"),
        fixture!("op_concat_op13"),
        fixture!("op_avgpool_ceil_op13"),
        fixture!("op_maxpool_pads_ceil_op13"),
        fixture!("op_conv_same_upper_op13"),
        fixture!("op_flatten_axis_op13"),
        fixture!("op_dropout_identity_op13"),
        fixture!("op_gemm_attrs_op13"),
        fixture!("op_reshape_cast_const_op13"),
        fixture!("op_linclf_softmax_zero_op13"),
        fixture!("op_linclf_none_op13"),
        fixture!("op_linclf_logistic_binary_op13"),
        fixture!("op_linreg_op13"),
        fixture!("op_normalizer_l1_op13"),
        fixture!("op_normalizer_l2_op13"),
        fixture!("op_normalizer_max_op13"),
        fixture!("op_scaler_op13"),
        fixture!("op_leakyrelu_op21"),
        fixture!("op_concat_op21"),
        fixture!("op_dropout_identity_op21"),
        fixture!("op_gemm_attrs_op21"),
        fixture!("op_scaler_op21"),
    ];
    for f in all {
        let model = load(&f);
        let (rows, x) = numbers(f.input);
        let (_, want) = numbers(f.expected);
        let got = model
            .forward_raw(&x, rows)
            .unwrap_or_else(|e| panic!("{}: {}", f.name, error_text(&e)))
            .to_vec();
        assert_eq!(got.len(), want.len(), "{}: output size", f.name);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let d = (g - w).abs() / (1.0 + w.abs());
            assert!(
                d <= 1e-4,
                "{}: value {i}: wasm {g} vs onnxruntime {w}",
                f.name
            );
        }
    }
}

/// The membership audit runs in wasm and its report crosses to JS intact
/// (every seed in it exact as a JS number, the attacks present).
#[wasm_bindgen_test]
fn run_audit_returns_a_report() {
    let model = load(&fixture!("sk_logreg_multi"));
    let mut members =
        parse_csv(include_bytes!("fixtures/data/iris.train.csv"), None).expect("members");
    let mut nonmembers =
        parse_csv(include_bytes!("fixtures/data/iris.test.csv"), None).expect("non-members");
    let settings = js_sys::JSON::parse(
        r#"{"attacks":["loss","gap","lira_online"],"references":4,"seed":9007199254740991}"#,
    )
    .expect("json");
    let noop = js_sys::Function::new_no_args("return true");
    let out = privacy_inspector::wasm::run_audit(
        &model,
        &mut members,
        &mut nonmembers,
        None,
        settings,
        JsValue::NULL,
        &noop,
        None,
        JsValue::UNDEFINED,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let report = Reflect::get(&out, &"report".into()).expect("report");
    let text = js_sys::JSON::stringify(&report)
        .expect("stringify")
        .as_string()
        .expect("string");
    let v: serde_json::Value = serde_json::from_str(&text).expect("report JSON");
    assert_eq!(v["seed"].as_u64(), Some(9_007_199_254_740_991));
    let ids: Vec<&str> = v["attacks"]
        .as_array()
        .expect("attacks")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["loss", "gap", "lira_online"]);
    for a in v["attacks"].as_array().expect("attacks") {
        let auc = a["auc"]
            .as_f64()
            .unwrap_or_else(|| panic!("{} has no AUC: {a}", a["id"]));
        assert!((0.0..=1.0).contains(&auc));
    }
    let html = Reflect::get(&out, &"html".into())
        .expect("html")
        .as_string()
        .expect("string");
    assert!(html.contains("data-testid=\"report-summary\"") && !html.contains("<style>"));
}

/// The worker-pool path in wasm: reference models trained one by one
/// (`trainReference`, in reverse order, as several workers would) and handed
/// to `runAudit` give the report of a run that trains them itself, byte for
/// byte; the report carries the model-file scan and the guidance.
#[wasm_bindgen_test]
fn references_trained_one_by_one_give_the_same_report() {
    let model = load(&fixture!("sk_logreg_multi"));
    let csv = |b: &[u8]| parse_csv(b, None).expect("csv");
    let members: &[u8] = include_bytes!("fixtures/data/iris.train.csv");
    let nonmembers: &[u8] = include_bytes!("fixtures/data/iris.test.csv");
    let settings = || {
        js_sys::JSON::parse(
            r#"{"attacks":["loss","lira_online","rmia_offline"],"references":3,"seed":5,"recipe":{"optimizer":{"kind":"adam","lr":0.01,"beta1":0.9,"beta2":0.999,"eps":1e-8},"batchSize":16,"l2":0.0,"maxEpochs":10,"fixedEpochs":3,"targetAccuracy":null}}"#,
        )
        .expect("json")
    };
    let noop = js_sys::Function::new_no_args("return true");
    let report_json = |out: &JsValue| {
        Reflect::get(out, &"reportJson".into())
            .expect("reportJson")
            .as_string()
            .expect("string")
    };
    let whole = privacy_inspector::wasm::run_audit(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
        JsValue::NULL,
        &noop,
        None,
        JsValue::UNDEFINED,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let jobs = privacy_inspector::wasm::reference_jobs(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let jobs: serde_json::Value = serde_json::from_str(
        &js_sys::JSON::stringify(&jobs)
            .expect("stringify")
            .as_string()
            .expect("string"),
    )
    .expect("jobs");
    assert_eq!(
        jobs,
        serde_json::json!([{"mode": "online", "k": 3}, {"mode": "offline", "k": 3}])
    );
    let mut parts = serde_json::Map::new();
    for job in jobs.as_array().expect("array") {
        let mode = job["mode"].as_str().expect("mode");
        let mut list = Vec::new();
        for index in (0..3).rev() {
            let t = privacy_inspector::wasm::train_reference(
                &model,
                &mut csv(members),
                &mut csv(nonmembers),
                Some(csv(nonmembers)),
                settings(),
                mode,
                index,
                &noop,
            )
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
            list.push(serde_json::from_str::<serde_json::Value>(&t).expect("trained"));
        }
        parts.insert(mode.into(), serde_json::Value::Array(list));
    }
    let merged = privacy_inspector::wasm::run_audit(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
        JsValue::NULL,
        &noop,
        Some(serde_json::Value::Object(parts).to_string()),
        JsValue::UNDEFINED,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let (a, b) = (report_json(&whole), report_json(&merged));
    assert!(a.contains("\"rmia_offline\"") && a.contains("\"scan\"") && a.contains("\"guidance\""));
    assert_eq!(a, b);
}

/// The RDP accountant in wasm gives Opacus's epsilon for the committed
/// reference case (tests/fixtures/privacy/accountant.json's first grid entry).
#[wasm_bindgen_test]
fn accountant_matches_opacus_in_wasm() {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/privacy/accountant.json")).expect("json");
    let c = &cases["grid"][0];
    let out = privacy_inspector::wasm::accountant(
        c["q"].as_f64().expect("q"),
        c["sigma"].as_f64().expect("sigma"),
        c["steps"].as_u64().expect("steps") as u32,
        c["delta"].as_f64().expect("delta"),
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let eps = Reflect::get(&out, &"epsilon".into())
        .expect("epsilon")
        .as_f64()
        .expect("number");
    let want = c["epsilon"].as_f64().expect("expected epsilon");
    assert!(
        (eps - want).abs() <= 1e-6 * want.max(1.0),
        "{eps} vs {want}"
    );
}

/// Model inversion and attribute inference run in wasm and their reports
/// cross to JS.
#[wasm_bindgen_test]
fn run_inversion_and_attribute_return_reports() {
    let model = load(&fixture!("sk_mlp_relu"));
    let members =
        parse_csv(include_bytes!("fixtures/demo/digits_sample.csv"), None).expect("members");
    let settings =
        js_sys::JSON::parse(r#"{"steps":50,"start":"data_mean","gamma":0.0001}"#).expect("json");
    let noop = js_sys::Function::new_no_args("return true");
    let out = privacy_inspector::wasm::run_inversion(
        &model,
        &[3],
        settings,
        Some(vec![1, 8, 8]),
        None,
        Some(members),
        None,
        &noop,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let json = Reflect::get(&out, &"reportJson".into())
        .expect("json")
        .as_string()
        .expect("string");
    let v: serde_json::Value = serde_json::from_str(&json).expect("report JSON");
    let c = &v["inversion"]["classes"][0];
    assert_eq!(c["class"], 3);
    assert_eq!(c["reconstruction"].as_array().expect("array").len(), 64);
    assert!(c["target_confidence"].as_f64().expect("confidence") > 0.5);
    let html = Reflect::get(&out, &"html".into())
        .expect("html")
        .as_string()
        .expect("string");
    assert!(html.contains("data-testid=\"inversion-class-3\""));

    let wine = load(&fixture!("sk_pipeline_wine"));
    let mut m = parse_csv(include_bytes!("fixtures/data/wine.train.csv"), None).expect("members");
    let mut n =
        parse_csv(include_bytes!("fixtures/data/wine.test.csv"), None).expect("non-members");
    let settings = js_sys::JSON::parse(r#"{"bins":[10,12.5,13.5,15]}"#).expect("json");
    let out =
        privacy_inspector::wasm::run_attribute(&wine, &mut m, &mut n, None, "f0", settings, &noop)
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let json = Reflect::get(&out, &"reportJson".into())
        .expect("json")
        .as_string()
        .expect("string");
    let v: serde_json::Value = serde_json::from_str(&json).expect("report JSON");
    assert_eq!(v["attribute"]["column_name"], "f0");
    assert!(v["attribute"]["members"]["attack_accuracy"].is_f64());
    // a column that does not exist is a coded error
    let err = privacy_inspector::wasm::run_attribute(
        &wine,
        &mut m,
        &mut n,
        None,
        "age",
        JsValue::NULL,
        &noop,
    )
    .unwrap_err();
    assert!(
        error_text(&err).contains("sensitive column 'age'"),
        "{}",
        error_text(&err)
    );
}

/// Issue 7's agreement: each golden report (tests/fixtures/golden, written
/// by the native build, tests/golden_reports.rs) is recomputed here in wasm
/// from the same inputs and settings; every attack's scores and figures
/// agree within 1e-6 and every decision (skipped or not, TPR at each FPR,
/// the epsilon bound) is the same.
#[wasm_bindgen_test]
fn wasm_reports_equal_the_native_golden_reports() {
    struct Case {
        golden: &'static str,
        model: &'static [u8],
        members: &'static str,
        nonmembers: &'static str,
        rows: usize,
        population: Option<usize>,
        attacks: &'static str,
        references: usize,
        seed: u64,
    }
    let cases = [
        Case {
            golden: include_str!("fixtures/golden/quick_iris_logreg.json"),
            model: include_bytes!("fixtures/sk_logreg_multi.onnx"),
            members: include_str!("fixtures/data/iris.train.csv"),
            nonmembers: include_str!("fixtures/data/iris.test.csv"),
            rows: 30,
            population: None,
            attacks: "quick",
            references: 16,
            seed: 7,
        },
        Case {
            golden: include_str!("fixtures/golden/quick_breast_cancer_mlp.json"),
            model: include_bytes!("fixtures/sk_mlp_binary.onnx"),
            members: include_str!("fixtures/data/breast_cancer10.train.csv"),
            nonmembers: include_str!("fixtures/data/breast_cancer10.test.csv"),
            rows: 30,
            population: None,
            attacks: "quick",
            references: 16,
            seed: 11,
        },
        Case {
            golden: include_str!("fixtures/golden/references_wine_pipeline.json"),
            model: include_bytes!("fixtures/sk_pipeline_wine.onnx"),
            members: include_str!("fixtures/data/wine.train.csv"),
            nonmembers: include_str!("fixtures/data/wine.test.csv"),
            rows: 50,
            population: Some(25),
            attacks: "loss,shokri,lira_online,lira_offline,rmia_online,rmia_offline",
            references: 4,
            seed: 3,
        },
    ];
    // header + data rows [from, to) of a CSV text
    let slice = |text: &str, from: usize, to: usize| -> Vec<u8> {
        let mut lines = text.lines();
        let mut out = String::from(lines.next().expect("header"));
        out.push('\n');
        for l in lines.skip(from).take(to.saturating_sub(from)) {
            out.push_str(l);
            out.push('\n');
        }
        out.into_bytes()
    };
    let noop = js_sys::Function::new_no_args("return true");
    for c in &cases {
        let model = ModelHandle::new(c.model).unwrap_or_else(|e| panic!("{}", error_text(&e)));
        let split = c.population.unwrap_or(c.rows);
        let mut members = parse_csv(&slice(c.members, 0, c.rows), None).expect("members");
        let mut nonmembers = parse_csv(&slice(c.nonmembers, 0, split), None).expect("non-members");
        let population = c
            .population
            .map(|p| parse_csv(&slice(c.nonmembers, p, c.rows), None).expect("population"));
        // the settings the native build recorded, as they are
        let want: serde_json::Value = serde_json::from_str(c.golden).expect("golden");
        let settings = want["settings"].clone();
        assert_eq!(settings["seed"].as_u64(), Some(c.seed));
        assert_eq!(settings["references"].as_u64(), Some(c.references as u64));
        assert!(
            c.attacks == "quick"
                || settings["attacks"].as_array().map(|a| a.len())
                    == Some(c.attacks.split(',').count())
        );
        let out = privacy_inspector::wasm::run_audit(
            &model,
            &mut members,
            &mut nonmembers,
            population,
            js_sys::JSON::parse(&settings.to_string()).expect("json"),
            JsValue::NULL,
            &noop,
            None,
            JsValue::UNDEFINED,
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        let got: serde_json::Value = serde_json::from_str(
            &Reflect::get(&out, &"reportJson".into())
                .expect("json")
                .as_string()
                .expect("string"),
        )
        .expect("report");
        let (ga, wa) = (
            got["attacks"].as_array().expect("attacks"),
            want["attacks"].as_array().expect("golden attacks"),
        );
        assert_eq!(ga.len(), wa.len());
        for (g, w) in ga.iter().zip(wa) {
            let id = w["id"].as_str().unwrap_or("");
            assert_eq!(g["id"], w["id"]);
            assert_eq!(g["skipped"], w["skipped"], "{id}: skipped");
            for key in ["auc", "advantage", "epsilon_lower_bound"] {
                let (x, y) = (g[key].as_f64(), w[key].as_f64());
                assert!(
                    match (x, y) {
                        (Some(x), Some(y)) => (x - y).abs() <= 1e-6,
                        (None, None) => true,
                        _ => false,
                    },
                    "{id}.{key}: wasm {x:?}, native {y:?}"
                );
            }
            assert_eq!(g["tpr_at_fpr"], w["tpr_at_fpr"], "{id}: TPR at FPR");
            for set in ["members", "nonmembers"] {
                let (gs, ws) = (&g["scores"][set], &w["scores"][set]);
                let (gs, ws) = (gs.as_array(), ws.as_array());
                if let (Some(gs), Some(ws)) = (gs, ws) {
                    assert_eq!(gs.len(), ws.len());
                    for (i, (x, y)) in gs.iter().zip(ws).enumerate() {
                        let (x, y) = (
                            x.as_f64().unwrap_or(f64::NAN),
                            y.as_f64().unwrap_or(f64::NAN),
                        );
                        assert!(
                            (x - y).abs() <= 1e-6 || (x.is_nan() && y.is_nan()),
                            "{id}: {set} score {i}: wasm {x}, native {y}"
                        );
                    }
                }
            }
        }
    }
}
