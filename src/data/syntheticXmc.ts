/**
 * A synthetic extreme-classification dataset (clearly synthetic: no real data) with the structure
 * of real XMC data and a known Bayes-optimal ranking. Browser-safe.
 *
 * Generative model (docs/results.md states it with the figures): `L` labels with Zipf
 * frequencies `π_l ∝ (l+1)^(−s)`; each label has `m` signature features (one in each of `m`
 * disjoint blocks of prime sizes `p_j`, `sig_j(l) = off_j + (a_j·l + b_j) mod p_j`, so a feature
 * is shared by about `L/p_j` labels and no two labels have the same signature when `∏ p_j ≥ L`)
 * and belongs to cluster `c(l) = l mod C`, whose `M` cluster features it shares with the other
 * labels of the cluster. A row draws one label `y ~ π`, then `T` tokens independently:
 * a signature feature of `y` (uniform over its `m`) with probability `α`, a cluster feature of
 * `c(y)` (uniform over `M`) with probability `β`, any feature (uniform over `F`) otherwise; the
 * row's input is the bag of token counts `n_f`. So
 * `P(f | y) = α·[f ∈ sig(y)]/m + β·[f ∈ clu(c(y))]/M + (1−α−β)/F` and the Bayes-optimal label
 * of a row is `argmax_y log π_y + Σ_f n_f log P(f | y)` ({@link SyntheticXmc.bayesTop}), found
 * exactly without scanning all labels: only labels sharing a signature feature with the row can
 * differ from their cluster's most frequent label.
 *
 * Streamed: row `r` depends only on `(seed, r)` ({@link SyntheticXmc.row}); nothing per label is
 * stored (the Zipf draw is rejection-inversion, O(1) memory), and the training rows are read as a
 * {@link RowSource} ({@link SyntheticXmc.trainSource}), generated batch by batch, never held.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { intOption, numOption, parseDecimal, rejectUnknown } from '../core/validate.js';
import { SparseBuilder, type DatasetSplit, type RowSource, type SparseDataset } from './sparse.js';

/** Options of {@link SyntheticXmc}; every field but `labels` and `rows` has a default. */
export interface SyntheticXmcOptions {
  /** Number of labels `L`. */
  labels: number;
  /** Training rows (rows `0 … rows−1`). */
  rows: number;
  /** Test rows (rows `rows … rows+test−1`; default `min(10000, max(100, rows/10))`). */
  test?: number;
  /** Features `F` (default `2^⌈log2(L/4)⌉` clamped to `[4096, 2^20]`). */
  features?: number;
  /** Label clusters `C` (default `round(√L)`). */
  clusters?: number;
  /** Signature features per label `m` (default 4). */
  signature?: number;
  /** Features per cluster `M` (default 8). */
  clusterFeatures?: number;
  /** Tokens per row `T` (default 8). */
  tokens?: number;
  /** Zipf exponent `s` of the label frequencies (default 1). */
  zipf?: number;
  /** Probability `α` that a token is a signature feature of the row's label (default 0.25). */
  pSignature?: number;
  /** Probability `β` that a token is a feature of the label's cluster (default 0.25). */
  pCluster?: number;
  /** Seed (default 1). */
  seed?: number;
}

/** A fully resolved {@link SyntheticXmcOptions}. */
export type ResolvedSyntheticXmc = Required<SyntheticXmcOptions>;

/** The keys of a `synthetic:` data spec, in the order the canonical spec writes them. */
export const SYNTHETIC_XMC_KEYS = [
  'labels', 'rows', 'test', 'features', 'clusters', 'signature', 'clusterFeatures', 'tokens', 'zipf', 'pSignature', 'pCluster', 'seed',
] as const;

const COUNT_KEYS = new Set(['labels', 'rows', 'test', 'features', 'clusters', 'signature', 'clusterFeatures', 'tokens', 'seed']);

/** The largest label count (ids and the signature arithmetic stay exact in doubles). */
export const SYNTHETIC_MAX_LABELS = 2 ** 27;

/**
 * Parses the part after `synthetic:` of a data spec: comma-separated `key=value` with the keys of
 * {@link SYNTHETIC_XMC_KEYS}; counts in decimal or exponent notation (`1e6`, `2.5e5`).
 * @throws OptionError for an unknown or repeated key, a value that is not a number, or a missing `labels` / `rows`
 */
export function parseSyntheticXmcSpec(spec: string): SyntheticXmcOptions {
  const out: Record<string, number> = {};
  const body = spec.trim();
  for (const part of body === '' ? [] : body.split(',')) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    const raw = eq > 0 ? part.slice(eq + 1).trim() : '';
    if (key === '' || raw === '') throw new OptionError(`--data synthetic: '${part}' is not key=value; write e.g. synthetic:labels=1e6,rows=2e6`);
    if (!(SYNTHETIC_XMC_KEYS as readonly string[]).includes(key)) {
      throw new OptionError(`--data synthetic: unknown key '${key}'; known keys: ${SYNTHETIC_XMC_KEYS.join(', ')}`);
    }
    if (key in out) throw new OptionError(`--data synthetic: key '${key}' given twice; give it once`);
    const v = parseDecimal(raw);
    if (!Number.isFinite(v) || (COUNT_KEYS.has(key) && !Number.isInteger(v))) {
      throw new OptionError(`--data synthetic: ${key}=${raw} is not ${COUNT_KEYS.has(key) ? 'a whole number (decimal or exponent notation, e.g. 1e6)' : 'a decimal number'}`);
    }
    out[key] = v;
  }
  const missing = ['labels', 'rows'].filter((k) => !(k in out));
  if (missing.length > 0) throw new OptionError(`--data synthetic: missing ${missing.join(' and ')}; write e.g. synthetic:labels=1e6,rows=2e6`);
  return out as unknown as SyntheticXmcOptions;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** `a^{-1} mod p` (p prime, 0 < a < p). */
function modInverse(a: number, p: number): number {
  let [r0, r1] = [BigInt(p), BigInt(a)];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  const inv = Number(((t0 % BigInt(p)) + BigInt(p)) % BigInt(p));
  return inv;
}

function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

/**
 * Exact Zipf draws on `{1, …, n}` with `P(k) ∝ k^(−s)` by rejection-inversion (Hörmann and
 * Derflinger, 1996): O(1) memory and time per draw for any `n`.
 */
export class ZipfSampler {
  private readonly hX1: number;
  private readonly hN: number;
  private readonly sq: number;

  /** @throws OptionError for `n < 1` or `s ≤ 0` */
  constructor(readonly n: number, readonly s: number) {
    intOption(n, 'zipf n', 1);
    numOption(s, 'zipf exponent', 0, Infinity, true);
    this.hX1 = this.hIntegral(1.5) - 1;
    this.hN = this.hIntegral(n + 0.5);
    this.sq = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  private hIntegral(x: number): number {
    const lx = Math.log(x);
    return helper2((1 - this.s) * lx) * lx;
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x));
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }

  /** One draw in `[1, n]`. */
  sample(rng: Rng): number {
    for (;;) {
      const u = this.hN + rng.float() * (this.hX1 - this.hN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.sq || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }
}

/** One generated row: its label and its bag of token counts (features ascending). */
export interface SyntheticRow {
  label: number;
  features: Int32Array;
  counts: Float32Array;
}

/**
 * The generator of a synthetic XMC dataset (see the module description for the model).
 * Everything derives from the options; {@link SyntheticXmc.row} gives any row by index.
 */
export class SyntheticXmc {
  /** The resolved options. */
  readonly options: ResolvedSyntheticXmc;
  /** Block sizes `p_j` (primes), offsets `off_j`, multipliers `a_j`, inverses `a_j^{-1}` and shifts `b_j`. */
  private readonly p: Float64Array;
  private readonly off: Float64Array;
  private readonly a: Float64Array;
  private readonly aInv: Float64Array;
  private readonly b: Float64Array;
  /** First cluster feature. */
  private readonly clusterOff: number;
  private readonly zipf: ZipfSampler;
  private readonly base: Rng;
  /** `log` of the Zipf normaliser `Σ_k k^(−s)`. */
  private readonly logNorm: number;
  private readonly logNoise: number;
  private readonly logSig: number;
  private readonly logClu: number;
  private readonly logSigClu: number;

  /** @throws OptionError for values out of range or a feature space too small for the labels */
  constructor(o: SyntheticXmcOptions) {
    rejectUnknown(o, SYNTHETIC_XMC_KEYS, '--data synthetic');
    const L = intOption(o.labels, 'synthetic labels', 2, SYNTHETIC_MAX_LABELS);
    const rows = intOption(o.rows, 'synthetic rows', 1, 2 ** 31 - 1);
    const test = intOption(o.test ?? Math.min(10000, Math.max(100, Math.round(rows / 10))), 'synthetic test', 1, 2 ** 31 - 1);
    if (rows + test > 2 ** 31 - 1) throw new OptionError(`--data synthetic: rows + test = ${rows + test} exceeds 2^31 − 1; lower rows or test`);
    const features = intOption(o.features ?? Math.min(2 ** 20, Math.max(4096, 2 ** Math.ceil(Math.log2(L / 4)))), 'synthetic features', 16, 2 ** 26);
    const clusters = intOption(o.clusters ?? Math.max(1, Math.round(Math.sqrt(L))), 'synthetic clusters', 1, L);
    const m = intOption(o.signature ?? 4, 'synthetic signature', 1, 64);
    const M = intOption(o.clusterFeatures ?? 8, 'synthetic clusterFeatures', 1);
    const tokens = intOption(o.tokens ?? 8, 'synthetic tokens', 1, 4096);
    const zipf = numOption(o.zipf ?? 1, 'synthetic zipf', 0, 10, true);
    const alpha = numOption(o.pSignature ?? 0.25, 'synthetic pSignature', 0, 1);
    const beta = numOption(o.pCluster ?? 0.25, 'synthetic pCluster', 0, 1);
    if (alpha + beta > 1) throw new OptionError(`--data synthetic: pSignature + pCluster = ${alpha + beta} exceeds 1; lower one of them`);
    const seed = intOption(o.seed ?? 1, 'synthetic seed', 0);
    this.options = { labels: L, rows, test, features, clusters, signature: m, clusterFeatures: M, tokens, zipf, pSignature: alpha, pCluster: beta, seed };
    const cluTotal = clusters * M;
    const block = Math.floor((features - cluTotal) / m);
    if (cluTotal > features / 2 || block < 2) {
      throw new OptionError(`--data synthetic: ${clusters} clusters × ${M} cluster features leave too few of the ${features} features for ${m} signature blocks; raise features or lower clusters / clusterFeatures`);
    }
    const rng = Rng.fromSeed(seed, 0x5a11);
    this.p = new Float64Array(m);
    this.off = new Float64Array(m);
    this.a = new Float64Array(m);
    this.aInv = new Float64Array(m);
    this.b = new Float64Array(m);
    // distinct primes ≤ block, descending: labels share a signature feature with ≈ L/p_j others
    let q = block;
    let prod = 1;
    for (let j = 0; j < m; j++) {
      while (q >= 2 && !isPrime(q)) q--;
      if (q < 2) throw new OptionError(`--data synthetic: the signature blocks of ${block} features hold fewer than ${m} primes; raise features or lower signature`);
      this.p[j] = q;
      this.off[j] = j * block;
      this.a[j] = 1 + rng.int(q - 1);
      this.aInv[j] = modInverse(this.a[j]!, q);
      this.b[j] = rng.int(q);
      prod *= q;
      q--;
    }
    if (prod < L) {
      throw new OptionError(`--data synthetic: ${m} signature features per label in blocks of ${block} cannot give ${L} labels distinct signatures (∏ p_j = ${prod}); raise features or signature`);
    }
    this.clusterOff = m * block;
    this.zipf = new ZipfSampler(L, zipf);
    this.base = Rng.fromSeed(seed, 0x5a12);
    let norm = 0;
    for (let k = L; k >= 1; k--) norm += Math.exp(-zipf * Math.log(k));
    this.logNorm = Math.log(norm);
    const noise = (1 - alpha - beta) / features;
    this.logNoise = Math.log(noise);
    this.logSig = Math.log(alpha / m + noise);
    this.logClu = Math.log(beta / M + noise);
    this.logSigClu = Math.log(alpha / m + beta / M + noise);
  }

  /** Feature count `F`. */
  get numFeatures(): number {
    return this.options.features;
  }

  /** Label count `L`. */
  get numLabels(): number {
    return this.options.labels;
  }

  /** The `j`-th signature feature of label `l`. */
  signatureFeature(l: number, j: number): number {
    const p = this.p[j]!;
    return this.off[j]! + ((this.a[j]! * l + this.b[j]!) % p);
  }

  /** The cluster of label `l`. */
  clusterOf(l: number): number {
    return l % this.options.clusters;
  }

  /** `log π_l`, the exact log prior of label `l`. */
  logPrior(l: number): number {
    return -this.options.zipf * Math.log(l + 1) - this.logNorm;
  }

  /** `P(f | y)`: the probability that one token of a row with label `y` is feature `f`. */
  tokenProb(y: number, f: number): number {
    return Math.exp(this.logTokenProb(y, f));
  }

  private logTokenProb(y: number, f: number): number {
    const o = this.options;
    let sig = false;
    for (let j = 0; j < o.signature; j++) if (this.signatureFeature(y, j) === f) sig = true;
    const c0 = this.clusterOff + this.clusterOf(y) * o.clusterFeatures;
    const clu = f >= c0 && f < c0 + o.clusterFeatures;
    return sig ? (clu ? this.logSigClu : this.logSig) : clu ? this.logClu : this.logNoise;
  }

  /** Draws the label of a row (Zipf). */
  drawLabel(rng: Rng): number {
    return this.zipf.sample(rng) - 1;
  }

  /** Draws the `T` tokens of a row with label `y` into `out` (feature ids, in draw order). */
  drawTokens(y: number, rng: Rng, out: Int32Array): void {
    const o = this.options;
    const c0 = this.clusterOff + this.clusterOf(y) * o.clusterFeatures;
    for (let t = 0; t < o.tokens; t++) {
      const u = rng.float();
      if (u < o.pSignature) out[t] = this.signatureFeature(y, rng.int(o.signature));
      else if (u < o.pSignature + o.pCluster) out[t] = c0 + rng.int(o.clusterFeatures);
      else out[t] = rng.int(o.features);
    }
  }

  /** Row `r` (train rows `0 … rows−1`, then the test rows): a function of `(seed, r)` only. */
  row(r: number): SyntheticRow {
    const rng = this.base.fork(r);
    const y = this.drawLabel(rng);
    const tok = new Int32Array(this.options.tokens);
    this.drawTokens(y, rng, tok);
    tok.sort();
    let n = 0;
    for (let i = 0; i < tok.length; i++) if (i === 0 || tok[i] !== tok[i - 1]) n++;
    const features = new Int32Array(n);
    const counts = new Float32Array(n);
    let k = -1;
    for (let i = 0; i < tok.length; i++) {
      if (i === 0 || tok[i] !== tok[i - 1]) features[++k] = tok[i]!;
      counts[k]!++;
    }
    return { label: y, features, counts };
  }

  /** `log π_y + Σ_f n_f log P(f | y)`: the log joint of label `y` and a bag (up to a constant of the bag). */
  logJoint(y: number, features: ArrayLike<number>, counts: ArrayLike<number>): number {
    let s = this.logPrior(y);
    for (let i = 0; i < features.length; i++) s += counts[i]! * this.logTokenProb(y, features[i]!);
    return s;
  }

  /**
   * The Bayes-optimal label of a bag (the argmax of the posterior; ties to the smaller id) and its
   * log joint, without scanning all labels: the candidates are the labels sharing a signature
   * feature with the bag, plus for each cluster the most frequent label outside them (every other
   * label of the cluster has the same likelihood and a smaller prior).
   */
  bayesTop(features: ArrayLike<number>, counts: ArrayLike<number>): { label: number; logJoint: number } {
    const o = this.options;
    const L = o.labels;
    const cand = new Set<number>();
    const clusters = new Set<number>();
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      if (f >= this.clusterOff) {
        const c = Math.floor((f - this.clusterOff) / o.clusterFeatures);
        if (c < o.clusters) clusters.add(c);
        continue;
      }
      for (let j = 0; j < o.signature; j++) {
        const p = this.p[j]!;
        const v = f - this.off[j]!;
        if (v < 0 || v >= p) continue;
        // a·l + b ≡ v (mod p)  ⇔  l ≡ a⁻¹·(v − b) (mod p)
        const l0 = (this.aInv[j]! * (((v - this.b[j]!) % p) + p)) % p;
        for (let l = l0; l < L; l += p) cand.add(l);
      }
    }
    let best = -1;
    let bestS = -Infinity;
    const consider = (l: number): void => {
      const s = this.logJoint(l, features, counts);
      if (s > bestS || (s === bestS && l < best)) {
        best = l;
        bestS = s;
      }
    };
    for (const l of cand) consider(l);
    // the most frequent non-candidate of each touched cluster
    for (const c of clusters) {
      for (let l = c; l < L; l += o.clusters) {
        if (!cand.has(l)) {
          consider(l);
          break;
        }
      }
    }
    // the most frequent label sharing nothing with the bag
    for (let l = 0; l < L; l++) {
      if (!cand.has(l) && !clusters.has(this.clusterOf(l))) {
        consider(l);
        break;
      }
    }
    return { label: best, logJoint: bestS };
  }

  /** Rows `[r0, r1)` as a dataset (the bag counts as values). */
  rows(r0: number, r1: number): SparseDataset {
    const b = new SparseBuilder();
    const lab = new Int32Array(1);
    for (let r = r0; r < r1; r++) {
      const row = this.row(r);
      lab[0] = row.label;
      b.addRow(row.features, row.counts, lab);
    }
    return b.build({ numFeatures: this.options.features, numLabels: this.options.labels });
  }

  /**
   * The rows `rows` (indices into all rows, training then test), in that order, as a dataset: the
   * same arrays as {@link SyntheticXmc.rows} gives for them, built without a builder's buffers.
   * @throws OptionError for an index outside `[0, rows + test)`
   */
  gather(rows: ArrayLike<number>): SparseDataset {
    const o = this.options;
    const all = o.rows + o.test;
    const got: SyntheticRow[] = [];
    let nnz = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= all) throw new OptionError(`synthetic row ${r} is outside the ${all} rows (${o.rows} training, ${o.test} test)`);
      const row = this.row(r);
      got.push(row);
      nnz += row.features.length;
    }
    const indices = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    const offsets = new Int32Array(rows.length + 1);
    const ids = new Int32Array(rows.length);
    const labelOffsets = new Int32Array(rows.length + 1);
    let p = 0;
    for (let i = 0; i < got.length; i++) {
      const row = got[i]!;
      indices.set(row.features, p);
      values.set(row.counts, p);
      p += row.features.length;
      offsets[i + 1] = p;
      ids[i] = row.label;
      labelOffsets[i + 1] = i + 1;
    }
    return { features: { indices, values, offsets }, labels: { ids, offsets: labelOffsets }, numFeatures: o.features, numLabels: o.labels };
  }

  /**
   * The training rows `0 … rows−1` as a {@link RowSource}: generated on the fly, batch by batch
   * ({@link SyntheticXmc.gather}), never held; its id is the canonical spec.
   */
  trainSource(): RowSource {
    const o = this.options;
    return {
      numRows: o.rows,
      numFeatures: o.features,
      numLabels: o.labels,
      id: this.spec(),
      origin: 'generated on the fly',
      gather: (rows) => {
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          if (!Number.isInteger(r) || r < 0 || r >= o.rows) throw new OptionError(`synthetic training row ${r} is outside the ${o.rows} training rows`);
        }
        return this.gather(rows);
      },
    };
  }

  /** The test rows, held (at most 10,000 by default). */
  testRows(): SparseDataset {
    const o = this.options;
    return this.rows(o.rows, o.rows + o.test);
  }

  /**
   * The training rows and the test rows, both held (the training rows generated on the fly
   * instead: {@link SyntheticXmc.trainSource}).
   */
  split(): DatasetSplit {
    const o = this.options;
    return { train: this.rows(0, o.rows), test: this.testRows() };
  }

  /** The canonical spec of this dataset (every key, resolved): `synthetic:labels=…,…`. */
  spec(): string {
    const o = this.options as unknown as Record<string, number>;
    return 'synthetic:' + SYNTHETIC_XMC_KEYS.map((k) => `${k}=${o[k]}`).join(',');
  }

  /**
   * Bayes-optimal P@1 of test rows: the share of `rows` (test-row indices, `0`-based within the
   * test split) whose Bayes-optimal label is the row's label.
   */
  bayesP1(test: SparseDataset, rows: ArrayLike<number>): number {
    let hit = 0;
    const f = test.features;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const lo = f.offsets[r]!;
      const hi = f.offsets[r + 1]!;
      const top = this.bayesTop(f.indices.subarray(lo, hi), f.values.subarray(lo, hi));
      const y = test.labels.ids[test.labels.offsets[r]!]!;
      if (top.label === y) hit++;
    }
    return rows.length > 0 ? hit / rows.length : 0;
  }
}
