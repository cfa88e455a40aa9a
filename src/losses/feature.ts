import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor, Tensor4D } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { untaped } from '../engine/ops.ts';

/**
 * Maps an image batch (NHWC, the generator's value range) to a list of feature maps, e.g. VGG-19
 * activations at chosen layers. It must be differentiable with respect to its input and must not
 * train (its weights are frozen: only the generator's variables are given to the optimizer).
 */
export type FeatureExtractor = (images: Tensor4D) => Tensor[];

/**
 * Feature (perceptual) loss: the mean over layers of MSE(F_l(x), F_l(X)). Feature maps, never
 * classifier outputs. The target's features carry no gradient (they are computed outside the
 * tape's interest: X is data, not a variable).
 */
export function featureMseFromMaps(fake: readonly Tensor[], real: readonly Tensor[]): Scalar {
  if (fake.length === 0 || fake.length !== real.length) {
    throw new HarmoniaError(`featureMse: need the same non-zero number of feature maps, got ${fake.length} and ${real.length}`);
  }
  return tf.tidy(() => {
    let sum: Tensor = tf.scalar(0);
    for (let i = 0; i < fake.length; i++) {
      const a = fake[i], b = real[i];
      if (a.shape.join() !== b.shape.join()) {
        throw new HarmoniaError(`featureMse: layer ${i} shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
      }
      sum = sum.add(mseToConstant(a, b));
    }
    return sum.div(fake.length) as Scalar;
  });
}

/**
 * mean((a − b)²) with a gradient for `a` only (b is a target: constant). Its backward pass is two
 * elementwise passes, (a − b)·(2·dy/N), where tfjs's mean and squaredDifference gradients make a
 * JS-filled ones tensor and four more passes over every feature map.
 */
export function mseToConstant(a: Tensor, b: Tensor): Scalar {
  const n = a.size;
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [Tensor, tf.GradSaveFunc];
    save([x, b]);
    return {
      value: tf.mean(tf.squaredDifference(x, b)) as Scalar,
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(tf.sub(saved[0], saved[1]), tf.mul(dy, 2 / n)),
    };
  });
  return op(a) as Scalar;
}

/** featureMseFromMaps(F(x), F(X)); F(X) runs untaped (no gradient flows to the target). */
export function featureLoss(extract: FeatureExtractor, x: Tensor4D, target: Tensor4D): Scalar {
  const real = untaped(() => extract(target));
  try {
    return tf.tidy(() => featureMseFromMaps(extract(x), real));
  } finally {
    tf.dispose(real);
  }
}
