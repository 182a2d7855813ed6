// The wasm worker: owns the one wasm instance and everything it holds (the
// loaded model, the parsed CSV). The page talks to it only through
// bridge.js: {type:'call', id, method, args} in; {type:'progress'|'result'|
// 'error', id, ...} out. The WebAssembly.Module arrives already compiled in
// the first message ({type:'init', module}).

import { initSync, loadModel, parseCsv, version } from './pkg/privacy_inspector.js';

let model = null; // ModelHandle
let modelName = '';
let dataset = null; // DatasetHandle
let poisoned = false;

const PREVIEW_ROWS = 10;
const CHUNK_ROWS = 2048;

function modelInfo() {
  return {
    name: modelName,
    summary: model.summary(),
    numClasses: model.numClasses ?? null,
    recordLen: model.recordLen ?? null,
    outputKind: model.outputKind,
  };
}

function datasetInfo() {
  return {
    rows: dataset.rows,
    features: dataset.features,
    featureNames: dataset.featureNames,
    labelColumn: dataset.labelColumn ?? null,
  };
}

const methods = {
  /** Load a model from its bytes. The previous model stays active on failure. */
  loadModel({ bytes, name }) {
    const next = loadModel(new Uint8Array(bytes));
    if (model) model.free();
    model = next;
    modelName = name || '';
    return modelInfo();
  },

  setOutputKind({ kind }) {
    if (!model) throw Object.assign(new Error('no model is loaded'), { code: 'no_model' });
    model.setOutputKind(kind || undefined);
    return modelInfo();
  },

  /** Parse a CSV. The previous dataset stays active on failure. */
  loadCsv({ bytes, labelColumn }) {
    const next = parseCsv(new Uint8Array(bytes), labelColumn || undefined);
    if (dataset) dataset.free();
    dataset = next;
    return datasetInfo();
  },

  /** Class probabilities for every row of the dataset, in chunks with progress. */
  predict(_args, progress) {
    if (!model) throw Object.assign(new Error('no model is loaded'), { code: 'no_model' });
    if (!dataset) throw Object.assign(new Error('no CSV is loaded'), { code: 'no_data' });
    const rows = dataset.rows;
    const parts = [];
    let classes = 0;
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS);
      const p = model.predictDataset(dataset, start, end);
      if (end > start) classes = p.length / (end - start);
      parts.push(p);
      progress({ done: end, total: rows, label: 'Predicting' });
    }
    const probs = new Float32Array(rows * classes);
    let off = 0;
    for (const p of parts) {
      probs.set(p, off);
      off += p.length;
    }
    const labels = dataset.labels() ?? null;
    // argmax per row, counts per class, accuracy when labelled
    const predicted = new Uint32Array(rows);
    const counts = new Array(classes).fill(0);
    let correct = 0;
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (probs[r * classes + c] > probs[r * classes + best]) best = c;
      }
      predicted[r] = best;
      counts[best] += 1;
      if (labels && labels[r] === best) correct += 1;
    }
    const preview = Math.min(rows, PREVIEW_ROWS);
    return {
      rows,
      classes,
      counts,
      accuracy: labels && rows > 0 ? correct / rows : null,
      previewProbs: probs.slice(0, preview * classes),
      previewLabels: labels ? labels.slice(0, preview) : null,
      previewPredicted: predicted.slice(0, preview),
    };
  },
};

function errorInfo(e) {
  if (e instanceof Error) {
    return { code: e.code || (e instanceof WebAssembly.RuntimeError ? 'internal_panic' : 'internal'), message: e.message };
  }
  return { code: 'internal', message: String(e) };
}

self.onmessage = (ev) => {
  const msg = ev.data;
  if (msg.type === 'init') {
    try {
      initSync({ module: msg.module });
      self.postMessage({ type: 'ready', version: version() });
    } catch (e) {
      self.postMessage({ type: 'init-error', error: errorInfo(e) });
    }
    return;
  }
  if (msg.type !== 'call') return;
  const { id, method, args } = msg;
  if (poisoned) {
    self.postMessage({ type: 'error', id, error: { code: 'internal_panic', message: 'the engine crashed earlier; restarting' }, poisoned: true });
    return;
  }
  const fn = methods[method];
  if (!fn) {
    self.postMessage({ type: 'error', id, error: { code: 'bad_method', message: `unknown method '${method}'` } });
    return;
  }
  try {
    const result = fn(args || {}, (progress) => self.postMessage({ type: 'progress', id, progress }));
    const transfer = [];
    if (result && typeof result === 'object') {
      for (const v of Object.values(result)) {
        if (ArrayBuffer.isView(v)) transfer.push(v.buffer);
      }
    }
    self.postMessage({ type: 'result', id, result }, transfer);
  } catch (e) {
    // A trap (Rust panic, out of memory) leaves the instance unusable.
    if (e instanceof WebAssembly.RuntimeError) poisoned = true;
    self.postMessage({ type: 'error', id, error: errorInfo(e), poisoned });
  }
};
