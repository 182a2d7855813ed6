//! DP-SGD in the trainer and the RDP accountant.
//!
//! The accountant is checked against Opacus 1.6
//! (tests/fixtures/privacy/gen_accountant.py -> accountant.json); the
//! trainer against plain SGD/Adam (no noise, no clipping) and against the
//! noise and clipping scales it promises.

mod common;

use privacy_inspector::engine::train::{
    dp_gradient, init_params, train, DpConfig, Optimizer, TrainConfig,
};
use privacy_inspector::engine::ParamSet;
use privacy_inspector::privacy::accountant::{
    default_orders, epsilon, epsilon_with_orders, noise_multiplier_for, rdp_sgm,
};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/privacy/accountant.json"
    );
    let text = std::fs::read_to_string(path).expect("accountant.json (run gen_accountant.py)");
    serde_json::from_str(&text).expect("json")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn epsilon_matches_opacus_on_the_grid() {
    let fx = fixture();
    let grid = fx["grid"].as_array().expect("grid");
    assert!(grid.len() >= 100);
    let mut worst = 0.0f64;
    for case in grid {
        let (q, sigma, steps, delta) = (
            f(case, "q"),
            f(case, "sigma"),
            f(case, "steps") as u64,
            f(case, "delta"),
        );
        let want = f(case, "epsilon");
        let got = epsilon(q, sigma, steps, delta).expect("epsilon");
        let rel = (got.epsilon - want).abs() / want.abs().max(1e-12);
        worst = worst.max(rel);
        assert!(
            rel < 1e-3,
            "q={q} sigma={sigma} steps={steps} delta={delta}: got {} (order {:?}), Opacus {want} (order {})",
            got.epsilon,
            got.order,
            f(case, "order")
        );
    }
    eprintln!(
        "accountant vs Opacus: {} cases, worst relative error {worst:.2e}",
        grid.len()
    );
}

#[test]
fn noise_multiplier_for_a_target_matches_opacus_and_is_tight() {
    let fx = fixture();
    for case in fx["inverse"].as_array().expect("inverse") {
        let (target, q, steps, delta) = (
            f(case, "target_epsilon"),
            f(case, "q"),
            f(case, "steps") as u64,
            f(case, "delta"),
        );
        let want = f(case, "sigma");
        let got = noise_multiplier_for(target, q, steps, delta).expect("sigma");
        let s = got.noise_multiplier;
        assert!(
            (s - want).abs() / want < 1e-3,
            "target {target}: sigma {s}, Opacus {want}"
        );
        assert!(got.epsilon <= target, "{got:?}");
        let e = epsilon(q, s, steps, delta).expect("eps").epsilon;
        assert_eq!(e, got.epsilon);
        let below = epsilon(q, s * (1.0 - 1e-6), steps, delta)
            .expect("eps")
            .epsilon;
        assert!(below > target, "a smaller sigma must overshoot: {below}");
    }
}

#[test]
fn unreachable_target_is_an_error_naming_the_numbers() {
    // With orders up to 63 and delta = 1e-5 no sigma reaches epsilon 0.05.
    let e = noise_multiplier_for(0.05, 0.01, 100, 1e-5).unwrap_err();
    assert_eq!(e.code(), "privacy_target_unreachable");
    assert!(e.to_string().contains("0.05"), "{e}");
}

#[test]
fn full_batch_epsilon_is_the_gaussian_mechanism_closed_form() {
    // q = 1: rdp = T alpha / (2 sigma^2); independent evaluation of the
    // conversion over the same orders.
    let (sigma, steps, delta) = (3.0f64, 50u64, 1e-5f64);
    let want = default_orders()
        .iter()
        .map(|&a| {
            steps as f64 * a / (2.0 * sigma * sigma) - (delta.ln() + a.ln()) / (a - 1.0)
                + ((a - 1.0) / a).ln()
        })
        .fold(f64::INFINITY, f64::min);
    let got = epsilon(1.0, sigma, steps, delta).unwrap().epsilon;
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn subsampling_amplifies_and_fractional_orders_sit_between_integers() {
    let r1 = rdp_sgm(1.0, 1.0, 8.0).unwrap();
    let r = rdp_sgm(0.01, 1.0, 8.0).unwrap();
    assert!(r < r1 / 100.0, "{r} vs {r1}");
    // RDP is non-decreasing in the order
    let (a, b, c) = (
        rdp_sgm(0.05, 1.0, 3.0).unwrap(),
        rdp_sgm(0.05, 1.0, 3.5).unwrap(),
        rdp_sgm(0.05, 1.0, 4.0).unwrap(),
    );
    assert!(a <= b && b <= c, "{a} {b} {c}");
    // one order only
    let one = epsilon_with_orders(0.05, 1.0, 100, 1e-5, &[8.0]).unwrap();
    assert_eq!(one.order, Some(8.0));
}

// ------------------------------------------------------------ DP-SGD

fn flat(p: &ParamSet) -> Vec<f32> {
    p.iter().flat_map(|t| t.iter().copied()).collect()
}

fn l2(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

fn cfg(
    optimizer: Optimizer,
    epochs: usize,
    batch_size: usize,
    dp: Option<DpConfig>,
) -> TrainConfig {
    TrainConfig {
        optimizer,
        epochs,
        batch_size,
        l2: 0.0,
        target_accuracy: None,
        target_loss: None,
        seed: 5,
        dp,
        plateau: None,
    }
}

fn no_noise_no_clip() -> DpConfig {
    DpConfig {
        clip_norm: 1e9,
        noise_multiplier: 0.0,
        delta: 1e-5,
    }
}

#[test]
fn no_noise_and_huge_clip_reproduce_plain_training() {
    // batch = N: q = 1, every record in every step, so DP-SGD with sigma = 0
    // and C = 1e9 is plain full-batch training (per-record gradients summed
    // instead of one batched backward: equal up to float rounding).
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 20, 4, 2);
    let n = y.len();
    for (opt, tol) in [
        (
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.9,
            },
            1e-5,
        ),
        (Optimizer::adam(0.01), 1e-4),
    ] {
        let p0 = init_params(&graph, &template, 9);
        let mut plain = p0.clone();
        let mut private = p0.clone();
        train(
            &graph,
            &mut plain,
            &x,
            &y,
            &cfg(opt, 10, n, None),
            &mut |_| true,
        )
        .unwrap();
        let rep = train(
            &graph,
            &mut private,
            &x,
            &y,
            &cfg(opt, 10, n, Some(no_noise_no_clip())),
            &mut |_| true,
        )
        .unwrap();
        let (a, b, p) = (flat(&plain), flat(&private), flat(&p0));
        let moved = a
            .iter()
            .zip(&p)
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f32::max);
        let diff = a
            .iter()
            .zip(&b)
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f32::max);
        eprintln!("{opt:?}: weights moved up to {moved:.4}; DP(sigma=0, C=1e9) vs plain: max diff {diff:.2e}");
        assert!(
            moved > 0.05,
            "{opt:?}: training should move the weights ({moved})"
        );
        assert!(
            diff < tol,
            "{opt:?}: DP(sigma=0, C=1e9) vs plain: max diff {diff}"
        );
        let dp = rep.dp.expect("dp report");
        assert_eq!(dp.sample_rate, 1.0);
        assert_eq!(dp.steps, 10);
        assert_eq!(dp.records_seen, 10 * n as u64);
        assert_eq!(dp.clipped, 0);
        assert_eq!(dp.epsilon, None, "sigma = 0 has no finite epsilon");
    }
}

#[test]
fn clipping_bounds_each_record_and_keeps_its_direction() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 10, 4, 2);
    let params = init_params(&graph, &template, 4);
    for r in [0usize, 7, 13] {
        let full = dp_gradient(&graph, &params, &x, &y, &[r], &no_noise_no_clip(), 1.0, 0).unwrap();
        let g = flat(&full.grads);
        let norm = l2(&g);
        assert!(
            (norm - full.max_norm).abs() < 1e-4 * norm,
            "{norm} {}",
            full.max_norm
        );
        let c = norm / 10.0;
        let dp = DpConfig {
            clip_norm: c,
            noise_multiplier: 0.0,
            delta: 1e-5,
        };
        let clipped = dp_gradient(&graph, &params, &x, &y, &[r], &dp, 1.0, 0).unwrap();
        let h = flat(&clipped.grads);
        let hn = l2(&h);
        assert_eq!(clipped.clipped, 1);
        assert!(hn <= c * (1.0 + 1e-5), "clipped norm {hn} > C = {c}");
        assert!(
            hn > c as f64 * (1.0 - 1e-4),
            "clipped norm {hn} well below C = {c}"
        );
        let cos = g
            .iter()
            .zip(&h)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum::<f64>()
            / (norm * hn);
        assert!(cos > 1.0 - 1e-6, "direction changed: cos {cos}");
    }
}

#[test]
fn tiny_clip_bounds_the_update_norm() {
    // q = 1, sigma = 0, plain SGD, one step: ||delta theta|| <= lr * N C / (q N) = lr C.
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 20, 4, 2);
    let n = y.len();
    let p0 = init_params(&graph, &template, 9);
    let mut p = p0.clone();
    let (lr, c) = (0.5f32, 1e-3f64);
    let dp = DpConfig {
        clip_norm: c,
        noise_multiplier: 0.0,
        delta: 1e-5,
    };
    let sgd = Optimizer::Sgd { lr, momentum: 0.0 };
    let rep = train(
        &graph,
        &mut p,
        &x,
        &y,
        &cfg(sgd, 1, n, Some(dp)),
        &mut |_| true,
    )
    .unwrap();
    let step: Vec<f32> = flat(&p).iter().zip(flat(&p0)).map(|(a, b)| a - b).collect();
    let norm = l2(&step);
    assert!(
        norm <= lr as f64 * c * (1.0 + 1e-4),
        "update {norm} > lr C = {}",
        lr as f64 * c
    );
    assert!(norm > 0.0);
    assert_eq!(
        rep.dp.unwrap().clipped,
        n as u64,
        "every record's gradient exceeds 1e-3"
    );
}

#[test]
fn noise_std_matches_sigma_c_over_expected_batch() {
    // C tiny, sigma huge: the update is (almost) pure noise. After T plain
    // SGD steps (lr 1) every coordinate moved by N(0, T (sigma C / (q N))^2).
    let (graph, template) = common::mlp(16, 64, 10, 1);
    let (x, y) = common::blobs(10, 20, 16, 2);
    assert_eq!(y.len(), 200);
    let batch = 25; // q = 0.125, qN = 25, 8 steps per epoch
    let dp = DpConfig {
        clip_norm: 1e-4,
        noise_multiplier: 1e4,
        delta: 1e-5,
    };
    let p0 = init_params(&graph, &template, 3);
    let mut p = p0.clone();
    let sgd = Optimizer::Sgd {
        lr: 1.0,
        momentum: 0.0,
    };
    let rep = train(
        &graph,
        &mut p,
        &x,
        &y,
        &cfg(sgd, 3, batch, Some(dp)),
        &mut |_| true,
    )
    .unwrap();
    let d = rep.dp.unwrap();
    assert_eq!(d.steps, 24);
    assert_eq!(d.expected_batch_size, 25.0);
    let delta: Vec<f64> = flat(&p)
        .iter()
        .zip(flat(&p0))
        .map(|(a, b)| (*a - b) as f64)
        .collect();
    let m = delta.len() as f64;
    let mean = delta.iter().sum::<f64>() / m;
    let sd = (delta.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
    let want = (24f64).sqrt() * 1e4 * 1e-4 / 25.0;
    eprintln!(
        "noise: {} coordinates, measured sd {sd:.5}, expected {want:.5}",
        delta.len()
    );
    // 1738 coordinates: the sd estimate is within ~1.7% (1 s.e.)
    assert!((sd / want - 1.0).abs() < 0.06, "sd {sd} vs {want}");
    assert!(mean.abs() < 4.0 * want / m.sqrt(), "mean {mean}");
}

#[test]
fn noise_of_one_step_has_the_promised_scale_and_is_seeded() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 10, 4, 2);
    let params = init_params(&graph, &template, 4);
    let rows = [1usize, 4, 5, 11];
    let dp = DpConfig {
        clip_norm: 0.5,
        noise_multiplier: 2.0,
        delta: 1e-5,
    };
    let clean = DpConfig {
        noise_multiplier: 0.0,
        ..dp
    };
    let base = flat(
        &dp_gradient(&graph, &params, &x, &y, &rows, &clean, 8.0, 0)
            .unwrap()
            .grads,
    );
    let mut diffs = Vec::new();
    for seed in 0..20 {
        let g = flat(
            &dp_gradient(&graph, &params, &x, &y, &rows, &dp, 8.0, seed)
                .unwrap()
                .grads,
        );
        diffs.extend(g.iter().zip(&base).map(|(a, b)| (a - b) as f64));
    }
    let m = diffs.len() as f64;
    let sd = (diffs.iter().map(|v| v * v).sum::<f64>() / m).sqrt();
    let want = 2.0 * 0.5 / 8.0;
    assert!(
        (sd / want - 1.0).abs() < 0.03,
        "sd {sd} vs {want} over {m} draws"
    );
    // an empty Poisson batch is pure noise (and exactly zero without noise)
    let empty = flat(
        &dp_gradient(&graph, &params, &x, &y, &[], &clean, 8.0, 1)
            .unwrap()
            .grads,
    );
    assert!(empty.iter().all(|&v| v == 0.0));
    let noise = flat(
        &dp_gradient(&graph, &params, &x, &y, &[], &dp, 8.0, 1)
            .unwrap()
            .grads,
    );
    let sd0 = (noise.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
    assert!(
        (sd0 / want - 1.0).abs() < 0.2,
        "empty batch noise sd {sd0} vs {want}"
    );
    let a = dp_gradient(&graph, &params, &x, &y, &rows, &dp, 8.0, 7).unwrap();
    let b = dp_gradient(&graph, &params, &x, &y, &rows, &dp, 8.0, 7).unwrap();
    let c = dp_gradient(&graph, &params, &x, &y, &rows, &dp, 8.0, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.grads, c.grads);
}

#[test]
fn poisson_sampling_rate_and_reported_epsilon() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 40, 4, 2);
    assert_eq!(y.len(), 120);
    let dp = DpConfig {
        clip_norm: 1.0,
        noise_multiplier: 1.1,
        delta: 1e-5,
    };
    let mut p = init_params(&graph, &template, 9);
    let c = cfg(Optimizer::adam(0.01), 10, 12, Some(dp));
    let rep = train(&graph, &mut p, &x, &y, &c, &mut |_| true).unwrap();
    let d = rep.dp.clone().unwrap();
    assert!((d.sample_rate - 0.1).abs() < 1e-12);
    assert_eq!(d.steps, 100);
    // records seen ~ Binomial(steps * N, q): mean 1200, sd ~ 10.4
    let seen = d.records_seen as f64;
    assert!(
        (seen - 1200.0).abs() < 5.0 * (12000.0f64 * 0.1 * 0.9).sqrt(),
        "seen {seen}"
    );
    let want = epsilon(0.1, 1.1, 100, 1e-5).unwrap().epsilon;
    assert_eq!(d.epsilon, Some(want));
    // deterministic
    let mut p2 = init_params(&graph, &template, 9);
    let rep2 = train(&graph, &mut p2, &x, &y, &c, &mut |_| true).unwrap();
    assert_eq!(p, p2);
    assert_eq!(rep, rep2);
    // the JSON names the spent budget
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["dp"]["steps"], 100);
    assert!(json["dp"]["epsilon"].as_f64().unwrap() > 0.0);
}

#[test]
fn dp_sgd_with_moderate_noise_still_learns() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 100, 4, 2);
    let dp = DpConfig {
        clip_norm: 1.0,
        noise_multiplier: 0.8,
        delta: 1e-5,
    };
    let mut p = init_params(&graph, &template, 9);
    let rep = train(
        &graph,
        &mut p,
        &x,
        &y,
        &cfg(Optimizer::adam(0.01), 15, 30, Some(dp)),
        &mut |_| true,
    )
    .unwrap();
    assert!(rep.train_accuracy > 0.9, "{rep:?}");
    let eps = rep.dp.unwrap().epsilon.unwrap();
    assert!(eps > 1.0 && eps < 100.0, "{eps}");
}

#[test]
fn bad_dp_settings_are_errors_naming_the_value() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 10, 4, 2);
    for (dp, needle) in [
        (
            DpConfig {
                clip_norm: 0.0,
                ..DpConfig::default()
            },
            "clipping norm",
        ),
        (
            DpConfig {
                noise_multiplier: -1.0,
                ..DpConfig::default()
            },
            "noise multiplier",
        ),
        (
            DpConfig {
                delta: 1.0,
                ..DpConfig::default()
            },
            "delta",
        ),
    ] {
        let mut p = init_params(&graph, &template, 9);
        let e = train(
            &graph,
            &mut p,
            &x,
            &y,
            &cfg(Optimizer::adam(0.01), 1, 4, Some(dp)),
            &mut |_| true,
        )
        .unwrap_err();
        assert_eq!(e.code(), "bad_config");
        assert!(e.to_string().contains(needle), "{e}");
    }
    let params = init_params(&graph, &template, 9);
    let e = dp_gradient(&graph, &params, &x, &y, &[99], &DpConfig::default(), 1.0, 0).unwrap_err();
    assert!(e.to_string().contains("99"), "{e}");
}

#[test]
fn dp_options_parse_from_camel_case_json() {
    let c: TrainConfig =
        serde_json::from_str(r#"{"epochs": 3, "dp": {"clipNorm": 0.5, "noiseMultiplier": 1.3}}"#)
            .unwrap();
    let dp = c.dp.unwrap();
    assert_eq!(dp.clip_norm, 0.5);
    assert_eq!(dp.noise_multiplier, 1.3);
    assert_eq!(dp.delta, 1e-5);
    let plain: TrainConfig = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
    assert_eq!(plain.dp, None);
    // a config without DP serialises as before (no dp key)
    assert!(!serde_json::to_string(&plain).unwrap().contains("dp"));
}
