/**
 * ResizeBilinearGrad for wasm. The stock gradient (wasm and cpu alike) ignores halfPixelCenters
 * (relative error 0.55–0.72 against finite differences), i.e. PyTorch's align_corners=False
 * semantics train with a wrong gradient. With halfPixelCenters this JS loop, the exact adjoint of
 * the forward interpolation (any aspect ratio and batch), runs; otherwise the stock C++ kernel,
 * which is correct there and about 2x faster, does.
 */
import { tf } from '../tf.ts';
import { attrsOf, heapF32, input, wasmBackend, type KernelArgs, type KernelImpl } from './wasm.ts';

const NAME = 'ResizeBilinearGrad';

interface Attrs { alignCorners: boolean; halfPixelCenters: boolean }

/** Source taps of one output coordinate along one axis: lo/hi indices and the weight of hi. */
export interface Taps { lo: Int32Array; hi: Int32Array; frac: Float64Array }

/** The forward kernel's interpolation taps for `outSize` samples of an axis of `inSize` pixels. Pure. */
export function bilinearTaps(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Taps {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const lo = new Int32Array(outSize), hi = new Int32Array(outSize), frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? ratio * (o + 0.5) - 0.5 : ratio * o;
    const l = Math.max(0, Math.floor(src));
    lo[o] = l;
    hi[o] = Math.min(inSize - 1, Math.ceil(src));
    frac[o] = src - l;
  }
  return { lo, hi, frac };
}

/**
 * dx += adjoint of bilinear resize applied to dy (NHWC, row-major; dx zeroed by the caller). Pure.
 * Separable: rows first (contiguous axpy over whole OW·C rows into a [N, H, OW, C] buffer), then
 * columns; ~2x faster in JS than scattering four taps per output pixel.
 */
export function resizeBilinearGradInto(
  dy: Float32Array, dx: Float32Array, N: number, H: number, W: number, C: number, OH: number, OW: number,
  alignCorners: boolean, halfPixelCenters: boolean,
): void {
  const rt = bilinearTaps(H, OH, alignCorners, halfPixelCenters);
  const ct = bilinearTaps(W, OW, alignCorners, halfPixelCenters);
  const rowLen = OW * C;
  const tmp = new Float32Array(N * H * rowLen);
  for (let b = 0; b < N; b++) {
    for (let r = 0; r < OH; r++) {
      const src = (b * OH + r) * rowLen;
      const lo = (b * H + rt.lo[r]) * rowLen, hi = (b * H + rt.hi[r]) * rowLen;
      const wh = rt.frac[r], wl = 1 - wh;
      for (let k = 0; k < rowLen; k++) {
        const g = dy[src + k];
        tmp[lo + k] += g * wl;
        tmp[hi + k] += g * wh;
      }
    }
  }
  for (let bh = 0; bh < N * H; bh++) {
    const src = bh * rowLen, dst = bh * W * C;
    for (let c = 0; c < OW; c++) {
      const s0 = src + c * C, lo = dst + ct.lo[c] * C, hi = dst + ct.hi[c] * C;
      const wh = ct.frac[c], wl = 1 - wh;
      for (let d = 0; d < C; d++) {
        const g = tmp[s0 + d];
        dx[lo + d] += g * wl;
        dx[hi + d] += g * wh;
      }
    }
  }
}

export function resizeBilinearGrad(args: KernelArgs): tf.TensorInfo {
  const images = input(args, 'images', NAME);
  const dy = input(args, 'dy', NAME);
  const { alignCorners, halfPixelCenters } = attrsOf<Attrs>(args);
  const [N, H, W, C] = images.shape;
  const [, OH, OW] = dy.shape;
  const backend = wasmBackend(args);
  const dx = backend.makeOutput(images.shape, 'float32');
  const DX = heapF32(backend, dx, NAME);
  DX.fill(0);
  resizeBilinearGradInto(heapF32(backend, dy, NAME), DX, N, H, W, C, OH, OW, !!alignCorners, !!halfPixelCenters);
  return dx;
}

/** The registered kernel: the JS adjoint for halfPixelCenters, the stock kernel otherwise. */
export function makeResizeBilinearGrad(stock: tf.KernelFunc): KernelImpl {
  return (args: KernelArgs): tf.TensorInfo => {
    if (attrsOf<Attrs>(args).halfPixelCenters) return resizeBilinearGrad(args);
    return stock(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  };
}
