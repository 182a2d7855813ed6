// The page: wires the inputs to the wasm worker (through bridge.js) and
// renders what comes back. No wasm runs on this thread: it only compiles
// the module once and hands it to the worker. The page keeps the model's
// bytes and every CSV as its File (or Blob: a demo's, a split's), so a
// worker respawned by Cancel, or a helper, gets them back; a CSV is never
// read whole here: workers stream it into the parser.

import { WorkerBridge, InspectorError } from './bridge.js';
import { ReferencePool } from './pool.js';
import { fileKind, guessLabelColumn, guessRole, membershipColumn, predictionColumns, SNIFF_BYTES, sniffCsv, splitByMembership } from './inputs.js';

/** Attack ids in report order (src/attacks/membership/audit.rs ALL_ATTACKS). */
const ALL_ATTACKS = [
  'loss', 'confidence', 'entropy', 'modified_entropy', 'risk_score', 'gap', 'noise_robustness',
  'boundary_distance', 'boundary_distance_gradient', 'shokri', 'qmia', 'lira_online', 'lira_offline', 'rmia_online', 'rmia_offline',
];
/** The Quick preset: attacks that train no reference models (QUICK_ATTACKS). */
const QUICK_ATTACKS = ['loss', 'confidence', 'entropy', 'modified_entropy', 'risk_score', 'gap', 'noise_robustness'];
const ATTACK_LABELS = {
  loss: 'Loss threshold',
  confidence: 'Confidence threshold',
  entropy: 'Entropy threshold',
  modified_entropy: 'Modified entropy',
  risk_score: 'Risk score',
  gap: 'Gap (label only)',
  noise_robustness: 'Noise robustness (label only)',
  boundary_distance: 'Boundary distance (label only, queries)',
  boundary_distance_gradient: 'Boundary distance (white-box gradients)',
  shokri: 'Shokri shadow models',
  qmia: 'QMIA (quantile regression)',
  lira_online: 'LiRA online',
  lira_offline: 'LiRA offline',
  rmia_online: 'RMIA online',
  rmia_offline: 'RMIA offline',
};
/** Attacks whose reference models the "Reference models" count sets. */
const REFERENCE_ATTACKS = ['lira_online', 'lira_offline', 'rmia_online', 'rmia_offline'];
const AUDIT_ROLES = ['members', 'nonmembers', 'population'];
const ROLE_TITLES = { members: 'Members', nonmembers: 'Non-members', population: 'Population' };

/** The bundled demos (demo/demos.json, written by tests/fixtures/demo/gen_demos.py). */
const DEMO_INDEX = 'demo/demos.json';
let demos = null;
const WASM_URL = new URL('pkg/privacy_inspector_bg.wasm', import.meta.url);
/** ?test-hooks: the end-to-end tests may ask a worker call to panic on purpose (window.__inspectorTest). */
const TEST_HOOKS = new URLSearchParams(location.search).has('test-hooks');
const WORKER_URL = new URL('worker.js', import.meta.url);

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const el = {
  engine: $('engine-status'),
  version: $('version'),
  modelInput: $('model-input'),
  dropzone: $('model-dropzone'),
  demoButton: $('demo-button'),
  demoSelect: $('demo-select'),
  demoDescription: $('demo-description'),
  modelName: $('model-name'),
  modelError: $('model-error'),
  summary: $('model-summary'),
  kindSelect: $('kind-select'),
  scanPanel: $('scan-panel'),
  scanResults: $('scan-results'),
  stripDownload: $('strip-download'),
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
  audit: {
    inputs: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-input`)])),
    counts: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-counts`)])),
    errors: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-error`)])),
    extras: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-extra`)])),
    membershipInput: $('membership-input'),
    membershipNote: $('membership-note'),
    membershipError: $('membership-error'),
    workers: $('audit-workers'),
    eta: $('audit-eta'),
    includeTraining: $('include-training-data'),
    claimedEpsilon: $('claimed-epsilon'),
    guidanceOptions: $('guidance-options'),
    populationClear: $('population-clear'),
    preset: $('audit-preset'),
    references: $('audit-references'),
    seed: $('audit-seed'),
    delta: $('audit-delta'),
    predictionsKind: $('predictions-kind'),
    predictionsKindField: $('predictions-kind-field'),
    predictionsNote: $('predictions-note'),
    attackList: $('audit-attacks'),
    checks: document.getElementById('attack-checks'),
    settingsError: $('audit-settings-error'),
    run: $('audit-run'),
    readyNote: $('audit-ready-note'),
    progress: $('audit-progress'),
    progressText: $('audit-progress-text'),
    progressBar: document.getElementById('audit-progress-bar'),
    cancel: $('audit-cancel'),
    error: $('audit-error'),
    resultsPanel: $('audit-results-panel'),
    results: $('audit-results'),
    downloadJson: $('download-json'),
    downloadHtml: $('download-html'),
    downloadRecords: $('download-records-csv'),
    timing: $('audit-timing'),
    record: $('record-dialog'),
    recordBody: $('record-body'),
    recordTitle: $('record-title'),
  },
  inv: {
    cls: $('inv-class'),
    mode: $('inv-mode'),
    steps: $('inv-steps'),
    gamma: $('inv-gamma'),
    start: $('inv-start'),
    budget: $('inv-budget'),
    shape: $('inv-shape'),
    settingsError: $('inv-settings-error'),
    run: $('inv-run'),
    readyNote: $('inv-ready-note'),
    progress: $('inv-progress'),
    progressText: $('inv-progress-text'),
    progressBar: document.getElementById('inv-progress-bar'),
    cancel: $('inv-cancel'),
    error: $('inv-error'),
    resultsPanel: $('inv-results-panel'),
    results: $('inv-results'),
    downloadJson: $('inv-download-json'),
    downloadHtml: $('inv-download-html'),
  },
  limits: {
    json: $('limits-json'),
    apply: $('limits-apply'),
    reset: $('limits-reset'),
    status: $('limits-status'),
    error: $('limits-error'),
  },
  attr: {
    column: $('attr-column'),
    bins: $('attr-bins'),
    autoBins: $('attr-auto-bins'),
    run: $('attr-run'),
    readyNote: $('attr-ready-note'),
    progress: $('attr-progress'),
    progressText: $('attr-progress-text'),
    progressBar: document.getElementById('attr-progress-bar'),
    cancel: $('attr-cancel'),
    error: $('attr-error'),
    resultsPanel: $('attr-results-panel'),
    results: $('attr-results'),
    downloadJson: $('attr-download-json'),
    downloadHtml: $('attr-download-html'),
  },
};

/** What the worker holds, kept here too so a respawned worker can be restored. */
const state = {
  model: null, // {name, bytes: ArrayBuffer, info}
  kind: '',
  data: null, // {name, file: Blob, labelColumn, info}
  /** role -> {name, file: Blob, labelColumn, info, error} for the audit CSVs */
  audit: { members: null, nonmembers: null, population: null },
  auditRunning: false,
  invRunning: false,
  attrRunning: false,
  /**
   * The resource limits applied in the Limits section (JSON text as the
   * workers returned it), or null for the defaults. restoreInto sets them in
   * a respawned worker or a pool helper before anything loads.
   */
  limits: null,
  /** the Blob URLs of the last report's downloads (revoked when replaced) */
  reportUrls: [],
  invUrls: [],
  attrUrls: [],
};

/** Any of the worker's long jobs (audit, inversion, attribute inference) in flight. */
function probeRunning() {
  return state.auditRunning || state.invRunning || state.attrRunning || state.teachRunning;
}

/** Refresh every section's Run button and note. */
function updateReady() {
  updateAuditReady();
}

let bridge = null;

/** A copy of `bytes` for a worker call, moved (transferred) rather than cloned a second time. */
function moved(bytes) {
  const copy = bytes.slice(0);
  return { copy, transfer: [copy] };
}
/** Helper workers for reference models (pool.js), made once the engine is up. */
let pool = null;
/** Stop every worker's job: the page's worker and the pool's helpers. */
function abortAll() {
  if (pool) pool.abort();
  bridge.abort();
}

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
  if (err.code === 'internal_panic' || err.code === 'internal' || err.code === 'worker_error') box.append(diagnostic(box, err, context));
  box.hidden = false;
}

/** An internal error: what happened, with a diagnostic to copy into a bug report (no data, no file contents). */
function diagnostic(box, err, context) {
  const wrap = document.createElement('div');
  wrap.className = 'diagnostic';
  const note = document.createElement('p');
  note.textContent = 'This is a fault of the inspector, not of your files. The engine was restarted; your model, CSVs and settings are kept, so you can run again. Please report it with the diagnostic below.';
  const text = JSON.stringify({
    tool: `privacy-inspector ${el.version.textContent}`,
    browser: navigator.userAgent,
    context,
    code: err.code,
    message: err.message,
    detail: err.diagnostic || null,
    model_sha256: state.model && state.model.info ? state.model.info.summary.sha256 : null,
    inputs: Object.fromEntries(AUDIT_ROLES.map((r) => [r, state.audit[r] ? { rows: state.audit[r].info && state.audit[r].info.rows } : null])),
  }, null, 2);
  const area = document.createElement('textarea');
  area.readOnly = true;
  area.rows = 6;
  area.value = text;
  area.dataset.testid = box.dataset.testid + '-diagnostic';
  area.setAttribute('aria-label', 'Diagnostic for a bug report');
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'small';
  copy.textContent = 'Copy diagnostic';
  copy.addEventListener('click', async () => {
    area.select();
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = 'Copied';
    } catch (_) {
      copy.textContent = 'Selected: press Ctrl+C';
    }
  });
  wrap.append(note, area, copy);
  return wrap;
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

/** Show a model-file scan (its html fragment from the core) and offer the stripped copy. */
/** Guidance options for the scan: the form's, or the defaults when the form does not parse. */
function scanGuidance() {
  try {
    return guidanceOptions();
  } catch (_) {
    return {};
  }
}

async function showScan(name, bytes, out) {
  insertFragment(el.scanResults, (out.guidanceHtml || '') + out.html);
  el.scanPanel.hidden = false;
  el.scanPanel.dataset.file = name;
  const flagged = out.scan.metadata && out.scan.metadata.length > 0;
  // the cleaned copy depends on the file alone: a re-scan against new CSVs keeps it
  if (state.strip && state.strip.bytes === bytes && flagged) return;
  if (state.strip) URL.revokeObjectURL(state.strip.url);
  state.strip = null;
  el.stripDownload.hidden = true;
  if (flagged) {
    try {
      const clean = await bridge.call('stripMetadata', { bytes: bytes.slice(0) });
      state.strip = { bytes, url: URL.createObjectURL(new Blob([clean.bytes], { type: 'application/octet-stream' })) };
      el.stripDownload.href = state.strip.url;
      el.stripDownload.download = name.replace(/\.onnx$/i, '') + '.clean.onnx';
      el.stripDownload.hidden = false;
    } catch (err) {
      if (err.code !== 'aborted') showError(el.modelError, err, 'The metadata could not be stripped');
    }
  }
}

/** Scan the loaded model against the loaded audit CSVs (after any of them changes). */
async function rescan() {
  const file = state.scanFile;
  if (!file) return;
  try {
    await showScan(file.name, file.bytes, await bridge.call('scan', { bytes: file.bytes.slice(0), guidance: scanGuidance() }));
  } catch (err) {
    if (err.code !== 'aborted') showError(el.modelError, err, 'The model-file scan failed');
  }
}

async function loadModelBytes(name, bytes) {
  const done = busy(`Loading ${name}`);
  // the file scan needs no engine: it runs even on models the engine cannot load
  try {
    state.scanFile = { name, bytes };
    await showScan(name, bytes, await bridge.call(AUDIT_ROLES.some((r) => state.audit[r]) ? 'scan' : 'scanBytes', { bytes: bytes.slice(0), guidance: scanGuidance() }));
  } catch (err) {
    if (err.code === 'aborted') {
      done();
      return;
    }
    el.scanPanel.hidden = true;
  }
  try {
    // a copy goes to the worker; we keep the original to restore a respawned worker
    const info = await bridge.call('loadModel', { bytes: bytes.slice(0), name });
    state.model = { name, bytes, info };
    state.kind = '';
    if (pool) pool.invalidate();
    clearError(el.modelError);
    renderSummary(info);
    modelChangedForProbes(info);
    await refreshAuditStatus();
    await predictIfReady();
  } catch (err) {
    if (err.code === 'aborted') return;
    const kept = state.model ? ` (still using ${state.model.name})` : '';
    showError(el.modelError, err, `${name} could not be loaded${kept}`);
  } finally {
    done();
    updateAuditReady();
  }
}

/** The first bytes of a CSV, enough for the guesses (header, first rows). */
async function csvHead(file) {
  return file.slice(0, SNIFF_BYTES).arrayBuffer();
}

async function loadCsvFile(name, file) {
  // "label" (the default) is optional: used when the header has it; any
  // other name must exist
  const typed = el.labelColumn.value.trim();
  const labelColumn = typed === 'label' ? '' : typed;
  const done = busy(`Reading ${name}`);
  try {
    const info = await bridge.call('loadCsv', { file, labelColumn }, { onProgress });
    state.data = { name, file, labelColumn, info };
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
    state.lastPrediction = p;
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

async function fetchOk(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new InspectorError('fetch_failed', `${url}: HTTP ${resp.status}`);
  return resp;
}

async function fetchBytes(url) {
  return (await fetchOk(url)).arrayBuffer();
}

/** A bundled CSV as a Blob (workers stream it like a dropped file). */
async function fetchCsv(url) {
  return (await fetchOk(url)).blob();
}

async function demoIndex() {
  if (!demos) demos = JSON.parse(new TextDecoder().decode(await fetchBytes(DEMO_INDEX)));
  return demos;
}

async function fillDemos() {
  try {
    const index = await demoIndex();
    el.demoSelect.replaceChildren(...Object.entries(index).map(([key, d]) => new Option(d.title, key)));
    showDemoDescription();
  } catch (err) {
    showError(el.modelError, err, 'The bundled demos are not available');
  }
}

function showDemoDescription() {
  const d = demos && demos[el.demoSelect.value];
  el.demoDescription.textContent = d ? d.description : '';
}

/** Load a bundled demo: the model, its three audit CSVs (and the non-members into section 5). */
async function loadDemo(key) {
  let index;
  try {
    index = await demoIndex();
  } catch (err) {
    showError(el.modelError, err, 'The demo could not be loaded');
    return;
  }
  const demo = index[key];
  if (!demo) {
    showError(el.modelError, new InspectorError('unknown_demo', `there is no demo named "${key}" (available: ${Object.keys(index).join(', ')})`), 'Demo');
    return;
  }
  el.demoSelect.value = key;
  showDemoDescription();
  try {
    await loadModelBytes(demo.model, await fetchBytes(`demo/${demo.model}`));
    for (const role of AUDIT_ROLES) {
      if (demo[role]) await loadAuditCsv(role, demo[role], await fetchCsv(`demo/${demo[role]}`), { why: 'bundled demo' });
    }
    if (demo.image_shape) el.inv.shape.value = demo.image_shape.join(',');
    await loadCsvFile(demo.nonmembers, await fetchCsv(`demo/${demo.nonmembers}`));
  } catch (err) {
    showError(el.modelError, err, 'The demo could not be loaded');
  }
}

/** Settles when the last restore of a respawned worker has finished. */
let restoring = Promise.resolve();

/** A respawned worker (after Cancel or a crash) has lost its state: restore it. */
function restoreWorker() {
  restoring = restoreState();
  return restoring;
}

async function restoreState() {
  try {
    await restoreInto(bridge, true);
  } catch (err) {
    if (err.code !== 'aborted') showError(el.modelError, err, 'The engine restarted but could not restore the model and the CSVs');
  }
}

/** Load the page's model, output kind and CSVs into a worker (a respawned one, or a pool helper). */
async function restoreInto(b, withPredictionCsv = false) {
  // the limits first: the files below load under them, as in this worker
  if (state.limits) await b.call('setLimits', { json: state.limits });
  if (state.model) {
    const m = moved(state.model.bytes);
    await b.call('loadModel', { bytes: m.copy, name: state.model.name }, { transfer: m.transfer });
    if (state.kind) await b.call('setOutputKind', { kind: state.kind });
  }
  if (withPredictionCsv && state.data) {
    await b.call('loadCsv', { file: state.data.file, labelColumn: state.data.labelColumn });
  }
  for (const role of AUDIT_ROLES) {
    const a = state.audit[role];
    if (!a) continue;
    await b.call('loadAuditCsv', { role, file: a.file, labelColumn: a.labelColumn });
  }
}

// ---------- membership audit ----------

function fmtCounts(info) {
  return `${fmtInt(info.rows)} rows \u00d7 ${fmtInt(info.features)} features, label column "${info.labelColumn}"`;
}

/** Show what the worker reports for every audit CSV: counts, or the problem with the model. */
function applyAuditStatus(status) {
  for (const role of AUDIT_ROLES) {
    const a = state.audit[role];
    const s = status[role];
    if (!a || !s) continue;
    a.info = s.info;
    a.error = s.error;
    el.audit.counts[role].textContent = `${a.name}: ${fmtCounts(s.info)}`;
    if (role === 'members') {
      fillAttributeColumns(s.info.featureNames);
      fillSliceColumns(s.info.featureNames);
    }
    if (s.error) {
      const model = state.model ? state.model.name : 'the model';
      showError(el.audit.errors[role], s.error, `${a.name} does not fit ${model}`);
    } else {
      clearError(el.audit.errors[role]);
    }
  }
  updateAuditReady();
}

async function refreshAuditStatus() {
  if (!AUDIT_ROLES.some((r) => state.audit[r])) return;
  try {
    applyAuditStatus(await bridge.call('auditStatus'));
  } catch (err) {
    if (err.code !== 'aborted') showError(el.audit.error, err, 'Could not check the audit CSVs');
  }
}

/**
 * Read one audit CSV into `role`. The label column is the one the user chose
 * for this file, else the guess from its header and first rows (label,
 * target, class, ... or a whole-number last column). `how.why` says why the
 * file got this role (shown next to it, with a menu to move it).
 */
async function loadAuditCsv(role, name, file, how = {}) {
  const box = el.audit.errors[role];
  const sniff = sniffCsv(await csvHead(file), 50);
  const guess = guessLabelColumn(sniff.header, sniff.rows);
  const labelColumn = how.labelColumn || guess.column || 'label';
  const done = busy(`Reading ${name}`);
  try {
    const status = await bridge.call('loadAuditCsv', { role, file, labelColumn }, { onProgress });
    state.audit[role] = {
      name, file, labelColumn, info: null, error: null, sniff,
      // K when the header is a predictions file's (class_0..class_{K-1} + label)
      predictions: predictionColumns(sniff.header, labelColumn),
      labelWhy: how.labelColumn ? 'chosen' : guess.column ? `guessed: ${guess.why}` : 'default',
      roleWhy: how.why || 'chosen by you',
    };
    if (pool) pool.invalidate();
    clearError(box);
    applyAuditStatus(status);
    await rescan();
  } catch (err) {
    if (err.code === 'aborted') return;
    const kept = state.audit[role] ? ` (still using ${state.audit[role].name})` : '';
    const hint = err.code === 'csv_no_label_column' || /label/.test(err.message)
      ? ` The columns are ${sniff.header.slice(0, 12).map((h) => `"${h}"`).join(', ')}${sniff.header.length > 12 ? ', ...' : ''}: pick the label column in section 5's "Label column" field and load the file again.`
      : '';
    showError(box, err, `${name} could not be read${kept}${hint ? `.${hint}` : ''}`);
  } finally {
    done();
    if (role === 'population') el.audit.populationClear.hidden = !state.audit.population;
    renderAuditExtra(role);
    updateAuditReady();
  }
}

/** Under each audit CSV: why it has this role and label column, menus to change both, a preview. */
function renderAuditExtra(role) {
  const box = el.audit.extras[role];
  const a = state.audit[role];
  if (!a) {
    box.replaceChildren();
    return;
  }
  const note = document.createElement('p');
  note.className = 'muted small-print';
  note.dataset.testid = `${role}-why`;
  note.textContent = `Role: ${a.roleWhy}. Label column "${a.labelColumn}" (${a.labelWhy}).${a.predictions ? ` The columns class_0 to class_${a.predictions - 1} are a model's outputs (predictions, ${a.predictions} columns).` : ''}`;
  const controls = document.createElement('div');
  controls.className = 'extra-controls';
  const roleSel = document.createElement('select');
  roleSel.dataset.testid = `${role}-move`;
  roleSel.setAttribute('aria-label', `Use ${a.name} as`);
  roleSel.append(new Option(`use as ${ROLE_TITLES[role].toLowerCase()}`, role));
  for (const r of AUDIT_ROLES) if (r !== role) roleSel.append(new Option(`move to ${ROLE_TITLES[r].toLowerCase()}`, r));
  roleSel.addEventListener('change', () => moveAuditCsv(role, roleSel.value));
  const labelSel = document.createElement('select');
  labelSel.dataset.testid = `${role}-label`;
  labelSel.setAttribute('aria-label', `Label column of ${a.name}`);
  for (const h of a.sniff.header) labelSel.append(new Option(`label: ${h}`, h));
  labelSel.value = a.labelColumn;
  labelSel.addEventListener('change', () => loadAuditCsv(role, a.name, a.file, { why: a.roleWhy, labelColumn: labelSel.value }));
  roleSel.disabled = labelSel.disabled = probeRunning();
  controls.append(roleSel, ' ', labelSel);
  const preview = document.createElement('details');
  preview.className = 'preview';
  const summary = document.createElement('summary');
  summary.textContent = 'Preview';
  const table = document.createElement('table');
  table.dataset.testid = `${role}-preview`;
  const cols = Math.min(a.sniff.header.length, 8);
  const head = document.createElement('tr');
  for (const h of [...a.sniff.header.slice(0, cols), ...(a.sniff.header.length > cols ? ['\u2026'] : [])]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    head.append(th);
  }
  const body = a.sniff.rows.slice(0, 5).map((r) => {
    const tr = document.createElement('tr');
    for (const c of [...r.slice(0, cols), ...(r.length > cols ? ['\u2026'] : [])]) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    return tr;
  });
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  tbody.append(...body);
  table.append(thead, tbody);
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  wrap.append(table);
  preview.append(summary, wrap);
  box.replaceChildren(note, controls, preview);
}

/** Move a loaded audit CSV to another role (swapping with what is there). */
async function moveAuditCsv(from, to) {
  if (from === to) return;
  const a = state.audit[from];
  const b = state.audit[to];
  if (!a) return;
  await forgetAuditCsv(from);
  await loadAuditCsv(to, a.name, a.file, { why: 'moved by you', labelColumn: a.labelColumn });
  if (b) await loadAuditCsv(from, b.name, b.file, { why: 'moved by you', labelColumn: b.labelColumn });
}

async function forgetAuditCsv(role) {
  await bridge.call('clearAuditCsv', { role });
  state.audit[role] = null;
  if (pool) pool.invalidate();
  el.audit.inputs[role].value = '';
  el.audit.counts[role].textContent = role === 'population' ? 'not loaded: the offline attacks, RMIA and Shokri need it' : 'not loaded';
  clearError(el.audit.errors[role]);
  renderAuditExtra(role);
}

/** One CSV with a 0/1 membership column: split into members and non-members. */
async function loadMembershipCsv(name, file) {
  const a = el.audit;
  clearError(a.membershipError);
  const sniff = sniffCsv(await csvHead(file));
  const col = membershipColumn(sniff.header, sniff.rows);
  if (!col) {
    showError(a.membershipError, new InspectorError('no_membership_column', `none of its columns (${sniff.header.slice(0, 12).join(', ')}) is a 0/1 column named member, is_member, membership or in_training`), `${name} cannot be split`);
    return;
  }
  let parts;
  try {
    // the split needs every row: the one place a whole CSV is read here
    parts = splitByMembership(await file.arrayBuffer(), col.column);
  } catch (err) {
    showError(a.membershipError, new InspectorError('bad_membership_column', err.message), `${name} cannot be split`);
    return;
  }
  const why = `rows of ${name} with ${col.column} = `;
  await loadAuditCsv('members', `${name} (${col.column}=1)`, new Blob([parts.members]), { why: `${why}1` });
  await loadAuditCsv('nonmembers', `${name} (${col.column}=0)`, new Blob([parts.nonmembers]), { why: `${why}0` });
  a.membershipNote.textContent = `Split ${name} on "${col.column}": ${fmtInt(parts.counts.members)} members, ${fmtInt(parts.counts.nonmembers)} non-members.`;
}

/**
 * Files dropped or chosen together: the model goes to section 1, each CSV to
 * the audit role its name suggests (or, with a membership column, is split),
 * and the user sees each guess next to the file with a menu to change it.
 */
async function loadFiles(files) {
  const list = [...files];
  // only the first bytes of each file are read here: a model is read whole
  // below, a CSV is streamed by the workers
  const read = await Promise.all(list.map(async (f) => ({ name: f.name, file: f, head: await f.slice(0, SNIFF_BYTES).arrayBuffer() })));
  const models = read.filter((f) => fileKind(f.name, f.head) === 'model');
  const csvs = read.filter((f) => fileKind(f.name, f.head) === 'csv');
  const other = read.filter((f) => !models.includes(f) && !csvs.includes(f));
  if (other.length) {
    showError(el.modelError, new InspectorError('unknown_file', `${other.map((f) => f.name).join(', ')}: neither an .onnx model nor a .csv file`), 'Not loaded');
  }
  if (models.length) await loadModelBytes(models[0].name, await models[0].file.arrayBuffer());
  const free = AUDIT_ROLES.filter((r) => !state.audit[r] || csvs.length > 0);
  const unassigned = [];
  for (const f of csvs) {
    const sniff = sniffCsv(f.head);
    if (membershipColumn(sniff.header, sniff.rows)) {
      await loadMembershipCsv(f.name, f.file);
      continue;
    }
    const g = guessRole(f.name);
    if (g.role) await loadAuditCsv(g.role, f.name, f.file, { why: `guessed: ${g.why}` });
    else unassigned.push(f);
  }
  // names that say nothing: fill the roles still empty, in order
  for (const f of unassigned) {
    const role = free.find((r) => !state.audit[r]);
    if (role) await loadAuditCsv(role, f.name, f.file, { why: 'the first empty role (the file name does not say); move it if wrong' });
  }
}

async function clearPopulation() {
  try {
    await forgetAuditCsv('population');
  } catch (err) {
    if (err.code !== 'aborted') showError(el.audit.errors.population, err, 'Could not remove the population');
    return;
  }
  el.audit.populationClear.hidden = true;
  updateAuditReady();
}

function buildAttackChecks() {
  const items = ALL_ATTACKS.map((id) => {
    const label = document.createElement('label');
    label.className = 'check';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = id;
    box.dataset.testid = `audit-attack-${id}`;
    box.checked = QUICK_ATTACKS.includes(id);
    const name = document.createElement('span');
    name.textContent = ATTACK_LABELS[id] || id;
    label.append(box, ' ', name);
    return label;
  });
  el.audit.checks.replaceChildren(...items);
}

function checkedAttacks() {
  return [...el.audit.checks.querySelectorAll('input[type="checkbox"]')].filter((b) => b.checked).map((b) => b.value);
}

/** Reference model counts the presets set (the field stays editable under each). */
const PRESET_REFERENCES = { standard: 16, thorough: 64 };

/** The attacks a preset checks, or null for the custom selection. */
function presetAttacks(preset) {
  if (preset === 'quick') return QUICK_ATTACKS;
  if (preset === 'standard' || preset === 'thorough') return ALL_ATTACKS;
  return null;
}

function applyPreset() {
  const preset = el.audit.preset.value;
  const chosen = presetAttacks(preset);
  if (chosen) {
    for (const box of el.audit.checks.querySelectorAll('input[type="checkbox"]')) box.checked = chosen.includes(box.value);
  }
  if (PRESET_REFERENCES[preset]) el.audit.references.value = String(PRESET_REFERENCES[preset]);
  el.audit.attackList.hidden = preset !== 'custom';
  updateAuditReady();
}

/** The AuditSettings object (snake_case) from the form, or an Error naming the bad field. */
function auditSettings() {
  const attacks = checkedAttacks();
  if (attacks.length === 0) throw new InspectorError('bad_setting', 'choose at least one attack');
  const references = parseSetting(el.audit.references.value, 'references');
  const seed = Number(el.audit.seed.value);
  if (el.audit.seed.value.trim() === '' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new InspectorError('bad_setting', `the seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got "${el.audit.seed.value}"`);
  }
  const delta = Number(el.audit.delta.value.trim());
  if (el.audit.delta.value.trim() === '' || !Number.isFinite(delta) || delta < 0 || delta >= 1) {
    throw new InspectorError('bad_setting', `delta must be a number in [0, 1), got "${el.audit.delta.value}"`);
  }
  const fixed = $('recipe-epochs').value.trim();
  const l2Text = $('recipe-l2').value.trim();
  const recipe = {
    optimizer: { kind: 'adam', lr: parseNumber($('recipe-lr').value, 'the reference learning rate'), beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    batchSize: parseSetting($('recipe-batch').value, 'recipe.batchSize'),
    l2: l2Text === '' ? null : parseNumber(l2Text, 'the reference L2 penalty'),
    maxEpochs: parseSetting($('recipe-max-epochs').value, 'recipe.maxEpochs'),
    fixedEpochs: fixed === '' ? null : parseSetting(fixed, 'recipe.fixedEpochs'),
    targetAccuracy: null,
  };
  if (!(recipe.optimizer.lr > 0)) throw new InspectorError('bad_setting', `the reference learning rate must be above 0, got "${$('recipe-lr').value}"`);
  if (recipe.l2 !== null && !(recipe.l2 >= 0)) throw new InspectorError('bad_setting', `the reference L2 penalty must be 0 or more, got "${$('recipe-l2').value}"`);
  const size = $('recipe-train-size').value.trim();
  const referenceTrainSize = size === '' ? null : parseSetting(size, 'reference_train_size');
  const settings = { attacks, references, seed, stats: { delta }, recipe, reference_train_size: referenceTrainSize };
  const sliceBy = $('audit-slice-by').value;
  if (sliceBy !== '') {
    // the column's index among the members' features (the core slices the flat records)
    const names = state.audit.members ? state.audit.members.info.featureNames : [];
    settings.slice = { column: names.indexOf(sliceBy), name: sliceBy };
  }
  return settings;
}

/** The guidance options from the form (claimed epsilon, thresholds JSON), or an Error naming the field. */
function guidanceOptions() {
  const text = el.audit.guidanceOptions.value.trim();
  let opts = {};
  if (text) {
    try {
      opts = JSON.parse(text);
    } catch (err) {
      throw new InspectorError('bad_setting', `the guidance thresholds are not valid JSON: ${err.message}`);
    }
  }
  const claimed = el.audit.claimedEpsilon.value.trim();
  if (claimed !== '') {
    const v = Number(claimed);
    if (!Number.isFinite(v) || v < 0) throw new InspectorError('bad_setting', `the claimed epsilon must be a number of 0 or more, got "${claimed}"`);
    opts.claimed_epsilon = v;
  }
  return opts;
}

/** The number of workers chosen (the select's "all" = every logical core the browser reports). */
function workerCount() {
  const v = el.audit.workers.value;
  return v === 'all' ? ReferencePool.available() : Math.max(1, Number(v) || 1);
}

function fillWorkerChoices() {
  const n = ReferencePool.available();
  const sel = el.audit.workers;
  const opts = [new Option(`all (${n})`, 'all')];
  for (let k = 1; k < n; k++) opts.push(new Option(String(k), String(k)));
  sel.replaceChildren(...opts);
  const asked = new URLSearchParams(location.search).get('workers');
  if (asked && [...sel.options].some((o) => o.value === asked)) sel.value = asked;
  else if (asked && Number(asked) >= n) sel.value = 'all';
}

/**
 * An audit from predictions alone: no model is loaded, and the members,
 * non-members (and population, if any) CSVs all have a predictions header.
 */
function predictionsAudit() {
  if (state.model || !state.audit.members || !state.audit.nonmembers) return false;
  return AUDIT_ROLES.every((r) => !state.audit[r] || state.audit[r].predictions != null);
}

function updateAuditReady() {
  const a = el.audit;
  const missing = [];
  const fromPredictions = predictionsAudit();
  a.predictionsKindField.hidden = !fromPredictions;
  a.predictionsNote.hidden = !fromPredictions;
  if (!state.model && !fromPredictions) missing.push('a model');
  if (!state.audit.members) missing.push('members');
  if (!state.audit.nonmembers) missing.push('non-members');
  const broken = AUDIT_ROLES.filter((r) => state.audit[r] && state.audit[r].error).map((r) => ROLE_TITLES[r].toLowerCase());
  const ready = missing.length === 0 && broken.length === 0;
  a.run.disabled = !ready || probeRunning();
  for (const role of AUDIT_ROLES) a.inputs[role].disabled = probeRunning();
  a.populationClear.disabled = probeRunning();
  a.membershipInput.disabled = probeRunning();
  a.workers.disabled = probeRunning();
  el.limits.apply.disabled = probeRunning();
  el.limits.reset.disabled = probeRunning();
  for (const sel of document.querySelectorAll('.extra-controls select')) sel.disabled = probeRunning();
  const refs = checkedAttacks().some((id) => REFERENCE_ATTACKS.includes(id));
  a.references.disabled = !refs;
  a.references.title = refs ? '' : 'the chosen attacks train no reference models';
  if (state.auditRunning) a.readyNote.textContent = 'Running\u2026';
  else if (missing.length) a.readyNote.textContent = `Load ${missing.join(', ').replace(/, ([^,]*)$/, ' and $1')} first.`;
  else if (broken.length) a.readyNote.textContent = `Fix the ${broken.join(' and ')} CSV first.`;
  else if (probeRunning()) a.readyNote.textContent = 'Another probe is running.';
  else if (fromPredictions) a.readyNote.textContent = 'Ready: audit from predictions (no model). Everything runs in this page.';
  else a.readyNote.textContent = 'Ready. Everything runs in this page.';
  updateInversionReady();
  updateAttributeReady();
  updateTeachReady();
}

/** "about 1 min 20 s left" from an elapsed time and the fraction done (null before any progress). */
function etaText(startedMs, fraction) {
  if (!(fraction > 0.02) || fraction >= 1) return '';
  const left = ((performance.now() - startedMs) / 1000) * ((1 - fraction) / fraction);
  if (left < 1) return 'less than a second left';
  const m = Math.floor(left / 60);
  const sec = Math.round(left - 60 * m);
  return `about ${m > 0 ? `${m} min ` : ''}${sec} s left`;
}

/** Where the audit is: 'references' (the pool trains them) or 'attacks'; and when that step began. */
const auditPhase = { step: 'attacks', started: 0, steps: 1 };

function setAuditPhase(step, steps) {
  auditPhase.step = step;
  auditPhase.steps = steps;
  auditPhase.started = performance.now();
}

/** The pool's progress while reference models train (step 1 of 2). */
function onReferenceProgress({ done, total, label }) {
  const a = el.audit;
  a.progressText.textContent = `Step 1 of 2: ${label}`;
  a.progressBar.value = total > 0 ? (0.8 * done) / total : 0;
  a.eta.textContent = etaText(auditPhase.started, total > 0 ? done / total : 0);
}

function onAuditProgress({ done, total, label }) {
  const a = el.audit;
  if (!label) return;
  const prefix = auditPhase.steps > 1 ? 'Step 2 of 2: ' : '';
  const base = auditPhase.steps > 1 ? 0.8 : 0;
  const span = 1 - base;
  // stages that carry no count of their own get "(done / total)"
  const counted = /\d+\/\d+$/.test(label);
  a.progressText.textContent = prefix + (counted || !(total > 0) ? label : `${label} (${fmtInt(done)} / ${fmtInt(total)})`);
  // overall fraction: the attack index from "attack i/N: ...", plus the stage's own fraction
  const m = /^attack (\d+)\/(\d+)/.exec(label);
  let fraction = null;
  if (m) {
    const i = Number(m[1]) - 1;
    const n = Number(m[2]);
    const sub = /^attack \d+\/\d+: [a-z_]+$/.test(label) || !(total > 0) ? 0 : Math.min(1, done / total);
    fraction = Math.min(1, (i + sub) / n);
  } else if (label === 'done') {
    fraction = 1;
  }
  if (fraction != null) {
    a.progressBar.value = base + span * fraction;
    a.eta.textContent = etaText(auditPhase.started, fraction);
  }
}

function revokeReportUrls() {
  for (const u of state.reportUrls) URL.revokeObjectURL(u);
  state.reportUrls = [];
}

function renderAuditResults(out) {
  const a = el.audit;
  revokeReportUrls();
  // the core's own JSON text: u64 seeds above 2^53 keep every digit
  const json = out.reportJson;
  // an audit from predictions has no model SHA-256: its members file's names it
  const sha = out.report.model.sha256 || (out.report.predictions ? `predictions-${out.report.predictions.files[0].sha256}` : '');
  const stem = `privacy-audit-${String(sha).slice(0, out.report.model.sha256 ? 12 : 24)}-seed${out.report.seed}`;
  const jsonUrl = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  const htmlUrl = URL.createObjectURL(new Blob([out.htmlStandalone], { type: 'text/html' }));
  state.reportUrls = [jsonUrl, htmlUrl];
  a.downloadJson.href = jsonUrl;
  a.downloadJson.download = `${stem}.json`;
  a.downloadHtml.href = htmlUrl;
  a.downloadHtml.download = `${stem}.html`;
  // the fragment comes from the core's renderer, which escapes every text it
  // inserts; it holds no script and no inline style
  a.results.innerHTML = out.html;
  for (const table of a.results.querySelectorAll('table')) {
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-label', 'Table (scrolls sideways)');
    table.replaceWith(wrap);
    wrap.append(table);
  }
  // the per-record table: sortable, with the records' images when they are images
  a.downloadRecords.hidden = !out.report.records;
  for (const table of a.results.querySelectorAll('table[data-sortable]')) {
    addRecordImages(table);
    makeSortable(table);
  }
  a.results.dataset.attacks = out.report.attacks.map((x) => x.id).join(',');
  a.results.dataset.auc = JSON.stringify(out.report.attacks.map((x) => [x.id, x.auc ?? null]));
  a.resultsPanel.hidden = false;
}

/** Set by a finished Thorough audit: the inversion and attribute inference follow. */
let thoroughFollowUp = false;

async function runAuditNow() {
  const a = el.audit;
  clearError(a.settingsError);
  clearError(a.error);
  let settings;
  let guidance;
  try {
    settings = auditSettings();
    guidance = guidanceOptions();
  } catch (err) {
    showError(a.settingsError, err, 'Settings');
    return;
  }
  const fromPredictions = predictionsAudit();
  const names = {
    model: state.model ? state.model.name : null,
    members: state.audit.members.name,
    nonmembers: state.audit.nonmembers.name,
    population: state.audit.population ? state.audit.population.name : null,
    label_column: state.audit.members.labelColumn,
  };
  state.auditRunning = true;
  updateAuditReady();
  // after a Cancel, the new worker must have the model and the CSVs again first
  await restoring;
  a.progressText.textContent = 'Starting\u2026';
  a.eta.textContent = '';
  a.progressBar.value = 0;
  a.progress.hidden = false;
  a.results.setAttribute('aria-busy', 'true');
  const t0 = performance.now();
  try {
    if (fromPredictions) {
      // no model: the core reads and checks the prediction files, runs the
      // attacks that need only outputs and labels, and skips the others
      setAuditPhase('attacks', 1);
      const files = Object.fromEntries(AUDIT_ROLES.map((r) => [r, state.audit[r] ? state.audit[r].file : undefined]));
      delete names.model;
      const out = await bridge.call('runPredictionsAudit', {
        files, kind: a.predictionsKind.value, labelColumn: state.audit.members.labelColumn, settings, names, guidance,
      }, { onProgress: onAuditProgress });
      const seconds = (performance.now() - t0) / 1000;
      state.lastAudit = out.report;
      renderAuditResults(out);
      a.timing.textContent = `Audit from predictions (no model) ran in ${seconds.toFixed(1)} s.`;
      a.resultsPanel.dataset.seconds = seconds.toFixed(3);
      return;
    }
    // reference models first, one per free worker; then the attacks in the page's worker
    const jobs = await bridge.call('referenceJobs', { settings });
    const workers = workerCount();
    if (jobs.length > 0) {
      setAuditPhase('references', 2);
      // every model lands in the page worker's reference set, which runAudit uses
      await pool.train(jobs, settings, workers, onReferenceProgress);
    } else {
      await bridge.call('clearReferences');
    }
    setAuditPhase('attacks', jobs.length > 0 ? 2 : 1);
    const out = await bridge.call('runAudit', { settings, names, guidance }, { onProgress: onAuditProgress });
    const seconds = (performance.now() - t0) / 1000;
    state.lastAudit = out.report;
    state.lastAuditJson = out.reportJson;
    renderAuditResults(out);
    const refs = jobs.reduce((n, j) => n + j.k, 0);
    a.timing.textContent = `Ran in ${seconds.toFixed(1)} s${refs ? ` (${refs} reference models on ${Math.min(workers, refs)} worker${Math.min(workers, refs) > 1 ? 's' : ''})` : ''}.`;
    a.resultsPanel.dataset.seconds = seconds.toFixed(3);
    thoroughFollowUp = a.preset.value === 'thorough';
  } catch (err) {
    if (err.code === 'aborted') return;
    showError(a.error, err, 'The audit failed');
  } finally {
    state.auditRunning = false;
    a.progress.hidden = true;
    a.results.removeAttribute('aria-busy');
    updateAuditReady();
  }
  // Thorough also runs the model inversion (every class) and the attribute
  // inference (the chosen column, the members' quartiles as bins when none are typed)
  if (thoroughFollowUp) {
    thoroughFollowUp = false;
    await runInversionNow();
    if (el.attr.column.value) {
      if (el.attr.bins.value.trim() === '') await fillQuartileBins();
      await runAttributeNow();
    }
  }
}

/**
 * Make a table sortable: each column heading becomes a button; the first
 * click sorts descending by the column (each cell's data-sort number, else
 * its text), the next ascending. Headings with class "nosort" stay as they are.
 */
function makeSortable(table) {
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, col) => {
    if (th.classList.contains('nosort')) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sort';
    button.dataset.testid = `sort-${col}`;
    button.append(...th.childNodes);
    th.append(button);
    th.setAttribute('aria-sort', 'none');
    button.addEventListener('click', () => {
      const dir = th.getAttribute('aria-sort') === 'descending' ? 'ascending' : 'descending';
      for (const h of heads) if (h.hasAttribute('aria-sort')) h.setAttribute('aria-sort', 'none');
      th.setAttribute('aria-sort', dir);
      const key = (tr) => {
        const cell = tr.cells[col];
        const v = cell ? cell.dataset.sort : undefined;
        return v !== undefined && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : (cell ? cell.textContent : '');
      };
      const body = table.tBodies[0];
      const rows = [...body.rows].map((tr, i) => ({ tr, i, k: key(tr) }));
      rows.sort((x, y) => {
        const c = typeof x.k === 'number' && typeof y.k === 'number' ? x.k - y.k : String(x.k).localeCompare(String(y.k));
        return (dir === 'ascending' ? c : -c) || x.i - y.i;
      });
      body.append(...rows.map((r) => r.tr));
    });
  });
}

/** [height, width] when the model input (the inversion's shape field) is a one-channel image of `len` values, else null. */
function imageShape(len) {
  const shape = el.inv.shape.value.trim().split(/[\s,x]+/).filter(Boolean).map(Number);
  const [c, hgt, w] = shape.length === 3 ? shape : [0, 0, 0];
  return c === 1 && hgt * w === len && hgt > 0 ? [hgt, w] : null;
}

/** A canvas drawing a record as a grey image (dark = high), or null when it is not image-shaped. */
function recordCanvas(features) {
  const hw = imageShape(features.length);
  if (!hw) return null;
  const [hgt, w] = hw;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hgt;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `the record as a ${hgt}x${w} image`);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, hgt);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of features) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let i = 0; i < features.length; i++) {
    const g = hi > lo ? Math.round((255 * (features[i] - lo)) / (hi - lo)) : 0;
    img.data.set([255 - g, 255 - g, 255 - g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/**
 * The most-vulnerable table: when the records are images, a first column
 * with each member's image (fetched from the worker, which holds the CSVs).
 */
async function addRecordImages(table) {
  const rows = [...table.tBodies[0].rows];
  const first = rows[0] && rows[0].querySelector('button.record-link');
  if (!first) return;
  const info = state.audit.members && state.audit.members.info;
  if (!info || !imageShape(info.features)) return;
  const th = document.createElement('th');
  th.className = 'nosort';
  th.textContent = 'image';
  table.tHead.rows[0].cells[0].after(th);
  const cells = rows.map((tr) => {
    const td = document.createElement('td');
    td.className = 'record-thumb';
    tr.cells[0].after(td);
    return td;
  });
  for (const [i, tr] of rows.entries()) {
    try {
      const rec = await bridge.call('record', { role: 'members', index: Number(tr.dataset.recordIndex) });
      const canvas = recordCanvas(rec.features);
      if (canvas) cells[i].append(canvas);
    } catch {
      return; // the dialog still shows the record (and says what went wrong)
    }
  }
}

/** The per-record CSV of the last audit, written by the core from its JSON report, as a download. */
async function downloadRecordsCsv() {
  const a = el.audit;
  const report = state.lastAudit;
  if (!state.lastAuditJson || !report) return;
  try {
    const csv = await bridge.call('recordsCsv', { json: state.lastAuditJson });
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    state.reportUrls.push(url);
    const link = document.createElement('a');
    link.href = url;
    link.download = `privacy-records-${String(report.model.sha256).slice(0, 12)}-seed${report.seed}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    if (err.code !== 'aborted') showError(a.error, err, 'The per-record CSV');
  }
}

/** A dialog with one record of an audit CSV: its features (and the image, for 8x8 / image-shaped inputs). */
async function showRecord(role, index) {
  const a = el.audit;
  let rec;
  try {
    rec = await bridge.call('record', { role, index });
  } catch (err) {
    if (err.code !== 'aborted') showError(a.error, err, `Row ${index} of the ${ROLE_TITLES[role].toLowerCase()} CSV`);
    return;
  }
  a.recordTitle.textContent = `${ROLE_TITLES[role]} row ${index} (0-based; line ${index + 2} of ${state.audit[role].name})${rec.label != null ? `, label ${rec.label}` : ''}`;
  const parts = [];
  const canvas = recordCanvas(rec.features);
  if (canvas) {
    canvas.className = 'record-image';
    canvas.dataset.testid = 'record-image';
    parts.push(canvas);
  }
  const table = document.createElement('table');
  table.dataset.testid = 'record-table';
  const body = document.createElement('tbody');
  rec.features.forEach((v, j) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = rec.featureNames[j] ?? `f${j}`;
    const td = document.createElement('td');
    td.className = 'num';
    td.textContent = String(Number(v.toPrecision(7)));
    tr.append(th, td);
    body.append(tr);
  });
  table.append(body);
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap record-wrap';
  wrap.append(table);
  parts.push(wrap);
  a.recordBody.replaceChildren(...parts);
  a.record.showModal();
}

function setupAudit() {
  const a = el.audit;
  buildAttackChecks();
  for (const role of AUDIT_ROLES) {
    const input = a.inputs[role];
    input.addEventListener('change', async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      await loadAuditCsv(role, file.name, file, { why: 'chosen by you' });
    });
  }
  a.populationClear.addEventListener('click', clearPopulation);
  a.preset.addEventListener('change', applyPreset);
  a.checks.addEventListener('change', () => {
    const chosen = checkedAttacks();
    const same = (list) => list.length === chosen.length && list.every((id) => chosen.includes(id));
    if (!same(presetAttacks(a.preset.value) || [])) a.preset.value = 'custom';
    updateAuditReady();
  });
  a.run.addEventListener('click', runAuditNow);
  a.cancel.addEventListener('click', abortAll);
  a.membershipInput.addEventListener('change', async () => {
    const file = a.membershipInput.files && a.membershipInput.files[0];
    if (!file) return;
    await loadMembershipCsv(file.name, file);
    a.membershipInput.value = '';
  });
  // the report's most exposed / most vulnerable rows: show the record the index points at
  a.results.addEventListener('click', (ev) => {
    const button = ev.target.closest && ev.target.closest('button.record-link');
    if (button) showRecord(button.dataset.recordSet || 'members', Number(button.dataset.recordIndex));
  });
  a.downloadRecords.addEventListener('click', downloadRecordsCsv);
  a.record.querySelector('button').addEventListener('click', () => a.record.close());
  fillWorkerChoices();
  applyPreset();
}

// ---------- model inversion and attribute inference ----------

/** Put a report's downloads on two links; returns the Blob URLs (revoke later). */
function setDownloads(out, prefix, jsonLink, htmlLink, withTrainingData = false) {
  const stem = `${prefix}-${String(out.report.model.sha256).slice(0, 12)}-seed${out.report.seed}`;
  const full = withTrainingData && out.reportJsonWithTrainingData;
  const jsonText = full ? out.reportJsonWithTrainingData : out.reportJson;
  const htmlText = full ? out.htmlStandaloneWithTrainingData : out.htmlStandalone;
  const jsonUrl = URL.createObjectURL(new Blob([jsonText], { type: 'application/json' }));
  const htmlUrl = URL.createObjectURL(new Blob([htmlText], { type: 'text/html' }));
  jsonLink.href = jsonUrl;
  jsonLink.download = `${stem}.json`;
  htmlLink.href = htmlUrl;
  htmlLink.download = `${stem}.html`;
  return [jsonUrl, htmlUrl];
}

/** Insert the core's html fragment (escaped by its renderer, no script, no inline style). */
function insertFragment(box, html) {
  box.innerHTML = html;
  for (const table of box.querySelectorAll('table')) {
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-label', 'Table (scrolls sideways)');
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

/** A progress handler for a probe's own bar and text. */
function probeProgress(p) {
  return ({ done, total, label }) => {
    if (label) p.progressText.textContent = total > 0 ? `${label} (${fmtInt(done)} / ${fmtInt(total)})` : label;
    if (total > 0) p.progressBar.value = Math.min(1, done / total);
  };
}

/** A new model: its classes in the class select, a default image shape for 64 flat features. */
function modelChangedForProbes(info) {
  const v = el.inv;
  const n = info.numClasses;
  const opts = [new Option('all classes', 'all')];
  if (n != null) for (let c = 0; c < n; c++) opts.push(new Option(`class ${c}`, String(c)));
  v.cls.replaceChildren(...opts);
  const input = info.summary.input;
  const flat = input.shape.length <= 2;
  v.shape.value = flat && input.features === 64 ? '1,8,8' : '';
  v.shape.disabled = !flat;
  v.shape.title = flat ? '' : 'the model input is already image-shaped';
}

function parseNumber(text, what) {
  const t = String(text).trim();
  const v = Number(t);
  if (t === '' || !Number.isFinite(v)) throw new InspectorError('bad_setting', `${what} must be a number, got "${text}"`);
  return v;
}

/** The declared ranges of the core (`settings::ALL`, from the worker at start): key -> {min, max, what}. */
let settingRanges = {};

/** The form fields whose bounds are the core's declared ranges: element id -> setting key. */
const RANGED_FIELDS = [
  ['audit-references', 'references'],
  ['recipe-epochs', 'recipe.fixedEpochs'],
  ['recipe-max-epochs', 'recipe.maxEpochs'],
  ['recipe-train-size', 'reference_train_size'],
  ['recipe-batch', 'recipe.batchSize'],
  ['inv-steps', 'steps'],
  ['inv-budget', 'query_budget'],
];

/** Set the min/max of the ranged form fields from the core's table. */
function applySettingRanges() {
  for (const [id, key] of RANGED_FIELDS) {
    const input = $(id);
    const r = settingRanges[key];
    if (input && r) {
      input.min = String(r.min);
      input.max = String(r.max);
    }
  }
}

/** A whole number in the core's declared range of `key` (the one owner of the bounds). */
function parseSetting(text, key) {
  const r = settingRanges[key];
  if (!r) throw new InspectorError('internal', `no declared range for the setting ${key}`);
  return parseWhole(text, r.what, r.min, r.max);
}

function parseWhole(text, what, lo, hi) {
  const v = parseNumber(text, what);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new InspectorError('bad_setting', `${what} must be a whole number from ${lo} to ${hi}, got "${text}"`);
  return v;
}

/** {classes, settings, inputShape} from the inversion form, or an Error naming the bad field. */
function inversionSettings() {
  const v = el.inv;
  const steps = parseSetting(v.steps.value, 'steps');
  const gamma = parseNumber(v.gamma.value, 'gamma');
  if (!(gamma > 0 && gamma < 1)) throw new InspectorError('bad_setting', `gamma must lie in (0, 1), got "${v.gamma.value}"`);
  const mode = v.mode.value;
  const settings = { mode, steps, gamma, start: v.start.value };
  if (mode === 'black_box') settings.query_budget = parseSetting(v.budget.value, 'query_budget');
  let inputShape = null;
  const shapeText = v.shape.value.trim();
  if (!v.shape.disabled && shapeText !== '') {
    inputShape = shapeText.split(/[\s,x]+/).filter(Boolean).map((d) => parseSetting(d, 'input_shape'));
  }
  const classes = v.cls.value === 'all' ? [] : [Number(v.cls.value)];
  return { classes, settings, inputShape };
}

function updateInversionReady() {
  const v = el.inv;
  v.run.disabled = !state.model || probeRunning();
  v.budget.disabled = v.mode.value !== 'black_box';
  if (state.invRunning) v.readyNote.textContent = 'Running\u2026';
  else if (!state.model) v.readyNote.textContent = 'Load a model first.';
  else if (probeRunning()) v.readyNote.textContent = 'Another probe is running.';
  else {
    const sets = ['members', 'nonmembers'].filter((r) => state.audit[r]).map((r) => ROLE_TITLES[r].toLowerCase());
    v.readyNote.textContent = sets.length
      ? `Ready: uses the ${sets.join(' and ')} CSV${sets.length > 1 ? 's' : ''}.`
      : 'Ready. Without the CSVs of section 2 there is no data mean and no recognition check.';
  }
}

async function runInversionNow() {
  const v = el.inv;
  clearError(v.settingsError);
  clearError(v.error);
  let args;
  try {
    args = inversionSettings();
  } catch (err) {
    showError(v.settingsError, err, 'Settings');
    return;
  }
  state.invRunning = true;
  updateReady();
  await restoring;
  v.progressText.textContent = 'Starting\u2026';
  v.progressBar.value = 0;
  v.progress.hidden = false;
  v.results.setAttribute('aria-busy', 'true');
  try {
    const out = await bridge.call('runInversion', args, { onProgress: probeProgress(v) });
    for (const u of state.invUrls) URL.revokeObjectURL(u);
    state.invOut = out;
    state.invUrls = setDownloads(out, 'privacy-inversion', v.downloadJson, v.downloadHtml, el.audit.includeTraining.checked);
    el.audit.includeTraining.disabled = !out.reportJsonWithTrainingData;
    insertFragment(v.results, out.html);
    v.resultsPanel.hidden = false;
  } catch (err) {
    if (err.code === 'aborted') return;
    showError(v.error, err, 'The inversion failed');
  } finally {
    state.invRunning = false;
    v.progress.hidden = true;
    v.results.removeAttribute('aria-busy');
    updateReady();
  }
}

/** The members CSV's feature columns in the sensitive column select (keeps the choice when it still exists). */
function fillAttributeColumns(names) {
  const sel = el.attr.column;
  const keep = sel.value;
  sel.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) sel.value = keep;
}

/** The members' feature columns as the "Leakage by subgroup" menu (none first). */
function fillSliceColumns(names) {
  const sel = $('audit-slice-by');
  const keep = sel.value;
  sel.replaceChildren(new Option('none', ''), ...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) sel.value = keep;
}

/** The bin edges typed, or null when the field is empty. */
function attributeBins() {
  const t = el.attr.bins.value.trim();
  if (t === '') return null;
  const edges = t.split(/[\s,;]+/).filter(Boolean).map((x) => parseNumber(x, 'each bin edge'));
  return edges;
}

function updateAttributeReady() {
  const t = el.attr;
  const missing = [];
  if (!state.model) missing.push('a model');
  if (!state.audit.members) missing.push('members');
  if (!state.audit.nonmembers) missing.push('non-members');
  t.run.disabled = missing.length > 0 || probeRunning() || !t.column.value;
  t.autoBins.disabled = !state.audit.members || probeRunning() || !t.column.value;
  if (state.attrRunning) t.readyNote.textContent = 'Running\u2026';
  else if (missing.length) t.readyNote.textContent = `Load ${missing.join(', ').replace(/, ([^,]*)$/, ' and $1')} first (section 2).`;
  else if (probeRunning()) t.readyNote.textContent = 'Another probe is running.';
  else t.readyNote.textContent = 'Ready.';
}

/** Quartile bin edges of the chosen column from the loaded members (min, Q1, median, Q3, max). */
async function fillQuartileBins() {
  const t = el.attr;
  clearError(t.error);
  try {
    const q = await bridge.call('columnQuartiles', { column: t.column.value });
    // 7 significant digits (the data are float32); the outer edges rounded outwards
    const round = (x, dir) => {
      if (x === 0) return 0;
      const e = 10 ** (Math.floor(Math.log10(Math.abs(x))) - 6);
      return (dir < 0 ? Math.floor(x / e) : dir > 0 ? Math.ceil(x / e) : Math.round(x / e)) * e;
    };
    const edges = [round(q.min, -1), round(q.q1, 0), round(q.q2, 0), round(q.q3, 0), round(q.max, 1)];
    const distinct = edges.filter((x, i) => i === 0 || x > edges[i - 1]);
    t.bins.value = distinct.map((x) => String(Number(x.toPrecision(7)))).join(',');
  } catch (err) {
    if (err.code !== 'aborted') showError(t.error, err, 'Quartiles');
  }
}

async function runAttributeNow() {
  const t = el.attr;
  clearError(t.error);
  let settings;
  const column = t.column.value;
  try {
    const bins = attributeBins();
    settings = bins ? { bins } : {};
  } catch (err) {
    showError(t.error, err, 'Bin edges');
    return;
  }
  state.attrRunning = true;
  updateReady();
  await restoring;
  t.progressText.textContent = 'Starting\u2026';
  t.progressBar.value = 0;
  t.progress.hidden = false;
  t.results.setAttribute('aria-busy', 'true');
  try {
    const out = await bridge.call('runAttribute', { column, settings }, { onProgress: probeProgress(t) });
    for (const u of state.attrUrls) URL.revokeObjectURL(u);
    state.attrUrls = setDownloads(out, `privacy-attribute-${column.replace(/[^\w.-]+/g, '_')}`, t.downloadJson, t.downloadHtml);
    insertFragment(t.results, out.html);
    t.resultsPanel.hidden = false;
  } catch (err) {
    if (err.code === 'aborted') return;
    showError(t.error, err, `Attribute inference on "${column}" failed`);
  } finally {
    state.attrRunning = false;
    t.progress.hidden = true;
    t.results.removeAttribute('aria-busy');
    updateReady();
  }
}

function setupProbes() {
  const v = el.inv;
  v.run.addEventListener('click', runInversionNow);
  v.cancel.addEventListener('click', abortAll);
  el.audit.includeTraining.addEventListener('change', () => {
    if (!state.invOut) return;
    for (const u of state.invUrls) URL.revokeObjectURL(u);
    state.invUrls = setDownloads(state.invOut, 'privacy-inversion', v.downloadJson, v.downloadHtml, el.audit.includeTraining.checked);
  });
  v.mode.addEventListener('change', updateInversionReady);
  const t = el.attr;
  t.run.addEventListener('click', runAttributeNow);
  t.cancel.addEventListener('click', abortAll);
  t.autoBins.addEventListener('click', fillQuartileBins);
  t.column.addEventListener('change', () => {
    clearError(t.error);
    updateAttributeReady();
  });
  updateInversionReady();
  updateAttributeReady();
}

// ---------- teaching mode ----------

const teach = {
  width: $('teach-width'),
  epochs: $('teach-epochs'),
  lr: $('teach-lr'),
  l2: $('teach-l2'),
  batch: $('teach-batch'),
  seed: $('teach-seed'),
  dp: $('teach-dp'),
  clip: $('teach-clip'),
  sigma: $('teach-sigma'),
  delta: $('teach-delta'),
  epsilon: $('teach-epsilon'),
  settingsError: $('teach-settings-error'),
  run: $('teach-run'),
  readyNote: $('teach-ready-note'),
  progress: $('teach-progress'),
  progressText: $('teach-progress-text'),
  progressBar: document.getElementById('teach-progress-bar'),
  cancel: $('teach-cancel'),
  error: $('teach-error'),
  history: $('teach-history'),
};
/** The digits demo the teaching mode trains on and audits with. */
const TEACH_DEMO = 'digits';
/** Canaries of the one-run DP check of a teaching run (of the demo's 300 members). */
const TEACH_CANARIES = 100;

/** The teaching form as {width, config (TrainConfig, camelCase), seed, dp, label}, or an Error naming the field. */
function teachSettings() {
  const width = Number(teach.width.value);
  const epochs = parseWhole(teach.epochs.value, 'epochs', 1, 5000);
  const lr = parseNumber(teach.lr.value, 'the learning rate');
  if (!(lr > 0 && lr < 10)) throw new InspectorError('bad_setting', `the learning rate must lie in (0, 10), got "${teach.lr.value}"`);
  const l2 = parseNumber(teach.l2.value, 'the L2 penalty');
  if (!(l2 >= 0)) throw new InspectorError('bad_setting', `the L2 penalty must be 0 or more, got "${teach.l2.value}"`);
  const batchSize = parseWhole(teach.batch.value, 'the batch size', 1, 300);
  const seed = parseWhole(teach.seed.value, 'the seed', 0, Number.MAX_SAFE_INTEGER);
  const config = { optimizer: { kind: 'adam', lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, epochs, batchSize, l2, seed };
  let dp = null;
  if (teach.dp.checked) {
    const clip = parseNumber(teach.clip.value, 'the clipping norm');
    const sigma = parseNumber(teach.sigma.value, 'the noise multiplier');
    const delta = parseNumber(teach.delta.value, 'delta');
    if (!(clip > 0)) throw new InspectorError('bad_setting', `the clipping norm must be above 0, got "${teach.clip.value}"`);
    if (!(sigma >= 0)) throw new InspectorError('bad_setting', `the noise multiplier must be 0 or more, got "${teach.sigma.value}"`);
    if (!(delta > 0 && delta < 1)) throw new InspectorError('bad_setting', `delta must lie in (0, 1), got "${teach.delta.value}"`);
    dp = { clip, sigma, delta };
    config.dp = { clipNorm: clip, noiseMultiplier: sigma, delta };
  }
  return { width, config, seed, dp };
}

/** epsilon of the DP-SGD settings (RDP accountant in the engine), shown under the DP fields. */
let teachEpsilonCall = 0;
async function updateTeachEpsilon() {
  const call = ++teachEpsilonCall;
  if (!teach.dp.checked) {
    teach.epsilon.textContent = 'Off: plain Adam, no privacy guarantee.';
    return;
  }
  let s;
  try {
    s = teachSettings();
  } catch (err) {
    teach.epsilon.textContent = err.message;
    return;
  }
  const rows = demos && demos[TEACH_DEMO] ? demos[TEACH_DEMO].rows.members : 300;
  const q = Math.min(1, s.config.batchSize / rows);
  // as the trainer runs it: Poisson sampling at q, ceil(N / batch) steps per epoch
  const steps = s.config.epochs * Math.ceil(rows / s.config.batchSize);
  try {
    const r = await bridge.call('accountant', { q, sigma: s.dp.sigma, steps, delta: s.dp.delta });
    // a later change of the settings has already asked again: its answer wins
    if (call !== teachEpsilonCall) return;
    teach.epsilon.textContent = `Noise multiplier \u03c3 = ${s.dp.sigma}, sampling rate q = ${q.toFixed(3)} (batch ${s.config.batchSize} of ${rows}), ${fmtInt(steps)} steps: the RDP accountant gives \u03b5 = ${Number.isFinite(r.epsilon) ? r.epsilon.toFixed(2) : '\u221e'} at \u03b4 = ${s.dp.delta}. Compare it with the empirical \u03b5 lower bound of the audit and with the one-run check (a second run of the same recipe with ${TEACH_CANARIES} mislabelled canaries).`;
    teach.epsilon.dataset.epsilon = String(r.epsilon);
  } catch (err) {
    teach.epsilon.textContent = `\u03c3 = ${s.dp.sigma}, q = ${q.toFixed(3)}, ${fmtInt(steps)} steps (${err.message})`;
  }
}

async function runTeachNow() {
  clearError(teach.settingsError);
  clearError(teach.error);
  let s;
  try {
    s = teachSettings();
    auditSettings();
  } catch (err) {
    showError(teach.settingsError, err, 'Settings');
    return;
  }
  state.teachRunning = true;
  updateReady();
  await restoring;
  teach.progress.hidden = false;
  teach.progressBar.value = 0;
  teach.progressText.textContent = 'Loading the digits demo\u2026';
  let trained;
  try {
    const index = await demoIndex();
    const demo = index[TEACH_DEMO];
    const members = await fetchBytes(`demo/${demo.members}`);
    const template = await fetchBytes(`demo/teach_mlp_${s.width}.onnx`);
    const note = JSON.stringify({ trained_by: 'privacy-inspector teaching mode', data: demo.members, width: s.width, config: s.config });
    trained = await bridge.call('trainTarget', { template, members, config: s.config, seed: s.seed, note }, {
      onProgress: ({ done, total, label }) => {
        teach.progressText.textContent = `Training: ${label}`;
        if (total > 0) teach.progressBar.value = done / total;
      },
    });
  } catch (err) {
    state.teachRunning = false;
    teach.progress.hidden = true;
    updateReady();
    if (err.code !== 'aborted') showError(teach.error, err, 'Training failed');
    return;
  }
  // with DP-SGD: a second run of the same recipe with canaries, the
  // one-run check of the accountant's epsilon (the audited model above has
  // no canaries)
  let oneRun = null;
  if (s.dp) {
    try {
      const index = await demoIndex();
      const demo = index[TEACH_DEMO];
      const members = await fetchBytes(`demo/${demo.members}`);
      const template = await fetchBytes(`demo/teach_mlp_${s.width}.onnx`);
      oneRun = await bridge.call('dpAudit', { template, members, config: { canaries: TEACH_CANARIES, train: s.config, seed: s.seed, beta: 0.05 } }, {
        onProgress: ({ done, total, label }) => {
          teach.progressText.textContent = `One-run DP check (${TEACH_CANARIES} canaries): ${label}`;
          if (total > 0) teach.progressBar.value = done / total;
        },
      });
    } catch (err) {
      if (err.code === 'aborted') {
        state.teachRunning = false;
        teach.progress.hidden = true;
        updateReady();
        return;
      }
      oneRun = { error: err.message };
    }
  }
  state.teachRunning = false;
  teach.progress.hidden = true;
  const name = `teach-w${s.width}-e${s.config.epochs}-l2_${s.config.l2}${s.dp ? `-dp_s${s.dp.sigma}_c${s.dp.clip}` : ''}-seed${s.seed}.onnx`;
  // the trained model becomes the page's model, with the demo's CSVs
  const index = await demoIndex();
  const demo = index[TEACH_DEMO];
  await loadModelBytes(name, trained.bytes.buffer.slice(trained.bytes.byteOffset, trained.bytes.byteOffset + trained.bytes.byteLength));
  for (const role of AUDIT_ROLES) {
    if (!state.audit[role] || state.audit[role].name !== demo[role]) {
      await loadAuditCsv(role, demo[role], await fetchCsv(`demo/${demo[role]}`), { why: 'teaching mode (digits demo)' });
    }
  }
  if (!state.data || state.data.name !== demo.nonmembers) await loadCsvFile(demo.nonmembers, await fetchCsv(`demo/${demo.nonmembers}`));
  else await predictIfReady();
  const testAcc = state.lastPrediction ? state.lastPrediction.accuracy : null;
  await runAuditNow();
  const report = state.lastAudit;
  if (!report || report.model.sha256 !== state.model.info.summary.sha256) return;
  const ran = report.attacks.filter((a) => a.auc != null);
  const best = ran.reduce((b, a) => (!b || a.tpr_at_fpr['0.01'] > b.tpr_at_fpr['0.01'] ? a : b), null);
  const bestAuc = ran.reduce((b, a) => (!b || a.auc > b.auc ? a : b), null);
  const eps = ran.reduce((m, a) => Math.max(m, a.epsilon_lower_bound), 0);
  const tr = document.createElement('tr');
  const dpEps = trained.report.dp && trained.report.dp.epsilon;
  const dpText = s.dp ? `\u03c3 ${s.dp.sigma}, C ${s.dp.clip}${dpEps != null ? `, \u03b5 ${Number(dpEps).toFixed(2)} (\u03b4 ${s.dp.delta})` : ''}` : 'off';
  let oneRunText = '';
  if (oneRun && oneRun.error) oneRunText = `not run: ${oneRun.error}`;
  else if (oneRun) {
    const acc = oneRun.accountantEpsilon;
    oneRunText = `${oneRun.bound.epsilonLowerBound.toFixed(2)} (accountant ${acc != null ? Number(acc).toFixed(2) : '\u221e'})`;
  }
  const cells = [
    String(teach.history.tBodies[0].rows.length + 1), String(s.width), String(s.config.epochs), String(s.config.l2), dpText, oneRunText,
    `${(100 * (trained.report.trainAccuracy ?? trained.report.train_accuracy)).toFixed(1)}%`, testAcc == null ? '' : `${(100 * testAcc).toFixed(1)}%`,
    best ? `${(100 * best.tpr_at_fpr['0.01']).toFixed(1)}% (${best.id})` : '',
    bestAuc ? `${bestAuc.auc.toFixed(3)} (${bestAuc.id})` : '', eps.toFixed(2), name,
  ];
  for (const c of cells.slice(0, -1)) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.append(td);
  }
  // the trained model itself, an ordinary ONNX file
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([trained.bytes], { type: 'application/octet-stream' }));
  link.download = name;
  link.textContent = name;
  link.dataset.testid = 'teach-model-download';
  const td = document.createElement('td');
  td.append(link);
  tr.append(td);
  teach.history.tBodies[0].append(tr);
  teach.history.hidden = false;
}

function setupTeaching() {
  teach.run.addEventListener('click', runTeachNow);
  teach.cancel.addEventListener('click', abortAll);
  for (const input of [teach.dp, teach.clip, teach.sigma, teach.delta, teach.epochs, teach.batch]) {
    input.addEventListener('change', updateTeachEpsilon);
  }
  const dpFields = () => {
    for (const f of [teach.clip, teach.sigma, teach.delta]) f.disabled = !teach.dp.checked || probeRunning();
  };
  teach.dp.addEventListener('change', dpFields);
  dpFields();
}

function updateTeachReady() {
  teach.run.disabled = probeRunning();
  if (state.teachRunning) teach.readyNote.textContent = 'Training\u2026';
  else if (probeRunning()) teach.readyNote.textContent = 'Another probe is running.';
  else teach.readyNote.textContent = `Trains on the digits demo, then runs the audit preset of section 2 (${el.audit.preset.value}).`;
}

// ---------- resource limits ----------

/** The default limits as the engine prints them (JSON text), once known. */
let limitsDefaultText = null;

/**
 * Apply the limits `text` (JSON, the CLI's --limits format) to every worker:
 * the page's first (which checks the text), then each pool helper; a helper
 * respawned later gets them in restoreInto. On success the field shows the
 * limits in force (every field); on an error the user's text stays and the
 * coded error shows next to it. Nothing loaded is reloaded.
 */
async function applyLimits(text) {
  const l = el.limits;
  clearError(l.error);
  l.status.textContent = '';
  l.apply.disabled = true;
  l.reset.disabled = true;
  try {
    const applied = await bridge.call('setLimits', { json: text });
    state.limits = applied === limitsDefaultText ? null : applied;
    await Promise.all((pool ? pool.helpers : []).map((h) => h.bridge.call('setLimits', { json: applied })));
    l.json.value = applied;
    const over = loadedOverLimits(JSON.parse(applied));
    l.status.textContent = (state.limits
      ? 'Limits applied. Files loaded from now on are checked against them.'
      : 'Limits applied: the defaults. Files loaded from now on are checked against them.')
      + (over.length ? ` Already loaded and over them (load again or raise the limits): ${over.join('; ')}.` : '');
  } catch (err) {
    if (err.code === 'aborted') return;
    showError(l.error, err, 'Not applied');
  } finally {
    l.apply.disabled = probeRunning();
    l.reset.disabled = probeRunning();
  }
}

/**
 * The files already loaded that the limits `lim` would refuse, as
 * "name (what > limit = value)": sizes the page knows without reading a
 * file again (file bytes; a CSV's rows, columns and cells).
 */
function loadedOverLimits(lim) {
  const out = [];
  const check = (name, what, value, key) => {
    if (value > lim[key]) out.push(`${name} (${fmtInt(value)} ${what} > ${key} = ${fmtInt(lim[key])})`);
  };
  if (state.model) check(state.model.name, 'bytes', state.model.bytes.byteLength, 'max_model_bytes');
  const csvs = [...AUDIT_ROLES.map((r) => state.audit[r]), state.data].filter((c) => c && c.info);
  for (const c of csvs) {
    const columns = c.info.features + (c.info.labelColumn ? 1 : 0);
    check(c.name, 'bytes', c.file.size, 'max_csv_bytes');
    check(c.name, 'rows', c.info.rows, 'max_csv_rows');
    check(c.name, 'columns', columns, 'max_csv_columns');
    check(c.name, 'cells', c.info.rows * columns, 'max_csv_cells');
  }
  return [...new Set(out)];
}

function setupLimits() {
  el.limits.apply.addEventListener('click', () => applyLimits(el.limits.json.value));
  el.limits.reset.addEventListener('click', () => applyLimits('{}'));
}

// ---------- wiring ----------

function setupInputs() {
  setupLimits();
  setupAudit();
  setupProbes();
  setupTeaching();
  el.modelInput.addEventListener('change', async () => {
    const files = el.modelInput.files;
    if (!files || files.length === 0) return;
    await loadFiles(files);
    el.modelInput.value = '';
  });
  el.dataInput.addEventListener('change', async () => {
    const file = el.dataInput.files && el.dataInput.files[0];
    if (!file) return;
    await loadCsvFile(file.name, file);
  });
  el.labelColumn.addEventListener('change', async () => {
    if (state.data) await loadCsvFile(state.data.name, state.data.file);
  });
  el.kindSelect.addEventListener('change', async () => {
    if (!state.model) return;
    const done = busy('Updating');
    try {
      const info = await bridge.call('setOutputKind', { kind: el.kindSelect.value });
      state.kind = el.kindSelect.value;
      state.model.info = info;
      if (pool) pool.invalidate();
      renderSummary(info);
      await predictIfReady();
    } catch (err) {
      if (err.code !== 'aborted') showError(el.modelError, err, 'Could not change the output kind');
    } finally {
      done();
    }
  });
  el.demoButton.addEventListener('click', () => loadDemo(el.demoSelect.value || 'digits'));
  el.demoSelect.addEventListener('change', showDemoDescription);
  el.cancel.addEventListener('click', abortAll);

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
    const files = ev.dataTransfer && ev.dataTransfer.files;
    if (files && files.length) await loadFiles(files);
  });
}

async function start() {
  setupInputs();
  clearPredictions();
  let module;
  try {
    module = await WebAssembly.compileStreaming(fetch(WASM_URL));
    bridge = new WorkerBridge(WORKER_URL, module, { onRespawn: restoreWorker, testHooks: TEST_HOOKS });
    pool = new ReferencePool(WORKER_URL, module, bridge, (b) => restoreInto(b));
    if (TEST_HOOKS) installTestHooks();
    const version = await bridge.ready;
    el.version.textContent = version;
    el.engine.textContent = 'Engine ready (WebAssembly, in a worker).';
    el.engine.dataset.state = 'ready';
  } catch (err) {
    el.engine.textContent = `The engine could not start: ${err.message}. The page needs a browser with WebAssembly SIMD and module workers (Chrome/Edge 91+, Firefox 114+, Safari 16.4+).`;
    el.engine.dataset.state = 'failed';
    for (const input of [el.modelInput, el.dataInput, el.demoButton, ...Object.values(el.audit.inputs)]) input.disabled = true;
    return;
  }
  try {
    settingRanges = JSON.parse(await bridge.call('settingRanges'));
    applySettingRanges();
  } catch (err) {
    showError(el.audit.settingsError, err, 'Setting ranges');
  }
  try {
    el.audit.guidanceOptions.value = await bridge.call('guidanceDefaults');
  } catch (err) {
    showError(el.audit.settingsError, err, 'Guidance defaults');
  }
  try {
    limitsDefaultText = await bridge.call('limitsDefaults');
    el.limits.json.value = limitsDefaultText;
  } catch (err) {
    showError(el.limits.error, err, 'Default limits');
  }
  await fillDemos();
  const demo = new URLSearchParams(location.search).get('demo');
  if (demo) await loadDemo(demo);
  // every worker the page may use starts now: an audit then requests nothing
  await pool.warm(ReferencePool.available());
  updateTeachEpsilon();
  document.body.dataset.ready = 'true';
}

/** ?test-hooks only: `window.__inspectorTest.panicOn(method)` makes the next call of `method` panic in the worker. */
function installTestHooks() {
  let next = null;
  const call = bridge.call.bind(bridge);
  bridge.call = (method, args = {}, opts = {}) => {
    if (method === next) {
      next = null;
      return call(method, { ...args, __testPanic: true }, opts);
    }
    return call(method, args, opts);
  };
  window.__inspectorTest = {
    panicOn(method) {
      next = method;
    },
    /** Wasm memory of every worker (the page's first) and this thread's JS heap, in bytes. */
    async memory() {
      const bridges = [bridge, ...(pool ? pool.helpers.map((h) => h.bridge) : [])];
      const wasm = await Promise.all(bridges.map((b) => b.call('memory').then((m) => m.wasmBytes, () => null)));
      return { wasm, mainJsHeap: performance.memory ? performance.memory.usedJSHeapSize : null };
    },
    get generation() {
      return bridge.generation;
    },
    /** The limits in force in every worker (the page's first), parsed. */
    async limits() {
      const bridges = [bridge, ...(pool ? pool.helpers.map((h) => h.bridge) : [])];
      return Promise.all(bridges.map((b) => b.call('limits').then((t) => JSON.parse(t))));
    },
  };
}

/**
 * The service worker (sw.js) keeps the app in Cache Storage so the page works
 * offline once loaded. Browsers only allow it in a secure context: https, or
 * http on this machine (127.0.0.1 / localhost).
 */
function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname);
  if (!(location.protocol === 'https:' || (location.protocol === 'http:' && local))) return;
  navigator.serviceWorker.register(new URL('sw.js', import.meta.url), { scope: './' }).catch((err) => {
    // not fatal: the page works online without it
    console.warn(`offline cache unavailable: ${err.message}`);
  });
}

registerServiceWorker();
start();
