/**
 * Builds R serialization (XDR) bytes by hand for reader tests.
 * @module
 */
import { deflateSync, gzipSync } from 'node:zlib';

/** Appends big-endian values and R items to a byte buffer. */
export class XdrWriter {
  private readonly parts: number[] = [];

  /** A 32-bit big-endian integer. */
  int(v: number): this {
    this.parts.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
    return this;
  }

  /** A big-endian IEEE double. */
  double(v: number): this {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, v, false);
    for (let i = 0; i < 8; i++) this.parts.push(b.getUint8(i));
    return this;
  }

  /** Raw bytes. */
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
    return this;
  }

  /** `X\n` and the header of format `version` (2 or 3). */
  header(version = 3): this {
    this.bytes([0x58, 0x0a]).int(version).int(0x040101).int(0x030500);
    if (version === 3) this.int(5).bytes(Buffer.from('UTF-8'));
    return this;
  }

  /** Flags word: type, attributes bit, tag bit, levels. */
  flags(type: number, { attr = false, tag = false, obj = false, levels = 0 } = {}): this {
    return this.int(type | (obj ? 1 << 8 : 0) | (attr ? 1 << 9 : 0) | (tag ? 1 << 10 : 0) | (levels << 12));
  }

  /** A CHARSXP (null is NA); `latin1` marks the encoding. */
  charsxp(s: string | null, latin1 = false): this {
    if (s === null) return this.flags(9).int(-1);
    const b = latin1 ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf8');
    return this.flags(9, { levels: latin1 ? 4 : 8 }).int(b.length).bytes(b);
  }

  /** A symbol (first occurrence). */
  sym(name: string): this {
    return this.flags(1).charsxp(name);
  }

  /** A back-reference to the `i`-th (1-based) symbol written. */
  ref(i: number): this {
    return this.int(255 | (i << 8));
  }

  /** `NULL`. */
  nil(): this {
    return this.int(254);
  }

  /** The bytes written so far. */
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** gzip (as `saveRDS` writes). */
export function gzip(b: Uint8Array): Uint8Array {
  return gzipSync(b);
}

/** One lazy-load `.rdb` record: 4-byte big-endian length, then the zlib stream. */
export function rdbRecord(payload: Uint8Array): Uint8Array {
  const z = deflateSync(payload);
  const out = new Uint8Array(4 + z.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(z, 4);
  return out;
}
