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
