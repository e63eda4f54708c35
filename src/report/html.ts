/**
 * Self-contained HTML reports with inline SVG charts (no scripts, no external resources:
 * they open offline in any browser).
 * @module
 */

/** One line of a chart. */
export interface Series {
  name: string;
  /** Points `[x, y]`; non-finite points (and non-positive ones on log axes) are skipped. */
  points: ReadonlyArray<readonly [number, number]>;
  /** Optional symmetric error bars (same length as points). */
  errors?: readonly number[];
}

/** A line chart. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: readonly Series[];
  width?: number;
  height?: number;
  /**
   * On a log y axis, draw points with `y ≤ 0` (e.g. a bias below Monte-Carlo noise) as hollow
   * markers at the bottom of the chart instead of dropping them; `data-y` keeps the true value.
   */
  floorNonPositive?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** Escapes text for HTML/SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) if (e >= lo - 1e-9 && e <= hi + 1e-9) out.push(e);
    if (out.length >= 2) return out;
    return [lo, hi];
  }
  const span = hi - lo || 1;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / 5)));
  const step = [1, 2, 5, 10].map((f) => f * step0).find((s) => span / s <= 6) ?? step0 * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * Renders a chart as an inline `<svg>` element. Every drawn point is a `<circle>` with a
 * `data-x`/`data-y` attribute (so tests and tools can read the data back) and a `<title>` tooltip.
 */
export function lineChartSvg(spec: ChartSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 400;
  const m = { l: 70, r: 160, t: 36, b: 50 };
  const fx = (x: number) => (spec.xLog ? Math.log10(x) : x);
  const fy = (y: number) => (spec.yLog ? Math.log10(y) : y);
  const floorNP = (spec.yLog ?? false) && (spec.floorNonPositive ?? false);
  const ok = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0);
  const drawable = (x: number, y: number) => ok(x, y) || (floorNP && Number.isFinite(x) && (!spec.xLog || x > 0) && Number.isFinite(y) && y <= 0);
  let xlo = Infinity;
  let xhi = -Infinity;
  let ylo = Infinity;
  let yhi = -Infinity;
  for (const s of spec.series)
    for (const [x, y] of s.points) {
      if (!ok(x, y)) continue;
      xlo = Math.min(xlo, fx(x));
      xhi = Math.max(xhi, fx(x));
      ylo = Math.min(ylo, fy(y));
      yhi = Math.max(yhi, fy(y));
    }
  let hasFloor = false;
  if (floorNP)
    for (const s of spec.series)
      for (const [x, y] of s.points)
        if (drawable(x, y) && !ok(x, y)) {
          hasFloor = true;
          xlo = Math.min(xlo, fx(x));
          xhi = Math.max(xhi, fx(x));
        }
  if (!Number.isFinite(ylo) && hasFloor) {
    ylo = -3;
    yhi = 0;
  }
  if (!Number.isFinite(xlo)) {
    xlo = 0;
    xhi = 1;
    ylo = 0;
    yhi = 1;
  }
  if (xhi === xlo) {
    xlo -= 0.5;
    xhi += 0.5;
  }
  if (yhi === ylo) {
    ylo -= 0.5;
    yhi += 0.5;
  }
  const ypad = (yhi - ylo) * 0.05;
  let yFloor = ylo;
  if (hasFloor) {
    yFloor = ylo - Math.max(0.5, (yhi - ylo) * 0.12);
    ylo = yFloor;
  }
  ylo -= ypad;
  yhi += ypad;
  const px = (v: number) => m.l + ((v - xlo) / (xhi - xlo)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - ylo) / (yhi - ylo)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.title)}">`,
  );
  parts.push(`<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#888"/>`);
  for (const t of ticks(xlo, xhi, spec.xLog ?? false)) {
    const x = px(t);
    parts.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${fmtTick(spec.xLog ? 10 ** t : t)}</text>`);
  }
  for (const t of ticks(ylo, yhi, spec.yLog ?? false)) {
    const y = py(t);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmtTick(spec.yLog ? 10 ** t : t)}</text>`);
  }
  parts.push(`<text x="${m.l + (W - m.l - m.r) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">${esc(spec.xLabel)}${spec.xLog ? ' (log)' : ''}</text>`);
  parts.push(
    `<text transform="translate(16 ${m.t + (H - m.t - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(spec.yLabel)}${spec.yLog ? ' (log)' : ''}</text>`,
  );
  spec.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = s.points.map((p, i) => ({ x: p[0], y: p[1], e: s.errors?.[i] })).filter((p) => drawable(p.x, p.y));
    const yOf = (y: number) => (ok(1, y) || !spec.yLog ? py(fy(y)) : py(yFloor));
    parts.push(`<g class="series" data-name="${esc(s.name)}" data-points="${pts.length}">`);
    if (pts.length > 1) {
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(fx(p.x)).toFixed(2)},${yOf(p.y).toFixed(2)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of pts) {
      const cx = px(fx(p.x)).toFixed(2);
      const cy = yOf(p.y).toFixed(2);
      const floored = spec.yLog === true && !(p.y > 0);
      if (!floored && p.e !== undefined && Number.isFinite(p.e) && p.e > 0) {
        const lo = p.y - p.e;
        const hi = p.y + p.e;
        const ylo2 = spec.yLog ? (lo > 0 ? py(fy(lo)) : H - m.b) : py(lo);
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${Math.min(H - m.b, ylo2).toFixed(2)}" y2="${Math.max(m.t, py(fy(hi))).toFixed(2)}" stroke="${color}" stroke-width="1"/>`);
      }
      parts.push(
        `<circle class="pt" cx="${cx}" cy="${cy}" r="3.5" fill="${floored ? 'white' : color}" stroke="${color}" data-x="${p.x}" data-y="${p.y}"><title>${esc(s.name)}: (${fmtTick(p.x)}, ${fmtTick(p.y)})${floored ? ' (≤ 0, drawn at the floor)' : ''}</title></circle>`,
      );
    }
    parts.push('</g>');
    const ly = m.t + 14 + si * 18;
    parts.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - m.r + 38}" y="${ly}" font-size="12">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** A simple HTML table. */
export function htmlTable(head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : esc(v));
  return (
    '<table><thead><tr>' +
    head.map((h) => `<th>${esc(h)}</th>`).join('') +
    '</tr></thead><tbody>' +
    rows.map((r) => '<tr>' + r.map((v) => `<td>${cell(v)}</td>`).join('') + '</tr>').join('') +
    '</tbody></table>'
  );
}

/** Wraps body HTML in a complete, self-contained page. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0} th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px} .note{color:#555;font-size:13px}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
${body}
</body></html>
`;
}
