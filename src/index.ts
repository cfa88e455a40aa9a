/**
 * Harmonia public API (40 names). Everything else is behind subpath exports:
 *   harmonia/intrinsic  the intrinsic stage's building blocks (decomposition, light, albedo, reshading)
 *   harmonia/train      trainer internals: config, Adam, GAN step + step module, checkpoints, presets, loss registry
 *   harmonia/eval       the evaluator (dataset files or images in memory), the Table 1 experiment, loss-weight sweeps
 *   harmonia/data       iHarmony4 reader, composite synthesis, procedural scenes, loader
 *   harmonia/engine     engine info, native kernels, the data-parallel pool
 *   harmonia/metrics    per-image metrics of the evaluation protocol
 *   harmonia/browser    the browser-safe subset (no Node built-ins)
 */

// Errors: bad input throws HarmoniaError (message names the file/argument and the problem)
export { HarmoniaError } from './errors.ts';

// Engine: pick and initialise the TensorFlow.js backend (optional; the first call does it)
export { initEngine } from './engine/index.ts';
export type { EngineInfo, BackendRequest } from './engine/index.ts';

// Harmonize a composite: files or in-memory images in, harmonized image out
export { harmonize, harmonizeWithReport } from './pipeline/harmonize.ts';
export type { HarmonizeOptions, HarmonizeReport } from './pipeline/harmonize.ts';
export { harmonizeImage } from './pipeline/refine.ts';
export type { HarmonizationModel, RefineOptions, RefineResult } from './pipeline/refine.ts';

// Intrinsic stage alone: semi-harmonization (albedo + shading correction) without the network
export { semiHarmonize } from './intrinsic/index.ts';
export type { IntrinsicOptions, SemiHarmonizeResult } from './intrinsic/index.ts';

// Model folders: load and save a trained harmonization model
export { loadHarmonizationModel, saveHarmonizationModel, DEFAULT_MODEL_DIR } from './pipeline/model.ts';

// Image I/O: FloatImage (HWC, [0,1]) and soft Mask, decoded and encoded with sharp; writes are atomic
export { readImage, writeImage, readMask, writeMask } from './image/io.ts';
export type { ReadOptions, WriteOptions } from './image/io.ts';
export type { FloatImage, Mask } from './image/types.ts';

// Evaluation on a dataset (MSE, PSNR, fMSE, SSIM, LPIPS; docs/METRICS.md)
export { evaluateDataset, evaluateSamples, writeEvalReport } from './eval/evaluate.ts';
export type { EvalResult, EvaluateDatasetOptions, Predictor } from './eval/evaluate.ts';

// Training and the paper's Table 1 experiment
export { train } from './train/trainer.ts';
export type { TrainOptions, TrainResult } from './train/trainer.ts';
export type { TrainConfig, PartialTrainConfig } from './train/config.ts';
export { runExperiment } from './eval/experiment.ts';
export type { ExperimentOptions, Table1 } from './eval/experiment.ts';
