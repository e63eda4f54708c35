import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix } from '../src/core/matrix.js';
import { OptionError, ShapeError } from '../src/core/errors.js';
import { leaveOneOut, type UserSequences } from '../src/data/interactions.js';
import { rankTargets } from '../src/apps/seqrec/evaluate.js';
import { sequencesOf } from './util/seqData.js';

/** Random user sequences over `n` items with repeats (so some targets were seen before). */
function randomSequences(rng: Rng, users: number, n: number, maxLen: number): UserSequences {
  const seqs: number[][] = [];
  for (let u = 0; u < users; u++) {
    const len = 3 + rng.int(maxLen - 2);
    seqs.push(Array.from({ length: len }, () => rng.int(n)));
  }
  return sequencesOf(seqs, n);
}

/**
 * The brute-force reference: scores of all items in float32 (small integers, so exact), the
 * items of the user's input sequence other than the target removed, the target's rank counted
 * with ties going to the smaller id.
 */
function bruteMetrics(
  q: Float32Array,
  w: Float32Array,
  n: number,
  d: number,
  seq: UserSequences,
  inputEnd: Int32Array,
  targets: Int32Array,
  ks: number[],
): Record<string, number> {
  const U = targets.length;
  const sums: Record<string, number> = {};
  for (const k of ks) sums[`ndcg@${k}`] = sums[`recall@${k}`] = 0;
  for (let u = 0; u < U; u++) {
    const seen = new Set(seq.items.subarray(seq.offsets[u]!, inputEnd[u]!));
    const y = targets[u]!;
    const score = (i: number): number => {
      let s = 0;
      for (let t = 0; t < d; t++) s += q[u * d + t]! * w[i * d + t]!;
      return s;
    };
    const sy = score(y);
    let rank = 1;
    for (let i = 0; i < n; i++) {
      if (i === y || seen.has(i)) continue;
      const s = score(i);
      if (s > sy || (s === sy && i < y)) rank++;
    }
    for (const k of ks) {
      if (rank <= k) {
        sums[`ndcg@${k}`]! += 1 / Math.log2(rank + 1);
        sums[`recall@${k}`]! += 1;
      }
    }
  }
  for (const key of Object.keys(sums)) sums[key]! /= U;
  return sums;
}

test('rankTargets matches a brute-force full ranking with earlier items excluded except the target', () => {
  for (const seed of [1, 2, 3, 4]) {
    const rng = Rng.fromSeed(seed);
    const n = 40 + rng.int(30);
    const d = 4;
    const U = 25;
    const seq = randomSequences(rng, U, n, 30);
    const split = leaveOneOut(seq);
    const w = Float32Array.from({ length: n * d }, () => rng.int(5) - 2);
    const table = new ClassTable(n, d, w);
    const q = matrix(U, d);
    for (let i = 0; i < q.data.length; i++) q.data[i] = rng.int(5) - 2;
    for (const s of [split.valid, split.test]) {
      const got = rankTargets(q, table, s.targets, s.exclude, [10, 20]);
      const want = bruteMetrics(q.data, w, n, d, seq, s.inputEnd, s.targets, [10, 20]);
      for (const key of Object.keys(want)) assert.ok(Math.abs(got[key]! - want[key]!) < 1e-12, `seed ${seed} ${key}: ${got[key]} vs ${want[key]}`);
      assert.ok(Number.isFinite(got.nll!) && got.nll! > 0);
    }
  }
});

test('rankTargets: a target seen earlier in the sequence stays rankable', () => {
  // Two items; user history [1, 0, 1]: the test target 1 was seen before, item 0 is excluded.
  const seq = randomSequences(Rng.fromSeed(9), 1, 2, 3);
  const s = { ...seq, items: Int32Array.from([1, 0, 1]), offsets: Int32Array.from([0, 3]) };
  const split = leaveOneOut(s);
  const table = new ClassTable(2, 1, Float32Array.from([5, -5]));
  const q = matrix(1, 1);
  q.data[0] = 1; // item 0 scores higher, but it is excluded
  const m = rankTargets(q, table, split.test.targets, split.test.exclude, [1]);
  assert.equal(m['ndcg@1'], 1);
  assert.equal(m['recall@1'], 1);
});

test('rankTargets rejects mismatched sizes and bad cut-offs', () => {
  const table = new ClassTable(5, 2, new Float32Array(10));
  const q = matrix(2, 2);
  const ex = { ids: new Int32Array(0), offsets: new Int32Array(3) };
  assert.throws(() => rankTargets(q, table, Int32Array.from([1]), ex), ShapeError);
  assert.throws(() => rankTargets(q, table, Int32Array.from([1, 2]), ex, [10]), OptionError);
  assert.throws(() => rankTargets(q, table, Int32Array.from([1, 2]), ex, []), OptionError);
});
