/**
 * Starting Node `worker_threads` workers under whatever flags the main process was started
 * with (Node only; browser-safe modules import it dynamically). A worker inherits the
 * parent's `execArgv`, and Node refuses, when it is passed explicitly, every V8 option
 * (`--max-old-space-size`, `--stack-size`, `--expose-gc`, …) and every option that only
 * concerns the main script (`--input-type`, `-e`): {@link spawnNodeWorker} passes the
 * options a worker accepts and leaves the rest out. V8 options are process-wide, so a worker
 * still runs under them; the old-space limit is also passed as the worker's `resourceLimits`,
 * so that a worker that runs out of memory stops with an error instead of ending the process.
 * @module
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { KERNELS_ENV, kernelsEnvValue } from './auto.js';
import { kernels } from './index.js';

/** Options of the main script only, with the number of values that follow them as separate tokens. */
const MAIN_SCRIPT_ONLY: ReadonlyMap<string, number> = new Map([
  ['--input-type', 1], ['-e', 1], ['--eval', 1], ['-p', 1], ['--print', 1],
]);

/** Flags (as written in `execArgv`) that Node refused for a worker in this process. */
const refused = new Set<string>();

/** `argv` without the main script's own options (and their values). */
function withoutMainScriptOptions(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const values = MAIN_SCRIPT_ONLY.get(name);
    if (values === undefined) out.push(a);
    else if (eq < 0) i += values;
  }
  return out;
}

/**
 * The `--max-old-space-size` (MB) of this process, from its `execArgv` or `NODE_OPTIONS`
 * (the last one given wins), or null when none was given.
 */
export function maxOldSpaceSizeMb(): number | null {
  const opts = [...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/), ...process.execArgv];
  let mb: number | null = null;
  for (const a of opts) {
    const m = /^--max[-_]old[-_]space[-_]size=(\d+(?:\.\d+)?)$/.exec(a);
    if (m) mb = Number(m[1]);
  }
  return mb !== null && mb > 0 ? mb : null;
}

/**
 * The `execArgv` for a new worker: undefined (inherit the parent's, which Node does itself,
 * V8 options included) when the parent has no main-script option, else the parent's options
 * less those and less the flags Node already refused in this process.
 */
export function workerExecArgv(): string[] | undefined {
  const argv = withoutMainScriptOptions(process.execArgv);
  if (argv.length === process.execArgv.length && refused.size === 0) return undefined;
  return argv.filter((a) => !refused.has(a));
}

/** The flags listed by an `ERR_WORKER_INVALID_EXEC_ARGV` error, or [] when it is another error. */
function refusedFlags(e: unknown): string[] {
  if (!(e instanceof Error) || (e as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return [];
  const i = e.message.indexOf(': ');
  return i < 0 ? [] : e.message.slice(i + 2).split(', ').map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * The options for a new worker: `options` with {@link workerExecArgv}; when this process has a
 * `--max-old-space-size` and `options` sets no old-generation limit, that limit as
 * `resourceLimits.maxOldGenerationSizeMb`; and, unless `options` has its own `env`, the active
 * kernels of this thread as `SAMPLEX_KERNELS`, so that the worker's default kernels are the same
 * (its results then equal this thread's bit for bit). `passKernels: false` leaves that out
 * (workers that never call the dispatch table, such as the kernel pool's).
 */
export function nodeWorkerOptions(options: WorkerOptions = {}, passKernels = true): WorkerOptions {
  const out: WorkerOptions = { ...options };
  const k = passKernels && options.env === undefined ? kernelsEnvValue(kernels.name) : null;
  if (k !== null) out.env = { ...process.env, [KERNELS_ENV]: k };
  const execArgv = workerExecArgv();
  if (execArgv !== undefined) out.execArgv = execArgv;
  else delete out.execArgv;
  const mb = maxOldSpaceSizeMb();
  if (mb !== null && options.resourceLimits?.maxOldGenerationSizeMb === undefined) {
    out.resourceLimits = { ...options.resourceLimits, maxOldGenerationSizeMb: mb };
  }
  return out;
}

/**
 * Starts a worker on `url` with {@link nodeWorkerOptions} (`passKernels` as there). When Node refuses some of the
 * inherited flags (`ERR_WORKER_INVALID_EXEC_ARGV`, thrown before the thread starts), they are
 * left out from then on and the worker is started again without them.
 * @throws what `new Worker` throws for any other reason
 */
export function spawnNodeWorker(url: URL | string, options: WorkerOptions = {}, passKernels = true): Worker {
  for (;;) {
    try {
      return new Worker(url, nodeWorkerOptions(options, passKernels));
    } catch (e) {
      const flags = refusedFlags(e).filter((f) => !refused.has(f));
      if (flags.length === 0) throw e;
      for (const f of flags) refused.add(f);
    }
  }
}
