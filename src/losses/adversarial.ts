import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';

/**
 * Adversarial losses on raw discriminator outputs (logits, any shape; the mean over all elements
 * is taken, so a global D (N×1) and a PatchGAN D (N×h×w×1) work alike).
 *
 * - `bce` (the paper): D ends in a sigmoid; L_G = BCE(D(G(x)), 1), L_D = BCE(D(X), 1) + BCE(D(G(x)), 0).
 * - `lsgan` (Mao et al. 2017): L_G = ½·mean((D(G(x)) − 1)²), L_D = ½·mean((D(X) − 1)²) + ½·mean(D(G(x))²).
 * - `hinge` (Lim & Ye 2017; SAGAN): L_G = −mean(D(G(x))), L_D = mean(relu(1 − D(X))) + mean(relu(1 + D(G(x)))).
 */
export type AdversarialKind = 'bce' | 'lsgan' | 'hinge';
export const ADVERSARIAL_KINDS: readonly AdversarialKind[] = ['bce', 'lsgan', 'hinge'];

export function assertAdversarialKind(kind: string, what = 'adversarial'): asserts kind is AdversarialKind {
  if (!(ADVERSARIAL_KINDS as readonly string[]).includes(kind)) {
    throw new HarmoniaError(`${what}: must be one of ${ADVERSARIAL_KINDS.join(', ')}, got "${kind}"`);
  }
}

/**
 * Numerically stable binary cross-entropy of sigmoid(logits) against a constant target in [0, 1]:
 * mean(max(x, 0) − x·t + log(1 + exp(−|x|))). Never takes log(0), so it stays finite for any logit.
 */
export function bceWithLogits(logits: Tensor, target: number): Scalar {
  if (!(target >= 0 && target <= 1)) throw new HarmoniaError(`bceWithLogits: target must be in [0, 1], got ${target}`);
  return tf.tidy(() => {
    const x = logits.toFloat();
    const loss = tf.relu(x).sub(x.mul(target)).add(tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return tf.mean(loss) as Scalar;
  });
}

/** The generator's adversarial loss, from D's logits on generated images. */
export function generatorAdversarialLoss(fakeLogits: Tensor, kind: AdversarialKind = 'bce'): Scalar {
  assertAdversarialKind(kind);
  return tf.tidy(() => {
    switch (kind) {
      case 'bce': return bceWithLogits(fakeLogits, 1);
      case 'lsgan': return tf.mean(tf.square(fakeLogits.sub(1))).mul(0.5) as Scalar;
      case 'hinge': return tf.neg(tf.mean(fakeLogits)) as Scalar;
    }
  });
}

/** The discriminator's loss, from its logits on real photos and on generated images. */
export function discriminatorAdversarialLoss(realLogits: Tensor, fakeLogits: Tensor, kind: AdversarialKind = 'bce'): Scalar {
  assertAdversarialKind(kind);
  return tf.tidy(() => {
    switch (kind) {
      case 'bce': return bceWithLogits(realLogits, 1).add(bceWithLogits(fakeLogits, 0)) as Scalar;
      case 'lsgan':
        return tf.mean(tf.square(realLogits.sub(1))).mul(0.5).add(tf.mean(tf.square(fakeLogits)).mul(0.5)) as Scalar;
      case 'hinge':
        return tf.mean(tf.relu(tf.sub(1, realLogits))).add(tf.mean(tf.relu(tf.add(1, fakeLogits)))) as Scalar;
    }
  });
}
