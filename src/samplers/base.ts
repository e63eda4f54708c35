/**
 * A generic driver that turns a per-row distribution (draw one id, score one id) into the
 * full {@link Sampler.sample} contract: per-query or shared rows, with or without
 * replacement, exclusion of given ids with exact renormalization.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { ImpossibleError, OptionError, StateError } from '../core/errors.js';
import { log1mExp, logSumExp } from '../core/math.js';
import { checkLabels, type Labels, type Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { assertFinite, assertMatrix, intOption } from '../core/validate.js';
import { logInclusionProb, type Draws, type SampleOptions, type SampleWithLogQ, type Sampler, type SamplerRows, type SamplerStats, type RowDistribution } from './types.js';

export type { RowDistribution } from './types.js';

/** `count` draws of `dist` into `ids[o..)` / `logQ[o..)`: its `drawMany` when it has one, else one by one. */
function drawInto(dist: RowDistribution, rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void {
  if (dist.drawMany) dist.drawMany(rng, count, ids, logQ, o);
  else drawOneByOne(dist, rng, count, ids, logQ, o);
}

/** `count` calls of `dist.draw` into `ids[o..)` / `logQ[o..)` (what a `drawMany` must equal). */
export function drawOneByOne(dist: RowDistribution, rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void {
  for (let j = 0; j < count; j++) {
    ids[o + j] = dist.draw(rng);
    logQ[o + j] = dist.lastLogQ;
  }
}

/** Scratch of the unique-draw rounds (grown on demand). */
let roundIds = new Int32Array(0);
let roundLogQ = new Float64Array(0);

/** Maximum with-replacement tries per requested id before giving up (unique or excluded draws). */
const TRIES_PER_DRAW = 2000;
/** Tries allowed on top of {@link TRIES_PER_DRAW} per id. */
const EXTRA_TRIES = 100000;

/**
 * Base class: subclasses provide {@link SamplerBase.rowDistribution} (and optionally override
 * `sample` for batched fast paths) and inherit validation, exclusion and unique draws.
 */
export abstract class SamplerBase implements Sampler {
  abstract readonly name: string;
  abstract readonly adaptive: boolean;
  protected n = 0;
  protected built = false;
  /** Embedding dimension of the table used by `build` (0 for static samplers built from counts). */
  protected dim = 0;

  get isBuilt(): boolean {
    return this.built;
  }

  get numClasses(): number {
    return this.n;
  }

  abstract build(table: ClassTable): void;

  update(ids: ArrayLike<number>): void {
    this.requireBuilt();
    this.checkIds(ids);
  }

  abstract stats(): SamplerStats;

  /**
   * Distribution of row `row` given the queries (`null` for static samplers, which may
   * return the same object for every row).
   */
  protected abstract rowDistribution(queries: Matrix | null, row: number): RowDistribution;

  /**
   * Called with the queries before the generic `sample`, `sampleWithLogQ` and `logQ` set up
   * their rows (`endRows` after, even when they throw): a query-dependent sampler may do work
   * for the whole batch at once here. No-op by default.
   */
  protected beginRows(_queries: Matrix | null): void {}

  /** Ends what {@link SamplerBase.beginRows} began. No-op by default. */
  protected endRows(): void {}

  /** Runs `body` between {@link SamplerBase.beginRows} and {@link SamplerBase.endRows} (adaptive samplers only). */
  private inRows<T>(queries: Matrix | null, body: () => T): T {
    if (!this.adaptive) return body();
    this.beginRows(queries);
    try {
      return body();
    } finally {
      this.endRows();
    }
  }

  /**
   * Number of ids with positive probability (the most distinct ids a row can draw).
   * Defaults to `n`; samplers whose distribution has zeros override it.
   */
  protected supportSize(): number {
    return this.n;
  }

  /** Number of ids with positive probability (see {@link Sampler.supportCount}). */
  get supportCount(): number {
    this.requireBuilt();
    return this.supportSize();
  }

  /**
   * The per-row distributions for `queries` (`null` for a static sampler): what a composite
   * sampler draws from. The handle is valid until `close()`; rows of an adaptive sampler should
   * be asked for in increasing order (a row's object may be reused by the next row).
   * @throws StateError before `build`; OptionError/ShapeError for missing or malformed queries
   */
  openRows(queries: Matrix | null): SamplerRows {
    this.requireBuilt();
    if (this.adaptive) {
      if (queries === null) throw new OptionError(`sampler '${this.name}' depends on the queries: pass queries to openRows`);
      if (this.dim > 0) assertMatrix(queries, 'queries', this.dim);
      this.beginRows(queries);
    }
    let open = true;
    let staticDist: RowDistribution | null = null;
    return {
      row: (r: number): RowDistribution => {
        if (!open) throw new StateError(`sampler '${this.name}': rows used after close()`);
        return this.adaptive ? this.rowDistribution(queries, r) : (staticDist ??= this.rowDistribution(null, 0));
      },
      close: (): void => {
        if (!open) return;
        open = false;
        if (this.adaptive) this.endRows();
      },
    };
  }

  /** Throws {@link StateError} unless built. */
  protected requireBuilt(): void {
    if (!this.built) throw new StateError(`sampler '${this.name}' is not built; call build(table) first`);
  }

  /** Checks ids are integers in [0, n). */
  protected checkIds(ids: ArrayLike<number>): void {
    const offs = new Int32Array([0, ids.length]);
    checkLabels({ ids: Int32Array.from(ids), offsets: offs }, this.n, 1, `${this.name}.update ids`);
  }

  /** Validates the common options and returns the number of rows of draws. */
  protected checkSampleOptions(opts: SampleOptions): { rows: number; batch: number } {
    this.requireBuilt();
    const m = intOption(opts.m, 'm (number of samples)', 1);
    const shared = opts.shared ?? false;
    const unique = opts.unique ?? false;
    const q = opts.queries ?? null;
    if (this.adaptive) {
      if (q === null) throw new OptionError(`sampler '${this.name}' depends on the queries: pass queries [B, d]`);
      if (shared) throw new OptionError(`sampler '${this.name}' depends on the query and cannot share negatives across a batch; use shared: false`);
    }
    if (q !== null) {
      if (this.dim > 0) assertMatrix(q, 'queries', this.dim);
      assertFinite(q.data, 'queries', q.cols);
    }
    const batch = q !== null ? q.rows : intOption(opts.rows ?? 1, 'rows', 0);
    if (q !== null && opts.rows !== undefined && opts.rows !== q.rows) {
      throw new OptionError(`rows (${opts.rows}) disagrees with queries.rows (${q.rows})`);
    }
    if (opts.exclude) checkLabels(opts.exclude, this.n, batch, 'exclude');
    if (unique && m > this.supportSize()) {
      const k = this.supportSize();
      const what = k === this.n ? `${k} classes` : `the ${k} classes with positive probability (of ${this.n})`;
      throw new ImpossibleError(`cannot draw m = ${m} distinct ids from ${what}; lower m or use unique: false`);
    }
    return { rows: shared ? 1 : batch, batch };
  }

  sample(opts: SampleOptions): Draws {
    const { rows } = this.checkSampleOptions(opts);
    const queries = opts.queries ?? null;
    let staticDist: RowDistribution | null = null;
    const distOf = (r: number): RowDistribution => (this.adaptive ? this.rowDistribution(queries, r) : (staticDist ??= this.rowDistribution(null, 0)));
    const out = newRowRangeOutput(rows, opts.m, opts.unique ?? false, 0);
    this.inRows(queries, () => sampleRowRange(this.name, this.supportSize(), distOf, rowGenerators(opts), opts, null, 0, rows, out, 0));
    return drawsOf(out, rows, opts);
  }

  /** Validates the arguments of {@link SamplerBase.logQ}; returns the number of rows of `ids`. */
  private checkLogQArgs(queries: Matrix | null, ids: Labels, checkQueries: boolean): number {
    this.requireBuilt();
    const rows = ids.offsets.length - 1;
    if (this.adaptive) {
      if (queries === null) throw new OptionError(`sampler '${this.name}' depends on the queries: pass queries to logQ`);
      if (queries.rows !== rows) throw new OptionError(`logQ: ids have ${rows} rows but queries have ${queries.rows}`);
      if (checkQueries) {
        if (this.dim > 0) assertMatrix(queries, 'queries', this.dim);
        assertFinite(queries.data, 'queries', queries.cols);
      }
    }
    checkLabels(ids, this.n, undefined, 'logQ ids');
    return rows;
  }

  /**
   * One pass over the rows for a query-dependent sampler that keeps the generic `sample` and
   * `logQ`: each row's distribution is set up once, drawn from, then scores the row's `ids`.
   * Otherwise (static samplers, overridden `sample`/`logQ`) the two calls.
   */
  sampleWithLogQ(opts: SampleOptions, ids: Labels): SampleWithLogQ {
    const generic = this.sample === SamplerBase.prototype.sample && this.logQ === SamplerBase.prototype.logQ;
    if (!this.adaptive || !generic) return { draws: this.sample(opts), logQ: this.logQ(opts.queries ?? null, ids) };
    const { rows } = this.checkSampleOptions(opts);
    const queries = opts.queries!;
    this.checkLogQArgs(queries, ids, false);
    const out = newRowRangeOutput(rows, opts.m, opts.unique ?? false, ids.ids.length);
    this.inRows(queries, () =>
      sampleRowRange(this.name, this.supportSize(), (r) => this.rowDistribution(queries, r), rowGenerators(opts), opts, ids, 0, rows, out, 0),
    );
    return { draws: drawsOf(out, rows, opts), logQ: out.posLogQ };
  }

  logQ(queries: Matrix | null, ids: Labels): Float64Array {
    const rows = this.checkLogQArgs(queries, ids, true);
    const out = new Float64Array(ids.ids.length);
    let staticDist: RowDistribution | null = null;
    this.inRows(queries, () => {
      for (let r = 0; r < rows; r++) {
        const a = ids.offsets[r]!;
        const b = ids.offsets[r + 1]!;
        if (a === b) continue;
        const dist = this.adaptive ? this.rowDistribution(queries, r) : (staticDist ??= this.rowDistribution(null, 0));
        for (let k = a; k < b; k++) out[k] = dist.logProb(ids.ids[k]!);
      }
    });
    return out;
  }
}

/** The distinct excluded ids of row `r` (all rows when `r < 0`). */
function excludedSet(ex: Labels, r: number): Set<number> {
  const s = new Set<number>();
  const a = r < 0 ? 0 : ex.offsets[r]!;
  const b = r < 0 ? ex.ids.length : ex.offsets[r + 1]!;
  for (let k = a; k < b; k++) s.add(ex.ids[k]!);
  return s;
}

/** Output arrays of {@link sampleRowRange}. */
export interface RowRangeOutput {
  /** `rows × m` drawn ids. */
  ids: Int32Array;
  /** Their log-probabilities (see {@link Draws.logQ}). */
  logQ: Float64Array;
  /** Tries per row (unique draws only). */
  tries: Int32Array | null;
  /** `log q` of the scored ids (one per id). */
  posLogQ: Float64Array;
}

/** Zero-filled {@link RowRangeOutput} for `rows` rows of `m` draws and `scored` scored ids. */
export function newRowRangeOutput(rows: number, m: number, unique: boolean, scored: number): RowRangeOutput {
  return { ids: new Int32Array(rows * m), logQ: new Float64Array(rows * m), tries: unique ? new Int32Array(rows) : null, posLogQ: new Float64Array(scored) };
}

/** Bytes of a {@link RowRangeOutput} laid out by {@link rowRangeOutputIn}. */
export function rowRangeOutputBytes(rows: number, m: number, unique: boolean, scored: number): number {
  return 8 * (rows * m + scored) + 4 * (rows * m + (unique ? rows : 0));
}

/**
 * Zero-filled {@link RowRangeOutput} as views on `buf` (at least {@link rowRangeOutputBytes}
 * bytes): `logQ`, `posLogQ`, `ids`, `tries`, in that order. Both sides of a shared buffer that
 * pass the same shape get the same views.
 */
export function rowRangeOutputIn(buf: ArrayBufferLike, rows: number, m: number, unique: boolean, scored: number, fill = true): RowRangeOutput {
  const k = rows * m;
  const out: RowRangeOutput = {
    logQ: new Float64Array(buf, 0, k),
    posLogQ: new Float64Array(buf, 8 * k, scored),
    ids: new Int32Array(buf, 8 * (k + scored), k),
    tries: unique ? new Int32Array(buf, 8 * (k + scored) + 4 * k, rows) : null,
  };
  if (fill) {
    out.logQ.fill(0);
    out.posLogQ.fill(0);
    out.ids.fill(0);
    out.tries?.fill(0);
  }
  return out;
}

/** The {@link Draws} record of a filled output. */
export function drawsOf(out: RowRangeOutput, rows: number, opts: SampleOptions): Draws {
  return { ids: out.ids, logQ: out.logQ, rows, m: opts.m, shared: opts.shared ?? false, unique: opts.unique ?? false, tries: out.tries };
}

/**
 * The generator of each row: `opts.rng` itself for every row, or with `opts.rowStreams` the
 * forks of one split of it (see {@link SampleOptions.rowStreams}).
 */
export function rowGenerators(opts: SampleOptions): (row: number) => Rng {
  if (!opts.rowStreams) return () => opts.rng;
  return rowStreamsOf(opts.rng.split());
}

/** Row `r`'s generator under `rowStreams`: `base.fork(r)`. */
export function rowStreamsOf(base: Rng): (row: number) => Rng {
  return (r) => base.fork(r);
}

/**
 * Samples rows `[r0, r1)`: row `r` draws `opts.m` ids from `distOf(r)` with generator `rngOf(r)`
 * (honouring `unique` and `exclude` of `opts`), then scores the row's entries of `scored` (when
 * given) under the same distribution. Results go to `out` at row `r − outRow0` (draws) and at
 * `k − scored.offsets[outRow0]` (scores). Shared by the generic samplers and by threads that
 * sample a range of rows of a batch.
 */
export function sampleRowRange(
  name: string,
  support: number,
  distOf: (row: number) => RowDistribution,
  rngOf: (row: number) => Rng,
  opts: SampleOptions,
  scored: Labels | null,
  r0: number,
  r1: number,
  out: RowRangeOutput,
  outRow0: number,
): void {
  const m = opts.m;
  const unique = opts.unique ?? false;
  const shared = opts.shared ?? false;
  const ex = opts.exclude ?? null;
  const k0 = scored ? scored.offsets[outRow0]! : 0;
  for (let r = r0; r < r1; r++) {
    const dist = distOf(r);
    const excluded = ex ? excludedSet(ex, shared ? -1 : r) : null;
    const o = r - outRow0;
    drawRow(name, support, dist, rngOf(r), m, unique, excluded, out.ids, out.logQ, o * m, out.tries, o, r);
    if (scored) for (let k = scored.offsets[r]!; k < scored.offsets[r + 1]!; k++) out.posLogQ[k - k0] = dist.logProb(scored.ids[k]!);
  }
}

/**
 * Fills `m` draws of one row at `ids[o..o+m)`, `logQ[o..o+m)`. Exclusion is by rejection
 * with the proposal renormalized by the excluded mass; unique draws keep drawing with
 * replacement until `m` distinct ids are seen and report `1 − (1 − q)^T`.
 * `n` is the number of ids with positive probability (used to refuse impossible unique requests).
 * The row's tries go to `tries[triesAt]`; `row` (default `triesAt`) names the row in errors.
 */
export function drawRow(
  name: string,
  n: number,
  dist: RowDistribution,
  rng: Rng,
  m: number,
  unique: boolean,
  excluded: Set<number> | null,
  ids: Int32Array,
  logQ: Float64Array,
  o: number,
  tries: Int32Array | null,
  triesAt: number,
  row = triesAt,
): void {
  let logKeep = 0; // log(1 - excluded mass)
  if (excluded && excluded.size > 0) {
    const lp: number[] = [];
    let excludedPositive = 0;
    for (const e of excluded) {
      const l = dist.logProb(e);
      lp.push(l);
      if (l > -Infinity) excludedPositive++;
    }
    const lEx = logSumExp(lp);
    logKeep = lEx >= 0 ? -Infinity : log1mExp(lEx);
    // Rejection needs m / (1 − excluded mass) draws on average: refuse at once what cannot finish.
    const expectedTries = m * Math.exp(-logKeep);
    if (!(expectedTries <= TRIES_PER_DRAW * m + EXTRA_TRIES)) {
      const left = logKeep === -Infinity ? 'none' : Math.exp(logKeep).toExponential(1);
      throw new ImpossibleError(
        `sampler '${name}': the excluded ids hold nearly all of row ${row}'s probability mass ` +
          `(${left} left), so drawing ${m} other ids by rejection would take about ${expectedTries.toExponential(1)} draws; ` +
          "exclude fewer ids; in a sampled loss, use a convention that draws from all classes ('maskedExclusive' or 'correctedAll')",
      );
    }
    if (unique && n - excludedPositive < m) {
      throw new ImpossibleError(
        `cannot draw m = ${m} distinct ids from the ${n - excludedPositive} classes with positive probability left after excluding ${excluded.size}; lower m`,
      );
    }
  }
  const maxTries = TRIES_PER_DRAW * m + EXTRA_TRIES;
  // Draws come in rounds of as many as are still missing. Every draw of a round adds at most
  // one id, so a round never draws past the point where the one-by-one loop would stop: the draws
  // (and, for a `drawMany` that equals single draws, the generator's use) are those of single draws.
  if (!unique) {
    let attempts = 0;
    let j = 0;
    while (j < m) {
      const want = Math.min(m - j, maxTries - attempts);
      if (want <= 0) throw tooManyTries(name, row);
      attempts += want;
      drawInto(dist, rng, want, ids, logQ, o + j);
      // keep the draws that are not excluded, in order
      const end = o + j + want;
      for (let p = o + j; p < end; p++) {
        const id = ids[p]!;
        if (excluded !== null && excluded.has(id)) continue;
        ids[o + j] = id;
        logQ[o + j] = logQ[p]! - logKeep;
        j++;
      }
    }
    return;
  }
  if (roundIds.length < m) {
    roundIds = new Int32Array(m);
    roundLogQ = new Float64Array(m);
  }
  const rIds = roundIds;
  const rLogQ = roundLogQ;
  const seen = new Map<number, number>();
  let t = 0;
  let attempts = 0;
  while (seen.size < m) {
    const want = Math.min(m - seen.size, maxTries - attempts);
    if (want <= 0) throw tooManyTries(name, row);
    attempts += want;
    drawInto(dist, rng, want, rIds, rLogQ, 0);
    for (let p = 0; p < want; p++) {
      const id = rIds[p]!;
      if (excluded !== null && excluded.has(id)) continue;
      t++;
      if (!seen.has(id)) seen.set(id, rLogQ[p]! - logKeep);
    }
  }
  let j = 0;
  for (const [id, lq] of seen) {
    ids[o + j] = id;
    logQ[o + j] = logInclusionProb(lq, t);
    j++;
  }
  tries![triesAt] = t;
}

function tooManyTries(name: string, row: number): ImpossibleError {
  return new ImpossibleError(
    `sampler '${name}': row ${row} needed too many tries (the distribution is concentrated on few ids); ` +
      'lower m, or use unique: false, or exclude fewer ids',
  );
}
