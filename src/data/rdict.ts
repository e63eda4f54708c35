/**
 * The reverse-dictionary dataset: definitions → headword. Instances are definitions (GCIDE
 * senses, WordNet 3.1 glosses, or any list of {@link Definition}s); labels are their normalized
 * headwords (a WordNet gloss is labelled with every lemma of its synset); features are the
 * lower-cased `[a-z0-9]+` tokens of the definition **without the tokens of its own headwords**
 * (as the reverse-dictionary literature does, so that a definition never names its answer).
 *
 * Split (as Hill et al., TACL 2016): a deterministic FNV-1a hash of the definition's normalized
 * text and headwords puts `testPercent` % of the definitions aside; the first `maxTest` of them in
 * hash order are evaluated (the others are held out of training and of evaluation). A test
 * definition is `seen` when one of its headwords has a training definition, `unseen` otherwise;
 * the test set holds the seen rows first, then the unseen ones. Browser-safe.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { intOption, numOption } from '../core/validate.js';
import { normalizeHeadword, type Definition } from './gcide.js';
import { numRows, SparseBuilder, tokenize, Vocab, type DatasetSplit } from './sparse.js';
import type { WordNetSynset } from './wordnet.js';

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The WordNet glosses of parsed synsets (any part of speech) as definitions: the gloss up to its
 * first example (`; "`), quotes removed, labelled with all the synset's lemmas (normalized, the
 * adjective markers `(a)`, `(p)`, `(ip)` dropped).
 */
export function wordnetGlossDefinitions(synsets: readonly WordNetSynset[]): Definition[] {
  const out: Definition[] = [];
  for (const s of synsets) {
    const cut = s.gloss.indexOf('; "');
    let text = (cut >= 0 ? s.gloss.slice(0, cut) : s.gloss).replace(/"[^"]*"/g, ' ').replace(/\s+/g, ' ').trim();
    text = text.replace(/[;,:\s]+$/, '');
    const heads: string[] = [];
    for (const l of s.lemmas) {
      const h = normalizeHeadword(l.replace(/\((a|p|ip)\)$/, ''));
      if (h !== '' && !heads.includes(h)) heads.push(h);
    }
    if (text !== '' && heads.length > 0) out.push({ headwords: heads, text });
  }
  return out;
}

/** The tokens of `text` without those of `headwords` (each headword tokenized like the text). */
export function removeHeadwordTokens(text: string, headwords: readonly string[]): string[] {
  const drop = new Set<string>();
  for (const h of headwords) for (const t of tokenize(h)) drop.add(t);
  return tokenize(text).filter((t) => !drop.has(t));
}

/** The label name of a normalized headword: blanks as `_` (label names hold no whitespace). */
export function headwordLabel(h: string): string {
  return h.replace(/ /g, '_');
}

/** Where a definition goes. */
export type RdictPart = 'train' | 'test' | 'heldOut';

/** Options of {@link buildRdictDataset}. */
export interface RdictOptions {
  /** Percentage of definitions set aside by the hash (default 5). */
  testPercent?: number;
  /** Test definitions evaluated, the first in hash order (default 10000). */
  maxTest?: number;
  /**
   * Percentage of the training definitions kept (default 100), chosen by a second hash: a smaller
   * training set for quick runs; the classes stay every headword of the data.
   */
  trainPercent?: number;
}

/** A named source of definitions. */
export interface DefinitionSource {
  /** Its name in the statistics (e.g. `gcide`, `wordnet`). */
  readonly name: string;
  /** Its definitions. */
  readonly definitions: readonly Definition[];
}

/** Statistics of the reverse-dictionary dataset. */
export interface RdictStats {
  /** Definitions read per source, and distinct headwords per source. */
  sources: { name: string; definitions: number; headwords: number }[];
  /** Definitions after removing exact duplicates (same normalized text and headwords). */
  definitions: number;
  /** Exact duplicates removed. */
  duplicates: number;
  /** Definitions with no token left once their headwords' tokens are removed (dropped). */
  emptied: number;
  /** Distinct headwords (labels) over all kept definitions. */
  headwords: number;
  /** Headwords with at least one training definition. */
  headwordsInTrain: number;
  /** Definitions labelled with more than one headword. */
  multiLabel: number;
  /** Training definitions. */
  train: number;
  /** Training definitions left out by `trainPercent`. */
  trainDropped: number;
  /** Test definitions set aside by the hash. */
  testAside: number;
  /** Evaluated test definitions (at most `maxTest`): seen + unseen. */
  test: number;
  /** Evaluated test definitions with a headword that has a training definition. */
  seen: number;
  /** Evaluated test definitions none of whose headwords has a training definition. */
  unseen: number;
  /** Test definitions set aside but not evaluated (past `maxTest`; not trained on either). */
  heldOut: number;
  /** Token features (the training vocabulary). */
  features: number;
  /** Test tokens outside the training vocabulary (dropped). */
  testOovTokens: number;
  /** The split's settings. */
  testPercent: number;
  trainPercent: number;
  maxTest: number;
}

/** The dataset: a split whose test rows are `seen` first, then `unseen`. */
export interface RdictDataset {
  /** Train and test (seen rows `0 … seen−1`, then the unseen rows). */
  readonly split: DatasetSplit;
  /** Statistics (seen rows = `stats.seen`). */
  readonly stats: RdictStats;
}

/**
 * Which part a definition goes to before the cap: `test` when its key hashes into the first
 * `testPercent` % (key = normalized text, TAB, sorted headwords joined by `|`).
 */
export function definitionKey(d: Definition): string {
  return `${d.text.toLowerCase().replace(/\s+/g, ' ').trim()}\t${[...d.headwords].sort().join('|')}`;
}

/** Whether a key's hash falls into the test share (`hash mod 10000 < 100·testPercent`). */
export function isRdictTest(hash: number, testPercent: number): boolean {
  return hash % 10000 < Math.round(testPercent * 100);
}

/**
 * Builds the dataset from its sources (see the module notes). Deterministic: training rows in
 * source order, test rows (seen, then unseen) in hash order; feature ids by first occurrence in
 * the training rows; label ids by first occurrence over training, test, held-out and left-out
 * training definitions, so every headword of the data is a class.
 * @throws OptionError for bad options, or when no training or no test definition remains
 */
export function buildRdictDataset(sources: readonly DefinitionSource[], opts: RdictOptions = {}): RdictDataset {
  const testPercent = numOption(opts.testPercent ?? 5, 'testPercent', 0, 100);
  const maxTest = intOption(opts.maxTest ?? 10000, 'maxTest', 1);
  const trainPercent = numOption(opts.trainPercent ?? 100, 'trainPercent', 0, 100);
  if (trainPercent === 0) throw new OptionError('trainPercent 0 keeps no training definition; give a share in (0, 100]');
  const seenKeys = new Set<string>();
  let duplicates = 0;
  let emptied = 0;
  let multiLabel = 0;
  const dropped: { heads: string[]; tokens: string[]; hash: number }[] = [];
  interface Row { heads: string[]; tokens: string[]; hash: number }
  const train: Row[] = [];
  const aside: Row[] = [];
  const srcStats: RdictStats['sources'] = [];
  for (const src of sources) {
    const hw = new Set<string>();
    for (const d of src.definitions) {
      const heads = [...new Set(d.headwords.map(normalizeHeadword).filter((h) => h !== ''))];
      if (heads.length === 0) continue;
      for (const h of heads) hw.add(h);
      const key = definitionKey({ headwords: heads, text: d.text });
      if (seenKeys.has(key)) {
        duplicates++;
        continue;
      }
      seenKeys.add(key);
      const tokens = removeHeadwordTokens(d.text, heads);
      if (tokens.length === 0) {
        emptied++;
        continue;
      }
      if (heads.length > 1) multiLabel++;
      const hash = fnv1a(key);
      if (isRdictTest(hash, testPercent)) aside.push({ heads, tokens, hash });
      else if (trainPercent >= 100 || fnv1a(`train\t${key}`) % 10000 < Math.round(trainPercent * 100)) train.push({ heads, tokens, hash });
      else dropped.push({ heads, tokens: [], hash });
    }
    srcStats.push({ name: src.name, definitions: src.definitions.length, headwords: hw.size });
  }
  aside.sort((a, b) => a.hash - b.hash);
  const evaluated = aside.slice(0, maxTest);
  const heldOut = aside.slice(maxTest);
  if (train.length === 0) throw new OptionError('no training definition: every definition fell into the test share; lower testPercent or give more definitions');
  if (evaluated.length === 0) throw new OptionError(`no test definition: none of the ${train.length} definitions hashes into the ${testPercent} % test share; raise testPercent or give more definitions`);
  const trainHeads = new Set<string>();
  for (const r of train) for (const h of r.heads) trainHeads.add(h);
  const isSeen = (r: Row): boolean => r.heads.some((h) => trainHeads.has(h));
  const seen = evaluated.filter(isSeen);
  const unseen = evaluated.filter((r) => !isSeen(r));
  const labels = new Vocab();
  for (const part of [train, seen, unseen, heldOut, dropped]) for (const r of part) for (const h of r.heads) labels.add(h);
  const vocab = new Vocab();
  let oov = 0;
  const build = (rows: readonly Row[], grow: boolean): SparseBuilder => {
    const b = new SparseBuilder();
    const ids: number[] = [];
    for (const r of rows) {
      ids.length = 0;
      for (const t of r.tokens) {
        const id = grow ? vocab.add(t) : vocab.id(t);
        if (id >= 0) ids.push(id);
        else oov++;
      }
      b.addTokens(ids, r.heads.map((h) => labels.id(h)).sort((a, c) => a - c));
    }
    return b;
  };
  const trainB = build(train, true);
  const testB = build([...seen, ...unseen], false);
  const info = {
    numFeatures: vocab.size,
    numLabels: labels.size,
    featureNames: vocab.names.slice(),
    labelNames: labels.names.map(headwordLabel),
    labelInfo: labels.names.slice(),
  };
  const split = { train: trainB.build(info), test: testB.build(info) };
  const stats: RdictStats = {
    sources: srcStats,
    definitions: seenKeys.size,
    duplicates,
    emptied,
    headwords: labels.size,
    headwordsInTrain: trainHeads.size,
    multiLabel,
    train: numRows(split.train),
    trainDropped: dropped.length,
    testAside: aside.length,
    test: evaluated.length,
    seen: seen.length,
    unseen: unseen.length,
    heldOut: heldOut.length,
    features: vocab.size,
    testOovTokens: oov,
    testPercent,
    trainPercent,
    maxTest,
  };
  return { split, stats };
}

/** The statistics as readable lines (printed by `train rdict` and `data export rdict`). */
export function rdictStatsLines(s: RdictStats): string[] {
  const f = (n: number): string => n.toLocaleString('en-US');
  return [
    `sources: ${s.sources.map((x) => `${x.name} ${f(x.definitions)} definitions of ${f(x.headwords)} headwords`).join('; ')}`,
    `definitions ${f(s.definitions)} (${f(s.duplicates)} exact duplicates removed, ${f(s.emptied)} left without tokens once their headwords' tokens were removed), ` +
      `${f(s.multiLabel)} with several headwords; headwords (classes) ${f(s.headwords)}, ${f(s.headwordsInTrain)} with a training definition`,
    `split (hash, ${s.testPercent} % test, at most ${f(s.maxTest)} evaluated): train ${f(s.train)}${s.trainPercent < 100 ? ` (${s.trainPercent} % kept, ${f(s.trainDropped)} left out)` : ''}, test ${f(s.test)} (seen ${f(s.seen)}, unseen ${f(s.unseen)}), ` +
      `${f(s.heldOut)} set aside but not evaluated; features ${f(s.features)} tokens, ${f(s.testOovTokens)} test tokens outside them`,
  ];
}
