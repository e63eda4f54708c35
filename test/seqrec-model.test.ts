import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { OptionError, ShapeError } from '../src/core/errors.js';
import { padLeft, SasRec } from '../src/apps/seqrec/sasrec.js';
import { PlainTfHead, tf } from './util/tfjsHead.js';
import { useBackend } from './util/tfjs.js';

assert.equal(await useBackend('cpu'), null);

function model(n: number, d: number, seed: number, opts: ConstructorParameters<typeof SasRec>[3] = {}): { m: SasRec; head: PlainTfHead } {
  const rng = Rng.fromSeed(seed);
  const head = new PlainTfHead(ClassTable.init(n, d, rng, { scale: 1 / Math.sqrt(d) }));
  return { m: new SasRec(tf, head, rng, opts), head };
}

test('SasRec is causal: the output at position t ignores the items after t, padding rows stay out', () => {
  const L = 6;
  const { m } = model(20, 8, 1, { maxLen: L, blocks: 2, heads: 2 });
  const a = Int32Array.from([-1, -1, 3, 4, 5, 6]);
  const b = Int32Array.from([-1, -1, 3, 4, 9, 11]);
  const ha = tf.tidy(() => m.hidden({ rows: 1, ids: a }, { training: false }).dataSync());
  const hb = tf.tidy(() => m.hidden({ rows: 1, ids: b }, { training: false }).dataSync());
  const d = 8;
  for (let t = 0; t < 4; t++) {
    for (let j = 0; j < d; j++) assert.ok(Math.abs(ha[t * d + j]! - hb[t * d + j]!) < 1e-5, `position ${t} changed`);
  }
  let diff = 0;
  for (let j = 0; j < d; j++) diff += Math.abs(ha[5 * d + j]! - hb[5 * d + j]!);
  assert.ok(diff > 1e-3, 'the last position must see its own item');
  // A row is unaffected by the other rows of the batch.
  const both = new Int32Array(2 * L);
  both.set(a, 0);
  both.set(b, L);
  const hab = tf.tidy(() => m.hidden({ rows: 2, ids: both }, { training: false }).dataSync());
  for (let i = 0; i < L * d; i++) assert.ok(Math.abs(hab[i]! - ha[i]!) < 1e-5);
  m.dispose();
});

test('SasRec learns deterministic next-item cycles (top-1 accuracy far above chance)', () => {
  const n = 40;
  const L = 8;
  const d = 16;
  const { m, head } = model(n, d, 2, { maxLen: L, blocks: 1, heads: 1, dropout: 0.1 });
  const next = (i: number): number => (i * 7 + 3) % n; // a permutation of the items: cycles
  const rng = Rng.fromSeed(3);
  const sequence = (): Int32Array => {
    const len = 2 + rng.int(L + 2);
    const s = new Int32Array(len);
    s[0] = rng.int(n);
    for (let t = 1; t < len; t++) s[t] = next(s[t - 1]!);
    return s;
  };
  const opt = tf.train.adam(0.02);
  const vars = [...m.variables, ...head.variables];
  const B = 32;
  for (let step = 0; step < 50; step++) {
    const ids = new Int32Array(B * L);
    const targets = new Int32Array(B * L).fill(-1);
    for (let b = 0; b < B; b++) {
      const s = sequence();
      padLeft(ids, b, L, s, 0, s.length - 1);
      padLeft(targets, b, L, s, 1, s.length);
    }
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => m.loss({ rows: B, ids }, targets, rng), vars);
      opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
    });
  }
  // Held-out prefixes: predict the next item from the last position.
  const U = 100;
  const ids = new Int32Array(U * L);
  const want = new Int32Array(U);
  for (let u = 0; u < U; u++) {
    const s = sequence();
    padLeft(ids, u, L, s, 0, s.length - 1);
    want[u] = s[s.length - 1]!;
  }
  const q = m.lastQueries({ rows: U, ids });
  const table = head.table;
  let hits = 0;
  for (let u = 0; u < U; u++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += q.data[u * d + j]! * table.weights[i * d + j]!;
      if (s > bestScore) [best, bestScore] = [i, s];
    }
    if (best === want[u]) hits++;
  }
  // Chance is 1/40; a model that learned the cycle gets nearly all.
  assert.ok(hits >= 80, `top-1 accuracy ${hits}/${U}`);
  m.dispose();
});

test('SasRec rejects bad options and shapes', () => {
  const rng = Rng.fromSeed(1);
  const head = new PlainTfHead(ClassTable.init(10, 6, rng));
  assert.throws(() => new SasRec(tf, head, rng, { heads: 4 }), OptionError);
  assert.throws(() => new SasRec(tf, head, rng, { dropout: 1 }), OptionError);
  assert.throws(() => new SasRec(tf, head, rng, { nope: 1 } as never), OptionError);
  const m = new SasRec(tf, head, rng, { maxLen: 4 });
  assert.throws(() => m.hidden({ rows: 1, ids: new Int32Array(3) }, { training: false }), ShapeError);
  assert.throws(() => m.hidden({ rows: 1, ids: new Int32Array(4) }, { training: true }), OptionError);
  assert.throws(() => m.loss({ rows: 1, ids: Int32Array.from([-1, -1, 1, 2]) }, Int32Array.from([-1, 1, 2, 3]), rng), ShapeError);
  m.dispose();
});
