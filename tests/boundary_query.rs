//! The query-only `boundary_distance` (HopSkipJump on predicted labels):
//! analytic distances of a linear classifier through a bare label oracle,
//! the query budget, independence from batching, and the AUC of IBM ART's
//! HopSkipJump on the digits demo model
//! (tests/fixtures/label_only/art_boundary.py).

use privacy_inspector::attacks::membership::boundary_query::{
    query_boundary_points, run_boundary_distance, QueryBoundaryConfig, QueryStatus,
};
use privacy_inspector::attacks::membership::{AttackError, AuditInputs, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::onnx::{load, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A linear classifier as a label oracle only: argmax_c x.w_c + b_c.
fn linear_labels(w: &[Vec<f64>], b: &[f64], x: &[f32]) -> usize {
    let k = b.len();
    let z = |c: usize| x.iter().zip(w).map(|(&v, r)| v as f64 * r[c]).sum::<f64>() + b[c];
    (0..k).fold(0, |best, c| if z(c) > z(best) { c } else { best })
}

#[test]
fn query_only_distances_of_a_linear_classifier_approach_the_analytic_distance() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (d, k, n) = (8, 3, 40);
    let w: Vec<Vec<f64>> = (0..d)
        .map(|_| (0..k).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let b = vec![0.1, -0.2, 0.0];
    let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let y: Vec<usize> = (0..n).map(|_| rng.gen_range(0..k)).collect();
    let (lo, hi) = (vec![-3.0f32; d], vec![3.0f32; d]);
    let mut calls = 0usize;
    let mut points = 0usize;
    let mut oracle = |rows: &[f32], m: usize| -> Result<Vec<usize>, AttackError> {
        calls += 1;
        points += m;
        Ok(rows.chunks(d).map(|r| linear_labels(&w, &b, r)).collect())
    };
    let cfg = QueryBoundaryConfig {
        max_queries: 3000,
        ..QueryBoundaryConfig::default()
    };
    let pts =
        query_boundary_points(&mut oracle, &x, &y, d, &lo, &hi, &cfg, 0, &mut |_| true).unwrap();
    let used: usize = pts.iter().map(|p| p.queries).sum();
    assert_eq!(used, points, "every point asked is charged to a record");
    assert!(
        calls < points / 10,
        "queries are batched: {calls} calls, {points} points"
    );
    let mut ratios = Vec::new();
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        assert!(
            pts[i].queries <= cfg.max_queries,
            "row {i}: {}",
            pts[i].queries
        );
        if linear_labels(&w, &b, xi) != y[i] {
            assert_eq!(pts[i].status, QueryStatus::Misclassified);
            assert_eq!(pts[i].distance, 0.0);
            assert_eq!(pts[i].queries, 1);
            continue;
        }
        assert_eq!(pts[i].status, QueryStatus::Found, "row {i}");
        let p = pts[i].point.as_ref().unwrap();
        assert_ne!(
            linear_labels(&w, &b, p),
            y[i],
            "row {i}: the point flips the label"
        );
        let z = |c: usize| {
            xi.iter()
                .zip(&w)
                .map(|(&v, r)| v as f64 * r[c])
                .sum::<f64>()
                + b[c]
        };
        let want = (0..k)
            .filter(|&j| j != y[i])
            .map(|j| {
                let nrm = w
                    .iter()
                    .map(|r| (r[y[i]] - r[j]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                (z(y[i]) - z(j)) / nrm
            })
            .fold(f64::INFINITY, f64::min);
        // never below the true distance (the point does flip the label)
        assert!(
            pts[i].distance >= want * (1.0 - 1e-5),
            "row {i}: {} < {want}",
            pts[i].distance
        );
        ratios.push(pts[i].distance / want);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    eprintln!(
        "found/analytic: median {median:.4}, max {:.4}, {} records",
        ratios[ratios.len() - 1],
        ratios.len()
    );
    assert!(ratios.len() >= 10);
    assert!(median < 1.02, "median ratio {median}");
    // a local search can settle on a farther facet of the region: rarely
    let close = ratios.iter().filter(|&&r| r < 1.05).count();
    assert!(close * 5 >= ratios.len() * 4, "{ratios:?}");
    assert!(ratios[ratios.len() - 1] < 2.0, "{ratios:?}");

    // the same records one at a time: the same results (a stream per record)
    let one = QueryBoundaryConfig {
        batch_size: 1,
        ..cfg.clone()
    };
    let mut oracle = |rows: &[f32], _m: usize| -> Result<Vec<usize>, AttackError> {
        Ok(rows.chunks(d).map(|r| linear_labels(&w, &b, r)).collect())
    };
    let again =
        query_boundary_points(&mut oracle, &x, &y, d, &lo, &hi, &one, 0, &mut |_| true).unwrap();
    assert_eq!(again, pts);

    // a small budget is never exceeded
    let small = QueryBoundaryConfig {
        max_queries: 60,
        ..cfg
    };
    let few =
        query_boundary_points(&mut oracle, &x, &y, d, &lo, &hi, &small, 0, &mut |_| true).unwrap();
    assert!(few.iter().all(|p| p.queries <= 60));
    assert!(few.iter().any(|p| p.queries == 60));
}

#[test]
fn bad_settings_are_errors() {
    for (cfg, want) in [
        (
            QueryBoundaryConfig {
                max_queries: 5,
                ..Default::default()
            },
            "model queries per record (boundary_distance) (boundary.max_queries, --boundary-queries) must be 10 to 1,000,000, got 5",
        ),
        (
            QueryBoundaryConfig {
                init_eval: 10,
                max_eval: 5,
                ..Default::default()
            },
            "boundary_distance: need init_eval <= max_eval, got 10 and 5",
        ),
    ] {
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.code(), "bad_config");
        assert!(e.to_string().contains(want), "{e}");
    }
}

fn demo(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/demo")
            .join(file),
    )
    .expect("demo file")
}

fn records(m: &Model, csv: &str) -> Records {
    let ds = read_csv(&demo(csv), &CsvOptions::default()).expect("csv parses");
    Records {
        x: ds.to_batch(&m.graph.input).expect("batch"),
        y: ds.labels.expect("labels"),
    }
}

/// Mann-Whitney AUC, ties 1/2.
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut s = 0.0;
    for &p in pos {
        for &q in neg {
            s += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()) as f64
}

#[test]
fn query_only_auc_on_the_digits_demo_agrees_with_ibm_art() {
    let m = load(&demo("digits_overfit.onnx")).expect("model loads");
    let t = Target {
        graph: &m.graph,
        params: &m.params,
        output_kind: m.graph.output_kind,
        num_classes: 10,
    };
    let inputs = AuditInputs {
        members: records(&m, "digits_members.csv"),
        nonmembers: records(&m, "digits_nonmembers.csv"),
        population: None,
    };
    let cfg = QueryBoundaryConfig::default();
    let out = run_boundary_distance(&t, &inputs, &cfg, &mut |_| true).unwrap();
    let ours = auc(&out.members, &out.nonmembers);
    let art: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/label_only/art_boundary.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let theirs = art["auc"].as_f64().unwrap();
    eprintln!(
        "digits demo: query-only AUC {ours:.4} (ART HopSkipJump {theirs:.4}); queries mean {} max {}, found {}, not found {}, misclassified {}",
        out.details["queries_mean"], out.details["queries_max"], out.details["found"],
        out.details["not_found"], out.details["misclassified"]
    );
    assert_eq!(art["members"], 300);
    assert_eq!(art["nonmembers"], 400);
    assert!((ours - theirs).abs() <= 0.05, "ours {ours}, ART {theirs}");
    assert!(out.details["queries_max"].as_u64().unwrap() <= cfg.max_queries as u64);
    assert_eq!(out.details["labels_only"], true);
    assert_eq!(out.details["max_queries_per_record"], cfg.max_queries);
}
