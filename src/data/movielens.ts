/**
 * MovieLens and interaction files on disk (Node only): streaming readers of `ratings.csv` and of
 * generic interaction CSV/TSV files, and the `movielens-small` dataset fetched from Debian's
 * `r-cran-dslabs` package into a local cache.
 *
 * The MovieLens data are © GroupLens Research, for research use under the GroupLens terms; cite
 * F. Maxwell Harper and Joseph A. Konstan (2015), "The MovieLens Datasets: History and Context",
 * ACM Transactions on Interactive Intelligent Systems 5(4): 19:1–19:19,
 * https://doi.org/10.1145/2827872. They are never shipped with samplex.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataFormatError, IoError } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readLines } from '../io/lines.js';
import {
  MOVIELENS_RATINGS_FORMAT,
  parseInteractionLines,
  parseInteractionLog,
  type InteractionFormat,
  type InteractionLog,
  type InteractionRecord,
} from './interactions.js';
import { R_NA_INTEGER, rDataFrameColumns, readLazyLoadIndex, readLazyLoadObject, type RColumn } from './rds.js';

/** The citation the GroupLens terms ask for. */
export const MOVIELENS_CITATION =
  'F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. ' +
  'ACM Transactions on Interactive Intelligent Systems 5, 4, Article 19. https://doi.org/10.1145/2827872';

/** Names of the datasets `samplex data fetch` knows. */
export const REC_DATASETS = ['movielens-small'] as const;

/** A dataset name of {@link REC_DATASETS}. */
export type RecDatasetName = (typeof REC_DATASETS)[number];

/** True when `name` is one of {@link REC_DATASETS}. */
export function isRecDataset(name: string): name is RecDatasetName {
  return (REC_DATASETS as readonly string[]).includes(name);
}

function withDelimiter(path: string, format: InteractionFormat): InteractionFormat {
  return format.delimiter === undefined ? { ...format, delimiter: /\.(tsv|tab)$/i.test(path) ? '\t' : ',' } : format;
}

/**
 * Streams the records of an interaction file one line at a time (see {@link parseInteractionLines});
 * memory holds one chunk of the file. When `format.delimiter` is not given it is a tab for
 * `.tsv`/`.tab` files and a comma otherwise.
 * @throws IoError when the file cannot be read; DataFormatError for malformed lines
 */
export function readInteractionRecords(path: string, format: InteractionFormat = MOVIELENS_RATINGS_FORMAT): Generator<InteractionRecord, void, undefined> {
  return parseInteractionLines(readLines(path), path, withDelimiter(path, format));
}

/**
 * Reads a whole interaction file into an {@link InteractionLog}, streaming it (memory holds the
 * log, not the text).
 * @throws IoError when the file cannot be read; DataFormatError for malformed lines
 */
export function readInteractionsFile(path: string, format: InteractionFormat = MOVIELENS_RATINGS_FORMAT): InteractionLog {
  return parseInteractionLog(readLines(path), path, withDelimiter(path, format));
}

/**
 * Reads a MovieLens `ratings.csv` (`userId,movieId,rating,timestamp` with a header) as
 * interactions (user, movie, timestamp); the rating is checked to be present but not kept.
 * @throws IoError, DataFormatError
 */
export function readMovielensRatings(path: string): InteractionLog {
  return readInteractionsFile(path, MOVIELENS_RATINGS_FORMAT);
}

/** MovieLens ratings in columns. */
export interface MovielensRatings {
  /** User of each rating. */
  readonly userId: Int32Array;
  /** Movie of each rating. */
  readonly movieId: Int32Array;
  /** Rating, 0.5 to 5 stars in half stars. */
  readonly rating: Float64Array;
  /** Unix time in seconds. */
  readonly timestamp: Float64Array;
}

function numericColumn(cols: Map<string, RColumn>, name: string, source: string, allowFraction: boolean): Float64Array {
  const c = cols.get(name);
  if (c === undefined || (c.kind !== 'integer' && c.kind !== 'double')) {
    throw new DataFormatError(source, 0, `the movielens data frame has no numeric column '${name}' (columns: ${[...cols.keys()].join(', ')})`);
  }
  const out = Float64Array.from(c.data);
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    const na = c.kind === 'integer' ? c.data[i] === R_NA_INTEGER : !Number.isFinite(v);
    if (na || (!allowFraction && !Number.isInteger(v))) {
      throw new DataFormatError(source, 0, `row ${i + 1} of column '${name}' is ${na ? 'NA' : v}, expected ${allowFraction ? 'a number' : 'an integer'}`);
    }
  }
  return out;
}

/**
 * Extracts the ratings from the `movielens` data frame of the `dslabs` R package, given the bytes
 * of its lazy-load database (`dslabs/data/Rdata.rdx` and `Rdata.rdb`).
 * @throws DataFormatError when the object is missing or not the expected data frame
 */
export function movielensFromDslabs(rdx: Uint8Array, rdb: Uint8Array, source = 'dslabs/data/Rdata'): MovielensRatings {
  const index = readLazyLoadIndex(rdx, `${source}.rdx`);
  const cols = rDataFrameColumns(readLazyLoadObject(index, rdb, 'movielens', `${source}.rdb`), `${source}.rdb:movielens`);
  const where = `${source}.rdb:movielens`;
  return {
    userId: Int32Array.from(numericColumn(cols, 'userId', where, false)),
    movieId: Int32Array.from(numericColumn(cols, 'movieId', where, false)),
    rating: numericColumn(cols, 'rating', where, true),
    timestamp: numericColumn(cols, 'timestamp', where, false),
  };
}

/** Formats ratings as MovieLens `ratings.csv` text (ratings with at least one decimal, as GroupLens writes them). */
export function movielensRatingsCsv(r: MovielensRatings): string[] {
  const chunks: string[] = ['userId,movieId,rating,timestamp\n'];
  const n = r.userId.length;
  for (let s = 0; s < n; s += 10000) {
    let text = '';
    for (let i = s; i < Math.min(n, s + 10000); i++) {
      const v = r.rating[i]!;
      text += `${r.userId[i]},${r.movieId[i]},${Number.isInteger(v) ? v.toFixed(1) : String(v)},${r.timestamp[i]}\n`;
    }
    chunks.push(text);
  }
  return chunks;
}

/**
 * The cache directory: `$SAMPLEX_CACHE` when set, else `.cache/samplex` at the root of the
 * samplex package (ignored by git).
 */
export function defaultCacheDir(): string {
  const env = process.env['SAMPLEX_CACHE'];
  if (env !== undefined && env !== '') return resolve(env);
  // this file is dist/src/data/movielens.js (or src/data/movielens.ts): the root is three levels up
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.split(/[\\/]/).includes('dist') ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(up, '.cache', 'samplex');
}

/** Path of a dataset's `ratings.csv` in the cache (it may not exist yet). */
export function datasetPath(name: RecDatasetName, cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, name, 'ratings.csv');
}

/**
 * The dataset could not be fetched (no `apt-get`/`dpkg`, no package lists, no network); the
 * message says how to get `ratings.csv` from GroupLens instead.
 */
export class DatasetUnavailableError extends IoError {
  /** Where the file is expected. */
  readonly path: string;
  constructor(reason: string, path: string) {
    super(
      `MovieLens latest-small could not be fetched from Debian's r-cran-dslabs package: ${reason}. ` +
        `Either make \`apt-get download r-cran-dslabs\` work (a Debian or Ubuntu system with package lists: run \`sudo apt-get update\`; dpkg is needed too), ` +
        `or download ml-latest-small.zip from https://grouplens.org/datasets/movielens/latest/ and copy its ratings.csv to ${path} ` +
        `(or set SAMPLEX_CACHE to choose the cache directory). The current GroupLens release is newer than the one in r-cran-dslabs, so its figures differ. ` +
        `The data are for research use under the GroupLens terms; cite ${MOVIELENS_CITATION}.`,
    );
    this.path = path;
  }
}

/** Options of {@link fetchMovielensSmall}. */
export interface FetchOptions {
  /** Cache directory (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Fetch again even when the file exists. */
  force?: boolean;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
  /** The `apt-get` command (default `apt-get`). */
  aptGet?: string;
  /** The `dpkg` command (default `dpkg`). */
  dpkg?: string;
  /** Time limit for each external command in milliseconds (default 300000). */
  timeoutMs?: number;
}

/** What {@link fetchMovielensSmall} produced. */
export interface FetchResult {
  /** Path of `ratings.csv`. */
  readonly path: string;
  /** True when the file was already there and nothing was fetched. */
  readonly cached: boolean;
  /** Number of ratings written (0 when cached). */
  readonly ratings: number;
  /** The Debian package file used (empty when cached). */
  readonly source: string;
}

/**
 * Runs an external command of a dataset fetch (`apt-get download`, `dpkg -x`); any failure
 * (missing tool, time-out, non-zero status) becomes the error `fail` makes from the reason.
 */
export function runFetchTool(cmd: string, args: string[], cwd: string, timeoutMs: number, fail: (reason: string) => Error): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error !== undefined) {
    const code = (r.error as { code?: string }).code;
    const why =
      code === 'ENOENT' ? `${cmd} is not installed` : code === 'ETIMEDOUT' ? `\`${cmd} ${args.join(' ')}\` took longer than ${timeoutMs} ms (no network?)` : `${cmd} failed (${r.error.message})`;
    throw fail(why);
  }
  if (r.status !== 0) {
    const tail = (r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' / ');
    throw fail(`\`${cmd} ${args.join(' ')}\` exited with status ${r.status}${tail ? ` (${tail})` : ''}`);
  }
}

function runTool(cmd: string, args: string[], cwd: string, path: string, timeoutMs: number): void {
  runFetchTool(cmd, args, cwd, timeoutMs, (why) => new DatasetUnavailableError(why, path));
}

/**
 * Fetches MovieLens latest-small (the 2016 release: 100,004 ratings by 671 users of 9,066
 * movies) into the cache as `movielens-small/ratings.csv`: downloads the Debian package
 * `r-cran-dslabs` with `apt-get download` (no root needed) into a temporary directory, unpacks it
 * with `dpkg -x`, reads the `movielens` data frame from its R lazy-load database and writes the
 * ratings atomically. Does nothing when the file exists, unless `force`.
 * @throws DatasetUnavailableError when apt or dpkg is unavailable or fails; DataFormatError when
 *   the package does not hold the expected data; IoError when the cache cannot be written
 */
export function fetchMovielensSmall(opts: FetchOptions = {}): FetchResult {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const path = datasetPath('movielens-small', cacheDir);
  const log = opts.log ?? (() => {});
  if (!opts.force && existsSync(path)) {
    log(`${path} already exists (use --force to fetch again)`);
    return { path, cached: true, ratings: 0, source: '' };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'samplex-dslabs-'));
  try {
    log('downloading the Debian package r-cran-dslabs (apt-get download)…');
    const timeout = opts.timeoutMs ?? 300_000;
    runTool(opts.aptGet ?? 'apt-get', ['download', 'r-cran-dslabs'], tmp, path, timeout);
    const deb = readdirSync(tmp).find((f) => /^r-cran-dslabs_.*\.deb$/.test(f));
    if (deb === undefined) throw new DatasetUnavailableError('apt-get download produced no r-cran-dslabs .deb file', path);
    runTool(opts.dpkg ?? 'dpkg', ['-x', deb, 'x'], tmp, path, timeout);
    const dataDir = join(tmp, 'x', 'usr', 'lib', 'R', 'site-library', 'dslabs', 'data');
    const rdx = join(dataDir, 'Rdata.rdx');
    if (!existsSync(rdx)) {
      throw new DataFormatError(deb, 0, 'the package has no dslabs/data/Rdata.rdx; its layout changed, get ratings.csv from GroupLens instead');
    }
    log(`reading the movielens data frame from ${deb}…`);
    const ratings = movielensFromDslabs(readFileSync(rdx), readFileSync(join(dataDir, 'Rdata.rdb')), `${deb}:dslabs/data/Rdata`);
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      throw new IoError(`could not create ${dirname(path)}: ${(e as Error).message}; set SAMPLEX_CACHE to a writable directory`);
    }
    writeFileAtomic(path, movielensRatingsCsv(ratings));
    log(`wrote ${ratings.userId.length} ratings to ${path}`);
    return { path, cached: false, ratings: ratings.userId.length, source: deb };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Reads a cached dataset.
 * @throws IoError telling to run `samplex data fetch <name>` when it is not cached
 */
export function loadRecDataset(name: RecDatasetName, cacheDir: string = defaultCacheDir()): InteractionLog {
  const path = datasetPath(name, cacheDir);
  if (!existsSync(path)) {
    throw new IoError(`${name} is not in the cache (${path}); run \`samplex data fetch ${name}\` first`);
  }
  return readMovielensRatings(path);
}
