//! The one-run DP audit (Steinke, Nasr, Jagielski 2023):
//! - the statistical core equals the paper's Appendix D code run with scipy
//!   (tests/fixtures/privacy/gen_one_run.py -> one_run.json);
//! - soundness of the core on a mechanism whose epsilon is known exactly
//!   (randomised response on the inclusion bits): the bound exceeds the true
//!   epsilon in no more runs than beta allows, and is not vacuous;
//! - end to end with DP-SGD: without noise the bound is clearly positive and
//!   grows with the number of canaries; with noise it never exceeds the
//!   accountant's epsilon more often than beta allows (counted).

mod common;

use privacy_inspector::attacks::dp_audit::{run_dp_audit, DpAuditConfig};
use privacy_inspector::engine::train::{DpConfig, Optimizer, TrainConfig};
use privacy_inspector::privacy::one_run::{
    audit, epsilon_lower_bound, p_value, DEFAULT_GUESS_FRACTIONS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

#[test]
fn core_matches_the_papers_code() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/privacy/one_run.json"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let u = |k: &str| c[k].as_u64().unwrap() as usize;
        let f = |k: &str| c[k].as_f64().unwrap();
        let (m, r, vv, delta, beta) = (u("m"), u("r"), u("v"), f("delta"), f("beta"));
        for (eps, key) in [(1.0, "p_value_at_1"), (0.5, "p_value_at_0_5")] {
            let ours = p_value(m, r, vv, eps, delta).unwrap();
            let want = f(key);
            assert!(
                (ours - want).abs() <= 1e-9 * want.max(1e-12) + 1e-15,
                "p-value m {m} r {r} v {vv} eps {eps}: {ours} vs scipy {want}"
            );
        }
        let ours = epsilon_lower_bound(m, r, vv, delta, beta).unwrap();
        let want = f("epsilon_lower_bound");
        assert!(
            (ours - want).abs() < 1e-6,
            "bound m {m} r {r} v {vv}: {ours} vs scipy {want}"
        );
    }
    // bad arguments are errors, not panics
    assert!(p_value(10, 5, 6, 1.0, 0.0).is_err());
    assert!(p_value(10, 5, 3, f64::NAN, 0.0).is_err());
    assert!(epsilon_lower_bound(10, 5, 3, 0.0, 1.0).is_err());
    assert!(audit(&[1.0], &[true], 0.0, 0.05, &DEFAULT_GUESS_FRACTIONS).is_err());
}

/// Scores from eps-DP randomised response on the inclusion bits: each
/// canary reports its bit truthfully with probability e^eps / (1 + e^eps),
/// plus a uniform tie-breaker below the gap.
fn randomised_response(m: usize, eps: f64, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<bool>) {
    let q = 1.0 / (1.0 + (-eps).exp());
    let included: Vec<bool> = (0..m).map(|_| rng.gen::<bool>()).collect();
    let scores = included
        .iter()
        .map(|&b| {
            let says = if rng.gen::<f64>() < q { b } else { !b };
            f64::from(u8::from(says)) + 0.5 * rng.gen::<f64>()
        })
        .collect();
    (scores, included)
}

#[test]
fn the_bound_is_sound_and_informative_on_a_mechanism_of_known_epsilon() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    const RUNS: usize = 300;
    let beta = 0.05;
    for eps in [0.5f64, 1.0, 2.0] {
        let mut over = 0;
        let mut sum = 0.0;
        for _ in 0..RUNS {
            let (s, inc) = randomised_response(1000, eps, &mut rng);
            let b = audit(&s, &inc, 0.0, beta, &DEFAULT_GUESS_FRACTIONS).unwrap();
            over += usize::from(b.epsilon_lower_bound > eps);
            sum += b.epsilon_lower_bound;
        }
        let mean = sum / RUNS as f64;
        eprintln!("randomised response eps {eps}: bound above eps in {over}/{RUNS} runs, mean bound {mean:.3}");
        // at most beta of the runs, with 3 binomial standard deviations
        let allowed =
            (beta * RUNS as f64 + 3.0 * (beta * (1.0 - beta) * RUNS as f64).sqrt()).floor();
        assert!((over as f64) <= allowed, "eps {eps}: {over} runs over");
        // and not vacuous: most of the true epsilon is found
        assert!(mean > 0.6 * eps, "eps {eps}: mean bound {mean}");
    }
}

fn dp_cfg(sigma: f64, epochs: usize) -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::Sgd {
            lr: 0.5,
            momentum: 0.0,
        },
        epochs,
        batch_size: 32,
        dp: Some(DpConfig {
            clip_norm: 1.0,
            noise_multiplier: sigma,
            delta: 1e-5,
        }),
        ..TrainConfig::default()
    }
}

#[test]
fn dp_sgd_one_run_bound_grows_without_noise_and_respects_the_accountant_with_it() {
    // 32 features: records far apart, each mislabelled one can be fitted
    let (graph, template) = common::mlp(32, 64, 3, 1);
    let (x, y) = common::blobs(3, 200, 32, 3);
    // no noise: clipping alone gives no guarantee, and the mislabelled
    // canaries are memorised
    let mut last = -1.0;
    for m in [20usize, 100] {
        let cfg = DpAuditConfig {
            canaries: m,
            train: dp_cfg(0.0, 100),
            seed: 1,
            ..DpAuditConfig::default()
        };
        let (r, _) = run_dp_audit(&graph, &template, &x, &y, &cfg, &mut |_| true).unwrap();
        let b = &r.bound;
        eprintln!(
            "sigma 0, m {m}: bound {:.3} (rows {:?}), accountant {:?}",
            b.epsilon_lower_bound,
            b.rows
                .iter()
                .map(|r| (r.guesses, r.correct))
                .collect::<Vec<_>>(),
            r.accountant_epsilon
        );
        assert!(r.accountant_epsilon.is_none());
        assert_eq!(r.canaries.len(), m);
        assert_eq!(r.trained_on, 600 - m + b.included);
        assert!(
            b.epsilon_lower_bound > last,
            "m {m}: {} after {last}",
            b.epsilon_lower_bound
        );
        last = b.epsilon_lower_bound;
    }
    assert!(last > 1.0, "no noise, 100 canaries: bound {last}");

    // with noise: never above the accountant's epsilon more often than
    // beta allows
    let (mut runs, mut over) = (0usize, 0usize);
    for sigma in [0.5f64, 1.0, 2.0] {
        for seed in 0..4u64 {
            let cfg = DpAuditConfig {
                canaries: 100,
                train: dp_cfg(sigma, 10),
                seed,
                ..DpAuditConfig::default()
            };
            let (r, _) = run_dp_audit(&graph, &template, &x, &y, &cfg, &mut |_| true).unwrap();
            let acc = r.accountant_epsilon.expect("sigma > 0 has an epsilon");
            eprintln!(
                "sigma {sigma}, seed {seed}: one-run bound {:.3}, accountant {acc:.3}",
                r.bound.epsilon_lower_bound
            );
            runs += 1;
            over += usize::from(r.bound.epsilon_lower_bound > acc);
        }
    }
    // beta = 0.05 of 12 runs: at most 0.6 expected; 2 is beyond 3 sd
    assert!(
        over <= 2,
        "{over} of {runs} bounds above the accountant's epsilon"
    );
}

#[test]
fn same_seed_same_audit_and_bad_settings_are_errors() {
    let (graph, template) = common::mlp(4, 8, 3, 1);
    let (x, y) = common::blobs(3, 20, 4, 3);
    let cfg = DpAuditConfig {
        canaries: 20,
        train: dp_cfg(1.0, 3),
        seed: 9,
        ..DpAuditConfig::default()
    };
    let (a, pa) = run_dp_audit(&graph, &template, &x, &y, &cfg, &mut |_| true).unwrap();
    let (b, pb) = run_dp_audit(&graph, &template, &x, &y, &cfg, &mut |_| true).unwrap();
    assert_eq!(a, b);
    assert_eq!(pa, pb);
    for c in &a.canaries {
        assert_ne!(c.label, c.canary_label);
        assert_eq!(c.label, y[c.source]);
    }
    let too_many = DpAuditConfig {
        canaries: 61,
        ..cfg.clone()
    };
    let e = run_dp_audit(&graph, &template, &x, &y, &too_many, &mut |_| true).unwrap_err();
    assert_eq!(e.code(), "bad_config", "{e}");
    let bad_beta = DpAuditConfig { beta: 1.5, ..cfg };
    assert!(run_dp_audit(&graph, &template, &x, &y, &bad_beta, &mut |_| true).is_err());
}

#[test]
fn cli_writes_the_report_and_refuses_a_run_without_noise_settings() {
    let exe = env!("CARGO_BIN_EXE_privacy-inspector");
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("pi-dp-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("dp.json");
    let html = dir.join("dp.html");
    let out = std::process::Command::new(exe)
        .args([
            "dp-audit",
            &format!("{root}/tests/fixtures/demo/teach_mlp_16.onnx"),
        ])
        .args([
            "--data",
            &format!("{root}/tests/fixtures/demo/digits_members.csv"),
        ])
        .args([
            "--canaries",
            "60",
            "--epochs",
            "3",
            "--epsilon",
            "8",
            "--seed",
            "4",
        ])
        .arg("--report")
        .arg(&report)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("one-run DP audit: 60 canaries"), "{stdout}");
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let d = &r["dp_audit"];
    assert_eq!(r["seed"], 4);
    assert_eq!(r["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(d["config"]["canaries"], 60);
    assert_eq!(d["config"]["targetEpsilon"], 8.0);
    assert_eq!(d["canaries"].as_array().unwrap().len(), 60);
    let acc = d["accountantEpsilon"].as_f64().unwrap();
    assert!(acc <= 8.0 + 1e-9 && acc > 7.0, "accountant {acc}");
    assert!(d["bound"]["epsilonLowerBound"].as_f64().unwrap() >= 0.0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-testid=\"dp-audit-report\""));

    let out = std::process::Command::new(exe)
        .args([
            "dp-audit",
            &format!("{root}/tests/fixtures/demo/teach_mlp_16.onnx"),
        ])
        .args([
            "--data",
            &format!("{root}/tests/fixtures/demo/digits_members.csv"),
        ])
        .arg("--report")
        .arg(dir.join("none.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--noise-multiplier"));
    assert!(!dir.join("none.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
