import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  blurField, heightField, normalsFromHeight, softShadow, relightShading, relightImage, randomRelight, relitParamsFor,
  makeRelitComposites, NEUTRAL_RELIGHT, RELIGHT_MAX_GAIN, type RelightParams,
} from '../../src/data/relight.ts';
import { foregroundMse255 } from '../../src/data/composites.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { readImage, readMask, writeImage, writeMask } from '../../src/image/io.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { Rng } from '../../src/util/random.ts';
import { SHARED, needsShared, tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

/** A textured photo-like image and a disk mask (radius r) centred at (cx, cy). */
function fixture(W: number, H: number, cx: number, cy: number, r: number, seed = 1): { img: FloatImage; mask: Mask } {
  const rng = new Rng(seed);
  const data = new Float32Array(W * H * 3);
  const m = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x;
    const v = 0.45 + 0.15 * Math.sin(x / 5) * Math.cos(y / 7);
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.min(1, Math.max(0, v + 0.08 * c + 0.03 * rng.normal()));
    if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 < r * r) m[i] = 1;
  }
  return { img: { width: W, height: H, channels: 3, data }, mask: { width: W, height: H, data: m } };
}

test('blurField keeps a constant field and the mass of an interior spike', () => {
  const W = 40, H = 30;
  const c = blurField(new Float32Array(W * H).fill(0.7), W, H, 4);
  for (const v of c) assert.ok(Math.abs(v - 0.7) < 1e-6);
  const spike = new Float32Array(W * H);
  spike[15 * W + 20] = 1;
  const b = blurField(spike, W, H, 2);
  const sum = b.reduce((a, x) => a + x, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5, `mass ${sum}`);
  assert.ok(b[15 * W + 20] < 0.1 && b[15 * W + 20] > b[15 * W + 24], 'spread out, peak at the centre');
});

test('heightField + normalsFromHeight: a pillow over the mask, unit normals facing the camera and pointing outward at the rim', () => {
  const W = 64, H = 64;
  const { img, mask } = fixture(W, H, 32, 32, 20);
  const h = heightField(mask, img);
  assert.ok(h[32 * W + 32] > 5, `centre height ${h[32 * W + 32]}`);
  assert.ok(h[32 * W + 32] > h[32 * W + 14] && h[32 * W + 14] > h[32 * W + 2], 'falls off toward and beyond the silhouette');
  assert.ok(heightField({ width: W, height: H, data: new Float32Array(W * H) }).every((v) => v === 0), 'empty mask: flat');
  const n = normalsFromHeight(h, W, H);
  for (let i = 0; i < W * H; i++) {
    assert.ok(Math.abs(Math.hypot(n[i * 3], n[i * 3 + 1], n[i * 3 + 2]) - 1) < 1e-5);
    assert.ok(n[i * 3 + 2] > 0);
  }
  const at = (x: number, y: number) => (y * W + x) * 3;
  assert.ok(n[at(14, 32)] < -0.2, `left rim points left: ${n[at(14, 32)]}`);
  assert.ok(n[at(50, 32)] > 0.2, `right rim points right: ${n[at(50, 32)]}`);
  assert.ok(n[at(32, 14) + 1] > 0.2, `top rim points up (y up): ${n[at(32, 14) + 1]}`);
});

test('softShadow: in [0,1]; none for a frontal light; a grazing light from the left darkens the far (right) rim', () => {
  const W = 64, H = 64;
  const { img, mask } = fixture(W, H, 32, 32, 20);
  const h = heightField(mask, img);
  const where = new Float32Array(mask.data);
  assert.ok(softShadow(h, W, H, [0, 0, 1], where, 1, 32).every((v) => v === 1));
  const vis = softShadow(h, W, H, [-1, 0, 0.15], where, 1, 32);
  let left = 0, right = 0, nl = 0, nr = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const v = vis[y * W + x];
    assert.ok(v >= 0 && v <= 1);
    if (where[y * W + x] === 0) { assert.equal(v, 1); continue; }
    if (x < 26) { left += v; nl++; } else if (x > 38) { right += v; nr++; }
  }
  assert.ok(right / nr < left / nl - 0.2, `mean visibility right ${(right / nr).toFixed(3)} vs left ${(left / nl).toFixed(3)}`);
});

test('relightShading: hemispherical ambient colour, key colour drifting along the axis, fill unshadowed', () => {
  const W = 3, H = 1;
  // three pixels: normal up, normal toward the camera, normal down
  const normals = new Float32Array([0, 1, 0, 0, 0, 1, 0, -1, 0]);
  const p: RelightParams = {
    key: { direction: [0, 0, 1], intensity: 0.5, color: [1, 0.5, 0.25], colorFar: [0.25, 0.5, 1], softness: 0.05 },
    fill: { direction: [0, 1, 0], intensity: 0.2, color: [0, 1, 0] },
    ambient: { intensity: 0.1, sky: [0.5, 0.5, 1], ground: [1, 0.5, 0.5] },
    colorAxis: [1, 0],
    exposure: 1,
  };
  const s = relightShading(normals, new Float32Array([1, 1, 1]), new Float32Array([1, 1, 1]), W, H, p);
  // up: sky ambient + fill (green), no key (n·l = 0)
  assert.deepEqual(Array.from(s.slice(0, 3)).map((v) => +v.toFixed(6)), [0.05, 0.05 + 0.2, 0.1]);
  // camera-facing, the middle of the axis: ambient half way, key colour half way
  const mid = [0.75 * 0.1 + 0.5 * 0.625, 0.5 * 0.1 + 0.5 * 0.5, 0.75 * 0.1 + 0.5 * 0.625];
  Array.from(s.slice(3, 6)).forEach((v, c) => assert.ok(Math.abs(v - mid[c]) < 1e-6, `mid ${c}: ${v} vs ${mid[c]}`));
  // down: ground ambient only
  assert.deepEqual(Array.from(s.slice(6, 9)).map((v) => +v.toFixed(6)), [0.1, 0.05, 0.05]);
});

test('relightImage: background bit-exact, values in [0,1], deterministic, gains clipped, median luminance gain = exposure', () => {
  const W = 64, H = 48;
  const { img, mask } = fixture(W, H, 30, 26, 16);
  const p = randomRelight(new Rng('relight-test'));
  const a = relightImage(img, mask, p);
  const b = relightImage(img, mask, p);
  assert.deepEqual(a.image.data, b.image.data, 'deterministic');
  const lum: number[] = [];
  for (let i = 0; i < W * H; i++) {
    for (let c = 0; c < 3; c++) {
      const v = a.image.data[i * 3 + c];
      assert.ok(v >= 0 && v <= 1);
      if (mask.data[i] === 0) assert.equal(v, img.data[i * 3 + c], 'background bit-exact');
      const g = a.gain.data[i * 3 + c];
      assert.ok(g >= 1 / RELIGHT_MAX_GAIN - 1e-6 && g <= RELIGHT_MAX_GAIN + 1e-6);
    }
    if (mask.data[i] > 0.5) lum.push(0.3 * a.gain.data[i * 3] + 0.59 * a.gain.data[i * 3 + 1] + 0.11 * a.gain.data[i * 3 + 2]);
  }
  lum.sort((x, y) => x - y);
  const med = lum[lum.length >> 1];
  assert.ok(Math.abs(med - p.exposure) < 0.05 * p.exposure, `median gain ${med} vs exposure ${p.exposure}`);
  const f = foregroundMse255(a.image, img, mask);
  assert.ok(f > 30, `the foreground changes visibly: fMSE ${f}`);
  assert.ok(a.normals.data.length === W * H * 3 && a.visibility.data.length === W * H);
  // the input is not modified
  assert.deepEqual(fixture(W, H, 30, 26, 16).img.data, img.data);
});

test('relightImage under the neutral light changes (almost) nothing; a soft mask edge blends; an empty mask is the identity', () => {
  const W = 48, H = 48;
  const { img, mask } = fixture(W, H, 24, 24, 14);
  const r = relightImage(img, mask, NEUTRAL_RELIGHT);
  let maxd = 0;
  for (let i = 0; i < img.data.length; i++) maxd = Math.max(maxd, Math.abs(r.image.data[i] - img.data[i]));
  assert.ok(maxd < 1e-5, `max change ${maxd}`);
  const empty = relightImage(img, { width: W, height: H, data: new Float32Array(W * H) }, randomRelight(new Rng(3)));
  assert.deepEqual(empty.image.data, img.data);
  // a ring at mask 0.75 (still foreground: same geometry) blends 3:1 between the relit pixel (ring at 1) and the real one
  const soft = new Float32Array(mask.data);
  for (let i = 1; i < soft.length; i++) if (soft[i] === 0 && mask.data[i - 1] === 1) soft[i] = 0.75;
  const p = randomRelight(new Rng(5));
  const full = relightImage(img, { width: W, height: H, data: soft.map((v) => (v > 0 ? 1 : 0)) }, p);
  const part = relightImage(img, { width: W, height: H, data: soft }, p);
  let checked = 0;
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] !== 0.75) continue;
    for (let c = 0; c < 3; c++) {
      const want = 0.75 * full.image.data[i * 3 + c] + 0.25 * img.data[i * 3 + c];
      assert.ok(Math.abs(part.image.data[i * 3 + c] - want) < 1e-5, `ring pixel ${i}: ${part.image.data[i * 3 + c]} vs ${want}`);
    }
    checked++;
  }
  assert.ok(checked > 5);
});

test('randomRelight: deterministic per seed, key light 45–85° off the view axis, colours with max channel 1, fill weaker than key', () => {
  assert.deepEqual(relitParamsFor(0, 'img', 1, 1, 0), relitParamsFor(0, 'img', 1, 1, 0));
  assert.notDeepEqual(relitParamsFor(0, 'img', 1, 1, 0), relitParamsFor(1, 'img', 1, 1, 0));
  for (let s = 0; s < 50; s++) {
    const p = randomRelight(new Rng(s));
    const polar = (Math.acos(p.key.direction[2]) * 180) / Math.PI;
    assert.ok(polar >= 45 - 1e-9 && polar <= 85 + 1e-9, `polar ${polar}`);
    for (const c of [p.key.color, p.key.colorFar, p.fill.color, p.ambient.sky, p.ambient.ground]) {
      assert.ok(Math.abs(Math.max(...c) - 1) < 1e-9 && Math.min(...c) > 0.3);
    }
    assert.ok(p.fill.intensity < 0.41 * p.key.intensity);
    assert.ok(p.exposure >= 0.55 - 1e-9 && p.exposure <= 1.8 + 1e-9);
  }
});

test('relight.ts uses none of the intrinsic stage (independent geometry and shading)', () => {
  const src = readFileSync(new URL('../../src/data/relight.ts', import.meta.url), 'utf8');
  const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
  assert.ok(imports.length > 5);
  for (const i of imports) assert.ok(!i.includes('intrinsic'), `imports ${i}`);
});

test('makeRelitComposites writes an iHarmony4 subset: backgrounds equal, lightings recorded, fMSE in bounds, deterministic', async () => {
  const src = tempDir('relit-src');
  mkdirSync(join(src, 'real_images'));
  mkdirSync(join(src, 'masks'));
  const names = ['a001', 'a002', 'a003', 'a004'];
  for (const [k, n] of names.entries()) {
    const { img, mask } = fixture(48, 40, 20 + 2 * k, 20, 11 + k, k + 1);
    await writeImage(join(src, 'real_images', `${n}.png`), img);
    await writeMask(join(src, 'masks', `${n}_1.png`), mask);
  }
  writeFileSync(join(src, 'src_train.txt'), 'a001_1_1.jpg\na002_1_1.jpg\na003_1_1.jpg\n');
  writeFileSync(join(src, 'src_test.txt'), 'a004_1_1.jpg\n');
  const out = tempDir('relit-out');
  const s = await makeRelitComposites(src, out, { seed: 3, minFmse: 20, maxFmse: 20000 });
  assert.equal(s.subset, 'Relit');
  assert.equal(s.train + s.test + s.rejected, 4);
  assert.equal(s.test, 1);
  const test = await readIHarmonyDataset(out, { split: 'test' });
  const train = await readIHarmonyDataset(out, { split: 'train' });
  assert.equal(test.length, 1);
  assert.equal(train.length, s.train);
  for (const smp of [...test, ...train]) {
    const comp = await readImage(smp.composite);
    const real = await readImage(smp.real);
    const mask = await readMask(smp.mask);
    let fg = 0;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] > 0) { fg++; continue; }
      for (let c = 0; c < 3; c++) assert.equal(comp.data[i * 3 + c], real.data[i * 3 + c]);
    }
    assert.ok(fg > 0);
    const rec = JSON.parse(readFileSync(join(out, 'Relit', 'synthesis', smp.composite.split('/').pop()!.replace(/\.png$/, '.json')), 'utf8'));
    assert.equal(rec.method, 'relit');
    assert.ok(rec.fmse >= 20 && rec.fmse <= 20000);
    assert.ok(Math.abs(foregroundMse255(comp, real, mask) - rec.fmse) < 1, `recorded fMSE ${rec.fmse}`);
    assert.deepEqual(rec.params, relitParamsFor(3, rec.realName, 1, 1, rec.attempts - 1));
  }
  // deterministic: a second build elsewhere gives the same bytes
  const out2 = tempDir('relit-out2');
  await makeRelitComposites(src, out2, { seed: 3, minFmse: 20, maxFmse: 20000 });
  for (const f of readdirSync(join(out, 'Relit', 'composite_images'))) {
    assert.deepEqual(readFileSync(join(out2, 'Relit', 'composite_images', f)), readFileSync(join(out, 'Relit', 'composite_images', f)));
  }
  // bounds nothing can meet: every variant rejected, nothing but sidecars written
  const out3 = tempDir('relit-out3');
  const r = await makeRelitComposites(src, out3, { seed: 3, minFmse: 60000, maxFmse: 60001, maxAttempts: 2 });
  assert.equal(r.rejected, 4);
  assert.deepEqual(readdirSync(join(out3, 'Relit', 'composite_images')), []);
});

test('relit Lalonde test photos: a visible lighting change (mean fMSE 200–3000), neutral light ≈ identity', { skip: needsShared() }, async () => {
  const root = join(SHARED, 'data', 'lalonde-real');
  if (!existsSync(root)) return;
  const names = readFileSync(join(root, 'lalonde-real_test.txt'), 'utf8').trim().split('\n').slice(0, 12).map((l) => l.replace(/_1_1\.jpg$/, ''));
  const f: number[] = [];
  for (const n of names) {
    const real = await readImage(join(root, 'real_images', `${n}.jpg`));
    const mask = await readMask(join(root, 'masks', `${n}_1.png`));
    f.push(foregroundMse255(relightImage(real, mask, relitParamsFor(0, n, 1, 1, 0)).image, real, mask));
    if (f.length <= 3) assert.ok(foregroundMse255(relightImage(real, mask, NEUTRAL_RELIGHT).image, real, mask) < 0.5);
  }
  const mean = f.reduce((a, b) => a + b, 0) / f.length;
  assert.ok(mean > 200 && mean < 3000, `mean fMSE ${mean.toFixed(1)} over ${f.length} photos (${f.map((x) => x.toFixed(0)).join(', ')})`);
});

test('held-out procedural relit set: make-procedural --scene-seed0 writes the bench scenes themselves, all in the test split', async () => {
  const { writeProceduralDataset, makeProceduralComposite, PROCEDURAL_TRAINING_SEED0 } = await import('../../src/data/procedural.ts');
  const { toUint8 } = await import('../../src/image/io.ts');
  const { runCli } = await import('../run-cli.ts');
  const out = tempDir('relit-proc');
  const r = await runCli(['make-procedural', '--out', out, '--count', '3', '--scene-seed0', '1000', '--test-fraction', '1', '--size', '48', '--quiet']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const test = await readIHarmonyDataset(out, { split: 'test' });
  assert.deepEqual(test.map((s) => s.composite.split('/').pop()), ['proc01000_1_1.png', 'proc01001_1_1.png', 'proc01002_1_1.png']);
  assert.equal((await readIHarmonyDataset(out, { split: 'train' })).length, 0);
  for (const [k, s] of test.entries()) {
    const pc = makeProceduralComposite({ seed: 1000 + k, width: 48, height: 48 });
    assert.deepEqual(toUint8(await readImage(s.composite)), toUint8(pc.composite));
    assert.deepEqual(toUint8(await readImage(s.real)), toUint8(pc.real));
    const meta = JSON.parse(readFileSync(join(out, 'Procedural', 'intrinsics', `proc0${1000 + k}`, 'light.json'), 'utf8'));
    assert.equal(meta.sceneSeed, 1000 + k);
    assert.deepEqual(meta.foreignLight.direction, pc.foreignLight.direction);
  }
  await assert.rejects(writeProceduralDataset(tempDir('relit-proc2'), { count: 3, seed: 0, sceneSeed0: PROCEDURAL_TRAINING_SEED0 - 2 }), /held out from the training seeds/);
  const bad = await runCli(['make-procedural', '--out', tempDir('relit-proc3'), '--count', '5', '--scene-seed0', '999998', '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.join('\n'), /--scene-seed0 999998 with --count 5 reaches the training seeds/);
});

test('harmonia make-composites --relit: a Relit subset by default; --illumination is refused', async () => {
  const { runCli } = await import('../run-cli.ts');
  const src = tempDir('relit-cli-src');
  mkdirSync(join(src, 'real_images'));
  mkdirSync(join(src, 'masks'));
  for (const [k, n] of ['b1', 'b2', 'b3'].entries()) {
    const { img, mask } = fixture(40, 40, 20, 20, 10 + k, k + 7);
    await writeImage(join(src, 'real_images', `${n}.png`), img);
    await writeMask(join(src, 'masks', `${n}_1.png`), mask);
  }
  writeFileSync(join(src, 's_train.txt'), 'b1_1_1.jpg\nb2_1_1.jpg\n');
  writeFileSync(join(src, 's_test.txt'), 'b3_1_1.jpg\n');
  const out = tempDir('relit-cli-out');
  const r = await runCli(['make-composites', '--real', src, '--out', out, '--relit', '--min-fmse', '10']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.match(r.stdout.join('\n'), /Relit \(relit \d\); \d variants rejected/, r.stdout.join('\n'));
  assert.ok(existsSync(join(out, 'Relit', 'build.json')));
  const bad = await runCli(['make-composites', '--real', src, '--out', tempDir('relit-cli-bad'), '--relit', '--illumination', '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.join('\n'), /--relit re-lights the foreground itself/);
});
