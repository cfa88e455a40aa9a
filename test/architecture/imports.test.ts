/**
 * Layers point down: every `import … from '…'` (and `export … from '…'`, `import('…')`) in src/
 * may name a file of its own layer or of a layer below it, never one above. The order, bottom to
 * top (the same list is in DEVELOPERS.md § Layers):
 *
 *   util, errors.ts → engine → image, metrics → data → intrinsic → models, losses, export → train
 *   → eval → report → pipeline → service → cli and the entry files (index.ts, browser.ts)
 *
 * Files of one layer may import each other. KNOWN lists the backwards imports not yet moved
 * (issue 14); the test fails on any other one, listing them, and also when a KNOWN one is gone (so
 * the list only shrinks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const SRC = join(ROOT, 'src');

/** Layer of each top-level entry of src/ (a folder or a file), bottom = 0. */
export const LAYERS: readonly (readonly string[])[] = [
  ['util', 'errors.ts'],
  ['engine'],
  ['image', 'metrics'],
  ['data'],
  ['intrinsic'],
  ['models', 'losses', 'export'],
  ['train'],
  ['eval'],
  ['report'],
  ['pipeline'],
  ['service'],
  ['cli', 'index.ts', 'browser.ts', 'browser'],
];

/** Backwards imports still to move (issue 14), as `importer → imported`: none left; the list may only stay empty. */
const KNOWN: readonly string[] = [];

function layerOf(file: string): { name: string; rank: number } {
  const top = relative(SRC, file).split(/[\\/]/)[0];
  const rank = LAYERS.findIndex((l) => l.includes(top));
  if (rank < 0) throw new Error(`src/${top} has no layer: add it to LAYERS (test/architecture/imports.test.ts) and DEVELOPERS.md`);
  return { name: top, rank };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative module specifiers of a source file: static imports/exports (also `import type`) and import('…'). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

test('every import in src/ points to its own layer or a lower one', () => {
  const files = walk(SRC);
  assert.ok(files.length > 50, `found ${files.length} source files`);
  const violations = new Set<string>();
  const known = new Set<string>();
  let checked = 0;
  for (const file of files) {
    const from = layerOf(file);
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: built-ins
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + '/')) continue; // e.g. ../package.json
      checked++;
      const to = layerOf(target);
      if (to.rank <= from.rank) continue;
      const edge = `src/${relative(SRC, file)} → src/${relative(SRC, target)}`;
      if (KNOWN.includes(edge)) known.add(edge);
      else violations.add(`${edge} (${from.name} → ${to.name})`);
    }
  }
  assert.ok(checked > 200, `checked ${checked} relative imports`);
  const list = [...violations];
  assert.deepEqual(list, [], `${list.length} import(s) point up the layers (move the code down, or the import up):\n  ${list.join('\n  ')}`);
  const fixed = KNOWN.filter((k) => !known.has(k));
  assert.deepEqual(fixed, [], `no longer backwards, remove from KNOWN in test/architecture/imports.test.ts:\n  ${fixed.join('\n  ')}`);
});

test('the import parser sees static, type-only, re-export and dynamic imports, not comments', () => {
  const src = [
    "import { a } from './a.ts';",
    "import type { B } from '../b.ts';",
    "export { c } from './c.ts';",
    "export * from './d.ts';",
    "const e = await import('./e.ts');",
    "import {\n  f,\n  g,\n} from './fg.ts';",
    "// import { no } from './comment.ts';",
    "/* import { no2 } from './block.ts'; */",
  ].join('\n');
  assert.deepEqual(importSpecifiers(src), ['./a.ts', '../b.ts', './c.ts', './d.ts', './fg.ts', './e.ts'].sort((x, y) => src.indexOf(x) - src.indexOf(y)));
});
