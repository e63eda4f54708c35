/**
 * `--opt key=value` sampler options shared by the commands that train with a sampler.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { parseDecimal } from '../core/validate.js';
import { samplerOptionNames } from '../samplers/factory.js';

/** Parses `key=value` pairs: numbers and booleans are converted, the rest kept as strings. */
export function parseKeyValues(pairs: readonly string[]): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new OptionError(`--opt expects key=value (or sampler.key=value), got '${p}'`);
    const k = p.slice(0, eq);
    const v = p.slice(eq + 1);
    if (v === 'true' || v === 'false') out[k] = v === 'true';
    else if (Number.isFinite(parseDecimal(v.trim()))) out[k] = parseDecimal(v.trim());
    else out[k] = v;
  }
  return out;
}

/**
 * The options of sampler `name` among `opts` when the samplers `names` are trained: a prefixed
 * key (`midx.codewords`) goes to its sampler, an unprefixed one to every sampler that declares it.
 * @throws OptionError for a prefix naming a sampler not trained, or a key no trained sampler takes
 */
export function optionsFor(name: string, opts: Record<string, number | string | boolean>, names: readonly string[]): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(opts)) {
    const dot = k.indexOf('.');
    if (dot > 0) {
      const target = k.slice(0, dot);
      if (!names.includes(target)) throw new OptionError(`--opt ${k}: sampler '${target}' is not one of the chosen samplers (${names.join(',')})`);
      if (target === name) out[k.slice(dot + 1)] = v;
    } else if (samplerOptionNames(name)?.includes(k)) out[k] = v;
    else if (!names.some((n) => samplerOptionNames(n)?.includes(k))) {
      throw new OptionError(`--opt ${k}: none of the samplers ${names.join(',')} takes option '${k}'; prefix it with a sampler name (name.${k})`);
    }
  }
  return out;
}
