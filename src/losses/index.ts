import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { generatorAdversarialLoss, discriminatorAdversarialLoss, assertAdversarialKind } from './adversarial.ts';
import type { AdversarialKind } from './adversarial.ts';
import { assertLossSetting, allLossWeights, lossSetting, lossTerms, lossWeight } from './registry.ts';
import type { LossInputs } from './registry.ts';

export * from './adversarial.ts';
export * from './content.ts';
export * from './feature.ts';
export * from './registry.ts';

/** A loss setting's name: one registered in registry.ts (the paper's three: content, mask, feature). */
export type LossSetting = string;

/** Everything that defines the generator's and discriminator's objectives. */
export interface LossConfig {
  /** A registered loss setting (registry.ts). */
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
  /** Beyond the paper: weight of the hinge max(0, ln(fMSE(G(x))/fMSE(x))) on images made worse (0 = off). */
  worseLogWeight?: number;
  /**
   * The floor ε added to both fMSEs of the log-ratio terms, on the 0–255² scale (default 0.65, i.e. 1e-5 on
   * the 0–1 scale). A floor near the visibility threshold (e.g. 25) keeps identity samples (input fMSE 0) from
   * dominating: ln(1 + fMSE/ε) then grows like the visible damage, not like ln of a near-zero number.
   */
  logRatioFloor?: number;
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
  assertLossSetting(c.setting, `${where}.setting`);
  assertAdversarialKind(c.adversarial, `${where}.adversarial`);
  const check = (key: string, v: unknown) => {
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new HarmoniaError(`${where}.${key}: must be a finite number ≥ 0, got ${v}`);
  };
  check('adversarialWeight', c.adversarialWeight);
  // every weight of every registered setting and add-on term (optional ones may be absent)
  for (const { weight } of allLossWeights()) {
    const v = (c as unknown as Record<string, unknown>)[weight.key];
    if (v !== undefined || weight.default === undefined) check(weight.key, v);
  }
  if (!(c.fnMseMinArea > 0 && c.fnMseMinArea <= 1)) throw new HarmoniaError(`${where}.fnMseMinArea: must be in (0, 1], got ${c.fnMseMinArea}`);
  if (c.logRatioFloor !== undefined && !(c.logRatioFloor > 0 && c.logRatioFloor <= 10000)) throw new HarmoniaError(`${where}.logRatioFloor: must be in (0, 10000] (fMSE on the 0–255 scale), got ${c.logRatioFloor}`);
  lossSetting(c.setting).validate?.(c, where);
}

/** Named parts of a loss, each already weighted; `total` is their sum. */
export interface LossParts {
  total: Scalar;
  parts: Record<string, Scalar>;
}

/**
 * L_G for one batch: adversarial + the setting's terms (registry.ts) + the add-on terms whose weight
 * is > 0, summed in that order. A setting with `needsFeatures` needs `features`; add-on terms with
 * `needsInput` need G's `input`.
 */
export function generatorLoss(cfg: LossConfig, t: LossInputs): LossParts {
  const setting = lossSetting(cfg.setting);
  if (setting.needsFeatures && !t.features) throw new HarmoniaError(`generatorLoss: the ${setting.name} setting needs a feature extractor (VGG-19)`);
  const terms = lossTerms().filter((term) => lossWeight(cfg, term.weight) > 0);
  for (const term of terms) {
    if (term.needsInput && !t.input) throw new HarmoniaError(`generatorLoss: ${term.weight.key} > 0 needs the generator input`);
  }
  const parts: Record<string, Scalar> = {};
  parts.adv = tf.tidy(() => generatorAdversarialLoss(t.fakeLogits, cfg.adversarial).mul(cfg.adversarialWeight) as Scalar);
  Object.assign(parts, setting.terms(cfg, t));
  for (const term of terms) {
    const w = lossWeight(cfg, term.weight);
    parts[term.name] = tf.tidy(() => term.compute(cfg, t).mul(w) as Scalar);
  }
  const total = tf.tidy(() => tf.addN(Object.values(parts)) as Scalar);
  return { total, parts };
}

/** L_D for one batch. */
export function discriminatorLoss(cfg: LossConfig, realLogits: Tensor, fakeLogits: Tensor): LossParts {
  const total = discriminatorAdversarialLoss(realLogits, fakeLogits, cfg.adversarial);
  return { total, parts: { d: total } };
}
