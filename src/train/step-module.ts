/**
 * The GAN step as a data-parallel STEP MODULE (engine/parallel/contract.ts): every worker builds
 * the same GanStep (same config and seed) and computes gradients for its shard. Phase G returns
 * G's gradients and keeps the generated images for phase D, which returns D's gradients.
 * It is the project's only GAN step module: the trainer's pool engine, the engine tests and the
 * benchmarks all load it (GAN_STEP_MODULE). Batch keys: `input`, `real` [N,H,W,3] and `mask`
 * [N,H,W,1]; losses: G phase `g` (L_G) and its weighted parts (`adv`, `l1`, …), D phase `d`
 * (L_D = BCE(D(real), 1) + BCE(D(fake), 0), not halved) and `d_real`/`d_fake` (mean logits).
 */
import type { PhaseContext, PhaseResult, StepOptions } from '../engine/parallel/contract.ts';
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { GanStep } from './step.ts';
import type { Phase, StepConfig } from './step.ts';
import { PAPER_GENERATOR, PAPER_DISCRIMINATOR } from '../models/index.ts';
import type { GeneratorConfig, DiscriminatorConfig } from '../models/index.ts';
import { DEFAULT_LOSS, lossSetting } from '../losses/index.ts';
import type { LossConfig } from '../losses/index.ts';
import { createFeatureExtractor } from './features.ts';
import type { FeatureSpec } from './features.ts';
import { importUserModules } from '../config/modules.ts';

export interface GanModuleOptions {
  step: StepConfig;
  features?: FeatureSpec;
  /** User modules (src/config/modules.ts) the worker imports before building: the generators and loss settings they register. */
  modules?: readonly string[];
}

export const phases: Record<string, readonly string[]> = { G: ['G'], D: ['D'] };

/** This module's URL, for DataParallelPool.create({ module }) (the pool maps .ts to the built .js beside it). */
export const GAN_STEP_MODULE: URL = new URL(import.meta.url);

/**
 * Module options for the paper GAN (PAPER_GENERATOR, PAPER_DISCRIMINATOR, DEFAULT_LOSS: BCE + 100·L1,
 * seed 1 so G is seeded 1 and D 2), with overrides, as plain JSON for the pool.
 */
export function paperGanOptions(over: { generator?: Partial<GeneratorConfig>; discriminator?: Partial<DiscriminatorConfig>; loss?: Partial<LossConfig>; seed?: number } = {}): Record<string, unknown> {
  const o: GanModuleOptions = {
    step: {
      generator: { ...PAPER_GENERATOR, ...over.generator },
      discriminator: { ...PAPER_DISCRIMINATOR, ...over.discriminator },
      loss: { ...DEFAULT_LOSS, ...over.loss },
      seed: over.seed ?? 1,
    },
  };
  return o as unknown as Record<string, unknown>;
}

let step: GanStep | undefined;

export async function createModels(options: StepOptions): Promise<Record<string, tf.LayersModel>> {
  const o = options as unknown as GanModuleOptions;
  await importUserModules(o.modules ?? []);
  const features = lossSetting(o.step.loss.setting).needsFeatures && o.features ? await createFeatureExtractor(o.features) : undefined;
  step = new GanStep(o.step, features?.extract);
  return { G: step.generator, D: step.discriminator };
}

export function runPhase(phase: string, ctx: PhaseContext): PhaseResult {
  if (!step) throw new HarmoniaError('GAN step module: createModels() has not run');
  const { input, real, mask } = ctx.batch as Record<string, tf.Tensor4D>;
  const r = step.phaseTensors(phase as Phase, { input, real, mask }, `step ${ctx.step}`);
  return { grads: { [phase]: r.grads }, losses: r.losses };
}
