/**
 * Language-modelling corpora as token-id streams: a vocabulary cut from the training split and
 * one Int32Array of ids per split, plus the plain-text format (whitespace-separated tokens, one
 * `<eos>` per line). Pure functions: the Node readers are in `lmFiles.ts`.
 * @module
 */
import { DataFormatError } from '../core/errors.js';
import { EOS, Vocabulary, countTokens, type VocabularyOptions } from './vocab.js';
import { linesOf } from '../core/lines.js';

/** The three splits of a corpus. */
export type SplitName = 'train' | 'valid' | 'test';
/** The split names in their usual order. */
export const SPLIT_NAMES: readonly SplitName[] = Object.freeze(['train', 'valid', 'test'] as const);

/**
 * A token stream that can be read more than once: the training split is read twice (counting,
 * then encoding), so sources are functions returning a fresh iterable.
 */
export type TokenSource = () => Iterable<string>;

/** A corpus encoded with a vocabulary cut from its training split. */
export interface LmCorpus {
  /** Name of the corpus (`brown`, or the directory of a plain-text corpus). */
  readonly name: string;
  /** Vocabulary cut from the training split. */
  readonly vocab: Vocabulary;
  /** Token ids of each split, sentences in order, each followed by `<eos>`. */
  readonly train: Int32Array;
  /** Token ids of the validation split. */
  readonly valid: Int32Array;
  /** Token ids of the test split. */
  readonly test: Int32Array;
  /** Distinct tokens in the training split before the `minCount` cut (`<eos>` counts as one). */
  readonly trainTypes: number;
  /** The input files of each split (Brown file names, or paths). */
  readonly files: Readonly<Record<SplitName, readonly string[]>>;
}

/**
 * Counts the training tokens, cuts the vocabulary and encodes the three splits.
 * @param name name recorded in the corpus
 * @param sources token streams of each split (every sentence followed by `<eos>`)
 * @param files input files of each split, recorded in the corpus and named in errors
 * @throws DataFormatError when a split has no tokens; OptionError for a bad `minCount`
 */
export function buildLmCorpus(
  name: string,
  sources: Readonly<Record<SplitName, TokenSource>>,
  files: Readonly<Record<SplitName, readonly string[]>>,
  opts: VocabularyOptions = {},
): LmCorpus {
  const counts = countTokens(sources.train());
  const vocab = Vocabulary.fromCounts(counts, opts);
  const encoded = {} as Record<SplitName, Int32Array>;
  for (const s of SPLIT_NAMES) {
    encoded[s] = vocab.encode(sources[s]());
    if (encoded[s].length === 0) {
      throw new DataFormatError(files[s].join(', ') || s, 0, `the ${s} split has no tokens; give it at least one sentence`);
    }
  }
  return {
    name,
    vocab,
    train: encoded.train,
    valid: encoded.valid,
    test: encoded.test,
    trainTypes: counts.size,
    files: { train: files.train.slice(), valid: files.valid.slice(), test: files.test.slice() },
  };
}

/** Size figures of an {@link LmCorpus}. */
export interface LmCorpusStats {
  /** Name of the corpus. */
  corpus: string;
  /** The `minCount` of the vocabulary. */
  minCount: number;
  /** Number of ids, `<unk>` and `<eos>` included. */
  vocabSize: number;
  /** Distinct training tokens before the cut. */
  trainTypes: number;
  /** Input files per split. */
  files: Record<SplitName, number>;
  /** Tokens per split, `<eos>` included. */
  tokens: Record<SplitName, number>;
  /** Sentences (lines) per split: the number of `<eos>`. */
  sentences: Record<SplitName, number>;
  /** Tokens mapped to `<unk>` per split. */
  unk: Record<SplitName, number>;
  /** `unk / tokens` per split. */
  unkRate: Record<SplitName, number>;
}

/** Token, sentence and `<unk>` counts of each split. */
export function lmCorpusStats(c: LmCorpus): LmCorpusStats {
  const per = <T>(f: (s: SplitName) => T): Record<SplitName, T> => ({ train: f('train'), valid: f('valid'), test: f('test') });
  const occurrences = (ids: Int32Array, id: number): number => {
    let n = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] === id) n++;
    return n;
  };
  const unk = per((s) => occurrences(c[s], c.vocab.unkId));
  return {
    corpus: c.name,
    minCount: c.vocab.minCount,
    vocabSize: c.vocab.size,
    trainTypes: c.trainTypes,
    files: per((s) => c.files[s].length),
    tokens: per((s) => c[s].length),
    sentences: per((s) => occurrences(c[s], c.vocab.eosId)),
    unk,
    unkRate: per((s) => unk[s] / c[s].length),
  };
}

/**
 * Tokens of plain text: each line's whitespace-separated tokens followed by `<eos>` (a blank
 * line gives a lone `<eos>`; a final newline does not start a line).
 */
export function* textTokens(text: string): Generator<string> {
  for (const line of linesOf(text)) {
    for (const t of line.split(/\s+/)) if (t !== '') yield t;
    yield EOS;
  }
}

/**
 * Decodes the bytes of a text file as UTF-8.
 * @param file name used in errors
 * @throws DataFormatError naming the line of the first invalid UTF-8 sequence or NUL byte
 */
export function decodeText(bytes: Uint8Array, file: string): string {
  const lineOf = (byteIndex: number): number => {
    let line = 1;
    for (let i = 0; i < byteIndex; i++) if (bytes[i] === 0x0a) line++;
    return line;
  };
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new DataFormatError(file, lineOf(nul), 'contains a NUL byte (a binary file?); give a UTF-8 text file');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const loose = new TextDecoder('utf-8').decode(bytes);
    const j = loose.indexOf('\ufffd');
    const line = j < 0 ? 0 : loose.slice(0, j).split('\n').length;
    throw new DataFormatError(file, line, 'is not valid UTF-8; convert it to UTF-8 (for example with iconv)');
  }
}

/** The texts of a plain-text corpus (contents of `train.txt`, `valid.txt`, `test.txt`). */
export type LmTexts = Readonly<Record<SplitName, string>>;

/**
 * Builds a corpus from the three texts of a plain-text corpus (one sentence per line,
 * whitespace-separated tokens, `<eos>` appended to every line).
 * @param files names of the three inputs, used in errors (default `train.txt` etc.)
 * @throws DataFormatError for a split without tokens; OptionError for a bad `minCount`
 */
export function parseTextCorpus(
  name: string,
  texts: LmTexts,
  opts: VocabularyOptions = {},
  files: Readonly<Record<SplitName, string>> = { train: 'train.txt', valid: 'valid.txt', test: 'test.txt' },
): LmCorpus {
  for (const s of SPLIT_NAMES) {
    if (!/\S/.test(texts[s])) throw new DataFormatError(files[s], 0, `is empty; put the ${s} text there, one sentence per line`);
  }
  return buildLmCorpus(
    name,
    { train: () => textTokens(texts.train), valid: () => textTokens(texts.valid), test: () => textTokens(texts.test) },
    { train: [files.train], valid: [files.valid], test: [files.test] },
    opts,
  );
}
