/**
 * A training run's folder (Node only), safe against a second run, a crash at any point and a
 * damaged or hostile folder:
 *
 * - **Lock.** `run.lock` is created exclusively (`O_EXCL`) with the pid, host and start time of
 *   the run holding it. A second run into the folder is refused ({@link RunLockedError}, naming the
 *   other run) unless the lock is stale: written on this host by a process that no longer exists,
 *   in which case it is taken over with a one-line notice.
 * - **One commit point.** An epoch is committed by writing its tensors to a new versioned file
 *   (`checkpoint-<epoch>.safetensors`), its metric lines to `metrics.jsonl`, and then renaming one
 *   small `checkpoint.json` over the old one ({@link CommitRecord}): it names the tensors file with
 *   its SHA-256 and holds the count and SHA-256 of the committed metric lines. A crash before the
 *   rename leaves the previous commit in force; lines of `metrics.jsonl` past the committed count
 *   are dropped on resume, so the log and the restored state never disagree.
 * - **Cleanup.** Temporary files (`.*.tmp`) and checkpoint files no commit names are removed when
 *   a run opens the folder, after every check has passed.
 * - **Confinement.** Every file name read from the folder is a plain name inside it (no absolute
 *   path, no `..`, no separator, no symbolic link leading out).
 * - **Validation.** A resumed checkpoint is checked against its record before anything is written:
 *   a finite integer epoch in range, the tensors file's hash, the tensors' names, dtypes and shapes
 *   against the model's, every value finite, second moments and accumulators non-negative.
 *   Failures are typed errors ({@link CheckpointError}); nothing in the folder is changed or deleted.
 * @module
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { DataFormatError, IoError, SamplexError, StateError } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors } from '../layer/safetensors.js';
import type { SafetensorsInput } from '../layer/safetensorsCodec.js';

/** One line of `metrics.jsonl`. */
export type MetricsRecord = Record<string, number | string | boolean | null>;

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A setting's value as recorded in a commit. */
export type SettingValue = number | string | boolean;

/** The file of the metrics log. */
export const METRICS_FILE = 'metrics.jsonl';
/** The commit record. */
export const CHECKPOINT_FILE = 'checkpoint.json';
/** The lock file. */
export const LOCK_FILE = 'run.lock';
/** The format marker of a commit record. */
export const COMMIT_FORMAT = 'samplex.run/1';

/** Largest epoch a commit may record. */
const MAX_EPOCH = 1_000_000;

/** A run folder is held by another run. */
export class RunLockedError extends StateError {
  /** The other run's lock contents. */
  readonly holder: LockInfo | null;
  constructor(message: string, holder: LockInfo | null) {
    super(message);
    this.holder = holder;
  }
}

/** A checkpoint or commit record that does not hold up to its checks; nothing was changed. */
export class CheckpointError extends StateError {}

/** A name read from a run folder that points outside it. */
export class RunPathError extends StateError {}

/** Contents of `run.lock`. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the run started. */
  started: string;
}

/** The commit record (`checkpoint.json`). */
export interface CommitRecord {
  format: typeof COMMIT_FORMAT;
  /** The application (e.g. `xmc`). */
  app: string;
  /** Epochs completed. */
  epoch: number;
  /** The tensors file (a plain name in the folder). */
  tensors: string;
  /** SHA-256 of the tensors file. */
  tensorsSha256: string;
  /** Lines of `metrics.jsonl` this commit covers. */
  metricsLines: number;
  /** SHA-256 of those lines (each with its newline). */
  metricsSha256: string;
  /** The settings the run was trained with (compared on resume). */
  settings: Record<string, SettingValue>;
  /** Content fingerprint of the training data. */
  data: string;
  /** Application state that is not a tensor (training seconds, …). */
  meta: { [key: string]: Json };
}

/** Steps of {@link RunFolder.commit}, for fault-injection tests. */
export type CommitStage = 'tensors' | 'metrics' | 'record';

/** Options of {@link RunFolder.open}. */
export interface RunFolderOptions {
  /**
   * Continue the run in the folder. Without it, a folder that already holds a run
   * (`checkpoint.json` or `metrics.jsonl`) is refused.
   */
  resume?: boolean;
  /** One-line notices (stale lock taken over, uncommitted lines dropped); default stderr. */
  notice?: (line: string) => void;
  /**
   * Called after each step of a commit (tests raise here to simulate a crash between steps).
   */
  afterStage?: (stage: CommitStage, epoch: number) => void;
}

/** The paths of run folders this process holds. */
const held = new Set<string>();

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file, read in slices. */
function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      h.update(buf.subarray(0, got));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * A content fingerprint of `parts` (typed arrays hashed by their bytes, strings as UTF-8), for
 * the data a run trains on.
 */
export function fingerprint(parts: ReadonlyArray<ArrayBufferView | string | null | undefined>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    if (p === null || p === undefined) {
      h.update('\u0000null');
    } else if (typeof p === 'string') {
      h.update(`\u0000s${p.length}:`).update(p);
    } else {
      h.update(`\u0000b${p.byteLength}:`).update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
    }
  }
  return h.digest('hex').slice(0, 32);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** A versioned checkpoint tensors file name. */
const CHECKPOINT_TENSORS = /^checkpoint-\d+\.safetensors$/;

/** Tensors whose values may not be negative (Adam's second moments, Adagrad's accumulators). */
export function isNonNegativeState(name: string): boolean {
  const last = name.split(/[./]/).at(-1) ?? '';
  return last === 'v' || last === 'vBias' || last === 'accum' || last === 'accumBias' || name.split('/').at(-2) === 'v';
}

/** A tensor a model expects in its checkpoint. */
export interface TensorSpec {
  dtype: 'F32' | 'I32';
  shape: readonly number[];
}

/** Flat or shaped state tensors. */
export type StateTensors = Record<string, Float32Array | Int32Array | { data: Float32Array | Int32Array; shape: readonly number[] }>;

/** The shaped form of a state tensor. */
export function shaped(t: StateTensors[string]): { data: Float32Array | Int32Array; shape: readonly number[] } {
  return t instanceof Float32Array || t instanceof Int32Array ? { data: t, shape: [t.length] } : t;
}

/** The names, dtypes and shapes of `tensors`. */
export function specOf(tensors: StateTensors): Record<string, TensorSpec> {
  const out: Record<string, TensorSpec> = {};
  for (const [k, v] of Object.entries(tensors)) {
    const t = shaped(v);
    out[k] = { dtype: t.data instanceof Float32Array ? 'F32' : 'I32', shape: [...t.shape] };
  }
  return out;
}

/**
 * A run folder; see the module notes. Open it with {@link RunFolder.open}, and {@link RunFolder.close}
 * it (releasing the lock) when the run ends or fails.
 */
export class RunFolder {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** The commit in force when the folder was opened with `resume` (null: none). */
  readonly committed: CommitRecord | null;
  private records: MetricsRecord[];
  private committedLines: number;
  private readonly notice: (line: string) => void;
  private readonly afterStage: RunFolderOptions['afterStage'];
  private prepared = false;
  private closed = false;

  private constructor(dir: string, committed: CommitRecord | null, records: MetricsRecord[], o: RunFolderOptions) {
    this.dir = dir;
    this.committed = committed;
    this.records = records;
    this.committedLines = records.length;
    this.notice = o.notice ?? ((line) => process.stderr.write(line + '\n'));
    this.afterStage = o.afterStage;
  }

  /**
   * Opens (creating it if needed) the run folder `dir` and takes its lock. With `resume`, reads and
   * checks the commit record and the committed metric lines; nothing is written but the lock until
   * {@link RunFolder.prepare}.
   * @throws RunLockedError (another run holds it), StateError (a run is there and `resume` is not
   *   set), CheckpointError / RunPathError (a damaged commit), IoError
   */
  static open(dir: string, opts: RunFolderOptions = {}): RunFolder {
    const abs = resolve(dir);
    try {
      fs.mkdirSync(abs, { recursive: true });
    } catch (e) {
      throw new IoError(`cannot create the run folder ${abs}: ${(e as Error).message}; choose another --out`);
    }
    if (!fs.statSync(abs).isDirectory()) throw new IoError(`${abs} is not a folder; choose another --out`);
    takeLock(abs, opts.notice ?? ((line) => process.stderr.write(line + '\n')));
    try {
      const hasRun = fs.existsSync(join(abs, METRICS_FILE)) || fs.existsSync(join(abs, CHECKPOINT_FILE));
      if (hasRun && !opts.resume) {
        throw new StateError(`${abs} already holds a run (${METRICS_FILE} or ${CHECKPOINT_FILE} exists); pass --resume to continue it or choose another --out`);
      }
      let committed: CommitRecord | null = null;
      let records: MetricsRecord[] = [];
      if (opts.resume) {
        committed = readCommit(abs);
        if (committed) records = readCommittedMetrics(abs, committed);
      }
      return new RunFolder(abs, committed, records, opts);
    } catch (e) {
      releaseLock(abs);
      throw e;
    }
  }

  /**
   * Opens the committed state of the run in `dir` for reading (prediction, analysis): no lock is
   * taken and nothing can be written; the commit record and metrics are checked as on resume.
   * @throws IoError (no such folder), StateError (no commit), CheckpointError / RunPathError
   */
  static view(dir: string): RunFolder {
    const abs = resolve(dir);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new IoError(`${abs}: no such run folder; give the --out of a finished training run`);
    const committed = readCommit(abs);
    if (!committed) throw new StateError(`${abs} holds no checkpoint (${CHECKPOINT_FILE}); train into it first`);
    const f = new RunFolder(abs, committed, readCommittedMetrics(abs, committed), {});
    f.readOnly = true;
    f.closed = true;
    return f;
  }

  private readOnly = false;

  /** The path of the plain file name `name` inside the folder (see {@link confined}). */
  path(name: string): string {
    return confined(this.dir, name);
  }

  /**
   * Starts writing: removes temporary files and checkpoint files no commit names, and drops the
   * metric lines past the commit (with a notice). Call it once every check of a resume has passed.
   */
  prepare(): void {
    if (this.prepared) return;
    this.prepared = true;
    const keep = this.committed?.tensors;
    for (const name of fs.readdirSync(this.dir)) {
      if ((name.startsWith('.') && name.endsWith('.tmp')) || (CHECKPOINT_TENSORS.test(name) && name !== keep)) {
        const p = join(this.dir, name);
        if (fs.lstatSync(p).isFile()) fs.rmSync(p, { force: true });
      }
    }
    const metricsPath = join(this.dir, METRICS_FILE);
    if (fs.existsSync(metricsPath)) {
      const lines = metricLines(fs.readFileSync(metricsPath, 'utf8'));
      if (lines.length !== this.records.length) {
        if (lines.length > this.records.length) {
          this.notice(`${this.dir}: ${lines.length - this.records.length} line(s) of ${METRICS_FILE} after the last checkpoint were never committed; they are dropped and their epochs trained again`);
        }
        this.writeMetrics();
      }
    }
  }

  /** The metric records so far (committed ones, then those appended since; copies). */
  readMetrics(): MetricsRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Appends one record to `metrics.jsonl` (atomically rewriting the file); committed by the next {@link RunFolder.commit}. */
  appendMetrics(record: MetricsRecord): void {
    this.assertWritable();
    this.records.push({ ...record });
    this.writeMetrics();
  }

  /**
   * Commits an epoch: the tensors to `checkpoint-<epoch>.safetensors`, then the commit record
   * naming it and every metric line appended so far; the previous tensors file is removed after.
   */
  commit(c: { app: string; epoch: number; tensors: StateTensors; settings: Record<string, SettingValue>; data: string; meta: { [key: string]: Json } }): CommitRecord {
    this.assertWritable();
    if (!Number.isInteger(c.epoch) || c.epoch < 0 || c.epoch > MAX_EPOCH) throw new StateError(`cannot commit epoch ${c.epoch}`);
    const name = `checkpoint-${c.epoch}.safetensors`;
    const input: Record<string, SafetensorsInput> = {};
    for (const [k, v] of Object.entries(c.tensors)) input[k] = shaped(v);
    writeSafetensors(this.path(name), input, { 'samplex.kind': 'checkpoint', 'samplex.app': c.app, 'samplex.epoch': String(c.epoch) });
    this.afterStage?.('tensors', c.epoch);
    // metrics.jsonl already holds every appended line (written on append)
    this.afterStage?.('metrics', c.epoch);
    const text = metricsText(this.records);
    const prev = this.committed ?? this.lastCommit;
    const record: CommitRecord = {
      format: COMMIT_FORMAT, app: c.app, epoch: c.epoch, tensors: name, tensorsSha256: fileSha256(this.path(name)),
      metricsLines: this.records.length, metricsSha256: sha256(text), settings: { ...c.settings }, data: c.data, meta: c.meta,
    };
    writeFileAtomic(this.path(CHECKPOINT_FILE), JSON.stringify(record, null, 2) + '\n');
    this.afterStage?.('record', c.epoch);
    this.committedLines = this.records.length;
    if (prev && prev.tensors !== name) fs.rmSync(this.path(prev.tensors), { force: true });
    this.lastCommit = record;
    return record;
  }

  private lastCommit: CommitRecord | null = null;

  /**
   * Reads the committed tensors and checks them against the record and the model's `expect`ed
   * tensors (names, dtypes, shapes), all values finite and second moments non-negative.
   * @throws CheckpointError naming the file and what is wrong
   */
  loadCheckpoint(expect: Record<string, TensorSpec>, opts: { extra?: (name: string) => boolean } = {}): Record<string, Float32Array | Int32Array> {
    const c = this.committed;
    if (!c) throw new StateError(`${this.dir} has no checkpoint`);
    return readCheckpointTensors(this.dir, c, expect, opts.extra ?? (() => false));
  }

  /** Writes `value` as pretty JSON to `name`, atomically. */
  writeJson(name: string, value: unknown): void {
    this.assertWritable();
    writeFileAtomic(this.path(name), JSON.stringify(value, null, 2) + '\n');
  }

  /** Writes `text` to `name`, atomically. */
  writeText(name: string, text: string): void {
    this.assertWritable();
    writeFileAtomic(this.path(name), text);
  }

  /** Writes tensors to `name` (a side state, e.g. the best epoch's), atomically. */
  writeTensors(name: string, tensors: StateTensors, metadata: Record<string, string>): void {
    this.assertWritable();
    const input: Record<string, SafetensorsInput> = {};
    for (const [k, v] of Object.entries(tensors)) input[k] = shaped(v);
    writeSafetensors(this.path(name), input, metadata);
  }

  /**
   * Reads tensors written by {@link RunFolder.writeTensors}, checked as {@link RunFolder.loadCheckpoint}
   * checks a checkpoint (without the record's hash).
   */
  readTensors(
    name: string, expect: Record<string, TensorSpec>, metadata: Record<string, string>, opts: { extra?: (name: string) => boolean } = {},
  ): Record<string, Float32Array | Int32Array> {
    const path = this.path(name);
    const content = readTensorsFile(path);
    for (const [k, v] of Object.entries(metadata)) {
      if (content.metadata[k] !== v) throw new CheckpointError(`${path}: metadata ${k} is ${JSON.stringify(content.metadata[k] ?? null)}, expected ${JSON.stringify(v)}; the run folder is damaged, start a new run`);
    }
    return checkTensors(path, content.tensors, expect, opts.extra ?? (() => false));
  }

  /**
   * Reads the JSON object in `name`, or null when the file does not exist.
   * @throws DataFormatError when it is not a JSON object
   */
  readJson<T>(name: string): T | null {
    return readJsonObject<T>(this.path(name));
  }

  /** Releases the lock (idempotent). */
  close(): void {
    if (this.closed || this.readOnly) return;
    this.closed = true;
    releaseLock(this.dir);
  }

  private assertWritable(): void {
    if (this.readOnly) throw new StateError(`the run folder ${this.dir} was opened for reading`);
    if (this.closed) throw new StateError(`the run folder ${this.dir} is closed`);
    this.prepare();
  }

  private writeMetrics(): void {
    writeFileAtomic(join(this.dir, METRICS_FILE), metricsText(this.records));
  }
}

function metricsText(records: readonly MetricsRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}

function metricLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * The absolute path of the plain file name `name` inside `dir`.
 * @throws RunPathError for an absolute path, `..`, a separator, or a symbolic link leading out
 */
export function confined(dir: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.includes('..')) {
    throw new RunPathError(`${dir}: ${JSON.stringify(name)} is not a plain file name inside the run folder; the run folder is damaged or was edited, restore ${CHECKPOINT_FILE} or start a new run`);
  }
  const p = join(dir, name);
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(p);
  } catch {
    st = null;
  }
  if (st?.isSymbolicLink()) {
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch {
      throw new RunPathError(`${p} is a broken symbolic link; remove it`);
    }
    const root = fs.realpathSync(dir);
    if (!real.startsWith(root + sep)) throw new RunPathError(`${p} is a symbolic link to ${real}, outside the run folder; remove it`);
  }
  return p;
}

function readJsonObject<T>(path: string): T | null {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new DataFormatError(path, 0, `not valid JSON (${(e as Error).message}); restore it or start a new run`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataFormatError(path, 0, 'not a JSON object; restore it or start a new run');
  return v as T;
}

function takeLock(dir: string, notice: (line: string) => void): void {
  const path = join(dir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new IoError(`cannot create ${path}: ${(e as Error).message}; check that the folder is writable`);
      const other = readLock(path);
      const stale = other !== null && other.host === mine.host && ((other.pid === process.pid && !held.has(dir)) || (other.pid !== process.pid && !isAlive(other.pid)));
      if (attempt === 0 && stale) {
        notice(`${dir}: the run that locked this folder (pid ${other.pid}, started ${other.started}) is gone; taking over its lock`);
        fs.rmSync(path, { force: true });
        continue;
      }
      const who = other ? `pid ${other.pid} on ${other.host}, started ${other.started}` : `unknown (${LOCK_FILE} is unreadable)`;
      throw new RunLockedError(
        `${dir} is in use by another run (${who}); wait for it to finish or choose another --out` +
          (other && other.host !== mine.host ? ` (if that run is gone, delete ${path})` : other ? '' : ` (if no run is using it, delete ${path})`),
        other,
      );
    }
    try {
      fs.writeSync(fd, JSON.stringify(mine) + '\n');
    } finally {
      fs.closeSync(fd);
    }
    held.add(dir);
    return;
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0 && typeof v.host === 'string' && typeof v.started === 'string') return v as LockInfo;
  } catch {
    /* unreadable */
  }
  return null;
}

function releaseLock(dir: string): void {
  if (!held.delete(dir)) return;
  const path = join(dir, LOCK_FILE);
  const l = readLock(path);
  if (l && l.pid === process.pid && l.host === hostname()) fs.rmSync(path, { force: true });
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads and checks `checkpoint.json` (null when there is none). */
function readCommit(dir: string): CommitRecord | null {
  const path = join(dir, CHECKPOINT_FILE);
  const v = readJsonObject<Record<string, unknown>>(path);
  if (v === null) return null;
  const bad = (what: string): never => {
    throw new CheckpointError(`${path}: ${what}; the run folder is damaged or was written by another program: restore it or start a new run`);
  };
  if (v['format'] !== COMMIT_FORMAT) bad(`format is ${JSON.stringify(v['format'] ?? null)}, expected "${COMMIT_FORMAT}" (a run of an older samplex cannot be resumed)`);
  if (typeof v['app'] !== 'string') bad('app is not a string');
  const epoch = v['epoch'];
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) bad(`epoch ${JSON.stringify(epoch ?? null)} is not an integer in [0, ${MAX_EPOCH}]`);
  confined(dir, v['tensors']);
  if (typeof v['tensorsSha256'] !== 'string' || !HEX64.test(v['tensorsSha256'])) bad('tensorsSha256 is not a SHA-256');
  const lines = v['metricsLines'];
  if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 0) bad(`metricsLines ${JSON.stringify(lines ?? null)} is not a count`);
  if (typeof v['metricsSha256'] !== 'string' || !HEX64.test(v['metricsSha256'])) bad('metricsSha256 is not a SHA-256');
  const settings = v['settings'];
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) bad('settings is not an object');
  for (const [k, s] of Object.entries(settings as object)) if (!['number', 'string', 'boolean'].includes(typeof s)) bad(`setting ${k} is not a number, string or boolean`);
  if (typeof v['data'] !== 'string') bad('data (the data fingerprint) is not a string');
  const meta = v['meta'];
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) bad('meta is not an object');
  return v as unknown as CommitRecord;
}

/**
 * The commit record of the run in `dir` (checked), or null when there is none; takes no lock.
 * @throws CheckpointError / RunPathError / DataFormatError for a damaged record
 */
export function peekCommit(dir: string): CommitRecord | null {
  const abs = resolve(dir);
  return fs.existsSync(abs) ? readCommit(abs) : null;
}

/** The committed lines of `metrics.jsonl`, checked against the record. */
function readCommittedMetrics(dir: string, c: CommitRecord): MetricsRecord[] {
  const path = join(dir, METRICS_FILE);
  let text = '';
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const lines = metricLines(text);
  if (lines.length < c.metricsLines) {
    throw new CheckpointError(`${path} has ${lines.length} line(s) but ${CHECKPOINT_FILE} committed ${c.metricsLines}; the log was truncated: restore it or start a new run`);
  }
  const kept = lines.slice(0, c.metricsLines);
  if (sha256(kept.map((l) => l + '\n').join('')) !== c.metricsSha256) {
    throw new CheckpointError(`the first ${c.metricsLines} line(s) of ${path} are not those ${CHECKPOINT_FILE} committed (the log was edited); restore it or start a new run`);
  }
  return kept.map((line, i) => {
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      r = null;
    }
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new DataFormatError(path, i + 1, 'not a JSON object');
    return r as MetricsRecord;
  });
}

function readTensorsFile(path: string): ReturnType<typeof readSafetensors> {
  try {
    return readSafetensors(path);
  } catch (e) {
    if (e instanceof SamplexError) throw new CheckpointError(`${e.message}; the checkpoint is damaged: restore it or start a new run`);
    throw new CheckpointError(`${path}: ${(e as Error).message}; the checkpoint is damaged: restore it or start a new run`);
  }
}

function readCheckpointTensors(dir: string, c: CommitRecord, expect: Record<string, TensorSpec>, extra: (name: string) => boolean): Record<string, Float32Array | Int32Array> {
  const path = confined(dir, c.tensors);
  if (!fs.existsSync(path)) throw new CheckpointError(`${path}, named by ${CHECKPOINT_FILE}, does not exist; restore it or start a new run`);
  if (fileSha256(path) !== c.tensorsSha256) throw new CheckpointError(`${path} is not the file ${CHECKPOINT_FILE} committed (its SHA-256 differs); restore it or start a new run`);
  const content = readTensorsFile(path);
  if (content.metadata['samplex.epoch'] !== String(c.epoch)) {
    throw new CheckpointError(`${path} holds epoch ${JSON.stringify(content.metadata['samplex.epoch'] ?? null)} but ${CHECKPOINT_FILE} says ${c.epoch}; restore it or start a new run`);
  }
  return checkTensors(path, content.tensors, expect, extra);
}

function checkTensors(
  path: string, tensors: ReturnType<typeof readSafetensors>['tensors'], expect: Record<string, TensorSpec>, extra: (name: string) => boolean,
): Record<string, Float32Array | Int32Array> {
  const bad = (what: string): never => {
    throw new CheckpointError(`${path}: ${what}; the checkpoint does not fit this model: restore it or start a new run`);
  };
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [name, spec] of Object.entries(expect)) {
    const t = tensors[name];
    if (!t) bad(`tensor '${name}' is missing`);
    if (t!.dtype !== spec.dtype) bad(`tensor '${name}' is ${t!.dtype}, expected ${spec.dtype}`);
    if (t!.shape.length !== spec.shape.length || t!.shape.some((x, i) => x !== spec.shape[i])) bad(`tensor '${name}' has shape [${t!.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
  }
  for (const [name, t] of Object.entries(tensors)) {
    if (!(name in expect) && !extra(name)) bad(`tensor '${name}' is not part of this model's state`);
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Int32Array)) bad(`tensor '${name}' has dtype ${t.dtype}; expected F32 or I32`);
    const a = t.data as Float32Array | Int32Array;
    if (a instanceof Float32Array) {
      const nonNeg = isNonNegativeState(name);
      for (let i = 0; i < a.length; i++) {
        const x = a[i]!;
        if (!Number.isFinite(x)) bad(`tensor '${name}' holds ${x} at ${i}`);
        if (nonNeg && x < 0) bad(`tensor '${name}' (a second moment) holds the negative value ${x} at ${i}`);
      }
    }
    out[name] = a;
  }
  return out;
}
