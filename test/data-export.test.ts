import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptionError, ShapeError } from '../src/core/errors.js';
import { linesOf } from '../src/core/lines.js';
import type { SparseDataset } from '../src/data/sparse.js';
import { buildWordNetDataset, parseWordNetNouns } from '../src/data/wordnet.js';
import { exportSplit, readFastTextSplit, readXmcSplit } from '../src/data/files.js';
import { runCli } from './util/cli.js';
import { WORDNET_FIXTURE } from './util/wordnetFixture.js';

const arr = (a: ArrayLike<number>): number[] => Array.from(a);
const fixture = () => buildWordNetDataset(parseWordNetNouns(linesOf(WORDNET_FIXTURE)));

function assertSame(a: SparseDataset, b: SparseDataset, what: string): void {
  assert.equal(b.numFeatures, a.numFeatures, what);
  assert.equal(b.numLabels, a.numLabels, what);
  for (const k of ['indices', 'values', 'offsets'] as const) assert.deepEqual(arr(b.features[k]), arr(a.features[k]), `${what} features.${k}`);
  assert.deepEqual(arr(b.labels.ids), arr(a.labels.ids), `${what} labels.ids`);
  assert.deepEqual(arr(b.labels.offsets), arr(a.labels.offsets), `${what} labels.offsets`);
  assert.deepEqual(b.featureNames, a.featureNames, `${what} featureNames`);
  assert.deepEqual(b.labelNames, a.labelNames, `${what} labelNames`);
}

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samplex-data-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'XMC export then readXmcSplit gives the same dataset, names and label descriptions',
  withDir((dir) => {
    const ds = fixture();
    const out = join(dir, 'xmc');
    const files = exportSplit(ds, out, 'xmc');
    assert.deepEqual(files.map((f) => f.slice(out.length + 1)), ['train.txt', 'test.txt', 'labels.txt', 'features.txt']);
    assert.deepEqual(readdirSync(out).sort(), ['features.txt', 'labels.txt', 'test.txt', 'train.txt']); // no temporary files left
    const train = readFileSync(join(out, 'train.txt'), 'utf8').split('\n');
    assert.equal(train[0], `8 ${ds.train.numFeatures} 8`);
    assert.equal(train[1], '0 0:2 1:2 2:1 3:1 4:1 5:1');
    assert.equal(readFileSync(join(out, 'labels.txt'), 'utf8').split('\n')[7], '00007846\tperson,individual,someone');
    const back = readXmcSplit(out);
    assertSame(ds.train, back.train, 'train');
    assertSame(ds.test, back.test, 'test');
    assert.deepEqual(back.train.labelInfo, ds.train.labelInfo);
  }),
);

test(
  'fastText export then readFastTextSplit gives the same dataset, word order included',
  withDir((dir) => {
    const ds = fixture();
    exportSplit(ds, dir, 'fasttext');
    assert.equal(existsSync(join(dir, 'features.txt')), false);
    const lines = readFileSync(join(dir, 'train.txt'), 'utf8').split('\n');
    assert.equal(lines[0], '__label__00001740 physical entity an entity that has physical existence');
    assert.equal(lines[6], '__label__00004475 __label__00007347 __label__00007846 einstein albert einstein physicist born in germany 1879 1955');
    assert.equal(readFileSync(join(dir, 'test.txt'), 'utf8'), '__label__00001930 __label__00002684 an of that a entity\n__label__00001930 __label__00004258 __label__00004475 __label__00007347 a being was to\n');
    const back = readFastTextSplit(join(dir, 'train.txt'), join(dir, 'test.txt'));
    assertSame(ds.train, back.train, 'train');
    assertSame(ds.test, back.test, 'test');
    for (const k of ['train', 'test'] as const) {
      assert.deepEqual(arr(back[k].sequences!.ids), arr(ds[k].sequences!.ids), `${k} sequences`);
      assert.deepEqual(arr(back[k].sequences!.offsets), arr(ds[k].sequences!.offsets), `${k} sequence offsets`);
    }
  }),
);

test(
  'exportSplit rejects an unknown format and datasets that do not share their spaces',
  withDir((dir) => {
    const ds = fixture();
    assert.throws(() => exportSplit(ds, dir, 'csv' as 'xmc'), OptionError);
    assert.throws(() => exportSplit({ train: ds.train, test: { ...ds.test, numLabels: 9 } }, dir, 'xmc'), ShapeError);
    assert.deepEqual(readdirSync(dir), []);
  }),
);

const run = runCli;

test(
  'samplex data export wordnet writes both formats, prints the statistics and reports bad options',
  withDir(async (dir) => {
    const dict = join(dir, 'dict');
    mkdirSync(dict);
    writeFileSync(join(dict, 'data.noun'), WORDNET_FIXTURE);
    const out = join(dir, 'ft');
    const r = await run(['data', 'export', 'wordnet', '--format', 'fasttext', '--out', out, '--wordnet', dict, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 1);
    const s = JSON.parse(r.lines[0]!) as Record<string, unknown>;
    assert.equal(s['instances'], 10);
    assert.equal(s['labels'], 8);
    assert.equal(s['meanLabelsPerInstance'], 2.1);
    assert.equal(s['format'], 'fasttext');
    assert.equal(readFileSync(join(out, 'test.txt'), 'utf8').split('\n')[0], '__label__00001930 __label__00002684 an of that a entity');

    const x = await run(['data', 'export', 'wordnet', '--format', 'xmc', '--out', join(dir, 'x'), '--wordnet', dict, '--depth', '1']);
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.lines[0]!, /^wordnet depth=1: 10 instances \(train 8, test 2\), 8 labels/);
    assert.match(x.lines[1]!, /labels\/instance 1\.100/);
    assert.equal(readXmcSplit(join(dir, 'x')).test.labels.ids.length, 3);

    const bad = await run(['data', 'export', 'wordnet', '--format', 'csv', '--out', out, '--wordnet', dict]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /E_OPTION: .*format must be one of fasttext, xmc/);
    const depth = await run(['data', 'export', 'wordnet', '--format', 'xmc', '--out', out, '--wordnet', dict, '--depth', '0']);
    assert.equal(depth.code, 2);
    assert.match(depth.stderr, /E_OPTION: .*depth/);
    const other = await run(['data', 'export', 'imagenet', '--format', 'xmc', '--out', out]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /dataset must be one of wordnet/);
    const missing = await run(['data', 'export', 'wordnet', '--format', 'xmc', '--out', out, '--wordnet', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /E_IO: could not open .*data\.noun/);
  }),
);
