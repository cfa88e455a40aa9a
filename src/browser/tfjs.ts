/**
 * `harmonia/browser/tfjs`: the TensorFlow.js side of the browser API, for models that run on TF.js
 * (a folder loaded with `tf.loadLayersModel(url + 'model.json')` plus its harmonia.json) and for the
 * generator itself: the synchronous in-memory pipeline (`harmonizeImage`), the generator builder and
 * its custom layers, and the project's wasm kernels. Needs @tensorflow/tfjs
 * (an optional peer dependency of harmonia). `harmonia/browser` runs ONNX-served models without it.
 */
import '../models/layers.ts'; // registers the generator's custom layers with TensorFlow.js
export { tf } from '../engine/tf.ts';
export { registerWasmKernels } from '../engine/kernels/index.ts';
export { harmonizeImage, harmonizeImageAsync, analysisCopy, blendByMask, generatorCorrection } from '../pipeline/refine.ts';
export type { HarmonizationModel, AsyncHarmonizationModel, ModelCard, RefineOptions, RefineResult, Stage } from '../pipeline/refine.ts';
export { buildGenerator, runGenerator, PAPER_GENERATOR } from '../models/generator.ts';
export type { GeneratorConfig } from '../models/generator.ts';
