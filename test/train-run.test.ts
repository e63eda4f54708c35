import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DataFormatError, StateError } from '../src/core/errors.js';
import { RunFolder, METRICS_FILE, CHECKPOINT_FILE } from '../src/harness/runFolder.js';
import { ProgressBar, formatRate, withProgress } from '../src/train/progress.js';
import { trainingReportHtml } from '../src/report/training.js';
import { liveTimers } from './util/cli.js';

function tmpDir(): string {
  return fs.mkdtempSync(join(os.tmpdir(), 'samplex-run-'));
}

test('RunFolder: metrics.jsonl holds every appended record, one JSON object per line', () => {
  const dir = join(tmpDir(), 'a', 'b');
  const run = RunFolder.open(dir);
  run.appendMetrics({ epoch: 1, loss: 2.5, sampler: 'midx' });
  run.appendMetrics({ epoch: 2, loss: 1.25, sampler: 'midx', best: true, note: null });
  const lines = fs.readFileSync(join(dir, METRICS_FILE), 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [
    { epoch: 1, loss: 2.5, sampler: 'midx' },
    { epoch: 2, loss: 1.25, sampler: 'midx', best: true, note: null },
  ]);
  assert.deepEqual(run.readMetrics().map((r) => r.epoch), [1, 2]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  run.close();
});

test('RunFolder: an existing run is refused without resume; resume keeps the committed lines only', () => {
  const dir = tmpDir();
  const a = RunFolder.open(dir);
  a.appendMetrics({ epoch: 1, loss: 3 });
  a.commit({ app: 't', epoch: 1, tensors: { w: Float32Array.of(1) }, settings: {}, data: 'd', meta: {} });
  a.appendMetrics({ epoch: 2, loss: 2 });
  a.close();
  assert.throws(() => RunFolder.open(dir), (e: unknown) => e instanceof StateError && /--resume/.test(e.message));
  const notices: string[] = [];
  const b = RunFolder.open(dir, { resume: true, notice: (l) => notices.push(l) });
  assert.deepEqual(b.readMetrics(), [{ epoch: 1, loss: 3 }]);
  assert.deepEqual(b.loadCheckpoint({ w: { dtype: 'F32', shape: [1] } }), { w: Float32Array.of(1) });
  b.appendMetrics({ epoch: 2, loss: 1.5 });
  assert.equal(notices.length, 1);
  b.close();
  assert.deepEqual(fs.readFileSync(join(dir, METRICS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l)), [{ epoch: 1, loss: 3 }, { epoch: 2, loss: 1.5 }]);

  const c = tmpDir();
  fs.writeFileSync(join(c, CHECKPOINT_FILE), '{}');
  assert.throws(() => RunFolder.open(c), StateError);
});

test('RunFolder: an edited committed metrics line is a typed error', () => {
  const dir = tmpDir();
  const a = RunFolder.open(dir);
  a.appendMetrics({ epoch: 1 });
  a.commit({ app: 't', epoch: 1, tensors: { w: Float32Array.of(1) }, settings: {}, data: 'd', meta: {} });
  a.close();
  fs.writeFileSync(join(dir, METRICS_FILE), '[1,2]\n');
  assert.throws(() => RunFolder.open(dir, { resume: true }), (e: unknown) => e instanceof StateError && /edited/.test(e.message));
});

test('RunFolder: JSON and text files round-trip; a missing JSON file reads as null; bad JSON is a typed error', () => {
  const run = RunFolder.open(tmpDir());
  assert.equal(run.readJson('checkpoint.json'), null);
  run.writeJson('state.json', { epoch: 3, rng: [1, 2, 3, 4] });
  assert.deepEqual(run.readJson<{ epoch: number }>('state.json'), { epoch: 3, rng: [1, 2, 3, 4] });
  run.writeText('report.html', '<p>x</p>');
  assert.equal(fs.readFileSync(run.path('report.html'), 'utf8'), '<p>x</p>');
  fs.writeFileSync(run.path('bad.json'), '{oops');
  assert.throws(() => run.readJson('bad.json'), DataFormatError);
  run.close();
});

test('ProgressBar: draws counts, rate, ETA and fields on a stream; null draws nothing', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  const bar = new ProgressBar({ total: 1000, unit: 'inst', label: 'epoch 1/3', stream: out });
  bar.update(400, { loss: 2.345678 });
  bar.update(1000, { loss: 1.5 });
  bar.stop();
  assert.match(text, /epoch 1\/3/);
  assert.match(text, /1000\/1000 inst/);
  assert.match(text, /inst\/s/);
  assert.match(text, /ETA/);
  assert.match(text, /loss 1\.500/);
  const silent = new ProgressBar({ total: 10, unit: 'tok', stream: null });
  silent.update(5);
  silent.stop();
  assert.equal(formatRate(1234), '1.23k');
  assert.equal(formatRate(2.5e6), '2.50M');
  assert.equal(formatRate(12.34), '12.3');
});

test('ProgressBar: on a non-terminal stream, update itself prints the lines, so a loop that never yields shows progress', () => {
  const out = new PassThrough();
  const bar = new ProgressBar({ total: 100, unit: 'tok', stream: out, plainEveryMs: 0 });
  // a synchronous loop: no timer can run until it ends, so every line read here came from update()
  let text: string;
  try {
    for (let k = 1; k <= 3; k++) bar.update(10 * k, { loss: k });
    text = String(out.read() ?? '');
  } finally {
    bar.stop();
  }
  const lines = text.split('\n').filter((l) => l.includes('tok/s'));
  assert.ok(lines.some((l) => l.includes('30/100 tok') && l.includes('loss 3')), lines.join(' | '));
});

test('withProgress: the display is stopped when the epoch throws, so no redraw timer keeps the process alive', () => {
  const before = liveTimers();
  const bar = new ProgressBar({ total: 100, unit: 'tok', stream: new PassThrough() });
  bar.update(10);
  assert.ok(liveTimers() > before, 'a drawing bar holds a timer (else this test proves nothing)');
  assert.throws(
    () =>
      withProgress(bar, () => {
        throw new StateError('failed mid-epoch');
      }),
    StateError,
  );
  assert.equal(liveTimers(), before);
  assert.equal(withProgress(null, () => 7), 7);
});

test('trainingReportHtml: every finite point of every run is drawn, against epoch and wall time', () => {
  const html = trainingReportHtml({
    title: 'xmc <compare>',
    settings: { data: 'wordnet', dim: 128 },
    runs: [
      { name: 'full', points: [{ epoch: 1, wallSec: 10, values: { p1: 0.2 } }, { epoch: 2, wallSec: 20, values: { p1: 0.3 } }] },
      { name: 'midx & co', points: [{ epoch: 1, wallSec: 2, values: { p1: 0.19 } }, { epoch: 2, wallSec: 4, values: { p1: NaN } }] },
    ],
    metrics: [{ key: 'p1', label: 'P@1' }],
    summary: { head: ['sampler', 'P@1'], rows: [['full', 0.3], ['midx', 0.19]] },
  });
  assert.equal((html.match(/<svg/g) ?? []).length, 2);
  assert.equal((html.match(/<circle/g) ?? []).length, 6); // 3 finite points × 2 charts
  for (const x of ['1', '2', '10', '20']) assert.match(html, new RegExp(`data-x="${x}"`));
  assert.doesNotMatch(html, /data-x="4"/); // the NaN point of midx at 4 s is left out
  assert.match(html, /xmc &lt;compare&gt;/);
  assert.match(html, /midx &amp; co/);
  assert.match(html, /<th>P@1<\/th>/);
});
