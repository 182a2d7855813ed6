// Section 7, the resource limits: the JSON of the CLI's --limits file,
// parsed and checked by the core (`Limits::from_json`, the CLI's parser) in
// every worker.

import { WorkerApi } from './api.js';
import { $, AUDIT_ROLES, core, probeRunning, state, workers } from './state.js';
import { clearError, fmtInt, showError } from './ui.js';

const el = {
  json: $('limits-json'),
  apply: $('limits-apply'),
  reset: $('limits-reset'),
  status: $('limits-status'),
  error: $('limits-error'),
};

/**
 * Apply the limits `text` (JSON, the CLI's --limits format) to every worker:
 * the page's first (which checks the text), then each pool helper; a helper
 * respawned later gets them in restoreInto. On success the field shows the
 * limits in force (every field); on an error the user's text stays and the
 * coded error shows next to it. Nothing loaded is reloaded.
 */
async function applyLimits(text) {
  clearError(el.error);
  el.status.textContent = '';
  el.apply.disabled = true;
  el.reset.disabled = true;
  try {
    const applied = await workers.api.setLimits({ json: text });
    state.limits = applied === core.limitsDefault ? null : applied;
    await Promise.all((workers.pool ? workers.pool.helpers : []).map((h) => new WorkerApi(h.bridge).setLimits({ json: applied })));
    el.json.value = applied;
    const over = loadedOverLimits(JSON.parse(applied));
    el.status.textContent = (state.limits
      ? 'Limits applied. Files loaded from now on are checked against them.'
      : 'Limits applied: the defaults. Files loaded from now on are checked against them.')
      + (over.length ? ` Already loaded and over them (load again or raise the limits): ${over.join('; ')}.` : '');
  } catch (err) {
    if (err.code === 'aborted') return;
    showError(el.error, err, 'Not applied');
  } finally {
    updateLimitsReady();
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

/** The default limits in the field (once the engine is up). */
export async function showDefaultLimits() {
  try {
    core.limitsDefault = await workers.api.limitsDefaults();
    el.json.value = core.limitsDefault;
  } catch (err) {
    showError(el.error, err, 'Default limits');
  }
}

export function updateLimitsReady() {
  el.apply.disabled = probeRunning();
  el.reset.disabled = probeRunning();
}

export function setupLimits() {
  el.apply.addEventListener('click', () => applyLimits(el.json.value));
  el.reset.addEventListener('click', () => applyLimits('{}'));
}
