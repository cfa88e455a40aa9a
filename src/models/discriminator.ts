/**
 * The discriminator D (paper: fully convolutional, any input size, reduced to one value, then a
 * sigmoid giving the probability that the image is a real photo), as a tf.LayersModel.
 *
 * The model returns LOGITS; the sigmoid belongs in the loss (BCE-with-logits), which is the
 * numerically stable form of the paper's sigmoid + BCE.
 *
 * Paper D (PAPER_DISCRIMINATOR, kind 'image'): conv 3→32→64→128→256 (4×4, stride 2, 'same',
 * bias, LeakyReLU 0.2), global average pool, dense 256→1. 690,401 params. Output [N,1].
 * 'patch' (PatchGAN): conv base→2b→4b (stride 2) → 8b (stride 1), all LeakyReLU 0.2, then a 4×4
 * stride-1 conv to 1 channel: logits [N,⌈H/8⌉,⌈W/8⌉,1], one per overlapping patch.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { layerSeed } from './generator.ts';
import { conv2dBiasLeakyRelu } from '../engine/ops.ts';

type Shape = (number | null)[];
type Initializer = ReturnType<typeof tf.initializers.heUniform>;

/**
 * A 'same'-padded convolution with bias followed by a leaky ReLU, as one layer: the weights
 * (`<name>/kernel` HWIO, `<name>/bias`), their initialisation and the values are those of
 * tf.layers.conv2d + tf.layers.leakyReLU, but on the native backend it is one fused kernel whose
 * gradient computes only what is asked for (src/engine/ops.ts conv2dBiasLeakyRelu).
 */
export class ConvLeakyReLU extends tf.layers.Layer {
  static className = 'HarmoniaConvLeakyReLU';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly alpha: number;
  private readonly kernelInitializer: Initializer;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;
  constructor(config: { filters: number; kernelSize: number; strides: number; alpha: number; kernelInitializer?: Initializer; name?: string }) {
    super({ name: config.name });
    this.filters = config.filters;
    this.kernelSize = config.kernelSize;
    this.strides = config.strides;
    this.alpha = config.alpha;
    this.kernelInitializer = config.kernelInitializer ?? tf.initializers.glorotUniform({});
  }
  override build(inputShape: Shape | Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const inC = s[s.length - 1];
    if (inC === null) throw new HarmoniaError(`${this.name}: the number of input channels must be known`);
    this.kernel = this.addWeight('kernel', [this.kernelSize, this.kernelSize, inC, this.filters], 'float32', this.kernelInitializer, undefined, true);
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros(), undefined, true);
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const out = (v: number | null) => (v === null ? null : Math.ceil(v / this.strides));
    return [s[0], out(s[1]), out(s[2]), this.filters];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return tf.tidy(() => conv2dBiasLeakyRelu(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), this.kernel!.read() as tf.Tensor4D, this.bias!.read() as tf.Tensor1D, [this.strides, this.strides], 'same', this.alpha));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, alpha: this.alpha };
  }
}
tf.serialization.registerClass(ConvLeakyReLU);

/**
 * D's kinds: 'image' (one logit per image, the paper) or 'patch' (a map of logits, PatchGAN). Not the generator
 * registry's kinds: a generator 'global' is a colour transform, so D's per-image kind is named 'image'.
 */
export type DiscriminatorKind = 'image' | 'patch';
export const DISCRIMINATOR_KINDS: readonly DiscriminatorKind[] = ['image', 'patch'];
/** Names that configs written before the rename use for D's kinds (checkpoints keep resuming). */
const LEGACY_DISCRIMINATOR_KINDS: Readonly<Record<string, DiscriminatorKind>> = { global: 'image' };

/** A D kind from a config, legacy names mapped ('global' → 'image'); undefined stays undefined. Throws on anything else. */
export function normalizeDiscriminatorKind(kind: unknown, where = 'discriminator'): DiscriminatorKind | undefined {
  if (kind === undefined) return undefined;
  const k = typeof kind === 'string' ? (LEGACY_DISCRIMINATOR_KINDS[kind] ?? kind) : kind;
  if (!(DISCRIMINATOR_KINDS as readonly unknown[]).includes(k)) throw new HarmoniaError(`${where}: kind must be ${DISCRIMINATOR_KINDS.join(' or ')}, got "${String(kind)}"`);
  return k as DiscriminatorKind;
}

export interface DiscriminatorConfig {
  /** Channels of the first layer (base, 2b, 4b, 8b). Default 32. */
  base?: number;
  /** 'image' (one logit per image, the paper) or 'patch' (a map of logits). Default 'image'. */
  kind?: DiscriminatorKind;
  /** The mask is a 4th input channel. Default false. */
  maskInput?: boolean;
  /** Seed for the weight initialisers: the same config and seed give identical weights. Default 0. */
  seed?: number;
}

export const PAPER_DISCRIMINATOR: Readonly<DiscriminatorConfig> = Object.freeze({ base: 32, kind: 'image', maskInput: false });

/** Builds D. Input [N,H,W,3|4] (any H, W ≥ 1); output logits [N,1] ('image') or [N,h,w,1] ('patch'). */
export function buildDiscriminator(cfg: DiscriminatorConfig = {}): tf.LayersModel {
  const base = cfg.base ?? 32;
  if (!Number.isInteger(base) || base < 1 || base > 1024) throw new HarmoniaError(`buildDiscriminator: base must be an integer in 1..1024, got ${cfg.base}`);
  const kind = normalizeDiscriminatorKind(cfg.kind, 'buildDiscriminator') ?? 'image';
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
    // conv 4×4 'same' + bias, then leaky ReLU 0.2 (one fused layer; the weights of tf.layers.conv2d)
    h = new ConvLeakyReLU({ filters, kernelSize: 4, strides, alpha: 0.2, kernelInitializer: he(name), name }).apply(h) as tf.SymbolicTensor;
  });
  if (kind === 'image') {
    h = tf.layers.globalAveragePooling2d({ name: 'd_pool' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 1, kernelInitializer: glorot('d_logit'), name: 'd_logit' }).apply(h) as tf.SymbolicTensor;
  } else {
    h = tf.layers.conv2d({ filters: 1, kernelSize: 4, strides: 1, padding: 'same', kernelInitializer: glorot('d_logit'), name: 'd_logit' }).apply(h) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: h, name: kind === 'image' ? 'discriminator' : 'patch_discriminator' });
}
