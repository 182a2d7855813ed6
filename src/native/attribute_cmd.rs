//! `privacy-inspector attribute`: attribute inference on a sensitive column
//! (`attacks::attribute::run`), against the prior and imputation baselines,
//! on members and non-members separately; writes the report (JSON, and HTML
//! with `--html`) and prints the headline figures.

use super::audit_cmd::{read_records_named, LabelledInputs, ReportOut};
use super::{parse_model, read_model_bytes, show, CliError, KindArg, ModelArgs};
use clap::Args;
use privacy_inspector::attacks::attribute::{auto_bins, run, AttributeConfig};
use privacy_inspector::attacks::membership::{AttackError, AuditInputs, Progress, Target};
use privacy_inspector::data::CsvOptions;
use privacy_inspector::engine::OutputKind;
use privacy_inspector::report::{Counts, Report};
use privacy_inspector::summary::num_classes;

pub const ATTRIBUTE_EXAMPLES: &str = "\
The sensitive column is a feature column of the CSVs (by name). A column with
more than --max-categories distinct values is continuous: give bin edges with
--bins (or --auto-bins for quartiles).

Examples:
  privacy-inspector attribute model.onnx --members train.csv --nonmembers test.csv --sensitive sex --report attr.json
  privacy-inspector attribute model.onnx --members train.csv --nonmembers test.csv --sensitive age \\
      --bins 18,30,45,65,100 --population extra.csv --report attr.json --html attr.html";

#[derive(Args, Debug)]
pub struct AttributeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub inputs: LabelledInputs,
    /// Name of the sensitive feature column
    #[arg(long, value_name = "COLUMN")]
    pub sensitive: String,
    /// Bin edges for a continuous column, increasing, comma-separated
    #[arg(
        long,
        value_name = "E1,E2,...",
        value_delimiter = ',',
        conflicts_with = "auto_bins"
    )]
    pub bins: Option<Vec<f64>>,
    /// Bin a continuous column into quartiles of the supplied data
    #[arg(long)]
    pub auto_bins: bool,
    /// Most distinct values a categorical column may have
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_categories: usize,
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub out: ReportOut,
}

pub fn attribute(args: &AttributeArgs) -> Result<(), CliError> {
    // every typed number in its declared range before any file is read (the
    // column is found later; bins are checked again then)
    AttributeConfig {
        bins: args.bins.clone(),
        max_categories: args.max_categories,
        ..AttributeConfig::default()
    }
    .validate()
    .map_err(super::setting_err)?;
    let mut inputs = args.inputs.files();
    inputs.push(("MODEL", &args.model.model));
    if let Some(l) = &args.model.limits {
        inputs.push(("--limits", l));
    }
    super::files::check_outputs(&inputs, &args.out.outputs())?;
    let gates = args.out.ci.conditions(&[], "attribute")?;
    let bytes = read_model_bytes(&args.model.model, &args.model.limits()?)?;
    let model = parse_model(&args.model, &bytes)?;
    let kind_override: Option<OutputKind> = args.model.output_kind.map(|k: KindArg| k.into());
    let opts = CsvOptions {
        label_column: args.inputs.label_column.clone(),
        require_label: true,
        ..args.model.limits()?.csv_options()
    };
    let (members, names) = read_records_named(&args.inputs.members, &opts, &model)?;
    let (nonmembers, _) = read_records_named(&args.inputs.nonmembers, &opts, &model)?;
    let population = args
        .inputs
        .population
        .as_deref()
        .map(|p| read_records_named(p, &opts, &model).map(|(r, _)| r))
        .transpose()?;
    let audit_err = |source| CliError::Audit { source };
    let column = names
        .iter()
        .position(|n| n == &args.sensitive)
        .ok_or_else(|| {
            audit_err(AttackError::Config(format!(
                "sensitive column '{}' is not among the {} feature columns of {} ({}{})",
                args.sensitive,
                names.len(),
                show(&args.inputs.members),
                names
                    .iter()
                    .take(12)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if names.len() > 12 { ", ..." } else { "" }
            )))
        })?;
    let counts = Counts {
        members: members.len(),
        nonmembers: nonmembers.len(),
        population: population.as_ref().map_or(0, |p| p.len()),
    };
    let inputs = AuditInputs {
        members,
        nonmembers,
        population,
    };
    let bins = if args.auto_bins {
        Some(auto_bins(&inputs, column).map_err(audit_err)?)
    } else {
        args.bins.clone()
    };
    let cfg = AttributeConfig {
        column,
        bins,
        max_categories: args.max_categories,
        seed: args.seed,
        ..AttributeConfig::default()
    };
    let classes = num_classes(&model).unwrap_or(2);
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: kind_override.unwrap_or(model.graph.output_kind),
        num_classes: classes,
    };
    let result = run(&target, &inputs, &names, &cfg, &mut |_: Progress| true).map_err(audit_err)?;
    let mut report = Report::base(
        &model,
        Some(show(&args.model.model)),
        kind_override,
        classes,
        args.seed,
        counts,
        args.inputs.names(),
    )
    .with_limits(&args.model.limits()?);
    println!(
        "attribute '{}' ({:?}): attack accuracy members {:.3} [{:.3}, {:.3}], non-members {:.3} [{:.3}, {:.3}]",
        result.column_name,
        result.kind,
        result.members.attack_accuracy,
        result.members.attack_ci95[0],
        result.members.attack_ci95[1],
        result.nonmembers.attack_accuracy,
        result.nonmembers.attack_ci95[0],
        result.nonmembers.attack_ci95[1]
    );
    println!(
        "baselines (members / non-members): prior {:.3} / {:.3}, imputation {:.3} / {:.3}",
        result.members.prior_accuracy,
        result.nonmembers.prior_accuracy,
        result.members.imputation_accuracy,
        result.nonmembers.imputation_accuracy
    );
    println!(
        "member/non-member gap {:.3} [{:.3}, {:.3}] (imputation baseline gap {:.3} [{:.3}, {:.3}], prior baseline gap {:.3} [{:.3}, {:.3}])",
        result.gap,
        result.gap_ci95[0],
        result.gap_ci95[1],
        result.baseline_gap,
        result.baseline_gap_ci95[0],
        result.baseline_gap_ci95[1],
        result.prior_gap,
        result.prior_gap_ci95[0],
        result.prior_gap_ci95[1]
    );
    report.attribute = Some(result);
    // the guidance (its attribute_inference rule) with the default
    // thresholds, for the gates, the JUnit and the summary
    let report = report
        .with_guidance(&Default::default())
        .map_err(|e| CliError::Usage(format!("guidance: {e}")))?
        .with_gates(&gates);
    args.out.write(&report)?;
    super::gate_cmd::verdict(&report)
}
