/**
 * Helper thread of {@link MidxThreads} (Node `worker_threads` entry): keeps a copy of a MIDX
 * index and samples ranges of rows with the sampler's own code (`MidxRow`, `sampleRowRange`).
 * Requests arrive on a message port; the reply is posted on the same port, then a shared flag
 * is set and notified, so the requesting thread can wait synchronously (`Atomics.wait`) and read
 * the reply with `receiveMessageOnPort`.
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import { Rng } from '../core/rng.js';
import { newRowRangeOutput, rowRangeOutputBytes, rowRangeOutputIn, rowStreamsOf, sampleRowRange, type RowDistribution, type RowRangeOutput } from './base.js';
import { MidxRow, type MidxInternals, type MidxRangeRequest } from './midx.js';

/** Messages to a helper thread. */
export type ToMidxWorker =
  | { type: 'index'; index: MidxInternals }
  /** `shared`, when given and large enough, receives the output (laid out by `rowRangeOutputIn`) instead of the reply. */
  | { type: 'range'; req: MidxRangeRequest; shared?: SharedArrayBuffer };

/** Replies of a helper thread. */
export type FromMidxWorker =
  | { type: 'ready' }
  /** `out` is null when the output went to the request's shared buffer. */
  | { type: 'done'; out: RowRangeOutput | null; ms: number }
  | { type: 'error'; message: string };

/** What the thread is started with. */
export interface MidxWorkerData {
  /** The port requests arrive on and replies go to. */
  port: MessagePort;
  /** One Int32 set to 1 (and notified) after each reply. */
  flag: SharedArrayBuffer;
}

const { workerData } = await import('node:worker_threads');
const { port, flag } = workerData as MidxWorkerData;
const done = new Int32Array(flag);
let row: MidxRow | null = null;
let index: MidxInternals | null = null;
let indexError: string | null = null;

function run(req: MidxRangeRequest, shared: SharedArrayBuffer | undefined): { out: RowRangeOutput; inShared: boolean } {
  if (indexError !== null) throw new Error(`the index copy failed: ${indexError}`);
  if (row === null || index === null) throw new Error('no index was sent before the first range');
  const d = index.d;
  const dist = row;
  const S = req.scored.ids.length;
  const inShared = shared !== undefined && shared.byteLength >= rowRangeOutputBytes(req.rows, req.m, req.unique, S);
  const out = inShared ? rowRangeOutputIn(shared, req.rows, req.m, req.unique, S) : newRowRangeOutput(req.rows, req.m, req.unique, S);
  const base = rowStreamsOf(Rng.fromState(req.base));
  const distOf = (r: number): RowDistribution => {
    dist.setQuery(req.queries, r * d);
    return dist;
  };
  const opts = { m: req.m, rng: Rng.fromState(req.base), unique: req.unique, exclude: req.exclude };
  // local rows 0..rows-1 are global rows r0.. : the generators are those of the global rows
  sampleRowRange('midx', req.support, distOf, (r) => base(req.r0 + r), opts, req.scored, 0, req.rows, out, 0);
  return { out, inShared };
}

port.on('message', (msg: ToMidxWorker) => {
  if (msg.type === 'index') {
    try {
      index = msg.index;
      row = new MidxRow(index);
      indexError = null;
    } catch (e) {
      indexError = e instanceof Error ? e.message : String(e);
    }
    return;
  }
  let reply: FromMidxWorker;
  try {
    const t0 = performance.now();
    const { out, inShared } = run(msg.req, msg.shared);
    reply = { type: 'done', out: inShared ? null : out, ms: performance.now() - t0 };
  } catch (e) {
    reply = { type: 'error', message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
});
port.postMessage({ type: 'ready' } satisfies FromMidxWorker);
// a synchronous start waits on the flag
Atomics.store(done, 0, 1);
Atomics.notify(done, 0);
