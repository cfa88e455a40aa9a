/**
 * Albedo harmonisation (spec §3): the four parametric edits of the official code, exactly as coded,
 * on the gamma-encoded albedo x = A^(1/2.2); parameters are solved from foreground-vs-background
 * albedo statistics (the weight-free substitute for the EfficientNet regressor), in the fixed order
 * white balance → colour curve → saturation → exposure, with partial transfer strengths λ.
 * Browser-safe: plain typed arrays.
 */
import { HarmoniaError } from '../errors.ts';
import { LUMA_B, LUMA_G, LUMA_R } from './color.ts';

export type AlbedoEdit = 'wb' | 'curve' | 'saturation' | 'exposure';
export const EDIT_ORDER: readonly AlbedoEdit[] = ['wb', 'curve', 'saturation', 'exposure'];
export const CURVE_SEGMENTS = 8;

export interface AlbedoParams {
  /** White-balance parameters p (official range [0.1, 1]); the gain is w_c = p_c / p_g and y_c = x_c / w_c. */
  wb: [number, number, number];
  /** Colour curve p_{c,i}, channel-major (24 values); all equal = identity. */
  curve: number[];
  /** HSV saturation factor α (official range [0, 2]). */
  saturation: number;
  /** Exposure factor e (official range [0.5, 2]). */
  exposure: number;
  /** Application order (the official code draws a random permutation; the substitute fixes it). */
  order: AlbedoEdit[];
}

export function identityAlbedoParams(): AlbedoParams {
  return { wb: [1, 1, 1], curve: new Array(24).fill(1), saturation: 1, exposure: 1, order: [...EDIT_ORDER] };
}

/** True when the edit does nothing for these parameters (it is then skipped, so the input is reproduced exactly). */
export function isIdentityEdit(edit: AlbedoEdit, p: AlbedoParams): boolean {
  switch (edit) {
    case 'wb': return p.wb[0] === p.wb[1] && p.wb[2] === p.wb[1];
    case 'curve': {
      for (let c = 0; c < 3; c++) {
        const base = p.curve[c * 8];
        for (let i = 1; i < 8; i++) if (p.curve[c * 8 + i] !== base) return false;
      }
      return true;
    }
    case 'saturation': return p.saturation === 1;
    case 'exposure': return p.exposure === 1;
  }
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Compiled parameters for per-pixel application without allocation.
 * curveCum[c·9 + j] = Σ_{i<j} p_{c,i} / Σ_i p_{c,i}; curveSlope[c·8 + j] = p_{c,j} / Σ_i p_{c,i}.
 */
export interface CompiledEdits {
  steps: AlbedoEdit[];
  wbInv: Float64Array;
  curveCum: Float64Array;
  curveSlope: Float64Array;
  saturation: number;
  exposure: number;
}

export function compileEdits(p: AlbedoParams): CompiledEdits {
  validateParams(p);
  const wbInv = new Float64Array(3);
  for (let c = 0; c < 3; c++) {
    const w = p.wb[c] / (p.wb[1] + 1e-9);
    wbInv[c] = 1 / (w + 1e-9);
  }
  const curveCum = new Float64Array(27);
  const curveSlope = new Float64Array(24);
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += p.curve[c * 8 + i];
    let cum = 0;
    for (let i = 0; i < 8; i++) {
      curveCum[c * 9 + i] = cum / sum;
      curveSlope[c * 8 + i] = p.curve[c * 8 + i] / sum;
      cum += p.curve[c * 8 + i];
    }
    curveCum[c * 9 + 8] = 1;
  }
  return {
    steps: p.order.filter((e) => !isIdentityEdit(e, p)),
    wbInv,
    curveCum,
    curveSlope,
    saturation: p.saturation,
    exposure: p.exposure,
  };
}

function validateParams(p: AlbedoParams): void {
  const bad = (what: string): never => { throw new HarmoniaError(`albedo params: ${what}`); };
  if (p.wb.length !== 3 || p.wb.some((v) => !(v > 0) || !Number.isFinite(v))) bad(`wb must be 3 positive numbers, got [${p.wb.join(', ')}]`);
  if (p.curve.length !== 24 || p.curve.some((v) => !(v > 0) || !Number.isFinite(v))) bad('curve must be 24 positive numbers');
  if (!(p.saturation >= 0) || !Number.isFinite(p.saturation)) bad(`saturation must be ≥ 0, got ${p.saturation}`);
  if (!(p.exposure > 0) || !Number.isFinite(p.exposure)) bad(`exposure must be > 0, got ${p.exposure}`);
  const seen = new Set(p.order);
  if (p.order.length !== 4 || seen.size !== 4 || EDIT_ORDER.some((e) => !seen.has(e))) bad(`order must be a permutation of ${EDIT_ORDER.join(', ')}`);
}

/** One edit on one pixel, in place on rgb[0..2], followed by the official clamp to [0, 1]. */
export function applyEditPixel(edit: AlbedoEdit, ce: CompiledEdits, rgb: Float64Array): void {
  let r = rgb[0];
  let g = rgb[1];
  let b = rgb[2];
  switch (edit) {
    case 'wb':
      r *= ce.wbInv[0]; g *= ce.wbInv[1]; b *= ce.wbInv[2];
      break;
    case 'curve':
      r = curve(r, ce, 0); g = curve(g, ce, 1); b = curve(b, ce, 2);
      break;
    case 'saturation': {
      const v = r > g ? (r > b ? r : b) : (g > b ? g : b);
      const a = ce.saturation;
      r = v + a * (r - v); g = v + a * (g - v); b = v + a * (b - v);
      break;
    }
    case 'exposure':
      r *= ce.exposure; g *= ce.exposure; b *= ce.exposure;
      break;
  }
  rgb[0] = clip01(r);
  rgb[1] = clip01(g);
  rgb[2] = clip01(b);
}

/** y = Σ_i clip(8x − i, 0, 1)·p_i / Σp, evaluated in O(1). */
function curve(x: number, ce: CompiledEdits, c: number): number {
  const t = 8 * x;
  if (t <= 0) return 0;
  if (t >= 8) return 1;
  const j = Math.floor(t);
  return ce.curveCum[c * 9 + j] + (t - j) * ce.curveSlope[c * 8 + j];
}

/**
 * All edits on one pixel with mask weight m: cur = (1−m)·cur + m·clip(edit(cur), 0, 1) per edit
 * (official composition). `tmp` is a 3-element scratch array. Identity edits are skipped.
 */
export function applyEditsPixel(ce: CompiledEdits, m: number, rgb: Float64Array, tmp: Float64Array): void {
  if (m <= 0) return;
  for (const edit of ce.steps) {
    tmp[0] = rgb[0]; tmp[1] = rgb[1]; tmp[2] = rgb[2];
    applyEditPixel(edit, ce, tmp);
    if (m >= 1) {
      rgb[0] = tmp[0]; rgb[1] = tmp[1]; rgb[2] = tmp[2];
    } else {
      rgb[0] += m * (tmp[0] - rgb[0]);
      rgb[1] += m * (tmp[1] - rgb[1]);
      rgb[2] += m * (tmp[2] - rgb[2]);
    }
  }
}

/**
 * Applies the edits to an interleaved gamma-albedo array (3 channels) with a per-pixel mask weight
 * (null = 1 everywhere). Returns a new array; pixels with weight 0 and identity parameters are
 * copied bit-exactly.
 */
export function applyAlbedoEdits(albedoGamma: Float32Array, mask: Float32Array | null, params: AlbedoParams): Float32Array {
  const ce = compileEdits(params);
  const out = new Float32Array(albedoGamma);
  if (ce.steps.length === 0) return out;
  const px = albedoGamma.length / 3;
  const rgb = new Float64Array(3);
  const tmp = new Float64Array(3);
  for (let i = 0, j = 0; i < px; i++, j += 3) {
    const m = mask ? mask[i] : 1;
    if (m <= 0) continue;
    rgb[0] = out[j]; rgb[1] = out[j + 1]; rgb[2] = out[j + 2];
    applyEditsPixel(ce, m, rgb, tmp);
    out[j] = rgb[0]; out[j + 1] = rgb[1]; out[j + 2] = rgb[2];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameter solve from statistics

export interface AlbedoStrengths {
  /** λ of the white balance transfer (default 0.5). */
  wb: number;
  /** λ of the partial histogram matching in the colour curve (default 0.3). */
  curve: number;
  /** λ of the saturation transfer (default 0.5). */
  saturation: number;
  /** λ of the exposure transfer (default 0.5). */
  exposure: number;
}

export const DEFAULT_ALBEDO_STRENGTHS: AlbedoStrengths = { wb: 0.5, curve: 0.3, saturation: 0.5, exposure: 0.5 };

/**
 * Strengths for composites whose foreground differs from its true appearance by the capture condition
 * only (illuminant colour / white balance and exposure, as in the procedural composites): white balance
 * and exposure transfer, no curve or saturation transfer (those reshape the object's own colour
 * distribution toward the background's, which only helps when the composite was made by colour
 * statistics transfer, as in iHarmony4 / the Lalonde composites, where the defaults are better).
 */
export const CAPTURE_ALBEDO_STRENGTHS: AlbedoStrengths = { wb: 0.5, curve: 0, saturation: 0, exposure: 0.5 };

export interface AlbedoSolveOptions {
  strengths?: Partial<AlbedoStrengths>;
  /** Statistics use at most this many pixels per region (regular subsampling; default 200,000). */
  maxSamples?: number;
  /** Background weighting: 'all' pixels, or only a ring of this many pixels around the foreground. */
  backgroundRing?: number;
  /** Distance of each background pixel to the foreground (needed with backgroundRing). */
  outsideDistance?: Float32Array;
}

/** Collects valid (0.02 ≤ max channel ≤ 0.98) gamma-albedo triples of the pixels selected by `take`. */
function collect(albedo: Float32Array, px: number, take: (i: number) => boolean, maxSamples: number): Float64Array {
  let count = 0;
  for (let i = 0; i < px; i++) if (take(i)) count++;
  const step = Math.max(1, Math.ceil(count / maxSamples));
  const out = new Float64Array(Math.ceil(count / step) * 3);
  let n = 0;
  let seen = 0;
  for (let i = 0; i < px; i++) {
    if (!take(i)) continue;
    if (seen++ % step !== 0) continue;
    const j = i * 3;
    const r = albedo[j];
    const g = albedo[j + 1];
    const b = albedo[j + 2];
    const mx = Math.max(r, g, b);
    if (mx < 0.02 || mx > 0.98) continue;
    out[n++] = r; out[n++] = g; out[n++] = b;
  }
  return out.subarray(0, n);
}

function channelMean(s: Float64Array, c: number): number {
  let sum = 0;
  for (let i = c; i < s.length; i += 3) sum += s[i];
  return sum / (s.length / 3);
}

/** p-quantile of channel c (or of the brightness when c = -1) by sorting a copy. */
function sortedChannel(s: Float64Array, c: number): Float64Array {
  const n = s.length / 3;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = i * 3;
    out[i] = c >= 0 ? s[j + c] : LUMA_R * s[j] + LUMA_G * s[j + 1] + LUMA_B * s[j + 2];
  }
  return out.sort();
}

/** Fraction of sorted values ≤ x, linearly interpolated between ranks (an empirical CDF). */
export function empiricalCdf(sorted: Float64Array, x: number): number {
  const n = sorted.length;
  if (x < sorted[0]) return 0;
  if (x >= sorted[n - 1]) return 1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid; else hi = mid;
  }
  const span = sorted[hi] - sorted[lo];
  const f = span > 0 ? (x - sorted[lo]) / span : 0;
  return (lo + f + 0.5) / n;
}

/** Inverse of empiricalCdf: the value at quantile u ∈ [0, 1] (linear interpolation). */
export function empiricalQuantile(sorted: Float64Array, u: number): number {
  const n = sorted.length;
  const pos = Math.min(n - 1, Math.max(0, u * n - 0.5));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function meanHsvSaturation(s: Float64Array): number {
  let sum = 0;
  const n = s.length / 3;
  for (let i = 0; i < s.length; i += 3) {
    const mx = Math.max(s[i], s[i + 1], s[i + 2]);
    const mn = Math.min(s[i], s[i + 1], s[i + 2]);
    sum += mx > 0 ? (mx - mn) / mx : 0;
  }
  return sum / n;
}

function applyToSamples(edit: AlbedoEdit, p: AlbedoParams, s: Float64Array): void {
  const ce = compileEdits(p);
  if (isIdentityEdit(edit, p)) return;
  const rgb = new Float64Array(3);
  for (let i = 0; i < s.length; i += 3) {
    rgb[0] = s[i]; rgb[1] = s[i + 1]; rgb[2] = s[i + 2];
    applyEditPixel(edit, ce, rgb);
    s[i] = rgb[0]; s[i + 1] = rgb[1]; s[i + 2] = rgb[2];
  }
}

/** Curve parameters of one channel from the target map T at the 9 knots, log-compressed to max/min ≤ 4. */
export function curveFromTargets(t: number[]): number[] {
  const p: number[] = [];
  for (let i = 0; i < 8; i++) p.push(Math.max(t[i + 1] - t[i], 1e-3));
  const logs = p.map(Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / 8;
  const range = Math.max(...logs) - Math.min(...logs);
  const maxRange = Math.log(4);
  const f = range > maxRange ? maxRange / range : 1;
  return logs.map((v) => Math.exp(mean + (v - mean) * f));
}

export interface AlbedoSolveResult {
  params: AlbedoParams;
  /** Pixels used for the statistics (after subsampling and the validity rule). */
  samples: { foreground: number; background: number };
}

/**
 * Solves the four edit parameters from foreground (mask > 0.5) vs background (mask < 0.5) statistics
 * of the gamma albedo, in the order WB → curve → saturation → exposure, re-measuring the foreground
 * after each edit. With too few valid pixels (< 16) on either side the identity is returned.
 */
export function solveAlbedoParams(albedoGamma: Float32Array, mask: Float32Array, options: AlbedoSolveOptions = {}): AlbedoSolveResult {
  const px = mask.length;
  if (albedoGamma.length !== px * 3) throw new HarmoniaError(`solveAlbedoParams: albedo has ${albedoGamma.length} values, mask ${px} pixels (need 3 per pixel)`);
  const lam = { ...DEFAULT_ALBEDO_STRENGTHS, ...options.strengths };
  const maxSamples = options.maxSamples ?? 200_000;
  const ring = options.backgroundRing;
  const dOut = options.outsideDistance;
  if (ring !== undefined && (!dOut || dOut.length !== px)) throw new HarmoniaError('solveAlbedoParams: backgroundRing needs outsideDistance of the mask size');
  const fg = collect(albedoGamma, px, (i) => mask[i] > 0.5, maxSamples);
  const bg = collect(albedoGamma, px, ring !== undefined && dOut ? (i) => mask[i] < 0.5 && dOut[i] <= ring : (i) => mask[i] < 0.5, maxSamples);
  const params = identityAlbedoParams();
  const samples = { foreground: fg.length / 3, background: bg.length / 3 };
  if (samples.foreground < 16 || samples.background < 16) return { params, samples };

  // 1. white balance: w_c = clamp((r_F,c / r_B,c)^λ, 0.1, 10), w_g = 1; y_c = x_c / w_c
  if (lam.wb > 0) {
    const mF = [0, 1, 2].map((c) => channelMean(fg, c));
    const mB = [0, 1, 2].map((c) => channelMean(bg, c));
    if (mF[1] > 1e-6 && mB[1] > 1e-6) {
      for (const c of [0, 2]) {
        const rF = mF[c] / mF[1];
        const rB = mB[c] / mB[1];
        if (rF > 1e-6 && rB > 1e-6) params.wb[c] = Math.min(10, Math.max(0.1, Math.pow(rF / rB, lam.wb)));
      }
    }
    applyToSamples('wb', params, fg);
  }
  // 2. colour curve: T(x) = (1−λ)x + λ·Q_B(CDF_F(x)) at the knots i/8
  if (lam.curve > 0) {
    for (let c = 0; c < 3; c++) {
      const sf = sortedChannel(fg, c);
      const sb = sortedChannel(bg, c);
      const t: number[] = [];
      for (let i = 0; i <= 8; i++) {
        const x = i / 8;
        t.push((1 - lam.curve) * x + lam.curve * empiricalQuantile(sb, empiricalCdf(sf, x)));
      }
      const p = curveFromTargets(t);
      for (let i = 0; i < 8; i++) params.curve[c * 8 + i] = p[i];
    }
    applyToSamples('curve', params, fg);
  }
  // 3. saturation: α = clamp((mean_B S / mean_F S)^λ, 0.5, 1.5)
  if (lam.saturation > 0) {
    const sF = meanHsvSaturation(fg);
    const sB = meanHsvSaturation(bg);
    if (sF > 1e-4 && sB > 1e-4) params.saturation = Math.min(1.5, Math.max(0.5, Math.pow(sB / sF, lam.saturation)));
    applyToSamples('saturation', params, fg);
  }
  // 4. exposure: e = clamp((median_B Y / median_F Y)^λ, 0.5, 2), dead zone |log e| < log 1.15
  if (lam.exposure > 0) {
    const yF = empiricalQuantile(sortedChannel(fg, -1), 0.5);
    const yB = empiricalQuantile(sortedChannel(bg, -1), 0.5);
    if (yF > 1e-4 && yB > 1e-4) {
      const e = Math.min(2, Math.max(0.5, Math.pow(yB / yF, lam.exposure)));
      params.exposure = Math.abs(Math.log(e)) < Math.log(1.15) ? 1 : e;
    }
  }
  return { params, samples };
}
