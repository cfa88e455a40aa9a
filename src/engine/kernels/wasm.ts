/**
 * Shared plumbing for the project's wasm kernels: the slice of the wasm backend they use, typed
 * kernel arguments, and a scratch list that frees every intermediate a composite kernel creates.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';

/** The part of tfjs-backend-wasm's BackendWasm the kernels use (tensor data lives on the wasm heap). */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: object;
  attrs?: tf.NamedAttrMap;
}

export type KernelImpl = (args: KernelArgs) => tf.TensorInfo;

/** The attributes every Conv2D-family kernel gets. */
export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The backend of a kernel call, typed. */
export function wasmBackend(args: KernelArgs): WasmBackend {
  return args.backend as WasmBackend;
}

/** A float32 view of a tensor on the wasm heap. Take views only after the last allocation (the heap may grow). */
export function heapF32(backend: WasmBackend, t: tf.TensorInfo, kernel: string): Float32Array {
  const a = backend.typedArrayFromHeap(t);
  if (!(a instanceof Float32Array)) throw new HarmoniaError(`${kernel}: expected a float32 tensor, got ${t.dtype}`);
  return a;
}

/** The named input of a kernel call, or a HarmoniaError naming the kernel. */
export function input(args: KernelArgs, name: string, kernel: string): tf.TensorInfo {
  const t = args.inputs[name];
  if (!t) throw new HarmoniaError(`${kernel}: missing input "${name}"`);
  return t;
}

/** Attributes of a kernel call as a typed record (tfjs passes them untyped). */
export function attrsOf<T>(args: KernelArgs): T {
  return (args.attrs ?? {}) as unknown as T;
}

/**
 * Runs wasm kernels and remembers every tensor they return, so a composite kernel can free all
 * intermediates (backend.disposeData) except its result, also when it throws half way.
 */
export class Scratch {
  private readonly tmp: tf.TensorInfo[] = [];
  constructor(
    readonly backend: WasmBackend,
    private readonly kernel: string,
  ) {}

  /** Calls the registered wasm kernel `name` (or `impl` when given) and tracks its output. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}, impl?: tf.KernelFunc): tf.TensorInfo {
    const fn = impl ?? tf.getKernel(name, 'wasm')?.kernelFunc;
    if (!fn) throw new HarmoniaError(`${this.kernel}: wasm kernel "${name}" is not registered`);
    const out = fn({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap });
    if (Array.isArray(out)) throw new HarmoniaError(`${this.kernel}: wasm kernel "${name}" returned several tensors`);
    this.tmp.push(out);
    return out;
  }

  /** Allocates an uninitialised float32 tensor on the wasm heap and tracks it. */
  alloc(shape: number[]): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.tmp.push(out);
    return out;
  }

  /** Frees every tracked tensor except `keep` and returns `keep`. */
  finish(keep: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.tmp) if (t !== keep) this.backend.disposeData(t.dataId);
    this.tmp.length = 0;
    return keep;
  }

  /** Frees every tracked tensor (error path). */
  abort(): void {
    for (const t of this.tmp) this.backend.disposeData(t.dataId);
    this.tmp.length = 0;
  }

  /** Runs `body` with this scratch list; frees everything but its result, or everything when it throws. */
  static use(backend: WasmBackend, kernel: string, body: (s: Scratch) => tf.TensorInfo): tf.TensorInfo {
    const s = new Scratch(backend, kernel);
    let out: tf.TensorInfo;
    try {
      out = body(s);
    } catch (err) {
      s.abort();
      throw err;
    }
    return s.finish(out);
  }
}

/** Throws unless the data format is NHWC (the only one the wasm convolutions support). */
export function requireNHWC(dataFormat: unknown, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new HarmoniaError(`${kernel}: only NHWC data is supported on wasm, got dataFormat "${String(dataFormat)}"`);
  }
}

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil';

/**
 * Convolution geometry for a backprop kernel, checked against dy. tfjs-core's conv2d gradient drops
 * dimRoundingMode, and the stock wasm Conv2D forward ignores it too (XNNPACK recomputes the output
 * size), so numeric padding with 'ceil'/'round' rounding cannot train on wasm: it is refused here.
 */
export function convInfoFor(
  xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, rounding: Rounding | undefined,
  dyShape: number[], kernel: string,
): tf.backend_util.Conv2DInfo {
  const ci = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], strides, 1, pad, rounding, false, 'channelsLast');
  if (dyShape[1] !== ci.outHeight || dyShape[2] !== ci.outWidth || dyShape[3] !== ci.outChannels) {
    throw new HarmoniaError(`${kernel}: dy shape [${dyShape}] does not match the convolution output [${ci.outShape}]` +
      (typeof pad === 'number' ? ' (numeric padding with dimRoundingMode other than floor is not supported on wasm)' : ''));
  }
  return ci;
}
