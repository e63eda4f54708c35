/**
 * A training run of the extreme classifier on disk (Node only): run directory with
 * `metrics.jsonl`, `model.json` (configuration, names), resumable checkpoints
 * (`checkpoint.json` naming a `.safetensors` file, both written atomically) and `report.html`;
 * loading a trained model back for prediction.
 * @module
 */
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { ClassTable } from '../../core/classTable.js';
import { DataFormatError, IoError, OptionError } from '../../core/errors.js';
import { intOption, numOption } from '../../core/validate.js';
import { Rng } from '../../core/rng.js';
import { isRowSource, numRows } from '../../data/sparse.js';
import { precisionAtK, topKRecall } from '../../loss/metrics.js';
import { trainingReportHtml, type CurvePoint, type TrainingRun } from '../../report/training.js';
import {
  CheckpointError, fingerprint, peekCommit, RunFolder, type CommitStage, type MetricsRecord, type SettingValue,
} from '../../harness/runFolder.js';
import { runTask } from '../../harness/runTask.js';
import type { Task } from '../../harness/task.js';
import { withProgress } from '../../train/progress.js';
import { SparseEncoder } from './encoder.js';
import { Featurizer } from './features.js';
import type { XmcData, XmcInputKind } from './data.js';
import { batchLabels, XmcModel, XmcTrainer, type ResolvedXmcConfig, type XmcEpochCursor, type XmcMetrics, type XmcProgress, type XmcRuntime } from './trainer.js';
import { tokenize } from '../../data/sparse.js';

/** Contents of `model.json`. */
export interface XmcModelInfo {
  /** Format marker. */
  kind: 'samplex.xmc';
  /** The resolved training configuration. */
  config: ResolvedXmcConfig;
  /** The `--data` the model was trained on. */
  data: string;
  /** How prediction input lines are read. */
  input: XmcInputKind;
  /** Token features and labels of the training data. */
  numFeatures: number;
  numLabels: number;
  /** Feature names (text inputs only). */
  featureNames: string[] | null;
  /** Label names (null: the label ids, as for synthetic data). */
  labelNames: string[] | null;
  /** Human-readable label descriptions (e.g. WordNet lemmas), or null. */
  labelInfo: string[] | null;
}

/** The model description file. */
export const MODEL_FILE = 'model.json';
/** The report file. */
export { REPORT_FILE } from '../../harness/runTask.js';

/** The metric columns of a report. */
export const XMC_REPORT_METRICS = [
  { key: 'p1', label: 'P@1' },
  { key: 'p3', label: 'P@3' },
  { key: 'p5', label: 'P@5' },
  { key: 'ndcg3', label: 'nDCG@3' },
  { key: 'ndcg5', label: 'nDCG@5' },
  { key: 'loss', label: 'training loss' },
];

/**
 * A run's evaluation records as a report curve (wall time = cumulative training seconds; records
 * evaluated within an epoch sit at their fraction of it; the retrieval record is not a point).
 */
export function curveOf(name: string, records: readonly MetricsRecord[], metrics: readonly { key: string }[] = XMC_REPORT_METRICS): TrainingRun {
  const points: CurvePoint[] = records.filter((r) => r['point'] !== 'retrieval').map((r) => {
    const values: Record<string, number> = {};
    for (const m of metrics) if (typeof r[m.key] === 'number') values[m.key] = r[m.key] as number;
    return { epoch: Number(r['epochProgress'] ?? r['epoch']), wallSec: Number(r['trainSec']), values };
  });
  return { name, points };
}

/** Settings shown in a report. */
function settingsOf(c: ResolvedXmcConfig, data: string, threads: number, kernels: string): Record<string, string | number> {
  return {
    data, dim: c.dim, hidden: c.hidden ? 'yes' : 'no', negatives: c.negatives, batch: c.batchSize, optimizer: c.optimizer, lr: c.lr,
    lrSchedule: c.lrDecayEpochs > 0 ? `linear to 0 at the end of epoch ${c.lrDecayEpochs}` : 'constant',
    weighting: c.weighting, bigrams: c.bigrams, labelWeighting: c.labelWeighting, convention: c.convention,
    updates: c.denseUpdates ? 'every row' : 'sampled rows', rebuildEvery: c.rebuildEvery, seed: c.seed, threads, kernels,
  };
}

/** The HTML report of one or several runs (one line per run), with an optional summary table. */
export function xmcReportHtml(
  title: string, settings: Record<string, string | number>, runs: TrainingRun[], summary?: { head: string[]; rows: (string | number)[][] },
  metrics: { key: string; label: string }[] = XMC_REPORT_METRICS,
): string {
  return trainingReportHtml({ title, settings, runs, metrics, ...(summary ? { summary } : {}) });
}

/** Refuses epochs past the end of the learning-rate decay, where training would change nothing. */
function checkDecay(config: ResolvedXmcConfig, o: XmcRunOptions): void {
  const decay = config.lrDecayEpochs;
  if (decay > 0 && o.epochs > decay) {
    throw new OptionError(
      `the learning rate ${o.resume ? 'of this run ' : ''}decays to 0 at the end of epoch ${decay}; training to epoch ${o.epochs} would not change the model: ` +
        `set --lr-decay-epochs to ${o.epochs} or more${o.resume ? ' to extend the schedule from the next step on' : ''} (or 0 for a constant rate)`,
    );
  }
}

/** Options of {@link trainXmcRun}. */
export interface XmcRunOptions {
  /** The data (already loaded). */
  data: XmcData;
  /** Run folder. */
  out: string;
  /** Continue the run in `out` from its checkpoint (the configuration must be the run's). */
  resume?: boolean;
  /** Train until this many epochs are complete. */
  epochs: number;
  /**
   * The configuration. On resume it must equal the run's except `lrDecayEpochs`, which may be
   * raised to train past the epoch where the saved schedule reaches 0 (the new horizon applies
   * from the next step on).
   */
  config: ResolvedXmcConfig;
  /**
   * When resuming: a new horizon of the learning-rate decay, replacing the saved one from the
   * next step on (without it the run's own horizon is kept).
   */
  resumeLrDecayEpochs?: number;
  /** Kernel pool and table placement. */
  runtime?: XmcRuntime;
  /** Threads and kernel path, for the report. */
  threads?: number;
  kernels?: string;
  /** Called at the start of each epoch; returns the per-batch progress callback and a finisher. */
  progress?: (epoch: number, total: number) => { update: XmcProgress; stop: () => void };
  /** Receives one line per epoch. */
  log?: (line: string) => void;
  /** One-line notices of the run folder (default stderr). */
  notice?: (line: string) => void;
  /** Fault injection for tests (see `RunFolder.open`). */
  afterStage?: (stage: CommitStage, epoch: number) => void;
  /**
   * Stop training once this many seconds of training (evaluation not counted) are spent, within
   * an epoch if need be; the cut epoch is evaluated and recorded but not checkpointed (default 0: no budget).
   */
  timeBudgetSec?: number;
  /**
   * Evaluate exactly on this many test rows only, a fixed seeded sample (default 0: every test
   * row). With the `midx` sampler the run then also ranks every test row through the index
   * ({@link XmcTrainer.retrieveTopK}) at the end and records its recall against the exact ranking
   * on the sample.
   */
  evalSample?: number;
  /** Also evaluate (on the sample) every this many seconds of training, within epochs (default 0: at epoch ends only). */
  evalEverySec?: number;
  /**
   * An application built on the classifier with its own evaluation (e.g. the reverse dictionary):
   * its name in the checkpoint and its per-epoch test metrics, which replace P@k and nDCG@k.
   */
  variant?: XmcVariant;
}

/** An application on the extreme classifier's model and trainer, with its own test metrics. */
export interface XmcVariant {
  /** The application's name (recorded in the checkpoint; `predict` checks it). */
  app: string;
  /** Test metrics after an epoch, and the epoch's status line (without the training figures). */
  evaluate(trainer: XmcTrainer): Promise<{ values: Record<string, number>; line: string }>;
  /** The metric columns of the report. */
  reportMetrics: { key: string; label: string }[];
}

/** Result of {@link trainXmcRun}. */
export interface XmcRunResult {
  /** The run folder. */
  dir: string;
  /** The trainer (model after the last epoch). */
  trainer: XmcTrainer;
  /** All metric records of the run. */
  records: MetricsRecord[];
}

/** The content fingerprint of a dataset split (features, labels and names). */
export function xmcDataFingerprint(data: XmcData): string {
  const parts: (ArrayBufferView | string)[] = [data.input];
  const train = data.split.train;
  // streamed rows are fingerprinted by what determines them (a generator's canonical spec)
  if (isRowSource(train)) parts.push(`${train.numFeatures}/${train.numLabels}`, `streamed:${train.numRows}:${train.id}`);
  for (const ds of isRowSource(train) ? [data.split.test] : [train, data.split.test]) {
    parts.push(`${ds.numFeatures}/${ds.numLabels}`, ds.features.indices, ds.features.values, ds.features.offsets, ds.labels.ids, ds.labels.offsets);
    parts.push((ds.featureNames ?? []).join('\n'), (ds.labelNames ?? []).join('\n'));
  }
  return fingerprint(parts);
}

/** The configuration as recorded settings (sampler options flattened as `opt.<key>`). */
function xmcSettings(c: ResolvedXmcConfig, epochs: number, threads: number, kernels: string): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = { epochs, threads, kernels };
  for (const [k, v] of Object.entries(c)) {
    // the sampler's negatives (the default) are not recorded, so runs from before the setting resume
    if (c.negativeSource === 'sampler' && (k === 'negativeSource' || k === 'frequencyBuckets' || k === 'frequencyAlpha')) continue;
    if (k === 'samplerOptions') {
      for (const [ok, ov] of Object.entries(v as Record<string, unknown>)) out[`opt.${ok}`] = ov as SettingValue;
    } else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
      out[k] = v;
    }
  }
  return out;
}

/** The model description of a fresh run. */
function modelInfo(data: XmcData, config: ResolvedXmcConfig): XmcModelInfo {
  const train = data.split.train;
  const held = isRowSource(train) ? null : train;
  return {
    kind: 'samplex.xmc',
    config,
    data: data.source,
    input: data.input,
    numFeatures: train.numFeatures,
    numLabels: train.numLabels,
    featureNames: data.input === 'pairs' ? null : [...(held?.featureNames ?? [])],
    // synthetic data may have 10^7 labels: their names are their ids, not written out
    labelNames: held?.labelNames ? [...held.labelNames] : data.synthetic ? null : Array.from({ length: train.numLabels }, (_, i) => String(i)),
    labelInfo: held?.labelInfo ? [...held.labelInfo] : null,
  };
}

/**
 * The extreme classifier as a {@link Task}: the trainer's state tensors (with the featurizer's
 * idf) are the checkpoint; each epoch logs `{epoch, sampler, loss, p1, …, trainSec, epochSec,
 * instPerSec, outputShare, evalSec}`.
 */
export function xmcTask(o: XmcRunOptions): Task<XmcTrainer> {
  const config = o.config;
  const settings = xmcSettings(config, o.epochs, o.threads ?? 1, o.kernels ?? 'ts');
  const budget = numOption(o.timeBudgetSec ?? 0, 'timeBudgetSec', 0);
  const every = numOption(o.evalEverySec ?? 0, 'evalEverySec', 0);
  const test = o.data.split.test;
  const sampleSize = intOption(o.evalSample ?? 0, 'evalSample', 0);
  const evalRows = sampleSize > 0 && sampleSize < numRows(test) ? evalSampleRows(numRows(test), sampleSize, config.seed) : undefined;
  // recorded only when set, so that runs from before these settings resume
  if (budget > 0) settings['timeBudgetSec'] = budget;
  if (sampleSize > 0) settings['evalSample'] = sampleSize;
  if (every > 0) settings['evalEverySec'] = every;
  const nEval = evalRows ? evalRows.length : numRows(test);
  let bayes: number | null = null;
  /** The last exact evaluation of the sample (reused by the retrieval when the model has not changed since). */
  let lastExact: { metrics: XmcMetrics; topIds: Int32Array; k: number; trainSec: number } | null = null;
  const bayesP1 = (log: (line: string) => void): number | null => {
    if (bayes === null && o.data.synthetic) {
      bayes = o.data.synthetic.bayesP1(test, evalRows ?? Int32Array.from({ length: numRows(test) }, (_, i) => i));
      log(`synthetic data: Bayes-optimal P@1 on the ${nEval} evaluated test rows ${bayes.toFixed(4)} (the ceiling)`);
    }
    return bayes;
  };
  /** An evaluation record and the metrics part of its status line (`full`: P@3 and P@5 too). */
  const evalRecord = async (trainer: XmcTrainer, epoch: number, cur: XmcEpochCursor, point: string): Promise<{ rec: MetricsRecord; line: (full: boolean) => string }> => {
    const e0 = performance.now();
    const training = (): MetricsRecord => {
      const secs = Math.max(cur.seconds, 1e-9);
      return {
        epoch, epochProgress: epoch - 1 + cur.done / cur.total, point, sampler: config.sampler, loss: cur.meanLoss,
        trainSec, epochSec: cur.seconds, instPerSec: cur.done / secs, outputShare: cur.outputSeconds / secs, evalSec: (performance.now() - e0) / 1000,
      };
    };
    if (o.variant) {
      // the application's own metrics (over its own test rows)
      const ev = await o.variant.evaluate(trainer);
      return { rec: { ...training(), ...ev.values }, line: () => ev.line };
    }
    const exact = await trainer.evaluateWithTop(evalRows);
    lastExact = { ...exact, trainSec };
    const m = exact.metrics;
    const rec: MetricsRecord = {
      ...training(), p1: m.p1, p3: m.p3, p5: m.p5, ndcg1: m.ndcg1, ndcg3: m.ndcg3, ndcg5: m.ndcg5, nll: m.nll, evalRows: nEval,
    };
    const b = bayesP1((line) => o.log?.(line));
    if (b !== null) rec['bayesP1'] = b;
    return { rec, line: (full) => `P@1 ${m.p1.toFixed(4)}${full ? ` P@3 ${m.p3.toFixed(4)} P@5 ${m.p5.toFixed(4)}` : ''} on ${nEval} test rows` };
  };
  const app = o.variant?.app ?? 'xmc';
  const metrics = o.variant?.reportMetrics ?? XMC_REPORT_METRICS;
  const report = (records: readonly MetricsRecord[]): string =>
    xmcReportHtml(`samplex train ${app}: ${config.sampler}`, settingsOf(config, o.data.source, o.threads ?? 1, o.kernels ?? 'ts'), [curveOf(config.sampler, records, metrics)], undefined, metrics);
  let trainSec = 0;
  return {
    app,
    settings,
    data: xmcDataFingerprint(o.data),
    epochs: o.epochs,
    create: () => new XmcTrainer(o.data.split, config, o.runtime ?? {}),
    stateTensors: (t) => shapeTensors(t),
    lazyState: (name) => name.startsWith('opt.'),
    loadState: (t, tensors, meta, epoch) => {
      const ep = tensors['epoch'];
      if (!(ep instanceof Int32Array) || ep[0] !== epoch) {
        throw new CheckpointError(`the checkpoint's epoch tensor is ${ep ? ep[0] : 'missing'} but its record says ${epoch}; restore the run folder or start a new run`);
      }
      const idf = tensors['featurizer.idf']!;
      const own = t.model.featurizer.idf;
      for (let i = 0; i < own.length; i++) {
        if (idf[i] !== own[i]) throw new CheckpointError("the checkpoint's feature weights (idf) differ from those of the data; resume with the run's data");
      }
      t.loadState(tensors);
      const s = meta['trainSec'];
      if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) throw new CheckpointError(`the checkpoint's trainSec ${JSON.stringify(s ?? null)} is not a number of seconds ≥ 0; restore the run folder or start a new run`);
      trainSec = s;
    },
    meta: () => ({ trainSec }),
    epochsDone: (t) => t.epoch,
    onStart: (_t, ctx) => ctx.folder?.writeJson(MODEL_FILE, modelInfo(o.data, config)),
    // the description follows from the data and the configuration (a new decay horizon included)
    onResume: (_t, ctx) => ctx.folder?.writeJson(MODEL_FILE, modelInfo(o.data, config)),
    shouldStop: () => budget > 0 && trainSec >= budget,
    epoch: async (trainer, epoch) => {
      if (budget === 0 && every === 0 && (o.variant || (evalRows === undefined && !o.data.synthetic))) return plainEpoch(trainer, epoch);
      const bar = o.progress?.(epoch, trainer.instancesPerEpoch);
      const cur = trainer.beginEpoch();
      const start = trainSec;
      const records: MetricsRecord[] = [];
      let nextEval = every > 0 ? (Math.floor(start / every) + 1) * every : Infinity;
      let cut = false;
      try {
        while (!cur.finished) {
          cur.step();
          bar?.update(cur.done, cur.total, cur.meanLoss);
          trainSec = start + cur.seconds;
          if (budget > 0 && trainSec >= budget && !cur.finished) {
            cut = true;
            break;
          }
          if (trainSec >= nextEval && !cur.finished) {
            const { rec, line } = await evalRecord(trainer, epoch, cur, 'interval');
            records.push(rec);
            o.log?.(`epoch ${epoch} (${((100 * cur.done) / cur.total).toFixed(1)} %): ${line(false)}, train ${trainSec.toFixed(1)} s`);
            nextEval = (Math.floor(trainSec / every) + 1) * every;
          }
        }
      } finally {
        bar?.stop();
      }
      if (cut) {
        const { rec, line } = await evalRecord(trainer, epoch, cur, 'budget');
        records.push(rec);
        o.log?.(
          `time budget of ${budget} s spent in epoch ${epoch} after ${cur.done} of ${cur.total} rows: ${line(true)}, train ${trainSec.toFixed(1)} s (the cut epoch is not checkpointed)`,
        );
        return { records, complete: false };
      }
      const st = cur.finish();
      const { rec, line } = await evalRecord(trainer, epoch, cur, 'epoch');
      records.push(rec);
      o.log?.(
        `epoch ${epoch}: loss ${st.loss.toFixed(4)}, ${line(true)}, ` +
          `${Math.round(st.instances / st.seconds)} inst/s, train ${trainSec.toFixed(1)} s`,
      );
      return { records, complete: true };
    },
    finish: async (trainer) => (evalRows !== undefined && config.sampler === 'midx' ? [await retrievalRecord(trainer)] : []),
    report,
  };

  /** The epoch as before the scale options: train it whole, evaluate every test row. */
  async function plainEpoch(trainer: XmcTrainer, epoch: number): Promise<{ records: MetricsRecord[]; complete: boolean }> {
    const bar = o.progress?.(epoch, trainer.instancesPerEpoch);
    const st = withProgress(bar, () => trainer.trainEpoch(bar?.update));
    trainSec += st.seconds;
    const e0 = performance.now();
    if (o.variant) {
      const ev = await o.variant.evaluate(trainer);
      const evalSec = (performance.now() - e0) / 1000;
      const rec: MetricsRecord = {
        epoch, sampler: config.sampler, loss: st.loss, ...ev.values,
        trainSec, epochSec: st.seconds, instPerSec: st.instances / st.seconds, outputShare: st.outputSeconds / st.seconds, evalSec,
      };
      o.log?.(`epoch ${epoch}: loss ${st.loss.toFixed(4)}, ${ev.line}, ${Math.round(st.instances / st.seconds)} inst/s, train ${trainSec.toFixed(1)} s`);
      return { records: [rec], complete: true };
    }
    const m = await trainer.evaluate();
    const evalSec = (performance.now() - e0) / 1000;
    const rec: MetricsRecord = {
      epoch, sampler: config.sampler, loss: st.loss, p1: m.p1, p3: m.p3, p5: m.p5, ndcg1: m.ndcg1, ndcg3: m.ndcg3, ndcg5: m.ndcg5, nll: m.nll,
      trainSec, epochSec: st.seconds, instPerSec: st.instances / st.seconds, outputShare: st.outputSeconds / st.seconds, evalSec,
    };
    o.log?.(
      `epoch ${epoch}: loss ${st.loss.toFixed(4)}, P@1 ${m.p1.toFixed(4)} P@3 ${m.p3.toFixed(4)} P@5 ${m.p5.toFixed(4)}, ` +
        `nDCG@3 ${m.ndcg3.toFixed(4)} nDCG@5 ${m.ndcg5.toFixed(4)}, ${Math.round(st.instances / st.seconds)} inst/s, train ${trainSec.toFixed(1)} s`,
    );
    return { records: [rec], complete: true };
  }

  /**
   * The fast path at scale: every test row ranked through a `midx` index, against the exact
   * ranking of the sample (recall@1, recall@5 and P@1 of both).
   */
  async function retrievalRecord(trainer: XmcTrainer): Promise<MetricsRecord> {
    const exact = lastExact !== null && lastExact.trainSec === trainSec ? lastExact : await trainer.evaluateWithTop(evalRows);
    const k = exact.k;
    const r = trainer.retrieveTopK(k);
    const sampleIds = new Int32Array(evalRows!.length * k);
    for (let i = 0; i < evalRows!.length; i++) sampleIds.set(r.ids.subarray(evalRows![i]! * k, (evalRows![i]! + 1) * k), i * k);
    const sampleLabels = batchLabels(test, evalRows!);
    const rec: MetricsRecord = {
      epoch: trainer.epoch, point: 'retrieval', sampler: config.sampler, trainSec,
      exactP1: exact.metrics.p1, topkP1Sample: precisionAtK(sampleIds, k, sampleLabels, 1).mean, topkP1All: precisionAtK(r.ids, k, test.labels, 1).mean,
      recall1: topKRecall(sampleIds, k, exact.topIds, k, 1), [`recall${k}`]: topKRecall(sampleIds, k, exact.topIds, k, k),
      candidates: r.candidates.reduce((a, b) => a + b, 0) / Math.max(1, r.candidates.length),
      evalRows: nEval, testRows: numRows(test), indexBuildSec: r.buildSec, retrieveSec: r.retrieveSec,
      ...(bayes === null ? {} : { bayesP1: bayes }),
    };
    o.log?.(
      `topK retrieval through a midx index, all ${numRows(test)} test rows: ${r.retrieveSec.toFixed(1)} s (index built in ${r.buildSec.toFixed(1)} s, ${Number(rec['candidates']).toFixed(0)} candidates per row), P@1 ${Number(rec['topkP1All']).toFixed(4)}; ` +
        `on the ${nEval}-row sample: recall@1 ${Number(rec['recall1']).toFixed(4)}, recall@${k} ${Number(rec[`recall${k}`]).toFixed(4)} against the exact top-${k}, P@1 ${Number(rec['topkP1Sample']).toFixed(4)} (topK) vs ${exact.metrics.p1.toFixed(4)} (exact)` +
        (bayes === null ? '' : `, Bayes-optimal ${(bayes as number).toFixed(4)}`),
    );
    return rec;
  }
}

/** A fixed seeded sample of `size` of the `n` test rows, ascending. */
export function evalSampleRows(n: number, size: number, seed: number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  Rng.fromSeed(seed, 0x5a3e).shuffle(all);
  return all.slice(0, size).sort();
}

/**
 * Trains (or resumes) a run with {@link runTask}: after every epoch it evaluates on the test set,
 * commits the checkpoint with the epoch's metrics and rewrites `report.html`. A run killed at any
 * point resumes from its last committed epoch.
 * @throws RunLockedError, StateError (a run exists without `resume`, a resume with other data or
 *   settings), CheckpointError, OptionError, IoError
 */
export async function trainXmcRun(given: XmcRunOptions): Promise<XmcRunResult> {
  let o = given;
  const saved = o.resume ? peekCommit(o.out) : null;
  if (saved) {
    const decay = o.resumeLrDecayEpochs ?? saved.settings['lrDecayEpochs'];
    o = { ...o, config: { ...o.config, lrDecayEpochs: intOption(decay, 'lrDecayEpochs', 0) } };
  }
  checkDecay(o.config, o);
  checkModelFits(o.data, o.config);
  const train = o.data.split.train;
  if (isRowSource(train)) {
    o.log?.(
      `training data: ${train.numRows} rows ${train.origin}, read batch by batch in a seeded order (not held; one pass first counts the labels and features), ` +
        `${numRows(o.data.split.test)} test rows held; ${train.numLabels} labels, ${train.numFeatures} features`,
    );
  }
  const res = await runTask(xmcTask(o), {
    out: o.out, resume: o.resume ?? false,
    ...(o.notice ? { notice: o.notice } : {}), ...(o.afterStage ? { afterStage: o.afterStage } : {}),
  });
  return { dir: res.dir!, trainer: res.model, records: res.records };
}

/**
 * Refuses a model that cannot fit this machine's memory: the input embedding and the class table,
 * each with Adam's two moments, and the featurizer's per-input arrays. A dataset header declaring
 * billions of features would otherwise run the machine out of memory instead of saying why.
 * @throws OptionError naming the sizes and what to change
 */
function checkModelFits(data: XmcData, c: ResolvedXmcConfig): void {
  const train = data.split.train;
  const inputs = train.numFeatures + c.bigrams;
  const bytes = (inputs + train.numLabels) * c.dim * 4 * 3 + inputs * 12;
  const total = totalmem();
  if (bytes > total) {
    const gb = (x: number): string => (x / 2 ** 30).toFixed(1);
    throw new OptionError(
      `the model needs about ${gb(bytes)} GiB (${inputs} inputs and ${train.numLabels} labels × dim ${c.dim}, with Adam's moments) and this machine has ${gb(total)} GiB; ` +
        `check the feature and label counts of ${data.source} (an XMC header declares them), or lower --dim or --bigrams`,
    );
  }
}

/** The trainer's state with the featurizer's idf. */
function shapeTensors(t: XmcTrainer): Record<string, Float32Array | Int32Array> {
  return { ...t.stateTensors(), 'featurizer.idf': t.model.featurizer.idf };
}

/** A trained model and its description, loaded from a run directory. */
export interface LoadedXmcModel {
  model: XmcModel;
  info: XmcModelInfo;
  /** Epochs the model was trained. */
  epoch: number;
}

/**
 * Loads the model of the last checkpoint of run directory `dir` (a run of `app`, default `xmc`).
 * @throws IoError (no model there), DataFormatError / ShapeError (files that do not fit)
 */
export function loadXmcModel(dir: string, app = 'xmc'): LoadedXmcModel {
  if (!existsSync(dir)) throw new IoError(`--model ${dir}: no such run directory; give the --out of a 'samplex train ${app}' run`);
  const run = RunFolder.view(dir);
  const info = run.readJson<XmcModelInfo>(MODEL_FILE);
  if (info === null || info.kind !== 'samplex.xmc' || run.committed?.app !== app) {
    const what = app === 'xmc' ? 'extreme classifier' : `${app} model`;
    throw new IoError(`${dir} holds no trained ${what} (${MODEL_FILE} and a checkpoint); train one with 'samplex train ${app} --out ${dir}'`);
  }
  const c = info.config;
  const n = info.numLabels;
  const f = info.numFeatures;
  // the hash, finiteness and moments are checked here; the sizes by the model's constructors
  const t = run.loadCheckpoint({}, { extra: () => true });
  const path = run.path(run.committed.tensors);
  const need = (name: string): Float32Array => {
    const a = t[name];
    if (!(a instanceof Float32Array)) throw new DataFormatError(path, 0, `missing float32 tensor '${name}'`);
    return a;
  };
  const idf = need('featurizer.idf');
  const featurizer = Featurizer.fromState({ numFeatures: info.numFeatures, bigrams: c.bigrams, weighting: c.weighting, idf });
  const emb = need('encoder.embedding');
  if (emb.length % c.dim !== 0) throw new DataFormatError(path, 0, `tensor 'encoder.embedding' has ${emb.length} values, not a multiple of dim ${c.dim}`);
  const layer = c.hidden ? new ClassTable(c.dim, c.dim, need('encoder.layer.weights'), need('encoder.layer.bias')) : null;
  const encoder = new SparseEncoder(new ClassTable(emb.length / c.dim, c.dim, emb), layer);
  const table = new ClassTable(info.numLabels, c.dim, need('classes.weights'), need('classes.bias'));
  return { model: new XmcModel(featurizer, encoder, table), info, epoch: run.committed.epoch };
}

/**
 * Parses prediction input lines into weighted input rows of `model`: text lines (words outside
 * the training vocabulary are ignored) or, for models trained on XMC files, `index:value` pairs.
 * @throws DataFormatError (line number) for a malformed pair or an index outside the feature space
 */
export function parseXmcInputs(lines: readonly string[], loaded: LoadedXmcModel, source = '<stdin>'): { indices: Int32Array; values: Float32Array; offsets: Int32Array } {
  const { info, model } = loaded;
  const f = model.featurizer;
  const idx: number[] = [];
  const val: number[] = [];
  const offsets = [0];
  const vocab = info.featureNames ? new Map(info.featureNames.map((w, i) => [w, i])) : null;
  lines.forEach((line, i) => {
    let row: { indices: Int32Array; values: Float32Array };
    if (info.input === 'pairs') {
      const pairs = new Map<number, number>();
      for (const tok of line.trim().split(/\s+/).filter((s) => s !== '')) {
        const m = /^(\d+):([^:]+)$/.exec(tok);
        const v = m ? Number(m[2]) : NaN;
        if (!m || !Number.isFinite(v)) throw new DataFormatError(source, i + 1, `'${tok}' is not an index:value pair; write features as 'index:value' separated by spaces`);
        const j = Number(m[1]);
        if (j >= info.numFeatures) throw new DataFormatError(source, i + 1, `feature index ${j} is outside the model's ${info.numFeatures} features`);
        pairs.set(j, (pairs.get(j) ?? 0) + v);
      }
      const ids = Int32Array.from([...pairs.keys()]).sort();
      const raw = Float32Array.from(ids, (j) => pairs.get(j)!);
      row = f.weightPairs(ids, raw);
    } else {
      const words = info.input === 'alnum' ? tokenize(line) : line.trim().split(/\s+/).filter((s) => s !== '' && !s.startsWith('__label__'));
      row = f.transformTokens(words.map((w) => vocab!.get(w) ?? -1));
    }
    for (let k = 0; k < row.indices.length; k++) {
      idx.push(row.indices[k]!);
      val.push(row.values[k]!);
    }
    offsets.push(idx.length);
  });
  return { indices: Int32Array.from(idx), values: Float32Array.from(val), offsets: Int32Array.from(offsets) };
}
