/** The paper's content setting: L_G = L_adv + λ_L1·L1(G(x), X). */
import { tf } from '../../engine/tf.ts';
import type { Scalar } from '../../engine/tf.ts';
import { l1Loss } from '../content.ts';
import type { LossSettingEntry, LossWeight } from '../types.ts';

export const L1_WEIGHT: LossWeight = { key: 'l1Weight', flag: 'l1-weight', description: 'L1 weight (paper 100)' };

export const CONTENT_SETTING: LossSettingEntry = {
  name: 'content',
  description: 'GAN + content loss: 100·L1 over the whole image',
  column: 'GAN + Content',
  needsFeatures: false,
  weights: [L1_WEIGHT],
  terms: (cfg, t) => ({ l1: tf.tidy(() => l1Loss(t.fake, t.real).mul(cfg.l1Weight) as Scalar) }),
};
