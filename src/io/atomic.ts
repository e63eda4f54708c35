/**
 * Atomic file writes (Node only): write a temporary file beside the target, flush it to
 * disk, then rename it over the target, so a reader sees either the old or the new file and a
 * failure never leaves a half-written one.
 * @module
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IoError } from '../core/errors.js';

/**
 * The synchronous file operations {@link writeFileAtomic} uses, with the semantics of `node:fs`.
 * The default is `node:fs` itself; tests substitute failing ones to check that a failure at any
 * step leaves the previous file intact.
 */
export interface AtomicFileOps {
  /** Creates `path` exclusively (flag `wx`) and returns a descriptor. */
  openSync(path: string, flags: 'wx'): number;
  /** Writes `length` bytes of `buf` from `offset`; returns the bytes written. */
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** Flushes `fd` to disk. */
  fsyncSync(fd: number): void;
  /** Closes `fd`. */
  closeSync(fd: number): void;
  /** Renames `from` over `to` (atomic on POSIX within one directory). */
  renameSync(from: string, to: string): void;
  /** Removes `path` if it exists. */
  rmSync(path: string, options: { force: true }): void;
}

const nodeOps: AtomicFileOps = {
  openSync: (p, f) => fs.openSync(p, f),
  writeSync: (fd, b, o, l) => fs.writeSync(fd, b, o, l),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  rmSync: (p, o) => fs.rmSync(p, o),
};

let counter = 0;

/**
 * Writes `chunks` to `path` atomically (temp file in the same directory + fsync + rename).
 * @param ops file operations to use (default `node:fs`)
 * @throws IoError naming the path and the cause; the previous file, if any, is left intact and
 *   no temporary file remains
 */
export function writeFileAtomic(
  path: string,
  chunks: Uint8Array | string | ReadonlyArray<Uint8Array | string>,
  ops: AtomicFileOps = nodeOps,
): void {
  const list = Array.isArray(chunks) ? chunks : [chunks as Uint8Array | string];
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
  let fd = -1;
  let created = false;
  try {
    fd = ops.openSync(tmp, 'wx');
    created = true;
    for (const c of list) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += ops.writeSync(fd, buf, off, buf.byteLength - off);
    }
    ops.fsyncSync(fd);
    ops.closeSync(fd);
    fd = -1;
    ops.renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) {
      try {
        ops.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    if (created) {
      try {
        ops.rmSync(tmp, { force: true });
      } catch {
        /* best effort */
      }
    }
    const err = e as { code?: string; message?: string };
    const hint = err.code === 'ENOENT' ? '; does the directory exist?' : '; check that the directory is writable and has space';
    throw new IoError(`could not write ${path}: ${err.message ?? String(e)}${hint} (the previous file, if any, is unchanged)`);
  }
}
