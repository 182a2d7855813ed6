//! Signals, threshold attacks, label-only attacks and the privacy risk score.
//!
//! References: tests/fixtures/attacks_threshold/gen_reference.py (mpmath
//! signal values, a port of the risk-score authors' code, and the loss
//! attack on two digits fixtures with onnxruntime + scikit-learn); analytic
//! boundary distances of linear models; brute-force counts written here.

mod common;

use ndarray::{ArrayD, IxDyn};
use privacy_inspector::attacks::membership::label_only::{
    boundary_points, gap_scores, run_boundary_distance_gradient, run_gap, run_noise_robustness,
    BoundaryConfig, BoundaryStatus, FeatureStats, NoiseConfig,
};
use privacy_inspector::attacks::membership::risk_score::{self, RiskModel, RiskScoreConfig};
use privacy_inspector::attacks::membership::signals::{
    phi_for, signal, signals_for, signals_with, ModelOutput, Signal, Source,
};
use privacy_inspector::attacks::membership::threshold::{self, ThresholdAttack, ThresholdConfig};
use privacy_inspector::attacks::membership::{
    predict_probs, predict_raw, AttackError, AttackOutput, AuditInputs, Records, Target,
};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::proba::{argmax_rows, probabilities};
use privacy_inspector::engine::train::{init_params, train, Optimizer, TrainConfig};
use privacy_inspector::engine::{
    Dim, Graph, Input, Node, Op, OutputKind, Param, ParamRole, ParamSet, Tensor,
};
use privacy_inspector::onnx::{load, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------- helpers

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json(name: &str) -> Value {
    let p = fixtures().join("attacks_threshold").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("reference file"))
        .expect("reference JSON")
}

fn model(file: &str) -> Model {
    load(&std::fs::read(fixtures().join(file)).expect("model file")).expect("model loads")
}

fn records(m: &Model, csv: &str, rows: std::ops::Range<usize>) -> Records {
    let ds = read_csv(
        &std::fs::read(fixtures().join(csv)).expect("csv"),
        &CsvOptions {
            require_label: true,
            ..CsvOptions::default()
        },
    )
    .expect("csv parses");
    let x = ds.to_batch(&m.graph.input).expect("batch");
    let r = Records {
        x,
        y: ds.labels.expect("labels"),
    };
    let end = rows.end.min(r.len());
    r.select(&(rows.start..end).collect::<Vec<_>>())
}

fn target(m: &Model) -> Target<'_> {
    Target {
        graph: &m.graph,
        params: &m.params,
        output_kind: m.graph.output_kind,
        num_classes: 10,
    }
}

/// Mann-Whitney AUC, ties counted 1/2.
fn auc(members: &[f64], nonmembers: &[f64]) -> f64 {
    let mut s = 0.0;
    for &a in members {
        for &b in nonmembers {
            s += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (members.len() * nonmembers.len()) as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: got {got}, want {want} (tol {tol})"
    );
}

/// `x [N, d] -> x W + b` (logits), optionally followed by Softmax (or by
/// Sigmoid for a single column).
fn linear(w: &[Vec<f32>], b: &[f32], squash: bool) -> (Graph, ParamSet) {
    let d = w.len();
    let k = b.len();
    let wt = ArrayD::from_shape_vec(IxDyn(&[d, k]), w.iter().flatten().copied().collect())
        .expect("W shape");
    let bt = ArrayD::from_shape_vec(IxDyn(&[k]), b.to_vec()).expect("b shape");
    let node = |op: Op, inputs: Vec<usize>, output| Node {
        name: format!("n{output}"),
        source_op: op.name().into(),
        op,
        inputs,
        output,
    };
    let mut nodes = vec![
        node(Op::MatMul, vec![0, 1], 3),
        node(Op::Add, vec![3, 2], 4),
    ];
    let mut output = 4;
    let mut kind = OutputKind::Logits;
    if squash {
        let op = if k == 1 {
            Op::Sigmoid
        } else {
            Op::Softmax {
                axis: -1,
                coerce_2d: false,
            }
        };
        nodes.push(node(op, vec![4], 5));
        output = 5;
        kind = OutputKind::Probabilities;
    }
    let graph = Graph {
        value_names: (0..6).map(|i| format!("v{i}")).collect(),
        input: Input {
            name: "x".into(),
            value: 0,
            shape: vec![Dim::Symbolic("N".into()), Dim::Fixed(d)],
        },
        params: vec![
            Param {
                name: "W".into(),
                value: 1,
                role: ParamRole::Weight {
                    fan_in: d,
                    fan_out: k,
                },
            },
            Param {
                name: "b".into(),
                value: 2,
                role: ParamRole::Bias,
            },
        ],
        nodes,
        output,
        output_name: "out".into(),
        output_kind: kind,
        opset: 13,
        source_ops: vec![],
    };
    (graph, vec![wt, bt])
}

fn random_records(n: usize, d: usize, k: usize, seed: u64) -> Records {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Tensor::from_shape_simple_fn(IxDyn(&[n, d]), || rng.gen_range(-1.0f32..1.0));
    let y = (0..n).map(|_| rng.gen_range(0..k)).collect();
    Records { x, y }
}

/// A deliberately overfit digits target: the 64-32-10 graph of sk_mlp_relu
/// re-initialised and trained by the engine on 100 records only.
struct Overfit {
    model: Model,
    inputs: AuditInputs,
}

fn overfit() -> Overfit {
    let mut m = model("sk_mlp_relu_nozipmap.onnx");
    let members = records(&m, "data/digits.train.csv", 0..100);
    let nonmembers = records(&m, "data/digits.test.csv", 0..200);
    let population = records(&m, "data/digits.test.csv", 200..400);
    let mut params = init_params(&m.graph, &m.params, 7);
    let cfg = TrainConfig {
        optimizer: Optimizer::adam(0.01),
        epochs: 150,
        batch_size: 20,
        l2: 0.0,
        target_accuracy: None,
        target_loss: None,
        seed: 7,
        dp: None,
        plateau: None,
    };
    let rep = train(
        &m.graph,
        &mut params,
        &members.x,
        &members.y,
        &cfg,
        &mut |_| true,
    )
    .expect("training");
    assert_eq!(
        rep.train_accuracy, 1.0,
        "the overfit target fits its members"
    );
    m.params = params;
    Overfit {
        model: m,
        inputs: AuditInputs {
            members,
            nonmembers,
            population: Some(population),
        },
    }
}

fn predicted(t: &Target, x: &Tensor) -> Vec<usize> {
    let out = t.graph.forward(t.params, x).expect("forward");
    argmax_rows(&probabilities(&out, t.output_kind).expect("probabilities"))
}

fn with_bad_label(r: &Records, row: usize, label: usize) -> Records {
    let mut r = r.clone();
    r.y[row] = label;
    r
}

// ---------------------------------------------------------------- signals

#[test]
fn signals_match_the_mpmath_reference() {
    let cases = json("signals.json");
    let cases = cases["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for c in cases {
        let row: Vec<f64> = c["row"]
            .as_array()
            .expect("row")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect();
        let y = c["y"].as_u64().expect("y") as usize;
        let logits = c["kind"] == "logits";
        for kind in Signal::ALL {
            let want = c["expected"][kind.id()].as_f64().expect("expected");
            let got = if logits {
                signal(kind, &[], Some(&row), y)
            } else {
                signal(kind, &row, None, y)
            }
            .expect("signal");
            close(
                got,
                want,
                1e-12,
                &format!("{} {row:?} y={y} {}", c["kind"], kind.id()),
            );
        }
    }
}

#[test]
fn hand_computed_signal_values() {
    // p = [0.7, 0.2, 0.1], y = 0
    let p = [0.7, 0.2, 0.1];
    let s = |k| signal(k, &p, None, 0).unwrap();
    close(s(Signal::Loss), -(0.7f64.ln()), 1e-15, "loss");
    close(s(Signal::Confidence), 0.7, 1e-15, "confidence");
    let h = -(0.7 * 0.7f64.ln() + 0.2 * 0.2f64.ln() + 0.1 * 0.1f64.ln());
    close(s(Signal::Entropy), h, 1e-15, "entropy");
    let m = -(0.3 * 0.7f64.ln()) - 0.2 * 0.8f64.ln() - 0.1 * 0.9f64.ln();
    close(s(Signal::ModifiedEntropy), m, 1e-14, "modified entropy");
    close(s(Signal::Phi), (0.7f64 / 0.3).ln(), 1e-14, "phi");
    // binary single logit s: phi = s for y = 1, -s for y = 0
    assert_eq!(signal(Signal::Phi, &[], Some(&[1.5]), 1).unwrap(), 1.5);
    assert_eq!(signal(Signal::Phi, &[], Some(&[1.5]), 0).unwrap(), -1.5);
    // loss of the single logit = softplus(-s) for y = 1
    close(
        signal(Signal::Loss, &[], Some(&[1.5]), 1).unwrap(),
        (1.0 + (-1.5f64).exp()).ln(),
        1e-15,
        "binary loss",
    );
}

#[test]
fn logit_and_probability_paths_agree_on_models() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let w: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..3).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
        .collect();
    let b = vec![0.1, -0.2, 0.3];
    let (gl, pl) = linear(&w, &b, false);
    let (gp, pp) = linear(&w, &b, true);
    let r = random_records(40, 5, 3, 12);
    // the Softmax model is read before its Softmax: same values as the logits
    let pre = ModelOutput::compute(&gp, &pp, OutputKind::Probabilities, &r).unwrap();
    assert_eq!(pre.source, Source::LogitsBeforeSoftmax);
    // and the probability path proper, on the (f32) Softmax output
    let probs = ModelOutput {
        source: Source::Probabilities,
        values: predict_probs(&gp, &pp, OutputKind::Probabilities, &r.x).unwrap(),
    };
    for kind in Signal::ALL {
        let a = signals_with(&gl, &pl, OutputKind::Logits, &r, kind).unwrap();
        let b = signals_with(&gp, &pp, OutputKind::Probabilities, &r, kind).unwrap();
        assert_eq!(a, b, "{}: logits vs logits before the Softmax", kind.id());
        let c = probs.signals(kind, &r.y).unwrap();
        for (i, (x, z)) in a.iter().zip(&c).enumerate() {
            close(*x, *z, 2e-6, &format!("{} row {i}", kind.id()));
        }
    }
    // binary: a single logit s against Sigmoid probabilities [1 - p, p]
    let w1: Vec<Vec<f32>> = w.iter().map(|r| vec![r[0]]).collect();
    let (g1, p1) = linear(&w1, &[0.2], false);
    let (g1p, p1p) = linear(&w1, &[0.2], true);
    let rb = random_records(40, 5, 2, 13);
    let phi = phi_for(&g1, &p1, OutputKind::Logits, &rb).unwrap();
    let raw = predict_raw(&g1, &p1, &rb.x).unwrap();
    for i in 0..rb.len() {
        let s = raw[[i, 0]];
        let want = if rb.y[i] == 1 { s } else { -s };
        assert_eq!(phi[i], want, "row {i}: phi of a single logit");
    }
    let sig = ModelOutput::compute(&g1p, &p1p, OutputKind::Probabilities, &rb).unwrap();
    assert_eq!(
        sig.source,
        Source::Probabilities,
        "a Sigmoid output is read as is"
    );
    let phi_p = phi_for(&g1p, &p1p, OutputKind::Probabilities, &rb).unwrap();
    for i in 0..rb.len() {
        close(phi_p[i], phi[i], 1e-5, &format!("binary phi row {i}"));
    }
    // signals_for uses the target's kind
    let t = Target {
        graph: &gl,
        params: &pl,
        output_kind: OutputKind::Logits,
        num_classes: 3,
    };
    assert_eq!(
        signals_for(&t, &r, Signal::Phi).unwrap(),
        phi_for(&gl, &pl, OutputKind::Logits, &r).unwrap()
    );
}

// ---------------------------------------------------------------- threshold

#[test]
fn loss_attack_reproduces_the_sklearn_auc_on_the_digits_fixtures() {
    let refs = json("digits_loss.json");
    for r in refs["models"].as_array().expect("models") {
        let file = r["model"].as_str().expect("model");
        let m = model(file);
        let want_kind = r["output_kind"].as_str().unwrap();
        let t = target(&m);
        assert_eq!(
            format!("{:?}", t.output_kind).to_lowercase(),
            want_kind,
            "{file}"
        );
        let inputs = AuditInputs {
            members: records(&m, "data/digits.train.csv", 0..usize::MAX),
            nonmembers: records(&m, "data/digits.test.csv", 0..usize::MAX),
            population: None,
        };
        assert_eq!(inputs.members.len() as u64, r["members"].as_u64().unwrap());
        let out = threshold::run(
            ThresholdAttack::Loss,
            &t,
            &inputs,
            &ThresholdConfig::default(),
        )
        .unwrap();
        let a = auc(&out.members, &out.nonmembers);
        let want = r["auc"].as_f64().unwrap();
        eprintln!("{file}: AUC {a:.6} (sklearn {want:.6})");
        close(a, want, 2e-3, &format!("{file}: AUC"));
        close(
            mean(&out.members),
            r["mean_member_score"].as_f64().unwrap(),
            1e-3,
            &format!("{file}: mean member score"),
        );
        close(
            mean(&out.nonmembers),
            r["mean_nonmember_score"].as_f64().unwrap(),
            1e-3,
            &format!("{file}: mean non-member score"),
        );
        assert_eq!(out.details["computed_from"], r["computed_from"]);
    }
}

#[test]
fn threshold_attacks_separate_the_members_of_an_overfit_target() {
    let o = overfit();
    let t = target(&o.model);
    let no_pop = AuditInputs {
        population: None,
        ..o.inputs.clone()
    };
    for attack in ThresholdAttack::ALL {
        for (class_dependent, inputs) in [(false, &o.inputs), (true, &no_pop), (true, &o.inputs)] {
            let out =
                threshold::run(attack, &t, inputs, &ThresholdConfig { class_dependent }).unwrap();
            assert_eq!(out.members.len(), 100);
            assert_eq!(out.nonmembers.len(), 200);
            let a = auc(&out.members, &out.nonmembers);
            let gap = mean(&out.members) - mean(&out.nonmembers);
            eprintln!(
                "{} class_dependent={class_dependent} population={}: AUC {a:.4}, mean gap {gap:.4}",
                attack.id(),
                inputs.population.is_some()
            );
            assert!(a > 0.75, "{}: AUC {a}", attack.id());
            assert!(gap > 0.05, "{}: mean score gap {gap}", attack.id());
            assert_eq!(out.details["class_dependent"], class_dependent);
            assert_eq!(out.details["signal"], attack.signal().id());
        }
    }
    // the loss score is -loss
    let out = threshold::run(
        ThresholdAttack::Loss,
        &t,
        &o.inputs,
        &ThresholdConfig::default(),
    )
    .unwrap();
    let l = signals_for(&t, &o.inputs.members, Signal::Loss).unwrap();
    for (s, l) in out.members.iter().zip(&l) {
        assert_eq!(*s, -l);
    }
    assert!(mean(&out.members) - mean(&out.nonmembers) > 0.3);
}

/// Mid-rank CDF by brute force.
fn cdf(reference: &[f64], s: f64) -> f64 {
    let below = reference.iter().filter(|&&r| r < s).count() as f64;
    let equal = reference.iter().filter(|&&r| r == s).count() as f64;
    (below + equal / 2.0) / reference.len() as f64
}

#[test]
fn class_dependent_scores_are_percentiles_among_reference_non_members() {
    let o = overfit();
    let t = target(&o.model);
    let attack = ThresholdAttack::Confidence;
    let raw = |r: &Records| signals_for(&t, r, Signal::Confidence).unwrap();
    let (rm, rn) = (raw(&o.inputs.members), raw(&o.inputs.nonmembers));
    let pop = o.inputs.population.as_ref().unwrap();
    let rp = raw(pop);
    let cfg = ThresholdConfig {
        class_dependent: true,
    };
    // with population records: percentile among the population of the class
    let out = threshold::run(attack, &t, &o.inputs, &cfg).unwrap();
    let of_class = |v: &[f64], y: &[usize], c: usize| -> Vec<f64> {
        v.iter()
            .zip(y)
            .filter(|(_, &l)| l == c)
            .map(|(&s, _)| s)
            .collect()
    };
    for (i, &c) in o.inputs.members.y.iter().enumerate() {
        let want = cdf(&of_class(&rp, &pop.y, c), rm[i]);
        assert_eq!(out.members[i], want, "member {i}");
    }
    for (i, &c) in o.inputs.nonmembers.y.iter().enumerate() {
        let want = cdf(&of_class(&rp, &pop.y, c), rn[i]);
        assert_eq!(out.nonmembers[i], want, "non-member {i}");
    }
    assert_eq!(
        out.details["calibration"]["reference"].as_str().unwrap(),
        "population records of the class"
    );
    // without: members against all non-members of the class, non-members
    // against the others (leave-one-out)
    let no_pop = AuditInputs {
        population: None,
        ..o.inputs.clone()
    };
    let out = threshold::run(attack, &t, &no_pop, &cfg).unwrap();
    let ny = &o.inputs.nonmembers.y;
    for (i, &c) in o.inputs.members.y.iter().enumerate() {
        let want = cdf(&of_class(&rn, ny, c), rm[i]);
        assert_eq!(out.members[i], want, "member {i}");
    }
    for (i, &c) in ny.iter().enumerate() {
        let others: Vec<f64> = (0..rn.len())
            .filter(|&j| j != i && ny[j] == c)
            .map(|j| rn[j])
            .collect();
        close(
            out.nonmembers[i],
            cdf(&others, rn[i]),
            1e-15,
            &format!("non-member {i}"),
        );
    }
}

// ---------------------------------------------------------------- label-only

#[test]
fn gap_scores_are_the_correctness_of_the_prediction() {
    let o = overfit();
    let t = target(&o.model);
    let out = run_gap(&t, &o.inputs).unwrap();
    for (scores, r) in [
        (&out.members, &o.inputs.members),
        (&out.nonmembers, &o.inputs.nonmembers),
    ] {
        let pred = predicted(&t, &r.x);
        for i in 0..r.len() {
            let want = if pred[i] == r.y[i] { 1.0 } else { 0.0 };
            assert_eq!(scores[i], want, "row {i}");
        }
    }
    assert!(out.members.iter().all(|&s| s == 1.0));
    let acc = mean(&out.nonmembers);
    assert!(acc < 1.0 && acc > 0.5, "non-member accuracy {acc}");
    close(
        out.details["nonmember_accuracy"].as_f64().unwrap(),
        acc,
        1e-15,
        "details",
    );
}

#[test]
fn noise_robustness_is_seeded_and_a_fraction_of_the_copies() {
    let o = overfit();
    let t = target(&o.model);
    let cfg = NoiseConfig::default();
    let a = run_noise_robustness(&t, &o.inputs, &cfg, &mut |_| true).unwrap();
    let b = run_noise_robustness(&t, &o.inputs, &cfg, &mut |_| true).unwrap();
    assert_eq!(a, b, "same seed, same scores");
    let c = run_noise_robustness(
        &t,
        &o.inputs,
        &NoiseConfig {
            seed: 1,
            ..cfg.clone()
        },
        &mut |_| true,
    )
    .unwrap();
    assert_ne!(a.members, c.members, "another seed, other noise");
    for s in a.members.iter().chain(&a.nonmembers) {
        assert!((0.0..=1.0).contains(s));
        let k = s * cfg.copies as f64;
        assert!(
            (k - k.round()).abs() < 1e-9,
            "{s} is not a multiple of 1/20"
        );
    }
    let auc_noise = auc(&a.members, &a.nonmembers);
    eprintln!("noise robustness AUC {auc_noise:.4}, details {}", a.details);
    assert!(auc_noise > 0.6, "noise robustness AUC {auc_noise}");
    // no noise: every copy is the record itself, so the score is the gap score
    let z = run_noise_robustness(
        &t,
        &o.inputs,
        &NoiseConfig {
            sigma_scale: 0.0,
            flip_prob: 0.0,
            ..cfg.clone()
        },
        &mut |_| true,
    )
    .unwrap();
    let g = run_gap(&t, &o.inputs).unwrap();
    assert_eq!(z.members, g.members);
    assert_eq!(z.nonmembers, g.nonmembers);
    // cancel
    let e = run_noise_robustness(&t, &o.inputs, &cfg, &mut |_| false).unwrap_err();
    assert_eq!(e, AttackError::Cancelled);
    // invalid settings
    for bad in [
        NoiseConfig {
            copies: 0,
            ..cfg.clone()
        },
        NoiseConfig {
            sigma_scale: -1.0,
            ..cfg.clone()
        },
        NoiseConfig {
            flip_prob: 1.5,
            ..cfg.clone()
        },
    ] {
        let e = run_noise_robustness(&t, &o.inputs, &bad, &mut |_| true).unwrap_err();
        assert_eq!(e.code(), "bad_config", "{e}");
    }
}

#[test]
fn binary_features_are_flipped_with_the_given_probability() {
    // every feature is binary {0, 1}: with q = 1 each copy is the complement
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 30;
    let d = 6;
    let x =
        Tensor::from_shape_simple_fn(IxDyn(&[n, d]), || if rng.gen_bool(0.5) { 1.0 } else { 0.0 });
    let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let r = Records { x: x.clone(), y };
    let stats = FeatureStats::of(&[&r]).unwrap();
    assert!(stats.binary.iter().all(|&b| b), "{:?}", stats.binary);
    let w: Vec<Vec<f32>> = (0..d)
        .map(|i| vec![0.3 * i as f32 - 0.5, 0.1 * i as f32])
        .collect();
    let (g, p) = linear(&w, &[0.0, 0.05], false);
    let t = Target {
        graph: &g,
        params: &p,
        output_kind: OutputKind::Logits,
        num_classes: 2,
    };
    let inputs = AuditInputs {
        members: r.select(&(0..15).collect::<Vec<_>>()),
        nonmembers: r.select(&(15..30).collect::<Vec<_>>()),
        population: None,
    };
    let out = run_noise_robustness(
        &t,
        &inputs,
        &NoiseConfig {
            copies: 4,
            flip_prob: 1.0,
            ..NoiseConfig::default()
        },
        &mut |_| true,
    )
    .unwrap();
    let flipped = x.mapv(|v| 1.0 - v);
    let pred = predicted(&t, &flipped);
    let scores: Vec<f64> = out.members.iter().chain(&out.nonmembers).copied().collect();
    for i in 0..n {
        let want = if pred[i] == r.y[i] { 1.0 } else { 0.0 };
        assert_eq!(scores[i], want, "row {i}");
    }
    assert_eq!(out.details["binary_features"], 6);
}

#[test]
fn boundary_distance_of_a_linear_model_is_the_analytic_distance() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (d, k) = (4, 3);
    let w: Vec<Vec<f32>> = (0..d)
        .map(|_| (0..k).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
        .collect();
    let b = vec![0.2f32, -0.1, 0.0];
    for squash in [false, true] {
        let (g, p) = linear(&w, &b, squash);
        let t = Target {
            graph: &g,
            params: &p,
            output_kind: g.output_kind,
            num_classes: k,
        };
        let r = random_records(30, d, k, 22);
        let pts = boundary_points(&t, &r, None, &BoundaryConfig::default(), &mut |_| true).unwrap();
        let pred = predicted(&t, &r.x);
        let xs = r.x.as_standard_layout();
        let flat = xs.as_slice().unwrap();
        let mut found = 0;
        for i in 0..r.len() {
            let x = &flat[i * d..(i + 1) * d];
            let y = r.y[i];
            if pred[i] != y {
                assert_eq!(pts[i].status, BoundaryStatus::Misclassified);
                assert_eq!(pts[i].distance, 0.0);
                continue;
            }
            // distance to the nearest facet of the convex decision region
            let z = |c: usize| -> f64 {
                (0..d).map(|f| x[f] as f64 * w[f][c] as f64).sum::<f64>() + b[c] as f64
            };
            let want = (0..k)
                .filter(|&j| j != y)
                .map(|j| {
                    let nrm = (0..d)
                        .map(|f| (w[f][y] as f64 - w[f][j] as f64).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    (z(y) - z(j)) / nrm
                })
                .fold(f64::INFINITY, f64::min);
            assert_eq!(pts[i].status, BoundaryStatus::Found, "row {i}");
            close(
                pts[i].distance,
                want,
                1e-4,
                &format!("row {i} (softmax {squash})"),
            );
            found += 1;
        }
        assert!(found >= 5, "only {found} correctly classified records");
    }
}

#[test]
fn boundary_distance_of_binary_single_column_models_is_the_analytic_distance() {
    // one logit s = w.x + b (Logits) or p = sigmoid(s) (Probabilities): the
    // boundary is s = 0, at distance |s| / ||w||
    let w = vec![vec![0.8f32], vec![-0.5], vec![0.3]];
    let b = 0.1f32;
    let r = random_records(40, 3, 2, 31);
    let wn = w.iter().map(|v| (v[0] as f64).powi(2)).sum::<f64>().sqrt();
    for squash in [false, true] {
        let (g, p) = linear(&w, &[b], squash);
        let t = Target {
            graph: &g,
            params: &p,
            output_kind: g.output_kind,
            num_classes: 2,
        };
        let pts = boundary_points(&t, &r, None, &BoundaryConfig::default(), &mut |_| true).unwrap();
        let xs = r.x.as_standard_layout();
        let flat = xs.as_slice().unwrap();
        let pred = predicted(&t, &r.x);
        let mut found = 0;
        for i in 0..r.len() {
            let x = &flat[i * 3..(i + 1) * 3];
            let s: f64 = (0..3).map(|f| x[f] as f64 * w[f][0] as f64).sum::<f64>() + b as f64;
            if pred[i] != r.y[i] {
                assert_eq!(pts[i].status, BoundaryStatus::Misclassified, "row {i}");
                continue;
            }
            assert_eq!(pts[i].status, BoundaryStatus::Found, "row {i}");
            close(
                pts[i].distance,
                s.abs() / wn,
                1e-4,
                &format!("row {i} (sigmoid {squash})"),
            );
            found += 1;
        }
        assert!(found >= 10, "only {found}");
    }
    // a target whose declared class count exceeds its outputs: clear error
    let (g, p) = linear(&w, &[b], false);
    let t = Target {
        graph: &g,
        params: &p,
        output_kind: OutputKind::Logits,
        num_classes: 5,
    };
    let mut bad = r.clone();
    bad.y = vec![4; bad.len()];
    let e = boundary_points(&t, &bad, None, &BoundaryConfig::default(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("label 4"), "{e}");
    let inputs = AuditInputs {
        members: bad.clone(),
        nonmembers: bad.clone(),
        population: None,
    };
    let e = run_gap(&t, &inputs).unwrap_err();
    assert!(e.to_string().contains("row 1 has label 4"), "{e}");
    let e = run_noise_robustness(&t, &inputs, &NoiseConfig::default(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("row 1 has label 4"), "{e}");
    let e = threshold::run(
        ThresholdAttack::Loss,
        &t,
        &inputs,
        &ThresholdConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("row 1 has label 4"), "{e}");
    // cancelling
    let e = boundary_points(&t, &r, None, &BoundaryConfig::default(), &mut |_| false).unwrap_err();
    assert_eq!(e, AttackError::Cancelled);
}

#[test]
fn boundary_distance_flips_the_label_at_the_reported_distance() {
    let o = overfit();
    let t = target(&o.model);
    let small = AuditInputs {
        members: o.inputs.members.select(&(0..30).collect::<Vec<_>>()),
        nonmembers: o.inputs.nonmembers.select(&(0..60).collect::<Vec<_>>()),
        population: None,
    };
    let cfg = BoundaryConfig::default();
    let out = run_boundary_distance_gradient(&t, &small, &cfg, &mut |_| true).unwrap();
    eprintln!(
        "boundary distance AUC {:.4}; {}",
        auc(&out.members, &out.nonmembers),
        out.details
    );
    let stats = FeatureStats::of(&[&small.members, &small.nonmembers]).unwrap();
    let mut flipped_checked = 0;
    for (scores, r) in [
        (&out.members, &small.members),
        (&out.nonmembers, &small.nonmembers),
    ] {
        let pts =
            boundary_points(&t, r, Some((&stats.min, &stats.max)), &cfg, &mut |_| true).unwrap();
        let pred = predicted(&t, &r.x);
        let xs = r.x.as_standard_layout();
        let flat = xs.as_slice().unwrap();
        for i in 0..r.len() {
            let x0 = &flat[i * 64..(i + 1) * 64];
            match pts[i].status {
                BoundaryStatus::Misclassified => {
                    assert_ne!(pred[i], r.y[i]);
                    assert_eq!(scores[i], 0.0);
                }
                BoundaryStatus::Found => {
                    assert_eq!(pred[i], r.y[i]);
                    assert!(pts[i].distance > 0.0);
                    assert_eq!(scores[i], pts[i].distance);
                    let p = pts[i].point.as_ref().unwrap();
                    // within the data range
                    for ((v, lo), hi) in p.iter().zip(&stats.min).zip(&stats.max) {
                        assert!(v >= lo && v <= hi);
                    }
                    // the reported size is the distance to the reported point
                    let dist = p
                        .iter()
                        .zip(x0)
                        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    close(dist, pts[i].distance, 1e-12, "distance");
                    // and that point has another label
                    let xp = Tensor::from_shape_vec(IxDyn(&[1, 64]), p.clone()).unwrap();
                    assert_ne!(predicted(&t, &xp)[0], r.y[i], "row {i}: label not flipped");
                    // as does the record moved by that distance along the direction
                    let moved: Vec<f32> = x0
                        .iter()
                        .zip(p)
                        .map(|(&a, &b)| {
                            (a as f64 + pts[i].distance * (b as f64 - a as f64) / dist) as f32
                        })
                        .collect();
                    let xm = Tensor::from_shape_vec(IxDyn(&[1, 64]), moved).unwrap();
                    assert_ne!(predicted(&t, &xm)[0], r.y[i], "row {i}: moved point");
                    flipped_checked += 1;
                }
                BoundaryStatus::NotFound => {
                    assert_eq!(scores[i], out.details["not_found_score"].as_f64().unwrap())
                }
            }
        }
    }
    assert!(
        flipped_checked >= 60,
        "only {flipped_checked} flips checked"
    );
    assert!(
        out.members.iter().all(|&s| s > 0.0),
        "members are all classified correctly"
    );
}

// ---------------------------------------------------------------- risk score

#[test]
fn risk_scores_match_the_authors_code() {
    let r = json("risk_score.json");
    let f = |k: &str| -> Vec<f64> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let u = |k: &str| -> Vec<usize> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let model = RiskModel::fit(
        &f("member_values"),
        &u("member_labels"),
        &f("nonmember_values"),
        &u("nonmember_labels"),
        r["num_classes"].as_u64().unwrap() as usize,
        r["bins"].as_u64().unwrap() as usize,
    )
    .unwrap();
    let want = f("expected");
    let (qv, ql) = (f("query_values"), u("query_labels"));
    assert!(want.iter().any(|&w| w > 0.0 && w < 1.0));
    for i in 0..qv.len() {
        close(
            model.score(qv[i], ql[i]),
            want[i],
            1e-12,
            &format!("query {i} ({})", qv[i]),
        );
    }
    assert!(model.pooled_classes().is_empty());
}

#[test]
fn risk_scores_are_cross_fitted_probabilities() {
    let o = overfit();
    let t = target(&o.model);
    let cfg = RiskScoreConfig::default();
    let out: AttackOutput = risk_score::run(&t, &o.inputs, &cfg).unwrap();
    for s in out.members.iter().chain(&out.nonmembers) {
        assert!((0.0..=1.0).contains(s), "{s}");
    }
    let a = auc(&out.members, &out.nonmembers);
    eprintln!("risk score AUC {a:.4}; {}", out.details);
    assert!(a > 0.7, "risk score AUC {a}");
    assert_eq!(out, risk_score::run(&t, &o.inputs, &cfg).unwrap(), "seeded");
    assert_eq!(out.details["signal"], "modified_entropy");
    let loss = risk_score::run(
        &t,
        &o.inputs,
        &RiskScoreConfig {
            signal: Signal::Loss,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert!(auc(&loss.members, &loss.nonmembers) > 0.7);
    let e = risk_score::run(
        &t,
        &o.inputs,
        &RiskScoreConfig {
            signal: Signal::Phi,
            ..cfg
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "bad_config");
}

// ---------------------------------------------------------------- bad input

#[test]
fn labels_outside_the_model_classes_are_clear_errors() {
    let m = model("sk_mlp_relu_nozipmap.onnx");
    let t = target(&m);
    let members = records(&m, "data/digits.train.csv", 0..20);
    let nonmembers = records(&m, "data/digits.test.csv", 0..20);
    let bad_members = AuditInputs {
        members: with_bad_label(&members, 2, 10),
        nonmembers: nonmembers.clone(),
        population: None,
    };
    let bad_nonmembers = AuditInputs {
        members: members.clone(),
        nonmembers: with_bad_label(&nonmembers, 4, 12),
        population: None,
    };
    let check = |r: Result<AttackOutput, AttackError>, set: &str, row: usize, label: usize| {
        let e = r.expect_err("a bad label must be an error");
        let msg = e.to_string();
        assert_eq!(e.code(), "bad_audit_input", "{msg}");
        assert!(
            msg.contains(set)
                && msg.contains(&format!("row {row} "))
                && msg.contains(&format!("label {label}"))
                && msg.contains("10 classes"),
            "unclear message: {msg}"
        );
    };
    for (inputs, set, row, label) in [
        (&bad_members, "members", 3, 10),
        (&bad_nonmembers, "non-members", 5, 12),
    ] {
        for a in ThresholdAttack::ALL {
            for class_dependent in [false, true] {
                check(
                    threshold::run(a, &t, inputs, &ThresholdConfig { class_dependent }),
                    set,
                    row,
                    label,
                );
            }
        }
        check(run_gap(&t, inputs), set, row, label);
        check(
            run_noise_robustness(&t, inputs, &NoiseConfig::default(), &mut |_| true),
            set,
            row,
            label,
        );
        check(
            run_boundary_distance_gradient(&t, inputs, &BoundaryConfig::default(), &mut |_| true),
            set,
            row,
            label,
        );
        check(
            risk_score::run(&t, inputs, &RiskScoreConfig::default()),
            set,
            row,
            label,
        );
    }
    // population labels are checked too
    let with_pop = AuditInputs {
        members,
        nonmembers,
        population: Some(with_bad_label(
            &records(&m, "data/digits.test.csv", 20..30),
            0,
            99,
        )),
    };
    let cfg = ThresholdConfig {
        class_dependent: true,
    };
    check(
        threshold::run(ThresholdAttack::Loss, &t, &with_pop, &cfg),
        "population",
        1,
        99,
    );
    // the lower-level functions name the row as well
    let e = signals_for(&t, &with_bad_label(&with_pop.members, 0, 10), Signal::Loss).unwrap_err();
    assert!(e.to_string().contains("row 1 "), "{e}");
    let e = gap_scores(&t, &with_bad_label(&with_pop.members, 0, 10)).unwrap_err();
    assert!(e.to_string().contains("row 1 "), "{e}");
    let e = signal(Signal::Phi, &[0.5, 0.5], None, 7).unwrap_err();
    assert!(e.to_string().contains("label 7"), "{e}");
}

#[test]
fn empty_member_or_non_member_sets_are_refused() {
    let m = model("sk_mlp_relu_nozipmap.onnx");
    let t = target(&m);
    let members = records(&m, "data/digits.train.csv", 0..5);
    let none = members.select(&[]);
    let inputs = AuditInputs {
        members,
        nonmembers: none,
        population: None,
    };
    let e = threshold::run(
        ThresholdAttack::Loss,
        &t,
        &inputs,
        &ThresholdConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("0 non-members"), "{e}");
    let e = risk_score::run(&t, &inputs, &RiskScoreConfig::default()).unwrap_err();
    assert_eq!(e.code(), "attack_needs_more", "{e}");
}
