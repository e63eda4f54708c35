/**
 * The options `train` and `compare` share in every application, with the same names, meanings
 * and help; each application supplies its defaults as data. Flags of earlier versions are refused
 * with a message naming the flag that replaced them.
 * @module
 */
import { Option, type Command } from 'commander';
import { OptionError } from '../core/errors.js';
import { intOption, numOption, parseDecimal } from '../core/validate.js';
import { resolveHead, type HeadSpec, type OptionValue } from '../harness/head.js';
import { RESUME_HELP } from '../harness/task.js';
import { KERNELS_HELP } from './kernels.js';
import { optionsFor, parseKeyValues } from './samplerOptions.js';

/** An application's defaults of the shared options. */
export interface TrainDefaults {
  negatives: number;
  convention: string;
  /** `--refresh-every`: steps, `step` or `epoch`. */
  refreshEvery: string;
  updates: 'dense' | 'sparse';
  batch: number;
  epochs: number;
  lr: number;
  dim: number;
  threads: number;
  /** The sampler options each sampler starts from in this application (e.g. `midx`'s stage), shown in the help. */
  presets: Readonly<Record<string, Readonly<Record<string, OptionValue>>>>;
  /** Whether `--refresh-every epoch` is available (the application rebuilds samplers per epoch). */
  perEpochRefresh: boolean;
}

/** The shared options as commander parses them. */
export interface TrainCliOptions {
  negatives: string;
  convention: string;
  opt: string[];
  refreshEvery: string;
  updates: string;
  batch: string;
  epochs: string;
  lr: string;
  dim: string;
  seed: string;
  /** Absent where the application takes no `--threads`. */
  threads?: string;
  kernels: string;
  progress: boolean;
  resume?: boolean;
}

/** Flags of earlier versions and what replaced them. */
const REPLACED: ReadonlyArray<[flag: string, attr: string, takesValue: boolean, instead: string]> = [
  ['--rebuild-every', 'rebuildEvery', true, '--refresh-every'],
  ['--sparse-updates', 'sparseUpdates', false, '--updates sparse'],
  ['--dense-updates', 'denseUpdates', false, '--updates dense'],
  ['--batch-size', 'batchSize', true, '--batch'],
  ['--codewords', 'codewords', true, '--opt codewords=K'],
  ['--stage', 'stage', true, '--opt stage=NAME'],
];

function presetText(d: TrainDefaults): string {
  const parts = Object.entries(d.presets).map(([s, o]) => `${s} starts from ${Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return parts.length ? `; ${parts.join('; ')}` : '';
}

/**
 * Adds the shared options to `c` with the application's defaults `d`: `--negatives`,
 * `--convention`, `--opt`, `--refresh-every`, `--updates`, `--batch`, `--epochs`, `--lr`,
 * `--dim`, `--seed`, `--threads`, `--kernels`, `--no-progress` (and `--resume` with `resume`).
 */
export function addTrainOptions(c: Command, d: TrainDefaults, o: { resume?: boolean; except?: readonly string[] } = {}): Command {
  const skip = new Set(o.except ?? []);
  const add = (flag: string, help: string, def?: string): void => {
    const name = flag.split(' ')[0]!;
    if (!skip.has(name)) c.option(flag, help, def);
  };
  add('--negatives <m>', 'negatives per query for the sampled softmax', String(d.negatives));
  add('--convention <c>', 'sampled-loss estimator: maskedExclusive (draw from all classes, drop hits, renormalize the proposal over the non-positives) | correctedAll (correct every candidate, mask hits) | exclusive (draw from the non-positives by rejection)', d.convention);
  if (!skip.has('--opt')) c.option('--opt <key=value>', `sampler option (repeatable; prefix with "name." to target one sampler)${presetText(d)}`, (v: string, p: string[]) => [...p, v], [] as string[]);
  add('--refresh-every <k>', `refresh of an adaptive sampler: rebuild it every k steps | step (update it after every step)${d.perEpochRefresh ? ' | epoch (rebuild it at the start of each epoch only)' : ''}`, d.refreshEvery);
  add('--updates <mode>', 'class-table updates: dense (every row each step, zero gradient for the rows not sampled, as the full softmax does) | sparse (the touched rows only, lazy Adam)', d.updates);
  add('--batch <B>', 'examples per step', String(d.batch));
  add('--epochs <n>', 'epochs to train (in total, when resuming)', String(d.epochs));
  add('--lr <x>', 'learning rate', String(d.lr));
  add('--dim <d>', 'embedding dimension', String(d.dim));
  add('--seed <s>', 'random seed', '1');
  add('--threads <n>', 'threads for samplex kernels and samplers', String(d.threads));
  add('--kernels <path>', KERNELS_HELP, 'auto');
  if (!skip.has('--no-progress')) c.option('--no-progress', 'no progress bar');
  if (o.resume) c.option('--resume', RESUME_HELP);
  for (const [flag, , takesValue, instead] of REPLACED) {
    if (skip.has(flag)) continue;
    c.addOption(new Option(takesValue ? `${flag} <value>` : flag, `replaced by ${instead}`).hideHelp());
  }
  return c;
}

/**
 * Refuses the flags of earlier versions.
 * @throws OptionError naming the flag that replaced the one given
 */
export function refuseReplaced(o: object): void {
  const given = o as Record<string, unknown>;
  for (const [flag, attr, , instead] of REPLACED) {
    if (given[attr] !== undefined) throw new OptionError(`${flag} was replaced by ${instead}; use that instead`);
  }
}

/** A number option, refused when not a number. */
export function numberOf(v: string, flag: string): number {
  const x = parseDecimal(v.trim());
  if (!Number.isFinite(x)) throw new OptionError(`${flag} must be a number, got '${v}'`);
  return x;
}

/**
 * The head of sampler `sampler` (one of `names`, the samplers of the command) from the shared
 * options: `--opt` routed to it, the application's preset beneath.
 * @throws OptionError for bad values or options no sampler takes
 */
export function headOf(o: TrainCliOptions, sampler: string, names: readonly string[], d: TrainDefaults): HeadSpec {
  refuseReplaced(o);
  const head = resolveHead(
    {
      sampler,
      samplerOptions: optionsFor(sampler, parseKeyValues(o.opt ?? []), names),
      negatives: intOption(numberOf(o.negatives, '--negatives'), '--negatives', 1),
      convention: o.convention,
      refresh: o.refreshEvery,
      updates: o.updates,
    },
    d.presets,
  );
  if (head.refresh === 'epoch' && !d.perEpochRefresh) throw new OptionError("--refresh-every epoch: this application does not rebuild samplers per epoch; give a number of steps or 'step'");
  return head;
}

/** The shared numeric options, checked (`threads` is 1 where the application takes no `--threads`). */
export function commonOf(o: TrainCliOptions): { batch: number; epochs: number; lr: number; dim: number; seed: number; threads: number } {
  return {
    batch: intOption(numberOf(o.batch, '--batch'), '--batch', 1),
    epochs: intOption(numberOf(o.epochs, '--epochs'), '--epochs', 1),
    lr: numOption(numberOf(o.lr, '--lr'), '--lr', 0, Infinity, true),
    dim: intOption(numberOf(o.dim, '--dim'), '--dim', 1, 4096),
    seed: intOption(numberOf(o.seed, '--seed'), '--seed', 0, 2 ** 32 - 1),
    threads: o.threads === undefined ? 1 : intOption(numberOf(o.threads, '--threads'), '--threads', 1, 256),
  };
}
