/**
 * The training options of every application come from one builder: `train` and `compare` of
 * xmc, lm and seqrec list the same shared flags, the flags of earlier versions are refused naming
 * their replacement, and the refresh policy is parsed in one place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { parseRefresh } from '../src/harness/head.js';
import { RESUMABLE_SETTINGS } from '../src/harness/task.js';
import { OptionError } from '../src/core/errors.js';
import { runCli } from './util/cli.js';

const SHARED = ['--negatives', '--convention', '--opt', '--refresh-every', '--updates', '--batch', '--epochs', '--lr', '--dim', '--seed', '--kernels', '--no-progress'];

function sub(program: Command, group: string, name: string): Command {
  const g = program.commands.find((c) => c.name() === group)!;
  return g.commands.find((c) => c.name() === name)!;
}

test('train and compare of every application take the shared flags, with one meaning each', () => {
  const program = buildProgram(() => {});
  const helps = new Map<string, string>();
  for (const group of ['train', 'compare']) {
    for (const app of ['xmc', 'lm', 'seqrec']) {
      const c = sub(program, group, app);
      const flags = c.options.filter((o) => !o.hidden).map((o) => o.long!);
      for (const f of SHARED) assert.ok(flags.includes(f), `${group} ${app} lacks ${f}`);
      for (const old of ['--rebuild-every', '--sparse-updates', '--dense-updates', '--batch-size', '--codewords', '--stage']) assert.ok(!flags.includes(old), `${group} ${app} shows ${old}`);
      // the same help text in every application (defaults aside)
      for (const o of c.options.filter((x) => SHARED.includes(x.long!) && x.long !== '--opt' && x.long !== '--refresh-every')) {
        const prev = helps.get(o.long!);
        if (prev !== undefined) assert.equal(o.description, prev, `${group} ${app} ${o.long}`);
        helps.set(o.long!, o.description);
      }
    }
    const resume = sub(program, 'train', 'xmc').options.find((o) => o.long === '--resume')!;
    for (const s of ['epochs', 'threads']) assert.ok(RESUMABLE_SETTINGS.includes(s) && resume.description.includes(`--${s}`));
  }
});

test('flags of earlier versions are refused with the flag that replaced them', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', 'xmc', '--rebuild-every', '10'], /--rebuild-every was replaced by --refresh-every/],
    [['train', 'xmc', '--sparse-updates'], /--sparse-updates was replaced by --updates sparse/],
    [['train', 'lm', '--sparse-updates', '--out', 'x'], /--updates sparse/],
    [['compare', 'xmc', '--batch-size', '8', '--out', 'x'], /--batch-size was replaced by --batch/],
    [['train', 'xmc', '--refresh-every', '0'], /ambiguous/],
    [['train', 'lm', '--refresh-every', 'epoch', '--out', 'x'], /does not rebuild samplers per epoch/],
    [['train', 'xmc', '--updates', 'lazy'], /--updates/],
  ];
  for (const [argv, msg] of cases) {
    const r = await runCli([...argv, '--data', '/nonexistent-samplex-data']);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, msg, argv.join(' '));
  }
});

test('parseRefresh: steps, step or epoch; anything else is an OptionError', () => {
  assert.deepEqual(parseRefresh('100'), { every: 100 });
  assert.equal(parseRefresh('step'), 'step');
  assert.equal(parseRefresh('epoch'), 'epoch');
  for (const bad of ['0', '-1', '1.5', 'often', '', '0x10', '1e3']) assert.throws(() => parseRefresh(bad), OptionError, bad);
});
