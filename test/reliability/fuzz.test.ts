/**
 * Seeded fuzzing of the image/mask loaders and the iHarmony4 name/list parsers. Every input must either
 * give a well-formed result or throw a HarmoniaError: no other exception type, no hang (per-input
 * timeout), no crash. Inputs that break this are saved under the temp folder printed in the failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readImage, readMask, readCutout, probeImage } from '../../src/image/io.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { parseCompositeName, readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';
import { createImage, createMask } from '../../src/image/types.ts';
import { patternRgb, rawToPng, rawToJpeg, rawToWebp, mutate, MUTATIONS, randomBytes, bombPng } from '../fixtures-gen/images.ts';

const SEED = 20240611;
const IMAGE_INPUTS = 2000;
const PER_INPUT_TIMEOUT_MS = 10_000;
const FUZZ_MAX_PIXELS = 4_000_000;
const dir = mkdtempSync(join(tmpdir(), 'harmonia-fuzz-'));

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`TIMEOUT after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

function checkImage(img: FloatImage, channels: number): string | undefined {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) return `bad dims ${img.width}×${img.height}`;
  if (img.width * img.height > FUZZ_MAX_PIXELS) return `exceeds maxPixels: ${img.width}×${img.height}`;
  if (img.channels !== channels) return `channels ${img.channels} != ${channels}`;
  if (!(img.data instanceof Float32Array) || img.data.length !== img.width * img.height * channels) return `data length ${img.data.length}`;
  for (let i = 0; i < img.data.length; i++) {
    const v = img.data[i];
    if (!(v >= 0 && v <= 1)) return `value ${v} at ${i}`;
  }
  return undefined;
}

function checkMask(m: Mask, expect?: { width: number; height: number }): string | undefined {
  if (!Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width < 1 || m.height < 1) return `bad dims ${m.width}×${m.height}`;
  if (m.data.length !== m.width * m.height) return `data length ${m.data.length}`;
  if (expect && (m.width !== expect.width || m.height !== expect.height)) return `cut-out mask ${m.width}×${m.height} vs image ${expect.width}×${expect.height}`;
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (!(v >= 0 && v <= 1)) return `value ${v} at ${i}`;
  }
  return undefined;
}

async function seedFiles(): Promise<{ name: string; bytes: Buffer }[]> {
  const w = 12;
  const h = 9;
  const rgb = patternRgb(w, h);
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], (i * 23) % 256], i * 4);
  const gray = Buffer.from(Array.from({ length: w * h }, (_, i) => (i * 29) % 256));
  const u16 = Uint16Array.from({ length: w * h * 3 }, (_, i) => (i * 2917) % 65536);
  return [
    { name: 'png-rgb', bytes: await rawToPng(rgb, w, h, 3) },
    { name: 'png-rgba', bytes: await rawToPng(rgba, w, h, 4) },
    { name: 'png-gray', bytes: await rawToPng(gray, w, h, 1) },
    { name: 'png-16', bytes: await rawToPng(u16, w, h, 3) },
    { name: 'png-palette', bytes: await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png({ palette: true }).toBuffer() },
    { name: 'png-interlaced', bytes: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ progressive: true }).toBuffer() },
    { name: 'png-bomb', bytes: bombPng(1500, 1000) },
    { name: 'jpeg', bytes: await rawToJpeg(rgb, w, h, 3) },
    { name: 'jpeg-gray', bytes: await rawToJpeg(gray, w, h, 1) },
    { name: 'jpeg-exif6', bytes: await rawToJpeg(rgb, w, h, 3, { orientation: 6 }) },
    { name: 'jpeg-progressive', bytes: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ progressive: true }).toBuffer() },
    { name: 'webp-lossy', bytes: await rawToWebp(rgb, w, h, 3, false) },
    { name: 'webp-lossless-alpha', bytes: await rawToWebp(rgba, w, h, 4, true) },
    { name: 'gif', bytes: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).gif().toBuffer() },
    { name: 'tiff', bytes: await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).tiff().toBuffer() },
  ];
}

interface Failure { index: number; how: string; loader: string; problem: string; saved: string }

test(`fuzz: ${IMAGE_INPUTS} mutated / random inputs through readImage, readMask, readCutout, probeImage`, async () => {
  const rng = new Rng(SEED);
  const seeds = await seedFiles();
  const failures: Failure[] = [];
  let decoded = 0;
  let refused = 0;
  let calls = 0;
  for (let index = 0; index < IMAGE_INPUTS; index++) {
    let bytes: Buffer;
    let how: string;
    if (rng.next() < 0.12) {
      bytes = randomBytes(rng, 600);
      how = 'random';
    } else {
      const seed = rng.pick(seeds);
      bytes = seed.bytes;
      const steps = rng.int(1, 3);
      const kinds: string[] = [];
      for (let s = 0; s < steps; s++) {
        const kind = rng.pick(MUTATIONS);
        kinds.push(kind);
        bytes = mutate(bytes, kind, rng, rng.pick(seeds).bytes);
      }
      how = `${seed.name}+${kinds.join('+')}`;
    }
    // one input in eight goes through the file-path route, under a random extension
    let src: string | Uint8Array = bytes;
    if (rng.next() < 0.125) {
      src = join(dir, `in-${index}${rng.pick(['.png', '.jpg', '.webp', '.bin', ''])}`);
      writeFileSync(src, bytes);
    }
    const loaders: [string, () => Promise<string | undefined>][] = [
      ['readImage', async () => checkImage(await readImage(src, { maxPixels: FUZZ_MAX_PIXELS }), 3)],
      ['readMask', async () => checkMask(await readMask(src, { maxPixels: FUZZ_MAX_PIXELS }))],
      ['probeImage', async () => {
        const p = await probeImage(src);
        return Number.isInteger(p.width) && p.width > 0 && Number.isInteger(p.height) && p.height > 0 && typeof p.format === 'string' ? undefined : `probe ${JSON.stringify(p)}`;
      }],
    ];
    if (index % 4 === 0) loaders.push(['readImage-rgba', async () => checkImage(await readImage(src, { channels: 4, maxPixels: FUZZ_MAX_PIXELS }), 4)]);
    if (index % 4 === 2) {
      loaders.push(['readCutout', async () => {
        const c = await readCutout(src, { maxPixels: FUZZ_MAX_PIXELS });
        return checkImage(c.image, 3) ?? checkMask(c.mask, c.image);
      }]);
    }
    for (const [loader, run] of loaders) {
      calls++;
      let problem: string | undefined;
      try {
        problem = await withTimeout(run(), PER_INPUT_TIMEOUT_MS, `${loader} #${index}`);
        if (!problem && loader === 'readImage') decoded++;
      } catch (e) {
        if (e instanceof HarmoniaError) {
          if (loader === 'readImage') refused++;
          if (typeof src === 'string' && !e.message.includes(src)) problem = `error does not name the file: ${e.message}`;
        } else {
          problem = `${(e as Error)?.constructor?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`;
        }
      }
      if (problem) {
        const saved = join(dir, `failure-${index}.bin`);
        writeFileSync(saved, bytes);
        failures.push({ index, how, loader, problem, saved });
      }
    }
  }
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failing calls; inputs saved in ${dir}`);
  assert.equal(decoded + refused, IMAGE_INPUTS);
  // the corpus exercises both outcomes substantially
  assert.ok(decoded >= IMAGE_INPUTS * 0.05, `only ${decoded} inputs decoded`);
  assert.ok(refused >= IMAGE_INPUTS * 0.3, `only ${refused} inputs refused`);
  assert.ok(calls >= 3 * IMAGE_INPUTS);
  console.log(`fuzz images: ${IMAGE_INPUTS} inputs, ${calls} loader calls, readImage decoded ${decoded} / refused ${refused}`);
});

const NAME_ALPHABET = ['a', 'Z', '0', '1', '9', '_', '_', '_', '.', '/', '\\', '-', ' ', '\0', '\n', 'é', '😀', '..', 'jpg', 'png', '00', '99999999999999999999'];

function randomName(rng: Rng): string {
  if (rng.next() < 0.3) {
    const real = rng.pick(['f1234', 'a_b', 'x', '', '_', 'c0']);
    const num = (): string => rng.pick(['1', '2', '0', '10', '007', '', 'x', '4294967297', '9007199254740993']);
    return `${real}_${num()}_${num()}${rng.pick(['.jpg', '.png', '', '.JPG', '.jpg.png', '.'])}`;
  }
  const n = rng.int(0, 24);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(NAME_ALPHABET);
  return s;
}

test('fuzz: parseCompositeName on 3,000 random names returns integers and a real name, or throws HarmoniaError', () => {
  const rng = new Rng(SEED + 1);
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const name = randomName(rng);
    try {
      const r = parseCompositeName(name);
      parsed++;
      assert.ok(typeof r.realName === 'string' && r.realName.length > 0, JSON.stringify(name));
      assert.ok(Number.isSafeInteger(r.maskIndex) && r.maskIndex >= 0, `${JSON.stringify(name)} → maskIndex ${r.maskIndex}`);
      assert.ok(Number.isSafeInteger(r.variant) && r.variant >= 0, `${JSON.stringify(name)} → variant ${r.variant}`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof HarmoniaError, `${JSON.stringify(name)}: ${String(e)}`);
    }
  }
  assert.ok(parsed > 100 && parsed < 2900, `parsed ${parsed}`);
});

test('fuzz: readIHarmonyDataset on 250 random list files resolves only existing files, or throws HarmoniaError', async () => {
  const rng = new Rng(SEED + 2);
  const root = join(dir, 'ihd');
  const good: string[] = [];
  for (const subset of ['HFlickr', 'Hday']) {
    for (const f of ['composite_images', 'masks', 'real_images']) mkdirSync(join(root, subset, f), { recursive: true });
    for (const [real, maskIdx, variant, maskW] of [['f1', 1, 1, 8], ['f1', 1, 2, 8], ['g_x', 2, 1, 8], ['bad', 1, 1, 7]] as const) {
      await writeImage(join(root, subset, 'real_images', `${real}.jpg`), createImage(8, 6, 3, 0.5));
      await writeMask(join(root, subset, 'masks', `${real}_${maskIdx}.png`), createMask(maskW, 6, 1));
      const c = `${real}_${maskIdx}_${variant}.jpg`;
      await writeImage(join(root, subset, 'composite_images', c), createImage(8, 6, 3, 0.4));
      good.push(`${subset}/composite_images/${c}`);
    }
  }
  writeFileSync(join(root, 'Hday/masks/f1_1.png'), 'not a png at all'); // a corrupt mask for check: true
  const garbage = (): string => {
    const kind = rng.int(0, 7);
    if (kind === 0) return rng.pick(good).replace(/\d/, String(rng.int(0, 9)));
    if (kind === 1) return `../${rng.pick(good)}`;
    if (kind === 2) return `/${rng.pick(good)}`;
    if (kind === 3) return randomName(rng);
    if (kind === 4) return 'x'.repeat(rng.int(200, 5000));
    if (kind === 5) return rng.pick(good).split('/').pop() ?? '';
    if (kind === 6) return `\uFEFF${rng.pick(good)}`;
    return Buffer.from(Array.from({ length: rng.int(1, 40) }, () => rng.int(0, 255))).toString('latin1');
  };
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < 250; i++) {
    const lines: string[] = [];
    const n = rng.int(0, 6);
    for (let k = 0; k < n; k++) lines.push(rng.next() < 0.6 ? rng.pick(good) : garbage());
    const list = join(root, rng.pick(['IHD_train.txt', 'IHD_test.txt', 'custom.txt']));
    writeFileSync(list, lines.join(rng.pick(['\n', '\r\n', '\n\n', '\r'])) + (rng.next() < 0.5 ? '\n' : ''));
    const opts = { list, check: rng.next() < 0.3, ...(rng.next() < 0.2 ? { subsets: ['HFlickr'] } : {}) };
    try {
      const samples = await withTimeout(readIHarmonyDataset(root, opts), PER_INPUT_TIMEOUT_MS, `list #${i}`);
      ok++;
      for (const s of samples) {
        for (const p of [s.composite, s.mask, s.real]) assert.ok(existsSync(p), `list #${i}: ${p} does not exist`);
        assert.ok(Number.isSafeInteger(s.maskIndex) && Number.isSafeInteger(s.variant));
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof HarmoniaError, `list #${i} (${JSON.stringify(lines)}): ${String(e)}`);
      refused++;
    }
  }
  assert.ok(ok > 20 && refused > 20, `ok ${ok}, refused ${refused}`);
});
