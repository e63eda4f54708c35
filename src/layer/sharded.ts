/**
 * Training and evaluation on a {@link ShardedClassTable}: the sampled loss on a compact gather of
 * a step's touched rows, the optimizer applied shard by shard, and exact evaluation run shard by
 * shard and merged (log-sum-exp, top-k). Nothing in a sampled step costs O(n). Bfloat16 shards
 * are decoded where they are computed with: the touched rows of a step (gathered, updated by the
 * optimizer in float32, encoded back rounded to nearest even) and blocks of classes in evaluation.
 * @module
 */
import { Bf16ClassTable } from '../core/bf16.js';
import { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import { logAddExp } from '../core/math.js';
import { checkLabels, type Labels, type Matrix } from '../core/matrix.js';
import { shardOfStart, type ShardedClassTable } from '../core/shardedTable.js';
import { assertFinite, assertMatrix, intOption, rejectUnknown } from '../core/validate.js';
import { activePool, dot, kernels, memoryHolding } from '../kernels/index.js';
import type { RowSegment } from '../kernels/types.js';
import { ScratchBlock } from '../kernels/scratch.js';
import { gatherRowsInto } from '../core/rows.js';
import { isFirstInRow, setupBase, sortedUniqueSlots } from '../loss/common.js';
import { sampledSoftmaxLoss } from '../loss/sampled.js';
import type { LabelWeighting, LossResult, SampledLossInput, SparseRowGrad } from '../loss/types.js';
import type { Draws } from '../samplers/types.js';
import {
  checkEvaluateInputs,
  evaluate,
  evaluateAsync,
  evaluateOptionsFor,
  metricCutoffs,
  metricsOf,
  type EvaluateMetricsOptions,
  type EvaluateOptions,
  type EvaluateResult,
  type EvaluationMetrics,
} from './evaluator.js';
import { createOptimizer, isPlainStorage, type OptimizerName, type OptimizerState, type OptimizerStorage, type SparseOptimizer } from './optimizers.js';

/** Input of {@link shardedSampledLoss}: that of {@link sampledSoftmaxLoss} on a sharded table. */
export interface ShardedSampledLossInput extends Omit<SampledLossInput, 'table'> {
  /** The sharded class table. */
  table: ShardedClassTable;
}

/**
 * The rows `ids` (ascending, distinct global ids) of a sharded table, copied into one compact
 * {@link ClassTable} (row `k` holds class `ids[k]`). `O(ids.length · d + shards)`. In Node, the
 * float32 rows are copied by the installed pool's workers when they and `into` live in its
 * memories (shards from `shardedTableInKernelMemory`) and there are enough of them
 * (`BlockingKernels.gatherRows`), else on the calling thread.
 * @param into where to put the rows (at least `max(1, ids.length) · d` values; default a new array)
 */
export function gatherRows(table: ShardedClassTable, ids: Int32Array, into?: Float32Array): ClassTable {
  const d = table.d;
  const u = ids.length;
  const rows = Math.max(1, u); // a table has at least one row; the spare row is never referenced
  if (into !== undefined && into.length < rows * d) throw new ShapeError(`gatherRows: into has ${into.length} values, ${rows} rows of ${d} need ${rows * d}`);
  const w = into === undefined ? new Float32Array(rows * d) : into.subarray(0, rows * d);
  const b = table.hasBias ? new Float32Array(rows) : null;
  const local = new Int32Array(u);
  const segments: RowSegment[] = [];
  let k = 0;
  for (let s = 0; s < table.shards.length && k < u; s++) {
    const start = table.starts[s]!;
    const end = table.starts[s + 1]!;
    const a = k;
    while (k < u && ids[k]! < end) {
      local[k] = ids[k]! - start;
      k++;
    }
    if (k === a) continue;
    const t = table.shards[s]!;
    if (t instanceof Bf16ClassTable) for (let r = a; r < k; r++) t.decodeRows(local[r]!, 1, w, r * d);
    else segments.push({ src: t.weights, ids: local, iOff: a, count: k - a, dstRow: a });
    if (b) for (let r = a; r < k; r++) b[r] = t.bias![local[r]!]!;
  }
  // the float32 rows: split over the pool's workers where they and `w` live in its memories
  // (random reads in a large table: two threads keep twice the misses in flight), else here
  if (!(activePool()?.blocking?.gatherRows(w, segments, d) ?? false)) {
    for (const g of segments) gatherRowsInto(w, g.dstRow, g.src, g.ids, g.iOff, g.count, d);
  }
  return new ClassTable(rows, d, w, b);
}

/** The compact rows of a sharded step, reused from step to step (see {@link ScratchBlock}). */
const compactBlock = new ScratchBlock('the compact rows of a sharded step');

/** Most float32 values a bfloat16 shard is decoded into at once (evaluation, full loss): 32 MB. */
const DECODE_ELEMS = 1 << 23;

/**
 * Calls `visit(t, start)` for float32 pieces of the table in id order, `t` holding the classes
 * `[start, start + t.n)`: a float32 shard itself, a bfloat16 shard decoded in blocks of rows into
 * one reused buffer of at most `maxElems` floats (so `t` is valid during the call only).
 */
export function forEachFloatPiece(table: ShardedClassTable, visit: (t: ClassTable, start: number) => void, maxElems = DECODE_ELEMS): void {
  for (const [t, a] of floatPieces(table, maxElems)) visit(t, a);
}

/** The pieces of {@link forEachFloatPiece} as an iterator (a decoded piece is valid until the next one). */
export function* floatPieces(table: ShardedClassTable, maxElems = DECODE_ELEMS): Generator<[ClassTable, number]> {
  const d = table.d;
  let buf: Float32Array | null = null;
  for (let s = 0; s < table.shards.length; s++) {
    const t = table.shards[s]!;
    const g0 = table.starts[s]!;
    if (t instanceof ClassTable) {
      yield [t, g0];
      continue;
    }
    const rowsPer = Math.max(1, Math.min(t.n, Math.floor(maxElems / d)));
    if (buf === null || buf.length < rowsPer * d) buf = new Float32Array(rowsPer * d);
    for (let a = 0; a < t.n; a += rowsPer) {
      const cnt = Math.min(rowsPer, t.n - a);
      t.decodeRows(a, cnt, buf);
      yield [new ClassTable(cnt, d, buf.subarray(0, cnt * d), t.bias ? t.bias.subarray(a, a + cnt) : null), g0 + a];
    }
  }
}

/**
 * {@link sampledSoftmaxLoss} on a sharded table: the distinct ids of the batch's positives and
 * draws are gathered into a compact table, the loss runs on it with ids remapped to compact rows,
 * and the class gradient is mapped back to global ids (ascending). Same loss and gradients as the
 * unsharded loss on the concatenated table; `O((B·(m + P)) · (d + log))`, independent of `n`.
 * @throws as {@link sampledSoftmaxLoss} (ids are checked against the whole table)
 */
export function shardedSampledLoss(input: ShardedSampledLossInput): LossResult {
  if (input === null || typeof input !== 'object') throw new OptionError('sampledSoftmaxLoss: expected an input object');
  const { table, labels, draws } = input;
  if (!labels || !(labels.ids instanceof Int32Array) || !(labels.offsets instanceof Int32Array)) {
    throw new OptionError("sampledSoftmaxLoss: 'labels' must be a Labels record {ids: Int32Array, offsets: Int32Array}");
  }
  if (!draws || !(draws.ids instanceof Int32Array)) throw new OptionError("sampledSoftmaxLoss: 'draws' must be a Draws record");
  checkLabels(labels, table.n, undefined, 'sampledSoftmaxLoss: labels');
  checkLabels({ ids: draws.ids, offsets: new Int32Array([0, draws.ids.length]) }, table.n, 1, 'sampledSoftmaxLoss: draws.ids');
  const all = new Int32Array(labels.ids.length + draws.ids.length);
  all.set(labels.ids);
  all.set(draws.ids, labels.ids.length);
  const { ids: touched, slots } = sortedUniqueSlots(all);
  const compact = gatherRows(table, touched, compactBlock.f32(Math.max(1, touched.length) * table.d));
  const P = labels.ids.length;
  const cLabels: Labels = { ids: slots.subarray(0, P), offsets: labels.offsets };
  const cDraws: Draws = { ...draws, ids: slots.subarray(P) };
  const res = sampledSoftmaxLoss({ ...input, table: compact, labels: cLabels, draws: cDraws });
  const g = res.gradClasses;
  const ids = new Int32Array(g.ids.length);
  for (let k = 0; k < ids.length; k++) ids[k] = touched[g.ids[k]!]!;
  return { loss: res.loss, gradQueries: res.gradQueries, gradClasses: { ids, rows: g.rows, bias: g.bias } };
}

/** First index of the ascending `ids` with `ids[i] ≥ x`. */
function lowerBound(ids: Int32Array, x: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sparse optimizer per shard, seen as one optimizer of the whole table: shard 0 uses the given
 * optimizer, the others new ones of the same kind, options and storage (so each holds the state
 * of its own shard's rows). Every step is applied to every shard (the shards a gradient does not
 * touch get an empty one), so all count the same steps; `lrScale` is that of every shard.
 *
 * Its state ({@link ShardedOptimizer.stateTensors}) is that of one optimizer of the whole table:
 * each accumulator is the shards' accumulators concatenated in global row order, `shape` is
 * `[n, d, hasBias]` of the whole table. A checkpoint of a sharded layer therefore loads into an
 * unsharded one of the same kind and vice versa, whatever the shard sizes.
 *
 * `step` takes a {@link ShardedClassTable} of the layout or a {@link ClassTable} of `n` rows (the
 * concatenated table: shard `s`'s optimizer updates the view of its rows).
 */
export class ShardedOptimizer implements SparseOptimizer {
  /** One optimizer per shard; `shards[0]` is the one given. */
  readonly shards: readonly SparseOptimizer[];
  /** Global id of each shard's first row; `starts[shards.length] = n`. */
  readonly starts: Int32Array;
  /** Where the accumulators (and the staging rows of bfloat16 shards) live: the given optimizer's storage. */
  readonly storage: OptimizerStorage | undefined;
  /** Reused staging rows (and biases) of the bfloat16 path, from {@link ShardedOptimizer.storage}. */
  private stage: { rows: Float32Array; bias: Float32Array | null } | null = null;

  /**
   * @param layout the sharded table, or its shard sizes
   * @throws OptionError for an empty layout or a size < 1
   */
  constructor(first: SparseOptimizer, layout: ShardedClassTable | readonly number[]) {
    let starts: Int32Array;
    if (Array.isArray(layout)) {
      if (layout.length === 0) throw new OptionError('ShardedOptimizer: the layout needs at least one shard');
      starts = new Int32Array(layout.length + 1);
      for (let s = 0; s < layout.length; s++) starts[s + 1] = starts[s]! + intOption(layout[s], `shard size ${s}`, 1);
    } else starts = (layout as ShardedClassTable).starts;
    this.starts = starts;
    this.storage = first.storage;
    const opts: Record<string, number> = { ...first.options };
    const count = starts.length - 1;
    // an optimizer without a storage of its own puts each shard's state where that shard is (in
    // its kernel memory, when it has one); otherwise every shard's state goes to the given storage
    const follow = first.storageFollowsTable === true;
    this.shards = Array.from({ length: count }, (_, s) => (s === 0 ? first : createOptimizer(first.name, opts, follow ? undefined : first.storage)));
    const inKernelMemory = !Array.isArray(layout) && (layout as ShardedClassTable).shards.every((t) => t instanceof ClassTable && memoryHolding(t.weights) !== null);
    if (kernels.name !== 'ts' && first.name === 'adam' && (first.storage === undefined || isPlainStorage(first.storage)) && !(follow && inKernelMemory)) {
      noticeOnce(
        'plain-storage',
        `samplex: notice: the sharded Adam updates run the TypeScript loop, not the ${kernels.name} kernel: the optimizer's accumulators are plain arrays; create it with kernel storage (createOptimizer('adam', opts, { f32: fast.allocF32, i32: fast.allocI32 })) for the fast path`,
      );
    }
  }

  get name(): OptimizerName {
    return this.shards[0]!.name;
  }

  get options(): Readonly<Record<string, number>> {
    return this.shards[0]!.options;
  }

  /** Steps so far (every shard counts every step). */
  get steps(): number {
    return this.shards[0]!.steps;
  }

  get lrScale(): number {
    return this.shards[0]!.lrScale;
  }

  /** Sets the learning-rate multiplier of every shard. */
  set lrScale(x: number) {
    for (const o of this.shards) o.lrScale = x;
  }

  /** Number of classes of the layout. */
  get n(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /**
   * Applies a gradient over global ids (ascending, as a loss returns it) shard by shard, with
   * local ids; with `all`, every row of every shard is updated (see {@link SparseOptimizer.stepAll}).
   * @throws ShapeError (gradient shape, ids not ascending or out of range, a table of another layout), as the optimizers
   */
  step(table: ShardedClassTable | ClassTable, grad: SparseRowGrad, all = false): void {
    const count = this.shards.length;
    if (table instanceof ClassTable) {
      if (table.n !== this.n) throw new ShapeError(`ShardedOptimizer: the optimizer is for ${this.n} classes, the table has ${table.n}`);
    } else if (table.shards.length !== count || table.n !== this.n) {
      throw new ShapeError(`ShardedOptimizer: ${count} optimizers for ${this.n} classes, the table has ${table.shards.length} shards of ${table.n} classes`);
    } else {
      for (let s = 1; s < count; s++) {
        if (table.starts[s] !== this.starts[s]) throw new ShapeError(`ShardedOptimizer: shard ${s} of the table starts at ${table.starts[s]}, the optimizer's at ${this.starts[s]}`);
      }
    }
    const { d } = table;
    const ids = grad.ids;
    const k = ids.length;
    if (!(ids instanceof Int32Array) || !(grad.rows instanceof Float32Array) || grad.rows.length !== k * d) {
      throw new ShapeError(`ShardedOptimizer.step: grad must hold ids (Int32Array) and rows of length ids.length*d = ${k}*${d}`);
    }
    for (let i = 0; i < k; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= this.n) throw new ShapeError(`ShardedOptimizer.step: grad.ids[${i}] = ${id} is outside [0, ${this.n})`);
      if (i > 0 && id <= ids[i - 1]!) throw new ShapeError(`ShardedOptimizer.step: grad.ids must be strictly ascending (distinct); ids[${i - 1}] = ${ids[i - 1]}, ids[${i}] = ${id}`);
    }
    for (let s = 0; s < count; s++) {
      const start = this.starts[s]!;
      const end = this.starts[s + 1]!;
      const a = lowerBound(ids, start);
      const b = lowerBound(ids, end);
      const local = new Int32Array(b - a);
      for (let i = a; i < b; i++) local[i - a] = ids[i]! - start;
      const part: SparseRowGrad = { ids: local, rows: grad.rows.subarray(a * d, b * d), bias: grad.bias ? grad.bias.subarray(a, b) : null };
      const opt = this.shards[s]!;
      const t = table instanceof ClassTable
        ? new ClassTable(end - start, d, table.weights.subarray(start * d, end * d), table.bias ? table.bias.subarray(start, end) : null)
        : table.shards[s]!;
      if (t instanceof ClassTable) {
        if (all) opt.stepAll(t, part);
        else opt.step(t, part);
      } else if (all) {
        // every row changes: decode the whole shard, update it in float32, encode it back
        const dec = t.toTable();
        opt.stepAll(dec, part);
        t.encodeRows(0, t.n, dec.weights);
        if (t.bias) t.bias.set(dec.bias!);
      } else {
        // the touched rows only: decoded into staging rows (in the optimizer's storage, so that
        // kernel storage keeps the kernels' fast path), updated in float32 with their state, encoded back
        if (!opt.stepRows) throw new OptionError(`optimizer '${opt.name}' cannot update rows held outside its table (stepRows), which bfloat16 storage needs`);
        const kk = local.length;
        const { rows, bias } = this.staging(Math.max(1, kk), d, t.bias !== null);
        for (let i = 0; i < kk; i++) t.decodeRows(local[i]!, 1, rows, i * d);
        if (bias) for (let i = 0; i < kk; i++) bias[i] = t.bias![local[i]!]!;
        const cap = rows.length / d;
        opt.stepRows(t.n, local, new ClassTable(cap, d, rows, bias ? bias.subarray(0, cap) : null), { rows: part.rows, bias: part.bias });
        for (let i = 0; i < kk; i++) t.encodeRows(local[i]!, 1, rows, i * d);
        if (bias) for (let i = 0; i < kk; i++) t.bias![local[i]!] = bias[i]!;
      }
    }
  }

  /** {@link ShardedOptimizer.step} with every row updated. */
  stepAll(table: ShardedClassTable | ClassTable, grad: SparseRowGrad): void {
    this.step(table, grad, true);
  }

  /** Staging rows for at least `rows` rows of `d` (grown by doubling, from the storage). */
  private staging(rows: number, d: number, hasBias: boolean): { rows: Float32Array; bias: Float32Array | null } {
    const st = this.stage;
    if (st !== null && st.rows.length >= rows * d && (st.bias !== null) === hasBias) return st;
    let cap = 1;
    while (cap < rows) cap *= 2;
    const storage = this.storage ?? PLAIN;
    if (st !== null && storage.free) {
      storage.free(st.rows);
      if (st.bias) storage.free(st.bias);
    }
    this.stage = { rows: storage.f32(cap * d), bias: hasBias ? storage.f32(cap) : null };
    return this.stage;
  }

  /**
   * The state of one optimizer of the whole table: `shape` `[n, d, hasBias]`, `steps`, and each
   * accumulator the shards' concatenated in global row order (copies). Before the first step:
   * `shape` `[0, 0, 0]` and no accumulators, as an unsized optimizer.
   * @throws StateError when some shards' optimizers are sized and others not (they were stepped apart)
   */
  stateTensors(): OptimizerState {
    const parts = this.shards.map((o) => o.stateTensors());
    const sized = parts.map((p) => p['shape']![0]! > 0);
    const steps = Int32Array.from([this.steps]);
    if (sized.every((x) => !x)) return { shape: Int32Array.from([0, 0, 0]), steps };
    if (!sized.every((x) => x)) throw new StateError('ShardedOptimizer.stateTensors: some shards have optimizer state and others none; step the shards together (ShardedOptimizer.step)');
    const shape0 = parts[0]!['shape']!;
    const out: OptimizerState = { shape: Int32Array.from([this.n, shape0[1]!, shape0[2]!]), steps };
    for (const name of Object.keys(parts[0]!)) {
      if (name === 'shape' || name === 'steps') continue;
      const first = parts[0]![name]!;
      const w = first.length / (this.starts[1]! - this.starts[0]!);
      const cat = first instanceof Int32Array ? new Int32Array(this.n * w) : new Float32Array(this.n * w);
      for (let s = 0; s < this.shards.length; s++) {
        const arr = parts[s]![name];
        if (arr === undefined) throw new StateError(`ShardedOptimizer.stateTensors: shard ${s} has no tensor '${name}'`);
        cat.set(arr as never, this.starts[s]! * w);
      }
      out[name] = cat;
    }
    return out;
  }

  /**
   * Restores a state of one optimizer of the whole table (from {@link ShardedOptimizer.stateTensors},
   * or from an unsharded optimizer of the same kind on `n` classes): each accumulator is split by
   * the shards' row ranges (copied).
   * @throws StateError when the shape, names, kinds or sizes do not fit
   */
  loadState(state: OptimizerState): void {
    const shape = state['shape'];
    const steps = state['steps'];
    if (!(shape instanceof Int32Array) || shape.length !== 3 || !(steps instanceof Int32Array) || steps.length !== 1) {
      throw new StateError(`${this.name}.loadState: expected Int32Array tensors 'shape' [n, d, hasBias] and 'steps' [count]`);
    }
    const n = shape[0]!;
    if (n !== 0 && n !== this.n) throw new StateError(`${this.name}.loadState: the state is for ${n} classes, this sharded optimizer for ${this.n}`);
    const widths: Record<string, number> = {};
    for (const [name, arr] of Object.entries(state)) {
      if (name === 'shape' || name === 'steps') continue;
      if (n === 0 || arr.length % n !== 0) throw new StateError(`${this.name}.loadState: tensor '${name}' has ${arr.length} values, not a whole number per row of ${n} classes`);
      widths[name] = arr.length / n;
    }
    // check every shard's part before changing any: load into scratch optimizers first
    const parts = this.shards.map((_, s) => {
      const a = this.starts[s]!;
      const b = this.starts[s + 1]!;
      const p: OptimizerState = { shape: Int32Array.from([n === 0 ? 0 : b - a, shape[1]!, shape[2]!]), steps };
      for (const [name, arr] of Object.entries(state)) {
        if (name === 'shape' || name === 'steps') continue;
        const w = widths[name]!;
        p[name] = arr.subarray(a * w, b * w);
      }
      return p;
    });
    const opts: Record<string, number> = { ...this.options };
    for (const p of parts) createOptimizer(this.name, opts).loadState(p);
    for (let s = 0; s < this.shards.length; s++) this.shards[s]!.loadState(parts[s]!);
  }
}

/** Plain typed arrays (when the optimizer names no storage). */
const PLAIN: OptimizerStorage = { f32: (len) => new Float32Array(len), i32: (len) => new Int32Array(len) };

const noticed = new Set<string>();

/** Writes a one-line notice to stderr, once per key and process. */
function noticeOnce(key: string, line: string): void {
  if (noticed.has(key)) return;
  noticed.add(key);
  if (typeof process !== 'undefined' && process.stderr) process.stderr.write(line + '\n');
  else console.warn(line);
}

/** The entries of `l` whose ids lie in `[start, end)`, as local ids, and their indices in `l.ids`. */
function restrictLabels(l: Labels, start: number, end: number): { labels: Labels; entry: Int32Array } {
  const rows = l.offsets.length - 1;
  const offsets = new Int32Array(rows + 1);
  const ids: number[] = [];
  const entry: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let e = l.offsets[r]!; e < l.offsets[r + 1]!; e++) {
      const id = l.ids[e]!;
      if (id >= start && id < end) {
        ids.push(id - start);
        entry.push(e);
      }
    }
    offsets[r + 1] = ids.length;
  }
  return { labels: { ids: Int32Array.from(ids), offsets }, entry: Int32Array.from(entry) };
}

/**
 * {@link evaluate} on a sharded table: the evaluator runs on every shard (its labels and
 * exclusions restricted to the shard), and the results are merged: `lse` by log-add-exp, the
 * top-k by score (ties to the smaller global id, as unsharded), each label's log-probability from
 * its logit in its shard. Same outputs as `evaluate` on the concatenated table, up to the
 * rounding of the merged log-sum-exp.
 * @throws as {@link evaluate}
 */
export function shardedEvaluate(queries: Matrix, table: ShardedClassTable, opts: EvaluateOptions = {}): EvaluateResult {
  const merge = new ShardedEvaluation(queries, table, opts);
  forEachFloatPiece(table, (t, a) => {
    const piece = merge.piece(t, a);
    merge.add(evaluate(queries, t, piece.opts), a, piece.labels);
  });
  return merge.result();
}

/**
 * {@link shardedEvaluate} with each shard evaluated by {@link evaluateAsync}: on the worker pool
 * of the fast kernels (every core; a shard outside the pool's memory streams through it in
 * blocks), one shard after the other. Same results as {@link shardedEvaluate}.
 * @throws as {@link evaluate}
 */
export async function shardedEvaluateAsync(queries: Matrix, table: ShardedClassTable, opts: EvaluateOptions = {}): Promise<EvaluateResult> {
  const merge = new ShardedEvaluation(queries, table, opts);
  for (const [t, a] of floatPieces(table)) {
    const piece = merge.piece(t, a);
    merge.add(await evaluateAsync(queries, t, piece.opts), a, piece.labels);
  }
  return merge.result();
}

/** The merge of the shards' evaluations (see {@link shardedEvaluate}). */
class ShardedEvaluation {
  private readonly B: number;
  private readonly k: number;
  private readonly labels: Labels | undefined;
  private readonly exclude: Labels | undefined;
  private readonly blockSize: number | undefined;
  private readonly lse: Float64Array;
  private readonly labelLogit: Float64Array | null;
  private readonly parts: EvaluateResult[] = [];
  private readonly partStart: number[] = [];

  constructor(queries: Matrix, table: ShardedClassTable, opts: EvaluateOptions) {
    const { B, k } = checkEvaluateInputs(queries, table.n, table.d, opts);
    this.B = B;
    this.k = k;
    this.labels = opts.labels;
    this.exclude = opts.exclude;
    this.blockSize = opts.blockSize;
    this.lse = new Float64Array(B).fill(-Infinity);
    this.labelLogit = opts.labels ? new Float64Array(opts.labels.ids.length) : null;
  }

  /** The options of the evaluation of piece `t` starting at global id `a`, and its labels (restricted to the piece, with their entries in the whole list). */
  piece(t: ClassTable, a: number): { opts: EvaluateOptions; labels: { labels: Labels; entry: Int32Array } | null } {
    const b = a + t.n;
    const lab = this.labels ? restrictLabels(this.labels, a, b) : null;
    const ex = this.exclude ? restrictLabels(this.exclude, a, b).labels : null;
    const opts = {
      k: Math.min(this.k, t.n),
      ...(lab ? { labels: lab.labels } : {}),
      ...(ex ? { exclude: ex } : {}),
      ...(this.blockSize !== undefined ? { blockSize: this.blockSize } : {}),
    };
    return { opts, labels: lab };
  }

  /** Adds the evaluation of the piece starting at global id `a` (`lab`: its labels from {@link ShardedEvaluation.piece}). */
  add(ev: EvaluateResult, a: number, lab: { labels: Labels; entry: Int32Array } | null): void {
    const { B, lse } = this;
    for (let r = 0; r < B; r++) lse[r] = logAddExp(lse[r]!, ev.lse[r]!);
    if (lab) {
      // the label's logit within its shard: log p_s + lse_s
      const lp = ev.labelLogProb!;
      for (let j = 0; j < lab.entry.length; j++) {
        const r = rowOf(this.labels!.offsets, lab.entry[j]!);
        this.labelLogit![lab.entry[j]!] = lp[j]! + ev.lse[r]!;
      }
    }
    this.parts.push(ev);
    this.partStart.push(a);
  }

  result(): EvaluateResult {
    const { B, k, lse, labels, parts, partStart } = this;
    const topIds = new Int32Array(B * k).fill(-1);
    const topScores = new Float32Array(B * k).fill(-Infinity);
    const candS: number[] = [];
    const candI: number[] = [];
    const order: number[] = [];
    for (let r = 0; r < B && k > 0; r++) {
      candS.length = 0;
      candI.length = 0;
      for (let s = 0; s < parts.length; s++) {
        const ev = parts[s]!;
        for (let j = 0; j < ev.k; j++) {
          const id = ev.topIds[r * ev.k + j]!;
          if (id < 0) break;
          candS.push(ev.topScores[r * ev.k + j]!);
          candI.push(id + partStart[s]!);
        }
      }
      order.length = candS.length;
      for (let c = 0; c < order.length; c++) order[c] = c;
      order.sort((x, y) => candS[y]! - candS[x]! || candI[x]! - candI[y]!);
      const take = Math.min(k, order.length);
      for (let j = 0; j < take; j++) {
        topIds[r * k + j] = candI[order[j]!]!;
        topScores[r * k + j] = candS[order[j]!]!;
      }
    }
    if (!labels) return { k, lse, topIds, topScores };
    const labelLogProb = new Float64Array(labels.ids.length);
    for (let r = 0; r < B; r++) {
      for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) labelLogProb[e] = Math.min(0, this.labelLogit![e]! - lse[r]!);
    }
    return { k, lse, topIds, topScores, labelLogProb };
  }
}

/** Row of entry `e` of a CSR label list (binary search over the offsets). */
function rowOf(offsets: Int32Array, e: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid]! <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * {@link evaluateMetrics} on a sharded table (through {@link shardedEvaluate}).
 * @throws as {@link evaluateMetrics}
 */
export function shardedEvaluateMetrics(queries: Matrix, table: ShardedClassTable, labels: Labels, opts: EvaluateMetricsOptions = {}): EvaluationMetrics {
  const ks = metricCutoffs(opts, table.n);
  return metricsOf(shardedEvaluate(queries, table, evaluateOptionsFor(opts, ks, labels)), labels, ks);
}

/**
 * {@link shardedEvaluateMetrics} through {@link shardedEvaluateAsync} (the worker pool when one is installed).
 * @throws as {@link evaluateMetrics}
 */
export async function shardedEvaluateMetricsAsync(queries: Matrix, table: ShardedClassTable, labels: Labels, opts: EvaluateMetricsOptions = {}): Promise<EvaluationMetrics> {
  const ks = metricCutoffs(opts, table.n);
  return metricsOf(await shardedEvaluateAsync(queries, table, evaluateOptionsFor(opts, ks, labels)), labels, ks);
}

const NO_IDS = new Int32Array(0);
const NO_SCORES = new Float32Array(0);

/** Input of {@link shardedFullLoss}. */
export interface ShardedFullLossInput {
  queries: Matrix;
  table: ShardedClassTable;
  labels: Labels;
  rowWeights?: Float32Array | null;
  labelWeighting?: LabelWeighting;
}

/**
 * The value of {@link fullSoftmaxLoss} (no gradients) on a sharded table: each row's log-sum-exp
 * over all classes merged from the shards' (the fused kernel pass of the unsharded loss), a multi-label row's partition over its
 * non-positive classes by subtracting its positives' mass when they hold at most half of it, else
 * by an exact rescan of that row over every shard with its positives masked (as the unsharded loss).
 * @throws as {@link fullSoftmaxLoss}
 */
export function shardedFullLoss(input: ShardedFullLossInput): number {
  const base = setupBase({ ...input, grad: false }, 'fullSoftmaxLoss');
  const { B, d, rowScale, termWeight } = base;
  if (base.totalWeight === 0) return 0;
  const { queries, table, labels } = input;
  const h = queries.data;
  // every row's log-sum-exp: the fused pass of the unsharded loss on each shard, merged
  const lseAll = new Float64Array(B).fill(-Infinity);
  const part = new Float64Array(B);
  forEachFloatPiece(table, (t) => {
    kernels.fusedSoftmaxTopK(h, B, t.weights, t.bias, t.n, d, 0, part, NO_IDS, NO_SCORES);
    for (let r = 0; r < B; r++) lseAll[r] = logAddExp(lseAll[r]!, part[r]!);
  });
  const row = new Float32Array(d);
  const posIds = labels.ids;
  const offs = labels.offsets;
  const oPos = new Float64Array(posIds.length);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const scale = rowScale[r]!;
    if (scale === 0) continue;
    const a = offs[r]!;
    const b = offs[r + 1]!;
    let mass = 0;
    let distinct = 0;
    for (let e = a; e < b; e++) {
      const p = posIds[e]!;
      const s = shardOfStart(table.starts, p);
      const t = table.shards[s]!;
      const local = p - table.starts[s]!;
      if (t instanceof ClassTable) oPos[e] = dot(h, r * d, t.weights, local * d, d) + (t.bias ? t.bias[local]! : 0);
      else {
        t.decodeRows(local, 1, row);
        oPos[e] = dot(h, r * d, row, 0, d) + (t.bias ? t.bias[local]! : 0);
      }
      if (!isFirstInRow(posIds, a, e)) continue;
      distinct++;
      mass += Math.exp(oPos[e]! - lseAll[r]!);
    }
    let lnNeg = NaN; // unused with one positive: the term's partition is lseAll
    if (distinct > 1) lnNeg = mass <= 0.5 ? lseAll[r]! + Math.log1p(-mass) : maskedRowLse(table, h, r, posIds, a, b);
    for (let e = a; e < b; e++) {
      const o = oPos[e]!;
      const lse = Number.isNaN(lnNeg) ? lseAll[r]! : logAddExp(lnNeg, o);
      loss += scale * termWeight[e]! * (lse - o);
    }
  }
  return loss;
}

/** Log-sum-exp of query row `r`'s logits over every class but its positives `posIds[a..b)`, shard by shard. */
function maskedRowLse(table: ShardedClassTable, h: Float32Array, r: number, posIds: Int32Array, a: number, b: number): number {
  const d = table.d;
  const q = h.subarray(r * d, (r + 1) * d);
  const block = 1024;
  const buf = new Float32Array(block);
  let mx = -Infinity;
  let sum = 0;
  forEachFloatPiece(table, (t, g0) => {
    for (let start = 0; start < t.n; start += block) {
      const cnt = Math.min(block, t.n - start);
      kernels.matmulNT(q, 1, t.weights, start, cnt, d, buf);
      if (t.bias) for (let j = 0; j < cnt; j++) buf[j] += t.bias[start + j]!;
      for (let e = a; e < b; e++) {
        const p = posIds[e]! - g0 - start;
        if (p >= 0 && p < cnt) buf[p] = -Infinity;
      }
      let bm = -Infinity;
      for (let j = 0; j < cnt; j++) if (buf[j]! > bm) bm = buf[j]!;
      if (bm === -Infinity) continue;
      if (bm > mx) {
        sum = mx === -Infinity ? 0 : sum * Math.exp(mx - bm);
        mx = bm;
      }
      for (let j = 0; j < cnt; j++) sum += Math.exp(buf[j]! - mx);
    }
  });
  return mx === -Infinity ? -Infinity : mx + Math.log(sum);
}
