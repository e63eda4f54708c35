/**
 * `samplex train xmc`, `samplex compare xmc` and `samplex predict xmc`: the extreme-classification
 * application on the command line.
 * @module
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { IoError, OptionError } from '../core/errors.js';
import { parseDuration } from './lm.js';
import { choiceOption, intArg, intOption, numArg, numOption } from '../core/validate.js';
import { loadXmcData, type XmcData } from '../apps/xmc/data.js';
import { SYNTHETIC_XMC_KEYS } from '../data/syntheticXmc.js';
import {
  curveOf, loadXmcModel, parseXmcInputs, REPORT_FILE, trainXmcRun, xmcReportHtml, type XmcRunResult, type XmcVariant,
} from '../apps/xmc/run.js';
import { resolveXmcConfig, XMC_MIDX_DEFAULTS, xmcSamplerNames, type ResolvedXmcConfig } from '../apps/xmc/trainer.js';
import { KERNEL_MEMORY_BUDGET, tableInKernelMemory, type FastKernels } from '../kernels/fast.js';
import { startKernels } from './kernels.js';
import type { MidxWorkers } from '../samplers/midx.js';
import { MidxThreads } from '../samplers/midxThreads.js';
import { ProgressBar } from '../train/progress.js';
import { compareRuns, type CompareRun, type RunAll } from '../harness/compare.js';
import { commandGroup } from './groups.js';
import { predictCommand, readInputLines } from './predictInput.js';
import { addTrainOptions, commonOf, headOf, numberOf, type TrainCliOptions, type TrainDefaults } from './trainOptions.js';
import type { OptionValue } from '../harness/head.js';
import { addLossOptions, addNegativeSourceOptions, lossSettings, negativeSourceSettings, type LossFlagValues, type NegativeSourceFlagValues } from './lossOptions.js';

/** Options shared by `train xmc` and `compare xmc`, as typed on the command line. */
export interface XmcCommonOptions extends TrainCliOptions, LossFlagValues, NegativeSourceFlagValues {
  data: string;
  lrDecayEpochs?: string;
  optimizer: string;
  weighting: string;
  bigrams: string;
  hidden?: boolean;
  timeBudget?: string;
  evalSample?: string;
  evalEvery?: string;
}

/** The scale options as run options: time budget, evaluation sample and interval. */
function scaleOf(o: XmcCommonOptions): { timeBudgetSec: number; evalSample: number; evalEverySec: number } {
  const dur = (v: string | undefined, flag: string): number => {
    if (v === undefined) return 0;
    try {
      return parseDuration(v);
    } catch {
      throw new OptionError(`${flag} '${v}' is not a duration; write e.g. 90s, 20m or 1.5h`);
    }
  };
  return {
    timeBudgetSec: dur(o.timeBudget, '--time-budget'),
    evalSample: o.evalSample === undefined ? 0 : intArg(o.evalSample, '--eval-sample', 1),
    evalEverySec: dur(o.evalEvery, '--eval-every'),
  };
}

/** The extreme classifier's defaults of the shared training options. */
export const XMC_TRAIN_DEFAULTS: TrainDefaults = {
  negatives: 50, convention: 'maskedExclusive', refreshEvery: '100', updates: 'dense', batch: 64, epochs: 5, lr: 0.01, dim: 128, threads: 2,
  presets: { midx: XMC_MIDX_DEFAULTS as Record<string, OptionValue> }, perEpochRefresh: true,
};

function num(v: string, what: string): number {
  return numberOf(v, `--${what}`);
}

/** The resolved configuration of one sampler from the command-line options (`defaults`: the application's). */
export function configFor(sampler: string, o: XmcCommonOptions, names: readonly string[], defaults: TrainDefaults = XMC_TRAIN_DEFAULTS): ResolvedXmcConfig {
  const head = headOf(o, sampler, names, defaults);
  const c = commonOf(o);
  const negatives = negativeSourceSettings(o);
  return resolveXmcConfig({
    sampler,
    samplerOptions: head.samplerOptions,
    negatives: head.negatives,
    dim: c.dim,
    hidden: o.hidden ?? false,
    batchSize: c.batch,
    lr: c.lr,
    lrDecayEpochs: o.lrDecayEpochs === undefined ? c.epochs : intOption(num(o.lrDecayEpochs, 'lr-decay-epochs'), 'lr-decay-epochs', 0),
    optimizer: choiceOption(o.optimizer, 'optimizer', ['sgd', 'adagrad', 'adam'] as const),
    weighting: choiceOption(o.weighting, 'weighting', ['tfidf', 'counts'] as const),
    bigrams: intOption(num(o.bigrams, 'bigrams'), 'bigrams', 0),
    rebuildEvery: typeof head.refresh === 'object' ? head.refresh.every : 0,
    updatePerStep: head.refresh === 'step',
    convention: head.convention,
    denseUpdates: head.updates === 'dense',
    seed: c.seed,
    // compare xmc: the sampled-loss flags apply to the sampled runs, not to the exact softmax beside them
    ...(sampler === 'full' && names.length > 1 ? { labelWeighting: lossSettings(o).labelWeighting } : lossSettings(o)),
    // in a comparison the exact softmax beside the sampled runs takes no negative source
    ...(sampler === 'full' && names.length > 1 ? {} : negatives),
  });
}

/** Helper threads that sample part of each batch for `midx` (`threads − 1` of them), or null. */
export async function startMidxThreads(threads: number, samplers: readonly string[]): Promise<MidxThreads | null> {
  return threads > 1 && samplers.includes('midx') ? MidxThreads.create(threads - 1) : null;
}

/** Starts the kernels: `threads` workers for the evaluation, the chosen path for everything. */
export async function kernelsFor(path: string, threads: number): Promise<FastKernels> {
  return startKernels(path, threads > 1 ? threads : 0);
}

/** Trains one sampler's run on the command line's kernels and threads (`variant`: an application built on the classifier). */
export async function runOne(
  data: XmcData, out: string, epochs: number, config: ResolvedXmcConfig, fast: FastKernels, threads: number, o: XmcCommonOptions,
  resume: boolean, print: (line: string) => void, midxWorkers: MidxWorkers | null, variant?: XmcVariant,
): Promise<XmcRunResult> {
  return trainXmcRun({
    data, out, epochs, config, resume, threads, kernels: fast.path, ...scaleOf(o), ...(variant ? { variant } : {}),
    ...(resume && o.lrDecayEpochs !== undefined ? { resumeLrDecayEpochs: config.lrDecayEpochs } : {}),
    runtime: {
      pool: fast.pool, placeTable: (t) => tableInKernelMemory(fast, t), optimizerStorage: { f32: fast.allocF32, i32: fast.allocI32 }, midxWorkers,
      placeBudgetBytes: KERNEL_MEMORY_BUDGET,
    },
    progress: o.progress
      ? (epoch, total) => {
          const bar = new ProgressBar({ total, unit: 'inst', label: `${config.sampler} epoch ${epoch}` });
          return { update: (done, _t, loss) => bar.update(done, { loss }), stop: () => bar.stop() };
        }
      : undefined,
    log: (line) => print(`${config.sampler} ${line}`),
  });
}

/** Adds the options of `train xmc` and `compare xmc` (without `--data` and `--eval-sample` when `withData` is false). */
export function addCommonOptions(c: Command, resume = false, defaults: TrainDefaults = XMC_TRAIN_DEFAULTS, withData = true): Command {
  addLossOptions(c, { labelWeighting: true });
  addNegativeSourceOptions(c);
  if (withData) {
    c.option(
      '--data <spec>',
      'wordnet (the built-in WordNet split) | DIR with train.txt and test.txt (XMC or fastText format) | FILE (split 80/20) | ' +
        `synthetic:labels=N,rows=N[,key=value…] (generated synthetic data with a known Bayes-optimal P@1; keys: ${SYNTHETIC_XMC_KEYS.join(', ')})`,
      'wordnet',
    )
      .option('--eval-sample <n>', 'evaluate exactly on a fixed sample of n test rows; with --sampler midx also rank every test row by midx topK at the end and print its recall against the exact top-k on the sample');
  }
  c.option('--time-budget <t>', 'stop training after this much training time (e.g. 300s, 5m), within an epoch if need be, then evaluate (the cut epoch is not checkpointed)')
    .option('--eval-every <t>', `also evaluate${withData ? ' (on the sample)' : ''} every t of training time within epochs (e.g. 60s): the metrics against training time`);
  c.option('--lr-decay-epochs <n>', 'the learning rate falls linearly to 0 at the end of epoch n (0: constant) (default: the value of --epochs)')
    .option('--optimizer <name>', 'sgd | adagrad | adam', 'adam')
    .option('--weighting <w>', 'tfidf | counts (rows are L2-normalized either way)', 'tfidf')
    .option('--bigrams <buckets>', 'hashed word-bigram buckets (0: tokens only)', '0')
    .option('--hidden', 'add a hidden layer (relu, width dim) after the embedding sum');
  return addTrainOptions(c, defaults, { resume });
}

/** Adds `train xmc`, `compare xmc` and `predict xmc` to the program. */
export function addXmcCommands(program: Command, print: (line: string) => void): void {
  const train = commandGroup(program, 'train');
  addCommonOptions(
    train
      .command('xmc')
      .description('train the extreme classifier (sparse bag-of-words encoder → sampled or full softmax); evaluates P@k and nDCG@k on test after every epoch')
      .option('--sampler <name>', `full | ${xmcSamplerNames().filter((s) => s !== 'full').join(' | ')}`, 'midx')
      .option('--out <dir>', 'run directory (metrics.jsonl, model, checkpoints, report.html)'),
    true,
  ).action(async (o: XmcCommonOptions & { sampler: string; out?: string; resume?: boolean }) => {
    const config = configFor(o.sampler, o, [o.sampler]);
    const { epochs, threads } = commonOf(o);
    const out = o.out ?? join('runs', `xmc-${o.sampler}`);
    const data = loadXmcData(o.data);
    const fast = await kernelsFor(o.kernels, threads);
    const helpers = await startMidxThreads(threads, [o.sampler]);
    try {
      const res = await runOne(data, out, epochs, config, fast, threads, o, o.resume ?? false, print, helpers);
      const last = res.records.filter((r) => typeof r['p1'] === 'number').pop();
      if (last) {
        const when = last['point'] === 'budget' ? `after ${Number(last['trainSec']).toFixed(1)} s of training (time budget; ${Number(last['epochProgress']).toFixed(2)} epochs)` : `after ${last['epoch']} epochs`;
        print(`P@1 ${Number(last['p1']).toFixed(4)} P@3 ${Number(last['p3']).toFixed(4)} P@5 ${Number(last['p5']).toFixed(4)} ${when}`);
      }
      print(`report written to ${join(res.dir, REPORT_FILE)}`);
    } finally {
      await helpers?.close();
      await fast.close();
    }
  });

  const compare = commandGroup(program, 'compare');
  addCommonOptions(
    compare
      .command('xmc')
      .description('train the extreme classifier once per sampler with the same seed and budget; one report with P@1 against epoch and wall time and a summary table')
      .option('--samplers <list>', 'comma-separated samplers (full = exact softmax)', 'full,uniform,unigram,quadratic,rff,midx')
      .requiredOption('--out <dir>', 'directory: one run directory per sampler and report.html'),
  ).action(async (o: XmcCommonOptions & { samplers: string; out: string }) => {
    const { epochs, threads } = commonOf(o);
    const { report, reportPath } = await compareRuns({
      out: o.out,
      samplers: o.samplers,
      valid: xmcSamplerNames(),
      plan: (names) => names.map((n) => configFor(n, o, names)),
      session: async (configs, names, runAll: RunAll<XmcRunResult>) => {
        const data = loadXmcData(o.data);
        const fast = await kernelsFor(o.kernels, threads);
        const helpers = await startMidxThreads(threads, names);
        let runs: Array<CompareRun<XmcRunResult>>;
        try {
          runs = await runAll((name, dir) => runOne(data, dir, epochs, configs[names.indexOf(name)]!, fast, threads, o, false, print, helpers));
        } finally {
          await helpers?.close();
          await fast.close();
        }
        const head = ['sampler', 'P@1', 'P@3', 'P@5', 'nDCG@5', 'train s', 'inst/s', 'output share'];
        const rows = runs.map(({ name, result: res }) => {
          const evals = res.records.filter((x) => typeof x['p1'] === 'number');
          const r = evals[evals.length - 1]!;
          // one figure per epoch (an interval record's rates are those of its epoch so far)
          const ends = evals.filter((x) => x['point'] !== 'interval');
          const ips = ends.reduce((s, x) => s + Number(x['instPerSec']), 0) / ends.length;
          const share = ends.reduce((s, x) => s + Number(x['outputShare']), 0) / ends.length;
          return [name, fix(r['p1']), fix(r['p3']), fix(r['p5']), fix(r['ndcg5']), Number(r['trainSec']).toFixed(1), Math.round(ips), share.toFixed(2)];
        });
        const c0 = configs[0]!;
        const settings = {
          data: data.source, samplers: names.join(','), epochs, negatives: c0.negatives, dim: c0.dim, batch: c0.batchSize, optimizer: c0.optimizer, lr: c0.lr, lrDecayEpochs: c0.lrDecayEpochs, convention: c0.convention, seed: c0.seed, threads, kernels: fast.path,
        };
        const html = xmcReportHtml('samplex compare xmc', settings, runs.map(({ name, result }) => curveOf(name, result.records)), { head, rows });
        return { html, head, rows };
      },
    });
    print(report.head.join('\t'));
    for (const r of report.rows) print(r.join('\t'));
    print(`report written to ${reportPath}`);
  });

  predictCommand(program, 'xmc', 'print the top-k labels of every input line (text, or index:value pairs for models trained on XMC files)', 5, 'print label:score pairs')
    .option('--info', "append each label's description in parentheses (e.g. WordNet lemmas), when the data has them")
    .action((o: { model: string; k: string; input?: string; scores?: boolean; info?: boolean }) => {
      const loaded = loadXmcModel(o.model);
      const k = intOption(num(o.k, 'k'), 'k', 1, loaded.model.table.n);
      const lines = readInputLines(o.input);
      const x = parseXmcInputs(lines, loaded, o.input ?? '<stdin>');
      const { ids, scores } = loaded.model.predict(x, k);
      const info = o.info ? loaded.info.labelInfo : null;
      const labelName = (i: number): string => {
        const n = loaded.info.labelNames ? loaded.info.labelNames[i]! : String(i);
        return info && info[i] ? `${n}(${info[i]})` : n;
      };
      for (let r = 0; r < lines.length; r++) {
        const parts: string[] = [];
        for (let j = 0; j < k; j++) {
          const id = ids[r * k + j]!;
          if (id < 0) continue;
          parts.push(o.scores ? `${labelName(id)}:${scores[r * k + j]!.toFixed(4)}` : labelName(id));
        }
        print(parts.join(' '));
      }
    });
}

function fix(v: unknown): string {
  return Number(v).toFixed(4);
}
