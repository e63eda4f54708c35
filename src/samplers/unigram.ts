/**
 * The unigram proposal `q ∝ count^α`, drawn in O(1) with an alias table.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { numOption, rejectUnknown } from '../core/validate.js';
import { AliasTable } from './alias.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { countsOption } from './counts.js';
import type { SamplerStats } from './types.js';

/** Options of {@link UnigramSampler}. */
export interface UnigramOptions {
  /** Per-class frequencies (≥ 0), one per class; their length is the number of classes. */
  counts: ArrayLike<number>;
  /** Distortion exponent α ≥ 0 (default 0.75). Classes with count 0 are never drawn, for every α. */
  alpha?: number;
}

/**
 * Draws class `i` with probability `count_i^α / Σ_j count_j^α`, independently of the query.
 * Usable as soon as it is constructed (the number of classes comes from `counts`);
 * `build(table)` only checks that the table has as many classes.
 */
export class UnigramSampler extends SamplerBase {
  readonly name = 'unigram';
  readonly adaptive = false;
  /** The distortion exponent. */
  readonly alpha: number;
  private readonly table: AliasTable;
  private readonly dist: AliasRow;
  private readonly buildMs: number;

  /**
   * @throws OptionError (missing/invalid counts, all counts zero, bad alpha, unknown options),
   *   NonFiniteError (NaN or infinite counts)
   */
  constructor(opts: UnigramOptions) {
    super();
    if (opts === null || typeof opts !== 'object') throw new OptionError('unigram sampler needs options { counts, alpha? }');
    rejectUnknown(opts, ['counts', 'alpha'], 'unigram sampler');
    if (opts.counts === undefined) {
      throw new OptionError('unigram sampler needs option counts (per-class frequencies, one per class)');
    }
    const t0 = performance.now();
    const counts = countsOption(opts.counts, 'counts');
    this.alpha = opts.alpha === undefined ? 0.75 : numOption(opts.alpha, 'alpha', 0, 1e6);
    const w = powerWeights(counts, this.alpha);
    this.table = new AliasTable(w, 'unigram counts^alpha');
    // the mass Σ count^α, in log space: the weights are scaled by max(count)^−α
    let sum = 0;
    for (let i = 0; i < w.length; i++) sum += w[i]!;
    let mx = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i]! > mx) mx = counts[i]!;
    this.dist = new AliasRow(this.table, this.alpha * Math.log(mx) + Math.log(sum));
    this.n = counts.length;
    this.built = true;
    this.buildMs = performance.now() - t0;
  }

  /**
   * Checks that `table` has as many classes as `counts` (the distribution does not depend on it).
   * @throws ShapeError on a mismatch
   */
  build(table: ClassTable): void {
    if (table.n !== this.n) {
      throw new ShapeError(`unigram sampler has counts for ${this.n} classes but the table has ${table.n}; give one count per class`);
    }
    this.dim = table.d;
  }

  /** Probability of class `i` (0 for classes with count 0). */
  prob(i: number): number {
    return this.table.prob(i);
  }

  stats(): SamplerStats {
    return {
      sampler: this.name,
      n: this.n,
      alpha: this.alpha,
      support: this.table.support,
      bytes: this.table.byteLength,
      buildMs: this.buildMs,
    };
  }

  protected override supportSize(): number {
    return this.table.support;
  }

  protected rowDistribution(): RowDistribution {
    return this.dist;
  }
}

/** `(c_i / max c)^α`, computed in log space so large α neither overflows nor gives 0^0 = 1. */
function powerWeights(counts: Float64Array, alpha: number): Float64Array {
  let mx = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i]! > mx) mx = counts[i]!;
  const lmx = Math.log(mx);
  const w = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    w[i] = c > 0 ? Math.exp(alpha * (Math.log(c) - lmx)) : 0;
  }
  return w;
}

/** A {@link RowDistribution} backed by an alias table (shared by every row). */
export class AliasRow implements RowDistribution {
  lastLogQ = 0;
  /**
   * @param logMass the log of the unnormalised weights' sum on the caller's scale (see
   *   {@link RowDistribution.logMass}); omitted, the row reports no mass
   */
  constructor(
    private readonly table: AliasTable,
    readonly logMass?: number,
  ) {}
  draw(rng: Rng): number {
    const id = this.table.draw(rng);
    this.lastLogQ = this.table.lastLogQ;
    return id;
  }
  logProb(id: number): number {
    return this.table.logProb(id);
  }
}
