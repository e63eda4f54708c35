/**
 * Sharded class tables: the cost of a training step on a sharded table (float32 and bfloat16)
 * against the unsharded one, draws per second of composite samplers against unsharded ones, and what bfloat16 storage does to quality on a planted synthetic
 * problem (labelled as such). `npm run bench -- --filter sharded`.
 */
import { loadXmcData } from '../src/apps/xmc/data.js';
import { XmcTrainer } from '../src/apps/xmc/trainer.js';
import { decodeBf16, encodeBf16 } from '../src/core/bf16.js';
import { ClassTable } from '../src/core/classTable.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { matrix, singleLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { kernels } from '../src/kernels/index.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { createSampler } from '../src/samplers/factory.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { emit, medianMs } from './util.js';

/** A training step's median time for each table layout (same batch, sampler and optimizer). */
function stepTimes(n: number, d: number, B: number, m: number, shards: number): void {
  const rng = Rng.fromSeed(1);
  const base = ClassTable.init(n, d, rng, { bias: true });
  const q = matrix(B, d);
  for (let i = 0; i < q.data.length; i++) q.data[i] = rng.normal();
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
  const sizes = Array.from({ length: shards }, (_, s) => Math.floor(((s + 1) * n) / shards) - Math.floor((s * n) / shards));
  const layouts: [string, ClassTable | ShardedClassTable][] = [
    ['unsharded', base.clone()],
    ['sharded-f32', ShardedClassTable.split(base, sizes)],
    ['sharded-bf16', ShardedClassTable.split(base, sizes, 'bf16')],
  ];
  for (const [layout, table] of layouts) {
    const sampler = table instanceof ShardedClassTable ? ShardedSampler.create('uniform', table) : ShardedSampler.create('uniform', [n]);
    const layer = new OutputLayer<ClassTable | ShardedClassTable>({ table, sampler, optimizer: createOptimizer('adam', { lr: 0.01 }), negatives: m, convention: 'maskedExclusive' });
    let s = 0;
    const ms = medianMs(() => layer.step({ queries: q, labels, rng: Rng.fromSeed(s++) }), 9, 2);
    emit({ bench: 'sharded.step', layout, n, d, B, m, shards: layout === 'unsharded' ? 1 : shards, sampler: 'uniform', optimizer: 'adam', kernels: kernels.name, stepMs: +ms.toFixed(2), tableMB: +(table.byteLength / 2 ** 20).toFixed(1) });
  }
}

/**
 * Draws per second of a composite sampler over `shards` shards against the unsharded sampler
 * (same table, queries and options; `m` draws for each of `B` query rows, with replacement).
 */
function drawRates(n: number, d: number, B: number, m: number, shards: number): void {
  const rng = Rng.fromSeed(6);
  const table = ClassTable.init(n, d, rng, { bias: true });
  const queries = matrix(B, d);
  for (let i = 0; i < queries.data.length; i++) queries.data[i] = rng.normal();
  const sizes = Array.from({ length: shards }, (_, s) => Math.floor(((s + 1) * n) / shards) - Math.floor((s * n) / shards));
  const cases: [string, Record<string, unknown>, number][] = [
    ['uniform', {}, 9],
    ['midx', { stage: 'uniform' }, 5],
    ['midx', { stage: 'softmax' }, 3],
    ['exact', {}, 3],
  ];
  for (const [name, opts, reps] of cases) {
    const rowsOf = name === 'exact' ? Math.min(B, 32) : B; // exact scores every class of every row: fewer rows
    const q = rowsOf === B ? queries : matrix(rowsOf, d, queries.data.slice(0, rowsOf * d));
    for (const layout of ['unsharded', 'sharded'] as const) {
      const sampler = layout === 'unsharded' ? createSampler(name, opts) : ShardedSampler.create(name, sizes, opts);
      sampler.build(table);
      let s = 0;
      const sample = (): unknown => sampler.sample({ m, rng: Rng.fromSeed(s++), queries: sampler.adaptive ? q : null, rows: rowsOf });
      const ms = medianMs(() => void sample(), reps, 1);
      emit({ bench: 'sharded.draws', sampler: name, ...opts, layout, n, d, rows: rowsOf, m, shards: layout === 'unsharded' ? 1 : shards, kernels: kernels.name, ms: +ms.toFixed(2), drawsPerSec: Math.round((rowsOf * m) / (ms / 1000)) });
    }
  }
}

/**
 * Planted problem (synthetic): class `c` has a hidden centroid of norm 3; a query of class `y` is
 * its centroid plus isotropic noise; classes follow Zipf. Trains the output layer from a random
 * table with float32 and with bfloat16 storage (same seeds; the bfloat16 table starts from the
 * rounded values) and evaluates held-out queries.
 */
function bf16Quality(n: number, d: number, steps: number, lr: number): void {
  const rng = Rng.fromSeed(2);
  const mu = new Float32Array(n * d);
  for (let c = 0; c < n; c++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (mu[c * d + k] = rng.normal()) ** 2;
    for (let k = 0; k < d; k++) mu[c * d + k]! *= 3 / Math.sqrt(s);
  }
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += 1 / (i + 1);
  const sample = (rows: number, r: Rng): { queries: Matrix; labels: Labels } => {
    const queries = matrix(rows, d);
    const ys: number[] = [];
    for (let i = 0; i < rows; i++) {
      const u = r.float() * acc;
      let y = 0;
      while (cdf[y]! <= u) y++;
      ys.push(y);
      for (let k = 0; k < d; k++) queries.data[i * d + k] = mu[y * d + k]! + 0.5 * r.normal();
    }
    return { queries, labels: singleLabels(ys) };
  };
  const test = sample(2000, Rng.fromSeed(3));
  const base = ClassTable.init(n, d, Rng.fromSeed(4), { bias: true, scale: 0.01 });
  for (const storage of ['f32', 'bf16'] as const) {
    const table = ShardedClassTable.split(base, { shards: 4 }, storage);
    const layer = new OutputLayer({ table, sampler: ShardedSampler.create('uniform', table), optimizer: createOptimizer('adam', { lr }), negatives: 64, convention: 'maskedExclusive' });
    const r = Rng.fromSeed(5);
    for (let s = 0; s < steps; s++) {
      const { queries, labels } = sample(128, r);
      layer.step({ queries, labels, rng: r });
    }
    const ev = layer.evaluate(test.queries, test.labels, { ks: [1, 5] });
    emit({ bench: 'sharded.bf16Quality', data: 'planted synthetic', storage, n, d, steps, B: 128, m: 64, optimizer: 'adam', lr, testNll: +ev.nll.toFixed(4), p1: +ev.precision[1]!.toFixed(4), recall5: +ev.recall[5]!.toFixed(4), tableMB: +(table.byteLength / 2 ** 20).toFixed(2) });
  }
}

/**
 * bfloat16 class table on real data: the extreme-classification app (`XmcTrainer`, `midx`, its
 * defaults) on the built-in WordNet split, float32 against a class table held at bfloat16
 * precision, same seed and epochs. The bfloat16 table is the float32 table rounded to nearest even
 * after every step (and before the first), which `test/bf16.test.ts` shows trains exactly as bf16
 * storage does; one difference: the sampler's periodic rebuild (every 100 steps) reads the table
 * just before that step's rounding (it changes the proposal only, which stays exactly reported).
 * Only the class table is rounded; the encoder stays float32.
 */
async function bf16Xmc(epochs: number): Promise<void> {
  const data = loadXmcData('wordnet');
  for (const storage of ['f32', 'bf16'] as const) {
    const fast = await initFastKernels({ threads: 0 });
    try {
      const trainer = new XmcTrainer(data.split, { sampler: 'midx', seed: 1, lrDecayEpochs: epochs }, {
        placeTable: (t) => tableInKernelMemory(fast, t),
        optimizerStorage: { f32: fast.allocF32, i32: fast.allocI32 },
      });
      const w = trainer.model.table.weights;
      const enc = new Uint16Array(w.length);
      const round = (): void => {
        encodeBf16(w, 0, enc, 0, w.length);
        decodeBf16(enc, 0, w, 0, w.length);
      };
      if (storage === 'bf16') round();
      const t0 = performance.now();
      for (let e = 0; e < epochs; e++) trainer.trainEpoch(storage === 'bf16' ? round : undefined);
      const sec = (performance.now() - t0) / 1000;
      const m = await trainer.evaluate();
      emit({ bench: 'sharded.bf16Xmc', data: 'wordnet', storage, n: trainer.model.table.n, d: trainer.model.table.d, epochs, sampler: 'midx', kernels: kernels.name, trainSec: +sec.toFixed(1), testNll: +m.nll.toFixed(4), p1: +m.p1.toFixed(4), p5: +m.p5.toFixed(4), ndcg5: +m.ndcg5.toFixed(4) });
    } finally {
      await fast.close();
    }
  }
}

export async function run(filter?: string): Promise<void> {
  const want = (name: string): boolean => !filter || name.includes(filter);
  if (want('sharded.step')) stepTimes(100_000, 64, 256, 100, 4);
  if (want('sharded.draws')) drawRates(100_000, 64, 256, 100, 4);
  if (want('sharded.bf16Quality')) {
    // Adam's steps are about lr per coordinate: at lr = 0.001 many fall below half a bfloat16 ulp
    // of the weights (2^−9 relative) and are rounded away, at lr = 0.01 most are kept
    for (const lr of [0.01, 0.001]) bf16Quality(5000, 32, 600, lr);
  }
  // minutes long: only when asked for by name (`--filter sharded.bf16Xmc`; EPOCHS, default 2)
  if (filter !== undefined && filter.includes('bf16Xmc')) await bf16Xmc(Number(process.env['EPOCHS'] ?? 2));
}
