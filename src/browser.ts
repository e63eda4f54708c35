/**
 * samplex for browsers and any JavaScript runtime: what a user builds with (class tables,
 * samplers and their factory, the sampled and full softmax losses, the output layer, sparse
 * optimizers, exact evaluation and metrics, errors, the seeded generator, the fast kernels,
 * `.safetensors` bytes in memory, the dataset parsers, the bias study and the xmc trainer). The
 * Node entry adds the file functions. The other modules are internal (the tests and benchmarks
 * import them by path). Bundlers pick this entry through the `browser` export condition.
 * @packageDocumentation
 */
export {
  SamplexError,
  ShapeError,
  NonFiniteError,
  LabelRangeError,
  OptionError,
  DataFormatError,
  IoError,
  StateError,
  ImpossibleError,
  type SamplexErrorCode,
} from './core/errors.js';
export { Rng } from './core/rng.js';
export { FeistelPermutation } from './core/permutation.js';
export { matrix, singleLabels, multiLabels, type Matrix, type Labels } from './core/matrix.js';
export { ClassTable, type TableInitOptions } from './core/classTable.js';
export { initFastKernels, shardedTableInKernelMemory, tableInKernelMemory, type FastKernels, type FastKernelOptions } from './kernels/fast.js';
export { defaultKernels, tsKernels, useKernels, type KernelSet } from './kernels/index.js';
export { logExpectedCount, logExpectedCountOf, type Sampler, type SampleOptions, type Draws } from './samplers/types.js';
export { SamplerBase, type RowDistribution } from './samplers/base.js';
export { ShardedClassTable, type ShardLayoutOptions, type ShardedInitOptions, type TableShard, type TableStorage } from './core/shardedTable.js';
export { Bf16ClassTable } from './core/bf16.js';
export {
  createSampler,
  createSamplerFor,
  registerSampler,
  samplerNames,
  samplerNeeds,
  type SamplerData,
  type SamplerInfo,
} from './samplers/factory.js';
export {
  UniformSampler,
  UnigramSampler,
  LogUniformSampler,
  ExactSampler,
  QuadraticSampler,
  RffSampler,
  MidxSampler,
  RebuildPolicy,
  type UniformOptions,
  type UnigramOptions,
  type LogUniformOptions,
  type ExactOptions,
  type QuadraticOptions,
  type RffOptions,
  type MidxOptions,
} from './samplers/index.js';
export { CONVENTIONS, type Convention, type LossResult, type SampledLossInput } from './loss/types.js';
export { ShardedSampler, type ShardSamplerFactory, type ShardedCreateOptions } from './samplers/sharded.js';
export { sampledSoftmaxLoss } from './loss/sampled.js';
export { inBatchDraws, mixedDraws, type InBatchDraws, type MixedDrawsInput } from './loss/inBatch.js';
export { StreamingFrequencyEstimator, type StreamingFrequencyOptions } from './samplers/frequency.js';
export { sampledLogisticLoss, BINARY_LOSSES, type BinaryLoss, type SampledLogisticLossInput } from './loss/binary.js';
export { fullSoftmaxLoss, type FullLossOptions } from './loss/full.js';
export { precisionAtK, recallAtK, ndcgAtK, meanNll, perplexity, topKRecall } from './loss/metrics.js';
export { createOptimizer, Sgd, Adagrad, Adam, type SparseOptimizer, type OptimizerName } from './layer/optimizers.js';
export { OutputLayer, AUTO_REBUILD_EVERY, type OutputLayerOptions, type StepInput, type StepResult } from './layer/outputLayer.js';
export { evaluate, evaluateMetrics, type EvaluateResult, type EvaluationMetrics } from './layer/evaluator.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  classTableToSafetensors,
  classTableFromSafetensors,
  type SafetensorsTensor,
  type SafetensorsContent,
} from './layer/safetensorsCodec.js';
export { evaluateAsync, evaluateMetricsAsync } from './layer/evaluator.js';
export { runBiasStudy, type BiasRow, type BiasStudyOptions, type StudySampler } from './diagnostics/bias.js';
export { syntheticTable, syntheticQueries } from './diagnostics/synthetic.js';
export { ShardedOptimizer } from './layer/sharded.js';
export { biasReportHtml } from './report/bias.js';
export { trainingReportHtml, type TrainingRun } from './report/training.js';
export type { SparseDataset, DatasetSplit, RowSource, SourceSplit } from './data/sparse.js';
export { datasetRowSource, gatherRows, isRowSource } from './data/sparse.js';
export { parseXmc } from './data/xmc.js';
export { SyntheticXmc, parseSyntheticXmcSpec, type SyntheticXmcOptions } from './data/syntheticXmc.js';
export { parseFastText } from './data/fasttext.js';
export { Vocabulary } from './data/vocab.js';
export { buildLmCorpus, parseTextCorpus, type LmCorpus } from './data/lmCorpus.js';
export { BpttBatcher } from './data/bptt.js';
export {
  parseInteractionLog,
  buildSequences,
  leaveOneOut,
  type InteractionLog,
  type InteractionFormat,
  type LeaveOneOutSplit,
} from './data/interactions.js';
export { XmcTrainer, type XmcConfig } from './apps/xmc/trainer.js';
