/**
 * The loss flags shared by the commands: `--loss`, `--label-weighting`,
 * `--keep-accidental-hits` and the in-batch negatives' `--negative-source`, `--frequency-buckets`,
 * `--frequency-alpha`, declared and parsed in one place.
 * @module
 */
import type { Command } from 'commander';
import { OptionError } from '../core/errors.js';
import { choiceOption, intArg, numArg } from '../core/validate.js';
import { BINARY_LOSSES, type BinaryLoss } from '../loss/binary.js';
import { LABEL_WEIGHTINGS, type LabelWeighting } from '../loss/types.js';

/** The losses `--loss` accepts. */
export const LOSS_NAMES = ['softmax', ...BINARY_LOSSES] as const;

/** The raw values of the loss flags (strings as given on the command line). */
export interface LossFlagValues {
  loss?: string;
  labelWeighting?: string;
  keepAccidentalHits?: boolean;
}

/** The loss settings the flags give. */
export interface LossSettings {
  loss: 'softmax' | BinaryLoss;
  labelWeighting: LabelWeighting;
  removeAccidentalHits: boolean;
}

/**
 * Declares the loss flags on `cmd`: `--loss`, `--keep-accidental-hits` and, for multi-label
 * applications (`labelWeighting: true`), `--label-weighting`.
 */
export function addLossOptions(cmd: Command, opts: { labelWeighting: boolean }): Command {
  cmd
    .option('--loss <l>', 'sampled loss: softmax | nce (TensorFlow nce_loss; needs --convention correctedAll) | negativeSampling (word2vec/fastText ns; correctedAll or exclusive)', 'softmax')
    .option('--keep-accidental-hits', "keep sampled ids equal to a positive as ordinary negatives (TensorFlow's remove_accidental_hits=False; softmax with correctedAll, nce, negativeSampling)");
  if (opts.labelWeighting) {
    cmd.option('--label-weighting <w>', "multi-label rows: mean (one softmax per positive, weight 1/P) | sum | joint (TensorFlow's multi-label sampled_softmax_loss: one softmax, target 1/P each; correctedAll)", 'mean');
  }
  return cmd;
}

/**
 * Parses the values of {@link addLossOptions}' flags.
 * @throws OptionError for an unknown loss or weighting
 */
export function lossSettings(o: LossFlagValues): LossSettings {
  return {
    loss: choiceOption(o.loss ?? 'softmax', '--loss', LOSS_NAMES),
    labelWeighting: choiceOption(o.labelWeighting ?? 'mean', '--label-weighting', LABEL_WEIGHTINGS),
    removeAccidentalHits: !(o.keepAccidentalHits ?? false),
  };
}

/** The raw values of the in-batch flags. */
export interface NegativeSourceFlagValues {
  negativeSource?: string;
  frequencyBuckets?: string;
  frequencyAlpha?: string;
}

/** The in-batch settings the flags give. */
export interface NegativeSourceSettings {
  negativeSource: 'sampler' | 'inBatch' | 'mixed';
  /** Buckets of the streaming frequency estimate; 0: no `log Q` correction of the in-batch negatives. */
  frequencyBuckets: number;
  /** Learning rate of the estimate's gap average. */
  frequencyAlpha: number;
}

/** Declares `--negative-source`, `--frequency-buckets` and `--frequency-alpha` (in-batch negatives need one positive per row). */
export function addNegativeSourceOptions(cmd: Command): Command {
  return cmd
    .option('--negative-source <s>', 'sampler (draws from --sampler) | inBatch (the batch\'s other positives) | mixed (both); inBatch and mixed need --convention correctedAll', 'sampler')
    .option('--frequency-buckets <H>', 'in-batch log Q from a streaming frequency estimate with H hashed buckets (Yi et al.); 0: uncorrected in-batch softmax', '0')
    .option('--frequency-alpha <a>', 'learning rate of the streaming frequency estimate', '0.01');
}

/**
 * Parses the values of {@link addNegativeSourceOptions}' flags.
 * @throws OptionError for bad values
 */
export function negativeSourceSettings(o: NegativeSourceFlagValues): NegativeSourceSettings {
  const negativeSource = choiceOption(o.negativeSource ?? 'sampler', '--negative-source', ['sampler', 'inBatch', 'mixed'] as const);
  const frequencyBuckets = intArg(o.frequencyBuckets ?? '0', '--frequency-buckets', 0, 2 ** 31 - 1);
  const frequencyAlpha = numArg(o.frequencyAlpha ?? '0.01', '--frequency-alpha', 0, 1);
  if (frequencyBuckets > 0 && negativeSource === 'sampler') {
    throw new OptionError('--frequency-buckets corrects in-batch negatives; add --negative-source inBatch or mixed');
  }
  if (frequencyBuckets > 0 && !(frequencyAlpha > 0)) throw new OptionError('--frequency-alpha must be in (0, 1]');
  return { negativeSource, frequencyBuckets, frequencyAlpha };
}
