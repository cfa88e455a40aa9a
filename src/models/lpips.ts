/**
 * LPIPS v0.1 (Zhang et al. 2018), exactly as docs/METRICS.md § LPIPS v0.1 states it:
 *   inputs in [0,1] → [−1,1] → scaling layer (x − shift)/scale,
 *   shift = [−0.030, −0.088, −0.188], scale = [0.458, 0.448, 0.450];
 *   backbone taps (alex: 5, vgg: 5, squeeze: 7);
 *   per tap: unit-normalise over channels f/(sqrt(Σ_c f²) + 1e-10), squared difference,
 *   non-negative 1×1 "lin" conv C→1 without bias, spatial mean; sum over taps.
 * Weights come only from files (torchvision backbone + LPIPS lin layers): there is no random-weight
 * LPIPS; when files are absent callers report "n/a (no weights)".
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { FloatImage } from '../image/types.ts';
import { loadStateDict, getTensor, type StateDict } from './torch/checkpoint.ts';
import type { FeatureBackbone } from './torch/convert.ts';
import { alexnetFromStateDict, ALEXNET_CHANNELS } from './alexnet.ts';
import { squeezenetFromStateDict, SQUEEZENET_CHANNELS } from './squeezenet.ts';
import { vggFromStateDict, LPIPS_VGG16_TAPS } from './vgg.ts';
import { weightPath, type WeightId } from './weights.ts';
import { existsSync } from 'node:fs';

export type LpipsNet = 'alex' | 'vgg' | 'squeeze';
export const LPIPS_NETS: readonly LpipsNet[] = ['alex', 'vgg', 'squeeze'];
export const LPIPS_SHIFT = [-0.03, -0.088, -0.188] as const;
export const LPIPS_SCALE = [0.458, 0.448, 0.45] as const;
export const LPIPS_EPS = 1e-10;

export const LPIPS_CHANNELS: Record<LpipsNet, readonly number[]> = {
  alex: ALEXNET_CHANNELS,
  vgg: [64, 128, 256, 512, 512],
  squeeze: SQUEEZENET_CHANNELS,
};

const BACKBONE_ID: Record<LpipsNet, WeightId> = { alex: 'alexnet', vgg: 'vgg16', squeeze: 'squeezenet1_1' };
const LIN_ID: Record<LpipsNet, WeightId> = { alex: 'lpips-alex', vgg: 'lpips-vgg', squeeze: 'lpips-squeeze' };

export function isLpipsNet(s: string): s is LpipsNet {
  return (LPIPS_NETS as readonly string[]).includes(s);
}

/**
 * The lin weights, one Float32Array of C values per tap, from an LPIPS v0.1 file
 * (keys lin<k>.model.1.weight, shape [1, C, 1, 1]). Rejects negative weights (LPIPS clamps them ≥ 0).
 */
export function linWeightsFromStateDict(sd: StateDict, net: LpipsNet, file = '<lin weights>'): Float32Array[] {
  const chans = LPIPS_CHANNELS[net];
  return chans.map((c, k) => {
    const key = [`lin${k}.model.1.weight`, `lin${k}.model.0.weight`, `lin${k}.weight`].find((n) => sd.has(n)) ?? `lin${k}.model.1.weight`;
    const { data } = getTensor(sd, key, [1, c, 1, 1], file);
    for (const v of data) {
      if (!(v >= 0)) throw new HarmoniaError(`LPIPS lin weight ${key} has a negative or NaN value (${v}); LPIPS weights are non-negative`, { file });
    }
    return data;
  });
}

export class Lpips {
  private readonly shift: tf.Tensor1D;
  private readonly scale: tf.Tensor1D;
  private readonly lins: tf.Tensor1D[];

  constructor(readonly net: LpipsNet, private readonly backbone: FeatureBackbone, lin: Float32Array[]) {
    const chans = LPIPS_CHANNELS[net];
    if (lin.length !== chans.length || lin.some((w, k) => w.length !== chans[k])) {
      throw new HarmoniaError(`LPIPS ${net}: lin weights do not match the taps (${chans.join(', ')} channels)`);
    }
    this.shift = tf.tensor1d([...LPIPS_SHIFT]);
    this.scale = tf.tensor1d([...LPIPS_SCALE]);
    this.lins = lin.map((w) => tf.tensor1d(w));
  }

  /** Per-pair LPIPS of two NHWC batches in [0,1] (same shape) → [N]. Tensors in, tensor out (tidy). */
  distanceTensor(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
    if (a.shape.some((v, i) => v !== b.shape[i]) || a.shape[3] !== 3) {
      throw new HarmoniaError(`LPIPS: inputs must be NHWC RGB of one shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
    }
    const n = a.shape[0];
    return tf.tidy(() => this.combine(tf.concat([a, b], 0), n, n));
  }

  /**
   * LPIPS of each of M candidates [M,H,W,3] against one reference [1,H,W,3], in one backbone pass
   * (the evaluator scores the composite and the prediction against the same real image) → [M].
   */
  distancesToReference(ref: tf.Tensor4D, candidates: tf.Tensor4D): tf.Tensor1D {
    if (ref.shape[0] !== 1 || ref.shape.slice(1).some((v, i) => v !== candidates.shape[i + 1]) || ref.shape[3] !== 3) {
      throw new HarmoniaError(`LPIPS: reference must be [1,H,W,3] matching the candidates, got [${ref.shape.join(', ')}] and [${candidates.shape.join(', ')}]`);
    }
    return tf.tidy(() => this.combine(tf.concat([ref, candidates], 0), 1, candidates.shape[0]));
  }

  /** Backbone pass on [first; second] (first broadcasts when it has 1 item), then the LPIPS sum. */
  private combine(x: tf.Tensor4D, nFirst: number, nSecond: number): tf.Tensor1D {
    const scaled = tf.div(tf.sub(tf.sub(tf.mul(x, 2), 1), this.shift), this.scale) as tf.Tensor4D;
    const feats = this.backbone.features(scaled);
    let total: tf.Tensor1D = tf.zeros([nSecond]);
    feats.forEach((f, k) => {
      const norm = tf.add(tf.sqrt(tf.sum(tf.square(f), 3, true)), LPIPS_EPS);
      const u = tf.div(f, norm);
      const [ua, ub] = tf.split(u, [nFirst, nSecond], 0);
      const d = tf.square(tf.sub(ua, ub));
      const lin = tf.sum(tf.mul(d, this.lins[k]), 3); // [N, H, W]: the 1×1 conv C→1 without bias
      total = tf.add(total, tf.mean(lin, [1, 2]));
    });
    return total;
  }

  /** LPIPS distance of two RGB images in [0,1] of the same size. */
  async distance(a: FloatImage, b: FloatImage): Promise<number> {
    if (a.width !== b.width || a.height !== b.height || a.channels !== 3 || b.channels !== 3) {
      throw new HarmoniaError(`LPIPS: images must be RGB of one size, got ${a.width}×${a.height}×${a.channels} and ${b.width}×${b.height}×${b.channels}`);
    }
    const ta = tf.tensor4d(a.data, [1, a.height, a.width, 3]);
    const tb = tf.tensor4d(b.data, [1, b.height, b.width, 3]);
    try {
      const d = this.distanceTensor(ta, tb);
      const v = (await d.data())[0];
      d.dispose();
      return v;
    } finally {
      ta.dispose();
      tb.dispose();
    }
  }

  dispose(): void {
    this.backbone.dispose();
    this.shift.dispose();
    this.scale.dispose();
    this.lins.forEach((t) => t.dispose());
  }
}

/** Builds the backbone of an LPIPS network from a torchvision state dict. */
export function lpipsBackboneFromStateDict(net: LpipsNet, sd: StateDict, file = '<state dict>'): FeatureBackbone {
  switch (net) {
    case 'alex': return alexnetFromStateDict(sd, file);
    case 'vgg': return vggFromStateDict(sd, 16, LPIPS_VGG16_TAPS, file);
    case 'squeeze': return squeezenetFromStateDict(sd, file);
  }
}

export interface LpipsFiles {
  /** torchvision backbone checkpoint; default: the weights folder's file for `net`. */
  backbone?: string;
  /** LPIPS v0.1 lin checkpoint; default: <weights>/lpips/v0.1/<net>.pth. */
  lin?: string;
  /** Weights folder (see weights.ts). */
  dir?: string;
}

/** Paths LPIPS would load for `net`, and whether both exist. */
export function lpipsFiles(net: LpipsNet, files: LpipsFiles = {}): { backbone: string; lin: string; available: boolean } {
  const backbone = files.backbone ?? weightPath(BACKBONE_ID[net], files.dir);
  const lin = files.lin ?? weightPath(LIN_ID[net], files.dir);
  return { backbone, lin, available: existsSync(backbone) && existsSync(lin) };
}

/** Loads LPIPS v0.1 for a backbone from its two checkpoint files (errors say which file is missing). */
export async function loadLpips(net: LpipsNet, files: LpipsFiles = {}): Promise<Lpips> {
  if (!isLpipsNet(net)) throw new HarmoniaError(`--lpips must be alex, vgg, squeeze or none, got "${String(net)}"`);
  const p = lpipsFiles(net, files);
  for (const f of [p.backbone, p.lin]) {
    if (!existsSync(f)) throw new HarmoniaError(`LPIPS ${net} weights missing; see \`harmonia weights\``, { file: f });
  }
  const lin = linWeightsFromStateDict(await loadStateDict(p.lin), net, p.lin);
  const backbone = lpipsBackboneFromStateDict(net, await loadStateDict(p.backbone), p.backbone);
  return new Lpips(net, backbone, lin);
}
