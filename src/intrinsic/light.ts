/**
 * Lighting model of Intrinsic Compositing (spec §4): Ŝ(n) = [n, 1]·v with v = (x, y, z, c) =
 * (r·sinθcosφ, r·sinθsinφ, r·cosθ, c), θ ∈ [0, π/2] from +z (toward the camera), φ ∈ [0, 2π] from
 * +x toward +y (up), r ≥ 0, c ≥ 0.1. Linear in n, no max(0,·) while fitting.
 *
 * The MSE is quadratic in v: L(v) = vᵀMv − 2vᵀq + mean(b²) with M = mean([n,1][n,1]ᵀ) and
 * q = mean([n,1]·b), so one pass accumulates 4×4 sufficient statistics and the official grid search
 * + Adam (and a closed-form constrained least squares) cost O(1) per evaluation. Browser-safe.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage } from '../image/types.ts';

/** [x, y, z, c]: directional vector (strength r = |(x,y,z)|) and ambient offset c. */
export type LightCoeffs = [number, number, number, number];

export interface LightStats {
  /** mean([n,1][n,1]ᵀ), row-major 4×4 */
  M: Float64Array;
  /** mean([n,1]·b) */
  q: Float64Array;
  /** mean(b²) */
  bb: number;
  /** number of pixels */
  count: number;
}

/**
 * Accumulates the sufficient statistics from decoded normals (interleaved xyz, renormalised here,
 * as the official code does) and target linear shading b over the pixels where `valid` is non-zero.
 */
export function accumulateLightStats(normals: Float32Array, shading: Float32Array, valid: Uint8Array | null): LightStats {
  const px = shading.length;
  if (normals.length !== px * 3) throw new HarmoniaError(`accumulateLightStats: normals have ${normals.length} values for ${px} shading pixels (need 3 per pixel)`);
  if (valid && valid.length !== px) throw new HarmoniaError('accumulateLightStats: valid mask size does not match the shading');
  const M = new Float64Array(16);
  const q = new Float64Array(4);
  let bb = 0;
  let count = 0;
  const v = new Float64Array(4);
  for (let i = 0; i < px; i++) {
    if (valid && !valid[i]) continue;
    const j = i * 3;
    const nx = normals[j];
    const ny = normals[j + 1];
    const nz = normals[j + 2];
    const len = Math.sqrt(nx * nx + ny * ny + nz * nz);
    if (!(len > 0)) continue;
    v[0] = nx / len; v[1] = ny / len; v[2] = nz / len; v[3] = 1;
    const b = shading[i];
    for (let r = 0; r < 4; r++) {
      q[r] += v[r] * b;
      for (let c = r; c < 4; c++) M[r * 4 + c] += v[r] * v[c];
    }
    bb += b * b;
    count++;
  }
  if (count > 0) {
    for (let r = 0; r < 4; r++) {
      for (let c = r; c < 4; c++) { M[r * 4 + c] /= count; M[c * 4 + r] = M[r * 4 + c]; }
      q[r] /= count;
    }
    bb /= count;
  }
  return { M, q, bb, count };
}

/** MSE of the model v against the statistics. */
export function lightLoss(s: LightStats, v: ArrayLike<number>): number {
  let quad = 0;
  let lin = 0;
  for (let r = 0; r < 4; r++) {
    let mv = 0;
    for (let c = 0; c < 4; c++) mv += s.M[r * 4 + c] * v[c];
    quad += v[r] * mv;
    lin += v[r] * s.q[r];
  }
  return quad - 2 * lin + s.bb;
}

export function coeffsFromAngles(theta: number, phi: number, r: number, c: number): LightCoeffs {
  const st = Math.sin(theta);
  return [r * st * Math.cos(phi), r * st * Math.sin(phi), r * Math.cos(theta), c];
}

/** Unit light direction (x right, y up, z toward the camera); (0,0,1) when the strength is 0. */
export function lightDirection(coeffs: LightCoeffs): [number, number, number] {
  const r = Math.hypot(coeffs[0], coeffs[1], coeffs[2]);
  return r > 0 ? [coeffs[0] / r, coeffs[1] / r, coeffs[2] / r] : [0, 0, 1];
}

/** Angle in degrees between two directions. */
export function angleBetweenDeg(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const la = Math.hypot(a[0], a[1], a[2]);
  const lb = Math.hypot(b[0], b[1], b[2]);
  const d = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (la * lb);
  return (Math.acos(Math.min(1, Math.max(-1, d))) * 180) / Math.PI;
}

export interface OfficialFitResult {
  coeffs: LightCoeffs;
  theta: number;
  phi: number;
  r: number;
  c: number;
  /** loss at the last evaluation (before the final step, as the official code returns it) */
  loss: number;
  /** grid initialisation and its loss */
  init: { theta: number; phi: number; loss: number };
  iterations: number;
}

/**
 * The official `get_light_coeffs` fit: grid θ ∈ {0, 0.1, …, 1.5} × φ ∈ {0, 0.25, …, 6.25} with r = 1,
 * c = 0.5 (first minimum wins), then Adam (lr 0.01, β 0.9/0.999, eps 1e-8), at most 500 steps, clamping
 * θ ∈ [0, π/2], φ ∈ [0, 2π], r ≥ 0, c ≥ 0.1 after each step, stopping when prev_loss − loss < 1e-4
 * (loss evaluated before the step; prev_loss starts at 1000).
 */
export function fitLightOfficial(s: LightStats): OfficialFitResult {
  if (s.count === 0) throw new HarmoniaError('fitLightOfficial: no valid pixels to fit the light to');
  let best = { theta: 0, phi: 0, loss: Infinity };
  for (let ti = 0; ti < 16; ti++) {
    const t = ti * 0.1;
    for (let pi = 0; pi < 26; pi++) {
      const p = pi * 0.25;
      const loss = lightLoss(s, coeffsFromAngles(t, p, 1, 0.5));
      if (loss < best.loss) best = { theta: t, phi: p, loss };
    }
  }
  const params = new Float64Array([best.theta, best.phi, 1, 0.5]);
  const m1 = new Float64Array(4);
  const m2 = new Float64Array(4);
  const grad = new Float64Array(4);
  const mv = new Float64Array(4);
  const lr = 0.01;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  let prev = 1000;
  let loss = NaN;
  let it = 0;
  for (it = 0; it < 500; it++) {
    const [th, ph, r] = params;
    const v = coeffsFromAngles(th, ph, r, params[3]);
    loss = lightLoss(s, v);
    // dL/dv = 2(Mv − q)
    for (let a = 0; a < 4; a++) {
      let acc = 0;
      for (let b = 0; b < 4; b++) acc += s.M[a * 4 + b] * v[b];
      mv[a] = 2 * (acc - s.q[a]);
    }
    const st = Math.sin(th), ct = Math.cos(th), sp = Math.sin(ph), cp = Math.cos(ph);
    grad[0] = r * (mv[0] * ct * cp + mv[1] * ct * sp - mv[2] * st);
    grad[1] = r * (-mv[0] * st * sp + mv[1] * st * cp);
    grad[2] = mv[0] * st * cp + mv[1] * st * sp + mv[2] * ct;
    grad[3] = mv[3];
    const t = it + 1;
    for (let k = 0; k < 4; k++) {
      m1[k] = b1 * m1[k] + (1 - b1) * grad[k];
      m2[k] = b2 * m2[k] + (1 - b2) * grad[k] * grad[k];
      const mh = m1[k] / (1 - Math.pow(b1, t));
      const denom = Math.sqrt(m2[k]) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
      params[k] -= (lr * mh) / denom;
    }
    params[0] = Math.min(Math.PI / 2, Math.max(0, params[0]));
    params[1] = Math.min(2 * Math.PI, Math.max(0, params[1]));
    params[2] = Math.max(0, params[2]);
    params[3] = Math.max(0.1, params[3]);
    const delta = prev - loss;
    if (delta < 1e-4) { it++; break; }
    prev = loss;
  }
  const [theta, phi, r, c] = params;
  return { coeffs: coeffsFromAngles(theta, phi, r, c), theta, phi, r, c, loss, init: best, iterations: it };
}

/** Solves the k×k system A x = b (row-major) by Gaussian elimination with partial pivoting; null if singular. */
function solveSmall(A: number[], b: number[], k: number): number[] | null {
  const a = A.slice();
  const x = b.slice();
  for (let col = 0; col < k; col++) {
    let piv = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(a[r * k + col]) > Math.abs(a[piv * k + col])) piv = r;
    if (Math.abs(a[piv * k + col]) < 1e-14) return null;
    if (piv !== col) {
      for (let c = 0; c < k; c++) { const t = a[col * k + c]; a[col * k + c] = a[piv * k + c]; a[piv * k + c] = t; }
      const t = x[col]; x[col] = x[piv]; x[piv] = t;
    }
    for (let r = col + 1; r < k; r++) {
      const f = a[r * k + col] / a[col * k + col];
      for (let c = col; c < k; c++) a[r * k + c] -= f * a[col * k + c];
      x[r] -= f * x[col];
    }
  }
  for (let r = k - 1; r >= 0; r--) {
    let s = x[r];
    for (let c = r + 1; c < k; c++) s -= a[r * k + c] * x[c];
    x[r] = s / a[r * k + r];
  }
  return x;
}

/**
 * Closed-form constrained least squares: minimise L(v) subject to z ≥ 0 (θ ≤ π/2) and c ≥ 0.1 by
 * enumerating the active sets {}, {z = 0}, {c = 0.1}, {z = 0, c = 0.1} (L is convex, so the feasible
 * candidate with the lowest loss is the optimum). A tiny ridge (1e-9) keeps degenerate normal sets solvable.
 */
export function fitLightLeastSquares(s: LightStats): { coeffs: LightCoeffs; loss: number } {
  if (s.count === 0) throw new HarmoniaError('fitLightLeastSquares: no valid pixels to fit the light to');
  let best: { coeffs: LightCoeffs; loss: number } | null = null;
  const sets: Array<{ fixZ: boolean; fixC: boolean }> = [
    { fixZ: false, fixC: false }, { fixZ: true, fixC: false }, { fixZ: false, fixC: true }, { fixZ: true, fixC: true },
  ];
  for (const { fixZ, fixC } of sets) {
    const fixed = new Map<number, number>();
    if (fixZ) fixed.set(2, 0);
    if (fixC) fixed.set(3, 0.1);
    const free = [0, 1, 2, 3].filter((i) => !fixed.has(i));
    const k = free.length;
    const A: number[] = [];
    const b: number[] = [];
    for (const i of free) {
      let rhs = s.q[i];
      for (const [j, val] of fixed) rhs -= s.M[i * 4 + j] * val;
      b.push(rhs);
      for (const j of free) A.push(s.M[i * 4 + j] + (i === j ? 1e-9 : 0));
    }
    const x = solveSmall(A, b, k);
    if (!x) continue;
    const v: LightCoeffs = [0, 0, 0, 0];
    free.forEach((i, idx) => { v[i] = x[idx]; });
    for (const [j, val] of fixed) v[j] = val;
    if (v[2] < -1e-12 || v[3] < 0.1 - 1e-12) continue;
    v[2] = Math.max(0, v[2]);
    v[3] = Math.max(0.1, v[3]);
    const loss = lightLoss(s, v);
    if (!best || loss < best.loss) best = { coeffs: v, loss };
  }
  if (!best) return { coeffs: [0, 0, 0, Math.max(0.1, s.q[3])], loss: lightLoss(s, [0, 0, 0, Math.max(0.1, s.q[3])]) };
  return best;
}

export interface ShadingLightEstimate {
  coeffs: LightCoeffs;
  /** image-plane tilt φ (radians, from +x toward +y up) */
  tilt: number;
  /** slant θ (radians from +z) chosen by the prior */
  slant: number;
  /** |E∇S| / E|∇S|: how consistent the shading gradients are */
  evidence: number;
  count: number;
}

export interface ShadingLightOptions {
  /** Slant used when the tilt evidence is strong (default 45°). */
  slantDeg?: number;
  /** Evidence threshold for using the slant (default 0.05). */
  evidenceThreshold?: number;
}

/**
 * Background light from shading statistics alone (Pentland 1982; Lee & Rosenfeld 1985), spec §5(a):
 * tilt φ = atan2(E[∂S/∂y_up], E[∂S/∂x]) over valid pixel pairs; slant θ = 45° when the tilt evidence
 * |E∇S|/E|∇S| is strong, else 0; r and c from the mean and variance of S under an isotropic-hemisphere
 * normal distribution: E[n·d] = cosθ/2, Var = r²(1/3 − cos²θ/4), c = max(0.1, mean − r·cosθ/2).
 * `shading` should be mildly smoothed; `valid` marks usable background pixels.
 */
export function estimateLightFromShading(shading: Float32Array, valid: Uint8Array, width: number, height: number, options: ShadingLightOptions = {}): ShadingLightEstimate {
  let gx = 0, gy = 0, gmag = 0, ng = 0;
  let sum = 0, sum2 = 0, n = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!valid[i]) continue;
      const s = shading[i];
      sum += s; sum2 += s * s; n++;
      if (x > 0 && x < width - 1 && y > 0 && y < height - 1 && valid[i - 1] && valid[i + 1] && valid[i - width] && valid[i + width]) {
        const dx = 0.5 * (shading[i + 1] - shading[i - 1]);
        const dy = 0.5 * (shading[i - width] - shading[i + width]); // y up
        gx += dx; gy += dy; gmag += Math.hypot(dx, dy); ng++;
      }
    }
  }
  if (n === 0) return { coeffs: [0, 0, 0, 0.1], tilt: 0, slant: 0, evidence: 0, count: 0 };
  const mean = sum / n;
  const variance = Math.max(0, sum2 / n - mean * mean);
  const evidence = ng > 0 && gmag > 0 ? Math.hypot(gx, gy) / gmag : 0;
  let tilt = Math.atan2(gy, gx);
  if (tilt < 0) tilt += 2 * Math.PI;
  const slant = evidence > (options.evidenceThreshold ?? 0.05) ? ((options.slantDeg ?? 45) * Math.PI) / 180 : 0;
  const ct = Math.cos(slant);
  const r = Math.sqrt(variance / (1 / 3 - (ct * ct) / 4));
  const c = Math.max(0.1, mean - (r * ct) / 2);
  return { coeffs: coeffsFromAngles(slant, tilt, r, c), tilt, slant, evidence, count: n };
}

/**
 * Renders the light on a sphere (size×size, sRGB): shading max(0, n·v + c) normalised by its maximum,
 * background black. Normal at a sphere pixel = (col, −row, z) in the x-right / y-up frame.
 */
export function renderLightSphere(coeffs: LightCoeffs, size = 128): FloatImage {
  const data = new Float32Array(size * size * 3);
  const shd = new Float32Array(size * size);
  let max = 0;
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const x = ((col + 0.5) / size) * 2 - 1;
      const y = -(((row + 0.5) / size) * 2 - 1);
      const rr = x * x + y * y;
      if (rr > 1) continue;
      const z = Math.sqrt(1 - rr);
      const s = Math.max(0, coeffs[0] * x + coeffs[1] * y + coeffs[2] * z + coeffs[3]);
      shd[row * size + col] = s;
      if (s > max) max = s;
    }
  }
  for (let i = 0; i < size * size; i++) {
    const v = max > 0 ? Math.pow(shd[i] / max, 1 / 2.2) : 0;
    data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = v;
  }
  return { width: size, height: size, channels: 3, data };
}
