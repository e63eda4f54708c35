import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng.js';
import { parseDuration } from '../src/cli/lm.js';
import { readTextCorpus } from '../src/data/lmFiles.js';
import { openLmRun, runLm } from '../src/apps/lm/session.js';
import { evaluatePerplexity, lmQueries } from '../src/apps/lm/trainer.js';
import { loadTfjs } from '../src/tfjs/node.js';
import { runCli } from './util/cli.js';
import { readSafetensors } from '../src/layer/safetensors.js';

/** A plain-text corpus of Markov sentences over 40 words (train/valid/test). */
function writeCorpus(dir: string): void {
  const rng = Rng.fromSeed(41, 0);
  const V = 40;
  const next = Array.from({ length: V }, () => [rng.int(V), rng.int(V)]);
  const sentence = (): string => {
    let w = rng.int(V);
    const out = [`w${w}`];
    for (let k = 0, len = 4 + rng.int(8); k < len; k++) {
      const u = rng.float();
      w = u < 0.45 ? next[w]![0]! : u < 0.9 ? next[w]![1]! : rng.int(V);
      out.push(`w${w}`);
    }
    return out.join(' ');
  };
  for (const [f, n] of [['train.txt', 150], ['valid.txt', 25], ['test.txt', 25]] as const) {
    writeFileSync(join(dir, f), Array.from({ length: n }, sentence).join('\n') + '\n');
  }
}

const small = ['--dim', '12', '--layers', '1', '--batch', '6', '--bptt', '8', '--negatives', '5', '--lr', '0.01', '--no-progress', '--seed', '3'];

function metrics(dir: string): Array<Record<string, number>> {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
}

/** Runs `body` with a fresh temporary directory holding the Markov corpus in `root/corpus`; removes it after. */
async function withCorpus(prefix: string, body: (root: string, data: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  try {
    const data = join(root, 'corpus');
    mkdirSync(data);
    writeCorpus(data);
    await body(root, data);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('parseDuration reads seconds, minutes and hours', () => {
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration('20m'), 1200);
  assert.equal(parseDuration('1.5h'), 5400);
  assert.throws(() => parseDuration('soon'), { code: 'E_OPTION' });
});

test('samplex train lm: metrics, checkpoint and report; a resumed run equals an uninterrupted one', async () => {
  await withCorpus('samplex-lm-', async (root, data) => {
    const a = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '2', '--out', join(root, 'a'), ...small]);
    assert.equal(a.code, 0, a.stderr);
    const ma = metrics(join(root, 'a'));
    assert.deepEqual(ma.map((r) => r['epoch']), [1, 2, 2]);
    assert.ok(ma[1]!['validPpl']! < ma[0]!['validPpl']!, 'valid perplexity falls');
    assert.ok(Number.isFinite(ma[2]!['testPpl']));
    assert.match(readFileSync(join(root, 'a', 'report.html'), 'utf8'), /valid perplexity/);
    // predict: next-word top-k for prefixes, and the perplexity of a text (the test split: the run's own figure)
    const prefixes = join(root, 'prefixes.txt');
    writeFileSync(prefixes, 'the\nthe cat\n');
    const next = await runCli(['predict', 'lm', '--model', join(root, 'a'), '--data', data, '--k', '4', '--scores', '--input', prefixes]);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.lines.length, 2);
    for (const l of next.lines) {
      const pairs = l.split(' ').map((p) => p.split(':'));
      assert.equal(pairs.length, 4);
      const probs = pairs.map((p) => Number(p[p.length - 1]));
      for (let i = 1; i < 4; i++) assert.ok(probs[i]! <= probs[i - 1]!, 'descending probabilities');
      assert.ok(probs.every((p) => p > 0 && p < 1));
    }
    const ppl = await runCli(['predict', 'lm', '--model', join(root, 'a'), '--data', data, '--perplexity', '--input', join(data, 'test.txt')]);
    assert.equal(ppl.code, 0, ppl.stderr);
    const got = JSON.parse(ppl.lines[0]!) as { perplexity: number };
    assert.ok(Math.abs(got.perplexity / Number(ma[2]!['testPpl']) - 1) < 0.05, `${got.perplexity} vs the run's ${ma[2]!['testPpl']} (batch 1 instead of the run's columns)`);
    const b1 = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '1', '--out', join(root, 'b'), ...small]);
    assert.equal(b1.code, 0, b1.stderr);
    const again = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '2', '--out', join(root, 'b'), ...small]);
    assert.equal(again.code, 2, 'an existing run is not overwritten without --resume');
    const b2 = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '2', '--resume', '--out', join(root, 'b'), ...small]);
    assert.equal(b2.code, 0, b2.stderr);
    const mb = metrics(join(root, 'b')).filter((r) => 'validPpl' in r);
    assert.equal(mb.length, 2);
    // the checkpoint restores weights, Adam's named state and the random stream exactly
    assert.equal(mb[1]!['validPpl'], ma[1]!['validPpl'], 'resumed epoch 2 = uninterrupted epoch 2');
    const other = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '3', '--resume', '--out', join(root, 'b'), ...small, '--dim', '10']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /E_STATE/);
  });
});

test('samplex compare lm: one report with a line per sampler', async () => {
  await withCorpus('samplex-lmc-', async (root, data) => {
    const r = await runCli(['compare', 'lm', '--data', data, '--samplers', 'full,uniform', '--epochs', '1', '--eval-tokens', '120', '--out', join(root, 'cmp'), ...small]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines.map((l) => (JSON.parse(l) as { sampler: string }).sampler), ['full', 'uniform']);
    const html = readFileSync(join(root, 'cmp', 'report.html'), 'utf8');
    for (const s of ['full', 'uniform', 'tokens/s', 'output layer ms/step', 'first 120 of valid and test']) assert.ok(html.includes(s), s);
    const bad = await runCli(['compare', 'lm', '--data', data, '--samplers', 'nope', '--out', join(root, 'bad'), ...small]);
    assert.equal(bad.code, 2);
    // sampler options and the estimator reach the layer (and the report)
    const st = await runCli(['train', 'lm', '--data', data, '--sampler', 'midx', '--opt', 'stage=softmax', '--opt', 'codewords=4', '--convention', 'maskedExclusive', '--epochs', '1', '--eval-tokens', '120', '--out', join(root, 'st'), ...small]);
    assert.equal(st.code, 0, st.stderr);
    const sth = readFileSync(join(root, 'st', 'report.html'), 'utf8');
    for (const x of ['stage=softmax codewords=4', 'maskedExclusive']) assert.ok(sth.includes(x), x);
    const badOpt = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--opt', 'stage=softmax', '--out', join(root, 'bo'), ...small]);
    assert.equal(badOpt.code, 2);
    assert.match(badOpt.stderr, /--opt stage/);
  });
});

test('samplex train lm: midx starts from the softmax stage and maskedExclusive; a resume with other sampler options is refused', async () => {
  await withCorpus('samplex-lmd-', async (root, data) => {
    const ckpt = (run: string): { settings: Record<string, unknown> } => JSON.parse(readFileSync(join(root, run, 'checkpoint.json'), 'utf8'));
    const d = await runCli(['train', 'lm', '--data', data, '--epochs', '1', '--eval-tokens', '120', '--out', join(root, 'd'), ...small]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(ckpt('d').settings['opt.stage'], 'softmax');
    assert.equal(ckpt('d').settings['opt.codewords'], 128);
    assert.equal(ckpt('d').settings['convention'], 'maskedExclusive');
    const other = await runCli(['train', 'lm', '--data', data, '--epochs', '2', '--resume', '--eval-tokens', '120', '--out', join(root, 'd'), '--opt', 'stage=uniform', ...small]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /opt\.stage was "softmax", now "uniform"/);
  });
});

test('runLm: an epoch that fails stops its progress display and leaves the last checkpoint alone', async () => {
  await withCorpus('samplex-lm-fail-', async (root, data) => {
    const tf = await loadTfjs('cpu');
    const corpus = readTextCorpus(data, { minCount: 1 });
    const settings = { sampler: 'uniform', dim: 12, layers: 1, batchSize: 6, bptt: 8, negatives: 5, seed: 3 };
    const out = join(root, 'run');
    await runLm(tf, corpus, { ...settings, epochs: 1 }, out, {});
    const checkpoint = readFileSync(join(out, 'checkpoint.json'), 'utf8');
    let stopped = 0;
    let updates = 0;
    const failing = (): { update(): void; stop(): void } => ({
      update: () => {
        if (++updates === 3) throw new Error('display failed mid-epoch');
      },
      stop: () => void stopped++,
    });
    await assert.rejects(runLm(tf, corpus, { ...settings, epochs: 2 }, out, { progress: failing, resume: true }), /mid-epoch/);
    assert.equal(stopped, 1);
    assert.equal(readFileSync(join(out, 'checkpoint.json'), 'utf8'), checkpoint);
    assert.equal(metrics(out).filter((r) => r['epoch'] === 2).length, 0);
  });
});

test('samplex bias --lm-run: the study on a trained model\'s table and output vectors; refuses synthetic-data options and another vocabulary', async () => {
  await withCorpus('samplex-lmb-', async (root, data) => {
    const run = join(root, 'run');
    const r = await runCli(['train', 'lm', '--data', data, '--sampler', 'uniform', '--epochs', '1', '--out', run, ...small]);
    assert.equal(r.code, 0, r.stderr);
    // the opened run is the trained model: its valid perplexity is the one the run recorded
    const corpus = readTextCorpus(data, { minCount: 1 });
    const tf = await loadTfjs('wasm');
    const opened = await openLmRun(tf, corpus, run);
    try {
      assert.equal(opened.epochsDone, 1);
      const ppl = evaluatePerplexity(opened.model, corpus.valid, { batchSize: opened.settings.evalBatchSize, seqLen: opened.settings.bptt }).perplexity;
      const want = metrics(run)[0]!['validPpl']!;
      assert.ok(Math.abs(ppl / want - 1) < 1e-4, `${ppl} vs ${want}`);
      // stride 1: the first output vectors in evaluation order, as the model computes them
      const q = lmQueries(opened.model, corpus.valid, 5, { batchSize: opened.settings.evalBatchSize, seqLen: opened.settings.bptt, stride: 1 });
      assert.equal(q.cols, 12);
      assert.ok(q.data.some((x) => x !== 0));
      assert.throws(() => lmQueries(opened.model, corpus.valid, 1e6), { code: 'E_OPTION' });
    } finally {
      opened.dispose();
    }
    const b = await runCli(['bias', '--lm-run', run, '--data', data, '--sampler', 'exact,uniform,quadratic', '--negatives', '5', '--trials', '4', '--queries', '6', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const rows = b.lines.map((l) => JSON.parse(l) as { sampler: string; classes: number; dim: number; queries: number; kl: number; embeddings: string });
    assert.deepEqual(rows.map((x) => x.sampler), ['exact', 'uniform', 'quadratic']);
    for (const x of rows) {
      assert.equal(x.classes, corpus.vocab.size);
      assert.equal(x.dim, 12);
      assert.equal(x.queries, 6);
      assert.equal(x.embeddings, `lm:${run}`);
    }
    assert.ok(Math.abs(rows[0]!.kl) < 1e-9, `exact KL ${rows[0]!.kl}`);
    assert.ok(rows[1]!.kl > 0 && rows[2]!.kl > 0);
    // bad input: a synthetic-data option, --data without --lm-run, no run, another vocabulary
    const scale = await runCli(['bias', '--lm-run', run, '--data', data, '--scale', '2']);
    assert.equal(scale.code, 2);
    assert.match(scale.stderr, /drop --scale/);
    assert.equal((await runCli(['bias', '--data', data])).code, 2);
    const none = await runCli(['bias', '--lm-run', join(root, 'nope'), '--data', data]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no run directory/);
    const other = await runCli(['bias', '--lm-run', run, '--data', data, '--min-count', '40', '--queries', '6']);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /--min-count the run was trained with/);
  });
});

test('samplex train lm --loss nce --keep-accidental-hits: recorded in the checkpoint settings; full with a sampled loss is refused', async () => {
  await withCorpus('samplex-lm-loss-', async (root, data) => {
    const r = await runCli(['train', 'lm', '--data', data, '--sampler', 'unigram', '--loss', 'nce', '--convention', 'correctedAll', '--keep-accidental-hits', '--epochs', '1', '--out', join(root, 'n'), ...small]);
    assert.equal(r.code, 0, r.stderr);
    const ck = JSON.parse(readFileSync(join(root, 'n', 'checkpoint.json'), 'utf8')) as { settings: Record<string, unknown> };
    assert.equal(ck.settings['loss'], 'nce');
    assert.equal(ck.settings['removeAccidentalHits'], false);
    const bad = await runCli(['train', 'lm', '--data', data, '--sampler', 'full', '--loss', 'nce', '--out', join(root, 'f'), ...small]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /the 'full' sampler trains the exact softmax/);
    const conv = await runCli(['train', 'lm', '--data', data, '--sampler', 'unigram', '--loss', 'nce', '--out', join(root, 'c'), ...small]);
    assert.equal(conv.code, 2);
    assert.match(conv.stderr, /loss 'nce' takes convention 'correctedAll'/);
  });
});

test('samplex train lm --negative-source inBatch | mixed: trains and records the setting; a resume with another source is refused; the frequency estimate is checkpointed', async () => {
  await withCorpus('samplex-lm-negsrc-', async (root, data) => {
    const base = ['train', 'lm', '--data', data, '--sampler', 'unigram', '--convention', 'correctedAll', '--epochs', '1', ...small];
    const ib = await runCli([...base, '--negative-source', 'inBatch', '--out', join(root, 'ib')]);
    assert.equal(ib.code, 0, ib.stderr);
    const out = JSON.parse(ib.lines.at(-1)!) as { testPpl: number };
    // below the uniform model's perplexity (the vocabulary size: 40 words and <eos>) after one epoch
    assert.ok(Number.isFinite(out.testPpl) && out.testPpl < 41, `test perplexity ${out.testPpl}`);
    const ck = JSON.parse(readFileSync(join(root, 'ib', 'checkpoint.json'), 'utf8')) as { settings: Record<string, unknown> };
    assert.equal(ck.settings['negativeSource'], 'inBatch');
    const other = await runCli([...base, '--epochs', '2', '--resume', '--out', join(root, 'ib')]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /E_STATE.*negativeSource was "inBatch", now \(unset\)/);

    const mixed = await runCli([...base, '--negative-source', 'mixed', '--frequency-buckets', '32', '--out', join(root, 'mixed')]);
    assert.equal(mixed.code, 0, mixed.stderr);
    const ckm = JSON.parse(readFileSync(join(root, 'mixed', 'checkpoint.json'), 'utf8')) as { settings: Record<string, unknown> };
    assert.equal(ckm.settings['negativeSource'], 'mixed');
    assert.equal(ckm.settings['frequencyBuckets'], 32);
    // the frequency estimate is checkpointed: 1 epoch + a resumed epoch = 2 epochs straight
    const resumed = await runCli([...base, '--epochs', '2', '--negative-source', 'mixed', '--frequency-buckets', '32', '--resume', '--out', join(root, 'mixed')]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const straight = await runCli([...base, '--epochs', '2', '--negative-source', 'mixed', '--frequency-buckets', '32', '--out', join(root, 'mixed2')]);
    assert.equal(straight.code, 0, straight.stderr);
    const pm = (dir: string): unknown[] => metrics(join(root, dir)).map((r) => [r['epoch'], r['validPpl'], r['testPpl']]);
    assert.deepEqual(pm('mixed'), pm('mixed2'), 'resumed = uninterrupted (valid and test perplexity)');
    const tensors = (dir: string): Record<string, { data: Int32Array | Float32Array }> => {
      const ck2 = JSON.parse(readFileSync(join(root, dir, 'checkpoint.json'), 'utf8')) as { tensors: string };
      return readSafetensors(join(root, dir, ck2.tensors)).tensors as Record<string, { data: Int32Array | Float32Array }>;
    };
    const [tr, ts] = [tensors('mixed'), tensors('mixed2')];
    for (const name of ['table.weights', 'freq.last', 'freq.gap', 'freq.step']) {
      assert.ok(ts[name], `${name} is checkpointed`);
      assert.deepEqual(Array.from(tr[name]!.data), Array.from(ts[name]!.data), `${name}: resumed = uninterrupted`);
    }

    const noSource = await runCli([...base, '--frequency-buckets', '32', '--out', join(root, 'nosrc')]);
    assert.equal(noSource.code, 2);
    assert.match(noSource.stderr, /E_OPTION.*--frequency-buckets corrects in-batch negatives/);
    const conv = await runCli([...base, '--convention', 'maskedExclusive', '--negative-source', 'inBatch', '--out', join(root, 'conv')]);
    assert.equal(conv.code, 2);
    assert.match(conv.stderr, /E_OPTION.*needs --convention correctedAll/);
  });
});
