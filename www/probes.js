// Sections 3 and 4: model inversion (MI-Face) and attribute inference on
// the audit CSVs. Each runs as one job (ui.js runJob); the core checks the
// settings and chooses the automatic bins (the CLI's --auto-bins).

import { $, ROLE_TITLES, probeRunning, state, workers } from './state.js';
import { abortAll, clearError, Downloads, insertFragment, parseNumber, parseSetting, runJob, showError } from './ui.js';
import { el as auditEl } from './audit.js';

const inv = {
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
};

const attr = {
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
};

const invDownloads = new Downloads();
const attrDownloads = new Downloads();

/** A new model: its classes in the class select, a default image shape for 64 flat features. */
export function modelChangedForProbes(info) {
  const n = info.numClasses;
  const opts = [new Option('all classes', 'all')];
  if (n != null) for (let c = 0; c < n; c++) opts.push(new Option(`class ${c}`, String(c)));
  inv.cls.replaceChildren(...opts);
  const input = info.summary.input;
  const flat = input.shape.length <= 2;
  inv.shape.value = flat && input.features === 64 ? '1,8,8' : '';
  inv.shape.disabled = !flat;
  inv.shape.title = flat ? '' : 'the model input is already image-shaped';
}

/** A demo's image shape in the inversion's shape field. */
export function setImageShape(shape) {
  inv.shape.value = shape.join(',');
}

// ---------- model inversion ----------

/** {classes, settings, inputShape} from the inversion form, or an Error naming a field that is not a number (the core checks the rest). */
function inversionSettings() {
  const steps = parseSetting(inv.steps.value, 'steps');
  const gamma = parseNumber(inv.gamma.value, 'gamma');
  const mode = inv.mode.value;
  const settings = { mode, steps, gamma, start: inv.start.value };
  if (mode === 'black_box') settings.query_budget = parseSetting(inv.budget.value, 'query_budget');
  let inputShape = null;
  const shapeText = inv.shape.value.trim();
  if (!inv.shape.disabled && shapeText !== '') {
    inputShape = shapeText.split(/[\s,x]+/).filter(Boolean).map((d) => parseSetting(d, 'input_shape'));
  }
  const classes = inv.cls.value === 'all' ? [] : [Number(inv.cls.value)];
  return { classes, settings, inputShape };
}

function updateInversionReady() {
  inv.run.disabled = !state.model || probeRunning();
  inv.budget.disabled = inv.mode.value !== 'black_box';
  if (state.running.has('inversion')) inv.readyNote.textContent = 'Running\u2026';
  else if (!state.model) inv.readyNote.textContent = 'Load a model first.';
  else if (probeRunning()) inv.readyNote.textContent = 'Another probe is running.';
  else {
    const sets = ['members', 'nonmembers'].filter((r) => state.audit[r]).map((r) => ROLE_TITLES[r].toLowerCase());
    inv.readyNote.textContent = sets.length
      ? `Ready: uses the ${sets.join(' and ')} CSV${sets.length > 1 ? 's' : ''}.`
      : 'Ready. Without the CSVs of section 2 there is no data mean and no recognition check.';
  }
}

function setInversionDownloads() {
  invDownloads.setReport(state.invOut, inv.downloadJson, inv.downloadHtml, auditEl.includeTraining.checked);
}

export async function runInversionNow() {
  clearError(inv.settingsError);
  clearError(inv.error);
  let args;
  try {
    args = inversionSettings();
  } catch (err) {
    showError(inv.settingsError, err, 'Settings');
    return;
  }
  const out = await runJob('inversion', inv, 'The inversion failed', (progress) => workers.api.runInversion(args, { onProgress: progress }));
  if (!out) return;
  state.invOut = out;
  setInversionDownloads();
  auditEl.includeTraining.disabled = !out.reportJsonWithTrainingData;
  insertFragment(inv.results, out.html);
  inv.resultsPanel.hidden = false;
}

// ---------- attribute inference ----------

/** The members CSV's feature columns in the sensitive column select (keeps the choice when it still exists). */
export function fillAttributeColumns(names) {
  const keep = attr.column.value;
  attr.column.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) attr.column.value = keep;
}

/** The chosen sensitive column ('' when none). */
export function attributeColumn() {
  return attr.column.value;
}

/** The bin edges typed, or null when the field is empty. */
function attributeBins() {
  const t = attr.bins.value.trim();
  if (t === '') return null;
  return t.split(/[\s,;]+/).filter(Boolean).map((x) => parseNumber(x, 'each bin edge'));
}

function updateAttributeReady() {
  const missing = [];
  if (!state.model) missing.push('a model');
  if (!state.audit.members) missing.push('members');
  if (!state.audit.nonmembers) missing.push('non-members');
  attr.run.disabled = missing.length > 0 || probeRunning() || !attr.column.value;
  attr.autoBins.disabled = missing.length > 0 || probeRunning() || !attr.column.value;
  if (state.running.has('attribute')) attr.readyNote.textContent = 'Running\u2026';
  else if (missing.length) attr.readyNote.textContent = `Load ${missing.join(', ').replace(/, ([^,]*)$/, ' and $1')} first (section 2).`;
  else if (probeRunning()) attr.readyNote.textContent = 'Another probe is running.';
  else attr.readyNote.textContent = 'Ready.';
}

/**
 * The core's automatic bins of the chosen column in the bins field
 * (`attribute::auto_bins`: quartiles of every loaded record, members,
 * non-members and population, as the CLI's --auto-bins), each edge as the
 * shortest text that reads back as the same number.
 */
export async function fillAutoBins() {
  clearError(attr.error);
  try {
    const edges = await workers.api.attributeAutoBins({ column: attr.column.value });
    attr.bins.value = edges.map((x) => String(x)).join(',');
  } catch (err) {
    if (err.code !== 'aborted') showError(attr.error, err, 'Automatic bins');
  }
}

/** Run the attribute inference; with `autoBins`, an empty bins field first gets the core's automatic bins. */
export async function runAttributeNow({ autoBins = false } = {}) {
  clearError(attr.error);
  if (autoBins && attr.bins.value.trim() === '') await fillAutoBins();
  let settings;
  const column = attr.column.value;
  try {
    const bins = attributeBins();
    settings = bins ? { bins } : {};
  } catch (err) {
    showError(attr.error, err, 'Bin edges');
    return;
  }
  const out = await runJob('attribute', attr, `Attribute inference on "${column}" failed`, (progress) => workers.api.runAttribute({ column, settings }, { onProgress: progress }));
  if (!out) return;
  attrDownloads.setReport(out, attr.downloadJson, attr.downloadHtml);
  insertFragment(attr.results, out.html);
  attr.resultsPanel.hidden = false;
}

export function updateProbesReady() {
  updateInversionReady();
  updateAttributeReady();
}

export function setupProbes() {
  inv.run.addEventListener('click', runInversionNow);
  inv.cancel.addEventListener('click', abortAll);
  auditEl.includeTraining.addEventListener('change', () => {
    if (state.invOut) setInversionDownloads();
  });
  inv.mode.addEventListener('change', updateInversionReady);
  attr.run.addEventListener('click', () => runAttributeNow());
  attr.cancel.addEventListener('click', abortAll);
  attr.autoBins.addEventListener('click', fillAutoBins);
  attr.column.addEventListener('change', () => {
    clearError(attr.error);
    updateAttributeReady();
  });
  updateProbesReady();
}
