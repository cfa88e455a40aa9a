/**
 * Interactive charts for the HTML reports, drawn in the browser by uPlot (MIT, ~50 kB), which is
 * inlined into the page so a report stays one self-contained file that works offline. Line charts
 * (loss curves: hover read-out, drag to zoom, double-click to reset, click a legend entry to hide a
 * series; optional log y axis and moving-average smoothing with the raw series one click away) and
 * bar charts (one metric across methods). The data are prepared here, in Node, deterministically:
 * the same input gives the same HTML bytes.
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

export interface BarChart {
  kind: 'bar';
  title: string;
  /** One bar per category (e.g. method). */
  categories: readonly string[];
  values: readonly (number | null)[];
  yLabel?: string;
  color?: ChartColor;
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

/** What the browser script gets for one chart: uPlot's aligned data plus the series styling. */
export interface PreparedChart {
  kind: 'line' | 'bar';
  title: string;
  xLabel: string;
  yLabel: string;
  logY: boolean;
  height: number;
  /** Category labels of a bar chart (x = 0..n-1). */
  categories?: string[];
  series: { label: string; stroke: string; width: number; show: boolean; dash?: number[] }[];
  /** [xs, ys of each series]; null = gap. */
  data: (number | null)[][];
}

function round(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toPrecision(7));
}

/** Aligns the series on the union of their x values (uPlot's data layout) and applies the options. */
export function prepareChart(c: Chart): PreparedChart {
  if (!c.title) throw new HarmoniaError('chart: a title is required');
  if (c.kind === 'bar') {
    if (c.values.length !== c.categories.length) throw new HarmoniaError(`chart "${c.title}": ${c.values.length} values for ${c.categories.length} categories`);
    return {
      kind: 'bar', title: c.title, xLabel: '', yLabel: c.yLabel ?? '', logY: false, height: c.height ?? 220,
      categories: [...c.categories],
      series: [{ label: c.yLabel ?? c.title, stroke: css(c.color, 0), width: 1, show: true }],
      data: [c.categories.map((_, i) => i), c.values.map((v) => round(v))],
    };
  }
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
  return { kind: 'line', title: c.title, xLabel: c.xLabel ?? '', yLabel: c.yLabel ?? '', logY, height: c.height ?? 300, series, data };
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

// Runs in the page: one uPlot per chart, resized with its container.
const BOOT = `(function () {
  var charts = JSON.parse(document.getElementById('harmonia-chart-data').textContent);
  var plots = [];
  charts.forEach(function (c, i) {
    var el = document.getElementById('harmonia-chart-' + i);
    var width = function () { return Math.max(280, Math.min(el.parentNode.clientWidth || 720, 960)); };
    var bars = c.kind === 'bar' ? uPlot.paths.bars({ size: [0.6, 80] }) : null;
    var opts = {
      title: c.title, width: width(), height: c.height,
      scales: { x: { time: false, range: bars ? function (u, lo, hi) { return [lo - 0.5, hi + 0.5]; } : undefined }, y: { distr: c.logY ? 3 : 1, range: bars ? function (u, lo, hi) { return [Math.min(0, lo), hi + (hi - Math.min(0, lo)) * 0.08 || 1]; } : undefined } },
      axes: [
        bars ? { label: c.xLabel, splits: function () { return c.categories.map(function (_, k) { return k; }); }, values: function () { return c.categories; }, grid: { show: false } } : { label: c.xLabel },
        { label: c.yLabel },
      ],
      cursor: { drag: { x: true, y: false } },
      series: [{ label: bars ? 'method' : (c.xLabel || 'x'), value: bars ? function (u, v) { return v == null ? '' : c.categories[v]; } : undefined }].concat(c.series.map(function (s) {
        return bars ? { label: s.label, stroke: s.stroke, fill: s.stroke + '99', width: s.width, paths: bars, points: { show: false } } : { label: s.label, stroke: s.stroke, width: s.width, show: s.show, dash: s.dash, spanGaps: false, points: { show: false } };
      })),
    };
    plots.push([el, new uPlot(opts, c.data, el), width]);
  });
  window.addEventListener('resize', function () { plots.forEach(function (p) { p[1].setSize({ width: p[2](), height: p[1].height }); }); });
})();`;

/**
 * The HTML of a group of charts: one <div> per chart, uPlot and its stylesheet inlined, the prepared
 * data as JSON, and the script that draws them. Put it once per page (the element ids are fixed).
 */
export function chartsHtml(charts: readonly Chart[], opts: { heading?: string } = {}): string {
  if (charts.length === 0) return '';
  const prepared = charts.map(prepareChart);
  const a = chartAssets();
  const divs = prepared.map((c, i) => `<div class="harmonia-chart" id="harmonia-chart-${i}" role="img" aria-label="${esc(c.title)}"></div>`).join('\n');
  return `<section class="harmonia-charts">${opts.heading ? `<h2>${esc(opts.heading)}</h2>` : ''}
<style>${a.css}
.harmonia-charts{margin:1em 0}.harmonia-chart{margin:12px 0}.harmonia-chart .u-title{font-size:14px}
</style>
${divs}
<noscript><p>The charts need JavaScript; the tables show the same numbers.</p></noscript>
<script type="application/json" id="harmonia-chart-data">${scriptJson(prepared)}</script>
<script>${a.js}</script>
<script>${BOOT}</script>
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
  const push = (metric: string, categories: string[], values: (number | null)[]) => {
    if (values.some((v) => v !== null)) charts.push({ kind: 'bar', title: metric, categories, values });
  };
  if (byRow) {
    const methods = header.slice(1).map(String);
    for (const r of rows) push(r[0], methods, methods.map((_, k) => cellNumber(r[k + 1] ?? '')));
  } else {
    const methods = rows.map((r) => r[0]);
    header.slice(1).forEach((metric, k) => push(metric, methods, rows.map((r) => cellNumber(r[k + 1] ?? ''))));
  }
  return charts;
}
