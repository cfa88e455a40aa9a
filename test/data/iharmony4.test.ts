import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCompositeName, readIHarmonyDataset, writeSubsetLists } from '../../src/data/iharmony4.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';
import { createImage, createMask } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { SHARED, needsShared } from '../helpers.ts';

test('parseCompositeName parses from the right and never assumes mask _1', () => {
  assert.deepEqual(parseCompositeName('f1234_1_2.jpg'), { realName: 'f1234', maskIndex: 1, variant: 2 });
  assert.deepEqual(parseCompositeName('HFlickr/composite_images/my_photo_x_2_10.png'), { realName: 'my_photo_x', maskIndex: 2, variant: 10 });
  assert.deepEqual(parseCompositeName('image_100012_1_1.jpg'), { realName: 'image_100012', maskIndex: 1, variant: 1 });
  for (const bad of ['f1234.jpg', 'f1234_1.jpg', 'f_a_1.jpg', 'f_1_b.jpg', '_1_2.jpg']) {
    assert.throws(() => parseCompositeName(bad), (e: unknown) => e instanceof HarmoniaError && e.message.includes(bad), bad);
  }
});

test('reads the genuine iHarmony4 sample without a list file', { skip: needsShared() }, async () => {
  const root = join(SHARED, 'data/iharmony4-sample');
  const s = await readIHarmonyDataset(root, { check: true });
  assert.equal(s.length, 1);
  assert.equal(s[0].realName, 'a0002');
  assert.equal(s[0].maskIndex, 1);
  assert.equal(s[0].variant, 4);
  assert.equal(s[0].id, 'iharmony4-sample/a0002_1_4');
  assert.ok(s[0].mask.endsWith('masks/a0002_1.png'));
  assert.ok(s[0].real.endsWith('real_images/a0002.jpg'));
});

async function makeSubset(root: string, subset: string, items: { real: string; mask: number; variant: number; maskSize?: number }[]): Promise<void> {
  const d = join(root, subset);
  for (const f of ['composite_images', 'masks', 'real_images']) mkdirSync(join(d, f), { recursive: true });
  for (const it of items) {
    await writeImage(join(d, 'real_images', `${it.real}.jpg`), createImage(8, 6, 3, 0.5));
    await writeMask(join(d, 'masks', `${it.real}_${it.mask}.png`), createMask(it.maskSize ?? 8, 6, 1));
    await writeImage(join(d, 'composite_images', `${it.real}_${it.mask}_${it.variant}.jpg`), createImage(8, 6, 3, 0.4));
  }
}

test('reads an IHD root: root lists, per-subset lists, split filter, subsets filter', async () => {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-ihd-'));
  await makeSubset(root, 'HFlickr', [
    { real: 'f1', mask: 1, variant: 1 }, { real: 'f1', mask: 1, variant: 2 }, { real: 'f_2', mask: 2, variant: 1 },
  ]);
  await makeSubset(root, 'HDay2Night', [{ real: 'd1', mask: 1, variant: 3 }]);
  writeFileSync(join(root, 'HFlickr/HFlickr_train.txt'), 'f1_1_1.jpg\r\nf1_1_2.jpg\n\n');
  writeFileSync(join(root, 'HFlickr/HFlickr_test.txt'), 'f_2_2_1.jpg\n');
  writeFileSync(join(root, 'HDay2Night/HDay2Night_train.txt'), 'd1_1_3.jpg\n');
  // per-subset lists only
  const all = await readIHarmonyDataset(root, { check: true });
  assert.deepEqual(all.map((s) => `${s.id}:${s.split}`).sort(), [
    'HDay2Night/d1_1_3:train', 'HFlickr/f1_1_1:train', 'HFlickr/f1_1_2:train', 'HFlickr/f_2_2_1:test',
  ]);
  const test2 = all.find((s) => s.realName === 'f_2')!;
  assert.equal(test2.maskIndex, 2);
  assert.ok(test2.mask.endsWith('masks/f_2_2.png'));
  assert.equal(test2.source, `${join(root, 'HFlickr/HFlickr_test.txt')}:1`);
  // root lists take precedence
  writeFileSync(join(root, 'IHD_train.txt'), 'HFlickr/composite_images/f1_1_2.jpg\nHDay2Night/composite_images/d1_1_3.jpg\n');
  writeFileSync(join(root, 'IHD_test.txt'), 'HFlickr/composite_images/f_2_2_1.jpg\n');
  const train = await readIHarmonyDataset(root, { split: 'train' });
  assert.deepEqual(train.map((s) => s.id), ['HFlickr/f1_1_2', 'HDay2Night/d1_1_3']);
  assert.ok(train.every((s) => s.split === 'train'));
  const fl = await readIHarmonyDataset(root, { subsets: ['HDay2Night'] });
  assert.deepEqual(fl.map((s) => s.id), ['HDay2Night/d1_1_3']);
  // a subset folder as root
  const sub = await readIHarmonyDataset(join(root, 'HFlickr'), { split: 'test' });
  assert.deepEqual(sub.map((s) => s.id), ['HFlickr/f_2_2_1']);
  // an explicit list
  const ex = await readIHarmonyDataset(root, { list: 'IHD_test.txt' });
  assert.equal(ex[0].split, 'test');
});

test('errors name the list file and line: missing file, bad line, wrong-size mask, missing mask', async () => {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-ihd-bad-'));
  await makeSubset(root, 'S', [{ real: 'a', mask: 1, variant: 1 }, { real: 'b', mask: 1, variant: 1, maskSize: 7 }]);
  const list = join(root, 'IHD_train.txt');
  writeFileSync(list, 'S/composite_images/a_1_1.jpg\nS/composite_images/zzz_1_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(root, { split: 'train' }), (e: unknown) =>
    e instanceof HarmoniaError && e.message.startsWith(`${list}:2:`) && /zzz_1_1\.jpg" points nowhere/.test(e.message));
  writeFileSync(list, '# comment\nS/composite_images/a_1_1.jpg\nS/composite_images/a_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(root, { split: 'train' }), (e: unknown) =>
    e instanceof HarmoniaError && e.message.startsWith(`${list}:3:`) && /not <real>_<maskIndex>_<variant>/.test(e.message));
  writeFileSync(list, 'Nope/composite_images/a_1_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(root, { split: 'train' }), new RegExp(`${list}:1: .*points nowhere`));
  writeFileSync(list, 'S/composite_images/a_1_1.jpg\nS/composite_images/b_1_1.jpg\n');
  await readIHarmonyDataset(root, { split: 'train' }); // sizes not checked without check
  await assert.rejects(readIHarmonyDataset(root, { split: 'train', check: true }), (e: unknown) =>
    e instanceof HarmoniaError && e.message.startsWith(`${list}:2:`) && /b_1\.png is 7×6 but composite .* is 8×6/.test(e.message));
  await writeImage(join(root, 'S/composite_images/a_2_1.jpg'), createImage(8, 6, 3));
  writeFileSync(list, 'S/composite_images/a_2_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(root, { split: 'train' }), new RegExp(`${list}:1: mask .*a_2\\.png for "a_2_1\\.jpg" does not exist`));
  writeFileSync(list, 'S/composite_images/a_1_1.jpg\nS/composite_images/a_1_1.jpg\n');
  await assert.rejects(readIHarmonyDataset(root, { split: 'train' }), /listed twice/);
  await assert.rejects(readIHarmonyDataset(join(root, 'nothing')), /dataset folder does not exist/);
});

test('writeSubsetLists refuses a real image in both splits and keeps other subsets in IHD lists', async () => {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-lists-'));
  await assert.rejects(writeSubsetLists(root, 'X', { train: ['a_1_1.png', 'b_1_1.png'], test: ['a_1_2.png'] }), /split leak: real image "a"/);
  await makeSubset(root, 'X', [{ real: 'a', mask: 1, variant: 1 }, { real: 'c', mask: 1, variant: 1 }]);
  await makeSubset(root, 'Y', [{ real: 'y', mask: 1, variant: 1 }]);
  await writeSubsetLists(root, 'Y', { train: ['y_1_1.jpg'], test: [] });
  await writeSubsetLists(root, 'X', { train: ['c_1_1.jpg'], test: ['a_1_1.jpg'] });
  const tr = await readIHarmonyDataset(root, { split: 'train' });
  assert.deepEqual(tr.map((s) => s.id).sort(), ['X/c_1_1', 'Y/y_1_1']);
  const te = await readIHarmonyDataset(root, { split: 'test' });
  assert.deepEqual(te.map((s) => s.id), ['X/a_1_1']);
});
