// End-to-end test of the RELEASE web build (www/ after scripts/build-web.sh)
// in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core).
//
// It serves www/ with the same static server as scripts/serve.sh on a free
// 127.0.0.1 port, then: opens the empty page, loads a fixture model through
// the file input and checks the summary, loads a CSV and checks the
// prediction preview, loads random bytes and checks that the error (message
// and code) appears next to the input while the loaded model stays, and
// loads the bundled demo from ?demo=digits. Any console error or page error
// fails the test, and every request must stay on the page's origin.
// Screenshots go to tests/e2e/artifacts/ (gitignored).
//
//   node --test tests/e2e/          (scripts/test.sh runs it after the build)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WWW = path.join(ROOT, 'www');
const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The fixture the test loads through the file input, and what its summary must say.
const FIXTURE = {
  model: path.join(ROOT, 'tests/fixtures/demo/digits_mlp.onnx'),
  csv: path.join(ROOT, 'tests/fixtures/demo/digits_sample.csv'),
  dropModel: path.join(ROOT, 'tests/fixtures/torch_cnn.onnx'),
  inputShape: /^\[[A-Za-z_][\w ]*, 64\]$|^\[[A-Za-z_][\w ]*, 1, 8, 8\]$/,
  features: '64',
  numClasses: '10',
  outputKind: /^(probabilities|logits)$/,
};

const TIMEOUT = 30_000;

/** Deterministic "random" bytes (xorshift32), so a failure reproduces. */
function randomBytes(n, seed = 0x2545f491) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Start python3's static server on a free port; resolves to {url, proc}. */
function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', WWW], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 10_000);
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, proc });
      }
    });
    proc.stderr.on('data', () => {}); // access log
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

describe('privacy-inspector page (release build, headless Chromium)', () => {
  let server;
  let browser;
  let context;
  let userDataDir;
  const problems = []; // console errors, page errors, foreign requests
  const requests = [];

  before(async () => {
    const info = path.join(WWW, 'pkg/build-info.json');
    assert.ok(existsSync(info), 'www/pkg/build-info.json is missing: run scripts/build-web.sh first');
    const build = JSON.parse(readFileSync(info, 'utf8'));
    assert.equal(build.profile, 'release');
    assert.match(build.wasmOpt, /version 132/, 'the build must use the pinned binaryen wasm-opt');
    assert.ok(existsSync(FIXTURE.model), `fixture missing: ${FIXTURE.model}`);
    mkdirSync(ARTIFACTS, { recursive: true });

    server = await startServer();
    userDataDir = mkdtempSync(path.join(tmpdir(), 'pi-e2e-profile-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage',
      ],
      viewport: { width: 1280, height: 800 },
    });
    browser = context.browser();
    const origin = new URL(server.url).origin;
    context.on('request', (req) => {
      requests.push(req.url());
      const u = req.url();
      if (!(u.startsWith(origin + '/') || u.startsWith('data:') || u.startsWith('blob:'))) {
        problems.push(`request left the origin: ${u}`);
      }
    });
    // anything not on the origin is blocked outright (and recorded above)
    await context.route('**/*', (route) => {
      const u = route.request().url();
      return u.startsWith(origin + '/') ? route.continue() : route.abort();
    });
    const watch = (page) => {
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('worker', (w) =>
        w.on('console', (msg) => {
          if (msg.type() === 'error') problems.push(`worker console error: ${msg.text()}`);
        }),
      );
    };
    context.on('page', watch);
    for (const p of context.pages()) watch(p);
  });

  after(async () => {
    if (context) await context.close();
    if (browser) await browser.close().catch(() => {});
    if (server) server.proc.kill();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Open a fresh page and wait until the worker's engine is ready. */
  async function open(query = '') {
    const page = await context.newPage();
    await page.goto(`${server.url}/${query}`);
    await page.locator('[data-testid="engine-status"][data-state="ready"]').waitFor({ timeout: TIMEOUT });
    return page;
  }

  const text = (page, id) => page.getByTestId(id).textContent({ timeout: TIMEOUT });

  function assertClean(step) {
    assert.deepEqual(problems, [], `${step}: ${problems.join('\n')}`);
  }

  test('empty page, model from the file input, CSV predictions, then a bad file', async () => {
    const page = await open();
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: TIMEOUT });
    assert.ok(await page.getByTestId('model-summary').isHidden());
    assert.ok(await page.getByTestId('model-error').isHidden());
    assert.match(await text(page, 'version'), /^\d+\.\d+\.\d+/);
    await page.screenshot({ path: path.join(ARTIFACTS, '1-empty.png'), fullPage: true });

    // a fixture model through the file input
    await page.getByTestId('model-input').setInputFiles(FIXTURE.model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.match(await text(page, 'summary-input-shape'), FIXTURE.inputShape);
    assert.equal(await text(page, 'summary-features'), FIXTURE.features);
    assert.equal(await text(page, 'summary-num-classes'), FIXTURE.numClasses);
    assert.match(await text(page, 'summary-output-kind'), FIXTURE.outputKind);
    assert.match(await text(page, 'summary-sha256'), /^[0-9a-f]{64}$/);
    assert.match(await text(page, 'summary-params'), /^[\d,]+ \([\d,]+ trainable\)$/);
    assert.ok((await page.getByTestId('summary-ops').locator('li').count()) > 0, 'operator list is empty');
    assert.match(await text(page, 'model-name'), /digits_mlp\.onnx/);
    assertClean('model loaded');

    // a CSV: counts and a prediction preview
    if (existsSync(FIXTURE.csv)) {
      await page.getByTestId('data-input').setInputFiles(FIXTURE.csv);
      await page.getByTestId('prediction-table').waitFor({ state: 'visible', timeout: TIMEOUT });
      assert.match(await text(page, 'data-counts'), new RegExp(`\\d+ rows × ${FIXTURE.features} features`));
      const firstRow = page.getByTestId('prediction-table').locator('tbody tr').first();
      const probs = (await firstRow.locator('td.num').evaluateAll((tds) => tds.map((td) => td.dataset.p))).map(Number);
      assert.equal(probs.length, Number(FIXTURE.numClasses));
      const sum = probs.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `first-row probabilities sum to ${sum}`);
      assertClean('csv loaded');
    }
    await page.screenshot({ path: path.join(ARTIFACTS, '2-model-loaded.png'), fullPage: true });

    // random bytes: a coded error next to the input; the loaded model stays
    const shaBefore = await text(page, 'summary-sha256');
    await page.getByTestId('model-input').setInputFiles({
      name: 'random.onnx',
      mimeType: 'application/octet-stream',
      buffer: randomBytes(4096),
    });
    await page.getByTestId('model-error').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await text(page, 'model-error-code'), 'not_onnx');
    const message = await text(page, 'model-error-message');
    assert.match(message, /^random\.onnx could not be loaded \(still using digits_mlp\.onnx\): not an ONNX model/);
    assert.ok(await page.getByTestId('model-summary').isVisible(), 'the previous summary must stay');
    assert.equal(await text(page, 'summary-sha256'), shaBefore);
    // the error is next to the input: inside the same panel, right below the input block
    const sameSection = await page.evaluate(() => {
      const err = document.querySelector('[data-testid="model-error"]');
      const input = document.querySelector('[data-testid="model-input"]');
      return err.closest('section') === input.closest('section');
    });
    assert.ok(sameSection, 'the model error is not in the model panel');
    await page.screenshot({ path: path.join(ARTIFACTS, '3-error.png'), fullPage: true });

    // an empty file: its own code; then the good model again clears the error
    await page.getByTestId('model-input').setInputFiles({ name: 'empty.onnx', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
    await page.getByTestId('model-error-code').filter({ hasText: 'empty_file' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('model-input').setInputFiles(FIXTURE.model);
    await page.getByTestId('model-error').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assertClean('bad files');
    await page.close();
  });

  test('?demo=digits loads the bundled demo from the same origin', async () => {
    const page = await open('?demo=digits');
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await text(page, 'summary-num-classes'), FIXTURE.numClasses);
    assert.match(await text(page, 'model-name'), /digits_mlp\.onnx/);
    await page.getByTestId('prediction-table').waitFor({ state: 'visible', timeout: TIMEOUT });
    assertClean('demo');

    // overriding the output kind re-summarises and re-predicts
    const firstProbs = () =>
      page.getByTestId('prediction-table').locator('tbody tr').first().locator('td.num')
        .evaluateAll((tds) => tds.map((td) => Number(td.dataset.p)));
    const asProbabilities = await firstProbs();
    await page.getByTestId('kind-select').selectOption('logits');
    await page.getByTestId('summary-kind-source').filter({ hasText: 'override' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await text(page, 'summary-output-kind'), 'logits');
    await page.waitForFunction(
      (before) => {
        const tds = document.querySelectorAll('[data-testid="prediction-table"] tbody tr:first-child td.num');
        return tds.length > 0 && Number(tds[0].dataset.p) !== before;
      },
      asProbabilities[0],
      { timeout: TIMEOUT },
    );
    const asLogits = await firstProbs();
    // softmax of probabilities: still sums to 1, flatter than before
    assert.ok(Math.abs(asLogits.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.ok(Math.max(...asLogits) < Math.max(...asProbabilities));
    await page.getByTestId('kind-select').selectOption('');
    await page.getByTestId('summary-kind-source').filter({ hasText: 'detected' }).waitFor({ timeout: TIMEOUT });
    assertClean('kind override');

    // narrow screen: nothing wider than the viewport
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows a 390px viewport by ${overflow}px`);
    await page.screenshot({ path: path.join(ARTIFACTS, '4-demo-narrow.png'), fullPage: true });
    await page.close();
  });

  test('keyboard reaches the model input; a CNN model dropped on the drop zone loads', async () => {
    const page = await open();
    let reached = false;
    for (let i = 0; i < 6 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.dataset.testid === 'model-input');
    }
    assert.ok(reached, 'Tab never reached the model file input');

    // a drop on the drop zone (a DataTransfer built in the page, as a real drop delivers it)
    const bytes = [...readFileSync(FIXTURE.dropModel)];
    await page.evaluate((data) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], 'torch_cnn.onnx'));
      const zone = document.querySelector('[data-testid="model-dropzone"]');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.getByTestId('model-name').filter({ hasText: 'torch_cnn.onnx' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'summary-input-shape'), /^\[[^,\]]+, 1, 8, 8\]$/);
    assert.equal(await text(page, 'summary-output-kind'), 'logits');
    assert.equal(await text(page, 'summary-num-classes'), '10');
    const ops = await page.getByTestId('summary-ops').textContent();
    for (const op of ['Conv', 'MaxPool', 'BatchNormalization', 'Gemm']) assert.ok(ops.includes(op), `${op} missing from ${ops}`);
    assertClean('drop');
    await page.close();
  });

  test('every bad input of the fixture manifest shows its own code next to its input', async () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/manifest.json'), 'utf8'));
    const bad = manifest.bad_inputs;
    assert.ok(bad.some((b) => b.kind === 'model') && bad.some((b) => b.kind === 'csv'), 'manifest lists no bad inputs');
    const page = await open();
    await page.getByTestId('model-input').setInputFiles(FIXTURE.model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    const sha = await text(page, 'summary-sha256');
    for (const b of bad) {
      const file = path.join(ROOT, 'tests/fixtures', b.file);
      const name = path.basename(file);
      const box = b.kind === 'model' ? 'model-error' : 'data-error';
      await page.getByTestId(b.kind === 'model' ? 'model-input' : 'data-input').setInputFiles(file);
      await page.getByTestId(`${box}-message`).filter({ hasText: name }).waitFor({ timeout: TIMEOUT });
      assert.equal(await text(page, `${box}-code`), b.expected_code, `${b.file}: ${await text(page, `${box}-message`)}`);
      assert.ok((await text(page, `${box}-message`)).length > name.length + 20, `${b.file}: message too short`);
      if (b.file === 'bad/non_numeric.csv') await page.screenshot({ path: path.join(ARTIFACTS, '5-csv-error.png'), fullPage: true });
    }
    // the good model stayed loaded through every bad model file
    assert.equal(await text(page, 'summary-sha256'), sha);
    assertClean('bad inputs');
    await page.close();
  });

  test('Cancel terminates the worker mid-job, respawns it and restores the model', async () => {
    const page = await open();
    let workers = 0;
    page.on('worker', () => (workers += 1));
    await page.getByTestId('model-input').setInputFiles(FIXTURE.model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    const before = workers;
    // a CSV big enough (200,000 rows x 64) that reading and predicting take a while
    await page.evaluate(() => {
      const header = Array.from({ length: 64 }, (_, i) => `f${i}`).join(',') + '\n';
      const row = Array.from({ length: 64 }, (_, i) => (i % 3 ? '0' : '0.5')).join(',') + '\n';
      const file = new File([header, row.repeat(200_000)], 'big.csv', { type: 'text/csv' });
      const dt = new DataTransfer();
      dt.items.add(file);
      const input = document.querySelector('[data-testid="data-input"]');
      input.files = dt.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.getByTestId('cancel-button').click({ timeout: TIMEOUT });
    await page.getByTestId('progress').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('data-error').isHidden(), 'a cancelled job is not an error');
    assert.ok(await page.getByTestId('data-summary').isHidden(), 'the cancelled CSV must not be shown');
    for (let i = 0; i < 50 && workers === before; i++) await page.waitForTimeout(100);
    assert.equal(workers, before + 1, 'Cancel must start a new worker');
    // the new worker has the model again: a CSV now predicts
    await page.getByTestId('data-input').setInputFiles(FIXTURE.csv);
    await page.getByTestId('prediction-table').waitFor({ state: 'visible', timeout: TIMEOUT });
    assertClean('cancel');
    await page.close();
  });

  test('every request stayed on the origin', () => {
    assert.ok(requests.length > 0, 'no requests were recorded');
    for (const file of ['/main.js', '/worker.js', '/pkg/privacy_inspector.js', '/pkg/privacy_inspector_bg.wasm', '/demo/digits_mlp.onnx']) {
      assert.ok(requests.some((u) => new URL(u).pathname === file), `${file} was not requested (requests seen: ${requests.length})`);
    }
    assertClean('requests');
  });
});
