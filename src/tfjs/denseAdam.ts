/**
 * Adam for the dense tfjs parameters of a model (SASRec, the LSTM language model), with its state exposed as named arrays so that
 * a checkpoint restores it exactly (tfjs's own optimizers key their state by position and by
 * process-unique variable names).
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { StateError } from '../core/errors.js';
import { numOption } from '../core/validate.js';
import type { Tf } from './adapter.js';

/** Options of {@link DenseAdam}. */
export interface DenseAdamOptions {
  /** Learning rate (default 0.001). */
  lr?: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.98, as SASRec). */
  beta2?: number;
  /** Added to the root of the second moment (default 1e-8). */
  eps?: number;
}

/** Adam over a fixed, named list of tfjs variables. */
export class DenseAdam {
  /** Resolved hyper-parameters. */
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private t = 0;
  private readonly tf: Tf;
  private readonly vars: ReadonlyMap<string, tfc.Variable>;
  private readonly m = new Map<string, tfc.Variable>();
  private readonly v = new Map<string, tfc.Variable>();

  /**
   * @param vars the variables by a stable name (the names key the state)
   * @throws OptionError for bad hyper-parameters
   */
  constructor(tf: Tf, vars: ReadonlyMap<string, tfc.Variable>, opts: DenseAdamOptions = {}) {
    this.tf = tf;
    this.vars = vars;
    this.lr = numOption(opts.lr ?? 1e-3, 'lr', 0);
    this.beta1 = numOption(opts.beta1 ?? 0.9, 'beta1', 0, 0.999999);
    this.beta2 = numOption(opts.beta2 ?? 0.98, 'beta2', 0, 0.999999);
    this.eps = numOption(opts.eps ?? 1e-8, 'eps', 0);
    for (const [name, x] of vars) {
      this.m.set(name, tf.variable(tf.zerosLike(x), false));
      this.v.set(name, tf.variable(tf.zerosLike(x), false));
    }
  }

  /** Number of updates so far. */
  get steps(): number {
    return this.t;
  }

  /**
   * One update from gradients keyed by the tfjs variable name (as `tf.variableGrads` returns
   * them); variables without a gradient are left alone.
   */
  apply(grads: Readonly<Record<string, tfc.Tensor>>): void {
    const tf = this.tf;
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, x] of this.vars) {
        const g = grads[x.name];
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const step = tf.div(tf.mul(m, this.lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps));
        x.assign(tf.sub(x, step));
      }
    });
  }

  /** The state: `adam/t` and the moments `adam/m/<name>`, `adam/v/<name>` (copies). */
  stateTensors(): Record<string, Float32Array | Int32Array> {
    const out: Record<string, Float32Array | Int32Array> = { 'adam/t': Int32Array.of(this.t) };
    for (const name of this.vars.keys()) {
      out[`adam/m/${name}`] = this.m.get(name)!.dataSync().slice() as Float32Array;
      out[`adam/v/${name}`] = this.v.get(name)!.dataSync().slice() as Float32Array;
    }
    return out;
  }

  /**
   * Restores {@link DenseAdam.stateTensors}.
   * @throws StateError when an entry is missing or has the wrong size
   */
  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void {
    const t = state['adam/t'];
    if (!t || t.length !== 1) throw new StateError('DenseAdam: the state has no adam/t; it is not a checkpoint of this optimizer');
    for (const [name, x] of this.vars) {
      for (const [k, store] of [['m', this.m], ['v', this.v]] as const) {
        const a = state[`adam/${k}/${name}`];
        if (!a || a.length !== x.size) {
          throw new StateError(`DenseAdam: the state's adam/${k}/${name} is missing or has ${a?.length ?? 0} values for ${x.size}; the checkpoint is of a different model`);
        }
        store.get(name)!.assign(this.tf.tensor(Float32Array.from(a), x.shape));
      }
    }
    this.t = t[0]!;
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
