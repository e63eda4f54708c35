import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exportSplit } from '../src/data/files.js';
import { runCli } from './util/cli.js';
import { syntheticXmc } from './util/xmcSynthetic.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-xmc-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ftDir = join(root, 'ft');
const xmcDir = join(root, 'xmc');
const split = syntheticXmc();
exportSplit(split, ftDir, 'fasttext');
exportSplit(split, xmcDir, 'xmc');
const quick = ['--dim', '16', '--batch', '32', '--lr', '0.05', '--negatives', '8', '--kernels', 'ts', '--threads', '1', '--no-progress'];

function records(dir: string): Record<string, number | string>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
}

test('train xmc writes metrics per epoch, a checkpoint and a report, and resumes', async () => {
  const out = join(root, 'run-a');
  const r = await runCli(['train', 'xmc', '--data', ftDir, '--sampler', 'midx', '--epochs', '2', '--out', out, ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const recs = records(out);
  assert.deepEqual(recs.map((x) => x['epoch']), [1, 2]);
  for (const k of ['p1', 'p3', 'p5', 'ndcg1', 'ndcg3', 'ndcg5', 'loss', 'trainSec', 'instPerSec', 'outputShare']) assert.equal(typeof recs[1]![k], 'number', k);
  assert.ok(Number(recs[1]!['p1']) > 0.3, `P@1 after 2 epochs ${recs[1]!['p1']}`);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /P@1/);
  assert.match(html, /<svg/);
  assert.equal(JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')).epoch, 2);
  assert.ok(r.lines.some((l) => /^midx epoch 2: .*P@1/.test(l)));

  // Running again into the same directory without --resume is refused.
  const again = await runCli(['train', 'xmc', '--data', ftDir, '--epochs', '1', '--out', out, ...quick]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /E_STATE/);

  // A 2-epoch run interrupted after epoch 1 (its learning rate decays over 2 epochs), resumed to
  // 2 epochs, equals the uninterrupted run.
  const outB = join(root, 'run-b');
  assert.equal((await runCli(['train', 'xmc', '--data', ftDir, '--sampler', 'midx', '--epochs', '1', '--lr-decay-epochs', '2', '--out', outB, ...quick])).code, 0);
  const res = await runCli(['train', 'xmc', '--data', ftDir, '--epochs', '2', '--out', outB, '--resume', ...quick]);
  assert.equal(res.code, 0, res.stderr);
  const recsB = records(outB);
  const pick = (x: Record<string, number | string>) => [x['epoch'], x['loss'], x['p1'], x['p3'], x['p5'], x['ndcg5'], x['nll']];
  assert.deepEqual(recsB.map(pick), recs.map(pick));
  assert.ok(!existsSync(join(outB, 'checkpoint-1.safetensors')), 'the previous checkpoint file is removed');
  // Past the end of the decay (rate 0) is refused; --lr-decay-epochs on resume extends the schedule.
  const past = await runCli(['train', 'xmc', '--data', ftDir, '--epochs', '3', '--out', outB, '--resume', ...quick]);
  assert.equal(past.code, 2);
  assert.match(past.stderr, /E_OPTION.*--lr-decay-epochs/);
  const longer = await runCli(['train', 'xmc', '--data', ftDir, '--epochs', '3', '--lr-decay-epochs', '4', '--out', outB, '--resume', ...quick]);
  assert.equal(longer.code, 0, longer.stderr);
  assert.deepEqual(records(outB).map((x) => x['epoch']), [1, 2, 3]);
  assert.equal(JSON.parse(readFileSync(join(outB, 'model.json'), 'utf8')).config.lrDecayEpochs, 4);
  assert.notEqual(records(outB)[2]!['loss'], records(outB)[1]!['loss'], 'epoch 3 trains');

  // predict: k labels per input line.
  const input = join(root, 'input.txt');
  writeFileSync(input, 'w0 w1 w2 w130\nw8 w9 w10\n');
  const p = await runCli(['predict', 'xmc', '--model', out, '--k', '3', '--input', input]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.lines.length, 2);
  for (const l of p.lines) assert.equal(l.split(' ').length, 3);
  assert.equal(p.lines[0]!.split(' ')[0], 'L0', 'the signature words of label 0 rank it first');
  assert.equal(p.lines[1]!.split(' ')[0], 'L2');
});

test('train xmc --threads 2 (a midx helper thread, WebAssembly kernels) gives the metrics of --threads 1', async () => {
  const opts = ['--data', ftDir, '--sampler', 'midx', '--epochs', '2', '--dim', '16', '--batch', '32', '--lr', '0.05', '--negatives', '8', '--kernels', 'auto', '--no-progress'];
  const one = join(root, 'threads-1');
  const two = join(root, 'threads-2');
  const r1 = await runCli(['train', 'xmc', ...opts, '--threads', '1', '--out', one]);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli(['train', 'xmc', ...opts, '--threads', '2', '--out', two]);
  assert.equal(r2.code, 0, r2.stderr);
  const pick = (x: Record<string, number | string>) => [x['epoch'], x['loss'], x['p1'], x['p3'], x['p5'], x['ndcg1'], x['ndcg3'], x['ndcg5']];
  const a = records(one);
  const b = records(two);
  assert.deepEqual(b.map(pick), a.map(pick));
  for (let e = 0; e < a.length; e++) assert.ok(Math.abs(Number(a[e]!['nll']) - Number(b[e]!['nll'])) < 1e-9, 'NLL (evaluation split across workers)');
});

test('compare xmc trains every sampler with the same budget and writes one report', async () => {
  const out = join(root, 'cmp');
  const r = await runCli(['compare', 'xmc', '--data', ftDir, '--samplers', 'full,uniform,midx', '--epochs', '1', '--out', out, ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const s of ['full', 'uniform', 'midx']) {
    assert.ok(existsSync(join(out, s, 'metrics.jsonl')), s);
    assert.match(html, new RegExp(`<td>${s}</td>`));
  }
  assert.match(html, /inst\/s/);
  const table = r.lines.slice(r.lines.findIndex((l) => l.startsWith('sampler\t')));
  assert.equal(table.length, 5, table.join('\n'));
});

test('bad inputs give typed errors', async () => {
  const unknown = await runCli(['train', 'xmc', '--data', ftDir, '--sampler', 'nope', '--out', join(root, 'bad1'), ...quick]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /E_OPTION.*unknown sampler 'nope'/);
  const noData = await runCli(['train', 'xmc', '--data', join(root, 'missing'), '--out', join(root, 'bad2'), ...quick]);
  assert.equal(noData.code, 2);
  assert.match(noData.stderr, /E_IO/);
  const noModel = await runCli(['predict', 'xmc', '--model', join(root, 'missing')]);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /E_IO/);
  // A model trained on XMC files reads index:value pairs; a malformed line names its number.
  const out = join(root, 'pairs');
  assert.equal((await runCli(['train', 'xmc', '--data', xmcDir, '--sampler', 'uniform', '--epochs', '1', '--out', out, ...quick])).code, 0);
  const input = join(root, 'pairs.txt');
  writeFileSync(input, '0:1 1:0.5\n3:x\n');
  const bad = await runCli(['predict', 'xmc', '--model', out, '--input', input]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /E_DATA_FORMAT.*:2/);
  writeFileSync(input, '0:1 1:0.5\n3:2\n');
  const ok = await runCli(['predict', 'xmc', '--model', out, '--input', input, '--k', '2', '--scores']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.lines.length, 2);
  assert.match(ok.lines[0]!, /^L\d+:-?\d/);
});

test('train xmc --loss / --label-weighting / --keep-accidental-hits reach the output layer; impossible settings are refused', async () => {
  const base = ['train', 'xmc', '--data', ftDir, '--sampler', 'unigram', '--epochs', '1', ...quick];
  const nce = await runCli([...base, '--loss', 'nce', '--convention', 'correctedAll', '--label-weighting', 'joint', '--keep-accidental-hits', '--out', join(root, 'nce')]);
  assert.equal(nce.code, 0, nce.stderr);
  const settings = readFileSync(join(root, 'nce', 'model.json'), 'utf8');
  assert.match(settings, /"loss":\s*"nce"/);
  assert.match(settings, /"labelWeighting":\s*"joint"/);
  assert.match(settings, /"removeAccidentalHits":\s*false/);
  const joint = await runCli([...base, '--label-weighting', 'joint', '--convention', 'correctedAll', '--out', join(root, 'joint')]);
  assert.equal(joint.code, 0, joint.stderr);
  for (const [args, re] of [
    [['--loss', 'nce'], /loss 'nce' takes convention 'correctedAll'/],
    [['--label-weighting', 'joint'], /joint.*correctedAll/],
    [['--sampler', 'full', '--loss', 'negativeSampling'], /the 'full' sampler trains the exact softmax/],
    [['--sampler', 'learnedUnigram'], /learnedUnigram/],
  ] as const) {
    const r = await runCli([...base, ...args, '--out', join(root, 'bad')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('train xmc --negative-source inBatch | mixed: trains on single-label data and records the setting; multi-label data and a missing source are refused; the frequency estimate is checkpointed (1 epoch + --resume 1 = 2 epochs)', async () => {
  const oneDir = join(root, 'one-label');
  const one = syntheticXmc({ secondLabel: 0 });
  assert.ok(one.train.labels.offsets.every((o, r) => r === 0 || o - one.train.labels.offsets[r - 1]! === 1), 'single-label fixture');
  exportSplit(one, oneDir, 'fasttext');
  const base = ['train', 'xmc', '--sampler', 'uniform', '--convention', 'correctedAll', '--epochs', '2', ...quick];
  const ib = await runCli([...base, '--data', oneDir, '--negative-source', 'inBatch', '--out', join(root, 'ib')]);
  assert.equal(ib.code, 0, ib.stderr);
  const recs = records(join(root, 'ib'));
  assert.ok(Number(recs[1]!['p1']) > 0.8, `P@1 after 2 epochs of in-batch negatives ${recs[1]!['p1']}`);
  const ck = JSON.parse(readFileSync(join(root, 'ib', 'checkpoint.json'), 'utf8')) as { settings: Record<string, unknown> };
  assert.equal(ck.settings['negativeSource'], 'inBatch');
  assert.equal(ck.settings['frequencyBuckets'], 0);
  // a resume with another negative source is refused by the recorded settings
  const other = await runCli([...base, '--epochs', '3', '--lr-decay-epochs', '3', '--data', oneDir, '--resume', '--out', join(root, 'ib')]);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /E_STATE.*negativeSource was "inBatch", now \(unset\)/);

  const mixed = await runCli([...base, '--epochs', '1', '--lr-decay-epochs', '2', '--data', oneDir, '--negative-source', 'mixed', '--frequency-buckets', '64', '--out', join(root, 'mixed')]);
  assert.equal(mixed.code, 0, mixed.stderr);
  const ckm = JSON.parse(readFileSync(join(root, 'mixed', 'checkpoint.json'), 'utf8')) as { settings: Record<string, unknown> };
  assert.equal(ckm.settings['negativeSource'], 'mixed');
  assert.equal(ckm.settings['frequencyBuckets'], 64);
  // the frequency estimate is checkpointed: 1 epoch + a resumed epoch = 2 epochs straight
  const resumed = await runCli([...base, '--lr-decay-epochs', '2', '--data', oneDir, '--negative-source', 'mixed', '--frequency-buckets', '64', '--resume', '--out', join(root, 'mixed')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const straight = await runCli([...base, '--lr-decay-epochs', '2', '--data', oneDir, '--negative-source', 'mixed', '--frequency-buckets', '64', '--out', join(root, 'mixed2')]);
  assert.equal(straight.code, 0, straight.stderr);
  const untimed = (dir: string): unknown[] => records(join(root, dir)).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !/sec|ms|share/i.test(k))));
  assert.deepEqual(untimed('mixed'), untimed('mixed2'), 'resumed = uninterrupted');

  const multi = await runCli([...base, '--data', ftDir, '--negative-source', 'inBatch', '--out', join(root, 'multi')]);
  assert.equal(multi.code, 2);
  assert.match(multi.stderr, /E_OPTION.*one label per training row.*multi-label: \d+ of \d+ rows have more than one label/);
  const noSource = await runCli([...base, '--data', oneDir, '--frequency-buckets', '64', '--out', join(root, 'nosrc')]);
  assert.equal(noSource.code, 2);
  assert.match(noSource.stderr, /E_OPTION.*--frequency-buckets corrects in-batch negatives/);
  const conv = await runCli([...base, '--convention', 'maskedExclusive', '--data', oneDir, '--negative-source', 'inBatch', '--out', join(root, 'conv')]);
  assert.equal(conv.code, 2);
  assert.match(conv.stderr, /E_OPTION.*needs --convention correctedAll/);
});
