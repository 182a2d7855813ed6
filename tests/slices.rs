//! Subgroup leakage (`stats::slices`):
//! - every figure equals an independent computation (scikit-learn AUC and
//!   ROC, DeLong from the definitions, scipy's normal tail, Holm written
//!   out; tests/fixtures/slices/gen_slices.py -> slices.json), on a
//!   categorical column with a subgroup that leaks more (flagged) and a
//!   binned column without one;
//! - with no subgroup effect, the audits that flag any slice are no more
//!   than the level allows (counted over many seeds, 8 slices each);
//! - a subgroup that does leak more is flagged in most audits;
//! - the CLI's `audit --slice-by` writes the section and names the flags.

use privacy_inspector::stats::slices::{holm, slice_report, SliceScores, SliceSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn slices_match_the_independent_computation() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/slices/slices.json"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let alpha = v["alpha"].as_f64().unwrap();
    for c in v["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (mv, nv) = (floats(&c["member_values"]), floats(&c["nonmember_values"]));
        let (ms, ns) = (floats(&c["members"]), floats(&c["nonmembers"]));
        let spec = SliceSpec {
            column: 0,
            name: name.into(),
            bins: c["bins"].as_array().map(|_| floats(&c["bins"])),
            ..SliceSpec::default()
        };
        let overall = c["overall_auc"].as_f64().unwrap();
        let scores = [SliceScores {
            id: "loss",
            members: &ms,
            nonmembers: &ns,
            overall_auc: overall,
        }];
        let r = slice_report(&spec, &mv, &nv, &scores, alpha).unwrap();
        let labels: Vec<&str> = r.slices.iter().map(|s| s.label.as_str()).collect();
        let want: Vec<&str> = c["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(labels, want, "{name}");
        let rows = &r.attacks[0].slices;
        let expect = c["slices"].as_array().unwrap();
        assert_eq!(rows.len(), expect.len(), "{name}");
        for (got, e) in rows.iter().zip(expect) {
            let close = |a: f64, b: f64, what: &str| {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{name} slice {}: {what} {a} vs {b}",
                    got.slice
                )
            };
            assert_eq!(got.slice as u64, e["slice"].as_u64().unwrap());
            close(got.auc, e["auc"].as_f64().unwrap(), "AUC");
            close(got.advantage, e["advantage"].as_f64().unwrap(), "advantage");
            for (k, t) in e["tpr_at_fpr"].as_object().unwrap() {
                match (got.tpr_at_fpr[k], t.as_f64()) {
                    (Some(a), Some(b)) => close(a, b, &format!("TPR@{k}")),
                    (None, None) => {}
                    (a, b) => panic!("{name} slice {}: TPR@{k} {a:?} vs {b:?}", got.slice),
                }
            }
            match (got.p_value, e["p_value"].as_f64()) {
                (Some(a), Some(b)) => {
                    assert!(
                        (a - b).abs() <= 1e-9 * b.max(1e-300) + 1e-15,
                        "{name}: p {a} vs {b}"
                    );
                    let h = e["p_holm"].as_f64().unwrap();
                    let gh = got.p_holm.unwrap();
                    assert!(
                        (gh - h).abs() <= 1e-9 * h.max(1e-300) + 1e-15,
                        "{name}: Holm {gh} vs {h}"
                    );
                    assert_eq!(got.leaks_more, e["leaks_more"].as_bool().unwrap());
                }
                (None, None) => assert!(!got.leaks_more),
                (a, b) => panic!("{name}: p {a:?} vs {b:?}"),
            }
        }
    }
    // holm leaves a single p alone and caps at 1
    assert_eq!(holm(&[0.2]), vec![0.2]);
    assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
}

/// Scores of an audit with `slices` equal slices of a categorical column;
/// members of slice 0 shifted by `extra`.
fn synthetic(
    seed: u64,
    slices: usize,
    n: usize,
    extra: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |shift: f64, s: usize| -> Vec<(f64, f64)> {
        (0..n)
            .map(|_| {
                let c = rng.gen_range(0..s as u32) as f64;
                let z: f64 = StandardNormal.sample(&mut rng);
                (c, z + shift + if c == 0.0 { extra } else { 0.0 })
            })
            .collect()
    };
    let m = draw(0.3, slices);
    let nn: Vec<(f64, f64)> = {
        let mut rng2 = ChaCha8Rng::seed_from_u64(seed ^ 0xabcdef);
        (0..n)
            .map(|_| {
                let c = rng2.gen_range(0..slices as u32) as f64;
                (c, StandardNormal.sample(&mut rng2))
            })
            .collect()
    };
    (
        m.iter().map(|p| p.0).collect(),
        nn.iter().map(|p| p.0).collect(),
        m.iter().map(|p| p.1).collect(),
        nn.iter().map(|p| p.1).collect(),
    )
}

fn any_flag(seed: u64, extra: f64) -> (bool, bool) {
    let (mv, nv, ms, ns) = synthetic(seed, 8, 800, extra);
    let overall = privacy_inspector::stats::roc::auc(&ms, &ns).unwrap();
    let scores = [SliceScores {
        id: "loss",
        members: &ms,
        nonmembers: &ns,
        overall_auc: overall,
    }];
    let r = slice_report(&SliceSpec::default(), &mv, &nv, &scores, 0.05).unwrap();
    assert_eq!(r.kind, "categorical");
    let rows = &r.attacks[0].slices;
    (
        rows.iter().any(|f| f.leaks_more),
        rows.iter().any(|f| f.leaks_more && f.slice == 0),
    )
}

#[test]
fn no_subgroup_effect_flags_rarely_and_a_real_one_is_found() {
    const RUNS: u64 = 200;
    let null = (0..RUNS).filter(|&s| any_flag(s, 0.0).0).count();
    let power = (0..RUNS).filter(|&s| any_flag(1000 + s, 0.8).1).count();
    eprintln!("no effect: {null}/{RUNS} audits flag a slice; slice 0 leaking more (+0.8): flagged in {power}/{RUNS}");
    // familywise level 0.05 with 3 binomial sd of slack
    let allowed =
        (0.05 * RUNS as f64 + 3.0 * (0.05f64 * 0.95 * RUNS as f64).sqrt()).floor() as usize;
    assert!(
        null <= allowed,
        "{null} of {RUNS} null audits flagged a slice"
    );
    assert!(
        power >= RUNS as usize * 8 / 10,
        "a real subgroup effect found in only {power} of {RUNS}"
    );
}

#[test]
fn cli_slices_by_a_named_column() {
    let exe = env!("CARGO_BIN_EXE_privacy-inspector");
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("pi-slices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let run = |extra: &[&str]| {
        std::process::Command::new(exe)
            .args([
                "audit",
                &format!("{root}/tests/fixtures/demo/tabular_pipeline.onnx"),
            ])
            .args([
                "--members",
                &format!("{root}/tests/fixtures/demo/tabular_members.csv"),
            ])
            .args([
                "--nonmembers",
                &format!("{root}/tests/fixtures/demo/tabular_nonmembers.csv"),
            ])
            .args(["--attacks", "loss,confidence", "--quiet"])
            .args(extra)
            .arg("--report")
            .arg(&report)
            .output()
            .unwrap()
    };
    let out = run(&["--slice-by", "mean_radius", "--slice-bins", "0,12,15,40"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("slices by 'mean_radius' (binned, 3 slices)")
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let s = &r["slices"];
    assert_eq!(s["bins"], serde_json::json!([0.0, 12.0, 15.0, 40.0]));
    assert_eq!(s["attacks"].as_array().unwrap().len(), 2);
    assert_eq!(r["settings"]["slice"]["name"], "mean_radius");
    let total: u64 = s["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["members"].as_u64().unwrap())
        .sum();
    assert_eq!(total, r["counts"]["members"].as_u64().unwrap());
    let bad = run(&["--slice-by", "no_such_column"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no_such_column"));
    let _ = std::fs::remove_dir_all(&dir);
}
