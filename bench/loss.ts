/**
 * Loss benchmark: sampled softmax forward+backward (B=256, m=100, d=128, per-query uniform
 * ids) against the exact full softmax forward+backward at n=10^5, measured in the same run.
 *
 * FLOP counts (multiply-add = 2): sampled `6·B·(m+1)·d` (logits, query gradient, class
 * gradient); full `8·B·n·d` (the log-sum-exp pass, the recomputed scores, two gradient products);
 * full loss only (`grad: false`) `2·B·n·d`. Each figure is measured on the plain-TS kernels and on
 * the WebAssembly kernels (`kernels` field), single-threaded; the full softmax also on the
 * WebAssembly kernels with a pool of 2 workers (`threads: 2`: both passes split over the pool while
 * the calling thread waits), then `loss.full.pool` gives the ratio of the two in this run.
 */
import { pathToFileURL } from 'node:url';
import { emit, medianMs as time, peakRssMB } from './util.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, singleLabels } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { kernels } from '../src/kernels/index.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import type { Convention, SampledLossInput } from '../src/loss/types.js';
import type { Draws } from '../src/samplers/types.js';

const B = 256;
const M = 100;
const D = 128;
const N = 100_000;
/** The conventions timed as `loss.sampled.<convention>`. */
const SAMPLED_CONVENTIONS: readonly Convention[] = ['correctedAll', 'exclusive'];

/** Runs the loss benchmarks whose name contains `filter` (all when omitted). */
export async function run(filter?: string): Promise<void> {
  const want = (name: string): boolean => !filter || name.includes(filter);
  if (![...SAMPLED_CONVENTIONS.map((c) => `loss.sampled.${c}`), 'loss.full'].some(want)) return;
  const rng = Rng.fromSeed(12345);
  const table = ClassTable.init(N, D, rng, { bias: true });
  const queries = matrix(B, D);
  rng.fillNormal(queries.data, 1 / Math.sqrt(D));
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(N)));
  // Per-query uniform ids (with replacement), q = 1/n.
  const ids = new Int32Array(B * M);
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < M; j++) {
      let id = rng.int(N);
      while (id === labels.ids[r]) id = rng.int(N); // valid for the exclusive convention too
      ids[r * M + j] = id;
    }
  }
  const draws: Draws = {
    ids,
    logQ: new Float64Array(B * M).fill(-Math.log(N - 1)),
    rows: B,
    m: M,
    shared: false,
    unique: false,
    tries: null,
  };
  const posLogQ = new Float64Array(B).fill(-Math.log(N));
  const fullMsBy: Record<string, number> = {};
  for (const [path, threads] of [['ts', 0], ['auto', 0], ['auto', 2]] as const) {
    if (threads > 0 && !want('loss.full')) continue;
    const fast = await initFastKernels({ path, threads });
    try {
      measure(tableInKernelMemory(fast, table), Math.max(1, threads));
    } finally {
      await fast.close();
    }
  }
  if (fullMsBy['1'] !== undefined && fullMsBy['2'] !== undefined) {
    emit({ bench: 'loss.full.pool', B, d: D, n: N, kernels: 'wasm', singleMs: fullMsBy['1'], pooledMs: fullMsBy['2'], speedup: fullMsBy['1'] / fullMsBy['2'] });
  }

  /** Times the sampled and full losses on the installed kernels, with `table` in their memory. */
  function measure(table: ClassTable, threads: number): void {
    const sampledFlops = 6 * B * (M + 1) * D;
    const fullFlops = 8 * B * N * D;
    const common = { B, m: M, d: D, n: N, kernels: kernels.name };

    let sampledMs = NaN;
    for (const convention of SAMPLED_CONVENTIONS) {
      const name = `loss.sampled.${convention}`;
      if (!want(name) || threads > 1) continue;
      const input: SampledLossInput = { queries, table, labels, draws, convention, posLogQ };
      const ms = time(() => sampledSoftmaxLoss(input), 20, 3);
      if (convention === 'correctedAll') sampledMs = ms;
      emit({ bench: name, threads: 1, ...common, ids: 'per-query uniform', ms, gflops: sampledFlops / ms / 1e6, peakRssMB: peakRssMB() });
    }

    let fullMs = NaN;
    if (want('loss.full')) {
      const blockSize = 1024;
      fullMs = time(() => fullSoftmaxLoss({ queries, table, labels }, { blockSize }), 2, 0);
      emit({ bench: 'loss.full', threads, ...common, blockSize, ms: fullMs, gflops: fullFlops / fullMs / 1e6, peakRssMB: peakRssMB() });
      const evalMs = time(() => fullSoftmaxLoss({ queries, table, labels, grad: false }, { blockSize }), 2, 0);
      emit({ bench: 'loss.full.lossOnly', threads, ...common, blockSize, ms: evalMs, gflops: (2 * B * N * D) / evalMs / 1e6, peakRssMB: peakRssMB() });
      if (kernels.name !== 'ts') fullMsBy[String(threads)] = fullMs;
    }
    if (Number.isFinite(sampledMs) && Number.isFinite(fullMs)) {
      emit({
        bench: 'loss.full_vs_sampled',
        threads: 1, ...common, sampled: 'correctedAll',
        sampledMs,
        fullMs,
        ratio: fullMs / sampledMs,
        flopRatio: fullFlops / sampledFlops,
      });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run(process.argv[2]);
}
