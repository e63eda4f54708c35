/**
 * Pool worker: instantiates the kernel module on the shared memory it is given and runs
 * kernel calls on request. Works as a Node `worker_threads` worker and as a browser module
 * Web Worker.
 * @module
 */
import { isNode } from '../core/runtime.js';
import { gatherRowsInto } from '../core/rows.js';
import type { KernelExports, KernelFn } from './wasmKernels.js';

/**
 * Rows of a blocking gather: from the array at byte `src` of memory `srcSlot`, rows `ids`, to
 * consecutive rows of the destination from `dstRow` on.
 */
export type GatherSegment = [srcSlot: number, src: number, dstRow: number, ids: Int32Array];

/** Messages the pool sends. */
export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module; memory: WebAssembly.Memory; flags: SharedArrayBuffer; index: number }
  | { type: 'run'; id: number; fn: KernelFn; args: number[] }
  /** A further shared memory (a peer's): an instance on it for the calls of `slot`; replies `done`. */
  | { type: 'memory'; id: number; module: WebAssembly.Module; memory: WebAssembly.Memory; slot: number }
  /**
   * A part of a blocking call on the instance of memory `slot` (0: the pool's own): no reply
   * message; flag `index` is set to 1 (done) or 2 (failed) and notified.
   */
  | { type: 'runBlocking'; fn: KernelFn; args: number[]; slot: number }
  /**
   * A part of a blocking row gather (from any memory into any other, so in JS): the destination
   * rows of `d` floats start at byte `dst` of memory `dstSlot`; done as `runBlocking`.
   */
  | { type: 'gatherBlocking'; dstSlot: number; dst: number; d: number; segs: GatherSegment[] };

/** Messages a worker sends back. */
export type FromWorker = { type: 'ready' } | { type: 'done'; id: number } | { type: 'error'; id: number; message: string };

/** Instances by memory slot (0: the pool's own memory), and the memories. */
const bySlot: Array<KernelExports | undefined> = [];
const memories: Array<WebAssembly.Memory | undefined> = [];
/** The pool's shared flags and this worker's index in them (blocking calls). */
let flags: Int32Array | null = null;
let index = 0;

/** The view of memory `slot` from byte `at` on. */
function viewAt(slot: number, at: number): Float32Array {
  const mem = memories[slot];
  if (!mem) throw new Error(`no memory in slot ${slot}`);
  return new Float32Array(mem.buffer, at);
}

function gather(dstSlot: number, dst: number, d: number, segs: GatherSegment[]): void {
  const out = viewAt(dstSlot, dst);
  for (const [slot, src, dstRow, ids] of segs) gatherRowsInto(out, dstRow, viewAt(slot, src), ids, 0, ids.length, d);
}

async function handle(msg: ToWorker, post: (m: FromWorker) => void): Promise<void> {
  if (msg.type === 'init') {
    const inst = await WebAssembly.instantiate(msg.module, { env: { memory: msg.memory } });
    bySlot[0] = inst.exports as unknown as KernelExports;
    memories[0] = msg.memory;
    flags = new Int32Array(msg.flags);
    index = msg.index;
    post({ type: 'ready' });
    return;
  }
  if (msg.type === 'memory') {
    try {
      const inst = await WebAssembly.instantiate(msg.module, { env: { memory: msg.memory } });
      bySlot[msg.slot] = inst.exports as unknown as KernelExports;
      memories[msg.slot] = msg.memory;
      post({ type: 'done', id: msg.id });
    } catch (e) {
      post({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
    }
    return;
  }
  if (msg.type === 'runBlocking' || msg.type === 'gatherBlocking') {
    let state = 1;
    try {
      if (msg.type === 'gatherBlocking') gather(msg.dstSlot, msg.dst, msg.d, msg.segs);
      else {
        const on = bySlot[msg.slot];
        if (!on) throw new Error(`no instance for memory slot ${msg.slot}`);
        (on[msg.fn] as (...a: number[]) => void)(...msg.args);
      }
    } catch {
      state = 2;
    }
    Atomics.store(flags!, index, state);
    Atomics.notify(flags!, index);
    return;
  }
  try {
    const on = bySlot[0];
    if (!on) throw new Error('worker used before init');
    (on[msg.fn] as (...a: number[]) => void)(...msg.args);
    post({ type: 'done', id: msg.id });
  } catch (e) {
    post({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
  }
}

interface WorkerScope {
  onmessage: ((e: { data: ToWorker }) => void) | null;
  postMessage(m: FromWorker): void;
}

if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  if (parentPort) {
    const port = parentPort;
    port.on('message', (m: ToWorker) => void handle(m, (r) => port.postMessage(r)));
  }
} else {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e) => void handle(e.data, (r) => scope.postMessage(r));
}
