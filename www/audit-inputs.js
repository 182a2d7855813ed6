// Section 2's inputs: the members, non-members and population CSVs (each
// with why it has its role and label column, menus to change both, a
// preview), one CSV split on a membership column (by the core's CSV
// parser), and their status against the model as the worker reports it.

import { InspectorError } from './bridge.js';
import { guessLabelColumn, membershipColumn, predictionColumns, SNIFF_BYTES, sniffCsv } from './inputs.js';
import { $, AUDIT_ROLES, ROLE_TITLES, core, invalidateHelpers, probeRunning, refreshReady, state, workers } from './state.js';
import { busy, clearError, fmtInt, onProgress, showError } from './ui.js';
import { fillSliceColumns } from './audit.js';
import { fillAttributeColumns } from './probes.js';
import { rescan } from './model.js';

export const el = {
  inputs: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-input`)])),
  counts: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-counts`)])),
  errors: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-error`)])),
  extras: Object.fromEntries(AUDIT_ROLES.map((r) => [r, $(`${r}-extra`)])),
  membershipInput: $('membership-input'),
  membershipNote: $('membership-note'),
  membershipError: $('membership-error'),
  populationClear: $('population-clear'),
  auditError: $('audit-error'),
};

/** The first bytes of a CSV, enough for the guesses (header, first rows). */
async function csvHead(file) {
  return file.slice(0, SNIFF_BYTES).arrayBuffer();
}

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
    el.counts[role].textContent = `${a.name}: ${fmtCounts(s.info)}`;
    if (role === 'members') {
      fillAttributeColumns(s.info.featureNames);
      fillSliceColumns(s.info.featureNames);
    }
    if (s.error) {
      const model = state.model ? state.model.name : 'the model';
      showError(el.errors[role], s.error, `${a.name} does not fit ${model}`);
    } else {
      clearError(el.errors[role]);
    }
  }
  refreshReady();
}

/** Ask the worker again how the audit CSVs fit the model (after the model changes). */
export async function refreshAuditStatus() {
  if (!AUDIT_ROLES.some((r) => state.audit[r])) return;
  try {
    applyAuditStatus(await workers.api.auditStatus());
  } catch (err) {
    if (err.code !== 'aborted') showError(el.auditError, err, 'Could not check the audit CSVs');
  }
}

/**
 * Read one audit CSV into `role`. The label column is the one the user chose
 * for this file, else the guess from its header and first rows (label,
 * target, class, ... or a whole-number last column). `how.why` says why the
 * file got this role (shown next to it, with a menu to move it).
 */
export async function loadAuditCsv(role, name, file, how = {}) {
  const box = el.errors[role];
  const sniff = sniffCsv(await csvHead(file), 50);
  const guess = guessLabelColumn(sniff.header, sniff.rows);
  const labelColumn = how.labelColumn || guess.column || 'label';
  const done = busy(`Reading ${name}`);
  try {
    const status = await workers.api.loadAuditCsv({ role, file, labelColumn }, { onProgress });
    state.audit[role] = {
      name, file, labelColumn, info: null, error: null, sniff,
      // K when the header is a predictions file's (class_0..class_{K-1} + label)
      predictions: predictionColumns(sniff.header, labelColumn),
      labelWhy: how.labelColumn ? 'chosen' : guess.column ? `guessed: ${guess.why}` : 'default',
      roleWhy: how.why || 'chosen by you',
    };
    invalidateHelpers();
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
    if (role === 'population') el.populationClear.hidden = !state.audit.population;
    renderAuditExtra(role);
    refreshReady();
  }
}

/** A table of the first rows of a CSV (at most 8 columns). */
function previewTable(role, sniff) {
  const table = document.createElement('table');
  table.dataset.testid = `${role}-preview`;
  const cols = Math.min(sniff.header.length, 8);
  const head = document.createElement('tr');
  for (const h of [...sniff.header.slice(0, cols), ...(sniff.header.length > cols ? ['\u2026'] : [])]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    head.append(th);
  }
  const body = sniff.rows.slice(0, 5).map((r) => {
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
  return table;
}

/** Under each audit CSV: why it has this role and label column, menus to change both, a preview. */
function renderAuditExtra(role) {
  const box = el.extras[role];
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
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  wrap.append(previewTable(role, a.sniff));
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
  await workers.api.clearAuditCsv({ role });
  state.audit[role] = null;
  invalidateHelpers();
  el.inputs[role].value = '';
  el.counts[role].textContent = role === 'population' ? populationHint() : 'not loaded';
  clearError(el.errors[role]);
  renderAuditExtra(role);
}

/** What an empty population means: the attacks of the core's catalogue that need one. */
export function populationHint() {
  const need = core.catalogue.attacks.filter((a) => a.needsPopulation).map((a) => a.title);
  return need.length ? `not loaded: ${need.join(', ')} need it` : 'not loaded';
}

/** One CSV with a 0/1 membership column: split by the core into members and non-members. */
export async function loadMembershipCsv(name, file) {
  clearError(el.membershipError);
  const sniff = sniffCsv(await csvHead(file));
  const col = membershipColumn(sniff.header, sniff.rows);
  if (!col) {
    showError(el.membershipError, new InspectorError('no_membership_column', `none of its columns (${sniff.header.slice(0, 12).join(', ')}) is a 0/1 column named member, is_member, membership or in_training`), `${name} cannot be split`);
    return;
  }
  let parts;
  try {
    parts = await workers.api.splitByMembership({ file, column: col.column });
  } catch (err) {
    if (err.code !== 'aborted') showError(el.membershipError, err, `${name} cannot be split`);
    return;
  }
  const why = `rows of ${name} with ${col.column} = `;
  await loadAuditCsv('members', `${name} (${col.column}=1)`, new Blob([parts.members]), { why: `${why}1` });
  await loadAuditCsv('nonmembers', `${name} (${col.column}=0)`, new Blob([parts.nonmembers]), { why: `${why}0` });
  el.membershipNote.textContent = `Split ${name} on "${col.column}": ${fmtInt(parts.memberRows)} members, ${fmtInt(parts.nonmemberRows)} non-members.`;
}

async function clearPopulation() {
  try {
    await forgetAuditCsv('population');
  } catch (err) {
    if (err.code !== 'aborted') showError(el.errors.population, err, 'Could not remove the population');
    return;
  }
  el.populationClear.hidden = true;
  refreshReady();
}

/** Disable the inputs while a job runs. */
export function updateAuditInputsReady() {
  for (const role of AUDIT_ROLES) el.inputs[role].disabled = probeRunning();
  el.populationClear.disabled = probeRunning();
  el.membershipInput.disabled = probeRunning();
  for (const sel of document.querySelectorAll('.extra-controls select')) sel.disabled = probeRunning();
}

export function setupAuditInputs() {
  for (const role of AUDIT_ROLES) {
    const input = el.inputs[role];
    input.addEventListener('change', async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      await loadAuditCsv(role, file.name, file, { why: 'chosen by you' });
    });
  }
  el.populationClear.addEventListener('click', clearPopulation);
  el.membershipInput.addEventListener('change', async () => {
    const file = el.membershipInput.files && el.membershipInput.files[0];
    if (!file) return;
    await loadMembershipCsv(file.name, file);
    el.membershipInput.value = '';
  });
}
