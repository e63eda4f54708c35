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
export {
  initFastKernels,
  detectFeatures,
  choosePath,
  type FastKernels,
  type FastKernelOptions,
  type KernelPath,
  type WasmFeatures,
} from './kernels/fast.js';
export type { AsyncKernels } from './kernels/pool.js';
export type { WasmArena, StagingFrame, KernelArray } from './kernels/arena.js';
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
export {
  precisionAtK,
  recallAtK,
  ndcgAtK,
  meanNll,
  perplexity,
  nllPerRow,
  type MetricResult,
} from './loss/metrics.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  planSafetensors,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
  allocSafetensorsArray,
  littleEndianToNative,
  dtypeBytes,
  classTableTensors,
  classTableToSafetensors,
  classTableFromSafetensors,
  classTableFromContent,
  SAFETENSORS_MAX_HEADER,
  SAFETENSORS_KIND_KEY,
  type SafetensorsDtype,
  type SafetensorsArray,
  type SafetensorsInput,
  type SafetensorsTensor,
  type SafetensorsContent,
  type SafetensorsDecodeOptions,
  type SafetensorsPlan,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './layer/safetensorsCodec.js';
export { writeFileAtomic, type AtomicFileOps } from './io/atomic.js';
export { writeSafetensors, readSafetensors, saveClassTable, loadClassTable } from './layer/safetensors.js';
export {
  evaluate,
  evaluateMetrics,
  DEFAULT_BLOCK_SIZE,
  type EvaluateOptions,
  type EvaluateResult,
  type EvaluateMetricsOptions,
  type EvaluationMetrics,
} from './layer/evaluator.js';
