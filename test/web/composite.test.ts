import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeForeground, applyChangeAtFullResolution, rgbaToImage, rgbaToMask, imageToRgba, hasTransparency, maskBounds, defaultPlacement } from '../../src/pipeline/compose.ts';
import { demoBackground, demoForeground } from '../../web/src/demo.ts';
import { createImage, createMask, maskArea } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';

function solid(w: number, h: number, rgb: [number, number, number]) {
  const img = createImage(w, h, 3);
  for (let p = 0; p < w * h; p++) img.data.set(rgb, p * 3);
  return img;
}

test('placeForeground pastes an opaque square exactly and leaves every other pixel untouched', () => {
  const bg = solid(10, 8, [0.2, 0.4, 0.6]);
  const fg = solid(3, 2, [1, 0, 0]);
  const m = createMask(3, 2, 1);
  const { composite, mask } = placeForeground(bg, fg, m, { x: 4, y: 5, scale: 1 });
  assert.equal(maskArea(mask), 6);
  assert.deepEqual(maskBounds(mask), { x: 4, y: 5, w: 3, h: 2 });
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 10; x++) {
      const p = y * 10 + x;
      const inside = x >= 4 && x < 7 && y >= 5 && y < 7;
      const want = inside ? [1, 0, 0] : [0.2, 0.4, 0.6];
      assert.deepEqual(Array.from(composite.data.subarray(p * 3, p * 3 + 3)).map((v) => +v.toFixed(6)), want, `pixel ${x},${y}`);
      assert.equal(mask.data[p], inside ? 1 : 0);
    }
  }
});

test('placeForeground scales, clips at the border, and blends soft alpha without fringes', () => {
  const bg = solid(6, 6, [0, 0, 1]);
  const fg = solid(2, 2, [1, 1, 0]);
  const m = createMask(2, 2, 0.5);
  const { composite, mask } = placeForeground(bg, fg, m, { x: 4, y: -1, scale: 2 });
  // 4×4 footprint at (4,-1): visible columns 4..5, rows 0..2
  assert.deepEqual(maskBounds(mask) ?? null, null); // alpha 0.5 is not > 0.5
  let n = 0;
  for (let p = 0; p < 36; p++) if (mask.data[p] > 0) n++;
  assert.equal(n, 2 * 3);
  const p = 1 * 6 + 5;
  assert.ok(Math.abs(mask.data[p] - 0.5) < 1e-6);
  // premultiplied over: 0.5·fg + 0.5·bg, no darkening from the transparent colour
  assert.deepEqual(Array.from(composite.data.subarray(p * 3, p * 3 + 3)).map((v) => +v.toFixed(5)), [0.5, 0.5, 0.5]);
  assert.throws(() => placeForeground(bg, fg, m, { x: 0, y: 0, scale: 0 }), HarmoniaError);
  assert.throws(() => placeForeground(bg, fg, createMask(3, 2, 1), { x: 0, y: 0, scale: 1 }), /mask is 3×2/);
});

test('applyChangeAtFullResolution moves only masked pixels and keeps full-resolution detail', () => {
  const full = createImage(8, 8, 3);
  for (let i = 0; i < full.data.length; i++) full.data[i] = ((i * 7) % 11) / 11; // fine detail
  const mask = createMask(8, 8);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) mask.data[y * 8 + x] = 1;
  const work = solid(4, 4, [0.5, 0.5, 0.5]);
  const result = solid(4, 4, [0.6, 0.5, 0.4]); // a uniform colour shift
  const out = applyChangeAtFullResolution(full, mask, work, result);
  for (let p = 0; p < 64; p++) {
    for (let k = 0; k < 3; k++) {
      const i = p * 3 + k;
      if (mask.data[p] === 0) assert.equal(out.data[i], full.data[i]);
      else assert.ok(Math.abs(out.data[i] - Math.min(1, Math.max(0, full.data[i] + [0.1, 0, -0.1][k]))) < 1e-6);
    }
  }
  assert.throws(() => applyChangeAtFullResolution(full, createMask(4, 4), work, result), /mask is 4×4/);
});

test('RGBA conversions follow the readMask rule (alpha when it varies, else mean RGB)', () => {
  const rgba = new Uint8ClampedArray([255, 0, 0, 255, 0, 255, 0, 0]);
  assert.equal(hasTransparency(rgba), true);
  assert.deepEqual(Array.from(rgbaToMask(rgba, 2, 1).data), [1, 0]);
  const grey = new Uint8ClampedArray([255, 255, 255, 255, 30, 60, 90, 255]);
  assert.deepEqual(Array.from(rgbaToMask(grey, 2, 1).data).map((v) => +v.toFixed(4)), [1, +(60 / 255).toFixed(4)]);
  const img = rgbaToImage(rgba, 2, 1);
  assert.deepEqual(Array.from(img.data), [1, 0, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(imageToRgba(img, rgbaToMask(rgba, 2, 1))), [255, 0, 0, 255, 0, 255, 0, 0]);
  assert.throws(() => rgbaToImage(rgba, 3, 1), /expected 12 bytes/);
});

test('demo images are deterministic and disagree in colour: warm background, cold foreground', () => {
  const bg = demoBackground(96, 64);
  assert.deepEqual(bg.data, demoBackground(96, 64).data);
  const fg = demoForeground(48);
  const area = maskArea(fg.mask);
  assert.ok(Math.abs(area - Math.PI * 23 * 23) / area < 0.05, `ball area ${area}`);
  const mean = (img: { data: Float32Array }, w: Float32Array | null) => {
    const s = [0, 0, 0];
    let n = 0;
    for (let p = 0; p < img.data.length / 3; p++) {
      if (w && w[p] <= 0.5) continue;
      for (let k = 0; k < 3; k++) s[k] += img.data[p * 3 + k];
      n++;
    }
    return s.map((v) => v / n);
  };
  const b = mean(bg, null);
  const f = mean(fg.image, fg.mask.data);
  assert.ok(b[0] / b[2] > 1.3, `background red/blue ${b[0] / b[2]}`);
  assert.ok(f[0] / f[2] < b[0] / b[2], 'foreground is cooler than the background');
  assert.throws(() => demoBackground(8, 8), /at least 16×16/);
  const pl = defaultPlacement({ width: 100, height: 80 }, { width: 50, height: 50 });
  assert.ok(pl.scale > 0 && pl.x >= 0 && pl.y >= 0 && pl.y + 50 * pl.scale <= 80);
});
