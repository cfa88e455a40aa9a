import { tempDirFactory } from '../helpers.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { loadVgg19Features, createRandomVgg19, vggLayers, DEFAULT_VGG19_TAPS } from '../../src/models/vgg.ts';
import { needsTorch, runPython } from './python.ts';

/** A fresh temp folder, removed when the file's tests end. */
const tempDir = tempDirFactory();

function readBin(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxRelDiff(got: Float32Array, want: Float32Array): { abs: number; rel: number } {
  let abs = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    abs = Math.max(abs, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { abs, rel: abs / scale };
}

test('VGG-19 layer names follow torchvision indices', () => {
  const steps = vggLayers(19);
  const at = (name: string): number => steps.find((s) => s.name === name)!.index;
  assert.deepEqual(DEFAULT_VGG19_TAPS.map(at), [3, 8, 17, 26, 35]);
  assert.equal(at('conv5_4'), 34);
  assert.equal(at('pool5'), 36);
});

test('VGG-19 features and input gradients match PyTorch on the same weights', { skip: needsTorch() }, async (t) => {
  const engine = await initEngine();
  const dir = tempDir('harmonia-vgg19-');
  const ref = JSON.parse(runPython('lpips_ref.py', ['vgg19', dir])) as { shapes: [number, number, number, number][]; loss: number };
  const vgg = await loadVgg19Features(join(dir, 'vgg19.pth'));
  assert.equal(vgg.random, false);
  assert.deepEqual([...vgg.channels], [64, 128, 256, 512, 512]);
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(readBin(join(dir, 'x.bin')), [2, 48, 40, 3]);
  const feats = tf.tidy(() => vgg.forward(x));
  feats.forEach((f, k) => {
    assert.deepEqual(f.shape, ref.shapes[k], `tap ${k} shape`);
    const d = maxRelDiff(f.dataSync() as Float32Array, readBin(join(dir, `feat${k}.bin`)));
    t.diagnostic(`${engine.backend} ${DEFAULT_VGG19_TAPS[k]}: max|diff| ${d.abs.toExponential(2)}, relative ${d.rel.toExponential(2)}`);
    assert.ok(d.abs <= 1e-4 * Math.max(1, d.abs / d.rel), `tap ${k}: abs ${d.abs}`);
    assert.ok(d.rel <= 1e-5, `tap ${k}: relative ${d.rel}`);
  });
  tf.dispose(feats);
  // gradients flow to the input (weights frozen): d/dx Σ_k mean(f_k²) equals torch's x.grad
  const lossAndGrad = tf.valueAndGrad((inp: tf.Tensor) => {
    const fs = vgg.forward(inp as tf.Tensor4D);
    return fs.map((f) => tf.mean(tf.square(f))).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
  });
  const { value, grad } = lossAndGrad(x);
  const loss = (await value.data())[0];
  assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${loss} vs ${ref.loss}`);
  const g = maxRelDiff(grad.dataSync() as Float32Array, readBin(join(dir, 'grad.bin')));
  t.diagnostic(`${engine.backend} input gradient: max|diff| ${g.abs.toExponential(2)}, relative ${g.rel.toExponential(2)}`);
  assert.ok(g.rel <= 1e-4, `gradient relative diff ${g.rel}`);
  tf.dispose([value, grad, x]);
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  vgg.dispose();
});

test('createRandomVgg19 is seeded, labelled random, and respects the taps', async () => {
  await initEngine();
  const a = createRandomVgg19(5, ['relu1_2', 'relu2_2']);
  const b = createRandomVgg19(5, ['relu1_2', 'relu2_2']);
  const c = createRandomVgg19(6, ['relu1_2', 'relu2_2']);
  assert.equal(a.random, true);
  assert.match(a.name, /random weights/);
  assert.deepEqual([...a.channels], [64, 128]);
  const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const [fa, fb, fc] = [a, b, c].map((m) => tf.tidy(() => m.forward(x)));
  assert.deepEqual(fa[1].shape, [1, 8, 8, 128]);
  assert.deepEqual(Array.from(fa[1].dataSync()), Array.from(fb[1].dataSync()));
  assert.notDeepEqual(Array.from(fa[1].dataSync()), Array.from(fc[1].dataSync()));
  // features are O(1) (He init keeps activations alive), not vanishing
  const m = tf.tidy(() => tf.mean(tf.abs(fa[1])).dataSync()[0]);
  assert.ok(m > 0.05 && m < 50, `mean |relu2_2| ${m}`);
  assert.throws(() => createRandomVgg19(1, ['relu3_3x']), /VGG-19 has no layer "relu3_3x"/);
  tf.dispose([x, ...fa, ...fb, ...fc]);
  [a, b, c].forEach((m) => m.dispose());
});
