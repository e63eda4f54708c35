import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { initFastKernels } from '../src/kernels/fast.js';
import { tsKernels } from '../src/kernels/index.js';
import { matmulInto, registerSamplexKernels } from '../src/tfjs/index.js';
import { tf, useBackend } from './util/tfjs.js';

function randn(rng: Rng, len: number): Float32Array {
  return Float32Array.from({ length: len }, () => rng.normal());
}

/** float64 reference of op(A)·op(B). */
function refMatmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number, ta: boolean, tb: boolean): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i]! : a[i * K + k]!) * (tb ? b[j * K + k]! : b[k * N + j]!);
      out[i * N + j] = s;
    }
  }
  return out;
}

// Tolerance: entries are sums of K ≤ 70 products of N(0,1) values (|sum| ~ √K); float32
// accumulation in any order errs by about K·2⁻²⁴·√K ≲ 4e-5 relative to that scale.
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, K: number, what: string): void {
  assert.equal(got.length, want.length, what);
  const tol = 1e-5 * K * Math.sqrt(K) + 1e-6;
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]} (tol ${tol})`);
  }
}

test('matmulInto: every transpose combination against a float64 reference (TS and WASM kernels)', async () => {
  const fast = await initFastKernels({ threads: 0, install: false });
  const rng = Rng.fromSeed(21, 0);
  try {
    for (const ks of [tsKernels, fast.kernels]) {
      for (const [M, K, N] of [[1, 1, 1], [3, 5, 7], [17, 33, 9], [64, 70, 40], [5, 0, 3]] as const) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = randn(rng, M * K);
            const b = randn(rng, K * N);
            const out = new Float32Array(M * N).fill(Number.NaN);
            matmulInto(ks, a, b, M, K, N, ta, tb, out);
            assertClose(out, refMatmul(a, b, M, K, N, ta, tb), Math.max(K, 1), `${ks.name} ${M}x${K}x${N} ta=${ta} tb=${tb}`);
          }
        }
      }
    }
  } finally {
    await fast.close();
  }
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`registered kernels on ${backend} agree with the stock cpu kernels on random shapes`, async (t) => {
    const why = await useBackend(backend);
    if (why) return t.skip(`${backend} backend unavailable: ${why}`);
    const rng = Rng.fromSeed(22, backend === 'wasm' ? 0 : 1);
    const cases: Array<{ as: number[]; bs: number[]; ta: boolean; tb: boolean }> = [];
    for (let c = 0; c < 12; c++) {
      const [M, K, N] = [1 + rng.int(40), 1 + rng.int(50), 1 + rng.int(40)];
      const ta = rng.int(2) === 1;
      const tb = rng.int(2) === 1;
      const batch = c % 4 === 3 ? [2 + rng.int(3)] : [];
      const bBatch = c % 8 === 7 ? [1] : batch; // broadcast a batch of 1
      cases.push({ as: [...batch, ...(ta ? [K, M] : [M, K])], bs: [...bBatch, ...(tb ? [N, K] : [K, N])], ta, tb });
    }
    const data = cases.map((c) => ({ a: randn(rng, c.as.reduce((x, y) => x * y, 1)), b: randn(rng, c.bs.reduce((x, y) => x * y, 1)) }));
    const segX = randn(rng, 30 * 6);
    const segIds = Int32Array.from({ length: 30 }, () => rng.int(9) - 1); // −1: dropped
    const run = () =>
      tf.tidy(() => ({
        mm: cases.map((c, i) => tf.matMul(tf.tensor(data[i]!.a, c.as), tf.tensor(data[i]!.b, c.bs), c.ta, c.tb).dataSync().slice()),
        seg: tf.unsortedSegmentSum(tf.tensor2d(segX, [30, 6]), tf.tensor1d(segIds, 'int32'), 8).dataSync().slice(),
      }));
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend(backend);
    const reg = await registerSamplexKernels(tf, { backends: [backend] });
    try {
      assert.ok(reg.registered.includes(`BatchMatMul@${backend}`));
      assert.equal(reg.registered.includes('UnsortedSegmentSum@wasm'), backend === 'wasm', 'segment sum registered only where missing');
      const got = run();
      cases.forEach((c, i) => assertClose(got.mm[i]!, want.mm[i]!, c.ta ? c.as.at(-2)! : c.as.at(-1)!, `case ${i} ${JSON.stringify(c)}`));
      assertClose(got.seg, want.seg, 30, 'unsortedSegmentSum');
    } finally {
      await reg.unregister();
    }
    if (backend === 'wasm') {
      // unregister restores stock tfjs-wasm, which has no UnsortedSegmentSum
      assert.throws(() => tf.unsortedSegmentSum(tf.tensor2d(segX, [30, 6]), tf.tensor1d(segIds, 'int32'), 8), /UnsortedSegmentSum/);
    }
  });
}

test('registerSamplexKernels: bad options raise typed errors', async () => {
  await assert.rejects(registerSamplexKernels(tf, { backends: ['webgl' as 'cpu'] }), { code: 'E_OPTION' });
  await assert.rejects(registerSamplexKernels(tf, { nope: 1 } as object), { code: 'E_OPTION' });
});
