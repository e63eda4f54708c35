/**
 * Statistical helpers: chi-square goodness of fit with an exact p-value (regularized
 * incomplete gamma), used by the test suite and by diagnostics.
 * @module
 */

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), |rel err| < 1e-15 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(s, x) = Γ(s, x)/Γ(s). */
export function gammaQ(s: number, x: number): number {
  if (x <= 0) return 1;
  if (x < s + 1) {
    // series for P
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 100000; n++) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - Math.exp(-x + s * Math.log(x) - logGamma(s)) * sum);
  }
  // continued fraction for Q (Lentz)
  let b = x + 1 - s;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100000; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + s * Math.log(x) - logGamma(s)) * h;
}

/** Result of {@link chiSquareTest}. */
export interface ChiSquareResult {
  statistic: number;
  dof: number;
  pValue: number;
  /** Number of bins after pooling cells with small expected counts. */
  bins: number;
}

/**
 * Pearson chi-square goodness of fit of `observed` counts against `probs` (summing to 1).
 * Cells with expected count below `minExpected` are pooled into one bin so the
 * chi-square approximation holds.
 */
export function chiSquareTest(observed: ArrayLike<number>, probs: ArrayLike<number>, minExpected = 5): ChiSquareResult {
  let total = 0;
  for (let i = 0; i < observed.length; i++) total += observed[i]!;
  let stat = 0;
  let bins = 0;
  let poolObs = 0;
  let poolExp = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i]! * total;
    const o = observed[i]!;
    if (e < minExpected) {
      poolObs += o;
      poolExp += e;
      continue;
    }
    stat += ((o - e) * (o - e)) / e;
    bins++;
  }
  if (poolExp > 0) {
    if (poolExp >= 1e-12) {
      stat += ((poolObs - poolExp) * (poolObs - poolExp)) / poolExp;
      bins++;
    } else if (poolObs > 0) {
      stat = Infinity;
    }
  }
  const dof = Math.max(1, bins - 1);
  return { statistic: stat, dof, pValue: stat === Infinity ? 0 : gammaQ(dof / 2, stat / 2), bins };
}
