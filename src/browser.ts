/**
 * samplex for browsers and any JavaScript runtime: everything except the Node-only file
 * functions (atomic writes, `.safetensors` files on disk). `.safetensors` bytes can still be
 * encoded and decoded in memory with `encodeSafetensors` / `decodeSafetensors`. Bundlers pick
 * this entry through the `browser` export condition.
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
  tableInKernelMemory,
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
export {
  SamplerBase,
  sampleRowRange,
  newRowRangeOutput,
  drawsOf,
  rowGenerators,
  rowStreamsOf,
  type RowDistribution,
  type RowRangeOutput,
} from './samplers/base.js';
export {
  createSampler,
  createSamplerFor,
  type SamplerData,
  registerSampler,
  samplerNames,
  samplerOptionNames,
  type SamplerFactory,
  type SamplerInfo,
} from './samplers/factory.js';
export * from './samplers/index.js';
export { KernelTree, KernelTreeSampler, TreeDescent, TreeQuery, type TreeKernel, type KernelTreeOptions } from './samplers/kernelTree.js';
export { kmeans, assignNearest, nearestCentroid, type KMeansOptions, type KMeansResult } from './samplers/kmeans.js';
export * from './loss/types.js';
export { sampledSoftmaxLoss } from './loss/sampled.js';
export { inBatchDraws, mixedDraws, type InBatchDraws, type MixedDrawsInput } from './loss/inBatch.js';
export { StreamingFrequencyEstimator, type StreamingFrequencyOptions } from './samplers/frequency.js';
export { sampledLogisticLoss, BINARY_LOSSES, type BinaryLoss, type SampledLogisticLossInput } from './loss/binary.js';
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
  type OptimizerStorage,
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
export {
  evaluate,
  evaluateMetrics,
  DEFAULT_BLOCK_SIZE,
  type EvaluateOptions,
  type EvaluateResult,
  type EvaluateMetricsOptions,
  type EvaluationMetrics,
} from './layer/evaluator.js';
export { OutputLayer, type OutputLayerOptions, type StepInput, type StepResult } from './layer/outputLayer.js';
export {
  runBiasStudy,
  exactReference,
  meanKL,
  proposalFit,
  gradientTrials,
  gradBias,
  marginalProbs,
  type BiasRow,
  type BiasStudyOptions,
  type ProposalFit,
  type StudySampler,
  type ExactReference,
  type GradientTrials,
  type TrialOptions,
  type GradBias,
} from './diagnostics/bias.js';
export { syntheticTable, syntheticQueries, type SyntheticKind, type SyntheticOptions } from './diagnostics/synthetic.js';
export { biasReportHtml } from './report/bias.js';
export {
  trainingReportHtml,
  type TrainingReportOptions,
  type TrainingRun,
  type CurvePoint,
  type ReportMetric,
} from './report/training.js';
export {
  Vocab,
  SparseBuilder,
  checkDataset,
  datasetStats,
  numRows,
  tokenize,
  formatFloat32,
  type SparseRows,
  type Sequences,
  type SparseDataset,
  type DatasetSplit,
  type DatasetStats,
  type BuildInfo,
} from './data/sparse.js';
export { linesOf } from './data/lines.js';
export { parseXmc, formatXmc, FORMAT_CHUNK_LINES, type XmcReadOptions } from './data/xmc.js';
export { parseFastText, formatFastText, FASTTEXT_LABEL_PREFIX, type FastTextReadOptions } from './data/fasttext.js';
export {
  parseWordNetNouns,
  buildWordNetDataset,
  isWordNetTest,
  type WordNetSynset,
  type WordNetOptions,
  type WordNetStats,
  type WordNetDataset,
} from './data/wordnet.js';
export { Vocabulary, countTokens, UNK, EOS, type VocabularyOptions } from './data/vocab.js';
export {
  buildLmCorpus,
  lmCorpusStats,
  parseTextCorpus,
  textTokens,
  decodeText,
  SPLIT_NAMES,
  type SplitName,
  type TokenSource,
  type LmCorpus,
  type LmCorpusStats,
  type LmTexts,
} from './data/lmCorpus.js';
export { BROWN_GENRES, brownGenre, brownHeldOut, parseBrownText, sentenceTokens, splitBrownFiles } from './data/brownFormat.js';
export { BpttBatcher, type BpttBatch, type BpttOptions } from './data/bptt.js';
export {
  parseInteractionLines,
  parseInteractionLog,
  InteractionLineParser,
  collectInteractions,
  InteractionLogBuilder,
  compareIds,
  buildSequences,
  leaveOneOut,
  interactionStats,
  MOVIELENS_RATINGS_FORMAT,
  type ColumnRef,
  type InteractionFormat,
  type InteractionRecord,
  type InteractionLog,
  type SequenceOptions,
  type UserSequences,
  type EvalSplit,
  type LeaveOneOutSplit,
  type InteractionStats,
} from './data/interactions.js';
export { Featurizer, bigramBucket, type FeaturizerOptions, type FeaturizerState, type TermWeighting } from './apps/xmc/features.js';
export { SparseEncoder, checkInputs, type SparseEncoderOptions, type EncoderPass, type EncoderGrads } from './apps/xmc/encoder.js';
export {
  XmcTrainer,
  XmcModel,
  FULL_SOFTMAX,
  xmcSamplerNames,
  resolveXmcConfig,
  batchLabels,
  labelCounts,
  type XmcConfig,
  type ResolvedXmcConfig,
  type XmcMetrics,
  type EpochStats,
  type XmcProgress,
  type XmcRuntime,
  type XmcTensors,
} from './apps/xmc/trainer.js';
