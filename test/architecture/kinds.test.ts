/**
 * No kind-specific code outside the generator registry's entries (issue 27): src/ and web/src/ hold no
 * ONNX_FIRST_KINDS, no `kind ?? 'paper'`, no `analysisSize ?? 128` and no comparison with a built-in
 * generator's name outside src/models/registry.ts, and the stride 8 is written only in the paper entry.
 * No exception: the discriminator's per-image kind, once also called 'global', is 'image' (configs written
 * before the rename are mapped on read: normalizeDiscriminatorKind, tested in test/models/discriminator.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = new URL('../../src', import.meta.url).pathname;
const WEB = new URL('../../web/src', import.meta.url).pathname;
const ENTRIES = new Set(['models/registry.ts']);
/** Files whose matches are not generator kinds (none since the discriminator's kind was renamed). */
const NOT_GENERATOR_KINDS = new Set<string>();

function walk(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.ts$/.test(n) ? [p] : [];
  });
}

const code = (s: string): string => s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

test('no kind-specific code outside the registry entries', () => {
  const patterns: [string, RegExp][] = [
    ['ONNX_FIRST_KINDS', /ONNX_FIRST_KINDS/],
    ["kind ?? 'paper'", /kind\s*\?\?\s*['"]paper['"]/],
    ['analysisSize ?? 128', /analysisSize\s*\?\?\s*128/],
    ['a comparison with a built-in kind', /[!=]==\s*['"](paper|global|pct)['"]|['"](paper|global|pct)['"]\s*[!=]==/],
    ['stride 8', /\bstride\s*[:=]\s*8\b|%\s*8\b/],
  ];
  const found: string[] = [];
  for (const f of [...walk(SRC), ...walk(WEB)]) {
    const rel = f.startsWith(WEB) ? `../web/src/${relative(WEB, f)}` : relative(SRC, f);
    if (ENTRIES.has(rel) || NOT_GENERATOR_KINDS.has(rel)) continue;
    const text = code(readFileSync(f, 'utf8'));
    for (const [what, re] of patterns) if (re.test(text)) found.push(`src/${rel}: ${what}`);
  }
  assert.deepEqual(found, []);
});
