/**
 * Re-shading "R0" (spec §6–7, weight-free substitute for the MidasNet reshading network):
 * 1. Lambertian foreground shading S_L = max(0, n·(x,y,z) + c) + a₀ (a₀ = 0.2 as in generate_shd);
 * 2. detail transfer: S_fg = S_L · Det^κ with Det = clip(S_orig / B, 0.25, 4) and
 *    B = G_σ*(S_orig·F) / G_σ*(F), σ = 6 % of the foreground bounding-box size;
 * 3. context gain: g = (median_ring S_orig / median_{inner band} S_fg)^ω (ω = 1 by default) clamped to [0.5, 2], over a ring
 *    of ≈4 % of the bounding box outside F and the band of the same width inside F;
 * 4. log-domain seam: log S_new = m·log S_fg + (1 − m)·log S_orig with m feathered inward over 2 px
 *    (times a strength β ≤ 1 when a partial re-shading is wanted);
 * 5. the background keeps S_orig exactly (m = 0 outside F).
 * Browser-safe.
 */
import type { LightCoeffs } from './light.ts';
import { gaussianBlur } from './filters.ts';

export interface ReshadeOptions {
  /** a₀ added to the clamped Lambertian term (default 0.2, the official constant; 0 keeps more contrast). */
  ambientOffset?: number;
  /** κ: exponent of the detail ratio (default 1). */
  detail?: number;
  /** ω: strength of the context gain (default 1, tuned on the Lalonde train split; the spec suggests ≈0.5). */
  contextGain?: number;
  /** σ of the detail low-pass as a fraction of the bounding-box size (default 0.06). */
  detailSigmaFrac?: number;
  /** Ring / band width as a fraction of the bounding-box size (default 0.04, at least 2 px). */
  ringFrac?: number;
  /** Inward feather of the seam in pixels (default 2). */
  feather?: number;
  /** β: fraction of the log-shading change applied (1 = full re-shading, 0 = keep S_orig; default 0.25, tuned on the Lalonde train split). */
  strength?: number;
}

export interface ReshadeInput {
  width: number;
  height: number;
  /** original shading S_orig */
  shading: Float32Array;
  /** hard foreground mask (1/0) */
  mask: Float32Array;
  /** inside distance (0 outside) and outside distance (0 inside) of the hard mask */
  insideDist: Float32Array;
  outsideDist: Float32Array;
  /** interleaved unit normals (foreground) */
  normals: Float32Array;
  light: LightCoeffs;
}

export interface ReshadeResult {
  /** S_new (equal to S_orig bit-exactly outside the foreground) */
  shading: Float32Array;
  /** log(S_new / S_orig) (0 outside the foreground) */
  logRatio: Float32Array;
  /** the Lambertian term S_L (0 outside the foreground) */
  lambertian: Float32Array;
  gain: number;
}

function median(values: Float32Array, n: number): number {
  if (n === 0) return NaN;
  const s = values.subarray(0, n).sort();
  return n % 2 ? s[(n - 1) >> 1] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

export function reshade(inp: ReshadeInput, options: ReshadeOptions = {}): ReshadeResult {
  const { width, height, shading, mask, insideDist, outsideDist, normals, light } = inp;
  const n = width * height;
  const a0 = options.ambientOffset ?? 0.2;
  const kappa = options.detail ?? 1;
  const omega = options.contextGain ?? 1;
  const feather = Math.max(1e-6, options.feather ?? 2);
  const beta = options.strength ?? 0.25;
  const lambertian = new Float32Array(n);
  const logRatio = new Float32Array(n);
  const out = new Float32Array(shading);
  // bounding box of the foreground
  let x0 = width, y0 = height, x1 = -1, y1 = -1, count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x] > 0.5) {
        count++;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (count === 0) return { shading: out, logRatio, lambertian, gain: 1 };
  const size = Math.sqrt((x1 - x0 + 1) * (y1 - y0 + 1));
  // 1. Lambertian
  const [lx, ly, lz, lc] = light;
  for (let i = 0; i < n; i++) {
    if (!(mask[i] > 0.5)) continue;
    const j = i * 3;
    lambertian[i] = Math.max(0, normals[j] * lx + normals[j + 1] * ly + normals[j + 2] * lz + lc) + a0;
  }
  // 2. detail transfer
  const sfg = new Float32Array(n);
  if (kappa !== 0) {
    const sigma = Math.max(1, (options.detailSigmaFrac ?? 0.06) * size);
    const sf = new Float32Array(n);
    for (let i = 0; i < n; i++) sf[i] = mask[i] > 0.5 ? shading[i] : 0;
    const num = gaussianBlur(sf, width, height, sigma);
    const den = gaussianBlur(mask, width, height, sigma);
    for (let i = 0; i < n; i++) {
      if (!(mask[i] > 0.5)) continue;
      const base = den[i] > 1e-6 ? num[i] / den[i] : shading[i];
      let det = base > 0 ? shading[i] / base : 1;
      det = det < 0.25 ? 0.25 : det > 4 ? 4 : det;
      sfg[i] = lambertian[i] * (kappa === 1 ? det : Math.pow(det, kappa));
    }
  } else {
    for (let i = 0; i < n; i++) if (mask[i] > 0.5) sfg[i] = lambertian[i];
  }
  // 3. context gain
  let gain = 1;
  if (omega !== 0) {
    const band = Math.max(2, (options.ringFrac ?? 0.04) * size);
    const ringVals = new Float32Array(n);
    const bandVals = new Float32Array(n);
    let nr = 0, nb = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] > 0.5) { if (insideDist[i] <= band) bandVals[nb++] = sfg[i]; }
      else if (outsideDist[i] <= band) ringVals[nr++] = shading[i];
    }
    const mr = median(ringVals, nr);
    const mb = median(bandVals, nb);
    if (mr > 0 && mb > 0) gain = Math.min(2, Math.max(0.5, Math.pow(mr / mb, omega)));
  }
  // 4. seam in the log domain, feathered inward
  for (let i = 0; i < n; i++) {
    if (!(mask[i] > 0.5)) continue;
    const s = sfg[i] * gain;
    let m = (insideDist[i] - 0.5) / feather;
    m = m < 0 ? 0 : m > 1 ? 1 : m;
    const lr = beta * m * (Math.log(Math.max(s, 1e-6)) - Math.log(Math.max(shading[i], 1e-6)));
    logRatio[i] = lr;
    out[i] = shading[i] * Math.exp(lr);
  }
  return { shading: out, logRatio, lambertian, gain };
}
