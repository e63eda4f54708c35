import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ClassTable } from '../src/core/classTable.js';
import { Rng } from '../src/core/rng.js';
import { evaluate } from '../src/layer/evaluator.js';
import { activePool } from '../src/kernels/index.js';
import { initFastKernels } from '../src/kernels/fast.js';
import { bestRanks, rdictRanks, summarizeRanks } from '../src/apps/rdict/metrics.js';
import { formatDefinitions, type Definition } from '../src/data/gcide.js';
import { runCli } from './util/cli.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-rdict-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Brute force: 1 + the classes outside the row's labels scoring above its best label (float64 dot products of the float32 values). */
function bruteRanks(q: Float32Array, B: number, t: ClassTable, ids: number[][]): number[] {
  const logit = (r: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < t.d; k++) s += q[r * t.d + k]! * t.weights[j * t.d + k]!;
    return s + t.bias![j]!;
  };
  return Array.from({ length: B }, (_, r) => {
    const best = Math.max(...ids[r]!.map((y) => logit(r, y)));
    let above = 0;
    for (let j = 0; j < t.n; j++) if (!ids[r]!.includes(j) && logit(r, j) > best) above++;
    return above + 1;
  });
}

test('exact ranks of the best true label, accuracy@k and median rank agree with a brute-force count (TypeScript kernels and the worker pool)', async () => {
  const rng = Rng.fromSeed(7, 1);
  const n = 300;
  const d = 8;
  const B = 60;
  const t = ClassTable.init(n, d, rng, { init: 'normal', scale: 1, bias: true });
  for (let j = 0; j < n; j++) t.bias![j] = rng.normal() * 0.5;
  const q = Float32Array.from({ length: B * d }, () => rng.normal());
  const ids: number[][] = Array.from({ length: B }, () => [...new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.int(n)))].sort((a, b) => a - b));
  const labels = { ids: Int32Array.from(ids.flat()), offsets: Int32Array.from([0, ...ids.map((_, r) => ids.slice(0, r + 1).flat().length)]) };
  const queries = { data: q, rows: B, cols: d };
  const want = bruteRanks(q, B, t, ids);
  // the ranks span both paths: inside the top-k list and counted over all classes
  assert.ok(want.some((r) => r <= 5) && want.some((r) => r > 5), want.join(','));
  for (const k of [1, 5, 50]) {
    const ev = evaluate(queries, t, { k });
    assert.deepEqual(Array.from(await bestRanks(queries, t, labels, ev.topIds, k)), want, `k=${k}`);
  }
  const ranks = await rdictRanks(queries, t, labels);
  assert.deepEqual(Array.from(ranks), want);
  // the same ranks with the WebAssembly kernels and their worker pool (top-k and the count)
  const fast = await initFastKernels({ threads: 2 });
  try {
    assert.ok(activePool() !== null);
    assert.deepEqual(Array.from(await rdictRanks(queries, t, labels)), want);
  } finally {
    await fast.close();
  }
  const sorted = [...want].sort((a, b) => a - b);
  const s = summarizeRanks(ranks);
  assert.equal(s.rows, B);
  assert.equal(s.acc1, want.filter((r) => r === 1).length / B);
  assert.equal(s.acc10, want.filter((r) => r <= 10).length / B);
  assert.equal(s.acc100, want.filter((r) => r <= 100).length / B);
  assert.equal(s.medianRank, (sorted[B / 2 - 1]! + sorted[B / 2]!) / 2);
  const odd = summarizeRanks(Int32Array.of(9, 0, 2, 5), 0, 4); // a row without label (0) is left out
  assert.deepEqual(odd, { rows: 3, acc1: 0, acc10: 1, acc100: 1, medianRank: 5 });
  assert.ok(Number.isNaN(summarizeRanks(new Int32Array(0)).medianRank));
});

/**
 * 40 headwords, 8 definitions each: every definition holds 3 of its headword's 6 cue words and 3
 * noise words, so a headword's definitions share words but rarely text.
 */
function fixture(): Definition[] {
  const rng = Rng.fromSeed(3, 1);
  const defs: Definition[] = [];
  for (let w = 0; w < 40; w++) {
    for (let k = 0; k < 8; k++) {
      const words = [0, 1, 2].map(() => `cue${w}x${rng.int(6)}`).concat([0, 1, 2].map(() => `noise${rng.int(50)}`));
      defs.push({ headwords: w % 10 === 0 ? [`word${w}`, `alias${w}`] : [`word${w}`], text: `${words.join(' ')} word${w}` });
    }
  }
  return defs;
}

test('train rdict on a small definitions file: learns the headwords, evaluates seen and unseen, predicts from stdin text', async () => {
  const file = join(root, 'defs.tsv');
  writeFileSync(file, formatDefinitions(fixture()).join(''));
  const out = join(root, 'run');
  const quick = ['--dim', '16', '--batch', '16', '--lr', '0.05', '--negatives', '8', '--kernels', 'ts', '--threads', '1', '--no-progress'];
  const r = await runCli(['train', 'rdict', '--sources', file, '--test-percent', '20', '--sampler', 'midx', '--epochs', '4', '--out', out, ...quick]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.lines[0]!, /320 definitions of 44 headwords/);
  const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(recs.length, 4);
  const last = recs[3]!;
  // chance: acc@1 = 1/44, acc@10 ≈ 0.23; the cue words make every seen definition learnable
  assert.ok(last['acc1']! > 0.5, `seen acc@1 ${last['acc1']}`);
  assert.ok(last['acc10']! >= last['acc1']! && last['acc100']! === 1, JSON.stringify(last));
  assert.ok(last['medianRank']! >= 1);
  assert.ok(last['seenRows']! > 40);
  assert.ok(recs[0]!['trainSec']! > 0 && last['trainSec']! > recs[0]!['trainSec']!);
  // the run resumes from its checkpoint as an rdict run
  const more = await runCli(['train', 'rdict', '--sources', file, '--test-percent', '20', '--sampler', 'midx', '--epochs', '5', '--lr-decay-epochs', '5', '--out', out, '--resume', ...quick]);
  assert.equal(more.code, 0, more.stderr);
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 5);
  // predict xmc does not take a reverse-dictionary run for one of its own
  const wrongApp = await runCli(['predict', 'xmc', '--model', out, '--input', join(root, 'defs.tsv')]);
  assert.equal(wrongApp.code, 2);
  assert.match(wrongApp.stderr, /holds no trained extreme classifier/);
  const input = join(root, 'q.txt');
  writeFileSync(input, 'cue7x0 cue7x1 cue7x2 cue7x3\n');
  const p = await runCli(['predict', 'rdict', '--model', out, '--k', '3', '--input', input]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.lines.length, 1);
  assert.equal(p.lines[0]!.split(', ')[0], 'word7');
  const noModel = await runCli(['predict', 'rdict', '--model', join(root, 'missing')]);
  assert.equal(noModel.code, 2);
  // a time budget cuts the first epoch after its first step and evaluates with the reverse dictionary's metrics
  const cut = join(root, 'cut');
  const b = await runCli(['train', 'rdict', '--sources', file, '--test-percent', '20', '--sampler', 'uniform', '--epochs', '2', '--time-budget', '0.001s', '--out', cut, ...quick]);
  assert.equal(b.code, 0, b.stderr);
  const cutRecs = readFileSync(join(cut, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  assert.equal(cutRecs.length, 1);
  assert.equal(cutRecs[0]!['point'], 'budget');
  assert.ok(Number(cutRecs[0]!['epochProgress']) < 1 && typeof cutRecs[0]!['acc10'] === 'number' && typeof cutRecs[0]!['medianRank'] === 'number', JSON.stringify(cutRecs[0]));
  assert.ok(b.lines.some((l) => /time budget of 0\.001 s spent in epoch 1 .*acc@10/.test(l)), b.lines.join('\n'));
  const cmp = await runCli(['compare', 'rdict', '--sources', file, '--test-percent', '20', '--samplers', 'full,uniform', '--epochs', '1', '--out', join(root, 'cmp'), ...quick]);
  assert.equal(cmp.code, 0, cmp.stderr);
  const head = cmp.lines.findIndex((l) => l.startsWith('sampler\t'));
  assert.deepEqual(cmp.lines.slice(head + 1, head + 3).map((l) => l.split('\t')[0]), ['full', 'uniform']);
  const ex = await runCli(['data', 'export', 'rdict', '--sources', file, '--test-percent', '20', '--format', 'fasttext', '--out', join(root, 'ft')]);
  assert.equal(ex.code, 0, ex.stderr);
  const train = readFileSync(join(root, 'ft', 'train.txt'), 'utf8').trim().split('\n');
  const seen = readFileSync(join(root, 'ft', 'test.txt'), 'utf8').trim().split('\n').filter((l) => l !== '');
  assert.equal(train.length + seen.length + readFileSync(join(root, 'ft', 'test-unseen.txt'), 'utf8').trim().split('\n').filter((l) => l !== '').length, 320);
  assert.equal(seen.length, last['seenRows']);
  // the headword never appears among its definition's words
  for (const l of train) {
    const labels = l.split(' ').filter((w) => w.startsWith('__label__')).map((w) => w.slice(9));
    for (const w of l.split(' ').filter((x) => !x.startsWith('__label__'))) assert.ok(!labels.includes(w), l);
  }
});
