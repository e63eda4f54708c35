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
  /** Stops the workers; pending calls reject. Idempotent. */
  close(): Promise<void>;
}
