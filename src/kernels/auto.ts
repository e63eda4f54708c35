/**
 * The default kernels: the WebAssembly kernels loaded synchronously on first use in Node, so
 * that a program that never calls `initFastKernels` still runs on them. Feature detection
 * (tiny probe modules) lives here too and is shared with `initFastKernels`. Browser-safe: Node
 * modules are reached through `process.getBuiltinModule` on the Node path only.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { isNode, warnOnce } from '../core/runtime.js';
import { WasmArena } from './arena.js';
import type { KernelSet } from './types.js';
import { makeWasmKernelSet, type KernelExports } from './wasmKernels.js';

/** What the runtime supports. */
export interface WasmFeatures {
  /** WebAssembly SIMD128. */
  simd: boolean;
  /** Relaxed SIMD (`f32x4.relaxed_madd`). */
  relaxedSimd: boolean;
  /** Shared WebAssembly memory (needs SharedArrayBuffer; in browsers, cross-origin isolation). */
  sharedMemory: boolean;
}

// Tiny probe modules: `() -> v128` bodies using i8x16.popcnt (SIMD) and f32x4.relaxed_madd.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0,
  65, 1, 253, 15, 65, 2, 253, 15, 65, 3, 253, 15, 253, 133, 2, 11,
]);

type GetBuiltinModule = (id: string) => unknown;

/** Node's synchronous access to its built-in modules (Node ≥ 20.16), or null. */
export function nodeBuiltins(): GetBuiltinModule | null {
  if (!isNode) return null;
  const g = (process as unknown as { getBuiltinModule?: GetBuiltinModule }).getBuiltinModule;
  return typeof g === 'function' ? g.bind(process) : null;
}

let relaxedFlagSet = false;

/** Enables V8's relaxed-SIMD flag in Node (needed in Node 20; harmless where it is on by default). */
export function setRelaxedSimdFlag(v8: { setFlagsFromString(flags: string): void }): void {
  if (relaxedFlagSet) return;
  relaxedFlagSet = true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // not fatal: detection reports whether the feature is usable
  }
}

/** Detects SIMD, relaxed SIMD (when `fma`) and shared memory with the probe modules (the flag must be set already). */
export function probeFeatures(fma: boolean): WasmFeatures {
  if (typeof WebAssembly !== 'object') return { simd: false, relaxedSimd: false, sharedMemory: false };
  const simd = WebAssembly.validate(SIMD_PROBE);
  const relaxedSimd = fma && simd && WebAssembly.validate(RELAXED_PROBE);
  let sharedMemory = false;
  try {
    sharedMemory = typeof SharedArrayBuffer === 'function' &&
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    sharedMemory = false;
  }
  return { simd, relaxedSimd, sharedMemory };
}

/** Why a runtime with `features` cannot run the WebAssembly kernels, or null when it can. */
export function missingFeatures(features: WasmFeatures): string | null {
  if (features.simd && features.sharedMemory) return null;
  const lacks = [features.simd ? '' : 'WebAssembly SIMD', features.sharedMemory ? '' : 'shared WebAssembly memory (SharedArrayBuffer; cross-origin isolation in browsers)'];
  return `this runtime lacks ${lacks.filter((s) => s).join(' and ')}`;
}

/**
 * Environment variable that chooses the default kernels of a Node process or worker thread:
 * `auto` (or unset), `fma`, `simd` or `ts`. Workers started by samplex get the kernels of the
 * thread that starts them through it, so that helper threads compute what that thread computes.
 */
export const KERNELS_ENV = 'SAMPLEX_KERNELS';

/** The {@link KERNELS_ENV} value that selects the kernel set named `name`, or null for a set it cannot name. */
export function kernelsEnvValue(name: string): string | null {
  return name === 'ts' ? 'ts' : name === 'wasm-fma' ? 'fma' : name === 'wasm-simd' ? 'simd' : null;
}

/** One line on stderr, once per reason, saying that the kernels fell back to TypeScript and why. */
export function warnTsFallback(reason: string): void {
  warnOnce(`ts:${reason}`, `samplex: using the TypeScript kernels (10–20× slower than the WebAssembly ones): ${reason}`);
}

/**
 * The WebAssembly kernels, loaded synchronously from the built `wasm/` folder beside this
 * module (relaxed-SIMD FMA build, else SIMD128), on a fresh shared memory of 16 MiB that grows
 * on demand; null, after one line on stderr saying why, when that is not possible here (a
 * browser, a Node without `process.getBuiltinModule`, a runtime without SIMD or shared memory,
 * missing build files). Used by the active kernels on their first call when no kernels were
 * chosen explicitly (`useKernels`, `initFastKernels`). {@link KERNELS_ENV} narrows the choice.
 * @throws OptionError for a {@link KERNELS_ENV} value it does not know
 */
export function loadDefaultKernels(): KernelSet | null {
  return loadDefaultKernelsWithArena()?.set ?? null;
}

/**
 * {@link loadDefaultKernels} with the arena the kernels run on (their memory: arrays allocated
 * there are used in place), or null under the same conditions.
 * @throws OptionError for a {@link KERNELS_ENV} value it does not know
 */
export function loadDefaultKernelsWithArena(): { set: KernelSet; arena: WasmArena } | null {
  const want = isNode ? process.env[KERNELS_ENV] : undefined;
  if (want !== undefined && want !== '' && !['auto', 'ts', 'simd', 'fma'].includes(want)) {
    throw new OptionError(`${KERNELS_ENV}=${want}: use 'auto', 'fma', 'simd' or 'ts' (or leave it unset)`);
  }
  if (want === 'ts') return null;
  const builtins = nodeBuiltins();
  if (builtins === null) {
    warnTsFallback(isNode
      ? `this Node (${process.version}) cannot load them synchronously (it lacks process.getBuiltinModule, Node ≥ 20.16); call \`await initFastKernels()\` before training`
      : 'they load asynchronously here; call `await initFastKernels()` before training');
    return null;
  }
  const reasons: string[] = [];
  try {
    setRelaxedSimdFlag(builtins('node:v8') as { setFlagsFromString(flags: string): void });
    const features = probeFeatures(true);
    const missing = missingFeatures(features);
    if (missing !== null) {
      warnTsFallback(missing);
      return null;
    }
    const fs = builtins('node:fs') as { readFileSync(path: URL): Uint8Array };
    if (want === 'fma' && !features.relaxedSimd) reasons.push('this runtime lacks relaxed SIMD for the fma build');
    for (const path of features.relaxedSimd && want !== 'simd' ? (['fma', 'simd'] as const) : (['simd'] as const)) {
      try {
        const module = new WebAssembly.Module(fs.readFileSync(new URL(`./wasm/kernels-${path}.wasm`, import.meta.url)) as BufferSource);
        const memory = WasmArena.createMemory();
        const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
        const arena = new WasmArena(memory, ex.heapBase());
        const set = makeWasmKernelSet(`wasm-${path}`, ex, arena);
        if (reasons.length > 0) warnOnce(`build:${reasons.join('; ')}`, `samplex: using the ${path} build of the WebAssembly kernels: ${reasons.join('; ')}`);
        return { set, arena };
      } catch (e) {
        reasons.push(`cannot load the ${path} build (${e instanceof Error ? e.message : String(e)})`);
      }
    }
  } catch (e) {
    reasons.push(e instanceof Error ? e.message : String(e));
  }
  warnTsFallback(`${reasons.join('; ')}; run \`npm run build\``);
  return null;
}
