/**
 * The command groups the applications share (`train`, `compare`, `predict`): each application
 * adds its subcommand (`train xmc`, `train lm`, …) to the one group object.
 * @module
 */
import type { Command } from 'commander';

const GROUPS = {
  train: 'train a model with a sampled-softmax (or full-softmax) output layer',
  compare: 'train the same model with several samplers and compare them in one report',
  predict: 'predict with a trained model',
} as const;

/** The `train`, `compare` or `predict` command of `program`, created on first use. */
export function commandGroup(program: Command, name: keyof typeof GROUPS): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(GROUPS[name]);
}
