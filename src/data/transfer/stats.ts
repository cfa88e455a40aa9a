/**
 * Shared maths for colour transfer: means, covariances, 3×3 symmetric matrix functions and random
 * rotations. Pixel sets are flat Float32Arrays of n RGB triples.
 */
import { HarmoniaError } from '../../errors.ts';
import type { Rng } from '../../util/random.ts';

export type Mat3 = number[]; // row-major 3×3

/** Per-channel mean of n×3 values. */
export function mean3(px: Float32Array): [number, number, number] {
  const n = px.length / 3;
  if (n < 1) throw new HarmoniaError('colour transfer: empty pixel set');
  let a = 0, b = 0, c = 0;
  for (let i = 0; i < px.length; i += 3) { a += px[i]; b += px[i + 1]; c += px[i + 2]; }
  return [a / n, b / n, c / n];
}

/** Per-channel standard deviation (population) of n×3 values around `mu`. */
export function std3(px: Float32Array, mu: readonly number[]): [number, number, number] {
  const n = px.length / 3;
  const s = [0, 0, 0];
  for (let i = 0; i < px.length; i += 3) for (let k = 0; k < 3; k++) s[k] += (px[i + k] - mu[k]) ** 2;
  return [Math.sqrt(s[0] / n), Math.sqrt(s[1] / n), Math.sqrt(s[2] / n)];
}

/** Covariance matrix (population) of n×3 values around `mu`. */
export function cov3(px: Float32Array, mu: readonly number[]): Mat3 {
  const n = px.length / 3;
  const c = new Array<number>(9).fill(0);
  for (let i = 0; i < px.length; i += 3) {
    const d0 = px[i] - mu[0], d1 = px[i + 1] - mu[1], d2 = px[i + 2] - mu[2];
    c[0] += d0 * d0; c[1] += d0 * d1; c[2] += d0 * d2;
    c[4] += d1 * d1; c[5] += d1 * d2; c[8] += d2 * d2;
  }
  c[3] = c[1]; c[6] = c[2]; c[7] = c[5];
  return c.map((v) => v / n);
}

export function matMul3(a: Mat3, b: Mat3): Mat3 {
  const o = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) {
    o[r * 3 + c] = a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c];
  }
  return o;
}

export function transpose3(a: Mat3): Mat3 {
  return [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
}

/** Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi: A = V diag(w) Vᵀ (V's columns). */
export function eigSym3(a: Mat3): { values: [number, number, number]; vectors: Mat3 } {
  const m = a.slice();
  let v: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = m[1] * m[1] + m[2] * m[2] + m[5] * m[5];
    if (off < 1e-30) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]]) {
      const apq = m[p * 3 + q];
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (m[q * 3 + q] - m[p * 3 + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1), s = t * c;
      const J: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
      J[p * 3 + p] = c; J[q * 3 + q] = c; J[p * 3 + q] = s; J[q * 3 + p] = -s;
      const r = matMul3(matMul3(transpose3(J), m), J);
      for (let i = 0; i < 9; i++) m[i] = r[i];
      v = matMul3(v, J);
    }
  }
  return { values: [m[0], m[4], m[8]], vectors: v };
}

/** f(A) = V diag(f(w)) Vᵀ for a symmetric A (eigenvalues clamped at `floor` first). */
export function symFn3(a: Mat3, f: (x: number) => number, floor = 1e-8): Mat3 {
  const { values, vectors: V } = eigSym3(a);
  const d = values.map((x) => f(Math.max(floor, x)));
  const VD: Mat3 = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) VD[r * 3 + c] = V[r * 3 + c] * d[c];
  return matMul3(VD, transpose3(V));
}

/** A uniformly random 3×3 rotation (Gram–Schmidt on a Gaussian matrix, det = +1). */
export function randomRotation(rng: Rng): Mat3 {
  const rows: number[][] = [];
  while (rows.length < 3) {
    const v = [rng.normal(), rng.normal(), rng.normal()];
    for (const r of rows) {
      const d = v[0] * r[0] + v[1] * r[1] + v[2] * r[2];
      for (let k = 0; k < 3; k++) v[k] -= d * r[k];
    }
    const l = Math.hypot(v[0], v[1], v[2]);
    if (l < 1e-6) continue;
    rows.push(v.map((x) => x / l));
  }
  const [a, b, c] = rows;
  const det = a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  if (det < 0) rows[2] = c.map((x) => -x);
  return [...rows[0], ...rows[1], ...rows[2]];
}

/** Clamps every value to [0,1] in place; returns the array. */
export function clip01(px: Float32Array): Float32Array {
  for (let i = 0; i < px.length; i++) px[i] = px[i] < 0 ? 0 : px[i] > 1 ? 1 : px[i];
  return px;
}
