/**
 * Plumbing shared by the native backend's kernels: the slice of MathBackendCPU they use, typed
 * kernel arguments, and `Unsupported`, which a kernel throws to hand a call to the cpu kernel.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { env } from '../../config/index.ts';

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
 * Recycled kernel outputs. Tensor data lives in ArrayBuffers, which V8 frees only when it collects
 * them, and every ~64 MB of new ArrayBuffer memory starts a major GC: a training step allocating
 * hundreds of MB ran 8–9 of them, each with a marker thread competing with the compute threads,
 * and every fresh buffer cost a page fault per 4 KiB. So the native backend hands a disposed
 * tensor's buffer to the next output of the same length instead.
 *
 * Only buffers this module allocated are recycled, and only while nothing else can see them: a
 * buffer is dropped from the pool for good when its values are read out (readSync/read: the
 * caller may keep the array, as dataSync() returns it), or when a second tensor registers the
 * same buffer or a view of it (a cpu kernel's subarray slice). Outputs from the pool hold stale
 * values: they are only for kernels that overwrite every element (the addon's do).
 */
const free = new Map<number, Float32Array[]>();
/** Buffers allocated here and not exposed, each with its one whole-buffer array. */
const owned = new WeakMap<ArrayBufferLike, Float32Array>();
/** Arrays handed out by outputF32 and not yet registered as a tensor's data. */
const fresh = new WeakSet<Float32Array>();
let pooledBytes = 0;
const POOL_LIMIT = env.nativePoolMb * 1024 * 1024;

/**
 * A Float32Array for a kernel output that the addon overwrites completely: a recycled buffer of
 * this length when the pool has one, else a fresh one without the zero fill (Buffer.allocUnsafeSlow:
 * unpooled, offset 0). Small ones are ordinary arrays.
 */
export function outputF32(n: number): Float32Array {
  if (n < 1024) return new Float32Array(n);
  const recycled = free.get(n)?.pop();
  let out: Float32Array;
  if (recycled) {
    pooledBytes -= n * 4;
    out = recycled;
  } else {
    const b = Buffer.allocUnsafeSlow(n * 4);
    out = new Float32Array(b.buffer, b.byteOffset, n);
    owned.set(out.buffer, out);
  }
  fresh.add(out);
  return out;
}

/** Registering `values` as a tensor's data: a second registration of a pooled buffer (or a view of one) takes it out of the pool for good. */
export function noteRegistered(values: unknown): void {
  if (!ArrayBuffer.isView(values)) return;
  const own = owned.get(values.buffer);
  if (!own) return;
  if (values === own && fresh.has(own)) fresh.delete(own);
  else owned.delete(values.buffer);
}

/** The values were handed to a caller (readSync/read): never recycle them. */
export function noteExposed(values: unknown): void {
  if (ArrayBuffer.isView(values)) owned.delete(values.buffer);
}

/** A tensor's data was deleted: its buffer goes back to the pool if it is ours and unseen. */
export function recycle(values: unknown): void {
  if (!(values instanceof Float32Array)) return;
  if (owned.get(values.buffer) !== values || fresh.has(values)) return;
  const bytes = values.length * 4;
  if (bytes > POOL_LIMIT) {
    owned.delete(values.buffer);
    return;
  }
  // make room by dropping buffers of the lengths returned least recently (a finished workload's
  // shapes), never more than needed; dropped ones are ordinary garbage for V8 to collect
  for (const [len, list] of free) {
    if (pooledBytes + bytes <= POOL_LIMIT) break;
    if (len === values.length) continue;
    while (list.length && pooledBytes + bytes > POOL_LIMIT) {
      owned.delete(list.pop()!.buffer);
      pooledBytes -= len * 4;
    }
    if (!list.length) free.delete(len);
  }
  if (pooledBytes + bytes > POOL_LIMIT) {
    owned.delete(values.buffer);
    return;
  }
  const list = free.get(values.length) ?? [];
  free.delete(values.length); // re-insert: the Map's order is the order of last return
  free.set(values.length, list);
  list.push(values);
  pooledBytes += bytes;
}

/** Bytes held by the pool now (for tests and benchmarks). */
export function pooledOutputBytes(): number {
  return pooledBytes;
}
