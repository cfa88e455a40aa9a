/**
 * The light network's TensorFlow.js side (training only): the MLP as a tf.Sequential and the fold of a
 * feature standardisation into its first layer. Kept apart from light-net.ts so that the intrinsic
 * stage (semiHarmonize) loads no TensorFlow.js. Exported by harmonia/train.
 */
import { HarmoniaError } from '../errors.ts';
import { tf } from '../engine/tf.ts';
import { LIGHT_FEATURE_COUNT, LIGHT_NET_OUTPUTS } from './light-net.ts';

/**
 * The MLP as a tf.Sequential of dense layers (relu hidden layers, linear output), optionally with
 * dropout after each hidden layer (training only; skipped by lightModelFromLayers) and an L2 penalty
 * on the kernels.
 */
export function buildLightNet(hidden: readonly number[] = [64, 64], seed = 0, opts: { dropout?: number; l2?: number } = {}): tf.Sequential {
  const model = tf.sequential();
  const reg = opts.l2 ? tf.regularizers.l2({ l2: opts.l2 }) : undefined;
  hidden.forEach((units, i) => {
    model.add(tf.layers.dense({
      units, activation: 'relu', name: `light_dense${i}`,
      ...(i === 0 ? { inputShape: [LIGHT_FEATURE_COUNT] } : {}),
      kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
      ...(reg ? { kernelRegularizer: reg } : {}),
    }));
    if (opts.dropout) model.add(tf.layers.dropout({ rate: opts.dropout, seed: seed + 50 + i, name: `light_dropout${i}` }));
  });
  model.add(tf.layers.dense({ units: LIGHT_NET_OUTPUTS, activation: 'linear', name: 'light_out', kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 99 }) }));
  return model;
}

/**
 * Folds a feature standardisation (x − mean) / std into the first dense layer, so the saved model
 * takes raw features: W' = W / std (per input row), b' = b − Σ_i (mean_i / std_i)·W_i.
 * std = ∞ drops an input (its row becomes 0).
 */
export function foldStandardization(model: tf.LayersModel, mean: Float32Array, std: Float32Array): void {
  const first = model.layers[0];
  const [kernel, bias] = first.getWeights();
  const [nin, nout] = kernel.shape;
  if (nin !== mean.length || nin !== std.length) throw new HarmoniaError(`foldStandardization: ${nin} inputs, ${mean.length} means, ${std.length} stds`);
  const W = kernel.dataSync();
  const b = Float32Array.from(bias.dataSync());
  const W2 = new Float32Array(W.length);
  for (let i = 0; i < nin; i++) {
    for (let o = 0; o < nout; o++) {
      if (std[i] === Infinity) continue;
      W2[i * nout + o] = W[i * nout + o] / std[i];
      b[o] -= (mean[i] / std[i]) * W[i * nout + o];
    }
  }
  const k2 = tf.tensor2d(W2, [nin, nout]);
  const b2 = tf.tensor1d(b);
  first.setWeights([k2, b2]);
  k2.dispose();
  b2.dispose();
}
