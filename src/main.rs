//! The `privacy-inspector` command-line interface: parse arguments, read
//! files, call the core (`onnx::load`, `summary::summarize`, `data`,
//! `engine`), print results.
//!
//! Contract:
//! - `inspect MODEL.onnx [--json]` prints the model summary.
//! - `predict MODEL.onnx --data X.csv [--out FILE]` writes one CSV row of
//!   class probabilities per record (softmax for logits; a single binary score
//!   becomes `[1-p, p]`), header `class_0,...,class_{K-1}`. The CSV is
//!   streamed in batches, so memory stays bounded by the batch size. With
//!   `--logits` it writes the logits instead (the output of a logit model,
//!   or the input of a probability model's final Softmax), as `audit
//!   --members-predictions ... --output-kind logits` reads them.
//! - Errors print `error: <message>: <cause>: ...` on stderr, with exit code 2
//!   for usage and input errors (bad files, bad data, bad arguments, a model
//!   that fails while running, named with its node) and 1 for
//!   internal failures. A failed gate (`--fail-on`, `diff
//!   --fail-on-regression`) prints `gate failed: ...` and exits with 3, after
//!   every output is written. A panic (a bug) prints one line and exits with 101,
//!   never a trace. A closed stdout pipe ends the program quietly.
//!
//! Only built natively: on wasm32 the binary is an empty stub (the wasm
//! front door is `src/wasm.rs`).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use clap::{Args, Parser, Subcommand, ValueEnum};
    use ndarray::{Array2, Axis, IxDyn, Slice};
    use privacy_inspector::attacks::membership::signals::logits_before_softmax;
    use privacy_inspector::data::{CsvOptions, CsvStream, DataError};
    use privacy_inspector::engine::{proba, Dim, EngineError, Graph, OutputKind, Tensor};
    use privacy_inspector::onnx::{self, ImportOptions, Model, OnnxError};
    use privacy_inspector::summary::{self, ModelSummary};
    use std::fmt;
    use std::io::{self, BufWriter, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    mod attribute_cmd;
    mod audit_cmd;
    mod dp_audit_cmd;
    mod files;
    mod gate_cmd;
    mod invert_cmd;
    mod scan_cmd;

    const EXAMPLES: &str = "\
Examples:
  privacy-inspector inspect model.onnx
  privacy-inspector inspect model.onnx --json
  privacy-inspector predict model.onnx --data records.csv --out probabilities.csv
  privacy-inspector predict model.onnx --data records.csv --label-column target

Exit codes: 0 success, 1 internal error, 2 usage or input error, 3 a gate
failed (--fail-on, diff --fail-on-regression; every output is written).";

    const INSPECT_EXAMPLES: &str = "\
Examples:
  privacy-inspector inspect model.onnx
  privacy-inspector inspect model.onnx --json
  privacy-inspector inspect model.onnx --output logits --output-kind logits";

    const PREDICT_EXAMPLES: &str = "\
The CSV needs a header row and one numeric column per model input value
(64 columns feed a [N,1,8,8] input). A column named 'label' (or the one named
by --label-column) is not fed to the model. Use '-' to read the CSV from stdin.

Examples:
  privacy-inspector predict model.onnx --data records.csv
  privacy-inspector predict model.onnx --data records.csv --out probabilities.csv
  privacy-inspector predict model.onnx --data records.csv --label-column target --batch-size 256
  privacy-inspector predict model.onnx --data records.csv --logits --out logits.csv";

    #[derive(Parser, Debug)]
    #[command(
        name = "privacy-inspector",
        version,
        about = "Inspect ONNX classification models and run them on CSV data",
        after_help = EXAMPLES,
        arg_required_else_help = true
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand, Debug)]
    enum Command {
        /// Print a model's summary: input shape, chosen output and whether it
        /// holds probabilities or logits, number of classes, operators,
        /// parameter count, SHA-256
        #[command(after_help = INSPECT_EXAMPLES)]
        Inspect(InspectArgs),
        /// Run a model on a CSV file and write the class probabilities of
        /// every record as CSV
        #[command(after_help = PREDICT_EXAMPLES)]
        Predict(PredictArgs),
        /// Run membership inference attacks against a model with its member
        /// and non-member records, and write a report
        #[command(after_help = audit_cmd::AUDIT_EXAMPLES)]
        Audit(Box<audit_cmd::AuditArgs>),
        /// Attribute inference: how well the model lets an attacker fill in
        /// a sensitive column of members, against baselines without the model
        #[command(after_help = attribute_cmd::ATTRIBUTE_EXAMPLES)]
        Attribute(attribute_cmd::AttributeArgs),
        /// Model inversion (MI-Face): reconstruct a representative input of
        /// each class from the model, and measure how close it comes to members
        #[command(after_help = invert_cmd::INVERT_EXAMPLES)]
        Invert(invert_cmd::InvertArgs),
        /// Scan the model file itself: training records stored in its
        /// tensors (SVM support vectors, kNN sets) and personal details in
        /// its metadata; optionally write a cleaned copy
        #[command(after_help = scan_cmd::SCAN_EXAMPLES)]
        Scan(scan_cmd::ScanArgs),
        /// Check a DP-SGD claim in one training run: train a template with
        /// canaries, bound its epsilon from the guesses, beside the accountant's
        #[command(after_help = dp_audit_cmd::DP_AUDIT_EXAMPLES)]
        DpAudit(Box<dp_audit_cmd::DpAuditArgs>),
        /// Compare two reports (an earlier release and the current one):
        /// per attack and figure the change, marked real only outside the
        /// sampling noise; rules that started or stopped firing; comparability
        #[command(after_help = gate_cmd::DIFF_EXAMPLES)]
        Diff(gate_cmd::DiffArgs),
    }

    /// The exit code of a failed gate (`--fail-on`, `diff
    /// --fail-on-regression`): distinct from success (0), internal errors
    /// (1), input errors (2) and panics (101).
    pub const GATE_EXIT: u8 = 3;

    #[derive(Args, Debug)]
    struct ModelArgs {
        /// The ONNX model file
        #[arg(value_name = "MODEL.onnx")]
        model: PathBuf,
        /// Use this model output instead of the detected probability/logit output
        #[arg(long, value_name = "NAME")]
        output: Option<String>,
        /// What the output holds (overrides detection)
        #[arg(long, value_enum, value_name = "KIND")]
        output_kind: Option<KindArg>,
        /// Resource limits as JSON (README "Limits"; every field optional), for files larger
        /// than the defaults allow
        #[arg(long, value_name = "LIMITS.json")]
        limits: Option<PathBuf>,
    }

    impl ModelArgs {
        /// The limits of `--limits`, or the defaults.
        fn limits(&self) -> Result<privacy_inspector::limits::Limits, CliError> {
            read_limits(self.limits.as_deref())
        }
    }

    /// The limits of a `--limits FILE.json` (every field optional), or the
    /// defaults without one.
    fn read_limits(path: Option<&Path>) -> Result<privacy_inspector::limits::Limits, CliError> {
        let Some(p) = path else {
            return Ok(Default::default());
        };
        let text = files::read_settings_file(p)?;
        privacy_inspector::limits::Limits::from_json(&text)
            .map_err(|e| CliError::Usage(format!("{}: not a limits file: {e}", show(p))))
    }

    #[derive(Args, Debug)]
    struct InspectArgs {
        #[command(flatten)]
        model: ModelArgs,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    }

    #[derive(Args, Debug)]
    struct PredictArgs {
        #[command(flatten)]
        model: ModelArgs,
        /// The CSV file of records ('-' for stdin)
        #[arg(long, value_name = "X.csv")]
        data: PathBuf,
        /// Write the probabilities to FILE instead of stdout
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// Name of the label column, which is not fed to the model [default: label, when present]
        #[arg(long, value_name = "NAME")]
        label_column: Option<String>,
        /// Write the model's logits instead of probabilities (for `audit
        /// --output-kind logits`): the output of a logit model, or the input
        /// of the final Softmax of a probability model
        #[arg(long)]
        logits: bool,
        /// Records per forward pass
        #[arg(long, value_name = "N", default_value_t = 1024,
              value_parser = |s: &str| privacy_inspector::settings::PREDICT_BATCH_SIZE.parse(s))]
        batch_size: usize,
    }

    #[derive(ValueEnum, Clone, Copy, Debug)]
    enum KindArg {
        Probabilities,
        Logits,
    }

    impl From<KindArg> for OutputKind {
        fn from(k: KindArg) -> Self {
            match k {
                KindArg::Probabilities => OutputKind::Probabilities,
                KindArg::Logits => OutputKind::Logits,
            }
        }
    }

    /// An I/O error shown without the "(os error N)" suffix.
    #[derive(Debug)]
    struct IoCause(io::Error);

    impl fmt::Display for IoCause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let text = self.0.to_string();
            let text = match text.find(" (os error ") {
                Some(i) => &text[..i],
                None => &text,
            };
            f.write_str(text)
        }
    }

    impl std::error::Error for IoCause {}

    /// Everything that can go wrong in the CLI. The `Display` of a variant is
    /// its context; the cause chain follows via `source()`.
    #[derive(Debug, thiserror::Error)]
    enum CliError {
        #[error("cannot read {path}")]
        Read {
            path: String,
            #[source]
            source: IoCause,
        },
        #[error("cannot write {path}")]
        Write {
            path: String,
            #[source]
            source: IoCause,
        },
        /// A file over its limit (reading stopped there).
        #[error("cannot read {path}")]
        TooLarge {
            path: String,
            #[source]
            source: privacy_inspector::limits::LimitExceeded,
        },
        #[error("cannot load model {path}")]
        Model {
            path: String,
            #[source]
            source: OnnxError,
        },
        #[error("bad data in {path}")]
        Data {
            path: String,
            #[source]
            source: DataError,
        },
        /// The model failed while running (on `path`'s records, when
        /// given): a fault of the model unless the engine says it is its own.
        #[error("the model{} fails while running{}", .model.as_deref().map(|m| format!(" {m}")).unwrap_or_default(), .path.as_deref().map(|p| format!(" on {p}")).unwrap_or_default())]
        Run {
            /// Filled in by [`CliError::naming_model`] where not known.
            model: Option<String>,
            path: Option<String>,
            #[source]
            source: EngineError,
        },
        #[error("unexpected model output on {path}: {message}")]
        Output { path: String, message: String },
        /// Arguments that do not fit together (shards, reference files).
        #[error("{0}")]
        Usage(String),
        #[error("the attack could not run")]
        Audit {
            #[source]
            source: privacy_inspector::attacks::membership::AttackError,
        },
        #[error("cannot audit from predictions")]
        Predictions {
            #[source]
            source: privacy_inspector::attacks::membership::predictions::PredictionError,
        },
        #[error("cannot read report {path}")]
        Report {
            path: String,
            #[source]
            source: privacy_inspector::report::ReportError,
        },
        /// A gate failed: every output was written; exit [`GATE_EXIT`].
        #[error("gate failed: {0}")]
        Gate(String),
        #[error("the model-file scan failed")]
        Scan {
            #[source]
            source: privacy_inspector::scan::ScanError,
        },
    }

    impl CliError {
        fn exit_code(&self) -> u8 {
            match self {
                CliError::Run { source, .. } if source.is_internal() => 1,
                CliError::Audit {
                    source: privacy_inspector::attacks::membership::AttackError::Engine(e),
                } if e.is_internal() => 1,
                CliError::Scan {
                    source: privacy_inspector::scan::ScanError::Encode(_),
                } => 1,
                CliError::Gate(_) => GATE_EXIT,
                _ => 2,
            }
        }

        /// An engine error inside an attack names the model it ran
        /// (`Run`), as every other fault of an input names its file.
        fn naming_model(self, model: Option<&Path>) -> CliError {
            match (self, model) {
                (
                    CliError::Audit {
                        source: privacy_inspector::attacks::membership::AttackError::Engine(source),
                    },
                    Some(m),
                ) => CliError::Run {
                    model: Some(show(m)),
                    path: None,
                    source,
                },
                (
                    CliError::Run {
                        model: None,
                        path,
                        source,
                    },
                    Some(m),
                ) => CliError::Run {
                    model: Some(show(m)),
                    path,
                    source,
                },
                (e, _) => e,
            }
        }

        fn is_broken_pipe(&self) -> bool {
            matches!(self, CliError::Write { source, .. } if source.0.kind() == io::ErrorKind::BrokenPipe)
        }

        /// The message with its whole cause chain, joined by ": ".
        fn chain(&self) -> String {
            let mut msg = self.to_string();
            let mut cause = std::error::Error::source(self);
            while let Some(c) = cause {
                msg.push_str(": ");
                msg.push_str(&c.to_string());
                cause = c.source();
            }
            msg
        }
    }

    /// A settings check that failed before any work: an invalid setting is
    /// shown as such (exit 2), not as an attack that could not run.
    fn setting_err(source: privacy_inspector::attacks::membership::AttackError) -> CliError {
        match source {
            privacy_inspector::attacks::membership::AttackError::Config(_) => {
                CliError::Usage(source.to_string())
            }
            source => CliError::Audit { source },
        }
    }

    fn show(path: &Path) -> String {
        privacy_inspector::text::shown_path(&path.display().to_string())
    }

    fn install_panic_hook() {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".to_string());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let one_line = what.replace('\n', " ");
            eprintln!(
                "error: internal error (a bug in privacy-inspector {}): {one_line}{at}",
                privacy_inspector::VERSION
            );
            std::process::exit(101);
        }));
    }

    /// The model file a command reads, if any.
    fn model_of(c: &Command) -> Option<&Path> {
        match c {
            Command::Inspect(a) => Some(&a.model.model),
            Command::Predict(a) => Some(&a.model.model),
            Command::Audit(a) => a.model.as_deref(),
            Command::Attribute(a) => Some(&a.model.model),
            Command::Invert(a) => Some(&a.model.model),
            Command::Scan(a) => Some(&a.model),
            Command::DpAudit(a) => Some(&a.model.model),
            Command::Diff(_) => None,
        }
    }

    pub fn main() -> ExitCode {
        install_panic_hook();
        // clap prints help/version (exit 0) and usage errors (exit 2) itself
        let cli = Cli::parse();
        let result = match &cli.command {
            Command::Inspect(args) => inspect(args),
            Command::Predict(args) => predict(args),
            Command::Audit(args) => audit_cmd::audit(args),
            Command::Attribute(args) => attribute_cmd::attribute(args),
            Command::Invert(args) => invert_cmd::invert_cmd(args),
            Command::Scan(args) => scan_cmd::scan(args),
            Command::DpAudit(args) => dp_audit_cmd::dp_audit(args),
            Command::Diff(args) => gate_cmd::diff_cmd(args),
        };
        let result = result.map_err(|e| e.naming_model(model_of(&cli.command)));
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
            Err(e @ CliError::Gate(_)) => {
                eprintln!("{e}");
                ExitCode::from(e.exit_code())
            }
            Err(e) => {
                eprintln!("error: {}", e.chain());
                ExitCode::from(e.exit_code())
            }
        }
    }

    /// The model file, read up to `max_model_bytes` of the limits
    /// (`files::read_bounded`: reading stops at the limit).
    fn read_model_bytes(
        path: &Path,
        limits: &privacy_inspector::limits::Limits,
    ) -> Result<Vec<u8>, CliError> {
        files::read_bounded(
            path,
            limits.max_model_bytes as u64,
            privacy_inspector::limits::Limit::ModelBytes,
        )
    }

    fn load_model(args: &ModelArgs) -> Result<Model, CliError> {
        parse_model(args, &read_model_bytes(&args.model, &args.limits()?)?)
    }

    fn parse_model(args: &ModelArgs, bytes: &[u8]) -> Result<Model, CliError> {
        let opts = ImportOptions {
            output: args.output.clone(),
            ..args.limits()?.import_options()
        };
        onnx::load_with(bytes, &opts).map_err(|source| CliError::Model {
            path: show(&args.model),
            source,
        })
    }

    fn stdout_err(e: io::Error) -> CliError {
        CliError::Write {
            path: "stdout".into(),
            source: IoCause(e),
        }
    }

    fn inspect(args: &InspectArgs) -> Result<(), CliError> {
        let model = load_model(&args.model)?;
        let summary = summary::summarize(&model, args.model.output_kind.map(Into::into));
        let text = if args.json {
            let mut s = serde_json::to_string_pretty(&summary).map_err(|e| CliError::Output {
                path: show(&args.model.model),
                message: format!("cannot serialise the summary: {e}"),
            })?;
            s.push('\n');
            s
        } else {
            render_summary(&show(&args.model.model), &summary)
        };
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes()).map_err(stdout_err)?;
        out.flush().map_err(stdout_err)
    }

    fn kind_name(kind: OutputKind) -> &'static str {
        match kind {
            OutputKind::Probabilities => "probabilities",
            OutputKind::Logits => "logits",
        }
    }

    /// Thousands separators for counts.
    fn group(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// The human-readable summary printed by `inspect`.
    fn render_summary(path: &str, s: &ModelSummary) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let _ = writeln!(o, "Model       {path}");
        let _ = writeln!(o, "Size        {} bytes", group(s.file_size));
        let _ = writeln!(o, "SHA-256     {}", s.sha256);
        let producer = if s.producer.is_empty() {
            "(not recorded)"
        } else {
            &s.producer
        };
        let _ = writeln!(o, "Producer    {producer}");
        let _ = writeln!(o, "Format      ONNX IR {}, opset {}", s.ir_version, s.opset);
        let features = match s.input.features {
            Some(n) => format!("{n} values per record (CSV feature columns)"),
            None => "values per record not fixed".to_string(),
        };
        let _ = writeln!(
            o,
            "Input       {} [{}]: {features}",
            s.input.name,
            s.input.shape.join(", ")
        );
        let _ = writeln!(
            o,
            "Output      {}: {} ({})",
            s.output.name,
            kind_name(s.output.kind),
            s.output.kind_source
        );
        if s.output.declared.len() > 1 {
            let _ = writeln!(
                o,
                "            declared outputs: {}",
                s.output.declared.join(", ")
            );
        }
        let classes = match s.output.num_classes {
            Some(k) => k.to_string(),
            None if s.input.features.is_none() => {
                "unknown (the input shape is not fixed)".to_string()
            }
            None => "unknown (the model did not run on a record of zeros)".to_string(),
        };
        let _ = writeln!(o, "Classes     {classes}");
        let _ = writeln!(
            o,
            "Parameters  {} ({} trainable)",
            group(s.param_count),
            group(s.trainable_param_count)
        );
        let trainable = match (&s.trainable, &s.trainable_reason) {
            (true, _) => "yes".to_string(),
            (false, Some(why)) => format!("no: {why}"),
            (false, None) => "no".to_string(),
        };
        let _ = writeln!(o, "Trainable   {trainable}");
        let total: usize = s.operators.iter().map(|c| c.count).sum();
        let _ = writeln!(o, "Operators   {total} nodes");
        let width = s.operators.iter().map(|c| c.op.len()).max().unwrap_or(0);
        for c in &s.operators {
            let _ = writeln!(o, "            {:<width$}  {}", c.op, c.count);
        }
        o
    }

    /// Where `predict` writes: stdout, or a temporary file beside `--out`
    /// renamed into place when every row was written (`files::Output`); on
    /// failure an existing `--out` is untouched.
    enum Sink {
        Stdout(BufWriter<io::Stdout>),
        File(files::Output),
    }

    impl Sink {
        fn open(path: Option<&Path>) -> Result<Sink, CliError> {
            match path {
                None => Ok(Sink::Stdout(BufWriter::new(io::stdout()))),
                Some(p) => files::Output::create(p).map(Sink::File),
            }
        }

        fn write(&mut self, s: &str) -> Result<(), CliError> {
            match self {
                Sink::Stdout(w) => w.write_all(s.as_bytes()).map_err(stdout_err),
                Sink::File(o) => o.write_all(s.as_bytes()),
            }
        }

        /// Flush stdout, or rename the finished file into place.
        fn finish(self) -> Result<(), CliError> {
            match self {
                Sink::Stdout(mut w) => w.flush().map_err(stdout_err),
                Sink::File(o) => o.commit(),
            }
        }
    }

    fn predict(args: &PredictArgs) -> Result<(), CliError> {
        // the output is none of the inputs and can be written, both inputs
        // are readable, before any work is done
        if let Some(out) = &args.out {
            files::check_outputs(
                &[("MODEL", &args.model.model), ("--data", &args.data)],
                &[("--out", out)],
            )?;
        }
        let limits = args.model.limits()?;
        let bytes = read_model_bytes(&args.model.model, &limits)?;
        let data = files::open_bounded(&args.data, limits.max_csv_bytes)?;
        let model = parse_model(&args.model, &bytes)?;
        drop(bytes);
        let kind = args
            .model
            .output_kind
            .map(OutputKind::from)
            .unwrap_or(model.graph.output_kind);
        let data_name = show(&args.data);
        let data_err = |source: DataError| CliError::Data {
            path: data_name.clone(),
            source,
        };
        let opts = CsvOptions {
            label_column: args.label_column.clone(),
            ..limits.csv_options()
        };
        // --logits: the graph whose output is the logits (the model's own
        // when it emits logits, else cut before a final Softmax)
        let logit_graph = match (args.logits, kind) {
            (false, _) | (true, OutputKind::Logits) => None,
            (true, OutputKind::Probabilities) => {
                let v = logits_before_softmax(&model.graph).ok_or_else(|| {
                    CliError::Usage(format!(
                        "{} outputs probabilities that do not come from a final Softmax: it has no logits to write; leave out --logits",
                        show(&args.model.model)
                    ))
                })?;
                let mut g = model.graph.clone();
                g.output = v;
                Some(g)
            }
        };
        let mut stream = CsvStream::new(data, &opts).map_err(data_err)?;
        let mut sink = Sink::open(args.out.as_deref())?;
        let written = if args.logits {
            Written::Logits {
                before_softmax: logit_graph.is_some(),
            }
        } else {
            Written::Probabilities(kind)
        };
        // on an error the sink is dropped: its temporary file is removed
        run_batches(
            &model,
            logit_graph.as_ref().unwrap_or(&model.graph),
            written,
            &mut stream,
            &mut sink,
            args.batch_size,
            &data_name,
        )?;
        sink.finish()
    }

    /// What `predict` writes.
    #[derive(Clone, Copy)]
    enum Written {
        /// Class probabilities from an output of this kind.
        Probabilities(OutputKind),
        /// The logits: the model's output, or the input of its final
        /// Softmax (`before_softmax`, then [N, K >= 2] only).
        Logits { before_softmax: bool },
    }

    fn run_batches<R: Read>(
        model: &Model,
        graph: &Graph,
        written: Written,
        stream: &mut CsvStream<R>,
        sink: &mut Sink,
        batch_size: usize,
        data_name: &str,
    ) -> Result<(), CliError> {
        let data_err = |source: DataError| CliError::Data {
            path: data_name.to_string(),
            source,
        };
        // a model declaring a fixed batch size gets exactly that many rows
        // per pass (the last batch padded with zero rows, dropped after)
        let fixed_batch = match model.graph.input.shape.first() {
            Some(Dim::Fixed(b)) if *b >= 1 => Some(*b),
            _ => None,
        };
        let batch_size = fixed_batch.unwrap_or(batch_size);
        let mut classes: Option<usize> = None;
        let mut done = 0usize;
        let mut line = String::new();
        // one Dataset whose rows are replaced per batch: the column names
        // are copied once, not once per batch
        let mut chunk = match stream.next_chunk(batch_size).map_err(data_err)? {
            Some(c) => c,
            None => return Ok(()),
        };
        let mut first = true;
        loop {
            if !first {
                match stream.next_rows(batch_size).map_err(data_err)? {
                    Some((features, labels)) => {
                        chunk.features = features;
                        chunk.labels = labels;
                    }
                    None => break,
                }
            }
            first = false;
            let mut x = chunk.to_batch(&model.graph.input).map_err(data_err)?;
            if let Some(b) = fixed_batch {
                x = pad_batch(x, b);
            }
            let y = graph
                .forward(&model.params, &x)
                .map_err(|source| CliError::Run {
                    model: None,
                    path: Some(data_name.to_string()),
                    source,
                })?;
            let y = match fixed_batch {
                Some(_) if y.ndim() > 0 && y.shape()[0] > chunk.len() => y
                    .slice_axis(Axis(0), Slice::from(0..chunk.len()))
                    .to_owned(),
                _ => y,
            };
            let probs = match written {
                Written::Probabilities(kind) => to_probabilities(&y, chunk.len(), kind, done),
                Written::Logits { before_softmax } => {
                    to_logits(&y, chunk.len(), before_softmax, done)
                }
            }
            .map_err(|message| CliError::Output {
                path: data_name.to_string(),
                message,
            })?;
            let k = probs.ncols();
            match classes {
                None => {
                    let header: Vec<String> = (0..k).map(|i| format!("class_{i}")).collect();
                    sink.write(&header.join(","))?;
                    sink.write("\n")?;
                    classes = Some(k);
                }
                Some(prev) if prev != k => {
                    return Err(CliError::Output {
                        path: data_name.to_string(),
                        message: format!(
                            "the model returned {k} scores per record for rows from {}, {prev} before",
                            done + 1
                        ),
                    });
                }
                Some(_) => {}
            }
            for row in probs.rows() {
                line.clear();
                for (j, p) in row.iter().enumerate() {
                    if j > 0 {
                        line.push(',');
                    }
                    push_number(&mut line, *p);
                }
                line.push('\n');
                sink.write(&line)?;
            }
            done += chunk.len();
        }
        Ok(())
    }

    /// The shortest text that reads back as the same f32, in exponent form
    /// for tiny values (`1.0110959e-10`, not `0.000000000101109586`).
    fn push_number(line: &mut String, v: f32) {
        use std::fmt::Write as _;
        let _ = if v != 0.0 && v.abs() < 1e-4 {
            write!(line, "{v:e}")
        } else {
            write!(line, "{v}")
        };
    }

    /// Pad a batch with zero records up to `b` rows.
    fn pad_batch(x: Tensor, b: usize) -> Tensor {
        let n = match x.shape().first() {
            Some(&n) if n < b => n,
            _ => return x,
        };
        let mut shape = x.shape().to_vec();
        shape[0] = b - n;
        let pad = Tensor::zeros(IxDyn(&shape));
        ndarray::concatenate(Axis(0), &[x.view(), pad.view()]).unwrap_or(x)
    }

    /// One batch of model output as rows of class probabilities:
    /// `engine::proba::checked_probabilities`, the page's check too.
    fn to_probabilities(
        y: &Tensor,
        n: usize,
        kind: OutputKind,
        offset: usize,
    ) -> Result<Array2<f32>, String> {
        proba::checked_probabilities(y, n, kind, offset).map_err(|e| e.to_string())
    }

    /// One batch of logits as written by `predict --logits`: the raw output
    /// as [N, K] (`engine::proba::as_matrix`), checked finite; logits taken
    /// before a final Softmax must be [N, K >= 2] (as the audit reads them).
    fn to_logits(
        y: &Tensor,
        n: usize,
        before_softmax: bool,
        offset: usize,
    ) -> Result<Array2<f32>, String> {
        if y.ndim() == 0 || y.shape()[0] != n {
            return Err(format!(
                "the output has shape {:?} for a batch of {n} records",
                y.shape()
            ));
        }
        if before_softmax && (y.ndim() != 2 || y.shape()[1] < 2) {
            return Err(format!(
                "the input of the final Softmax has shape {:?}, not [records, classes >= 2]: no logits to write",
                y.shape()
            ));
        }
        let m = proba::as_matrix(y).map_err(|e| e.to_string())?;
        if m.ncols() == 0 {
            return Err(format!(
                "the output has shape {:?}: no class scores",
                y.shape()
            ));
        }
        for (i, scores) in m.rows().into_iter().enumerate() {
            if scores.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "the logits of record {} are NaN or infinite",
                    offset + i + 1
                ));
            }
        }
        Ok(m)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ndarray::{arr1, arr2};

        #[test]
        fn probabilities_from_outputs() {
            let y = arr2(&[[0.25f32, 0.75], [1.0, 0.0]]).into_dyn();
            let r = to_probabilities(&y, 2, OutputKind::Probabilities, 0).unwrap();
            assert_eq!(r, arr2(&[[0.25, 0.75], [1.0, 0.0]]));
            // single binary score, probability or logit
            let y = arr2(&[[0.25f32]]).into_dyn();
            let r = to_probabilities(&y, 1, OutputKind::Probabilities, 0).unwrap();
            assert_eq!(r, arr2(&[[0.75, 0.25]]));
            let y = arr1(&[0.0f32]).into_dyn();
            let r = to_probabilities(&y, 1, OutputKind::Logits, 0).unwrap();
            assert_eq!(r, arr2(&[[0.5, 0.5]]));
            // logits go through softmax
            let y = arr2(&[[1.0f32, 2.0, 3.0]]).into_dyn();
            let r = to_probabilities(&y, 1, OutputKind::Logits, 0).unwrap();
            assert!((r[[0, 2]] - 0.665_240_96).abs() < 1e-6);
        }

        #[test]
        fn bad_outputs_are_errors() {
            let y = arr2(&[[0.5f32, 0.5], [2.0, -1.0]]).into_dyn();
            let e = to_probabilities(&y, 2, OutputKind::Probabilities, 10).unwrap_err();
            assert!(e.contains("record 12 has score 2"), "{e}");
            assert!(e.contains("--output-kind logits"), "{e}");
            let y = arr2(&[[f32::NAN, 0.5]]).into_dyn();
            let e = to_probabilities(&y, 1, OutputKind::Logits, 0).unwrap_err();
            assert!(e.contains("record 1 "), "{e}");
            let y = arr2(&[[0.5f32, 0.5]]).into_dyn();
            assert!(to_probabilities(&y, 2, OutputKind::Logits, 0).is_err());
        }

        #[test]
        fn error_chain_and_codes() {
            let e = CliError::Read {
                path: "m.onnx".into(),
                source: IoCause(io::Error::from_raw_os_error(2)),
            };
            assert_eq!(e.chain(), "cannot read m.onnx: No such file or directory");
            assert_eq!(e.exit_code(), 2);
            let e = CliError::Model {
                path: "m.onnx".into(),
                source: OnnxError::Empty,
            };
            assert_eq!(
                e.chain(),
                "cannot load model m.onnx: the file is empty (0 bytes)"
            );
            // a failing operator is the model's fault, named
            let e = CliError::Run {
                model: Some("m.onnx".into()),
                path: Some("x.csv".into()),
                source: EngineError::op("Conv", "bad"),
            };
            assert_eq!(e.exit_code(), 2);
            assert_eq!(
                e.chain(),
                "the model m.onnx fails while running on x.csv: node '' (Conv): bad"
            );
            // inside an attack too, naming the model
            let e = CliError::Audit {
                source: privacy_inspector::attacks::membership::AttackError::Engine(
                    EngineError::op("MatMul", "inner dimensions 5 and 4"),
                ),
            }
            .naming_model(Some(Path::new("m.onnx")));
            assert_eq!(e.exit_code(), 2);
            assert!(e
                .chain()
                .starts_with("the model m.onnx fails while running: node"));
            // the engine's own failure stays a bug
            let e = CliError::Run {
                model: Some("m.onnx".into()),
                path: None,
                source: EngineError::Internal("x".into()),
            };
            assert_eq!(e.exit_code(), 1);
        }

        #[test]
        fn padding_to_a_fixed_batch() {
            let x = arr2(&[[1.0f32, 2.0]]).into_dyn();
            let p = pad_batch(x.clone(), 3);
            assert_eq!(p, arr2(&[[1.0f32, 2.0], [0.0, 0.0], [0.0, 0.0]]).into_dyn());
            assert_eq!(pad_batch(x.clone(), 1), x);
        }

        #[test]
        fn numbers_round_trip() {
            for v in [
                0.0f32,
                1.0,
                0.5,
                1.0110959e-10,
                0.99964535,
                3.4183264e-5,
                1e-4,
            ] {
                let mut s = String::new();
                push_number(&mut s, v);
                assert_eq!(s.parse::<f32>().unwrap(), v, "{s}");
            }
            let mut s = String::new();
            push_number(&mut s, 1.0110959e-10);
            assert_eq!(s, "1.0110959e-10");
        }

        #[test]
        fn grouping() {
            assert_eq!(group(0), "0");
            assert_eq!(group(999), "999");
            assert_eq!(group(1000), "1,000");
            assert_eq!(group(1234567), "1,234,567");
        }

        #[test]
        fn cli_definition_is_valid() {
            use clap::CommandFactory;
            Cli::command().debug_assert();
        }
    }
}
