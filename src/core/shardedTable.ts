/**
 * A class table split into shards: consecutive ranges of class ids, each an ordinary
 * {@link ClassTable} with its own arrays, so that no single allocation has to hold all `n × d`
 * values (a WebAssembly memory is limited to 4 GiB) and each shard can live in its own memory,
 * worker or process. Global id `i` is row `i − starts[s]` of shard `s = shardOf(i)`.
 * @module
 */
import { Bf16ClassTable } from './bf16.js';
import { ClassTable, tableFiller, tableFillState, type TableInitOptions } from './classTable.js';
import { LabelRangeError, OptionError, ShapeError } from './errors.js';
import type { Rng } from './rng.js';
import { intOption, rejectUnknown } from './validate.js';

/** How {@link ShardedClassTable.init} splits the classes: give exactly one of the three. */
export interface ShardLayoutOptions {
  /** Most rows per shard: shards of `shardRows` rows, the last one holding the rest. */
  shardRows?: number;
  /** Number of shards, of sizes differing by at most one (the larger ones first). */
  shards?: number;
  /** Explicit shard sizes (each ≥ 1, summing to `n`). */
  sizes?: readonly number[];
}

/** How a sharded table stores its embeddings: float32, or bfloat16 (half the bytes; float32 math). */
export type TableStorage = 'f32' | 'bf16';

/** A shard: a float32 {@link ClassTable} or a bfloat16 {@link Bf16ClassTable}. */
export type TableShard = ClassTable | Bf16ClassTable;

/** Options of {@link ShardedClassTable.init}: a layout, the options of {@link ClassTable.init} and the storage. */
export interface ShardedInitOptions extends ShardLayoutOptions, TableInitOptions {
  /**
   * `'f32'` (default) or `'bf16'`: embeddings stored as bfloat16 (the initial values rounded to
   * nearest even), decoded to float32 wherever they are computed with (biases stay float32).
   */
  storage?: TableStorage;
}

/**
 * The shard sizes of `n` classes for a layout (exactly one of `shardRows`, `shards`, `sizes`).
 * @throws OptionError for none or several of them, or bad values; ShapeError when `sizes` does not sum to `n`
 */
export function shardSizes(n: number, layout: ShardLayoutOptions): number[] {
  intOption(n, 'n (number of classes)', 1);
  const given = (['shardRows', 'shards', 'sizes'] as const).filter((k) => layout[k] !== undefined);
  if (given.length !== 1) {
    throw new OptionError(`sharded table: give exactly one of shardRows, shards or sizes (got ${given.length === 0 ? 'none' : given.join(', ')})`);
  }
  if (layout.sizes !== undefined) {
    if (!Array.isArray(layout.sizes) || layout.sizes.length === 0) throw new OptionError('sharded table: sizes must be a non-empty array of shard sizes');
    const sizes = layout.sizes.map((v, s) => intOption(v, `sizes[${s}]`, 1));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new ShapeError(`sharded table: sizes sum to ${total}, expected n = ${n}`);
    return sizes;
  }
  if (layout.shardRows !== undefined) {
    const rows = intOption(layout.shardRows, 'shardRows', 1);
    const sizes: number[] = [];
    for (let a = 0; a < n; a += rows) sizes.push(Math.min(rows, n - a));
    return sizes;
  }
  const S = intOption(layout.shards, 'shards', 1, n);
  const base = Math.floor(n / S);
  const extra = n % S;
  return Array.from({ length: S }, (_, s) => base + (s < extra ? 1 : 0));
}

/**
 * `n × d` class embeddings (and optional biases) held as shards of consecutive ids, each an
 * ordinary {@link ClassTable} (its own `weights` and `bias` arrays) or, with bfloat16 storage, a
 * {@link Bf16ClassTable}. Shards may differ in size. Logits are those of the concatenated table:
 * `o_i = h · c_i + b_i`.
 */
export class ShardedClassTable {
  /** Number of classes (all shards). */
  readonly n: number;
  /** Embedding dimension. */
  readonly d: number;
  /** The shards, in id order (all of one storage). */
  readonly shards: readonly TableShard[];
  /** How the shards store their embeddings. */
  readonly storage: TableStorage;
  /** Global id of each shard's first row; `starts[shards.length] = n`. */
  readonly starts: Int32Array;
  /** Whether the shards hold biases (all or none do). */
  readonly hasBias: boolean;

  /**
   * Wraps the given shards (no copy): they must share `d` and either all have a bias or none.
   * @throws OptionError (no shards, not ClassTables), ShapeError (different widths, mixed biases, more than 2^31 − 1 classes)
   */
  constructor(shards: readonly TableShard[]) {
    if (!Array.isArray(shards) || shards.length === 0) throw new OptionError('ShardedClassTable needs a non-empty array of ClassTable shards');
    const bf16 = shards[0] instanceof Bf16ClassTable;
    for (let s = 0; s < shards.length; s++) {
      const x = shards[s];
      if (!(x instanceof ClassTable) && !(x instanceof Bf16ClassTable)) throw new OptionError(`ShardedClassTable: shard ${s} is not a ClassTable or Bf16ClassTable`);
      if (x instanceof Bf16ClassTable !== bf16) throw new OptionError('ShardedClassTable: mixed float32 and bfloat16 shards; give all shards one storage');
    }
    const d = shards[0]!.d;
    const hasBias = shards[0]!.bias !== null;
    const starts = new Int32Array(shards.length + 1);
    let total = 0;
    for (let s = 0; s < shards.length; s++) {
      const t = shards[s]!;
      if (t.d !== d) throw new ShapeError(`ShardedClassTable: shard ${s} has d = ${t.d}, shard 0 has d = ${d}; every shard needs the same width`);
      if ((t.bias !== null) !== hasBias) throw new ShapeError(`ShardedClassTable: shard ${s} ${t.bias ? 'has' : 'has no'} bias but shard 0 ${hasBias ? 'has' : 'has none'}; give all shards a bias or none`);
      starts[s] = total;
      total += t.n;
      if (total > 2 ** 31 - 1) throw new ShapeError('ShardedClassTable: more than 2^31 − 1 classes; class ids are Int32');
    }
    starts[shards.length] = total;
    this.n = total;
    this.d = d;
    this.shards = [...shards];
    this.starts = starts;
    this.hasBias = hasBias;
    this.storage = bf16 ? 'bf16' : 'f32';
  }

  /**
   * An initialized sharded table: the shards are filled one after the other from `rng` with the
   * fill of {@link ClassTable.init}, so the values equal those of `ClassTable.init(n, d, rng, opts)`
   * with the same generator state (every shard holds its range of that table).
   * @throws OptionError (layout, initializer, unknown options), ShapeError
   */
  static init(n: number, d: number, rng: Rng, opts: ShardedInitOptions): ShardedClassTable {
    rejectUnknown(opts, ['shardRows', 'shards', 'sizes', 'init', 'scale', 'bias', 'storage'], 'ShardedClassTable.init');
    intOption(d, 'd (embedding dimension)', 1);
    const storage = storageOption(opts.storage);
    const sizes = shardSizes(n, opts);
    const fill = tableFiller(n, d, opts);
    const state = tableFillState(rng);
    let start = 0;
    const shards = sizes.map((ns): TableShard => {
      const w = new Float32Array(ns * d);
      fill(w, state, start);
      start += ns * d;
      const t = new ClassTable(ns, d, w, opts.bias ? new Float32Array(ns) : null);
      return storage === 'bf16' ? Bf16ClassTable.fromTable(t) : t;
    });
    return new ShardedClassTable(shards);
  }

  /**
   * Copies `table` into shards of the given sizes (or any {@link ShardLayoutOptions}), stored as
   * `storage` (`'bf16'`: the values rounded to nearest even).
   * @throws as {@link shardSizes}
   */
  static split(table: ClassTable, sizes: readonly number[] | ShardLayoutOptions, storage: TableStorage = 'f32'): ShardedClassTable {
    const sz = shardSizes(table.n, Array.isArray(sizes) ? { sizes } : (sizes as ShardLayoutOptions));
    const st = storageOption(storage);
    const d = table.d;
    const shards: TableShard[] = [];
    let a = 0;
    for (const ns of sz) {
      const w = table.weights.slice(a * d, (a + ns) * d);
      const t = new ClassTable(ns, d, w, table.bias ? table.bias.slice(a, a + ns) : null);
      shards.push(st === 'bf16' ? Bf16ClassTable.fromTable(t) : t);
      a += ns;
    }
    return new ShardedClassTable(shards);
  }

  /** Shard sizes, in id order. */
  get sizes(): number[] {
    return this.shards.map((t) => t.n);
  }

  /**
   * The shard holding global id `id` (binary search over {@link ShardedClassTable.starts}).
   * @throws LabelRangeError when `id` is not an integer in `[0, n)`
   */
  shardOf(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.n) throw new LabelRangeError(`class id ${id} is outside [0, ${this.n})`);
    return shardOfStart(this.starts, id);
  }

  /** Row of global id `id` within its shard. @throws LabelRangeError as {@link ShardedClassTable.shardOf} */
  localId(id: number): number {
    return id - this.starts[this.shardOf(id)]!;
  }

  /** Logit of global class `i` for the query `h[ho .. ho+d)`, in float64. */
  logit(h: Float32Array, ho: number, i: number): number {
    const s = this.shardOf(i);
    return this.shards[s]!.logit(h, ho, i - this.starts[s]!);
  }

  /** The concatenated float32 table (a copy of every shard, decoded: for tests and small tables). */
  toTable(): ClassTable {
    const { n, d } = this;
    const w = new Float32Array(n * d);
    const b = this.hasBias ? new Float32Array(n) : null;
    for (let s = 0; s < this.shards.length; s++) {
      const t = this.shards[s]!;
      if (t instanceof Bf16ClassTable) t.decodeRows(0, t.n, w, this.starts[s]! * d);
      else w.set(t.weights, this.starts[s]! * d);
      if (b) b.set(t.bias!, this.starts[s]!);
    }
    return new ClassTable(n, d, w, b);
  }

  /** Deep copy (every shard cloned). */
  clone(): ShardedClassTable {
    return new ShardedClassTable(this.shards.map((t): TableShard => t.clone()));
  }

  /** Bytes held by the weights and biases of all shards. */
  get byteLength(): number {
    let b = 0;
    for (const t of this.shards) b += t.byteLength;
    return b;
  }
}

/** Validates a {@link TableStorage} option (default `'f32'`). */
function storageOption(v: unknown): TableStorage {
  if (v === undefined || v === 'f32' || v === 'bf16') return v ?? 'f32';
  throw new OptionError(`table storage '${String(v)}' is unknown; use 'f32' or 'bf16'`);
}

/** Index `s` with `starts[s] ≤ id < starts[s + 1]` (`id` in range). */
export function shardOfStart(starts: Int32Array, id: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= id) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
