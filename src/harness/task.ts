/**
 * The contract between an application (xmc, lm, seqrec) and the training harness: the
 * application supplies its data fingerprint, settings, model, epoch, evaluation and state
 * tensors; {@link runTask} owns the run folder, its lock, checkpoints, resume, metrics and report.
 * @module
 */
import { StateError } from '../core/errors.js';
import type { Json, MetricsRecord, RunFolder, SettingValue, StateTensors } from './runFolder.js';

/**
 * Settings that may change when a run is resumed (every other setting must equal the run's):
 * how long to train and on what hardware, never what is trained.
 */
export const RESUMABLE_SETTINGS: readonly string[] = Object.freeze([
  'epochs', 'threads', 'kernels', 'progress', 'patience', 'timeBudgetSec', 'lrDecayEpochs', 'select',
]);

/** The help line listing {@link RESUMABLE_SETTINGS} as flags. */
export const RESUME_HELP = `continue the run in --out from its last checkpoint; only ${RESUMABLE_SETTINGS.map((s) => '--' + s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()).replace('-sec', '')).join(', ')} may differ from the run's settings`;

/** What one epoch (or part of one) of a task produced. */
export interface TaskEpochResult {
  /** Metric lines to log (committed with the epoch's checkpoint when `complete`). */
  records: MetricsRecord[];
  /** The epoch ran to its end (false: cut short, e.g. by a time budget; no checkpoint then, and training stops). */
  complete: boolean;
}

/** Context the harness passes to a task's hooks. */
export interface TaskContext {
  /** The run folder (null: a run kept in memory). */
  readonly folder: RunFolder | null;
  /** Every metric record so far (committed and new). */
  readonly records: readonly MetricsRecord[];
  /** Status lines. */
  log(line: string): void;
}

/**
 * An application's part of a training run. `M` is its model (or trainer) type.
 */
export interface Task<M> {
  /** The application's name (recorded in the checkpoint). */
  readonly app: string;
  /** The settings of the run; a resume must give the same ones, except {@link RESUMABLE_SETTINGS}. */
  readonly settings: Readonly<Record<string, SettingValue>>;
  /** Content fingerprint of the data (see `fingerprint` of runFolder.ts); a resume with other data is refused. */
  readonly data: string;
  /** Epochs to train in total (resumed ones included). */
  readonly epochs: number;
  /** Builds the model as at the start of training. */
  create(): M | Promise<M>;
  /** The model's state tensors (what a checkpoint holds). */
  stateTensors(model: M): StateTensors | Promise<StateTensors>;
  /**
   * Tensors a checkpoint may hold beyond those of a fresh model's {@link Task.stateTensors}
   * (optimizer state allocated on first use); their shapes are checked by {@link Task.loadState}.
   */
  lazyState?(name: string): boolean;
  /**
   * Restores a checkpoint (already checked by the harness) into a freshly created model.
   * @throws a typed error when the state does not fit
   */
  loadState(model: M, tensors: Record<string, Float32Array | Int32Array>, meta: { readonly [key: string]: Json }, epoch: number): void | Promise<void>;
  /** State that is not a tensor, saved with each checkpoint (training seconds, rng state, …). */
  meta(model: M): { [key: string]: Json };
  /** Epochs completed by the model. */
  epochsDone(model: M): number;
  /** Trains and evaluates one epoch (`epoch` is 1-based). */
  epoch(model: M, epoch: number, ctx: TaskContext): TaskEpochResult | Promise<TaskEpochResult>;
  /** Whether to stop before `epochs` (early stopping, time budget) given the records so far. */
  shouldStop?(model: M, ctx: TaskContext): boolean;
  /** Called once when a run starts fresh (e.g. to write the model's description file). */
  onStart?(model: M, ctx: TaskContext): void;
  /** Called after each committed epoch (e.g. to keep the best epoch's state). */
  afterCommit?(model: M, ctx: TaskContext): void | Promise<void>;
  /** Called after resuming, with the committed records (e.g. to find the best epoch). */
  onResume?(model: M, ctx: TaskContext): void | Promise<void>;
  /** The final evaluation; its records are logged after the last commit. */
  finish?(model: M, ctx: TaskContext): MetricsRecord[] | Promise<MetricsRecord[]>;
  /** The HTML report of the records. */
  report?(records: readonly MetricsRecord[]): string;
}

/**
 * Checks a resume's settings and data against those the run was trained with.
 * @throws StateError naming each difference
 */
export function checkResume(
  dir: string,
  saved: { settings: Readonly<Record<string, SettingValue>>; data: string; app: string },
  given: { settings: Readonly<Record<string, SettingValue>>; data: string; app: string },
  resumable: readonly string[] = RESUMABLE_SETTINGS,
): void {
  const diffs: string[] = [];
  if (saved.app !== given.app) diffs.push(`the run is a ${saved.app} run, not ${given.app}`);
  if (saved.data !== given.data) diffs.push('the data differs from the data the run was trained on (its content fingerprint changed)');
  const keys = [...new Set([...Object.keys(saved.settings), ...Object.keys(given.settings)])].sort();
  for (const k of keys) {
    if (resumable.includes(k)) continue;
    const a = saved.settings[k];
    const b = given.settings[k];
    if (a !== b) diffs.push(`${k} was ${a === undefined ? '(unset)' : JSON.stringify(a)}, now ${b === undefined ? '(unset)' : JSON.stringify(b)}`);
  }
  if (diffs.length > 0) {
    throw new StateError(`cannot resume the run in ${dir}: ${diffs.join('; ')}. Resume with the run's data and settings (only ${resumable.join(', ')} may change) or choose another --out`);
  }
}
