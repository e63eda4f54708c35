/**
 * Synchronous WebAssembly kernels with the {@link KernelSet} signatures: argument arrays
 * that live in the arena are used in place, others are staged (copied in/out) per call.
 * Browser-safe.
 * @module
 */
import { LabelRangeError, ShapeError } from '../core/errors.js';
import { warnOnce } from '../core/runtime.js';
import { WasmArena, type StagingFrame } from './arena.js';
import type { KernelSet } from './types.js';
import { mergeFusedParts } from './merge.js';
import * as ref from './ref.js';
import { copyRowsIn, copyRowsOut, gatherI32, iota, scatterI32 } from '../core/rows.js';

/** The raw exports of the compiled kernel module (all addresses are byte offsets). */
export interface KernelExports {
  matmulNT(a: number, aRows: number, c: number, cRows: number, d: number, out: number, ldo: number): void;
  gatherDot(a: number, rows: number, c: number, d: number, ids: number, m: number, shared: number, out: number): void;
  bucketDots(
    q: number, d: number, c: number, ids: number, groups: number, qRows: number, gOff: number, gA: number, gSize: number, out: number,
  ): void;
  accumRows(out: number, R: number, g: number, gsR: number, gsS: number, x: number, S: number, d: number): void;
  gatherAccumRows(out: number, rows: number, g: number, c: number, d: number, ids: number, m: number, shared: number): void;
  scatterAddRows(out: number, g: number, rows: number, h: number, d: number, slots: number, m: number, shared: number): void;
  fusedScratchBytes(rows: number, d: number): number;
  fusedSoftmaxTopK(
    a: number, rows: number, c: number, bias: number, n: number, d: number, k: number,
    outLse: number, outIds: number, outScores: number, scratch: number,
  ): void;
  softmaxWeights(s: number, rows: number, cols: number, bias: number, ref: number, factor: number): void;
  fullSoftmaxGrad(
    h: number, rows: number, c: number, cRows: number, d: number, bias: number, ref: number, factor: number,
    posRows: number, posIds: number, posGrad: number, P: number, cStart: number, blk: number, scratch: number,
    outH: number, outC: number, outBias: number,
  ): void;
  kmeansScratchBytes(kc: number): number;
  adamScratchBytes(): number;
  kmeansAssign(x: number, n: number, cent: number, kc: number, d: number, outIdx: number, outDist: number, scratch: number): void;
  nodeScores(phi: number, nodes: number, count: number, D: number, out: number): void;
  adamRows(
    w: number, m: number, v: number, d: number, ids: number, count: number, g: number, steps: number,
    lr: number, beta1: number, beta2: number, eps: number, scratch: number,
  ): void;
  adamAllRows(
    w: number, m: number, v: number, d: number, n: number, ids: number, count: number, g: number, steps: number,
    lr: number, beta1: number, beta2: number, eps: number, scratch: number,
  ): void;
  fillNormal(out: number, len: number, seed: number, scale: number, start: number): void;
  fillUniform(out: number, len: number, state: number, scale: number): void;
  heapBase(): number;
}

/** Names of the exported kernel functions a pool worker may run. */
export type KernelFn = Exclude<keyof KernelExports, 'heapBase' | 'fusedScratchBytes' | 'kmeansScratchBytes' | 'adamScratchBytes'>;

/** Instantiates the compiled module on `memory`. */
export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  return inst.exports as unknown as KernelExports;
}

/** Checks that every id is an integer in `[0, n)` (O(ids) — cheap next to the O(ids·d) kernel). */
export function checkIds(ids: Int32Array, len: number, n: number, what: string): void {
  if (len > ids.length) throw new ShapeError(`${what} has length ${ids.length}, but the call needs ${len}`);
  for (let t = 0; t < len; t++) {
    const v = ids[t]!;
    if (v < 0 || v >= n) throw new LabelRangeError(`${what}[${t}] = ${v} is outside [0, ${n}); pass ids of existing rows`);
  }
}

/** Below this many multiply-adds a call with staged (non-arena) arrays runs the TS reference. */
const SMALL_WORK = 2048;

/**
 * Bytes of a class table staged per block when the table is not in the arena (products and
 * evaluation stream over blocks of this size; a table of any size, even beyond one 4 GiB wasm
 * memory, is never copied whole).
 */
export const STAGE_BYTES = 32 << 20;

/** Classes per staged block of a `d`-dimensional table (a multiple of 128). */
export function stageClasses(d: number): number {
  return Math.max(128, Math.floor(STAGE_BYTES / (4 * Math.max(1, d)) / 128) * 128);
}

/**
 * Checks and stages the per-row and per-positive arguments of `fullSoftmaxGrad` (the queries, the
 * log-scales and factors, the positives), shared by the single-thread and the pooled call.
 */
export function stageFullGradInputs(
  f: StagingFrame, h: Float32Array, rows: number, d: number, refs: Float64Array, factor: Float64Array,
  posRows: Int32Array, posIds: Int32Array, posGrad: Float64Array,
): { ph: number; pr: number; pf: number; ppr: number; ppi: number; ppg: number; P: number } {
  const P = posIds.length;
  if (posRows.length !== P || posGrad.length !== P) {
    throw new ShapeError(`fullSoftmaxGrad: posRows, posIds and posGrad must have one length (got ${posRows.length}, ${P}, ${posGrad.length})`);
  }
  checkIds(posRows, P, rows, 'posRows');
  return {
    ph: f.ptr(h, 0, rows * d, 'in', 'h'),
    pr: f.ptr(refs, 0, rows, 'in', 'ref'),
    pf: f.ptr(factor, 0, rows, 'in', 'factor'),
    ppr: f.ptr(posRows, 0, P, 'in', 'posRows'),
    ppi: f.ptr(posIds, 0, P, 'in', 'posIds'),
    ppg: f.ptr(posGrad, 0, P, 'in', 'posGrad'),
    P,
  };
}

/**
 * Runs `body` on the classes `[cStart, cStart + cRows)` in chunks of `chunk` classes with the
 * chunk's table rows, biases and outputs staged (in place where they live in the arena): `s` is
 * the chunk's offset in the range, `cnt` its classes, then the addresses (0 for absent biases).
 */
export function forFullGradChunks(
  arena: WasmArena, c: Float32Array, bias: Float32Array | null, outC: Float32Array, outBias: Float32Array | null,
  cStart: number, cRows: number, d: number, chunk: number,
  body: (s: number, cnt: number, pc: number, pb: number, poc: number, pob: number) => void,
): void {
  for (let s = 0; s < cRows; s += chunk) {
    const cnt = Math.min(chunk, cRows - s);
    staged(arena, (g) => {
      const pc = g.ptr(c, (cStart + s) * d, cnt * d, 'in', 'c');
      const pb = bias ? g.ptr(bias, cStart + s, cnt, 'in', 'bias') : 0;
      const poc = g.ptr(outC, s * d, cnt * d, 'inout', 'outC');
      const pob = outBias ? g.ptr(outBias, s, cnt, 'inout', 'outBias') : 0;
      body(s, cnt, pc, pb, poc, pob);
    });
  }
}

/** Runs `body` with a staging frame; copies back and frees even when it throws. */
export function staged<T>(arena: WasmArena, body: (f: StagingFrame) => T): T {
  const f = arena.frame();
  let ok = false;
  try {
    const r = body(f);
    ok = true;
    return r;
  } finally {
    if (ok) f.finish();
    else f.release();
  }
}

/**
 * Stages the rows of `c` named by `ids` when `c` is not in the arena: returns the address of
 * a compact table and of identity ids (`shared` keeps one list of `m`).
 */
function gatherRows(
  f: StagingFrame, arena: WasmArena, c: Float32Array, d: number, ids: Int32Array, rows: number, m: number, shared: boolean,
): { c: number; ids: number } {
  if (arena.owns(c)) return { c: c.byteOffset, ids: f.ptr(ids, 0, shared ? m : rows * m, 'in', 'ids') };
  const cnt = shared ? m : rows * m;
  const t = f.tempF32(cnt * d);
  const idv = f.tempI32(cnt);
  copyRowsIn(t.view, c, ids, cnt, d);
  iota(idv.view, cnt);
  return { c: t.ptr, ids: idv.ptr };
}

/** Throws unless `ids[0 .. count)` are distinct (O(count) when they ascend, as the optimizers pass them). */
function checkDistinct(ids: Int32Array, count: number, what: string): void {
  let asc = true;
  for (let t = 1; t < count && asc; t++) asc = ids[t]! > ids[t - 1]!;
  if (asc) return;
  const seen = new Set<number>();
  for (let t = 0; t < count; t++) {
    if (seen.has(ids[t]!)) throw new ShapeError(`${what}: ids must be distinct; ${ids[t]} is listed twice`);
    seen.add(ids[t]!);
  }
}

/**
 * Copies the rows `ids[0 .. count)` of `arr` (`d` values each) into a compact staging block;
 * `back()` writes the block's rows back to their places in `arr`.
 */
function stageRows(
  f: StagingFrame, arr: Float32Array, d: number, ids: Int32Array, count: number,
): { ptr: number; back: () => void } {
  const t = f.tempF32(count * d);
  copyRowsIn(t.view, arr, ids, count, d);
  return { ptr: t.ptr, back: () => copyRowsOut(arr, t.view, ids, count, d) };
}

/**
 * Copies the listed ids `ids[p …]` below `end`, less `base`, to `out[p − shift …]` (ids ascending):
 * the listed rows of the rows `[base, end)`, numbered from `base`. Returns the first index not copied.
 */
function rebaseIdsBelow(ids: Int32Array, count: number, p: number, end: number, base: number, out: Int32Array, shift: number): number {
  while (p < count && ids[p]! < end) {
    out[p - shift] = ids[p]! - base;
    p++;
  }
  return p;
}

/** One worker's part of a split call: the kernel and its arguments (addresses in one memory). */
export type KernelPart = [KernelFn, number[]];

/**
 * Parts of one call run at once on the pool's workers, on their instances over one memory; the
 * calling thread blocks until all are done (Node only).
 */
export interface BlockingParts {
  /** Workers (at most this many parts per call). */
  readonly threads: number;
  /** Runs `parts[w]` on worker `w` and returns when every part is done. */
  run(parts: KernelPart[]): void;
}

/**
 * Fewest rows per worker for a row update (`adamRows`, `adamAllRows`) or a sharded gather
 * (`BlockingKernels.gatherRows`) to be split over the pool's workers.
 */
export const ROW_SPLIT_MIN = 256;

/**
 * Another instance of the kernel module with its own memory and arena (a wasm32 memory holds at
 * most 4 GiB, so data beyond that is spread over several): its kernels, which use its arrays in place.
 */
export interface PeerKernels {
  /** The peer's arena. */
  readonly arena: WasmArena;
  /** The peer's synchronous kernels. */
  readonly kernels: KernelSet;
}

type KernelName = Exclude<keyof KernelSet, 'name'>;

/**
 * Per kernel, the argument whose memory decides where the call runs: the large array (table,
 * moments, output) that the kernel would otherwise stage. A call whose such argument lives in a
 * peer's memory runs on the peer (its other arguments, small, are staged there).
 */
const HOME_ARG: Record<KernelName, number> = {
  matmulNT: 2, gatherDot: 2, bucketDots: 2, accumGradQueries: 2, accumGradClasses: 5, gatherAccumGradQueries: 2, scatterAddRows: 7,
  fusedSoftmaxTopK: 2, softmaxWeights: 0, fullSoftmaxGrad: 2, kmeansAssign: 0, nodeScores: 1, adamRows: 0, adamAllRows: 0, fillNormal: 0, fillUniform: 0,
};

/**
 * Builds the synchronous kernel set over an instantiated module.
 * @param name backend name reported in `KernelSet.name` (`"wasm-simd"` or `"wasm-fma"`)
 * @param peers other instances (may grow later): a call whose large argument lives in a peer's
 *   memory runs there, in place, instead of staging it here (see {@link PeerKernels})
 * @param parts the pool's workers on this memory (null without a pool that can split): the row
 *   updates split over them (see {@link ROW_SPLIT_MIN})
 */
export function makeWasmKernelSet(
  name: string, ex: KernelExports, arena: WasmArena, peers: readonly PeerKernels[] = [], parts: BlockingParts | null = null,
): KernelSet {
  const own = makeOwnKernelSet(name, ex, arena, parts);
  const out = { ...own };
  type AnyFn = (...a: unknown[]) => unknown;
  for (const k of Object.keys(HOME_ARG) as KernelName[]) {
    const at = HOME_ARG[k];
    const f = own[k] as AnyFn;
    (out as unknown as Record<KernelName, AnyFn>)[k] = (...args: unknown[]) => {
      if (peers.length > 0) {
        const a = args[at] as ArrayBufferView | null | undefined;
        if (a && !arena.owns(a)) {
          for (const p of peers) if (p.arena.owns(a)) return (p.kernels[k] as AnyFn)(...args);
        }
      }
      return f(...args);
    };
  }
  return out;
}

/** The kernel set of one instance (every argument outside its arena staged). */
function makeOwnKernelSet(name: string, ex: KernelExports, arena: WasmArena, par: BlockingParts | null): KernelSet {
  /**
   * A random fill by `kernel` (`start`: the stream position of `out[off]`): in place in the arena,
   * else through staged blocks (a multiple of the normal fill's chunk; same values).
   */
  const fill = (
    kernel: (out: number, len: number, state: number, scale: number, start: number) => void,
    out: Float32Array, off: number, len: number, state: Int32Array, scale: number, start: number,
  ): void => {
    staged(arena, (f) => {
      const ps = f.ptr(state, 0, 4, 'inout', 'state');
      if (arena.owns(out)) {
        kernel(f.ptr(out, off, len, 'out', 'out'), len, ps, scale, start);
        return;
      }
      if (off + len > out.length) throw new ShapeError(`out has length ${out.length}, but the call needs ${off + len} elements`);
      const blk = Math.min(len, STAGE_BYTES >> 2);
      const t = f.tempF32(blk);
      for (let s = 0; s < len; s += blk) {
        const cnt = Math.min(blk, len - s);
        kernel(t.ptr, cnt, ps, scale, start + s);
        out.set(cnt === blk ? t.view : t.view.subarray(0, cnt), off + s);
      }
    });
  };
  const set: KernelSet = {
    name,
    matmulNT(a, aRows, c, cStart, cRows, d, out) {
      if (aRows <= 0 || cRows <= 0) return;
      if (d === 0) return ref.matmulNT(a, aRows, c, cStart, cRows, d, out);
      if (aRows * cRows * d < SMALL_WORK && !(arena.owns(a) && arena.owns(c) && arena.owns(out))) {
        ref.matmulNT(a, aRows, c, cStart, cRows, d, out);
        return;
      }
      staged(arena, (f) => {
        const pa = f.ptr(a, 0, aRows * d, 'in', 'a');
        const pc = f.ptr(c, cStart * d, cRows * d, 'in', 'c');
        const po = f.ptr(out, 0, aRows * cRows, 'out', 'out');
        ex.matmulNT(pa, aRows, pc, cRows, d, po, cRows);
      });
    },
    gatherDot(a, rows, c, d, ids, m, shared, out) {
      if (rows <= 0 || m <= 0) return;
      if (d === 0) return ref.gatherDot(a, rows, c, d, ids, m, shared, out);
      checkIds(ids, shared ? m : rows * m, Math.floor(c.length / d), 'ids');
      staged(arena, (f) => {
        const pa = f.ptr(a, 0, rows * d, 'in', 'a');
        const g = gatherRows(f, arena, c, d, ids, rows, m, shared);
        const po = f.ptr(out, 0, rows * m, 'out', 'out');
        ex.gatherDot(pa, rows, g.c, d, g.ids, m, shared ? 1 : 0, po);
      });
    },
    bucketDots(q, d, c, ids, groups, qRows, gOff, gA, gSize, out) {
      if (groups <= 0) return;
      if (gOff.length < groups + 1 || gA.length < groups || gSize.length < groups) {
        throw new ShapeError(`bucketDots: gOff needs ${groups + 1} entries and gA, gSize ${groups} (got ${gOff.length}, ${gA.length}, ${gSize.length})`);
      }
      if (d === 0) return ref.bucketDots(q, d, c, ids, groups, qRows, gOff, gA, gSize, out);
      const nq = Math.floor(q.length / Math.max(1, d));
      const nc = Math.floor(c.length / Math.max(1, d));
      let total = 0;
      for (let g = 0; g < groups; g++) {
        const a = gA[g]!;
        const m = gSize[g]!;
        const r0 = gOff[g]!;
        const r1 = gOff[g + 1]!;
        if (!(a >= 0 && m >= 0 && a + m <= ids.length)) throw new ShapeError(`bucketDots: group ${g} takes ids [${a}, ${a + m}) of ${ids.length}`);
        if (!(r0 >= 0 && r1 >= r0 && r1 <= qRows.length)) throw new ShapeError(`bucketDots: group ${g} takes query rows [${r0}, ${r1}) of ${qRows.length}`);
        checkIds(ids.subarray(a, a + m), m, nc, 'ids');
        checkIds(qRows.subarray(r0, r1), r1 - r0, nq, 'qRows');
        total += (r1 - r0) * m;
      }
      if (total > out.length) throw new ShapeError(`out has length ${out.length}, but the call needs ${total} elements`);
      if (!arena.owns(c)) {
        // a table outside kernel memory: one staged gatherDot per group (the same values)
        let qs = new Float32Array(0);
        let o = 0;
        for (let g = 0; g < groups; g++) {
          const a = gA[g]!;
          const m = gSize[g]!;
          const r0 = gOff[g]!;
          const rows = gOff[g + 1]! - r0;
          if (rows === 0 || m === 0) continue;
          if (qs.length < rows * d) qs = new Float32Array(Math.max(rows * d, 2 * qs.length));
          for (let k = 0; k < rows; k++) qs.set(q.subarray(qRows[r0 + k]! * d, qRows[r0 + k]! * d + d), k * d);
          set.gatherDot(qs, rows, c, d, ids.subarray(a, a + m), m, true, out.subarray(o, o + rows * m));
          o += rows * m;
        }
        return;
      }
      staged(arena, (f) => {
        ex.bucketDots(
          f.ptr(q, 0, nq * d, 'in', 'q'), d, c.byteOffset, f.ptr(ids, 0, ids.length, 'in', 'ids'), groups,
          f.ptr(qRows, 0, qRows.length, 'in', 'qRows'), f.ptr(gOff, 0, groups + 1, 'in', 'gOff'), f.ptr(gA, 0, groups, 'in', 'gA'),
          f.ptr(gSize, 0, groups, 'in', 'gSize'), f.ptr(out, 0, total, 'out', 'out'),
        );
      });
    },
    accumGradQueries(g, rows, c, cStart, cRows, d, outH) {
      if (rows <= 0 || cRows <= 0 || d === 0) return;
      staged(arena, (f) => {
        const pg = f.ptr(g, 0, rows * cRows, 'in', 'g');
        const pc = f.ptr(c, cStart * d, cRows * d, 'in', 'c');
        const po = f.ptr(outH, 0, rows * d, 'inout', 'outH');
        ex.accumRows(po, rows, pg, cRows, 1, pc, cRows, d);
      });
    },
    accumGradClasses(g, rows, cRows, h, d, outC) {
      if (rows <= 0 || cRows <= 0 || d === 0) return;
      staged(arena, (f) => {
        const pg = f.ptr(g, 0, rows * cRows, 'in', 'g');
        const ph = f.ptr(h, 0, rows * d, 'in', 'h');
        const po = f.ptr(outC, 0, cRows * d, 'inout', 'outC');
        ex.accumRows(po, cRows, pg, 1, cRows, ph, rows, d);
      });
    },
    gatherAccumGradQueries(g, rows, c, d, ids, m, shared, outH) {
      if (rows <= 0 || m <= 0 || d === 0) return;
      checkIds(ids, shared ? m : rows * m, Math.floor(c.length / d), 'ids');
      staged(arena, (f) => {
        const pg = f.ptr(g, 0, rows * m, 'in', 'g');
        const gr = gatherRows(f, arena, c, d, ids, rows, m, shared);
        const po = f.ptr(outH, 0, rows * d, 'inout', 'outH');
        ex.gatherAccumRows(po, rows, pg, gr.c, d, gr.ids, m, shared ? 1 : 0);
      });
    },
    scatterAddRows(g, rows, h, d, slots, m, shared, out) {
      if (rows <= 0 || m <= 0 || d === 0) return;
      checkIds(slots, shared ? m : rows * m, Math.floor(out.length / d), 'slots');
      staged(arena, (f) => {
        const pg = f.ptr(g, 0, rows * m, 'in', 'g');
        const ph = f.ptr(h, 0, rows * d, 'in', 'h');
        const ps = f.ptr(slots, 0, shared ? m : rows * m, 'in', 'slots');
        const po = f.ptr(out, 0, out.length - (out.length % d), 'inout', 'out');
        ex.scatterAddRows(po, pg, rows, ph, d, ps, m, shared ? 1 : 0);
      });
    },
    fusedSoftmaxTopK(a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores) {
      if (rows <= 0) return;
      if (d === 0) return ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores);
      const inPlace = arena.owns(c) && (bias === null || arena.owns(bias));
      const blk = inPlace ? n : stageClasses(d);
      staged(arena, (f) => {
        const pa = f.ptr(a, 0, rows * d, 'in', 'a');
        const pl = f.ptr(outLse, 0, rows, 'out', 'outLse');
        const pi = f.ptr(outTopIds, 0, rows * k, 'out', 'outTopIds');
        const ps = f.ptr(outTopScores, 0, rows * k, 'out', 'outTopScores');
        const scratch = f.scratch(ex.fusedScratchBytes(rows, d));
        if (blk >= n) {
          const pc = f.ptr(c, 0, n * d, 'in', 'c');
          const pb = bias ? f.ptr(bias, 0, n, 'in', 'bias') : 0;
          ex.fusedSoftmaxTopK(pa, rows, pc, pb, n, d, k, pl, pi, ps, scratch);
          return;
        }
        // the table is not in the arena: stream it through one staged block of classes and merge
        // each block's log-sum-exps and top-k lists into the running ones
        if (c.length < n * d) throw new ShapeError(`c has length ${c.length}, but the call needs ${n * d} elements; pass a larger array or fix the sizes`);
        if (bias && bias.length < n) throw new ShapeError(`bias has length ${bias.length}, but the call needs ${n} elements`);
        const cb = f.tempF32(blk * d);
        const bb = bias ? f.tempF32(blk) : null;
        const tl = f.scratch(rows * 8);
        const ti = f.scratch(Math.max(1, rows * k) * 4);
        const tsc = f.scratch(Math.max(1, rows * k) * 4);
        for (let s = 0; s < n; s += blk) {
          const cnt = Math.min(blk, n - s);
          cb.view.set(c.subarray(s * d, (s + cnt) * d));
          if (bb) bb.view.set(bias!.subarray(s, s + cnt));
          const first = s === 0;
          ex.fusedSoftmaxTopK(pa, rows, cb.ptr, bb ? bb.ptr : 0, cnt, d, k, first ? pl : tl, first ? pi : ti, first ? ps : tsc, scratch);
          if (first) continue;
          const buf = arena.buffer;
          const acc = { offset: 0, lse: new Float64Array(buf, pl, rows), ids: new Int32Array(buf, pi, rows * k), scores: new Float32Array(buf, ps, rows * k) };
          mergeFusedParts(
            [acc, { offset: s, lse: new Float64Array(buf, tl, rows), ids: new Int32Array(buf, ti, rows * k), scores: new Float32Array(buf, tsc, rows * k) }],
            rows, k, acc.lse, acc.ids, acc.scores,
          );
        }
      });
    },
    softmaxWeights(sc, rows, cols, bias, biasStart, refs, factor) {
      if (rows <= 0 || cols <= 0) return;
      staged(arena, (f) => {
        const ps = f.ptr(sc, 0, rows * cols, 'inout', 's');
        const pb = bias ? f.ptr(bias, biasStart, cols, 'in', 'bias') : 0;
        const pr = f.ptr(refs, 0, rows, 'in', 'ref');
        const pf = f.ptr(factor, 0, rows, 'in', 'factor');
        ex.softmaxWeights(ps, rows, cols, pb, pr, pf);
      });
    },
    fullSoftmaxGrad(h, rows, c, cStart, cRows, d, bias, refs, factor, posRows, posIds, posGrad, blockSize, outH, outC, outBias) {
      if (rows <= 0 || cRows <= 0) return;
      if (d === 0) return ref.fullSoftmaxGrad(h, rows, c, cStart, cRows, d, bias, refs, factor, posRows, posIds, posGrad, blockSize, outH, outC, outBias);
      const blk = Math.max(1, Math.min(blockSize, cRows));
      // in place when the table and the outputs live here; else through chunks of whole blocks
      // (the same blocks, so the same bits)
      const inPlace = arena.owns(c) && arena.owns(outC) && (bias === null || arena.owns(bias)) && (outBias === null || arena.owns(outBias));
      const chunk = inPlace ? cRows : Math.max(1, Math.floor(stageClasses(d) / blk)) * blk;
      staged(arena, (f) => {
        const { ph, pr, pf, ppr, ppi, ppg, P } = stageFullGradInputs(f, h, rows, d, refs, factor, posRows, posIds, posGrad);
        const po = f.ptr(outH, 0, rows * d, 'inout', 'outH');
        const scratch = f.scratch(rows * blk * 4);
        forFullGradChunks(arena, c, bias, outC, outBias, cStart, cRows, d, chunk, (s, cnt, pc, pb, poc, pob) => {
          ex.fullSoftmaxGrad(ph, rows, pc, cnt, d, pb, pr, pf, ppr, ppi, ppg, P, cStart + s, blk, scratch, po, poc, pob);
        });
      });
    },
    kmeansAssign(x, n, cent, kc, d, outIdx, outDist) {
      if (n <= 0) return;
      if (kc <= 0) throw new ShapeError('kmeansAssign needs at least one centroid (kc >= 1)');
      if (d === 0) return ref.kmeansAssign(x, n, cent, kc, d, outIdx, outDist);
      staged(arena, (f) => {
        const px = f.ptr(x, 0, n * d, 'in', 'x');
        const pc = f.ptr(cent, 0, kc * d, 'in', 'centroids');
        const pi = f.ptr(outIdx, 0, n, 'out', 'outIdx');
        const pd = outDist ? f.ptr(outDist, 0, n, 'out', 'outDist') : 0;
        const scratch = f.scratch(ex.kmeansScratchBytes(kc));
        ex.kmeansAssign(px, n, pc, kc, d, pi, pd, scratch);
      });
    },
    adamRows(w, m, v, d, ids, count, grad, rowSteps, lr, beta1, beta2, eps) {
      if (count <= 0 || d === 0) {
        ref.adamRows(w, m, v, d, ids, count, grad, rowSteps, lr, beta1, beta2, eps);
        return;
      }
      checkIds(ids, count, Math.min(Math.floor(w.length / d), Math.floor(m.length / d), Math.floor(v.length / d), rowSteps.length), 'ids');
      if (grad.length < count * d) throw new ShapeError(`adamRows: grad has ${grad.length} values, ${count} rows of ${d} need ${count * d}`);
      if (arena.owns(w) && arena.owns(m) && arena.owns(v) && arena.owns(rowSteps)) {
        // many ascending (so distinct: no row in two parts) rows: split over the pool's workers,
        // each with its own memo; the rows are independent, so the result is that of one call
        const T = par === null ? 1 : Math.min(par.threads, Math.floor(count / ROW_SPLIT_MIN));
        let split = T > 1;
        for (let t = 1; t < count && split; t++) split = ids[t]! > ids[t - 1]!;
        staged(arena, (f) => {
          const pi = f.ptr(ids, 0, count, 'in', 'ids');
          const pg = f.ptr(grad, 0, count * d, 'in', 'grad');
          if (par === null || !split) {
            ex.adamRows(w.byteOffset, m.byteOffset, v.byteOffset, d, pi, count, pg, rowSteps.byteOffset, lr, beta1, beta2, eps, f.scratch(ex.adamScratchBytes()));
            return;
          }
          const chunk = Math.ceil(count / T);
          const list: KernelPart[] = [];
          for (let a = 0; a < count; a += chunk) {
            const cnt = Math.min(chunk, count - a);
            list.push(['adamRows', [w.byteOffset, m.byteOffset, v.byteOffset, d, pi + 4 * a, cnt, pg + 4 * a * d, rowSteps.byteOffset, lr, beta1, beta2, eps, f.scratch(ex.adamScratchBytes())]]);
          }
          par.run(list);
        });
        return;
      }
      // the table or its moments live outside the arena: stage only the listed rows (ids are
      // distinct, so the compact rows can be written back in any order)
      checkDistinct(ids, count, 'adamRows');
      staged(arena, (f) => {
        const rw = stageRows(f, w, d, ids, count);
        const rm = stageRows(f, m, d, ids, count);
        const rv = stageRows(f, v, d, ids, count);
        const rs = f.tempI32(count);
        const idv = f.tempI32(count);
        gatherI32(rs.view, rowSteps, ids, count);
        iota(idv.view, count);
        const pg = f.ptr(grad, 0, count * d, 'in', 'grad');
        ex.adamRows(rw.ptr, rm.ptr, rv.ptr, d, idv.ptr, count, pg, rs.ptr, lr, beta1, beta2, eps, f.scratch(ex.adamScratchBytes()));
        rw.back();
        rm.back();
        rv.back();
        scatterI32(rowSteps, rs.view, ids, count);
      });
    },
    adamAllRows(w, m, v, d, n, ids, count, grad, rowSteps, lr, beta1, beta2, eps) {
      if (n <= 0 || d === 0) {
        ref.adamAllRows(w, m, v, d, n, ids, count, grad, rowSteps, lr, beta1, beta2, eps);
        return;
      }
      if (n > Math.min(Math.floor(w.length / d), Math.floor(m.length / d), Math.floor(v.length / d), rowSteps.length)) {
        throw new ShapeError(`adamAllRows: ${n} rows of ${d} do not fit the table, moments and step counts`);
      }
      checkIds(ids, count, n, 'ids');
      for (let t = 1; t < count; t++) {
        if (ids[t]! <= ids[t - 1]!) throw new ShapeError(`adamAllRows: ids must be strictly ascending; ids[${t - 1}] = ${ids[t - 1]}, ids[${t}] = ${ids[t]}`);
      }
      if (grad.length < count * d) throw new ShapeError(`adamAllRows: grad has ${grad.length} values, ${count} rows of ${d} need ${count * d}`);
      if (arena.owns(w) && arena.owns(m) && arena.owns(v) && arena.owns(rowSteps)) {
        const T = par === null ? 1 : Math.min(par.threads, Math.floor(n / ROW_SPLIT_MIN));
        staged(arena, (f) => {
          const pi = count > 0 ? f.ptr(ids, 0, count, 'in', 'ids') : 0;
          const pg = count > 0 ? f.ptr(grad, 0, count * d, 'in', 'grad') : 0;
          if (par === null || T < 2) {
            ex.adamAllRows(w.byteOffset, m.byteOffset, v.byteOffset, d, n, pi, count, pg, rowSteps.byteOffset, lr, beta1, beta2, eps, f.scratch(ex.adamScratchBytes()));
            return;
          }
          // contiguous ranges of rows, one per worker, each with the listed ids in it (rebased),
          // as the staged blocks below: the rows are independent, so the bits of one call
          const rows = Math.ceil(n / T);
          const local = f.tempI32(Math.max(1, count));
          const list: KernelPart[] = [];
          let p = 0;
          for (let s = 0; s < n; s += rows) {
            const e = Math.min(n, s + rows);
            const p0 = p;
            p = rebaseIdsBelow(ids, count, p, e, s, local.view, 0);
            const at = 4 * s * d;
            list.push(['adamAllRows', [
              w.byteOffset + at, m.byteOffset + at, v.byteOffset + at, d, e - s, local.ptr + 4 * p0, p - p0, pg + 4 * p0 * d,
              rowSteps.byteOffset + 4 * s, lr, beta1, beta2, eps, f.scratch(ex.adamScratchBytes()),
            ]]);
          }
          par.run(list);
        });
        return;
      }
      // the table or its state outside the arena: stream every row through staged blocks (a
      // dense update reads and writes all n rows anyway; one block of each array at a time)
      const blk = Math.max(1, Math.floor(STAGE_BYTES / (3 * 4 * d)));
      staged(arena, (f) => {
        const tw = f.tempF32(blk * d);
        const tm = f.tempF32(blk * d);
        const tv = f.tempF32(blk * d);
        const ts = f.tempI32(blk);
        const ti = f.tempI32(Math.max(1, Math.min(blk, count)));
        const pg = count > 0 ? f.ptr(grad, 0, count * d, 'in', 'grad') : 0;
        const memo = f.scratch(ex.adamScratchBytes());
        let p = 0;
        for (let s = 0; s < n; s += blk) {
          const e = Math.min(n, s + blk);
          const len = (e - s) * d;
          tw.view.set(w.subarray(s * d, e * d));
          tm.view.set(m.subarray(s * d, e * d));
          tv.view.set(v.subarray(s * d, e * d));
          ts.view.set(rowSteps.subarray(s, e));
          const p0 = p;
          p = rebaseIdsBelow(ids, count, p, e, s, ti.view, p0);
          ex.adamAllRows(tw.ptr, tm.ptr, tv.ptr, d, e - s, ti.ptr, p - p0, pg + p0 * d * 4, ts.ptr, lr, beta1, beta2, eps, memo);
          w.set(tw.view.subarray(0, len), s * d);
          m.set(tm.view.subarray(0, len), s * d);
          v.set(tv.view.subarray(0, len), s * d);
          rowSteps.set(ts.view.subarray(0, e - s), s);
        }
      });
    },
    fillNormal(out, off, len, seed, scale, start = 0) {
      if (len <= 0) return;
      if (start % ref.NORMAL_CHUNK !== 0) throw new ShapeError(`fillNormal: start ${start} must be a multiple of ${ref.NORMAL_CHUNK}`);
      if (len < SMALL_WORK) return ref.fillNormal(out, off, len, seed, scale, start);
      fill(ex.fillNormal, out, off, len, seed, scale, start);
    },
    fillUniform(out, off, len, state, scale) {
      if (len <= 0) return;
      if (len < SMALL_WORK) return ref.fillUniform(out, off, len, state, scale);
      fill((o, l, st, sc) => ex.fillUniform(o, l, st, sc), out, off, len, state, scale, 0);
    },
    nodeScores(phi, nodes, count, D, out) {
      if (count <= 0) return;
      if (D === 0) return ref.nodeScores(phi, nodes, count, D, out);
      if (count * D < SMALL_WORK && !(arena.owns(phi) && arena.owns(nodes) && arena.owns(out))) {
        ref.nodeScores(phi, nodes, count, D, out);
        return;
      }
      staged(arena, (f) => {
        const pp = f.ptr(phi, 0, D, 'in', 'phi');
        const pn = f.ptr(nodes, 0, count * D, 'in', 'nodes');
        const po = f.ptr(out, 0, count, 'out', 'out');
        ex.nodeScores(pp, pn, count, D, po);
      });
    },
  };
  return set;
}
