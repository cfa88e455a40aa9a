/**
 * The types of the loss registry and its configs (no values): LossConfig (index.ts holds its defaults
 * and check), what a term sees, and the entries of settings and add-on terms (registry.ts registers
 * them; settings/ defines them). A file of its own so that settings/, registry.ts and index.ts import
 * it and not each other (no file cycle).
 */
import type { Scalar, Tensor, Tensor4D } from '../engine/tf.ts';
import type { AdversarialKind } from './adversarial.ts';
import type { FeatureExtractor } from './feature.ts';

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

/** What a loss term sees: `fake` = G(x), `real` = X, `mask` N×H×W×1, D's logits on G(x), G's input. */
export interface LossInputs {
  fake: Tensor4D;
  real: Tensor4D;
  mask: Tensor4D;
  fakeLogits: Tensor;
  /** VGG-19 feature maps (settings with `needsFeatures`). */
  features?: FeatureExtractor;
  /** What G was given (terms with `needsInput`). */
  input?: Tensor4D;
}

/** A numeric LossConfig field a setting or term reads, with its CLI flag. */
export interface LossWeight {
  /** LossConfig field (a new setting may add its own field: it travels in the saved config). */
  key: string;
  /** CLI flag without the dashes, e.g. `lambda-mask`. */
  flag: string;
  description: string;
  /** Value when the config does not have the field (a setting added after a config was saved). */
  default?: number;
  /** `harmonia sweep` takes a list of values for it (default true). */
  sweep?: boolean;
}

/** A string-list LossConfig field with its CLI flag (comma-separated), e.g. the feature taps. */
export interface LossListOption {
  key: string;
  flag: string;
  description: string;
}

export interface LossSettingEntry {
  name: string;
  description: string;
  /** Column of Table 1 (`harmonia experiment`). */
  column: string;
  /** The terms need a FeatureExtractor (VGG-19): the trainer builds one and the experiment checks the weights first. */
  needsFeatures: boolean;
  weights: readonly LossWeight[];
  lists?: readonly LossListOption[];
  /** The content terms, each already weighted, named as the log's loss parts (in summation order). */
  terms(cfg: LossConfig, t: LossInputs): Record<string, Scalar>;
  /** Checks beyond "every weight is a finite number ≥ 0". */
  validate?(cfg: LossConfig, where: string): void;
}

/** A term added to L_G of every setting when its weight is > 0. */
export interface LossTermEntry {
  /** Loss-part name in the log (e.g. `fnmse`). */
  name: string;
  weight: LossWeight;
  /** The term needs G's input (`LossInputs.input`). */
  needsInput: boolean;
  /** The unweighted term. */
  compute(cfg: LossConfig, t: LossInputs): Scalar;
}
