/**
 * `samplex data fetch movielens-small` and `samplex data stats <dataset|file> [--json]`.
 * @module
 */
import type { Command } from 'commander';
import { OptionError } from '../core/errors.js';
import { interactionStats, type InteractionFormat, type InteractionLog, type InteractionStats } from '../data/interactions.js';
import {
  datasetPath,
  defaultCacheDir,
  fetchMovielensSmall,
  loadRecDataset,
  MOVIELENS_CITATION,
  readInteractionsFile,
  REC_DATASETS,
  type RecDatasetName,
} from '../data/movielens.js';

/** Options of `samplex data fetch`. */
export interface DataFetchOptions {
  /** Fetch again even when cached. */
  force?: boolean;
  /** Cache directory. */
  cache?: string;
}

/** Options of `samplex data stats`. */
export interface DataStatsOptions {
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
  if (!(REC_DATASETS as readonly string[]).includes(name)) {
    throw new OptionError(`unknown dataset '${name}'; known: ${REC_DATASETS.join(', ')}`);
  }
  return name as RecDatasetName;
}

/** Runs `samplex data fetch <name>`; prints where the file is. */
export function dataFetchCommand(name: string, o: DataFetchOptions, print: (line: string) => void): void {
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

/** Runs `samplex data stats <dataset|file>`; returns the figures. */
export async function dataStatsCommand(target: string, o: DataStatsOptions, print: (line: string) => void): Promise<InteractionStats> {
  const minInteractions = o.minInteractions === undefined ? 3 : Number(o.minInteractions);
  let log: InteractionLog;
  let source: string;
  if ((REC_DATASETS as readonly string[]).includes(target)) {
    const cache = o.cache ?? defaultCacheDir();
    log = await loadRecDataset(target as RecDatasetName, cache);
    source = datasetPath(target as RecDatasetName, cache);
  } else {
    const header = o.header !== false;
    const format: InteractionFormat = {
      header,
      user: column(o.user, header ? 'userId' : '0', header),
      item: column(o.item, header ? 'movieId' : '1', header),
      time: column(o.time, header ? 'timestamp' : '2', header),
      ...(o.delimiter !== undefined ? { delimiter: o.delimiter === '\\t' || o.delimiter === 'tab' ? '\t' : o.delimiter } : {}),
    };
    log = await readInteractionsFile(target, format);
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

/** Adds `data fetch` and `data stats` to `program` (creating the `data` command if needed). */
export function addDataRecCommands(program: Command, print: (line: string) => void): void {
  const data =
    program.commands.find((c) => c.name() === 'data') ?? program.command('data').description('fetch datasets into the local cache and summarize them');
  data
    .command('fetch')
    .description(`fetch a dataset into the cache (${REC_DATASETS.join(', ')}); movielens-small comes from Debian's r-cran-dslabs`)
    .argument('<dataset>', REC_DATASETS.join(' | '))
    .option('--force', 'fetch again even when cached')
    .option('--cache <dir>', 'cache directory (default $SAMPLEX_CACHE or .cache/samplex in the package)')
    .action((name: string, o: DataFetchOptions) => dataFetchCommand(name, o, print));
  data
    .command('stats')
    .description('summarize an interaction dataset (a cached dataset name or a CSV/TSV file) and its leave-one-out split')
    .argument('<dataset>', `${REC_DATASETS.join(' | ')} | path of an interactions file`)
    .option('--json', 'print one JSON object')
    .option('--cache <dir>', 'cache directory')
    .option('--min-interactions <n>', 'drop users with fewer interactions before splitting (≥ 3)', '3')
    .option('--delimiter <c>', 'field separator of a file (default: tab for .tsv, else comma; "tab" for a tab)')
    .option('--no-header', 'the file has no header line (then columns are 0-based indices)')
    .option('--user <col>', 'user column of a file (name, or index without header)')
    .option('--item <col>', 'item column of a file')
    .option('--time <col>', 'time column of a file')
    .action(async (target: string, o: DataStatsOptions) => {
      await dataStatsCommand(target, o, print);
    });
}
