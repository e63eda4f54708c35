/**
 * Boundary validation helpers: call them in public entry points, not in hot loops.
 * @module
 */
import { NonFiniteError, OptionError, ShapeError } from './errors.js';
import type { Matrix } from './matrix.js';

/** Throws {@link NonFiniteError} naming the first NaN/±Inf element of `a`. */
export function assertFinite(a: ArrayLike<number>, what: string, cols = 0): void {
  // fast path: x·0 is 0 for finite x and NaN for NaN/±Inf, so the sum is NaN iff one is not finite
  let s0 = 0;
  let s1 = 0;
  const n = a.length;
  const n2 = n - (n % 2);
  for (let i = 0; i < n2; i += 2) {
    s0 += a[i]! * 0;
    s1 += a[i + 1]! * 0;
  }
  if (n2 < n) s0 += a[n2]! * 0;
  if (s0 + s1 === 0) return;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v)) {
      const where = cols > 0 ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new NonFiniteError(`${what} contains ${v} at ${where}; all values must be finite (check the learning rate or the input data)`, i);
    }
  }
}

/** Largest `log q` accepted as a log-probability: rounding may leave a certain draw a little above 0. */
export const LOG_PROB_SLACK = 1e-6;

/**
 * Throws unless every element of `a` is a log-probability: finite ({@link NonFiniteError}
 * otherwise) and at most {@link LOG_PROB_SLACK} ({@link OptionError} otherwise, naming the first).
 */
export function assertLogProb(a: ArrayLike<number>, what: string, cols = 0): void {
  assertFinite(a, what, cols);
  for (let i = 0; i < a.length; i++) {
    if (a[i]! > LOG_PROB_SLACK) {
      const where = cols > 0 ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new OptionError(`${what}: ${a[i]} at ${where} is not a log-probability, which must be ≤ 0; pass the log q the sampler reported`);
    }
  }
}

/** Throws {@link ShapeError} unless `m` has `cols` columns (and `rows` rows when given). */
export function assertMatrix(m: Matrix, what: string, cols: number, rows?: number): void {
  if (m.data.length !== m.rows * m.cols) {
    throw new ShapeError(`${what}: data length ${m.data.length} ≠ rows*cols = ${m.rows * m.cols}`);
  }
  if (m.cols !== cols) throw new ShapeError(`${what}: has ${m.cols} columns, expected ${cols} (the embedding dimension)`);
  if (rows !== undefined && m.rows !== rows) throw new ShapeError(`${what}: has ${m.rows} rows, expected ${rows}`);
}

/** Throws {@link ShapeError} unless `a.length === n`. */
export function assertLength(a: { length: number }, n: number, what: string): void {
  if (a.length !== n) throw new ShapeError(`${what}: length ${a.length}, expected ${n}`);
}

/** Returns `v` if it is an integer in `[lo, hi]`, else throws {@link OptionError}. */
export function intOption(v: unknown, name: string, lo: number, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new OptionError(`option ${name} must be ${intRange(lo, hi)}, got ${String(v)}`);
  }
  return v;
}

function intRange(lo: number, hi: number): string {
  return hi === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${lo}` : `an integer in [${lo}, ${hi}]`;
}

/** Returns `v` if it is a finite number in `[lo, hi]` (open bounds when `open`), else throws. */
export function numOption(v: unknown, name: string, lo = -Infinity, hi = Infinity, open = false): number {
  if (!inRange(v, lo, hi, open)) throw new OptionError(`option ${name} must be a finite number ${numRange(lo, hi, open)}, got ${String(v)}`);
  return v as number;
}

function inRange(v: unknown, lo: number, hi: number, open: boolean): boolean {
  return typeof v === 'number' && Number.isFinite(v) && (open ? v > lo && v < hi : v >= lo && v <= hi);
}

function numRange(lo: number, hi: number, open: boolean): string {
  return open ? `in (${lo}, ${hi})` : `in [${lo}, ${hi}]`;
}

const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * The number a decimal string spells (`12`, `-0.5`, `.5`, `3e-4`), or NaN for anything else:
 * unlike `Number`, hexadecimal (`0x1f`), octal and binary literals, `Infinity`, and empty or
 * blank strings are not numbers here. Data files and command-line values are read with it.
 */
export function parseDecimal(s: string): number {
  return DECIMAL.test(s) ? Number(s) : NaN;
}

/**
 * A command-line value as an integer in `[lo, hi]`: {@link parseDecimal} of the trimmed string,
 * so `'0x5'`, `'5k'` or `''` is refused.
 * @throws OptionError naming `name` and the value as given
 */
export function intArg(v: string, name: string, lo: number, hi = Number.MAX_SAFE_INTEGER): number {
  const x = parseDecimal(String(v).trim());
  if (!Number.isInteger(x) || x < lo || x > hi) throw new OptionError(`option ${name} must be ${intRange(lo, hi)}, got '${String(v)}'`);
  return x;
}

/**
 * A command-line value as a finite number in `[lo, hi]` (open bounds when `open`):
 * {@link parseDecimal} of the trimmed string.
 * @throws OptionError naming `name` and the value as given
 */
export function numArg(v: string, name: string, lo = -Infinity, hi = Infinity, open = false): number {
  const x = parseDecimal(String(v).trim());
  if (!inRange(x, lo, hi, open)) throw new OptionError(`option ${name} must be a finite number ${numRange(lo, hi, open)}, got '${String(v)}'`);
  return x;
}

/** Returns `v` if it is a boolean, else throws {@link OptionError}. */
export function boolOption(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new OptionError(`option ${name} must be true or false, got ${String(v)}`);
  return v;
}

/** Returns `v` if it is one of `choices`, else throws {@link OptionError} listing them. */
export function choiceOption<T extends string>(v: unknown, name: string, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new OptionError(`option ${name} must be one of ${choices.join(', ')}, got ${String(v)}`);
  }
  return v as T;
}

/** Throws {@link OptionError} for keys of `opts` not in `known` (catches typos). */
export function rejectUnknown(opts: object, known: readonly string[], what: string): void {
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new OptionError(`${what}: unknown option '${k}'; known options: ${known.join(', ')}`);
  }
}
