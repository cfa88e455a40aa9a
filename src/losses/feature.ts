import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor, Tensor4D } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';

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
      sum = sum.add(tf.mean(tf.squaredDifference(a, b)));
    }
    return sum.div(fake.length) as Scalar;
  });
}

/** featureMseFromMaps(F(x), F(X)). */
export function featureLoss(extract: FeatureExtractor, x: Tensor4D, target: Tensor4D): Scalar {
  return tf.tidy(() => featureMseFromMaps(extract(x), extract(target)));
}
