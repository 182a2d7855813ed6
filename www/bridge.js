// The one promise bridge between the page and the wasm worker.
//
// Every request gets an id; the worker answers {id, result} or {id, error}
// and may send {id, progress} any number of times before that. Abort means
// terminate + respawn: a fresh worker instantiates the already compiled
// WebAssembly.Module (posted once per worker; no re-download, no re-compile).
// A wasm trap (a Rust panic) poisons the instance, so the bridge respawns
// the worker in that case too. Worker state (loaded model, dataset) is lost
// on respawn; `onRespawn` lets the page restore it.

/** An Error with the stable `code` the wasm boundary (or the bridge) gives. */
export class InspectorError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'InspectorError';
    this.code = code;
  }
}

export class WorkerBridge {
  /**
   * @param {URL|string} workerUrl module worker script
   * @param {WebAssembly.Module} module compiled once on the main thread
   * @param {{onRespawn?: () => void}} [options]
   */
  constructor(workerUrl, module, options = {}) {
    this.workerUrl = workerUrl;
    this.module = module;
    this.onRespawn = options.onRespawn || null;
    this.testHooks = options.testHooks === true;
    this.nextId = 1;
    this.pending = new Map();
    this.generation = 0;
    this.#spawn();
  }

  #spawn() {
    this.generation += 1;
    const worker = new Worker(this.workerUrl, { type: 'module', name: `inspector-${this.generation}` });
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // avoid an unhandled rejection when nobody awaits `ready` before it fails
    this.ready.catch(() => {});
    worker.onmessage = (ev) => this.#onMessage(worker, ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault();
      this.#fail(worker, new InspectorError('worker_error', ev.message || 'the worker failed to start'));
    };
    worker.onmessageerror = () => {
      this.#fail(worker, new InspectorError('worker_error', 'a message from the worker could not be read'));
    };
    worker.postMessage({ type: 'init', module: this.module, testHooks: this.testHooks });
  }

  #onMessage(worker, msg) {
    if (worker !== this.worker) return; // a terminated generation
    if (msg.type === 'ready') {
      this.version = msg.version;
      this.readyResolve(msg.version);
      return;
    }
    if (msg.type === 'init-error') {
      this.readyReject(new InspectorError(msg.error.code || 'init_failed', msg.error.message));
      return;
    }
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    if (msg.type === 'progress') {
      if (entry.onProgress) entry.onProgress(msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'result') {
      entry.resolve(msg.result);
    } else {
      const err = new InspectorError(msg.error.code || 'internal', msg.error.message);
      if (msg.error.diagnostic) err.diagnostic = msg.error.diagnostic;
      entry.reject(err);
      if (msg.poisoned) this.#respawn();
    }
  }

  #fail(worker, err) {
    if (worker !== this.worker) return;
    this.readyReject(err);
    this.#rejectAll(err);
    this.#respawn();
  }

  #rejectAll(err) {
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }

  #respawn() {
    this.worker.terminate();
    this.#spawn();
    if (this.onRespawn) this.onRespawn();
  }

  /**
   * Call a worker method.
   * @param {string} method
   * @param {object} [args]
   * @param {{onProgress?: (p: {done: number, total: number, label?: string}) => void, transfer?: Transferable[]}} [opts]
   * @returns {Promise<any>}
   */
  async call(method, args = {}, opts = {}) {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress: opts.onProgress });
      this.worker.postMessage({ type: 'call', id, method, args }, opts.transfer || []);
    });
  }

  /** Cancel everything in flight: terminate the worker and start a new one. */
  abort() {
    this.#rejectAll(new InspectorError('aborted', 'cancelled'));
    this.#respawn();
  }

  get busy() {
    return this.pending.size > 0;
  }
}
