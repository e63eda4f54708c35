/**
 * The one training loop behind `samplex train` of every application: it opens (and locks) the
 * run folder, checks a resume (settings, data, checkpoint contents) before anything is written,
 * trains epoch by epoch, commits each epoch's checkpoint with its metrics, rewrites the report,
 * and runs the task's final evaluation.
 * @module
 */
import { CheckpointError } from './runFolder.js';
import { RunFolder, specOf, type CommitStage, type MetricsRecord } from './runFolder.js';
import { checkResume, RESUMABLE_SETTINGS, type Task, type TaskContext } from './task.js';

/** The report file of a run folder. */
export const REPORT_FILE = 'report.html';

/** Options of {@link runTask}. */
export interface RunTaskOptions {
  /** The run folder (null: keep everything in memory, no checkpoints). */
  out: string | null;
  /** Continue the run in `out` from its last commit. */
  resume?: boolean;
  /** Status lines. */
  log?: (line: string) => void;
  /** One-line notices of the run folder (default stderr). */
  notice?: (line: string) => void;
  /** Fault injection for tests (see {@link RunFolder.open}). */
  afterStage?: (stage: CommitStage, epoch: number) => void;
  /** Settings that may change on resume (default {@link RESUMABLE_SETTINGS}). */
  resumable?: readonly string[];
}

/** Result of {@link runTask}. */
export interface RunTaskResult<M> {
  /** The model after the run (or as the task's `finish` left it). */
  model: M;
  /** Every metric record of the run (resumed ones included). */
  records: MetricsRecord[];
  /** The run folder's path, or null. */
  dir: string | null;
  /** Training stopped before `epochs` (early stop, time budget). */
  stopped: boolean;
}

/**
 * Runs `task` to `task.epochs` epochs; see the module notes. A resume is checked in full (lock,
 * commit record, metrics, settings and data, checkpoint tensors) before the folder is changed.
 * @throws RunLockedError, StateError, CheckpointError, and the task's own errors
 */
export async function runTask<M>(task: Task<M>, o: RunTaskOptions): Promise<RunTaskResult<M>> {
  const log = o.log ?? (() => {});
  const folder = o.out === null ? null : RunFolder.open(o.out, { resume: o.resume ?? false, ...(o.notice ? { notice: o.notice } : {}), ...(o.afterStage ? { afterStage: o.afterStage } : {}) });
  try {
    const records: MetricsRecord[] = [];
    const ctx: TaskContext = { folder, records, log };
    const model = await task.create();
    const c = folder?.committed ?? null;
    if (c) {
      checkResume(folder!.dir, c, task, o.resumable ?? RESUMABLE_SETTINGS);
      const spec = specOf(await task.stateTensors(model));
      const tensors = folder!.loadCheckpoint(spec, { extra: (name) => task.lazyState?.(name) ?? false });
      await task.loadState(model, tensors, c.meta, c.epoch);
      if (task.epochsDone(model) !== c.epoch) {
        throw new CheckpointError(`${folder!.path(c.tensors)} restores epoch ${task.epochsDone(model)} but the commit record says ${c.epoch}; restore the run folder or start a new run`);
      }
      records.push(...folder!.readMetrics());
      log(`resuming after epoch ${c.epoch}`);
    }
    folder?.prepare();
    if (c) await task.onResume?.(model, ctx);
    else task.onStart?.(model, ctx);
    let stopped = false;
    while (task.epochsDone(model) < task.epochs) {
      if (task.shouldStop?.(model, ctx)) {
        stopped = true;
        break;
      }
      const epoch = task.epochsDone(model) + 1;
      const r = await task.epoch(model, epoch, ctx);
      for (const rec of r.records) {
        records.push(rec);
        folder?.appendMetrics(rec);
      }
      if (!r.complete) {
        stopped = true;
        break;
      }
      if (folder) {
        folder.commit({ app: task.app, epoch: task.epochsDone(model), tensors: await task.stateTensors(model), settings: { ...task.settings }, data: task.data, meta: task.meta(model) });
      }
      await task.afterCommit?.(model, ctx);
      if (folder && task.report) folder.writeText(REPORT_FILE, task.report(records));
    }
    for (const rec of (await task.finish?.(model, ctx)) ?? []) {
      records.push(rec);
      folder?.appendMetrics(rec);
    }
    if (folder && task.report) folder.writeText(REPORT_FILE, task.report(records));
    return { model, records, dir: folder?.dir ?? null, stopped };
  } finally {
    folder?.close();
  }
}
