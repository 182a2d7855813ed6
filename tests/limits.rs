//! Every resource limit of `privacy_inspector::limits`: an input just over
//! the limit gets the error with the limit's code and a message naming the
//! limit and the value; the same input with the limit at its exact size
//! works. The limits are set around real fixtures (their sizes are
//! measured here, not hard-coded), plus hand-built models for the
//! per-record input size.

use privacy_inspector::attacks::membership::audit::{run_audit, AuditSettings};
use privacy_inspector::attacks::membership::references::TrainRecipe;
use privacy_inspector::attacks::membership::{AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, read_csv_from, CsvOptions, CsvStream, DataError};
use privacy_inspector::engine::train::Optimizer;
use privacy_inspector::limits::{Limits, DEFAULT_MAX_TENSOR_ELEMENTS};
use privacy_inspector::onnx::proto::{
    tensor_proto::DataType, tensor_shape_proto, type_proto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use privacy_inspector::onnx::{load, load_with, ImportOptions, OnnxError};
use privacy_inspector::report::read_json_with;
use prost::Message;
use std::path::Path;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .expect(rel)
}

fn with(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

/// 1234567 -> "1,234,567" (as the messages write numbers).
fn grouped(v: u128) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[track_caller]
fn expect_limit(e: &dyn std::fmt::Display, code: &str, got_code: &str, name: &str, value: u128) {
    let msg = e.to_string();
    assert_eq!(got_code, code, "{msg}");
    assert!(msg.contains(name), "message names the limit {name}: {msg}");
    assert!(
        msg.contains(&grouped(value)),
        "message names the value {value}: {msg}"
    );
}

// ---------------------------------------------------------------------------
// Model limits.

const MODEL: &str = "torch_mlp_logits.onnx";

#[test]
fn model_file_size() {
    let bytes = fixture(MODEL);
    let n = bytes.len();
    let e = load_with(
        &bytes,
        &with(|l| l.max_model_bytes = n - 1).import_options(),
    )
    .unwrap_err();
    expect_limit(
        &e,
        "model_too_large",
        e.code(),
        "max_model_bytes",
        n as u128,
    );
    load_with(&bytes, &with(|l| l.max_model_bytes = n).import_options()).expect("at the limit");
}

#[test]
fn node_count() {
    let bytes = fixture(MODEL);
    let nodes = ModelProto::decode(bytes.as_slice())
        .expect("decode")
        .graph
        .expect("graph")
        .node
        .len();
    assert!(nodes >= 2);
    let e = load_with(&bytes, &with(|l| l.max_nodes = nodes - 1).import_options()).unwrap_err();
    expect_limit(&e, "too_many_nodes", e.code(), "max_nodes", nodes as u128);
    load_with(&bytes, &with(|l| l.max_nodes = nodes).import_options()).expect("at the limit");
}

/// Elements of the largest initializer, and of all of them.
fn initializer_elements(bytes: &[u8]) -> (u128, u128) {
    let g = ModelProto::decode(bytes)
        .expect("decode")
        .graph
        .expect("graph");
    let sizes: Vec<u128> = g
        .initializer
        .iter()
        .map(|t| t.dims.iter().map(|&d| d as u128).product())
        .collect();
    (sizes.iter().copied().max().unwrap_or(0), sizes.iter().sum())
}

#[test]
fn declared_tensor_elements() {
    let bytes = fixture(MODEL);
    let (largest, _) = initializer_elements(&bytes);
    assert_eq!(largest, 32 * 64, "the 64-32-10 MLP's first weight");
    let e = load_with(
        &bytes,
        &with(|l| l.max_tensor_elements = largest - 1).import_options(),
    )
    .unwrap_err();
    assert!(matches!(e, OnnxError::TooLarge { elements, .. } if elements == largest));
    assert_eq!(e.code(), "too_large");
    assert_eq!(
        e.to_string(),
        "tensor '0.weight' declares 2048 elements, over the limit of 2047"
    );
    load_with(
        &bytes,
        &with(|l| l.max_tensor_elements = largest).import_options(),
    )
    .expect("at the limit");
    // The older ImportOptions field still applies and takes precedence.
    let opts = ImportOptions {
        max_tensor_elements: Some(largest - 1),
        ..ImportOptions::default()
    };
    assert_eq!(load_with(&bytes, &opts).unwrap_err().code(), "too_large");
}

/// x[N, dims...] -> Softmax -> probs: no weights, so only the declared
/// per-record input size counts.
fn softmax_model(dims: &[i64]) -> Vec<u8> {
    let vi = |name: &str| ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: std::iter::once(tensor_shape_proto::dimension::Value::DimParam(
                        "N".into(),
                    ))
                    .chain(
                        dims.iter()
                            .map(|&d| tensor_shape_proto::dimension::Value::DimValue(d)),
                    )
                    .map(|v| tensor_shape_proto::Dimension {
                        value: Some(v),
                        ..Default::default()
                    })
                    .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            node: vec![NodeProto {
                op_type: Some("Softmax".into()),
                input: vec!["x".into()],
                output: vec!["probs".into()],
                ..Default::default()
            }],
            input: vec![vi("x")],
            output: vec![vi("probs")],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn declared_input_record_elements() {
    let bytes = softmax_model(&[300, 300]);
    let e = load_with(
        &bytes,
        &with(|l| l.max_tensor_elements = 89_999).import_options(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        OnnxError::TooLarge {
            name: "x".into(),
            elements: 90_000,
            limit: 89_999
        }
    );
    let m = load_with(
        &bytes,
        &with(|l| l.max_tensor_elements = 90_000).import_options(),
    )
    .expect("at the limit");
    assert_eq!(m.graph.input.record_len(), Some(90_000));
    // Dimensions each within the per-dimension bound but whose product is
    // 2^62: refused by default before anything allocates a record.
    let e = load(&softmax_model(&[1 << 31, 1 << 31])).unwrap_err();
    assert_eq!(
        e,
        OnnxError::TooLarge {
            name: "x".into(),
            elements: 1 << 62,
            limit: DEFAULT_MAX_TENSOR_ELEMENTS
        }
    );
}

#[test]
fn parameter_memory_declared_by_initializers() {
    let bytes = fixture(MODEL);
    let (_, total) = initializer_elements(&bytes);
    let need = 4 * total;
    let e = load_with(
        &bytes,
        &with(|l| l.max_param_bytes = need - 1).import_options(),
    )
    .unwrap_err();
    expect_limit(&e, "params_too_large", e.code(), "max_param_bytes", need);
    let m = load_with(&bytes, &with(|l| l.max_param_bytes = need).import_options())
        .expect("at the limit");
    let imported: usize = m.params.iter().map(|p| p.len()).sum();
    assert_eq!(4 * imported as u128, need);
}

#[test]
fn parameter_memory_of_lowered_attributes() {
    // skl2onnx LogisticRegression: no initializers, the coefficients are
    // LinearClassifier attributes (3 classes x 4 features + 3 intercepts)
    // that become parameters when lowered.
    let bytes = fixture("sk_logreg_multi.onnx");
    assert_eq!(initializer_elements(&bytes).1, 0);
    let need = 4 * (3 * 4 + 3);
    let e = load_with(
        &bytes,
        &with(|l| l.max_param_bytes = need - 1).import_options(),
    )
    .unwrap_err();
    expect_limit(&e, "params_too_large", e.code(), "max_param_bytes", need);
    load_with(&bytes, &with(|l| l.max_param_bytes = need).import_options()).expect("at the limit");
}

// ---------------------------------------------------------------------------
// CSV limits.

const CSV: &str = "data/iris.test.csv"; // 50 rows, 4 features + label

#[track_caller]
fn csv_err(bytes: &[u8], limits: Limits) -> DataError {
    read_csv(bytes, &limits.csv_options()).unwrap_err()
}

#[test]
fn csv_file_size() {
    let bytes = fixture(CSV);
    let n = bytes.len() as u64;
    let e = csv_err(&bytes, with(|l| l.max_csv_bytes = n - 1));
    expect_limit(
        &e,
        "csv_file_too_large",
        e.code(),
        "max_csv_bytes",
        n as u128,
    );
    let ds = read_csv(&bytes, &with(|l| l.max_csv_bytes = n).csv_options()).expect("at the limit");
    assert_eq!(ds.len(), 50);
    // Streamed in chunks, a large file fails once the count passes the
    // limit, without being read to the end.
    let big = fixture("data/digits.test.csv");
    let max = big.len() as u64 / 2;
    let opts = with(|l| l.max_csv_bytes = max).csv_options();
    let mut stream = CsvStream::new(big.as_slice(), &opts).expect("header");
    let e = loop {
        match stream.next_chunk(16) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("read to the end past the limit"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.code(), "csv_file_too_large", "{e}");
    assert!(stream.rows_read() < 597, "stopped early");
    let e = read_csv_from(big.as_slice(), &opts).unwrap_err();
    assert_eq!(e.code(), "csv_file_too_large");
}

#[test]
fn csv_rows() {
    let bytes = fixture(CSV);
    let e = csv_err(&bytes, with(|l| l.max_csv_rows = 49));
    expect_limit(&e, "csv_too_many_rows", e.code(), "max_csv_rows", 50);
    let ds = read_csv(&bytes, &with(|l| l.max_csv_rows = 50).csv_options()).expect("at the limit");
    assert_eq!(ds.len(), 50);
}

#[test]
fn csv_columns() {
    let bytes = fixture(CSV);
    let e = csv_err(&bytes, with(|l| l.max_csv_columns = 4));
    expect_limit(&e, "csv_too_many_columns", e.code(), "max_csv_columns", 5);
    let ds =
        read_csv(&bytes, &with(|l| l.max_csv_columns = 5).csv_options()).expect("at the limit");
    assert_eq!(ds.num_features(), 4);
}

#[test]
fn csv_cells() {
    let bytes = fixture(CSV);
    let e = csv_err(&bytes, with(|l| l.max_csv_cells = 249));
    assert_eq!(
        e,
        DataError::TooLarge {
            rows: 50,
            cols: 5,
            limit: 249
        }
    );
    assert_eq!(e.code(), "csv_too_large");
    read_csv(&bytes, &with(|l| l.max_csv_cells = 250).csv_options()).expect("at the limit");
}

// ---------------------------------------------------------------------------
// Reference models x model size.

fn iris(model: &privacy_inspector::onnx::Model, rel: &str) -> Records {
    let ds = read_csv(
        &fixture(rel),
        &CsvOptions {
            require_label: true,
            ..CsvOptions::default()
        },
    )
    .expect(rel);
    Records {
        x: ds.to_batch(&model.graph.input).expect("batch"),
        y: ds.labels.expect("labels"),
    }
}

#[test]
fn reference_models_times_parameters() {
    let model = load(&fixture("sk_logreg_multi.onnx")).expect("model");
    let params = model.graph.trainable_param_count(&model.params);
    assert_eq!(params, 15);
    let inputs = AuditInputs {
        members: iris(&model, "data/iris.train.csv"),
        nonmembers: iris(&model, "data/iris.test.csv"),
        population: None,
    };
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: 3,
    };
    let settings = |max: u64| AuditSettings {
        attacks: vec!["lira_online".into()],
        references: 4,
        max_reference_params: max,
        recipe: TrainRecipe {
            optimizer: Optimizer::adam(0.01),
            fixed_epochs: Some(1),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    let need = 4 * params as u64;
    let e = run_audit(&target, &inputs, settings(need - 1), &mut |_| true).unwrap_err();
    expect_limit(
        &e,
        "references_too_large",
        e.code(),
        "max_reference_params",
        need as u128,
    );
    let out = run_audit(&target, &inputs, settings(need), &mut |_| true).expect("at the limit");
    assert!(out.attacks[0].stats.is_some(), "LiRA ran");
    // Attacks without references are not bound by it.
    let quick = AuditSettings {
        attacks: vec!["loss".into()],
        ..settings(0)
    };
    run_audit(&target, &inputs, quick, &mut |_| true).expect("no references");
}

// ---------------------------------------------------------------------------
// Report size.

#[test]
fn report_file_size() {
    let bytes = fixture("golden/quick_iris_logreg.json");
    let n = bytes.len();
    let e = read_json_with(&bytes, n - 1).unwrap_err();
    expect_limit(
        &e,
        "report_too_large",
        e.code(),
        "max_report_bytes",
        n as u128,
    );
    read_json_with(&bytes, n).expect("at the limit");
}
