/**
 * The uniform proposal `q = 1/n`.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { ShapeError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { intOption, rejectUnknown } from '../core/validate.js';
import { SamplerBase, type RowDistribution } from './base.js';
import type { SamplerStats } from './types.js';

/** Options of {@link UniformSampler}. */
export interface UniformOptions {
  /** Number of classes. When given, the sampler is usable at once; otherwise `build(table)` sets it. */
  n?: number;
}

/** Draws every class with probability `1/n`, independently of the query. */
export class UniformSampler extends SamplerBase {
  readonly name = 'uniform';
  readonly adaptive = false;
  private dist: UniformRow | null = null;

  /** @throws OptionError for unknown options or a bad `n`. */
  constructor(opts: UniformOptions = {}) {
    super();
    rejectUnknown(opts, ['n'], 'uniform sampler');
    if (opts.n !== undefined) this.setN(intOption(opts.n, 'n (number of classes)', 1, 2 ** 31 - 1));
  }

  private setN(n: number): void {
    this.n = n;
    this.dist = new UniformRow(n);
    this.built = true;
  }

  /**
   * Takes `n` from the table (and its width, to check query shapes).
   * @throws ShapeError when the sampler was created with a different `n`.
   */
  build(table: ClassTable): void {
    if (this.built && this.n !== table.n) {
      throw new ShapeError(`uniform sampler was created with n = ${this.n} but the table has ${table.n} classes`);
    }
    this.setN(table.n);
    this.dim = table.d;
  }

  stats(): SamplerStats {
    return { sampler: this.name, n: this.n, built: this.built, bytes: 0 };
  }

  protected rowDistribution(): RowDistribution {
    this.requireBuilt();
    return this.dist!;
  }
}

class UniformRow implements RowDistribution {
  lastLogQ: number;
  /** `log n`: every class has weight 1. */
  readonly logMass: number;
  constructor(private readonly n: number) {
    this.lastLogQ = -Math.log(n);
    this.logMass = Math.log(n);
  }
  draw(rng: Rng): number {
    return rng.int(this.n);
  }
  logProb(): number {
    return this.lastLogQ;
  }
}
