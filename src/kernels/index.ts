/**
 * Kernel dispatch. Library code calls dense math through {@link kernels} so that a
 * faster implementation of the same signature can be installed without touching callers.
 * @module
 */
import { loadDefaultKernelsWithArena } from './auto.js';
import { tableFills } from '../core/fill.js';
import * as ref from './ref.js';
import type { AsyncKernels, KernelSet } from './types.js';

export type { KernelSet } from './types.js';

/** The plain-TypeScript reference kernels. */
export const tsKernels: KernelSet = {
  name: 'ts',
  matmulNT: ref.matmulNT,
  gatherDot: ref.gatherDot,
  bucketDots: ref.bucketDots,
  accumGradQueries: ref.accumGradQueries,
  accumGradClasses: ref.accumGradClasses,
  gatherAccumGradQueries: ref.gatherAccumGradQueries,
  scatterAddRows: ref.scatterAddRows,
  fusedSoftmaxTopK: ref.fusedSoftmaxTopK,
  softmaxWeights: ref.softmaxWeights,
  fullSoftmaxGrad: ref.fullSoftmaxGrad,
  kmeansAssign: ref.kmeansAssign,
  nodeScores: ref.nodeScores,
  adamRows: ref.adamRows,
  adamAllRows: ref.adamAllRows,
  fillNormal: ref.fillNormal,
  fillUniform: ref.fillUniform,
};

type KernelName = Exclude<keyof KernelSet, 'name'>;
type AnyKernel = (...args: never[]) => unknown;
const KERNEL_NAMES = (Object.keys(tsKernels) as Array<keyof KernelSet>).filter((k): k is KernelName => k !== 'name');

let defaultSet: KernelSet | null = null;
/** The memory of the default kernels (their arena) when they are the WebAssembly ones. */
let defaultMemory: KernelMemory | null = null;
/** True while the active kernels are the defaults, not yet resolved or restored by `useKernels(defaultKernels)`. */
let usingDefaults = true;

/** The default kernels, resolved once: the WebAssembly ones where they load synchronously, else the TS ones. */
function resolveDefaults(): KernelSet {
  if (defaultSet === null) {
    const loaded = loadDefaultKernelsWithArena();
    defaultSet = loaded?.set ?? tsKernels;
    if (loaded) {
      const arena = loaded.arena;
      defaultMemory = {
        owns: (a) => arena.owns(a),
        f32: (len) => arena.allocF32(len),
        i32: (len) => arena.allocI32(len),
        freeAt: (p) => arena.release(p),
      };
    }
  }
  return defaultSet;
}

/** Copies `set` into the dispatch table. */
function install(set: KernelSet): void {
  Object.defineProperty(kernels, 'name', { value: set.name, writable: true, enumerable: true, configurable: true });
  for (const k of KERNEL_NAMES) (kernels as unknown as Record<KernelName, AnyKernel>)[k] = set[k] as AnyKernel;
}

/** Puts first-use stubs into `target`: calling a kernel (or reading `name`) resolves the defaults; on `kernels`, it also installs them. */
function stubs(target: KernelSet, installs: boolean): void {
  const resolved = (): KernelSet => {
    const set = resolveDefaults();
    if (installs) install(set);
    return set;
  };
  Object.defineProperty(target, 'name', { get: () => resolved().name, enumerable: true, configurable: true });
  for (const k of KERNEL_NAMES) {
    (target as unknown as Record<KernelName, AnyKernel>)[k] = (...args: never[]) => (resolved()[k] as AnyKernel)(...args);
  }
}

/**
 * The default kernels. In Node they are the WebAssembly kernels (relaxed-SIMD FMA build, else
 * SIMD128), compiled synchronously at the first kernel call, without worker threads; in a
 * browser, in a Node without `process.getBuiltinModule` (before 20.16), or where the build
 * cannot load, the TS reference, after one line on stderr saying why. Resolved once per
 * thread. Restore them with `useKernels(defaultKernels)`.
 */
export const defaultKernels: KernelSet = { ...tsKernels };
stubs(defaultKernels, false);

/**
 * The active kernels (mutable dispatch table). Until something is installed with
 * {@link useKernels} (which `initFastKernels` does), they are the {@link defaultKernels}:
 * the first call (or reading `name`) resolves and installs them.
 */
export const kernels: KernelSet = { ...tsKernels };
stubs(kernels, true);

// `ClassTable.init` (in core/, below this layer) fills through the active kernels
tableFills.normal = (out, off, len, seed, scale, start) => kernels.fillNormal(out, off, len, seed, scale, start);
tableFills.uniform = (out, off, len, state, scale) => kernels.fillUniform(out, off, len, state, scale);

/**
 * Installs `set` as the active kernels; returns the previous ones ({@link defaultKernels} when
 * the defaults were active). `useKernels(tsKernels)` before any kernel call keeps a program on
 * the TS reference without loading the WebAssembly kernels.
 */
export function useKernels(set: KernelSet): KernelSet {
  const prev = usingDefaults ? defaultKernels : { ...kernels };
  if (set === defaultKernels) {
    usingDefaults = true;
    stubs(kernels, true);
  } else {
    usingDefaults = false;
    install(set);
  }
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
  /** Gives back an array of {@link KernelMemory.f32} / {@link KernelMemory.i32} (optional). */
  free?(arr: Float32Array | Int32Array): void;
  /**
   * The memory, this one or another one whose arrays the same kernels use in place (a shard's
   * own kernel memory, see `shardedTableInKernelMemory`), that holds `arr`; null when none does.
   */
  memoryOf?(arr: ArrayBufferView): KernelMemory | null;
  /**
   * Gives back the block at `byteOffset` of an array made by `f32` / `i32`, where the memory can
   * (the caller makes sure no view of it is used again).
   */
  freeAt?(byteOffset: number): void;
}

/** The kernel memory that holds `arr` (the active one or one of its peers), or null. */
export function memoryHolding(arr: ArrayBufferView): KernelMemory | null {
  const m = activeMemory();
  if (m === null) return null;
  if (m.owns(arr)) return m;
  return m.memoryOf ? m.memoryOf(arr) : null;
}

let memory: KernelMemory | null = null;

/**
 * The memory of the active kernels, or null (TypeScript kernels: plain arrays): the one installed
 * by {@link useMemory} (`initFastKernels`), else, while the default kernels are active, theirs
 * when they are the WebAssembly ones (this resolves the defaults, as their first call does).
 */
export function activeMemory(): KernelMemory | null {
  if (memory !== null) return memory;
  if (!usingDefaults) return null;
  resolveDefaults();
  return defaultMemory;
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
