/**
 * The Table 1 page of the experiment: its warnings once, at the top; a table of contents; Table 1
 * (rendered from its Markdown, whose note lines the warnings already show) with bar charts drawn from
 * that table (one per metric across the methods; plus any charts the caller passes, e.g. the training
 * runs' loss curves from train/curves.ts); and a Fig. 4-style grid (one row per test image: each
 * method's output, then zoomed foreground crops, each linking to its full-size file). Self-contained
 * page; images are referenced by relative path next to it.
 */
import { chartsHtml, metricCharts, type Chart } from '../util/chart.ts';
import { escapeHtml, firstMarkdownTable, markdownToHtml, slug, tocHtml, uniqueLines, withoutRepeatedNotes, type TocEntry } from '../util/html.ts';

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
  const notes = uniqueLines(meta.notes);
  const [header, ...metricRows] = firstMarkdownTable(markdown);
  const allCharts = [...(header ? metricCharts(header, metricRows, true) : []), ...charts];
  const link = (href: string, inner: string) => `<a href="${escapeHtml(href)}" title="open the full-size image">${inner}</a>`;
  const fig = figures.map((r) => {
    const full = r.cells.map((c) => `<td>${c.image ? link(c.image, `<img src="${escapeHtml(c.image)}" alt="${escapeHtml(`${r.id}: ${c.label}`)}" loading="lazy">`) : '<span class="na">not run</span>'}</td>`).join('');
    const zoom = r.cells.map((c) => `<td>${c.zoom ? link(c.zoom, `<img class="zoom" src="${escapeHtml(c.zoom)}" alt="${escapeHtml(`${r.id}: ${c.label} (zoomed foreground)`)}" loading="lazy">`) : ''}</td>`).join('');
    return `<tr><th colspan="${r.cells.length}" class="id">${escapeHtml(r.id)}</th></tr><tr>${full}</tr><tr>${zoom}</tr>`;
  }).join('\n');
  const head = figures.length ? `<tr>${figures[0].cells.map((c) => `<th>${escapeHtml(c.label)}</th>`).join('')}</tr>` : '';
  // the charts go right after Table 1, before the next section (## Training runs)
  const md = withoutRepeatedNotes(markdown, notes);
  const cut = md.indexOf('\n## ');
  const [first, rest] = cut < 0 ? [md, ''] : [md.slice(0, cut), md.slice(cut + 1)];
  const body = markdownToHtml(first), after = markdownToHtml(rest);
  const headings = [...`${body}\n${after}`.matchAll(/<h([12]) id="([^"]+)">(.*?)<\/h\1>/g)].map((m) => ({ id: m[2], label: m[3].replace(/<[^>]+>/g, '') }));
  const toc: TocEntry[] = [
    ...(notes.length ? [{ id: 'warnings', label: `Warnings (${notes.length})` }] : []),
    ...headings.slice(0, 1),
    ...(allCharts.length ? [{ id: 'charts', label: 'Charts' }] : []),
    ...headings.slice(1),
    ...(figures.length ? [{ id: slug('fig4'), label: `Fig. 4-style comparison (${figures.length} test images)` }] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Harmonia Table 1 (${escapeHtml(meta.preset)})</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:center}
th{background:#f4f4f4}.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em;margin:.5em 0;font-weight:600}
img{width:160px;height:auto;image-rendering:auto;display:block}img.zoom{image-rendering:pixelated}
.id{text-align:left;font-weight:normal;font-family:monospace;background:#fafafa}.na{color:#999}
.toc{background:#f7f7f7;border:1px solid #ddd;padding:8px 16px;margin:12px 0;display:inline-block}.toc ul{margin:4px 0;padding-left:20px}
</style></head><body>
${notes.length ? `<section id="warnings">${notes.map((n) => `<div class="warn">${escapeHtml(n)}</div>`).join('\n')}</section>` : ''}
${tocHtml(toc)}
${body}
${chartsHtml(allCharts, { heading: 'Charts', id: 'charts' })}
${after}
${figures.length ? `<h2 id="fig4">Fig. 4-style comparison (top: full image; below: zoomed foreground; click an image for its full-size file)</h2>
<table class="fig">${head}
${fig}
</table>` : ''}
</body></html>
`;
}
