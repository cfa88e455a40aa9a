/**
 * The HTML report of `harmonia evaluate --html` (report.html beside table.md): its warnings once, a table
 * of contents, the evaluation's Markdown report (protocol, All, by subset, by foreground ratio, do no
 * harm when present) and bar charts of each metric grouped by subset (and fMSE by foreground ratio), with
 * links to the other report files. Self-contained; every path in it is relative to the page.
 */
import { FG_BINS } from '../metrics/index.ts';
import { resultMarkdown, COMPOSITE_METHOD, type EvalResult, type GroupSummary } from '../eval/evaluate.ts';
import { chartsHtml, CHART_PALETTE, type BarChart } from '../util/chart.ts';
import { escapeHtml as esc, markdownToHtml, relativePath, relativizePaths, tocHtml, uniqueLines, withoutRepeatedNotes, type TocEntry } from '../util/html.ts';

export interface EvalPageOptions {
  /** Page title (default "Evaluation"). */
  title?: string;
  /** The folder the page is written to: paths are shown relative to it. */
  base: string;
  /** The dataset folder and list file as given (shown relative to `base`). */
  data?: string;
  list?: string;
  /** The other report files beside the page (linked by file name). */
  files?: string[];
}

const METRICS: { key: keyof GroupSummary; title: string; yLabel: string; digits: number }[] = [
  { key: 'mse', title: 'MSE (lower is better)', yLabel: 'MSE (0–255 scale)', digits: 1 },
  { key: 'psnr', title: 'PSNR (higher is better)', yLabel: 'PSNR (dB)', digits: 2 },
  { key: 'fmse', title: 'fMSE: MSE of the foreground (lower is better)', yLabel: 'fMSE (0–255 scale)', digits: 1 },
  { key: 'fpsnr', title: 'fPSNR: PSNR of the foreground (higher is better)', yLabel: 'fPSNR (dB)', digits: 2 },
  { key: 'ssim', title: 'SSIM (higher is better)', yLabel: 'SSIM', digits: 4 },
  { key: 'lpips', title: 'LPIPS (lower is better)', yLabel: 'LPIPS', digits: 4 },
];

/** Bar charts of the metrics: the subsets (then All) along x, a bar per method; plus fMSE by foreground ratio. */
export function evalCharts(r: EvalResult): BarChart[] {
  const subsets = Object.keys(r.summary[COMPOSITE_METHOD].subsets);
  const groups = [...(subsets.length > 1 ? subsets : []), 'All'];
  const group = (m: string, g: string): GroupSummary => (g === 'All' ? r.summary[m].All : r.summary[m].subsets[g]);
  const label = (g: string) => `${g} (${group(COMPOSITE_METHOD, g).n})`;
  const charts: BarChart[] = METRICS.filter((mt) => mt.key !== 'lpips' || r.lpips.available).map((mt) => ({
    kind: 'bar', title: mt.title, yLabel: mt.yLabel, xLabel: 'subset (images)', digits: mt.digits, categories: groups.map(label),
    series: r.methods.map((m, i) => ({ name: m, color: CHART_PALETTE[i % CHART_PALETTE.length], values: groups.map((g) => group(m, g)[mt.key] as number | null) })),
  }));
  charts.push({
    kind: 'bar', title: 'fMSE by foreground ratio (lower is better)', yLabel: 'fMSE (0–255 scale)', xLabel: 'foreground share of the image (images)', digits: 1,
    categories: FG_BINS.map((b) => `${b.name} (${r.summary[COMPOSITE_METHOD].bins[b.name].n})`),
    series: r.methods.map((m, i) => ({ name: m, color: CHART_PALETTE[i % CHART_PALETTE.length], values: FG_BINS.map((b) => r.summary[m].bins[b.name].fmse) })),
  });
  return charts;
}

/** The warnings of an evaluation: LPIPS not computed for want of weights. */
export function evalWarnings(r: EvalResult): string[] {
  return !r.lpips.available && r.lpips.net !== 'none' ? [`LPIPS not computed: ${r.lpips.note}`] : [];
}

export function renderEvalPage(r: EvalResult, opts: EvalPageOptions): string {
  const title = opts.title ?? 'Evaluation';
  const rel = (p: string) => relativizePaths(p, opts.base);
  const warnings = uniqueLines(evalWarnings(r).map(rel));
  const md = withoutRepeatedNotes(rel(resultMarkdown(r, title)), warnings);
  // the charts go after the All table, before the per-subset tables
  const cut = md.indexOf('\n## By subset');
  const [first, rest] = cut < 0 ? [md, ''] : [md.slice(0, cut), md.slice(cut + 1)];
  const body = markdownToHtml(first), after = markdownToHtml(rest);
  const headings = [...`${body}\n${after}`.matchAll(/<h2 id="([^"]+)">(.*?)<\/h2>/g)].map((m) => ({ id: m[1], label: m[2].replace(/<[^>]+>/g, '') }));
  const charts = evalCharts(r);
  const firstCount = [...body.matchAll(/<h2 id=/g)].length;
  const toc: TocEntry[] = [
    ...(warnings.length ? [{ id: 'warnings', label: `Warnings (${warnings.length})` }] : []),
    ...headings.slice(0, firstCount),
    { id: 'charts', label: 'Charts' },
    ...headings.slice(firstCount),
    ...(opts.files?.length ? [{ id: 'files', label: 'Files' }] : []),
  ];
  const source = [
    opts.data ? `Data: <code>${esc(relativePath(opts.data, opts.base))}</code>` : '',
    opts.list ? `list: <code>${esc(relativePath(opts.list, opts.base))}</code>` : '',
    `${r.images} images, methods: ${r.methods.map(esc).join(', ')}; evaluated in ${r.seconds.toFixed(1)} s.`,
  ].filter(Boolean).join('; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em;margin:.5em 0;font-weight:600}
.toc{background:#f7f7f7;border:1px solid #ddd;padding:8px 16px;margin:12px 0;display:inline-block}.toc ul{margin:4px 0;padding-left:20px}
</style></head><body>
${warnings.length ? `<section id="warnings">${warnings.map((w) => `<div class="warn">${esc(w)}</div>`).join('\n')}</section>` : ''}
${tocHtml(toc)}
${body.includes('</h1>') ? body.replace('</h1>', `</h1>\n<p>${source}</p>`) : `<p>${source}</p>\n${body}`}
${chartsHtml(charts, { heading: 'Charts', id: 'charts' })}
${after}
${opts.files?.length ? `<h2 id="files">Files</h2><ul>${opts.files.map((f) => `<li><a href="${esc(f)}">${esc(f)}</a></li>`).join('')}</ul>` : ''}
</body></html>
`;
}
