import { HarmoniaError } from '../errors.ts';
import { adamUpdate } from '../engine/parallel/adam.ts';
import type { ResolvedAdam } from '../engine/parallel/adam.ts';

/**
 * Adam on plain Float32Arrays (one array per variable), with exactly the arithmetic of the
 * data-parallel pool (engine/parallel/adam.ts, tf.train.adam's formula) so 1 and 2 workers agree:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + ε)
 * The bias corrections come from the step count t in double precision, so the state is exactly
 * (m, v, t): saving and restoring it continues bit-identically (tf.train.adam keeps running
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

/** One Adam update of `weights` in place (and of `state`), with the pool's adamUpdate arithmetic. */
export function adamStep(cfg: AdamConfig, state: AdamState, weights: Float32Array[], grads: readonly Float32Array[]): void {
  if (weights.length !== grads.length || weights.length !== state.m.length) {
    throw new HarmoniaError(`adamStep: ${weights.length} weights, ${grads.length} gradients, ${state.m.length} moment arrays: counts must match`);
  }
  for (let k = 0; k < weights.length; k++) {
    if (weights[k].length !== grads[k].length || weights[k].length !== state.m[k].length) {
      throw new HarmoniaError(`adamStep: variable ${k} has ${weights[k].length} weights but ${grads[k].length} gradients`);
    }
  }
  state.t += 1;
  const hp = toPoolAdam(cfg);
  for (let k = 0; k < weights.length; k++) adamUpdate(weights[k], grads[k], state.m[k], state.v[k], state.t, hp);
}

/** The same hyper-parameters in the data-parallel pool's form. */
export function toPoolAdam(cfg: AdamConfig): ResolvedAdam {
  return { learningRate: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.eps };
}

/** Flat vector (pool layout order) ↔ one array per variable. */
export function splitFlat(flat: Float32Array, sizes: readonly number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let off = 0;
  for (const n of sizes) { out.push(flat.slice(off, off + n)); off += n; }
  if (off !== flat.length) throw new HarmoniaError(`splitFlat: ${flat.length} values for variables totalling ${off}`);
  return out;
}

export function joinFlat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let off = 0;
  for (const a of arrays) { out.set(a, off); off += a.length; }
  return out;
}
