/**
 * The 'native' backend (oneDNN addon, src/engine/native/) against the cpu backend (and wasm where
 * the cpu kernel is wrong): forward outputs and all input gradients of every natively implemented
 * kernel, finite differences on the native backend itself, proof that the native path (not the cpu
 * fallback) ran, the fallback for unsupported cases, and 5 steps of the paper GAN (G + D, Adam)
 * trained on native and on cpu from identical weights. Skips when the addon is not built.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine, engineInfo } from '../../src/engine/index.ts';
import {
  loadNativeAddon, nativeKernelStats, resetNativeKernelStats, NATIVE_KERNELS, nativeAddon,
} from '../../src/engine/native/index.ts';
import { broadcastPlan, stridedPlan, reductionPlan, isSuffixOf } from '../../src/engine/native/elementwise.ts';
import { createModels, runPhase, GAN_STEP_MODULE, paperGanOptions } from '../../src/train/step-module.ts';
import { DataParallelPool } from '../../src/engine/parallel/index.ts';
import { Rng } from '../../src/util/random.ts';
import { RELU_GRAD_KERNEL, LEAKY_RELU_GRAD_KERNEL, CLIP_GRAD_KERNEL, CURVE_KERNEL, CURVE_GRAD_KERNEL, CONV_LEAKY_KERNEL, piecewiseLinearCurves } from '../../src/engine/ops.ts';
import { convRelu } from '../../src/models/torch/convert.ts';
import { BACKEND_TOL, awayFromZero, distinct, evaluate, finiteDiffError, maxAbs, maxAbsDiff, rand, type Case } from './gradcheck.ts';
import { env } from '../../src/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const load = loadNativeAddon();
const skip = load.ok ? false : `skipped: ${load.reason}`;

type Backend = 'native' | 'cpu' | 'wasm';
async function use(name: Backend): Promise<void> {
  const info = await initEngine({ backend: name });
  assert.equal(info.backend, name);
}

const conv = (s: number, pad: 'same' | 'valid', dil = 1) => (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad, 'NHWC', dil);

interface NativeCase extends Case {
  /** Kernels that must have run natively (not through the cpu fallback). */
  kernels: string[];
  /** Reference backend (default cpu). */
  ref?: Backend;
  /** Also check against central finite differences on the native backend. */
  fd?: boolean;
}

const CASES: NativeCase[] = [
  { name: 'conv2d 3x3 s1 same', inputs: [rand([2, 7, 6, 3], 1), rand([3, 3, 3, 5], 2)], f: conv(1, 'same'), kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'], eps: 0.05, fdTol: 1e-3, fd: true },
  { name: 'conv2d 4x4 s2 same', inputs: [rand([2, 8, 8, 4], 3), rand([4, 4, 4, 6], 4)], f: conv(2, 'same'), kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'], eps: 0.05, fdTol: 1e-3, fd: true },
  { name: 'conv2d 3x3 s2 valid, odd size', inputs: [rand([2, 9, 7, 3], 5), rand([3, 3, 3, 4], 6)], f: conv(2, 'valid'), kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] },
  { name: 'conv2d 4x4 s2 valid, unused last row', inputs: [rand([1, 9, 9, 2], 7), rand([4, 4, 2, 3], 8)], f: conv(2, 'valid'), kernels: ['Conv2D'] },
  { name: 'conv2d 1x1', inputs: [rand([2, 5, 5, 8], 9), rand([1, 1, 8, 4], 10)], f: conv(1, 'valid'), kernels: ['Conv2D', 'Conv2DBackpropFilter'] },
  {
    name: 'conv2dTranspose 4x4 s2 same', inputs: [rand([2, 4, 5, 6], 13), rand([4, 4, 3, 6], 14)],
    f: (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 8, 10, 3], 2, 'same'), kernels: ['Conv2DBackpropInput', 'Conv2D', 'Conv2DBackpropFilter'], eps: 0.05, fdTol: 1e-3, fd: true,
  },
  {
    name: 'conv2dTranspose 3x3 s1 valid', inputs: [rand([1, 5, 5, 4], 15), rand([3, 3, 2, 4], 16)],
    f: (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [1, 7, 7, 2], 1, 'valid'), kernels: ['Conv2DBackpropInput'],
  },
  ...(['relu', 'leakyrelu', 'sigmoid', 'linear'] as const).map((activation, i): NativeCase => ({
    name: `fused conv2d + bias + ${activation}`, inputs: [awayFromZero([2, 6, 6, 3], 20 + i), rand([3, 3, 3, 4], 30 + i), rand([4], 40 + i)],
    f: (x, w, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation, leakyreluAlpha: 0.2 }),
    kernels: ['FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  })),
  { name: 'maxPool 2x2/2 valid', inputs: [distinct([2, 6, 6, 3], 50)], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), kernels: ['MaxPool', 'MaxPoolGrad'] },
  { name: 'maxPool 3x3/2 same, signed', inputs: [distinct([2, 7, 7, 3], 51, 0.05, -2)], f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'), kernels: ['MaxPool', 'MaxPoolGrad'] },
  { name: 'matMul', inputs: [rand([5, 7], 60), rand([7, 3], 61)], f: (a, b) => tf.matMul(a, b), kernels: ['BatchMatMul'] },
  { name: 'matMul transposeA', inputs: [rand([7, 5], 62), rand([7, 3], 63)], f: (a, b) => tf.matMul(a, b, true, false), kernels: ['BatchMatMul'] },
  { name: 'matMul transposeB', inputs: [rand([5, 7], 64), rand([3, 7], 65)], f: (a, b) => tf.matMul(a, b, false, true), kernels: ['BatchMatMul'] },
  { name: 'batched matMul', inputs: [rand([3, 4, 6], 66), rand([3, 6, 2], 67)], f: (a, b) => tf.matMul(a, b), kernels: ['BatchMatMul'] },
  {
    name: 'fused matMul + bias + relu', inputs: [rand([4, 6], 68), rand([6, 5], 69), rand([5], 70)],
    f: (a, b, c) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c, activation: 'relu' }), kernels: ['_FusedMatMul'],
  },
  { name: 'add bias (suffix broadcast) + mul scalar', inputs: [rand([2, 4, 4, 3], 80), rand([3], 81)], f: (x, b) => tf.mul(tf.add(x, b), 3), kernels: ['Add', 'Multiply'] },
  { name: 'sub, div, squaredDifference', inputs: [rand([3, 5], 82), awayFromZero([3, 5], 83, 0.5)], f: (a, b) => tf.add(tf.div(tf.sub(a, b), b), tf.squaredDifference(a, b)), kernels: ['Sub', 'RealDiv', 'SquaredDifference'] },
  { name: 'broadcast mul/add: [4,1,1,6]·[4,3,3,6] (global pool gradient), [3,1]+[1,4]', inputs: [rand([4, 1, 1, 6], 95), rand([4, 3, 3, 6], 96), rand([3, 1], 97), rand([1, 4], 98)],
    f: (a, b, c, d) => tf.add(tf.sum(tf.mul(a, b)), tf.sum(tf.mul(tf.add(c, d), c))), kernels: ['Multiply', 'Add'] },
  { name: 'maximum, minimum', inputs: [distinct([4, 5], 84), distinct([4, 5], 85, 0.05, 0.01)], f: (a, b) => tf.add(tf.maximum(a, b), tf.minimum(a, b)), kernels: ['Maximum', 'Minimum'] },
  { name: 'relu, leakyRelu (fused activation gradients)', inputs: [awayFromZero([2, 3, 3, 4], 86)], f: (x) => tf.add(tf.relu(x), tf.leakyRelu(x, 0.2)), kernels: ['Relu', 'LeakyRelu', RELU_GRAD_KERNEL, LEAKY_RELU_GRAD_KERNEL] },
  { name: 'clipByValue (fused gradient)', inputs: [awayFromZero([2, 5, 4, 3], 83)], f: (x) => tf.mul(tf.clipByValue(x, -0.3, 0.45), 2), kernels: ['ClipByValue', CLIP_GRAD_KERNEL] },
  {
    name: 'broadcast over the middle axes ([n,1,1,3] · [n,h,w,3]: strided rows of 3)', inputs: [rand([3, 9, 7, 3], 96), rand([3, 1, 1, 3], 97)],
    f: (x, s) => tf.sub(tf.mul(x, s), s), kernels: ['Multiply', 'Sub'],
  },
  {
    name: 'the same broadcast, large enough to split over threads', inputs: [rand([2, 128, 257, 3], 98), rand([2, 1, 1, 3], 99)],
    f: (x, s) => tf.mul(x, s), kernels: ['Multiply'],
  },
  { name: 'concat along channels ([RGB, mask]) and along rows', inputs: [rand([2, 5, 4, 3], 100), rand([2, 5, 4, 1], 101)], f: (x, m) => tf.concat([tf.concat([x, m], 3), tf.concat([m, x], 3)], 1), kernels: ['Concat'] },
  { name: 'addN (and the gradient of a tensor used three times)', inputs: [rand([3, 4, 5], 102), rand([3, 4, 5], 103)], f: (x, y) => tf.addN([x, tf.mul(x, y), tf.square(x)]), kernels: ['AddN'] },
  {
    name: 'piecewise-linear colour curves (fused forward and gradient for x and the slopes)', inputs: [rand([2, 6, 5, 3], 104), awayFromZero([2, 24], 105)],
    f: (x, sl) => piecewiseLinearCurves(tf.mul(tf.add(x, 1), 0.5) as tf.Tensor4D, tf.exp(sl) as tf.Tensor2D, 8), kernels: [CURVE_KERNEL, CURVE_GRAD_KERNEL],
  },
  { name: 'greater, select, step', inputs: [awayFromZero([2, 3, 3, 4], 85)], f: (x) => tf.where(tf.greater(tf.tensor(awayFromZero([2, 3, 3, 4], 84).data, [2, 3, 3, 4]), 0), tf.mul(tf.step(x), x), tf.mul(x, 0.3)), kernels: ['Greater', 'Select', 'Step'] },
  {
    // VGG-sized: oneDNN's Winograd kernels where the CPU has them (AVX-512), else the direct ones
    name: 'conv2d 3x3 s1 same, 64 → 64 channels at 32²', inputs: [rand([1, 32, 32, 64], 91), rand([3, 3, 64, 64], 92, 0.1)],
    f: conv(1, 'same'), kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  },
  {
    name: 'frozen conv + bias + ReLU (convRelu: fused kernel, input gradient only), 32 → 64 at 32²', inputs: [rand([1, 32, 32, 32], 93)],
    f: (x) => convRelu(x as tf.Tensor4D, { filter: tf.tensor4d(rand([3, 3, 32, 64], 94, 0.2).data, [3, 3, 32, 64]), bias: tf.tensor1d(rand([64], 95, 0.1).data), stride: 1, pad: 1 }),
    kernels: ['FusedConv2D', 'Conv2DBackpropInput', RELU_GRAD_KERNEL],
  },
  { name: 'sigmoid, tanh, exp, abs', inputs: [awayFromZero([3, 7], 87)], f: (x) => tf.addN([tf.sigmoid(x), tf.tanh(x), tf.exp(x), tf.abs(x)]), kernels: ['Sigmoid', 'Tanh', 'Exp', 'Abs'] },
  { name: 'sqrt, log, log1p, square, rsqrt', inputs: [awayFromZero([3, 7], 88).data.map(Math.abs)].map((d) => ({ shape: [3, 7], data: d.map((v) => v + 0.5) })), f: (x) => tf.addN([tf.sqrt(x), tf.log(x), tf.log1p(x), tf.square(x), tf.rsqrt(x)]), kernels: ['Sqrt', 'Log', 'Log1p', 'Square', 'Rsqrt'] },
  { name: 'sum over NHW (bias gradient)', inputs: [rand([2, 3, 4, 5], 89)], f: (x) => tf.sum(x, [0, 1, 2]), kernels: ['Sum'] },
  { name: 'mean over HW keepDims (global pool)', inputs: [rand([2, 3, 4, 5], 90)], f: (x) => tf.mean(x, [1, 2], true), kernels: ['Mean'] },
  { name: 'sum of all, mean of last axis', inputs: [rand([3, 4, 5], 91)], f: (x) => tf.add(tf.sum(x), tf.mean(x, -1)), kernels: ['Sum', 'Mean'] },
  { name: 'max over axis 1', inputs: [distinct([3, 6, 2], 92)], f: (x) => tf.max(x, 1), kernels: ['Max'] },
  {
    name: 'resizeBilinear halfPixelCenters, 6x9 → 8x5, batch 2', inputs: [rand([2, 6, 9, 3], 93)], ref: 'wasm',
    cpuWrong: 'cpu ResizeBilinearGrad ignores halfPixelCenters and fails on non-square inputs',
    f: (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [8, 5], false, true), kernels: ['ResizeBilinearGrad'], eps: 0.05, fdTol: 1e-3, fd: true,
  },
  {
    name: 'resizeNearestNeighbor x1.5 halfPixelCenters, batch 2', inputs: [rand([2, 4, 6, 2], 94)], ref: 'wasm',
    cpuWrong: 'cpu ResizeNearestNeighborGrad uses the image batch stride and ignores halfPixelCenters',
    f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 9], false, true), kernels: ['ResizeNearestNeighborGrad'], eps: 0.05, fdTol: 1e-3, fd: true,
  },
];

function relDiff(a: Float32Array, b: Float32Array): number {
  return maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-6);
}

test('native backend: forward + gradients agree with the reference backend, natively computed', { skip }, async (t) => {
  for (const c of CASES) {
    await t.test(c.name, async () => {
      await use(c.ref ?? 'cpu');
      const ref = evaluate(c);
      await use('native');
      resetNativeKernelStats();
      const before = tf.memory().numTensors;
      const got = evaluate(c);
      assert.equal(tf.memory().numTensors, before, 'no tensors leak');
      const stats = nativeKernelStats();
      for (const k of c.kernels) {
        assert.ok((stats[k]?.native ?? 0) > 0, `${k} ran natively (stats ${JSON.stringify(stats[k])})`);
        assert.equal(stats[k]?.fallback ?? 0, 0, `${k} did not fall back (${stats[k]?.lastFallback})`);
      }
      assert.deepEqual(got.fwd.length, ref.fwd.length);
      const fwdErr = relDiff(got.fwd, ref.fwd);
      assert.ok(fwdErr <= BACKEND_TOL, `forward rel diff ${fwdErr.toExponential(2)} > ${BACKEND_TOL}`);
      got.grads.forEach((g, k) => {
        const e = relDiff(g, ref.grads[k]);
        assert.ok(e <= BACKEND_TOL, `gradient of input ${k}: rel diff ${e.toExponential(2)} > ${BACKEND_TOL}`);
      });
      if (c.fd) {
        const fd = finiteDiffError(c, got.grads);
        assert.ok(fd.err <= (c.fdTol ?? 1e-2), `finite differences on native: err ${fd.err.toExponential(2)} at input ${fd.input}[${fd.index}]`);
      }
    });
  }
});

test('native backend: the same cases agree with wasm too', { skip }, async () => {
  const worst: string[] = [];
  for (const c of CASES.filter((x) => !x.ref)) {
    await use('wasm');
    const ref = evaluate(c);
    await use('native');
    const got = evaluate(c);
    const e = Math.max(relDiff(got.fwd, ref.fwd), ...got.grads.map((g, k) => relDiff(g, ref.grads[k])));
    if (!(e <= BACKEND_TOL)) worst.push(`${c.name}: ${e.toExponential(2)}`);
  }
  assert.deepEqual(worst, []);
});

test('native backend: forward-only cases (no tfjs gradient exists): dilated conv, broadcast batched matMul, broadcast comparison', { skip }, async () => {
  const x = rand([1, 9, 9, 3], 11), w = rand([3, 3, 3, 4], 12), a = rand([3, 4, 6], 13), b = rand([6, 2], 14), c = rand([3, 1], 15), d = rand([1, 4], 16);
  const run = () => tf.tidy(() => [
    tf.cast(tf.greater(tf.tensor(c.data, c.shape), tf.tensor(d.data, d.shape)), 'float32'),
    tf.conv2d(tf.tensor4d(x.data, x.shape as [number, number, number, number]), tf.tensor4d(w.data, w.shape as [number, number, number, number]), 1, 'same', 'NHWC', 2),
    tf.matMul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)),
  ].map((t) => t.dataSync() as Float32Array));
  await use('cpu');
  const ref = run();
  await use('native');
  resetNativeKernelStats();
  const got = run();
  ref.forEach((r, i) => assert.ok(relDiff(got[i], r) <= BACKEND_TOL, `output ${i}: rel diff ${relDiff(got[i], r)}`));
  assert.equal(nativeKernelStats().Conv2D.native, 1);
  assert.equal(nativeKernelStats().BatchMatMul.native, 1);
  assert.equal(nativeKernelStats().Greater.native, 1);
  assert.ok(ref[0].some((v) => v === 1) && ref[0].some((v) => v === 0), 'the comparison has both outcomes');
});

test('native backend: unsupported cases run the cpu kernel and stay correct', { skip }, async () => {
  const a = rand([4, 1, 3], 100), b = rand([1, 5, 1], 101);
  await use('cpu');
  const ref = tf.tidy(() => tf.sum(tf.mul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)), [0, 2]).dataSync() as Float32Array);
  await use('native');
  resetNativeKernelStats();
  const got = tf.tidy(() => tf.sum(tf.mul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)), [0, 2]).dataSync() as Float32Array);
  assert.ok(maxAbsDiff(got, ref) <= 1e-6);
  assert.equal(nativeKernelStats().Multiply.native, 1, 'an outer-product broadcast runs natively (strided loop)');
  const s = nativeKernelStats().Sum;
  assert.equal(s.fallback, 1, 'a reduction over non-adjacent axes runs the cpu kernel');
  assert.match(s.lastFallback ?? '', /non-contiguous axes/);
  // int32 arithmetic is not native either, and stays exact.
  const ints = tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.scalar(4, 'int32')).dataSync()));
  assert.deepEqual(ints, [5, 6, 7]);
});

test('native addon: bad arguments throw errors naming the argument', { skip }, () => {
  const addon = nativeAddon() ?? (load.ok ? load.addon : undefined);
  assert.ok(addon);
  const geom = Int32Array.from([1, 4, 4, 1, 3, 3, 1, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.throws(() => addon.conv2d(new Float32Array(15), new Float32Array(9), null, new Float32Array(16), geom, 0, 0), /conv2d x: expected 16 values, got 15/);
  assert.throws(() => addon.conv2d(new Float32Array(16), new Float32Array(9), null, new Float32Array(16), geom.slice(0, 5), 0, 0), /conv2d geometry: expected an Int32Array of 17 values/);
  assert.throws(() => addon.binary(0, new Float32Array(3), new Float32Array(2), new Float32Array(3)), /binary: operands must have the output size/);
  // A valid call computes a real convolution: 3x3 ones filter over ones, 'same' → 4/6/9 neighbour counts.
  const y = new Float32Array(16);
  addon.conv2d(new Float32Array(16).fill(1), new Float32Array(9).fill(1), null, y, geom, 0, 0);
  assert.deepEqual(Array.from(y), [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]);
});

/**
 * Conv forward, both conv gradients and a broadcast multiply over 30 geometries (twice), on
 * deterministic data; `ci` differs between callers. Returns the last outputs.
 */
const CONCURRENT_WORK = `
async function work(addonUrl, ci) {
  const { loadNativeAddon, nativeThreads } = await import(addonUrl);
  const load = loadNativeAddon();
  if (!load.ok) throw new Error(load.reason);
  const a = load.addon;
  const fill = (n, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));
  let out;
  // 30 geometries, each twice (new primitives every other call, so both threads fill their caches at once).
  for (let r = 0; r < 60; r++) {
    const h = 8 + 2 * (r % 30), o = h / 2;
    const g = Int32Array.from([2, h, h, ci, 4, 4, 16, o, o, 2, 2, 1, 1, 1, 1, 1, 1]);
    const x = fill(2 * h * h * ci, 1), w = fill(16 * ci * 16, 2), dy = fill(2 * o * o * 16, 3);
    const y = new Float32Array(dy.length), dw = new Float32Array(w.length), dx = new Float32Array(x.length), m = new Float32Array(x.length);
    a.conv2d(x, w, null, y, g, 1, 0);
    a.conv2dBackpropFilter(x, dy, dw, g);
    a.conv2dBackpropInput(dy, w, dx, g);
    a.binary(2, dx, x.subarray(0, ci), m);
    out = { y, dw, dx, m };
  }
  return { ...out, threads: nativeThreads(), cached: a.info().cachedPrimitives };
}`;

test('native addon: concurrent calls from 2 worker threads (as the data-parallel pool makes them) are correct', { skip }, async () => {
  const addonUrl = new URL('../../src/engine/native/addon.ts', import.meta.url).href;
  // eslint-disable-next-line no-new-func
  const work = new Function(`${CONCURRENT_WORK}; return work;`)() as (url: string, ci: number) => Promise<Record<string, Float32Array> & { threads: number; cached: number }>;
  const runWorker = (ci: number) => new Promise<Record<string, Float32Array> & { threads: number; cached: number }>((resolvePromise, reject) => {
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads'); ${CONCURRENT_WORK};
      import(${tsx}).then((m) => { m.register(); return work(workerData.url, workerData.ci); }).then((r) => parentPort.postMessage(r), (e) => { throw e; });`, { eval: true, workerData: { url: addonUrl, ci } });
    w.once('message', resolvePromise);
    w.once('error', reject);
  });
  const [w8, w16] = await Promise.all([runWorker(8), runWorker(16)]);
  assert.equal(w8.threads, 1, 'a worker thread defaults to 1 native thread');
  assert.equal(w8.cached, 90, "each thread has its own primitive cache (30 geometries x 3 primitives)");
  for (const [ci, got] of [[8, w8], [16, w16]] as const) {
    const ref = await work(addonUrl, ci);
    for (const k of ['y', 'dw', 'dx', 'm']) {
      const e = relDiff(got[k], ref[k]);
      assert.ok(e <= 1e-5, `ci=${ci} ${k}: worker vs main thread rel diff ${e}`);
    }
    assert.ok(maxAbs(ref.dw) > 0 && maxAbs(ref.y) > 0);
  }
});

test('data-parallel pool: 2 workers on native give the losses of 2 workers on wasm (the addon used to corrupt or crash here)', { skip }, async () => {
  const H = 32, N = 4;
  const r = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => (Math.sin(i * 0.1 + k) + 1) / 2);
  const batch = { input: { data: r(N * H * H * 3, 1), shape: [N, H, H, 3] }, real: { data: r(N * H * H * 3, 2), shape: [N, H, H, 3] }, mask: { data: r(N * H * H, 3), shape: [N, H, H, 1] } };
  const run = async (backend: 'native' | 'wasm'): Promise<number[]> => {
    const pool = await DataParallelPool.create({ module: GAN_STEP_MODULE, workers: 2, backend, options: paperGanOptions({ generator: { base: 8 }, discriminator: { base: 8 } }) });
    try {
      assert.equal(pool.engine.backend, backend);
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) {
        const rep = await pool.step(batch);
        losses.push(rep.G.losses.g, rep.D.losses.d);
      }
      return losses;
    } finally {
      await pool.close();
    }
  };
  const ref = await run('wasm');
  const got = await run('native');
  got.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-5 * Math.abs(ref[i]), `loss ${i}: native ${v} vs wasm ${ref[i]}`));
});

test('broadcastPlan / stridedPlan / reductionPlan / isSuffixOf (pure)', () => {
  assert.deepEqual(broadcastPlan([2, 3, 4], [4])?.outShape, [2, 3, 4]);
  assert.deepEqual(broadcastPlan([], [2, 3])?.outShape, [2, 3]);
  assert.deepEqual(broadcastPlan([1, 3], [2, 3])?.outShape, [2, 3]);
  assert.equal(broadcastPlan([4, 1], [1, 5]), null);
  assert.equal(broadcastPlan([2, 3], [2, 1]), null);
  assert.equal(broadcastPlan([2, 3], [4, 3]), null);
  assert.deepEqual(stridedPlan([4, 1, 1, 256], [4, 8, 8, 256]), { outShape: [4, 8, 8, 256], dims: [4, 64, 256], aStrides: [256, 0, 1], bStrides: [16384, 256, 1] });
  assert.deepEqual(stridedPlan([4, 1], [1, 5]), { outShape: [4, 5], dims: [4, 5], aStrides: [1, 0], bStrides: [0, 1] });
  assert.deepEqual(stridedPlan([2, 3], [2, 3]), { outShape: [2, 3], dims: [6], aStrides: [1], bStrides: [1] });
  assert.equal(stridedPlan([2, 3], [4, 3]), null);
  assert.ok(isSuffixOf([1, 1, 5], [2, 3, 5]));
  assert.ok(!isSuffixOf([3, 1], [2, 3, 5]));
  assert.deepEqual(reductionPlan([2, 3, 4, 5], [0, 1, 2]), { outer: 1, r: 24, inner: 5 });
  assert.deepEqual(reductionPlan([2, 3, 4, 5], [1, 2]), { outer: 2, r: 12, inner: 5 });
  assert.deepEqual(reductionPlan([2, 1, 4, 5], [0, 2]), { outer: 1, r: 8, inner: 5 });
  assert.equal(reductionPlan([2, 3, 4, 5], [0, 2]), null);
});

test('initEngine: native explicitly and through HARMONIA_BACKEND', { skip }, async () => {
  const info = await initEngine({ backend: 'native' });
  assert.equal(info.backend, 'native');
  assert.equal(tf.getBackend(), 'native');
  assert.deepEqual(info.kernels, Object.keys(NATIVE_KERNELS));
  assert.ok(info.threads >= 1);
  await initEngine({ backend: 'cpu' });
  const old = env.backend;
  env.backend = 'native';
  try {
    const e = await initEngine();
    assert.equal(e.backend, 'native');
    assert.equal(e.reason, 'HARMONIA_BACKEND=native');
  } finally {
    env.backend = old;
  }
  assert.equal(engineInfo()?.backend, 'native');
});

test('initEngine auto: without the addon, a fresh process falls back to wasm and says why', () => {
  const code = "import('./src/engine/index.ts').then(async (m) => { console.log(JSON.stringify(await m.initEngine())); })";
  const env: NodeJS.ProcessEnv = { ...process.env, HARMONIA_NATIVE_ADDON: '/nonexistent/harmonia_native.node' };
  delete env.HARMONIA_BACKEND;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { backend: string; reason: string };
  if (info.backend === 'tensorflow') return; // @tensorflow/tfjs-node installed: it comes first
  assert.equal(info.backend, 'wasm');
  assert.match(info.reason, /native unavailable \(native addon not built \(\/nonexistent\/harmonia_native\.node missing/);
});

/** Paper G + D (the trainer's GAN step module) at 16×16, batch 2: 5 steps of G then D updates with tf.train.adam, on one fixed batch. */
async function trainPaperGan(backend: Backend, steps: number): Promise<{ g: number[]; d: number[]; weights: Float32Array[] }> {
  await use(backend);
  const options = paperGanOptions();
  const models = await createModels(options);
  const rng = new Rng(7);
  const n = 2 * 16 * 16 * 3;
  const y = Float32Array.from({ length: n }, () => rng.next());
  const xv = y.map((v, i) => Math.min(1, Math.max(0, 0.7 * v + 0.15 + (i % 3 === 0 ? 0.1 : -0.05))));
  const x = tf.tensor4d(xv, [2, 16, 16, 3]), real = tf.tensor4d(y, [2, 16, 16, 3]), mask = tf.ones([2, 16, 16, 1]) as tf.Tensor4D;
  const optG = tf.train.adam(2e-4, 0.5, 0.999, 1e-8), optD = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const named = (net: 'G' | 'D', grads: tf.Tensor[]) => models[net].trainableWeights.map((w, i) => ({ name: (w.read() as tf.Variable).name, tensor: grads[i] }));
  const state = new Map<string, unknown>();
  const ctx = { models, batch: { input: x, real, mask }, options, state, step: 0 } as unknown as Parameters<typeof runPhase>[1];
  const g: number[] = [], d: number[] = [];
  for (let s = 0; s < steps; s++) {
    const rg = runPhase('G', ctx);
    optG.applyGradients(named('G', rg.grads.G as tf.Tensor[]));
    g.push((rg.losses.g as tf.Scalar).dataSync()[0]);
    tf.dispose([...(rg.grads.G as tf.Tensor[]), ...Object.values(rg.losses)]);
    const rd = runPhase('D', ctx);
    optD.applyGradients(named('D', rd.grads.D as tf.Tensor[]));
    d.push((rd.losses.d as tf.Scalar).dataSync()[0]);
    tf.dispose([...(rd.grads.D as tf.Tensor[]), ...Object.values(rd.losses)]);
  }
  const weights = [...models.G.trainableWeights, ...models.D.trainableWeights].map((w) => new Float32Array(w.read().dataSync()));
  optG.dispose();
  optD.dispose();
  models.G.dispose();
  models.D.dispose();
  tf.dispose([x, real, mask]);
  return { g, d, weights };
}

/** Trajectory tolerance: float32 summation order differs (oneDNN blocks vs JS loops); 5 Adam steps amplify it little. */
const TRAJ_TOL = 1e-4;

test('paper GAN: 5 training steps on native match cpu (losses and final weights)', { skip }, async (t) => {
  const ref = await trainPaperGan('cpu', 5);
  resetNativeKernelStats();
  const got = await trainPaperGan('native', 5);
  const stats = nativeKernelStats();
  // D's conv + bias + leaky ReLU layers run the fused kernel (issue 25), G's convolutions Conv2D
  for (const k of [CONV_LEAKY_KERNEL, 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', '_FusedMatMul', 'Sum', 'Multiply', 'Add']) {
    assert.ok((stats[k]?.native ?? 0) > 0, `${k} ran natively`);
  }
  const lossDiff = Math.max(...got.g.map((v, s) => Math.abs(v - ref.g[s]) / Math.abs(ref.g[s])), ...got.d.map((v, s) => Math.abs(v - ref.d[s]) / Math.abs(ref.d[s])));
  for (let s = 0; s < 5; s++) {
    assert.ok(Math.abs(got.g[s] - ref.g[s]) <= TRAJ_TOL * Math.abs(ref.g[s]), `step ${s} G loss ${got.g[s]} vs ${ref.g[s]}`);
    assert.ok(Math.abs(got.d[s] - ref.d[s]) <= TRAJ_TOL * Math.abs(ref.d[s]), `step ${s} D loss ${got.d[s]} vs ${ref.d[s]}`);
  }
  assert.ok(got.g[4] < got.g[0], `G loss falls (${got.g[0]} → ${got.g[4]})`);
  let worst = 0;
  got.weights.forEach((w, i) => { worst = Math.max(worst, relDiff(w, ref.weights[i])); });
  assert.ok(worst <= TRAJ_TOL, `final weights rel diff ${worst.toExponential(2)}`);
  t.diagnostic(`G loss ${got.g[0].toFixed(4)} → ${got.g[4].toFixed(4)}; max rel diff native vs cpu: losses ${lossDiff.toExponential(2)}, weights ${worst.toExponential(2)}`);
});

test('native backend: 3×3 stride-1 convs with ≥ 16 channels at ≥ 32² run oneDNN Winograd on AVX-512 CPUs, and HARMONIA_NATIVE_WINOGRAD=0 turns it off', { skip }, async () => {
  const { readFileSync } = await import('node:fs');
  const avx512 = /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  const script = `
    import { tf } from './src/engine/tf.ts';
    import { initEngine } from './src/engine/index.ts';
    import { nativeAddon } from './src/engine/native/index.ts';
    await initEngine({ backend: 'native' });
    const impl = (ci, h) => { tf.tidy(() => tf.conv2d(tf.ones([1, h, h, ci]), tf.ones([3, 3, ci, 32]), 1, 'same').dataSync()); return nativeAddon().info().lastImpl; };
    console.log(JSON.stringify({ big: impl(64, 32), thin: impl(3, 64), small: impl(64, 16) }));`;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { big: string; thin: string; small: string };
  };
  const on = run({});
  const off = run({ HARMONIA_NATIVE_WINOGRAD: '0' });
  if (avx512) assert.match(on.big, /wino/, `64-channel 32² conv: ${on.big}`);
  assert.doesNotMatch(on.thin, /wino/, `RGB input stays direct: ${on.thin}`);
  assert.doesNotMatch(on.small, /wino/, `16² map stays direct: ${on.small}`);
  assert.doesNotMatch(off.big, /wino/, `HARMONIA_NATIVE_WINOGRAD=0: ${off.big}`);
});

test('native Adam is bit-identical to the JavaScript loop (3 steps, 10k values, lr override)', { skip }, async () => {
  const { adamUpdate, DEFAULT_ADAM } = await import('../../src/engine/parallel/adam.ts');
  const n = 10_000;
  const r = new Rng(7);
  const w0 = Float32Array.from({ length: n }, () => r.uniform(-1, 1));
  const make = () => ({ w: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) });
  const nat = make(), js = make();
  for (let t = 1; t <= 3; t++) {
    const g = Float32Array.from({ length: n }, () => r.uniform(-0.1, 0.1) * (t === 2 ? 1e-6 : 1));
    adamUpdate(nat.w, g, nat.m, nat.v, t, DEFAULT_ADAM, 0, n, 3e-4); // one call over 10k values: the addon
    for (let b = 0; b < n; b += 1000) adamUpdate(js.w, g, js.m, js.v, t, DEFAULT_ADAM, b, b + 1000, 3e-4); // chunks below the native threshold: JS
  }
  assert.ok(maxAbsDiff(nat.w, w0) > 1e-4, 'the weights moved');
  for (const k of ['w', 'm', 'v'] as const) {
    const a = new Uint32Array(nat[k].buffer), b = new Uint32Array(js[k].buffer);
    const diff = a.findIndex((x, i) => x !== b[i]);
    assert.equal(diff, -1, `${k}[${diff}]: native ${nat[k][diff]} vs JS ${js[k][diff]}`);
  }
});

test('native backend: disposed outputs are recycled, but never a buffer whose values were read out or that another tensor shares', { skip }, async () => {
  const { pooledOutputBytes } = await import('../../src/engine/native/index.ts');
  await use('native');
  const n = 4096;
  const x = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => i / n - 0.5));
  // recycled: a disposed relu output feeds the next output of its length
  const a = tf.relu(x);
  const before = pooledOutputBytes();
  a.dispose();
  assert.equal(pooledOutputBytes(), before + n * 4, 'the disposed output went to the pool');
  const b = tf.abs(x);
  assert.equal(pooledOutputBytes(), before, 'the next output of that length came from the pool');
  // read out: dataSync() hands the array itself to the caller, so it must never be reused
  const seen = b.dataSync();
  const copy = Float32Array.from(seen);
  b.dispose();
  assert.equal(pooledOutputBytes(), before, 'a read-out buffer is not pooled');
  const c = tf.neg(x);
  assert.deepEqual(Array.from(seen), Array.from(copy), 'the read-out values are intact after more ops');
  // shared: the cpu kernel's slice of the whole tensor is a view of the same buffer
  const d = tf.relu(x);
  const view = tf.slice(d, [0], [n]);
  const viewBefore = Array.from(tf.clone(view).dataSync());
  d.dispose();
  const e = tf.sigmoid(x);
  assert.deepEqual(Array.from(view.dataSync()), viewBefore, 'a view stays intact after its source is disposed and a new output is made');
  // values are right wherever the buffer came from
  const f = tf.relu(x);
  assert.ok(maxAbsDiff(f.dataSync(), Array.from(x.dataSync(), (v) => Math.max(v, 0))) === 0);
  tf.dispose([x, c, view, e, f]);
});
