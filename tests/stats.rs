//! Statistics against independent references: scikit-learn's roc_curve /
//! roc_auc_score, an O(m n) DeLong and scipy's beta.ppf, committed in
//! tests/fixtures/stats/reference.json by gen_stats_reference.py.

use privacy_inspector::stats::{
    auc, clopper_pearson, delong_ci, eps_lower_bound, epsilon_bounds, evaluate, roc, StatsConfig,
    StatsError, FPR_LEVELS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stats/reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference.json")).expect("json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[track_caller]
fn check(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

#[track_caller]
fn check_opt(what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => check(what, g, w, 1e-12),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn roc_auc_tpr_at_fpr_and_delong_match_the_python_reference() {
    let r = reference();
    let cases = r["cases"].as_array().expect("cases");
    assert!(cases.len() >= 9);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let members = floats(&c["members"]);
        let nonmembers = floats(&c["nonmembers"]);

        // Exact ROC: same points and thresholds as roc_curve(drop_intermediate=False).
        let curve = roc(&members, &nonmembers).expect("roc");
        let (fpr, tpr) = (floats(&c["roc_fpr"]), floats(&c["roc_tpr"]));
        assert_eq!(curve.len(), fpr.len(), "{name}: ROC length");
        for i in 0..fpr.len() {
            check(&format!("{name} fpr[{i}]"), curve.fpr[i], fpr[i], 1e-12);
            check(&format!("{name} tpr[{i}]"), curve.tpr[i], tpr[i], 1e-12);
            check_opt(
                &format!("{name} threshold[{i}]"),
                curve.thresholds[i],
                opt(&c["roc_thresholds"][i]),
            );
        }
        assert_eq!((curve.fpr[0], curve.tpr[0]), (0.0, 0.0), "{name}: start");
        assert_eq!(
            (*curve.fpr.last().unwrap(), *curve.tpr.last().unwrap()),
            (1.0, 1.0),
            "{name}: end"
        );

        // AUC = Mann-Whitney = trapezoid of the exact ROC = roc_auc_score.
        let want_auc = c["auc"].as_f64().unwrap();
        let a = auc(&members, &nonmembers).expect("auc");
        check(&format!("{name} auc"), a, want_auc, 1e-9);
        check(
            &format!("{name} trapezoid"),
            curve.trapezoid_area(),
            a,
            1e-12,
        );

        // DeLong against the O(m n) reference.
        let d = delong_ci(&members, &nonmembers).expect("delong");
        check(&format!("{name} delong auc"), d.auc, want_auc, 1e-9);
        let var = d.variance.expect("variance");
        check(
            &format!("{name} delong var"),
            var,
            c["delong_variance"].as_f64().unwrap(),
            1e-12,
        );
        let ci = floats(&c["delong_ci95"]);
        check(&format!("{name} ci low"), d.ci95[0], ci[0], 1e-6);
        check(&format!("{name} ci high"), d.ci95[1], ci[1], 1e-6);

        // Full evaluation: TPR@FPR with thresholds, advantage, percentiles.
        let ml = vec![0; members.len()];
        let nl = vec![0; nonmembers.len()];
        let cfg = StatsConfig {
            top_k: members.len(),
            ..StatsConfig::default()
        };
        let s = evaluate(&members, &nonmembers, &ml, &nl, &cfg).expect("evaluate");
        check(&format!("{name} evaluate auc"), s.auc, want_auc, 1e-9);
        assert_eq!(s.auc_ci95, d.ci95);
        for (key, level) in FPR_LEVELS {
            let got = &s.tpr_at_fpr[key];
            let want = &c["tpr_at_fpr"][key];
            check(
                &format!("{name} tpr@{key}"),
                got.tpr,
                want["tpr"].as_f64().unwrap(),
                1e-9,
            );
            check(
                &format!("{name} fpr@{key}"),
                got.fpr,
                want["fpr"].as_f64().unwrap(),
                1e-9,
            );
            check_opt(
                &format!("{name} thr@{key}"),
                got.threshold,
                opt(&want["threshold"]),
            );
            assert_eq!(got.level, level);
            assert_eq!(
                got.resolvable,
                level == 0.0 || level * nonmembers.len() as f64 >= 1.0,
                "{name} resolvable@{key}"
            );
        }
        check(
            &format!("{name} advantage"),
            s.advantage,
            c["advantage"].as_f64().unwrap(),
            1e-9,
        );
        check_opt(
            &format!("{name} advantage threshold"),
            s.advantage_threshold,
            opt(&c["advantage_threshold"]),
        );
        let pct = floats(&c["member_percentiles"]);
        assert_eq!(s.most_exposed.len(), members.len());
        for rec in &s.most_exposed {
            assert_eq!(rec.score, members[rec.index]);
            check(
                &format!("{name} percentile of row {}", rec.index),
                rec.percentile,
                pct[rec.index],
                1e-9,
            );
        }
        for w in s.most_exposed.windows(2) {
            assert!(
                w[0].score >= w[1].score,
                "{name}: most exposed sorted by score"
            );
        }
        // The compact ROC keeps both ends and never exceeds ~500 points.
        assert!(s.roc.fpr.len() <= 500 && s.roc.fpr.len() == s.roc.tpr.len());
        assert_eq!((s.roc.fpr[0], s.roc.tpr[0]), (0.0, 0.0));
        assert_eq!(
            (*s.roc.fpr.last().unwrap(), *s.roc.tpr.last().unwrap()),
            (1.0, 1.0)
        );
    }
}

#[test]
fn clopper_pearson_matches_scipy_beta_ppf() {
    let r = reference();
    for c in r["clopper_pearson"].as_array().unwrap() {
        let k = c["k"].as_u64().unwrap() as usize;
        let n = c["n"].as_u64().unwrap() as usize;
        let alpha = c["alpha"].as_f64().unwrap();
        let (lo, hi) = clopper_pearson(k, n, alpha).expect("cp");
        check(
            &format!("CP lo k={k} n={n} alpha={alpha}"),
            lo,
            c["lo"].as_f64().unwrap(),
            1e-9,
        );
        check(
            &format!("CP hi k={k} n={n} alpha={alpha}"),
            hi,
            c["hi"].as_f64().unwrap(),
            1e-9,
        );
    }
    assert!(clopper_pearson(3, 2, 0.05).is_err());
    assert!(clopper_pearson(0, 0, 0.05).is_err());
    assert!(clopper_pearson(1, 2, 1.0).is_err());
}

#[test]
fn epsilon_test_vector_gives_4_54() {
    // attacks.md: TP = 500/500, FP = 0/500, alpha = 0.01, delta = 0 -> 4.54,
    // with alpha split over the two sides (each bound at alpha/2).
    let eps = eps_lower_bound(500, 0, 0, 500, 0.01, 0.0).unwrap();
    assert_eq!(format!("{eps:.2}"), "4.54");
    let want = reference()["epsilon_vector"]["eps"].as_f64().unwrap();
    check("eps vector vs scipy", eps, want, 1e-9);
    // Alpha used as-is per side would give 4.68, not 4.54.
    let as_is = eps_lower_bound(500, 0, 0, 500, 0.02, 0.0).unwrap();
    assert_eq!(format!("{as_is:.2}"), "4.68");
    // Both forms agree on the perfect test; the TNR/FNR form is the mirror of
    // the TPR/FPR form (swap members and non-members, and the two errors).
    let b = epsilon_bounds(500, 0, 0, 500, 0.01, 0.0).unwrap();
    check("forms agree", b.eps_tnr_fnr, b.eps_tpr_fpr, 1e-12);
    let one = epsilon_bounds(300, 200, 0, 500, 0.05, 1e-5).unwrap();
    let other = epsilon_bounds(500, 0, 200, 300, 0.05, 1e-5).unwrap();
    assert!(one.eps_tpr_fpr > one.eps_tnr_fnr && other.eps_tnr_fnr > other.eps_tpr_fpr);
    check("mirror", one.eps_tpr_fpr, other.eps_tnr_fnr, 1e-12);
    check("mirror eps", one.eps, other.eps, 1e-12);
    // ln(p1 / p0) by hand from the bounds.
    let (p1, _) = clopper_pearson(300, 500, 0.05).unwrap();
    let (_, p0) = clopper_pearson(0, 500, 0.05).unwrap();
    check(
        "form 1 by hand",
        one.eps_tpr_fpr,
        ((p1 - 1e-5) / p0).ln(),
        1e-12,
    );
    // Nothing learned: 0, never NaN or negative.
    assert_eq!(
        eps_lower_bound(250, 250, 250, 250, 0.05, 1e-5).unwrap(),
        0.0
    );
    assert_eq!(eps_lower_bound(0, 10, 0, 10, 0.05, 0.5).unwrap(), 0.0);
}

#[test]
fn heldout_epsilon_on_perfect_separation_reproduces_the_vector() {
    // 1000 members above 1000 non-members: every split is 500/500 and the
    // chosen threshold separates the evaluation half perfectly as well.
    let members: Vec<f64> = (0..1000).map(|i| 10_000.0 + i as f64).collect();
    let nonmembers: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let cfg = StatsConfig {
        alpha: 0.01,
        delta: 0.0,
        ..StatsConfig::default()
    };
    let s = evaluate(&members, &nonmembers, &[0; 1000], &[0; 1000], &cfg).unwrap();
    let e = &s.epsilon;
    assert_eq!((e.eval_members, e.eval_nonmembers), (500, 500));
    assert_eq!((e.tp, e.fn_, e.fp, e.tn), (500, 0, 0, 500));
    assert_eq!(format!("{:.2}", s.epsilon_lower_bound), "4.54");
    assert_eq!(e.direction, "tpr_fpr");
}

fn normal_scores(rng: &mut ChaCha8Rng, k: usize, shift: f64) -> Vec<f64> {
    // Sum of 12 uniforms minus 6: close enough to N(0, 1), no extra crate.
    (0..k)
        .map(|_| (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0 + shift)
        .collect()
}

#[test]
fn random_scores_give_an_auc_ci_containing_one_half() {
    // One random attack, all statistics: the CI contains 0.5, nothing is
    // claimed at low FPR.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let m = normal_scores(&mut rng, 300, 0.0);
    let n = normal_scores(&mut rng, 300, 0.0);
    let s = evaluate(&m, &n, &[0; 300], &[0; 300], &StatsConfig::default()).unwrap();
    assert!(
        s.auc_ci95[0] < 0.5 && 0.5 < s.auc_ci95[1],
        "AUC {} CI {:?}",
        s.auc,
        s.auc_ci95
    );
    assert!(s.auc_ci95[1] - s.auc_ci95[0] > 0.05);
    assert!(s.epsilon_lower_bound < 0.5, "eps {}", s.epsilon_lower_bound);
    // Coverage of the DeLong interval over 400 null replicates is near 95%.
    let mut covered = 0;
    for seed in 1..=400 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let m = normal_scores(&mut rng, 200, 0.0);
        let n = normal_scores(&mut rng, 200, 0.0);
        let d = delong_ci(&m, &n).unwrap();
        covered += usize::from(d.ci95[0] < 0.5 && 0.5 < d.ci95[1]);
    }
    assert!((372..=392).contains(&covered), "coverage {covered}/400");
    // And a real signal is detected.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let m = normal_scores(&mut rng, 300, 1.0);
    let n = normal_scores(&mut rng, 300, 0.0);
    let s = evaluate(&m, &n, &[0; 300], &[0; 300], &StatsConfig::default()).unwrap();
    assert!(s.auc_ci95[0] > 0.6, "{:?}", s.auc_ci95);
}

#[test]
fn auc_is_invariant_under_a_strictly_increasing_transform() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let m: Vec<f64> = normal_scores(&mut rng, 200, 0.5)
        .iter()
        .map(|v| v.round())
        .collect();
    let n: Vec<f64> = normal_scores(&mut rng, 250, 0.0)
        .iter()
        .map(|v| v.round())
        .collect();
    let f = |v: &f64| (v / 3.0).exp() * 5.0 - 2.0;
    let (mt, nt): (Vec<f64>, Vec<f64>) = (m.iter().map(f).collect(), n.iter().map(f).collect());
    assert_eq!(auc(&m, &n).unwrap(), auc(&mt, &nt).unwrap());
    let (a, b) = (delong_ci(&m, &n).unwrap(), delong_ci(&mt, &nt).unwrap());
    assert_eq!(a.ci95, b.ci95);
    let (ra, rb) = (roc(&m, &n).unwrap(), roc(&mt, &nt).unwrap());
    assert_eq!((ra.fpr, ra.tpr), (rb.fpr, rb.tpr));
}

#[test]
fn heldout_split_is_seeded() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let m: Vec<f64> = normal_scores(&mut rng, 400, 1.5);
    let n: Vec<f64> = normal_scores(&mut rng, 400, 0.0);
    let run = |seed| {
        let cfg = StatsConfig {
            seed,
            ..StatsConfig::default()
        };
        evaluate(&m, &n, &[0; 400], &[0; 400], &cfg).unwrap()
    };
    let (a, b) = (run(11), run(11));
    assert_eq!(a, b);
    assert!(a.epsilon_lower_bound > 0.0);
    // Another seed: another split, the rest of the figures unchanged.
    let c = run(12);
    assert_ne!(a.epsilon, c.epsilon);
    assert_eq!(
        (a.auc, a.auc_ci95, &a.tpr_at_fpr),
        (c.auc, c.auc_ci95, &c.tpr_at_fpr)
    );
}

#[test]
fn resolvability_ppv_and_advantage() {
    // 250 non-members cannot resolve 0.1% (0.25 false positives allowed).
    let m: Vec<f64> = (0..100).map(|i| i as f64).collect();
    let n: Vec<f64> = (0..250).map(|i| i as f64 * 0.5 - 20.0).collect();
    let s = evaluate(&m, &n, &[1; 100], &[1; 250], &StatsConfig::default()).unwrap();
    assert!(s.tpr_at_fpr["0.1"].resolvable && s.tpr_at_fpr["0.01"].resolvable);
    assert!(!s.tpr_at_fpr["0.001"].resolvable);
    assert!(s.tpr_at_fpr["0.001"]
        .note
        .as_deref()
        .unwrap()
        .contains("250 non-members"));
    assert!(s.tpr_at_fpr["0"].resolvable);
    assert!(s.tpr_at_fpr["0"]
        .note
        .as_deref()
        .unwrap()
        .contains("zero-false-positive"));
    // Non-members span [-20, 104.5]; members 0..99. Zero-FP: score >= 105 -> no member.
    assert_eq!(s.tpr_at_fpr["0"].tpr, 0.0);
    assert_eq!(s.tpr_at_fpr["0"].threshold, None);
    assert_eq!(s.ppv.at_tpr_at_fpr["0"], None, "0/0 PPV is undefined");
    // Advantage: at t = 0 all members (TPR 1) and non-members >= 0 (210/250).
    // TPR - FPR = 1 - fp/250 is largest at the highest t keeping TPR = 1.
    check("advantage", s.advantage, 1.0 - 210.0 / 250.0, 1e-12);
    assert_eq!(s.advantage_threshold, Some(0.0));
    let (tpr, fpr) = (s.advantage_tpr, s.advantage_fpr);
    check("ppv", s.ppv.at_advantage.unwrap(), tpr / (tpr + fpr), 1e-12);
    // Prior 0.1: pi tpr / (pi tpr + (1 - pi) fpr).
    let cfg = StatsConfig {
        prior: 0.1,
        ..StatsConfig::default()
    };
    let s2 = evaluate(&m, &n, &[1; 100], &[1; 250], &cfg).unwrap();
    check(
        "ppv prior 0.1",
        s2.ppv.at_advantage.unwrap(),
        0.1 * tpr / (0.1 * tpr + 0.9 * fpr),
        1e-12,
    );
}

#[test]
fn per_class_slices() {
    // Class 0: perfect separation; class 1: identical scores; class 2: members only.
    let members = [5.0, 6.0, 7.0, 1.0, 1.0, 9.0];
    let mlab = [0, 0, 0, 1, 1, 2];
    let nonmembers = [0.0, 1.0, 2.0, 1.0, 1.0, 1.0];
    let nlab = [0, 0, 0, 1, 1, 1];
    let s = evaluate(&members, &nonmembers, &mlab, &nlab, &StatsConfig::default()).unwrap();
    assert_eq!(s.per_class.len(), 3);
    let c0 = &s.per_class[0];
    assert_eq!((c0.label, c0.n_members, c0.n_nonmembers), (0, 3, 3));
    assert_eq!(c0.auc, Some(1.0));
    assert_eq!(c0.advantage, Some(1.0));
    assert_eq!(c0.tpr_at_fpr_0_01.as_ref().unwrap().tpr, 1.0);
    let c1 = &s.per_class[1];
    assert_eq!(c1.auc, Some(0.5));
    assert_eq!(c1.advantage, Some(0.0));
    let c2 = &s.per_class[2];
    assert_eq!((c2.n_members, c2.n_nonmembers), (1, 0));
    assert_eq!((c2.auc, c2.advantage), (None, None));
    assert!(c2.note.as_deref().unwrap().contains("no non-members"));
    // Most exposed: top member is row 5 (score 9), above every non-member.
    assert_eq!(s.most_exposed[0].index, 5);
    assert_eq!(s.most_exposed[0].label, 2);
    assert_eq!(s.most_exposed[0].percentile, 100.0);
    // Score 1.0 among non-members {0,1,2,1,1,1}: 1 below, 4 tied -> 50%.
    let tied = s.most_exposed.iter().find(|r| r.index == 3).unwrap();
    assert_eq!(tied.percentile, 100.0 * (1.0 + 2.0) / 6.0);
}

#[test]
fn compact_roc_is_exact_at_low_fpr_and_small() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let m = normal_scores(&mut rng, 5000, 0.7);
    let n = normal_scores(&mut rng, 20000, 0.0);
    let s = evaluate(&m, &n, &[0; 5000], &[0; 20000], &StatsConfig::default()).unwrap();
    let exact = roc(&m, &n).unwrap();
    assert!(s.roc_exact_points > 20000);
    assert!(s.roc.fpr.len() <= 500, "{} points", s.roc.fpr.len());
    // Every exact point with at most 10 false positives is kept: the step
    // curve at FPR <= 5e-4 is reproduced (each FP count's lowest and highest TPR).
    for fp in 0..=10usize {
        let idx: Vec<usize> = (0..exact.len()).filter(|&i| exact.fp[i] == fp).collect();
        for i in [idx[0], *idx.last().unwrap()] {
            let found = s
                .roc
                .fpr
                .iter()
                .zip(&s.roc.tpr)
                .any(|(&f, &t)| f == exact.fpr[i] && t == exact.tpr[i]);
            assert!(found, "point fp={fp} tpr={} missing", exact.tpr[i]);
        }
    }
    // Monotone and ending at (1, 1).
    for w in s.roc.fpr.windows(2) {
        assert!(w[0] <= w[1]);
    }
    assert_eq!(
        (*s.roc.fpr.last().unwrap(), *s.roc.tpr.last().unwrap()),
        (1.0, 1.0)
    );
    // The AUC comes from the exact curve.
    assert_eq!(s.auc, auc(&m, &n).unwrap());
}

#[test]
fn bad_input_is_rejected_with_the_numbers() {
    let cfg = StatsConfig::default();
    assert_eq!(
        evaluate(&[], &[1.0], &[], &[0], &cfg).unwrap_err(),
        StatsError::Empty("members")
    );
    assert_eq!(
        evaluate(&[1.0], &[], &[0], &[], &cfg).unwrap_err(),
        StatsError::Empty("non-members")
    );
    let e = evaluate(
        &[1.0, 2.0],
        &[0.5, f64::NAN, 0.1],
        &[0, 0],
        &[0, 0, 0],
        &cfg,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "the score of non-members row 1 is NaN");
    let e = evaluate(&[1.0, 2.0], &[0.5], &[0], &[0], &cfg).unwrap_err();
    assert_eq!(e.to_string(), "members: 1 labels for 2 scores");
    let bad = StatsConfig {
        alpha: 0.0,
        ..StatsConfig::default()
    };
    assert!(evaluate(&[1.0], &[0.0], &[0], &[0], &bad).is_err());
    // One member, one non-member: figures exist, CI and epsilon say why they are empty.
    let s = evaluate(&[1.0], &[0.0], &[0], &[0], &cfg).unwrap();
    assert_eq!((s.auc, s.auc_ci95, s.auc_variance), (1.0, [0.0, 1.0], None));
    assert_eq!(s.epsilon_lower_bound, 0.0);
    assert_eq!(s.notes.len(), 2, "{:?}", s.notes);
    // Infinite scores are valid scores.
    let s = evaluate(
        &[f64::INFINITY, 1.0],
        &[f64::NEG_INFINITY, 2.0],
        &[0, 0],
        &[0, 0],
        &cfg,
    )
    .unwrap();
    assert_eq!(s.auc, 0.75);
}

#[test]
fn report_field_names() {
    let s = evaluate(
        &[1.0, 2.0, 3.0],
        &[0.0, 1.5, 2.5],
        &[0, 1, 0],
        &[0, 1, 1],
        &StatsConfig::default(),
    )
    .unwrap();
    let v = serde_json::to_value(&s).unwrap();
    for key in [
        "auc",
        "auc_ci95",
        "advantage",
        "tpr_at_fpr",
        "epsilon_lower_bound",
        "roc",
        "per_class",
        "most_exposed",
        "n_members",
        "n_nonmembers",
        "ppv",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let keys: Vec<&str> = v["tpr_at_fpr"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["0", "0.001", "0.01", "0.1"]);
    assert!(
        v["tpr_at_fpr"]["0.01"].is_f64(),
        "plain numbers under tpr_at_fpr"
    );
    assert!(v["tpr_at_fpr_detail"]["0.01"]["resolvable"].is_boolean());
    assert!(v["roc"]["fpr"].is_array() && v["roc"]["tpr"].is_array());
    assert!(v["epsilon"]["fn"].is_u64());
}
