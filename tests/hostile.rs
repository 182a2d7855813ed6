//! Hostile inputs (issue 13): the corpus of tests/fixtures/hostile/manifest.json
//! run against the binary, and one test per class of input:
//! 1. numbers the user types (every flag with a declared range in
//!    `privacy_inspector::settings` is refused out of range, naming itself,
//!    before any file is read),
//! 2. files read (an endless FIFO and /dev/zero stop at the limit),
//! 3. files written (no partial output, inputs never overwritten, also
//!    through a hard link),
//! 7. models: at least as strict as onnxruntime (every model it refuses
//!    at load is refused at import, exit 2), run-time failures exit 2,
//! 8. untrusted text: no control character reaches stderr, names are cut,
//! 9. settings files (unknown keys and out-of-range values refused).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_privacy-inspector")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty folder for one case.
fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "pi-hostile-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn run(args: &[String]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every case of the manifest: its exit code, its stderr substring, never
/// a panic, inputs intact, no file left behind but the expected ones.
#[test]
fn hostile_corpus() {
    let dir = root().join("tests/fixtures/hostile");
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let manifest: Value = serde_json::from_str(&text).expect("manifest JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let demo = root().join("tests/fixtures/demo");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases {
        let name = case["name"].as_str().expect("name");
        if case["unix_only"].as_bool() == Some(true) && !Path::new("/dev/zero").exists() {
            continue;
        }
        let tmp = fresh_dir("case");
        let fill = |s: &str| {
            s.replace("{demo}", &demo.display().to_string())
                .replace("{hostile}", &dir.display().to_string())
                .replace("{tmp}", &tmp.display().to_string())
        };
        for d in case["dirs"].as_array().into_iter().flatten() {
            std::fs::create_dir_all(tmp.join(d.as_str().expect("dir"))).expect("mkdir");
        }
        let mut before = Vec::new();
        if let Some(copy) = case["copy"].as_object() {
            for (to, from) in copy {
                std::fs::copy(fill(from.as_str().expect("source")), tmp.join(to)).expect("copy");
            }
        }
        for f in case["intact"].as_array().into_iter().flatten() {
            let f = f.as_str().expect("intact");
            before.push((
                f.to_string(),
                std::fs::read(tmp.join(f)).expect("intact file"),
            ));
        }
        let args: Vec<String> = case["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| fill(a.as_str().expect("arg")))
            .collect();
        let out = run(&args);
        ran += 1;
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want_code = case["exit"].as_i64().expect("exit") as i32;
        let want = fill(case["stderr"].as_str().expect("stderr"));
        if code != want_code || !stderr.contains(&want) {
            failures.push(format!(
                "{name}: exit {code} (want {want_code}), stderr {stderr:?} (want {want:?})"
            ));
        }
        for (f, bytes) in &before {
            if std::fs::read(tmp.join(f)).ok().as_ref() != Some(bytes) {
                failures.push(format!("{name}: {f} was changed"));
            }
        }
        if let Some(only) = case["only_files"].as_array() {
            let want: Vec<String> = only
                .iter()
                .map(|v| v.as_str().expect("file").to_string())
                .collect();
            let got = file_names(&tmp);
            if got != want {
                failures.push(format!("{name}: {tmp:?} holds {got:?}, want {want:?}"));
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(ran >= 40, "ran {ran} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The command that takes a flag, as (args before the flag, args after),
/// with input files that do not exist: a flag's range check must come
/// before any file is read.
fn command_for(flag: &str, report: &str) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let absent = "absent-input.csv";
    let model = "absent-model.onnx";
    match flag {
        "--references" | "--ref-max-epochs" | "--ref-epochs" | "--ref-batch-size"
        | "--ref-train-size" | "--boundary-queries" => s(&[
            "audit",
            model,
            "--members",
            absent,
            "--nonmembers",
            absent,
            "--report",
            report,
        ]),
        "--slice-bins" => s(&[
            "audit",
            model,
            "--members",
            absent,
            "--nonmembers",
            absent,
            "--report",
            report,
            "--slice-by",
            "f0",
        ]),
        "--steps" | "--window" | "--input-shape" => s(&["invert", model, "--report", report]),
        "--query-budget" => s(&["invert", model, "--black-box", "--report", report]),
        "--max-categories" | "--bins" => s(&[
            "attribute",
            model,
            "--members",
            absent,
            "--nonmembers",
            absent,
            "--sensitive",
            "f0",
            "--report",
            report,
        ]),
        "--epochs" | "--canaries" => s(&[
            "dp-audit",
            model,
            "--data",
            absent,
            "--noise-multiplier",
            "1",
            "--report",
            report,
        ]),
        _ => Vec::new(),
    }
}

/// Class 1: every declared range with a CLI flag is enforced by the CLI,
/// below and above, with the flag named and the allowed range shown, before
/// any file is read (the files named do not exist). A new flagged range
/// without a command here fails this test.
#[test]
fn every_flagged_range_is_enforced_before_any_file_is_read() {
    use privacy_inspector::settings::{grouped, ALL};
    let tmp = fresh_dir("ranges");
    let report = tmp.join("r.json").display().to_string();
    let mut checked = 0;
    for r in ALL {
        let Some(flag) = r.flag else { continue };
        // `--batch-size` is both predict's and dp-audit's: each separately
        let commands: Vec<Vec<String>> = if flag == "--batch-size" {
            let base = command_for("--epochs", &report);
            let predict = vec![
                "predict".to_string(),
                "absent-model.onnx".into(),
                "--data".into(),
                "absent-input.csv".into(),
            ];
            if r.key == "batch_size" {
                vec![predict]
            } else {
                vec![base]
            }
        } else {
            vec![command_for(flag, &report)]
        };
        for base in commands {
            assert!(!base.is_empty(), "no command for {flag} ({})", r.key);
            let mut values = vec![(r.max as u128 + 1).to_string()];
            if r.min > 0 {
                values.push((r.min - 1).to_string());
            }
            for v in values {
                // lists: a list with too few or too many entries
                let v = match flag {
                    "--bins" | "--slice-bins" => {
                        let n: usize = v.parse().expect("count");
                        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                    }
                    "--input-shape" => format!("{v},1"),
                    _ => v,
                };
                let mut args = base.clone();
                args.push(flag.to_string());
                args.push(v.clone());
                let out = run(&args);
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{flag} {v}: {err}");
                let range = format!(
                    "{flag}) must be {} to {}",
                    grouped(r.min as u128),
                    grouped(r.max as u128)
                );
                assert!(err.contains(&range), "{flag} {v}: {err}");
                assert!(!err.contains("absent-"), "{flag} {v}: read a file: {err}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "{checked}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Class 2: a FIFO whose writer never stops (as model, CSV and settings
/// file) ends with the limit's error; the writer sees the pipe close and
/// stops. Should the binary never open the FIFO, the test opens it for
/// reading itself (non-blocking) after the run, so the writer's open
/// returns and the test cannot hang.
#[cfg(target_os = "linux")]
#[test]
fn endless_fifo_stops_at_the_limit() {
    use std::io::Write;
    let tmp = fresh_dir("fifo");
    let limits = tmp.join("limits.json");
    std::fs::write(
        &limits,
        r#"{"max_model_bytes": 65536, "max_csv_bytes": 4096}"#,
    )
    .unwrap();
    let demo = root().join("tests/fixtures/demo");
    let model = demo.join("digits_mlp.onnx").display().to_string();
    let nonmembers = demo.join("digits_nonmembers.csv").display().to_string();
    let report = tmp.join("r.json").display().to_string();
    let lim = limits.display().to_string();
    for (i, (role, expect)) in [
        ("model", "over the limit max_model_bytes = 65,536"),
        ("members", "over the limit max_csv_bytes = 4,096"),
        (
            "limits",
            "over the limit settings_file_bytes (fixed) = 1,048,576",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = tmp.join(format!("fifo{i}"));
        let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(status.success());
        let f = fifo.display().to_string();
        // endless writer: stops when the reader closes the pipe (EPIPE)
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open fifo");
            let block = vec![b'1'; 1 << 16];
            let mut written = 0u64;
            while w.write_all(&block).is_ok() {
                written += block.len() as u64;
            }
            written
        });
        let args: Vec<String> = match role {
            "model" => vec!["inspect".into(), f.clone(), "--limits".into(), lim.clone()],
            "members" => vec![
                "audit".into(),
                model.clone(),
                "--members".into(),
                f.clone(),
                "--nonmembers".into(),
                nonmembers.clone(),
                "--report".into(),
                report.clone(),
                "--quiet".into(),
                "--limits".into(),
                lim.clone(),
            ],
            _ => vec![
                "inspect".into(),
                model.clone(),
                "--limits".into(),
                f.clone(),
            ],
        };
        let out = run(&args);
        {
            // release a writer still waiting for a reader (O_NONBLOCK)
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(0o4000)
                .open(&fifo);
        }
        let written = writer.join().expect("writer");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{role}: {err}");
        assert!(err.contains(expect), "{role}: {err}");
        // the reader stopped soon after the limit: the writer could only
        // fill the pipe buffer beyond it
        assert!(written < 8 << 20, "{role}: {written} bytes written");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Class 3: an output that is a hard link to an input is refused, the input
/// intact; a successful run replaces an existing output whole and leaves
/// no temporary file.
#[cfg(unix)]
#[test]
fn outputs_never_destroy_inputs() {
    let tmp = fresh_dir("links");
    let demo = root().join("tests/fixtures/demo");
    let data = tmp.join("m.csv");
    std::fs::copy(demo.join("digits_members.csv"), &data).unwrap();
    let link = tmp.join("link.csv");
    std::fs::hard_link(&data, &link).unwrap();
    let before = std::fs::read(&data).unwrap();
    let model = demo.join("digits_mlp.onnx").display().to_string();
    let out = run(&[
        "predict".into(),
        model.clone(),
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        link.display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is the input --data"), "{err}");
    assert_eq!(std::fs::read(&data).unwrap(), before);
    // success: an existing output is replaced whole
    let target = tmp.join("p.csv");
    std::fs::write(&target, "old contents\n").unwrap();
    let out = run(&[
        "predict".into(),
        model,
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        target.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.starts_with("class_0,"),
        "{}",
        &text[..40.min(text.len())]
    );
    assert_eq!(text.lines().count(), 301);
    assert_eq!(file_names(&tmp), vec!["link.csv", "m.csv", "p.csv"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Class 9: the guidance options refuse unknown keys at every level and
/// out-of-range values, as the limits file does (the core's reader, used
/// by the CLI and the page).
#[test]
fn guidance_options_are_strict() {
    use privacy_inspector::guidance::GuidanceOptions;
    for (text, want) in [
        (
            r#"{"claimed_epsilom": 1}"#,
            "unknown field `claimed_epsilom`",
        ),
        (
            r#"{"thresholds": {"acuracy_gap": 0.1}}"#,
            "unknown field `acuracy_gap`",
        ),
        (r#"{"dp_plan": {"epoch": 3}}"#, "unknown field `epoch`"),
    ] {
        let e = serde_json::from_str::<GuidanceOptions>(text).unwrap_err();
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
    for (text, want) in [
        (r#"{"dp_plan": {"epochs": 4000000000}}"#, "dp_plan.epochs"),
        (
            r#"{"dp_plan": {"batch_size": 4000000000}}"#,
            "dp_plan.batch_size",
        ),
        (r#"{"thresholds": {"label_only_auc": 2}}"#, "label_only_auc"),
        (r#"{"claimed_delta": 1.5}"#, "claimed_delta"),
    ] {
        let o: GuidanceOptions = serde_json::from_str(text).expect(text);
        let e = o.validate().unwrap_err();
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
    assert!(GuidanceOptions::default().validate().is_ok());
    // an empty attack list is an error, not "all"
    use privacy_inspector::attacks::membership::audit::AuditSettings;
    for list in ["", " ", ",", " , ,"] {
        assert!(AuditSettings::parse_attacks(list).is_err(), "{list:?}");
    }
}

/// Class 7: every hostile model that onnxruntime refuses at load (its
/// verdict recorded by gen_models.py in ort_verdicts.json) is refused by
/// `inspect` with exit 2; every model it refuses while running is refused
/// by `predict` (at import or at run time) with exit 2, the model named.
#[test]
fn at_least_as_strict_as_onnxruntime() {
    let dir = root().join("tests/fixtures/hostile");
    let text = std::fs::read_to_string(dir.join("ort_verdicts.json")).expect("verdicts");
    let verdicts: Value = serde_json::from_str(&text).expect("JSON");
    let models = verdicts["models"].as_object().expect("models");
    let (mut at_load, mut at_run) = (0, 0);
    for (name, v) in models {
        let ort = v["onnxruntime"].as_str().expect("verdict");
        let model = dir
            .join(format!("models/{name}.onnx"))
            .display()
            .to_string();
        if ort.starts_with("refused at load") {
            let out = run(&["inspect".into(), model.clone()]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} ({ort}): {err}");
            assert!(err.contains(&model), "{name}: {err}");
            at_load += 1;
        } else if ort.starts_with("loads, refused while running") {
            let csv = if name == "matmul_dynamic_width" {
                "five_cols.csv"
            } else {
                "four_cols.csv"
            };
            let out = run(&[
                "predict".into(),
                model.clone(),
                "--data".into(),
                dir.join(csv).display().to_string(),
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} ({ort}): {err}");
            assert!(err.contains(&model), "{name}: {err}");
            assert!(out.stdout.is_empty(), "{name}: wrote predictions");
            at_run += 1;
        }
    }
    assert!(at_load >= 10 && at_run >= 3, "{at_load} {at_run}");
}

/// Class 8: for every class-8 case of the corpus, stderr holds no control
/// or invisible formatting character but its final newline, the hostile
/// values are shown escaped, and no line is longer than a few cut values.
#[test]
fn untrusted_text_is_escaped_and_cut() {
    use privacy_inspector::text::is_unsafe;
    let dir = root().join("tests/fixtures/hostile");
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let manifest: Value = serde_json::from_str(&text).expect("manifest JSON");
    let mut checked = 0;
    for case in manifest["cases"].as_array().expect("cases") {
        if case["class"].as_i64() != Some(8) {
            continue;
        }
        let args: Vec<String> = case["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| {
                a.as_str()
                    .expect("arg")
                    .replace("{hostile}", &dir.display().to_string())
            })
            .collect();
        let out = run(&args);
        let err = String::from_utf8(out.stderr).expect("UTF-8 stderr");
        let name = case["name"].as_str().expect("name");
        let body = err.strip_suffix('\n').unwrap_or(&err);
        assert!(!body.chars().any(is_unsafe), "{name}: {body:?}");
        assert!(
            body.contains("\\u{1b}") || body.contains("\\u{202e}"),
            "{name}: {body}"
        );
        assert!(
            body.chars().count() < 600,
            "{name}: {} chars",
            body.chars().count()
        );
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
    // the summary of `inspect` shows a hostile producer escaped and cut
    let model = dir.join("models/producer_controls.onnx");
    let out = run(&["inspect".into(), model.display().to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text:?}");
    let producer = text
        .lines()
        .find(|l| l.starts_with("Producer"))
        .expect("producer line");
    assert!(
        producer.contains("\\u{1b}[31mred\\u{1b}[0mppp"),
        "{producer}"
    );
    assert!(producer.ends_with('…'), "{producer}");
}
