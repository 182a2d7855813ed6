//! `privacy-inspector scan`: the model-file privacy scan (`scan::scan_model`)
//! on the decoded file, without running the model's classical operators:
//! training records stored in tensors (matched against the member /
//! non-member / population CSVs when given) and personal details in the
//! metadata. Writes the JSON report, optionally a cleaned copy of the model
//! (`scan::strip_metadata`), and prints a short summary.

use super::{read_limits, read_model_bytes, show, CliError};
use clap::Args;
use ndarray::Array2;
use privacy_inspector::data::{read_csv, CsvOptions};
use privacy_inspector::scan::{
    scan_model, strip_metadata, ScanData, ScanReport, ScanSettings, StripSummary,
};
use privacy_inspector::text::Shown;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const SCAN_EXAMPLES: &str = "\
Looks through every float tensor of the model file (initializers, constants,
SVM support vectors, tree thresholds, coefficients, subgraph constants) for
rows equal to the supplied records, exactly or within --rtol/--atol, in the
model's input space and in the space the graph has transformed the data into
before the tensor's node (a StandardScaler in front of an SVM). Without CSVs
it flags tensors that look like stored records. It also flags file paths,
user and host names, e-mail addresses, URLs and record-like strings in the
metadata; --strip-metadata writes a copy with them removed.

Examples:
  privacy-inspector scan model.onnx --report scan.json
  privacy-inspector scan model.onnx --members train.csv --nonmembers test.csv --report scan.json
  privacy-inspector scan model.onnx --report scan.json --strip-metadata clean.onnx";

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The ONNX model file
    #[arg(value_name = "MODEL.onnx")]
    pub model: PathBuf,
    /// CSV of records the model was trained on
    #[arg(long, value_name = "M.csv")]
    pub members: Option<PathBuf>,
    /// CSV of records the model never saw (coincidence level of matches)
    #[arg(long, value_name = "N.csv")]
    pub nonmembers: Option<PathBuf>,
    /// CSV of further records from the same population
    #[arg(long, value_name = "P.csv")]
    pub population: Option<PathBuf>,
    /// Name of the label column, which is not compared [default: label, when present]
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Relative tolerance of a row match
    #[arg(long, value_name = "R", default_value_t = 1e-4)]
    pub rtol: f32,
    /// Absolute tolerance of a row match
    #[arg(long, value_name = "A", default_value_t = 1e-5)]
    pub atol: f32,
    /// Write the JSON report here
    #[arg(long, value_name = "OUT.json")]
    pub report: PathBuf,
    /// Write a copy of the model with doc strings, metadata and flagged names removed
    #[arg(long, value_name = "CLEAN.onnx")]
    pub strip_metadata: Option<PathBuf>,
    /// Resource limits as JSON (README "Limits"; every field optional): the
    /// model file size, tensor elements and the CSV limits apply to a scan
    #[arg(long, value_name = "LIMITS.json")]
    pub limits: Option<PathBuf>,
    #[command(flatten)]
    pub guidance: super::audit_cmd::GuidanceArgs,
    #[command(flatten)]
    pub ci: super::gate_cmd::GateArgs,
}

#[derive(Serialize)]
struct FileInfo {
    file: String,
    sha256: String,
    file_size: usize,
}

/// The document `scan --report` writes.
#[derive(Serialize)]
struct ScanDocument<'a> {
    tool: serde_json::Value,
    model: FileInfo,
    inputs: serde_json::Value,
    scan: &'a ScanReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    strip: Option<StripSummary>,
    /// The limits of `--limits`, when any differs from the defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<privacy_inspector::limits::Limits>,
    guidance: Option<privacy_inspector::guidance::Guidance>,
    /// The `--fail-on` conditions and their outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    gates: Option<privacy_inspector::gate::Gates>,
}

fn read_matrix(
    path: &Path,
    label_column: &Option<String>,
    limits: &privacy_inspector::limits::Limits,
) -> Result<Array2<f32>, CliError> {
    let bytes = super::files::read_bounded(
        path,
        limits.max_csv_bytes,
        privacy_inspector::limits::Limit::CsvBytes,
    )?;
    let opts = CsvOptions {
        label_column: label_column.clone(),
        require_label: false,
        ..limits.csv_options()
    };
    read_csv(&bytes, &opts)
        .map(|d| d.features)
        .map_err(|source| CliError::Data {
            path: show(path),
            source,
        })
}

pub fn scan(args: &ScanArgs) -> Result<(), CliError> {
    let limits = read_limits(args.limits.as_deref())?;
    let mut inputs = vec![("MODEL", args.model.as_path())];
    for (flag, p) in [
        ("--members", &args.members),
        ("--nonmembers", &args.nonmembers),
        ("--population", &args.population),
        ("--limits", &args.limits),
        ("--guidance-options", &args.guidance.guidance_options),
    ] {
        if let Some(p) = p {
            inputs.push((flag, p));
        }
    }
    let mut outputs = vec![("--report", args.report.as_path())];
    if let Some(p) = &args.strip_metadata {
        outputs.push(("--strip-metadata", p));
    }
    outputs.extend(args.ci.outputs());
    super::files::check_outputs(&inputs, &outputs)?;
    let guidance_options = args.guidance.options()?;
    let gates = args.ci.conditions(&[], "scan")?;
    let bytes = read_model_bytes(&args.model, &limits)?;
    let read = |p: &Option<PathBuf>| {
        p.as_deref()
            .map(|p| read_matrix(p, &args.label_column, &limits))
            .transpose()
    };
    let members = read(&args.members)?;
    let nonmembers = read(&args.nonmembers)?;
    let population = read(&args.population)?;
    let data = ScanData {
        members: members.as_ref(),
        nonmembers: nonmembers.as_ref(),
        population: population.as_ref(),
    };
    let settings = ScanSettings {
        rtol: args.rtol,
        atol: args.atol,
        max_tensor_elements: limits.max_tensor_elements,
        ..ScanSettings::default()
    };
    let scan_err = |source| CliError::Scan { source };
    let report = scan_model(&bytes, &data, &settings).map_err(scan_err)?;
    let mut strip = None;
    if let Some(out) = &args.strip_metadata {
        let (clean, summary) = strip_metadata(&bytes).map_err(scan_err)?;
        super::files::write_atomically(out, &clean)?;
        strip = Some(summary);
    }
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file_report = privacy_inspector::report::Report::file_only(sha.clone())
        .with_scan(report.clone())
        .with_guidance(&guidance_options)
        .map_err(|e| CliError::Usage(format!("guidance: {e}")))?
        .with_gates(&gates);
    let guidance = file_report.guidance.clone();
    let doc = ScanDocument {
        tool: serde_json::json!({"name": "privacy-inspector", "version": privacy_inspector::VERSION}),
        model: FileInfo {
            file: show(&args.model),
            sha256: sha,
            file_size: bytes.len(),
        },
        inputs: serde_json::json!({
            "members": args.members.as_deref().map(show),
            "nonmembers": args.nonmembers.as_deref().map(show),
            "population": args.population.as_deref().map(show),
            "label_column": args.label_column,
        }),
        scan: &report,
        strip,
        limits: (limits != Default::default()).then_some(limits),
        guidance,
        gates: file_report.gates.clone(),
    };
    let json = serde_json::to_string_pretty(&doc).map_err(|e| CliError::Output {
        path: show(&args.report),
        message: e.to_string(),
    })?;
    super::files::write_atomically(&args.report, json.as_bytes())?;
    args.ci.write(&file_report)?;
    print_summary(&show(&args.model), &report, &data);
    if let Some(g) = &doc.guidance {
        print!("\n{}", privacy_inspector::guidance::render_text(g));
    }
    if let (Some(out), Some(s)) = (&args.strip_metadata, &doc.strip) {
        println!(
            "Cleaned copy written to {} ({} fields cleared, {} names replaced)",
            show(out),
            s.fields_cleared.len(),
            s.names_replaced.len()
        );
    }
    super::gate_cmd::verdict(&file_report)
}

fn print_summary(file: &str, r: &ScanReport, data: &ScanData) {
    let total = |set: &str| {
        data.sets()
            .iter()
            .find(|(n, _)| *n == set)
            .map(|(_, x)| x.nrows())
    };
    println!("Model file scan: {file}");
    println!(
        "{} float tensors scanned; {} look like stored records",
        r.summary.tensors_scanned, r.summary.tensors_flagged
    );
    for t in &r.tensors {
        let found: Vec<String> = ["members", "nonmembers", "population"]
            .iter()
            .filter_map(|set| {
                let best = t
                    .matches
                    .iter()
                    .filter(|m| m.set == *set)
                    .max_by_key(|m| m.records_matched)?;
                let label = match *set {
                    "members" => "member",
                    "nonmembers" => "non-member",
                    _ => "population",
                };
                Some(format!(
                    "{} of {} {label} records ({} rows exact, {} within tolerance; {} space)",
                    best.records_matched,
                    total(set).unwrap_or(0),
                    best.exact_rows,
                    best.tolerance_rows,
                    best.space
                ))
            })
            .collect();
        let any_match = t.matches.iter().any(|m| m.rows_matched > 0);
        if !(t.looks_like_records || any_match) {
            continue;
        }
        println!(
            "  {} '{}' [{}, {} x {}]",
            t.location,
            Shown(&t.name),
            t.role.name(),
            t.rows,
            t.row_width
        );
        for f in &found {
            println!("    {f}");
        }
        if t.looks_like_records {
            for why in &t.reasons {
                println!("    looks like records: {why}");
            }
        }
    }
    if !data.is_empty() {
        println!(
            "Member records stored in the model: {}; non-member records matched: {}",
            r.summary.member_records_embedded, r.summary.nonmember_records_matched
        );
    }
    println!("{} metadata findings", r.metadata.len());
    for f in &r.metadata {
        println!(
            "  {}: {} '{}'",
            Shown(&f.field),
            f.kind.name(),
            Shown(&f.text)
        );
    }
}
