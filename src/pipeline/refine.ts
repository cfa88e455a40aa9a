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
import { applyCorrection } from './apply.ts';

export type Stage = 'intrinsic' | 'gan' | 'full';

/** A trained generator plus the config it was built with (the `harmonia.json` of a model folder). */
export interface HarmonizationModel {
  generator: tf.LayersModel;
  config: GeneratorConfig;
  /** Free-form description (training data, preset, metrics); shown in reports. */
  card?: ModelCard;
  /**
   * Optional faster implementation of the same G (e.g. ONNX Runtime, src/models/onnx.ts): given an
   * RGB image and its mask, returns G(x) at the same size, exactly like runGenerator. When set,
   * generatorCorrection uses it instead of `generator`; `generator` stays the source of truth.
   */
  runner?: (x: FloatImage, mask: Mask) => FloatImage;
}

export interface ModelCard {
  name: string;
  /** Input the generator was trained on: the semi-harmonized image (paper) or the raw composite. */
  input: 'semiHarmonized' | 'composite';
  trainedOn?: string;
  command?: string;
  metrics?: Record<string, number | string>;
  notes?: string[];
}

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

/** Runs G at ≤ maxSide and returns the correction G(x) − x at that analysis size (not upsampled). */
export function generatorDelta(model: HarmonizationModel, x: FloatImage, mask: Mask, maxSide = 1024): FloatImage {
  if (x.channels !== 3) throw new HarmoniaError(`generatorCorrection: expected an RGB image, got ${x.channels} channels`);
  const a = fitWithin(x.width, x.height, maxSide);
  const xs = a.width === x.width && a.height === x.height ? x : resizeImage(x, a.width, a.height, 'area');
  const ms = a.width === mask.width && a.height === mask.height ? mask : resizeMask(mask, a.width, a.height, 'area');
  if (model.runner) {
    const y = model.runner(xs, ms);
    if (y.width !== xs.width || y.height !== xs.height || y.channels !== 3) throw new HarmoniaError(`generatorCorrection: the model runner returned ${y.width}×${y.height}×${y.channels}, expected ${xs.width}×${xs.height}×3`);
    const d = new Float32Array(y.data.length);
    for (let i = 0; i < d.length; i++) d[i] = y.data[i] - xs.data[i];
    return { width: a.width, height: a.height, channels: 3, data: d };
  }
  const delta = tf.tidy(() => {
    const xt = toTensor(xs);
    const mt = tf.tensor4d(ms.data, [1, ms.height, ms.width, 1]);
    const y = runGenerator(model.generator, xt, mt, model.config);
    return tf.sub(y, xt);
  });
  const data = new Float32Array(delta.dataSync() as Float32Array);
  delta.dispose();
  return { width: a.width, height: a.height, channels: 3, data };
}

/**
 * A colour-transform generator (registry `fullResolution`): its parameters are predicted from an
 * area-downscaled analysis copy (analysisSize², 128 by default) and the transform is applied to every
 * pixel of `x` at its own resolution; pixels with mask 0 are copied exactly.
 */
export function transformAtFullResolution(model: HarmonizationModel, x: FloatImage, mask: Mask, opts: { flipAverage?: boolean } = {}): FloatImage {
  const s = model.config.analysisSize ?? 128;
  const xs = x.width === s && x.height === s ? x : resizeImage(x, s, s, 'area');
  const ms = mask.width === s && mask.height === s ? mask : resizeMask(mask, s, s, 'area');
  const input = tf.tidy(() => tf.concat([toTensor(xs), tf.tensor4d(ms.data, [1, s, s, 1])], 3));
  let params: ReturnType<typeof predictColorTransform>;
  try {
    params = predictColorTransform(model.generator, input);
    if (opts.flipAverage) {
      // test-time augmentation: the mean of the transforms predicted for the image and its mirror
      const mirrored = tf.tidy(() => tf.reverse(input, 2));
      const m = predictColorTransform(model.generator, mirrored);
      mirrored.dispose();
      params = averageParams(params, m);
    }
  } finally {
    input.dispose();
  }
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

/** Harmonizes one composite in memory. Output has the composite's size. */
export function harmonizeImage(composite: FloatImage, mask: Mask, model: HarmonizationModel | undefined, opts: RefineOptions = {}): RefineResult {
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
    return { result: { ...composite, data: new Float32Array(composite.data) }, stage, timings, notes };
  }
  let semi: SemiHarmonizeResult | undefined;
  let base = composite;
  // a generator trained on raw composites gets the raw composite: the intrinsic stage is skipped
  const rawInput = stage === 'full' && model?.card?.input === 'composite';
  if (rawInput) notes.push(`model "${model?.card?.name}" was trained on raw composites: it runs on the composite (the intrinsic stage runs only with --stage intrinsic or a model trained on semi-harmonized input)`);
  if (stage === 'intrinsic' || (stage === 'full' && !rawInput)) {
    const t = now();
    semi = semiHarmonize(composite, mask, { analysisMaxSide: Math.min(maxSide, DEFAULT_INTRINSIC_ANALYSIS_SIDE), ...opts.intrinsic });
    timings.intrinsic = now() - t;
    base = semi.semiHarmonized;
    notes.push(...semi.intermediates.notes);
  }
  if (stage === 'gan' || stage === 'full') {
    const m = model as HarmonizationModel;
    if (generatorEntry(m.config.kind ?? 'paper').fullResolution) {
      const t = now();
      const result = transformAtFullResolution(m, base, mask, { flipAverage: opts.flipAverage ?? true });
      timings.gan = now() - t;
      if (opts.harmonizeBackground) notes.push('harmonizeBackground: a colour-transform generator changes the foreground only');
      return { result, semiHarmonized: semi?.semiHarmonized, intrinsic: semi?.intermediates, stage, timings, notes };
    }
    const t = now();
    const delta = generatorDelta(m, base, mask, maxSide);
    timings.gan = now() - t;
    // upsampling, clipping and the mask blend fused row by row: no full-size intermediate copies
    const tb = now();
    const result = applyCorrection(base, delta, opts.harmonizeBackground ? undefined : { composite, mask });
    timings.blend = now() - tb;
    return { result, semiHarmonized: semi?.semiHarmonized, intrinsic: semi?.intermediates, stage, timings, notes };
  }
  const t = now();
  const result = opts.harmonizeBackground ? base : blendByMask(composite, base, mask);
  timings.blend = now() - t;
  return { result, semiHarmonized: semi?.semiHarmonized, intrinsic: semi?.intermediates, stage, timings, notes };
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
