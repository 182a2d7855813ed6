// Browser half of scripts/bench_audit.py: one full membership audit in the
// release wasm in headless Chromium (www/bench.html, window.runAuditBench).
//   node scripts/bench-audit.mjs MODEL.onnx MEMBERS.csv NONMEMBERS.csv POPULATION.csv REFERENCES SEED
// Prints one JSON line: {audit_ms, attacks: [[id, auc], ...]}.
import { readFileSync } from 'node:fs';
import { openHeadless } from './headless.mjs';

const [model, members, nonmembers, population, refs, seed] = process.argv.slice(2);
const h = await openHeadless();
const { url, browser } = h;
let code = 0;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { console.error(`pageerror: ${e.message}`); code = 1; });
  await page.goto(`${url}/bench.html`);
  const bytes = (f) => [...readFileSync(f)];
  const r = await page.evaluate(async (a) => window.runAuditBench(new Uint8Array(a.model), new Uint8Array(a.members),
    new Uint8Array(a.nonmembers), new Uint8Array(a.population), { references: a.refs, seed: a.seed }),
  { model: bytes(model), members: bytes(members), nonmembers: bytes(nonmembers), population: bytes(population), refs: Number(refs), seed: Number(seed) });
  console.log(JSON.stringify(r));
} catch (e) {
  console.error(`error: ${e.message}`);
  code = 1;
} finally {
  await h.close();
}
process.exit(code);
