// Inversion benchmark (issue 4): all 10 classes of the digits MLP fixture
// inverted in headless Chromium (release wasm, the page's runInversion),
// white-box and black-box, beside the native CLI on the same settings, in
// one run. Needs scripts/build-web.sh and a release CLI
// (cargo build --release). Prints one line per mode and where.
//   node scripts/bench_inversion.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, openHeadless } from './headless.mjs';

const model = path.join(ROOT, 'tests/fixtures/sk_mlp_relu.onnx');
const members = path.join(ROOT, 'tests/fixtures/data/digits.train.csv');
const cli = path.join(ROOT, 'target/release/privacy-inspector');
const modes = [
  { name: 'white-box', settings: { mode: 'white_box', steps: 5000, gamma: 1e-4, start: 'data_mean' }, args: [] },
  { name: 'black-box', settings: { mode: 'black_box', steps: 5000, gamma: 1e-4, start: 'data_mean', query_budget: 20000 }, args: ['--black-box', '--query-budget', '20000'] },
];
const h = await openHeadless();
const tmp = mkdtempSync(path.join(tmpdir(), 'pi-inv-'));
try {
  const page = await h.browser.newPage();
  await page.goto(`${h.url}/bench.html`);
  for (const m of modes) {
    const r = await page.evaluate(async (a) => window.runInversionBench(new Uint8Array(a.model), new Uint8Array(a.members), a.settings, [1, 8, 8]),
      { model: [...readFileSync(model)], members: [...readFileSync(members)], settings: m.settings });
    const t0 = process.hrtime.bigint();
    execFileSync(cli, ['invert', model, '--members', members, '--input-shape', '1,8,8', '--start', 'mean', '--gamma', '1e-4',
      '--steps', '5000', ...m.args, '--report', path.join(tmp, 'r.json')], { stdio: 'ignore' });
    const nativeMs = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`${m.name.padEnd(10)} browser: ${r.per_class_ms.toFixed(1)} ms/class (${r.total_ms.toFixed(0)} ms for ${r.classes} classes, ${r.queries} queries, recognised ${(100 * r.recognised_fraction).toFixed(0)}%)   native CLI (whole process): ${(nativeMs / r.classes).toFixed(1)} ms/class`);
  }
} finally {
  await h.close();
}
