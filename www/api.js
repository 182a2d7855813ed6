// The typed worker API: one method per method of worker.js, with the types
// of its arguments and result. Every call goes through one WorkerBridge
// (bridge.js: promise per call, progress messages, abort = terminate +
// respawn). The page's worker and each pool helper get one WorkerApi.

/**
 * @typedef {{done: number, total: number, label?: string}} Progress
 * @typedef {{onProgress?: (p: Progress) => void, transfer?: Transferable[]}} CallOptions
 *
 * @typedef {object} ModelInfo
 * @property {string} name
 * @property {any} summary the core's ModelSummary (camelCase)
 * @property {number|null} numClasses
 * @property {number|null} recordLen
 * @property {'probabilities'|'logits'} outputKind
 *
 * @typedef {object} DatasetInfo
 * @property {number} rows
 * @property {number} features
 * @property {string[]} featureNames
 * @property {string|null} labelColumn
 *
 * @typedef {{info: DatasetInfo, error: {code: string, message: string}|null}|null} AuditSetStatus
 * @typedef {{members: AuditSetStatus, nonmembers: AuditSetStatus, population: AuditSetStatus}} AuditStatus
 *
 * @typedef {object} ReportOut a report as the core gives it (`wasm::report_out`)
 * @property {any} report the JSON report, parsed
 * @property {string} reportJson
 * @property {string} html the fragment for the page
 * @property {string} htmlStandalone
 * @property {string} [reportJsonWithTrainingData]
 * @property {string} [htmlStandaloneWithTrainingData]
 * @property {string} fileStem the downloads' base name (`Report::file_stem`)
 * @property {string} recordsStem the per-record CSV's base name
 *
 * @typedef {object} Predictions
 * @property {number} rows
 * @property {number} classes
 * @property {number[]} counts
 * @property {number|null} accuracy
 * @property {Float32Array} previewProbs
 * @property {Uint32Array|null} previewLabels
 * @property {Uint32Array} previewPredicted
 *
 * @typedef {{id: string, title: string, labelOnly: boolean, needsReferences: boolean, needsPopulation: boolean, quick: boolean}} AttackInfo
 * @typedef {{id: string, title: string, attacks: string[], references: number|null, followUp: boolean}} Preset
 * @typedef {{attacks: AttackInfo[], presets: Preset[]}} Catalogue
 *
 * @typedef {{records: number, sampleRate: number, stepsPerEpoch: number, steps: number}} DpSchedule
 * @typedef {{schedule: DpSchedule, dp: {epsilon: number, order: number|null, delta: number}|null}} TrainPlan
 *
 * @typedef {{scan: any, scanJson: string, html: string, guidanceHtml?: string}} ScanOut
 * @typedef {{members: string, nonmembers: string, memberRows: number, nonmemberRows: number}} MembershipSplit
 * @typedef {'members'|'nonmembers'|'population'} Role
 */

export class WorkerApi {
  /** @param {import('./bridge.js').WorkerBridge} bridge */
  constructor(bridge) {
    this.bridge = bridge;
  }

  /** @param {string} method @param {object} [args] @param {CallOptions} [opts] */
  #call(method, args = {}, opts = {}) {
    return this.bridge.call(method, args, opts);
  }

  // ---------- model ----------

  /** Load a model (the previous one stays on failure). @param {{bytes: ArrayBuffer, name: string}} args @param {CallOptions} [opts] @returns {Promise<ModelInfo>} */
  loadModel(args, opts) { return this.#call('loadModel', args, opts); }
  /** @param {{kind: ''|'probabilities'|'logits'}} args @returns {Promise<ModelInfo>} */
  setOutputKind(args) { return this.#call('setOutputKind', args); }
  /** The model-file scan of any ONNX file, without records. @param {{bytes: ArrayBuffer, guidance: object}} args @returns {Promise<ScanOut>} */
  scanBytes(args) { return this.#call('scanBytes', args); }
  /** The scan of a model file against the loaded audit CSVs. @param {{bytes?: ArrayBuffer, guidance: object}} args @returns {Promise<ScanOut>} */
  scan(args) { return this.#call('scan', args); }
  /** @param {{bytes: ArrayBuffer}} args @returns {Promise<{bytes: Uint8Array}>} */
  stripMetadata(args) { return this.#call('stripMetadata', args); }

  // ---------- CSVs ----------

  /** The CSV of section 5. @param {{file: Blob, labelColumn: string}} args @param {CallOptions} [opts] @returns {Promise<DatasetInfo>} */
  loadCsv(args, opts) { return this.#call('loadCsv', args, opts); }
  /** Class probabilities of every row of the section-5 CSV (checked as the CLI's predict). @param {CallOptions} [opts] @returns {Promise<Predictions>} */
  predict(opts) { return this.#call('predict', {}, opts); }
  /** @param {{role: Role, file: Blob, labelColumn: string}} args @param {CallOptions} [opts] @returns {Promise<AuditStatus>} */
  loadAuditCsv(args, opts) { return this.#call('loadAuditCsv', args, opts); }
  /** @param {{role: Role}} args @returns {Promise<AuditStatus>} */
  clearAuditCsv(args) { return this.#call('clearAuditCsv', args); }
  /** @returns {Promise<AuditStatus>} */
  auditStatus() { return this.#call('auditStatus'); }
  /** One record of an audit CSV. @param {{role: Role, index: number}} args @returns {Promise<{role: Role, index: number, features: Float32Array, featureNames: string[], label: number|null}>} */
  record(args) { return this.#call('record', args); }
  /** One CSV split on its 0/1 membership column (the core's CSV parser). @param {{file: Blob, column: string}} args @returns {Promise<MembershipSplit>} */
  splitByMembership(args) { return this.#call('splitByMembership', args); }

  // ---------- membership audit ----------

  /** @returns {Promise<Catalogue>} */
  auditCatalogue() { return this.#call('auditCatalogue'); }
  /** The core's check of audit settings and guidance options (throws its error). @param {{settings: object, guidance?: object}} args @returns {Promise<{}>} */
  checkAuditSettings(args) { return this.#call('checkAuditSettings', args); }
  /** @param {{settings: object}} args @returns {Promise<{mode: string, k: number}[]>} */
  referenceJobs(args) { return this.#call('referenceJobs', args); }
  /** @param {{settings: object, mode: string, index: number, keep?: boolean}} args @param {CallOptions} [opts] @returns {Promise<{json?: string, count?: number}>} */
  trainReference(args, opts) { return this.#call('trainReference', args, opts); }
  /** @param {{mode: string, index: number, json: string}} args @returns {Promise<{count: number}>} */
  addReference(args) { return this.#call('addReference', args); }
  /** @returns {Promise<{}>} */
  clearReferences() { return this.#call('clearReferences'); }
  /** @param {{settings: object, names: object, guidance: object}} args @param {CallOptions} [opts] @returns {Promise<ReportOut>} */
  runAudit(args, opts) { return this.#call('runAudit', args, opts); }
  /** @param {{files: Record<Role, Blob|undefined>, kind: string, labelColumn: string, settings: object, names: object, guidance: object}} args @param {CallOptions} [opts] @returns {Promise<ReportOut>} */
  runPredictionsAudit(args, opts) { return this.#call('runPredictionsAudit', args, opts); }
  /** The per-record CSV of a report (its JSON text). @param {{json: string}} args @returns {Promise<string>} */
  recordsCsv(args) { return this.#call('recordsCsv', args); }
  /** @returns {Promise<string>} every guidance threshold with its default (JSON text) */
  guidanceDefaults() { return this.#call('guidanceDefaults'); }
  /** @returns {Promise<string>} the declared ranges (JSON text) */
  settingRanges() { return this.#call('settingRanges'); }

  // ---------- probes ----------

  /** @param {{classes: number[], settings: object, inputShape: number[]|null}} args @param {CallOptions} [opts] @returns {Promise<ReportOut>} */
  runInversion(args, opts) { return this.#call('runInversion', args, opts); }
  /** @param {{column: string, settings: object}} args @param {CallOptions} [opts] @returns {Promise<ReportOut>} */
  runAttribute(args, opts) { return this.#call('runAttribute', args, opts); }
  /** The automatic bins of a column (the CLI's --auto-bins). @param {{column: string}} args @returns {Promise<number[]>} */
  attributeAutoBins(args) { return this.#call('attributeAutoBins', args); }

  // ---------- teaching ----------

  /** @param {{config: object, records: number}} args @returns {Promise<TrainPlan>} */
  trainPlan(args) { return this.#call('trainPlan', args); }
  /** @param {{template: ArrayBuffer, members: ArrayBuffer, config: object, seed: number, note: string}} args @param {CallOptions} [opts] @returns {Promise<{bytes: Uint8Array, report: any}>} */
  trainTarget(args, opts) { return this.#call('trainTarget', args, opts); }
  /** @param {{template: ArrayBuffer, members: ArrayBuffer, config: object}} args @param {CallOptions} [opts] @returns {Promise<any>} the core's DpAuditReport */
  dpAudit(args, opts) { return this.#call('dpAudit', args, opts); }

  // ---------- limits and diagnostics ----------

  /** @param {{json: string}} args @returns {Promise<string>} the limits now in force (JSON text) */
  setLimits(args) { return this.#call('setLimits', args); }
  /** @returns {Promise<string>} */
  limitsDefaults() { return this.#call('limitsDefaults'); }
  /** @returns {Promise<string>} */
  limits() { return this.#call('limits'); }
  /** @returns {Promise<{wasmBytes: number}>} */
  memory() { return this.#call('memory'); }
}
