import { HarmoniaError } from '../errors.ts';
import type { GeneratorConfig, DiscriminatorConfig } from '../models/index.ts';
import { DEFAULT_LOSS, validateLossConfig } from '../losses/index.ts';
import type { LossConfig } from '../losses/index.ts';
import { DEFAULT_ADAM, validateAdam } from '../engine/parallel/adam.ts';
import type { AdamConfig } from '../engine/parallel/adam.ts';
import { generatorEntryOf, generatorKind } from '../models/registry.ts';

/** Everything one GAN training run needs. Plain data (JSON-serialisable); stored in every checkpoint. */
export interface TrainConfig {
  generator: GeneratorConfig;
  discriminator: DiscriminatorConfig;
  loss: LossConfig;
  /** Adam for G and D (paper: lr 2e-4, β1 0.5). */
  optimizer: AdamConfig;
  epochs: number;
  batchSize: number;
  /** Images are resized to size×size, then a crop×crop window is taken (random when training). */
  size: number;
  crop: number;
  /** Random horizontal flips of the training crops. */
  flip: boolean;
  /** Seed for weight initialisation and data order. */
  seed: number;
  /** Write a checkpoint every this many optimisation steps (and at the end of every epoch). */
  checkpointEvery: number;
  /** Images in the per-epoch sample grid. */
  sampleCount: number;
  /** Data-parallel workers (1 = this process, 2 = both cores). */
  workers: 1 | 2;
  /** The feature setting: path of torchvision's vgg19-dcbb9e9d.pth; undefined = not available. */
  vggWeights?: string;
  /** Let the feature setting run on a randomly initialised VGG-19 when the weights are missing. */
  allowRandomFeatures: boolean;
  /**
   * On-the-fly training data (`train --real`): the sample mix, recorded so that `--resume` replays the
   * same data and refuses a different mix. Absent for fixed data sets.
   */
  stream?: StreamMix;
}

/** The mix of on-the-fly samples (data/stream.ts): shares of identity, mild and procedural samples, re-lighting probability. */
export interface StreamMix {
  identity: number;
  mild: number;
  procedural: number;
  illumination: number;
  batchesPerEpoch?: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  generator: { base: 32, unet: false, maskInput: false, residual: false },
  discriminator: { base: 32, kind: 'image', maskInput: false },
  loss: DEFAULT_LOSS,
  optimizer: DEFAULT_ADAM,
  epochs: 50,
  batchSize: 4,
  size: 256,
  crop: 256,
  flip: true,
  seed: 1,
  checkpointEvery: 200,
  sampleCount: 4,
  workers: 1,
  allowRandomFeatures: false,
};

const posInt = (v: number) => Number.isInteger(v) && v > 0;

export function validateTrainConfig(c: TrainConfig): void {
  validateLossConfig(c.loss, 'loss');
  validateAdam(c.optimizer, 'optimizer');
  for (const k of ['epochs', 'batchSize', 'size', 'crop', 'checkpointEvery', 'sampleCount'] as const) {
    if (!posInt(c[k])) throw new HarmoniaError(`train.${k}: must be a positive integer, got ${c[k]}`);
  }
  if (c.crop > c.size) throw new HarmoniaError(`train.crop: ${c.crop} is larger than train.size ${c.size}`);
  const stride = generatorEntryOf(c.generator).stride;
  if (c.crop % stride !== 0) throw new HarmoniaError(`train.crop: must be a multiple of ${stride} (the "${generatorKind(c.generator)}" generator's stride), got ${c.crop}`);
  if (c.workers !== 1 && c.workers !== 2) throw new HarmoniaError(`train.workers: must be 1 or 2, got ${c.workers}`);
  if (c.workers === 2 && c.batchSize % 2 !== 0) throw new HarmoniaError(`train.batchSize: must be even with 2 workers (each takes half), got ${c.batchSize}`);
  if (!Number.isInteger(c.seed)) throw new HarmoniaError(`train.seed: must be an integer, got ${c.seed}`);
}

/** Deep-merges a partial config over a base (one level for the nested objects). */
export function mergeTrainConfig(base: TrainConfig, over: PartialTrainConfig): TrainConfig {
  return {
    ...base,
    ...over,
    generator: { ...base.generator, ...over.generator },
    discriminator: { ...base.discriminator, ...over.discriminator },
    loss: { ...base.loss, ...over.loss },
    optimizer: { ...base.optimizer, ...over.optimizer },
  };
}

export type PartialTrainConfig = Partial<Omit<TrainConfig, 'generator' | 'discriminator' | 'loss' | 'optimizer'>> & {
  generator?: Partial<GeneratorConfig>;
  discriminator?: Partial<DiscriminatorConfig>;
  loss?: Partial<LossConfig>;
  optimizer?: Partial<AdamConfig>;
};
