/**
 * The full harmonization pipeline on in-memory images, browser-safe (no node:* imports):
 *   composite + mask → Intrinsic Compositing stage (semiHarmonized) → GAN refinement → result.
 *
 * Resolution: G runs at ≤ `analysisMaxSide` (default 1024) and the intrinsic stage at
 * ≤ min(analysisMaxSide, 512) (its own default, DEFAULT_INTRINSIC_ANALYSIS_SIDE; `intrinsic.analysisMaxSide`
 * overrides it); both apply their correction at the input's full resolution. For the GAN the correction is the per-pixel difference
 * G(x) − x computed at analysis size, upsampled bilinearly and added to the full-resolution
 * semi-harmonized image, fused with the clip and the mask blend row by row (apply.ts: no full-size
 * intermediate copies, so large inputs stay within a small memory budget). The background (mask = 0) is copied from the input bit-exactly unless
 * `harmonizeBackground` is set; soft mask values blend the two.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { assertSameSize, maskArea } from '../image/types.ts';
import { resizeImage, resizeMask, fitWithin } from '../image/resize.ts';
import { semiHarmonize, DEFAULT_INTRINSIC_ANALYSIS_SIDE, type IntrinsicOptions, type SemiHarmonizeResult } from '../intrinsic/index.ts';
import { runGenerator, type GeneratorConfig } from '../models/generator.ts';
import { generatorEntry } from '../models/registry.ts';
import { predictColorTransform, applyColorTransformArrays, type ColorTransformParams } from '../models/color-transform.ts';
import type { HarmonizationModel } from '../models/harmonization.ts';
import { applyCorrection } from './apply.ts';

export type Stage = 'intrinsic' | 'gan' | 'full';

export type { HarmonizationModel, ModelCard } from '../models/harmonization.ts';

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

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function toTensor(img: FloatImage): tf.Tensor4D {
  return tf.tensor4d(img.data, [1, img.height, img.width, img.channels]);
}

/** The image and mask G runs on: `x` and `mask` area-downscaled to ≤ maxSide (unchanged when smaller). */
function generatorInputs(x: FloatImage, mask: Mask, maxSide: number): { xs: FloatImage; ms: Mask } {
  if (x.channels !== 3) throw new HarmoniaError(`generatorCorrection: expected an RGB image, got ${x.channels} channels`);
  const a = fitWithin(x.width, x.height, maxSide);
  const xs = a.width === x.width && a.height === x.height ? x : resizeImage(x, a.width, a.height, 'area');
  const ms = a.width === mask.width && a.height === mask.height ? mask : resizeMask(mask, a.width, a.height, 'area');
  return { xs, ms };
}

/** G(x) − x from a runner's output y = G(xs). */
function runnerDelta(y: FloatImage, xs: FloatImage): FloatImage {
  if (y.width !== xs.width || y.height !== xs.height || y.channels !== 3) throw new HarmoniaError(`generatorCorrection: the model runner returned ${y.width}×${y.height}×${y.channels}, expected ${xs.width}×${xs.height}×3`);
  const d = new Float32Array(y.data.length);
  for (let i = 0; i < d.length; i++) d[i] = y.data[i] - xs.data[i];
  return { width: xs.width, height: xs.height, channels: 3, data: d };
}

/** Runs G at ≤ maxSide and returns the correction G(x) − x at that analysis size (not upsampled). */
export function generatorDelta(model: HarmonizationModel, x: FloatImage, mask: Mask, maxSide = 1024): FloatImage {
  const { xs, ms } = generatorInputs(x, mask, maxSide);
  if (model.runner) return runnerDelta(model.runner(xs, ms), xs);
  const delta = tf.tidy(() => {
    const xt = toTensor(xs);
    const mt = tf.tensor4d(ms.data, [1, ms.height, ms.width, 1]);
    const y = runGenerator(model.generator, xt, mt, model.config);
    return tf.sub(y, xt);
  });
  const data = new Float32Array(delta.dataSync() as Float32Array);
  delta.dispose();
  return { width: xs.width, height: xs.height, channels: 3, data };
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

/** θ (and the field) of one analysis copy with the TF.js generator (a sub-model that stops before the apply). */
export function predictParamsTfjs(model: HarmonizationModel, input: Float32Array, size: number): ColorTransformParams {
  const t = tf.tensor4d(input, [1, size, size, 4]);
  try {
    return predictColorTransform(model.generator, t);
  } finally {
    t.dispose();
  }
}

/**
 * A colour-transform generator (registry `fullResolution`): its parameters are predicted from an
 * area-downscaled analysis copy (analysisSize², 128 by default) — by `model.transformParams` (ONNX
 * Runtime) when set, else by the TF.js generator — and the transform is applied to every pixel of `x`
 * at its own resolution in JavaScript; pixels with mask 0 are copied exactly.
 */
export function transformAtFullResolution(model: HarmonizationModel, x: FloatImage, mask: Mask, opts: { flipAverage?: boolean } = {}): FloatImage {
  const s = model.config.analysisSize ?? 128;
  const predict = model.transformParams ?? ((input: Float32Array, size: number) => predictParamsTfjs(model, input, size));
  const input = analysisCopy(x, mask, s);
  let params = predict(input, s);
  // test-time augmentation: the mean of the transforms predicted for the image and its mirror
  if (opts.flipAverage) params = averageParams(params, predict(mirrorCopy(input, s), s));
  const data = applyColorTransformArrays(x.data, mask.data, x.width, x.height, params);
  return { width: x.width, height: x.height, channels: 3, data };
}

/** The mean of two predicted transforms, the second predicted on the horizontally mirrored image. */
function averageParams(a: ColorTransformParams, mirrored: ColorTransformParams): ColorTransformParams {
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

/** Runs G at ≤ maxSide and returns the correction G(x) − x at the full size of `x`. */
export function generatorCorrection(model: HarmonizationModel, x: FloatImage, mask: Mask, maxSide = 1024): FloatImage {
  const d = generatorDelta(model, x, mask, maxSide);
  return d.width === x.width && d.height === x.height ? d : resizeImage(d, x.width, x.height, 'bilinear');
}

/** What harmonizeImage has done before the generator: checks, the intrinsic stage, the input G gets. */
interface Prepared {
  done?: RefineResult;
  stage: Stage;
  maxSide: number;
  semi?: SemiHarmonizeResult;
  base: FloatImage;
  timings: Record<string, number>;
  notes: string[];
}

function prepare(composite: FloatImage, mask: Mask, model: { card?: HarmonizationModel['card'] } | undefined, opts: RefineOptions): Prepared {
  const stage = opts.stage ?? (model ? 'full' : 'intrinsic');
  if (!['intrinsic', 'gan', 'full'].includes(stage)) throw new HarmoniaError(`harmonize: stage must be intrinsic, gan or full, got "${stage}"`);
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
    opts.onStage?.('intrinsic');
    const t = now();
    semi = semiHarmonize(composite, mask, { analysisMaxSide: Math.min(maxSide, DEFAULT_INTRINSIC_ANALYSIS_SIDE), ...opts.intrinsic });
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

function finishTransform(p: Prepared, result: FloatImage, t: number, opts: RefineOptions): RefineResult {
  p.timings.gan = now() - t;
  if (opts.harmonizeBackground) p.notes.push('harmonizeBackground: a colour-transform generator changes the foreground only');
  return { result, semiHarmonized: p.semi?.semiHarmonized, intrinsic: p.semi?.intermediates, stage: p.stage, timings: p.timings, notes: p.notes };
}

function finishCorrection(p: Prepared, composite: FloatImage, mask: Mask, delta: FloatImage, t: number, opts: RefineOptions): RefineResult {
  p.timings.gan = now() - t;
  // upsampling, clipping and the mask blend fused row by row: no full-size intermediate copies
  opts.onStage?.('blend');
  const tb = now();
  const result = applyCorrection(p.base, delta, opts.harmonizeBackground ? undefined : { composite, mask });
  p.timings.blend = now() - tb;
  return { result, semiHarmonized: p.semi?.semiHarmonized, intrinsic: p.semi?.intermediates, stage: p.stage, timings: p.timings, notes: p.notes };
}

/** Harmonizes one composite in memory. Output has the composite's size. */
export function harmonizeImage(composite: FloatImage, mask: Mask, model: HarmonizationModel | undefined, opts: RefineOptions = {}): RefineResult {
  const p = prepare(composite, mask, model, opts);
  if (p.done) return p.done;
  const m = model as HarmonizationModel;
  const t = now();
  if (generatorEntry(m.config.kind ?? 'paper').fullResolution) {
    return finishTransform(p, transformAtFullResolution(m, p.base, mask, { flipAverage: opts.flipAverage ?? true }), t, opts);
  }
  return finishCorrection(p, composite, mask, generatorDelta(m, p.base, mask, p.maxSide), t, opts);
}

/**
 * A model whose generator runs asynchronously (the web app's ONNX Runtime Web sessions in a worker):
 * `run` computes G(x) for paper-style generators, `transformParams` θ (and the field) for colour-transform
 * generators from one size×size×4 analysis copy.
 */
export interface AsyncHarmonizationModel {
  config: HarmonizationModel['config'];
  card?: HarmonizationModel['card'];
  run?: (x: FloatImage, mask: Mask) => Promise<FloatImage>;
  transformParams?: (input: Float32Array, size: number) => Promise<ColorTransformParams>;
}

/** harmonizeImage with an asynchronous generator: the same stages, checks and arithmetic around the awaited network. */
export async function harmonizeImageAsync(composite: FloatImage, mask: Mask, model: AsyncHarmonizationModel | undefined, opts: RefineOptions = {}): Promise<RefineResult> {
  const p = prepare(composite, mask, model, opts);
  if (p.done) return p.done;
  const m = model as AsyncHarmonizationModel;
  const t = now();
  if (generatorEntry(m.config.kind ?? 'paper').fullResolution) {
    if (!m.transformParams) throw new HarmoniaError(`harmonize: the "${m.config.kind}" generator needs transformParams`);
    const s = m.config.analysisSize ?? 128;
    const input = analysisCopy(p.base, mask, s);
    let params = await m.transformParams(input, s);
    if (opts.flipAverage ?? true) params = averageParams(params, await m.transformParams(mirrorCopy(input, s), s));
    return finishTransform(p, { width: p.base.width, height: p.base.height, channels: 3, data: applyColorTransformArrays(p.base.data, mask.data, p.base.width, p.base.height, params) }, t, opts);
  }
  if (!m.run) throw new HarmoniaError('harmonize: the generator needs run');
  const { xs, ms } = generatorInputs(p.base, mask, p.maxSide);
  return finishCorrection(p, composite, mask, runnerDelta(await m.run(xs, ms), xs), t, opts);
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
