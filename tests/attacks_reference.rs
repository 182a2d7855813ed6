//! Reference-model attacks: LiRA and RMIA scores against an independent
//! numpy/scipy implementation (tests/fixtures/attacks_reference/, generated
//! by gen_reference.py from the same matrices), and end to end on the
//! overfit scikit-learn digits MLP fixture: reference training, LiRA, RMIA
//! and Shokri, determinism, the balanced IN design and the errors.

use privacy_inspector::attacks::membership::lira::{
    lira_offline, lira_offline_scores, lira_online, lira_online_scores, normal_cdf, LiraConfig,
    VarianceMode,
};
use privacy_inspector::attacks::membership::references::{
    train_references, ReferenceConfig, ReferenceMode, TrainRecipe,
};
use privacy_inspector::attacks::membership::rmia::{
    rmia, rmia_pr_offline, rmia_pr_online, rmia_scores, RmiaConfig, MIN_Z,
};
use privacy_inspector::attacks::membership::shokri::{fit_logistic, shokri, ShokriConfig};
use privacy_inspector::attacks::membership::{AttackError, AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::train::Optimizer;
use privacy_inspector::engine::train::{init_params, train, TrainConfig};
use privacy_inspector::engine::{ParamRole, ParamSet};
use privacy_inspector::onnx::{load, Model};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn reference_json() -> Value {
    let p = fixtures_dir().join("attacks_reference/cases.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    serde_json::from_str(&text).expect("cases.json is JSON")
}

fn cases() -> Vec<Value> {
    reference_json()["cases"].as_array().expect("cases").clone()
}

fn vec_f(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn mat_f(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array").iter().map(vec_f).collect()
}

fn mat_b(v: &Value) -> Vec<Vec<bool>> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("array")
                .iter()
                .map(|b| b.as_bool().expect("bool"))
                .collect()
        })
        .collect()
}

/// Every value within 1e-9, relative to the value's size when it is large.
#[track_caller]
fn check_close(what: &str, got: &[f64], want: &[f64]) {
    check_close_tol(what, got, want, 1e-9)
}

#[track_caller]
fn check_close_tol(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = tol * w.abs().max(1.0);
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, python {w}");
    }
}

#[test]
fn lira_and_rmia_match_the_python_reference_within_1e_9() {
    let cases = cases();
    assert_eq!(cases.len(), 2);
    for c in &cases {
        let seed = c["seed"].as_u64().expect("seed");
        let mask = mat_b(&c["inMask"]);
        let phi = mat_f(&c["refPhi"]);
        let t = vec_f(&c["targetPhi"]);
        let e = &c["expected"];
        for (name, mode) in [
            ("fixed", VarianceMode::Fixed),
            ("per_record", VarianceMode::PerRecord),
        ] {
            let cfg = LiraConfig {
                variance: mode,
                min_std: 1e-6,
            };
            let (on, stats) = lira_online_scores(&t, &phi, &mask, &cfg).unwrap();
            check_close(
                &format!("case {seed} lira_online_{name}"),
                &on,
                &vec_f(&e[format!("lira_online_{name}")]),
            );
            assert_eq!(stats.variance, name);
            let (off, _) = lira_offline_scores(&t, &phi, &mask, &cfg).unwrap();
            check_close(
                &format!("case {seed} lira_offline_{name}"),
                &off,
                &vec_f(&e[format!("lira_offline_{name}")]),
            );
        }
        let none_in: Vec<Vec<bool>> = mask.iter().map(|r| vec![false; r.len()]).collect();
        let cfg = LiraConfig {
            variance: VarianceMode::Fixed,
            min_std: 1e-6,
        };
        let (off, stats) = lira_offline_scores(&t, &phi, &none_in, &cfg).unwrap();
        check_close(
            "lira_offline_all_out_fixed",
            &off,
            &vec_f(&e["lira_offline_all_out_fixed"]),
        );
        assert_eq!(stats.min_out_refs, mask.len());
        // Auto pools below 32 references per side: same as fixed here
        let auto = LiraConfig::default();
        let (a, stats) = lira_online_scores(&t, &phi, &mask, &auto).unwrap();
        assert_eq!(stats.variance, "fixed");
        check_close("auto", &a, &vec_f(&e["lira_online_fixed"]));

        let prob = mat_f(&c["refProb"]);
        let tp = vec_f(&c["targetProb"]);
        let zprob = mat_f(&c["refProbZ"]);
        let tz = vec_f(&c["targetProbZ"]);
        let n = tp.len();
        let nz = tz.len();
        let zmask: Vec<Vec<bool>> = zprob.iter().map(|r| vec![false; r.len()]).collect();
        let prx = rmia_pr_online(&prob, n).unwrap();
        let prz = rmia_pr_online(&zprob, nz).unwrap();
        for (gamma, key) in [(1.0, "rmia_online"), (2.0, "rmia_online_gamma2")] {
            let s = rmia_scores(&tp, &prx, &tz, &prz, gamma).unwrap();
            check_close(key, &s, &vec_f(&e[key]));
            let nzf = nz as f64;
            assert!(
                s.iter().all(|v| (v * nzf - (v * nzf).round()).abs() < 1e-9),
                "quantised to 1/|Z|"
            );
        }
        for (a, key) in [(0.3, "rmia_offline_a0.3"), (1.0, "rmia_offline_a1.0")] {
            let prx = rmia_pr_offline(&prob, &mask, n, a).unwrap();
            let prz = rmia_pr_offline(&zprob, &zmask, nz, a).unwrap();
            let s = rmia_scores(&tp, &prx, &tz, &prz, 1.0).unwrap();
            check_close(key, &s, &vec_f(&e[key]));
        }
    }
}

#[test]
fn shokri_attack_classifier_matches_scipy_minimisation_of_the_same_objective() {
    let all = reference_json();
    let cases = all["logistic"].as_array().expect("logistic cases");
    assert_eq!(cases.len(), 2);
    for c in cases {
        let f = mat_f(&c["features"]);
        let is_in: Vec<bool> = c["isIn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        let l2 = c["l2"].as_f64().unwrap();
        let fit = fit_logistic(&f, &is_in, l2).unwrap();
        // scipy's BFGS stops at |grad| ~ 1e-7, so agree to 1e-6
        check_close_tol("w", &fit.w, &vec_f(&c["w"]), 1e-6);
        check_close_tol("b", &[fit.b], &[c["b"].as_f64().unwrap()], 1e-6);
    }
    assert_eq!(
        fit_logistic(&[vec![1.0]], &[true], 0.0).unwrap_err().code(),
        "bad_config"
    );
}

#[test]
fn normal_cdf_is_accurate_in_both_tails() {
    // mpmath.ncdf at 40 digits
    let cases = [
        (0.0, 0.5),
        (1.0, 0.841_344_746_068_542_9),
        (-1.0, 0.158_655_253_931_457_05),
        (-10.0, 7.619_853_024_160_526e-24),
        (-30.0, 4.906_713_927_148_187e-198),
        (-37.0, 5.725_571_222_524_577e-300),
        (5.0, 0.999_999_713_348_428_1),
    ];
    // relative error 1e-12: the rounding of z / sqrt 2 alone costs about
    // 2 z^2 * 1.1e-16 in the far tail
    for (z, want) in cases {
        let got = normal_cdf(z);
        assert!(
            ((got - want) / want).abs() < 1e-12,
            "Phi({z}) = {got}, want {want}"
        );
    }
}

#[test]
fn matrix_functions_reject_bad_shapes_and_missing_sides() {
    let t = vec![0.0, 1.0];
    let phi = vec![vec![0.0, 1.0], vec![0.5, 0.5]];
    // record 1 is IN for both references: no OUT reference
    let mask = vec![vec![true, true], vec![false, true]];
    let err = lira_online_scores(&t, &phi, &mask, &LiraConfig::default()).unwrap_err();
    assert!(err.to_string().contains("record 1 has no OUT"), "{err}");
    let err = lira_online_scores(&t, &phi[..1], &mask, &LiraConfig::default()).unwrap_err();
    assert!(err.to_string().contains("1 references but 2"), "{err}");
    let bad = LiraConfig {
        variance: VarianceMode::Auto,
        min_std: 0.0,
    };
    assert_eq!(
        lira_online_scores(&t, &phi, &mask, &bad)
            .unwrap_err()
            .code(),
        "bad_config"
    );
    let err = rmia_pr_offline(&phi, &mask, 2, 0.3).unwrap_err();
    assert!(err.to_string().contains("record 1 has no OUT"), "{err}");
    let err = rmia_scores(&[0.5], &[0.5], &[], &[], 1.0).unwrap_err();
    assert!(err.to_string().contains("non-empty"), "{err}");
}

// ---------------------------------------------------------------- end to end

fn load_model(name: &str) -> Model {
    let bytes = std::fs::read(fixtures_dir().join(format!("{name}.onnx"))).expect("model file");
    load(&bytes).expect("model loads")
}

fn records(model: &Model, rel: &str, rows: std::ops::Range<usize>) -> Records {
    let bytes = std::fs::read(fixtures_dir().join(rel)).expect("csv");
    let ds = read_csv(&bytes, &CsvOptions::default()).expect("csv parses");
    let x = ds.to_batch(&model.graph.input).expect("batch");
    let all = Records {
        x,
        y: ds.labels.expect("labels"),
    };
    let idx: Vec<usize> = rows.collect();
    all.select(&idx)
}

/// 200 training digits as members, 200 held-out digits as non-members, the
/// remaining 397 held-out digits as population.
fn digits_audit(model: &Model) -> AuditInputs {
    AuditInputs {
        members: records(model, "data/digits.train.csv", 0..200),
        nonmembers: records(model, "data/digits.test.csv", 0..200),
        population: Some(records(model, "data/digits.test.csv", 200..597)),
    }
}

fn target(model: &Model) -> Target<'_> {
    Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    }
}

/// The recipe the overfit target below was trained with (Adam 1e-3, batch
/// 64, L2 1e-4, 300 epochs).
fn overfit_recipe() -> TrainRecipe {
    TrainRecipe {
        optimizer: Optimizer::adam(1e-3),
        batch_size: 64,
        l2: Some(1e-4),
        max_epochs: 300,
        fixed_epochs: Some(300),
        target_accuracy: None,
        target_loss: None,
    }
}

/// The sk_mlp_relu graph re-trained by the engine on only 100 training
/// digits for 300 epochs: a target that clearly overfits. Members: those
/// 100; non-members: 100 held-out digits; population: 297 other held-out
/// digits.
fn overfit_target(model: &Model) -> (ParamSet, AuditInputs) {
    let inputs = AuditInputs {
        members: records(model, "data/digits.train.csv", 0..100),
        nonmembers: records(model, "data/digits.test.csv", 0..100),
        population: Some(records(model, "data/digits.test.csv", 300..597)),
    };
    let mut params = init_params(&model.graph, &model.params, 99);
    let r = recipe_to_config(&overfit_recipe());
    let rep = train(
        &model.graph,
        &mut params,
        &inputs.members.x,
        &inputs.members.y,
        &r,
        &mut |_| true,
    )
    .expect("target trains");
    assert_eq!(rep.train_accuracy, 1.0);
    (params, inputs)
}

fn recipe_to_config(r: &TrainRecipe) -> TrainConfig {
    TrainConfig {
        optimizer: r.optimizer,
        epochs: r.fixed_epochs.unwrap_or(r.max_epochs),
        batch_size: r.batch_size,
        l2: r.l2.unwrap_or(0.0),
        target_accuracy: None,
        target_loss: None,
        seed: 3,
        dp: None,
        plateau: None,
    }
}

fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut s = 0.0;
    for &p in pos {
        for &n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()) as f64
}

#[test]
fn default_recipe_on_the_fixture_is_calibrated_balanced_and_deterministic() {
    let model = load_model("sk_mlp_relu");
    let inputs = digits_audit(&model);
    let t = target(&model);
    let cfg = ReferenceConfig {
        k: 4,
        seed: 11,
        ..ReferenceConfig::default()
    };
    let mut stages = Vec::new();
    let refs = train_references(&t, &inputs, &cfg, &mut |p| {
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage.clone());
        }
        true
    })
    .expect("references train");
    assert_eq!(
        stages,
        [
            "training reference 1/4",
            "training reference 2/4",
            "training reference 3/4",
            "training reference 4/4",
            "trained 4 references"
        ]
    );
    // calibrated by fit: every reference trains until the median loss on
    // its own training records falls to the target's median loss on the
    // members (or the epoch cap)
    assert_eq!(refs.target_member_accuracy, 1.0);
    let goal = refs.target_fit.members.loss_median;
    assert!(goal.is_finite() && goal > 0.0, "{goal}");
    assert_eq!(refs.recipe.target_loss, Some(goal));
    assert_eq!(refs.recipe.target_accuracy, None);
    for (m, info) in refs.models.iter().enumerate() {
        let fit = info.fit_in.expect("fit on its training records");
        let reached = info.stopped_by == "target_loss" && fit.loss_median <= goal;
        let capped = info.stopped_by == "epochs" && info.epochs_run == refs.recipe.max_epochs;
        assert!(reached || capped, "reference {m}: {info:?}");
        assert_eq!(
            info.train_size,
            refs.in_mask[m].iter().filter(|&&b| b).count()
        );
        assert_eq!(fit.records, info.train_size);
        // OUT: every other audit record (members, non-members, population)
        assert_eq!(
            info.fit_out.unwrap().records,
            200 + 200 + 397 - info.train_size
        );
    }
    let cal = refs.calibration();
    assert_eq!(cal.stop, "target_loss");
    assert_eq!(cal.train_size, 200);
    let in_loss = cal.in_loss_median.unwrap();
    assert!(in_loss.min <= in_loss.median && in_loss.median <= in_loss.max);
    eprintln!("calibration: {}", serde_json::to_string(&cal).unwrap());
    // balanced design: every pool record IN for exactly K/2 = 2 models
    assert_eq!(refs.pool_len, 400);
    for i in 0..refs.pool_len {
        assert_eq!(
            refs.in_mask.iter().filter(|r| r[i]).count(),
            2,
            "record {i}"
        );
    }
    assert_eq!(refs.members.phi.len(), 4);
    assert_eq!(refs.members.phi[0].len(), 200);
    assert_eq!(refs.nonmembers.prob[3].len(), 200);
    assert_eq!(refs.population.as_ref().unwrap().prob[0].len(), 397);
    // the population was not in the pool: all of it is RMIA's Z
    assert_eq!(refs.z_indices.len(), 397);

    // deterministic: same seed, same reference set; another seed differs
    let again = train_references(&t, &inputs, &cfg, &mut |_| true).unwrap();
    assert!(again == refs, "same seed gave a different ReferenceSet");
    let other = ReferenceConfig { seed: 12, ..cfg };
    let other = train_references(&t, &inputs, &other, &mut |_| true).unwrap();
    assert!(other.in_mask != refs.in_mask && other.members.phi != refs.members.phi);

    // This fixture barely leaks membership (onnxruntime: the global phi
    // threshold has AUC 0.504 on all 1200 / 597 digits), so only sanity is
    // checked here; separation is tested on the overfit target below.
    let lira = lira_online(&t, &inputs, &refs, &LiraConfig::default()).unwrap();
    let r = rmia(&t, &inputs, &refs, &RmiaConfig::default()).unwrap();
    eprintln!(
        "fixture AUC: LiRA online {:.3}, RMIA {:.3}",
        auc(&lira.members, &lira.nonmembers),
        auc(&r.members, &r.nonmembers)
    );
    assert!(lira
        .members
        .iter()
        .chain(&lira.nonmembers)
        .all(|v| v.is_finite()));
    assert_eq!(lira.details["stats"]["variance"], "fixed");
    assert_eq!(lira.details["stats"]["minInRefs"], 2);
    assert_eq!(r.details["zSize"], 397);
}

#[test]
fn online_lira_and_rmia_separate_members_of_an_overfit_target() {
    let model = load_model("sk_mlp_relu");
    let (params, inputs) = overfit_target(&model);
    let t = Target {
        params: &params,
        ..target(&model)
    };
    let cfg = ReferenceConfig {
        k: 8,
        recipe: overfit_recipe(),
        seed: 1,
        ..ReferenceConfig::default()
    };
    let refs = train_references(&t, &inputs, &cfg, &mut |_| true).unwrap();
    for i in 0..refs.pool_len {
        assert_eq!(
            refs.in_mask.iter().filter(|r| r[i]).count(),
            4,
            "record {i}"
        );
    }
    let lira = lira_online(&t, &inputs, &refs, &LiraConfig::default()).unwrap();
    let a_lira = auc(&lira.members, &lira.nonmembers);
    let off = lira_offline(&t, &inputs, &refs, &LiraConfig::default()).unwrap();
    let a_off = auc(&off.members, &off.nonmembers);
    let r = rmia(&t, &inputs, &refs, &RmiaConfig::default()).unwrap();
    let a_rmia = auc(&r.members, &r.nonmembers);
    eprintln!("overfit target AUC: LiRA online {a_lira:.3}, offline on OUT refs {a_off:.3}, RMIA {a_rmia:.3}");
    assert!(a_lira > 0.6, "LiRA online AUC {a_lira}");
    assert!(a_off > 0.6, "LiRA offline AUC {a_off}");
    assert!(a_rmia > 0.6, "RMIA AUC {a_rmia}");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&lira.members) > mean(&lira.nonmembers));
    assert!(mean(&r.members) > mean(&r.nonmembers));
    // RMIA scores are multiples of 1/|Z|
    let nz = refs.z_indices.len() as f64;
    assert!(r
        .members
        .iter()
        .all(|v| ((v * nz) - (v * nz).round()).abs() < 1e-9));
}

#[test]
fn offline_references_rmia_with_tuned_a_and_shokri_on_an_overfit_target() {
    let model = load_model("sk_mlp_relu");
    let (params, inputs) = overfit_target(&model);
    let t = Target {
        params: &params,
        ..target(&model)
    };
    let cfg = ReferenceConfig {
        mode: ReferenceMode::Offline,
        k: 4,
        recipe: overfit_recipe(),
        seed: 5,
        ..ReferenceConfig::default()
    };
    let refs = train_references(&t, &inputs, &cfg, &mut |_| true).unwrap();
    assert!(
        refs.in_mask.iter().flatten().all(|&b| !b),
        "offline: all OUT"
    );
    // round(297 / 2) = 148 reserved for Z (297 * 0.5 = 148.5 rounds to 149)
    assert_eq!(refs.z_indices.len(), 149);
    for &z in &refs.z_indices {
        assert!(refs.pop_in_mask.iter().all(|r| !r[z]));
    }
    // each model trains on as many of the other 148 records as the target
    // had members (100): 400 IN places over the 4 models, each record IN
    // for 2 or 3 of them
    let trained: usize = refs
        .pop_in_mask
        .iter()
        .map(|r| r.iter().filter(|&&b| b).count())
        .sum();
    assert_eq!(trained, 400);
    assert_eq!(refs.train_size, 100);
    for info in &refs.models {
        assert!((85..=115).contains(&info.train_size), "{info:?}");
    }
    let lira = lira_offline(&t, &inputs, &refs, &LiraConfig::default()).unwrap();
    let a_lira = auc(&lira.members, &lira.nonmembers);
    assert_eq!(
        lira.details["label"].as_str().unwrap().split(':').next(),
        Some("one-sided (Carlini et al. 2022)")
    );
    let tuned = RmiaConfig {
        tune_a: true,
        ..RmiaConfig::default()
    };
    let r = rmia(&t, &inputs, &refs, &tuned).unwrap();
    let a_rmia = auc(&r.members, &r.nonmembers);
    assert_eq!(r.details["aTuning"]["grid"].as_array().unwrap().len(), 21);
    let a = r.details["a"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&a));
    assert!(matches!(
        lira_online(&t, &inputs, &refs, &LiraConfig::default()),
        Err(AttackError::Needs { .. })
    ));

    let s = shokri(
        &t,
        &inputs,
        &ShokriConfig {
            k: 4,
            recipe: overfit_recipe(),
            ..ShokriConfig::default()
        },
        &mut |_| true,
    )
    .unwrap();
    let a_shokri = auc(&s.members, &s.nonmembers);
    assert!(s
        .members
        .iter()
        .chain(&s.nonmembers)
        .all(|p| (0.0..=1.0).contains(p)));
    eprintln!("offline AUC: LiRA {a_lira:.3}, RMIA {a_rmia:.3} (a = {a}), Shokri {a_shokri:.3}");
    assert!(a_lira > 0.6, "LiRA offline AUC {a_lira}");
    assert!(a_rmia > 0.6, "RMIA offline AUC {a_rmia}");
    assert!(a_shokri > 0.55, "Shokri AUC {a_shokri}");
}

#[test]
fn errors_name_what_is_missing() {
    let model = load_model("sk_mlp_relu");
    let t = target(&model);
    let mut inputs = digits_audit(&model);
    inputs.members = inputs.members.select(&(0..20).collect::<Vec<_>>());
    inputs.nonmembers = inputs.nonmembers.select(&(0..20).collect::<Vec<_>>());
    let tiny = ReferenceConfig {
        k: 2,
        recipe: TrainRecipe {
            fixed_epochs: Some(1),
            ..TrainRecipe::default()
        },
        ..ReferenceConfig::default()
    };

    // no population: offline references, RMIA, Shokri
    let no_pop = AuditInputs {
        population: None,
        ..inputs.clone()
    };
    let offline = ReferenceConfig {
        mode: ReferenceMode::Offline,
        ..tiny.clone()
    };
    let err = train_references(&t, &no_pop, &offline, &mut |_| true).unwrap_err();
    assert_eq!(err.code(), "attack_needs_more", "{err}");
    assert!(err.to_string().contains("population"), "{err}");
    let refs = train_references(&t, &no_pop, &tiny, &mut |_| true).unwrap();
    let err = rmia(&t, &no_pop, &refs, &RmiaConfig::default()).unwrap_err();
    assert!(matches!(err, AttackError::Needs { .. }), "{err}");
    assert!(err.to_string().contains("population"), "{err}");
    let err = shokri(&t, &no_pop, &ShokriConfig::default(), &mut |_| true).unwrap_err();
    assert!(
        err.to_string().contains("population CSV with at least 20"),
        "{err}"
    );

    // too small a population for RMIA's Z
    let small = AuditInputs {
        population: Some(inputs.population.as_ref().unwrap().select(&[0, 1, 2, 3, 4])),
        ..inputs.clone()
    };
    let refs = train_references(&t, &small, &tiny, &mut |_| true).unwrap();
    let err = rmia(&t, &small, &refs, &RmiaConfig::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("at least {MIN_Z}")) && msg.contains("got 5"),
        "{msg}"
    );
    let err = shokri(&t, &small, &ShokriConfig::default(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("(got 5)"), "{err}");

    // cancelling
    let err = train_references(&t, &inputs, &tiny, &mut |_| false).unwrap_err();
    assert_eq!(err, AttackError::Cancelled);

    // K too small for online
    let one = ReferenceConfig {
        k: 1,
        ..tiny.clone()
    };
    assert_eq!(
        train_references(&t, &inputs, &one, &mut |_| true)
            .unwrap_err()
            .code(),
        "bad_config"
    );

    // untrainable: every parameter a constant
    let mut frozen = model.graph.clone();
    for p in &mut frozen.params {
        p.role = ParamRole::Constant;
    }
    let ft = Target {
        graph: &frozen,
        ..t
    };
    let err = train_references(&ft, &inputs, &tiny, &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("no trainable weights"), "{err}");
    let err = shokri(&ft, &inputs, &ShokriConfig::default(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("no trainable weights"), "{err}");
}

#[test]
fn online_pool_with_population_keeps_z_out_of_every_training_set() {
    let model = load_model("sk_mlp_relu");
    let t = target(&model);
    let inputs = AuditInputs {
        members: records(&model, "data/digits.train.csv", 0..20),
        nonmembers: records(&model, "data/digits.test.csv", 0..20),
        population: Some(records(&model, "data/digits.test.csv", 100..130)),
    };
    let cfg = ReferenceConfig {
        k: 4,
        population_in_pool: true,
        z_reserve: 0.4,
        recipe: TrainRecipe {
            fixed_epochs: Some(2),
            ..TrainRecipe::default()
        },
        ..ReferenceConfig::default()
    };
    let refs = train_references(&t, &inputs, &cfg, &mut |_| true).unwrap();
    // 30 * 0.4 = 12 reserved for Z, the other 18 join the pool
    assert_eq!(refs.z_indices.len(), 12);
    assert_eq!(refs.pool_population.len(), 18);
    assert_eq!(refs.pool_len, 58);
    for (q, &j) in refs.pool_population.iter().enumerate() {
        assert!(refs.z_indices.binary_search(&j).is_err());
        for m in 0..4 {
            assert_eq!(refs.pop_in_mask[m][j], refs.in_mask[m][40 + q]);
        }
        // each model trains on the member count (20) of the 58 pool
        // records: inclusion 20/58 of K = 4 is 1.38 models per record
        let c = refs.pop_in_mask.iter().filter(|r| r[j]).count();
        assert!(c == 1 || c == 2, "{c}");
    }
    let total: usize = refs.in_mask.iter().flatten().filter(|&&b| b).count();
    assert_eq!(total, 80, "4 models x 20 records");
    assert_eq!(refs.train_size, 20);
    for &z in &refs.z_indices {
        assert!(refs.pop_in_mask.iter().all(|r| !r[z]));
    }
    for (m, info) in refs.models.iter().enumerate() {
        assert_eq!(
            info.train_size,
            refs.in_mask[m].iter().filter(|&&b| b).count()
        );
        assert_eq!(info.epochs_run, 2);
    }
    let r = rmia(&t, &inputs, &refs, &RmiaConfig::default()).unwrap();
    assert_eq!(r.details["zSize"], 12);
    assert_eq!(r.members.len(), 20);
}
