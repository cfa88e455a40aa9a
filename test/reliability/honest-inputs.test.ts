/**
 * Issue 28's minor classes "no silent lossy conversion" and "success that does nothing useful":
 * a 16-bit input and transparency dropped from an RGB read are announced once (stderr by default,
 * setImageNotices redirects); a cut-out placed off the background, or fully transparent, is an error
 * naming the flag as typed; a partly cut-off one a note; an empty mask a note on stderr (exit 0,
 * output = input, as documented). The Node API's cut-out mode refuses and notes the same way, naming at/scale.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { patternRgb, rawToPng } from '../fixtures-gen/images.ts';
import { readImage, readCutout, setImageNotices } from '../../src/image/io.ts';
import { placeForeground, placedShare } from '../../src/pipeline/compose.ts';

const tempDir = tempDirFactory();
const dir = tempDir('harmonia-honest-');
const W = 32;
const H = 24;
after(() => setImageNotices((m) => console.error(`harmonia: warning: ${m}`)));

async function png16(path: string): Promise<string> {
  const b = new Uint16Array(W * H * 3);
  for (let i = 0; i < b.length; i++) b[i] = (i * 2917) % 65536;
  await sharp(Buffer.from(b.buffer), { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toFile(path);
  return path;
}

async function cutout(path: string, w: number, h: number, alpha: (x: number) => number): Promise<string> {
  const b = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) b.set([200, 60, 40, alpha(i % w)], i * 4);
  writeFileSync(path, await rawToPng(b, w, h, 4));
  return path;
}

test('a 16-bit input is read at full precision and announced once; transparency dropped by an RGB read is announced once', async () => {
  const seen: string[] = [];
  setImageNotices((m) => seen.push(m));
  const p16 = await png16(join(dir, 'c16.png'));
  const img = await readImage(p16);
  assert.ok(img.data.some((v) => Math.abs(v * 255 - Math.round(v * 255)) > 1e-3), '16-bit precision kept in the float image (values between 8-bit steps)');
  await readImage(p16);
  assert.deepEqual(seen, [`${p16} has 16 bits per channel: it is read at full precision, but results are written with 8 bits per channel`]);
  const rgba = Buffer.alloc(W * H * 4);
  const rgb = patternRgb(W, H);
  for (let i = 0; i < W * H; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], i % 2 ? 255 : 90], i * 4);
  const pa = join(dir, 'alpha.png');
  writeFileSync(pa, await rawToPng(rgba, W, H, 4));
  await readImage(pa, { channels: 4 });
  assert.equal(seen.length, 1, 'channels: 4 keeps the alpha: nothing to announce');
  await readImage(pa);
  assert.match(seen[1], /alpha\.png has transparent pixels: its alpha channel is dropped and it is read as opaque RGB/);
  // an opaque RGBA image loses nothing
  const opaque = join(dir, 'opaque.png');
  for (let i = 0; i < W * H; i++) rgba[i * 4 + 3] = 255;
  writeFileSync(opaque, await rawToPng(rgba, W, H, 4));
  setImageNotices((m) => seen.push(m));
  await readImage(opaque);
  assert.equal(seen.length, 2);
  // a cut-out's alpha is its mask (kept), its bit depth is announced
  const cut = await readCutout(pa);
  assert.equal(cut.mask.data[0], Math.fround(90 / 255));
  setImageNotices(null);
  await readImage(p16); // silenced
  assert.equal(seen.length, 2);
});

test('placedShare: on the canvas, partly off it, entirely off it', () => {
  const bg = { width: 40, height: 30, channels: 3 as const, data: new Float32Array(40 * 30 * 3).fill(0.5) };
  const fg = { width: 10, height: 10, channels: 3 as const, data: new Float32Array(300).fill(0.8) };
  const m = { width: 10, height: 10, data: new Float32Array(100).fill(1) };
  const inside = placeForeground(bg, fg, m, { x: 5, y: 5, scale: 1 });
  assert.deepEqual(placedShare(m, { x: 5, y: 5, scale: 1 }, inside.mask), { cutoutArea: 100, scaledArea: 100, placedArea: 100, share: 1 });
  const half = placeForeground(bg, fg, m, { x: 35, y: 5, scale: 1 });
  assert.equal(placedShare(m, { x: 35, y: 5, scale: 1 }, half.mask).share, 0.5);
  const off = placeForeground(bg, fg, m, { x: 400, y: 5, scale: 1 });
  assert.equal(placedShare(m, { x: 400, y: 5, scale: 1 }, off.mask).placedArea, 0);
});

test('CLI: a cut-out off the background or fully transparent is an error naming --at; partly off is a note; 16-bit is a warning even with --quiet', async () => {
  const bg = join(dir, 'bg.png');
  writeFileSync(bg, await rawToPng(patternRgb(W, H), W, H, 3));
  const cut = await cutout(join(dir, 'cut.png'), 20, 10, (x) => (x > 3 && x < 16 ? 255 : 0));
  const clear = await cutout(join(dir, 'clear.png'), 20, 10, () => 0);
  const out = join(dir, 'out.png');
  const off = await runCli(['harmonize', '--background', bg, '--foreground', cut, '--at', '100,100', '--scale', '1', '-o', out, '--stage', 'intrinsic']);
  assert.equal(off.code, 2);
  assert.deepEqual(off.stderr, ['harmonia harmonize: the 20×10 cut-out at --at 100,100 --scale 1 lies outside the 32×24 background: nothing to harmonize (choose --at inside it)']);
  assert.ok(!existsSync(out));
  const none = await runCli(['harmonize', '--background', bg, '--foreground', clear, '-o', out, '--stage', 'intrinsic']);
  assert.equal(none.code, 2);
  assert.deepEqual(none.stderr, [`harmonia harmonize: ${clear}: the foreground cut-out is fully transparent (no alpha above 127/255): nothing to harmonize`]);
  const part = await runCli(['harmonize', '--background', bg, '--foreground', cut, '--at', '26,2', '--scale', '1', '-o', out, '--stage', 'intrinsic']);
  assert.equal(part.code, 0, part.stderr.join('\n'));
  assert.deepEqual(part.stderr, ['note: only 17 % of the 20×10 cut-out at --at 26,2 --scale 1 lies on the 32×24 background; the rest is cut off']);
  // the 16-bit warning is not a note: --quiet keeps it (only errors and warnings)
  const seen: string[] = [];
  setImageNotices((m) => seen.push(m));
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  writeFileSync(join(dir, 'mask.png'), await rawToPng(m, W, H, 1));
  const q = await runCli(['harmonize', await png16(join(dir, 'q16.png')), '--mask', join(dir, 'mask.png'), '-o', join(dir, 'q.png'), '--stage', 'intrinsic', '--quiet']);
  assert.equal(q.code, 0, q.stderr.join('\n'));
  assert.equal(seen.length, 1);
  assert.match(seen[0], /q16\.png has 16 bits per channel/);
});

test('Node API: harmonize({ background, foreground, at, scale }) refuses a cut-out entirely off the background or fully transparent, naming at and scale; a partly cut-off one is a note in the result', async () => {
  const { harmonize, harmonizeWithReport } = await import('../../src/pipeline/harmonize.ts');
  const { HarmoniaError } = await import('../../src/errors.ts');
  const bg = join(dir, 'api-bg.png');
  writeFileSync(bg, await rawToPng(patternRgb(W, H), W, H, 3));
  const cut = await cutout(join(dir, 'api-cut.png'), 20, 10, (x) => (x > 3 && x < 16 ? 255 : 0));
  const clear = await cutout(join(dir, 'api-clear.png'), 20, 10, () => 0);
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ at: [100, 100], scale: 1 }, /^harmonize: the 20×10 cut-out placed with at \[100, 100\] and scale 1 lies outside the 32×24 background: nothing to harmonize \(choose at and scale that put it on the background\)$/],
    [{ at: { x: -40, y: 0 }, scale: 1 }, /with at \[-40, 0\] and scale 1 lies outside the 32×24 background/],
    // a half-size cut-out whose top edge is below the background
    [{ at: [0, 30], scale: 0.5 }, /with at \[0, 30\] and scale 0\.5 lies outside/],
  ];
  for (const [extra, re] of refused) {
    await assert.rejects(harmonize({ background: bg, foreground: cut, stage: 'intrinsic', ...extra } as never), (e: unknown) => e instanceof HarmoniaError && re.test(e.message), JSON.stringify(extra));
  }
  await assert.rejects(harmonize({ background: bg, foreground: clear, stage: 'intrinsic' }), (e: unknown) => e instanceof HarmoniaError && /fully transparent .*nothing to harmonize/.test(e.message));
  // partly off: harmonized, and the result says how much was cut off (the CLI prints the same note)
  const part = await harmonizeWithReport({ background: bg, foreground: cut, at: [26, 2], scale: 1, stage: 'intrinsic' });
  assert.equal(part.width, W);
  assert.ok(part.notes.includes('only 17 % of the 20×10 cut-out placed with at [26, 2] and scale 1 lies on the 32×24 background; the rest is cut off'), part.notes.join(' | '));
  // wholly on the background: no such note
  const whole = await harmonizeWithReport({ background: bg, foreground: cut, at: [2, 2], scale: 1, stage: 'intrinsic' });
  assert.ok(!whole.notes.some((n) => /cut off/.test(n)), whole.notes.join(' | '));
});
