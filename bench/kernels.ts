/**
 * Benchmarks of the dense kernels: plain TS vs WebAssembly (SIMD128 and relaxed-SIMD FMA builds)
 * on 1 thread vs the worker pool (2 workers by default, `SAMPLEX_BENCH_THREADS` to change).
 *
 * - `kernels.gemm`: `[B,d]·[n,d]ᵀ` with B = 1024, d = 128, n = 50 000 (GFLOP/s = 2·B·n·d / time);
 * - `kernels.fused`: fused full-softmax evaluation (log-sum-exp + top-10) at the same shape;
 * - `kernels.fusedFew`: fused evaluation of B = 4 queries against n = 500 000 classes, where the
 *   pool splits the classes (its `ratio` is over the 1-thread wasm figure, not over TS);
 * - `kernels.sampled`: the dense part of a sampled-loss step at B = 256, m = 100, d = 128
 *   (gathered logits, query gradient, scatter of class-row gradients: 3 × 2·B·m·d flops), with
 *   per-query draws (B·m random rows of a 100 000-row table: memory-bound) and with shared draws;
 * - `kernels.others` (`kernels.accumGradQueries`, `kernels.accumGradClasses`, `kernels.kmeansAssign`,
 *   `kernels.nodeScores`): the remaining kernels at moderate sizes;
 * - `kernels.fusedPeakRss`: peak RSS of the pooled fused evaluator at B = 256, n = 10^6, d = 128
 *   (separate process), next to the table size and the size `B·n` logits would take;
 * - `kernels.evaluator`: the library's `evaluate` (B = 128, n = 50 000) with TS vs wasm kernels installed.
 *
 * Every line carries `ms`/`gflops` (median), `msBest`/`gflopsBest` (fastest repetition),
 * `gflopsPerCpu` (per CPU-second of all the process's threads), `load1` (load average), and
 * `ratio` = median GFLOP/s over the TS kernel's median GFLOP/s of the same shape in the same run.
 * The TS GEMM and fused evaluation are timed on the first `tsRows` queries only (the cost is
 * linear in B; the row count is in `parameters`). Arrays live in wasm memory (zero-copy).
 * Prints one JSON object per line.
 * @module
 */
import { loadavg } from 'node:os';
import { runInChild, sendToParent } from './util.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { evaluate } from '../src/layer/evaluator.js';
import { useKernels } from '../src/kernels/index.js';
import * as ref from '../src/kernels/ref.js';
import { detectFeatures, initFastKernels, type FastKernels, type KernelPath } from '../src/kernels/fast.js';

/** Wall times of repetitions of `fn` (after a warm-up) filling about `budgetMs`, at least 3. */
interface Timing {
  /** Median ms. */
  ms: number;
  /** Fastest ms (least disturbed by other processes on a shared machine). */
  best: number;
  /** Process CPU ms (all threads) per repetition, on average. */
  cpuMs: number;
}

async function timeMs(fn: () => unknown, budgetMs = 1500): Promise<Timing> {
  await fn(); // warm-up (JIT, wasm tier-up, page faults)
  const times: number[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (times.length < 3 || (performance.now() - t0 < budgetMs && times.length < 50)) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  const cpu = process.cpuUsage(c0);
  times.sort((a, b) => a - b);
  return { ms: times[times.length >> 1]!, best: times[0]!, cpuMs: (cpu.user + cpu.system) / 1000 / times.length };
}

/**
 * Prints one line; `ratio` compares median GFLOP/s with `baseGflops` (the TS kernel's). Returns
 * median GFLOP/s. `gflopsPerCpu` is GFLOP per CPU-second of the process (all threads): on a
 * machine shared with other jobs it shows what a core delivers while it runs this code.
 */
function emit(bench: string, parameters: Record<string, unknown>, flops: number, t: Timing, baseGflops?: number): number {
  const gflops = flops / (t.ms * 1e6);
  // load1: the machine's 1-minute load average, to spot runs disturbed by other processes
  const line: Record<string, unknown> = {
    bench, parameters, ms: +t.ms.toFixed(2), gflops: +gflops.toFixed(2),
    msBest: +t.best.toFixed(2), gflopsBest: +(flops / (t.best * 1e6)).toFixed(2),
    gflopsPerCpu: +(flops / (t.cpuMs * 1e6)).toFixed(2), load1: +loadavg()[0]!.toFixed(2),
  };
  if (baseGflops !== undefined) line.ratio = +(gflops / baseGflops).toFixed(2);
  console.log(JSON.stringify(line));
  return gflops;
}

function fill(x: Float32Array, rng: Rng): Float32Array {
  rng.fillNormal(x, 0.1);
  return x;
}

async function gemm(paths: FastKernels[], threads: number): Promise<void> {
  const B = 1024;
  const n = 50_000;
  const d = 128;
  const tsRows = 32;
  const rng = Rng.fromSeed(1);
  const a = fill(new Float32Array(B * d), rng);
  const c = fill(new Float32Array(n * d), rng);
  const out = new Float32Array(tsRows * n);
  const msTs = await timeMs(() => ref.matmulNT(a, tsRows, c, 0, n, d, out), 500);
  const base = emit('kernels.gemm', { B, n, d, impl: 'ts', threads: 1, tsRows }, 2 * tsRows * n * d, msTs);
  for (const fk of paths) {
    const wa = fk.allocF32(B * d);
    wa.set(a);
    const wc = fk.allocF32(n * d);
    wc.set(c);
    const wo = fk.allocF32(B * n);
    const ms1 = await timeMs(() => fk.kernels.matmulNT(wa, B, wc, 0, n, d, wo));
    emit('kernels.gemm', { B, n, d, impl: fk.kernels.name, threads: 1 }, 2 * B * n * d, ms1, base);
    const msP = await timeMs(() => fk.pool.matmulNT(wa, B, wc, 0, n, d, wo));
    emit('kernels.gemm', { B, n, d, impl: fk.kernels.name, threads }, 2 * B * n * d, msP, base);
    fk.free(wo);
    fk.free(wc);
    fk.free(wa);
  }
}

async function fused(paths: FastKernels[], threads: number): Promise<void> {
  const B = 1024;
  const n = 50_000;
  const d = 128;
  const k = 10;
  const tsRows = 16;
  const rng = Rng.fromSeed(2);
  const a = fill(new Float32Array(B * d), rng);
  const c = fill(new Float32Array(n * d), rng);
  const bias = fill(new Float32Array(n), rng);
  const lse = new Float64Array(B);
  const ids = new Int32Array(B * k);
  const sc = new Float32Array(B * k);
  const msTs = await timeMs(() => ref.fusedSoftmaxTopK(a, tsRows, c, bias, n, d, k, lse, ids, sc), 500);
  const base = emit('kernels.fused', { B, n, d, k, impl: 'ts', threads: 1, tsRows }, 2 * tsRows * n * d, msTs);
  for (const fk of paths) {
    const wa = fk.allocF32(B * d);
    wa.set(a);
    const wc = fk.allocF32(n * d);
    wc.set(c);
    const wb = fk.allocF32(n);
    wb.set(bias);
    const ms1 = await timeMs(() => fk.kernels.fusedSoftmaxTopK(wa, B, wc, wb, n, d, k, lse, ids, sc));
    emit('kernels.fused', { B, n, d, k, impl: fk.kernels.name, threads: 1 }, 2 * B * n * d, ms1, base);
    const msP = await timeMs(() => fk.pool.fusedSoftmaxTopK(wa, B, wc, wb, n, d, k, lse, ids, sc));
    emit('kernels.fused', { B, n, d, k, impl: fk.kernels.name, threads }, 2 * B * n * d, msP, base);
    fk.free(wb);
    fk.free(wc);
    fk.free(wa);
  }
}

/** Fused evaluation of a few queries against many classes: the pool splits the classes. */
async function fusedFew(paths: FastKernels[], threads: number): Promise<void> {
  const [B, n, d, k] = [4, 500_000, 128, 10];
  const rng = Rng.fromSeed(7);
  const a = fill(new Float32Array(B * d), rng);
  const chunk = fill(new Float32Array(1 << 20), rng);
  const lse = new Float64Array(B);
  const ids = new Int32Array(B * k);
  const sc = new Float32Array(B * k);
  const params = { B, n, d, k };
  for (const fk of paths) {
    const wa = fk.allocF32(B * d);
    wa.set(a);
    const wc = fk.allocF32(n * d);
    for (let o = 0; o < wc.length; o += chunk.length) wc.set(chunk.subarray(0, Math.min(chunk.length, wc.length - o)), o);
    const one = emit('kernels.fusedFew', { ...params, impl: fk.kernels.name, threads: 1 }, 2 * B * n * d,
      await timeMs(() => fk.kernels.fusedSoftmaxTopK(wa, B, wc, null, n, d, k, lse, ids, sc), 500));
    emit('kernels.fusedFew', { ...params, impl: fk.kernels.name, threads }, 2 * B * n * d,
      await timeMs(() => fk.pool.fusedSoftmaxTopK(wa, B, wc, null, n, d, k, lse, ids, sc), 500), one);
    fk.free(wc);
    fk.free(wa);
  }
}

async function sampled(paths: FastKernels[]): Promise<void> {
  const B = 256;
  const m = 100;
  const d = 128;
  const n = 100_000;
  const rng = Rng.fromSeed(3);
  const h = fill(new Float32Array(B * d), rng);
  const c = fill(new Float32Array(n * d), rng);
  const g = fill(new Float32Array(B * m), rng);
  for (const shared of [false, true]) {
    // per-query: B·m random rows, each its own gradient row; shared: m rows for the whole batch
    const len = shared ? m : B * m;
    const ids = new Int32Array(len);
    for (let e = 0; e < len; e++) ids[e] = rng.int(n);
    const slots = Int32Array.from({ length: len }, (_, e) => e);
    const flops = 3 * 2 * B * m * d;
    type K = Pick<FastKernels['kernels'], 'gatherDot' | 'gatherAccumGradQueries' | 'scatterAddRows'>;
    const step = (k: K, x: { h: Float32Array; c: Float32Array; g: Float32Array; ids: Int32Array; slots: Int32Array },
      logits: Float32Array, gq: Float32Array, gc: Float32Array) => () => {
      k.gatherDot(x.h, B, x.c, d, x.ids, m, shared, logits);
      k.gatherAccumGradQueries(x.g, B, x.c, d, x.ids, m, shared, gq);
      k.scatterAddRows(x.g, B, x.h, d, x.slots, m, shared, gc);
    };
    const params = { B, m, d, n, shared };
    const msTs = await timeMs(step(ref, { h, c, g, ids, slots }, new Float32Array(B * m), new Float32Array(B * d), new Float32Array(len * d)), 500);
    const base = emit('kernels.sampled', { ...params, impl: 'ts', threads: 1 }, flops, msTs);
    for (const fk of paths) {
      const put = <T extends Float32Array | Int32Array>(x: T): T => {
        const y = (x instanceof Float32Array ? fk.allocF32(x.length) : fk.allocI32(x.length)) as T;
        y.set(x as never);
        return y;
      };
      const x = { h: put(h), c: put(c), g: put(g), ids: put(ids), slots: put(slots) };
      const out = [fk.allocF32(B * m), fk.allocF32(B * d), fk.allocF32(len * d)] as const;
      const ms = await timeMs(step(fk.kernels, x, ...out));
      emit('kernels.sampled', { ...params, impl: fk.kernels.name, threads: 1 }, flops, ms, base);
      for (const a of [...out, x.slots, x.ids, x.g, x.c, x.h]) fk.free(a);
    }
  }
}

/**
 * The remaining kernels at moderate sizes, 1 thread (k-means also on the pool): dense gradient
 * accumulation for a block of logits, k-means assignment, kernel-tree node scores (float64).
 */
async function others(paths: FastKernels[], threads: number, filter: string | undefined): Promise<void> {
  const rng = Rng.fromSeed(5);
  const B = 256;
  const nb = 1024;
  const d = 128;
  const g = fill(new Float32Array(B * nb), rng);
  const c = fill(new Float32Array(nb * d), rng);
  const h = fill(new Float32Array(B * d), rng);
  const np = 20_000;
  const kc = 256;
  const dk = 64;
  const x = fill(new Float32Array(np * dk), rng);
  const cent = fill(new Float32Array(kc * dk), rng);
  const count = 4096;
  const D = 256;
  const phi = Float64Array.from(fill(new Float32Array(D), rng));
  const nodes = Float64Array.from(fill(new Float32Array(count * D), rng));
  type Case = { bench: string; params: Record<string, number>; flops: number; run: (k: FastKernels['kernels'], put: <T extends Float32Array | Float64Array | Int32Array>(v: T) => T) => () => void };
  const cases: Case[] = [
    { bench: 'kernels.accumGradQueries', params: { B, cRows: nb, d }, flops: 2 * B * nb * d,
      run: (k, put) => { const a = [put(g), put(c), put(new Float32Array(B * d))] as const; return () => k.accumGradQueries(a[0], B, a[1], 0, nb, d, a[2]); } },
    { bench: 'kernels.accumGradClasses', params: { B, cRows: nb, d }, flops: 2 * B * nb * d,
      run: (k, put) => { const a = [put(g), put(h), put(new Float32Array(nb * d))] as const; return () => k.accumGradClasses(a[0], B, nb, a[1], d, a[2]); } },
    { bench: 'kernels.kmeansAssign', params: { n: np, kc, d: dk }, flops: 2 * np * kc * dk,
      run: (k, put) => { const a = [put(x), put(cent), put(new Int32Array(np)), put(new Float32Array(np))] as const; return () => k.kmeansAssign(a[0], np, a[1], kc, dk, a[2], a[3]); } },
    { bench: 'kernels.nodeScores', params: { count, D }, flops: 2 * count * D,
      run: (k, put) => { const a = [put(phi), put(nodes), put(new Float64Array(count))] as const; return () => k.nodeScores(a[0], a[1], count, D, a[2]); } },
  ];
  const plain = <T extends Float32Array | Float64Array | Int32Array>(v: T): T => v;
  for (const cs of cases) {
    if (filter && !cs.bench.includes(filter) && !'kernels.others'.includes(filter)) continue;
    const base = emit(cs.bench, { ...cs.params, impl: 'ts', threads: 1 }, cs.flops, await timeMs(cs.run(ref as unknown as FastKernels['kernels'], plain), 500));
    for (const fk of paths) {
      const put = <T extends Float32Array | Float64Array | Int32Array>(v: T): T => {
        const y = (v instanceof Float32Array ? fk.allocF32(v.length) : v instanceof Float64Array ? fk.allocF64(v.length) : fk.allocI32(v.length)) as T;
        y.set(v as never);
        return y;
      };
      emit(cs.bench, { ...cs.params, impl: fk.kernels.name, threads: 1 }, cs.flops, await timeMs(cs.run(fk.kernels, put), 500), base);
      if (cs.bench === 'kernels.kmeansAssign') {
        const a = [put(x), put(cent), put(new Int32Array(np)), put(new Float32Array(np))] as const;
        emit(cs.bench, { ...cs.params, impl: fk.kernels.name, threads }, cs.flops,
          await timeMs(() => fk.pool.kmeansAssign(a[0], np, a[1], kc, dk, a[2], a[3]), 500), base);
      }
    }
  }
}

/**
 * The library's streaming evaluator (`evaluate`, which calls `kernels.matmulNT` per class block on
 * plain arrays, so each block is staged into wasm memory) with the TS vs the wasm kernels installed.
 */
async function evaluator(paths: FastKernels[]): Promise<void> {
  const B = 128;
  const n = 50_000;
  const d = 128;
  const rng = Rng.fromSeed(4);
  const table = ClassTable.init(n, d, rng, { bias: true });
  const q = matrix(B, d);
  rng.fillNormal(q.data);
  const params = { B, n, d, k: 10 };
  const base = emit('kernels.evaluator', { ...params, impl: 'ts', threads: 1 }, 2 * B * n * d, await timeMs(() => evaluate(q, table), 500));
  for (const fk of paths) {
    const prev = useKernels(fk.kernels);
    try {
      emit('kernels.evaluator', { ...params, impl: fk.kernels.name, threads: 1 }, 2 * B * n * d, await timeMs(() => evaluate(q, table), 500), base);
    } finally {
      useKernels(prev);
    }
  }
}

const RSS_FLAG = '--samplex-kernels-rss-child';
const MB = 1024 * 1024;

/** Child process: the fused evaluator on the pool at n = 10^6; reports RSS before and the peak. */
async function rssChild(B: number, n: number, d: number, k: number, threads: number): Promise<void> {
  const fk = await initFastKernels({ threads, install: false });
  const rng = Rng.fromSeed(6);
  const c = fk.allocF32(n * d);
  const chunk = fill(new Float32Array(1 << 20), rng);
  for (let o = 0; o < c.length; o += chunk.length) c.set(chunk.subarray(0, Math.min(chunk.length, c.length - o)), o);
  const a = fk.allocF32(B * d);
  a.set(fill(new Float32Array(B * d), rng));
  const lse = fk.allocF64(B);
  const ids = fk.allocI32(B * k);
  const sc = fk.allocF32(B * k);
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  await fk.pool.fusedSoftmaxTopK(a, B, c, null, n, d, k, lse, ids, sc);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  await fk.close();
  sendToParent({ before, peak, ms, impl: fk.kernels.name });
}

/** Peak RSS of the pooled fused evaluator at n = 10^6 (separate process). */
async function fusedPeakRss(threads: number): Promise<void> {
  const [B, n, d, k] = [256, 1_000_000, 128, 10];
  const r = await runInChild<{ before: number; peak: number; ms: number; impl: string }>(import.meta.url, RSS_FLAG, [B, n, d, k, threads]);
  console.log(JSON.stringify({
    bench: 'kernels.fusedPeakRss',
    parameters: { B, n, d, k, impl: r.impl, threads },
    peakRssMB: +(r.peak / MB).toFixed(1),
    rssBeforeMB: +(r.before / MB).toFixed(1),
    tableMB: +((n * d * 4) / MB).toFixed(1),
    logitsBxnMB: +((B * n * 4) / MB).toFixed(1),
    ms: +r.ms.toFixed(0),
    gflops: +((2 * B * n * d) / (r.ms * 1e6)).toFixed(2),
    load1: +loadavg()[0]!.toFixed(2),
  }));
}

/** Runs the kernel benchmarks whose name contains `filter` (all when absent). */
export async function run(filter?: string): Promise<void> {
  const otherNames = ['kernels.accumGradQueries', 'kernels.accumGradClasses', 'kernels.kmeansAssign', 'kernels.nodeScores', 'kernels.others'];
  const names = ['kernels.gemm', 'kernels.fused', 'kernels.fusedFew', 'kernels.sampled', ...otherNames, 'kernels.evaluator', 'kernels.fusedPeakRss']
    .filter((b) => !filter || b.includes(filter));
  if (names.length === 0) return;
  const threads = Number(process.env.SAMPLEX_BENCH_THREADS ?? 2);
  const f = await detectFeatures();
  const want: KernelPath[] = f.simd && f.sharedMemory ? ['simd'] : [];
  if (f.relaxedSimd) want.push('fma');
  const paths: FastKernels[] = [];
  for (const path of want) paths.push(await initFastKernels({ path, threads, install: false }));
  try {
    if (names.includes('kernels.gemm')) await gemm(paths, threads);
    if (names.includes('kernels.fused')) await fused(paths, threads);
    if (names.includes('kernels.fusedFew')) await fusedFew(paths, threads);
    if (names.includes('kernels.sampled')) await sampled(paths);
    if (otherNames.some((b) => names.includes(b))) await others(paths, threads, filter);
    if (names.includes('kernels.evaluator')) await evaluator(paths);
    if (names.includes('kernels.fusedPeakRss') && paths.length > 0) await fusedPeakRss(threads);
  } finally {
    for (const fk of paths) await fk.close();
  }
}

if (process.argv[2] === RSS_FLAG) {
  const [B, n, d, k, threads] = process.argv.slice(3, 8).map(Number) as [number, number, number, number, number];
  await rssChild(B, n, d, k, threads);
}
