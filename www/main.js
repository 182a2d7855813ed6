// The page: starts the engine and wires the sections together. No wasm
// runs on this thread: it only compiles the module once and hands it to
// the worker (bridge.js; the typed calls in api.js). The page keeps the
// model's bytes and every CSV as its File (or Blob: a demo's, a split's),
// so a worker respawned by Cancel, or a helper, gets them back; a CSV is
// never read whole here: workers stream it into the parser.
//
// The sections (one module each, over the one store of state.js):
//   model.js         1 and 5: the model, its file scan, a CSV's predictions
//   audit-inputs.js  2: the audit CSVs, roles, the membership split
//   audit.js         2: attacks, presets, settings, the run, the results
//   records.js       2: the records behind the report's tables
//   probes.js        3 and 4: model inversion, attribute inference
//   teaching.js      6: the teaching mode
//   limits.js        7: resource limits
//   demos.js         the bundled demos and dropped files
//   ui.js            shared rendering, errors, downloads, runJob

import { WorkerBridge } from './bridge.js';
import { WorkerApi } from './api.js';
import { ReferencePool } from './pool.js';
import { $, AUDIT_ROLES, core, onReady, refreshReady, state, workers } from './state.js';
import { abortAll, applySettingRanges, showError } from './ui.js';
import { setupModel } from './model.js';
import { el as inputsEl, populationHint, setupAuditInputs } from './audit-inputs.js';
import { buildAttackChecks, el as auditEl, setupAudit, updateAuditReady } from './audit.js';
import { setupRecords } from './records.js';
import { setupProbes, updateProbesReady } from './probes.js';
import { setupTeaching, updateTeachEpsilon, updateTeachReady } from './teaching.js';
import { setupLimits, showDefaultLimits, updateLimitsReady } from './limits.js';
import { fillDemos, loadDemo, loadFiles, setupDemos } from './demos.js';

const WASM_URL = new URL('pkg/privacy_inspector_bg.wasm', import.meta.url);
/** ?test-hooks: the end-to-end tests may ask a worker call to panic on purpose (window.__inspectorTest). */
const TEST_HOOKS = new URLSearchParams(location.search).has('test-hooks');
const WORKER_URL = new URL('worker.js', import.meta.url);

const el = {
  engine: $('engine-status'),
  version: $('version'),
  modelInput: $('model-input'),
  dropzone: $('model-dropzone'),
  dataInput: $('data-input'),
  demoButton: $('demo-button'),
  cancel: $('cancel-button'),
  modelError: $('model-error'),
};

/** A copy of `bytes` for a worker call, moved (transferred) rather than cloned a second time. */
function moved(bytes) {
  const copy = bytes.slice(0);
  return { copy, transfer: [copy] };
}

/** A respawned worker (after Cancel or a crash) has lost its state: restore it. */
function restoreWorker() {
  workers.restoring = (async () => {
    try {
      await restoreInto(workers.api.bridge, true);
    } catch (err) {
      if (err.code !== 'aborted') showError(el.modelError, err, 'The engine restarted but could not restore the model and the CSVs');
    }
  })();
  return workers.restoring;
}

/** Load the page's limits, model, output kind and CSVs into a worker (a respawned one, or a pool helper). */
async function restoreInto(bridge, withPredictionCsv = false) {
  const api = new WorkerApi(bridge);
  // the limits first: the files below load under them, as in this worker
  if (state.limits) await api.setLimits({ json: state.limits });
  if (state.model) {
    const m = moved(state.model.bytes);
    await api.loadModel({ bytes: m.copy, name: state.model.name }, { transfer: m.transfer });
    if (state.kind) await api.setOutputKind({ kind: state.kind });
  }
  if (withPredictionCsv && state.data) {
    await api.loadCsv({ file: state.data.file, labelColumn: state.data.labelColumn });
  }
  for (const role of AUDIT_ROLES) {
    const a = state.audit[role];
    if (!a) continue;
    await api.loadAuditCsv({ role, file: a.file, labelColumn: a.labelColumn });
  }
}

function setupInputs() {
  onReady(updateAuditReady);
  onReady(updateLimitsReady);
  onReady(updateProbesReady);
  onReady(updateTeachReady);
  setupLimits();
  setupModel();
  setupAuditInputs();
  setupAudit();
  setupRecords();
  setupProbes();
  setupTeaching();
  setupDemos();
  el.modelInput.addEventListener('change', async () => {
    const files = el.modelInput.files;
    if (!files || files.length === 0) return;
    await loadFiles(files);
    el.modelInput.value = '';
  });
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
  refreshReady();
}

/** What the core tells the page once: declared ranges, the attack catalogue, guidance defaults, default limits. */
async function askCore() {
  try {
    core.ranges = JSON.parse(await workers.api.settingRanges());
    applySettingRanges();
  } catch (err) {
    showError(auditEl.settingsError, err, 'Setting ranges');
  }
  try {
    core.catalogue = await workers.api.auditCatalogue();
    buildAttackChecks();
    if (!state.audit.population) inputsEl.counts.population.textContent = populationHint();
  } catch (err) {
    showError(auditEl.settingsError, err, 'Attack catalogue');
  }
  try {
    auditEl.guidanceOptions.value = await workers.api.guidanceDefaults();
  } catch (err) {
    showError(auditEl.settingsError, err, 'Guidance defaults');
  }
  await showDefaultLimits();
}

async function start() {
  setupInputs();
  try {
    const module = await WebAssembly.compileStreaming(fetch(WASM_URL));
    const bridge = new WorkerBridge(WORKER_URL, module, { onRespawn: restoreWorker, testHooks: TEST_HOOKS });
    workers.api = new WorkerApi(bridge);
    workers.pool = new ReferencePool(WORKER_URL, module, bridge, (b) => restoreInto(b));
    if (TEST_HOOKS) installTestHooks(bridge);
    const version = await bridge.ready;
    el.version.textContent = version;
    el.engine.textContent = 'Engine ready (WebAssembly, in a worker).';
    el.engine.dataset.state = 'ready';
  } catch (err) {
    el.engine.textContent = `The engine could not start: ${err.message}. The page needs a browser with WebAssembly SIMD and module workers (Chrome/Edge 91+, Firefox 114+, Safari 16.4+).`;
    el.engine.dataset.state = 'failed';
    for (const input of [el.modelInput, el.dataInput, el.demoButton, ...Object.values(inputsEl.inputs)]) input.disabled = true;
    return;
  }
  await askCore();
  await fillDemos();
  const demo = new URLSearchParams(location.search).get('demo');
  if (demo) await loadDemo(demo);
  // every worker the page may use starts now: an audit then requests nothing
  await workers.pool.warm(ReferencePool.available());
  updateTeachEpsilon();
  document.body.dataset.ready = 'true';
}

/** ?test-hooks only: `window.__inspectorTest.panicOn(method)` makes the next call of `method` panic in the worker. */
function installTestHooks(bridge) {
  let next = null;
  const call = bridge.call.bind(bridge);
  bridge.call = (method, args = {}, opts = {}) => {
    if (method === next) {
      next = null;
      return call(method, { ...args, __testPanic: true }, opts);
    }
    return call(method, args, opts);
  };
  const bridges = () => [bridge, ...(workers.pool ? workers.pool.helpers.map((h) => h.bridge) : [])];
  window.__inspectorTest = {
    panicOn(method) {
      next = method;
    },
    /** Wasm memory of every worker (the page's first) and this thread's JS heap, in bytes. */
    async memory() {
      const wasm = await Promise.all(bridges().map((b) => b.call('memory').then((m) => m.wasmBytes, () => null)));
      return { wasm, mainJsHeap: performance.memory ? performance.memory.usedJSHeapSize : null };
    },
    get generation() {
      return bridge.generation;
    },
    /** The limits in force in every worker (the page's first), parsed. */
    async limits() {
      return Promise.all(bridges().map((b) => b.call('limits').then((t) => JSON.parse(t))));
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
