/**
 * The training report: one chart per metric against epoch and one against wall-clock time, a
 * line per run (e.g. per sampler), the run settings and a summary table. Self-contained HTML
 * (inline SVG, no scripts), built on the same chart code as the bias report.
 * @module
 */
import { esc, htmlPage, htmlTable, lineChartSvg, type Series } from './html.js';

/** One evaluation of a run. */
export interface CurvePoint {
  /** Epochs completed (may be fractional for mid-epoch evaluations). */
  epoch: number;
  /** Training wall-clock seconds so far (evaluation time excluded or included, as the caller documents). */
  wallSec: number;
  /** Metric values by key (e.g. `p@1`, `perplexity`). */
  values: Record<string, number>;
}

/** The curve of one run. */
export interface TrainingRun {
  /** Name shown in the legends (e.g. the sampler). */
  name: string;
  /** Evaluations in order. */
  points: readonly CurvePoint[];
}

/** A metric to chart. */
export interface ReportMetric {
  /** Key in {@link CurvePoint.values}. */
  key: string;
  /** Axis label. */
  label: string;
  /** Use a log y axis (e.g. for perplexity; default false). */
  log?: boolean;
}

/** Options of {@link trainingReportHtml}. */
export interface TrainingReportOptions {
  /** Page title. */
  title: string;
  /** Settings listed under the title (data, dimensions, seed, …). */
  settings: Record<string, string | number>;
  /** The runs. */
  runs: readonly TrainingRun[];
  /** The metrics to chart, in order. */
  metrics: readonly ReportMetric[];
  /** An optional summary table. */
  summary?: { head: readonly string[]; rows: ReadonlyArray<readonly (string | number)[]> };
}

/** Renders the training report page. Points whose value is not finite are left out of the charts. */
export function trainingReportHtml(opts: TrainingReportOptions): string {
  const settings = htmlTable(
    ['setting', 'value'],
    Object.entries(opts.settings).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]),
  );
  const series = (key: string, x: (p: CurvePoint) => number): Series[] =>
    opts.runs.map((r) => ({ name: r.name, points: r.points.map((p) => [x(p), p.values[key] ?? NaN] as const) }));
  const charts = opts.metrics
    .map(
      (m) =>
        `<h2>${esc(m.label)}</h2><div class="charts">` +
        lineChartSvg({ title: `${m.label} by epoch`, xLabel: 'epoch', yLabel: m.label, yLog: m.log, series: series(m.key, (p) => p.epoch) }) +
        lineChartSvg({
          title: `${m.label} by training time`,
          xLabel: 'wall-clock seconds',
          yLabel: m.label,
          yLog: m.log,
          series: series(m.key, (p) => p.wallSec),
        }) +
        '</div>',
    )
    .join('\n');
  const summary = opts.summary ? `<h2>Summary</h2>${htmlTable(opts.summary.head, opts.summary.rows)}` : '';
  const body = `<h1>${esc(opts.title)}</h1>
<h2>Settings</h2>${settings}
${summary}
${charts}`;
  return htmlPage(opts.title, body);
}
