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
  allocSafetensorsArray,
  classTableFromContent,
  classTableTensors,
  dtypeBytes,
  littleEndianToNative,
  parseSafetensorsHeader,
  planSafetensors,
  SAFETENSORS_KIND_KEY,
  safetensorsHeaderLength,
  type SafetensorsContent,
  type SafetensorsInput,
  type SafetensorsTensor,
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
  tensors: Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
  ops?: AtomicWriteOps,
): Promise<void> {
  const plan = planSafetensors(tensors, metadata);
  await writeFileAtomic(path, plan.parts, ops);
}

const READ_SLICE = 1 << 30;

/**
 * Reads and validates a `.safetensors` file (see {@link parseSafetensorsHeader} for the checks).
 * The header is read and checked first; each tensor is then read straight into its own array, so
 * memory use is the size of the tensors (no second copy of the file) and files over 2 GiB work.
 * @throws IoError (file system), DataFormatError (malformed file, naming the path)
 */
export async function readSafetensors(path: string): Promise<SafetensorsContent> {
  const fsp = await import('node:fs/promises');
  let fh: Awaited<ReturnType<typeof fsp.open>>;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${describe(e)}`);
  }
  try {
    const size = await io(path, () => fh.stat()).then((st) => st.size);
    const first = new Uint8Array(Math.min(8, size));
    await readFully(fh, path, first, 0);
    const n = safetensorsHeaderLength(first, size, path);
    const headerBytes = new Uint8Array(n);
    await readFully(fh, path, headerBytes, 8);
    const header = parseSafetensorsHeader(headerBytes, size - 8 - n, path);
    const tensors: Record<string, SafetensorsTensor> = Object.create(null) as Record<string, SafetensorsTensor>;
    for (const e of header.entries) {
      const data = allocSafetensorsArray(e.dtype, (e.end - e.begin) / dtypeBytes(e.dtype));
      await readFully(fh, path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.dataStart + e.begin);
      littleEndianToNative(data);
      tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function io<T>(path: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${describe(e)}`);
  }
}

/** Fills `dst` from file position `pos`; a short file is a format error (it changed while reading). */
async function readFully(
  fh: { read(b: Uint8Array, o: number, l: number, p: number): Promise<{ bytesRead: number }> },
  path: string,
  dst: Uint8Array,
  pos: number,
): Promise<void> {
  for (let o = 0; o < dst.byteLength; ) {
    const len = Math.min(READ_SLICE, dst.byteLength - o);
    const { bytesRead } = await io(path, () => fh.read(dst, o, len, pos + o));
    if (bytesRead === 0) throw new IoError(`cannot read '${path}': the file ended early (was it modified while being read?)`);
    o += bytesRead;
  }
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
  await writeSafetensors(path, classTableTensors(table), { ...metadata, [SAFETENSORS_KIND_KEY]: 'classTable' }, ops);
}

/**
 * Loads a class table saved by {@link saveClassTable} (or any `.safetensors` file with a
 * `weights` `[n, d]` F32 tensor and an optional `bias` `[n]` F32 tensor).
 * @throws IoError, DataFormatError (malformed file, missing tensor, wrong dtype or shape),
 *   NonFiniteError (NaN/±Inf in the weights or bias)
 */
export async function loadClassTable(path: string): Promise<ClassTable> {
  return classTableFromContent(await readSafetensors(path), path);
}
