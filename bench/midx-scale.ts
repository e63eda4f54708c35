/**
 * MIDX at scale, on the fast kernels (`initFastKernels()`, both cores in its pool). Prints one
 * JSON object per line:
 * - `midxscale.build`: cold build (k-means++ and Lloyd steps on the `trainSample` rows, then every
 *   row assigned block by block) of the default `rq` index and of a `pq` one, K = 64, for each size
 *   of `MIDX_BUILD_SIZES` (default `1e6x128`; e.g. `MIDX_BUILD_SIZES=1e6x128,1e7x128`), with the
 *   table init time and the peak RSS;
 * - `midxscale.softmaxVsUniform`: per-batch cost (B = 256, m = 100, K = 64, n = 10^6, d = 128) of the
 *   `softmax` and `uniform` last stages, with the table in kernel memory (`tableInKernelMemory`)
 *   and in JS memory, and their ratio; with the softmax stage's work per batch (pairs, dots,
 *   GFLOP, the class rows its buckets hold) and the CPU time of only reading those rows once
 *   (`rowReadCpuMs`, one thread), the floor of any one-thread implementation;
 * - `midxscale.draws`: draws per second of `pq` / `uniform` (B = 256, m = 100) with 1 and 2
 *   threads (the `threads` option) at n = 10^6, d = 64, K = 16 and n = 10^5, d = 128, K = 64;
 * - `midxscale.refresh`: one step's `update(ids)` of the B·(m+1) rows a step of B = 256, m = 100
 *   touches, against a warm rebuild (`build` again), at n = 10^5 and 10^6, d = 128, K = 64, and
 *   the number of steps from which periodic rebuilds cost less than per-step updates.
 * Times are wall milliseconds (median of the repetitions) unless named `cpu…` (process CPU time,
 * less inflated by other load but summing both threads). Usage:
 * `npm run bench -- --filter midxscale` (or `.build`, `.softmax`, `.draws`, `.refresh`).
 * @module
 */
import { ClassTable } from '../src/core/classTable.js';
import { matrix, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { initFastKernels, tableInKernelMemory, type FastKernels } from '../src/kernels/fast.js';
import { MidxSampler, type MidxCodebook, type MidxStage } from '../src/samplers/midx.js';
import '../src/samplers/midxThreads.js';
import { emit, peakRssMB } from './util.js';

const B = 256;
const M = 100;
const round = (x: number, digits = 1): number => +x.toFixed(digits);

function queries(rows: number, d: number, seed: number): Matrix {
  const q = matrix(rows, d);
  Rng.fromSeed(seed, 7).fillNormal(q.data);
  return q;
}

/** `[n, d]` pairs of a `1e6x128,1e7x64` list. */
function sizes(spec: string): Array<[number, number]> {
  return spec.split(',').filter((s) => s.trim() !== '').map((s) => {
    const [n, d] = s.trim().split('x').map(Number);
    if (!(n! >= 1) || !(d! >= 1)) throw new Error(`MIDX_BUILD_SIZES: cannot read '${s}', write e.g. 1e6x128`);
    return [Math.round(n!), Math.round(d!)];
  });
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median wall ms and least CPU ms of `reps` runs of `f` after `warm` runs. */
function time(f: () => void, reps: number, warm = 1): { ms: number; cpuMs: number } {
  for (let i = 0; i < warm; i++) f();
  const wall: number[] = [];
  let cpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    f();
    wall.push(performance.now() - t0);
    cpu = Math.min(cpu, cpuMs() - c0);
  }
  wall.sort((a, b) => a - b);
  return { ms: wall[Math.floor(wall.length / 2)]!, cpuMs: cpu };
}

/**
 * A class table with a bias: `ClassTable.init` (normal rows) up to 10^6 rows; above, a cheap
 * deterministic fill (uniform rows of the same variance from an inline xorshift), so that the
 * build of a 10^7-row table is measured without minutes of table init.
 */
function initTable(n: number, d: number): { table: ClassTable; initMs: number; fill: string } {
  const t0 = performance.now();
  if (n <= 1e6) {
    const table = ClassTable.init(n, d, Rng.fromSeed(n + d), { init: 'normal' });
    return { table, initMs: performance.now() - t0, fill: 'ClassTable.init normal' };
  }
  const w = new Float32Array(n * d);
  const a = Math.sqrt(3 / d) / 2147483648;
  let x = (n + d) | 1;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = (x | 0) * a;
  }
  return { table: new ClassTable(n, d, w, new Float32Array(n)), initMs: performance.now() - t0, fill: 'uniform xorshift' };
}

function benchBuild(fast: FastKernels, n: number, d: number): void {
  const { table, initMs, fill } = initTable(n, d);
  for (const codebook of ['rq', 'pq'] as MidxCodebook[]) {
    const s = new MidxSampler({ codebook, codewords: 64 });
    const t0 = performance.now();
    const c0 = cpuMs();
    s.build(table);
    const ms = performance.now() - t0;
    const st = s.stats();
    emit({
      bench: 'midxscale.build', n, d, codebook, K: 64, kernels: fast.kernels.name, fill, initMs: Math.round(initMs), buildMs: Math.round(ms),
      cpuMs: Math.round(cpuMs() - c0), trainSample: 256 * 64, nonEmptyBuckets: st.nonEmptyBuckets, maxBucketSize: st.maxBucketSize,
      goal: n >= 1e7 && d >= 128 ? '<= 30000 ms' : undefined, met: n >= 1e7 && d >= 128 ? ms <= 30000 : undefined, peakRssMB: peakRssMB(),
    });
  }
}

function perBatch(s: MidxSampler, q: Matrix, reps: number): { ms: number; cpuMs: number } {
  let seed = 1;
  return time(() => void s.sample({ m: M, rng: Rng.fromSeed(seed++), queries: q }), reps);
}

/**
 * The work of one softmax-stage batch (`seed` 1 of {@link perBatch}): the (query, bucket) pairs,
 * the dots (each pair scores every class of its bucket), the class rows the touched buckets hold
 * (each read at least once per batch), and the least time of reading one word of every cache
 * line of those rows, bucket by bucket in CSR order (what the dots cannot go below on one thread).
 */
function softmaxWork(s: MidxSampler, t: ClassTable, q: Matrix): Record<string, number> {
  const n = t.n;
  const d = t.d;
  const K = 64;
  const draws = s.sample({ m: M, rng: Rng.fromSeed(1), queries: q });
  const bucketOf = new Int32Array(n);
  const size = new Int32Array(K * K);
  for (let i = 0; i < n; i++) {
    const [k1, k2] = s.codesOf(i);
    bucketOf[i] = k1 * K + k2;
    size[k1 * K + k2]!++;
  }
  const off = new Int32Array(K * K + 1);
  for (let b = 0; b < K * K; b++) off[b + 1] = off[b]! + size[b]!;
  const pos = off.slice(0, K * K);
  const rowsOf = new Int32Array(n);
  for (let i = 0; i < n; i++) rowsOf[pos[bucketOf[i]!]!++] = i;
  const touched = new Uint8Array(K * K);
  const seen = new Int32Array(K * K).fill(-1);
  let pairs = 0;
  let dots = 0;
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < M; j++) {
      const b = bucketOf[draws.ids[r * M + j]!]!;
      if (seen[b] === r) continue;
      seen[b] = r;
      touched[b] = 1;
      pairs++;
      dots += size[b]!;
    }
  }
  let rows = 0;
  for (let b = 0; b < K * K; b++) if (touched[b]) rows += size[b]!;
  const w = new Int32Array(t.weights.buffer, t.weights.byteOffset, n * d);
  const step = 16; // one word per 64-byte line
  let readMs = Infinity;
  let acc = 0;
  for (let rep = 0; rep < 3; rep++) {
    const c0 = cpuMs();
    for (let b = 0; b < K * K; b++) {
      if (!touched[b]) continue;
      for (let p = off[b]!; p < off[b + 1]!; p++) {
        const o = rowsOf[p]! * d;
        for (let k = 0; k < d; k += step) acc ^= w[o + k]!;
      }
    }
    readMs = Math.min(readMs, cpuMs() - c0);
  }
  if (acc === 0x7fffffff) console.log(''); // keeps the reads
  return {
    pairs, dotsPerBatch: dots, gflopPerBatch: round((2 * dots * d) / 1e9, 2), touchedRows: rows,
    touchedMB: Math.round((rows * d * 4) / 2 ** 20), rowReadCpuMs: round(readMs),
  };
}

function benchSoftmax(fast: FastKernels, table: ClassTable): void {
  const n = table.n;
  const d = table.d;
  const q = queries(B, d, 1);
  const placed = { kernelMemory: tableInKernelMemory(fast, table), jsMemory: table };
  for (const [where, t] of Object.entries(placed)) {
    const res: Partial<Record<MidxStage, { ms: number; cpuMs: number }>> = {};
    let work: Record<string, number> = {};
    for (const stage of ['uniform', 'softmax'] as MidxStage[]) {
      const s = new MidxSampler({ codewords: 64, stage });
      s.build(t);
      res[stage] = perBatch(s, q, stage === 'softmax' ? 5 : 15);
      if (stage === 'softmax') work = softmaxWork(s, t, q);
    }
    const u = res.uniform!;
    const sm = res.softmax!;
    emit({
      bench: 'midxscale.softmaxVsUniform', n, d, B, m: M, K: 64, codebook: 'rq', table: where, kernels: fast.kernels.name,
      uniformMs: round(u.ms), softmaxMs: round(sm.ms), ratio: round(sm.ms / u.ms), uniformCpuMs: round(u.cpuMs), softmaxCpuMs: round(sm.cpuMs),
      cpuRatio: round(sm.cpuMs / u.cpuMs), goal: '<= 3', met: sm.ms / u.ms <= 3,
      ...work, dotsGflopsPerCpuS: round(work['gflopPerBatch']! / (sm.cpuMs / 1000)), rowReadVsUniform: round(work['rowReadCpuMs']! / u.cpuMs),
    });
    if (t !== table) fast.free(t.weights), t.bias && fast.free(t.bias);
  }
}

async function benchDraws(fast: FastKernels, n: number, d: number, K: number, goal: number): Promise<void> {
  const { table } = initTable(n, d);
  const q = queries(B, d, 2);
  const ids: Labels = { ids: new Int32Array(B), offsets: Int32Array.from({ length: B + 1 }, (_, r) => r) };
  for (const threads of [1, 2]) {
    const s = new MidxSampler({ codebook: 'pq', codewords: K, threads });
    s.build(table);
    let seed = 1;
    const t = time(() => void s.sampleWithLogQ({ m: M, rng: Rng.fromSeed(seed++), queries: q, rowStreams: true }, ids), 30, 5);
    const dps = (B * M) / (t.ms / 1000);
    emit({
      bench: 'midxscale.draws', n, d, K, B, m: M, codebook: 'pq', stage: 'uniform', threads, kernels: fast.kernels.name,
      msPerBatch: round(t.ms, 2), drawsPerSec: Math.round(dps), cpuMsPerBatch: round(t.cpuMs, 2),
      ...(threads === 2 ? { goal: `>= ${goal}`, met: dps >= goal } : {}),
    });
    await s.close();
  }
}

function benchRefresh(fast: FastKernels, table: ClassTable): void {
  const n = table.n;
  const d = table.d;
  const s = new MidxSampler({ codewords: 64 });
  s.build(table);
  const rng = Rng.fromSeed(5);
  const touched = B * (M + 1);
  const ids = new Int32Array(touched);
  for (let j = 0; j < touched; j++) ids[j] = rng.int(n);
  const step = (): void => {
    // a training step moves the touched rows a little
    for (let j = 0; j < touched; j++) {
      const i = ids[j]!;
      for (let x = 0; x < d; x++) table.weights[i * d + x] += (0.01 * rng.normal()) / Math.sqrt(d);
    }
  };
  const upd: number[] = [];
  for (let r = 0; r < 3; r++) {
    step();
    const t0 = performance.now();
    s.update(ids);
    upd.push(performance.now() - t0);
  }
  upd.sort((a, b) => a - b);
  const t0 = performance.now();
  s.build(table);
  const rebuildMs = performance.now() - t0;
  const updateMs = upd[1]!;
  emit({
    bench: 'midxscale.refresh', n, d, K: 64, codebook: 'rq', kernels: fast.kernels.name, rowsPerStep: touched,
    updateMs: round(updateMs), warmRebuildMs: round(rebuildMs),
    rebuildEveryBreakEven: Math.max(1, Math.ceil(rebuildMs / Math.max(updateMs, 1e-3))),
  });
}

/** Runs the cases whose name `midxscale.<case>` contains `filter`. */
export async function run(filter?: string): Promise<void> {
  const keep = (name: string): boolean => !filter || `midxscale.${name}`.includes(filter);
  if (!['build', 'softmaxVsUniform', 'draws', 'refresh'].some(keep)) return;
  const fast = await initFastKernels();
  try {
    if (keep('build')) for (const [n, d] of sizes(process.env['MIDX_BUILD_SIZES'] ?? '1e6x128')) benchBuild(fast, n, d);
    if (keep('softmaxVsUniform') || keep('refresh')) {
      const { table } = initTable(1e6, 128);
      if (keep('softmaxVsUniform')) benchSoftmax(fast, table);
      if (keep('refresh')) {
        benchRefresh(fast, initTable(1e5, 128).table);
        benchRefresh(fast, table);
      }
    }
    if (keep('draws')) {
      await benchDraws(fast, 1e6, 64, 16, 3.5e6);
      await benchDraws(fast, 1e5, 128, 64, 1.5e6);
    }
  } finally {
    await fast.close();
  }
}

const invoked = process.argv[1] ?? '';
if (invoked.endsWith('bench/midx-scale.js')) {
  const args = process.argv.slice(2).filter((a) => a !== '--filter');
  await run(args[0]);
}
