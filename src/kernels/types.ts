/**
 * The signature of a kernel set (the reference implementation's functions).
 * @module
 */
import type * as ref from './ref.js';

/** The dense kernels samplex uses, with the signatures of the reference implementation. */
export interface KernelSet {
  /** Human-readable backend name, e.g. `"ts"`. */
  name: string;
  matmulNT: typeof ref.matmulNT;
  gatherDot: typeof ref.gatherDot;
  /** Dots of groups of query rows with groups of class rows (a bucket's rows against the queries that need them). */
  bucketDots: typeof ref.bucketDots;
  accumGradQueries: typeof ref.accumGradQueries;
  accumGradClasses: typeof ref.accumGradClasses;
  /** Query gradient of gathered logits (per-query or shared ids). */
  gatherAccumGradQueries: typeof ref.gatherAccumGradQueries;
  /** Sparse scatter-add of class-gradient rows for touched ids. */
  scatterAddRows: typeof ref.scatterAddRows;
  /** Fused full-softmax evaluation: log-sum-exp and top-k per row without `rows × n` logits. */
  fusedSoftmaxTopK: typeof ref.fusedSoftmaxTopK;
  /** Softmax weights `factor · exp(score + bias − ref)` of a score block, in place. */
  softmaxWeights: typeof ref.softmaxWeights;
  /** The full softmax's gradient pass over a range of classes (scores, weights, both gradients). */
  fullSoftmaxGrad: typeof ref.fullSoftmaxGrad;
  /** Nearest-centroid assignment for k-means. */
  kmeansAssign: typeof ref.kmeansAssign;
  /** Float64 scores of one feature vector against kernel-tree node vectors. */
  nodeScores: typeof ref.nodeScores;
  /** Lazy-Adam update of listed table rows (the sparse optimizer's inner loop). */
  adamRows: typeof ref.adamRows;
  /** Adam update of every table row with a sparse gradient (zero for the rows not listed). */
  adamAllRows: typeof ref.adamAllRows;
  /** Seeded standard normal fill (the same values on every path). */
  fillNormal: typeof ref.fillNormal;
  /** Seeded uniform fill in `[−scale, scale)` (the same values on every path). */
  fillUniform: typeof ref.fillUniform;
}

/** Asynchronous versions of the kernels worth splitting across cores (same signatures). */
export interface AsyncKernels {
  /** Number of threads the calls are split across. */
  readonly threads: number;
  /** Pooled {@link KernelSet.matmulNT}. */
  matmulNT(...args: Parameters<KernelSet['matmulNT']>): Promise<void>;
  /** Pooled {@link KernelSet.fusedSoftmaxTopK}. */
  fusedSoftmaxTopK(...args: Parameters<KernelSet['fusedSoftmaxTopK']>): Promise<void>;
  /** Pooled {@link KernelSet.kmeansAssign}. */
  kmeansAssign(...args: Parameters<KernelSet['kmeansAssign']>): Promise<void>;
  /**
   * The same pool behind a synchronous interface, where the calling thread may block until the
   * workers are done (Node's main thread and workers; not a browser's main thread): null or
   * absent elsewhere. Synchronous steps (the full softmax loss) split their work over it.
   */
  readonly blocking?: BlockingKernels | null;
  /** Stops the workers; pending calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Rows `ids[iOff … iOff + count)` of `src`, to be copied to consecutive rows from `dstRow` on ({@link BlockingKernels.gatherRows}). */
export interface RowSegment {
  src: Float32Array;
  ids: Int32Array;
  iOff: number;
  count: number;
  dstRow: number;
}

/**
 * Kernels split across a pool's workers while the calling thread blocks (`Atomics.wait`), for
 * synchronous callers. Their class tables must live in the pool's memory ({@link BlockingKernels.owns}).
 */
export interface BlockingKernels {
  /** Number of threads the calls are split across. */
  readonly threads: number;
  /** Whether `arr` lives in the pool's memory (a table argument must). */
  owns(arr: ArrayBufferView): boolean;
  /**
   * Copies rows `ids[iOff … iOff + count)` of each segment's `src` into rows `dstRow …` of `dst`
   * (`d` values a row), split over the workers: `dst` and every `src` may live in any of the
   * pool's memories (its own or a shard's). Returns false, having copied nothing, for a call too
   * small to split or an array outside those memories.
   */
  gatherRows(dst: Float32Array, segments: readonly RowSegment[], d: number): boolean;
  /** {@link KernelSet.fusedSoftmaxTopK} split by rows (the same bits) or, for few rows, by classes. */
  fusedSoftmaxTopK(...args: Parameters<KernelSet['fusedSoftmaxTopK']>): void;
  /**
   * {@link KernelSet.fullSoftmaxGrad} split by classes at multiples of the block size: `outC` and
   * `outBias` get the same bits as one call; `outH` is the sum of the parts' contributions
   * (rounding may differ in the last bits).
   */
  fullSoftmaxGrad(...args: Parameters<KernelSet['fullSoftmaxGrad']>): void;
}
