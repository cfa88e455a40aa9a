import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import {
  buildGenerator, runGenerator, generatorConfig, generatorNames, generatorEntry, registerGenerator,
  applyColorTransform, TRANSFORM_PARAMS, saveModel, loadModel,
} from '../../src/models/index.ts';
import { applyColorTransformArrays, predictColorTransform, FIELD_CHANNELS } from '../../src/models/color-transform.ts';
import { harmonizeImage } from '../../src/pipeline/refine.ts';
import { resizeImage, resizeMask } from '../../src/image/resize.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

function randArray(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform(lo, hi);
  return v;
}

/** A smooth synthetic photo (so area downscales of it agree across scales) with a centred object. */
function scene(w: number, h: number): { img: FloatImage; mask: Mask } {
  const data = new Float32Array(w * h * 3), m = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = x / w, v = y / h, i = y * w + x;
      data[i * 3] = 0.2 + 0.5 * u;
      data[i * 3 + 1] = 0.3 + 0.4 * v;
      data[i * 3 + 2] = 0.5 + 0.3 * Math.sin(6 * u) * Math.cos(4 * v);
      const inside = (u - 0.5) ** 2 / 0.09 + (v - 0.55) ** 2 / 0.06 < 1;
      m[i] = inside ? 1 : 0;
      if (inside) { data[i * 3] *= 0.6; data[i * 3 + 2] = Math.min(1, data[i * 3 + 2] * 1.3); }
    }
  }
  return { img: { width: w, height: h, channels: 3, data }, mask: { width: w, height: h, data: m } };
}

/** Gives the zero-initialised output layers of a colour-transform generator random weights. */
function perturb(g: tf.LayersModel, seed: number, scale = 0.05): void {
  for (const name of ['g_theta', 'g_field']) {
    if (!g.layers.some((l) => l.name === name)) continue;
    const layer = g.getLayer(name);
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(randArray(w.size, seed + i, -scale, scale), w.shape)));
  }
}

test('registry: paper, global and pct are registered; unknown names list the known ones', () => {
  assert.deepEqual(generatorNames().slice(0, 3), ['paper', 'global', 'pct']);
  assert.equal(generatorEntry('paper').stride, 8);
  assert.equal(generatorEntry('global').stride, 1);
  assert.equal(generatorEntry('global').family, 'analysis-apply');
  assert.equal(generatorEntry('paper').family, 'full-image');
  assert.equal(generatorEntry('pct').field, true);
  assert.throws(() => generatorEntry('nope'), (e: unknown) => e instanceof HarmoniaError && /unknown kind "nope".*paper, global, pct/.test(e.message));
  assert.throws(() => registerGenerator({ ...generatorEntry('global'), name: 'global' }), /already registered/);
});

test('global and pct start as the exact identity and keep the background bit-exact', () => {
  for (const kind of ['global', 'pct']) {
    const cfg = generatorConfig(kind, { seed: 3, base: 8, hidden: 16, analysisSize: 64 });
    const g = buildGenerator(cfg);
    const x = tf.tensor4d(randArray(2 * 40 * 56 * 3, 1), [2, 40, 56, 3]);
    const m = tf.tensor4d(randArray(2 * 40 * 56, 2).map((v) => (v > 0.5 ? 1 : 0)), [2, 40, 56, 1]);
    const y = runGenerator(g, x, m, cfg);
    assert.deepEqual(y.shape, [2, 40, 56, 3], `${kind}: any size, no padding`);
    assert.equal(tf.max(tf.abs(tf.sub(y, x))).dataSync()[0], 0, `${kind}: identity at initialisation`);
    perturb(g, 7, 0.3);
    const y2 = runGenerator(g, x, m, cfg);
    const moved = tf.tidy(() => tf.sum(tf.abs(tf.sub(y2, x)).mul(m)).dataSync()[0]);
    const bg = tf.tidy(() => tf.max(tf.abs(tf.sub(y2, x)).mul(tf.sub(1, m))).dataSync()[0]);
    assert.ok(moved > 1, `${kind}: a perturbed model changes the foreground (${moved})`);
    assert.equal(bg, 0, `${kind}: background bit-exact`);
    tf.dispose([x, m, y, y2]);
    g.dispose();
  }
});

test('the array implementation of the transform matches the tensor one (global and pct field)', () => {
  const w = 37, h = 29;
  const rgb = randArray(w * h * 3, 11);
  const mask = randArray(w * h, 12).map((v) => (v < 0.3 ? 0 : v < 0.5 ? 0.4 : 1));
  const theta = randArray(TRANSFORM_PARAMS, 13, -0.4, 0.4);
  const field = { width: 5, height: 4, data: randArray(5 * 4 * FIELD_CHANNELS, 14, -0.2, 0.2) };
  for (const f of [undefined, field]) {
    const js = applyColorTransformArrays(rgb, mask, w, h, { theta, field: f });
    const t = tf.tidy(() => {
      const x = tf.concat([tf.tensor4d(rgb, [1, h, w, 3]), tf.tensor4d(mask, [1, h, w, 1])], 3);
      const fld = f ? tf.tensor4d(f.data, [1, f.height, f.width, FIELD_CHANNELS]) : undefined;
      return applyColorTransform(x, tf.tensor2d(theta, [1, TRANSFORM_PARAMS]), fld).dataSync() as Float32Array;
    });
    let max = 0;
    for (let i = 0; i < js.length; i++) max = Math.max(max, Math.abs(js[i] - t[i]));
    assert.ok(max < 2e-6, `${f ? 'pct' : 'global'}: max |array − tensor| = ${max}`);
    for (let p = 0; p < w * h; p++) if (mask[p] === 0) for (let c = 0; c < 3; c++) assert.equal(js[p * 3 + c], rgb[p * 3 + c]);
  }
});

test('gradients reach every weight of global after the first update (zero-initialised head)', () => {
  const cfg = generatorConfig('global', { seed: 5, base: 8, hidden: 16, analysisSize: 32 });
  const g = buildGenerator(cfg);
  perturb(g, 9, 0.01);
  const x = tf.tensor4d(randArray(2 * 32 * 32 * 3, 3), [2, 32, 32, 3]);
  const m = tf.tensor4d(randArray(2 * 32 * 32, 4).map((v) => (v > 0.4 ? 1 : 0)), [2, 32, 32, 1]);
  const vars = g.trainableWeights.map((v) => v.read() as tf.Variable);
  const loss = () => tf.mean(tf.square(tf.sub(runGenerator(g, x, m, cfg), tf.mul(x, 0.7)))) as tf.Scalar;
  const warm = tf.variableGrads(loss, vars);
  tf.dispose([warm.value, ...Object.values(warm.grads)]);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(loss, vars);
  for (const v of vars) assert.ok(tf.tidy(() => tf.sum(tf.abs(grads[v.name])).dataSync()[0]) > 0, `gradient of ${v.name} is non-zero`);
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  tf.dispose([x, m]);
  g.dispose();
});

test('a saved global model loads back and predicts the same transform', async () => {
  const cfg = generatorConfig('global', { seed: 2, base: 8, hidden: 16, analysisSize: 32 });
  const g = buildGenerator(cfg);
  perturb(g, 21);
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-ct-'));
  await saveModel(g, dir);
  const back = await loadModel(dir);
  const x = tf.tidy(() => tf.concat([tf.tensor4d(randArray(32 * 32 * 3, 5), [1, 32, 32, 3]), tf.ones([1, 32, 32, 1])], 3)) as tf.Tensor4D;
  const a = predictColorTransform(g, x).theta, b = predictColorTransform(back, x).theta;
  assert.deepEqual(Array.from(a), Array.from(b));
  x.dispose();
  g.dispose();
  back.dispose();
});

test('resolution independence: a 2048×1536 composite gets the colour change of its 512×384 downscale; background bit-exact', () => {
  const cfg = generatorConfig('global', { seed: 4, base: 8, hidden: 16 });
  const g = buildGenerator(cfg);
  perturb(g, 31, 0.2);
  const model = { generator: g, config: cfg, card: { name: 'test', input: 'composite' as const } };
  const big = scene(2048, 1536);
  const small = { img: resizeImage(big.img, 512, 384, 'area'), mask: resizeMask(big.mask, 512, 384, 'area') };
  const rb = harmonizeImage(big.img, big.mask, model, { stage: 'gan' }).result;
  const rs = harmonizeImage(small.img, small.mask, model, { stage: 'gan' }).result;
  // the mean colour change over the foreground, per channel, on 0–255
  const change = (r: FloatImage, x: FloatImage, m: Mask) => {
    const s = [0, 0, 0];
    let n = 0;
    for (let p = 0; p < m.data.length; p++) {
      if (m.data[p] < 1) continue;
      n++;
      for (let c = 0; c < 3; c++) s[c] += (r.data[p * 3 + c] - x.data[p * 3 + c]) * 255;
    }
    return s.map((v) => v / n);
  };
  const cb = change(rb, big.img, big.mask), cs = change(rs, small.img, small.mask);
  assert.ok(Math.max(...cb.map(Math.abs)) > 3, `the model changes colours (${cb.map((v) => v.toFixed(2))})`);
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(cb[c] - cs[c]) < 0.5, `channel ${c}: mean change ${cb[c].toFixed(3)} vs ${cs[c].toFixed(3)} (tolerance 0.5/255)`);
  // per pixel: the full-resolution result, downscaled, matches the small result within 1/255 on the foreground interior
  const down = resizeImage(rb, 512, 384, 'area');
  let worst = 0;
  for (let p = 0; p < small.mask.data.length; p++) {
    if (small.mask.data[p] < 1) continue;
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(down.data[p * 3 + c] - rs.data[p * 3 + c]) * 255);
  }
  assert.ok(worst < 1, `max per-pixel difference after downscaling: ${worst.toFixed(3)}/255 (tolerance 1)`);
  for (let p = 0; p < big.mask.data.length; p++) {
    if (big.mask.data[p] !== 0) continue;
    for (let c = 0; c < 3; c++) if (rb.data[p * 3 + c] !== big.img.data[p * 3 + c]) assert.fail(`background pixel ${p} changed`);
  }
  g.dispose();
});
