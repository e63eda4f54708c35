/**
 * Statistical checks of the two estimator conventions (ALGORITHMS.md §2) with real samplers:
 * - exact sampler + exclusive: the mean sampled gradient equals the full gradient;
 * - exact sampler + correctedAll: it equals the full gradient scaled by m/(m+1) when no sampled id
 *   hits the positive; with accidental hits masked, the exact expectation is a binomial mixture
 *   (computed below), which tends to m/(m+1)·g as p_t → 0;
 * - uniform sampler: the bias is clearly non-zero and falls as m grows.
 * Fixed seeds; each Hotelling test has a false-failure rate of 1e-3 under its null hypothesis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { exactReference, gradBias, gradientTrials, proposalFit } from '../src/diagnostics/bias.js';
import { syntheticQueries, syntheticTable } from '../src/diagnostics/synthetic.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import { hotelling } from './util/hotelling.js';

const n = 300;
const d = 6;
const B = 6;
const rng = Rng.fromSeed(2024);
const table = syntheticTable('clustered', n, d, rng.fork(0), { clusters: 12 });
const queries = syntheticQueries(table, B, 3, rng.fork(1), true);
const ref = exactReference(table, queries, rng.fork(2));

test('exact sampler, exclusive convention: mean gradient equals the full gradient (Hotelling, α = 1e-3)', () => {
  const s = createSampler('exact');
  s.build(table);
  const tr = gradientTrials(s, table, queries, ref.labels, { m: 4, trials: 600, convention: 'exclusive', rng: rng.fork(3) });
  const h = hotelling(tr, ref.grad, B, d);
  assert.ok(h.pValue > 1e-3, `p = ${h.pValue}, stat = ${h.stat}`);
  // the partition-function estimate has zero variance here, so the loss is exact
  let loss = 0;
  for (let b = 0; b < B; b++) loss += ref.loss[b]! / B;
  for (let t = 0; t < tr.trials; t++) assert.ok(Math.abs(tr.losses[t]! - loss) < 1e-4 * (1 + loss));
});

test('exact sampler, correctedAll: mean gradient is the masked binomial mixture ≈ m/(m+1)·g, not g', () => {
  const m = 4;
  const s = createSampler('exact');
  s.build(table);
  const tr = gradientTrials(s, table, queries, ref.labels, { m, trials: 600, convention: 'correctedAll', rng: rng.fork(4) });
  // E[ĝ] = Σ_k Binom(k; m, p_t) [ (c_t + (m−k) μ') / (m−k+1) − c_t ],  μ' = Σ_{i≠t} p_i c_i / (1 − p_t)
  const expected = new Float64Array(B * d);
  const scaled = new Float64Array(B * d);
  for (let b = 0; b < B; b++) {
    const t = ref.labels.ids[b]!;
    const pt = Math.exp(ref.logProbs[b * n + t]!);
    const mu = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      if (i === t) continue;
      const p = Math.exp(ref.logProbs[b * n + i]!) / (1 - pt);
      for (let k = 0; k < d; k++) mu[k] += p * table.weights[i * d + k]!;
    }
    let binom = 1; // C(m, k)
    for (let k = 0; k <= m; k++) {
      if (k > 0) binom = (binom * (m - k + 1)) / k;
      const w = binom * pt ** k * (1 - pt) ** (m - k);
      for (let j = 0; j < d; j++) {
        const ct = table.weights[t * d + j]!;
        expected[b * d + j] += w * ((ct + (m - k) * mu[j]!) / (m - k + 1) - ct);
      }
    }
    for (let j = 0; j < d; j++) scaled[b * d + j] = (m / (m + 1)) * ref.grad[b * d + j]!;
  }
  const h = hotelling(tr, expected, B, d);
  assert.ok(h.pValue > 1e-3, `vs mixture: p = ${h.pValue}`);
  // power check: the full (unscaled) gradient is rejected
  const hFull = hotelling(tr, ref.grad, B, d);
  assert.ok(hFull.pValue < 1e-6, `vs full gradient should be rejected, p = ${hFull.pValue}`);
  // and the mixture is close to m/(m+1)·g (exactly equal when p_t → 0)
  let num = 0;
  let den = 0;
  for (let i = 0; i < B * d; i++) {
    num += (expected[i]! - scaled[i]!) ** 2;
    den += scaled[i]! ** 2;
  }
  assert.ok(Math.sqrt(num / den) < 0.2, `mixture vs m/(m+1)·g: ${Math.sqrt(num / den)}`);
});

test('exact sampler, maskedExclusive: mean gradient is (1 − p_t^m)·g, the full gradient of every row with a kept negative (Hotelling, α = 1e-3)', () => {
  // Draws come from all classes and hits on the positive are dropped; conditional on k ≥ 1 kept
  // draws the partition estimate is exact and the gradient unbiased; a row whose m draws all hit
  // its positive (probability p_t^m) has no negative and contributes 0.
  const m = 4;
  const s = createSampler('exact');
  s.build(table);
  const tr = gradientTrials(s, table, queries, ref.labels, { m, trials: 600, convention: 'maskedExclusive', rng: rng.fork(6) });
  const expected = new Float64Array(B * d);
  for (let b = 0; b < B; b++) {
    const pt = Math.exp(ref.logProbs[b * n + ref.labels.ids[b]!]!);
    for (let j = 0; j < d; j++) expected[b * d + j] = (1 - pt ** m) * ref.grad[b * d + j]!;
  }
  const h = hotelling(tr, expected, B, d);
  assert.ok(h.pValue > 1e-3, `p = ${h.pValue}, stat = ${h.stat}`);
  // power check: correctedAll's mean gradient (≈ m/(m+1)·g) is rejected against this expectation
  const hCa = hotelling(gradientTrials(s, table, queries, ref.labels, { m, trials: 600, convention: 'correctedAll', rng: rng.fork(7) }), expected, B, d);
  assert.ok(hCa.pValue < 1e-6, `correctedAll should differ, p = ${hCa.pValue}`);
});

test('uniform sampler: gradient bias is clearly non-zero and falls as m grows', () => {
  const s = createSampler('uniform');
  s.build(table);
  const small = gradBias(gradientTrials(s, table, queries, ref.labels, { m: 3, trials: 300, convention: 'exclusive', rng: rng.fork(5) }), ref.grad, B, d);
  const large = gradBias(gradientTrials(s, table, queries, ref.labels, { m: 60, trials: 300, convention: 'exclusive', rng: rng.fork(6) }), ref.grad, B, d);
  assert.ok(small.gradBias > 5 * small.gradBiasStderr, `m=3: ${small.gradBias} ± ${small.gradBiasStderr}`);
  assert.ok(large.gradBias > 0, `m=60: ${large.gradBias}`);
  assert.ok(small.gradBias - large.gradBias > 4 * Math.hypot(small.gradBiasStderr, large.gradBiasStderr), `${small.gradBias} vs ${large.gradBias}`);
});

test('proposalFit: KL, effective sample size and head mass of exact, uniform and unigram proposals, recomputed by hand', () => {
  const n = 300;
  const table = syntheticTable('clustered', n, 8, Rng.fromSeed(61));
  const queries = syntheticQueries(table, 5, 4, Rng.fromSeed(62), true);
  const ref = exactReference(table, queries, Rng.fromSeed(63));
  const exact = createSampler('exact');
  exact.build(table);
  const fe = proposalFit(exact, queries, ref, n);
  assert.ok(Math.abs(fe.kl) < 1e-6 && Math.abs(fe.ess - 1) < 1e-6, JSON.stringify(fe));
  assert.ok(fe.headMass >= 0.5 - 1e-9, 'q = p puts at least half its mass on the head of p');
  const counts = Float64Array.from({ length: n }, (_, i) => 1 + (i % 7));
  const z = counts.reduce((a, b) => a + b, 0);
  for (const [name, q] of [
    ['uniform', (_: number) => 1 / n],
    ['unigram', (i: number) => counts[i]! / z],
  ] as const) {
    const s = createSampler(name, name === 'uniform' ? { n } : { counts, alpha: 1 });
    s.build(table);
    const got = proposalFit(s, queries, ref, n);
    let kl = 0;
    let ess = 0;
    let head = 0;
    for (let b = 0; b < queries.rows; b++) {
      const p = Array.from({ length: n }, (_, i) => Math.exp(ref.logProbs[b * n + i]!));
      kl += p.reduce((a, pi, i) => a + (pi > 0 ? pi * Math.log(pi / q(i)) : 0), 0);
      ess += 1 / p.reduce((a, pi, i) => a + (pi * pi) / q(i), 0);
      const byP = p.map((pi, i) => [pi, i] as const).sort((x, y) => y[0] - x[0]);
      let pm = 0;
      for (const [pi, i] of byP) {
        if (pm >= 0.5) break;
        pm += pi;
        head += q(i);
      }
    }
    const B = queries.rows;
    assert.ok(Math.abs(got.kl - kl / B) < 1e-9, `${name} kl`);
    assert.ok(Math.abs(got.ess - ess / B) < 1e-9, `${name} ess`);
    assert.ok(Math.abs(got.headMass - head / B) < 1e-9, `${name} head`);
    assert.ok(got.ess < 1 && got.ess > 0, `${name} ess in (0, 1)`);
  }
});
