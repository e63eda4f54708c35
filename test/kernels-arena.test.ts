/**
 * The JavaScript-side allocator of the wasm memory: random alloc/free sequences never hand out
 * overlapping or misaligned blocks, never touch the module's static data, keep their contents,
 * and give all memory back when everything is freed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OptionError, ShapeError } from '../src/core/errors.js';
import { WasmArena } from '../src/kernels/arena.js';

const BASE = 1000; // pretend static data ends here

test('random alloc/free sequences: disjoint aligned blocks above the base, contents kept, all memory returned', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.record({ alloc: fc.integer({ min: 0, max: 200_000 }) }), fc.record({ free: fc.nat() })), { maxLength: 60 }),
      (ops) => {
        const arena = new WasmArena(WasmArena.createMemory(1 << 16), BASE);
        const live: Array<{ ptr: number; bytes: number; tag: number }> = [];
        let tag = 1;
        const check = (b: { ptr: number; bytes: number; tag: number }): void => {
          const v = new Uint8Array(arena.buffer, b.ptr, b.bytes);
          for (let i = 0; i < v.length; i += 97) assert.equal(v[i], b.tag & 255, 'block contents changed');
        };
        for (const op of ops) {
          if ('alloc' in op) {
            const ptr = arena.alloc(op.alloc);
            assert.equal(ptr % 64, 0);
            assert.ok(ptr >= BASE);
            assert.ok(ptr + op.alloc <= arena.byteLength);
            for (const o of live) assert.ok(ptr + op.alloc <= o.ptr || o.ptr + o.bytes <= ptr || op.alloc === 0 || o.bytes === 0, 'overlap');
            const b = { ptr, bytes: op.alloc, tag: tag++ };
            new Uint8Array(arena.buffer, ptr, op.alloc).fill(b.tag & 255);
            live.push(b);
          } else if (live.length > 0) {
            const [b] = live.splice(op.free % live.length, 1);
            check(b!);
            arena.release(b!.ptr);
          }
        }
        for (const b of live) check(b);
        for (const b of live) arena.release(b.ptr);
        assert.equal(arena.allocatedBytes, 0);
        // everything coalesced back: the next allocation starts at the first aligned address
        assert.equal(arena.alloc(64), Math.ceil(BASE / 64) * 64);
      },
    ),
    { seed: 4242, numRuns: 150 },
  );
});

test('bad frees and sizes raise typed errors', () => {
  const arena = new WasmArena(WasmArena.createMemory(1 << 16), 0);
  const p = arena.alloc(10);
  arena.release(p);
  assert.throws(() => arena.release(p), OptionError);
  assert.throws(() => arena.release(12345), OptionError);
  assert.throws(() => arena.alloc(-1), ShapeError);
  assert.throws(() => arena.alloc(1.5), ShapeError);
  assert.throws(() => arena.free(new Float32Array(4)), OptionError);
  assert.throws(() => arena.frame().ptr(new Float32Array(4), 2, 3, 'in', 'x'), ShapeError);
});
