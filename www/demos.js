// Getting files into the page: the bundled demos (demo/demos.json, written
// by tests/fixtures/demo/gen_demos.py) and files dropped or chosen together
// (the model to section 1, each CSV to the audit role its name suggests, or
// split on its membership column).

import { InspectorError } from './bridge.js';
import { fileKind, guessRole, membershipColumn, SNIFF_BYTES, sniffCsv } from './inputs.js';
import { $, AUDIT_ROLES, core, state } from './state.js';
import { showError } from './ui.js';
import { loadAuditCsv, loadMembershipCsv } from './audit-inputs.js';
import { loadCsvFile, loadModelBytes, modelError } from './model.js';
import { setImageShape } from './probes.js';

const DEMO_INDEX = 'demo/demos.json';

const el = {
  demoButton: $('demo-button'),
  demoSelect: $('demo-select'),
  demoDescription: $('demo-description'),
};

async function fetchOk(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new InspectorError('fetch_failed', `${url}: HTTP ${resp.status}`);
  return resp;
}

/** A bundled file's bytes. */
export async function fetchBytes(url) {
  return (await fetchOk(url)).arrayBuffer();
}

/** A bundled CSV as a Blob (workers stream it like a dropped file). */
export async function fetchCsv(url) {
  return (await fetchOk(url)).blob();
}

/** The bundled demos (fetched once). */
export async function demoIndex() {
  if (!core.demos) core.demos = JSON.parse(new TextDecoder().decode(await fetchBytes(DEMO_INDEX)));
  return core.demos;
}

/** The demos in the demo menu. */
export async function fillDemos() {
  try {
    const index = await demoIndex();
    el.demoSelect.replaceChildren(...Object.entries(index).map(([key, d]) => new Option(d.title, key)));
    showDemoDescription();
  } catch (err) {
    showError(modelError, err, 'The bundled demos are not available');
  }
}

function showDemoDescription() {
  const d = core.demos && core.demos[el.demoSelect.value];
  el.demoDescription.textContent = d ? d.description : '';
}

/** Load a bundled demo: the model, its three audit CSVs (and the non-members into section 5). */
export async function loadDemo(key) {
  let index;
  try {
    index = await demoIndex();
  } catch (err) {
    showError(modelError, err, 'The demo could not be loaded');
    return;
  }
  const demo = index[key];
  if (!demo) {
    showError(modelError, new InspectorError('unknown_demo', `there is no demo named "${key}" (available: ${Object.keys(index).join(', ')})`), 'Demo');
    return;
  }
  el.demoSelect.value = key;
  showDemoDescription();
  try {
    await loadModelBytes(demo.model, await fetchBytes(`demo/${demo.model}`));
    for (const role of AUDIT_ROLES) {
      if (demo[role]) await loadAuditCsv(role, demo[role], await fetchCsv(`demo/${demo[role]}`), { why: 'bundled demo' });
    }
    if (demo.image_shape) setImageShape(demo.image_shape);
    await loadCsvFile(demo.nonmembers, await fetchCsv(`demo/${demo.nonmembers}`));
  } catch (err) {
    showError(modelError, err, 'The demo could not be loaded');
  }
}

/**
 * Files dropped or chosen together: the model goes to section 1, each CSV to
 * the audit role its name suggests (or, with a membership column, is split),
 * and the user sees each guess next to the file with a menu to change it.
 */
export async function loadFiles(files) {
  const list = [...files];
  // only the first bytes of each file are read here: a model is read whole
  // below, a CSV is streamed by the workers
  const read = await Promise.all(list.map(async (f) => ({ name: f.name, file: f, head: await f.slice(0, SNIFF_BYTES).arrayBuffer() })));
  const models = read.filter((f) => fileKind(f.name, f.head) === 'model');
  const csvs = read.filter((f) => fileKind(f.name, f.head) === 'csv');
  const other = read.filter((f) => !models.includes(f) && !csvs.includes(f));
  if (other.length) {
    showError(modelError, new InspectorError('unknown_file', `${other.map((f) => f.name).join(', ')}: neither an .onnx model nor a .csv file`), 'Not loaded');
  }
  if (models.length) await loadModelBytes(models[0].name, await models[0].file.arrayBuffer());
  const free = AUDIT_ROLES.filter((r) => !state.audit[r] || csvs.length > 0);
  const unassigned = [];
  for (const f of csvs) {
    const sniff = sniffCsv(f.head);
    if (membershipColumn(sniff.header, sniff.rows)) {
      await loadMembershipCsv(f.name, f.file);
      continue;
    }
    const g = guessRole(f.name);
    if (g.role) await loadAuditCsv(g.role, f.name, f.file, { why: `guessed: ${g.why}` });
    else unassigned.push(f);
  }
  // names that say nothing: fill the roles still empty, in order
  for (const f of unassigned) {
    const role = free.find((r) => !state.audit[r]);
    if (role) await loadAuditCsv(role, f.name, f.file, { why: 'the first empty role (the file name does not say); move it if wrong' });
  }
}

export function setupDemos() {
  el.demoButton.addEventListener('click', () => loadDemo(el.demoSelect.value || 'digits'));
  el.demoSelect.addEventListener('change', showDemoDescription);
}
