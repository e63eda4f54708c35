import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliRun } from './util/cli.js';

const small = ['bias', '--classes', '400', '--dim', '8', '--queries', '8', '--negatives', '5,40', '--trials', '60', '--seed', '3'];

const run = runCli;

test('samplex bias --json prints one object per (sampler, m) with the documented fields', async () => {
  const { code, lines } = await run([...small, '--sampler', 'exact,uniform,unigram', '--json']);
  assert.equal(code, 0);
  assert.equal(lines.length, 6);
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const r of rows) {
    for (const k of ['sampler', 'classes', 'dim', 'queries', 'negatives', 'trials', 'convention', 'kl', 'gradBias', 'gradBiasStderr', 'lossBias', 'drawsPerSec']) {
      assert.ok(k in r, `missing ${k}`);
    }
    assert.equal(r['classes'], 400);
    assert.equal(r['convention'], 'exclusive');
    assert.ok(Number.isFinite(r['gradBias'] as number));
  }
  const get = (s: string, m: number) => rows.find((r) => r['sampler'] === s && r['negatives'] === m)!;
  // exact: KL is 0 and the (noise-corrected) bias is within a few standard errors of 0
  assert.ok(Math.abs(get('exact', 5)['kl'] as number) < 1e-6);
  assert.ok((get('exact', 5)['gradBias'] as number) <= 4 * (get('exact', 5)['gradBiasStderr'] as number) + 1e-3);
  // uniform on clustered embeddings is clearly biased and worse than exact at equal m
  assert.ok((get('uniform', 5)['gradBias'] as number) > (get('exact', 5)['gradBias'] as number) + 0.05);
  assert.ok((get('uniform', 5)['kl'] as number) > 0.1);
});

test('samplex bias prints a readable table and writes an HTML report atomically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-'));
  try {
    const report = join(dir, 'bias.html');
    const { code, lines } = await run([...small, '--sampler', 'exact,uniform', '--report', report]);
    assert.equal(code, 0);
    assert.match(lines[0]!, /classes=400/);
    assert.match(lines[1]!, /sampler\s+m\s+KL\s+ess\s+qHead\s+gradBias/);
    assert.equal(lines.length, 2 + 4);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<svg/);
    assert.equal((html.match(/class="pt"/g) ?? []).length, 3 * 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samplex bias rejects bad options with a typed error and exit code 2', async () => {
  const errs: string[] = [];
  const runErr = async (args: string[]): Promise<CliRun> => {
    const r = await runCli(args);
    errs.push(r.stderr);
    return r;
  };
  assert.equal((await runErr([...small, '--sampler', 'nope'])).code, 2);
  assert.equal((await runErr([...small, '--negatives', '0'])).code, 2);
  assert.equal((await runErr([...small, '--convention', 'both'])).code, 2);
  assert.equal((await runErr([...small, '--embeddings', 'weird'])).code, 2);
  assert.equal((await runErr([...small, '--kernels', 'gpu'])).code, 2);
  assert.ok(errs.some((e) => /E_OPTION: unknown sampler 'nope'/.test(e)));
  assert.ok(errs.some((e) => /convention must be one of exclusive, correctedAll/.test(e)));
  assert.ok(errs.some((e) => /E_OPTION: .*kernels must be one of auto, fma, simd, ts/.test(e)), errs.join(''));
});

test('samplex bias agrees with the TypeScript and the WebAssembly kernels', async () => {
  // The exact logits go through the dense kernels (float32 products; the WebAssembly kernels
  // accumulate in float32, the TypeScript ones in float64), so KL agrees to float32 rounding and
  // the Monte-Carlo statistics closely.
  const args = [...small, '--sampler', 'uniform,exact', '--json'];
  const ts = (await run([...args, '--kernels', 'ts'])).lines.map((l) => JSON.parse(l) as Record<string, number>);
  const fast = (await run([...args, '--kernels', 'auto'])).lines.map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(ts.length, 4);
  assert.equal(fast.length, 4);
  for (let i = 0; i < 4; i++) {
    assert.ok(Math.abs(fast[i]!['kl']! - ts[i]!['kl']!) < 1e-6 * Math.max(1, ts[i]!['kl']!), `row ${i} KL`);
    assert.ok(Math.abs(fast[i]!['gradBiasRaw']! - ts[i]!['gradBiasRaw']!) < 1e-3, `row ${i}`);
  }
});

test('samplex bias runs the adaptive samplers with routed options and the midx shorthands', async () => {
  const { code, lines } = await run([
    ...small,
    '--sampler',
    'exact,uniform,midx,quadratic,rff',
    '--codebooks',
    'pq',
    '--codewords',
    '6',
    '--opt',
    'leafSize=16',
    '--opt',
    'rff.features=64',
    '--json',
  ]);
  assert.equal(code, 0);
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rows.length, 10);
  const opts = (s: string) => rows.find((r) => r['sampler'] === s)!['samplerOptions'] as Record<string, unknown>;
  // shorthands reach midx only; the unprefixed leafSize reaches the two tree samplers only
  assert.deepEqual(opts('midx'), { codebook: 'pq', codewords: 6, seed: 3 });
  assert.deepEqual(opts('quadratic'), { leafSize: 16 });
  assert.deepEqual(opts('rff'), { leafSize: 16, features: 64, seed: 3, tau: 4, nu: 2 });
  for (const r of rows) {
    assert.ok(Number.isFinite(r['kl'] as number) && (r['kl'] as number) >= -1e-9, `${r['sampler']}: kl ${r['kl']}`);
    assert.ok(Number.isFinite(r['gradBias'] as number));
  }
  // midx's quantized softmax is far closer to the softmax than uniform on clustered embeddings
  const kl = (s: string) => rows.find((r) => r['sampler'] === s)!['kl'] as number;
  assert.ok(kl('midx') < 0.5 * kl('uniform'), `midx ${kl('midx')} uniform ${kl('uniform')}`);
});

test('samplex bias refuses sampler options that no chosen sampler takes', async () => {
  const errs: string[] = [];
  const runErr = async (args: string[]): Promise<CliRun> => {
    const r = await runCli(args);
    errs.push(r.stderr);
    return r;
  };
  assert.equal((await runErr([...small, '--sampler', 'quadratic', '--codewords', '8'])).code, 2);
  assert.equal((await runErr([...small, '--sampler', 'quadratic', '--opt', 'codewords=8'])).code, 2);
  assert.equal((await runErr([...small, '--sampler', 'quadratic', '--opt', 'midx.codewords=8'])).code, 2);
  assert.equal((await runErr([...small, '--sampler', 'midx', '--codebooks', 'opq'])).code, 2);
  assert.ok(errs.some((e) => /--codewords sets an option of the midx sampler; add midx to --sampler/.test(e)));
  assert.ok(errs.some((e) => /none of the samplers quadratic takes option 'codewords'/.test(e)));
  assert.ok(errs.some((e) => /sampler 'midx' is not one of the chosen samplers/.test(e)));
  assert.ok(errs.some((e) => /codebook/.test(e) && /opq/.test(e)));
});

test('samplex bias --loss: NCE and negative sampling rows (another objective: far from the softmax gradient), learnedUnigram rows, refusals', async () => {
  const rowsOf = async (args: string[]): Promise<Array<Record<string, unknown>>> => {
    const { code, lines, stderr } = await run([...small, '--sampler', 'unigram,learnedUnigram', '--negatives', '20', '--convention', 'correctedAll', '--json', ...args]);
    assert.equal(code, 0, stderr);
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const soft = await rowsOf([]);
  const nce = await rowsOf(['--loss', 'nce']);
  const ns = await rowsOf(['--loss', 'negativeSampling', '--keep-accidental-hits']);
  assert.deepEqual(soft.map((r) => r['sampler']), ['unigram', 'learnedUnigram']);
  assert.deepEqual(nce.map((r) => r['loss']), ['nce', 'nce']);
  assert.equal(ns[0]!['removeAccidentalHits'], false);
  for (let i = 0; i < 2; i++) {
    assert.equal(soft[i]!['loss'], 'softmax');
    // the logistic losses do not estimate the softmax gradient: their "bias" against it is large
    assert.ok((nce[i]!['gradBias'] as number) > 2 * (soft[i]!['gradBias'] as number), `nce ${nce[i]!['gradBias']} vs softmax ${soft[i]!['gradBias']}`);
    assert.ok((ns[i]!['gradBias'] as number) > 2 * (soft[i]!['gradBias'] as number));
  }
  const bad = await runCli([...small, '--sampler', 'unigram', '--loss', 'nce', '--convention', 'exclusive']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /loss 'nce' takes convention correctedAll/);
  assert.equal((await runCli([...small, '--sampler', 'unigram', '--loss', 'hinge'])).code, 2);
});
