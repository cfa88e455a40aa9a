/**
 * Split hygiene across everything the project generates: no real image may appear in both the train and
 * the test lists (per subset lists and IHD root lists), for make-composites (on the shared Lalonde real
 * photos, through the CLI) and make-procedural. Also: the same command twice gives identical files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { parseCompositeName, readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { SHARED, needsShared } from '../helpers.ts';

/** Real names of every line of the train and test lists (IHD root lists and each subset's lists). */
function realsOfLists(root: string): { train: Set<string>; test: Set<string> } {
  const out = { train: new Set<string>(), test: new Set<string>() };
  const lists: string[] = [];
  for (const f of readdirSync(root, { recursive: true }) as string[]) if (/_(train|test)\.txt$/.test(f)) lists.push(f);
  assert.ok(lists.length >= 4, `lists found: ${lists.join(', ')}`);
  for (const f of lists) {
    const split = f.endsWith('_train.txt') ? 'train' : 'test';
    const subset = f.includes('/') ? f.split('/')[0] : '';
    for (const line of readFileSync(join(root, f), 'utf8').split('\n').filter(Boolean)) {
      const sub = subset || line.split('/')[0];
      out[split].add(`${sub}/${parseCompositeName(line).realName}`);
    }
  }
  return out;
}

function assertDisjoint(root: string): void {
  const { train, test: t } = realsOfLists(root);
  assert.ok(train.size > 0 && t.size > 0, `train ${train.size}, test ${t.size}`);
  const both = [...t].filter((r) => train.has(r));
  assert.deepEqual(both, [], 'real images in both train and test lists');
}

const files = (d: string): string[] => (readdirSync(d, { recursive: true }) as string[]).filter((f) => /\.(png|jpg|txt|json)$/.test(f)).sort();

test('make-composites on lalonde-real: disjoint splits that follow the source lists; same seed → identical files', { skip: needsShared() }, async () => {
  const src = join(SHARED, 'data/lalonde-real');
  const a = mkdtempSync(join(tmpdir(), 'harmonia-hyg-a-'));
  const b = mkdtempSync(join(tmpdir(), 'harmonia-hyg-b-'));
  const args = ['--real', src, '--limit', '10', '--seed', '3', '--quiet'];
  assert.equal(await main(['make-composites', ...args, '--out', a]), 0);
  assert.equal(await main(['make-composites', ...args, '--out', b]), 0);
  assertDisjoint(a);
  const srcTest = new Set(readFileSync(join(src, 'lalonde-real_test.txt'), 'utf8').split('\n').filter(Boolean).map((l) => parseCompositeName(l).realName));
  const t = await readIHarmonyDataset(a, { split: 'test' });
  const tr = await readIHarmonyDataset(a, { split: 'train' });
  assert.ok(t.length >= 8 && tr.length >= 8, `test ${t.length}, train ${tr.length}`);
  assert.ok(t.every((s) => srcTest.has(s.realName)), 'test composites come from the source test list');
  assert.ok(tr.every((s) => !srcTest.has(s.realName)), 'train composites never use a source test image');
  assert.deepEqual(files(a), files(b));
  for (const f of files(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
});

test('make-procedural: disjoint splits', async () => {
  const d = mkdtempSync(join(tmpdir(), 'harmonia-hyg-p-'));
  assert.equal(await main(['make-procedural', '--out', d, '--count', '12', '--seed', '2', '--size', '32', '--test-fraction', '0.25', '--quiet']), 0);
  assertDisjoint(d);
});

test('both generators into one root: IHD lists stay disjoint', { skip: needsShared() }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'harmonia-hyg-both-'));
  assert.equal(await main(['make-procedural', '--out', d, '--count', '8', '--seed', '1', '--size', '32', '--test-fraction', '0.25', '--quiet']), 0);
  assert.equal(await main(['make-composites', '--real', join(SHARED, 'data/lalonde-real'), '--out', d, '--limit', '3', '--quiet']), 0);
  assertDisjoint(d);
  const all = await readIHarmonyDataset(d);
  assert.deepEqual([...new Set(all.map((s) => s.subset))].sort(), ['Procedural', 'Synthetic']);
});
