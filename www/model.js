// Section 1 (the model: summary, output kind, model-file scan and its
// metadata-free copy) and section 5 (a CSV's predictions, checked by the
// core as the CLI's `predict` checks them).

import { $, AUDIT_ROLES, invalidateHelpers, refreshReady, state, workers } from './state.js';
import { busy, clearError, fmtBytes, fmtInt, insertFragment, onProgress, setText, showError } from './ui.js';
import { guidanceOptions } from './audit.js';
import { refreshAuditStatus } from './audit-inputs.js';
import { modelChangedForProbes } from './probes.js';

const el = {
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
};

/** The box under the model input, for errors about files in general. */
export const modelError = el.modelError;

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

/** @param {import('./api.js').Predictions} p */
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

export function clearPredictions() {
  el.table.hidden = true;
  el.dataAccuracy.hidden = true;
  el.note.textContent = state.model ? '' : 'Load a model to see its predictions for these rows.';
}

// ---------- the model-file scan ----------

/** Guidance options for the scan: the form's, or the defaults when the form does not parse. */
function scanGuidance() {
  try {
    return guidanceOptions();
  } catch (_) {
    return {};
  }
}

/** Show a model-file scan (its html fragment from the core) and offer the stripped copy. */
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
      const clean = await workers.api.stripMetadata({ bytes: bytes.slice(0) });
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
export async function rescan() {
  const file = state.scanFile;
  if (!file) return;
  try {
    await showScan(file.name, file.bytes, await workers.api.scan({ bytes: file.bytes.slice(0), guidance: scanGuidance() }));
  } catch (err) {
    if (err.code !== 'aborted') showError(el.modelError, err, 'The model-file scan failed');
  }
}

// ---------- loading ----------

/** Scan and load a model file; it becomes the page's model (the previous one stays on failure). */
export async function loadModelBytes(name, bytes) {
  const done = busy(`Loading ${name}`);
  // the file scan needs no engine: it runs even on models the engine cannot load
  try {
    state.scanFile = { name, bytes };
    const args = { bytes: bytes.slice(0), guidance: scanGuidance() };
    await showScan(name, bytes, await (AUDIT_ROLES.some((r) => state.audit[r]) ? workers.api.scan(args) : workers.api.scanBytes(args)));
  } catch (err) {
    if (err.code === 'aborted') {
      done();
      return;
    }
    el.scanPanel.hidden = true;
  }
  try {
    // a copy goes to the worker; we keep the original to restore a respawned worker
    const info = await workers.api.loadModel({ bytes: bytes.slice(0), name });
    state.model = { name, bytes, info };
    state.kind = '';
    invalidateHelpers();
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
    refreshReady();
  }
}

/** Read the CSV of section 5 (its label column from the field; "label" is optional). */
export async function loadCsvFile(name, file) {
  // "label" (the default) is optional: used when the header has it; any
  // other name must exist
  const typed = el.labelColumn.value.trim();
  const labelColumn = typed === 'label' ? '' : typed;
  const done = busy(`Reading ${name}`);
  try {
    const info = await workers.api.loadCsv({ file, labelColumn }, { onProgress });
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

/** Predict the section-5 CSV with the model, when both are loaded. */
export async function predictIfReady() {
  if (!state.model || !state.data) {
    clearPredictions();
    return;
  }
  const done = busy('Predicting');
  try {
    const p = await workers.api.predict({ onProgress });
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

export function setupModel() {
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
      const info = await workers.api.setOutputKind({ kind: el.kindSelect.value });
      state.kind = el.kindSelect.value;
      state.model.info = info;
      invalidateHelpers();
      renderSummary(info);
      await predictIfReady();
    } catch (err) {
      if (err.code !== 'aborted') showError(el.modelError, err, 'Could not change the output kind');
    } finally {
      done();
    }
  });
  clearPredictions();
}
