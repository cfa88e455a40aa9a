/**
 * `harmonia/browser`: harmonization in the browser without TensorFlow.js (no node:* imports).
 *
 *   const h = await createHarmonizer({ model: 'models/default/', wasmPaths: '/ort/', onProgress });
 *   const out = await h.harmonize({ background, foreground, mask, placement: { x, y, scale } });
 *
 *  - `loadModel(url, options)`: a Harmonia model folder (harmonia.json + model.onnx) on ONNX Runtime
 *    Web: WebGPU when an adapter starts, else WebAssembly (SIMD, + threads when cross-origin isolated);
 *    a progress callback; asset paths in docs/WEB.md.
 *  - `createHarmonizer(options)`: (background, foreground + mask, placement) or (composite, mask) → image;
 *    `preview()` for live feedback while placing, `intermediates()` for the intrinsic stage on demand.
 *  - image helpers: canvas RGBA ↔ FloatImage/Mask, placing a cut-out, resizing.
 *  - `semiHarmonize`: the intrinsic stage alone (no network).
 * The TensorFlow.js side (TF.js models, the synchronous pipeline, the generator) is `harmonia/browser/tfjs`.
 */
export { loadModel, resolveModelUrl, summarizeEngineError, ORT_WEB_VERSION } from './browser/loader.ts';
export type { LoadModelOptions, LoadedModel, LoadProgress, ExecutionProvider } from './browser/loader.ts';
export { createHarmonizer, loadIntrinsicStage } from './browser/harmonizer.ts';
export type { Harmonizer, HarmonizerOptions, HarmonizeRequest, HarmonizeOutput, Intermediates } from './browser/harmonizer.ts';
export { harmonizeWithAsyncHooks } from './pipeline/hooks-async.ts';
export { semiHarmonize, renderLightSphere, DEFAULT_INTRINSIC_ANALYSIS_SIDE } from './intrinsic/index.ts';
export type { IntrinsicOptions, SemiHarmonizeResult, LightInfo } from './intrinsic/index.ts';
export type { AsyncHookedModel } from './pipeline/hooks-async.ts';
export type { RefineOptions, RefineResult, Stage } from './pipeline/stages.ts';
export type { ModelCard } from './models/harmonization.ts';
export type { GeneratorConfig } from './models/generator.ts';
export { generatorKind } from './models/registry.ts';
export { HarmoniaError } from './errors.ts';
export * from './image/types.ts';
export { resizeImage, resizeMask, fitWithin } from './image/resize.ts';
export type { ResizeKernel } from './image/resize.ts';
export { padGeneratorInput, cropRgb } from './models/pad.ts';
export { placeForeground, defaultPlacement, applyChangeAtFullResolution, maskBounds, rgbaToImage, rgbaToMask, imageToRgba, hasTransparency } from './pipeline/compose.ts';
export type { Placement } from './pipeline/compose.ts';
