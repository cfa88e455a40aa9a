/**
 * `harmonia/train`: Training: the GAN trainer, its config, optimizer, checkpoints, presets, the GAN step module
 * (for the data-parallel pool), the loss registry and the generator registry (a user module given with
 * `--import` registers its generator or loss setting through these). The Table 1 experiment and
 * the sweep (train, then evaluate) are in `harmonia/eval`.
 */
export { train } from './trainer.ts';
export type { BatchSource, TrainOptions, TrainResult } from './trainer.ts';
export { DEFAULT_TRAIN, mergeTrainConfig, validateTrainConfig } from './config.ts';
export type { TrainConfig, PartialTrainConfig } from './config.ts';
// Loss settings and add-on terms by name (src/losses/registry.ts)
export { registerLossSetting, registerLossTerm, lossSetting, lossSettingNames, DEFAULT_LOSS } from '../losses/index.ts';
export type { LossConfig, LossSettingEntry, LossTermEntry, LossWeight, LossInputs } from '../losses/index.ts';
// Generators by name (src/models/registry.ts) and the exporters a user generator's implementation may call
export { registerGenerator, generatorEntry, generatorNames, generatorConfig, DEFAULT_GENERATOR } from '../models/registry.ts';
export type { GeneratorEntry, GeneratorImplementation, GeneratorOption, InferenceFamily } from '../models/registry.ts';
export { exportGeneratorToOnnx } from '../export/generator.ts';
export { exportColorTransformToOnnx } from '../export/color-transform.ts';
export { DEFAULT_ADAM, adamStep, createAdamState } from '../engine/parallel/adam.ts';
export type { AdamConfig, AdamState } from '../engine/parallel/adam.ts';
export { GanStep } from './step.ts';
export type { TrainBatch, StepConfig, Phase } from './step.ts';
export { LocalEngine, PoolEngine } from './engines.ts';
export type { TrainEngine, EngineState } from './engines.ts';
export { saveCheckpoint, loadCheckpoint, findCheckpoint } from './checkpoint.ts';
export type { Checkpoint, CheckpointState } from './checkpoint.ts';
export { memorySource, makeBatch } from '../data/memory.ts';
export type { MemorySample } from '../data/memory.ts';
export { createFeatureExtractor, resolveFeatureSource, RANDOM_FEATURES_NOTE } from './features.ts';
export type { FeatureSpec } from './features.ts';
export { PRESETS, PAPER_PRESET, CPU_PRESET, SMOKE_PRESET, getPreset, settingConfig } from './presets.ts';
export type { ExperimentPreset, PresetName } from './presets.ts';
export { prepareSplit, prepareSample } from './dataset.ts';
export type { PreparedSample } from './dataset.ts';
export { GAN_STEP_MODULE, paperGanOptions } from './step-module.ts';
export type { GanModuleOptions } from './step-module.ts';
// The data-parallel worker pool (src/engine/parallel) that runs GAN_STEP_MODULE on several cores
export { DataParallelPool, adamUpdate } from '../engine/parallel/index.ts';
export type { PoolOptions, PhaseReport, OptimizerState, StepModule, StepOptions, PhaseContext, PhaseResult, BatchArray } from '../engine/parallel/index.ts';
// The light network's TensorFlow.js side (training): moved out of harmonia/intrinsic so the intrinsic stage needs no TF.js
export { buildLightNet, foldStandardization } from '../intrinsic/light-net-tf.ts';
