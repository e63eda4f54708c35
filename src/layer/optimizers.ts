/**
 * Sparse optimizers for the class table: a step reads and writes only the rows listed in the
 * gradient (`B·(m+1)` rows for a sampled loss), never all `n`.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import { assertFinite, choiceOption, numOption, rejectUnknown } from '../core/validate.js';
import type { SparseRowGrad } from '../loss/types.js';
import { activeMemory, kernels, memoryHolding, type KernelMemory } from '../kernels/index.js';
import { copyRowsAt, wholeCopyPays } from '../core/rows.js';

/**
 * Largest table (bytes of its weights) whose optimizer keeps its state in the kernels' memory
 * beside a table-sized block when the table itself lives outside it.
 */
const TABLE_COPY_MAX_BYTES = 64 << 20;

/**
 * Gives a kernel-memory block of optimizer state back once its array is collected (the arrays,
 * not the optimizer: `stateTensors()` hands them out, and they must stay valid while held).
 */
const blockRegistry = new FinalizationRegistry<{ mem: KernelMemory; at: number }>(({ mem, at }) => mem.freeAt?.(at));

/** Names accepted by {@link createOptimizer}. */
export type OptimizerName = 'sgd' | 'adagrad' | 'adam';

/** Names of the optimizers, in the order of the docs. */
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adagrad', 'adam'];

/**
 * Where an optimizer allocates its accumulators. By default they go where the table is: into the
 * fast kernels' memory when the table lives there (`tableInKernelMemory`), so that
 * `kernels.adamRows` updates the moments in place, else (or when that memory is full, said in
 * one line) plain typed arrays, whose touched rows the kernels stage per step. Arrays must come
 * zero-filled.
 */
export interface OptimizerStorage {
  /** A zero-filled Float32Array of `len` elements. */
  f32(len: number): Float32Array;
  /** A zero-filled Int32Array of `len` elements. */
  i32(len: number): Int32Array;
  /** Gives back an array of `f32` / `i32` that is no longer used (optional; e.g. `FastKernels.free`). */
  free?(arr: Float32Array | Int32Array): void;
}

/** Plain typed arrays. */
const PLAIN_STORAGE: OptimizerStorage = { f32: (len) => new Float32Array(len), i32: (len) => new Int32Array(len) };

/** Whether `s` is the default storage of plain typed arrays. */
export function isPlainStorage(s: OptimizerStorage): boolean {
  return s === PLAIN_STORAGE;
}

/** Arrays that make up an optimizer's state (for checkpoints). */
export type OptimizerState = Record<string, Float32Array | Int32Array>;

/**
 * An optimizer that updates only the class rows (and biases) of a {@link SparseRowGrad}.
 * Rows not listed in the gradient are never read or written, and their optimizer state is
 * left unchanged.
 */
export interface SparseOptimizer {
  /** Registry name. */
  readonly name: OptimizerName;
  /** Resolved hyper-parameters (defaults filled in). */
  readonly options: Readonly<Record<string, number>>;
  /** Where the accumulators live (absent: not said; the built-in optimizers always say). */
  readonly storage?: OptimizerStorage;
  /**
   * True when no storage was given and the accumulators go where the table is (absent: not
   * said, taken as false).
   */
  readonly storageFollowsTable?: boolean;
  /** Number of `step` calls so far. */
  readonly steps: number;
  /**
   * Multiplier of `options.lr` for the steps that follow (default 1): a learning-rate schedule
   * sets it between steps. Not part of the state: whoever schedules sets it again on resume.
   * @throws OptionError when set to a negative or non-finite value
   */
  lrScale: number;
  /**
   * Applies one update to the rows `grad.ids` of `table` (weights and, when the table has
   * them, biases), in place. The first call sizes the state for the table; later calls must
   * use a table of the same shape.
   * @throws ShapeError (gradient shape, ids not ascending or out of range), NonFiniteError, StateError (table shape changed)
   */
  step(table: ClassTable, grad: SparseRowGrad): void;
  /**
   * Applies one update to every row of `table`, with a zero gradient for the rows not listed in
   * `grad`: the same as {@link SparseOptimizer.step} on the gradient spread over all `n` rows,
   * without building it (only the listed rows are validated and copied). This is the non-lazy
   * update of a dense optimizer: with Adam every row's moments decay and it keeps moving.
   * @throws as {@link SparseOptimizer.step}
   */
  stepAll(table: ClassTable, grad: SparseRowGrad): void;
  /**
   * {@link SparseOptimizer.step} on rows held outside the table the state belongs to (e.g. rows
   * decoded from 16-bit storage): the state is that of an `n`-row table, `rows` holds the current
   * values of the rows `ids` (ascending, distinct; row `r` of `rows` is row `ids[r]`), and `grad`
   * row `r` is their gradient. `rows` is updated in place, the state of `ids` as `step` would
   * update it. `O(ids.length · d)`. Optional.
   * @throws as {@link SparseOptimizer.step}
   */
  stepRows?(n: number, ids: Int32Array, rows: ClassTable, grad: { rows: Float32Array; bias: Float32Array | null }): void;
  /**
   * The state as named typed arrays: `shape` (`Int32Array [n, d, hasBias]`), `steps`
   * (`Int32Array [count]`) and the optimizer's accumulators. Returns the live arrays (no copy);
   * copy them before further steps if a snapshot is needed.
   */
  stateTensors(): OptimizerState;
  /**
   * Restores a state produced by {@link SparseOptimizer.stateTensors} of an optimizer of the
   * same kind (the arrays are copied).
   * @throws StateError when names, kinds or sizes do not fit
   */
  loadState(state: OptimizerState): void;
}

/** Options of {@link Sgd}. */
export interface SgdOptions {
  /** Learning rate (default 0.1). */
  lr?: number;
  /** L2 weight decay on the embeddings (default 0), applied lazily: see {@link Sgd}. */
  weightDecay?: number;
}

/** Options of {@link Adagrad}. */
export interface AdagradOptions {
  /** Learning rate (default 0.1). */
  lr?: number;
  /** Added to the root of the accumulator (default 1e-7). */
  eps?: number;
  /** Initial value of every accumulator entry (default 0.1, as TensorFlow). */
  initialAccumulator?: number;
}

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** Learning rate (default 0.001). */
  lr?: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.999). */
  beta2?: number;
  /** Added to the root of the bias-corrected second moment (default 1e-8). */
  eps?: number;
}

/** Shared bookkeeping: shape checks, gradient validation, state (de)serialization. */
abstract class SparseOptimizerBase implements SparseOptimizer {
  abstract readonly name: OptimizerName;
  abstract readonly options: Readonly<Record<string, number>>;
  protected n = 0;
  protected d = 0;
  protected hasBias = false;
  protected sized = false;
  private count = 0;
  private scale = 1;
  /** Zero gradient over every row (identity ids), reused by {@link SparseOptimizerBase.stepAll}. */
  private all: SparseRowGrad | null = null;
  /** Where the accumulators live. */
  storage: OptimizerStorage;
  /** Whether the caller chose the storage (else it follows the table, see {@link OptimizerStorage}). */
  private readonly fixedStorage: boolean;
  /** Reused compact state of {@link SparseOptimizerBase.stepRows}, by accumulator name. */
  private compactState: Record<string, Float32Array | Int32Array> = {};

  /**
   * A table-sized block in the kernels' memory, beside the state, when the table lives outside
   * it (see {@link SparseOptimizerBase.stagingRows}); null otherwise.
   */
  private rowBlock: { mem: KernelMemory; rows: Float32Array } | null = null;

  constructor(storage: OptimizerStorage | undefined) {
    this.storage = storage ?? PLAIN_STORAGE;
    this.fixedStorage = storage !== undefined;
  }

  /** Whether no storage was given, so that the accumulators go where the table is (see {@link OptimizerStorage}). */
  get storageFollowsTable(): boolean {
    return !this.fixedStorage;
  }

  /**
   * Whether the optimizer's kernel works best with its state in the kernels' memory even when
   * the table is not there (its step then copies only the touched table rows in and out).
   */
  protected stagesTableRows(): boolean {
    return false;
  }

  /**
   * For a step on the rows `ids` of `table`: when the table lives outside the kernels' memory and
   * the state inside it (beside a table-sized block), copies those rows into the block at their
   * own places and returns it, so that a kernel updates table and state in place; null otherwise.
   * {@link SparseOptimizerBase.unstageRows} writes the rows back.
   */
  protected stagingRows(table: ClassTable, ids: Int32Array, accumulators: Array<Float32Array | Int32Array>): Float32Array | null {
    const b = this.rowBlock;
    if (b === null || b.rows.length < table.n * table.d || b.mem.owns(table.weights)) return null;
    for (const a of accumulators) if (!b.mem.owns(a)) return null;
    // many rows: one copy of the whole table (a memcpy) is cheaper than a loop over the rows
    if (wholeCopyPays(ids.length, table.n)) b.rows.set(table.weights.subarray(0, table.n * table.d));
    else copyRowsAt(b.rows, table.weights, ids, ids.length, table.d);
    return b.rows;
  }

  /**
   * Writes the rows `ids` of a block from {@link SparseOptimizerBase.stagingRows} back to the
   * table (the same `ids`); the whole block when the whole table was staged (its other rows are
   * the table's own).
   */
  protected unstageRows(table: ClassTable, ids: Int32Array, block: Float32Array): void {
    if (wholeCopyPays(ids.length, table.n)) table.weights.set(block.subarray(0, table.n * table.d));
    else copyRowsAt(table.weights, block, ids, ids.length, table.d);
  }

  get steps(): number {
    return this.count;
  }

  get lrScale(): number {
    return this.scale;
  }

  set lrScale(x: number) {
    this.scale = numOption(x, 'lrScale', 0);
  }

  /** The learning rate of the next step: `options.lr · lrScale`. */
  protected get lr(): number {
    return (this.options['lr'] ?? 0) * this.scale;
  }

  /** Allocates the accumulators for an `n × d` table. */
  protected abstract allocate(): void;
  /** The accumulators, by name. */
  protected abstract accumulators(): OptimizerState;
  /** Installs restored accumulators (already checked for size). */
  protected abstract install(state: OptimizerState): void;
  /** Expected length of accumulator `name`, or undefined if unknown to this optimizer. */
  protected abstract expectedLength(name: string): number | undefined;
  /** Element type of accumulator `name`. */
  protected abstract isInt(name: string): boolean;
  /** Updates the listed rows; `grad` has been validated. */
  protected abstract apply(table: ClassTable, grad: SparseRowGrad): void;

  step(table: ClassTable, grad: SparseRowGrad): void {
    this.fit(table);
    checkGrad(table, grad, this.name);
    this.apply(table, grad);
    this.count++;
  }

  stepAll(table: ClassTable, grad: SparseRowGrad): void {
    this.fit(table);
    checkGrad(table, grad, this.name);
    this.applyAll(table, grad);
    this.count++;
  }

  /**
   * Updates every row, the ones not in `grad` with a zero gradient (`grad` has been validated):
   * by default {@link SparseOptimizerBase.apply} on the gradient spread over a reused zero buffer.
   */
  protected applyAll(table: ClassTable, grad: SparseRowGrad): void {
    const { n, d } = table;
    if (this.all === null || this.all.rows.length !== n * d) {
      const ids = this.storage.i32(n);
      for (let i = 0; i < n; i++) ids[i] = i;
      this.all = { ids, rows: this.storage.f32(n * d), bias: table.bias ? this.storage.f32(n) : null };
    }
    const all = this.all;
    const k = grad.ids.length;
    const rows = all.rows;
    const src = grad.rows;
    for (let r = 0; r < k; r++) {
      const o = grad.ids[r]! * d;
      const so = r * d;
      for (let t = 0; t < d; t++) rows[o + t] = src[so + t]!;
      if (all.bias) all.bias[grad.ids[r]!] = grad.bias![r]!;
    }
    try {
      this.apply(table, all);
    } finally {
      // back to all zeros: only the rows just written are non-zero
      for (let r = 0; r < k; r++) {
        const o = grad.ids[r]! * d;
        rows.fill(0, o, o + d);
        if (all.bias) all.bias[grad.ids[r]!] = 0;
      }
    }
  }

  stepRows(n: number, ids: Int32Array, rows: ClassTable, grad: { rows: Float32Array; bias: Float32Array | null }): void {
    this.fitShape(n, rows.d, rows.bias !== null);
    const k = ids.length;
    if (!(ids instanceof Int32Array) || rows.n < k) throw new ShapeError(`${this.name}.stepRows: ids must be an Int32Array of at most rows.n = ${rows.n} ids`);
    for (let i = 0; i < k; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= n) throw new ShapeError(`${this.name}.stepRows: ids[${i}] = ${id} is outside [0, ${n})`);
      if (i > 0 && id <= ids[i - 1]!) throw new ShapeError(`${this.name}.stepRows: ids must be strictly ascending (distinct)`);
    }
    const local: SparseRowGrad = { ids: Int32Array.from({ length: k }, (_, i) => i), rows: grad.rows, bias: grad.bias };
    checkGrad(rows, local, this.name);
    // the state rows of `ids`, gathered into compact accumulators (row r ↔ ids[r]) that `apply`
    // updates alongside the compact rows, then scattered back
    const live = this.accumulators();
    const compact: OptimizerState = {};
    const widths: Record<string, number> = {};
    for (const [name, arr] of Object.entries(live)) {
      const w = arr.length / n;
      widths[name] = w;
      const c = this.compactArray(name, arr instanceof Int32Array, Math.max(1, k) * w);
      for (let r = 0; r < k; r++) for (let t = 0; t < w; t++) c[r * w + t] = arr[ids[r]! * w + t]!;
      compact[name] = c;
    }
    this.install(compact);
    try {
      this.apply(rows, local);
    } finally {
      this.install(live);
      for (const [name, arr] of Object.entries(live)) {
        const w = widths[name]!;
        const c = compact[name]!;
        for (let r = 0; r < k; r++) for (let t = 0; t < w; t++) arr[ids[r]! * w + t] = c[r * w + t]!;
      }
    }
    this.count++;
  }

  /**
   * A reused array of at least `len` elements for the compact accumulator `name`, from the
   * storage (so that kernel storage keeps the kernels' fast path), grown by doubling.
   */
  private compactArray(name: string, int: boolean, len: number): Float32Array | Int32Array {
    const cur = this.compactState[name];
    if (cur !== undefined && cur.length >= len && (cur instanceof Int32Array) === int) return cur;
    let cap = 1;
    while (cap < len) cap *= 2;
    if (cur !== undefined && this.storage.free) this.storage.free(cur);
    const next = int ? this.storage.i32(cap) : this.storage.f32(cap);
    this.compactState[name] = next;
    return next;
  }

  /** Sizes the state for `table` on first use; later tables must have the same shape. */
  private fit(table: ClassTable): void {
    this.fitShape(table.n, table.d, table.bias !== null, table.weights);
  }

  /**
   * Sizes the state for an `n × d` table on first use (beside `weights` in the kernels' memory when
   * they live there and no storage was given); later calls must give the same shape.
   */
  private fitShape(n: number, d: number, hasBias: boolean, weights: Float32Array | null = null): void {
    if (!this.sized) {
      this.n = n;
      this.d = d;
      this.hasBias = hasBias;
      if (!this.fixedStorage) this.storage = PLAIN_STORAGE;
      const held = this.fixedStorage || weights === null ? null : memoryHolding(weights);
      const active = this.fixedStorage || weights === null || held !== null ? null : activeMemory();
      if (active !== null && this.stagesTableRows() && n * d * 4 <= TABLE_COPY_MAX_BYTES) {
        const mem = active;
        // the table stays where it is; the state and a table-sized block the touched rows are
        // copied into live in the kernels' memory (see stagingRows)
        // the blocks made here, to give back if they do not all fit
        const blocks: Array<Float32Array | Int32Array> = [];
        let sizing = true;
        const track = <T extends Float32Array | Int32Array>(a: T): T => {
          if (sizing) blocks.push(a);
          blockRegistry.register(a, { mem, at: a.byteOffset }, a);
          return a;
        };
        try {
          this.storage = { f32: (len) => track(mem.f32(len)), i32: (len) => track(mem.i32(len)) };
          this.allocate();
          this.rowBlock = { mem, rows: track(mem.f32(n * d)) };
          sizing = false;
          blocks.length = 0;
        } catch (e) {
          sizing = false;
          console.warn(`samplex: ${this.name}'s state does not fit the fast kernels' memory (${e instanceof Error ? e.message : String(e)}); it is kept in JS memory and the kernels copy its touched rows at each step`);
          for (const b of blocks) {
            blockRegistry.unregister(b);
            mem.freeAt?.(b.byteOffset);
          }
          this.rowBlock = null;
          this.storage = PLAIN_STORAGE;
          this.allocate();
        }
      } else if (held !== null) {
        const mem = held;
        try {
          this.storage = { f32: (len) => mem.f32(len), i32: (len) => mem.i32(len) };
          this.allocate();
        } catch (e) {
          this.storage = PLAIN_STORAGE;
          console.warn(`samplex: ${this.name}'s state does not fit the fast kernels' memory beside the table (${e instanceof Error ? e.message : String(e)}); it is kept in JS memory and its touched rows are copied to the kernels at each step`);
          this.allocate();
        }
      } else this.allocate();
      this.sized = true;
    } else if (n !== this.n || d !== this.d || hasBias !== this.hasBias) {
      throw new StateError(
        `${this.name}: the optimizer state is for a ${this.n}×${this.d} table${this.hasBias ? ' with bias' : ''}, got ${n}×${d}${hasBias ? ' with bias' : ''}; use one optimizer per table`,
      );
    }
  }

  stateTensors(): OptimizerState {
    return {
      shape: Int32Array.from([this.n, this.d, this.hasBias ? 1 : 0]),
      steps: Int32Array.from([this.count]),
      ...(this.sized ? this.accumulators() : {}),
    };
  }

  loadState(state: OptimizerState): void {
    const shape = state['shape'];
    const steps = state['steps'];
    if (!(shape instanceof Int32Array) || shape.length !== 3 || !(steps instanceof Int32Array) || steps.length !== 1) {
      throw new StateError(`${this.name}.loadState: expected Int32Array tensors 'shape' [n, d, hasBias] and 'steps' [count]`);
    }
    const [n, d, b] = [shape[0]!, shape[1]!, shape[2]!];
    const prev = { n: this.n, d: this.d, hasBias: this.hasBias };
    this.n = n;
    this.d = d;
    this.hasBias = b === 1;
    const sized = n > 0;
    try {
      const acc: OptimizerState = {};
      for (const [name, arr] of Object.entries(state)) {
        if (name === 'shape' || name === 'steps') continue;
        const len = this.expectedLength(name);
        if (len === undefined) throw new StateError(`${this.name}.loadState: unknown tensor '${name}' (is this the state of another optimizer?)`);
        const typeOk = this.isInt(name) ? arr instanceof Int32Array : arr instanceof Float32Array;
        if (!typeOk || arr.length !== len) {
          throw new StateError(`${this.name}.loadState: tensor '${name}' must be ${this.isInt(name) ? 'Int32Array' : 'Float32Array'} of length ${len} for a ${n}×${d} table`);
        }
        const copy = this.isInt(name) ? this.storage.i32(len) : this.storage.f32(len);
        copy.set(arr as never);
        acc[name] = copy;
      }
      if (sized) {
        for (const name of this.accumulatorNames()) {
          if (this.expectedLength(name) !== undefined && !(name in acc)) {
            throw new StateError(`${this.name}.loadState: missing tensor '${name}'`);
          }
        }
        this.install(acc);
      }
    } catch (e) {
      Object.assign(this, prev);
      throw e;
    }
    this.sized = sized;
    this.count = steps[0]!;
  }

  /** All accumulator names for the current shape (biases only when the table has them). */
  protected abstract accumulatorNames(): string[];
}

/** Validates a sparse gradient against the table. */
function checkGrad(table: ClassTable, g: SparseRowGrad, who: string): void {
  if (!g || !(g.ids instanceof Int32Array) || !(g.rows instanceof Float32Array)) {
    throw new OptionError(`${who}.step: grad must be a SparseRowGrad {ids: Int32Array, rows: Float32Array, bias}`);
  }
  const k = g.ids.length;
  if (g.rows.length !== k * table.d) {
    throw new ShapeError(`${who}.step: grad.rows has length ${g.rows.length}, expected ids.length*d = ${k}*${table.d}`);
  }
  for (let i = 0; i < k; i++) {
    const id = g.ids[i]!;
    if (id < 0 || id >= table.n) throw new ShapeError(`${who}.step: grad.ids[${i}] = ${id} is outside [0, ${table.n})`);
    if (i > 0 && id <= g.ids[i - 1]!) throw new ShapeError(`${who}.step: grad.ids must be strictly ascending (distinct); ids[${i - 1}] = ${g.ids[i - 1]}, ids[${i}] = ${id}`);
  }
  if (table.bias) {
    if (!(g.bias instanceof Float32Array) || g.bias.length !== k) {
      throw new ShapeError(`${who}.step: the table has biases, so grad.bias must be a Float32Array of length ${k}`);
    }
    assertFinite(g.bias, `${who}.step: grad.bias`);
  } else if (g.bias !== null && g.bias.length > 0) {
    throw new ShapeError(`${who}.step: the table has no bias but grad.bias is given; compute the gradient with the same table`);
  }
  assertFinite(g.rows, `${who}.step: grad.rows`, table.d);
}

/**
 * Plain SGD on the touched rows: `c ← c − lr·(g + λ·c)`, `b ← b − lr·g_b`.
 *
 * Weight decay `λ` is lazy: it is applied only to the rows a step touches, as part of their
 * gradient, and never to biases. Untouched rows are not decayed, so a class is shrunk once per
 * step it appears in (frequent classes more than rare ones). This is the decay of an L2 penalty
 * on the rows used by the batch, not dense decay of the whole table.
 */
export class Sgd extends SparseOptimizerBase {
  readonly name = 'sgd' as const;
  readonly options: Readonly<{ lr: number; weightDecay: number }>;

  constructor(opts: SgdOptions = {}, storage?: OptimizerStorage) {
    super(storage);
    rejectUnknown(opts, ['lr', 'weightDecay'], 'sgd options');
    this.options = Object.freeze({
      lr: numOption(opts.lr ?? 0.1, 'lr', 0),
      weightDecay: numOption(opts.weightDecay ?? 0, 'weightDecay', 0),
    });
  }

  protected allocate(): void {}
  protected accumulators(): OptimizerState {
    return {};
  }
  protected install(): void {}
  protected expectedLength(): number | undefined {
    return undefined;
  }
  protected isInt(): boolean {
    return false;
  }
  protected accumulatorNames(): string[] {
    return [];
  }

  protected apply(table: ClassTable, grad: SparseRowGrad): void {
    const { weightDecay } = this.options;
    const lr = this.lr;
    const d = table.d;
    const w = table.weights;
    for (let i = 0; i < grad.ids.length; i++) {
      const wo = grad.ids[i]! * d;
      const go = i * d;
      for (let t = 0; t < d; t++) w[wo + t] = w[wo + t]! - lr * (grad.rows[go + t]! + weightDecay * w[wo + t]!);
      if (table.bias) table.bias[grad.ids[i]!] = table.bias[grad.ids[i]!]! - lr * grad.bias![i]!;
    }
  }
}

/**
 * Adagrad on the touched rows: `A ← A + g²`, `c ← c − lr·g / (√A + eps)` elementwise, with one
 * accumulator per weight and per bias (initialized to `initialAccumulator`). Rows not in a step
 * keep their accumulator; since Adagrad has no decay this equals dense Adagrad with zero
 * gradients for those rows.
 */
export class Adagrad extends SparseOptimizerBase {
  readonly name = 'adagrad' as const;
  readonly options: Readonly<{ lr: number; eps: number; initialAccumulator: number }>;
  private acc: Float32Array = new Float32Array(0);
  private accBias: Float32Array | null = null;

  constructor(opts: AdagradOptions = {}, storage?: OptimizerStorage) {
    super(storage);
    rejectUnknown(opts, ['lr', 'eps', 'initialAccumulator'], 'adagrad options');
    this.options = Object.freeze({
      lr: numOption(opts.lr ?? 0.1, 'lr', 0),
      eps: numOption(opts.eps ?? 1e-7, 'eps', 0),
      initialAccumulator: numOption(opts.initialAccumulator ?? 0.1, 'initialAccumulator', 0),
    });
  }

  protected allocate(): void {
    this.acc = this.storage.f32(this.n * this.d).fill(this.options.initialAccumulator);
    this.accBias = this.hasBias ? this.storage.f32(this.n).fill(this.options.initialAccumulator) : null;
  }
  protected accumulators(): OptimizerState {
    return this.accBias ? { accum: this.acc, accumBias: this.accBias } : { accum: this.acc };
  }
  protected install(s: OptimizerState): void {
    this.acc = s['accum'] as Float32Array;
    this.accBias = this.hasBias ? (s['accumBias'] as Float32Array) : null;
  }
  protected expectedLength(name: string): number | undefined {
    if (name === 'accum') return this.n * this.d;
    if (name === 'accumBias' && this.hasBias) return this.n;
    return undefined;
  }
  protected isInt(): boolean {
    return false;
  }
  protected accumulatorNames(): string[] {
    return ['accum', 'accumBias'];
  }

  protected apply(table: ClassTable, grad: SparseRowGrad): void {
    const { eps } = this.options;
    const lr = this.lr;
    const d = table.d;
    const w = table.weights;
    const acc = this.acc;
    for (let i = 0; i < grad.ids.length; i++) {
      const id = grad.ids[i]!;
      const wo = id * d;
      const go = i * d;
      for (let t = 0; t < d; t++) {
        const g = grad.rows[go + t]!;
        const a = acc[wo + t]! + g * g;
        acc[wo + t] = a;
        w[wo + t] = w[wo + t]! - (lr * g) / (Math.sqrt(a) + eps);
      }
      if (table.bias) {
        const g = grad.bias![i]!;
        const a = this.accBias![id]! + g * g;
        this.accBias![id] = a;
        table.bias[id] = table.bias[id]! - (lr * g) / (Math.sqrt(a) + eps);
      }
    }
  }
}

/**
 * Lazy Adam (after TensorFlow's LazyAdam): the moments `m`, `v` of a row are updated only on
 * steps whose gradient lists that row, and the bias correction uses a per-row step count.
 *
 * On a step touching row `i` (listed in `grad.ids`, even with a zero gradient):
 * `t_i ← t_i + 1`, `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `c ← c − lr · (m / (1−β1^t_i)) / (√(v / (1−β2^t_i)) + eps)`; the row's bias uses the same
 * `t_i`. On a step that does not touch the row nothing happens to it: its moments are not
 * decayed and `t_i` does not advance.
 *
 * Why a per-row count: a row's `m` and `v` are exponential averages of the `t_i` gradients that
 * row actually received, whose weights sum to `1 − β^t_i`; dividing by exactly that makes each
 * row's update the one dense Adam would make on the sub-sequence of steps where it appears, so
 * the first update of any row is about `lr` in size. Correcting with the global step instead
 * (TensorFlow LazyAdam) under-corrects rows first seen late in training: their first update is
 * `(1−β1)/√(1−β2) ≈ 3.2×` larger with the default betas.
 */
export class Adam extends SparseOptimizerBase {
  readonly name = 'adam' as const;
  readonly options: Readonly<{ lr: number; beta1: number; beta2: number; eps: number }>;
  private m: Float32Array = new Float32Array(0);
  private v: Float32Array = new Float32Array(0);
  private mBias: Float32Array | null = null;
  private vBias: Float32Array | null = null;
  private rowSteps: Int32Array = new Int32Array(0);

  constructor(opts: AdamOptions = {}, storage?: OptimizerStorage) {
    super(storage);
    rejectUnknown(opts, ['lr', 'beta1', 'beta2', 'eps'], 'adam options');
    this.options = Object.freeze({
      lr: numOption(opts.lr ?? 0.001, 'lr', 0),
      beta1: betaOption(opts.beta1 ?? 0.9, 'beta1'),
      beta2: betaOption(opts.beta2 ?? 0.999, 'beta2'),
      eps: numOption(opts.eps ?? 1e-8, 'eps', 0),
    });
  }

  /** `1 − β^t` by step count `t`, for β1 (0) and β2 (1); NaN where not computed yet. */
  private corrections: [Float64Array, Float64Array] = [new Float64Array(0), new Float64Array(0)];

  /** `1 − Math.pow(beta, t)`, remembered per `t` (the biases' step needs it per row). */
  private correction(which: 0 | 1, beta: number, t: number): number {
    let c = this.corrections[which];
    if (t >= 1 << 20) return 1 - Math.pow(beta, t);
    if (t >= c.length) {
      const next = new Float64Array(Math.min(1 << 20, Math.max(1024, 2 * t + 2))).fill(NaN);
      next.set(c);
      this.corrections[which] = c = next;
    }
    let v = c[t]!;
    if (Number.isNaN(v)) c[t] = v = 1 - Math.pow(beta, t);
    return v;
  }

  /** Number of updates applied to row `id` so far (its bias-correction step count). */
  rowStepCount(id: number): number {
    return this.sized ? this.rowSteps[id]! : 0;
  }

  protected allocate(): void {
    // written once now (zeros): the pages become resident here rather than one first-touch page
    // fault at a time inside the steps
    this.m = this.storage.f32(this.n * this.d).fill(0);
    this.v = this.storage.f32(this.n * this.d).fill(0);
    this.rowSteps = this.storage.i32(this.n).fill(0);
    this.mBias = this.hasBias ? this.storage.f32(this.n) : null;
    this.vBias = this.hasBias ? this.storage.f32(this.n) : null;
  }
  protected accumulators(): OptimizerState {
    const s: OptimizerState = { m: this.m, v: this.v, rowSteps: this.rowSteps };
    if (this.mBias && this.vBias) {
      s['mBias'] = this.mBias;
      s['vBias'] = this.vBias;
    }
    return s;
  }
  protected install(s: OptimizerState): void {
    this.m = s['m'] as Float32Array;
    this.v = s['v'] as Float32Array;
    this.rowSteps = s['rowSteps'] as Int32Array;
    this.mBias = this.hasBias ? (s['mBias'] as Float32Array) : null;
    this.vBias = this.hasBias ? (s['vBias'] as Float32Array) : null;
  }
  protected expectedLength(name: string): number | undefined {
    if (name === 'm' || name === 'v') return this.n * this.d;
    if (name === 'rowSteps') return this.n;
    if ((name === 'mBias' || name === 'vBias') && this.hasBias) return this.n;
    return undefined;
  }
  protected isInt(name: string): boolean {
    return name === 'rowSteps';
  }
  protected accumulatorNames(): string[] {
    return ['m', 'v', 'rowSteps', 'mBias', 'vBias'];
  }

  protected override stagesTableRows(): boolean {
    return true;
  }

  protected apply(table: ClassTable, grad: SparseRowGrad): void {
    const { beta1, beta2, eps } = this.options;
    const lr = this.lr;
    // a table outside the kernels' memory: its touched rows are copied beside the state (one copy
    // in and out) rather than staged with the state's rows by the kernel (three of each)
    const block = this.stagingRows(table, grad.ids, [this.m, this.v, this.rowSteps]);
    kernels.adamRows(block ?? table.weights, this.m, this.v, table.d, grad.ids, grad.ids.length, grad.rows, this.rowSteps, lr, beta1, beta2, eps);
    if (block) this.unstageRows(table, grad.ids, block);
    if (table.bias) this.biasStep(table.bias, grad, false);
  }

  /** Every row in one pass of `kernels.adamAllRows` (no dense gradient is built or read). */
  protected override applyAll(table: ClassTable, grad: SparseRowGrad): void {
    const { beta1, beta2, eps } = this.options;
    const lr = this.lr;
    kernels.adamAllRows(table.weights, this.m, this.v, table.d, table.n, grad.ids, grad.ids.length, grad.rows, this.rowSteps, lr, beta1, beta2, eps);
    if (table.bias) this.biasStep(table.bias, grad, true);
  }

  /**
   * The biases' Adam step for the rows of `grad` (or, with `all`, for every row, zero gradient
   * where `grad` lists none); the rows' step counts have already been advanced by the kernel.
   */
  private biasStep(bias: Float32Array, grad: SparseRowGrad, all: boolean): void {
    const { beta1, beta2, eps } = this.options;
    const lr = this.lr;
    const mB = this.mBias!;
    const vB = this.vBias!;
    const k = grad.ids.length;
    const count = all ? bias.length : k;
    let p = 0;
    let tPrev = -1;
    let c1 = 0;
    let c2 = 0;
    for (let i = 0; i < count; i++) {
      let id: number;
      let g: number;
      if (all) {
        id = i;
        const listed = p < k && grad.ids[p] === i;
        g = listed ? grad.bias![p++]! : 0;
      } else {
        id = grad.ids[i]!;
        g = grad.bias![i]!;
      }
      const t = this.rowSteps[id]!;
      if (t !== tPrev) {
        // rows updated together usually share their step count (every row, with stepAll); sparse
        // steps see many counts, whose corrections are kept (the same values as Math.pow's)
        c1 = this.correction(0, beta1, t);
        c2 = this.correction(1, beta2, t);
        tPrev = t;
      }
      const mb = beta1 * mB[id]! + (1 - beta1) * g;
      const vb = beta2 * vB[id]! + (1 - beta2) * g * g;
      mB[id] = mb;
      vB[id] = vb;
      bias[id] = bias[id]! - (lr * (mb / c1)) / (Math.sqrt(vb / c2) + eps);
    }
  }
}

/** A moment decay in [0, 1). */
function betaOption(v: unknown, name: string): number {
  const b = numOption(v, name, 0, 1);
  if (b === 1) throw new OptionError(`option ${name} must be in [0, 1); 1 would never update the moments`);
  return b;
}

/** Options of {@link createOptimizer}, by optimizer name. */
export interface OptimizerOptionsMap {
  sgd: SgdOptions;
  adagrad: AdagradOptions;
  adam: AdamOptions;
}

/**
 * Creates a sparse optimizer by name (`'sgd'`, `'adagrad'`, `'adam'`); unknown option names
 * and out-of-range values raise {@link OptionError}. `storage` places the accumulators (default:
 * plain typed arrays).
 */
export function createOptimizer<K extends OptimizerName>(name: K, opts?: OptimizerOptionsMap[K], storage?: OptimizerStorage): SparseOptimizer;
export function createOptimizer(name: string, opts?: Record<string, number>, storage?: OptimizerStorage): SparseOptimizer;
export function createOptimizer(name: string, opts: Record<string, number> = {}, storage?: OptimizerStorage): SparseOptimizer {
  switch (choiceOption(name, 'optimizer', OPTIMIZER_NAMES)) {
    case 'sgd':
      return new Sgd(opts, storage);
    case 'adagrad':
      return new Adagrad(opts, storage);
    case 'adam':
      return new Adam(opts, storage);
  }
}
