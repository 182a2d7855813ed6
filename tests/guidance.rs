//! Guidance rules on synthetic report values: each rule fires when its
//! figure crosses its threshold and not otherwise, and the thresholds the
//! user sets are the ones used.

use privacy_inspector::attacks::attribute::{
    AttributeConfig, AttributeReport, AttributeSettings, ColumnKind, SetFigures,
};
use privacy_inspector::attacks::inversion::{
    ClassInversion, ImageLayout, InversionConfig, InversionMode, InversionReport, SimilarityKind,
    StopRule,
};
use privacy_inspector::attacks::membership::audit::AttackResult;
use privacy_inspector::guidance::{
    evaluate, render_html, render_text, Group, Guidance, GuidanceOptions, ScanFindings, Status,
    Thresholds,
};
use privacy_inspector::privacy::accountant::noise_multiplier_for;
use privacy_inspector::report::{Counts, Report};
use privacy_inspector::stats::{evaluate as stats_evaluate, StatsConfig};
use serde_json::json;

/// A report on the bench MLP fixture with `members` and `nonmembers`
/// counts and no results.
fn report(members: usize, nonmembers: usize) -> Report {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bench_mlp_64_128_10.onnx"
    );
    let model = privacy_inspector::onnx::load(&std::fs::read(path).unwrap()).unwrap();
    Report::base(
        &model,
        None,
        None,
        10,
        0,
        Counts {
            members,
            nonmembers,
            population: 0,
        },
        serde_json::Value::Null,
    )
}

/// Membership attack statistics from real scores, then the figures the
/// rules read set to the given values.
fn attack(id: &str, n_non: usize, auc: f64, tpr_0001: f64, eps: f64) -> AttackResult {
    let m: Vec<f64> = (0..200).map(|i| i as f64 + 50.0).collect();
    let n: Vec<f64> = (0..n_non)
        .map(|i| i as f64 * 200.0 / n_non as f64)
        .collect();
    let mut s = stats_evaluate(
        &m,
        &n,
        &vec![0; m.len()],
        &vec![0; n.len()],
        &StatsConfig::default(),
    )
    .unwrap();
    s.auc = auc;
    s.auc_ci95 = [auc - 0.02, auc + 0.02];
    if let Some(p) = s.tpr_at_fpr.get_mut("0.001") {
        p.tpr = tpr_0001;
    }
    s.epsilon_lower_bound = eps;
    s.epsilon.value = eps;
    AttackResult {
        id: id.into(),
        skipped: None,
        stats: Some(s),
        scores: None,
        details: json!({}),
    }
}

fn gap_attack(member_acc: f64, nonmember_acc: f64) -> AttackResult {
    let mut a = attack(
        "gap",
        1000,
        0.5 + (member_acc - nonmember_acc) / 2.0,
        0.0,
        0.0,
    );
    a.details = json!({"member_accuracy": member_acc, "nonmember_accuracy": nonmember_acc});
    a
}

fn run(r: &Report, scan: Option<&ScanFindings>, opts: &GuidanceOptions) -> Guidance {
    evaluate(r, scan, opts).unwrap()
}

#[track_caller]
fn status(g: &Guidance, id: &str) -> Status {
    g.rule(id)
        .unwrap_or_else(|| panic!("rule {id} missing"))
        .status
}

fn opts_with(f: impl FnOnce(&mut Thresholds)) -> GuidanceOptions {
    let mut o = GuidanceOptions::default();
    f(&mut o.thresholds);
    o
}

#[test]
fn an_empty_report_evaluates_nothing_and_says_why() {
    let g = run(&report(0, 0), None, &GuidanceOptions::default());
    let ids: Vec<&str> = g.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "attribute_inference",
            "generalization_gap",
            "low_fpr_tpr",
            "dp_sgd",
            "label_only",
            "inversion",
            "embedded_records",
            "record_like_tensors",
            "claimed_epsilon",
            "metadata"
        ]
    );
    for r in &g.rules {
        assert_eq!(r.status, Status::NotEvaluated, "{}", r.id);
        assert!(!r.reason.as_deref().unwrap_or("").is_empty(), "{}", r.id);
        assert!(!r.sources.is_empty(), "{} cites nothing", r.id);
    }
    assert!(render_html(&g).contains("No rule fired"));
}

#[test]
fn generalization_gap_fires_above_its_threshold_only() {
    let mut r = report(1000, 1000);
    r.attacks = vec![gap_attack(1.0, 0.9)];
    let g = run(&r, None, &GuidanceOptions::default());
    assert_eq!(status(&g, "generalization_gap"), Status::Fired);
    let rule = g.rule("generalization_gap").unwrap();
    assert!((rule.figure.as_ref().unwrap().value - 0.1).abs() < 1e-12);
    assert_eq!(rule.threshold.as_ref().unwrap().key, "accuracy_gap");
    assert_eq!(rule.group, Group::Model);
    r.attacks = vec![gap_attack(0.97, 0.95)];
    assert_eq!(
        status(
            &run(&r, None, &GuidanceOptions::default()),
            "generalization_gap"
        ),
        Status::Clear
    );
    // the user's threshold is honoured
    let o = opts_with(|t| t.accuracy_gap = 0.01);
    assert_eq!(
        status(&run(&r, None, &o), "generalization_gap"),
        Status::Fired
    );
}

#[test]
fn low_fpr_tpr_compares_with_ratio_times_level_and_needs_enough_nonmembers() {
    let mut r = report(200, 1000);
    r.attacks = vec![
        attack("loss", 1000, 0.6, 0.004, 0.0),
        attack("lira_online", 1000, 0.7, 0.02, 0.0),
    ];
    let g = run(&r, None, &GuidanceOptions::default());
    let rule = g.rule("low_fpr_tpr").unwrap();
    assert_eq!(rule.status, Status::Fired);
    let f = rule.figure.as_ref().unwrap();
    assert_eq!(f.value, 0.02);
    assert!(f.location.contains("lira_online"), "{}", f.location);
    let t = rule.threshold.as_ref().unwrap();
    assert!((t.bound - 0.01).abs() < 1e-15 && t.setting == 10.0);
    // ratio 30 -> bound 0.03 > 0.02
    let o = opts_with(|t| t.low_fpr_tpr_ratio = 30.0);
    assert_eq!(status(&run(&r, None, &o), "low_fpr_tpr"), Status::Clear);
    r.attacks = vec![attack("loss", 1000, 0.6, 0.008, 0.0)];
    assert_eq!(
        status(&run(&r, None, &GuidanceOptions::default()), "low_fpr_tpr"),
        Status::Clear
    );
    // 200 non-members cannot resolve FPR 0.1%
    r.attacks = vec![attack("loss", 200, 0.6, 0.5, 0.0)];
    let g = run(&r, None, &GuidanceOptions::default());
    let rule = g.rule("low_fpr_tpr").unwrap();
    assert_eq!(rule.status, Status::NotEvaluated);
    let why = rule.reason.as_deref().unwrap();
    assert!(why.contains("1000") && why.contains("200"), "{why}");
    // ... but 1% can be chosen
    let o = opts_with(|t| t.low_fpr = 0.01);
    let g = run(&r, None, &o);
    assert_ne!(status(&g, "low_fpr_tpr"), Status::NotEvaluated);
}

#[test]
fn dp_sgd_fires_on_the_epsilon_bound_and_sizes_the_noise_with_the_accountant() {
    let mut r = report(1000, 1000);
    r.attacks = vec![
        attack("loss", 1000, 0.6, 0.0, 0.4),
        attack("rmia_online", 1000, 0.7, 0.0, 2.0),
    ];
    let g = run(&r, None, &GuidanceOptions::default());
    let rule = g.rule("dp_sgd").unwrap();
    assert_eq!(rule.status, Status::Fired);
    assert_eq!(rule.figure.as_ref().unwrap().value, 2.0);
    // default plan: target 8, batch 64 of 1000 records, 30 epochs of 16 steps
    let want = noise_multiplier_for(8.0, 0.064, 480, 1e-5)
        .unwrap()
        .noise_multiplier;
    assert_eq!(rule.details["noise_multiplier"].as_f64().unwrap(), want);
    assert_eq!(rule.details["steps"], 480);
    assert!(
        rule.action.contains(&format!("{want:.3}")),
        "{}",
        rule.action
    );
    // below the threshold
    r.attacks = vec![attack("loss", 1000, 0.6, 0.0, 0.4)];
    assert_eq!(
        status(&run(&r, None, &GuidanceOptions::default()), "dp_sgd"),
        Status::Clear
    );
    let o = opts_with(|t| t.epsilon_lower_bound = 0.3);
    assert_eq!(status(&run(&r, None, &o), "dp_sgd"), Status::Fired);
    // the claimed epsilon is the default target
    let mut o = GuidanceOptions {
        claimed_epsilon: Some(2.0),
        ..GuidanceOptions::default()
    };
    o.dp_plan.records = Some(5000);
    o.dp_plan.batch_size = 100;
    o.dp_plan.epochs = 10;
    let g = run(&r, None, &o);
    let want = noise_multiplier_for(2.0, 0.02, 500, 1e-5)
        .unwrap()
        .noise_multiplier;
    assert_eq!(
        g.rule("dp_sgd").unwrap().details["noise_multiplier"]
            .as_f64()
            .unwrap(),
        want
    );
}

#[test]
fn claimed_epsilon_is_refuted_only_by_a_larger_bound_at_a_comparable_delta() {
    let mut r = report(1000, 1000);
    r.attacks = vec![attack("lira_online", 1000, 0.8, 0.0, 2.0)];
    assert_eq!(
        status(
            &run(&r, None, &GuidanceOptions::default()),
            "claimed_epsilon"
        ),
        Status::NotEvaluated
    );
    let claim = |e: f64, d: Option<f64>| GuidanceOptions {
        claimed_epsilon: Some(e),
        claimed_delta: d,
        ..GuidanceOptions::default()
    };
    let g = run(&r, None, &claim(1.0, None));
    let rule = g.rule("claimed_epsilon").unwrap();
    assert_eq!(rule.status, Status::Fired);
    assert_eq!(rule.group, Group::People);
    assert!(rule.finding.contains("false"), "{}", rule.finding);
    assert_eq!(rule.threshold.as_ref().unwrap().comparison, ">");
    let g = run(&r, None, &claim(3.0, None));
    assert_eq!(status(&g, "claimed_epsilon"), Status::Clear);
    assert!(g
        .rule("claimed_epsilon")
        .unwrap()
        .finding
        .contains("never confirm"));
    // equal is not a refutation
    assert_eq!(
        status(&run(&r, None, &claim(2.0, None)), "claimed_epsilon"),
        Status::Clear
    );
    // a claim at a smaller delta is refuted; at a larger one it cannot be
    assert_eq!(
        status(&run(&r, None, &claim(1.0, Some(1e-6))), "claimed_epsilon"),
        Status::Fired
    );
    let g = run(&r, None, &claim(1.0, Some(1e-3)));
    assert_eq!(status(&g, "claimed_epsilon"), Status::NotEvaluated);
    assert!(g
        .rule("claimed_epsilon")
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .contains("0.001"));
}

#[test]
fn label_only_counts_only_label_only_attacks() {
    let mut r = report(1000, 1000);
    r.attacks = vec![attack("loss", 1000, 0.95, 0.0, 0.0)];
    assert_eq!(
        status(&run(&r, None, &GuidanceOptions::default()), "label_only"),
        Status::NotEvaluated
    );
    r.attacks
        .push(attack("noise_robustness", 1000, 0.7, 0.0, 0.0));
    let g = run(&r, None, &GuidanceOptions::default());
    assert_eq!(status(&g, "label_only"), Status::Fired);
    assert_eq!(
        g.rule("label_only").unwrap().figure.as_ref().unwrap().value,
        0.7
    );
    assert_eq!(g.rule("label_only").unwrap().group, Group::Infrastructure);
    let o = opts_with(|t| t.label_only_auc = 0.75);
    assert_eq!(status(&run(&r, None, &o), "label_only"), Status::Clear);
    let mut query_only = attack("boundary_distance", 1000, 0.55, 0.0, 0.0);
    query_only.details = json!({"labels_only": true});
    r.attacks[1] = query_only.clone();
    assert_eq!(
        status(&run(&r, None, &GuidanceOptions::default()), "label_only"),
        Status::Clear
    );
    // white-box results never feed the rule: the gradient search, and a
    // boundary_distance without the labels-only mark (older reports)
    r.attacks = vec![
        attack("loss", 1000, 0.95, 0.0, 0.0),
        attack("boundary_distance_gradient", 1000, 0.9, 0.0, 0.0),
        attack("boundary_distance", 1000, 0.9, 0.0, 0.0),
    ];
    let g = run(&r, None, &GuidanceOptions::default());
    assert_eq!(status(&g, "label_only"), Status::NotEvaluated);
    assert!(g
        .rule("label_only")
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .contains("white-box results (boundary_distance_gradient) do not count"));
    // the query-only search fires it, and the finding names it
    let mut q = query_only;
    q.stats.as_mut().unwrap().auc = 0.7;
    r.attacks.push(q);
    let g = run(&r, None, &GuidanceOptions::default());
    assert_eq!(status(&g, "label_only"), Status::Fired);
    let rule = g.rule("label_only").unwrap();
    assert_eq!(rule.figure.as_ref().unwrap().value, 0.7);
    assert!(
        rule.finding.contains("boundary_distance tells members")
            && rule.finding.contains("query-only boundary distance"),
        "{}",
        rule.finding
    );
}

fn class_inversion(class: usize, sim: Option<f64>, kind: SimilarityKind) -> ClassInversion {
    ClassInversion {
        class,
        target_confidence: 0.99,
        cost: 0.01,
        steps: 10,
        stopped_by: StopRule::StepLimit,
        queries: 10,
        shape: vec![4],
        reconstruction: vec![0.0; 4],
        nearest_member_distance: Some(1.0),
        nearest_nonmember_distance: Some(2.0),
        class_mean_similarity: sim,
        similarity_kind: kind,
        recognised: Some(true),
        nn_predicted_class: Some(class),
        members_class_mean: None,
    }
}

fn inversion(classes: Vec<ClassInversion>) -> InversionReport {
    InversionReport {
        mode: InversionMode::WhiteBox,
        settings: InversionConfig::default(),
        layout: ImageLayout::Flat,
        classes,
        recognised_fraction: Some(1.0),
        classifier_rows: 10,
        data_source: "data".into(),
    }
}

#[test]
fn inversion_uses_the_threshold_of_its_similarity_kind() {
    let mut r = report(100, 100);
    r.inversion = Some(inversion(vec![
        class_inversion(0, Some(0.3), SimilarityKind::Ssim),
        class_inversion(1, Some(0.6), SimilarityKind::Ssim),
        class_inversion(2, None, SimilarityKind::Ssim),
    ]));
    let g = run(&r, None, &GuidanceOptions::default());
    let rule = g.rule("inversion").unwrap();
    assert_eq!(rule.status, Status::Fired);
    assert_eq!(rule.figure.as_ref().unwrap().value, 0.6);
    assert_eq!(rule.threshold.as_ref().unwrap().key, "inversion_ssim");
    assert!(rule.finding.contains("class 1"), "{}", rule.finding);
    let o = opts_with(|t| t.inversion_ssim = 0.7);
    assert_eq!(status(&run(&r, None, &o), "inversion"), Status::Clear);
    r.inversion = Some(inversion(vec![class_inversion(
        0,
        Some(0.95),
        SimilarityKind::Cosine,
    )]));
    let g = run(&r, None, &GuidanceOptions::default());
    assert_eq!(status(&g, "inversion"), Status::Fired);
    assert_eq!(
        g.rule("inversion").unwrap().threshold.as_ref().unwrap().key,
        "inversion_cosine"
    );
    let o = opts_with(|t| t.inversion_cosine = 0.99);
    assert_eq!(status(&run(&r, None, &o), "inversion"), Status::Clear);
    // nothing comparable
    r.inversion = Some(inversion(vec![class_inversion(
        0,
        None,
        SimilarityKind::Ssim,
    )]));
    assert_eq!(
        status(&run(&r, None, &GuidanceOptions::default()), "inversion"),
        Status::NotEvaluated
    );
}

fn set(acc: f64) -> SetFigures {
    SetFigures {
        n: 100,
        attack_correct: (acc * 100.0) as usize,
        attack_accuracy: acc,
        attack_ci95: [acc - 0.1, acc + 0.1],
        prior_correct: 50,
        prior_accuracy: 0.5,
        prior_ci95: [0.4, 0.6],
        imputation_correct: 60,
        imputation_accuracy: 0.6,
        imputation_ci95: [0.5, 0.7],
        confusion: vec![vec![0; 2]; 2],
        true_counts: vec![50, 50],
        truth: vec![],
        attack_predictions: vec![],
        prior_predictions: vec![],
        imputation_predictions: vec![],
    }
}

fn attribute(gap: f64, baseline_gap: f64) -> AttributeReport {
    AttributeReport {
        column: 3,
        column_name: "smoker".into(),
        kind: ColumnKind::Categorical,
        values: vec!["0".into(), "1".into()],
        representatives: vec![0.0, 1.0],
        bins: None,
        prior: vec![0.5, 0.5],
        members: set(0.6 + gap),
        nonmembers: set(0.6),
        gap,
        gap_ci95: [gap - 0.05, gap + 0.05],
        prior_gap: 0.0,
        prior_gap_ci95: [-0.1, 0.1],
        baseline_gap,
        baseline_gap_ci95: [baseline_gap - 0.1, baseline_gap + 0.1],
        gap_minus_baseline: gap - baseline_gap,
        reference_set: "nonmembers".into(),
        values_outside_bins: 0,
        settings: AttributeSettings {
            config: AttributeConfig::default(),
            prior: String::new(),
            imputation: String::new(),
            bin_value: String::new(),
            gap_interval: String::new(),
            ties: String::new(),
            knn_reference_size: 100,
        },
    }
}

#[test]
fn attribute_inference_fires_above_the_baseline_margin() {
    let mut r = report(100, 100);
    r.attribute = Some(attribute(0.15, 0.05));
    let g = run(&r, None, &GuidanceOptions::default());
    let rule = g.rule("attribute_inference").unwrap();
    assert_eq!(rule.status, Status::Fired);
    assert_eq!(rule.group, Group::Data);
    assert!((rule.figure.as_ref().unwrap().value - 0.1).abs() < 1e-12);
    assert!(rule.finding.contains("smoker"));
    r.attribute = Some(attribute(0.07, 0.05));
    assert_eq!(
        status(
            &run(&r, None, &GuidanceOptions::default()),
            "attribute_inference"
        ),
        Status::Clear
    );
    let o = opts_with(|t| t.attribute_gap_over_baseline = 0.01);
    assert_eq!(
        status(&run(&r, None, &o), "attribute_inference"),
        Status::Fired
    );
}

#[test]
fn scan_rules_fire_on_counts_at_or_above_their_thresholds() {
    let r = report(100, 100);
    let scan = ScanFindings {
        member_rows_embedded: 5,
        tensors_flagged: 0,
        metadata_flags: 2,
        examples: vec!["SVMClassifier support_vectors: 5 member rows <script>".into()],
    };
    let g = run(&r, Some(&scan), &GuidanceOptions::default());
    assert_eq!(status(&g, "embedded_records"), Status::Fired);
    assert_eq!(status(&g, "record_like_tensors"), Status::Clear);
    assert_eq!(status(&g, "metadata"), Status::Fired);
    assert_eq!(g.rule("metadata").unwrap().group, Group::People);
    assert!(g
        .rule("embedded_records")
        .unwrap()
        .finding
        .contains("support_vectors"));
    let o = opts_with(|t| {
        t.embedded_member_rows = 6;
        t.metadata_flags = 3;
        t.flagged_tensors = 0;
    });
    let g = run(&r, Some(&scan), &o);
    assert_eq!(status(&g, "embedded_records"), Status::Clear);
    assert_eq!(status(&g, "metadata"), Status::Clear);
    assert_eq!(status(&g, "record_like_tensors"), Status::Fired);
    // the HTML escapes what the scan reported
    let g = run(&r, Some(&scan), &GuidanceOptions::default());
    let html = render_html(&g);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
}

#[test]
fn html_groups_fired_actions_and_lists_every_threshold() {
    let mut r = report(1000, 1000);
    r.attacks = vec![
        gap_attack(1.0, 0.8),
        attack("lira_online", 1000, 0.8, 0.05, 2.5),
    ];
    r.attribute = Some(attribute(0.2, 0.0));
    let scan = ScanFindings {
        metadata_flags: 1,
        ..ScanFindings::default()
    };
    let g = run(&r, Some(&scan), &GuidanceOptions::default());
    let html = render_html(&g);
    let pos = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    // group order: data, model, infrastructure, people
    assert!(pos("guidance-group-data") < pos("guidance-group-model"));
    assert!(pos("guidance-group-model") < pos("guidance-group-infrastructure"));
    assert!(pos("guidance-group-infrastructure") < pos("guidance-group-people"));
    for r in g.fired() {
        assert!(
            html.contains(&format!("data-testid=\"guidance-{}\"", r.id)),
            "{}",
            r.id
        );
    }
    // every rule is in the table, every threshold key appears
    assert_eq!(html.matches("<tr><td>").count(), g.rules.len());
    for key in [
        "accuracy_gap",
        "low_fpr_tpr_ratio",
        "epsilon_lower_bound",
        "label_only_auc",
        "attribute_gap_over_baseline",
        "metadata_flags",
    ] {
        assert!(html.contains(key), "{key}");
    }
    assert!(html.contains("Carlini"));
    let text = render_text(&g);
    assert!(text.contains("[accuracy_gap = 0.050]"), "{text}");
    assert!(text.contains("(Carlini et al. 2022)"), "{text}");
    assert!(
        text.contains("Not evaluated: inversion (model inversion did not run)"),
        "{text}"
    );
    assert!(text.find("  Data").unwrap() < text.find("  Model").unwrap());
    assert!(!html.contains("style="));
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let r = report(10, 10);
    for (o, needle) in [
        (opts_with(|t| t.accuracy_gap = f64::NAN), "accuracy_gap"),
        (opts_with(|t| t.low_fpr = 0.05), "low_fpr"),
        (opts_with(|t| t.label_only_auc = 1.5), "label_only_auc"),
        (
            GuidanceOptions {
                claimed_epsilon: Some(-1.0),
                ..GuidanceOptions::default()
            },
            "claimed_epsilon",
        ),
    ] {
        let e = evaluate(&r, None, &o).unwrap_err();
        assert_eq!(e.code(), "bad_guidance_setting");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn options_parse_from_partial_json_and_the_section_round_trips() {
    let o: GuidanceOptions = serde_json::from_str(
        r#"{"thresholds": {"accuracy_gap": 0.1}, "claimed_epsilon": 2.0, "dp_plan": {"epochs": 5}}"#,
    )
    .unwrap();
    assert_eq!(o.thresholds.accuracy_gap, 0.1);
    assert_eq!(o.thresholds.label_only_auc, 0.6);
    assert_eq!(o.claimed_epsilon, Some(2.0));
    assert_eq!(o.dp_plan.epochs, 5);
    assert_eq!(o.dp_plan.batch_size, 64);
    let mut r = report(1000, 1000);
    r.attacks = vec![gap_attack(1.0, 0.8)];
    let g = run(&r, None, &o);
    let text = serde_json::to_string(&g).unwrap();
    assert!(text.contains("\"status\":\"fired\""), "{text}");
    assert!(text.contains("\"group\":\"model\""));
    let back: Guidance = serde_json::from_str(&text).unwrap();
    // (serde_json's default float parsing may change the last digit of the
    // accountant's numbers in `details`; everything else is exact)
    assert_eq!(back.options, g.options);
    for (a, b) in back.rules.iter().zip(&g.rules) {
        assert_eq!(
            (&a.id, a.status, &a.figure, &a.threshold),
            (&b.id, b.status, &b.figure, &b.threshold)
        );
        assert_eq!(
            (&a.finding, &a.action, &a.sources),
            (&b.finding, &b.action, &b.sources)
        );
    }
}
