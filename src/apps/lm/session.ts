/**
 * A language-model training run (Node): builds the class table, sampler, output layer,
 * TensorFlow.js head and {@link LstmLm}; trains epoch by epoch within an optional time budget;
 * evaluates full-softmax perplexity on valid every epoch and on test at the end; logs metrics,
 * checkpoints after every epoch (resumable) and writes the HTML report, through `runTask`.
 * @module
 */
import { ClassTable } from '../../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { boolOption, choiceOption, intOption, numOption } from '../../core/validate.js';
import { CONVENTIONS, type Convention } from '../../loss/types.js';
import { BINARY_LOSSES, type BinaryLoss } from '../../loss/binary.js';
import type { LmCorpus } from '../../data/lmCorpus.js';
import { tableInKernelMemory, type FastKernels } from '../../kernels/fast.js';
import { Adam } from '../../layer/optimizers.js';
import { OutputLayer } from '../../layer/outputLayer.js';
import { trainingReportHtml, type CurvePoint } from '../../report/training.js';
import { createSamplerFor, samplerNames } from '../../samplers/factory.js';
import '../../samplers/index.js';
import type { Sampler } from '../../samplers/types.js';
import { StreamingFrequencyEstimator } from '../../samplers/frequency.js';
import { CheckpointError, fingerprint, RunFolder, type CommitStage, type MetricsRecord, type SettingValue, type StateTensors } from '../../harness/runFolder.js';
import { runTask } from '../../harness/runTask.js';
import type { Task } from '../../harness/task.js';
import { withProgress } from '../../train/progress.js';
import { TfOutputHead, type Tf } from '../../tfjs/adapter.js';
import { LstmLm } from './model.js';
import { evaluatePerplexity, trainEpoch } from './trainer.js';

/** Settings of a language-model run (all recorded in the checkpoint and the report). */
export interface LmRunSettings {
  /** `'full'` (exact softmax) or a registered sampler name. */
  sampler: string;
  /** Negatives per prediction (sampled losses). */
  negatives: number;
  /** Options of the sampler (e.g. midx's `stage`, `codewords`). */
  samplerOptions: Record<string, number | string | boolean>;
  /** Estimator convention of the sampled loss. */
  convention: Convention;
  /** The sampled loss (`'softmax'`; `'nce'`, `'negativeSampling'`: see `OutputLayer`). */
  loss: 'softmax' | BinaryLoss;
  /** Mask sampled words equal to the target (TensorFlow's `remove_accidental_hits`). */
  removeAccidentalHits: boolean;
  /**
   * Where the sampled loss takes its negatives (`OutputLayer`'s `negativeSource`): the sampler,
   * the batch's other targets (`'inBatch'`), or both (`'mixed'`); the in-batch ones need the
   * `'correctedAll'` convention, the softmax loss and accidental hits removed.
   */
  negativeSource: 'sampler' | 'inBatch' | 'mixed';
  /** Buckets of the streaming frequency estimate giving the in-batch `log Q` (0: none; checkpointed with the run). */
  frequencyBuckets: number;
  /** Learning rate of the streaming frequency estimate. */
  frequencyAlpha: number;
  /** Epochs to train (in total, counting resumed ones). */
  epochs: number;
  /** Training-time budget in seconds over the whole run (0 = none). */
  timeBudgetSec: number;
  /** Seed of every random choice. */
  seed: number;
  /** Embedding = hidden width. */
  dim: number;
  /** LSTM layers. */
  layers: number;
  /** Dropout rate. */
  dropout: number;
  /** Tie the input embedding to the class table. */
  tied: boolean;
  /** Adam learning rate (dense parameters and class table). */
  lr: number;
  /** Parallel BPTT columns in training. */
  batchSize: number;
  /** BPTT steps. */
  bptt: number;
  /** Parallel columns in evaluation. */
  evalBatchSize: number;
  /**
   * Rebuild an adaptive sampler every this many steps and skip its per-step updates (0: update
   * it after every step instead). A step of `batch × bptt` queries with per-query negatives
   * touches most of a 50k vocabulary, where a per-step update costs about a rebuild.
   */
  refreshEvery: number;
  /**
   * The class table's optimizer steps every row at every step, with a zero gradient for the rows
   * a step did not touch (`OutputLayer`'s `denseUpdates`), as the full softmax's dense gradient
   * does; false updates only the touched rows (lazy Adam).
   */
  denseUpdates: boolean;
  /** Evaluate on the first this many tokens of valid and test (0 = the whole splits). */
  evalTokens: number;
}

/**
 * The `midx` options a language model starts from unless `samplerOptions` says otherwise: the
 * `softmax` last stage (exact logits inside each drawn bucket) over 128 × 128 buckets, small
 * enough (a few classes each on a 50k vocabulary) that the exact logits stay cheap. On Brown it
 * trains within 2 % of the full softmax's perplexity at an output layer about 10× cheaper
 * (docs/tfjs.md); `{stage: 'uniform', codewords: 64}` is the sampler's own default.
 */
export const LM_MIDX_DEFAULTS: Readonly<Record<string, number | string>> = Object.freeze({ stage: 'softmax', codewords: 128 });

/** Defaults of {@link LmRunSettings}: the 2-layer LSTM of the usual small PTB setups. */
export const DEFAULT_LM_SETTINGS: Readonly<LmRunSettings> = Object.freeze({
  sampler: 'midx',
  negatives: 100,
  samplerOptions: {},
  convention: 'maskedExclusive',
  loss: 'softmax',
  removeAccidentalHits: true,
  negativeSource: 'sampler',
  frequencyBuckets: 0,
  frequencyAlpha: 0.01,
  epochs: 1,
  timeBudgetSec: 0,
  seed: 1,
  dim: 200,
  layers: 2,
  dropout: 0.2,
  tied: false,
  lr: 0.001,
  batchSize: 20,
  bptt: 35,
  evalBatchSize: 10,
  refreshEvery: 100,
  denseUpdates: true,
  evalTokens: 0,
});

/** Metrics of one evaluation (a line of `metrics.jsonl`). */
export interface LmEpochMetrics {
  /** Epochs done (fractional when the time budget cut an epoch short). */
  epoch: number;
  /** Training seconds so far (evaluation excluded). */
  wallSec: number;
  /** Mean head loss of the epoch. */
  trainLoss: number;
  /** Full-softmax perplexity on valid. */
  validPpl: number;
  /** Training tokens per second in the epoch. */
  tokensPerSec: number;
  /** Milliseconds per step spent in samplex's output layer (sampling, loss, gradients, update). */
  outputMsPerStep: number;
}

/** Result of {@link runLm}. */
export interface LmRunResult {
  /** Settings used. */
  settings: LmRunSettings;
  /** One entry per evaluated epoch (resumed ones included). */
  epochs: LmEpochMetrics[];
  /** Full-softmax perplexity on test at the end. */
  testPpl: number;
  /** Whether the time budget stopped training before `epochs`. */
  stoppedByBudget: boolean;
}

/** How {@link runLm} reports progress. */
export interface LmRunHooks {
  /** A progress display for an epoch of `total` tokens (e.g. {@link ProgressBar}); null for none. */
  progress?: (label: string, total: number) => { update(done: number, fields: Record<string, string | number>): void; stop(): void } | null;
  /** Status lines. */
  log?: (line: string) => void;
  /** samplex's fast kernels: the class table is then kept in their memory (no staging per step). */
  fast?: FastKernels;
  /** One-line notices of the run folder (default stderr). */
  notice?: (line: string) => void;
  /** Fault injection for tests (see `RunFolder.open`). */
  afterStage?: (stage: CommitStage, epoch: number) => void;
}

/**
 * Checks and completes run settings (`midx` options over {@link LM_MIDX_DEFAULTS}).
 * @throws OptionError for out-of-range values or an unknown sampler
 */
export function resolveLmSettings(s: Partial<LmRunSettings>): LmRunSettings {
  const r = { ...DEFAULT_LM_SETTINGS, ...s };
  return {
    sampler: r.sampler,
    negatives: intOption(r.negatives, 'negatives', 1),
    samplerOptions: { ...(r.sampler === 'midx' ? LM_MIDX_DEFAULTS : {}), ...r.samplerOptions },
    convention: choiceOption(r.convention, 'convention', CONVENTIONS),
    loss: choiceOption(r.loss, 'loss', ['softmax', ...BINARY_LOSSES] as const),
    removeAccidentalHits: boolOption(r.removeAccidentalHits, 'removeAccidentalHits'),
    negativeSource: choiceOption(r.negativeSource, 'negativeSource', ['sampler', 'inBatch', 'mixed'] as const),
    frequencyBuckets: intOption(r.frequencyBuckets, 'frequencyBuckets', 0, 2 ** 31 - 1),
    frequencyAlpha: numOption(r.frequencyAlpha, 'frequencyAlpha', 0, 1),
    epochs: intOption(r.epochs, 'epochs', 1),
    timeBudgetSec: numOption(r.timeBudgetSec, 'timeBudgetSec', 0),
    seed: intOption(r.seed, 'seed', 0, 2 ** 32 - 1),
    dim: intOption(r.dim, 'dim', 1),
    layers: intOption(r.layers, 'layers', 1, 16),
    dropout: numOption(r.dropout, 'dropout', 0, 1),
    tied: Boolean(r.tied),
    lr: numOption(r.lr, 'lr', 0, Infinity, true),
    batchSize: intOption(r.batchSize, 'batchSize', 1),
    bptt: intOption(r.bptt, 'bptt', 1),
    evalBatchSize: intOption(r.evalBatchSize, 'evalBatchSize', 1),
    refreshEvery: intOption(r.refreshEvery, 'refreshEvery', 0),
    denseUpdates: boolOption(r.denseUpdates, 'denseUpdates'),
    evalTokens: intOption(r.evalTokens, 'evalTokens', 0),
  };
}

/**
 * Refuses in-batch or mixed negatives the run cannot honour: with the exact softmax, or without
 * the `correctedAll` convention, the softmax loss and accidental hits removed.
 * @throws OptionError naming the flag to change
 */
function checkNegativeSource(s: LmRunSettings): void {
  if (s.negativeSource === 'sampler') {
    if (s.frequencyBuckets > 0) throw new OptionError('--frequency-buckets corrects in-batch negatives; add --negative-source inBatch or mixed');
    return;
  }
  if (s.sampler === 'full') throw new OptionError(`--negative-source ${s.negativeSource} applies to a sampled loss; the 'full' sampler trains the exact softmax`);
  if (s.convention !== 'correctedAll' || s.loss !== 'softmax' || !s.removeAccidentalHits) {
    throw new OptionError(`--negative-source ${s.negativeSource} needs --convention correctedAll, --loss softmax and accidental hits removed (a row's own target is among the batch's)`);
  }
}

/** The proposal for `name` over the corpus vocabulary (`full` trains with the exact softmax; its layer carries a uniform sampler that is never used). */
function lmSampler(name: string, corpus: LmCorpus, seed: number, opts: Record<string, unknown>): Sampler {
  return createSamplerFor(name === 'full' ? 'uniform' : name, { n: corpus.vocab.size, counts: corpus.vocab.counts, seed }, name === 'full' ? {} : opts);
}

/** The run's settings as recorded ones (sampler options flattened as `opt.<key>`). */
function recordedSettings(s: LmRunSettings): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'samplerOptions') for (const [ok, ov] of Object.entries(v as Record<string, SettingValue>)) out[`opt.${ok}`] = ov;
    // the sampler's negatives (the default) are not recorded, so runs from before the setting resume
    else if (!(s.negativeSource === 'sampler' && (k === 'negativeSource' || k === 'frequencyBuckets' || k === 'frequencyAlpha'))) out[k] = v as SettingValue;
  }
  return out;
}

/** The content fingerprint of a corpus (vocabulary and the three splits). */
export function lmDataFingerprint(corpus: LmCorpus): string {
  const words: string[] = [];
  for (let i = 0; i < corpus.vocab.size; i++) words.push(corpus.vocab.word(i));
  return fingerprint([words.join('\n'), corpus.train, corpus.valid, corpus.test]);
}

/** The model of a language-model task: built on the first epoch, or from a checkpoint. */
interface LmHolder {
  parts: LmParts | null;
  epochsDone: number;
  wallSec: number;
  rng: Rng;
}

/**
 * Trains (or resumes) a language model on `corpus` with `runTask`; see the module notes. With
 * `out`, `metrics.jsonl` gets one line per evaluation, a checkpoint is committed after every
 * epoch, and `report.html` is rewritten. Resuming restarts after the last committed epoch; an
 * epoch cut short by the budget is redone from its start.
 * @throws OptionError (settings), StateError (resuming with other settings or data),
 *   CheckpointError, RunLockedError, and as the layers
 */
export async function runLm(tf: Tf, corpus: LmCorpus, given: Partial<LmRunSettings>, out: string | null, hooks: LmRunHooks & { resume?: boolean } = {}): Promise<LmRunResult> {
  const s = resolveLmSettings(given);
  const log = hooks.log ?? (() => {});
  if (s.sampler !== 'full') choiceOption(s.sampler, 'sampler', samplerNames());
  if (s.sampler !== 'full' && s.negatives >= corpus.vocab.size) {
    throw new OptionError(`negatives (${s.negatives}) must be below the vocabulary size ${corpus.vocab.size}`);
  }
  checkNegativeSource(s);
  const n = corpus.vocab.size;
  const built = async (h: LmHolder): Promise<LmParts> => (h.parts ??= await buildLm(tf, corpus, s, hooks.fast, null));
  const result: LmRunResult = { settings: s, epochs: [], testPpl: Number.NaN, stoppedByBudget: false };
  let holder: LmHolder | null = null;
  const task: Task<LmHolder> = {
    app: 'lm',
    settings: recordedSettings(s),
    data: lmDataFingerprint(corpus),
    epochs: s.epochs,
    create: () => (holder = { parts: null, epochsDone: 0, wallSec: 0, rng: Rng.fromSeed(s.seed, 0).fork(3) }),
    stateTensors: async (h) => (h.parts ? checkpointTensors(h.parts) : { 'table.weights': { data: new Float32Array(n * s.dim), shape: [n, s.dim] }, 'table.bias': new Float32Array(n) }),
    lazyState: (name) => name.startsWith('opt.') || name.startsWith('dense.') || (s.frequencyBuckets > 0 && name.startsWith('freq.')),
    loadState: async (h, tensors, meta, epoch) => {
      const wall = meta['wallSec'];
      const rng = meta['rng'];
      if (typeof wall !== 'number' || !Number.isFinite(wall) || wall < 0) throw new CheckpointError(`the checkpoint's wallSec ${JSON.stringify(wall ?? null)} is not a number of seconds ≥ 0; restore the run folder or start a new run`);
      if (!Array.isArray(rng) || rng.length !== 4 || !rng.every((w) => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w < 2 ** 32) || rng.every((w) => w === 0)) {
        throw new CheckpointError("the checkpoint's rng is not a generator state (4 unsigned 32-bit words, not all 0); restore the run folder or start a new run");
      }
      h.parts = await buildLm(tf, corpus, s, hooks.fast, tensors);
      h.epochsDone = epoch;
      h.wallSec = wall;
      h.rng = Rng.fromState(rng as number[]);
      log(`resuming after epoch ${epoch} (${wall.toFixed(0)} s of training)`);
    },
    meta: (h) => ({ wallSec: h.wallSec, rng: h.rng.state() }),
    epochsDone: (h) => h.epochsDone,
    shouldStop: (h) => {
      result.stoppedByBudget = s.timeBudgetSec > 0 && h.wallSec >= s.timeBudgetSec;
      return result.stoppedByBudget;
    },
    epoch: async (h) => {
      const { head, model } = await built(h);
      const label = `${s.sampler} epoch ${h.epochsDone + 1}/${s.epochs}`;
      const totalTokens = s.batchSize * (Math.floor(corpus.train.length / s.batchSize) - 1);
      const bar = hooks.progress?.(label, totalTokens) ?? null;
      head.resetTiming();
      const t0 = performance.now();
      const startWall = h.wallSec;
      const res = withProgress(bar, () =>
        trainEpoch(model, corpus.train, h.rng, {
          batchSize: s.batchSize,
          seqLen: s.bptt,
          shouldStop: () => s.timeBudgetSec > 0 && startWall + (performance.now() - t0) / 1000 >= s.timeBudgetSec,
          onBatch: (p) => bar?.update(p.tokens, { loss: p.meanLoss }),
        }),
      );
      const sec = (performance.now() - t0) / 1000;
      h.wallSec += sec;
      const timing = head.timing;
      const valid = evaluatePerplexity(model, evalSplit(corpus.valid, s.evalTokens), { batchSize: s.evalBatchSize, seqLen: s.bptt });
      const fraction = res.stopped ? res.batches / Math.ceil((Math.floor(corpus.train.length / s.batchSize) - 1) / s.bptt) : 1;
      const m: LmEpochMetrics = {
        epoch: h.epochsDone + fraction,
        wallSec: h.wallSec,
        trainLoss: res.meanLoss,
        validPpl: valid.perplexity,
        tokensPerSec: res.tokens / sec,
        outputMsPerStep: timing.steps ? timing.outputMs / timing.steps : 0,
      };
      log(`${label}: train loss ${m.trainLoss.toFixed(3)}, valid perplexity ${m.validPpl.toFixed(2)}, ${m.tokensPerSec.toFixed(0)} tokens/s, output layer ${m.outputMsPerStep.toFixed(1)} ms/step`);
      if (res.stopped) result.stoppedByBudget = true;
      else h.epochsDone++;
      return { records: [{ ...m }], complete: !res.stopped };
    },
    finish: async (h, ctx) => {
      const { model } = await built(h);
      const test = evaluatePerplexity(model, evalSplit(corpus.test, s.evalTokens), { batchSize: s.evalBatchSize, seqLen: s.bptt });
      log(`${s.sampler}: test perplexity ${test.perplexity.toFixed(2)}`);
      result.epochs = ctx.records.filter((r) => typeof r['validPpl'] === 'number') as unknown as LmEpochMetrics[];
      result.testPpl = test.perplexity;
      return [{ epoch: result.epochs.at(-1)?.epoch ?? 0, wallSec: h.wallSec, testPpl: test.perplexity }];
    },
    report: (records: readonly MetricsRecord[]) =>
      lmReportHtml([{ name: s.sampler, result: { ...result, epochs: records.filter((r) => typeof r['validPpl'] === 'number') as unknown as LmEpochMetrics[] } }], corpus),
  };
  try {
    await runTask(task, {
      out, resume: hooks.resume ?? false, log,
      ...(hooks.notice ? { notice: hooks.notice } : {}), ...(hooks.afterStage ? { afterStage: hooks.afterStage } : {}),
    });
    return result;
  } finally {
    const parts = (holder as LmHolder | null)?.parts;
    parts?.model.dispose();
    parts?.head.dispose();
  }
}

/** The parts of a language model, as {@link runLm} trains them. */
interface LmParts {
  layer: OutputLayer;
  head: TfOutputHead;
  model: LstmLm;
}

/**
 * Builds the class table, its optimizer, the output layer with the run's sampler, the tfjs head
 * and the LSTM for settings `s`, every random choice from `s.seed`; with `restored` (a
 * checkpoint's tensors) the table and optimizer state are restored before the sampler is built
 * on the table, and the dense parameters after the model is built.
 */
async function buildLm(tf: Tf, corpus: LmCorpus, s: LmRunSettings, fast: FastKernels | undefined, restored: Record<string, Float32Array | Int32Array> | null): Promise<LmParts> {
  const root = Rng.fromSeed(s.seed, 0);
  const n = corpus.vocab.size;
  const init = ClassTable.init(n, s.dim, root.fork(1), { init: 'uniform', scale: 0.1, bias: true });
  const table = fast ? tableInKernelMemory(fast, init) : init;
  // the Adam moments live in the fast kernels' memory too, so the update runs as a kernel
  const optimizer = new Adam({ lr: s.lr }, fast ? { f32: fast.allocF32, i32: fast.allocI32 } : undefined);
  if (restored) {
    const w = restored['table.weights'];
    if (!(w instanceof Float32Array) || w.length !== n * s.dim) {
      throw new ShapeError(`the checkpoint's class table has ${w?.length ?? 0} values, the vocabulary and settings give ${n} × ${s.dim}; use the data and --min-count the run was trained with`);
    }
    table.weights.set(w);
    table.bias!.set(restored['table.bias'] as Float32Array);
    const st: Record<string, Float32Array | Int32Array> = {};
    for (const [k, t] of Object.entries(restored)) if (k.startsWith('opt.')) st[k.slice(4)] = t;
    optimizer.loadState(st);
  }
  const layer = new OutputLayer({
    table,
    sampler: lmSampler(s.sampler, corpus, s.seed, s.samplerOptions),
    convention: s.convention,
    loss: s.loss,
    removeAccidentalHits: s.removeAccidentalHits,
    negativeSource: s.negativeSource,
    frequency: restoredFrequency(s, restored),
    optimizer,
    negatives: s.sampler === 'full' ? 1 : s.negatives,
    rebuildEvery: s.refreshEvery,
    stepUpdates: s.refreshEvery === 0,
    denseUpdates: s.denseUpdates,
  });
  const head = new TfOutputHead(tf, layer, { loss: s.sampler === 'full' ? 'full' : 'sampled' });
  const model = new LstmLm(tf, head, root.fork(2), { layers: s.layers, dropout: s.dropout, tied: s.tied, lr: s.lr });
  if (restored) {
    const denseShapes = new Map<string, readonly number[]>();
    for (const [k, t] of Object.entries(await model.denseState())) denseShapes.set(k, t.shape);
    const dense: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
    for (const [k, t] of Object.entries(restored)) {
      if (k.startsWith('dense.')) {
        if (!(t instanceof Float32Array)) throw new CheckpointError(`the checkpoint's ${k} is not float32; restore the run folder or start a new run`);
        const own = denseShapes.get(k.slice(6));
        dense[k.slice(6)] = { data: t, shape: own && own.reduce((a, b) => a * b, 1) === t.length ? own : [t.length] };
      }
    }
    await model.loadDenseState(dense);
  }
  return { layer, head, model };
}

/** A trained run opened by {@link openLmRun}. */
export interface OpenedLmRun {
  /** The run's settings, as recorded in its checkpoint. */
  readonly settings: LmRunSettings;
  /** Epochs completed by the checkpoint. */
  readonly epochsDone: number;
  /** The model with the checkpoint's parameters (its class table is `model.head.layer.table`). */
  readonly model: LstmLm;
  /** Releases the model's tensors. */
  dispose(): void;
}

/**
 * Opens the last checkpoint of the run in `dir` for analysis: the model as {@link runLm} left it
 * after its last completed epoch. `corpus` must be the one the run was trained on (its vocabulary
 * size is checked against the checkpoint's table).
 * @throws StateError when `dir` holds no checkpoint; ShapeError when the vocabulary does not match
 */
export async function openLmRun(tf: Tf, corpus: LmCorpus, dir: string, fast?: FastKernels): Promise<OpenedLmRun> {
  const run = RunFolder.view(dir);
  const c = run.committed!;
  if (c.app !== 'lm') throw new CheckpointError(`${run.dir} holds a ${c.app} run, not a language model`);
  const opts: Record<string, number | string | boolean> = {};
  const rest: Record<string, SettingValue> = {};
  for (const [k, v] of Object.entries(c.settings)) {
    if (k.startsWith('opt.')) opts[k.slice(4)] = v;
    else rest[k] = v;
  }
  const settings = resolveLmSettings({ ...(rest as Partial<LmRunSettings>), samplerOptions: opts });
  const n = corpus.vocab.size;
  if (c.data !== lmDataFingerprint(corpus)) throw new ShapeError(`${run.dir} was trained on other data; give the --data and --min-count the run was trained with`);
  const tensors = run.loadCheckpoint(
    { 'table.weights': { dtype: 'F32', shape: [n, settings.dim] }, 'table.bias': { dtype: 'F32', shape: [n] } },
    { extra: (name) => name.startsWith('opt.') || name.startsWith('dense.') },
  );
  const { head, model } = await buildLm(tf, corpus, settings, fast, tensors);
  const epochsDone = c.epoch;
  return {
    settings,
    epochsDone,
    model,
    dispose: () => {
      model.dispose();
      head.dispose();
    },
  };
}

/**
 * The in-batch frequency estimate of a run (null without one), restored from a checkpoint's
 * `freq.*` tensors when `restored` is given.
 * @throws StateError (the checkpoint holds no estimate), ShapeError, StateError, NonFiniteError (a
 *   mis-shaped or impossible state)
 */
function restoredFrequency(s: LmRunSettings, restored: Readonly<Record<string, Float32Array | Int32Array>> | null): StreamingFrequencyEstimator | null {
  if (s.frequencyBuckets === 0) return null;
  const est = new StreamingFrequencyEstimator({ buckets: s.frequencyBuckets, alpha: s.frequencyAlpha });
  if (restored) {
    const st: Record<string, Int32Array | Float32Array> = {};
    for (const [k, t] of Object.entries(restored)) if (k.startsWith('freq.')) st[k.slice(5)] = t;
    if (Object.keys(st).length === 0) throw new StateError('the checkpoint has no state for the in-batch frequency estimate; it was written without one');
    est.loadState(st);
  }
  return est;
}

/** The first `tokens` tokens of a split (all when 0). */
function evalSplit(stream: Int32Array, tokens: number): Int32Array {
  return tokens > 0 && tokens < stream.length ? stream.subarray(0, tokens) : stream;
}

/** The checkpoint tensors of a language model: class table, its optimizer, the dense parameters and their optimizer. */
async function checkpointTensors(p: LmParts): Promise<StateTensors> {
  const { layer, model } = p;
  const tensors: StateTensors = {
    'table.weights': { data: layer.table.weights, shape: [layer.table.n, layer.table.d] },
    'table.bias': layer.table.bias!,
  };
  for (const [k, a] of Object.entries(layer.optimizer.stateTensors())) tensors[`opt.${k}`] = a;
  if (layer.frequency) for (const [k, a] of Object.entries(layer.frequency.stateTensors())) tensors[`freq.${k}`] = a;
  for (const [k, t] of Object.entries(await model.denseState())) tensors[`dense.${k}`] = { data: t.data, shape: t.shape };
  return tensors;
}

/**
 * The report of one or more language-model runs: valid perplexity against epoch and wall
 * time (a line per run) and a table of final perplexities, tokens/s and output-layer ms/step.
 */
export function lmReportHtml(runs: ReadonlyArray<{ name: string; result: LmRunResult }>, corpus: LmCorpus): string {
  const s = runs[0]?.result.settings ?? DEFAULT_LM_SETTINGS;
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
  return trainingReportHtml({
    title: `samplex language model: ${corpus.name}`,
    settings: {
      corpus: corpus.name,
      vocabulary: corpus.vocab.size,
      'train tokens': corpus.train.length,
      model: `${s.layers}-layer LSTM, d = ${s.dim}, dropout ${s.dropout}${s.tied ? ', tied embeddings' : ''}`,
      'batch × bptt': `${s.batchSize} × ${s.bptt}`,
      negatives: s.negatives,
      convention: s.convention,
      ...(s.loss === 'softmax' ? {} : { loss: s.loss }),
      ...(s.removeAccidentalHits ? {} : { 'accidental hits': 'kept' }),
      ...(s.negativeSource === 'sampler' ? {} : { negatives: s.negativeSource === 'inBatch' ? 'in-batch' : `${s.negatives} sampled + in-batch`, 'in-batch log Q': s.frequencyBuckets > 0 ? `streaming estimate, ${s.frequencyBuckets} buckets, alpha ${s.frequencyAlpha}` : 'none' }),
      'sampler options': Object.entries(s.samplerOptions).map(([k, v]) => `${k}=${v}`).join(' ') || '-',
      'learning rate (Adam)': s.lr,
      'adaptive sampler refresh': s.refreshEvery ? `rebuilt every ${s.refreshEvery} steps` : 'updated every step',
      'class-table updates': s.denseUpdates ? 'every row' : 'touched rows',
      seed: s.seed,
      'evaluated tokens': s.evalTokens ? `first ${s.evalTokens} of valid and test` : 'all of valid and test',
    },
    runs: runs.map((r) => ({
      name: r.name,
      points: r.result.epochs.map((e): CurvePoint => ({ epoch: e.epoch, wallSec: e.wallSec, values: { validPpl: e.validPpl } })),
    })),
    metrics: [{ key: 'validPpl', label: 'valid perplexity (full softmax)', log: true }],
    summary: {
      head: ['run', 'epochs', 'valid perplexity', 'test perplexity', 'tokens/s', 'output layer ms/step'],
      rows: runs.map((r) => {
        const last = r.result.epochs.at(-1);
        return [
          r.name,
          last ? last.epoch.toFixed(2) : '0',
          last ? last.validPpl.toFixed(2) : '-',
          r.result.testPpl.toFixed(2),
          mean(r.result.epochs.map((e) => e.tokensPerSec)).toFixed(0),
          mean(r.result.epochs.map((e) => e.outputMsPerStep)).toFixed(2),
        ];
      }),
    },
  });
}
