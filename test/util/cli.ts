/**
 * Runs the `samplex` CLI in-process for tests, capturing printed lines and stderr.
 */
import { main } from '../../src/cli/main.js';

/** Result of {@link runCli}. */
export interface CliRun {
  /** Exit code (0 ok, 2 typed error). */
  code: number;
  /** Lines printed on stdout. */
  lines: string[];
  /** Everything written to stderr. */
  stderr: string;
}

/** Runs `samplex ...args`, capturing stdout lines and stderr (restored afterwards). */
export async function runCli(args: string[]): Promise<CliRun> {
  const lines: string[] = [];
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(args, (l) => lines.push(l));
    return { code, lines, stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** Timers alive in this process (a drawing progress bar holds one, and keeps a CLI from exiting). */
export function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
