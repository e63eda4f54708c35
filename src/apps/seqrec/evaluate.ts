/**
 * Full-ranking evaluation of next-item recommendation: every user's query vector is scored
 * against all items, the items of the user's input sequence are left out of the ranking (except
 * the target itself, when the user saw it before), and nDCG@k / Recall@k of the single target
 * are averaged over users. No sampled metrics.
 * @module
 */
import type { ClassTable } from '../../core/classTable.js';
import { OptionError, ShapeError } from '../../core/errors.js';
import { singleLabels, type Labels, type Matrix } from '../../core/matrix.js';
import { intOption } from '../../core/validate.js';
import { evaluateMetrics } from '../../layer/evaluator.js';

/** The default cut-offs of {@link rankTargets}: nDCG@10, nDCG@20, Recall@10, Recall@20. */
export const SEQREC_CUTOFFS: readonly number[] = [10, 20];

/** Metrics of {@link rankTargets}, keyed `ndcg@k` and `recall@k` for every cut-off, plus `nll`. */
export type RankingMetrics = Record<string, number>;

/**
 * Ranks one target per user against all `n` items of `table` and returns the mean nDCG@k and
 * Recall@k per cut-off (`ndcg@10`, `recall@10`, …) and the full-softmax NLL of the targets
 * (`nll`, nats, over all items, exclusions included).
 *
 * With one relevant item, nDCG@k is `1/log2(rank + 1)` when the target's 1-based rank is ≤ k
 * (else 0) and Recall@k is 1 or 0 (the hit rate). Ties rank the smaller id first.
 * @param queries `[U, d]` one query vector per user (the model's output at the last position)
 * @param targets `[U]` the target item per user
 * @param exclude `U` rows of items to leave out of each user's ranking; use
 *   `EvalSplit.exclude` of `leaveOneOut`, which holds the user's earlier items without the target
 * @param cutoffs the cut-offs (default {@link SEQREC_CUTOFFS}); each in `[1, n]`
 * @throws ShapeError (sizes disagree), OptionError (bad cut-offs), LabelRangeError, NonFiniteError
 */
export function rankTargets(
  queries: Matrix,
  table: ClassTable,
  targets: Int32Array,
  exclude: Labels,
  cutoffs: readonly number[] = SEQREC_CUTOFFS,
): RankingMetrics {
  if (targets.length !== queries.rows) {
    throw new ShapeError(`rankTargets: ${targets.length} targets for ${queries.rows} query rows; pass one target per user`);
  }
  if (cutoffs.length === 0) throw new OptionError('rankTargets: cutoffs must be a non-empty list, e.g. [10, 20]');
  for (const k of cutoffs) intOption(k, 'rankTargets cut-off', 1, table.n);
  const m = evaluateMetrics(queries, table, singleLabels(targets), { ks: cutoffs, exclude });
  const out: RankingMetrics = {};
  for (const k of cutoffs) out[`ndcg@${k}`] = m.ndcg[k]!;
  for (const k of cutoffs) out[`recall@${k}`] = m.recall[k]!;
  out.nll = m.nll;
  return out;
}
