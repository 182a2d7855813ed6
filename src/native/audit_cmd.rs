//! `privacy-inspector audit`: read the model and the member / non-member /
//! population CSVs, run the membership audit of the core
//! (`attacks::membership::audit::run_audit`), write the JSON report (and
//! optionally the HTML one and the per-record CSV, `--records-csv`) with the
//! model-file scan (`scan::scan_model`)
//! as its `scan` section, print the headline figures, with progress on
//! stderr.

use super::{parse_model, read_limits, read_model_bytes, show, CliError, KindArg, ModelArgs};
use clap::Args;
use privacy_inspector::attacks::membership::audit::{
    needed_reference_modes, reference_config, run_audit_from_predictions, run_audit_with,
    AuditSettings, PrecomputedReferences,
};
use privacy_inspector::attacks::membership::predictions::{
    read_predictions, PredictionInputs, Predictions,
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
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub const AUDIT_EXAMPLES: &str = "\
Attack ids: loss, confidence, entropy, modified_entropy, risk_score, gap,
noise_robustness, boundary_distance (label-only: queries predicted labels,
--boundary-queries per record), boundary_distance_gradient (white-box: the
model's input gradients), shokri, qmia, lira_online, lira_offline,
rmia_online, rmia_offline; 'all' (default) or 'quick' (no reference models).
Offline attacks, RMIA, Shokri and QMIA need --population; without it they
are reported as skipped with the reason.

Audit from predictions (no model): give the model's outputs on the records
instead of the model, as CSVs with the columns class_0..class_{K-1} (the
format `predict` writes) plus the label column. Only the attacks that need
nothing but outputs and labels run (loss, confidence, entropy,
modified_entropy, risk_score, gap); the others are listed as skipped.
Probabilities must lie in [0, 1] and sum to 1 within 1e-3 per row; declare
logits with --output-kind logits.

Examples:
  privacy-inspector audit model.onnx --members train.csv --nonmembers test.csv --report audit.json
  privacy-inspector audit model.onnx --members train.csv --nonmembers test.csv \\
      --population extra.csv --attacks all --references 16 --seed 7 --report audit.json --html audit.html
  privacy-inspector audit --members-predictions train_preds.csv \\
      --nonmembers-predictions test_preds.csv --report audit.json --html audit.html";

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
    /// The input files as (flag, path), for `files::check_outputs`.
    pub fn files(&self) -> Vec<(&'static str, &Path)> {
        let mut v: Vec<(&'static str, &Path)> = vec![
            ("--members", &self.members),
            ("--nonmembers", &self.nonmembers),
        ];
        if let Some(p) = &self.population {
            v.push(("--population", p));
        }
        v
    }

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
                let text = super::files::read_settings_file(p)?;
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
        // unknown keys were refused by the reader; out-of-range values here,
        // before any work
        opts.validate().map_err(|e| {
            let file = self
                .guidance_options
                .as_deref()
                .map(|p| format!("{}: ", show(p)))
                .unwrap_or_default();
            CliError::Usage(format!("{file}guidance options: {e}"))
        })?;
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
    #[command(flatten)]
    pub ci: super::gate_cmd::GateArgs,
}

impl ReportOut {
    /// The files `write` writes, as (flag, path), for
    /// `files::check_outputs`.
    pub fn outputs(&self) -> Vec<(&'static str, &Path)> {
        let mut v: Vec<(&'static str, &Path)> = vec![("--report", &self.report)];
        if let Some(h) = &self.html {
            v.push(("--html", h));
        }
        v.extend(self.ci.outputs());
        v
    }

    pub fn write(&self, report: &Report) -> Result<(), CliError> {
        let export;
        let report = if self.include_training_data {
            report
        } else {
            export = report.without_training_data();
            &export
        };
        write_atomically(&self.report, report.to_json().as_bytes())?;
        if let Some(p) = &self.html {
            write_atomically(p, html::render(report, true).as_bytes())?;
        }
        self.ci.write(report)
    }
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The ONNX model file (left out for an audit from predictions)
    #[arg(
        value_name = "MODEL.onnx",
        required_unless_present = "members_predictions"
    )]
    pub model: Option<PathBuf>,
    /// Use this model output instead of the detected probability/logit output
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// What the model output holds (overrides detection); with
    /// --members-predictions, what the prediction files hold [default: probabilities]
    #[arg(long, value_enum, value_name = "KIND")]
    pub output_kind: Option<KindArg>,
    /// Resource limits as JSON (README "Limits"; every field optional), for files larger
    /// than the defaults allow
    #[arg(long, value_name = "LIMITS.json")]
    pub limits: Option<PathBuf>,
    /// CSV of records the model was trained on (with a label column)
    #[arg(
        long,
        value_name = "M.csv",
        required_unless_present = "members_predictions"
    )]
    pub members: Option<PathBuf>,
    /// CSV of records the model never saw (with a label column)
    #[arg(
        long,
        value_name = "N.csv",
        required_unless_present = "members_predictions"
    )]
    pub nonmembers: Option<PathBuf>,
    /// CSV of further records from the same population (never in training)
    #[arg(long, value_name = "P.csv")]
    pub population: Option<PathBuf>,
    /// Name of the label column [default: label]
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Audit from predictions, no model: the model's outputs on its members
    /// (columns class_0..class_{K-1} as `predict` writes them, plus the label)
    #[arg(
        long,
        value_name = "M.csv",
        requires = "nonmembers_predictions",
        conflicts_with_all = ["model", "members", "nonmembers", "population", "output"]
    )]
    pub members_predictions: Option<PathBuf>,
    /// The model's outputs on the non-members (with --members-predictions)
    #[arg(long, value_name = "N.csv", requires = "members_predictions")]
    pub nonmembers_predictions: Option<PathBuf>,
    /// The model's outputs on population records (with --members-predictions)
    #[arg(long, value_name = "P.csv", requires = "members_predictions")]
    pub population_predictions: Option<PathBuf>,
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
    /// Subgroup leakage: every attack's figures per slice of this feature column
    /// (its values, or quartile bins when it has more than 16), the slices that leak
    /// more than the whole flagged after a Holm correction
    #[arg(long, value_name = "COLUMN")]
    pub slice_by: Option<String>,
    /// Bin edges for --slice-by, increasing, comma-separated
    #[arg(
        long,
        value_name = "E1,E2,...",
        value_delimiter = ',',
        requires = "slice_by"
    )]
    pub slice_bins: Option<Vec<f64>>,
    /// Query budget per record of the label-only boundary_distance
    #[arg(long, value_name = "Q", default_value_t = 2500)]
    pub boundary_queries: usize,
    /// Reference training: fixed number of epochs (default: calibrated to the target's fit, its median loss on the members)
    #[arg(long, value_name = "E")]
    pub ref_epochs: Option<usize>,
    /// Reference training: stop at this median per-record loss instead of the target's
    #[arg(long, value_name = "LOSS", conflicts_with_all = ["ref_epochs", "ref_target_accuracy"])]
    pub ref_target_loss: Option<f64>,
    /// Reference training: stop at this training accuracy instead of calibrating by loss
    #[arg(long, value_name = "ACC", conflicts_with = "ref_epochs")]
    pub ref_target_accuracy: Option<f64>,
    /// Reference training: records per reference model [default: the member count]
    #[arg(long, value_name = "N")]
    pub ref_train_size: Option<usize>,
    /// Reference training: Adam learning rate
    #[arg(long, value_name = "LR", default_value_t = privacy_inspector::attacks::membership::references::DEFAULT_LR)]
    pub ref_lr: f32,
    /// Reference training: L2 penalty on weights (default: calibrated by fit, the
    /// target's own penalty estimated from its gradient on the members, 0 when none shows)
    #[arg(long, value_name = "L2")]
    pub ref_l2: Option<f32>,
    /// Reference training: minibatch size
    #[arg(long, value_name = "B", default_value_t = 64)]
    pub ref_batch_size: usize,
    /// Reference training: epoch limit when calibrating
    #[arg(long, value_name = "E", default_value_t = privacy_inspector::attacks::membership::references::DEFAULT_MAX_EPOCHS)]
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
    /// Also write the per-record table as CSV: set, index, label, each
    /// attack's score, percentile among the non-members and flags at 1% and
    /// 0.1% FPR, and the number of attacks flagging the record
    #[arg(long, value_name = "OUT.csv")]
    pub records_csv: Option<PathBuf>,
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
    max_bytes: usize,
) -> Result<PrecomputedReferences, CliError> {
    let mut out = PrecomputedReferences::default();
    for p in paths {
        let text = super::files::read_bounded(
            p,
            max_bytes as u64,
            privacy_inspector::limits::Limit::ReferencesFileBytes,
        )?;
        let saved: SavedReferences = serde_json::from_slice(&text).map_err(|e| {
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
    read_records_hashed(path, opts, model).map(|(r, names, _)| (r, names))
}

/// The records, their feature names and the file's SHA-256 (hex).
fn read_records_hashed(
    path: &Path,
    opts: &CsvOptions,
    model: &privacy_inspector::onnx::Model,
) -> Result<(Records, Vec<String>, String), CliError> {
    use sha2::Digest;
    let bytes = super::files::read_bounded(
        path,
        opts.max_bytes,
        privacy_inspector::limits::Limit::CsvBytes,
    )?;
    let data_err = |source| CliError::Data {
        path: show(path),
        source,
    };
    let ds = read_csv(&bytes, opts).map_err(data_err)?;
    let x = ds.to_batch(&model.graph.input).map_err(data_err)?;
    let y = ds.labels.clone().unwrap_or_default();
    let sha = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((Records { x, y }, ds.feature_names, sha))
}

impl AuditArgs {
    /// The audit's settings from the arguments.
    fn settings(
        &self,
        limits: &privacy_inspector::limits::Limits,
    ) -> Result<AuditSettings, CliError> {
        let mut settings = AuditSettings {
            attacks: AuditSettings::parse_attacks(&self.attacks).map_err(super::setting_err)?,
            references: self.references,
            seed: self.seed,
            recipe: TrainRecipe {
                optimizer: Optimizer::adam(self.ref_lr),
                batch_size: self.ref_batch_size,
                l2: self.ref_l2,
                max_epochs: self.ref_max_epochs,
                fixed_epochs: self.ref_epochs,
                target_accuracy: self.ref_target_accuracy,
                target_loss: self.ref_target_loss,
            },
            reference_train_size: self.ref_train_size,
            ..AuditSettings::default()
        };
        settings.stats.delta = self.delta;
        settings.stats.prior = self.prior;
        settings.boundary.max_queries = self.boundary_queries;
        settings.max_reference_params = limits.max_reference_params;
        if let Some(name) = &self.slice_by {
            // the column index is found in the members' header later; an
            // audit from predictions has none and the core refuses it
            settings.slice = Some(privacy_inspector::stats::slices::SliceSpec {
                name: name.clone(),
                bins: self.slice_bins.clone(),
                ..Default::default()
            });
        }
        // every typed number in its declared range before any file is read
        // (`privacy_inspector::settings`); the audit checks them again
        settings.clone().validate().map_err(super::setting_err)?;
        Ok(settings)
    }

    /// Before any work: no output is an input, every output can be written.
    fn check_outputs(&self) -> Result<(), CliError> {
        let mut inputs: Vec<(&str, &Path)> = Vec::new();
        let named = [
            ("MODEL", &self.model),
            ("--members", &self.members),
            ("--nonmembers", &self.nonmembers),
            ("--population", &self.population),
            ("--members-predictions", &self.members_predictions),
            ("--nonmembers-predictions", &self.nonmembers_predictions),
            ("--population-predictions", &self.population_predictions),
            ("--limits", &self.limits),
            ("--guidance-options", &self.guidance.guidance_options),
        ];
        for (flag, p) in named {
            if let Some(p) = p {
                inputs.push((flag, p));
            }
        }
        for p in &self.references_from {
            inputs.push(("--references-from", p));
        }
        let mut outputs = Vec::new();
        if let Some(p) = &self.save_references {
            outputs.push(("--save-references", p.as_path()));
        }
        if self.reference_shard.is_none() {
            // a shard run writes no report
            outputs.extend(self.out.outputs());
            if let Some(p) = &self.records_csv {
                outputs.push(("--records-csv", p.as_path()));
            }
        }
        super::files::check_outputs(&inputs, &outputs)
    }
}

pub fn audit(args: &AuditArgs) -> Result<(), CliError> {
    let limits = read_limits(args.limits.as_deref())?;
    let settings = args.settings(&limits)?;
    args.check_outputs()?;
    let guidance = args.guidance.options()?;
    let gates = args.out.ci.conditions(&settings.attacks, "audit")?;
    if args.members_predictions.is_some() {
        return audit_from_predictions(args, &limits, settings, &guidance, &gates);
    }
    let mut settings = settings;
    let missing = |what: &str| CliError::Usage(format!("an audit needs {what}"));
    let model_args = ModelArgs {
        model: args.model.clone().ok_or_else(|| missing("a model"))?,
        output: args.output.clone(),
        output_kind: args.output_kind,
        limits: args.limits.clone(),
    };
    let inputs_args = LabelledInputs {
        members: args.members.clone().ok_or_else(|| missing("--members"))?,
        nonmembers: args
            .nonmembers
            .clone()
            .ok_or_else(|| missing("--nonmembers"))?,
        population: args.population.clone(),
        label_column: args.label_column.clone(),
    };
    let bytes = read_model_bytes(&model_args.model, &limits)?;
    let model = parse_model(&model_args, &bytes)?;
    let kind_override: Option<OutputKind> = model_args.output_kind.map(|k: KindArg| k.into());
    let kind = kind_override.unwrap_or(model.graph.output_kind);
    let opts = CsvOptions {
        label_column: inputs_args.label_column.clone(),
        require_label: true,
        ..limits.csv_options()
    };
    let (members, feature_names, members_sha) =
        read_records_hashed(&inputs_args.members, &opts, &model)?;
    let (nonmembers, _, nonmembers_sha) =
        read_records_hashed(&inputs_args.nonmembers, &opts, &model)?;
    let (population, population_sha) = match inputs_args.population.as_deref() {
        Some(p) => {
            let (r, _, sha) = read_records_hashed(p, &opts, &model)?;
            (Some(r), Some(sha))
        }
        None => (None, None),
    };
    // the records' SHA-256s, so `diff` can tell two audits of the same records
    let mut input_names = inputs_args.names();
    input_names["sha256"] = serde_json::json!({
        "members": members_sha,
        "nonmembers": nonmembers_sha,
        "population": population_sha,
    });
    let classes = num_classes(&model).unwrap_or(2);
    let audit_err = |source| CliError::Audit { source };
    if let (Some(name), Some(slice)) = (&args.slice_by, settings.slice.as_mut()) {
        slice.column = feature_names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| {
                audit_err(privacy_inspector::attacks::membership::AttackError::Config(
                    format!(
                        "--slice-by: '{name}' is not among the {} feature columns of {}",
                        feature_names.len(),
                        show(&inputs_args.members)
                    ),
                ))
            })?;
    }
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
        read_saved(
            &args.references_from,
            &sha,
            &settings,
            limits.max_report_bytes,
        )?
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
        write_atomically(
            path,
            serde_json::to_string(&saved).unwrap_or_default().as_bytes(),
        )?;
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
        Some(show(&model_args.model)),
        kind_override,
        classes,
        counts,
        input_names,
        outcome,
    )
    .with_scan(scan)
    .with_limits(&limits)
    .with_guidance(&guidance)
    .map_err(|e| CliError::Usage(format!("guidance: {e}")))?
    .with_gates(&gates);
    args.out.write(&report)?;
    if let Some(path) = &args.records_csv {
        let csv = report.records_csv().map_err(CliError::Usage)?;
        write_atomically(path, csv.as_bytes())?;
    }
    print_summary(&report);
    if let Some(g) = &report.guidance {
        print!("\n{}", privacy_inspector::guidance::render_text(g));
    }
    super::gate_cmd::verdict(&report)
}

/// `audit --members-predictions ...`: the audit from predictions alone (no
/// model): the files are read and checked by the core
/// (`predictions::read_predictions`, `PredictionInputs::new`), the
/// output-only attacks run, every other attack is listed as skipped.
fn audit_from_predictions(
    args: &AuditArgs,
    limits: &privacy_inspector::limits::Limits,
    settings: AuditSettings,
    guidance: &privacy_inspector::guidance::GuidanceOptions,
    gates: &[privacy_inspector::gate::Condition],
) -> Result<(), CliError> {
    if args.reference_shard.is_some()
        || args.save_references.is_some()
        || !args.references_from.is_empty()
    {
        return Err(CliError::Usage(
            "an audit from predictions trains no reference models: leave out --reference-shard, --save-references and --references-from".into(),
        ));
    }
    let kind: OutputKind = args
        .output_kind
        .map(Into::into)
        .unwrap_or(OutputKind::Probabilities);
    let opts = CsvOptions {
        label_column: args.label_column.clone(),
        ..limits.csv_options()
    };
    let read = |path: &Path| -> Result<Predictions, CliError> {
        let bytes = super::files::read_bounded(
            path,
            opts.max_bytes,
            privacy_inspector::limits::Limit::CsvBytes,
        )?;
        read_predictions(&bytes, &show(path), kind, &opts)
            .map_err(|source| CliError::Predictions { source })
    };
    let (Some(m), Some(n)) = (&args.members_predictions, &args.nonmembers_predictions) else {
        return Err(CliError::Usage(
            "an audit from predictions needs --members-predictions and --nonmembers-predictions"
                .into(),
        ));
    };
    let members = read(m)?;
    let nonmembers = read(n)?;
    let population = args
        .population_predictions
        .as_deref()
        .map(read)
        .transpose()?;
    let predictions = PredictionInputs::new(kind, members, nonmembers, population)
        .map_err(|source| CliError::Predictions { source })?;
    let quiet = args.quiet;
    let mut progress = |p: Progress| {
        if !quiet {
            eprintln!("[{}/{}] {}", p.done, p.total, p.stage);
        }
        true
    };
    let outcome = run_audit_from_predictions(&predictions, settings, &mut progress)
        .map_err(|source| CliError::Audit { source })?;
    let names = serde_json::json!({
        "members_predictions": show(m),
        "nonmembers_predictions": show(n),
        "population_predictions": args.population_predictions.as_deref().map(show),
        "label_column": args.label_column.clone().unwrap_or_else(|| "label".into()),
    });
    let report = Report::from_predictions(&predictions, names, outcome)
        .with_limits(limits)
        .with_guidance(guidance)
        .map_err(|e| CliError::Usage(format!("guidance: {e}")))?
        .with_gates(gates);
    args.out.write(&report)?;
    println!(
        "audit from predictions (no model): {} classes, {} declared; attacks that need the model are skipped",
        predictions.num_classes(),
        predictions.kind_name()
    );
    print_summary(&report);
    if let Some(g) = &report.guidance {
        print!("\n{}", privacy_inspector::guidance::render_text(g));
    }
    super::gate_cmd::verdict(&report)
}

/// Every output goes through a temporary file renamed into place
/// (`files::write_atomically`).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    super::files::write_atomically(path, bytes)
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
    for (mode, c) in
        privacy_inspector::attacks::membership::references::Calibration::from_report(&r.references)
    {
        println!("{}", c.line(mode));
    }
    if let Some(t) = &r.records {
        print_agreement(t);
    }
    if let Some(sl) = &r.slices {
        let flagged: Vec<String> = sl
            .attacks
            .iter()
            .flat_map(|a| {
                a.slices.iter().filter(|f| f.leaks_more).map(move |f| {
                    format!(
                        "{} on {} (AUC {:.3} vs {:.3}, Holm p {:.3})",
                        a.attack,
                        sl.slices[f.slice].label,
                        f.auc,
                        a.overall_auc,
                        f.p_holm.unwrap_or(f64::NAN)
                    )
                })
            })
            .collect();
        println!(
            "slices by '{}' ({}, {} slices): {}",
            sl.spec.name,
            sl.kind,
            sl.slices.len(),
            if flagged.is_empty() {
                "none leaks more than the whole after the Holm correction".to_string()
            } else {
                format!("leaking more than the whole: {}", flagged.join("; "))
            }
        );
    }
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

/// The attack agreement at 1% FPR (`stats::vulnerability::Agreement`).
fn print_agreement(t: &privacy_inspector::stats::vulnerability::RecordTable) {
    let g = &t.agreement;
    let (m, n) = t.counts();
    let any = m.saturating_sub(g.by_count.first().copied().unwrap_or(0));
    let all = g.by_count.last().copied().unwrap_or(0);
    println!(
        "per record at {}% FPR{}: {any} of {m} members flagged by at least one of {} attacks, {all} by every one; {} of {n} non-members flagged by at least one",
        100.0 * g.level,
        if t.resolvable.first() == Some(&true) { "" } else { "*" },
        t.attacks.len(),
        g.nonmembers_any
    );
    println!(
        "{:<18} {:>8} {:>8}  members flagged by both (same order)",
        "attack", "flagged", "alone"
    );
    for (i, a) in t.attacks.iter().enumerate() {
        let both: Vec<String> = g
            .both
            .get(i)
            .map(|r| r.iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        println!(
            "{:<18} {:>8} {:>8}  {}",
            a.id,
            g.flagged.get(i).copied().unwrap_or(0),
            g.alone.get(i).copied().unwrap_or(0),
            both.join(" ")
        );
    }
}
