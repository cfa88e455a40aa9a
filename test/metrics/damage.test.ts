/** Do-no-harm statistics (src/eval/damage.ts) on known values, and the identity dataset reader. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { damageSummary, nearestRank } from '../../src/eval/damage.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

test('damageSummary: mean, median, nearest-rank p99 and shares above 100/300/1000; null-only input gives null', () => {
  const v = [0, 50, 150, 400, 2000, null];
  const d = damageSummary(v);
  assert.ok(d);
  assert.equal(d.n, 5);
  assert.equal(d.mean, 520);
  assert.equal(d.median, 150);
  assert.equal(d.p99, 2000);
  assert.equal(d.max, 2000);
  assert.deepEqual(d.above.map((a) => [a.threshold, a.count]), [[100, 3], [300, 2], [1000, 1]]);
  assert.equal(d.above[0].share, 0.6);
  assert.equal(damageSummary([1, 3])?.median, 2);
  assert.equal(damageSummary([null, Number.NaN]), null);
  const hundred = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(nearestRank(hundred, 0.99), 198);
  assert.equal(nearestRank([5], 0.99), 5);
});

test('readIHarmonyDataset identity mode: a folder of real photos + masks + lists is a subset whose inputs are the real photos', async () => {
  const dir = join(tempDir('harmonia-identity-ds-'), 'photos');
  await photoSource(dir, 3, 16);
  writeFileSync(join(dir, 'photos_test.txt'), 'photo0_1_1.jpg\nphoto2_1_1.jpg\n');
  writeFileSync(join(dir, 'photos_train.txt'), 'photo1_1_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(dir, { split: 'test' }), /not an iHarmony4 dataset/);
  const s = await readIHarmonyDataset(dir, { split: 'test', identity: true });
  assert.deepEqual(s.map((x) => x.id), ['photos/photo0_1_1', 'photos/photo2_1_1']);
  for (const x of s) assert.equal(x.composite, x.real, 'the input is the real photo');
  assert.match(s[0].mask, /photo0_1\.png$/);
  mkdirSync(join(dir, 'composite_images'));
  const again = await readIHarmonyDataset(dir, { split: 'test', identity: true });
  assert.equal(again[0].composite, again[0].real, 'identity mode ignores composite files');
});
