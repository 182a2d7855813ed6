// The page's input guesses (www/inputs.js) in Node: role from the file name,
// label column from the header and first rows, the membership-column split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guessLabelColumn, guessRole, membershipColumn, predictionColumns, sniffCsv, splitByMembership, fileKind } from '../../www/inputs.js';

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

test('one CSV with a membership column splits into members and non-members', () => {
  const bytes = enc('f0,f1,label,member\n0.1,0.2,1,1\n0.3,0.4,0,0\n0.5,0.6,2,1\n');
  const s = sniffCsv(bytes);
  assert.deepEqual(membershipColumn(s.header, s.rows), { column: 'member', index: 3 });
  const out = splitByMembership(bytes, 'member');
  assert.deepEqual(out.counts, { members: 2, nonmembers: 1 });
  assert.equal(new TextDecoder().decode(out.members), 'f0,f1,label\n0.1,0.2,1\n0.5,0.6,2\n');
  assert.equal(new TextDecoder().decode(out.nonmembers), 'f0,f1,label\n0.3,0.4,0\n');
  assert.throws(() => splitByMembership(enc('f0,member\n1,2\n'), 'member'), /line 2: "member" is "2"/);
  assert.throws(() => splitByMembership(enc('f0,member\n1\n'), 'member'), /line 2 has 1 fields/);
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
