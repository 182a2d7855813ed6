// Browser half of scripts/bench.sh: serves www/ (release build) on a free
// 127.0.0.1 port, opens bench.html in headless Chromium and runs
// window.runBench on each model given on the command line. Prints one JSON
// line per model, like the native `bench` binary. Playwright gives the
// browser a fresh temporary profile.
//   node scripts/bench-browser.mjs [--rows N] [--repeat R] MODEL.onnx...
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openHeadless } from './headless.mjs';

const args = process.argv.slice(2);
let rows = 10000;
let repeat = 5;
const models = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rows') rows = Number(args[++i]);
  else if (args[i] === '--repeat') repeat = Number(args[++i]);
  else models.push(args[i]);
}

const h = await openHeadless();
const { url, browser } = h;
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
  await h.close();
}
process.exit(failed ? 1 : 0);
