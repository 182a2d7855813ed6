//! Training and whole-graph autodiff on hand-built graphs.

mod common;

use ndarray::{ArrayD, IxDyn};
use privacy_inspector::engine::train::{accuracy, init_params, train, Optimizer, TrainConfig};
use privacy_inspector::engine::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn fresh_mlp_learns_blobs_and_stops_at_target_accuracy() {
    let (graph, template) = common::mlp(4, 16, 5, 1);
    let (x, y) = common::blobs(5, 60, 4, 2);
    let mut params = init_params(&graph, &template, 7);
    let before = accuracy(&graph, &params, &x, &y, 64).unwrap();
    assert!(
        before < 0.6,
        "a fresh model should not already know the data: {before}"
    );
    let cfg = TrainConfig {
        optimizer: Optimizer::adam(0.003),
        epochs: 200,
        batch_size: 32,
        l2: 1e-4,
        target_accuracy: Some(0.97),
        target_loss: None,
        seed: 3,
        dp: None,
        plateau: None,
    };
    let mut epochs_seen = 0;
    let report = train(&graph, &mut params, &x, &y, &cfg, &mut |p| {
        epochs_seen = p.epoch;
        true
    })
    .unwrap();
    let after = accuracy(&graph, &params, &x, &y, 64).unwrap();
    assert!(after >= 0.97, "accuracy {before} -> {after}");
    assert_eq!(report.stopped_by, "target_accuracy");
    assert_eq!(report.epochs_run, epochs_seen);
    assert!(
        report.epochs_run > 1 && report.epochs_run < 200,
        "{}",
        report.epochs_run
    );
    assert!((report.train_accuracy - after).abs() < 1e-12);
    // the loss went down
    assert!(report.loss_history.last().unwrap() < report.loss_history.first().unwrap());
}

#[test]
fn sgd_with_momentum_also_learns() {
    let (graph, template) = common::mlp(4, 16, 3, 1);
    let (x, y) = common::blobs(3, 60, 4, 5);
    let mut params = init_params(&graph, &template, 1);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
        },
        epochs: 60,
        batch_size: 16,
        l2: 0.0,
        target_accuracy: None,
        target_loss: None,
        seed: 1,
        dp: None,
        plateau: None,
    };
    let report = train(&graph, &mut params, &x, &y, &cfg, &mut |_| true).unwrap();
    assert_eq!(report.epochs_run, 60);
    assert!(report.train_accuracy > 0.9, "{}", report.train_accuracy);
}

#[test]
fn training_is_bit_identical_for_a_seed_and_differs_across_seeds() {
    let (graph, template) = common::mlp(4, 8, 3, 1);
    let (x, y) = common::blobs(3, 30, 4, 9);
    let cfg = TrainConfig {
        epochs: 5,
        ..TrainConfig::default()
    };
    let run = |init_seed, seed| {
        let mut p = init_params(&graph, &template, init_seed);
        train(
            &graph,
            &mut p,
            &x,
            &y,
            &TrainConfig {
                seed,
                ..cfg.clone()
            },
            &mut |_| true,
        )
        .unwrap();
        p
    };
    let a = run(11, 4);
    let b = run(11, 4);
    let c = run(11, 5);
    let d = run(12, 4);
    for (pa, pb) in a.iter().zip(&b) {
        assert_eq!(
            pa.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            pb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
    assert_ne!(a[0], c[0], "shuffling seed must matter");
    assert_ne!(a[0], d[0], "init seed must matter");
}

#[test]
fn cancel_stops_after_the_current_epoch() {
    let (graph, template) = common::mlp(4, 8, 3, 1);
    let (x, y) = common::blobs(3, 30, 4, 9);
    let mut p = init_params(&graph, &template, 0);
    let r = train(
        &graph,
        &mut p,
        &x,
        &y,
        &TrainConfig {
            epochs: 50,
            ..TrainConfig::default()
        },
        &mut |e| e.epoch < 3,
    )
    .unwrap();
    assert_eq!(r.epochs_run, 3);
    assert_eq!(r.stopped_by, "cancelled");
}

#[test]
fn bad_configs_and_labels_are_clear_errors() {
    let (graph, template) = common::mlp(4, 8, 3, 1);
    let (x, mut y) = common::blobs(3, 10, 4, 9);
    let mut p = init_params(&graph, &template, 0);
    let e = train(
        &graph,
        &mut p,
        &x,
        &y,
        &TrainConfig {
            epochs: 0,
            ..TrainConfig::default()
        },
        &mut |_| true,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("training epochs (epochs, --epochs) must be 1 to 100,000, got 0"),
        "{e}"
    );
    let e = train(
        &graph,
        &mut p,
        &x,
        &y,
        &TrainConfig {
            optimizer: Optimizer::adam(-1.0),
            ..TrainConfig::default()
        },
        &mut |_| true,
    )
    .unwrap_err();
    assert!(e.to_string().contains("learning rate"), "{e}");
    y[4] = 7;
    let e = train(&graph, &mut p, &x, &y, &TrainConfig::default(), &mut |_| {
        true
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("label 7 is outside the model's 3 classes"),
        "{e}"
    );
    let e = train(
        &graph,
        &mut p,
        &x,
        &y[..5],
        &TrainConfig::default(),
        &mut |_| true,
    )
    .unwrap_err();
    assert!(e.to_string().contains("30 rows, 5 labels"), "{e}");
}

/// Whole-graph reverse pass against central differences (f32, so a loose
/// relative tolerance): d/dx and d/dW of sum(out * r).
#[test]
fn graph_backward_matches_finite_differences() {
    let (mut graph, params) = common::mlp(5, 7, 4, 21);
    // smooth activation, so a finite-difference step never crosses a kink
    graph.nodes[2].op = privacy_inspector::engine::Op::Tanh;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x: Tensor = ArrayD::from_shape_simple_fn(IxDyn(&[3, 5]), || rng.gen_range(-1.0f32..1.0));
    let r: Tensor = ArrayD::from_shape_simple_fn(IxDyn(&[3, 4]), || rng.gen_range(-1.0f32..1.0));
    let f = |x: &Tensor, params: &Vec<Tensor>| -> f64 {
        let y = graph.forward(params, x).unwrap();
        y.iter()
            .zip(r.iter())
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let tape = graph.forward_tape(&params, &x).unwrap();
    let g = graph.backward(&tape, r.clone()).unwrap();
    let eps = 1e-2f32;
    for i in 0..x.len() {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.as_slice_mut().unwrap()[i] += eps;
        xm.as_slice_mut().unwrap()[i] -= eps;
        let fd = (f(&xp, &params) - f(&xm, &params)) / (2.0 * eps as f64);
        let an = g.input.as_slice().unwrap()[i] as f64;
        assert!(
            (fd - an).abs() <= 2e-3 + 2e-2 * fd.abs(),
            "dx[{i}]: fd {fd} vs {an}"
        );
    }
    for (k, p) in params.iter().enumerate() {
        for i in 0..p.len() {
            let mut pp = params.clone();
            let mut pm = params.clone();
            pp[k].as_slice_mut().unwrap()[i] += eps;
            pm[k].as_slice_mut().unwrap()[i] -= eps;
            let fd = (f(&x, &pp) - f(&x, &pm)) / (2.0 * eps as f64);
            let an = g.params[k].as_slice().unwrap()[i] as f64;
            assert!(
                (fd - an).abs() <= 2e-3 + 2e-2 * fd.abs(),
                "dparam{k}[{i}]: fd {fd} vs {an}"
            );
        }
    }
}

/// A model trained to convergence with an L2 penalty sits where the loss
/// gradient balances it: `l2_stationarity` gives back the coefficient (the
/// trainer's convention) with a cosine near 1, and the convergence stop
/// (`plateau`) ends the run before the epoch limit. An unpenalised model
/// stopped early gives a coefficient far from it.
#[test]
fn l2_stationarity_recovers_the_penalty_a_model_was_trained_with() {
    use privacy_inspector::engine::train::{l2_stationarity, Plateau};
    let (graph, template) = common::mlp(4, 8, 3, 1);
    let (x, y) = common::blobs(3, 60, 4, 11);
    for l2 in [0.02f32, 0.1] {
        let mut params = init_params(&graph, &template, 5);
        // full batch, plain gradient descent: the end point is the
        // penalised objective's stationary point, not a noisy neighbour
        let cfg = TrainConfig {
            optimizer: Optimizer::Sgd {
                lr: 0.2,
                momentum: 0.9,
            },
            epochs: 20_000,
            batch_size: y.len(),
            l2,
            target_accuracy: None,
            target_loss: None,
            seed: 1,
            dp: None,
            plateau: Some(Plateau {
                tol: 1e-9,
                patience: 50,
            }),
        };
        let report = train(&graph, &mut params, &x, &y, &cfg, &mut |_| true).unwrap();
        assert_eq!(report.stopped_by, "plateau", "l2 {l2}");
        assert!(report.epochs_run < 20_000);
        let s = l2_stationarity(&graph, &params, &x, &y, 37).unwrap();
        assert!(
            (s.l2 - l2 as f64).abs() < 0.02 * l2 as f64,
            "l2 {l2}: estimated {s:?}"
        );
        assert!(s.cosine > 0.999 && s.residual < 0.05, "l2 {l2}: {s:?}");
        assert_eq!(s.records, y.len());
    }
    // no penalty, a few epochs: the gradient is not an L2 equilibrium
    let mut params = init_params(&graph, &template, 5);
    let cfg = TrainConfig {
        optimizer: Optimizer::adam(0.01),
        epochs: 3,
        batch_size: 16,
        ..TrainConfig::default()
    };
    train(&graph, &mut params, &x, &y, &cfg, &mut |_| true).unwrap();
    let s = l2_stationarity(&graph, &params, &x, &y, 64).unwrap();
    eprintln!("early-stopped: {s:?}");
    assert!(
        s.cosine < privacy_inspector::attacks::membership::references::L2_MIN_COSINE,
        "{s:?}"
    );
}
