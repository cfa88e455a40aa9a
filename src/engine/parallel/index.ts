/** Data-parallel training on several cores (worker threads + SharedArrayBuffers). */
export { DataParallelPool } from './pool.ts';
export type { PoolOptions, PhaseReport, OptimizerState } from './pool.ts';
export { layoutOf } from './contract.ts';
export type { StepModule, StepOptions, PhaseContext, PhaseResult, ModelLayout, WeightEntry, BatchArray } from './contract.ts';
export { adamUpdate, adamStep, createAdamState, weightedAverage, resolveAdam, validateAdam, DEFAULT_ADAM } from './adam.ts';
export type { AdamConfig, AdamState } from './adam.ts';
export type { PhaseTiming } from './protocol.ts';
/** Absolute URL of the paper GAN step module (for DataParallelPool.create({ module })). */
export const PAPER_GAN_STEP = new URL('./paperGanStep.ts', import.meta.url);
