/** The HTML report `npm start` writes: a metrics table with interactive charts of it, and before/after rows of images. */
import { chartsHtml, metricCharts, type Chart } from '../util/chart.ts';

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
  /** Markdown-like table: header + rows of cells. */
  table?: { header: string[]; rows: string[][] };
  sections: { heading: string; note?: string; rows: DemoRow[] }[];
  footer: string[];
  /** More charts after the metric charts (e.g. loss curves from train/curves.ts). */
  charts?: readonly Chart[];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

export function renderDemoPage(p: DemoPage): string {
  const table = p.table
    ? `<table><thead><tr>${p.table.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${p.table.rows
        .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
        .join('')}</tbody></table>`
    : '';
  const charts = chartsHtml([...(p.table ? metricCharts(p.table.header, p.table.rows, false) : []), ...(p.charts ?? [])]);
  const sections = p.sections
    .map(
      (s) => `<h2>${esc(s.heading)}</h2>${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}${s.rows
        .map(
          (r) => `<div class="row"><h3>${esc(r.title)}</h3><div class="imgs">${r.images
            .map((im) => `<figure><img src="${esc(im.file)}" alt="${esc(im.label)}"><figcaption>${esc(im.label)}</figcaption></figure>`)
            .join('')}</div>${r.caption ? `<p class="cap">${esc(r.caption)}</p>` : ''}</div>`,
        )
        .join('')}`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(p.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}thead th{background:#f3f3f3}tbody th{text-align:left}
.row{margin:18px 0}.imgs{display:flex;gap:8px;flex-wrap:wrap}figure{margin:0}img{width:200px;height:auto;image-rendering:auto;border:1px solid #ddd}
figcaption{font-size:12px;color:#555;text-align:center}.note,.cap{color:#555}h3{margin:4px 0;font-size:14px}
</style></head><body>
<h1>${esc(p.title)}</h1>
${p.intro.map((t) => `<p>${esc(t)}</p>`).join('\n')}
${table}
${charts}
${sections}
${p.footer.map((t) => `<p class="note">${esc(t)}</p>`).join('\n')}
</body></html>
`;
}
