/**
 * Experiment presets as typed objects: `paper` (the paper's hyper-parameters), `cpu` (about an
 * hour on 2 CPU cores, tuned for the fMSE/PSNR goal), `smoke` (under 2 minutes, used by tests).
 * Each preset is a base TrainConfig plus per-setting epochs and the data/evaluation sizes.
 */
import { HarmoniaError } from '../errors.ts';
import type { LossSetting } from '../losses/index.ts';
import { DEFAULT_LOSS, lossSetting } from '../losses/index.ts';
import { DEFAULT_VGG19_TAPS } from '../models/vgg.ts';
import type { IntrinsicOptions } from '../intrinsic/index.ts';
import { DEFAULT_TRAIN, mergeTrainConfig } from './config.ts';
import type { TrainConfig } from './config.ts';

export interface ExperimentPreset {
  name: PresetName;
  description: string;
  /** Base training config (loss.setting is replaced per setting). */
  train: TrainConfig;
  /** Epochs per loss setting (paper: 50 / 50 / 40); a setting not listed trains `train.epochs`. */
  epochs: Partial<Record<LossSetting, number>>;
  /** At most this many training / test samples (in list order); undefined = all. */
  trainLimit?: number;
  testLimit?: number;
  /** Side of the square images are resized to for training, the intrinsic cache and evaluation. */
  evalSize: number;
  /** Intrinsic Compositing options for the pre-harmonization stage. */
  intrinsic: IntrinsicOptions;
  /** Test images shown in the Fig. 4-style HTML rows. */
  figureCount: number;
}

export type PresetName = 'paper' | 'cpu' | 'smoke' | 'global-cpu';
export const PRESET_NAMES: readonly PresetName[] = ['paper', 'cpu', 'smoke', 'global-cpu'];

/** The paper: paper G and D, BCE, 100·L1, 10·VGG-19 feature MSE, Adam(2e-4, 0.5), 256², 50/50/40 epochs. */
export const PAPER_PRESET: ExperimentPreset = {
  name: 'paper',
  description: 'the paper: paper G/D, BCE, Adam(2e-4, β1 0.5), 256² full images, 50/50/40 epochs',
  train: mergeTrainConfig(DEFAULT_TRAIN, {
    generator: { base: 32, unet: false, maskInput: false, residual: false },
    discriminator: { base: 32, kind: 'image', maskInput: false },
    loss: { ...DEFAULT_LOSS, adversarial: 'bce', l1Weight: 100, featureWeight: 10, lambdaMask: 500, lambdaUnmask: 100, featureLayers: [...DEFAULT_VGG19_TAPS], fnMseWeight: 0 },
    optimizer: { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
    batchSize: 4, size: 256, crop: 256, flip: true, checkpointEvery: 500, workers: 2, sampleCount: 4,
  }),
  epochs: { content: 50, mask: 50, feature: 40 },
  evalSize: 256,
  intrinsic: {},
  figureCount: 6,
};

/**
 * Two CPU cores, about an hour in all on ~1,300 training images (e.g. Lalonde composites):
 * - residual output blended by the mask: G starts as the identity on the semi-harmonized input and
 *   the background stays exactly untouched, so PSNR can only lose where the foreground changes;
 * - the mask as a 4th input channel: G knows which pixels to fix;
 * - U-Net skips: detail (text, texture) passes through instead of being re-synthesised;
 * - PatchGAN D conditioned on the mask: judges local seams instead of one global logit;
 * - 128² random crops of 256² images (4× cheaper steps, same scale as the 256² evaluation);
 * - shallow VGG-19 taps (relu2_2, relu3_1) for the feature setting: VGG dominates its step cost
 *   (engine probe: relu4_1 fwd+bwd at 128² costs ~1.1 s per step on 2 cores; relu3_1 about half).
 */
export const CPU_PRESET: ExperimentPreset = {
  name: 'cpu',
  description: 'two CPU cores, ~1 h: residual+mask-input U-Net G, mask-conditioned PatchGAN, 128² crops of 256², 4/4/3 epochs',
  train: mergeTrainConfig(DEFAULT_TRAIN, {
    generator: { base: 32, unet: true, maskInput: true, residual: true },
    discriminator: { base: 32, kind: 'patch', maskInput: true },
    loss: { ...DEFAULT_LOSS, adversarial: 'bce', l1Weight: 100, featureWeight: 10, lambdaMask: 500, lambdaUnmask: 100, featureLayers: ['relu2_2', 'relu3_1'], fnMseWeight: 0 },
    optimizer: { lr: 3e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
    batchSize: 4, size: 256, crop: 128, flip: true, checkpointEvery: 200, workers: 2, sampleCount: 4,
  }),
  epochs: { content: 4, mask: 4, feature: 3 },
  evalSize: 256,
  intrinsic: {},
  figureCount: 6,
};

/**
 * Under 2 minutes end to end (tests): tiny G/D, 64² images, 32² crops, a handful of samples. Runs
 * anywhere: without the VGG-19 weights the feature setting uses a seeded random VGG-19
 * (allowRandomFeatures), and the run's notes say so (RANDOM_FEATURES_NOTE, once per output).
 */
export const SMOKE_PRESET: ExperimentPreset = {
  name: 'smoke',
  description: 'CI smoke run: tiny G/D (base 8), 64² images, 32² crops, 12 train / 4 test samples, 2 epochs each; random VGG-19 features when the weights are missing',
  train: mergeTrainConfig(DEFAULT_TRAIN, {
    generator: { base: 8, unet: true, maskInput: true, residual: true },
    discriminator: { base: 8, kind: 'patch', maskInput: true },
    loss: { ...DEFAULT_LOSS, lambdaMask: 500, lambdaUnmask: 100, featureLayers: ['relu1_2'] },
    optimizer: { lr: 1e-3, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
    batchSize: 4, size: 64, crop: 32, flip: true, checkpointEvery: 2, workers: 1, sampleCount: 2, allowRandomFeatures: true,
  }),
  epochs: { content: 2, mask: 2, feature: 2 },
  trainLimit: 12,
  testLimit: 4,
  evalSize: 64,
  intrinsic: { analysisMaxSide: 64 },
  figureCount: 2,
};

/**
 * The recipe of the shipped default model (beyond the paper), about an hour on 2 CPU cores:
 * - the `global` colour-transform generator (curves + affine + gate from a 64² copy of the scene),
 *   trained on the raw composite (the intrinsic stage cannot be cached for unlimited data, and
 *   alone it gains only +0.24 dB on these composites);
 * - unlimited composites synthesised on the fly from the training photos (`harmonia train --real`),
 *   64² samples (random crops of 60–100 % of the photo; the transform is predicted from a 64² copy
 *   and applied at any resolution, so the training scale is the analysis scale), batches of 16;
 * - the mask setting plus the foreground-normalised MSE (the metric); `--no-worse` adds the penalty
 *   on making a composite worse (used by the fine-tuning step of the shipped model, docs/MODEL_CARD.md);
 * - a small mask-conditioned PatchGAN (base 16) keeps the paper's adversarial term.
 */
export const GLOBAL_CPU_PRESET: ExperimentPreset = {
  name: 'global-cpu',
  description: 'two CPU cores, ~1 h: global colour-transform G on raw composites, on-the-fly composites, 64² samples, mask + FN-MSE losses',
  train: mergeTrainConfig(DEFAULT_TRAIN, {
    generator: { kind: 'global', base: 32, analysisSize: 64, hidden: 128, gateBias: 2 },
    discriminator: { base: 16, kind: 'patch', maskInput: true },
    loss: { ...DEFAULT_LOSS, setting: 'mask', adversarial: 'bce', adversarialWeight: 1, l1Weight: 100, lambdaMask: 100, lambdaUnmask: 0, featureWeight: 10, featureLayers: ['relu2_2', 'relu3_1'], fnMseWeight: 100, noWorseWeight: 0 },
    optimizer: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    batchSize: 16, size: 64, crop: 64, flip: true, checkpointEvery: 500, workers: 2, sampleCount: 8,
  }),
  epochs: { content: 60, mask: 60, feature: 30 },
  evalSize: 256,
  intrinsic: {},
  figureCount: 6,
};

export const PRESETS: Record<PresetName, ExperimentPreset> = { paper: PAPER_PRESET, cpu: CPU_PRESET, smoke: SMOKE_PRESET, 'global-cpu': GLOBAL_CPU_PRESET };

export function getPreset(name: string): ExperimentPreset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new HarmoniaError(`--config: unknown preset "${name}" (choose ${PRESET_NAMES.join(', ')})`);
  }
  return PRESETS[name as PresetName];
}

/** The TrainConfig of one loss setting of a preset; `epochs` (e.g. from --epochs) replaces the preset's. */
export function settingConfig(p: ExperimentPreset, setting: LossSetting, epochs?: number): TrainConfig {
  lossSetting(setting); // unknown names throw, listing the registered settings
  return { ...p.train, epochs: epochs ?? p.epochs[setting] ?? p.train.epochs, loss: { ...p.train.loss, setting } };
}
