//! Running the CLI binary from an integration test (included with
//! `#[path = "common/cli.rs"] mod cli;` by the tests that run it; the wasm
//! test build has no binary).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A path in this test binary's own temporary folder.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "pi-{}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Run `privacy-inspector args...`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_privacy-inspector"))
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
