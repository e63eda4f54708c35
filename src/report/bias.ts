/**
 * The HTML report of a bias study.
 * @module
 */
import type { BiasRow } from '../diagnostics/bias.js';
import { esc, htmlPage, htmlTable, lineChartSvg, type Series } from './html.js';

function seriesBy(rows: readonly BiasRow[], y: (r: BiasRow) => number, err?: (r: BiasRow) => number): Series[] {
  const names = [...new Set(rows.map((r) => r.sampler))];
  return names.map((name) => {
    const rs = rows.filter((r) => r.sampler === name).sort((a, b) => a.negatives - b.negatives);
    const s: Series = { name, points: rs.map((r) => [r.negatives, y(r)] as const) };
    return err ? { ...s, errors: rs.map(err) } : s;
  });
}

/** Renders a self-contained HTML page: gradient bias and KL against m (log axes), settings, table. */
export function biasReportHtml(rows: readonly BiasRow[], command?: string): string {
  const r0 = rows[0];
  const settings = r0
    ? htmlTable(
        ['setting', 'value'],
        [
          ['classes', r0.classes],
          ['dim', r0.dim],
          ['queries', r0.queries],
          ['trials', r0.trials],
          ['convention', r0.convention],
          ['draws', r0.unique ? 'unique (without replacement)' : 'with replacement'],
          ['embeddings', r0.embeddings],
          ['scale (query norm)', r0.scale],
          ['seed', r0.seed],
        ],
      )
    : '<p>No rows.</p>';
  const samplerSettings = [...new Map(rows.map((r) => [r.sampler, r.samplerOptions])).entries()].map(
    ([name, o]) => [name, Object.entries(o).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '(defaults)'] as const,
  );
  const charts = [
    lineChartSvg({
      title: 'Gradient bias vs sample size',
      xLabel: 'm (negatives)',
      yLabel: '‖E[ĝ] − g‖ / ‖g‖',
      xLog: true,
      yLog: true,
      floorNonPositive: true,
      series: seriesBy(rows, (r) => r.gradBias, (r) => r.gradBiasStderr),
    }),
    lineChartSvg({
      title: 'KL(softmax ‖ q) vs sample size',
      xLabel: 'm (negatives)',
      yLabel: 'KL (nats)',
      xLog: true,
      yLog: true,
      floorNonPositive: true,
      series: seriesBy(rows, (r) => r.kl),
    }),
    lineChartSvg({
      title: 'Loss bias vs sample size',
      xLabel: 'm (negatives)',
      yLabel: 'E[L̂] − L',
      xLog: true,
      series: seriesBy(rows, (r) => r.lossBias, (r) => r.lossBiasStderr),
    }),
  ];
  const table = htmlTable(
    ['sampler', 'm', 'KL', 'gradBias', '± stderr', 'MC noise', 'lossBias', '± stderr', 'draws/s'],
    rows.map((r) => [r.sampler, r.negatives, r.kl, r.gradBias, r.gradBiasStderr, r.gradNoise, r.lossBias, r.lossBiasStderr, r.drawsPerSec]),
  );
  const body = `<h1>samplex bias study</h1>
${command ? `<p class="note">Command: <code>${esc(command)}</code></p>` : ''}
<p class="note">Gradient bias is the mean over queries of ‖E[ĝ] − g‖/‖g‖ with the Monte-Carlo noise removed from the squared
norm (an unbiased estimate of the squared bias, clipped at 0); error bars are one standard error. Hollow markers at the bottom of a
log-scale chart are values ≤ 0 (e.g. the exact sampler, whose bias is zero up to Monte-Carlo error). KL is that of the sampler's
unrestricted proposal q, which does not depend on m.</p>
<div class="charts">${charts.join('\n')}</div>
<h2>Settings</h2>${settings}
<h2>Sampler options</h2>${htmlTable(['sampler', 'options'], samplerSettings)}
<h2>Results</h2>${table}`;
  return htmlPage('samplex bias study', body);
}
