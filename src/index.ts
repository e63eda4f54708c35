/**
 * samplex: adaptive sampled softmax for huge output spaces. This is the Node entry: everything
 * in the browser entry plus the file functions (`.safetensors` files, the dataset readers,
 * MovieLens download and cache), the multi-threaded midx sampling and the applications' runs.
 * The other modules are internal (the tests and benchmarks import them by path).
 * @packageDocumentation
 */
export * from './browser.js';
export { writeSafetensors, readSafetensors, saveClassTable, loadClassTable } from './layer/safetensors.js';
export { MidxThreads } from './samplers/midxThreads.js';
export { readXmcFile, readFastTextFile, readXmcSplit, readFastTextSplit, exportSplit, loadWordNet } from './data/files.js';
export { loadBrown, readTextCorpus } from './data/lmFiles.js';
export { readMovielensRatings, fetchMovielensSmall, loadRecDataset, DatasetUnavailableError } from './data/movielens.js';
export { trainXmcRun, loadXmcModel, type XmcRunOptions } from './apps/xmc/run.js';
export { runSeqRec, type RunSeqRecOptions } from './apps/seqrec/run.js';
export { RunFolder, RunLockedError, CheckpointError, RunPathError, type RunFolderOptions } from './harness/runFolder.js';
export { runTask, type RunTaskOptions, type RunTaskResult } from './harness/runTask.js';
export { RESUMABLE_SETTINGS, type Task, type TaskContext, type TaskEpochResult } from './harness/task.js';
