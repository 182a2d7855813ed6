// Service worker: keeps the app shell (page, scripts, stylesheet, compiled
// engine, bundled demo) in Cache Storage so that, once loaded, the page works
// with the server stopped and the network off.
//
// Contract:
// - Only same-origin GET requests are handled; everything else is left to the
//   browser (and the page's CSP allows nothing else anyway). The worker itself
//   never requests anything but the same-origin files in SHELL and
//   pkg/build-info.json.
// - Cache first: a shell file is answered from the current cache; a file not
//   in it goes to the network (nothing else is stored).
// - Versioning: the cache is named after the build (SHA-256 of
//   pkg/build-info.json, which scripts/build-web.sh rewrites on every build)
//   and the scope. At install the whole shell is stored under that name; on a
//   navigation the worker asks for build-info.json again (no HTTP cache) and,
//   when it changed, stores the new shell under the new name, switches to it
//   and deletes the old caches; the next load uses the new build. Offline
//   that check fails quietly and the cached build keeps working.

const PREFIX = 'privacy-inspector-shell-v1';
const META = `${PREFIX}-meta`;
const CURRENT_KEY = new URL('__current-shell-cache', self.registration.scope).href;
const BUILD_INFO = 'pkg/build-info.json';
/** The files the page loads (index.html, every module of www/, the engine, the demos). */
const SHELL = [
  './',
  'index.html',
  'main.js',
  'state.js',
  'api.js',
  'ui.js',
  'model.js',
  'audit-inputs.js',
  'audit.js',
  'records.js',
  'probes.js',
  'teaching.js',
  'limits.js',
  'demos.js',
  'worker.js',
  'bridge.js',
  'pool.js',
  'inputs.js',
  'style.css',
  'pkg/privacy_inspector.js',
  'pkg/privacy_inspector_bg.wasm',
  BUILD_INFO,
  'demo/digits_mlp.onnx',
  'demo/digits_sample.csv',
  'demo/demos.json',
  'demo/digits_overfit.onnx',
  'demo/digits_members.csv',
  'demo/digits_nonmembers.csv',
  'demo/digits_population.csv',
  'demo/tabular_pipeline.onnx',
  'demo/tabular_members.csv',
  'demo/tabular_nonmembers.csv',
  'demo/tabular_population.csv',
  'demo/regularised_mlp.onnx',
  'demo/regularised_members.csv',
  'demo/regularised_nonmembers.csv',
  'demo/regularised_population.csv',
  'demo/teach_mlp_16.onnx',
  'demo/teach_mlp_32.onnx',
  'demo/teach_mlp_64.onnx',
  'demo/teach_mlp_128.onnx',
];

const scoped = (p) => new URL(p, self.registration.scope).href;

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, 16);
}

/** The build's cache name, from a build-info.json text. */
async function cacheNameFor(buildInfoText) {
  return `${PREFIX}-${await sha256Hex(buildInfoText)}-${self.registration.scope}`;
}

async function currentCacheName() {
  const meta = await caches.open(META);
  const r = await meta.match(CURRENT_KEY);
  return r ? r.text() : null;
}

/** Store the whole shell of the build described by `buildInfoText`, make it current, drop the rest. */
async function installShell(buildInfoText) {
  const name = await cacheNameFor(buildInfoText);
  if ((await currentCacheName()) === name) return;
  const cache = await caches.open(name);
  // `reload`: straight from the server, never from the HTTP cache
  await cache.addAll(SHELL.map((p) => new Request(scoped(p), { cache: 'reload' })));
  const meta = await caches.open(META);
  await meta.put(CURRENT_KEY, new Response(name));
  for (const key of await caches.keys()) {
    if (key.startsWith(PREFIX) && key !== name && key !== META) await caches.delete(key);
  }
}

async function fetchBuildInfo() {
  const resp = await fetch(scoped(BUILD_INFO), { cache: 'no-store' });
  if (!resp.ok) throw new Error(`${BUILD_INFO}: HTTP ${resp.status}`);
  return resp.text();
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    fetchBuildInfo()
      .then(installShell)
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const current = await currentCacheName();
      for (const key of await caches.keys()) {
        if (key.startsWith(PREFIX) && key !== current && key !== META) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

/** A newer build on the server: store it for the next load (offline: nothing happens). */
async function checkForNewBuild() {
  try {
    await installShell(await fetchBuildInfo());
  } catch {
    // offline or the server is gone: keep serving the cached build
  }
}

async function respond(request) {
  const name = await currentCacheName();
  if (name) {
    const cache = await caches.open(name);
    // a navigation may carry a query (?demo=digits): the page is the same file
    const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
  }
  return fetch(request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (!url.href.startsWith(self.registration.scope)) return;
  event.respondWith(respond(request));
  if (request.mode === 'navigate') event.waitUntil(checkForNewBuild());
});
