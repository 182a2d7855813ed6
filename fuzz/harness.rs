//! The code paths the fuzz targets run, one function per target. Shared by
//! the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the stable test suite
//! (`tests/fuzz_regressions.rs`, which runs every file kept under
//! `tests/fuzz_regressions/<target>/` through the same function).
//!
//! Contract: each function takes arbitrary bytes and must return without
//! panicking, whatever the bytes; an `Err` from the library is fine. A panic
//! (or an abort, an out-of-memory or a timeout under libFuzzer) is a bug in
//! the library.

use privacy_inspector::data::{read_csv, CsvOptions, CsvPushParser, CsvStream};
use privacy_inspector::engine::{Dim, Input, Tensor};
use privacy_inspector::onnx::load;
use privacy_inspector::report::{html, read_json};
use privacy_inspector::scan::{scan_model, strip_metadata, ScanData, ScanSettings};
use privacy_inspector::summary::summarize;

/// The model-file scan first (the page scans every dropped file before and
/// whether or not the engine imports it): without records, then, when the
/// input width is small, with two records (zeros, ones) so the matching and
/// the preprocessed spaces run; `strip_metadata` and a scan of its output.
/// Then `onnx::load`, and on success the model summary (which runs one zero
/// record) and one forward pass on a zero batch of two records.
pub fn onnx_import(data: &[u8]) {
    let settings = ScanSettings::default();
    if let Ok(report) = scan_model(data, &ScanData::default(), &settings) {
        if let Some(w) = report.input_width.filter(|&w| (1..=4096).contains(&w)) {
            let mut records = ndarray::Array2::<f32>::zeros((2, w));
            records.row_mut(1).fill(1.0);
            let with = ScanData {
                members: Some(&records),
                ..ScanData::default()
            };
            let _ = scan_model(data, &with, &settings);
        }
    }
    if let Ok((clean, _)) = strip_metadata(data) {
        let _ = scan_model(&clean, &ScanData::default(), &settings);
    }
    let Ok(model) = load(data) else { return };
    let _ = summarize(&model, None);
    if let Some(rec) = model.graph.input.record_shape() {
        let mut shape = vec![2];
        shape.extend(rec);
        // The importer bounds the per-record size (limits::Limits), so this
        // allocation is bounded too.
        let x = Tensor::zeros(shape);
        let _ = model.graph.forward(&model.params, &x);
    }
}

/// The small model inputs a parsed CSV is reshaped to.
fn small_inputs() -> Vec<Input> {
    [
        vec![Dim::Symbolic("N".into()), Dim::Fixed(4)],
        vec![Dim::Symbolic("N".into()), Dim::Symbolic("F".into())],
        vec![
            Dim::Symbolic("N".into()),
            Dim::Fixed(1),
            Dim::Fixed(2),
            Dim::Fixed(2),
        ],
    ]
    .into_iter()
    .map(|shape| Input {
        name: "x".into(),
        value: 0,
        shape,
    })
    .collect()
}

/// `data::read_csv` with the default options, with a required label
/// column named `class`, and with a small cell limit; on success
/// `Dataset::to_batch` for small input shapes. Also `CsvStream` in chunks
/// of three rows.
pub fn csv_reader(data: &[u8]) {
    let options = [
        CsvOptions::default(),
        CsvOptions {
            label_column: Some("class".into()),
            require_label: true,
            ..CsvOptions::default()
        },
        CsvOptions {
            max_cells: 64,
            ..CsvOptions::default()
        },
    ];
    let inputs = small_inputs();
    for opts in &options {
        if let Ok(ds) = read_csv(data, opts) {
            for input in &inputs {
                let _ = ds.to_batch(input);
            }
        }
    }
    if let Ok(mut stream) = CsvStream::new(data, &options[0]) {
        while let Ok(Some(chunk)) = stream.next_chunk(3) {
            let _ = chunk.to_batch(&inputs[0]);
        }
    }
    // the push parser (the page's streaming reader) must agree with one
    // read, whatever the split: same rows, or an error with the same code
    let outcome =
        |r: Result<privacy_inspector::data::Dataset, privacy_inspector::data::DataError>| match r {
            Ok(d) => Ok((d.feature_names, d.features, d.labels, d.label_column)),
            Err(e) => Err(e.code()),
        };
    for opts in &options {
        let want = outcome(read_csv(data, opts));
        let cut = (data.first().copied().unwrap_or(0) as usize) % (data.len() + 1);
        let portion = 1 + data.last().copied().unwrap_or(0) as usize % 16;
        let mid = ((data.len() + cut) / 2).max(cut);
        let mut p = CsvPushParser::new(opts, data.len() as u64).with_portion(portion);
        let got = p
            .push(&data[..cut])
            .and_then(|_| p.push(&data[cut..mid]))
            .and_then(|_| p.push(&data[mid..]))
            .and_then(|_| p.finish());
        assert_eq!(
            outcome(got),
            want,
            "push parser (cut {cut}, portion {portion}) and read_csv disagree"
        );
    }
}

/// `report::read_json` (parse and validate), then on success the HTML
/// rendering of the report.
pub fn report_reader(data: &[u8]) {
    if let Ok(report) = read_json(data) {
        let _ = html::render(&report, true);
    }
}

/// A small real model for the shape checks (the digits MLP: 64 inputs).
fn settings_model() -> &'static privacy_inspector::onnx::Model {
    static MODEL: std::sync::OnceLock<privacy_inspector::onnx::Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        load(include_bytes!("../tests/fixtures/demo/digits_mlp.onnx")).expect("the demo model")
    })
}

/// Every accepted value lies in its declared range.
fn assert_in_ranges(fields: Vec<(privacy_inspector::settings::Range, Option<u64>)>) {
    for (r, v) in fields {
        if let Some(v) = v {
            assert!(
                (r.min..=r.max).contains(&v),
                "{} = {v} accepted outside {}..={}",
                r.key,
                r.min,
                r.max
            );
        }
    }
}

/// The settings space, in its two forms. The first byte picks the form:
/// - JSON (even): the rest as the JSON of one settings struct (picked by
///   the first byte / 2: audit settings, inversion, attribute, training,
///   DP audit, guidance options) through serde and its `validate`; what is
///   accepted must lie in every declared range (`settings::Ranged`), and an
///   accepted audit is also checked against the demo model
///   (`check_target`: references x parameters).
/// - CLI (odd): the rest as text split at commas and whitespace, as a
///   typed flag value would be: every token through every declared range's
///   parser (`Range::parse`), the whole as an `--input-shape` through
///   `settings::shape_len` (the product compared with the exact u128
///   product) and `ImageLayout::for_model` on the demo model, and as an
///   attack list (`AuditSettings::parse_attacks`).
///
/// No input may panic, abort or allocate in proportion to a typed number.
pub fn settings(data: &[u8]) {
    use privacy_inspector::attacks::attribute::AttributeConfig;
    use privacy_inspector::attacks::dp_audit::DpAuditConfig;
    use privacy_inspector::attacks::inversion::{ImageLayout, InversionConfig};
    use privacy_inspector::attacks::membership::audit::AuditSettings;
    use privacy_inspector::attacks::membership::Target;
    use privacy_inspector::engine::train::TrainConfig;
    use privacy_inspector::guidance::GuidanceOptions;
    use privacy_inspector::settings::{shape_len, Ranged, ALL, SHAPE_VALUES};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if pick % 2 == 0 {
        match (pick / 2) % 6 {
            0 => {
                if let Ok(s) = serde_json::from_str::<AuditSettings>(text) {
                    if let Ok(v) = s.validate() {
                        assert_in_ranges(v.fields());
                        let m = settings_model();
                        let target = Target {
                            graph: &m.graph,
                            params: &m.params,
                            output_kind: m.graph.output_kind,
                            num_classes: 10,
                        };
                        let _ = v.check_target(&target);
                    }
                }
            }
            1 => {
                if let Ok(c) = serde_json::from_str::<InversionConfig>(text) {
                    if c.validate().is_ok() {
                        assert_in_ranges(c.fields());
                    }
                }
            }
            2 => {
                if let Ok(c) = serde_json::from_str::<AttributeConfig>(text) {
                    if c.validate().is_ok() {
                        assert_in_ranges(c.fields());
                    }
                }
            }
            3 => {
                if let Ok(c) = serde_json::from_str::<TrainConfig>(text) {
                    if c.validate().is_ok() {
                        assert_in_ranges(c.fields());
                    }
                }
            }
            4 => {
                if let Ok(c) = serde_json::from_str::<DpAuditConfig>(text) {
                    if c.validate().is_ok() {
                        assert_in_ranges(c.fields());
                    }
                }
            }
            _ => {
                if let Ok(o) = serde_json::from_str::<GuidanceOptions>(text) {
                    if o.validate().is_ok() {
                        assert_in_ranges(o.dp_plan.fields());
                    }
                }
            }
        }
        return;
    }
    let tokens: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .take(64)
        .collect();
    for t in &tokens {
        for r in ALL {
            if let Ok(v) = r.parse(t) {
                assert!((r.min..=r.max).contains(&(v as u64)), "{} = {v}", r.key);
            }
        }
    }
    let dims: Vec<usize> = tokens
        .iter()
        .filter_map(|t| t.parse::<u128>().ok())
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
        .collect();
    let exact = dims
        .iter()
        .try_fold(1u128, |a, &d| a.checked_mul(d as u128));
    match shape_len(&dims) {
        Ok(n) => {
            assert_eq!(Some(n as u128), exact, "{dims:?}");
            assert!(n as u64 <= SHAPE_VALUES.max);
        }
        Err(_) => assert!(
            dims.is_empty()
                || dims.contains(&0)
                || !matches!(exact, Some(e) if e <= SHAPE_VALUES.max as u128)
                || dims.iter().any(|&d| d as u64 > SHAPE_VALUES.max),
            "{dims:?} refused"
        ),
    }
    if let Ok(layout) = ImageLayout::for_model(&settings_model().graph, Some(&dims)) {
        if let Some((c, h, w)) = layout.chw() {
            assert_eq!(c * h * w, 64);
            let _ = layout.index(c - 1, h - 1, w - 1);
        }
    }
    let _ = AuditSettings::parse_attacks(text);
}
