import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { LabelRangeError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { defaultKernels, kernels, tsKernels, useKernels, type KernelSet } from '../src/kernels/index.js';
import * as ref from '../src/kernels/ref.js';
import { detectFeatures, initFastKernels, choosePath, type FastKernels, type KernelPath } from '../src/kernels/fast.js';
import { U32, assertClose, dot64, dotTol, randF32, randIds } from './util/kernelCheck.js';

const features = await detectFeatures();

test('the default kernels are the WebAssembly ones, loaded at first use; useKernels(tsKernels) chooses the TS reference', () => {
  // nothing was installed yet in this process: reading the name resolves the defaults
  const want = features.simd && features.sharedMemory ? (features.relaxedSimd ? 'wasm-fma' : 'wasm-simd') : 'ts';
  assert.equal(kernels.name, want);
  assert.equal(defaultKernels.name, want);
  const a = randF32(Rng.fromSeed(3), 5 * 7);
  const c = randF32(Rng.fromSeed(4), 9 * 7);
  const got = new Float32Array(45);
  kernels.matmulNT(a, 5, c, 0, 9, 7, got);
  const before = useKernels(tsKernels);
  assert.equal(before, defaultKernels, 'the defaults were active');
  assert.equal(kernels.name, 'ts');
  assert.equal(kernels.matmulNT, tsKernels.matmulNT);
  const refOut = new Float32Array(45);
  kernels.matmulNT(a, 5, c, 0, 9, 7, refOut);
  for (let i = 0; i < 45; i++) assert.ok(Math.abs(got[i]! - refOut[i]!) <= 2 * dotTol(a, Math.floor(i / 9) * 7, c, (i % 9) * 7, 7), `entry ${i}`);
  useKernels(defaultKernels);
  assert.equal(kernels.name, want, 'useKernels(defaultKernels) restores the defaults');
  useKernels(tsKernels);
});

test('this Node runtime has WebAssembly SIMD and shared memory', () => {
  // Node >= 20 always has both; if this fails the wasm tests below would be skipped silently.
  assert.ok(features.simd && features.sharedMemory);
});

/** Shapes `[rows, n, d]`: odd sizes, d not a multiple of 4, n below and above the 128-row block, empty batch. */
const SHAPES: Array<[number, number, number]> = [
  [0, 5, 3], [1, 1, 1], [3, 5, 7], [2, 4, 4], [5, 13, 17], [4, 9, 2], [7, 33, 6], [9, 130, 33],
  [17, 67, 128], [3, 257, 5], [6, 129, 64], [11, 40, 131], [3, 5, 0],
];

/** Copies `x` into wasm memory (zero-copy path) or returns it unchanged (staged path). */
type Place = <T extends Float32Array | Float64Array | Int32Array>(x: T) => T;

function placer(fk: FastKernels, inArena: boolean): Place {
  return <T extends Float32Array | Float64Array | Int32Array>(x: T): T => {
    if (!inArena) return x;
    const y = (x instanceof Float32Array ? fk.allocF32(x.length) : x instanceof Float64Array ? fk.allocF64(x.length) : fk.allocI32(x.length)) as T;
    y.set(x as never);
    return y;
  };
}

/**
 * Error bound for accumulation kernels `out += Σ_s w_s x_s` in float32: the fast kernel and the
 * reference each err by at most `(S+1)·u·(|out0| + Σ|w_s x_s|)` per element, S = number of terms
 * added to that element; `absOut` holds `|out0| + Σ|w x|` and `count` holds S.
 */
function accumTol(absOut: Float32Array, count: Float32Array): (i: number) => number {
  return (i) => 2.02 * (count[i]! + 1) * U32 * absOut[i]!;
}

const abs = (x: Float32Array): Float32Array => x.map(Math.abs);
const ones = (len: number): Float32Array => new Float32Array(len).fill(1);

function checkMatmul(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number, ints: boolean): void {
  const cStart = rng.int(3);
  const a = randF32(rng, rows * d, ints);
  const c = randF32(rng, (n + cStart + 1) * d, ints);
  const want = new Float32Array(rows * n);
  ref.matmulNT(a, rows, c, cStart, n, d, want);
  const got = place(new Float32Array(rows * n).fill(NaN));
  k.matmulNT(place(a), rows, place(c), cStart, n, d, got);
  assertClose(got, want, (e) => (ints ? 0 : dotTol(a, Math.floor(e / n) * d, c, (cStart + (e % n)) * d, d)), `matmulNT ${rows}x${n}x${d}`);
}

function checkGather(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number, shared: boolean): void {
  const m = 1 + rng.int(9);
  const a = randF32(rng, rows * d);
  const c = randF32(rng, n * d);
  const ids = randIds(rng, shared ? m : rows * m, n);
  const want = new Float32Array(rows * m);
  ref.gatherDot(a, rows, c, d, ids, m, shared, want);
  const got = place(new Float32Array(rows * m).fill(NaN));
  k.gatherDot(place(a), rows, place(c), d, place(ids), m, shared, got);
  assertClose(got, want, (e) => {
    const i = Math.floor(e / m);
    return dotTol(a, i * d, c, ids[(shared ? 0 : i * m) + (e % m)]! * d, d);
  }, `gatherDot ${rows}x${m}x${d} shared=${shared}`);
}

/**
 * `bucketDots` over random groups (empty ones included) against the reference within the dot
 * tolerance, and bit for bit against the same kernel set's `gatherDot` (shared) group by group.
 */
function checkBucketDots(k: KernelSet, place: Place, rng: Rng, n: number, d: number): void {
  const B = 1 + rng.int(9);
  const q = randF32(rng, B * d);
  const c = randF32(rng, n * d);
  const groups = 1 + rng.int(6);
  const idsLen = 3 + rng.int(40);
  const ids = randIds(rng, idsLen, n);
  const gOff = new Int32Array(groups + 1);
  const gA = new Int32Array(groups);
  const gSize = new Int32Array(groups);
  const rowList: number[] = [];
  let total = 0;
  for (let g = 0; g < groups; g++) {
    const cnt = rng.int(4); // 0 .. 3 query rows (0: an empty group)
    for (let t = 0; t < cnt; t++) rowList.push(rng.int(B));
    gOff[g + 1] = rowList.length;
    gA[g] = rng.int(idsLen);
    gSize[g] = rng.int(idsLen - gA[g]! + 1); // may be 0
    total += cnt * gSize[g]!;
  }
  const qRows = Int32Array.from(rowList);
  const want = new Float32Array(total);
  ref.bucketDots(q, d, c, ids, groups, qRows, gOff, gA, gSize, want);
  const got = place(new Float32Array(total).fill(NaN));
  k.bucketDots(place(q), d, place(c), place(ids), groups, qRows, gOff, gA, gSize, got);
  let o = 0;
  for (let g = 0; g < groups; g++) {
    const rows = gOff[g + 1]! - gOff[g]!;
    const m = gSize[g]!;
    if (rows === 0 || m === 0) continue;
    const a = new Float32Array(rows * d);
    for (let t = 0; t < rows; t++) a.set(q.subarray(qRows[gOff[g]! + t]! * d, qRows[gOff[g]! + t]! * d + d), t * d);
    const byGather = new Float32Array(rows * m);
    k.gatherDot(a, rows, c, d, ids.subarray(gA[g]!, gA[g]! + m), m, true, byGather);
    assert.deepEqual(new Float32Array(got.subarray(o, o + rows * m)), byGather, `bucketDots group ${g} = gatherDot, bit for bit (n=${n}, d=${d})`);
    for (let e = 0; e < rows * m; e++) {
      const tol = dotTol(q, qRows[gOff[g]! + Math.floor(e / m)]! * d, c, ids[gA[g]! + (e % m)]! * d, d);
      assert.ok(Math.abs(got[o + e]! - want[o + e]!) <= tol, `bucketDots group ${g} entry ${e}: ${got[o + e]} vs ${want[o + e]} (n=${n}, d=${d})`);
    }
    o += rows * m;
  }
}

function checkAccum(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number): void {
  const cStart = rng.int(3);
  const g = randF32(rng, rows * n);
  for (let e = 0; e < g.length; e += 3) g[e] = 0; // zero weights are skipped by the reference
  const c = randF32(rng, (n + cStart) * d);
  const h = randF32(rng, rows * d);
  // queries: outH [rows, d]
  const h0 = randF32(rng, rows * d);
  const wantH = h0.slice();
  ref.accumGradQueries(g, rows, c, cStart, n, d, wantH);
  const gotH = place(h0.slice());
  k.accumGradQueries(place(g), rows, place(c), cStart, n, d, gotH);
  const absH = abs(h0);
  ref.accumGradQueries(abs(g), rows, abs(c), cStart, n, d, absH);
  const cntH = new Float32Array(rows * d);
  ref.accumGradQueries(ones(rows * n), rows, ones((n + cStart) * d), cStart, n, d, cntH);
  assertClose(gotH, wantH, accumTol(absH, cntH), `accumGradQueries ${rows}x${n}x${d}`);
  // classes: outC [n, d]
  const c0 = randF32(rng, n * d);
  const wantC = c0.slice();
  ref.accumGradClasses(g, rows, n, h, d, wantC);
  const gotC = place(c0.slice());
  k.accumGradClasses(place(g), rows, n, place(h), d, gotC);
  const absC = abs(c0);
  ref.accumGradClasses(abs(g), rows, n, abs(h), d, absC);
  const cntC = new Float32Array(n * d);
  ref.accumGradClasses(ones(rows * n), rows, n, ones(rows * d), d, cntC);
  assertClose(gotC, wantC, accumTol(absC, cntC), `accumGradClasses ${rows}x${n}x${d}`);
}

function checkSparseGrad(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number, shared: boolean): void {
  const m = 1 + rng.int(11);
  const len = shared ? m : rows * m;
  const g = randF32(rng, rows * m);
  const c = randF32(rng, n * d);
  const h = randF32(rng, rows * d);
  const ids = randIds(rng, len, n); // duplicates included on purpose
  // query gradient
  const h0 = randF32(rng, rows * d);
  const want = h0.slice();
  ref.gatherAccumGradQueries(g, rows, c, d, ids, m, shared, want);
  const got = place(h0.slice());
  k.gatherAccumGradQueries(place(g), rows, place(c), d, place(ids), m, shared, got);
  const absO = abs(h0);
  ref.gatherAccumGradQueries(abs(g), rows, abs(c), d, ids, m, shared, absO);
  const cnt = new Float32Array(rows * d);
  ref.gatherAccumGradQueries(ones(rows * m), rows, ones(n * d), d, ids, m, shared, cnt);
  assertClose(got, want, accumTol(absO, cnt), `gatherAccumGradQueries ${rows}x${m}x${d} shared=${shared}`);
  // scatter into touched rows: slots index a compact table of `touched` rows (with collisions)
  const touched = 1 + rng.int(Math.max(1, Math.min(len, 6)));
  const slots = randIds(rng, len, touched);
  const o0 = randF32(rng, touched * d);
  const wantS = o0.slice();
  ref.scatterAddRows(g, rows, h, d, slots, m, shared, wantS);
  const gotS = place(o0.slice());
  k.scatterAddRows(place(g), rows, place(h), d, place(slots), m, shared, gotS);
  const absS = abs(o0);
  ref.scatterAddRows(abs(g), rows, abs(h), d, slots, m, shared, absS);
  const cntS = new Float32Array(touched * d);
  ref.scatterAddRows(ones(rows * m), rows, ones(rows * d), d, slots, m, shared, cntS);
  assertClose(gotS, wantS, accumTol(absS, cntS), `scatterAddRows ${rows}x${m}x${d} shared=${shared}`);
}

function checkFused(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number, ints: boolean): void {
  const kk = [0, 1, 3, 10, n + 2][rng.int(5)]!;
  const a = randF32(rng, rows * d, ints);
  const c = randF32(rng, n * d, ints);
  const bias = rng.int(2) === 0 ? null : randF32(rng, n, ints);
  const wl = new Float64Array(rows);
  const wi = new Int32Array(rows * kk);
  const ws = new Float32Array(rows * kk);
  ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, kk, wl, wi, ws);
  const gl = place(new Float64Array(rows).fill(NaN));
  const gi = place(new Int32Array(rows * kk).fill(-7));
  const gs = place(new Float32Array(rows * kk).fill(NaN));
  k.fusedSoftmaxTopK(place(a), rows, place(c), bias && place(bias), n, d, kk, gl, gi, gs);
  const what = `fusedSoftmaxTopK ${rows}x${n}x${d} k=${kk} bias=${!!bias}`;
  for (let i = 0; i < rows; i++) {
    // exact logits and their float32 error bounds (dot bound + rounding of the bias add)
    const o = new Float64Array(n);
    let maxTol = 0;
    for (let j = 0; j < n; j++) {
      o[j] = dot64(a, i * d, c, j * d, d) + (bias ? bias[j]! : 0);
      maxTol = Math.max(maxTol, dotTol(a, i * d, c, j * d, d) + 2 * U32 * Math.abs(o[j]!));
    }
    // log-sum-exp is 1-Lipschitz in the max norm of the logits; on top, the float32 exp
    // (about 4u + 0.7u·|o - max| per term, small where the terms are large) and float32
    // lane sums of <= 32 terms per 128-row block add at most ~40u relative to the sum,
    // i.e. ~40u absolute to its log: 64u covers both.
    const lseTol = maxTol + 64 * U32 * Math.max(1, Math.abs(wl[i]!));
    assert.ok(gl[i] === wl[i] || Math.abs(gl[i]! - wl[i]!) <= lseTol, `${what} lse[${i}]: ${gl[i]} vs ${wl[i]} (tol ${lseTol})`);
    const seen = new Set<number>();
    for (let r = 0; r < kk; r++) {
      const e = i * kk + r;
      if (wi[e] === -1) {
        assert.equal(gi[e], -1, `${what}: entry ${r} of row ${i} must be empty (k > n)`);
        assert.equal(gs[e], -Infinity);
        continue;
      }
      if (ints) {
        // integer data: every logit is exact, so ids (ties by smaller id) and scores must match exactly
        assert.equal(gi[e], wi[e], `${what} top id row ${i} rank ${r}`);
        assert.equal(gs[e], ws[e], `${what} top score row ${i} rank ${r}`);
        continue;
      }
      // the r-th largest of perturbed logits is within maxTol of the r-th largest exact one,
      // and the reported id's exact logit is within its own bound of the reported score
      const id = gi[e]!;
      assert.ok(id >= 0 && id < n && !seen.has(id), `${what}: bad or repeated id ${id}`);
      seen.add(id);
      assert.ok(Math.abs(gs[e]! - ws[e]!) <= maxTol + U32 * Math.abs(ws[e]!), `${what} score row ${i} rank ${r}: ${gs[e]} vs ${ws[e]}`);
      assert.ok(Math.abs(o[id]! - gs[e]!) <= maxTol + U32 * Math.abs(o[id]!), `${what} id ${id} row ${i} rank ${r} has logit ${o[id]}, reported ${gs[e]}`);
    }
  }
}

function checkKmeans(k: KernelSet, place: Place, rng: Rng, rows: number, n: number, d: number, ints: boolean): void {
  const kc = 1 + (n % 37);
  const x = randF32(rng, rows * d, ints);
  const cent = randF32(rng, kc * d, ints);
  const wIdx = new Int32Array(rows);
  const wDist = new Float32Array(rows);
  ref.kmeansAssign(x, rows, cent, kc, d, wIdx, wDist);
  const gIdx = place(new Int32Array(rows).fill(-1));
  const gDist = place(new Float32Array(rows).fill(NaN));
  k.kmeansAssign(place(x), rows, place(cent), kc, d, gIdx, gDist);
  const what = `kmeansAssign ${rows}x${kc}x${d}`;
  if (ints) {
    assert.deepEqual(Array.from(gIdx), Array.from(wIdx), what);
    assert.deepEqual(Array.from(gDist), Array.from(wDist), what);
    return;
  }
  let cMax = 0;
  for (let j = 0; j < kc; j++) cMax = Math.max(cMax, dot64(cent, j * d, cent, j * d, d));
  for (let i = 0; i < rows; i++) {
    // the kernel ranks by ||c||² - 2 x·c in float32: each term errs by <= (d+2)u times its
    // magnitude, so comparisons can flip only between centroids closer than twice that
    let xc = 0;
    for (let j = 0; j < kc; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += Math.abs(x[i * d + t]! * cent[j * d + t]!);
      xc = Math.max(xc, s);
    }
    const xn = dot64(x, i * d, x, i * d, d);
    const tol = 2.02 * (d + 3) * U32 * (xn + cMax + 2 * xc);
    const j = gIdx[i]!;
    assert.ok(j >= 0 && j < kc, `${what}: index ${j} out of range`);
    let dj = 0;
    for (let t = 0; t < d; t++) dj += (x[i * d + t]! - cent[j * d + t]!) ** 2;
    assert.ok(dj <= wDist[i]! + tol, `${what} row ${i}: picked ${j} at ${dj}, best ${wIdx[i]} at ${wDist[i]}`);
    assert.ok(Math.abs(gDist[i]! - wDist[i]!) <= tol, `${what} dist row ${i}: ${gDist[i]} vs ${wDist[i]} (tol ${tol})`);
  }
}

function checkNodeScores(k: KernelSet, place: Place, rng: Rng, count: number, D: number): void {
  const phi = Float64Array.from(randF32(rng, D));
  const nodes = Float64Array.from(randF32(rng, count * D));
  const want = new Float64Array(count);
  ref.nodeScores(phi, nodes, count, D, want);
  const got = place(new Float64Array(count).fill(NaN));
  k.nodeScores(place(phi), place(nodes), count, D, got);
  // float64 end to end: the same dot-product bound with u = 2^-53, for both sides
  assertClose(got, want, (j) => {
    let s = 0;
    for (let t = 0; t < D; t++) s += Math.abs(phi[t]! * nodes[j * D + t]!);
    return 2.02 * (D + 2) * 2 ** -53 * s;
  }, `nodeScores ${count}x${D}`);
}

const paths: KernelPath[] = features.simd && features.sharedMemory ? ['simd'] : [];
if (features.relaxedSimd) paths.push('fma');

for (const path of paths) {
  describe(`wasm-${path} kernels match the TS reference`, async () => {
    const fk = await initFastKernels({ path, threads: 0, install: false });
    after(() => fk.close());

    test('backend name and path', () => {
      assert.equal(fk.path, path);
      assert.equal(fk.kernels.name, `wasm-${path}`);
    });

    for (const inArena of [false, true]) {
      const mode = inArena ? 'arrays in wasm memory' : 'staged plain arrays';
      test(`matmulNT, gatherDot and bucketDots, ${mode}`, () => {
        const rng = Rng.fromSeed(101, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        for (const [rows, n, d] of SHAPES) {
          checkMatmul(fk.kernels, place, rng, rows, n, d, false);
          checkMatmul(fk.kernels, place, rng, rows, n, d, true);
          checkGather(fk.kernels, place, rng, rows, n, d, false);
          checkGather(fk.kernels, place, rng, rows, n, d, true);
          checkBucketDots(fk.kernels, place, rng, n, d);
        }
      });
      test(`dense and sparse gradient accumulation, ${mode}`, () => {
        const rng = Rng.fromSeed(202, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        for (const [rows, n, d] of SHAPES) {
          checkAccum(fk.kernels, place, rng, rows, n, d);
          checkSparseGrad(fk.kernels, place, rng, rows, n, d, false);
          checkSparseGrad(fk.kernels, place, rng, rows, n, d, true);
        }
      });
      test(`fused softmax log-sum-exp and top-k, ${mode}`, () => {
        const rng = Rng.fromSeed(303, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        for (const [rows, n, d] of SHAPES) {
          checkFused(fk.kernels, place, rng, rows, n, d, false);
          checkFused(fk.kernels, place, rng, rows, n, d, true);
        }
        checkFused(fk.kernels, place, rng, 3, 0, 5, false); // no classes: lse -inf, all entries empty
        // several 32-query tiles, the last one not a multiple of the 4-row micro-kernel
        checkFused(fk.kernels, place, rng, 70, 150, 19, false);
        checkFused(fk.kernels, place, rng, 70, 150, 19, true);
      });
      test(`k-means assignment and node scores, ${mode}`, () => {
        const rng = Rng.fromSeed(404, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        for (const [rows, n, d] of SHAPES) {
          checkKmeans(fk.kernels, place, rng, rows, n, d, false);
          checkKmeans(fk.kernels, place, rng, rows, n, d, true);
          checkNodeScores(fk.kernels, place, rng, n, d);
        }
      });
    }

    for (const inArena of [false, true]) {
      test(`softmax weights of a score block, ${inArena ? 'arrays in wasm memory' : 'staged plain arrays'}`, () => {
        const rng = Rng.fromSeed(505, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        for (const [rows, cols] of [[1, 1], [3, 5], [4, 8], [7, 131], [2, 1030], [0, 4]] as Array<[number, number]>) {
          const s0 = randF32(rng, rows * cols, false).map((x) => 6 * x);
          // masked entries, a row with factor 0 and a row with ref −∞
          for (let e = 0; e < s0.length; e += 7) s0[e] = -Infinity;
          const biasStart = rng.int(3);
          const bias = randF32(rng, cols + biasStart, false);
          const refs = new Float64Array(rows);
          const factor = new Float64Array(rows);
          for (let i = 0; i < rows; i++) {
            let mx = -Infinity;
            for (let j = 0; j < cols; j++) mx = Math.max(mx, s0[i * cols + j]! + bias[biasStart + j]!);
            refs[i] = mx + 3 * rng.float(); // exponents ≤ 0, as the callers pass a log-sum-exp
            factor[i] = 0.1 + rng.float();
          }
          if (rows > 1) factor[1] = 0;
          if (rows > 2) refs[2] = -Infinity;
          for (const withBias of [true, false]) {
            const want = s0.slice();
            ref.softmaxWeights(want, rows, cols, withBias ? bias : null, biasStart, refs, factor);
            const got = place(s0.slice());
            fk.kernels.softmaxWeights(got, rows, cols, withBias ? place(bias) : null, biasStart, place(refs), place(factor));
            for (let e = 0; e < want.length; e++) {
              if (want[e] === 0) assert.equal(got[e], 0, `masked or zero-row entry ${e}`);
              // expv: relative error ~2.3e-7 plus |exponent|·6e-8, and the float32 exponent rounding
              else assert.ok(Math.abs(got[e]! - want[e]!) <= 5e-6 * Math.abs(want[e]!) + 1e-37, `${rows}x${cols}[${e}]: ${got[e]} vs ${want[e]}`);
            }
          }
        }
      });
    }

    for (const inArena of [false, true]) {
      test(`the full softmax's gradient pass equals its kernels called block by block, and the TS reference, ${inArena ? 'arrays in wasm memory' : 'staged plain arrays'}`, () => {
        const rng = Rng.fromSeed(507, inArena ? 1 : 0);
        const place = placer(fk, inArena);
        // [rows, classes in the range, d, block size]: blocks that do not divide the range, d not a multiple of 4
        for (const [rows, cRows, d, blk] of [[5, 37, 7, 8], [9, 300, 16, 64], [1, 5, 3, 1024], [4, 130, 33, 128], [3, 64, 5, 1]] as Array<[number, number, number, number]>) {
          const cStart = 3;
          const n = cStart + cRows + 2;
          const h = randF32(rng, rows * d);
          const c = randF32(rng, n * d);
          const bias = randF32(rng, n);
          // positives: absolute ids, some outside the range, one listed twice in a row
          const posRows: number[] = [];
          const posIds: number[] = [];
          for (let r = 0; r < rows; r++) for (let k = 0; k <= r % 3; k++) {
            posRows.push(r);
            posIds.push(rng.int(n));
          }
          posRows.push(0);
          posIds.push(posIds[0]!);
          const P = posIds.length;
          const posGrad = Float64Array.from({ length: P }, () => rng.float() - 1);
          const refs = new Float64Array(rows);
          const factor = new Float64Array(rows);
          for (let r = 0; r < rows; r++) {
            refs[r] = 4 + rng.float(); // above every logit here (|h·c| ≤ d/4 + |b|): exponents ≤ 0
            refs[r] += d / 4;
            factor[r] = 0.2 + rng.float();
          }
          if (rows > 2) factor[2] = 0; // a row with weight 0
          const pr = Int32Array.from(posRows);
          const pi = Int32Array.from(posIds);
          for (const withBias of [true, false]) {
            const b = withBias ? bias : null;
            const out = (): { h: Float32Array; c: Float32Array; b: Float32Array | null } => ({
              h: randF32(rng, rows * d), c: randF32(rng, cRows * d), b: withBias ? randF32(rng, cRows) : null,
            });
            const init = out();
            // the single kernels, block by block, as fullSoftmaxLoss called them (in wasm memory, so
            // that the small products do not go to the TS reference)
            const inWasm = placer(fk, true);
            const want = { h: init.h.slice(), c: init.c.slice(), b: init.b ? init.b.slice() : null };
            const hw = inWasm(h);
            const cw = inWasm(c);
            for (let s = 0; s < cRows; s += blk) {
              const cnt = Math.min(blk, cRows - s);
              const start = cStart + s;
              const sc = inWasm(new Float32Array(rows * cnt));
              fk.kernels.matmulNT(hw, rows, cw, start, cnt, d, sc);
              for (let k = 0; k < P; k++) if (pi[k]! >= start && pi[k]! < start + cnt) sc[pr[k]! * cnt + pi[k]! - start] = -Infinity;
              fk.kernels.softmaxWeights(sc, rows, cnt, b, start, refs, factor);
              for (let k = 0; k < P; k++) if (pi[k]! >= start && pi[k]! < start + cnt) sc[pr[k]! * cnt + pi[k]! - start] += posGrad[k]!;
              fk.kernels.accumGradQueries(sc, rows, c, start, cnt, d, want.h);
              fk.kernels.accumGradClasses(sc, rows, cnt, h, d, want.c.subarray(s * d, (s + cnt) * d));
              if (want.b) for (let i = 0; i < rows; i++) for (let j = 0; j < cnt; j++) want.b[s + j] += sc[i * cnt + j]!;
            }
            const got = { h: place(init.h.slice()), c: place(init.c.slice()), b: init.b ? place(init.b.slice()) : null };
            fk.kernels.fullSoftmaxGrad(
              place(h), rows, place(c), cStart, cRows, d, b ? place(b) : null, place(refs), place(factor), place(pr), place(pi), place(posGrad),
              blk, got.h, got.c, got.b,
            );
            const what = `${rows}x${cRows}x${d} blk ${blk}${withBias ? ' bias' : ''}`;
            assert.deepEqual(Array.from(got.h), Array.from(want.h), `${what}: outH`);
            assert.deepEqual(Array.from(got.c), Array.from(want.c), `${what}: outC`);
            assert.deepEqual(got.b ? Array.from(got.b) : null, want.b ? Array.from(want.b) : null, `${what}: outBias`);
            // and the TS reference, within the exp approximation's and float32 sums' error
            const tsOut = { h: init.h.slice(), c: init.c.slice(), b: init.b ? init.b.slice() : null };
            ref.fullSoftmaxGrad(h, rows, c, cStart, cRows, d, b, refs, factor, pr, pi, posGrad, blk, tsOut.h, tsOut.c, tsOut.b);
            for (const key of ['h', 'c', 'b'] as const) {
              const g = got[key];
              const w = tsOut[key];
              if (g === null || w === null) continue;
              const scale = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
              assertClose(g, w, () => 2e-5 * scale, `${what}: ${key} against the TS reference`);
            }
          }
        }
      });
    }

    test('top-k ties are broken by the smaller id, as in the reference', () => {
      const d = 6;
      const n = 300;
      const a = new Float32Array(2 * d).fill(1);
      const c = new Float32Array(n * d);
      for (let j = 0; j < n; j++) c.fill(j % 7 === 3 ? 1 : 0, j * d, j * d + d); // many equal maxima
      const ids = new Int32Array(2 * 5);
      const sc = new Float32Array(2 * 5);
      const lse = new Float64Array(2);
      fk.kernels.fusedSoftmaxTopK(a, 2, c, null, n, d, 5, lse, ids, sc);
      assert.deepEqual(Array.from(ids.subarray(0, 5)), [3, 10, 17, 24, 31]);
      assert.deepEqual(Array.from(sc.subarray(5)), [6, 6, 6, 6, 6]);
    });

    test('log-sum-exp and top-k stay exact when the block maxima jump far up or down', () => {
      // integer data: every logit is exact in float32, so only the exp and the sums err
      const rng = Rng.fromSeed(606);
      const rows = 3;
      const d = 7;
      const shifts = [-300, 0, 12, 40, -1000, 90, 95, 400, 380];
      const n = shifts.length * 128 - 5;
      const a = randF32(rng, rows * d, true);
      const c = randF32(rng, n * d, true);
      const bias = randF32(rng, n, true).map((b, j) => b + shifts[j >> 7]!);
      const k = 6;
      const got = { l: new Float64Array(rows), i: new Int32Array(rows * k), s: new Float32Array(rows * k) };
      fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, got.l, got.i, got.s);
      const want = { l: new Float64Array(rows), i: new Int32Array(rows * k), s: new Float32Array(rows * k) };
      ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, want.l, want.i, want.s);
      for (let i = 0; i < rows; i++) {
        assert.ok(Math.abs(got.l[i]! - want.l[i]!) <= 64 * U32, `lse row ${i}: ${got.l[i]} vs ${want.l[i]}`);
      }
      assert.deepEqual([...got.i], [...want.i]);
      assert.deepEqual([...got.s], [...want.s]);
    });

    test('masked classes (bias -Infinity) have probability zero, also when a whole block is masked', () => {
      const rng = Rng.fromSeed(505);
      const rows = 3;
      const d = 9;
      const n = 300;
      const a = randF32(rng, rows * d);
      const c = randF32(rng, n * d);
      const bias = randF32(rng, n);
      for (let j = 0; j < 140; j++) bias[j] = -Infinity; // the first 128-class block and more
      for (let j = 150; j < n; j += 3) bias[j] = -Infinity;
      const k = 4;
      const got = { l: new Float64Array(rows), i: new Int32Array(rows * k), s: new Float32Array(rows * k) };
      fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, got.l, got.i, got.s);
      const want = { l: new Float64Array(rows), i: new Int32Array(rows * k), s: new Float32Array(rows * k) };
      ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, want.l, want.i, want.s);
      for (let i = 0; i < rows; i++) {
        // direct float64 log-sum-exp over the unmasked classes
        let mx = -Infinity;
        const o: number[] = [];
        for (let j = 0; j < n; j++) {
          if (bias[j] === -Infinity) continue;
          o.push(dot64(a, i * d, c, j * d, d) + bias[j]!);
          mx = Math.max(mx, o[o.length - 1]!);
        }
        const exact = mx + Math.log(o.reduce((s, v) => s + Math.exp(v - mx), 0));
        assert.ok(Math.abs(want.l[i]! - exact) < 1e-5, `reference lse ${want.l[i]} vs ${exact}`);
        assert.ok(Math.abs(got.l[i]! - exact) < 1e-5, `wasm lse ${got.l[i]} vs ${exact}`);
        for (let r = 0; r < k; r++) assert.notEqual(bias[got.i[i * k + r]!], -Infinity);
      }
      // all classes masked: lse = -inf, top-k entries are masked classes with score -inf
      bias.fill(-Infinity);
      fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, got.l, got.i, got.s);
      ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, want.l, want.i, want.s);
      assert.deepEqual([...got.l], [-Infinity, -Infinity, -Infinity]);
      assert.deepEqual([...want.l], [-Infinity, -Infinity, -Infinity]);
      assert.deepEqual([...got.i], [...want.i]);
      assert.deepEqual([...got.s], [...want.s]);
    });

    test('bad input raises typed errors and leaves no staging memory behind', () => {
      const arena = fk.arena!;
      const before = arena.allocatedBytes;
      const a = new Float32Array(4 * 8);
      const c = new Float32Array(10 * 8);
      assert.throws(() => fk.kernels.gatherDot(a, 4, c, 8, Int32Array.of(0, 10), 2, true, new Float32Array(8)), LabelRangeError);
      assert.throws(() => fk.kernels.gatherDot(a, 4, c, 8, Int32Array.of(0, -1), 2, true, new Float32Array(8)), LabelRangeError);
      const one = Int32Array.of(0, 1);
      assert.throws(() => fk.kernels.bucketDots(a, 8, c, Int32Array.of(0, 10), 1, Int32Array.of(0), one, Int32Array.of(0), Int32Array.of(2), new Float32Array(2)), LabelRangeError);
      assert.throws(() => fk.kernels.bucketDots(a, 8, c, Int32Array.of(0, 1), 1, Int32Array.of(4), one, Int32Array.of(0), Int32Array.of(2), new Float32Array(2)), LabelRangeError);
      assert.throws(() => fk.kernels.bucketDots(a, 8, c, Int32Array.of(0, 1), 1, Int32Array.of(0), one, Int32Array.of(1), Int32Array.of(2), new Float32Array(2)), ShapeError);
      assert.throws(() => fk.kernels.bucketDots(a, 8, c, Int32Array.of(0, 1), 1, Int32Array.of(0), one, Int32Array.of(0), Int32Array.of(2), new Float32Array(1)), ShapeError);
      const big = new Float32Array(16 * 32);
      assert.throws(() => fk.kernels.matmulNT(big, 16, new Float32Array(10 * 32), 0, 10, 32, new Float32Array(159)), ShapeError);
      assert.throws(() => fk.kernels.matmulNT(big, 16, new Float32Array(10 * 32), 1, 10, 32, new Float32Array(160)), ShapeError);
      assert.throws(() => fk.kernels.scatterAddRows(a, 4, a, 8, Int32Array.of(0), 2, true, new Float32Array(8)), ShapeError);
      assert.throws(() => fk.free(new Float32Array(4)), OptionError);
      assert.throws(() => fk.kernels.matmulNT(big, 16, new Float32Array(10 * 32), 0, 10, 30.3, new Float32Array(160)), ShapeError);
      assert.throws(() => arena.alloc(NaN), ShapeError);
      assert.equal(arena.allocatedBytes, before);
    });

    test('arena arrays survive memory growth and can be freed', () => {
      const arena = fk.arena!;
      const x = fk.allocF32(16);
      x.fill(3);
      const big = fk.allocF32((arena.byteLength >> 2) + 1000); // forces growth
      assert.equal(x[15], 3);
      assert.ok(arena.owns(x) && arena.owns(big));
      const before = arena.allocatedBytes;
      fk.free(big);
      assert.ok(arena.allocatedBytes < before);
      assert.throws(() => fk.free(big), OptionError); // double free
      fk.free(x);
    });
  });
}

describe('TS fallback', () => {
  test('auto picks fma, then simd, then ts from the features', () => {
    assert.equal(choosePath('auto', { simd: true, relaxedSimd: true, sharedMemory: true }), 'fma');
    assert.equal(choosePath('auto', { simd: true, relaxedSimd: false, sharedMemory: true }), 'simd');
    assert.equal(choosePath('auto', { simd: false, relaxedSimd: false, sharedMemory: true }), 'ts');
    assert.equal(choosePath('auto', { simd: true, relaxedSimd: true, sharedMemory: false }), 'ts');
    assert.throws(() => choosePath('simd', { simd: false, relaxedSimd: false, sharedMemory: true }), StateError);
    assert.throws(() => choosePath('fma', { simd: true, relaxedSimd: false, sharedMemory: true }), StateError);
  });

  test("path 'ts' installs the reference kernels and close() restores the previous ones", async () => {
    const fk = await initFastKernels({ path: 'ts' });
    assert.equal(kernels.name, 'ts');
    assert.equal(fk.arena, null);
    const out = new Float32Array(1);
    await fk.pool.matmulNT(Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 0, 1, 2, out);
    assert.equal(out[0], 11);
    await fk.close();
  });

  test('auto falls back to TS when the wasm build cannot be loaded, and says so in one line, once (quiet: not at all)', async () => {
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
    try {
      const quiet = await initFastKernels({ wasmBaseUrl: new URL('file:///nonexistent-samplex-wasm-quiet/'), threads: 0, install: false, quiet: true });
      assert.equal(quiet.path, 'ts');
      assert.deepEqual(lines, [], 'quiet');
      for (let i = 0; i < 2; i++) {
        const fk = await initFastKernels({ wasmBaseUrl: new URL('file:///nonexistent-samplex-wasm/'), threads: 0, install: false });
        assert.equal(fk.path, 'ts');
        assert.match(fk.fallbackReason ?? '', /cannot load/);
        await fk.close();
      }
    } finally {
      console.warn = warn;
    }
    assert.equal(lines.length, 1, lines.join('\n'));
    const line = String(lines[0]);
    assert.equal(line.split('\n').length, 1, 'one line');
    assert.match(line, /^samplex: using the TypeScript kernels .*cannot load the (fma|simd) build/);
  });

  test('auto falls back from a missing FMA build to the SIMD build', { skip: !features.relaxedSimd && 'no relaxed SIMD' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samplex-wasm-'));
    try {
      const built = fileURLToPath(new URL('../src/kernels/wasm/kernels-simd.wasm', import.meta.url));
      copyFileSync(built, join(dir, 'kernels-simd.wasm'));
      const fk = await initFastKernels({ wasmBaseUrl: pathToFileURL(dir + '/'), threads: 0, install: false });
      assert.equal(fk.path, 'simd');
      assert.match(fk.fallbackReason ?? '', /cannot load the fma build/);
      await fk.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('installing wasm kernels swaps the dispatch table; close() restores it', async () => {
    if (paths.length === 0) return;
    const before = kernels.name;
    const fk = await initFastKernels({ path: 'simd', threads: 0 });
    assert.equal(kernels.name, 'wasm-simd');
    await fk.close();
    assert.equal(kernels.name, before);
  });

  test('bad options are rejected', async () => {
    await assert.rejects(initFastKernels({ threads: -1 }), OptionError);
    await assert.rejects(initFastKernels({ path: 'gpu' as never }), OptionError);
    await assert.rejects(initFastKernels({ path: 'fma', fma: false }), OptionError);
  });
});

test('a kernel argument of 64 MiB or more copied in on a call says so once, in one line', { skip: paths.length === 0 && 'no WebAssembly SIMD' }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 0, install: false });
  const lines: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    const [n, d] = [1 << 18, 64]; // 64 MiB of float32
    const c = new Float32Array(n * d);
    const a = Float32Array.from({ length: d }, (_, i) => i % 3);
    // a matrix product stages its arguments whole (the evaluator streams class blocks instead)
    const out = new Float32Array(n);
    out[0] = 1;
    fk.kernels.matmulNT(a, 1, c.subarray(0, 1000 * d), 0, 1000, d, out);
    assert.deepEqual(lines, [], 'a small staged argument is not reported');
    for (let r = 0; r < 2; r++) fk.kernels.matmulNT(a, 1, c, 0, n, d, out);
    assert.equal(out[0], 0, 'the call still computes (all products 0)');
  } finally {
    console.warn = warn;
    await fk.close();
  }
  assert.equal(lines.length, 1, lines.join('\n'));
  const line = String(lines[0]);
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /^samplex: a kernel call copies 64 MiB \('c'\) into WebAssembly memory on every call/);
});

