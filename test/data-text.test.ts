import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError, IoError } from '../src/core/errors.js';
import { decodeText, parseTextCorpus, textTokens } from '../src/data/lmCorpus.js';
import { readTextCorpus } from '../src/data/lmFiles.js';
import { EOS, UNK } from '../src/data/vocab.js';

function withDir(files: Record<string, string | Uint8Array>, f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-text-'));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('textTokens: whitespace tokens, one <eos> per line, blank lines give a lone <eos>, no extra line after the final newline', () => {
  assert.deepEqual([...textTokens(' the  cat\tsat \n\nit ran\n')], ['the', 'cat', 'sat', EOS, EOS, 'it', 'ran', EOS]);
  assert.deepEqual([...textTokens('a b\r\nc')], ['a', 'b', EOS, 'c', EOS]);
  assert.deepEqual([...textTokens('')], []);
});

test('readTextCorpus reads train/valid/test, cuts the vocabulary from train, maps unseen words to <unk>', () => {
  withDir({ 'train.txt': 'a b a\nc a b\n', 'valid.txt': 'a z\n', 'test.txt': 'b\n\nq c\n' }, (dir) => {
    const c = readTextCorpus(dir, { minCount: 2 });
    // train counts: a 3, b 2, <eos> 2, c 1 -> c is <unk>
    assert.deepEqual(c.vocab.words, ['a', '<eos>', 'b', UNK]);
    const w = (ids: Int32Array): string => c.vocab.decode(ids).join(' ');
    assert.equal(w(c.train), 'a b a <eos> <unk> a b <eos>');
    assert.equal(w(c.valid), 'a <unk> <eos>');
    assert.equal(w(c.test), 'b <eos> <eos> <unk> <unk> <eos>');
    assert.equal(c.name, dir);
    assert.deepEqual(c.files.valid, [join(dir, 'valid.txt')]);
  });
  // the pure variant gives the same corpus from strings
  const p = parseTextCorpus('mem', { train: 'a b a\nc a b\n', valid: 'a z\n', test: 'b\n\nq c\n' }, { minCount: 2 });
  assert.deepEqual(p.vocab.words, ['a', '<eos>', 'b', UNK]);
});

test('readTextCorpus names the missing file to add, and the missing directory', () => {
  withDir({ 'train.txt': 'a b\n', 'test.txt': 'a\n' }, (dir) => {
    assert.throws(
      () => readTextCorpus(dir),
      (e: unknown) => e instanceof IoError && e.message.includes(join(dir, 'valid.txt')) && /add the valid split as valid\.txt/.test(e.message),
    );
    assert.throws(() => readTextCorpus(join(dir, 'absent')), (e: unknown) => e instanceof IoError && /does not exist/.test(e.message));
    assert.throws(() => readTextCorpus(join(dir, 'train.txt')), IoError);
  });
});

test('readTextCorpus reports invalid UTF-8, NUL bytes and empty files with the file and line', () => {
  const bad = Uint8Array.from([...Buffer.from('ok line\nsecond\n'), 0xc3, 0x28, ...Buffer.from(' x\n')]);
  withDir({ 'train.txt': 'a b\n', 'valid.txt': bad, 'test.txt': 'a\n' }, (dir) => {
    assert.throws(
      () => readTextCorpus(dir),
      (e: unknown) => e instanceof DataFormatError && e.file === join(dir, 'valid.txt') && e.line === 3 && /not valid UTF-8/.test(e.message),
    );
  });
  withDir({ 'train.txt': 'a b\nc\u0000d\n', 'valid.txt': 'a\n', 'test.txt': 'a\n' }, (dir) => {
    assert.throws(() => readTextCorpus(dir), (e: unknown) => e instanceof DataFormatError && e.line === 2 && /NUL byte/.test(e.message));
  });
  withDir({ 'train.txt': 'a b\n', 'valid.txt': 'a\n', 'test.txt': ' \n\n' }, (dir) => {
    assert.throws(() => readTextCorpus(dir), (e: unknown) => e instanceof DataFormatError && e.file === join(dir, 'test.txt') && /is empty/.test(e.message));
  });
  assert.equal(decodeText(Buffer.from('h\u00e9 \u2014\n'), 'x'), 'h\u00e9 \u2014\n');
});
