/**
 * `.safetensors` files on disk (Node.js only): atomic writes, validated reads, and class-table
 * checkpoints. The format itself lives in `./safetensorsCodec.js`, which is browser-safe.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ClassTable } from '../core/classTable.js';
import { IoError } from '../core/errors.js';
import { writeFileAtomic, type AtomicFileOps } from '../io/atomic.js';
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

/** Largest single read or write request (the OS may do less per call; we loop). */
const IO_SLICE = 1 << 30;

/**
 * Writes tensors and string metadata to a `.safetensors` file atomically: a temporary file in the
 * same directory is written, fsynced and renamed over `path`; on any failure it is removed and a
 * previous file at `path` is left untouched. Tensor data is written from the arrays directly
 * (no copy of the table).
 * @param ops file operations (default `node:fs`; see {@link AtomicFileOps})
 * @throws OptionError, ShapeError (bad tensors or metadata; nothing is written), IoError
 */
export function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
  ops?: AtomicFileOps,
): void {
  const plan = planSafetensors(tensors, metadata);
  const slices: Uint8Array[] = [];
  for (const p of plan.parts) {
    for (let o = 0; o < p.byteLength; o += IO_SLICE) slices.push(p.subarray(o, Math.min(p.byteLength, o + IO_SLICE)));
  }
  writeFileAtomic(path, slices, ops);
}

function readError(path: string, e: unknown): IoError {
  const err = e as { code?: string; message?: string };
  const hint = err.code === 'ENOENT' ? ' (check the path)' : err.code === 'EISDIR' ? ' (it is a directory)' : '';
  return new IoError(`cannot read '${path}': ${err.message ?? String(e)}${hint}`);
}

/** Fills `dst` from file position `pos`. */
function readFully(fd: number, path: string, dst: Uint8Array, pos: number): void {
  for (let o = 0; o < dst.byteLength; ) {
    let got: number;
    try {
      got = readSync(fd, dst, o, Math.min(IO_SLICE, dst.byteLength - o), pos + o);
    } catch (e) {
      throw readError(path, e);
    }
    if (got === 0) throw new IoError(`cannot read '${path}': the file ended early (was it modified while being read?)`);
    o += got;
  }
}

/**
 * Reads and validates a `.safetensors` file (checks of `parseSafetensorsHeader`: header length,
 * JSON, dtypes, shapes vs byte ranges, offsets tiling the data section). The header is checked
 * before any tensor is read; each tensor is then read straight into its own array, so memory use
 * is the size of the tensors and files over 2 GiB work.
 * @throws IoError (file system), DataFormatError (malformed file, naming the path)
 */
export function readSafetensors(path: string): SafetensorsContent {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw readError(path, e);
  }
  try {
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      throw readError(path, e);
    }
    const first = new Uint8Array(Math.min(8, size));
    readFully(fd, path, first, 0);
    const n = safetensorsHeaderLength(first, size, path);
    const headerBytes = new Uint8Array(n);
    readFully(fd, path, headerBytes, 8);
    const header = parseSafetensorsHeader(headerBytes, size - 8 - n, path);
    const tensors: Record<string, SafetensorsTensor> = Object.create(null) as Record<string, SafetensorsTensor>;
    for (const e of header.entries) {
      const data = allocSafetensorsArray(e.dtype, (e.end - e.begin) / dtypeBytes(e.dtype));
      readFully(fd, path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.dataStart + e.begin);
      littleEndianToNative(data);
      tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
    }
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

/**
 * Saves a class table as `.safetensors`, atomically (see {@link writeSafetensors}): tensors
 * `weights` `[n, d]` F32 and, when the table has one, `bias` `[n]` F32; metadata
 * `samplex.kind = "classTable"` plus `metadata`.
 * @throws OptionError (metadata values not strings), IoError
 */
export function saveClassTable(
  path: string,
  table: ClassTable,
  metadata: Readonly<Record<string, string>> = {},
  ops?: AtomicFileOps,
): void {
  writeSafetensors(path, classTableTensors(table), { ...metadata, [SAFETENSORS_KIND_KEY]: 'classTable' }, ops);
}

/**
 * Loads a class table saved by {@link saveClassTable}, or any `.safetensors` file with a `weights`
 * `[n, d]` F32 tensor and an optional `bias` `[n]` F32 tensor (other tensors are ignored).
 * @throws IoError, DataFormatError (malformed file, missing tensor, wrong dtype or shape),
 *   NonFiniteError (NaN/±Inf in the weights or bias)
 */
export function loadClassTable(path: string): ClassTable {
  return classTableFromContent(readSafetensors(path), path);
}
