import { tf } from '../engine/tf.ts';
import type { Scalar, Tensor } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { generatorAdversarialLoss, discriminatorAdversarialLoss, assertAdversarialKind } from './adversarial.ts';
import type { AdversarialKind } from './adversarial.ts';
import { assertLossSetting, allLossWeights, lossSetting, lossTerms, lossWeight } from './registry.ts';
import type { LossConfig, LossInputs } from './types.ts';

export * from './adversarial.ts';
export * from './content.ts';
export * from './feature.ts';
export * from './registry.ts';
export type * from './types.ts';

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
