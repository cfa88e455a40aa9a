/**
 * The project's wasm kernels: missing, wrong or slow in tfjs-backend-wasm 4.22 (see docs/ENGINE.md).
 * Registered for the 'wasm' backend only, so the same model code runs unchanged on tfjs-node and cpu.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import type { KernelImpl } from './wasm.ts';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInput } from './conv2d-backprop-input.ts';
import { maxPoolGrad } from './max-pool-grad.ts';
import { makeBatchMatMul } from './batch-mat-mul.ts';
import { makeResizeBilinearGrad } from './resize-bilinear-grad.ts';
import { resizeNearestNeighborGrad } from './resize-nearest-neighbor-grad.ts';

/** Why each kernel is replaced (shown by docs and `harmonia info`). */
export const WASM_KERNELS: Readonly<Record<string, string>> = {
  Conv2DBackpropFilter: 'missing on stock wasm; one XNNPACK Conv2D (batch/channel swap, dy as dilated filter)',
  Conv2DBackpropInput: 'stock is a scalar loop; sub-pixel split into one stride-1 XNNPACK Conv2D',
  MaxPoolGrad: 'stock starts the running max at FLT_MIN: wrong when a window max is <= 0',
  BatchMatMul: 'stock transposed matmuls run a scalar loop; explicit transpose + XNNPACK',
  ResizeBilinearGrad: 'stock ignores halfPixelCenters (JS adjoint then; stock otherwise)',
  ResizeNearestNeighborGrad: 'stock ignores halfPixelCenters',
};

const stock = new Map<string, tf.KernelConfig | undefined>();
let registered = false;

function replace(name: string, make: (orig: tf.KernelConfig | undefined) => KernelImpl): void {
  const orig = tf.getKernel(name, 'wasm');
  stock.set(name, orig ? { ...orig } : undefined);
  if (orig) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: make(orig) as unknown as tf.KernelFunc,
    // Keep the stock setup so the stock function (used by the wrapper or the benchmark) stays callable
    // whether the backend initialises before or after this registration.
    ...(orig?.setupFunc ? { setupFunc: orig.setupFunc } : {}),
  });
}

/**
 * Registers the project's wasm kernels. Idempotent. Call after '@tensorflow/tfjs-backend-wasm' has been
 * imported (its kernels must exist to be wrapped); works before or after tf.setBackend('wasm').
 */
export function registerWasmKernels(): string[] {
  if (registered) return Object.keys(WASM_KERNELS);
  const bmm = tf.getKernel('BatchMatMul', 'wasm');
  if (!bmm) throw new HarmoniaError('registerWasmKernels: @tensorflow/tfjs-backend-wasm is not loaded (import it first)');
  replace('Conv2DBackpropFilter', () => conv2DBackpropFilter);
  replace('Conv2DBackpropInput', () => conv2DBackpropInput);
  replace('MaxPoolGrad', () => maxPoolGrad);
  replace('BatchMatMul', (orig) => makeBatchMatMul((orig as tf.KernelConfig).kernelFunc));
  replace('ResizeBilinearGrad', (orig) => makeResizeBilinearGrad((orig as tf.KernelConfig).kernelFunc));
  replace('ResizeNearestNeighborGrad', () => resizeNearestNeighborGrad);
  registered = true;
  return Object.keys(WASM_KERNELS);
}

/** Whether registerWasmKernels has run in this process. */
export function wasmKernelsRegistered(): boolean {
  return registered;
}

/**
 * The stock tfjs-backend-wasm kernel function a registered kernel replaced (undefined when stock had
 * none, e.g. Conv2DBackpropFilter). For benchmarks and comparisons only.
 */
export function stockWasmKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name)?.kernelFunc;
}
