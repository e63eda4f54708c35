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
 * Kernels: every sampler, the exact baseline included, runs on the active kernel set (`kernels` in
 * every line: the plain-TS reference unless a caller installs others). The tree samplers' node and
 * leaf scoring is their own plain-TS code either way, so with faster kernels installed only the
 * exact sampler (and MIDX) would speed up.
 *
 * Timing: every figure is the process CPU time (user + system) of the timed section, so other
 * load on the machine inflates it less than wall time (the code is single-threaded); `wallMs` is
 * also given. Draws are timed as the best of 3 runs (the exact sampler: best of 2); build and
 * update once.
 * The exact sampler (`ExactSampler`, all n logits per query) is measured on fewer queries at
 * large n (its cost per query is fixed, so draws/s does not depend on B). Prints one JSON object
 * per line (`bench` names `adaptive.<sampler>` and `adaptive.target.<target>.<sampler>`).
 *
 * Usage: `npm run bench -- --filter TEXT` or `node dist/bench/adaptive.js [--filter] TEXT`;
 * a case runs when `adaptive.<sampler> n=<n> d=<d>` contains TEXT (e.g. `midx`, `n=10000 `, `d=64`).
 * @module
 */
import { ClassTable } from '../src/core/classTable.js';
import { matrix, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { kernels } from '../src/kernels/index.js';
import { ExactSampler } from '../src/samplers/exact.js';
import { MidxSampler } from '../src/samplers/midx.js';
import { QuadraticDenseSampler, QuadraticTreeSampler } from '../src/samplers/quadratic.js';
import { RffSampler } from '../src/samplers/rff.js';
import type { Sampler } from '../src/samplers/types.js';
import { cpuTimed as timed, emit, peakRssMB } from './util.js';

const M = 100;
const B = 256;
const NS = [1e4, 1e5, 1e6];
const DS = [64, 128];

const round = (x: number, digits = 1): number => +x.toFixed(digits);

function queries(rows: number, d: number, seed: number): Matrix {
  const q = matrix(rows, d);
  Rng.fromSeed(seed, 7).fillNormal(q.data);
  return q;
}

interface Case {
  label: string;
  make: () => Sampler;
  /** The targets the case is held to: the tree's per-draw growth, midx's memory, or none. */
  targets: 'tree' | 'memory' | 'none';
}

const CASES: Case[] = [
  { label: 'quadratic', make: () => new QuadraticTreeSampler(), targets: 'tree' },
  { label: 'quadratic-dense', make: () => new QuadraticDenseSampler(), targets: 'none' },
  { label: 'rff', make: () => new RffSampler(), targets: 'tree' },
  { label: 'midx-pq', make: () => new MidxSampler({ codebook: 'pq' }), targets: 'memory' },
  { label: 'midx-rq', make: () => new MidxSampler({ codebook: 'rq' }), targets: 'memory' },
];

/**
 * Runs the benchmark; `filter` keeps the cases whose label `adaptive.<sampler> n=<n> d=<d>`
 * contains it (e.g. `adaptive`, `midx`, `quadratic n=10000 `, `d=64`).
 */
export async function run(filter?: string): Promise<void> {
  const keep = (label: string, n: number, d: number): boolean => !filter || `adaptive.${label} n=${n} d=${d}`.includes(filter);
  const common = { B, m: M, threads: 1, kernels: kernels.name, timing: 'cpu' };
  const usPerDraw = new Map<string, number>();
  const exactRate = new Map<string, number>();
  const rate = new Map<string, number>();
  const memRatio = new Map<string, number>();
  for (const d of DS) {
    for (const n of NS) {
      const cases = CASES.filter((c) => keep(c.label, n, d));
      if (cases.length === 0 && !keep('exact', n, d)) continue;
      const table = ClassTable.init(n, d, Rng.fromSeed(n + d), { init: 'normal' });
      const q = queries(B, d, 1);
      // the exact sampler, needed for every ratio at this (n, d); fewer queries at large n
      const exact = new ExactSampler();
      exact.build(table);
      const qe = n >= 1e6 ? queries(16, d, 2) : n >= 1e5 ? queries(64, d, 2) : q;
      exact.sample({ m: M, rng: Rng.fromSeed(1), queries: queries(2, d, 3) }); // warm-up
      const te = timed(() => exact.sample({ m: M, rng: Rng.fromSeed(1), queries: qe }), 2);
      const er = (qe.rows * M) / (te.ms / 1000);
      exactRate.set(`${n}/${d}`, er);
      emit({
        bench: 'adaptive.exact',
        n,
        d,
        ...common,
        B: qe.rows,
        ms: round(te.ms),
        wallMs: round(te.wallMs),
        usPerDraw: round((te.ms * 1000) / (qe.rows * M), 3),
        drawsPerSec: Math.round(er),
        peakRssMB: peakRssMB(),
      });
      for (const c of cases) {
        const sampler = c.make();
        const tb = timed(() => sampler.build(table));
        sampler.sample({ m: M, rng: Rng.fromSeed(9), queries: queries(8, d, 4) }); // warm-up
        const ts = timed(() => sampler.sample({ m: M, rng: Rng.fromSeed(10), queries: q }), 3);
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
          for (let x = 0; x < d; x++) table.weights[ids[j]! * d + x] += (0.05 * rng.normal()) / Math.sqrt(d);
        }
        const tu = timed(() => sampler.update(ids));
        const mem = sampler.stats().memoryBytes as number;
        memRatio.set(key, mem / table.byteLength);
        emit({
          bench: `adaptive.${c.label}`,
          n,
          d,
          ...common,
          ms: round(ts.ms),
          wallMs: round(ts.wallMs),
          usPerDraw: round((ts.ms * 1000) / (B * M), 3),
          drawsPerSec: Math.round(dps),
          ratioToExact: round(dps / er),
          buildMs: Math.round(tb.ms),
          updateMs: round(tu.ms),
          updatedRows: k,
          memoryBytes: mem,
          tableBytes: table.byteLength,
          memoryRatio: round(mem / table.byteLength, 4),
          peakRssMB: peakRssMB(),
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
        emit({ bench: `adaptive.target.drawsVsExact.${c.label}`, n: 1e6, d, m: M, goal: '>= 100', ratio: round(ratio), met: ratio >= 100 });
      }
      const a = usPerDraw.get(`${c.label}/10000/${d}`);
      const b = usPerDraw.get(`${c.label}/1000000/${d}`);
      if (c.targets === 'tree' && a !== undefined && b !== undefined) {
        emit({ bench: `adaptive.target.perDrawGrowth.${c.label}`, n: '1e4 -> 1e6', d, m: M, goal: '<= 2', ratio: round(b / a, 2), met: b / a <= 2 });
      }
      if (c.targets === 'memory') {
        for (const n of NS) {
          const r = memRatio.get(`${c.label}/${n}/${d}`);
          if (r !== undefined) {
            emit({ bench: `adaptive.target.memory.${c.label}`, n, d, goal: '<= 0.25', ratio: round(r, 4), met: r <= 0.25 });
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
