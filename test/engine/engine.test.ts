/**
 * initEngine (selection, HARMONIA_BACKEND, switching, reported info), the safe ops in
 * src/engine/ops.ts, and evidence that each registered wasm kernel replaces a stock kernel that is
 * wrong (stock functions are called directly, side by side with the registered ones).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine, engineInfo } from '../../src/engine/index.ts';
import { loadNativeAddon } from '../../src/engine/native/addon.ts';
import { stockWasmKernel, WASM_KERNELS } from '../../src/engine/kernels/index.ts';
import { phaseSplitKernel } from '../../src/engine/kernels/conv2d-backprop-input.ts';
import { reflectPad, pixelShuffle, pixelUnshuffle } from '../../src/engine/ops.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { distinct, maxAbsDiff, rand } from './gradcheck.ts';
import { env, type BackendRequest } from '../../src/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `fn` with env.backend (HARMONIA_BACKEND, src/config) set to `value` (any string: bad ones are rejected by initEngine). */
async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const old = env.backend;
  env.backend = value as BackendRequest | undefined;
  try {
    return await fn();
  } finally {
    env.backend = old;
  }
}

test('initEngine: explicit backends, switching both ways, info and kernels', async () => {
  const w = await initEngine({ backend: 'wasm' });
  assert.equal(w.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(w.reason, 'requested');
  assert.ok(w.threads >= 1);
  assert.deepEqual(w.kernels, Object.keys(WASM_KERNELS));
  const c = await initEngine({ backend: 'cpu' });
  assert.equal(c.backend, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(c.threads, 1);
  assert.deepEqual(c.kernels, []);
  assert.equal(engineInfo(), c);
  // Back to wasm: the registered kernels still serve conv gradients (stock wasm has no Conv2DBackpropFilter).
  await initEngine({ backend: 'wasm' });
  const g = tf.tidy(() => tf.grad((w4: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, w4 as tf.Tensor4D, 1, 'valid')))(tf.ones([3, 3, 1, 1]) as tf.Tensor4D).dataSync());
  assert.deepEqual(Array.from(g), new Array(9).fill(4));
});

test('initEngine: auto honours HARMONIA_BACKEND, rejects bad values', async () => {
  const info = await withEnv('cpu', () => initEngine({ backend: 'auto' }));
  assert.equal(info.backend, 'cpu');
  assert.equal(info.reason, 'HARMONIA_BACKEND=cpu');
  const info2 = await withEnv('wasm', () => initEngine());
  assert.equal(info2.backend, 'wasm');
  await assert.rejects(withEnv('gpu', () => initEngine()), (e: unknown) => e instanceof HarmoniaError && /HARMONIA_BACKEND/.test(e.message) && /gpu/.test(e.message));
  await assert.rejects(initEngine({ backend: 'quantum' as 'cpu' }), HarmoniaError);
  // An explicit backend beats the environment.
  const info3 = await withEnv('cpu', () => initEngine({ backend: 'wasm' }));
  assert.equal(info3.backend, 'wasm');
});

test('initEngine: a fresh process picks tensorflow → native → wasm → cpu and says why', () => {
  // A child process, so the selection starts from nothing (this process already holds an engine).
  const code = "import('./src/engine/index.ts').then(async (m) => { console.log(JSON.stringify(await m.initEngine())); })";
  const env = { ...process.env };
  delete env.HARMONIA_BACKEND;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { backend: string; reason: string; threads: number; kernels: string[] };
  let hasTfjsNode = true;
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
  } catch {
    hasTfjsNode = false;
  }
  if (hasTfjsNode) {
    assert.equal(info.backend, 'tensorflow');
  } else if (loadNativeAddon().ok) {
    // The oneDNN addon is built (npm run build:native): native comes before wasm.
    assert.equal(info.backend, 'native');
    assert.match(info.reason, /^auto: tensorflow (not installed \(optional @tensorflow\/tfjs-node\)|unavailable \()/);
  } else {
    assert.equal(info.backend, 'wasm');
    assert.match(info.reason, /^auto: tensorflow (not installed \(optional @tensorflow\/tfjs-node\)|unavailable \()/);
    assert.deepEqual(info.kernels, Object.keys(WASM_KERNELS));
  }
  assert.ok(info.threads >= 1);
});

test('initEngine: requesting an unavailable backend fails with a HarmoniaError naming it', async (t) => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    t.skip('@tensorflow/tfjs-node is installed');
    return;
  } catch {
    // not installed: expected here
  }
  await assert.rejects(initEngine({ backend: 'tensorflow' }), (e: unknown) => e instanceof HarmoniaError && /backend "tensorflow" could not start/.test(e.message));
  assert.equal(tf.getBackend(), 'wasm', 'the previous backend stays active');
});

test('reflectPad equals mirrorPad reflect forward, checks its arguments', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.tensor4d(rand([2, 5, 6, 3], 7).data, [2, 5, 6, 3]);
  const ours = reflectPad(x, [2, 1, 3, 2]);
  const ref = tf.mirrorPad(x, [[0, 0], [2, 1], [3, 2], [0, 0]], 'reflect');
  assert.deepEqual(ours.shape, [2, 8, 11, 3]);
  assert.equal(maxAbsDiff(ours.dataSync(), ref.dataSync()), 0);
  // Row 0 of the padded image is input row 2 (reflection about row 0, edge not repeated).
  const row = tf.tidy(() => tf.slice(ours, [0, 0, 3, 0], [1, 1, 6, 3]).dataSync());
  const src = tf.tidy(() => tf.slice(x, [0, 2, 0, 0], [1, 1, 6, 3]).dataSync());
  assert.deepEqual(Array.from(row), Array.from(src));
  assert.throws(() => reflectPad(x, 5), (e: unknown) => e instanceof HarmoniaError && /smaller than the height 5/.test(e.message));
  assert.throws(() => reflectPad(x, [1, 1, -1, 0]), HarmoniaError);
  tf.dispose([x, ours, ref]);
});

test('pixelShuffle equals depthToSpace; pixelUnshuffle inverts it', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.tensor4d(rand([2, 3, 4, 12], 8).data, [2, 3, 4, 12]);
  const y = pixelShuffle(x, 2);
  const ref = tf.depthToSpace(x, 2);
  assert.deepEqual(y.shape, [2, 6, 8, 3]);
  assert.equal(maxAbsDiff(y.dataSync(), ref.dataSync()), 0);
  const back = pixelUnshuffle(y, 2);
  assert.equal(maxAbsDiff(back.dataSync(), x.dataSync()), 0);
  assert.throws(() => pixelShuffle(x, 4), (e: unknown) => e instanceof HarmoniaError && /divisible/.test(e.message));
  assert.throws(() => pixelUnshuffle(y, 4), HarmoniaError);
  tf.dispose([x, y, ref, back]);
});

test('phaseSplitKernel: stride 1 is the flipped, in/out-swapped kernel', () => {
  // w[kh, kw, c, o] with KH = KW = 2, C = 1, O = 2: value = 10·(kh·2 + kw) + o
  const w = Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]);
  const out = new Float32Array(8);
  phaseSplitKernel(w, 2, 2, 1, 2, 1, 1, out);
  // out[m, n, o, c] = w[1 − m, 1 − n, c, o]
  assert.deepEqual(Array.from(out), [30, 31, 20, 21, 10, 11, 0, 1]);
});

/** Runs a stock wasm kernel function directly and returns its output values. */
function runStock(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): Float32Array {
  const fn = stockWasmKernel(name);
  assert.ok(fn, `stock ${name} exists`);
  const backend = tf.backend() as unknown as { readSync(id: object): Float32Array; disposeData(id: object): boolean };
  const out = fn({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
  const vals = backend.readSync(out.dataId).slice();
  backend.disposeData(out.dataId);
  return vals;
}

test('stock wasm MaxPoolGrad is wrong on windows with a negative max; the registered kernel is right', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.tensor4d(distinct([1, 4, 4, 1], 3, 0.1, -5).data, [1, 4, 4, 1]); // all negative
  const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
  const y = tf.maxPool(x, 2, 2, 'valid');
  const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), dy)))(x);
  // Expected: each dy goes to the argmax of its window.
  const xv = x.dataSync(), expect = new Float32Array(16);
  for (let oh = 0; oh < 2; oh++) for (let ow = 0; ow < 2; ow++) {
    let best = -Infinity, pos = -1;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      const p = (oh * 2 + i) * 4 + ow * 2 + j;
      if (xv[p] > best) { best = xv[p]; pos = p; }
    }
    expect[pos] += dy.dataSync()[oh * 2 + ow];
  }
  assert.deepEqual(Array.from(ours.dataSync()), Array.from(expect));
  const stock = runStock('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' });
  assert.ok(maxAbsDiff(stock, expect) >= 1, 'stock MaxPoolGrad routes some gradient to the wrong element');
  tf.dispose([x, dy, y, ours]);
});

test('stock wasm ResizeBilinearGrad ignores halfPixelCenters; the registered kernel sums the true weights', async () => {
  await initEngine({ backend: 'wasm' });
  // 1-D case, 2 → 4 pixels with half-pixel centres: output taps (−0.25, 0.25, 0.75, 1.25) clamp to
  // weights on x0 = [1, 0.75, 0.25, 0], x1 = [0, 0.25, 0.75, 1]; with dy = 1 everywhere dx = [2, 2].
  const x = tf.zeros([1, 1, 2, 1]) as tf.Tensor4D;
  const dy = tf.tensor4d([1, 10, 100, 1000], [1, 1, 4, 1]);
  const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(t as tf.Tensor4D, [1, 4], false, true), dy)))(x);
  assert.deepEqual(Array.from(ours.dataSync()), [1 + 7.5 + 25, 2.5 + 75 + 1000]);
  const stock = runStock('ResizeBilinearGrad', { images: x, dy }, { alignCorners: false, halfPixelCenters: true });
  assert.ok(maxAbsDiff(stock, ours.dataSync()) > 10, `stock gives [${Array.from(stock)}]`);
  tf.dispose([x, dy, ours]);
});
