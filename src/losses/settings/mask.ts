/** The paper's mask setting: L_G = L_adv + λ_mask·L1 on the foreground + λ_unmask·L1 on the background. */
import type { Scalar } from '../../engine/tf.ts';
import { maskedContentLoss } from '../content.ts';
import type { LossSettingEntry } from '../types.ts';

export const MASK_SETTING: LossSettingEntry = {
  name: 'mask',
  description: 'GAN + mask loss: λ_mask·L1 on the foreground + λ_unmask·L1 on the background',
  column: 'GAN + Mask',
  needsFeatures: false,
  weights: [
    { key: 'lambdaMask', flag: 'lambda-mask', description: 'λ_mask (foreground L1 weight)' },
    { key: 'lambdaUnmask', flag: 'lambda-unmask', description: 'λ_unmask (background L1 weight)' },
  ],
  terms: (cfg, t) => {
    const m = maskedContentLoss(t.fake, t.real, t.mask, cfg.lambdaMask, cfg.lambdaUnmask);
    m.total.dispose();
    return { l1_fg: m.foreground as Scalar, l1_bg: m.background as Scalar };
  },
};
