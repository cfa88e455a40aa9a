/**
 * Elementwise kernels and reductions of the 'native' backend. A GAN training step runs hundreds of
 * these (activation gradients, losses, Adam); the cpu backend's JS versions (with a generic
 * broadcasting index loop and a transpose before every reduction over leading axes) took about
 * half of the step. Covered natively: float32 operands with any broadcast (fast paths for equal
 * shapes, a scalar, a suffix such as a bias over NHWC; a strided loop otherwise); reductions over
 * one contiguous run of axes. Everything else (other dtypes, scattered reduction axes) runs the cpu kernel.
 */
import { tf } from '../tf.ts';
import { ACTIVATIONS, type NativeAddon } from './addon.ts';
import { HarmoniaError } from '../../errors.ts';
import { CLIP_GRAD_KERNEL, CURVE_GRAD_KERNEL, CURVE_KERNEL, LEAKY_RELU_GRAD_KERNEL, RELU_GRAD_KERNEL } from '../ops.ts';

export { CLIP_GRAD_KERNEL, CURVE_GRAD_KERNEL, CURVE_KERNEL, LEAKY_RELU_GRAD_KERNEL, RELU_GRAD_KERNEL };
import { Unsupported, attrs, cpuBackend, f32, inp, outputF32, sizeOf, u8, type Kernel } from './common.ts';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS, REDUCE_OPS, codesByName } from './op-codes.ts';

/** Op codes (BinOp / CmpOp / UnOp / ReduceOp): derived from op-codes.ts, which native/op_codes.h is generated from. */
const BINARY = codesByName(BINARY_OPS);
const COMPARE = codesByName(COMPARE_OPS);
const UNARY = codesByName(UNARY_OPS);
const REDUCE = codesByName(REDUCE_OPS);

export interface BroadcastPlan {
  outShape: number[];
}

/** Whether `small`, without its leading 1s, equals the trailing dimensions of `out`. Pure. */
export function isSuffixOf(small: readonly number[], out: readonly number[]): boolean {
  let i = 0;
  while (i < small.length && small[i] === 1) i++;
  const s = small.slice(i);
  if (s.length > out.length) return false;
  const tail = out.slice(out.length - s.length);
  return s.every((d, k) => d === tail[k]);
}

/** The broadcast output shape of two operand shapes, or null when they do not broadcast. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  try {
    return tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);
  } catch {
    return null;
  }
}

/**
 * The output shape of a binary op the addon covers: each operand has the output's size (leading 1s
 * aside), a single value, or is a suffix of the output. Null for other broadcasts. Pure.
 */
export function broadcastPlan(a: readonly number[], b: readonly number[]): BroadcastPlan | null {
  const out = broadcastShape(a, b);
  if (!out) return null;
  const n = sizeOf(out), na = sizeOf(a), nb = sizeOf(b);
  if (n === 0) return null;
  const fits = (x: readonly number[], nx: number) => nx === n || nx === 1 || isSuffixOf(x, out);
  if (!((na === n && fits(b, nb)) || (nb === n && fits(a, na)))) return null;
  return { outShape: out };
}

/** A broadcast binary op as collapsed output dims and per-operand strides (0 on broadcast dims). */
export interface StridedPlan { outShape: number[]; dims: number[]; aStrides: number[]; bStrides: number[] }

/**
 * Any valid broadcast, for the addon's strided loop: size-1 output dims are dropped and adjacent
 * dims merged where both operands stay contiguous across them (e.g. [4,1,1,256]·[4,8,8,256] becomes
 * dims [4,64,256], a strides [256,0,1], b strides [16384,256,1]). Null when the shapes do not broadcast. Pure.
 */
export function stridedPlan(a: readonly number[], b: readonly number[]): StridedPlan | null {
  const out = broadcastShape(a, b);
  if (!out || sizeOf(out) === 0) return null;
  const R = out.length;
  const strides = (shape: readonly number[]): number[] => {
    const p = [...Array(R - shape.length).fill(1), ...shape] as number[];
    const st = new Array<number>(R);
    let acc = 1;
    for (let d = R - 1; d >= 0; d--) {
      st[d] = p[d] === 1 ? 0 : acc;
      acc *= p[d];
    }
    return st;
  };
  const as = strides(a), bs = strides(b);
  const dims: number[] = [], aStrides: number[] = [], bStrides: number[] = [];
  for (let d = 0; d < R; d++) {
    if (out[d] === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && aStrides[k] === as[d] * out[d] && bStrides[k] === bs[d] * out[d]) {
      dims[k] *= out[d];
      aStrides[k] = as[d];
      bStrides[k] = bs[d];
    } else {
      dims.push(out[d]);
      aStrides.push(as[d]);
      bStrides.push(bs[d]);
    }
  }
  if (dims.length === 0) return { outShape: out, dims: [1], aStrides: [0], bStrides: [0] };
  return { outShape: out, dims, aStrides, bStrides };
}

/** A reduction as [outer, reduced, inner] sizes when the reduced axes form one contiguous run (size-1 axes ignored). Pure. */
export function reductionPlan(shape: readonly number[], axes: readonly number[]): { outer: number; r: number; inner: number } | null {
  const set = new Set(axes);
  const dims = shape.map((d, i) => ({ d, red: set.has(i) })).filter((x) => x.d !== 1);
  const first = dims.findIndex((x) => x.red);
  if (first < 0) return { outer: sizeOf(shape), r: 1, inner: 1 };
  let last = first;
  while (last + 1 < dims.length && dims[last + 1].red) last++;
  if (dims.slice(last + 1).some((x) => x.red)) return null;
  const prod = (xs: { d: number }[]) => xs.reduce((p, x) => p * x.d, 1);
  return { outer: prod(dims.slice(0, first)), r: prod(dims.slice(first, last + 1)), inner: prod(dims.slice(last + 1)) };
}

function binary(addon: NativeAddon, op: number): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const A = inp(a, 'a', 'binary'), B = inp(a, 'b', 'binary');
    const plan = broadcastPlan(A.shape, B.shape);
    if (plan) {
      const out = outputF32(sizeOf(plan.outShape));
      addon.binary(op, f32(backend, A), f32(backend, B), out);
      return backend.makeTensorInfo(plan.outShape, 'float32', out);
    }
    const sp = stridedPlan(A.shape, B.shape);
    if (!sp || sp.dims.length > 8) throw new Unsupported(`broadcast ${JSON.stringify(A.shape)} with ${JSON.stringify(B.shape)}`);
    const out = outputF32(sizeOf(sp.outShape));
    addon.binaryStrided(op, false, f32(backend, A), f32(backend, B), out, Int32Array.from(sp.dims), Int32Array.from(sp.aStrides), Int32Array.from(sp.bStrides));
    return backend.makeTensorInfo(sp.outShape, 'float32', out);
  };
}

function compare(addon: NativeAddon, op: number): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const A = inp(a, 'a', 'compare'), B = inp(a, 'b', 'compare');
    const plan = broadcastPlan(A.shape, B.shape);
    if (plan) {
      const out = new Uint8Array(sizeOf(plan.outShape));
      addon.compare(op, f32(backend, A), f32(backend, B), out);
      return backend.makeTensorInfo(plan.outShape, 'bool', out);
    }
    const sp = stridedPlan(A.shape, B.shape);
    if (!sp || sp.dims.length > 8) throw new Unsupported(`broadcast ${JSON.stringify(A.shape)} with ${JSON.stringify(B.shape)}`);
    const out = new Uint8Array(sizeOf(sp.outShape));
    addon.binaryStrided(op, true, f32(backend, A), f32(backend, B), out, Int32Array.from(sp.dims), Int32Array.from(sp.aStrides), Int32Array.from(sp.bStrides));
    return backend.makeTensorInfo(sp.outShape, 'bool', out);
  };
}

function unary(addon: NativeAddon, op: number, name: string): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const x = inp(a, 'x', name);
    const alpha = name === 'LeakyRelu' || name === 'Step' ? Number(attrs<{ alpha: number }>(a).alpha) : 0;
    const y = outputF32(sizeOf(x.shape));
    addon.unary(op, f32(backend, x), y, alpha);
    return backend.makeTensorInfo([...x.shape], 'float32', y);
  };
}


function activationGrad(addon: NativeAddon, act: 'relu' | 'leakyrelu'): Kernel {
  const name = act === 'relu' ? RELU_GRAD_KERNEL : LEAKY_RELU_GRAD_KERNEL;
  return (a) => {
    const backend = cpuBackend(a);
    const dy = inp(a, 'dy', name), x = inp(a, 'x', name);
    if (dy.shape.join() !== x.shape.join()) throw new Unsupported('dy and x shapes differ');
    const alpha = act === 'leakyrelu' ? Number(attrs<{ alpha: number }>(a).alpha) : 0;
    const out = outputF32(sizeOf(x.shape));
    addon.activationGrad(ACTIVATIONS[act], alpha, f32(backend, dy), f32(backend, x), out);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };
}

function clip(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const x = inp(a, 'x', 'ClipByValue');
    const at = attrs<{ clipValueMin: number; clipValueMax: number }>(a);
    const y = outputF32(sizeOf(x.shape));
    addon.clip(f32(backend, x), y, at.clipValueMin, at.clipValueMax);
    return backend.makeTensorInfo([...x.shape], 'float32', y);
  };
}

/** The kernel's inputs as a list (AddN and Concat take an array of tensors). */
function inputList(a: { inputs: unknown }): tf.TensorInfo[] {
  return Array.isArray(a.inputs) ? (a.inputs as tf.TensorInfo[]) : Object.values(a.inputs as Record<string, tf.TensorInfo>);
}

function addN(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const xs = inputList(a);
    if (xs.length < 2) throw new Unsupported('fewer than 2 inputs');
    const shape = xs[0].shape;
    if (xs.some((x) => x.shape.join() !== shape.join())) throw new Unsupported('shapes differ');
    const out = outputF32(sizeOf(shape));
    addon.addN(xs.map((x) => f32(backend, x)), out);
    return backend.makeTensorInfo([...shape], 'float32', out);
  };
}

function concat(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const xs = inputList(a);
    if (xs.length < 2) throw new Unsupported('fewer than 2 inputs');
    const rank = xs[0].shape.length;
    if (rank === 0 || xs.some((x) => x.shape.length !== rank || sizeOf(x.shape) === 0)) throw new Unsupported('ranks differ or an input is empty');
    const axis = tf.util.parseAxisParam(attrs<{ axis: number | number[] }>(a).axis, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((x) => x.shape), axis);
    const outer = sizeOf(xs[0].shape.slice(0, axis));
    const data = xs.map((x) => f32(backend, x));
    const out = outputF32(sizeOf(outShape));
    addon.concat(data, Int32Array.from(xs.map((x) => sizeOf(x.shape.slice(axis)))), outer, out);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

function clipGrad(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const dy = inp(a, 'dy', CLIP_GRAD_KERNEL), x = inp(a, 'x', CLIP_GRAD_KERNEL);
    if (dy.shape.join() !== x.shape.join()) throw new Unsupported('dy and x shapes differ');
    const at = attrs<{ clipValueMin: number; clipValueMax: number }>(a);
    const out = outputF32(sizeOf(x.shape));
    addon.clipGrad(f32(backend, dy), f32(backend, x), out, at.clipValueMin, at.clipValueMax);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };
}

function curveDims(x: tf.TensorInfo, K: number): Int32Array {
  const c = x.shape[x.shape.length - 1];
  return Int32Array.from([x.shape[0], sizeOf(x.shape) / (x.shape[0] * c), c, K]);
}

function curve(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const x = inp(a, 'x', CURVE_KERNEL), s = inp(a, 'slopes', CURVE_KERNEL);
    const K = Number(attrs<{ K: number }>(a).K);
    const y = outputF32(sizeOf(x.shape));
    addon.curve(f32(backend, x), f32(backend, s), y, curveDims(x, K));
    return backend.makeTensorInfo([...x.shape], 'float32', y);
  };
}

/** Returns [dx, dslopes] (a kernel with two outputs). */
function curveGrad(addon: NativeAddon): (a: Parameters<Kernel>[0]) => tf.TensorInfo[] {
  return (a) => {
    const backend = cpuBackend(a);
    const dy = inp(a, 'dy', CURVE_GRAD_KERNEL), x = inp(a, 'x', CURVE_GRAD_KERNEL), s = inp(a, 'slopes', CURVE_GRAD_KERNEL);
    const K = Number(attrs<{ K: number }>(a).K);
    const dx = outputF32(sizeOf(x.shape)), ds = new Float32Array(sizeOf(s.shape));
    addon.curveGrad(f32(backend, dy), f32(backend, x), f32(backend, s), dx, ds, curveDims(x, K));
    return [backend.makeTensorInfo([...x.shape], 'float32', dx), backend.makeTensorInfo([...s.shape], 'float32', ds)];
  };
}

/** A gradient kernel of the project's own, in JavaScript: out[i] = f(dy[i], x[i], attrs). */
function gradInJs(name: string, f: (dy: number, x: number, at: Record<string, number>) => number): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const dy = inp(a, 'dy', name), x = inp(a, 'x', name);
    if (dy.shape.join() !== x.shape.join()) throw new Error(`${name}: dy shape [${dy.shape}] differs from x shape [${x.shape}]`);
    const d = backend.data.get(dy.dataId).values as ArrayLike<number>, v = backend.data.get(x.dataId).values as ArrayLike<number>;
    const at = attrs<Record<string, number>>(a);
    const out = new Float32Array(d.length);
    for (let i = 0; i < out.length; i++) out[i] = f(d[i], v[i], at);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };
}

function onlyNative(name: string): Kernel {
  return () => {
    throw new HarmoniaError(`native ${name}: inputs the addon does not take (float32 only)`);
  };
}

/**
 * What the project's own kernels fall back to when the addon does not take a call (the cpu backend
 * has no kernel of these names): the same values in JavaScript, or, for the curves (whose callers
 * only use them on float32 inputs), a clear error.
 */
export const OWN_KERNEL_FALLBACKS: Readonly<Record<string, Kernel>> = {
  [RELU_GRAD_KERNEL]: gradInJs(RELU_GRAD_KERNEL, (d, v) => (Number.isNaN(v) ? NaN : d * (v > 0 ? 1 : 0))),
  [LEAKY_RELU_GRAD_KERNEL]: gradInJs(LEAKY_RELU_GRAD_KERNEL, (d, v, at) => (v > 0 ? d : Math.fround(d * Math.fround(at.alpha)))),
  [CLIP_GRAD_KERNEL]: gradInJs(CLIP_GRAD_KERNEL, (d, v, at) => (v >= at.clipValueMin && v <= at.clipValueMax ? d : 0)),
  [CURVE_KERNEL]: onlyNative(CURVE_KERNEL),
  [CURVE_GRAD_KERNEL]: onlyNative(CURVE_GRAD_KERNEL),
};

function select(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const c = inp(a, 'condition', 'Select'), t = inp(a, 't', 'Select'), e = inp(a, 'e', 'Select');
    if (t.shape.join() !== e.shape.join()) throw new Unsupported('t and e shapes differ');
    const n = sizeOf(t.shape), nc = sizeOf(c.shape);
    const perRow = c.shape.length === 1 && t.shape.length > 1 && c.shape[0] === t.shape[0];
    if (!(nc === n && c.shape.join() === t.shape.join()) && !perRow) throw new Unsupported('condition shape');
    const out = outputF32(n);
    addon.select(u8(backend, c), f32(backend, t), f32(backend, e), out);
    return backend.makeTensorInfo([...t.shape], 'float32', out);
  };
}

function reduce(addon: NativeAddon, name: string): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const x = inp(a, 'x', name);
    const at = attrs<{ axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean }>(a);
    if (sizeOf(x.shape) === 0) throw new Unsupported('empty');
    const axes = tf.util.parseAxisParam((at.axis ?? at.reductionIndices) as number | number[], x.shape);
    const plan = reductionPlan(x.shape, axes);
    if (!plan) throw new Unsupported('non-contiguous axes');
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = at.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const data = f32(backend, x);
    const y = outputF32(plan.outer * plan.inner);
    addon.reduce(REDUCE[name], data, y, plan.outer, plan.r, plan.inner);
    return backend.makeTensorInfo(shape, 'float32', y);
  };
}

/** Names of the elementwise kernels the native backend replaces. */
export const ELEMENTWISE_KERNELS: readonly string[] = [
  ...Object.keys(BINARY), ...Object.keys(COMPARE), ...Object.keys(UNARY), 'Select', 'ClipByValue', 'AddN', 'Concat', ...Object.keys(REDUCE), RELU_GRAD_KERNEL, LEAKY_RELU_GRAD_KERNEL, CLIP_GRAD_KERNEL, CURVE_KERNEL, CURVE_GRAD_KERNEL,
];

export function elementwiseKernels(addon: NativeAddon): Record<string, Kernel> {
  const out: Record<string, Kernel> = {};
  for (const [name, op] of Object.entries(BINARY)) out[name] = binary(addon, op);
  for (const [name, op] of Object.entries(COMPARE)) out[name] = compare(addon, op);
  for (const [name, op] of Object.entries(UNARY)) out[name] = unary(addon, op, name);
  out.Select = select(addon);
  out.ClipByValue = clip(addon);
  out.AddN = addN(addon);
  out.Concat = concat(addon);
  out[RELU_GRAD_KERNEL] = activationGrad(addon, 'relu');
  out[LEAKY_RELU_GRAD_KERNEL] = activationGrad(addon, 'leakyrelu');
  out[CLIP_GRAD_KERNEL] = clipGrad(addon);
  out[CURVE_KERNEL] = curve(addon);
  out[CURVE_GRAD_KERNEL] = curveGrad(addon) as unknown as Kernel;
  for (const name of Object.keys(REDUCE)) out[name] = reduce(addon, name);
  return out;
}
