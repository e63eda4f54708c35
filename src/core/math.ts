/**
 * Small numerically careful helpers shared by samplers, losses and diagnostics.
 * @module
 */

/** log(Σ exp(a[i])) over `a[start..end)`, stable; −Infinity for an empty range. */
export function logSumExp(a: ArrayLike<number>, start = 0, end = a.length): number {
  let mx = -Infinity;
  for (let i = start; i < end; i++) if (a[i]! > mx) mx = a[i]!;
  if (mx === -Infinity) return -Infinity;
  if (mx === Infinity) return Infinity;
  let s = 0;
  for (let i = start; i < end; i++) s += Math.exp(a[i]! - mx);
  return mx + Math.log(s);
}

/** log(1 − exp(x)) for x ≤ 0, accurate near both ends. */
export function log1mExp(x: number): number {
  return x > -Math.LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x));
}

/** log(exp(a) + exp(b)), stable. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/**
 * First index `p` in `[a, a+len)` with `cum[p] > u` (`cum` a non-decreasing cumulative sum, `u` in
 * `[0, cum[a+len−1])`), stepping back over zero-weight entries should `u` round up to the total.
 */
export function searchCumulative(cum: ArrayLike<number>, a: number, len: number, u: number): number {
  let lo = a;
  let hi = a + len - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  // u rounding up to the total could land on a trailing zero weight
  while (lo > a && cum[lo] === cum[lo - 1]) lo--;
  return lo;
}
