/**
 * `samplex bias`: the sampler bias study as a command.
 * @module
 */
import { OptionError } from '../core/errors.js';
import type { ClassTable } from '../core/classTable.js';
import type { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { choiceOption, intArg, intOption, numOption, parseDecimal } from '../core/validate.js';
import { exactReference, marginalProbs, runBiasStudy, type BiasRow, type StudySampler } from '../diagnostics/bias.js';
import { syntheticQueries, syntheticTable, type SyntheticKind } from '../diagnostics/synthetic.js';
import { loadClassTable } from '../layer/safetensors.js';
import { CONVENTIONS, type Convention } from '../loss/types.js';
import { createSampler, samplerDataOptions } from '../samplers/factory.js';
import { optionsFor, parseKeyValues } from './samplerOptions.js';
import { lossSettings, negativeSourceSettings } from './lossOptions.js';

/** Parsed options of `samplex bias`. */
export interface BiasCommandOptions {
  sampler: string;
  classes: string;
  dim: string;
  queries: string;
  negatives: string;
  trials: string;
  seed: string;
  embeddings: string;
  scale: string;
  convention: string;
  unique?: boolean;
  json?: boolean;
  opt?: string[];
  /** Shorthand for `--opt midx.codebook=…` (`pq` or `rq`). */
  codebooks?: string;
  /** Shorthand for `--opt midx.codewords=…`. */
  codewords?: string;
  /** `--loss`: softmax | nce | negativeSampling. */
  loss?: string;
  /** `--keep-accidental-hits`. */
  keepAccidentalHits?: boolean;
  /** `--negative-source`: sampler | inBatch | mixed. */
  negativeSource?: string;
  /** `--frequency-buckets`: the streaming estimate's buckets (0: no streaming row). */
  frequencyBuckets?: string;
  /** `--frequency-alpha`. */
  frequencyAlpha?: string;
  /** `--frequency-warmup`: batches the streaming estimate observes before the study. */
  frequencyWarmup?: string;
}

/**
 * Options the study sets for a sampler unless `--opt` does: the frequency samplers draw in
 * proportion to the study's class frequencies (no distortion exponent), so their proposal is
 * the marginal softmax itself.
 */
const STUDY_DEFAULTS: Readonly<Record<string, Readonly<Record<string, number>>>> = { unigram: { alpha: 1 } };

/**
 * The `--opt` options plus the MIDX shorthands `--codebooks` and `--codewords` (as `midx.`
 * options); they are routed to each sampler by {@link optionsFor}, as in training.
 */
function samplerOptions(o: BiasCommandOptions, names: readonly string[]): Record<string, number | string | boolean> {
  const extra = parseKeyValues(o.opt ?? []);
  const shorthands: Array<[string, string | undefined, string]> = [
    ['codebooks', o.codebooks, 'codebook'],
    ['codewords', o.codewords, 'codewords'],
  ];
  for (const [flag, value, key] of shorthands) {
    if (value === undefined) continue;
    if (!names.includes('midx')) throw new OptionError(`--${flag} sets an option of the midx sampler; add midx to --sampler`);
    extra[`midx.${key}`] = key === 'codewords' ? num(value, flag) : value;
  }
  // checks every option against the chosen samplers once
  for (const n of names) optionsFor(n, extra, names);
  return extra;
}

/** Splits a comma-separated list of positive integers. */
function parseIntList(s: string, what: string): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (parts.length === 0) throw new OptionError(`${what}: give a comma-separated list of positive integers, got '${s}'`);
  return parts.map((x) => intArg(x, what, 1));
}

function num(v: string, what: string): number {
  const x = parseDecimal(v.trim());
  if (!Number.isFinite(x)) throw new OptionError(`--${what} must be a number, got '${v}'`);
  return x;
}

/**
 * The class table, queries and class counts of a study that does not use synthetic data: a
 * trained model's table and output vectors (see `samplex bias --lm-run`).
 */
export interface BiasInput {
  readonly table: ClassTable;
  readonly queries: Matrix;
  /** Class frequencies for the static samplers (e.g. the training data's word counts). */
  readonly counts: ArrayLike<number>;
  /** What the rows name as the embeddings (e.g. `lm:runs/full`). */
  readonly embeddings: string;
}

/**
 * Runs the bias command; returns the rows (also printed). With `input`, the study uses its table,
 * queries and counts instead of synthetic ones (`--classes`, `--dim`, `--embeddings` and `--scale`
 * are then not used, and `rff` keeps its own `tau` and `nu` unless `--opt` sets them).
 */
export function biasCommand(o: BiasCommandOptions, print: (line: string) => void, input?: BiasInput): BiasRow[] {
  const seed = intOption(num(o.seed, 'seed'), 'seed', 0);
  const rng = Rng.fromSeed(seed);
  const dim = intOption(num(o.dim, 'dim'), 'dim', 1);
  const nQueries = intOption(num(o.queries, 'queries'), 'queries', 1);
  const trials = intOption(num(o.trials, 'trials'), 'trials', 2);
  const scale = numOption(num(o.scale, 'scale'), 'scale', 0);
  const convention = choiceOption<Convention>(o.convention, 'convention', CONVENTIONS);
  const negatives = parseIntList(o.negatives, 'negatives');
  const ls = lossSettings({ loss: o.loss, keepAccidentalHits: o.keepAccidentalHits });
  const ns = negativeSourceSettings({ negativeSource: o.negativeSource, frequencyBuckets: o.frequencyBuckets, frequencyAlpha: o.frequencyAlpha });
  const warmup = intArg(o.frequencyWarmup ?? '1000', '--frequency-warmup', 0);
  let table: ClassTable;
  let queries: Matrix;
  let counts: ArrayLike<number>;
  let embeddings = o.embeddings;
  if (input) {
    ({ table, queries, counts, embeddings } = input);
  } else {
    if (o.embeddings === 'gaussian' || o.embeddings === 'clustered') {
      const classes = intOption(num(o.classes, 'classes'), 'classes', 2);
      table = syntheticTable(o.embeddings as SyntheticKind, classes, dim, rng.fork(0));
    } else if (o.embeddings.endsWith('.safetensors')) {
      table = loadClassTable(o.embeddings);
      embeddings = `file:${o.embeddings}`;
    } else {
      throw new OptionError(`--embeddings must be gaussian, clustered or a .safetensors file, got '${o.embeddings}'`);
    }
    const near = o.embeddings !== 'gaussian';
    queries = syntheticQueries(table, nQueries, scale, rng.fork(2), near);
    // class frequencies for the static samplers: the marginal softmax over a separate query set
    const calib = syntheticQueries(table, Math.max(256, nQueries), scale, rng.fork(3), near);
    counts = marginalProbs(exactReference(table, calib, rng.fork(4)), calib.rows, table.n);
  }
  const names = o.sampler
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new OptionError('--sampler: name at least one sampler');
  const extra = samplerOptions(o, names);
  const samplers: StudySampler[] = ns.negativeSource === 'inBatch' ? [] : names.map((name) => {
    const opts: Record<string, number | string | boolean> = { ...STUDY_DEFAULTS[name], ...optionsFor(name, extra, names) };
    // the data each sampler declares it takes: class frequencies (the static samplers, midx's pop
    // stage), the seed, and for synthetic embeddings the logit scale (logits are scale × cosine)
    const data = { n: table.n, counts, seed, ...(input ? {} : { logitScale: scale }) };
    const filled = samplerDataOptions(name, data, opts);
    const scalars: Record<string, number | string | boolean> = {};
    for (const [k, v] of Object.entries(filled)) if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') scalars[k] = v;
    const sampler = createSampler(name, { ...opts, ...filled });
    // the learned unigram is studied as training would leave it: after observing 10,000 positives
    // from the class frequencies (their expected counts, rounded)
    if (name === 'learnedUnigram' && sampler.loadState) sampler.loadState({ counts: learnedCounts(counts, 10000) });
    return { label: name, options: { ...opts, ...scalars }, sampler };
  });
  const rows = runBiasStudy({
    table,
    queries,
    samplers,
    negatives,
    trials,
    convention,
    loss: ls.loss,
    removeAccidentalHits: ls.removeAccidentalHits,
    seed,
    rng: rng.fork(5),
    // in-batch and mixed negatives: the other rows' positives are drawn from the class frequencies
    batch: ns.negativeSource === 'sampler' ? null : {
      source: ns.negativeSource, frequencies: counts, buckets: ns.frequencyBuckets, alpha: ns.frequencyAlpha, warmup,
    },
    unique: o.unique ?? false,
    embeddings,
    scale,
    onRow: o.json ? (r) => print(JSON.stringify(r)) : undefined,
  });
  if (!o.json) printTable(rows, print);
  return rows;
}

/** `total` positives spread over the classes in proportion to `freq`, rounded: a learned unigram's counts. */
function learnedCounts(freq: ArrayLike<number>, total: number): Float64Array {
  let s = 0;
  for (let i = 0; i < freq.length; i++) s += freq[i]!;
  return Float64Array.from({ length: freq.length }, (_, i) => Math.round((total * freq[i]!) / s));
}

function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(digits);
}

/** Prints rows as an aligned text table. */
function printTable(rows: readonly BiasRow[], print: (line: string) => void): void {
  if (rows.length === 0) return;
  const r0 = rows[0]!;
  print(
    `classes=${r0.classes} dim=${r0.dim} queries=${r0.queries} trials=${r0.trials} convention=${r0.convention}` +
      `${r0.loss === 'softmax' ? '' : ` loss=${r0.loss} (estimates another objective: its bias against the softmax does not vanish with m)`}${r0.removeAccidentalHits ? '' : ' hits-kept'}` +
      `${r0.negativeSource === 'sampler' ? '' : ` negatives=${r0.negativeSource} (a batch of m + 1 rows${r0.negativeSource === 'mixed' ? ' and m draws of the sampler' : ''})`}` +
      ` embeddings=${r0.embeddings}${r0.embeddings.startsWith('lm:') ? '' : ` scale=${r0.scale}`} seed=${r0.seed}${r0.unique ? ' unique' : ''}`,
  );
  const head = ['sampler', 'm', 'KL', 'ess', 'qHead', 'gradBias', '±stderr', 'noise', 'lossBias', '±stderr', 'draws/s'];
  const body = rows.map((r) => [
    r.sampler,
    String(r.negatives),
    fmt(r.kl),
    fmt(r.ess, 3),
    fmt(r.headMass, 3),
    fmt(r.gradBias),
    fmt(r.gradBiasStderr, 2),
    fmt(r.gradNoise, 2),
    fmt(r.lossBias),
    fmt(r.lossBiasStderr, 2),
    fmt(r.drawsPerSec, 3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  print(line(head));
  for (const b of body) print(line(b));
}
