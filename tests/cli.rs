//! End-to-end tests of the `privacy-inspector` binary: `inspect` (text and
//! JSON), `predict` against hand-computed and onnxruntime probabilities, and
//! one clear error per bad input, never a panic.
//!
//! Small models are encoded here by hand (a minimal protobuf writer), so
//! every case states exactly what the file holds; the fixture models of
//! tests/fixtures/manifest.json are checked against onnxruntime.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ---------------------------------------------------------------- protobuf

/// A protobuf message under construction (the few wire types ONNX needs).
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl Pb {
    fn new() -> Self {
        Pb::default()
    }
    fn int(mut self, field: u64, v: i64) -> Self {
        put_varint(&mut self.0, field << 3);
        put_varint(&mut self.0, v as u64);
        self
    }
    fn bytes(mut self, field: u64, data: &[u8]) -> Self {
        put_varint(&mut self.0, (field << 3) | 2);
        put_varint(&mut self.0, data.len() as u64);
        self.0.extend_from_slice(data);
        self
    }
    fn str(self, field: u64, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(self, field: u64, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }
}

const FLOAT: i64 = 1;

/// TensorProto with raw little-endian f32 data.
fn tensor(name: &str, dims: &[i64], data: &[f32]) -> Pb {
    let mut t = Pb::new();
    for &d in dims {
        t = t.int(1, d);
    }
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.int(2, FLOAT).str(8, name).bytes(9, &raw)
}

/// ValueInfoProto of a float tensor; dims are numbers or symbolic names.
fn value_info(name: &str, dims: &[&str]) -> Pb {
    let mut shape = Pb::new();
    for d in dims {
        let dim = match d.parse::<i64>() {
            Ok(v) => Pb::new().int(1, v),
            Err(_) => Pb::new().str(2, d),
        };
        shape = shape.msg(1, dim);
    }
    let tensor_type = Pb::new().int(1, FLOAT).msg(2, shape);
    Pb::new().str(1, name).msg(2, Pb::new().msg(1, tensor_type))
}

fn node(op: &str, inputs: &[&str], output: &str, name: &str) -> Pb {
    let mut n = Pb::new();
    for i in inputs {
        n = n.str(1, i);
    }
    n.str(2, output).str(3, name).str(4, op)
}

fn model(graph: Pb) -> Vec<u8> {
    Pb::new()
        .int(1, 7) // ir_version
        .str(2, "cli-test")
        .msg(8, Pb::new().str(1, "").int(2, 13)) // opset_import ai.onnx 13
        .msg(7, graph)
        .0
}

/// Weights of the hand-made linear model: 2 features, 3 classes.
const W: [f32; 6] = [0.5, -1.0, 0.25, 1.5, 0.75, -0.5];
const B: [f32; 3] = [0.1, -0.2, 0.3];

/// x [N,2] -> MatMul W [2,3] -> Add B -> (Softmax) -> output.
fn linear_model(softmax: bool, w: &[f32]) -> Vec<u8> {
    let mut g = Pb::new()
        .msg(1, node("MatMul", &["x", "W"], "h", "matmul"))
        .msg(1, node("Add", &["h", "B"], "z", "add"));
    let out = if softmax {
        g = g.msg(1, node("Softmax", &["z"], "prob", "softmax"));
        "prob"
    } else {
        "z"
    };
    g = g
        .str(2, "linear")
        .msg(5, tensor("W", &[2, 3], w))
        .msg(5, tensor("B", &[3], &B))
        .msg(11, value_info("x", &["N", "2"]))
        .msg(12, value_info(out, &["N", "3"]));
    model(g)
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Probabilities of the linear model on one record, computed here.
fn linear_probs(x: [f64; 2]) -> Vec<f64> {
    let z: Vec<f64> = (0..3)
        .map(|j| x[0] * W[j] as f64 + x[1] * W[3 + j] as f64 + B[j] as f64)
        .collect();
    softmax(&z)
}

// ---------------------------------------------------------------- harness

fn tmp_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&d).expect("create tmp dir");
    d
}

/// Write `bytes` to a fresh temp file named `name` and return its path.
fn tmp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp_dir().join(name);
    std::fs::write(&p, bytes).expect("write temp file");
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privacy-inspector"))
        .args(args)
        .output()
        .expect("run privacy-inspector")
}

fn run_p(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privacy-inspector"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run privacy-inspector")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command succeeded; returns stdout.
#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status.code(),
        stderr(o)
    );
    stdout(o)
}

/// The command failed with `code`, one `error:` message containing every
/// needle, and no panic.
#[track_caller]
fn fails(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(!err.contains("RUST_BACKTRACE"), "panic: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert!(stdout(o).is_empty(), "stdout on error: {}", stdout(o));
}

/// Parse CSV text of numbers with a header; returns (header, rows).
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|c| {
                    c.trim()
                        .parse::<f64>()
                        .unwrap_or_else(|_| panic!("not a number: {c:?}"))
                })
                .collect()
        })
        .collect();
    (header, rows)
}

#[track_caller]
fn assert_close(got: &[Vec<f64>], want: &[Vec<f64>], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what}: columns in row {}", i + 1);
        for (j, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{what}: row {} class {j}: got {a}, want {b}",
                i + 1
            );
        }
    }
}

const RECORDS: &str = "a,b,label\n1,2,0\n-0.5,0.25,2\n0,0,1\n3.5,-2,1\n";
const RECORD_X: [[f64; 2]; 4] = [[1.0, 2.0], [-0.5, 0.25], [0.0, 0.0], [3.5, -2.0]];

// ---------------------------------------------------------------- basics

#[test]
fn help_and_version() {
    let o = run(&["--version"]);
    assert_eq!(
        ok(&o).trim(),
        format!("privacy-inspector {}", env!("CARGO_PKG_VERSION"))
    );
    let help = ok(&run(&["--help"]));
    for s in ["inspect", "predict", "Examples:", "--json"] {
        assert!(help.contains(s), "{s} missing from help: {help}");
    }
    let help = ok(&run(&["predict", "--help"]));
    for s in [
        "--data",
        "--out",
        "--label-column",
        "--batch-size",
        "--output-kind",
    ] {
        assert!(help.contains(s), "{s} missing from predict help: {help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("error:"));
    let o = run(&["predict", "m.onnx"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--data"), "{}", stderr(&o));
    let o = run(&["predict", "m.onnx", "--data", "x.csv", "--batch-size", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["inspect", "m.onnx", "--output-kind", "odds"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn missing_files() {
    let missing = tmp_dir().join("does-not-exist.onnx");
    let o = run_p(&[&"inspect", &missing]);
    fails(
        &o,
        2,
        &[&format!(
            "error: cannot read {}: No such file or directory",
            missing.display()
        )],
    );
    let m = tmp_file("missing-csv-model.onnx", &linear_model(true, &W));
    let csv = tmp_dir().join("nope.csv");
    let o = run_p(&[&"predict", &m, &"--data", &csv]);
    fails(
        &o,
        2,
        &[&format!(
            "cannot read {}: No such file or directory",
            csv.display()
        )],
    );
    let o = run_p(&[&"inspect", &tmp_dir()]);
    fails(&o, 2, &["cannot read", "directory"]);
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_text() {
    let m = tmp_file("inspect-text.onnx", &linear_model(true, &W));
    let text = ok(&run_p(&[&"inspect", &m]));
    for s in [
        "Input       x [N, 2]: 2 values per record",
        "Output      prob: probabilities (detected)",
        "Classes     3",
        "Parameters  9 (",
        "MatMul",
        "Softmax",
        "SHA-256",
    ] {
        assert!(text.contains(s), "{s:?} missing from:\n{text}");
    }
}

#[test]
fn inspect_json() {
    let bytes = linear_model(true, &W);
    let m = tmp_file("inspect-json.onnx", &bytes);
    let v: Value = serde_json::from_str(&ok(&run_p(&[&"inspect", &m, &"--json"]))).expect("JSON");
    assert_eq!(v["input"]["name"], "x");
    assert_eq!(v["input"]["shape"], serde_json::json!(["N", "2"]));
    assert_eq!(v["input"]["features"], 2);
    assert_eq!(v["output"]["name"], "prob");
    assert_eq!(v["output"]["kind"], "probabilities");
    assert_eq!(v["output"]["kindSource"], "detected");
    assert_eq!(v["output"]["numClasses"], 3);
    assert_eq!(v["paramCount"], 9);
    assert_eq!(v["fileSize"], bytes.len());
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["toolVersion"], env!("CARGO_PKG_VERSION"));
    // override
    let v: Value = serde_json::from_str(&ok(&run_p(&[
        &"inspect",
        &m,
        &"--json",
        &"--output-kind",
        &"logits",
    ])))
    .expect("JSON");
    assert_eq!(v["output"]["kind"], "logits");
    assert_eq!(v["output"]["kindSource"], "override");
}

#[test]
fn inspect_logits_model_and_unknown_output() {
    let m = tmp_file("inspect-logits.onnx", &linear_model(false, &W));
    let v: Value = serde_json::from_str(&ok(&run_p(&[&"inspect", &m, &"--json"]))).expect("JSON");
    assert_eq!(v["output"]["kind"], "logits");
    assert_eq!(v["output"]["numClasses"], 3);
    let o = run_p(&[&"inspect", &m, &"--output", &"nothing_here"]);
    fails(&o, 2, &["cannot load model", "nothing_here"]);
}

// ---------------------------------------------------------------- predict

fn expected_linear() -> Vec<Vec<f64>> {
    RECORD_X.iter().map(|&x| linear_probs(x)).collect()
}

#[test]
fn predict_probabilities_to_stdout() {
    let m = tmp_file("predict-stdout.onnx", &linear_model(true, &W));
    let csv = tmp_file("predict-stdout.csv", RECORDS.as_bytes());
    let text = ok(&run_p(&[&"predict", &m, &"--data", &csv]));
    let (header, rows) = parse_csv(&text);
    assert_eq!(header, vec!["class_0", "class_1", "class_2"]);
    assert_close(&rows, &expected_linear(), 1e-6, "linear softmax");
}

#[test]
fn predict_logits_applies_softmax_and_batches() {
    let m = tmp_file("predict-logits.onnx", &linear_model(false, &W));
    let csv = tmp_file("predict-logits.csv", RECORDS.as_bytes());
    let out = tmp_dir().join("predict-logits-out.csv");
    let _ = std::fs::remove_file(&out);
    // batch size 3 over 4 records: two batches, one header
    let o = run_p(&[
        &"predict",
        &m,
        &"--data",
        &csv,
        &"--out",
        &out,
        &"--batch-size",
        &"3",
    ]);
    assert!(ok(&o).is_empty(), "nothing on stdout with --out");
    let text = std::fs::read_to_string(&out).expect("output file");
    let (header, rows) = parse_csv(&text);
    assert_eq!(header.len(), 3);
    assert_close(&rows, &expected_linear(), 1e-6, "softmax of logits");
    // taking the logits as probabilities is refused, naming the record
    let o = run_p(&[
        &"predict",
        &m,
        &"--data",
        &csv,
        &"--output-kind",
        &"probabilities",
    ]);
    fails(&o, 2, &["record 1", "--output-kind logits"]);
}

#[test]
fn predict_label_column_and_stdin() {
    let m = tmp_file("predict-label.onnx", &linear_model(true, &W));
    let csv = tmp_file("predict-label.csv", b"y,a,b\n0,1,2\n1,-0.5,0.25\n");
    // 'y' would be a third feature without --label-column
    let o = run_p(&[&"predict", &m, &"--data", &csv]);
    fails(
        &o,
        2,
        &[
            "the CSV has 3 feature columns, the model expects 2",
            "--label-column",
        ],
    );
    let text = ok(&run_p(&[
        &"predict",
        &m,
        &"--data",
        &csv,
        &"--label-column",
        &"y",
    ]));
    let (_, rows) = parse_csv(&text);
    assert_close(&rows, &expected_linear()[..2], 1e-6, "label column skipped");
    let o = run_p(&[
        &"predict",
        &m,
        &"--data",
        &csv,
        &"--label-column",
        &"target",
    ]);
    fails(&o, 2, &["label column 'target' is not in the CSV header"]);
    // stdin
    let mut child = Command::new(env!("CARGO_BIN_EXE_privacy-inspector"))
        .arg("predict")
        .arg(&m)
        .args(["--data", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(RECORDS.as_bytes()).expect("write stdin");
    }
    let o = child.wait_with_output().expect("wait");
    let (_, rows) = parse_csv(&ok(&o));
    assert_close(&rows, &expected_linear(), 1e-6, "stdin");
}

#[test]
fn predict_bad_csv_inputs() {
    let m = tmp_file("predict-bad-csv.onnx", &linear_model(true, &W));
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "too-few.csv",
            "a\n1\n2\n",
            &["the CSV has 1 feature columns, the model expects 2"],
        ),
        (
            "non-numeric.csv",
            "a,b\n1,2\n3,abc\n",
            &["CSV row 2, column 'b': 'abc' is not a number"],
        ),
        (
            "nan.csv",
            "a,b\n1,2\nnan,1\n",
            &["CSV row 2, column 'a'", "NaN or infinite"],
        ),
        (
            "inf.csv",
            "a,b\n1,inf\n",
            &["CSV row 1, column 'b'", "NaN or infinite"],
        ),
        (
            "ragged.csv",
            "a,b\n1,2\n3\n",
            &["CSV row 2 has 1 values, the header has 2"],
        ),
        (
            "header-only.csv",
            "a,b\n",
            &["the CSV has a header but no data rows"],
        ),
        ("empty.csv", "", &["the CSV file is empty"]),
        (
            "bad-label.csv",
            "a,b,label\n1,2,cat\n",
            &["CSV row 1: label 'cat'"],
        ),
    ];
    for (name, text, needles) in cases {
        let csv = tmp_file(name, text.as_bytes());
        let o = run_p(&[&"predict", &m, &"--data", &csv]);
        let mut all = vec!["bad data in"];
        all.extend_from_slice(needles);
        fails(&o, 2, &all);
    }
}

#[test]
fn predict_failure_leaves_no_partial_output() {
    let m = tmp_file("predict-partial.onnx", &linear_model(true, &W));
    let csv = tmp_file("predict-partial.csv", b"a,b\n1,2\n3,4\n5,x\n");
    let out = tmp_dir().join("predict-partial-out.csv");
    let _ = std::fs::remove_file(&out);
    let o = run_p(&[
        &"predict",
        &m,
        &"--data",
        &csv,
        &"--out",
        &out,
        &"--batch-size",
        &"1",
    ]);
    fails(&o, 2, &["CSV row 3, column 'b'"]);
    assert!(!out.exists(), "partial output left behind");
}

// ---------------------------------------------------------------- bad models

#[test]
fn bad_model_files_each_have_their_own_error() {
    let good = linear_model(true, &W);
    let mut nan_w = W;
    nan_w[4] = f32::NAN;
    // a pseudo-random byte soup (xorshift, fixed seed)
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect();
    let png: Vec<u8> = [
        &b"\x89PNG\r\n\x1a\n"[..],
        b"\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6",
        b"\x00\x00\x00\x00IEND\xaeB`\x82",
    ]
    .concat();
    let huge = model(
        Pb::new()
            .msg(1, node("MatMul", &["x", "W"], "z", "matmul"))
            .msg(
                5,
                Pb::new()
                    .int(1, 2)
                    .int(1, 3_000_000_000)
                    .int(1, 1000)
                    .int(2, FLOAT)
                    .str(8, "W"),
            )
            .msg(11, value_info("x", &["N", "2"]))
            .msg(12, value_info("z", &["N", "3"])),
    );
    let external = model(
        Pb::new()
            .msg(1, node("MatMul", &["x", "W"], "z", "matmul"))
            .msg(
                5,
                Pb::new()
                    .int(1, 2)
                    .int(1, 3)
                    .int(2, FLOAT)
                    .str(8, "W")
                    .msg(13, Pb::new().str(1, "location").str(2, "weights.bin"))
                    .int(14, 1),
            )
            .msg(11, value_info("x", &["N", "2"]))
            .msg(12, value_info("z", &["N", "3"])),
    );
    let unsupported = model(
        Pb::new()
            .msg(1, node("MatMul", &["x", "W"], "h", "matmul"))
            .msg(1, node("Einsum", &["h"], "e", "my_einsum"))
            .msg(1, node("Softmax", &["e"], "prob", "softmax"))
            .msg(1, node("Hardmax", &["prob"], "hard", "my_hardmax"))
            .msg(5, tensor("W", &[2, 3], &W))
            .msg(11, value_info("x", &["N", "2"]))
            .msg(12, value_info("hard", &["N", "3"])),
    );
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "truncated.onnx",
            good[..good.len() * 2 / 3].to_vec(),
            vec!["not an ONNX model"],
        ),
        ("random.onnx", random, vec!["not an ONNX model"]),
        ("image.onnx", png, vec!["not an ONNX model"]),
        ("zero.onnx", Vec::new(), vec!["the file is empty"]),
        (
            "not-a-model.onnx",
            Pb::new().int(1, 7).str(2, "just a header").0,
            vec!["not an ONNX model", "no graph"],
        ),
        ("huge.onnx", huge, vec!["'W'", "over the limit"]),
        (
            "nan-weights.onnx",
            linear_model(true, &nan_w),
            vec!["weight 'W'", "NaN or infinite"],
        ),
        (
            "external.onnx",
            external,
            vec!["'W'", "external data", "weights.bin"],
        ),
        (
            "unsupported.onnx",
            unsupported,
            vec![
                "unsupported operator",
                "Einsum",
                "my_einsum",
                "Hardmax",
                "my_hardmax",
            ],
        ),
    ];
    let mut messages = Vec::new();
    for (name, bytes, needles) in &cases {
        let p = tmp_file(name, bytes);
        let o = run_p(&[&"inspect", &p]);
        let mut all = vec!["cannot load model"];
        all.extend_from_slice(needles);
        fails(&o, 2, &all);
        // predict reports the same problem before touching the data
        let csv = tmp_file("bad-model-data.csv", RECORDS.as_bytes());
        let o2 = run_p(&[&"predict", &p, &"--data", &csv]);
        fails(&o2, 2, &all);
        messages.push(stderr(&o).replace(&p.display().to_string(), "FILE"));
    }
    // the nine inputs give at least seven distinct messages (truncation,
    // random bytes and an image may all be undecodable protobuf)
    messages.sort();
    messages.dedup();
    assert!(messages.len() >= 7, "{messages:#?}");
}

// ---------------------------------------------------------------- fixtures

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The `section` list of tests/fixtures/manifest.json ("models",
/// "bad_inputs", ...).
fn manifest(section: &str) -> Vec<Value> {
    let path = fixtures_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (fixtures not generated?)", path.display()));
    let mut v: Value = serde_json::from_str(&text).expect("manifest is JSON");
    match v.get_mut(section).map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => panic!("manifest has no '{section}' list"),
    }
}

/// onnxruntime's raw output turned into probabilities by the CLI's rule.
fn expected_probabilities(raw: &[Vec<f64>], kind: &str) -> Vec<Vec<f64>> {
    raw.iter()
        .map(|row| match (row.len(), kind) {
            (1, "logits") => {
                let p = 1.0 / (1.0 + (-row[0]).exp());
                vec![1.0 - p, p]
            }
            (1, _) => vec![1.0 - row[0], row[0]],
            (_, "logits") => softmax(row),
            _ => row.clone(),
        })
        .collect()
}

#[test]
fn fixtures_inspect_and_predict_match_onnxruntime() {
    let fixtures = manifest("models");
    assert!(
        fixtures.len() >= 10,
        "only {} fixture models",
        fixtures.len()
    );
    // every fixture is checked; the failures are listed together at the end
    let mut failed = Vec::new();
    for f in &fixtures {
        let name = f["name"].as_str().expect("name");
        let r = std::panic::catch_unwind(|| check_fixture(f, name));
        if r.is_err() {
            failed.push(name.to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} fixtures failed: {failed:?}",
        failed.len(),
        fixtures.len()
    );
}

fn check_fixture(f: &Value, name: &str) {
    let model = fixtures_dir().join(f["file"].as_str().expect("file"));
    let kind = f["output_kind"].as_str().expect("output_kind");
    let v: Value = serde_json::from_str(&ok(&run_p(&[&"inspect", &model, &"--json"])))
        .unwrap_or_else(|e| panic!("{name}: inspect --json: {e}"));
    assert_eq!(v["output"]["kind"], kind, "{name}: output kind");
    if let Some(k) = f.get("num_classes").and_then(Value::as_u64) {
        // a single binary score is reported as two classes
        assert_eq!(v["output"]["numClasses"], k.max(2), "{name}: classes");
    }
    let batch_dim = v["input"]["shape"][0].as_str().unwrap_or("?").to_string();
    match f.get("fixed_batch").and_then(Value::as_u64) {
        Some(b) => assert_eq!(batch_dim, b.to_string(), "{name}: fixed batch"),
        None => assert!(
            batch_dim.parse::<usize>().is_err(),
            "{name}: the batch dimension should be symbolic: {batch_dim}"
        ),
    }
    if let Some(shape) = f.get("input_shape").and_then(Value::as_array) {
        let rest: Vec<String> = shape[1..]
            .iter()
            .map(|d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let got: Vec<String> = v["input"]["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .skip(1)
            .map(|d| d.as_str().unwrap_or("?").to_string())
            .collect();
        assert_eq!(got, rest, "{name}: input shape");
    }
    let text = ok(&run_p(&[&"inspect", &model]));
    assert!(
        text.contains(&format!("{kind} (detected)")),
        "{name}: {text}"
    );

    let csv = fixtures_dir().join(f["input_csv"].as_str().expect("input_csv"));
    let raw_text = std::fs::read_to_string(
        fixtures_dir().join(f["expected_csv"].as_str().expect("expected_csv")),
    )
    .expect("expected csv");
    let (_, raw) = parse_csv(&raw_text);
    let want = expected_probabilities(&raw, kind);
    let (header, got) = parse_csv(&ok(&run_p(&[
        &"predict",
        &model,
        &"--data",
        &csv,
        &"--batch-size",
        &"7",
    ])));
    let k = want.first().map_or(0, Vec::len);
    let names: Vec<String> = (0..k).map(|i| format!("class_{i}")).collect();
    assert_eq!(header, names, "{name}: header");
    assert_close(&got, &want, 1e-4, name);
}

/// The model the bad CSV fixtures are written for (64 features).
const BAD_CSV_MODEL: &str = "sk_mlp_relu_nozipmap.onnx";

#[test]
fn fixture_bad_inputs_fail_with_the_library_error() {
    use privacy_inspector::data::{read_csv, CsvOptions};
    let bad = manifest("bad_inputs");
    assert!(bad.len() >= 10, "only {} bad inputs", bad.len());
    let digits = fixtures_dir().join(BAD_CSV_MODEL);
    let digits_model =
        privacy_inspector::onnx::load(&std::fs::read(&digits).expect("digits model"))
            .expect("load");
    let mut messages = Vec::new();
    for b in &bad {
        let file = b["file"].as_str().expect("file");
        let code = b["expected_code"].as_str().expect("expected_code");
        let path = fixtures_dir().join(file);
        let bytes = std::fs::read(&path).expect("bad input file");
        // what the library says about this input
        let (o, lib_message, lib_code) = if b["kind"] == "csv" {
            let e = read_csv(&bytes, &CsvOptions::default())
                .and_then(|ds| ds.to_batch(&digits_model.graph.input))
                .expect_err(file);
            let o = run_p(&[&"predict", &digits, &"--data", &path]);
            (o, e.to_string(), e.code())
        } else {
            let e = privacy_inspector::onnx::load(&bytes).expect_err(file);
            let o = run_p(&[&"inspect", &path]);
            (o, e.to_string(), e.code())
        };
        assert_eq!(lib_code, code, "{file}: library error code ({lib_message})");
        let context = if b["kind"] == "csv" {
            "bad data in"
        } else {
            "cannot load model"
        };
        fails(&o, 2, &[context, &lib_message]);
        messages.push(stderr(&o).replace(&path.display().to_string(), "FILE"));
    }
    let n = messages.len();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), n, "two bad inputs share a message");
}
