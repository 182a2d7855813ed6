//! `privacy-inspector audit`: read the model and the member / non-member /
//! population CSVs, run the membership audit of the core
//! (`attacks::membership::audit::run_audit`), write the JSON report (and
//! optionally the HTML one) with the model-file scan (`scan::scan_model`)
//! as its `scan` section, print the headline figures, with progress on
//! stderr.

use super::{parse_model, read_model_bytes, show, CliError, IoCause, KindArg, ModelArgs};
use clap::Args;
use privacy_inspector::attacks::membership::audit::{run_audit, AuditSettings};
use privacy_inspector::attacks::membership::references::TrainRecipe;
use privacy_inspector::attacks::membership::{AuditInputs, Progress, Records, Target};
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::engine::train::Optimizer;
use privacy_inspector::engine::OutputKind;
use privacy_inspector::report::{html, Counts, Report};
use privacy_inspector::summary::num_classes;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub const AUDIT_EXAMPLES: &str = "\
Attack ids: loss, confidence, entropy, modified_entropy, risk_score, gap,
noise_robustness, boundary_distance, shokri, lira_online, lira_offline,
rmia_online, rmia_offline; 'all' (default) or 'quick' (no reference models).
Offline attacks, RMIA and Shokri need --population; without it they are
reported as skipped with the reason.

Examples:
  privacy-inspector audit model.onnx --members train.csv --nonmembers test.csv --report audit.json
  privacy-inspector audit model.onnx --members train.csv --nonmembers test.csv \\
      --population extra.csv --attacks all --references 16 --seed 7 --report audit.json --html audit.html";

/// The labelled record sets of a probe (`audit`, `attribute`).
#[derive(Args, Debug)]
pub struct LabelledInputs {
    /// CSV of records the model was trained on (with a label column)
    #[arg(long, value_name = "M.csv")]
    pub members: PathBuf,
    /// CSV of records the model never saw (with a label column)
    #[arg(long, value_name = "N.csv")]
    pub nonmembers: PathBuf,
    /// CSV of further records from the same population (never in training)
    #[arg(long, value_name = "P.csv")]
    pub population: Option<PathBuf>,
    /// Name of the label column [default: label]
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
}

impl LabelledInputs {
    /// The input file names recorded in the report.
    pub fn names(&self) -> serde_json::Value {
        serde_json::json!({
            "members": show(&self.members),
            "nonmembers": show(&self.nonmembers),
            "population": self.population.as_deref().map(show),
            "label_column": self.label_column.clone().unwrap_or_else(|| "label".into()),
        })
    }
}

/// Where a probe writes its report.
#[derive(Args, Debug)]
pub struct ReportOut {
    /// Write the JSON report here
    #[arg(long, value_name = "OUT.json")]
    pub report: PathBuf,
    /// Also write a self-contained HTML report
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
}

impl ReportOut {
    pub fn write(&self, report: &Report) -> Result<(), CliError> {
        write_file(&self.report, &report.to_json())?;
        if let Some(p) = &self.html {
            write_file(p, &html::render(report, true))?;
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub inputs: LabelledInputs,
    /// Comma-separated attack ids, 'quick' or 'all'
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub attacks: String,
    /// Reference models per mode (online / offline)
    #[arg(long, value_name = "K", default_value_t = 16)]
    pub references: usize,
    /// Master seed: every random choice derives from it
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// delta of the empirical epsilon lower bound
    #[arg(long, value_name = "D", default_value_t = 1e-5)]
    pub delta: f64,
    /// Member prior for the PPV figures
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    pub prior: f64,
    /// Reference training: fixed number of epochs (default: calibrated to the target's accuracy)
    #[arg(long, value_name = "E")]
    pub ref_epochs: Option<usize>,
    /// Reference training: Adam learning rate
    #[arg(long, value_name = "LR", default_value_t = 1e-3)]
    pub ref_lr: f32,
    /// Reference training: L2 penalty on weights
    #[arg(long, value_name = "L2", default_value_t = 0.0)]
    pub ref_l2: f32,
    /// Reference training: minibatch size
    #[arg(long, value_name = "B", default_value_t = 64)]
    pub ref_batch_size: usize,
    /// Reference training: epoch limit when calibrating
    #[arg(long, value_name = "E", default_value_t = 100)]
    pub ref_max_epochs: usize,
    #[command(flatten)]
    pub out: ReportOut,
    /// No progress on stderr
    #[arg(long)]
    pub quiet: bool,
}

/// Read a labelled CSV into records in the model's input shape, with its
/// feature column names.
pub(super) fn read_records_named(
    path: &Path,
    opts: &CsvOptions,
    model: &privacy_inspector::onnx::Model,
) -> Result<(Records, Vec<String>), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Read {
        path: show(path),
        source: IoCause(e),
    })?;
    let data_err = |source| CliError::Data {
        path: show(path),
        source,
    };
    let ds = read_csv(&bytes, opts).map_err(data_err)?;
    let x = ds.to_batch(&model.graph.input).map_err(data_err)?;
    let y = ds.labels.clone().unwrap_or_default();
    Ok((Records { x, y }, ds.feature_names))
}

fn read_records(
    path: &Path,
    opts: &CsvOptions,
    model: &privacy_inspector::onnx::Model,
) -> Result<Records, CliError> {
    read_records_named(path, opts, model).map(|(r, _)| r)
}

pub fn audit(args: &AuditArgs) -> Result<(), CliError> {
    let bytes = read_model_bytes(&args.model.model)?;
    let model = parse_model(&args.model, &bytes)?;
    let kind_override: Option<OutputKind> = args.model.output_kind.map(|k: KindArg| k.into());
    let kind = kind_override.unwrap_or(model.graph.output_kind);
    let opts = CsvOptions {
        label_column: args.inputs.label_column.clone(),
        require_label: true,
        ..CsvOptions::default()
    };
    let members = read_records(&args.inputs.members, &opts, &model)?;
    let nonmembers = read_records(&args.inputs.nonmembers, &opts, &model)?;
    let population = args
        .inputs
        .population
        .as_deref()
        .map(|p| read_records(p, &opts, &model))
        .transpose()?;
    let classes = num_classes(&model).unwrap_or(2);
    let audit_err = |source| CliError::Audit { source };
    let mut settings = AuditSettings {
        attacks: AuditSettings::parse_attacks(&args.attacks).map_err(audit_err)?,
        references: args.references,
        seed: args.seed,
        recipe: TrainRecipe {
            optimizer: Optimizer::adam(args.ref_lr),
            batch_size: args.ref_batch_size,
            l2: args.ref_l2,
            max_epochs: args.ref_max_epochs,
            fixed_epochs: args.ref_epochs,
            target_accuracy: None,
        },
        ..AuditSettings::default()
    };
    settings.stats.delta = args.delta;
    settings.stats.prior = args.prior;
    let counts = Counts {
        members: members.len(),
        nonmembers: nonmembers.len(),
        population: population.as_ref().map_or(0, |p| p.len()),
    };
    // The model-file scan (stored records, metadata) joins the report.
    let flat = |r: &Records| privacy_inspector::scan::flatten_records(&r.x);
    let (m_flat, n_flat) = (flat(&members), flat(&nonmembers));
    let p_flat = population.as_ref().map(flat);
    let scan_data = privacy_inspector::scan::ScanData {
        members: Some(&m_flat),
        nonmembers: Some(&n_flat),
        population: p_flat.as_ref(),
    };
    let scan = privacy_inspector::scan::scan_model(&bytes, &scan_data, &Default::default())
        .map_err(|source| CliError::Scan { source })?;
    let inputs = AuditInputs {
        members,
        nonmembers,
        population,
    };
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: kind,
        num_classes: classes,
    };
    let tty = std::io::stderr().is_terminal();
    let quiet = args.quiet;
    let mut last = String::new();
    let mut progress = |p: Progress| {
        if quiet {
            return true;
        }
        let line = format!("[{}/{}] {}", p.done, p.total, p.stage);
        if tty {
            let width = 30usize;
            let filled = (width * p.done.min(p.total))
                .checked_div(p.total)
                .unwrap_or(width);
            eprint!(
                "\r\x1b[2K[{}{}] {}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                line
            );
        } else if line != last {
            eprintln!("{line}");
        }
        last = line;
        true
    };
    let outcome = run_audit(&target, &inputs, settings, &mut progress).map_err(audit_err)?;
    if tty && !quiet {
        eprintln!();
    }
    let report = Report::new(
        &model,
        Some(show(&args.model.model)),
        kind_override,
        classes,
        counts,
        args.inputs.names(),
        outcome,
    )
    .with_scan(scan);
    args.out.write(&report)?;
    print_summary(&report);
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    let mut f = std::fs::File::create(path).map_err(|e| CliError::Write {
        path: show(path),
        source: IoCause(e),
    })?;
    f.write_all(text.as_bytes()).map_err(|e| CliError::Write {
        path: show(path),
        source: IoCause(e),
    })
}

fn print_summary(r: &Report) {
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>22} {:>9} {:>8}",
        "attack", "TPR@0.1%", "TPR@1%", "TPR@10%", "AUC [95% CI]", "adv.", "eps LB"
    );
    for a in &r.attacks {
        match &a.stats {
            Some(s) => {
                let t = |k: &str| {
                    let p = &s.tpr_at_fpr[k];
                    format!("{:.3}{}", p.tpr, if p.resolvable { " " } else { "*" })
                };
                println!(
                    "{:<18} {:>10} {:>10} {:>10} {:>22} {:>9.3} {:>8.2}",
                    a.id,
                    t("0.001"),
                    t("0.01"),
                    t("0.1"),
                    format!("{:.3} [{:.3}, {:.3}]", s.auc, s.auc_ci95[0], s.auc_ci95[1]),
                    s.advantage,
                    s.epsilon_lower_bound
                );
            }
            None => println!(
                "{:<18} skipped: {}",
                a.id,
                a.skipped.as_deref().unwrap_or("")
            ),
        }
    }
    println!("* not resolvable: fewer than one non-member per allowed false positive");
    if let Some(s) = &r.scan {
        println!(
            "model file scan: {} of {} member records stored verbatim in the model, {} non-member records match; {} tensors look like stored records; {} metadata findings",
            s.summary.member_records_embedded,
            r.counts.members,
            s.summary.nonmember_records_matched,
            s.summary.tensors_flagged,
            s.summary.metadata_findings
        );
    }
}
