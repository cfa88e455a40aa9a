import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';

/**
 * Pixel losses between a generated image x and the ground truth X (NHWC, same shape) with an
 * optional mask m (N×H×W×1, 1 = foreground, broadcast over channels). All are means over every
 * element (N·H·W·C), exactly as the paper's formulas read: L1(x·m, X·m) averages over the whole
 * image, so its size depends on the foreground share (that is what `foregroundNormalizedMse` fixes).
 */

function assertSameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new HarmoniaError(`${what}: shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}

function assertMask(x: Tensor, mask: Tensor, what: string): void {
  if (x.rank !== 4 || mask.rank !== 4 || mask.shape[3] !== 1 || mask.shape[0] !== x.shape[0] ||
    mask.shape[1] !== x.shape[1] || mask.shape[2] !== x.shape[2]) {
    throw new HarmoniaError(`${what}: mask must be N×H×W×1 matching the image [${x.shape.join(', ')}], got [${mask.shape.join(', ')}]`);
  }
}

/** mean |x − X|. */
export function l1Loss(x: Tensor, target: Tensor): Scalar {
  assertSameShape(x, target, 'l1Loss');
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(x, target))) as Scalar);
}

/** mean (x − X)². */
export function mseLoss(x: Tensor, target: Tensor): Scalar {
  assertSameShape(x, target, 'mseLoss');
  return tf.tidy(() => tf.mean(tf.squaredDifference(x, target)) as Scalar);
}

/** L1(x·w, X·w) = mean |(x − X)·w| for a weight map w (N×H×W×1), averaged over all elements. */
export function weightedL1(x: Tensor, target: Tensor, weight: Tensor): Scalar {
  assertSameShape(x, target, 'weightedL1');
  assertMask(x, weight, 'weightedL1');
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(x, target).mul(weight))) as Scalar);
}

/**
 * The paper's "content + mask" loss: λ_unmask·L1(x·(1−m), X·(1−m)) + λ_mask·L1(x·m, X·m).
 * Returns the total and both weighted parts.
 */
export function maskedContentLoss(
  x: Tensor, target: Tensor, mask: Tensor, lambdaMask: number, lambdaUnmask: number,
): { total: Scalar; foreground: Scalar; background: Scalar } {
  if (!(lambdaMask >= 0) || !(lambdaUnmask >= 0)) {
    throw new HarmoniaError(`maskedContentLoss: lambdaMask and lambdaUnmask must be ≥ 0, got ${lambdaMask} and ${lambdaUnmask}`);
  }
  assertSameShape(x, target, 'maskedContentLoss');
  assertMask(x, mask, 'maskedContentLoss');
  return tf.tidy(() => {
    const absDiff = tf.abs(tf.sub(x, target));
    const foreground = tf.mean(absDiff.mul(mask)).mul(lambdaMask) as Scalar;
    const background = tf.mean(absDiff.mul(tf.sub(1, mask))).mul(lambdaUnmask) as Scalar;
    return { total: foreground.add(background) as Scalar, foreground, background };
  });
}

/**
 * Foreground-normalised MSE (iS²AM, Sofiiuk et al. WACV 2021): per image
 * Σ_{h,w,c} (x − X)² / max(A_min, Σ_{h,w} m), averaged over the batch. A_min = `minAreaFraction`·H·W
 * (iS²AM uses 100 px at 256², i.e. ≈ 0.0015), so tiny objects do not blow the loss up.
 */
export function foregroundNormalizedMse(x: Tensor, target: Tensor, mask: Tensor, minAreaFraction = 100 / (256 * 256)): Scalar {
  if (!(minAreaFraction > 0 && minAreaFraction <= 1)) {
    throw new HarmoniaError(`foregroundNormalizedMse: minAreaFraction must be in (0, 1], got ${minAreaFraction}`);
  }
  assertSameShape(x, target, 'foregroundNormalizedMse');
  assertMask(x, mask, 'foregroundNormalizedMse');
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const perImage = tf.sum(tf.squaredDifference(x, target), [1, 2, 3]);
    const area = tf.maximum(tf.sum(mask, [1, 2, 3]), minAreaFraction * h * w);
    return tf.mean(perImage.div(area)) as Scalar;
  });
}

/**
 * Penalty on making a composite worse (beyond the paper): per image
 * max(0, Σ(x − X)² − Σ(input − X)²) / max(A_min, Σ m), averaged over the batch, where `input` is what
 * G was given. Zero whenever G improves (or keeps) the foreground error; it is what stops a model from
 * over-correcting composites that barely need it (the worse-than-composite share).
 */
export function noWorsePenalty(x: Tensor, target: Tensor, input: Tensor, mask: Tensor, minAreaFraction = 100 / (256 * 256)): Scalar {
  if (!(minAreaFraction > 0 && minAreaFraction <= 1)) {
    throw new HarmoniaError(`noWorsePenalty: minAreaFraction must be in (0, 1], got ${minAreaFraction}`);
  }
  assertSameShape(x, target, 'noWorsePenalty');
  assertSameShape(input, target, 'noWorsePenalty input');
  assertMask(x, mask, 'noWorsePenalty');
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const after = tf.sum(tf.squaredDifference(x, target), [1, 2, 3]);
    const before = tf.sum(tf.squaredDifference(input, target), [1, 2, 3]);
    const area = tf.maximum(tf.sum(mask, [1, 2, 3]), minAreaFraction * h * w);
    return tf.mean(tf.relu(tf.sub(after, before)).div(area)) as Scalar;
  });
}

/**
 * Foreground log-ratio loss (beyond the paper): per image
 * ln((fMSE(x) + ε) / (fMSE(input) + ε)), averaged over the batch, with fMSE the mean squared error over
 * the foreground pixels and channels (area floored at A_min, as the FN-MSE). Because the background is
 * untouched, −10/ln 10 times this is exactly the mean gain in PSNR and fPSNR over G's input that the
 * evaluation reports, so it is the metric itself: negative when G improves, 0 at the identity, and a
 * composite that barely needs a change weighs as much as a badly shifted one (a linear MSE lets the
 * large errors dominate and the mild composites get worse). ε = 1e-5 (0.65 on the 0–255² scale).
 * `worseOnly` keeps only the images made worse (max(0, ln ratio)): a scale-free hinge on the
 * worse-than-composite share, where `noWorsePenalty` is linear in the squared error and so barely
 * sees the mildly shifted composites that are the ones made worse.
 */
export function foregroundLogRatio(x: Tensor, target: Tensor, input: Tensor, mask: Tensor, minAreaFraction = 100 / (256 * 256), eps = 1e-5, worseOnly = false): Scalar {
  if (!(minAreaFraction > 0 && minAreaFraction <= 1)) {
    throw new HarmoniaError(`foregroundLogRatio: minAreaFraction must be in (0, 1], got ${minAreaFraction}`);
  }
  if (!(eps > 0)) throw new HarmoniaError(`foregroundLogRatio: eps must be > 0, got ${eps}`);
  assertSameShape(x, target, 'foregroundLogRatio');
  assertSameShape(input, target, 'foregroundLogRatio input');
  assertMask(x, mask, 'foregroundLogRatio');
  return tf.tidy(() => {
    const [, h, w, c] = x.shape;
    const area = tf.maximum(tf.sum(mask, [1, 2, 3]), minAreaFraction * h * w).mul(c);
    const after = tf.sum(tf.squaredDifference(x, target), [1, 2, 3]).div(area).add(eps);
    const before = tf.sum(tf.squaredDifference(input, target), [1, 2, 3]).div(area).add(eps);
    const ratio = tf.log(after.div(before));
    return tf.mean(worseOnly ? tf.relu(ratio) : ratio) as Scalar;
  });
}

/** The log-ratio terms' ε on the 0–1 scale: a floor given as an fMSE on the 0–255 scale, or 1e-5 (0.65 on that scale). */
export function logRatioEps(c: { logRatioFloor?: number }): number {
  return c.logRatioFloor === undefined ? 1e-5 : c.logRatioFloor / (255 * 255);
}
