/**
 * Opt-in TensorFlow.js kernels backed by samplex's WebAssembly kernels.
 *
 * Stock tfjs on the `wasm` backend has no `UnsortedSegmentSum` (the gradient of `tf.gather`,
 * so an embedding model cannot train there) and runs matrix products with a transposed operand
 * — both products of every dense layer's backward — at a few GFLOP/s. {@link registerSamplexKernels}
 * registers, for the chosen backends:
 * - `BatchMatMul` on samplex's SIMD kernels for every transpose combination (`A·Bᵀ` is
 *   `matmulNT`, `Aᵀ·B` the class-gradient accumulation, `A·B` the query-gradient accumulation;
 *   `Aᵀ·Bᵀ` transposes `B` first);
 * - `UnsortedSegmentSum` (a plain scatter-add), where the backend lacks it.
 * The previous kernels are restored by the returned handle's `unregister()`.
 *
 * Works with the `wasm` backend (tensor data read in place from its heap) and the `cpu`
 * backend; tfjs is only a type import here (optional peer dependency).
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { OptionError, ShapeError } from '../core/errors.js';
import { rejectUnknown } from '../core/validate.js';
import type { KernelSet } from '../kernels/index.js';
import { initFastKernels, type FastKernels } from '../kernels/fast.js';
import type { Tf } from './adapter.js';

/** Backends {@link registerSamplexKernels} knows how to read and write. */
export type SamplexTfBackend = 'wasm' | 'cpu';

/** Options of {@link registerSamplexKernels}. */
export interface RegisterKernelsOptions {
  /** Backends to register on (default `['wasm']`). */
  backends?: readonly SamplexTfBackend[];
  /**
   * The samplex kernels to run (default: `initFastKernels({threads: 0, install: false})`, the
   * best WebAssembly build for this runtime, or the TS reference where WebAssembly SIMD is missing).
   */
  fast?: FastKernels;
  /**
   * Which untransposed products `A·B` go to samplex (default `'samplex'`); `'stock'` keeps the
   * backend's own kernel for them and replaces only the transposed ones.
   */
  untransposed?: 'samplex' | 'stock';
}

/** Handle of registered kernels. */
export interface RegisteredKernels {
  /** Kernel names registered, as `Name@backend`. */
  readonly registered: readonly string[];
  /** The samplex kernels in use. */
  readonly fast: FastKernels;
  /** Restores the kernels that were registered before (and closes `fast` if it was created here). */
  unregister(): Promise<void>;
}

type Io = {
  /** Float32/Int32 view or copy of a tensor's data (call after allocating outputs). */
  read(t: tfc.TensorInfo): Float32Array | Int32Array;
  /** A new output tensor and a writable view of its data. */
  output(shape: number[], dtype: 'float32' | 'int32'): { info: tfc.TensorInfo; data: Float32Array | Int32Array };
};

/** The parts of the wasm backend used here. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tfc.DataType): tfc.TensorInfo;
  typedArrayFromHeap(t: tfc.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The parts of the cpu backend used here. */
interface CpuBackendLike {
  readSync(dataId: tfc.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tfc.DataType, values?: Float32Array | Int32Array): tfc.TensorInfo;
}

function ioFor(backendName: SamplexTfBackend, backend: unknown): Io {
  if (backendName === 'wasm') {
    const b = backend as WasmBackendLike;
    return {
      read: (t) => b.typedArrayFromHeap(t) as Float32Array | Int32Array,
      output: (shape, dtype) => {
        const info = b.makeOutput(shape, dtype);
        return { info, data: b.typedArrayFromHeap(info) as Float32Array | Int32Array };
      },
    };
  }
  const b = backend as CpuBackendLike;
  return {
    read: (t) => b.readSync(t.dataId) as Float32Array | Int32Array,
    output: (shape, dtype) => {
      const size = shape.reduce((x, y) => x * y, 1);
      const data = dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
      return { info: b.makeTensorInfo(shape, dtype, data), data };
    },
  };
}

/**
 * `out = op(A)·op(B)` for one matrix pair with samplex kernels; `a`, `b` row-major as stored
 * (`A` is `[M, K]`, or `[K, M]` when `ta`; `B` is `[K, N]`, or `[N, K]` when `tb`); `out` is
 * `[M, N]` and is overwritten.
 */
export function matmulInto(
  k: KernelSet, a: Float32Array, b: Float32Array, M: number, K: number, N: number, ta: boolean, tb: boolean, out: Float32Array,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    out.fill(0);
    return;
  }
  if (!ta && tb) {
    k.matmulNT(a, M, b, 0, N, K, out);
    return;
  }
  out.fill(0);
  if (!ta && !tb) {
    k.accumGradQueries(a, M, b, 0, K, N, out);
    return;
  }
  let bkn = b;
  if (tb) {
    // Aᵀ·Bᵀ: bring B to [K, N] and use the Aᵀ·B path
    bkn = new Float32Array(K * N);
    for (let n = 0; n < N; n++) for (let kk = 0; kk < K; kk++) bkn[kk * N + n] = b[n * K + kk]!;
  }
  k.accumGradClasses(a, K, M, bkn, N, out);
}

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Registers samplex's kernels for `BatchMatMul` (all transpose combinations, broadcasting over
 * a batch of 1) and, where missing, `UnsortedSegmentSum` on the given tfjs backends; see the
 * module notes. Call after the backend is registered (importing `@tensorflow/tfjs-backend-wasm`
 * does that); it need not be the active one. Shapes the samplex kernels do not cover (non-float32
 * products, general batch broadcasting) are passed on to the backend's own kernel.
 * @throws OptionError (unknown options or backends), StateError (a backend is not registered with tfjs)
 */
export async function registerSamplexKernels(tf: Tf, opts: RegisterKernelsOptions = {}): Promise<RegisteredKernels> {
  rejectUnknown(opts, ['backends', 'fast', 'untransposed'], 'registerSamplexKernels');
  const backends = opts.backends ?? ['wasm'];
  for (const b of backends) {
    if (b !== 'wasm' && b !== 'cpu') throw new OptionError(`registerSamplexKernels: backend '${String(b)}' is not supported; use 'wasm' or 'cpu'`);
  }
  const untransposed = opts.untransposed ?? 'samplex';
  if (untransposed !== 'samplex' && untransposed !== 'stock') throw new OptionError("registerSamplexKernels: untransposed must be 'samplex' or 'stock'");
  const ownFast = opts.fast === undefined;
  const fast = opts.fast ?? (await initFastKernels({ threads: 0, install: false }));
  const ks = fast.kernels;
  const restore: Array<() => void> = [];
  const registered: string[] = [];

  const replace = (name: string, backendName: SamplexTfBackend, kernelFunc: tfc.KernelFunc): void => {
    const prev = tf.getKernel(name, backendName);
    if (prev) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc });
    registered.push(`${name}@${backendName}`);
    restore.push(() => {
      tf.unregisterKernel(name, backendName);
      if (prev) tf.registerKernel(prev);
    });
  };

  for (const backendName of backends) {
    const stock = tf.getKernel('BatchMatMul', backendName);
    replace('BatchMatMul', backendName, (args) => {
      const { a, b } = args.inputs as { a: tfc.TensorInfo; b: tfc.TensorInfo };
      const { transposeA: ta, transposeB: tb } = args.attrs as unknown as BatchMatMulAttrs;
      const ra = a.shape.length;
      const rb = b.shape.length;
      const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const sameOuter = ra === rb && a.shape.slice(0, -2).every((v, i) => v === b.shape[i]);
      const simpleBatch = sameOuter || batchA === 1 || batchB === 1;
      const delegate = a.dtype !== 'float32' || b.dtype !== 'float32' || !simpleBatch || (!ta && !tb && untransposed === 'stock');
      if (delegate) {
        if (!stock) throw new ShapeError(`BatchMatMul: no ${backendName} kernel for these inputs (${a.dtype} [${a.shape.join(', ')}] × ${b.dtype} [${b.shape.join(', ')}])`);
        return stock.kernelFunc(args);
      }
      const M = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
      const K = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!;
      const Kb = tb ? b.shape[rb - 1]! : b.shape[rb - 2]!;
      const N = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
      if (K !== Kb) {
        throw new ShapeError(`matMul: inner dimensions differ: [${a.shape.join(', ')}]${ta ? 'ᵀ' : ''} × [${b.shape.join(', ')}]${tb ? 'ᵀ' : ''}`);
      }
      const outer = (batchA >= batchB ? a.shape : b.shape).slice(0, -2);
      const batch = Math.max(batchA, batchB);
      const io = ioFor(backendName, args.backend);
      const out = io.output([...outer, M, N], 'float32');
      const av = io.read(a) as Float32Array;
      const bv = io.read(b) as Float32Array;
      const o = out.data as Float32Array;
      for (let t = 0; t < batch; t++) {
        const at = batchA === 1 ? av : av.subarray(t * M * K, (t + 1) * M * K);
        const bt = batchB === 1 ? bv : bv.subarray(t * K * N, (t + 1) * K * N);
        matmulInto(ks, at, bt, M, K, N, ta, tb, batch === 1 ? o : o.subarray(t * M * N, (t + 1) * M * N));
      }
      return out.info;
    });
    if (!tf.getKernel('UnsortedSegmentSum', backendName)) {
      replace('UnsortedSegmentSum', backendName, (args) => {
        const { x, segmentIds } = args.inputs as { x: tfc.TensorInfo; segmentIds: tfc.TensorInfo };
        const numSegments = (args.attrs as unknown as { numSegments: number }).numSegments;
        const lead = segmentIds.shape.reduce((p, q) => p * q, 1);
        const rest = x.shape.slice(segmentIds.shape.length);
        const inner = rest.reduce((p, q) => p * q, 1);
        const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
        const io = ioFor(backendName, args.backend);
        const out = io.output([numSegments, ...rest], dtype);
        const xv = io.read(x);
        const ids = io.read(segmentIds);
        const o = out.data;
        o.fill(0);
        for (let r = 0; r < lead; r++) {
          const s = ids[r]!;
          if (s < 0 || s >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
          const oo = s * inner;
          const xo = r * inner;
          for (let c = 0; c < inner; c++) o[oo + c] += xv[xo + c]!;
        }
        return out.info;
      });
    }
  }
  let done = false;
  return {
    registered,
    fast,
    unregister: async () => {
      if (done) return;
      done = true;
      for (const r of restore.reverse()) r();
      if (ownFast) await fast.close();
    },
  };
}
