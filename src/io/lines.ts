/**
 * Streaming line reader for files (Node only): reads fixed-size chunks
 * synchronously and yields one line at a time, so memory stays bounded by the
 * longest line whatever the file size.
 * @module
 */
import * as fs from 'node:fs';
import { IoError } from '../core/errors.js';
import { linesOf } from '../core/lines.js';

/** Default read size in bytes. */
const CHUNK = 1 << 20;

/**
 * The lines of the UTF-8 file at `path`, lazily, without their terminators
 * (`\n` or `\r\n`); a final terminator does not start an extra empty line
 * (same rules as `linesOf`). The file is closed when iteration ends, also early.
 * @param chunkBytes read size (tests use small values to cross chunk borders)
 * @throws IoError when the file cannot be opened or read
 */
export function* readLines(path: string, chunkBytes = CHUNK): Generator<string, void, undefined> {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new IoError(`could not open ${path}: ${(e as Error).message}; check the path`);
  }
  try {
    const buf = new Uint8Array(Math.max(1, chunkBytes));
    const decoder = new TextDecoder('utf-8');
    let carry = '';
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw new IoError(`could not read ${path}: ${(e as Error).message}`);
      }
      const text = got > 0 ? carry + decoder.decode(buf.subarray(0, got), { stream: true }) : carry + decoder.decode();
      const complete = text.lastIndexOf('\n') + 1;
      yield* linesOf(text.slice(0, complete));
      carry = text.slice(complete);
      if (got === 0) break;
    }
    yield* linesOf(carry);
  } finally {
    fs.closeSync(fd);
  }
}
