/**
 * The log-uniform (Zipf) proposal over frequency ranks:
 * `q(rank k) = log((k+2)/(k+1)) / log(n+1)`, drawn in O(1) by inverting its CDF.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { boolOption, intOption, rejectUnknown } from '../core/validate.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { AliasTable } from './alias.js';
import { countsOption } from './counts.js';
import { AliasRow } from './unigram.js';
import type { SamplerStats } from './types.js';

/** Options of {@link LogUniformSampler}: give `counts`, or promise sorted ids with `assumeSorted`. */
export interface LogUniformOptions {
  /**
   * Per-class frequencies. Ids are ranked by decreasing count (ties by increasing id) and the
   * Zipf law applies to the ranks, so ids need not be sorted by frequency.
   */
  counts?: ArrayLike<number>;
  /**
   * Set to `true` (only without `counts`) to declare that id `k` already is the `k`-th most
   * frequent class; the Zipf law then applies to the ids directly.
   */
  assumeSorted?: boolean;
  /** Number of classes with `assumeSorted` (otherwise `build(table)` sets it). */
  n?: number;
  /**
   * The classes are a part of a larger ranked set (a shard of a table): `ranks[i]` is the
   * frequency rank of class `i` in that set of `totalClasses` classes. The sampler then draws
   * the Zipf law of the whole set restricted to these classes (an alias table over their weights
   * `log((k+2)/(k+1)) / log(N+1)`), and reports their summed weight as its mass, so that parts
   * composed by their masses give back the law of the whole set. Not with `counts`/`assumeSorted`.
   */
  ranks?: ArrayLike<number>;
  /** Size `N` of the ranked set `ranks` refers to (with `ranks`). */
  totalClasses?: number;
}

/**
 * Draws the class of frequency rank `k` with probability `log((k+2)/(k+1)) / log(n+1)`
 * (TensorFlow's `log_uniform_candidate_sampler`), independently of the query.
 * This law only makes sense over frequency ranks: construct it from `counts` (ids are
 * remapped to ranks) or with `assumeSorted: true`.
 */
export class LogUniformSampler extends SamplerBase {
  readonly name = 'logUniform';
  readonly adaptive = false;
  /** `rankOf[id]` (null when ids are their own ranks). */
  private readonly rankOf: Int32Array | null;
  /** `idOf[rank]` (null when ids are their own ranks). */
  private readonly idOf: Int32Array | null;
  private dist: RowDistribution | null = null;

  /** @throws OptionError (neither counts nor assumeSorted, both, bad values, unknown options), NonFiniteError */
  constructor(opts: LogUniformOptions = {}) {
    super();
    rejectUnknown(opts, ['counts', 'assumeSorted', 'n', 'ranks', 'totalClasses'], 'logUniform sampler');
    const sorted = opts.assumeSorted === undefined ? undefined : boolOption(opts.assumeSorted, 'assumeSorted');
    if (opts.ranks !== undefined || opts.totalClasses !== undefined) {
      if (opts.counts !== undefined || sorted !== undefined || opts.n !== undefined) {
        throw new OptionError('logUniform sampler: ranks (with totalClasses) replaces counts, assumeSorted and n; give only ranks and totalClasses');
      }
      if (opts.ranks === undefined || opts.totalClasses === undefined) {
        throw new OptionError('logUniform sampler: ranks and totalClasses go together (the global ranks of these classes and the size of the ranked set)');
      }
      const N = intOption(opts.totalClasses, 'totalClasses', 1, 2 ** 31 - 1);
      const ranks = countsOption(opts.ranks, 'ranks');
      const logLogN1 = Math.log(Math.log(N + 1));
      const w = new Float64Array(ranks.length);
      let sum = 0;
      for (let i = 0; i < ranks.length; i++) {
        const k = ranks[i]!;
        if (!Number.isInteger(k) || k >= N) throw new OptionError(`logUniform sampler: ranks[${i}] = ${k} is not an integer rank in [0, ${N})`);
        w[i] = Math.exp(zipfLogProb(k, logLogN1));
        sum += w[i]!;
      }
      this.idOf = null;
      this.rankOf = null;
      this.n = ranks.length;
      this.dist = new AliasRow(new AliasTable(w, 'logUniform rank weights'), Math.log(sum));
      this.built = true;
      return;
    }
    if (opts.counts !== undefined) {
      if (sorted) {
        throw new OptionError('logUniform sampler: pass either counts (ids are ranked by them) or assumeSorted: true, not both');
      }
      const counts = countsOption(opts.counts, 'counts');
      if (opts.n !== undefined && opts.n !== counts.length) {
        throw new OptionError(`logUniform sampler: n = ${String(opts.n)} but counts has ${counts.length} entries; drop n`);
      }
      const n = counts.length;
      const idOf = new Int32Array(n);
      for (let i = 0; i < n; i++) idOf[i] = i;
      // decreasing count, ties by increasing id (stable and platform independent)
      idOf.sort((a, b) => counts[b]! - counts[a]! || a - b);
      const rankOf = new Int32Array(n);
      for (let k = 0; k < n; k++) rankOf[idOf[k]!] = k;
      this.idOf = idOf;
      this.rankOf = rankOf;
      this.setN(n);
      return;
    }
    if (sorted !== true) {
      throw new OptionError(
        'logUniform sampler: the Zipf law applies to frequency ranks, so pass counts (per-class frequencies; ids are remapped to ranks) ' +
          'or assumeSorted: true if id 0 is the most frequent class, id 1 the next, and so on',
      );
    }
    this.idOf = null;
    this.rankOf = null;
    if (opts.n !== undefined) this.setN(intOption(opts.n, 'n (number of classes)', 1, 2 ** 31 - 1));
  }

  private setN(n: number): void {
    this.n = n;
    this.dist = new ZipfRow(n, this.idOf, this.rankOf);
    this.built = true;
  }

  /**
   * Takes `n` from the table when it is not known yet; otherwise checks it.
   * @throws ShapeError when the table's class count differs from `counts`/`n`.
   */
  build(table: ClassTable): void {
    if (this.built && table.n !== this.n) {
      throw new ShapeError(`logUniform sampler covers ${this.n} classes but the table has ${table.n}`);
    }
    if (!this.built) this.setN(table.n);
    this.dim = table.d;
  }

  /** Frequency rank of class `id` (0 = most frequent; with `ranks`, use those). */
  rank(id: number): number {
    this.requireBuilt();
    if (!(this.dist instanceof ZipfRow)) throw new StateError('logUniform sampler: built from ranks; its ranks are the ones it was given');
    return this.rankOf ? this.rankOf[id]! : id;
  }

  stats(): SamplerStats {
    return {
      sampler: this.name,
      n: this.n,
      built: this.built,
      remapped: this.rankOf !== null,
      bytes: this.rankOf ? this.rankOf.byteLength * 2 : 0,
    };
  }

  protected rowDistribution(): RowDistribution {
    this.requireBuilt();
    return this.dist!;
  }
}

/** `log q` of rank `k` among `n`: `log(log1p(1/(k+1))) − log(log(n+1))`. */
function zipfLogProb(k: number, logLogN1: number): number {
  return Math.log(Math.log1p(1 / (k + 1))) - logLogN1;
}

class ZipfRow implements RowDistribution {
  lastLogQ = 0;
  /** The law is normalised over all ranks: mass 1. */
  readonly logMass = 0;
  private readonly logN1: number;
  private readonly logLogN1: number;
  constructor(
    private readonly n: number,
    private readonly idOf: Int32Array | null,
    private readonly rankOf: Int32Array | null,
  ) {
    this.logN1 = Math.log(n + 1);
    this.logLogN1 = Math.log(this.logN1);
  }
  draw(rng: Rng): number {
    // P(K ≤ k) = log(k+2)/log(n+1), so K = ⌊(n+1)^u⌋ − 1 for u uniform in [0, 1).
    let k = Math.floor(Math.exp(rng.float() * this.logN1)) - 1;
    if (k < 0) k = 0;
    else if (k >= this.n) k = this.n - 1;
    this.lastLogQ = zipfLogProb(k, this.logLogN1);
    return this.idOf ? this.idOf[k]! : k;
  }
  logProb(id: number): number {
    return zipfLogProb(this.rankOf ? this.rankOf[id]! : id, this.logLogN1);
  }
}
