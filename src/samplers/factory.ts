/**
 * Creates samplers by name, so the CLI and configuration files can name them by string. Each
 * sampler declares at registration the options it accepts and the data it takes from the
 * training set, so applications create any registered sampler through {@link createSamplerFor}
 * without a case per name.
 * @module
 */
import { OptionError } from '../core/errors.js';
import type { Sampler } from './types.js';

/** A constructor of a sampler from a plain options object. */
export type SamplerFactory = (opts: Record<string, unknown>) => Sampler;

/**
 * Data a sampler can take from the training set (a field of {@link SamplerData}):
 * - `n`: the number of classes;
 * - `counts`: per-class frequencies in the training data;
 * - `popularity`: per-class non-negative weights (the counts unless given apart);
 * - `seed`: a seed for the sampler's own randomness (k-means, random features);
 * - `logitScale`: `s` when the logits are `s ×` the cosine of unit-norm vectors.
 */
export type SamplerNeed = 'n' | 'counts' | 'popularity' | 'seed' | 'logitScale';

/** The data a sampler's data-dependent options are taken from (see {@link createSamplerFor}). */
export interface SamplerData {
  /** Number of classes. */
  n: number;
  /** Per-class counts (class frequencies in the training data). */
  counts?: ArrayLike<number>;
  /** Per-class popularity weights; defaults to `counts`. */
  popularity?: ArrayLike<number>;
  /** Seed for samplers that declare the `seed` need. */
  seed?: number;
  /** `s` when the logits are `s × cos(query, class)` (synthetic studies); unknown otherwise. */
  logitScale?: number;
}

/** What a registered sampler accepts and takes from the data. */
export interface SamplerInfo {
  /** Names of the options the factory accepts; others are rejected by the sampler. */
  readonly options: readonly string[];
  /** The fields of {@link SamplerData} the sampler can use (default none). */
  readonly needs?: readonly SamplerNeed[];
  /**
   * The options filled from `data` given the caller's options `opts` (only keys `opts` does not
   * set are used). Default: every declared need among `n`, `counts`, `popularity` and `seed`
   * fills the option of the same name when `data` has it.
   */
  readonly fromData?: (data: SamplerData, opts: Readonly<Record<string, unknown>>) => Record<string, unknown>;
}

interface Entry {
  readonly factory: SamplerFactory;
  readonly info: SamplerInfo;
}

const registry = new Map<string, Entry>();

/**
 * Registers `factory` under `name` (replacing any previous one). `info` lists the accepted
 * option names, so tools such as the CLI can route a shared option only to the samplers that
 * take it, and the data the sampler takes from the training set (see {@link SamplerInfo}).
 */
export function registerSampler(name: string, factory: SamplerFactory, info: SamplerInfo): void {
  registry.set(name, {
    factory,
    info: { options: [...info.options], needs: [...(info.needs ?? [])], ...(info.fromData ? { fromData: info.fromData } : {}) },
  });
}

/** Option names accepted by the sampler registered as `name`, or `undefined` for an unknown name. */
export function samplerOptionNames(name: string): readonly string[] | undefined {
  return registry.get(name)?.info.options;
}

/** The data the sampler registered as `name` can use, or `undefined` for an unknown name. */
export function samplerNeeds(name: string): readonly SamplerNeed[] | undefined {
  return registry.get(name)?.info.needs;
}

/** Names of the registered samplers. */
export function samplerNames(): string[] {
  return [...registry.keys()];
}

function entry(name: string): Entry {
  const e = registry.get(name);
  if (!e) throw new OptionError(`unknown sampler '${name}'; known samplers: ${samplerNames().join(', ')}`);
  return e;
}

/**
 * Creates the sampler registered as `name` with `opts`.
 * @throws OptionError for an unknown name (the message lists the known ones)
 */
export function createSampler(name: string, opts: Record<string, unknown> = {}): Sampler {
  return entry(name).factory(opts);
}

/** The default {@link SamplerInfo.fromData}: each declared need fills the option of its name. */
function sameNameOptions(needs: readonly SamplerNeed[], data: SamplerData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of needs) {
    const v = k === 'popularity' ? (data.popularity ?? data.counts) : k === 'logitScale' ? undefined : data[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The options of sampler `name` filled from `data` under the caller's `opts` (the keys `opts`
 * sets are left out): what {@link createSamplerFor} adds.
 * @throws OptionError for an unknown name
 */
export function samplerDataOptions(name: string, data: SamplerData, opts: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const { info } = entry(name);
  const filled = info.fromData ? info.fromData(data, opts) : sameNameOptions(info.needs ?? [], data);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(filled)) if (v !== undefined && opts[k] === undefined) out[k] = v;
  return out;
}

/**
 * Creates the sampler registered as `name` for a class set, filling the options the sampler
 * declared it takes from the data (its {@link SamplerInfo.needs}) unless `opts` sets them: for
 * the built-in samplers, `n` for `uniform`, the class `counts` for `unigram` and `logUniform`,
 * the popularity of `midx`'s `pop` stage, and `seed` for the samplers with their own randomness.
 * @throws OptionError for an unknown name, and as the sampler for bad options
 */
export function createSamplerFor(name: string, data: SamplerData, opts: Record<string, unknown> = {}): Sampler {
  return createSampler(name, { ...opts, ...samplerDataOptions(name, data, opts) });
}
