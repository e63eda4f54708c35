/**
 * A small reader of R's binary serialization format (XDR, format versions 2 and 3) and of R
 * lazy-load databases (`.rdx` index + `.rdb` objects), enough to read data frames of integer,
 * double, logical, factor and character columns without R.
 *
 * Supported: `NULL`, symbols, pairlists (attributes and tags), integer, logical, double,
 * character and generic vectors, strings (CHARSXP, including `NA`), reference back-pointers, and
 * the compact integer/real sequences and wrapper objects R may write instead of plain vectors. Anything else (environments,
 * closures, bytecode, ASCII or native-binary formats) raises a {@link DataFormatError} naming the
 * type. The format is described in R's `src/main/serialize.c`.
 * @module
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { DataFormatError } from '../core/errors.js';

/** Attributes of an R object, in the order they were serialized (names are the tags). */
export type RAttributes = ReadonlyMap<string, RObject>;

/** One cell of a pairlist: an optional tag (the element's name) and a value. */
export interface RPairItem {
  readonly tag: string | null;
  readonly value: RObject;
}

/** A deserialized R object. `NA` integers are `-2^31`, `NA` doubles are NaN, `NA` strings `null`. */
export type RObject =
  | { readonly type: 'null' }
  | { readonly type: 'symbol'; readonly name: string }
  | {
      readonly type: 'pairlist';
      readonly items: readonly RPairItem[];
      readonly attributes: RAttributes;
      /** The CDR of the last cell when it is not `NULL` (a dotted pair, as in ALTREP wrapper states). */
      readonly tail?: RObject;
    }
  | { readonly type: 'integer' | 'logical'; readonly data: Int32Array; readonly attributes: RAttributes }
  | { readonly type: 'double'; readonly data: Float64Array; readonly attributes: RAttributes }
  | { readonly type: 'character'; readonly data: ReadonlyArray<string | null>; readonly attributes: RAttributes }
  | { readonly type: 'list'; readonly data: readonly RObject[]; readonly attributes: RAttributes };

/** R's integer `NA` (the smallest 32-bit integer). */
export const R_NA_INTEGER = -2147483648;

// SEXP type codes and special pseudo-types from R's serialize.c.
const NILSXP = 0;
const SYMSXP = 1;
const LISTSXP = 2;
const CHARSXP = 9;
const LGLSXP = 10;
const INTSXP = 13;
const REALSXP = 14;
const STRSXP = 16;
const VECSXP = 19;
const ALTREP_SXP = 238;
const NILVALUE_SXP = 254;
const REFSXP = 255;

const TYPE_NAMES: Record<number, string> = {
  3: 'closure', 4: 'environment', 5: 'promise', 6: 'language object', 7: 'special function',
  8: 'builtin function', 15: 'complex vector', 17: 'dots', 20: 'expression vector', 21: 'bytecode',
  22: 'external pointer', 23: 'weak reference', 24: 'raw vector', 25: 'S4 object',
  239: 'attributed pairlist', 240: 'attributed language object', 241: 'base environment',
  242: 'empty environment', 243: 'bytecode reference', 244: 'bytecode definition', 245: 'generic reference',
  246: 'class reference', 247: 'persistent reference', 248: 'package environment', 249: 'namespace',
  250: 'base namespace', 251: 'missing argument', 252: 'unbound value', 253: 'global environment',
};

const NO_ATTRIBUTES: RAttributes = new Map();
const NULL: RObject = { type: 'null' };

class XdrReader {
  private pos = 0;
  private readonly view: DataView;
  private readonly refs: RObject[] = [];
  private readonly decoder = new TextDecoder('utf-8');
  private readonly latin1 = new TextDecoder('latin1');

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new DataFormatError(this.source, 0, `R serialization, byte ${this.pos}: ${message}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.byteLength) {
      this.fail(`unexpected end of data (needed ${n} more bytes, ${this.bytes.byteLength - this.pos} left); the file is truncated or not an R serialization`);
    }
  }

  int(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, false);
    this.pos += 4;
    return v;
  }

  private length(): number {
    const n = this.int();
    if (n >= 0) return n;
    if (n !== -1) this.fail(`negative vector length ${n}`);
    const hi = this.int();
    const lo = this.int();
    const len = hi * 2 ** 32 + (lo >>> 0);
    if (!Number.isSafeInteger(len) || len > 2 ** 31) this.fail(`vector length ${len} is too long to read`);
    return len;
  }

  header(): void {
    if (this.bytes.byteLength >= 2 && this.bytes[1] === 0x0a) {
      const f = this.bytes[0];
      if (f === 0x58 /* X */) this.pos = 2;
      else if (f === 0x41 /* A */ || f === 0x42 /* B */) {
        this.fail(`format '${String.fromCharCode(f)}' (${f === 0x41 ? 'ASCII' : 'native binary'}) is not supported; save with the default XDR format`);
      }
    }
    const version = this.int();
    this.int(); // R version that wrote it
    this.int(); // minimal R version to read it
    if (version === 3) {
      const n = this.int();
      this.need(n);
      this.pos += n; // native encoding name
    } else if (version !== 2) {
      this.fail(`serialization format version ${version} is not supported (expected 2 or 3)`);
    }
  }

  private charsxp(levels: number): string | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < 0) this.fail(`negative string length ${n}`);
    this.need(n);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    const LATIN1 = 1 << 2;
    return levels & LATIN1 ? this.latin1.decode(raw) : this.decoder.decode(raw);
  }

  private attributes(has: boolean): RAttributes {
    if (!has) return NO_ATTRIBUTES;
    const a = this.item();
    if (a.type !== 'pairlist') this.fail(`attributes must be a pairlist, got ${a.type}`);
    const m = new Map<string, RObject>();
    for (const it of a.items) m.set(it.tag ?? '', it.value);
    return m;
  }

  item(): RObject {
    return this.itemWithFlags(this.int());
  }

  private itemWithFlags(flags: number): RObject {
    const type = flags & 0xff;
    const hasAttr = (flags & (1 << 9)) !== 0;
    switch (type) {
      case NILVALUE_SXP:
      case NILSXP:
        return NULL;
      case REFSXP: {
        let idx = flags >>> 8;
        if (idx === 0) idx = this.int();
        const r = this.refs[idx - 1];
        if (r === undefined) this.fail(`reference ${idx} to an object not yet read (${this.refs.length} known)`);
        return r;
      }
      case SYMSXP: {
        const flagsC = this.int();
        if ((flagsC & 0xff) !== CHARSXP) this.fail(`a symbol must hold a string, got type ${flagsC & 0xff}`);
        const sym: RObject = { type: 'symbol', name: this.charsxp(flagsC >>> 12) ?? 'NA' };
        this.refs.push(sym);
        return sym;
      }
      case LISTSXP: {
        // A pairlist is a chain of cells; read it iteratively so long lists do not recurse deeply.
        const items: RPairItem[] = [];
        let attributes: RAttributes = NO_ATTRIBUTES;
        let cellFlags = flags;
        let tail: RObject | undefined;
        for (;;) {
          const a = this.attributes((cellFlags & (1 << 9)) !== 0);
          if (items.length === 0) attributes = a;
          let tag: string | null = null;
          if (cellFlags & (1 << 10)) {
            const t = this.item();
            if (t.type !== 'symbol') this.fail(`a pairlist tag must be a symbol, got ${t.type}`);
            tag = t.name;
          }
          items.push({ tag, value: this.item() });
          const next = this.int();
          const nextType = next & 0xff;
          if (nextType === NILVALUE_SXP) break;
          if (nextType !== LISTSXP) {
            tail = this.itemWithFlags(next);
            break;
          }
          cellFlags = next;
        }
        return tail === undefined ? { type: 'pairlist', items, attributes } : { type: 'pairlist', items, attributes, tail };
      }
      case CHARSXP:
        return this.fail('a bare string (CHARSXP) outside a character vector or symbol');
      case LGLSXP:
      case INTSXP: {
        const n = this.length();
        this.need(4 * n);
        const data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = this.view.getInt32(this.pos + 4 * i, false);
        this.pos += 4 * n;
        return { type: type === INTSXP ? 'integer' : 'logical', data, attributes: this.attributes(hasAttr) };
      }
      case REALSXP: {
        const n = this.length();
        this.need(8 * n);
        const data = new Float64Array(n);
        for (let i = 0; i < n; i++) data[i] = this.view.getFloat64(this.pos + 8 * i, false);
        this.pos += 8 * n;
        return { type: 'double', data, attributes: this.attributes(hasAttr) };
      }
      case STRSXP: {
        const n = this.length();
        const data: (string | null)[] = new Array<string | null>(n);
        for (let i = 0; i < n; i++) {
          const f = this.int();
          if ((f & 0xff) !== CHARSXP) this.fail(`element ${i} of a character vector has type ${f & 0xff}, expected a string`);
          data[i] = this.charsxp(f >>> 12);
        }
        return { type: 'character', data, attributes: this.attributes(hasAttr) };
      }
      case VECSXP: {
        const n = this.length();
        const data: RObject[] = new Array<RObject>(n);
        for (let i = 0; i < n; i++) data[i] = this.item();
        return { type: 'list', data, attributes: this.attributes(hasAttr) };
      }
      case ALTREP_SXP:
        return this.altrep();
      default:
        break;
    }
    return this.fail(`R object type ${type} (${TYPE_NAMES[type] ?? 'unknown'}) is not supported by this reader`);
  }

  /** Compact sequences (`1:n`) and their real counterpart; other ALTREP classes are refused. */
  private altrep(): RObject {
    const info = this.item();
    const state = this.item();
    const attr = this.item();
    const cls = info.type === 'pairlist' && info.items[0]?.value.type === 'symbol' ? info.items[0].value.name : '?';
    const attributes: RAttributes =
      attr.type === 'pairlist' ? new Map(attr.items.map((it) => [it.tag ?? '', it.value])) : NO_ATTRIBUTES;
    if ((cls === 'compact_intseq' || cls === 'compact_realseq') && state.type === 'double' && state.data.length === 3) {
      const [n, start, step] = [state.data[0]!, state.data[1]!, state.data[2]!];
      if (cls === 'compact_intseq') {
        const data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = start + i * step;
        return { type: 'integer', data, attributes };
      }
      const data = new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = start + i * step;
      return { type: 'double', data, attributes };
    }
    // wrappers (wrap_integer, wrap_real, wrap_string, …): the state is the pair (wrapped, metadata)
    const inner = cls.startsWith('wrap_') && state.type === 'pairlist' ? state.items[0]?.value : undefined;
    if (inner !== undefined && 'data' in inner) {
      return { ...inner, attributes: attributes.size > 0 ? attributes : inner.attributes } as RObject;
    }
    return this.fail(`ALTREP class '${cls}' is not supported by this reader`);
  }

  done(): boolean {
    return this.pos === this.bytes.byteLength;
  }
}

/**
 * Deserializes one R object from XDR bytes (the payload of `serialize()`, an uncompressed `.rds`
 * file, or an object of a lazy-load database), with or without the leading `X\n`.
 * @param source name of the input for error messages
 * @throws DataFormatError for truncated data, unsupported formats or object types
 */
export function unserializeR(bytes: Uint8Array, source = 'R data'): RObject {
  const r = new XdrReader(bytes, source);
  r.header();
  return r.item();
}

/**
 * Reads an `.rds` file's bytes: gzip-compressed (the default of `saveRDS`) or uncompressed XDR.
 * @throws DataFormatError (bzip2/xz compression or other formats are not supported)
 */
export function readRds(bytes: Uint8Array, source = 'rds'): RObject {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return unserializeR(gunzipSync(bytes), source);
    } catch (e) {
      if (e instanceof DataFormatError) throw e;
      throw new DataFormatError(source, 0, `corrupt gzip stream: ${(e as Error).message}`);
    }
  }
  if (bytes[0] === 0x42 && bytes[1] === 0x5a) {
    throw new DataFormatError(source, 0, 'bzip2-compressed .rds is not supported; re-save with saveRDS(x, compress = "gzip")');
  }
  if (bytes[0] === 0xfd && bytes[1] === 0x37) {
    throw new DataFormatError(source, 0, 'xz-compressed .rds is not supported; re-save with saveRDS(x, compress = "gzip")');
  }
  return unserializeR(bytes, source);
}

/** Where one object lies in a lazy-load `.rdb` file. */
export interface LazyLoadEntry {
  /** Byte offset in the `.rdb` file. */
  readonly offset: number;
  /** Number of bytes (4-byte length header + compressed stream). */
  readonly length: number;
}

/** The index (`.rdx`) of an R lazy-load database. */
export interface LazyLoadIndex {
  /** Object name → location in the `.rdb`. */
  readonly variables: ReadonlyMap<string, LazyLoadEntry>;
  /** Compression of the objects: 1 zlib (the only one supported), 2 bzip2, 3 xz. */
  readonly compressed: number;
}

/** Attribute `name` of an object with attributes, or undefined. */
export function rAttribute(obj: RObject, name: string): RObject | undefined {
  return 'attributes' in obj ? obj.attributes.get(name) : undefined;
}

/** The `names` attribute (or pairlist tags) of an object as strings, or null when absent. */
export function rNames(obj: RObject): Array<string | null> | null {
  if (obj.type === 'pairlist') return obj.items.map((it) => it.tag);
  const n = rAttribute(obj, 'names');
  return n !== undefined && n.type === 'character' ? [...n.data] : null;
}

function entryOf(obj: RObject, name: string, source: string): LazyLoadEntry {
  if ((obj.type === 'integer' || obj.type === 'double') && obj.data.length === 2) {
    const offset = obj.data[0]!;
    const length = obj.data[1]!;
    if (Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 4) {
      return { offset, length };
    }
  }
  throw new DataFormatError(source, 0, `lazy-load index entry '${name}' is not an (offset, length) pair`);
}

/**
 * Parses a lazy-load index (`.rdx`, a gzip-compressed serialized list with `variables`,
 * `references` and `compressed`).
 * @throws DataFormatError when the bytes are not such an index
 */
export function readLazyLoadIndex(rdx: Uint8Array, source = 'rdx'): LazyLoadIndex {
  const obj = readRds(rdx, source);
  const names = rNames(obj);
  if (obj.type !== 'list' || names === null) {
    throw new DataFormatError(source, 0, 'a lazy-load index must be a named list (variables, references, compressed)');
  }
  const field = (n: string): RObject | undefined => {
    const i = names.indexOf(n);
    return i >= 0 ? obj.data[i] : undefined;
  };
  const vars = field('variables');
  const vnames = vars ? rNames(vars) : null;
  if (vars === undefined || vars.type !== 'list' || vnames === null) {
    throw new DataFormatError(source, 0, "lazy-load index has no named 'variables' list");
  }
  const variables = new Map<string, LazyLoadEntry>();
  vars.data.forEach((v, i) => {
    const name = vnames[i] ?? '';
    variables.set(name, entryOf(v, name, source));
  });
  const c = field('compressed');
  let compressed = 1;
  if (c !== undefined && (c.type === 'logical' || c.type === 'integer' || c.type === 'double') && c.data.length > 0) {
    compressed = Number(c.data[0]);
  }
  return { variables, compressed };
}

/**
 * Reads the object `name` from a lazy-load database given the bytes of its `.rdx` index (parsed
 * with {@link readLazyLoadIndex}) and its `.rdb` file. Each object is stored as a 4-byte
 * big-endian uncompressed length followed by a zlib stream of its serialization.
 * @throws DataFormatError when the name is absent, the compression is not zlib, or the data is corrupt
 */
export function readLazyLoadObject(index: LazyLoadIndex, rdb: Uint8Array, name: string, source = 'rdb'): RObject {
  const e = index.variables.get(name);
  if (e === undefined) {
    const known = [...index.variables.keys()];
    throw new DataFormatError(source, 0, `no object '${name}' in the lazy-load database (it has ${known.length}: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''})`);
  }
  if (index.compressed !== 1) {
    throw new DataFormatError(source, 0, `lazy-load compression type ${index.compressed} (${index.compressed === 2 ? 'bzip2' : index.compressed === 3 ? 'xz' : 'unknown'}) is not supported; only zlib (type 1) is`);
  }
  if (e.offset + e.length > rdb.byteLength) {
    throw new DataFormatError(source, 0, `object '${name}' lies at bytes ${e.offset}..${e.offset + e.length}, beyond the end of the file (${rdb.byteLength} bytes); the .rdb does not match its .rdx`);
  }
  const chunk = rdb.subarray(e.offset, e.offset + e.length);
  const expected = new DataView(chunk.buffer, chunk.byteOffset, 4).getUint32(0, false);
  let raw: Uint8Array;
  try {
    raw = inflateSync(chunk.subarray(4));
  } catch (err) {
    throw new DataFormatError(source, 0, `object '${name}': corrupt zlib stream (${(err as Error).message})`);
  }
  if (raw.byteLength !== expected) {
    throw new DataFormatError(source, 0, `object '${name}': inflated to ${raw.byteLength} bytes, the header says ${expected}`);
  }
  return unserializeR(raw, `${source}:${name}`);
}

/** A column of a data frame read by {@link rDataFrameColumns}. */
export type RColumn =
  | { readonly kind: 'integer'; readonly data: Int32Array }
  | { readonly kind: 'double'; readonly data: Float64Array }
  | { readonly kind: 'logical'; readonly data: Int32Array }
  | { readonly kind: 'character'; readonly data: ReadonlyArray<string | null> }
  | { readonly kind: 'factor'; readonly codes: Int32Array; readonly levels: ReadonlyArray<string | null> };

function hasClass(obj: RObject, cls: string): boolean {
  const c = rAttribute(obj, 'class');
  return c !== undefined && c.type === 'character' && c.data.includes(cls);
}

/**
 * The columns of an R data frame (a list with class `data.frame` and `names`), by name. Factor
 * codes are 1-based as in R (`NA` is `-2^31`); `levels[code - 1]` is the value.
 * @throws DataFormatError when `obj` is not a data frame of integer, double, logical, factor or
 *   character columns of equal length
 */
export function rDataFrameColumns(obj: RObject, source = 'R data frame'): Map<string, RColumn> {
  const names = rNames(obj);
  if (obj.type !== 'list' || names === null || !hasClass(obj, 'data.frame')) {
    throw new DataFormatError(source, 0, `expected a data.frame, got ${obj.type === 'list' ? 'a list without class data.frame' : `an R ${obj.type}`}`);
  }
  const out = new Map<string, RColumn>();
  let rows = -1;
  obj.data.forEach((col, i) => {
    const name = names[i] ?? `V${i + 1}`;
    let c: RColumn;
    if (col.type === 'integer' && hasClass(col, 'factor')) {
      const lv = rAttribute(col, 'levels');
      if (lv === undefined || lv.type !== 'character') throw new DataFormatError(source, 0, `factor column '${name}' has no levels`);
      c = { kind: 'factor', codes: col.data, levels: lv.data };
    } else if (col.type === 'integer' || col.type === 'double' || col.type === 'logical' || col.type === 'character') {
      c = { kind: col.type, data: col.data } as RColumn;
    } else {
      throw new DataFormatError(source, 0, `column '${name}' is an R ${col.type}, not an atomic vector`);
    }
    const len = c.kind === 'factor' ? c.codes.length : c.data.length;
    if (rows >= 0 && len !== rows) throw new DataFormatError(source, 0, `column '${name}' has ${len} rows, the others ${rows}`);
    rows = len;
    out.set(name, c);
  });
  return out;
}
