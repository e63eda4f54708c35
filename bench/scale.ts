/**
 * Scale benchmark: the library used as a user would at `n` classes of dimension `d`:
 * `ClassTable.init` → `initFastKernels()` (+ `tableInKernelMemory` when the table fits one wasm
 * memory, else the table stays in JS memory) → `OutputLayer` with `createSampler('midx',
 * {codewords: 64})`, Adam, 100 negatives, `maskedExclusive`, `stepUpdates: false`, B = 256 random
 * queries. Each size runs in its own child process (clean peak RSS) and prints one JSON line:
 * init and sampler build time, the first step (which sizes Adam's state) and the median of the
 * timed steps after 12 untimed ones, with their phases (sample, loss and gradients, optimizer,
 * sampler update), draws/s, exact evaluation GFLOP/s (pooled `evaluateAsync`, and up to
 * n·d = 2e8 the synchronous one-thread `evaluate`), peak RSS. A last line per `d` gives
 * step(largest n) / step(smallest n) from the same run, and a `scale.pair` line the same ratio with
 * both sizes built in one process and stepped in alternating blocks (see {@link pairChild};
 * `SAMPLEX_SCALE_PAIR_ROUNDS` rounds, default 10). First, `scale.fill` lines give the
 * table fills' values per second on one thread (`--filter scale.fill`: those lines only).
 *
 * Sizes: `SAMPLEX_SCALE_N` (comma list, default `1e5,1e6,1e7`), `SAMPLEX_SCALE_D` (default
 * `64,128`), `SAMPLEX_SCALE_STEPS` (timed steps, default 5), `SAMPLEX_SCALE_EVAL` (evaluated
 * queries, default 256), `SAMPLEX_SCALE_LAYOUT` (see {@link layoutFor}), `SAMPLEX_SCALE_SHARDS` (at least
 * this many shards in the sharded layout, default 1).
 * @module
 */
import { performance } from 'node:perf_hooks';
import { emit, runInChild, sendToParent } from './util.js';
import { shardSizes } from '../src/core/shardedTable.js';
import { KERNEL_MEMORY_BUDGET, type FastKernels } from '../src/kernels/fast.js';
import {
  ClassTable, createOptimizer, createSampler, initFastKernels, matrix, OutputLayer, Rng, ShardedClassTable, ShardedSampler,
  shardedTableInKernelMemory, singleLabels, tableInKernelMemory,
} from '../src/index.js';

const FLAG = '--samplex-scale-child';
const PAIR_FLAG = '--samplex-scale-pair-child';
/**
 * Untimed steps before the timed ones: the first sizes the optimizer state, and the pool's workers
 * reach the compiled speed of their row copies (a sharded table's gathers) over the first ten or so
 * (measured at 10⁷ × 128: the first gather about 60 ms, the next ones 11–20 ms, after 10–14
 * calls 5–7 ms).
 */
const WARMUP = 12;
/** Largest `n·d` also evaluated with the synchronous (one-thread) `evaluate`. */
const SYNC_EVAL_MAX = 2e8;
const B = 256;
const M = 100;

/** Where the table and the Adam state live. */
type Layout = 'kernel memory' | 'sharded kernel memory' | 'js memory';

/** Bytes of the table, the Adam moments and the step counts. */
const stateBytes = (n: number, d: number): number => 3 * n * d * 4 + 2 * n * 4;

/**
 * The layout of a run: `SAMPLEX_SCALE_LAYOUT` = `auto` (default: one kernel memory when the table
 * and its Adam state fit one, else one kernel memory per shard), `kernel`, `sharded` or `js`
 * (one table in JS memory, its touched rows staged per call).
 */
function layoutFor(n: number, d: number, wasm: boolean): Layout {
  const want = process.env['SAMPLEX_SCALE_LAYOUT'] ?? 'auto';
  if (!['auto', 'kernel', 'sharded', 'js'].includes(want)) throw new Error(`SAMPLEX_SCALE_LAYOUT must be auto, kernel, sharded or js; got ${want}`);
  if (!wasm || want === 'js') return 'js memory';
  const fits = stateBytes(n, d) <= KERNEL_MEMORY_BUDGET;
  if (want === 'kernel' && !fits) throw new Error(`SAMPLEX_SCALE_LAYOUT=kernel: ${n} x ${d} with Adam does not fit one kernel memory; use auto or sharded`);
  if (want === 'sharded' || (want === 'auto' && !fits)) return 'sharded kernel memory';
  return 'kernel memory';
}

function list(env: string | undefined, dflt: number[]): number[] {
  if (!env) return dflt;
  return env.split(',').map((s) => Math.round(Number(s.trim()))).filter((x) => x > 0);
}

interface ScaleRecord {
  n: number;
  d: number;
  kernels: string;
  tableIn: Layout;
  shards: number;
  initMs: number;
  buildMs: number;
  firstStepMs: number;
  stepMs: number;
  /** CPU time of the step (all threads of the process; on a loaded machine, steadier than wall time). */
  stepCpuMs: number;
  sampleMs: number;
  lossGradMs: number;
  optimizerMs: number;
  updateMs: number;
  drawsPerS: number;
  evalQueries: number;
  evalMs: number;
  evalGflops: number;
  evalSyncMs: number | null;
  evalSyncGflops: number | null;
  peakRssMB: number;
  tableMB: number;
  adamMB: number;
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const r1 = (x: number): number => +x.toFixed(1);

/** One size's layer as a user builds it, with timers around its sampler and optimizer. */
interface Setup {
  n: number;
  d: number;
  layout: Layout;
  shards: number;
  initMs: number;
  buildMs: number;
  layer: OutputLayer<ClassTable | ShardedClassTable>;
  rng: Rng;
  /** Milliseconds of the current step in the sampler, the optimizer and the sampler's refresh. */
  ph: { sample: number; opt: number; update: number };
}

/** Per timed step: wall and CPU milliseconds, and the phases. */
interface StepTimes {
  step: number[];
  cpu: number[];
  sample: number[];
  opt: number[];
  update: number[];
  loss: number[];
}

async function setup(fast: FastKernels, n: number, d: number, seed: number): Promise<Setup> {
  const rng = Rng.fromSeed(seed);
  const layout = layoutFor(n, d, fast.arena !== null);
  let t0 = performance.now();
  let table: ClassTable | ShardedClassTable;
  let shards = 1;
  if (layout === 'sharded kernel memory') {
    // one kernel memory per shard: each shard with its Adam moments under KERNEL_MEMORY_BUDGET
    shards = Math.max(list(process.env['SAMPLEX_SCALE_SHARDS'], [1])[0]!, Math.ceil(stateBytes(n, d) / KERNEL_MEMORY_BUDGET));
    // shard by shard (values of ClassTable.init per shard, seeds 1, 2, …), so that one plain
    // shard at a time exists beside the kernel memories
    const parts: ClassTable[] = [];
    for (const ns of shardSizes(n, { shards })) {
      const kt = await shardedTableInKernelMemory(fast, new ShardedClassTable([ClassTable.init(ns, d, Rng.fromSeed(parts.length + 1))]));
      parts.push(kt.shards[0] as ClassTable);
    }
    table = new ShardedClassTable(parts);
  } else {
    table = ClassTable.init(n, d, rng);
    if (layout === 'kernel memory') table = tableInKernelMemory(fast, table);
  }
  const initMs = performance.now() - t0;
  const sampler = table instanceof ShardedClassTable ? ShardedSampler.create('midx', table, { codewords: 64 }) : createSampler('midx', { codewords: 64 });
  const optimizer = createOptimizer('adam', { lr: 0.01 });
  t0 = performance.now();
  const layer = new OutputLayer<ClassTable | ShardedClassTable>({ table, sampler, optimizer, negatives: M, convention: 'maskedExclusive', stepUpdates: false });
  const buildMs = performance.now() - t0;

  // phase timers around the layer's own sampler and optimizer (the step itself is unchanged)
  const ph = { sample: 0, opt: 0, update: 0 };
  let depth = 0; // a wrapped method calling another (sampleWithLogQ → sample) counts once
  const timed = <A extends unknown[], R>(f: (...a: A) => R, key: keyof typeof ph) => (...a: A): R => {
    const s = performance.now();
    depth++;
    try {
      return f(...a);
    } finally {
      if (--depth === 0) ph[key] += performance.now() - s;
    }
  };
  sampler.sample = timed(sampler.sample.bind(sampler), 'sample');
  if (sampler.sampleWithLogQ) sampler.sampleWithLogQ = timed(sampler.sampleWithLogQ.bind(sampler), 'sample');
  sampler.logQ = timed(sampler.logQ.bind(sampler), 'sample');
  sampler.update = timed(sampler.update.bind(sampler), 'update');
  sampler.build = timed(sampler.build.bind(sampler), 'update');
  const so = layer.shardedOptimizer;
  if (so) so.step = timed(so.step.bind(so), 'opt');
  else optimizer.step = timed(optimizer.step.bind(optimizer), 'opt');
  return { n, d, layout, shards, initMs, buildMs, layer, rng, ph };
}

function newTimes(): StepTimes {
  return { step: [], cpu: [], sample: [], opt: [], update: [], loss: [] };
}

/** One step of a setup, its times recorded in `out` (null: not recorded); returns its wall milliseconds. */
function oneStep(st: Setup, out: StepTimes | null): number {
  const { n, d, rng, ph } = st;
  const queries = matrix(B, d);
  rng.fillNormal(queries.data);
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
  ph.sample = ph.opt = ph.update = 0;
  const t = performance.now();
  const c0 = process.cpuUsage();
  st.layer.step({ queries, labels, rng });
  const ms = performance.now() - t;
  const c1 = process.cpuUsage(c0);
  if (out === null) return ms;
  out.step.push(ms);
  out.cpu.push((c1.user + c1.system) / 1000);
  out.sample.push(ph.sample);
  out.opt.push(ph.opt);
  out.update.push(ph.update);
  out.loss.push(ms - ph.sample - ph.opt - ph.update);
  return ms;
}

async function child(n: number, d: number, steps: number, evalB: number): Promise<ScaleRecord> {
  const fast = await initFastKernels();
  const st = await setup(fast, n, d, 1);
  const { layout, shards, initMs, buildMs, layer, rng } = st;
  const times = newTimes();
  const firstStepMs = oneStep(st, null); // sizes the optimizer state
  for (let s = 1; s < steps + WARMUP; s++) oneStep(st, s < WARMUP ? null : times);
  const { step: stepT, cpu: cpuT, sample: sampleT, opt: optT, update: updT, loss: lossT } = times;
  const stepMs = median(stepT);
  const sampleMs = median(sampleT);
  const optimizerMs = median(optT);
  const updateMs = median(updT);

  const q = matrix(evalB, d);
  let t0 = 0;
  rng.fillNormal(q.data);
  const labels = singleLabels(Array.from({ length: evalB }, () => rng.int(n)));
  const flop = 2 * evalB * n * d;
  await layer.evaluateAsync(matrix(8, d, q.data.subarray(0, 8 * d)), singleLabels(labels.ids.subarray(0, 8))); // warm-up
  t0 = performance.now();
  await layer.evaluateAsync(q, labels);
  const evalMs = performance.now() - t0;
  let evalSyncMs: number | null = null;
  if (n * d <= SYNC_EVAL_MAX) {
    t0 = performance.now();
    layer.evaluate(q, labels);
    evalSyncMs = performance.now() - t0;
  }
  const rec: ScaleRecord = {
    n, d, kernels: fast.kernels.name, tableIn: layout, shards,
    initMs: r1(initMs), buildMs: r1(buildMs),
    firstStepMs: r1(firstStepMs), stepMs: r1(stepMs), stepCpuMs: r1(median(cpuT)), sampleMs: r1(sampleMs), lossGradMs: r1(median(lossT)),
    optimizerMs: r1(optimizerMs), updateMs: r1(updateMs),
    drawsPerS: Math.round((B * M) / (sampleMs / 1000)),
    evalQueries: evalB, evalMs: r1(evalMs), evalGflops: +(flop / (evalMs * 1e6)).toFixed(2),
    evalSyncMs: evalSyncMs === null ? null : r1(evalSyncMs), evalSyncGflops: evalSyncMs === null ? null : +(flop / (evalSyncMs * 1e6)).toFixed(2),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    tableMB: Math.round((n * d * 4) / 2 ** 20), adamMB: Math.round((2 * n * d * 4 + n * 4) / 2 ** 20),
  };
  await fast.close();
  return rec;
}

/** What the side-by-side child reports (see {@link pairChild}). */
interface PairRecord {
  d: number;
  nSmall: number;
  nLarge: number;
  layouts: string;
  rounds: number;
  smallStepMs: number;
  largeStepMs: number;
  smallCpuMs: number;
  largeCpuMs: number;
  /** Per size, the medians of sample / loss and gradients / optimizer / update. */
  smallPhasesMs: number[];
  largePhasesMs: number[];
  stepRatio: number;
  cpuRatio: number;
  /** Median, lowest and highest of the rounds' ratios. */
  roundRatioMedian: number;
  roundRatioMin: number;
  roundRatioMax: number;
}

/** Steps per size and round of {@link pairChild}; the first of each is not timed. */
const PAIR_BLOCK = 3;

/**
 * `scale.pair`: the smallest and the largest size built in one process and stepped in alternating
 * blocks of {@link PAIR_BLOCK} steps (the first step of a block untimed: it pays for the other
 * size's step having filled the caches), `rounds` rounds after the warm-up steps, so that both
 * sizes see the same machine, minute by minute. Gives the ratio of the median steps and the
 * spread of the rounds' ratios.
 */
async function pairChild(nSmall: number, nLarge: number, d: number, rounds: number): Promise<PairRecord> {
  const fast = await initFastKernels();
  const large = await setup(fast, nLarge, d, 1);
  const small = await setup(fast, nSmall, d, 1);
  const ts = newTimes();
  const tl = newTimes();
  for (let s = 0; s < WARMUP; s++) {
    oneStep(small, null);
    oneStep(large, null);
  }
  const roundRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = ts.step.length;
    for (let k = 0; k < PAIR_BLOCK; k++) oneStep(small, k === 0 ? null : ts);
    for (let k = 0; k < PAIR_BLOCK; k++) oneStep(large, k === 0 ? null : tl);
    const mean = (x: number[]): number => x.slice(a).reduce((u, v) => u + v, 0) / (x.length - a);
    roundRatios.push(mean(tl.step) / mean(ts.step));
  }
  const phases = (t: StepTimes): number[] => [t.sample, t.loss, t.opt, t.update].map((x) => r1(median(x)));
  const sorted = [...roundRatios].sort((x, y) => x - y);
  const r2 = (x: number): number => +x.toFixed(2);
  const rec: PairRecord = {
    d, nSmall, nLarge,
    layouts: `${small.layout} → ${large.layout}${large.shards > 1 ? ` (${large.shards} shards)` : ''}`,
    rounds,
    smallStepMs: r1(median(ts.step)), largeStepMs: r1(median(tl.step)),
    smallCpuMs: r1(median(ts.cpu)), largeCpuMs: r1(median(tl.cpu)),
    smallPhasesMs: phases(ts), largePhasesMs: phases(tl),
    stepRatio: r2(median(tl.step) / median(ts.step)), cpuRatio: r2(median(tl.cpu) / median(ts.cpu)),
    roundRatioMedian: r2(median(roundRatios)), roundRatioMin: r2(sorted[0]!), roundRatioMax: r2(sorted[sorted.length - 1]!),
  };
  await fast.close();
  return rec;
}

/**
 * `scale.fill`: values per second of the table fills on one thread (the kernels `ClassTable.init`
 * uses), into a plain array (staged through the arena) and into kernel memory; wall and CPU time.
 */
async function fillRates(): Promise<void> {
  const fast = await initFastKernels({ threads: 0 });
  try {
    const len = 1 << 24;
    const targets = { js: new Float32Array(len), kernel: fast.allocF32(len) };
    const cpu = (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    for (const init of ['normal', 'uniform'] as const) {
      for (const [where, out] of Object.entries(targets)) {
        let best = { wall: Infinity, cpu: Infinity };
        for (let r = 0; r < 3; r++) {
          const seed = Int32Array.of(1, 2, 3, r);
          const w0 = performance.now();
          const c0 = cpu();
          if (init === 'normal') fast.kernels.fillNormal(out, 0, len, seed, 1, 0);
          else fast.kernels.fillUniform(out, 0, len, seed, 1);
          const wall = performance.now() - w0;
          if (wall < best.wall) best = { wall, cpu: cpu() - c0 };
        }
        emit({
          bench: 'scale.fill', init, into: where, kernels: fast.kernels.name, values: len,
          mValuesPerS: Math.round(len / best.wall / 1e3), mValuesPerCpuS: Math.round(len / Math.max(best.cpu, 1e-3) / 1e3),
        });
      }
    }
  } finally {
    await fast.close();
  }
}

/** Runs the scale benchmark when `filter` matches `scale` (or is omitted); `scale.fill` runs only the fill rates. */
export async function run(filter?: string): Promise<void> {
  if (filter && filter !== 'scale' && !filter.startsWith('scale.') && !'scale'.includes(filter)) return;
  await fillRates();
  if (filter === 'scale.fill') return; // the fill rates alone
  const ns = list(process.env['SAMPLEX_SCALE_N'], [1e5, 1e6, 1e7]);
  const ds = list(process.env['SAMPLEX_SCALE_D'], [64, 128]);
  const steps = list(process.env['SAMPLEX_SCALE_STEPS'], [5])[0]!;
  const evalB = list(process.env['SAMPLEX_SCALE_EVAL'], [256])[0]!;
  const pairRounds = list(process.env['SAMPLEX_SCALE_PAIR_ROUNDS'], [10])[0]!;
  for (const d of ds) {
    const recs: ScaleRecord[] = [];
    for (const n of ns) {
      const r = await runInChild<ScaleRecord>(import.meta.url, FLAG, [n, d, steps, evalB]);
      emit({ bench: 'scale', ...r });
      recs.push(r);
    }
    if (recs.length > 1) {
      const lo = recs[0]!;
      const hi = recs[recs.length - 1]!;
      emit({ bench: 'scale.ratio', d, nSmall: lo.n, nLarge: hi.n, layouts: `${lo.tableIn} → ${hi.tableIn}${hi.shards > 1 ? ` (${hi.shards} shards)` : ''}`, stepRatio: +(hi.stepMs / lo.stepMs).toFixed(2), cpuRatio: +(hi.stepCpuMs / lo.stepCpuMs).toFixed(2) });
      // the same two sizes side by side in one process (the ratio the step target is judged by)
      const pair = await runInChild<PairRecord>(import.meta.url, PAIR_FLAG, [lo.n, hi.n, d, pairRounds]);
      emit({ bench: 'scale.pair', ...pair, goal: '<= 2', met: pair.stepRatio <= 2 });
    }
  }
}

if (process.argv[2] === FLAG) {
  const [n, d, steps, evalB] = process.argv.slice(3, 7).map(Number) as [number, number, number, number];
  sendToParent(await child(n, d, steps, evalB));
} else if (process.argv[2] === PAIR_FLAG) {
  const [nSmall, nLarge, d, rounds] = process.argv.slice(3, 7).map(Number) as [number, number, number, number];
  sendToParent(await pairChild(nSmall, nLarge, d, rounds));
}
