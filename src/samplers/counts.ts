/**
 * Validation of per-class frequency counts given as a sampler option.
 * @module
 */
import { NonFiniteError, OptionError } from '../core/errors.js';

/**
 * Copies `v` into a Float64Array after checking it is a non-empty array of finite,
 * non-negative numbers.
 * @throws OptionError (not an array, empty, negative values), NonFiniteError (NaN, ±Infinity)
 */
export function countsOption(v: unknown, name: string): Float64Array {
  if (v === null || typeof v !== 'object' || typeof (v as { length?: unknown }).length !== 'number') {
    throw new OptionError(`option ${name} must be an array of per-class counts (one non-negative number per class)`);
  }
  const a = v as ArrayLike<unknown>;
  if (a.length === 0) throw new OptionError(`option ${name} is empty; give one count per class`);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'number') throw new OptionError(`option ${name}[${i}] is ${String(x)}, not a number`);
    if (!Number.isFinite(x)) throw new NonFiniteError(`option ${name}[${i}] is ${x}; counts must be finite`, i);
    if (x < 0) throw new OptionError(`option ${name}[${i}] is ${x}; counts must be ≥ 0`);
    out[i] = x;
  }
  return out;
}
