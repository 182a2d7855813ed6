// Browser half of scripts/bench_scale.py: the page on the release build,
// every worker, loads the model and the two CSVs through its file input (as
// a user dropping them), runs loss, confidence and LiRA online with 16
// references of 2 fixed epochs, seed 1, and prints one JSON line:
// {seconds (file load to report), workers, auc: [[id, auc], ...]}.
//   node scripts/bench-scale.mjs MODEL.onnx TRAIN.csv TEST.csv
import { openHeadless } from './headless.mjs';

const [model, members, nonmembers] = process.argv.slice(2);
const h = await openHeadless();
let code = 0;
try {
  const page = await h.browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => { console.error(`pageerror: ${e.message}`); code = 1; });
  await page.goto(`${h.url}/?test-hooks`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 120000 });
  const workers = await page.evaluate(() => navigator.hardwareConcurrency);
  await page.getByTestId('audit-preset').selectOption('custom');
  for (const id of await page.locator('#attack-checks input').evaluateAll((bs) => bs.map((b) => b.value))) {
    await page.getByTestId(`audit-attack-${id}`).setChecked(['loss', 'confidence', 'lira_online'].includes(id));
  }
  await page.getByTestId('audit-references').fill('16');
  await page.getByTestId('audit-seed').fill('1');
  await page.locator('details.recipe-settings summary').click();
  await page.getByTestId('recipe-epochs').fill('2');
  const t0 = Date.now();
  await page.getByTestId('model-input').setInputFiles([model, members, nonmembers]);
  await page.waitForFunction(() => !document.querySelector('[data-testid="audit-run"]').disabled, null, { timeout: 1800000 });
  const loaded = Date.now() - t0;
  await page.getByTestId('audit-run').click();
  await page.getByTestId('audit-results').getByTestId('report-lead').waitFor({ timeout: 3600000 });
  const seconds = (Date.now() - t0) / 1000;
  const err = await page.getByTestId('audit-error').isVisible();
  if (err) throw new Error(await page.getByTestId('audit-error').textContent());
  const auc = await page.evaluate(() => JSON.parse(document.querySelector('[data-testid="audit-results"]').dataset.auc || '[]'));
  const memory = await page.evaluate(() => window.__inspectorTest.memory());
  console.log(JSON.stringify({ seconds, load_seconds: loaded / 1000, workers, auc, memory }));
} catch (e) {
  console.error(`error: ${e.message}`);
  code = 1;
} finally {
  await h.close();
}
process.exit(code);
