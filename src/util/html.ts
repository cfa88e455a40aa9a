/**
 * HTML primitives of the report pages: escaping, the first Markdown table of a text, a small Markdown →
 * HTML converter, section anchors and the table of contents, and paths made relative to the report
 * (a report never shows the machine's absolute folders).
 */
import { homedir } from 'node:os';
import { isAbsolute, relative, sep } from 'node:path';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function inline(md: string): string {
  return escapeHtml(md)
    .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** The cells of the first pipe table in `md` (header first; the |---| separator row dropped), or []. */
export function firstMarkdownTable(md: string): string[][] {
  const rows: string[][] = [];
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) {
      if (rows.length) break;
      continue;
    }
    const cells = line.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
    if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
  }
  return rows;
}

/** A small Markdown subset → HTML: headings (with slug ids), paragraphs, "- " lists, block quotes, pipe tables, **bold**, `code`. */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('|')) {
      const rows: string[][] = [];
      while (i < lines.length && lines[i].startsWith('|')) {
        const cells = lines[i].replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
        if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
        i++;
      }
      i--;
      const [head, ...body] = rows;
      out.push('<table>', `<tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>`,
        ...body.map((r) => `<tr>${r.map((c, k) => (k === 0 ? `<th>${inline(c)}</th>` : `<td>${inline(c)}</td>`)).join('')}</tr>`), '</table>');
    } else if (/^#{1,6} /.test(line)) {
      const level = line.match(/^#+/)![0].length;
      out.push(`<h${level} id="${slug(line.slice(level + 1))}">${inline(line.slice(level + 1))}</h${level}>`);
    } else if (line.startsWith('- ')) {
      const items: string[] = [];
      while (i < lines.length && lines[i].startsWith('- ')) items.push(`<li>${inline(lines[i++].slice(2))}</li>`);
      i--;
      out.push(`<ul>${items.join('')}</ul>`);
    } else if (line.startsWith('> ')) {
      out.push(`<blockquote>${inline(line.slice(2))}</blockquote>`);
    } else if (line.trim()) {
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  return out.join('\n');
}

/**
 * `path` as a reader of a report in `base` can follow it: relative to `base`, with "/" separators ("." for
 * base itself); a path outside `base` but under the home folder is shown as ~/… instead.
 */
export function relativePath(path: string, base: string): string {
  if (!isAbsolute(path)) return path.split(sep).join('/');
  const rel = relative(base, path) || '.';
  const home = homedir();
  if (rel.startsWith('..') && home && home !== sep && path.startsWith(home + sep)) return `~/${relative(home, path).split(sep).join('/')}`;
  return rel.split(sep).join('/');
}

/** Rewrites every absolute POSIX path in `text` (e.g. in an error reason) relative to `base`. */
export function relativizePaths(text: string, base: string): string {
  return text.replace(/(^|[\s'"(=`])(\/[^\s'"()`,;]+)/g, (_m, pre: string, p: string) => {
    const trail = /[.:]$/.exec(p)?.[0] ?? '';
    return pre + relativePath(trail ? p.slice(0, -1) : p, base) + trail;
  });
}

/** An id for an HTML anchor: lower-case letters, digits and dashes. */
export function slug(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'section';
}

export interface TocEntry { id: string; label: string; children?: TocEntry[] }

/** A table of contents: a <nav> with a nested list of links to the page's anchors. */
export function tocHtml(entries: readonly TocEntry[], title = 'Contents'): string {
  const list = (es: readonly TocEntry[]): string => `<ul>${es.map((e) => `<li><a href="#${escapeHtml(e.id)}">${escapeHtml(e.label)}</a>${e.children?.length ? list(e.children) : ''}</li>`).join('')}</ul>`;
  return `<nav class="toc" aria-label="${escapeHtml(title)}"><strong>${escapeHtml(title)}</strong>${list(entries)}</nav>`;
}

/** The distinct lines of `lines` in their first order (a warning is shown once). */
export function uniqueLines(lines: readonly string[]): string[] {
  return [...new Set(lines.map((l) => l.trim()).filter(Boolean))];
}

/**
 * Markdown without what a page's warning banner already shows: a note, paragraph or list item that
 * only repeats a warning (`> **Note:** …`, or "LPIPS: n/a (no weights): …" when a warning says LPIPS
 * was not computed), so each warning appears once.
 */
export function withoutRepeatedNotes(markdown: string, notes: readonly string[]): string {
  const repeats = (line: string): boolean => {
    const text = line.replace(/^(>|-)\s*(\*\*Note:\*\*\s*)?/, '').replace(/^[A-Za-z ]+:\s*/, '').replace(/\.$/, '').trim();
    return text.length > 0 && notes.some((n) => n.includes(text));
  };
  return markdown.split('\n').filter((l) => l.startsWith('|') || l.startsWith('#') || !repeats(l)).join('\n');
}
