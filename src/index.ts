/**
 * Harmonia public API (40 names). Everything else is behind subpath exports:
 *   harmonia/intrinsic  the intrinsic stage's building blocks (decomposition, light, albedo, reshading)
 *   harmonia/train      trainer internals: config, Adam, GAN step + step module, the data-parallel pool, checkpoints, presets, loss registry
 *   harmonia/eval       the evaluator (dataset files or images in memory), the Table 1 experiment, loss-weight sweeps
 *   harmonia/data       iHarmony4 reader, composite synthesis, procedural scenes, the training data path (memorySource, CompositeStream)
 *   harmonia/engine     initEngine and engineInfo: the TensorFlow.js backend (tensorflow, native, wasm, cpu)
 *   harmonia/metrics    per-image metrics of the evaluation protocol
 *   harmonia/browser    the browser API: model loader (ONNX Runtime Web) + createHarmonizer, no TensorFlow.js
 *
 * Inference needs sharp + ONNX Runtime only: the functions below that need TensorFlow.js (initEngine,
 * train, evaluation, TF.js model folders, harmonizeImage with a TF.js model) load it when called, and
 * without the optional @tensorflow/* packages they throw one HarmoniaError naming the package and the
 * npm install command (src/util/optional.ts).
 */
import { importOptional } from './util/optional.ts';
import { HarmoniaError } from './errors.ts';
import type * as EngineModule from './engine/index.ts';
import type * as RefineModule from './pipeline/refine.ts';
import type * as FolderModule from './models/folder.ts';
import type * as EvaluateModule from './eval/evaluate.ts';
import type * as TrainerModule from './train/trainer.ts';
import type * as ExperimentModule from './eval/experiment.ts';
import type { FloatImage, Mask } from './image/types.ts';
import { harmonizeWithHooks, type HookedModel } from './pipeline/stages.ts';
import * as intrinsicStage from './intrinsic/index.ts';

/** refine.ts once loaded (by any function below that loads TensorFlow.js), for the synchronous harmonizeImage. */
let refine: typeof RefineModule | undefined;
async function tfModule<T>(what: string, load: () => Promise<T>): Promise<T> {
  const m = await importOptional(what, load);
  refine ??= await import('./pipeline/refine.ts');
  return m;
}

// Errors: bad input throws HarmoniaError (message names the file/argument and the problem)
export { HarmoniaError };

// Engine: pick and initialise the TensorFlow.js backend (optional; the first call does it)
export async function initEngine(...args: Parameters<typeof EngineModule.initEngine>): ReturnType<typeof EngineModule.initEngine> {
  return (await tfModule('initEngine', () => import('./engine/index.ts'))).initEngine(...args);
}
export type { EngineInfo, BackendRequest } from './engine/index.ts';

// Harmonize a composite: files or in-memory images in, harmonized image out
export { harmonize, harmonizeWithReport } from './pipeline/harmonize.ts';
export type { HarmonizeOptions, HarmonizeReport } from './pipeline/harmonize.ts';
/**
 * The in-memory pipeline, synchronous. Without a model (intrinsic stage) or with a model whose generator
 * is a hook (`runner` / `transformParams`, e.g. ONNX Runtime) it needs no TensorFlow.js; a TF.js model
 * comes from loadHarmonizationModel() or initEngine(), which load what it needs.
 */
export function harmonizeImage(composite: FloatImage, mask: Mask, model: RefineModule.HarmonizationModel | undefined, opts: RefineModule.RefineOptions = {}): RefineModule.RefineResult {
  if (refine) return refine.harmonizeImage(composite, mask, model, opts);
  if (!model || model.runner || model.transformParams) {
    if (!model) return harmonizeWithHooks(composite, mask, model as unknown as HookedModel, { ...opts, stage: opts.stage ?? 'intrinsic' }, intrinsicStage);
    return harmonizeWithHooks(composite, mask, model, opts, intrinsicStage);
  }
  throw new HarmoniaError('harmonizeImage: a TensorFlow.js model needs TensorFlow.js loaded: get the model from await loadHarmonizationModel(dir), or call await initEngine() once first');
}
export type { HarmonizationModel, RefineOptions, RefineResult } from './pipeline/refine.ts';

// Intrinsic stage alone: semi-harmonization (albedo + shading correction) without the network
export { semiHarmonize } from './intrinsic/index.ts';
export type { IntrinsicOptions, SemiHarmonizeResult } from './intrinsic/index.ts';

// Model folders: load and save a trained harmonization model
export async function loadHarmonizationModel(...args: Parameters<typeof FolderModule.loadHarmonizationModel>): ReturnType<typeof FolderModule.loadHarmonizationModel> {
  return (await tfModule('loadHarmonizationModel', () => import('./models/folder.ts'))).loadHarmonizationModel(...args);
}
export async function saveHarmonizationModel(...args: Parameters<typeof FolderModule.saveHarmonizationModel>): ReturnType<typeof FolderModule.saveHarmonizationModel> {
  return (await tfModule('saveHarmonizationModel', () => import('./models/folder.ts'))).saveHarmonizationModel(...args);
}
export { DEFAULT_MODEL_DIR } from './models/folder-meta.ts';

// Image I/O: FloatImage (HWC, [0,1]) and soft Mask, decoded and encoded with sharp; writes are atomic
export { readImage, writeImage, readMask, writeMask } from './image/io.ts';
export type { ReadOptions, WriteOptions } from './image/io.ts';
export type { FloatImage, Mask } from './image/types.ts';

// Evaluation on a dataset (MSE, PSNR, fMSE, SSIM, LPIPS; docs/METRICS.md)
export async function evaluateDataset(...args: Parameters<typeof EvaluateModule.evaluateDataset>): ReturnType<typeof EvaluateModule.evaluateDataset> {
  return (await tfModule('evaluateDataset', () => import('./eval/evaluate.ts'))).evaluateDataset(...args);
}
export async function evaluateSamples(...args: Parameters<typeof EvaluateModule.evaluateSamples>): ReturnType<typeof EvaluateModule.evaluateSamples> {
  return (await tfModule('evaluateSamples', () => import('./eval/evaluate.ts'))).evaluateSamples(...args);
}
export async function writeEvalReport(...args: Parameters<typeof EvaluateModule.writeEvalReport>): ReturnType<typeof EvaluateModule.writeEvalReport> {
  return (await tfModule('writeEvalReport', () => import('./eval/evaluate.ts'))).writeEvalReport(...args);
}
export type { EvalResult, EvaluateDatasetOptions, Predictor } from './eval/evaluate.ts';

// Training and the paper's Table 1 experiment
export async function train(...args: Parameters<typeof TrainerModule.train>): ReturnType<typeof TrainerModule.train> {
  return (await tfModule('train', () => import('./train/trainer.ts'))).train(...args);
}
export type { TrainOptions, TrainResult } from './train/trainer.ts';
export type { TrainConfig, PartialTrainConfig } from './train/config.ts';
export async function runExperiment(...args: Parameters<typeof ExperimentModule.runExperiment>): ReturnType<typeof ExperimentModule.runExperiment> {
  return (await tfModule('runExperiment', () => import('./eval/experiment.ts'))).runExperiment(...args);
}
export type { ExperimentOptions, Table1 } from './eval/experiment.ts';
