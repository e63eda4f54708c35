/**
 * Benchmarks of the streaming full-softmax evaluator:
 * - `evaluator.throughput`: B = 1024, d = 128, n = 50 000 (ms, GFLOP/s = 2·B·n·d / time);
 * - `evaluator.blockSize`: the same work at a smaller n for several block sizes (to pick the default);
 * - `evaluator.peakRss`: peak resident memory at n = 10^6, B = 256, measured in a child process so
 *   that other benchmarks do not affect it;
 * - `evaluator.pool`: `evaluateAsync` on the fast kernels' worker pool (all cores), B = 1024,
 *   d = 128, n = 50 000, beside a native float32 GEMM of the same shape (`numpy` on OpenBLAS with
 *   as many threads, measured in the same run when `python3` with numpy is found; otherwise the
 *   line says so and `nativeGflops` is null).
 * Prints one JSON object per line.
 * @module
 */
import { ClassTable } from '../src/core/classTable.js';
import { matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { kernels } from '../src/kernels/index.js';
import { spawnSync } from 'node:child_process';
import { initFastKernels } from '../src/kernels/fast.js';
import { DEFAULT_BLOCK_SIZE, evaluate, evaluateAsync } from '../src/layer/evaluator.js';
import { emit, runInChild, sendToParent } from './util.js';

function setup(B: number, n: number, d: number, seed: number): { q: ReturnType<typeof matrix>; t: ClassTable } {
  const rng = Rng.fromSeed(seed);
  const t = ClassTable.init(n, d, rng, { bias: true });
  const q = matrix(B, d);
  rng.fillNormal(q.data);
  return { q, t };
}

function timeEval(B: number, n: number, d: number, block: number, k: number, reps: number): { ms: number; gflops: number } {
  const { q, t } = setup(B, n, d, 1);
  evaluate(matrix(Math.min(B, 8), d, q.data.subarray(0, Math.min(B, 8) * d)), t, { k, blockSize: block }); // warm-up
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    evaluate(q, t, { k, blockSize: block });
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: +best.toFixed(1), gflops: +((2 * B * n * d) / (best * 1e6)).toFixed(3) };
}

/**
 * GFLOP/s of a native float32 GEMM `[B, d] × [d, n]` (numpy on its BLAS, `threads` threads, best
 * of 5), or null with the reason when python3 with numpy is not found.
 */
function nativeGemm(B: number, n: number, d: number, threads: number): { gflops: number | null; note: string } {
  const code = [
    'import time, numpy as np',
    `a = np.random.rand(${B}, ${d}).astype(np.float32); c = np.random.rand(${n}, ${d}).astype(np.float32)`,
    'a @ c.T',
    'best = 1e9',
    'for _ in range(5):',
    '    t = time.perf_counter(); a @ c.T; best = min(best, time.perf_counter() - t)',
    `print(2 * ${B} * ${n} * ${d} / best / 1e9)`,
    'cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]',
    'print(cfg.get("name"), cfg.get("version"))',
  ].join('\n');
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const r = spawnSync('python3', ['-c', code], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !r.stdout) return { gflops: null, note: `no native BLAS measured (python3 with numpy not available: ${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()})` };
  const [g, blas] = r.stdout.trim().split('\n');
  return { gflops: +Number(g).toFixed(2), note: `numpy on ${blas ?? 'its BLAS'}, ${threads} threads` };
}

const RSS_FLAG = '--samplex-evaluator-rss-child';

/** Child process: builds the table, records RSS before and after one evaluation, reports peak. */
function rssChild(B: number, n: number, d: number, k: number): void {
  const { q, t } = setup(B, n, d, 2);
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  evaluate(q, t, { k });
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
  sendToParent({ before, peak, ms });
}

const MB = 1024 * 1024;

/** Runs the evaluator benchmarks whose name contains `filter` (all when omitted). */
export async function run(filter?: string): Promise<void> {
  const want = (name: string): boolean => !filter || name.includes(filter);
  if (want('evaluator.throughput')) {
    const [B, n, d, k] = [1024, 50_000, 128, 10];
    const r = timeEval(B, n, d, DEFAULT_BLOCK_SIZE, k, 2);
    emit({ bench: 'evaluator.throughput', threads: 1, B, n, d, k, blockSize: DEFAULT_BLOCK_SIZE, kernels: kernels.name, ...r });
  }
  if (want('evaluator.blockSize')) {
    const [B, n, d, k] = [256, 20_000, 128, 10];
    for (const block of [128, 256, 512, 1024, 2048, 4096, 8192]) {
      const r = timeEval(B, n, d, block, k, 2);
      emit({ bench: 'evaluator.blockSize', threads: 1, B, n, d, k, blockSize: block, kernels: kernels.name, ...r });
    }
  }
  if (want('evaluator.pool')) {
    const [B, n, d, k] = [1024, 50_000, 128, 10];
    const fast = await initFastKernels();
    try {
      const { q, t } = setup(B, n, d, 3);
      await evaluateAsync(matrix(8, d, q.data.subarray(0, 8 * d)), t, { k }); // warm-up
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        await evaluateAsync(q, t, { k });
        best = Math.min(best, performance.now() - t0);
      }
      const gflops = (2 * B * n * d) / (best * 1e6);
      const native = nativeGemm(B, n, d, fast.pool.threads);
      emit({
        bench: 'evaluator.pool', threads: fast.pool.threads, B, n, d, k, kernels: fast.kernels.name,
        ms: +best.toFixed(1), gflops: +gflops.toFixed(2),
        nativeGflops: native.gflops, nativeNote: native.note,
        ratioToNative: native.gflops === null ? null : +(gflops / native.gflops).toFixed(3),
      });
    } finally {
      await fast.close();
    }
  }
  if (want('evaluator.peakRss')) {
    const [B, n, d, k] = [256, 1_000_000, 64, 10];
    const r = await runInChild<{ before: number; peak: number; ms: number }>(import.meta.url, RSS_FLAG, [B, n, d, k]);
    console.log(
      JSON.stringify({
        bench: 'evaluator.peakRss',
        threads: 1, B, n, d, k, blockSize: DEFAULT_BLOCK_SIZE, kernels: kernels.name,
        peakRssMB: +(r.peak / MB).toFixed(1),
        rssBeforeEvalMB: +(r.before / MB).toFixed(1),
        tableMB: +((n * (d + 1) * 4) / MB).toFixed(1),
        logitsBxnMB: +((B * n * 4) / MB).toFixed(1),
        ms: +r.ms.toFixed(0),
        gflops: +((2 * B * n * d) / (r.ms * 1e6)).toFixed(3),
      }),
    );
  }
}

if (process.argv[2] === RSS_FLAG) {
  const [B, n, d, k] = process.argv.slice(3, 7).map(Number) as [number, number, number, number];
  rssChild(B, n, d, k);
}
