/**
 * Elementwise kernels and reductions of the 'native' backend. A GAN training step runs hundreds of
 * these (activation gradients, losses, Adam); the cpu backend's JS versions (with a generic
 * broadcasting index loop and a transpose before every reduction over leading axes) took about
 * half of the step. Covered natively: float32 operands of equal shape, a scalar, or a suffix
 * broadcast (a bias over NHWC); reductions over one contiguous run of axes. Everything else runs
 * the cpu kernel.
 */
import { tf } from '../tf.ts';
import type { NativeAddon } from './addon.ts';
import { Unsupported, attrs, cpuBackend, f32, inp, sizeOf, u8, type Kernel } from './common.ts';

/** Op codes (must match BinOp / CmpOp / UnOp in native/harmonia_native.cc). */
const BINARY: Readonly<Record<string, number>> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
const COMPARE: Readonly<Record<string, number>> = { Greater: 0, GreaterEqual: 1, Less: 2, LessEqual: 3, Equal: 4, NotEqual: 5 };
const UNARY: Readonly<Record<string, number>> = {
  Relu: 0, LeakyRelu: 1, Step: 2, Sigmoid: 3, Abs: 4, Sqrt: 5, Square: 6, Neg: 7, Exp: 8, Log: 9, Log1p: 10, Tanh: 11,
  Rsqrt: 13, Reciprocal: 14, Elu: 16, Relu6: 17,
};
const REDUCE: Readonly<Record<string, number>> = { Sum: 0, Mean: 1, Max: 2, Min: 3 };

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

/**
 * The output shape of a binary op the addon covers: each operand has the output's size (leading 1s
 * aside), a single value, or is a suffix of the output. Null for other broadcasts. Pure.
 */
export function broadcastPlan(a: readonly number[], b: readonly number[]): BroadcastPlan | null {
  let out: number[];
  try {
    out = tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);
  } catch {
    return null;
  }
  const n = sizeOf(out), na = sizeOf(a), nb = sizeOf(b);
  if (n === 0) return null;
  const fits = (x: readonly number[], nx: number) => nx === n || nx === 1 || isSuffixOf(x, out);
  if (!((na === n && fits(b, nb)) || (nb === n && fits(a, na)))) return null;
  return { outShape: out };
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
    if (!plan) throw new Unsupported(`broadcast ${JSON.stringify(A.shape)} with ${JSON.stringify(B.shape)}`);
    const out = new Float32Array(sizeOf(plan.outShape));
    addon.binary(op, f32(backend, A), f32(backend, B), out);
    return backend.makeTensorInfo(plan.outShape, 'float32', out);
  };
}

function compare(addon: NativeAddon, op: number): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const A = inp(a, 'a', 'compare'), B = inp(a, 'b', 'compare');
    const plan = broadcastPlan(A.shape, B.shape);
    if (!plan) throw new Unsupported(`broadcast ${JSON.stringify(A.shape)} with ${JSON.stringify(B.shape)}`);
    const out = new Uint8Array(sizeOf(plan.outShape));
    addon.compare(op, f32(backend, A), f32(backend, B), out);
    return backend.makeTensorInfo(plan.outShape, 'bool', out);
  };
}

function unary(addon: NativeAddon, op: number, name: string): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const x = inp(a, 'x', name);
    const alpha = name === 'LeakyRelu' || name === 'Step' ? Number(attrs<{ alpha: number }>(a).alpha) : 0;
    const y = new Float32Array(sizeOf(x.shape));
    addon.unary(op, f32(backend, x), y, alpha);
    return backend.makeTensorInfo([...x.shape], 'float32', y);
  };
}

function select(addon: NativeAddon): Kernel {
  return (a) => {
    const backend = cpuBackend(a);
    const c = inp(a, 'condition', 'Select'), t = inp(a, 't', 'Select'), e = inp(a, 'e', 'Select');
    if (t.shape.join() !== e.shape.join()) throw new Unsupported('t and e shapes differ');
    const n = sizeOf(t.shape), nc = sizeOf(c.shape);
    const perRow = c.shape.length === 1 && t.shape.length > 1 && c.shape[0] === t.shape[0];
    if (!(nc === n && c.shape.join() === t.shape.join()) && !perRow) throw new Unsupported('condition shape');
    const out = new Float32Array(n);
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
    const y = new Float32Array(plan.outer * plan.inner);
    addon.reduce(REDUCE[name], data, y, plan.outer, plan.r, plan.inner);
    return backend.makeTensorInfo(shape, 'float32', y);
  };
}

/** Names of the elementwise kernels the native backend replaces. */
export const ELEMENTWISE_KERNELS: readonly string[] = [
  ...Object.keys(BINARY), ...Object.keys(COMPARE), ...Object.keys(UNARY), 'Select', ...Object.keys(REDUCE),
];

export function elementwiseKernels(addon: NativeAddon): Record<string, Kernel> {
  const out: Record<string, Kernel> = {};
  for (const [name, op] of Object.entries(BINARY)) out[name] = binary(addon, op);
  for (const [name, op] of Object.entries(COMPARE)) out[name] = compare(addon, op);
  for (const [name, op] of Object.entries(UNARY)) out[name] = unary(addon, op, name);
  out.Select = select(addon);
  for (const name of Object.keys(REDUCE)) out[name] = reduce(addon, name);
  return out;
}
