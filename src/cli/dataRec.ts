/**
 * `samplex data fetch movielens-small` and `samplex data fetch gcide`, and `samplex data stats` for interaction datasets
 * (`movielens-small` or a CSV/TSV file; `dataStats.ts` hands these over).
 * @module
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { OptionError } from '../core/errors.js';
import { parseDecimal } from '../core/validate.js';
import { DEFAULT_MIN_INTERACTIONS, interactionStats, type InteractionFormat, type InteractionLog, type InteractionStats } from '../data/interactions.js';
import {
  datasetPath,
  defaultCacheDir,
  fetchMovielensSmall,
  loadRecDataset,
  MOVIELENS_CITATION,
  readInteractionsFile,
  REC_DATASETS,
  isRecDataset,
  type RecDatasetName,
} from '../data/movielens.js';
import { fetchGcide } from '../data/gcideFiles.js';

/** Options of `samplex data fetch`. */
interface DataFetchOptions {
  /** Fetch again even when cached. */
  force?: boolean;
  /** Cache directory. */
  cache?: string;
}

/** Options of `samplex data stats` for interaction data. */
export interface DataRecStatsOptions {
  /** Print one JSON object instead of a table. */
  json?: boolean;
  /** Cache directory. */
  cache?: string;
  /** Minimum interactions per user for the split (text, as given on the command line). */
  minInteractions?: string;
  /** Field separator of a file (`tab` or `\t` for a tab). */
  delimiter?: string;
  /** False when the file has no header line. */
  header?: boolean;
  /** User column of a file: a name, or a 0-based index without header. */
  user?: string;
  /** Item column of a file. */
  item?: string;
  /** Time column of a file. */
  time?: string;
}

function datasetName(name: string): RecDatasetName {
  if (!isRecDataset(name)) throw new OptionError(`unknown dataset '${name}'; known: ${REC_DATASETS.join(', ')}`);
  return name;
}

/** The datasets `samplex data fetch` knows: the interaction datasets and GCIDE. */
export const FETCH_DATASETS: readonly string[] = [...REC_DATASETS, 'gcide'];

/** Runs `samplex data fetch gcide`; prints where the definitions are. */
function fetchGcideCommand(o: DataFetchOptions, print: (line: string) => void): void {
  const r = fetchGcide({ cacheDir: o.cache ?? defaultCacheDir(), force: o.force === true, log: (l) => process.stderr.write(l + '\n') });
  print(r.cached
    ? `gcide: ${r.path} (cached)`
    : `gcide: ${r.definitions} definitions of ${r.headwords} headwords (from ${r.indexEntries} index entries of ${r.source}) written to ${r.path}`);
  print('GCIDE: free software under the GNU General Public License, version 2 or later (derived from Webster\'s Revised Unabridged Dictionary, 1913, and WordNet)');
}

/** Runs `samplex data fetch <name>`; prints where the file is. */
function dataFetchCommand(name: string, o: DataFetchOptions, print: (line: string) => void): void {
  if (name === 'gcide') return fetchGcideCommand(o, print);
  if (!isRecDataset(name)) throw new OptionError(`unknown dataset '${name}'; known: ${FETCH_DATASETS.join(', ')}`);
  const ds = datasetName(name);
  const r = fetchMovielensSmall({
    cacheDir: o.cache ?? defaultCacheDir(),
    force: o.force === true,
    log: (l) => process.stderr.write(l + '\n'),
  });
  print(r.cached ? `${ds}: ${r.path} (cached)` : `${ds}: ${r.ratings} ratings from ${r.source} written to ${r.path}`);
  print(`MovieLens data: research use under the GroupLens terms; cite ${MOVIELENS_CITATION}`);
}

const column = (v: string | undefined, fallback: string, header: boolean): string | number => {
  const s = v ?? fallback;
  if (/^\d+$/.test(s) && !header) return Number(s);
  return s;
};

/** Whether `samplex data stats <target>` means interaction data: a known dataset or an existing file. */
export function isRecStatsTarget(target: string): boolean {
  return isRecDataset(target) || existsSync(target);
}

/** Runs `samplex data stats <dataset|file>` for interaction data; returns the figures. */
export function dataRecStatsCommand(target: string, o: DataRecStatsOptions, print: (line: string) => void): InteractionStats {
  const minInteractions = o.minInteractions === undefined ? DEFAULT_MIN_INTERACTIONS : parseDecimal(o.minInteractions.trim());
  let log: InteractionLog;
  let source: string;
  if (isRecDataset(target)) {
    const cache = o.cache ?? defaultCacheDir();
    log = loadRecDataset(target, cache);
    source = datasetPath(target, cache);
  } else {
    const header = o.header !== false;
    const format: InteractionFormat = {
      header,
      user: column(o.user, header ? 'userId' : '0', header),
      item: column(o.item, header ? 'movieId' : '1', header),
      time: column(o.time, header ? 'timestamp' : '2', header),
      ...(o.delimiter !== undefined ? { delimiter: o.delimiter === '\\t' || o.delimiter === 'tab' ? '\t' : o.delimiter } : {}),
    };
    log = readInteractionsFile(target, format);
    source = target;
  }
  const s = interactionStats(log, { minInteractions });
  if (o.json) {
    print(JSON.stringify({ dataset: target, source, ...s }));
  } else {
    const f = (n: number): string => n.toLocaleString('en-US');
    const date = (t: number): string => (t > 1e8 && t < 1e10 ? new Date(t * 1000).toISOString().slice(0, 10) : String(t));
    print(`${target} (${source})`);
    print(`  interactions   ${f(s.interactions)}`);
    print(`  users          ${f(s.users)}`);
    print(`  items          ${f(s.items)}`);
    print(`  density        ${(100 * s.density).toFixed(3)}%`);
    print(`  time           ${date(s.timeMin)} .. ${date(s.timeMax)}`);
    print(`  per user       min ${s.perUser.min}, median ${s.perUser.median}, mean ${s.perUser.mean.toFixed(1)}, max ${s.perUser.max}`);
    print(`  ties           ${(100 * s.tiedFraction).toFixed(1)}% of consecutive interactions share a time (ordered by item id)`);
    print(`  leave-one-out  (users with ≥ ${s.minInteractions} interactions) ${f(s.splitUsers)} users, ${f(s.splitItems)} items, ` +
      `${f(s.trainInteractions)} training interactions, ${f(s.splitUsers)} validation and ${f(s.splitUsers)} test targets, ${f(s.coldItems)} items unseen in training`);
  }
  return s;
}

/** Adds `fetch <dataset>` to the `samplex data` command. */
export function addDataRecCommands(data: Command, print: (line: string) => void): Command {
  return data
    .command('fetch')
    .description(`fetch a dataset into the cache (${FETCH_DATASETS.join(', ')}); movielens-small comes from Debian's r-cran-dslabs, gcide (the definitions of the reverse dictionary) from Debian's dict-gcide`)
    .argument('<dataset>', FETCH_DATASETS.join(' | '))
    .option('--force', 'fetch again even when cached')
    .option('--cache <dir>', 'cache directory (default $SAMPLEX_CACHE or .cache/samplex in the package)')
    .action((name: string, o: DataFetchOptions) => dataFetchCommand(name, o, print));
}

/** Adds the options of interaction-data statistics to the `samplex data stats` command. */
export function addDataRecStatsOptions(stats: Command): Command {
  return stats
    .option('--cache <dir>', 'interactions: cache directory of movielens-small')
    .option('--min-interactions <n>', 'interactions: drop users with fewer interactions before the leave-one-out split (≥ 3)', String(DEFAULT_MIN_INTERACTIONS))
    .option('--delimiter <c>', 'interactions file: field separator (default: tab for .tsv, else comma; "tab" for a tab)')
    .option('--no-header', 'interactions file: no header line (columns are then 0-based indices)')
    .option('--user <col>', 'interactions file: user column (name, or index without header)')
    .option('--item <col>', 'interactions file: item column')
    .option('--time <col>', 'interactions file: time column');
}
