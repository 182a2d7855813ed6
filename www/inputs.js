// Guessing what the user's files are, before the engine reads them: the
// role of a dropped CSV from its name, its label column from its header and
// first rows, and which column is a 0/1 membership column (the split
// itself is the core's: data::split_by_membership). Pure functions over text (no DOM, no wasm), so the page can
// show its guess next to the file and the user can correct it, and
// tests/e2e/inputs.test.mjs checks them in Node.

/** At most this many bytes are decoded to sniff a file (header + first rows). */
export const SNIFF_BYTES = 256 * 1024;

/** Header and the first `rows` data rows of a CSV's bytes (simple comma split; quotes stripped). */
export function sniffCsv(bytes, rows = 5) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(view.subarray(0, SNIFF_BYTES)).replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return { header: [], rows: [], delimiter: ',' };
  const delimiter = [',', ';', '\t'].map((d) => [d, lines[0].split(d).length]).sort((a, b) => b[1] - a[1])[0][0];
  const split = (l) => l.split(delimiter).map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  return { header: split(lines[0]), rows: lines.slice(1, rows + 1).map(split), delimiter };
}

const LABEL_NAMES = ['label', 'labels', 'target', 'class', 'y', 'outcome', 'diagnosis', 'category'];
const MEMBER_NAMES = ['member', 'is_member', 'membership', 'in_training', 'in_train', 'train', 'is_train', 'training'];

/** Whole numbers >= 0 in every sampled row of column j. */
function wholeColumn(rows, j) {
  return rows.length > 0 && rows.every((r) => /^\d+$/.test(r[j] ?? ''));
}

/**
 * The label column: a conventional name (label, target, class, y, ...; any
 * case), else the last column when its sampled values are whole numbers
 * taking at least two values.
 * Returns {column, why} or {column: null, why}.
 */
export function guessLabelColumn(header, rows) {
  const lower = header.map((h) => h.toLowerCase());
  for (const name of LABEL_NAMES) {
    const j = lower.indexOf(name);
    if (j >= 0) return { column: header[j], why: `the column is named "${header[j]}"` };
  }
  const last = header.length - 1;
  const member = membershipColumn(header, rows);
  const candidate = member && member.column === header[last] ? last - 1 : last;
  if (candidate >= 0 && wholeColumn(rows, candidate) && new Set(rows.map((r) => r[candidate])).size >= 2) {
    return { column: header[candidate], why: `"${header[candidate]}" holds whole numbers and is the last column` };
  }
  return { column: null, why: 'no column is named label, target or class, and the last column is not whole numbers' };
}

/** A 0/1 column named like "member" / "in_training", or null. */
export function membershipColumn(header, rows) {
  const lower = header.map((h) => h.toLowerCase());
  for (const name of MEMBER_NAMES) {
    const j = lower.indexOf(name);
    if (j >= 0 && rows.every((r) => r[j] === '0' || r[j] === '1')) {
      return { column: header[j], index: j };
    }
  }
  return null;
}

/**
 * The audit role a file name suggests: members (train, member, in), non-members
 * (test, holdout, nonmember, out, val), population (pop, population, extra,
 * reference, shadow, aux). Returns {role, why} or {role: null, why}.
 */
export function guessRole(name) {
  const n = name.toLowerCase().replace(/\.csv$/, '');
  const words = n.split(/[^a-z0-9]+/).filter(Boolean);
  // short words must stand alone ("pop" not in "popular"); long ones may be part of a word
  const has = (...ws) => ws.some((w) => words.includes(w) || (w.length >= 6 && n.includes(w)));
  if (has('nonmember', 'non_member', 'non-member', 'nonmembers', 'holdout', 'heldout', 'test', 'unseen')) {
    return { role: 'nonmembers', why: 'the file name says test / held-out / non-members' };
  }
  if (has('population', 'pop', 'extra', 'reference', 'shadow', 'aux', 'auxiliary', 'public')) {
    return { role: 'population', why: 'the file name says population / extra / reference' };
  }
  if (has('member', 'members', 'train', 'training')) {
    return { role: 'members', why: 'the file name says train / members' };
  }
  if (words.includes('out') || words.includes('val') || words.includes('validation')) {
    return { role: 'nonmembers', why: 'the file name says out / validation' };
  }
  return { role: null, why: 'the file name does not say' };
}

/**
 * The number of classes K when a CSV header is a predictions file's (the
 * format `predict` writes: class_0, ..., class_{K-1}, in that order, plus the
 * label column), else null. Only a guess for the page; the core checks every
 * row when the audit from predictions runs (predictions::read_predictions).
 */
export function predictionColumns(header, labelColumn = 'label') {
  const cols = header.filter((h) => h !== labelColumn);
  if (cols.length === header.length || cols.length === 0) return null;
  return cols.every((h, j) => h === `class_${j}`) ? cols.length : null;
}

/** What a file's name and first bytes say it is: 'model', 'csv' or null. */
export function fileKind(name, bytes) {
  const view = new Uint8Array(bytes, 0, Math.min(8, bytes.byteLength));
  if (/\.onnx$/i.test(name)) return 'model';
  if (/\.(csv|tsv|txt)$/i.test(name)) return 'csv';
  // an ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08
  if (view.length > 0 && view[0] === 0x08) return 'model';
  return null;
}
