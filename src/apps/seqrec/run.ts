/**
 * A training run of the sequential recommender in a run directory (Node only): an evaluation on
 * the validation targets after every epoch appended to `metrics.jsonl`, a checkpoint after every
 * epoch (`checkpoint.safetensors` + `checkpoint.json`), resume from it, the state of the best
 * validation epoch (`best.safetensors` + `best.json`), optional early stopping, the test
 * evaluation at the end (of the best validation epoch by default), and a progress bar.
 * @module
 */
import { OptionError, StateError } from '../../core/errors.js';
import { readSafetensors, writeSafetensors } from '../../layer/safetensors.js';
import { ProgressBar, withProgress } from '../../train/progress.js';
import { CHECKPOINT_FILE, type MetricsRecord, type RunDir } from '../../train/runDir.js';
import type { RankingMetrics } from './evaluate.js';
import type { SeqRecTrainer } from './trainer.js';

/** The tensors of a checkpoint. */
export const CHECKPOINT_TENSORS = 'checkpoint.safetensors';

/** The tensors of the best validation epoch's state. */
export const BEST_TENSORS = 'best.safetensors';
/** Metadata of the best validation epoch's state. */
export const BEST_FILE = 'best.json';

/** The validation metric that selects the best epoch and drives early stopping. */
export const SELECT_METRIC = 'ndcg@10';

/** Which model state the test evaluation uses. */
export type SeqRecSelection = 'best-valid' | 'last';

/** Metadata of the best validation epoch's state (`best.json`). */
export interface SeqRecBestMeta {
  /** The epoch whose state `best.safetensors` holds. */
  epoch: number;
  /** Its validation {@link SELECT_METRIC}. */
  value: number;
}

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
  writeState(dir, CHECKPOINT_TENSORS, trainer.stateTensors(), trainer.epoch);
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
  trainer.loadState(readState(dir, CHECKPOINT_TENSORS, CHECKPOINT_FILE, meta.epoch));
  return meta;
}

type State = Record<string, Float32Array | Int32Array>;

function writeState(dir: RunDir, file: string, state: State, epoch: number): void {
  const tensors = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, { data: v, shape: [v.length] }]));
  writeSafetensors(dir.path(file), tensors, { epoch: String(epoch) });
}

function readState(dir: RunDir, file: string, metaFile: string, epoch: number): Record<string, ArrayLike<number>> {
  const content = readSafetensors(dir.path(file));
  if (content.metadata['epoch'] !== String(epoch)) {
    throw new StateError(`${file} holds epoch ${content.metadata['epoch']} but ${metaFile} says ${epoch}; the run directory is damaged, start a new run`);
  }
  const state: Record<string, ArrayLike<number>> = {};
  for (const [k, t] of Object.entries(content.tensors)) {
    if (t.data instanceof BigInt64Array) throw new StateError(`${file}: ${k} has 64-bit integers; not a seqrec checkpoint`);
    state[k] = t.data;
  }
  return state;
}

/**
 * The best validation epoch so far and where its state is kept: in `best.safetensors` with a run
 * directory, in memory without one.
 */
class BestState {
  epoch = 0;
  value = -Infinity;
  private memory: State | null = null;

  constructor(private readonly dir: RunDir | null) {}

  /** Keeps `trainer`'s current state as that of the best epoch ({@link BestState.offer} took it). */
  keep(trainer: SeqRecTrainer): void {
    if (this.dir) {
      writeState(this.dir, BEST_TENSORS, trainer.stateTensors(), trainer.epoch);
      this.dir.writeJson(BEST_FILE, { epoch: this.epoch, value: this.value } satisfies SeqRecBestMeta);
    } else {
      this.memory = trainer.stateTensors();
    }
  }

  /** Takes a validation record: true when it is a new best (its state is then to be kept). */
  offer(r: MetricsRecord): boolean {
    if (selectValue(r) <= this.value) return false;
    this.epoch = Number(r['epoch']);
    this.value = selectValue(r);
    return true;
  }

  /**
   * On resume: takes the best of the kept validation records. With `needState`, its state is
   * `best.safetensors` when `best.json` names that epoch, or the checkpoint itself (`trainer`'s
   * restored state) when the run stopped between writing the checkpoint and the best state.
   * @throws StateError when the best epoch's state is in neither place
   */
  restore(records: readonly MetricsRecord[], trainer: SeqRecTrainer, needState: boolean): void {
    for (const r of records) this.offer(r);
    if (!needState || this.epoch === 0) return;
    const epoch = this.epoch;
    const meta = this.dir?.readJson<SeqRecBestMeta>(BEST_FILE) ?? null;
    if (meta && meta.epoch === epoch) return;
    if (epoch === trainer.epoch) {
      this.keep(trainer);
    } else {
      throw new StateError(`the state of the best validation epoch (${epoch}) is missing from ${this.dir?.dir ?? 'the run'}; start a new run or pass --select last`);
    }
  }

  /** The best state, to load into a trainer. */
  load(): Record<string, ArrayLike<number>> {
    if (this.memory) return this.memory;
    if (!this.dir) throw new StateError('no best validation state was kept');
    return readState(this.dir, BEST_TENSORS, BEST_FILE, this.epoch);
  }
}

function selectValue(r: MetricsRecord): number {
  const v = r[SELECT_METRIC];
  return typeof v === 'number' && Number.isFinite(v) ? v : -Infinity;
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
  /**
   * Which state the test evaluation uses (default `'best-valid'`): the epoch with the highest
   * validation nDCG@10 (the first of equals), or the last epoch trained.
   */
  select?: SeqRecSelection;
  /**
   * Stop when validation nDCG@10 has not improved for this many epochs (default 0: train all
   * `epochs`).
   */
  patience?: number;
}

/** Result of {@link runSeqRec}. */
export interface SeqRecRunResult {
  /** Validation records, one per epoch (including those of a resumed run's earlier epochs). */
  records: MetricsRecord[];
  /** The test metrics at the end (of the selected epoch's state). */
  test: RankingMetrics;
  /** The epoch whose state gave the test metrics. */
  selectedEpoch: number;
  /** Whether training stopped before `epochs` for want of a better validation value (patience). */
  stoppedEarly: boolean;
  /** The record logged for the test evaluation. */
  testRecord: MetricsRecord;
}

/**
 * Trains up to `epochs` epochs, evaluating the validation targets after each (full ranking),
 * checkpointing and keeping the state of the best validation epoch, stopping early after
 * `patience` epochs without improvement; then evaluates the test targets with the selected state
 * (the best validation epoch by default; the trainer is left holding that state). Records:
 * `{run, split: 'valid', epoch, steps, wallSec (training seconds), loss, outputMsPerStep, evalSec,
 * ndcg@10, …}` and a final `{split: 'test', epoch (the selected one), trainedEpochs, selectedBy,
 * …}`.
 */
export function runSeqRec(opts: RunSeqRecOptions): SeqRecRunResult {
  const { trainer, dir } = opts;
  const select = opts.select ?? 'best-valid';
  const patience = opts.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw new OptionError(`patience must be an integer ≥ 0 (0: no early stop), got ${patience}`);
  if (dir) {
    const meta = loadSeqRecCheckpoint(dir, trainer, opts.config);
    dir.retainMetrics((r) => meta !== null && r['split'] === 'valid' && typeof r['epoch'] === 'number' && r['epoch'] <= meta.epoch);
  }
  const records: MetricsRecord[] = dir ? dir.readMetrics() : [];
  const best = new BestState(dir);
  best.restore(records, trainer, select === 'best-valid');
  const exhausted = (): boolean => patience > 0 && records.length > 0 && trainer.epoch - best.epoch >= patience;
  let stoppedEarly = exhausted() && trainer.epoch < opts.epochs;
  const log = (r: MetricsRecord): void => {
    dir?.appendMetrics(r);
    opts.onRecord?.(r);
  };
  while (trainer.epoch < opts.epochs && !stoppedEarly) {
    const bar = new ProgressBar({
      total: trainer.trainUsers,
      unit: 'seq',
      label: `${opts.name} epoch ${trainer.epoch + 1}/${opts.epochs}`,
      ...(opts.progress !== undefined ? { stream: opts.progress } : {}),
    });
    const steps0 = trainer.steps;
    const ep = withProgress(bar, () => trainer.trainEpoch((done, _total, loss) => bar.update(done, { loss })));
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
    if (best.offer(r) && select === 'best-valid') best.keep(trainer);
    stoppedEarly = exhausted() && trainer.epoch < opts.epochs;
  }
  const trainedEpochs = trainer.epoch;
  const steps = trainer.steps;
  const wallSec = trainer.trainSec;
  if (select === 'best-valid' && best.epoch > 0 && best.epoch !== trainer.epoch) trainer.loadState(best.load());
  const test = trainer.evaluate('test');
  const testRecord: MetricsRecord = {
    run: opts.name,
    split: 'test',
    epoch: trainer.epoch,
    trainedEpochs,
    selectedBy: select === 'best-valid' ? `valid ${SELECT_METRIC}` : 'last epoch',
    stoppedEarly,
    steps,
    wallSec,
    ...test,
  };
  opts.onRecord?.(testRecord);
  dir?.writeJson('test.json', testRecord);
  return { records, test, testRecord, selectedEpoch: trainer.epoch, stoppedEarly };
}
