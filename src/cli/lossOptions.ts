/**
 * The loss flags shared by the commands: `--loss`, `--label-weighting` and
 * `--keep-accidental-hits`, declared and parsed in one place.
 * @module
 */
import type { Command } from 'commander';
import { choiceOption } from '../core/validate.js';
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
