/**
 * Single-channel image filters on plain Float32Arrays (row-major width×height), browser-safe.
 * No per-pixel allocation: every filter works with a few scratch rows/arrays.
 */

/**
 * Mean over the (2r+1)² window clipped to the image (so borders average fewer pixels), O(1) per
 * pixel via running sums. `out` may not alias `src`.
 */
export function boxFilter(src: Float32Array, width: number, height: number, r: number, out = new Float32Array(src.length)): Float32Array {
  r = Math.max(0, Math.floor(r));
  if (r === 0) { out.set(src); return out; }
  const tmp = new Float64Array(width * height);
  // horizontal sums
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let s = 0;
    const right0 = Math.min(width - 1, r);
    for (let x = 0; x <= right0; x++) s += src[row + x];
    for (let x = 0; x < width; x++) {
      const lo = Math.max(0, x - r);
      const hi = Math.min(width - 1, x + r);
      tmp[row + x] = s / (hi - lo + 1);
      const add = x + r + 1;
      const sub = x - r;
      if (add < width) s += src[row + add];
      if (sub >= 0) s -= src[row + sub];
    }
  }
  // vertical sums, one column accumulator row at a time
  const acc = new Float64Array(width);
  const bottom0 = Math.min(height - 1, r);
  for (let y = 0; y <= bottom0; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) acc[x] += tmp[row + x];
  }
  for (let y = 0; y < height; y++) {
    const lo = Math.max(0, y - r);
    const hi = Math.min(height - 1, y + r);
    const inv = 1 / (hi - lo + 1);
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = acc[x] * inv;
    const add = y + r + 1;
    const sub = y - r;
    if (add < height) { const ar = add * width; for (let x = 0; x < width; x++) acc[x] += tmp[ar + x]; }
    if (sub >= 0) { const sr = sub * width; for (let x = 0; x < width; x++) acc[x] -= tmp[sr + x]; }
  }
  return out;
}

/**
 * Gaussian blur with standard deviation `sigma` (pixels), borders renormalised (a weighted mean of the
 * pixels inside the image). Exact separable kernel (radius 3σ) up to σ = 4; beyond that three box
 * passes with widths chosen for the same variance (Kovesi 2010), O(1) per pixel.
 */
export function gaussianBlur(src: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return new Float32Array(src);
  if (sigma <= 4) return separableGaussian(src, width, height, sigma);
  const radii = boxRadiiForGaussian(sigma, 3);
  let cur = src;
  for (const r of radii) cur = boxFilter(cur, width, height, r);
  return cur === src ? new Float32Array(src) : cur;
}

/** Radii of n box filters whose convolution has the variance of a Gaussian with this σ. */
export function boxRadiiForGaussian(sigma: number, n: number): number[] {
  const wIdeal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(wIdeal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const mIdeal = (12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4);
  const m = Math.round(mIdeal);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(((i < m ? wl : wu) - 1) / 2);
  return out;
}

function separableGaussian(src: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const rad = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * rad + 1);
  for (let i = -rad; i <= rad; i++) k[i + rad] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const tmp = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const lo = Math.max(-rad, -x);
      const hi = Math.min(rad, width - 1 - x);
      let s = 0;
      let ws = 0;
      for (let t = lo; t <= hi; t++) { const w = k[t + rad]; s += w * src[row + x + t]; ws += w; }
      tmp[row + x] = s / ws;
    }
  }
  const out = new Float32Array(src.length);
  const colW = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const lo = Math.max(-rad, -y);
    const hi = Math.min(rad, height - 1 - y);
    colW.fill(0);
    let ws = 0;
    for (let t = lo; t <= hi; t++) {
      const w = k[t + rad];
      ws += w;
      const r = (y + t) * width;
      for (let x = 0; x < width; x++) colW[x] += w * tmp[r + x];
    }
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = colW[x] / ws;
  }
  return out;
}

/** Coefficients of a guided filter: the output is `a·guide + b` (He et al. 2010, gray guide). */
export interface GuidedCoefficients {
  width: number;
  height: number;
  a: Float32Array;
  b: Float32Array;
}

/**
 * Guided filter coefficients (window radius r, regulariser eps) for input p and a single-channel
 * guide I, already box-averaged, so that q = a·I + b. Evaluating a, b (bilinearly upsampled) against a
 * higher-resolution guide is the "fast guided filter" upsampler.
 */
export function guidedFilterCoefficients(guide: Float32Array, p: Float32Array, width: number, height: number, r: number, eps: number): GuidedCoefficients {
  const n = width * height;
  const meanI = boxFilter(guide, width, height, r);
  const meanP = guide === p ? meanI : boxFilter(p, width, height, r);
  const prod = new Float32Array(n);
  for (let i = 0; i < n; i++) prod[i] = guide[i] * p[i];
  const corrIP = boxFilter(prod, width, height, r);
  let corrII = corrIP;
  if (guide !== p) {
    for (let i = 0; i < n; i++) prod[i] = guide[i] * guide[i];
    corrII = boxFilter(prod, width, height, r);
  }
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const varI = corrII[i] - meanI[i] * meanI[i];
    const cov = corrIP[i] - meanI[i] * meanP[i];
    const ai = cov / (varI + eps);
    a[i] = ai;
    b[i] = meanP[i] - ai * meanI[i];
  }
  const ma = boxFilter(a, width, height, r);
  const mb = boxFilter(b, width, height, r);
  return { width, height, a: ma, b: mb };
}

/** Guided filter output at the coefficients' own resolution. */
export function guidedFilter(guide: Float32Array, p: Float32Array, width: number, height: number, r: number, eps: number): Float32Array {
  const c = guidedFilterCoefficients(guide, p, width, height, r, eps);
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = c.a[i] * guide[i] + c.b[i];
  return out;
}

/**
 * Precomputed bilinear sampling positions (half-pixel centres, clamped) for mapping a target axis of
 * length `outSize` onto a source axis of length `inSize`.
 */
export interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

export function bilinearTaps(inSize: number, outSize: number): AxisTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float32Array(outSize);
  const s = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    let c = (o + 0.5) * s - 0.5;
    if (c < 0) c = 0;
    if (c > inSize - 1) c = inSize - 1;
    const lo = Math.floor(c);
    i0[o] = lo;
    i1[o] = Math.min(inSize - 1, lo + 1);
    f[o] = c - lo;
  }
  return { i0, i1, f };
}

/** Bilinear (no anti-aliasing: meant for upsampling smooth fields) resize of a single-channel array. */
export function upsampleBilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  if (sw === dw && sh === dh) return new Float32Array(src);
  const tx = bilinearTaps(sw, dw);
  const ty = bilinearTaps(sh, dh);
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const r0 = ty.i0[y] * sw;
    const r1 = ty.i1[y] * sw;
    const fy = ty.f[y];
    const row = y * dw;
    for (let x = 0; x < dw; x++) {
      const x0 = tx.i0[x];
      const x1 = tx.i1[x];
      const fx = tx.f[x];
      const top = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * fx;
      const bot = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * fx;
      out[row + x] = top + (bot - top) * fy;
    }
  }
  return out;
}

/** Value at quantile q ∈ [0,1] (nearest rank on a sorted copy) of the selected entries; NaN if none. */
export function quantile(values: Float32Array, q: number): number {
  if (values.length === 0) return NaN;
  const s = Float32Array.from(values).sort();
  const idx = Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))));
  return s[idx];
}
