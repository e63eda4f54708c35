import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataFormatError } from '../src/core/errors.js';
import {
  R_NA_INTEGER,
  rDataFrameColumns,
  readLazyLoadIndex,
  readLazyLoadObject,
  readRds,
  rNames,
  unserializeR,
  type RObject,
} from '../src/data/rds.js';
import { gzip, rdbRecord, XdrWriter } from './util/xdr.js';

const INT = 13;
const REAL = 14;
const STR = 16;
const VEC = 19;
const LIST = 2;

/** data.frame(id = c(1L, NA, 7L), x = c(2.5, NA, -1), f = factor(c("a","b","a")), s = c("x", NA, "é")) */
function dataFrameBytes(version: number, altrepRowNames: boolean): Uint8Array {
  const w = new XdrWriter().header(version);
  w.flags(VEC, { attr: true, obj: true }).int(4);
  w.flags(INT).int(3).int(1).int(R_NA_INTEGER).int(7);
  w.flags(REAL).int(3).double(2.5).double(NaN).double(-1);
  // factor: integer codes with attributes levels and class (symbols 1 and 2)
  w.flags(INT, { attr: true, obj: true }).int(3).int(1).int(2).int(1);
  w.flags(LIST, { tag: true }).sym('levels').flags(STR).int(2).charsxp('a').charsxp('b');
  w.flags(LIST, { tag: true }).sym('class').flags(STR).int(1).charsxp('factor').nil();
  w.flags(STR).int(3).charsxp('x').charsxp(null).charsxp('é', true);
  // data frame attributes: names (symbol 3), class (a reference to symbol 2), row.names (symbol 4)
  w.flags(LIST, { tag: true }).sym('names').flags(STR).int(4).charsxp('id').charsxp('x').charsxp('f').charsxp('s');
  w.flags(LIST, { tag: true }).ref(2).flags(STR).int(1).charsxp('data.frame');
  w.flags(LIST, { tag: true }).sym('row.names');
  if (altrepRowNames) {
    // ALTREP compact_intseq 1:3: info pairlist (class, package, type), state (n, start, step), no attributes
    w.int(238).flags(LIST).sym('compact_intseq').flags(LIST).sym('base').flags(LIST).flags(INT).int(1).int(13).nil();
    w.flags(REAL).int(3).double(3).double(1).double(1).nil();
  } else {
    w.flags(INT).int(2).int(R_NA_INTEGER).int(-3);
  }
  w.nil();
  return w.done();
}

function checkFrame(obj: RObject): void {
  assert.equal(obj.type, 'list');
  assert.deepEqual(rNames(obj), ['id', 'x', 'f', 's']);
  const cols = rDataFrameColumns(obj);
  assert.deepEqual([...cols.keys()], ['id', 'x', 'f', 's']);
  const id = cols.get('id')!;
  assert.equal(id.kind, 'integer');
  assert.deepEqual(Array.from(id.kind === 'integer' ? id.data : []), [1, R_NA_INTEGER, 7]);
  const x = cols.get('x')!;
  assert.ok(x.kind === 'double');
  assert.equal(x.data[0], 2.5);
  assert.ok(Number.isNaN(x.data[1]));
  assert.equal(x.data[2], -1);
  const f = cols.get('f')!;
  assert.ok(f.kind === 'factor');
  assert.deepEqual(Array.from(f.codes), [1, 2, 1]);
  assert.deepEqual(f.levels, ['a', 'b']);
  const s = cols.get('s')!;
  assert.ok(s.kind === 'character');
  assert.deepEqual(s.data, ['x', null, 'é']);
}

test('R serialization: a hand-made data.frame (format 3) with integer, double, factor and character columns', () => {
  const obj = unserializeR(dataFrameBytes(3, false), 'fixture');
  checkFrame(obj);
  assert.ok(obj.type === 'list');
  const rn = obj.attributes.get('row.names')!;
  assert.ok(rn.type === 'integer');
  assert.deepEqual(Array.from(rn.data), [R_NA_INTEGER, -3]);
  // the class attribute was written as a reference to the symbol 'class' read inside the factor
  const cls = obj.attributes.get('class')!;
  assert.ok(cls.type === 'character');
  assert.deepEqual(cls.data, ['data.frame']);
});

test('R serialization: format 2 header and compact_intseq (ALTREP) row names', () => {
  const obj = unserializeR(dataFrameBytes(2, true), 'fixture');
  checkFrame(obj);
  assert.ok(obj.type === 'list');
  const rn = obj.attributes.get('row.names')!;
  assert.ok(rn.type === 'integer');
  assert.deepEqual(Array.from(rn.data), [1, 2, 3]);
});

test('R serialization: an ALTREP wrapper (wrap_integer) reads as the wrapped vector with the wrapper attributes', () => {
  const w = new XdrWriter().header(3);
  w.int(238).flags(LIST).sym('wrap_integer').flags(LIST).sym('base').flags(LIST).flags(INT).int(1).int(13).nil();
  // state: the dotted pair (wrapped vector . metadata)
  w.flags(LIST).flags(INT).int(3).int(4).int(5).int(6).flags(INT).int(2).int(0).int(0);
  // attributes of the wrapper: names
  w.flags(LIST, { tag: true }).sym('names').flags(STR).int(3).charsxp('a').charsxp('b').charsxp('c').nil();
  const obj = unserializeR(w.done());
  assert.ok(obj.type === 'integer');
  assert.deepEqual(Array.from(obj.data), [4, 5, 6]);
  assert.deepEqual(rNames(obj), ['a', 'b', 'c']);
  const other = new XdrWriter().header(3);
  other.int(238).flags(LIST).sym('deferred_string').flags(LIST).sym('base').flags(LIST).flags(INT).int(1).int(16).nil();
  other.flags(LIST).flags(INT).int(1).int(1).flags(INT).int(1).int(0).nil();
  assert.throws(() => unserializeR(other.done()), /ALTREP class 'deferred_string' is not supported/);
});

test('R serialization: gzip-compressed .rds and a tagged pairlist', () => {
  const w = new XdrWriter().header(3);
  w.flags(LIST, { tag: true }).sym('a').flags(INT).int(1).int(5);
  w.flags(LIST).flags(10).int(2).int(1).int(R_NA_INTEGER); // untagged logical c(TRUE, NA)
  w.flags(LIST, { tag: true }).ref(1).nil().nil(); // tag 'a' again (reference), value NULL
  const obj = readRds(gzip(w.done()));
  assert.ok(obj.type === 'pairlist');
  assert.deepEqual(obj.items.map((i) => i.tag), ['a', null, 'a']);
  assert.equal(obj.items[1]!.value.type, 'logical');
  assert.equal(obj.items[2]!.value.type, 'null');
  assert.deepEqual(rNames(obj), ['a', null, 'a']);
});

test('R serialization: truncated data, unsupported types and formats raise DataFormatError', () => {
  const full = dataFrameBytes(3, false);
  for (const cut of [3, 20, 40, full.length - 1]) {
    assert.throws(() => unserializeR(full.subarray(0, cut), 'cut.rds'), (e: unknown) => e instanceof DataFormatError && /cut\.rds/.test(e.message));
  }
  const env = new XdrWriter().header(3).flags(4).int(0).done();
  assert.throws(() => unserializeR(env), (e: unknown) => e instanceof DataFormatError && /environment/.test(e.message));
  const v4 = new XdrWriter().bytes([0x58, 0x0a]).int(4).int(0).int(0).nil().done();
  assert.throws(() => unserializeR(v4), /version 4 is not supported/);
  assert.throws(() => unserializeR(Uint8Array.from([0x41, 0x0a, 0x33])), /ASCII/);
  assert.throws(() => readRds(Uint8Array.from([0x42, 0x5a, 0x68])), /bzip2/);
  const ref = new XdrWriter().header(3).ref(3).done();
  assert.throws(() => unserializeR(ref), /reference 3/);
  // a list is not a data frame
  const list = unserializeR(new XdrWriter().header(3).flags(VEC).int(0).done());
  assert.throws(() => rDataFrameColumns(list), /expected a data\.frame/);
});

function lazyLoadDb(compressed: number): { rdx: Uint8Array; rdb: Uint8Array } {
  const padding = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
  const rec = rdbRecord(dataFrameBytes(3, false));
  const other = rdbRecord(new XdrWriter().header(3).flags(INT).int(1).int(42).done());
  const rdb = new Uint8Array(padding.length + rec.length + other.length);
  rdb.set(padding, 0);
  rdb.set(rec, padding.length);
  rdb.set(other, padding.length + rec.length);
  // list(variables = list(df = c(off, len), answer = c(off, len)), references = list(), compressed = TRUE)
  const w = new XdrWriter().header(3);
  w.flags(VEC, { attr: true }).int(3);
  w.flags(VEC, { attr: true }).int(2);
  w.flags(INT).int(2).int(padding.length).int(rec.length);
  w.flags(INT).int(2).int(padding.length + rec.length).int(other.length);
  w.flags(LIST, { tag: true }).sym('names').flags(STR).int(2).charsxp('df').charsxp('answer').nil();
  w.flags(VEC).int(0);
  w.flags(10).int(1).int(compressed);
  w.flags(LIST, { tag: true }).ref(1).flags(STR).int(3).charsxp('variables').charsxp('references').charsxp('compressed').nil();
  return { rdx: gzip(w.done()), rdb };
}

test('lazy-load database: index offsets, zlib records, missing names and other compressions', () => {
  const { rdx, rdb } = lazyLoadDb(1);
  const index = readLazyLoadIndex(rdx, 'Rdata.rdx');
  assert.deepEqual([...index.variables.keys()], ['df', 'answer']);
  assert.equal(index.compressed, 1);
  checkFrame(readLazyLoadObject(index, rdb, 'df'));
  const answer = readLazyLoadObject(index, rdb, 'answer');
  assert.ok(answer.type === 'integer');
  assert.deepEqual(Array.from(answer.data), [42]);
  assert.throws(() => readLazyLoadObject(index, rdb, 'nope'), (e: unknown) => e instanceof DataFormatError && /no object 'nope'.*df, answer/.test(e.message));
  assert.throws(() => readLazyLoadObject(index, rdb.subarray(0, 20), 'df'), /beyond the end of the file/);
  const corrupt = rdb.slice();
  corrupt[7 + 6] = corrupt[7 + 6]! ^ 0xff;
  assert.throws(() => readLazyLoadObject(index, corrupt, 'df'), (e: unknown) => e instanceof DataFormatError);
  const xz = lazyLoadDb(3);
  assert.throws(() => readLazyLoadObject(readLazyLoadIndex(xz.rdx), xz.rdb, 'df'), /compression type 3 \(xz\)/);
});
