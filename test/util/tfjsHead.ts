/**
 * A plain tfjs
 * item head (the table is a tfjs variable, the loss an ordinary full softmax differentiated by
 * tfjs autodiff): the reference the samplex adapter is checked against.
 */
import { tf } from './tfjs.js';
import { ClassTable } from '../../src/core/classTable.js';
import { gatherRows } from '../../src/apps/seqrec/sasrec.js';
import type { SeqRecHead } from '../../src/apps/seqrec/head.js';

export { tf };

/** A plain tfjs head over a table variable initialized from `init` (trained by the dense optimizer with the model). */
export class PlainTfHead implements SeqRecHead {
  readonly outputMs = 0;
  readonly tableVar: tf.Variable;
  readonly variables: readonly tf.Variable[];
  private readonly n: number;
  private readonly d: number;

  constructor(init: ClassTable) {
    this.n = init.n;
    this.d = init.d;
    this.tableVar = tf.variable(tf.tensor2d(init.weights.slice(), [init.n, init.d]), true);
    this.variables = [this.tableVar];
  }

  get table(): ClassTable {
    return new ClassTable(this.n, this.d, this.tableVar.dataSync().slice() as Float32Array);
  }

  embed(ids: Int32Array): tf.Tensor {
    return gatherRows(tf, this.tableVar, ids);
  }

  loss(queries: tf.Tensor, targets: Int32Array): tf.Scalar {
    const logits = tf.matMul(queries as tf.Tensor2D, this.tableVar as tf.Tensor2D, false, true);
    const lp = tf.logSoftmax(logits);
    const pick = tf.mul(lp, tf.oneHot(tf.tensor1d(targets, 'int32'), this.n));
    return tf.neg(tf.div(tf.sum(pick), targets.length)) as tf.Scalar;
  }

  flush(): void {}

  endEpoch(): void {}

  stateTensors(): Record<string, Float32Array> {
    return { 'plain/table': this.tableVar.dataSync().slice() as Float32Array };
  }

  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void {
    this.tableVar.assign(tf.tensor2d(Float32Array.from(state['plain/table']!), [this.n, this.d]));
  }
}
