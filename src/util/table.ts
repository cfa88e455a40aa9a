/**
 * Small table helpers for reports: Markdown (GitHub pipe tables) and CSV (RFC 4180 quoting).
 * Cells are strings, numbers or null; null prints as an empty CSV field and as `nullText` in Markdown.
 */

export type Cell = string | number | null | undefined;

/** A number with `digits` significant decimals as the metric needs; null → fallback text. */
export function formatNumber(v: number | null | undefined, digits = 2, fallback = 'n/a'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return fallback;
  return v.toFixed(digits);
}

/** A share in [0,1] as a percentage with one decimal ("8.3%"). */
export function formatPercent(v: number | null | undefined, fallback = 'n/a'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return fallback;
  return `${(v * 100).toFixed(1)}%`;
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A Markdown pipe table. `align` per column: 'l' or 'r' (default: numbers right, text left,
 * decided from the first data row).
 */
export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[], opts: { align?: readonly ('l' | 'r')[]; nullText?: string } = {}): string {
  const nullText = opts.nullText ?? 'n/a';
  const text = (c: Cell): string => (c === null || c === undefined ? nullText : typeof c === 'number' ? String(c) : c);
  const align = headers.map((_, i) => opts.align?.[i] ?? (rows.length > 0 && typeof rows[0][i] === 'number' ? 'r' : 'l'));
  const lines = [
    `| ${headers.map(mdEscape).join(' | ')} |`,
    `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${headers.map((_, i) => mdEscape(text(r[i]))).join(' | ')} |`),
  ];
  return lines.join('\n') + '\n';
}

function csvField(c: Cell): string {
  if (c === null || c === undefined) return '';
  const s = typeof c === 'number' ? (Number.isFinite(c) ? String(c) : '') : c;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text (header line + rows, "\n" line ends, fields quoted when needed). */
export function csvTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [headers, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** Parses CSV written by csvTable (quoted fields, doubled quotes) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}
