import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataFormatError, OptionError, ShapeError } from '../src/core/errors.js';
import { EOS, UNK, Vocabulary, countTokens } from '../src/data/vocab.js';

const words = (s: string): string[] => s.split(' ');

// the b a b c c b <eos> d a <eos>: b×3, a×2, c×2, <eos>×2, d×1, the×1
const TRAIN = words('the b a b c c b <eos> d a <eos>');

test('vocabulary with minCount 1: ids by decreasing count, ties by string; <unk> with count 0 last', () => {
  const v = Vocabulary.build(TRAIN);
  // count 2 ties: '<eos>' < 'a' < 'c' in code-unit order; count 1 ties: 'd' < 'the'
  assert.deepEqual(v.words, ['b', '<eos>', 'a', 'c', 'd', 'the', UNK]);
  assert.deepEqual(Array.from(v.counts), [3, 2, 2, 2, 1, 1, 0]);
  assert.equal(v.size, 7);
  assert.equal(v.eosId, 1);
  assert.equal(v.unkId, 6);
  assert.equal(v.minCount, 1);
  assert.deepEqual(Array.from(v.encode(words('a the zebra <eos>'))), [2, 5, 6, 1]);
  assert.deepEqual(v.decode([0, 6, 1]), ['b', UNK, EOS]);
  assert.equal(v.id('zebra'), v.unkId);
  assert.ok(!v.has('zebra') && v.has('the'));
});

test('vocabulary with minCount 2: rare words fold into <unk>, which is ranked by the count it absorbed', () => {
  const v = Vocabulary.build(TRAIN, { minCount: 2 });
  // d and the (1 each) become <unk> with count 2; ties at 2: '<eos>' < '<unk>' < 'a' < 'c'
  assert.deepEqual(v.words, ['b', EOS, UNK, 'a', 'c']);
  assert.deepEqual(Array.from(v.counts), [3, 2, 2, 2, 2]);
  assert.deepEqual(Array.from(v.encode(TRAIN)), [2, 0, 3, 0, 4, 4, 0, 1, 2, 3, 1]);
  // counts equal the histogram of the encoded training stream
  const hist = new Array<number>(v.size).fill(0);
  for (const id of v.encode(TRAIN)) hist[id]!++;
  assert.deepEqual(hist, Array.from(v.counts));
});

test('<eos> is kept whatever minCount, and a literal <unk> in the text adds to its count', () => {
  const v = Vocabulary.build(words('x x x <unk> y <eos>'), { minCount: 3 });
  assert.deepEqual(v.words, ['x', UNK, EOS]);
  assert.deepEqual(Array.from(v.counts), [3, 2, 1]);
  const noEos = Vocabulary.build(words('x y'));
  assert.ok(noEos.has(EOS));
  assert.equal(noEos.counts[noEos.eosId], 0);
});

test('property: counts are non-increasing, sum to the token count, and encode∘decode is the identity on kept words', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'dd', 'e', EOS, 'ff', 'g'), { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (toks, minCount) => {
      const v = Vocabulary.build(toks, { minCount });
      for (let i = 1; i < v.size; i++) assert.ok(v.counts[i]! <= v.counts[i - 1]!);
      assert.equal(v.counts.reduce((a, b) => a + b, 0), toks.length);
      const ids = v.encode(toks);
      const back = v.decode(ids);
      const c = countTokens(toks);
      toks.forEach((t, i) => assert.equal(back[i], t === EOS || c.get(t)! >= minCount ? t : UNK));
    }),
    { seed: 7, numRuns: 200 },
  );
});

test('toJSON / fromJSON round-trip, and the constructor rejects malformed word lists', () => {
  const v = Vocabulary.build(TRAIN, { minCount: 2 });
  const w = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.deepEqual(w.words, v.words);
  assert.deepEqual(w.counts, v.counts);
  assert.equal(w.minCount, 2);
  assert.throws(() => new Vocabulary(['a', EOS, UNK], [1, 1]), ShapeError);
  assert.throws(() => new Vocabulary(['a', 'a', EOS, UNK], [1, 1, 1, 1]), /appears twice/);
  assert.throws(() => new Vocabulary(['a', EOS], [1, 1]), /lacks <unk>/);
  assert.throws(() => new Vocabulary(['a', EOS, UNK], [1, 2, 0]), /sorted by decreasing count/);
  assert.throws(() => new Vocabulary(['a b', EOS, UNK], [1, 1, 0]), DataFormatError);
  assert.throws(() => new Vocabulary(['a', EOS, UNK], [1.5, 1, 0]), DataFormatError);
  assert.throws(() => Vocabulary.fromJSON({ words: 'a' }), DataFormatError);
});

test('bad options and ids raise OptionError', () => {
  assert.throws(() => Vocabulary.build(TRAIN, { minCount: 0 }), OptionError);
  assert.throws(() => Vocabulary.build(TRAIN, { minCount: 1.5 }), OptionError);
  assert.throws(() => Vocabulary.build(TRAIN, { mincount: 2 } as never), /unknown option 'mincount'/);
  const v = Vocabulary.build(TRAIN);
  assert.throws(() => v.word(v.size), OptionError);
  assert.throws(() => v.decode([-1]), OptionError);
});
