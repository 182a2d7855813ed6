//! The wasm boundary in a real browser (headless Chromium through
//! wasm-bindgen-test-runner and chromedriver):
//! `cargo test --target wasm32-unknown-unknown --test wasm`
//! with `CHROMEDRIVER=/usr/bin/chromedriver` (scripts/test.sh does this).
//!
//! Fixture models are compiled in with `include_bytes!`; their inputs and
//! onnxruntime outputs come from `tests/fixtures/` (generated once by
//! `tests/fixtures/gen_fixtures.py`). The boundary's results must agree
//! within 1e-4, and its errors must reach JS as `Error`s with a `code`.
//! Every golden report of tests/fixtures/golden (the native build's) is
//! recomputed here and compared with tests/common/golden.rs (issue 7).
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use privacy_inspector::wasm::{load_model, parse_csv, ModelHandle};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

#[path = "common/golden.rs"]
mod golden;

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
/// Every model of tests/fixtures/manifest.json (this list is checked against
/// the manifest by tests/fixtures_agree.rs).
fn manifest_fixtures() -> Vec<Fixture> {
    vec![
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
    ]
}

#[wasm_bindgen_test]
fn every_fixture_matches_onnxruntime() {
    let all = manifest_fixtures();
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
    // added in any order, as the page's workers finish them
    let mut set = privacy_inspector::wasm::ReferenceSet::new();
    for job in jobs.as_array().expect("array") {
        let mode = job["mode"].as_str().expect("mode");
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
            set.add(mode, index, &t)
                .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        }
    }
    assert_eq!(set.count(), 6);
    // a model under the wrong index, a gap and a bad mode are refused
    let one = privacy_inspector::wasm::train_reference(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
        "online",
        1,
        &noop,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut bad = privacy_inspector::wasm::ReferenceSet::new();
    assert!(bad.add("online", 0, &one).is_err());
    assert!(bad.add("sideways", 1, &one).is_err());
    bad.add("online", 1, &one).expect("index 1");
    let gap = privacy_inspector::wasm::run_audit(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
        JsValue::NULL,
        &noop,
        Some(bad),
        JsValue::UNDEFINED,
    )
    .expect_err("model 0 is missing");
    assert!(
        error_text(&gap).contains("reference model 0"),
        "{}",
        error_text(&gap)
    );
    let merged = privacy_inspector::wasm::run_audit(
        &model,
        &mut csv(members),
        &mut csv(nonmembers),
        Some(csv(nonmembers)),
        settings(),
        JsValue::NULL,
        &noop,
        Some(set),
        JsValue::UNDEFINED,
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let (a, b) = (report_json(&whole), report_json(&merged));
    assert!(a.contains("\"rmia_offline\"") && a.contains("\"scan\"") && a.contains("\"guidance\""));
    assert_eq!(a, b);
}

/// The training plan in wasm (the page's DP-SGD figure: the core's schedule
/// and RDP accountant) gives Opacus's epsilon for a committed reference
/// case (tests/fixtures/privacy/accountant.json): q = 0.01 is a batch of 1
/// of 100 records, 100 steps per epoch.
#[wasm_bindgen_test]
fn train_plan_matches_opacus_in_wasm() {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/privacy/accountant.json")).expect("json");
    let c = cases["grid"]
        .as_array()
        .expect("grid")
        .iter()
        .find(|c| {
            c["q"].as_f64() == Some(0.01)
                && c["steps"]
                    .as_u64()
                    .is_some_and(|s| s >= 100 && s % 100 == 0)
                && c["sigma"].as_f64().is_some_and(|s| s > 0.0)
        })
        .expect("a case with q = 0.01 and whole epochs");
    let config = js_sys::JSON::parse(&format!(
        r#"{{"batchSize":1,"epochs":{},"dp":{{"clipNorm":1,"noiseMultiplier":{},"delta":{}}}}}"#,
        c["steps"].as_u64().expect("steps") / 100,
        c["sigma"].as_f64().expect("sigma"),
        c["delta"].as_f64().expect("delta"),
    ))
    .expect("config");
    let out = privacy_inspector::wasm::train_plan(config, 100)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let dp = Reflect::get(&out, &"dp".into()).expect("dp");
    let eps = Reflect::get(&dp, &"epsilon".into())
        .expect("epsilon")
        .as_f64()
        .expect("number");
    let want = c["epsilon"].as_f64().expect("expected epsilon");
    assert!(
        (eps - want).abs() <= 1e-6 * want.max(1.0),
        "{eps} vs {want}"
    );
    // a recipe training refuses is refused here, with training's code
    let bad = js_sys::JSON::parse(r#"{"batchSize":1,"epochs":1,"l2":-1}"#).expect("config");
    let e = privacy_inspector::wasm::train_plan(bad, 100).expect_err("negative L2");
    assert_eq!(error_code(&e), "bad_config", "{}", error_text(&e));
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

/// A fixture model and its golden outcome (tests/golden_reports.rs writes
/// it with the native build; that test checks this list covers every file).
struct Golden {
    name: &'static str,
    golden: &'static str,
    model: &'static [u8],
}

macro_rules! golden {
    ($name:literal) => {
        Golden {
            name: $name,
            golden: include_str!(concat!("fixtures/golden/", $name, ".json")),
            model: include_bytes!(concat!("fixtures/", $name, ".onnx")),
        }
    };
}

/// Every fixture model's golden file.
fn golden_fixtures() -> Vec<Golden> {
    vec![
        golden!("bench_mlp_64_128_10"),
        golden!("classical/dt_clf"),
        golden!("classical/dt_clf_full"),
        golden!("classical/dt_clf_multi"),
        golden!("classical/dt_reg"),
        golden!("classical/et_clf"),
        golden!("classical/gb_clf"),
        golden!("classical/gb_clf_multi"),
        golden!("classical/gb_reg"),
        golden!("classical/pipeline_scaler_svc"),
        golden!("classical/rf_clf"),
        golden!("classical/rf_clf_multi"),
        golden!("classical/rf_reg"),
        golden!("classical/svc_linear_prob"),
        golden!("classical/svc_poly_multi_ovo"),
        golden!("classical/svc_poly_prob"),
        golden!("classical/svc_rbf"),
        golden!("classical/svc_rbf_prob_multi"),
        golden!("classical/svc_sigmoid"),
        golden!("classical/svc_sigmoid_prob_multi"),
        golden!("classical/svm_linear_form"),
        golden!("classical/svm_linear_form_softmax"),
        golden!("classical/svr_linear"),
        golden!("classical/svr_rbf"),
        golden!("classical/tree_clf_binary_logistic"),
        golden!("classical/tree_clf_binary_none"),
        golden!("classical/tree_clf_binary_two_base"),
        golden!("classical/tree_clf_logistic_multi"),
        golden!("classical/tree_clf_probit"),
        golden!("classical/tree_clf_softmax_multi"),
        golden!("classical/tree_clf_softmax_zero"),
        golden!("classical/tree_reg_avg_tensor"),
        golden!("classical/tree_reg_max_softmax"),
        golden!("classical/tree_reg_min"),
        golden!("classical/tree_reg_sum"),
        golden!("classical/tree_reg_sum_probit_logit"),
        golden!("demo/digits_mlp"),
        golden!("demo/digits_overfit"),
        golden!("demo/regularised_mlp"),
        golden!("demo/tabular_pipeline"),
        golden!("demo/teach_mlp_128"),
        golden!("demo/teach_mlp_16"),
        golden!("demo/teach_mlp_32"),
        golden!("demo/teach_mlp_64"),
        golden!("op_avgpool_ceil_op11"),
        golden!("op_avgpool_ceil_op13"),
        golden!("op_broadcast_arith_op11"),
        golden!("op_broadcast_arith_op13"),
        golden!("op_concat_op11"),
        golden!("op_concat_op13"),
        golden!("op_concat_op21"),
        golden!("op_concat_op9"),
        golden!("op_conv_same_upper_op11"),
        golden!("op_conv_same_upper_op13"),
        golden!("op_dropout_identity_op11"),
        golden!("op_dropout_identity_op13"),
        golden!("op_dropout_identity_op21"),
        golden!("op_dropout_identity_op9"),
        golden!("op_flatten_axis_op11"),
        golden!("op_flatten_axis_op13"),
        golden!("op_gemm_attrs_op11"),
        golden!("op_gemm_attrs_op13"),
        golden!("op_gemm_attrs_op21"),
        golden!("op_gemm_attrs_op9"),
        golden!("op_leakyrelu_op11"),
        golden!("op_leakyrelu_op13"),
        golden!("op_leakyrelu_op21"),
        golden!("op_leakyrelu_op9"),
        golden!("op_linclf_logistic_binary_op11"),
        golden!("op_linclf_logistic_binary_op13"),
        golden!("op_linclf_none_op11"),
        golden!("op_linclf_none_op13"),
        golden!("op_linclf_softmax_zero_op11"),
        golden!("op_linclf_softmax_zero_op13"),
        golden!("op_linreg_op11"),
        golden!("op_linreg_op13"),
        golden!("op_logsoftmax3d_axis1_op11"),
        golden!("op_logsoftmax3d_axis1_op13"),
        golden!("op_maxpool_pads_ceil_op11"),
        golden!("op_maxpool_pads_ceil_op13"),
        golden!("op_normalizer_l1_op11"),
        golden!("op_normalizer_l1_op13"),
        golden!("op_normalizer_l2_op11"),
        golden!("op_normalizer_l2_op13"),
        golden!("op_normalizer_max_op11"),
        golden!("op_normalizer_max_op13"),
        golden!("op_reshape_cast_const_op11"),
        golden!("op_reshape_cast_const_op13"),
        golden!("op_scaler_op11"),
        golden!("op_scaler_op13"),
        golden!("op_scaler_op21"),
        golden!("op_scaler_op9"),
        golden!("op_softmax3d_axis1_op11"),
        golden!("op_softmax3d_axis1_op13"),
        golden!("op_squeeze_unsqueeze_op11"),
        golden!("op_squeeze_unsqueeze_op13"),
        golden!("sk_logreg_binary"),
        golden!("sk_logreg_binary_nozipmap"),
        golden!("sk_logreg_multi"),
        golden!("sk_logreg_multi_nozipmap"),
        golden!("sk_mlp_binary"),
        golden!("sk_mlp_binary_nozipmap"),
        golden!("sk_mlp_relu"),
        golden!("sk_mlp_relu_nozipmap"),
        golden!("sk_mlp_tanh"),
        golden!("sk_mlp_tanh_nozipmap"),
        golden!("sk_pipeline_wine"),
        golden!("sk_pipeline_wine_nozipmap"),
        golden!("tf_nhwc_cnn"),
        golden!("torch_cnn"),
        golden!("torch_cnn_batch1"),
        golden!("torch_cnn_gap"),
        golden!("torch_mlp_logits"),
        golden!("torch_mlp_matmul"),
        golden!("torch_mlp_softmax"),
    ]
}

/// The text of a file under tests/fixtures that a golden file's input
/// recipe names (`golden::set_csv`).
fn fixture_text(path: &str) -> String {
    let text = match path {
        "data/breast_cancer10.train.csv" => include_str!("fixtures/data/breast_cancer10.train.csv"),
        "data/breast_cancer10.test.csv" => include_str!("fixtures/data/breast_cancer10.test.csv"),
        "data/iris.train.csv" => include_str!("fixtures/data/iris.train.csv"),
        "data/iris.test.csv" => include_str!("fixtures/data/iris.test.csv"),
        "data/wine.train.csv" => include_str!("fixtures/data/wine.train.csv"),
        "data/wine.test.csv" => include_str!("fixtures/data/wine.test.csv"),
        "data/digits.train.csv" => include_str!("fixtures/data/digits.train.csv"),
        "data/digits.test.csv" => include_str!("fixtures/data/digits.test.csv"),
        "classical/expected.json" => include_str!("fixtures/classical/expected.json"),
        "classical/data/cancer8.members.csv" => {
            include_str!("fixtures/classical/data/cancer8.members.csv")
        }
        "classical/data/cancer8.nonmembers.csv" => {
            include_str!("fixtures/classical/data/cancer8.nonmembers.csv")
        }
        "classical/data/iris.members.csv" => {
            include_str!("fixtures/classical/data/iris.members.csv")
        }
        "classical/data/iris.nonmembers.csv" => {
            include_str!("fixtures/classical/data/iris.nonmembers.csv")
        }
        "demo/digits_members.csv" => include_str!("fixtures/demo/digits_members.csv"),
        "demo/digits_nonmembers.csv" => include_str!("fixtures/demo/digits_nonmembers.csv"),
        "demo/digits_population.csv" => include_str!("fixtures/demo/digits_population.csv"),
        "demo/tabular_members.csv" => include_str!("fixtures/demo/tabular_members.csv"),
        "demo/tabular_nonmembers.csv" => include_str!("fixtures/demo/tabular_nonmembers.csv"),
        "demo/tabular_population.csv" => include_str!("fixtures/demo/tabular_population.csv"),
        "demo/regularised_members.csv" => include_str!("fixtures/demo/regularised_members.csv"),
        "demo/regularised_nonmembers.csv" => {
            include_str!("fixtures/demo/regularised_nonmembers.csv")
        }
        "demo/regularised_population.csv" => {
            include_str!("fixtures/demo/regularised_population.csv")
        }
        other => {
            // a manifest model's own input CSV
            return manifest_fixtures()
                .into_iter()
                .find(|f| other == format!("{}.input.csv", f.name))
                .map(|f| f.input.to_string())
                .unwrap_or_else(|| panic!("tests/wasm.rs does not include {other}"));
        }
    };
    text.to_string()
}

/// The stable code of a JS error from the boundary.
fn error_code(e: &JsValue) -> String {
    Reflect::get(e, &"code".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// One audit through the boundary, as the page runs it: load, parse the
/// CSVs, `runAudit`. The report JSON text, or the error's (code, text).
fn audit_in_wasm(
    model: &[u8],
    csvs: [&[u8]; 3],
    settings: &serde_json::Value,
    names: &serde_json::Value,
) -> Result<String, (String, String)> {
    let fail = |e: JsValue| (error_code(&e), error_text(&e));
    let model = load_model(model, None).map_err(fail)?;
    let mut members = parse_csv(csvs[0], None).map_err(fail)?;
    let mut nonmembers = parse_csv(csvs[1], None).map_err(fail)?;
    let population = parse_csv(csvs[2], None).map_err(fail)?;
    let noop = js_sys::Function::new_no_args("return true");
    let out = privacy_inspector::wasm::run_audit(
        &model,
        &mut members,
        &mut nonmembers,
        Some(population),
        js_sys::JSON::parse(&settings.to_string()).expect("settings"),
        js_sys::JSON::parse(&names.to_string()).expect("names"),
        &noop,
        None,
        JsValue::UNDEFINED,
    )
    .map_err(fail)?;
    Ok(Reflect::get(&out, &"reportJson".into())
        .expect("reportJson")
        .as_string()
        .expect("string"))
}

/// Compare one wasm report with its golden file: the mismatches join
/// `failures`, the largest number difference `worst`.
fn compare(
    name: &str,
    want: &serde_json::Value,
    got: &serde_json::Value,
    cmp: &golden::Compare,
    failures: &mut Vec<String>,
    worst: &mut (f64, String),
) {
    let d = golden::max_number_diff(want, got);
    if d > worst.0 {
        *worst = (d, name.to_string());
    }
    let mut out = Vec::new();
    golden::diff("", want, got, cmp, &mut out);
    if !out.is_empty() {
        let n = out.len();
        out.truncate(10);
        failures.push(format!(
            "{name}: {n} field(s) differ:\n    {}",
            out.join("\n    ")
        ));
    }
}

/// Issue 7's agreement: every golden report (tests/fixtures/golden, written
/// by the native build in tests/golden_reports.rs) is recomputed here in
/// wasm from the same inputs and settings and compared field by field with
/// `golden::diff`: numbers within 1e-6, decisions (TPR at each FPR, skipped
/// or not and why, every string, integer and array length) identical. The
/// page's report adds the model-file scan and the guidance, not compared.
/// - the three full reports (all fields; they also pin the fields the
///   fixtures' files leave out, `golden::DERIVED`); each is computed twice
///   and the two JSON texts must be byte-identical;
/// - every fixture model: `golden::golden_view` of the report, or the same
///   refusal code as natively; each is also computed twice, and the two
///   report texts (or errors) must be byte-identical.
#[wasm_bindgen_test]
fn wasm_reports_equal_every_native_golden_report() {
    struct Case {
        golden: &'static str,
        model: &'static [u8],
        members: &'static str,
        nonmembers: &'static str,
        rows: usize,
        population: Option<usize>,
    }
    let cases = [
        Case {
            golden: include_str!("fixtures/golden/quick_iris_logreg.json"),
            model: include_bytes!("fixtures/sk_logreg_multi.onnx"),
            members: include_str!("fixtures/data/iris.train.csv"),
            nonmembers: include_str!("fixtures/data/iris.test.csv"),
            rows: 30,
            population: None,
        },
        Case {
            golden: include_str!("fixtures/golden/quick_breast_cancer_mlp.json"),
            model: include_bytes!("fixtures/sk_mlp_binary.onnx"),
            members: include_str!("fixtures/data/breast_cancer10.train.csv"),
            nonmembers: include_str!("fixtures/data/breast_cancer10.test.csv"),
            rows: 30,
            population: None,
        },
        Case {
            golden: include_str!("fixtures/golden/references_wine_pipeline.json"),
            model: include_bytes!("fixtures/sk_pipeline_wine.onnx"),
            members: include_str!("fixtures/data/wine.train.csv"),
            nonmembers: include_str!("fixtures/data/wine.test.csv"),
            rows: 50,
            population: Some(25),
        },
    ];
    // the CLI-style reports name their model file; the page's do not
    let full = golden::Compare {
        skip: &["tool.version", "scan", "guidance", "model.file"],
        ..golden::WASM
    };
    let mut failures = Vec::new();
    // the largest difference: full reports, manifest, classical, demo models
    let mut worst = vec![(0.0f64, String::new()); 4];
    for c in &cases {
        let split = c.population.unwrap_or(c.rows);
        let want: serde_json::Value = serde_json::from_str(c.golden).expect("golden");
        let name = want["inputs"]["members"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let population = golden::csv_rows(c.nonmembers, c.population.unwrap_or(0), c.rows);
        let model = ModelHandle::new(c.model).unwrap_or_else(|e| panic!("{}", error_text(&e)));
        let run = || {
            let mut members = parse_csv(golden::csv_rows(c.members, 0, c.rows).as_bytes(), None)
                .expect("members");
            let mut nonmembers =
                parse_csv(golden::csv_rows(c.nonmembers, 0, split).as_bytes(), None)
                    .expect("non-members");
            let population = c
                .population
                .map(|_| parse_csv(population.as_bytes(), None).expect("population"));
            let noop = js_sys::Function::new_no_args("return true");
            let out = privacy_inspector::wasm::run_audit(
                &model,
                &mut members,
                &mut nonmembers,
                population,
                // the settings the native build recorded, as they are
                js_sys::JSON::parse(&want["settings"].to_string()).expect("json"),
                js_sys::JSON::parse(&want["inputs"].to_string()).expect("json"),
                &noop,
                None,
                JsValue::UNDEFINED,
            )
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
            Reflect::get(&out, &"reportJson".into())
                .expect("json")
                .as_string()
                .expect("string")
        };
        let (a, b) = (run(), run());
        assert!(a == b, "{name}: two wasm runs with the same seed differ");
        let got: serde_json::Value = serde_json::from_str(&a).expect("report");
        compare(&name, &want, &got, &full, &mut failures, &mut worst[0]);
    }
    let fixtures = golden_fixtures();
    let (mut reports, mut refused) = (0, 0);
    for g in &fixtures {
        let want: serde_json::Value = serde_json::from_str(g.golden).expect("golden");
        let inputs = &want["inputs"];
        let group = if g.name.starts_with("classical/") {
            2
        } else if g.name.starts_with("demo/") {
            3
        } else {
            1
        };
        let csv = |k: &str| {
            golden::set_csv(&inputs[k], &fixture_text)
                .unwrap_or_else(|e| panic!("{}: {k}: {e}", g.name))
        };
        let (m, n, p) = (csv("members"), csv("nonmembers"), csv("population"));
        let run = || {
            audit_in_wasm(
                g.model,
                [m.as_bytes(), n.as_bytes(), p.as_bytes()],
                &want["settings"],
                inputs,
            )
        };
        let outcome = run();
        if outcome != run() {
            failures.push(format!(
                "{}: two wasm runs with the same seed differ",
                g.name
            ));
        }
        match (golden::refusal(&want), outcome) {
            (Some((code, _)), Err((got, text))) => {
                refused += 1;
                if got != code {
                    failures.push(format!(
                        "{}: native refuses with {code}, wasm with {text}",
                        g.name
                    ));
                }
            }
            (Some((code, message)), Ok(_)) => failures.push(format!(
                "{}: native refuses ([{code}] {message}), wasm gives a report",
                g.name
            )),
            (None, Err((_, text))) => failures.push(format!(
                "{}: native gives a report, wasm refuses: {text}",
                g.name
            )),
            (None, Ok(json)) => {
                reports += 1;
                let got: serde_json::Value = serde_json::from_str(&json).expect("report");
                let got = golden::golden_view(&got);
                compare(
                    g.name,
                    &want,
                    &got,
                    &golden::WASM,
                    &mut failures,
                    &mut worst[group],
                );
            }
        }
    }
    web_sys::console::log_1(
        &format!(
            "golden agreement: 3 full reports + {} fixtures ({reports} reports, {refused} refusals); largest |wasm - native| number difference (full reports, manifest, classical, demo models): {worst:?}",
            fixtures.len(),
        )
        .into(),
    );
    assert!(
        failures.is_empty(),
        "{} golden report(s) differ in wasm:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert_eq!(reports + refused, fixtures.len());
}

/// The page's resource limits (`setLimits`, the JSON of the CLI's
/// `--limits` file; issue 7): with `max_csv_rows` 2 a 3-row CSV is refused
/// with `csv_too_many_rows` naming the limit (whole and streamed) and a
/// 2-row CSV parses; malformed JSON, a non-object, an unknown field and a
/// value that does not fit are refused with `bad_limits` naming the problem
/// and change nothing; the audit takes `max_reference_params` from the
/// limits unless its settings set it, and the report records non-default
/// limits; `"{}"` restores the defaults (checked before any assertion, so a
/// failure here leaves the other tests the defaults).
#[wasm_bindgen_test]
fn set_limits_bounds_the_later_calls_and_restores_the_defaults() {
    use privacy_inspector::limits::Limits;
    use privacy_inspector::wasm::{
        current_limits_json, limits_defaults, run_audit, set_limits, CsvParser,
    };
    let three: &[u8] = b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n";
    let two: &[u8] = b"a,b,label\n1,2,0\n3,4,1\n";
    let limits_of = |text: &str| serde_json::from_str::<Limits>(text).expect("limits JSON");
    let model = load(&fixture!("sk_logreg_multi"));
    let noop = js_sys::Function::new_no_args("return true");
    // an audit on iris (100 + 50 rows) with `settings`: the report, or the error
    let audit = |settings: &str| -> Result<serde_json::Value, (String, String)> {
        let fail = |e: JsValue| (error_code(&e), error_text(&e));
        let mut m =
            parse_csv(include_bytes!("fixtures/data/iris.train.csv"), None).map_err(fail)?;
        let mut n = parse_csv(include_bytes!("fixtures/data/iris.test.csv"), None).map_err(fail)?;
        let out = run_audit(
            &model,
            &mut m,
            &mut n,
            None,
            js_sys::JSON::parse(settings).expect("settings"),
            JsValue::NULL,
            &noop,
            None,
            JsValue::UNDEFINED,
        )
        .map_err(fail)?;
        let json = Reflect::get(&out, &"reportJson".into())
            .expect("reportJson")
            .as_string()
            .expect("string");
        Ok(serde_json::from_str(&json).expect("report JSON"))
    };

    let mut failures: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    let defaults = limits_defaults().expect("limitsDefaults");
    check(
        limits_of(&defaults) == Limits::default(),
        format!("limitsDefaults is not Limits::default(): {defaults}"),
    );
    check(
        current_limits_json().ok() == Some(defaults.clone()),
        "the instance does not start with the defaults".into(),
    );

    // max_csv_rows 2: the other fields keep their defaults
    let applied = set_limits(r#"{"max_csv_rows": 2}"#).map_err(|e| error_text(&e));
    let want = Limits {
        max_csv_rows: 2,
        ..Limits::default()
    };
    check(
        applied.as_deref().map(limits_of) == Ok(want),
        format!("setLimits returned {applied:?}"),
    );
    check(
        current_limits_json().ok() == applied.clone().ok(),
        "currentLimits differs from what setLimits returned".into(),
    );
    match parse_csv(three, None) {
        Ok(d) => check(false, format!("a 3-row CSV parsed ({} rows)", d.rows())),
        Err(e) => check(
            error_code(&e) == "csv_too_many_rows" && error_text(&e).contains("max_csv_rows = 2"),
            format!("3-row CSV: {}", error_text(&e)),
        ),
    }
    match parse_csv(two, None) {
        Ok(d) => check(d.rows() == 2, format!("2-row CSV: {} rows", d.rows())),
        Err(e) => check(false, format!("2-row CSV refused: {}", error_text(&e))),
    }
    // streamed, as the page reads files: the parser made under the limits keeps them
    let mut parser = CsvParser::new(None, three.len() as f64);
    let streamed = parser
        .push(&three[..9])
        .and_then(|()| parser.push(&three[9..]))
        .and_then(|()| parser.finish().map(|d| d.rows()));
    check(
        matches!(&streamed, Err(e) if error_code(e) == "csv_too_many_rows"),
        format!(
            "streamed 3-row CSV: {:?}",
            streamed.as_ref().map_err(error_text)
        ),
    );

    // refusals: bad_limits, naming the problem, and the limits stay
    for (text, names) in [
        (r#"{"max_csv_rows": 2,"#, "line 1"),
        ("[1, 2]", "an array"),
        (r#"{"max_csv_row": 5}"#, "'max_csv_row'"),
        (r#"{"max_csv_rows": -1}"#, "max_csv_rows"),
        (r#"{"max_nodes": 1.5}"#, "max_nodes"),
        // a usize limit is 32 bits in wasm
        (r#"{"max_model_bytes": 4294967296}"#, "max_model_bytes"),
    ] {
        match set_limits(text) {
            Ok(t) => check(false, format!("{text} was accepted: {t}")),
            Err(e) => check(
                error_code(&e) == "bad_limits" && error_text(&e).contains(names),
                format!("{text}: {} does not name {names}", error_text(&e)),
            ),
        }
    }
    check(
        current_limits_json().ok() == applied.clone().ok(),
        "a refused text changed the limits".into(),
    );
    // the 128-bit limits take more
    let wide = set_limits(r#"{"max_param_bytes": 8589934592, "max_model_bytes": 4294967295}"#)
        .map(|t| limits_of(&t));
    check(
        matches!(wide, Ok(l) if l.max_param_bytes == 1 << 33 && l.max_model_bytes == 4_294_967_295),
        "max_param_bytes 2^33 with max_model_bytes 2^32 - 1 was refused".into(),
    );

    // the audit: max_reference_params from the limits (4 references x 15
    // trainable parameters = 60 > 59), unless the settings set it; the
    // report records the limits
    let tight = set_limits(r#"{"max_csv_rows": 1000, "max_reference_params": 59}"#);
    check(tight.is_ok(), "setLimits for the audit failed".into());
    match audit(r#"{"attacks": ["lira_online"], "references": 4}"#) {
        Ok(_) => check(false, "LiRA over max_reference_params ran".into()),
        Err((code, text)) => check(
            code == "references_too_large" && text.contains("max_reference_params = 59"),
            format!("LiRA over the limit: {text}"),
        ),
    }
    match audit(r#"{"attacks": ["loss"]}"#) {
        Ok(r) => {
            check(
                r["settings"]["max_reference_params"] == 59,
                format!("settings: {}", r["settings"]["max_reference_params"]),
            );
            check(
                r["limits"]["max_csv_rows"] == 1000 && r["limits"]["max_nodes"] == 200_000,
                format!("report limits: {}", r["limits"]),
            );
        }
        Err((_, text)) => check(false, format!("loss audit under limits: {text}")),
    }
    match audit(r#"{"attacks": ["loss"], "max_reference_params": 7}"#) {
        Ok(r) => check(
            r["settings"]["max_reference_params"] == 7,
            format!("own setting: {}", r["settings"]["max_reference_params"]),
        ),
        Err((_, text)) => check(false, format!("loss audit with its own limit: {text}")),
    }

    // "{}" restores every default
    let restored = set_limits("{}").map_err(|e| error_text(&e));
    check(
        restored.as_deref() == Ok(defaults.as_str()),
        format!("setLimits({{}}) returned {restored:?}"),
    );
    if restored.is_err() {
        // make sure the other tests get the defaults
        let _ = set_limits(&defaults);
    }
    match parse_csv(three, None) {
        Ok(d) => check(d.rows() == 3, format!("3-row CSV: {} rows", d.rows())),
        Err(e) => check(
            false,
            format!("3-row CSV refused after restore: {}", error_text(&e)),
        ),
    }
    match audit(r#"{"attacks": ["loss"]}"#) {
        Ok(r) => check(
            r.get("limits").is_none()
                && r["settings"]["max_reference_params"]
                    == privacy_inspector::limits::DEFAULT_MAX_REFERENCE_PARAMS,
            format!("default report: limits {:?}", r.get("limits")),
        ),
        Err((_, text)) => check(false, format!("loss audit with the defaults: {text}")),
    }
    assert!(
        failures.is_empty(),
        "{} limit check(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
