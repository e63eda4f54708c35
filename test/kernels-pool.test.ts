import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { OptionError, StateError } from '../src/core/errors.js';
import { detectFeatures, initFastKernels } from '../src/kernels/fast.js';
import { randF32 } from './util/kernelCheck.js';

const features = await detectFeatures(false);

/** Output arrays of a fused evaluation: log-sum-exps, top-k ids and scores. */
function fusedOut(rows: number, k: number): [Float64Array, Int32Array, Float32Array] {
  return [new Float64Array(rows), new Int32Array(rows * k), new Float32Array(rows * k)];
}
const hasWasm = features.simd && features.sharedMemory;

// The pool splits rows (or class blocks) across workers that run the same wasm code on the
// same shared memory; every output element is computed by the same instruction sequence as
// in the single-threaded kernel, so results must be bit-identical to it (which the other
// test file checks against the TS reference).
describe('worker pool', { skip: !hasWasm && 'no WebAssembly SIMD' }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 2, install: false });
  after(() => fk.close());

  test('pool reports its thread count', () => {
    assert.equal(fk.pool.threads, 2);
  });

  /** A copy of `x` in the pool's memory. */
  const toArena = (x: Float32Array): Float32Array => {
    const y = fk.allocF32(x.length);
    y.set(x);
    return y;
  };

  for (const inArena of [false, true]) {
    const mode = inArena ? 'arrays in wasm memory' : 'staged plain arrays';
    const put = (x: Float32Array): Float32Array => (inArena ? toArena(x) : x);

    test(`matmulNT split by rows and by classes equals the single-thread kernel, ${mode}`, async () => {
      const rng = Rng.fromSeed(11, inArena ? 1 : 0);
      for (const [rows, n, d] of [[37, 45, 19], [3, 301, 8], [1, 29, 130], [8, 90, 3], [0, 4, 4]] as const) {
        const a = put(randF32(rng, rows * d));
        const c = put(randF32(rng, (n + 2) * d));
        // (shapes above the size where plain arrays are handed to the TS reference instead)
        const want = new Float32Array(rows * n);
        fk.kernels.matmulNT(a, rows, c, 2, n, d, want);
        const got = put(new Float32Array(rows * n).fill(NaN));
        await fk.pool.matmulNT(a, rows, c, 2, n, d, got);
        assert.deepEqual(Array.from(got), Array.from(want), `${rows}x${n}x${d}`);
      }
    });

    test(`fusedSoftmaxTopK and kmeansAssign equal the single-thread kernels, ${mode}`, async () => {
      const rng = Rng.fromSeed(12, inArena ? 1 : 0);
      for (const [rows, n, d, k] of [[29, 300, 17, 5], [70, 200, 19, 4], [2, 50, 8, 60], [9, 1, 1, 1]] as const) {
        const a = put(randF32(rng, rows * d));
        const c = put(randF32(rng, n * d));
        const bias = put(randF32(rng, n));
        const [wl, wi, ws] = fusedOut(rows, k);
        fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, wl, wi, ws);
        const [gl, gi, gs] = fusedOut(rows, k);
        await fk.pool.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, gl, gi, gs);
        assert.deepEqual([gl, gi, gs], [wl, wi, ws], `fused ${rows}x${n}x${d} k=${k}`);
        const kc = Math.min(n, 7);
        const wIdx = new Int32Array(rows);
        const wD = new Float32Array(rows);
        fk.kernels.kmeansAssign(a, rows, c, kc, d, wIdx, wD);
        const gIdx = new Int32Array(rows);
        const gD = new Float32Array(rows);
        await fk.pool.kmeansAssign(a, rows, c, kc, d, gIdx, gD);
        assert.deepEqual([gIdx, gD], [wIdx, wD], `kmeans ${rows}x${kc}x${d}`);
      }
    });
  }

  test('fused evaluation of few queries is split by classes and merged: same top-k, log-sum-exp within float32 summation error', async () => {
    const rng = Rng.fromSeed(14);
    // rows < 4·threads and n >= 1024·threads: the class-range split; bias with masked classes
    for (const [rows, n, d, k] of [[1, 3001, 19, 7], [5, 2100, 8, 3], [3, 2048, 33, 0], [2, 2500, 5, 3000]] as const) {
      const a = randF32(rng, rows * d);
      const c = randF32(rng, n * d);
      const bias = randF32(rng, n);
      for (let j = 0; j < n; j += 5) bias[j] = -Infinity;
      const wl = new Float64Array(rows);
      const wi = new Int32Array(rows * k);
      const ws = new Float32Array(rows * k);
      fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, wl, wi, ws);
      const gl = new Float64Array(rows);
      const gi = new Int32Array(rows * k);
      const gs = new Float32Array(rows * k);
      await fk.pool.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, gl, gi, gs);
      // every logit is computed by the same instructions, so the ranking is identical; only the
      // grouping of the float32 exp sums differs (each within ~40·2^-24 relative: see kernels-wasm)
      assert.deepEqual([Array.from(gi), Array.from(gs)], [Array.from(wi), Array.from(ws)], `${rows}x${n}x${d} k=${k}`);
      for (let i = 0; i < rows; i++) assert.ok(Math.abs(gl[i]! - wl[i]!) <= 128 * 2 ** -24 * Math.max(1, Math.abs(wl[i]!)), `lse ${gl[i]} vs ${wl[i]}`);
    }
  });

  test('concurrent calls all complete correctly and leave no staging memory behind', async () => {
    const rng = Rng.fromSeed(13);
    const before = fk.arena!.allocatedBytes;
    const jobs = Array.from({ length: 6 }, (_, t) => {
      const rows = 5 + 3 * t;
      const a = randF32(rng, rows * 12);
      const c = randF32(rng, 70 * 12);
      const want = new Float32Array(rows * 70);
      fk.kernels.matmulNT(a, rows, c, 0, 70, 12, want);
      const got = new Float32Array(rows * 70);
      return { want, got, p: fk.pool.matmulNT(a, rows, c, 0, 70, 12, got) };
    });
    await Promise.all(jobs.map((j) => j.p));
    for (const j of jobs) assert.deepEqual(j.got, j.want);
    assert.equal(fk.arena!.allocatedBytes, before);
  });

  test('blocking calls: fusedSoftmaxTopK as the single-thread kernel; fullSoftmaxGrad with the same class gradient and a query gradient within the sums\' rounding', () => {
    const blocking = fk.pool.blocking!;
    assert.ok(blocking, 'a Node pool can block the calling thread');
    assert.equal(blocking.threads, 2);
    const rng = Rng.fromSeed(15);
    const before = fk.arena!.allocatedBytes;
    for (const [rows, n, d, blk] of [[12, 3001, 19, 1024], [3, 700, 8, 64], [9, 5, 4, 2], [16, 2048, 33, 100]] as const) {
      const a = randF32(rng, rows * d);
      const c = toArena(randF32(rng, n * d));
      const bias = toArena(randF32(rng, n));
      for (const k of [0, 3]) {
        const [wl, wi, ws] = fusedOut(rows, k);
        fk.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, wl, wi, ws);
        const [gl, gi, gs] = fusedOut(rows, k);
        blocking.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, gl, gi, gs);
        assert.deepEqual([Array.from(gi), Array.from(gs)], [Array.from(wi), Array.from(ws)], `fused ${rows}x${n}x${d} k=${k}`);
        for (let i = 0; i < rows; i++) assert.ok(Math.abs(gl[i]! - wl[i]!) <= 128 * 2 ** -24 * Math.max(1, Math.abs(wl[i]!)), `lse ${gl[i]} vs ${wl[i]}`);
        if (rows >= 8) assert.deepEqual(gl, wl, 'split by rows: the same log-sum-exps');
      }
      const posRows = Int32Array.from({ length: 2 * rows }, (_, k) => k % rows);
      const posIds = Int32Array.from({ length: 2 * rows }, () => rng.int(n));
      const posGrad = Float64Array.from({ length: 2 * rows }, () => rng.float() - 1);
      const refs = Float64Array.from({ length: rows }, () => d + 3);
      const factor = Float64Array.from({ length: rows }, () => rng.float());
      for (const outInArena of [false, true]) {
        const mk = (len: number): Float32Array => (outInArena ? fk.allocF32(len) : new Float32Array(len));
        const want = { h: randF32(rng, rows * d), c: randF32(rng, n * d), b: randF32(rng, n) };
        const got = { h: mk(rows * d), c: mk(n * d), b: mk(n) };
        got.h.set(want.h);
        got.c.set(want.c);
        got.b.set(want.b);
        fk.kernels.fullSoftmaxGrad(a, rows, c, 0, n, d, bias, refs, factor, posRows, posIds, posGrad, blk, want.h, want.c, want.b);
        blocking.fullSoftmaxGrad(a, rows, c, 0, n, d, bias, refs, factor, posRows, posIds, posGrad, blk, got.h, got.c, got.b);
        const what = `grad ${rows}x${n}x${d} blk ${blk}${outInArena ? ', outputs in wasm memory' : ''}`;
        assert.deepEqual(Array.from(got.c), Array.from(want.c), `${what}: outC`);
        assert.deepEqual(Array.from(got.b), Array.from(want.b), `${what}: outBias`);
        const scale = want.h.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        for (let i = 0; i < rows * d; i++) assert.ok(Math.abs(got.h[i]! - want.h[i]!) <= 1e-5 * scale, `${what}: outH[${i}] ${got.h[i]} vs ${want.h[i]}`);
        if (outInArena) for (const x of [got.h, got.c, got.b]) fk.free(x);
      }
      fk.free(c);
      fk.free(bias);
    }
    assert.equal(fk.arena!.allocatedBytes, before, 'no staging memory left behind');
    // a table outside the pool's memory is refused, not copied
    assert.throws(() => blocking.fusedSoftmaxTopK(new Float32Array(8 * 4), 8, new Float32Array(40 * 4), null, 40, 4, 0, new Float64Array(8), new Int32Array(0), new Float32Array(0)), OptionError);
  });

  test('a closed pool rejects calls with StateError; close is idempotent', async () => {
    const own = await initFastKernels({ path: 'simd', threads: 2, install: false });
    await own.close();
    await own.close();
    await assert.rejects(own.pool.matmulNT(new Float32Array(64), 8, new Float32Array(64), 0, 8, 8, new Float32Array(64)), StateError);
  });

  test('closing the pool during a call rejects it with StateError and frees its staging memory', async () => {
    const own = await initFastKernels({ path: 'simd', threads: 2, install: false });
    const before = own.arena!.allocatedBytes;
    const [B, n, d] = [64, 20_000, 64];
    const call = own.pool.fusedSoftmaxTopK(new Float32Array(B * d), B, new Float32Array(n * d), null, n, d, 3,
      new Float64Array(B), new Int32Array(B * 3), new Float32Array(B * 3));
    await own.close();
    await assert.rejects(call, StateError);
    assert.equal(own.arena!.allocatedBytes, before);
  });
});

test('the pool defaults to one worker per available core', { skip: !hasWasm && 'no WebAssembly SIMD' }, async () => {
  const fk = await initFastKernels({ install: false });
  try {
    assert.equal(fk.pool.threads, availableParallelism());
  } finally {
    await fk.close();
  }
});

test('a process that never closes its pool still exits (workers are unref\'d when idle)', { skip: !hasWasm && 'no WebAssembly SIMD' }, () => {
  const fast = fileURLToPath(new URL('../src/kernels/fast.js', import.meta.url));
  const script = `
    const { initFastKernels } = await import(${JSON.stringify(fast)});
    const fk = await initFastKernels({ threads: 2 });
    const out = new Float32Array(16 * 16);
    await fk.pool.matmulNT(new Float32Array(16 * 8).fill(1), 16, new Float32Array(16 * 8).fill(2), 0, 16, 8, out);
    console.log('result', out[0], fk.path);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000, encoding: 'utf8' });
  assert.equal(r.error, undefined, `child did not exit in time: ${String(r.error)}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^result 16 (fma|simd)$/m);
});
