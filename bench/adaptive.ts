/**
 * Adaptive sampler benchmark. For n ∈ {10^4, 10^5, 10^6}, d ∈ {64, 128}, B = 256 queries and
 * m = 100 draws per query it reports, per sampler (quadratic, rff, midx-pq, midx-rq): draws per
 * second, build time, update time for 1% of the rows and index memory in bytes; and, per (n, d),
 * the draws per second of an exact softmax sampler. Then the target ratios:
 * - every adaptive sampler ≥ 100× the draws/s of the exact sampler at n = 10^6;
 * - the tree samplers' time per draw grows ≤ 2× from n = 10^4 to n = 10^6;
 * - the MIDX index memory ≤ 0.25× the class table's bytes.
 *
 * Data: class rows ~ N(0, 1/d) per coordinate, queries ~ N(0, 1) per coordinate (logits ~ N(0, 1)):
 * a spread-out softmax, the hard case for the trees (the m draws of a query do not concentrate
 * on few subtrees, so they share few node scores).
 *
 * Timing: every figure is the process CPU time (user + system) of the timed section, so other
 * load on the machine does not inflate it (the code is single-threaded); `wallMs` is also given.
 * The exact sampler is measured on fewer queries at large n (its cost per query is fixed, so
 * draws/s does not depend on B). Prints one JSON object per line.
 *
 * Usage: `npm run bench -- --filter TEXT` or `node dist/bench/adaptive.js [--filter] TEXT`;
 * a case runs when `adaptive <sampler> n=<n> d=<d>` contains TEXT (e.g. `midx`, `n=10000 `, `d=64`).
 * @module
 */
import { ClassTable } from '../src/core/classTable.js';
import { matrix, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { kernels } from '../src/kernels/index.js';
import { MidxSampler } from '../src/samplers/midx.js';
import { QuadraticSampler } from '../src/samplers/quadratic.js';
import { RffSampler } from '../src/samplers/rff.js';
import type { Sampler } from '../src/samplers/types.js';

const M = 100;
const B = 256;
const NS = [1e4, 1e5, 1e6];
const DS = [64, 128];
let peakRss = 0;

function rssMB(): number {
  peakRss = Math.max(peakRss, process.memoryUsage().rss / 2 ** 20);
  return Math.round(peakRss);
}

function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: 'adaptive', ...o, peakRssMB: rssMB() }));
}

/** CPU milliseconds (user + system) used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `f` once and returns its CPU and wall milliseconds. */
function timed(f: () => void): { ms: number; wallMs: number } {
  const w0 = performance.now();
  const c0 = cpuMs();
  f();
  return { ms: cpuMs() - c0, wallMs: performance.now() - w0 };
}

const round = (x: number, digits = 1): number => +x.toFixed(digits);

function queries(rows: number, d: number, seed: number): Matrix {
  const q = matrix(rows, d);
  Rng.fromSeed(seed, 7).fillNormal(q.data);
  return q;
}

/**
 * Exact softmax sampling: per block of 8 queries, every logit through `kernels.matmulNT`
 * (class blocks of 8192), then per query a float64 cumulative sum of `exp(o − max)` and `m`
 * binary searches.
 */
function exactSample(t: ClassTable, q: Matrix, m: number, rng: Rng): void {
  const n = t.n;
  const d = t.d;
  const QB = 8;
  const CB = 8192;
  const logits = new Float32Array(QB * n);
  const blk = new Float32Array(QB * CB);
  const cum = new Float64Array(n);
  const ids = new Int32Array(m);
  for (let r0 = 0; r0 < q.rows; r0 += QB) {
    const qb = Math.min(QB, q.rows - r0);
    const a = q.data.subarray(r0 * d, (r0 + qb) * d);
    for (let c0 = 0; c0 < n; c0 += CB) {
      const cnt = Math.min(CB, n - c0);
      kernels.matmulNT(a, qb, t.weights, c0, cnt, d, blk);
      for (let i = 0; i < qb; i++) logits.set(blk.subarray(i * cnt, (i + 1) * cnt), i * n + c0);
    }
    for (let i = 0; i < qb; i++) {
      const o = i * n;
      let mx = -Infinity;
      for (let c = 0; c < n; c++) if (logits[o + c]! > mx) mx = logits[o + c]!;
      let s = 0;
      for (let c = 0; c < n; c++) {
        s += Math.exp(logits[o + c]! - mx);
        cum[c] = s;
      }
      for (let j = 0; j < m; j++) {
        const u = rng.float() * s;
        let lo = 0;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cum[mid]! > u) hi = mid;
          else lo = mid + 1;
        }
        ids[j] = lo;
      }
    }
  }
}

interface Case {
  label: string;
  make: () => Sampler;
  tree: boolean;
}

const CASES: Case[] = [
  { label: 'quadratic', make: () => new QuadraticSampler(), tree: true },
  { label: 'rff', make: () => new RffSampler(), tree: true },
  { label: 'midx-pq', make: () => new MidxSampler({ codebook: 'pq' }), tree: false },
  { label: 'midx-rq', make: () => new MidxSampler({ codebook: 'rq' }), tree: false },
];

/** Runs the benchmark; `filter` keeps the cases whose label `adaptive <sampler> n=<n> d=<d>` contains it. */
export async function run(filter?: string): Promise<void> {
  const keep = (label: string, n: number, d: number): boolean => !filter || `adaptive ${label} n=${n} d=${d}`.includes(filter);
  const usPerDraw = new Map<string, number>();
  const exactRate = new Map<string, number>();
  const rate = new Map<string, number>();
  const memRatio = new Map<string, number>();
  for (const d of DS) {
    for (const n of NS) {
      const cases = CASES.filter((c) => keep(c.label, n, d));
      const wantExact = keep('exact', n, d);
      if (cases.length === 0 && !wantExact) continue;
      const table = ClassTable.init(n, d, Rng.fromSeed(n + d), { init: 'normal' });
      const q = queries(B, d, 1);
      // the exact sampler: needed for every ratio at this (n, d)
      const qe = n >= 1e6 ? queries(16, d, 2) : n >= 1e5 ? queries(64, d, 2) : q;
      exactSample(table, queries(2, d, 3), M, Rng.fromSeed(1)); // warm-up
      const te = timed(() => exactSample(table, qe, M, Rng.fromSeed(1)));
      const er = (qe.rows * M) / (te.ms / 1000);
      exactRate.set(`${n}/${d}`, er);
      emit({
        parameters: { sampler: 'exact', n, d, B: qe.rows, m: M },
        drawsPerSec: Math.round(er),
        usPerDraw: round((te.ms * 1000) / (qe.rows * M), 3),
        ms: round(te.ms),
        wallMs: round(te.wallMs),
      });
      for (const c of cases) {
        const sampler = c.make();
        const tb = timed(() => sampler.build(table));
        sampler.sample({ m: M, rng: Rng.fromSeed(9), queries: queries(8, d, 4) }); // warm-up
        const ts = timed(() => sampler.sample({ m: M, rng: Rng.fromSeed(10), queries: q }));
        const dps = (B * M) / (ts.ms / 1000);
        const key = `${c.label}/${n}/${d}`;
        rate.set(key, dps);
        usPerDraw.set(key, (ts.ms * 1000) / (B * M));
        // update 1% of the rows: perturb them in place, then update(ids)
        const rng = Rng.fromSeed(11);
        const k = Math.max(1, Math.floor(n / 100));
        const ids = new Int32Array(k);
        for (let j = 0; j < k; j++) {
          ids[j] = rng.int(n);
          for (let x = 0; x < d; x++) table.weights[ids[j]! * d + x] += 0.05 * rng.normal() / Math.sqrt(d);
        }
        const tu = timed(() => sampler.update(ids));
        const mem = sampler.stats().memoryBytes as number;
        memRatio.set(key, mem / table.byteLength);
        emit({
          parameters: { sampler: c.label, n, d, B, m: M },
          drawsPerSec: Math.round(dps),
          usPerDraw: round((ts.ms * 1000) / (B * M), 3),
          wallMs: round(ts.wallMs),
          buildMs: Math.round(tb.ms),
          updateMs: round(tu.ms),
          updatedRows: k,
          memoryBytes: mem,
          tableBytes: table.byteLength,
          memoryRatio: round(mem / table.byteLength, 4),
          ratioVsExact: round(dps / er),
          stats: sampler.stats(),
        });
      }
    }
  }
  for (const d of DS) {
    for (const c of CASES) {
      const big = rate.get(`${c.label}/1000000/${d}`);
      const ex = exactRate.get(`1000000/${d}`);
      if (big !== undefined && ex !== undefined) {
        const ratio = big / ex;
        emit({ parameters: { target: 'draws/s ≥ 100× exact at n = 1e6', sampler: c.label, d }, ratio: round(ratio), met: ratio >= 100 });
      }
      const a = usPerDraw.get(`${c.label}/10000/${d}`);
      const b = usPerDraw.get(`${c.label}/1000000/${d}`);
      if (c.tree && a !== undefined && b !== undefined) {
        emit({ parameters: { target: 'time per draw growth n = 1e4 → 1e6 ≤ 2×', sampler: c.label, d }, ratio: round(b / a, 2), met: b / a <= 2 });
      }
      if (!c.tree) {
        for (const n of NS) {
          const r = memRatio.get(`${c.label}/${n}/${d}`);
          if (r !== undefined) {
            emit({ parameters: { target: 'index memory ≤ 0.25× table bytes', sampler: c.label, n, d }, ratio: round(r, 4), met: r <= 0.25 });
          }
        }
      }
    }
  }
}

const invoked = process.argv[1] ?? '';
if (invoked.endsWith('bench/adaptive.js')) {
  const args = process.argv.slice(2).filter((a) => a !== '--filter');
  await run(args[0]);
}
