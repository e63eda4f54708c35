import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multiLabels, singleLabels } from '../src/core/matrix.js';
import { LabelRangeError, OptionError, ShapeError } from '../src/core/errors.js';
import { meanNll, ndcgAtK, nllPerRow, perplexity, precisionAtK, recallAtK } from '../src/loss/metrics.js';

const close = (a: number, b: number, tol = 1e-14): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const L2 = (x: number): number => Math.log2(x);

// Four rows, k = 5.
const topIds = Int32Array.from([
  5, 2, 9, 7, 1, // row 0: positives {2, 7, 8} -> hits at ranks 2 and 4
  0, 1, 2, 3, 4, // row 1: positive {0} -> hit at rank 1
  6, 6, 6, 6, 6, // row 2: no positives -> NaN, left out of the means
  3, -1, -1, -1, -1, // row 3: positives {3, 3, 4} (duplicate counts once), padded list
]);
const labels = multiLabels([[8, 7, 2], [0], [], [3, 3, 4]]);

test('P@k by hand, with multiple positives, padding and a row without positives', () => {
  const p1 = precisionAtK(topIds, 5, labels, 1);
  assert.deepEqual(Array.from(p1.perRow), [0, 1, NaN, 1]);
  close(p1.mean, 2 / 3);
  assert.equal(p1.rows, 3);
  const p3 = precisionAtK(topIds, 5, labels, 3);
  assert.deepEqual(Array.from(p3.perRow), [1 / 3, 1 / 3, NaN, 1 / 3]);
  const p5 = precisionAtK(topIds, 5, labels);
  assert.deepEqual(Array.from(p5.perRow), [2 / 5, 1 / 5, NaN, 1 / 5]);
  close(p5.mean, (2 / 5 + 1 / 5 + 1 / 5) / 3);
});

test('Recall@k by hand (distinct positives)', () => {
  assert.deepEqual(Array.from(recallAtK(topIds, 5, labels, 1).perRow), [0, 1, NaN, 1 / 2]);
  const r3 = recallAtK(topIds, 5, labels, 3);
  assert.deepEqual(Array.from(r3.perRow), [1 / 3, 1, NaN, 1 / 2]);
  const r5 = recallAtK(topIds, 5, labels, 5);
  assert.deepEqual(Array.from(r5.perRow), [2 / 3, 1, NaN, 1 / 2]);
  close(r5.mean, (2 / 3 + 1 + 1 / 2) / 3);
});

test('nDCG@k by hand (binary relevance, ideal DCG over min(|P|, k))', () => {
  const n1 = ndcgAtK(topIds, 5, labels, 1).perRow;
  assert.deepEqual(Array.from(n1), [0, 1, NaN, 1]);
  const n3 = ndcgAtK(topIds, 5, labels, 3).perRow;
  close(n3[0]!, 1 / L2(3) / (1 + 1 / L2(3) + 1 / L2(4)));
  close(n3[1]!, 1);
  close(n3[3]!, 1 / (1 + 1 / L2(3)));
  const n5 = ndcgAtK(topIds, 5, labels, 5);
  close(n5.perRow[0]!, (1 / L2(3) + 1 / L2(5)) / (1 + 1 / L2(3) + 1 / L2(4)));
  close(n5.mean, (n5.perRow[0]! + 1 + 1 / (1 + 1 / L2(3))) / 3);
  // A perfect ranking scores 1; a positive moved down scores less.
  close(ndcgAtK(Int32Array.from([4, 9, 0]), 3, multiLabels([[9, 4]])).mean, 1);
  assert.ok(ndcgAtK(Int32Array.from([4, 0, 9]), 3, multiLabels([[9, 4]])).mean < 1);
});

test('NLL and perplexity by hand (mean over label entries)', () => {
  const lp = Float64Array.from([Math.log(0.5), Math.log(0.25), Math.log(0.125)]);
  close(meanNll(lp), (Math.log(2) + Math.log(4) + Math.log(8)) / 3);
  close(perplexity(lp), 4, 1e-12); // exp(mean) = (2·4·8)^(1/3) = 4
  const l = multiLabels([[1, 2], [], [0]]);
  const r = nllPerRow(lp, l);
  assert.deepEqual(Array.from(r.perRow.map((x) => Math.round(x / Math.log(2) * 1e9) / 1e9)), [1.5, NaN, 3]);
  close(r.perplexity, 4, 1e-12);
  assert.ok(Number.isNaN(meanNll(new Float64Array(0))));
  assert.throws(() => nllPerRow(lp, singleLabels([0])), ShapeError);
});

test('metric inputs are validated', () => {
  assert.throws(() => precisionAtK(topIds, 5, labels, 6), OptionError);
  assert.throws(() => precisionAtK(topIds, 5, labels, 0), OptionError);
  assert.throws(() => recallAtK(topIds, 4, labels), ShapeError);
  assert.throws(() => ndcgAtK(topIds, 5, multiLabels([[1], [2]])), ShapeError);
  assert.throws(() => precisionAtK(topIds, 5, multiLabels([[1], [-2], [], []])), LabelRangeError);
  assert.ok(Number.isNaN(precisionAtK(new Int32Array(2), 2, multiLabels([[]])).mean));
});
