/**
 * Creates samplers by name, so the CLI and configuration files can name them by string.
 * @module
 */
import { OptionError } from '../core/errors.js';
import type { Sampler } from './types.js';

/** A constructor of a sampler from a plain options object. */
export type SamplerFactory = (opts: Record<string, unknown>) => Sampler;

/** What a registered sampler accepts (optional registration metadata). */
export interface SamplerInfo {
  /** Names of the options the factory accepts; others are rejected by the sampler. */
  readonly options: readonly string[];
}

const registry = new Map<string, SamplerFactory>();
const infos = new Map<string, SamplerInfo>();

/**
 * Registers `factory` under `name` (replacing any previous one). `info` lists the accepted
 * option names, so tools such as the CLI can route a shared option only to the samplers that
 * take it.
 */
export function registerSampler(name: string, factory: SamplerFactory, info?: SamplerInfo): void {
  registry.set(name, factory);
  if (info) infos.set(name, { options: [...info.options] });
  else infos.delete(name);
}

/** Option names accepted by the sampler registered as `name`, or `undefined` when not declared. */
export function samplerOptionNames(name: string): readonly string[] | undefined {
  return infos.get(name)?.options;
}

/** Names of the registered samplers. */
export function samplerNames(): string[] {
  return [...registry.keys()];
}

/**
 * Creates the sampler registered as `name` with `opts`.
 * @throws OptionError for an unknown name (the message lists the known ones)
 */
export function createSampler(name: string, opts: Record<string, unknown> = {}): Sampler {
  const f = registry.get(name);
  if (!f) throw new OptionError(`unknown sampler '${name}'; known samplers: ${samplerNames().join(', ')}`);
  return f(opts);
}

/** The data a sampler's data-dependent options are taken from (see {@link createSamplerFor}). */
export interface SamplerData {
  /** Number of classes. */
  n: number;
  /** Per-class counts (class frequencies in the training data). */
  counts?: ArrayLike<number>;
  /** Seed for samplers that declare a `seed` option. */
  seed?: number;
}

/**
 * Creates the sampler registered as `name` for a class set, filling the options that come from
 * the data unless `opts` sets them: `n` for `uniform` and `learnedUnigram`, the class `counts` for `unigram` and
 * `logUniform`, and `seed` for the samplers that declare one. The applications use it so each
 * sampler name needs no case of its own.
 * @throws OptionError for an unknown name, and as the sampler for bad options
 */
export function createSamplerFor(name: string, data: SamplerData, opts: Record<string, unknown> = {}): Sampler {
  const o: Record<string, unknown> = { ...opts };
  if (name === 'uniform' || name === 'learnedUnigram') o['n'] ??= data.n;
  if ((name === 'unigram' || name === 'logUniform') && data.counts !== undefined) o['counts'] ??= data.counts;
  if (data.seed !== undefined && samplerOptionNames(name)?.includes('seed')) o['seed'] ??= data.seed;
  return createSampler(name, o);
}
