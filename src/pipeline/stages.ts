/**
 * The pipeline's stages around the generator, on in-memory images, browser-safe and without
 * TensorFlow.js: the checks and the intrinsic stage before G (`prepare`), the analysis copy a
 * colour-transform generator sees, the apply of its transform at full resolution, the upsampled
 * correction of a paper-style G, and the mask blend. refine.ts runs G with TensorFlow.js or a hook
 * around these; `harmonizeWithHooks` runs a model whose generator is a synchronous hook (ONNX
 * Runtime: src/models/onnx.ts) with no TensorFlow.js at all, as `harmonia harmonize` does with the
 * shipped model. The arithmetic is the same code either way.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { assertSameSize, maskArea } from '../image/types.ts';
import { resizeImage, resizeMask, fitWithin } from '../image/resize.ts';
import type { IntrinsicOptions, SemiHarmonizeResult, semiHarmonize } from '../intrinsic/index.ts';
import { applyColorTransformArrays, type ColorTransformParams } from '../models/color-transform-apply.ts';
import type { HarmonizationModel } from '../models/harmonization.ts';
import { applyCorrection } from './apply.ts';
import { STAGES, isOneOf, listWords, type Stage } from '../config/index.ts';
import { analysisSizeOf } from '../models/registry.ts';

export type { Stage } from '../config/index.ts';

export interface RefineOptions {
  /** Which stages run: 'intrinsic' only, 'gan' only (G on the raw composite), or 'full' (default). */
  stage?: Stage;
  /** Long side at which G runs (default 1024, never upscaled); also caps the intrinsic analysis side (512 by default). */
  analysisMaxSide?: number;
  /** Let the result change background pixels too (default false: background copied exactly). */
  harmonizeBackground?: boolean;
  /** Options of the intrinsic stage. */
  intrinsic?: IntrinsicOptions;
  /**
   * Colour-transform generators: average the transform predicted for the image and for its mirror
   * image (test-time augmentation; two predictions on the small analysis copy). Default true.
   */
  flipAverage?: boolean;
  /** Called as each stage starts (progress reporting, e.g. the web app's worker). */
  onStage?: (stage: 'intrinsic' | 'gan' | 'blend') => void;
}

export interface RefineResult {
  result: FloatImage;
  semiHarmonized?: FloatImage;
  intrinsic?: SemiHarmonizeResult['intermediates'];
  stage: Stage;
  timings: Record<string, number>;
  notes: string[];
}

/** The intrinsic stage (src/intrinsic/index.ts), passed in so that this file does not load it when it does not run. */
export interface IntrinsicStage {
  semiHarmonize: typeof semiHarmonize;
  DEFAULT_INTRINSIC_ANALYSIS_SIDE: number;
}

export const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The image and mask G runs on: `x` and `mask` area-downscaled to ≤ maxSide (unchanged when smaller). */
export function generatorInputs(x: FloatImage, mask: Mask, maxSide: number): { xs: FloatImage; ms: Mask } {
  if (x.channels !== 3) throw new HarmoniaError(`generatorCorrection: expected an RGB image, got ${x.channels} channels`);
  const a = fitWithin(x.width, x.height, maxSide);
  const xs = a.width === x.width && a.height === x.height ? x : resizeImage(x, a.width, a.height, 'area');
  const ms = a.width === mask.width && a.height === mask.height ? mask : resizeMask(mask, a.width, a.height, 'area');
  return { xs, ms };
}

/** G(x) − x from a runner's output y = G(xs). */
export function runnerDelta(y: FloatImage, xs: FloatImage): FloatImage {
  if (y.width !== xs.width || y.height !== xs.height || y.channels !== 3) throw new HarmoniaError(`generatorCorrection: the model runner returned ${y.width}×${y.height}×${y.channels}, expected ${xs.width}×${xs.height}×3`);
  const d = new Float32Array(y.data.length);
  for (let i = 0; i < d.length; i++) d[i] = y.data[i] - xs.data[i];
  return { width: xs.width, height: xs.height, channels: 3, data: d };
}

/**
 * The analysis copy a colour-transform generator's parameter network sees: `x` and `mask`
 * area-downscaled to size×size, interleaved as size×size×4 (RGB + mask), the layout of the network's
 * input (TF.js and ONNX alike).
 */
export function analysisCopy(x: FloatImage, mask: Mask, size: number): Float32Array {
  const xs = x.width === size && x.height === size ? x : resizeImage(x, size, size, 'area');
  const ms = mask.width === size && mask.height === size ? mask : resizeMask(mask, size, size, 'area');
  const out = new Float32Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    out[p * 4] = xs.data[p * 3];
    out[p * 4 + 1] = xs.data[p * 3 + 1];
    out[p * 4 + 2] = xs.data[p * 3 + 2];
    out[p * 4 + 3] = ms.data[p];
  }
  return out;
}

/** The horizontally mirrored analysis copy (size×size×4). */
export function mirrorCopy(input: Float32Array, size: number): Float32Array {
  const out = new Float32Array(input.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out.set(input.subarray((y * size + x) * 4, (y * size + x) * 4 + 4), (y * size + size - 1 - x) * 4);
  }
  return out;
}

/** The mean of two predicted transforms, the second predicted on the horizontally mirrored image. */
export function averageParams(a: ColorTransformParams, mirrored: ColorTransformParams): ColorTransformParams {
  const theta = a.theta.map((v, i) => (v + mirrored.theta[i]) / 2);
  if (!a.field || !mirrored.field) return { theta };
  const { width: w, height: h, data } = a.field;
  const c = data.length / (w * h), out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = (data[(y * w + x) * c + k] + mirrored.field.data[(y * w + (w - 1 - x)) * c + k]) / 2;
    }
  }
  return { theta, field: { width: w, height: h, data: out } };
}

/**
 * A colour transform predicted by `predict` from the size² analysis copy of `x` (and, with
 * `flipAverage`, averaged with the one predicted for its mirror image), applied to every pixel of `x`
 * at its own resolution; pixels with mask 0 are copied exactly.
 */
export function transformWith(x: FloatImage, mask: Mask, size: number, predict: (input: Float32Array, size: number) => ColorTransformParams, flipAverage: boolean | undefined): FloatImage {
  const input = analysisCopy(x, mask, size);
  let params = predict(input, size);
  // test-time augmentation: the mean of the transforms predicted for the image and its mirror
  if (flipAverage) params = averageParams(params, predict(mirrorCopy(input, size), size));
  const data = applyColorTransformArrays(x.data, mask.data, x.width, x.height, params);
  return { width: x.width, height: x.height, channels: 3, data };
}

/** What harmonizeImage has done before the generator: checks, the intrinsic stage, the input G gets. */
export interface Prepared {
  done?: RefineResult;
  stage: Stage;
  maxSide: number;
  semi?: SemiHarmonizeResult;
  base: FloatImage;
  timings: Record<string, number>;
  notes: string[];
}

/** Whether `prepare` runs the intrinsic stage for this model and these options (when its checks pass). */
export function intrinsicRuns(model: { card?: HarmonizationModel['card'] } | undefined, opts: RefineOptions): boolean {
  const stage = opts.stage ?? (model ? 'full' : 'intrinsic');
  return stage === 'intrinsic' || (stage === 'full' && model?.card?.input !== 'composite');
}

/** The checks, then the intrinsic stage when it runs (`intrinsic` is needed when intrinsicRuns says so): what comes before the generator. */
export function prepare(composite: FloatImage, mask: Mask, model: { card?: HarmonizationModel['card'] } | undefined, opts: RefineOptions, intrinsic: IntrinsicStage | undefined): Prepared {
  const stage = opts.stage ?? (model ? 'full' : 'intrinsic');
  if (!isOneOf(STAGES, stage)) throw new HarmoniaError(`harmonize: stage must be ${listWords(STAGES)}, got "${stage}"`);
  if (composite.channels !== 3) throw new HarmoniaError(`harmonize: composite must be RGB (3 channels), got ${composite.channels}`);
  assertSameSize(composite, mask, 'mask');
  if ((stage === 'gan' || stage === 'full') && !model) {
    throw new HarmoniaError(`harmonize: stage "${stage}" needs a generator model; none was given (use stage "intrinsic" or load a model)`);
  }
  const maxSide = opts.analysisMaxSide ?? 1024;
  if (!(Number.isInteger(maxSide) && maxSide >= 16)) throw new HarmoniaError(`harmonize: analysisMaxSide must be an integer ≥ 16, got ${maxSide}`);
  const timings: Record<string, number> = {};
  const notes: string[] = [];
  if (maskArea(mask) === 0) {
    notes.push('empty mask: nothing to harmonize, output = input');
    return { done: { result: { ...composite, data: new Float32Array(composite.data) }, stage, timings, notes }, stage, maxSide, base: composite, timings, notes };
  }
  let semi: SemiHarmonizeResult | undefined;
  let base = composite;
  // a generator trained on raw composites gets the raw composite: the intrinsic stage is skipped
  const rawInput = stage === 'full' && model?.card?.input === 'composite';
  if (rawInput) notes.push(`model "${model?.card?.name}" was trained on raw composites: it runs on the composite (the intrinsic stage runs only with --stage intrinsic or a model trained on semi-harmonized input)`);
  if (stage === 'intrinsic' || (stage === 'full' && !rawInput)) {
    if (!intrinsic) throw new Error('harmonize: the intrinsic stage runs but was not loaded (intrinsicRuns disagrees with prepare)');
    opts.onStage?.('intrinsic');
    const t = now();
    semi = intrinsic.semiHarmonize(composite, mask, { analysisMaxSide: Math.min(maxSide, intrinsic.DEFAULT_INTRINSIC_ANALYSIS_SIDE), ...opts.intrinsic });
    timings.intrinsic = now() - t;
    base = semi.semiHarmonized;
    notes.push(...semi.intermediates.notes);
  }
  if (stage === 'intrinsic') {
    opts.onStage?.('blend');
    const t = now();
    const result = opts.harmonizeBackground ? base : blendByMask(composite, base, mask);
    timings.blend = now() - t;
    return { done: { result, semiHarmonized: semi?.semiHarmonized, intrinsic: semi?.intermediates, stage, timings, notes }, stage, maxSide, semi, base, timings, notes };
  }
  opts.onStage?.('gan');
  return { stage, maxSide, semi, base, timings, notes };
}

export function finishTransform(p: Prepared, result: FloatImage, t: number, opts: RefineOptions): RefineResult {
  p.timings.gan = now() - t;
  if (opts.harmonizeBackground) p.notes.push('harmonizeBackground: a colour-transform generator changes the foreground only');
  return { result, semiHarmonized: p.semi?.semiHarmonized, intrinsic: p.semi?.intermediates, stage: p.stage, timings: p.timings, notes: p.notes };
}

export function finishCorrection(p: Prepared, composite: FloatImage, mask: Mask, delta: FloatImage, t: number, opts: RefineOptions): RefineResult {
  p.timings.gan = now() - t;
  // upsampling, clipping and the mask blend fused row by row: no full-size intermediate copies
  opts.onStage?.('blend');
  const tb = now();
  const result = applyCorrection(p.base, delta, opts.harmonizeBackground ? undefined : { composite, mask });
  p.timings.blend = now() - tb;
  return { result, semiHarmonized: p.semi?.semiHarmonized, intrinsic: p.semi?.intermediates, stage: p.stage, timings: p.timings, notes: p.notes };
}

/** A model whose generator is a synchronous hook: `transformParams` (colour-transform generators) or `runner` (paper-style G). */
export type HookedModel = Pick<HarmonizationModel, 'config' | 'card' | 'runner' | 'transformParams'>;

/**
 * harmonizeImage (refine.ts) for a model whose generator is a hook, without TensorFlow.js: the same
 * stages and arithmetic. `transformParams` means an 'analysis-apply' generator (registry
 * `family`), `runner` a 'full-image' one; the caller makes sure the hook matches the kind.
 * `intrinsic` is needed when intrinsicRuns(model, opts).
 */
export function harmonizeWithHooks(composite: FloatImage, mask: Mask, model: HookedModel, opts: RefineOptions, intrinsic?: IntrinsicStage): RefineResult {
  const p = prepare(composite, mask, model, opts, intrinsic);
  if (p.done) return p.done;
  const t = now();
  if (model.transformParams) {
    return finishTransform(p, transformWith(p.base, mask, analysisSizeOf(model.config), model.transformParams, opts.flipAverage ?? true), t, opts);
  }
  if (!model.runner) throw new HarmoniaError('harmonize: the model has neither a runner nor transformParams');
  const { xs, ms } = generatorInputs(p.base, mask, p.maxSide);
  return finishCorrection(p, composite, mask, runnerDelta(model.runner(xs, ms), xs), t, opts);
}

/** m·fg + (1−m)·bg per pixel; pixels with m = 0 are copied from `bg` exactly. */
export function blendByMask(bg: FloatImage, fg: FloatImage, mask: Mask): FloatImage {
  assertSameSize(bg, fg, 'blendByMask');
  assertSameSize(bg, mask, 'blendByMask mask');
  const c = bg.channels;
  const data = new Float32Array(bg.data);
  for (let p = 0; p < mask.data.length; p++) {
    const m = mask.data[p];
    if (m <= 0) continue;
    for (let k = 0; k < c; k++) {
      const i = p * c + k;
      data[i] = m >= 1 ? fg.data[i] : m * fg.data[i] + (1 - m) * bg.data[i];
    }
  }
  return { width: bg.width, height: bg.height, channels: c, data };
}
