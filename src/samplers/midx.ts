/**
 * Inverted multi-index sampler (MIDX; Chen, Lian et al., WWW 2022 / arXiv 2501.08563).
 *
 * Every class row `c̃_i = [c_i, b_i]` (biases folded in as an extra coordinate; queries become
 * `h̃ = [h, 1]`) is quantized by two codebooks of `K` codewords:
 * - `'pq'` product quantization: `c̃` is split into two halves, one k-means per half;
 * - `'rq'` residual quantization: k-means on `c̃`, then k-means on the residual; codewords are
 *   full width and add.
 * Class `i` gets codes `(k1, k2)` and sits in bucket `Ω(k1,k2)` of a CSR inverted index over `K²`
 * buckets. With `s¹ = C¹h̃`, `s² = C²h̃` (halves of `h̃` for PQ) the draw is
 * `P(k1) ∝ e^{s¹(k1)} Σ_k2 e^{s²(k2)} W(k1,k2)`, `P(k2|k1) ∝ e^{s²(k2)} W(k1,k2)`, then a class
 * `∝ w_i` within the bucket (`W` the sum of `w` over the bucket), where the last stage sets
 * - `'uniform'`: `w_i = 1` — `q = softmax(h̃·ĉ_i)` over the quantized embeddings (biases quantized too);
 * - `'pop'`: `w_i = pop_i` — `q ∝ pop_i · exp(h̃·ĉ_i)`;
 * - `'residual'`: `w_i = exp(h̃·r_i)` (`r_i = c̃_i − ĉ_i`), computed as `exp(o_i)` without the codeword
 *   factors — reproduces the full softmax exactly at `O(n·d)` per query (a test oracle);
 * - `'softmax'`: the buckets are drawn as with `'uniform'` (`W` = bucket size), then a class
 *   `∝ exp(o_i)` within the drawn bucket — `∝ exp(h̃·r_i)`, since its classes share `ĉ_i` — so
 *   `q_i = P(k1,k2) · exp(o_i) / Σ_{j∈Ω(k1,k2)} exp(o_j)`. The exact logits are computed only for
 *   the classes of the buckets a query draws from (`O(|Ω|·d)` per distinct bucket, cached per
 *   query); the quantization error inside a bucket no longer reaches the proposal.
 * Log-space throughout; empty buckets have weight 0 and are never drawn. Reported `log q` is the
 * log of the stage probabilities actually used.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { ImpossibleError, OptionError, ShapeError, StateError } from '../core/errors.js';
import { checkLabels, type Matrix } from '../core/matrix.js';
import { expNonPos } from '../core/fastExp.js';
import { searchCumulative } from '../core/math.js';
import { gatherI32 } from '../core/rows.js';
import { Rng } from '../core/rng.js';
import { assertFinite, assertMatrix, choiceOption, intOption, rejectUnknown } from '../core/validate.js';
import { kernels } from '../kernels/index.js';
import type { Labels } from '../core/matrix.js';
import {
  drawOneByOne, drawsOf, newRowRangeOutput, rowGenerators, rowStreamsOf, sampleRowRange, SamplerBase, type RowDistribution, type RowRangeOutput,
} from './base.js';
import { kmeans } from './kmeans.js';
import type { Draws, SampleOptions, SampleWithLogQ, SamplerStats } from './types.js';

/** Codebook structure of {@link MidxSampler}. */
export type MidxCodebook = 'pq' | 'rq';
/** Last stage of {@link MidxSampler}. */
export type MidxStage = 'uniform' | 'pop' | 'residual' | 'softmax';

/** Options of {@link MidxSampler}. */
export interface MidxOptions {
  /** `'pq'` (product) or `'rq'` (residual) quantization. Default `'rq'`. */
  codebook?: MidxCodebook;
  /** Codewords per codebook `K` (default 64; capped at the number of classes). */
  codewords?: number;
  /** Last stage: `'uniform'` (default), `'pop'`, `'softmax'` or `'residual'`. */
  stage?: MidxStage;
  /** Non-negative popularity per class (required by `'pop'`), e.g. training counts. */
  popularity?: ArrayLike<number> | null;
  /** Maximum k-means iterations per codebook on a cold build (k-means++ seeding; default 10). */
  iters?: number;
  /**
   * Maximum k-means iterations per codebook on a rebuild warm-started from the previous
   * codebooks (default 3): during training the table moves little between rebuilds, so a few
   * Lloyd steps from the old codewords follow it at a fraction of a cold build's cost.
   */
  refitIters?: number;
  /** Points used to fit each codebook (default `256·K`; all rows are assigned afterwards). */
  trainSample?: number;
  /** Seed of the k-means generator (default 0). */
  seed?: number;
  /**
   * Threads that sample a batch (default 1). With `threads ≥ 2` (Node only) the sampler starts
   * `threads − 1` helper threads at its first build ({@link MidxSampler.useWorkers}) and every
   * call draws with row streams (as with `rowStreams: true`, whatever the call says), so the draws
   * are those of one thread with `rowStreams: true`, for any number of threads. Stop the threads
   * with {@link MidxSampler.close} (they do not keep the process alive).
   */
  threads?: number;
}

/** Option names accepted by the constructor. */
export const MIDX_OPTIONS = ['codebook', 'codewords', 'stage', 'popularity', 'iters', 'refitIters', 'trainSample', 'seed', 'threads'] as const;

/** Helper threads a sampler starts for itself (with their `close`). */
export type OwnedMidxWorkers = MidxWorkers & { close(): Promise<void> };

/** Starts `count` helper threads synchronously; set by the Node-only `midxThreads` module. */
let startThreads: ((count: number) => OwnedMidxWorkers) | null = null;

/**
 * Installs the function that starts a sampler's own helper threads (the `threads` option).
 * @internal called by the Node-only `midxThreads` module when it loads
 */
export function setMidxThreadStarter(start: (count: number) => OwnedMidxWorkers): void {
  startThreads = start;
}

/** The two codebooks of a built {@link MidxSampler}. */
export interface MidxCodebooks {
  readonly kind: MidxCodebook;
  /** Codewords per codebook. */
  readonly k: number;
  /** Width of the first / second codewords (`d'` halves for PQ, `d'` for RQ; `d' = d + 1` with biases). */
  readonly w1: number;
  readonly w2: number;
  /** `k × w1` and `k × w2` codewords, row-major. */
  readonly c1: Float32Array;
  readonly c2: Float32Array;
}

/** Result of {@link MidxSampler.topK}. */
export interface TopK {
  /** `B × k` class ids, best first per row. */
  ids: Int32Array;
  /** `B × k` exact logits `h·c + b` of those ids. */
  scores: Float64Array;
  /** Candidates rescored per row. */
  candidates: Int32Array;
}

/** One range of rows of a batch, sampled by another thread (see {@link MidxWorkers}). */
export interface MidxRangeRequest {
  /** State of the batch's base generator (row `r` draws from its `fork(r)`). */
  base: [number, number, number, number];
  /** Global index of the first row of the range. */
  r0: number;
  /** Rows in the range. */
  rows: number;
  /** Draws per row, distinct or not. */
  m: number;
  unique: boolean;
  /** Classes with positive probability (refuses impossible unique requests). */
  support: number;
  /** `rows × d` queries of the range. */
  queries: Float32Array;
  /** Ids to score per row of the range (offsets from 0). */
  scored: Labels;
  /** Ids each row must not draw (offsets from 0), or null. */
  exclude: Labels | null;
}

/**
 * Helper threads that hold a copy of a {@link MidxSampler}'s index and sample ranges of rows
 * with the same code as the sampler (see {@link MidxSampler.useWorkers}). `start` must return at
 * once; `finish` blocks until that worker's range is done.
 */
export interface MidxWorkers {
  /** Number of helper threads. */
  readonly count: number;
  /** Sends a copy of the index to every thread (called after each build or re-index). */
  setIndex(index: MidxInternals): void;
  /** Starts a range on thread `w`. */
  start(w: number, req: MidxRangeRequest): void;
  /** Waits for thread `w`'s range. @throws StateError when the thread failed */
  finish(w: number): MidxRangeResult;
}

/** A helper thread's result for one range. */
export interface MidxRangeResult {
  /** Draws and scores of the range (rows from 0); may be views on a buffer the thread reuses: read them before its next `start`. */
  out: RowRangeOutput;
  /** Milliseconds the thread spent on the range (balances the next split). */
  ms: number;
  /**
   * Milliseconds `finish` blocked before the reply was there (0: it was already waiting), not
   * counting taking the reply; absent when unknown.
   */
  waitedMs?: number;
}

/** Fewest rows per thread worth sending to a helper thread. */
const MIN_ROWS_PER_THREAD = 4;

/**
 * Adaptive sampler over an inverted multi-index. Registered as `'midx'`.
 * `build` trains the codebooks (k-means, warm-started from the previous codebooks on rebuilds);
 * `update(ids)` re-assigns changed rows to their nearest codewords and moves them between
 * buckets; {@link MidxSampler.topK} retrieves approximate top-k classes through the index.
 */
export class MidxSampler extends SamplerBase {
  readonly name = 'midx';
  readonly adaptive = true;
  readonly codebook: MidxCodebook;
  readonly stage: MidxStage;
  private readonly kOpt: number;
  private readonly iters: number;
  private readonly refitIters: number;
  private readonly trainSample: number | undefined;
  private readonly rng: Rng;
  /** Seed of the k-means generator. */
  readonly seed: number;
  private popOpt: Float64Array | null = null;

  private table: ClassTable | null = null;
  private cb: MidxCodebooks | null = null;
  private code1: Int32Array = new Int32Array(0);
  private code2: Int32Array = new Int32Array(0);
  /** CSR: bucket b = k1*K + k2 holds bucketIds[bucketOff[b] .. bucketOff[b+1]). */
  private bucketOff: Int32Array = new Int32Array(0);
  private bucketIds: Int32Array = new Int32Array(0);
  private bucketPos: Int32Array = new Int32Array(0);
  /** Static bucket weights W (counts or popularity sums) and, for 'pop', cumulative popularity in CSR order. */
  private bucketW: Float64Array = new Float64Array(0);
  private popCum: Float64Array = new Float64Array(0);
  private buildMs = 0;
  private updateMs = 0;
  private kmeansIters = 0;
  private dist: MidxRow | null = null;
  /** Classes that can be drawn (positive popularity for `'pop'`, else all). */
  private support = 0;
  private workers: MidxWorkers | null = null;
  /** The `threads` option, and the helper threads this sampler started for it. */
  private readonly threadsOpt: number;
  private owned: OwnedMidxWorkers | null = null;

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: MidxOptions = {}) {
    super();
    rejectUnknown(opts, MIDX_OPTIONS, 'midx sampler');
    this.codebook = choiceOption(opts.codebook ?? 'rq', 'codebook', ['pq', 'rq'] as const);
    this.stage = choiceOption(opts.stage ?? 'uniform', 'stage', ['uniform', 'pop', 'residual', 'softmax'] as const);
    this.kOpt = intOption(opts.codewords ?? 64, 'codewords', 1, 4096);
    this.iters = intOption(opts.iters ?? 10, 'iters', 0, 10000);
    this.refitIters = intOption(opts.refitIters ?? 3, 'refitIters', 0, 10000);
    this.trainSample = opts.trainSample === undefined ? undefined : intOption(opts.trainSample, 'trainSample', 1);
    this.seed = opts.seed === undefined ? 0 : intOption(opts.seed, 'seed', 0);
    this.rng = Rng.fromSeed(this.seed);
    this.threadsOpt = intOption(opts.threads ?? 1, 'threads', 1, 256);
    if (this.threadsOpt > 1 && (this.stage === 'softmax' || this.stage === 'residual')) {
      throw new OptionError(`midx threads: ${this.threadsOpt} cannot be honoured with stage '${this.stage}' (it reads the class table per query and samples on the calling thread); use threads: 1, or stage 'uniform' or 'pop'`);
    }
    if (opts.popularity != null) {
      if (typeof (opts.popularity as { length?: unknown }).length !== 'number') {
        throw new OptionError('midx option popularity must be an array of non-negative numbers, one per class');
      }
      const p = Float64Array.from(opts.popularity);
      assertFinite(p, 'popularity');
      for (let i = 0; i < p.length; i++) {
        if (p[i]! < 0) throw new OptionError(`popularity[${i}] = ${p[i]} is negative; popularity must be ≥ 0 (e.g. class counts)`);
      }
      this.popOpt = p;
    }
    if (this.stage === 'pop' && this.popOpt === null) {
      throw new OptionError("midx stage 'pop' needs the popularity option (one non-negative weight per class)");
    }
  }

  /**
   * Lets {@link MidxSampler.sampleWithLogQ} split the rows of a batch between the calling thread
   * and `workers` (null: back to one thread) when the call uses `rowStreams`: every row draws
   * from its own generator with the same code wherever it runs, so the draws and
   * log-probabilities are identical for any number of threads. The `'residual'` and `'softmax'`
   * stages (which read the class table per query) always run on the calling thread.
   */
  useWorkers(workers: MidxWorkers | null): void {
    this.workers = workers;
    if (workers && this.built) workers.setIndex(this.workerIndex());
  }

  /** Stops the helper threads this sampler started for its `threads` option (idempotent); it then samples on one thread, with row streams still. */
  async close(): Promise<void> {
    const o = this.owned;
    if (o === null) return;
    this.owned = null;
    if (this.workers === o) this.workers = null;
    await o.close();
  }

  /** Whether the last stage reads the class table per query (then sampling stays on the calling thread). */
  private get readsTable(): boolean {
    return this.stage === 'residual' || this.stage === 'softmax';
  }

  /** The index as plain data for helper threads (no class table). */
  private workerIndex(): MidxInternals {
    return { ...this.internals, table: null };
  }

  /**
   * As {@link SamplerBase.sampleWithLogQ}; with helper threads ({@link MidxSampler.useWorkers})
   * and `rowStreams`, the rows are split into contiguous ranges, one per thread, the first on
   * the calling thread. The split follows each thread's measured time per row (threads that
   * share their core with other work get fewer rows); it never changes the result.
   */
  override sampleWithLogQ(callOpts: SampleOptions, ids: Labels): SampleWithLogQ {
    const opts = this.threadsOpt > 1 ? { ...callOpts, rowStreams: true } : callOpts;
    const w = this.workers;
    const B = opts.queries ? opts.queries.rows : 0;
    if (!w || !opts.rowStreams || this.readsTable || B < 2 * MIN_ROWS_PER_THREAD) return this.sampleOneThread(opts, ids);
    const { rows } = this.checkSampleOptions(opts);
    const queries = opts.queries!;
    if (ids.offsets.length - 1 !== rows) throw new OptionError(`logQ: ids have ${ids.offsets.length - 1} rows but queries have ${rows}`);
    checkLabels(ids, this.n, undefined, 'logQ ids');
    const m = opts.m;
    const unique = opts.unique ?? false;
    const base = opts.rng.split();
    const bounds = this.splitRows(rows, w.count + 1);
    const d = this.dim;
    const started: number[] = [];
    for (let p = 1; p <= w.count; p++) {
      const r0 = bounds[p]!;
      const r1 = bounds[p + 1]!;
      if (r1 === r0) continue;
      w.start(p - 1, {
        base: base.state(), r0, rows: r1 - r0, m, unique, support: this.supportSize(),
        queries: queries.data.slice(r0 * d, r1 * d),
        scored: sliceRows(ids, r0, r1),
        exclude: opts.exclude ? sliceRows(opts.exclude, r0, r1) : null,
      });
      started.push(p);
    }
    const out = newRowRangeOutput(rows, m, unique, ids.ids.length);
    const dist = this.dist!;
    const distOf = (r: number): RowDistribution => {
      dist.setQuery(queries.data, r * d);
      return dist;
    };
    let failure: unknown = null;
    const t0 = performance.now();
    try {
      sampleRowRange(this.name, this.supportSize(), distOf, rowStreamsOf(base), opts, ids, 0, bounds[1]!, out, 0);
    } catch (e) {
      failure = e;
    }
    const tMain = performance.now();
    this.noteRowCost(0, tMain - t0, bounds[1]!);
    for (const p of started) {
      let part: MidxRangeResult;
      const tCall = performance.now();
      try {
        part = w.finish(p - 1); // always collect every range, so that no reply is left behind
      } catch (e) {
        failure ??= e;
        continue;
      }
      const r0 = bounds[p]!;
      // a helper that made the calling thread wait costs the wall time until its range was back
      // (so one that gets no core of its own looks as slow as it is); one that was done in time,
      // the time it reports. Taking the reply (a copy) is not waiting: where `finish` says how
      // long it blocked, that is what counts
      const now = performance.now();
      const waited = part.waitedMs;
      const late = waited === undefined ? now - tMain > 0.05 : waited > 0.05;
      const cost = !late ? part.ms : waited === undefined ? now - t0 : tCall + waited - t0;
      this.noteRowCost(p, cost, bounds[p + 1]! - r0);
      if (failure !== null) continue;
      out.ids.set(part.out.ids, r0 * m);
      out.logQ.set(part.out.logQ, r0 * m);
      if (out.tries && part.out.tries) out.tries.set(part.out.tries, r0);
      out.posLogQ.set(part.out.posLogQ, ids.offsets[r0]!);
    }
    if (failure !== null) throw failure;
    return { draws: drawsOf(out, rows, opts), logQ: out.posLogQ };
  }

  /**
   * As {@link SamplerBase.sample}; the `'softmax'` stage prefetches the exact logits of the
   * buckets the rows will draw from, grouped by bucket (see {@link MidxSampler.sampleOneThread}).
   */
  override sample(callOpts: SampleOptions): Draws {
    const opts = this.threadsOpt > 1 ? { ...callOpts, rowStreams: true } : callOpts;
    if (this.workers && opts.rowStreams && !this.readsTable && opts.queries) {
      // the helper threads split the rows; no ids to score
      const rows = opts.queries.rows;
      return this.sampleWithLogQ(opts, { ids: new Int32Array(0), offsets: new Int32Array(rows + 1) }).draws;
    }
    if (this.stage !== 'softmax') return super.sample(opts);
    const { rows } = this.checkSampleOptions(opts);
    const out = newRowRangeOutput(rows, opts.m, opts.unique ?? false, 0);
    this.sampleRows(opts, null, rows, out);
    return drawsOf(out, rows, opts);
  }

  /** One pass over the rows on the calling thread: draws, then the scores of `ids` under each row's distribution. */
  private sampleOneThread(opts: SampleOptions, ids: Labels): SampleWithLogQ {
    const { rows } = this.checkSampleOptions(opts);
    const queries = opts.queries!;
    if (ids.offsets.length - 1 !== rows) throw new OptionError(`logQ: ids have ${ids.offsets.length - 1} rows but queries have ${rows}`);
    checkLabels(ids, this.n, undefined, 'logQ ids');
    const out = newRowRangeOutput(rows, opts.m, opts.unique ?? false, ids.ids.length);
    this.sampleRows(opts, ids, rows, out);
    return { draws: drawsOf(out, rows, opts), logQ: out.posLogQ };
  }

  /**
   * Samples every row (and scores `scored`) into `out` on the calling thread. For the
   * `'softmax'` stage the rows go in chunks: a first pass replays each row's bucket draws with a
   * copy of its generator (the bucket draws do not depend on the logits) and lists the buckets
   * the row will need (drawn, scored or excluded ids'); the exact logits of each listed bucket are
   * then computed for all the chunk's rows that need it, all buckets in one `kernels.bucketDots`
   * call (each class row is read once per chunk instead of once per row), and handed to each row's
   * distribution before it draws. Each logit is the same float32 dot product a row would compute
   * alone, so the draws and `log q` are those of the row-by-row path, bit for bit; a bucket the
   * replay did not foresee (extra rounds of unique or excluded draws) is computed when needed.
   */
  private sampleRows(opts: SampleOptions, scored: Labels | null, rows: number, out: RowRangeOutput): void {
    const queries = opts.queries!;
    const rngOf = rowGenerators(opts);
    this.beginRows(queries);
    try {
      if (this.stage !== 'softmax' || rows === 0) {
        sampleRowRange(this.name, this.supportSize(), (r) => this.rowDistribution(queries, r), rngOf, opts, scored, 0, rows, out, 0);
        return;
      }
      const prefetch = this.prefetch ??= new SoftmaxPrefetch(this.internals, this.dist!);
      // without row streams every row draws from opts.rng in turn: replay with a copy of it
      const replay = opts.rowStreams ? null : Rng.fromState(opts.rng.state());
      for (let r0 = 0; r0 < rows;) {
        const r1 = prefetch.plan(queries, r0, rows, opts.m, replay ?? rngOf, scored, opts.exclude ?? null);
        prefetch.score(queries);
        const distOf = (r: number): RowDistribution => {
          const dist = this.rowDistribution(queries, r);
          prefetch.install(r);
          return dist;
        };
        sampleRowRange(this.name, this.supportSize(), distOf, rngOf, opts, scored, r0, r1, out, 0);
        r0 = r1;
      }
    } finally {
      this.endRows();
    }
  }

  /** Softmax stage: the bucket-logit prefetch of {@link MidxSampler.sampleRows} (made on first use after each re-index). */
  private prefetch: SoftmaxPrefetch | null = null;

  /** Measured milliseconds per row of each thread (0: the calling thread), smoothed. */
  private rowCost: number[] = [];

  /** Updates thread `p`'s time per row with a range of `rows` rows that took `ms`. */
  private noteRowCost(p: number, ms: number, rows: number): void {
    if (rows <= 0 || !(ms >= 0)) return;
    const c = ms / rows;
    const prev = this.rowCost[p];
    this.rowCost[p] = prev === undefined ? c : 0.8 * prev + 0.2 * c;
  }

  /** Range bounds of `parts` threads over `rows` rows, each thread's share ∝ its speed. */
  private splitRows(rows: number, parts: number): number[] {
    const speed: number[] = [];
    for (let p = 0; p < parts; p++) {
      const c = this.rowCost[p];
      speed.push(c !== undefined && c > 0 ? 1 / c : 1);
    }
    // a thread with no measurement yet (or a much faster one) must not take everything
    const mean = speed.reduce((a, b) => a + b, 0) / parts;
    for (let p = 0; p < parts; p++) speed[p] = Math.min(Math.max(speed[p]!, mean / 4), mean * 4);
    const total = speed.reduce((a, b) => a + b, 0);
    const bounds = [0];
    let acc = 0;
    for (let p = 0; p < parts; p++) {
      acc += speed[p]!;
      bounds.push(p + 1 === parts ? rows : Math.min(rows, Math.round((acc / total) * rows)));
    }
    bounds[1] = Math.max(bounds[1]!, Math.min(rows, MIN_ROWS_PER_THREAD));
    for (let p = 2; p <= parts; p++) bounds[p] = Math.max(bounds[p]!, bounds[p - 1]!);
    return bounds;
  }

  /** Rows each codebook is fitted on by k-means (`trainSample`, default `256·K`). */
  get trainRows(): number {
    return this.trainSample ?? 256 * this.kOpt;
  }

  /** The current codebooks (null before `build`). */
  codebooks(): MidxCodebooks | null {
    return this.cb;
  }

  /** Codes `(k1, k2)` of class `id`. */
  codesOf(id: number): [number, number] {
    this.requireBuilt();
    return [this.code1[id]!, this.code2[id]!];
  }

  /**
   * Trains the codebooks on `table` (warm-started from the previous codebooks with `refitIters`
   * Lloyd steps when their shape still fits, else k-means++ and `iters` steps) and indexes every
   * class.
   * @throws ImpossibleError for PQ on one-dimensional rows; OptionError/ShapeError for a popularity of the wrong length
   */
  build(table: ClassTable): void {
    const t0 = performance.now();
    const { dp, w1, w2 } = codebookWidths(table, this.codebook);
    if (this.codebook === 'pq' && dp < 2) {
      throw new ImpossibleError("midx 'pq' splits each row in two halves and needs d' ≥ 2 (d ≥ 2, or a bias); use codebook 'rq'");
    }
    const n = table.n;
    const K = Math.min(this.kOpt, n);
    const prev = this.cb && this.cb.k === K && this.cb.w1 === w1 && this.cb.w2 === w2 && this.cb.kind === this.codebook ? this.cb : null;
    const iters = prev ? this.refitIters : this.iters;
    // both codebooks are fitted on one random subset of the rows (all rows when n is small);
    // the whole table is never copied: every row is then assigned block by block
    const fitN = Math.max(K, Math.min(n, this.trainSample ?? 256 * K));
    const x = augmentedRows(table, sampleRows(n, fitN, this.rng));
    const part1 = this.codebook === 'pq' ? columns(x, fitN, dp, 0, w1) : x;
    const r1 = kmeans(part1, fitN, w1, K, this.rng, { iters, initial: prev?.c1 ?? null });
    let part2: Float32Array;
    if (this.codebook === 'pq') {
      part2 = columns(x, fitN, dp, w1, dp);
    } else {
      part2 = x; // residual of the fitted rows, in place
      for (let i = 0; i < fitN; i++) {
        const co = r1.assign[i]! * dp;
        for (let t = 0; t < dp; t++) part2[i * dp + t] -= r1.centroids[co + t]!;
      }
    }
    const r2 = kmeans(part2, fitN, w2, K, this.rng, { iters, initial: prev?.c2 ?? null });
    this.kmeansIters = r1.iterations + r2.iterations;
    const cb: MidxCodebooks = { kind: this.codebook, k: K, w1, w2, c1: r1.centroids, c2: r2.centroids };
    const a1 = new Int32Array(n);
    const a2 = new Int32Array(n);
    assignCodes(table, cb, null, n, a1, a2);
    this.install(table, table.n, table.d, cb, a1, a2);
    this.buildMs = performance.now() - t0;
  }

  /**
   * Indexes `table` with the given codebooks (no training): each class goes to its nearest
   * codewords, exactly as `update` assigns moved classes.
   * @throws ShapeError when the codebooks do not fit the table
   */
  buildWithCodebooks(table: ClassTable, cb: MidxCodebooks): void {
    const t0 = performance.now();
    const { dp, w1, w2 } = codebookWidths(table, this.codebook);
    if (cb.kind !== this.codebook || cb.w1 !== w1 || cb.w2 !== w2) {
      throw new ShapeError(`midx codebooks (${cb.kind}, widths ${cb.w1}/${cb.w2}) do not fit a ${this.codebook} index of rows of width ${dp}`);
    }
    if (cb.c1.length !== cb.k * cb.w1 || cb.c2.length !== cb.k * cb.w2) throw new ShapeError('midx codebooks: codeword arrays have the wrong length');
    const copy: MidxCodebooks = { ...cb, c1: cb.c1.slice(), c2: cb.c2.slice() };
    const a1 = new Int32Array(table.n);
    const a2 = new Int32Array(table.n);
    assignCodes(table, copy, null, table.n, a1, a2);
    this.install(table, table.n, table.d, copy, a1, a2);
    this.buildMs = performance.now() - t0;
  }

  /**
   * Indexes `n` classes of rows of width `d` by given codes under the codebooks `cb`, with no
   * table: the index {@link MidxSampler.buildWithCodebooks} gives a table whose rows have these
   * codes (the same draws and `log q`). For the `'uniform'` and `'pop'` stages (the others read
   * the table); changed rows then come in through {@link MidxSampler.setCodes}, not `update`. What
   * a `ShardedSampler` with shared codebooks samples through: one index over every shard's codes.
   * @throws StateError for a stage that reads the table; ShapeError for codes of the wrong length
   * @internal
   */
  buildFromCodes(n: number, d: number, cb: MidxCodebooks, code1: Int32Array, code2: Int32Array): void {
    if (this.readsTable) throw new StateError(`midx: an index without a table cannot use the '${this.stage}' stage (it reads the table); use 'uniform' or 'pop'`);
    if (code1.length !== n || code2.length !== n) throw new ShapeError(`midx codes: ${code1.length} and ${code2.length} codes for ${n} classes`);
    const t0 = performance.now();
    this.install(null, n, d, cb, code1, code2);
    this.buildMs = performance.now() - t0;
  }

  /**
   * Sets the codes of the classes `ids` (an index from {@link MidxSampler.buildFromCodes}) and
   * moves them between buckets, as `update` does after re-assigning them.
   * @internal
   */
  setCodes(ids: Int32Array, code1: Int32Array, code2: Int32Array): void {
    this.requireBuilt();
    const t0 = performance.now();
    this.moveCodes(ids, code1, code2);
    this.updateMs = performance.now() - t0;
  }

  /** Sets the codes of `ids` and rebuilds the buckets if a class moved. */
  private moveCodes(ids: Int32Array, code1: Int32Array, code2: Int32Array): void {
    let moved = false;
    for (let k = 0; k < ids.length; k++) {
      const i = ids[k]!;
      if (code1[k] !== this.code1[i] || code2[k] !== this.code2[i]) {
        this.code1[i] = code1[k]!;
        this.code2[i] = code2[k]!;
        moved = true;
      }
    }
    if (moved) this.reindex();
  }

  /** The codes of every class (read-only views). @internal */
  get codes(): { code1: Int32Array; code2: Int32Array } {
    this.requireBuilt();
    return { code1: this.code1, code2: this.code2 };
  }

  private install(table: ClassTable | null, n: number, d: number, cb: MidxCodebooks, a1: Int32Array, a2: Int32Array): void {
    if (this.threadsOpt > 1 && this.owned === null) {
      if (startThreads === null) {
        throw new OptionError(`midx threads: ${this.threadsOpt} needs Node's worker_threads (import samplex's Node entry); use threads: 1 here`);
      }
      this.owned = startThreads(this.threadsOpt - 1);
      this.workers = this.owned;
    }
    if (this.popOpt !== null && this.popOpt.length !== n) {
      throw new ShapeError(`midx popularity has length ${this.popOpt.length}, expected one weight per class (n = ${n})`);
    }
    this.support = n;
    if (this.stage === 'pop') {
      let tot = 0;
      let support = 0;
      for (let i = 0; i < n; i++) {
        tot += this.popOpt![i]!;
        if (this.popOpt![i]! > 0) support++;
      }
      if (!(tot > 0)) throw new ImpossibleError("midx stage 'pop': every popularity is 0, so no class can be drawn; give positive weights");
      this.support = support;
    }
    this.table = table;
    this.cb = cb;
    this.code1 = a1;
    this.code2 = a2;
    this.n = n;
    this.dim = d;
    this.built = true;
    this.reindex();
  }

  /** Rebuilds the CSR buckets and the static weights from the codes (`O(n + K²)`). */
  private reindex(): void {
    const K = this.cb!.k;
    const n = this.n;
    const off = new Int32Array(K * K + 1);
    for (let i = 0; i < n; i++) off[this.code1[i]! * K + this.code2[i]! + 1]!++;
    for (let b = 0; b < K * K; b++) off[b + 1] += off[b]!;
    const fillPos = off.slice(0, K * K);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[fillPos[this.code1[i]! * K + this.code2[i]!]!++] = i;
    this.bucketOff = off;
    this.bucketIds = ids;
    const pos = new Int32Array(n);
    for (let p = 0; p < n; p++) pos[ids[p]!] = p;
    this.bucketPos = pos;
    const W = new Float64Array(K * K);
    if (this.stage === 'pop') {
      const cum = new Float64Array(n);
      for (let b = 0; b < K * K; b++) {
        let s = 0;
        for (let p = off[b]!; p < off[b + 1]!; p++) {
          s += this.popOpt![ids[p]!]!;
          cum[p] = s;
        }
        W[b] = s;
      }
      this.popCum = cum;
    } else {
      for (let b = 0; b < K * K; b++) W[b] = off[b + 1]! - off[b]!;
    }
    this.bucketW = W;
    this.dist = new MidxRow(this.internals);
    this.dist.memo = this.scoreMemo;
    this.prefetch = null;
    this.workers?.setIndex(this.workerIndex());
  }

  /** Re-assigns the given (changed) rows to their nearest codewords and moves them between buckets. */
  override update(ids: ArrayLike<number>): void {
    super.update(ids);
    if (this.table === null) throw new StateError('midx: this index has no table to re-assign rows from (buildFromCodes); give the new codes with setCodes');
    const t0 = performance.now();
    const cnt = ids.length;
    const list = ids instanceof Int32Array ? ids : Int32Array.from(ids);
    const a1 = new Int32Array(cnt);
    const a2 = new Int32Array(cnt);
    assignCodes(this.table, this.cb!, list, cnt, a1, a2);
    this.moveCodes(list, a1, a2);
    this.updateMs = performance.now() - t0;
  }

  /** Codeword scores shared with the other shards of a composite (see {@link MidxSampler.shareCodewordScores}). */
  private scoreMemo: CodewordScoreMemo | null = null;

  /**
   * Shares the per-query codeword scores with the other midx samplers of a composite through
   * `memo` (null: stop sharing). Only for samplers indexed with the same codebooks
   * ({@link MidxSampler.buildWithCodebooks} of one set), whose scores for a query are equal.
   * @internal
   */
  shareCodewordScores(memo: CodewordScoreMemo | null): void {
    this.scoreMemo = memo;
    if (this.dist) this.dist.memo = memo;
  }

  /** The queries whose codeword scores `dist` holds for the whole batch (stages that read the table). */
  private batchQueries: Float32Array | null = null;

  /**
   * Stages that read the table (they never use helper threads) score the codewords of the
   * whole batch in one `kernels.matmulNT` call instead of row by row.
   */
  protected override beginRows(queries: Matrix | null): void {
    if (queries === null || !this.readsTable || !this.dist) return;
    this.dist.scoreBatch(queries.data, queries.rows);
    this.batchQueries = queries.data;
  }

  protected override endRows(): void {
    this.batchQueries = null;
  }

  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    const d = this.dist!;
    if (this.batchQueries !== null && queries!.data === this.batchQueries) d.setQueryScored(queries!.data, row * this.dim, row);
    else d.setQuery(queries!.data, row * this.dim);
    return d;
  }

  /**
   * Approximate top-`k` retrieval through the index: buckets ranked by `s¹(k1) + s²(k2)`,
   * taken until at least `candidates` classes (default `max(32·k, 1024)`) are collected, rescored
   * exactly with the table (`h·c + b`); returns the best `k` per query.
   * @throws ImpossibleError when `k > n`
   */
  topK(queries: Matrix, k: number, opts: { candidates?: number } = {}): TopK {
    this.requireBuilt();
    rejectUnknown(opts, ['candidates'], 'midx topK');
    intOption(k, 'k', 1);
    if (k > this.n) throw new ImpossibleError(`topK: k = ${k} exceeds the number of classes (${this.n}); lower k`);
    assertMatrix(queries, 'queries', this.dim);
    assertFinite(queries.data, 'queries', queries.cols);
    const budget = Math.max(k, opts.candidates === undefined ? Math.max(32 * k, 1024) : intOption(opts.candidates, 'candidates', 1));
    const B = queries.rows;
    const K = this.cb!.k;
    const ids = new Int32Array(B * k);
    const scores = new Float64Array(B * k);
    const cands = new Int32Array(B);
    const row = this.dist!;
    const order = new Int32Array(K * K);
    const bs = new Float64Array(K * K);
    const candIds: number[] = [];
    const candScores: number[] = [];
    const t = this.table!;
    for (let r = 0; r < B; r++) {
      row.codewordScores(queries.data, r * this.dim);
      let nb = 0;
      for (let b = 0; b < K * K; b++) {
        if (this.bucketOff[b + 1]! > this.bucketOff[b]!) {
          bs[b] = row.s1[(b / K) | 0]! + row.s2[b % K]!;
          order[nb++] = b;
        }
      }
      const ord = Array.from(order.subarray(0, nb)).sort((x, y) => bs[y]! - bs[x]!);
      candIds.length = 0;
      for (const b of ord) {
        for (let p = this.bucketOff[b]!; p < this.bucketOff[b + 1]!; p++) candIds.push(this.bucketIds[p]!);
        if (candIds.length >= budget) break;
      }
      candScores.length = candIds.length;
      for (let c = 0; c < candIds.length; c++) candScores[c] = t.logit(queries.data, r * this.dim, candIds[c]!);
      const idx = candIds.map((_, c) => c).sort((x, y) => candScores[y]! - candScores[x]! || candIds[x]! - candIds[y]!);
      for (let j = 0; j < k; j++) {
        ids[r * k + j] = candIds[idx[j]!]!;
        scores[r * k + j] = candScores[idx[j]!]!;
      }
      cands[r] = candIds.length;
    }
    return { ids, scores, candidates: cands };
  }

  /** Bytes held by the index (codebooks, codes, CSR buckets, weights); the class table is not counted. */
  get indexBytes(): number {
    const cb = this.cb;
    return (
      (cb ? cb.c1.byteLength + cb.c2.byteLength : 0) +
      this.code1.byteLength +
      this.code2.byteLength +
      this.bucketOff.byteLength +
      this.bucketIds.byteLength +
      this.bucketW.byteLength +
      this.popCum.byteLength
    );
  }

  protected override supportSize(): number {
    return this.support;
  }

  stats(): SamplerStats {
    const K = this.cb ? this.cb.k : 0;
    let nonEmpty = 0;
    let maxBucket = 0;
    for (let b = 0; b < K * K; b++) {
      const s = this.bucketOff[b + 1]! - this.bucketOff[b]!;
      if (s > 0) nonEmpty++;
      if (s > maxBucket) maxBucket = s;
    }
    return {
      built: this.built,
      classes: this.n,
      codebook: this.codebook,
      stage: this.stage,
      codewords: K,
      nonEmptyBuckets: nonEmpty,
      maxBucketSize: maxBucket,
      kmeansIterations: this.kmeansIters,
      memoryBytes: this.indexBytes,
      buildMs: this.buildMs,
      lastUpdateMs: this.updateMs,
      threads: this.workers ? this.workers.count + 1 : 1,
    };
  }

  /** @internal state shared with the per-row distribution */
  get internals(): MidxInternals {
    if (!this.built) throw new StateError("sampler 'midx' is not built; call build(table) first");
    return {
      cb: this.cb!,
      d: this.dim,
      n: this.n,
      stage: this.stage,
      table: this.table!,
      code1: this.code1,
      code2: this.code2,
      bucketOff: this.bucketOff,
      bucketIds: this.bucketIds,
      bucketPos: this.bucketPos,
      bucketW: this.bucketW,
      popCum: this.popCum,
      pop: this.popOpt,
    };
  }
}

/**
 * Read-only view of a built index used by {@link MidxRow} (plain data: it can be copied to
 * another thread). `table` is only read by the `'residual'` and `'softmax'` stages.
 * @internal
 */
export interface MidxInternals {
  cb: MidxCodebooks;
  d: number;
  n: number;
  stage: MidxStage;
  table: ClassTable | null;
  code1: Int32Array;
  code2: Int32Array;
  bucketOff: Int32Array;
  bucketIds: Int32Array;
  /** CSR position of each class (`bucketIds[bucketPos[i]] = i`) */
  bucketPos: Int32Array;
  bucketW: Float64Array;
  popCum: Float64Array;
  pop: Float64Array | null;
}

/**
 * The codeword scores of the last query row, shared by the midx samplers of a composite whose
 * shards were all indexed with one set of codebooks (same codewords, so the same scores for a
 * query): the first shard to see a row computes them, the others copy them. Valid while the
 * composite holds one batch of queries open ({@link CodewordScoreMemo.reset} at both ends).
 * @internal
 */
export class CodewordScoreMemo {
  /** The queries and offset of the row whose scores are held (null: none). */
  h: Float32Array | null = null;
  ho = -1;
  s1 = new Float64Array(0);
  s2 = new Float64Array(0);
  /** Whether a batch is open (the memo is used only then: the queries do not change within one). */
  open = false;

  /** Opens (`true`) or closes a batch, forgetting the held row. */
  reset(open: boolean): void {
    this.open = open;
    this.h = null;
    this.ho = -1;
  }
}

/**
 * The three-stage distribution of one query (scratch reused across rows).
 * @internal
 */
export class MidxRow implements RowDistribution {
  lastLogQ = 0;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  private readonly ix: MidxInternals;
  private readonly K: number;
  private readonly h1: Float32Array;
  private readonly h2: Float32Array;
  private readonly e2: Float64Array;
  private readonly A: Float64Array;
  private readonly cum1: Float64Array;
  private readonly logP1: Float64Array;
  private readonly cum2: Float64Array;
  private readonly stamp2: Int32Array;
  /** `log` of each row's stage-2 total (cached with `cum2`). */
  private readonly logTot2: Float64Array;
  /** `'uniform'` stage: `log e2(k2)` of the query of generation `logE2Gen`. */
  private readonly logE2: Float64Array;
  private logE2Gen = 0;
  private gen = 0;
  private total1 = 0;
  /** `log` of the stage-1 total (its weights scaled by `e^{−massShift}`), and that shift. */
  private logTotal1 = -Infinity;
  private massShift = 0;
  /** residual stage: per-class weights and per-bucket cumulative (CSR order) for this query */
  private readonly g: Float64Array;
  private readonly gCum: Float64Array;
  private readonly W: Float64Array;
  private readonly logitBuf: Float32Array;
  /** Codeword scores of the residual stage: all zero (the class weights carry the whole logit). */
  private readonly zeros: Float64Array;
  /** softmax stage: the query, and per bucket (stamped per query) the logits, their log-sum-exp and the cumulative exp(o − max) in CSR order */
  private hq: Float32Array = new Float32Array(0);
  private bBuf: Float32Array = new Float32Array(64);
  private readonly bLogit: Float64Array;
  private readonly bStamp: Int32Array;
  private readonly bLse: Float64Array;
  private readonly bCum: Float64Array;
  /** softmax stage, batched draws: buckets and last-stage uniforms of a round, buckets to compute, their concatenated ids */
  private pb = new Int32Array(0);
  private pu = new Float64Array(0);
  private readonly fresh: Int32Array;
  private gIds = new Int32Array(0);
  /** Non-empty buckets per first code (CSR over `k1`): second codes and static weights (not for `'residual'`). */
  private readonly nzOff: Int32Array;
  private readonly nzK2: Int32Array;
  private readonly nzW: Float64Array;
  /** Batch scoring: both codebooks as `2K × d` rows over the query, their constant parts (the query's appended 1), the scores. */
  private fused: Float32Array | null = null;
  private fusedConst: Float64Array | null = null;
  private batch = new Float32Array(0);
  /** Batch scoring of the non-residual stages: `exp(s2 − max)` per row, the stage-1 sums, `W` as a `K × K` float32 matrix. */
  private batchE2 = new Float32Array(0);
  private batchA = new Float32Array(0);
  private batchRows = 0;
  private wMat: Float32Array | null = null;

  constructor(ix: MidxInternals) {
    this.ix = ix;
    const K = ix.cb.k;
    this.K = K;
    this.h1 = new Float32Array(ix.cb.w1);
    this.h2 = new Float32Array(ix.cb.w2);
    this.s1 = new Float64Array(K);
    this.s2 = new Float64Array(K);
    this.e2 = new Float64Array(K);
    this.A = new Float64Array(K);
    this.cum1 = new Float64Array(K);
    this.logP1 = new Float64Array(K);
    this.stamp2 = new Int32Array(K);
    this.logTot2 = new Float64Array(K);
    this.logE2 = new Float64Array(K);
    const res = ix.stage === 'residual';
    this.g = new Float64Array(res ? ix.n : 0);
    this.gCum = new Float64Array(res ? ix.n : 0);
    this.W = res ? new Float64Array(K * K) : ix.bucketW;
    this.logitBuf = new Float32Array(res ? 1024 : 0);
    this.zeros = new Float64Array(res ? K : 0);
    const soft = ix.stage === 'softmax';
    this.bStamp = new Int32Array(soft ? K * K : 0);
    this.bLse = new Float64Array(soft ? K * K : 0);
    this.bCum = new Float64Array(soft ? ix.n : 0);
    this.bLogit = new Float64Array(soft ? ix.n : 0);
    this.fresh = new Int32Array(soft ? K * K : 0);
    // the stage-1 sums Σ_k2 e2(k2)·W(k1,k2) skip the empty buckets (often most of the K²)
    const W = res ? null : ix.bucketW;
    let nz = 0;
    if (W) for (let b = 0; b < K * K; b++) if (W[b] !== 0) nz++;
    this.cum2 = new Float64Array(W ? nz : K * K);
    this.nzOff = new Int32Array(W ? K + 1 : 0);
    this.nzK2 = new Int32Array(nz);
    this.nzW = new Float64Array(nz);
    if (W) {
      let p = 0;
      for (let k1 = 0; k1 < K; k1++) {
        for (let k2 = 0; k2 < K; k2++) {
          const w = W[k1 * K + k2]!;
          if (w === 0) continue;
          this.nzK2[p] = k2;
          this.nzW[p++] = w;
        }
        this.nzOff[k1 + 1] = p;
      }
    }
  }

  /**
   * Scores the codewords of `rows` queries (`rows × d`) at once with `kernels.matmulNT` (float32
   * products), for {@link MidxRow.setQueryScored}.
   */
  scoreBatch(queries: Float32Array, rows: number): void {
    const K = this.K;
    const d = this.ix.d;
    if (this.fused === null) this.fuseCodebooks();
    if (this.batch.length < rows * 2 * K) {
      this.batch = new Float32Array(rows * 2 * K);
      this.batchE2 = new Float32Array(rows * K);
      this.batchA = new Float32Array(rows * K);
    }
    this.batchRows = rows;
    if (rows === 0) return;
    kernels.matmulNT(queries, rows, this.fused!, 0, 2 * K, d, this.batch);
    if (this.nzOff.length === 0) return;
    // the stage-1 sums of the whole batch as one product: A[r, k1] = Σ_k2 e2[r, k2]·W(k1, k2)
    const b = this.batch;
    const c = this.fusedConst!;
    const e2 = this.batchE2;
    for (let r = 0; r < rows; r++) {
      const o = r * 2 * K + K;
      let m2 = -Infinity;
      for (let k = 0; k < K; k++) m2 = Math.max(m2, b[o + k]! + c[K + k]!);
      for (let k = 0; k < K; k++) e2[r * K + k] = Math.exp(b[o + k]! + c[K + k]! - m2);
    }
    if (this.wMat === null) this.wMat = Float32Array.from(this.ix.bucketW);
    kernels.matmulNT(e2, rows, this.wMat, 0, K, K, this.batchA);
  }

  /** Both codebooks as rows over the `d` query coordinates plus a constant (the coordinate of the appended 1). */
  private fuseCodebooks(): void {
    const cb = this.ix.cb;
    const K = this.K;
    const d = this.ix.d;
    const f = new Float32Array(2 * K * d);
    const c = new Float64Array(2 * K);
    const put = (row: number, w: Float32Array, width: number, k: number, first: number): void => {
      for (let t = 0; t < width; t++) {
        const coord = first + t;
        const v = w[k * width + t]!;
        if (coord < d) f[row * d + coord] = v;
        else c[row]! += v;
      }
    };
    for (let k = 0; k < K; k++) {
      put(k, cb.c1, cb.w1, k, 0);
      put(K + k, cb.c2, cb.w2, k, cb.kind === 'pq' ? cb.w1 : 0);
    }
    this.fused = f;
    this.fusedConst = c;
  }

  /**
   * Scores shared with the other shards of a composite indexed with the same codebooks (see
   * {@link CodewordScoreMemo}); null: none.
   */
  memo: CodewordScoreMemo | null = null;

  /** Codeword scores `s1`, `s2` (float64, `K·d'` per query) for query `h[ho .. ho+d)`: all `topK` needs. */
  codewordScores(h: Float32Array, ho: number): void {
    const memo = this.memo !== null && this.memo.open ? this.memo : null;
    if (memo !== null && memo.h === h && memo.ho === ho && memo.s1.length === this.K) {
      this.s1.set(memo.s1);
      this.s2.set(memo.s2);
      return;
    }
    this.computeCodewordScores(h, ho);
    if (memo !== null) {
      if (memo.s1.length !== this.K) {
        memo.s1 = new Float64Array(this.K);
        memo.s2 = new Float64Array(this.K);
      }
      memo.s1.set(this.s1);
      memo.s2.set(this.s2);
      memo.h = h;
      memo.ho = ho;
    }
  }

  private computeCodewordScores(h: Float32Array, ho: number): void {
    const cb = this.ix.cb;
    const K = this.K;
    const d = this.ix.d;
    // augmented query [h, 1] split per codebook
    const h1 = this.h1;
    if (cb.kind === 'pq') {
      const h2 = this.h2;
      for (let t = 0; t < cb.w1; t++) h1[t] = t < d ? h[ho + t]! : 1;
      for (let t = 0; t < cb.w2; t++) h2[t] = cb.w1 + t < d ? h[ho + cb.w1 + t]! : 1;
      scores(h1, cb.c1, K, cb.w1, this.s1);
      scores(h2, cb.c2, K, cb.w2, this.s2);
      return;
    }
    for (let t = 0; t < d; t++) h1[t] = h[ho + t]!;
    if (cb.w1 > d) h1[d] = 1;
    // codeword scores in float64 (K·d' per query); residual codewords see the same query
    scores(h1, cb.c1, K, cb.w1, this.s1);
    scores(h1, cb.c2, K, cb.w2, this.s2);
  }

  /** Computes the codeword scores and the stage-1 distribution for query `h[ho .. ho+d)`. */
  setQuery(h: Float32Array, ho: number): void {
    this.beginQuery(h, ho);
    this.codewordScores(h, ho);
    this.stageOne(h, ho);
  }

  /** As {@link MidxRow.setQuery}, with the codeword scores of row `r` of the last {@link MidxRow.scoreBatch}. */
  setQueryScored(h: Float32Array, ho: number, r: number): void {
    if (r >= this.batchRows) throw new StateError(`midx: row ${r} is not in the scored batch of ${this.batchRows} rows`);
    this.beginQuery(h, ho);
    const K = this.K;
    const o = r * 2 * K;
    const b = this.batch;
    const c = this.fusedConst!;
    for (let k = 0; k < K; k++) {
      this.s1[k] = b[o + k]! + c[k]!;
      this.s2[k] = b[o + K + k]! + c[K + k]!;
    }
    if (this.nzOff.length === 0) {
      this.stageOne(h, ho);
      return;
    }
    // the batch's e2 (as float32) and stage-1 sums; stage 2 sums the same e2, scaled by e^{−max s2}
    let m2 = -Infinity;
    for (let k = 0; k < K; k++) if (this.s2[k]! > m2) m2 = this.s2[k]!;
    this.massShift = m2;
    const e2 = this.batchE2;
    for (let k = 0; k < K; k++) this.e2[k] = e2[r * K + k]!;
    this.stageOneFrom(this.s1, this.batchA, r * K);
  }

  /** New query: invalidates the per-query caches. */
  private beginQuery(h: Float32Array, ho: number): void {
    const ix = this.ix;
    if (++this.gen >= 0x7fffffff) {
      this.gen = 1;
      this.logE2Gen = 0;
      this.stamp2.fill(0);
      this.bStamp.fill(0);
    }
    if (ix.stage === 'softmax') this.hq = h.subarray(ho, ho + ix.d);
  }

  /** The stage-1 distribution from the codeword scores `s1`, `s2` (and the residual weights). */
  private stageOne(h: Float32Array, ho: number): void {
    const ix = this.ix;
    const K = this.K;
    let s1 = this.s1;
    let s2 = this.s2;
    if (ix.stage === 'residual') {
      this.residualWeights(h, ho);
      // the class weights already carry the whole logit: codeword factors are 1
      s1 = this.zeros;
      s2 = s1;
    }
    let m2 = -Infinity;
    for (let j = 0; j < K; j++) if (s2[j]! > m2) m2 = s2[j]!;
    for (let j = 0; j < K; j++) this.e2[j] = Math.exp(s2[j]! - m2);
    this.massShift = m2 + (ix.stage === 'residual' ? this.residualShift : 0);
    // a row's stage-one sum is its stage-two total: summed by row2, whose running sums are kept as
    // the row's cumulative weights for this query (a drawn row is not summed a second time)
    const A = this.A;
    for (let k1 = 0; k1 < K; k1++) A[k1] = this.row2(k1);
    this.stageOneFrom(s1, A, 0, this.logTot2);
  }

  /**
   * The stage-1 distribution `∝ e^{s1(k1)}·A(k1)` from the sums `A[ao .. ao+K)` (`logA`: their
   * logarithms where already taken).
   */
  private stageOneFrom(s1: Float64Array, A: Float64Array | Float32Array, ao: number, logA: Float64Array | null = null): void {
    const K = this.K;
    let m1 = -Infinity;
    for (let k1 = 0; k1 < K; k1++) {
      const a = A[ao + k1]!;
      const lw = a > 0 ? s1[k1]! + (logA === null ? Math.log(a) : logA[k1]!) : -Infinity;
      this.logP1[k1] = lw;
      if (lw > m1) m1 = lw;
    }
    let tot = 0;
    for (let k1 = 0; k1 < K; k1++) {
      const e = this.logP1[k1] === -Infinity ? 0 : Math.exp(this.logP1[k1]! - m1);
      tot += e;
      this.cum1[k1] = tot;
      // a weight that underflows is never drawn: its log-probability is −∞ too
      if (e === 0) this.logP1[k1] = -Infinity;
    }
    this.total1 = tot;
    const lt = m1 + Math.log(tot);
    this.logTotal1 = lt;
    for (let k1 = 0; k1 < K; k1++) this.logP1[k1] -= lt;
  }

  /** Residual stage: the `max o` the class weights `g` are scaled by. */
  private residualShift = 0;

  /**
   * `log Σ_{k1,k2} e^{s¹(k1) + s²(k2)} W(k1,k2)`, the mass of the bucket stages: the quantised
   * softmax's partition function for `'uniform'` (`Σ_i e^{h̃·ĉ_i}`), `Σ_i pop_i e^{h̃·ĉ_i}` for
   * `'pop'`, the exact `Σ_i e^{o_i}` for `'residual'`; for `'softmax'` that of `'uniform'` (the
   * buckets are drawn as with `'uniform'`). Comparable between indexes that share codebooks.
   */
  get logMass(): number {
    return this.logTotal1 + this.massShift;
  }

  /** Residual stage: `g_i = exp(o_i − max o)` and per-bucket cumulative sums, `O(n·d)`. */
  private residualWeights(h: Float32Array, ho: number): void {
    const ix = this.ix;
    const t = ix.table!;
    const n = ix.n;
    const d = ix.d;
    const buf = this.logitBuf;
    const hq = h.subarray(ho, ho + d);
    const g = this.g;
    let mx = -Infinity;
    for (let c0 = 0; c0 < n; c0 += buf.length) {
      const cnt = Math.min(buf.length, n - c0);
      kernels.matmulNT(hq, 1, t.weights, c0, cnt, d, buf);
      for (let c = 0; c < cnt; c++) {
        const o = buf[c]! + (t.bias ? t.bias[c0 + c]! : 0);
        g[c0 + c] = o;
        if (o > mx) mx = o;
      }
    }
    for (let i = 0; i < n; i++) g[i] = Math.exp(g[i]! - mx);
    this.residualShift = mx;
    const off = ix.bucketOff;
    const ids = ix.bucketIds;
    const K2 = this.K * this.K;
    for (let b = 0; b < K2; b++) {
      let s = 0;
      for (let p = off[b]!; p < off[b + 1]!; p++) {
        s += g[ids[p]!]!;
        this.gCum[p] = s;
      }
      this.W[b] = s;
    }
  }

  /**
   * Softmax stage: the logits (`kernels.gatherDot`, plus the bias), their log-sum-exp and the cumulative
   * `exp(o − max)` of bucket `b`'s classes, in CSR order (cached per query); returns the bucket's total.
   */
  private bucket(b: number): number {
    const ix = this.ix;
    const a = ix.bucketOff[b]!;
    const end = ix.bucketOff[b + 1]!;
    if (this.bStamp[b] !== this.gen) {
      const cnt = end - a;
      const buf = this.logitScratch(cnt);
      kernels.gatherDot(this.hq, 1, ix.table!.weights, ix.d, ix.bucketIds.subarray(a, end), cnt, true, buf);
      this.fillBucket(b, buf, 0);
    }
    return end > a ? this.bCum[end - 1]! : 0;
  }

  /** `bBuf`, grown to at least `cnt` entries. */
  private logitScratch(cnt: number): Float32Array {
    if (this.bBuf.length < cnt) this.bBuf = new Float32Array(Math.max(cnt, 2 * this.bBuf.length));
    return this.bBuf;
  }

  /** Caches bucket `b`'s logits (dot products at `buf[at..)`, plus the bias), max and cumulative exp. */
  private fillBucket(b: number, buf: Float32Array, at: number): void {
    const ix = this.ix;
    const bias = ix.table!.bias;
    const a = ix.bucketOff[b]!;
    const end = ix.bucketOff[b + 1]!;
    const lg = this.bLogit;
    const cum = this.bCum;
    let mx = -Infinity;
    for (let p = a; p < end; p++) {
      const o = buf[at + p - a]! + (bias ? bias[ix.bucketIds[p]!]! : 0);
      lg[p] = o;
      if (o > mx) mx = o;
    }
    let s = 0;
    for (let p = a; p < end; p++) {
      s += expNonPos(lg[p]! - mx);
      cum[p] = s;
    }
    this.bLse[b] = mx + Math.log(s);
    this.bStamp[b] = this.gen;
  }

  /**
   * Softmax stage: the logits of every not yet cached bucket among `bs[0..count)`, in one
   * `gatherDot` call (the same values as one call per bucket).
   */
  private fillBuckets(bs: Int32Array, count: number): void {
    const ix = this.ix;
    const off = ix.bucketOff;
    let total = 0;
    let fresh = 0;
    for (let j = 0; j < count; j++) {
      const b = bs[j]!;
      // stamp −gen marks a bucket already listed in this call
      if (this.bStamp[b] === this.gen || this.bStamp[b] === -this.gen) continue;
      this.bStamp[b] = -this.gen;
      this.fresh[fresh++] = b;
      total += off[b + 1]! - off[b]!;
    }
    if (fresh === 0) return;
    if (this.gIds.length < total) this.gIds = new Int32Array(Math.max(total, 2 * this.gIds.length));
    const gIds = this.gIds;
    let at = 0;
    const bIds = ix.bucketIds;
    for (let f = 0; f < fresh; f++) {
      const b = this.fresh[f]!;
      for (let p = off[b]!; p < off[b + 1]!; p++) gIds[at++] = bIds[p]!;
    }
    const buf = this.logitScratch(total);
    if (total > 0) kernels.gatherDot(this.hq, 1, ix.table!.weights, ix.d, gIds.subarray(0, total), total, true, buf);
    at = 0;
    for (let f = 0; f < fresh; f++) {
      const b = this.fresh[f]!;
      this.fillBucket(b, buf, at);
      at += off[b + 1]! - off[b]!;
    }
  }

  /**
   * Cumulative stage-2 weights of row `k1` (cached per query): over the row's non-empty buckets
   * (CSR positions), or over all `K` for the `'residual'` stage; returns the row's total.
   */
  private row2(k1: number): number {
    const sparse = this.nzOff.length > 0;
    const K = this.K;
    const a = sparse ? this.nzOff[k1]! : k1 * K;
    const end = sparse ? this.nzOff[k1 + 1]! : a + K;
    if (this.stamp2[k1] !== this.gen) {
      let s = 0;
      const e2 = this.e2;
      const cum2 = this.cum2;
      // a dense row, or a sparse one without empty buckets (most rows of a small index: its codes
      // are 0 .. K−1), is summed without the code indirection; the sparse sum skips exact zeros
      const w = sparse ? this.nzW : this.W;
      if (!sparse || end - a === K) {
        for (let k2 = 0; k2 < K; k2++) {
          s += e2[k2]! * w[a + k2]!;
          cum2[a + k2] = s;
        }
      } else {
        const nzK2 = this.nzK2;
        for (let p = a; p < end; p++) {
          s += e2[nzK2[p]!]! * w[p]!;
          cum2[p] = s;
        }
      }
      this.stamp2[k1] = this.gen;
      this.logTot2[k1] = Math.log(s);
    }
    return end > a ? this.cum2[end - 1]! : 0;
  }

  /**
   * The second code drawn in row `k1` for `x` uniform on `[0, row2(k1))`. The sparse and the dense
   * cumulative sums agree on the non-empty buckets, so both give the same code.
   */
  private pickK2(k1: number, x: number): number {
    if (this.nzOff.length === 0) return searchCumulative(this.cum2, k1 * this.K, this.K, x) - k1 * this.K;
    const a = this.nzOff[k1]!;
    return this.nzK2[searchCumulative(this.cum2, a, this.nzOff[k1 + 1]! - a, x)]!;
  }

  /**
   * Softmax stage: the buckets of the next `count` draws, consuming `rng` exactly as `count`
   * draws would (two uniforms for the bucket, one for the class); the classes are not drawn.
   */
  planBuckets(rng: Rng, count: number, out: Int32Array): void {
    const K = this.K;
    for (let j = 0; j < count; j++) {
      const k1 = searchCumulative(this.cum1, 0, K, rng.float() * this.total1);
      const tot2 = this.row2(k1);
      out[j] = k1 * K + this.pickK2(k1, rng.float() * tot2);
      rng.float();
    }
  }

  /**
   * Softmax stage: bucket `b`'s dot products with the current query, computed elsewhere
   * (`dots[at ..)`, CSR order, the values of `kernels.gatherDot`), cached as if computed here.
   */
  preloadBucket(b: number, dots: Float32Array, at: number): void {
    if (this.bStamp[b] !== this.gen) this.fillBucket(b, dots, at);
  }

  logProb(id: number): number {
    const ix = this.ix;
    return this.logProbAt(ix.code1[id]!, ix.code2[id]!, ix.bucketPos[id]!, id);
  }

  /**
   * `log q` of class `id`, with codes `(k1, k2)`, at CSR position `p` (what {@link MidxRow.logProb}
   * looks up; a draw knows them already). For `'uniform'` the bucket's size cancels:
   * `q = P(k1) · e2(k2) / Σ_k2' e2(k2')·W(k1,k2')`.
   */
  private logProbAt(k1: number, k2: number, p: number, id: number): number {
    const ix = this.ix;
    const l1 = this.logP1[k1]!;
    if (l1 === -Infinity) return -Infinity;
    this.row2(k1);
    const b = k1 * this.K + k2;
    const e2 = this.e2[k2]!;
    const wb = this.W[b]!;
    if (!(e2 * wb > 0)) return -Infinity;
    switch (ix.stage) {
      case 'uniform':
        return l1 + Math.log(e2) - this.logTot2[k1]!;
      case 'pop':
        return l1 + Math.log(e2 * wb) - this.logTot2[k1]! + (Math.log(ix.pop![id]!) - Math.log(wb));
      case 'softmax':
        this.bucket(b);
        return l1 + Math.log(e2 * wb) - this.logTot2[k1]! + (this.bLogit[p]! - this.bLse[b]!);
      default:
        return l1 + Math.log(e2 * wb) - this.logTot2[k1]! + (Math.log(this.g[id]!) - Math.log(wb));
    }
  }

  draw(rng: Rng): number {
    const ix = this.ix;
    const K = this.K;
    const k1 = searchCumulative(this.cum1, 0, K, rng.float() * this.total1);
    const tot2 = this.row2(k1);
    const k2 = this.pickK2(k1, rng.float() * tot2);
    const b = k1 * K + k2;
    const a = ix.bucketOff[b]!;
    const size = ix.bucketOff[b + 1]! - a;
    let p: number;
    switch (ix.stage) {
      case 'uniform':
        p = a + rng.int(size);
        break;
      case 'pop':
        p = searchCumulative(ix.popCum, a, size, rng.float() * this.W[b]!);
        break;
      case 'softmax':
        p = searchCumulative(this.bCum, a, size, rng.float() * this.bucket(b));
        break;
      default:
        p = searchCumulative(this.gCum, a, size, rng.float() * this.W[b]!);
    }
    const id = ix.bucketIds[p]!;
    this.lastLogQ = this.logProbAt(k1, k2, p, id);
    return id;
  }

  /**
   * `count` draws, as `count` calls of {@link MidxRow.draw}. The `softmax` stage first draws
   * every bucket (and the uniform of its last stage, in the generator's order), computes the
   * logits of all the new buckets in one kernel call, then picks the classes: one call per row
   * instead of one per bucket.
   */
  drawMany(rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void {
    const ix = this.ix;
    if (ix.stage === 'uniform') {
      this.drawManyUniform(rng, count, ids, logQ, o);
      return;
    }
    if (ix.stage !== 'softmax') {
      drawOneByOne(this, rng, count, ids, logQ, o);
      return;
    }
    const K = this.K;
    if (this.pb.length < count) {
      this.pb = new Int32Array(count);
      this.pu = new Float64Array(count);
    }
    const pb = this.pb;
    const pu = this.pu;
    for (let j = 0; j < count; j++) {
      const k1 = searchCumulative(this.cum1, 0, K, rng.float() * this.total1);
      const tot2 = this.row2(k1);
      const k2 = this.pickK2(k1, rng.float() * tot2);
      pb[j] = k1 * K + k2;
      pu[j] = rng.float();
    }
    this.fillBuckets(pb, count);
    for (let j = 0; j < count; j++) {
      const b = pb[j]!;
      const a = ix.bucketOff[b]!;
      const p = searchCumulative(this.bCum, a, ix.bucketOff[b + 1]! - a, pu[j]! * this.bucket(b));
      const id = ix.bucketIds[p]!;
      ids[o + j] = id;
      logQ[o + j] = this.logProbAt((b / K) | 0, b % K, p, id);
    }
    if (count > 0) this.lastLogQ = logQ[o + count - 1]!;
  }
  /**
   * `'uniform'` stage: `count` calls of {@link MidxRow.draw} in one loop (the same generator
   * use, ids and `log q`, bit for bit), with `log e2(k2)` taken once per query instead of once
   * per draw.
   */
  private drawManyUniform(rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void {
    const ix = this.ix;
    const K = this.K;
    const e2 = this.e2;
    const logE2 = this.logE2;
    if (this.logE2Gen !== this.gen) {
      for (let k = 0; k < K; k++) logE2[k] = Math.log(e2[k]!);
      this.logE2Gen = this.gen;
    }
    const cum1 = this.cum1;
    const total1 = this.total1;
    const logP1 = this.logP1;
    const logTot2 = this.logTot2;
    const W = this.W;
    const off = ix.bucketOff;
    const bIds = ix.bucketIds;
    for (let j = 0; j < count; j++) {
      const k1 = searchCumulative(cum1, 0, K, rng.float() * total1);
      const tot2 = this.row2(k1);
      const k2 = this.pickK2(k1, rng.float() * tot2);
      const b = k1 * K + k2;
      const a = off[b]!;
      // the member's position for now: its id is read below, with the others'
      ids[o + j] = a + rng.int(off[b + 1]! - a);
      // as logProbAt for 'uniform' (row2(k1) is cached above)
      const l1 = logP1[k1]!;
      logQ[o + j] = l1 === -Infinity || !(e2[k2]! * W[b]! > 0) ? -Infinity : l1 + logE2[k2]! - logTot2[k1]!;
    }
    // the bucket members of the draws, read in one loop after the draws, so that those reads
    // (random ones in an index of millions of classes, each a cache miss) overlap
    const at = ids.subarray(o, o + count);
    gatherI32(at, bIds, at, count);
    if (count > 0) this.lastLogQ = logQ[o + count - 1]!;
  }
}

/** Most prefetched logits held at once (a chunk of rows ends when its buckets reach it). */
const PREFETCH_ENTRIES = 1 << 23;

/**
 * The softmax stage's prefetch of bucket logits for a chunk of rows (see
 * `MidxSampler.sampleRows`): `plan` lists each row's buckets, `score` computes them grouped by
 * bucket, `install` hands a row's buckets to the row distribution.
 * @internal
 */
class SoftmaxPrefetch {
  private readonly ix: MidxInternals;
  private readonly dist: MidxRow;
  private readonly K2: number;
  /** Per bucket, the last row (+1, from the chunk's start) that listed it. */
  private readonly seen: Int32Array;
  private drawn = new Int32Array(0);
  /** Pairs (row of the chunk, bucket), row by row; `rowStart[r]` the first pair of row r; `pairAt` the logits' offset. */
  private pairRow: Int32Array = new Int32Array(64);
  private pairB: Int32Array = new Int32Array(64);
  private pairAt: Int32Array = new Int32Array(64);
  private rowStart = new Int32Array(2);
  private pairs = 0;
  private r0 = 0;
  private rows = 0;
  private entries = 0;
  private dots = new Float32Array(0);
  private keys = new Float64Array(0);
  /** Per pair in bucket order, its query row; per group (bucket), its first pair, CSR start and size. */
  private qRows = new Int32Array(0);
  private gOff = new Int32Array(1);
  private gA = new Int32Array(0);
  private gSize = new Int32Array(0);
  private stamp = 0;

  constructor(ix: MidxInternals, dist: MidxRow) {
    this.ix = ix;
    this.dist = dist;
    this.K2 = ix.cb.k * ix.cb.k;
    this.seen = new Int32Array(this.K2);
  }

  /** Adds bucket `b` to row `rl` of the chunk unless listed already. */
  private add(rl: number, b: number): void {
    if (this.seen[b] === this.stamp) return;
    this.seen[b] = this.stamp;
    if (this.pairs === this.pairB.length) {
      const grow = (a: Int32Array): Int32Array => {
        const x = new Int32Array(2 * a.length);
        x.set(a);
        return x;
      };
      this.pairRow = grow(this.pairRow);
      this.pairB = grow(this.pairB);
      this.pairAt = grow(this.pairAt);
    }
    this.pairRow[this.pairs] = rl;
    this.pairB[this.pairs++] = b;
    this.entries += this.ix.bucketOff[b + 1]! - this.ix.bucketOff[b]!;
  }

  /** Bucket of class `id`. */
  private bucketOf(id: number): number {
    return this.ix.code1[id]! * this.ix.cb.k + this.ix.code2[id]!;
  }

  /**
   * Lists the buckets of rows `r0 ..` (until about {@link PREFETCH_ENTRIES} logits or `rows`):
   * the first `m` draws of each row replayed with `rng` (one generator for all rows, consumed in
   * turn) or `rngOf(r)` (row streams: a fresh copy of the row's own generator), plus the buckets
   * of its scored and excluded ids. Returns the end of the chunk.
   */
  plan(
    queries: Matrix, r0: number, rows: number, m: number, rng: Rng | ((r: number) => Rng), scored: Labels | null, exclude: Labels | null,
  ): number {
    const d = this.ix.d;
    if (this.drawn.length < m) this.drawn = new Int32Array(m);
    this.pairs = 0;
    this.entries = 0;
    this.r0 = r0;
    let r = r0;
    if (this.rowStart.length < 2) this.rowStart = new Int32Array(2);
    this.rowStart[0] = 0;
    for (; r < rows && (r === r0 || this.entries < PREFETCH_ENTRIES); r++) {
      const rl = r - r0;
      if (++this.stamp >= 0x7fffffff) {
        this.stamp = 1;
        this.seen.fill(0);
      }
      this.dist.setQueryScored(queries.data, r * d, r);
      this.dist.planBuckets(typeof rng === 'function' ? rng(r) : rng, m, this.drawn);
      for (let j = 0; j < m; j++) this.add(rl, this.drawn[j]!);
      if (scored) for (let k = scored.offsets[r]!; k < scored.offsets[r + 1]!; k++) this.add(rl, this.bucketOf(scored.ids[k]!));
      if (exclude) {
        for (let k = exclude.offsets[r]!; k < exclude.offsets[r + 1]!; k++) this.add(rl, this.bucketOf(exclude.ids[k]!));
      }
      if (this.rowStart.length < rl + 2) {
        const x = new Int32Array(2 * (rl + 2));
        x.set(this.rowStart);
        this.rowStart = x;
      }
      this.rowStart[rl + 1] = this.pairs;
    }
    this.rows = r - r0;
    return r;
  }

  /**
   * Computes the listed logits in one `kernels.bucketDots` call: the pairs grouped by bucket,
   * each bucket's class rows against the chunk's rows that listed it (the values of one
   * `kernels.gatherDot` per bucket).
   */
  score(queries: Matrix): void {
    const ix = this.ix;
    const P = this.pairs;
    if (this.dots.length < this.entries) this.dots = new Float32Array(Math.max(this.entries, 2 * this.dots.length));
    if (this.keys.length < P) {
      const len = Math.max(P, 2 * this.keys.length);
      this.keys = new Float64Array(len);
      this.qRows = new Int32Array(len);
      this.gOff = new Int32Array(len + 1);
      this.gA = new Int32Array(len);
      this.gSize = new Int32Array(len);
    }
    // pairs ordered by bucket (then by row): key = bucket·2^26 + pair (exact in float64)
    const keys = this.keys.subarray(0, P);
    for (let p = 0; p < P; p++) keys[p] = this.pairB[p]! * 67108864 + p;
    keys.sort();
    const { qRows, gOff, gA, gSize } = this;
    let at = 0;
    let groups = 0;
    for (let g = 0; g < P;) {
      const b = Math.floor(keys[g]! / 67108864);
      let e = g + 1;
      while (e < P && Math.floor(keys[e]! / 67108864) === b) e++;
      const a = ix.bucketOff[b]!;
      const size = ix.bucketOff[b + 1]! - a;
      gOff[groups] = g;
      gA[groups] = a;
      gSize[groups++] = size;
      for (let k = g; k < e; k++) {
        const p = keys[k]! - b * 67108864;
        qRows[k] = this.r0 + this.pairRow[p]!;
        this.pairAt[p] = at;
        at += size;
      }
      g = e;
    }
    gOff[groups] = P;
    kernels.bucketDots(queries.data, ix.d, ix.table!.weights, ix.bucketIds, groups, qRows, gOff, gA, gSize, this.dots);
  }

  /** Hands row `r`'s prefetched buckets to the row distribution (after its `setQuery…`). */
  install(r: number): void {
    const rl = r - this.r0;
    if (rl < 0 || rl >= this.rows) return;
    for (let p = this.rowStart[rl]!; p < this.rowStart[rl + 1]!; p++) this.dist.preloadBucket(this.pairB[p]!, this.dots, this.pairAt[p]!);
  }
}

/** `out[j] = h · c[j]` for the `k` rows of `c` (`k × w`), float64 accumulation. */
function scores(h: Float32Array, c: Float32Array, k: number, w: number, out: Float64Array): void {
  const w4 = w - (w % 4);
  for (let j = 0; j < k; j++) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const o = j * w;
    let t = 0;
    for (; t < w4; t += 4) {
      s0 += h[t]! * c[o + t]!;
      s1 += h[t + 1]! * c[o + t + 1]!;
      s2 += h[t + 2]! * c[o + t + 2]!;
      s3 += h[t + 3]! * c[o + t + 3]!;
    }
    for (; t < w; t++) s0 += h[t]! * c[o + t]!;
    out[j] = s0 + s1 + (s2 + s3);
  }
}

/**
 * `count` distinct row indices of `[0, n)` drawn uniformly without replacement (Floyd's
 * algorithm, `O(count)` memory), in ascending order; all rows when `count ≥ n`.
 */
export function sampleRows(n: number, count: number, rng: Rng): Int32Array {
  if (count >= n) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = rng.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}

/** The augmented rows `[c, b]` of the listed classes (bias appended when the table has one), `rows.length × d'`. */
function augmentedRows(t: ClassTable, rows: Int32Array): Float32Array {
  const d = t.d;
  const dp = d + (t.bias ? 1 : 0);
  const x = new Float32Array(rows.length * dp);
  const w = t.weights;
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const so = i * d;
    const o = r * dp;
    for (let c = 0; c < d; c++) x[o + c] = w[so + c]!;
    if (t.bias) x[o + d] = t.bias[i]!;
  }
  return x;
}

/** Rows per block of {@link assignCodes} (bounds its scratch, whatever the size of the table). */
export const ASSIGN_BLOCK_ROWS = 4096;

/**
 * Codes of table rows under codebooks `cb`: the nearest first codeword, then the nearest second
 * codeword (of the other half for PQ, of the residual for RQ), through `kernels.kmeansAssign`,
 * in blocks of at most `block` rows whose augmented rows are staged in a scratch of
 * `block × d'` floats — the table is never copied whole. Rows are `ids[0..count)`, or
 * `0..count-1` when `ids` is null; their codes go to `out1[k]`, `out2[k]`. Each row's codes depend
 * only on that row (any block size gives the same codes).
 */
export function assignCodes(
  table: ClassTable, cb: MidxCodebooks, ids: Int32Array | null, count: number, out1: Int32Array, out2: Int32Array,
  block = ASSIGN_BLOCK_ROWS,
): void {
  const d = table.d;
  const bias = table.bias;
  const w = table.weights;
  const dp = d + (bias ? 1 : 0);
  const pq = cb.kind === 'pq';
  const bs = Math.max(1, Math.min(block, count));
  const x1 = new Float32Array(bs * cb.w1);
  const x2 = pq ? new Float32Array(bs * cb.w2) : x1;
  const k1 = new Int32Array(bs);
  const k2 = new Int32Array(bs);
  for (let r0 = 0; r0 < count; r0 += bs) {
    const cnt = Math.min(bs, count - r0);
    if (ids === null && !pq && !bias) {
      x1.set(w.subarray(r0 * d, (r0 + cnt) * d)); // consecutive rows: one copy
    } else {
      for (let r = 0; r < cnt; r++) {
        const i = ids ? ids[r0 + r]! : r0 + r;
        const so = i * d;
        if (pq) {
          // first half [0, w1) and second half [w1, d') of [c, b]; the bias is coordinate d
          const h1 = Math.min(cb.w1, d);
          x1.set(w.subarray(so, so + h1), r * cb.w1);
          x2.set(w.subarray(so + h1, so + d), r * cb.w2);
          if (bias) x2[r * cb.w2 + cb.w2 - 1] = bias[i]!;
        } else {
          x1.set(w.subarray(so, so + d), r * dp);
          if (bias) x1[r * dp + d] = bias[i]!;
        }
      }
    }
    kernels.kmeansAssign(x1, cnt, cb.c1, cb.k, cb.w1, k1, null);
    if (!pq) {
      for (let r = 0; r < cnt; r++) {
        const o = r * dp;
        const co = k1[r]! * dp;
        for (let t = 0; t < dp; t++) x1[o + t] -= cb.c1[co + t]!;
      }
    }
    kernels.kmeansAssign(x2, cnt, cb.c2, cb.k, cb.w2, k2, null);
    out1.set(k1.subarray(0, cnt), r0);
    out2.set(k2.subarray(0, cnt), r0);
  }
}

/** Columns `[a, b)` of an `n × d` matrix as a fresh `n × (b−a)` array. */
function columns(x: Float32Array, n: number, d: number, a: number, b: number): Float32Array {
  const w = b - a;
  const out = new Float32Array(n * w);
  for (let i = 0; i < n; i++) for (let t = 0; t < w; t++) out[i * w + t] = x[i * d + a + t]!;
  return out;
}

/** Row width `d'` (bias folded in) and the widths of the two codebooks' parts. */
function codebookWidths(table: ClassTable, kind: MidxCodebook): { dp: number; w1: number; w2: number } {
  const dp = table.d + (table.bias ? 1 : 0);
  const w1 = kind === 'pq' ? Math.ceil(dp / 2) : dp;
  return { dp, w1, w2: kind === 'pq' ? dp - w1 : dp };
}

/** Rows `[r0, r1)` of a CSR label set, offsets from 0 (the ids are a view). */
function sliceRows(l: Labels, r0: number, r1: number): Labels {
  const a = l.offsets[r0]!;
  const offsets = new Int32Array(r1 - r0 + 1);
  for (let r = r0; r <= r1; r++) offsets[r - r0] = l.offsets[r]! - a;
  return { ids: l.ids.subarray(a, l.offsets[r1]!), offsets };
}
