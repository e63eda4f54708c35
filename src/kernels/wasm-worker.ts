/**
 * Pool worker: instantiates the kernel module on the shared memory it is given and runs
 * kernel calls on request. Works as a Node `worker_threads` worker and as a browser module
 * Web Worker.
 * @module
 */
import { isNode } from '../core/runtime.js';
import type { KernelExports, KernelFn } from './wasmKernels.js';

/** Messages the pool sends. */
export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module; memory: WebAssembly.Memory; flags: SharedArrayBuffer; index: number }
  | { type: 'run'; id: number; fn: KernelFn; args: number[] }
  /** A part of a blocking call: no reply message; flag `index` is set to 1 (done) or 2 (failed) and notified. */
  | { type: 'runBlocking'; fn: KernelFn; args: number[] };

/** Messages a worker sends back. */
export type FromWorker = { type: 'ready' } | { type: 'done'; id: number } | { type: 'error'; id: number; message: string };

let ex: KernelExports | null = null;
/** The pool's shared flags and this worker's index in them (blocking calls). */
let flags: Int32Array | null = null;
let index = 0;

async function handle(msg: ToWorker, post: (m: FromWorker) => void): Promise<void> {
  if (msg.type === 'init') {
    const inst = await WebAssembly.instantiate(msg.module, { env: { memory: msg.memory } });
    ex = inst.exports as unknown as KernelExports;
    flags = new Int32Array(msg.flags);
    index = msg.index;
    post({ type: 'ready' });
    return;
  }
  if (msg.type === 'runBlocking') {
    let state = 1;
    try {
      (ex![msg.fn] as (...a: number[]) => void)(...msg.args);
    } catch {
      state = 2;
    }
    Atomics.store(flags!, index, state);
    Atomics.notify(flags!, index);
    return;
  }
  try {
    if (!ex) throw new Error('worker used before init');
    (ex[msg.fn] as (...a: number[]) => void)(...msg.args);
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
