/**
 * Quadratic-kernel adaptive sampler (Blanc & Rendle, ICML 2018).
 *
 * Proposal `q(i | h) ∝ K(h, c_i) = α (h̃·c̃_i)² + 1` with biases folded in as
 * `h̃ = [h, 1]`, `c̃_i = [c_i, b_i]`. The feature map is the symmetric upper-triangle form
 * `φ(x) = [√α · (x_k x_l · (k<l ? √2 : 1))_{k≤l}; 1]`, so a node score is
 * `α · h̃ᵀ Z(S) h̃ + |S|` with `Z(S) = Σ_{i∈S} c̃_i c̃_iᵀ` kept as a float64 upper triangle
 * (`d'(d'+1)/2` entries, `d' = d + 1` with biases): `O(d²)` per node, `O(d²)` memory per node.
 * Fat leaves score their classes directly with `K`, so the reported `log q` telescopes to
 * `K(h,c_i) / Σ_j K(h,c_j)` exactly (up to rounding).
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { intOption, numOption, rejectUnknown } from '../core/validate.js';
import { KernelTreeSampler, type TreeKernel } from './kernelTree.js';
import type { SamplerStats } from './types.js';

/** Options of {@link QuadraticSampler}. */
export interface QuadraticOptions {
  /** Kernel weight `α` in `α(h·c)² + 1` (default 100). */
  alpha?: number;
  /**
   * Maximum classes per fat leaf. Default: `max(64, 2·d')` rounded up to a power of two, which
   * keeps the node summaries (`≈ 2n/leaf · d'²/2` float64) at or below the size of the table.
   */
  leafSize?: number;
}

/** Option names accepted by the constructor. */
export const QUADRATIC_OPTIONS = ['alpha', 'leafSize'] as const;

/** The quadratic kernel on stored rows `[c, b]` (or `c` without biases). */
class QuadraticKernel implements TreeKernel {
  readonly rowDim: number;
  readonly summaryDim: number;
  readonly eps = 0;
  readonly perClass = 1;
  constructor(
    dim: number,
    private readonly alpha: number,
  ) {
    this.rowDim = dim;
    this.summaryDim = (dim * (dim + 1)) / 2;
  }

  accumulate(rows: Float32Array, ro: number, count: number, sign: number, z: Float64Array, zo: number): void {
    const D = this.rowDim;
    let r = 0;
    // four rows per pass over the summary: a quarter of the read-modify-writes of z
    for (; r + 3 < count; r += 4) {
      const b0 = ro + r * D;
      const b1 = b0 + D;
      const b2 = b1 + D;
      const b3 = b2 + D;
      let idx = zo;
      for (let k = 0; k < D; k++) {
        const c0 = sign * rows[b0 + k]!;
        const c1 = sign * rows[b1 + k]!;
        const c2 = sign * rows[b2 + k]!;
        const c3 = sign * rows[b3 + k]!;
        for (let l = k; l < D; l++) {
          z[idx++] += c0 * rows[b0 + l]! + c1 * rows[b1 + l]! + c2 * rows[b2 + l]! + c3 * rows[b3 + l]!;
        }
      }
    }
    for (; r < count; r++) {
      const base = ro + r * D;
      let idx = zo;
      for (let k = 0; k < D; k++) {
        const ck = sign * rows[base + k]!;
        for (let l = k; l < D; l++) z[idx++] += ck * rows[base + l]!;
      }
    }
  }

  featurize(q: Float64Array, qo: number, qf: Float64Array, fo: number): void {
    const D = this.rowDim;
    const a = this.alpha;
    let idx = fo;
    for (let k = 0; k < D; k++) {
      const qk = a * q[qo + k]!;
      qf[idx++] = qk * q[qo + k]!;
      const q2 = 2 * qk;
      for (let l = k + 1; l < D; l++) qf[idx++] = q2 * q[qo + l]!;
    }
  }

  leafWeight(s: number): number {
    return this.alpha * s * s + 1;
  }
}

/**
 * Adaptive sampler with `q(i|h) ∝ α([h,1]·[c_i,b_i])² + 1` (Blanc & Rendle), drawn through a
 * divide-and-conquer tree in `O(d² log n)` per draw. Registered as `'quadratic'`.
 */
export class QuadraticSampler extends KernelTreeSampler {
  readonly name = 'quadratic';
  /** Kernel weight `α`. */
  readonly alpha: number;
  private readonly leafOpt: number | undefined;
  private withBias = false;

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: QuadraticOptions = {}) {
    super();
    rejectUnknown(opts, QUADRATIC_OPTIONS, 'quadratic sampler');
    this.alpha = opts.alpha === undefined ? 100 : numOption(opts.alpha, 'alpha', 0, 1e12, true);
    this.leafOpt = opts.leafSize === undefined ? undefined : intOption(opts.leafSize, 'leafSize', 1);
  }

  protected makeKernel(table: ClassTable): TreeKernel {
    this.withBias = table.bias !== null;
    return new QuadraticKernel(table.d + (this.withBias ? 1 : 0), this.alpha);
  }

  protected storeRow(table: ClassTable, i: number, out: Float32Array): void {
    const d = table.d;
    out.set(table.weights.subarray(i * d, (i + 1) * d));
    if (this.withBias) out[d] = table.bias![i]!;
  }

  protected storeQuery(h: Float32Array, ho: number, out: Float64Array, oo: number): void {
    const d = this.dim;
    for (let k = 0; k < d; k++) out[oo + k] = h[ho + k]!;
    if (this.withBias) out[oo + d] = 1;
  }

  protected leafSizeFor(_table: ClassTable, kernel: TreeKernel): number {
    if (this.leafOpt !== undefined) return this.leafOpt;
    let l = 64;
    while (l < 2 * kernel.rowDim) l *= 2;
    return l;
  }

  stats(): SamplerStats {
    return { ...this.treeStats(), alpha: this.alpha, bias: this.withBias };
  }
}
