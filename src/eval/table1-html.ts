/**
 * The Table 1 page of the experiment: Table 1 (rendered from its Markdown) with interactive metric
 * charts drawn from that table (one bar chart per metric across the methods; plus any charts the
 * caller passes, e.g. the training runs' loss curves from train/curves.ts), and a Fig. 4-style grid
 * (one row per test image: each method's output, then zoomed foreground crops). Self-contained page;
 * images are referenced by relative path next to it.
 */
import { chartsHtml, metricCharts, type Chart } from '../util/chart.ts';
import { escapeHtml, firstMarkdownTable, markdownToHtml } from '../util/html.ts';

export interface FigureCell {
  label: string;
  /** Relative path of the full image (absent = method not run). */
  image?: string;
  /** Relative path of the zoomed foreground crop. */
  zoom?: string;
}

export interface FigureRow {
  id: string;
  cells: FigureCell[];
}

export function renderTable1Html(meta: { preset: string; notes: string[] }, markdown: string, figures: readonly FigureRow[], charts: readonly Chart[] = []): string {
  const [header, ...metricRows] = firstMarkdownTable(markdown);
  const allCharts = [...(header ? metricCharts(header, metricRows, true) : []), ...charts];
  const fig = figures.map((r) => {
    const full = r.cells.map((c) => `<td>${c.image ? `<img src="${escapeHtml(c.image)}" alt="${escapeHtml(c.label)}">` : '<span class="na">not run</span>'}</td>`).join('');
    const zoom = r.cells.map((c) => `<td>${c.zoom ? `<img class="zoom" src="${escapeHtml(c.zoom)}" alt="${escapeHtml(c.label)} (zoomed foreground)">` : ''}</td>`).join('');
    return `<tr><th colspan="${r.cells.length}" class="id">${escapeHtml(r.id)}</th></tr><tr>${full}</tr><tr>${zoom}</tr>`;
  }).join('\n');
  const head = figures.length ? `<tr>${figures[0].cells.map((c) => `<th>${escapeHtml(c.label)}</th>`).join('')}</tr>` : '';
  const banner = meta.notes.map((n) => `<div class="warn">${escapeHtml(n)}</div>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harmonia Table 1 (${escapeHtml(meta.preset)})</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:center}
th{background:#f4f4f4}.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em;margin:.5em 0;font-weight:600}
blockquote{background:#fff3cd;margin:.5em 0;padding:.5em 1em;border-left:4px solid #e0c060}
img{width:192px;height:auto;image-rendering:auto;display:block}img.zoom{image-rendering:pixelated}
.id{text-align:left;font-weight:normal;font-family:monospace;background:#fafafa}.na{color:#999}
</style></head><body>
${banner}
${markdownToHtml(markdown)}
${chartsHtml(allCharts, { heading: 'Charts' })}
<h2>Fig. 4-style comparison (top: full image; below: zoomed foreground)</h2>
<table class="fig">${head}
${fig}
</table>
</body></html>
`;
}
