import { HarmoniaError } from '../errors.ts';

/**
 * Adam on plain Float32Arrays (one array per variable), in PyTorch's form:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   w ← w − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
 * The bias corrections are computed from the step count t in double precision, so the state is
 * exactly (m, v, t): saving and restoring it continues bit-identically (tf.train.adam keeps running
 * products β^t that its setWeights recomputes differently). It runs the same on every backend.
 */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_ADAM: AdamConfig = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };

export interface AdamState {
  /** Number of updates applied so far. */
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function validateAdam(c: AdamConfig, where = 'optimizer'): void {
  if (!(c.lr > 0 && Number.isFinite(c.lr))) throw new HarmoniaError(`${where}.lr: must be a positive number, got ${c.lr}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw new HarmoniaError(`${where}.beta1: must be in [0, 1), got ${c.beta1}`);
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw new HarmoniaError(`${where}.beta2: must be in [0, 1), got ${c.beta2}`);
  if (!(c.eps > 0)) throw new HarmoniaError(`${where}.eps: must be > 0, got ${c.eps}`);
}

export function createAdamState(sizes: readonly number[]): AdamState {
  return { t: 0, m: sizes.map((n) => new Float32Array(n)), v: sizes.map((n) => new Float32Array(n)) };
}

/** Σ g² over all gradients; NaN or Infinity when any gradient is not finite. */
export function gradSquaredNorm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return s;
}

/** One Adam update of `weights` in place (and of `state`). Sizes must match. */
export function adamStep(cfg: AdamConfig, state: AdamState, weights: Float32Array[], grads: readonly Float32Array[]): void {
  if (weights.length !== grads.length || weights.length !== state.m.length) {
    throw new HarmoniaError(`adamStep: ${weights.length} weights, ${grads.length} gradients, ${state.m.length} moment arrays: counts must match`);
  }
  state.t += 1;
  const { beta1: b1, beta2: b2, eps } = cfg;
  const bc1 = 1 - Math.pow(b1, state.t);
  const bc2 = Math.sqrt(1 - Math.pow(b2, state.t));
  const stepSize = cfg.lr / bc1;
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k], g = grads[k], m = state.m[k], v = state.v[k];
    if (w.length !== g.length || w.length !== m.length) {
      throw new HarmoniaError(`adamStep: variable ${k} has ${w.length} weights but ${g.length} gradients`);
    }
    for (let i = 0; i < w.length; i++) {
      const gi = g[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      w[i] = w[i] - stepSize * mi / (Math.sqrt(vi) / bc2 + eps);
    }
  }
}
