/**
 * Linear-memory management for the WebAssembly kernels: one shared `WebAssembly.Memory`
 * (so pool workers see the same bytes) with an allocator owned by the JavaScript side.
 *
 * - Zero-copy: arrays made by {@link WasmArena.allocF32} (and friends) live inside wasm
 *   memory; kernels read and write them in place. Because the memory is shared, growing it
 *   never detaches existing views, so such arrays stay valid for the life of the arena.
 * - Staging: any other typed array is copied into a temporary block for the duration of
 *   one call (and copied back for outputs); see {@link StagingFrame}.
 *
 * Browser-safe: no Node modules.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { warnOnce } from '../core/runtime.js';

/** Typed arrays the kernels accept. */
export type KernelArray = Float32Array | Float64Array | Int32Array;

const PAGE = 65536;
/** A kernel argument this large that is copied in (and out) for one call gets a one-line warning. */
const STAGING_WARN_BYTES = 64 << 20;
const ALIGN = 64;
/** Bytes kept free at the top of memory: vector loads may read up to 12 bytes past a row. */
const GUARD = 64;
/** Largest memory the kernels are compiled for (pages of 64 KiB = 4 GiB). */
export const MAX_PAGES = 65536;

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** A free block. */
interface Block {
  ptr: number;
  size: number;
}

/** Allocator over a shared `WebAssembly.Memory`. */
export class WasmArena {
  /** The shared memory the kernels run on. */
  readonly memory: WebAssembly.Memory;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private readonly sizes = new Map<number, number>();
  private freeList: Block[] = [];
  private brk: number;
  /** Highest address ever handed out: memory above it has never been written (zero from `grow`). */
  private hwm: number;
  /** First never-written byte of the last block {@link WasmArena.alloc} handed out. */
  private freshFrom = 0;
  private buf: ArrayBufferLike;

  /**
   * @param memory shared memory (created by {@link WasmArena.create} normally)
   * @param base first byte the arena may hand out (after the module's static data)
   */
  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.buf = memory.buffer;
    this.buffers.add(this.buf);
    this.brk = alignUp(Math.max(base, ALIGN), ALIGN);
    this.hwm = this.brk;
  }

  /** Creates a shared memory of `initialBytes` (rounded up to pages). */
  static createMemory(initialBytes = 16 << 20): WebAssembly.Memory {
    const initial = Math.max(1, Math.ceil(initialBytes / PAGE));
    if (initial > MAX_PAGES) throw new OptionError(`initial memory ${initialBytes} bytes exceeds the 4 GiB wasm32 limit`);
    return new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });
  }

  /** Current size of the memory in bytes. */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /** Bytes currently handed out. */
  get allocatedBytes(): number {
    let s = 0;
    for (const v of this.sizes.values()) s += v;
    return s;
  }

  /** The current buffer (re-read after growth; every buffer seen is remembered). */
  get buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.buffers.add(b);
    }
    return b;
  }

  /** Allocates `bytes` (64-byte aligned, not zeroed); returns the byte address. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ShapeError(`cannot allocate ${bytes} bytes; sizes must be non-negative integers`);
    const size = alignUp(Math.max(bytes, 1), ALIGN);
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i]!;
      if (b.size >= size) {
        const ptr = b.ptr;
        if (b.size === size) this.freeList.splice(i, 1);
        else {
          b.ptr += size;
          b.size -= size;
        }
        this.sizes.set(ptr, size);
        this.freshFrom = ptr + size;
        return ptr;
      }
    }
    const ptr = this.brk;
    const need = ptr + size + GUARD;
    const have = this.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((need - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) {
        throw new OptionError(`wasm memory exhausted: cannot allocate ${bytes} bytes beyond ${have} (4 GiB limit); use smaller blocks`);
      }
      this.memory.grow(pages);
      void this.buffer;
    }
    this.brk = ptr + size;
    this.sizes.set(ptr, size);
    this.freshFrom = Math.max(ptr, this.hwm);
    this.hwm = Math.max(this.hwm, ptr + size);
    return ptr;
  }

  /**
   * {@link WasmArena.alloc} of zero-filled bytes: only the part of the block below the high-water
   * mark is cleared (memory above it is still zero from `grow`), so a large fresh block costs no
   * pass over its pages (they become resident when first written).
   */
  private allocZeroed(bytes: number): number {
    const ptr = this.alloc(bytes);
    const dirtyEnd = Math.min(ptr + bytes, this.freshFrom);
    if (dirtyEnd > ptr) new Uint8Array(this.buffer, ptr, dirtyEnd - ptr).fill(0);
    return ptr;
  }

  /** Returns a block from {@link WasmArena.alloc}. Unknown addresses throw. */
  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new OptionError(`address ${ptr} was not allocated by this arena (double free?)`);
    this.sizes.delete(ptr);
    const fl = this.freeList;
    let i = 0;
    while (i < fl.length && fl[i]!.ptr < ptr) i++;
    fl.splice(i, 0, { ptr, size });
    // coalesce with neighbours
    if (i + 1 < fl.length && fl[i]!.ptr + fl[i]!.size === fl[i + 1]!.ptr) {
      fl[i]!.size += fl[i + 1]!.size;
      fl.splice(i + 1, 1);
    }
    if (i > 0 && fl[i - 1]!.ptr + fl[i - 1]!.size === fl[i]!.ptr) {
      fl[i - 1]!.size += fl[i]!.size;
      fl.splice(i, 1);
      i--;
    }
    // give the top block back to the bump pointer
    const last = fl[fl.length - 1];
    if (last && last.ptr + last.size === this.brk) {
      this.brk = last.ptr;
      fl.pop();
    }
  }

  /** A zero-filled Float32Array of `len` elements inside wasm memory (zero-copy for kernels). */
  allocF32(len: number): Float32Array {
    const p = this.allocZeroed(len * 4);
    return new Float32Array(this.buffer, p, len);
  }

  /** A zero-filled Float64Array inside wasm memory. */
  allocF64(len: number): Float64Array {
    const p = this.allocZeroed(len * 8);
    return new Float64Array(this.buffer, p, len);
  }

  /** A zero-filled Int32Array inside wasm memory. */
  allocI32(len: number): Int32Array {
    const p = this.allocZeroed(len * 4);
    return new Int32Array(this.buffer, p, len);
  }

  /** Frees an array made by `allocF32` / `allocF64` / `allocI32` (must be the whole array). */
  free(arr: KernelArray): void {
    if (!this.owns(arr)) throw new OptionError('free: the array does not live in this arena; only free arrays from allocF32/allocF64/allocI32');
    this.release(arr.byteOffset);
  }

  /** Whether `arr` is a view of this arena's memory. */
  owns(arr: ArrayBufferView): boolean {
    return this.buffers.has(arr.buffer);
  }

  /** Starts a staging frame for one kernel call. */
  frame(): StagingFrame {
    return new StagingFrame(this);
  }
}

type Ctor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => KernelArray;

/**
 * Resolves typed-array arguments to wasm addresses for one call: arrays already in the arena
 * are used in place; others are copied into temporary blocks (`in`), copied back after the
 * call (`out`), or both (`inout`). {@link StagingFrame.finish} copies back and frees.
 */
export class StagingFrame {
  private readonly arena: WasmArena;
  private readonly temps: number[] = [];
  private readonly backs: Array<() => void> = [];

  constructor(arena: WasmArena) {
    this.arena = arena;
  }

  /**
   * Address of `arr[off .. off+len)`.
   * @throws ShapeError when the array is shorter than `off + len`
   */
  ptr(arr: KernelArray, off: number, len: number, mode: 'in' | 'out' | 'inout', name: string): number {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0) {
      throw new ShapeError(`${name}: offset ${off} and length ${len} must be non-negative integers; check the sizes passed to the kernel`);
    }
    if (off + len > arr.length) {
      throw new ShapeError(`${name} has length ${arr.length}, but the call needs ${off + len} elements; pass a larger array or fix the sizes`);
    }
    const bpe = arr.BYTES_PER_ELEMENT;
    if (this.arena.owns(arr)) return arr.byteOffset + off * bpe;
    if (len * bpe >= STAGING_WARN_BYTES) {
      warnOnce('staging', `samplex: a kernel call copies ${Math.round((len * bpe) / 2 ** 20)} MiB ('${name}') into WebAssembly memory${mode === 'in' ? '' : ' and back'} on every call; keep such arrays in kernel memory (tableInKernelMemory, FastKernels.allocF32) to use them in place`);
    }
    const p = this.arena.alloc(Math.max(len, 1) * bpe);
    this.temps.push(p);
    if (len === 0) return p;
    const C = arr.constructor as unknown as Ctor;
    const src = arr.subarray(off, off + len);
    if (mode !== 'out') new C(this.arena.buffer, p, len).set(src as never);
    if (mode !== 'in') this.backs.push(() => src.set(new C(this.arena.buffer, p, len) as never));
    return p;
  }

  /** A temporary block of `bytes` (freed by finish). */
  scratch(bytes: number): number {
    const p = this.arena.alloc(bytes);
    this.temps.push(p);
    return p;
  }

  /** A temporary Float32Array / Int32Array view to fill before the call. */
  tempF32(len: number): { ptr: number; view: Float32Array } {
    const ptr = this.scratch(len * 4);
    return { ptr, view: new Float32Array(this.arena.buffer, ptr, len) };
  }

  /** Temporary Int32Array. */
  tempI32(len: number): { ptr: number; view: Int32Array } {
    const ptr = this.scratch(len * 4);
    return { ptr, view: new Int32Array(this.arena.buffer, ptr, len) };
  }

  /** Copies outputs back and frees the temporary blocks. */
  finish(): void {
    for (const b of this.backs) b();
    this.release();
  }

  /** Frees the temporary blocks without copying back (error path). */
  release(): void {
    for (let i = this.temps.length - 1; i >= 0; i--) this.arena.release(this.temps[i]!);
    this.temps.length = 0;
    this.backs.length = 0;
  }
}
