import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ShapeError } from '../src/core/errors.js';
import { topKRecall } from '../src/loss/metrics.js';
import { MidxSampler } from '../src/samplers/midx.js';
import { randomQueries, randomTable } from './util/adaptive.js';
import { allLogits, bruteTopK } from './util/brute.js';
import { runCli } from './util/cli.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-synth-'));
after(() => rmSync(root, { recursive: true, force: true }));
const quick = ['--dim', '16', '--batch', '32', '--lr', '0.05', '--negatives', '8', '--kernels', 'ts', '--threads', '1', '--no-progress'];
const data = 'synthetic:labels=2000,rows=3000,test=400,features=4096,seed=5';

function records(dir: string): Record<string, number | string>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
}

test('train xmc --data synthetic: trains through the harness, evaluates a sample, prints the Bayes ceiling and the topK recall', async () => {
  const out = join(root, 'midx');
  const r = await runCli(['train', 'xmc', '--data', data, '--sampler', 'midx', '--epochs', '2', '--eval-sample', '150', '--out', out, ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const recs = records(out);
  const evals = recs.filter((x) => typeof x['p1'] === 'number');
  assert.deepEqual(evals.map((x) => x['epoch']), [1, 2]);
  const bayes = Number(evals[0]!['bayesP1']);
  assert.ok(bayes > 0.5 && bayes <= 1, `Bayes P@1 ${bayes}`);
  for (const e of evals) {
    assert.equal(e['evalRows'], 150);
    assert.equal(e['bayesP1'], bayes);
    assert.ok(Number(e['p1']) <= 1);
  }
  // the model learns something of the head labels in two epochs, and stays below the ceiling
  assert.ok(Number(evals[1]!['p1']) > 0.2 && Number(evals[1]!['p1']) < bayes + 0.1, `P@1 ${evals[1]!['p1']}`);
  const ret = recs[recs.length - 1]!;
  assert.equal(ret['point'], 'retrieval');
  assert.equal(ret['testRows'], 400);
  for (const k of ['recall1', 'recall5', 'topkP1All', 'topkP1Sample', 'exactP1']) assert.ok(Number(ret[k]) >= 0 && Number(ret[k]) <= 1, k);
  // the exact P@1 of the retrieval record is the last epoch's (same model, same sample)
  assert.equal(ret['exactP1'], evals[1]!['p1']);
  assert.ok(r.lines.some((l) => /synthetic data: Bayes-optimal P@1 on the 150 evaluated test rows/.test(l)), r.lines.join('\n'));
  assert.ok(r.lines.some((l) => /topK retrieval through a midx index, all 400 test rows: .*recall@1 .*recall@5/.test(l)));
  const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { data: string; labelNames: unknown; input: string };
  assert.match(model.data, /^synthetic:labels=2000,rows=3000,test=400,features=4096,/);
  assert.equal(model.labelNames, null);
  // predict reads index:value pairs and names labels by id
  const input = join(root, 'in.txt');
  writeFileSync(input, '3:1 100:2\n');
  const p = await runCli(['predict', 'xmc', '--model', out, '--input', input, '--k', '3']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.lines[0]!, /^\d+ \d+ \d+$/);
});

test('train xmc --time-budget stops within an epoch, evaluates at intervals and records P@1 against time', async () => {
  const out = join(root, 'budget');
  const r = await runCli(['train', 'xmc', '--data', data.replace('rows=3000', 'rows=60000'), '--sampler', 'uniform', '--epochs', '5', '--time-budget', '1.5s', '--eval-every', '0.3s', '--eval-sample', '100', '--out', out, ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const recs = records(out);
  const last = recs[recs.length - 1]!;
  assert.equal(last['point'], 'budget');
  assert.ok(Number(last['trainSec']) >= 1.5);
  assert.ok(Number(last['epochProgress']) < 5);
  const intervals = recs.filter((x) => x['point'] === 'interval');
  assert.ok(intervals.length >= 1, JSON.stringify(recs));
  const times = recs.map((x) => Number(x['trainSec']));
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!);
  assert.ok(r.lines.some((l) => /time budget of 1.5 s spent in epoch \d/.test(l)));
  assert.ok(r.lines.some((l) => /^P@1 [0-9.]+ .* after [0-9.]+ s of training \(time budget/.test(l)));
});

test('train xmc --data synthetic: refuses unknown keys and bad values with a typed error', async () => {
  const a = await runCli(['train', 'xmc', '--data', 'synthetic:labels=2000,rows=100,colour=2', '--out', join(root, 'x'), ...quick]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /E_OPTION.*unknown key 'colour'; known keys: labels, rows, test, features/);
  const b = await runCli(['train', 'xmc', '--data', 'synthetic:labels=2k,rows=100', '--out', join(root, 'y'), ...quick]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /labels=2k is not a whole number/);
  const c = await runCli(['train', 'xmc', '--data', data, '--eval-sample', '0', '--out', join(root, 'z'), ...quick]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--eval-sample/);
  const d = await runCli(['train', 'xmc', '--data', data, '--eval-every', 'soon', '--out', join(root, 'w'), ...quick]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /--eval-every 'soon' is not a duration/);
});

test('topKRecall against a brute-force reference on midx topK retrieval', () => {
  const n = 600;
  const d = 8;
  const table = randomTable(n, d, 4, true);
  const q = randomQueries(40, d, 9);
  const s = new MidxSampler({ codewords: 8, seed: 2 });
  s.build(table);
  const k = 5;
  const exactRows = allLogits(q, table).map((o) => bruteTopK(o, k));
  const exact = Int32Array.from(exactRows.flat());
  for (const candidates of [20, 60, n]) {
    const top = s.topK(q, k, { candidates });
    // reference: set intersection per row
    for (const at of [1, 3, 5]) {
      let ref = 0;
      for (let r = 0; r < q.rows; r++) {
        const got = new Set(Array.from(top.ids.subarray(r * k, r * k + at)));
        ref += exactRows[r]!.slice(0, at).filter((id) => got.has(id)).length / at;
      }
      ref /= q.rows;
      assert.ok(Math.abs(topKRecall(top.ids, k, exact, k, at) - ref) < 1e-12, `candidates ${candidates} @${at}`);
    }
    // every class a candidate: the retrieval is exact
    if (candidates === n) assert.equal(topKRecall(top.ids, k, exact, k, k), 1);
  }
  // a hand case: missing exact ids (-1) are skipped, rows without any are left out
  assert.equal(topKRecall(Int32Array.of(1, 2, 7, 8), 2, Int32Array.of(2, 3, -1, -1), 2, 2), 0.5);
  assert.throws(() => topKRecall(Int32Array.of(1, 2, 3), 2, Int32Array.of(1, 2), 2, 1), ShapeError);
});
