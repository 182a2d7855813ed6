//! `privacy-inspector invert`: MI-Face model inversion
//! (`attacks::inversion::invert`) for one class or all, white-box or
//! black-box, evaluated against the supplied records; writes the report
//! (JSON, HTML with `--html`) and one PNG per class with `--images` for
//! image-shaped inputs.

use super::audit_cmd::{read_records_named, ReportOut};
use super::{parse_model, read_model_bytes, show, CliError, IoCause, KindArg, ModelArgs};
use clap::{Args, ValueEnum};
use privacy_inspector::attacks::inversion::{
    image_u8, invert, ImageLayout, InversionConfig, InversionMode, StartPoint,
};
use privacy_inspector::attacks::membership::{AttackError, Progress, Records, Target};
use privacy_inspector::data::CsvOptions;
use privacy_inspector::engine::OutputKind;
use privacy_inspector::report::{Counts, Report};
use privacy_inspector::summary::num_classes;
use std::path::{Path, PathBuf};

pub const INVERT_EXAMPLES: &str = "\
Defaults follow Fredrikson et al. 2015 (steps 5000, window 100, gamma 0.01,
lr 0.1). Records (--data, or --members/--nonmembers) give the start point
(--start mean), the clip ranges and the evaluation; a smaller --gamma (1e-4)
lets the search move further from the mean.

Examples:
  privacy-inspector invert digits.onnx --class all --members train.csv --nonmembers test.csv \\
      --input-shape 1,8,8 --report inv.json --images inv-png --html inv.html
  privacy-inspector invert model.onnx --class 3 --data records.csv --black-box --query-budget 20000 --report inv.json";

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StartArg {
    Zeros,
    Mean,
}

#[derive(Args, Debug)]
pub struct InvertArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Class index to reconstruct, or 'all'
    #[arg(long, value_name = "C|all", default_value = "all")]
    pub class: String,
    /// Records for the start point, clip ranges and the recognition classifier
    #[arg(long, value_name = "D.csv")]
    pub data: Option<PathBuf>,
    /// Records the model was trained on (for the nearest-member distance)
    #[arg(long, value_name = "M.csv")]
    pub members: Option<PathBuf>,
    /// Records the model never saw (for the nearest-non-member distance)
    #[arg(long, value_name = "N.csv")]
    pub nonmembers: Option<PathBuf>,
    /// Per-record image shape for flat inputs, e.g. 1,8,8 (C,H,W)
    #[arg(long, value_name = "C,H,W", value_delimiter = ',')]
    pub input_shape: Option<Vec<usize>>,
    /// Name of the label column [default: label]
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Black-box: NES gradient estimates from queries instead of gradients
    #[arg(long)]
    pub black_box: bool,
    /// Step limit (alpha)
    #[arg(long, default_value_t = 5000)]
    pub steps: usize,
    /// No-improvement window (beta)
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Stop when the class probability reaches 1 - gamma
    #[arg(long, default_value_t = 0.01)]
    pub gamma: f64,
    /// Learning rate
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Start point
    #[arg(long, value_enum, default_value = "zeros")]
    pub start: StartArg,
    /// L2 prior weight (distance to the start point)
    #[arg(long, default_value_t = 0.0)]
    pub l2: f64,
    /// Total-variation prior weight (image-shaped inputs)
    #[arg(long, default_value_t = 0.0)]
    pub tv: f64,
    /// Black-box: model queries per class
    #[arg(long, default_value_t = 20_000)]
    pub query_budget: usize,
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Write one PNG per class into this folder (image-shaped inputs)
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub out: ReportOut,
}

fn read_opt(
    path: &Option<PathBuf>,
    opts: &CsvOptions,
    model: &privacy_inspector::onnx::Model,
) -> Result<Option<Records>, CliError> {
    path.as_deref()
        .map(|p| read_records_named(p, opts, model).map(|(r, _)| r))
        .transpose()
}

fn write_png(path: &Path, w: usize, h: usize, channels: usize, px: &[u8]) -> Result<(), CliError> {
    let err = |e: std::io::Error| CliError::Write {
        path: show(path),
        source: IoCause(e),
    };
    let mut file = super::files::Output::create(path)?;
    let mut enc = png::Encoder::new(&mut file, w as u32, h as u32);
    enc.set_color(if channels >= 3 {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    enc.set_depth(png::BitDepth::Eight);
    let io = |e: png::EncodingError| err(std::io::Error::other(e.to_string()));
    let mut writer = enc.write_header().map_err(io)?;
    writer.write_image_data(px).map_err(io)?;
    writer.finish().map_err(io)?;
    file.commit()
}

pub fn invert_cmd(args: &InvertArgs) -> Result<(), CliError> {
    let audit_err = |source| CliError::Audit { source };
    let cfg = InversionConfig {
        mode: if args.black_box {
            InversionMode::BlackBox
        } else {
            InversionMode::WhiteBox
        },
        steps: args.steps,
        window: args.window,
        gamma: args.gamma,
        lr: args.lr,
        start: match args.start {
            StartArg::Zeros => StartPoint::Zeros,
            StartArg::Mean => StartPoint::DataMean,
        },
        l2: args.l2,
        tv: args.tv,
        query_budget: args.query_budget,
        seed: args.seed,
        ..InversionConfig::default()
    };
    // every typed number in its declared range (and the shape's product
    // checked) before any file is read
    cfg.validate().map_err(super::setting_err)?;
    if let Some(shape) = &args.input_shape {
        privacy_inspector::settings::shape_len(shape).map_err(|e| super::setting_err(e.into()))?;
    }
    let mut inputs = vec![("MODEL", args.model.model.as_path())];
    for (flag, p) in [
        ("--data", &args.data),
        ("--members", &args.members),
        ("--nonmembers", &args.nonmembers),
        ("--limits", &args.model.limits),
    ] {
        if let Some(p) = p {
            inputs.push((flag, p));
        }
    }
    super::files::check_outputs(&inputs, &args.out.outputs())?;
    let gates = args.out.ci.conditions(&[], "invert")?;
    if let Some(dir) = &args.images {
        if dir.exists() && !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "--images {} is a file, not a folder",
                show(dir)
            )));
        }
    }
    let bytes = read_model_bytes(&args.model.model, &args.model.limits()?)?;
    let model = parse_model(&args.model, &bytes)?;
    let kind_override: Option<OutputKind> = args.model.output_kind.map(|k: KindArg| k.into());
    let opts = CsvOptions {
        label_column: args.label_column.clone(),
        ..args.model.limits()?.csv_options()
    };
    let labelled = CsvOptions {
        require_label: true,
        ..opts.clone()
    };
    let data = read_opt(&args.data, &opts, &model)?;
    let members = read_opt(&args.members, &labelled, &model)?;
    let nonmembers = read_opt(&args.nonmembers, &labelled, &model)?;
    let classes_n = num_classes(&model).unwrap_or(2);
    let classes: Vec<usize> = if args.class == "all" {
        (0..classes_n).collect()
    } else {
        let c: usize = args.class.parse().map_err(|_| {
            audit_err(AttackError::Config(format!(
                "--class takes a class index or 'all', got '{}'",
                args.class
            )))
        })?;
        vec![c]
    };
    let layout =
        ImageLayout::for_model(&model.graph, args.input_shape.as_deref()).map_err(audit_err)?;
    let target = Target {
        graph: &model.graph,
        params: &model.params,
        output_kind: kind_override.unwrap_or(model.graph.output_kind),
        num_classes: classes_n,
    };
    let result = invert(
        &target,
        &classes,
        data.as_ref(),
        members.as_ref(),
        nonmembers.as_ref(),
        &layout,
        &cfg,
        &mut |_: Progress| true,
    )
    .map_err(audit_err)?;
    for c in &result.classes {
        println!(
            "class {:>3}: confidence {:.4} after {} steps ({:?}), nearest member {}, recognised {}",
            c.class,
            c.target_confidence,
            c.steps,
            c.stopped_by,
            c.nearest_member_distance
                .map(|d| format!("{d:.3}"))
                .unwrap_or_else(|| "n/a".into()),
            c.recognised
                .map(|r| r.to_string())
                .unwrap_or_else(|| "n/a".into())
        );
    }
    if let Some(f) = result.recognised_fraction {
        println!(
            "recognised: {:.0}% of {} classes",
            100.0 * f,
            result.classes.len()
        );
    }
    if let Some(dir) = &args.images {
        if !layout.is_image() {
            return Err(audit_err(AttackError::Config(
                "--images needs an image-shaped input: the model's input is flat; give --input-shape C,H,W".into(),
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| CliError::Write {
            path: show(dir),
            source: IoCause(e),
        })?;
        // one intensity scale for every class: the data range if records were given
        let range_src = data.as_ref().or(members.as_ref()).or(nonmembers.as_ref());
        let (lo, hi) = match range_src {
            Some(r) => {
                r.x.iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    })
            }
            None => result
                .classes
                .iter()
                .flat_map(|c| c.reconstruction.iter())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                }),
        };
        let hi = if hi > lo { hi } else { lo + 1.0 };
        for c in &result.classes {
            let (w, h, ch, px) = image_u8(&c.reconstruction, &layout, lo, hi).map_err(audit_err)?;
            write_png(&dir.join(format!("class_{}.png", c.class)), w, h, ch, &px)?;
        }
    }
    let counts = Counts {
        members: members.as_ref().map_or(0, |r| r.len()),
        nonmembers: nonmembers.as_ref().map_or(0, |r| r.len()),
        population: data.as_ref().map_or(0, |r| r.len()),
    };
    let mut report = Report::base(
        &model,
        Some(show(&args.model.model)),
        kind_override,
        classes_n,
        args.seed,
        counts,
        serde_json::json!({
            "data": args.data.as_deref().map(show),
            "members": args.members.as_deref().map(show),
            "nonmembers": args.nonmembers.as_deref().map(show),
        }),
    )
    .with_limits(&args.model.limits()?);
    report.inversion = Some(result);
    // the guidance (its inversion rule) with the default thresholds, for
    // the gates, the JUnit and the summary
    let report = report
        .with_guidance(&Default::default())
        .map_err(|e| CliError::Usage(format!("guidance: {e}")))?
        .with_gates(&gates);
    args.out.write(&report)?;
    super::gate_cmd::verdict(&report)
}
