/**
 * When to rebuild an adaptive sampler from scratch during training (between rebuilds the
 * per-step `update(ids)` keeps it current).
 * @module
 */
import { intOption, rejectUnknown } from '../core/validate.js';

/** Options of {@link RebuildPolicy}. */
export interface RebuildPolicyOptions {
  /** Rebuild every this many training steps (0, the default: never by steps). */
  everySteps?: number;
  /** Rebuild at the end of every epoch (default true). */
  perEpoch?: boolean;
}

/**
 * When to rebuild an index or tree during training: every `everySteps` steps and/or at the end
 * of every epoch. Used by `OutputLayer`; usable by any training loop.
 */
export class RebuildPolicy {
  /** Rebuild period in steps (0: never by steps). */
  readonly everySteps: number;
  /** Whether an epoch end triggers a rebuild. */
  readonly perEpoch: boolean;

  /** @throws OptionError for invalid or unknown options */
  constructor(opts: RebuildPolicyOptions = {}) {
    rejectUnknown(opts, ['everySteps', 'perEpoch'], 'RebuildPolicy');
    this.everySteps = intOption(opts.everySteps ?? 0, 'everySteps', 0, 2 ** 31 - 1);
    this.perEpoch = opts.perEpoch ?? true;
  }

  /**
   * True when the sampler should be rebuilt after training step `step` (1-based; the step rule)
   * or, with `epochEnded`, at an epoch end (the epoch rule only: the step that ended the epoch has
   * already been judged by the step rule, so it is never rebuilt twice).
   */
  shouldRebuild(step: number, epochEnded: boolean): boolean {
    if (epochEnded) return this.perEpoch;
    return this.everySteps > 0 && step > 0 && step % this.everySteps === 0;
  }
}
