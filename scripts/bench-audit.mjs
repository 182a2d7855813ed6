// Browser half of scripts/bench_audit.py: one full membership audit in the
// release wasm in headless Chromium (www/bench.html, window.runAuditBench).
//   node scripts/bench-audit.mjs MODEL.onnx MEMBERS.csv NONMEMBERS.csv POPULATION.csv REFERENCES SEED
// Prints one JSON line: {audit_ms, attacks: [[id, auc], ...]}.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [model, members, nonmembers, population, refs, seed] = process.argv.slice(2);
const server = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', path.join(ROOT, 'www')], { stdio: ['ignore', 'pipe', 'ignore'] });
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (c) => {
    buf += c;
    const m = /port (\d+)/.exec(buf);
    if (m) resolve(`http://127.0.0.1:${m[1]}`);
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
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
  await browser.close();
  server.kill();
}
process.exit(code);
