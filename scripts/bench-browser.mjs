// Browser half of scripts/bench.sh: serves www/ (release build) on a free
// 127.0.0.1 port, opens bench.html in headless Chromium and runs
// window.runBench on each model given on the command line. Prints one JSON
// line per model, like the native `bench` binary. Playwright gives the
// browser a fresh temporary profile.
//   node scripts/bench-browser.mjs [--rows N] [--repeat R] MODEL.onnx...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let rows = 10000;
let repeat = 5;
const models = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rows') rows = Number(args[++i]);
  else if (args[i] === '--repeat') repeat = Number(args[++i]);
  else models.push(args[i]);
}

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
let failed = false;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { console.error(`pageerror: ${e.message}`); failed = true; });
  await page.goto(`${url}/bench.html`);
  for (const m of models) {
    const bytes = [...readFileSync(m)];
    const r = await page.evaluate(async ({ bytes, name, rows, repeat }) =>
      window.runBench(new Uint8Array(bytes), name, rows, repeat), { bytes, name: path.basename(m), rows, repeat });
    console.log(JSON.stringify(r));
  }
} catch (e) {
  console.error(`error: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
  server.kill();
}
process.exit(failed ? 1 : 0);
