/** Data-parallel training on several cores (worker threads + SharedArrayBuffers). */
export { DataParallelPool } from './pool.ts';
export type { PoolOptions, PhaseReport, OptimizerState } from './pool.ts';
export { layoutOf } from './contract.ts';
export type { StepModule, StepOptions, PhaseContext, PhaseResult, ModelLayout, WeightEntry, BatchArray } from './contract.ts';
export { adamUpdate, adamStep, createAdamState, weightedAverage, resolveAdam, validateAdam, DEFAULT_ADAM } from './adam.ts';
export type { AdamConfig, AdamState } from './adam.ts';
export type { PhaseTiming } from './protocol.ts';
// The GAN step module lives above the engine: GAN_STEP_MODULE in src/train/step-module.ts (harmonia/train).
