/**
 * Worker pool for the big kernels (blocked products, fused evaluator, k-means assignment):
 * `threads` workers share one `WebAssembly.Memory`, each call is split by rows (or class
 * blocks) and the parts run in parallel. Each worker also holds an instance on every further
 * memory given to {@link KernelPool.addMemory} (a table shard's), for the row updates and row
 * gathers that synchronous steps split over the workers ({@link KernelPool.partsOn},
 * {@link BlockingKernels.gatherRows}). Node uses `worker_threads`, browsers module Web
 * Workers; Node modules are only imported dynamically on the Node path.
 * @module
 */
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import { isNode } from '../core/runtime.js';
import type { WasmArena, StagingFrame } from './arena.js';
import type { AsyncKernels, BlockingKernels, KernelSet } from './types.js';
import { mergeFusedParts } from './merge.js';
import * as ref from './ref.js';
import { forFullGradChunks, stageClasses, staged, stageFullGradInputs, type BlockingParts, type KernelExports, type KernelFn, type KernelPart, ROW_SPLIT_MIN } from './wasmKernels.js';
import type { FromWorker, GatherSegment, ToWorker } from './wasm-worker.js';

export type { AsyncKernels } from './types.js';

/** Runs the synchronous kernels on the calling thread behind the async interface. */
export class InlineKernels implements AsyncKernels {
  readonly threads = 1;
  private readonly k: KernelSet;
  /** @param k the kernels to run (e.g. the TS reference) */
  constructor(k: KernelSet) {
    this.k = k;
  }
  async matmulNT(...args: Parameters<KernelSet['matmulNT']>): Promise<void> {
    this.k.matmulNT(...args);
  }
  async fusedSoftmaxTopK(...args: Parameters<KernelSet['fusedSoftmaxTopK']>): Promise<void> {
    this.k.fusedSoftmaxTopK(...args);
  }
  async kmeansAssign(...args: Parameters<KernelSet['kmeansAssign']>): Promise<void> {
    this.k.kmeansAssign(...args);
  }
  async close(): Promise<void> {}
}

interface WorkerHandle {
  post(m: ToWorker): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<void>;
}


async function spawn(url: URL, onMessage: (m: FromWorker) => void, onError: (e: Error) => void): Promise<WorkerHandle> {
  if (isNode) {
    // the parent's flags minus those a worker refuses (V8 options, `--input-type`, …)
    const { spawnNodeWorker } = await import('./nodeWorker.js');
    const w = spawnNodeWorker(url, {}, false); // the worker runs the module itself, not the dispatch table
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', (code) => {
      if (code !== 0) onError(new Error(`kernel worker exited with code ${code}`));
    });
    return {
      post: (m) => w.postMessage(m),
      ref: () => w.ref(),
      unref: () => w.unref(),
      terminate: async () => {
        await w.terminate();
      },
    };
  }
  const w = new Worker(url, { type: 'module' });
  w.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  w.onerror = (e) => onError(new Error(`kernel worker failed: ${e.message}`));
  return { post: (m) => w.postMessage(m), ref: () => {}, unref: () => {}, terminate: async () => w.terminate() };
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
  worker: number;
}

/** Splits `[0, total)` into at most `parts` ranges whose starts are multiples of 4. */
function split(total: number, parts: number): Array<[number, number]> {
  const chunk = Math.max(4, Math.ceil(total / parts / 4) * 4);
  const out: Array<[number, number]> = [];
  for (let s = 0; s < total; s += chunk) out.push([s, Math.min(total, s + chunk)]);
  return out;
}

/** Below this many classes per worker, the fused evaluation is not split by classes. */
const CLASS_SPLIT_MIN = 1024;

/** Longest wait for one part of a blocking call before the pool is declared broken. */
const BLOCKING_TIMEOUT_MS = 600_000;

/** A pool of kernel workers over one arena. Create with {@link KernelPool.create}. */
export class KernelPool implements AsyncKernels {
  readonly threads: number;
  private readonly arena: WasmArena;
  private readonly ex: KernelExports;
  private workers: WorkerHandle[] = [];
  private readonly busy: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** The kernels' module (instantiated by the workers on further memories, {@link KernelPool.addMemory}). */
  private module: WebAssembly.Module | null = null;
  /** The next free memory slot (0 is the pool's own memory). */
  private nextSlot = 1;
  /** Whether an array lives in the memory of each slot. */
  private readonly owners: Array<(arr: ArrayBufferView) => boolean> = [];
  private closed = false;
  private broken: StateError | null = null;
  /** One flag per worker for blocking calls: 0 running, 1 done, 2 failed. */
  private readonly flags: Int32Array;
  /**
   * This pool behind a synchronous interface (the calling thread blocks on shared flags with
   * `Atomics.wait`), in Node; null in a browser, whose main thread may not block.
   */
  readonly blocking: BlockingKernels | null;

  private constructor(arena: WasmArena, ex: KernelExports, threads: number) {
    this.arena = arena;
    this.ex = ex;
    this.threads = threads;
    this.busy = new Array<number>(threads).fill(0);
    this.flags = new Int32Array(new SharedArrayBuffer(4 * threads));
    this.owners[0] = (a) => arena.owns(a);
    this.blocking = isNode ? this.makeBlocking() : null;
  }

  /**
   * Starts `threads` workers running `module` on the arena's shared memory.
   * @param ex the main thread's instance (used for scratch-size queries)
   * @param workerUrl URL of the built `wasm-worker.js` (defaults to the one next to this file)
   */
  static async create(
    module: WebAssembly.Module, arena: WasmArena, ex: KernelExports, threads: number, workerUrl?: URL,
  ): Promise<KernelPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new OptionError(`threads must be an integer >= 1, got ${threads}`);
    const pool = new KernelPool(arena, ex, threads);
    pool.module = module;
    const url = workerUrl ?? new URL('./wasm-worker.js', import.meta.url);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < threads; w++) {
      let markReady!: () => void;
      let failReady!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => {
        markReady = res;
        failReady = rej;
      }));
      const handle = await spawn(
        url,
        (m) => {
          if (m.type === 'ready') markReady();
          else pool.settle(m);
        },
        (e) => {
          failReady(e);
          pool.fail(w, e);
        },
      );
      pool.workers.push(handle);
      handle.post({ type: 'init', module, memory: arena.memory, flags: pool.flags.buffer as SharedArrayBuffer, index: w });
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    for (const w of pool.workers) w.unref();
    return pool;
  }

  private settle(m: FromWorker): void {
    if (m.type === 'ready' || this.closed) return; // 'ready' only narrows the type (create consumed it); once closed, every pending call rejects
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (--this.busy[p.worker]! === 0) this.workers[p.worker]?.unref();
    if (m.type === 'done') p.resolve();
    else p.reject(new StateError(`kernel worker failed: ${m.message}`));
  }

  private fail(worker: number, e: Error): void {
    // a dead worker would leave later calls waiting forever: refuse them instead
    if (!this.closed) this.broken ??= new StateError(`a kernel worker failed (${e.message}); close this pool and create a new one`);
    const err = this.closed ? new StateError('the kernel pool was closed while a call was running') : e;
    for (const [id, p] of this.pending) {
      if (p.worker === worker) {
        this.pending.delete(id);
        p.reject(err);
      }
    }
  }

  private run(worker: number, fn: KernelFn, args: number[]): Promise<void> {
    return this.request(worker, (id) => ({ type: 'run', id, fn, args }));
  }

  /** Posts the message `make(id)` to worker `worker`; settles when it replies for `id`. */
  private request(worker: number, make: (id: number) => ToWorker): Promise<void> {
    if (this.closed) return Promise.reject(new StateError('the kernel pool is closed; create a new one'));
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    const w = this.workers[worker]!;
    if (this.busy[worker]!++ === 0) w.ref();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      w.post(make(id));
    });
  }

  /**
   * Gives every worker an instance of the kernels on a further shared memory (a table shard's
   * own memory), where the pool can split blocking calls (see {@link KernelPool.partsOn}): resolves
   * to the blocking row-split calls on that memory, or null (nothing done) where it cannot.
   * @param owns whether an array lives in `memory`
   * @throws StateError when the pool is closed or broken
   */
  async addMemory(memory: WebAssembly.Memory, owns: (arr: ArrayBufferView) => boolean): Promise<BlockingParts | null> {
    const module = this.module;
    if (module === null) throw new StateError('the kernel pool has no module');
    if (this.partsOn(0) === null) return null;
    const slot = this.nextSlot++;
    this.owners[slot] = owns;
    await Promise.all(this.workers.map((_, w) => this.request(w, (id) => ({ type: 'memory', id, module, memory, slot }))));
    return this.partsOn(slot);
  }

  /**
   * Blocking row-split calls on the instances of memory `slot` (0: the pool's own; others are
   * given by {@link KernelPool.addMemory}): null in a browser (its main thread may not block) and
   * with one worker (nothing to split).
   */
  partsOn(slot: number): BlockingParts | null {
    if (this.blocking === null || this.threads < 2) return null;
    return { threads: this.threads, run: (parts) => this.runBlocking(parts, slot) };
  }

  /**
   * Runs `parts[w]` on worker `w` and blocks the calling thread until every part is done (no
   * return to the event loop). A failed part throws after all have finished; a part that does
   * not finish within {@link BLOCKING_TIMEOUT_MS} marks the pool broken.
   */
  private runBlocking(parts: KernelPart[], slot = 0): void {
    this.block(parts.map(([fn, args]) => ({ type: 'runBlocking', fn, args, slot })), parts[0]![0]);
  }

  /** Posts `msgs[w]` (parts of one blocking call) to worker `w` and waits for all; `what` names the call in errors. */
  private block(msgs: ToWorker[], what: string): void {
    if (this.closed) throw new StateError('the kernel pool is closed; create a new one');
    if (this.broken) throw this.broken;
    if (msgs.length > this.threads) throw new StateError(`a blocking call has ${msgs.length} parts for ${this.threads} workers`);
    msgs.forEach((m, w) => {
      Atomics.store(this.flags, w, 0);
      this.workers[w]!.post(m);
    });
    let failed = false;
    for (let w = 0; w < msgs.length; w++) {
      const t0 = Date.now();
      while (Atomics.load(this.flags, w) === 0) {
        if (Atomics.wait(this.flags, w, 0, 1000) === 'timed-out' && Date.now() - t0 > BLOCKING_TIMEOUT_MS) {
          this.broken = new StateError(`a kernel worker did not finish its part within ${BLOCKING_TIMEOUT_MS / 1000} s; close this pool and create a new one`);
          throw this.broken;
        }
      }
      if (Atomics.load(this.flags, w) === 2) failed = true;
    }
    if (failed) throw new StateError(`a kernel worker failed in ${what} (a WebAssembly trap); check the sizes passed to the kernel`);
  }

  private makeBlocking(): BlockingKernels {
    const arena = this.arena;
    const inArena = (what: string, ...arrs: Array<ArrayBufferView | null>): void => {
      for (const a of arrs) {
        if (a !== null && !arena.owns(a)) throw new OptionError(`${what}: the table must live in the pool's kernel memory (tableInKernelMemory) for a blocking call`);
      }
    };
    const slotOf = (a: ArrayBufferView): number => this.owners.findIndex((owns) => owns(a));
    return {
      threads: this.threads,
      owns: (a) => arena.owns(a),
      gatherRows: (dst, segments, d) => {
        const T = this.threads;
        let total = 0;
        for (const g of segments) total += g.count;
        const dstSlot = slotOf(dst);
        if (T < 2 || total < 2 * ROW_SPLIT_MIN || dstSlot < 0) return false;
        const srcSlots = segments.map((g) => slotOf(g.src));
        if (srcSlots.some((x) => x < 0)) return false;
        // contiguous runs of rows of about total / T each, cut across the segments
        const per = Math.ceil(total / T);
        const msgs: ToWorker[] = [];
        let segs: GatherSegment[] = [];
        let room = per;
        segments.forEach((g, i) => {
          let done = 0;
          while (done < g.count) {
            const take = Math.min(room, g.count - done);
            segs.push([srcSlots[i]!, g.src.byteOffset, g.dstRow + done, g.ids.slice(g.iOff + done, g.iOff + done + take)]);
            done += take;
            room -= take;
            if (room === 0) {
              msgs.push({ type: 'gatherBlocking', dstSlot, dst: dst.byteOffset, d, segs });
              segs = [];
              room = per;
            }
          }
        });
        if (segs.length > 0) msgs.push({ type: 'gatherBlocking', dstSlot, dst: dst.byteOffset, d, segs });
        this.block(msgs, 'gatherRows');
        return true;
      },
      fusedSoftmaxTopK: (a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores) => {
        if (rows <= 0) return;
        if (d === 0) return ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores);
        inArena('fusedSoftmaxTopK', c, bias);
        staged(arena, (f) => {
          const pa = f.ptr(a, 0, rows * d, 'in', 'a');
          const pc = f.ptr(c, 0, n * d, 'in', 'c');
          const pb = bias ? f.ptr(bias, 0, n, 'in', 'bias') : 0;
          const pl = f.ptr(outLse, 0, rows, 'out', 'outLse');
          const pi = f.ptr(outTopIds, 0, rows * k, 'out', 'outTopIds');
          const ps = f.ptr(outTopScores, 0, rows * k, 'out', 'outTopScores');
          const plan = this.fusedPlan(f, pa, rows, pc, pb, n, d, k, pl, pi, ps);
          this.runBlocking(plan.parts);
          plan.merge();
        });
      },
      fullSoftmaxGrad: (h, rows, c, cStart, cRows, d, bias, refs, factor, posRows, posIds, posGrad, blockSize, outH, outC, outBias) => {
        if (rows <= 0 || cRows <= 0) return;
        if (d === 0) return ref.fullSoftmaxGrad(h, rows, c, cStart, cRows, d, bias, refs, factor, posRows, posIds, posGrad, blockSize, outH, outC, outBias);
        inArena('fullSoftmaxGrad', c, bias);
        const T = this.threads;
        const blk = Math.max(1, Math.min(blockSize, cRows));
        // chunks of whole blocks (outC staged per chunk when it is not in the arena), each split
        // over the workers at multiples of the block size (the same blocks as one call)
        const outInPlace = arena.owns(outC) && (outBias === null || arena.owns(outBias));
        const chunk = outInPlace ? cRows : Math.max(1, Math.floor(stageClasses(d) / (blk * T))) * blk * T;
        staged(arena, (f) => {
          const { ph, pr, pf, ppr, ppi, ppg, P } = stageFullGradInputs(f, h, rows, d, refs, factor, posRows, posIds, posGrad);
          const partsH = Array.from({ length: T }, () => {
            const t = f.tempF32(rows * d);
            t.view.fill(0);
            return t;
          });
          const scratch = Array.from({ length: T }, () => f.scratch(rows * blk * 4));
          forFullGradChunks(arena, c, bias, outC, outBias, cStart, cRows, d, chunk, (s, cnt, pc, pb, poc, pob) => {
            const per = Math.ceil(Math.ceil(cnt / blk) / T) * blk;
            const parts: KernelPart[] = [];
            for (let a = 0, w = 0; a < cnt; a += per, w++) {
              const e = Math.min(cnt, a + per);
              parts.push(['fullSoftmaxGrad', [
                ph, rows, pc + a * d * 4, e - a, d, pb ? pb + a * 4 : 0, pr, pf, ppr, ppi, ppg, P, cStart + s + a, blk, scratch[w]!,
                partsH[w]!.ptr, poc + a * d * 4, pob ? pob + a * 4 : 0,
              ]]);
            }
            this.runBlocking(parts);
          });
          const len = rows * d;
          for (const t of partsH) {
            const v = t.view;
            for (let i = 0; i < len; i++) outH[i] += v[i]!;
          }
        });
      },
    };
  }

  /**
   * Waits for every part, then rethrows the first failure: staged memory must not be released
   * while another worker may still be writing into it.
   */
  private async all(parts: Promise<void>[]): Promise<void> {
    const results = await Promise.allSettled(parts);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  private async staged(body: (f: StagingFrame) => Promise<void>): Promise<void> {
    const f = this.arena.frame();
    try {
      await body(f);
      f.finish();
    } catch (e) {
      f.release();
      throw e;
    }
  }

  async matmulNT(...[a, aRows, c, cStart, cRows, d, out]: Parameters<KernelSet['matmulNT']>): Promise<void> {
    if (aRows <= 0 || cRows <= 0) return;
    if (d === 0) return ref.matmulNT(a, aRows, c, cStart, cRows, d, out);
    await this.staged(async (f) => {
      const pa = f.ptr(a, 0, aRows * d, 'in', 'a');
      const pc = f.ptr(c, cStart * d, cRows * d, 'in', 'c');
      const po = f.ptr(out, 0, aRows * cRows, 'out', 'out');
      const byRows = aRows >= 4 * this.threads || aRows >= cRows;
      const parts = split(byRows ? aRows : cRows, this.threads);
      await this.all(parts.map(([s, e], w) => byRows
        ? this.run(w, 'matmulNT', [pa + s * d * 4, e - s, pc, cRows, d, po + s * cRows * 4, cRows])
        : this.run(w, 'matmulNT', [pa, aRows, pc + s * d * 4, e - s, d, po + s * 4, cRows])));
    });
  }

  async fusedSoftmaxTopK(
    ...[a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores]: Parameters<KernelSet['fusedSoftmaxTopK']>
  ): Promise<void> {
    if (rows <= 0) return;
    if (d === 0) return ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, outLse, outTopIds, outTopScores);
    const inPlace = this.arena.owns(c) && (bias === null || this.arena.owns(bias));
    const blk = inPlace ? n : stageClasses(d);
    await this.staged(async (f) => {
      const pa = f.ptr(a, 0, rows * d, 'in', 'a');
      const pl = f.ptr(outLse, 0, rows, 'out', 'outLse');
      const pi = f.ptr(outTopIds, 0, rows * k, 'out', 'outTopIds');
      const ps = f.ptr(outTopScores, 0, rows * k, 'out', 'outTopScores');
      if (blk >= n) {
        const pc = f.ptr(c, 0, n * d, 'in', 'c');
        const pb = bias ? f.ptr(bias, 0, n, 'in', 'bias') : 0;
        await this.fusedOn(f, pa, rows, pc, pb, n, d, k, pl, pi, ps);
        return;
      }
      // the table is not in the arena: stream it through two staged blocks of classes (the next
      // block is copied while the workers run on the current one) and merge the blocks' results
      if (c.length < n * d) throw new ShapeError(`c has length ${c.length}, but the call needs ${n * d} elements; pass a larger array or fix the sizes`);
      if (bias && bias.length < n) throw new ShapeError(`bias has length ${bias.length}, but the call needs ${n} elements`);
      const bufs = [0, 1].map(() => ({ c: f.tempF32(blk * d), b: bias ? f.tempF32(blk) : null }));
      const fill = (j: number, s: number): void => {
        const cnt = Math.min(blk, n - s);
        bufs[j]!.c.view.set(c.subarray(s * d, (s + cnt) * d));
        if (bias) bufs[j]!.b!.view.set(bias.subarray(s, s + cnt));
      };
      const tl = f.scratch(rows * 8);
      const ti = f.scratch(Math.max(1, rows * k) * 4);
      const tsc = f.scratch(Math.max(1, rows * k) * 4);
      fill(0, 0);
      for (let s = 0, j = 0; s < n; s += blk, j ^= 1) {
        const cnt = Math.min(blk, n - s);
        const first = s === 0;
        const cur = bufs[j]!;
        const inner = this.arena.frame();
        try {
          const run = this.fusedOn(inner, pa, rows, cur.c.ptr, cur.b ? cur.b.ptr : 0, cnt, d, k, first ? pl : tl, first ? pi : ti, first ? ps : tsc);
          if (s + blk < n) {
            try {
              fill(j ^ 1, s + blk);
            } catch (e) {
              await run.catch(() => {});
              throw e;
            }
          }
          await run;
        } finally {
          inner.release();
        }
        if (first) continue;
        const buf = this.arena.buffer;
        const acc = { offset: 0, lse: new Float64Array(buf, pl, rows), ids: new Int32Array(buf, pi, rows * k), scores: new Float32Array(buf, ps, rows * k) };
        mergeFusedParts(
          [acc, { offset: s, lse: new Float64Array(buf, tl, rows), ids: new Int32Array(buf, ti, rows * k), scores: new Float32Array(buf, tsc, rows * k) }],
          rows, k, acc.lse, acc.ids, acc.scores,
        );
      }
    });
  }

  /** The fused evaluation of arena-resident operands, split over the workers by rows or by classes. */
  private async fusedOn(
    f: StagingFrame, pa: number, rows: number, pc: number, pb: number, n: number, d: number, k: number,
    pl: number, pi: number, ps: number,
  ): Promise<void> {
    const plan = this.fusedPlan(f, pa, rows, pc, pb, n, d, k, pl, pi, ps);
    await this.all(plan.parts.map(([fn, args], w) => this.run(w, fn, args)));
    plan.merge();
  }

  /**
   * The parts of a fused evaluation of arena-resident operands (by rows, or, for few queries and
   * many classes, by classes) and the merge to run once they are done.
   */
  private fusedPlan(
    f: StagingFrame, pa: number, rows: number, pc: number, pb: number, n: number, d: number, k: number,
    pl: number, pi: number, ps: number,
  ): { parts: KernelPart[]; merge: () => void } {
    if (rows >= 4 * this.threads || n < CLASS_SPLIT_MIN * this.threads) {
      const parts = split(rows, this.threads).map(([s, e]): KernelPart => {
        const scratch = f.scratch(this.ex.fusedScratchBytes(e - s, d));
        return ['fusedSoftmaxTopK', [pa + s * d * 4, e - s, pc, pb, n, d, k, pl + s * 8, pi + s * k * 4, ps + s * k * 4, scratch]];
      });
      return { parts, merge: () => {} };
    }
    // few queries, many classes: each worker takes a range of classes, then the partial
    // log-sum-exps and top-k lists are merged
    const tmp = split(n, this.threads).map(([s, e]) => ({
      s, e, lse: f.scratch(rows * 8), ids: f.scratch(Math.max(1, rows * k) * 4), sc: f.scratch(Math.max(1, rows * k) * 4),
      scratch: f.scratch(this.ex.fusedScratchBytes(rows, d)),
    }));
    const parts = tmp.map((t): KernelPart => ['fusedSoftmaxTopK', [
      pa, rows, pc + t.s * d * 4, pb ? pb + t.s * 4 : 0, t.e - t.s, d, k, t.lse, t.ids, t.sc, t.scratch,
    ]]);
    const merge = (): void => {
      const buf = this.arena.buffer;
      mergeFusedParts(
        tmp.map((t) => ({
          offset: t.s, lse: new Float64Array(buf, t.lse, rows), ids: new Int32Array(buf, t.ids, rows * k), scores: new Float32Array(buf, t.sc, rows * k),
        })),
        rows, k, new Float64Array(buf, pl, rows), new Int32Array(buf, pi, rows * k), new Float32Array(buf, ps, rows * k),
      );
    };
    return { parts, merge };
  }

  async kmeansAssign(...[x, n, cent, kc, d, outIdx, outDist]: Parameters<KernelSet['kmeansAssign']>): Promise<void> {
    if (n <= 0) return;
    if (kc <= 0) throw new ShapeError('kmeansAssign needs at least one centroid (kc >= 1)');
    if (d === 0) return ref.kmeansAssign(x, n, cent, kc, d, outIdx, outDist);
    await this.staged(async (f) => {
      const px = f.ptr(x, 0, n * d, 'in', 'x');
      const pc = f.ptr(cent, 0, kc * d, 'in', 'centroids');
      const pi = f.ptr(outIdx, 0, n, 'out', 'outIdx');
      const pd = outDist ? f.ptr(outDist, 0, n, 'out', 'outDist') : 0;
      const parts = split(n, this.threads);
      await this.all(parts.map(([s, e], w) => {
        const scratch = f.scratch(this.ex.kmeansScratchBytes(kc));
        return this.run(w, 'kmeansAssign', [px + s * d * 4, e - s, pc, kc, d, pi + s * 4, pd ? pd + s * 4 : 0, scratch]);
      }));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // stop the workers first, so that no call's staged memory is released while one still runs
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
    const err = new StateError('the kernel pool was closed while a call was running');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
