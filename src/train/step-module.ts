/**
 * The GAN step as a data-parallel STEP MODULE (engine/parallel/contract.ts): every worker builds
 * the same GanStep (same config and seed) and computes gradients for its shard. Phase G returns
 * G's gradients and keeps the generated images for phase D, which returns D's gradients.
 */
import type { PhaseContext, PhaseResult, StepOptions } from '../engine/parallel/contract.ts';
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { GanStep } from './step.ts';
import type { Phase, StepConfig } from './step.ts';
import { createFeatureExtractor } from './features.ts';
import type { FeatureSpec } from './features.ts';

export interface GanModuleOptions {
  step: StepConfig;
  features?: FeatureSpec;
}

export const phases: Record<string, readonly string[]> = { G: ['G'], D: ['D'] };

let step: GanStep | undefined;

export async function createModels(options: StepOptions): Promise<Record<string, tf.LayersModel>> {
  const o = options as unknown as GanModuleOptions;
  const features = o.step.loss.setting === 'feature' && o.features ? await createFeatureExtractor(o.features) : undefined;
  step = new GanStep(o.step, features?.extract);
  return { G: step.generator, D: step.discriminator };
}

export function runPhase(phase: string, ctx: PhaseContext): PhaseResult {
  if (!step) throw new HarmoniaError('GAN step module: createModels() has not run');
  const { input, real, mask } = ctx.batch as Record<string, tf.Tensor4D>;
  const r = step.phaseTensors(phase as Phase, { input, real, mask }, `step ${ctx.step}`);
  return { grads: { [phase]: r.grads }, losses: r.losses };
}
