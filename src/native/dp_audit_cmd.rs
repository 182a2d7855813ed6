//! `privacy-inspector dp-audit`: train a fresh copy of a template model
//! with DP-SGD on the training records plus canaries, and bound its epsilon
//! from one run (`attacks::dp_audit`) beside the accountant's; writes the
//! report (JSON, and HTML with `--html`) and prints the figures.

use super::audit_cmd::{read_records_named, ReportOut};
use super::{parse_model, read_model_bytes, show, CliError, ModelArgs};
use clap::Args;
use privacy_inspector::attacks::dp_audit::{run_dp_audit, DpAuditConfig};
use privacy_inspector::attacks::membership::Progress;
use privacy_inspector::data::CsvOptions;
use privacy_inspector::engine::train::{DpConfig, Optimizer, TrainConfig};
use privacy_inspector::report::{Counts, Report};
use privacy_inspector::summary::num_classes;
use std::path::PathBuf;

pub const DP_AUDIT_EXAMPLES: &str = "\
The template is any trainable model (its weights are re-initialised); the
training records are a CSV with a label column. M of them become canaries
(mislabelled, each trained on with probability 1/2). Give the noise
multiplier, or --epsilon to find the noise that reaches it.

Examples:
  privacy-inspector dp-audit template.onnx --data train.csv --canaries 100 \\
      --epochs 30 --noise-multiplier 1.0 --clip 1.0 --report dp.json
  privacy-inspector dp-audit template.onnx --data train.csv --canaries 200 \\
      --epsilon 4 --delta 1e-5 --seed 3 --report dp.json --html dp.html";

#[derive(Args, Debug)]
pub struct DpAuditArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Training records (CSV with a label column)
    #[arg(long, value_name = "TRAIN.csv")]
    pub data: PathBuf,
    /// Name of the label column [default: label]
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Number of canaries m (at most the number of training records)
    #[arg(long, value_name = "M", default_value_t = 100)]
    pub canaries: usize,
    #[arg(long, value_name = "E", default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, value_name = "B", default_value_t = 64)]
    pub batch_size: usize,
    /// Adam learning rate
    #[arg(long, value_name = "LR", default_value_t = 1e-3)]
    pub lr: f32,
    /// L2 penalty on the weights (l2/2 |w|^2)
    #[arg(long, value_name = "L2", default_value_t = 0.0)]
    pub l2: f32,
    /// Per-record gradient clipping norm C
    #[arg(long, value_name = "C", default_value_t = 1.0)]
    pub clip: f64,
    /// Noise multiplier sigma (noise standard deviation sigma * C)
    #[arg(long, value_name = "SIGMA", conflicts_with = "epsilon")]
    pub noise_multiplier: Option<f64>,
    /// Find the smallest noise multiplier whose accountant epsilon is at most this
    #[arg(long, value_name = "EPS")]
    pub epsilon: Option<f64>,
    #[arg(long, value_name = "D", default_value_t = 1e-5)]
    pub delta: f64,
    /// Confidence of the lower bound
    #[arg(long, value_name = "P", default_value_t = 0.95)]
    pub confidence: f64,
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub out: ReportOut,
}

pub fn dp_audit(args: &DpAuditArgs) -> Result<(), CliError> {
    let cfg = DpAuditConfig {
        canaries: args.canaries,
        train: TrainConfig {
            optimizer: Optimizer::adam(args.lr),
            epochs: args.epochs,
            batch_size: args.batch_size,
            l2: args.l2,
            dp: Some(DpConfig {
                clip_norm: args.clip,
                noise_multiplier: args.noise_multiplier.unwrap_or(1.0),
                delta: args.delta,
            }),
            ..TrainConfig::default()
        },
        seed: args.seed,
        beta: 1.0 - args.confidence,
        target_epsilon: args.epsilon,
        ..DpAuditConfig::default()
    };
    // every typed number in its declared range before any file is read
    cfg.validate().map_err(super::setting_err)?;
    let mut inputs = vec![
        ("MODEL", args.model.model.as_path()),
        ("--data", &args.data),
    ];
    if let Some(l) = &args.model.limits {
        inputs.push(("--limits", l));
    }
    super::files::check_outputs(&inputs, &args.out.outputs())?;
    let bytes = read_model_bytes(&args.model.model, &args.model.limits()?)?;
    let model = parse_model(&args.model, &bytes)?;
    let opts = CsvOptions {
        label_column: args.label_column.clone(),
        require_label: true,
        ..args.model.limits()?.csv_options()
    };
    let (records, _) = read_records_named(&args.data, &opts, &model)?;
    if args.noise_multiplier.is_none() && args.epsilon.is_none() {
        return Err(CliError::Usage(
            "give the noise of the run: --noise-multiplier SIGMA or --epsilon EPS".into(),
        ));
    }
    let classes = num_classes(&model).unwrap_or(2);
    let (result, _) = run_dp_audit(
        &model.graph,
        &model.params,
        &records.x,
        &records.y,
        &cfg,
        &mut |_: Progress| true,
    )
    .map_err(|source| CliError::Audit { source })?;
    let mut report = Report::base(
        &model,
        Some(show(&args.model.model)),
        None,
        classes,
        args.seed,
        Counts {
            members: records.len(),
            nonmembers: 0,
            population: 0,
        },
        serde_json::json!({
            "data": show(&args.data),
            "label_column": args.label_column.clone().unwrap_or_else(|| "label".into()),
        }),
    )
    .with_limits(&args.model.limits()?);
    let b = &result.bound;
    println!(
        "one-run DP audit: {} canaries ({} included), {} records trained on, sigma {}; not ({:.3}, {})-DP at {:.0}% confidence; accountant epsilon {}",
        b.canaries,
        b.included,
        result.trained_on,
        result
            .noise_multiplier
            .map_or("-".into(), |s| format!("{s:.4}")),
        b.epsilon_lower_bound,
        b.delta,
        100.0 * (1.0 - b.beta),
        result
            .accountant_epsilon
            .map_or("none (no noise)".into(), |e| format!("{e:.3}"))
    );
    for r in &b.rows {
        println!(
            "  {} IN + {} OUT guesses: {} correct, epsilon >= {:.3}",
            r.k_plus, r.k_minus, r.correct, r.epsilon_lower_bound
        );
    }
    report.dp_audit = Some(result);
    args.out.write(&report)?;
    Ok(())
}
