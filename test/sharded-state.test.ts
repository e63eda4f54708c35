// Optimizer state of a layer on a sharded table: one state of the whole table (accumulators
// concatenated in global row order), so a checkpoint resumes exactly, and loads into an unsharded
// layer and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClassTable } from '../src/core/classTable.js';
import { StateError } from '../src/core/errors.js';
import { multiLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer, type OptimizerName, type OptimizerState } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { randomQueries, randomTable } from './util/adaptive.js';
import { tsKernels, useKernels } from '../src/kernels/index.js';

// equality with the unsharded path to float64 rounding: the TS reference kernels (test/sharded-kernels.test.ts runs the WebAssembly ones)
useKernels(tsKernels);

const N = 40;
const D = 6;
const SIZES = [9, 1, 17, 13];

function batch(seed: number, B: number): { queries: Matrix; labels: Labels } {
  const rng = Rng.fromSeed(seed);
  const rows: number[][] = [];
  for (let r = 0; r < B; r++) {
    const s = new Set<number>();
    while (s.size < (r % 3 === 0 ? 2 : 1)) s.add(rng.int(N));
    rows.push([...s]);
  }
  return { queries: randomQueries(B, D, seed + 1), labels: multiLabels(rows) };
}

type AnyTable = ClassTable | ShardedClassTable;

function layer(table: AnyTable, opt: OptimizerName, sampler: string): OutputLayer<AnyTable> {
  // the same composite proposal on a sharded table and on the unsharded one (over views)
  const s = table instanceof ShardedClassTable ? ShardedSampler.create(sampler, table, {}) : ShardedSampler.create(sampler, SIZES, {});
  return new OutputLayer<AnyTable>({ table, sampler: s, optimizer: createOptimizer(opt, { lr: 0.05 }), negatives: 8, stepUpdates: true });
}

function run(l: OutputLayer<AnyTable>, from: number, to: number): number[] {
  const losses: number[] = [];
  for (let step = from; step < to; step++) {
    const { queries, labels } = batch(300 + step, 7);
    losses.push(l.step({ queries, labels, rng: Rng.fromSeed(step) }).loss);
  }
  return losses;
}

function weightsOf(t: AnyTable): ClassTable {
  return t instanceof ShardedClassTable ? t.toTable() : t;
}

function copyState(s: OptimizerState): OptimizerState {
  const out: OptimizerState = {};
  for (const [k, v] of Object.entries(s)) out[k] = v.slice();
  return out;
}

/** Same table contents in another form: sharded by SIZES (f32 / bf16) or one ClassTable. */
function reshape(t: AnyTable, to: 'f32' | 'bf16' | 'unsharded'): AnyTable {
  const cat = weightsOf(t).clone();
  return to === 'unsharded' ? cat : ShardedClassTable.split(cat, SIZES, to);
}

test('a sharded layer resumed from its optimizer state equals the uninterrupted run (sgd, adagrad, adam; f32 and bf16)', () => {
  for (const opt of ['sgd', 'adagrad', 'adam'] as const) {
    for (const storage of ['f32', 'bf16'] as const) {
      const base = randomTable(N, D, 11, true, 0.5);
      const full = layer(ShardedClassTable.split(base.clone(), SIZES, storage), opt, 'exact');
      const lossFull = run(full, 0, 6);
      const first = layer(ShardedClassTable.split(base.clone(), SIZES, storage), opt, 'exact');
      run(first, 0, 3);
      const saved = copyState(first.optimizer.stateTensors());
      assert.deepEqual([...saved['shape']!], [N, D, 1]);
      assert.deepEqual([...saved['steps']!], [3]);
      const resumed = layer(reshape(first.table, storage), opt, 'exact');
      resumed.optimizer.loadState(saved);
      const lossResumed = run(resumed, 3, 6);
      assert.deepEqual(lossResumed, lossFull.slice(3), `${opt}/${storage}: losses after resuming`);
      assert.deepEqual(weightsOf(resumed.table).weights, weightsOf(full.table).weights, `${opt}/${storage}: tables`);
      assert.deepEqual(weightsOf(resumed.table).bias, weightsOf(full.table).bias);
      const a = resumed.optimizer.stateTensors();
      const b = full.optimizer.stateTensors();
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
      for (const k of Object.keys(a)) assert.deepEqual(a[k], b[k], `${opt}/${storage}: state tensor ${k}`);
    }
  }
});

test('optimizer state moves between sharded and unsharded layers: each continues as the other would', () => {
  for (const opt of ['adagrad', 'adam'] as const) {
    const base = randomTable(N, D, 12, true, 0.5);
    // reference: the unsharded layer all the way (the composite proposal over views of its table)
    const ref = layer(base.clone(), opt, 'uniform');
    const lossRef = run(ref, 0, 9);
    // sharded for 3 steps → unsharded for 3 → sharded for 3
    const a = layer(ShardedClassTable.split(base.clone(), SIZES), opt, 'uniform');
    const l1 = run(a, 0, 3);
    const b = layer(reshape(a.table, 'unsharded'), opt, 'uniform');
    b.optimizer.loadState(copyState(a.optimizer.stateTensors()));
    const l2 = run(b, 3, 6);
    const c = layer(reshape(b.table, 'f32'), opt, 'uniform');
    c.optimizer.loadState(copyState(b.optimizer.stateTensors()));
    const l3 = run(c, 6, 9);
    const got = [...l1, ...l2, ...l3];
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(got[i]! - lossRef[i]!) <= 1e-12 * Math.max(1, Math.abs(lossRef[i]!)), `${opt} step ${i}: ${got[i]} vs ${lossRef[i]}`);
    const wc = weightsOf(c.table);
    const wr = weightsOf(ref.table);
    let diff = 0;
    for (let i = 0; i < wr.weights.length; i++) diff = Math.max(diff, Math.abs(wc.weights[i]! - wr.weights[i]!));
    assert.ok(diff <= 1e-6, `${opt}: tables differ by ${diff}`);
    const sc = c.optimizer.stateTensors();
    const sr = ref.optimizer.stateTensors();
    for (const k of Object.keys(sr)) {
      const x = sc[k]!;
      const y = sr[k]!;
      assert.equal(x.length, y.length, k);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= 1e-6, `${opt} ${k}[${i}]: ${x[i]} vs ${y[i]}`);
    }
  }
});

test('a sharded optimizer refuses a state of another class count, and leaves its state unchanged', () => {
  const l = layer(ShardedClassTable.split(randomTable(N, D, 13, true), SIZES), 'adam', 'uniform');
  run(l, 0, 2);
  const before = copyState(l.optimizer.stateTensors());
  assert.throws(() => l.optimizer.loadState({ shape: Int32Array.from([N + 1, D, 1]), steps: Int32Array.from([1]) }), StateError);
  // a tensor of the wrong length for the last shard only
  const bad = copyState(before);
  bad['m'] = bad['m']!.slice(0, (N - 1) * D);
  assert.throws(() => l.optimizer.loadState(bad), StateError);
  const after = l.optimizer.stateTensors();
  for (const k of Object.keys(before)) assert.deepEqual(after[k], before[k], k);
  // an unstepped sharded optimizer has the state of an unsized one, and loads it back
  const fresh = layer(ShardedClassTable.split(randomTable(N, D, 15, true), SIZES), 'adam', 'uniform');
  const s0 = fresh.optimizer.stateTensors();
  assert.deepEqual([...s0['shape']!], [0, 0, 0]);
  fresh.optimizer.loadState(s0);
  assert.equal(fresh.optimizer.steps, 0);
});
