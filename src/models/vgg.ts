/**
 * torchvision VGG `features` (VGG-16 for LPIPS, VGG-19 for the GAN feature loss) as frozen
 * TensorFlow.js feature extractors with configurable taps.
 *
 * Taps are named after the layer whose output they take: `conv<b>_<n>` (before ReLU), `relu<b>_<n>`
 * (after ReLU) and `pool<b>` (after the b-th 2×2 max pool). Only the layers up to the deepest tap
 * run. Weights are plain tensors (never variables): they stay frozen, and gradients with respect
 * to the input flow through (conv2d, relu, maxPool), so the extractor can sit inside a loss.
 *
 * Default VGG-19 taps for the feature loss: relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 (the last
 * ReLU of each block: the maps the perceptual-loss literature uses; feature maps, never classifier
 * outputs).
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { loadStateDict, type StateDict } from './torch/checkpoint.ts';
import { convFromStateDict, conv, convRelu, maxPool, disposeConv, type ConvParams, type FeatureBackbone } from './torch/convert.ts';

export type VggDepth = 16 | 19;

/** Channels per conv layer; 'M' = 2×2 max pool (torchvision configurations D and E). */
export const VGG_CONFIG: Record<VggDepth, readonly (number | 'M')[]> = {
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

export const DEFAULT_VGG19_TAPS = ['relu1_2', 'relu2_2', 'relu3_4', 'relu4_4', 'relu5_4'] as const;
export const LPIPS_VGG16_TAPS = ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3'] as const;

/** ImageNet statistics torchvision models are trained with (inputs in [0,1] RGB). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

interface Step { kind: 'conv' | 'relu' | 'pool'; name: string; index: number; conv?: number; inC?: number; outC?: number }

/** The layer sequence of `features` with torchvision indices and tap names. */
export function vggLayers(depth: VggDepth): Step[] {
  const cfg = VGG_CONFIG[depth];
  const steps: Step[] = [];
  let idx = 0, block = 1, n = 1, inC = 3, convNo = 0;
  for (const c of cfg) {
    if (c === 'M') {
      steps.push({ kind: 'pool', name: `pool${block}`, index: idx++ });
      block++;
      n = 1;
    } else {
      steps.push({ kind: 'conv', name: `conv${block}_${n}`, index: idx++, conv: convNo++, inC, outC: c });
      steps.push({ kind: 'relu', name: `relu${block}_${n}`, index: idx++ });
      inC = c;
      n++;
    }
  }
  return steps;
}

/** Channels at a tap of a VGG (throws for an unknown tap name). */
function tapChannels(steps: Step[], tap: string, depth: VggDepth): number {
  const i = steps.findIndex((s) => s.name === tap);
  if (i < 0) {
    throw new HarmoniaError(`VGG-${depth} has no layer "${tap}" (use conv<b>_<n>, relu<b>_<n> or pool<b>, e.g. ${depth === 19 ? 'relu3_4' : 'relu3_3'})`);
  }
  for (let j = i; j >= 0; j--) if (steps[j].kind === 'conv') return steps[j].outC!;
  return 3;
}

export class VggFeatures implements FeatureBackbone {
  readonly name: string;
  readonly channels: readonly number[];
  private readonly steps: Step[];
  private readonly last: number;
  private readonly mean: tf.Tensor1D;
  private readonly std: tf.Tensor1D;

  /**
   * @param convs conv parameters in network order (at least up to the deepest tap)
   * @param taps tap names, in the order `forward` returns them
   * @param random true when the weights are random (a `--allow-random-features` run): labels the model
   */
  constructor(readonly depth: VggDepth, private readonly convs: ConvParams[], readonly taps: readonly string[], readonly random = false) {
    if (taps.length === 0) throw new HarmoniaError('VggFeatures: give at least one tap');
    this.steps = vggLayers(depth);
    this.channels = taps.map((t) => tapChannels(this.steps, t, depth));
    this.last = Math.max(...taps.map((t) => this.steps.findIndex((s) => s.name === t)));
    const needConvs = this.steps.slice(0, this.last + 1).filter((s) => s.kind === 'conv').length;
    if (convs.length < needConvs) throw new HarmoniaError(`VggFeatures: taps need ${needConvs} conv layers, got ${convs.length}`);
    this.name = `vgg${depth}${random ? ' (random weights)' : ''}`;
    this.mean = tf.tensor1d([...IMAGENET_MEAN]);
    this.std = tf.tensor1d([...IMAGENET_STD]);
  }

  /** Feature maps at the taps for an input already normalised as the caller wants (no ImageNet step). */
  features(x: tf.Tensor4D): tf.Tensor4D[] {
    const out = new Map<string, tf.Tensor4D>();
    const want = new Set(this.taps);
    let h = x;
    for (let i = 0; i <= this.last; i++) {
      const s = this.steps[i];
      const next = this.steps[i + 1];
      if (s.kind === 'conv' && next?.kind === 'relu' && i + 1 <= this.last && !want.has(s.name)) {
        // conv + ReLU in one fused kernel (the pre-ReLU map is not a tap)
        h = convRelu(h, this.convs[s.conv!]);
        i++;
        if (want.has(next.name)) out.set(next.name, h);
        continue;
      }
      if (s.kind === 'conv') h = conv(h, this.convs[s.conv!]);
      else if (s.kind === 'relu') h = tf.relu(h);
      else h = maxPool(h, 2, 2);
      if (want.has(s.name)) out.set(s.name, h);
    }
    return this.taps.map((t) => out.get(t)!);
  }

  /**
   * Feature maps for RGB input in [0,1], NHWC (ImageNet normalisation applied here). Run it inside
   * tf.tidy (or a gradient function); the returned maps are the caller's to dispose.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D[] {
    if (x.shape[3] !== 3) throw new HarmoniaError(`VggFeatures.forward: input must have 3 channels (NHWC RGB), got shape [${x.shape.join(', ')}]`);
    return this.features(tf.div(tf.sub(x, this.mean), this.std) as tf.Tensor4D);
  }

  dispose(): void {
    this.convs.forEach(disposeConv);
    this.mean.dispose();
    this.std.dispose();
  }
}

/** Conv layers needed for a set of taps (all convs up to the deepest one). */
function convsNeeded(depth: VggDepth, taps: readonly string[]): Step[] {
  const steps = vggLayers(depth);
  for (const t of taps) tapChannels(steps, t, depth);
  const last = Math.max(...taps.map((t) => steps.findIndex((s) => s.name === t)));
  return steps.slice(0, last + 1).filter((s) => s.kind === 'conv');
}

/** A VGG from a torchvision state dict (keys features.<i>.weight/bias); loads only the layers the taps need. */
export function vggFromStateDict(sd: StateDict, depth: VggDepth, taps: readonly string[], file = '<state dict>'): VggFeatures {
  const convs: ConvParams[] = [];
  try {
    for (const s of convsNeeded(depth, taps)) convs.push(convFromStateDict(sd, `features.${s.index}`, s.inC!, s.outC!, 3, 1, 1, file));
  } catch (err) {
    convs.forEach(disposeConv);
    throw err;
  }
  return new VggFeatures(depth, convs, taps);
}

/** Loads VGG-19 features from a torchvision checkpoint (vgg19-dcbb9e9d.pth) at the given taps. */
export async function loadVgg19Features(pthPath: string, layers: readonly string[] = DEFAULT_VGG19_TAPS): Promise<VggFeatures> {
  return vggFromStateDict(await loadStateDict(pthPath), 19, layers, pthPath);
}

/** Loads VGG-16 features (vgg16-397923af.pth); default taps are the LPIPS ones. */
export async function loadVgg16Features(pthPath: string, layers: readonly string[] = LPIPS_VGG16_TAPS): Promise<VggFeatures> {
  return vggFromStateDict(await loadStateDict(pthPath), 16, layers, pthPath);
}

/**
 * A VGG-19 with seeded random weights (torchvision's init: Kaiming normal, fan_out, ReLU gain;
 * zero bias), for `--allow-random-features` runs when vgg19-dcbb9e9d.pth is absent. Its `random`
 * flag is true and its name says "random weights": reports must label results made with it.
 */
export function createRandomVgg19(seed: number, layers: readonly string[] = DEFAULT_VGG19_TAPS): VggFeatures {
  const rng = new Rng(seed);
  const convs: ConvParams[] = convsNeeded(19, layers).map((s) => {
    const inC = s.inC!, outC = s.outC!;
    const std = Math.sqrt(2 / (outC * 9));
    const w = new Float32Array(9 * inC * outC);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    return { filter: tf.tensor4d(w, [3, 3, inC, outC]), bias: tf.zeros([outC]) as tf.Tensor1D, stride: 1, pad: 1 };
  });
  return new VggFeatures(19, convs, layers, true);
}
