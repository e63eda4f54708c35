/**
 * User–item interaction logs for sequential recommendation: a streaming parser of delimited
 * text (MovieLens `ratings.csv`, or any CSV/TSV with user, item and time columns), per-user
 * chronological sequences with dense item ids, and the leave-one-out split (last item test,
 * second-to-last validation) with the per-user histories to exclude at evaluation.
 *
 * Everything here works on lines of text and typed arrays (no file system); the Node file
 * readers are in `movielens.ts`.
 * @module
 */
import { DataFormatError, OptionError } from '../core/errors.js';
import type { Labels } from '../core/matrix.js';
import { intOption, parseDecimal, rejectUnknown } from '../core/validate.js';

/** A column given by its header name or by its 0-based index. */
export type ColumnRef = string | number;

/** Options of {@link parseInteractionLines}. */
export interface InteractionFormat {
  /** Field separator (one character, default `,`; use `\t` for TSV). */
  delimiter?: string;
  /** Whether the first non-empty line is a header (default true). Without one, columns must be indices. */
  header?: boolean;
  /** User column (default `userId`). */
  user?: ColumnRef;
  /** Item column (default `movieId`). */
  item?: ColumnRef;
  /** Time column, a number (default `timestamp`). */
  time?: ColumnRef;
  /** Further header names that must be present (for example `rating` for MovieLens). */
  requireColumns?: readonly string[];
}

/** One interaction as read from text: raw user and item ids, time, and its 1-based line number. */
export interface InteractionRecord {
  readonly user: string;
  readonly item: string;
  readonly time: number;
  readonly line: number;
}

/** The column layout of MovieLens `ratings.csv` (`userId,movieId,rating,timestamp`). */
export const MOVIELENS_RATINGS_FORMAT: Readonly<InteractionFormat> = Object.freeze({
  delimiter: ',',
  header: true,
  user: 'userId',
  item: 'movieId',
  time: 'timestamp',
  requireColumns: Object.freeze(['rating']),
});

const FORMAT_KEYS = ['delimiter', 'header', 'user', 'item', 'time', 'requireColumns'];

/** Splits one line into fields; double-quoted fields may contain the delimiter and `""` for a quote. */
function splitFields(line: string, delim: string, source: string, lineNo: number): string[] {
  if (!line.includes('"')) return line.split(delim);
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new DataFormatError(source, lineNo, 'unterminated quoted field (quoted fields cannot span lines)');
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== delim) throw new DataFormatError(source, lineNo, `unexpected character after a closing quote at column ${i + 1}`);
      i++;
    } else {
      const d = line.indexOf(delim, i);
      if (d < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, d));
      i = d + 1;
    }
  }
}

function describe(c: ColumnRef): string {
  return typeof c === 'number' ? `column ${c}` : `column '${c}'`;
}

/**
 * Parses delimited text one line at a time (synchronously): the first non-empty line fixes the
 * columns (it is the header, or the first record without one), each later line yields a record.
 * Lines may end in `\r`; a UTF-8 byte-order mark on the first line is ignored.
 */
export class InteractionLineParser {
  private readonly delim: string;
  private readonly header: boolean;
  private readonly refs: readonly [ColumnRef, ColumnRef, ColumnRef];
  private readonly required: readonly string[];
  private width = -1;
  private cu = -1;
  private ci = -1;
  private ct = -1;
  /** Number of lines seen so far (the 1-based number of the last line). */
  lineNo = 0;

  /**
   * @param source the file name used in error messages
   * @throws OptionError for invalid format options
   */
  constructor(
    readonly source: string,
    format: InteractionFormat = MOVIELENS_RATINGS_FORMAT,
  ) {
    rejectUnknown(format, FORMAT_KEYS, 'interaction format');
    const delim = format.delimiter ?? ',';
    if (delim.length !== 1 || delim === '"' || delim === '\n' || delim === '\r') {
      throw new OptionError(`interaction format: delimiter must be one character other than a quote or newline, got ${JSON.stringify(delim)}`);
    }
    this.delim = delim;
    this.header = format.header ?? true;
    this.refs = [format.user ?? 'userId', format.item ?? 'movieId', format.time ?? 'timestamp'];
    this.required = format.requireColumns ?? [];
    for (const r of this.refs) {
      if (typeof r === 'number' ? !Number.isInteger(r) || r < 0 : r.length === 0) {
        throw new OptionError(`interaction format: a column must be a header name or a 0-based index, got ${JSON.stringify(r)}`);
      }
      if (!this.header && typeof r === 'string') {
        throw new OptionError(`interaction format: ${describe(r)} is named but header is false; give 0-based column indices instead`);
      }
    }
  }

  private resolve(r: ColumnRef, names: readonly string[] | null): number {
    const where = this.lineNo;
    if (typeof r === 'number') {
      if (r >= this.width) {
        throw new DataFormatError(this.source, where, `${describe(r)} does not exist: the ${this.header ? 'header' : 'first line'} has ${this.width} field(s) separated by ${JSON.stringify(this.delim)}; check the delimiter and column indices`);
      }
      return r;
    }
    const k = names!.indexOf(r);
    if (k < 0) {
      throw new DataFormatError(this.source, where, `missing header column '${r}' (the header has: ${names!.join(', ')}); check the column names and the delimiter ${JSON.stringify(this.delim)}`);
    }
    return k;
  }

  /**
   * Parses the next line; returns its record, or null for the header and blank lines.
   * @throws DataFormatError (with the 1-based line) for a missing header column, a line with a
   *   different number of fields than the header (or than the first line without a header), an
   *   empty user or item id, or a time that is not a finite number
   */
  line(raw: string): InteractionRecord | null {
    const lineNo = ++this.lineNo;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.trim() === '') return null;
    if (this.width >= 0 && !line.includes('"')) return this.plainLine(line, lineNo);
    const f = splitFields(line, this.delim, this.source, lineNo);
    if (this.width < 0) {
      this.width = f.length;
      const names = this.header ? f.map((x) => x.trim()) : null;
      [this.cu, this.ci, this.ct] = this.refs.map((r) => this.resolve(r, names)) as [number, number, number];
      for (const r of this.required) this.resolve(r, names);
      if (this.header) return null;
    }
    if (f.length !== this.width) {
      throw new DataFormatError(this.source, lineNo, `expected ${this.width} fields separated by ${JSON.stringify(this.delim)}, found ${f.length}`);
    }
    return this.record(f[this.cu]!, f[this.ci]!, f[this.ct]!, lineNo);
  }

  /** A data line without quotes: slices out only the three fields used. */
  private plainLine(line: string, lineNo: number): InteractionRecord {
    let user = '';
    let item = '';
    let ts = '';
    let k = 0;
    let start = 0;
    for (;;) {
      const d = line.indexOf(this.delim, start);
      const end = d < 0 ? line.length : d;
      if (k === this.cu) user = line.slice(start, end);
      if (k === this.ci) item = line.slice(start, end);
      if (k === this.ct) ts = line.slice(start, end);
      k++;
      if (d < 0) break;
      start = d + 1;
    }
    if (k !== this.width) {
      throw new DataFormatError(this.source, lineNo, `expected ${this.width} fields separated by ${JSON.stringify(this.delim)}, found ${k}`);
    }
    return this.record(user, item, ts, lineNo);
  }

  private record(userField: string, itemField: string, timeField: string, lineNo: number): InteractionRecord {
    const user = userField.trim();
    const item = itemField.trim();
    const ts = timeField.trim();
    if (user === '') throw new DataFormatError(this.source, lineNo, `empty user id in ${describe(this.refs[0])}`);
    if (item === '') throw new DataFormatError(this.source, lineNo, `empty item id in ${describe(this.refs[1])}`);
    const time = parseDecimal(ts);
    if (!Number.isFinite(time)) {
      throw new DataFormatError(this.source, lineNo, `time ${JSON.stringify(ts)} in ${describe(this.refs[2])} is not a number (times must be numeric, e.g. Unix seconds)`);
    }
    return { user, item, time, line: lineNo };
  }

  /**
   * Call after the last line.
   * @throws DataFormatError when a header was expected and the input had no non-empty line
   */
  end(): void {
    if (this.header && this.width < 0) throw new DataFormatError(this.source, 0, 'the file is empty (no header line)');
  }
}

/**
 * Parses interactions from lines of delimited text, streaming: yields one record per non-empty
 * data line (see {@link InteractionLineParser}).
 * @param lines the lines of the input without terminators (`linesOf(text)`, or `readLines(path)` in Node)
 * @param source the file name used in error messages
 * @throws DataFormatError (with the 1-based line) for malformed lines; OptionError for invalid format options
 */
export function* parseInteractionLines(
  lines: Iterable<string>,
  source: string,
  format: InteractionFormat = MOVIELENS_RATINGS_FORMAT,
): Generator<InteractionRecord, void, undefined> {
  const p = new InteractionLineParser(source, format);
  for (const raw of lines) {
    const r = p.line(raw);
    if (r !== null) yield r;
  }
  p.end();
}

/**
 * Parses lines of delimited text straight into an {@link InteractionLog}: the same rules as
 * {@link parseInteractionLines}, without a record stream in between (about twice as fast).
 * @throws DataFormatError (with the 1-based line) for malformed lines; OptionError for invalid format options
 */
export function parseInteractionLog(
  lines: Iterable<string>,
  source: string,
  format: InteractionFormat = MOVIELENS_RATINGS_FORMAT,
): InteractionLog {
  const p = new InteractionLineParser(source, format);
  const b = new InteractionLogBuilder(source);
  for (const raw of lines) {
    const r = p.line(raw);
    if (r !== null) b.add(r.user, r.item, r.time);
  }
  p.end();
  return b.build();
}

/**
 * An interaction log in columnar form. Users and items are indices into `userIds` / `itemIds`,
 * which hold the raw ids sorted by {@link compareIds} (so indices do not depend on file order).
 */
export interface InteractionLog {
  /** Where the log came from (for messages). */
  readonly source: string;
  /** Raw user ids, sorted. */
  readonly userIds: readonly string[];
  /** Raw item ids, sorted. */
  readonly itemIds: readonly string[];
  /** User index of each interaction. */
  readonly user: Int32Array;
  /** Item index of each interaction. */
  readonly item: Int32Array;
  /** Time of each interaction. */
  readonly time: Float64Array;
}

const INT_RE = /^-?\d+$/;

/**
 * Total order on raw ids: integer-looking ids (`/^-?\d+$/`) first, by numeric value, then the
 * others by UTF-16 code units (locale-independent, hence deterministic).
 */
export function compareIds(a: string, b: string): number {
  const ia = INT_RE.test(a);
  const ib = INT_RE.test(b);
  if (ia && ib) {
    const d = Number(a) - Number(b);
    if (d !== 0 && Number.isFinite(d)) return d < 0 ? -1 : 1;
    const ba = BigInt(a);
    const bb = BigInt(b);
    if (ba !== bb) return ba < bb ? -1 : 1;
  } else if (ia !== ib) {
    return ia ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `k` as a number when it is a canonical non-negative integer below 10^15, else -1. */
function smallInt(k: string): number {
  const n = k.length;
  if (n === 0 || n > 15 || (n > 1 && k.charCodeAt(0) === 48)) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = k.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

class IdTable {
  // canonical integer ids are looked up by value (much faster than hashing a fresh string)
  private readonly byNumber = new Map<number, number>();
  private readonly byString = new Map<string, number>();
  readonly keys: string[] = [];
  id(k: string): number {
    const num = smallInt(k);
    let v = num >= 0 ? this.byNumber.get(num) : this.byString.get(k);
    if (v === undefined) {
      v = this.keys.length;
      if (num >= 0) this.byNumber.set(num, v);
      else this.byString.set(k, v);
      this.keys.push(k);
    }
    return v;
  }
  /** Sorted keys and the map from first-seen index to sorted index. */
  sorted(): { keys: string[]; remap: Int32Array } {
    const order = this.keys.map((_, i) => i).sort((a, b) => compareIds(this.keys[a]!, this.keys[b]!));
    const remap = new Int32Array(order.length);
    order.forEach((old, rank) => (remap[old] = rank));
    return { keys: order.map((i) => this.keys[i]!), remap };
  }
}

/** Accumulates interactions one at a time into an {@link InteractionLog}. */
export class InteractionLogBuilder {
  private readonly users = new IdTable();
  private readonly items = new IdTable();
  private u = new Int32Array(1024);
  private i = new Int32Array(1024);
  private t = new Float64Array(1024);
  private n = 0;

  constructor(private readonly source: string) {}

  /** Adds one interaction (raw ids are converted with `String`). */
  add(user: string | number, item: string | number, time: number): void {
    if (this.n === this.u.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.u = grow(this.u);
      this.i = grow(this.i);
      this.t = grow(this.t);
    }
    this.u[this.n] = this.users.id(String(user));
    this.i[this.n] = this.items.id(String(item));
    this.t[this.n] = time;
    this.n++;
  }

  /** Number of interactions added so far. */
  get length(): number {
    return this.n;
  }

  /** Finishes the log: ids sorted, indices remapped. */
  build(): InteractionLog {
    const us = this.users.sorted();
    const is = this.items.sorted();
    const user = new Int32Array(this.n);
    const item = new Int32Array(this.n);
    for (let k = 0; k < this.n; k++) {
      user[k] = us.remap[this.u[k]!]!;
      item[k] = is.remap[this.i[k]!]!;
    }
    return { source: this.source, userIds: us.keys, itemIds: is.keys, user, item, time: this.t.slice(0, this.n) };
  }
}

/** Collects parsed records (for example from {@link parseInteractionLines}) into a log. */
export function collectInteractions(records: Iterable<InteractionRecord>, source: string): InteractionLog {
  const b = new InteractionLogBuilder(source);
  for (const r of records) b.add(r.user, r.item, r.time);
  return b.build();
}

/** Default `minInteractions`: the least leave-one-out can use (one training item, one validation and one test target). */
export const DEFAULT_MIN_INTERACTIONS = 3;

/** Options of {@link buildSequences}. */
export interface SequenceOptions {
  /**
   * Users with fewer interactions are dropped (default 3, the least leave-one-out can use: one
   * training item, one validation and one test target). Must be ≥ 3.
   */
  minInteractions?: number;
}

/** Per-user chronological item sequences over dense item ids `0..numItems-1`. */
export interface UserSequences {
  /** Number of users kept. */
  readonly numUsers: number;
  /** Number of distinct items among the kept users' interactions. */
  readonly numItems: number;
  /** Raw id of each kept user (ascending by {@link compareIds}). */
  readonly userIds: readonly string[];
  /** Raw id of each dense item (ascending by {@link compareIds}: dense ids follow raw-id order). */
  readonly itemIds: readonly string[];
  /** User `u`'s sequence is `items[offsets[u] .. offsets[u+1])`. */
  readonly offsets: Int32Array;
  /** Dense item ids, each user's in order of (time, item id). */
  readonly items: Int32Array;
  /** Times aligned with `items`. */
  readonly times: Float64Array;
  /** Occurrences of each dense item over all kept interactions. */
  readonly itemCounts: Int32Array;
  /** Users dropped for having fewer than `minInteractions` interactions. */
  readonly droppedUsers: number;
  /** Interactions of the dropped users. */
  readonly droppedInteractions: number;
}

/**
 * Builds per-user chronological sequences: each user's interactions sorted by time, ties broken
 * by item id (dense ids follow the raw-id order, so this is the raw-id order too); users with
 * fewer than `minInteractions` are dropped; items are renumbered densely over what remains.
 * @throws OptionError for an invalid `minInteractions`
 */
export function buildSequences(log: InteractionLog, opts: SequenceOptions = {}): UserSequences {
  rejectUnknown(opts, ['minInteractions'], 'buildSequences');
  const minN = intOption(opts.minInteractions ?? DEFAULT_MIN_INTERACTIONS, 'minInteractions', 3);
  const nU = log.userIds.length;
  const nI = log.itemIds.length;
  const N = log.user.length;
  const perUser = new Int32Array(nU);
  for (let k = 0; k < N; k++) perUser[log.user[k]!]!++;
  // keep users with enough interactions; new user index in raw-id order
  const newUser = new Int32Array(nU).fill(-1);
  const userIds: string[] = [];
  let dropped = 0;
  let droppedN = 0;
  for (let u = 0; u < nU; u++) {
    if (perUser[u]! >= minN) {
      newUser[u] = userIds.length;
      userIds.push(log.userIds[u]!);
    } else {
      dropped++;
      droppedN += perUser[u]!;
    }
  }
  const numUsers = userIds.length;
  const offsets = new Int32Array(numUsers + 1);
  for (let u = 0; u < nU; u++) if (newUser[u]! >= 0) offsets[newUser[u]! + 1] = perUser[u]!;
  for (let u = 0; u < numUsers; u++) offsets[u + 1]! += offsets[u]!;
  const total = offsets[numUsers]!;
  // counting sort of interaction indices by user
  const order = new Int32Array(total);
  const fill = offsets.slice(0, numUsers);
  const present = new Uint8Array(nI);
  for (let k = 0; k < N; k++) {
    const u = newUser[log.user[k]!]!;
    if (u < 0) continue;
    order[fill[u]!++] = k;
    present[log.item[k]!] = 1;
  }
  // dense items in raw-id order
  const dense = new Int32Array(nI).fill(-1);
  const itemIds: string[] = [];
  for (let i = 0; i < nI; i++) {
    if (present[i]) {
      dense[i] = itemIds.length;
      itemIds.push(log.itemIds[i]!);
    }
  }
  const items = new Int32Array(total);
  const times = new Float64Array(total);
  const itemCounts = new Int32Array(itemIds.length);
  const time = log.time;
  const item = log.item;
  for (let u = 0; u < numUsers; u++) {
    const s = offsets[u]!;
    const e = offsets[u + 1]!;
    const slice = Array.from(order.subarray(s, e));
    slice.sort((a, b) => time[a]! - time[b]! || item[a]! - item[b]! || a - b);
    for (let j = 0; j < slice.length; j++) {
      const k = slice[j]!;
      const d = dense[item[k]!]!;
      items[s + j] = d;
      times[s + j] = time[k]!;
      itemCounts[d]!++;
    }
  }
  return {
    numUsers,
    numItems: itemIds.length,
    userIds,
    itemIds,
    offsets,
    items,
    times,
    itemCounts,
    droppedUsers: dropped,
    droppedInteractions: droppedN,
  };
}

/** One evaluation split (validation or test) of {@link leaveOneOut}: one target per user. */
export interface EvalSplit {
  /** Target item of each user. */
  readonly targets: Int32Array;
  /** User `u`'s input sequence is `sequences.items[sequences.offsets[u] .. inputEnd[u])`. */
  readonly inputEnd: Int32Array;
  /**
   * Items to leave out of user `u`'s ranking: the distinct items of the input sequence, ascending,
   * without the target (an item seen before and seen again as the target stays rankable). Pass as
   * `exclude` to the evaluator.
   */
  readonly exclude: Labels;
}

/** The leave-one-out split of {@link leaveOneOut}. */
export interface LeaveOneOutSplit {
  /** The sequences split. */
  readonly sequences: UserSequences;
  /** User `u`'s training sequence is `sequences.items[sequences.offsets[u] .. trainEnd[u])` (all but the last two). */
  readonly trainEnd: Int32Array;
  /** Second-to-last item of each user as target, the items before it as input. */
  readonly valid: EvalSplit;
  /** Last item of each user as target, all items before it (validation item included) as input. */
  readonly test: EvalSplit;
  /** Occurrences of each item in the training sequences: the popularity for a unigram sampler. */
  readonly trainItemCounts: Int32Array;
}

function evalSplit(seq: UserSequences, back: number): EvalSplit {
  const nU = seq.numUsers;
  const targets = new Int32Array(nU);
  const inputEnd = new Int32Array(nU);
  const rows: Int32Array[] = new Array<Int32Array>(nU);
  for (let u = 0; u < nU; u++) {
    const end = seq.offsets[u + 1]! - back;
    const target = seq.items[end]!;
    targets[u] = target;
    inputEnd[u] = end;
    const seen = Array.from(new Set(seq.items.subarray(seq.offsets[u]!, end))).filter((i) => i !== target);
    rows[u] = Int32Array.from(seen.sort((a, b) => a - b));
  }
  const offsets = new Int32Array(nU + 1);
  for (let u = 0; u < nU; u++) offsets[u + 1] = offsets[u]! + rows[u]!.length;
  const ids = new Int32Array(offsets[nU]!);
  for (let u = 0; u < nU; u++) ids.set(rows[u]!, offsets[u]!);
  return { targets, inputEnd, exclude: { ids, offsets } };
}

/**
 * Leave-one-out split: for each user the last item is the test target, the second-to-last the
 * validation target, and the rest the training sequence.
 * @throws OptionError when a user has fewer than 3 interactions (build with `minInteractions ≥ 3`)
 */
export function leaveOneOut(seq: UserSequences): LeaveOneOutSplit {
  const { trainEnd, trainItemCounts } = trainPrefixes(seq);
  return { sequences: seq, trainEnd, valid: evalSplit(seq, 2), test: evalSplit(seq, 1), trainItemCounts };
}

/** The training part of the leave-one-out split: where each user's training sequence ends, and item counts over it. */
function trainPrefixes(seq: UserSequences): { trainEnd: Int32Array; trainItemCounts: Int32Array } {
  const nU = seq.numUsers;
  const trainEnd = new Int32Array(nU);
  const trainItemCounts = new Int32Array(seq.numItems);
  for (let u = 0; u < nU; u++) {
    const s = seq.offsets[u]!;
    const e = seq.offsets[u + 1]! - 2;
    if (e - s < 1) {
      throw new OptionError(`leaveOneOut: user ${seq.userIds[u]} has ${e - s + 2} interaction(s); build the sequences with minInteractions ≥ 3`);
    }
    trainEnd[u] = e;
    for (let k = s; k < e; k++) trainItemCounts[seq.items[k]!]!++;
  }
  return { trainEnd, trainItemCounts };
}

/** Summary figures of a log and its sequences (what `samplex data stats` prints). */
export interface InteractionStats {
  /** Interactions in the log. */
  readonly interactions: number;
  /** Distinct users in the log. */
  readonly users: number;
  /** Distinct items in the log. */
  readonly items: number;
  /** interactions / (users × items). */
  readonly density: number;
  /** Earliest time. */
  readonly timeMin: number;
  /** Latest time. */
  readonly timeMax: number;
  /** Interactions per user: min, median, mean, max. */
  readonly perUser: { readonly min: number; readonly median: number; readonly mean: number; readonly max: number };
  /** The `minInteractions` used for the split. */
  readonly minInteractions: number;
  /** Users kept for the split (at least `minInteractions` interactions). */
  readonly splitUsers: number;
  /** Distinct items among the kept users. */
  readonly splitItems: number;
  /** Interactions in the training sequences (all but each kept user's last two). */
  readonly trainInteractions: number;
  /** Items never seen in training (cold for a model trained on the split). */
  readonly coldItems: number;
  /**
   * Fraction of consecutive pairs in the kept users' sequences with equal times: how much of the
   * order comes from the item-id tie-break rather than from time.
   */
  readonly tiedFraction: number;
}

/** Computes {@link InteractionStats} for a log (splitting it with `minInteractions`). */
export function interactionStats(log: InteractionLog, opts: SequenceOptions = {}): InteractionStats {
  const seq = buildSequences(log, opts);
  const split = trainPrefixes(seq);
  const nU = log.userIds.length;
  const per = new Int32Array(nU);
  for (let k = 0; k < log.user.length; k++) per[log.user[k]!]!++;
  const sorted = per.slice().sort();
  const median = nU === 0 ? 0 : nU % 2 ? sorted[(nU - 1) / 2]! : (sorted[nU / 2 - 1]! + sorted[nU / 2]!) / 2;
  let tMin = Infinity;
  let tMax = -Infinity;
  for (const t of log.time) {
    if (t < tMin) tMin = t;
    if (t > tMax) tMax = t;
  }
  let train = 0;
  let cold = 0;
  for (const c of split.trainItemCounts) {
    train += c;
    if (c === 0) cold++;
  }
  let ties = 0;
  for (let u = 0; u < seq.numUsers; u++) {
    for (let k = seq.offsets[u]! + 1; k < seq.offsets[u + 1]!; k++) if (seq.times[k] === seq.times[k - 1]) ties++;
  }
  const pairs = seq.items.length - seq.numUsers;
  const N = log.user.length;
  return {
    interactions: N,
    users: nU,
    items: log.itemIds.length,
    density: nU && log.itemIds.length ? N / (nU * log.itemIds.length) : 0,
    timeMin: tMin,
    timeMax: tMax,
    perUser: { min: nU ? sorted[0]! : 0, median, mean: nU ? N / nU : 0, max: nU ? sorted[nU - 1]! : 0 },
    minInteractions: opts.minInteractions ?? DEFAULT_MIN_INTERACTIONS,
    splitUsers: seq.numUsers,
    splitItems: seq.numItems,
    trainInteractions: train,
    coldItems: cold,
    tiedFraction: pairs > 0 ? ties / pairs : 0,
  };
}
