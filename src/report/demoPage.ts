/**
 * The HTML report `npm start` writes: a table of contents, the summary, a metrics table with bar charts
 * of it (grouped by set when the caller passes them), warnings once, and before/after rows of images,
 * each linking to its full-size file. Every path in the page is relative to the page.
 */
import { chartsHtml, metricCharts, type Chart } from '../util/chart.ts';
import { escapeHtml as esc, slug, tocHtml, uniqueLines, type TocEntry } from '../util/html.ts';

export interface DemoRow {
  title: string;
  /** Image file names relative to the report, by column label. */
  images: { label: string; file: string }[];
  /** Metric text per method label (e.g. "PSNR 31.2 / fMSE 410"). */
  caption?: string;
}

export interface DemoPage {
  title: string;
  intro: string[];
  /** Lines a reader must see (shown once each, above everything else). */
  warnings?: string[];
  /** Markdown-like table: header + rows of cells. */
  table?: { header: string[]; rows: string[][] };
  /** Charts of the metrics (e.g. grouped by set); default: one bar chart per column of `table`. */
  metricCharts?: readonly Chart[];
  sections: { heading: string; note?: string; rows: DemoRow[] }[];
  footer: string[];
  /** More charts after the metric charts (e.g. loss curves from train/curves.ts). */
  charts?: readonly Chart[];
}

export function renderDemoPage(p: DemoPage): string {
  const table = p.table
    ? `<table><thead><tr>${p.table.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${p.table.rows
        .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
        .join('')}</tbody></table>`
    : '';
  const chartList = [...(p.metricCharts ?? (p.table ? metricCharts(p.table.header, p.table.rows, false) : [])), ...(p.charts ?? [])];
  const charts = chartsHtml(chartList, { id: 'charts', heading: 'Charts' });
  const ids = new Set<string>(['summary', 'metrics', 'charts']);
  const sectionIds = p.sections.map((s) => {
    let id = slug(s.heading);
    while (ids.has(id)) id += '-2';
    ids.add(id);
    return id;
  });
  const toc: TocEntry[] = [
    { id: 'summary', label: 'Summary' },
    ...(table ? [{ id: 'metrics', label: 'Metrics' }] : []),
    ...(charts ? [{ id: 'charts', label: 'Charts' }] : []),
    ...p.sections.map((s, k) => ({ id: sectionIds[k], label: `${s.heading} (${s.rows.length})` })),
  ];
  const sections = p.sections
    .map(
      (s, k) => `<section id="${sectionIds[k]}"><h2>${esc(s.heading)}</h2>${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}${s.rows
        .map(
          (r) => `<div class="row"><h3>${esc(r.title)}</h3><div class="imgs">${r.images
            .map((im) => `<figure><a href="${esc(im.file)}" title="open the full-size image"><img src="${esc(im.file)}" alt="${esc(`${r.title}: ${im.label}`)}" loading="lazy"></a><figcaption>${esc(im.label)}</figcaption></figure>`)
            .join('')}</div>${r.caption ? `<p class="cap">${esc(r.caption)}</p>` : ''}</div>`,
        )
        .join('')}<p class="top"><a href="#top">↑ contents</a></p></section>`,
    )
    .join('\n');
  const warnings = uniqueLines(p.warnings ?? []);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(p.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}thead th{background:#f3f3f3}tbody th{text-align:left}
.row{margin:18px 0}.imgs{display:flex;gap:8px;flex-wrap:wrap}figure{margin:0}img{width:168px;height:auto;image-rendering:auto;border:1px solid #ddd}
figcaption{font-size:12px;color:#555;text-align:center}.note,.cap{color:#555}h3{margin:4px 0;font-size:14px}
.toc{background:#f7f7f7;border:1px solid #ddd;padding:8px 16px;margin:12px 0;display:inline-block}.toc ul{margin:4px 0;padding-left:20px}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em;margin:.5em 0;font-weight:600}.top{font-size:12px}
</style></head><body>
<h1 id="top">${esc(p.title)}</h1>
${warnings.map((w) => `<div class="warn">${esc(w)}</div>`).join('\n')}
${tocHtml(toc)}
<section id="summary"><h2>Summary</h2>
${p.intro.map((t) => `<p>${esc(t)}</p>`).join('\n')}
</section>
${table ? `<section id="metrics"><h2>Metrics</h2>${table}</section>` : ''}
${charts}
${sections}
${p.footer.map((t) => `<p class="note">${esc(t)}</p>`).join('\n')}
</body></html>
`;
}
