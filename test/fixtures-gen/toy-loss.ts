/**
 * A user module that adds a loss setting: this one file, with its one `registerLossSetting` line at the
 * end (test/architecture/user-modules.test.ts loads it with `harmonia train --import <this file>`).
 * Its weight has its own flag, --toy-l2-weight.
 */
import { tf, type Scalar } from '../../src/engine/tf.ts';
import { registerLossSetting, lossWeight, mseLoss, type LossWeight } from '../../src/losses/index.ts';

const WEIGHT: LossWeight = { key: 'toyL2Weight', flag: 'toy-l2-weight', description: 'weight of the toy L2 term', default: 100 };

registerLossSetting({
  name: 'toy-l2',
  description: 'toy: weight·MSE over the whole image (a user module)',
  column: 'GAN + toy L2',
  needsFeatures: false,
  weights: [WEIGHT],
  terms: (cfg, t) => ({ toyl2: tf.tidy(() => mseLoss(t.fake, t.real).mul(lossWeight(cfg, WEIGHT)) as Scalar) }),
});
