/**
 * Plumbing shared by the native backend's kernels: the slice of MathBackendCPU they use, typed
 * kernel arguments, and `Unsupported`, which a kernel throws to hand a call to the cpu kernel.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';

/** The slice of tfjs-backend-cpu's MathBackendCPU the kernels use (tensor data in JS typed arrays). */
export interface CpuLikeBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Uint8Array): tf.TensorInfo;
  disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
}

export interface Args {
  inputs: tf.NamedTensorInfoMap;
  backend: object;
  attrs?: tf.NamedAttrMap;
}
export type Kernel = (args: Args) => tf.TensorInfo;

/** Thrown inside a kernel to hand the call to the cpu kernel (the message says why). */
export class Unsupported extends Error {}

export function cpuBackend(a: Args): CpuLikeBackend {
  return a.backend as CpuLikeBackend;
}

/** The float32 data of a tensor (Unsupported for other dtypes). */
export function f32(backend: CpuLikeBackend, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Unsupported(`dtype ${t.dtype}`);
  const v = backend.data.get(t.dataId).values;
  if (!(v instanceof Float32Array)) throw new Unsupported('data not a Float32Array');
  return v;
}

/** The data of a bool tensor (Unsupported otherwise). */
export function u8(backend: CpuLikeBackend, t: tf.TensorInfo): Uint8Array {
  if (t.dtype !== 'bool') throw new Unsupported(`dtype ${t.dtype}`);
  const v = backend.data.get(t.dataId).values;
  if (!(v instanceof Uint8Array)) throw new Unsupported('data not a Uint8Array');
  return v;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Attributes of a kernel call as a typed record (tfjs passes them untyped). */
export function attrs<T>(a: Args): T {
  return (a.attrs ?? {}) as unknown as T;
}

/** The named input of a kernel call, or a HarmoniaError naming the kernel. */
export function inp(a: Args, name: string, kernel: string): tf.TensorInfo {
  const t = a.inputs[name];
  if (!t) throw new HarmoniaError(`native ${kernel}: missing input "${name}"`);
  return t;
}

/**
 * A Float32Array for a kernel output that the addon overwrites completely: large ones skip the
 * zero fill (Buffer.allocUnsafeSlow: a fresh, unpooled ArrayBuffer at offset 0), a memory pass
 * saved on every elementwise op. Small ones are ordinary arrays.
 */
export function outputF32(n: number): Float32Array {
  if (n < 1024) return new Float32Array(n);
  const b = Buffer.allocUnsafeSlow(n * 4);
  return new Float32Array(b.buffer, b.byteOffset, n);
}
