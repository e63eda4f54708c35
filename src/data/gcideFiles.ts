/**
 * GCIDE on disk (Node only): `samplex data fetch gcide` downloads Debian's `dict-gcide` package
 * with `apt-get download`, unpacks it with `dpkg -x`, reads `gcide.index` and the
 * dictzip-compressed `gcide.dict.dz` (gzip-compatible) and writes its definitions to the cache as
 * `gcide/definitions.tsv` (see `gcide.ts`), which later runs read in a second.
 *
 * GCIDE is free software under the GNU General Public License (version 2 or later); it derives
 * from Webster's Revised Unabridged Dictionary (1913) and WordNet. It is never shipped with samplex.
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataFormatError, IoError } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readLines } from '../io/lines.js';
import { formatDefinitions, gcideDefinitions, parseDefinitions, parseDictIndex, type Definition } from './gcide.js';
import { defaultCacheDir, runFetchTool } from './movielens.js';

/** Path of the cached GCIDE definitions (it may not exist yet). */
export function gcidePath(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, 'gcide', 'definitions.tsv');
}

/**
 * GCIDE could not be fetched (no `apt-get` or `dpkg`, no package lists, no network); the message
 * says what to do instead.
 */
export class GcideUnavailableError extends IoError {
  /** Where the definitions file is expected. */
  readonly path: string;
  constructor(reason: string, path: string) {
    super(
      `GCIDE could not be fetched from Debian's dict-gcide package: ${reason}. ` +
        `Make \`apt-get download dict-gcide\` work (a Debian or Ubuntu system with package lists: run \`sudo apt-get update\`; dpkg is needed too), ` +
        `or, on a machine where it works, run \`samplex data fetch gcide\` and copy ${path} here (or set SAMPLEX_CACHE to choose the cache directory). ` +
        `Without GCIDE, \`samplex train rdict --sources wordnet\` trains on the WordNet glosses alone.`,
    );
    this.path = path;
  }
}

/** Options of {@link fetchGcide}. */
export interface GcideFetchOptions {
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

/** What {@link fetchGcide} produced. */
export interface GcideFetchResult {
  /** Path of the definitions file. */
  readonly path: string;
  /** True when the file was already there and nothing was fetched. */
  readonly cached: boolean;
  /** Definitions written (0 when cached). */
  readonly definitions: number;
  /** Distinct headwords written (0 when cached). */
  readonly headwords: number;
  /** Entries of the index read (0 when cached). */
  readonly indexEntries: number;
  /** The Debian package file used (empty when cached). */
  readonly source: string;
}

/**
 * Converts a dictd pair (`gcide.index`, `gcide.dict.dz` or an uncompressed `.dict`) to
 * definitions.
 * @throws IoError when a file cannot be read; DataFormatError for a malformed index or text
 */
export function readDictdDefinitions(indexPath: string, dictPath: string): { definitions: Definition[]; indexEntries: number } {
  const index = parseDictIndex(readLines(indexPath), indexPath);
  let bytes: Uint8Array;
  try {
    const raw = readFileSync(dictPath);
    bytes = dictPath.endsWith('.dz') ? gunzipSync(raw) : raw;
  } catch (e) {
    if (e instanceof Error && /incorrect header|unexpected end|invalid/i.test(e.message)) throw new DataFormatError(dictPath, 0, `not a dictzip (gzip) file: ${e.message}`);
    throw new IoError(`cannot read ${dictPath}: ${(e as Error).message}`);
  }
  return { definitions: gcideDefinitions(index, bytes, dictPath), indexEntries: index.length };
}

/**
 * Fetches GCIDE into the cache: downloads `dict-gcide` with `apt-get download` (no root needed)
 * into a temporary directory, unpacks it with `dpkg -x`, converts its definitions and writes
 * {@link gcidePath} atomically. Does nothing when the file exists, unless `force`.
 * @throws GcideUnavailableError when apt or dpkg is unavailable or fails; DataFormatError when the
 *   package does not hold the expected files; IoError when the cache cannot be written
 */
export function fetchGcide(opts: GcideFetchOptions = {}): GcideFetchResult {
  const path = gcidePath(opts.cacheDir ?? defaultCacheDir());
  const log = opts.log ?? (() => {});
  if (!opts.force && existsSync(path)) {
    log(`${path} already exists (use --force to fetch again)`);
    return { path, cached: true, definitions: 0, headwords: 0, indexEntries: 0, source: '' };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'samplex-gcide-'));
  try {
    const timeout = opts.timeoutMs ?? 300_000;
    const fail = (why: string): Error => new GcideUnavailableError(why, path);
    log('downloading the Debian package dict-gcide (apt-get download)…');
    runFetchTool(opts.aptGet ?? 'apt-get', ['download', 'dict-gcide'], tmp, timeout, fail);
    const deb = readdirSync(tmp).find((f) => /^dict-gcide_.*\.deb$/.test(f));
    if (deb === undefined) throw new GcideUnavailableError('apt-get download produced no dict-gcide .deb file', path);
    runFetchTool(opts.dpkg ?? 'dpkg', ['-x', deb, 'x'], tmp, timeout, fail);
    const dir = join(tmp, 'x', 'usr', 'share', 'dictd');
    const indexPath = join(dir, 'gcide.index');
    const dictPath = join(dir, 'gcide.dict.dz');
    if (!existsSync(indexPath) || !existsSync(dictPath)) {
      throw new DataFormatError(deb, 0, 'the package has no usr/share/dictd/gcide.index and gcide.dict.dz; its layout changed');
    }
    log(`converting the definitions of ${deb}…`);
    const { definitions, indexEntries } = readDictdDefinitions(indexPath, dictPath);
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      throw new IoError(`could not create ${dirname(path)}: ${(e as Error).message}; set SAMPLEX_CACHE to a writable directory`);
    }
    writeFileAtomic(path, formatDefinitions(definitions));
    const headwords = new Set(definitions.flatMap((d) => d.headwords)).size;
    log(`wrote ${definitions.length} definitions of ${headwords} headwords to ${path}`);
    return { path, cached: false, definitions: definitions.length, headwords, indexEntries, source: deb };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Reads the cached GCIDE definitions.
 * @throws IoError telling to run `samplex data fetch gcide` when they are not cached;
 *   DataFormatError (file, line) for a malformed file
 */
export function loadGcideDefinitions(cacheDir: string = defaultCacheDir()): Definition[] {
  const path = gcidePath(cacheDir);
  if (!existsSync(path)) throw new IoError(`GCIDE is not in the cache (${path}); run \`samplex data fetch gcide\` first (or train on --sources wordnet)`);
  return parseDefinitions(readLines(path), path);
}
