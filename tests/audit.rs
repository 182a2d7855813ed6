//! The membership audit end to end on targets trained by the engine on the
//! digits data (tests/fixtures/data/digits.csv):
//! - validity: a target that never saw the "members" gives every attack an
//!   AUC CI that contains 0.5, for several seeds;
//! - power: a deliberately overfit target gives LiRA and RMIA a higher TPR
//!   at 1% FPR than the loss attack;
//! - determinism and bad input.

use privacy_inspector::attacks::membership::audit::{
    run_audit, AuditOutcome, AuditSettings, ALL_ATTACKS,
};
use privacy_inspector::attacks::membership::references::TrainRecipe;
use privacy_inspector::attacks::membership::{AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::train::{init_params, train, Optimizer, TrainConfig};
use privacy_inspector::engine::{ParamSet, Tensor};
use privacy_inspector::onnx::{load, Model};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .expect(rel)
}

/// The torch 64-32-10 logit MLP graph and all 1797 digits, shuffled.
fn setup(seed: u64) -> (Model, Records) {
    let model = load(&fixture("torch_mlp_logits.onnx")).expect("model");
    let ds = read_csv(
        &fixture("data/digits.csv"),
        &CsvOptions {
            require_label: true,
            ..CsvOptions::default()
        },
    )
    .expect("digits");
    let x = ds.to_batch(&model.graph.input).expect("batch");
    let all = Records {
        x,
        y: ds.labels.expect("labels"),
    };
    let mut idx: Vec<usize> = (0..all.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    (model, all.select(&idx))
}

fn slice(r: &Records, a: usize, b: usize) -> Records {
    r.select(&(a..b).collect::<Vec<_>>())
}

fn fit(model: &Model, data: &Records, epochs: usize, seed: u64) -> ParamSet {
    let mut params = init_params(&model.graph, &model.params, seed);
    let cfg = TrainConfig {
        optimizer: Optimizer::adam(0.01),
        epochs,
        batch_size: 32,
        l2: 0.0,
        target_accuracy: None,
        target_loss: None,
        seed,
        dp: None,
        plateau: None,
    };
    train(
        &model.graph,
        &mut params,
        &data.x,
        &data.y,
        &cfg,
        &mut |_| true,
    )
    .expect("train");
    params
}

fn audit(
    model: &Model,
    params: &ParamSet,
    inputs: &AuditInputs,
    seed: u64,
    epochs: usize,
) -> AuditOutcome {
    let target = Target {
        graph: &model.graph,
        params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    };
    let settings = AuditSettings {
        references: 8,
        seed,
        recipe: TrainRecipe {
            optimizer: Optimizer::adam(0.01),
            batch_size: 32,
            fixed_epochs: Some(epochs),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    run_audit(&target, inputs, settings, &mut |_| true).expect("audit")
}

/// Six independent data splits and seeds. A 95% CI excludes 0.5 by chance
/// in about 1 of 20 audits even without any signal, so asking that all 84
/// CIs contain 0.5 would test luck, not the code (with 14 attacks, "at most
/// one exclusion in six" would still fail a correct implementation about a
/// third of the time). What must hold, each with a family-wise false-alarm
/// rate under 5% over the 14 attacks: for every attack at most two of the
/// six CIs exclude 0.5 (P = 0.2% per attack under no signal), and the mean
/// AUC over the six audits is within 0.035 of 0.5 (3 standard errors: the
/// null SD of one AUC with 200 vs 200 records is 0.029). A biased attack
/// (e.g. one whose references saw the audit records) fails both.
#[test]
fn no_membership_signal_gives_cis_containing_one_half() {
    let seeds = [1u64, 2, 3, 4, 5, 6];
    let mut per_attack: std::collections::BTreeMap<String, Vec<(f64, [f64; 2])>> =
        Default::default();
    for seed in seeds {
        let (model, all) = setup(100 + seed);
        // the target trains on rows 0..300; members and non-members are
        // both records it never saw
        let params = fit(&model, &slice(&all, 0, 300), 60, seed);
        let inputs = AuditInputs {
            members: slice(&all, 300, 500),
            nonmembers: slice(&all, 500, 700),
            population: Some(slice(&all, 700, 1100)),
        };
        let out = audit(&model, &params, &inputs, seed, 60);
        assert_eq!(out.attacks.len(), ALL_ATTACKS.len());
        for a in &out.attacks {
            let s = a
                .stats
                .as_ref()
                .unwrap_or_else(|| panic!("{} skipped: {:?}", a.id, a.skipped));
            per_attack
                .entry(a.id.clone())
                .or_default()
                .push((s.auc, s.auc_ci95));
        }
    }
    for (id, runs) in &per_attack {
        let excluded = runs
            .iter()
            .filter(|(_, ci)| !(ci[0] <= 0.5 && 0.5 <= ci[1]))
            .count();
        let mean = runs.iter().map(|(a, _)| a).sum::<f64>() / runs.len() as f64;
        assert!(
            excluded <= 2,
            "{id}: {excluded} of {} CIs exclude 0.5: {runs:?}",
            runs.len()
        );
        assert!(
            (mean - 0.5).abs() < 0.035,
            "{id}: mean AUC {mean:.3} without any membership signal: {runs:?}"
        );
    }
}

#[test]
fn overfit_target_lira_and_rmia_beat_the_loss_attack_at_low_fpr() {
    let (model, all) = setup(7);
    let members = slice(&all, 0, 200);
    let params = fit(&model, &members, 150, 1);
    let inputs = AuditInputs {
        members,
        nonmembers: slice(&all, 200, 400),
        population: Some(slice(&all, 400, 1000)),
    };
    let out = audit(&model, &params, &inputs, 5, 150);
    let tpr = |id: &str| {
        let a = out.attacks.iter().find(|a| a.id == id).expect(id);
        let s = a
            .stats
            .as_ref()
            .unwrap_or_else(|| panic!("{id} skipped: {:?}", a.skipped));
        assert!(s.tpr_at_fpr["0.01"].resolvable);
        (s.tpr_at_fpr["0.01"].tpr, s.auc)
    };
    let (loss, loss_auc) = tpr("loss");
    assert!(
        loss_auc > 0.6,
        "the target should be overfit: loss AUC {loss_auc}"
    );
    for id in ["lira_online", "rmia_online"] {
        let (t, auc) = tpr(id);
        assert!(
            t > loss,
            "{id}: TPR@1%FPR {t:.3} (AUC {auc:.3}) vs loss {loss:.3} (AUC {loss_auc:.3})"
        );
    }
}

#[test]
fn same_seed_same_report_and_bad_inputs_are_clear_errors() {
    let (model, all) = setup(9);
    let params = fit(&model, &slice(&all, 0, 100), 20, 1);
    let inputs = AuditInputs {
        members: slice(&all, 0, 100),
        nonmembers: slice(&all, 100, 200),
        population: None,
    };
    let target = Target {
        graph: &model.graph,
        params: &params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    };
    let quick = || AuditSettings {
        attacks: AuditSettings::parse_attacks("quick,lira_online").unwrap(),
        references: 4,
        seed: 11,
        recipe: TrainRecipe {
            fixed_epochs: Some(5),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    let a = run_audit(&target, &inputs, quick(), &mut |_| true).unwrap();
    let b = run_audit(&target, &inputs, quick(), &mut |_| true).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    // without population: offline attacks, RMIA and Shokri are skipped, with the reason
    let all_attacks = run_audit(
        &target,
        &inputs,
        AuditSettings {
            references: 2,
            recipe: TrainRecipe {
                fixed_epochs: Some(2),
                ..TrainRecipe::default()
            },
            ..AuditSettings::default()
        },
        &mut |_| true,
    )
    .unwrap();
    for id in ["lira_offline", "rmia_online", "rmia_offline", "shokri"] {
        let r = all_attacks.attacks.iter().find(|r| r.id == id).unwrap();
        let why = r
            .skipped
            .as_deref()
            .unwrap_or_else(|| panic!("{id} should be skipped"));
        assert!(why.contains("population"), "{id}: {why}");
    }
    // a population too small for RMIA
    let tiny = AuditInputs {
        population: Some(slice(&all, 200, 205)),
        ..inputs.clone()
    };
    let r = run_audit(
        &target,
        &tiny,
        AuditSettings {
            attacks: vec!["rmia_online".into()],
            references: 2,
            recipe: TrainRecipe {
                fixed_epochs: Some(1),
                ..TrainRecipe::default()
            },
            ..AuditSettings::default()
        },
        &mut |_| true,
    )
    .unwrap();
    let why = r.attacks[0].skipped.as_deref().expect("rmia skipped");
    assert!(why.contains("got 5") || why.contains("5 "), "{why}");
    // labels outside the model's classes
    let mut bad = inputs.clone();
    bad.nonmembers.y[3] = 12;
    let e = run_audit(&target, &bad, quick(), &mut |_| true).unwrap_err();
    assert!(
        e.to_string()
            .contains("non-members row 4: label 12 is outside the model's 10 classes"),
        "{e}"
    );
    // empty member set
    let empty = AuditInputs {
        members: Records {
            x: Tensor::zeros(ndarray::IxDyn(&[0, 64])),
            y: vec![],
        },
        ..inputs.clone()
    };
    let e = run_audit(&target, &empty, quick(), &mut |_| true).unwrap_err();
    assert!(
        e.to_string()
            .contains("needs members and non-members (got 0 and 100)"),
        "{e}"
    );
    // unknown attack id
    let e = AuditSettings::parse_attacks("loss,lira").unwrap_err();
    assert!(e.to_string().contains("unknown attack 'lira'"), "{e}");
    // cancel
    let e = run_audit(&target, &inputs, quick(), &mut |p| p.done < 2).unwrap_err();
    assert_eq!(e.code(), "cancelled");
}

/// A model the engine cannot train still gets every attack that needs no
/// reference models; the others are skipped and the report says why.
#[test]
fn untrainable_models_skip_reference_attacks_with_the_reason() {
    let (mut model, all) = setup(13);
    for p in &mut model.graph.params {
        p.role = privacy_inspector::engine::ParamRole::Constant;
    }
    let inputs = AuditInputs {
        members: slice(&all, 0, 100),
        nonmembers: slice(&all, 100, 200),
        population: Some(slice(&all, 200, 400)),
    };
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    };
    let out = run_audit(
        &target,
        &inputs,
        AuditSettings {
            references: 2,
            ..AuditSettings::default()
        },
        &mut |_| true,
    )
    .unwrap();
    for a in &out.attacks {
        let needs_refs = [
            "shokri",
            "lira_online",
            "lira_offline",
            "rmia_online",
            "rmia_offline",
        ]
        .contains(&a.id.as_str());
        if needs_refs {
            let why = a
                .skipped
                .as_deref()
                .unwrap_or_else(|| panic!("{} should be skipped", a.id));
            assert!(why.contains("cannot be trained"), "{}: {why}", a.id);
        } else {
            assert!(a.stats.is_some(), "{} should run: {:?}", a.id, a.skipped);
        }
    }
}

/// The worker-pool / multi-process path: every reference of both sets
/// trained on its own (in a shuffled order, each through a JSON round trip
/// as it crosses between workers) and handed to `run_audit_with` gives a
/// report byte-identical to the one that trained them itself; a missing,
/// duplicated or mis-sized reference is a clear error.
#[test]
fn references_trained_apart_and_merged_give_the_identical_report() {
    use privacy_inspector::attacks::membership::audit::{
        needed_reference_modes, reference_config, run_audit_with, PrecomputedReferences,
    };
    use privacy_inspector::attacks::membership::references::{
        plan_references, ReferenceMode, TrainedReference,
    };
    let (model, all) = setup(21);
    let params = fit(&model, &slice(&all, 0, 80), 30, 2);
    let inputs = AuditInputs {
        members: slice(&all, 0, 80),
        nonmembers: slice(&all, 80, 160),
        population: Some(slice(&all, 160, 260)),
    };
    let target = Target {
        graph: &model.graph,
        params: &params,
        output_kind: model.graph.output_kind,
        num_classes: 10,
    };
    let settings = AuditSettings {
        attacks: AuditSettings::parse_attacks(
            "loss,lira_online,rmia_online,lira_offline,rmia_offline",
        )
        .unwrap(),
        references: 5,
        seed: 77,
        recipe: TrainRecipe {
            fixed_epochs: Some(4),
            ..TrainRecipe::default()
        },
        ..AuditSettings::default()
    };
    let whole = run_audit(&target, &inputs, settings.clone(), &mut |_| true).unwrap();

    let valid = settings.clone().validate().unwrap();
    let modes = needed_reference_modes(&valid);
    assert_eq!(modes, vec![ReferenceMode::Online, ReferenceMode::Offline]);
    let mut pre = PrecomputedReferences::default();
    for (salt, mode) in modes.into_iter().enumerate() {
        let plan = plan_references(&target, &inputs, &reference_config(&valid, mode)).unwrap();
        let mut order: Vec<usize> = (0..plan.k).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(salt as u64));
        let trained: Vec<TrainedReference> = order
            .iter()
            .map(|&m| {
                // each model from a fresh plan, as a separate worker would
                let own =
                    plan_references(&target, &inputs, &reference_config(&valid, mode)).unwrap();
                let t = own.train(&target, &inputs, m, &mut |_| true).unwrap();
                serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap()
            })
            .collect();
        match mode {
            ReferenceMode::Online => pre.online = Some(trained),
            ReferenceMode::Offline => pre.offline = Some(trained),
        }
    }
    let merged = run_audit_with(&target, &inputs, settings.clone(), pre.clone(), &mut |_| {
        true
    })
    .unwrap();
    let (a, b) = (
        serde_json::to_string(&whole).unwrap(),
        serde_json::to_string(&merged).unwrap(),
    );
    assert!(a.contains("\"lira_offline\"") && a.contains("\"rmia_online\""));
    if let Some(at) = a.bytes().zip(b.bytes()).position(|(x, y)| x != y) {
        let from = at.saturating_sub(200);
        panic!(
            "reports differ at byte {at}:\n{}\nvs\n{}",
            &a[from..(at + 80).min(a.len())],
            &b[from..(at + 80).min(b.len())]
        );
    }
    assert_eq!(a.len(), b.len());

    // a reference missing, given twice, or with the wrong number of signals
    let mut missing = pre.clone();
    missing.online.as_mut().unwrap().pop();
    let e = run_audit_with(&target, &inputs, settings.clone(), missing, &mut |_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    let mut twice = pre.clone();
    let first = twice.online.as_ref().unwrap()[0].clone();
    twice.online.as_mut().unwrap()[1] = first;
    let e = run_audit_with(&target, &inputs, settings.clone(), twice, &mut |_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("given twice"), "{e}");
    let mut short = pre;
    short.offline.as_mut().unwrap()[2].members.0.pop();
    let e = run_audit_with(&target, &inputs, settings, short, &mut |_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("79 members") || e.contains("signals for"), "{e}");
}
