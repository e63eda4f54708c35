/**
 * The item head of the sequential recommender over samplex's TensorFlow.js adapter: the tied
 * input lookup and the sampled (or full) softmax loss read one class table, whose rows are
 * updated sparsely by the output layer's optimizer.
 * @module
 */
import type { ClassTable } from '../../core/classTable.js';
import { StateError } from '../../core/errors.js';
import type { TfOutputHead } from '../../tfjs/adapter.js';
import type { ItemHead } from './sasrec.js';

/** An item head the trainer can checkpoint and step through epochs. */
export interface SeqRecHead extends ItemHead {
  /** Called at the end of every epoch (an adaptive sampler is rebuilt from the table). */
  endEpoch(): void;
  /** The table, its optimizer state, any learned sampler state and the in-batch frequency estimate as named arrays (copies). */
  stateTensors(): Record<string, Float32Array | Int32Array>;
  /**
   * Restores {@link SeqRecHead.stateTensors} (and rebuilds the sampler on the restored table).
   * @throws StateError when entries are missing or of the wrong size
   */
  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void;
  /** Cumulative milliseconds spent in the output layer and the tied lookup (sampling, loss, sparse updates). */
  readonly outputMs: number;
}

/**
 * Wraps an adapter head (`new TfOutputHead(tf, layer, {loss})`) as the model's item head.
 * The item table is `head.layer.table`; its optimizer is the layer's sparse optimizer.
 */
export function seqRecHead(head: TfOutputHead): SeqRecHead {
  const layer = head.layer;
  return {
    get table(): ClassTable {
      return layer.table;
    },
    variables: [head.anchor],
    embed: (ids) => head.embed(ids, [ids.length]),
    loss: (queries, targets, rng) => head.loss(queries, targets, { rng }),
    flush: () => {
      head.flush();
    },
    endEpoch: () => {
      layer.endEpoch();
    },
    get outputMs(): number {
      return head.timing.outputMs;
    },
    stateTensors: () => {
      const t = layer.table;
      const out: Record<string, Float32Array | Int32Array> = { 'items/weights': t.weights.slice() };
      if (t.bias) out['items/bias'] = t.bias.slice();
      for (const [k, v] of Object.entries(layer.optimizer.stateTensors())) out[`items/opt/${k}`] = v.slice();
      if (layer.sampler.stateTensors) for (const [k, v] of Object.entries(layer.sampler.stateTensors())) out[`items/sampler/${k}`] = v.slice();
      if (layer.frequency) for (const [k, v] of Object.entries(layer.frequency.stateTensors())) out[`items/frequency/${k}`] = v;
      return out;
    },
    loadState: (state) => {
      const t = layer.table;
      const w = state['items/weights'];
      if (!w || w.length !== t.weights.length) {
        throw new StateError(`the checkpoint's item table has ${w?.length ?? 0} values, expected n·d = ${t.weights.length}; it is of a different data set or dimension`);
      }
      t.weights.set(w);
      if (t.bias) {
        const b = state['items/bias'];
        if (!b || b.length !== t.bias.length) throw new StateError('the checkpoint has no item biases of the right size');
        t.bias.set(b);
      }
      const opt: Record<string, Float32Array | Int32Array> = {};
      for (const [k, v] of Object.entries(state)) {
        if (k.startsWith('items/opt/')) opt[k.slice('items/opt/'.length)] = v instanceof Int32Array || v instanceof Float32Array ? v : Float32Array.from(v);
      }
      layer.optimizer.loadState(opt);
      if (layer.sampler.loadState) {
        const st: Record<string, ArrayLike<number>> = {};
        for (const [k, v] of Object.entries(state)) if (k.startsWith('items/sampler/')) st[k.slice('items/sampler/'.length)] = v;
        if (Object.keys(st).length === 0) throw new StateError(`the checkpoint has no state for the '${layer.sampler.name}' sampler; it was written with another sampler`);
        layer.sampler.loadState(st);
      }
      if (layer.frequency) {
        const st: Record<string, ArrayLike<number>> = {};
        for (const [k, v] of Object.entries(state)) if (k.startsWith('items/frequency/')) st[k.slice('items/frequency/'.length)] = v;
        if (Object.keys(st).length === 0) throw new StateError('the checkpoint has no state for the in-batch frequency estimate; it was written without one');
        layer.frequency.loadState(st);
      }
      layer.sampler.build(t);
    },
  };
}
