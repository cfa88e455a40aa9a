/**
 * The fused kernels of issue 25 (src/engine/ops.ts, native/harmonia_native.cc): the `global`
 * generator's colour transform as one kernel forward and one backward, the discriminators' conv +
 * bias + leaky ReLU as one kernel with lazy gradients, and the full-resolution apply on arrays
 * (src/models/color-transform-apply.ts), in JavaScript and in C++, against the loop it replaced
 * (kept below, verbatim, as the reference). Native cases skip when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { loadNativeAddon, nativeKernelStats, resetNativeKernelStats } from '../../src/engine/native/index.ts';
import { BROADCAST_KERNEL, COLOR_APPLY_GRAD_KERNEL, COLOR_APPLY_KERNEL, CONV_LEAKY_KERNEL, conv2dBiasLeakyRelu } from '../../src/engine/ops.ts';
import { applyColorTransform, applyColorTransformArrays, CURVE_KNOTS, FIELD_CHANNELS, TRANSFORM_PARAMS, type ColorTransformParams } from '../../src/models/color-transform.ts';
import { buildDiscriminator } from '../../src/models/discriminator.ts';
import { Rng } from '../../src/util/random.ts';
import { BACKEND_TOL, awayFromZero, evaluate, finiteDiffError, maxAbs, maxAbsDiff, rand, type Case, type Input } from './gradcheck.ts';

const load = loadNativeAddon();
const skip = load.ok ? false : `skipped: ${load.reason}`;

async function use(name: 'native' | 'cpu'): Promise<void> {
  assert.equal((await initEngine({ backend: name })).backend, name);
}

/** RGB in [-0.1, 1.1] (some values outside [0, 1], some exactly on curve knots) + a mask with 0, 1 and fractions. */
function image(n: number, h: number, w: number, seed: number): Input {
  const r = new Rng(seed);
  const data = new Float32Array(n * h * w * 4);
  for (let p = 0; p < n * h * w; p++) {
    for (let c = 0; c < 3; c++) data[p * 4 + c] = r.next() < 0.1 ? Math.round(r.next() * 8) / 8 + 0.01 : r.uniform(-0.1, 1.1);
    const u = r.next();
    data[p * 4 + 3] = u < 0.25 ? 0 : u < 0.5 ? 1 : r.uniform(0.05, 0.95);
  }
  return { shape: [n, h, w, 4], data };
}

/** θ: log-slopes around 0 with some beyond the ±4 clip, small affine deltas and offsets, a gate logit. */
function theta(n: number, seed: number): Input {
  const r = new Rng(seed);
  const data = new Float32Array(n * TRANSFORM_PARAMS);
  for (let b = 0; b < n; b++) {
    const t = data.subarray(b * TRANSFORM_PARAMS, (b + 1) * TRANSFORM_PARAMS);
    for (let i = 0; i < 3 * CURVE_KNOTS; i++) t[i] = r.next() < 0.1 ? r.uniform(4.2, 5) * (r.next() < 0.5 ? -1 : 1) : r.uniform(-1, 1);
    for (let i = 3 * CURVE_KNOTS; i < TRANSFORM_PARAMS - 1; i++) t[i] = r.uniform(-0.3, 0.3);
    t[TRANSFORM_PARAMS - 1] = r.uniform(-2, 2);
  }
  return { shape: [n, TRANSFORM_PARAMS], data };
}

const CASES: (Case & { kernels: string[] })[] = [
  {
    name: 'global colour transform (fused forward, gradients for θ and the input)', inputs: [image(2, 9, 7, 1), theta(2, 2)],
    f: (x, th) => applyColorTransform(x as tf.Tensor4D, th as tf.Tensor2D), kernels: [COLOR_APPLY_KERNEL, COLOR_APPLY_GRAD_KERNEL],
  },
  {
    name: 'conv 4x4 s2 same + bias + leaky ReLU 0.2', inputs: [awayFromZero([2, 9, 8, 4], 3), rand([4, 4, 4, 6], 4, 0.3), rand([6], 5, 0.1)],
    f: (x, w, b) => conv2dBiasLeakyRelu(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, [2, 2], 'same', 0.2), kernels: [CONV_LEAKY_KERNEL, 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  },
  {
    name: 'conv 4x4 s1 same + bias + leaky ReLU 0.2', inputs: [awayFromZero([1, 6, 5, 8], 6), rand([4, 4, 8, 3], 7, 0.3), rand([3], 8, 0.1)],
    f: (x, w, b) => conv2dBiasLeakyRelu(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, [1, 1], 'same', 0.2), kernels: [CONV_LEAKY_KERNEL],
  },
  {
    name: 'concat along axis 1 of rank-2 and rank-4 tensors (gradient: SplitV as row copies)', inputs: [rand([3, 5], 9), rand([3, 7], 10), rand([2, 3, 4, 2], 11), rand([2, 3, 4, 3], 12)],
    f: (a, b, c, d) => tf.add(tf.sum(tf.mul(tf.concat([a, b, a], 1), 1.5)), tf.sum(tf.square(tf.concat([c, d], 3)))), kernels: ['SplitV'],
  },
  {
    name: 'sum and mean over various axes (gradients: one strided broadcast instead of a ones array)', inputs: [rand([2, 5, 4, 3], 13), rand([3, 1], 14), rand([4], 15)],
    f: (x, y, z) => tf.addN([tf.sum(tf.mul(tf.sum(x, [1, 2]), tf.mean(x, [0, 1, 2]))), tf.mean(tf.square(x)), tf.sum(tf.mul(tf.mean(x, 3, true), 0.5)), tf.sum(y, 1).sum(), tf.mean(z)]),
    kernels: [BROADCAST_KERNEL],
  },
];

test('fused kernels: native forward and gradients agree with the cpu backend\'s term-by-term ops, natively computed', { skip }, async (t) => {
  for (const c of CASES) {
    await use('cpu');
    const ref = evaluate(c);
    await use('native');
    resetNativeKernelStats();
    const before = tf.memory().numTensors;
    const got = evaluate(c);
    assert.equal(tf.memory().numTensors, before, `${c.name}: tensors leaked`);
    const stats = nativeKernelStats();
    for (const k of c.kernels) assert.ok((stats[k]?.native ?? 0) > 0 && (stats[k]?.fallback ?? 0) === 0, `${c.name}: ${k} did not run natively (${JSON.stringify(stats[k])})`);
    const fwd = maxAbsDiff(got.fwd, ref.fwd) / Math.max(maxAbs(ref.fwd), 1e-6);
    assert.ok(fwd <= BACKEND_TOL, `${c.name}: forward rel diff ${fwd}`);
    const worst = got.grads.map((g, i) => maxAbsDiff(g, ref.grads[i]) / Math.max(maxAbs(ref.grads[i]), 1e-6));
    worst.forEach((d, i) => assert.ok(d <= BACKEND_TOL, `${c.name}: gradient ${i} rel diff ${d}`));
    t.diagnostic(`${c.name}: forward ${fwd.toExponential(1)}, gradients ${worst.map((d) => d.toExponential(1)).join(', ')}`);
  }
});

test('fused colour transform: gradients match central finite differences on the native backend', { skip }, async () => {
  await use('native');
  // values away from the kinks (curve knots, the [0, 1] clip, the ±4 slope clip), where the transform is smooth
  const x = image(1, 5, 4, 11);
  for (let p = 0; p < 20; p++) for (let c = 0; c < 3; c++) x.data[p * 4 + c] = (((p * 3 + c) % 8) + 0.5) / 8 + 0.01 * c;
  const th = theta(1, 12);
  for (let i = 0; i < 3 * CURVE_KNOTS; i++) th.data[i] = Math.max(-1, Math.min(1, th.data[i]));
  th.data.fill(0.05, 3 * CURVE_KNOTS, TRANSFORM_PARAMS - 1);
  const c: Case = { name: 'apply', inputs: [x, th], f: (a, b) => tf.mul(applyColorTransform(a as tf.Tensor4D, b as tf.Tensor2D), 0.5), eps: 2e-3, fdTol: 2e-2 };
  const { grads } = evaluate(c);
  const e = finiteDiffError(c, grads);
  assert.ok(e.err <= 2e-2, `input ${e.input} index ${e.index}: finite-difference error ${e.err}`);
});

test('fused kernels compute only the gradients asked for: no input gradient of a first layer, θ\'s alone', { skip }, async () => {
  await use('native');
  const x = tf.tensor4d(awayFromZero([2, 8, 8, 4], 21).data, [2, 8, 8, 4]);
  const w = tf.variable(tf.tensor4d(rand([4, 4, 4, 5], 22, 0.3).data, [4, 4, 4, 5]));
  const b = tf.variable(tf.tensor1d(rand([5], 23, 0.1).data));
  resetNativeKernelStats();
  const g = tf.variableGrads(() => tf.sum(conv2dBiasLeakyRelu(x, w, b, [2, 2], 'same', 0.2)) as tf.Scalar, [w, b]);
  let s = nativeKernelStats();
  assert.equal(s.Conv2DBackpropInput, undefined, 'no input gradient was asked for');
  assert.equal(s.Conv2DBackpropFilter?.native, 1);
  tf.dispose([g.value, ...Object.values(g.grads)]);
  const img = tf.tensor4d(image(1, 6, 6, 24).data, [1, 6, 6, 4]);
  const th = tf.variable(tf.tensor2d(theta(1, 25).data, [1, TRANSFORM_PARAMS]));
  resetNativeKernelStats();
  const gt = tf.variableGrads(() => tf.sum(applyColorTransform(img, th)) as tf.Scalar, [th]);
  s = nativeKernelStats();
  assert.equal(s[COLOR_APPLY_GRAD_KERNEL]?.native, 1, 'one gradient kernel, for θ');
  tf.dispose([gt.value, ...Object.values(gt.grads), x, w, b, img, th]);
});

test('the patch discriminator (fused layers) gives the logits and weight gradients of the cpu backend; same weights as tf.layers conv2d', { skip }, async () => {
  const run = () => {
    const d = buildDiscriminator({ base: 4, kind: 'patch', maskInput: true, seed: 3 });
    const x = tf.tensor4d(image(2, 16, 12, 31).data, [2, 16, 12, 4]);
    const vars = d.trainableWeights.map((v) => v.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(d.apply(x) as tf.Tensor)) as tf.Scalar, vars);
    const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array), names: d.trainableWeights.map((v) => v.originalName) };
    tf.dispose([value, ...Object.values(grads), x]);
    d.dispose();
    return out;
  };
  await use('cpu');
  const ref = run();
  await use('native');
  resetNativeKernelStats();
  const got = run();
  assert.ok((nativeKernelStats()[CONV_LEAKY_KERNEL]?.native ?? 0) >= 4);
  assert.deepEqual(got.names, ['d_conv1/kernel', 'd_conv1/bias', 'd_conv2/kernel', 'd_conv2/bias', 'd_conv3/kernel', 'd_conv3/bias', 'd_conv4/kernel', 'd_conv4/bias', 'd_logit/kernel', 'd_logit/bias']);
  assert.ok(Math.abs(got.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${got.loss} vs ${ref.loss}`);
  got.grads.forEach((g, i) => {
    const d = maxAbsDiff(g, ref.grads[i]) / Math.max(maxAbs(ref.grads[i]), 1e-6);
    assert.ok(d <= BACKEND_TOL, `${got.names[i]}: rel diff ${d}`);
  });
  // the fused layer's weights are those tf.layers.conv2d creates with the same initialiser
  const d = buildDiscriminator({ base: 4, kind: 'patch', seed: 9 });
  const k = tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: tf.initializers.heUniform({ seed: (d.getLayer('d_conv1') as unknown as { kernelInitializer: { seed?: number } }).kernelInitializer.seed }) });
  k.build([null, 8, 8, 3]);
  assert.deepEqual(Array.from(k.getWeights()[0].dataSync()), Array.from(d.getLayer('d_conv1').getWeights()[0].dataSync()));
  d.dispose();
});

// ---------------------------------------------------------------------------------------------
// The full-resolution apply on arrays
// ---------------------------------------------------------------------------------------------

/** Half-pixel-centre bilinear taps (as color-transform-apply.ts). */
function refTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), f = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    f[o] = src - lo;
  }
  return { i0, i1, f };
}

/** applyColorTransformArrays as it was before issue 25 (commit 7a1f402), verbatim: the reference. */
function referenceApply(rgb: Float32Array, mask: Float32Array, width: number, height: number, p: ColorTransformParams): Float32Array {
  const K = CURVE_KNOTS, th = p.theta;
  const slope = new Float32Array(3 * K);
  for (let i = 0; i < 3 * K; i++) slope[i] = Math.fround(Math.exp(Math.min(4, Math.max(-4, th[i]))));
  const A = th.subarray(3 * K, 3 * K + 9), b = th.subarray(3 * K + 9, 3 * K + 12);
  const gate = 1 / (1 + Math.exp(-th[3 * K + 12]));
  const out = new Float32Array(rgb);
  const field = p.field;
  const tx = field ? refTaps(field.width, width) : undefined, ty = field ? refTaps(field.height, height) : undefined;
  const fv = new Float32Array(FIELD_CHANNELS);
  const y = [0, 0, 0];
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const pi = py * width + px;
      const m = mask[pi];
      if (!(m > 0)) continue;
      const o = pi * 3;
      for (let c = 0; c < 3; c++) {
        const x = rgb[o + c];
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const seg = Math.min(Math.max(x - k / K, 0), 1 / K);
          acc += seg * slope[c * K + k];
        }
        y[c] = acc;
      }
      if (field && tx && ty) {
        const x0 = tx.i0[px], x1 = tx.i1[px], fx = tx.f[px], y0 = ty.i0[py], y1 = ty.i1[py], fy = ty.f[py];
        const fw = field.width, d = field.data;
        for (let k = 0; k < FIELD_CHANNELS; k++) {
          const a00 = d[(y0 * fw + x0) * FIELD_CHANNELS + k], a01 = d[(y0 * fw + x1) * FIELD_CHANNELS + k];
          const a10 = d[(y1 * fw + x0) * FIELD_CHANNELS + k], a11 = d[(y1 * fw + x1) * FIELD_CHANNELS + k];
          const top = a00 + (a01 - a00) * fx, bot = a10 + (a11 - a10) * fx;
          fv[k] = top + (bot - top) * fy;
        }
      }
      for (let c = 0; c < 3; c++) {
        let v = y[c] + A[c * 3] * y[0] + A[c * 3 + 1] * y[1] + A[c * 3 + 2] * y[2] + b[c];
        if (field) v += fv[c * 3] * y[0] + fv[c * 3 + 1] * y[1] + fv[c * 3 + 2] * y[2] + fv[9 + c];
        const x = rgb[o + c];
        const moved = Math.min(1, Math.max(0, x + gate * (v - x)));
        out[o + c] = x + m * (moved - x);
      }
    }
  }
  return out;
}

/** An image with 8-bit values, knot values, values outside [0, 1], NaN and ±Infinity; a mask with 0, negatives, 1, fractions and NaN. */
function arrays(width: number, height: number, seed: number): { rgb: Float32Array; mask: Float32Array } {
  const r = new Rng(seed);
  const rgb = new Float32Array(width * height * 3), mask = new Float32Array(width * height);
  for (let i = 0; i < rgb.length; i++) {
    const u = r.next();
    rgb[i] = u < 0.5 ? Math.round(r.next() * 255) / 255 : u < 0.6 ? Math.round(r.next() * 8) / 8 : u < 0.65 ? r.uniform(-0.5, 1.5) : u < 0.651 ? [NaN, Infinity, -Infinity, 1e31, -0][Math.floor(r.next() * 5)] : r.next();
  }
  for (let i = 0; i < mask.length; i++) {
    const u = r.next();
    mask[i] = u < 0.3 ? 0 : u < 0.35 ? -0.2 : u < 0.6 ? 1 : u < 0.601 ? NaN : r.next();
  }
  return { rgb, mask };
}

function sameBits(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) diff++;
  return diff;
}

const PARAMS: [string, (seed: number) => ColorTransformParams][] = [
  ['global', (seed) => ({ theta: theta(1, seed).data })],
  ['pct (5×4 field)', (seed) => {
    const r = new Rng(seed + 100);
    return { theta: theta(1, seed).data, field: { width: 5, height: 4, data: Float32Array.from({ length: 5 * 4 * FIELD_CHANNELS }, () => r.uniform(-0.2, 0.2)) } };
  }],
];

test('applyColorTransformArrays (JavaScript) is bit-identical to the loop it replaced', () => {
  for (const [name, params] of PARAMS) {
    for (const [w, h, seed] of [[37, 23, 1], [64, 48, 2], [1, 1, 3]]) {
      const { rgb, mask } = arrays(w, h, seed);
      const p = params(seed);
      const ref = referenceApply(rgb, mask, w, h, p);
      const got = applyColorTransformArrays(rgb, mask, w, h, p, 'js');
      assert.equal(sameBits(got, ref), 0, `${name} ${w}×${h}: values differ from the reference loop`);
    }
  }
});

test('applyColorTransformArrays on the native addon (row bands over every core) is bit-identical to the loop it replaced', { skip }, () => {
  for (const [name, params] of PARAMS) {
    // 301×257 = 77k pixels: above the addon's parallel threshold, odd sizes
    for (const [w, h, seed] of [[37, 23, 4], [301, 257, 5]]) {
      const { rgb, mask } = arrays(w, h, seed);
      const p = params(seed);
      const ref = referenceApply(rgb, mask, w, h, p);
      assert.equal(sameBits(applyColorTransformArrays(rgb, mask, w, h, p, 'native'), ref), 0, `${name} ${w}×${h}: native values differ`);
      assert.equal(sameBits(applyColorTransformArrays(rgb, mask, w, h, p, 'auto'), ref), 0, `${name} ${w}×${h}: auto values differ`);
    }
  }
  assert.throws(() => applyColorTransformArrays(new Float32Array(3), new Float32Array(1), 1, 1, { theta: new Float32Array(TRANSFORM_PARAMS), field: { width: 2, height: 2, data: new Float32Array(5) } }), /field must hold/);
});
