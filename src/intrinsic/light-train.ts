/**
 * Training of the learned background-light estimator (light-net.ts) on procedural composites with
 * known light: feature rows (lightTrainingRows), a split by scene (a scene and its mirror stay
 * together), feature standardisation folded into the first layer, and mini-batch training with the
 * project's Adam (engine/parallel/adam.ts) and model selection on the held-out scenes' median light
 * angle error. `harmonia train-light` is a thin shell over trainLightNet.
 */
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { tf } from '../engine/tf.ts';
import { adamStep, createAdamState, resolveAdam } from '../engine/parallel/adam.ts';
import { makeProceduralComposite } from '../data/procedural.ts';
import { resizeImage } from '../image/resize.ts';
import { angleBetweenDeg } from './light.ts';
import {
  lightFeatures, lightModelFromLayers, lightTargets, mirrorHorizontal, runLightModel,
  LIGHT_FEATURE_COUNT, LIGHT_NET_OUTPUTS, LIGHT_NET_INPUT_SIDE,
} from './light-net.ts';
import { buildLightNet, foldStandardization } from './light-net-tf.ts';
import { backgroundShading } from './index.ts';

/** Values per training row: the features, then the targets. */
export const LIGHT_ROW = LIGHT_FEATURE_COUNT + LIGHT_NET_OUTPUTS;

/**
 * Feature rows (features then targets) of one procedural composite rendered at `renderSize` and
 * analysed, as at inference, on a copy of long side LIGHT_NET_INPUT_SIDE; plus its mirror image.
 */
export function lightTrainingRows(seed: number, renderSize: number): Float32Array {
  const pc = makeProceduralComposite({ seed, width: renderSize, height: renderSize });
  const bg = backgroundShading(pc.composite, pc.mask, { analysisMaxSide: LIGHT_NET_INPUT_SIDE });
  const { width: w, height: h } = bg;
  const trueS = w === renderSize && h === renderSize
    ? pc.scene.shading.data
    : resizeImage(pc.scene.shading, w, h, 'bilinear').data;
  const l = pc.scene.light;
  // scale between the decomposed and the true shading over the valid background (median log ratio)
  const ratios: number[] = [];
  for (let i = 0; i < w * h; i++) if (bg.valid[i]) ratios.push(Math.log(bg.shading[i] / trueS[i]));
  ratios.sort((a, b) => a - b);
  const k = ratios.length ? Math.exp(ratios[ratios.length >> 1]) : 1;
  const out = new Float32Array(2 * LIGHT_ROW);
  const views: Array<[Float32Array, Uint8Array, number]> = [
    [bg.shading, bg.valid, 1],
    [mirrorHorizontal(bg.shading, w, h), mirrorHorizontal(bg.valid, w, h), -1],
  ];
  views.forEach(([s, v, sx], j) => {
    const f = lightFeatures(s, v, w, h);
    out.set(f.features, j * LIGHT_ROW);
    out.set(lightTargets([sx * l.direction[0], l.direction[1], l.direction[2]], l.strength * k, l.ambient * k, f.medianShading), j * LIGHT_ROW + LIGHT_FEATURE_COUNT);
  });
  return out;
}

export interface LightTrainOptions {
  /** Seed of the split, the initialisers and the mini-batch order (train-light: --seed0). */
  seed: number;
  epochs: number;
  /** Hidden layer widths (default 64,64). */
  hidden?: readonly number[];
  /** Dropout rate after each hidden layer (training only, default 0). */
  dropout?: number;
  /** L2 penalty on the kernels (default 0). */
  l2?: number;
  /** Adam learning rate (default 1e-3; β1 0.9, β2 0.999, ε 1e-8). */
  lr?: number;
  batchSize?: number;
  /** Share of the scenes held out for model selection, in (0, 0.5) (default 0.1). */
  valFraction?: number;
  /** Called after each evaluated block of epochs. */
  onProgress?: (p: { epochsDone: number; epochs: number; loss: number; valMedian: number; best: { median: number; epoch: number } }) => void;
}

export interface LightTrainResult {
  /** The best model (by validation median angle), standardisation folded in: it takes raw features. */
  model: tf.Sequential;
  trainScenes: number;
  valScenes: number;
  bestEpoch: number;
  /** Validation median light angle error of the best model, degrees (TF.js forward pass). */
  valMedianDeg: number;
  /** The same through the TypeScript forward pass of the folded model (runLightModel). */
  tsValMedianDeg: number;
}

const median = (a: number[]): number => { const s = [...a].sort((u, v) => u - v); return s[s.length >> 1]; };

/**
 * Trains the light MLP on `rows` (`count` scenes × 2 rows of LIGHT_ROW values, as written by
 * lightTrainingRows). The engine must be initialised. Deterministic for a given seed.
 */
export async function trainLightNet(rows: Float32Array, count: number, opts: LightTrainOptions): Promise<LightTrainResult> {
  if (rows.length !== count * 2 * LIGHT_ROW) throw new HarmoniaError(`trainLightNet: ${rows.length} values for ${count} scenes (expected ${count * 2 * LIGHT_ROW})`);
  const valFraction = opts.valFraction ?? 0.1;
  if (!(valFraction > 0 && valFraction < 0.5)) throw new HarmoniaError(`trainLightNet: valFraction must be in (0, 0.5), got ${valFraction}`);
  const dropout = opts.dropout ?? 0;
  const l2 = opts.l2 ?? 0;
  const batchSize = opts.batchSize ?? 64;
  if (!(dropout >= 0 && dropout < 1)) throw new HarmoniaError(`trainLightNet: dropout must be in [0, 1), got ${dropout}`);
  if (!(l2 >= 0)) throw new HarmoniaError(`trainLightNet: l2 must be ≥ 0, got ${l2}`);
  if (!(Number.isInteger(opts.epochs) && opts.epochs >= 1)) throw new HarmoniaError(`trainLightNet: epochs must be an integer ≥ 1, got ${opts.epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new HarmoniaError(`trainLightNet: batchSize must be an integer ≥ 1, got ${batchSize}`);
  const adam = resolveAdam({ lr: opts.lr ?? 1e-3, beta1: 0.9, beta2: 0.999 }, 'trainLightNet optimizer');

  // split by scene (a scene and its mirror stay together)
  const order = new Rng(`train-light:${opts.seed}`).shuffle(Array.from({ length: count }, (_, i) => i));
  const nVal = Math.max(1, Math.round(count * valFraction));
  const valScenes = order.slice(0, nVal);
  const trainScenes = order.slice(nVal);
  if (!trainScenes.length) throw new HarmoniaError(`trainLightNet: ${count} scenes leave none for training`);
  const gather = (scenes: number[]): { x: Float32Array; y: Float32Array; n: number } => {
    const n = scenes.length * 2;
    const x = new Float32Array(n * LIGHT_FEATURE_COUNT);
    const y = new Float32Array(n * LIGHT_NET_OUTPUTS);
    scenes.forEach((s, j) => {
      for (let m = 0; m < 2; m++) {
        const r = (s * 2 + m) * LIGHT_ROW;
        x.set(rows.subarray(r, r + LIGHT_FEATURE_COUNT), (j * 2 + m) * LIGHT_FEATURE_COUNT);
        y.set(rows.subarray(r + LIGHT_FEATURE_COUNT, r + LIGHT_ROW), (j * 2 + m) * LIGHT_NET_OUTPUTS);
      }
    });
    return { x, y, n };
  };
  const tr = gather(trainScenes);
  const va = gather(valScenes);
  const F = LIGHT_FEATURE_COUNT;
  const mean = new Float32Array(F);
  const std = new Float32Array(F);
  for (let i = 0; i < tr.n; i++) for (let f = 0; f < F; f++) mean[f] += tr.x[i * F + f] / tr.n;
  for (let i = 0; i < tr.n; i++) for (let f = 0; f < F; f++) std[f] += (tr.x[i * F + f] - mean[f]) ** 2 / tr.n;
  // (nearly) constant features (std < 1e-3, e.g. the valid share of the top regions, almost always 1
  // here) get std = ∞: the network never sees them and folding zeroes their weights, so a different
  // value at inference (a real photo with a saturated sky) cannot blow up an activation
  for (let f = 0; f < F; f++) std[f] = std[f] < 1e-6 ? Infinity : Math.sqrt(std[f]);
  const standardize = (x: Float32Array): Float32Array => x.map((v, i) => (v - mean[i % F]) / std[i % F]);
  const trX = standardize(tr.x);

  const model = buildLightNet(opts.hidden ?? [64, 64], opts.seed, { dropout, l2 });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // the L2 penalty of buildLightNet's kernel regularizer (l2 · Σ w²), added here since this loop does not use model.fit
  const kernels = model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => l.trainableWeights[0].read() as tf.Variable);
  const lossWeights = tf.tensor1d([1, 1, 1, 0.25, 0.25]);
  const xv = tf.tensor2d(standardize(va.x), [va.n, F]);
  const valAngles = (): number[] => {
    const p = tf.tidy(() => (model.predict(xv) as tf.Tensor).arraySync() as number[][]);
    return p.map((q, i) => angleBetweenDeg(q, va.y.subarray(i * LIGHT_NET_OUTPUTS, i * LIGHT_NET_OUTPUTS + 3)));
  };
  const weights = vars.map((v) => new Float32Array(v.dataSync()));
  const state = createAdamState(weights.map((w) => w.length));
  const rng = new Rng(`train-light:batches:${opts.seed}`);
  const bx = new Float32Array(batchSize * F);
  const by = new Float32Array(batchSize * LIGHT_NET_OUTPUTS);

  /** One epoch over the training rows in a seeded random order; returns the mean batch loss. */
  const epoch = (): number => {
    const perm = rng.shuffle(Array.from({ length: tr.n }, (_, i) => i));
    let lossSum = 0;
    let batches = 0;
    for (let s = 0; s < tr.n; s += batchSize) {
      const n = Math.min(batchSize, tr.n - s);
      for (let j = 0; j < n; j++) {
        const i = perm[s + j];
        bx.set(trX.subarray(i * F, (i + 1) * F), j * F);
        by.set(tr.y.subarray(i * LIGHT_NET_OUTPUTS, (i + 1) * LIGHT_NET_OUTPUTS), j * LIGHT_NET_OUTPUTS);
      }
      const { value, grads } = tf.tidy(() => {
        const x = tf.tensor2d(bx.subarray(0, n * F), [n, F]);
        const y = tf.tensor2d(by.subarray(0, n * LIGHT_NET_OUTPUTS), [n, LIGHT_NET_OUTPUTS]);
        return tf.variableGrads(() => {
          const p = model.apply(x, { training: true }) as tf.Tensor;
          let loss = tf.mean(tf.mul(tf.square(tf.sub(y, p)), lossWeights)) as tf.Scalar;
          if (l2 > 0) for (const k of kernels) loss = tf.add(loss, tf.mul(l2, tf.sum(tf.square(k)))) as tf.Scalar;
          return loss;
        }, vars);
      });
      const g = vars.map((v) => { const t = grads[v.name]; return t ? new Float32Array(t.dataSync()) : new Float32Array(v.size); });
      lossSum += value.dataSync()[0];
      batches++;
      tf.dispose([value, ...Object.values(grads)]);
      adamStep(adam, state, weights, g);
      tf.tidy(() => vars.forEach((v, k) => v.assign(tf.tensor(weights[k], v.shape, 'float32'))));
    }
    return lossSum / batches;
  };

  let best = { median: Infinity, epoch: 0, weights: weights.map((w) => w.slice()) };
  const every = Math.max(1, Math.floor(opts.epochs / 40));
  try {
    for (let e = 0; e < opts.epochs; e += every) {
      const block = Math.min(every, opts.epochs - e);
      let loss = NaN;
      for (let k = 0; k < block; k++) loss = epoch();
      const m = median(valAngles());
      if (m < best.median) best = { median: m, epoch: e + block, weights: weights.map((w) => w.slice()) };
      opts.onProgress?.({ epochsDone: e + block, epochs: opts.epochs, loss, valMedian: m, best: { median: best.median, epoch: best.epoch } });
    }
  } finally {
    tf.dispose([xv, lossWeights]);
  }
  tf.tidy(() => vars.forEach((v, k) => v.assign(tf.tensor(best.weights[k], v.shape, 'float32'))));
  foldStandardization(model, mean, std);
  // check: the folded model on raw features gives the same validation error in the TypeScript forward pass
  const lm = lightModelFromLayers(model);
  const tsAngles: number[] = [];
  for (let i = 0; i < va.n; i++) {
    const out = runLightModel(lm, va.x.subarray(i * F, (i + 1) * F));
    tsAngles.push(angleBetweenDeg(out, va.y.subarray(i * LIGHT_NET_OUTPUTS, i * LIGHT_NET_OUTPUTS + 3)));
  }
  return {
    model, trainScenes: trainScenes.length, valScenes: valScenes.length, bestEpoch: best.epoch,
    valMedianDeg: best.median, tsValMedianDeg: median(tsAngles),
  };
}
