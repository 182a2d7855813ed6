// The page's input guesses (www/inputs.js) in Node: role from the file name,
// label column from the header and first rows, the membership column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guessLabelColumn, guessRole, membershipColumn, predictionColumns, sniffCsv, fileKind } from '../../www/inputs.js';

const enc = (s) => new TextEncoder().encode(s);

test('roles from file names', () => {
  const cases = {
    'digits.train.csv': 'members', 'members.csv': 'members', 'training_set.csv': 'members',
    'digits.test.csv': 'nonmembers', 'holdout.csv': 'nonmembers', 'non-members.csv': 'nonmembers', 'nonmembers.csv': 'nonmembers',
    'population.csv': 'population', 'extra_records.csv': 'population', 'shadow-pop.csv': 'population',
    'data.csv': null, 'popular.csv': null,
  };
  for (const [name, role] of Object.entries(cases)) assert.equal(guessRole(name).role, role, name);
});

test('label column from names, else a whole-number last column', () => {
  let s = sniffCsv(enc('a,b,Target\n1.5,2,1\n0.1,3,0\n'));
  assert.equal(guessLabelColumn(s.header, s.rows).column, 'Target');
  s = sniffCsv(enc('\uFEFFf0;f1;y\n0.5;1;3\n'));
  assert.deepEqual(s.header, ['f0', 'f1', 'y']);
  assert.equal(guessLabelColumn(s.header, s.rows).column, 'y');
  s = sniffCsv(enc('f0,f1,f2\n0.5,1,3\n0.2,1,4\n'));
  assert.equal(guessLabelColumn(s.header, s.rows).column, 'f2');
  s = sniffCsv(enc('f0,f1,f2\n0.5,1,3.5\n'));
  assert.equal(guessLabelColumn(s.header, s.rows).column, null);
  // a trailing membership column is not the label
  s = sniffCsv(enc('f0,kind,member\n0.5,2,1\n0.1,7,0\n'));
  assert.equal(guessLabelColumn(s.header, s.rows).column, 'kind');
});

test('a 0/1 membership column is recognised (the split itself is the core one: src/data/split.rs tests)', () => {
  const s = sniffCsv(enc('f0,f1,label,member\n0.1,0.2,1,1\n0.3,0.4,0,0\n0.5,0.6,2,1\n'));
  assert.deepEqual(membershipColumn(s.header, s.rows), { column: 'member', index: 3 });
  // the core's split reads numbers: true/false is not a membership column
  const t = sniffCsv(enc('f0,member\n0.1,true\n0.3,false\n'));
  assert.equal(membershipColumn(t.header, t.rows), null);
});

test('file kinds', () => {
  assert.equal(fileKind('m.onnx', enc('x').buffer), 'model');
  assert.equal(fileKind('model.bin', new Uint8Array([8, 7]).buffer), 'model');
  assert.equal(fileKind('d.csv', enc('a').buffer), 'csv');
  assert.equal(fileKind('picture.png', new Uint8Array([0x89, 0x50]).buffer), null);
});

test('a constant whole-number last column is not taken for the label', () => {
  const s = sniffCsv(enc('f0,f1,f63\n0.5,1,0\n0.2,1,0\n'));
  assert.equal(guessLabelColumn(s.header, s.rows).column, null);
});

test('a predictions header: class_0..class_{K-1} in order plus the label column', () => {
  assert.equal(predictionColumns(['class_0', 'class_1', 'class_2', 'label']), 3);
  assert.equal(predictionColumns(['class_0', 'target'], 'target'), 1);
  // no label column, a gap, another order, feature columns: not predictions
  assert.equal(predictionColumns(['class_0', 'class_1']), null);
  assert.equal(predictionColumns(['class_0', 'class_2', 'label']), null);
  assert.equal(predictionColumns(['class_1', 'class_0', 'label']), null);
  assert.equal(predictionColumns(['f0', 'f1', 'label']), null);
  assert.equal(predictionColumns(['label']), null);
});
