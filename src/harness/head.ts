/**
 * The output head of a training run, specified once for every application: the sampler and its
 * options, negatives, the estimator convention, how an adaptive sampler is refreshed and how the
 * class table is updated. Each application maps it onto its own configuration.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { choiceOption, intOption } from '../core/validate.js';
import { CONVENTIONS, type Convention } from '../loss/types.js';

/**
 * How an adaptive sampler follows the table: rebuilt every `every` steps (and at epoch starts
 * where the application does so), updated after every step (`'step'`), or rebuilt once per epoch
 * (`'epoch'`).
 */
export type RefreshPolicy = { every: number } | 'step' | 'epoch';

/** How the class table's optimizer steps: every row each step (`dense`) or the touched rows only (`sparse`, lazy). */
export type UpdateMode = 'dense' | 'sparse';

/** A sampler option value. */
export type OptionValue = number | string | boolean;

/** The head of a run. */
export interface HeadSpec {
  /** `full` (exact softmax) or a registered sampler. */
  sampler: string;
  /** The sampler's options (the application's preset for it, then the user's). */
  samplerOptions: Record<string, OptionValue>;
  /** Negatives per query. */
  negatives: number;
  /** Estimator convention of the sampled loss. */
  convention: Convention;
  /** Refresh policy of an adaptive sampler. */
  refresh: RefreshPolicy;
  /** Class-table update mode. */
  updates: UpdateMode;
}

/**
 * Parses a refresh policy: a number of steps ≥ 1, `step` or `epoch`.
 * @throws OptionError naming `flag`
 */
export function parseRefresh(v: string | number, flag = '--refresh-every'): RefreshPolicy {
  const t = String(v).trim();
  if (t === 'step' || t === 'epoch') return t;
  if (t === '0') throw new OptionError(`${flag} 0 is ambiguous; write 'step' (update the sampler after every step) or 'epoch' (rebuild it once per epoch)`);
  const k = Number(t);
  if (t === '' || !/^\d+$/.test(t)) throw new OptionError(`${flag} must be a number of steps ≥ 1, 'step' or 'epoch', got '${t}'`);
  return { every: intOption(k, flag, 1) };
}

/** A refresh policy as text (the form {@link parseRefresh} reads). */
export function refreshText(r: RefreshPolicy): string {
  return typeof r === 'string' ? r : String(r.every);
}

/**
 * Completes a head: the application's `presets` for the sampler under the user's options,
 * checked convention and negatives.
 * @throws OptionError for out-of-range values
 */
export function resolveHead(h: {
  sampler: string; samplerOptions?: Record<string, OptionValue>; negatives: number; convention: string; refresh: RefreshPolicy | string; updates: string;
}, presets: Readonly<Record<string, Readonly<Record<string, OptionValue>>>> = {}): HeadSpec {
  return {
    sampler: h.sampler,
    samplerOptions: { ...(presets[h.sampler] ?? {}), ...(h.samplerOptions ?? {}) },
    negatives: intOption(h.negatives, '--negatives', 1),
    convention: choiceOption(h.convention, '--convention', CONVENTIONS),
    refresh: typeof h.refresh === 'string' ? parseRefresh(h.refresh) : h.refresh,
    updates: choiceOption(h.updates, '--updates', ['dense', 'sparse'] as const),
  };
}
