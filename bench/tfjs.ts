/**
 * TensorFlow.js benchmarks:
 * - `tfjs-lstm-step`: time of one training step of the 2-layer LSTM language model
 *   (d = 200, B = 20, T = 35, tied embeddings, sampled head) on the tfjs `wasm` backend (and
 *   `cpu` with the filter `tfjs-lstm-step-cpu`), with stock kernels and with
 *   {@link registerSamplexKernels};
 * - `tfjs-matmul`: GFLOP/s of the LSTM's products (`A·B`, `A·Bᵀ`, `Aᵀ·B`) on tfjs-wasm, stock
 *   and registered;
 * - `tfjs-output-layer`: output-layer milliseconds per step (samplex's sampling, loss,
 *   gradients and sparse update, as timed by the head) of midx (m = 100; rebuilt every 100
 *   steps, its rebuild time amortized into `ms`), with the default last stage and with the
 *   `softmax` stage at 128 codewords, against the full softmax at n = 50 000, d = 200, 700
 *   queries per step, in the same run; tables in the kernels' memory;
 * - `tfjs-first-use`: the first program docs/tfjs.md leads to (n = 20 000, d = 32, B = 128, a
 *   dense layer under the head, `midx` with its defaults, Adam, m = 100, no `initFastKernels`,
 *   every `OutputLayer` default), in a fresh process: milliseconds per step spent in samplex (the
 *   head's timing: custom-grad forward and backward, the table's optimizer, the sampler's
 *   refresh), its CPU milliseconds and a breakdown by phase. The row `setup: 'before'` runs the
 *   same program with the earlier defaults (TS kernels, per-step midx updates) for comparison.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { ClassTable } from '../src/core/classTable.js';
import { Rng } from '../src/core/rng.js';
import { initFastKernels, tableInKernelMemory, type FastKernels } from '../src/kernels/fast.js';
import { kernels, tsKernels, useKernels } from '../src/kernels/index.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { Adam } from '../src/layer/optimizers.js';
import { LstmLm } from '../src/apps/lm/model.js';
import '../src/samplers/index.js';
import { createSampler } from '../src/samplers/factory.js';
import { TfOutputHead, loadTfjs, registerSamplexKernels, type Tf } from '../src/tfjs/index.js';
import { emit, peakRssMB, runInChild, sendToParent } from './util.js';

/** Zipf-like token ids (rank r with weight 1/(r+1)). */
function zipfIds(n: number, len: number, rng: Rng): Int32Array {
  const cdf = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) cdf[i] = s += 1 / (i + 1);
  const out = new Int32Array(len);
  for (let k = 0; k < len; k++) {
    const u = rng.float() * s;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out[k] = lo;
  }
  return out;
}

function makeHead(
  tf: Tf, n: number, d: number, sampler: string, negatives: number, rng: Rng, loss: 'sampled' | 'full' = 'sampled', fast: FastKernels | null = null,
  midxOptions: Record<string, unknown> = {},
): TfOutputHead {
  const init = ClassTable.init(n, d, rng, { init: 'uniform', scale: 0.1, bias: true });
  const table = fast ? tableInKernelMemory(fast, init) : init;
  const opts = sampler === 'midx' ? { seed: 1, ...midxOptions } : { n };
  // as `samplex train lm`: an adaptive sampler is rebuilt every 100 steps, not updated per step, and
  // Adam steps every row of the table (its moments in the fast kernels' memory when there are some)
  const layer = new OutputLayer({
    table,
    sampler: createSampler(sampler, opts),
    optimizer: new Adam({ lr: 0.001 }, fast ? { f32: fast.allocF32, i32: fast.allocI32 } : undefined),
    negatives,
    rebuildEvery: 100,
    stepUpdates: false,
    denseUpdates: true,
  });
  return new TfOutputHead(tf, layer, { loss });
}

async function lstmStep(tf: Tf, backend: 'wasm' | 'cpu', steps: number): Promise<void> {
  const n = 10000;
  const d = 200;
  const B = 20;
  const T = 35;
  const rng = Rng.fromSeed(5, 0);
  const stream = zipfIds(n, B * (T * (steps + 1) + 1), rng);
  const results: Record<string, number> = {};
  // samplex's output layer runs on its WebAssembly kernels in both rows; only the tfjs kernels differ
  const fast = await initFastKernels({ threads: 0 });
  for (const kernels of ['stock', 'samplex'] as const) {
    await tf.setBackend(backend);
    const reg = kernels === 'samplex' ? await registerSamplexKernels(tf, { backends: [backend], fast }) : null;
    const head = makeHead(tf, n, d, 'uniform', 100, Rng.fromSeed(6, 0));
    const model = new LstmLm(tf, head, Rng.fromSeed(7, 0), { tied: true });
    const cols = Math.floor(stream.length / B);
    const batch = (k: number) => {
      const inputs = new Int32Array(B * T);
      const targets = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          inputs[b * T + t] = stream[b * cols + k * T + t]!;
          targets[b * T + t] = stream[b * cols + k * T + t + 1]!;
        }
      }
      return { index: k, offset: k * T, batch: B, steps: T, inputs, targets };
    };
    model.trainStep(batch(0), rng); // warm-up
    head.resetTiming();
    const t0 = performance.now();
    for (let k = 1; k <= steps; k++) model.trainStep(batch(k), rng);
    const ms = (performance.now() - t0) / steps;
    results[kernels] = ms;
    emit({
      bench: 'tfjs-lstm-step',
      parameters: { backend, kernels, n, d, layers: 2, batch: B, bptt: T, tied: true, sampler: 'uniform', negatives: 100, steps },
      ms,
      tokensPerSec: (B * T * 1000) / ms,
      outputLayerMs: head.timing.outputMs / steps,
      peakRssMB: peakRssMB(),
    });
    model.dispose();
    head.dispose();
    await reg?.unregister();
  }
  await fast.close();
  emit({ bench: 'tfjs-lstm-step-gain', parameters: { backend }, ratio: results['stock']! / results['samplex']! });
}

async function matmuls(tf: Tf): Promise<void> {
  await tf.setBackend('wasm');
  const rng = Rng.fromSeed(8, 0);
  // the LSTM's shapes: input projection [700, 200]·[200, 800] and its two backward products
  const [M, K, N] = [700, 200, 800];
  const t = (r: number, c: number) => tf.tensor2d(Float32Array.from({ length: r * c }, () => rng.normal()), [r, c]);
  const a = t(M, K);
  const b = t(K, N);
  const bT = t(N, K);
  const aT = t(K, M);
  const cases = [
    { op: 'A·B', f: () => tf.matMul(a, b) },
    { op: 'A·Bᵀ', f: () => tf.matMul(a, bT, false, true) },
    { op: 'Aᵀ·B', f: () => tf.matMul(aT, b, true, false) },
  ];
  for (const kernels of ['stock', 'samplex'] as const) {
    const reg = kernels === 'samplex' ? await registerSamplexKernels(tf) : null;
    for (const c of cases) {
      c.f().dispose();
      const reps = 3;
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) {
        const o = c.f();
        o.dataSync();
        o.dispose();
      }
      const ms = (performance.now() - t0) / reps;
      emit({ bench: 'tfjs-matmul', parameters: { backend: 'wasm', kernels, op: c.op, M, K, N }, ms, gflops: (2 * M * K * N) / ms / 1e6 });
    }
    await reg?.unregister();
  }
  tf.dispose([a, b, aT, bT]);
}

/** The `softmax` last stage with 128 codewords (see docs/tfjs.md). */
const MIDX_SOFTMAX = { stage: 'softmax', codewords: 128 } as const;

async function outputLayer(tf: Tf, fullSteps: number, midxSteps: number): Promise<void> {
  await tf.setBackend('cpu');
  const fast = await initFastKernels({ threads: 0 });
  const n = 50000;
  const d = 200;
  const rows = 700;
  const rng = Rng.fromSeed(9, 0);
  const ms: Record<string, number> = {};
  try {
    for (const kind of ['full', 'midx', 'midx-softmax'] as const) {
      const head = kind === 'full'
        ? makeHead(tf, n, d, 'uniform', 1, Rng.fromSeed(10, 0), 'full', fast)
        : makeHead(tf, n, d, 'midx', 100, Rng.fromSeed(10, 0), 'sampled', fast, kind === 'midx' ? {} : MIDX_SOFTMAX);
      const tb = performance.now();
      head.layer.sampler.build(head.layer.table);
      const rebuildMs = kind === 'full' ? 0 : performance.now() - tb;
      const labels = zipfIds(n, rows, rng);
      const h = tf.tensor2d(Float32Array.from({ length: rows * d }, () => rng.normal()), [rows, d]);
      const step = () => tf.tidy(() => tf.grad((x: tfc.Tensor) => head.loss(x, labels, { rng }))(h).dataSync());
      step(); // warm-up
      head.resetTiming();
      // a midx step is cheap: more of them give a steadier mean
      const steps = kind === 'full' ? fullSteps : midxSteps;
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) step();
      const wall = (performance.now() - t0) / steps;
      // a midx rebuild every 100 steps, amortized
      ms[kind] = head.timing.outputMs / steps + rebuildMs / 100;
      emit({
        bench: 'tfjs-output-layer',
        parameters: {
          loss: kind, n, d, rows, negatives: kind === 'full' ? n : 100, kernels: fast.path, steps, rebuildEvery: kind === 'full' ? 0 : 100,
          ...(kind === 'midx-softmax' ? MIDX_SOFTMAX : {}),
        },
        ms: ms[kind],
        stepMs: head.timing.outputMs / steps,
        rebuildMs,
        wallMs: wall,
        peakRssMB: peakRssMB(),
      });
      h.dispose();
      head.dispose();
    }
    emit({ bench: 'tfjs-output-layer-gain', parameters: { n, d, rows }, ratio: ms['full']! / ms['midx']! });
    emit({ bench: 'tfjs-output-layer-gain', parameters: { n, d, rows, ...MIDX_SOFTMAX }, ratio: ms['full']! / ms['midx-softmax']! });
  } finally {
    await fast.close();
  }
}

const FIRST_USE_FLAG = '--tfjs-first-use-child';

/** What the first-use child reports. */
interface FirstUseResult {
  ms: number;
  cpuMs: number;
  wallMs: number;
  phases: Record<string, number>;
  kernels: string;
  stepUpdates: string;
  rebuildEvery: number;
  peakRssMB: number;
}

/**
 * The first tfjs program of docs/tfjs.md, run in this (fresh) process: `setup` 'defaults' as
 * written there; 'before' with the TS kernels and per-step sampler updates.
 */
async function firstUseChild(setup: 'defaults' | 'before', steps: number): Promise<FirstUseResult> {
  const tf = await loadTfjs('cpu');
  if (setup === 'before') useKernels(tsKernels);
  const [n, d, B, F] = [20000, 32, 128, 64];
  const rng = Rng.fromSeed(1, 0);
  const table = ClassTable.init(n, d, rng, { init: 'uniform', scale: 0.1, bias: true });
  const layer = new OutputLayer({
    table, sampler: createSampler('midx', { seed: 1 }), optimizer: new Adam({ lr: 1e-3 }), negatives: 100,
    ...(setup === 'before' ? { stepUpdates: true } : {}),
  });
  const head = new TfOutputHead(tf, layer);
  const W = tf.variable(tf.randomNormal([F, d], 0, 0.1, 'float32', 2));
  const opt = tf.train.adam(1e-3);
  const data = Rng.fromSeed(2, 0);
  const x = tf.tensor2d(Float32Array.from({ length: B * F }, () => data.normal()), [B, F]);
  const labels = Int32Array.from({ length: B }, () => data.int(n));
  const step = (): void => {
    opt.minimize(() => head.loss(tf.matMul(x, W), labels, { rng }));
  };
  // phase timing: wall milliseconds of the sampler's draws, its refresh (update or rebuild) and the table's optimizer
  const phases: Record<string, number> = { sample: 0, refresh: 0, optimizer: 0 };
  const timed = <T extends object>(o: T, k: keyof T & string, phase: string): void => {
    const f = (o[k] as (...a: unknown[]) => unknown).bind(o);
    (o as Record<string, unknown>)[k] = (...a: unknown[]) => {
      const t0 = performance.now();
      try {
        return f(...a);
      } finally {
        phases[phase]! += performance.now() - t0;
      }
    };
  };
  timed(layer.sampler, 'sample', 'sample');
  timed(layer.sampler, 'update', 'refresh');
  timed(layer.sampler, 'build', 'refresh');
  timed(layer.optimizer, 'step', 'optimizer');
  step(); // warm-up (the first step also decides stepUpdates: 'auto')
  head.resetTiming();
  for (const k of Object.keys(phases)) phases[k] = 0;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) step();
  const wallMs = (performance.now() - t0) / steps;
  const phaseMs: Record<string, number> = {};
  for (const k of Object.keys(phases)) phaseMs[k] = phases[k]! / steps;
  const timing = head.timing;
  // then the layer's CPU time over as many further steps (process.cpuUsage costs about a
  // millisecond per step here: it is kept out of the steps timed above)
  let cpu = 0;
  const cpuTimed = (k: 'computeGradients' | 'applyGradients'): void => {
    const f = layer[k].bind(layer) as (a: never) => unknown;
    (layer as unknown as Record<string, unknown>)[k] = (a: never) => {
      const c0 = process.cpuUsage();
      try {
        return f(a);
      } finally {
        const c = process.cpuUsage(c0);
        cpu += (c.user + c.system) / 1000;
      }
    };
  };
  cpuTimed('computeGradients');
  cpuTimed('applyGradients');
  for (let s = 0; s < steps; s++) step();
  return {
    ms: timing.outputMs / timing.steps, cpuMs: cpu / steps, wallMs, phases: phaseMs, kernels: kernels.name,
    stepUpdates: String(layer.stepUpdates), rebuildEvery: layer.rebuildEvery, peakRssMB: peakRssMB(),
  };
}

async function firstUse(): Promise<void> {
  // 200 steps hold two of the default rebuilds (every 100 steps); the slow setup needs fewer
  for (const [setup, steps] of [['before', 40], ['defaults', 200]] as const) {
    const r = await runInChild<FirstUseResult>(import.meta.url, FIRST_USE_FLAG, [setup === 'before' ? 0 : 1, steps]);
    emit({
      bench: 'tfjs-first-use',
      parameters: { setup, n: 20000, d: 32, batch: 128, negatives: 100, sampler: 'midx', steps, kernels: r.kernels, stepUpdates: r.stepUpdates, rebuildEvery: r.rebuildEvery },
      ms: r.ms, cpuMs: r.cpuMs, wallMs: r.wallMs, phases: r.phases, peakRssMB: r.peakRssMB,
    });
  }
}

if (process.argv[2] === FIRST_USE_FLAG) {
  const [setup, steps] = process.argv.slice(3, 5).map(Number) as [number, number];
  sendToParent(await firstUseChild(setup === 0 ? 'before' : 'defaults', steps));
}

/** Runs the tfjs benchmarks whose name contains `filter` (all when omitted). */
export async function run(filter?: string): Promise<void> {
  const want = (name: string): boolean => !filter || name.includes(filter);
  if (!['tfjs-matmul', 'tfjs-lstm-step', 'tfjs-output-layer', 'tfjs-first-use'].some(want)) return;
  // in its own processes: it measures what a program that chose no kernels gets
  if (want('tfjs-first-use')) await firstUse();
  if (!['tfjs-matmul', 'tfjs-lstm-step', 'tfjs-output-layer'].some(want)) return;
  let tf: Tf;
  try {
    await loadTfjs('wasm');
    tf = await loadTfjs('cpu');
  } catch (e) {
    emit({ bench: 'tfjs', skipped: e instanceof Error ? e.message : String(e) });
    return;
  }
  if (want('tfjs-matmul')) await matmuls(tf);
  if (want('tfjs-lstm-step')) await lstmStep(tf, 'wasm', 3);
  // the stock cpu backend takes tens of seconds per step at this size: only on request
  if (filter?.includes('tfjs-lstm-step-cpu')) await lstmStep(tf, 'cpu', 2);
  if (want('tfjs-output-layer')) await outputLayer(tf, 3, 20);
}
