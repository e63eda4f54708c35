/**
 * Kernel dispatch. Library code calls dense math through {@link kernels} so that a
 * faster implementation of the same signature can be installed without touching callers.
 * @module
 */
import * as ref from './ref.js';

/** The dense kernels samplex uses, with the signatures of the reference implementation. */
export interface KernelSet {
  /** Human-readable backend name, e.g. `"ts"`. */
  name: string;
  matmulNT: typeof ref.matmulNT;
  gatherDot: typeof ref.gatherDot;
  accumGradQueries: typeof ref.accumGradQueries;
  accumGradClasses: typeof ref.accumGradClasses;
}

/** The plain-TypeScript reference kernels. */
export const tsKernels: KernelSet = {
  name: 'ts',
  matmulNT: ref.matmulNT,
  gatherDot: ref.gatherDot,
  accumGradQueries: ref.accumGradQueries,
  accumGradClasses: ref.accumGradClasses,
};

/** The active kernels (mutable dispatch table; starts as the TS reference). */
export const kernels: KernelSet = { ...tsKernels };

/** Installs `set` as the active kernels; returns the previous ones. */
export function useKernels(set: KernelSet): KernelSet {
  const prev = { ...kernels };
  Object.assign(kernels, set);
  return prev;
}

export { dot } from './ref.js';
