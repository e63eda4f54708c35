/**
 * runSeqRec's model selection: the test evaluation uses the state of the best validation epoch
 * (or the last), patience stops early, and a resumed run keeps the best state, including after an
 * interruption between the checkpoint and the best state. A scripted trainer whose validation
 * nDCG@10 follows a fixed curve and whose test metric names the epoch of its state makes every
 * outcome exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptionError, StateError } from '../src/core/errors.js';
import { BEST_FILE, BEST_TENSORS, runSeqRec, type RunSeqRecOptions, type SeqRecRunResult } from '../src/apps/seqrec/run.js';
import type { SeqRecTrainer } from '../src/apps/seqrec/trainer.js';
import { liveTimers } from './util/cli.js';
import { PassThrough } from 'node:stream';

/** Validation nDCG@10 after epochs 1, 2, …: best at epoch 2, tied at epoch 6. */
const CURVE = [0.1, 0.3, 0.2, 0.25, 0.15, 0.3, 0.12];

/** A trainer whose state is its epoch and step counters plus one weight that grows each epoch. */
class ScriptedTrainer {
  private epochs = 0;
  private stepCount = 0;
  private w = 0;
  get epoch(): number {
    return this.epochs;
  }
  get steps(): number {
    return this.stepCount;
  }
  get trainSec(): number {
    return this.epochs;
  }
  get trainUsers(): number {
    return 10;
  }
  trainEpoch(): { epoch: number; loss: number; sec: number; outputMs: number } {
    this.epochs++;
    this.stepCount += 3;
    this.w += 0.5;
    return { epoch: this.epochs, loss: 1 / this.epochs, sec: 1, outputMs: 0 };
  }
  evaluate(which: 'valid' | 'test'): Record<string, number> {
    // The test metric encodes the weight, so it tells which epoch's state was evaluated.
    return which === 'valid' ? { 'ndcg@10': CURVE[this.epochs - 1]! } : { 'ndcg@10': 100 + this.w };
  }
  stateTensors(): Record<string, Float32Array | Int32Array> {
    return { 'trainer/counters': Int32Array.of(this.epochs, this.stepCount), w: Float32Array.of(this.w) };
  }
  loadState(s: Readonly<Record<string, ArrayLike<number>>>): void {
    this.epochs = s['trainer/counters']![0]!;
    this.stepCount = s['trainer/counters']![1]!;
    this.w = s['w']![0]!;
  }
}

type Extra = Partial<Omit<RunSeqRecOptions, 'trainer'>>;

async function run(extra: Extra & { epochs: number }, trainer = new ScriptedTrainer()): Promise<{ res: SeqRecRunResult; trainer: ScriptedTrainer }> {
  const res = await runSeqRec({ trainer: trainer as unknown as SeqRecTrainer, out: null, data: 'scripted', config: { seed: 1 }, name: 's', progress: null, ...extra });
  return { res, trainer };
}

/** The test value of the state after `epoch` epochs. */
const testOf = (epoch: number): number => 100 + 0.5 * epoch;

test('runSeqRec tests the best validation epoch by default (first of equals), the last with select: last', async () => {
  const best = (await run({ epochs: 7 })).res;
  assert.equal(best.selectedEpoch, 2);
  assert.equal(best.test['ndcg@10'], testOf(2));
  assert.equal(best.testRecord['epoch'], 2);
  assert.equal(best.testRecord['trainedEpochs'], 7);
  assert.equal(best.testRecord['stoppedEarly'], false);
  assert.equal(best.records.length, 7);
  const last = (await run({ epochs: 7, select: 'last' })).res;
  assert.equal(last.selectedEpoch, 7);
  assert.equal(last.test['ndcg@10'], testOf(7));
  // A best that is the last epoch needs no reload.
  assert.equal((await run({ epochs: 2 })).res.test['ndcg@10'], testOf(2));
});

test('runSeqRec patience stops after that many epochs without a better validation value', async () => {
  const r = (await run({ epochs: 7, patience: 2 })).res;
  assert.equal(r.records.length, 4, 'best at 2, no better at 3 and 4');
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.testRecord['trainedEpochs'], 4);
  assert.equal(r.test['ndcg@10'], testOf(2));
  const patient = (await run({ epochs: 7, patience: 5 })).res;
  assert.equal(patient.records.length, 7, 'epoch 6 ties, which is not an improvement, but 7 − 2 = 5 is reached only at the end');
  assert.equal(patient.stoppedEarly, false, 'every epoch was trained');
  const tight = (await run({ epochs: 7, patience: 4 })).res;
  assert.equal(tight.records.length, 6);
  assert.equal(tight.stoppedEarly, true);
  await assert.rejects(run({ epochs: 3, patience: -1 }), OptionError);
  await assert.rejects(run({ epochs: 3, patience: 1.5 }), OptionError);
});

test('runSeqRec in a run directory: best.safetensors, resume keeps the best state and the patience count', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samplex-seqrec-run-'));
  try {
    const open = (name: string, resume = false): { out: string; resume: boolean } => ({ out: join(root, name), resume });
    // Interrupted after 3 epochs, resumed to 7: the best state (epoch 2) comes from best.safetensors.
    (await run({ epochs: 3, ...open('a') }));
    assert.equal((JSON.parse(readFileSync(join(root, 'a', BEST_FILE), 'utf8')) as { epoch: number }).epoch, 2);
    const resumed = (await run({ epochs: 7, ...open('a', true) })).res;
    assert.equal(resumed.test['ndcg@10'], testOf(2));
    assert.equal(resumed.records.length, 7);
    // Patience counts the epochs before the interruption.
    (await run({ epochs: 3, ...open('p') }));
    const p = (await run({ epochs: 7, patience: 2, ...open('p', true) })).res;
    assert.equal(p.records.length, 4);
    assert.equal(p.test['ndcg@10'], testOf(2));
    // Already exhausted on resume: no more training.
    const again = (await run({ epochs: 7, patience: 2, ...open('p', true) })).res;
    assert.equal(again.records.length, 4);
    assert.equal(again.stoppedEarly, true);
    // Stopped between the checkpoint of the best epoch and its best state: the checkpoint is it.
    (await run({ epochs: 2, ...open('c') }));
    unlinkSync(join(root, 'c', BEST_FILE));
    unlinkSync(join(root, 'c', BEST_TENSORS));
    const c = (await run({ epochs: 7, ...open('c', true) })).res;
    assert.equal(c.test['ndcg@10'], testOf(2));
    // The best state lost at an earlier epoch than the checkpoint is a typed error.
    (await run({ epochs: 3, ...open('d') }));
    unlinkSync(join(root, 'd', BEST_FILE));
    await assert.rejects(run({ epochs: 7, ...open('d', true) }), StateError);
    // …which select: last does not need.
    assert.equal((await run({ epochs: 4, select: 'last', ...open('d', true) })).res.test['ndcg@10'], testOf(4));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('runSeqRec: an epoch that throws stops its progress bar (nothing left to keep the process alive)', async () => {
  class Failing extends ScriptedTrainer {
    override trainEpoch(): never {
      throw new StateError('failed mid-epoch');
    }
  }
  const before = liveTimers();
  await assert.rejects(run({ epochs: 2, progress: new PassThrough() }, new Failing()), StateError);
  assert.equal(liveTimers(), before);
});
