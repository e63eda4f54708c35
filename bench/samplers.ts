/**
 * Sampler benchmark: draws per second of the static and exact samplers at n = 10^6 classes
 * (d = 128), per-query draws for B queries × m = 100, plus build time. The exact sampler computes
 * all n logits per query, so it is timed on fewer queries; `ratioToExact` compares per-draw rates
 * measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { ClassTable } from '../src/core/classTable.js';
import { matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { kernels } from '../src/kernels/index.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import type { Sampler } from '../src/samplers/types.js';
import { emit, peakRssMB } from './util.js';

const N = 1_000_000;
const D = 128;
const M = 100;

/** Best of `reps` timings (ms) of drawing `rows × m` ids. */
function timeDraws(s: Sampler, rows: number, rng: Rng, reps: number, queries: ReturnType<typeof matrix> | null): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    s.sample({ m: M, rng, rows, queries: queries ?? undefined });
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Runs the sampler benchmarks whose name contains `filter` (all when omitted). */
export async function run(filter?: string): Promise<void> {
  const want = (name: string): boolean => !filter || name.includes(filter);
  const rng = Rng.fromSeed(2024);
  // Zipf-like counts in shuffled id order (ids are not frequency-sorted).
  const zipf = Array.from({ length: N }, (_, i) => 1e6 / (i + 1));
  rng.shuffle(zipf);
  const counts = Float64Array.from(zipf);
  const specs: Array<{ name: string; opts: Record<string, unknown>; rows: number; adaptive: boolean }> = [
    { name: 'uniform', opts: {}, rows: 256, adaptive: false },
    { name: 'unigram', opts: { counts, alpha: 0.75 }, rows: 256, adaptive: false },
    { name: 'logUniform', opts: { counts }, rows: 256, adaptive: false },
    { name: 'exact', opts: {}, rows: 8, adaptive: true },
  ];
  // the table is the costly part: build it only when the filter selects one of these
  if (!specs.some((spec) => want(`samplers.${spec.name}`))) return;
  const table = ClassTable.init(N, D, rng, { bias: true });
  const results: Record<string, number> = {};
  for (const spec of specs) {
    const bench = `samplers.${spec.name}`;
    if (!want(bench)) continue;
    const t0 = performance.now();
    const s = createSampler(spec.name, spec.opts);
    s.build(table);
    const buildMs = performance.now() - t0;
    let queries = null;
    if (spec.adaptive) {
      queries = matrix(spec.rows, D);
      rng.fillNormal(queries.data, 1 / Math.sqrt(D));
    }
    const ms = timeDraws(s, spec.rows, rng, spec.adaptive ? 2 : 5, queries);
    const drawsPerSec = (spec.rows * M) / (ms / 1000);
    results[spec.name] = drawsPerSec;
    emit({
      bench,
      n: N,
      d: D,
      B: spec.rows,
      m: M,
      threads: 1,
      kernels: kernels.name,
      buildMs: +buildMs.toFixed(1),
      ms: +ms.toFixed(2),
      drawsPerSec: Math.round(drawsPerSec),
      peakRssMB: peakRssMB(),
    });
  }
  if (results.exact !== undefined) {
    for (const name of Object.keys(results)) {
      if (name === 'exact') continue;
      emit({ bench: `samplers.ratio.${name}/exact`, n: N, d: D, m: M, ratio: +(results[name]! / results.exact).toFixed(1) });
    }
  }
}
