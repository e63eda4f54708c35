/**
 * What `predict` of every application shares: the command with `--model`, `--k`, `--input` and
 * `--scores`, and reading the input text.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { IoError } from '../core/errors.js';
import { commandGroup } from './groups.js';

/**
 * Adds `predict <app>` with the shared options (`--model`, `--k` with default `k`, `--input`,
 * `--scores`); the caller adds its own options and the action.
 */
export function predictCommand(program: Command, app: string, description: string, k: number, scores: string): Command {
  return commandGroup(program, 'predict')
    .command(app)
    .description(description)
    .requiredOption('--model <dir>', `run folder of a samplex train ${app} run`)
    .option('--k <k>', 'results per line', String(k))
    .option('--input <file>', 'read lines from FILE instead of stdin')
    .option('--scores', scores);
}

/** The text of `--input` (stdin without it). */
export function readInputText(input: string | undefined): string {
  try {
    return readFileSync(input ?? 0, 'utf8');
  } catch (e) {
    throw new IoError(`cannot read ${input ?? 'stdin'}: ${(e as Error).message}`);
  }
}

/** The lines of `text` (a final newline does not start a line). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The lines of `--input` (a final newline does not start a line). */
export function readInputLines(input: string | undefined): string[] {
  return splitLines(readInputText(input));
}
