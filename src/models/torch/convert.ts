/**
 * Turning torch-layout weights into TensorFlow.js tensors, and the small conv-net building blocks
 * the pretrained backbones (AlexNet, VGG, SqueezeNet) share. Weights are plain `tf.Tensor`s (never
 * variables): they stay frozen while gradients still flow to the input.
 */
import { tf } from '../../engine/tf.ts';
import { getTensor, type StateDict } from './checkpoint.ts';
import { reluGrad } from '../../engine/ops.ts';

/** A torch Conv2d (weight [O, I, kh, kw], bias [O]) as tf tensors: filter [kh, kw, I, O]. */
export interface ConvParams {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  stride: number;
  pad: number;
}

/** Torch conv weight [O, I, kh, kw] (row-major) → tf filter layout [kh, kw, I, O]. */
export function torchConvToTf(data: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = shape;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x];
  return out;
}

/** Reads `<prefix>.weight` [out, in, k, k] and `<prefix>.bias` [out] from a state dict. */
export function convFromStateDict(
  sd: StateDict, prefix: string, inC: number, outC: number, k: number, stride: number, pad: number, file: string,
): ConvParams {
  const w = getTensor(sd, `${prefix}.weight`, [outC, inC, k, k], file);
  const b = getTensor(sd, `${prefix}.bias`, [outC], file);
  return {
    filter: tf.tensor4d(torchConvToTf(w.data, w.shape), [k, k, inC, outC]),
    bias: tf.tensor1d(b.data),
    stride,
    pad,
  };
}

/** conv2d (zero padding `pad` on each side, like torch) + bias. */
export function conv(x: tf.Tensor4D, p: ConvParams): tf.Tensor4D {
  return tf.add(tf.conv2d(x, p.filter, p.stride, p.pad === 0 ? 'valid' : p.pad), p.bias);
}

/**
 * conv + bias + ReLU as one fused kernel, differentiable with respect to x only: the backbones'
 * weights are frozen constants, so the backward pass is one ReLU gradient and one transposed conv
 * (tfjs's fused conv2d gradient would also compute the filter and bias gradients, the most
 * expensive part, only to drop them). Same values as relu(conv(x, p)).
 */
export function convRelu(x: tf.Tensor4D, p: ConvParams): tf.Tensor4D {
  const pad = p.pad === 0 ? 'valid' : p.pad;
  const shape = x.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    // the kernel itself: tf.fused.conv2d runs unfused (conv, add, relu) while a gradient is recorded
    const y = tf.engine().runKernel('FusedConv2D', { x: input, filter: p.filter, bias: p.bias }, {
      strides: [p.stride, p.stride], pad, dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu', leakyreluAlpha: 0,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    save([y, p.filter]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.conv2dTranspose(reluGrad(dy, saved[0]) as tf.Tensor4D, saved[1] as tf.Tensor4D, shape, p.stride, pad),
    };
  });
  return op(x) as tf.Tensor4D;
}

/**
 * Max pooling without padding. `ceil` reproduces torch `ceil_mode=True` (SqueezeNet) by padding the
 * bottom/right with zeros, which is exact because every pooled input here follows a ReLU (≥ 0).
 */
export function maxPool(x: tf.Tensor4D, k: number, s: number, ceil = false): tf.Tensor4D {
  if (!ceil) return tf.maxPool(x, k, s, 'valid');
  const [, h, w] = x.shape;
  const extra = (n: number): number => {
    let out = Math.ceil((n - k) / s) + 1;
    if ((out - 1) * s >= n) out--;
    return Math.max(0, (out - 1) * s + k - n);
  };
  const ph = extra(h), pw = extra(w);
  const padded = ph || pw ? tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]]) : x;
  return tf.maxPool(padded, k, s, 'valid');
}

export function disposeConv(p: ConvParams): void {
  p.filter.dispose();
  p.bias.dispose();
}

/** A frozen convolutional feature extractor: NHWC input, one feature map per tap. */
export interface FeatureBackbone {
  readonly name: string;
  /** Channels of each tap, in order. */
  readonly channels: readonly number[];
  /** Feature maps at every tap (input already normalised the way the caller's network expects). */
  features(x: tf.Tensor4D): tf.Tensor4D[];
  dispose(): void;
}
