import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { DataFormatError, IoError, NonFiniteError, OptionError, ShapeError } from '../src/core/errors.js';
import {
  classTableFromSafetensors,
  classTableToSafetensors,
  decodeSafetensors,
  encodeSafetensors,
} from '../src/layer/safetensorsCodec.js';
import {
  loadClassTable,
  readSafetensors,
  saveClassTable,
  writeSafetensors,
} from '../src/layer/safetensors.js';
import type { AtomicFileOps } from '../src/io/atomic.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'samplex-st-'));
}

/** Builds a file by hand (as another writer would): 8-byte length, raw JSON, data. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32bytes = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

function isFormatError(re: RegExp, file = '<buffer>') {
  return (e: unknown): boolean => {
    assert.ok(e instanceof DataFormatError, `expected DataFormatError, got ${String(e)}`);
    assert.equal(e.code, 'E_DATA_FORMAT');
    assert.equal(e.file, file);
    assert.match(e.message, re);
    return true;
  };
}

test('round trip of F32, F64, I32, I64, scalar and empty tensors with metadata', () => {
  const tensors = {
    w: { data: Float32Array.from([1.5, -2, 3.25, 1e-30, 7, 8]), shape: [2, 3] },
    d: { data: Float64Array.from([Math.PI, -1e300, 0.1]), shape: [3] },
    i: { data: Int32Array.from([-2147483648, 0, 2147483647]), shape: [3, 1] },
    l: { data: BigInt64Array.from([-(2n ** 63n), 42n]), shape: [2] },
    s: { data: Float32Array.from([9]), shape: [] },
    e: { data: new Float32Array(0), shape: [0, 4] },
  };
  const bytes = encodeSafetensors(tensors, { step: '12', note: 'ünïcode' });
  for (const copy of [false, true]) {
    const got = decodeSafetensors(bytes, 'x', { copy });
    assert.deepEqual({ ...got.metadata }, { step: '12', note: 'ünïcode' });
    assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const g = got.tensors[name]!;
      assert.deepEqual(g.shape, t.shape);
      assert.equal(g.data.constructor, t.data.constructor);
      assert.deepEqual(Array.from(g.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
    }
    const shared = got.tensors.w!.data.buffer === bytes.buffer;
    assert.equal(shared, !copy, 'aligned data is a view unless copy is requested');
  }
  // Without metadata there is no __metadata__ entry.
  const plain = encodeSafetensors({ a: { data: new Float32Array(1), shape: [1] } });
  assert.ok(!new TextDecoder().decode(plain).includes('__metadata__'));
});

test('byte layout matches the spec (checked with a naive reader)', () => {
  const bytes = encodeSafetensors(
    { b: { data: Float32Array.from([1, -2]), shape: [2] }, a: { data: Float64Array.from([0.5]), shape: [1] } },
    { k: 'v' },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0, 'header padded so data is 8-byte aligned');
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(text, /^\{.*\} *$/);
  assert.deepEqual(JSON.parse(text), {
    __metadata__: { k: 'v' },
    a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] }, // 8-byte types first
    b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
  });
  const data = Array.from(bytes.subarray(8 + n));
  assert.deepEqual(data, [
    0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // 0.5 as little-endian float64
    0, 0, 0x80, 0x3f, // 1.0f
    0, 0, 0, 0xc0, // -2.0f
  ]);
  assert.equal(bytes.length, 8 + n + 16);
});

test('reads files from other writers (unpadded header, any order)', () => {
  const data = new Uint8Array([...f32bytes([3, 4]), ...new Uint8Array(Int32Array.from([7]).buffer)]);
  const file = rawFile({ z: { dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] }, a: { dtype: 'I32', shape: [1], data_offsets: [8, 12] } }, data);
  const got = decodeSafetensors(file);
  assert.deepEqual(Array.from(got.tensors.z!.data as Float32Array), [3, 4]);
  assert.deepEqual(Array.from(got.tensors.a!.data as Int32Array), [7]);
  assert.deepEqual({ ...got.metadata }, {});
});

/** Corrupt buffers and the message each must produce. */
function corruptCases(): Array<[what: string, bytes: Uint8Array, re: RegExp]> {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const d8 = f32bytes([1, 2]);
  const good = rawFile(ok, d8);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  return [
    ['shorter than 8 bytes', good.slice(0, 5), /fewer than the 8-byte header/],
    ['truncated header', good.slice(0, 20), /runs past the end/],
    ['truncated data', good.slice(0, good.length - 1), /exceed the data section/],
    ['bad JSON', rawFile(null, d8, '{"w": {"dtype": "F32",'), /not valid UTF-8 JSON/],
    ['header not an object', rawFile([1, 2], d8), /must be a JSON object/],
    ['insane header length', huge, /exceeds the limit/],
    [
      'overlapping offsets',
      rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8),
      /overlaps/,
    ],
    ['gap', rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), /gap in the data section/],
    ['trailing bytes', rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, d8), /4 trailing bytes/],
    ['unsupported dtype', rawFile({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, d8), /dtype BF16/],
    ['shape mismatch', rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8), /needs 12 bytes/],
    ['negative dim', rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d8), /non-negative integers/],
    ['reversed offsets', rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, d8), /begin ≤ end/],
    ['non-string metadata', rawFile({ ...ok, __metadata__: { a: 1 } }, d8), /must be a string/],
    ['entry not an object', rawFile({ w: 5 }, d8), /must be described by an object/],
  ];
}

test('corrupt buffers raise DataFormatError saying what is wrong', () => {
  assert.doesNotThrow(() => decodeSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32bytes([1, 2]))));
  for (const [what, bytes, re] of corruptCases()) {
    assert.throws(() => decodeSafetensors(bytes), isFormatError(re), what);
  }
});

test('corrupt files raise DataFormatError naming the file', () => {
  const dir = tmpDir();
  try {
    for (const [what, bytes, re] of corruptCases()) {
      const p = path.join(dir, `${what.replace(/ /g, '_')}.safetensors`);
      fs.writeFileSync(p, bytes);
      assert.throws(() => readSafetensors(p), isFormatError(re, p), what);
      assert.throws(() => loadClassTable(p), isFormatError(re, p), what);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeSafetensors / readSafetensors round trip on disk (all dtypes, metadata)', () => {
  const dir = tmpDir();
  try {
    const p = path.join(dir, 'state.safetensors');
    const tensors = {
      f: { data: Float32Array.from([1, 2, 3]), shape: [3] },
      g: { data: Float64Array.from([0.1, 0.2]), shape: [1, 2] },
      i: { data: Int32Array.from([-5]), shape: [] },
      l: { data: BigInt64Array.from([123456789012345n]), shape: [1] },
    };
    writeSafetensors(p, tensors, { sampler: 'midx', seed: '7' });
    const got = readSafetensors(p);
    assert.deepEqual({ ...got.metadata }, { sampler: 'midx', seed: '7' });
    for (const [name, t] of Object.entries(tensors)) {
      assert.deepEqual(got.tensors[name]!.data, t.data, name);
      assert.deepEqual(got.tensors[name]!.shape, t.shape, name);
    }
    // Same bytes as the in-memory encoder.
    assert.deepEqual(new Uint8Array(fs.readFileSync(p)), encodeSafetensors(tensors, { sampler: 'midx', seed: '7' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('encoding validates tensors and metadata', () => {
  assert.throws(() => encodeSafetensors({ w: { data: new Float32Array(5), shape: [2, 3] } }), ShapeError);
  assert.throws(() => encodeSafetensors({ w: { data: new Float32Array(5), shape: [2.5, 2] } }), ShapeError);
  assert.throws(() => encodeSafetensors({ __metadata__: { data: new Float32Array(1), shape: [1] } }), OptionError);
  assert.throws(() => encodeSafetensors({ w: { data: new Uint8Array(1) as never, shape: [1] } }), OptionError);
  assert.throws(() => encodeSafetensors({}, { a: 3 as never }), OptionError);
});

test('class table in memory: round trip, shape, dtype and finiteness checks', () => {
  const rng = Rng.fromSeed(5);
  const t = ClassTable.init(7, 3, rng, { bias: true });
  t.bias!.set([1, 2, 3, 4, 5, 6, 7]);
  const back = classTableFromSafetensors(classTableToSafetensors(t, { epoch: '3' }));
  assert.deepEqual([back.n, back.d], [7, 3]);
  assert.deepEqual(back.weights, t.weights);
  assert.deepEqual(back.bias, t.bias);
  const meta = decodeSafetensors(classTableToSafetensors(t, { epoch: '3' })).metadata;
  assert.equal(meta.epoch, '3');
  assert.equal(meta['samplex.kind'], 'classTable');

  const nan = t.weights.slice();
  nan[4] = NaN;
  assert.throws(
    () => classTableFromSafetensors(encodeSafetensors({ weights: { data: nan, shape: [7, 3] } }), 'ckpt'),
    (e: unknown) => e instanceof NonFiniteError && e.index === 4 && /ckpt: tensor 'weights' contains NaN at row 1, column 1/.test(e.message),
  );
  const infBias = new Float32Array(7);
  infBias[6] = -Infinity;
  assert.throws(
    () => classTableFromSafetensors(encodeSafetensors({ weights: { data: t.weights, shape: [7, 3] }, bias: { data: infBias, shape: [7] } })),
    NonFiniteError,
  );
  const enc = (x: Record<string, { data: Float32Array | Float64Array; shape: number[] }>) => classTableFromSafetensors(encodeSafetensors(x), 'f');
  assert.throws(() => enc({ w: { data: t.weights, shape: [7, 3] } }), isFormatError(/no tensor named 'weights'/, 'f'));
  assert.throws(() => enc({ weights: { data: Float64Array.from(t.weights), shape: [7, 3] } }), isFormatError(/dtype F64; expected F32/, 'f'));
  assert.throws(() => enc({ weights: { data: t.weights, shape: [21] } }), isFormatError(/expected \[n, d\]/, 'f'));
  assert.throws(
    () => enc({ weights: { data: t.weights, shape: [7, 3] }, bias: { data: new Float32Array(6), shape: [6] } }),
    isFormatError(/expected \[7\]/, 'f'),
  );
});

test('saveClassTable / loadClassTable round trip on disk, with and without bias', () => {
  const dir = tmpDir();
  try {
    const rng = Rng.fromSeed(6);
    for (const bias of [false, true]) {
      const t = ClassTable.init(1000, 16, rng, { bias });
      if (t.bias) rng.fillNormal(t.bias);
      const p = path.join(dir, `t${bias}.safetensors`);
      saveClassTable(p, t, { note: 'x' });
      const back = loadClassTable(p);
      assert.deepEqual(back.weights, t.weights);
      assert.deepEqual(back.bias, t.bias);
      const raw = readSafetensors(p);
      assert.equal(raw.metadata.note, 'x');
      // Overwriting an existing file works.
      saveClassTable(p, back);
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['tfalse.safetensors', 'ttrue.safetensors']);
    // A corrupt file on disk names its path.
    const bad = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(bad, fs.readFileSync(path.join(dir, 'ttrue.safetensors')).subarray(0, 100));
    assert.throws(() => loadClassTable(bad), isFormatError(/truncated/, bad));
    assert.throws(() => loadClassTable(path.join(dir, 'missing.safetensors')), (e: unknown) => e instanceof IoError && /missing\.safetensors/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Real node:fs operations with a fault injected at one step. */
function faultyOps(fail: 'write' | 'sync' | 'rename', afterWrites = 1): AtomicFileOps {
  let writes = 0;
  return {
    openSync: (p, f) => fs.openSync(p, f),
    writeSync(fd, buf, off, len) {
      if (fail === 'write' && ++writes > afterWrites) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return fs.writeSync(fd, buf, off, len);
    },
    fsyncSync(fd) {
      if (fail === 'sync') throw new Error('EIO: i/o error');
      fs.fsyncSync(fd);
    },
    closeSync: (fd) => fs.closeSync(fd),
    renameSync(from, to) {
      if (fail === 'rename') throw new Error('EXDEV: cross-device link');
      fs.renameSync(from, to);
    },
    rmSync: (p, o) => fs.rmSync(p, o),
  };
}

test('a failed save leaves the previous file intact and no temporary file behind', () => {
  const dir = tmpDir();
  try {
    const rng = Rng.fromSeed(7);
    const p = path.join(dir, 'model.safetensors');
    const v1 = ClassTable.init(50, 4, rng, { bias: true });
    saveClassTable(p, v1);
    const before = fs.readFileSync(p);
    const v2 = ClassTable.init(50, 4, rng, { bias: true });
    for (const fail of ['write', 'sync', 'rename'] as const) {
      assert.throws(() => 
        saveClassTable(p, v2, {}, faultyOps(fail)),
        (e: unknown) => e instanceof IoError && /previous file, if any, is unchanged/.test(e.message),
        fail,
      );
      assert.deepEqual(fs.readFileSync(p), before, `after a ${fail} failure`);
      assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], `no temp file after a ${fail} failure`);
    }
    assert.deepEqual((loadClassTable(p)).weights, v1.weights);
    // Invalid tensors fail before any file is touched.
    assert.throws(() => writeSafetensors(p, { w: { data: new Float32Array(3), shape: [2] } }), ShapeError);
    assert.deepEqual(fs.readFileSync(p), before);
    // Target directory missing.
    const gone = path.join(dir, 'nope', 'model.safetensors');
    assert.throws(() => saveClassTable(gone, v2), (e: unknown) => e instanceof IoError && /does the directory exist/.test(e.message));
    assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
    // The fault-free path with injected ops writes the new table.
    saveClassTable(p, v2, {}, faultyOps('write', 1e9));
    assert.deepEqual((loadClassTable(p)).weights, v2.weights);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
