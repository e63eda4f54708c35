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
import { intOption } from '../../core/validate.js';
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
import { XmcModel, XmcTrainer, type ResolvedXmcConfig, type XmcProgress, type XmcRuntime } from './trainer.js';
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
  /** Label names (ids when the data has none). */
  labelNames: string[];
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

/** A run's records as a report curve (wall time = cumulative training seconds). */
export function curveOf(name: string, records: readonly MetricsRecord[]): TrainingRun {
  const points: CurvePoint[] = records.map((r) => {
    const values: Record<string, number> = {};
    for (const m of XMC_REPORT_METRICS) if (typeof r[m.key] === 'number') values[m.key] = r[m.key] as number;
    return { epoch: Number(r['epoch']), wallSec: Number(r['trainSec']), values };
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
): string {
  return trainingReportHtml({ title, settings, runs, metrics: XMC_REPORT_METRICS, ...(summary ? { summary } : {}) });
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
  for (const ds of [data.split.train, data.split.test]) {
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
  return {
    kind: 'samplex.xmc',
    config,
    data: data.source,
    input: data.input,
    numFeatures: train.numFeatures,
    numLabels: train.numLabels,
    featureNames: data.input === 'pairs' ? null : [...(train.featureNames ?? [])],
    labelNames: train.labelNames ? [...train.labelNames] : Array.from({ length: train.numLabels }, (_, i) => String(i)),
    labelInfo: train.labelInfo ? [...train.labelInfo] : null,
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
  const report = (records: readonly MetricsRecord[]): string =>
    xmcReportHtml(`samplex train xmc: ${config.sampler}`, settingsOf(config, o.data.source, o.threads ?? 1, o.kernels ?? 'ts'), [curveOf(config.sampler, records)]);
  let trainSec = 0;
  return {
    app: 'xmc',
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
    epoch: async (trainer, epoch) => {
      const bar = o.progress?.(epoch, trainer.instancesPerEpoch);
      const st = withProgress(bar, () => trainer.trainEpoch(bar?.update));
      trainSec += st.seconds;
      const e0 = performance.now();
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
    },
    report,
  };
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
 * Loads the model of the last checkpoint of run directory `dir`.
 * @throws IoError (no model there), DataFormatError / ShapeError (files that do not fit)
 */
export function loadXmcModel(dir: string): LoadedXmcModel {
  if (!existsSync(dir)) throw new IoError(`--model ${dir}: no such run directory; give the --out of a 'samplex train xmc' run`);
  const run = RunFolder.view(dir);
  const info = run.readJson<XmcModelInfo>(MODEL_FILE);
  if (info === null || info.kind !== 'samplex.xmc' || run.committed?.app !== 'xmc') {
    throw new IoError(`${dir} holds no trained extreme classifier (${MODEL_FILE} and a checkpoint); train one with 'samplex train xmc --out ${dir}'`);
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
