/**
 * A terminal progress bar for training loops (Node only), on `cli-progress`: done/total, rate
 * per second, ETA and free fields such as the current loss. On a non-terminal stream (a log
 * file, CI) it prints a plain line every few seconds instead of redrawing, from `update` itself,
 * so a training loop that never yields to the event loop still shows its progress.
 * @module
 */
import cliProgress from 'cli-progress';

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** The amount of work (e.g. instances or tokens of the epoch). */
  total: number;
  /** The unit of the work, shown after the counts and in the rate (e.g. `inst`, `tok`). */
  unit: string;
  /** A label shown first (e.g. `epoch 2/10`). */
  label?: string;
  /** Where to draw (default `process.stderr`); `null` draws nothing. */
  stream?: NodeJS.WritableStream | null;
  /** On a non-terminal stream, the least time between two printed lines in ms (default 5000). */
  plainEveryMs?: number;
}

/** A timer delay that never fires in practice (the largest `setTimeout` accepts). */
const NEVER_MS = 2 ** 31 - 1;

/** Formats a rate compactly (`1234` → `1.23k`). */
export function formatRate(perSec: number): string {
  if (!Number.isFinite(perSec)) return '-';
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(2)}k`;
  return perSec.toFixed(perSec >= 100 ? 0 : 1);
}

function formatField(v: string | number): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4);
}

/** A progress bar; call {@link ProgressBar.update} with the work done so far and {@link ProgressBar.stop} at the end. */
export class ProgressBar {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly t0 = Date.now();
  /** Non-terminal stream: lines are printed by `update`, at most one per this many ms. */
  private readonly plainEveryMs: number | null;
  private lastPlain = 0;

  constructor(opts: ProgressBarOptions) {
    const stream = opts.stream === undefined ? process.stderr : opts.stream;
    if (stream === null) {
      this.bar = null;
      this.plainEveryMs = null;
      return;
    }
    const tty = (stream as { isTTY?: boolean }).isTTY === true;
    // cli-progress prints non-terminal lines from a timer, which never runs while a synchronous
    // epoch holds the event loop; update() prints them instead
    this.plainEveryMs = tty ? null : (opts.plainEveryMs ?? 5000);
    const label = opts.label ? `${opts.label} ` : '';
    this.bar = new cliProgress.SingleBar({
      format: `${label}[{bar}] {percentage}% | {value}/{total} ${opts.unit} | {rate} ${opts.unit}/s | ETA {eta_formatted}{info}`,
      stream,
      barsize: 24,
      hideCursor: null,
      noTTYOutput: true,
      notTTYSchedule: NEVER_MS,
      etaBuffer: 50,
    });
    this.bar.start(Math.max(0, Math.floor(opts.total)), 0, { rate: '-', info: '' });
  }

  /** Sets the work done so far and the extra fields to show (e.g. `{ loss: 3.21 }`). */
  update(done: number, fields: Record<string, string | number> = {}): void {
    if (!this.bar) return;
    const sec = (Date.now() - this.t0) / 1000;
    const info = Object.entries(fields)
      .map(([k, v]) => ` | ${k} ${formatField(v)}`)
      .join('');
    this.bar.update(Math.floor(done), { rate: sec > 0 ? formatRate(done / sec) : '-', info });
    if (this.plainEveryMs !== null) {
      const now = Date.now();
      if (now - this.lastPlain >= this.plainEveryMs) {
        this.lastPlain = now;
        this.bar.render();
      }
    }
  }

  /** Draws the final state and releases the terminal line. */
  stop(): void {
    this.bar?.stop();
  }
}

/**
 * Runs `fn` (an epoch) with a progress display and stops the display however `fn` ends. A
 * display left running keeps its redraw timer alive, so a command that failed mid-epoch would
 * print its error and then never exit.
 */
export function withProgress<T>(bar: { stop(): void } | null | undefined, fn: () => T): T {
  try {
    return fn();
  } finally {
    bar?.stop();
  }
}
