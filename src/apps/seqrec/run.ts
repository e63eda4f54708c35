/**
 * A training run of the sequential recommender in a run directory (Node only): an evaluation on
 * the validation targets after every epoch appended to `metrics.jsonl`, a checkpoint after every
 * epoch (`checkpoint.safetensors` + `checkpoint.json`), resume from it, the state of the best
 * validation epoch (`best.safetensors` + `best.json`), optional early stopping, the test
 * evaluation at the end (of the best validation epoch by default), and a progress bar.
 * @module
 */
import { OptionError, StateError } from '../../core/errors.js';
import type { LeaveOneOutSplit } from '../../data/interactions.js';
import { fingerprint, specOf, type CommitStage, type MetricsRecord, type RunFolder, type SettingValue } from '../../harness/runFolder.js';
import { runTask } from '../../harness/runTask.js';
import type { Task } from '../../harness/task.js';
import { ProgressBar, withProgress } from '../../train/progress.js';
import type { RankingMetrics } from './evaluate.js';
import type { SeqRecTrainer } from './trainer.js';

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

/** The content fingerprint of a leave-one-out split (items, users, order). */
export function seqRecDataFingerprint(split: LeaveOneOutSplit): string {
  const q = split.sequences;
  return fingerprint([`${q.numUsers}/${q.numItems}`, q.offsets, q.items, q.userIds.join('\n'), q.itemIds.join('\n')]);
}

type State = Record<string, Float32Array | Int32Array>;

/** State a fresh trainer lacks until its first step: the item table's optimizer moments (their sizes are checked by the optimizer). */
export function isLazySeqRecState(name: string): boolean {
  return name.startsWith('items/opt/');
}

/**
 * The best validation epoch so far and where its state is kept: in `best.safetensors` with a run
 * folder, in memory without one.
 */
class BestState {
  epoch = 0;
  value = -Infinity;
  private memory: State | null = null;

  constructor(private readonly folder: RunFolder | null) {}

  /** Keeps `trainer`'s current state as that of the best epoch ({@link BestState.offer} took it). */
  keep(trainer: SeqRecTrainer): void {
    if (this.folder) {
      this.folder.writeTensors(BEST_TENSORS, trainer.stateTensors(), { epoch: String(trainer.epoch) });
      this.folder.writeJson(BEST_FILE, { epoch: this.epoch, value: this.value } satisfies SeqRecBestMeta);
    } else {
      this.memory = trainer.stateTensors();
    }
  }

  /** Takes a validation record: true when it is a new best (its state is then to be kept). */
  offer(r: MetricsRecord): boolean {
    if (r['split'] !== 'valid' || selectValue(r) <= this.value) return false;
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
    const meta = this.folder?.readJson<SeqRecBestMeta>(BEST_FILE) ?? null;
    if (meta && meta.epoch === epoch) return;
    if (epoch === trainer.epoch) {
      this.keep(trainer);
    } else {
      throw new StateError(`the state of the best validation epoch (${epoch}) is missing from ${this.folder?.dir ?? 'the run'}; start a new run or pass --select last`);
    }
  }

  /** The best state, to load into `trainer` (checked against its own tensors). */
  load(trainer: SeqRecTrainer): State {
    if (this.memory) return this.memory;
    if (!this.folder) throw new StateError('no best validation state was kept');
    return this.folder.readTensors(BEST_TENSORS, specOf(trainer.stateTensors()), { epoch: String(this.epoch) }, { extra: isLazySeqRecState });
  }
}

function selectValue(r: MetricsRecord): number {
  const v = r[SELECT_METRIC];
  return typeof v === 'number' && Number.isFinite(v) ? v : -Infinity;
}

/** Options of {@link runSeqRec}. */
export interface RunSeqRecOptions {
  /** The trainer (fresh; restored from the run folder's checkpoint when `resume`). */
  trainer: SeqRecTrainer;
  /** The run folder (metrics, checkpoints); null keeps everything in memory. */
  out: string | null;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  /** Content fingerprint of the data ({@link seqRecDataFingerprint}); a resume with other data is refused. */
  data: string;
  /** Total epochs (a resumed run continues up to this many). */
  epochs: number;
  /** The run's settings, stored with the checkpoint and compared on resume. */
  config: Record<string, SettingValue>;
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
  /** The HTML report of the records (rewritten after every epoch, and with the result at the end). */
  report?: (records: readonly MetricsRecord[], result?: SeqRecRunResult) => string;
  /** Status lines. */
  log?: (line: string) => void;
  /** One-line notices of the run folder (default stderr). */
  notice?: (line: string) => void;
  /** Fault injection for tests (see `RunFolder.open`). */
  afterStage?: (stage: CommitStage, epoch: number) => void;
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
 * The sequential recommender as a {@link Task}: trains up to `epochs` epochs, evaluating the
 * validation targets after each (full ranking), keeping the state of the best validation epoch,
 * stopping early after `patience` epochs without improvement; then evaluates the test targets
 * with the selected state (the best validation epoch by default; the trainer is left holding that
 * state). Records: `{run, split: 'valid', epoch, steps, wallSec (training seconds), loss,
 * outputMsPerStep, evalSec, ndcg@10, …}` and a final `{split: 'test', epoch (the selected one),
 * trainedEpochs, selectedBy, …}` (also written to `test.json`).
 */
export function seqRecTask(opts: RunSeqRecOptions, out: { result?: SeqRecRunResult } = {}): Task<SeqRecTrainer> {
  const select = opts.select ?? 'best-valid';
  const patience = opts.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw new OptionError(`patience must be an integer ≥ 0 (0: no early stop), got ${patience}`);
  let best: BestState | null = null;
  const valids = (records: readonly MetricsRecord[]): MetricsRecord[] => records.filter((r) => r['split'] === 'valid');
  const exhausted = (trainer: SeqRecTrainer, records: readonly MetricsRecord[]): boolean =>
    patience > 0 && valids(records).length > 0 && trainer.epoch - best!.epoch >= patience;
  return {
    app: 'seqrec',
    settings: { ...opts.config, epochs: opts.epochs, patience, select },
    data: opts.data,
    epochs: opts.epochs,
    create: () => opts.trainer,
    stateTensors: (t) => t.stateTensors(),
    lazyState: isLazySeqRecState,
    loadState: (t, tensors) => t.loadState(tensors),
    meta: () => ({}),
    epochsDone: (t) => t.epoch,
    onStart: (_t, ctx) => {
      best = new BestState(ctx.folder);
    },
    onResume: (t, ctx) => {
      best = new BestState(ctx.folder);
      best.restore(ctx.records, t, select === 'best-valid');
    },
    shouldStop: (t, ctx) => exhausted(t, ctx.records),
    epoch: (trainer) => {
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
      opts.onRecord?.(r);
      return { records: [r], complete: true };
    },
    afterCommit: (trainer, ctx) => {
      const r = ctx.records.at(-1)!;
      if (best!.offer(r) && select === 'best-valid') best!.keep(trainer);
    },
    finish: (trainer, ctx) => {
      const trainedEpochs = trainer.epoch;
      const steps = trainer.steps;
      const wallSec = trainer.trainSec;
      const stoppedEarly = exhausted(trainer, ctx.records) && trainer.epoch < opts.epochs;
      if (select === 'best-valid' && best!.epoch > 0 && best!.epoch !== trainer.epoch) trainer.loadState(best!.load(trainer));
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
      ctx.folder?.writeJson('test.json', testRecord);
      out.result = { records: valids(ctx.records), test, testRecord, selectedEpoch: trainer.epoch, stoppedEarly };
      return [];
    },
    ...(opts.report ? { report: (records: readonly MetricsRecord[]) => opts.report!(records, out.result) } : {}),
  };
}

/** Runs {@link seqRecTask} with {@link runTask} (see there). */
export async function runSeqRec(opts: RunSeqRecOptions): Promise<SeqRecRunResult> {
  const out: { result?: SeqRecRunResult } = {};
  await runTask(seqRecTask(opts, out), {
    out: opts.out, resume: opts.resume ?? false,
    ...(opts.log ? { log: opts.log } : {}), ...(opts.notice ? { notice: opts.notice } : {}), ...(opts.afterStage ? { afterStage: opts.afterStage } : {}),
  });
  return out.result!;
}
