/**
 * torchvision SqueezeNet 1.1 `features` (file squeezenet1_1-b8a52dc0.pth) with the seven LPIPS taps:
 * relu1 (64), fire3+fire4 (128), fire6+fire7 (256), fire9 (384), fire10 (384), fire11 (512), fire12 (512).
 * Max pools are 3/2 with ceil_mode=True, as in torchvision.
 */
import { tf } from '../engine/tf.ts';
import { loadStateDict, type StateDict } from './torch/checkpoint.ts';
import { convFromStateDict, convRelu, maxPool, disposeConv, type ConvParams, type FeatureBackbone } from './torch/convert.ts';

export const SQUEEZENET_CHANNELS = [64, 128, 256, 384, 384, 512, 512] as const;

interface Fire { squeeze: ConvParams; e1: ConvParams; e3: ConvParams }

/** torchvision feature index, input channels, squeeze, expand (each of 1×1 and 3×3). */
const FIRES: [number, number, number, number][] = [
  [3, 64, 16, 64], [4, 128, 16, 64], [6, 128, 32, 128], [7, 256, 32, 128],
  [9, 256, 48, 192], [10, 384, 48, 192], [11, 384, 64, 256], [12, 512, 64, 256],
];

function fire(x: tf.Tensor4D, f: Fire): tf.Tensor4D {
  const s = convRelu(x, f.squeeze);
  return tf.concat([convRelu(s, f.e1), convRelu(s, f.e3)], 3);
}

export class SqueezeNetFeatures implements FeatureBackbone {
  readonly name = 'squeeze';
  readonly channels = SQUEEZENET_CHANNELS;
  constructor(private readonly conv1: ConvParams, private readonly fires: Fire[]) {}

  features(x: tf.Tensor4D): tf.Tensor4D[] {
    const f = this.fires;
    const t1 = convRelu(x, this.conv1);
    const t2 = fire(fire(maxPool(t1, 3, 2, true), f[0]), f[1]);
    const t3 = fire(fire(maxPool(t2, 3, 2, true), f[2]), f[3]);
    const t4 = fire(maxPool(t3, 3, 2, true), f[4]);
    const t5 = fire(t4, f[5]);
    const t6 = fire(t5, f[6]);
    const t7 = fire(t6, f[7]);
    return [t1, t2, t3, t4, t5, t6, t7];
  }

  dispose(): void {
    disposeConv(this.conv1);
    for (const f of this.fires) { disposeConv(f.squeeze); disposeConv(f.e1); disposeConv(f.e3); }
  }
}

/** SqueezeNet 1.1 features from a torchvision state dict (features.0 conv, features.{3..12} Fire modules). */
export function squeezenetFromStateDict(sd: StateDict, file = '<state dict>'): SqueezeNetFeatures {
  const made: ConvParams[] = [];
  const track = (p: ConvParams): ConvParams => { made.push(p); return p; };
  try {
    const conv1 = track(convFromStateDict(sd, 'features.0', 3, 64, 3, 2, 0, file));
    const fires = FIRES.map(([i, inC, sq, ex]) => ({
      squeeze: track(convFromStateDict(sd, `features.${i}.squeeze`, inC, sq, 1, 1, 0, file)),
      e1: track(convFromStateDict(sd, `features.${i}.expand1x1`, sq, ex, 1, 1, 0, file)),
      e3: track(convFromStateDict(sd, `features.${i}.expand3x3`, sq, ex, 3, 1, 1, file)),
    }));
    return new SqueezeNetFeatures(conv1, fires);
  } catch (err) {
    made.forEach(disposeConv);
    throw err;
  }
}

/** Loads SqueezeNet 1.1 features from a torchvision checkpoint (e.g. squeezenet1_1-b8a52dc0.pth). */
export async function loadSqueezeNet(path: string): Promise<SqueezeNetFeatures> {
  return squeezenetFromStateDict(await loadStateDict(path), path);
}
