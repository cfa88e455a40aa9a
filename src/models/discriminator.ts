/**
 * The discriminator D (paper: fully convolutional, any input size, reduced to one value, then a
 * sigmoid giving the probability that the image is a real photo), as a tf.LayersModel.
 *
 * The model returns LOGITS; the sigmoid belongs in the loss (BCE-with-logits), which is the
 * numerically stable form of the paper's sigmoid + BCE.
 *
 * Paper D (PAPER_DISCRIMINATOR, kind 'global'): conv 3→32→64→128→256 (4×4, stride 2, 'same',
 * bias, LeakyReLU 0.2), global average pool, dense 256→1. 690,401 params. Output [N,1].
 * 'patch' (PatchGAN): conv base→2b→4b (stride 2) → 8b (stride 1), all LeakyReLU 0.2, then a 4×4
 * stride-1 conv to 1 channel: logits [N,⌈H/8⌉,⌈W/8⌉,1], one per overlapping patch.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { layerSeed } from './generator.ts';

export interface DiscriminatorConfig {
  /** Channels of the first layer (base, 2b, 4b, 8b). Default 32. */
  base?: number;
  /** 'global' (one logit per image, the paper) or 'patch' (a map of logits). Default 'global'. */
  kind?: 'global' | 'patch';
  /** The mask is a 4th input channel. Default false. */
  maskInput?: boolean;
  /** Seed for the weight initialisers: the same config and seed give identical weights. Default 0. */
  seed?: number;
}

export const PAPER_DISCRIMINATOR: Readonly<DiscriminatorConfig> = Object.freeze({ base: 32, kind: 'global', maskInput: false });

/** Builds D. Input [N,H,W,3|4] (any H, W ≥ 1); output logits [N,1] ('global') or [N,h,w,1] ('patch'). */
export function buildDiscriminator(cfg: DiscriminatorConfig = {}): tf.LayersModel {
  const base = cfg.base ?? 32;
  if (!Number.isInteger(base) || base < 1 || base > 1024) throw new HarmoniaError(`buildDiscriminator: base must be an integer in 1..1024, got ${cfg.base}`);
  const kind = cfg.kind ?? 'global';
  if (kind !== 'global' && kind !== 'patch') throw new HarmoniaError(`buildDiscriminator: kind must be global or patch, got "${String(kind)}"`);
  const seed = cfg.seed ?? 0;
  if (!Number.isFinite(seed)) throw new HarmoniaError(`buildDiscriminator: seed must be a finite number, got ${cfg.seed}`);
  const inC = cfg.maskInput ? 4 : 3;
  const he = (name: string) => tf.initializers.heUniform({ seed: layerSeed(seed, name) });
  const glorot = (name: string) => tf.initializers.glorotUniform({ seed: layerSeed(seed, name) });
  const input = tf.input({ shape: [null, null, inC], name: 'd_input' });
  let h: tf.SymbolicTensor = input;
  const widths = [base, 2 * base, 4 * base, 8 * base];
  widths.forEach((filters, i) => {
    const name = `d_conv${i + 1}`;
    const strides = kind === 'patch' && i === 3 ? 1 : 2;
    h = tf.layers.conv2d({ filters, kernelSize: 4, strides, padding: 'same', kernelInitializer: he(name), name }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: 0.2, name: `d_lrelu${i + 1}` }).apply(h) as tf.SymbolicTensor;
  });
  if (kind === 'global') {
    h = tf.layers.globalAveragePooling2d({ name: 'd_pool' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 1, kernelInitializer: glorot('d_logit'), name: 'd_logit' }).apply(h) as tf.SymbolicTensor;
  } else {
    h = tf.layers.conv2d({ filters: 1, kernelSize: 4, strides: 1, padding: 'same', kernelInitializer: glorot('d_logit'), name: 'd_logit' }).apply(h) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: h, name: kind === 'global' ? 'discriminator' : 'patch_discriminator' });
}
