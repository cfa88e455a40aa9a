/** Messages between pool.ts (main thread) and worker.ts. Internal to engine/parallel. */
import type { ModelLayout, StepOptions } from './contract.ts';
import type { AdamConfig } from './adam.ts';
import type { BackendRequest, EngineInfo } from '../index.ts';

export interface WorkerInit {
  index: number;
  workers: number;
  backend: BackendRequest;
  moduleUrl: string;
  options: StepOptions;
  control: SharedArrayBuffer;
}

export interface SharedModel {
  weights: SharedArrayBuffer;
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
  /** One gradient buffer per worker. */
  grads: SharedArrayBuffer[];
}

export interface SharedBatchArray {
  buffer: SharedArrayBuffer;
  shape: number[];
}

export type ToWorker =
  | { type: 'buffers'; models: Record<string, SharedModel> }
  | {
      type: 'phase';
      phase: string;
      step: number;
      batchVersion: number;
      batch: Record<string, SharedBatchArray>;
      /** Weight version per model; a worker reloads a model whose version changed. */
      versions: Record<string, number>;
      /** Fraction of the batch in each worker's shard (sums to 1). */
      shardWeights: number[];
      /** Adam to apply in the workers after the phase (absent when main applies it). */
      adam?: Record<string, { t: number; lr: number; hp: AdamConfig }>;
    };

export interface PhaseTiming {
  /** Loading changed weights into the worker's variables. */
  loadMs: number;
  /** The step module's runPhase, including reading gradients back. */
  computeMs: number;
  /** Waiting at the barriers (for the slowest worker). */
  waitMs: number;
  /** Averaging + Adam on this worker's slice. */
  adamMs: number;
}

export type FromWorker =
  | { type: 'layout'; layouts: ModelLayout[]; phases: Record<string, string[]>; engine: EngineInfo }
  | { type: 'ready' }
  | { type: 'done'; losses: Record<string, number>; timing: PhaseTiming }
  | { type: 'error'; message: string; stack?: string; aborted: boolean };
