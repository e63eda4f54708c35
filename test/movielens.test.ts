import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError, IoError } from '../src/core/errors.js';
import { buildSequences, collectInteractions, leaveOneOut, parseInteractionLines } from '../src/data/interactions.js';
import {
  DatasetUnavailableError,
  datasetPath,
  defaultCacheDir,
  fetchMovielensSmall,
  movielensFromDslabs,
  movielensRatingsCsv,
  readInteractionRecords,
  readInteractionsFile,
  readMovielensRatings,
} from '../src/data/movielens.js';
import { linesOf } from '../src/core/lines.js';
import { R_NA_INTEGER } from '../src/data/rds.js';
import { gzip, rdbRecord, XdrWriter } from './util/xdr.js';

function withDir(f: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samplex-ml-'));
    try {
      await f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('ratings.csv and TSV files are streamed from disk; errors name the file and line', withDir((dir) => {
  const csv = join(dir, 'ratings.csv');
  writeFileSync(csv, 'userId,movieId,rating,timestamp\n2,5,4.0,20\n1,5,3.5,10\n1,7,5.0,10\n');
  const log = readMovielensRatings(csv);
  assert.deepEqual(log.userIds, ['1', '2']);
  assert.deepEqual(log.itemIds, ['5', '7']);
  assert.equal(log.user.length, 3);
  const tsv = join(dir, 'plays.tsv');
  writeFileSync(tsv, 'u\ti\tt\nx\ta\t1\ny\tb\t2\n');
  const t = readInteractionsFile(tsv, { user: 'u', item: 'i', time: 't' });
  assert.deepEqual(t.userIds, ['x', 'y']);
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'userId,movieId,rating,timestamp\n1,2,3.0,4\n1,2,3.0,4\n1;2;3.0;4\n');
  assert.throws(() => readMovielensRatings(bad), (e: unknown) => e instanceof DataFormatError && e.file === bad && e.line === 4);
  assert.throws(() => readMovielensRatings(join(dir, 'missing.csv')), (e: unknown) => e instanceof IoError && /missing\.csv/.test(e.message));
  // streaming: the first records arrive before the malformed line is reached
  const seen: number[] = [];
  assert.throws(() => {
    for (const r of readInteractionRecords(bad)) seen.push(r.line);
  }, DataFormatError);
  assert.deepEqual(seen, [2, 3]);
}));

test('reading a file in 1 MiB chunks equals parsing its whole text', withDir((dir) => {
  const path = join(dir, 'big.csv');
  const lines = ['userId,movieId,rating,timestamp'];
  for (let i = 0; i < 60000; i++) lines.push(`${1 + ((i * 7919) % 997)},${(i * 104729) % 5003},4.5,${1000000000 + ((i * 31) % 100000)}`);
  writeFileSync(path, '\ufeff' + lines.join('\r\n')); // BOM, CRLF, no final newline; about 1.7 MB
  const streamed = readMovielensRatings(path);
  const records = [...readInteractionRecords(path)];
  assert.equal(records.length, 60000);
  assert.equal(records[59999]!.line, 60001);
  const whole = collectInteractions(parseInteractionLines(linesOf(readFileSync(path, 'utf8')), path), path);
  assert.deepEqual(streamed, whole);
  assert.deepEqual(collectInteractions(records, path), whole);
  writeFileSync(path, lines.slice(0, 40000).join('\n') + '\n1,2,3.0\n' + lines.slice(40000).join('\n'));
  assert.throws(() => readMovielensRatings(path), (e: unknown) => e instanceof DataFormatError && e.line === 40001);
}));

/** A small `movielens`-like data frame inside a lazy-load database. */
function dslabsFixture(rating2: number): { rdx: Uint8Array; rdb: Uint8Array } {
  const w = new XdrWriter().header(3);
  w.flags(19, { attr: true, obj: true }).int(5);
  w.flags(13).int(3).int(31).int(1029).int(31);
  w.flags(16).int(3).charsxp('Dangerous Minds').charsxp('Dumbo').charsxp('Dangerous Minds');
  w.flags(13).int(3).int(1).int(1).int(2);
  w.flags(14).int(3).double(2.5).double(rating2).double(4);
  w.flags(13).int(3).int(1260759144).int(1260759179).int(835355493);
  w.flags(2, { tag: true }).sym('names').flags(16).int(5);
  for (const n of ['movieId', 'title', 'userId', 'rating', 'timestamp']) w.charsxp(n);
  w.flags(2, { tag: true }).sym('class').flags(16).int(1).charsxp('data.frame');
  w.flags(2, { tag: true }).sym('row.names').flags(13).int(2).int(R_NA_INTEGER).int(-3).nil();
  const rdb = rdbRecord(w.done());
  const x = new XdrWriter().header(3).flags(19, { attr: true }).int(3);
  x.flags(19, { attr: true }).int(1).flags(13).int(2).int(0).int(rdb.length);
  x.flags(2, { tag: true }).sym('names').flags(16).int(1).charsxp('movielens').nil();
  x.flags(19).int(0).flags(10).int(1).int(1);
  x.flags(2, { tag: true }).ref(1).flags(16).int(3).charsxp('variables').charsxp('references').charsxp('compressed').nil();
  return { rdx: gzip(x.done()), rdb };
}

test('the dslabs movielens data frame becomes a ratings.csv that the reader reads back', () => {
  const { rdx, rdb } = dslabsFixture(3);
  const r = movielensFromDslabs(rdx, rdb);
  assert.deepEqual(Array.from(r.userId), [1, 1, 2]);
  assert.deepEqual(Array.from(r.movieId), [31, 1029, 31]);
  const text = movielensRatingsCsv(r).join('');
  assert.equal(text, 'userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n2,31,4.0,835355493\n');
  const back = [...parseInteractionLines(linesOf(text), 'x')].map((rec) => [rec.user, rec.item, rec.time]);
  assert.deepEqual(back, [['1', '31', 1260759144], ['1', '1029', 1260759179], ['2', '31', 835355493]]);
  const na = dslabsFixture(NaN);
  assert.throws(() => movielensFromDslabs(na.rdx, na.rdb), (e: unknown) => e instanceof DataFormatError && /row 2 of column 'rating' is NA/.test(e.message));
});

test('fetch without apt raises DatasetUnavailableError pointing to GroupLens; a cached file is reused', withDir((dir) => {
  const expected = datasetPath('movielens-small', dir);
  assert.throws(
    () => fetchMovielensSmall({ cacheDir: dir, aptGet: join(dir, 'no-such-apt-get') }),
    (e: unknown) => {
      assert.ok(e instanceof DatasetUnavailableError);
      assert.ok(e instanceof IoError);
      assert.equal(e.code, 'E_IO');
      assert.equal(e.path, expected);
      assert.match(e.message, /no-such-apt-get is not installed/);
      assert.match(e.message, /grouplens\.org\/datasets\/movielens/);
      assert.match(e.message, /Harper and Joseph A\. Konstan\. 2015/);
      assert.ok(e.message.includes(expected));
      return true;
    },
  );
  assert.equal(existsSync(expected), false);
  mkdirSync(join(dir, 'movielens-small'));
  writeFileSync(expected, 'userId,movieId,rating,timestamp\n');
  const r = fetchMovielensSmall({ cacheDir: dir, aptGet: join(dir, 'no-such-apt-get') });
  assert.equal(r.cached, true);
  assert.equal(r.path, expected);
}));

test('cache directory: $SAMPLEX_CACHE, else .cache/samplex at the package root', () => {
  const old = process.env['SAMPLEX_CACHE'];
  try {
    process.env['SAMPLEX_CACHE'] = '/tmp/somewhere';
    assert.equal(defaultCacheDir(), '/tmp/somewhere');
    delete process.env['SAMPLEX_CACHE'];
    const d = defaultCacheDir();
    assert.match(d, /[\\/]\.cache[\\/]samplex$/);
    assert.ok(existsSync(join(d, '..', '..', 'package.json')), `${d} is not under the package root`);
  } finally {
    if (old === undefined) delete process.env['SAMPLEX_CACHE'];
    else process.env['SAMPLEX_CACHE'] = old;
  }
});

// Real data: downloads r-cran-dslabs with apt-get (a few MB), reads its R database with the
// TypeScript reader and checks the published figures. Skipped where apt, dpkg or the network is
// unavailable, or when SAMPLEX_OFFLINE is set.
test('real MovieLens latest-small from Debian r-cran-dslabs: 100,004 ratings, 671 users, 9,066 movies', async (t) => {
  if (process.env['SAMPLEX_OFFLINE']) {
    t.skip('SAMPLEX_OFFLINE is set');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'samplex-ml-real-'));
  try {
    let path: string;
    try {
      path = fetchMovielensSmall({ cacheDir: dir, timeoutMs: 60_000 }).path;
    } catch (e) {
      if (e instanceof DatasetUnavailableError) {
        t.skip(`r-cran-dslabs could not be fetched: ${e.message.split('. ')[0]}`);
        return;
      }
      throw e;
    }
    const log = readMovielensRatings(path);
    assert.equal(log.user.length, 100004);
    assert.equal(log.userIds.length, 671);
    assert.equal(log.itemIds.length, 9066);
    const first = readFileSync(path, 'utf8').slice(0, 80).split('\n');
    assert.deepEqual(first.slice(0, 3), ['userId,movieId,rating,timestamp', '1,31,2.5,1260759144', '1,1029,3.0,1260759179']);
    const seq = buildSequences(log);
    assert.equal(seq.numUsers, 671); // every user has at least 20 ratings
    const split = leaveOneOut(seq);
    assert.equal(split.trainEnd.length, 671);
    // the cached copy, when present, is the same file
    const cached = datasetPath('movielens-small');
    if (existsSync(cached)) assert.equal(readFileSync(cached, 'utf8'), readFileSync(path, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
