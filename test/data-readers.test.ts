import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DataFormatError, IoError } from '../src/core/errors.js';
import { linesOf } from '../src/core/lines.js';
import { readLines } from '../src/io/lines.js';
import { formatXmc, parseXmc } from '../src/data/xmc.js';
import { formatFastText, parseFastText } from '../src/data/fasttext.js';
import { checkDataset, SparseBuilder, Vocab, type SparseDataset } from '../src/data/sparse.js';

const arr = (a: ArrayLike<number>): number[] => Array.from(a);

/** Row r's (feature, value) pairs and labels, for readable assertions. */
function rowOf(ds: SparseDataset, r: number): { f: [number, number][]; l: number[] } {
  const { indices, values, offsets } = ds.features;
  const f: [number, number][] = [];
  for (let k = offsets[r]!; k < offsets[r + 1]!; k++) f.push([indices[k]!, values[k]!]);
  return { f, l: arr(ds.labels.ids.subarray(ds.labels.offsets[r]!, ds.labels.offsets[r + 1]!)) };
}

/** Asserts that parsing throws a DataFormatError at `line` whose message matches `re`. */
function throwsAt(fn: () => unknown, line: number, re: RegExp, file?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataFormatError, `expected DataFormatError, got ${String(e)}`);
    assert.equal(e.code, 'E_DATA_FORMAT');
    assert.equal(e.line, line, `line of: ${e.message}`);
    if (file !== undefined) assert.equal(e.file, file);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(`${e.file}:${line}: `) || line === 0, e.message);
    return true;
  });
}

test('linesOf splits on LF and CRLF without a trailing empty line', () => {
  assert.deepEqual([...linesOf('')], []);
  assert.deepEqual([...linesOf('a')], ['a']);
  assert.deepEqual([...linesOf('a\n')], ['a']);
  assert.deepEqual([...linesOf('a\r\nb\n\nc')], ['a', 'b', '', 'c']);
  assert.deepEqual([...linesOf('\n\n')], ['', '']);
  assert.deepEqual([...linesOf('x\r')], ['x']);
});

test('readLines streams a file like linesOf, across chunk borders and multi-byte characters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-lines-'));
  try {
    const text = 'héllo wörld\r\n€ 😀 end\n\nlast line without newline é';
    const p = join(dir, 'f.txt');
    writeFileSync(p, text, 'utf8');
    const want = [...linesOf(text)];
    for (const chunk of [1, 2, 3, 5, 7, 64, 1 << 20]) assert.deepEqual([...readLines(p, chunk)], want, `chunk ${chunk}`);
    writeFileSync(p, 'a\r\nb\r\n', 'utf8');
    assert.deepEqual([...readLines(p, 2)], ['a', 'b']);
    assert.throws(() => [...readLines(join(dir, 'missing.txt'))], IoError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseXmc reads labels, features, unlabeled rows and names', () => {
  const ds = parseXmc(linesOf('3 6 4\n0,2 5:1.5 1:2\n 0:1\n3,3 4:-0.25 2:1e-3\r\n\n'), { labelNames: ['a', 'b', 'c', 'd'] });
  checkDataset(ds);
  assert.equal(ds.numFeatures, 6);
  assert.equal(ds.numLabels, 4);
  assert.deepEqual(rowOf(ds, 0), { f: [[1, 2], [5, 1.5]], l: [0, 2] });
  assert.deepEqual(rowOf(ds, 1), { f: [[0, 1]], l: [] });
  assert.deepEqual(rowOf(ds, 2), { f: [[2, Math.fround(1e-3)], [4, -0.25]], l: [3] }); // duplicate label merged
  assert.deepEqual(ds.labelNames, ['a', 'b', 'c', 'd']);
  // a line without labels may also start directly with its features
  assert.deepEqual(rowOf(parseXmc(linesOf('1 3 1\n2:1')), 0), { f: [[2, 1]], l: [] });
});

test('parseXmc rejects every malformed case with its line number', () => {
  const p = (text: string, opts = {}) => () => parseXmc(linesOf(text), { source: 'd.txt', ...opts });
  throwsAt(p(''), 1, /missing header/, 'd.txt');
  throwsAt(p('3 6\n'), 1, /header must be 'instances features labels'/);
  throwsAt(p('3 6 x\n'), 1, /header must be/);
  throwsAt(p('2 6 4\n0 1:1\na,1 1:1\n'), 3, /label 'a' is not a non-negative integer/);
  throwsAt(p('2 6 4\n0 1:1\n1,,2 1:1\n'), 3, /label '' is not a non-negative integer/);
  throwsAt(p('2 6 4\n0 1:1\n1,4 1:1\n'), 3, /label 4 is outside \[0, 4\) declared in the header/);
  throwsAt(p('2 6 4\n0 6:1\n'), 2, /feature index 6 is outside \[0, 6\)/);
  throwsAt(p('1 6 4\n0 1:1 3\n'), 2, /expected 'index:value', got '3'/);
  throwsAt(p('1 6 4\n0 1:\n'), 2, /expected 'index:value', got '1:'/);
  throwsAt(p('1 6 4\n0 :1\n'), 2, /expected 'index:value', got ':1'/);
  throwsAt(p('1 6 4\n0 -1:1\n'), 2, /expected 'index:value'/);
  throwsAt(p('1 6 4\n0 1:abc\n'), 2, /feature 1 has value 'abc', expected a finite decimal number/);
  throwsAt(p('1 6 4\n0 1:0x1f\n'), 2, /feature 1 has value '0x1f', expected a finite decimal number/);
  throwsAt(p('1 6 4\n0 1:NaN\n'), 2, /finite decimal number/);
  throwsAt(p('1 6 4\n0 1:Infinity\n'), 2, /finite decimal number/);
  throwsAt(p('1 6 4\n0 1:1 2:1 1:3\n'), 2, /feature index 1 appears twice/);
  throwsAt(p('3 6 4\n0 1:1\n\n1 1:1\n'), 3, /empty instance \(blank line\)/);
  throwsAt(p('2 6 4\n0 1:1\n1,2\n'), 3, /empty instance \(no features\)/);
  throwsAt(p('2 6 4\n0 1:1\n 2:1\n', { allowUnlabeled: false }), 3, /instance has no labels/);
  throwsAt(p('1 6 4\n0 1:1\n1 2:1\n'), 3, /more instances than the 1 declared/);
  throwsAt(p('3 6 4\n0 1:1\n1 2:1\n'), 4, /input ends after 2 instances but the header declares 3/);
  throwsAt(p('1 6 4\n0 1:1\n', { featureNames: ['a'] }), 1, /feature name list has 1 entries but the header declares 6/);
});

test('parseFastText reads labels anywhere on the line, counts words and keeps their order', () => {
  const ds = parseFastText(linesOf('__label__b the cat the\thats\r\nmat __label__a __label__b\n\n'));
  checkDataset(ds);
  assert.deepEqual(ds.featureNames, ['the', 'cat', 'hats', 'mat']);
  assert.deepEqual(ds.labelNames, ['b', 'a']);
  assert.deepEqual(rowOf(ds, 0), { f: [[0, 2], [1, 1], [2, 1]], l: [0] });
  assert.deepEqual(rowOf(ds, 1), { f: [[3, 1]], l: [0, 1] });
  assert.deepEqual(arr(ds.sequences!.ids), [0, 1, 0, 2, 3]);
  assert.deepEqual(arr(ds.sequences!.offsets), [0, 4, 5]);
  // alnum tokens, a custom prefix, and a frozen vocabulary that drops unseen words
  const vocab = new Vocab(['cat', 'mat']);
  const t = parseFastText(linesOf('#x The Cat, sat-on the MAT.'), { labelPrefix: '#', tokens: 'alnum', vocab, growVocab: false });
  assert.deepEqual(t.featureNames, ['cat', 'mat']);
  assert.deepEqual(rowOf(t, 0), { f: [[0, 1], [1, 1]], l: [0] });
  assert.deepEqual(t.labelNames, ['x']);
  // a line whose words are all unseen is kept, without features
  const u = parseFastText(linesOf('__label__x dog'), { vocab, growVocab: false });
  assert.deepEqual(rowOf(u, 0), { f: [], l: [0] });
});

test('parseFastText rejects every malformed case with its line number', () => {
  const p = (text: string, opts = {}) => () => parseFastText(linesOf(text), { source: 'ft.txt', ...opts });
  throwsAt(p('__label__a x\n__label__ y\n'), 2, /empty label '__label__'/, 'ft.txt');
  throwsAt(p('__label__a x\n__label__b\n'), 2, /empty instance \(labels but no words\)/);
  throwsAt(p('__label__a x\n\n__label__b y\n'), 2, /empty instance \(blank line\)/);
  throwsAt(p('__label__a x\n__label__c y\n', { labels: new Vocab(['a', 'b']), growLabels: false }), 2, /label 'c' is outside the label set \(2 labels\)/);
  throwsAt(p('__label__a x\ny z\n', { allowUnlabeled: false }), 2, /instance has no labels/);
  assert.throws(() => parseFastText(linesOf('x'), { labelPrefix: '' }), /labelPrefix must not be empty/);
});

/** Deep equality of the parts two datasets share. */
function assertSame(a: SparseDataset, b: SparseDataset, what: string): void {
  assert.equal(a.numFeatures, b.numFeatures, what);
  assert.equal(a.numLabels, b.numLabels, what);
  for (const k of ['indices', 'values', 'offsets'] as const) assert.deepEqual(arr(a.features[k]), arr(b.features[k]), `${what} features.${k}`);
  assert.deepEqual(arr(a.labels.ids), arr(b.labels.ids), `${what} labels.ids`);
  assert.deepEqual(arr(a.labels.offsets), arr(b.labels.offsets), `${what} labels.offsets`);
}

const rowArb = (nf: number, nl: number) =>
  fc.record({
    feats: fc.uniqueArray(fc.integer({ min: 0, max: nf - 1 }), { minLength: 1, maxLength: Math.min(nf, 8) }),
    vals: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 8, maxLength: 8 }),
    labels: fc.array(fc.integer({ min: 0, max: nl - 1 }), { maxLength: 5 }),
  });

test('XMC format round trip: formatXmc then parseXmc gives the same dataset (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }).chain((nf) =>
        fc.integer({ min: 1, max: 20 }).chain((nl) => fc.tuple(fc.constant(nf), fc.constant(nl), fc.array(rowArb(nf, nl), { maxLength: 12 }))),
      ),
      ([nf, nl, rows]) => {
        const b = new SparseBuilder();
        for (const r of rows) b.addRow(r.feats, r.vals.slice(0, r.feats.length), r.labels);
        const ds = b.build({ numFeatures: nf, numLabels: nl });
        const back = parseXmc(linesOf(formatXmc(ds).join('')));
        assertSame(ds, back, 'xmc');
      },
    ),
    { numRuns: 200, seed: 7 },
  );
});

test('fastText format round trip: parse, format, parse again gives the same dataset (property)', () => {
  const word = fc.constantFrom('a', 'b', 'cat', 'dog', 'x1', 'long_word', 'é');
  const line = fc.record({
    words: fc.array(word, { minLength: 1, maxLength: 6 }),
    labels: fc.uniqueArray(fc.constantFrom('L0', 'L1', 'L2', 'Q'), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 10 }), (lines) => {
      const text = lines.map((l) => [...l.labels.map((x) => `__label__${x}`), ...l.words].join(' ')).join('\n');
      const ds = parseFastText(linesOf(text));
      const back = parseFastText(linesOf(formatFastText(ds).join('')));
      assertSame(ds, back, 'fasttext');
      assert.deepEqual(back.featureNames, ds.featureNames);
      assert.deepEqual(back.labelNames, ds.labelNames);
      assert.deepEqual(arr(back.sequences!.ids), arr(ds.sequences!.ids));
      assert.deepEqual(arr(back.sequences!.offsets), arr(ds.sequences!.offsets));
    }),
    { numRuns: 200, seed: 11 },
  );
});

test('formatFastText writes bags as repeated words and refuses what it cannot write', () => {
  const b = new SparseBuilder();
  b.addRow([1, 0], [2, 1], [1]);
  const ds = b.build({ numFeatures: 2, numLabels: 2, featureNames: ['x', 'y'], labelNames: ['p', 'q'] });
  assert.equal(formatFastText(ds).join(''), '__label__q x y y\n');
  assert.throws(() => formatFastText({ ...ds, featureNames: ['x', 'y z'] }), /cannot be written as a word/);
  assert.throws(() => formatFastText({ ...ds, labelNames: ['p', ''] }), /label name '' is empty/);
  assert.throws(() => formatFastText({ ...ds, featureNames: undefined }), /needs featureNames and labelNames/);
  const c = new SparseBuilder();
  c.addRow([0], [0.5], [0]);
  assert.throws(() => formatFastText(c.build({ numFeatures: 1, numLabels: 1, featureNames: ['x'], labelNames: ['p'] })), /integer counts/);
});
