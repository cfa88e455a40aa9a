import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor, Tensor4D } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { generatorAdversarialLoss, discriminatorAdversarialLoss, assertAdversarialKind } from './adversarial.ts';
import type { AdversarialKind } from './adversarial.ts';
import { l1Loss, maskedContentLoss, foregroundNormalizedMse, noWorsePenalty, foregroundLogRatio } from './content.ts';
import { featureLoss } from './feature.ts';
import type { FeatureExtractor } from './feature.ts';

export * from './adversarial.ts';
export * from './content.ts';
export * from './feature.ts';

/** The paper's three content settings. */
export type LossSetting = 'content' | 'mask' | 'feature';
export const LOSS_SETTINGS: readonly LossSetting[] = ['content', 'mask', 'feature'];

/** Everything that defines the generator's and discriminator's objectives. */
export interface LossConfig {
  setting: LossSetting;
  /** Adversarial loss family (paper: bce). */
  adversarial: AdversarialKind;
  /** Weight of L_adv in L_G (paper: 1). */
  adversarialWeight: number;
  /** Weight of L1(x, X) in the content and feature settings (paper: 100). */
  l1Weight: number;
  /** Mask setting: weight of L1 on the foreground, λ_mask. */
  lambdaMask: number;
  /** Mask setting: weight of L1 on the background, λ_unmask. */
  lambdaUnmask: number;
  /** Feature setting: weight of the VGG-19 feature MSE (paper: 10). */
  featureWeight: number;
  /** Feature setting: VGG-19 layers whose maps are compared (e.g. relu2_2, relu3_1). */
  featureLayers: string[];
  /** Beyond the paper: weight of the foreground-normalised MSE added to L_G (0 = off). */
  fnMseWeight: number;
  /** Minimum foreground area for the FN-MSE, as a fraction of the image (iS²AM: 100 px at 256²). */
  fnMseMinArea: number;
  /** Beyond the paper: weight of the penalty on making the foreground worse than G's input (0 = off). */
  noWorseWeight?: number;
  /** Beyond the paper: weight of the foreground log-ratio ln(fMSE(G(x))/fMSE(x)), the fPSNR gain itself (0 = off). */
  logRatioWeight?: number;
}

export const DEFAULT_LOSS: LossConfig = {
  setting: 'content',
  adversarial: 'bce',
  adversarialWeight: 1,
  l1Weight: 100,
  lambdaMask: 100,
  lambdaUnmask: 100,
  featureWeight: 10,
  featureLayers: ['relu2_2', 'relu3_4'],
  fnMseWeight: 0,
  fnMseMinArea: 100 / (256 * 256),
};

export function validateLossConfig(c: LossConfig, where = 'loss'): void {
  if (!(LOSS_SETTINGS as readonly string[]).includes(c.setting)) {
    throw new HarmoniaError(`${where}.setting: must be one of ${LOSS_SETTINGS.join(', ')}, got "${c.setting}"`);
  }
  assertAdversarialKind(c.adversarial, `${where}.adversarial`);
  for (const k of ['adversarialWeight', 'l1Weight', 'lambdaMask', 'lambdaUnmask', 'featureWeight', 'fnMseWeight'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) throw new HarmoniaError(`${where}.${k}: must be a finite number ≥ 0, got ${c[k]}`);
  }
  if (c.noWorseWeight !== undefined && !(Number.isFinite(c.noWorseWeight) && c.noWorseWeight >= 0)) {
    throw new HarmoniaError(`${where}.noWorseWeight: must be a finite number ≥ 0, got ${c.noWorseWeight}`);
  }
  if (c.logRatioWeight !== undefined && !(Number.isFinite(c.logRatioWeight) && c.logRatioWeight >= 0)) {
    throw new HarmoniaError(`${where}.logRatioWeight: must be a finite number ≥ 0, got ${c.logRatioWeight}`);
  }
  if (!(c.fnMseMinArea > 0 && c.fnMseMinArea <= 1)) throw new HarmoniaError(`${where}.fnMseMinArea: must be in (0, 1], got ${c.fnMseMinArea}`);
  if (c.setting === 'feature' && c.featureLayers.length === 0) throw new HarmoniaError(`${where}.featureLayers: the feature setting needs at least one layer`);
}

/** Named parts of a loss, each already weighted; `total` is their sum. */
export interface LossParts {
  total: Scalar;
  parts: Record<string, Scalar>;
}

/**
 * L_G for one batch: adversarial + the setting's content terms (+ FN-MSE when enabled).
 * `fake` = G(x), `real` = X, `mask` N×H×W×1, `fakeLogits` = D(G(x)). The feature setting needs `features`.
 */
export function generatorLoss(
  cfg: LossConfig,
  t: { fake: Tensor4D; real: Tensor4D; mask: Tensor4D; fakeLogits: Tensor; features?: FeatureExtractor; input?: Tensor4D },
): LossParts {
  if (cfg.setting === 'feature' && !t.features) throw new HarmoniaError('generatorLoss: the feature setting needs a feature extractor (VGG-19)');
  const parts: Record<string, Scalar> = {};
  parts.adv = tf.tidy(() => generatorAdversarialLoss(t.fakeLogits, cfg.adversarial).mul(cfg.adversarialWeight) as Scalar);
  switch (cfg.setting) {
    case 'content':
      parts.l1 = tf.tidy(() => l1Loss(t.fake, t.real).mul(cfg.l1Weight) as Scalar);
      break;
    case 'mask': {
      const m = maskedContentLoss(t.fake, t.real, t.mask, cfg.lambdaMask, cfg.lambdaUnmask);
      m.total.dispose();
      parts.l1_fg = m.foreground;
      parts.l1_bg = m.background;
      break;
    }
    case 'feature':
      parts.l1 = tf.tidy(() => l1Loss(t.fake, t.real).mul(cfg.l1Weight) as Scalar);
      parts.feature = tf.tidy(() => featureLoss(t.features!, t.fake, t.real).mul(cfg.featureWeight) as Scalar);
      break;
  }
  if (cfg.fnMseWeight > 0) {
    parts.fnmse = tf.tidy(() => foregroundNormalizedMse(t.fake, t.real, t.mask, cfg.fnMseMinArea).mul(cfg.fnMseWeight) as Scalar);
  }
  if ((cfg.noWorseWeight ?? 0) > 0) {
    if (!t.input) throw new HarmoniaError('generatorLoss: noWorseWeight > 0 needs the generator input');
    parts.noworse = tf.tidy(() => noWorsePenalty(t.fake, t.real, t.input as Tensor4D, t.mask, cfg.fnMseMinArea).mul(cfg.noWorseWeight as number) as Scalar);
  }
  if ((cfg.logRatioWeight ?? 0) > 0) {
    if (!t.input) throw new HarmoniaError('generatorLoss: logRatioWeight > 0 needs the generator input');
    parts.logratio = tf.tidy(() => foregroundLogRatio(t.fake, t.real, t.input as Tensor4D, t.mask, cfg.fnMseMinArea).mul(cfg.logRatioWeight as number) as Scalar);
  }
  const total = tf.tidy(() => tf.addN(Object.values(parts)) as Scalar);
  return { total, parts };
}

/** L_D for one batch. */
export function discriminatorLoss(cfg: LossConfig, realLogits: Tensor, fakeLogits: Tensor): LossParts {
  const total = discriminatorAdversarialLoss(realLogits, fakeLogits, cfg.adversarial);
  return { total, parts: { d: total } };
}
