import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import {
  lightFeatures, runLightModel, lightModelFromLayers, estimateLightLearned, mirrorHorizontal,
  semiHarmonize, angleBetweenDeg, LIGHT_FEATURE_COUNT, LIGHT_NET_OUTPUTS, CAPTURE_ALBEDO_STRENGTHS, intrinsicProfile,
} from '../../src/intrinsic/index.ts';
import { buildLightNet, foldStandardization } from '../../src/intrinsic/light-net-tf.ts';
import { loadLightModel, DEFAULT_LIGHT_MODEL_DIR } from '../../src/models/light.ts';
import { loadModel } from '../../src/models/io.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';
import { imageMetrics, toEvalImage, toEvalMask } from '../../src/metrics/index.ts';
import { Rng } from '../../src/util/random.ts';

/** A smooth test shading: a sphere-like bump lit from the right on a flat floor, with an invalid hole. */
function testShading(w: number, h: number): { s: Float32Array; v: Uint8Array } {
  const s = new Float32Array(w * h);
  const v = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const dx = (x - w * 0.4) / (w * 0.25), dy = (y - h * 0.5) / (h * 0.25);
    const q = dx * dx + dy * dy;
    s[y * w + x] = q < 1 ? 0.3 + 0.7 * Math.max(0, 0.8 * dx + 0.6 * Math.sqrt(1 - q)) : 0.5;
    v[y * w + x] = x > w * 0.8 && y > h * 0.7 ? 0 : 1;
  }
  return { s, v };
}

test('light features: fixed length, invariant to the shading scale and (nearly) to the resolution; mirroring flips x gradients', () => {
  const a = testShading(96, 80);
  const fa = lightFeatures(a.s, a.v, 96, 80);
  assert.equal(fa.features.length, LIGHT_FEATURE_COUNT);
  assert.ok(fa.features.every(Number.isFinite));
  // S·3 → same features, median ×3 (log domain, relative to the median)
  const f3 = lightFeatures(a.s.map((x) => 3 * x), a.v, 96, 80);
  for (let i = 0; i < LIGHT_FEATURE_COUNT; i++) assert.ok(Math.abs(f3.features[i] - fa.features[i]) < 1e-5, `feature ${i}`);
  assert.ok(Math.abs(f3.medianShading / fa.medianShading - 3) < 1e-4);
  // twice the resolution: features close (resampled to a fixed grid)
  const b = testShading(192, 160);
  const fb = lightFeatures(b.s, b.v, 192, 160);
  let maxDiff = 0;
  for (let i = 0; i < LIGHT_FEATURE_COUNT; i++) maxDiff = Math.max(maxDiff, Math.abs(fb.features[i] - fa.features[i]));
  assert.ok(maxDiff < 0.05, `max feature difference across resolutions ${maxDiff}`);
  // the mean x-gradient over smooth shading (index 86; the plain means telescope to ≈0 across a
  // closed object) is positive (lit from the right) and flips sign when mirrored; y is unchanged
  const m = lightFeatures(mirrorHorizontal(a.s, 96, 80), mirrorHorizontal(a.v, 96, 80), 96, 80);
  assert.ok(fa.features[86] > 0.001, `mean smooth ∂s/∂x ${fa.features[86]}`);
  assert.ok(Math.abs(m.features[86] + fa.features[86]) < 1e-6);
  assert.ok(Math.abs(m.features[87] - fa.features[87]) < 1e-6);
});

test('the TypeScript forward pass equals tf.predict, also after folding the standardisation into the first layer', async () => {
  await initEngine({ backend: 'cpu', quiet: true });
  const before = tf.memory().numTensors;
  const model = buildLightNet([16, 8], 3);
  const rng = new Rng(4);
  const x = Float32Array.from({ length: LIGHT_FEATURE_COUNT }, () => rng.normal());
  const mean = Float32Array.from({ length: LIGHT_FEATURE_COUNT }, () => rng.normal() * 0.1);
  const std = Float32Array.from({ length: LIGHT_FEATURE_COUNT }, () => 0.5 + rng.next());
  const z = x.map((v, i) => (v - mean[i]) / std[i]);
  const want = tf.tidy(() => (model.predict(tf.tensor2d(z, [1, LIGHT_FEATURE_COUNT])) as tf.Tensor).dataSync().slice());
  foldStandardization(model, mean, std);
  const got = runLightModel(lightModelFromLayers(model), x);
  assert.equal(got.length, LIGHT_NET_OUTPUTS);
  for (let o = 0; o < LIGHT_NET_OUTPUTS; o++) assert.ok(Math.abs(got[o] - want[o]) < 1e-4 * (1 + Math.abs(want[o])), `output ${o}: ${got[o]} vs ${want[o]}`);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('shipped light model: TF.js layers format under 1 MB, loads both ways identically', async () => {
  await initEngine({ backend: 'cpu', quiet: true });
  const bytes = statSync(join(DEFAULT_LIGHT_MODEL_DIR, 'weights.bin')).size + statSync(join(DEFAULT_LIGHT_MODEL_DIR, 'model.json')).size;
  assert.ok(bytes < 1 << 20, `${bytes} bytes`);
  const lm = await loadLightModel();
  const layers = await loadModel(DEFAULT_LIGHT_MODEL_DIR);
  const rng = new Rng(9);
  const x = Float32Array.from({ length: LIGHT_FEATURE_COUNT }, () => rng.normal() * 0.1);
  const want = tf.tidy(() => (layers.predict(tf.tensor2d(x, [1, LIGHT_FEATURE_COUNT])) as tf.Tensor).dataSync().slice());
  layers.dispose();
  const got = runLightModel(lm, x);
  for (let o = 0; o < LIGHT_NET_OUTPUTS; o++) assert.ok(Math.abs(got[o] - want[o]) < 1e-4 * (1 + Math.abs(want[o])));
  // too little valid background: no estimate
  assert.equal(estimateLightLearned(lm, new Float32Array(64 * 64).fill(0.5), new Uint8Array(64 * 64), 64, 64), null);
});

// Acceptance on held-out procedural seeds (training used seeds ≥ 1,000,000; these are 2000..2023), 128².
// Procedural composites differ by the capture condition (illuminant colour, exposure, light direction),
// so the stage runs with the 'capture' profile (learned light; white balance + exposure transfer only).
test('held-out procedural composites, capture profile: median light error < 20° and the semi-harmonized fMSE below the composite', async () => {
  const lightModel = await loadLightModel();
  const capture = intrinsicProfile('capture', lightModel);
  assert.deepEqual(capture, { strengths: CAPTURE_ALBEDO_STRENGTHS, lightModel });
  assert.throws(() => intrinsicProfile('capture'), /needs the learned light model/);
  assert.deepEqual(intrinsicProfile('photo'), {});
  const errs: number[] = [];
  let fComp = 0, fSemi = 0;
  const seeds = Array.from({ length: 24 }, (_, i) => 2000 + i);
  for (const seed of seeds) {
    const pc = makeProceduralComposite({ seed, width: 128, height: 128 });
    const r = semiHarmonize(pc.composite, pc.mask, capture);
    assert.equal(r.intermediates.light.method, 'learned');
    errs.push(angleBetweenDeg(r.intermediates.light.direction, pc.scene.light.direction));
    const m = toEvalMask(pc.mask), gt = toEvalImage(pc.real);
    fComp += imageMetrics(toEvalImage(pc.composite), gt, m).fmse ?? 0;
    fSemi += imageMetrics(toEvalImage(r.semiHarmonized), gt, m).fmse ?? 0;
  }
  errs.sort((a, b) => a - b);
  const median = (errs[11] + errs[12]) / 2;
  assert.ok(median < 20, `median light error ${median.toFixed(1)}° (all: ${errs.map((e) => e.toFixed(0)).join(', ')})`);
  assert.ok(fSemi < fComp, `mean fMSE semi ${(fSemi / seeds.length).toFixed(1)} vs composite ${(fComp / seeds.length).toFixed(1)}`);
});

test('CLI: harmonia intrinsic --profile capture uses the learned light; an unknown profile is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-profile-'));
  const pc = makeProceduralComposite({ seed: 2001, width: 96, height: 96 });
  const comp = join(dir, 'comp.png'), mask = join(dir, 'mask.png'), out = join(dir, 'out.png'), inter = join(dir, 'inter');
  await writeImage(comp, pc.composite);
  await writeMask(mask, pc.mask);
  const quiet = console.log;
  console.log = () => {};
  try {
    assert.equal(await main(['intrinsic', comp, '--mask', mask, '-o', out, '--profile', 'capture', '--intermediates', inter]), 0);
    const info = JSON.parse(readFileSync(join(inter, 'light.json'), 'utf8')) as { light: { method: string }; albedoParams: Record<string, unknown> };
    assert.equal(info.light.method, 'learned');
    assert.equal(await main(['intrinsic', comp, '--mask', mask, '-o', out]), 0);
    const errs: string[] = [];
    const origErr = console.error;
    console.error = (...a: unknown[]) => { errs.push(a.map(String).join(' ')); };
    try {
      assert.notEqual(await main(['intrinsic', comp, '--mask', mask, '-o', join(dir, 'x.png'), '--profile', 'studio']), 0);
    } finally {
      console.error = origErr;
    }
    assert.match(errs.join('\n'), /--profile must be photo or capture, got "studio"/);
  } finally {
    console.log = quiet;
    rmSync(dir, { recursive: true, force: true });
  }
});
