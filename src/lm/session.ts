/**
 * A language-model training run (Node): builds the class table, sampler, output layer,
 * TensorFlow.js head and {@link LstmLm}; trains epoch by epoch within an optional time budget;
 * evaluates full-softmax perplexity on valid every epoch and on test at the end; logs metrics,
 * checkpoints after every epoch (resumable) and writes the HTML report into a {@link RunDir}.
 * @module
 */
import { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { boolOption, choiceOption, intOption, numOption } from '../core/validate.js';
import { CONVENTIONS, type Convention } from '../loss/types.js';
import { BINARY_LOSSES, type BinaryLoss } from '../loss/binary.js';
import type { LmCorpus } from '../data/lmCorpus.js';
import { tableInKernelMemory, type FastKernels } from '../kernels/fast.js';
import { Adam } from '../layer/optimizers.js';
import { OutputLayer } from '../layer/outputLayer.js';
import { readSafetensors, writeSafetensors } from '../layer/safetensors.js';
import type { SafetensorsInput } from '../layer/safetensorsCodec.js';
import { trainingReportHtml, type CurvePoint } from '../report/training.js';
import { createSamplerFor } from '../samplers/factory.js';
import '../samplers/index.js';
import type { Sampler } from '../samplers/types.js';
import type { RunDir } from '../train/runDir.js';
import { withProgress } from '../train/progress.js';
import { TfOutputHead, type Tf } from '../tfjs/adapter.js';
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
}

interface Checkpoint {
  epochsDone: number;
  wallSec: number;
  rng: number[];
  settings: LmRunSettings;
  /** 2 since the `midx` defaults and the `maskedExclusive` default; absent before. */
  settingsVersion?: number;
}

const SETTINGS_VERSION = 2;

/**
 * The settings of a checkpoint written before {@link SETTINGS_VERSION} 2, spelled out with the
 * defaults of that time: no sampler options or estimator recorded meant `exclusive` and, for
 * `midx`, the sampler's own `uniform` stage with 64 codewords.
 */
function legacySettings(s: Partial<LmRunSettings>): Partial<LmRunSettings> {
  const opts = s.samplerOptions ?? {};
  return {
    ...s,
    convention: s.convention ?? 'exclusive',
    samplerOptions: s.sampler === 'midx' ? { stage: 'uniform', codewords: 64, ...opts } : opts,
  };
}

const CHECKPOINT_JSON = 'checkpoint.json';
const CHECKPOINT_TENSORS = 'checkpoint.safetensors';

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

/** The proposal for `name` over the corpus vocabulary (`full` trains with the exact softmax; its layer carries a uniform sampler that is never used). */
function lmSampler(name: string, corpus: LmCorpus, seed: number, opts: Record<string, unknown>): Sampler {
  return createSamplerFor(name === 'full' ? 'uniform' : name, { n: corpus.vocab.size, counts: corpus.vocab.counts, seed }, name === 'full' ? {} : opts);
}

/**
 * Trains (or resumes) a language model on `corpus`; see the module notes. With `dir`,
 * `metrics.jsonl` gets one line per evaluation, `checkpoint.json` + `checkpoint.safetensors`
 * are rewritten after every epoch, and `report.html` at the end. Resuming (a `dir` opened with
 * `resume`) restarts after the last checkpointed epoch; an epoch cut short by the budget is
 * redone from its start.
 * @throws OptionError (settings), StateError (resuming with other settings), and as the layers
 */
export async function runLm(tf: Tf, corpus: LmCorpus, given: Partial<LmRunSettings>, dir: RunDir | null, hooks: LmRunHooks = {}): Promise<LmRunResult> {
  let settings = resolveLmSettings(given);
  const log = hooks.log ?? (() => {});
  const ckpt = dir?.readJson<Checkpoint>(CHECKPOINT_JSON) ?? null;
  if (ckpt) {
    // a checkpoint written before a setting existed ran with that setting's default of the time
    ckpt.settings = resolveLmSettings(ckpt.settingsVersion === undefined ? legacySettings(ckpt.settings) : ckpt.settings);
    const a = JSON.stringify({ ...ckpt.settings, epochs: 0, timeBudgetSec: 0 });
    const b = JSON.stringify({ ...settings, epochs: 0, timeBudgetSec: 0 });
    if (a !== b) throw new StateError(`the run in ${dir!.dir} was trained with other settings (${a}); resume with the same options or choose another --out`);
    settings = { ...ckpt.settings, epochs: settings.epochs, timeBudgetSec: settings.timeBudgetSec };
  }
  const s = settings;
  if (s.sampler !== 'full') choiceOption(s.sampler, 'sampler', ['uniform', 'unigram', 'logUniform', 'quadratic', 'rff', 'midx', 'exact']);
  if (s.sampler !== 'full' && s.negatives >= corpus.vocab.size) {
    throw new OptionError(`negatives (${s.negatives}) must be below the vocabulary size ${corpus.vocab.size}`);
  }
  let epochsDone = 0;
  let wallSec = 0;
  let rng = Rng.fromSeed(s.seed, 0).fork(3);
  let restored: ReturnType<typeof readSafetensors> | null = null;
  if (ckpt && dir) {
    restored = readSafetensors(dir.path(CHECKPOINT_TENSORS));
    epochsDone = ckpt.epochsDone;
    wallSec = ckpt.wallSec;
    rng = Rng.fromState(ckpt.rng);
    log(`resuming after epoch ${epochsDone} (${wallSec.toFixed(0)} s of training)`);
  }
  const { layer, head, model } = await buildLm(tf, corpus, s, hooks.fast, restored);
  const epochs: LmEpochMetrics[] = (dir?.readMetrics() ?? []).filter((r) => typeof r['validPpl'] === 'number') as unknown as LmEpochMetrics[];
  let stoppedByBudget = false;
  try {
    while (epochsDone < s.epochs) {
      if (s.timeBudgetSec > 0 && wallSec >= s.timeBudgetSec) {
        stoppedByBudget = true;
        break;
      }
      const label = `${s.sampler} epoch ${epochsDone + 1}/${s.epochs}`;
      const totalTokens = s.batchSize * (Math.floor(corpus.train.length / s.batchSize) - 1);
      const bar = hooks.progress?.(label, totalTokens) ?? null;
      head.resetTiming();
      const t0 = performance.now();
      const startWall = wallSec;
      const res = withProgress(bar, () =>
        trainEpoch(model, corpus.train, rng, {
          batchSize: s.batchSize,
          seqLen: s.bptt,
          shouldStop: () => s.timeBudgetSec > 0 && startWall + (performance.now() - t0) / 1000 >= s.timeBudgetSec,
          onBatch: (p) => bar?.update(p.tokens, { loss: p.meanLoss }),
        }),
      );
      const sec = (performance.now() - t0) / 1000;
      wallSec += sec;
      const timing = head.timing;
      const valid = evaluatePerplexity(model, evalSplit(corpus.valid, s.evalTokens), { batchSize: s.evalBatchSize, seqLen: s.bptt });
      const fraction = res.stopped ? res.batches / Math.ceil((Math.floor(corpus.train.length / s.batchSize) - 1) / s.bptt) : 1;
      const m: LmEpochMetrics = {
        epoch: epochsDone + fraction,
        wallSec,
        trainLoss: res.meanLoss,
        validPpl: valid.perplexity,
        tokensPerSec: res.tokens / sec,
        outputMsPerStep: timing.steps ? timing.outputMs / timing.steps : 0,
      };
      epochs.push(m);
      dir?.appendMetrics({ ...m });
      log(`${label}: train loss ${m.trainLoss.toFixed(3)}, valid perplexity ${m.validPpl.toFixed(2)}, ${m.tokensPerSec.toFixed(0)} tokens/s, output layer ${m.outputMsPerStep.toFixed(1)} ms/step`);
      if (res.stopped) {
        stoppedByBudget = true;
        break;
      }
      epochsDone++;
      if (dir) await saveCheckpoint(dir, model, layer, { epochsDone, wallSec, rng: rng.state(), settings: s, settingsVersion: SETTINGS_VERSION });
    }
    const test = evaluatePerplexity(model, evalSplit(corpus.test, s.evalTokens), { batchSize: s.evalBatchSize, seqLen: s.bptt });
    log(`${s.sampler}: test perplexity ${test.perplexity.toFixed(2)}`);
    dir?.appendMetrics({ epoch: epochs.at(-1)?.epoch ?? 0, wallSec, testPpl: test.perplexity });
    const result: LmRunResult = { settings: s, epochs, testPpl: test.perplexity, stoppedByBudget };
    dir?.writeText('report.html', lmReportHtml([{ name: s.sampler, result }], corpus));
    return result;
  } finally {
    model.dispose();
    head.dispose();
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
async function buildLm(tf: Tf, corpus: LmCorpus, s: LmRunSettings, fast: FastKernels | undefined, restored: ReturnType<typeof readSafetensors> | null): Promise<LmParts> {
  const root = Rng.fromSeed(s.seed, 0);
  const n = corpus.vocab.size;
  const init = ClassTable.init(n, s.dim, root.fork(1), { init: 'uniform', scale: 0.1, bias: true });
  const table = fast ? tableInKernelMemory(fast, init) : init;
  // the Adam moments live in the fast kernels' memory too, so the update runs as a kernel
  const optimizer = new Adam({ lr: s.lr }, fast ? { f32: fast.allocF32, i32: fast.allocI32 } : undefined);
  if (restored) {
    const w = restored.tensors['table.weights'];
    if (!w || w.shape[0] !== n || w.shape[1] !== s.dim) {
      throw new ShapeError(`the checkpoint's class table is [${w?.shape.join(', ') ?? 'missing'}], the vocabulary and settings give [${n}, ${s.dim}]; use the data and --min-count the run was trained with`);
    }
    table.weights.set(w.data as Float32Array);
    table.bias!.set(restored.tensors['table.bias']!.data as Float32Array);
    const st: Record<string, Float32Array | Int32Array> = {};
    for (const [k, t] of Object.entries(restored.tensors)) if (k.startsWith('opt.')) st[k.slice(4)] = t.data as Float32Array | Int32Array;
    optimizer.loadState(st);
  }
  const layer = new OutputLayer({
    table,
    sampler: lmSampler(s.sampler, corpus, s.seed, s.samplerOptions),
    convention: s.convention,
    loss: s.loss,
    removeAccidentalHits: s.removeAccidentalHits,
    optimizer,
    negatives: s.sampler === 'full' ? 1 : s.negatives,
    rebuildEvery: s.refreshEvery,
    stepUpdates: s.refreshEvery === 0,
    denseUpdates: s.denseUpdates,
  });
  const head = new TfOutputHead(tf, layer, { loss: s.sampler === 'full' ? 'full' : 'sampled' });
  const model = new LstmLm(tf, head, root.fork(2), { layers: s.layers, dropout: s.dropout, tied: s.tied, lr: s.lr });
  if (restored) {
    const dense: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
    for (const [k, t] of Object.entries(restored.tensors)) if (k.startsWith('dense.')) dense[k.slice(6)] = { data: t.data as Float32Array, shape: t.shape };
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
export async function openLmRun(tf: Tf, corpus: LmCorpus, dir: RunDir, fast?: FastKernels): Promise<OpenedLmRun> {
  const ckpt = dir.readJson<Checkpoint>(CHECKPOINT_JSON);
  if (!ckpt) throw new StateError(`${dir.dir} holds no checkpoint (${CHECKPOINT_JSON}); train a language model into it first`);
  const settings = resolveLmSettings(ckpt.settingsVersion === undefined ? legacySettings(ckpt.settings) : ckpt.settings);
  const { head, model } = await buildLm(tf, corpus, settings, fast, readSafetensors(dir.path(CHECKPOINT_TENSORS)));
  return {
    settings,
    epochsDone: ckpt.epochsDone,
    model,
    dispose: () => {
      model.dispose();
      head.dispose();
    },
  };
}

/** The first `tokens` tokens of a split (all when 0). */
function evalSplit(stream: Int32Array, tokens: number): Int32Array {
  return tokens > 0 && tokens < stream.length ? stream.subarray(0, tokens) : stream;
}

async function saveCheckpoint(dir: RunDir, model: LstmLm, layer: OutputLayer, meta: Checkpoint): Promise<void> {
  const tensors: Record<string, SafetensorsInput> = {
    'table.weights': { data: layer.table.weights, shape: [layer.table.n, layer.table.d] },
    'table.bias': { data: layer.table.bias!, shape: [layer.table.n] },
  };
  for (const [k, a] of Object.entries(layer.optimizer.stateTensors())) tensors[`opt.${k}`] = { data: a, shape: [a.length] };
  for (const [k, t] of Object.entries(await model.denseState())) tensors[`dense.${k}`] = { data: t.data, shape: t.shape };
  writeSafetensors(dir.path(CHECKPOINT_TENSORS), tensors);
  dir.writeJson(CHECKPOINT_JSON, meta);
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
