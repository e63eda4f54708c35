/**
 * Training time of `samplex train xmc` (`midx`) on the default WordNet split
 * until the test P@1 first reaches a target (default 0.396, fastText's best on this split):
 * trains like the CLI (kernels in WebAssembly memory, `THREADS` threads: `THREADS − 1` midx
 * helper threads) and, from `FROM` epochs on, pauses every `EVERY` steps to evaluate P@1 on the
 * whole test set (exact top-1 over all labels, on the training thread; the pause is not counted
 * as training time). Prints one record per evaluation and a summary record.
 *
 * Environment: THREADS (2), TARGET (0.396), FROM (0.5 epochs), EVERY (64 steps), EPOCHS (2),
 * LR (0.01), SEED (1), BATCH (64), DECAY (5: the learning rate falls linearly to 0 at the end of
 * epoch 5, as in a `train xmc` run of the default 5 epochs; 0: constant), CONVENTION (the classifier's default), OPTS (midx options
 * over the classifier's defaults, e.g. `stage=uniform,codewords=64`). Run with
 * `npm run bench -- --filter xmc-time`.
 */
import { loadXmcData } from '../src/apps/xmc/data.js';
import { XmcTrainer } from '../src/apps/xmc/trainer.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { precisionAtK } from '../src/loss/metrics.js';
import { CONVENTIONS } from '../src/loss/types.js';
import { parseKeyValues } from '../src/cli/samplerOptions.js';
import { choiceOption } from '../src/core/validate.js';
import '../src/samplers/index.js';
import { MidxThreads } from '../src/samplers/midxThreads.js';
import { emit } from './util.js';

const env = (k: string, d: number): number => (process.env[k] !== undefined ? Number(process.env[k]) : d);

export async function run(filter?: string): Promise<void> {
  if (filter !== undefined && !'xmc-time-to-target'.includes(filter)) return;
  const threads = env('THREADS', 2);
  const target = env('TARGET', 0.396);
  const from = env('FROM', 0.5);
  const every = env('EVERY', 64);
  const epochs = env('EPOCHS', 2);
  const lr = env('LR', 0.01);
  const seed = env('SEED', 1);
  const batchSize = env('BATCH', 64);
  const lrDecayEpochs = env('DECAY', 5);
  const convention = process.env['CONVENTION'];
  const samplerOptions = parseKeyValues((process.env['OPTS'] ?? '').split(',').filter((x) => x !== ''));
  const data = loadXmcData('wordnet');
  const fast = await initFastKernels({ threads: 0 });
  const helpers = threads > 1 ? await MidxThreads.create(threads - 1) : null;
  try {
    const trainer = new XmcTrainer(data.split, { sampler: 'midx', lr, seed, batchSize, lrDecayEpochs, samplerOptions, ...(convention ? { convention: choiceOption(convention, 'CONVENTION', CONVENTIONS) } : {}) }, {
      placeTable: (t) => tableInKernelMemory(fast, t),
      optimizerStorage: { f32: fast.allocF32, i32: fast.allocI32 },
      midxWorkers: helpers,
    });
    const test = data.split.test;
    const perEpoch = Math.ceil(trainer.instancesPerEpoch / trainer.config.batchSize);
    let reached: { epochs: number; trainSec: number; p1: number } | null = null;
    let paused = 0;
    const t0 = performance.now();
    for (let e = 0; e < epochs && reached === null; e++) {
      let step = 0;
      trainer.trainEpoch(() => {
        step++;
        const at = e + step / perEpoch;
        if (reached !== null || at < from || (step % every !== 0 && step !== perEpoch)) return;
        const a = performance.now();
        const trainSec = (a - t0 - paused) / 1000;
        const p1 = precisionAtK(trainer.model.predict(trainer.testX, 1).ids, 1, test.labels, 1).mean;
        paused += performance.now() - a;
        emit({ bench: 'xmc-time-to-target', epochs: +at.toFixed(4), trainSec: +trainSec.toFixed(2), p1: +p1.toFixed(4) });
        if (p1 >= target) reached = { epochs: at, trainSec, p1 };
      });
    }
    const c = trainer.config;
    const parameters = { threads, lr, seed, batchSize, lrDecayEpochs, convention: c.convention, samplerOptions: c.samplerOptions };
    const r = reached as { epochs: number; trainSec: number; p1: number } | null;
    emit({
      bench: 'xmc-time-to-target',
      parameters: { ...parameters, target, every },
      reached: r !== null,
      ...(r ? { epochs: +r.epochs.toFixed(4), trainSec: +r.trainSec.toFixed(2), p1: r.p1 } : {}),
    });
  } finally {
    await helpers?.close();
    await fast.close();
  }
}
