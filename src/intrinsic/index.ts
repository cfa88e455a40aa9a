/**
 * Intrinsic Compositing stage (weight-free TypeScript substitute of Careaga et al. 2023): produces the
 * "semi-harmonized" image the GAN refines. Browser-safe: no node:* imports, plain typed arrays.
 *
 *   composite ──► analysis copy (≤1024 px) ──► I_lin = x^2.2 ──► S (Retinex + screened Poisson), A = I/S
 *       │                                         ├─► albedo edit parameters from fg-vs-bg statistics
 *       │                                         ├─► light (x,y,z,c) from the background shading
 *       │                                         └─► inflated fg normals ─► Lambertian re-shading ratio
 *       └──► full resolution: for mask > 0 pixels only, A_h·S·ratio, ^(1/2.2); mask = 0 pixels copied
 */
import { HarmoniaError } from '../errors.ts';
import { assertSameSize, type FloatImage, type Mask } from '../image/types.ts';
import { fitWithin, resizeImage, resizeMask } from '../image/resize.ts';
import { GAMMA, INV_GAMMA, LUMA_B, LUMA_G, LUMA_R, linearize } from './color.ts';
import { decompose, evaluateShading, LOG_EPS, type DecomposeOptions, type DecompositionMethod, type ShadingModel } from './decompose.ts';
import {
  applyEditsPixel, compileEdits, identityAlbedoParams, solveAlbedoParams,
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

export type LightMethod = 'statistics' | 'official' | 'least-squares';

export interface IntrinsicOptions {
  /** Shading estimate: 'poisson' (default, Retinex + screened Poisson) or 'guided' (cheap fallback). */
  decomposition?: DecompositionMethod;
  /** Further decomposition settings (solve size, σc, μ, …). */
  decomposeOptions?: Omit<DecomposeOptions, 'method'>;
  /** Long side of the analysis copy (default 1024; never upscaled). The output is always at input size. */
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
   * How the background light is found without an override: 'statistics' (default; Pentland / Lee–Rosenfeld
   * from shading alone), or the official grid+Adam fit / the closed-form constrained least squares, which
   * need `backgroundNormals`.
   */
  lightMethod?: LightMethod;
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
  const ana = fitWithin(W, H, options.analysisMaxSide ?? 1024);
  const w = ana.width;
  const h = ana.height;
  const n = w * h;
  const same = w === W && h === H;
  const srgb = same ? composite.data : resizeImage(composite, w, h, 'bilinear').data;
  const msk = same ? mask.data : resizeMask(mask, w, h, 'bilinear').data;
  const hard = new Float32Array(n);
  let fgCount = 0;
  for (let i = 0; i < n; i++) if (msk[i] > 0.5) { hard[i] = 1; fgCount++; }
  const lin = linearize(srgb);
  lap('prepare');

  // 1. decomposition
  const model = decompose(lin, w, h, { ...options.decomposeOptions, method: options.decomposition ?? 'poisson' });
  const S = evaluateShading(model, lin, w, h);
  const albedoGamma = new Float32Array(n * 3);
  const aMin = Math.pow(1e-4, INV_GAMMA);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const g = Math.pow(S[i], -INV_GAMMA);
    albedoGamma[j] = Math.max(aMin, srgb[j] * g);
    albedoGamma[j + 1] = Math.max(aMin, srgb[j + 1] * g);
    albedoGamma[j + 2] = Math.max(aMin, srgb[j + 2] * g);
  }
  lap('decompose');

  // distances (shared by the albedo ring, normals and re-shading)
  const dIn = insideDistance(hard, w, h);
  const dOut = fgCount > 0 ? outsideDistance(hard, w, h) : new Float32Array(n).fill(Infinity);
  lap('distance');

  // 2. albedo parameters
  let albedoParams = identityAlbedoParams();
  if (doAlbedo && fgCount > 0) {
    if (options.albedoParams) albedoParams = options.albedoParams;
    else {
      const ring = options.backgroundRingFrac !== undefined ? options.backgroundRingFrac * Math.hypot(w, h) : undefined;
      albedoParams = solveAlbedoParams(albedoGamma, hard, { strengths: options.strengths, backgroundRing: ring, outsideDistance: ring !== undefined ? dOut : undefined }).params;
    }
  }
  const ce = compileEdits(albedoParams);
  const harmonizedAlbedo = new Float32Array(albedoGamma);
  if (ce.steps.length > 0) {
    const rgb = new Float64Array(3);
    const tmp = new Float64Array(3);
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const m = msk[i];
      if (m <= 0) continue;
      rgb[0] = harmonizedAlbedo[j]; rgb[1] = harmonizedAlbedo[j + 1]; rgb[2] = harmonizedAlbedo[j + 2];
      applyEditsPixel(ce, m, rgb, tmp);
      harmonizedAlbedo[j] = rgb[0]; harmonizedAlbedo[j + 1] = rgb[1]; harmonizedAlbedo[j + 2] = rgb[2];
    }
  }
  lap('albedo');

  // 3. light
  let light: LightInfo = { coeffs: [0, 0, 0, 0.1], direction: [0, 0, 1], ambient: 0.1, strength: 0, method: 'none' };
  const bgNormals = options.backgroundNormals ? resizeNormals(options.backgroundNormals, w, h) : null;
  if (options.light) {
    light = lightInfo(checkLight(options.light), 'manual');
  } else if (doShading && fgCount > 0) {
    const valid = new Uint8Array(n);
    let nValid = 0;
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const mean = (srgb[j] + srgb[j + 1] + srgb[j + 2]) / 3;
      if (msk[i] < 0.5 && hard[i] === 0 && mean > 0.05 && mean < 0.95) { valid[i] = 1; nValid++; }
    }
    const method = options.lightMethod ?? 'statistics';
    if (nValid < 16) {
      notes.push(`shading stage skipped: only ${nValid} valid background pixels to estimate the light from`);
    } else if (method === 'statistics') {
      const est = estimateLightFromShading(gaussianBlur(S, w, h, 1), valid, w, h);
      light = lightInfo(est.coeffs, 'statistics');
    } else {
      if (!bgNormals) throw new HarmoniaError(`semiHarmonize: lightMethod "${method}" needs backgroundNormals`);
      const stats = accumulateLightStats(bgNormals, S, valid);
      const coeffs = method === 'official' ? fitLightOfficial(stats).coeffs : fitLightLeastSquares(stats).coeffs;
      light = lightInfo(coeffs, method);
    }
  }
  lap('light');

  // 4–5. normals and re-shading
  const inflation = inflateNormals(hard, w, h, { distance: dIn });
  const normals = new Float32Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const src = hard[i] > 0 ? inflation.normals : bgNormals;
    if (src) { normals[j] = src[j]; normals[j + 1] = src[j + 1]; normals[j + 2] = src[j + 2]; }
    else normals[j + 2] = 1;
  }
  lap('normals');
  let logRatio: Float32Array = new Float32Array(n);
  let reshading: Float32Array = S;
  let shadingGain = 1;
  if (doShading && fgCount > 0 && light.method !== 'none') {
    const r = reshade({ width: w, height: h, shading: S, mask: hard, insideDist: dIn, outsideDist: dOut, normals: inflation.normals, light: light.coeffs }, options.reshade);
    logRatio = r.logRatio;
    reshading = r.shading;
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
      const lr = Math.pow(r, GAMMA), lg = Math.pow(g, GAMMA), lb = Math.pow(bl, GAMMA);
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
        const gS = Math.pow(S, -INV_GAMMA);
        rgb[0] = Math.max(aMin, r * gS); rgb[1] = Math.max(aMin, g * gS); rgb[2] = Math.max(aMin, bl * gS);
        applyEditsPixel(ce, m, rgb, tmp);
        const f = S * ratio;
        outR = Math.pow(rgb[0], GAMMA) * f;
        outG = Math.pow(rgb[1], GAMMA) * f;
        outB = Math.pow(rgb[2], GAMMA) * f;
      } else {
        // A·S = I_lin exactly, so only the ratio acts
        outR = lr * ratio; outG = lg * ratio; outB = lb * ratio;
      }
      out[j] = outR >= 1 ? 1 : outR > 0 ? Math.pow(outR, INV_GAMMA) : 0;
      out[j + 1] = outG >= 1 ? 1 : outG > 0 ? Math.pow(outG, INV_GAMMA) : 0;
      out[j + 2] = outB >= 1 ? 1 : outB > 0 ? Math.pow(outB, INV_GAMMA) : 0;
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}

export { linearize, delinearize, brightness } from './color.ts';
export { decompose, evaluateShading, albedoFromShading, screenedPoisson, logLuminance } from './decompose.ts';
export type { DecomposeOptions, DecompositionMethod, ShadingModel } from './decompose.ts';
export {
  applyAlbedoEdits, applyEditPixel, applyEditsPixel, compileEdits, identityAlbedoParams, isIdentityEdit, solveAlbedoParams,
  curveFromTargets, DEFAULT_ALBEDO_STRENGTHS, EDIT_ORDER,
} from './albedo.ts';
export type { AlbedoEdit, AlbedoParams, AlbedoStrengths, AlbedoSolveOptions, AlbedoSolveResult, CompiledEdits } from './albedo.ts';
export {
  accumulateLightStats, lightLoss, fitLightOfficial, fitLightLeastSquares, estimateLightFromShading, coeffsFromAngles,
  lightDirection, angleBetweenDeg, renderLightSphere,
} from './light.ts';
export type { LightCoeffs, LightStats, OfficialFitResult, ShadingLightEstimate, ShadingLightOptions } from './light.ts';
export { squaredDistanceTransform, insideDistance, outsideDistance } from './edt.ts';
export { inflateNormals, connectedComponents } from './normals.ts';
export type { InflationResult } from './normals.ts';
export { reshade } from './reshade.ts';
export type { ReshadeOptions, ReshadeInput, ReshadeResult } from './reshade.ts';
export { boxFilter, gaussianBlur, guidedFilter, guidedFilterCoefficients, upsampleBilinear } from './filters.ts';
export { fft, dct2d, idct2d } from './dct.ts';
