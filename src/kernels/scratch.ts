/**
 * Reused working blocks of the active kernel memory (see {@link ScratchBlock}).
 * @module
 */
import { warnOnce } from '../core/runtime.js';
import { activeMemory, type KernelMemory } from './index.js';

/**
 * One float32 working block reused from call to call, grown by doubling: in the active kernel
 * memory when there is one (so that the kernels use it in place), else a plain array. Reusing it
 * saves a fresh allocation per call, whose first writes fault its pages in (costly for the blocks
 * of a training step: megabytes each time). The caller owns the contents until its next
 * {@link ScratchBlock.f32} call.
 */
export class ScratchBlock {
  private mem: KernelMemory | null = null;
  private arr: Float32Array | null = null;

  /** @param what what the block holds, for the one-line warning when kernel memory is full */
  constructor(private readonly what: string) {}

  /** The first `len` values of the block (contents unspecified), grown to hold them. */
  f32(len: number): Float32Array {
    const mem = activeMemory();
    const cur = this.arr;
    if (cur !== null && this.mem === mem && cur.length >= len) return cur.subarray(0, len);
    if (cur !== null && mem !== null && this.mem === mem) mem.free?.(cur);
    let cap = 1024;
    while (cap < len) cap *= 2;
    this.mem = mem;
    this.arr = null;
    if (mem !== null) {
      try {
        this.arr = mem.f32(cap);
      } catch (e) {
        warnOnce(`scratch:${this.what}`, `samplex: ${this.what} do not fit the fast kernels' memory (${e instanceof Error ? e.message : String(e)}); they are kept in JS memory and the kernels copy them at every call`);
        this.mem = null;
      }
    }
    this.arr ??= new Float32Array(cap);
    return this.arr.subarray(0, len);
  }
}
