/**
 * The pipeline with an asynchronous generator hook, without TensorFlow.js: the same stages, checks and
 * arithmetic as harmonizeWithHooks (stages.ts), around an awaited network — ONNX Runtime Web in a
 * browser (`harmonia/browser`), or its WebAssembly build in Node when onnxruntime-node is missing
 * (pipeline/harmonize.ts). Browser-safe: no node:* imports; the intrinsic stage is passed in (it is
 * loaded only when it runs).
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import type { ColorTransformParams } from '../models/color-transform-apply.ts';
import { applyColorTransformArrays } from '../models/color-transform-apply.ts';
import type { GeneratorConfig } from '../models/generator.ts';
import type { ModelCard } from '../models/harmonization.ts';
import {
  analysisCopy, averageParams, finishCorrection, finishTransform, generatorInputs, mirrorCopy, now, prepare, runnerDelta,
  type IntrinsicStage, type RefineOptions, type RefineResult,
} from './stages.ts';
import { analysisSizeOf } from '../models/registry.ts';

/** A model whose generator is an asynchronous hook: `transformParams` (colour-transform generators) or `run` (paper-style G). */
export interface AsyncHookedModel {
  config: GeneratorConfig;
  card?: ModelCard;
  /** G(x) at the size of x (paper-style generators). */
  run?: (x: FloatImage, mask: Mask) => Promise<FloatImage>;
  /** θ (+ the pct field) of one size×size×4 analysis copy (colour-transform generators). */
  transformParams?: (input: Float32Array, size: number) => Promise<ColorTransformParams>;
}

/**
 * Harmonizes `composite` under `mask` with an asynchronous generator hook (or the intrinsic stage alone
 * when `model` is undefined). `intrinsic` is needed when the intrinsic stage runs (intrinsicRuns).
 * Background pixels (mask = 0) are copied exactly unless `harmonizeBackground`.
 */
export async function harmonizeWithAsyncHooks(composite: FloatImage, mask: Mask, model: AsyncHookedModel | undefined, opts: RefineOptions = {}, intrinsic?: IntrinsicStage): Promise<RefineResult> {
  const p = prepare(composite, mask, model, opts, intrinsic);
  if (p.done) return p.done;
  const m = model as AsyncHookedModel;
  const t = now();
  if (m.transformParams) {
    const s = analysisSizeOf(m.config);
    const input = analysisCopy(p.base, mask, s);
    let params = await m.transformParams(input, s);
    if (opts.flipAverage ?? true) params = averageParams(params, await m.transformParams(mirrorCopy(input, s), s));
    const data = applyColorTransformArrays(p.base.data, mask.data, p.base.width, p.base.height, params);
    return finishTransform(p, { width: p.base.width, height: p.base.height, channels: 3, data }, t, opts);
  }
  if (!m.run) throw new HarmoniaError('harmonize: the model has neither run nor transformParams');
  const { xs, ms } = generatorInputs(p.base, mask, p.maxSide);
  return finishCorrection(p, composite, mask, runnerDelta(await m.run(xs, ms), xs), t, opts);
}
