/**
 * MaxPoolGrad for wasm. The stock C++ kernel starts its running max at FLT_MIN (+1.2e-38, not −∞),
 * so in any window whose maximum is ≤ 0 the gradient goes to the wrong element (rel. error 0.4–0.9
 * on signed inputs). This is the cpu backend's rule, first maximum wins, as a JS loop on the wasm heap;
 * in VGG it is no slower than the C++ kernel.
 */
import { tf } from '../tf.ts';
import { attrsOf, heapF32, input, wasmBackend, type KernelArgs } from './wasm.ts';

const NAME = 'MaxPoolGrad';

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Pool geometry the loop needs (from computePool2DInfo). */
export interface PoolGeometry {
  N: number; H: number; W: number; C: number; OH: number; OW: number;
  sh: number; sw: number; fh: number; fw: number; padTop: number; padLeft: number;
}

/** dx += dy routed to the first maximum of each window (dx must be zeroed by the caller). Pure. */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, dx: Float32Array, g: PoolGeometry): void {
  const { N, H, W, C, OH, OW, sh, sw, fh, fw, padTop, padLeft } = g;
  const rowS = W * C, bS = H * rowS;
  for (let b = 0; b < N; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - padTop, hs = Math.max(0, h0), he = Math.min(H, h0 + fh);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sw - padLeft, ws = Math.max(0, w0), we = Math.min(W, w0 + fw);
        const dyo = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity, pos = -1;
          for (let h = hs; h < he; h++) {
            let o = b * bS + h * rowS + ws * C + c;
            for (let w = ws; w < we; w++, o += C) {
              const v = x[o];
              if (pos < 0 || v > best) { best = v; pos = o; }
            }
          }
          if (pos >= 0) dx[pos] += dy[dyo + c];
        }
      }
    }
  }
}

export function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const dy = input(args, 'dy', NAME);
  const x = input(args, 'input', NAME);
  const a = attrsOf<Attrs>(args);
  const ci = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const backend = wasmBackend(args);
  const dx = backend.makeOutput(x.shape, 'float32');
  const DX = heapF32(backend, dx, NAME);
  DX.fill(0);
  maxPoolGradInto(heapF32(backend, x, NAME), heapF32(backend, dy, NAME), DX, {
    N: ci.batchSize, H: ci.inHeight, W: ci.inWidth, C: ci.inChannels, OH: ci.outHeight, OW: ci.outWidth,
    sh: ci.strideHeight, sw: ci.strideWidth, fh: ci.effectiveFilterHeight, fw: ci.effectiveFilterWidth,
    padTop: ci.padInfo.top, padLeft: ci.padInfo.left,
  });
  return dx;
}

export const maxPoolGradConfig = { kernelName: NAME, kernelFunc: maxPoolGrad };
