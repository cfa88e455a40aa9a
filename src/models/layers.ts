/**
 * Small custom Keras-style layers the generator needs and tfjs-layers lacks (there is no Lambda
 * layer in TensorFlow.js). Both are registered with tf.serialization on import, so a model saved
 * with them loads again (Node or browser) as long as this module has been imported.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';

type Shape = (number | null)[];

function single(shape: Shape | Shape[]): Shape {
  return Array.isArray(shape[0]) ? (shape as Shape[])[0] : (shape as Shape);
}

/** Picks channels [begin, begin + size) of an NHWC tensor. */
export class ChannelSlice extends tf.layers.Layer {
  static className = 'HarmoniaChannelSlice';
  readonly begin: number;
  readonly size: number;
  constructor(config: { begin: number; size: number; name?: string }) {
    super({ name: config.name });
    if (!Number.isInteger(config.begin) || config.begin < 0 || !Number.isInteger(config.size) || config.size < 1) {
      throw new HarmoniaError(`ChannelSlice: begin must be >= 0 and size >= 1 (integers), got ${config.begin}, ${config.size}`);
    }
    this.begin = config.begin;
    this.size = config.size;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = single(inputShape);
    return [...s.slice(0, -1), this.size];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => {
      const c = x.shape[x.rank - 1];
      if (this.begin + this.size > c) throw new HarmoniaError(`ChannelSlice: needs ${this.begin + this.size} channels, input has ${c}`);
      const begin = x.shape.map((_, i) => (i === x.rank - 1 ? this.begin : 0));
      const size = x.shape.map((_, i) => (i === x.rank - 1 ? this.size : -1));
      return tf.slice(x, begin, size);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), begin: this.begin, size: this.size };
  }
}

/**
 * Residual, mask-blended output: inputs [x, z] with x = [N,H,W,4] (RGB + mask, RGB in [0,1]) and
 * z = [N,H,W,3] raw network output. Returns `rgb + m·(clip(rgb + scale·tanh(z), 0, 1) − rgb)`, so
 * where the mask is exactly 0 the output is exactly the input pixel (bit-identical).
 */
export class ResidualBlend extends tf.layers.Layer {
  static className = 'HarmoniaResidualBlend';
  readonly scale: number;
  constructor(config: { scale?: number; name?: string } = {}) {
    super({ name: config.name });
    this.scale = config.scale ?? 1;
    if (!(this.scale > 0)) throw new HarmoniaError(`ResidualBlend: scale must be > 0, got ${this.scale}`);
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = inputShape as Shape[];
    return [...shapes[1].slice(0, -1), 3];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new HarmoniaError('ResidualBlend: expects [input, delta]');
    const [x, z] = inputs as [tf.Tensor4D, tf.Tensor4D];
    return tf.tidy(() => {
      if (x.shape[3] !== 4) throw new HarmoniaError(`ResidualBlend: input needs 4 channels (RGB + mask), got ${x.shape[3]}`);
      const rgb = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 3]);
      const m = tf.slice(x, [0, 0, 0, 3], [-1, -1, -1, 1]);
      const moved = tf.clipByValue(tf.add(rgb, tf.mul(tf.tanh(z), this.scale)), 0, 1);
      return tf.add(rgb, tf.mul(m, tf.sub(moved, rgb)));
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale };
  }
}

tf.serialization.registerClass(ChannelSlice);
tf.serialization.registerClass(ResidualBlend);
