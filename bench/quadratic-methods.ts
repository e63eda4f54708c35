/**
 * The quadratic sampler's two methods side by side, with the fast kernels installed: for each
 * shape (n classes, d dimensions with biases, B queries of m = 100 draws) the CPU time of one
 * `sample` call with the kernel tree and with the dense scan, per query, their ratio, and the
 * method `'auto'` picks there (`chooseQuadraticMethod`), so the rule can be checked against the
 * measurement. Shapes: the Brown vocabulary of the language model (n = 43 401, d = 200, B = 700:
 * one BPTT batch), n = 10^5 at d = 128, and n = 10^6 at d = 64.
 *
 * Data: class rows uniform in ±0.1 (the language model's initialization), queries ~ N(0, 0.3²).
 * Both methods are warmed up on 8 queries first; the tree's build time is given too.
 *
 * Usage: `npm run bench -- --filter quadratic-methods` (a shape runs when
 * `quadratic-methods n=<n> d=<d>` contains the filter).
 * @module
 */
import { ClassTable } from '../src/core/classTable.js';
import { matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { kernels } from '../src/kernels/index.js';
import { chooseQuadraticMethod, QuadraticSampler } from '../src/samplers/quadratic.js';
import { cpuTimed, emit } from './util.js';

const M = 100;
const SHAPES = [
  { n: 43401, d: 200, B: 700 },
  { n: 100000, d: 128, B: 128 },
  { n: 1000000, d: 64, B: 32 },
] as const;

/** Runs the shapes whose label `quadratic-methods n=<n> d=<d>` contains `filter` (all without one). */
export async function run(filter?: string): Promise<void> {
  const shapes = SHAPES.filter(({ n, d }) => !filter || `quadratic-methods n=${n} d=${d}`.includes(filter));
  if (shapes.length === 0) return;
  const fast = await initFastKernels({ threads: 0 });
  try {
    for (const { n, d, B } of shapes) {
      const table = tableInKernelMemory(fast, ClassTable.init(n, d, Rng.fromSeed(1), { init: 'uniform', scale: 0.1, bias: true }));
      const q = matrix(B, d);
      Rng.fromSeed(2).fillNormal(q.data);
      for (let i = 0; i < q.data.length; i++) q.data[i]! *= 0.3;
      const warm = matrix(8, d, q.data.slice(0, 8 * d));
      const perQuery: Record<string, number> = {};
      for (const method of ['tree', 'dense'] as const) {
        const s = new QuadraticSampler({ method });
        const build = cpuTimed(() => s.build(table));
        s.sample({ m: M, rng: Rng.fromSeed(3), queries: warm });
        const t = cpuTimed(() => s.sample({ m: M, rng: Rng.fromSeed(4), queries: q }));
        perQuery[method] = t.ms / B;
        emit({
          bench: `quadratic-methods.${method}`,
          n,
          d,
          B,
          m: M,
          kernels: kernels.name,
          timing: 'cpu',
          buildMs: Math.round(build.ms),
          ms: Math.round(t.ms),
          wallMs: Math.round(t.wallMs),
          msPerQuery: +(t.ms / B).toFixed(3),
        });
      }
      emit({
        bench: 'quadratic-methods.ratio',
        n,
        d,
        denseOverTree: +(perQuery['dense']! / perQuery['tree']!).toFixed(3),
        auto: chooseQuadraticMethod(n, d + 1),
        faster: perQuery['dense']! <= perQuery['tree']! ? 'dense' : 'tree',
      });
    }
  } finally {
    await fast.close();
  }
}

const invoked = process.argv[1] ?? '';
if (invoked.endsWith('bench/quadratic-methods.js')) {
  const args = process.argv.slice(2).filter((a) => a !== '--filter');
  await run(args[0]);
}
