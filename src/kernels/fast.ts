/**
 * Loader of the fast kernels: detects WebAssembly features, loads the best build
 * (SIMD + relaxed-SIMD FMA → SIMD128 → plain TypeScript), installs the synchronous kernels
 * with {@link useKernels} and starts a worker pool. Browser-safe: Node modules (`fs`, `v8`,
 * `os`, `worker_threads`) are imported dynamically on the Node path only.
 * @module
 */
import { ClassTable } from '../core/classTable.js';
import { ShardedClassTable } from '../core/shardedTable.js';
import { OptionError, StateError } from '../core/errors.js';
import { isNode, warnOnce } from '../core/runtime.js';
import { choiceOption, intOption } from '../core/validate.js';
import { MAX_PAGES, WasmArena, type KernelArray } from './arena.js';
import { missingFeatures, probeFeatures, setRelaxedSimdFlag, warnTsFallback, type WasmFeatures } from './auto.js';
import { tsKernels, useMemory, usePool, useKernels, type KernelMemory, type KernelSet } from './index.js';
import { InlineKernels, KernelPool, type AsyncKernels } from './pool.js';
import { instantiateKernels, makeWasmKernelSet, type PeerKernels } from './wasmKernels.js';

/** Which implementation runs the kernels. */
export type KernelPath = 'fma' | 'simd' | 'ts';

/** Options of {@link initFastKernels}. */
export interface FastKernelOptions {
  /** Worker threads of the pool (default: available cores). 0 = no workers (async calls run inline). */
  threads?: number;
  /**
   * Use the relaxed-SIMD FMA build when the runtime has it (default true). In Node 20 this
   * turns on V8's `--experimental-wasm-relaxed-simd` flag before compiling.
   */
  fma?: boolean;
  /** Force a path (tests, benchmarks); throws StateError when the runtime lacks it. Default `'auto'`. */
  path?: KernelPath | 'auto';
  /** Install the synchronous kernels as the active {@link kernels} and the pool as the active pool (default true). */
  install?: boolean;
  /** Initial wasm memory in bytes (default 16 MiB; it grows on demand up to 4 GiB). */
  initialMemoryBytes?: number;
  /** Folder URL holding `kernels-simd.wasm` / `kernels-fma.wasm` (default: the built `wasm/` folder beside this module). */
  wasmBaseUrl?: string | URL;
  /**
   * Say nothing when `auto` falls back (default false: one line on stderr, once per reason,
   * names the build that was not used and why; {@link FastKernels.fallbackReason} holds it too).
   */
  quiet?: boolean;
}

export type { WasmFeatures } from './auto.js';

/** Handle returned by {@link initFastKernels}. */
export interface FastKernels {
  /** The path in use. */
  readonly path: KernelPath;
  /** Detected features. */
  readonly features: WasmFeatures;
  /** Synchronous kernels (also installed as the active kernels unless `install: false`). */
  readonly kernels: KernelSet;
  /** Pooled asynchronous kernels (inline on the TS path or with `threads: 0`). */
  readonly pool: AsyncKernels;
  /**
   * Why `auto` did not get the fastest path: a build that failed to load, or the features the
   * runtime lacks for the WebAssembly kernels (absent otherwise). Also printed on stderr unless `quiet`.
   */
  readonly fallbackReason?: string;
  /** The wasm arena, or null on the TS path. */
  readonly arena: WasmArena | null;
  /** Float32Array inside wasm memory (zero-copy for the kernels); a plain array on the TS path. */
  allocF32(len: number): Float32Array;
  /** Float64Array inside wasm memory (plain on the TS path). */
  allocF64(len: number): Float64Array;
  /** Int32Array inside wasm memory (plain on the TS path). */
  allocI32(len: number): Int32Array;
  /** Frees an array from the alloc functions (no-op on the TS path). */
  free(arr: KernelArray): void;
  /** Closes the pool and restores the kernels that were active before (if installed). */
  close(): Promise<void>;
}


/**
 * Detects SIMD, relaxed SIMD and shared memory with tiny probe modules.
 * @param fma allow enabling relaxed SIMD in Node (default true)
 */
export async function detectFeatures(fma = true): Promise<WasmFeatures> {
  if (fma && isNode) {
    try {
      setRelaxedSimdFlag(await import('node:v8'));
    } catch {
      // not fatal: detection below reports whether the feature is usable
    }
  }
  return probeFeatures(fma);
}

const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/**
 * The bytes of long-lived arrays (a table and its optimizer state) that the applications put in
 * one kernel memory: 3.5 GiB of the 4 GiB a wasm32 memory holds, the rest for the kernels'
 * staging and scratch blocks.
 */
export const KERNEL_MEMORY_BUDGET = 3.5 * 2 ** 30;

async function loadModule(base: URL, path: 'simd' | 'fma'): Promise<WebAssembly.Module> {
  const url = new URL(`kernels-${path}.wasm`, base);
  const key = url.href;
  let p = moduleCache.get(key);
  if (!p) {
    p = (async () => {
      let bytes: ArrayBuffer | Uint8Array;
      if (url.protocol === 'file:') {
        const fs = await import('node:fs/promises');
        bytes = await fs.readFile(url);
      } else {
        const res = await fetch(url);
        if (!res.ok) throw new StateError(`cannot load ${url.href}: HTTP ${res.status}; run \`npm run build\` and serve the dist folder`);
        bytes = await res.arrayBuffer();
      }
      return WebAssembly.compile(bytes as BufferSource);
    })();
    moduleCache.set(key, p);
    p.catch(() => moduleCache.delete(key));
  }
  return p;
}

/** Default thread count: available cores. */
async function defaultThreads(): Promise<number> {
  if (isNode) {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  const hc = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return hc && hc > 0 ? hc : 1;
}

/**
 * Loads the fastest available kernels and returns a handle with the worker pool.
 * Fallback chain: relaxed-SIMD FMA build → SIMD128 build → TS reference.
 * @throws StateError when a forced `path` is not supported here; OptionError for bad options
 */
export async function initFastKernels(opts: FastKernelOptions = {}): Promise<FastKernels> {
  const want = opts.path ?? 'auto';
  choiceOption(want, 'path', ['auto', 'fma', 'simd', 'ts']);
  const fmaAllowed = opts.fma ?? true;
  if (want === 'fma' && !fmaAllowed) throw new OptionError("path 'fma' contradicts fma: false; drop one of them");
  const features = await detectFeatures(fmaAllowed);
  const path = choosePath(want, features);
  const threads = opts.threads === undefined ? await defaultThreads() : intOption(opts.threads, 'threads', 0);
  const install = opts.install ?? true;

  if (path !== 'ts' && want === 'auto') {
    // auto: a build that cannot be loaded (missing file, blocked fetch, worker failure) falls
    // back to the next one: fma -> simd -> ts
    const reasons: string[] = [];
    for (const p of path === 'fma' ? (['fma', 'simd'] as const) : (['simd'] as const)) {
      try {
        const fast = await startWasm(p, features, threads, install, opts, reasons.length ? reasons.join('; ') : undefined);
        if (fast.fallbackReason !== undefined && !opts.quiet) {
          warnOnce(`build:${fast.fallbackReason}`, `samplex: using the ${p} build of the WebAssembly kernels: ${fast.fallbackReason}`);
        }
        return fast;
      } catch (e) {
        reasons.push(`cannot load the ${p} build: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!opts.quiet) warnTsFallback(reasons.join('; '));
    return startTs(features, install, reasons.join('; '));
  }
  if (path !== 'ts') return startWasm(path, features, threads, install, opts, undefined);
  // `auto` on a runtime without the features is a fallback too; a forced 'ts' is not
  const missing = want === 'auto' ? missingFeatures(features) : null;
  if (missing !== null && !opts.quiet) warnTsFallback(missing);
  return startTs(features, install, missing ?? undefined);
}

/**
 * A copy of `table` whose weights and bias live in the fast kernels' memory, so that the kernels
 * read its rows in place instead of staging them on every call (per-query sampled losses gather
 * `B·m` rows per step). On the TS path it returns `table` itself. Train and evaluate with the
 * returned table; it stays valid until `fast.close()` (or `fast.free(t.weights)` and, if any,
 * `fast.free(t.bias)`).
 */
export function tableInKernelMemory(fast: FastKernels, table: ClassTable): ClassTable {
  if (fast.arena === null) return table;
  const weights = fast.allocF32(table.weights.length);
  weights.set(table.weights);
  let bias: Float32Array | null = null;
  if (table.bias) {
    bias = fast.allocF32(table.bias.length);
    bias.set(table.bias);
  }
  return new ClassTable(table.n, table.d, weights, bias);
}

/** Adds a kernel instance with its own memory to a handle (WebAssembly handles only). */
type AddPeer = () => Promise<{ arena: WasmArena; kernels: KernelSet }>;
const peerMakers = new WeakMap<FastKernels, AddPeer>();

/**
 * A copy of a sharded `table` whose float32 shards each live in their **own** kernel memory: a
 * further instance of the WebAssembly kernels with its own memory (a wasm32 memory holds at most
 * 4 GiB, so a table beyond that cannot live in one). The kernels of `fast` run every call whose
 * table, moments or output lies in such a memory on that memory's instance, in place: the sampled
 * steps' gathers, the optimizers' row updates (an optimizer created without a storage puts each
 * shard's state beside the shard) and evaluation read no staged copies. Keep each shard, with
 * its optimizer state (Adam: three times the shard), under 4 GiB. On the TS path it returns
 * `table` itself. The memories stay allocated until `fast.close()`.
 * @throws OptionError for bfloat16 shards, or a shard too large for one memory
 */
export async function shardedTableInKernelMemory(fast: FastKernels, table: ShardedClassTable): Promise<ShardedClassTable> {
  const addPeer = peerMakers.get(fast);
  if (fast.arena === null || addPeer === undefined) return table;
  const shards: ClassTable[] = [];
  for (let s = 0; s < table.shards.length; s++) {
    const t = table.shards[s]!;
    if (!(t instanceof ClassTable)) throw new OptionError('shardedTableInKernelMemory: bfloat16 shards are decoded per step and stay in JS memory; use float32 storage');
    const bytes = t.weights.length * 4 + (t.bias ? t.bias.length * 4 : 0);
    if (bytes > MAX_PAGES * 65536 - (64 << 20)) {
      throw new OptionError(`shardedTableInKernelMemory: shard ${s} holds ${bytes} bytes, more than one 4 GiB kernel memory; use more shards`);
    }
    const peer = await addPeer();
    const weights = peer.arena.allocF32(t.weights.length);
    weights.set(t.weights);
    let bias: Float32Array | null = null;
    if (t.bias) {
      bias = peer.arena.allocF32(t.bias.length);
      bias.set(t.bias);
    }
    shards.push(new ClassTable(t.n, t.d, weights, bias));
  }
  return new ShardedClassTable(shards);
}

/**
 * The path {@link initFastKernels} takes for a requested path and the detected features.
 * `auto` picks FMA, then SIMD, then TS.
 * @throws StateError when a forced path is not supported by `features`
 */
export function choosePath(want: KernelPath | 'auto', features: WasmFeatures): KernelPath {
  const wasmOk = features.simd && features.sharedMemory;
  if (want === 'auto') return wasmOk ? (features.relaxedSimd ? 'fma' : 'simd') : 'ts';
  if (want !== 'ts' && !wasmOk) {
    throw new StateError(`path '${want}' needs WebAssembly SIMD and shared memory (SharedArrayBuffer; cross-origin isolation in browsers); this runtime lacks them, use path 'ts' or 'auto'`);
  }
  if (want === 'fma' && !features.relaxedSimd) {
    throw new StateError("path 'fma' needs relaxed SIMD, which this runtime lacks; use 'simd' or 'auto'");
  }
  return want;
}

function startTs(features: WasmFeatures, install: boolean, fallbackReason: string | undefined): FastKernels {
  const pool = new InlineKernels(tsKernels);
  const prev = install ? useKernels(tsKernels) : null;
  const prevPool = install ? usePool(pool) : null;
  const prevMemory = install ? useMemory(null) : null;
  return {
    path: 'ts', features, kernels: tsKernels, pool, arena: null,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    allocF32: (len) => new Float32Array(len),
    allocF64: (len) => new Float64Array(len),
    allocI32: (len) => new Int32Array(len),
    free: () => {},
    close: async () => {
      if (prev) {
        useKernels(prev);
        usePool(prevPool);
        useMemory(prevMemory);
      }
    },
  };
}

async function startWasm(
  path: 'fma' | 'simd', features: WasmFeatures, threads: number, install: boolean, opts: FastKernelOptions,
  fallbackReason: string | undefined,
): Promise<FastKernels> {
  const base = opts.wasmBaseUrl !== undefined ? new URL(String(opts.wasmBaseUrl)) : new URL('./wasm/', import.meta.url);
  if (!base.href.endsWith('/')) base.href += '/';
  const module = await loadModule(base, path);
  const memory = WasmArena.createMemory(opts.initialMemoryBytes);
  const ex = await instantiateKernels(module, memory);
  const arena = new WasmArena(memory, ex.heapBase());
  const peers: PeerKernels[] = [];
  const workers = threads > 0 ? await KernelPool.create(module, arena, ex, threads) : null;
  const kernels = makeWasmKernelSet(`wasm-${path}`, ex, arena, peers, workers?.partsOn(0) ?? null);
  const pool: AsyncKernels = workers ?? new InlineKernels(kernels);
  const memoryOfArena = (a: WasmArena): KernelMemory => ({
    owns: (x) => a.owns(x), f32: (len) => a.allocF32(len), i32: (len) => a.allocI32(len), free: (x) => a.free(x), freeAt: (p) => a.release(p),
  });
  const peerMemories: KernelMemory[] = [];
  const mainMemory: KernelMemory = {
    ...memoryOfArena(arena),
    memoryOf: (x) => (arena.owns(x) ? mainMemory : peerMemories.find((m) => m.owns(x)) ?? null),
  };
  const prev = install ? useKernels(kernels) : null;
  const prevPool = install ? usePool(pool) : null;
  const prevMemory = install ? useMemory(mainMemory) : null;
  let closed = false;
  const fast: FastKernels = {
    path, features, kernels, pool, arena,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    allocF32: (len) => arena.allocF32(len),
    allocF64: (len) => arena.allocF64(len),
    allocI32: (len) => arena.allocI32(len),
    free: (arr) => arena.free(arr),
    close: async () => {
      if (closed) return;
      closed = true;
      if (prev) {
        useKernels(prev);
        usePool(prevPool);
        useMemory(prevMemory);
      }
      peers.length = 0;
      peerMemories.length = 0;
      await pool.close();
    },
  };
  peerMakers.set(fast, async () => {
    if (closed) throw new StateError('the fast kernels are closed; call initFastKernels again');
    const mem = WasmArena.createMemory();
    const pex = await instantiateKernels(module, mem);
    const parena = new WasmArena(mem, pex.heapBase());
    // the pool's workers get an instance on the new memory too, for the calls split over them
    const peerParts = workers === null ? null : await workers.addMemory(mem, (a) => parena.owns(a));
    const peer = { arena: parena, kernels: makeWasmKernelSet(`wasm-${path}`, pex, parena, [], peerParts) };
    peers.push(peer);
    peerMemories.push(memoryOfArena(parena));
    return peer;
  });
  return fast;
}
