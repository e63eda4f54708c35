/**
 * `samplex bias`: the sampler bias study as a command.
 * @module
 */
import { OptionError } from '../core/errors.js';
import type { ClassTable } from '../core/classTable.js';
import type { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { choiceOption, intOption, numOption } from '../core/validate.js';
import { exactReference, marginalProbs, runBiasStudy, type BiasRow, type StudySampler } from '../diagnostics/bias.js';
import { syntheticQueries, syntheticTable, type SyntheticKind } from '../diagnostics/synthetic.js';
import { loadClassTable } from '../layer/safetensors.js';
import { CONVENTIONS, type Convention } from '../loss/types.js';
import { createSampler, samplerOptionNames } from '../samplers/factory.js';
import { parseKeyValues } from './samplerOptions.js';
import { lossSettings } from './lossOptions.js';

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
}

const STATIC_SAMPLERS = ['exact', 'uniform', 'unigram', 'logUniform'];

/**
 * Whether an unprefixed `--opt key=value` goes to sampler `name`: to the samplers that declare
 * `key` at registration; samplers without a declared list take every unprefixed option, except the
 * static and exact ones, which take none.
 */
function takesOption(name: string, key: string): boolean {
  const known = samplerOptionNames(name);
  return known !== undefined ? known.includes(key) : !STATIC_SAMPLERS.includes(name);
}

/**
 * The `--opt` options plus the MIDX shorthands `--codebooks` and `--codewords`, checked against
 * the chosen samplers: a prefixed option must name one of them, an unprefixed one must be taken
 * by at least one.
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
  for (const k of Object.keys(extra)) {
    const dot = k.indexOf('.');
    if (dot > 0) {
      const target = k.slice(0, dot);
      if (!names.includes(target)) throw new OptionError(`--opt ${k}: sampler '${target}' is not in --sampler (${names.join(',')})`);
    } else if (!names.some((n) => takesOption(n, k))) {
      throw new OptionError(`--opt ${k}: none of the samplers ${names.join(',')} takes option '${k}'; prefix it with a sampler name (name.${k})`);
    }
  }
  return extra;
}

/** Splits a comma-separated list of positive integers. */
function parseIntList(s: string, what: string): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (parts.length === 0) throw new OptionError(`${what}: give a comma-separated list of positive integers, got '${s}'`);
  return parts.map((x) => intOption(Number(x), what, 1));
}

function num(v: string, what: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new OptionError(`--${what} must be a number, got '${v}'`);
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
  const samplers: StudySampler[] = names.map((name) => {
    const opts: Record<string, number | string | boolean> = {};
    const full: Record<string, unknown> = {};
    if (name === 'unigram' || name === 'logUniform') full['counts'] = counts;
    if (name === 'unigram') opts['alpha'] = 1;
    for (const [k, v] of Object.entries(extra)) {
      const dot = k.indexOf('.');
      if (dot > 0) {
        if (k.slice(0, dot) === name) opts[k.slice(dot + 1)] = v;
      } else if (takesOption(name, k)) {
        opts[k] = v;
      }
    }
    if (takesOption(name, 'seed') && opts['seed'] === undefined) opts['seed'] = seed;
    // RF-softmax assumes logits τ·ĥ·ĉ; the study's logits are scale × cosine, so τ = scale, ν = τ/2
    if (name === 'rff' && !input) {
      opts['tau'] ??= scale;
      const tau = opts['tau'];
      if (opts['nu'] === undefined && typeof tau === 'number' && tau > 0) opts['nu'] = tau / 2;
    }
    // midx's popularity stage uses the same class frequencies as the static samplers
    if (name === 'midx' && opts['stage'] === 'pop') full['popularity'] = counts;
    if (name === 'learnedUnigram') full['n'] = table.n;
    const sampler = createSampler(name, { ...full, ...opts });
    // the learned unigram is studied as training would leave it: after observing 10,000 positives
    // from the class frequencies (their expected counts, rounded)
    if (name === 'learnedUnigram' && sampler.loadState) sampler.loadState({ counts: learnedCounts(counts, 10000) });
    return { label: name, options: opts, sampler };
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
