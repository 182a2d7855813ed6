//! The per-record vulnerability table (`stats::vulnerability`) against an
//! independent implementation: tests/fixtures/records/gen_records_expected.py
//! (scikit-learn's roc_curve for the thresholds, SciPy's percentileofscore
//! for the ranks) wrote, for a synthetic case with many ties (both FPR
//! levels resolvable) and for the digits Quick audit (0.1% not resolvable),
//! the expected CSV and the attack agreement. The scores in the expected CSV
//! are the input here; the table and the CSV this build writes must agree:
//! header, sets, rows, labels, scores and flags exactly, percentiles within
//! 1e-9 (SciPy averages two percentages, we take one), the agreement exactly.

use privacy_inspector::stats::roc;
use privacy_inspector::stats::vulnerability::{
    record_table, records_csv, AttackScores, PerSet, RecordTable,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records")
}

fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|e| panic!("'{s}' is not a number: {e}"))
}

/// Scores and labels per attack from the expected CSV.
struct Inputs {
    ids: Vec<String>,
    members: Vec<Vec<f64>>,
    nonmembers: Vec<Vec<f64>>,
    member_labels: Vec<usize>,
    nonmember_labels: Vec<usize>,
}

fn inputs(header: &[String], rows: &[Vec<String>]) -> Inputs {
    let ids: Vec<String> = header
        .iter()
        .filter_map(|h| h.strip_suffix("_score").map(str::to_string))
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let mut x = Inputs {
        members: vec![Vec::new(); ids.len()],
        nonmembers: vec![Vec::new(); ids.len()],
        ids,
        member_labels: Vec::new(),
        nonmember_labels: Vec::new(),
    };
    for r in rows {
        let member = match r[0].as_str() {
            "member" => true,
            "nonmember" => false,
            other => panic!("set '{other}'"),
        };
        let label: usize = r[2].parse().expect("label");
        if member {
            x.member_labels.push(label);
        } else {
            x.nonmember_labels.push(label);
        }
        for (i, id) in x.ids.iter().enumerate() {
            let s = num(&r[col(&format!("{id}_score"))]);
            if member {
                x.members[i].push(s)
            } else {
                x.nonmembers[i].push(s)
            }
        }
    }
    x
}

fn build(x: &Inputs) -> RecordTable {
    let attacks: Vec<AttackScores> = x
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| AttackScores {
            id,
            members: &x.members[i],
            nonmembers: &x.nonmembers[i],
        })
        .collect();
    record_table(&attacks, &x.member_labels, &x.nonmember_labels).expect("table")
}

#[track_caller]
fn check(name: &str, resolvable: [bool; 2]) {
    let text = std::fs::read_to_string(dir().join(format!("{name}.expected.csv"))).expect(name);
    let (header, want) = parse(&text);
    let x = inputs(&header, &want);
    let table = build(&x);
    assert_eq!(table.resolvable, resolvable, "{name}");
    let scores: Vec<PerSet<&[f64]>> = (0..x.ids.len())
        .map(|i| PerSet {
            members: &x.members[i][..],
            nonmembers: &x.nonmembers[i][..],
        })
        .collect();
    let csv = records_csv(&table, &scores).expect("csv");
    let (got_header, got) = parse(&csv);
    assert_eq!(got_header, header, "{name}: header");
    assert_eq!(got.len(), want.len(), "{name}: rows");
    let mut flagged = 0;
    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "{name} row {r}");
        for (c, (a, b)) in g.iter().zip(w).enumerate() {
            let col = &header[c];
            if col.ends_with("_percentile") {
                let (a, b) = (num(a), num(b));
                assert!((a - b).abs() <= 1e-9, "{name} row {r} {col}: {a} vs {b}");
            } else if col.ends_with("_score") {
                assert_eq!(num(a), num(b), "{name} row {r} {col}");
            } else {
                assert_eq!(a, b, "{name} row {r} {col}");
                if col.starts_with("flags_") {
                    flagged += num(a) as usize;
                }
            }
        }
    }
    assert!(
        flagged > 0,
        "{name}: the case flags nothing, so it checks little"
    );
    let agreement: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join(format!("{name}.agreement.json"))).expect("agreement"),
    )
    .expect("agreement JSON");
    assert_eq!(
        serde_json::to_value(&table.agreement).expect("json"),
        agreement,
        "{name}: agreement"
    );
    // the flags are the TPR@FPR operating points of the statistics
    for (i, a) in table.attacks.iter().enumerate() {
        let curve = roc::roc(&x.members[i], &x.nonmembers[i]).expect("roc");
        for (l, &level) in table.levels.iter().enumerate() {
            let p = curve.tpr_at_fpr(level);
            assert_eq!(
                a.flagged.members[l].len(),
                p.tp,
                "{name} {} at {level}",
                a.id
            );
            assert_eq!(
                a.flagged.nonmembers[l].len(),
                p.fp,
                "{name} {} at {level}",
                a.id
            );
            assert!(p.fp as f64 <= level * x.nonmember_labels.len() as f64);
        }
    }
}

#[test]
fn synthetic_ties_agree_with_scikit_learn_and_scipy() {
    check("synthetic", [true, true]);
}

#[test]
fn digits_quick_audit_agrees_with_scikit_learn_and_scipy() {
    check("digits_quick", [true, false]);
}
