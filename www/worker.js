// The wasm worker: owns the one wasm instance and everything it holds (the
// loaded model, the parsed CSV). The page talks to it only through
// bridge.js: {type:'call', id, method, args} in; {type:'progress'|'result'|
// 'error', id, ...} out. The WebAssembly.Module arrives already compiled in
// the first message ({type:'init', module}).

//
// Model inversion and attribute inference reuse the audit CSVs: the core
// takes their optional DatasetHandle arguments by value (and frees them), so
// each run gets a copy of the parsed records (DatasetHandle.copy), as the population does in
// runAudit.
//
// The membership audit: the three audit CSVs (members, non-members, optional
// population) live here too, each parsed once and checked against the model
// (feature count, reshaping, labels within the model's classes) so a bad file
// is reported next to its own input before anything runs. `runAudit` calls
// the core synchronously; its progress callback posts progress messages, and
// Cancel is terminate + respawn (bridge.js).

import {
  attributeAutoBins, auditCatalogue, checkAuditSet as coreCheckAuditSet, checkAuditSettings, CsvParser, currentLimits, dpAudit, guidanceDefaults, initSync, lastPanic,
  limitsDefaults, loadModel, parseCsv, recordsCsv, ReferenceSet, referenceJobs, runAttribute, runAudit, runInversion, runPredictionsAudit, scanModel,
  setLimits, settingRanges, splitByMembership, stripMetadata, testPanic, trainPlan, trainReference, trainTarget, version,
} from './pkg/privacy_inspector.js';

let model = null; // ModelHandle
let modelName = '';
let modelBytes = null; // Uint8Array of the loaded model's file, for the model-file scan
let dataset = null; // DatasetHandle
let references = null; // ReferenceSet: models other workers trained for the next runAudit
let poisoned = false;
let wasmMemory = null; // the instance's WebAssembly.Memory, for the memory figure
let testHooks = false; // ?test-hooks: a call may ask for a deliberate panic

const AUDIT_ROLES = ['members', 'nonmembers', 'population'];
const ROLE_NAMES = { members: 'members', nonmembers: 'non-members', population: 'population' };
/** role -> {handle: DatasetHandle, labelColumn} */
const audit = { members: null, nonmembers: null, population: null };

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

function datasetInfo(ds = dataset) {
  return {
    rows: ds.rows,
    features: ds.features,
    featureNames: ds.featureNames,
    labelColumn: ds.labelColumn ?? null,
  };
}

/**
 * Parse a CSV `file` (a File or Blob) as it streams in: the text is never
 * held whole, here or in wasm memory; only the parsed rows are kept
 * (data::CsvPushParser). Progress is {done, total} in bytes, with the rows so
 * far in the label.
 */
async function streamCsv(file, labelColumn, progress) {
  if (!(file instanceof Blob)) throw coded('bad_argument', 'a CSV arrives as a File or Blob');
  const parser = new CsvParser(labelColumn || undefined, file.size);
  try {
    const reader = file.stream().getReader();
    let done = 0;
    let shown = 0;
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      try {
        parser.push(chunk.value);
      } catch (e) {
        reader.cancel().catch(() => {});
        throw e;
      }
      done += chunk.value.byteLength;
      if (done - shown >= 1 << 20 || done === file.size) {
        shown = done;
        progress({ done, total: file.size, label: `Reading the CSV: ${parser.rows.toLocaleString('en-US')} rows so far; bytes read` });
      }
    }
    return parser.finish();
  } finally {
    parser.free();
  }
}

function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * Check one audit CSV against the loaded model as the audit will (the
 * core's `checkAuditSet`: its records reshape to the model input and run,
 * its labels lie within the model's classes). Throws a coded error.
 */
function checkAuditSet(role, ds) {
  if (model) coreCheckAuditSet(model, ds, ROLE_NAMES[role]);
}

function auditStatus() {
  const out = {};
  for (const role of AUDIT_ROLES) {
    const entry = audit[role];
    if (!entry) {
      out[role] = null;
      continue;
    }
    let error = null;
    try {
      checkAuditSet(role, entry.handle);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw e;
      error = errorInfo(e);
    }
    out[role] = { info: datasetInfo(entry.handle), error };
  }
  return out;
}

function requireAuditInputs() {
  if (!model) throw coded('no_model', 'no model is loaded');
  for (const role of ['members', 'nonmembers']) {
    if (!audit[role]) throw coded('no_data', `no ${ROLE_NAMES[role]} CSV is loaded`);
  }
}

/** A fresh parse of the population (the core takes it by value), or undefined. */
function freshPopulation() {
  return audit.population ? audit.population.handle.copy() : undefined;
}

const methods = {
  /** Load a model from its bytes. The previous model stays active on failure. */
  loadModel({ bytes, name }) {
    const next = loadModel(new Uint8Array(bytes));
    if (model) model.free();
    model = next;
    modelName = name || '';
    modelBytes = new Uint8Array(bytes);
    return modelInfo();
  },

  setOutputKind({ kind }) {
    if (!model) throw Object.assign(new Error('no model is loaded'), { code: 'no_model' });
    model.setOutputKind(kind || undefined);
    return modelInfo();
  },

  /** Parse a CSV (a File or Blob). The previous dataset stays active on failure. */
  async loadCsv({ file, labelColumn }, progress) {
    const next = await streamCsv(file, labelColumn, progress);
    if (dataset) dataset.free();
    dataset = next;
    return datasetInfo();
  },

  /**
   * Parse one audit CSV (the label column is required). A file that cannot
   * be parsed leaves the previous one of this role in place; a file that
   * parses but does not fit the model is kept and its problem reported (it
   * may fit the next model), so the page can show it next to its input.
   */
  async loadAuditCsv({ role, file, labelColumn }, progress) {
    if (!AUDIT_ROLES.includes(role)) throw coded('bad_argument', `unknown audit input '${role}'`);
    const next = await streamCsv(file, labelColumn || 'label', progress);
    if (audit[role]) audit[role].handle.free();
    // the parsed records only: the probes borrow them (members, non-members) or get copies
    audit[role] = { handle: next, labelColumn: labelColumn || 'label' };
    return auditStatus();
  },

  /** Bytes of this worker's wasm memory (it grows and never shrinks: the high-water mark). */
  memory() {
    return { wasmBytes: wasmMemory ? wasmMemory.buffer.byteLength : 0 };
  },

  /** Forget one audit CSV (the optional population). */
  clearAuditCsv({ role }) {
    if (audit[role]) audit[role].handle.free();
    audit[role] = null;
    return auditStatus();
  },

  /** Every audit CSV's counts and its problem with the current model, if any. */
  auditStatus() {
    return auditStatus();
  },

  /**
   * Run the membership audit: `settings` is an AuditSettings object
   * (snake_case), `names` the input file names recorded in the report. The
   * reference models collected since the last run (addReference, or
   * trainReference with `keep`) are used and then forgotten; a set the
   * audit needs and does not find there, it trains itself.
   * Returns {report, reportJson, html, htmlStandalone}.
   */
  runAudit({ settings, names, guidance }, progress) {
    requireAuditInputs();
    // the core takes the reference set by value (and frees it)
    const precomputed = references && references.count > 0 ? references : undefined;
    if (references && !precomputed) references.free();
    references = null;
    // the members and non-members are lent to the core for the call (moved
    // in place, not copied) and come back after it; the population is taken
    // by value (the core frees it), so it gets a copy and the checked handle stays
    return runAudit(model, audit.members.handle, audit.nonmembers.handle, freshPopulation(), settings, names, (p) => {
      progress({ done: p.done, total: p.total, label: p.stage });
      return true;
    }, precomputed, guidance || undefined);
  },

  /**
   * The audit from predictions alone (no model): `files` holds the members,
   * non-members and optional population prediction CSVs (File or Blob;
   * small: a model's K outputs per record), `kind` 'probabilities' or
   * 'logits'. The core reads and checks them (the CLI's own code) and runs
   * the attacks that need only outputs and labels.
   */
  async runPredictionsAudit({ files, kind, labelColumn, settings, names, guidance }, progress) {
    const bytes = async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : undefined);
    const [m, n, p] = await Promise.all([bytes(files.members), bytes(files.nonmembers), bytes(files.population)]);
    if (!m || !n) throw coded('no_data', 'an audit from predictions needs the members and non-members prediction CSVs');
    return runPredictionsAudit(m, n, p, kind, labelColumn || undefined, settings, names, (pr) => {
      progress({ done: pr.done, total: pr.total, label: pr.stage });
      return true;
    }, guidance || undefined);
  },

  /** Forget the reference models collected for the next runAudit. */
  clearReferences() {
    if (references) references.free();
    references = null;
    return {};
  },

  /**
   * Keep reference model `index` of the `mode` set (the JSON text another
   * worker's `trainReference` returned) for the next runAudit; parsed at
   * once, so the text is dropped here and in the page.
   */
  addReference({ mode, index, json }) {
    if (!references) references = new ReferenceSet();
    references.add(mode, index, json);
    return { count: references.count };
  },

  /** The reference sets an audit with `settings` trains: [{mode, k}]. */
  referenceJobs({ settings }) {
    requireAuditInputs();
    return referenceJobs(model, audit.members.handle, audit.nonmembers.handle, freshPopulation(), settings);
  },

  /**
   * Train reference model `index` of the `mode` set; returns its JSON text
   * (or, with `keep`, adds it to this worker's reference set). Any worker
   * holding the same model and CSVs trains the same model.
   */
  trainReference({ settings, mode, index, keep }, progress) {
    requireAuditInputs();
    const json = trainReference(model, audit.members.handle, audit.nonmembers.handle, freshPopulation(), settings, mode, index, (p) => {
      progress({ done: p.done, total: p.total, label: p.stage });
      return true;
    });
    // `keep`: this worker runs the audit, so its own models stay here
    if (keep) return methods.addReference({ mode, index, json });
    return { json };
  },

  /**
   * Model inversion: `classes` (empty = all), `settings` an InversionConfig
   * object (snake_case), `inputShape` an array or null. Uses the members /
   * non-members CSVs when loaded. Returns {report, reportJson, html, htmlStandalone}.
   */
  runInversion({ classes, settings, inputShape }, progress) {
    if (!model) throw coded('no_model', 'no model is loaded');
    const fresh = (role) => (audit[role] ? audit[role].handle.copy() : undefined);
    return runInversion(
      model,
      Uint32Array.from(classes || []),
      settings,
      inputShape && inputShape.length ? inputShape : undefined,
      undefined,
      fresh('members'),
      fresh('nonmembers'),
      (p) => {
        progress({ done: p.done, total: p.total, label: p.stage });
        return true;
      },
    );
  },

  /**
   * Attribute inference on the sensitive feature column `column`, `settings`
   * an AttributeConfig object (snake_case). Needs members and non-members;
   * the population, when loaded, is the reference set.
   */
  runAttribute({ column, settings }, progress) {
    if (!model) throw coded('no_model', 'no model is loaded');
    for (const role of ['members', 'nonmembers']) {
      if (!audit[role]) throw coded('no_data', `no ${ROLE_NAMES[role]} CSV is loaded`);
    }
    const pop = freshPopulation();
    return runAttribute(model, audit.members.handle, audit.nonmembers.handle, pop, column, settings, (p) => {
      progress({ done: p.done, total: p.total, label: p.stage });
      return true;
    });
  },

  /** The per-record CSV of a report (its JSON text, as runAudit returned it), written by the core. */
  recordsCsv({ json }) {
    return recordsCsv(json);
  },

  /** One record of an audit CSV (0-based row index): its features and label, for the report's "most exposed" rows. */
  record({ role, index }) {
    if (!AUDIT_ROLES.includes(role)) throw coded('bad_argument', `unknown audit input '${role}'`);
    const ds = audit[role] && audit[role].handle;
    if (!ds) throw coded('no_data', `no ${ROLE_NAMES[role]} CSV is loaded`);
    if (!Number.isInteger(index) || index < 0 || index >= ds.rows) {
      throw coded('bad_argument', `row ${index} is outside the ${ROLE_NAMES[role]} CSV's ${ds.rows} rows`);
    }
    const f = ds.features;
    const features = ds.data().slice(index * f, (index + 1) * f);
    const labels = ds.labels();
    return { role, index, features, featureNames: ds.featureNames, label: labels ? labels[index] : null };
  },

  /**
   * Teaching mode: train the `template` model (ONNX bytes) on the `members`
   * CSV bytes with `config` (TrainConfig, snake_case) and `seed`; returns
   * {bytes, report}: the trained model's ONNX bytes and the training report.
   */
  trainTarget({ template, members, config, seed, note }, progress) {
    const ds = parseCsv(new Uint8Array(members), 'label');
    try {
      const out = trainTarget(new Uint8Array(template), ds, config, BigInt(seed), note || '', (p) => {
        progress({ done: p.epoch, total: p.epochs, label: `epoch ${p.epoch}/${p.epochs}, loss ${p.loss.toFixed(4)}, training accuracy ${(100 * p.train_accuracy).toFixed(1)}%` });
        return true;
      });
      return { bytes: out.bytes, report: out.report };
    } finally {
      ds.free();
    }
  },

  /**
   * The one-run check of a DP-SGD claim: `template` retrained with
   * `config.train` on the labelled `members` plus `config.canaries`
   * mislabelled canaries (the core's DpAuditConfig, camelCase); returns the
   * core's DpAuditReport.
   */
  dpAudit({ template, members, config }, progress) {
    const ds = parseCsv(new Uint8Array(members), 'label');
    try {
      return dpAudit(new Uint8Array(template), ds, config, (p) => {
        progress({ done: p.done, total: p.total, label: p.stage });
        return true;
      });
    } finally {
      ds.free();
    }
  },

  /**
   * The model-file scan (stored training records, metadata) of any ONNX
   * file, loadable by the engine or not, without records: {scan, scanJson, html}.
   */
  scanBytes({ bytes, guidance }) {
    return scanModel(new Uint8Array(bytes), undefined, undefined, undefined, guidance || undefined);
  },

  /**
   * What a training run with `config` (TrainConfig, camelCase) on `records`
   * records will spend, checked by the core: {schedule, dp}.
   */
  trainPlan({ config, records }) {
    return trainPlan(config, records);
  },

  /** The attack catalogue and the presets: {attacks, presets}. */
  auditCatalogue() {
    return auditCatalogue();
  },

  /** The core's check of audit settings (AuditSettings, snake_case) and guidance options; throws its error. */
  checkAuditSettings({ settings, guidance }) {
    checkAuditSettings(settings, guidance || undefined);
    return {};
  },

  /**
   * One CSV (File or Blob) split on its 0/1 membership column by the core's
   * CSV parser: {members, nonmembers (CSV texts), memberRows, nonmemberRows}.
   */
  async splitByMembership({ file, column }) {
    if (!(file instanceof Blob)) throw coded('bad_argument', 'a CSV arrives as a File or Blob');
    return splitByMembership(new Uint8Array(await file.arrayBuffer()), column);
  },

  /**
   * Set this worker's resource limits (src/limits.rs): `json` is the JSON
   * text of the CLI's `--limits` file (fields left out take their defaults).
   * Every later load, parse, scan and audit uses them; what is loaded stays
   * as it was loaded. Returns the limits now in force (JSON text, every
   * field); a bad text throws `bad_limits` and changes nothing.
   */
  setLimits({ json }) {
    return setLimits(String(json ?? ''));
  },

  /** The default limits (JSON text, every field). */
  limitsDefaults() {
    return limitsDefaults();
  },

  /** The limits now in force in this worker (JSON text). */
  limits() {
    return currentLimits();
  },

  /** Every guidance threshold with its default (JSON text). */
  guidanceDefaults() {
    return guidanceDefaults();
  },

  /** The declared range of every typed number (JSON text, `settings::ALL`). */
  settingRanges() {
    return settingRanges();
  },

  /** The scan of a model file (default: the loaded model) against the loaded audit CSVs. */
  scan({ bytes, guidance } = {}) {
    const file = bytes ? new Uint8Array(bytes) : modelBytes;
    if (!file) throw coded('no_model', 'no model is loaded');
    const flat = (role) => (audit[role] ? audit[role].handle.data() : undefined);
    return scanModel(file, flat('members'), flat('nonmembers'), flat('population'), guidance || undefined);
  },

  /** A copy of the model file without metadata (doc strings, properties, producer, flagged names). */
  stripMetadata({ bytes }) {
    return { bytes: stripMetadata(new Uint8Array(bytes)) };
  },

  /**
   * The automatic bin edges of the sensitive column `column` (the core's
   * auto_bins: quartiles of every loaded record, as the CLI's --auto-bins).
   */
  attributeAutoBins({ column }) {
    requireAuditInputs();
    return Array.from(attributeAutoBins(model, audit.members.handle, audit.nonmembers.handle, freshPopulation(), column));
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
      wasmMemory = initSync({ module: msg.module }).memory;
      testHooks = msg.testHooks === true;
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
  const fail = (e) => {
    // A trap (Rust panic, out of memory) leaves the instance unusable.
    const error = errorInfo(e);
    if (e instanceof WebAssembly.RuntimeError) {
      poisoned = true;
      let panic = '';
      try {
        panic = lastPanic();
      } catch (_) {
        // the instance may not answer at all after the trap
      }
      error.code = 'internal_panic';
      error.message = `the engine crashed in ${method}: ${panic || e.message}`;
      error.diagnostic = { method, panic, trap: e.message, stack: String(e.stack || '').split('\n').slice(0, 12).join('\n') };
    }
    self.postMessage({ type: 'error', id, error, poisoned });
  };
  const reply = (result) => {
    const transfer = [];
    if (result && typeof result === 'object') {
      for (const v of Object.values(result)) {
        if (ArrayBuffer.isView(v)) transfer.push(v.buffer);
      }
    }
    self.postMessage({ type: 'result', id, result }, transfer);
  };
  try {
    if (testHooks && args && args.__testPanic) testPanic(method);
    const result = fn(args || {}, (progress) => self.postMessage({ type: 'progress', id, progress }));
    // the CSV loads are async (they stream the file); everything else answers at once
    if (result instanceof Promise) result.then(reply, fail);
    else reply(result);
  } catch (e) {
    fail(e);
  }
};
