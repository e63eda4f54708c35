// Tests of the alias table. Chi-square assertions use fixed seeds and p > 1e-3 (failure rate 1e-3
// per assertion for a correct table and a random seed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import { NonFiniteError, OptionError } from '../src/core/errors.js';
import { AliasTable } from '../src/samplers/alias.js';
import { histogram } from './util/oracle.js';

/** Probabilities implied by the table's columns (keep/alias), read from its private arrays. */
function impliedProbs(t: AliasTable): Float64Array {
  const inner = t as unknown as { ids: Int32Array; keep: Float64Array; alias: Int32Array; support: number; n: number };
  const p = new Float64Array(inner.n);
  for (let k = 0; k < inner.support; k++) {
    p[inner.ids[k]!]! += inner.keep[k]! / inner.support;
    p[inner.ids[inner.alias[k]!]!]! += (1 - inner.keep[k]!) / inner.support;
  }
  return p;
}

const SKEWED = [0, 1000, 0.5, 0, 3, 200, 0, 0.001, 50, 7, 7, 0, 1e-3, 90, 400, 1, 0, 2.5, 12, 600];

test('alias table: skewed weights with zeros match w/Σw (chi-square p > 1e-3); zeros never drawn', () => {
  const t = new AliasTable(SKEWED);
  const total = SKEWED.reduce((a, b) => a + b, 0);
  const p = Float64Array.from(SKEWED, (w) => w / total);
  const rng = Rng.fromSeed(7);
  const draws = new Int32Array(400000);
  for (let i = 0; i < draws.length; i++) {
    draws[i] = t.draw(rng);
    if (t.lastLogQ !== t.logProb(draws[i]!)) assert.fail(`draw ${i}: lastLogQ ${t.lastLogQ} ≠ logProb ${t.logProb(draws[i]!)}`);
  }
  const h = histogram(draws, SKEWED.length);
  SKEWED.forEach((w, i) => {
    if (w === 0) assert.equal(h[i], 0, `zero-weight id ${i} drawn`);
  });
  const res = chiSquareTest(h, p);
  assert.ok(res.pValue > 1e-3, `p = ${res.pValue}`);
  assert.ok(res.bins >= 12, `too few bins (${res.bins})`);
  // scores
  let s = 0;
  SKEWED.forEach((w, i) => {
    assert.ok(Math.abs(t.prob(i) - p[i]!) <= 1e-15, `prob(${i})`);
    if (w === 0) assert.equal(t.logProb(i), -Infinity);
    else assert.ok(Math.abs(t.logProb(i) - Math.log(p[i]!)) <= 1e-12 * Math.max(1, Math.abs(Math.log(p[i]!))));
    s += t.prob(i);
  });
  assert.ok(Math.abs(s - 1) < 1e-14);
  assert.equal(t.support, SKEWED.filter((w) => w > 0).length);
});

test('alias table: implied column probabilities equal w/Σw for arbitrary weights (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 1e-300, max: 1e-200 })), {
        minLength: 1,
        maxLength: 60,
      }),
      (w) => {
        fc.pre(w.some((x) => x > 0));
        const t = new AliasTable(w);
        const implied = impliedProbs(t);
        for (let i = 0; i < w.length; i++) {
          if (w[i] === 0) assert.equal(implied[i], 0);
          assert.ok(Math.abs(implied[i]! - t.prob(i)) <= 1e-12, `id ${i}: ${implied[i]} vs ${t.prob(i)}`);
        }
      },
    ),
    { seed: 12345, numRuns: 300 },
  );
});

test('alias table: huge and tiny weights do not overflow; a single positive weight is always drawn', () => {
  const t = new AliasTable([1e308, 1e308, 0, 1e308]);
  assert.ok(Math.abs(t.prob(0) - 1 / 3) < 1e-15);
  const one = new AliasTable([0, 0, 5e-320, 0]);
  const rng = Rng.fromSeed(3);
  for (let i = 0; i < 100; i++) assert.equal(one.draw(rng), 2);
  assert.equal(one.logProb(2), 0);
});

test('alias table: invalid weights raise typed errors', () => {
  assert.throws(() => new AliasTable([]), OptionError);
  assert.throws(() => new AliasTable([0, 0, 0]), OptionError);
  assert.throws(() => new AliasTable([1, -1]), OptionError);
  assert.throws(() => new AliasTable([1, Number.NaN]), NonFiniteError);
  assert.throws(() => new AliasTable([1, Infinity]), NonFiniteError);
});
