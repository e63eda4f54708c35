/**
 * Kernel dispatch. Library code calls dense math through {@link kernels} so that a
 * faster implementation of the same signature can be installed without touching callers.
 * @module
 */
import * as ref from './ref.js';
import type { AsyncKernels } from './pool.js';

/** The dense kernels samplex uses, with the signatures of the reference implementation. */
export interface KernelSet {
  /** Human-readable backend name, e.g. `"ts"`. */
  name: string;
  matmulNT: typeof ref.matmulNT;
  gatherDot: typeof ref.gatherDot;
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

/** The plain-TypeScript reference kernels. */
export const tsKernels: KernelSet = {
  name: 'ts',
  matmulNT: ref.matmulNT,
  gatherDot: ref.gatherDot,
  accumGradQueries: ref.accumGradQueries,
  accumGradClasses: ref.accumGradClasses,
  gatherAccumGradQueries: ref.gatherAccumGradQueries,
  scatterAddRows: ref.scatterAddRows,
  fusedSoftmaxTopK: ref.fusedSoftmaxTopK,
  softmaxWeights: ref.softmaxWeights,
  kmeansAssign: ref.kmeansAssign,
  nodeScores: ref.nodeScores,
  adamRows: ref.adamRows,
  adamAllRows: ref.adamAllRows,
  fillNormal: ref.fillNormal,
  fillUniform: ref.fillUniform,
};

/** The active kernels (mutable dispatch table; starts as the TS reference). */
export const kernels: KernelSet = { ...tsKernels };

/** Installs `set` as the active kernels; returns the previous ones. */
export function useKernels(set: KernelSet): KernelSet {
  const prev = { ...kernels };
  Object.assign(kernels, set);
  return prev;
}

let pool: AsyncKernels | null = null;

/** The memory the active kernels work in (the wasm arena of {@link initFastKernels}). */
export interface KernelMemory {
  /** Whether `arr` lives in this memory (the kernels then use it in place). */
  owns(arr: ArrayBufferView): boolean;
  /** A zero-filled Float32Array in this memory; throws when it is full. */
  f32(len: number): Float32Array;
  /** A zero-filled Int32Array in this memory; throws when it is full. */
  i32(len: number): Int32Array;
}

let memory: KernelMemory | null = null;

/** The memory of the active kernels, or null (TypeScript kernels: plain arrays). */
export function activeMemory(): KernelMemory | null {
  return memory;
}

/** Installs `m` as the active kernel memory (null: none); returns the previous one. */
export function useMemory(m: KernelMemory | null): KernelMemory | null {
  const prev = memory;
  memory = m;
  return prev;
}

/**
 * The pooled kernels that go with the active ones ({@link initFastKernels} installs its worker
 * pool here), or null when none is installed. Asynchronous entry points such as `evaluateAsync`
 * run on it.
 */
export function activePool(): AsyncKernels | null {
  return pool;
}

/** Installs `p` as the active pool (null: none); returns the previous one. */
export function usePool(p: AsyncKernels | null): AsyncKernels | null {
  const prev = pool;
  pool = p;
  return prev;
}

export { dot } from './ref.js';
