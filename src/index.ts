/**
 * samplex: adaptive sampled softmax for huge output spaces. This is the Node entry: everything
 * in the browser entry plus atomic file writes, `.safetensors` files on disk, the R data reader
 * (node:zlib), the MovieLens files and cache, and training-run directories and progress bars.
 * @packageDocumentation
 */
export * from './browser.js';
export { writeFileAtomic, type AtomicFileOps } from './io/atomic.js';
export { writeSafetensors, readSafetensors, saveClassTable, loadClassTable } from './layer/safetensors.js';
export { readLines } from './io/lines.js';
export { MidxThreads } from './samplers/midxThreads.js';
export {
  RunFolder, RunLockedError, CheckpointError, RunPathError, METRICS_FILE, CHECKPOINT_FILE, LOCK_FILE, fingerprint,
  type RunFolderOptions, type MetricsRecord, type CommitRecord,
} from './harness/runFolder.js';
export { runTask, REPORT_FILE, type RunTaskOptions, type RunTaskResult } from './harness/runTask.js';
export { RESUMABLE_SETTINGS, checkResume, type Task, type TaskContext, type TaskEpochResult } from './harness/task.js';
export { ProgressBar, formatRate, type ProgressBarOptions } from './train/progress.js';
export {
  readXmcFile,
  readFastTextFile,
  readXmcSplit,
  readFastTextSplit,
  exportSplit,
  loadWordNet,
  wordnetDictDir,
  EXPORT_FORMATS,
  SPLIT_FILES,
  type ExportFormat,
  type LoadWordNetOptions,
} from './data/files.js';
export { loadBrown, brownDir, readTextCorpus, TEXT_CORPUS_FILES, type BrownOptions } from './data/lmFiles.js';
export {
  unserializeR,
  readRds,
  readLazyLoadIndex,
  readLazyLoadObject,
  rDataFrameColumns,
  rAttribute,
  rNames,
  R_NA_INTEGER,
  type RObject,
  type RAttributes,
  type RPairItem,
  type RColumn,
  type LazyLoadEntry,
  type LazyLoadIndex,
} from './data/rds.js';
export {
  readInteractionRecords,
  readInteractionsFile,
  readMovielensRatings,
  movielensFromDslabs,
  movielensRatingsCsv,
  fetchMovielensSmall,
  loadRecDataset,
  datasetPath,
  defaultCacheDir,
  DatasetUnavailableError,
  MOVIELENS_CITATION,
  REC_DATASETS,
  type RecDatasetName,
  type MovielensRatings,
  type FetchOptions,
  type FetchResult,
} from './data/movielens.js';
export { loadXmcData, selectRows, isTestRow, type XmcData, type XmcInputKind } from './apps/xmc/data.js';
export {
  trainXmcRun,
  loadXmcModel,
  parseXmcInputs,
  xmcReportHtml,
  curveOf,
  MODEL_FILE,
  XMC_REPORT_METRICS,
  type XmcModelInfo,
  type XmcRunOptions,
  type XmcRunResult,
  type LoadedXmcModel,
} from './apps/xmc/run.js';
export { rankTargets, SEQREC_CUTOFFS, type RankingMetrics } from './apps/seqrec/evaluate.js';
export {
  SasRec,
  gatherRows,
  padLeft,
  type ItemHead,
  type SasRecOptions,
  type SeqInput,
  type ForwardOptions,
} from './apps/seqrec/sasrec.js';
export { seqRecHead, type SeqRecHead } from './apps/seqrec/head.js';
export { DenseAdam, type DenseAdamOptions } from './tfjs/denseAdam.js';
export {
  SeqRecTrainer,
  trainingBatch,
  evalInputs,
  trainableUsers,
  type SeqRecTrainerOptions,
  type SeqBatch,
  type EpochResult,
} from './apps/seqrec/trainer.js';
export {
  runSeqRec,
  seqRecTask,
  seqRecDataFingerprint,
  BEST_TENSORS,
  BEST_FILE,
  SELECT_METRIC,
  type SeqRecSelection,
  type SeqRecBestMeta,
  type RunSeqRecOptions,
  type SeqRecRunResult,
} from './apps/seqrec/run.js';
