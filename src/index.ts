/**
 * samplex: adaptive sampled softmax for huge output spaces. This is the Node entry: everything
 * in the browser entry plus atomic file writes and `.safetensors` files on disk.
 * @packageDocumentation
 */
export * from './browser.js';
export { writeFileAtomic, type AtomicFileOps } from './io/atomic.js';
export { writeSafetensors, readSafetensors, saveClassTable, loadClassTable } from './layer/safetensors.js';
export { readLines } from './io/lines.js';
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
