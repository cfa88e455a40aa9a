/**
 * Gradient suite for every op the project trains through. For each case, on small tensors:
 *   1. wasm (with the project's kernels) vs cpu: forward output and the gradient of Σ f(x)·R w.r.t.
 *      every input agree to BACKEND_TOL = 1e-5 relative to the largest reference magnitude;
 *   2. wasm gradients vs central finite differences of the wasm forward pass (float32 forward,
 *      float64 loss, FD_SAMPLES coordinates per input): error ≤ FD_TOL = 1e-2 of max|gradient|
 *      (multilinear ops use a large step, for which the central difference is exact: tolerance 1e-3);
 *   3. no wasm heap tensor leaks (the composite kernels free every intermediate).
 * Where the cpu backend is itself wrong (tfjs 4.22: ResizeBilinearGrad throws for non-square inputs
 * and ignores halfPixelCenters; ResizeNearestNeighborGrad is wrong for batch > 1), step 1 compares
 * only the forward pass and the gradient is judged by finite differences alone (the case says why).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { reflectPad, pixelShuffle } from '../../src/engine/ops.ts';
import {
  BACKEND_TOL, FD_TOL, awayFromZero, backendDataIds, distinct, evaluate, finiteDiffError, maxAbs, maxAbsDiff, rand, useBackend,
  type Case,
} from './gradcheck.ts';

type T4 = tf.Tensor4D;
const t4 = (x: tf.Tensor): T4 => x as T4;
const LIN = { eps: 0.05, fdTol: 1e-3 }; // multilinear in each input: the central difference is exact up to rounding
const cases: Case[] = [];
const C = (name: string, inputs: Case['inputs'], f: Case['f'], opts: Partial<Case> = {}): void => {
  cases.push({ name, inputs, f, ...opts });
};

// ---- convolutions (Conv2DBackpropFilter / Conv2DBackpropInput) ----
const conv = (s: number, pad: 'same' | 'valid') => (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(t4(x), t4(w), s, pad);
C('conv2d 1x1 s1 same', [rand([2, 6, 7, 5], 1), rand([1, 1, 5, 4], 2)], conv(1, 'same'), LIN);
C('conv2d 3x3 s1 same', [rand([2, 9, 8, 3], 3), rand([3, 3, 3, 5], 4)], conv(1, 'same'), LIN);
C('conv2d 3x3 s1 valid', [rand([2, 9, 8, 3], 5), rand([3, 3, 3, 5], 6)], conv(1, 'valid'), LIN);
C('conv2d 4x4 s2 same (even)', [rand([2, 16, 12, 3], 7), rand([4, 4, 3, 6], 8)], conv(2, 'same'), LIN);
C('conv2d 3x3 s2 same (odd size)', [rand([2, 9, 11, 4], 9), rand([3, 3, 4, 6], 10)], conv(2, 'same'), LIN);
C('conv2d 4x4 s2 valid', [rand([2, 17, 16, 3], 11), rand([4, 4, 3, 6], 12)], conv(2, 'valid'), LIN);
C('conv2d 3x3 s2 valid', [rand([2, 10, 9, 3], 13), rand([3, 3, 3, 6], 14)], conv(2, 'valid'), LIN);
C('conv2d 7x7 s1 same', [rand([1, 12, 10, 3], 15), rand([7, 7, 3, 4], 16)], conv(1, 'same'), LIN);
C('conv2d 7x7 s2 valid', [rand([1, 15, 14, 3], 17), rand([7, 7, 3, 4], 18)], conv(2, 'valid'), LIN);
C('conv2d 3x3 s2 numeric pad 1', [rand([2, 9, 8, 3], 96), rand([3, 3, 3, 4], 97)], (x, w) => tf.conv2d(t4(x), t4(w), 2, 1), LIN);
C('conv2d 4x4 s2 explicit asymmetric pad', [rand([2, 9, 10, 3], 100), rand([4, 4, 3, 4], 101)], (x, w) =>
  tf.conv2d(t4(x), t4(w), 2, [[0, 0], [1, 2], [2, 1], [0, 0]]), LIN);
C('conv2d 4x4 s2 same, 16→32 channels', [rand([2, 16, 16, 16], 19), rand([4, 4, 16, 32], 20, 0.2)], conv(2, 'same'), LIN);
const convT = (shape: number[], s: number, pad: 'same' | 'valid') => (x: tf.Tensor, w: tf.Tensor) =>
  tf.conv2dTranspose(t4(x), t4(w), shape as [number, number, number, number], s, pad);
C('conv2dTranspose 4x4 s2 same', [rand([2, 8, 6, 6], 21), rand([4, 4, 3, 6], 22)], convT([2, 16, 12, 3], 2, 'same'), LIN);
C('conv2dTranspose 3x3 s2 same (odd out)', [rand([2, 5, 6, 6], 23), rand([3, 3, 4, 6], 24)], convT([2, 9, 11, 4], 2, 'same'), LIN);
C('conv2dTranspose 4x4 s2 valid', [rand([2, 7, 7, 6], 25), rand([4, 4, 3, 6], 26)], convT([2, 16, 16, 3], 2, 'valid'), LIN);
C('conv2dTranspose 3x3 s1 same', [rand([2, 8, 8, 6], 27), rand([3, 3, 3, 6], 28)], convT([2, 8, 8, 3], 1, 'same'), LIN);
C('conv2dTranspose 3x3 s1 valid', [rand([2, 6, 7, 6], 29), rand([3, 3, 3, 6], 30)], convT([2, 8, 9, 3], 1, 'valid'), LIN);
C('conv2dTranspose 4x4 s2 same, 32→16 channels', [rand([2, 8, 8, 32], 31), rand([4, 4, 16, 32], 32, 0.2)], convT([2, 16, 16, 16], 2, 'same'), LIN);
const fused = (s: number, activation: 'relu' | 'leakyrelu' | 'sigmoid') => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
  tf.fused.conv2d({ x: t4(x), filter: t4(w), bias: b, strides: s, pad: 'same', activation, leakyreluAlpha: 0.2 });
C('fused conv2d + bias + relu', [rand([2, 8, 8, 3], 33), rand([3, 3, 3, 4], 34), rand([4], 35)], fused(1, 'relu'), { eps: 1e-4 });
C('fused conv2d s2 + bias + relu', [rand([2, 8, 8, 3], 36), rand([4, 4, 3, 4], 37), rand([4], 38)], fused(2, 'relu'), { eps: 1e-4 });
C('fused conv2d + bias + leakyRelu 0.2', [rand([2, 8, 8, 3], 39), rand([3, 3, 3, 4], 40), rand([4], 41)], fused(1, 'leakyrelu'), { eps: 1e-4 });
C('fused conv2d + bias + sigmoid', [rand([2, 8, 8, 3], 42), rand([3, 3, 3, 4], 43), rand([4], 44)], fused(1, 'sigmoid'));

// ---- pooling (MaxPoolGrad) ----
C('maxPool 2x2/2 valid, signed inputs', [distinct([2, 8, 8, 3], 45)], (x) => tf.maxPool(t4(x), 2, 2, 'valid'));
C('maxPool 2x2/2 valid, all inputs negative', [distinct([2, 8, 6, 3], 46, 0.05, -20)], (x) => tf.maxPool(t4(x), 2, 2, 'valid'));
C('maxPool 3x3/2 same, signed inputs', [distinct([2, 9, 9, 3], 47)], (x) => tf.maxPool(t4(x), 3, 2, 'same'));
C('avgPool 2x2/2 valid', [rand([2, 8, 6, 3], 48)], (x) => tf.avgPool(t4(x), 2, 2, 'valid'), LIN);

// ---- resizing (ResizeBilinearGrad / ResizeNearestNeighborGrad) ----
const NONSQ = 'cpu ResizeBilinearGrad returns [b,w,h,c] and throws for non-square inputs';
const HALF = 'cpu ResizeBilinearGrad ignores halfPixelCenters';
const NNB = 'cpu ResizeNearestNeighborGrad indexes dy with the image batch stride: wrong for batch > 1';
const NNH = 'cpu ResizeNearestNeighborGrad ignores halfPixelCenters';
const bil = (size: [number, number], ac: boolean, hp: boolean) => (x: tf.Tensor) => tf.image.resizeBilinear(t4(x), size, ac, hp);
C('resizeBilinear square x2 (default)', [rand([2, 5, 5, 3], 49)], bil([10, 10], false, false), LIN);
C('resizeBilinear non-square x2 (default)', [rand([2, 5, 6, 3], 50)], bil([10, 12], false, false), { ...LIN, cpuWrong: NONSQ });
C('resizeBilinear non-square alignCorners', [rand([2, 5, 6, 3], 51)], bil([9, 13], true, false), { ...LIN, cpuWrong: NONSQ });
C('resizeBilinear non-square halfPixelCenters x2', [rand([2, 5, 6, 3], 52)], bil([10, 12], false, true), { ...LIN, cpuWrong: HALF });
C('resizeBilinear square halfPixelCenters x1.6', [rand([1, 5, 5, 2], 53)], bil([8, 8], false, true), { ...LIN, cpuWrong: HALF });
C('resizeBilinear non-square halfPixelCenters down', [rand([2, 10, 12, 3], 54)], bil([4, 5], false, true), { ...LIN, cpuWrong: HALF });
const nn = (size: [number, number], ac: boolean, hp: boolean) => (x: tf.Tensor) => tf.image.resizeNearestNeighbor(t4(x), size, ac, hp);
C('resizeNearestNeighbor x2, batch 1', [rand([1, 5, 6, 3], 55)], nn([10, 12], false, false), LIN);
C('resizeNearestNeighbor x2, batch 2', [rand([2, 5, 6, 3], 56)], nn([10, 12], false, false), { ...LIN, cpuWrong: NNB });
C('resizeNearestNeighbor x1.5 halfPixelCenters, batch 1', [rand([1, 4, 6, 2], 57)], nn([6, 9], false, true), { ...LIN, cpuWrong: NNH });
C('resizeNearestNeighbor x1.4 alignCorners, batch 2', [rand([2, 5, 5, 2], 58)], nn([7, 7], true, false), { ...LIN, cpuWrong: NNB });
C('resizeNearestNeighbor down halfPixelCenters, batch 1', [rand([1, 9, 7, 2], 59)], nn([4, 3], false, true), { ...LIN, cpuWrong: NNH });

// ---- structure ----
C('concat axis 3 (U-Net skip)', [rand([2, 4, 4, 3], 60), rand([2, 4, 4, 5], 61)], (a, b) => tf.concat([a, b], 3), LIN);
C('pad (zeros)', [rand([2, 4, 5, 3], 62)], (x) => tf.pad(x, [[0, 0], [2, 1], [1, 3], [0, 0]]), LIN);
C('reflectPad helper', [rand([2, 5, 6, 3], 63)], (x) => reflectPad(t4(x), [2, 1, 3, 2]), LIN);
C('pixelShuffle helper', [rand([2, 3, 4, 8], 64)], (x) => pixelShuffle(t4(x), 2), LIN);
C('transpose rank 4', [rand([2, 3, 4, 5], 65)], (x) => tf.transpose(x, [0, 3, 1, 2]), LIN);

// ---- normalisation ----
C('batchNorm via moments over N,H,W', [rand([4, 5, 5, 4], 66), rand([4], 67), rand([4], 68)], (x, g, b) => {
  const m = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, m.mean, m.variance, b, g, 1e-5);
});
C('instance norm via moments over H,W', [rand([2, 5, 5, 4], 69), rand([4], 70), rand([4], 71)], (x, g, b) => {
  const m = tf.moments(x, [1, 2], true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, m.mean), tf.rsqrt(tf.add(m.variance, 1e-5))), g), b);
});

// ---- activations ----
C('relu', [awayFromZero([3, 40], 72)], (x) => tf.relu(x));
C('leakyRelu 0.2', [awayFromZero([3, 40], 73)], (x) => tf.leakyRelu(x, 0.2));
C('sigmoid', [rand([3, 40], 74, 4)], (x) => tf.sigmoid(x));
C('tanh', [rand([3, 40], 75, 3)], (x) => tf.tanh(x));

// ---- losses ----
const labels = [1, 0, 1, 1, 0, 0, 1, 0];
C('sigmoidCrossEntropy (BCE with logits)', [rand([8, 1], 76, 3)], (x) => tf.losses.sigmoidCrossEntropy(tf.tensor2d(labels, [8, 1]), x));
C('L1 (mean absolute difference)', [awayFromZero([2, 4, 4, 3], 77), rand([2, 4, 4, 3], 78, 0.02)], (x, y) => tf.mean(tf.abs(tf.sub(x, y))));
C('MSE', [rand([2, 4, 4, 3], 79), rand([2, 4, 4, 3], 80)], (x, y) => tf.losses.meanSquaredError(y, x));

// ---- dense / reductions (BatchMatMul) ----
C('matMul plain', [rand([4, 16], 81), rand([16, 8], 82)], (a, b) => tf.matMul(a, b), LIN);
C('matMul transposeA', [rand([16, 4], 83), rand([16, 8], 84)], (a, b) => tf.matMul(a, b, true, false), LIN);
C('matMul transposeB', [rand([4, 16], 85), rand([8, 16], 86)], (a, b) => tf.matMul(a, b, false, true), LIN);
C('matMul transposeA+B', [rand([16, 4], 87), rand([8, 16], 88)], (a, b) => tf.matMul(a, b, true, true), LIN);
C('matMul batched 3x, transposeB', [rand([3, 4, 6], 89), rand([3, 5, 6], 90)], (a, b) => tf.matMul(a, b, false, true), LIN);
C('dense: fused matMul + bias + relu', [rand([4, 16], 91), rand([16, 8], 92), rand([8], 93)], (x, w, b) =>
  tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }), { eps: 1e-4 });
C('mean over H,W (global average pool)', [rand([2, 4, 4, 6], 94)], (x) => tf.mean(x, [1, 2]), LIN);
C('sum over channels', [rand([2, 4, 4, 6], 95)], (x) => tf.sum(x, 3), LIN);

const cpu = new Map<string, ReturnType<typeof evaluate> | Error>();

function forwardOnly(c: Case): Float32Array {
  return tf.tidy(() => c.f(...c.inputs.map((i) => tf.tensor(i.data, i.shape))).dataSync() as Float32Array);
}

before(async () => {
  // cpu references first, then every case runs on wasm (backend switching within one process).
  await useBackend('cpu');
  for (const c of cases) {
    try {
      cpu.set(c.name, c.cpuWrong ? { fwd: forwardOnly(c), grads: [] } : evaluate(c));
    } catch (err) {
      cpu.set(c.name, err as Error);
    }
  }
  await useBackend('wasm');
});

for (const c of cases) {
  test(`wasm gradient: ${c.name}`, () => {
    assert.equal(tf.getBackend(), 'wasm');
    const ids0 = backendDataIds(), tensors0 = tf.memory().numTensors;
    const w = evaluate(c);
    assert.equal(backendDataIds(), ids0, 'wasm heap tensors leaked');
    assert.equal(tf.memory().numTensors, tensors0, 'tensors leaked');
    const ref = cpu.get(c.name);
    if (c.cpuWrong) {
      // Only the cpu gradient is wrong: the forward pass is still compared.
      assert.ok(ref && !(ref instanceof Error), `cpu forward failed: ${ref instanceof Error ? ref.message : 'missing'}`);
      const fd = maxAbsDiff(w.fwd, ref.fwd) / Math.max(1, maxAbs(ref.fwd));
      assert.ok(fd <= BACKEND_TOL, `forward wasm vs cpu: rel ${fd.toExponential(2)}`);
    } else {
      assert.ok(ref && !(ref instanceof Error), `cpu reference failed: ${ref instanceof Error ? ref.message : 'missing'}`);
      const fd = maxAbsDiff(w.fwd, ref.fwd) / Math.max(1, maxAbs(ref.fwd));
      assert.ok(fd <= BACKEND_TOL, `forward wasm vs cpu: rel ${fd.toExponential(2)}`);
      w.grads.forEach((g, k) => {
        const d = maxAbsDiff(g, ref.grads[k]) / Math.max(1e-6, maxAbs(ref.grads[k]));
        assert.ok(d <= BACKEND_TOL, `gradient of input ${k} wasm vs cpu: rel ${d.toExponential(2)}`);
      });
    }
    for (const g of w.grads) assert.ok(maxAbs(g) > 0, 'gradient is identically zero');
    const e = finiteDiffError(c, w.grads);
    const tol = c.fdTol ?? FD_TOL;
    assert.ok(e.err <= tol, `gradient of input ${e.input} vs finite differences: rel ${e.err.toExponential(2)} at index ${e.index} (tol ${tol})`);
  });
}

test('Adam: 3 updates of 1000 parameters are identical on wasm and cpu', async () => {
  const run = async (backend: 'wasm' | 'cpu'): Promise<Float32Array> => {
    await useBackend(backend);
    const v = tf.variable(tf.tensor(rand([10, 100], 200).data, [10, 100]));
    const opt = tf.train.adam(2e-4, 0.5, 0.999);
    for (let s = 0; s < 3; s++) {
      const g = tf.tensor(rand([10, 100], 201 + s).data, [10, 100]);
      opt.applyGradients([{ name: v.name, tensor: g }]);
      g.dispose();
    }
    const out = v.dataSync() as Float32Array;
    v.dispose();
    opt.dispose();
    return out;
  };
  const onCpu = await run('cpu');
  const onWasm = await run('wasm');
  const start = rand([10, 100], 200).data;
  assert.ok(maxAbsDiff(onWasm, start) > 1e-4, 'Adam moved the parameters');
  assert.ok(maxAbsDiff(onWasm, onCpu) <= 1e-7, `wasm vs cpu after 3 Adam steps: ${maxAbsDiff(onWasm, onCpu)}`);
});
