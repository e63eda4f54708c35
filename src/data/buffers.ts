/**
 * Growable typed arrays (amortized doubling) for the dataset builders.
 * @module
 */

/** A growable Int32Array. */
export class IntBuffer {
  private buf = new Int32Array(1024);
  private n = 0;

  /** Appends `v`. */
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  /** Number of values pushed. */
  get length(): number {
    return this.n;
  }

  /** A copy of the values pushed, exactly sized. */
  toArray(): Int32Array {
    return this.buf.slice(0, this.n);
  }
}

/** A growable Float32Array. */
export class FloatBuffer {
  private buf = new Float32Array(1024);
  private n = 0;

  /** Appends `v`. */
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  /** A copy of the values pushed, exactly sized. */
  toArray(): Float32Array {
    return this.buf.slice(0, this.n);
  }
}
