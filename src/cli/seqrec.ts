/**
 * `samplex train seqrec` and `samplex compare seqrec`: SASRec next-item recommendation trained
 * with a sampled (or the full) softmax through the TensorFlow.js adapter, evaluated by full
 * ranking on the leave-one-out split.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ClassTable } from '../core/classTable.js';
import { IoError, OptionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { choiceOption, intOption, numOption } from '../core/validate.js';
import { CONVENTIONS, type Convention } from '../loss/types.js';
import { buildSequences, DEFAULT_MIN_INTERACTIONS, leaveOneOut, type InteractionLog, type LeaveOneOutSplit } from '../data/interactions.js';
import { defaultCacheDir, isRecDataset, loadRecDataset, readMovielensRatings } from '../data/movielens.js';
import { OutputLayer } from '../layer/outputLayer.js';
import { createOptimizer } from '../layer/optimizers.js';
import { tableInKernelMemory, type FastKernels } from '../kernels/fast.js';
import { trainingReportHtml, type TrainingRun } from '../report/training.js';
import { createSamplerFor } from '../samplers/factory.js';
import { loadTfjs } from '../tfjs/node.js';
import type { Sampler } from '../samplers/types.js';
import { RunDir, type MetricsRecord } from '../train/runDir.js';
import { seqRecHead } from '../rec/head.js';
import { runSeqRec, type SeqRecRunResult, type SeqRecSelection } from '../rec/run.js';
import type { Tf } from '../rec/sasrec.js';
import { SeqRecTrainer } from '../rec/trainer.js';
import { TfOutputHead } from '../tfjs/adapter.js';
import { withKernels } from './main.js';
import { commandGroup } from './groups.js';
import { addLossOptions, addNegativeSourceOptions, lossSettings, negativeSourceSettings, type LossSettings, type NegativeSourceSettings } from './lossOptions.js';
import { StreamingFrequencyEstimator } from '../samplers/frequency.js';

/** Samplers `--sampler` accepts: `full` (exact softmax over all items) or a registered sampler. */
export const SEQREC_SAMPLERS = ['full', 'uniform', 'unigram', 'learnedUnigram', 'quadratic', 'rff', 'midx'] as const;

/** Options of `samplex train seqrec` (strings as given on the command line). */
export interface SeqRecCommandOptions {
  data: string;
  cache?: string;
  minInteractions: string;
  sampler: string;
  negatives: string;
  codewords: string;
  stage: string;
  convention: string;
  refreshEvery: string;
  denseUpdates?: boolean;
  epochs: string;
  select: string;
  patience: string;
  batchSize: string;
  lr: string;
  itemLr?: string;
  dim: string;
  maxLen: string;
  blocks: string;
  heads: string;
  dropout: string;
  seed: string;
  out: string;
  resume?: boolean;
  kernels: string;
  backend: string;
  progress?: boolean;
  json?: boolean;
  /** `--loss` (see cli/lossOptions.ts). */
  loss?: string;
  /** `--keep-accidental-hits`. */
  keepAccidentalHits?: boolean;
  negativeSource?: string;
  frequencyBuckets?: string;
  frequencyAlpha?: string;
}

/** Settings resolved from {@link SeqRecCommandOptions}. */
interface Settings {
  data: string;
  minInteractions: number;
  negatives: number;
  codewords: number;
  /** midx last stage. */
  stage: 'uniform' | 'pop' | 'residual' | 'softmax';
  /** Sampled-loss estimator. */
  convention: Convention;
  /** The sampled loss. */
  loss: LossSettings['loss'];
  /** Mask accidental hits. */
  removeAccidentalHits: boolean;
  /** Where the negatives come from. */
  negativeSource: NegativeSourceSettings['negativeSource'];
  /** Buckets of the in-batch frequency estimate (0: uncorrected). */
  frequencyBuckets: number;
  /** Learning rate of the in-batch frequency estimate. */
  frequencyAlpha: number;
  /** Rebuild an adaptive sampler every this many steps instead of updating it every step (0: update every step). */
  refreshEvery: number;
  /** The item-table optimizer steps every row each step (zero gradient for the untouched ones). */
  denseUpdates: boolean;
  epochs: number;
  /** Which state the test evaluation uses. */
  select: SeqRecSelection;
  /** Early stop after this many epochs without a better validation nDCG@10 (0: never). */
  patience: number;
  batchSize: number;
  lr: number;
  itemLr: number;
  dim: number;
  maxLen: number;
  blocks: number;
  heads: number;
  dropout: number;
  seed: number;
  backend: 'cpu' | 'wasm';
}

/** The loss flags (single-label rows: the label weighting does not apply). */
function lossOf(o: SeqRecCommandOptions): Pick<Settings, 'loss' | 'removeAccidentalHits'> {
  const { loss, removeAccidentalHits } = lossSettings(o);
  return { loss, removeAccidentalHits };
}

function settings(o: SeqRecCommandOptions): Settings {
  const int = (v: string, what: string, lo: number, hi?: number): number => intOption(Number(v), what, lo, hi);
  const num = (v: string, what: string, lo: number, hi?: number): number => numOption(Number(v), what, lo, hi);
  const lr = num(o.lr, '--lr', 0);
  return {
    data: o.data,
    minInteractions: int(o.minInteractions, '--min-interactions', 3),
    negatives: int(o.negatives, '--negatives', 1),
    codewords: int(o.codewords, '--codewords', 1, 4096),
    stage: choiceOption(o.stage, '--stage', ['uniform', 'pop', 'residual', 'softmax'] as const),
    convention: choiceOption(o.convention, '--convention', CONVENTIONS),
    ...lossOf(o),
    ...negativeSourceSettings(o),
    refreshEvery: int(o.refreshEvery, '--refresh-every', 0),
    denseUpdates: o.denseUpdates ?? false,
    epochs: int(o.epochs, '--epochs', 0),
    select: choiceOption(o.select, '--select', ['best-valid', 'last'] as const),
    patience: int(o.patience, '--patience', 0),
    batchSize: int(o.batchSize, '--batch-size', 1),
    lr,
    itemLr: o.itemLr === undefined ? lr : num(o.itemLr, '--item-lr', 0),
    dim: int(o.dim, '--dim', 1),
    maxLen: int(o.maxLen, '--max-len', 1, 4096),
    blocks: int(o.blocks, '--blocks', 0, 64),
    heads: int(o.heads, '--heads', 1),
    dropout: num(o.dropout, '--dropout', 0, 0.99),
    seed: int(o.seed, '--seed', 0, 2 ** 32 - 1),
    backend: choiceOption(o.backend, '--backend', ['cpu', 'wasm'] as const),
  };
}

/** Loads `--data`: a cached dataset name or a MovieLens-format `ratings.csv`, split leave-one-out. */
export function loadSplit(data: string, cache: string | undefined, minInteractions: number): LeaveOneOutSplit {
  let log: InteractionLog;
  if (isRecDataset(data)) log = loadRecDataset(data, cache ?? defaultCacheDir());
  else if (existsSync(data)) log = readMovielensRatings(data);
  else throw new IoError(`--data ${data}: neither a known dataset (movielens-small) nor an existing ratings.csv; check the name or path`);
  return leaveOneOut(buildSequences(log, { minInteractions }));
}

/** The sampler of `name` for the item table (`full` carries a uniform sampler that its full-softmax head never uses). */
function samplerFor(name: string, split: LeaveOneOutSplit, s: Settings): Sampler {
  const data = { n: split.sequences.numItems, counts: split.trainItemCounts, seed: s.seed };
  return createSamplerFor(name === 'full' ? 'uniform' : name, data, name === 'midx' ? { codewords: s.codewords, stage: s.stage } : {});
}

/** Loads TensorFlow.js on `backend`; on wasm with samplex's kernels (the stock wasm backend lacks gather's gradient and is slow on transposed products). */
async function loadTf(backend: 'cpu' | 'wasm'): Promise<Tf> {
  const tf = await loadTfjs(backend);
  await tf.ready();
  if (backend === 'wasm') {
    const { registerSamplexKernels } = await import('../tfjs/wasmKernels.js');
    await registerSamplexKernels(tf, { backends: ['wasm'] });
  }
  return tf;
}

/** Builds the trainer for one sampler (the item table, its sampler, sparse Adam and the adapter head). */
function buildTrainer(tf: Tf, split: LeaveOneOutSplit, sampler: string, s: Settings, fast: FastKernels): { trainer: SeqRecTrainer; tfHead: TfOutputHead } {
  if (sampler === 'full' && s.negativeSource !== 'sampler') {
    throw new OptionError(`--negative-source ${s.negativeSource} applies to a sampled loss; the 'full' sampler trains the exact softmax`);
  }
  if (sampler === 'full' && (s.loss !== 'softmax' || !s.removeAccidentalHits)) {
    throw new OptionError(`--loss ${s.loss}${s.removeAccidentalHits ? '' : ' --keep-accidental-hits'} applies to a sampled loss; the 'full' sampler trains the exact softmax`);
  }
  const n = split.sequences.numItems;
  // the item table and Adam's moments live in the kernels' memory: the sampled loss gathers rows
  // and the optimizer updates them in place, with no staging copies
  const table = tableInKernelMemory(fast, ClassTable.init(n, s.dim, Rng.fromSeed(s.seed, 2), { scale: 1 / Math.sqrt(s.dim) }));
  const layer = new OutputLayer({
    table,
    sampler: samplerFor(sampler, split, s),
    optimizer: createOptimizer('adam', { lr: s.itemLr, beta2: 0.98 }, { f32: fast.allocF32, i32: fast.allocI32 }),
    negatives: Math.min(s.negatives, n - 1),
    convention: s.convention,
    loss: s.loss,
    removeAccidentalHits: s.removeAccidentalHits,
    negativeSource: s.negativeSource,
    frequency: s.frequencyBuckets > 0 ? new StreamingFrequencyEstimator({ buckets: s.frequencyBuckets, alpha: s.frequencyAlpha }) : null,
    rebuildEvery: s.refreshEvery,
    stepUpdates: s.refreshEvery === 0,
    denseUpdates: s.denseUpdates,
  });
  const tfHead = new TfOutputHead(tf, layer, { loss: sampler === 'full' ? 'full' : 'sampled' });
  const trainer = new SeqRecTrainer(tf, {
    split,
    head: seqRecHead(tfHead),
    seed: s.seed,
    batchSize: s.batchSize,
    lr: s.lr,
    model: { maxLen: s.maxLen, blocks: s.blocks, heads: s.heads, dropout: s.dropout },
  });
  return { trainer, tfHead };
}

function configOf(sampler: string, s: Settings): Record<string, string | number | boolean> {
  const { epochs: _epochs, backend: _backend, select: _select, patience: _patience, ...rest } = s;
  return {
    sampler,
    ...rest,
    ...(sampler === 'midx' ? {} : { codewords: 0, stage: '-' }),
    ...(sampler === 'full' ? { negatives: 0, convention: '-', loss: '-' } : {}),
  };
}

/** The report's metrics. */
const REPORT_METRICS = [
  { key: 'ndcg@10', label: 'valid nDCG@10' },
  { key: 'recall@10', label: 'valid Recall@10' },
  { key: 'ndcg@20', label: 'valid nDCG@20' },
  { key: 'recall@20', label: 'valid Recall@20' },
  { key: 'loss', label: 'training loss (of the run\'s own estimator)' },
];

function curve(name: string, records: readonly MetricsRecord[]): TrainingRun {
  return {
    name,
    points: records.map((r) => ({
      epoch: Number(r['epoch']),
      wallSec: Number(r['wallSec']),
      values: Object.fromEntries(REPORT_METRICS.map((m) => [m.key, Number(r[m.key])])),
    })),
  };
}

function summaryRow(name: string, r: SeqRecRunResult): (string | number)[] {
  const last = r.records[r.records.length - 1];
  const f = (v: unknown): string => (typeof v === 'number' ? v.toFixed(4) : '-');
  const epochs = r.records.length;
  return [
    name,
    f(r.test['ndcg@10']),
    f(r.test['ndcg@20']),
    f(r.test['recall@10']),
    f(r.test['recall@20']),
    epochs,
    r.selectedEpoch,
    last ? (Number(last['wallSec']) / epochs).toFixed(2) : '-',
    last ? (r.records.reduce((a, x) => a + Number(x['outputMsPerStep']), 0) / epochs).toFixed(2) : '-',
  ];
}

const SUMMARY_HEAD = ['run', 'test nDCG@10', 'test nDCG@20', 'test Recall@10', 'test Recall@20', 'epochs', 'test epoch', 'train s/epoch', 'output-layer ms/step'];

function dataSettings(split: LeaveOneOutSplit, s: Settings): Record<string, string | number> {
  return {
    data: s.data,
    users: split.sequences.numUsers,
    items: split.sequences.numItems,
    'evaluation': 'full ranking over all items, each user\'s earlier items excluded except the target; leave-one-out (valid: 2nd-to-last, test: last)',
    'model': `SASRec d=${s.dim}, ${s.blocks} blocks, ${s.heads} head(s), L=${s.maxLen}, dropout ${s.dropout}, tied item embeddings`,
    'test state': s.select === 'best-valid' ? 'the epoch with the best validation nDCG@10' : 'the last epoch trained',
    ...(s.patience > 0 ? { 'early stop': `after ${s.patience} epochs without a better validation nDCG@10` } : {}),
    'training': `batch ${s.batchSize}, Adam lr ${s.lr} (items: sparse Adam lr ${s.itemLr}), negatives m=${s.negatives} (${s.convention}), midx codewords ${s.codewords}, last stage ${s.stage}`,
    seed: s.seed,
  };
}

/** Trains one sampler in `out` (resuming when asked) and returns its result. */
function trainOne(
  tf: Tf, fast: FastKernels, split: LeaveOneOutSplit, sampler: string, s: Settings, out: string, o: SeqRecCommandOptions, print: (l: string) => void,
): SeqRecRunResult {
  const { trainer, tfHead } = buildTrainer(tf, split, sampler, s, fast);
  try {
    if (o.resume === true && s.frequencyBuckets > 0) {
      throw new OptionError('--resume: the streaming frequency estimate of the in-batch negatives is not checkpointed; start a new run');
    }
    const dir = RunDir.open(out, { resume: o.resume === true });
    dir.writeJson('settings.json', { sampler, ...s });
    const res = runSeqRec({
      trainer,
      dir,
      epochs: s.epochs,
      select: s.select,
      patience: s.patience,
      config: configOf(sampler, s),
      name: sampler,
      progress: o.progress === false ? null : process.stderr,
      onRecord: (r) => {
        if (o.json) print(JSON.stringify(r));
        else {
          const m = (k: string): string => (typeof r[k] === 'number' ? (r[k] as number).toFixed(4) : '-');
          print(`${sampler} ${r['split']} epoch ${r['epoch']}: nDCG@10 ${m('ndcg@10')} nDCG@20 ${m('ndcg@20')} R@10 ${m('recall@10')} R@20 ${m('recall@20')}` +
            (r['split'] === 'valid' ? ` loss ${m('loss')} train ${Number(r['wallSec']).toFixed(1)}s` : ` (state of epoch ${r['epoch']}, ${r['selectedBy']}; ${r['trainedEpochs']} epochs trained${r['stoppedEarly'] ? ', stopped early' : ''})`));
        }
      },
    });
    dir.writeText(
      'report.html',
      trainingReportHtml({
        title: `samplex train seqrec: ${sampler}`,
        settings: { sampler, ...dataSettings(split, s) },
        runs: [curve(sampler, res.records)],
        metrics: REPORT_METRICS,
        summary: { head: SUMMARY_HEAD, rows: [summaryRow(sampler, res)] },
      }),
    );
    return res;
  } finally {
    trainer.dispose();
    tfHead.dispose();
  }
}

/** Runs `samplex train seqrec`. */
export async function trainSeqRecCommand(o: SeqRecCommandOptions, print: (l: string) => void): Promise<SeqRecRunResult> {
  const s = settings(o);
  const sampler = choiceOption(o.sampler, '--sampler', SEQREC_SAMPLERS);
  const split = loadSplit(s.data, o.cache, s.minInteractions);
  const tf = await loadTf(s.backend);
  return withKernels(o.kernels, (fast) => {
    const res = trainOne(tf, fast, split, sampler, s, o.out, o, print);
    process.stderr.write(`run written to ${o.out} (metrics.jsonl, checkpoint, test.json, report.html)\n`);
    return res;
  });
}

/** Runs `samplex compare seqrec`: every sampler of the list in `out/<sampler>`, then one report. */
export async function compareSeqRecCommand(o: SeqRecCommandOptions & { samplers: string }, print: (l: string) => void): Promise<Record<string, SeqRecRunResult>> {
  const s = settings(o);
  const names = o.samplers.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (names.length === 0) throw new OptionError('--samplers: give a comma-separated list, e.g. full,uniform,midx');
  for (const n of names) choiceOption(n, '--samplers entry', SEQREC_SAMPLERS);
  const split = loadSplit(s.data, o.cache, s.minInteractions);
  const tf = await loadTf(s.backend);
  return withKernels(o.kernels, (fast) => {
    const results: Record<string, SeqRecRunResult> = {};
    for (const name of names) results[name] = trainOne(tf, fast, split, name, s, join(o.out, name), o, print);
    const rows = names.map((n) => summaryRow(n, results[n]!));
    const full = results['full'];
    const head = [...SUMMARY_HEAD, 'nDCG@10 vs full'];
    const rel = (n: string): string => (full ? `${(100 * (results[n]!.test['ndcg@10']! / full.test['ndcg@10']! - 1)).toFixed(1)}%` : '-');
    const report = trainingReportHtml({
      title: 'samplex compare seqrec',
      settings: { samplers: names.join(', '), ...dataSettings(split, s) },
      runs: names.map((n) => curve(n, results[n]!.records)),
      metrics: REPORT_METRICS,
      summary: { head, rows: rows.map((r, i) => [...r, rel(names[i]!)]) },
    });
    const dir = RunDir.open(o.out, { resume: true });
    dir.writeText('report.html', report);
    dir.writeJson('summary.json', Object.fromEntries(names.map((n) => [n, results[n]!.testRecord])));
    for (const r of rows) if (!o.json) print(`test ${r.join('  ')}`);
    process.stderr.write(`comparison written to ${o.out} (one run directory per sampler, report.html, summary.json)\n`);
    return results;
  });
}

function addOptions(c: Command): Command {
  return addNegativeSourceOptions(addLossOptions(c, { labelWeighting: false }))
    .option('--data <name|file>', 'movielens-small (cached by `samplex data fetch`) or a MovieLens-format ratings.csv', 'movielens-small')
    .option('--cache <dir>', 'cache directory of the named datasets')
    .option('--min-interactions <n>', 'drop users with fewer interactions (≥ 3)', String(DEFAULT_MIN_INTERACTIONS))
    .option('--negatives <m>', 'negatives per position for the sampled softmax', '100')
    .option('--codewords <K>', 'midx codewords per codebook', '32')
    .option('--stage <s>', 'midx last stage: uniform | pop | residual | softmax (a class in proportion to its exact logit within the drawn bucket)', 'uniform')
    .option('--convention <c>', 'sampled-loss estimator: exclusive | maskedExclusive | correctedAll', 'exclusive')
    .option('--refresh-every <k>', 'rebuild an adaptive sampler every k steps instead of updating it every step (0: update it every step)', '100')
    .option('--dense-updates', 'step every item row each step (zero gradient for the rows not sampled), as the full softmax does, instead of the touched rows only')
    .option('--epochs <n>', 'training epochs', '50')
    .option('--select <which>', 'state the test evaluation uses: best-valid (the epoch with the best validation nDCG@10) | last', 'best-valid')
    .option('--patience <k>', 'stop after k epochs without a better validation nDCG@10 (0: train every epoch)', '0')
    .option('--batch-size <B>', 'user sequences per batch', '128')
    .option('--lr <lr>', 'Adam learning rate of the dense parameters', '0.001')
    .option('--item-lr <lr>', 'sparse Adam learning rate of the item table (default: --lr)')
    .option('--dim <d>', 'embedding dimension', '64')
    .option('--max-len <L>', 'maximum sequence length', '50')
    .option('--blocks <n>', 'self-attention blocks', '2')
    .option('--heads <h>', 'attention heads (must divide --dim)', '1')
    .option('--dropout <p>', 'dropout rate', '0.2')
    .option('--seed <s>', 'random seed', '1')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--backend <b>', 'tfjs backend: wasm (with the samplex matrix kernels) | cpu', 'wasm')
    .option('--kernels <path>', 'samplex dense math: auto | fma | simd | ts', 'auto')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print every metrics record as one JSON line');
}

/** Adds `train seqrec` and `compare seqrec` under the `train` and `compare` commands (created when missing). */
export function addSeqRecCommands(program: Command, print: (line: string) => void): void {
  addOptions(
    commandGroup(program, 'train')
      .command('seqrec')
      .description('SASRec next-item recommendation (tfjs) with a sampled or the full softmax; full-ranking nDCG/Recall on leave-one-out'),
  )
    .option('--sampler <name>', `${SEQREC_SAMPLERS.join(' | ')}`, 'midx')
    .requiredOption('--out <dir>', 'run directory (metrics.jsonl, checkpoint, test.json, report.html)')
    .action(async (o: SeqRecCommandOptions) => {
      await trainSeqRecCommand(o, print);
    });
  addOptions(
    commandGroup(program, 'compare')
      .command('seqrec')
      .description('SASRec with each sampler of --samplers; one run directory per sampler and a joint report'),
  )
    .option('--samplers <list>', 'comma-separated samplers', SEQREC_SAMPLERS.join(','))
    .requiredOption('--out <dir>', 'output directory (one run directory per sampler, report.html, summary.json)')
    .action(async (o: SeqRecCommandOptions & { samplers: string }) => {
      await compareSeqRecCommand(o, print);
    });
}
