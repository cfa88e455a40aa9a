/**
 * Charts for the HTML reports; a report stays one self-contained file that works offline, and the same
 * input gives the same HTML bytes.
 * - Line charts (loss curves) are interactive, drawn in the browser by uPlot (MIT, ~50 kB, inlined):
 *   hover read-out, drag to zoom, double-click to reset, click a legend entry to hide a series;
 *   optional log y axis and moving-average smoothing with the raw series one click away.
 * - Bar charts (a metric across methods, grouped by set) are static SVG drawn here, in Node: labelled
 *   axes, a legend of the methods, the value over each bar, category labels wrapped to their slot so
 *   they never overlap; they need no JavaScript.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HarmoniaError } from '../errors.ts';

/** A colour as CSS text, or RGB in [0,1] (the PlotSeries convention). */
export type ChartColor = string | readonly [number, number, number];

export interface ChartSeries {
  name: string;
  /** [x, y] points; non-finite values leave a gap. */
  points: ReadonlyArray<readonly [number, number]>;
  color?: ChartColor;
}

export interface LineChart {
  kind?: 'line';
  title: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (linear when some value is ≤ 0). */
  logY?: boolean;
  /** Moving-average window in points (1 or absent = raw); the raw series are kept, hidden. */
  smooth?: number;
  series: readonly ChartSeries[];
  /** Plot height in CSS pixels (default 300). */
  height?: number;
}

/** One series of a bar chart: a value per category (null = n/a). */
export interface BarSeries {
  name: string;
  values: readonly (number | null)[];
  color?: ChartColor;
}

export interface BarChart {
  kind: 'bar';
  title: string;
  /** The groups along x (e.g. sets), or one bar per category when there is a single series (e.g. methods). */
  categories: readonly string[];
  /** A single series (one bar per category, each in its own palette colour); ignored when `series` is given. */
  values?: readonly (number | null)[];
  /** Several series: one bar per series within each category group, a legend names them. */
  series?: readonly BarSeries[];
  xLabel?: string;
  yLabel?: string;
  color?: ChartColor;
  /** Decimals of the value printed over each bar (default: 3 significant digits). */
  digits?: number;
  height?: number;
}

export type Chart = LineChart | BarChart;

export const CHART_PALETTE: readonly string[] = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function css(c: ChartColor | undefined, i: number): string {
  if (c === undefined) return CHART_PALETTE[i % CHART_PALETTE.length];
  if (typeof c === 'string') return c;
  const h = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255).toString(16).padStart(2, '0');
  return `#${h(c[0])}${h(c[1])}${h(c[2])}`;
}

/** Trailing moving average over `w` points of the finite values (NaN stays NaN). */
export function movingAverage(ys: readonly (number | null)[], w: number): (number | null)[] {
  if (w <= 1) return [...ys];
  const out: (number | null)[] = [];
  const win: number[] = [];
  let sum = 0;
  for (const y of ys) {
    if (y === null || !Number.isFinite(y)) {
      out.push(null);
      continue;
    }
    win.push(y);
    sum += y;
    if (win.length > w) sum -= win.shift() as number;
    out.push(sum / win.length);
  }
  return out;
}

/** What the browser script gets for one line chart: uPlot's aligned data plus the series styling. */
export interface PreparedChart {
  kind: 'line';
  /** The chart's position on the page (element id harmonia-chart-<index>). */
  index?: number;
  title: string;
  xLabel: string;
  yLabel: string;
  logY: boolean;
  /** Every x is an integer (steps): the x axis ticks only integers. */
  integerX: boolean;
  height: number;
  series: { label: string; stroke: string; width: number; show: boolean; dash?: number[] }[];
  /** [xs, ys of each series]; null = gap. */
  data: (number | null)[][];
}

function round(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toPrecision(7));
}

/** Aligns the series of a line chart on the union of their x values (uPlot's data layout) and applies the options. */
export function prepareChart(c: LineChart): PreparedChart {
  if (!c.title) throw new HarmoniaError('chart: a title is required');
  const xs = [...new Set(c.series.flatMap((s) => s.points.map((p) => p[0]).filter(Number.isFinite)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const aligned = c.series.map((s) => {
    const ys: (number | null)[] = new Array(xs.length).fill(null);
    for (const [x, y] of s.points) if (Number.isFinite(x) && Number.isFinite(y)) ys[index.get(x) as number] = y;
    return ys;
  });
  const logY = c.logY === true && aligned.every((ys) => ys.every((y) => y === null || y > 0));
  const w = Math.max(1, Math.round(c.smooth ?? 1));
  const series: PreparedChart['series'] = [];
  const data: (number | null)[][] = [xs];
  c.series.forEach((s, i) => {
    const stroke = css(s.color, i);
    if (w > 1) {
      series.push({ label: `${s.name} (mean of ${w})`, stroke, width: 2, show: true });
      data.push(movingAverage(aligned[i], w).map(round));
    }
    series.push({ label: w > 1 ? `${s.name} (raw)` : s.name, stroke, width: 1, show: w === 1, ...(w > 1 ? { dash: [4, 3] } : {}) });
    data.push(aligned[i].map(round));
  });
  return { kind: 'line', title: c.title, xLabel: c.xLabel ?? '', yLabel: c.yLabel ?? '', logY, integerX: xs.every(Number.isInteger), height: c.height ?? 300, series, data };
}

let assets: { js: string; css: string } | undefined;

/** uPlot's minified script and stylesheet, read from the installed package. */
export function chartAssets(): { js: string; css: string } {
  if (assets) return assets;
  try {
    const req = createRequire(import.meta.url);
    assets = {
      js: readFileSync(req.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(req.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  } catch (err) {
    throw new HarmoniaError(`charts: cannot read the uplot package (${(err as Error).message})`, { cause: err });
  }
  return assets;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch] as string);

// Runs in the page: one uPlot per line chart, resized with its container.
const BOOT = `(function () {
  var charts = JSON.parse(document.getElementById('harmonia-chart-data').textContent);
  var plots = [];
  var INT_INCRS = [];
  for (var e = 1; e <= 1e9; e *= 10) INT_INCRS.push(e, 2 * e, 5 * e);
  charts.forEach(function (c) {
    var el = document.getElementById('harmonia-chart-' + c.index);
    var width = function () { return Math.max(280, Math.min(el.parentNode.clientWidth || 720, 960)); };
    var opts = {
      title: c.title, width: width(), height: c.height,
      scales: { x: { time: false }, y: { distr: c.logY ? 3 : 1 } },
      axes: [c.integerX ? { label: c.xLabel, incrs: INT_INCRS } : { label: c.xLabel }, { label: c.yLabel }],
      cursor: { drag: { x: true, y: false } },
      series: [{ label: c.xLabel || 'x' }].concat(c.series.map(function (s) {
        return { label: s.label, stroke: s.stroke, width: s.width, show: s.show, dash: s.dash, spanGaps: false, points: { show: false } };
      })),
    };
    plots.push([el, new uPlot(opts, c.data, el), width]);
  });
  window.addEventListener('resize', function () { plots.forEach(function (p) { p[1].setSize({ width: p[2](), height: p[1].height }); }); });
})();`;

/** Bar-chart geometry (SVG user units; the SVG scales to its container). */
const BAR = { width: 600, font: 12, charW: 6.8, lineH: 14, left: 64, right: 16, top: 34, bottom: 20, swatch: 12 } as const;

/** 1, 2, 2.5 or 5 × 10^k ticks from 0 to at least `max` (about 5 of them). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const ticks: number[] = [];
  for (let k = 0; k * step < max + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/** Splits `text` into lines of at most `maxChars` characters at spaces (a longer word is cut with "…"). */
export function wrapLabel(text: string, maxChars: number, maxLines = 3): string[] {
  const n = Math.max(3, Math.floor(maxChars));
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const w = word.length > n ? `${word.slice(0, n - 1)}…` : word;
    if (!cur) cur = w;
    else if (cur.length + 1 + w.length <= n) cur += ` ${w}`;
    else { lines.push(cur); cur = w; }
  }
  if (cur) lines.push(cur);
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    const last = kept[maxLines - 1];
    kept[maxLines - 1] = `${last.length >= n ? last.slice(0, n - 1) : last}…`;
    return kept;
  }
  return lines;
}

function formatValue(v: number, digits?: number): string {
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : Number(v.toPrecision(3)).toString();
}

/** The series of a bar chart, checked: `series`, or `values` as one series. */
function barSeries(c: BarChart): readonly BarSeries[] {
  const series = c.series ?? (c.values ? [{ name: c.yLabel ?? c.title, values: c.values, color: c.color }] : []);
  if (series.length === 0) throw new HarmoniaError(`chart "${c.title}": no values`);
  for (const s of series) {
    if (s.values.length !== c.categories.length) throw new HarmoniaError(`chart "${c.title}": ${s.values.length} values for ${c.categories.length} categories`);
  }
  return series;
}

/**
 * A bar chart as static SVG: title, y axis from 0 with labelled ticks and grid lines, the y label
 * (rotated) and the x label, one group per category with a bar per series and its value above it
 * ("n/a" for null), category labels wrapped to their slot, and a legend of the series when there are
 * several (a single series colours each category's bar instead).
 */
export function barChartSvg(c: BarChart): string {
  if (!c.title) throw new HarmoniaError('chart: a title is required');
  const series = barSeries(c);
  const multi = c.series !== undefined && series.length > 1;
  const plotW = BAR.width - BAR.left - BAR.right;
  const slot = plotW / Math.max(1, c.categories.length);
  // legend rows: swatch + name, wrapped to the plot width
  const legend: { name: string; color: string; x: number; row: number }[] = [];
  if (multi) {
    let x = 0, row = 0;
    series.forEach((s, i) => {
      const w = BAR.swatch + 6 + s.name.length * BAR.charW + 18;
      if (x > 0 && x + w > plotW) { x = 0; row++; }
      legend.push({ name: s.name, color: css(s.color, i), x, row });
      x += w;
    });
  }
  const legendH = multi ? (legend[legend.length - 1].row + 1) * (BAR.lineH + 4) + 6 : 0;
  const labels = c.categories.map((cat) => wrapLabel(cat, (slot - 8) / BAR.charW));
  const labelLines = Math.max(1, ...labels.map((l) => l.length));
  const plotH = c.height ?? 200;
  const top = BAR.top + legendH;
  const xAxisH = 8 + labelLines * BAR.lineH + (c.xLabel ? BAR.lineH + 6 : 0);
  const height = top + plotH + xAxisH + BAR.bottom;
  const finite = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const lo = Math.min(0, ...finite);
  // 8 % headroom: the value over the tallest bar stays inside the plot
  const ticks = niceTicks(1.08 * Math.max(0, ...finite));
  if (lo < 0) ticks.unshift(-niceTicks(-1.08 * lo).at(-1)!);
  const yMin = Math.min(lo, ticks[0]), yMax = ticks[ticks.length - 1];
  // tick labels with the decimals of the tick step (0, 0.25, 0.5 … or 0, 500, 1000 …)
  const tickDigits = Math.max(0, ...ticks.map((t) => (String(t).split('.')[1] ?? '').length));
  const y = (v: number) => top + plotH - ((v - yMin) / (yMax - yMin || 1)) * plotH;
  const n = (v: number) => Number(v.toFixed(1));
  const out: string[] = [];
  out.push(`<svg class="harmonia-bar" viewBox="0 0 ${BAR.width} ${n(height)}" width="100%" style="max-width:${BAR.width}px" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(c.title)}" font-family="system-ui,sans-serif" font-size="${BAR.font}">`);
  out.push(`<title>${esc(c.title)}</title>`);
  out.push(`<text x="${BAR.width / 2}" y="18" text-anchor="middle" font-weight="600" font-size="14">${esc(c.title)}</text>`);
  for (const l of legend) {
    const ly = BAR.top - 6 + l.row * (BAR.lineH + 4);
    out.push(`<rect x="${n(BAR.left + l.x)}" y="${ly}" width="${BAR.swatch}" height="${BAR.swatch}" fill="${l.color}"/><text x="${n(BAR.left + l.x + BAR.swatch + 6)}" y="${ly + 10}">${esc(l.name)}</text>`);
  }
  for (const t of ticks) {
    out.push(`<line x1="${BAR.left}" x2="${BAR.width - BAR.right}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="${t === 0 ? '#888' : '#e3e3e3'}"/>`);
    out.push(`<text x="${BAR.left - 6}" y="${n(y(t) + 4)}" text-anchor="end" fill="#444">${t.toFixed(tickDigits)}</text>`);
  }
  if (c.yLabel) out.push(`<text transform="translate(14 ${n(top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="#333">${esc(c.yLabel)}</text>`);
  const groupW = slot * (multi ? 0.8 : 0.6);
  const barW = groupW / (multi ? series.length : 1);
  c.categories.forEach((_, k) => {
    const x0 = BAR.left + k * slot + (slot - groupW) / 2;
    series.forEach((s, i) => {
      const v = s.values[k];
      const bx = x0 + (multi ? i * barW : 0);
      const color = multi ? css(s.color, i) : css(c.series ? s.color : undefined, k);
      const label = `${multi ? `${s.name}, ` : ''}${c.categories[k]}: ${v === null || !Number.isFinite(v) ? 'n/a' : formatValue(v, c.digits)}`;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${n(bx + barW / 2)}" y="${n(y(0) - 4)}" text-anchor="middle" fill="#999">n/a<title>${esc(label)}</title></text>`);
        return;
      }
      const yt = y(Math.max(0, v)), yb = y(Math.min(0, v));
      out.push(`<rect x="${n(bx + 1)}" y="${n(yt)}" width="${n(Math.max(1, barW - 2))}" height="${n(Math.max(0.5, yb - yt))}" fill="${color}"><title>${esc(label)}</title></rect>`);
      const fs = Math.min(BAR.font, Math.max(8, (barW - 2) / (formatValue(v, c.digits).length * 0.6)));
      out.push(`<text x="${n(bx + barW / 2)}" y="${n(yt - 4)}" text-anchor="middle" font-size="${n(fs)}" fill="#222">${formatValue(v, c.digits)}</text>`);
    });
    labels[k].forEach((line, j) => {
      out.push(`<text x="${n(BAR.left + k * slot + slot / 2)}" y="${n(top + plotH + 8 + (j + 1) * BAR.lineH - 3)}" text-anchor="middle" fill="#333">${esc(line)}<title>${esc(c.categories[k])}</title></text>`);
    });
  });
  if (c.xLabel) out.push(`<text x="${n(BAR.left + plotW / 2)}" y="${n(top + plotH + 8 + labelLines * BAR.lineH + BAR.lineH + 2)}" text-anchor="middle" fill="#333">${esc(c.xLabel)}</text>`);
  out.push('</svg>');
  return out.join('');
}

/**
 * The HTML of a group of charts, in order: each bar chart as inline SVG, each line chart as a <div>
 * that uPlot draws (uPlot and its stylesheet inlined, the prepared data as JSON, only when there is a
 * line chart). Put it once per page (the element ids are fixed).
 */
export function chartsHtml(charts: readonly Chart[], opts: { heading?: string; id?: string } = {}): string {
  if (charts.length === 0) return '';
  const prepared: PreparedChart[] = [];
  const parts = charts.map((c, i) => {
    if (c.kind === 'bar') return `<figure class="harmonia-chart" id="harmonia-chart-${i}">${barChartSvg(c)}</figure>`;
    prepared.push({ ...prepareChart(c), index: i });
    return `<div class="harmonia-chart" id="harmonia-chart-${i}" role="img" aria-label="${esc(c.title)}"></div>`;
  });
  const a = prepared.length ? chartAssets() : undefined;
  return `<section class="harmonia-charts"${opts.id ? ` id="${esc(opts.id)}"` : ''}>${opts.heading ? `<h2>${esc(opts.heading)}</h2>` : ''}
<style>${a ? a.css : ''}
.harmonia-charts{margin:1em 0;display:flex;flex-wrap:wrap;gap:8px 24px}.harmonia-charts>h2{flex-basis:100%;margin-bottom:0}.harmonia-charts>noscript{flex-basis:100%}
.harmonia-chart{margin:12px 0;flex:1 1 100%}.harmonia-chart .u-title{font-size:14px}figure.harmonia-chart{margin:8px 0;flex:0 1 560px}
</style>
${parts.join('\n')}
${a ? `<noscript><p>The interactive charts need JavaScript; the tables show the same numbers.</p></noscript>
<script type="application/json" id="harmonia-chart-data">${scriptJson(prepared)}</script>
<script>${a.js}</script>
<script>${BOOT}</script>` : ''}
</section>`;
}

/** A self-contained page of charts (e.g. a run's loss curves). */
export function renderChartPage(title: string, charts: readonly Chart[], notes: readonly string[] = []): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}.note{color:#555}</style>
</head><body>
<h1>${esc(title)}</h1>
${notes.map((n) => `<p class="note">${esc(n)}</p>`).join('\n')}
${chartsHtml(charts)}
</body></html>
`;
}

/** Parses a number out of a report cell ("24.67", "82.1%", "n/a" → null). */
export function cellNumber(cell: string): number | null {
  const m = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*(%?)\s*$/i.exec(cell.replace(/\*\*/g, ''));
  return m ? Number(m[1]) : null;
}

/**
 * Bar charts of a metrics table: one chart per metric with at least one number. `byRow` = metrics
 * are rows and methods columns (Table 1); otherwise methods are rows and metrics columns (demo).
 */
export function metricCharts(header: readonly string[], rows: readonly (readonly string[])[], byRow: boolean): BarChart[] {
  const charts: BarChart[] = [];
  // the values over the bars keep the decimals of the table's cells
  const decimals = (cells: readonly string[]) => Math.max(0, ...cells.filter((c) => cellNumber(c) !== null).map((c) => /\.(\d+)/.exec(c)?.[1].length ?? 0));
  const push = (metric: string, categories: string[], values: (number | null)[], cells: string[]) => {
    if (values.some((v) => v !== null)) charts.push({ kind: 'bar', title: metric, categories, values, xLabel: 'method', yLabel: metric.replace(/\s*[↑↓]\s*$/, ''), digits: decimals(cells) });
  };
  if (byRow) {
    const methods = header.slice(1).map(String);
    for (const r of rows) push(r[0], methods, methods.map((_, k) => cellNumber(r[k + 1] ?? '')), r.slice(1).map(String));
  } else {
    const methods = rows.map((r) => r[0]);
    header.slice(1).forEach((metric, k) => push(metric, methods, rows.map((r) => cellNumber(r[k + 1] ?? '')), rows.map((r) => r[k + 1] ?? '')));
  }
  return charts;
}
