// The page: wires the inputs to the wasm worker (through bridge.js) and
// renders what comes back. No wasm runs on this thread: it only compiles
// the module once and hands it to the worker.

import { WorkerBridge, InspectorError } from './bridge.js';

const DEMOS = {
  digits: { model: 'demo/digits_mlp.onnx', csv: 'demo/digits_sample.csv', label: 'Digits MLP (8x8 images, 10 classes)' },
};
const WASM_URL = new URL('pkg/privacy_inspector_bg.wasm', import.meta.url);
const WORKER_URL = new URL('worker.js', import.meta.url);

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const el = {
  engine: $('engine-status'),
  version: $('version'),
  modelInput: $('model-input'),
  dropzone: $('model-dropzone'),
  demoButton: $('demo-button'),
  modelName: $('model-name'),
  modelError: $('model-error'),
  summary: $('model-summary'),
  kindSelect: $('kind-select'),
  dataInput: $('data-input'),
  labelColumn: $('label-column'),
  dataError: $('data-error'),
  dataSummary: $('data-summary'),
  dataCounts: $('data-counts'),
  dataAccuracy: $('data-accuracy'),
  table: $('prediction-table'),
  note: $('prediction-note'),
  progress: $('progress'),
  progressBar: document.getElementById('progress-bar'),
  progressLabel: document.getElementById('progress-label'),
  cancel: $('cancel-button'),
};

/** What the worker holds, kept here too so a respawned worker can be restored. */
const state = {
  model: null, // {name, bytes: ArrayBuffer, info}
  kind: '',
  data: null, // {name, bytes: ArrayBuffer, labelColumn, info}
};

let bridge = null;

// ---------- rendering helpers ----------

function setText(testid, text) {
  const node = $(testid);
  if (node) node.textContent = text;
}

function fmtInt(n) {
  return n == null ? 'unknown' : Number(n).toLocaleString('en-US');
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

function showError(box, err, context) {
  box.replaceChildren();
  const code = document.createElement('code');
  code.className = 'code';
  code.dataset.testid = box.dataset.testid + '-code';
  code.textContent = err.code || 'error';
  const msg = document.createElement('span');
  msg.dataset.testid = box.dataset.testid + '-message';
  msg.textContent = `${context}: ${err.message}`;
  box.append(code, ' ', msg);
  box.hidden = false;
}

function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

function renderSummary(info) {
  const s = info.summary;
  setText('summary-input-name', s.input.name);
  setText('summary-input-shape', `[${s.input.shape.join(', ')}]`);
  setText('summary-features', s.input.features == null ? 'not fixed' : fmtInt(s.input.features));
  setText('summary-output-name', s.output.name);
  setText('summary-output-kind', s.output.kind);
  setText('summary-kind-source', `(${s.output.kindSource})`);
  setText('summary-num-classes', s.output.numClasses == null ? 'unknown' : String(s.output.numClasses));
  setText('summary-params', `${fmtInt(s.paramCount)} (${fmtInt(s.trainableParamCount)} trainable)`);
  setText('summary-trainable', s.trainable ? 'yes' : `no: ${s.trainableReason || 'unsupported'}`);
  setText('summary-producer', s.producer || 'unknown');
  setText('summary-format', `ONNX IR ${s.irVersion}, opset ${s.opset}, ${fmtBytes(s.fileSize)}`);
  setText('summary-sha256', s.sha256);
  const ops = $('summary-ops');
  ops.replaceChildren(
    ...s.operators.map(({ op, count }) => {
      const li = document.createElement('li');
      const name = document.createElement('code');
      name.textContent = op;
      li.append(name, ` \u00d7 ${count}`);
      return li;
    }),
  );
  el.kindSelect.value = s.output.kindSource === 'override' ? s.output.kind : '';
  el.summary.hidden = false;
  el.modelName.textContent = info.name ? `Loaded: ${info.name}` : '';
}

function renderData() {
  const d = state.data;
  if (!d) return;
  const info = d.info;
  const label = info.labelColumn ? `, label column "${info.labelColumn}"` : ', no label column';
  el.dataCounts.textContent = `${d.name}: ${fmtInt(info.rows)} rows \u00d7 ${fmtInt(info.features)} features${label}`;
  el.dataSummary.hidden = false;
}

function renderPredictions(p) {
  const head = el.table.tHead;
  const body = el.table.tBodies[0];
  const tr = document.createElement('tr');
  const cols = ['Row', ...(p.previewLabels ? ['Label'] : []), 'Predicted', ...Array.from({ length: p.classes }, (_, c) => `P(${c})`)];
  for (const c of cols) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = c;
    tr.append(th);
  }
  head.replaceChildren(tr);
  const rows = [];
  const n = p.previewPredicted.length;
  for (let r = 0; r < n; r++) {
    const row = document.createElement('tr');
    const cells = [String(r + 1)];
    if (p.previewLabels) cells.push(String(p.previewLabels[r]));
    cells.push(String(p.previewPredicted[r]));
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      row.append(td);
    }
    for (let c = 0; c < p.classes; c++) {
      const td = document.createElement('td');
      td.className = 'num' + (c === p.previewPredicted[r] ? ' best' : '');
      const prob = p.previewProbs[r * p.classes + c];
      td.textContent = prob.toFixed(2);
      td.title = String(prob);
      td.dataset.p = String(prob);
      row.append(td);
    }
    rows.push(row);
  }
  body.replaceChildren(...rows);
  el.table.hidden = false;
  if (p.accuracy != null) {
    el.dataAccuracy.textContent = `Accuracy against the label column: ${(100 * p.accuracy).toFixed(1)}% (${p.rows} rows)`;
    el.dataAccuracy.hidden = false;
  } else {
    el.dataAccuracy.hidden = true;
  }
  el.note.textContent = `Predicted classes over all ${fmtInt(p.rows)} rows: ${p.counts.map((k, c) => `${c}: ${k}`).join(', ')}`;
}

function clearPredictions() {
  el.table.hidden = true;
  el.dataAccuracy.hidden = true;
  el.note.textContent = state.model ? '' : 'Load a model to see its predictions for these rows.';
}

// ---------- progress / busy ----------

let busyCount = 0;
function busy(label) {
  busyCount += 1;
  el.progressLabel.textContent = `${label}\u2026`;
  el.progressBar.removeAttribute('value');
  el.progress.hidden = false;
  document.body.setAttribute('aria-busy', 'true');
  return () => {
    busyCount -= 1;
    if (busyCount === 0) {
      el.progress.hidden = true;
      document.body.removeAttribute('aria-busy');
    }
  };
}

function onProgress({ done, total, label }) {
  if (total > 0) el.progressBar.value = done / total;
  if (label) el.progressLabel.textContent = `${label} (${fmtInt(done)} / ${fmtInt(total)})\u2026`;
}

// ---------- actions ----------

async function loadModelBytes(name, bytes) {
  const done = busy(`Loading ${name}`);
  try {
    // a copy goes to the worker; we keep the original to restore a respawned worker
    const info = await bridge.call('loadModel', { bytes: bytes.slice(0), name });
    state.model = { name, bytes, info };
    state.kind = '';
    clearError(el.modelError);
    renderSummary(info);
    await predictIfReady();
  } catch (err) {
    if (err.code === 'aborted') return;
    const kept = state.model ? ` (still using ${state.model.name})` : '';
    showError(el.modelError, err, `${name} could not be loaded${kept}`);
  } finally {
    done();
  }
}

async function loadCsvBytes(name, bytes) {
  // "label" (the default) is optional: used when the header has it; any
  // other name must exist
  const typed = el.labelColumn.value.trim();
  const labelColumn = typed === 'label' ? '' : typed;
  const done = busy(`Reading ${name}`);
  try {
    const info = await bridge.call('loadCsv', { bytes: bytes.slice(0), labelColumn });
    state.data = { name, bytes, labelColumn, info };
    clearError(el.dataError);
    renderData();
    clearPredictions();
    await predictIfReady();
  } catch (err) {
    if (err.code === 'aborted') return;
    const kept = state.data ? ` (still using ${state.data.name})` : '';
    showError(el.dataError, err, `${name} could not be read${kept}`);
  } finally {
    done();
  }
}

async function predictIfReady() {
  if (!state.model || !state.data) {
    clearPredictions();
    return;
  }
  const done = busy('Predicting');
  try {
    const p = await bridge.call('predict', {}, { onProgress });
    clearError(el.dataError);
    renderPredictions(p);
  } catch (err) {
    if (err.code === 'aborted') return;
    clearPredictions();
    showError(el.dataError, err, `Predictions for ${state.data.name} failed`);
  } finally {
    done();
  }
}

async function fetchBytes(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new InspectorError('fetch_failed', `${url}: HTTP ${resp.status}`);
  return resp.arrayBuffer();
}

async function loadDemo(key) {
  const demo = DEMOS[key];
  if (!demo) {
    showError(el.modelError, new InspectorError('unknown_demo', `there is no demo named "${key}" (available: ${Object.keys(DEMOS).join(', ')})`), 'Demo');
    return;
  }
  try {
    const name = demo.model.split('/').pop();
    await loadModelBytes(name, await fetchBytes(demo.model));
    if (demo.csv) await loadCsvBytes(demo.csv.split('/').pop(), await fetchBytes(demo.csv));
  } catch (err) {
    showError(el.modelError, err, 'The demo could not be loaded');
  }
}

/** A respawned worker (after Cancel or a crash) has lost its state: restore it. */
async function restoreWorker() {
  try {
    if (state.model) {
      await bridge.call('loadModel', { bytes: state.model.bytes.slice(0), name: state.model.name });
      if (state.kind) await bridge.call('setOutputKind', { kind: state.kind });
    }
    if (state.data) {
      await bridge.call('loadCsv', { bytes: state.data.bytes.slice(0), labelColumn: state.data.labelColumn });
    }
  } catch (err) {
    if (err.code !== 'aborted') showError(el.modelError, err, 'The engine restarted but could not restore the model');
  }
}

// ---------- wiring ----------

function setupInputs() {
  el.modelInput.addEventListener('change', async () => {
    const file = el.modelInput.files && el.modelInput.files[0];
    if (!file) return;
    await loadModelBytes(file.name, await file.arrayBuffer());
    el.modelInput.value = '';
  });
  el.dataInput.addEventListener('change', async () => {
    const file = el.dataInput.files && el.dataInput.files[0];
    if (!file) return;
    await loadCsvBytes(file.name, await file.arrayBuffer());
  });
  el.labelColumn.addEventListener('change', async () => {
    if (state.data) await loadCsvBytes(state.data.name, state.data.bytes);
  });
  el.kindSelect.addEventListener('change', async () => {
    if (!state.model) return;
    const done = busy('Updating');
    try {
      const info = await bridge.call('setOutputKind', { kind: el.kindSelect.value });
      state.kind = el.kindSelect.value;
      state.model.info = info;
      renderSummary(info);
      await predictIfReady();
    } catch (err) {
      if (err.code !== 'aborted') showError(el.modelError, err, 'Could not change the output kind');
    } finally {
      done();
    }
  });
  el.demoButton.addEventListener('click', () => loadDemo('digits'));
  el.cancel.addEventListener('click', () => bridge.abort());

  // drag and drop onto the drop zone; elsewhere a dropped file must not navigate away
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (ev) => ev.preventDefault());
  }
  el.dropzone.addEventListener('dragenter', () => el.dropzone.classList.add('over'));
  el.dropzone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    el.dropzone.classList.add('over');
  });
  el.dropzone.addEventListener('dragleave', () => el.dropzone.classList.remove('over'));
  el.dropzone.addEventListener('drop', async (ev) => {
    ev.preventDefault();
    el.dropzone.classList.remove('over');
    const file = ev.dataTransfer && ev.dataTransfer.files[0];
    if (file) await loadModelBytes(file.name, await file.arrayBuffer());
  });
}

async function start() {
  setupInputs();
  clearPredictions();
  let module;
  try {
    module = await WebAssembly.compileStreaming(fetch(WASM_URL));
    bridge = new WorkerBridge(WORKER_URL, module, { onRespawn: restoreWorker });
    const version = await bridge.ready;
    el.version.textContent = version;
    el.engine.textContent = 'Engine ready (WebAssembly, in a worker).';
    el.engine.dataset.state = 'ready';
  } catch (err) {
    el.engine.textContent = `The engine could not start: ${err.message}. The page needs a browser with WebAssembly SIMD and module workers (Chrome/Edge 91+, Firefox 114+, Safari 16.4+).`;
    el.engine.dataset.state = 'failed';
    for (const input of [el.modelInput, el.dataInput, el.demoButton]) input.disabled = true;
    return;
  }
  const demo = new URLSearchParams(location.search).get('demo');
  if (demo) await loadDemo(demo);
  document.body.dataset.ready = 'true';
}

start();
