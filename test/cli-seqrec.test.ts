import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng.js';
import { runCli } from './util/cli.js';
import { createHash } from 'node:crypto';
import { readSafetensors, writeSafetensors } from '../src/layer/safetensors.js';

/** A MovieLens-format ratings file of next-item cycles over 30 items. */
function ratingsCsv(): string {
  const rng = Rng.fromSeed(3);
  const lines = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= 30; u++) {
    let item = rng.int(30);
    const len = 5 + rng.int(6);
    for (let t = 0; t < len; t++) {
      lines.push(`${u},${100 + item},4.0,${1000 + t}`);
      item = (7 * item + 3) % 30;
    }
  }
  return lines.join('\n') + '\n';
}

const TINY = ['--dim', '8', '--max-len', '6', '--blocks', '1', '--batch', '8', '--negatives', '5', '--opt', 'codewords=4', '--backend', 'cpu', '--no-progress'];
/** The commit record of a run folder (`checkpoint.json`). */
function committed(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
}

/** {@link TINY} for samplers without midx's options (`--opt` is checked against the samplers trained). */
const TINY_PLAIN = TINY.filter((x, i, a) => x !== '--opt' && a[i - 1] !== '--opt');

test('samplex train seqrec: metrics.jsonl, checkpoint, test.json and report.html; --resume continues; bad options are typed errors', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-cli-seqrec-'));
  try {
    const data = join(root, 'ratings.csv');
    writeFileSync(data, ratingsCsv());
    const out = join(root, 'run');
    const r = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'midx', '--epochs', '1', '--out', out, '--json', ...TINY]);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(recs.map((x) => x['split']), ['valid', 'test']);
    for (const k of ['ndcg@10', 'ndcg@20', 'recall@10', 'recall@20']) assert.equal(typeof recs[1]![k], 'number');
    for (const f of ['metrics.jsonl', 'checkpoint.json', 'checkpoint-1.safetensors', 'test.json', 'report.html']) assert.ok(existsSync(join(out, f)), f);
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /valid nDCG@10/);

    const again = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'midx', '--epochs', '2', '--out', out, '--json', ...TINY]);
    assert.equal(again.code, 2, 'an existing run is not overwritten without --resume');
    const resumed = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'midx', '--epochs', '2', '--out', out, '--resume', '--json', ...TINY]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch), [1, 2]);
    const testRec = JSON.parse(readFileSync(join(out, 'test.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(testRec['trainedEpochs'], 2);
    assert.equal(testRec['selectedBy'], 'valid ndcg@10');
    assert.ok(existsSync(join(out, 'best.safetensors')) && existsSync(join(out, 'best.json')));

    // predict: the top-k next items of histories given as the data's item ids, none of them repeated
    const ids = [...new Set(readFileSync(data, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1]!))];
    const hist = join(root, 'hist.txt');
    writeFileSync(hist, `${ids[0]} ${ids[1]}\n${ids[2]},${ids[3]},${ids[4]}\n`);
    const pred = await runCli(['predict', 'seqrec', '--model', out, '--k', '3', '--input', hist, '--backend', 'cpu']);
    assert.equal(pred.code, 0, pred.stderr);
    assert.equal(pred.lines.length, 2);
    const rows = pred.lines.map((l) => l.split(' '));
    for (const r of rows) assert.equal(r.length, 3);
    for (const r of rows) for (const id of r) assert.ok(ids.includes(id), id);
    assert.ok(!rows[0]!.includes(ids[0]!) && !rows[0]!.includes(ids[1]!), 'the history is not recommended');
    const last = await runCli(['predict', 'seqrec', '--model', out, '--k', '3', '--state', 'last', '--input', hist, '--backend', 'cpu']);
    assert.equal(last.code, 0, last.stderr);
    writeFileSync(hist, 'no-such-item\n');
    const unknown = await runCli(['predict', 'seqrec', '--model', out, '--input', hist, '--backend', 'cpu']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /hist\.txt:1: item 'no-such-item'/);

    const bad = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'nope', '--out', join(root, 'x'), ...TINY]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /E_OPTION/);
    const select = await runCli(['train', 'seqrec', '--data', data, '--select', 'first', '--out', join(root, 's'), ...TINY]);
    assert.equal(select.code, 2);
    assert.match(select.stderr, /--select/);
    const heads = await runCli(['train', 'seqrec', '--data', data, '--heads', '3', '--out', join(root, 'y'), ...TINY]);
    assert.equal(heads.code, 2);
    assert.match(heads.stderr, /heads/);
    const missing = await runCli(['train', 'seqrec', '--data', join(root, 'none.csv'), '--out', join(root, 'z'), ...TINY]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /E_IO/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('samplex compare seqrec: one run per sampler, a joint report and summary', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-cli-seqrec-'));
  try {
    const data = join(root, 'ratings.csv');
    writeFileSync(data, ratingsCsv());
    const out = join(root, 'cmp');
    const r = await runCli(['compare', 'seqrec', '--data', data, '--samplers', 'full,uniform,midx', '--epochs', '1', '--out', out, ...TINY]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(summary), ['full', 'uniform', 'midx']);
    for (const s of Object.values(summary)) assert.equal(s['split'], 'test');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const s of ['full', 'uniform', 'midx']) {
      assert.match(html, new RegExp(`>${s}<`));
      assert.ok(existsSync(join(out, s, 'metrics.jsonl')));
    }
    assert.match(html, /nDCG@10 vs full/);
    // midx's softmax last stage with the maskedExclusive estimator
    const st = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'midx', '--opt', 'stage=softmax', '--convention', 'maskedExclusive', '--epochs', '1', '--out', join(root, 'st'), '--json', ...TINY]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(readFileSync(join(root, 'st', 'report.html'), 'utf8'), /maskedExclusive.*stage=softmax/);
    const badStage = await runCli(['train', 'seqrec', '--data', data, '--opt', 'stage=exact', '--out', join(root, 'bs'), ...TINY]);
    assert.equal(badStage.code, 2);
    assert.match(badStage.stderr, /stage/);
    // the flags of earlier versions are refused, naming the flag that replaced them
    for (const [old, now] of [[['--stage', 'softmax'], /--stage was replaced by --opt stage=NAME/], [['--batch-size', '8'], /--batch-size was replaced by --batch/], [['--dense-updates'], /--updates dense/]] as const) {
      const r = await runCli(['train', 'seqrec', '--data', data, ...old, '--out', join(root, 'old'), ...TINY]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, now);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('samplex train seqrec --sampler learnedUnigram --loss negativeSampling: the learned counts are checkpointed and restored by --resume', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-cli-seqrec-lu-'));
  try {
    const data = join(root, 'ratings.csv');
    writeFileSync(data, ratingsCsv());
    const out = join(root, 'run');
    const args = ['train', 'seqrec', '--data', data, '--sampler', 'learnedUnigram', '--loss', 'negativeSampling', '--convention', 'correctedAll', '--select', 'last', '--out', out, '--json', ...TINY_PLAIN];
    const r = await runCli([...args, '--epochs', '1']);
    assert.equal(r.code, 0, r.stderr);
    const counts1 = Array.from(readSafetensors(join(out, committed(out).tensors as string)).tensors['items/sampler/counts']!.data as ArrayLike<number>);
    const seen = counts1.reduce((a, b) => a + b, 0);
    assert.ok(seen > 0, 'the sampler observed the training positives');
    const resumed = await runCli([...args, '--epochs', '2', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    // every epoch sees the same training positives: restored counts plus one more epoch = twice the first
    const counts2 = Array.from(readSafetensors(join(out, committed(out).tensors as string)).tensors['items/sampler/counts']!.data as ArrayLike<number>);
    assert.deepEqual(counts2, counts1.map((c) => 2 * c));
    const full = await runCli(['train', 'seqrec', '--data', data, '--sampler', 'full', '--loss', 'nce', '--out', join(root, 'f'), ...TINY_PLAIN]);
    assert.equal(full.code, 2);
    assert.match(full.stderr, /the 'full' sampler trains the exact softmax/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('samplex train seqrec --negative-source inBatch|mixed (with and without the streaming frequency correction) trains; bad combinations are refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-cli-seqrec-ib-'));
  try {
    const data = join(root, 'ratings.csv');
    writeFileSync(data, ratingsCsv());
    const base = ['train', 'seqrec', '--data', data, '--sampler', 'uniform', '--convention', 'correctedAll', '--epochs', '1', '--json', ...TINY_PLAIN];
    for (const [name, extra] of [['ib', ['--negative-source', 'inBatch']], ['ibc', ['--negative-source', 'inBatch', '--frequency-buckets', '64']], ['mx', ['--negative-source', 'mixed', '--frequency-buckets', '64']]] as const) {
      const r = await runCli([...base, ...extra, '--out', join(root, name)]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      const settings = committed(join(root, name)).settings as Record<string, unknown>;
      assert.equal(settings['negativeSource'], extra[1]);
    }
    const conv = await runCli([...base.filter((x) => x !== 'correctedAll' && x !== '--convention'), '--negative-source', 'inBatch', '--out', join(root, 'c')]);
    assert.equal(conv.code, 2);
    assert.match(conv.stderr, /negativeSource 'inBatch' needs .*correctedAll/);
    const noSource = await runCli([...base, '--frequency-buckets', '8', '--out', join(root, 'n')]);
    assert.equal(noSource.code, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** The records of metrics.jsonl without their timings. */
function untimed(dir: string): Array<Record<string, unknown>> {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    for (const k of Object.keys(r)) if (/sec|ms/i.test(k)) delete r[k];
    return r;
  });
}

test('samplex train seqrec --negative-source inBatch: the frequency estimate is checkpointed (1 epoch + --resume 1 = 2 epochs straight); a damaged estimate is refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-cli-seqrec-ibr-'));
  try {
    const data = join(root, 'ratings.csv');
    writeFileSync(data, ratingsCsv());
    const args = ['train', 'seqrec', '--data', data, '--sampler', 'uniform', '--convention', 'correctedAll', '--negative-source', 'inBatch', '--frequency-buckets', '64', '--frequency-alpha', '0.2', '--json', ...TINY_PLAIN];
    const a = join(root, 'a');
    const b = join(root, 'b');
    assert.equal((await runCli([...args, '--epochs', '2', '--out', a])).code, 0);
    const first = await runCli([...args, '--epochs', '1', '--out', b]);
    assert.equal(first.code, 0, first.stderr);
    const resumed = await runCli([...args, '--epochs', '2', '--resume', '--out', b]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(untimed(b), untimed(a), 'metrics of the resumed run = those of the uninterrupted one');
    assert.deepEqual(JSON.parse(readFileSync(join(b, 'test.json'), 'utf8'))['ndcg@10'], JSON.parse(readFileSync(join(a, 'test.json'), 'utf8'))['ndcg@10']);
    const ta = readSafetensors(join(a, committed(a).tensors as string)).tensors;
    const tb = readSafetensors(join(b, committed(b).tensors as string)).tensors;
    for (const name of ['items/weights', 'items/frequency/last', 'items/frequency/gap', 'items/frequency/step']) {
      assert.ok(ta[name], `${name} is checkpointed`);
      assert.deepEqual(Array.from(tb[name]!.data as ArrayLike<number>), Array.from(ta[name]!.data as ArrayLike<number>), `${name}: resumed = uninterrupted`);
    }
    const steps = untimed(a).filter((r) => r['split'] === 'valid').at(-1)!['steps'];
    assert.equal(ta['items/frequency/step']!.data[0], steps, 'the estimate observed every step of the two epochs');
    // damage the estimate in the committed checkpoint (keeping the commit record consistent): refused, typed
    const damage = (edit: (t: Record<string, { data: Int32Array | Float32Array; shape: number[] }>) => void): void => {
      const path = join(b, committed(b).tensors as string);
      const c = readSafetensors(path);
      const t: Record<string, { data: Int32Array | Float32Array; shape: number[] }> = {};
      for (const [k, v] of Object.entries(c.tensors)) t[k] = { data: (v.data as Int32Array | Float32Array).slice(), shape: [...v.shape] };
      edit(t);
      writeSafetensors(path, t, c.metadata);
      const ck = committed(b);
      ck['tensorsSha256'] = createHash('sha256').update(readFileSync(path)).digest('hex');
      writeFileSync(join(b, 'checkpoint.json'), JSON.stringify(ck));
    };
    damage((t) => {
      t['items/frequency/gap'] = { data: t['items/frequency/gap']!.data.slice(2), shape: [t['items/frequency/gap']!.shape[0]! - 2] };
    });
    const misShaped = await runCli([...args, '--epochs', '3', '--resume', '--out', b]);
    assert.equal(misShaped.code, 2);
    assert.match(misShaped.stderr, /E_STATE.*items\/frequency\/gap' has shape \[126\], expected \[128\]/);
    damage((t) => {
      t['items/frequency/gap'] = { data: new Int32Array(128), shape: [128] };
    });
    const zeroGap = await runCli([...args, '--epochs', '3', '--resume', '--out', b]);
    assert.equal(zeroGap.code, 2);
    assert.match(zeroGap.stderr, /E_STATE.*the gap of bucket \d+ is 0, below 1 step/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
