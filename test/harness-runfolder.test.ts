/**
 * Run folders under faults and hostile edits, through a real application (the extreme
 * classifier on a small synthetic set): the lock (a second run refused, a stale lock taken
 * over), a crash between the checkpoint and the metrics (resume agrees, no temporary file
 * left), a commit record naming a file outside the folder, malformed epochs and tensors,
 * non-finite or negative optimizer moments, resume with changed data or settings, and a
 * fast-check property that corrupts the checkpoint and its record at random: every outcome is a
 * typed error that changes no file, or the result of the uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import '../src/samplers/index.js';
import { SamplexError, StateError } from '../src/core/errors.js';
import { trainXmcRun, type XmcRunOptions } from '../src/apps/xmc/run.js';
import { resolveXmcConfig } from '../src/apps/xmc/trainer.js';
import type { XmcData } from '../src/apps/xmc/data.js';
import { CheckpointError, LOCK_FILE, RunFolder, RunLockedError, RunPathError } from '../src/harness/runFolder.js';
import { readSafetensors, writeSafetensors } from '../src/layer/safetensors.js';
import { syntheticXmc } from './util/xmcSynthetic.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-runfolder-'));
after(() => rmSync(root, { recursive: true, force: true }));

const data: XmcData = { split: syntheticXmc(), input: 'whitespace', source: 'synthetic' };
const config = resolveXmcConfig({ sampler: 'uniform', dim: 8, negatives: 5, batchSize: 32, lr: 0.05, lrDecayEpochs: 0, seed: 3 });
const quiet = { notice: () => {} };
const opts = (out: string, epochs: number, extra: Partial<XmcRunOptions> = {}): XmcRunOptions => ({ data, out, epochs, config, ...quiet, ...extra });

/** SHA-256 of every file of a folder (name → hash). */
function hashFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isFile()) out[f] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

function metricLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A reference run of 3 epochs and a run stopped after 2, to resume. */
const reference = await trainXmcRun(opts(join(root, 'ref'), 3));
const base = join(root, 'base');
await trainXmcRun(opts(base, 2));

/** A copy of the 2-epoch run. */
function copyOfBase(name: string): string {
  const d = join(root, name);
  cpSync(base, d, { recursive: true });
  return d;
}

/** Asserts that resuming `dir` to 3 epochs gives the reference run's records (training seconds aside). */
async function assertResumesLikeReference(dir: string): Promise<void> {
  const res = await trainXmcRun(opts(dir, 3, { resume: true }));
  const strip = (r: Record<string, unknown>): Record<string, unknown> => ({ epoch: r['epoch'], loss: r['loss'], p1: r['p1'], p5: r['p5'], ndcg5: r['ndcg5'], nll: r['nll'] });
  assert.deepEqual(res.records.map(strip), reference.records.map(strip));
  assert.deepEqual(metricLines(dir).map(strip), reference.records.map(strip));
}

test('a second run into a locked folder is refused and names the first; the lock goes with the run', async () => {
  const dir = join(root, 'locked');
  const first = RunFolder.open(dir, quiet);
  try {
    await assert.rejects(trainXmcRun(opts(dir, 1)), (e: unknown) => e instanceof RunLockedError && e.message.includes(`pid ${process.pid}`) && /another run/.test(e.message));
    assert.throws(() => RunFolder.open(dir, { resume: true, ...quiet }), RunLockedError);
  } finally {
    first.close();
  }
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  const res = await trainXmcRun(opts(dir, 1));
  assert.equal(res.records.length, 1);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the run released its lock');
});

test('a lock of a process that is gone is taken over with one notice; a lock of a live process on this host is not', async () => {
  const dir = copyOfBase('stale');
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: gone, host: hostname(), started: '2020-01-01T00:00:00.000Z' }));
  const notices: string[] = [];
  await trainXmcRun(opts(dir, 3, { resume: true, notice: (l) => notices.push(l) }));
  assert.equal(notices.filter((l) => /is gone; taking over its lock/.test(l)).length, 1);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  // a live process (the parent of this one) on this host, or any process on another host: refused
  for (const lock of [{ pid: process.ppid, host: hostname() }, { pid: gone, host: `not-${hostname()}` }]) {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...lock, started: '2020-01-01T00:00:00.000Z' }));
    const before = hashFolder(dir);
    await assert.rejects(trainXmcRun(opts(dir, 4, { resume: true })), RunLockedError);
    assert.deepEqual(hashFolder(dir), before);
  }
  rmSync(join(dir, LOCK_FILE));
});

test('a crash at any step of a commit resumes with metrics and checkpoint in agreement and no temporary file', async () => {
  for (const stage of ['tensors', 'metrics', 'record'] as const) {
    const dir = join(root, `crash-${stage}`);
    await assert.rejects(
      trainXmcRun(opts(dir, 3, {
        afterStage: (s, epoch) => {
          if (s === stage && epoch === 3) {
            // what a kill in the middle of an atomic write leaves behind
            writeFileSync(join(dir, '.checkpoint-3.safetensors.999.1.0.tmp'), 'partial');
            throw new Error('killed');
          }
        },
      })),
      /killed/,
    );
    const committed = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { epoch: number; metricsLines: number };
    assert.equal(committed.epoch, stage === 'record' ? 3 : 2, stage);
    const notices: string[] = [];
    const res = await trainXmcRun(opts(dir, 3, { resume: true, notice: (l) => notices.push(l) }));
    assert.deepEqual(res.records.map((r) => r['epoch']), [1, 2, 3], stage);
    assert.deepEqual(metricLines(dir).map((r) => r['epoch']), [1, 2, 3], stage);
    assert.deepEqual(res.records.map((r) => r['p1']), reference.records.map((r) => r['p1']), stage);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, `${stage}: temporary files removed`);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.safetensors')), ['checkpoint-3.safetensors'], stage);
    if (stage !== 'record') assert.ok(notices.some((l) => /never committed/.test(l)), stage);
  }
});

test('a commit record naming a file outside the folder is refused and nothing is deleted', async () => {
  const dir = copyOfBase('escape');
  const outside = join(root, 'x.safetensors');
  writeFileSync(outside, 'precious');
  const ck = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
  for (const name of ['../x.safetensors', outside, 'sub/../../x.safetensors', '', 7, null]) {
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...ck, tensors: name }));
    const before = hashFolder(dir);
    await assert.rejects(trainXmcRun(opts(dir, 3, { resume: true })), (e: unknown) => e instanceof RunPathError, String(name));
    assert.deepEqual(hashFolder(dir), before);
    assert.equal(readFileSync(outside, 'utf8'), 'precious');
  }
});

test('malformed epochs, tensors and records are typed errors that change nothing', async () => {
  const dir = copyOfBase('malformed');
  const ckPath = join(dir, 'checkpoint.json');
  const ck = JSON.parse(readFileSync(ckPath, 'utf8')) as Record<string, unknown>;
  const cases: unknown[] = [
    { ...ck, epoch: -5 }, { ...ck, epoch: 1000 }, { ...ck, epoch: 'two' }, { ...ck, epoch: 2.5 }, { ...ck, epoch: null },
    { ...ck, tensors: null }, [ck], { ...ck, metricsLines: 9 }, { ...ck, metricsLines: 1 }, { ...ck, settings: null }, { ...ck, format: 'other' }, 'text',
  ];
  for (const c of cases) {
    writeFileSync(ckPath, typeof c === 'string' ? c : JSON.stringify(c));
    const before = hashFolder(dir);
    await assert.rejects(trainXmcRun(opts(dir, 3, { resume: true })), (e: unknown) => e instanceof SamplexError, JSON.stringify(c));
    assert.deepEqual(hashFolder(dir), before, JSON.stringify(c));
  }
  writeFileSync(ckPath, JSON.stringify(ck));
  await assertResumesLikeReference(dir);
});

/** Rewrites the run's checkpoint tensors with `edit` and commits them (hashes updated), as a careful forger would. */
function forge(dir: string, edit: (t: Record<string, { data: Float32Array | Int32Array; shape: number[] }>) => void): void {
  const ckPath = join(dir, 'checkpoint.json');
  const ck = JSON.parse(readFileSync(ckPath, 'utf8')) as { tensors: string; tensorsSha256: string; epoch: number };
  const c = readSafetensors(join(dir, ck.tensors));
  const t: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
  for (const [k, v] of Object.entries(c.tensors)) t[k] = { data: v.data as Float32Array | Int32Array, shape: [...v.shape] };
  edit(t);
  writeSafetensors(join(dir, ck.tensors), t, c.metadata);
  ck.tensorsSha256 = createHash('sha256').update(readFileSync(join(dir, ck.tensors))).digest('hex');
  writeFileSync(ckPath, JSON.stringify(ck));
}

test('tensors that disagree with the record or the model, or hold Inf or a negative second moment, are refused', async () => {
  const edits: Array<[string, (t: Record<string, { data: Float32Array | Int32Array; shape: number[] }>) => void, RegExp]> = [
    ['epoch tensor −5', (t) => (t['epoch']!.data[0] = -5), /epoch tensor is -5/],
    ['epoch tensor 1000', (t) => (t['epoch']!.data[0] = 1000), /epoch tensor is 1000/],
    ['Inf in Adam v', (t) => (t['opt.classes.v']!.data[3] = Infinity), /holds Infinity/],
    ['negative Adam v', (t) => (t['opt.classes.v']!.data[0] = -1), /negative value/],
    ['NaN weight', (t) => (t['classes.weights']!.data[1] = NaN), /holds NaN/],
    ['missing tensor', (t) => delete t['classes.bias'], /'classes.bias' is missing/],
    ['wrong shape', (t) => (t['classes.bias'] = { data: new Float32Array(3), shape: [3] }), /shape \[3\]/],
    ['wrong dtype', (t) => (t['classes.bias'] = { data: new Int32Array(t['classes.bias']!.data.length), shape: t['classes.bias']!.shape }), /is I32, expected F32/],
    ['foreign tensor', (t) => (t['other'] = { data: new Float32Array(1), shape: [1] }), /not part of this model/],
  ];
  for (const [what, edit, msg] of edits) {
    const dir = copyOfBase(`forged-${what.replace(/\W+/g, '-')}`);
    forge(dir, edit);
    const before = hashFolder(dir);
    await assert.rejects(trainXmcRun(opts(dir, 3, { resume: true })), (e: unknown) => e instanceof CheckpointError && msg.test(e.message), what);
    assert.deepEqual(hashFolder(dir), before, what);
  }
  // an edit of the tensors that keeps the record's old hash is caught by the hash
  const dir = copyOfBase('edited');
  const ck = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { tensors: string };
  const bytes = readFileSync(join(dir, ck.tensors));
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(join(dir, ck.tensors), bytes);
  await assert.rejects(trainXmcRun(opts(dir, 3, { resume: true })), (e: unknown) => e instanceof CheckpointError && /SHA-256 differs/.test(e.message));
});

test('resume with other data or settings is refused naming each difference; --epochs and --threads may change', async () => {
  const dir = copyOfBase('changed');
  const before = hashFolder(dir);
  const other: XmcData = { ...data, split: syntheticXmc({ seed: 99 }) };
  await assert.rejects(trainXmcRun({ ...opts(dir, 3, { resume: true }), data: other }), (e: unknown) => e instanceof StateError && /data differs/.test(e.message));
  const changed = resolveXmcConfig({ ...config, samplerOptions: {}, dim: 16, lr: 0.1, sampler: 'unigram' });
  await assert.rejects(
    trainXmcRun({ ...opts(dir, 3, { resume: true }), config: changed }),
    (e: unknown) => e instanceof StateError && /dim was 8, now 16/.test(e.message) && /lr was 0.05, now 0.1/.test(e.message) && /sampler was "uniform", now "unigram"/.test(e.message),
  );
  assert.deepEqual(hashFolder(dir), before);
  await trainXmcRun(opts(dir, 3, { resume: true, threads: 2 }));
});

test('property: random corruption of the checkpoint, its record or the log gives a typed error and changes nothing, or the uninterrupted result', async () => {
  const files = ['checkpoint.json', 'checkpoint-2.safetensors', 'metrics.jsonl', 'model.json'];
  let n = 0;
  let errors = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...files),
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('json' as const), key: fc.constantFrom('epoch', 'tensors', 'tensorsSha256', 'metricsLines', 'metricsSha256', 'settings', 'data', 'meta', 'app', 'format'), value: fc.jsonValue() }),
      ),
      async (file, c) => {
        const dir = copyOfBase(`prop-${n++}`);
        const p = join(dir, file);
        const bytes = readFileSync(p);
        if (c.kind === 'flip') {
          bytes[c.at % bytes.length] ^= 1 << c.bit;
          writeFileSync(p, bytes);
        } else if (c.kind === 'truncate') {
          writeFileSync(p, bytes.subarray(0, c.at % bytes.length));
        } else {
          const ck = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
          ck[c.key] = c.value;
          writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(ck));
        }
        const before = hashFolder(dir);
        try {
          await assertResumesLikeReference(dir);
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof SamplexError, `not a typed error: ${(e as Error).stack}`);
          assert.deepEqual(hashFolder(dir), before, 'a refused resume changed the folder');
          errors++;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 40, seed: 11 },
  );
  assert.ok(errors > 0, 'some corruption was caught');
});
