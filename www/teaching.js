// Section 6, the teaching mode: train a small MLP on the digits demo (with
// or without DP-SGD), make it the page's model, audit it with the preset of
// section 2, and add a row to the history. The core checks the recipe and
// gives the DP-SGD schedule and the accountant's epsilon (`trainPlan`);
// with DP-SGD a second run with canaries is the one-run check.

import { $, AUDIT_ROLES, core, probeRunning, state, workers } from './state.js';
import { abortAll, clearError, fmtInt, parseNumber, parseWhole, runJob, showError } from './ui.js';
import { checkedAuditSettings, el as auditEl, runAuditNow } from './audit.js';
import { loadAuditCsv } from './audit-inputs.js';
import { demoIndex, fetchBytes, fetchCsv } from './demos.js';
import { loadCsvFile, loadModelBytes, predictIfReady } from './model.js';

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

/** Records the teaching mode trains on (the digits demo's members). */
function teachRecords() {
  return core.demos && core.demos[TEACH_DEMO] ? core.demos[TEACH_DEMO].rows.members : 300;
}

/** The teaching form as {width, config (TrainConfig, camelCase), seed, dp}, or an Error naming a field that is not a number. */
function teachSettings() {
  const width = Number(teach.width.value);
  const epochs = parseWhole(teach.epochs.value, 'epochs');
  const lr = parseNumber(teach.lr.value, 'the learning rate');
  const l2 = parseNumber(teach.l2.value, 'the L2 penalty');
  const batchSize = parseWhole(teach.batch.value, 'the batch size');
  const seed = parseWhole(teach.seed.value, 'the seed');
  const config = { optimizer: { kind: 'adam', lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, epochs, batchSize, l2, seed };
  let dp = null;
  if (teach.dp.checked) {
    dp = {
      clip: parseNumber(teach.clip.value, 'the clipping norm'),
      sigma: parseNumber(teach.sigma.value, 'the noise multiplier'),
      delta: parseNumber(teach.delta.value, 'delta'),
    };
    config.dp = { clipNorm: dp.clip, noiseMultiplier: dp.sigma, delta: dp.delta };
  }
  return { width, config, seed, dp };
}

/** The teaching settings, checked by the core with its schedule and epsilon (`trainPlan`). */
async function checkedTeachSettings() {
  const s = teachSettings();
  const plan = await workers.api.trainPlan({ config: s.config, records: teachRecords() });
  return { ...s, plan };
}

/** epsilon of the DP-SGD settings (the core's schedule and RDP accountant), shown under the DP fields. */
let teachEpsilonCall = 0;
export async function updateTeachEpsilon() {
  const call = ++teachEpsilonCall;
  if (!teach.dp.checked) {
    teach.epsilon.textContent = 'Off: plain Adam, no privacy guarantee.';
    return;
  }
  let s;
  try {
    s = await checkedTeachSettings();
  } catch (err) {
    if (call === teachEpsilonCall) teach.epsilon.textContent = err.message;
    return;
  }
  // a later change of the settings has already asked again: its answer wins
  if (call !== teachEpsilonCall) return;
  const { sampleRate: q, steps, records } = s.plan.schedule;
  const eps = s.plan.dp.epsilon;
  teach.epsilon.textContent = `Noise multiplier \u03c3 = ${s.dp.sigma}, sampling rate q = ${q.toFixed(3)} (batch ${s.config.batchSize} of ${records}), ${fmtInt(steps)} steps: the RDP accountant gives \u03b5 = ${Number.isFinite(eps) ? eps.toFixed(2) : '\u221e'} at \u03b4 = ${s.dp.delta}. Compare it with the empirical \u03b5 lower bound of the audit and with the one-run check (a second run of the same recipe with ${TEACH_CANARIES} mislabelled canaries).`;
  teach.epsilon.dataset.epsilon = String(eps);
}

/** Train (and, with DP-SGD, the one-run check) in a running job. */
async function train(s) {
  teach.progressText.textContent = 'Loading the digits demo\u2026';
  const demo = (await demoIndex())[TEACH_DEMO];
  const members = await fetchBytes(`demo/${demo.members}`);
  const template = await fetchBytes(`demo/teach_mlp_${s.width}.onnx`);
  const note = JSON.stringify({ trained_by: 'privacy-inspector teaching mode', data: demo.members, width: s.width, config: s.config });
  const trained = await workers.api.trainTarget({ template, members, config: s.config, seed: s.seed, note }, {
    onProgress: ({ done, total, label }) => {
      teach.progressText.textContent = `Training: ${label}`;
      if (total > 0) teach.progressBar.value = done / total;
    },
  });
  // with DP-SGD: a second run of the same recipe with canaries, the
  // one-run check of the accountant's epsilon (the audited model above has
  // no canaries)
  let oneRun = null;
  if (s.dp) {
    try {
      oneRun = await workers.api.dpAudit({ template, members, config: { canaries: TEACH_CANARIES, train: s.config, seed: s.seed, beta: 0.05 } }, {
        onProgress: ({ done, total, label }) => {
          teach.progressText.textContent = `One-run DP check (${TEACH_CANARIES} canaries): ${label}`;
          if (total > 0) teach.progressBar.value = done / total;
        },
      });
    } catch (err) {
      if (err.code === 'aborted') throw err;
      oneRun = { error: err.message };
    }
  }
  return { trained, oneRun };
}

async function runTeachNow() {
  clearError(teach.settingsError);
  clearError(teach.error);
  let s;
  try {
    s = await checkedTeachSettings();
    await checkedAuditSettings();
  } catch (err) {
    if (err.code !== 'aborted') showError(teach.settingsError, err, 'Settings');
    return;
  }
  const done = await runJob('teaching', teach, 'Training failed', () => train(s));
  if (!done) return;
  const { trained, oneRun } = done;
  const name = `teach-w${s.width}-e${s.config.epochs}-l2_${s.config.l2}${s.dp ? `-dp_s${s.dp.sigma}_c${s.dp.clip}` : ''}-seed${s.seed}.onnx`;
  // the trained model becomes the page's model, with the demo's CSVs
  const demo = (await demoIndex())[TEACH_DEMO];
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
  const report = state.lastAudit && state.lastAudit.report;
  if (!report || report.model.sha256 !== state.model.info.summary.sha256) return;
  addHistoryRow(s, name, trained, oneRun, testAcc, report);
}

/** One row of the history: the recipe, the fit, the audit's best figures and the model to download. */
function addHistoryRow(s, name, trained, oneRun, testAcc, report) {
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
    bestAuc ? `${bestAuc.auc.toFixed(3)} (${bestAuc.id})` : '', eps.toFixed(2),
  ];
  for (const c of cells) {
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

export function updateTeachReady() {
  teach.run.disabled = probeRunning();
  if (state.running.has('teaching')) teach.readyNote.textContent = 'Training\u2026';
  else if (probeRunning()) teach.readyNote.textContent = 'Another probe is running.';
  else teach.readyNote.textContent = `Trains on the digits demo, then runs the audit preset of section 2 (${auditEl.preset.value}).`;
}

export function setupTeaching() {
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
