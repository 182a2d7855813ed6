// Browser side of scripts/bench.sh: times inference and one training epoch
// in the release wasm, on the same synthetic workload as the native `bench`
// binary (engine::bench_data). Runs on the main thread of a page nobody
// interacts with, so the figures are the engine's own speed.
import init, { ModelHandle, parseCsv, runAudit, runInversion } from './pkg/privacy_inspector.js';

const ready = init();
const out = document.getElementById('out');

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * @param {Uint8Array} bytes model file
 * @param {string} name label for the output
 * @param {number} rows records (10,000 by default)
 * @param {number} repeat repetitions (median reported)
 */
window.runBench = async (bytes, name, rows = 10000, repeat = 5) => {
  await ready;
  const model = new ModelHandle(bytes);
  const { data, labels } = model.syntheticBatch(rows, 1n);
  const per = model.recordLen;
  const batch = 1000;
  const infer = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    for (let start = 0; start < rows; start += batch) {
      const end = Math.min(start + batch, rows);
      model.forwardRaw(data.subarray(start * per, end * per), end - start);
    }
    infer.push(performance.now() - t0);
  }
  const epoch = [];
  for (let r = 0; r < repeat; r++) {
    const cfg = { optimizer: { kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, epochs: 1, batchSize: 128, l2: 0, seed: r };
    const t0 = performance.now();
    model.trainCopy(data, labels, rows, cfg, BigInt(r));
    epoch.push(performance.now() - t0);
  }
  model.free();
  const ms = median(infer);
  const result = {
    model: name,
    rows,
    inference_records_per_s: Math.round(rows / (ms / 1000)),
    inference_ms: +ms.toFixed(2),
    train_epoch_ms: +median(epoch).toFixed(2),
  };
  document.getElementById('out').textContent += '\n' + JSON.stringify(result);
  return result;
};

/**
 * A full membership audit in the release wasm (the same `runAudit` the page
 * calls), timed end to end from the CSV bytes. Returns the time and each
 * attack's AUC (to check it matches the native run).
 */
window.runAuditBench = async (modelBytes, membersCsv, nonmembersCsv, populationCsv, settings) => {
  await ready;
  const t0 = performance.now();
  const model = new ModelHandle(modelBytes);
  const m = parseCsv(membersCsv, 'label');
  const n = parseCsv(nonmembersCsv, 'label');
  const p = populationCsv ? parseCsv(populationCsv, 'label') : undefined;
  const audit = runAudit(model, m, n, p, settings, null, () => true);
  const ms = performance.now() - t0;
  const result = { audit_ms: +ms.toFixed(1), attacks: audit.report.attacks.map((a) => [a.id, a.auc ?? null]) };
  out.textContent += '\n' + JSON.stringify(result);
  return result;
};

/**
 * Model inversion of every class in the release wasm (the `runInversion`
 * the page calls), timed end to end; `settings` is an InversionConfig.
 */
window.runInversionBench = async (modelBytes, membersCsv, settings, inputShape) => {
  await ready;
  const model = new ModelHandle(modelBytes);
  const members = parseCsv(membersCsv, 'label');
  const t0 = performance.now();
  const res = runInversion(model, new Uint32Array(0), settings, inputShape, undefined, members, undefined, () => true);
  const ms = performance.now() - t0;
  const inv = res.report.inversion;
  const result = {
    mode: inv.mode,
    classes: inv.classes.length,
    total_ms: +ms.toFixed(1),
    per_class_ms: +(ms / inv.classes.length).toFixed(1),
    recognised_fraction: inv.recognised_fraction,
    queries: inv.classes.reduce((s, c) => s + c.queries, 0),
  };
  out.textContent += '\n' + JSON.stringify(result);
  return result;
};
