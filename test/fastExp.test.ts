import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { expNonPos, EXP_NONPOS_MIN } from '../src/core/fastExp.js';

test('expNonPos matches Math.exp to 1e-13 relative on [-700, 0]', () => {
  const rng = Rng.fromSeed(1);
  const xs = [0, -0, -1e-300, -1e-9, -Math.LN2 / 64, -Math.LN2 / 32, -0.5, -1, -Math.LN2, -10, -100, -699.999, EXP_NONPOS_MIN];
  for (let i = 0; i < 200_000; i++) xs.push(-rng.float() * (i % 2 ? 40 : 700));
  let worst = 0;
  for (const x of xs) worst = Math.max(worst, Math.abs(expNonPos(x) / Math.exp(x) - 1));
  assert.ok(worst < 1e-13, `max relative error ${worst}`);
  assert.equal(expNonPos(0), 1);
});

test('expNonPos: below the range gives 0, NaN gives NaN', () => {
  assert.equal(expNonPos(-700.5), 0);
  assert.equal(expNonPos(-Infinity), 0);
  assert.ok(Number.isNaN(expNonPos(NaN)));
});
