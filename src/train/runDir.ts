/**
 * A training run's directory (Node only): `metrics.jsonl` (one JSON object per evaluation),
 * JSON state files (checkpoint metadata, settings) and reports, every file written atomically so
 * an interrupted run never leaves a half-written one.
 * @module
 */
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { DataFormatError, IoError, StateError } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/** One line of `metrics.jsonl`. */
export type MetricsRecord = Record<string, number | string | boolean | null>;

/** Options of {@link RunDir.open}. */
export interface RunDirOptions {
  /**
   * Continue the run already in the directory (default false). Without it, a directory that
   * already holds a run (a `metrics.jsonl` or `checkpoint.json`) is refused, so a finished run is
   * never overwritten by accident.
   */
  resume?: boolean;
}

/** The file of the metrics log inside a run directory. */
export const METRICS_FILE = 'metrics.jsonl';
/** The file a trainer's checkpoint metadata is expected in (used to detect an existing run). */
export const CHECKPOINT_FILE = 'checkpoint.json';

/**
 * A run directory. Metrics are kept in memory and the whole `metrics.jsonl` is rewritten
 * atomically on every append (it holds one line per evaluation, so this is cheap), which keeps
 * the log consistent with the last checkpoint even when the process is killed mid-write.
 */
export class RunDir {
  /** Absolute path of the directory. */
  readonly dir: string;
  private records: MetricsRecord[];

  private constructor(dir: string, records: MetricsRecord[]) {
    this.dir = dir;
    this.records = records;
  }

  /**
   * Opens (creating it and its parents if needed) the run directory `dir`.
   * @throws StateError when `dir` already holds a run and `resume` is not set
   * @throws IoError when the directory cannot be created or read
   * @throws DataFormatError when resuming and `metrics.jsonl` has a malformed line
   */
  static open(dir: string, opts: RunDirOptions = {}): RunDir {
    const abs = resolve(dir);
    try {
      fs.mkdirSync(abs, { recursive: true });
    } catch (e) {
      throw new IoError(`cannot create the run directory ${abs}: ${(e as Error).message}; choose another --out`);
    }
    const metricsPath = join(abs, METRICS_FILE);
    const hasRun = fs.existsSync(metricsPath) || fs.existsSync(join(abs, CHECKPOINT_FILE));
    if (hasRun && !opts.resume) {
      throw new StateError(
        `${abs} already holds a run (${METRICS_FILE} or ${CHECKPOINT_FILE} exists); pass --resume to continue it or choose another --out`,
      );
    }
    return new RunDir(abs, opts.resume && fs.existsSync(metricsPath) ? parseMetrics(metricsPath) : []);
  }

  /** The path of `name` inside the run directory. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** Appends one record to `metrics.jsonl` (atomically rewriting the file). */
  appendMetrics(record: MetricsRecord): void {
    this.records.push({ ...record });
    this.writeMetrics();
  }

  /**
   * Keeps only the records `keep` accepts (e.g. on resume, those up to the checkpoint's epoch)
   * and rewrites `metrics.jsonl`.
   */
  retainMetrics(keep: (record: MetricsRecord) => boolean): void {
    this.records = this.records.filter(keep);
    this.writeMetrics();
  }

  /** The records logged so far (copies). */
  readMetrics(): MetricsRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Writes `value` as pretty JSON to `name`, atomically. */
  writeJson(name: string, value: unknown): void {
    writeFileAtomic(this.path(name), JSON.stringify(value, null, 2) + '\n');
  }

  /**
   * Reads the JSON file `name`, or null when it does not exist.
   * @throws DataFormatError when it is not valid JSON
   */
  readJson<T>(name: string): T | null {
    const p = this.path(name);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new IoError(`cannot read ${p}: ${(e as Error).message}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new DataFormatError(p, 0, `not valid JSON (${(e as Error).message}); restore it or start a new run`);
    }
  }

  /** Writes `text` to `name`, atomically. */
  writeText(name: string, text: string): void {
    writeFileAtomic(this.path(name), text);
  }

  private writeMetrics(): void {
    writeFileAtomic(this.path(METRICS_FILE), this.records.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}

function parseMetrics(path: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  const lines = fs.readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new DataFormatError(path, i + 1, 'not a JSON object; fix or delete the line to resume');
    }
    out.push(v as MetricsRecord);
  });
  return out;
}
