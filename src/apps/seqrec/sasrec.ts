/**
 * SASRec (self-attentive sequential recommendation, Kang & McAuley 2018) in TensorFlow.js: item
 * embeddings plus learned positional embeddings, causal multi-head self-attention blocks with
 * layer norm, a position-wise feed-forward network, dropout and a padding mask. The item
 * embeddings are tied: the same table is the input lookup and the output softmax layer, both
 * supplied by an {@link ItemHead} (normally the samplex TensorFlow.js adapter), so the model
 * itself only owns the dense parameters.
 *
 * tfjs is an optional peer dependency: this module imports its types only and takes the tfjs
 * namespace as an argument.
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { ClassTable } from '../../core/classTable.js';
import { OptionError, ShapeError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { intOption, numOption, rejectUnknown } from '../../core/validate.js';

import type { Tf } from '../../tfjs/adapter.js';
export type { Tf };

/**
 * The item side of the model: a tied embedding lookup and the output loss over the same item
 * table. The samplex adapter provides it (see `seqrecHead` in `rec/head`); tests may use a plain
 * tfjs one.
 */
export interface ItemHead {
  /** The item table (`n × d`) that ranks items at evaluation, current after every update. */
  readonly table: ClassTable;
  /**
   * tfjs variables the lookup and the loss hang on: differentiate with respect to them too so
   * that the head's backward (and with it its update of the item table) runs.
   */
  readonly variables: readonly tfc.Variable[];
  /** The table rows of `ids` as a float32 `[ids.length, d]` tensor (differentiable). */
  embed(ids: Int32Array): tfc.Tensor;
  /** The mean softmax loss of `queries` `[N, d]` against one target item per row (a tfjs scalar). */
  loss(queries: tfc.Tensor, targets: Int32Array, rng: Rng): tfc.Scalar;
  /** Applies a pending table update whose backward did not run (no-op otherwise). */
  flush(): void;
}

/** Options of {@link SasRec}. */
export interface SasRecOptions {
  /** Maximum sequence length L (default 50). */
  maxLen?: number;
  /** Self-attention blocks (default 2). */
  blocks?: number;
  /** Attention heads; must divide d (default 1). */
  heads?: number;
  /** Dropout rate in `[0, 1)` on embeddings, attention weights and residual branches (default 0.2). */
  dropout?: number;
}

/** A batch of left-padded sequences: `B × L` ids, `-1` for padding. */
export interface SeqInput {
  /** Rows in the batch. */
  rows: number;
  /** `[B·L]` item ids, row-major, `-1` = padding. */
  ids: Int32Array;
}

/** Per-call options of {@link SasRec.hidden}. */
export interface ForwardOptions {
  /** Apply dropout (training). Needs `rng`. */
  training: boolean;
  /** Generator of the dropout masks (required when training with dropout > 0). */
  rng?: Rng;
}

const NEG = -1e9;

/** One self-attention block's parameters. */
interface Block {
  ln1g: tfc.Variable;
  ln1b: tfc.Variable;
  wq: tfc.Variable;
  wk: tfc.Variable;
  wv: tfc.Variable;
  wo: tfc.Variable;
  bq: tfc.Variable;
  bk: tfc.Variable;
  bv: tfc.Variable;
  bo: tfc.Variable;
  ln2g: tfc.Variable;
  ln2b: tfc.Variable;
  w1: tfc.Variable;
  b1: tfc.Variable;
  w2: tfc.Variable;
  b2: tfc.Variable;
}

/**
 * The SASRec model: `hidden(input)` gives the `[B·L, d]` output at every position; position `t`
 * attends to positions `≤ t` that are not padding. The item at each position is embedded through
 * the head (scaled by √d), the positional embedding added, then pre-norm blocks
 * `x += Attn(LN(x))`, `x += FFN(LN(x))` and a final layer norm.
 */
export class SasRec {
  /** Maximum sequence length. */
  readonly maxLen: number;
  /** Embedding dimension (the item table's). */
  readonly dim: number;
  /** Number of blocks. */
  readonly blocks: number;
  /** Number of attention heads. */
  readonly heads: number;
  /** Dropout rate. */
  readonly dropout: number;
  /** The item side (tied lookup and loss). */
  readonly head: ItemHead;
  private readonly tf: Tf;
  private readonly pos: tfc.Variable;
  private readonly layers: Block[];
  private readonly lnfg: tfc.Variable;
  private readonly lnfb: tfc.Variable;
  private readonly named: Map<string, tfc.Variable>;

  /**
   * Creates the dense parameters (initialized from `rng`).
   * @throws OptionError for bad or unknown options (heads not dividing d)
   */
  constructor(tf: Tf, head: ItemHead, rng: Rng, opts: SasRecOptions = {}) {
    rejectUnknown(opts, ['maxLen', 'blocks', 'heads', 'dropout'], 'SasRec');
    if (!tf || typeof tf.customGrad !== 'function') throw new OptionError('SasRec: pass the TensorFlow.js namespace (import * as tf from "@tensorflow/tfjs-core") as the first argument');
    this.tf = tf;
    this.head = head;
    const d = head.table.d;
    this.dim = d;
    this.maxLen = intOption(opts.maxLen ?? 50, 'maxLen', 1, 4096);
    this.blocks = intOption(opts.blocks ?? 2, 'blocks', 0, 64);
    this.heads = intOption(opts.heads ?? 1, 'heads', 1, d);
    if (d % this.heads !== 0) throw new OptionError(`SasRec: heads = ${this.heads} must divide the embedding dimension d = ${d}`);
    this.dropout = numOption(opts.dropout ?? 0.2, 'dropout', 0, 0.99);
    this.named = new Map();
    const mk = (name: string, shape: number[], init: 'normal' | 'zeros' | 'ones', scale = 0): tfc.Variable => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (init === 'normal') rng.fillNormal(data, scale);
      else if (init === 'ones') data.fill(1);
      const v = tf.variable(tf.tensor(data, shape), true, `sasrec/${name}/${nextId()}`);
      this.named.set(name, v);
      return v;
    };
    const s = 1 / Math.sqrt(d);
    this.pos = mk('pos', [this.maxLen, d], 'normal', s);
    this.layers = [];
    for (let b = 0; b < this.blocks; b++) {
      const p = `block${b}`;
      this.layers.push({
        ln1g: mk(`${p}/ln1g`, [d], 'ones'),
        ln1b: mk(`${p}/ln1b`, [d], 'zeros'),
        wq: mk(`${p}/wq`, [d, d], 'normal', s),
        wk: mk(`${p}/wk`, [d, d], 'normal', s),
        wv: mk(`${p}/wv`, [d, d], 'normal', s),
        wo: mk(`${p}/wo`, [d, d], 'normal', s),
        bq: mk(`${p}/bq`, [d], 'zeros'),
        bk: mk(`${p}/bk`, [d], 'zeros'),
        bv: mk(`${p}/bv`, [d], 'zeros'),
        bo: mk(`${p}/bo`, [d], 'zeros'),
        ln2g: mk(`${p}/ln2g`, [d], 'ones'),
        ln2b: mk(`${p}/ln2b`, [d], 'zeros'),
        w1: mk(`${p}/w1`, [d, d], 'normal', s),
        b1: mk(`${p}/b1`, [d], 'zeros'),
        w2: mk(`${p}/w2`, [d, d], 'normal', s),
        b2: mk(`${p}/b2`, [d], 'zeros'),
      });
    }
    this.lnfg = mk('lnfg', [d], 'ones');
    this.lnfb = mk('lnfb', [d], 'zeros');
  }

  /** The dense parameters (everything but the item table), in a fixed order. */
  get variables(): tfc.Variable[] {
    return [...this.named.values()];
  }

  /** The dense parameters by stable name (for checkpoints). */
  get namedVariables(): ReadonlyMap<string, tfc.Variable> {
    return this.named;
  }

  /**
   * The output `[B·L, d]` at every position of a batch of left-padded sequences (rows of
   * padding positions are zero before the final layer norm and carry no meaning).
   * @throws ShapeError when `input.ids` is not `rows × maxLen`; OptionError when training with dropout and no rng
   */
  hidden(input: SeqInput, opts: ForwardOptions): tfc.Tensor2D {
    const tf = this.tf;
    const { rows: B, ids } = input;
    const L = this.maxLen;
    const d = this.dim;
    const H = this.heads;
    const dh = d / H;
    if (!Number.isInteger(B) || B < 1 || ids.length !== B * L) {
      throw new ShapeError(`SasRec: input ids have length ${ids.length}, expected rows × maxLen = ${B} × ${L}`);
    }
    const drop = opts.training && this.dropout > 0 ? this.dropout : 0;
    if (drop > 0 && !opts.rng) throw new OptionError('SasRec.hidden: training with dropout needs an rng');
    const rng = opts.rng!;
    const dropout = (x: tfc.Tensor): tfc.Tensor => (drop > 0 ? tf.mul(x, dropMask(tf, rng, x.shape, drop)) : x);

    // Embed the non-padding positions and scatter them into B·L rows (padding = a zero row).
    const valid = new Float32Array(B * L);
    const compact: number[] = [];
    const slot = new Int32Array(B * L);
    let nValid = 0;
    for (let i = 0; i < B * L; i++) if (ids[i]! >= 0) nValid++;
    for (let i = 0; i < B * L; i++) {
      if (ids[i]! >= 0) {
        valid[i] = 1;
        slot[i] = compact.length;
        compact.push(ids[i]!);
      } else slot[i] = nValid;
    }
    const emb = this.head.embed(Int32Array.from(compact));
    const withPad = tf.concat([emb, tf.zeros([1, d])], 0);
    let x: tfc.Tensor = gatherRows(tf, withPad, slot);
    x = tf.mul(x, Math.sqrt(d));
    x = tf.add(tf.reshape(x, [B, L, d]), this.pos);
    const mask = tf.tensor(valid, [B * L, 1]);
    x = tf.mul(tf.reshape(dropout(x), [B * L, d]), mask);

    // Attention bias [B, 1, L, L]: causal, and padding keys masked.
    const bias = new Float32Array(B * L * L);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        const o = (b * L + i) * L;
        for (let j = 0; j < L; j++) if (j > i || valid[b * L + j] === 0) bias[o + j] = NEG;
      }
    }
    const attnBias = tf.tensor(bias, [B, 1, L, L]);
    const split = (t: tfc.Tensor): tfc.Tensor => tf.transpose(tf.reshape(t, [B, L, H, dh]), [0, 2, 1, 3]);
    const lin = (t: tfc.Tensor, w: tfc.Variable, bb: tfc.Variable): tfc.Tensor => tf.add(tf.matMul(t as tfc.Tensor2D, w as tfc.Tensor2D), bb);

    for (const p of this.layers) {
      const y = layerNorm(tf, x, p.ln1g, p.ln1b);
      const q = split(lin(y, p.wq, p.bq));
      const k = split(lin(y, p.wk, p.bk));
      const v = split(lin(y, p.wv, p.bv));
      let a: tfc.Tensor = tf.add(tf.mul(tf.matMul(q as tfc.Tensor4D, k as tfc.Tensor4D, false, true), 1 / Math.sqrt(dh)), attnBias);
      a = dropout(tf.softmax(a));
      const o = tf.reshape(tf.transpose(tf.matMul(a as tfc.Tensor4D, v as tfc.Tensor4D), [0, 2, 1, 3]), [B * L, d]);
      x = tf.add(x, dropout(lin(o, p.wo, p.bo)));
      const y2 = layerNorm(tf, x, p.ln2g, p.ln2b);
      const f = lin(tf.relu(lin(y2, p.w1, p.b1)), p.w2, p.b2);
      x = tf.mul(tf.add(x, dropout(f)), mask);
    }
    return layerNorm(tf, x, this.lnfg, this.lnfb) as tfc.Tensor2D;
  }

  /**
   * The training loss of a batch: the head's loss at every non-padding position `t` of each
   * row, whose target is `targets[t]` (`-1` for padding positions, which are left out).
   * @throws ShapeError when `targets` and the input differ in length or a target is missing at a non-padding input
   */
  loss(input: SeqInput, targets: Int32Array, rng: Rng): tfc.Scalar {
    const tf = this.tf;
    if (targets.length !== input.ids.length) {
      throw new ShapeError(`SasRec.loss: ${targets.length} targets for ${input.ids.length} input positions; pass one per position (-1 = padding)`);
    }
    const at: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < targets.length; i++) {
      if (targets[i]! >= 0) {
        if (input.ids[i]! < 0) throw new ShapeError(`SasRec.loss: position ${i} has a target but its input is padding`);
        at.push(i);
        labels.push(targets[i]!);
      }
    }
    if (at.length === 0) throw new ShapeError('SasRec.loss: the batch has no target; every row is padding');
    const h = this.hidden(input, { training: true, rng });
    const q = gatherRows(tf, h, Int32Array.from(at));
    return this.head.loss(q, Int32Array.from(labels), rng);
  }

  /**
   * The query vector at the last position of each row (no dropout), as a plain matrix
   * `[B, d]` for full-ranking evaluation.
   */
  lastQueries(input: SeqInput): Matrix {
    const tf = this.tf;
    const B = input.rows;
    const L = this.maxLen;
    return tf.tidy(() => {
      const h = this.hidden(input, { training: false });
      const last = tf.gather(h, tf.tensor1d(Int32Array.from({ length: B }, (_, b) => b * L + L - 1), 'int32'));
      return { data: last.dataSync() as Float32Array, rows: B, cols: this.dim };
    });
  }

  /** Frees the model's variables (not the head's). */
  dispose(): void {
    for (const v of this.named.values()) v.dispose();
  }
}

let varCounter = 0;
/** A process-wide counter that keeps tfjs variable names unique across models. */
function nextId(): number {
  return varCounter++;
}

/** Layer norm over the last axis, ε = 1e-6. */
function layerNorm(tf: Tf, x: tfc.Tensor, g: tfc.Variable, b: tfc.Variable): tfc.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))), g), b);
}

/** An inverted-dropout mask (`0` or `1/(1−rate)`) drawn from `rng`. */
function dropMask(tf: Tf, rng: Rng, shape: number[], rate: number): tfc.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const m = new Float32Array(size);
  const keep = 1 - rate;
  const s = 1 / keep;
  for (let i = 0; i < size; i++) m[i] = rng.float() < keep ? s : 0;
  return tf.tensor(m, shape);
}

/**
 * Rows `idx` of the 2-D tensor `x` (`[idx.length, cols]`), differentiable: the backward adds each
 * gradient row into row `idx[r]` of a zero tensor shaped like `x`, in plain TypeScript. (tfjs's
 * own gather gradient, `UnsortedSegmentSum`, costs time proportional to rows × segments on the
 * cpu backend and is missing on wasm.)
 * @throws ShapeError when `x` is not 2-D or an index is out of range
 */
export function gatherRows(tf: Tf, x: tfc.Tensor, idx: Int32Array): tfc.Tensor2D {
  if (x.rank !== 2) throw new ShapeError(`gatherRows: x must be 2-D, got shape [${x.shape.join(', ')}]`);
  const [rows, cols] = x.shape as [number, number];
  for (let i = 0; i < idx.length; i++) {
    if (!(idx[i]! >= 0 && idx[i]! < rows)) throw new ShapeError(`gatherRows: index ${idx[i]} at ${i} is outside [0, ${rows})`);
  }
  const op = tf.customGrad((...inputs) => ({
    value: tf.gather(inputs[0] as tfc.Tensor, tf.tensor1d(idx, 'int32')),
    gradFunc: (dy: tfc.Tensor) => {
      const g = dy.dataSync();
      const out = new Float32Array(rows * cols);
      for (let r = 0; r < idx.length; r++) {
        const o = idx[r]! * cols;
        for (let c = 0; c < cols; c++) out[o + c] += g[r * cols + c]!;
      }
      return tf.tensor2d(out, [rows, cols]);
    },
  }));
  return op(x) as tfc.Tensor2D;
}

/**
 * Left-pads (or truncates to the last `maxLen`) the sequence `items[start, end)` into row `row`
 * of `out` (`B × maxLen`, `-1` = padding).
 */
export function padLeft(out: Int32Array, row: number, maxLen: number, items: Int32Array, start: number, end: number): void {
  const len = Math.min(maxLen, end - start);
  const base = row * maxLen;
  out.fill(-1, base, base + maxLen - len);
  out.set(items.subarray(end - len, end), base + maxLen - len);
}
