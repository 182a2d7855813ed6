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
// The membership audit: a Quick run on a trained sklearn MLP with digits
// members / non-members and seed 3, whose downloaded JSON report must match
// the CLI's (`privacy-inspector audit`, same inputs and seed) within 1e-6 for
// every attack's AUC, CI, advantage, TPR at each FPR and epsilon bound; a
// Standard run (4 references) with a population where every attack has
// figures, again equal to the CLI's; a custom selection without a
// population whose skipped attacks show their reason; Cancel during reference training that keeps the
// inputs, after which a Quick run gives the uninterrupted figures; a CSV
// with a missing column whose error stays next to its own input.
//
// Model inversion and attribute inference, on the audit CSVs: all 10 classes
// of the digits MLP white-box (1000 steps, gamma 1e-4, start at the data
// mean), 10 figures, at least 80% recognised, recognised count and per-class
// target confidence equal to `privacy-inspector invert` within 1e-3; Cancel
// mid-inversion, then a run on the respawned worker; attribute inference on
// the wine pipeline, column f0 with bins 10,12.5,13.5,15, member / non-member
// attack accuracy equal to `privacy-inspector attribute` within 1e-9, after a
// run without bins whose error shows next to the control.
//
// Presets: Thorough checks every attack with 64 references. Last, offline:
// once the service worker (www/sw.js) controls the page, the static server is
// stopped and ?demo=digits still loads (engine, model summary, predictions).
//
//   node --test tests/e2e/          (scripts/test.sh runs it after the build)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
/** An audit in wasm on a loaded 2-core machine: minutes, not seconds. */
const AUDIT_TIMEOUT = 15 * 60_000;

const AUDIT = {
  model: path.join(ROOT, 'tests/fixtures/sk_mlp_relu.onnx'),
  members: path.join(ROOT, 'tests/fixtures/data/digits.train.csv'),
  nonmembers: path.join(ROOT, 'tests/fixtures/data/digits.test.csv'),
  seed: 3,
  quick: ['loss', 'confidence', 'entropy', 'modified_entropy', 'risk_score', 'gap', 'noise_robustness'],
  all: [
    'loss', 'confidence', 'entropy', 'modified_entropy', 'risk_score', 'gap', 'noise_robustness',
    'boundary_distance', 'boundary_distance_gradient', 'shokri', 'qmia', 'lira_online', 'lira_offline', 'rmia_online', 'rmia_offline',
  ],
};

/** The CLI binary: the newest of the release and debug builds; builds the debug one if neither exists. */
function cliBinary() {
  const targets = [process.env.CARGO_TARGET_DIR, path.join(ROOT, 'target')].filter(Boolean);
  // the newest build (a stale release binary must not stand in for the current code)
  const found = [];
  for (const profile of ['release', 'debug']) {
    for (const t of targets) {
      const bin = path.join(t, profile, 'privacy-inspector');
      if (existsSync(bin)) found.push([statSync(bin).mtimeMs, bin]);
    }
  }
  if (found.length) return found.sort((a, b) => b[0] - a[0])[0][1];
  execFileSync('cargo', ['build', '--bin', 'privacy-inspector'], { cwd: ROOT, stdio: 'inherit' });
  for (const t of targets) {
    const bin = path.join(t, 'debug', 'privacy-inspector');
    if (existsSync(bin)) return bin;
  }
  throw new Error('cargo build --bin privacy-inspector produced no binary');
}

/** The figures the page and the CLI must agree on, per attack id. */
function figures(report) {
  const out = {};
  for (const a of report.attacks) {
    out[a.id] = a.skipped != null
      ? { skipped: a.skipped }
      : {
          auc: a.auc,
          auc_ci95_lo: a.auc_ci95[0],
          auc_ci95_hi: a.auc_ci95[1],
          advantage: a.advantage,
          ...Object.fromEntries(Object.entries(a.tpr_at_fpr).map(([k, v]) => [`tpr_at_fpr_${k}`, v])),
          epsilon_lower_bound: a.epsilon_lower_bound,
        };
  }
  return out;
}

/**
 * Native and wasm compute the same bits: the engine's matrix product sums in
 * a fixed order without fused multiply-adds (src/engine/ops/gemm.rs) and
 * every transcendental function comes from one implementation, the libm
 * crate (src/engine/math.rs), so even the attacks whose scores come from
 * models the inspector trains (reference and shadow models) agree with the
 * CLI. `TRAINED_TOL` (env) can loosen them for an experiment; by default
 * every figure must be within the test's own tolerance (1e-6).
 */
const TRAINED = new Set(['shokri', 'qmia', 'lira_online', 'lira_offline', 'rmia_online', 'rmia_offline']);
const TRAINED_TOL = Number(process.env.TRAINED_TOL || 0);

/** Every figure of `got` within `tol` of `want` (null = NaN on both sides). */
function assertFiguresClose(got, want, tol, what) {
  assert.deepEqual(Object.keys(got), Object.keys(want), `${what}: attack lists differ`);
  for (const [id, w] of Object.entries(want)) {
    const g = got[id];
    assert.deepEqual(Object.keys(g).sort(), Object.keys(w).sort(), `${what}: ${id} has other fields`);
    for (const [k, wv] of Object.entries(w)) {
      const gv = g[k];
      if (typeof wv !== 'number' || typeof gv !== 'number') {
        assert.equal(gv, wv, `${what}: ${id}.${k}`);
      } else {
        const t = TRAINED.has(id) ? Math.max(tol, TRAINED_TOL) : tol;
        assert.ok(Math.abs(gv - wv) <= t, `${what}: ${id}.${k} = ${gv}, expected ${wv} (tolerance ${t})`);
      }
    }
  }
}

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
    // the pool's helper workers have started too
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: TIMEOUT });
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
    assert.match(await text(page, 'model-name'), /digits_overfit\.onnx/);
    // one click loaded the audit CSVs too, each with its reason
    assert.match(await text(page, 'members-counts'), /digits_members\.csv: 300 rows/);
    assert.match(await text(page, 'nonmembers-counts'), /digits_nonmembers\.csv: 400 rows/);
    assert.match(await text(page, 'population-counts'), /digits_population\.csv: 600 rows/);
    assert.match(await text(page, 'members-why'), /bundled demo.*Label column "label"/);
    assert.match(await text(page, 'demo-description'), /300/);
    assert.equal(await page.getByTestId('demo-select').locator('option').count(), 3);
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

  test('a model whose declared probabilities are not: the page refuses them with the CLI\'s error, not clamped', async () => {
    const model = path.join(ROOT, 'tests/fixtures/torch_mlp_logits.onnx');
    const csv = path.join(ROOT, 'tests/fixtures/torch_mlp_logits.input.csv');
    // the CLI: predict with the logits declared as probabilities
    let cli = '';
    try {
      execFileSync(cliBinary(), ['predict', model, '--data', csv, '--output-kind', 'probabilities'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      cli = String(err.stderr);
    }
    const want = /record \d+ has score [^\n]*/.exec(cli);
    assert.ok(want, `the CLI refuses: ${cli}`);
    const page = await open();
    await page.getByTestId('model-input').setInputFiles(model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.getByTestId('kind-select').selectOption('probabilities');
    await page.getByTestId('summary-kind-source').filter({ hasText: 'override' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('data-input').setInputFiles(csv);
    await page.getByTestId('data-error').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await text(page, 'data-error-code'), 'bad_output');
    const got = await text(page, 'data-error-message');
    assert.ok(got.endsWith(want[0]), `page "${got}" vs CLI "${want[0]}"`);
    assert.ok(await page.getByTestId('prediction-table').isHidden(), 'no clamped table');
    // declared as logits, the same rows predict
    await page.getByTestId('kind-select').selectOption('logits');
    await page.getByTestId('prediction-table').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('data-error').isHidden(), 'the error is cleared');
    assertClean('prediction check');
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

  // ---------- membership audit ----------

  /** Open a page with the audit model, members and non-members loaded. */
  async function openAudit(nonmembers = AUDIT.nonmembers) {
    const page = await open();
    await page.getByTestId('model-input').setInputFiles(AUDIT.model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'Run must wait for the CSVs');
    await page.getByTestId('members-input').setInputFiles(AUDIT.members);
    await page.getByTestId('members-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'Run must wait for the non-members');
    await page.getByTestId('nonmembers-input').setInputFiles(nonmembers);
    await page.getByTestId('nonmembers-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    return page;
  }

  /** Click Run, wait for the results, and return the downloaded JSON report. */
  async function runAndDownload(page) {
    const before = await page.getByTestId('download-json').getAttribute('href');
    await page.getByTestId('audit-run').click();
    await page.waitForFunction(
      (prev) => {
        const a = document.querySelector('[data-testid="download-json"]');
        const running = !document.querySelector('[data-testid="audit-progress"]').hidden;
        const failed = !document.querySelector('[data-testid="audit-error"]').hidden;
        return !running && (failed || (a.getAttribute('href') && a.getAttribute('href') !== prev));
      },
      before,
      { timeout: AUDIT_TIMEOUT, polling: 500 },
    );
    assert.ok(await page.getByTestId('audit-error').isHidden(), `the audit failed: ${await page.getByTestId('audit-error').textContent()}`);
    await page.getByTestId('audit-results').getByTestId('report').waitFor({ timeout: TIMEOUT });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-json').click()]);
    assert.match(download.suggestedFilename(), /^privacy-audit-[0-9a-f]{12}-seed\d+\.json$/);
    return JSON.parse(readFileSync(await download.path(), 'utf8'));
  }

  let quickReport = null; // the uninterrupted Quick run
  let standardReport = null; // the uninterrupted Standard run (every worker), for the Cancel test

  /** digits.test.csv split: non-members = first half, population = second half (files made once). */
  let split = null;
  function splitFiles() {
    if (split) return split;
    const dir = mkdtempSync(path.join(tmpdir(), 'pi-e2e-pop-'));
    const lines = readFileSync(AUDIT.nonmembers, 'utf8').trim().split('\n');
    const [header, ...rows] = lines;
    const half = Math.floor(rows.length / 2);
    split = { dir, half, rows: rows.length, nonmembers: path.join(dir, 'nonmembers.csv'), population: path.join(dir, 'population.csv') };
    writeFileSync(split.nonmembers, [header, ...rows.slice(0, half)].join('\n') + '\n');
    writeFileSync(split.population, [header, ...rows.slice(half)].join('\n') + '\n');
    return split;
  }
  after(() => {
    if (split) rmSync(split.dir, { recursive: true, force: true });
  });

  test('audit: Quick preset in the page equals the CLI for the same inputs and seed', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openAudit();
    assert.match(await text(page, 'members-counts'), /digits\.train\.csv: 1,200 rows × 64 features, label column "label"/);
    assert.match(await text(page, 'nonmembers-counts'), /digits\.test\.csv: 597 rows × 64 features/);
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
    await page.screenshot({ path: path.join(ARTIFACTS, '6-audit-form.png'), fullPage: true });
    const report = await runAndDownload(page);
    quickReport = report;
    assert.deepEqual(report.attacks.map((a) => a.id), AUDIT.quick);
    assert.equal(report.seed, AUDIT.seed);
    assert.equal(report.inputs.members, 'digits.train.csv');
    assert.equal(report.inputs.nonmembers, 'digits.test.csv');
    assert.equal(report.inputs.population, null);
    assert.deepEqual(report.counts, { members: 1200, nonmembers: 597, population: 0 });

    // the rendered fragment: summary, lead, one row and one section per attack
    const results = page.getByTestId('audit-results');
    await results.getByTestId('report-lead').waitFor({ timeout: TIMEOUT });
    for (const id of AUDIT.quick) {
      assert.ok(await results.getByTestId(`summary-${id}`).isVisible(), `summary-${id} missing`);
      assert.equal(await results.getByTestId(`attack-${id}`).locator('svg').count(), 3, `attack-${id}: log-log ROC, linear ROC, histogram`);
    }
    // the first two plots of an attack sit side by side at 1280 px
    const boxes = await results.getByTestId('attack-loss').locator('svg').evaluateAll((svgs) => svgs.map((s) => s.getBoundingClientRect().top));
    assert.ok(Math.abs(boxes[0] - boxes[1]) < 1, `plots are not side by side: tops ${boxes}`);
    await page.getByTestId('audit-results-panel').scrollIntoViewIfNeeded();
    await page.evaluate(() => document.querySelector('[data-testid="audit-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '7-audit-results.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, '7-audit-results-full.png'), fullPage: true });

    // the standalone HTML download
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-html').click()]);
    const html = readFileSync(await dl.path(), 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('data-testid="summary-noise_robustness"'));
    assert.ok(html.includes('data-testid="records-agreement"'), 'the standalone HTML has the per-record section');

    // the per-record section: the agreement matrix and the most vulnerable members,
    // each with its 8x8 image, sortable by any column
    const records = results.getByTestId('records');
    await records.waitFor({ timeout: TIMEOUT });
    assert.equal(await records.getByTestId('records-agreement').locator('tbody tr').count(), AUDIT.quick.length);
    assert.equal(
      await records.getByTestId('records-agreement').locator('tbody tr').first().locator('td').count(),
      2 + AUDIT.quick.length,
      'flagged, alone and one column per attack',
    );
    const top = records.getByTestId('records-top');
    const rowsTop = top.locator('tbody tr');
    assert.equal(await rowsTop.count(), 50);
    const vulnerable = await rowsTop.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.recordIndex)));
    // the page's order is the report table's: most flags at 1% first
    const flags1 = (i) => report.records.flag_counts.members[0][i];
    for (let i = 1; i < vulnerable.length; i++) assert.ok(flags1(vulnerable[i - 1]) >= flags1(vulnerable[i]), `row ${i} out of order`);
    await top.locator('tbody tr td.record-thumb canvas').nth(49).waitFor({ timeout: TIMEOUT });
    const heads = await top.locator('thead th').allTextContents();
    assert.deepEqual(heads.slice(0, 3).map((t) => t.replace(/\s*[\u2195\u2191\u2193]$/, '')), ['row', 'image', 'label']);
    const labelCol = heads.findIndex((t) => t.startsWith('label'));
    const labelsNow = () => top.locator('tbody tr').evaluateAll((trs, c) => trs.map((tr) => Number(tr.cells[c].dataset.sort)), labelCol);
    await top.locator('thead th').nth(labelCol).locator('button.sort').click();
    assert.equal(await top.locator('thead th').nth(labelCol).getAttribute('aria-sort'), 'descending');
    const desc = await labelsNow();
    assert.deepEqual(desc, [...desc].sort((x, y) => y - x));
    assert.ok(desc[0] > desc[desc.length - 1], 'the sort moved the rows');
    await top.locator('thead th').nth(labelCol).locator('button.sort').click();
    assert.equal(await top.locator('thead th').nth(labelCol).getAttribute('aria-sort'), 'ascending');
    const asc = await labelsNow();
    assert.deepEqual(asc, [...asc].sort((x, y) => x - y));
    // a row's button opens that member's record with its image
    const firstRow = top.locator('tbody tr').first();
    const idx = Number(await firstRow.getAttribute('data-record-index'));
    await firstRow.locator('button.record-link').click();
    await page.getByTestId('record-dialog').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.match(await text(page, 'record-title'), new RegExp(`Members row ${idx} `));
    assert.ok(await page.getByTestId('record-image').isVisible(), 'an 8x8 record is drawn');
    await page.getByTestId('record-close').click();
    await page.getByTestId('record-dialog').waitFor({ state: 'hidden', timeout: TIMEOUT });
    await records.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, '7-audit-records.png') });
    // the per-record CSV, written by the core from the report
    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-records-csv').click()]);
    assert.match(csvDl.suggestedFilename(), /^privacy-records-[0-9a-f]{12}-seed\d+\.csv$/);
    const pageCsv = readFileSync(await csvDl.path(), 'utf8');

    // the CLI on the same inputs
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-cli-'));
    try {
      const out = path.join(tmp, 'report.json');
      const csvOut = path.join(tmp, 'records.csv');
      execFileSync(cliBinary(), [
        'audit', AUDIT.model, '--members', AUDIT.members, '--nonmembers', AUDIT.nonmembers,
        '--attacks', AUDIT.quick.join(','), '--seed', String(AUDIT.seed), '--report', out, '--records-csv', csvOut, '--quiet',
      ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const cli = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(cli.model.sha256, report.model.sha256);
      assertFiguresClose(figures(report), figures(cli), 1e-6, 'page vs CLI');
      const cliCsv = readFileSync(csvOut, 'utf8');
      assert.equal(pageCsv.split('\n').length, 1 + 1200 + 597 + 1);
      assert.ok(pageCsv === cliCsv, 'the page\'s per-record CSV is byte-identical to the CLI\'s');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }

    // narrow screen: the report scrolls inside its tables, the page does not
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows a 390px viewport by ${overflow}px`);
    await page.evaluate(() => document.querySelector('[data-testid="audit-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '8-audit-results-narrow.png') });
    await page.evaluate(() => document.querySelector('[data-testid="attack-risk_score"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '8-audit-attack-narrow.png') });
    await page.evaluate(() => document.querySelector('[data-testid="audit-heading"], #audit-heading').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '8-audit-form-narrow.png') });
    assertClean('quick audit');
    await page.close();
  });

  test('audit: leakage by subgroup, a column chosen in the page, equals the CLI --slice-by', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openAudit();
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
    await page.getByTestId('audit-slice-by').selectOption('f36');
    const report = await runAndDownload(page);
    const results = page.getByTestId('audit-results');
    await results.getByTestId('slices-report').waitFor({ timeout: TIMEOUT });
    assert.equal(await results.getByTestId('slices-table').locator('tbody tr').count(), report.slices.slices.length);
    assert.match(await results.getByTestId('slices-lead').textContent(), /Holm/);
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-slices-'));
    try {
      const out = path.join(tmp, 'r.json');
      execFileSync(cliBinary(), ['audit', AUDIT.model, '--members', AUDIT.members, '--nonmembers', AUDIT.nonmembers,
        '--attacks', 'quick', '--seed', String(AUDIT.seed), '--slice-by', 'f36', '--quiet', '--report', out]);
      const cli = JSON.parse(readFileSync(out, 'utf8')).slices;
      assert.deepEqual(report.slices.slices, cli.slices, 'the same slices');
      assert.deepEqual(report.slices.bins, cli.bins);
      for (const [i, a] of cli.attacks.entries()) {
        const p = report.slices.attacks[i];
        assert.equal(p.attack, a.attack);
        for (const [j, f] of a.slices.entries()) {
          assert.ok(Math.abs(p.slices[j].auc - f.auc) <= 1e-6, `${a.attack} slice ${j}: ${p.slices[j].auc} vs ${f.auc}`);
          assert.equal(p.slices[j].leaksMore, f.leaksMore);
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    assertClean('slices');
    await page.close();
  });

  test('audit from predictions: prediction CSVs with no model give the figures of the CLI', { timeout: AUDIT_TIMEOUT }, async () => {
    // predict --logits on the demo digits model, the labels appended: the
    // format the page recognises (class_0..class_9 + label)
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-pred-'));
    try {
      const model = path.join(ROOT, 'tests/fixtures/demo/digits_mlp.onnx');
      const files = {};
      for (const role of ['members', 'nonmembers']) {
        const data = path.join(ROOT, `tests/fixtures/demo/digits_${role}.csv`);
        const raw = path.join(tmp, `${role}.raw.csv`);
        execFileSync(cliBinary(), ['predict', model, '--data', data, '--logits', '--out', raw], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
        const src = readFileSync(data, 'utf8').trim().split('\n');
        const li = src[0].split(',').indexOf('label');
        const rows = readFileSync(raw, 'utf8').trim().split('\n');
        const out = [`${rows[0]},label`, ...rows.slice(1).map((r, i) => `${r},${src[i + 1].split(',')[li]}`)];
        files[role] = path.join(tmp, `digits_${role}_predictions.csv`);
        writeFileSync(files[role], `${out.join('\n')}\n`);
      }
      const page = await open();
      await page.getByTestId('members-input').setInputFiles(files.members);
      await page.getByTestId('members-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
      await page.getByTestId('nonmembers-input').setInputFiles(files.nonmembers);
      await page.getByTestId('nonmembers-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
      // no model: the page offers the audit from predictions
      await page.getByTestId('predictions-note').waitFor({ state: 'visible', timeout: TIMEOUT });
      assert.match(await text(page, 'audit-ready-note'), /audit from predictions \(no model\)/);
      assert.match(await text(page, 'members-why'), /class_0 to class_9 are a model's outputs/);
      await page.getByTestId('predictions-kind').selectOption('logits');
      await page.getByTestId('audit-preset').selectOption('quick');
      await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
      await page.getByTestId('audit-run').click();
      await page.waitForFunction(() => {
        const running = !document.querySelector('[data-testid="audit-progress"]').hidden;
        const failed = !document.querySelector('[data-testid="audit-error"]').hidden;
        return !running && (failed || document.querySelector('[data-testid="download-json"]').getAttribute('href'));
      }, null, { timeout: AUDIT_TIMEOUT, polling: 500 });
      assert.ok(await page.getByTestId('audit-error').isHidden(), `the audit failed: ${await page.getByTestId('audit-error').textContent()}`);
      const results = page.getByTestId('audit-results');
      await results.getByTestId('predictions-lead').waitFor({ timeout: TIMEOUT });
      assert.match(await results.getByTestId('predictions-lead').textContent(), /audit from predictions \(no model\)/);
      await page.screenshot({ path: path.join(ARTIFACTS, '7b-audit-from-predictions.png'), fullPage: true });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-json').click()]);
      assert.match(download.suggestedFilename(), /^privacy-audit-predictions-[0-9a-f]{12}-seed3\.json$/);
      const report = JSON.parse(readFileSync(await download.path(), 'utf8'));
      assert.equal(report.model.sha256, undefined, 'no model SHA-256');
      assert.equal(report.predictions.source, 'audit from predictions (no model)');
      assert.deepEqual(report.attacks.map((a) => a.id), AUDIT.quick);
      assert.match(report.attacks.find((a) => a.id === 'noise_robustness').skipped, /^needs the model: /);
      // the CLI on the same files
      const cli = cliReport([
        'audit', '--members-predictions', files.members, '--nonmembers-predictions', files.nonmembers,
        '--output-kind', 'logits', '--attacks', 'quick', '--seed', String(AUDIT.seed), '--quiet',
      ]);
      assert.deepEqual(report.predictions.files.map((f) => f.sha256), cli.predictions.files.map((f) => f.sha256));
      assertFiguresClose(figures(report), figures(cli), 1e-9, 'page vs CLI (predictions)');
      assertClean('audit from predictions');
      await page.close();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('audit: Standard preset with a population gives every attack figures or a skip reason', { timeout: AUDIT_TIMEOUT }, async () => {
    // non-members = the first half of digits.test.csv, population = the second half
    const { nonmembers, population, half, rows: total } = splitFiles();
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-std-'));
    try {
      const page = await openAudit(nonmembers);
      await page.getByTestId('population-input').setInputFiles(population);
      await page.getByTestId('population-counts').filter({ hasText: 'population.csv' }).waitFor({ timeout: TIMEOUT });
      await page.getByTestId('audit-preset').selectOption('standard');
      assert.equal(await page.getByTestId('audit-references').inputValue(), '16');
      await page.getByTestId('audit-references').fill('4');
      await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
      const report = await runAndDownload(page);
      assert.deepEqual(report.attacks.map((a) => a.id), AUDIT.all);
      assert.equal(report.settings.references, 4);
      assert.deepEqual(report.counts, { members: 1200, nonmembers: half, population: total - half });
      standardReport = report;
      assert.equal(report.inputs.population, 'population.csv');
      for (const a of report.attacks) {
        if (a.skipped != null) {
          assert.ok(a.skipped.length > 10, `${a.id}: skip reason "${a.skipped}"`);
          assert.match(await page.getByTestId(`summary-${a.id}`).textContent(), /skipped/);
        } else {
          for (const k of ['auc', 'advantage', 'epsilon_lower_bound']) assert.equal(typeof a[k], 'number', `${a.id}.${k}`);
          assert.ok(a.auc >= 0 && a.auc <= 1, `${a.id}: auc ${a.auc}`);
          assert.ok(await page.getByTestId(`attack-${a.id}`).isVisible(), `attack-${a.id} not shown`);
        }
      }
      // with a population nothing needs skipping on this trainable MLP
      assert.deepEqual(report.attacks.filter((a) => a.skipped != null).map((a) => a.id), []);
      // the CLI on the same files
      const out = path.join(tmp, 'report.json');
      execFileSync(cliBinary(), [
        'audit', AUDIT.model, '--members', AUDIT.members, '--nonmembers', nonmembers, '--population', population,
        '--attacks', 'all', '--references', '4', '--seed', String(AUDIT.seed), '--report', out, '--quiet',
      ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const cli = JSON.parse(readFileSync(out, 'utf8'));
      assertFiguresClose(figures(report), figures(cli), 1e-6, 'Standard: page vs CLI');
      await page.screenshot({ path: path.join(ARTIFACTS, '9-audit-standard.png'), fullPage: true });
      assertClean('standard audit');
      await page.close();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('audit: a custom selection without a population shows the skipped attacks with their reason', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openAudit();
    await page.getByTestId('audit-preset').selectOption('custom');
    assert.ok(await page.getByTestId('audit-attacks').isVisible(), 'the custom list is shown');
    const want = ['loss', 'shokri', 'qmia', 'lira_offline', 'rmia_offline'];
    for (const id of AUDIT.all) await page.getByTestId(`audit-attack-${id}`).setChecked(want.includes(id));
    assert.ok(await page.getByTestId('audit-references').isEnabled(), 'offline attacks use the reference count');
    await page.getByTestId('audit-references').fill('2');
    const report = await runAndDownload(page);
    assert.deepEqual(report.attacks.map((a) => a.id), want);
    assert.equal(report.attacks[0].skipped, undefined);
    for (const a of report.attacks.slice(1)) {
      assert.match(a.skipped || '', /population/, `${a.id} is skipped for want of a population`);
      const row = page.getByTestId(`summary-${a.id}`);
      assert.match(await row.textContent(), /skipped: .*population/);
      // the row sits in the table, not off screen
      const [rowBox, tableBox] = [await row.boundingBox(), await page.getByTestId('report-summary').boundingBox()];
      assert.ok(rowBox && rowBox.x >= tableBox.x && rowBox.y > tableBox.y, `summary-${a.id} is not inside the table`);
      assert.equal(await page.getByTestId(`attack-${a.id}`).count(), 0);
    }
    await page.evaluate(() => document.querySelector('[data-testid="report-summary"]').scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: path.join(ARTIFACTS, '12-audit-skipped.png') });
    // switching back to a preset re-checks its attacks
    await page.getByTestId('audit-preset').selectOption('quick');
    assert.ok(await page.getByTestId('audit-attacks').isHidden());
    assert.ok(await page.getByTestId('audit-references').isDisabled(), 'Quick trains no reference models');
    assertClean('custom audit');
    await page.close();
  });

  test('audit: Cancel during reference training keeps the inputs; the run again on one worker equals the uninterrupted run', { timeout: AUDIT_TIMEOUT }, async () => {
    assert.ok(standardReport, 'needs the Standard run of the audit tests');
    const { nonmembers, population } = splitFiles();
    const page = await openAudit(nonmembers);
    await page.getByTestId('population-input').setInputFiles(population);
    await page.getByTestId('population-counts').filter({ hasText: 'population.csv' }).waitFor({ timeout: TIMEOUT });
    let workers = 0;
    page.on('worker', () => (workers += 1));
    await page.getByTestId('audit-preset').selectOption('standard');
    await page.getByTestId('audit-references').fill('64');
    await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
    await page.getByTestId('audit-run').click();
    await page.getByTestId('audit-progress').filter({ hasText: /Trained reference model [1-9]/ }).waitFor({ timeout: AUDIT_TIMEOUT });
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'Run must be disabled while running');
    assert.match(await text(page, 'audit-progress-text'), /Step 1 of 2: Trained reference model \d+\/128 \(online\) on \d+ workers?/);
    await page.getByTestId('audit-eta').filter({ hasText: /left/ }).waitFor({ timeout: AUDIT_TIMEOUT });
    await page.screenshot({ path: path.join(ARTIFACTS, '10-audit-running.png'), fullPage: true });
    await page.getByTestId('audit-cancel').click();
    await page.getByTestId('audit-progress').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('audit-error').isHidden(), 'a cancelled audit is not an error');
    assert.ok(await page.getByTestId('audit-results-panel').isHidden(), 'a cancelled audit shows no results');
    for (let i = 0; i < 50 && workers === 0; i++) await page.waitForTimeout(100);
    assert.ok(workers >= 1, 'Cancel must start new workers');
    // inputs kept
    assert.match(await text(page, 'members-counts'), /digits\.train\.csv: 1,200 rows/);
    assert.match(await text(page, 'nonmembers-counts'), /nonmembers\.csv: \d+ rows/);
    assert.match(await text(page, 'population-counts'), /population\.csv: \d+ rows/);
    assert.equal(await page.getByTestId('audit-seed').inputValue(), String(AUDIT.seed));
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    // the same Standard run as the uninterrupted one, now on a single worker: identical figures
    await page.getByTestId('audit-references').fill('4');
    await page.getByTestId('audit-workers').selectOption('1');
    const report = await runAndDownload(page);
    assert.match(await text(page, 'audit-timing'), /8 reference models on 1 worker\)/);
    assertFiguresClose(figures(report), figures(standardReport), 0, 'after Cancel, 1 worker vs uninterrupted, every worker');
    assert.deepEqual(report.references, standardReport.references);
    assertClean('audit cancel');
    await page.close();
  });

  test('audit: a CSV with a missing column shows its error next to its input; the rest stays', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openAudit();
    const lines = readFileSync(AUDIT.members, 'utf8').trim().split('\n');
    // drop the first feature column: 63 features for a 64-feature model
    const dropFirst = lines.map((l) => l.split(',').slice(1).join(',')).join('\n') + '\n';
    await page.getByTestId('members-input').setInputFiles({ name: 'short.csv', mimeType: 'text/csv', buffer: Buffer.from(dropFirst) });
    await page.getByTestId('members-error-message').filter({ hasText: 'short.csv' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await text(page, 'members-error-code'), 'csv_feature_count');
    const msg = await text(page, 'members-error-message');
    assert.match(msg, /63/, `the message names the count: ${msg}`);
    assert.match(msg, /64/, `the message names the expected count: ${msg}`);
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'Run must stay disabled with a bad members CSV');
    assert.ok(await page.getByTestId('nonmembers-error').isHidden(), 'the non-members input has no error');
    assert.match(await text(page, 'nonmembers-counts'), /597 rows/);
    assert.ok(await page.getByTestId('model-summary').isVisible(), 'the model stays loaded');
    const sameField = await page.evaluate(() => {
      const err = document.querySelector('[data-testid="members-error"]');
      const input = document.querySelector('[data-testid="members-input"]');
      return err.parentElement === input.parentElement;
    });
    assert.ok(sameField, 'the members error is not next to the members input');
    await page.screenshot({ path: path.join(ARTIFACTS, '11-audit-csv-error.png'), fullPage: true });

    // no label column: refused at parse time, the previous (bad) file stays reported
    const noLabel = lines.map((l) => l.split(',').slice(0, -1).join(',')).join('\n') + '\n';
    await page.getByTestId('nonmembers-input').setInputFiles({ name: 'nolabel.csv', mimeType: 'text/csv', buffer: Buffer.from(noLabel) });
    await page.getByTestId('nonmembers-error-message').filter({ hasText: 'nolabel.csv' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await text(page, 'nonmembers-error-code'), 'csv_no_label_column');
    assert.match(await text(page, 'nonmembers-error-message'), /still using digits\.test\.csv/);

    // a 0-byte population file: its error next to its input, Run unaffected by it
    await page.getByTestId('population-input').setInputFiles({ name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.getByTestId('population-error-message').filter({ hasText: 'empty.csv' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'population-error-code'), /^csv_/);

    // the good files again: errors clear, Run is enabled
    await page.getByTestId('members-input').setInputFiles(AUDIT.members);
    await page.getByTestId('members-error').waitFor({ state: 'hidden', timeout: TIMEOUT });
    await page.getByTestId('nonmembers-input').setInputFiles(AUDIT.nonmembers);
    await page.getByTestId('nonmembers-error').waitFor({ state: 'hidden', timeout: TIMEOUT });
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    assertClean('audit bad csv');
    await page.close();
  });

  // ---------- model inversion and attribute inference ----------

  /** Load a model, members and non-members into a fresh page (section 2's inputs). */
  async function openProbe(model, members, nonmembers) {
    const page = await open();
    await page.getByTestId('model-input').setInputFiles(model);
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.getByTestId('members-input').setInputFiles(members);
    await page.getByTestId('members-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('nonmembers-input').setInputFiles(nonmembers);
    await page.getByTestId('nonmembers-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
    return page;
  }

  /** Click a probe's Run, wait until it settles and return its downloaded JSON report. */
  async function runProbe(page, prefix) {
    const before = await page.getByTestId(`${prefix}-download-json`).getAttribute('href');
    await page.waitForFunction((id) => !document.querySelector(`[data-testid="${id}-run"]`).disabled, prefix, { timeout: TIMEOUT });
    await page.getByTestId(`${prefix}-run`).click();
    await page.waitForFunction(
      ([id, prev]) => {
        const a = document.querySelector(`[data-testid="${id}-download-json"]`);
        const running = !document.querySelector(`[data-testid="${id}-progress"]`).hidden;
        const failed = !document.querySelector(`[data-testid="${id}-error"]`).hidden;
        return !running && (failed || (a.getAttribute('href') && a.getAttribute('href') !== prev));
      },
      [prefix, before],
      { timeout: AUDIT_TIMEOUT, polling: 500 },
    );
    assert.ok(await page.getByTestId(`${prefix}-error`).isHidden(), `${prefix} failed: ${await page.getByTestId(`${prefix}-error`).textContent()}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`${prefix}-download-json`).click()]);
    return { name: download.suggestedFilename(), report: JSON.parse(readFileSync(await download.path(), 'utf8')) };
  }

  /** Run the CLI with `args` plus `--report FILE`; returns the parsed report. */
  function cliReport(args) {
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-cli-'));
    try {
      const out = path.join(tmp, 'report.json');
      execFileSync(cliBinary(), [...args, '--report', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      return JSON.parse(readFileSync(out, 'utf8'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  test('inversion: all 10 digits classes white-box, recognised and equal to the CLI', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openProbe(AUDIT.model, AUDIT.members, AUDIT.nonmembers);
    // the page's defaults are the ones the test wants; check them rather than set them
    assert.equal(await page.getByTestId('inv-shape').inputValue(), '1,8,8', '64 flat features prefill 1,8,8');
    assert.equal(await page.getByTestId('inv-steps').inputValue(), '1000');
    assert.equal(await page.getByTestId('inv-gamma').inputValue(), '1e-4');
    assert.equal(await page.getByTestId('inv-start').inputValue(), 'data_mean');
    assert.equal(await page.getByTestId('inv-mode').inputValue(), 'white_box');
    assert.ok(await page.getByTestId('inv-budget').isDisabled(), 'the query budget is for black-box only');
    assert.equal(await page.getByTestId('inv-class').locator('option').count(), 11, 'all + 10 classes');
    await page.getByTestId('inv-class').selectOption('all');

    const { name, report } = await runProbe(page, 'inv');
    assert.match(name, /^privacy-inversion-[0-9a-f]{12}-seed\d+\.json$/);
    const inv = report.inversion;
    assert.ok(inv, 'the report has no inversion section');
    const results = page.getByTestId('inv-results');
    await results.getByTestId('inversion-report').waitFor({ timeout: TIMEOUT });
    const figs = results.locator('figure[data-testid^="inversion-class-"]');
    assert.equal(await figs.count(), 10, 'one figure per class');
    for (let c = 0; c < 10; c++) {
      const fig = results.getByTestId(`inversion-class-${c}`);
      assert.ok(await fig.isVisible(), `class ${c} is not shown`);
      assert.equal(await fig.locator('svg rect').count(), 64, `class ${c}: 8x8 pixels`);
      const box = await fig.locator('svg').boundingBox();
      assert.ok(box && box.width >= 64 && box.height >= 64, `class ${c}: image too small ${JSON.stringify(box)}`);
    }
    const lead = await results.getByTestId('inversion-lead').textContent();
    const m = /recognises the class of ([\d.]+)% of the 10 reconstructions/.exec(lead);
    assert.ok(m, `lead: ${lead}`);
    assert.ok(Number(m[1]) >= 80, `only ${m[1]}% recognised: ${lead}`);

    // the CLI on the same inputs (native FMA vs wasm: confidences within 1e-3)
    const cli = cliReport([
      'invert', AUDIT.model, '--class', 'all', '--members', AUDIT.members, '--nonmembers', AUDIT.nonmembers,
      '--input-shape', '1,8,8', '--start', 'mean', '--gamma', '1e-4', '--steps', '1000',
    ]).inversion;
    assert.equal(cli.classes.length, 10);
    const recognised = (r) => r.classes.filter((c) => c.recognised === true).length;
    assert.equal(recognised(inv), recognised(cli), 'recognised count page vs CLI');
    assert.ok(recognised(inv) >= 8, `recognised ${recognised(inv)} of 10`);
    for (let c = 0; c < 10; c++) {
      const g = inv.classes[c];
      const w = cli.classes[c];
      assert.equal(g.class, w.class);
      assert.ok(Math.abs(g.target_confidence - w.target_confidence) <= 1e-3,
        `class ${c}: target_confidence ${g.target_confidence} in the page, ${w.target_confidence} in the CLI`);
    }

    // the standalone HTML download holds the gallery
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('inv-download-html').click()]);
    const html = readFileSync(await dl.path(), 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('data-testid="inversion-class-9"'));

    await page.evaluate(() => document.querySelector('[data-testid="inv-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '13-inversion-results.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, '13-inversion-full.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows a 390px viewport by ${overflow}px`);
    await page.evaluate(() => document.querySelector('[data-testid="inv-heading"], #inv-heading').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '13-inversion-form-narrow.png') });
    await page.evaluate(() => document.querySelector('[data-testid="inv-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '13-inversion-results-narrow.png') });
    assertClean('inversion');
    await page.close();
  });

  test('inversion: Cancel respawns the worker, keeps the inputs, and a run works after', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await openProbe(AUDIT.model, AUDIT.members, AUDIT.nonmembers);
    // black-box with a large budget: long enough to cancel mid-run
    await page.getByTestId('inv-mode').selectOption('black_box');
    assert.ok(await page.getByTestId('inv-budget').isEnabled());
    await page.getByTestId('inv-budget').fill('100000000');
    await page.getByTestId('inv-steps').fill('100000');
    await page.getByTestId('inv-run').click();
    await page.getByTestId('inv-progress').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'the audit waits while the inversion runs');
    await page.getByTestId('inv-cancel').click();
    await page.getByTestId('inv-progress').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assert.ok(await page.getByTestId('inv-error').isHidden(), 'Cancel is not an error');
    assert.ok(await page.getByTestId('inv-results-panel').isHidden(), 'the cancelled run must not have finished');
    // a short white-box run on one class works on the respawned worker
    await page.getByTestId('inv-mode').selectOption('white_box');
    await page.getByTestId('inv-steps').fill('200');
    await page.getByTestId('inv-class').selectOption('3');
    const { report } = await runProbe(page, 'inv');
    assert.deepEqual(report.inversion.classes.map((c) => c.class), [3]);
    assert.deepEqual(report.counts, { members: 1200, nonmembers: 597, population: 0 });
    assert.equal(await page.getByTestId('inv-results').locator('figure').count(), 1);
    assertClean('inversion cancel');
    await page.close();
  });

  test('attribute inference: wine f0 with bins equals the CLI; no bins shows the error next to the control', { timeout: AUDIT_TIMEOUT }, async () => {
    const WINE = {
      model: path.join(ROOT, 'tests/fixtures/sk_pipeline_wine.onnx'),
      members: path.join(ROOT, 'tests/fixtures/data/wine.train.csv'),
      nonmembers: path.join(ROOT, 'tests/fixtures/data/wine.test.csv'),
      bins: '10,12.5,13.5,15',
    };
    const page = await openProbe(WINE.model, WINE.members, WINE.nonmembers);
    const options = await page.getByTestId('attr-column').locator('option').allTextContents();
    assert.deepEqual(options, Array.from({ length: 13 }, (_, i) => `f${i}`));
    await page.getByTestId('attr-column').selectOption('f0');

    // the bad case first: a continuous column without bins
    await page.getByTestId('attr-bins').fill('');
    await page.getByTestId('attr-run').click();
    await page.getByTestId('attr-error').waitFor({ state: 'visible', timeout: AUDIT_TIMEOUT });
    const code = await text(page, 'attr-error-code');
    assert.ok(code && code !== 'error' && code !== 'internal', `a specific error code, got ${code}`);
    const msg = await text(page, 'attr-error-message');
    assert.match(msg, /f0/, msg);
    assert.match(msg, /bin/, msg);
    const near = await page.evaluate(() => {
      const err = document.querySelector('[data-testid="attr-error"]');
      const ctl = document.querySelector('[data-testid="attr-column"]');
      return err.closest('section') === ctl.closest('section');
    });
    assert.ok(near, 'the error is not in the attribute section');
    assert.ok(await page.getByTestId('attr-results-panel').isHidden(), 'no results after an error');
    await page.evaluate(() => document.querySelector('#attr-heading').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '14-attribute-error.png') });

    // the quartile button fills increasing edges from the loaded members
    await page.getByTestId('attr-auto-bins').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="attr-bins"]').value !== '', null, { timeout: TIMEOUT });
    const auto = (await page.getByTestId('attr-bins').inputValue()).split(',').map(Number);
    assert.ok(auto.length >= 3 && auto.every((x, i) => i === 0 || x > auto[i - 1]), `quartile edges ${auto}`);
    // one rule for the page and the CLI (attribute::auto_bins: quartiles of
    // every record, members and non-members): the same edges, exactly
    const cliAuto = cliReport([
      'attribute', WINE.model, '--members', WINE.members, '--nonmembers', WINE.nonmembers, '--sensitive', 'f0', '--auto-bins',
    ]).attribute.bins;
    assert.deepEqual(auto, cliAuto, 'automatic bins: page vs CLI --auto-bins');

    // the page keeps working: with bins the run succeeds
    await page.getByTestId('attr-bins').fill(WINE.bins);
    const { name, report } = await runProbe(page, 'attr');
    assert.match(name, /^privacy-attribute-f0-[0-9a-f]{12}-seed\d+\.json$/);
    assert.ok(await page.getByTestId('attr-error').isHidden(), 'the old error is cleared');
    const a = report.attribute;
    assert.equal(a.column_name, 'f0');
    assert.deepEqual(a.bins, [10, 12.5, 13.5, 15]);
    const results = page.getByTestId('attr-results');
    await results.getByTestId('attribute-table').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await results.getByTestId('attribute-table').locator('tbody tr').count(), 2, 'members and non-members rows');
    assert.match(await results.getByTestId('attribute-lead').textContent(), /f0/);

    const cli = cliReport([
      'attribute', WINE.model, '--members', WINE.members, '--nonmembers', WINE.nonmembers,
      '--sensitive', 'f0', '--bins', WINE.bins,
    ]).attribute;
    for (const set of ['members', 'nonmembers']) {
      const g = a[set].attack_accuracy;
      const w = cli[set].attack_accuracy;
      assert.ok(Math.abs(g - w) <= 1e-9, `${set} attack accuracy ${g} in the page, ${w} in the CLI`);
      assert.equal(a[set].n, cli[set].n);
    }

    await page.evaluate(() => document.querySelector('[data-testid="attr-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '15-attribute-results.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page overflows a 390px viewport by ${overflow}px`);
    await page.evaluate(() => document.querySelector('#attr-heading').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '15-attribute-narrow.png') });
    await page.evaluate(() => document.querySelector('[data-testid="attr-results-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '15-attribute-results-narrow.png') });
    assertClean('attribute');
    await page.close();
  });

  // ---------- bundled demos ----------

  const DEMO_SEED = 5;
  const demoIndex = JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/demo/demos.json'), 'utf8'));

  for (const key of Object.keys(demoIndex)) {
    test(`demo ${key}: one click loads model and CSVs; Standard in the page equals the CLI`, { timeout: AUDIT_TIMEOUT }, async () => {
      const demo = demoIndex[key];
      const page = await open();
      await page.getByTestId('demo-select').selectOption(key);
      await page.getByTestId('demo-button').click();
      for (const role of ['members', 'nonmembers', 'population']) {
        await page.getByTestId(`${role}-counts`).filter({ hasText: `${demo[role]}: ${demo.rows[role].toLocaleString('en-US')} rows` }).waitFor({ timeout: TIMEOUT });
      }
      await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
      if (key === 'digits') await page.screenshot({ path: path.join(ARTIFACTS, '2-demo-loaded.png'), fullPage: true });
      await page.getByTestId('audit-preset').selectOption('standard');
      await page.getByTestId('audit-seed').fill(String(DEMO_SEED));
      // from here on the page may not request anything: every worker has started
      const before = requests.length;
      // and no task on the main thread may take 100 ms or more
      await page.evaluate(() => {
        window.__longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.__longTasks.push(Math.round(e.duration));
        }).observe({ type: 'longtask' });
      });
      const report = await runAndDownload(page);
      const after = requests.slice(before).filter((u) => !u.startsWith('blob:') && !u.startsWith('data:'));
      assert.deepEqual(after, [], `requests during the audit: ${after.join(', ')}`);
      const long = await page.evaluate(() => window.__longTasks);
      assert.ok(long.every((d) => d < 100), `main-thread tasks of ${long.join(', ')} ms during the audit`);
      assert.deepEqual(report.attacks.map((a) => a.id), AUDIT.all);
      assert.equal(report.settings.references, 16);
      assert.deepEqual(report.attacks.filter((a) => a.skipped != null).map((a) => a.id), [], 'nothing skipped with a population');
      assert.match(await text(page, 'audit-timing'), /32 reference models on \d+ workers?/);

      // the CLI on the same files and seed
      const tmp = mkdtempSync(path.join(tmpdir(), `pi-e2e-demo-${key}-`));
      try {
        const out = path.join(tmp, 'report.json');
        const dir = path.join(ROOT, 'tests/fixtures/demo');
        execFileSync(cliBinary(), [
          'audit', path.join(dir, demo.model), '--members', path.join(dir, demo.members),
          '--nonmembers', path.join(dir, demo.nonmembers), '--population', path.join(dir, demo.population),
          '--attacks', 'all', '--references', '16', '--seed', String(DEMO_SEED), '--report', out, '--quiet',
        ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
        const cli = JSON.parse(readFileSync(out, 'utf8'));
        assert.equal(cli.model.sha256, report.model.sha256);
        assertFiguresClose(figures(report), figures(cli), 1e-6, `demo ${key}: page vs CLI`);
        console.log(`demo ${key}: ${JSON.stringify(Object.fromEntries(report.attacks.map((a) => [a.id, [a.auc, a.tpr_at_fpr['0.01']]])))}`);

        if (key === 'digits') {
          await page.evaluate(() => document.querySelector('[data-testid="audit-results-panel"]').scrollIntoView());
          await page.screenshot({ path: path.join(ARTIFACTS, '3-demo-report.png') });
          // a most exposed row opens that member's record (image and values), from the page's own CSV
          const first = report.attacks.find((a) => a.id === 'lira_online').most_exposed[0];
          const section = page.getByTestId('audit-results').getByTestId('attack-lira_online');
          await section.locator('details', { hasText: 'Most exposed members' }).evaluate((d) => { d.open = true; });
          await section.locator(`button.record-link[data-record-index="${first.index}"]`).first().click();
          await page.getByTestId('record-dialog').waitFor({ state: 'visible', timeout: TIMEOUT });
          assert.match(await text(page, 'record-title'), new RegExp(`Members row ${first.index} .*label ${first.label}`));
          assert.equal(await page.getByTestId('record-table').locator('tr').count(), 64);
          const line = readFileSync(path.join(dir, demo.members), 'utf8').trim().split('\n')[first.index + 1].split(',');
          const shown = await page.getByTestId('record-table').locator('td').evaluateAll((tds) => tds.map((td) => Number(td.textContent)));
          assert.deepEqual(shown, line.slice(0, 64).map(Number));
          assert.ok(await page.getByTestId('record-image').isVisible(), 'an 8x8 record is drawn');
          await page.screenshot({ path: path.join(ARTIFACTS, '3-demo-record.png') });
          await page.getByTestId('record-close').click();
          await page.getByTestId('record-dialog').waitFor({ state: 'hidden', timeout: TIMEOUT });

          // the exported HTML, opened from disk in a browser with the network off, shows the same figures
          const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-html').click()]);
          const file = path.join(tmp, 'report.html');
          writeFileSync(file, readFileSync(await dl.path()));
          const offline = await chromium.launch({
            executablePath: CHROMIUM,
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
          });
          try {
            const ctx = await offline.newContext({ offline: true });
            const seen = [];
            ctx.on('request', (r) => seen.push(r.url()));
            const p2 = await ctx.newPage();
            await p2.goto(pathToFileURL(file).href);
            await p2.getByTestId('report-summary').waitFor({ timeout: TIMEOUT });
            for (const a of report.attacks) {
              const row = await p2.getByTestId(`summary-${a.id}`).textContent();
              assert.ok(row.includes(a.auc.toFixed(3)), `${a.id}: exported row "${row}" lacks AUC ${a.auc.toFixed(3)}`);
              assert.ok(row.includes(a.epsilon_lower_bound.toFixed(2)), `${a.id}: exported row lacks epsilon ${a.epsilon_lower_bound.toFixed(2)}`);
            }
            assert.equal(await p2.locator('svg').count(), 3 * report.attacks.length);
            assert.deepEqual(seen, [pathToFileURL(file).href], `the exported report requested ${seen.join(', ')}`);
            await p2.emulateMedia({ media: 'print' });
            await p2.screenshot({ path: path.join(ARTIFACTS, '3-demo-export-print.png'), fullPage: true });
          } finally {
            await offline.close();
          }
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      assertClean(`demo ${key}`);
      await page.close();
    });
  }

  test('files dropped together go to their roles; one CSV with a membership column splits; a file can be moved', { timeout: AUDIT_TIMEOUT }, async () => {
    const dir = path.join(ROOT, 'tests/fixtures/demo');
    const page = await open();
    const csv = (f) => readFileSync(path.join(dir, f));
    // model and two CSVs whose names say train and test, in one go
    await page.getByTestId('model-input').setInputFiles([
      { name: 'tabular_pipeline.onnx', mimeType: 'application/octet-stream', buffer: readFileSync(path.join(dir, 'tabular_pipeline.onnx')) },
      { name: 'cancer_train.csv', mimeType: 'text/csv', buffer: csv('tabular_members.csv') },
      { name: 'cancer_test.csv', mimeType: 'text/csv', buffer: csv('tabular_nonmembers.csv') },
    ]);
    await page.getByTestId('members-counts').filter({ hasText: 'cancer_train.csv: 250 rows' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('nonmembers-counts').filter({ hasText: 'cancer_test.csv: 160 rows' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'model-name'), /tabular_pipeline\.onnx/);
    assert.match(await text(page, 'members-why'), /guessed: the file name says train/);
    assert.match(await text(page, 'nonmembers-why'), /guessed: the file name says test/);
    // move the test file to the population: the non-members slot empties
    await page.getByTestId('nonmembers-move').selectOption('population');
    await page.getByTestId('population-counts').filter({ hasText: 'cancer_test.csv: 160 rows' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'nonmembers-counts'), /not loaded/);
    assert.ok(await page.getByTestId('audit-run').isDisabled(), 'no non-members now');

    // one CSV with a membership column: members (1) and non-members (0)
    const members = csv('tabular_members.csv').toString().trim().split('\n');
    const non = csv('tabular_nonmembers.csv').toString().trim().split('\n');
    const both = [`${members[0]},in_training`, ...members.slice(1).map((l) => `${l},1`), ...non.slice(1).map((l) => `${l},0`)].join('\n') + '\n';
    await page.getByTestId('membership-input').setInputFiles({ name: 'cancer_all.csv', mimeType: 'text/csv', buffer: Buffer.from(both) });
    await page.getByTestId('membership-note').filter({ hasText: '250 members, 160 non-members' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'members-counts'), /250 rows × 30 features, label column "label"/);
    assert.match(await text(page, 'nonmembers-counts'), /160 rows × 30 features/);
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    // a CSV without such a column: the error sits next to that input
    await page.getByTestId('membership-input').setInputFiles({ name: 'plain.csv', mimeType: 'text/csv', buffer: csv('tabular_members.csv') });
    await page.getByTestId('membership-error-message').filter({ hasText: 'plain.csv' }).waitFor({ timeout: TIMEOUT });
    assert.match(await text(page, 'membership-error-code'), /no_membership_column/);
    // the preview of a loaded file shows its first rows
    await page.getByTestId('members-extra').locator('summary').click();
    assert.equal(await page.getByTestId('members-preview').locator('tbody tr').count(), 5);
    await page.screenshot({ path: path.join(ARTIFACTS, '6-audit-inputs.png'), fullPage: true });
    // a PNG renamed .onnx and a 0-byte model: errors next to the model input, the model stays
    const sha = await text(page, 'summary-sha256');
    await page.getByTestId('model-input').setInputFiles(path.join(ROOT, 'tests/fixtures/bad/png_renamed.onnx'));
    await page.getByTestId('model-error-message').filter({ hasText: 'png_renamed.onnx' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('model-input').setInputFiles({ name: 'zero.onnx', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
    await page.getByTestId('model-error-message').filter({ hasText: 'zero.onnx' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await text(page, 'summary-sha256'), sha);
    assert.match(await text(page, 'members-counts'), /250 rows/);
    assertClean('file routing');
    await page.close();
  });

  test('teaching mode: train in the page, audit, change L2: the figures move; the trained model is an ONNX file the CLI agrees on', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await open();
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('audit-seed').fill('2');
    const rows = page.getByTestId('teach-history').locator('tbody tr');
    const runs = [];
    for (const l2 of ['0', '0.05']) {
      await page.getByTestId('teach-l2').fill(l2);
      await page.getByTestId('teach-epochs').fill('150');
      await page.getByTestId('teach-run').click();
      await rows.nth(runs.length).waitFor({ timeout: AUDIT_TIMEOUT });
      await page.getByTestId('audit-results').getByTestId('report-lead').waitFor({ timeout: AUDIT_TIMEOUT });
      assert.ok(await page.getByTestId('teach-error').isHidden(), await page.getByTestId('teach-error').textContent());
      const cells = await rows.nth(runs.length).locator('td').allTextContents();
      runs.push(cells);
    }
    // run 1: no L2; run 2: L2 0.05 -> the best AUC and the epsilon bound fall
    const auc = (cells) => Number(cells[9].split(' ')[0]);
    const eps = (cells) => Number(cells[10]);
    assert.equal(runs[0][5], '', 'no DP-SGD, no one-run check');
    assert.match(runs[0][6], /^\d+\.\d%$/, `train accuracy "${runs[0][6]}"`);
    assert.ok(auc(runs[1]) < auc(runs[0]), `best AUC ${auc(runs[0])} -> ${auc(runs[1])}`);
    assert.ok(eps(runs[1]) <= eps(runs[0]), `epsilon bound ${eps(runs[0])} -> ${eps(runs[1])}`);
    assert.match(await text(page, 'model-name'), /teach-w64-e150-l2_0\.05-seed1\.onnx/);
    await page.evaluate(() => document.querySelector('#teach-heading').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '17-teaching.png') });
    // the trained model downloads as ONNX; the CLI's Quick audit on it equals the page's
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('teach-model-download').last().click()]);
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-teach-'));
    try {
      const model = path.join(tmp, dl.suggestedFilename());
      writeFileSync(model, readFileSync(await dl.path()));
      const report = await runAndDownload(page);
      const dir = path.join(ROOT, 'tests/fixtures/demo');
      const out = path.join(tmp, 'report.json');
      execFileSync(cliBinary(), [
        'audit', model, '--members', path.join(dir, 'digits_members.csv'), '--nonmembers', path.join(dir, 'digits_nonmembers.csv'),
        '--population', path.join(dir, 'digits_population.csv'), '--attacks', 'quick', '--seed', '2', '--report', out, '--quiet',
      ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const cli = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(cli.model.sha256, report.model.sha256);
      assertFiguresClose(figures(report), figures(cli), 1e-6, 'teaching model: page vs CLI');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    assertClean('teaching');
    await page.close();
  });

  test('a panic inside the wasm engine is an internal error with a diagnostic; the worker is replaced and nothing is lost', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await open('?demo=digits&test-hooks');
    await page.getByTestId('members-counts').filter({ hasText: 'digits_members.csv' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('audit-seed').fill('4');
    const generation = await page.evaluate(() => window.__inspectorTest.generation);
    await page.evaluate(() => window.__inspectorTest.panicOn('runAudit'));
    await page.getByTestId('audit-run').click();
    await page.getByTestId('audit-error-message').filter({ hasText: 'crashed' }).waitFor({ timeout: AUDIT_TIMEOUT });
    assert.equal(await text(page, 'audit-error-code'), 'internal_panic');
    const diag = JSON.parse(await page.getByTestId('audit-error-diagnostic').inputValue());
    assert.match(diag.detail.panic, /test panic requested in runAudit/);
    assert.equal(diag.code, 'internal_panic');
    assert.match(diag.model_sha256, /^[0-9a-f]{64}$/);
    await page.screenshot({ path: path.join(ARTIFACTS, '18-panic.png') });
    // a new worker, the inputs and settings kept, and the same run now completes
    await page.waitForFunction((g) => window.__inspectorTest.generation > g, generation, { timeout: TIMEOUT });
    assert.match(await text(page, 'members-counts'), /digits_members\.csv: 300 rows/);
    assert.match(await text(page, 'population-counts'), /digits_population\.csv: 600 rows/);
    assert.equal(await page.getByTestId('audit-seed').inputValue(), '4');
    assert.ok(await page.getByTestId('model-summary').isVisible());
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    const report = await runAndDownload(page);
    assert.equal(report.seed, 4);
    assert.deepEqual(report.counts, { members: 300, nonmembers: 400, population: 600 });
    assert.ok(await page.getByTestId('audit-error').isHidden());
    // the panic's own console lines are expected; anything else is not
    for (let i = problems.length - 1; i >= 0; i--) if (/test panic requested|RuntimeError: unreachable/.test(problems[i])) problems.splice(i, 1);
    assertClean('panic');
    await page.close();
  });

  test('model-file scan: an SVC shows its stored training records and the guidance, with no attack run; metadata is flagged and stripped', { timeout: AUDIT_TIMEOUT }, async () => {
    const dir = path.join(ROOT, 'tests/fixtures/scan');
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'));
    const page = await open();
    // the model alone: its support vectors look like stored records
    await page.getByTestId('model-input').setInputFiles(path.join(dir, 'svc_raw.onnx'));
    await page.getByTestId('scan-panel').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.getByTestId('scan-results').getByTestId('guidance-record_like_tensors').waitFor({ timeout: TIMEOUT });
    // with the records it was trained on: every support vector is a member, no non-member matches
    await page.getByTestId('model-input').setInputFiles([
      { name: 'svc_raw.onnx', mimeType: 'application/octet-stream', buffer: readFileSync(path.join(dir, 'svc_raw.onnx')) },
      { name: 'members.csv', mimeType: 'text/csv', buffer: readFileSync(path.join(dir, 'members.csv')) },
      { name: 'nonmembers.csv', mimeType: 'text/csv', buffer: readFileSync(path.join(dir, 'nonmembers.csv')) },
    ]);
    await page.getByTestId('nonmembers-counts').filter({ hasText: 'nonmembers.csv: 60 rows' }).waitFor({ timeout: TIMEOUT });
    const embedded = page.getByTestId('scan-results').getByTestId('guidance-embedded_records');
    await embedded.waitFor({ timeout: TIMEOUT });
    const finding = await embedded.textContent();
    assert.ok(finding.includes(String(expected.svc_raw.support.length)), `the finding names ${expected.svc_raw.support.length} member records: ${finding}`);
    assert.ok(await page.getByTestId('audit-results-panel').isHidden(), 'no attack ran');
    await page.evaluate(() => document.querySelector('[data-testid="scan-panel"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '19-scan-svc.png') });
    // a model whose metadata names a path, an e-mail and a URL: flagged, and a clean copy offered
    await page.getByTestId('model-input').setInputFiles(path.join(dir, 'meta.onnx'));
    await page.getByTestId('scan-panel').filter({ hasText: '@' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('scan-results').getByTestId('guidance-metadata').waitFor({ timeout: TIMEOUT });
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('strip-download').click()]);
    assert.match(dl.suggestedFilename(), /meta\.clean\.onnx$/);
    const clean = readFileSync(await dl.path());
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-scan-'));
    try {
      const file = path.join(tmp, 'clean.onnx');
      writeFileSync(file, clean);
      const out = path.join(tmp, 'scan.json');
      execFileSync(cliBinary(), ['scan', file, '--report', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const rescan = JSON.parse(readFileSync(out, 'utf8'));
      assert.deepEqual(rescan.scan.metadata, [], 'the stripped copy has no metadata findings');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    assertClean('scan');
    await page.close();
  });

  test('teaching mode with DP-SGD: the noise multiplier and epsilon are shown and recorded with the run', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await open();
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('teach-dp').check();
    await page.getByTestId('teach-epochs').fill('5');
    await page.getByTestId('teach-sigma').fill('1.1');
    await page.getByTestId('teach-sigma').dispatchEvent('change');
    await page.getByTestId('teach-epsilon').filter({ hasText: /σ = 1\.1, .*RDP accountant gives/ }).waitFor({ timeout: TIMEOUT });
    const shown = Number(await page.getByTestId('teach-epsilon').getAttribute('data-epsilon'));
    assert.ok(shown > 0 && Number.isFinite(shown), `epsilon ${shown}`);
    await page.getByTestId('teach-run').click();
    const row = page.getByTestId('teach-history').locator('tbody tr').first();
    await row.waitFor({ timeout: AUDIT_TIMEOUT });
    const cells = await row.locator('td').allTextContents();
    assert.match(cells[4], new RegExp(`σ 1\\.1, C 1, ε ${shown.toFixed(2).replace('.', '\\.')}`), `DP cell "${cells[4]}" vs shown epsilon ${shown}`);
    // the one-run check: the same run as the CLI's dp-audit with the same
    // recipe, seed and 100 canaries
    const m = cells[5].match(/^(\d+\.\d\d) \(accountant (\d+\.\d\d)\)$/);
    assert.ok(m, `one-run cell "${cells[5]}"`);
    const tmp = mkdtempSync(path.join(tmpdir(), 'pi-e2e-dp-'));
    try {
      const out = path.join(tmp, 'dp.json');
      execFileSync(cliBinary(), ['dp-audit', path.join(ROOT, 'tests/fixtures/demo/teach_mlp_64.onnx'), '--data', path.join(ROOT, 'tests/fixtures/demo/digits_members.csv'),
        '--canaries', '100', '--epochs', '5', '--batch-size', '32', '--lr', '0.003', '--l2', '0', '--clip', '1', '--noise-multiplier', '1.1',
        '--delta', '1e-5', '--seed', '1', '--report', out]);
      const d = JSON.parse(readFileSync(out, 'utf8')).dp_audit;
      assert.equal(m[1], d.bound.epsilonLowerBound.toFixed(2), 'one-run bound: page vs CLI');
      assert.equal(m[2], d.accountantEpsilon.toFixed(2), 'accountant epsilon of the canary run: page vs CLI');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    assertClean('teaching dp');
    await page.close();
  });

  test('Thorough runs every attack, then the model inversion and the attribute inference', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await open('?demo=tabular');
    await page.getByTestId('population-counts').filter({ hasText: 'tabular_population.csv' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('audit-preset').selectOption('thorough');
    await page.getByTestId('audit-references').fill('4');
    await page.getByTestId('audit-run').click();
    await page.getByTestId('audit-results').getByTestId('report-lead').waitFor({ timeout: AUDIT_TIMEOUT });
    await page.getByTestId('inv-results').getByTestId('inversion-report').waitFor({ timeout: AUDIT_TIMEOUT });
    await page.getByTestId('attr-results').getByTestId('attribute-report').waitFor({ timeout: AUDIT_TIMEOUT });
    assert.equal(await page.getByTestId('audit-results').getByTestId('report-summary').locator('tbody tr').count(), AUDIT.all.length);
    assert.match(await page.getByTestId('attr-bins').inputValue(), /^[-\d.e]+(,[-\d.e]+)+$/, 'quartile bins were filled');
    assertClean('thorough');
    await page.close();
  });

  test('a CSV of several MB streams into the parser in parts; the audit equals the CLI on it', { timeout: AUDIT_TIMEOUT }, async () => {
    // 20 copies of digits.train.csv (24,000 rows, about 3.6 MB, CRLF line
    // ends): the worker reads the File in chunks and parses 1 MB parts, so
    // records cross part and chunk boundaries
    const dir = mkdtempSync(path.join(tmpdir(), 'pi-e2e-big-'));
    try {
      const [header, ...rows] = readFileSync(AUDIT.members, 'utf8').trim().split('\n');
      const big = path.join(dir, 'members_big.csv');
      const copies = 20;
      writeFileSync(big, [header, ...Array.from({ length: copies }, () => rows).flat()].join('\r\n') + '\r\n');
      assert.ok(statSync(big).size > 3 * 1024 * 1024);
      const page = await openAudit();
      await page.getByTestId('members-input').setInputFiles(big);
      await page.getByTestId('members-counts').filter({ hasText: `${(rows.length * copies).toLocaleString('en-US')} rows` }).waitFor({ timeout: TIMEOUT });
      await page.getByTestId('audit-preset').selectOption('custom');
      for (const id of AUDIT.all) await page.getByTestId(`audit-attack-${id}`).setChecked(id === 'loss' || id === 'confidence');
      await page.getByTestId('audit-seed').fill(String(AUDIT.seed));
      const report = await runAndDownload(page);
      assert.deepEqual(report.counts, { members: rows.length * copies, nonmembers: 597, population: 0 });
      const out = path.join(dir, 'report.json');
      execFileSync(cliBinary(), [
        'audit', AUDIT.model, '--members', big, '--nonmembers', AUDIT.nonmembers,
        '--attacks', 'loss,confidence', '--seed', String(AUDIT.seed), '--report', out, '--quiet',
      ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const cli = JSON.parse(readFileSync(out, 'utf8'));
      for (const [i, a] of cli.attacks.entries()) {
        const p = report.attacks[i];
        assert.equal(p.id, a.id);
        assert.equal(p.auc, a.auc, `${a.id} AUC`);
        assert.deepEqual(p.scores, a.scores, `${a.id}: every record's score`);
      }
      await page.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every request stayed on the origin', () => {
    assert.ok(requests.length > 0, 'no requests were recorded');
    for (const file of ['/main.js', '/worker.js', '/pool.js', '/pkg/privacy_inspector.js', '/pkg/privacy_inspector_bg.wasm', '/demo/digits_overfit.onnx']) {
      assert.ok(requests.some((u) => new URL(u).pathname === file), `${file} was not requested (requests seen: ${requests.length})`);
    }
    assertClean('requests');
  });

  test('the page shows what the core declares: the attack catalogue, the ranges, and the core\'s error (the CLI\'s too)', async () => {
    const page = await open();
    // the catalogue, read independently from its one table in the source
    const src = readFileSync(path.join(ROOT, 'src/attacks/membership/audit.rs'), 'utf8');
    const table = [...src.matchAll(/attack\(\s*"([a-z_]+)",\s*"([^"]+)"/g)].map((m) => [m[1], m[2]]);
    assert.equal(table.length, 15, 'the catalogue rows in audit.rs');
    const shown = await page.locator('#attack-checks label').evaluateAll((ls) => ls.map((l) => [l.querySelector('input').value, l.querySelector('span').textContent]));
    assert.deepEqual(shown, table, 'attack menu = audit.rs CATALOGUE, in order');
    // the form's bounds, read independently from src/settings.rs
    const settings = readFileSync(path.join(ROOT, 'src/settings.rs'), 'utf8');
    const range = (name) => {
      const m = new RegExp(`${name} = \\("[^"]+", [^,]+(?:\\))?, "[^"]+", (\\w+), (\\w+)\\);`).exec(settings);
      assert.ok(m, `${name} in settings.rs`);
      const num = (t) => (/^[\d_]+$/.test(t) ? Number(t.replace(/_/g, '')) : Number(new RegExp(`const ${t}: u64 = ([\\d_]+);`).exec(settings)[1].replace(/_/g, '')));
      return [num(m[1]), num(m[2])];
    };
    for (const [id, name] of [['audit-references', 'REFERENCES'], ['recipe-max-epochs', 'REF_MAX_EPOCHS'], ['teach-epochs', 'TRAIN_EPOCHS'], ['inv-steps', 'INVERSION_STEPS']]) {
      const field = page.getByTestId(id);
      assert.deepEqual([Number(await field.getAttribute('min')), Number(await field.getAttribute('max'))], range(name), `${id} bounds`);
    }
    // a value out of range: the page shows the core's message, the CLI's own
    await page.getByTestId('model-input').setInputFiles(AUDIT.model);
    await page.getByTestId('members-input').setInputFiles(AUDIT.members);
    await page.getByTestId('members-counts').filter({ hasText: 'rows' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('nonmembers-input').setInputFiles(AUDIT.nonmembers);
    await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: TIMEOUT });
    await page.getByTestId('audit-preset').selectOption('standard');
    await page.getByTestId('audit-references').fill('5000');
    await page.getByTestId('audit-run').click();
    await page.getByTestId('audit-settings-error').waitFor({ state: 'visible', timeout: TIMEOUT });
    const got = await text(page, 'audit-settings-error-message');
    let cli = '';
    try {
      execFileSync(cliBinary(), ['audit', AUDIT.model, '--members', AUDIT.members, '--nonmembers', AUDIT.nonmembers, '--references', '5000', '--report', path.join(tmpdir(), 'pi-e2e-never-written.json')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      cli = String(err.stderr);
    }
    const want = /reference models per mode \(references, --references\) must be 1 to 1,024, got 5,000/;
    assert.match(got, want, `page: ${got}`);
    assert.match(cli, want, `CLI: ${cli}`);
    assert.ok(await page.getByTestId('audit-progress').isHidden(), 'nothing ran');
    // the teaching recipe: the core's check (training's rules) before anything trains
    await page.getByTestId('teach-l2').fill('-1');
    await page.getByTestId('teach-run').click();
    await page.getByTestId('teach-settings-error').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await text(page, 'teach-settings-error-code'), 'bad_config');
    assert.match(await text(page, 'teach-settings-error-message'), /L2 must be a finite number >= 0, got -1/);
    assertClean('core declarations');
    await page.close();
  });

  test('presets: Thorough checks every attack with 64 references; every knob stays reachable', async () => {
    const page = await open();
    const preset = page.getByTestId('audit-preset');
    const options = await preset.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options.map(([v]) => v), ['quick', 'standard', 'thorough', 'custom']);
    // the menu says what the core's presets do (audit::PRESETS)
    assert.equal(options[0][1], `Quick: ${AUDIT.quick.length} attacks, no reference models`);
    assert.equal(options[1][1], 'Standard: every attack, 16 references');
    assert.equal(options[2][1], 'Thorough: every attack, 64 references, then inversion and attribute inference');
    const checked = () => page.getByTestId('audit-attacks').locator('input[type="checkbox"]')
      .evaluateAll((bs) => bs.filter((b) => b.checked).map((b) => b.value));
    await preset.selectOption('thorough');
    assert.equal(await page.getByTestId('audit-references').inputValue(), '64');
    assert.deepEqual(await checked(), AUDIT.all);
    // the reference count and the seed stay editable under the preset
    await page.getByTestId('audit-references').fill('32');
    assert.equal(await preset.inputValue(), 'thorough');
    await preset.selectOption('standard');
    assert.equal(await page.getByTestId('audit-references').inputValue(), '16');
    await preset.selectOption('thorough');
    // the attack list is reachable through "Custom selection", starting from the preset's choice
    await preset.selectOption('custom');
    assert.ok(await page.getByTestId('audit-attacks').isVisible(), 'the attack list is shown for a custom selection');
    assert.deepEqual(await checked(), AUDIT.all);
    await page.getByTestId('audit-attacks').locator('input[value="shokri"]').uncheck();
    assert.equal(await preset.inputValue(), 'custom');
    assertClean('presets');
    await page.close();
  });

  // (before the offline test, which must stay last: it stops the server)
  test('limits: set in the page they reach every worker and refuse a demo CSV over them, naming the limit; the defaults load it again', { timeout: AUDIT_TIMEOUT }, async () => {
    const page = await open('?test-hooks');
    await page.getByTestId('limits-settings').locator('summary').click();
    const field = page.getByTestId('limits-json');
    const apply = page.getByTestId('limits-apply');
    const defaults = JSON.parse(await field.inputValue());
    assert.equal(defaults.max_csv_rows, 10_000_000);
    assert.equal(defaults.max_nodes, 200_000);
    // a bad text: the coded error next to the field, the user's text kept, nothing applied
    for (const [bad, names] of [['{"max_csv_rows": 10,', /line 1/], ['{"max_csv_row": 10}', /unknown limit 'max_csv_row'/]]) {
      await field.fill(bad);
      await apply.click();
      await page.getByTestId('limits-error-message').filter({ hasText: names }).waitFor({ timeout: TIMEOUT });
      assert.equal(await text(page, 'limits-error-code'), 'bad_limits');
      assert.equal(await field.inputValue(), bad);
    }
    await page.getByTestId('limits-settings').screenshot({ path: path.join(ARTIFACTS, '20-limits-bad.png') });
    for (const l of await page.evaluate(() => window.__inspectorTest.limits())) assert.deepEqual(l, defaults);
    // max_csv_rows 10 in every worker (the pool helpers too); the field shows every limit
    await field.fill('{"max_csv_rows": 10}');
    await apply.click();
    await page.getByTestId('limits-status').filter({ hasText: 'Limits applied' }).waitFor({ timeout: TIMEOUT });
    assert.ok(await page.getByTestId('limits-error').isHidden());
    const want = { ...defaults, max_csv_rows: 10 };
    assert.deepEqual(JSON.parse(await field.inputValue()), want);
    const workers = await page.evaluate(() => window.__inspectorTest.limits());
    assert.ok(workers.length >= 2, `the page's worker and its helpers: ${workers.length}`);
    for (const l of workers) assert.deepEqual(l, want);
    // a crashed worker is replaced and restored with the limits (restoreInto sets them first)
    const generation = await page.evaluate(() => window.__inspectorTest.generation);
    await page.evaluate(() => {
      window.__inspectorTest.panicOn('limits');
      return window.__inspectorTest.limits().catch((e) => e.code);
    });
    await page.waitForFunction((g) => window.__inspectorTest.generation > g, generation, { timeout: TIMEOUT });
    for (const l of await page.evaluate(() => window.__inspectorTest.limits())) assert.deepEqual(l, want);
    // the digits demo: the model loads; its members CSV (300 rows) is refused, the limit named
    await page.getByTestId('demo-select').selectOption('digits');
    await page.getByTestId('demo-button').click();
    await page.getByTestId('members-error-code').filter({ hasText: 'csv_too_many_rows' }).waitFor({ timeout: TIMEOUT });
    const message = await text(page, 'members-error-message');
    assert.match(message, /^digits_members\.csv could not be read: .*over the limit max_csv_rows = 10\b/);
    assert.ok(await page.getByTestId('model-summary').isVisible(), 'the model is under every limit');
    assert.equal(await text(page, 'members-counts'), 'not loaded');
    await page.evaluate(() => document.querySelector('[data-testid="members-error"]').scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, '20-limits-refused.png') });
    // the defaults again, in every worker; the same demo loads
    await page.getByTestId('limits-reset').click();
    await page.getByTestId('limits-status').filter({ hasText: 'the defaults' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(JSON.parse(await field.inputValue()), defaults);
    for (const l of await page.evaluate(() => window.__inspectorTest.limits())) assert.deepEqual(l, defaults);
    await page.getByTestId('demo-button').click();
    await page.getByTestId('members-counts').filter({ hasText: 'digits_members.csv: 300 rows' }).waitFor({ timeout: TIMEOUT });
    await page.getByTestId('population-counts').filter({ hasText: 'digits_population.csv: 600 rows' }).waitFor({ timeout: TIMEOUT });
    assert.ok(await page.getByTestId('members-error').isHidden());
    // tighter limits than files already loaded: Apply names those files (each once) and what is over
    await field.fill('{"max_csv_rows": 500}');
    await apply.click();
    await page.getByTestId('limits-status').filter({ hasText: 'Already loaded' }).waitFor({ timeout: TIMEOUT });
    const status = await text(page, 'limits-status');
    assert.match(status, /digits_population\.csv \(600 rows > max_csv_rows = 500\)/);
    assert.ok(!/digits_members|digits_nonmembers/.test(status), status);
    assert.equal(status.split('digits_population.csv').length, 2, `named once: ${status}`);
    await page.getByTestId('limits-reset').click();
    await page.getByTestId('limits-status').filter({ hasText: 'the defaults' }).waitFor({ timeout: TIMEOUT });
    assert.ok(!(await text(page, 'limits-status')).includes('Already loaded'));
    // the deliberate panic's own console lines are expected; anything else is not
    for (let i = problems.length - 1; i >= 0; i--) if (/test panic requested|RuntimeError: unreachable/.test(problems[i])) problems.splice(i, 1);
    assertClean('limits');
    await page.close();
  });

  // Last: it stops the static server.
  test('offline: with the server stopped the service worker serves the page, the engine and the demo', { timeout: 3 * TIMEOUT }, async () => {
    const page = await open();
    // the service worker has stored the shell and controls the page
    const controlled = await page.evaluate(async (ms) => {
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error(`no service worker became ready within ${ms} ms`)), ms));
      await Promise.race([navigator.serviceWorker.ready, late]);
      return navigator.serviceWorker.controller !== null;
    }, TIMEOUT);
    if (!controlled) {
      await page.reload();
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: TIMEOUT });
    }
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = [];
      for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(new URL(r.url).pathname);
      return { names, urls };
    });
    // every module of the page (sw.js's SHELL must list each new one)
    const modules = readdirSync(path.join(ROOT, 'www')).filter((f) => f.endsWith('.js') && !['sw.js', 'bench.js'].includes(f)).map((f) => `/${f}`);
    assert.ok(modules.length >= 10, `the page's modules: ${modules}`);
    for (const file of ['/', '/index.html', ...modules, '/style.css',
      '/pkg/privacy_inspector.js', '/pkg/privacy_inspector_bg.wasm', '/demo/demos.json', '/demo/digits_overfit.onnx',
      '/demo/digits_members.csv', '/demo/tabular_pipeline.onnx', '/demo/regularised_mlp.onnx']) {
      assert.ok(cached.urls.includes(file), `${file} is not cached (caches: ${cached.names.join(', ')})`);
    }

    // stop the server and make sure it is gone
    const exited = new Promise((resolve) => server.proc.once('exit', resolve));
    server.proc.kill();
    await exited;
    await assert.rejects(fetch(`${server.url}/index.html`), 'the server still answers');
    const before = requests.length;

    await page.goto(`${server.url}/?demo=digits`);
    await page.locator('[data-testid="engine-status"][data-state="ready"]').waitFor({ timeout: TIMEOUT });
    await page.getByTestId('model-summary').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await text(page, 'summary-num-classes'), FIXTURE.numClasses);
    assert.match(await text(page, 'model-name'), /digits_overfit\.onnx/);
    await page.getByTestId('prediction-table').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: TIMEOUT });
    // and a Quick audit runs with the network gone
    await page.getByTestId('audit-preset').selectOption('quick');
    await page.getByTestId('audit-run').click();
    await page.getByTestId('audit-results').getByTestId('report-lead').waitFor({ timeout: AUDIT_TIMEOUT });
    await page.screenshot({ path: path.join(ARTIFACTS, '16-offline-reload.png'), fullPage: true });
    const offline = requests.slice(before);
    assert.ok(offline.some((u) => new URL(u).pathname === '/'), 'the offline navigation was not recorded');
    assertClean('offline');
    await page.close();
  });
});
