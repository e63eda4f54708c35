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
import { logInclusionProb, type Draws, type SampleOptions, type Sampler, type SamplerStats } from './types.js';

/** The distribution of one row: draw one id, or score any id. */
export interface RowDistribution {
  /** Draws one id and stores its log-probability in {@link RowDistribution.lastLogQ}. */
  draw(rng: Rng): number;
  /** Log-probability of the id returned by the last `draw`. */
  lastLogQ: number;
  /** `log q(id)` under this row's distribution. */
  logProb(id: number): number;
}

/** Maximum with-replacement tries per requested id before giving up (unique or excluded draws). */
const TRIES_PER_DRAW = 2000;

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
   * Number of ids with positive probability (the most distinct ids a row can draw).
   * Defaults to `n`; samplers whose distribution has zeros override it.
   */
  protected supportSize(): number {
    return this.n;
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
    const m = opts.m;
    const shared = opts.shared ?? false;
    const unique = opts.unique ?? false;
    const queries = opts.queries ?? null;
    const ids = new Int32Array(rows * m);
    const logQ = new Float64Array(rows * m);
    const tries = unique ? new Int32Array(rows) : null;
    const ex = opts.exclude ?? null;
    let staticDist: RowDistribution | null = null;
    for (let r = 0; r < rows; r++) {
      const dist = this.adaptive ? this.rowDistribution(queries, r) : (staticDist ??= this.rowDistribution(null, 0));
      const excluded = ex ? excludedSet(ex, shared ? -1 : r) : null;
      drawRow(this.name, this.supportSize(), dist, opts.rng, m, unique, excluded, ids, logQ, r * m, tries, r);
    }
    return { ids, logQ, rows, m, shared, unique, tries };
  }

  logQ(queries: Matrix | null, ids: Labels): Float64Array {
    this.requireBuilt();
    const rows = ids.offsets.length - 1;
    if (this.adaptive) {
      if (queries === null) throw new OptionError(`sampler '${this.name}' depends on the queries: pass queries to logQ`);
      if (this.dim > 0) assertMatrix(queries, 'queries', this.dim);
      if (queries.rows !== rows) throw new OptionError(`logQ: ids have ${rows} rows but queries have ${queries.rows}`);
      assertFinite(queries.data, 'queries', queries.cols);
    }
    checkLabels(ids, this.n, undefined, 'logQ ids');
    const out = new Float64Array(ids.ids.length);
    let staticDist: RowDistribution | null = null;
    for (let r = 0; r < rows; r++) {
      const a = ids.offsets[r]!;
      const b = ids.offsets[r + 1]!;
      if (a === b) continue;
      const dist = this.adaptive ? this.rowDistribution(queries, r) : (staticDist ??= this.rowDistribution(null, 0));
      for (let k = a; k < b; k++) out[k] = dist.logProb(ids.ids[k]!);
    }
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

/**
 * Fills `m` draws of one row at `ids[o..o+m)`, `logQ[o..o+m)`. Exclusion is by rejection
 * with the proposal renormalized by the excluded mass; unique draws keep drawing with
 * replacement until `m` distinct ids are seen and report `1 − (1 − q)^T`.
 * `n` is the number of ids with positive probability (used to refuse impossible unique requests).
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
  row: number,
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
    if (logKeep === -Infinity || logKeep < -30) {
      throw new ImpossibleError(
        `sampler '${name}': the excluded ids hold all (or nearly all) of row ${row}'s probability mass; ` +
          'nothing else can be drawn — use a sampler with exact exclusion or do not exclude positives',
      );
    }
    if (unique && n - excludedPositive < m) {
      throw new ImpossibleError(
        `cannot draw m = ${m} distinct ids from the ${n - excludedPositive} classes with positive probability left after excluding ${excluded.size}; lower m`,
      );
    }
  }
  const maxTries = TRIES_PER_DRAW * m + 100000;
  if (!unique) {
    let attempts = 0;
    for (let j = 0; j < m; j++) {
      let id: number;
      do {
        if (++attempts > maxTries) throw tooManyTries(name, row);
        id = dist.draw(rng);
      } while (excluded !== null && excluded.has(id));
      ids[o + j] = id;
      logQ[o + j] = dist.lastLogQ - logKeep;
    }
    return;
  }
  const seen = new Map<number, number>();
  let t = 0;
  let attempts = 0;
  while (seen.size < m) {
    if (++attempts > maxTries) throw tooManyTries(name, row);
    const id = dist.draw(rng);
    if (excluded !== null && excluded.has(id)) continue;
    t++;
    if (!seen.has(id)) seen.set(id, dist.lastLogQ - logKeep);
  }
  let j = 0;
  for (const [id, lq] of seen) {
    ids[o + j] = id;
    logQ[o + j] = logInclusionProb(lq, t);
    j++;
  }
  tries![row] = t;
}

function tooManyTries(name: string, row: number): ImpossibleError {
  return new ImpossibleError(
    `sampler '${name}': row ${row} needed too many tries (the distribution is concentrated on few ids); ` +
      'lower m, or use unique: false, or exclude fewer ids',
  );
}
