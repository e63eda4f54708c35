/**
 * `compare` of every application goes through one harness function: the sampler list is checked
 * (empty, a sampler twice, an unknown name: typed errors, nothing created), the comparison folder
 * is locked with the run-folder lock (a second comparison into a held folder is refused with
 * RunLockedError and the folder is left byte for byte as it was), a sampler folder that already
 * holds a run is refused before anything trains, the runs go in order into `<out>/<sampler>`,
 * and the report and summary are written only when every run finished.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OptionError, SamplexError, StateError } from '../src/core/errors.js';
import { compareRuns, parseSamplers, SUMMARY_FILE, type RunAll } from '../src/harness/compare.js';
import { LOCK_FILE, RunFolder, RunLockedError } from '../src/harness/runFolder.js';
import { REPORT_FILE } from '../src/harness/runTask.js';
import { runCli } from './util/cli.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-compare-'));
after(() => rmSync(root, { recursive: true, force: true }));

const VALID = ['full', 'uniform', 'midx'];

/** SHA-256 of every file under `dir` (relative path → hash). */
function hashTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) Object.assign(out, hashTree(p, `${prefix}${f}/`));
    else out[`${prefix}${f}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** A comparison whose runs write one file into their folder and return their name's length; records what was called. */
function fakeCompare(out: string, samplers: string, o: { summary?: boolean; failAt?: string } = {}) {
  const calls: string[] = [];
  const promise = compareRuns({
    out,
    samplers,
    valid: VALID,
    notice: () => {},
    plan: (names) => {
      calls.push(`plan ${names.join(',')}`);
      return names.length;
    },
    session: async (count, names, runAll: RunAll<number>) => {
      calls.push(`session ${count}`);
      const runs = await runAll(async (name, dir) => {
        calls.push(`run ${name} ${dir}`);
        if (name === o.failAt) throw new StateError(`${name} failed`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'result.txt'), name);
        return name.length;
      });
      return {
        html: `<p>${runs.map((r) => `${r.name}=${r.result}`).join(' ')}</p>`,
        ...(o.summary ? { summary: Object.fromEntries(names.map((n) => [n, n.length])) } : {}),
      };
    },
  });
  return { promise, calls };
}

test('parseSamplers: order kept, blanks ignored; an empty list, a sampler twice or an unknown name is an OptionError', () => {
  assert.deepEqual(parseSamplers(' midx, full ,,uniform', VALID), ['midx', 'full', 'uniform']);
  for (const [list, re] of [['', /--samplers is empty/], [' , ,', /--samplers is empty/], ['full,midx,full', /'full' twice/], ['full,nope', /unknown sampler 'nope'.*full, uniform, midx/]] as const) {
    assert.throws(() => parseSamplers(list, VALID), (e: unknown) => e instanceof OptionError && re.test(e.message), list);
  }
});

test('compareRuns trains every sampler in order into <out>/<sampler> and writes the report and summary', async () => {
  const out = join(root, 'ok');
  const { promise, calls } = fakeCompare(out, 'midx,full', { summary: true });
  const r = await promise;
  assert.deepEqual(calls, ['plan midx,full', 'session 2', `run midx ${join(out, 'midx')}`, `run full ${join(out, 'full')}`]);
  assert.deepEqual(r.runs.map((x) => [x.name, x.result]), [['midx', 4], ['full', 4]]);
  assert.equal(r.reportPath, join(out, REPORT_FILE));
  assert.equal(readFileSync(r.reportPath, 'utf8'), '<p>midx=4 full=4</p>');
  assert.deepEqual(JSON.parse(readFileSync(join(out, SUMMARY_FILE), 'utf8')), { midx: 4, full: 4 });
  assert.ok(!existsSync(join(out, LOCK_FILE)), 'the lock is released');
  assert.deepEqual(readdirSync(out).sort(), ['full', 'midx', REPORT_FILE, SUMMARY_FILE]);
  // without a summary, no summary file
  const bare = await fakeCompare(join(root, 'bare'), 'uniform').promise;
  assert.equal(bare.summaryPath, null);
  assert.deepEqual(readdirSync(join(root, 'bare')).sort(), [REPORT_FILE, 'uniform']);
});

test('a second compare into a folder whose lock is held is refused with RunLockedError and changes nothing', async () => {
  const out = join(root, 'held');
  mkdirSync(join(out, 'full'), { recursive: true });
  writeFileSync(join(out, REPORT_FILE), 'the first comparison');
  writeFileSync(join(out, 'full', 'result.txt'), 'full');
  const holder = RunFolder.open(out, { notice: () => {} });
  try {
    const before = hashTree(out);
    assert.ok(before[LOCK_FILE]);
    const { promise, calls } = fakeCompare(out, 'full,midx', { summary: true });
    await assert.rejects(promise, (e: unknown) => e instanceof RunLockedError && /in use by another run/.test(e.message));
    assert.deepEqual(calls, ['plan full,midx'], 'nothing set up or trained');
    assert.deepEqual(hashTree(out), before);
    // the same through the command line
    const cli = await runCli(['compare', 'xmc', '--samplers', 'full,uniform', '--epochs', '1', '--out', out]);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /E_STATE.*in use by another run/);
    assert.deepEqual(hashTree(out), before);
  } finally {
    holder.close();
  }
  // once the first has finished, the folder can be used
  rmSync(join(out, 'full'), { recursive: true });
  await fakeCompare(out, 'full,midx').promise;
  assert.equal(readFileSync(join(out, REPORT_FILE), 'utf8'), '<p>full=4 midx=4</p>');
});

test('every app refuses an empty, duplicated or unknown --samplers, or a bad --opt, before creating anything', async () => {
  for (const app of ['xmc', 'lm', 'seqrec']) {
    for (const [list, re] of [[',', /E_OPTION.*--samplers is empty/], ['uniform,full,uniform', /E_OPTION.*--samplers lists the sampler 'uniform' twice/], ['uniform,nope', /E_OPTION.*unknown sampler 'nope'/]] as const) {
      const out = join(root, `bad-${app}`);
      const r = await runCli(['compare', app, '--samplers', list, '--out', out]);
      assert.equal(r.code, 2, `${app} ${list}: ${r.stderr}`);
      assert.match(r.stderr, re, `${app} ${list}`);
      assert.ok(!existsSync(out), `${app} ${list}: nothing created`);
    }
    // a sampler option no sampler of the list takes: refused before the folder is created
    const out = join(root, `opt-${app}`);
    const r = await runCli(['compare', app, '--samplers', 'uniform,midx', '--opt', 'nosuch=1', '--out', out]);
    assert.equal(r.code, 2, `${app}: ${r.stderr}`);
    assert.match(r.stderr, /E_OPTION.*nosuch/);
    assert.ok(!existsSync(out), `${app} --opt: nothing created`);
  }
});

test('a sampler folder that already holds a run, or a training run as the folder, is refused before anything trains', async () => {
  const out = join(root, 'again');
  await fakeCompare(out, 'full').promise;
  writeFileSync(join(out, 'full', 'metrics.jsonl'), '{"epoch":1}\n');
  const before = hashTree(out);
  const again = fakeCompare(out, 'uniform,full');
  await assert.rejects(again.promise, (e: unknown) => e instanceof StateError && /full already holds a run/.test(e.message));
  assert.deepEqual(again.calls, ['plan uniform,full']);
  assert.deepEqual(hashTree(out), before);
  const train = fakeCompare(join(out, 'full'), 'uniform');
  await assert.rejects(train.promise, (e: unknown) => e instanceof StateError && /holds a training run, not a comparison/.test(e.message));
  assert.deepEqual(hashTree(out), before);
});

test('a run that fails leaves no report, releases the lock, and the error is the run\'s own', async () => {
  const out = join(root, 'fail');
  const { promise, calls } = fakeCompare(out, 'full,uniform,midx', { summary: true, failAt: 'uniform' });
  await assert.rejects(promise, (e: unknown) => e instanceof SamplexError && e.message === 'uniform failed');
  assert.deepEqual(calls.map((c) => c.split(' ').slice(0, 2).join(' ')), ['plan full,uniform,midx', 'session 3', 'run full', 'run uniform']);
  assert.ok(!existsSync(join(out, REPORT_FILE)) && !existsSync(join(out, SUMMARY_FILE)) && !existsSync(join(out, LOCK_FILE)));
});
