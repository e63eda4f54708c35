/**
 * samplex's dense kernels for the commands: the one place a command chooses the kernel path
 * (`--kernels`) and starts the worker pool.
 * @module
 */
import { choiceOption } from '../core/validate.js';
import { initFastKernels, type FastKernels, type KernelPath } from '../kernels/fast.js';

/** The values of `--kernels`. */
export const KERNEL_PATHS = ['auto', 'fma', 'simd', 'ts'] as const;

/** The help of `--kernels`. */
export const KERNELS_HELP = 'dense math: auto (WebAssembly FMA, else SIMD, else TypeScript) | fma | simd | ts';

/**
 * Starts the kernels on `path` (a value of `--kernels`) with `workers` pool threads (0: none).
 * @throws OptionError for an unknown path; StateError when a forced path is not supported here
 */
export async function startKernels(path: string, workers: number): Promise<FastKernels> {
  const want = choiceOption(path, '--kernels', KERNEL_PATHS) as KernelPath | 'auto';
  return initFastKernels({ path: want, threads: workers });
}

/** Runs `fn` with the kernels of {@link startKernels}, closed after. */
export async function withKernels<T>(path: string, fn: (fast: FastKernels) => T | Promise<T>, workers = 0): Promise<T> {
  const fast = await startKernels(path, workers);
  try {
    return await fn(fast);
  } finally {
    await fast.close();
  }
}
