/**
 * In-memory `.safetensors` encoding and decoding (browser-safe: no file system access).
 *
 * Layout of a `.safetensors` buffer:
 * 1. 8 bytes: `N`, the header length, unsigned 64-bit little-endian;
 * 2. `N` bytes: a UTF-8 JSON object `{name: {dtype, shape, data_offsets: [begin, end]}, …}` with an
 *    optional `"__metadata__"` entry mapping strings to strings; it may be padded with trailing
 *    spaces (samplex pads it so the data starts at a multiple of 8 bytes);
 * 3. the data section: the raw little-endian bytes of every tensor, row-major. `data_offsets` are
 *    relative to the start of the data section; the tensors tile it exactly (no gap, no overlap,
 *    nothing after the last one).
 *
 * Supported dtypes: `F32`, `F64`, `I32`, `I64`.
 * @module
 */
import { ClassTable } from '../core/classTable.js';
import { DataFormatError, NonFiniteError, OptionError, ShapeError } from '../core/errors.js';

/** The tensor element types samplex reads and writes. */
export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64';

/** A typed array holding tensor elements (one per {@link SafetensorsDtype}). */
export type SafetensorsArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** A tensor to write: its data (the dtype follows from the array type) and its shape. */
export interface SafetensorsInput {
  /** Row-major elements; `data.length` must equal the product of `shape`. */
  readonly data: SafetensorsArray;
  /** Dimensions; `[]` is a scalar (one element). */
  readonly shape: readonly number[];
}

/** A decoded tensor. */
export interface SafetensorsTensor {
  /** Element type as written in the header. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Row-major elements. May share memory with the decoded buffer unless `copy` was requested. */
  readonly data: SafetensorsArray;
}

/** The content of a `.safetensors` buffer. */
export interface SafetensorsContent {
  /** Tensors by name (an object without prototype). */
  readonly tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
}

/** Options of {@link decodeSafetensors}. */
export interface SafetensorsDecodeOptions {
  /**
   * Always copy tensor data into fresh arrays. Default false: when the data of a tensor is
   * suitably aligned in `bytes` (and the platform is little-endian) the returned array is a view
   * sharing memory with `bytes`.
   */
  copy?: boolean;
}

/** Largest header accepted when decoding (the reference implementation uses the same bound). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

const ELEM_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8 };
const DTYPES = Object.keys(ELEM_BYTES) as SafetensorsDtype[];
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(a: SafetensorsArray): SafetensorsDtype {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof BigInt64Array) return 'I64';
  throw new OptionError('tensor data must be a Float32Array, Float64Array, Int32Array or BigInt64Array');
}

function shapeSize(shape: readonly number[]): number {
  let s = 1;
  for (const x of shape) s *= x;
  return s;
}

/** Little-endian bytes of `a`: a view when the platform is little-endian, else a swapped copy. */
function leBytes(a: SafetensorsArray): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) dv.setFloat32(4 * i, a[i]!, true);
    else if (a instanceof Float64Array) dv.setFloat64(8 * i, a[i]!, true);
    else if (a instanceof Int32Array) dv.setInt32(4 * i, a[i]!, true);
    else dv.setBigInt64(8 * i, a[i]!, true);
  }
  return out;
}

/**
 * A `.safetensors` buffer split into pieces, in file order: `parts[0]` is the 8-byte length plus
 * the padded JSON header, the others are the tensors' little-endian bytes (views of the input
 * arrays where possible, so a large table is never copied).
 */
export interface SafetensorsPlan {
  /** Pieces to write one after the other. */
  readonly parts: readonly Uint8Array[];
  /** Total size in bytes. */
  readonly byteLength: number;
}

/**
 * Validates the tensors and metadata and lays them out (largest element size first, then by
 * name, so 8-byte types stay 8-byte aligned). Does not copy tensor data on little-endian platforms.
 * @throws OptionError for a bad name, dtype or metadata value; ShapeError when a shape does not
 *   match the data length
 */
export function planSafetensors(
  tensors: Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
): SafetensorsPlan {
  const names = Object.keys(tensors);
  const entries = names.map((name) => {
    if (name === '' || name === METADATA_KEY) {
      throw new OptionError(`tensor name '${name}' is not allowed; use a non-empty name other than ${METADATA_KEY}`);
    }
    const t = tensors[name]!;
    const dtype = dtypeOf(t.data);
    if (!Array.isArray(t.shape) || !t.shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      throw new ShapeError(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    if (shapeSize(t.shape) !== t.data.length) {
      throw new ShapeError(
        `tensor '${name}': shape [${t.shape.join(', ')}] has ${shapeSize(t.shape)} elements but the data has ${t.data.length}`,
      );
    }
    return { name, dtype, t };
  });
  entries.sort((a, b) => ELEM_BYTES[b.dtype] - ELEM_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    const meta: Record<string, string> = {};
    for (const key of metaKeys) {
      const v = metadata[key];
      if (typeof v !== 'string') {
        throw new OptionError(`metadata '${key}' must be a string (safetensors metadata is a string map), got ${typeof v}`);
      }
      meta[key] = v;
    }
    header[METADATA_KEY] = meta;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const { name, dtype, t } of entries) {
    const bytes = leBytes(t.data);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    if (bytes.byteLength > 0) parts.push(bytes);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLen);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLen), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  parts.unshift(head);
  return { parts, byteLength: head.length + offset };
}

/**
 * Encodes tensors and string metadata into one `.safetensors` buffer.
 * @throws OptionError, ShapeError (see {@link planSafetensors})
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.byteLength);
  let o = 0;
  for (const p of plan.parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Bytes per element of a dtype. */
export function dtypeBytes(dtype: SafetensorsDtype): number {
  return ELEM_BYTES[dtype];
}

/** Allocates a zeroed array of `count` elements of `dtype`. */
export function allocSafetensorsArray(dtype: SafetensorsDtype, count: number): SafetensorsArray {
  switch (dtype) {
    case 'F32':
      return new Float32Array(count);
    case 'F64':
      return new Float64Array(count);
    case 'I32':
      return new Int32Array(count);
    case 'I64':
      return new BigInt64Array(count);
  }
}

/**
 * Converts an array whose bytes were filled with little-endian data to native order, in place
 * (a no-op on little-endian platforms, which is every mainstream one).
 */
export function littleEndianToNative(a: SafetensorsArray): void {
  if (LITTLE_ENDIAN) return;
  const dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) a[i] = dv.getFloat32(4 * i, true);
    else if (a instanceof Float64Array) a[i] = dv.getFloat64(8 * i, true);
    else if (a instanceof Int32Array) a[i] = dv.getInt32(4 * i, true);
    else a[i] = dv.getBigInt64(8 * i, true);
  }
}

/** One tensor as described by a validated header; offsets are relative to the data section. */
export interface SafetensorsEntry {
  /** Tensor name. */
  readonly name: string;
  /** Element type. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** First byte in the data section. */
  readonly begin: number;
  /** One past the last byte in the data section. */
  readonly end: number;
}

/** A validated `.safetensors` header. */
export interface SafetensorsHeader {
  /** Byte position where the data section starts (`8 + header length`). */
  readonly dataStart: number;
  /** Tensors sorted by their position in the data section. */
  readonly entries: readonly SafetensorsEntry[];
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
}

/**
 * Reads the header length from the first 8 bytes of a file of `fileLength` bytes and checks that
 * it is sane (at most {@link SAFETENSORS_MAX_HEADER}, inside the file).
 * @throws DataFormatError naming `source`
 */
export function safetensorsHeaderLength(first: Uint8Array, fileLength: number, source = '<buffer>'): number {
  if (first.byteLength < 8 || fileLength < 8) {
    formatError(source, `it has ${Math.min(first.byteLength, fileLength)} bytes, fewer than the 8-byte header length (truncated?)`);
  }
  const n64 = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER)) formatError(source, `header length ${n64} exceeds the limit of ${SAFETENSORS_MAX_HEADER} bytes`);
  const n = Number(n64);
  if (n < 2) formatError(source, `header length ${n} is too small for a JSON object`);
  if (8 + n > fileLength) formatError(source, `header length ${n} runs past the end of the file (${fileLength} bytes; truncated?)`);
  return n;
}

function formatError(source: string, msg: string): never {
  throw new DataFormatError(source, 0, `not a valid .safetensors file: ${msg}`);
}

/**
 * Parses and validates the JSON header (`headerBytes`, without the 8-byte length) of a file whose
 * data section has `dataLength` bytes: well-formed JSON object, string metadata, supported dtypes,
 * integer shapes whose size matches the byte range, offsets inside the data section, and tensors
 * tiling the data section exactly (no overlap, no gap, no trailing bytes).
 * @throws DataFormatError naming `source` and what is wrong
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number, source = '<buffer>'): SafetensorsHeader {
  const fail = (msg: string): never => formatError(source, msg);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) fail('the header must be a JSON object');
  const h = header as Record<string, unknown>;

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  if (Object.prototype.hasOwnProperty.call(h, METADATA_KEY)) {
    const m = h[METADATA_KEY];
    if (!isPlainObject(m)) fail(`${METADATA_KEY} must be an object of strings`);
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`${METADATA_KEY}.${k} must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const entries: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(h)) {
    if (name === METADATA_KEY) continue;
    if (!isPlainObject(v)) fail(`tensor '${name}' must be described by an object {dtype, shape, data_offsets}`);
    const info = v as Record<string, unknown>;
    const dtype = info.dtype;
    if (typeof dtype !== 'string') fail(`tensor '${name}' has no dtype string`);
    if (!(DTYPES as string[]).includes(dtype as string)) {
      fail(`tensor '${name}' has dtype ${String(dtype)}; samplex reads ${DTYPES.join(', ')} (convert the tensor first)`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      fail(`tensor '${name}' has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    }
    const offs = info.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((x) => Number.isSafeInteger(x) && (x as number) >= 0) ||
      (offs[0] as number) > (offs[1] as number)
    ) {
      fail(`tensor '${name}' has data_offsets ${JSON.stringify(offs)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLength) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] exceed the data section of ${dataLength} bytes (truncated?)`);
    }
    const dt = dtype as SafetensorsDtype;
    const expected = shapeSize(shape as number[]) * ELEM_BYTES[dt];
    if (expected !== end - begin) {
      fail(
        `tensor '${name}' shape [${(shape as number[]).join(', ')}] × ${dt} needs ${expected} bytes but data_offsets span ${end - begin}`,
      );
    }
    entries.push({ name, dtype: dt, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = '';
  for (const e of entries) {
    if (e.begin < pos) fail(`tensor '${e.name}' [${e.begin}, ${e.end}) overlaps tensor '${prev}' (ends at ${pos})`);
    if (e.begin > pos) fail(`gap in the data section: bytes [${pos}, ${e.begin}) belong to no tensor (before '${e.name}')`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLength) fail(`the data section has ${dataLength - pos} trailing bytes after the last tensor`);
  return { dataStart: 8 + headerBytes.byteLength, entries, metadata };
}

function makeArray(dtype: SafetensorsDtype, bytes: Uint8Array, start: number, end: number, copy: boolean): SafetensorsArray {
  const size = ELEM_BYTES[dtype];
  const count = (end - start) / size;
  const abs = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && !copy && abs % size === 0) {
    switch (dtype) {
      case 'F32':
        return new Float32Array(bytes.buffer, abs, count);
      case 'F64':
        return new Float64Array(bytes.buffer, abs, count);
      case 'I32':
        return new Int32Array(bytes.buffer, abs, count);
      case 'I64':
        return new BigInt64Array(bytes.buffer, abs, count);
    }
  }
  const out = allocSafetensorsArray(dtype, count);
  new Uint8Array(out.buffer).set(bytes.subarray(start, end));
  littleEndianToNative(out);
  return out;
}

/**
 * Decodes a `.safetensors` buffer after validating it (see {@link safetensorsHeaderLength} and
 * {@link parseSafetensorsHeader}).
 * @param source name of the input used in error messages (for example the file path)
 * @throws DataFormatError naming `source` and what is wrong
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>', opts: SafetensorsDecodeOptions = {}): SafetensorsContent {
  const n = safetensorsHeaderLength(bytes, bytes.byteLength, source);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n, source);
  const tensors: Record<string, SafetensorsTensor> = Object.create(null) as Record<string, SafetensorsTensor>;
  for (const e of header.entries) {
    const a = header.dataStart + e.begin;
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: makeArray(e.dtype, bytes, a, a + (e.end - e.begin), opts.copy ?? false) };
  }
  return { tensors, metadata: header.metadata };
}

/** Metadata key recording what a file holds; {@link classTableToSafetensors} sets it. */
export const SAFETENSORS_KIND_KEY = 'samplex.kind';

/**
 * The tensors of a class table: `weights` `[n, d]` F32 and, when present, `bias` `[n]` F32
 * (views, no copy).
 */
export function classTableTensors(table: ClassTable): Record<string, SafetensorsInput> {
  const t: Record<string, SafetensorsInput> = { weights: { data: table.weights, shape: [table.n, table.d] } };
  if (table.bias) t.bias = { data: table.bias, shape: [table.n] };
  return t;
}

/** Encodes a class table (see {@link classTableTensors}); adds `samplex.kind = "classTable"` to the metadata. */
export function classTableToSafetensors(table: ClassTable, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  return encodeSafetensors(classTableTensors(table), { ...metadata, [SAFETENSORS_KIND_KEY]: 'classTable' });
}

function finiteOrThrow(a: Float32Array, source: string, what: string, cols: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      const where = cols > 0 ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new NonFiniteError(`${source}: tensor '${what}' contains ${v} at ${where}; a class table must be finite (the checkpoint is corrupt or training diverged)`, i);
    }
  }
}

/**
 * Builds a {@link ClassTable} from decoded tensors: requires `weights` `[n, d]` F32 (n, d ≥ 1),
 * optional `bias` `[n]` F32, all values finite. Other tensors are ignored.
 * @throws DataFormatError (missing tensor, wrong dtype or shape), NonFiniteError (NaN/±Inf)
 */
export function classTableFromContent(content: SafetensorsContent, source = '<buffer>'): ClassTable {
  const w = content.tensors.weights;
  if (!w) throw new DataFormatError(source, 0, "no tensor named 'weights'; a class table file needs weights [n, d] F32");
  if (w.dtype !== 'F32') throw new DataFormatError(source, 0, `tensor 'weights' has dtype ${w.dtype}; expected F32`);
  if (w.shape.length !== 2 || w.shape[0]! < 1 || w.shape[1]! < 1) {
    throw new DataFormatError(source, 0, `tensor 'weights' has shape [${w.shape.join(', ')}]; expected [n, d] with n, d ≥ 1`);
  }
  const [n, d] = w.shape as [number, number];
  const b = content.tensors.bias;
  if (b) {
    if (b.dtype !== 'F32') throw new DataFormatError(source, 0, `tensor 'bias' has dtype ${b.dtype}; expected F32`);
    if (b.shape.length !== 1 || b.shape[0] !== n) {
      throw new DataFormatError(source, 0, `tensor 'bias' has shape [${b.shape.join(', ')}]; expected [${n}] (one per class)`);
    }
  }
  finiteOrThrow(w.data as Float32Array, source, 'weights', d);
  if (b) finiteOrThrow(b.data as Float32Array, source, 'bias', 0);
  return new ClassTable(n, d, w.data as Float32Array, b ? (b.data as Float32Array) : null);
}

/**
 * Decodes a class table from `.safetensors` bytes (see {@link classTableFromContent}).
 * The table's arrays may share memory with `bytes`.
 * @throws DataFormatError, NonFiniteError
 */
export function classTableFromSafetensors(bytes: Uint8Array, source = '<buffer>'): ClassTable {
  return classTableFromContent(decodeSafetensors(bytes, source), source);
}
