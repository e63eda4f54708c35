/**
 * The `compare` of every application (Node only): one run per sampler, each in its own run folder
 * `<out>/<sampler>` with the same settings, then one report (and, when the application gives one,
 * a summary JSON) in `<out>`.
 *
 * The harness owns what every comparison shares: the sampler list (`--samplers`: non-empty, no
 * sampler twice, each a valid name), an exclusive lock on the comparison folder itself (the
 * {@link RunFolder} lock, so two comparisons into the same folder cannot mix their reports; each
 * sampler's run folder keeps its own lock), a check that no sampler's folder already holds a run
 * before anything is trained, the runs in the order given, and the atomic writes of the report and
 * summary. An application supplies how one sampler's run is made and how the results become a
 * report.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError, StateError } from '../core/errors.js';
import { CHECKPOINT_FILE, METRICS_FILE, RunFolder, type Json } from './runFolder.js';
import { REPORT_FILE } from './runTask.js';

/** The summary file of a comparison folder. */
export const SUMMARY_FILE = 'summary.json';

/**
 * The samplers of a `--samplers` list: comma-separated, blanks ignored.
 * @param valid the names the application accepts
 * @param flag the option's name in messages
 * @throws OptionError for an empty list, a sampler named twice or a name not in `valid`
 */
export function parseSamplers(list: string, valid: readonly string[], flag = '--samplers'): string[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new OptionError(`${flag} is empty; give a comma-separated list of samplers, e.g. ${valid.slice(0, 2).join(',')}`);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new OptionError(`${flag} lists the sampler '${n}' twice (${list}); name each sampler once`);
    seen.add(n);
    if (!valid.includes(n)) throw new OptionError(`${flag}: unknown sampler '${n}'; use one of ${valid.join(', ')}`);
  }
  return names;
}

/** One sampler's run of a comparison. */
export interface CompareRun<R> {
  /** The sampler. */
  name: string;
  /** Its run folder (`<out>/<name>`, as `out` was given). */
  dir: string;
  /** What the application's run returned. */
  result: R;
}

/** The report of a comparison, as the application makes it from its runs. */
export interface CompareReport {
  /** The HTML report, written to `<out>/report.html`. */
  html: string;
  /** Written as pretty JSON to `<out>/summary.json` when given. */
  summary?: Json;
}

/** Runs every sampler in order, each with `run(sampler, dir)`; returns the runs. */
export type RunAll<R> = (run: (sampler: string, dir: string) => Promise<R>) => Promise<Array<CompareRun<R>>>;

/** What an application supplies to {@link compareRuns}. */
export interface CompareSpec<P, R, Rep extends CompareReport> {
  /** The comparison folder (`--out`). */
  out: string;
  /** The `--samplers` list as given. */
  samplers: string;
  /** The sampler names the application accepts. */
  valid: readonly string[];
  /**
   * Resolves and checks the settings of every sampler (throwing a typed error for a bad one);
   * called before the comparison folder is created or locked.
   */
  plan: (names: readonly string[]) => P;
  /**
   * Sets up what the runs share (data, kernels, backends), calls `runAll` once with the
   * application's run of one sampler, releases what it set up, and returns the report of the runs.
   * Called with the comparison folder locked.
   */
  session: (plan: P, names: readonly string[], runAll: RunAll<R>) => Promise<Rep>;
  /** One-line notices of the comparison folder (a stale lock taken over; default stderr). */
  notice?: (line: string) => void;
}

/** Result of {@link compareRuns}. */
export interface CompareResult<R, Rep extends CompareReport> {
  /** The runs, in the order of `--samplers`. */
  runs: Array<CompareRun<R>>;
  /** The report the application made (written). */
  report: Rep;
  /** Path of the report (`<out>/report.html`, as `out` was given). */
  reportPath: string;
  /** Path of the summary, or null when the application gave none. */
  summaryPath: string | null;
}

/**
 * Runs a comparison; see the module notes. Nothing is created before the sampler list and every
 * sampler's settings have passed their checks; a comparison folder locked by another run is
 * refused unchanged; a sampler folder that already holds a run is refused before any training.
 * @throws OptionError (the sampler list, the application's settings), RunLockedError (another
 *   run holds the folder), StateError (the folder or a sampler's folder already holds a run), and
 *   the application's own errors
 */
export async function compareRuns<P, R, Rep extends CompareReport>(spec: CompareSpec<P, R, Rep>): Promise<CompareResult<R, Rep>> {
  const names = parseSamplers(spec.samplers, spec.valid);
  const plan = spec.plan(names);
  if (existsSync(join(spec.out, CHECKPOINT_FILE)) || existsSync(join(spec.out, METRICS_FILE))) {
    throw new StateError(`${spec.out} holds a training run, not a comparison; choose another --out`);
  }
  const folder = RunFolder.open(spec.out, spec.notice ? { notice: spec.notice } : {});
  try {
    for (const n of names) {
      const dir = join(spec.out, n);
      if (existsSync(join(dir, CHECKPOINT_FILE)) || existsSync(join(dir, METRICS_FILE))) {
        throw new StateError(`${dir} already holds a run; a comparison trains every sampler afresh: choose another --out`);
      }
    }
    let runs: Array<CompareRun<R>> | null = null;
    const runAll: RunAll<R> = async (run) => {
      if (runs !== null) throw new StateError('a comparison runs its samplers once');
      const done: Array<CompareRun<R>> = [];
      runs = done;
      for (const name of names) {
        const dir = join(spec.out, name);
        done.push({ name, dir, result: await run(name, dir) });
      }
      return done;
    };
    const report = await spec.session(plan, names, runAll);
    const finished = runs as Array<CompareRun<R>> | null;
    if (finished === null || finished.length !== names.length) throw new StateError('the comparison ended before every sampler ran');
    folder.writeText(REPORT_FILE, report.html);
    if (report.summary !== undefined) folder.writeJson(SUMMARY_FILE, report.summary);
    return {
      runs: finished, report, reportPath: join(spec.out, REPORT_FILE), summaryPath: report.summary !== undefined ? join(spec.out, SUMMARY_FILE) : null,
    };
  } finally {
    folder.close();
  }
}
