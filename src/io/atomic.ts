/**
 * Atomic file writes (Node only): write a temporary file beside the target, flush it to
 * disk, then rename it over the target, so a reader sees either the old or the new file and a
 * failure never leaves a half-written one.
 * @module
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IoError } from '../core/errors.js';

let counter = 0;

/**
 * Writes `chunks` to `path` atomically (temp file + fsync + rename).
 * @throws IoError naming the path and the cause; the previous file is left intact
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | ReadonlyArray<Uint8Array | string>): void {
  const list = Array.isArray(chunks) ? chunks : [chunks as Uint8Array | string];
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx');
    for (const c of list) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    rmSync(tmp, { force: true });
    const msg = e instanceof Error ? e.message : String(e);
    throw new IoError(`could not write ${path}: ${msg}; check that the directory exists and is writable (the previous file, if any, is unchanged)`);
  }
}
