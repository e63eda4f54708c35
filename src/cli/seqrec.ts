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
import { DataFormatError, IoError, OptionError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { choiceOption, intArg, intOption, numArg, numOption } from '../core/validate.js';
import type { Convention } from '../loss/types.js';
import { buildSequences, DEFAULT_MIN_INTERACTIONS, leaveOneOut, type InteractionLog, type LeaveOneOutSplit } from '../data/interactions.js';
import { defaultCacheDir, isRecDataset, loadRecDataset, readMovielensRatings } from '../data/movielens.js';
import { OutputLayer } from '../layer/outputLayer.js';
import { createOptimizer } from '../layer/optimizers.js';
import { tableInKernelMemory, type FastKernels } from '../kernels/fast.js';
import { trainingReportHtml, type TrainingRun } from '../report/training.js';
import { createSamplerFor, samplerNames, samplerOptionNames } from '../samplers/factory.js';
import { loadTfjs } from '../tfjs/node.js';
import type { Sampler } from '../samplers/types.js';
import { RunFolder, specOf, type Json, type MetricsRecord } from '../harness/runFolder.js';
import { evaluate } from '../layer/evaluator.js';
import { compareRuns, type RunAll } from '../harness/compare.js';
import { seqRecHead } from '../apps/seqrec/head.js';
import { BEST_FILE, BEST_TENSORS, isLazySeqRecState, runSeqRec, seqRecDataFingerprint, type SeqRecBestMeta, type SeqRecRunResult, type SeqRecSelection } from '../apps/seqrec/run.js';
import { padLeft, type Tf } from '../apps/seqrec/sasrec.js';
import { SeqRecTrainer } from '../apps/seqrec/trainer.js';
import { TfOutputHead } from '../tfjs/adapter.js';
import { withKernels } from './kernels.js';
import { commandGroup } from './groups.js';
import { predictCommand, readInputLines } from './predictInput.js';
import { addTrainOptions, commonOf, headOf, numberOf, refuseReplaced, type TrainCliOptions, type TrainDefaults } from './trainOptions.js';
import { resolveHead, type OptionValue } from '../harness/head.js';

/** Samplers `--sampler` accepts: `full` (exact softmax over all items) or a registered sampler. */
export function seqRecSamplers(): string[] {
  return ['full', ...samplerNames()];
}

/** The samplers `compare seqrec` trains unless `--samplers` names others. */
export const SEQREC_COMPARE_SAMPLERS: readonly string[] = ['full', 'uniform', 'unigram', 'quadratic', 'rff', 'midx'];
import { addLossOptions, addNegativeSourceOptions, lossSettings, negativeSourceSettings, type LossSettings, type NegativeSourceSettings } from './lossOptions.js';
import { StreamingFrequencyEstimator } from '../samplers/frequency.js';

/** Options of `samplex train seqrec` (strings as given on the command line). */
export interface SeqRecCommandOptions extends TrainCliOptions {
  data: string;
  cache?: string;
  minInteractions: string;
  sampler: string;
  select: string;
  patience: string;
  itemLr?: string;
  maxLen: string;
  blocks: string;
  heads: string;
  dropout: string;
  out: string;
  backend: string;
  json?: boolean;
  /** `--loss` (see cli/lossOptions.ts). */
  loss?: string;
  /** `--keep-accidental-hits`. */
  keepAccidentalHits?: boolean;
  negativeSource?: string;
  frequencyBuckets?: string;
  frequencyAlpha?: string;
}

/** The recommender's defaults of the shared training options (midx: 32 codewords, uniform last stage). */
export const SEQREC_TRAIN_DEFAULTS: TrainDefaults = {
  negatives: 100, convention: 'exclusive', refreshEvery: '100', updates: 'sparse', batch: 128, epochs: 50, lr: 0.001, dim: 64, threads: 1, // no --threads: the step runs on one
  presets: { midx: { codewords: 32, stage: 'uniform' } }, perEpochRefresh: false,
};

/** Settings resolved from {@link SeqRecCommandOptions}. */
interface Settings {
  data: string;
  minInteractions: number;
  negatives: number;
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
  const int = (v: string, what: string, lo: number, hi?: number): number => intArg(v, what, lo, hi);
  const num = (v: string, what: string, lo: number, hi?: number): number => numArg(v, what, lo, hi);
  refuseReplaced(o);
  const c = commonOf(o);
  // the sampler-independent part of the head (each sampler's options are resolved in trainOne)
  const head = resolveHead({ sampler: '-', negatives: numberOf(o.negatives, '--negatives'), convention: o.convention, refresh: o.refreshEvery, updates: o.updates });
  if (head.refresh === 'epoch') throw new OptionError("--refresh-every epoch: seqrec does not rebuild samplers per epoch; give a number of steps or 'step'");
  return {
    data: o.data,
    minInteractions: int(o.minInteractions, '--min-interactions', 3),
    negatives: head.negatives,
    convention: head.convention,
    ...lossOf(o),
    ...negativeSourceSettings(o),
    refreshEvery: head.refresh === 'step' ? 0 : (head.refresh as { every: number }).every,
    denseUpdates: head.updates === 'dense',
    epochs: c.epochs,
    select: choiceOption(o.select, '--select', ['best-valid', 'last'] as const),
    patience: int(o.patience, '--patience', 0),
    batchSize: c.batch,
    lr: c.lr,
    itemLr: o.itemLr === undefined ? c.lr : num(o.itemLr, '--item-lr', 0),
    dim: c.dim,
    maxLen: int(o.maxLen, '--max-len', 1, 4096),
    blocks: int(o.blocks, '--blocks', 0, 64),
    heads: int(o.heads, '--heads', 1),
    dropout: num(o.dropout, '--dropout', 0, 0.99),
    seed: c.seed,
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
function samplerFor(name: string, split: LeaveOneOutSplit, s: Settings, options: Record<string, OptionValue>): Sampler {
  const data = { n: split.sequences.numItems, counts: split.trainItemCounts, seed: s.seed };
  return createSamplerFor(name === 'full' ? 'uniform' : name, data, name === 'full' ? {} : options);
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
function buildTrainer(tf: Tf, split: LeaveOneOutSplit, sampler: string, s: Settings, options: Record<string, OptionValue>, fast: FastKernels): { trainer: SeqRecTrainer; tfHead: TfOutputHead } {
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
    sampler: samplerFor(sampler, split, s, options),
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

function configOf(sampler: string, s: Settings, options: Record<string, OptionValue>): Record<string, string | number | boolean> {
  const { epochs: _epochs, backend: _backend, select: _select, patience: _patience, ...rest } = s;
  return {
    sampler,
    ...rest,
    ...Object.fromEntries(Object.entries(options).map(([k, v]) => [`opt.${k}`, v])),
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

function dataSettings(split: LeaveOneOutSplit, s: Settings, opt: readonly string[]): Record<string, string | number> {
  return {
    data: s.data,
    users: split.sequences.numUsers,
    items: split.sequences.numItems,
    'evaluation': 'full ranking over all items, each user\'s earlier items excluded except the target; leave-one-out (valid: 2nd-to-last, test: last)',
    'model': `SASRec d=${s.dim}, ${s.blocks} blocks, ${s.heads} head(s), L=${s.maxLen}, dropout ${s.dropout}, tied item embeddings`,
    'test state': s.select === 'best-valid' ? 'the epoch with the best validation nDCG@10' : 'the last epoch trained',
    ...(s.patience > 0 ? { 'early stop': `after ${s.patience} epochs without a better validation nDCG@10` } : {}),
    'training': `batch ${s.batchSize}, Adam lr ${s.lr} (items: sparse Adam lr ${s.itemLr}), negatives m=${s.negatives} (${s.convention}), sampler options ${[...Object.entries(SEQREC_TRAIN_DEFAULTS.presets).map(([n, p]) => `${n}: ${Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ')}`), ...opt].join(', ')}`,
    seed: s.seed,
  };
}

/** Trains one sampler in `out` (resuming when asked) and returns its result. */
async function trainOne(
  tf: Tf, fast: FastKernels, split: LeaveOneOutSplit, sampler: string, names: readonly string[], s: Settings, out: string, o: SeqRecCommandOptions, print: (l: string) => void,
): Promise<SeqRecRunResult> {
  const options = headOf(o, sampler, names, SEQREC_TRAIN_DEFAULTS).samplerOptions;
  const { trainer, tfHead } = buildTrainer(tf, split, sampler, s, options, fast);
  const report = (records: readonly MetricsRecord[], res?: SeqRecRunResult): string =>
    trainingReportHtml({
      title: `samplex train seqrec: ${sampler}`,
      settings: { sampler, ...dataSettings(split, s, o.opt) },
      runs: [curve(sampler, records.filter((r) => r['split'] === 'valid'))],
      metrics: REPORT_METRICS,
      ...(res ? { summary: { head: SUMMARY_HEAD, rows: [summaryRow(sampler, res)] } } : {}),
    });
  try {
    const res = await runSeqRec({
      trainer,
      out,
      resume: o.resume === true,
      data: seqRecDataFingerprint(split),
      epochs: s.epochs,
      select: s.select,
      patience: s.patience,
      config: configOf(sampler, s, options),
      name: sampler,
      progress: o.progress === false ? null : process.stderr,
      report,
      onRecord: (r) => {
        if (o.json) print(JSON.stringify(r));
        else {
          const m = (k: string): string => (typeof r[k] === 'number' ? (r[k] as number).toFixed(4) : '-');
          print(`${sampler} ${r['split']} epoch ${r['epoch']}: nDCG@10 ${m('ndcg@10')} nDCG@20 ${m('ndcg@20')} R@10 ${m('recall@10')} R@20 ${m('recall@20')}` +
            (r['split'] === 'valid' ? ` loss ${m('loss')} train ${Number(r['wallSec']).toFixed(1)}s` : ` (state of epoch ${r['epoch']}, ${r['selectedBy']}; ${r['trainedEpochs']} epochs trained${r['stoppedEarly'] ? ', stopped early' : ''})`));
        }
      },
    });
    return res;
  } finally {
    trainer.dispose();
    tfHead.dispose();
  }
}

/** Runs `samplex train seqrec`. */
export async function trainSeqRecCommand(o: SeqRecCommandOptions, print: (l: string) => void): Promise<SeqRecRunResult> {
  const s = settings(o);
  const sampler = choiceOption(o.sampler, '--sampler', seqRecSamplers());
  const split = loadSplit(s.data, o.cache, s.minInteractions);
  const tf = await loadTf(s.backend);
  return withKernels(o.kernels, async (fast) => {
    const res = await trainOne(tf, fast, split, sampler, [sampler], s, o.out, o, print);
    process.stderr.write(`run written to ${o.out} (metrics.jsonl, checkpoint, test.json, report.html)\n`);
    return res;
  });
}

/** Runs `samplex compare seqrec`: every sampler of the list in `out/<sampler>`, then one report and `summary.json`. */
export async function compareSeqRecCommand(o: SeqRecCommandOptions & { samplers: string }, print: (l: string) => void): Promise<Record<string, SeqRecRunResult>> {
  const s = settings(o);
  const { runs, report } = await compareRuns({
    out: o.out,
    samplers: o.samplers,
    valid: seqRecSamplers(),
    plan: (names) => {
      // every sampler's options are checked before anything trains (and resolved again in trainOne)
      for (const n of names) headOf(o, n, names, SEQREC_TRAIN_DEFAULTS);
      return s;
    },
    session: async (s, names, runAll: RunAll<SeqRecRunResult>) => {
      const split = loadSplit(s.data, o.cache, s.minInteractions);
      const tf = await loadTf(s.backend);
      const runs = await withKernels(o.kernels, (fast) => runAll((name, dir) => trainOne(tf, fast, split, name, names, s, dir, o, print)));
      const results = Object.fromEntries(runs.map((r) => [r.name, r.result]));
      const rows = runs.map((r) => summaryRow(r.name, r.result));
      const full = results['full'];
      const head = [...SUMMARY_HEAD, 'nDCG@10 vs full'];
      const rel = (n: string): string => (full ? `${(100 * (results[n]!.test['ndcg@10']! / full.test['ndcg@10']! - 1)).toFixed(1)}%` : '-');
      const html = trainingReportHtml({
        title: 'samplex compare seqrec',
        settings: { samplers: names.join(', '), ...dataSettings(split, s, o.opt) },
        runs: runs.map((r) => curve(r.name, r.result.records)),
        metrics: REPORT_METRICS,
        summary: { head, rows: rows.map((r, i) => [...r, rel(names[i]!)]) },
      });
      const summary: Json = Object.fromEntries(runs.map((r) => [r.name, r.result.testRecord as Json]));
      return { html, summary, rows };
    },
  });
  for (const r of report.rows) if (!o.json) print(`test ${r.join('  ')}`);
  process.stderr.write(`comparison written to ${o.out} (one run directory per sampler, report.html, summary.json)\n`);
  return Object.fromEntries(runs.map((r) => [r.name, r.result]));
}

function addOptions(c: Command, resume = false): Command {
  addNegativeSourceOptions(addLossOptions(c, { labelWeighting: false }));
  c.option('--data <name|file>', 'movielens-small (cached by `samplex data fetch`) or a MovieLens-format ratings.csv', 'movielens-small')
    .option('--cache <dir>', 'cache directory of the named datasets')
    .option('--min-interactions <n>', 'drop users with fewer interactions (≥ 3)', String(DEFAULT_MIN_INTERACTIONS))
    .option('--select <which>', 'state the test evaluation uses: best-valid (the epoch with the best validation nDCG@10) | last', 'best-valid')
    .option('--patience <k>', 'stop after k epochs without a better validation nDCG@10 (0: train every epoch)', '0')
    .option('--item-lr <lr>', 'sparse Adam learning rate of the item table (default: --lr)')
    .option('--max-len <L>', 'maximum sequence length', '50')
    .option('--blocks <n>', 'self-attention blocks', '2')
    .option('--heads <h>', 'attention heads (must divide --dim)', '1')
    .option('--dropout <p>', 'dropout rate', '0.2')
    .option('--backend <b>', 'tfjs backend: wasm (with the samplex matrix kernels) | cpu', 'wasm')
    .option('--json', 'print every metrics record as one JSON line');
  return addTrainOptions(c, SEQREC_TRAIN_DEFAULTS, { resume, except: ['--threads'] });
}

/** Adds `train seqrec` and `compare seqrec` under the `train` and `compare` commands (created when missing). */
export function addSeqRecCommands(program: Command, print: (line: string) => void): void {
  addOptions(
    commandGroup(program, 'train')
      .command('seqrec')
      .description('SASRec next-item recommendation (tfjs) with a sampled or the full softmax; full-ranking nDCG/Recall on leave-one-out')
      .option('--sampler <name>', seqRecSamplers().join(' | '), 'midx'),
    true,
  )
    .requiredOption('--out <dir>', 'run directory (metrics.jsonl, checkpoint, test.json, report.html)')
    .action(async (o: SeqRecCommandOptions) => {
      await trainSeqRecCommand(o, print);
    });
  addOptions(
    commandGroup(program, 'compare')
      .command('seqrec')
      .description('SASRec with each sampler of --samplers; one run directory per sampler and a joint report'),
  )
    .option('--samplers <list>', 'comma-separated samplers', SEQREC_COMPARE_SAMPLERS.join(','))
    .requiredOption('--out <dir>', 'output directory (one run directory per sampler, report.html, summary.json)')
    .action(async (o: SeqRecCommandOptions & { samplers: string }) => {
      await compareSeqRecCommand(o, print);
    });
  predictCommand(program, 'seqrec', "the top-k next items of every input line (a user's history: item ids of the run's data, oldest first, separated by spaces or commas); the items of the history are not recommended", 10, 'print item:score pairs')
    .option('--state <which>', 'best (the best validation epoch, when the run kept it) | last (the last committed epoch)', 'best')
    .option('--cache <dir>', 'cache directory of the named datasets')
    .option('--backend <b>', 'tfjs backend: wasm | cpu', 'wasm')
    .action(async (o: { model: string; k: string; state: string; cache?: string; input?: string; scores?: boolean; backend: string }) => {
      await predictSeqRec(o, print);
    });
}

/** Reads a run's settings back as {@link Settings} (and the sampler's options). */
function settingsOfRun(config: Readonly<Record<string, string | number | boolean>>, backend: 'cpu' | 'wasm'): { sampler: string; s: Settings; options: Record<string, OptionValue> } {
  const options: Record<string, OptionValue> = {};
  const rest: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith('opt.')) options[k.slice(4)] = v;
    else rest[k] = v;
  }
  const s = { ...(rest as unknown as Settings), epochs: 0, select: 'last' as const, patience: 0, backend };
  // the full softmax records no negatives or estimator; its layer's sampler is never used
  if (rest['sampler'] === 'full') Object.assign(s, { negatives: 1, convention: 'exclusive' });
  return { sampler: String(rest['sampler']), s, options };
}

/** Runs `samplex predict seqrec`. */
async function predictSeqRec(o: { model: string; k: string; state: string; cache?: string; input?: string; scores?: boolean; backend: string }, print: (l: string) => void): Promise<void> {
  const view = RunFolder.view(o.model);
  const c = view.committed!;
  if (c.app !== 'seqrec') throw new IoError(`${view.dir} holds a ${c.app} run, not a sequential recommender; give the --out of a 'samplex train seqrec' run`);
  const state = choiceOption(o.state, '--state', ['best', 'last'] as const);
  const backend = choiceOption(o.backend, '--backend', ['cpu', 'wasm'] as const);
  const { sampler, s, options } = settingsOfRun(c.settings, backend);
  const split = loadSplit(s.data, o.cache, s.minInteractions);
  if (seqRecDataFingerprint(split) !== c.data) throw new IoError(`${s.data} is not the data the run in ${view.dir} was trained on (its content changed); the item ids would not match`);
  const k = intOption(numberOf(o.k, '--k'), '--k', 1, split.sequences.numItems);
  const lines = readInputLines(o.input);
  const index = new Map(split.sequences.itemIds.map((id, i) => [id, i]));
  const histories = lines.map((line, i) => {
    const ids = line.split(/[\s,]+/).filter((t) => t !== '');
    if (ids.length === 0) throw new DataFormatError(o.input ?? '<stdin>', i + 1, 'empty history; give at least one item id');
    return Int32Array.from(ids, (id) => {
      const j = index.get(id);
      if (j === undefined) throw new DataFormatError(o.input ?? '<stdin>', i + 1, `item '${id}' is not an item of ${s.data}`);
      return j;
    });
  });
  const tf = await loadTf(backend);
  await withKernels('auto', async (fast) => {
    const { trainer, tfHead } = buildTrainer(tf, split, sampler, s, options, fast);
    try {
      const spec = specOf(trainer.stateTensors());
      const useBest = state === 'best' && existsSync(join(view.dir, BEST_FILE));
      const best = useBest ? view.readJson<SeqRecBestMeta>(BEST_FILE) : null;
      const tensors = best
        ? view.readTensors(BEST_TENSORS, spec, { epoch: String(best.epoch) }, { extra: isLazySeqRecState })
        : view.loadCheckpoint(spec, { extra: isLazySeqRecState });
      trainer.loadState(tensors);
      const L = trainer.model.maxLen;
      const ids = new Int32Array(histories.length * L);
      histories.forEach((h, b) => padLeft(ids, b, L, h, 0, h.length));
      const q = trainer.model.lastQueries({ rows: histories.length, ids });
      const exclude = { ids: new Int32Array(0), offsets: new Int32Array(histories.length + 1) };
      const seen = histories.map((h) => Int32Array.from(new Set(h)).sort());
      exclude.offsets.set(Int32Array.from({ length: histories.length + 1 }, (_, b) => seen.slice(0, b).reduce((a, x) => a + x.length, 0)));
      exclude.ids = new Int32Array(exclude.offsets[histories.length]!);
      seen.forEach((x, b) => exclude.ids.set(x, exclude.offsets[b]!));
      const r = evaluate(q, trainer.head.table, { k, exclude });
      for (let b = 0; b < histories.length; b++) {
        const parts: string[] = [];
        for (let j = 0; j < r.k; j++) {
          const id = r.topIds[b * r.k + j]!;
          if (id < 0) continue;
          const name = split.sequences.itemIds[id]!;
          parts.push(o.scores ? `${name}:${r.topScores[b * r.k + j]!.toFixed(4)}` : name);
        }
        print(parts.join(' '));
      }
    } finally {
      trainer.dispose();
      tfHead.dispose();
    }
  });
}
