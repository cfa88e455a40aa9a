import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, existsSync } from 'node:fs';
import { torchOk, torchForward } from './twin.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { buildGenerator, runGenerator, countParams, padAxis, PAPER_GENERATOR, saveModel, loadModel } from '../../src/models/index.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { Rng } from '../../src/util/random.ts';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

function rand(shape: number[], seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next();
  return tf.tensor4d(v, shape as [number, number, number, number]);
}

test('paper generator has 331,075 parameters (same as the probe and the PyTorch twin)', () => {
  const g = buildGenerator(PAPER_GENERATOR);
  assert.equal(countParams(g), 331_075);
  // U-Net: dec2 sees 64+64 channels, out sees 32+32: +32*16*64 + 3*16*32 more weights
  assert.equal(countParams(buildGenerator({ unet: true })), 331_075 + 16 * 64 * 32 + 16 * 32 * 3);
  // mask input adds one input channel to the first conv
  assert.equal(countParams(buildGenerator({ maskInput: true })), 331_075 + 16 * 32);
  // residual without maskInput takes the mask but the convs see RGB only: same weights as the paper G
  assert.equal(countParams(buildGenerator({ residual: true })), 331_075);
  assert.equal(countParams(buildGenerator({ base: 16 })), 16 * 3 * 16 + 16 + 16 * 16 * 32 + 32 + 16 * 32 * 64 + 64 + 16 * 64 * 32 + 32 + 16 * 32 * 16 + 16 + 16 * 16 * 3 + 3);
});

test('runGenerator keeps odd sizes (37x51) and outputs values in [0,1], without leaking tensors', () => {
  const g = buildGenerator({ seed: 1 });
  const x = rand([2, 37, 51, 3], 5);
  const before = tf.memory().numTensors;
  for (const pad of ['reflect', 'replicate'] as const) {
    const y = runGenerator(g, x, undefined, { pad });
    assert.deepEqual(y.shape, [2, 37, 51, 3]);
    const v = y.dataSync();
    let lo = Infinity, hi = -Infinity;
    for (const a of v) { lo = Math.min(lo, a); hi = Math.max(hi, a); }
    assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
    assert.ok(hi - lo > 1e-3, 'output is not constant');
    y.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  // tiny inputs (smaller than the padding) fall back to replicate padding
  const t = runGenerator(g, rand([1, 3, 2, 3], 6));
  assert.deepEqual(t.shape, [1, 3, 2, 3]);
  tf.dispose([x, t]);
});

test('the cropped output equals running the model on the explicitly padded input', () => {
  const g = buildGenerator({ seed: 2, unet: true });
  const x = rand([1, 13, 20, 3], 7);
  const y = runGenerator(g, x);
  // pad H 13 -> 16 (top 1, bottom 2), W 20 -> 24 (left 2, right 2), reflect
  const padded = padAxis(padAxis(x, 1, 1, 2), 2, 2, 2);
  const full = g.predict(padded) as tf.Tensor4D;
  const crop = full.slice([0, 1, 2, 0], [1, 13, 20, 3]);
  assert.equal(tf.max(tf.abs(tf.sub(crop, y))).dataSync()[0], 0);
  tf.dispose([x, y, padded, full, crop]);
});

test('padAxis reflect/replicate values and gradients are exact', () => {
  const x = tf.tensor4d([1, 2, 3, 4], [1, 4, 1, 1]);
  assert.deepEqual(Array.from(padAxis(x, 1, 2, 3, 'reflect').dataSync()), [3, 2, 1, 2, 3, 4, 3, 2, 1]);
  assert.deepEqual(Array.from(padAxis(x, 1, 2, 1, 'replicate').dataSync()), [1, 1, 1, 2, 3, 4, 4]);
  // d/dx sum(pad(x) * r): each input gets the sum of the r's of every position it was copied to
  const r = tf.tensor4d([1, 2, 4, 8, 16, 32, 64, 128, 256], [1, 9, 1, 1]);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(padAxis(v as tf.Tensor4D, 1, 2, 3, 'reflect'), r)))(x);
  // padded = [x2, x1, x0, x1, x2, x3, x2, x1, x0]
  assert.deepEqual(Array.from(grad.dataSync()), [4 + 256, 2 + 8 + 128, 1 + 16 + 64, 32]);
  tf.dispose([x, r, grad]);
});

test('residual + mask: background pixels come back exactly equal to the input', () => {
  const g = buildGenerator({ residual: true, unet: true, seed: 9 });
  assert.equal(g.inputs[0].shape[3], 4);
  const x = rand([2, 21, 30, 3], 11);
  const rng = new Rng(12);
  const mv = new Float32Array(2 * 21 * 30);
  for (let i = 0; i < mv.length; i++) mv[i] = rng.next() < 0.4 ? (rng.next() < 0.5 ? 1 : 0.6) : 0;
  const m = tf.tensor(mv, [2, 21, 30, 1]) as tf.Tensor4D;
  const y = runGenerator(g, x, m);
  assert.deepEqual(y.shape, [2, 21, 30, 3]);
  const xv = x.dataSync(), yv = y.dataSync();
  let bg = 0, fgChanged = 0, fg = 0;
  for (let p = 0; p < mv.length; p++) {
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      assert.ok(yv[i] >= 0 && yv[i] <= 1);
      if (mv[p] === 0) { assert.equal(yv[i], xv[i]); bg++; } else { fg++; if (Math.abs(yv[i] - xv[i]) > 1e-4) fgChanged++; }
    }
  }
  assert.ok(bg > 1000 && fg > 500);
  assert.ok(fgChanged > fg * 0.9, `foreground changed at ${fgChanged}/${fg}`);
  assert.throws(() => runGenerator(g, x), HarmoniaError);
  tf.dispose([x, m, y]);
});

test('same seed gives identical weights; another seed differs', () => {
  const flat = (seed: number) => buildGenerator({ seed, unet: true, maskInput: true }).getWeights().map((w) => Array.from(w.dataSync())).flat();
  const a = flat(3), b = flat(3), c = flat(4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('bad configurations and inputs throw HarmoniaError', () => {
  assert.throws(() => buildGenerator({ base: 0 }), HarmoniaError);
  assert.throws(() => buildGenerator({ residualScale: 2 }), /residualScale/);
  const g = buildGenerator();
  const x4 = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
  assert.throws(() => runGenerator(g, x4), /\[N,H,W,3\]/);
  const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  assert.throws(() => runGenerator(g, x, undefined, { maskInput: true }), /config implies 4/);
  const gm = buildGenerator({ maskInput: true });
  assert.throws(() => runGenerator(gm, x, tf.zeros([1, 8, 9, 1]) as tf.Tensor4D), /mask must be/);
  tf.dispose([x4, x]);
});

test('save/load round trip (model.json + weights.bin) gives identical outputs, custom layers included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-gen-'));
  const g = buildGenerator({ residual: true, unet: true, seed: 21 });
  await saveModel(g, dir);
  assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  const back = await loadModel(dir);
  assert.equal(countParams(back), countParams(g));
  const x = rand([1, 19, 24, 3], 22);
  const m = tf.tensor(Array.from({ length: 19 * 24 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [1, 19, 24, 1]) as tf.Tensor4D;
  const a = runGenerator(g, x, m), b = runGenerator(back, x, m);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  // a truncated weights file is reported, not silently loaded
  const { truncateSync } = await import('node:fs');
  truncateSync(join(dir, 'weights.bin'), 100);
  await assert.rejects(loadModel(dir), /bytes but model.json describes/);
  await assert.rejects(loadModel(join(dir, 'missing')), (e: unknown) => e instanceof HarmoniaError && /no such file/.test((e as Error).message));
  assert.ok(!existsSync(join(dir, 'missing')));
  tf.dispose([x, m, a, b]);
});

test('paper G equals its PyTorch twin (bench/torch/gan.py) with the same weights', { skip: torchOk ? false : 'skipped: /usr/bin/python3 -c "import torch" failed' }, () => {
  const g = buildGenerator({ ...PAPER_GENERATOR, seed: 5 });
  const x = rand([2, 32, 40, 3], 31);
  const ours = (g.predict(x) as tf.Tensor).dataSync();
  const theirs = torchForward('G', g, x);
  assert.equal(theirs.length, ours.length);
  let d = 0;
  for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - theirs[i]));
  assert.ok(d < 1e-5, `max |tfjs - torch| = ${d}`);
  x.dispose();
});
