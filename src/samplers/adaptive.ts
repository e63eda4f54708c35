/**
 * Registers the adaptive samplers with the factory: `'quadratic'`, `'rff'` and `'midx'`.
 * Importing this module (done by the package entry point) makes them available to
 * {@link createSampler}; options are validated by each sampler's constructor.
 * @module
 */
import { registerSampler } from './factory.js';
import { MidxSampler, type MidxOptions } from './midx.js';
import { QuadraticSampler, type QuadraticOptions } from './quadratic.js';
import { RffSampler, type RffOptions } from './rff.js';

registerSampler('quadratic', (opts) => new QuadraticSampler(opts as QuadraticOptions));
registerSampler('rff', (opts) => new RffSampler(opts as RffOptions));
registerSampler('midx', (opts) => new MidxSampler(opts as MidxOptions));

export { MidxSampler, QuadraticSampler, RffSampler };
