/**
 * Step module (contract.ts) for the paper's GAN: one G update then one D update per step.
 *
 *   phase 'G' (updates G, D frozen): L_G = BCEwithLogits(D(G(x)), 1) + l1Weight · L1(G(x), y)
 *   phase 'D' (updates D):          L_D = ½ · (BCEwithLogits(D(y), 1) + BCEwithLogits(D(fake), 0))
 *
 * with fake = G(x) computed in the G phase (before G's update) and kept, detached, for the D phase,
 * exactly like the PyTorch twin (bench/torch/gan.py). l1Weight defaults to the paper's 100.
 *
 * Batch keys: `input` [N,H,W,3] (semi-harmonized image, [0,1]), `target` [N,H,W,3] (real photo),
 * and `mask` [N,H,W,1] when G or D takes the mask. Options (JSON): { generator?: GeneratorConfig,
 * discriminator?: DiscriminatorConfig, l1Weight?: number } on top of the paper configs
 * (G seed 1, D seed 2 unless given).
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { buildGenerator, runGenerator, PAPER_GENERATOR, modelInputChannels } from '../../models/generator.ts';
import type { GeneratorConfig } from '../../models/generator.ts';
import { buildDiscriminator, PAPER_DISCRIMINATOR } from '../../models/discriminator.ts';
import type { DiscriminatorConfig } from '../../models/discriminator.ts';
import type { PhaseContext, PhaseResult, StepOptions } from './contract.ts';

export interface PaperGanOptions {
  generator?: GeneratorConfig;
  discriminator?: DiscriminatorConfig;
  l1Weight?: number;
}

export const phases = { G: ['G'], D: ['D'] } as const;

export function createModels(options: StepOptions = {}): Record<string, tf.LayersModel> {
  const o = options as PaperGanOptions;
  return {
    G: buildGenerator({ ...PAPER_GENERATOR, seed: 1, ...o.generator }),
    D: buildDiscriminator({ ...PAPER_DISCRIMINATOR, seed: 2, ...o.discriminator }),
  };
}

/** D logits for images x, appending the mask channel when D takes one. */
export function discriminate(d: tf.LayersModel, x: tf.Tensor4D, mask?: tf.Tensor4D): tf.Tensor {
  if (modelInputChannels(d) === 4) {
    if (!mask) throw new HarmoniaError('paperGanStep: the discriminator takes a mask but the batch has no "mask"');
    return d.apply(tf.concat([x, mask], 3)) as tf.Tensor;
  }
  return d.apply(x) as tf.Tensor;
}

/** BCE with logits against a constant label, mean over all elements. */
export function bceWithLogits(logits: tf.Tensor, label: 0 | 1): tf.Scalar {
  return tf.losses.sigmoidCrossEntropy(label === 1 ? tf.onesLike(logits) : tf.zerosLike(logits), logits) as tf.Scalar;
}

function vars(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

export function runPhase(phase: string, ctx: PhaseContext): PhaseResult {
  const o = ctx.options as PaperGanOptions;
  const l1Weight = o.l1Weight ?? 100;
  const G = ctx.models.G;
  const D = ctx.models.D;
  const x = ctx.batch.input as tf.Tensor4D | undefined;
  const y = ctx.batch.target as tf.Tensor4D | undefined;
  const mask = ctx.batch.mask as tf.Tensor4D | undefined;
  if (!x || !y) throw new HarmoniaError('paperGanStep: the batch needs "input" and "target"');
  if (phase === 'G') {
    const old = ctx.state.get('fake') as tf.Tensor | undefined;
    old?.dispose();
    let fake: tf.Tensor4D | undefined;
    let adv: tf.Scalar | undefined;
    let l1: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const f = runGenerator(G, x, mask);
      fake = tf.keep(f);
      adv = tf.keep(bceWithLogits(discriminate(D, f, mask), 1));
      l1 = tf.keep(tf.mean(tf.abs(tf.sub(f, y))) as tf.Scalar);
      return tf.add(adv, tf.mul(l1, l1Weight)) as tf.Scalar;
    }, vars(G));
    ctx.state.set('fake', fake);
    return { grads: { G: grads }, losses: { g_total: value, g_adv: adv!, g_l1: l1! } };
  }
  if (phase === 'D') {
    const fake = ctx.state.get('fake') as tf.Tensor4D | undefined;
    if (!fake) throw new HarmoniaError('paperGanStep: phase D needs the fakes of a preceding G phase');
    let real: tf.Scalar | undefined;
    let fk: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      real = tf.keep(bceWithLogits(discriminate(D, y, mask), 1));
      fk = tf.keep(bceWithLogits(discriminate(D, fake, mask), 0));
      return tf.mul(tf.add(real, fk), 0.5) as tf.Scalar;
    }, vars(D));
    fake.dispose();
    ctx.state.delete('fake');
    return { grads: { D: grads }, losses: { d_total: value, d_real: real!, d_fake: fk! } };
  }
  throw new HarmoniaError(`paperGanStep: unknown phase "${phase}" (G or D)`);
}
