/**
 * Intrinsic decomposition I_lin = A_rgb · S with grayscale shading S (spec §2, weight-free substitute).
 *
 * 'poisson' (default): colour-Retinex gradient classification (a log-luminance gradient is kept as
 * shading in proportion to exp(−|∇chroma|²/σc²)) and the screened Poisson equation
 * (DᵀD + μ)s = Dᵀg + μ·(G_σ*l), solved exactly by a 2-D DCT (Neumann boundaries) at ≤512 px.
 * 'guided': single-scale edge-preserving Retinex s = guidedFilter(l, guide=l, r≈3% diagonal, ε=0.01).
 *
 * Either way the result is a low-resolution coefficient field (a, b) with s = a·l + b at any
 * resolution (guided upsampling with the full-resolution log-luminance as the guide), and
 * S = k·exp(s) with k fixing the free scale (97th percentile of albedo luminance Y/S = 0.85).
 * Because A is defined as I_lin / S, A·S reproduces the image exactly wherever nothing is edited.
 */
import { HarmoniaError } from '../errors.ts';
import { resizeImage, fitWithin } from '../image/resize.ts';
import { LUMA_B, LUMA_G, LUMA_R } from './color.ts';
import { dct2d, idct2d } from './dct.ts';
import { bilinearTaps, gaussianBlur, guidedFilterCoefficients, quantile } from './filters.ts';

export type DecompositionMethod = 'poisson' | 'guided';

export interface DecomposeOptions {
  method?: DecompositionMethod;
  /** Long side of the grid the shading is solved on (default 512). */
  solveMaxSide?: number;
  /** Chromaticity-edge scale σc of the Retinex weight (default 0.03). */
  sigmaChroma?: number;
  /** Screening weight μ of the Poisson equation (default 1e-3). */
  mu?: number;
  /** σ of the Gaussian low-pass of l that anchors the low frequencies, as a fraction of the solve diagonal (default 0.02). */
  anchorSigmaFrac?: number;
  /** Guided-filter fallback: radius as a fraction of the solve diagonal (default 0.03) and ε (default 0.01). */
  guidedRadiusFrac?: number;
  guidedEps?: number;
  /** Albedo-luminance percentile and its target value for the scale fix (defaults 0.97 → 0.85). */
  scalePercentile?: number;
  scaleTarget?: number;
}

/** Shading as a field: S(p) = k · exp(a(p)·l(p) + b(p)), l = log(Y_lin + 1e-4), a, b bilinear on the solve grid. */
export interface ShadingModel {
  method: DecompositionMethod;
  width: number;
  height: number;
  a: Float32Array;
  b: Float32Array;
  k: number;
  /** the linear RGB image on the solve grid (interleaved), for statistics that run at ≤512 px */
  linear: Float32Array;
}

export const LOG_EPS = 1e-4;

/** Natural log of brightness + 1e-4 for a linear RGB array. */
export function logLuminance(lin: Float32Array, pixels: number): Float32Array {
  const out = new Float32Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = Math.log(LUMA_R * lin[j] + LUMA_G * lin[j + 1] + LUMA_B * lin[j + 2] + LOG_EPS);
  }
  return out;
}

/**
 * Solves min Σ|∇s − g|² + μ Σ(s − f)² on a width×height grid with forward differences
 * (gx has width−1 entries per row stored at [y·width + x], the last column unused; likewise gy).
 * Exact via the DCT-II, which diagonalises the Neumann Laplacian DᵀD.
 */
export function screenedPoisson(gx: Float32Array, gy: Float32Array, f: Float32Array, width: number, height: number, mu: number): Float32Array {
  if (!(mu > 0)) throw new HarmoniaError(`screenedPoisson: mu must be > 0, got ${mu}`);
  const n = width * height;
  const rhs = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      let v = mu * f[i];
      if (x < width - 1) v -= gx[i];
      if (x > 0) v += gx[i - 1];
      if (y < height - 1) v -= gy[i];
      if (y > 0) v += gy[i - width];
      rhs[i] = v;
    }
  }
  dct2d(rhs, width, height);
  const lx = new Float64Array(width);
  const ly = new Float64Array(height);
  for (let k = 0; k < width; k++) lx[k] = 2 - 2 * Math.cos((Math.PI * k) / width);
  for (let k = 0; k < height; k++) ly[k] = 2 - 2 * Math.cos((Math.PI * k) / height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rhs[y * width + x] /= lx[x] + ly[y] + mu;
  }
  idct2d(rhs, width, height);
  return Float32Array.from(rhs);
}

/**
 * Estimates the shading model of a linear RGB image (interleaved, 3 channels).
 * The image itself is only read; the returned model evaluates S at any resolution.
 */
export function decompose(lin: Float32Array, width: number, height: number, options: DecomposeOptions = {}): ShadingModel {
  if (lin.length !== width * height * 3) {
    throw new HarmoniaError(`decompose: expected ${width}×${height}×3 values, got ${lin.length}`);
  }
  const method = options.method ?? 'poisson';
  if (method !== 'poisson' && method !== 'guided') {
    throw new HarmoniaError(`decompose: method must be "poisson" or "guided", got "${String(method)}"`);
  }
  const solve = fitWithin(width, height, options.solveMaxSide ?? 512);
  const sw = solve.width;
  const sh = solve.height;
  const small = sw === width && sh === height
    ? lin
    : resizeImage({ width, height, channels: 3, data: lin }, sw, sh, 'bilinear').data;
  const n = sw * sh;
  const l = logLuminance(small, n);
  const diag = Math.hypot(sw, sh);
  let a: Float32Array;
  let b: Float32Array;
  if (method === 'guided') {
    const r = Math.max(1, Math.round((options.guidedRadiusFrac ?? 0.03) * diag));
    const c = guidedFilterCoefficients(l, l, sw, sh, r, options.guidedEps ?? 0.01);
    a = c.a;
    b = c.b;
  } else {
    const s = retinexPoisson(small, l, sw, sh, options);
    // guided upsampler: s ≈ a·l + b locally (radius 2 px on the solve grid)
    const c = guidedFilterCoefficients(l, s, sw, sh, 2, 1e-3);
    a = c.a;
    b = c.b;
  }
  // scale fix: k = P97(Y / exp(s)) / 0.85 on the solve grid
  const ratio = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const y = LUMA_R * small[j] + LUMA_G * small[j + 1] + LUMA_B * small[j + 2];
    ratio[i] = y * Math.exp(-(a[i] * l[i] + b[i]));
  }
  const p = quantile(ratio, options.scalePercentile ?? 0.97);
  const k = p > 0 && Number.isFinite(p) ? p / (options.scaleTarget ?? 0.85) : 1;
  return { method, width: sw, height: sh, a, b, k, linear: small };
}

function retinexPoisson(small: Float32Array, l: Float32Array, sw: number, sh: number, options: DecomposeOptions): Float32Array {
  const n = sw * sh;
  const sc = options.sigmaChroma ?? 0.03;
  const inv = 1 / (sc * sc);
  const chroma = new Float32Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const sum = small[j] + small[j + 1] + small[j + 2] + 1e-3;
    chroma[j] = small[j] / sum;
    chroma[j + 1] = small[j + 1] / sum;
    chroma[j + 2] = small[j + 2] / sum;
  }
  const gx = new Float32Array(n);
  const gy = new Float32Array(n);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const i = y * sw + x;
      const j = i * 3;
      if (x < sw - 1) {
        const d0 = chroma[j + 3] - chroma[j];
        const d1 = chroma[j + 4] - chroma[j + 1];
        const d2 = chroma[j + 5] - chroma[j + 2];
        gx[i] = (l[i + 1] - l[i]) * Math.exp(-(d0 * d0 + d1 * d1 + d2 * d2) * inv);
      }
      if (y < sh - 1) {
        const k = j + sw * 3;
        const d0 = chroma[k] - chroma[j];
        const d1 = chroma[k + 1] - chroma[j + 1];
        const d2 = chroma[k + 2] - chroma[j + 2];
        gy[i] = (l[i + sw] - l[i]) * Math.exp(-(d0 * d0 + d1 * d1 + d2 * d2) * inv);
      }
    }
  }
  const anchor = gaussianBlur(l, sw, sh, Math.max(0.5, (options.anchorSigmaFrac ?? 0.02) * Math.hypot(sw, sh)));
  return screenedPoisson(gx, gy, anchor, sw, sh, options.mu ?? 1e-3);
}

/**
 * Evaluates S = k·exp(a·l + b) at width×height for the linear RGB image `lin` of that size,
 * writing into `out` (allocated when absent).
 */
export function evaluateShading(model: ShadingModel, lin: Float32Array, width: number, height: number, out = new Float32Array(width * height)): Float32Array {
  const tx = bilinearTaps(model.width, width);
  const ty = bilinearTaps(model.height, height);
  const { a, b, k } = model;
  const mw = model.width;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * mw;
    const r1 = ty.i1[y] * mw;
    const fy = ty.f[y];
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const j = i * 3;
      const ll = Math.log(LUMA_R * lin[j] + LUMA_G * lin[j + 1] + LUMA_B * lin[j + 2] + LOG_EPS);
      const x0 = tx.i0[x];
      const x1 = tx.i1[x];
      const fx = tx.f[x];
      const at = a[r0 + x0] + (a[r0 + x1] - a[r0 + x0]) * fx;
      const ab = a[r1 + x0] + (a[r1 + x1] - a[r1 + x0]) * fx;
      const bt = b[r0 + x0] + (b[r0 + x1] - b[r0 + x0]) * fx;
      const bb = b[r1 + x0] + (b[r1 + x1] - b[r1 + x0]) * fx;
      out[i] = k * Math.exp((at + (ab - at) * fy) * ll + bt + (bb - bt) * fy);
    }
  }
  return out;
}

/** Albedo A = I_lin / S (linear, unclipped), interleaved RGB. */
export function albedoFromShading(lin: Float32Array, shading: Float32Array): Float32Array {
  const out = new Float32Array(lin.length);
  for (let i = 0, j = 0; i < shading.length; i++, j += 3) {
    const inv = 1 / shading[i];
    out[j] = lin[j] * inv;
    out[j + 1] = lin[j + 1] * inv;
    out[j + 2] = lin[j + 2] * inv;
  }
  return out;
}
