import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { semiHarmonize } from '../../src/intrinsic/index.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';
import { writeImage, writeMask, readImage } from '../../src/image/io.ts';
import { main } from '../../src/cli/main.ts';
import { semiCacheDir, semiCacheFile } from '../../src/intrinsic/cache.ts';
import { prepareSplit } from '../../src/train/dataset.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { Rng } from '../../src/util/random.ts';

function scene(w: number, h: number, seed: number): { img: FloatImage; mask: Mask } {
  const rng = new Rng(seed);
  const data = new Float32Array(w * h * 3);
  const m = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    const shade = 0.4 + 0.5 * (1 - y / h);
    const inside = (x - w * 0.5) ** 2 / (w * 0.2) ** 2 + (y - h * 0.55) ** 2 / (h * 0.25) ** 2 < 1;
    const edge = (x - w * 0.5) ** 2 / (w * 0.2 + 1.5) ** 2 + (y - h * 0.55) ** 2 / (h * 0.25 + 1.5) ** 2 < 1;
    m[i] = inside ? 1 : edge ? 0.3 : 0; // soft rim
    const base = inside ? [0.9, 0.3, 0.2] : [0.3, 0.5, 0.7];
    for (let k = 0; k < 3; k++) data[i * 3 + k] = Math.min(1, Math.max(0, base[k] * shade + 0.03 * rng.normal()));
  }
  return { img: { width: w, height: h, channels: 3, data }, mask: { width: w, height: h, data: m } };
}

function assertFinite(img: FloatImage): void {
  for (const v of img.data) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `value ${v}`);
}

test('background pixels (mask = 0) are copied bit-exactly; the foreground changes; output keeps the input size', () => {
  const { img, mask } = scene(120, 90, 1);
  const r = semiHarmonize(img, mask);
  assert.equal(r.semiHarmonized.width, 120);
  assert.equal(r.semiHarmonized.height, 90);
  assertFinite(r.semiHarmonized);
  let changed = 0;
  for (let i = 0; i < mask.data.length; i++) {
    for (let k = 0; k < 3; k++) {
      const a = r.semiHarmonized.data[i * 3 + k], b = img.data[i * 3 + k];
      if (mask.data[i] === 0) assert.equal(a, b);
      else if (Math.abs(a - b) > 1e-3) changed++;
    }
  }
  assert.ok(changed > 100, `only ${changed} foreground values changed`);
  const it = r.intermediates;
  assert.equal(it.light.method, 'statistics');
  assert.ok(it.light.coeffs.every(Number.isFinite) && it.light.ambient >= 0.1);
  for (const im of [it.albedo, it.shading, it.harmonizedAlbedo, it.reshading, it.normals]) for (const v of im.data) assert.ok(Number.isFinite(v));
  assert.ok(it.timings.total > 0);
});

test('with both stages off, or identity parameters and no re-shading, the output equals the input exactly', () => {
  const { img, mask } = scene(64, 48, 2);
  const off = semiHarmonize(img, mask, { stages: { albedo: false, shading: false } });
  assert.deepEqual(off.semiHarmonized.data, img.data);
  const id = semiHarmonize(img, mask, { stages: { albedo: true, shading: false }, strengths: { wb: 0, curve: 0, saturation: 0, exposure: 0 } });
  assert.deepEqual(id.semiHarmonized.data, img.data);
  // A·S = I where nothing is edited: the intermediates reconstruct the linear image
  const A = off.intermediates.albedo.data, S = off.intermediates.shading.data;
  for (let i = 0; i < S.length; i++) for (let k = 0; k < 3; k++) {
    const lin = Math.pow(img.data[i * 3 + k], 2.2);
    if (lin < 1e-4 * S[i]) continue; // albedo clamped at 1e-4 (official clip) for black pixels
    assert.ok(Math.abs(Math.pow(A[i * 3 + k], 2.2) * S[i] - lin) < 1e-5 * Math.max(lin, 1e-3), `pixel ${i}`);
  }
});

test('empty mask: output = input; full mask: finite output and a note that the light could not be estimated', () => {
  const { img } = scene(50, 40, 3);
  const empty = semiHarmonize(img, { width: 50, height: 40, data: new Float32Array(2000) });
  assert.deepEqual(empty.semiHarmonized.data, img.data);
  const full = semiHarmonize(img, { width: 50, height: 40, data: new Float32Array(2000).fill(1) });
  assertFinite(full.semiHarmonized);
  assert.ok(full.intermediates.notes.some((n) => /light/.test(n)));
  for (const v of full.intermediates.reshading.data) assert.ok(Number.isFinite(v));
  // a manual light still re-shades a full mask
  const manual = semiHarmonize(img, { width: 50, height: 40, data: new Float32Array(2000).fill(1) }, { light: [0.3, 0.5, 0.6, 0.2] });
  assertFinite(manual.semiHarmonized);
  assert.equal(manual.intermediates.light.method, 'manual');
});

test('large input: analysed at ≤512 px by default (≤1024 on request), applied at full resolution with the background untouched', () => {
  const { img, mask } = scene(1400, 300, 4);
  assert.deepEqual(semiHarmonize(img, mask, { decomposition: 'guided', analysisMaxSide: 1024 }).intermediates.analysisSize, { width: 1024, height: 219 });
  const r = semiHarmonize(img, mask, { decomposition: 'guided' });
  assert.deepEqual(r.intermediates.analysisSize, { width: 512, height: 110 });
  assert.equal(r.semiHarmonized.width, 1400);
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] === 0) {
    assert.equal(r.semiHarmonized.data[i * 3], img.data[i * 3]);
  }
  assertFinite(r.semiHarmonized);
});

test('procedural composites with the true scene light: re-shading lowers the mean fMSE', () => {
  let before = 0, after = 0;
  const seeds = [1, 3, 5, 7, 11, 13];
  for (const seed of seeds) {
    const pc = makeProceduralComposite({ seed, width: 128, height: 128 });
    const l = pc.scene.light;
    const r = semiHarmonize(pc.composite, pc.mask, {
      stages: { albedo: false, shading: true },
      light: [l.direction[0] * l.strength, l.direction[1] * l.strength, l.direction[2] * l.strength, l.ambient],
    });
    const f = (img: FloatImage) => {
      let s = 0, n = 0;
      for (let i = 0; i < pc.mask.data.length; i++) if (pc.mask.data[i] > 0.5) {
        for (let k = 0; k < 3; k++) s += (255 * (img.data[i * 3 + k] - pc.real.data[i * 3 + k])) ** 2;
        n++;
      }
      return s / (3 * n);
    };
    before += f(pc.composite);
    after += f(r.semiHarmonized);
  }
  assert.ok(after < before, `mean fMSE ${after / seeds.length} vs composite ${before / seeds.length}`);
});

test('CLI: single image with intermediates, and the resumable batch cache', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-intrinsic-'));
  const { img, mask } = scene(80, 60, 5);
  await writeImage(join(dir, 'comp.png'), img);
  await writeMask(join(dir, 'mask.png'), mask);
  const code = await main(['intrinsic', join(dir, 'comp.png'), '--mask', join(dir, 'mask.png'), '-o', join(dir, 'out.png'), '--intermediates', join(dir, 'int'), '--light', '0.2,0.6,0.5,0.3']);
  assert.equal(code, 0);
  const out = await readImage(join(dir, 'out.png'));
  assert.equal(out.width, 80);
  for (const f of ['albedo.png', 'shading.png', 'harmonized-albedo.png', 'reshading.png', 'normals.png', 'light-sphere.png', 'light.json']) {
    assert.ok(existsSync(join(dir, 'int', f)), f);
  }
  const info = JSON.parse(readFileSync(join(dir, 'int', 'light.json'), 'utf8'));
  assert.deepEqual(info.light.coeffs, [0.2, 0.6, 0.5, 0.3]);
  assert.equal(await main(['intrinsic', join(dir, 'comp.png'), '--mask', join(dir, 'mask.png'), '-o', join(dir, 'x.png'), '--light', '1,2']), 2);
  assert.equal(await main(['intrinsic', join(dir, 'comp.png'), '--mask', join(dir, 'mask.png'), '-o', join(dir, 'x.png'), '--stages', 'colour']), 2);

  // batch mode on a tiny iHarmony4-layout dataset
  const root = join(dir, 'ds');
  for (const name of ['a', 'b']) {
    await writeImage(join(root, 'Sub', 'composite_images', `${name}_1_1.png`), img, { mkdir: true });
    await writeMask(join(root, 'Sub', 'masks', `${name}_1.png`), mask, { mkdir: true });
    await writeImage(join(root, 'Sub', 'real_images', `${name}.png`), img, { mkdir: true });
  }
  const cache = join(dir, 'cache');
  assert.equal(await main(['intrinsic', '--data', join(root, 'Sub'), '--cache', cache, '--quiet']), 0);
  // one cache layout (src/intrinsic/cache.ts): <cache>/intrinsic-<size|full>-<options hash>/<id, / → _>.png
  const fullDir = semiCacheDir(cache, 'full', {});
  assert.deepEqual(readdirSync(cache), [basename(fullDir)]);
  const files = readdirSync(fullDir).sort();
  assert.deepEqual(files, ['Sub_a_1_1.png', 'Sub_b_1_1.png']);
  const first = readFileSync(join(fullDir, 'Sub_a_1_1.png'));
  assert.equal(await main(['intrinsic', '--data', join(root, 'Sub'), '--cache', cache, '--quiet']), 0);
  assert.deepEqual(readFileSync(join(fullDir, 'Sub_a_1_1.png')), first);

  // the trainer reads the same cache: --size 32 fills the folder prepareSplit (train/experiment/sweep --cache) uses
  assert.equal(await main(['intrinsic', '--data', join(root, 'Sub'), '--cache', cache, '--size', '32', '--quiet']), 0);
  const dir32 = semiCacheDir(cache, 32, {});
  assert.equal(readdirSync(dir32).length, 2);
  const marker: FloatImage = { width: 32, height: 32, channels: 3, data: new Float32Array(32 * 32 * 3).fill(0.5) };
  await writeImage(semiCacheFile(dir32, 'Sub/a_1_1'), marker);
  const prepared = await prepareSplit(join(root, 'Sub'), 'train', { size: 32, cacheRoot: cache, intrinsic: {}, quiet: true });
  const a = prepared.find((p) => p.id === 'Sub/a_1_1');
  assert.ok(a && a.semi.every((v) => v === 128), 'the trainer took the cached image');
  assert.equal(await main(['intrinsic', join(dir, 'comp.png'), '--mask', join(dir, 'mask.png'), '-o', join(dir, 'y.png'), '--size', '32']), 2, '--size only in batch mode');
});
