/**
 * Gradient-check harness for the engine tests: forward + all input gradients on wasm and on cpu,
 * and central finite differences of the wasm forward pass (so an op wrong on both backends is caught).
 */
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { Rng } from '../../src/util/random.ts';

export interface Input { shape: number[]; data: Float32Array }
export type OpFn = (...xs: tf.Tensor[]) => tf.Tensor;

export interface Case {
  name: string;
  inputs: Input[];
  f: OpFn;
  /** When set, the cpu backend is a wrong reference for this case (the reason); only finite differences are used. */
  cpuWrong?: string;
  /** Finite-difference step (default 1e-3; multilinear ops use a larger one: their central difference is exact). */
  eps?: number;
  /** Max |analytic − numeric| / max|analytic| allowed (default FD_TOL). */
  fdTol?: number;
}

/** wasm vs cpu: forward and gradients agree to this, relative to the largest reference magnitude (float32 summation order only). */
export const BACKEND_TOL = 1e-5;
/** analytic vs central finite differences (float32 forward, float64 loss), relative to max|gradient|. */
export const FD_TOL = 1e-2;
/** Coordinates per input checked by finite differences (evenly strided, always including the first and last). */
export const FD_SAMPLES = 24;

export function rand(shape: number[], seed: number, scale = 1): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = new Rng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = r.uniform(-scale, scale);
  return { shape, data };
}

/** Random values at least `gap` away from 0 (so kinks at 0 do not fall inside a finite-difference step). */
export function awayFromZero(shape: number[], seed: number, gap = 0.05): Input {
  const x = rand(shape, seed);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sign(x.data[i] || 1) * (gap + Math.abs(x.data[i]));
  return x;
}

/** A shuffled ramp of distinct values (spacing `step`, centred on `offset`): max pooling has no ties. */
export function distinct(shape: number[], seed: number, step = 0.05, offset = 0): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * step + offset);
  new Rng(seed).shuffle(v);
  return { shape, data: Float32Array.from(v) };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

export interface Result { fwd: Float32Array; grads: Float32Array[] }

/** Fixed random weights R of the output, so loss = Σ f(x)·R exercises every output element differently. */
function weights(n: number): Float32Array {
  return rand([n], 999).data;
}

/** Forward output and the gradients of Σ f(x)·R w.r.t. every input, on the current backend. */
export function evaluate(c: Case): Result {
  return tf.tidy(() => {
    const xs = c.inputs.map((i) => tf.tensor(i.data, i.shape));
    const y = c.f(...xs);
    const R = tf.tensor(weights(y.size), y.shape);
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.f(...a), R)))(xs);
    return { fwd: y.dataSync() as Float32Array, grads: g.map((t) => t.dataSync() as Float32Array) };
  });
}

/** Σ f(x)·R in float64 from the float32 forward output. */
function lossAt(c: Case, vals: Float32Array[]): number {
  const y = tf.tidy(() => c.f(...c.inputs.map((inp, k) => tf.tensor(vals[k], inp.shape))).dataSync());
  const R = weights(y.length);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * R[i];
  return s;
}

/** Worst relative error of the analytic gradients against central finite differences (current backend). */
export function finiteDiffError(c: Case, grads: Float32Array[]): { err: number; input: number; index: number } {
  const eps = c.eps ?? 1e-3;
  let worst = { err: 0, input: -1, index: -1 };
  c.inputs.forEach((inp, k) => {
    const n = inp.data.length;
    const scale = Math.max(maxAbs(grads[k]), 1e-3);
    const count = Math.min(n, FD_SAMPLES);
    for (let s = 0; s < count; s++) {
      const i = count === 1 ? 0 : Math.round((s * (n - 1)) / (count - 1));
      const plus = c.inputs.map((q) => q.data.slice());
      const minus = c.inputs.map((q) => q.data.slice());
      plus[k][i] = inp.data[i] + eps;
      minus[k][i] = inp.data[i] - eps;
      const h = plus[k][i] - minus[k][i]; // the float32 step actually taken
      const num = (lossAt(c, plus) - lossAt(c, minus)) / h;
      const err = Math.abs(num - grads[k][i]) / scale;
      if (!(err <= worst.err)) worst = { err, input: k, index: i };
    }
  });
  return worst;
}

/** Number of tensors held by the active backend (wasm: data ids on the heap). */
export function backendDataIds(): number {
  return (tf.engine().backend as unknown as { numDataIds(): number }).numDataIds();
}

export async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  const info = await initEngine({ backend: name });
  if (info.backend !== name) throw new Error(`expected backend ${name}, got ${info.backend}`);
}
