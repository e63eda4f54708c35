/**
 * The built-in static and exact samplers, registered with the factory under
 * `'uniform'`, `'unigram'`, `'logUniform'` and `'exact'` when this module is imported
 * (importing the package does so).
 * @module
 */
import { ExactSampler, type ExactOptions } from './exact.js';
import { registerSampler } from './factory.js';
import { LogUniformSampler, type LogUniformOptions } from './logUniform.js';
import { UniformSampler, type UniformOptions } from './uniform.js';
import { UnigramSampler, type UnigramOptions } from './unigram.js';

export { AliasTable } from './alias.js';
export { ExactSampler, type ExactOptions, type ExactPrecision } from './exact.js';
export { LogUniformSampler, type LogUniformOptions } from './logUniform.js';
export { SumTree } from './sumTree.js';
export { UniformSampler, type UniformOptions } from './uniform.js';
export { UnigramSampler, type UnigramOptions } from './unigram.js';

registerSampler('uniform', (o) => new UniformSampler(o as UniformOptions));
registerSampler('unigram', (o) => new UnigramSampler(o as unknown as UnigramOptions));
registerSampler('logUniform', (o) => new LogUniformSampler(o as LogUniformOptions));
registerSampler('exact', (o) => new ExactSampler(o as ExactOptions));
