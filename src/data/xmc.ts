/**
 * The sparse text format of the Extreme Classification Repository: a header line
 * `instances features labels`, then one instance per line,
 * `l1,l2,… f:v f:v …` (0-based label ids, then 0-based feature index : value).
 * A line without labels starts directly with its features (conventionally after
 * a space).
 * @module
 */
import { DataFormatError } from '../core/errors.js';
import { parseDecimal } from '../core/validate.js';
import { checkDataset, formatFloat32, numRows, SparseBuilder, type SparseDataset } from './sparse.js';

/** Options of {@link parseXmc}. */
export interface XmcReadOptions {
  /** Name of the input used in error messages (default `'<xmc>'`). */
  source?: string;
  /** Accept instances without labels (default true: repository files contain some). */
  allowUnlabeled?: boolean;
  /** Feature names to attach (length must equal the header's feature count). */
  featureNames?: readonly string[];
  /** Label names to attach (length must equal the header's label count). */
  labelNames?: readonly string[];
  /** Label descriptions to attach (length must equal the header's label count). */
  labelInfo?: readonly string[];
}

const UINT = /^[0-9]+$/;
/** Largest count or id a header may declare: ids are stored as 32-bit integers. */
const MAX_ID = 2 ** 31 - 1;
const HEADER_FIELDS = ['instances', 'features', 'labels'];
const WS = /[ \t]+/;

/**
 * Parses XMC sparse-format lines (see the module description) into a dataset.
 * Duplicate labels on a line are merged; duplicate feature indices are an error.
 * Blank lines after the last declared instance are ignored.
 * @throws DataFormatError with the 1-based line number for: a missing or malformed
 *   header, a malformed label or `index:value` pair, a label or feature index outside
 *   the header's range, a repeated feature index, a non-finite value, an instance
 *   without features (empty instance), an unlabeled instance when
 *   `allowUnlabeled` is false, and more or fewer instances than the header declares
 */
export function parseXmc(lines: Iterable<string>, opts: XmcReadOptions = {}): SparseDataset {
  const src = opts.source ?? '<xmc>';
  const allowUnlabeled = opts.allowUnlabeled ?? true;
  let lineNo = 0;
  let n = -1;
  let numFeatures = 0;
  let numLabels = 0;
  const b = new SparseBuilder();
  const labels: number[] = [];
  const idx: number[] = [];
  const vals: number[] = [];
  const seen = new Set<number>();
  for (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (n < 0) {
      const h = line.split(WS);
      if (h.length !== 3 || !h.every((x) => UINT.test(x))) {
        throw new DataFormatError(src, lineNo, `header must be 'instances features labels' (three non-negative integers), got '${clip(raw)}'`);
      }
      [n, numFeatures, numLabels] = h.map(Number) as [number, number, number];
      for (let i = 0; i < 3; i++) {
        if (Number(h[i]) > MAX_ID) {
          throw new DataFormatError(src, lineNo, `header declares ${h[i]} ${HEADER_FIELDS[i]}, more than ${MAX_ID} (ids are 32-bit integers); fix the header`);
        }
      }
      continue;
    }
    if (b.rows === n) {
      if (line === '') continue;
      throw new DataFormatError(src, lineNo, `more instances than the ${n} declared in the header; fix the header's first number or remove the extra lines`);
    }
    if (line === '') throw new DataFormatError(src, lineNo, 'empty instance (blank line); every instance needs at least one feature');
    const tok = raw.trimEnd().split(WS);
    labels.length = 0;
    idx.length = 0;
    vals.length = 0;
    seen.clear();
    let k = 0;
    // A first field without ':' is the label list; a line starting with whitespace has none.
    if (tok[0] === '') k = 1;
    else if (!tok[0]!.includes(':')) {
      for (const s of tok[0]!.split(',')) {
        if (!UINT.test(s)) {
          throw new DataFormatError(src, lineNo, `label '${clip(s)}' is not a non-negative integer; labels are written 'l1,l2,…' without spaces`);
        }
        const l = Number(s);
        if (l >= numLabels) {
          throw new DataFormatError(src, lineNo, `label ${l} is outside [0, ${numLabels}) declared in the header; fix the label or raise the header's label count`);
        }
        labels.push(l);
      }
      k = 1;
    }
    for (; k < tok.length; k++) {
      const t = tok[k]!;
      const c = t.indexOf(':');
      const is = c > 0 ? t.slice(0, c) : '';
      const vs = c > 0 ? t.slice(c + 1) : '';
      if (!UINT.test(is) || vs === '') {
        throw new DataFormatError(src, lineNo, `expected 'index:value', got '${clip(t)}'`);
      }
      const j = Number(is);
      const v = parseDecimal(vs);
      if (!Number.isFinite(v)) throw new DataFormatError(src, lineNo, `feature ${j} has value '${clip(vs)}', expected a finite decimal number (e.g. 0.25 or 2.5e-3)`);
      if (j >= numFeatures) {
        throw new DataFormatError(src, lineNo, `feature index ${j} is outside [0, ${numFeatures}) declared in the header; fix the index or raise the header's feature count`);
      }
      if (seen.has(j)) throw new DataFormatError(src, lineNo, `feature index ${j} appears twice; merge the two values`);
      seen.add(j);
      idx.push(j);
      vals.push(v);
    }
    if (idx.length === 0) throw new DataFormatError(src, lineNo, 'empty instance (no features); every instance needs at least one feature');
    if (labels.length === 0 && !allowUnlabeled) {
      throw new DataFormatError(src, lineNo, 'instance has no labels; add labels or allow unlabeled instances');
    }
    b.addRow(idx, vals, labels);
  }
  if (n < 0) throw new DataFormatError(src, 1, "missing header 'instances features labels' (empty input)");
  if (b.rows < n) {
    throw new DataFormatError(src, lineNo + 1, `input ends after ${b.rows} instances but the header declares ${n}; fix the header or restore the missing lines`);
  }
  const ds = b.build({ numFeatures, numLabels });
  return attachNames(ds, opts, src);
}

function attachNames(ds: SparseDataset, o: XmcReadOptions, src: string): SparseDataset {
  const check = (arr: readonly string[] | undefined, len: number, what: string): void => {
    if (arr && arr.length !== len) {
      throw new DataFormatError(src, 1, `${what} has ${arr.length} entries but the header declares ${len}; use the matching name file`);
    }
  };
  check(o.featureNames, ds.numFeatures, 'feature name list');
  check(o.labelNames, ds.numLabels, 'label name list');
  check(o.labelInfo, ds.numLabels, 'label description list');
  return {
    ...ds,
    ...(o.featureNames ? { featureNames: o.featureNames } : {}),
    ...(o.labelNames ? { labelNames: o.labelNames } : {}),
    ...(o.labelInfo ? { labelInfo: o.labelInfo } : {}),
  };
}

function clip(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Lines per chunk yielded by the formatters. */
export const FORMAT_CHUNK_LINES = 4096;

/**
 * Formats a dataset in the XMC sparse format, as string chunks of whole lines
 * (suitable for an atomic file writer). Values are written as the shortest
 * decimal that reads back to the same float32; unlabeled rows start with a space.
 * @throws ShapeError (and friends) when the dataset is inconsistent, see `checkDataset`
 */
export function formatXmc(ds: SparseDataset): string[] {
  checkDataset(ds, 'formatXmc');
  const rows = numRows(ds);
  const { indices, values, offsets } = ds.features;
  const { ids, offsets: lo } = ds.labels;
  const out: string[] = [];
  let buf: string[] = [`${rows} ${ds.numFeatures} ${ds.numLabels}`];
  for (let r = 0; r < rows; r++) {
    const parts: string[] = [];
    for (let k = lo[r]!; k < lo[r + 1]!; k++) parts.push(String(ids[k]));
    let line = parts.join(',');
    for (let k = offsets[r]!; k < offsets[r + 1]!; k++) line += ` ${indices[k]}:${formatFloat32(values[k]!)}`;
    buf.push(line);
    if (buf.length >= FORMAT_CHUNK_LINES) {
      out.push(buf.join('\n') + '\n');
      buf = [];
    }
  }
  if (buf.length) out.push(buf.join('\n') + '\n');
  return out;
}
