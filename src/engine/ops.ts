/**
 * Ops the models share. First, safe replacements for TensorFlow.js ops whose gradient is wrong or
 * missing on every backend (see docs/ENGINE.md, "Ops to avoid"), built only from ops with correct
 * gradients (slice, reverse, concat, reshape, rank-4 transpose), so they train correctly on wasm, cpu
 * and tfjs-node alike. Then fused activation gradients, `untaped` (no_grad) and the colour curves,
 * which run one-pass kernels where a backend registers them (native) and tfjs's ops elsewhere.
 */
import { tf } from './tf.ts';
import { HarmoniaError } from '../errors.ts';

/** Padding per side: one number for all four, or [top, bottom, left, right]. */
export type Padding4 = number | readonly [number, number, number, number];

function sides(pad: Padding4): [number, number, number, number] {
  const p: [number, number, number, number] = typeof pad === 'number' ? [pad, pad, pad, pad] : [pad[0], pad[1], pad[2], pad[3]];
  for (const v of p) {
    if (!Number.isInteger(v) || v < 0) throw new HarmoniaError(`reflectPad: padding must be non-negative integers, got [${p}]`);
  }
  return p;
}

/** Reflect-pads one axis (1 = height, 2 = width) of an NHWC tensor. */
function reflectAxis(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  if (before === 0 && after === 0) return x;
  const n = x.shape[axis];
  if (before >= n || after >= n) {
    throw new HarmoniaError(`reflectPad: padding ${Math.max(before, after)} must be smaller than the ${axis === 1 ? 'height' : 'width'} ${n}`);
  }
  const part = (start: number, size: number): tf.Tensor4D => {
    const begin = [0, 0, 0, 0], sz = [-1, -1, -1, -1];
    begin[axis] = start;
    sz[axis] = size;
    return tf.reverse(tf.slice(x, begin, sz), axis);
  };
  const pieces: tf.Tensor4D[] = [];
  if (before > 0) pieces.push(part(1, before)); // rows before..1, mirrored about row 0
  pieces.push(x);
  if (after > 0) pieces.push(part(n - 1 - after, after)); // rows n-2..n-1-after
  return tf.concat(pieces, axis);
}

/**
 * Reflection padding of an NHWC batch (PyTorch ReflectionPad2d / tf.mirrorPad 'reflect': the edge
 * pixel is not repeated). Unlike tf.mirrorPad, whose gradient drops the reflected contributions,
 * the gradient is exact. Each padding must be smaller than the padded dimension.
 */
export function reflectPad(x: tf.Tensor4D, pad: Padding4): tf.Tensor4D {
  if (x.rank !== 4) throw new HarmoniaError(`reflectPad: expected an NHWC rank-4 tensor, got shape [${x.shape}]`);
  const [t, b, l, r] = sides(pad);
  return tf.tidy(() => reflectAxis(reflectAxis(x, 1, t, b), 2, l, r));
}

function checkFactor(op: string, r: number): void {
  if (!Number.isInteger(r) || r < 1) throw new HarmoniaError(`${op}: factor must be a positive integer, got ${r}`);
}

/**
 * Pixel shuffle (depth-to-space): [N, H, W, r²·C] → [N, r·H, r·W, C], with tf.depthToSpace's NHWC
 * channel order (channel (i·r + j)·C + c goes to pixel offset (i, j)). tf.depthToSpace has no gradient;
 * this is reshape + a rank-4 transpose (rank-5/6 transposes are slow on wasm), so it trains.
 */
export function pixelShuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  checkFactor('pixelShuffle', r);
  const [n, h, w, c] = x.shape;
  if (c % (r * r) !== 0) throw new HarmoniaError(`pixelShuffle: channels ${c} are not divisible by ${r}² = ${r * r}`);
  if (r === 1) return x.clone();
  const co = c / (r * r);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n * h, w, r, r * co]), [0, 2, 1, 3]), [n, h * r, w * r, co]));
}

/** Inverse of pixelShuffle (space-to-depth): [N, r·H, r·W, C] → [N, H, W, r²·C]. */
export function pixelUnshuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  checkFactor('pixelUnshuffle', r);
  const [n, hr, wr, c] = x.shape;
  if (hr % r !== 0 || wr % r !== 0) throw new HarmoniaError(`pixelUnshuffle: size ${hr}×${wr} is not divisible by ${r}`);
  if (r === 1) return x.clone();
  const h = hr / r, w = wr / r;
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n * h, r, w, r * c]), [0, 2, 1, 3]), [n, h, w, r * r * c]));
}

function selector(rows: number, cols: number, offset: number): tf.Tensor2D {
  const s = new Float32Array(rows * cols);
  for (let k = 0; k < rows; k++) s[k * cols + offset + k] = 1;
  return tf.tensor2d(s, [rows, cols]);
}

/**
 * Channels [begin, begin + size) of an NHWC tensor as a product with a 0/1 selector matrix. Values are
 * exactly those of tf.slice; the point is speed: on the cpu backend (which the native backend falls
 * back to for these ops) a strided Slice, and the Pad of its gradient, cost about 1 µs per element.
 */
export function sliceChannels(x: tf.Tensor4D, begin: number, size: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(begin) || !Number.isInteger(size) || begin < 0 || size < 1 || begin + size > c) {
    throw new HarmoniaError(`sliceChannels: channels [${begin}, ${begin + size}) are not within 0..${c}`);
  }
  return tf.tidy(() => {
    const sel = tf.transpose(selector(size, c, begin)) as tf.Tensor2D;
    return tf.matMul(x.reshape([n * h * w, c]), sel).reshape([n, h, w, size]) as tf.Tensor4D;
  });
}

/**
 * Concatenation of NHWC tensors along channels as a sum of selector products: exactly the values of
 * tf.concat(…, 3), but its gradient is two MatMuls instead of the cpu backend's slow SplitV. On the
 * native backend, whose Concat and SplitV are row copies, tf.concat itself (one kernel each way).
 */
export function concatChannels(parts: readonly tf.Tensor4D[]): tf.Tensor4D {
  if (parts.length === 0) throw new HarmoniaError('concatChannels: nothing to concatenate');
  const [n, h, w] = parts[0].shape;
  const total = parts.reduce((a, p) => a + p.shape[3], 0);
  if (tf.getBackend() === 'native') {
    for (const p of parts) if (p.shape[0] !== n || p.shape[1] !== h || p.shape[2] !== w) throw new HarmoniaError('concatChannels: parts must share N, H and W');
    return parts.length === 1 ? parts[0].clone() : tf.concat(parts as tf.Tensor4D[], 3);
  }
  return tf.tidy(() => {
    let off = 0;
    const terms = parts.map((p) => {
      if (p.shape[0] !== n || p.shape[1] !== h || p.shape[2] !== w) throw new HarmoniaError('concatChannels: parts must share N, H and W');
      const c = p.shape[3];
      const t = tf.matMul(p.reshape([n * h * w, c]), selector(c, total, off));
      off += c;
      return t;
    });
    return (terms.length === 1 ? terms[0] : tf.addN(terms)).reshape([n, h, w, total]) as tf.Tensor4D;
  });
}

/**
 * Fused activation gradients. A backend may register these kernels (the native backend does: one
 * pass instead of tfjs's step + mul, or greater + mul + select); elsewhere the ops below compute the
 * same values with tfjs's own ops, so the choice never changes a result.
 */
export const RELU_GRAD_KERNEL = 'HarmoniaReluGrad';
export const LEAKY_RELU_GRAD_KERNEL = 'HarmoniaLeakyReluGrad';
export const CLIP_GRAD_KERNEL = 'HarmoniaClipByValueGrad';
export const CURVE_KERNEL = 'HarmoniaCurve';
export const CURVE_GRAD_KERNEL = 'HarmoniaCurveGrad';
export const COLOR_APPLY_KERNEL = 'HarmoniaColorApply';
export const COLOR_APPLY_GRAD_KERNEL = 'HarmoniaColorApplyGrad';
export const CONV_LEAKY_KERNEL = 'HarmoniaConv2DLeakyRelu';
export const BROADCAST_KERNEL = 'HarmoniaBroadcastTo';

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** dy · step(x): the ReLU gradient given its input (or its output: same sign). */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasKernel(RELU_GRAD_KERNEL) && dy.dtype === 'float32' && x.dtype === 'float32') {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }) as tf.Tensor;
  }
  return tf.mul(dy, tf.step(tf.cast(x, 'float32')));
}

/** x > 0 ? dy : alpha · dy: the leaky-ReLU gradient given its input. */
export function leakyReluGrad(dy: tf.Tensor, x: tf.Tensor, alpha: number): tf.Tensor {
  if (hasKernel(LEAKY_RELU_GRAD_KERNEL) && dy.dtype === 'float32' && x.dtype === 'float32') {
    return tf.engine().runKernel(LEAKY_RELU_GRAD_KERNEL, { dy, x }, { alpha }) as tf.Tensor;
  }
  return tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha));
}

/** lo <= x <= hi ? dy : 0: the ClipByValue gradient given its input. */
export function clipByValueGrad(dy: tf.Tensor, x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  if (hasKernel(CLIP_GRAD_KERNEL) && dy.dtype === 'float32' && x.dtype === 'float32' && dy.shape.join() === x.shape.join()) {
    return tf.engine().runKernel(CLIP_GRAD_KERNEL, { dy, x }, { clipValueMin: lo, clipValueMax: hi }) as tf.Tensor;
  }
  return tf.where(tf.logicalAnd(tf.greaterEqual(x, lo), tf.lessEqual(x, hi)), dy, tf.zerosLike(dy));
}

let fusedGradients = false;

interface ConvLeakyAttrs { strides: [number, number]; pad: 'same' | 'valid'; alpha: number }

/**
 * Points tfjs's Relu, LeakyRelu and ClipByValue gradients at `reluGrad` / `leakyReluGrad` /
 * `clipByValueGrad`, and its Sum and Mean gradients at `broadcastTo` (idempotent). The values are
 * those of tfjs's own gradients on every backend; a backend with the fused kernels computes them in
 * one pass. Also registers the gradients of the project's fused kernels (colour transform, conv +
 * leaky ReLU), which only a backend registering those kernels runs. Called when the native backend registers.
 */
export function useFusedActivationGradients(): void {
  if (fusedGradients) return;
  fusedGradients = true;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => reluGrad(dy as tf.Tensor, saved[0]) }),
  });
  tf.registerGradient({
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => ({ x: () => leakyReluGrad(dy as tf.Tensor, saved[0], Number((attrs as { alpha: number }).alpha)) }),
  });
  tf.registerGradient({
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
      return { x: () => clipByValueGrad(dy as tf.Tensor, saved[0], clipValueMin, clipValueMax) };
    },
  });
  // Sum and Mean: tfjs's gradients multiply dy by a ones tensor of the input's shape built in JS (a
  // fresh array per call: ~24 MB of garbage per `global` training step); broadcastTo gives the same values
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const expanded = expandReduced(dy as tf.Tensor, x.shape, (attrs as { axis: number | number[] }).axis);
      return { x: () => broadcastTo(expanded, x.shape) };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axis = (attrs as { axis: number | number[] }).axis;
      const [, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, tf.util.parseAxisParam(axis, x.shape));
      const reduceSize = tf.util.sizeFromShape(reduceShape);
      return { x: () => tf.div(broadcastTo(expandReduced(dy as tf.Tensor, x.shape, axis), x.shape), reduceSize) };
    },
  });
  // The fused kernels below run only where a backend registers them (native); their gradients are
  // lazy per input, so tfjs computes only those it needs (e.g. no input gradient of a first layer).
  tf.registerGradient({
    kernelName: COLOR_APPLY_KERNEL,
    inputsToSave: ['x', 'theta'],
    gradFunc: (dy, saved, attrs) => {
      const [x, theta] = saved;
      const K = Number((attrs as { K: number }).K);
      const grad = (wrt: 'x' | 'theta') => () => tf.engine().runKernel(COLOR_APPLY_GRAD_KERNEL, { dy: dy as tf.Tensor, x, theta }, { K, wrt }) as tf.Tensor;
      return { x: grad('x'), theta: grad('theta') };
    },
  });
  tf.registerGradient({
    kernelName: CONV_LEAKY_KERNEL,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const { strides, pad, alpha } = attrs as unknown as ConvLeakyAttrs;
      // y > 0 exactly where the pre-activation is (alpha > 0): one pass gives the pre-activation's gradient
      const dz = leakyReluGrad(dy as tf.Tensor, y, alpha) as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(dz, filter as tf.Tensor4D, x.shape as [number, number, number, number], strides, pad),
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { strides, pad, dataFormat: 'NHWC', filterShape: filter.shape }) as tf.Tensor,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
}

/** dy of a reduction reshaped with 1s at the reduced axes (as tfjs's Sum/Mean gradients do). */
function expandReduced(dy: tf.Tensor, shape: readonly number[], axis: number | number[]): tf.Tensor {
  const expanded = shape.slice();
  for (const a of tf.util.parseAxisParam(axis, [...shape])) expanded[a] = 1;
  return tf.reshape(dy, expanded);
}

/**
 * `x` broadcast to `shape`: one strided copy where the backend registers the kernel (native), else
 * tfjs's own formula for the Sum/Mean gradients, x · ones(shape) (the same values: multiplying by 1 is exact).
 */
export function broadcastTo(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (hasKernel(BROADCAST_KERNEL) && x.dtype === 'float32') return tf.engine().runKernel(BROADCAST_KERNEL, { x }, { shape: [...shape] }) as tf.Tensor;
  return tf.mul(x, tf.ones([...shape], 'float32'));
}

/**
 * leakyRelu(conv2d(x, filter) + bias, alpha), NHWC, dilation 1: a layer of the discriminators. Where
 * the backend registers the fused kernel (native: one oneDNN convolution with the bias and the
 * activation as post-ops; a gradient that computes only the inputs' gradients tfjs asks for), one
 * kernel; elsewhere exactly what tfjs layers run (a fused conv2d with the bias, then leakyRelu).
 */
export function conv2dBiasLeakyRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: 'same' | 'valid', alpha: number): tf.Tensor4D {
  if (hasKernel(CONV_LEAKY_KERNEL) && x.dtype === 'float32' && filter.dtype === 'float32' && bias.dtype === 'float32' && alpha > 0) {
    return tf.engine().runKernel(CONV_LEAKY_KERNEL, { x, filter, bias }, { strides, pad, alpha } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.tidy(() => tf.leakyRelu(tf.fused.conv2d({ x, filter, strides, pad, dataFormat: 'NHWC', bias }), alpha));
}

/**
 * The colour transform of the `global` generator in one kernel where the backend registers it
 * (native: one pass per pixel forward, one backward for θ or the input), or undefined: the caller
 * then runs its term-by-term ops (src/models/color-transform.ts applyColorTransform, whose values
 * the kernel reproduces to float rounding). x [N,H,W,4] (RGB + mask), theta [N, 3K + 13].
 */
export function fusedColorApply(x: tf.Tensor4D, theta: tf.Tensor2D, K: number): tf.Tensor4D | undefined {
  if (!hasKernel(COLOR_APPLY_KERNEL) || !hasKernel(COLOR_APPLY_GRAD_KERNEL) || x.dtype !== 'float32' || theta.dtype !== 'float32') return undefined;
  if (x.shape[3] !== 4 || theta.shape[0] !== x.shape[0] || theta.shape[1] !== 3 * K + 13) {
    throw new HarmoniaError(`fusedColorApply: expected x [N,H,W,4] and theta [N, ${3 * K + 13}], got [${x.shape.join(', ')}] and [${theta.shape.join(', ')}]`);
  }
  return tf.engine().runKernel(COLOR_APPLY_KERNEL, { x, theta }, { K }) as tf.Tensor4D;
}

/**
 * Runs `fn` without recording it on the gradient tape, as PyTorch's no_grad: inside tf.grad its
 * ops are neither taped nor their intermediates kept for a backward pass (a customGrad forward is
 * not recorded), so a loss's constant branch (a target's features) costs no tape memory. The
 * returned tensors are outside every tidy scope: the caller disposes them.
 */
export function untaped(fn: () => tf.Tensor[]): tf.Tensor[] {
  let out: tf.Tensor[] = [];
  const op = tf.customGrad(() => {
    out = fn().map((t) => tf.keep(t));
    return { value: tf.scalar(0), gradFunc: () => [] };
  });
  op().dispose();
  return out;
}

/**
 * Per-channel monotone piecewise-linear curves: for x [N,H,W,C] and slopes [N, C·K] (channel-major),
 * y = Σ_k clip(x − k/K, 0, 1/K) · slope[c, k]. A backend with the fused kernels (native) runs the
 * forward and the gradient (for x and the slopes) in one pass each; elsewhere tfjs's own ops
 * compute it term by term, as they did before the kernels existed. Same values either way.
 */
export function piecewiseLinearCurves(x: tf.Tensor4D, slopes: tf.Tensor2D, K: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (slopes.shape[0] !== n || slopes.shape[1] !== c * K) {
    throw new HarmoniaError(`piecewiseLinearCurves: slopes must be [${n}, ${c * K}], got [${slopes.shape.join(', ')}]`);
  }
  if (hasKernel(CURVE_KERNEL) && hasKernel(CURVE_GRAD_KERNEL) && x.dtype === 'float32' && slopes.dtype === 'float32') {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xx, ss, save] = args as [tf.Tensor4D, tf.Tensor2D, tf.GradSaveFunc];
      save([xx, ss]);
      return {
        value: tf.engine().runKernel(CURVE_KERNEL, { x: xx, slopes: ss }, { K }) as tf.Tensor4D,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(CURVE_GRAD_KERNEL, { dy, x: saved[0], slopes: saved[1] }, { K }) as tf.Tensor[],
      };
    });
    return op(x, slopes) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const s = tf.reshape(slopes, [n, 1, 1, c, K]);
    let y: tf.Tensor4D = tf.zerosLike(x);
    for (let k = 0; k < K; k++) {
      const seg = tf.clipByValue(tf.sub(x, k / K), 0, 1 / K);
      const sk = tf.reshape(tf.slice(s, [0, 0, 0, 0, k], [-1, -1, -1, -1, 1]), [n, 1, 1, c]);
      y = tf.add(y, tf.mul(seg, sk));
    }
    return y;
  });
}
