/**
 * `harmonia/train`: Training: the GAN trainer, its config, optimizer, checkpoints, presets and the Table 1 experiment.
 * The same names as the main entry exports from src/train/ (until src/train/index.ts exists; issue 14).
 */
export { train, renderLossCurves } from '../train/trainer.ts';
export type { BatchSource, TrainOptions, TrainResult } from '../train/trainer.ts';
export { DEFAULT_TRAIN, mergeTrainConfig, validateTrainConfig } from '../train/config.ts';
export type { TrainConfig, PartialTrainConfig } from '../train/config.ts';
export { DEFAULT_ADAM, adamStep, createAdamState } from '../engine/parallel/adam.ts';
export type { AdamConfig, AdamState } from '../engine/parallel/adam.ts';
export { GanStep } from '../train/step.ts';
export type { TrainBatch, StepConfig, Phase } from '../train/step.ts';
export { LocalEngine, PoolEngine } from '../train/engines.ts';
export type { TrainEngine, EngineState } from '../train/engines.ts';
export { saveCheckpoint, loadCheckpoint, findCheckpoint } from '../train/checkpoint.ts';
export type { Checkpoint, CheckpointState } from '../train/checkpoint.ts';
export { memorySource, makeBatch } from '../train/memory.ts';
export type { MemorySample } from '../train/memory.ts';
export { createFeatureExtractor, resolveFeatureSource, RANDOM_FEATURES_NOTE } from '../train/features.ts';
export type { FeatureSpec } from '../train/features.ts';
export { PRESETS, PAPER_PRESET, CPU_PRESET, SMOKE_PRESET, getPreset, settingConfig } from '../train/presets.ts';
export type { ExperimentPreset, PresetName } from '../train/presets.ts';
export { prepareSplit, prepareSample } from '../train/dataset.ts';
export type { PreparedSample } from '../train/dataset.ts';
export { runExperiment, runSweep, table1Markdown, sweepMarkdown, METHOD_COLUMNS } from '../train/experiment.ts';
export type { Table1, ExperimentOptions, SweepOptions, SweepTable } from '../train/experiment.ts';
export type { MethodSummary as Table1Column } from '../train/experiment.ts';
export { GAN_STEP_MODULE, paperGanOptions } from '../train/step-module.ts';
export type { GanModuleOptions } from '../train/step-module.ts';
