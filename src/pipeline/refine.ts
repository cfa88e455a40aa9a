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
import { semiHarmonize, DEFAULT_INTRINSIC_ANALYSIS_SIDE } from '../intrinsic/index.ts';
import { runGenerator } from '../models/generator.ts';
import { analysisSizeOf, generatorEntryOf } from '../models/registry.ts';
import { predictColorTransform, applyColorTransformArrays, type ColorTransformParams } from '../models/color-transform.ts';
import type { HarmonizationModel } from '../models/harmonization.ts';
import { resizeImage } from '../image/resize.ts';
import {
  prepare, finishTransform, finishCorrection, generatorInputs, runnerDelta, analysisCopy, mirrorCopy, averageParams, transformWith, now,
  type IntrinsicStage, type RefineOptions, type RefineResult,
} from './stages.ts';

// the stages around the generator live in stages.ts (no TensorFlow.js: the ONNX Runtime path runs them without it)
export { analysisCopy, mirrorCopy, blendByMask, type Stage, type RefineOptions, type RefineResult } from './stages.ts';
export type { HarmonizationModel, ModelCard } from '../models/harmonization.ts';

const INTRINSIC: IntrinsicStage = { semiHarmonize, DEFAULT_INTRINSIC_ANALYSIS_SIDE };

function toTensor(img: FloatImage): tf.Tensor4D {
  return tf.tensor4d(img.data, [1, img.height, img.width, img.channels]);
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
 * An 'analysis-apply' generator (registry `family`): its parameters are predicted from an
 * area-downscaled analysis copy (the entry's analysisSize²) — by `model.transformParams` (ONNX
 * Runtime) when set, else by the TF.js generator — and the transform is applied to every pixel of `x`
 * at its own resolution in JavaScript; pixels with mask 0 are copied exactly.
 */
export function transformAtFullResolution(model: HarmonizationModel, x: FloatImage, mask: Mask, opts: { flipAverage?: boolean } = {}): FloatImage {
  const predict = model.transformParams ?? ((input: Float32Array, size: number) => predictParamsTfjs(model, input, size));
  return transformWith(x, mask, analysisSizeOf(model.config), predict, opts.flipAverage);
}

/** Runs G at ≤ maxSide and returns the correction G(x) − x at the full size of `x`. */
export function generatorCorrection(model: HarmonizationModel, x: FloatImage, mask: Mask, maxSide = 1024): FloatImage {
  const d = generatorDelta(model, x, mask, maxSide);
  return d.width === x.width && d.height === x.height ? d : resizeImage(d, x.width, x.height, 'bilinear');
}

/** Harmonizes one composite in memory. Output has the composite's size. */
export function harmonizeImage(composite: FloatImage, mask: Mask, model: HarmonizationModel | undefined, opts: RefineOptions = {}): RefineResult {
  const p = prepare(composite, mask, model, opts, INTRINSIC);
  if (p.done) return p.done;
  const m = model as HarmonizationModel;
  const t = now();
  if (generatorEntryOf(m.config).family === 'analysis-apply') {
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
  const p = prepare(composite, mask, model, opts, INTRINSIC);
  if (p.done) return p.done;
  const m = model as AsyncHarmonizationModel;
  const t = now();
  if (generatorEntryOf(m.config).family === 'analysis-apply') {
    if (!m.transformParams) throw new HarmoniaError(`harmonize: the "${m.config.kind}" generator needs transformParams`);
    const s = analysisSizeOf(m.config);
    const input = analysisCopy(p.base, mask, s);
    let params = await m.transformParams(input, s);
    if (opts.flipAverage ?? true) params = averageParams(params, await m.transformParams(mirrorCopy(input, s), s));
    return finishTransform(p, { width: p.base.width, height: p.base.height, channels: 3, data: applyColorTransformArrays(p.base.data, mask.data, p.base.width, p.base.height, params) }, t, opts);
  }
  if (!m.run) throw new HarmoniaError('harmonize: the generator needs run');
  const { xs, ms } = generatorInputs(p.base, mask, p.maxSide);
  return finishCorrection(p, composite, mask, runnerDelta(await m.run(xs, ms), xs), t, opts);
}
