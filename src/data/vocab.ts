/**
 * Word vocabularies for language modelling: deterministic ids, frequency counts and `<unk>`.
 * @module
 */
import { DataFormatError, ShapeError } from '../core/errors.js';
import { intOption, rejectUnknown } from '../core/validate.js';
import { IntBuffer } from './buffers.js';

/** The token that replaces every word outside the vocabulary. */
export const UNK = '<unk>';
/** The token that ends every sentence (or line). */
export const EOS = '<eos>';

/** Options of {@link Vocabulary.fromCounts} and {@link Vocabulary.build}. */
export interface VocabularyOptions {
  /**
   * Keep the words seen at least this many times (default 1: every word seen). `<unk>` and
   * `<eos>` are always kept.
   */
  minCount?: number;
}

/**
 * A word ↔ id mapping with the training count of every id.
 *
 * Ids are ordered by decreasing count, ties by increasing string (UTF-16 code-unit order), so
 * id `k` is the `k`-th most frequent word: samplers that need frequency ranks (`logUniform`)
 * can use the ids directly, and `counts` feeds `unigram`. `<unk>` and `<eos>` are always
 * present and are ranked like any other word; the count of `<unk>` is the number of training
 * tokens it replaced (plus any literal `<unk>` in the text).
 */
export class Vocabulary {
  /** `words[id]`: the word of each id. */
  readonly words: readonly string[];
  /** `counts[id]`: how many training tokens map to each id (non-increasing in id). */
  readonly counts: Int32Array;
  /** Id of `<unk>`. */
  readonly unkId: number;
  /** Id of `<eos>`. */
  readonly eosId: number;
  /** The `minCount` the vocabulary was cut with (1 when built from a word list). */
  readonly minCount: number;
  private readonly index: Map<string, number>;

  /**
   * Makes a vocabulary from a word list in id order and the per-id counts (for example read
   * back from a checkpoint).
   * @throws ShapeError (lengths differ), DataFormatError (duplicate or empty words, missing
   *   `<unk>`/`<eos>`, negative or non-integer counts, counts increasing with id)
   */
  constructor(words: readonly string[], counts: ArrayLike<number>, minCount = 1) {
    if (words.length !== counts.length) {
      throw new ShapeError(`vocabulary: ${words.length} words but ${counts.length} counts; give one count per word`);
    }
    const index = new Map<string, number>();
    const c = new Int32Array(words.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (typeof w !== 'string' || w === '' || /\s/.test(w)) {
        throw new DataFormatError('vocabulary', 0, `word ${i} is ${JSON.stringify(w)}; words must be non-empty and contain no whitespace`);
      }
      if (index.has(w)) throw new DataFormatError('vocabulary', 0, `word ${JSON.stringify(w)} appears twice (ids ${index.get(w)!} and ${i}); words must be unique`);
      index.set(w, i);
      const x = counts[i]!;
      if (!Number.isInteger(x) || x < 0 || x > 0x7fffffff) {
        throw new DataFormatError('vocabulary', 0, `count of ${JSON.stringify(w)} is ${x}; counts must be non-negative integers`);
      }
      if (i > 0 && x > c[i - 1]!) {
        throw new DataFormatError('vocabulary', 0, `count of id ${i} (${x}) exceeds that of id ${i - 1} (${c[i - 1]!}); ids must be sorted by decreasing count`);
      }
      c[i] = x;
    }
    for (const s of [UNK, EOS]) {
      if (!index.has(s)) throw new DataFormatError('vocabulary', 0, `the word list lacks ${s}; add it (with its count)`);
    }
    this.words = Object.freeze(words.slice());
    this.counts = c;
    this.index = index;
    this.unkId = index.get(UNK)!;
    this.eosId = index.get(EOS)!;
    this.minCount = minCount;
  }

  /**
   * Cuts a vocabulary from word counts: keeps words with count ≥ `minCount`, folds the rest
   * into `<unk>`, and orders ids by decreasing count, ties by string.
   * @throws OptionError (bad minCount, unknown options), DataFormatError (negative or
   *   non-integer counts, empty words)
   */
  static fromCounts(counts: ReadonlyMap<string, number>, opts: VocabularyOptions = {}): Vocabulary {
    rejectUnknown(opts, ['minCount'], 'vocabulary');
    const minCount = intOption(opts.minCount ?? 1, 'minCount', 1);
    let unk = 0;
    const kept: [string, number][] = [];
    for (const [w, n] of counts) {
      if (!Number.isInteger(n) || n < 0) throw new DataFormatError('word counts', 0, `count of ${JSON.stringify(w)} is ${n}; counts must be non-negative integers`);
      if (w === UNK) unk += n;
      else if (w === EOS || n >= minCount) kept.push([w, n]);
      else unk += n;
    }
    if (!counts.has(EOS)) kept.push([EOS, 0]);
    kept.push([UNK, unk]);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new Vocabulary(
      kept.map((e) => e[0]),
      kept.map((e) => e[1]),
      minCount,
    );
  }

  /** Counts `tokens` and cuts a vocabulary with {@link Vocabulary.fromCounts}. */
  static build(tokens: Iterable<string>, opts: VocabularyOptions = {}): Vocabulary {
    return Vocabulary.fromCounts(countTokens(tokens), opts);
  }

  /** Number of ids (words kept, `<unk>` and `<eos>` included). */
  get size(): number {
    return this.words.length;
  }

  /** Id of `word`, or `unkId` when it is not in the vocabulary. */
  id(word: string): number {
    return this.index.get(word) ?? this.unkId;
  }

  /** Whether `word` has its own id. */
  has(word: string): boolean {
    return this.index.has(word);
  }

  /**
   * The word of `id`.
   * @throws OptionError when `id` is not an integer in `[0, size)`
   */
  word(id: number): string {
    return this.words[intOption(id, 'id', 0, this.words.length - 1)]!;
  }

  /** Maps tokens to ids (`<unk>` for unknown words). */
  encode(tokens: Iterable<string>): Int32Array {
    const out = new IntBuffer();
    for (const t of tokens) out.push(this.index.get(t) ?? this.unkId);
    return out.toArray();
  }

  /** Maps ids back to words. @throws OptionError for an id outside `[0, size)` */
  decode(ids: ArrayLike<number>): string[] {
    const out = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.word(ids[i]!);
    return out;
  }

  /** A plain object that {@link Vocabulary.fromJSON} reads back. */
  toJSON(): { words: string[]; counts: number[]; minCount: number } {
    return { words: this.words.slice(), counts: Array.from(this.counts), minCount: this.minCount };
  }

  /** Rebuilds a vocabulary written by {@link Vocabulary.toJSON}. @throws DataFormatError */
  static fromJSON(v: unknown): Vocabulary {
    const o = v as { words?: unknown; counts?: unknown; minCount?: unknown } | null;
    if (o === null || typeof o !== 'object' || !Array.isArray(o.words) || !Array.isArray(o.counts)) {
      throw new DataFormatError('vocabulary', 0, 'expected an object { words: string[], counts: number[], minCount }');
    }
    const minCount = typeof o.minCount === 'number' && Number.isInteger(o.minCount) && o.minCount >= 1 ? o.minCount : 1;
    return new Vocabulary(o.words as string[], o.counts as number[], minCount);
  }
}

/** Counts every token of `tokens`. */
export function countTokens(tokens: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}
