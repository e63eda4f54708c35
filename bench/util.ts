/**
 * Helpers shared by the benchmarks: one JSON object per line, peak memory, median timings.
 */
import { performance } from 'node:perf_hooks';

/** Prints one benchmark record as a JSON line. */
export function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
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
