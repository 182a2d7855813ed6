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
