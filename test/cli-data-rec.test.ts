import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './util/cli.js';

const run = runCli;

const RATINGS = 'userId,movieId,rating,timestamp\n' + ['1,10,4.0,1', '1,20,3.0,2', '1,30,5.0,3', '1,40,2.0,4', '2,10,4.0,1', '2,20,4.0,1', '2,50,1.0,9', '3,10,4.0,5'].join('\n') + '\n';

test('samplex data stats --json on a cached dataset and on a headerless TSV file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-cli-data-'));
  try {
    mkdirSync(join(dir, 'movielens-small'));
    writeFileSync(join(dir, 'movielens-small', 'ratings.csv'), RATINGS);
    const r = await run(['data', 'stats', 'movielens-small', '--cache', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 1);
    const s = JSON.parse(r.lines[0]!) as Record<string, unknown>;
    assert.equal(s['dataset'], 'movielens-small');
    assert.equal(s['interactions'], 8);
    assert.equal(s['users'], 3);
    assert.equal(s['items'], 5);
    assert.equal(s['splitUsers'], 2); // user 3 has one rating
    assert.equal(s['splitItems'], 5);
    assert.equal(s['trainInteractions'], 3); // 10, 20 for user 1; 10 or 20 for user 2
    assert.deepEqual(s['perUser'], { min: 1, median: 3, mean: 8 / 3, max: 4 });

    const tsv = join(dir, 'plays.tsv');
    writeFileSync(tsv, 'a\tx\t1\na\ty\t2\na\tz\t3\nb\tx\t1\n');
    const t = await run(['data', 'stats', tsv, '--no-header', '--user', '0', '--item', '1', '--time', '2', '--min-interactions', '3']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.lines.join('\n'), /interactions\s+4/);
    assert.match(t.lines.join('\n'), /1 users, 3 items, 1 training interactions/);

    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, RATINGS + '4,10,x\n');
    const b = await run(['data', 'stats', bad]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /E_DATA_FORMAT: .*bad\.csv:10: expected 4 fields/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samplex data: uncached dataset, unknown dataset and bad options fail with exit code 2 and a hint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-cli-data-'));
  try {
    const r = await run(['data', 'stats', 'movielens-small', '--cache', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_IO: .*run `samplex data fetch movielens-small` first/);
    const u = await run(['data', 'fetch', 'movielens-huge', '--cache', dir]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown dataset 'movielens-huge'; known: movielens-small/);
    mkdirSync(join(dir, 'movielens-small'));
    writeFileSync(join(dir, 'movielens-small', 'ratings.csv'), RATINGS);
    const m = await run(['data', 'stats', 'movielens-small', '--cache', dir, '--min-interactions', '2']);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /minInteractions must be an integer ≥ 3/);
    const c = await run(['data', 'fetch', 'movielens-small', '--cache', dir]);
    assert.equal(c.code, 0);
    assert.match(c.lines[0]!, /\(cached\)/);
    assert.match(c.lines[1]!, /Harper and Joseph A\. Konstan/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
