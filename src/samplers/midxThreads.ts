/**
 * {@link MidxWorkers} on Node `worker_threads` (Node only; the library imports it dynamically).
 * Each helper thread keeps a copy of the MIDX index; a range request is posted to it, the
 * calling thread samples its own range meanwhile, then blocks on a shared flag
 * (`Atomics.wait`) and takes the reply with `receiveMessageOnPort`; the range's draws come back in
 * a buffer shared with the thread (no copied message). The calling thread never
 * returns to its event loop in between, so training steps stay synchronous.
 * @module
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { OptionError, StateError } from '../core/errors.js';
import { spawnNodeWorker } from '../kernels/nodeWorker.js';
import { rowRangeOutputBytes, rowRangeOutputIn } from './base.js';
import { setMidxThreadStarter, type MidxInternals, type MidxRangeRequest, type MidxRangeResult, type MidxWorkers } from './midx.js';
import type { FromMidxWorker, ToMidxWorker } from './midxWorker.js';

/** Longest wait for a helper thread's range before it is declared dead. */
const REPLY_TIMEOUT_MS = 120_000;
/** Longest wait for a helper thread to start ({@link MidxThreads.createSync}). */
const START_TIMEOUT_MS = 60_000;

interface Helper {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  /** Where the thread writes its ranges' output (grown on demand), and the shape of the range in flight. */
  shared: SharedArrayBuffer | null;
  pending: { rows: number; m: number; unique: boolean; scored: number } | null;
}

/** Helper threads for {@link MidxSampler.useWorkers}. Create with {@link MidxThreads.create}. */
export class MidxThreads implements MidxWorkers {
  readonly count: number;
  private readonly helpers: Helper[];
  private readonly receive: (port: MessagePort) => { message: unknown } | undefined;
  private closed = false;

  private constructor(helpers: Helper[], receive: (port: MessagePort) => { message: unknown } | undefined) {
    this.helpers = helpers;
    this.count = helpers.length;
    this.receive = receive;
  }

  /**
   * As {@link MidxThreads.create}, without returning to the event loop: waits for each thread's
   * start on a shared flag (what the `threads` option of the midx sampler uses).
   * @throws OptionError for a bad count; StateError when a thread fails to start
   */
  static createSync(count: number): MidxThreads {
    if (!Number.isInteger(count) || count < 1) throw new OptionError(`MidxThreads needs count >= 1 helper threads, got ${count}`);
    const wt = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    const url = new URL('./midxWorker.js', import.meta.url);
    const helpers: Helper[] = [];
    const receive = wt.receiveMessageOnPort as (port: MessagePort) => { message: unknown } | undefined;
    try {
      for (let i = 0; i < count; i++) {
        const { port1, port2 } = new wt.MessageChannel();
        const sab = new SharedArrayBuffer(4);
        const flag = new Int32Array(sab);
        const worker = spawnNodeWorker(url, { workerData: { port: port2, flag: sab }, transferList: [port2] });
        helpers.push({ worker, port: port1, flag, shared: null, pending: null });
        worker.on('error', () => {}); // reported through finish (no reply / timeout)
        worker.unref();
        port1.unref();
        const t0 = Date.now();
        while (Atomics.load(flag, 0) === 0) {
          if (Atomics.wait(flag, 0, 0, 1000) === 'timed-out' && Date.now() - t0 > START_TIMEOUT_MS) {
            throw new StateError(`a midx helper thread did not start within ${START_TIMEOUT_MS / 1000} s`);
          }
        }
        const got = receive(port1);
        const m = got?.message as FromMidxWorker | undefined;
        if (!m || m.type !== 'ready') throw new StateError(`a midx helper thread failed to start: ${m && m.type === 'error' ? m.message : 'no ready message'}`);
      }
    } catch (e) {
      for (const h of helpers) void h.worker.terminate();
      throw e;
    }
    return new MidxThreads(helpers, receive);
  }

  /**
   * Starts `count` helper threads (`count ≥ 1`).
   * @throws OptionError for a bad count; StateError when a thread fails to start
   */
  static async create(count: number): Promise<MidxThreads> {
    if (!Number.isInteger(count) || count < 1) throw new OptionError(`MidxThreads needs count >= 1 helper threads, got ${count}`);
    const wt = await import('node:worker_threads');
    const url = new URL('./midxWorker.js', import.meta.url);
    const helpers: Helper[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const { port1, port2 } = new wt.MessageChannel();
        const sab = new SharedArrayBuffer(4);
        const worker = spawnNodeWorker(url, { workerData: { port: port2, flag: sab }, transferList: [port2] });
        const flag = new Int32Array(sab);
        helpers.push({ worker, port: port1, flag, shared: null, pending: null });
        await new Promise<void>((resolve, reject) => {
          const fail = (e: unknown): void => reject(new StateError(`a midx helper thread failed to start: ${e instanceof Error ? e.message : String(e)}`));
          worker.once('error', fail);
          worker.once('exit', (code) => fail(new Error(`exit code ${code}`)));
          port1.once('message', (m: FromMidxWorker) => {
            worker.off('error', fail);
            worker.removeAllListeners('exit');
            // the thread raises its flag right after 'ready' (for a synchronous start): wait for
            // it, so that it cannot land after the first range's reset of the flag
            if (m.type === 'ready') {
              while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 100);
              resolve();
            }
            else fail(new Error(m.type === 'error' ? m.message : 'unexpected first message'));
          });
        });
        worker.on('error', () => {}); // reported through finish (no reply / timeout)
        worker.unref();
        port1.unref();
      }
    } catch (e) {
      await Promise.all(helpers.map((h) => h.worker.terminate()));
      throw e;
    }
    return new MidxThreads(helpers, wt.receiveMessageOnPort as (port: MessagePort) => { message: unknown } | undefined);
  }

  private helper(w: number): Helper {
    if (this.closed) throw new StateError('the midx helper threads were closed; create new ones');
    const h = this.helpers[w];
    if (!h) throw new OptionError(`helper thread ${w} does not exist (there are ${this.count})`);
    return h;
  }

  setIndex(index: MidxInternals): void {
    for (let w = 0; w < this.count; w++) this.helper(w).port.postMessage({ type: 'index', index } satisfies ToMidxWorker);
  }

  start(w: number, req: MidxRangeRequest): void {
    const h = this.helper(w);
    Atomics.store(h.flag, 0, 0);
    // the output comes back in a buffer shared with the thread, not as a copied message
    const pending = { rows: req.rows, m: req.m, unique: req.unique, scored: req.scored.ids.length };
    const bytes = rowRangeOutputBytes(pending.rows, pending.m, pending.unique, pending.scored);
    if (h.shared === null || h.shared.byteLength < bytes) h.shared = new SharedArrayBuffer(Math.max(bytes, 2 * (h.shared?.byteLength ?? 0)));
    h.pending = pending;
    h.port.postMessage({ type: 'range', req, shared: h.shared } satisfies ToMidxWorker);
  }

  finish(w: number): MidxRangeResult {
    const h = this.helper(w);
    const t0 = Date.now();
    const w0 = performance.now();
    while (Atomics.load(h.flag, 0) === 0) {
      if (Atomics.wait(h.flag, 0, 0, 1000) === 'timed-out' && Date.now() - t0 > REPLY_TIMEOUT_MS) {
        throw new StateError(`midx helper thread ${w} sent no reply within ${REPLY_TIMEOUT_MS / 1000} s; it may have died (out of memory?)`);
      }
    }
    const waitedMs = performance.now() - w0;
    const got = this.receive(h.port);
    if (!got) throw new StateError(`midx helper thread ${w} signalled a reply that is not there`);
    const m = got.message as FromMidxWorker;
    if (m.type === 'error') throw new StateError(`midx helper thread ${w} failed: ${m.message}`);
    if (m.type !== 'done') throw new StateError(`midx helper thread ${w} sent an unexpected '${m.type}' message`);
    const p = h.pending;
    h.pending = null;
    // views on the shared buffer: valid until this thread's next range starts
    const out = m.out ?? (p && h.shared ? rowRangeOutputIn(h.shared, p.rows, p.m, p.unique, p.scored, false) : null);
    if (out === null) throw new StateError(`midx helper thread ${w} replied without its range's output`);
    return { out, ms: m.ms, waitedMs };
  }

  /** Stops the threads. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}

setMidxThreadStarter((count) => MidxThreads.createSync(count));
