import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import {
  bceWithLogits, generatorAdversarialLoss, discriminatorAdversarialLoss, l1Loss, mseLoss, weightedL1,
  maskedContentLoss, foregroundNormalizedMse, foregroundLogRatio, noWorsePenalty, featureMseFromMaps, generatorLoss, discriminatorLoss,
  DEFAULT_LOSS, validateLossConfig,
} from '../../src/losses/index.ts';
import type { LossConfig } from '../../src/losses/index.ts';
import { HarmoniaError } from '../../src/errors.ts';

await initEngine({ backend: 'cpu' });

const close = (a: number, b: number, tol = 1e-5, what = '') =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what} ${a} != ${b}`);
const val = (t: tf.Tensor) => { const v = t.dataSync()[0]; t.dispose(); return v; };

test('bceWithLogits matches -[t·log σ(x) + (1−t)·log(1−σ(x))] and stays finite for huge logits', () => {
  const xs = [-3, -0.5, 0, 0.7, 4];
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (const target of [0, 1, 0.3]) {
    const want = xs.reduce((s, x) => s - (target * Math.log(sig(x)) + (1 - target) * Math.log(1 - sig(x))), 0) / xs.length;
    close(val(bceWithLogits(tf.tensor1d(xs), target)), want, 1e-6, `target ${target}`);
  }
  close(val(bceWithLogits(tf.scalar(0), 1)), Math.log(2), 1e-7);
  const big = val(bceWithLogits(tf.tensor1d([1000, -1000]), 1));
  assert.ok(Number.isFinite(big));
  close(big, 500, 1e-6); // (0 + 1000)/2
  assert.throws(() => bceWithLogits(tf.scalar(0), 2), HarmoniaError);
});

test('adversarial losses: BCE, LSGAN and hinge on known logits', () => {
  const real = tf.tensor2d([[2], [-1]]);
  const fake = tf.tensor2d([[0.5], [-2]]);
  const sp = (x: number) => Math.log1p(Math.exp(x)); // softplus
  // BCE: G = mean softplus(-fake); D = mean softplus(-real) + mean softplus(fake)
  close(val(generatorAdversarialLoss(fake, 'bce')), (sp(-0.5) + sp(2)) / 2, 1e-6);
  close(val(discriminatorAdversarialLoss(real, fake, 'bce')), (sp(-2) + sp(1)) / 2 + (sp(0.5) + sp(-2)) / 2, 1e-6);
  // LSGAN
  close(val(generatorAdversarialLoss(fake, 'lsgan')), 0.5 * ((0.5 - 1) ** 2 + (-2 - 1) ** 2) / 2, 1e-6);
  close(val(discriminatorAdversarialLoss(real, fake, 'lsgan')), 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2) / 2 + 0.5 * (0.25 + 4) / 2, 1e-6);
  // hinge
  close(val(generatorAdversarialLoss(fake, 'hinge')), -(0.5 - 2) / 2, 1e-6);
  close(val(discriminatorAdversarialLoss(real, fake, 'hinge')), (0 + 2) / 2 + (1.5 + 0) / 2, 1e-6);
  // PatchGAN-shaped logits: the mean over all elements
  const patch = tf.zeros([2, 3, 3, 1]);
  close(val(generatorAdversarialLoss(patch, 'bce')), Math.log(2), 1e-7);
  tf.dispose([real, fake, patch]);
});

test('gradient of BCE G loss w.r.t. logits is (σ(x) − 1)/n', () => {
  const x = tf.tensor1d([-1, 0, 2]);
  const g = tf.grad((l: tf.Tensor) => generatorAdversarialLoss(l, 'bce'))(x);
  const want = [-1, 0, 2].map((v) => (1 / (1 + Math.exp(-v)) - 1) / 3);
  const got = Array.from(g.dataSync());
  want.forEach((w, i) => close(got[i], w, 1e-6));
  tf.dispose([x, g]);
});

function fixture() {
  // 1 image, 2×2, 3 channels; foreground = left column
  const x = tf.tensor4d([0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.9, 0.8, 0.7, 0, 0, 0], [1, 2, 2, 3]);
  const y = tf.tensor4d([0.2, 0.2, 0.1, 0.5, 0.4, 0.7, 0.9, 0.9, 0.9, 1, 1, 1], [1, 2, 2, 3]);
  const m = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
  return { x, y, m };
}

test('L1, MSE, weighted and masked L1 on a 2×2 image', () => {
  const { x, y, m } = fixture();
  const d = [0.1, 0, 0.2, 0, 0.1, 0.2, 0, 0.1, 0.2, 1, 1, 1];
  close(val(l1Loss(x, y)), d.reduce((a, b) => a + b) / 12, 1e-6);
  close(val(mseLoss(x, y)), d.reduce((a, b) => a + b * b, 0) / 12, 1e-6);
  const fg = (0.1 + 0 + 0.2 + 0 + 0.1 + 0.2) / 12; // pixels 0 and 2 (the left column)
  const bg = (0 + 0.1 + 0.2 + 3) / 12;
  close(val(weightedL1(x, y, m)), fg, 1e-6);
  const r = maskedContentLoss(x, y, m, 10, 2);
  close(val(r.foreground), 10 * fg, 1e-5);
  close(val(r.background), 2 * bg, 1e-5);
  close(val(r.total), 10 * fg + 2 * bg, 1e-5);
  // with λ_mask = λ_unmask = 100 the masked loss equals the plain 100·L1 (hard mask)
  close(val(maskedContentLoss(x, y, m, 100, 100).total), 100 * val(l1Loss(x, y)), 1e-5);
  assert.throws(() => maskedContentLoss(x, y, m, -1, 1), /lambdaMask/);
  assert.throws(() => weightedL1(x, y, tf.ones([1, 2, 2, 3])), /mask must be/);
  tf.dispose([x, y, m]);
});

test('foreground-normalised MSE divides the squared error sum by max(A_min, foreground area)', () => {
  const { x, y, m } = fixture();
  const sq = [0.01, 0, 0.04, 0, 0.01, 0.04, 0, 0.01, 0.04, 1, 1, 1].reduce((a, b) => a + b);
  close(val(foregroundNormalizedMse(x, y, m, 0.01)), sq / 2, 1e-5); // area 2 px
  close(val(foregroundNormalizedMse(x, y, tf.zeros([1, 2, 2, 1]), 0.75)), sq / 3, 1e-5); // A_min = 0.75·4
  // batch mean of per-image values
  const x2 = tf.concat([x, x]), y2 = tf.concat([y, x]), m2 = tf.concat([m, m]);
  close(val(foregroundNormalizedMse(x2, y2, m2, 0.01)), sq / 2 / 2, 1e-5);
  tf.dispose([x, y, m, x2, y2, m2]);
});

test('foreground log-ratio is ln((fMSE(out)+ε)/(fMSE(in)+ε)) per image, averaged; its hinge keeps only images made worse', () => {
  // 1×1×2 images, foreground = the first pixel; input error 0.2 per channel, output error 0.1 on image 0 and
  // 0.4 on image 1; the background is untouched (as G's blended output guarantees)
  const target = tf.tensor4d([0, 0, 0, 0.9, 0.9, 0.9, 0, 0, 0, 0.9, 0.9, 0.9], [2, 1, 2, 3]);
  const input = tf.tensor4d([0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9], [2, 1, 2, 3]);
  const out = tf.tensor4d([0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.4, 0.4, 0.4, 0.9, 0.9, 0.9], [2, 1, 2, 3]);
  const mask = tf.tensor4d([1, 0, 1, 0], [2, 1, 2, 1]);
  const eps = 1e-5, before = 0.04 + eps;
  const r0 = Math.log((0.01 + eps) / before), r1 = Math.log((0.16 + eps) / before);
  close(val(foregroundLogRatio(out, target, input, mask, 0.1, eps)), (r0 + r1) / 2, 1e-5);
  close(val(foregroundLogRatio(out, target, input, mask, 0.1, eps, true)), Math.max(0, r1) / 2, 1e-5);
  close(val(foregroundLogRatio(input, target, input, mask, 0.1, eps)), 0, 1e-7); // identity: 0
  // the linear penalty sees the same worse image as (0.16 − 0.04)·3 channels / 1 px, halved by the batch mean
  close(val(noWorsePenalty(out, target, input, mask, 0.1)), (0.16 - 0.04) * 3 / 2, 1e-5);
  tf.dispose([target, input, out, mask]);
});

test('feature MSE is the mean over layers of per-layer MSE', () => {
  const a = [tf.tensor1d([1, 2]), tf.tensor2d([[0, 0, 0, 4]])];
  const b = [tf.tensor1d([1, 4]), tf.tensor2d([[0, 0, 0, 0]])];
  close(val(featureMseFromMaps(a, b)), ((0 + 4) / 2 + 16 / 4) / 2, 1e-6);
  assert.throws(() => featureMseFromMaps(a, [b[0]]), /same non-zero number/);
  tf.dispose([...a, ...b]);
});

test('feature loss: the gradient equals tfjs\'s own mean(squaredDifference) gradient; the target branch runs untaped and nothing leaks', async () => {
  const { featureLoss, mseToConstant } = await import('../../src/losses/feature.ts');
  const rnd = (seed: number, shape: [number, number, number, number]) => tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor4D;
  const x = rnd(1, [2, 6, 5, 3]), y = rnd(2, [2, 6, 5, 3]);
  const w = rnd(3, [3, 3, 3, 4]);
  const extract = (im: tf.Tensor4D) => { const c = tf.relu(tf.conv2d(im, w, 1, 'same')); return [c, tf.mean(c, [1, 2])]; };
  const before = tf.memory().numTensors;
  const ours = tf.grad((a: tf.Tensor) => featureLoss(extract, a as tf.Tensor4D, y))(x);
  const stock = tf.grad((a: tf.Tensor) => {
    const fa = extract(a as tf.Tensor4D), fb = extract(y);
    return tf.div(tf.add(tf.mean(tf.squaredDifference(fa[0], fb[0])), tf.mean(tf.squaredDifference(fa[1], fb[1]))), 2);
  })(x);
  const [d, m] = tf.tidy(() => [tf.max(tf.abs(tf.sub(ours, stock))).dataSync()[0], tf.max(tf.abs(stock)).dataSync()[0]]);
  assert.ok(m > 0 && d <= 1e-6 * m, `feature-loss gradient differs by ${d} (max ${m})`);
  const p = tf.tensor1d([1, 2, 3]), q = tf.tensor1d([1, 0, 0]);
  close(val(mseToConstant(p, q)), (0 + 4 + 9) / 3, 1e-6);
  tf.dispose([ours, stock, p, q]);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  tf.dispose([x, y, w]);
});

test('generatorLoss composes the three settings; no tensors leak', () => {
  const { x, y, m } = fixture();
  const logits = tf.tensor2d([[0]]);
  const before = tf.memory().numTensors;
  const cfg = (o: Partial<LossConfig>): LossConfig => ({ ...DEFAULT_LOSS, ...o });
  const adv = Math.log(2);
  const l1 = val(l1Loss(x, y));
  const c = generatorLoss(cfg({ setting: 'content' }), { fake: x, real: y, mask: m, fakeLogits: logits });
  close(c.total.dataSync()[0], adv + 100 * l1, 1e-5);
  assert.deepEqual(Object.keys(c.parts).sort(), ['adv', 'l1']);
  tf.dispose([c.total, ...Object.values(c.parts)]);
  const mk = generatorLoss(cfg({ setting: 'mask', lambdaMask: 50, lambdaUnmask: 5 }), { fake: x, real: y, mask: m, fakeLogits: logits });
  close(mk.total.dataSync()[0], adv + 50 * 0.6 / 12 + 5 * 3.3 / 12, 1e-5);
  tf.dispose([mk.total, ...Object.values(mk.parts)]);
  // feature setting with an identity "extractor": 10·MSE(x, y) extra
  const f = generatorLoss(cfg({ setting: 'feature', fnMseWeight: 2, fnMseMinArea: 0.01 }), {
    fake: x, real: y, mask: m, fakeLogits: logits, features: (t) => [t.mul(1)],
  });
  const mse = val(mseLoss(x, y));
  const fn = val(foregroundNormalizedMse(x, y, m, 0.01));
  close(f.total.dataSync()[0], adv + 100 * l1 + 10 * mse + 2 * fn, 1e-5);
  assert.deepEqual(Object.keys(f.parts).sort(), ['adv', 'feature', 'fnmse', 'l1']);
  tf.dispose([f.total, ...Object.values(f.parts)]);
  assert.throws(() => generatorLoss(cfg({ setting: 'feature' }), { fake: x, real: y, mask: m, fakeLogits: logits }), /feature extractor/);
  const d = discriminatorLoss(cfg({}), logits, logits);
  close(d.total.dataSync()[0], 2 * Math.log(2), 1e-6);
  d.total.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y, m, logits]);
});

test('validateLossConfig names the bad field', () => {
  assert.throws(() => validateLossConfig({ ...DEFAULT_LOSS, l1Weight: -1 }), /loss\.l1Weight/);
  assert.throws(() => validateLossConfig({ ...DEFAULT_LOSS, adversarial: 'wgan' as 'bce' }), /loss\.adversarial/);
  assert.throws(() => validateLossConfig({ ...DEFAULT_LOSS, setting: 'feature', featureLayers: [] }), /featureLayers/);
  validateLossConfig(DEFAULT_LOSS);
});
