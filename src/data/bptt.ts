/**
 * Truncated back-propagation-through-time batches over a token stream, in the standard
 * contiguous layout (as in the PyTorch word-language-model example): the stream is cut into
 * `B` equal contiguous columns and consecutive windows of `T` steps are read from all columns
 * at once, so a recurrent state carried from one batch to the next continues the same text.
 * @module
 */
import { ImpossibleError, ShapeError } from '../core/errors.js';
import { intOption, rejectUnknown } from '../core/validate.js';

/** Options of {@link BpttBatcher}. */
export interface BpttOptions {
  /** Number of parallel columns `B`. */
  batchSize: number;
  /** Steps per batch `T` (35 in the usual LSTM setups). */
  seqLen: number;
}

/** One batch: inputs and next-token targets, row-major `[batch, steps]` (batch-major). */
export interface BpttBatch {
  /** Position of the batch in the epoch, 0-based. */
  index: number;
  /** Offset of the first input step within each column. */
  offset: number;
  /** Rows `B`. */
  batch: number;
  /** Steps in this batch: `T`, or fewer in the last batch. */
  steps: number;
  /** `inputs[b * steps + t]` = `stream[b * columnLength + offset + t]`. */
  inputs: Int32Array;
  /** `targets[b * steps + t]` = `stream[b * columnLength + offset + t + 1]`. */
  targets: Int32Array;
}

/**
 * Cuts a token stream of length `N` into `B` columns of `L = floor(N / B)` tokens (column `b` is
 * `stream[b·L, (b+1)·L)`; the last `N − B·L` tokens are dropped) and yields the windows at
 * offsets `0, T, 2T, …`: batch `k` has `steps = min(T, L − 1 − kT)` steps, inputs the tokens at
 * `kT … kT+steps−1` of every column and targets the tokens one position later. An epoch has
 * `ceil((L − 1) / T)` batches and predicts `B·(L − 1)` tokens. No randomness: the layout is a
 * function of `N`, `B` and `T` only.
 */
export class BpttBatcher {
  /** Rows `B`. */
  readonly batchSize: number;
  /** Steps per full batch `T`. */
  readonly seqLen: number;
  /** Tokens per column `L = floor(N / B)`. */
  readonly columnLength: number;
  /** Batches per epoch, `ceil((L − 1) / T)`. */
  readonly numBatches: number;
  /** Targets per epoch, `B·(L − 1)`. */
  readonly predictions: number;
  private readonly stream: Int32Array;

  /**
   * @param stream token ids (not copied: do not modify it while batching)
   * @throws ShapeError (not an Int32Array), OptionError (batchSize, seqLen not positive
   *   integers; unknown options), ImpossibleError (fewer than 2 tokens per column)
   */
  constructor(stream: Int32Array, opts: BpttOptions) {
    if (!(stream instanceof Int32Array)) throw new ShapeError('BPTT batcher: the token stream must be an Int32Array of ids');
    rejectUnknown(opts, ['batchSize', 'seqLen'], 'BPTT batcher');
    this.batchSize = intOption(opts.batchSize, 'batchSize', 1);
    this.seqLen = intOption(opts.seqLen, 'seqLen', 1);
    this.columnLength = Math.floor(stream.length / this.batchSize);
    if (this.columnLength < 2) {
      throw new ImpossibleError(
        `BPTT batcher: ${stream.length} tokens in ${this.batchSize} columns leave ${this.columnLength} per column; ` +
          `each column needs at least 2 tokens (lower batchSize to at most ${Math.floor(stream.length / 2)})`,
      );
    }
    this.stream = stream;
    this.numBatches = Math.ceil((this.columnLength - 1) / this.seqLen);
    this.predictions = this.batchSize * (this.columnLength - 1);
  }

  /**
   * Batch `k` of the epoch (fresh arrays).
   * @throws OptionError when `k` is not an integer in `[0, numBatches)`
   */
  batch(k: number): BpttBatch {
    intOption(k, 'batch index', 0, this.numBatches - 1);
    const B = this.batchSize;
    const L = this.columnLength;
    const offset = k * this.seqLen;
    const steps = Math.min(this.seqLen, L - 1 - offset);
    const inputs = new Int32Array(B * steps);
    const targets = new Int32Array(B * steps);
    for (let b = 0; b < B; b++) {
      const start = b * L + offset;
      inputs.set(this.stream.subarray(start, start + steps), b * steps);
      targets.set(this.stream.subarray(start + 1, start + 1 + steps), b * steps);
    }
    return { index: k, offset, batch: B, steps, inputs, targets };
  }

  /** The batches of one epoch, in order. */
  *[Symbol.iterator](): Generator<BpttBatch> {
    for (let k = 0; k < this.numBatches; k++) yield this.batch(k);
  }
}
