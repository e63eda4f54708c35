/**
 * A fast `exp` for non-positive arguments, for hot loops that sum `exp(o − max)` over many logits
 * (log-sum-exp over a whole vocabulary). About 3× faster than `Math.exp` in V8 with a relative
 * error below 1e-14.
 * @module
 */

const STEPS = 32;
const C = STEPS / Math.LN2;
const D = Math.LN2 / STEPS;
/** Arguments below this return 0 (`exp(-700) ≈ 1e-304`). */
export const EXP_NONPOS_MIN = -700;
const TABLE = new Float64Array(Math.ceil(-EXP_NONPOS_MIN * C) + 2);
for (let k = 0; k < TABLE.length; k++) TABLE[k] = Math.pow(2, -k / STEPS);

/**
 * `exp(x)` for `x ≤ 0`: `2^(−k/32) · p(r)` with `k = round(−32·x/ln 2)`, `r = x + k·ln2/32`
 * (`|r| ≤ ln2/64`) and `p` the degree-5 Taylor polynomial. Returns 0 below
 * {@link EXP_NONPOS_MIN}; NaN for NaN. The caller guarantees `x ≤ 0` (positive `x` gives garbage).
 */
export function expNonPos(x: number): number {
  if (x < EXP_NONPOS_MIN) return 0;
  const k = (0.5 - x * C) | 0;
  const r = x + k * D;
  return TABLE[k]! * (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120))))));
}
