/**
 * Exact composition of samplers over the shards of a class table.
 *
 * The rule (the one layer that a table spread over processes or machines also needs): for a
 * query row, every shard sampler reports the unnormalised mass `M_s` of its proposal for that
 * row ({@link RowDistribution.logMass}); a draw picks shard `s` with probability
 * `P(s) = M_s / Σ_t M_t`, then a class `i` of the shard from the shard's own distribution
 * `q_s(i)`, and reports `log q(i) = log P(s) + log q_s(i)`. When every shard's weights are those
 * of the unsharded sampler restricted to the shard (`q_s(i) = w_i / M_s`, `M_s = Σ_{i∈s} w_i`),
 * the product is `w_i / Σ w`: the unsharded proposal. That holds for `uniform`, `unigram`,
 * `logUniform` (given the global ranks), `exact`, the quadratic kernel, and `midx`'s `uniform`,
 * `pop` and `residual` stages when the shards share one set of codebooks; for `rff` (tree-level
 * estimates) and `midx`'s `softmax` stage (softmax inside a bucket's part) and per-shard codebooks
 * the composite is a different proposal, still reported exactly.
 * @module
 */
import type { Bf16ClassTable } from '../core/bf16.js';
import { ClassTable } from '../core/classTable.js';
import { ImpossibleError, OptionError, ShapeError, StateError } from '../core/errors.js';
import { logSumExp } from '../core/math.js';
import type { Labels, Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { ShardedClassTable, shardOfStart } from '../core/shardedTable.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { countsOption } from './counts.js';
import { createSampler } from './factory.js';
import { LogUniformSampler } from './logUniform.js';
import { CodewordScoreMemo, MidxSampler } from './midx.js';
import type { Draws, SampleOptions, Sampler, SampleWithLogQ, SamplerRows, SamplerStats } from './types.js';

/** Where a shard lies in the global id space (argument of a {@link ShardSamplerFactory}). */
export interface ShardInfo {
  /** Shard index. */
  readonly shard: number;
  /** Global id of the shard's first class. */
  readonly start: number;
  /** Number of classes in the shard. */
  readonly n: number;
  /** Number of classes of the whole table. */
  readonly total: number;
}

/** Makes the sampler of one shard (over the shard's local ids `0 … n−1`). */
export type ShardSamplerFactory = (info: ShardInfo) => Sampler;

/** Options of {@link ShardedSampler.create} besides the sampler's own. */
export interface ShardedCreateOptions {
  /**
   * `midx` only: train one set of codebooks on the whole table and index every shard with it
   * (default true), which makes the composite equal to the unsharded `midx` (for the `uniform`,
   * `pop` and `residual` stages). With false every shard trains its own codebooks: a different
   * proposal, still reported exactly.
   */
  sharedCodebooks?: boolean;
  /**
   * `midx` with shared codebooks and the `uniform` or `pop` stage: sample through one index over
   * every shard's codes (default true), the unsharded sampler's draws at its cost, instead of
   * composing the shards draw by draw (shard by mass, then class in the shard: the same
   * distribution and `log q`, at about the shards' count times the stage-one work per query).
   */
  mergedIndex?: boolean;
}

/**
 * A sampler over a {@link ShardedClassTable} made of one sampler per shard, composed exactly
 * (module documentation): shard by proposal mass, then class within the shard. It supports the
 * whole {@link Sampler} contract through the generic driver (per-query or `shared` rows for
 * static shards, `unique`, `exclude`, `rowStreams`, `logQ`, `sampleWithLogQ`); `update(ids)`
 * passes each shard its changed rows as local ids. Every shard sampler must implement
 * {@link Sampler.openRows} and report {@link RowDistribution.logMass}.
 */
export class ShardedSampler extends SamplerBase {
  readonly name: string;
  readonly adaptive: boolean;
  /** The shard samplers, in id order. */
  readonly shards: readonly Sampler[];
  /** Global id of each shard's first class; `starts[S] = n`. */
  readonly starts: Int32Array;
  /** Codeword scores shared by the `midx` shards of one set of codebooks (null otherwise). */
  private scoreMemo: CodewordScoreMemo | null = null;
  /** One codebook trainer for `midx` shards sharing codebooks (null otherwise). */
  private readonly codebookTrainer: MidxSampler | null;
  private rows: SamplerRows[] | null = null;
  /** Float32 copies of a bfloat16 table's shards that adaptive shard samplers were built on. */
  private mirror: { table: ShardedClassTable; copies: ClassTable[] } | null = null;
  private readonly dist: ShardedRow;
  private staticRow: ShardedRow | null = null;
  /**
   * `midx` shards of one set of codebooks (`uniform` or `pop` stage) only: one index over every
   * shard's codes, which samples in their place (null: the shards are composed draw by draw).
   */
  private readonly merged: MidxSampler | null;

  /**
   * @param layout the sharded table, or its shard sizes
   * @param make the sampler of each shard (created now, built by `build`)
   * @param codebookTrainer `midx` shards only: the sampler whose codebooks, trained on the whole
   *   table at every `build`, index every shard (`buildWithCodebooks`); null: each shard builds its own
   * @param merged with `codebookTrainer`: a `midx` sampler (`uniform` or `pop` stage, unbuilt) that
   *   `build` indexes with every shard's codes (`buildFromCodes`) and that then samples for the
   *   composite; null: the shards are composed draw by draw
   * @throws OptionError for an empty layout or a shard sampler that cannot be composed
   */
  constructor(layout: ShardedClassTable | readonly number[], make: ShardSamplerFactory, codebookTrainer: MidxSampler | null = null, merged: MidxSampler | null = null) {
    super();
    const sizes = layout instanceof ShardedClassTable ? layout.sizes : [...layout];
    if (sizes.length === 0) throw new OptionError('ShardedSampler needs at least one shard');
    const starts = new Int32Array(sizes.length + 1);
    for (let s = 0; s < sizes.length; s++) {
      const ns = sizes[s]!;
      if (!Number.isInteger(ns) || ns < 1) throw new OptionError(`ShardedSampler: shard ${s} has size ${ns}; sizes must be integers ≥ 1`);
      starts[s + 1] = starts[s]! + ns;
    }
    const total = starts[sizes.length]!;
    const shards = sizes.map((ns, s) => make({ shard: s, start: starts[s]!, n: ns, total }));
    for (let s = 0; s < shards.length; s++) {
      if (typeof shards[s]?.openRows !== 'function') {
        throw new OptionError(`ShardedSampler: the sampler of shard ${s} ('${shards[s]?.name}') does not expose its row distributions (openRows), so it cannot be composed`);
      }
    }
    this.shards = shards;
    this.starts = starts;
    this.n = total;
    this.adaptive = shards.some((x) => x.adaptive);
    const names = [...new Set(shards.map((x) => x.name))];
    this.name = `sharded(${names.join(',')})`;
    this.codebookTrainer = codebookTrainer;
    if (merged !== null && codebookTrainer === null) throw new OptionError('ShardedSampler: a merged midx index needs shared codebooks (a codebook trainer)');
    this.merged = merged;
    this.dist = new ShardedRow(starts);
  }

  /**
   * The composite of the built-in sampler `name` over the shards of `layout`, with the options
   * of the unsharded sampler: global data options are split per shard (`counts` of `unigram`;
   * `counts`/`assumeSorted` of `logUniform` become the shards' global ranks; `popularity` of
   * `midx`; `n` of `uniform` is checked), the others go to every shard as they are (`rff` shards
   * thus share their random features through the same `seed`). `midx` shards share one set of
   * codebooks trained on the whole table unless `sharedCodebooks: false`.
   * @throws OptionError, ShapeError (options that do not fit the layout), as the shard samplers
   */
  static create(name: string, layout: ShardedClassTable | readonly number[], opts: Record<string, unknown> = {}, extra: ShardedCreateOptions = {}): ShardedSampler {
    const sizes = layout instanceof ShardedClassTable ? layout.sizes : [...layout];
    const total = sizes.reduce((a, b) => a + b, 0);
    const slice = (v: unknown, what: string): Float64Array => {
      const a = countsOption(v, what);
      if (a.length !== total) throw new ShapeError(`ShardedSampler.create('${name}'): ${what} has ${a.length} entries, expected one per class (n = ${total})`);
      return a;
    };
    switch (name) {
      case 'uniform': {
        if (opts['n'] !== undefined && opts['n'] !== total) throw new ShapeError(`ShardedSampler.create('uniform'): n = ${String(opts['n'])} but the shards hold ${total} classes`);
        return new ShardedSampler(sizes, (s) => createSampler('uniform', { n: s.n }));
      }
      case 'unigram': {
        const counts = slice(opts['counts'], 'counts');
        return new ShardedSampler(sizes, (s) => createSampler('unigram', { ...opts, counts: counts.subarray(s.start, s.start + s.n) }));
      }
      case 'logUniform': {
        const ranks = globalRanks(total, opts, slice);
        return new ShardedSampler(sizes, (s) => new LogUniformSampler({ ranks: ranks.subarray(s.start, s.start + s.n), totalClasses: total }));
      }
      case 'midx': {
        const pop = opts['popularity'] != null ? slice(opts['popularity'], 'popularity') : null;
        const shardOpts = (s: ShardInfo): Record<string, unknown> => (pop ? { ...opts, popularity: pop.subarray(s.start, s.start + s.n) } : opts);
        const shared = extra.sharedCodebooks ?? true;
        const trainer = shared ? new MidxSampler({ ...opts, popularity: null, stage: 'uniform' }) : null;
        const stage = opts['stage'] ?? 'uniform';
        const mergedIndex = shared && (extra.mergedIndex ?? true) && (stage === 'uniform' || stage === 'pop');
        if (!mergedIndex) return new ShardedSampler(sizes, (s) => createSampler('midx', shardOpts(s)), trainer);
        // the merged index samples (with the threads asked for); the shards only assign codes
        const merged = new MidxSampler(pop ? { ...opts, popularity: pop } : opts);
        return new ShardedSampler(sizes, (s) => createSampler('midx', { ...shardOpts(s), threads: 1 }), trainer, merged);
      }
      default:
        return new ShardedSampler(sizes, () => createSampler(name, opts));
    }
  }

  /** Shard sizes, in id order. */
  get sizes(): number[] {
    return Array.from({ length: this.shards.length }, (_, s) => this.starts[s + 1]! - this.starts[s]!);
  }

  /**
   * Builds every shard sampler on its shard: of a {@link ShardedClassTable} with the same layout,
   * or of a {@link ClassTable} of `n` classes viewed (no copy) as shards of this layout. The shards
   * of a bfloat16 table are decoded into float32 copies for the shard samplers; an adaptive
   * composite keeps them (its samplers read the table after `build`: memory of a float32 table)
   * and refreshes the changed rows in `update`. With
   * shared `midx` codebooks, the codebooks are first trained on the whole table (all rows when
   * `n` is at most the trainer's `trainSample`, the default `256·K`; else a seeded sample of rows)
   * and every shard is indexed with them.
   * @throws ShapeError when the table's layout differs; as the shard samplers
   */
  build(table: ClassTable | ShardedClassTable): void {
    const parts = this.partsOf(table);
    if (this.codebookTrainer !== null) {
      const trainer = this.codebookTrainer;
      trainer.build(trainingRows(table, parts, trainer));
      const cb = trainer.codebooks()!;
      // one set of codewords: a query's codeword scores are computed once per row, not per shard
      // (composed draw by draw; a merged index samples alone and never opens the shards' rows)
      this.scoreMemo = this.merged === null ? new CodewordScoreMemo() : null;
      for (let s = 0; s < parts.length; s++) {
        const x = this.shards[s]!;
        if (!(x instanceof MidxSampler)) throw new StateError('ShardedSampler: shared codebooks need midx shard samplers');
        x.buildWithCodebooks(parts[s]!, cb);
        if (this.scoreMemo !== null) x.shareCodewordScores(this.scoreMemo);
      }
      if (this.merged !== null) {
        const code1 = new Int32Array(this.n);
        const code2 = new Int32Array(this.n);
        for (let s = 0; s < parts.length; s++) {
          const c = (this.shards[s] as MidxSampler).codes;
          code1.set(c.code1, this.starts[s]!);
          code2.set(c.code2, this.starts[s]!);
        }
        this.merged.buildFromCodes(this.n, table.d, { ...cb, c1: cb.c1.slice(), c2: cb.c2.slice() }, code1, code2);
      }
    } else {
      for (let s = 0; s < parts.length; s++) this.shards[s]!.build(parts[s]!);
    }
    this.dim = table.d;
    this.built = true;
    this.staticRow = null;
  }

  /** The shard tables of `table` under this layout. */
  private partsOf(table: ClassTable | ShardedClassTable): ClassTable[] {
    const S = this.shards.length;
    if (table instanceof ShardedClassTable) {
      if (table.shards.length !== S || table.sizes.some((v, s) => v !== this.starts[s + 1]! - this.starts[s]!)) {
        throw new ShapeError(`ShardedSampler: the table's shards (${table.sizes.join(', ')}) differ from the sampler's (${this.sizes.join(', ')})`);
      }
      if (table.storage === 'f32') {
        this.mirror = null;
        return table.shards as ClassTable[];
      }
      // bfloat16 shards: the samplers read float32 copies of the decoded rows, which an adaptive
      // composite keeps (and refreshes in `update`) because its samplers read the table later
      const copies = table.shards.map((t) => (t as Bf16ClassTable).toTable());
      this.mirror = this.adaptive ? { table, copies } : null;
      return copies;
    }
    this.mirror = null;
    if (!(table instanceof ClassTable)) throw new OptionError('ShardedSampler.build needs a ClassTable or a ShardedClassTable');
    if (table.n !== this.n) throw new ShapeError(`ShardedSampler: the table has ${table.n} classes, the shards hold ${this.n}`);
    const d = table.d;
    return this.sizes.map((ns, s) => {
      const a = this.starts[s]!;
      return new ClassTable(ns, d, table.weights.subarray(a * d, (a + ns) * d), table.bias ? table.bias.subarray(a, a + ns) : null);
    });
  }

  /** Routes the changed global ids to their shards as local ids. */
  override update(ids: ArrayLike<number>): void {
    super.update(ids);
    const S = this.shards.length;
    const count = new Int32Array(S);
    const shardOf = new Int32Array(ids.length);
    for (let k = 0; k < ids.length; k++) {
      const s = shardOfStart(this.starts, ids[k]!);
      shardOf[k] = s;
      count[s]!++;
    }
    const local = Array.from({ length: S }, (_, s) => new Int32Array(count[s]!));
    const fill = new Int32Array(S);
    const mirror = this.mirror;
    for (let k = 0; k < ids.length; k++) {
      const s = shardOf[k]!;
      const i = ids[k]! - this.starts[s]!;
      local[s]![fill[s]!++] = i;
      if (mirror) {
        const src = mirror.table.shards[s] as Bf16ClassTable;
        const copy = mirror.copies[s]!;
        src.decodeRows(i, 1, copy.weights, i * copy.d);
        if (copy.bias) copy.bias[i] = src.bias![i]!;
      }
    }
    for (let s = 0; s < S; s++) if (count[s]! > 0) this.shards[s]!.update(local[s]!);
    if (this.merged !== null) {
      // the merged index takes the codes the shards re-assigned
      const list = Int32Array.from(ids);
      const c1 = new Int32Array(list.length);
      const c2 = new Int32Array(list.length);
      for (let k = 0; k < list.length; k++) {
        const s = shardOf[k]!;
        const c = (this.shards[s] as MidxSampler).codes;
        const i = list[k]! - this.starts[s]!;
        c1[k] = c.code1[i]!;
        c2[k] = c.code2[i]!;
      }
      this.merged.setCodes(list, c1, c2);
    }
  }

  /** As {@link SamplerBase.sample}; through the merged `midx` index when there is one. */
  override sample(opts: SampleOptions): Draws {
    return this.merged !== null ? this.merged.sample(opts) : super.sample(opts);
  }

  /** As {@link SamplerBase.sampleWithLogQ}; through the merged `midx` index when there is one. */
  override sampleWithLogQ(opts: SampleOptions, ids: Labels): SampleWithLogQ {
    return this.merged !== null ? this.merged.sampleWithLogQ(opts, ids) : super.sampleWithLogQ(opts, ids);
  }

  /** As {@link SamplerBase.logQ}; through the merged `midx` index when there is one. */
  override logQ(queries: Matrix | null, ids: Labels): Float64Array {
    return this.merged !== null ? this.merged.logQ(queries, ids) : super.logQ(queries, ids);
  }

  /** As {@link SamplerBase.openRows}; the merged `midx` index's rows when there is one. */
  override openRows(queries: Matrix | null): SamplerRows {
    return this.merged !== null ? this.merged.openRows(queries) : super.openRows(queries);
  }

  /** Whether a merged `midx` index samples for the shards (see {@link ShardedSampler.create}). */
  get mergedIndex(): boolean {
    return this.merged !== null;
  }

  stats(): SamplerStats {
    const out: SamplerStats = { sampler: this.name, n: this.n, shards: this.shards.length, built: this.built, sizes: this.sizes.join(',') };
    let bytes = 0;
    for (const x of this.shards) {
      const st = x.stats();
      for (const key of ['bytes', 'memoryBytes']) if (typeof st[key] === 'number') bytes += st[key] as number;
      if (x instanceof MidxSampler) bytes += x.indexBytes;
    }
    if (this.merged !== null && this.merged.isBuilt) bytes += this.merged.indexBytes;
    out['bytes'] = bytes;
    out['index'] = this.merged !== null ? 'merged' : 'composite';
    return out;
  }

  protected override supportSize(): number {
    let k = 0;
    for (const x of this.shards) k += x.supportCount ?? x.numClasses;
    return k;
  }

  protected override beginRows(queries: Matrix | null): void {
    this.scoreMemo?.reset(true);
    this.rows = this.openShards(queries);
  }

  protected override endRows(): void {
    this.scoreMemo?.reset(false);
    const rows = this.rows;
    this.rows = null;
    if (rows) for (const r of rows) r.close();
  }

  /** Opens every shard's rows (closing the opened ones if one fails). */
  private openShards(queries: Matrix | null): SamplerRows[] {
    const out: SamplerRows[] = [];
    try {
      for (const x of this.shards) out.push(x.openRows!(x.adaptive ? queries : null));
    } catch (e) {
      for (const r of out) r.close();
      throw e;
    }
    return out;
  }

  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    if (!this.adaptive) {
      // static shards: one composite row for every query, kept until the next build
      if (this.staticRow === null) {
        const rows = this.openShards(null);
        const d = new ShardedRow(this.starts);
        d.set(rows, 0);
        this.staticRow = d;
      }
      return this.staticRow;
    }
    const rows = this.rows;
    if (rows === null) throw new StateError('ShardedSampler: rows asked for outside a batch (the generic driver opens the shards first)');
    this.dist.set(rows, row);
    return this.dist;
  }
}

/**
 * The composite distribution of one query row: shard `s` with probability `M_s / Σ M`, then the
 * shard's own distribution. Reports its mass `Σ M` (so composites compose).
 */
class ShardedRow implements RowDistribution {
  lastLogQ = 0;
  /** `log Σ_s M_s`. */
  logMass = -Infinity;
  private readonly dists: RowDistribution[] = [];
  /** `log P(s)` per shard and the cumulative `P(s)`. */
  private readonly logP: Float64Array;
  private readonly cum: Float64Array;
  private readonly logM: Float64Array;

  /** Scratch of {@link ShardedRow.drawMany}: each draw's shard, its slot in the shard-ordered draws, those draws. */
  private lab = new Int32Array(0);
  private slot = new Int32Array(0);
  private tmpIds = new Int32Array(0);
  private tmpLogQ = new Float64Array(0);
  private readonly offs: Int32Array;
  private readonly fill: Int32Array;

  constructor(private readonly starts: Int32Array) {
    const S = starts.length - 1;
    this.offs = new Int32Array(S + 1);
    this.fill = new Int32Array(S);
    this.logP = new Float64Array(S);
    this.cum = new Float64Array(S);
    this.logM = new Float64Array(S);
  }

  /** Row `row` of every shard: their masses and the shard probabilities. */
  set(rows: SamplerRows[], row: number): void {
    const S = rows.length;
    for (let s = 0; s < S; s++) {
      const d = rows[s]!.row(row);
      const lm = d.logMass;
      if (lm === undefined || Number.isNaN(lm)) {
        throw new StateError(`ShardedSampler: shard ${s}'s sampler does not report its proposal mass (RowDistribution.logMass), so shards cannot be weighed`);
      }
      this.dists[s] = d;
      this.logM[s] = lm;
    }
    const total = logSumExp(this.logM);
    if (!(total > -Infinity) || !Number.isFinite(total)) {
      throw new ImpossibleError(`ShardedSampler: row ${row} has ${total === Infinity ? 'an infinite' : 'no'} proposal mass in any shard; nothing can be drawn`);
    }
    this.logMass = total;
    let acc = 0;
    for (let s = 0; s < S; s++) {
      const lp = this.logM[s]! - total;
      this.logP[s] = lp;
      acc += Math.exp(lp);
      this.cum[s] = acc;
    }
  }

  /** A shard drawn with probability `P(s)` (one `rng.float()`). */
  private pickShard(rng: Rng): number {
    const S = this.cum.length;
    const u = rng.float() * this.cum[S - 1]!;
    let s = 0;
    while (s < S - 1 && !(this.cum[s]! > u)) s++;
    // u rounding up to the total could land on a trailing shard of zero probability
    while (s > 0 && this.logP[s] === -Infinity) s--;
    return s;
  }

  draw(rng: Rng): number {
    const s = this.pickShard(rng);
    const d = this.dists[s]!;
    const local = d.draw(rng);
    this.lastLogQ = this.logP[s]! + d.lastLogQ;
    return this.starts[s]! + local;
  }

  /**
   * `count` independent draws, batched per shard: the shard of every draw first (`count` calls of
   * `rng.float()`), then each shard's `k_s` draws in one call of its `drawMany` (one by one where
   * it has none), placed back at the positions of their shard. Every draw's shard is drawn from
   * `P(s)` and its class from the shard's distribution independently of the others, so the draws
   * have the joint law of `count` calls of `draw` (in another order of `rng` consumption: the ids
   * differ from those calls', deterministically).
   */
  drawMany(rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void {
    const S = this.cum.length;
    if (this.lab.length < count) {
      this.lab = new Int32Array(count);
      this.slot = new Int32Array(count);
      this.tmpIds = new Int32Array(count);
      this.tmpLogQ = new Float64Array(count);
    }
    const { lab, slot, tmpIds, tmpLogQ, offs } = this;
    offs.fill(0);
    for (let j = 0; j < count; j++) {
      const s = this.pickShard(rng);
      lab[j] = s;
      offs[s + 1]!++;
    }
    for (let s = 0; s < S; s++) offs[s + 1]! += offs[s]!;
    const fill = this.fill;
    fill.set(offs.subarray(0, S));
    for (let j = 0; j < count; j++) slot[j] = fill[lab[j]!]!++;
    for (let s = 0; s < S; s++) {
      const k = offs[s + 1]! - offs[s]!;
      if (k === 0) continue;
      const d = this.dists[s]!;
      if (d.drawMany) d.drawMany(rng, k, tmpIds, tmpLogQ, offs[s]!);
      else {
        for (let j = offs[s]!; j < offs[s + 1]!; j++) {
          tmpIds[j] = d.draw(rng);
          tmpLogQ[j] = d.lastLogQ;
        }
      }
    }
    for (let j = 0; j < count; j++) {
      const s = lab[j]!;
      const p = slot[j]!;
      ids[o + j] = this.starts[s]! + tmpIds[p]!;
      logQ[o + j] = this.logP[s]! + tmpLogQ[p]!;
    }
    if (count > 0) this.lastLogQ = logQ[o + count - 1]!;
  }

  logProb(id: number): number {
    const s = shardOfStart(this.starts, id);
    const lp = this.logP[s]!;
    if (lp === -Infinity) return -Infinity;
    return lp + this.dists[s]!.logProb(id - this.starts[s]!);
  }
}

/** Global frequency ranks from `logUniform` options (`counts`, or `assumeSorted`: id = rank). */
function globalRanks(n: number, opts: Record<string, unknown>, slice: (v: unknown, what: string) => Float64Array): Float64Array {
  const ranks = new Float64Array(n);
  if (opts['counts'] !== undefined) {
    if (opts['assumeSorted']) throw new OptionError('logUniform sampler: pass either counts (ids are ranked by them) or assumeSorted: true, not both');
    const counts = slice(opts['counts'], 'counts');
    const idOf = Int32Array.from({ length: n }, (_, i) => i);
    // the order of LogUniformSampler: decreasing count, ties by increasing id
    idOf.sort((a, b) => counts[b]! - counts[a]! || a - b);
    for (let k = 0; k < n; k++) ranks[idOf[k]!] = k;
    return ranks;
  }
  if (opts['assumeSorted'] !== true) {
    throw new OptionError('logUniform sampler: the Zipf law applies to frequency ranks, so pass counts or assumeSorted: true');
  }
  if (opts['n'] !== undefined && opts['n'] !== n) throw new ShapeError(`logUniform sampler: n = ${String(opts['n'])} but the shards hold ${n} classes`);
  for (let i = 0; i < n; i++) ranks[i] = i;
  return ranks;
}

/**
 * The rows the shared codebooks are trained on: every row in id order when `n` fits the trainer's
 * sample (the same data, hence the same codebooks, as an unsharded build), else a seeded uniform
 * sample of rows without replacement, in id order.
 */
function trainingRows(table: ClassTable | ShardedClassTable, parts: ClassTable[], trainer: MidxSampler): ClassTable {
  if (table instanceof ClassTable) return table;
  const n = table.n;
  const d = table.d;
  const budget = trainer.trainRows;
  let ids: Int32Array;
  if (n <= budget) ids = Int32Array.from({ length: n }, (_, i) => i);
  else {
    // Floyd's sample of `budget` distinct ids, sorted
    const rng = Rng.fromSeed(trainer.seed, 1);
    const chosen = new Set<number>();
    for (let j = n - budget; j < n; j++) {
      const t = rng.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    ids = Int32Array.from(chosen).sort();
  }
  const w = new Float32Array(ids.length * d);
  const b = table.hasBias ? new Float32Array(ids.length) : null;
  for (let k = 0; k < ids.length; k++) {
    const s = shardOfStart(table.starts, ids[k]!);
    const local = ids[k]! - table.starts[s]!;
    const t = parts[s]!;
    w.set(t.weights.subarray(local * d, (local + 1) * d), k * d);
    if (b) b[k] = t.bias![local]!;
  }
  return new ClassTable(ids.length, d, w, b);
}
