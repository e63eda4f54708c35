import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './util/cli.js';

const run = runCli;

test('samplex data stats text --data DIR prints a table, and JSON with --json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-cli-data-'));
  try {
    writeFileSync(join(dir, 'train.txt'), 'a b a\nc a b\n');
    writeFileSync(join(dir, 'valid.txt'), 'a z\n');
    writeFileSync(join(dir, 'test.txt'), 'b\n');
    const t = await run(['data', 'stats', 'text', '--data', dir, '--min-count', '2']);
    assert.equal(t.code, 0);
    assert.match(t.lines[0]!, /minCount=2 vocabulary=4 ids/);
    assert.match(t.lines[1]!, /split\s+files\s+sentences\s+tokens\s+<unk>\s+unk%/);
    assert.match(t.lines[2]!, /^train\s+1\s+2\s+8\s+1\s+12\.50$/);
    const j = await run(['data', 'stats', 'text', '--data', dir, '--json']);
    assert.equal(j.code, 0);
    const s = JSON.parse(j.lines[0]!) as Record<string, unknown>;
    assert.deepEqual(s['tokens'], { train: 8, valid: 3, test: 2 });
    assert.deepEqual(s['unk'], { train: 0, valid: 1, test: 0 });
    assert.equal(s['vocabSize'], 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samplex data stats rejects bad input with a typed error and exit code 2', async () => {
  for (const [args, re] of [
    [['data', 'stats', 'ptb'], /E_OPTION: unknown corpus 'ptb'/],
    [['data', 'stats', 'brown', '--min-count', 'x'], /E_OPTION: option --min-count/],
    [['data', 'stats', 'text'], /needs --data DIR/],
    [['data', 'stats', 'brown', '--data', '.'], /--data is for the text corpus/],
    [['data', 'stats', 'text', '--data', '/nonexistent/samplex'], /E_IO: corpus directory/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
});
