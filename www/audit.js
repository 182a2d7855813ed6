// Section 2's audit: the attack menu and the presets (the core's catalogue),
// the settings form (checked by the core before anything runs), the run
// (reference models on the pool's workers, then the attacks in the page's
// worker, or an audit from predictions alone), its two-step progress, and
// the results with their downloads.

import { InspectorError } from './bridge.js';
import { ReferencePool } from './pool.js';
import { $, AUDIT_ROLES, ROLE_TITLES, core, probeRunning, state, workers } from './state.js';
import { abortAll, clearError, Downloads, fmtInt, insertFragment, makeSortable, parseNumber, parseSetting, parseWhole, runJob, showError } from './ui.js';
import { updateAuditInputsReady } from './audit-inputs.js';
import { addRecordImages } from './records.js';
import { attributeColumn, runAttributeNow, runInversionNow } from './probes.js';

export const el = {
  workers: $('audit-workers'),
  eta: $('audit-eta'),
  includeTraining: $('include-training-data'),
  claimedEpsilon: $('claimed-epsilon'),
  guidanceOptions: $('guidance-options'),
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
  sliceBy: $('audit-slice-by'),
};

/** The audit report's downloads (and the per-record CSV's). */
export const auditDownloads = new Downloads();

// ---------- attacks and presets (the core's catalogue) ----------

/** A preset's menu entry, from what the core says it does. */
function presetLabel(p) {
  const all = p.attacks.length === core.catalogue.attacks.length;
  const refs = core.catalogue.attacks.some((a) => a.needsReferences && p.attacks.includes(a.id));
  return `${p.title}: ${all ? 'every attack' : `${p.attacks.length} attacks`}, ${refs && p.references != null ? `${p.references} references` : 'no reference models'}${p.followUp ? ', then inversion and attribute inference' : ''}`;
}

/** The preset menu and the attack check boxes, from the core's catalogue (the first preset chosen). */
export function buildAttackChecks() {
  const custom = [...el.preset.options].find((o) => o.value === 'custom');
  el.preset.replaceChildren(...core.catalogue.presets.map((p) => new Option(presetLabel(p), p.id)), custom);
  el.preset.value = core.catalogue.presets.length ? core.catalogue.presets[0].id : 'custom';
  const items = core.catalogue.attacks.map((a) => {
    const label = document.createElement('label');
    label.className = 'check';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = a.id;
    box.dataset.testid = `audit-attack-${a.id}`;
    box.checked = a.quick;
    const name = document.createElement('span');
    name.textContent = a.title;
    label.append(box, ' ', name);
    return label;
  });
  el.checks.replaceChildren(...items);
  applyPreset();
}

function checkedAttacks() {
  return [...el.checks.querySelectorAll('input[type="checkbox"]')].filter((b) => b.checked).map((b) => b.value);
}

/** The core's preset `id`, or undefined for the custom selection. */
function preset(id) {
  return core.catalogue.presets.find((p) => p.id === id);
}

function applyPreset() {
  const p = preset(el.preset.value);
  if (p) {
    for (const box of el.checks.querySelectorAll('input[type="checkbox"]')) box.checked = p.attacks.includes(box.value);
    if (p.references != null) el.references.value = String(p.references);
  }
  el.attackList.hidden = el.preset.value !== 'custom';
  updateAuditReady();
}

// ---------- settings ----------

/** The AuditSettings object (snake_case) from the form, or an Error naming the field (the core checks ranges). */
function auditSettings() {
  const attacks = checkedAttacks();
  if (attacks.length === 0) throw new InspectorError('bad_setting', 'choose at least one attack');
  const references = parseSetting(el.references.value, 'references');
  const seed = parseWhole(el.seed.value, 'the seed');
  const delta = parseNumber(el.delta.value, 'delta');
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
  const size = $('recipe-train-size').value.trim();
  const referenceTrainSize = size === '' ? null : parseSetting(size, 'reference_train_size');
  const settings = { attacks, references, seed, stats: { delta }, recipe, reference_train_size: referenceTrainSize };
  const sliceBy = el.sliceBy.value;
  if (sliceBy !== '') {
    // the column's index among the members' features (the core slices the flat records)
    const names = state.audit.members ? state.audit.members.info.featureNames : [];
    settings.slice = { column: names.indexOf(sliceBy), name: sliceBy };
  }
  return settings;
}

/**
 * The settings and guidance options from the form, checked by the core
 * (`AuditSettings::validate`, `GuidanceOptions::validate`); throws the
 * first problem.
 */
export async function checkedAuditSettings() {
  const settings = auditSettings();
  const guidance = guidanceOptions();
  await workers.api.checkAuditSettings({ settings, guidance });
  return { settings, guidance };
}

/** The guidance options from the form (claimed epsilon, thresholds JSON), or an Error naming the field. */
export function guidanceOptions() {
  const text = el.guidanceOptions.value.trim();
  let opts = {};
  if (text) {
    try {
      opts = JSON.parse(text);
    } catch (err) {
      throw new InspectorError('bad_setting', `the guidance thresholds are not valid JSON: ${err.message}`);
    }
  }
  const claimed = el.claimedEpsilon.value.trim();
  if (claimed !== '') opts.claimed_epsilon = parseNumber(claimed, 'the claimed epsilon');
  return opts;
}

/** The members' feature columns as the "Leakage by subgroup" menu (none first). */
export function fillSliceColumns(names) {
  const keep = el.sliceBy.value;
  el.sliceBy.replaceChildren(new Option('none', ''), ...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) el.sliceBy.value = keep;
}

/** The number of workers chosen (the select's "all" = every logical core the browser reports). */
function workerCount() {
  const v = el.workers.value;
  return v === 'all' ? ReferencePool.available() : Math.max(1, Number(v) || 1);
}

function fillWorkerChoices() {
  const n = ReferencePool.available();
  const sel = el.workers;
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

export function updateAuditReady() {
  const missing = [];
  const fromPredictions = predictionsAudit();
  el.predictionsKindField.hidden = !fromPredictions;
  el.predictionsNote.hidden = !fromPredictions;
  if (!state.model && !fromPredictions) missing.push('a model');
  if (!state.audit.members) missing.push('members');
  if (!state.audit.nonmembers) missing.push('non-members');
  const broken = AUDIT_ROLES.filter((r) => state.audit[r] && state.audit[r].error).map((r) => ROLE_TITLES[r].toLowerCase());
  const ready = missing.length === 0 && broken.length === 0;
  el.run.disabled = !ready || probeRunning();
  updateAuditInputsReady();
  el.workers.disabled = probeRunning();
  const needsReferences = new Set(core.catalogue.attacks.filter((a) => a.needsReferences).map((a) => a.id));
  const refs = checkedAttacks().some((id) => needsReferences.has(id));
  el.references.disabled = !refs;
  el.references.title = refs ? '' : 'the chosen attacks train no reference models';
  if (state.running.has('audit')) el.readyNote.textContent = 'Running\u2026';
  else if (missing.length) el.readyNote.textContent = `Load ${missing.join(', ').replace(/, ([^,]*)$/, ' and $1')} first.`;
  else if (broken.length) el.readyNote.textContent = `Fix the ${broken.join(' and ')} CSV first.`;
  else if (probeRunning()) el.readyNote.textContent = 'Another probe is running.';
  else if (fromPredictions) el.readyNote.textContent = 'Ready: audit from predictions (no model). Everything runs in this page.';
  else el.readyNote.textContent = 'Ready. Everything runs in this page.';
}

// ---------- progress ----------

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
  el.progressText.textContent = `Step 1 of 2: ${label}`;
  el.progressBar.value = total > 0 ? (0.8 * done) / total : 0;
  el.eta.textContent = etaText(auditPhase.started, total > 0 ? done / total : 0);
}

function onAuditProgress({ done, total, label }) {
  if (!label) return;
  const prefix = auditPhase.steps > 1 ? 'Step 2 of 2: ' : '';
  const base = auditPhase.steps > 1 ? 0.8 : 0;
  const span = 1 - base;
  // stages that carry no count of their own get "(done / total)"
  const counted = /\d+\/\d+$/.test(label);
  el.progressText.textContent = prefix + (counted || !(total > 0) ? label : `${label} (${fmtInt(done)} / ${fmtInt(total)})`);
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
    el.progressBar.value = base + span * fraction;
    el.eta.textContent = etaText(auditPhase.started, fraction);
  }
}

// ---------- run and results ----------

/** @param {import('./api.js').ReportOut} out */
function renderAuditResults(out) {
  auditDownloads.setReport(out, el.downloadJson, el.downloadHtml);
  // the fragment comes from the core's renderer, which escapes every text it
  // inserts; it holds no script and no inline style
  insertFragment(el.results, out.html);
  // the per-record table: sortable, with the records' images when they are images
  el.downloadRecords.hidden = !out.report.records;
  for (const table of el.results.querySelectorAll('table[data-sortable]')) {
    addRecordImages(table);
    makeSortable(table);
  }
  el.results.dataset.attacks = out.report.attacks.map((x) => x.id).join(',');
  el.results.dataset.auc = JSON.stringify(out.report.attacks.map((x) => [x.id, x.auc ?? null]));
  el.resultsPanel.hidden = false;
}

/** The audit itself (in a running job): returns the report and the timing note. */
async function audit(settings, guidance) {
  const names = {
    model: state.model ? state.model.name : null,
    members: state.audit.members.name,
    nonmembers: state.audit.nonmembers.name,
    population: state.audit.population ? state.audit.population.name : null,
    label_column: state.audit.members.labelColumn,
  };
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  el.eta.textContent = '';
  if (predictionsAudit()) {
    // no model: the core reads and checks the prediction files, runs the
    // attacks that need only outputs and labels, and skips the others
    setAuditPhase('attacks', 1);
    const files = Object.fromEntries(AUDIT_ROLES.map((r) => [r, state.audit[r] ? state.audit[r].file : undefined]));
    delete names.model;
    const out = await workers.api.runPredictionsAudit({
      files, kind: el.predictionsKind.value, labelColumn: state.audit.members.labelColumn, settings, names, guidance,
    }, { onProgress: onAuditProgress });
    return { out, seconds: seconds(), note: 'Audit from predictions (no model) ran in' };
  }
  // reference models first, one per free worker; then the attacks in the page's worker
  const jobs = await workers.api.referenceJobs({ settings });
  const count = workerCount();
  if (jobs.length > 0) {
    setAuditPhase('references', 2);
    // every model lands in the page worker's reference set, which runAudit uses
    await workers.pool.train(jobs, settings, count, onReferenceProgress);
  } else {
    await workers.api.clearReferences();
  }
  setAuditPhase('attacks', jobs.length > 0 ? 2 : 1);
  const out = await workers.api.runAudit({ settings, names, guidance }, { onProgress: onAuditProgress });
  const refs = jobs.reduce((n, j) => n + j.k, 0);
  const used = Math.min(count, refs);
  return { out, seconds: seconds(), note: 'Ran in', refs: refs ? ` (${refs} reference models on ${used} worker${used > 1 ? 's' : ''})` : '' };
}

/** Run the audit with the form's settings; a preset with a follow-up (Thorough) then runs the inversion and the attribute inference. */
export async function runAuditNow() {
  clearError(el.settingsError);
  clearError(el.error);
  let settings;
  let guidance;
  try {
    ({ settings, guidance } = await checkedAuditSettings());
  } catch (err) {
    if (err.code !== 'aborted') showError(el.settingsError, err, 'Settings');
    return;
  }
  const done = await runJob('audit', el, 'The audit failed', () => audit(settings, guidance));
  if (!done) return;
  state.lastAudit = done.out;
  renderAuditResults(done.out);
  el.timing.textContent = `${done.note} ${done.seconds.toFixed(1)} s${done.refs || ''}.`;
  el.resultsPanel.dataset.seconds = done.seconds.toFixed(3);
  // Thorough also runs the model inversion (every class) and the attribute
  // inference (the chosen column, the core's automatic bins when none are typed)
  const p = preset(el.preset.value);
  if (state.model && p && p.followUp) {
    await runInversionNow();
    if (attributeColumn()) await runAttributeNow({ autoBins: true });
  }
}

export function setupAudit() {
  el.preset.addEventListener('change', applyPreset);
  el.checks.addEventListener('change', () => {
    const chosen = checkedAttacks();
    const same = (list) => list.length === chosen.length && list.every((id) => chosen.includes(id));
    const p = preset(el.preset.value);
    if (!same(p ? p.attacks : [])) el.preset.value = 'custom';
    updateAuditReady();
  });
  el.run.addEventListener('click', runAuditNow);
  el.cancel.addEventListener('click', abortAll);
  fillWorkerChoices();
  el.attackList.hidden = el.preset.value !== 'custom';
}

