/**
 * `samplex train xmc`, `samplex compare xmc` and `samplex predict xmc`: the extreme-classification
 * application on the command line.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { IoError, OptionError } from '../core/errors.js';
import { choiceOption, intOption, numOption } from '../core/validate.js';
import { loadXmcData, type XmcData } from '../apps/xmc/data.js';
import {
  curveOf, loadXmcModel, parseXmcInputs, REPORT_FILE, trainXmcRun, xmcReportHtml, type XmcRunResult,
} from '../apps/xmc/run.js';
import { resolveXmcConfig, xmcSamplerNames, type ResolvedXmcConfig } from '../apps/xmc/trainer.js';
import { initFastKernels, tableInKernelMemory, type FastKernels, type KernelPath } from '../kernels/fast.js';
import { optionsFor, parseKeyValues } from './samplerOptions.js';
import { CONVENTIONS } from '../loss/types.js';
import type { MidxWorkers } from '../samplers/midx.js';
import { MidxThreads } from '../samplers/midxThreads.js';
import { ProgressBar } from '../train/progress.js';
import { writeFileAtomic } from '../io/atomic.js';
import { commandGroup } from './groups.js';
import { addLossOptions, lossSettings, type LossFlagValues } from './lossOptions.js';

/** Options shared by `train xmc` and `compare xmc`, as typed on the command line. */
export interface XmcCommonOptions extends LossFlagValues {
  data: string;
  negatives: string;
  epochs: string;
  dim: string;
  threads: string;
  seed: string;
  batch: string;
  lr: string;
  lrDecayEpochs?: string;
  optimizer: string;
  weighting: string;
  bigrams: string;
  hidden?: boolean;
  rebuildEvery: string;
  convention: string;
  sparseUpdates?: boolean;
  opt: string[];
  kernels: string;
  progress: boolean;
}

function num(v: string, what: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new OptionError(`--${what} must be a number, got '${v}'`);
  return x;
}

/** The resolved configuration of one sampler from the command-line options. */
function configFor(sampler: string, o: XmcCommonOptions, names: readonly string[]): ResolvedXmcConfig {
  return resolveXmcConfig({
    sampler,
    samplerOptions: optionsFor(sampler, parseKeyValues(o.opt), names),
    negatives: intOption(num(o.negatives, 'negatives'), 'negatives', 1),
    dim: intOption(num(o.dim, 'dim'), 'dim', 1, 4096),
    hidden: o.hidden ?? false,
    batchSize: intOption(num(o.batch, 'batch'), 'batch', 1),
    lr: numOption(num(o.lr, 'lr'), 'lr', 0, Infinity, true),
    lrDecayEpochs: o.lrDecayEpochs === undefined ? intOption(num(o.epochs, 'epochs'), 'epochs', 1) : intOption(num(o.lrDecayEpochs, 'lr-decay-epochs'), 'lr-decay-epochs', 0),
    optimizer: choiceOption(o.optimizer, 'optimizer', ['sgd', 'adagrad', 'adam'] as const),
    weighting: choiceOption(o.weighting, 'weighting', ['tfidf', 'counts'] as const),
    bigrams: intOption(num(o.bigrams, 'bigrams'), 'bigrams', 0),
    rebuildEvery: intOption(num(o.rebuildEvery, 'rebuild-every'), 'rebuild-every', 0),
    convention: choiceOption(o.convention, 'convention', CONVENTIONS),
    // compare xmc: the sampled-loss flags apply to the sampled runs, not to the exact softmax beside them
    ...(sampler === 'full' && names.length > 1 ? { labelWeighting: lossSettings(o).labelWeighting } : lossSettings(o)),
    denseUpdates: !(o.sparseUpdates ?? false),
    seed: intOption(num(o.seed, 'seed'), 'seed', 0),
  });
}

/** Helper threads that sample part of each batch for `midx` (`threads − 1` of them), or null. */
async function startMidxThreads(threads: number, samplers: readonly string[]): Promise<MidxThreads | null> {
  return threads > 1 && samplers.includes('midx') ? MidxThreads.create(threads - 1) : null;
}

/** Starts the kernels: `threads` workers for the evaluation, the chosen path for everything. */
async function startKernels(path: string, threads: number): Promise<FastKernels> {
  const want = choiceOption(path, 'kernels', ['auto', 'fma', 'simd', 'ts']) as KernelPath | 'auto';
  return initFastKernels({ path: want, threads: threads > 1 ? threads : 0 });
}

async function runOne(
  data: XmcData, out: string, epochs: number, config: ResolvedXmcConfig, fast: FastKernels, threads: number, o: XmcCommonOptions,
  resume: boolean, print: (line: string) => void, midxWorkers: MidxWorkers | null,
): Promise<XmcRunResult> {
  return trainXmcRun({
    data, out, epochs, config, resume, threads, kernels: fast.path,
    ...(resume && o.lrDecayEpochs !== undefined ? { resumeLrDecayEpochs: config.lrDecayEpochs } : {}),
    runtime: {
      pool: fast.pool, placeTable: (t) => tableInKernelMemory(fast, t), optimizerStorage: { f32: fast.allocF32, i32: fast.allocI32 }, midxWorkers,
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

function addCommonOptions(c: Command): Command {
  return addLossOptions(c, { labelWeighting: true })
    .option('--data <spec>', 'wordnet (the built-in WordNet split) | DIR with train.txt and test.txt (XMC or fastText format) | FILE (split 80/20)', 'wordnet')
    .option('--negatives <m>', 'negatives per row for sampled samplers', '50')
    .option('--epochs <n>', 'epochs to train', '5')
    .option('--dim <d>', 'query dimension', '128')
    .option('--threads <n>', 'threads: midx training samples each batch on n threads (n − 1 helpers); the evaluation is split across n kernel workers', '2')
    .option('--seed <s>', 'random seed', '1')
    .option('--batch <B>', 'rows per step', '64')
    .option('--lr <x>', 'learning rate', '0.01')
    .option('--lr-decay-epochs <n>', 'the learning rate falls linearly to 0 at the end of epoch n (0: constant) (default: the value of --epochs)')
    .option('--optimizer <name>', 'sgd | adagrad | adam', 'adam')
    .option('--weighting <w>', 'tfidf | counts (rows are L2-normalized either way)', 'tfidf')
    .option('--bigrams <buckets>', 'hashed word-bigram buckets (0: tokens only)', '0')
    .option('--hidden', 'add a hidden layer (relu, width dim) after the embedding sum')
    .option('--rebuild-every <steps>', 'rebuild an adaptive sampler every this many steps (0: only at the start of each epoch)', '100')
    .option('--convention <c>', 'sampled-loss estimator: correctedAll (draw from all labels, correct every candidate, mask hits) | maskedExclusive (draw from all labels, drop hits, renormalize the proposal over the non-positive labels) | exclusive (draw from the non-positive labels by rejection)', 'maskedExclusive')
    .option('--sparse-updates', 'update only the sampled label rows each step (lazy Adam) instead of every row')
    .option('--opt <key=value>', 'sampler option (repeatable; prefix with "name." to target one sampler); midx starts from codewords=16 stage=softmax', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--kernels <path>', 'dense math: auto (WebAssembly FMA, else SIMD, else TypeScript) | fma | simd | ts', 'auto')
    .option('--no-progress', 'no progress bar');
}

/** Adds `train xmc`, `compare xmc` and `predict xmc` to the program. */
export function addXmcCommands(program: Command, print: (line: string) => void): void {
  const train = commandGroup(program, 'train');
  addCommonOptions(
    train
      .command('xmc')
      .description('train the extreme classifier (sparse bag-of-words encoder → sampled or full softmax); evaluates P@k and nDCG@k on test after every epoch')
      .option('--sampler <name>', `full | ${xmcSamplerNames().filter((s) => s !== 'full').join(' | ')}`, 'midx')
      .option('--out <dir>', 'run directory (metrics.jsonl, model, checkpoints, report.html)')
      .option('--resume', 'continue the run in --out from its last checkpoint (its saved settings are used)'),
  ).action(async (o: XmcCommonOptions & { sampler: string; out?: string; resume?: boolean }) => {
    const config = configFor(o.sampler, o, [o.sampler]);
    const epochs = intOption(num(o.epochs, 'epochs'), 'epochs', 1);
    const threads = intOption(num(o.threads, 'threads'), 'threads', 1, 256);
    const out = o.out ?? join('runs', `xmc-${o.sampler}`);
    const data = loadXmcData(o.data);
    const fast = await startKernels(o.kernels, threads);
    const helpers = await startMidxThreads(threads, [o.sampler]);
    try {
      const res = await runOne(data, out, epochs, config, fast, threads, o, o.resume ?? false, print, helpers);
      const last = res.records[res.records.length - 1];
      if (last) print(`P@1 ${Number(last['p1']).toFixed(4)} P@3 ${Number(last['p3']).toFixed(4)} P@5 ${Number(last['p5']).toFixed(4)} after ${last['epoch']} epochs`);
      print(`report written to ${res.dir.path(REPORT_FILE)}`);
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
    const names = o.samplers.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (names.length === 0) throw new OptionError('--samplers: give a comma-separated list, e.g. full,midx');
    if (new Set(names).size !== names.length) throw new OptionError(`--samplers lists a sampler twice: ${o.samplers}`);
    const configs = names.map((n) => configFor(n, o, names));
    const epochs = intOption(num(o.epochs, 'epochs'), 'epochs', 1);
    const threads = intOption(num(o.threads, 'threads'), 'threads', 1, 256);
    const data = loadXmcData(o.data);
    const fast = await startKernels(o.kernels, threads);
    const helpers = await startMidxThreads(threads, names);
    const results: { name: string; res: XmcRunResult }[] = [];
    try {
      for (const c of configs) results.push({ name: c.sampler, res: await runOne(data, join(o.out, c.sampler), epochs, c, fast, threads, o, false, print, helpers) });
    } finally {
      await helpers?.close();
      await fast.close();
    }
    const head = ['sampler', 'P@1', 'P@3', 'P@5', 'nDCG@5', 'train s', 'inst/s', 'output share'];
    const rows = results.map(({ name, res }) => {
      const r = res.records[res.records.length - 1]!;
      const ips = res.records.reduce((s, x) => s + Number(x['instPerSec']), 0) / res.records.length;
      const share = res.records.reduce((s, x) => s + Number(x['outputShare']), 0) / res.records.length;
      return [name, fix(r['p1']), fix(r['p3']), fix(r['p5']), fix(r['ndcg5']), Number(r['trainSec']).toFixed(1), Math.round(ips), share.toFixed(2)];
    });
    const c0 = configs[0]!;
    const settings = {
      data: data.source, samplers: names.join(','), epochs, negatives: c0.negatives, dim: c0.dim, batch: c0.batchSize, optimizer: c0.optimizer, lr: c0.lr, lrDecayEpochs: c0.lrDecayEpochs, convention: c0.convention, seed: c0.seed, threads, kernels: fast.path,
    };
    const html = xmcReportHtml('samplex compare xmc', settings, results.map(({ name, res }) => curveOf(name, res.records)), { head, rows });
    const path = join(o.out, REPORT_FILE);
    writeFileAtomic(path, html);
    print(head.join('\t'));
    for (const r of rows) print(r.join('\t'));
    print(`report written to ${path}`);
  });

  const predict = commandGroup(program, 'predict');
  predict
    .command('xmc')
    .description('print the top-k labels of every input line (text, or index:value pairs for models trained on XMC files)')
    .requiredOption('--model <dir>', 'run directory of a samplex train xmc run')
    .option('--k <k>', 'labels per line', '5')
    .option('--input <file>', 'read lines from FILE instead of stdin')
    .option('--scores', 'print label:score pairs')
    .option('--info', "append each label's description in parentheses (e.g. WordNet lemmas), when the data has them")
    .action((o: { model: string; k: string; input?: string; scores?: boolean; info?: boolean }) => {
      const loaded = loadXmcModel(o.model);
      const k = intOption(num(o.k, 'k'), 'k', 1, loaded.model.table.n);
      let text: string;
      try {
        text = readFileSync(o.input ?? 0, 'utf8');
      } catch (e) {
        throw new IoError(`cannot read ${o.input ?? 'stdin'}: ${(e as Error).message}`);
      }
      const lines = text.split('\n');
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      const x = parseXmcInputs(lines, loaded, o.input ?? '<stdin>');
      const { ids, scores } = loaded.model.predict(x, k);
      const info = o.info ? loaded.info.labelInfo : null;
      const names = loaded.info.labelNames.map((n, i) => (info && info[i] ? `${n}(${info[i]})` : n));
      for (let r = 0; r < lines.length; r++) {
        const parts: string[] = [];
        for (let j = 0; j < k; j++) {
          const id = ids[r * k + j]!;
          if (id < 0) continue;
          parts.push(o.scores ? `${names[id]}:${scores[r * k + j]!.toFixed(4)}` : names[id]!);
        }
        print(parts.join(' '));
      }
    });
}

function fix(v: unknown): string {
  return Number(v).toFixed(4);
}
