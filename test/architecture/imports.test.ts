/**
 * Layers point down: every `import … from '…'` (and `export … from '…'`, `import('…')`) in src/
 * may name a file of its own layer or of a layer below it, never one above. The order, bottom to
 * top (the same list is in DEVELOPERS.md § Layers):
 *
 *   util, errors.ts, config → engine → image, metrics → data → intrinsic → onnx → export → models, losses
 *   → train → eval → report → pipeline → service → cli and the entry files (index.ts, browser.ts)
 *
 * Files of one layer may import each other, but no two top-level folders (or files) of src/ import
 * each other both ways, and no file reaches itself through its imports (no file cycle, type-only
 * imports included). KNOWN lists the backwards imports not yet moved (issue 14); the test fails on
 * any other one, listing them, and also when a KNOWN one is gone (so the list only shrinks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const SRC = join(ROOT, 'src');

/** Layer of each top-level entry of src/ (a folder or a file), bottom = 0. */
export const LAYERS: readonly (readonly string[])[] = [
  ['util', 'errors.ts', 'config'],
  ['engine'],
  ['image', 'metrics'],
  ['data'],
  ['intrinsic'],
  ['onnx'],
  ['export'],
  ['models', 'losses'],
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

/** Every relative import edge inside src/, as [importer, imported] absolute paths. */
function importEdges(): [string, string][] {
  const edges: [string, string][] = [];
  for (const file of walk(SRC)) {
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (target.startsWith(SRC + '/')) edges.push([file, target]);
    }
  }
  return edges;
}

/** Top-level entry of src/ a file belongs to (a folder, or a file at the root). */
const unitOf = (file: string): string => relative(SRC, file).split(/[\\/]/)[0];

/** Pairs of units that import each other both ways, with one import of each direction. */
export function twoWayPairs(edges: readonly [string, string][], unit: (f: string) => string = unitOf): string[] {
  const first = new Map<string, string>();
  for (const [a, b] of edges) {
    const ua = unit(a), ub = unit(b);
    if (ua !== ub && !first.has(`${ua}→${ub}`)) first.set(`${ua}→${ub}`, `src/${relative(SRC, a)} → src/${relative(SRC, b)}`);
  }
  const out: string[] = [];
  for (const [k, v] of first) {
    const [ua, ub] = k.split('→');
    if (ua < ub && first.has(`${ub}→${ua}`)) out.push(`${ua} ↔ ${ub} (${v}; ${first.get(`${ub}→${ua}`)})`);
  }
  return out.sort();
}

/** The file cycles (strongly connected components of more than one file, or a file importing itself). */
export function fileCycles(edges: readonly [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) {
    if (!next.has(a)) next.set(a, []);
    if (!next.has(b)) next.set(b, []);
    next.get(a)!.push(b);
  }
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const comp: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || next.get(v)!.includes(v)) cycles.push(comp.map((f) => `src/${relative(SRC, f)}`).sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

test('no two top-level folders of src/ import each other both ways (models ↔ export included)', () => {
  const pairs = twoWayPairs(importEdges());
  assert.deepEqual(pairs, [], `${pairs.length} pair(s) of folders import each other:\n  ${pairs.join('\n  ')}`);
});

test('no file cycle in src/ (type-only imports included)', () => {
  const cycles = fileCycles(importEdges());
  assert.deepEqual(cycles, [], `${cycles.length} import cycle(s):\n  ${cycles.map((c) => c.join(' → ')).join('\n  ')}`);
});

test('the pair and cycle checks see a two-way pair and a cycle', () => {
  const f = (p: string): string => join(SRC, p);
  const edges: [string, string][] = [[f('models/a.ts'), f('export/b.ts')], [f('export/c.ts'), f('models/d.ts')], [f('models/d.ts'), f('models/a.ts')], [f('models/a.ts'), f('models/d.ts')]];
  assert.equal(twoWayPairs(edges).length, 1);
  assert.match(twoWayPairs(edges)[0], /^export ↔ models /);
  assert.deepEqual(fileCycles(edges), [['src/models/a.ts', 'src/models/d.ts']]);
  assert.deepEqual(fileCycles([[f('x.ts'), f('x.ts')]]), [['src/x.ts']]);
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
