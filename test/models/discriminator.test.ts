import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { buildDiscriminator, countParams, PAPER_DISCRIMINATOR, saveModel, loadModel } from '../../src/models/index.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { torchOk, torchForward } from './twin.ts';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

test('paper discriminator has 690,401 parameters (same as the probe and the PyTorch twin)', () => {
  assert.equal(countParams(buildDiscriminator(PAPER_DISCRIMINATOR)), 690_401);
  assert.equal(countParams(buildDiscriminator({ maskInput: true })), 690_401 + 16 * 32);
  // patch: 4 convs as above, then a 4x4 conv 256 -> 1 instead of dense 256 -> 1
  assert.equal(countParams(buildDiscriminator({ kind: 'patch' })), 690_401 - 257 + 16 * 256 + 1);
});

test('image D gives one logit per image for any size; patch D a logit map', () => {
  const d = buildDiscriminator({ seed: 1 });
  const p = buildDiscriminator({ kind: 'patch', seed: 1 });
  const before = tf.memory().numTensors;
  for (const [h, w] of [[37, 51], [64, 64], [5, 3]]) {
    const x = tf.randomUniform([3, h, w, 3], 0, 1, 'float32', 7);
    const y = d.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [3, 1]);
    const yp = p.predict(x) as tf.Tensor;
    assert.deepEqual(yp.shape, [3, Math.ceil(h / 8), Math.ceil(w / 8), 1]);
    // logits are unbounded reals (no sigmoid in the model): finite and varying across images
    const v = Array.from(y.dataSync());
    assert.ok(v.every(Number.isFinite));
    tf.dispose([x, y, yp]);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('D output depends on its input and gradients reach every weight', () => {
  const d = buildDiscriminator({ seed: 2 });
  const a = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
  const b = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 2);
  const ya = (d.predict(a) as tf.Tensor).dataSync(), yb = (d.predict(b) as tf.Tensor).dataSync();
  assert.notEqual(ya[0], yb[0]);
  const vars = d.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(tf.ones([2, 1]), d.apply(a) as tf.Tensor) as tf.Scalar, vars);
  assert.equal(Object.keys(grads).length, 10);
  for (const g of Object.values(grads)) assert.ok(tf.max(tf.abs(g)).dataSync()[0] > 0);
  tf.dispose([a, b, value, ...Object.values(grads)]);
});

test('same seed gives identical weights; mask input takes 4 channels', () => {
  const w = (seed: number) => buildDiscriminator({ seed, kind: 'patch' }).getWeights().map((t) => Array.from(t.dataSync())).flat();
  assert.deepEqual(w(5), w(5));
  assert.notDeepEqual(w(5), w(6));
  const dm = buildDiscriminator({ maskInput: true });
  assert.equal(dm.inputs[0].shape[3], 4);
  const y = dm.predict(tf.zeros([1, 16, 16, 4])) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 1]);
});

test('bad configurations throw HarmoniaError', () => {
  assert.throws(() => buildDiscriminator({ base: 1.5 }), HarmoniaError);
  assert.throws(() => buildDiscriminator({ kind: 'pixel' as unknown as 'patch' }), /kind must be/);
});

test('save/load round trip gives identical logits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-disc-'));
  for (const kind of ['image', 'patch'] as const) {
    const d = buildDiscriminator({ kind, seed: 4 });
    await saveModel(d, join(dir, kind));
    const back = await loadModel(join(dir, kind));
    const x = tf.randomUniform([2, 24, 40, 3], 0, 1, 'float32', 3);
    assert.deepEqual(Array.from((back.predict(x) as tf.Tensor).dataSync()), Array.from((d.predict(x) as tf.Tensor).dataSync()));
  }
});

test('paper D equals its PyTorch twin (bench/torch/gan.py) with the same weights', { skip: torchOk ? false : 'skipped: /usr/bin/python3 -c "import torch" failed' }, () => {
  const d = buildDiscriminator({ ...PAPER_DISCRIMINATOR, seed: 6 });
  // sizes whose every conv input is even: TF 'same' and torch padding=1 then agree (for an odd
  // input TF pads 1 before / 2 after and keeps ceil(n/2) outputs, torch gives floor)
  const x = tf.randomUniform([3, 48, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const ours = (d.predict(x) as tf.Tensor).dataSync();
  const theirs = torchForward('D', d, x);
  assert.equal(theirs.length, 3);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(ours[i] - theirs[i]) < 1e-5, `logit ${i}: tfjs ${ours[i]} torch ${theirs[i]}`);
  x.dispose();
});

test('discriminator kinds: image and patch; the legacy name "global" (configs and checkpoints written before the rename) maps to image; anything else is refused', async () => {
  const { normalizeDiscriminatorKind } = await import('../../src/models/discriminator.ts');
  assert.equal(normalizeDiscriminatorKind('global'), 'image');
  assert.equal(normalizeDiscriminatorKind('image'), 'image');
  assert.equal(normalizeDiscriminatorKind('patch'), 'patch');
  assert.equal(normalizeDiscriminatorKind(undefined), undefined);
  assert.throws(() => normalizeDiscriminatorKind('pct'), /discriminator: kind must be image or patch, got "pct"/);
  const legacy = buildDiscriminator({ base: 4, kind: 'global' as unknown as 'image' });
  assert.deepEqual(legacy.outputs[0].shape, [null, 1], 'a legacy "global" config builds the per-image D');
  legacy.dispose();
});
