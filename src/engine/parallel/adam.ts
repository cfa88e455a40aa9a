/**
 * The project's one Adam, on plain Float32Arrays. The trainer (train/engines.ts, one array per
 * variable), the data-parallel pool (pool.ts / worker.ts, slices of one flat vector) and the
 * light-net training (intrinsic/light-train.ts) all run this arithmetic, so 1 and 2 workers agree:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   w ← w − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
 * with t the 1-based step count (tf.train.adam's formula). ε defaults to 1e-8, the Adam paper's and
 * PyTorch's value (tf.train.adam's default is its float32 backend epsilon, 1e-7: pass `eps: 1e-7`
 * to reproduce it). The bias corrections come from t in double precision, so the state is exactly
 * (m, v, t): saving and restoring it continues bit-identically. It runs the same on every backend.
 */
import { HarmoniaError } from '../../errors.ts';
import { loadNativeAddon, type NativeAddon } from '../native/addon.ts';
import { env } from '../../config/index.ts';

/** Arrays from this length on go to the native addon when it is built (same bits, one pass in C++ on every thread). */
const NATIVE_MIN = 4096;
let addon: NativeAddon | null | undefined;
function nativeAdam(): NativeAddon | null {
  if (addon === undefined) {
    const load = env.backend === 'wasm' || env.backend === 'cpu' ? undefined : loadNativeAddon();
    addon = load?.ok ? load.addon : null;
  }
  return addon;
}

/** Adam's hyper-parameters (saved with every training checkpoint as `optimizer`). */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** The paper GAN's optimiser: Adam(2e-4, 0.5, 0.999), ε 1e-8. */
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

/** A partial config completed with DEFAULT_ADAM, then validated. */
export function resolveAdam(cfg: Partial<AdamConfig> = {}, where = 'optimizer'): AdamConfig {
  const r: AdamConfig = { ...DEFAULT_ADAM, ...cfg };
  validateAdam(r, where);
  return r;
}

export function createAdamState(sizes: readonly number[]): AdamState {
  return { t: 0, m: sizes.map((n) => new Float32Array(n)), v: sizes.map((n) => new Float32Array(n)) };
}

/**
 * One Adam update of w[begin..end) in place, given the (already averaged) gradient g, the moment
 * buffers m and v (updated in place) and the 1-based step t. `lr` overrides the configured rate
 * (learning-rate schedules).
 */
export function adamUpdate(
  w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  t: number, hp: AdamConfig, begin = 0, end = w.length, lr = hp.lr,
): void {
  if (!(Number.isInteger(t) && t >= 1)) throw new HarmoniaError(`adamUpdate: step t must be an integer >= 1, got ${t}`);
  const { beta1: b1, beta2: b2, eps } = hp;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const native = nativeAdam();
  if (native && end - begin >= NATIVE_MIN) {
    native.adam(w.subarray(begin, end), g.subarray(begin, end), m.subarray(begin, end), v.subarray(begin, end), Float64Array.of(lr, b1, b2, eps, c1, c2));
    return;
  }
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

/** One Adam update of `weights` (one array per variable) in place, and of `state`. */
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
  for (let k = 0; k < weights.length; k++) adamUpdate(weights[k], grads[k], state.m[k], state.v[k], state.t, cfg);
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

/** Σ g² over all gradients; NaN or Infinity when any gradient is not finite. */
export function gradSquaredNorm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return s;
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
