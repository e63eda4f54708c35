/**
 * Synthetic user sequences for the sequential-recommendation tests.
 */
import type { Rng } from '../../src/core/rng.js';
import type { UserSequences } from '../../src/data/interactions.js';

/** Sequences as {@link UserSequences} (times = positions, raw ids = dense ids). */
export function sequencesOf(seqs: readonly (readonly number[])[], n: number): UserSequences {
  const offsets = new Int32Array(seqs.length + 1);
  const items: number[] = [];
  seqs.forEach((s, u) => {
    items.push(...s);
    offsets[u + 1] = items.length;
  });
  const itemCounts = new Int32Array(n);
  for (const i of items) itemCounts[i]!++;
  return {
    numUsers: seqs.length,
    numItems: n,
    userIds: seqs.map((_, u) => String(u)),
    itemIds: Array.from({ length: n }, (_, i) => String(i)),
    offsets,
    items: Int32Array.from(items),
    times: Float64Array.from(items, (_, k) => k),
    itemCounts,
    droppedUsers: 0,
    droppedInteractions: 0,
  };
}

/**
 * Deterministic next-item cycles: each user starts at a random item and follows
 * `i → (7i + 3) mod n` (a permutation when gcd(7, n) = 1) for `minLen..maxLen` items.
 */
export function cycleSequences(rng: Rng, users: number, n: number, minLen: number, maxLen: number): UserSequences {
  const seqs: number[][] = [];
  for (let u = 0; u < users; u++) {
    const len = minLen + rng.int(maxLen - minLen + 1);
    const s = [rng.int(n)];
    while (s.length < len) s.push((7 * s[s.length - 1]! + 3) % n);
    seqs.push(s);
  }
  return sequencesOf(seqs, n);
}
