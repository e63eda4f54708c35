/**
 * Training and evaluation of the extreme classifier: {@link SparseEncoder} → query →
 * output layer (any registered sampler through {@link OutputLayer}, or the full softmax),
 * with per-epoch exact evaluation (P@k, nDCG@k over all labels) and resumable state.
 * Browser-safe (no file I/O here; see `checkpoint.ts`).
 * @module
 */
import { warnOnce } from '../../core/runtime.js';
import { ClassTable } from '../../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../../core/errors.js';
import type { Labels, Matrix } from '../../core/matrix.js';
import { Rng } from '../../core/rng.js';
import { choiceOption, intOption, numOption, rejectUnknown } from '../../core/validate.js';
import { FeistelPermutation } from '../../core/permutation.js';
import { checkDataset, isRowSource, numRows, type RowSource, type SourceSplit, type SparseDataset, type SparseRows } from '../../data/sparse.js';
import type { AsyncKernels } from '../../kernels/pool.js';
import { dot, memoryHolding } from '../../kernels/index.js';
import { evaluate, evaluateMetrics } from '../../layer/evaluator.js';
import {
  createOptimizer, OPTIMIZER_NAMES, type OptimizerName, type OptimizerState, type OptimizerStorage, type SparseOptimizer,
} from '../../layer/optimizers.js';
import { OutputLayer } from '../../layer/outputLayer.js';
import { fullSoftmaxLoss } from '../../loss/full.js';
import { meanNll, ndcgAtK, precisionAtK } from '../../loss/metrics.js';
import { CONVENTIONS, LABEL_WEIGHTINGS, type Convention, type LabelWeighting } from '../../loss/types.js';
import { BINARY_LOSSES, type BinaryLoss } from '../../loss/binary.js';
import { createSamplerFor, samplerNames } from '../../samplers/factory.js';
import { MidxSampler, type MidxWorkers } from '../../samplers/midx.js';
import { StreamingFrequencyEstimator } from '../../samplers/frequency.js';
import { checkInputs, SparseEncoder } from './encoder.js';
import { Featurizer, type TermWeighting } from './features.js';

/** The sampler name that trains with the exact (full) softmax instead of a sampled one. */
export const FULL_SOFTMAX = 'full';

/** Options of {@link XmcTrainer}. Every field has a default. */
export interface XmcConfig {
  /** `'full'` (exact softmax) or a registered sampler name (default `'midx'`). */
  sampler?: string;
  /**
   * Options passed to the sampler (its `seed`, when it takes one, defaults from
   * {@link XmcConfig.seed}; `midx` starts from {@link XMC_MIDX_DEFAULTS}).
   */
  samplerOptions?: Record<string, unknown>;
  /** Negatives per row for sampled samplers (default 50). */
  negatives?: number;
  /** Query dimension (default 128). */
  dim?: number;
  /** Hidden layer after the embedding sum (default false). */
  hidden?: boolean;
  /** Rows per step (default 64). */
  batchSize?: number;
  /** Optimizer of every parameter table (default `'adam'`). */
  optimizer?: OptimizerName;
  /** Learning rate (default 0.01). */
  lr?: number;
  /**
   * Linear learning-rate decay (default 0: constant): the rate falls linearly from `lr` at the
   * first step to 0 at the end of epoch `lrDecayEpochs` (fastText's schedule), for every
   * parameter table; an epoch past it trains with rate 0.
   */
  lrDecayEpochs?: number;
  /** Input weighting (default `'tfidf'`). */
  weighting?: TermWeighting;
  /** Hashed bigram buckets (default 0: tokens only). */
  bigrams?: number;
  /**
   * Estimator convention of the sampled loss (default `'maskedExclusive'`: draw from all labels,
   * drop the draws that hit a positive of the row and correct the others as draws from the
   * proposal restricted to the non-positives; `'correctedAll'` masks the hits instead;
   * `'exclusive'` draws from the other labels by rejection, which needs many tries once an
   * adaptive proposal concentrates on the positives).
   */
  convention?: Convention;
  /** Weighting of a row's positives (default `'mean'`; `'joint'`: TensorFlow's multi-label softmax, `correctedAll` only). */
  labelWeighting?: LabelWeighting;
  /** The sampled loss (default `'softmax'`; `'nce'`, `'negativeSampling'`: see `OutputLayer`). */
  loss?: 'softmax' | BinaryLoss;
  /** Mask sampled labels equal to a positive (default true). */
  removeAccidentalHits?: boolean;
  /**
   * Where the sampled loss takes its negatives (default `'sampler'`; `'inBatch'`: the batch's
   * other positives; `'mixed'`: both; see `OutputLayer`'s `negativeSource`). The in-batch ones
   * need single-label training rows, the `'correctedAll'` convention, the softmax loss and
   * accidental hits removed.
   */
  negativeSource?: 'sampler' | 'inBatch' | 'mixed';
  /** Buckets of the streaming frequency estimate giving the in-batch `log Q` (default 0: none; checkpointed with the run). */
  frequencyBuckets?: number;
  /** Learning rate of the streaming frequency estimate (default 0.01). */
  frequencyAlpha?: number;
  /** Seed of every random choice (default 1). */
  seed?: number;
  /**
   * Rebuild an adaptive sampler every this many steps (default 100; 0: only the fresh build at
   * the start of each epoch).
   */
  rebuildEvery?: number;
  /** Call the adaptive sampler's `update(ids)` after every step (default false; see `OutputLayer`). */
  updatePerStep?: boolean;
  /**
   * Apply the class-table optimizer to every label row at every step (zero gradient for the
   * rows the step did not sample; default true), as the full softmax's dense gradient does:
   * with Adam, a sampled row keeps moving with its momentum and every row's bias correction
   * follows the global step (see `OutputLayer`'s `denseUpdates`). False updates only the sampled
   * rows (lazy Adam).
   */
  denseUpdates?: boolean;
}

/** A fully resolved {@link XmcConfig}. */
export type ResolvedXmcConfig = Required<XmcConfig>;

const CONFIG_KEYS = [
  'sampler', 'samplerOptions', 'negatives', 'dim', 'hidden', 'batchSize', 'optimizer', 'lr', 'lrDecayEpochs', 'weighting', 'bigrams', 'convention', 'labelWeighting', 'loss', 'removeAccidentalHits', 'negativeSource', 'frequencyBuckets', 'frequencyAlpha', 'seed', 'rebuildEvery', 'updatePerStep', 'denseUpdates',
] as const;

/**
 * The `midx` options the classifier uses unless `samplerOptions` says otherwise: 16 codewords per
 * codebook and the `softmax` last stage (a class in proportion to its exact logit within the
 * drawn bucket), the proposal that trains within a point of the full softmax on WordNet
 * (docs/xmc.md); `{stage: 'uniform', codewords: 64}` is the sampler's own, faster default.
 */
export const XMC_MIDX_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({ codewords: 16, stage: 'softmax' });

/** Names accepted as `sampler`: `'full'` and the registered samplers. */
export function xmcSamplerNames(): string[] {
  return [FULL_SOFTMAX, ...samplerNames()];
}

/**
 * Fills in the defaults and validates a configuration.
 * @throws OptionError for unknown keys, an unknown sampler or out-of-range values
 */
export function resolveXmcConfig(c: XmcConfig = {}): ResolvedXmcConfig {
  rejectUnknown(c, CONFIG_KEYS, 'xmc config');
  const sampler = c.sampler ?? 'midx';
  if (!xmcSamplerNames().includes(sampler)) {
    throw new OptionError(`unknown sampler '${sampler}'; use one of ${xmcSamplerNames().join(', ')}`);
  }
  if (sampler === 'learnedUnigram') {
    throw new OptionError("the extreme classifier builds its sampler afresh every epoch and does not checkpoint sampler state, so 'learnedUnigram' would forget its counts; use unigram (the training label counts) here");
  }
  if (sampler === FULL_SOFTMAX && ((c.loss ?? 'softmax') !== 'softmax' || c.removeAccidentalHits === false)) {
    throw new OptionError(`loss '${c.loss}' and kept accidental hits apply to a sampled loss; the 'full' sampler trains the exact softmax`);
  }
  const negativeSource = choiceOption(c.negativeSource ?? 'sampler', 'negativeSource', ['sampler', 'inBatch', 'mixed'] as const);
  const frequencyBuckets = intOption(c.frequencyBuckets ?? 0, 'frequencyBuckets', 0, 2 ** 31 - 1);
  if (negativeSource === 'sampler' && frequencyBuckets > 0) {
    throw new OptionError('--frequency-buckets corrects in-batch negatives; add --negative-source inBatch or mixed');
  }
  if (negativeSource !== 'sampler') {
    if (sampler === FULL_SOFTMAX) throw new OptionError(`--negative-source ${negativeSource} applies to a sampled loss; the 'full' sampler trains the exact softmax`);
    if ((c.convention ?? 'maskedExclusive') !== 'correctedAll' || (c.loss ?? 'softmax') !== 'softmax' || c.removeAccidentalHits === false) {
      throw new OptionError(`--negative-source ${negativeSource} needs --convention correctedAll, --loss softmax and accidental hits removed (a row's own positive is among the batch's)`);
    }
  }
  return {
    sampler,
    samplerOptions: { ...(sampler === 'midx' ? XMC_MIDX_DEFAULTS : {}), ...(c.samplerOptions ?? {}) },
    negatives: intOption(c.negatives ?? 50, 'negatives', 1),
    dim: intOption(c.dim ?? 128, 'dim', 1, 4096),
    hidden: c.hidden ?? false,
    batchSize: intOption(c.batchSize ?? 64, 'batchSize', 1, 1 << 20),
    optimizer: choiceOption(c.optimizer ?? 'adam', 'optimizer', OPTIMIZER_NAMES),
    lr: numOption(c.lr ?? 0.01, 'lr', 0, Infinity, true),
    lrDecayEpochs: intOption(c.lrDecayEpochs ?? 0, 'lrDecayEpochs', 0),
    weighting: choiceOption(c.weighting ?? 'tfidf', 'weighting', ['tfidf', 'counts'] as const),
    bigrams: intOption(c.bigrams ?? 0, 'bigrams', 0, 1 << 26),
    convention: choiceOption(c.convention ?? 'maskedExclusive', 'convention', CONVENTIONS),
    labelWeighting: choiceOption(c.labelWeighting ?? 'mean', 'labelWeighting', LABEL_WEIGHTINGS),
    loss: choiceOption(c.loss ?? 'softmax', 'loss', ['softmax', ...BINARY_LOSSES] as const),
    removeAccidentalHits: c.removeAccidentalHits ?? true,
    negativeSource,
    frequencyBuckets,
    frequencyAlpha: numOption(c.frequencyAlpha ?? 0.01, 'frequencyAlpha', 0, 1),
    seed: intOption(c.seed ?? 1, 'seed', 0),
    rebuildEvery: intOption(c.rebuildEvery ?? 100, 'rebuildEvery', 0),
    updatePerStep: c.updatePerStep ?? false,
    denseUpdates: c.denseUpdates ?? true,
  };
}

/**
 * Refuses in-batch negatives on multi-label training data: they take each row's one positive as
 * the other rows' negative.
 * @throws OptionError naming the rows with more than one label
 */
function checkSingleLabel(train: SparseDataset, source: string): void {
  const off = train.labels.offsets;
  const multi: MultiLabelRows = { rows: 0, first: -1, firstLabels: 0 };
  for (let r = 0; r + 1 < off.length; r++) countMultiLabel(multi, r, off[r + 1]! - off[r]!);
  refuseMultiLabel(multi, off.length - 1, source);
}

/** The training rows with more than one label: how many, the first and its label count. */
interface MultiLabelRows {
  rows: number;
  first: number;
  firstLabels: number;
}

/** Counts row `r` with `labels` labels into `m`. */
function countMultiLabel(m: MultiLabelRows, r: number, labels: number): void {
  if (labels > 1) {
    if (m.first < 0) {
      m.first = r;
      m.firstLabels = labels;
    }
    m.rows++;
  }
}

/** @throws OptionError when `m` counts any multi-label row (see {@link checkSingleLabel}) */
function refuseMultiLabel(m: MultiLabelRows, rows: number, source: string): void {
  if (m.rows > 0) {
    throw new OptionError(
      `--negative-source ${source} needs one label per training row (a row's positive is the other rows' negative), but the training data is multi-label: ${m.rows} of ${rows} rows have more than one label (the first is row ${m.first}, with ${m.firstLabels}); use --negative-source sampler`,
    );
  }
}

/** Rows per chunk of the streamed pass over a {@link RowSource}. */
const SCAN_CHUNK = 4096;

/**
 * The one streamed pass over training rows that are not held: the featurizer's idf, the label
 * counts and the multi-label rows, in O(features + labels) memory, every chunk checked.
 * @throws ShapeError for a row without a label or a malformed chunk; OptionError as `Featurizer.fitter`
 */
function scanSource(src: RowSource, c: ResolvedXmcConfig): { featurizer: Featurizer; counts: Float64Array; multi: MultiLabelRows } {
  // trainers on one source (the runs of `compare xmc`) share the pass; each gets its own arrays
  const key = `${c.weighting}/${c.bigrams}`;
  let memo = SCANS.get(src);
  if (!memo) SCANS.set(src, (memo = new Map()));
  let scan = memo.get(key);
  if (!scan) memo.set(key, (scan = scanOnce(src, c)));
  return { featurizer: Featurizer.fromState(scan.featurizer.state()), counts: scan.counts.slice(), multi: { ...scan.multi } };
}

/** The passes made, per source and featurizer options. */
const SCANS = new WeakMap<RowSource, Map<string, { featurizer: Featurizer; counts: Float64Array; multi: MultiLabelRows }>>();

function scanOnce(src: RowSource, c: ResolvedXmcConfig): { featurizer: Featurizer; counts: Float64Array; multi: MultiLabelRows } {
  const fit = Featurizer.fitter(src.numFeatures, { weighting: c.weighting, bigrams: c.bigrams });
  const counts = new Float64Array(src.numLabels);
  const multi: MultiLabelRows = { rows: 0, first: -1, firstLabels: 0 };
  const ids = new Int32Array(SCAN_CHUNK);
  for (let r0 = 0; r0 < src.numRows; r0 += SCAN_CHUNK) {
    const n = Math.min(SCAN_CHUNK, src.numRows - r0);
    for (let i = 0; i < n; i++) ids[i] = r0 + i;
    const chunk = src.gather(ids.subarray(0, n));
    if (numRows(chunk) !== n || chunk.numFeatures !== src.numFeatures || chunk.numLabels !== src.numLabels) {
      throw new ShapeError(`the training source gave ${numRows(chunk)} rows of ${chunk.numFeatures} features and ${chunk.numLabels} labels for rows ${r0}…${r0 + n - 1}; expected ${n} rows of ${src.numFeatures} and ${src.numLabels}`);
    }
    checkDataset(chunk, `training rows ${r0}…${r0 + n - 1} (numbered from ${r0})`);
    const off = chunk.labels.offsets;
    for (let i = 0; i < n; i++) {
      const k = off[i + 1]! - off[i]!;
      if (k === 0) throw new ShapeError(`streamed training row ${r0 + i} has no label; a streamed training source must label every row`);
      countMultiLabel(multi, r0 + i, k);
    }
    for (let k = 0; k < chunk.labels.ids.length; k++) counts[chunk.labels.ids[k]!]!++;
    fit.add(chunk);
  }
  return { featurizer: fit.finish(), counts, multi };
}

/** Test metrics after an epoch (exact scores over all labels). */
export interface XmcMetrics {
  /** P@1, P@3, P@5. */
  p1: number;
  p3: number;
  p5: number;
  /** nDCG@1, nDCG@3, nDCG@5. */
  ndcg1: number;
  ndcg3: number;
  ndcg5: number;
  /** Mean negative log-likelihood of the test labels (full softmax). */
  nll: number;
  /** Test rows with at least one label (the rows the ranking metrics average over). */
  rows: number;
}

/** Figures of one training epoch. */
export interface EpochStats {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss of the epoch (the sampled loss for sampled samplers). */
  loss: number;
  /** Training rows seen. */
  instances: number;
  /** Seconds spent training (steps only; no evaluation or checkpoint). */
  seconds: number;
  /** Seconds of those spent in the output layer (sampling, loss, class-table update). */
  outputSeconds: number;
}

/** An epoch in progress (see {@link XmcTrainer.beginEpoch}). */
export interface XmcEpochCursor {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** Training rows in the epoch. */
  readonly total: number;
  /** Rows trained so far. */
  readonly done: number;
  /** Every row of the epoch is trained. */
  readonly finished: boolean;
  /** Mean training loss so far. */
  readonly meanLoss: number;
  /** Seconds spent training so far (steps only). */
  readonly seconds: number;
  /** Of those, seconds in the output layer. */
  readonly outputSeconds: number;
  /** Trains the next batch (nothing once finished). */
  step(): void;
  /**
   * Completes the epoch and returns its figures.
   * @throws ShapeError when rows are left
   */
  finish(): EpochStats;
}

/** Progress callback of {@link XmcTrainer.trainEpoch}: rows done, rows in the epoch, mean loss so far. */
export type XmcProgress = (done: number, total: number, loss: number) => void;

/** Extra runtime options of {@link XmcTrainer} (not part of the saved configuration). */
export interface XmcRuntime {
  /**
   * Pooled kernels (from `initFastKernels`): the per-epoch evaluation is split across the pool's
   * threads. Without it evaluation runs on the active synchronous kernels.
   */
  pool?: AsyncKernels | null;
  /**
   * Places a freshly created parameter table (the class table and the encoder's embedding table)
   * somewhere else (e.g. `tableInKernelMemory`, so the WebAssembly kernels read and update it in
   * place); returns the table to train.
   */
  placeTable?: (t: ClassTable) => ClassTable;
  /**
   * Where the optimizers allocate their accumulators (e.g. the kernels' memory, with
   * {@link XmcRuntime.placeTable} placing the tables there too, so `kernels.adamRows` runs on
   * them in place). Default: plain typed arrays.
   */
  optimizerStorage?: OptimizerStorage;
  /**
   * The most bytes {@link XmcRuntime.placeTable} and {@link XmcRuntime.optimizerStorage} can take
   * (one WebAssembly memory holds 4 GiB): when the class table, the input embedding and their
   * optimizer state need more, neither is used, the tables and state stay in JS memory and the
   * run prints one line saying so. Default: no limit.
   */
  placeBudgetBytes?: number;
  /**
   * Helper threads for the `midx` sampler (e.g. `MidxThreads.create(threads − 1)`, Node only):
   * each batch's rows are split between the training thread and these threads for sampling.
   * The trained model does not depend on it (every row samples from its own generator).
   */
  midxWorkers?: MidxWorkers | null;
}

/** Labels of the given rows of a dataset, as a batch {@link Labels}. */
export function batchLabels(ds: SparseDataset, rows: Int32Array): Labels {
  const lo = ds.labels.offsets;
  let total = 0;
  for (let i = 0; i < rows.length; i++) total += lo[rows[i]! + 1]! - lo[rows[i]!]!;
  const ids = new Int32Array(total);
  const offsets = new Int32Array(rows.length + 1);
  let p = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let k = lo[r]!; k < lo[r + 1]!; k++) ids[p++] = ds.labels.ids[k]!;
    offsets[i + 1] = p;
  }
  return { ids, offsets };
}

/** Rows of held or streamed training data. */
export function numRowsOf(train: SparseDataset | RowSource): number {
  return isRowSource(train) ? train.numRows : numRows(train);
}

/** Label counts over the training rows (unigram sampler counts, `pop` popularity). */
export function labelCounts(ds: SparseDataset): Float64Array {
  const c = new Float64Array(ds.numLabels);
  for (let k = 0; k < ds.labels.ids.length; k++) c[ds.labels.ids[k]!]!++;
  return c;
}

/** The parameters of a trained classifier: featurizer, encoder and class table. */
export class XmcModel {
  /** Inputs of the encoder. */
  readonly featurizer: Featurizer;
  /** The encoder. */
  readonly encoder: SparseEncoder;
  /** Class (label) embeddings and biases. */
  readonly table: ClassTable;

  /** @throws ShapeError when the parts do not fit together */
  constructor(featurizer: Featurizer, encoder: SparseEncoder, table: ClassTable) {
    if (encoder.inputs !== featurizer.inputs) throw new ShapeError(`encoder has ${encoder.inputs} inputs, the featurizer ${featurizer.inputs}`);
    if (table.d !== encoder.dim) throw new ShapeError(`class table has dimension ${table.d}, the encoder ${encoder.dim}`);
    this.featurizer = featurizer;
    this.encoder = encoder;
    this.table = table;
  }

  /** Query vectors of rows `rows` of weighted inputs `x` (from the featurizer). */
  encode(x: SparseRows, rows: Int32Array): Matrix {
    return this.encoder.forward(x, rows).queries;
  }

  /**
   * Top-`k` labels (ids, best first) and their scores for every row of `x`, exact over all labels.
   * @throws ShapeError for inputs outside the encoder's space; OptionError for a bad k
   */
  predict(x: SparseRows, k: number): { ids: Int32Array; scores: Float32Array } {
    checkInputs(x, this.encoder.inputs);
    const kk = intOption(k, 'k', 1, this.table.n);
    const rows = Int32Array.from({ length: x.offsets.length - 1 }, (_, i) => i);
    const q = this.encode(x, rows);
    const ev = evaluate(q, this.table, { k: kk });
    return { ids: ev.topIds, scores: ev.topScores };
  }
}

/** Named tensors of the trainer's state (parameters and optimizer accumulators). */
export type XmcTensors = Record<string, Float32Array | Int32Array>;

/**
 * Trains an {@link XmcModel} on a train/test split.
 *
 * Every epoch visits the training rows (those with at least one label) in a fresh order, in
 * batches of `batchSize`: encode → output-layer step (sampled softmax with `negatives` draws per
 * row, or the exact softmax for `'full'`) → back-propagate `dL/dh` into the encoder → update the
 * embedding rows of the batch's inputs only. Multi-label rows get one softmax term per positive
 * with the row's other positives removed from the negatives (see `sampledSoftmaxLoss` and
 * `fullSoftmaxLoss`).
 *
 * Streamed training rows: when `split.train` is a {@link RowSource} (e.g. synthetic rows generated
 * on the fly), the trainer reads it once in chunks for the idf, the label counts and the
 * single-label check, and then every epoch gathers each batch from it in the order of a
 * {@link FeistelPermutation} of `[0, numRows)` seeded by `(seed, e)`: neither the rows, their
 * weighted inputs nor the order are held, and the training is that of the same rows held and
 * visited in the same order, to the last bit. Every row of a source must have a label. A held
 * dataset is visited in a shuffled order of its labelled rows, as before.
 *
 * Reproducibility and resuming: the order, the negatives and the sampler of epoch `e` come from
 * generators seeded by `(seed, e)`, and an adaptive sampler is created and built afresh on the
 * current class table at the start of every epoch, so the state after epoch `e` is the
 * parameters plus the optimizer accumulators ({@link XmcTrainer.stateTensors}): a run resumed
 * from it continues exactly as the uninterrupted run.
 *
 * Threads: training is synchronous and deterministic. Every row of a batch samples its negatives
 * from its own generator (`rowStreams`), so with helper threads ({@link XmcRuntime.midxWorkers})
 * the `midx` sampler splits each batch's rows between the training thread and the helpers and
 * the draws, hence the trained model, are bit-identical for any number of threads (no hogwild).
 * The loss, the sparse updates and the index rebuilds run on the training thread; the per-epoch
 * evaluation is split across {@link XmcRuntime.pool}.
 */
export class XmcTrainer {
  /** The resolved configuration. */
  readonly config: ResolvedXmcConfig;
  /** The model being trained. */
  readonly model: XmcModel;
  /** The training data (held or streamed) and the test data. */
  readonly split: SourceSplit;
  /** Weighted inputs of the training rows (null when they are streamed: each batch is weighted as it is read). */
  readonly trainX: SparseRows | null;
  /** Weighted inputs of the test rows. */
  readonly testX: SparseRows;
  /** The labelled training rows of a held dataset (null when streamed). */
  private readonly trainRows: Int32Array | null;
  private readonly optimizers: { encoder: SparseOptimizer; layer: SparseOptimizer | null; classes: SparseOptimizer };
  private readonly pool: AsyncKernels | null;
  /** The full softmax's class-gradient buffer, reused at every step. */
  private fullGrad: { ids: Int32Array; rows: Float32Array; bias: Float32Array | null } | null = null;
  private readonly midxWorkers: MidxWorkers | null;
  private readonly counts: Float64Array;
  private done = 0;
  /** The in-batch frequency estimate (kept across epochs), if any. */
  private frequency: StreamingFrequencyEstimator | null = null;

  /**
   * Builds the featurizer on the training set (one streamed pass when it is a {@link RowSource})
   * and initializes the model from `seed`.
   * @throws OptionError (config), ShapeError (train and test do not share their spaces, no training
   *   row with a label, a streamed row without one)
   */
  constructor(split: SourceSplit, config: XmcConfig = {}, runtime: XmcRuntime = {}) {
    this.config = resolveXmcConfig(config);
    const { train, test } = split;
    if (train.numFeatures !== test.numFeatures || train.numLabels !== test.numLabels) {
      throw new ShapeError(`train has ${train.numFeatures} features and ${train.numLabels} labels, test ${test.numFeatures} and ${test.numLabels}; both must share one space`);
    }
    if (this.config.negatives >= train.numLabels && this.config.sampler !== FULL_SOFTMAX) {
      throw new OptionError(`negatives = ${this.config.negatives} must be below the number of labels (${train.numLabels})`);
    }
    this.split = split;
    const c = this.config;
    let featurizer: Featurizer;
    let multi: MultiLabelRows | null = null;
    if (isRowSource(train)) {
      if (train.numRows === 0) throw new ShapeError('the training set has no row with a label; nothing to learn');
      const scan = scanSource(train, c);
      featurizer = scan.featurizer;
      this.counts = scan.counts;
      multi = scan.multi;
      this.trainX = null;
      this.testX = featurizer.transform(test);
      this.trainRows = null;
    } else {
      featurizer = Featurizer.fit(train, { weighting: c.weighting, bigrams: c.bigrams });
      this.trainX = featurizer.transform(train);
      this.testX = featurizer.transform(test);
      const keep: number[] = [];
      for (let r = 0; r < numRows(train); r++) if (train.labels.offsets[r + 1]! > train.labels.offsets[r]!) keep.push(r);
      if (keep.length === 0) throw new ShapeError('the training set has no row with a label; nothing to learn');
      this.trainRows = Int32Array.from(keep);
      this.counts = labelCounts(train);
    }
    const rng = Rng.fromSeed(c.seed, 1);
    let encoder = SparseEncoder.create({ inputs: featurizer.inputs, dim: c.dim, hidden: c.hidden, rng });
    let table = ClassTable.init(train.numLabels, c.dim, rng, { init: 'normal', scale: 0.01, bias: true });
    // the tables and their optimizer state go to the kernels' memory when they fit one; else
    // they stay in JS memory (the kernels stage the rows each call touches), and the run says so
    const stateBytes = placedStateBytes([table, encoder.embedding], c.optimizer);
    const place = runtime.placeTable !== undefined && (runtime.placeBudgetBytes === undefined || stateBytes <= runtime.placeBudgetBytes);
    if (runtime.placeTable && !place) {
      warnOnce('xmc-placement', `samplex: the class table (${table.n} × ${table.d}), the input embedding and their ${c.optimizer} state need ${(stateBytes / 2 ** 30).toFixed(1)} GiB, more than one WebAssembly memory holds (${(runtime.placeBudgetBytes! / 2 ** 30).toFixed(1)} GiB); they stay in JS memory and the kernels copy the rows each step touches (slower per step)`);
    }
    if (place) {
      table = runtime.placeTable!(table);
      encoder = new SparseEncoder(runtime.placeTable!(encoder.embedding), encoder.layer);
    }
    this.model = new XmcModel(featurizer, encoder, table);
    const storage = place ? runtime.optimizerStorage : undefined;
    const opt = (): SparseOptimizer => createOptimizer(c.optimizer, { lr: c.lr }, storage);
    this.optimizers = { encoder: opt(), layer: c.hidden ? opt() : null, classes: opt() };
    this.pool = runtime.pool ?? null;
    this.midxWorkers = runtime.midxWorkers ?? null;
    if (c.negativeSource !== 'sampler') {
      if (multi) refuseMultiLabel(multi, numRowsOf(train), c.negativeSource);
      else checkSingleLabel(train as SparseDataset, c.negativeSource);
      // one estimate over the whole run (the layer is rebuilt every epoch)
      if (c.frequencyBuckets > 0) this.frequency = new StreamingFrequencyEstimator({ buckets: c.frequencyBuckets, alpha: c.frequencyAlpha });
    }
  }

  /**
   * Label counts over the training rows (the counts of the `unigram` sampler and of retrieval),
   * from one streamed pass when the rows are streamed. A live array: do not change it.
   */
  get trainLabelCounts(): Float64Array {
    return this.counts;
  }

  /** Epochs completed. */
  get epoch(): number {
    return this.done;
  }

  /** Training rows per epoch. */
  get instancesPerEpoch(): number {
    return this.trainRows ? this.trainRows.length : numRowsOf(this.split.train);
  }

  private makeHead(epoch: number): { step: (q: Matrix, labels: Labels, rng: Rng) => { loss: number; gradQueries: Float32Array } } {
    const c = this.config;
    const table = this.model.table;
    const opt = this.optimizers.classes;
    if (c.sampler === FULL_SOFTMAX) {
      // one class-gradient buffer for the whole run, in the table's kernel memory where it lives there
      const mem = memoryHolding(table.weights);
      const f32 = (len: number): Float32Array => (mem ? mem.f32(len) : new Float32Array(len));
      const into = this.fullGrad ??= {
        ids: mem ? mem.i32(table.n) : new Int32Array(table.n),
        rows: f32(table.n * table.d),
        bias: table.bias ? f32(table.n) : null,
      };
      return {
        step: (queries, labels) => {
          const res = fullSoftmaxLoss({ queries, table, labels, labelWeighting: c.labelWeighting }, { into });
          opt.step(table, res.gradClasses);
          return { loss: res.loss, gradQueries: res.gradQueries };
        },
      };
    }
    const data = { n: table.n, counts: this.counts, seed: (c.seed * 7919 + epoch) % 2 ** 31 };
    const sampler = createSamplerFor(c.sampler, data, c.samplerOptions);
    if (sampler instanceof MidxSampler && this.midxWorkers) sampler.useWorkers(this.midxWorkers);
    const layer = new OutputLayer({
      table,
      sampler,
      optimizer: opt,
      negatives: c.negatives,
      convention: c.convention,
      labelWeighting: c.labelWeighting,
      loss: c.loss,
      removeAccidentalHits: c.removeAccidentalHits,
      negativeSource: c.negativeSource,
      frequency: this.frequency,
      rebuildPerEpoch: false,
      rebuildEvery: c.rebuildEvery,
      stepUpdates: c.updatePerStep,
      denseUpdates: c.denseUpdates,
      rowStreams: true,
    });
    return { step: (queries, labels, rng) => layer.step({ queries, labels, rng }) };
  }

  /**
   * Trains one epoch.
   * @param onProgress called after every batch
   */
  trainEpoch(onProgress?: XmcProgress): EpochStats {
    const cur = this.beginEpoch();
    while (!cur.finished) {
      cur.step();
      onProgress?.(cur.done, cur.total, cur.meanLoss);
    }
    return cur.finish();
  }

  /**
   * Starts the next epoch and returns it as a cursor that trains one batch per
   * {@link XmcEpochCursor.step}: {@link XmcTrainer.trainEpoch} is the cursor run to its end; a
   * caller may evaluate between batches or stop early (a time budget). An epoch counts as done
   * only after {@link XmcEpochCursor.finish}.
   */
  beginEpoch(): XmcEpochCursor {
    const c = this.config;
    const epoch = this.done + 1;
    const t0 = performance.now();
    const head = this.makeHead(epoch);
    const train = this.split.train;
    // a held dataset: a shuffled copy of its labelled rows; streamed rows: a permutation computed per index
    let order: Int32Array | null = null;
    if (this.trainRows) {
      order = this.trainRows.slice();
      Rng.fromSeed(c.seed, 1000 + epoch).shuffle(order);
    }
    const total = order ? order.length : numRowsOf(train);
    const perm = order ? null : new FeistelPermutation(total, c.seed, 1000 + epoch);
    const local = order ? null : Int32Array.from({ length: Math.min(c.batchSize, total) }, (_, i) => i);
    const rng = Rng.fromSeed(c.seed, 2000 + epoch);
    const { encoder, layer } = this.optimizers;
    const enc = this.model.encoder;
    const featurizer = this.model.featurizer;
    let lossSum = 0;
    let outMs = 0;
    let trainMs = performance.now() - t0;
    let s = 0;
    const scaled = [encoder, layer, this.optimizers.classes].filter((o): o is SparseOptimizer => o !== null);
    const cursor: XmcEpochCursor = {
      epoch,
      total,
      get done() {
        return s;
      },
      get finished() {
        return s >= total;
      },
      get meanLoss() {
        return s > 0 ? lossSum / s : 0;
      },
      get seconds() {
        return trainMs / 1000;
      },
      get outputSeconds() {
        return outMs / 1000;
      },
      step: () => {
        if (s >= total) return;
        const b0 = performance.now();
        if (c.lrDecayEpochs > 0) {
          const scale = Math.max(0, 1 - (epoch - 1 + s / total) / c.lrDecayEpochs);
          for (const o of scaled) o.lrScale = scale;
        }
        const n = Math.min(total, s + c.batchSize) - s;
        let x: SparseRows;
        let rows: Int32Array;
        let labels: Labels;
        if (order) {
          x = this.trainX!;
          rows = order.subarray(s, s + n);
          labels = batchLabels(train as SparseDataset, rows);
        } else {
          // the batch's rows, gathered from the source and weighted as the held inputs would be
          const ids = new Int32Array(n);
          perm!.fill(s, ids);
          const batch = (train as RowSource).gather(ids);
          x = featurizer.transform(batch);
          rows = local!.subarray(0, n);
          labels = batch.labels;
        }
        const pass = enc.forward(x, rows);
        const o0 = performance.now();
        const res = head.step(pass.queries, labels, rng);
        outMs += performance.now() - o0;
        const g = enc.backward(x, pass, res.gradQueries);
        encoder.step(enc.embedding, g.embedding);
        if (layer && g.layer && enc.layer) layer.step(enc.layer, g.layer);
        lossSum += res.loss * n;
        s += n;
        trainMs += performance.now() - b0;
      },
      finish: () => {
        if (s < total) throw new ShapeError(`epoch ${epoch} is not finished (${s} of ${total} rows); step to its end first`);
        this.done = epoch;
        return { epoch, loss: lossSum / total, instances: total, seconds: trainMs / 1000, outputSeconds: outMs / 1000 };
      },
    };
    return cursor;
  }

  /**
   * Exact evaluation on the test rows (or on the test rows `rows` only, e.g. a sample): P@1/3/5
   * and nDCG@1/3/5 over all labels (rows without labels are left out of the averages), and the
   * mean NLL of the test labels.
   */
  async evaluate(rows?: Int32Array): Promise<XmcMetrics> {
    return (await this.evaluateWithTop(rows)).metrics;
  }

  /**
   * As {@link XmcTrainer.evaluate}, also returning the exact top-`k` label ids of the evaluated
   * rows (`k = min(5, labels)`, best first, row-major).
   */
  async evaluateWithTop(rows?: Int32Array): Promise<{ metrics: XmcMetrics; topIds: Int32Array; k: number }> {
    const test = this.split.test;
    const all = rows === undefined;
    rows ??= Int32Array.from({ length: numRows(test) }, (_, i) => i);
    const q = this.model.encode(this.testX, rows);
    const labels = all ? test.labels : batchLabels(test, rows);
    const table = this.model.table;
    const k = Math.min(5, table.n);
    let topIds: Int32Array;
    let nll: number;
    if (this.pool && this.pool.threads > 1) {
      const B = q.rows;
      const d = table.d;
      const lse = new Float64Array(B);
      topIds = new Int32Array(B * k);
      const topScores = new Float32Array(B * k);
      await this.pool.fusedSoftmaxTopK(q.data, B, table.weights, table.bias, table.n, d, k, lse, topIds, topScores);
      const lp = new Float64Array(labels.ids.length);
      for (let r = 0; r < B; r++) {
        for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
          const y = labels.ids[e]!;
          const o = Math.fround(Math.fround(dot(q.data, r * d, table.weights, y * d, d)) + table.bias![y]!);
          lp[e] = Math.min(0, o - lse[r]!);
        }
      }
      nll = meanNll(lp);
    } else {
      const ev = evaluateMetrics(q, table, labels, { ks: [k] });
      topIds = ev.evaluation.topIds;
      nll = ev.nll;
    }
    const at = (c: number): number => Math.min(c, k);
    const p1 = precisionAtK(topIds, k, labels, at(1));
    const metrics: XmcMetrics = {
      p1: p1.mean,
      p3: precisionAtK(topIds, k, labels, at(3)).mean,
      p5: precisionAtK(topIds, k, labels, at(5)).mean,
      ndcg1: ndcgAtK(topIds, k, labels, at(1)).mean,
      ndcg3: ndcgAtK(topIds, k, labels, at(3)).mean,
      ndcg5: ndcgAtK(topIds, k, labels, at(5)).mean,
      nll,
      rows: p1.rows,
    };
    return { metrics, topIds, k };
  }

  /**
   * Approximate top-`k` labels of every test row through a `midx` index (the sampler's
   * {@link MidxSampler.topK}) built on the current class table with the run's `midx` options:
   * the fast retrieval path, to be compared with the exact ranking of {@link XmcTrainer.evaluateWithTop}.
   * Rows are encoded and retrieved in chunks of 4096.
   * @throws OptionError when `k` exceeds the labels
   */
  retrieveTopK(k: number, opts: { candidates?: number } = {}): { ids: Int32Array; candidates: Int32Array; buildSec: number; retrieveSec: number } {
    const c = this.config;
    const table = this.model.table;
    intOption(k, 'k', 1, table.n);
    const t0 = performance.now();
    const options = { ...XMC_MIDX_DEFAULTS, ...(c.sampler === 'midx' ? c.samplerOptions : {}) };
    const sampler = createSamplerFor('midx', { n: table.n, counts: this.counts, seed: c.seed }, options) as MidxSampler;
    sampler.build(table);
    const t1 = performance.now();
    const B = numRows(this.split.test);
    const ids = new Int32Array(B * k);
    const candidates = new Int32Array(B);
    const CHUNK = 4096;
    for (let r0 = 0; r0 < B; r0 += CHUNK) {
      const rows = Int32Array.from({ length: Math.min(CHUNK, B - r0) }, (_, i) => r0 + i);
      const q = this.model.encode(this.testX, rows);
      const top = sampler.topK(q, k, opts);
      ids.set(top.ids, r0 * k);
      candidates.set(top.candidates, r0);
    }
    return { ids, candidates, buildSec: (t1 - t0) / 1000, retrieveSec: (performance.now() - t1) / 1000 };
  }

  /**
   * The state after the last completed epoch: `epoch`, the parameters (`encoder.embedding`,
   * `encoder.layer.weights`/`.bias`, `classes.weights`/`.bias`) and every optimizer's
   * accumulators (`opt.<part>.<name>`), and the in-batch frequency estimate (`freq.last`, `freq.gap`,
   * `freq.step`) when there is one. Live arrays: save them before training further.
   */
  stateTensors(): XmcTensors {
    const m = this.model;
    const out: XmcTensors = {
      epoch: Int32Array.of(this.done),
      'encoder.embedding': m.encoder.embedding.weights,
      'classes.weights': m.table.weights,
      'classes.bias': m.table.bias!,
    };
    if (m.encoder.layer) {
      out['encoder.layer.weights'] = m.encoder.layer.weights;
      out['encoder.layer.bias'] = m.encoder.layer.bias!;
    }
    const put = (part: string, s: OptimizerState): void => {
      for (const [k, v] of Object.entries(s)) out[`opt.${part}.${k}`] = v;
    };
    put('encoder', this.optimizers.encoder.stateTensors());
    if (this.optimizers.layer) put('layer', this.optimizers.layer.stateTensors());
    put('classes', this.optimizers.classes.stateTensors());
    if (this.frequency) for (const [k, v] of Object.entries(this.frequency.stateTensors())) out[`freq.${k}`] = v;
    return out;
  }

  /**
   * Restores a state from {@link XmcTrainer.stateTensors} of a trainer with the same
   * configuration and data (the arrays are copied).
   * @throws StateError / ShapeError when tensors are missing or do not fit
   */
  loadState(t: Readonly<XmcTensors>): void {
    const m = this.model;
    const copy = (name: string, dst: Float32Array): void => {
      const src = t[name];
      if (!(src instanceof Float32Array) || src.length !== dst.length) {
        throw new ShapeError(`checkpoint tensor '${name}' is missing or has the wrong size (expected ${dst.length} float32 values); was it written with another configuration or dataset?`);
      }
      dst.set(src);
    };
    const ep = t['epoch'];
    if (!(ep instanceof Int32Array) || ep.length !== 1) throw new ShapeError("checkpoint lacks the 'epoch' tensor");
    copy('encoder.embedding', m.encoder.embedding.weights);
    copy('classes.weights', m.table.weights);
    copy('classes.bias', m.table.bias!);
    if (m.encoder.layer) {
      copy('encoder.layer.weights', m.encoder.layer.weights);
      copy('encoder.layer.bias', m.encoder.layer.bias!);
    }
    const get = (part: string): OptimizerState => {
      const s: OptimizerState = {};
      const prefix = `opt.${part}.`;
      for (const [k, v] of Object.entries(t)) if (k.startsWith(prefix)) s[k.slice(prefix.length)] = v;
      return s;
    };
    this.optimizers.encoder.loadState(get('encoder'));
    if (this.optimizers.layer) this.optimizers.layer.loadState(get('layer'));
    this.optimizers.classes.loadState(get('classes'));
    if (this.frequency) {
      const f: Record<string, ArrayLike<number>> = {};
      for (const [k, v] of Object.entries(t)) if (k.startsWith('freq.')) f[k.slice(5)] = v;
      if (Object.keys(f).length === 0) throw new StateError('the checkpoint has no state for the in-batch frequency estimate; it was written without one');
      this.frequency.loadState(f);
    }
    this.done = ep[0]!;
  }
}

/** Bytes of float32 tables (weights and biases) with the state `optimizer` keeps for them (Adam: two moments and a step count per row; Adagrad: one accumulator). */
export function placedStateBytes(tables: readonly ClassTable[], optimizer: OptimizerName): number {
  let bytes = 0;
  for (const t of tables) {
    const values = t.weights.length + (t.bias ? t.bias.length : 0);
    const factor = optimizer === 'adam' ? 3 : optimizer === 'adagrad' ? 2 : 1;
    bytes += values * 4 * factor + (optimizer === 'adam' ? t.n * 4 : 0);
  }
  return bytes;
}
