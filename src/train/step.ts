/**
 * One GAN training step's maths, separated from optimisation: given a batch, compute the
 * gradients of L_G with respect to G's weights ('G' phase), then of L_D with respect to D's
 * weights ('D' phase, on the generated images kept from the G phase). The optimiser (Adam on
 * Float32Arrays) lives outside, so this module runs unchanged in this process or in a worker of
 * the data-parallel pool: that seam is `computeGradients(phase, batch)`.
 */
import { tf } from '../engine/tf.ts';
import type { Tensor4D } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { concatChannels } from '../engine/ops.ts';
import type { StreamBatch } from '../data/stream.ts';
import { buildGenerator, buildDiscriminator, runGenerator } from '../models/index.ts';
import { generatorLoss, discriminatorLoss } from '../losses/index.ts';
import type { FeatureExtractor, LossConfig } from '../losses/index.ts';
import type { GeneratorConfig, DiscriminatorConfig } from '../models/index.ts';

export type Phase = 'G' | 'D';
export type Net = 'G' | 'D';

/** A training batch as plain arrays (NHWC): input = what G sees (semi-harmonized or composite); the data layer's batch type. */
export type TrainBatch = StreamBatch;

export interface StepConfig {
  generator: GeneratorConfig;
  discriminator: DiscriminatorConfig;
  loss: LossConfig;
  /** Seed of the weight initialisers (G uses seed, D uses seed + 1). */
  seed: number;
}

export interface GradientResult {
  /** One array per trainable variable of the net, in `variableNames` order. */
  grads: Float32Array[];
  /** The phase's loss and its named parts (plain numbers, already weighted). */
  losses: Record<string, number>;
}

export function checkBatch(b: TrainBatch): void {
  const px = b.n * b.height * b.width;
  if (!(b.n > 0) || b.input.length !== px * 3 || b.real.length !== px * 3 || b.mask.length !== px) {
    throw new HarmoniaError(`training batch: expected ${b.n}×${b.height}×${b.width} (input/real ${px * 3} values, mask ${px}), got ${b.input.length}/${b.real.length}/${b.mask.length}`);
  }
}

/** Splits a batch into `parts` contiguous sub-batches (sizes differ by at most one). */
export function splitBatch(b: TrainBatch, parts: number): TrainBatch[] {
  const out: TrainBatch[] = [];
  const px = b.height * b.width;
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const n = Math.floor(b.n / parts) + (p < b.n % parts ? 1 : 0);
    if (n === 0) continue;
    out.push({
      n, height: b.height, width: b.width,
      input: b.input.slice(start * px * 3, (start + n) * px * 3),
      real: b.real.slice(start * px * 3, (start + n) * px * 3),
      mask: b.mask.slice(start * px, (start + n) * px),
      ids: b.ids.slice(start, start + n),
    });
    start += n;
  }
  return out;
}

export class GanStep {
  readonly generator: tf.LayersModel;
  readonly discriminator: tf.LayersModel;
  private kept: { fake: Tensor4D; ids: string } | undefined;
  constructor(readonly cfg: StepConfig, private readonly features?: FeatureExtractor) {
    this.generator = buildGenerator({ ...cfg.generator, seed: cfg.seed });
    this.discriminator = buildDiscriminator({ ...cfg.discriminator, seed: cfg.seed + 1 });
  }

  private model(net: Net): tf.LayersModel {
    return net === 'G' ? this.generator : this.discriminator;
  }

  private vars(net: Net): tf.Variable[] {
    return this.model(net).trainableWeights.map((w) => w.read() as tf.Variable);
  }

  variableNames(net: Net): string[] {
    return this.model(net).trainableWeights.map((w) => w.originalName);
  }

  shapes(net: Net): number[][] {
    return this.model(net).trainableWeights.map((w) => w.shape as number[]);
  }

  sizes(net: Net): number[] {
    return this.shapes(net).map((s) => s.reduce((a, b) => a * b, 1));
  }

  getWeights(net: Net): Float32Array[] {
    return this.vars(net).map((v) => new Float32Array(v.dataSync()));
  }

  setWeights(net: Net, values: readonly Float32Array[]): void {
    const vars = this.vars(net);
    if (values.length !== vars.length) throw new HarmoniaError(`setWeights(${net}): ${values.length} arrays for ${vars.length} variables`);
    tf.tidy(() => {
      vars.forEach((v, i) => {
        if (values[i].length !== v.size) throw new HarmoniaError(`setWeights(${net}): variable ${i} needs ${v.size} values, got ${values[i].length}`);
        v.assign(tf.tensor(values[i], v.shape, 'float32'));
      });
    });
  }

  private dInput(img: Tensor4D, mask: Tensor4D): Tensor4D {
    return this.cfg.discriminator.maskInput ? concatChannels([img, mask]) : img;
  }

  /** G(x) for a batch (no gradients): [n,h,w,3] in [0,1]. */
  generate(input: Tensor4D, mask: Tensor4D): Tensor4D {
    return tf.tidy(() => runGenerator(this.generator, input, mask, this.cfg.generator));
  }

  computeGradients(phase: Phase, batch: TrainBatch): GradientResult {
    checkBatch(batch);
    const t = tf.tidy(() => ({
      input: tf.tensor4d(batch.input, [batch.n, batch.height, batch.width, 3]),
      real: tf.tensor4d(batch.real, [batch.n, batch.height, batch.width, 3]),
      mask: tf.tensor4d(batch.mask, [batch.n, batch.height, batch.width, 1]),
    }));
    try {
      const r = this.phaseTensors(phase, t, batch.ids.join('\n'));
      const losses: Record<string, number> = {};
      for (const [k, v] of Object.entries(r.losses)) losses[k] = v.dataSync()[0];
      const grads = r.grads.map((g) => new Float32Array(g.dataSync()));
      tf.dispose([...r.grads, ...Object.values(r.losses)]);
      return { grads, losses };
    } finally {
      tf.dispose([t.input, t.real, t.mask]);
    }
  }

  /**
   * One phase on tensors: gradients (one per trainable variable, in order; the caller disposes
   * them) and the scalar losses. `key` identifies the batch so the D phase can check it uses the
   * images generated by the G phase on the same batch.
   */
  phaseTensors(phase: Phase, t: { input: Tensor4D; real: Tensor4D; mask: Tensor4D }, key: string): { grads: tf.Tensor[]; losses: Record<string, tf.Scalar> } {
    if (phase === 'G') {
      this.dropKept();
      let fake: Tensor4D | undefined;
      const parts: Record<string, tf.Scalar> = {};
      const vars = this.vars('G');
      const { value, grads } = tf.variableGrads(() => {
        const f = runGenerator(this.generator, t.input, t.mask, this.cfg.generator);
        fake = tf.keep(f);
        const logits = this.discriminator.apply(this.dInput(f, t.mask)) as tf.Tensor;
        const l = generatorLoss(this.cfg.loss, { fake: f, real: t.real, mask: t.mask, input: t.input, fakeLogits: logits, features: this.features });
        for (const [k, v] of Object.entries(l.parts)) parts[k] = tf.keep(v);
        return l.total;
      }, vars);
      this.kept = { fake: fake as unknown as Tensor4D, ids: key };
      return { grads: this.ordered(grads, vars), losses: { g: value, ...parts } };
    }
    if (phase !== 'D') throw new HarmoniaError(`GanStep: unknown phase "${String(phase)}" (G or D)`);
    if (!this.kept || this.kept.ids !== key) {
      throw new HarmoniaError('GanStep: run the G phase on the same batch first (D trains on the images G just generated)');
    }
    const fake = this.kept.fake;
    const parts: Record<string, tf.Scalar> = {};
    const vars = this.vars('D');
    const { value, grads } = tf.variableGrads(() => {
      const realLogits = this.discriminator.apply(this.dInput(t.real, t.mask)) as tf.Tensor;
      const fakeLogits = this.discriminator.apply(this.dInput(fake, t.mask)) as tf.Tensor;
      parts.d_real = tf.keep(tf.mean(realLogits) as tf.Scalar);
      parts.d_fake = tf.keep(tf.mean(fakeLogits) as tf.Scalar);
      return discriminatorLoss(this.cfg.loss, realLogits, fakeLogits).total;
    }, vars);
    this.dropKept();
    return { grads: this.ordered(grads, vars), losses: { d: value, ...parts } };
  }

  private ordered(grads: tf.NamedTensorMap, vars: tf.Variable[]): tf.Tensor[] {
    const out = vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
    for (const [name, g] of Object.entries(grads)) if (!vars.some((v) => v.name === name)) g.dispose();
    return out;
  }

  private dropKept(): void {
    if (this.kept) this.kept.fake.dispose();
    this.kept = undefined;
  }

  dispose(): void {
    this.dropKept();
    this.generator.dispose();
    this.discriminator.dispose();
  }
}
