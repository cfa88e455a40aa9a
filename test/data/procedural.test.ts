import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderScene, makeProceduralComposite, writeProceduralDataset, lambertShading, illuminantColor, SHADING_SCALE } from '../../src/data/procedural.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { readImage, readMask } from '../../src/image/io.ts';

test('procedural scene satisfies I_lin = A·S, S = strength·max(0,n·l)+ambient, unit normals, sRGB = I^(1/2.2)', () => {
  const light = { direction: [0.3, 0.8, 0.4] as [number, number, number], strength: 0.9, ambient: 0.2 };
  const s = renderScene({ seed: 7, width: 64, height: 48, light, shadows: false });
  const d = s.light.direction;
  assert.ok(Math.abs(Math.hypot(...d) - 1) < 1e-12, 'light direction normalised');
  let objectPx = 0;
  for (let i = 0; i < 64 * 48; i++) {
    const n = [s.normals.data[i * 3], s.normals.data[i * 3 + 1], s.normals.data[i * 3 + 2]];
    assert.ok(Math.abs(Math.hypot(n[0], n[1], n[2]) - 1) < 1e-5);
    const sh = 0.9 * Math.max(0, n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) + 0.2;
    assert.ok(Math.abs(s.shading.data[i] - sh) < 1e-5, `shading at ${i}`);
    for (let k = 0; k < 3; k++) {
      const a = s.albedo.data[i * 3 + k];
      assert.ok(a >= 0 && a <= 1);
      const want = Math.pow(Math.min(1, a * sh), 1 / 2.2);
      assert.ok(Math.abs(s.image.data[i * 3 + k] - want) < 1e-5);
    }
  }
  // object masks are disjoint hard masks; the top row is sky facing the camera, the bottom row is ground facing up
  const cover = new Float32Array(64 * 48);
  for (const m of s.objectMasks) for (let i = 0; i < m.data.length; i++) { assert.ok(m.data[i] === 0 || m.data[i] === 1); cover[i] += m.data[i]; objectPx += m.data[i]; }
  assert.ok(cover.every((v) => v <= 1));
  assert.ok(objectPx > 20, `objects cover ${objectPx} px`);
  assert.deepEqual(Array.from(s.normals.data.slice(0, 3)), [0, 0, 1]);
  assert.equal(s.objectKinds.length, s.objectMasks.length);
  // same seed → identical; other seed → different
  const again = renderScene({ seed: 7, width: 64, height: 48, light, shadows: false });
  assert.deepEqual(again.image.data, s.image.data);
  assert.notDeepEqual(renderScene({ seed: 8, width: 64, height: 48, light }).image.data, s.image.data);
});

test('a sphere lit from the upper right is brighter at its upper right (y up convention)', () => {
  const light = { direction: [0.6, 0.6, 0.52915] as [number, number, number], strength: 1, ambient: 0.1 };
  assert.ok(lambertShading([0, 1, 0], light) > lambertShading([0, -1, 0], light));
  let spheres = 0;
  for (let seed = 0; seed < 4; seed++) {
  const s = renderScene({ seed, width: 128, height: 128, light, shadows: false });
  for (let k = 0; k < s.objectMasks.length; k++) {
    if (s.objectKinds[k] !== 'sphere') continue;
    if (s.objectMasks[k].data.reduce((a, v) => a + v, 0) < 200) continue; // mostly occluded
    spheres++;
    // shading-weighted centroid lies right of and above (smaller row) the mask centroid
    const m = s.objectMasks[k];
    let sw = 0, sx = 0, sy = 0, n = 0, mx = 0, my = 0;
    for (let i = 0; i < m.data.length; i++) {
      if (!m.data[i]) continue;
      const v = s.shading.data[i], x = i % 128, y = Math.floor(i / 128);
      sw += v; sx += v * x; sy += v * y; n++; mx += x; my += y;
    }
    assert.ok(sx / sw > mx / n + 0.5 && sy / sw < my / n - 0.5, `bright centroid (${sx / sw},${sy / sw}) vs (${mx / n},${my / n})`);
  }
  }
  assert.ok(spheres > 0, 'at least one visible sphere checked');
});

test('cast shadows only lower ground shading, never below ambient', () => {
  const light = { direction: [0.5, 0.6, 0.3] as [number, number, number], strength: 1, ambient: 0.25 };
  const a = renderScene({ seed: 11, width: 96, height: 96, light, shadows: true });
  const b = renderScene({ seed: 11, width: 96, height: 96, light, shadows: false });
  let shadowed = 0;
  for (let i = 0; i < a.shading.data.length; i++) {
    assert.ok(a.shading.data[i] <= b.shading.data[i] + 1e-6 && a.shading.data[i] >= 0.25 - 1e-6);
    if (a.shading.data[i] < b.shading.data[i] - 1e-3) shadowed++;
  }
  assert.ok(shadowed > 0, 'some ground pixels are in shadow');
});

test('procedural composite: background identical to real, foreground re-lit and recoloured', () => {
  const pc = makeProceduralComposite({ seed: 5, width: 64, height: 64 });
  let fg = 0, diff = 0;
  for (let i = 0; i < 64 * 64; i++) {
    for (let k = 0; k < 3; k++) {
      if (pc.mask.data[i] > 0.5) diff += (pc.composite.data[i * 3 + k] - pc.real.data[i * 3 + k]) ** 2;
      else assert.equal(pc.composite.data[i * 3 + k], pc.real.data[i * 3 + k]);
    }
    if (pc.mask.data[i] > 0.5) fg++;
  }
  assert.ok(fg > 0);
  const fmse = (diff / (3 * fg)) * 255 * 255;
  assert.ok(fmse > 10, `foreground changed: fMSE ${fmse}`);
  const ang = Math.acos(pc.foreignLight.direction.reduce((s, v, k) => s + v * pc.scene.light.direction[k], 0));
  assert.ok(ang >= (40 * Math.PI) / 180 - 1e-9);
  assert.ok(pc.foreignAlbedoGain.some((g) => Math.abs(g - 1) >= 0.15));
});

test('writeProceduralDataset: iHarmony4 layout, exact split, ground-truth files, deterministic and resumable', async () => {
  const a = mkdtempSync(join(tmpdir(), 'harmonia-proc-a-'));
  const b = mkdtempSync(join(tmpdir(), 'harmonia-proc-b-'));
  const r = await writeProceduralDataset(a, { count: 10, seed: 1, width: 48, height: 40, testFraction: 0.2 });
  assert.deepEqual(r, { train: 8, test: 2 });
  const train = await readIHarmonyDataset(a, { split: 'train', check: true });
  const testS = await readIHarmonyDataset(a, { split: 'test', check: true });
  assert.equal(train.length, 8);
  assert.equal(testS.length, 2);
  const trainReal = new Set(train.map((s) => s.realName));
  assert.ok(testS.every((s) => !trainReal.has(s.realName)), 'no real image in both splits');
  const name = testS[0].realName;
  const meta = JSON.parse(readFileSync(join(a, 'Procedural/intrinsics', name, 'light.json'), 'utf8'));
  assert.equal(meta.shadingScale, SHADING_SCALE);
  // 16-bit ground truth reproduces the real image: clip(A·S)^(1/2.2) ≈ real (8-bit)
  const alb = await readImage(join(a, 'Procedural/intrinsics', name, 'albedo.png'));
  const shd = await readImage(join(a, 'Procedural/intrinsics', name, 'shading.png'));
  const real = await readImage(testS[0].real);
  let maxErr = 0;
  for (let i = 0; i < 48 * 40; i++) for (let k = 0; k < 3; k++) {
    const v = Math.pow(Math.min(1, alb.data[i * 3 + k] * shd.data[i * 3] * SHADING_SCALE), 1 / 2.2);
    maxErr = Math.max(maxErr, Math.abs(v - real.data[i * 3 + k]));
  }
  assert.ok(maxErr < 2.5 / 255, `max error ${maxErr * 255} levels`);
  const mask = await readMask(testS[0].mask);
  assert.ok(mask.data.some((v) => v > 0.5));
  // same seed elsewhere → identical bytes; rerun in place → unchanged
  await writeProceduralDataset(b, { count: 10, seed: 1, width: 48, height: 40, testFraction: 0.2 });
  const files = (d: string): string[] => (readdirSync(d, { recursive: true }) as string[]).sort();
  assert.deepEqual(files(a), files(b));
  for (const f of files(a)) {
    if (f.endsWith('.png') || f.endsWith('.txt') || f.endsWith('.json')) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
  }
  await writeProceduralDataset(a, { count: 10, seed: 1, width: 48, height: 40, testFraction: 0.2 });
  assert.deepEqual(files(a), files(b));
});

test('illuminant colour: albedo = reflectance ⊙ colour; the composite object keeps its reflectance under the foreign light and colour', () => {
  // the colour axis: max channel 1, warm (red > blue) for t < 0, cool for t > 0, white at 0
  assert.deepEqual(illuminantColor(0), [1, 1, 1]);
  const warm = illuminantColor(-1), cool = illuminantColor(1);
  assert.deepEqual(warm, [1, 0.75, 0.5]);
  assert.ok(cool[2] === 1 && cool[0] < 0.7);
  for (const t of [-0.7, -0.2, 0.3, 0.9]) assert.equal(Math.max(...illuminantColor(t, 0.04)), 1);
  const pc = makeProceduralComposite({ seed: 21, width: 64, height: 64 });
  const sc = pc.scene;
  const cs = sc.light.color!, cf = pc.foreignLight.color!;
  assert.ok(cs && cf, 'random lights carry a colour');
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(pc.foreignAlbedoGain[k] - cf[k] / cs[k]) < 1e-12);
  assert.ok(pc.foreignAlbedoGain.some((g) => Math.abs(g - 1) >= 0.15));
  let fg = 0;
  for (let i = 0; i < 64 * 64; i++) {
    const n = [sc.normals.data[i * 3], sc.normals.data[i * 3 + 1], sc.normals.data[i * 3 + 2]];
    const sf = lambertShading(n, pc.foreignLight);
    for (let k = 0; k < 3; k++) {
      const r = sc.reflectance.data[i * 3 + k];
      assert.ok(Math.abs(sc.albedo.data[i * 3 + k] - r * cs[k]) < 1e-6, 'albedo = reflectance ⊙ illuminant');
      assert.ok(Math.abs(sc.image.data[i * 3 + k] - Math.pow(Math.min(1, r * cs[k] * sc.shading.data[i]), 1 / 2.2)) < 1e-5);
      if (pc.mask.data[i] > 0.5) {
        assert.ok(Math.abs(pc.composite.data[i * 3 + k] - Math.pow(Math.min(1, r * cf[k] * sf), 1 / 2.2)) < 1e-5, 'fg = reflectance ⊙ foreign colour · foreign shading');
      }
    }
    if (pc.mask.data[i] > 0.5) fg++;
  }
  assert.ok(fg > 20);
  // a light given without a colour renders white (the albedo equals the reflectance)
  const white = renderScene({ seed: 3, width: 32, height: 32, light: { direction: [0, 1, 1], strength: 1, ambient: 0.2 } });
  assert.deepEqual(white.albedo.data, white.reflectance.data);
  assert.throws(() => renderScene({ seed: 3, width: 32, height: 32, light: { direction: [0, 1, 1], strength: 1, ambient: 0.2, color: [1, 0, 1] } }), /color/);
});
