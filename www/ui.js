// Rendering helpers shared by the sections: numbers, coded errors (with a
// diagnostic for internal ones), the page-wide busy bar, the core's html
// fragments, sortable tables, report downloads, and `runJob`: the one
// run / progress / cancel / download flow of the audit, the inversion, the
// attribute inference and the teaching mode.

import { InspectorError } from './bridge.js';
import { $, AUDIT_ROLES, core, refreshReady, state, workers } from './state.js';

export function setText(testid, text) {
  const node = $(testid);
  if (node) node.textContent = text;
}

export function fmtInt(n) {
  return n == null ? 'unknown' : Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

/** Show a coded error in `box` ("context: message"), with a diagnostic when it is the inspector's fault. */
export function showError(box, err, context) {
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
    tool: `privacy-inspector ${$('version').textContent}`,
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

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

// ---------- the page-wide busy bar ----------

const bar = {
  progress: $('progress'),
  progressBar: document.getElementById('progress-bar'),
  progressLabel: document.getElementById('progress-label'),
};
let busyCount = 0;

/** Show the page-wide busy bar with `label`; returns the function that ends it. */
export function busy(label) {
  busyCount += 1;
  bar.progressLabel.textContent = `${label}\u2026`;
  bar.progressBar.removeAttribute('value');
  bar.progress.hidden = false;
  document.body.setAttribute('aria-busy', 'true');
  return () => {
    busyCount -= 1;
    if (busyCount === 0) {
      bar.progress.hidden = true;
      document.body.removeAttribute('aria-busy');
    }
  };
}

/** A worker's progress on the page-wide busy bar. */
export function onProgress({ done, total, label }) {
  if (total > 0) bar.progressBar.value = done / total;
  if (label) bar.progressLabel.textContent = `${label} (${fmtInt(done)} / ${fmtInt(total)})\u2026`;
}

// ---------- the core's html ----------

/** Insert the core's html fragment (escaped by its renderer, no script, no inline style); tables scroll sideways. */
export function insertFragment(box, html) {
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

/**
 * Make a table sortable: each column heading becomes a button; the first
 * click sorts descending by the column (each cell's data-sort number, else
 * its text), the next ascending. Headings with class "nosort" stay as they are.
 */
export function makeSortable(table) {
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

// ---------- downloads ----------

/** The Blob URLs of one section's downloads, revoked when replaced. */
export class Downloads {
  constructor() {
    /** @type {string[]} */
    this.urls = [];
  }

  /** A Blob URL for `text`, revoked with the others. */
  url(text, type) {
    const u = URL.createObjectURL(new Blob([text], { type }));
    this.urls.push(u);
    return u;
  }

  /**
   * Put a report's JSON and HTML on two links, named by the core's file
   * stem (revoking the previous ones); with `withTrainingData`, the
   * variants that hold training data, when the report has them.
   * @param {import('./api.js').ReportOut} out
   */
  setReport(out, jsonLink, htmlLink, withTrainingData = false) {
    this.revoke();
    const full = withTrainingData && out.reportJsonWithTrainingData;
    jsonLink.href = this.url(full ? out.reportJsonWithTrainingData : out.reportJson, 'application/json');
    jsonLink.download = `${out.fileStem}.json`;
    htmlLink.href = this.url(full ? out.htmlStandaloneWithTrainingData : out.htmlStandalone, 'text/html');
    htmlLink.download = `${out.fileStem}.html`;
  }

  revoke() {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }
}

/** Save `text` as the file `name` (a one-off link, clicked). */
export function saveText(downloads, text, type, name) {
  const link = document.createElement('a');
  link.href = downloads.url(text, type);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

// ---------- one long job ----------

/**
 * @typedef {object} JobView a section's progress and error elements
 * @property {HTMLElement} progress
 * @property {HTMLElement} progressText
 * @property {HTMLProgressElement} progressBar
 * @property {HTMLElement} error
 * @property {HTMLElement} [results] marked aria-busy while the job runs
 */

/** A progress handler writing "label (done / total)" and the bar of `view`. */
export function jobProgress(view) {
  return ({ done, total, label }) => {
    if (label) view.progressText.textContent = total > 0 ? `${label} (${fmtInt(done)} / ${fmtInt(total)})` : label;
    if (total > 0) view.progressBar.value = Math.min(1, done / total);
  };
}

/**
 * Run one long job of a section: mark it running (every Run button waits),
 * wait for a respawned worker's restore, show the section's progress, run
 * `run(progress)` and return its result; an error shows in `view.error`
 * as "failure: message" (a Cancel shows nothing) and returns null. The
 * section's Cancel button aborts every worker (abortAll).
 * @template T
 * @param {import('./state.js').Job} job
 * @param {JobView} view
 * @param {string} failure
 * @param {(progress: (p: import('./api.js').Progress) => void) => Promise<T>} run
 * @returns {Promise<T|null>}
 */
export async function runJob(job, view, failure, run) {
  clearError(view.error);
  state.running.add(job);
  refreshReady();
  // after a Cancel, the new worker must have the model and the CSVs again first
  await workers.restoring;
  view.progressText.textContent = 'Starting\u2026';
  view.progressBar.value = 0;
  view.progress.hidden = false;
  if (view.results) view.results.setAttribute('aria-busy', 'true');
  try {
    return await run(jobProgress(view));
  } catch (err) {
    if (err.code !== 'aborted') showError(view.error, err, failure);
    return null;
  } finally {
    state.running.delete(job);
    view.progress.hidden = true;
    if (view.results) view.results.removeAttribute('aria-busy');
    refreshReady();
  }
}

/** Stop every worker's job: the page's worker and the pool's helpers. */
export function abortAll() {
  if (workers.pool) workers.pool.abort();
  workers.api.bridge.abort();
}

// ---------- form values ----------

/** A number typed in a field, or an error naming it. */
export function parseNumber(text, what) {
  const t = String(text).trim();
  const v = Number(t);
  if (t === '' || !Number.isFinite(v)) throw new InspectorError('bad_setting', `${what} must be a number, got "${text}"`);
  return v;
}

/** A whole number typed in a field, or an error naming it (the range is the core's to check). */
export function parseWhole(text, what) {
  const v = parseNumber(text, what);
  if (!Number.isSafeInteger(v) || v < 0) throw new InspectorError('bad_setting', `${what} must be a whole number, got "${text}"`);
  return v;
}

/**
 * A whole number for the setting `key` (its name from the core's declared
 * range); the core checks the range when the settings go to it (and the
 * field's min/max come from the same table: `applySettingRanges`).
 */
export function parseSetting(text, key) {
  const r = core.ranges[key];
  return parseWhole(text, r ? r.what : key);
}

/** The form fields whose bounds are the core's declared ranges: element testid -> setting key. */
const RANGED_FIELDS = [
  ['audit-references', 'references'],
  ['recipe-epochs', 'recipe.fixedEpochs'],
  ['recipe-max-epochs', 'recipe.maxEpochs'],
  ['recipe-train-size', 'reference_train_size'],
  ['recipe-batch', 'recipe.batchSize'],
  ['inv-steps', 'steps'],
  ['inv-budget', 'query_budget'],
  ['teach-epochs', 'epochs'],
  ['teach-batch', 'batchSize'],
];

/** Set the min/max of the ranged form fields from the core's table. */
export function applySettingRanges() {
  for (const [id, key] of RANGED_FIELDS) {
    const input = $(id);
    const r = core.ranges[key];
    if (input && r) {
      input.min = String(r.min);
      input.max = String(r.max);
    }
  }
}
