/**
 * Intrinsic Compositing stage (weight-free TypeScript substitute of Careaga et al. 2023): produces the
 * "semi-harmonized" image the GAN refines. Browser-safe: no node:* imports, plain typed arrays.
 *
 *   composite ──► analysis copy (≤512 px) ──► I_lin = x^2.2 ──► S (Retinex + screened Poisson), A = I/S
 *       │                                         ├─► albedo edit parameters from fg-vs-bg statistics
 *       │                                         ├─► light (x,y,z,c) from the background shading
 *       │                                         └─► inflated fg normals ─► Lambertian re-shading ratio
 *       └──► full resolution: for mask > 0 pixels only, A_h·S·ratio, ^(1/2.2); mask = 0 pixels copied
 */
import { HarmoniaError } from '../errors.ts';
import { assertSameSize, type FloatImage, type Mask } from '../image/types.ts';
import { fitWithin, resizeImage, resizeMask } from '../image/resize.ts';
import { INV_GAMMA, LUMA_B, LUMA_G, LUMA_R, linearize, toLinear } from './color.ts';
import { decompose, evaluateShading, LOG_EPS, type DecomposeOptions, type DecompositionMethod, type ShadingModel } from './decompose.ts';
import {
  applyAlbedoEdits, applyEditsPixel, compileEdits, identityAlbedoParams, solveAlbedoParams, CAPTURE_ALBEDO_STRENGTHS,
  type AlbedoParams, type AlbedoStrengths,
} from './albedo.ts';
import {
  accumulateLightStats, estimateLightFromShading, fitLightLeastSquares, fitLightOfficial, lightDirection,
  type LightCoeffs,
} from './light.ts';
import { insideDistance, outsideDistance } from './edt.ts';
import { inflateNormals } from './normals.ts';
import { reshade, type ReshadeOptions } from './reshade.ts';
import { bilinearTaps, gaussianBlur } from './filters.ts';
import { estimateLightLearned, LIGHT_NET_INPUT_SIDE, type LightModel } from './light-net.ts';

export type LightMethod = 'statistics' | 'official' | 'least-squares' | 'learned';

export interface IntrinsicOptions {
  /** Shading estimate: 'poisson' (default, Retinex + screened Poisson) or 'guided' (cheap fallback). */
  decomposition?: DecompositionMethod;
  /** Further decomposition settings (solve size, σc, μ, …). */
  decomposeOptions?: Omit<DecomposeOptions, 'method'>;
  /**
   * Long side of the analysis copy (default DEFAULT_INTRINSIC_ANALYSIS_SIDE = 512; never upscaled; the
   * specification allows up to 1024). The output is always at input size.
   */
  analysisMaxSide?: number;
  /** Which stages run (both by default): the ablation switches. */
  stages?: { albedo?: boolean; shading?: boolean };
  /** Transfer strengths λ of the albedo parameter solve. */
  strengths?: Partial<AlbedoStrengths>;
  /** Only use background pixels within this fraction of the image diagonal of the foreground for the albedo statistics. */
  backgroundRingFrac?: number;
  /** Manual albedo edit parameters (skip the solve). */
  albedoParams?: AlbedoParams;
  /** Manual light [x, y, z, ambient] (official interface semantics): skips the light estimate. */
  light?: LightCoeffs;
  /**
   * How the background light is found without an override: 'statistics' (default without `lightModel`;
   * Pentland / Lee–Rosenfeld from shading alone), 'learned' (default when `lightModel` is given: the MLP
   * of light-net.ts on background-shading statistics), or the official grid+Adam fit / the closed-form
   * constrained least squares, which need `backgroundNormals`.
   */
  lightMethod?: LightMethod;
  /** A loaded learned light estimator (models/light/: `loadLightModel` in Node, `lightModelFromLayers` in a browser). */
  lightModel?: LightModel;
  /** Decoded background normals (x right, y up, z toward the camera), any size (resized to the analysis size). */
  backgroundNormals?: FloatImage;
  /** Re-shading settings (a₀, κ, ω, …). */
  reshade?: ReshadeOptions;
}

export interface LightInfo {
  coeffs: LightCoeffs;
  direction: [number, number, number];
  ambient: number;
  strength: number;
  method: LightMethod | 'manual' | 'none';
}

export interface SemiHarmonizeResult {
  semiHarmonized: FloatImage;
  intermediates: {
    /** size of the analysis copy all intermediates below have */
    analysisSize: { width: number; height: number };
    /** gamma-encoded albedo A^(1/2.2) (unclipped above 1) */
    albedo: FloatImage;
    /** linear grayscale shading S_orig (1 channel) */
    shading: FloatImage;
    /** gamma-encoded harmonized albedo */
    harmonizedAlbedo: FloatImage;
    /** linear re-shading S_new (1 channel; equals S_orig outside the foreground) */
    reshading: FloatImage;
    /** decoded normals in [−1, 1] (foreground inflated; background given normals or (0,0,1)) */
    normals: FloatImage;
    light: LightInfo;
    albedoParams: AlbedoParams;
    /** context gain applied to the foreground shading */
    shadingGain: number;
    /** milliseconds per stage */
    timings: Record<string, number>;
    /** why a stage was skipped, if one was */
    notes: string[];
  };
}

/**
 * Default long side of the intrinsic analysis copy. Everything estimated there is low-frequency (the
 * shading field is solved at ≤512 px anyway; albedo statistics, light, inflated normals, re-shading
 * ratio), and the full-resolution application keeps the input's detail. Measured against 1024
 * (docs/INTRINSIC.md): 1024² procedural composites mean fMSE 1161 vs 1153, the genuine iHarmony4
 * sample 931 vs 972, at less than half the time.
 */
export const DEFAULT_INTRINSIC_ANALYSIS_SIDE = 512;

/**
 * Named option sets for two kinds of composites:
 * - 'photo' (the default, `{}`): composites made by colour-statistics transfer (iHarmony4, the Lalonde
 *   composites): all four albedo edits at the default strengths, weight-free statistics light.
 * - 'capture': the foreground differs from its true look by the capture condition only (illuminant
 *   colour, exposure, light direction; the procedural composites): white balance + exposure transfer
 *   only (CAPTURE_ALBEDO_STRENGTHS) and the learned background-light estimator, which needs the
 *   loaded models/light (`loadLightModel()` in Node, `lightModelFromLayers` in a browser).
 * Measured in docs/INTRINSIC.md: 'capture' lowers fMSE on procedural composites (1234 vs 1372) and
 * 'photo' is the better choice on the Lalonde training split.
 */
export type IntrinsicProfile = 'photo' | 'capture';
export const INTRINSIC_PROFILES: readonly IntrinsicProfile[] = ['photo', 'capture'];

export function intrinsicProfile(profile: IntrinsicProfile, lightModel?: LightModel): IntrinsicOptions {
  if (profile === 'photo') return {};
  if (profile === 'capture') {
    if (!lightModel) throw new HarmoniaError('intrinsic profile "capture" needs the learned light model (models/light/): load it with loadLightModel()');
    return { strengths: CAPTURE_ALBEDO_STRENGTHS, lightModel };
  }
  throw new HarmoniaError(`intrinsic profile must be ${INTRINSIC_PROFILES.join(' or ')}, got "${String(profile)}"`);
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Validates and parses the manual light. */
export function checkLight(coeffs: readonly number[], what = 'light'): LightCoeffs {
  if (coeffs.length !== 4 || coeffs.some((v) => !Number.isFinite(v))) {
    throw new HarmoniaError(`${what}: expected 4 finite numbers x,y,z,ambient, got [${coeffs.join(', ')}]`);
  }
  if (coeffs[3] < 0) throw new HarmoniaError(`${what}: ambient must be ≥ 0, got ${coeffs[3]}`);
  return [coeffs[0], coeffs[1], coeffs[2], coeffs[3]];
}

/**
 * Semi-harmonizes a composite: foreground albedo colour-harmonized to the background and foreground
 * re-shaded under the background light. Background pixels (mask = 0) are copied bit-exactly; the output
 * has the input's size.
 */
export function semiHarmonize(composite: FloatImage, mask: Mask, options: IntrinsicOptions = {}): SemiHarmonizeResult {
  const t0 = now();
  const timings: Record<string, number> = {};
  const notes: string[] = [];
  let tick = t0;
  const lap = (name: string): void => { const t = now(); timings[name] = t - tick; tick = t; };
  if (composite.channels !== 3) throw new HarmoniaError(`semiHarmonize: composite must have 3 channels, got ${composite.channels}`);
  assertSameSize(composite, mask, 'semiHarmonize: mask');
  if (composite.data.length !== composite.width * composite.height * 3) throw new HarmoniaError('semiHarmonize: composite data length does not match its size');
  const doAlbedo = options.stages?.albedo ?? true;
  const doShading = options.stages?.shading ?? true;
  const W = composite.width;
  const H = composite.height;

  // analysis copy
  const ana = fitWithin(W, H, options.analysisMaxSide ?? DEFAULT_INTRINSIC_ANALYSIS_SIDE);
  const w = ana.width;
  const h = ana.height;
  const n = w * h;
  const same = w === W && h === H;
  const srgb = same ? composite.data : resizeImage(composite, w, h, 'bilinear').data;
  const msk = same ? mask.data : resizeMask(mask, w, h, 'bilinear').data;
  const hard = hardOf(msk);
  let fgCount = 0;
  for (let i = 0; i < n; i++) fgCount += hard[i];
  const lin = linearize(srgb);
  lap('prepare');

  // 1. decomposition
  const model = decompose(lin, w, h, { ...options.decomposeOptions, method: options.decomposition ?? 'poisson' });
  const S = evaluateShading(model, lin, w, h);
  const albedoGamma = gammaAlbedo(srgb, S);
  lap('decompose');

  // region of interest: the foreground bounding box plus a margin covering the context ring; distances,
  // normals and re-shading only run inside it (outside it nothing changes)
  const roi = foregroundRoi(hard, w, h, options, fgCount);
  const cw = roi.x1 - roi.x0;
  const chh = roi.y1 - roi.y0;
  const cHard = crop(hard, w, roi, 1);
  const dIn = insideDistance(cHard, cw, chh);
  const dOut = outsideDistance(cHard, cw, chh);
  lap('distance');

  // 2. albedo parameters
  let albedoParams = identityAlbedoParams();
  if (doAlbedo && fgCount > 0) {
    if (options.albedoParams) albedoParams = options.albedoParams;
    else {
      const ring = options.backgroundRingFrac !== undefined ? options.backgroundRingFrac * Math.hypot(w, h) : undefined;
      let fullOut: Float32Array | undefined;
      if (ring !== undefined) {
        fullOut = new Float32Array(n).fill(Infinity);
        paste(fullOut, w, roi, dOut, 1);
      }
      albedoParams = solveAlbedoParams(albedoGamma, hard, { strengths: options.strengths, backgroundRing: ring, outsideDistance: fullOut }).params;
    }
  }
  const ce = compileEdits(albedoParams);
  const harmonizedAlbedo = applyAlbedoEdits(albedoGamma, msk, albedoParams);
  lap('albedo');

  // 3. light, on the solve grid (≤512 px, as the official fit)
  let light: LightInfo = { coeffs: [0, 0, 0, 0.1], direction: [0, 0, 1], ambient: 0.1, strength: 0, method: 'none' };
  if (options.light) {
    light = lightInfo(checkLight(options.light), 'manual');
  } else if (doShading && fgCount > 0) {
    const bg = lightInputs(model, msk, w, h);
    const { width: sw, height: sh, shading: sS, valid, validCount: nValid } = bg;
    const method = options.lightMethod ?? (options.lightModel ? 'learned' : 'statistics');
    if (nValid < 16) {
      notes.push(`shading stage skipped: only ${nValid} valid background pixels to estimate the light from`);
    } else if (method === 'statistics') {
      const est = estimateLightFromShading(gaussianBlur(sS, sw, sh, 1), valid, sw, sh);
      light = lightInfo(est.coeffs, 'statistics');
    } else if (method === 'learned') {
      if (!options.lightModel) throw new HarmoniaError('semiHarmonize: lightMethod "learned" needs lightModel (models/light/)');
      // the estimator decomposes its own copy at the training resolution (long side LIGHT_NET_INPUT_SIDE)
      const small = Math.max(W, H) > LIGHT_NET_INPUT_SIDE
        ? backgroundShading(composite, mask, { decomposition: options.decomposition, decomposeOptions: options.decomposeOptions, analysisMaxSide: LIGHT_NET_INPUT_SIDE })
        : bg;
      const est = estimateLightLearned(options.lightModel, small.shading, small.valid, small.width, small.height);
      if (est) light = lightInfo(est.coeffs, 'learned');
      else notes.push('shading stage skipped: too little valid background for the learned light estimate');
    } else {
      if (!options.backgroundNormals) throw new HarmoniaError(`semiHarmonize: lightMethod "${method}" needs backgroundNormals`);
      const stats = accumulateLightStats(resizeNormals(options.backgroundNormals, sw, sh), sS, valid);
      const coeffs = method === 'official' ? fitLightOfficial(stats).coeffs : fitLightLeastSquares(stats).coeffs;
      light = lightInfo(coeffs, method);
    }
  }
  lap('light');

  // 4–5. normals and re-shading (inside the region of interest)
  const inflation = inflateNormals(cHard, cw, chh, { distance: dIn });
  const bgNormals = options.backgroundNormals ? resizeNormals(options.backgroundNormals, w, h) : null;
  const normals = new Float32Array(n * 3);
  if (bgNormals) normals.set(bgNormals);
  else for (let j = 2; j < normals.length; j += 3) normals[j] = 1;
  for (let y = roi.y0; y < roi.y1; y++) {
    for (let x = roi.x0; x < roi.x1; x++) {
      const i = y * w + x;
      if (!hard[i]) continue;
      const c = ((y - roi.y0) * cw + (x - roi.x0)) * 3;
      normals[i * 3] = inflation.normals[c]; normals[i * 3 + 1] = inflation.normals[c + 1]; normals[i * 3 + 2] = inflation.normals[c + 2];
    }
  }
  lap('normals');
  const logRatio = new Float32Array(n);
  const reshading = new Float32Array(S);
  let shadingGain = 1;
  if (doShading && fgCount > 0 && light.method !== 'none') {
    const r = reshade({ width: cw, height: chh, shading: crop(S, w, roi, 1), mask: cHard, insideDist: dIn, outsideDist: dOut, normals: inflation.normals, light: light.coeffs }, options.reshade);
    paste(logRatio, w, roi, r.logRatio, 1);
    paste(reshading, w, roi, r.shading, 1);
    shadingGain = r.gain;
  }
  lap('reshade');

  // 6. recomposition at full resolution
  const semiHarmonized = recompose(composite, mask, model, ce, logRatio, w, h, doAlbedo);
  lap('recompose');
  timings.total = now() - t0;

  return {
    semiHarmonized,
    intermediates: {
      analysisSize: { width: w, height: h },
      albedo: { width: w, height: h, channels: 3, data: albedoGamma },
      shading: { width: w, height: h, channels: 1, data: S },
      harmonizedAlbedo: { width: w, height: h, channels: 3, data: harmonizedAlbedo },
      reshading: { width: w, height: h, channels: 1, data: reshading },
      normals: { width: w, height: h, channels: 3, data: normals },
      light,
      albedoParams,
      shadingGain,
      timings,
      notes,
    },
  };
}

interface LightInputs {
  width: number;
  height: number;
  /** S_orig on the solve grid (≤512 px) */
  shading: Float32Array;
  /** official validity: background (mask < 0.5) and 0.05 < mean(sRGB) < 0.95 */
  valid: Uint8Array;
  validCount: number;
}

/** The background shading and validity mask the light is estimated from (on the solve grid). */
function lightInputs(model: ShadingModel, msk: Float32Array, w: number, h: number): LightInputs {
  const sw = model.width;
  const sh = model.height;
  const small = model.linear;
  const sMask = sw === w && sh === h ? msk : resizeMask({ width: w, height: h, data: msk }, sw, sh, 'bilinear').data;
  const valid = validBackground(small, sMask);
  let validCount = 0;
  for (let i = 0; i < valid.length; i++) validCount += valid[i];
  return { width: sw, height: sh, shading: evaluateShading(model, small, sw, sh), valid, validCount };
}

/**
 * What semiHarmonize estimates the background light from, computed exactly as it does (analysis copy,
 * decomposition, solve grid, validity rule): for training and evaluating light estimators.
 */
export function backgroundShading(composite: FloatImage, mask: Mask, options: Pick<IntrinsicOptions, 'decomposition' | 'decomposeOptions' | 'analysisMaxSide'> = {}): LightInputs {
  if (composite.channels !== 3) throw new HarmoniaError(`backgroundShading: composite must have 3 channels, got ${composite.channels}`);
  assertSameSize(composite, mask, 'backgroundShading: mask');
  const ana = fitWithin(composite.width, composite.height, options.analysisMaxSide ?? DEFAULT_INTRINSIC_ANALYSIS_SIDE);
  const same = ana.width === composite.width && ana.height === composite.height;
  const srgb = same ? composite.data : resizeImage(composite, ana.width, ana.height, 'bilinear').data;
  const msk = same ? mask.data : resizeMask(mask, ana.width, ana.height, 'bilinear').data;
  const lin = linearize(srgb);
  const model = decompose(lin, ana.width, ana.height, { ...options.decomposeOptions, method: options.decomposition ?? 'poisson' });
  return lightInputs(model, msk, ana.width, ana.height);
}

function hardOf(msk: Float32Array): Float32Array {
  const hard = new Float32Array(msk.length);
  for (let i = 0; i < msk.length; i++) if (msk[i] > 0.5) hard[i] = 1;
  return hard;
}

/** x^p for x > 0 through exp/log (about twice as fast as Math.pow in V8). */
function powPos(x: number, p: number): number {
  return Math.exp(p * Math.log(x));
}

/** Gamma albedo a = max(1e-4, I_lin/S)^(1/2.2) = max(1e-4^(1/2.2), srgb·S^(−1/2.2)). */
function gammaAlbedo(srgb: Float32Array, S: Float32Array): Float32Array {
  const n = S.length;
  const out = new Float32Array(n * 3);
  const aMin = Math.pow(1e-4, INV_GAMMA);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const g = powPos(S[i], -INV_GAMMA);
    const r = srgb[j] * g, gg = srgb[j + 1] * g, b = srgb[j + 2] * g;
    out[j] = r > aMin ? r : aMin;
    out[j + 1] = gg > aMin ? gg : aMin;
    out[j + 2] = b > aMin ? b : aMin;
  }
  return out;
}

/** Official light-fit validity: background (mask < 0.5) and 0.05 < mean(srgb) < 0.95. */
function validBackground(lin: Float32Array, mask: Float32Array): Uint8Array {
  const n = mask.length;
  const valid = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    if (!(mask[i] < 0.5)) continue;
    const r = lin[j], g = lin[j + 1], b = lin[j + 2];
    const mean = ((r > 0 ? powPos(r, INV_GAMMA) : 0) + (g > 0 ? powPos(g, INV_GAMMA) : 0) + (b > 0 ? powPos(b, INV_GAMMA) : 0)) / 3;
    if (mean > 0.05 && mean < 0.95) valid[i] = 1;
  }
  return valid;
}

interface Roi { x0: number; y0: number; x1: number; y1: number }

/** Foreground bounding box grown by the widest neighbourhood any stage looks at, clipped to the image. */
function foregroundRoi(hard: Float32Array, w: number, h: number, options: IntrinsicOptions, fgCount: number): Roi {
  if (fgCount === 0) return { x0: 0, y0: 0, x1: Math.min(w, 1), y1: Math.min(h, 1) };
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (hard[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const size = Math.sqrt((x1 - x0 + 1) * (y1 - y0 + 1));
  const band = Math.max(2, (options.reshade?.ringFrac ?? 0.04) * size);
  const ring = options.backgroundRingFrac !== undefined ? options.backgroundRingFrac * Math.hypot(w, h) : 0;
  const margin = Math.ceil(Math.max(band, ring)) + 2;
  return { x0: Math.max(0, x0 - margin), y0: Math.max(0, y0 - margin), x1: Math.min(w, x1 + 1 + margin), y1: Math.min(h, y1 + 1 + margin) };
}

function crop(src: Float32Array, w: number, r: Roi, c: number): Float32Array {
  const cw = r.x1 - r.x0;
  const out = new Float32Array(cw * (r.y1 - r.y0) * c);
  for (let y = r.y0; y < r.y1; y++) out.set(src.subarray((y * w + r.x0) * c, (y * w + r.x1) * c), (y - r.y0) * cw * c);
  return out;
}

function paste(dst: Float32Array, w: number, r: Roi, src: Float32Array, c: number): void {
  const cw = r.x1 - r.x0;
  for (let y = r.y0; y < r.y1; y++) dst.set(src.subarray((y - r.y0) * cw * c, (y - r.y0 + 1) * cw * c), (y * w + r.x0) * c);
}

function lightInfo(coeffs: LightCoeffs, method: LightInfo['method']): LightInfo {
  return { coeffs, direction: lightDirection(coeffs), ambient: coeffs[3], strength: Math.hypot(coeffs[0], coeffs[1], coeffs[2]), method };
}

function resizeNormals(img: FloatImage, w: number, h: number): Float32Array {
  if (img.channels !== 3) throw new HarmoniaError(`semiHarmonize: backgroundNormals must have 3 channels, got ${img.channels}`);
  const r = img.width === w && img.height === h ? img.data : resizeImage(img, w, h, 'bilinear').data;
  const out = new Float32Array(w * h * 3);
  for (let j = 0; j < out.length; j += 3) {
    const len = Math.hypot(r[j], r[j + 1], r[j + 2]);
    if (len > 0) { out[j] = r[j] / len; out[j + 1] = r[j + 1] / len; out[j + 2] = r[j + 2] / len; }
    else out[j + 2] = 1;
  }
  return out;
}

/**
 * Full-resolution recomposition: for every pixel with mask > 0, S from the shading model at this
 * resolution, A = I_lin/S, the albedo edits (gamma domain, mask-weighted), the re-shading ratio
 * (bilinear from the analysis grid), out = (A_h·S·ratio)^(1/2.2) clipped to [0,1]. Pixels with mask = 0,
 * or where neither stage changes anything, are copied from the input bit-exactly.
 */
function recompose(composite: FloatImage, mask: Mask, model: ShadingModel, ce: ReturnType<typeof compileEdits>, logRatio: Float32Array, aw: number, ah: number, doAlbedo: boolean): FloatImage {
  const W = composite.width;
  const H = composite.height;
  const src = composite.data;
  const out = new Float32Array(src);
  const editing = doAlbedo && ce.steps.length > 0;
  const mtx = bilinearTaps(model.width, W);
  const mty = bilinearTaps(model.height, H);
  const rtx = bilinearTaps(aw, W);
  const rty = bilinearTaps(ah, H);
  const { a, b, k } = model;
  const mw = model.width;
  const aMin = Math.pow(1e-4, INV_GAMMA);
  const rgb = new Float64Array(3);
  const tmp = new Float64Array(3);
  for (let y = 0; y < H; y++) {
    const mr0 = mty.i0[y] * mw, mr1 = mty.i1[y] * mw, mfy = mty.f[y];
    const rr0 = rty.i0[y] * aw, rr1 = rty.i1[y] * aw, rfy = rty.f[y];
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const m = mask.data[i];
      if (!(m > 0)) continue;
      // re-shading ratio
      const x0 = rtx.i0[x], x1 = rtx.i1[x], fx = rtx.f[x];
      const l00 = logRatio[rr0 + x0], l01 = logRatio[rr0 + x1], l10 = logRatio[rr1 + x0], l11 = logRatio[rr1 + x1];
      const reshaded = l00 !== 0 || l01 !== 0 || l10 !== 0 || l11 !== 0;
      if (!editing && !reshaded) continue;
      const top = l00 + (l01 - l00) * fx;
      const bot = l10 + (l11 - l10) * fx;
      const ratio = reshaded ? Math.exp(top + (bot - top) * rfy) : 1;
      const j = i * 3;
      const r = src[j] > 0 ? src[j] : 0, g = src[j + 1] > 0 ? src[j + 1] : 0, bl = src[j + 2] > 0 ? src[j + 2] : 0;
      const lr = toLinear(r), lg = toLinear(g), lb = toLinear(bl);
      let outR: number, outG: number, outB: number;
      if (editing) {
        // S at this pixel
        const ll = Math.log(LUMA_R * lr + LUMA_G * lg + LUMA_B * lb + LOG_EPS);
        const mx0 = mtx.i0[x], mx1 = mtx.i1[x], mfx = mtx.f[x];
        const at = a[mr0 + mx0] + (a[mr0 + mx1] - a[mr0 + mx0]) * mfx;
        const ab = a[mr1 + mx0] + (a[mr1 + mx1] - a[mr1 + mx0]) * mfx;
        const bt = b[mr0 + mx0] + (b[mr0 + mx1] - b[mr0 + mx0]) * mfx;
        const bb = b[mr1 + mx0] + (b[mr1 + mx1] - b[mr1 + mx0]) * mfx;
        const S = k * Math.exp((at + (ab - at) * mfy) * ll + bt + (bb - bt) * mfy);
        const gS = powPos(S, -INV_GAMMA);
        rgb[0] = Math.max(aMin, r * gS); rgb[1] = Math.max(aMin, g * gS); rgb[2] = Math.max(aMin, bl * gS);
        applyEditsPixel(ce, m, rgb, tmp);
        const f = S * ratio;
        outR = toLinear(rgb[0]) * f;
        outG = toLinear(rgb[1]) * f;
        outB = toLinear(rgb[2]) * f;
      } else {
        // A·S = I_lin exactly, so only the ratio acts
        outR = lr * ratio; outG = lg * ratio; outB = lb * ratio;
      }
      out[j] = outR >= 1 ? 1 : outR > 0 ? powPos(outR, INV_GAMMA) : 0;
      out[j + 1] = outG >= 1 ? 1 : outG > 0 ? powPos(outG, INV_GAMMA) : 0;
      out[j + 2] = outB >= 1 ? 1 : outB > 0 ? powPos(outB, INV_GAMMA) : 0;
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}

export { linearize, delinearize, brightness } from './color.ts';
export { decompose, evaluateShading, albedoFromShading, screenedPoisson, logLuminance } from './decompose.ts';
export type { DecomposeOptions, DecompositionMethod, ShadingModel } from './decompose.ts';
export {
  applyAlbedoEdits, applyEditPixel, applyEditsPixel, compileEdits, identityAlbedoParams, isIdentityEdit, solveAlbedoParams,
  curveFromTargets, DEFAULT_ALBEDO_STRENGTHS, CAPTURE_ALBEDO_STRENGTHS, EDIT_ORDER,
} from './albedo.ts';
export type { AlbedoEdit, AlbedoParams, AlbedoStrengths, AlbedoSolveOptions, AlbedoSolveResult, CompiledEdits } from './albedo.ts';
export {
  accumulateLightStats, lightLoss, fitLightOfficial, fitLightLeastSquares, estimateLightFromShading, coeffsFromAngles,
  lightDirection, angleBetweenDeg, renderLightSphere,
} from './light.ts';
export type { LightCoeffs, LightStats, OfficialFitResult, ShadingLightEstimate, ShadingLightOptions } from './light.ts';
export {
  lightFeatures, runLightModel, estimateLightLearned, lightTargets, lightModelFromLayers,
  mirrorHorizontal, LIGHT_FEATURE_COUNT, LIGHT_FEATURE_GRID, LIGHT_NET_OUTPUTS, LIGHT_NET_INPUT_SIDE,
} from './light-net.ts';
export type { LightModel, DenseLayer, LearnedLightEstimate } from './light-net.ts';
export { squaredDistanceTransform, insideDistance, outsideDistance } from './edt.ts';
export { inflateNormals, connectedComponents } from './normals.ts';
export type { InflationResult } from './normals.ts';
export { reshade } from './reshade.ts';
export type { ReshadeOptions, ReshadeInput, ReshadeResult } from './reshade.ts';
export { boxFilter, gaussianBlur, guidedFilter, guidedFilterCoefficients, upsampleBilinear } from './filters.ts';
export { fft, dct2d, idct2d } from './dct.ts';
