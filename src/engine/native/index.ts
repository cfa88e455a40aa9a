/**
 * The 'native' TensorFlow.js backend: tfjs-backend-cpu's MathBackendCPU (tensor data in JavaScript
 * typed arrays) with every cpu kernel registered under the name 'native', and the heavy ones
 * (convolutions and their gradients, matmul, max pooling) replaced by oneDNN calls through the
 * optional addon (src/engine/native/addon.ts). The model code does not know which backend runs.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { loadNativeAddon, type NativeAddon } from './addon.ts';
import { noteExposed, noteRegistered, recycle } from './common.ts';
import { NATIVE_KERNELS, nativeKernelFuncs } from './kernels.ts';
import { useFusedActivationGradients } from '../ops.ts';
import { env } from '../../config/index.ts';

export { loadNativeAddon, nativeAddonPath, nativeThreads, type NativeAddon, type AddonLoad } from './addon.ts';
export { pooledOutputBytes } from './common.ts';
export { NATIVE_KERNELS, nativeKernelStats, resetNativeKernelStats, convGeometry, poolGeometry, type KernelStats } from './kernels.ts';

export const NATIVE_BACKEND = 'native';

type DataId = Parameters<MathBackendCPU['disposeData']>[0];
type Values = Parameters<MathBackendCPU['write']>[0];

/**
 * MathBackendCPU without the "install tfjs-node" notice it prints on first use in Node, and with
 * the kernels' output buffers recycled (common.ts: a disposed tensor's buffer feeds the next output
 * of its length, unless its values were read out or shared with another tensor).
 */
class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }
  override write(values: Values, shape: number[], dtype: tf.DataType): DataId {
    noteRegistered(values);
    return super.write(values, shape, dtype);
  }
  override move(dataId: DataId, values: Values, shape: number[], dtype: tf.DataType, refCount: number): void {
    noteRegistered(values);
    super.move(dataId, values, shape, dtype, refCount);
  }
  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    noteExposed(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }
  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const r = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) recycle(values);
    return r;
  }
}

let registered: NativeAddon | undefined;

/**
 * Registers the 'native' backend (idempotent) and returns the names of the kernels it runs natively.
 * Throws a HarmoniaError with the reason when the addon is not built or does not load.
 */
export function registerNativeBackend(): string[] {
  if (registered) return Object.keys(NATIVE_KERNELS);
  const load = loadNativeAddon();
  if (!load.ok) throw new HarmoniaError(load.reason);
  const cpuKernels = tf.getKernelsForBackend('cpu');
  if (cpuKernels.length === 0) throw new HarmoniaError('native backend: the tfjs cpu kernels are not registered');
  const cpuKernel = (name: string): tf.KernelFunc => {
    const k = tf.getKernel(name, 'cpu');
    if (!k) throw new HarmoniaError(`native backend: no cpu kernel "${name}" to fall back to`);
    return k.kernelFunc;
  };
  const native = nativeKernelFuncs(load.addon, cpuKernel);
  for (const k of cpuKernels) {
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND)) continue;
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: native[k.kernelName] ?? k.kernelFunc });
  }
  for (const [name, fn] of Object.entries(native)) {
    if (!tf.getKernel(name, NATIVE_BACKEND)) tf.registerKernel({ kernelName: name, backendName: NATIVE_BACKEND, kernelFunc: fn });
  }
  // Priority below cpu's: tfjs never picks 'native' on its own; initEngine selects it explicitly.
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  useFusedActivationGradients();
  // Tensor buffers from glibc's heap, reused after V8 frees them, instead of a fresh mapping (and a
  // page fault per 4 KiB) per tensor: HARMONIA_NATIVE_MALLOC=default leaves the allocator alone.
  if (env.nativeMalloc !== 'default') load.addon.tuneAllocator(32 * 1024 * 1024, 512 * 1024 * 1024);
  registered = load.addon;
  return Object.keys(NATIVE_KERNELS);
}

/** The loaded addon once registerNativeBackend has succeeded (for benchmarks and tests). */
export function nativeAddon(): NativeAddon | undefined {
  return registered;
}
