/**
 * Validation and bookkeeping shared by the sampled and the full softmax losses (internal).
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { checkLabels } from '../core/matrix.js';
import { iota } from '../core/rows.js';
import { assertFinite, assertLength, assertMatrix, choiceOption } from '../core/validate.js';
import { LABEL_WEIGHTINGS, type LabelWeighting, type LossInputBase, type LossResult, type SparseRowGrad } from './types.js';

/** Validated view of the inputs common to both losses. */
export interface BaseSetup {
  /** Batch size. */
  readonly B: number;
  /** Embedding dimension. */
  readonly d: number;
  /** Number of classes. */
  readonly n: number;
  /** Scale of row `r` in the mean loss: `w_r / Σ w` (0 for padded rows). */
  readonly rowScale: Float64Array;
  /** Sum of the row weights. */
  readonly totalWeight: number;
  /** Weight of each positive's softmax term (aligned with `labels.ids`): `1/P` (`mean`, `joint`) or 1. */
  readonly termWeight: Float64Array;
  /** The multi-label weighting. */
  readonly weighting: LabelWeighting;
  /** Whether gradients are requested. */
  readonly grad: boolean;
}

/** The option names of {@link LossInputBase}. */
export const BASE_KEYS = ['queries', 'table', 'labels', 'rowWeights', 'labelWeighting', 'grad'] as const;

/**
 * Checks queries, table, labels and row weights, and derives the per-row and per-term weights.
 * @throws ShapeError, NonFiniteError, LabelRangeError, OptionError
 */
export function setupBase(input: Omit<LossInputBase, 'table'> & { table: { readonly n: number; readonly d: number } }, what: string): BaseSetup {
  const { queries, table, labels } = input;
  if (!table || typeof table.n !== 'number') throw new OptionError(`${what}: 'table' must be a ClassTable`);
  if (!queries || !(queries.data instanceof Float32Array)) {
    throw new OptionError(`${what}: 'queries' must be a Matrix with Float32Array data`);
  }
  const d = table.d;
  const n = table.n;
  assertMatrix(queries, `${what}: queries`, d);
  assertFinite(queries.data, `${what}: queries`, d);
  const B = queries.rows;
  if (!labels || !(labels.ids instanceof Int32Array) || !(labels.offsets instanceof Int32Array)) {
    throw new OptionError(`${what}: 'labels' must be a Labels record {ids: Int32Array, offsets: Int32Array}`);
  }
  checkLabels(labels, n, B, `${what}: labels`);
  const weighting: LabelWeighting =
    input.labelWeighting === undefined ? 'mean' : choiceOption(input.labelWeighting, 'labelWeighting', LABEL_WEIGHTINGS);
  const rw = input.rowWeights ?? null;
  if (rw !== null) {
    assertLength(rw, B, `${what}: rowWeights (one weight per query row)`);
    assertFinite(rw, `${what}: rowWeights`);
  }
  const rowScale = new Float64Array(B);
  let total = 0;
  for (let r = 0; r < B; r++) {
    const w = rw === null ? 1 : rw[r]!;
    if (w < 0) throw new OptionError(`${what}: rowWeights[${r}] = ${w}; weights must be ≥ 0 (use 0 to mask a padded row)`);
    const P = labels.offsets[r + 1]! - labels.offsets[r]!;
    if (w > 0 && P === 0) {
      throw new ShapeError(`${what}: row ${r} has no positive label but weight ${w}; give it rowWeights[${r}] = 0 (padding) or add a label`);
    }
    rowScale[r] = w;
    total += w;
  }
  if (total > 0) for (let r = 0; r < B; r++) rowScale[r] = rowScale[r]! / total;
  const termWeight = new Float64Array(labels.ids.length);
  for (let r = 0; r < B; r++) {
    const a = labels.offsets[r]!;
    const b = labels.offsets[r + 1]!;
    const tw = weighting === 'sum' ? 1 : 1 / (b - a);
    for (let k = a; k < b; k++) termWeight[k] = tw;
  }
  const grad = input.grad === undefined ? true : input.grad;
  if (typeof grad !== 'boolean') throw new OptionError(`${what}: option grad must be a boolean, got ${String(grad)}`);
  return { B, d, n, rowScale, totalWeight: total, termWeight, weighting, grad };
}

/** A gradient touching no class row. */
export function emptyRowGrad(hasBias: boolean): SparseRowGrad {
  return { ids: new Int32Array(0), rows: new Float32Array(0), bias: hasBias ? new Float32Array(0) : null };
}

/** Result of a batch whose rows all have weight 0 (or when gradients are not requested). */
export function zeroResult(loss: number, B: number, d: number, hasBias: boolean, grad: boolean): LossResult {
  return { loss, gradQueries: new Float32Array(grad ? B * d : 0), gradClasses: emptyRowGrad(hasBias) };
}

/**
 * Per-row sorted copies of the positives (for membership tests by binary search).
 * The positives of row `r` are `out[offsets[r] .. offsets[r+1])`, ascending.
 */
export function sortedPositives(ids: Int32Array, offsets: Int32Array): Int32Array {
  const out = ids.slice();
  for (let r = 0; r + 1 < offsets.length; r++) {
    const a = offsets[r]!;
    const b = offsets[r + 1]!;
    if (b - a > 1) out.subarray(a, b).sort();
  }
  return out;
}

/**
 * Whether entry `k` of a CSR label list is the first occurrence of its id in its row, so that a
 * positive listed twice counts once in a sum over the row's positives.
 */
export function isFirstInRow(ids: Int32Array, a: number, k: number): boolean {
  for (let k2 = a; k2 < k; k2++) if (ids[k2] === ids[k]) return false;
  return true;
}

/** True when `id` occurs in the ascending range `s[a..b)`. */
export function containsSorted(s: Int32Array, a: number, b: number, id: number): boolean {
  let lo = a;
  let hi = b;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = s[mid]!;
    if (v === id) return true;
    if (v < id) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/** Index of `id` in the ascending, duplicate-free array `s` (which must contain it). */
export function indexOfSorted(s: Int32Array, id: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bits of the value sorted per pass by {@link sortedUniqueSlots}. */
const RADIX_BITS = 11;

/**
 * The sorted distinct values of the non-negative `a` (`ids`) and, for each entry, its index among
 * them (`slots[i]`: `ids[slots[i]] = a[i]`). The entries are ordered by a least-significant-digit
 * radix sort, {@link RADIX_BITS} bits of the value a pass (at most 3 passes): linear
 * in `a.length` (51,456 entries: 1.0–1.4 ms, against 4.9 ms for one native sort of packed keys).
 */
export function sortedUniqueSlots(a: Int32Array): { ids: Int32Array; slots: Int32Array } {
  const len = a.length;
  let max = 0;
  for (let i = 0; i < len; i++) if (a[i]! > max) max = a[i]!;
  let key = Int32Array.from(a);
  let at = new Int32Array(len);
  iota(at, len);
  let key2 = new Int32Array(len);
  let at2 = new Int32Array(len);
  const mask = (1 << RADIX_BITS) - 1;
  const count = new Int32Array(mask + 2);
  for (let shift = 0; shift < 32 && max >>> shift !== 0; shift += RADIX_BITS) {
    count.fill(0);
    for (let i = 0; i < len; i++) count[((key[i]! >>> shift) & mask) + 1]!++;
    for (let c = 1; c <= mask; c++) count[c]! += count[c - 1]!;
    for (let i = 0; i < len; i++) {
      const v = key[i]!;
      const p = count[(v >>> shift) & mask]!++;
      key2[p] = v;
      at2[p] = at[i]!;
    }
    [key, key2] = [key2, key];
    [at, at2] = [at2, at];
  }
  const ids = key2;
  const slots = at2;
  let k = -1;
  let prev = -1;
  for (let j = 0; j < len; j++) {
    const v = key[j]!;
    if (v !== prev) {
      ids[++k] = v;
      prev = v;
    }
    slots[at[j]!] = k;
  }
  return { ids: ids.slice(0, k + 1), slots };
}
