/**
 * Random-Fourier-feature adaptive sampler (RF-softmax; Rawat et al., NeurIPS 2019).
 *
 * Queries and classes are unit-normalized (a zero vector stays zero), because on the sphere
 * `exp(ν ĥ·ĉ) ∝ exp(−ν‖ĥ−ĉ‖²/2)`, a Gaussian kernel that random Fourier features estimate
 * without bias: `φ(u) = D^{-1/2}[cos(Wu); sin(Wu)]` with `W ~ N(0, ν I)` (`D` rows) drawn once per
 * `build` from the sampler's seeded generator and kept by `update`. Class biases are not used
 * (RF-softmax is defined for unit-norm embeddings); the proposal still reports exact `log q`.
 *
 * Tree levels: a node score is the estimate `φ(ĥ)·z(S)` of `Σ_S exp(ν ĥ·ĉ_i − ν)`; single
 * estimates can be ≤ 0, so each child score is clamped to at least `eps` times the positive
 * total of the two children (both children ≤ 0: split by class counts). Leaves: a class is drawn
 * ∝ the exact `exp(τ ĥ·ĉ_i)` of the RF-softmax logits (`τ` the temperature), so the last step is
 * exact and never needs clamping. The reported `log q` is the sum of the clamped log branch
 * probabilities actually used plus the log leaf probability: exactly the probability of the draw.
 *
 * Defaults: `ν = 4` — the RFF estimate's relative variance grows like `e^{ν}`, and at `ν ≈ 4`
 * with `D` in the hundreds most node estimates are positive and informative (about 20% of single
 * estimates are ≤ 0 at D = 1024); `τ = 8` (≥ ν: the leaf is sharper than the tree levels);
 * `features = 256` (`2·256` floats per node).
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { expNonPos } from '../core/fastExp.js';
import { Rng } from '../core/rng.js';
import { intOption, numOption, rejectUnknown } from '../core/validate.js';
import { kernels } from '../kernels/index.js';
import { KernelTreeSampler, type TreeKernel } from './kernelTree.js';
import type { SamplerStats } from './types.js';

/** Options of {@link RffSampler}. */
export interface RffOptions {
  /** Number `D` of random frequencies (`φ` has `2D` entries). Default 256. */
  features?: number;
  /** Kernel temperature `ν` of the tree levels (variance of `W`). Default 4. */
  nu?: number;
  /** Temperature `τ` of the leaf step, `q ∝ exp(τ ĥ·ĉ)` within a leaf. Default 8. */
  tau?: number;
  /** Relative floor of a child score (fraction of the two children's positive total). Default 0.01. */
  eps?: number;
  /** Maximum classes per fat leaf. Default 64. */
  leafSize?: number;
  /** Seed of the random frequencies `W` (a new `W` is drawn from this stream at every `build`). Default 0. */
  seed?: number;
}

/** Option names accepted by the constructor. */
export const RFF_OPTIONS = ['features', 'nu', 'tau', 'eps', 'leafSize', 'seed'] as const;

class RffKernel implements TreeKernel {
  readonly rowDim: number;
  readonly summaryDim: number;
  readonly perClass = 0;
  private readonly scale: number;
  private readonly scratch: Float32Array;
  constructor(
    dim: number,
    private readonly features: number,
    /** `features × dim` frequencies, row-major float32. */
    readonly w: Float32Array,
    private readonly tau: number,
    readonly eps: number,
    private readonly nu: number,
  ) {
    this.rowDim = dim;
    this.summaryDim = 2 * features;
    this.scale = 1 / Math.sqrt(features);
    this.scratch = new Float32Array(64 * features);
  }

  accumulate(rows: Float32Array, ro: number, count: number, sign: number, z: Float64Array, zo: number): void {
    const D = this.features;
    const d = this.rowDim;
    const s = sign * this.scale;
    for (let r0 = 0; r0 < count; r0 += 64) {
      const cnt = Math.min(64, count - r0);
      const start = ro + r0 * d;
      kernels.matmulNT(rows.subarray(start, start + cnt * d), cnt, this.w, 0, D, d, this.scratch);
      for (let r = 0; r < cnt; r++) {
        const o = r * D;
        for (let f = 0; f < D; f++) {
          const x = this.scratch[o + f]!;
          z[zo + f] += s * Math.cos(x);
          z[zo + D + f] += s * Math.sin(x);
        }
      }
    }
  }

  featurize(q: Float64Array, qo: number, qf: Float64Array, fo: number): void {
    const D = this.features;
    const d = this.rowDim;
    const w = this.w;
    for (let f = 0; f < D; f++) {
      let x = 0;
      const o = f * d;
      for (let k = 0; k < d; k++) x += w[o + k]! * q[qo + k]!;
      qf[fo + f] = this.scale * Math.cos(x);
      qf[fo + D + f] = this.scale * Math.sin(x);
    }
  }

  /**
   * The node estimate of `Σ exp(−ν(1 − ĥ·ĉ_i))` raised to its least possible value
   * `size·e^{−2ν}` and lowered to its largest, `size` (a single estimate can be ≤ 0).
   */
  clampMass(raw: number, size: number): number {
    const lo = size * Math.exp(-2 * this.nu);
    return raw > lo ? Math.min(raw, size) : lo;
  }

  leafWeight(s: number): number {
    // |ĥ·ĉ| ≤ 1, so the shift by τ keeps the weight in [e^{-2τ}, 1] (min: rounding can give s > 1)
    return expNonPos(Math.min(0, this.tau * (s - 1)));
  }
}

/** Unit-normalizes `x[xo .. xo+d)` into `out[oo .. oo+d)` (a zero vector stays zero). */
function normalizeInto(x: Float32Array, xo: number, d: number, out: Float32Array | Float64Array, oo = 0): void {
  let s = 0;
  for (let k = 0; k < d; k++) s += x[xo + k]! * x[xo + k]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < d; k++) out[oo + k] = x[xo + k]! * inv;
}

/**
 * RF-softmax sampler: a kernel tree over random Fourier features of the unit-normalized
 * embeddings, with clamped branch scores and an exact `exp(τ ĥ·ĉ)` leaf step. Registered as `'rff'`.
 */
export class RffSampler extends KernelTreeSampler {
  readonly name = 'rff';
  /** Random frequencies `D`. */
  readonly features: number;
  /** Kernel temperature of the tree levels. */
  readonly nu: number;
  /** Leaf temperature. */
  readonly tau: number;
  /** Relative clamp floor. */
  readonly eps: number;
  private readonly leafSize: number;
  private readonly rng: Rng;

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: RffOptions = {}) {
    super();
    rejectUnknown(opts, RFF_OPTIONS, 'rff sampler');
    this.features = opts.features === undefined ? 256 : intOption(opts.features, 'features', 1, 1 << 16);
    this.nu = opts.nu === undefined ? 4 : numOption(opts.nu, 'nu', 0, 1e4, true);
    this.tau = opts.tau === undefined ? 8 : numOption(opts.tau, 'tau', 0, 300);
    this.eps = opts.eps === undefined ? 0.01 : numOption(opts.eps, 'eps', 0, 1, true);
    this.leafSize = opts.leafSize === undefined ? 64 : intOption(opts.leafSize, 'leafSize', 1);
    this.rng = Rng.fromSeed(opts.seed === undefined ? 0 : intOption(opts.seed, 'seed', 0));
  }

  protected makeKernel(table: ClassTable): TreeKernel {
    const w = new Float32Array(this.features * table.d);
    this.rng.fillNormal(w, Math.sqrt(this.nu));
    return new RffKernel(table.d, this.features, w, this.tau, this.eps, this.nu);
  }

  protected storeRow(table: ClassTable, i: number, out: Float32Array): void {
    normalizeInto(table.weights, i * table.d, table.d, out);
  }

  protected storeQuery(h: Float32Array, ho: number, out: Float64Array, oo: number): void {
    normalizeInto(h, ho, this.dim, out, oo);
  }

  protected leafSizeFor(): number {
    return this.leafSize;
  }

  /** The random frequencies `W` (`features × d`, row-major) of the current build, or null. */
  frequencies(): Float32Array | null {
    return this.tree ? (this.tree.kernel as RffKernel).w : null;
  }

  stats(): SamplerStats {
    return { ...this.treeStats(), features: this.features, nu: this.nu, tau: this.tau, eps: this.eps };
  }
}
