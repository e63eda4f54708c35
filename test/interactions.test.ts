import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataFormatError, OptionError } from '../src/core/errors.js';
import { ClassTable } from '../src/core/classTable.js';
import { checkLabels, matrix, singleLabels } from '../src/core/matrix.js';
import { evaluate } from '../src/layer/evaluator.js';
import { Rng } from '../src/core/rng.js';
import {
  buildSequences,
  collectInteractions,
  compareIds,
  interactionStats,
  InteractionLogBuilder,
  leaveOneOut,
  parseInteractionLines,
  type InteractionFormat,
  type InteractionRecord,
} from '../src/data/interactions.js';

function parse(text: string, format?: InteractionFormat): InteractionRecord[] {
  return [...parseInteractionLines(text.split('\n'), 'in.csv', format)];
}

function rejects(text: string, line: number, pattern: RegExp, format?: InteractionFormat): void {
  assert.throws(() => parse(text, format), (e: unknown) => {
    assert.ok(e instanceof DataFormatError, `expected DataFormatError, got ${String(e)}`);
    assert.equal(e.file, 'in.csv');
    assert.equal(e.line, line);
    assert.match(e.message, pattern);
    return true;
  });
}

test('MovieLens ratings.csv lines: header, CRLF, BOM and blank lines; records carry their line numbers', () => {
  const text = '\ufeffuserId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n\r\n1,1029,3.0,1260759179\n2,10,4.0,835355493\n';
  const rows = parse(text);
  assert.deepEqual(rows, [
    { user: '1', item: '31', time: 1260759144, line: 2 },
    { user: '1', item: '1029', time: 1260759179, line: 4 },
    { user: '2', item: '10', time: 835355493, line: 5 },
  ]);
  // columns found by name whatever their order
  const moved = parse('timestamp,rating,movieId,userId\n7,5.0,3,9');
  assert.deepEqual(moved, [{ user: '9', item: '3', time: 7, line: 2 }]);
});

test('malformed lines raise DataFormatError with file and 1-based line', () => {
  const h = 'userId,movieId,rating,timestamp\n';
  rejects(h + '1,2,3.0,100\n1,2,3.0\n', 3, /expected 4 fields separated by ",", found 3/);
  rejects(h + '1,2,3.0,100\n\n1,2,3.0,100,9\n', 4, /found 5/);
  rejects(h + '1,2,3.0,yesterday\n', 2, /time "yesterday" in column 'timestamp' is not a number/);
  rejects(h + '1,2,3.0,\n', 2, /time "" .* not a number/);
  rejects(h + ',2,3.0,100\n', 2, /empty user id/);
  rejects('userId,itemId,rating,timestamp\n1,2,3,4\n', 1, /missing header column 'movieId' \(the header has: userId, itemId, rating, timestamp\)/);
  rejects('userId,movieId,timestamp\n1,2,4\n', 1, /missing header column 'rating'/);
  rejects('userId;movieId;rating;timestamp\n', 1, /missing header column 'userId'.*delimiter ","/);
  rejects(h + '1,"2,3.0,100\n', 2, /unterminated quoted field/);
  assert.throws(() => parse(''), (e: unknown) => e instanceof DataFormatError && /empty/.test(e.message));
});

test('generic interactions: TSV by index without header, quoted CSV by name, option errors', () => {
  const tsv = 'a\tx\t3\tjunk\nb\ty\t1.5\tjunk\n';
  const fmt: InteractionFormat = { delimiter: '\t', header: false, user: 0, item: 1, time: 2 };
  assert.deepEqual(parse(tsv, fmt), [
    { user: 'a', item: 'x', time: 3, line: 1 },
    { user: 'b', item: 'y', time: 1.5, line: 2 },
  ]);
  rejects('a\tx\t3\nb\ty\n', 2, /expected 3 fields separated by "\\t", found 2/, fmt);
  rejects('a\tx\n', 1, /column 2 does not exist: the first line has 2 field\(s\)/, fmt);
  const csv = 'session,user,item,ts\n1,"Doe, J.","The ""Movie""",12\n';
  assert.deepEqual(parse(csv, { user: 'user', item: 'item', time: 'ts' }), [{ user: 'Doe, J.', item: 'The "Movie"', time: 12, line: 2 }]);
  assert.throws(() => parse(tsv, { header: false, user: 'userId', item: 1, time: 2 }), OptionError);
  assert.throws(() => parse(tsv, { delimiter: '::' }), OptionError);
  assert.throws(() => parse(tsv, { user: -1 }), OptionError);
  assert.throws(() => parse(tsv, { colums: 1 } as unknown as InteractionFormat), /unknown option 'colums'/);
});

test('raw ids sort integers numerically before other strings, independent of file order', () => {
  assert.ok(compareIds('9', '10') < 0);
  assert.ok(compareIds('-3', '2') < 0);
  assert.ok(compareIds('10', 'a') < 0);
  assert.ok(compareIds('B', 'a') < 0);
  assert.equal(compareIds('x', 'x'), 0);
  assert.ok(compareIds('90071992547409930', '90071992547409931') < 0); // beyond 2^53
  const log = collectInteractions([
    { user: 'u', item: '10', time: 1, line: 1 },
    { user: '7', item: 'b', time: 2, line: 2 },
    { user: 'u', item: '9', time: 3, line: 3 },
  ], 'x');
  assert.deepEqual(log.userIds, ['7', 'u']);
  assert.deepEqual(log.itemIds, ['9', '10', 'b']);
  assert.deepEqual(Array.from(log.user), [1, 0, 1]);
  assert.deepEqual(Array.from(log.item), [1, 2, 0]);
  assert.deepEqual(Array.from(log.time), [1, 2, 3]);
  // ids are strings: '031' and '31' are different items; long integers are kept exactly
  const b = new InteractionLogBuilder('ids');
  for (const id of ['31', '031', '31', '1234567890123456789', '0', '1234567890123456789']) b.add('u', id, 0);
  const ids = b.build();
  assert.deepEqual(ids.itemIds, ['0', '031', '31', '1234567890123456789']);
  assert.deepEqual(Array.from(ids.item), [2, 1, 2, 3, 0, 3]);
});

// user, item, time: user 1 has a tie at t=100 (items 20 and 50), user 2 repeats item 20 and has a
// tie at t=5, user 3 has only two interactions (dropped with the default minimum of 3)
const EXAMPLE: Array<[number, number, number]> = [
  [1, 50, 100], [3, 99, 1], [1, 20, 100], [2, 20, 5], [1, 30, 90], [2, 10, 5], [3, 10, 2], [2, 20, 7], [1, 40, 200],
];

function exampleLog(rows = EXAMPLE) {
  const b = new InteractionLogBuilder('example');
  for (const [u, i, t] of rows) b.add(u, i, t);
  return b.build();
}

test('leave-one-out on a hand-written example: order, ties, dense ids, exclusions, counts', () => {
  const seq = buildSequences(exampleLog());
  assert.equal(seq.numUsers, 2);
  assert.deepEqual(seq.userIds, ['1', '2']);
  assert.equal(seq.droppedUsers, 1);
  assert.equal(seq.droppedInteractions, 2);
  // item 99 was seen only by the dropped user: dense ids cover 10, 20, 30, 40, 50
  assert.deepEqual(seq.itemIds, ['10', '20', '30', '40', '50']);
  assert.deepEqual(Array.from(seq.offsets), [0, 4, 7]);
  // user 1: 30@90, then the tie at 100 broken by item id (20 before 50), then 40@200
  // user 2: the tie at 5 gives 10 before 20, then 20 again at 7
  assert.deepEqual(Array.from(seq.items), [2, 1, 4, 3, 0, 1, 1]);
  assert.deepEqual(Array.from(seq.times), [90, 100, 100, 200, 5, 5, 7]);
  assert.deepEqual(Array.from(seq.itemCounts), [1, 3, 1, 1, 1]);

  const s = leaveOneOut(seq);
  assert.deepEqual(Array.from(s.trainEnd), [2, 5]); // train: user 1 [30, 20], user 2 [10]
  assert.deepEqual(Array.from(s.trainItemCounts), [1, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(s.valid.targets), [4, 1]); // 50, 20
  assert.deepEqual(Array.from(s.valid.inputEnd), [2, 5]);
  assert.deepEqual(Array.from(s.valid.exclude.offsets), [0, 2, 3]);
  assert.deepEqual(Array.from(s.valid.exclude.ids), [1, 2, 0]);
  assert.deepEqual(Array.from(s.test.targets), [3, 1]); // 40, 20
  assert.deepEqual(Array.from(s.test.inputEnd), [3, 6]);
  // user 2's test target 20 was seen before: it stays rankable, only 10 is excluded
  assert.deepEqual(Array.from(s.test.exclude.offsets), [0, 3, 4]);
  assert.deepEqual(Array.from(s.test.exclude.ids), [1, 2, 4, 0]);

  // a larger minimum drops user 2 as well; item 10 disappears
  const seq4 = buildSequences(exampleLog(), { minInteractions: 4 });
  assert.deepEqual(seq4.userIds, ['1']);
  assert.deepEqual(seq4.itemIds, ['20', '30', '40', '50']);
  assert.deepEqual(Array.from(seq4.items), [1, 0, 3, 2]);
  assert.throws(() => buildSequences(exampleLog(), { minInteractions: 2 }), OptionError);

  const st = interactionStats(exampleLog());
  assert.equal(st.interactions, 9);
  assert.equal(st.users, 3);
  assert.equal(st.items, 6);
  assert.deepEqual(st.perUser, { min: 2, median: 3, mean: 3, max: 4 });
  assert.equal(st.splitUsers, 2);
  assert.equal(st.trainInteractions, 3);
  assert.equal(st.coldItems, 2);
  // kept sequences: user 1 times 90,100,100,200 (one tie in 3 pairs), user 2 times 5,5,7 (one in 2)
  assert.equal(st.tiedFraction, 2 / 5);
});

test('sequences and split do not depend on file order and satisfy their invariants (random logs)', () => {
  const rng = Rng.fromSeed(7, 0);
  for (let trial = 0; trial < 20; trial++) {
    const rows: Array<[number, number, number]> = [];
    const n = 50 + rng.int(200);
    for (let k = 0; k < n; k++) rows.push([rng.int(15), 100 + rng.int(40), rng.int(20)]);
    const shuffled = rows.slice();
    rng.shuffle(shuffled);
    const a = buildSequences(exampleLog(rows), { minInteractions: 3 });
    const b = buildSequences(exampleLog(shuffled), { minInteractions: 3 });
    assert.deepEqual(b, a);
    const split = leaveOneOut(a);
    checkLabels(split.valid.exclude, a.numItems, a.numUsers);
    checkLabels(split.test.exclude, a.numItems, a.numUsers);
    for (let u = 0; u < a.numUsers; u++) {
      const s = a.offsets[u]!;
      const e = a.offsets[u + 1]!;
      assert.ok(e - s >= 3);
      for (let k = s + 1; k < e; k++) {
        const ord = a.times[k - 1]! - a.times[k]! || a.items[k - 1]! - a.items[k]!;
        assert.ok(ord <= 0, 'sorted by (time, item)');
      }
      assert.equal(split.test.targets[u], a.items[e - 1]);
      assert.equal(split.valid.targets[u], a.items[e - 2]);
      const ex = Array.from(split.test.exclude.ids.subarray(split.test.exclude.offsets[u]!, split.test.exclude.offsets[u + 1]!));
      const expected = [...new Set(a.items.subarray(s, e - 1))].filter((i) => i !== a.items[e - 1]).sort((x, y) => x - y);
      assert.deepEqual(ex, expected);
    }
    let total = 0;
    for (const c of split.trainItemCounts) total += c;
    assert.equal(total, a.items.length - 2 * a.numUsers);
  }
});

test('the split exclusions plug into the full-ranking evaluator: earlier items leave the ranking, the target stays', () => {
  const split = leaveOneOut(buildSequences(exampleLog()));
  const n = split.sequences.numItems;
  const rng = Rng.fromSeed(3, 0);
  const table = ClassTable.init(n, 4, rng, { bias: false });
  const queries = matrix(split.sequences.numUsers, 4);
  rng.fillNormal(queries.data);
  for (const part of [split.valid, split.test]) {
    const r = evaluate(queries, table, { k: n, exclude: part.exclude, labels: singleLabels(part.targets) });
    for (let u = 0; u < split.sequences.numUsers; u++) {
      const ranked = Array.from(r.topIds.subarray(u * n, (u + 1) * n)).filter((i) => i >= 0);
      const excluded = Array.from(part.exclude.ids.subarray(part.exclude.offsets[u]!, part.exclude.offsets[u + 1]!));
      assert.equal(ranked.length, n - excluded.length);
      for (const e of excluded) assert.ok(!ranked.includes(e), `user ${u}: excluded item ${e} was ranked`);
      assert.ok(ranked.includes(part.targets[u]!), `user ${u}: the target must stay rankable`);
    }
  }
});
