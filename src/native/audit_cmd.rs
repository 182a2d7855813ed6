//! `privacy-inspector audit`: read the model and the member / non-member /
//! population CSVs, run the membership audit of the core
//! (`attacks::membership::audit::run_audit`), write the JSON report (and
//! optionally the HTML one) with the model-file scan (`scan::scan_model`)
//! as its `scan` section, print the headline figures, with progress on
//! stderr.

use super::{parse_model, read_model_bytes, show, CliError, IoCause, KindArg, ModelArgs};
use clap::Args;
use privacy_inspector::attacks::membership::audit::{
    needed_reference_modes, reference_config, run_audit_with, AuditSettings, PrecomputedReferences,
};
use privacy_inspector::attacks::membership::references::{
    plan_references, ReferenceMode, TrainRecipe, TrainedReference,
};
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
noise_robustness, boundary_distance (label-only: queries predicted labels,
--boundary-queries per record), boundary_distance_gradient (white-box: the
model's input gradients), shokri, lira_online, lira_offline, rmia_online,
rmia_offline; 'all' (default) or 'quick' (no reference models).
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

/// The thresholds and claims the guidance section uses.
#[derive(Args, Debug)]
pub struct GuidanceArgs {
    /// The epsilon the model's makers claim (guidance checks it against the empirical lower bound)
    #[arg(long, value_name = "EPS")]
    pub claimed_epsilon: Option<f64>,
    /// The delta of that claim [default: the audit's delta]
    #[arg(long, value_name = "D")]
    pub claimed_delta: Option<f64>,
    /// Guidance thresholds and DP plan as JSON (the keys the report shows; every field optional)
    #[arg(long, value_name = "GUIDANCE.json")]
    pub guidance_options: Option<PathBuf>,
}

impl GuidanceArgs {
    pub fn options(&self) -> Result<privacy_inspector::guidance::GuidanceOptions, CliError> {
        let mut opts: privacy_inspector::guidance::GuidanceOptions = match &self.guidance_options {
            None => Default::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| CliError::Read {
                    path: show(p),
                    source: IoCause(e),
                })?;
                serde_json::from_str(&text).map_err(|e| {
                    CliError::Usage(format!("{}: not guidance options: {e}", show(p)))
                })?
            }
        };
        if self.claimed_epsilon.is_some() {
            opts.claimed_epsilon = self.claimed_epsilon;
        }
        if self.claimed_delta.is_some() {
            opts.claimed_delta = self.claimed_delta;
        }
        Ok(opts)
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
    /// Keep values computed directly from training records in the reports
    /// (the members' class means of the model inversion); left out by default
    #[arg(long)]
    pub include_training_data: bool,
}

impl ReportOut {
    pub fn write(&self, report: &Report) -> Result<(), CliError> {
        let export;
        let report = if self.include_training_data {
            report
        } else {
            export = report.without_training_data();
            &export
        };
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
    /// Query budget per record of the label-only boundary_distance
    #[arg(long, value_name = "Q", default_value_t = 2500)]
    pub boundary_queries: usize,
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
    /// Threads that train reference models [default: every core]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Train only this shard of every reference set (I/N: models m with
    /// m mod N = I-1) and save them with --save-references; no report
    #[arg(long, value_name = "I/N", requires = "save_references")]
    pub reference_shard: Option<String>,
    /// Write the reference models this run trained (JSON) to this file
    #[arg(long, value_name = "REFS.json")]
    pub save_references: Option<PathBuf>,
    /// Use reference models trained by earlier shard runs (JSON files from
    /// --save-references; same model, data, seed and settings)
    #[arg(long, value_name = "REFS.json", num_args = 1..)]
    pub references_from: Vec<PathBuf>,
    #[command(flatten)]
    pub guidance: GuidanceArgs,
    #[command(flatten)]
    pub out: ReportOut,
    /// No progress on stderr
    #[arg(long)]
    pub quiet: bool,
}

/// Reference models saved by a shard run (`--save-references`): the shard
/// and the seed they belong to, so a merge can refuse foreign files.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedReferences {
    tool: String,
    model_sha256: String,
    seed: u64,
    references: usize,
    shard: (usize, usize),
    #[serde(flatten)]
    trained: PrecomputedReferences,
}

fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--reference-shard wants I/N with 1 <= I <= N, got '{s}'"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok((i - 1, n))
}

/// Train the models `m` (with `m mod shard.1 == shard.0`) of every reference
/// set the settings need on `jobs` threads. Each model depends only on the
/// plan and its index, so the result equals a single-threaded run. A mode
/// whose plan cannot be made (no population, untrainable graph) is left to
/// `run_audit_with`, which reports it as skipped with the reason.
fn train_in_parallel(
    target: &Target,
    inputs: &AuditInputs,
    settings: &AuditSettings,
    jobs: usize,
    shard: (usize, usize),
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<PrecomputedReferences, CliError> {
    let audit_err = |source| CliError::Audit { source };
    let valid = settings.clone().validate().map_err(audit_err)?;
    let mut out = PrecomputedReferences::default();
    for mode in needed_reference_modes(&valid) {
        let Ok(plan) = plan_references(target, inputs, &reference_config(&valid, mode)) else {
            continue;
        };
        let todo: Vec<usize> = (0..plan.k).filter(|m| m % shard.1 == shard.0).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<Result<TrainedReference, String>>();
        let name = match mode {
            ReferenceMode::Online => "online",
            ReferenceMode::Offline => "offline",
        };
        let mut trained = Vec::with_capacity(todo.len());
        let mut failure = None;
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, todo.len().max(1)) {
                let tx = tx.clone();
                let (plan, todo, next) = (&plan, &todo, &next);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&m) = todo.get(i) else { break };
                    let r = plan
                        .train(target, inputs, m, &mut |_| true)
                        .map_err(|e| e.to_string());
                    let stop = r.is_err();
                    if tx.send(r).is_err() || stop {
                        break;
                    }
                });
            }
            drop(tx);
            for r in rx {
                match r {
                    Ok(t) => {
                        trained.push(t);
                        progress(Progress {
                            stage: format!(
                                "{name} references: trained {}/{} on {jobs} threads",
                                trained.len(),
                                todo.len()
                            ),
                            done: trained.len(),
                            total: todo.len(),
                        });
                    }
                    Err(e) => failure = Some(e),
                }
            }
        });
        if let Some(e) = failure {
            return Err(CliError::Usage(format!(
                "training the {name} references: {e}"
            )));
        }
        trained.sort_by_key(|t| t.index);
        match mode {
            ReferenceMode::Online => out.online = Some(trained),
            ReferenceMode::Offline => out.offline = Some(trained),
        }
    }
    Ok(out)
}

/// Merge the reference files of shard runs.
fn read_saved(
    paths: &[PathBuf],
    sha: &str,
    settings: &AuditSettings,
) -> Result<PrecomputedReferences, CliError> {
    let mut out = PrecomputedReferences::default();
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| CliError::Read {
            path: show(p),
            source: IoCause(e),
        })?;
        let saved: SavedReferences = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "{} is not a reference file of --save-references: {e}",
                show(p)
            ))
        })?;
        if saved.model_sha256 != sha
            || saved.seed != settings.seed
            || saved.references != settings.references
        {
            return Err(CliError::Usage(format!(
                "{} was trained for another audit (model {}, seed {}, {} references); this one is model {sha}, seed {}, {} references",
                show(p),
                saved.model_sha256,
                saved.seed,
                saved.references,
                settings.seed,
                settings.references
            )));
        }
        for (into, from) in [
            (&mut out.online, saved.trained.online),
            (&mut out.offline, saved.trained.offline),
        ] {
            if let Some(list) = from {
                into.get_or_insert_with(Vec::new).extend(list);
            }
        }
    }
    Ok(out)
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
    let limits = args.model.limits()?;
    let opts = CsvOptions {
        label_column: args.inputs.label_column.clone(),
        require_label: true,
        ..limits.csv_options()
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
    settings.boundary.max_queries = args.boundary_queries;
    settings.max_reference_params = limits.max_reference_params;
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
    let sha = model.sha256.clone();
    let shard = args
        .reference_shard
        .as_deref()
        .map(parse_shard)
        .transpose()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let precomputed = if !args.references_from.is_empty() {
        read_saved(&args.references_from, &sha, &settings)?
    } else if jobs > 1 || shard.is_some() {
        train_in_parallel(
            &target,
            &inputs,
            &settings,
            jobs,
            shard.unwrap_or((0, 1)),
            &mut progress,
        )?
    } else {
        PrecomputedReferences::default()
    };
    if let (Some(shard), Some(path)) = (shard, &args.save_references) {
        let saved = SavedReferences {
            tool: format!("privacy-inspector {}", env!("CARGO_PKG_VERSION")),
            model_sha256: sha,
            seed: settings.seed,
            references: settings.references,
            shard,
            trained: precomputed,
        };
        write_file(path, &serde_json::to_string(&saved).unwrap_or_default())?;
        if tty && !quiet {
            eprintln!();
        }
        println!(
            "saved shard {}/{} of the reference models to {}",
            shard.0 + 1,
            shard.1,
            show(path)
        );
        return Ok(());
    }
    let outcome = run_audit_with(&target, &inputs, settings, precomputed, &mut progress)
        .map_err(audit_err)?;
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
    .with_scan(scan)
    .with_limits(&limits)
    .with_guidance(&args.guidance.options()?)
    .map_err(|e| CliError::Usage(format!("guidance: {e}")))?;
    args.out.write(&report)?;
    print_summary(&report);
    if let Some(g) = &report.guidance {
        print!("\n{}", privacy_inspector::guidance::render_text(g));
    }
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
