import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { copyRowsIn, copyRowsOut, gatherRowsInto, TOUCH_BLOCK } from '../src/core/rows.js';
import { indexOfSorted, sortedUniqueSlots } from '../src/loss/common.js';
import { gatherTouched, sampledGradients, touchedRows } from '../src/loss/sampled.js';
import { makeDraws, makeProblem, randomProposal } from './util/lossFixtures.js';

/** Sorted distinct values of `a` (the definition). */
function sortedUnique(a: Int32Array): Int32Array {
  return Int32Array.from(new Set(a)).sort();
}

/** The touched ids and slots by a Set and a search (the definition). */
function naiveTouched(drawn: Int32Array, shared: boolean, m: number, posIds: Int32Array, offs: Int32Array, rowScale: Float64Array) {
  const set = new Set<number>();
  for (let r = 0; r < rowScale.length; r++) {
    if (rowScale[r] === 0) continue;
    for (let k = offs[r]!; k < offs[r + 1]!; k++) set.add(posIds[k]!);
    if (!shared) for (let j = 0; j < m; j++) set.add(drawn[r * m + j]!);
  }
  if (shared) for (let j = 0; j < m; j++) set.add(drawn[j]!);
  const ids = Int32Array.from([...set].sort((a, b) => a - b));
  if (shared) return { ids, slots: null };
  const slots = new Int32Array(rowScale.length * m);
  for (let r = 0; r < rowScale.length; r++) {
    if (rowScale[r] === 0) continue;
    for (let j = 0; j < m; j++) slots[r * m + j] = ids.indexOf(drawn[r * m + j]!);
  }
  return { ids, slots };
}

test('touchedRows: the marker scan (small n) and the sort (large n) give the distinct ids and slots of their definition, rows of weight 0 left out', () => {
  for (const [seed, n, shared] of [[1, 50, false], [2, 1000, false], [3, 50, true], [4, 300, true], [5, 200000, false], [6, 200000, true]] as const) {
    const rng = Rng.fromSeed(seed);
    const B = 9;
    const m = 11;
    const prob = makeProblem(rng, { n, d: 3, B, positives: [1, 3] });
    const draws = makeDraws(rng, randomProposal(rng, n), { m, B, shared, unique: false, exclude: null });
    const rowScale = Float64Array.from({ length: B }, (_, r) => (r % 4 === 2 ? 0 : 1));
    const { ids: posIds, offsets } = prob.labels;
    const want = naiveTouched(draws.ids, shared, m, posIds, offsets, rowScale);
    // n up to 1000 takes the marker scan here (n ≤ 16 × entries), 200000 the sort
    const got = touchedRows(draws, posIds, offsets, rowScale, n);
    assert.deepEqual(got.ids, want.ids, `ids n=${n} shared=${shared}`);
    assert.deepEqual(got.slots, want.slots, `slots n=${n} shared=${shared}`);
    // the other way gives the same (a table said to be larger forces the sort)
    const sorted = touchedRows(draws, posIds, offsets, rowScale, 1 << 30);
    assert.deepEqual(sorted, got);
    // and the marker array is left clean: a second call agrees
    assert.deepEqual(touchedRows(draws, posIds, offsets, rowScale, n), got);
  }
});

test('gatherTouched: each draw reads its table row (a compact copy of the touched rows, or the whole table when they are many); sampledGradients with them is bit-equal to sampledGradients without', () => {
  const rng = Rng.fromSeed(7);
  const [d, B, m] = [5, 6, 13];
  // about 70 touched rows: more than an eighth of 300 rows (the whole table), fewer of 5000 (the rows)
  for (const [n, whole] of [[300, true], [5000, false]] as const) {
    const prob = makeProblem(rng, { n, d, B, bias: true, positives: [1, 2] });
    const draws = makeDraws(rng, randomProposal(rng, n), { m, B, shared: false, unique: false, exclude: null });
    const rowScale = Float64Array.from({ length: B }, (_, r) => (r === 3 ? 0 : 1 / B));
    const { ids: posIds, offsets } = prob.labels;
    const g = gatherTouched(prob.table, draws, posIds, offsets, rowScale);
    assert.equal(g.rows.length, (whole ? n : g.ids.length) * d, `n=${n}: ${whole ? 'the whole table' : 'the touched rows'}`);
    for (let i = 0; i < B * m; i++) {
      if (rowScale[Math.floor(i / m)] === 0) continue;
      const s = g.readSlots[i]!;
      const id = draws.ids[i]!;
      assert.deepEqual(g.rows.subarray(s * d, s * d + d), prob.table.weights.subarray(id * d, id * d + d), `n=${n} draw ${i}`);
    }
    const gPos = Float64Array.from({ length: posIds.length }, () => rng.normal());
    const gNeg = Float32Array.from({ length: B * m }, (_, i) => (Math.floor(i / m) === 3 ? 0 : rng.normal()));
    const a = sampledGradients(prob.queries.data, prob.table, draws, posIds, offsets, rowScale, gPos, gNeg, g);
    const b = sampledGradients(prob.queries.data, prob.table, draws, posIds, offsets, rowScale, gPos, gNeg);
    assert.deepEqual(a.gradQueries, b.gradQueries, `n=${n}`);
    assert.deepEqual(a.gradClasses.ids, b.gradClasses.ids, `n=${n}`);
    assert.deepEqual(a.gradClasses.rows, b.gradClasses.rows, `n=${n}`);
    assert.deepEqual(a.gradClasses.bias, b.gradClasses.bias, `n=${n}`);
  }
});

test('copyRowsIn / copyRowsOut move whole rows for short (plain loop) and long (subarray) rows', () => {
  for (const d of [3, 64, 70]) {
    const n = 9;
    const src = Float32Array.from({ length: n * d }, (_, i) => i + 0.5);
    const ids = Int32Array.of(7, 2, 5);
    const block = new Float32Array(ids.length * d);
    copyRowsIn(block, src, ids, ids.length, d);
    for (let e = 0; e < ids.length; e++) assert.deepEqual(block.subarray(e * d, e * d + d), src.subarray(ids[e]! * d, ids[e]! * d + d));
    const dst = new Float32Array(n * d);
    copyRowsOut(dst, block, ids, ids.length, d);
    for (let i = 0; i < n; i++) {
      const e = ids.indexOf(i);
      assert.deepEqual(dst.subarray(i * d, i * d + d), e < 0 ? new Float32Array(d) : src.subarray(i * d, i * d + d), `d=${d} row ${i}`);
    }
  }
});

test('gatherRowsInto / copyRowsOut over several touch blocks (a partial last one, offsets) move the listed rows', () => {
  const rng = Rng.fromSeed(17);
  for (const d of [3, 64, 128]) {
    const n = 1000;
    const count = 2 * TOUCH_BLOCK + 37;
    const src = Float32Array.from({ length: n * d }, (_, i) => i + 0.25);
    const ids = Int32Array.from({ length: count + 5 }, () => rng.int(n));
    const dst = new Float32Array((count + 2) * d);
    gatherRowsInto(dst, 2, src, ids, 5, count, d); // rows ids[5 …] into rows 2 … of dst
    for (let e = 0; e < count; e++) assert.deepEqual(dst.subarray((2 + e) * d, (3 + e) * d), src.subarray(ids[5 + e]! * d, ids[5 + e]! * d + d), `d=${d} e=${e}`);
    // scatter distinct ids back into a zero table
    const distinct = sortedUnique(ids);
    const block = new Float32Array(distinct.length * d);
    copyRowsIn(block, src, distinct, distinct.length, d);
    const back = new Float32Array(n * d);
    copyRowsOut(back, block, distinct, distinct.length, d);
    for (let i = 0; i < n; i++) {
      const listed = indexOfSorted(distinct, i) < distinct.length && distinct[indexOfSorted(distinct, i)] === i;
      assert.deepEqual(back.subarray(i * d, i * d + d), listed ? src.subarray(i * d, i * d + d) : new Float32Array(d), `d=${d} row ${i}`);
    }
  }
});

test('sortedUniqueSlots gives the sorted distinct values and each entry\'s index among them (radix passes: none for all zeros, one, two and three)', () => {
  const rng = Rng.fromSeed(23);
  for (const [len, range] of [[0, 5], [1, 5], [40, 1], [50, 10], [3000, 2 ** 31 - 1], [5000, 400], [6000, 3_000_000], [4000, 2048], [4000, 2049]] as const) {
    const a = Int32Array.from({ length: len }, () => rng.int(range));
    const { ids, slots } = sortedUniqueSlots(a);
    assert.deepEqual(ids, sortedUnique(a), `len=${len}`);
    for (let i = 0; i < len; i++) assert.equal(ids[slots[i]!], a[i], `len=${len} i=${i}`);
  }
  const big = Int32Array.from({ length: 2 ** 22 + 3 }, (_, i) => (i * 7919) % 100_003);
  const { ids, slots } = sortedUniqueSlots(big);
  assert.equal(ids.length, 100_003);
  for (let i = 0; i < big.length; i += 997) assert.equal(ids[slots[i]!], big[i]);
});
