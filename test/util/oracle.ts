/**
 * Brute-force oracles shared by the sampler tests.
 */
import assert from 'node:assert/strict';

/** Histogram of `ids` over `[0, n)`. */
export function histogram(ids: ArrayLike<number>, n: number): Float64Array {
  const h = new Float64Array(n);
  for (let i = 0; i < ids.length; i++) h[ids[i]!]!++;
  return h;
}

/** Asserts `|a − b| ≤ tol·max(1, |b|)` (relative, absolute near 0). */
export function assertRelClose(a: number, b: number, tol: number, what: string): void {
  if (a === b) return;
  const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
  assert.ok(err <= tol, `${what}: ${a} vs ${b} (relative error ${err} > ${tol})`);
}

/** `p` renormalized with the ids in `excluded` set to zero. */
export function renormalize(p: ArrayLike<number>, excluded: Iterable<number>): Float64Array {
  const out = Float64Array.from(p as ArrayLike<number>);
  for (const e of excluded) out[e] = 0;
  let s = 0;
  for (const v of out) s += v;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / s;
  return out;
}

/** Exact law of "draw with replacement from q until m distinct ids are seen" (small n only). */
export interface UniqueLaw {
  /** Probability of each unordered set, keyed by its ids sorted and joined by ','. */
  sets: Map<string, number>;
  /** P(id ∈ S). */
  inclusion: Float64Array;
  /** E[1 − (1 − q_id)^T]: the mean of the reported (TensorFlow-convention) inclusion probability. */
  reported: Float64Array;
  /** E[T]. */
  meanTries: number;
}

/**
 * Enumerates every ordered sequence of m distinct ids: P(seq) = Π q_k / (1 − S_k) with S_k the mass
 * of the ids already seen; given the sequence, the tries for the k-th new id are Geometric(1 − S_k),
 * so E[x^T | seq] = Π (1 − S_k) x / (1 − S_k x).
 */
export function uniqueLaw(q: ArrayLike<number>, m: number): UniqueLaw {
  const n = q.length;
  const sets = new Map<string, number>();
  const inclusion = new Float64Array(n);
  const reported = new Float64Array(n);
  let meanTries = 0;
  const seq: number[] = [];
  const used = new Uint8Array(n);
  const rec = (p: number, seen: number, et: number): void => {
    if (seq.length === m) {
      const key = [...seq].sort((a, b) => a - b).join(',');
      sets.set(key, (sets.get(key) ?? 0) + p);
      for (const id of seq) inclusion[id]! += p;
      meanTries += p * et;
      // E[(1 − q_i)^T | seq] = Π_k (1 − S_k) x / (1 − S_k x), x = 1 − q_i, S_k = mass seen before the k-th new id
      for (let i = 0; i < n; i++) {
        const x = 1 - q[i]!;
        let g = 1;
        let s = 0;
        for (const id of seq) {
          g *= ((1 - s) * x) / (1 - s * x);
          s += q[id]!;
        }
        reported[i]! += p * (1 - g);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      if (used[i] || q[i]! === 0) continue;
      used[i] = 1;
      seq.push(i);
      rec(p * (q[i]! / (1 - seen)), seen + q[i]!, et + 1 / (1 - seen));
      seq.pop();
      used[i] = 0;
    }
  };
  rec(1, 0, 0);
  return { sets, inclusion, reported, meanTries };
}
