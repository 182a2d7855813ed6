//! Native benchmark: inference throughput and one training epoch per model,
//! on the same synthetic workload the browser bench uses
//! (`engine::bench_data`). Prints one JSON object per model on stdout, which
//! `scripts/bench.sh` sets beside the browser figures.
//!
//! Usage: bench [--rows N] [--repeat R] MODEL.onnx...

use privacy_inspector::engine::bench_data::synthetic_batch;
use privacy_inspector::engine::train::{init_params, train, Optimizer, TrainConfig};
use privacy_inspector::onnx::load;
use privacy_inspector::summary::num_classes;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn run(path: &str, rows: usize, repeat: usize) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let model = load(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let classes = num_classes(&model).unwrap_or(2);
    let (x, y) = synthetic_batch(&model.graph, rows, classes, 1).map_err(|e| e.to_string())?;
    let batch = 1000;
    let mut times = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let mut start = 0;
        while start < rows {
            let end = (start + batch).min(rows);
            let xb = x
                .slice_axis(ndarray::Axis(0), (start..end).into())
                .to_owned();
            let out = model
                .graph
                .forward(&model.params, &xb)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(out);
            start = end;
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let infer = median(times);
    let mut times = Vec::new();
    for r in 0..repeat {
        let mut params = init_params(&model.graph, &model.params, r as u64);
        let cfg = TrainConfig {
            optimizer: Optimizer::adam(1e-3),
            epochs: 1,
            batch_size: 128,
            l2: 0.0,
            target_accuracy: None,
            target_loss: None,
            seed: r as u64,
            dp: None,
            plateau: None,
        };
        let t = Instant::now();
        train(&model.graph, &mut params, &x, &y, &cfg, &mut |_| true).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64());
    }
    let epoch = median(times);
    Ok(format!(
        "{{\"model\":\"{}\",\"rows\":{rows},\"inference_records_per_s\":{:.0},\"inference_ms\":{:.2},\"train_epoch_ms\":{:.2}}}",
        path.rsplit('/').next().unwrap_or(path),
        rows as f64 / infer,
        infer * 1e3,
        epoch * 1e3
    ))
}

fn main() {
    let mut rows = 10_000;
    let mut repeat = 5;
    let mut models = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).unwrap_or(rows),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(repeat),
            _ => models.push(a),
        }
    }
    if models.is_empty() {
        eprintln!("usage: bench [--rows N] [--repeat R] MODEL.onnx...");
        std::process::exit(2);
    }
    let mut failed = false;
    for m in &models {
        match run(m, rows, repeat.max(1)) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
