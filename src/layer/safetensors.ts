/**
 * `.safetensors` files on disk (Node.js): atomic writes, validated reads, and class-table
 * checkpoints. The format itself is in {@link ./safetensorsCodec.js}, which is browser-safe;
 * `node:fs` is loaded lazily here, only when a file function is called, so importing this module
 * does not break a browser bundle.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { IoError } from '../core/errors.js';
import {
  classTableFromSafetensors,
  classTableTensors,
  decodeSafetensors,
  KIND_KEY,
  planSafetensors,
  type SafetensorsContent,
  type TensorInput,
} from './safetensorsCodec.js';

/**
 * The file operations {@link writeFileAtomic} needs, with the semantics of `node:fs/promises`.
 * Tests substitute them to simulate failures.
 */
export interface AtomicWriteOps {
  /** Creates `path` exclusively (flag `wx`) and returns a handle. */
  open(path: string): Promise<{
    write(data: Uint8Array): Promise<{ bytesWritten: number }>;
    sync(): Promise<void>;
    close(): Promise<void>;
  }>;
  /** Renames `from` over `to` (atomic on POSIX within one directory). */
  rename(from: string, to: string): Promise<void>;
  /** Removes `path` if it exists. */
  remove(path: string): Promise<void>;
  /** Best-effort fsync of a directory (makes the rename durable); errors are ignored. */
  syncDir(path: string): Promise<void>;
}

async function nodeOps(): Promise<AtomicWriteOps> {
  const fsp = await import('node:fs/promises');
  return {
    async open(path) {
      const fh = await fsp.open(path, 'wx', 0o644);
      return {
        write: (data: Uint8Array) => fh.write(data, 0, data.byteLength),
        sync: () => fh.sync(),
        close: () => fh.close(),
      };
    },
    rename: (from, to) => fsp.rename(from, to),
    remove: (path) => fsp.rm(path, { force: true }),
    async syncDir(path) {
      try {
        const dh = await fsp.open(path, 'r');
        try {
          await dh.sync();
        } finally {
          await dh.close();
        }
      } catch {
        // Some platforms cannot fsync a directory; the rename itself is still atomic.
      }
    },
  };
}

function splitPath(path: string): { dir: string; base: string } {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? { dir: '.', base: path } : { dir: path.slice(0, i) || '/', base: path.slice(i + 1) };
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const hint =
    err.code === 'ENOENT'
      ? ' (does the directory exist?)'
      : err.code === 'EACCES' || err.code === 'EPERM'
        ? ' (check the permissions)'
        : err.code === 'ENOSPC'
          ? ' (the disk is full)'
          : '';
  return `${err.message ?? String(e)}${hint}`;
}

let tempCounter = 0;
const WRITE_SLICE = 1 << 26;

/**
 * Writes `parts` (concatenated) to `path` atomically: into a new temporary file in the same
 * directory, fsync, then rename over `path`. On any failure the temporary file is removed and a
 * previous file at `path` is left untouched.
 * @param ops file operations (default: `node:fs/promises`); replace them only to inject faults
 * @throws IoError saying which step failed and why
 */
export async function writeFileAtomic(path: string, parts: readonly Uint8Array[], ops?: AtomicWriteOps): Promise<void> {
  const io = ops ?? (await nodeOps());
  const { dir, base } = splitPath(path);
  const pid = typeof process === 'object' && process !== null ? process.pid : 0;
  let tmp = '';
  let fh: Awaited<ReturnType<AtomicWriteOps['open']>> | null = null;
  for (let attempt = 0; fh === null; attempt++) {
    tmp = `${dir}/.${base}.${pid}.${Date.now().toString(36)}.${(tempCounter++).toString(36)}.tmp`;
    try {
      fh = await io.open(tmp);
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST' && attempt < 100) continue;
      throw new IoError(`cannot write '${path}': creating a temporary file in '${dir}' failed: ${describe(e)}`);
    }
  }
  let step = 'writing';
  try {
    for (const part of parts) {
      for (let o = 0; o < part.byteLength; ) {
        const end = Math.min(part.byteLength, o + WRITE_SLICE);
        const { bytesWritten } = await fh.write(part.subarray(o, end));
        if (bytesWritten <= 0) throw new Error('the write made no progress');
        o += bytesWritten;
      }
    }
    step = 'flushing';
    await fh.sync();
    step = 'closing';
    const h = fh;
    fh = null;
    await h.close();
    step = 'renaming';
    await io.rename(tmp, path);
  } catch (e) {
    if (fh !== null) await fh.close().catch(() => undefined);
    await io.remove(tmp).catch(() => undefined);
    throw new IoError(`cannot write '${path}': ${step} the temporary file failed: ${describe(e)}; the previous file, if any, is unchanged`);
  }
  await io.syncDir(dir);
}

/**
 * Writes tensors and string metadata to a `.safetensors` file, atomically (see
 * {@link writeFileAtomic}). Tensor data is written from the arrays directly, without a full copy.
 * @throws OptionError, ShapeError (bad tensors or metadata), IoError (file system)
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorInput>>,
  metadata: Readonly<Record<string, string>> = {},
  ops?: AtomicWriteOps,
): Promise<void> {
  const plan = planSafetensors(tensors, metadata);
  await writeFileAtomic(path, plan.parts, ops);
}

async function readBytes(path: string): Promise<Uint8Array> {
  const fsp = await import('node:fs/promises');
  try {
    return await fsp.readFile(path);
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${describe(e)}`);
  }
}

/**
 * Reads and validates a `.safetensors` file (see {@link decodeSafetensors} for the checks).
 * @throws IoError (file system), DataFormatError (malformed file, naming the path)
 */
export async function readSafetensors(path: string): Promise<SafetensorsContent> {
  return decodeSafetensors(await readBytes(path), path);
}

/**
 * Saves a class table as `.safetensors` (tensors `weights` `[n, d]` F32 and, when the table has
 * one, `bias` `[n]` F32; metadata `samplex.kind = "classTable"` plus `metadata`), atomically.
 * @throws OptionError (metadata not strings), IoError
 */
export async function saveClassTable(
  path: string,
  table: ClassTable,
  metadata: Readonly<Record<string, string>> = {},
  ops?: AtomicWriteOps,
): Promise<void> {
  await writeSafetensors(path, classTableTensors(table), { ...metadata, [KIND_KEY]: 'classTable' }, ops);
}

/**
 * Loads a class table saved by {@link saveClassTable} (or any `.safetensors` file with a
 * `weights` `[n, d]` F32 tensor and an optional `bias` `[n]` F32 tensor).
 * @throws IoError, DataFormatError (malformed file, missing tensor, wrong dtype or shape),
 *   NonFiniteError (NaN/±Inf in the weights or bias)
 */
export async function loadClassTable(path: string): Promise<ClassTable> {
  return classTableFromSafetensors(await readBytes(path), path);
}
