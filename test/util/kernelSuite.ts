/**
 * A self-contained check of the fast kernels against the TS reference that runs in Node and in
 * a browser page (no Node imports): it loads the kernels with {@link initFastKernels}, runs the
 * synchronous and pooled kernels on seeded random data with odd sizes, and reports for each
 * check the worst ratio `|fast - ref| / tol` (tolerances of ./kernelCheck.ts; <= 1 passes).
 */
import { Rng } from '../../src/core/rng.js';
import * as ref from '../../src/kernels/ref.js';
import { initFastKernels, type FastKernelOptions, type WasmFeatures } from '../../src/kernels/fast.js';
import { U32, dot64, dotTol, randF32, randIds } from './kernelCheck.js';

/** What {@link runKernelSuite} found. */
export interface KernelSuiteReport {
  path: string;
  kernelsName: string;
  threads: number;
  features: WasmFeatures;
  /** Worst `|fast - ref| / tol` per check (NaN or > 1 is a failure). */
  checks: Record<string, number>;
}

function worst(got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number): number {
  let w = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < got.length; i++) {
    if (got[i] === want[i]) continue;
    const r = Math.abs(got[i]! - want[i]!) / tol(i);
    w = Number.isNaN(r) ? Infinity : Math.max(w, r);
  }
  return w;
}

/** Runs the suite with the given loader options; closes the kernels afterwards. */
export async function runKernelSuite(opts: FastKernelOptions): Promise<KernelSuiteReport> {
  const fk = await initFastKernels({ ...opts, install: false });
  const checks: Record<string, number> = {};
  try {
    const rng = Rng.fromSeed(2024);
    for (const [rows, n, d] of [[5, 13, 17], [9, 130, 33], [17, 67, 128], [3, 257, 5]] as const) {
      const tag = `${rows}x${n}x${d}`;
      const a = randF32(rng, rows * d);
      const c = randF32(rng, n * d);
      const bias = randF32(rng, n);
      const mmTol = (e: number): number => dotTol(a, Math.floor(e / n) * d, c, (e % n) * d, d);
      const want = new Float32Array(rows * n);
      ref.matmulNT(a, rows, c, 0, n, d, want);
      const got = new Float32Array(rows * n);
      fk.kernels.matmulNT(a, rows, c, 0, n, d, got);
      checks[`matmulNT ${tag}`] = worst(got, want, mmTol);
      got.fill(NaN);
      await fk.pool.matmulNT(a, rows, c, 0, n, d, got);
      checks[`pool.matmulNT ${tag}`] = worst(got, want, mmTol);

      const m = 7;
      const ids = randIds(rng, rows * m, n);
      const wg = new Float32Array(rows * m);
      ref.gatherDot(a, rows, c, d, ids, m, false, wg);
      const gg = new Float32Array(rows * m);
      fk.kernels.gatherDot(a, rows, c, d, ids, m, false, gg);
      checks[`gatherDot ${tag}`] = worst(gg, wg, (e) => dotTol(a, Math.floor(e / m) * d, c, ids[e]! * d, d));

      // fused evaluation: lse within max logit error + 64u; top scores within max logit error
      const k = 5;
      let maxTol = 0;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < n; j++) {
          const o = dot64(a, i * d, c, j * d, d) + bias[j]!;
          maxTol = Math.max(maxTol, dotTol(a, i * d, c, j * d, d) + 2 * U32 * Math.abs(o));
        }
      }
      const wl = new Float64Array(rows);
      const wi = new Int32Array(rows * k);
      const ws = new Float32Array(rows * k);
      ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, wl, wi, ws);
      for (const pooled of [false, true]) {
        const gl = new Float64Array(rows);
        const gi = new Int32Array(rows * k);
        const gs = new Float32Array(rows * k);
        if (pooled) await fk.pool.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, gl, gi, gs);
        else fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, gl, gi, gs);
        const p = pooled ? 'pool.' : '';
        checks[`${p}fused lse ${tag}`] = worst(gl, wl, (i) => maxTol + 64 * U32 * Math.max(1, Math.abs(wl[i]!)));
        checks[`${p}fused topScores ${tag}`] = worst(gs, ws, (e) => maxTol + U32 * Math.abs(ws[e]!));
      }

      // k-means on small integers: every distance is exact, so indices must match exactly
      const xi = randF32(rng, rows * d, true);
      const ci = randF32(rng, 7 * d, true);
      const wIdx = new Int32Array(rows);
      ref.kmeansAssign(xi, rows, ci, 7, d, wIdx, null);
      const gIdx = new Int32Array(rows);
      await fk.pool.kmeansAssign(xi, rows, ci, 7, d, gIdx, null);
      checks[`pool.kmeansAssign ${tag}`] = gIdx.every((v, i) => v === wIdx[i]) ? 0 : Infinity;
    }
    return { path: fk.path, kernelsName: fk.kernels.name, threads: fk.pool.threads, features: fk.features, checks };
  } finally {
    await fk.close();
  }
}
