// The records behind an audit's tables: a dialog with one record of an
// audit CSV (its features, and its image when the input is an image), the
// images in the most-vulnerable table, and the per-record CSV download
// (written by the core from the report).

import { $, ROLE_TITLES, state, workers } from './state.js';
import { saveText, showError } from './ui.js';
import { auditDownloads } from './audit.js';

const el = {
  results: $('audit-results'),
  error: $('audit-error'),
  downloadRecords: $('download-records-csv'),
  record: $('record-dialog'),
  recordBody: $('record-body'),
  recordTitle: $('record-title'),
  shape: $('inv-shape'),
};

/** [height, width] when the model input (the inversion's shape field) is a one-channel image of `len` values, else null. */
function imageShape(len) {
  const shape = el.shape.value.trim().split(/[\s,x]+/).filter(Boolean).map(Number);
  const [c, hgt, w] = shape.length === 3 ? shape : [0, 0, 0];
  return c === 1 && hgt * w === len && hgt > 0 ? [hgt, w] : null;
}

/** A canvas drawing a record as a grey image (dark = high), or null when it is not image-shaped. */
function recordCanvas(features) {
  const hw = imageShape(features.length);
  if (!hw) return null;
  const [hgt, w] = hw;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hgt;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `the record as a ${hgt}x${w} image`);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, hgt);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of features) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let i = 0; i < features.length; i++) {
    const g = hi > lo ? Math.round((255 * (features[i] - lo)) / (hi - lo)) : 0;
    img.data.set([255 - g, 255 - g, 255 - g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/**
 * The most-vulnerable table: when the records are images, a first column
 * with each member's image (fetched from the worker, which holds the CSVs).
 */
export async function addRecordImages(table) {
  const rows = [...table.tBodies[0].rows];
  const first = rows[0] && rows[0].querySelector('button.record-link');
  if (!first) return;
  const info = state.audit.members && state.audit.members.info;
  if (!info || !imageShape(info.features)) return;
  const th = document.createElement('th');
  th.className = 'nosort';
  th.textContent = 'image';
  table.tHead.rows[0].cells[0].after(th);
  const cells = rows.map((tr) => {
    const td = document.createElement('td');
    td.className = 'record-thumb';
    tr.cells[0].after(td);
    return td;
  });
  for (const [i, tr] of rows.entries()) {
    try {
      const rec = await workers.api.record({ role: 'members', index: Number(tr.dataset.recordIndex) });
      const canvas = recordCanvas(rec.features);
      if (canvas) cells[i].append(canvas);
    } catch {
      return; // the dialog still shows the record (and says what went wrong)
    }
  }
}

/** The per-record CSV of the last audit, written by the core from its JSON report, as a download. */
async function downloadRecordsCsv() {
  const out = state.lastAudit;
  if (!out) return;
  try {
    const csv = await workers.api.recordsCsv({ json: out.reportJson });
    saveText(auditDownloads, csv, 'text/csv', `${out.recordsStem}.csv`);
  } catch (err) {
    if (err.code !== 'aborted') showError(el.error, err, 'The per-record CSV');
  }
}

/** A dialog with one record of an audit CSV: its features (and the image, for 8x8 / image-shaped inputs). */
async function showRecord(role, index) {
  let rec;
  try {
    rec = await workers.api.record({ role, index });
  } catch (err) {
    if (err.code !== 'aborted') showError(el.error, err, `Row ${index} of the ${ROLE_TITLES[role].toLowerCase()} CSV`);
    return;
  }
  el.recordTitle.textContent = `${ROLE_TITLES[role]} row ${index} (0-based; line ${index + 2} of ${state.audit[role].name})${rec.label != null ? `, label ${rec.label}` : ''}`;
  const parts = [];
  const canvas = recordCanvas(rec.features);
  if (canvas) {
    canvas.className = 'record-image';
    canvas.dataset.testid = 'record-image';
    parts.push(canvas);
  }
  const table = document.createElement('table');
  table.dataset.testid = 'record-table';
  const body = document.createElement('tbody');
  rec.features.forEach((v, j) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = rec.featureNames[j] ?? `f${j}`;
    const td = document.createElement('td');
    td.className = 'num';
    td.textContent = String(Number(v.toPrecision(7)));
    tr.append(th, td);
    body.append(tr);
  });
  table.append(body);
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap record-wrap';
  wrap.append(table);
  parts.push(wrap);
  el.recordBody.replaceChildren(...parts);
  el.record.showModal();
}

export function setupRecords() {
  // the report's most exposed / most vulnerable rows: show the record the index points at
  el.results.addEventListener('click', (ev) => {
    const button = ev.target.closest && ev.target.closest('button.record-link');
    if (button) showRecord(button.dataset.recordSet || 'members', Number(button.dataset.recordIndex));
  });
  el.downloadRecords.addEventListener('click', downloadRecordsCsv);
  el.record.querySelector('button').addEventListener('click', () => el.record.close());
}
