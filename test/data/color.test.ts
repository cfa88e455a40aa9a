import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  srgbToLinear, linearToSrgb, gammaToLinear, linearToGamma, linearRgbToLalphabeta, lalphabetaToLinearRgb,
  rgbToHsv, hsvToRgb, rgbToLalphabeta, lalphabetaToRgb, luminance, imageToLinear, imageFromLinear, BRIGHTNESS,
} from '../../src/image/color.ts';
import { createImage } from '../../src/image/types.ts';

test('piecewise sRGB: known values and round trip', () => {
  assert.ok(Math.abs(srgbToLinear(0.5) - 0.21404114) < 1e-7);
  assert.ok(Math.abs(srgbToLinear(0.04) - 0.04 / 12.92) < 1e-9);
  assert.ok(Math.abs(linearToSrgb(0.0031308) - 0.0404500) < 1e-6);
  for (let v = 0; v <= 1; v += 0.01) assert.ok(Math.abs(linearToSrgb(srgbToLinear(v)) - v) < 1e-9);
});

test('pure 2.2 power law differs from the piecewise curve', () => {
  assert.ok(Math.abs(gammaToLinear(0.5) - Math.pow(0.5, 2.2)) < 1e-12);
  assert.ok(Math.abs(gammaToLinear(0.5) - 0.217637640824031) < 1e-9);
  assert.ok(Math.abs(linearToGamma(gammaToLinear(0.3)) - 0.3) < 1e-12);
  assert.ok(Math.abs(gammaToLinear(0.02) - srgbToLinear(0.02)) > 1e-3);
  const img = createImage(2, 1, 3, 0.5);
  const lin = imageToLinear(img, 'gamma22');
  assert.ok(Math.abs(lin.data[0] - 0.217637640824031) < 1e-6);
  const back = imageFromLinear(lin, 'gamma22');
  assert.ok(Math.abs(back.data[5] - 0.5) < 1e-6);
});

test('Lαβ: white is achromatic, round trip is exact, α/β flip sign for blue/yellow and red/green', () => {
  const w = linearRgbToLalphabeta(1, 1, 1);
  // RGB_TO_LMS rows sum to ~1 so white maps to log10(1) = 0 in every channel
  assert.ok(Math.abs(w[0]) < 1e-3 && Math.abs(w[1]) < 1e-3 && Math.abs(w[2]) < 1e-3, `white ${Array.from(w)}`);
  const yellow = linearRgbToLalphabeta(0.8, 0.8, 0.1);
  const blue = linearRgbToLalphabeta(0.1, 0.1, 0.8);
  assert.ok(yellow[1] > 0 && blue[1] < 0);
  const red = linearRgbToLalphabeta(0.8, 0.1, 0.1);
  const green = linearRgbToLalphabeta(0.1, 0.8, 0.1);
  assert.ok(red[2] > 0 && green[2] < 0);
  for (const [r, g, b] of [[0.2, 0.5, 0.9], [0.9, 0.1, 0.3], [0.01, 0.02, 0.03]]) {
    const lab = linearRgbToLalphabeta(r, g, b);
    const rgb = lalphabetaToLinearRgb(lab[0], lab[1], lab[2]);
    assert.ok(Math.abs(rgb[0] - r) < 1e-9 && Math.abs(rgb[1] - g) < 1e-9 && Math.abs(rgb[2] - b) < 1e-9, `${r},${g},${b} → ${Array.from(rgb)}`);
  }
  const img = createImage(3, 1, 3);
  img.data.set([0.2, 0.4, 0.6, 0.9, 0.5, 0.1, 0.3, 0.3, 0.3]);
  const back = lalphabetaToRgb(rgbToLalphabeta(img));
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(back.data[i] - img.data[i]) < 1e-5);
});

test('HSV: primaries, gray, round trip', () => {
  assert.deepEqual(Array.from(rgbToHsv(1, 0, 0)), [0, 1, 1]);
  const g = rgbToHsv(0, 1, 0);
  assert.ok(Math.abs(g[0] - 1 / 3) < 1e-12);
  const b = rgbToHsv(0, 0, 0.5);
  assert.ok(Math.abs(b[0] - 2 / 3) < 1e-12 && b[2] === 0.5);
  assert.deepEqual(Array.from(rgbToHsv(0.4, 0.4, 0.4)), [0, 0, 0.4]);
  const mag = rgbToHsv(1, 0, 0.5);
  assert.ok(Math.abs(mag[0] - (1 - 1 / 12)) < 1e-12);
  for (const [r, gg, bb] of [[0.1, 0.7, 0.3], [0.9, 0.2, 0.6], [0.5, 0.5, 0.2]]) {
    const h = rgbToHsv(r, gg, bb);
    const back = hsvToRgb(h[0], h[1], h[2]);
    assert.ok(Math.abs(back[0] - r) < 1e-12 && Math.abs(back[1] - gg) < 1e-12 && Math.abs(back[2] - bb) < 1e-12);
  }
});

test('luminance weights', () => {
  const img = createImage(1, 1, 3);
  img.data.set([1, 0, 0]);
  assert.ok(Math.abs(luminance(img).data[0] - 0.2126) < 1e-7);
  img.data.set([0.5, 0.5, 0.5]);
  assert.ok(Math.abs(luminance(img, BRIGHTNESS).data[0] - 0.5) < 1e-7);
});
