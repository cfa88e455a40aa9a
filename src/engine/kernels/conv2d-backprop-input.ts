/**
 * Conv2DBackpropInput for wasm by sub-pixel (phase-split) decomposition. The stock kernel is a scalar
 * six-deep loop (~3 GFLOP/s); this runs one stride-1 XNNPACK Conv2D (13–23 GFLOP/s). It is also the
 * forward pass of conv2dTranspose.
 *
 * With t = i + padTop = Q·s + r (r = t mod s):  dx[t] = Σ_{m<M} dy[Q−m] · w[r + m·s],  M = ⌈K/s⌉.
 * That is a stride-1 convolution over dy with the flipped, in/out-swapped, phase-split kernel
 *   W[m', n', o, (rh, rw, c)] = w[rh + (MH−1−m')·sh, rw + (MW−1−n')·sw, c, o]   (zero outside K),
 * whose s²·C output channels are the s×s phases of dx: depth-to-space (reshape + rank-4 transpose,
 * the wasm DepthToSpace kernel is a slow loop) then a crop give dx. No FLOPs go to inserted zeros.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { Scratch, attrsOf, convInfoFor, heapF32, input, requireNHWC, wasmBackend, type ConvAttrs, type KernelArgs } from './wasm.ts';

const NAME = 'Conv2DBackpropInput';

interface Attrs extends ConvAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Writes the phase-split kernel W[MH, MW, O, sh·sw·C] from w[KH, KW, C, O] (both row-major).
 * Pure so it can be unit-tested; one pass, 1–3 ms at real layer sizes.
 */
export function phaseSplitKernel(
  w: Float32Array, KH: number, KW: number, C: number, O: number, sh: number, sw: number, out: Float32Array,
): void {
  const MH = Math.ceil(KH / sh), MW = Math.ceil(KW / sw);
  let i = 0;
  for (let m = 0; m < MH; m++) {
    for (let n = 0; n < MW; n++) {
      for (let o = 0; o < O; o++) {
        for (let rh = 0; rh < sh; rh++) {
          const kh = rh + (MH - 1 - m) * sh;
          for (let rw = 0; rw < sw; rw++) {
            const kw = rw + (MW - 1 - n) * sw;
            if (kh >= KH || kw >= KW) {
              out.fill(0, i, i + C);
              i += C;
              continue;
            }
            let src = (kh * KW + kw) * C * O + o;
            for (let c = 0; c < C; c++, src += O) out[i++] = w[src];
          }
        }
      }
    }
  }
}

export function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const dy = input(args, 'dy', NAME);
  const filter = input(args, 'filter', NAME);
  const a = attrsOf<Attrs>(args);
  requireNHWC(a.dataFormat, NAME);
  if (filter.dtype !== 'float32' || dy.dtype !== 'float32') throw new HarmoniaError(`${NAME}: only float32 is supported`);
  const ci = convInfoFor(a.inputShape, filter.shape, a.strides, a.pad, a.dimRoundingMode, dy.shape, NAME);
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = ci;
  const { inChannels: C, outChannels: O, inHeight: H, inWidth: W } = ci;
  const N = a.inputShape[0];
  const padT = ci.padInfo.top, padL = ci.padInfo.left;
  const MH = Math.ceil(KH / sh), MW = Math.ceil(KW / sw);
  const backend = wasmBackend(args);
  return Scratch.use(backend, NAME, (s) => {
    const wall = s.alloc([MH, MW, O, sh * sw * C]);
    phaseSplitKernel(heapF32(backend, filter, NAME), KH, KW, C, O, sh, sw, heapF32(backend, wall, NAME));
    // Phase rows Q cover t = padT .. padT+H-1; each needs dy rows Q-(M-1) .. Q.
    const qminH = Math.floor(padT / sh), qmaxH = Math.floor((padT + H - 1) / sh);
    const qminW = Math.floor(padL / sw), qmaxW = Math.floor((padL + W - 1) / sw);
    const loH = qminH - (MH - 1), loW = qminW - (MW - 1);
    const cropT = Math.max(0, loH), cropL = Math.max(0, loW);
    const cropB = Math.min(oh - 1, qmaxH), cropR = Math.min(ow - 1, qmaxW);
    let d = dy;
    if (cropB < cropT || cropR < cropL) {
      // No dy row reaches dx (degenerate padding): dx is zero.
      const z = s.alloc([N, H, W, C]);
      heapF32(backend, z, NAME).fill(0);
      return z;
    }
    if (cropT > 0 || cropL > 0 || cropB < oh - 1 || cropR < ow - 1) {
      d = s.run('Slice', { x: d }, { begin: [0, cropT, cropL, 0], size: [N, cropB - cropT + 1, cropR - cropL + 1, O] });
    }
    const pT = cropT - loH, pB = qmaxH - cropB, pL = cropL - loW, pR = qmaxW - cropR;
    if (pT || pB || pL || pR) {
      d = s.run('PadV2', { x: d }, { paddings: [[0, 0], [pT, pB], [pL, pR], [0, 0]], constantValue: 0 });
    }
    const y = s.run('Conv2D', { x: d, filter: wall }, {
      strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
    }); // [N, Qh, Qw, sh·sw·C]
    let z = y;
    const Qh = y.shape[1], Qw = y.shape[2];
    if (sh > 1 || sw > 1) {
      const y4 = s.run('Reshape', { x: y }, { shape: [N * Qh, Qw, sh, sw * C] });
      const t4 = s.run('Transpose', { x: y4 }, { perm: [0, 2, 1, 3] });
      z = s.run('Reshape', { x: t4 }, { shape: [N, Qh * sh, Qw * sw, C] });
    }
    const offH = padT - qminH * sh, offW = padL - qminW * sw;
    if (offH !== 0 || offW !== 0 || z.shape[1] !== H || z.shape[2] !== W) {
      z = s.run('Slice', { x: z }, { begin: [0, offH, offW, 0], size: [N, H, W, C] });
    }
    return z;
  });
}

export const conv2DBackpropInputConfig = { kernelName: NAME, kernelFunc: conv2DBackpropInput };
