/**
 * Typed errors. Every error samplex raises at its public boundary is a
 * {@link SamplexError} with a stable `code` and a message that says what to change.
 * @module
 */

/** Stable error codes, one per kind of mistake. */
export type SamplexErrorCode =
  | 'E_SHAPE'
  | 'E_NONFINITE'
  | 'E_LABEL_RANGE'
  | 'E_OPTION'
  | 'E_DATA_FORMAT'
  | 'E_IO'
  | 'E_STATE'
  | 'E_IMPOSSIBLE';

/** Base class of every error samplex raises on purpose. */
export class SamplexError extends Error {
  /** Stable machine-readable code. */
  readonly code: SamplexErrorCode;
  constructor(code: SamplexErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An array has the wrong length or a matrix the wrong shape. */
export class ShapeError extends SamplexError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** A NaN or ±Infinity where finite numbers are required. */
export class NonFiniteError extends SamplexError {
  /** Flat index of the first offending element. */
  readonly index: number;
  constructor(message: string, index: number) {
    super('E_NONFINITE', message);
    this.index = index;
  }
}

/** A class id (label) outside `[0, n)`, or not an integer. */
export class LabelRangeError extends SamplexError {
  constructor(message: string) {
    super('E_LABEL_RANGE', message);
  }
}

/** An option has an invalid value or an unknown name. */
export class OptionError extends SamplexError {
  constructor(message: string) {
    super('E_OPTION', message);
  }
}

/** A data file has a malformed line; `line` is 1-based. */
export class DataFormatError extends SamplexError {
  /** Path (or description) of the input. */
  readonly file: string;
  /** 1-based line number, 0 when the problem is not tied to a line. */
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super('E_DATA_FORMAT', line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** Reading or writing a file failed. */
export class IoError extends SamplexError {
  constructor(message: string) {
    super('E_IO', message);
  }
}

/** An object was used in the wrong state (for example a sampler before `build`). */
export class StateError extends SamplexError {
  constructor(message: string) {
    super('E_STATE', message);
  }
}

/** The request cannot be satisfied (for example m unique draws from fewer than m classes). */
export class ImpossibleError extends SamplexError {
  constructor(message: string) {
    super('E_IMPOSSIBLE', message);
  }
}
