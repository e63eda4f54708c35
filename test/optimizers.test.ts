import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, singleLabels } from '../src/core/matrix.js';
import { NonFiniteError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { Adam, createOptimizer, type SparseOptimizer } from '../src/layer/optimizers.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import { activeMemory, kernels } from '../src/kernels/index.js';
import type { SparseRowGrad } from '../src/loss/types.js';

const N = 6;
const D = 3;

function table(): ClassTable {
  const w = Float32Array.from({ length: N * D }, (_, i) => Math.sin(i + 1) * 0.8);
  const b = Float32Array.from({ length: N }, (_, i) => Math.cos(i) * 0.3);
  return new ClassTable(N, D, w, b);
}

function grad(ids: number[], seed: number): SparseRowGrad {
  const rng = Rng.fromSeed(seed);
  return {
    ids: Int32Array.from(ids),
    rows: Float32Array.from({ length: ids.length * D }, () => rng.normal()),
    bias: Float32Array.from({ length: ids.length }, () => rng.normal()),
  };
}

/** The steps used by the hand-computed tests: row 1 is touched at steps 0 and 2 only. */
const STEPS = [grad([1, 3], 1), grad([0, 3, 5], 2), grad([1, 3, 4], 3)];
const UNTOUCHED = [2];

/** Runs an optimizer and a float64 hand model side by side; checks every touched element. */
function runAgainstHand(
  opt: SparseOptimizer,
  hand: (state: Map<string, number>, key: string, w: number, g: number, rowStep: number) => number,
): void {
  const t = table();
  const before = t.clone();
  const wRef = Float64Array.from(t.weights);
  const bRef = Float64Array.from(t.bias!);
  const state = new Map<string, number>();
  const rowSteps = new Map<number, number>();
  for (const g of STEPS) {
    opt.step(t, g);
    for (let k = 0; k < g.ids.length; k++) {
      const id = g.ids[k]!;
      const rs = (rowSteps.get(id) ?? 0) + 1;
      rowSteps.set(id, rs);
      for (let c = 0; c < D; c++) {
        wRef[id * D + c] = hand(state, `w${id}:${c}`, wRef[id * D + c]!, g.rows[k * D + c]!, rs);
      }
      bRef[id] = hand(state, `b${id}`, bRef[id]!, g.bias![k]!, rs);
    }
    for (let i = 0; i < N * D; i++) assert.ok(Math.abs(t.weights[i]! - wRef[i]!) < 1e-5, `${opt.name} weight ${i}: ${t.weights[i]} vs ${wRef[i]}`);
    for (let i = 0; i < N; i++) assert.ok(Math.abs(t.bias![i]! - bRef[i]!) < 1e-5, `${opt.name} bias ${i}: ${t.bias![i]} vs ${bRef[i]}`);
  }
  for (const u of UNTOUCHED) {
    assert.deepEqual(Array.from(t.row(u)), Array.from(before.row(u)), 'untouched row is bit-identical');
    assert.equal(t.bias![u], before.bias![u]);
  }
  assert.equal(opt.steps, 3);
}

test('SGD with lazy weight decay matches hand-computed updates; untouched rows are bit-identical', () => {
  const lr = 0.05;
  const wd = 0.1;
  runAgainstHand(createOptimizer('sgd', { lr, weightDecay: wd }), (_s, key, w, g) => (key.startsWith('w') ? w - lr * (g + wd * w) : w - lr * g));
});

test('Adagrad matches hand-computed updates', () => {
  const lr = 0.2;
  const eps = 1e-7;
  const a0 = 0.1;
  runAgainstHand(createOptimizer('adagrad', { lr, eps, initialAccumulator: a0 }), (s, key, w, g) => {
    const a = (s.get(key) ?? a0) + g * g;
    s.set(key, a);
    return w - (lr * g) / (Math.sqrt(a) + eps);
  });
});

test('lazy Adam matches hand-computed updates with per-row step counts', () => {
  const lr = 0.01;
  const b1 = 0.8;
  const b2 = 0.95;
  const eps = 1e-8;
  const opt = createOptimizer('adam', { lr, beta1: b1, beta2: b2, eps }) as Adam;
  runAgainstHand(opt, (s, key, w, g, t) => {
    // Skipped steps leave m, v untouched; t is the row's own update count.
    const m = b1 * (s.get(`m${key}`) ?? 0) + (1 - b1) * g;
    const v = b2 * (s.get(`v${key}`) ?? 0) + (1 - b2) * g * g;
    s.set(`m${key}`, m);
    s.set(`v${key}`, v);
    return w - (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => opt.rowStepCount(i)), [1, 2, 0, 3, 1, 1]);
});

test('lazy Adam: the first update of a row first seen late is about lr in size', () => {
  const lr = 0.01;
  const opt = createOptimizer('adam', { lr });
  const t = table();
  for (let s = 0; s < 50; s++) opt.step(t, grad([0], 100 + s));
  const before = t.clone();
  const g = grad([5], 7);
  opt.step(t, g);
  for (let c = 0; c < D; c++) {
    const delta = t.weights[5 * D + c]! - before.weights[5 * D + c]!;
    assert.ok(Math.abs(Math.abs(delta) - lr) < 1e-4, `first update ${delta}, expected ±${lr}`);
    assert.equal(Math.sign(delta), -Math.sign(g.rows[c]!));
  }
});

test('state tensors round-trip: a restored optimizer continues identically', () => {
  for (const name of ['sgd', 'adagrad', 'adam'] as const) {
    const a = createOptimizer(name, { lr: 0.03 });
    const ta = table();
    a.step(ta, STEPS[0]!);
    a.step(ta, STEPS[1]!);
    const snapshot = Object.fromEntries(Object.entries(a.stateTensors()).map(([k, v]) => [k, v.slice()]));
    const b = createOptimizer(name, { lr: 0.03 });
    b.loadState(snapshot);
    assert.equal(b.steps, 2);
    const tb = ta.clone();
    a.step(ta, STEPS[2]!);
    b.step(tb, STEPS[2]!);
    assert.deepEqual(Array.from(tb.weights), Array.from(ta.weights), name);
    assert.deepEqual(Array.from(tb.bias!), Array.from(ta.bias!), name);
    assert.deepEqual(Object.keys(b.stateTensors()).sort(), Object.keys(a.stateTensors()).sort());
  }
  const adam = createOptimizer('adam');
  adam.step(table(), STEPS[0]!);
  const st = adam.stateTensors();
  assert.deepEqual(Object.keys(st).sort(), ['m', 'mBias', 'rowSteps', 'shape', 'steps', 'v', 'vBias']);
  assert.deepEqual(Array.from(st['shape']!), [N, D, 1]);
  // A state of another kind or size is refused.
  assert.throws(() => createOptimizer('adagrad').loadState(st), StateError);
  assert.throws(() => createOptimizer('adam').loadState({ ...st, m: new Float32Array(3) }), StateError);
  const noV = { ...st };
  delete noV['v'];
  assert.throws(() => createOptimizer('adam').loadState(noV), (e: unknown) => e instanceof StateError && /missing tensor 'v'/.test(e.message));
});

test('stepAll equals step on the gradient spread over every row (each optimizer), and validates like step', () => {
  const spread = (g: SparseRowGrad): SparseRowGrad => {
    const rows = new Float32Array(N * D);
    const bias = new Float32Array(N);
    g.ids.forEach((id, k) => {
      rows.set(g.rows.subarray(k * D, (k + 1) * D), id * D);
      bias[id] = g.bias![k]!;
    });
    return { ids: Int32Array.from({ length: N }, (_, i) => i), rows, bias };
  };
  for (const name of ['sgd', 'adagrad', 'adam'] as const) {
    const a = createOptimizer(name, { lr: 0.03 });
    const b = createOptimizer(name, { lr: 0.03 });
    const ta = table();
    const tb = table();
    for (const g of STEPS) {
      a.stepAll(ta, g);
      b.step(tb, spread(g));
    }
    assert.deepEqual(Array.from(ta.weights), Array.from(tb.weights), name);
    assert.deepEqual(Array.from(ta.bias!), Array.from(tb.bias!), name);
    assert.equal(a.steps, STEPS.length);
    const sa = a.stateTensors();
    for (const [k, v] of Object.entries(b.stateTensors())) assert.deepEqual(Array.from(sa[k]!), Array.from(v), `${name} ${k}`);
  }
  // with Adam a row keeps moving on its momentum after the step that listed it (row 0, listed
  // at the middle step only), where the lazy update leaves it alone
  const dense = table();
  const lazy = table();
  const [da, la] = [createOptimizer('adam', { lr: 0.03 }), createOptimizer('adam', { lr: 0.03 })];
  for (const g of STEPS) {
    da.stepAll(dense, g);
    la.step(lazy, g);
  }
  assert.notEqual(dense.weights[0], lazy.weights[0]);
  // refused like step, and nothing is applied or left behind by a refused call
  const opt = createOptimizer('adam');
  const t2 = table();
  assert.throws(() => opt.stepAll(t2, { ids: Int32Array.from([3, 1]), rows: new Float32Array(6), bias: new Float32Array(2) }), ShapeError);
  assert.throws(() => opt.stepAll(t2, { ids: Int32Array.from([1]), rows: Float32Array.from([0, Infinity, 0]), bias: new Float32Array(1) }), NonFiniteError);
  assert.equal(opt.steps, 0);
  assert.deepEqual(Array.from(t2.weights), Array.from(table().weights));
});

test('lrScale multiplies the learning rate of the following steps (each optimizer, step and stepAll)', () => {
  const scales = [1, 0.5, 0.25];
  for (const name of ['sgd', 'adagrad', 'adam'] as const) {
    for (const all of [false, true]) {
      const a = createOptimizer(name, { lr: 0.04 });
      const ta = table();
      const tb = table();
      let state = null as ReturnType<SparseOptimizer['stateTensors']> | null;
      STEPS.forEach((g, k) => {
        a.lrScale = scales[k]!;
        if (all) a.stepAll(ta, g);
        else a.step(ta, g);
        // the same step from a fresh optimizer whose lr is the scaled one, resumed from the state so far
        const b = createOptimizer(name, { lr: 0.04 * scales[k]! });
        if (state) b.loadState(state);
        if (all) b.stepAll(tb, g);
        else b.step(tb, g);
        state = Object.fromEntries(Object.entries(b.stateTensors()).map(([key, v]) => [key, v.slice()]));
      });
      assert.deepEqual(Array.from(ta.weights), Array.from(tb.weights), `${name} all=${all}`);
      assert.deepEqual(Array.from(ta.bias!), Array.from(tb.bias!), `${name} all=${all}`);
      assert.equal(a.lrScale, 0.25);
    }
  }
  const opt = createOptimizer('adam', { lr: 0.1 });
  const t = table();
  opt.lrScale = 0;
  opt.step(t, STEPS[0]!);
  assert.deepEqual(Array.from(t.weights), Array.from(table().weights), 'rate 0 leaves the table as it was');
  assert.throws(() => (opt.lrScale = -1), OptionError);
  assert.throws(() => (opt.lrScale = Number.NaN), OptionError);
});

test('optimizers refuse bad gradients, tables and options with typed errors', () => {
  const opt = createOptimizer('adam');
  const t = table();
  assert.throws(() => opt.step(t, { ids: Int32Array.from([3, 1]), rows: new Float32Array(6), bias: new Float32Array(2) }), (e: unknown) => e instanceof ShapeError && /ascending/.test(e.message));
  assert.throws(() => opt.step(t, { ids: Int32Array.from([6]), rows: new Float32Array(3), bias: new Float32Array(1) }), ShapeError);
  assert.throws(() => opt.step(t, { ids: Int32Array.from([1]), rows: new Float32Array(4), bias: new Float32Array(1) }), ShapeError);
  assert.throws(() => opt.step(t, { ids: Int32Array.from([1]), rows: new Float32Array(3), bias: null }), (e: unknown) => e instanceof ShapeError && /bias/.test(e.message));
  assert.throws(() => opt.step(t, { ids: Int32Array.from([1]), rows: Float32Array.from([0, NaN, 0]), bias: new Float32Array(1) }), NonFiniteError);
  // nothing was applied by the refused steps
  assert.equal(opt.steps, 0);
  opt.step(t, STEPS[0]!);
  assert.throws(() => opt.step(new ClassTable(7, D, new Float32Array(7 * D)), STEPS[0]!), StateError);
  assert.throws(() => createOptimizer('rmsprop'), (e: unknown) => e instanceof OptionError && /sgd, adagrad, adam/.test(e.message));
  assert.throws(() => createOptimizer('sgd', { learningRate: 0.1 }), (e: unknown) => e instanceof OptionError && /learningRate/.test(e.message));
  assert.throws(() => createOptimizer('adam', { beta1: 1 }), OptionError);
  assert.throws(() => createOptimizer('adagrad', { lr: -1 }), OptionError);
});

test('training a 20-class softmax on separable data with the full loss decreases the loss (every optimizer)', () => {
  const n = 20;
  const d = 8;
  const rng = Rng.fromSeed(2024);
  const centers = Float32Array.from({ length: n * d }, () => rng.normal() * 2);
  const S = 200;
  const x = new Float32Array(S * d);
  const y: number[] = [];
  for (let s = 0; s < S; s++) {
    const c = s % n;
    y.push(c);
    for (let k = 0; k < d; k++) x[s * d + k] = centers[c * d + k]! + rng.normal() * 0.3;
  }
  const queries = matrix(S, d, x);
  const labels = singleLabels(y);
  for (const [name, lr] of [['sgd', 0.5], ['adagrad', 0.3], ['adam', 0.05]] as const) {
    const tbl = ClassTable.init(n, d, Rng.fromSeed(5), { bias: true, scale: 0.01 });
    const opt = createOptimizer(name, { lr });
    const initial = fullSoftmaxLoss({ queries, table: tbl, labels, grad: false }).loss;
    for (let epoch = 0; epoch < 40; epoch++) {
      for (let s0 = 0; s0 < S; s0 += 50) {
        const batch = matrix(50, d, x.slice(s0 * d, (s0 + 50) * d));
        const res = fullSoftmaxLoss({ queries: batch, table: tbl, labels: singleLabels(y.slice(s0, s0 + 50)) }, { blockSize: 7 });
        opt.step(tbl, res.gradClasses);
      }
    }
    const final = fullSoftmaxLoss({ queries, table: tbl, labels, grad: false }).loss;
    assert.ok(initial > 2.9 && final < 0.3 * initial, `${name}: loss ${initial} -> ${final}`);
  }
});

test('Adam with its state in the kernels\' memory and the table outside it (touched rows, or the whole table when many rows are touched, copied beside the state) equals Adam with the state in JS memory bit for bit', () => {
  const mem = activeMemory();
  if (mem === null) {
    // SAMPLEX_KERNELS=ts: the kernels have no memory, so there is nothing to place there
    assert.equal(kernels.name, 'ts');
    return;
  }
  const rng = Rng.fromSeed(11);
  for (const d of [5, 64, 70]) {
    const n = 300;
    const w = Float32Array.from({ length: n * d }, () => rng.normal() * 0.3);
    const b = Float32Array.from({ length: n }, () => rng.normal() * 0.1);
    const t1 = new ClassTable(n, d, w.slice(), b.slice());
    const t2 = new ClassTable(n, d, w.slice(), b.slice());
    const inKernelMemory = new Adam({ lr: 0.01 });
    const plain = new Adam({ lr: 0.01 }, { f32: (len) => new Float32Array(len), i32: (len) => new Int32Array(len) });
    for (let s = 0; s < 6; s++) {
      // rows touched at different steps get different step counts; odd steps touch more than an
      // eighth of the rows (the whole table is staged), even steps fewer (the rows are)
      const ids = Int32Array.from(new Set(Array.from({ length: s % 2 === 1 ? 150 : 20 }, () => rng.int(n)))).sort();
      // a write to the tables between steps (as a caller may make) is kept by either staging
      const r = rng.int(n);
      t1.weights[r * d] = t2.weights[r * d] = rng.normal();
      const g: SparseRowGrad = {
        ids,
        rows: Float32Array.from({ length: ids.length * d }, () => rng.normal()),
        bias: Float32Array.from({ length: ids.length }, () => rng.normal()),
      };
      inKernelMemory.step(t1, g);
      plain.step(t2, g);
    }
    const s1 = inKernelMemory.stateTensors();
    const s2 = plain.stateTensors();
    assert.ok(mem.owns(s1['m']!) && mem.owns(s1['v']!) && mem.owns(s1['rowSteps']!), 'the state is in the kernels\' memory');
    assert.ok(!mem.owns(t1.weights), 'the table is not');
    assert.deepEqual(t1.weights, t2.weights, `weights d=${d}`);
    assert.deepEqual(t1.bias, t2.bias, `bias d=${d}`);
    for (const k of ['m', 'v', 'rowSteps', 'mBias', 'vBias']) assert.deepEqual(Array.from(s1[k]!), Array.from(s2[k]!), `${k} d=${d}`);
  }
});

test('Adam state in kernel memory: arrays from stateTensors() stay intact after their optimizer is collected, while held', async () => {
  const mem = activeMemory();
  if (mem === null) {
    assert.equal(kernels.name, 'ts');
    return;
  }
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const rng = Rng.fromSeed(12);
  const [n, d] = [500, 8];
  const run = (): { m: Float32Array; copy: Float32Array } => {
    const t = new ClassTable(n, d, Float32Array.from({ length: n * d }, () => rng.normal()), null);
    const opt = new Adam({ lr: 0.01 });
    const ids = Int32Array.from({ length: 50 }, (_, i) => i * 7);
    opt.step(t, { ids, rows: Float32Array.from({ length: 50 * d }, () => rng.normal()), bias: null });
    const m = opt.stateTensors()['m'] as Float32Array;
    return { m, copy: m.slice() };
  };
  const held = run();
  assert.ok(mem.owns(held.m));
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10)); // finalizers run between tasks
    run();
  }
  gc();
  await new Promise((r) => setTimeout(r, 10));
  // claim every free block of that size (first fit) and write into it: a freed block of the held
  // array would be overwritten here
  const grabbed: Float32Array[] = [];
  for (let i = 0; i < 256; i++) grabbed.push(mem.f32(held.m.length).fill(7));
  assert.deepEqual(held.m, held.copy);
  for (const g of grabbed) mem.freeAt?.(g.byteOffset);
});
