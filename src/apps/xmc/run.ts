/**
 * A training run of the extreme classifier on disk (Node only): run directory with
 * `metrics.jsonl`, `model.json` (configuration, names), resumable checkpoints
 * (`checkpoint.json` naming a `.safetensors` file, both written atomically) and `report.html`;
 * loading a trained model back for prediction.
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import { ClassTable } from '../../core/classTable.js';
import { DataFormatError, IoError, OptionError, StateError } from '../../core/errors.js';
import { intOption } from '../../core/validate.js';
import { readSafetensors, writeSafetensors } from '../../layer/safetensors.js';
import { trainingReportHtml, type CurvePoint, type TrainingRun } from '../../report/training.js';
import { CHECKPOINT_FILE, RunDir, type MetricsRecord } from '../../train/runDir.js';
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

/** Contents of `checkpoint.json`. */
export interface XmcCheckpointInfo {
  /** Epochs completed. */
  epoch: number;
  /** Cumulative training seconds (steps only). */
  trainSec: number;
  /** The `.safetensors` file holding the state, relative to the run directory. */
  tensors: string;
}

/** The model description file. */
export const MODEL_FILE = 'model.json';
/** The report file. */
export const REPORT_FILE = 'report.html';

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
  /** Run directory. */
  out: string;
  /** Continue the run in `out` from its checkpoint (its saved configuration wins). */
  resume?: boolean;
  /** Train until this many epochs are complete. */
  epochs: number;
  /** The configuration (ignored when resuming). */
  config: ResolvedXmcConfig;
  /**
   * When resuming: a new horizon of the learning-rate decay (`lrDecayEpochs`), replacing the
   * saved one from the next step on (to train past the epoch where the saved schedule reaches 0).
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
}

/** Result of {@link trainXmcRun}. */
export interface XmcRunResult {
  /** The run directory. */
  dir: RunDir;
  /** The trainer (model after the last epoch). */
  trainer: XmcTrainer;
  /** All metric records of the run. */
  records: MetricsRecord[];
}

/**
 * Trains (or resumes) a run: after every epoch it evaluates on the test set, writes the
 * checkpoint (tensors file, then `checkpoint.json` pointing at it, each atomically; the previous
 * tensors file is removed afterwards), appends the epoch's record to `metrics.jsonl` and rewrites
 * `report.html`. A run killed at any point resumes from its last complete epoch.
 * @throws StateError (a run exists without `resume`, or resuming without a checkpoint), IoError
 */
export async function trainXmcRun(o: XmcRunOptions): Promise<XmcRunResult> {
  const dir = RunDir.open(o.out, { resume: o.resume ?? false });
  let config = o.config;
  let ck: XmcCheckpointInfo | null = null;
  let savedInfo: XmcModelInfo | null = null;
  let newHorizon = false;
  if (o.resume) {
    const info = dir.readJson<XmcModelInfo>(MODEL_FILE);
    ck = dir.readJson<XmcCheckpointInfo>(CHECKPOINT_FILE);
    if (info === null || ck === null) throw new StateError(`${dir.dir} has no checkpoint to resume (${MODEL_FILE} and ${CHECKPOINT_FILE}); start a new run without --resume`);
    // a model.json written before the schedule existed has no lrDecayEpochs: constant
    const saved = info.config.lrDecayEpochs ?? 0;
    const decay = o.resumeLrDecayEpochs === undefined ? saved : intOption(o.resumeLrDecayEpochs, 'lrDecayEpochs', 0);
    config = { ...info.config, lrDecayEpochs: decay };
    newHorizon = decay !== saved;
    savedInfo = info;
  }
  checkDecay(config, o);
  if (savedInfo && newHorizon) dir.writeJson(MODEL_FILE, { ...savedInfo, config });
  const trainer = new XmcTrainer(o.data.split, config, o.runtime ?? {});
  let trainSec = 0;
  if (ck) {
    trainer.loadState(readSafetensorsTensors(dir.path(ck.tensors)));
    trainSec = ck.trainSec;
    dir.retainMetrics((r) => Number(r['epoch']) <= ck!.epoch);
  } else {
    const train = o.data.split.train;
    const info: XmcModelInfo = {
      kind: 'samplex.xmc',
      config,
      data: o.data.source,
      input: o.data.input,
      numFeatures: train.numFeatures,
      numLabels: train.numLabels,
      featureNames: o.data.input === 'pairs' ? null : [...(train.featureNames ?? [])],
      labelNames: train.labelNames ? [...train.labelNames] : Array.from({ length: train.numLabels }, (_, i) => String(i)),
      labelInfo: train.labelInfo ? [...train.labelInfo] : null,
    };
    dir.writeJson(MODEL_FILE, info);
  }
  const settings = settingsOf(config, o.data.source, o.threads ?? 1, o.kernels ?? 'ts');
  while (trainer.epoch < o.epochs) {
    const epoch = trainer.epoch + 1;
    const bar = o.progress?.(epoch, trainer.instancesPerEpoch);
    const st = withProgress(bar, () => trainer.trainEpoch(bar?.update));
    trainSec += st.seconds;
    const e0 = performance.now();
    const m = await trainer.evaluate();
    const evalSec = (performance.now() - e0) / 1000;
    const tensors = `checkpoint-${epoch}.safetensors`;
    writeSafetensors(dir.path(tensors), shapeTensors(trainer), { 'samplex.kind': 'xmcCheckpoint' });
    dir.writeJson(CHECKPOINT_FILE, { epoch, trainSec, tensors } satisfies XmcCheckpointInfo);
    if (ck && ck.tensors !== tensors) rmSync(dir.path(ck.tensors), { force: true });
    ck = { epoch, trainSec, tensors };
    const rec: MetricsRecord = {
      epoch, sampler: config.sampler, loss: st.loss, p1: m.p1, p3: m.p3, p5: m.p5, ndcg1: m.ndcg1, ndcg3: m.ndcg3, ndcg5: m.ndcg5, nll: m.nll,
      trainSec, epochSec: st.seconds, instPerSec: st.instances / st.seconds, outputShare: st.outputSeconds / st.seconds, evalSec,
    };
    dir.appendMetrics(rec);
    dir.writeText(REPORT_FILE, xmcReportHtml(`samplex train xmc: ${config.sampler}`, settings, [curveOf(config.sampler, dir.readMetrics())]));
    o.log?.(
      `epoch ${epoch}: loss ${st.loss.toFixed(4)}, P@1 ${m.p1.toFixed(4)} P@3 ${m.p3.toFixed(4)} P@5 ${m.p5.toFixed(4)}, ` +
        `nDCG@3 ${m.ndcg3.toFixed(4)} nDCG@5 ${m.ndcg5.toFixed(4)}, ${Math.round(st.instances / st.seconds)} inst/s, train ${trainSec.toFixed(1)} s`,
    );
  }
  if (!existsSync(dir.path(REPORT_FILE))) {
    dir.writeText(REPORT_FILE, xmcReportHtml(`samplex train xmc: ${config.sampler}`, settings, [curveOf(config.sampler, dir.readMetrics())]));
  }
  return { dir, trainer, records: dir.readMetrics() };
}

/** The trainer's state with the featurizer's idf, as safetensors inputs. */
function shapeTensors(t: XmcTrainer): Record<string, { data: Float32Array | Int32Array; shape: number[] }> {
  const out: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
  for (const [k, v] of Object.entries(t.stateTensors())) out[k] = { data: v, shape: [v.length] };
  out['featurizer.idf'] = { data: t.model.featurizer.idf, shape: [t.model.featurizer.idf.length] };
  return out;
}

/** The tensors of a checkpoint file as flat arrays. */
function readSafetensorsTensors(path: string): Record<string, Float32Array | Int32Array> {
  const c = readSafetensors(path);
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [k, t] of Object.entries(c.tensors)) {
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Int32Array)) throw new DataFormatError(path, 0, `tensor '${k}' has dtype ${t.dtype}; expected F32 or I32`);
    out[k] = t.data;
  }
  return out;
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
  const run = RunDir.open(dir, { resume: true });
  const info = run.readJson<XmcModelInfo>(MODEL_FILE);
  const ck = run.readJson<XmcCheckpointInfo>(CHECKPOINT_FILE);
  if (info === null || ck === null || info.kind !== 'samplex.xmc') {
    throw new IoError(`${dir} holds no trained extreme classifier (${MODEL_FILE} and ${CHECKPOINT_FILE}); train one with 'samplex train xmc --out ${dir}'`);
  }
  const path = run.path(ck.tensors);
  const t = readSafetensorsTensors(path);
  const need = (name: string): Float32Array => {
    const a = t[name];
    if (!(a instanceof Float32Array)) throw new DataFormatError(path, 0, `missing float32 tensor '${name}'`);
    return a;
  };
  const c = info.config;
  const idf = need('featurizer.idf');
  const featurizer = Featurizer.fromState({ numFeatures: info.numFeatures, bigrams: c.bigrams, weighting: c.weighting, idf });
  const emb = need('encoder.embedding');
  const layer = c.hidden ? new ClassTable(c.dim, c.dim, need('encoder.layer.weights'), need('encoder.layer.bias')) : null;
  const encoder = new SparseEncoder(new ClassTable(emb.length / c.dim, c.dim, emb), layer);
  const table = new ClassTable(info.numLabels, c.dim, need('classes.weights'), need('classes.bias'));
  return { model: new XmcModel(featurizer, encoder, table), info, epoch: ck.epoch };
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
