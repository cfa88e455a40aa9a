/**
 * torchvision AlexNet `features` (the "one weird trick" variant, file alexnet-owt-7be5be79.pth),
 * tapped after each of its five ReLUs as LPIPS uses it: channels 64, 192, 384, 256, 256.
 * Layers: conv 11×11/4 pad 2 → ReLU → max 3/2 → conv 5×5 pad 2 → ReLU → max 3/2 → conv 3×3 ×3 (ReLU each).
 */
import { tf } from '../engine/tf.ts';
import { loadStateDict, type StateDict } from './torch/checkpoint.ts';
import { convFromStateDict, convRelu, maxPool, disposeConv, type ConvParams, type FeatureBackbone } from './torch/convert.ts';

export const ALEXNET_CHANNELS = [64, 192, 384, 256, 256] as const;

export class AlexNetFeatures implements FeatureBackbone {
  readonly name = 'alex';
  readonly channels = ALEXNET_CHANNELS;
  constructor(private readonly convs: ConvParams[]) {}

  features(x: tf.Tensor4D): tf.Tensor4D[] {
    const c = this.convs;
    const r1 = convRelu(x, c[0]);
    const r2 = convRelu(maxPool(r1, 3, 2), c[1]);
    const r3 = convRelu(maxPool(r2, 3, 2), c[2]);
    const r4 = convRelu(r3, c[3]);
    const r5 = convRelu(r4, c[4]);
    return [r1, r2, r3, r4, r5];
  }

  dispose(): void {
    this.convs.forEach(disposeConv);
  }
}

/** AlexNet features from a torchvision state dict (keys features.{0,3,6,8,10}.{weight,bias}). */
export function alexnetFromStateDict(sd: StateDict, file = '<state dict>'): AlexNetFeatures {
  const spec: [number, number, number, number, number, number][] = [
    // idx, in, out, k, stride, pad
    [0, 3, 64, 11, 4, 2], [3, 64, 192, 5, 1, 2], [6, 192, 384, 3, 1, 1], [8, 384, 256, 3, 1, 1], [10, 256, 256, 3, 1, 1],
  ];
  const convs: ConvParams[] = [];
  try {
    for (const [i, inC, outC, k, s, p] of spec) convs.push(convFromStateDict(sd, `features.${i}`, inC, outC, k, s, p, file));
  } catch (err) {
    convs.forEach(disposeConv);
    throw err;
  }
  return new AlexNetFeatures(convs);
}

/** Loads AlexNet features from a torchvision checkpoint (e.g. alexnet-owt-7be5be79.pth). */
export async function loadAlexNet(path: string): Promise<AlexNetFeatures> {
  return alexnetFromStateDict(await loadStateDict(path), path);
}
