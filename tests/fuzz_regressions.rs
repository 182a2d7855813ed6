//! Every input kept under `tests/fuzz_regressions/<target>/` (crashes the
//! fuzzers found, see scripts/fuzz.sh) runs through the same code as its
//! fuzz target (`fuzz/harness.rs`) in the stable test suite. The test
//! asserts no panic: an `Err` from the library is the expected outcome.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

/// Run every file of `tests/fuzz_regressions/<target>/` through `run`,
/// catching panics, and report every file that panicked at once.
#[track_caller]
fn check(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    files.sort();
    let mut failed = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read regression file");
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(failed.is_empty(), "panicked on: {failed:?}");
    files.len()
}

#[test]
fn onnx_import_regressions() {
    check("onnx_import", harness::onnx_import);
}

#[test]
fn csv_reader_regressions() {
    check("csv_reader", harness::csv_reader);
}

#[test]
fn settings_regressions() {
    check("settings", harness::settings);
}

/// The settings seeds (fuzz/seeds/settings) run through the target too.
#[test]
fn settings_seeds_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/settings");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("seed dir") {
        let bytes = std::fs::read(e.expect("entry").path()).expect("read");
        harness::settings(&bytes);
        n += 1;
    }
    assert!(n >= 8, "{n} seeds");
}

#[test]
fn report_reader_regressions() {
    check("report_reader", harness::report_reader);
}

/// The report seeds (fuzz/seeds/report_reader: an audit, an attribute
/// inference and two model inversion reports written by the CLI) read back
/// as valid reports and render, so the fuzzer starts from inputs that pass
/// validation.
#[test]
fn report_seeds_read_back_and_render() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/report_reader");
    let mut kinds = Vec::new();
    for e in std::fs::read_dir(&dir).expect("seed dir") {
        let p = e.expect("entry").path();
        let r = privacy_inspector::report::read_json(&std::fs::read(&p).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(privacy_inspector::report::html::render(&r, true).contains("</html>"));
        kinds.push((
            !r.attacks.is_empty(),
            r.attribute.is_some(),
            r.inversion.is_some(),
        ));
    }
    assert!(kinds.iter().any(|k| k.0) && kinds.iter().any(|k| k.1) && kinds.iter().any(|k| k.2));
}

/// The harness itself accepts the fixtures (so a regression run is not
/// vacuous: the code paths are reached).
#[test]
fn harness_runs_fixtures() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    harness::onnx_import(&std::fs::read(fx.join("torch_cnn.onnx")).expect("model"));
    harness::csv_reader(&std::fs::read(fx.join("data/iris.test.csv")).expect("csv"));
    harness::report_reader(b"{}");
}
