/** The paper's feature setting: L_G = L_adv + λ_L1·L1 + λ_feat·MSE of VGG-19 feature maps. */
import { tf } from '../../engine/tf.ts';
import type { Scalar } from '../../engine/tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { l1Loss } from '../content.ts';
import { featureLoss } from '../feature.ts';
import type { LossSettingEntry } from '../types.ts';
import { L1_WEIGHT } from './content.ts';

export const FEATURE_SETTING: LossSettingEntry = {
  name: 'feature',
  description: 'GAN + feature loss: 100·L1 + 10·VGG-19 feature MSE',
  column: 'GAN + Feature',
  needsFeatures: true,
  weights: [L1_WEIGHT, { key: 'featureWeight', flag: 'feature-weight', description: 'VGG-19 feature MSE weight (paper 10)' }],
  lists: [{ key: 'featureLayers', flag: 'feature-layers', description: 'VGG-19 taps, comma-separated (e.g. relu2_2,relu3_4)' }],
  terms: (cfg, t) => {
    const features = t.features!; // generatorLoss checks needsFeatures
    return {
      l1: tf.tidy(() => l1Loss(t.fake, t.real).mul(cfg.l1Weight) as Scalar),
      feature: tf.tidy(() => featureLoss(features, t.fake, t.real).mul(cfg.featureWeight) as Scalar),
    };
  },
  validate: (cfg, where) => {
    if (cfg.featureLayers.length === 0) throw new HarmoniaError(`${where}.featureLayers: the feature setting needs at least one layer`);
  },
};
