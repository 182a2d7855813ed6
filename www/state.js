// The page's one state store: what the page holds (so a respawned worker or
// a pool helper can be given it again), what the core told it once at start
// (catalogue, ranges, default limits), the workers, and which long job is
// running. Every section module reads and writes this store and nothing
// else of another section's; after a change it calls `refreshReady()`, which
// runs every section's "update the Run button and note" function.

/** The element with `data-testid="id"`, or null. */
export const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/** The audit roles, in order, and their titles. */
export const AUDIT_ROLES = ['members', 'nonmembers', 'population'];
export const ROLE_TITLES = { members: 'Members', nonmembers: 'Non-members', population: 'Population' };

/**
 * @typedef {import('./api.js').ModelInfo} ModelInfo
 * @typedef {import('./api.js').DatasetInfo} DatasetInfo
 * @typedef {import('./api.js').ReportOut} ReportOut
 *
 * @typedef {object} LoadedModel
 * @property {string} name
 * @property {ArrayBuffer} bytes the file (a copy goes to each worker)
 * @property {ModelInfo} info
 *
 * @typedef {object} LoadedCsv
 * @property {string} name
 * @property {Blob} file the file or Blob (workers stream it again after a respawn)
 * @property {string} labelColumn
 * @property {DatasetInfo|null} info
 *
 * @typedef {LoadedCsv & {
 *   error: {code: string, message: string}|null,
 *   sniff: {header: string[], rows: string[][]},
 *   predictions: number|null,
 *   labelWhy: string,
 *   roleWhy: string,
 * }} AuditCsv
 *
 * @typedef {'audit'|'inversion'|'attribute'|'teaching'} Job
 */

/** Everything the page holds. */
export const state = {
  /** @type {LoadedModel|null} */
  model: null,
  /** the output kind chosen over the detected one ('' = detected) */
  kind: '',
  /** @type {{name: string, bytes: ArrayBuffer}|null} the file the model-file scan reads (any ONNX file) */
  scanFile: null,
  /** @type {{bytes: ArrayBuffer, url: string}|null} the metadata-free copy of `scanFile` */
  strip: null,
  /** @type {LoadedCsv|null} the CSV of section 5 (predictions) */
  data: null,
  /** @type {{rows: number, accuracy: number|null}|null} */
  lastPrediction: null,
  /** @type {{members: AuditCsv|null, nonmembers: AuditCsv|null, population: AuditCsv|null}} */
  audit: { members: null, nonmembers: null, population: null },
  /** @type {ReportOut|null} the last audit's output */
  lastAudit: null,
  /** @type {ReportOut|null} the last inversion's output */
  invOut: null,
  /**
   * The resource limits applied in the Limits section (JSON text as the
   * workers returned it), or null for the defaults. restoreInto sets them in
   * a respawned worker or a pool helper before anything loads.
   */
  limits: null,
  /** @type {Set<Job>} the long jobs in flight (at most one) */
  running: new Set(),
};

/** What the core said once at start (through the worker). */
export const core = {
  /** @type {import('./api.js').Catalogue} the attacks and the presets */
  catalogue: { attacks: [], presets: [] },
  /** @type {Record<string, {min: number, max: number, what: string}>} the declared ranges (`settings::ALL`) */
  ranges: {},
  /** @type {string|null} the default limits (JSON text) */
  limitsDefault: null,
  /** @type {Record<string, any>|null} the bundled demos (demo/demos.json) */
  demos: null,
};

/** The workers: the page's one (through the typed API) and the pool's helpers. */
export const workers = {
  /** @type {import('./api.js').WorkerApi} */
  api: null,
  /** @type {import('./pool.js').ReferencePool|null} */
  pool: null,
  /** settles when the last restore of a respawned worker has finished */
  restoring: Promise.resolve(),
};

/** Any long job (audit, inversion, attribute inference, teaching) in flight. */
export function probeRunning() {
  return state.running.size > 0;
}

/** The page's inputs changed: every pool helper must be restored before its next job. */
export function invalidateHelpers() {
  if (workers.pool) workers.pool.invalidate();
}

const readyHooks = [];

/** Register a section's "update the Run button and note" function. */
export function onReady(fn) {
  readyHooks.push(fn);
}

/** Refresh every section's Run button and note. */
export function refreshReady() {
  for (const fn of readyHooks) fn();
}
