/**
 * Bad inputs a careless or hostile user gives get a typed error that names what to change:
 * numbers in data files and on the command line are decimal only, label ids are integers,
 * log-probabilities are ≤ 0, and header counts, empty files and empty splits are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassTable } from '../src/core/classTable.js';
import { DataFormatError, LabelRangeError, NonFiniteError, OptionError } from '../src/core/errors.js';
import { matrix, multiLabels, singleLabels } from '../src/core/matrix.js';
import { intArg, numArg, parseDecimal } from '../src/core/validate.js';
import { parseXmc } from '../src/data/xmc.js';
import { parseInteractionLog } from '../src/data/interactions.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import { loadXmcData } from '../src/apps/xmc/data.js';
import { parseKeyValues } from '../src/cli/samplerOptions.js';
import { handDraws } from './util/lossFixtures.js';
import { runCli } from './util/cli.js';

test('parseDecimal reads decimal and scientific numbers only', () => {
  for (const [s, v] of [['12', 12], ['-0.5', -0.5], ['.5', 0.5], ['3.', 3], ['+2e-3', 0.002], ['1E3', 1000]] as const) assert.equal(parseDecimal(s), v, s);
  for (const s of ['0x1f', '0X1F', '0o17', '0b11', 'Infinity', '-Infinity', 'NaN', '', ' ', '1e', '1.2.3', '5k', '1_000', ' 5']) {
    assert.ok(Number.isNaN(parseDecimal(s)), `'${s}' read as ${parseDecimal(s)}`);
  }
});

test('intArg and numArg refuse what is not a decimal number, naming the value given', () => {
  assert.equal(intArg('5', '--negatives', 1), 5);
  assert.equal(intArg(' 7 ', '--negatives', 1), 7);
  assert.equal(numArg('1e-3', '--lr', 0), 0.001);
  for (const v of ['0x5', '5.5', '', 'five', '1e400', '0']) assert.throws(() => intArg(v, '--negatives', 1), OptionError, v);
  assert.throws(() => intArg('0x5', '--negatives', 1), /--negatives must be an integer ≥ 1, got '0x5'/);
  for (const v of ['0x1', 'Infinity', '', '2', '-0.5']) assert.throws(() => numArg(v, '--dropout', 0, 1), OptionError, v);
});

test('--opt values are numbers only when decimal', () => {
  assert.deepEqual(parseKeyValues(['codewords=0x10', 'alpha=0.5', 'stage=pop', 'x=1e2']), { codewords: '0x10', alpha: 0.5, stage: 'pop', x: 100 });
});

test('an XMC feature value must be a decimal number: 2:0x1f is refused with the file and line', () => {
  const parse = (v: string) => parseXmc(['1 4 2', `0 1:1 2:${v}`], { source: 'train.txt' });
  assert.equal(parse('2.5e-1').features.values[1], 0.25);
  for (const v of ['0x1f', 'Infinity', '0b1', 'NaN', '1e']) {
    assert.throws(() => parse(v), (e: unknown) => e instanceof DataFormatError && /train\.txt:2/.test(e.message) && e.message.includes(`'${v}'`), v);
  }
});

test('an XMC header claiming more than 2^31 − 1 features, labels or instances is a data-format error at line 1', () => {
  for (const h of ['1 4000000000 2', '1 4 4000000000', '4000000000 4 2']) {
    assert.throws(
      () => parseXmc([h, '0 1:1'], { source: 'big.txt' }),
      (e: unknown) => e instanceof DataFormatError && e.code === 'E_DATA_FORMAT' && /big\.txt:1/.test(e.message) && /4000000000/.test(e.message),
      h,
    );
  }
  assert.equal(parseXmc(['1 2147483647 2', '0 1:1']).numFeatures, 2147483647);
});

test('interaction times must be decimal numbers', () => {
  const fmt = { delimiter: ',', header: false, user: 0, item: 1, time: 2 };
  assert.equal(parseInteractionLog(['u,i,17'], 'r.csv', fmt).user.length, 1);
  assert.throws(() => parseInteractionLog(['u,i,0x11'], 'r.csv', fmt), (e: unknown) => e instanceof DataFormatError && /r\.csv:1/.test(e.message));
});

test('singleLabels and multiLabels refuse ids that are not integers (E_LABEL_RANGE)', () => {
  for (const ids of [[1.5], [Number.NaN], [0, Infinity], [2 ** 31]]) {
    assert.throws(() => singleLabels(ids), (e: unknown) => e instanceof LabelRangeError && e.code === 'E_LABEL_RANGE', String(ids));
  }
  assert.throws(() => multiLabels([[0], [1, 2.5]]), (e: unknown) => e instanceof LabelRangeError && /row 1/.test(e.message));
  assert.deepEqual(Array.from(singleLabels([3, 0]).ids), [3, 0]);
  assert.deepEqual(Array.from(multiLabels([[3], [0, 1]]).ids), [3, 0, 1]);
});

test('sampledSoftmaxLoss refuses a log-probability above 0 or NaN in draws.logQ and posLogQ', () => {
  const table = new ClassTable(4, 1, Float32Array.from([0.5, -1, 2, 0.25]));
  const queries = matrix(1, 1, Float32Array.from([1]));
  const labels = singleLabels([0]);
  const ok = handDraws([[2, 3]], [[Math.log(0.2), Math.log(0.5)]]);
  const posLogQ = Float64Array.from([Math.log(0.3)]);
  assert.ok(Number.isFinite(sampledSoftmaxLoss({ queries, table, labels, draws: ok, convention: 'correctedAll', posLogQ }).loss));
  const positive = handDraws([[2, 3]], [[Math.log(0.2), 0.7]]);
  assert.throws(() => sampledSoftmaxLoss({ queries, table, labels, draws: positive, convention: 'exclusive' }), (e: unknown) => e instanceof OptionError && /draws\.logQ.*: 0\.7 at row 0, column 1 is not a log-probability/.test(e.message));
  const nan = handDraws([[2, 3]], [[Number.NaN, -1]]);
  assert.throws(() => sampledSoftmaxLoss({ queries, table, labels, draws: nan, convention: 'exclusive' }), NonFiniteError);
  assert.throws(
    () => sampledSoftmaxLoss({ queries, table, labels, draws: ok, convention: 'correctedAll', posLogQ: Float64Array.from([0.2]) }),
    (e: unknown) => e instanceof OptionError && /posLogQ: 0\.2 at index 0 is not a log-probability/.test(e.message),
  );
  assert.throws(() => sampledSoftmaxLoss({ queries, table, labels, draws: ok, convention: 'correctedAll', posLogQ: Float64Array.from([Number.NaN]) }), NonFiniteError);
  // rounding slack: a certain draw may report log q a hair above 0
  const certain = handDraws([[2, 3]], [[1e-9, -1]]);
  assert.doesNotThrow(() => sampledSoftmaxLoss({ queries, table, labels, draws: certain, convention: 'exclusive' }));
});

function dataDir(train: string, test: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-input-'));
  writeFileSync(join(dir, 'train.txt'), train);
  writeFileSync(join(dir, 'test.txt'), test);
  return dir;
}

const isDataError = (file: string, re: RegExp) => (e: unknown) => e instanceof DataFormatError && e.message.includes(file) && re.test(e.message);

test('empty train or test files and splits without instances are refused, naming the file', () => {
  const xmcTrain = '2 4 3\n0 1:1 2:0.5\n1,2 0:1\n';
  const ftTrain = '__label__a x y\n__label__b y z\n';
  const cases: Array<[string, string, string, RegExp]> = [
    [xmcTrain, '', 'test.txt', /the file is empty/],
    [ftTrain, '', 'test.txt', /the file is empty/],
    [ftTrain, '\n\n', 'test.txt', /holds no instances/],
    [xmcTrain, '0 4 3\n', 'test.txt', /holds no instances/],
    ['', '1 4 3\n0 1:1\n', 'train.txt', /the file is empty/],
    ['', '__label__a x\n', 'train.txt', /the file is empty/],
  ];
  for (const [train, testText, file, re] of cases) {
    const dir = dataDir(train, testText);
    try {
      assert.throws(() => loadXmcData(dir), isDataError(join(dir, file), re), `${file}: ${JSON.stringify([train, testText])}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'samplex-input-'));
  try {
    const one = join(dir, 'one.txt');
    writeFileSync(one, '__label__a x y\n');
    assert.throws(() => loadXmcData(one), isDataError(one, /no row in the test split/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samplex train xmc: an empty test.txt and --negatives 0x5 exit 2 with a typed error and write nothing', async () => {
  const dir = dataDir('2 4 3\n0 1:1 2:0.5\n1,2 0:1\n', '');
  try {
    const out = join(dir, 'run');
    const base = ['train', 'xmc', '--data', dir, '--out', out, '--epochs', '1', '--threads', '1', '--no-progress'];
    const empty = await runCli([...base, '--negatives', '1']);
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /E_DATA_FORMAT: .*test\.txt:1: the file is empty/);
    writeFileSync(join(dir, 'test.txt'), '1 4 3\n0 1:1\n');
    const hex = await runCli([...base, '--negatives', '0x5']);
    assert.equal(hex.code, 2, hex.stderr);
    assert.match(hex.stderr, /E_OPTION: .*negatives.*'0x5'/);
    assert.deepEqual(readdirSync(dir).sort(), ['test.txt', 'train.txt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samplex train xmc: a header declaring 2e9 features (below the 2^31 cap) is refused before any allocation, naming the sizes', async () => {
  const dir = dataDir('2 2000000000 3\n0 1:1 2:0.5\n1,2 0:1\n', '1 2000000000 3\n0 1:1\n');
  try {
    const out = join(dir, 'run');
    const r = await runCli(['train', 'xmc', '--data', dir, '--out', out, '--epochs', '1', '--threads', '1', '--negatives', '1', '--no-progress']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /E_OPTION: the model needs about [\d.]+ GiB \(2000000000 inputs and 3 labels × dim 128.*lower --dim or --bigrams/);
    assert.deepEqual(readdirSync(dir).sort(), ['test.txt', 'train.txt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
