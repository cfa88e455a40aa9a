/**
 * The contract between the data-parallel pool (pool.ts, main thread) and a STEP MODULE (a .ts
 * module loaded in every worker). See docs/ENGINE.md § Data-parallel.
 *
 * A step module exports:
 *
 *   export const phases: Record<string, readonly string[]>;
 *     Phase name → names of the models whose gradients that phase returns. After a phase, the pool
 *     averages those gradients over the workers (weighted by shard size) and applies one Adam
 *     update per listed model. Phases run in declaration order in pool.step().
 *     Example (GAN): { G: ['G'], D: ['D'] }.
 *
 *   export function createModels(options: StepOptions): Record<string, tf.LayersModel> | Promise<…>;
 *     Builds the models. Called once per worker. Models must be deterministic (seeded): worker 0's
 *     initial weights are copied to all workers anyway. Only trainable weights are synchronised,
 *     so models must not have non-trainable weights (e.g. batch-norm statistics); the pool refuses
 *     them.
 *
 *   export function runPhase(phase: string, ctx: PhaseContext): PhaseResult;
 *     Runs one phase on this worker's shard of the batch. Returns gradients for exactly the models
 *     listed for the phase (a NamedTensorMap keyed by variable name, as tf.variableGrads returns,
 *     or an array in model.trainableWeights order) and scalar losses. Every loss and gradient must
 *     be a MEAN over the shard's samples, so that the shard-size-weighted average the pool computes
 *     equals the full-batch value. The pool disposes the returned tensors. Anything to keep
 *     between phases (e.g. the fakes of the G phase for the D phase) goes in ctx.state; the module
 *     disposes what it replaces there.
 *
 * Batches are dictionaries of float32 arrays whose first axis is the sample axis (NHWC images,
 * [N,H,W,1] masks, [N,k] vectors); the pool splits them along it into contiguous shards.
 */
import type { tf } from '../tf.ts';

/** JSON-serialisable options passed from the pool to the step module (via postMessage). */
export type StepOptions = Record<string, unknown>;

export interface PhaseContext {
  /** The worker's models (the same objects every phase). */
  readonly models: Readonly<Record<string, tf.LayersModel>>;
  /** This worker's shard of the current batch, as tensors (owned by the pool). */
  readonly batch: Readonly<Record<string, tf.Tensor>>;
  /** Number of samples in this shard (≥ 1: a worker with an empty shard is not called). */
  readonly shardSize: number;
  /** Scratch space kept between phases and steps (per worker). */
  readonly state: Map<string, unknown>;
  /** The options given to the pool. */
  readonly options: StepOptions;
  /** 0-based step counter (pool.step calls / batches set). */
  readonly step: number;
  /** This worker's index and the number of workers. */
  readonly worker: number;
  readonly workers: number;
}

export interface PhaseResult {
  /** Gradients per model name (NamedTensorMap by variable name, or array in trainableWeights order). */
  grads: Record<string, tf.NamedTensorMap | tf.Tensor[]>;
  /** Scalar losses (means over the shard), reported averaged over the batch. */
  losses: Record<string, number | tf.Scalar>;
}

export interface StepModule {
  phases: Record<string, readonly string[]>;
  createModels(options: StepOptions): Record<string, tf.LayersModel> | Promise<Record<string, tf.LayersModel>>;
  runPhase(phase: string, ctx: PhaseContext): PhaseResult;
}

/** One trainable weight in a model's flat vector. */
export interface WeightEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface ModelLayout {
  name: string;
  size: number;
  weights: WeightEntry[];
}

/** A batch array: float32 data with its shape (first axis = samples). */
export interface BatchArray {
  data: Float32Array;
  shape: number[];
}

/** Flat layout of a model's trainable weights, in model.trainableWeights order. */
export function layoutOf(name: string, model: tf.LayersModel): ModelLayout {
  let offset = 0;
  const weights = model.trainableWeights.map((w) => {
    const shape = w.shape.map((d) => d as number);
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name: w.name, shape, offset, size };
    offset += size;
    return e;
  });
  return { name, size: offset, weights };
}
