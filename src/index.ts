/**
 * samplex: adaptive sampled softmax for huge output spaces.
 * @packageDocumentation
 */
export * from './core/errors.js';
export { Rng } from './core/rng.js';
export * from './core/matrix.js';
export { ClassTable, type TableInit, type TableInitOptions } from './core/classTable.js';
export { logSumExp, log1mExp, logAddExp } from './core/math.js';
export { chiSquareTest, gammaQ, type ChiSquareResult } from './core/stats.js';
export { kernels, tsKernels, useKernels, type KernelSet } from './kernels/index.js';
export * from './samplers/types.js';
export { SamplerBase, type RowDistribution } from './samplers/base.js';
export { createSampler, registerSampler, samplerNames, type SamplerFactory } from './samplers/factory.js';
export * from './samplers/index.js';
export * from './loss/types.js';
export { sampledSoftmaxLoss } from './loss/sampled.js';
export { fullSoftmaxLoss, type FullLossOptions } from './loss/full.js';
export {
  createOptimizer,
  Sgd,
  Adagrad,
  Adam,
  OPTIMIZER_NAMES,
  type SparseOptimizer,
  type OptimizerName,
  type OptimizerState,
  type OptimizerOptionsMap,
  type SgdOptions,
  type AdagradOptions,
  type AdamOptions,
} from './layer/optimizers.js';
