/**
 * TensorFlow.js kernels of the 'native' backend that call the oneDNN addon. Tensor data lives in
 * JavaScript Float32Arrays (the backend is the cpu backend's MathBackendCPU), which the addon reads
 * and writes in place: no copies. Geometry (padding, output size) comes from tfjs's own
 * computeConv2DInfo / computePool2DInfo, so the semantics are tfjs's. Cases the addon does not cover
 * (NCHW, non-float32, prelu, broadcast biases, unsupported oneDNN geometries) run the cpu kernel.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { ACTIVATIONS, type NativeAddon } from './addon.ts';
import { resizeBilinearGradInto } from '../kernels/resize-bilinear-grad.ts';
import { scatterNearestInto } from '../kernels/resize-nearest-neighbor-grad.ts';
import { Unsupported, attrs, f32, inp, outputF32, sizeOf, type Args, type CpuLikeBackend, type Kernel } from './common.ts';
import { ELEMENTWISE_KERNELS, OWN_KERNEL_FALLBACKS, elementwiseKernels, stridedPlan } from './elementwise.ts';
import { BROADCAST_KERNEL, COLOR_APPLY_GRAD_KERNEL, COLOR_APPLY_KERNEL, CONV_LEAKY_KERNEL } from '../ops.ts';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** Calls of each kernel: run natively, or handed to the cpu kernel (with the last reason). */
export interface KernelStats { native: number; fallback: number; lastFallback?: string }
const stats = new Map<string, KernelStats>();

/** Per-kernel call counts since the process started (or since resetNativeKernelStats). */
export function nativeKernelStats(): Record<string, KernelStats> {
  return Object.fromEntries([...stats].map(([k, v]) => [k, { ...v }]));
}
export function resetNativeKernelStats(): void {
  stats.clear();
}
function count(name: string, native: boolean, why?: string): void {
  const s = stats.get(name) ?? { native: 0, fallback: 0 };
  if (native) s.native++;
  else {
    s.fallback++;
    s.lastFallback = why;
  }
  stats.set(name, s);
}

/** The addon's conv geometry [n,h,w,ci, kh,kw,co, oh,ow, sh,sw, dh,dw, pt,pl,pb,pr] from tfjs's conv info. Pure. */
export function convGeometry(c: Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.filterHeight, c.filterWidth, c.outChannels, c.outHeight, c.outWidth,
    c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth, c.padInfo.top, c.padInfo.left, c.padInfo.bottom, c.padInfo.right,
  ]);
}

/** The addon's pool geometry [n,h,w,c, kh,kw, oh,ow, sh,sw, dh,dw, pt,pl]. Pure. */
export function poolGeometry(c: Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.filterHeight, c.filterWidth, c.outHeight, c.outWidth,
    c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth, c.padInfo.top, c.padInfo.left,
  ]);
}

function convInfo(x: readonly number[], f: readonly number[], strides: number | [number, number], dil: number | [number, number], pad: Pad,
  rounding: 'floor' | 'round' | 'ceil' | undefined, dataFormat: string | undefined): Conv2DInfo {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') throw new Unsupported(`dataFormat ${dataFormat}`);
  if (x.length !== 4 || f.length !== 4) throw new Unsupported('rank');
  return tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], strides, dil, pad, rounding, false, 'channelsLast');
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

function activationCode(name: string | undefined): { act: number } {
  const act = ACTIVATIONS[name ?? 'linear'];
  if (act === undefined) throw new Unsupported(`activation ${name}`);
  return { act };
}

const NO_EPILOGUE = { bias: null, act: 0 } as const;

/**
 * The epilogue of a fused kernel (FusedConv2D, _FusedMatMul): its activation code and a bias of
 * `channels` values over the last axis (a prelu or any other bias broadcast is unsupported).
 */
function fusedEpilogue(a: Args, backend: CpuLikeBackend, activation: string | undefined, channels: number): { bias: Float32Array | null; act: number } {
  if (a.inputs.preluActivationWeights) throw new Unsupported('prelu');
  const { act } = activationCode(activation);
  const b = a.inputs.bias;
  if (!b) return { bias: null, act };
  // a bias of `channels` values whose last axis has them all (for rank 1 the size check says it)
  if (sizeOf(b.shape) !== channels || (b.shape.length > 0 && b.shape[b.shape.length - 1] !== channels)) throw new Unsupported('broadcast bias');
  return { bias: f32(backend, b), act };
}

function makeConv2D(addon: NativeAddon, fused: boolean): (a: Args) => tf.TensorInfo {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const x = inp(a, 'x', 'Conv2D'), filter = inp(a, 'filter', 'Conv2D');
    const at = attrs<ConvAttrs>(a);
    const c = convInfo(x.shape, filter.shape, at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, at.dataFormat);
    const { bias, act } = fused ? fusedEpilogue(a, backend, at.activation, c.outChannels) : NO_EPILOGUE;
    const y = outputF32(sizeOf(c.outShape));
    addon.conv2d(f32(backend, x), f32(backend, filter), bias, y, convGeometry(c), act, at.leakyreluAlpha ?? 0.2);
    return backend.makeTensorInfo(c.outShape, 'float32', y);
  };
}

/**
 * The two gradients of Conv2D: dx (Conv2DBackpropInput, from dy and the filter; attribute inputShape)
 * and dW (Conv2DBackpropFilter, from x and dy; attribute filterShape). Same geometry, one addon call each.
 */
function makeConv2DBackprop(addon: NativeAddon, of: 'input' | 'filter'): Kernel {
  const name = of === 'input' ? 'Conv2DBackpropInput' : 'Conv2DBackpropFilter';
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const dy = inp(a, 'dy', name), other = inp(a, of === 'input' ? 'filter' : 'x', name);
    const at = attrs<ConvAttrs & { inputShape: number[]; filterShape: number[] }>(a);
    const outShape = of === 'input' ? at.inputShape : at.filterShape;
    const [xShape, wShape] = of === 'input' ? [at.inputShape, other.shape] : [other.shape, at.filterShape];
    const c = convInfo(xShape, wShape, at.strides, 1, at.pad, at.dimRoundingMode, at.dataFormat);
    if (c.outHeight !== dy.shape[1] || c.outWidth !== dy.shape[2]) throw new Unsupported('dy shape');
    const out = outputF32(sizeOf(outShape));
    if (of === 'input') addon.conv2dBackpropInput(f32(backend, dy), f32(backend, other), out, convGeometry(c));
    else addon.conv2dBackpropFilter(f32(backend, other), f32(backend, dy), out, convGeometry(c));
    return backend.makeTensorInfo([...outShape], 'float32', out);
  };
}

function makeMatMul(addon: NativeAddon, fused: boolean): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const A = inp(a, 'a', 'BatchMatMul'), B = inp(a, 'b', 'BatchMatMul');
    const at = attrs<{ transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number }>(a);
    if (A.shape.length < 2 || B.shape.length < 2) throw new Unsupported('rank');
    const ra = A.shape.length, rb = B.shape.length;
    const M = at.transposeA ? A.shape[ra - 1] : A.shape[ra - 2];
    const K = at.transposeA ? A.shape[ra - 2] : A.shape[ra - 1];
    const K2 = at.transposeB ? B.shape[rb - 1] : B.shape[rb - 2];
    const N = at.transposeB ? B.shape[rb - 2] : B.shape[rb - 1];
    if (K !== K2) throw new Unsupported('inner dimensions differ');
    const outerA = A.shape.slice(0, -2), outerB = B.shape.slice(0, -2);
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = sizeOf(outer), batchA = sizeOf(outerA), batchB = sizeOf(outerB);
    // Same total size as the broadcast shape means only leading 1s differ: linear batch indices agree.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) throw new Unsupported('broadcast batch');
    const { bias, act } = fused ? fusedEpilogue(a, backend, at.activation, N) : NO_EPILOGUE;
    const shape = [...outer, M, N];
    const C = new Float32Array(batch * M * N); // zeroed: sgemm with beta 0 must not see stale NaNs
    addon.matMul(f32(backend, A), f32(backend, B), C, Int32Array.from([batchA, batchB, M, N, K, at.transposeA ? 1 : 0, at.transposeB ? 1 : 0]), bias, act, at.leakyreluAlpha ?? 0.2);
    return backend.makeTensorInfo(shape, 'float32', C);
  };
}

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolInfo(x: readonly number[], at: PoolAttrs): Conv2DInfo {
  if (x.length !== 4) throw new Unsupported('rank');
  return tf.backend_util.computePool2DInfo(x as [number, number, number, number], at.filterSize, at.strides, 1, at.pad, at.dimRoundingMode);
}

function makeMaxPool(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const x = inp(a, 'x', 'MaxPool');
    const c = poolInfo(x.shape, attrs<PoolAttrs>(a));
    const y = outputF32(sizeOf(c.outShape));
    addon.maxPool(f32(backend, x), y, poolGeometry(c));
    return backend.makeTensorInfo(c.outShape, 'float32', y);
  };
}

function makeMaxPoolGrad(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const dy = inp(a, 'dy', 'MaxPoolGrad'), x = inp(a, 'input', 'MaxPoolGrad');
    const c = poolInfo(x.shape, attrs<PoolAttrs>(a));
    if (c.outHeight !== dy.shape[1] || c.outWidth !== dy.shape[2]) throw new Unsupported('dy shape');
    const dx = new Float32Array(sizeOf(x.shape));
    addon.maxPoolGrad(f32(backend, dy), f32(backend, x), dx, poolGeometry(c));
    return backend.makeTensorInfo([...x.shape], 'float32', dx);
  };
}

/** The exact adjoint of bilinear resize (the cpu kernel ignores halfPixelCenters and fails on non-square inputs). */
function resizeBilinearGrad(a: Args): tf.TensorInfo {
  const backend = a.backend as CpuLikeBackend;
  const images = inp(a, 'images', 'ResizeBilinearGrad'), dy = inp(a, 'dy', 'ResizeBilinearGrad');
  const at = attrs<{ alignCorners: boolean; halfPixelCenters: boolean }>(a);
  const [N, H, W, C] = images.shape;
  const dx = new Float32Array(N * H * W * C);
  resizeBilinearGradInto(f32(backend, dy), dx, N, H, W, C, dy.shape[1], dy.shape[2], !!at.alignCorners, !!at.halfPixelCenters);
  return backend.makeTensorInfo([N, H, W, C], 'float32', dx);
}

/**
 * The adjoint of nearest-neighbour resize: the cpu forward kernel run on an index image gives every
 * output pixel's source pixel exactly as the forward pass picks it, then dy is scatter-added (the cpu
 * gradient kernel ignores halfPixelCenters and is wrong for batch > 1).
 */
function makeResizeNearestNeighborGrad(forward: tf.KernelFunc): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const images = inp(a, 'images', 'ResizeNearestNeighborGrad'), dy = inp(a, 'dy', 'ResizeNearestNeighborGrad');
    const at = attrs<{ alignCorners: boolean; halfPixelCenters: boolean }>(a);
    const [N, H, W, C] = images.shape;
    const [, OH, OW] = dy.shape;
    if (H * W >= 1 << 24) throw new HarmoniaError(`native ResizeNearestNeighborGrad: images of ${H}×${W} pixels are too large (max 2^24 pixels)`);
    const index = new Float32Array(H * W);
    for (let i = 0; i < H * W; i++) index[i] = i;
    const idx = backend.makeTensorInfo([1, H, W, 1], 'float32', index);
    const map = forward({ inputs: { images: idx }, backend: a.backend as tf.KernelBackend, attrs: { alignCorners: at.alignCorners, halfPixelCenters: at.halfPixelCenters, size: [OH, OW] } }) as tf.TensorInfo;
    try {
      const dx = new Float32Array(N * H * W * C);
      scatterNearestInto(f32(backend, dy), dx, f32(backend, map), N, H * W, C);
      return backend.makeTensorInfo([N, H, W, C], 'float32', dx);
    } finally {
      backend.disposeIntermediateTensorInfo(idx);
      backend.disposeIntermediateTensorInfo(map);
    }
  };
}

/** The attributes of FusedConv2D for the project's conv + bias + leaky-ReLU kernel (ops.ts conv2dBiasLeakyRelu). */
function convLeakyAsFused(a: Args): Args {
  const at = attrs<{ strides: [number, number]; pad: 'same' | 'valid'; alpha: number }>(a);
  return { ...a, attrs: { strides: at.strides, pad: at.pad, dataFormat: 'NHWC', dilations: [1, 1], activation: 'leakyrelu', leakyreluAlpha: at.alpha } as unknown as tf.NamedAttrMap };
}

/** The `global` generator's colour transform (ops.ts fusedColorApply): x [N,H,W,4], theta [N,3K+13] → [N,H,W,3]. */
function colorApplyShapes(a: Args, name: string): { x: tf.TensorInfo; theta: tf.TensorInfo; K: number; n: number; h: number; w: number } {
  const x = inp(a, 'x', name), theta = inp(a, 'theta', name);
  const { K } = attrs<{ K: number }>(a);
  if (x.shape.length !== 4 || x.shape[3] !== 4) throw new HarmoniaError(`native ${name}: x must be [N,H,W,4], got [${x.shape.join(', ')}]`);
  if (!Number.isInteger(K) || K < 1 || K > 32 || theta.shape.length !== 2 || theta.shape[0] !== x.shape[0] || theta.shape[1] !== 3 * K + 13) {
    throw new HarmoniaError(`native ${name}: theta must be [${x.shape[0]}, 3K + 13] with K in 1..32, got [${theta.shape.join(', ')}] and K ${K}`);
  }
  return { x, theta, K, n: x.shape[0], h: x.shape[1], w: x.shape[2] };
}

function makeColorApply(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const { x, theta, K, n, h, w } = colorApplyShapes(a, COLOR_APPLY_KERNEL);
    const y = outputF32(n * h * w * 3);
    addon.colorApply(f32(backend, x), f32(backend, theta), y, Int32Array.from([n, h * w, K]));
    return backend.makeTensorInfo([n, h, w, 3], 'float32', y);
  };
}

/** The gradient of the colour transform w.r.t. `wrt` (attribute): 'theta' [N,3K+13] or 'x' [N,H,W,4]. */
function makeColorApplyGrad(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const { x, theta, K, n, h, w } = colorApplyShapes(a, COLOR_APPLY_GRAD_KERNEL);
    const dy = inp(a, 'dy', COLOR_APPLY_GRAD_KERNEL);
    if (dy.shape.join() !== [n, h, w, 3].join()) throw new HarmoniaError(`native ${COLOR_APPLY_GRAD_KERNEL}: dy must be [${[n, h, w, 3].join(', ')}], got [${dy.shape.join(', ')}]`);
    const { wrt } = attrs<{ wrt: 'x' | 'theta' }>(a);
    const dims = Int32Array.from([n, h * w, K]);
    if (wrt === 'x') {
      const dx = outputF32(n * h * w * 4);
      addon.colorApplyGrad(f32(backend, dy), f32(backend, x), f32(backend, theta), null, dx, dims);
      return backend.makeTensorInfo([n, h, w, 4], 'float32', dx);
    }
    if (wrt !== 'theta') throw new HarmoniaError(`native ${COLOR_APPLY_GRAD_KERNEL}: wrt must be x or theta, got ${String(wrt)}`);
    const dt = new Float32Array(n * (3 * K + 13));
    addon.colorApplyGrad(f32(backend, dy), f32(backend, x), f32(backend, theta), dt, null, dims);
    return backend.makeTensorInfo([n, 3 * K + 13], 'float32', dt);
  };
}

/**
 * SplitV (the gradient of every concat) as row copies: the cpu kernel slices each part through an
 * index loop of about 1 µs per element (2.6 ms for the 16×268 features of the global generator's
 * pooling, per step). Outputs are fresh arrays, never views of the input.
 */
function splitV(a: Args): tf.TensorInfo[] {
  const backend = a.backend as CpuLikeBackend;
  const x = inp(a, 'x', 'SplitV');
  const at = attrs<{ numOrSizeSplits: number | number[]; axis: number | number[] }>(a);
  const axis = tf.util.parseAxisParam(at.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, at.numOrSizeSplits, axis);
  const src = f32(backend, x);
  const outer = sizeOf(x.shape.slice(0, axis)), inner = sizeOf(x.shape.slice(axis + 1)), row = x.shape[axis] * inner;
  let off = 0;
  return sizes.map((size) => {
    const len = size * inner;
    const out = new Float32Array(outer * len);
    if (len >= 64) {
      for (let o = 0; o < outer; o++) out.set(src.subarray(o * row + off, o * row + off + len), o * len);
    } else {
      // short runs (channels of NHWC images): a plain loop, no subarray per row
      for (let o = 0, i = 0; o < outer; o++) {
        const base = o * row + off;
        for (let k = 0; k < len; k++) out[i++] = src[base + k];
      }
    }
    off += len;
    const shape = [...x.shape];
    shape[axis] = size;
    return backend.makeTensorInfo(shape, 'float32', out);
  });
}

const ONE = new Float32Array([1]);

/** x broadcast to attrs.shape (ops.ts broadcastTo, the Sum/Mean gradients): the addon's strided multiply by 1, one pass. */
function makeBroadcastTo(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = a.backend as CpuLikeBackend;
    const x = inp(a, 'x', BROADCAST_KERNEL);
    const { shape } = attrs<{ shape: number[] }>(a);
    const plan = stridedPlan(x.shape, shape);
    if (!plan || plan.outShape.join() !== shape.join()) throw new HarmoniaError(`native ${BROADCAST_KERNEL}: [${x.shape.join(', ')}] does not broadcast to [${shape.join(', ')}]`);
    const out = outputF32(sizeOf(shape));
    if (plan.dims.length === 0) out[0] = f32(backend, x)[0] * 1; // one element
    else addon.binaryStrided(2, false, f32(backend, x), ONE, out, Int32Array.from(plan.dims), Int32Array.from(plan.aStrides), new Int32Array(plan.dims.length));
    return backend.makeTensorInfo([...shape], 'float32', out);
  };
}

/** Why each kernel is replaced on the native backend (shown by `harmonia info` and the docs). */
export const NATIVE_KERNELS: Readonly<Record<string, string>> = {
  Conv2D: 'oneDNN convolution (NHWC, blocked filter)',
  FusedConv2D: 'oneDNN convolution with bias and activation fused as post-ops',
  Conv2DBackpropInput: 'oneDNN convolution backward data (also conv2dTranspose forward)',
  Conv2DBackpropFilter: 'oneDNN convolution backward weights',
  BatchMatMul: 'oneDNN sgemm',
  _FusedMatMul: 'oneDNN sgemm + bias + activation',
  MaxPool: 'C++/OpenMP, cpu-backend semantics',
  MaxPoolGrad: 'C++/OpenMP, first maximum wins (cpu-backend semantics)',
  ResizeBilinearGrad: 'exact adjoint (the cpu kernel ignores halfPixelCenters, fails on non-square inputs)',
  ResizeNearestNeighborGrad: 'exact adjoint via an index image (the cpu kernel is wrong for batch > 1)',
  ...Object.fromEntries(ELEMENTWISE_KERNELS.map((k) => [k, 'C++/OpenMP elementwise (any broadcast) or reduction (one contiguous run of axes)'])),
  SplitV: 'row copies (the cpu kernel loops over every element)',
  [BROADCAST_KERNEL]: 'broadcast as one strided pass (the Sum and Mean gradients; tfjs multiplies by a ones array built in JS)',
  [CONV_LEAKY_KERNEL]: 'conv + bias + leaky ReLU as one oneDNN convolution (post-ops); lazy per-input gradients',
  [COLOR_APPLY_KERNEL]: 'the global generator\'s colour transform, one C++/OpenMP pass per pixel',
  [COLOR_APPLY_GRAD_KERNEL]: 'its gradient w.r.t. theta or the input, one pass',
};

/**
 * The native kernel functions, each wrapped so that an unsupported case (or a geometry oneDNN
 * rejects) runs `cpuKernel(name)` instead and is counted in nativeKernelStats().
 */
export function nativeKernelFuncs(addon: NativeAddon, cpuKernel: (name: string) => tf.KernelFunc): Record<string, tf.KernelFunc> {
  const impl: Record<string, Kernel> = {
    Conv2D: makeConv2D(addon, false),
    FusedConv2D: makeConv2D(addon, true),
    Conv2DBackpropInput: makeConv2DBackprop(addon, 'input'),
    Conv2DBackpropFilter: makeConv2DBackprop(addon, 'filter'),
    BatchMatMul: makeMatMul(addon, false),
    _FusedMatMul: makeMatMul(addon, true),
    MaxPool: makeMaxPool(addon),
    MaxPoolGrad: makeMaxPoolGrad(addon),
    ResizeBilinearGrad: resizeBilinearGrad,
    ResizeNearestNeighborGrad: makeResizeNearestNeighborGrad(cpuKernel('ResizeNearestNeighbor')),
    ...elementwiseKernels(addon),
  };
  const fusedConv = impl.FusedConv2D;
  impl[CONV_LEAKY_KERNEL] = (a) => fusedConv(convLeakyAsFused(a));
  impl.SplitV = splitV as unknown as Kernel;
  impl[BROADCAST_KERNEL] = makeBroadcastTo(addon);
  impl[COLOR_APPLY_KERNEL] = makeColorApply(addon);
  impl[COLOR_APPLY_GRAD_KERNEL] = makeColorApplyGrad(addon);
  const cpuFusedConv = cpuKernel('FusedConv2D');
  const ownFallbacks: Record<string, Kernel> = {
    ...OWN_KERNEL_FALLBACKS,
    [CONV_LEAKY_KERNEL]: (a) => cpuFusedConv(convLeakyAsFused(a) as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo,
    [BROADCAST_KERNEL]: (a) => {
      const backend = a.backend as CpuLikeBackend;
      const x = inp(a, 'x', BROADCAST_KERNEL);
      const { shape } = attrs<{ shape: number[] }>(a);
      const ones = cpuKernel('Fill')({ inputs: {}, backend: a.backend as tf.KernelBackend, attrs: { shape, value: 1, dtype: 'float32' } }) as tf.TensorInfo;
      try {
        return cpuKernel('Multiply')({ inputs: { a: x, b: ones }, backend: a.backend as tf.KernelBackend, attrs: {} }) as tf.TensorInfo;
      } finally {
        backend.disposeIntermediateTensorInfo(ones);
      }
    },
    [COLOR_APPLY_KERNEL]: () => { throw new HarmoniaError(`native ${COLOR_APPLY_KERNEL}: inputs the addon does not take (float32 only)`); },
    [COLOR_APPLY_GRAD_KERNEL]: () => { throw new HarmoniaError(`native ${COLOR_APPLY_GRAD_KERNEL}: inputs the addon does not take (float32 only)`); },
  };
  const out: Record<string, tf.KernelFunc> = {};
  for (const [name, fn] of Object.entries(impl)) {
    const own = ownFallbacks[name];
    const fallback = own ? (own as unknown as tf.KernelFunc) : cpuKernel(name);
    out[name] = ((a: Args) => {
      try {
        const r = fn(a);
        count(name, true);
        return r;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (err instanceof Unsupported || code === 'HARMONIA_NATIVE_DNNL') {
          count(name, false, (err as Error).message);
          return fallback(a as Parameters<tf.KernelFunc>[0]);
        }
        throw err;
      }
    }) as unknown as tf.KernelFunc;
  }
  return out;
}
