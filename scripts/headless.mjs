// Shared by the bench drivers: serve www/ on a free 127.0.0.1 port with
// python3's static server and launch Debian's Chromium headless, as
// ../shared/docs/toolchain.md prescribes (no browser download).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Resolves to { url, server, browser }; call close() on the result when done. */
export async function openHeadless() {
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
  return {
    url,
    browser,
    async close() {
      await browser.close();
      server.kill();
    },
  };
}
