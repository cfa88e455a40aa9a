/**
 * The Node API's cut-out mode: harmonize({ background, foreground, at, scale }) places an RGBA cut-out
 * as `harmonia harmonize --background --foreground --at --scale` does, then harmonizes. Checked against
 * the composite + mask path on the same placement and against the CLI's output (bit for bit), and each
 * argument's validation names it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { harmonize, harmonizeWithReport } from '../../src/pipeline/harmonize.ts';
import { readImage } from '../../src/image/io.ts';
import { placeForeground } from '../../src/pipeline/compose.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { tempDirFactory } from '../helpers.ts';

const root = new URL('../..', import.meta.url).pathname;
const tempDir = tempDirFactory();

function scene(): { bg: Buffer; cut: Buffer; bgImg: FloatImage; fg: FloatImage; fgMask: Mask } {
  const w = 120, h = 90, s = 40;
  const bgRaw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    bgRaw[i] = 170 + Math.round(50 * x / w); bgRaw[i + 1] = 110 + Math.round(30 * y / h); bgRaw[i + 2] = 40 + ((x * 5 + y * 3) % 13);
  }
  const cutRaw = Buffer.alloc(s * s * 4);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) {
    const i = (y * s + x) * 4;
    const d = Math.hypot(x - 19.5, y - 19.5);
    cutRaw[i] = 40 + (x % 6 < 3 ? 25 : 0); cutRaw[i + 1] = 90; cutRaw[i + 2] = 210 - y * 2;
    cutRaw[i + 3] = d < 16 ? 255 : d < 18 ? Math.round(255 * (18 - d) / 2) : 0;
  }
  const bgImg: FloatImage = { width: w, height: h, channels: 3, data: Float32Array.from(bgRaw, (v) => v / 255) };
  const fg: FloatImage = { width: s, height: s, channels: 3, data: new Float32Array(s * s * 3) };
  const fgMask: Mask = { width: s, height: s, data: new Float32Array(s * s) };
  for (let p = 0; p < s * s; p++) {
    for (let k = 0; k < 3; k++) fg.data[p * 3 + k] = cutRaw[p * 4 + k] / 255;
    fgMask.data[p] = cutRaw[p * 4 + 3] / 255;
  }
  return { bg: bgRaw, cut: cutRaw, bgImg, fg, fgMask };
}

test('harmonize({ background, foreground, at, scale }) equals the composite + mask path and the CLI, bit for bit', { timeout: 120_000 }, async (t) => {
  const sc = scene();
  const dir = tempDir('harmonia-cutout-');
  const bgPng = join(dir, 'bg.png'), cutPng = join(dir, 'cut.png'), cliOut = join(dir, 'cli.png');
  await sharp(sc.bg, { raw: { width: 120, height: 90, channels: 3 } }).png().toFile(bgPng);
  await sharp(sc.cut, { raw: { width: 40, height: 40, channels: 4 } }).png().toFile(cutPng);

  const r = await harmonizeWithReport({ background: bgPng, foreground: cutPng, at: [30, 25], scale: 1.25 });
  assert.equal(r.width, 120);
  assert.equal(r.height, 90);
  // the same placement through the composite + mask path
  const bgImg = await readImage(bgPng);
  const placed = placeForeground(bgImg, sc.fg, sc.fgMask, { x: 30, y: 25, scale: 1.25 });
  const viaComposite = await harmonize({ composite: placed.composite, mask: placed.mask });
  assert.ok(Buffer.from(r.image).equals(viaComposite), 'cut-out mode = placeForeground + composite/mask mode');
  // { x, y } and an in-memory foreground give the same bytes
  const inMemory = await harmonize({ background: bgImg, foreground: { image: sc.fg, mask: sc.fgMask }, at: { x: 30, y: 25 }, scale: 1.25 });
  assert.ok(Buffer.from(r.image).equals(inMemory), 'in-memory { image, mask } foreground and { x, y } = files and [x, y]');

  // the CLI's cut-out mode writes the same image
  const cli = spawnSync(process.execPath, [join(root, 'bin', 'harmonia.mjs'), 'harmonize', '--background', bgPng, '--foreground', cutPng, '--at', '30,25', '--scale', '1.25', '-o', cliOut], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(cli.status, 0, `CLI failed: ${cli.stdout}\n${cli.stderr}`);
  assert.ok(readFileSync(cliOut).equals(Buffer.from(r.image)), 'Node API cut-out mode = harmonia harmonize --background --foreground --at --scale');

  // harmonized: the foreground changed, the background outside the mask is the input's exactly
  const out = await readImage(r.image);
  let fgChanged = 0, bgChanged = 0, fgPx = 0;
  for (let p = 0; p < 120 * 90; p++) {
    const d = [0, 1, 2].some((k) => out.data[p * 3 + k] !== placed.composite.data[p * 3 + k]);
    if (placed.mask.data[p] > 0.5) { fgPx++; fgChanged += d ? 1 : 0; } else if (placed.mask.data[p] === 0) bgChanged += d ? 1 : 0;
  }
  t.diagnostic(`cut-out 120×90, scale 1.25 at (30, 25): ${fgPx} foreground px, ${fgChanged} changed; ${bgChanged} background px changed; stage ${r.stage}, model ${r.model}`);
  assert.ok(fgPx > 1000 && fgChanged / fgPx > 0.5, `foreground changed on ${fgChanged}/${fgPx} px`);
  assert.equal(bgChanged, 0);

  // default placement (no at, no scale) works too and differs from the explicit one
  const dflt = await harmonize({ background: bgPng, foreground: cutPng });
  assert.ok(!Buffer.from(dflt).equals(Buffer.from(r.image)));
});

test('cut-out mode: each argument is validated by name', async () => {
  const sc = scene();
  const dir = tempDir('harmonia-cutout-bad-');
  const bgPng = join(dir, 'bg.png'), cutPng = join(dir, 'cut.png'), opaque = join(dir, 'opaque.png');
  await sharp(sc.bg, { raw: { width: 120, height: 90, channels: 3 } }).png().toFile(bgPng);
  await sharp(sc.cut, { raw: { width: 40, height: 40, channels: 4 } }).png().toFile(cutPng);
  await sharp(sc.bg, { raw: { width: 120, height: 90, channels: 3 } }).png().toFile(opaque);
  writeFileSync(join(dir, 'not-an-image.png'), 'hello');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ foreground: cutPng }, /cut-out mode needs background/],
    [{ background: bgPng }, /cut-out mode needs foreground/],
    [{ background: bgPng, foreground: cutPng, composite: bgPng }, /either composite \+ mask or background \+ foreground/],
    [{ background: bgPng, foreground: cutPng, at: 'x' }, /at must be \[x, y\] or \{ x, y \}.*"x"/],
    [{ background: bgPng, foreground: cutPng, at: [1] }, /at must be \[x, y\]/],
    [{ background: bgPng, foreground: cutPng, at: [0, Number.NaN] }, /at must be/],
    [{ background: bgPng, foreground: cutPng, scale: 0 }, /scale must be a number in \(0, 16\], got 0/],
    [{ background: bgPng, foreground: cutPng, scale: '2' }, /scale must be a number in \(0, 16\], got "2"/],
    [{ background: 42, foreground: cutPng }, /background must be a path, encoded bytes, or a FloatImage/],
    [{ background: bgPng, foreground: { image: sc.fg } }, /foreground must be a path, encoded bytes \(an RGBA cut-out\), or \{ image: FloatImage, mask: Mask \}/],
    [{ background: bgPng, foreground: { image: sc.fg, mask: { width: 3, height: 3, data: new Float32Array(9) } } }, /foreground\.mask is 3×3/],
    [{ background: bgPng, foreground: opaque }, /opaque\.png: foreground cut-out has no alpha channel/],
    [{ background: bgPng, foreground: cutPng, at: [500, 500] }, /cut-out placed with at \[500, 500\] and scale .* lies outside the 120×90 background/],
    [{ background: join(dir, 'missing.png'), foreground: cutPng }, /missing\.png/],
  ];
  for (const [opts, re] of cases) {
    await assert.rejects(harmonize(opts as never), (err: Error) => {
      assert.equal(err.name, 'HarmoniaError', `${JSON.stringify(opts)}: ${err.stack}`);
      assert.match(err.message, re, JSON.stringify(opts));
      return true;
    });
  }
});
