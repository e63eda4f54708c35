/**
 * Streamed training rows in the extreme classifier: synthetic rows generated batch by batch give
 * the training of the same rows held and visited in the same order, to the last bit; the one
 * streamed pass gives the idf and label counts of the held rows; resuming and the single-label
 * check work on streamed rows; the run folder fingerprints them by their spec.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import '../src/samplers/index.js';
import { OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { datasetRowSource, gatherRows, isRowSource, numRows, SparseBuilder, type RowSource, type SparseDataset } from '../src/data/sparse.js';
import { fingerprint } from '../src/harness/runFolder.js';
import { SyntheticXmc } from '../src/data/syntheticXmc.js';
import { Featurizer } from '../src/apps/xmc/features.js';
import { labelCounts, XmcTrainer, type EpochStats, type XmcConfig } from '../src/apps/xmc/trainer.js';
import { loadXmcData, type XmcData } from '../src/apps/xmc/data.js';
import { trainXmcRun, xmcDataFingerprint } from '../src/apps/xmc/run.js';
import { resolveXmcConfig } from '../src/apps/xmc/trainer.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-stream-'));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = { labels: 300, rows: 1000, test: 200, features: 512, clusters: 10, clusterFeatures: 4, signature: 3, tokens: 6, seed: 7 };
const gen = new SyntheticXmc(spec);
const held = gen.rows(0, spec.rows);
const test_ = gen.testRows();

/** Trains `epochs` epochs and returns the per-epoch figures (seconds dropped) and the trainer. */
function train(source: SparseDataset | RowSource, config: XmcConfig, epochs: number): { stats: Omit<EpochStats, 'seconds' | 'outputSeconds'>[]; trainer: XmcTrainer } {
  const trainer = new XmcTrainer({ train: source, test: test_ }, config);
  const stats = [];
  for (let e = 0; e < epochs; e++) {
    const { seconds: _s, outputSeconds: _o, ...rest } = trainer.trainEpoch();
    stats.push(rest);
  }
  return { stats, trainer };
}

/** Every parameter and optimizer tensor of a trainer. */
function tensors(t: XmcTrainer): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(t.stateTensors())) out[k] = Array.from(v);
  return out;
}

test('the generator gathers any rows as the held dataset holds them (same arrays), and refuses rows outside the split', () => {
  const src = gen.trainSource();
  assert.ok(isRowSource(src) && !isRowSource(held));
  assert.equal(src.numRows, spec.rows);
  assert.equal(src.origin, 'generated on the fly');
  assert.equal(src.id, gen.spec());
  const ids = Int32Array.of(999, 0, 17, 17, 500);
  assert.deepEqual(src.gather(ids), gatherRows(held, ids));
  // a contiguous range is the held range itself
  const range = Int32Array.from({ length: 50 }, (_, i) => 300 + i);
  const part = src.gather(range);
  const ref = gen.rows(300, 350);
  assert.deepEqual(part.features, ref.features);
  assert.deepEqual(part.labels, ref.labels);
  // the test rows continue the stream; the training source stops at its rows
  assert.deepEqual(gen.gather([spec.rows]).features, gatherRows(test_, [0]).features);
  for (const bad of [-1, spec.rows, 2.5]) assert.throws(() => src.gather([bad]), OptionError, String(bad));
  assert.throws(() => gatherRows(held, [spec.rows]), OptionError);
});

test('one streamed pass gives the idf and label counts of the held rows, to the last bit', () => {
  for (const weighting of ['tfidf', 'counts'] as const) {
    const a = new XmcTrainer({ train: gen.trainSource(), test: test_ }, { weighting, dim: 8, negatives: 5 });
    const b = new XmcTrainer({ train: held, test: test_ }, { weighting, dim: 8, negatives: 5 });
    assert.deepEqual(a.model.featurizer.idf, b.model.featurizer.idf, weighting);
    assert.deepEqual(a.model.featurizer.idf, Featurizer.fit(held, { weighting }).idf);
    assert.deepEqual(a.trainLabelCounts, labelCounts(held));
    assert.deepEqual(a.testX, b.testX);
    assert.equal(a.trainX, null);
    assert.equal(a.instancesPerEpoch, spec.rows);
  }
  // a fit over chunks is the fit over their rows together
  const fit = Featurizer.fitter(held.numFeatures);
  for (let r0 = 0; r0 < spec.rows; r0 += 333) fit.add(gen.rows(r0, Math.min(spec.rows, r0 + 333)));
  assert.equal(fit.rows, spec.rows);
  assert.deepEqual(fit.finish().idf, Featurizer.fit(held).idf);
  assert.throws(() => fit.add(held), StateError);
  assert.throws(() => Featurizer.fitter(held.numFeatures, { bigrams: 8 }).add(held), OptionError);
});

test('streamed synthetic rows train exactly as the same rows held and visited in the same order', () => {
  // batch 64 does not divide 1000 rows: the last batch of an epoch is partial
  const configs: XmcConfig[] = [
    { sampler: 'midx', dim: 8, negatives: 10, batchSize: 64, lr: 0.05, lrDecayEpochs: 3, seed: 2 },
    { sampler: 'unigram', dim: 8, negatives: 10, batchSize: 50, lr: 0.05, hidden: true, denseUpdates: false, seed: 3 },
    { sampler: 'uniform', dim: 8, negatives: 10, batchSize: 64, lr: 0.05, negativeSource: 'mixed', convention: 'correctedAll', frequencyBuckets: 64, seed: 4 },
  ];
  for (const config of configs) {
    const streamed = train(gen.trainSource(), config, 3);
    const reference = train(datasetRowSource(held), config, 3);
    assert.deepEqual(streamed.stats, reference.stats, config.sampler);
    assert.ok(streamed.stats.every((s) => Number.isFinite(s.loss) && s.instances === spec.rows));
    assert.deepEqual(tensors(streamed.trainer), tensors(reference.trainer), config.sampler);
  }
});

test('each streamed epoch visits every row once, in an order fixed by the seed and the epoch', async () => {
  // the constructor's pass, then one list per epoch
  const seen: number[][] = [[]];
  const counting: RowSource = {
    ...gen.trainSource(),
    gather: (rows) => {
      seen.at(-1)!.push(...Array.from(rows));
      return gen.trainSource().gather(rows);
    },
  };
  const t = new XmcTrainer({ train: counting, test: test_ }, { sampler: 'uniform', dim: 4, negatives: 3, batchSize: 128 });
  for (let e = 0; e < 2; e++) {
    seen.push([]);
    t.trainEpoch();
  }
  const all = Array.from({ length: spec.rows }, (_, i) => i);
  assert.deepEqual(seen[0], all);
  for (const order of seen.slice(1)) assert.deepEqual([...order].sort((a, b) => a - b), all);
  assert.notDeepEqual(seen[1], seen[2]);
  assert.notDeepEqual(seen[1], all);
  // the evaluation reads the held test rows only
  const m = await t.evaluate();
  assert.equal(m.rows, spec.test);
  // another trainer on the same source (a comparison's next run) reuses the pass, with its own arrays
  seen.push([]);
  const u = new XmcTrainer({ train: counting, test: test_ }, { sampler: 'unigram', dim: 4, negatives: 3, batchSize: 128 });
  assert.deepEqual(seen.at(-1), []);
  assert.deepEqual(u.trainLabelCounts, t.trainLabelCounts);
  assert.notEqual(u.trainLabelCounts, t.trainLabelCounts);
  assert.deepEqual(u.model.featurizer.idf, t.model.featurizer.idf);
  assert.notEqual(u.model.featurizer.idf, t.model.featurizer.idf);
  // other featurizer options make their own pass
  const w = new XmcTrainer({ train: counting, test: test_ }, { sampler: 'uniform', dim: 4, negatives: 3, weighting: 'counts' });
  assert.equal(seen.at(-1)!.length, spec.rows);
  assert.ok(w.model.featurizer.idf.every((x) => x === 1));
});

test('a streamed run resumed from its checkpoint continues as the uninterrupted one; the time budget and intervals work', async () => {
  const data = loadXmcData(`synthetic:${Object.entries(spec).map(([k, v]) => `${k}=${v}`).join(',')}`);
  assert.ok(isRowSource(data.split.train));
  assert.equal(numRows(data.split.test), spec.test);
  const config = resolveXmcConfig({ sampler: 'midx', dim: 8, negatives: 5, batchSize: 32, lr: 0.05, lrDecayEpochs: 0, seed: 5 });
  const lines: string[] = [];
  const quiet = { notice: () => {}, log: (l: string) => lines.push(l) };
  const ref = await trainXmcRun({ data, out: join(root, 'ref'), epochs: 3, config, evalSample: 50, ...quiet });
  assert.ok(lines.some((l) => l.startsWith(`training data: ${spec.rows} rows generated on the fly, read batch by batch`)), lines.join('\n'));
  const dir = join(root, 'resumed');
  await trainXmcRun({ data, out: dir, epochs: 1, config, evalSample: 50, ...quiet });
  const again = loadXmcData(data.source);
  const res = await trainXmcRun({ data: again, out: dir, epochs: 3, config, evalSample: 50, resume: true, ...quiet });
  assert.deepEqual(tensors(res.trainer), tensors(ref.trainer));
  const p1 = (recs: typeof ref.records): unknown[] => recs.filter((r) => r['point'] === 'epoch').map((r) => r['p1']);
  assert.deepEqual(p1(res.records), p1(ref.records));
  // a streamed run fingerprints its rows by the spec: other rows are refused on resume
  const other = loadXmcData(data.source.replace('seed=7', 'seed=8'));
  assert.notEqual(xmcDataFingerprint(other), xmcDataFingerprint(data));
  assert.equal(xmcDataFingerprint(again), xmcDataFingerprint(data));
  await assert.rejects(trainXmcRun({ data: other, out: dir, epochs: 4, config, resume: true, ...quiet }), (e: unknown) => e instanceof StateError && /data differs/.test(e.message));
  // a time budget cuts an epoch of streamed rows, with evaluations at intervals
  const budget = await trainXmcRun({ data, out: join(root, 'budget'), epochs: 50, config, timeBudgetSec: 0.4, evalEverySec: 0.1, evalSample: 50, ...quiet });
  const last = budget.records.at(-2)!;
  assert.equal(last['point'], 'budget');
  assert.ok(Number(last['trainSec']) >= 0.4);
  assert.ok(budget.records.some((r) => r['point'] === 'interval'));
  const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { numFeatures: number; numLabels: number; labelNames: unknown; featureNames: unknown };
  assert.deepEqual([model.numFeatures, model.numLabels, model.labelNames, model.featureNames], [spec.features, spec.labels, null, null]);
});

/** The first `n` held rows with `labelsOf(r, label)` as row r's labels. */
function relabelled(n: number, labelsOf: (r: number, label: number) => number[]): SparseDataset {
  const b = new SparseBuilder();
  const f = held.features;
  for (let r = 0; r < n; r++) {
    const lo = f.offsets[r]!;
    const hi = f.offsets[r + 1]!;
    b.addRow(f.indices.subarray(lo, hi), f.values.subarray(lo, hi), labelsOf(r, held.labels.ids[r]!));
  }
  return b.build({ numFeatures: held.numFeatures, numLabels: held.numLabels });
}

test('streamed rows: the single-label check and unlabelled rows give typed errors', () => {
  // a multi-label source: in-batch negatives are refused with the held data's message
  const ml = relabelled(100, (r, l) => (r === 3 ? [l, (l + 1) % spec.labels] : [l]));
  const inBatch: XmcConfig = { sampler: 'uniform', dim: 4, negatives: 3, negativeSource: 'inBatch', convention: 'correctedAll' };
  const msg = (e: unknown): string => (e as Error).message;
  let heldMsg = '';
  assert.throws(() => new XmcTrainer({ train: ml, test: test_ }, inBatch), (e: unknown) => e instanceof OptionError && (heldMsg = msg(e)) !== '');
  assert.match(heldMsg, /1 of 100 rows have more than one label \(the first is row 3, with 2\)/);
  assert.throws(() => new XmcTrainer({ train: datasetRowSource(ml), test: test_ }, inBatch), (e: unknown) => e instanceof OptionError && msg(e) === heldMsg);
  // streamed single-label rows take in-batch negatives
  assert.doesNotThrow(() => new XmcTrainer({ train: gen.trainSource(), test: test_ }, inBatch));
  // a streamed row without a label
  const none = relabelled(100, (r, l) => (r === 42 ? [] : [l]));
  assert.throws(() => new XmcTrainer({ train: datasetRowSource(none), test: test_ }, { dim: 4, negatives: 3 }), (e: unknown) => e instanceof ShapeError && /row 42 has no label/.test(msg(e)));
  // a source that gives fewer rows than asked for
  const short: RowSource = { ...datasetRowSource(held), gather: (rows) => gatherRows(held, Array.from(rows).slice(1)) };
  assert.throws(() => new XmcTrainer({ train: short, test: test_ }, { dim: 4, negatives: 3 }), (e: unknown) => e instanceof ShapeError && /gave 999 rows/.test(msg(e)));
});

test('xmcDataFingerprint of held data hashes their contents as before; streamed rows are fingerprinted by their id', () => {
  const a: XmcData = { split: { train: held, test: test_ }, input: 'pairs', source: 's' };
  const parts: (ArrayBufferView | string)[] = ['pairs'];
  for (const ds of [held, test_]) {
    parts.push(`${ds.numFeatures}/${ds.numLabels}`, ds.features.indices, ds.features.values, ds.features.offsets, ds.labels.ids, ds.labels.offsets, '', '');
  }
  assert.equal(xmcDataFingerprint(a), fingerprint(parts));
  const b: XmcData = { split: { train: datasetRowSource(held, 'x'), test: test_ }, input: 'pairs', source: 's' };
  const c: XmcData = { split: { train: datasetRowSource(held, 'y'), test: test_ }, input: 'pairs', source: 's' };
  assert.notEqual(xmcDataFingerprint(a), xmcDataFingerprint(b));
  assert.notEqual(xmcDataFingerprint(b), xmcDataFingerprint(c));
});
