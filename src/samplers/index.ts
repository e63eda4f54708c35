/**
 * The built-in samplers, registered with the factory when this module is imported (importing
 * the package does so): static `'uniform'`, `'unigram'`, `'logUniform'`, the learned unigram
 * `'learnedUnigram'` (counts of the positives seen); the exact softmax
 * `'exact'`; adaptive `'quadratic'`, `'rff'` and `'midx'`. Options are validated by each
 * sampler's constructor.
 * @module
 */
import { ExactSampler, type ExactOptions } from './exact.js';
import { LEARNED_UNIGRAM_OPTIONS, LearnedUnigramSampler, type LearnedUnigramOptions } from './learnedUnigram.js';
import { registerSampler } from './factory.js';
import { LogUniformSampler, type LogUniformOptions } from './logUniform.js';
import { MIDX_OPTIONS, MidxSampler, type MidxOptions } from './midx.js';
import { QUADRATIC_OPTIONS, QuadraticSampler, type QuadraticOptions } from './quadratic.js';
import { RFF_OPTIONS, RffSampler, type RffOptions } from './rff.js';
import { UniformSampler, type UniformOptions } from './uniform.js';
import { UnigramSampler, type UnigramOptions } from './unigram.js';

export { AliasTable } from './alias.js';
export { ExactSampler, type ExactOptions, type ExactPrecision } from './exact.js';
export { LEARNED_UNIGRAM_OPTIONS, LearnedUnigramSampler, type LearnedUnigramOptions } from './learnedUnigram.js';
export { LogUniformSampler, type LogUniformOptions } from './logUniform.js';
export {
  MIDX_OPTIONS,
  MidxSampler,
  type MidxOptions,
  type MidxCodebook,
  type MidxCodebooks,
  type MidxStage,
  type MidxWorkers,
  type MidxRangeRequest,
  type MidxRangeResult,
  type MidxInternals,
  type TopK,
} from './midx.js';
export { RebuildPolicy, type RebuildPolicyOptions } from './rebuild.js';
export {
  AUTO_SCAN_DRAWS,
  chooseQuadraticMethod,
  QUADRATIC_OPTIONS,
  QuadraticDenseSampler,
  QuadraticSampler,
  QuadraticTreeSampler,
  type QuadraticDenseOptions,
  type QuadraticMethod,
  type QuadraticOptions,
  type QuadraticTreeOptions,
} from './quadratic.js';
export { RFF_OPTIONS, RffSampler, type RffOptions } from './rff.js';
export { SumTree } from './sumTree.js';
export { UniformSampler, type UniformOptions } from './uniform.js';
export { UnigramSampler, type UnigramOptions } from './unigram.js';

registerSampler('uniform', (o) => new UniformSampler(o as UniformOptions), { options: ['n'], needs: ['n'] });
registerSampler('unigram', (o) => new UnigramSampler(o as unknown as UnigramOptions), { options: ['counts', 'alpha'], needs: ['counts'] });
registerSampler('logUniform', (o) => new LogUniformSampler(o as LogUniformOptions), { options: ['counts', 'assumeSorted', 'n'], needs: ['counts'] });
registerSampler('learnedUnigram', (o) => new LearnedUnigramSampler(o as unknown as LearnedUnigramOptions), { options: LEARNED_UNIGRAM_OPTIONS, needs: ['n'] });
registerSampler('exact', (o) => new ExactSampler(o as ExactOptions), { options: ['precision'] });
registerSampler('quadratic', (o) => new QuadraticSampler(o as QuadraticOptions), { options: QUADRATIC_OPTIONS });
registerSampler('rff', (o) => new RffSampler(o as RffOptions), {
  options: RFF_OPTIONS,
  needs: ['seed', 'logitScale'],
  // RF-softmax assumes logits τ·ĥ·ĉ of unit vectors: with logits s·cos, τ = s and ν = τ/2
  fromData: (d, o) => {
    if (d.logitScale === undefined) return { seed: d.seed };
    const tau = o['tau'] ?? d.logitScale;
    return { seed: d.seed, tau: d.logitScale, nu: typeof tau === 'number' && tau > 0 ? tau / 2 : undefined };
  },
});
registerSampler('midx', (o) => new MidxSampler(o as MidxOptions), {
  options: MIDX_OPTIONS,
  needs: ['popularity', 'seed'],
  // the popularity is used (and required) by the 'pop' stage only
  fromData: (d, o) => ({ seed: d.seed, popularity: o['stage'] === 'pop' ? (d.popularity ?? d.counts) : undefined }),
});
