import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ImpossibleError, OptionError, ShapeError } from '../src/core/errors.js';
import { BpttBatcher } from '../src/data/bptt.js';

const iota = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

test('BPTT layout against a hand computation: 13 tokens, B = 3, T = 2', () => {
  // columns [0 1 2 3] [4 5 6 7] [8 9 10 11]; token 12 is dropped
  const b = new BpttBatcher(iota(13), { batchSize: 3, seqLen: 2 });
  assert.equal(b.columnLength, 4);
  assert.equal(b.numBatches, 2);
  assert.equal(b.predictions, 9);
  const [b0, b1, ...rest] = [...b];
  assert.equal(rest.length, 0);
  assert.deepEqual({ ...b0!, inputs: Array.from(b0!.inputs), targets: Array.from(b0!.targets) }, {
    index: 0,
    offset: 0,
    batch: 3,
    steps: 2,
    inputs: [0, 1, 4, 5, 8, 9],
    targets: [1, 2, 5, 6, 9, 10],
  });
  // the last batch is shorter: one step left in each column
  assert.deepEqual({ ...b1!, inputs: Array.from(b1!.inputs), targets: Array.from(b1!.targets) }, {
    index: 1,
    offset: 2,
    batch: 3,
    steps: 1,
    inputs: [2, 6, 10],
    targets: [3, 7, 11],
  });
});

test('BPTT with B = 1 walks the whole stream: N − 1 predictions, each the next token', () => {
  const stream = Int32Array.from([5, 3, 9, 9, 1, 0, 2]);
  const b = new BpttBatcher(stream, { batchSize: 1, seqLen: 4 });
  const inputs = [...b].flatMap((x) => Array.from(x.inputs));
  const targets = [...b].flatMap((x) => Array.from(x.targets));
  assert.deepEqual(inputs, [5, 3, 9, 9, 1, 0]);
  assert.deepEqual(targets, [3, 9, 9, 1, 0, 2]);
});

test('property: every (column, position) of the trimmed stream is an input exactly once, targets are the next token', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 40 }), (n, B, T) => {
      fc.pre(Math.floor(n / B) >= 2);
      const b = new BpttBatcher(iota(n), { batchSize: B, seqLen: T });
      const L = Math.floor(n / B);
      const seen = new Uint8Array(n);
      let batches = 0;
      let preds = 0;
      for (const x of b) {
        assert.equal(x.offset, batches * T);
        assert.ok(x.steps >= 1 && x.steps <= T);
        for (let r = 0; r < B; r++) {
          for (let t = 0; t < x.steps; t++) {
            const v = x.inputs[r * x.steps + t]!;
            assert.equal(v, r * L + x.offset + t);
            assert.equal(x.targets[r * x.steps + t], v + 1);
            seen[v]!++;
          }
        }
        batches++;
        preds += x.inputs.length;
      }
      assert.equal(batches, b.numBatches);
      assert.equal(preds, b.predictions);
      for (let v = 0; v < n; v++) assert.equal(seen[v], v < B * L && v % L !== L - 1 ? 1 : 0);
    }),
    { seed: 11, numRuns: 300 },
  );
});

test('BPTT rejects bad options and too short streams with typed errors', () => {
  assert.throws(() => new BpttBatcher(iota(10), { batchSize: 0, seqLen: 5 }), OptionError);
  assert.throws(() => new BpttBatcher(iota(10), { batchSize: 2, seqLen: 2.5 }), OptionError);
  assert.throws(() => new BpttBatcher(iota(10), { batchSize: 2, seqLen: 3, bptt: 3 } as never), /unknown option 'bptt'/);
  assert.throws(() => new BpttBatcher([1, 2, 3] as never, { batchSize: 1, seqLen: 2 }), ShapeError);
  assert.throws(
    () => new BpttBatcher(iota(7), { batchSize: 4, seqLen: 2 }),
    (e: unknown) => e instanceof ImpossibleError && /at most 3/.test(e.message),
  );
  const b = new BpttBatcher(iota(10), { batchSize: 2, seqLen: 3 });
  assert.throws(() => b.batch(b.numBatches), OptionError);
});
