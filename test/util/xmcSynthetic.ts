/**
 * A small synthetic extreme-classification split for tests: each label owns a few signature
 * words; a row has one or two labels, some of their signature words and some noise words.
 */
import { Rng } from '../../src/core/rng.js';
import { SparseBuilder, type DatasetSplit } from '../../src/data/sparse.js';

/** Options of {@link syntheticXmc}. */
export interface SyntheticXmcOptions {
  labels?: number;
  /** Vocabulary size; the last `unused` words occur in no row. */
  words?: number;
  unused?: number;
  train?: number;
  test?: number;
  seed?: number;
  /** Chance that a row gets a second label (default 0.4; 0: single-label data). */
  secondLabel?: number;
}

/** Builds the split (token sequences kept, names set so it exports to fastText). */
export function syntheticXmc(o: SyntheticXmcOptions = {}): DatasetSplit {
  const L = o.labels ?? 30;
  const W = o.words ?? 200;
  const unused = o.unused ?? 10;
  const sig = 4;
  const used = W - unused;
  const rng = Rng.fromSeed(o.seed ?? 7);
  const make = (rows: number): SparseBuilder => {
    const b = new SparseBuilder();
    for (let r = 0; r < rows; r++) {
      const labels = [rng.int(L)];
      if (rng.float() < (o.secondLabel ?? 0.4)) {
        const l2 = rng.int(L);
        if (l2 !== labels[0]) labels.push(l2);
      }
      const words: number[] = [];
      for (const l of labels) for (let k = 0; k < 3; k++) words.push((l * sig + rng.int(sig)) % used);
      for (let k = 0; k < 3; k++) words.push(L * sig + rng.int(used - L * sig));
      b.addTokens(words, labels);
    }
    return b;
  };
  const info = {
    numFeatures: W,
    numLabels: L,
    featureNames: Array.from({ length: W }, (_, i) => `w${i}`),
    labelNames: Array.from({ length: L }, (_, i) => `L${i}`),
  };
  return { train: make(o.train ?? 600).build(info), test: make(o.test ?? 200).build(info) };
}
