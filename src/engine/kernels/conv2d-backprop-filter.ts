/**
 * Conv2DBackpropFilter for wasm (stock tfjs-backend-wasm 4.22 has none, so no conv net can train).
 *
 * dW[kh,kw,c,o] = Σ_{n,i,j} xpad[n, i·s+kh, j·s+kw, c] · dy[n,i,j,o] is itself a convolution: take the
 * padded input with batch and channel axes swapped (C images of N channels), use dy as an oh×ow filter
 * with N in- and O out-channels, and dilate that filter by the stride. One XNNPACK Conv2D does it:
 *   xp = PadV2(x); X' = Transpose(xp,[3,1,2,0]); F' = Transpose(dy,[1,2,0,3]);
 *   R = Conv2D(X', F', stride 1, valid, dilation = stride)  -> [C, ≥KH, ≥KW, O]
 *   dW = Transpose(Slice(R to KH×KW), [1,2,0,3])
 */
import { tf } from '../tf.ts';
import { Scratch, attrsOf, convInfoFor, input, requireNHWC, wasmBackend, type ConvAttrs, type KernelArgs } from './wasm.ts';

const NAME = 'Conv2DBackpropFilter';

interface Attrs extends ConvAttrs {
  filterShape: [number, number, number, number];
}

export function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const x = input(args, 'x', NAME);
  const dy = input(args, 'dy', NAME);
  const a = attrsOf<Attrs>(args);
  requireNHWC(a.dataFormat, NAME);
  const ci = convInfoFor(x.shape, a.filterShape, a.strides, a.pad, a.dimRoundingMode, dy.shape, NAME);
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, inChannels: C, outChannels: O } = ci;
  return Scratch.use(wasmBackend(args), NAME, (s) => {
    const { top, bottom, left, right } = ci.padInfo;
    // Explicit/ceil paddings can make a window reach past the input: pad the far side so every tap exists.
    const needH = (ci.outHeight - 1) * sh + KH, needW = (ci.outWidth - 1) * sw + KW;
    const extraB = Math.max(0, needH - (ci.inHeight + top + bottom));
    const extraR = Math.max(0, needW - (ci.inWidth + left + right));
    const xp = top || bottom || left || right || extraB || extraR
      ? s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom + extraB], [left, right + extraR], [0, 0]], constantValue: 0 })
      : x;
    const xt = s.run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] }); // [C, Hp, Wp, N]
    const ft = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, N, O]
    const r = s.run('Conv2D', { x: xt, filter: ft }, {
      strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined,
    }); // [C, ≥KH, ≥KW, O]
    const cropped = r.shape[1] !== KH || r.shape[2] !== KW
      ? s.run('Slice', { x: r }, { begin: [0, 0, 0, 0], size: [C, KH, KW, O] })
      : r;
    return s.run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }); // [KH, KW, C, O]
  });
}

export const conv2DBackpropFilterConfig = { kernelName: NAME, kernelFunc: conv2DBackpropFilter };
