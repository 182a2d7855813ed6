// Developer aid: open the page headless on a demo, take screenshots of the
// main states (tests/e2e/artifacts/look-*.png). Usage: node scripts/look.mjs [demo] [preset]
import { openHeadless, ROOT } from './headless.mjs';
import path from 'node:path';
import { mkdirSync } from 'node:fs';

const demo = process.argv[2] || 'digits';
const preset = process.argv[3] || 'quick';
const out = path.join(ROOT, 'tests/e2e/artifacts');
mkdirSync(out, { recursive: true });
const h = await openHeadless();
try {
  const page = await h.browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => console.log('console', m.type(), m.text()));
  page.on('pageerror', (e) => console.log('pageerror', e.message));
  await page.goto(`${h.url}/?demo=${demo}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60000 });
  await page.screenshot({ path: path.join(out, `look-${demo}-loaded.png`), fullPage: true });
  await page.getByTestId('audit-preset').selectOption(preset);
  if (process.argv[4]) await page.getByTestId('audit-references').fill(process.argv[4]);
  const t0 = Date.now();
  await page.getByTestId('audit-run').click();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(out, `look-${demo}-running.png`) });
  await page.getByTestId('audit-results-panel').waitFor({ state: 'visible', timeout: 600000 });
  console.log('audit seconds', (Date.now() - t0) / 1000, await page.getByTestId('audit-timing').textContent());
  await page.screenshot({ path: path.join(out, `look-${demo}-report.png`), fullPage: true });
  const btn = page.locator('button.record-link').first();
  if (await btn.count()) {
    await page.locator('details:has(button.record-link)').first().evaluate((d) => { d.open = true; });
    await btn.click();
    await page.getByTestId('record-dialog').waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(out, `look-${demo}-record.png`) });
  }
} finally {
  await h.close();
}
