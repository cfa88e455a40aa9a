/**
 * Bad-input matrix over the image/mask API (src/image/io.ts): every case either throws a HarmoniaError
 * naming the file and the problem, or gives a documented, checked result (docs/RELIABILITY.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  readImage, readMask, readCutout, probeImage, writeImage, writeMask, maskCoverage, assertUsableMask, DEFAULT_MAX_PIXELS,
} from '../../src/image/io.ts';
import { createImage, hardMask, type FloatImage } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { patternRgb, rawToPng, rawToJpeg, rawToWebp, bombPng } from '../fixtures-gen/images.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-badinput-'));
const W = 24;
const H = 16;

/** Asserts `p` rejects with a HarmoniaError whose message names `file` and matches `re`. */
async function rejectsClean(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HarmoniaError, `expected HarmoniaError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

function write(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function assertUnitRange(img: FloatImage): void {
  assert.equal(img.data.length, img.width * img.height * img.channels);
  for (const v of img.data) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `value ${v}`);
}

test('truncated PNG/JPEG/WebP: a HarmoniaError naming the file, or (PNG cut after the last IDAT) the exact pixels', async () => {
  const raw = patternRgb(W, H);
  const full = await readImage(await rawToPng(raw, W, H, 3));
  const encoded = {
    png: await rawToPng(raw, W, H, 3),
    jpg: await rawToJpeg(raw, W, H, 3),
    webp: await rawToWebp(raw, W, H, 3, false),
  };
  let errors = 0;
  let exact = 0;
  for (const [ext, bytes] of Object.entries(encoded)) {
    const cuts = [1, 8, 20, Math.floor(bytes.length * 0.1), Math.floor(bytes.length * 0.5), Math.floor(bytes.length * 0.9), bytes.length - 13, bytes.length - 1];
    for (const cut of cuts) {
      const p = write(`trunc-${cut}.${ext}`, bytes.subarray(0, cut));
      try {
        const img = await readImage(p);
        // Only a PNG whose pixel data is complete (the cut fell in the trailing IEND chunk) may decode.
        assert.equal(ext, 'png', `${p} decoded although truncated`);
        assert.ok(cut >= bytes.length - 12, `${p}: PNG cut inside the pixel data decoded`);
        assert.deepEqual(img.data, full.data);
        exact++;
      } catch (e) {
        assert.ok(e instanceof HarmoniaError, `${p}: ${(e as Error).message}`);
        assert.ok(e.message.startsWith(`${p}: `), e.message);
        assert.match(e.message, /corrupt or truncated|not a supported image/);
        errors++;
      }
    }
  }
  assert.ok(errors >= 22, `errors ${errors}`);
  assert.ok(exact <= 2);
});

test('corrupt PNG (bytes flipped in IDAT) is an error; corrupt JPEG/WebP data is an error or a valid image of the right size', async () => {
  const raw = patternRgb(W, H);
  const png = await rawToPng(raw, W, H, 3);
  const idat = png.indexOf('IDAT');
  for (const off of [8, 20, 40]) {
    const bad = Buffer.from(png);
    bad[idat + off] ^= 0x5a;
    const p = write(`corrupt-${off}.png`, bad);
    await rejectsClean(readImage(p), p, /corrupt or truncated image/);
  }
  // JPEG and lossy WebP have no checksum over the entropy-coded data: damage there can decode to wrong
  // pixels; what is guaranteed is a HarmoniaError or a well-formed image of the header's size.
  for (const [ext, bytes] of [['jpg', await rawToJpeg(raw, W, H, 3)], ['webp', await rawToWebp(raw, W, H, 3, false)]] as const) {
    for (const frac of [0.3, 0.6, 0.8]) {
      const bad = Buffer.from(bytes);
      for (let k = 0; k < 6; k++) bad[Math.floor(bad.length * frac) + k] ^= 0xff;
      const p = write(`corrupt-${frac}.${ext}`, bad);
      try {
        const img = await readImage(p);
        assert.equal(img.width, W);
        assert.equal(img.height, H);
        assertUnitRange(img);
      } catch (e) {
        assert.ok(e instanceof HarmoniaError && e.message.startsWith(`${p}: `), String(e));
      }
    }
  }
});

test('not an image: text named .png, SVG named .png, zero bytes, a folder, a device, missing path, NUL in path', async () => {
  const txt = write('notes.png', 'hello, I am not a PNG\n');
  await rejectsClean(readImage(txt), txt, /not a supported image/);
  await rejectsClean(readMask(txt), txt, /not a supported image/);
  await rejectsClean(probeImage(txt), txt, /not a supported image/);
  const svg = write('vector.png', '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
  await rejectsClean(readImage(svg), svg, /SVG input is refused/);
  const empty = write('empty.png', '');
  for (const f of [readImage, readMask, readCutout, probeImage] as const) await rejectsClean(f(empty), empty, /empty file \(0 bytes\)/);
  await assert.rejects(readImage(new Uint8Array(0)), /empty buffer/);
  const folder = join(dir, 'folder.png');
  mkdirSync(folder);
  await rejectsClean(readImage(folder), folder, /is a folder, not an image file/);
  if (existsSync('/dev/zero')) await rejectsClean(readImage('/dev/zero'), '/dev/zero', /not a regular file/);
  const missing = join(dir, 'no-such-dir', 'nope.jpg');
  for (const f of [readImage, readMask, readCutout, probeImage] as const) await rejectsClean(f(missing), missing, /cannot read: no such file or folder/);
  await assert.rejects(readImage('a\0b.png'), (e: unknown) => e instanceof HarmoniaError && /invalid image path/.test(e.message));
  await assert.rejects(readImage(join(dir, 'x.png'), { maxPixels: 0 }), (e: unknown) => e instanceof HarmoniaError && /maxPixels must be a positive integer/.test(e.message));
});

test('mask of a different size is an error naming the mask and both sizes', async () => {
  const m = join(dir, 'mask-small.png');
  await writeMask(m, { width: 7, height: 5, data: new Float32Array(35).fill(1) });
  await rejectsClean(readMask(m, { expect: { width: 8, height: 5, what: 'composite c.jpg' } }), m, /mask is 7×5 but composite c\.jpg is 8×5/);
  const ok = await readMask(m, { expect: { width: 7, height: 5 } });
  assert.equal(ok.data.length, 35);
});

test('all-black / all-white masks read as 0 / 1 everywhere; assertUsableMask rejects both, naming the file', async () => {
  const black = join(dir, 'black.png');
  const white = join(dir, 'white.png');
  await sharp({ create: { width: 9, height: 4, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toFile(black);
  await sharp({ create: { width: 9, height: 4, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toFile(white);
  const b = await readMask(black);
  const w = await readMask(white);
  assert.ok(b.data.every((v) => v === 0));
  assert.ok(w.data.every((v) => v === 1));
  assert.deepEqual(maskCoverage(b), { area: 0, fraction: 0, softPixels: 0 });
  assert.deepEqual(maskCoverage(w), { area: 36, fraction: 1, softPixels: 0 });
  assert.throws(() => assertUsableMask(b, black), (e: unknown) => e instanceof HarmoniaError && e.message.startsWith(`${black}: mask has no foreground`));
  assert.throws(() => assertUsableMask(w, white), (e: unknown) => e instanceof HarmoniaError && e.message.startsWith(`${white}: mask is foreground everywhere`));
});

test('soft (anti-aliased) mask keeps its soft values exactly; foreground is > 127', async () => {
  const vals = [0, 1, 64, 127, 128, 200, 254, 255];
  const p = join(dir, 'soft.png');
  await sharp(Uint8Array.from(vals), { raw: { width: 8, height: 1, channels: 1 } }).png().toFile(p);
  const m = await readMask(p);
  assert.deepEqual(Array.from(m.data), vals.map((v) => Math.fround(v / 255)));
  assert.deepEqual(Array.from(hardMask(m).data), [0, 0, 0, 0, 1, 1, 1, 1]);
  const c = assertUsableMask(m, p);
  assert.deepEqual(c, { area: 4, fraction: 0.5, softPixels: 6 });
  // the same mask stored as RGB (as iHarmony4 ships masks) reads identically
  const rgb = join(dir, 'soft-rgb.png');
  await sharp(Uint8Array.from(vals.flatMap((v) => [v, v, v])), { raw: { width: 8, height: 1, channels: 3 } }).png().toFile(rgb);
  assert.deepEqual(Array.from((await readMask(rgb)).data), Array.from(m.data));
});

test('RGBA PNG: RGB by default, exact alpha with channels 4, alpha is the mask, cut-out splits both', async () => {
  const px = [255, 0, 0, 255, 0, 128, 255, 0, 10, 20, 30, 128, 1, 2, 3, 200];
  const p = join(dir, 'rgba.png');
  await sharp(Uint8Array.from(px), { raw: { width: 2, height: 2, channels: 4 } }).png().toFile(p);
  const rgb = await readImage(p);
  assert.equal(rgb.channels, 3);
  assert.deepEqual(Array.from(rgb.data), [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14].map((i) => Math.fround(px[i] / 255)));
  const rgba = await readImage(p, { channels: 4 });
  assert.deepEqual(Array.from(rgba.data), px.map((v) => Math.fround(v / 255)));
  const m = await readMask(p);
  assert.deepEqual(Array.from(m.data), [255, 0, 128, 200].map((v) => Math.fround(v / 255)));
  const cut = await readCutout(p);
  assert.deepEqual(Array.from(cut.mask.data), Array.from(m.data));
  assert.deepEqual(Array.from(cut.image.data), Array.from(rgb.data));
  // an image without alpha is not a cut-out
  const opaque = join(dir, 'opaque.png');
  await writeImage(opaque, createImage(2, 2, 3, 0.5));
  await rejectsClean(readCutout(opaque), opaque, /cut-out has no alpha channel/);
});

test('16-bit PNGs (gray, gray+alpha, RGB, RGBA) keep 16-bit values exactly (v / 65535)', async () => {
  const cases: [1 | 2 | 3 | 4, number[]][] = [
    [1, [0, 1, 1000, 65535]],
    [2, [0, 65535, 1000, 0, 30000, 32768, 65535, 1]],
    [3, [0, 1, 2, 1000, 30000, 65535, 257, 12345, 54321, 7, 8, 9]],
    [4, [0, 65535, 1000, 65535, 30000, 40000, 50000, 32768, 1, 2, 3, 4, 65535, 0, 65534, 100]],
  ];
  for (const [c, vals] of cases) {
    const p = write(`u16-${c}.png`, await rawToPng(Uint16Array.from(vals), 2, vals.length / c / 2, c));
    assert.equal((await sharp(p).metadata()).depth, 'ushort');
    const img = await readImage(p, { channels: 4 });
    const n = vals.length / c;
    const expect: number[] = [];
    for (let i = 0; i < n; i++) {
      const px = vals.slice(i * c, i * c + c).map((v) => v / 65535);
      const colour = c <= 2 ? [px[0], px[0], px[0]] : px.slice(0, 3);
      const alpha = c === 2 || c === 4 ? px[c - 1] : 1;
      expect.push(...colour, alpha);
    }
    assert.deepEqual(Array.from(img.data), expect.map(Math.fround), `channels ${c}`);
  }
});

test('grayscale composites (8-bit PNG, gray JPEG) are expanded to RGB with r = g = b', async () => {
  const vals = [0, 50, 100, 255, 17, 222];
  const p = join(dir, 'gray.png');
  await sharp(Uint8Array.from(vals), { raw: { width: 3, height: 2, channels: 1 } }).png().toFile(p);
  const img = await readImage(p);
  assert.equal(img.channels, 3);
  assert.deepEqual(Array.from(img.data), vals.flatMap((v) => [v, v, v]).map((v) => Math.fround(v / 255)));
  const big = Buffer.alloc(16 * 16, 90);
  const j = write('gray.jpg', await rawToJpeg(big, 16, 16, 1));
  assert.equal((await sharp(j).metadata()).channels, 1);
  const gj = await readImage(j);
  for (let i = 0; i < 256; i++) {
    assert.equal(gj.data[i * 3], gj.data[i * 3 + 1]);
    assert.equal(gj.data[i * 3], gj.data[i * 3 + 2]);
    assert.ok(Math.abs(gj.data[i * 3] - 90 / 255) < 2 / 255);
  }
});

test('CMYK JPEG is converted to RGB (3 channels), not misread as RGBA', async () => {
  const raw = Buffer.alloc(16 * 16 * 3);
  for (let i = 0; i < 256; i++) raw.set([200, 40, 40], i * 3);
  const p = write('cmyk.jpg', await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer());
  assert.equal((await sharp(p).metadata()).space, 'cmyk');
  const img = await readImage(p, { channels: 4 });
  const px = Array.from(img.data.slice(8 * 16 * 4 + 32, 8 * 16 * 4 + 36));
  // RGB → CMYK → RGB goes through sharp's default CMYK profile, so the colour is close, not exact
  assert.ok(Math.abs(px[0] - 200 / 255) < 0.05 && px[1] < 40 / 255 + 0.05 && px[2] < 40 / 255 + 0.05 && px[1] > 0 && px[2] > 0, String(px));
  assert.equal(px[3], 1);
  await assert.rejects(readCutout(p), /no alpha channel/);
});

test('EXIF-rotated JPEG: orientation applied, width/height swapped, pixels land right', async () => {
  // 32×16 stored: left half red, right half blue (flat blocks: no JPEG ringing at the sample points)
  const w = 32;
  const h = 16;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
  const red = (img: FloatImage, x: number, y: number): boolean => img.data[(y * img.width + x) * 3] > 0.8 && img.data[(y * img.width + x) * 3 + 2] < 0.2;
  const blue = (img: FloatImage, x: number, y: number): boolean => img.data[(y * img.width + x) * 3] < 0.2 && img.data[(y * img.width + x) * 3 + 2] > 0.8;
  const p6 = write('exif6.jpg', await rawToJpeg(raw, w, h, 3, { orientation: 6, quality: 100 }));
  assert.equal((await sharp(p6).metadata()).orientation, 6);
  const img = await readImage(p6);
  assert.deepEqual([img.width, img.height], [h, w]);
  assert.deepEqual(await probeImage(p6), { width: h, height: w, channels: 3, format: 'jpeg' });
  // orientation 6 = rotate 90° clockwise: the stored left (red) half ends up on top
  assert.ok(red(img, 8, 4) && red(img, 2, 12), 'top is red');
  assert.ok(blue(img, 8, 27) && blue(img, 13, 20), 'bottom is blue');
  const p3 = write('exif3.jpg', await rawToJpeg(raw, w, h, 3, { orientation: 3, quality: 100 }));
  const r3 = await readImage(p3);
  assert.deepEqual([r3.width, r3.height], [w, h]);
  assert.ok(blue(r3, 4, 8) && red(r3, 27, 8), '180°: left is blue');
  const p8 = write('exif8.jpg', await rawToJpeg(raw, w, h, 3, { orientation: 8, quality: 100 }));
  const r8 = await readImage(p8);
  assert.deepEqual([r8.width, r8.height], [h, w]);
  assert.ok(blue(r8, 8, 4) && red(r8, 8, 27), '90° counter-clockwise: top is blue');
  // a mask stored with the same orientation lines up with its image
  const mp = write('exif6-mask.jpg', await rawToJpeg(Buffer.from(Array.from({ length: w * h }, (_, i) => (i % w < w / 2 ? 255 : 0))), w, h, 1, { orientation: 6, quality: 100 }));
  const m = await readMask(mp, { expect: { width: img.width, height: img.height } });
  assert.ok(m.data[4 * h + 8] > 0.9 && m.data[27 * h + 8] < 0.1);
});

test('1×1 images decode and round-trip', async () => {
  const p = write('one.png', await rawToPng(Uint8Array.from([1, 2, 3]), 1, 1, 3));
  const img = await readImage(p);
  assert.deepEqual([img.width, img.height, img.channels], [1, 1, 3]);
  assert.deepEqual(Array.from(img.data), [1, 2, 3].map((v) => Math.fround(v / 255)));
  const out = join(dir, 'one-out.png');
  await writeImage(out, img);
  assert.deepEqual(Array.from((await readImage(out)).data), Array.from(img.data));
  const j = write('one.jpg', await rawToJpeg(Uint8Array.from([100, 100, 100]), 1, 1, 3));
  const ij = await readImage(j);
  assert.deepEqual([ij.width, ij.height], [1, 1]);
  assert.ok(Math.abs(ij.data[0] - 100 / 255) < 3 / 255);
  const m = await readMask(write('one-mask.png', await rawToPng(Uint8Array.from([255]), 1, 1, 1)));
  assert.deepEqual(Array.from(m.data), [1]);
});

test('20000×20000 PNG decompression bomb (tiny file) is refused at the header with a pixel-limit error', async () => {
  const bytes = bombPng(20000, 20000);
  assert.ok(bytes.length < 100_000, `bomb file is ${bytes.length} bytes`);
  const p = write('bomb.png', bytes);
  assert.deepEqual(await probeImage(p), { width: 20000, height: 20000, channels: 1, format: 'png' });
  for (const f of [readImage, readMask, readCutout] as const) {
    await rejectsClean(f(p), p, /larger than the pixel limit of 100,000,000 pixels \(possible decompression bomb\)/);
  }
  assert.equal(DEFAULT_MAX_PIXELS, 100_000_000);
  // the limit is configurable and applies to the decoded size
  const small = write('bomb-small.png', bombPng(300, 200));
  await rejectsClean(readImage(small, { maxPixels: 59_999 }), small, /pixel limit of 59,999/);
  const ok = await readImage(small, { maxPixels: 60_000 });
  assert.deepEqual([ok.width, ok.height], [300, 200]);
  assert.ok(ok.data.every((v) => v === 0));
});

test('iHarmony4 list files: folder as list, binary list, NUL and ../ lines, corrupt mask with check', async () => {
  const root = join(dir, 'ihd');
  for (const f of ['composite_images', 'masks', 'real_images']) mkdirSync(join(root, 'S', f), { recursive: true });
  await writeImage(join(root, 'S/real_images/a.jpg'), createImage(8, 6, 3, 0.5));
  await writeImage(join(root, 'S/composite_images/a_1_1.jpg'), createImage(8, 6, 3, 0.4));
  writeFileSync(join(root, 'S/masks/a_1.png'), 'garbage, not a PNG');
  const list = join(root, 'IHD_train.txt');
  const listErr = async (content: string | Buffer, re: RegExp, opts: { check?: boolean } = {}): Promise<void> => {
    writeFileSync(list, content);
    await assert.rejects(readIHarmonyDataset(root, { split: 'train', ...opts }), (e: unknown) => {
      assert.ok(e instanceof HarmoniaError, String(e));
      assert.match(e.message, re);
      return true;
    });
  };
  await listErr('S/composite_images/a_1_1.jpg\n', /a_1\.png: not a readable image/, { check: true });
  await listErr(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff, 10]), new RegExp(`${list}:1: `));
  await listErr('S/composite_images/a\0_1_1.jpg\n', new RegExp(`${list}:1: `));
  await listErr('../../etc/passwd_1_1.jpg\n', new RegExp(`${list}:1: `));
  mkdirSync(join(root, 'listdir.txt'));
  await assert.rejects(readIHarmonyDataset(root, { list: join(root, 'listdir.txt') }), (e: unknown) => e instanceof HarmoniaError && e.message.includes('listdir.txt'));
});
