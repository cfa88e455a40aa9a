import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readImage, readMask, writeImage, readCutout } from '../src/image/io.ts';
import { resizeImage } from '../src/image/resize.ts';
import { createImage, hardMask, maskArea } from '../src/image/types.ts';
import { HarmoniaError } from '../src/errors.ts';
import { SHARED, sharedAvailable } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-image-'));

test('PNG round trip is exact at 8 bit', async () => {
  const img = createImage(5, 4, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 % 256) / 255;
  const p = join(dir, 'rt.png');
  await writeImage(p, img);
  const back = await readImage(p);
  assert.equal(back.width, 5);
  assert.equal(back.height, 4);
  for (let i = 0; i < img.data.length; i++) assert.ok(Math.abs(back.data[i] - img.data[i]) < 1e-6);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('16-bit grayscale PNG reads as RGB with 16-bit precision', async () => {
  const px = new Uint16Array([0, 1000, 30000, 65535]);
  const p = join(dir, 'g16.png');
  await sharp(Buffer.from(px.buffer), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toFile(p).catch(async () => {
    // some sharp builds need an explicit 16-bit raw depth
    await sharp(Buffer.from(px.buffer), { raw: { width: 2, height: 2, channels: 1, premultiplied: false } }).png({ } ).toFile(p);
  });
  const img = await readImage(p);
  assert.equal(img.channels, 3);
  assert.equal(img.data[0], img.data[1]);
});

test('mask from RGBA cut-out uses alpha; foreground is value > 127', async () => {
  const raw = Buffer.alloc(2 * 1 * 4);
  raw.set([10, 20, 30, 255, 10, 20, 30, 0]);
  const p = join(dir, 'cut.png');
  await sharp(raw, { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(p);
  const m = await readMask(p);
  assert.deepEqual(Array.from(m.data), [1, 0]);
  const c = await readCutout(p);
  assert.equal(c.image.channels, 3);
  assert.equal(maskArea(c.mask), 1);
  const edge = Buffer.from([127, 128]);
  const p2 = join(dir, 'edge.png');
  await sharp(edge, { raw: { width: 2, height: 1, channels: 1 } }).png().toFile(p2);
  assert.deepEqual(Array.from(hardMask(await readMask(p2)).data), [0, 1]);
});

test('bad files give errors naming the file and the problem', async () => {
  const txt = join(dir, 'text.png');
  writeFileSync(txt, 'hello, not an image');
  await assert.rejects(readImage(txt), (e: unknown) => e instanceof HarmoniaError && /text\.png/.test(e.message) && /not a supported image/.test(e.message));
  const empty = join(dir, 'empty.jpg');
  writeFileSync(empty, '');
  await assert.rejects(readImage(empty), /empty\.jpg: empty file/);
  await assert.rejects(readImage(join(dir, 'nope.png')), /nope\.png: cannot read: no such file/);
  const img = createImage(4, 4, 3, 0.5);
  const p = join(dir, 'ok.png');
  await writeImage(p, img);
  await assert.rejects(readImage(p, { maxPixels: 10 }), /pixel limit/);
  await assert.rejects(readMask(p, { expect: { width: 3, height: 4 } }), /mask is 4×4 but the image is 3×4/);
});

test('atomic write into a missing folder fails cleanly and leaves nothing', async () => {
  const p = join(dir, 'missing', 'x.png');
  await assert.rejects(writeImage(p, createImage(2, 2)), /missing\/x\.png: cannot write/);
  assert.equal(existsSync(join(dir, 'missing')), false);
});

test('resize: constant stays constant for every kernel; area downscale averages exactly', () => {
  const img = createImage(8, 6, 3, 0.25);
  for (const k of ['nearest', 'bilinear', 'bicubic', 'area'] as const) {
    const r = resizeImage(img, 5, 3, k);
    for (const v of r.data) assert.ok(Math.abs(v - 0.25) < 1e-6, k);
  }
  const g = createImage(4, 2, 1);
  g.data.set([0, 1, 2, 3, 4, 5, 6, 7]);
  const a = resizeImage(g, 2, 1, 'area');
  assert.deepEqual(Array.from(a.data), [2.5, 4.5]);
});

test('reads the genuine iHarmony4 sample (2832×4256, RGB mask)', { skip: sharedAvailable() ? false : `shared data not found at ${SHARED}` }, async () => {
  const comp = await readImage(join(SHARED, 'data/iharmony4-sample/composite_images/a0002_1_4.jpg'));
  const mask = await readMask(join(SHARED, 'data/iharmony4-sample/masks/a0002_1.png'), { expect: comp });
  assert.equal(comp.width * comp.height, 2832 * 4256);
  const share = maskArea(mask) / (mask.width * mask.height);
  assert.ok(share > 0.01 && share < 0.99, `foreground share ${share}`);
});
