// Reference models trained in parallel across Web Workers.
//
// The page's main worker (bridge.js, the "primary") holds the model and the
// CSVs and runs every probe. For the reference models of LiRA and RMIA the
// pool adds helper workers, each a WorkerBridge given the same compiled
// module, model and CSVs (through `restore`, the page's own restore
// function), and hands out one reference model at a time to whichever worker
// is free, the primary included. A reference model depends only on the
// model, the CSVs, the settings and its index (src/attacks/membership/
// references.rs), so the result does not depend on which worker trained it
// or on how many there are; the primary then runs the audit with them.
//
// Cancel terminates every worker (each respawns empty and is restored again
// before its next job).

import { WorkerBridge, InspectorError } from './bridge.js';
import { WorkerApi } from './api.js';

export class ReferencePool {
  /**
   * @param {URL|string} workerUrl
   * @param {WebAssembly.Module} module
   * @param {WorkerBridge} primary the page's worker
   * @param {(bridge: WorkerBridge) => Promise<void>} restore loads the page's model and CSVs into a worker
   */
  constructor(workerUrl, module, primary, restore) {
    this.workerUrl = workerUrl;
    this.module = module;
    this.primary = primary;
    this.restore = restore;
    /** helper workers: {bridge, synced: version of the page state it holds, or -1} */
    this.helpers = [];
    /** bumped by the page whenever the model, its output kind or an audit CSV changes */
    this.version = 0;
  }

  /** The page's inputs changed: every helper must be restored before its next job. */
  invalidate() {
    this.version += 1;
  }

  /** How many workers the browser offers (the primary counts as one). */
  static available() {
    const n = Number(navigator.hardwareConcurrency) || 2;
    return Math.max(1, Math.min(16, n));
  }

  /**
   * Start the helper workers now (each fetches worker.js and instantiates
   * the module once), so that an audit later makes no request at all.
   */
  async warm(size) {
    this.#ensure(size);
    await Promise.all(this.helpers.map((h) => h.bridge.ready.catch(() => {})));
  }

  #ensure(size) {
    while (this.helpers.length < size - 1) {
      const helper = { bridge: null, synced: -1 };
      helper.bridge = new WorkerBridge(this.workerUrl, this.module, {
        onRespawn: () => {
          helper.synced = -1;
        },
      });
      this.helpers.push(helper);
    }
  }

  async #sync(helper) {
    if (helper.synced === this.version) return;
    const version = this.version;
    await this.restore(helper.bridge);
    helper.synced = version;
  }

  /**
   * Train every reference model of `jobs` ([{mode, k}], from the primary's
   * `referenceJobs`) on `size` workers. `onProgress({done, total, workers,
   * etaSeconds, label})` after each model. Every model ends up in the
   * primary's reference set (its own stay there; a helper's JSON is passed
   * on and dropped at once), ready for the primary's `runAudit`.
   */
  async train(jobs, settings, size, onProgress) {
    const tasks = [];
    for (const { mode, k } of jobs) for (let index = 0; index < k; index++) tasks.push({ mode, index });
    const total = tasks.length;
    const primary = new WorkerApi(this.primary);
    await primary.clearReferences();
    if (total === 0) return;
    const workers = Math.max(1, Math.min(size, total));
    this.#ensure(workers);
    const bridges = [this.primary, ...this.helpers.slice(0, workers - 1).map((h) => h.bridge)];
    const started = performance.now();
    let next = 0;
    let done = 0;
    let failed = null;
    const report = (label) => {
      const elapsed = (performance.now() - started) / 1000;
      const etaSeconds = done > 0 ? (elapsed / done) * (total - done) : null;
      onProgress({ done, total, workers, etaSeconds, label });
    };
    report(`Training reference models on ${workers} worker${workers > 1 ? 's' : ''}`);
    /** the helpers' models on their way into the primary's reference set */
    const handedOver = [];
    const run = async (bridge, w) => {
      if (w > 0) await this.#sync(this.helpers[w - 1]);
      while (!failed && next < total) {
        const task = tasks[next++];
        const api = new WorkerApi(bridge);
        if (bridge === this.primary) {
          await api.trainReference({ settings, mode: task.mode, index: task.index, keep: true });
        } else {
          const { json } = await api.trainReference({ settings, mode: task.mode, index: task.index });
          // not awaited: the primary may be training its own model, and this
          // helper goes on to the next one meanwhile (the text waits in the
          // primary's queue and is parsed between its jobs)
          handedOver.push(primary.addReference({ mode: task.mode, index: task.index, json }));
        }
        done += 1;
        report(`Trained reference model ${done}/${total} (${task.mode}) on ${workers} worker${workers > 1 ? 's' : ''}`);
      }
    };
    await Promise.all(
      bridges.map((b, w) =>
        run(b, w).catch((err) => {
          if (!failed) failed = err;
        }),
      ),
    );
    await Promise.all(handedOver).catch((err) => {
      if (!failed) failed = err;
    });
    if (failed) {
      // stop the others at once; a cancel has already aborted everything
      if (failed.code !== 'aborted') this.abort();
      throw failed;
    }
  }

  /** Stop every helper's job at once (the primary is the page's to abort). */
  abort() {
    for (const h of this.helpers) {
      if (h.bridge.busy) h.bridge.abort();
    }
  }

  get size() {
    return this.helpers.length + 1;
  }
}

export { InspectorError };
