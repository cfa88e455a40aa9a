/**
 * Issue 25, the service's fast path keeps the library's results:
 * - quantize() (the server's 8-bit conversion) equals the library's toUint8 on every value class
 *   (NaN, ±0, negatives, > 1, ±Infinity, the rounding boundaries k ± 0.5 of every level, random floats);
 * - a PNG at every zlib level decodes to the library's 8-bit pixels; without a level the bytes are the
 *   library's encodeImage bytes;
 * - runImageJob (decode both inputs at once, the stages, one encode) gives harmonize()'s pixels on a
 *   256² composite (the same bytes at the library's level), and the queue worker's file-named errors;
 * - the pool pipelines: a thread holds two small requests at once (every answer still correct), never
 *   two large ones (over PIPELINE_PIXELS), and its uploads are moved, not copied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { harmonize } from '../../src/pipeline/harmonize.ts';
import { encodeImage, toUint8 } from '../../src/image/io.ts';
import type { FloatImage } from '../../src/image/types.ts';
import { Rng } from '../../src/util/random.ts';
import { quantize, encodeResult, runImageJob } from '../../src/service/job.ts';
import { HarmonizePool, PIPELINE_PIXELS } from '../../src/service/pool.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../../src/pipeline/model.ts';

process.env.HARMONIA_NATIVE_THREADS ??= '1';
const shipped = isModelDir(DEFAULT_MODEL_DIR);
const noShipped = 'skipped: no shipped model in models/default';

/** A w×h composite (PNG) with a soft-edged foreground square recoloured, and its mask (PNG). */
async function composite(w: number, h: number, seed: number): Promise<{ c: Buffer; m: Buffer }> {
  const rng = new Rng(seed);
  const rgb = Buffer.alloc(w * h * 3), m = Buffer.alloc(w * h);
  const tint = [rng.next(), rng.next(), rng.next()].map((v) => 0.6 + 0.8 * v);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const inside = x > w * 0.3 && x < w * 0.7 && y > h * 0.35 && y < h * 0.8;
      for (let k = 0; k < 3; k++) {
        const base = 60 + 120 * ((x * (k + 1) + y * (3 - k)) % 97) / 97 + 20 * Math.sin((x + y * k) / 9);
        rgb[i * 3 + k] = Math.max(0, Math.min(255, Math.round(inside ? base * tint[k] : base)));
      }
      m[i] = inside ? 255 : 0;
    }
  }
  return {
    c: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(),
    m: await sharp(m, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer(),
  };
}

const raw = (b: Uint8Array) => sharp(b).raw().toBuffer();

test('quantize equals the library\'s toUint8 on every value class', () => {
  const special = [NaN, 0, -0, -1e-30, 1e-30, 2 ** -24, 1, 1 + 2 ** -23, 1 - 2 ** -24, -1, 2, Infinity, -Infinity, 0.5, 0.49999997];
  // the rounding boundaries of every level, as float32, and their neighbours
  const bounds: number[] = [];
  for (let k = 0; k < 256; k++) {
    const f = Math.fround((k + 0.5) / 255);
    bounds.push(f, Math.fround(f * (1 + 2 ** -23)), Math.fround(f * (1 - 2 ** -23)), Math.fround(k / 255));
  }
  const rng = new Rng(25);
  const random = Array.from({ length: 200_000 }, () => rng.next() * 1.4 - 0.2);
  const data = Float32Array.from([...special, ...bounds, ...random]);
  const img: FloatImage = { width: data.length, height: 1, channels: 1, data };
  assert.deepEqual(quantize(data), toUint8(img));
});

test('PNG at every zlib level: the library\'s pixels; without a level: the library\'s bytes', async () => {
  const rng = new Rng(7);
  const w = 67, h = 41;
  const data = Float32Array.from({ length: w * h * 3 }, () => rng.next() * 1.1 - 0.05);
  const img: FloatImage = { width: w, height: h, channels: 3, data };
  const want = Buffer.from(toUint8(img));
  const sizes: number[] = [];
  for (let level = 0; level <= 9; level++) {
    const png = await encodeResult(img, 'png', { pngLevel: level });
    assert.ok((await raw(png)).equals(want), `level ${level}`);
    sizes.push(png.byteLength);
  }
  assert.ok(sizes[0] > sizes[9], `level 0 stores, level 9 compresses: ${sizes.join(', ')}`);
  assert.ok(Buffer.from(await encodeResult(img, 'png')).equals(await encodeImage(img, 'png')));
  assert.ok(Buffer.from(await encodeResult(img, 'jpeg', { quality: 90, pngLevel: 1 })).equals(await encodeImage(img, 'jpeg', { quality: 90 })), 'other formats: the library\'s');
});

test('runImageJob on a 256² composite: harmonize()\'s pixels at the fast level, its bytes at the library\'s', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const { c, m } = await composite(256, 256, 3);
  const want = await harmonize({ composite: c, mask: m });
  const fast = await runImageJob({ composite: c, mask: m, pngLevel: 1 });
  assert.ok((await raw(fast.image)).equals(await raw(want)), 'same pixels');
  assert.ok(!Buffer.from(fast.image).equals(want), 'other bytes (level 1, not 6): the pixel check is not vacuous');
  assert.ok(fast.timings.decode > 0 && fast.timings.encode > 0 && fast.timings.gan > 0, JSON.stringify(fast.timings));
  const lib = await runImageJob({ composite: c, mask: m });
  assert.ok(Buffer.from(lib.image).equals(want), 'the library\'s bytes');
  assert.equal(lib.model, fast.model);
  // the queue worker's messages name the files
  const small = await composite(32, 24, 4);
  await assert.rejects(runImageJob({ composite: c, mask: small.m, labels: { composite: '/in/c.png', mask: '/in/m.png' } }),
    (e: Error) => e.message === '/in/m.png: mask is 32×24 but the composite /in/c.png is 256×256');
  await assert.rejects(runImageJob({ composite: Buffer.from('not an image'), mask: Buffer.from('nor this'), labels: { composite: '/in/c.png', mask: '/in/m.png' } }),
    (e: Error) => /^\/in\/c\.png: not a supported image/.test(e.message), 'the composite\'s error first');
  await assert.rejects(runImageJob({ composite: c, mask: Buffer.from('x'), labels: { composite: '/in/c.png', mask: '/in/m.png' } }), (e: Error) => /^\/in\/m\.png: /.test(e.message));
  await assert.rejects(runImageJob({ composite: c, mask: m, pngLevel: 10 }), /pngLevel must be an integer in \[0, 9\]/);
});

test('the pool pipelines small requests (two per thread, all correct) and never two large ones', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const pool = await HarmonizePool.create({ threads: 1, maxQueue: 16, models: [DEFAULT_MODEL_DIR], pngLevel: 1 });
  try {
    assert.equal(pool.pipeline, 2);
    assert.equal(pool.capacity, 1 * 2 + 16);
    const inputs = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => composite(200 + 8 * k, 160, 10 + k)));
    const wants = await Promise.all(inputs.map(async ({ c, m }) => raw(await harmonize({ composite: c, mask: m }))));
    const jobs = inputs.map(({ c, m }) => ({ composite: new Uint8Array(c), mask: new Uint8Array(m), pngLevel: 1 }));
    const results = await Promise.all(jobs.map((j) => pool.submit(j, { transfer: true })));
    for (const [k, r] of results.entries()) assert.ok((await raw(r.image)).equals(wants[k]), `request ${k}`);
    assert.equal(pool.maxHeld, 2, 'the thread held two requests at once');
    assert.equal(jobs[0].composite.byteLength, 0, 'the upload was moved to the thread, not copied');
    assert.equal(jobs[0].mask.byteLength, inputs[0].m.byteLength, 'a buffer under 4 KiB is copied');
    // an image over PIPELINE_PIXELS: the thread takes nothing more while it holds it
    const side = Math.ceil(Math.sqrt(PIPELINE_PIXELS * 1.05));
    const big = await composite(side, side, 30);
    const before = pool.maxHeld;
    pool.maxHeld = 0;
    const two = await Promise.all([0, 1].map(() => pool.submit({ composite: big.c, mask: big.m, pngLevel: 1 })));
    assert.equal(pool.maxHeld, 1, `${side}² is over ${PIPELINE_PIXELS} pixels: never held with another`);
    assert.ok(two[0].image.byteLength > 0 && Buffer.from(two[0].image).equals(Buffer.from(two[1].image)));
    assert.equal(before, 2);
  } finally {
    await pool.close();
  }
});
