/**
 * Helpers shared by the benchmarks: one JSON object per line, peak memory, median timings.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Prints one benchmark record as a JSON line. */
export function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** CPU milliseconds (user + system) used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `f` `reps` times and returns the least CPU milliseconds of a run (and that run's wall time). */
export function cpuTimed(f: () => void, reps = 1): { ms: number; wallMs: number } {
  let best = { ms: Infinity, wallMs: Infinity };
  for (let r = 0; r < reps; r++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    f();
    const ms = cpuMs() - c0;
    if (ms < best.ms) best = { ms, wallMs: performance.now() - w0 };
  }
  return best;
}

/** Median wall time in ms of `reps` calls of `fn` after `warmup` calls. */
export function medianMs(fn: () => void, reps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/**
 * Runs the module at `moduleUrl` in a child process with `[flag, ...args]` as its arguments and
 * resolves with the one message it sends (see {@link sendToParent}): peak-memory benchmarks run
 * alone in a fresh process so that other benchmarks do not inflate their RSS.
 */
export function runInChild<T>(moduleUrl: string, flag: string, args: readonly number[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(moduleUrl), [flag, ...args.map(String)], { stdio: 'inherit' });
    child.once('message', (m) => resolve(m as T));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`benchmark child exited with ${code}`));
    });
  });
}

/** In a child started by {@link runInChild}: sends `msg` to the parent and disconnects. */
export function sendToParent(msg: object): void {
  process.send!(msg, () => process.disconnect());
}
