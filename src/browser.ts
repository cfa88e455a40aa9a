/**
 * `harmonia/browser`: the browser-safe part of the API (no node:* imports): the in-memory pipeline
 * (intrinsic stage + GAN refinement on FloatImage/Mask), compositing helpers, the generator and its
 * custom layers, and TensorFlow.js with the project's wasm kernels. A model folder is loaded with
 * `tf.loadLayersModel(url + 'model.json')` plus its harmonia.json (generator config and card), or its
 * model.onnx runs in ONNX Runtime Web through `harmonizeImageAsync` (`run` / `transformParams`
 * hooks; the app in web/src/ort.ts shows how).
 */
import './models/layers.ts'; // registers the generator's custom layers with TensorFlow.js
export { tf } from './engine/tf.ts';
export { registerWasmKernels } from './engine/kernels/index.ts';
export { HarmoniaError } from './errors.ts';
export * from './image/types.ts';
export { resizeImage, resizeMask, fitWithin } from './image/resize.ts';
export type { ResizeKernel } from './image/resize.ts';
export { harmonizeImage, harmonizeImageAsync, analysisCopy, blendByMask, generatorCorrection } from './pipeline/refine.ts';
export type { HarmonizationModel, AsyncHarmonizationModel, ModelCard, RefineOptions, RefineResult, Stage } from './pipeline/refine.ts';
export { padGeneratorInput, cropRgb } from './models/pad.ts';
export { placeForeground, defaultPlacement, applyChangeAtFullResolution, maskBounds, rgbaToImage, rgbaToMask, imageToRgba, hasTransparency } from './pipeline/compose.ts';
export type { Placement } from './pipeline/compose.ts';
export { semiHarmonize, DEFAULT_INTRINSIC_ANALYSIS_SIDE } from './intrinsic/index.ts';
export type { IntrinsicOptions, SemiHarmonizeResult, LightInfo } from './intrinsic/index.ts';
export { buildGenerator, runGenerator, PAPER_GENERATOR } from './models/generator.ts';
export type { GeneratorConfig } from './models/generator.ts';
