/**
 * Adam on flat Float32Arrays, the formula of tf.train.adam (TensorFlow.js 4.22):
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   w ← w − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
 * with t the 1-based step count and ε = 1e-7 (tfjs' float32 backend epsilon) by default.
 * Works on a [begin, end) slice so several workers can update disjoint parts of one vector.
 */
import { HarmoniaError } from '../../errors.ts';

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface ResolvedAdam {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The paper GAN's optimiser: Adam(2e-4, 0.5, 0.999). */
export const PAPER_ADAM: Readonly<ResolvedAdam> = Object.freeze({ learningRate: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 });

export function resolveAdam(cfg: AdamConfig = {}, where = 'optimizer'): ResolvedAdam {
  const r: ResolvedAdam = {
    learningRate: cfg.learningRate ?? PAPER_ADAM.learningRate,
    beta1: cfg.beta1 ?? PAPER_ADAM.beta1,
    beta2: cfg.beta2 ?? PAPER_ADAM.beta2,
    epsilon: cfg.epsilon ?? PAPER_ADAM.epsilon,
  };
  if (!(r.learningRate >= 0 && Number.isFinite(r.learningRate))) throw new HarmoniaError(`${where}: learningRate must be a finite number >= 0, got ${r.learningRate}`);
  if (!(r.beta1 >= 0 && r.beta1 < 1)) throw new HarmoniaError(`${where}: beta1 must be in [0, 1), got ${r.beta1}`);
  if (!(r.beta2 >= 0 && r.beta2 < 1)) throw new HarmoniaError(`${where}: beta2 must be in [0, 1), got ${r.beta2}`);
  if (!(r.epsilon > 0)) throw new HarmoniaError(`${where}: epsilon must be > 0, got ${r.epsilon}`);
  return r;
}

/**
 * One Adam update of w[begin..end) in place, given the (already averaged) gradient g, the moment
 * buffers m and v (updated in place) and the 1-based step t. `lr` overrides the configured rate
 * (learning-rate schedules).
 */
export function adamUpdate(
  w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  t: number, hp: ResolvedAdam, begin = 0, end = w.length, lr = hp.learningRate,
): void {
  if (!(Number.isInteger(t) && t >= 1)) throw new HarmoniaError(`adamUpdate: step t must be an integer >= 1, got ${t}`);
  const { beta1: b1, beta2: b2, epsilon: eps } = hp;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  for (let i = begin; i < end; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + a1 * gi;
    const vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}

/**
 * out[begin..end) = Σ_k weights[k] · grads[k][begin..end): the batch-size-weighted average of the
 * workers' gradients (each worker's gradient is a mean over its shard).
 */
export function weightedAverage(grads: readonly Float32Array[], weights: readonly number[], out: Float32Array, begin = 0, end = out.length): void {
  for (let i = begin; i < end; i++) out[i] = 0;
  for (let k = 0; k < grads.length; k++) {
    const wk = weights[k];
    if (wk === 0) continue;
    const gk = grads[k];
    for (let i = begin; i < end; i++) out[i] += wk * gk[i];
  }
}
