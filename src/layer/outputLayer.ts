/**
 * The trainable output layer: a class table, a sampler, the sampled softmax loss, a sparse
 * optimizer and the streaming evaluator, composed into `step` and `evaluate`.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError } from '../core/errors.js';
import { ShardedClassTable } from '../core/shardedTable.js';
import type { Labels, Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { choiceOption, intOption, rejectUnknown } from '../core/validate.js';
import { fullSoftmaxLoss } from '../loss/full.js';
import { sampledSoftmaxLoss } from '../loss/sampled.js';
import { CONVENTIONS, LABEL_WEIGHTINGS, type Convention, type LabelWeighting, type LossResult, type SparseRowGrad } from '../loss/types.js';
import { BINARY_LOSSES, sampledLogisticLoss, type BinaryLoss } from '../loss/binary.js';
import { inBatchDraws, mixedDraws } from '../loss/inBatch.js';
import type { StreamingFrequencyEstimator } from '../samplers/frequency.js';
import { RebuildPolicy } from '../samplers/rebuild.js';
import { ShardedSampler } from '../samplers/sharded.js';
import type { Draws, SampleOptions, Sampler } from '../samplers/types.js';
import { evaluateMetrics, evaluateMetricsAsync, type EvaluateMetricsOptions, type EvaluationMetrics } from './evaluator.js';
import type { SparseOptimizer } from './optimizers.js';
import { ShardedOptimizer, shardedEvaluateMetrics, shardedEvaluateMetricsAsync, shardedFullLoss, shardedSampledLoss } from './sharded.js';
import { ScratchBlock } from '../kernels/scratch.js';

/** Options of {@link OutputLayer}. */
export interface OutputLayerOptions<T extends ClassTable | ShardedClassTable = ClassTable> {
  /**
   * The class embeddings (and biases) being trained; updated in place. A {@link ShardedClassTable}
   * needs a {@link ShardedSampler} of the same layout; a step then gathers its touched rows into a
   * compact table for the loss and applies the optimizer shard by shard (see {@link ShardedOptimizer}).
   */
  table: T;
  /**
   * The proposal. It is built on the table when the layer is constructed and, when adaptive, kept
   * in step with the table by per-step `update(ids)` and/or rebuilds (see `stepUpdates`).
   */
  sampler: Sampler;
  /**
   * Sparse optimizer for the class rows. With a sharded table it optimizes shard 0, one optimizer
   * of the same kind, options and storage is created for every other shard, and the layer's
   * {@link OutputLayer.optimizer} is the {@link ShardedOptimizer} over all of them.
   */
  optimizer: SparseOptimizer;
  /** Negatives per row, `m ≥ 1`. */
  negatives: number;
  /** Estimator convention (default `'exclusive'`). */
  convention?: Convention;
  /** Draw `m` distinct ids per row (default false). */
  unique?: boolean;
  /** One set of negatives for the whole batch (query-independent samplers only; default false). */
  shared?: boolean;
  /** Weighting of a multi-label row's terms (default `'mean'`; `'joint'` is TensorFlow's, see {@link LabelWeighting}). */
  labelWeighting?: LabelWeighting;
  /**
   * The sampled loss (default `'softmax'`, {@link sampledSoftmaxLoss}); `'nce'` and
   * `'negativeSampling'` are the logistic losses of {@link sampledLogisticLoss}. `'nce'` needs
   * convention `'correctedAll'` (draws from all classes, every logit corrected);
   * `'negativeSampling'` takes `'correctedAll'` (draws from all classes, hits dropped as
   * word2vec does) or `'exclusive'` (positives never drawn, as fastText does).
   */
  loss?: 'softmax' | BinaryLoss;
  /**
   * Mask sampled ids equal to a positive of their row (default true); false keeps them as
   * negatives (TensorFlow's `remove_accidental_hits=False`). With the softmax it needs
   * `'correctedAll'`.
   */
  removeAccidentalHits?: boolean;
  /**
   * Where the negatives come from (default `'sampler'`). `'inBatch'`: the other rows' positives
   * (two-tower training; one positive per row; the sampler is not used for drawing); `'mixed'`:
   * those and `negatives` draws from the sampler per row, each class corrected by its summed
   * expected count (see {@link mixedDraws}). Both need convention `'correctedAll'` and the softmax
   * loss.
   */
  negativeSource?: 'sampler' | 'inBatch' | 'mixed';
  /**
   * The streaming frequency estimate giving the in-batch `log Q` (Yi et al.); it observes every
   * batch's positives before that batch's loss is computed, as in their algorithm. `null` (the
   * default): the uncorrected in-batch softmax.
   */
  frequency?: StreamingFrequencyEstimator | null;
  /**
   * Rebuild an adaptive sampler from scratch every this many steps (0: never, the per-step
   * `update(ids)` keeps it current). Default: {@link AUTO_REBUILD_EVERY} when `stepUpdates: 'auto'`
   * turns the per-step updates off, else 0.
   */
  rebuildEvery?: number;
  /** Rebuild an adaptive sampler from scratch at {@link OutputLayer.endEpoch} (default true). */
  rebuildPerEpoch?: boolean;
  /**
   * Tell an adaptive sampler about the rows each step changed (`update(ids)`). With false the
   * sampler is refreshed only by the rebuilds (`rebuildEvery`, `rebuildPerEpoch`) and proposes
   * from a stale snapshot of the table in between: the loss stays a correct sampled softmax
   * (each draw's `log q` is that of the proposal actually used), only the proposal drifts from
   * the current logits. Per-step updates cost in proportion to the rows a step touches, a
   * rebuild in proportion to `n`: when a step touches a large share of the table (many queries ×
   * many negatives), `k` steps of updates cost about `k` rebuilds.
   *
   * Default `'auto'`: decided at the first step, from the rows it changed (`t`, or `n` with
   * `denseUpdates`): per-step updates when `t · R < n`, else none, with rebuilds every `R` steps,
   * where `R` is `rebuildEvery` when given, else {@link AUTO_REBUILD_EVERY} (`rebuildEvery: 0`
   * keeps the updates). {@link OutputLayer.stepUpdates} tells what was decided.
   */
  stepUpdates?: boolean | 'auto';
  /**
   * Apply the optimizer to every class row at every step, with a zero gradient for the rows the
   * step did not touch (default false: only the touched rows). This is what a non-lazy optimizer
   * does with a sparse gradient (TensorFlow's Adam with `IndexedSlices`): Adam's moments of every
   * row decay each step and a row keeps moving with its momentum after it was sampled, and the
   * bias correction follows the global step, as with the full softmax. It costs one pass over the
   * `n × d` table and its optimizer state per step (no `B × n` logits), and changes every row, so
   * an adaptive sampler should be refreshed by rebuilds (`stepUpdates: false`). SGD and Adagrad
   * leave rows with a zero gradient unchanged, so this matters for Adam only.
   */
  denseUpdates?: boolean;
  /**
   * Sample every row of a batch from its own generator (`SampleOptions.rowStreams`; default
   * false): a row's negatives then do not depend on the order the rows are sampled in, which
   * lets a sampler with helper threads (`MidxSampler.useWorkers`) split the batch and still give
   * the same draws as one thread.
   */
  rowStreams?: boolean;
}

/**
 * Steps between rebuilds of an adaptive sampler when `stepUpdates: 'auto'` turns the per-step
 * updates off and `rebuildEvery` is not given.
 */
export const AUTO_REBUILD_EVERY = 100;

/** Inputs of one training step. */
export interface StepInput {
  /** Query vectors `[B, d]` (the model's last hidden layer). */
  queries: Matrix;
  /** Positives of each row. */
  labels: Labels;
  /** Generator for the negatives. */
  rng: Rng;
  /** Per-row weights (0 = padding); default all 1. */
  rowWeights?: Float32Array | null;
}

/** Result of one training step. */
export interface StepResult {
  /** The sampled loss of the batch before the update. */
  loss: number;
  /** `dL/dh` `[B, d]`, to back-propagate into the model that produced the queries. */
  gradQueries: Float32Array;
  /** Number of distinct class rows the optimizer touched. */
  touchedRows: number;
}

/**
 * A sampled-softmax output layer. `step` draws negatives, computes the loss and its gradients,
 * applies the optimizer to the touched rows only, keeps an adaptive sampler in sync and returns
 * `dL/dh`; `evaluate` scores against the full softmax without materializing `B × n` logits.
 */
export class OutputLayer<T extends ClassTable | ShardedClassTable = ClassTable> {
  /** The class table (updated in place by `step`). */
  readonly table: T;
  /** The proposal. */
  readonly sampler: Sampler;
  /**
   * The optimizer of the class rows: the one given, or with a sharded table the
   * {@link ShardedOptimizer} over every shard (its `stateTensors` / `loadState` cover the whole
   * table, in the format of one unsharded optimizer; its `lrScale` sets every shard's).
   */
  readonly optimizer: SparseOptimizer;
  /** Negatives per row. */
  readonly negatives: number;
  /** Estimator convention. */
  readonly convention: Convention;
  /** Distinct draws per row. */
  readonly unique: boolean;
  /** Shared negatives. */
  readonly shared: boolean;
  /** Multi-label weighting. */
  readonly labelWeighting: LabelWeighting;
  private rebuildPolicy: RebuildPolicy;
  private updates: boolean | 'auto';
  private readonly rebuildGiven: boolean;
  /** The sampled loss. */
  readonly loss: 'softmax' | BinaryLoss;
  /** Whether accidental hits are masked. */
  readonly removeAccidentalHits: boolean;
  /** Where the negatives come from. */
  readonly negativeSource: 'sampler' | 'inBatch' | 'mixed';
  /** The in-batch frequency estimate, if any. */
  readonly frequency: StreamingFrequencyEstimator | null;
  /** Whether the optimizer updates every row at every step (see {@link OutputLayerOptions.denseUpdates}). */
  readonly denseUpdates: boolean;
  /** Whether every row samples from its own generator. */
  readonly rowStreams: boolean;
  /** With a sharded table: the optimizer of every shard (`null` otherwise). */
  readonly shardedOptimizer: ShardedOptimizer | null;
  private stepCount = 0;
  private ids: Int32Array | null = null;
  /** Labels of the last computed step, for a sampler that learns from the positives. */
  private pendingLabels: Labels | null = null;
  /** The class-gradient rows of {@link OutputLayer.step}, reused from step to step. */
  private readonly gradRows = new ScratchBlock('the class-gradient rows of a step');

  /** @throws OptionError (bad or unknown options, `shared` with an adaptive sampler), ShapeError (sampler and table disagree on n) */
  constructor(opts: OutputLayerOptions<T>) {
    rejectUnknown(
      opts,
      ['table', 'sampler', 'optimizer', 'negatives', 'convention', 'unique', 'shared', 'labelWeighting', 'loss', 'removeAccidentalHits', 'negativeSource', 'frequency', 'rebuildEvery', 'rebuildPerEpoch', 'stepUpdates', 'denseUpdates', 'rowStreams'],
      'OutputLayer',
    );
    if (!opts.table || !opts.sampler || !opts.optimizer) throw new OptionError('OutputLayer needs table, sampler and optimizer');
    this.table = opts.table;
    this.sampler = opts.sampler;
    let optimizer = opts.optimizer;
    this.negatives = intOption(opts.negatives, 'negatives', 1, opts.table.n);
    this.convention = opts.convention === undefined ? 'exclusive' : choiceOption(opts.convention, 'convention', CONVENTIONS);
    this.unique = opts.unique ?? false;
    this.shared = opts.shared ?? false;
    if (this.shared && this.sampler.adaptive) {
      throw new OptionError(`OutputLayer: shared negatives need a query-independent sampler; '${this.sampler.name}' is adaptive (drop shared)`);
    }
    this.labelWeighting = opts.labelWeighting === undefined ? 'mean' : choiceOption(opts.labelWeighting, 'labelWeighting', LABEL_WEIGHTINGS);
    this.loss = opts.loss === undefined ? 'softmax' : choiceOption(opts.loss, 'loss', ['softmax', ...BINARY_LOSSES] as const);
    this.removeAccidentalHits = opts.removeAccidentalHits ?? true;
    const allowed: readonly Convention[] =
      this.loss === 'nce' ? ['correctedAll'] : this.loss === 'negativeSampling' ? ['correctedAll', 'exclusive'] : CONVENTIONS;
    if (!allowed.includes(this.convention)) {
      throw new OptionError(`OutputLayer: loss '${this.loss}' takes convention ${allowed.map((c) => `'${c}'`).join(' or ')}, got '${this.convention}'`);
    }
    this.negativeSource = opts.negativeSource === undefined ? 'sampler' : choiceOption(opts.negativeSource, 'negativeSource', ['sampler', 'inBatch', 'mixed'] as const);
    this.frequency = opts.frequency ?? null;
    if (this.negativeSource !== 'sampler' && (this.loss !== 'softmax' || this.convention !== 'correctedAll' || !this.removeAccidentalHits)) {
      throw new OptionError(`OutputLayer: negativeSource '${this.negativeSource}' needs loss 'softmax', convention 'correctedAll' and accidental hits removed (the row's own positive is among the batch's)`);
    }
    if (this.negativeSource !== 'sampler' && this.shared) throw new OptionError(`OutputLayer: negativeSource '${this.negativeSource}' does not take shared (in-batch negatives are shared by construction)`);
    if (this.loss === 'softmax' && !this.removeAccidentalHits && this.convention !== 'correctedAll') {
      throw new OptionError(`OutputLayer: removeAccidentalHits: false needs convention 'correctedAll', got '${this.convention}'`);
    }
    if (this.loss === 'softmax' && this.labelWeighting === 'joint' && this.convention !== 'correctedAll') {
      throw new OptionError(`OutputLayer: labelWeighting 'joint' (TensorFlow's multi-label sampled softmax) needs convention 'correctedAll', got '${this.convention}'`);
    }
    this.rebuildGiven = opts.rebuildEvery !== undefined;
    if (opts.table instanceof ShardedClassTable && (this.loss !== 'softmax' || this.negativeSource !== 'sampler' || !this.removeAccidentalHits)) {
      throw new OptionError("OutputLayer: a sharded table trains with the sampled softmax, negatives from its sampler and accidental hits removed; drop loss, negativeSource and removeAccidentalHits, or use an unsharded ClassTable");
    }
    const everySteps = opts.rebuildEvery === undefined ? 0 : intOption(opts.rebuildEvery, 'rebuildEvery', 0, 2 ** 31 - 1);
    this.rebuildPolicy = new RebuildPolicy({ everySteps, perEpoch: opts.rebuildPerEpoch ?? true });
    const su = opts.stepUpdates ?? 'auto';
    if (su !== true && su !== false && su !== 'auto') throw new OptionError(`OutputLayer: stepUpdates must be true, false or 'auto', got ${String(su)}`);
    // a static sampler has nothing to update
    this.updates = this.sampler.adaptive ? su : false;
    this.denseUpdates = opts.denseUpdates ?? false;
    this.rowStreams = opts.rowStreams ?? false;
    if (this.table instanceof ShardedClassTable) {
      if (!(this.sampler instanceof ShardedSampler)) {
        throw new OptionError(`OutputLayer: a sharded table needs a ShardedSampler of the same layout (e.g. ShardedSampler.create('${this.sampler.name}', table, opts)); got '${this.sampler.name}'`);
      }
      if (optimizer instanceof ShardedOptimizer) throw new OptionError('OutputLayer: give the optimizer of one table (e.g. createOptimizer(...)); the layer builds the per-shard optimizers itself');
      this.shardedOptimizer = new ShardedOptimizer(optimizer, this.table);
      optimizer = this.shardedOptimizer;
    } else this.shardedOptimizer = null;
    this.optimizer = optimizer;
    // Builds the sampler's state (static samplers only check that their class count matches).
    this.buildSampler();
  }

  /** (Re)builds the sampler on the table. */
  private buildSampler(): void {
    const t = this.table;
    if (t instanceof ShardedClassTable) (this.sampler as ShardedSampler).build(t);
    else this.sampler.build(t as ClassTable);
  }

  /** When an adaptive sampler is rebuilt from scratch (every `rebuildEvery` steps and/or per epoch). */
  get rebuild(): RebuildPolicy {
    return this.rebuildPolicy;
  }

  /** Full rebuild period of an adaptive sampler (0 = never), as held by {@link OutputLayer.rebuild}. */
  get rebuildEvery(): number {
    return this.rebuildPolicy.everySteps;
  }

  /**
   * Whether an adaptive sampler gets `update(ids)` after every step (always false for a static
   * one); `'auto'` until the first step decides (see {@link OutputLayerOptions.stepUpdates}).
   */
  get stepUpdates(): boolean | 'auto' {
    return this.updates;
  }

  /** Number of `step` calls so far. */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * One training step on a batch: sample negatives (excluding each row's positives under the
   * `exclusive` convention), compute the sampled loss, update the touched class rows, refresh an
   * adaptive sampler for those rows (or rebuild it every `rebuildEvery` steps). Equals
   * {@link OutputLayer.computeGradients} followed by {@link OutputLayer.applyGradients}.
   * @throws as {@link sampledSoftmaxLoss} and the sampler (shapes, ranges, non-finite values)
   */
  step(input: StepInput): StepResult {
    // the class gradient is applied at once: its rows go to the layer's reused block
    const res = this.gradients(input, true);
    this.applyGradients(res.gradClasses);
    return { loss: res.loss, gradQueries: res.gradQueries, touchedRows: this.denseUpdates ? this.table.n : res.gradClasses.ids.length };
  }

  /**
   * The first half of {@link OutputLayer.step}: draws the negatives and computes the sampled
   * loss with its gradients (queries and touched class rows), changing nothing. Use it when
   * the class gradient must be combined with another one (e.g. a tied input embedding) before
   * {@link OutputLayer.applyGradients}.
   * @throws as {@link OutputLayer.step}
   */
  computeGradients(input: StepInput): LossResult {
    return this.gradients(input, false);
  }

  /** {@link OutputLayer.computeGradients}; with `reuse`, the sampled softmax's class-gradient rows are written into the layer's reused block. */
  private gradients(input: StepInput, reuse: boolean): LossResult {
    rejectUnknown(input, ['queries', 'labels', 'rng', 'rowWeights'], 'OutputLayer.step');
    const { queries, labels, rng } = input;
    const exclusive = this.convention === 'exclusive';
    const opts = {
      m: this.negatives,
      rng,
      queries,
      rows: queries.rows,
      shared: this.shared,
      unique: this.unique,
      exclude: exclusive ? labels : null,
      rowStreams: this.rowStreams,
    };
    let draws: Draws;
    let posLogQ: Float64Array | null = null;
    if (this.negativeSource !== 'sampler') return this.inBatchGradients(input, opts);
    if (exclusive) draws = this.sampler.sample(opts);
    else if (this.sampler.sampleWithLogQ) ({ draws, logQ: posLogQ } = this.sampler.sampleWithLogQ(opts, labels));
    else {
      draws = this.sampler.sample(opts);
      posLogQ = this.sampler.logQ(queries, labels);
    }
    if (this.sampler.observe) this.pendingLabels = labels;
    const t = this.table;
    const gradRowsInto = reuse && this.loss === 'softmax' ? this.gradRows.f32(Math.min(t.n, labels.ids.length + draws.ids.length) * t.d) : null;
    if (t instanceof ShardedClassTable) {
      return shardedSampledLoss({ queries, table: t, labels, rowWeights: input.rowWeights ?? null, labelWeighting: this.labelWeighting, draws, convention: this.convention, posLogQ, gradRowsInto });
    }
    const common = { queries, table: t as ClassTable, labels, rowWeights: input.rowWeights ?? null, labelWeighting: this.labelWeighting, draws, posLogQ };
    if (this.loss !== 'softmax') return sampledLogisticLoss({ ...common, loss: this.loss, removeAccidentalHits: this.removeAccidentalHits });
    // removeAccidentalHits is passed only when set, so the conventions that refuse false accept the default.
    return sampledSoftmaxLoss({ ...common, convention: this.convention, ...(this.removeAccidentalHits ? {} : { removeAccidentalHits: false }), gradRowsInto });
  }

  /**
   * The second half of {@link OutputLayer.step}: applies a class-table gradient with the
   * optimizer (only the rows in `grad.ids`, or every row with `denseUpdates`), counts the step
   * and keeps an adaptive sampler in sync with the changed rows (or rebuilds it when the rebuild
   * policy says so). A sampler that learns from the positives (`observe`, e.g. `learnedUnigram`)
   * is given the labels of the last {@link OutputLayer.computeGradients}.
   * @throws as {@link SparseOptimizer.step} (shape, order and range of `grad.ids`, non-finite values)
   */
  applyGradients(grad: SparseRowGrad): void {
    const t = this.table;
    if (t instanceof ShardedClassTable) this.shardedOptimizer!.step(t, grad, this.denseUpdates);
    else if (this.denseUpdates) this.optimizer.stepAll(t as ClassTable, grad);
    else this.optimizer.step(t as ClassTable, grad);
    this.stepCount++;
    if (this.pendingLabels !== null && this.sampler.observe) {
      // after the step's draws, as TensorFlow's candidate samplers update after sampling
      this.sampler.observe(this.pendingLabels);
      this.pendingLabels = null;
    }
    if (this.sampler.adaptive) {
      if (this.updates === 'auto') this.decideUpdates(this.denseUpdates ? this.table.n : grad.ids.length);
      if (this.rebuildPolicy.shouldRebuild(this.stepCount, false)) this.buildSampler();
      else if (this.updates === true) this.sampler.update(this.denseUpdates ? this.allIds() : grad.ids);
    }
  }

  /** Resolves `stepUpdates: 'auto'` from the rows the first step changed. */
  private decideUpdates(touched: number): void {
    const every = this.rebuildGiven ? this.rebuildPolicy.everySteps : AUTO_REBUILD_EVERY;
    this.updates = every === 0 || touched * every < this.table.n;
    if (!this.updates && !this.rebuildGiven) {
      this.rebuildPolicy = new RebuildPolicy({ everySteps: every, perEpoch: this.rebuildPolicy.perEpoch });
    }
  }

  /** The in-batch and mixed negatives of {@link OutputLayer.computeGradients}. */
  private inBatchGradients(input: StepInput, opts: SampleOptions): LossResult {
    const { queries, labels } = input;
    const freq = this.frequency;
    if (freq) {
      const w = input.rowWeights ?? null;
      freq.observe(w === null ? labels.ids : labels.ids.filter((_, r) => w[r]! > 0));
    }
    const batchLogQ = freq ? freq.logProb(labels.ids) : null;
    let rec;
    if (this.negativeSource === 'inBatch') rec = inBatchDraws(labels, batchLogQ, input.rowWeights ?? null);
    else {
      const sampled = this.sampler.sample(opts);
      rec = mixedDraws({ labels, batchLogQ, sampledBatchLogQ: freq ? freq.logProb(sampled.ids) : null, sampled, rowWeights: input.rowWeights ?? null,
        samplerLogQ: (ids) => this.sampler.logQ(this.sampler.adaptive ? queries : null, ids), sameProposal: !this.sampler.adaptive,
      });
    }
    return sampledSoftmaxLoss({
      queries, table: this.table as ClassTable, labels, rowWeights: input.rowWeights ?? null, labelWeighting: this.labelWeighting,
      draws: rec.draws, posLogQ: rec.posLogQ, convention: 'correctedAll',
    });
  }

  /** `0 … n−1` (the rows a dense update changes). */
  private allIds(): Int32Array {
    if (this.ids === null) this.ids = Int32Array.from({ length: this.table.n }, (_, i) => i);
    return this.ids;
  }

  /**
   * Marks the end of an epoch: rebuilds an adaptive sampler from scratch (re-trained codebooks,
   * a fresh tree) when the rebuild policy says so (`rebuildPerEpoch`, default true). Returns
   * whether it rebuilt.
   */
  endEpoch(): boolean {
    if (!this.sampler.adaptive || !this.rebuildPolicy.shouldRebuild(this.stepCount, true)) return false;
    this.buildSampler();
    return true;
  }

  /**
   * The exact full-softmax loss of a batch (no update), e.g. to monitor training.
   * @throws as {@link fullSoftmaxLoss}
   */
  fullLoss(queries: Matrix, labels: Labels, rowWeights?: Float32Array | null): number {
    const t = this.table;
    if (t instanceof ShardedClassTable) return shardedFullLoss({ queries, table: t, labels, rowWeights: rowWeights ?? null, labelWeighting: this.labelWeighting });
    return fullSoftmaxLoss({ queries, table: t as ClassTable, labels, rowWeights: rowWeights ?? null, labelWeighting: this.labelWeighting, grad: false }).loss;
  }

  /**
   * Full-softmax evaluation (NLL, perplexity, P@k, Recall@k, nDCG@k), streamed over class blocks.
   * @throws as {@link evaluateMetrics}
   */
  evaluate(queries: Matrix, labels: Labels, opts: EvaluateMetricsOptions = {}): EvaluationMetrics {
    const t = this.table;
    if (t instanceof ShardedClassTable) return shardedEvaluateMetrics(queries, t, labels, opts);
    return evaluateMetrics(queries, t as ClassTable, labels, opts);
  }

  /**
   * {@link OutputLayer.evaluate} on the worker pool of the fast kernels when `initFastKernels`
   * installed them (all cores; the same results), else as `evaluate`. A sharded table is
   * evaluated shard by shard, each on the pool.
   * @throws as {@link evaluateMetrics}
   */
  evaluateAsync(queries: Matrix, labels: Labels, opts: EvaluateMetricsOptions = {}): Promise<EvaluationMetrics> {
    const t = this.table;
    if (t instanceof ShardedClassTable) return shardedEvaluateMetricsAsync(queries, t, labels, opts);
    return evaluateMetricsAsync(queries, t as ClassTable, labels, opts);
  }
}
