/**
 * Creates samplers by name, so the CLI and configuration files can name them by string.
 * @module
 */
import { OptionError } from '../core/errors.js';
import type { Sampler } from './types.js';

/** A constructor of a sampler from a plain options object. */
export type SamplerFactory = (opts: Record<string, unknown>) => Sampler;

const registry = new Map<string, SamplerFactory>();

/** Registers `factory` under `name` (replacing any previous one). */
export function registerSampler(name: string, factory: SamplerFactory): void {
  registry.set(name, factory);
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
