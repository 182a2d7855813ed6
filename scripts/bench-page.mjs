// Page benchmark: time from navigation to the first report on a bundled demo,
// the way a user gets it (?demo=KEY loads the model and the CSVs, then Run),
// with the Quick and Standard presets and 1, 2 and all workers, in headless
// Chromium on the release build; "references" is a custom run of LiRA online
// and offline only (16 + 16 reference models), the part the workers share.
// Each configuration opens a fresh page.
//   node scripts/bench-page.mjs [demo=digits] [repeat=1]
// Prints one line per configuration and a JSON summary.
import { openHeadless } from './headless.mjs';

const demo = process.argv[2] || 'digits';
const repeat = Number(process.argv[3] || 1);
const h = await openHeadless();
const rows = [];
try {
  const probe = await h.browser.newPage();
  await probe.goto(`${h.url}/`);
  const all = await probe.evaluate(() => navigator.hardwareConcurrency);
  await probe.close();
  const counts = [...new Set([1, 2, all].filter((n) => n <= all))];
  for (let r = 0; r < repeat; r++) {
    for (const preset of ['quick', 'standard', 'references']) {
      for (const workers of counts) {
        const page = await h.browser.newPage({ viewport: { width: 1280, height: 800 } });
        const t0 = Date.now();
        await page.goto(`${h.url}/?demo=${demo}&workers=${workers}`);
        await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 120000 });
        const loaded = Date.now() - t0;
        if (preset === 'references') {
          await page.getByTestId('audit-preset').selectOption('custom');
          for (const id of await page.locator('#attack-checks input').evaluateAll((bs) => bs.map((b) => b.value))) {
            await page.getByTestId(`audit-attack-${id}`).setChecked(id === 'lira_online' || id === 'lira_offline');
          }
          await page.getByTestId('audit-references').fill('16');
        } else {
          await page.getByTestId('audit-preset').selectOption(preset);
        }
        await page.getByTestId('audit-workers').selectOption(workers >= all ? 'all' : String(workers));
        const t1 = Date.now();
        await page.getByTestId('audit-run').click();
        await page.getByTestId('audit-results').getByTestId('report-lead').waitFor({ timeout: 1800000 });
        const audit = Date.now() - t1;
        const total = Date.now() - t0;
        const row = { demo, preset, workers, load_ms: loaded, audit_ms: audit, page_load_to_report_ms: total };
        rows.push(row);
        console.log(`${demo} ${preset.padEnd(10)} workers ${String(workers).padStart(2)}: load ${loaded} ms, audit ${audit} ms, page load to report ${total} ms`);
        await page.close();
      }
    }
  }
} finally {
  await h.close();
}
console.log(JSON.stringify({ hardwareConcurrency: rows.length ? undefined : null, rows }));
