/**
 * samplex/tfjs: the TensorFlow.js adapter (a sampled-softmax head with sparse class-table
 * updates, an optional tied input embedding) and opt-in fast kernels for the tfjs `wasm` and
 * `cpu` backends. tfjs (`@tensorflow/tfjs-core` or `@tensorflow/tfjs`) is an optional peer
 * dependency; pass its namespace to these functions.
 * @packageDocumentation
 */
export {
  TfOutputHead,
  mergeRowGrads,
  embeddingRowGrad,
  type Tf,
  type HeadLoss,
  type TfOutputHeadOptions,
  type HeadLossOptions,
  type HeadStepInfo,
  type HeadTiming,
} from './adapter.js';
export {
  registerSamplexKernels,
  matmulInto,
  type SamplexTfBackend,
  type RegisterKernelsOptions,
  type RegisteredKernels,
} from './wasmKernels.js';
export { loadTfjs, type NodeTfBackend } from './node.js';
export { LstmLm, timeMajor, type LstmLmOptions, type LmStepResult } from '../apps/lm/model.js';
export {
  evaluatePerplexity,
  trainEpoch,
  type PerplexityOptions,
  type PerplexityResult,
  type EpochProgress,
  type TrainEpochOptions,
  type EpochResult,
} from '../apps/lm/trainer.js';
