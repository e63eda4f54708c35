/**
 * A training run of the sequential recommender in a run directory (Node only): an evaluation on
 * the validation targets after every epoch appended to `metrics.jsonl`, a checkpoint after every
 * epoch (`checkpoint.safetensors` + `checkpoint.json`), resume from it, the test evaluation at
 * the end, and a progress bar.
 * @module
 */
import { StateError } from '../core/errors.js';
import { readSafetensors, writeSafetensors } from '../layer/safetensors.js';
import { ProgressBar } from '../train/progress.js';
import { CHECKPOINT_FILE, type MetricsRecord, type RunDir } from '../train/runDir.js';
import type { RankingMetrics } from './evaluate.js';
import type { SeqRecTrainer } from './trainer.js';

/** The tensors of a checkpoint. */
export const CHECKPOINT_TENSORS = 'checkpoint.safetensors';

/** Checkpoint metadata (`checkpoint.json`). */
export interface SeqRecCheckpointMeta {
  /** Epochs completed. */
  epoch: number;
  /** Steps completed. */
  steps: number;
  /** The run's settings; a resume with other settings is refused. */
  config: Record<string, string | number | boolean>;
}

/** Writes the trainer's state: tensors first, then the metadata that marks the checkpoint complete. */
export function saveSeqRecCheckpoint(dir: RunDir, trainer: SeqRecTrainer, config: SeqRecCheckpointMeta['config']): void {
  const tensors = Object.fromEntries(Object.entries(trainer.stateTensors()).map(([k, v]) => [k, { data: v, shape: [v.length] }]));
  writeSafetensors(dir.path(CHECKPOINT_TENSORS), tensors, { epoch: String(trainer.epoch) });
  const meta: SeqRecCheckpointMeta = { epoch: trainer.epoch, steps: trainer.steps, config };
  dir.writeJson(CHECKPOINT_FILE, meta);
}

/**
 * Restores the checkpoint of `dir` into `trainer` when there is one; returns its metadata or
 * null.
 * @throws StateError when the checkpoint was written with other settings or its files disagree
 */
export function loadSeqRecCheckpoint(dir: RunDir, trainer: SeqRecTrainer, config: SeqRecCheckpointMeta['config']): SeqRecCheckpointMeta | null {
  const meta = dir.readJson<SeqRecCheckpointMeta>(CHECKPOINT_FILE);
  if (meta === null) return null;
  for (const key of new Set([...Object.keys(config), ...Object.keys(meta.config)])) {
    if (meta.config[key] !== config[key]) {
      throw new StateError(`the run in ${dir.dir} was started with ${key} = ${meta.config[key]}, not ${config[key]}; resume with the same settings or choose another --out`);
    }
  }
  const content = readSafetensors(dir.path(CHECKPOINT_TENSORS));
  if (content.metadata['epoch'] !== String(meta.epoch)) {
    throw new StateError(`${CHECKPOINT_TENSORS} holds epoch ${content.metadata['epoch']} but ${CHECKPOINT_FILE} says ${meta.epoch}; the checkpoint is damaged, start a new run`);
  }
  const state: Record<string, ArrayLike<number>> = {};
  for (const [k, t] of Object.entries(content.tensors)) {
    if (t.data instanceof BigInt64Array) throw new StateError(`${CHECKPOINT_TENSORS}: ${k} has 64-bit integers; not a seqrec checkpoint`);
    state[k] = t.data;
  }
  trainer.loadState(state);
  return meta;
}

/** Options of {@link runSeqRec}. */
export interface RunSeqRecOptions {
  /** The trainer (fresh; restored from the run directory's checkpoint when there is one and `resume`). */
  trainer: SeqRecTrainer;
  /** The run directory (metrics, checkpoints); null keeps everything in memory. */
  dir: RunDir | null;
  /** Total epochs (a resumed run continues up to this many). */
  epochs: number;
  /** The run's settings, stored with the checkpoint and compared on resume. */
  config: SeqRecCheckpointMeta['config'];
  /** Name of the run (e.g. the sampler), logged in every record. */
  name: string;
  /** Where the progress bar draws (default stderr; null: none). */
  progress?: NodeJS.WritableStream | null;
  /** Called with every metrics record as it is logged. */
  onRecord?: (r: MetricsRecord) => void;
}

/** Result of {@link runSeqRec}. */
export interface SeqRecRunResult {
  /** Validation records, one per epoch (including those of a resumed run's earlier epochs). */
  records: MetricsRecord[];
  /** The test metrics at the end. */
  test: RankingMetrics;
  /** The record logged for the test evaluation. */
  testRecord: MetricsRecord;
}

/**
 * Trains up to `epochs` epochs, evaluating the validation targets after each (full ranking) and
 * checkpointing, then evaluates the test targets. Records: `{run, split: 'valid', epoch, steps,
 * wallSec (training seconds), loss, outputMsPerStep, evalSec, ndcg@10, …}` and a final
 * `{split: 'test', …}`.
 */
export function runSeqRec(opts: RunSeqRecOptions): SeqRecRunResult {
  const { trainer, dir } = opts;
  if (dir) {
    const meta = loadSeqRecCheckpoint(dir, trainer, opts.config);
    dir.retainMetrics((r) => meta !== null && r['split'] === 'valid' && typeof r['epoch'] === 'number' && r['epoch'] <= meta.epoch);
  }
  const records: MetricsRecord[] = dir ? dir.readMetrics() : [];
  const log = (r: MetricsRecord): void => {
    dir?.appendMetrics(r);
    opts.onRecord?.(r);
  };
  while (trainer.epoch < opts.epochs) {
    const bar = new ProgressBar({
      total: trainer.trainUsers,
      unit: 'seq',
      label: `${opts.name} epoch ${trainer.epoch + 1}/${opts.epochs}`,
      ...(opts.progress !== undefined ? { stream: opts.progress } : {}),
    });
    const steps0 = trainer.steps;
    const ep = trainer.trainEpoch((done, _total, loss) => bar.update(done, { loss }));
    bar.stop();
    const t0 = performance.now();
    const m = trainer.evaluate('valid');
    const r: MetricsRecord = {
      run: opts.name,
      split: 'valid',
      epoch: ep.epoch,
      steps: trainer.steps,
      wallSec: trainer.trainSec,
      loss: ep.loss,
      outputMsPerStep: ep.outputMs / Math.max(1, trainer.steps - steps0),
      evalSec: (performance.now() - t0) / 1000,
      ...m,
    };
    records.push(r);
    log(r);
    if (dir) saveSeqRecCheckpoint(dir, trainer, opts.config);
  }
  const test = trainer.evaluate('test');
  const testRecord: MetricsRecord = { run: opts.name, split: 'test', epoch: trainer.epoch, steps: trainer.steps, wallSec: trainer.trainSec, ...test };
  opts.onRecord?.(testRecord);
  dir?.writeJson('test.json', testRecord);
  return { records, test, testRecord };
}
