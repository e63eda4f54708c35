/**
 * The reverse dictionary as an application of the extreme classifier (Node only): the same model,
 * trainer, run folder and checkpoints (`xmcTask` through `trainXmcRun`), with its own test
 * metrics: accuracy@1/10/100 and the median rank of the best-ranked true headword, exact over all
 * headwords, on the seen and the unseen test definitions separately.
 * @module
 */
import type { MetricsRecord } from '../../harness/runFolder.js';
import { numRows } from '../../data/sparse.js';
import { trainXmcRun, type XmcRunOptions, type XmcRunResult, type XmcVariant } from '../xmc/run.js';
import type { XmcTrainer } from '../xmc/trainer.js';
import { rdictRanks, summarizeRanks, type RankSummary } from './metrics.js';

/** The application's name (checkpoints, `predict rdict`). */
export const RDICT_APP = 'rdict';

/** The metric columns of a reverse-dictionary report. */
export const RDICT_REPORT_METRICS = [
  { key: 'acc1', label: 'seen acc@1' },
  { key: 'acc10', label: 'seen acc@10' },
  { key: 'acc100', label: 'seen acc@100' },
  { key: 'unseenAcc10', label: 'unseen acc@10' },
  { key: 'loss', label: 'training loss' },
];

/** Seen and unseen metrics of a trainer whose test rows are `seen` seen rows, then unseen ones. */
export async function evaluateRdict(trainer: XmcTrainer, seen: number): Promise<{ seen: RankSummary; unseen: RankSummary }> {
  const test = trainer.split.test;
  const rows = Int32Array.from({ length: numRows(test) }, (_, i) => i);
  const q = trainer.model.encode(trainer.testX, rows);
  const ranks = await rdictRanks(q, trainer.model.table, test.labels);
  return { seen: summarizeRanks(ranks, 0, seen), unseen: summarizeRanks(ranks, seen, ranks.length) };
}

/** The variant of the classifier's run that evaluates like a reverse dictionary. */
export function rdictVariant(seen: number): XmcVariant {
  return {
    app: RDICT_APP,
    reportMetrics: RDICT_REPORT_METRICS,
    evaluate: async (trainer) => {
      const m = await evaluateRdict(trainer, seen);
      const s = m.seen;
      const u = m.unseen;
      const values: Record<string, number> = {
        acc1: s.acc1, acc10: s.acc10, acc100: s.acc100, medianRank: s.medianRank, seenRows: s.rows,
        unseenAcc1: u.acc1, unseenAcc10: u.acc10, unseenAcc100: u.acc100, unseenMedianRank: u.medianRank, unseenRows: u.rows,
      };
      for (const k of Object.keys(values)) if (Number.isNaN(values[k])) delete values[k];
      const fmt = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(4));
      const line = `seen acc@1 ${fmt(s.acc1)} @10 ${fmt(s.acc10)} @100 ${fmt(s.acc100)} median rank ${s.medianRank}; ` +
        `unseen acc@10 ${fmt(u.acc10)} @100 ${fmt(u.acc100)} median rank ${u.medianRank}`;
      return { values, line };
    },
  };
}

/** Options of {@link trainRdictRun}: those of the classifier's run and the number of seen test rows. */
export interface RdictRunOptions extends Omit<XmcRunOptions, 'variant'> {
  /** Test rows `0 … seen−1` are the seen definitions. */
  seen: number;
}

/**
 * Trains (or resumes) a reverse-dictionary run: `trainXmcRun` with {@link rdictVariant}.
 * @throws as `trainXmcRun`
 */
export async function trainRdictRun(o: RdictRunOptions): Promise<XmcRunResult> {
  const { seen, ...rest } = o;
  return trainXmcRun({ ...rest, variant: rdictVariant(seen) });
}

/** The figures of a run's last record as one line. */
export function rdictSummaryLine(r: MetricsRecord): string {
  const f = (k: string): string => (typeof r[k] === 'number' ? (r[k] as number).toFixed(4) : '-');
  const g = (k: string): string => (typeof r[k] === 'number' ? String(r[k]) : '-');
  return `seen: acc@1 ${f('acc1')} acc@10 ${f('acc10')} acc@100 ${f('acc100')} median rank ${g('medianRank')}; ` +
    `unseen: acc@1 ${f('unseenAcc1')} acc@10 ${f('unseenAcc10')} acc@100 ${f('unseenAcc100')} median rank ${g('unseenMedianRank')}; after ${r['epoch']} epochs, train ${Number(r['trainSec']).toFixed(1)} s`;
}
