/**
 * Training engines: who computes gradients and applies Adam. `LocalEngine` runs the GanStep in this
 * process (checking gradients before applying them); `PoolEngine` runs it data-parallel in worker
 * threads (engine/parallel: each worker takes half of every batch, gradients are averaged, one Adam
 * update, same arithmetic as LocalEngine). Both expose the same exact state (weights + Adam) for
 * checkpoints.
 */
import { HarmoniaError } from '../errors.ts';
import { engineInfo } from '../engine/index.ts';
import { DataParallelPool } from '../engine/parallel/pool.ts';
import type { AdamConfig, AdamState } from '../engine/parallel/adam.ts';
import { adamStep, gradSquaredNorm, splitFlat, joinFlat, createAdamState } from '../engine/parallel/adam.ts';
import type { GanStep, TrainBatch, StepConfig } from './step.ts';
import { checkBatch } from './step.ts';
import type { FeatureSpec } from './features.ts';
import type { GanModuleOptions } from './step-module.ts';
import { userModules } from '../config/modules.ts';

export interface EngineState {
  weights: { G: Float32Array[]; D: Float32Array[] };
  adam: { G: AdamState; D: AdamState };
}

export type StepOutcome =
  | { ok: true; losses: Record<string, number>; gradNormG?: number; gradNormD?: number }
  | { ok: false; phase: 'G' | 'D'; losses: Record<string, number>; detail: string };

export interface TrainEngine {
  readonly description: string;
  /** One G update then one D update on the batch. */
  step(batch: TrainBatch): Promise<StepOutcome>;
  getState(): EngineState;
  setState(s: EngineState): void;
  dispose(): Promise<void>;
}

const finite = (o: Record<string, number>) => Object.values(o).every(Number.isFinite);

export class LocalEngine implements TrainEngine {
  readonly description = 'single process';
  private state: EngineState;
  constructor(private readonly gan: GanStep, private readonly opt: AdamConfig) {
    this.state = {
      weights: { G: gan.getWeights('G'), D: gan.getWeights('D') },
      adam: { G: createAdamState(gan.sizes('G')), D: createAdamState(gan.sizes('D')) },
    };
  }
  async step(batch: TrainBatch): Promise<StepOutcome> {
    const rG = this.gan.computeGradients('G', batch);
    const nG = gradSquaredNorm(rG.grads);
    if (!finite(rG.losses) || !Number.isFinite(nG)) return { ok: false, phase: 'G', losses: rG.losses, detail: `gradient norm² ${nG}` };
    adamStep(this.opt, this.state.adam.G, this.state.weights.G, rG.grads);
    this.gan.setWeights('G', this.state.weights.G);
    const rD = this.gan.computeGradients('D', batch);
    const nD = gradSquaredNorm(rD.grads);
    if (!finite(rD.losses) || !Number.isFinite(nD)) return { ok: false, phase: 'D', losses: rD.losses, detail: `gradient norm² ${nD}` };
    adamStep(this.opt, this.state.adam.D, this.state.weights.D, rD.grads);
    this.gan.setWeights('D', this.state.weights.D);
    return { ok: true, losses: { ...rG.losses, ...rD.losses }, gradNormG: Math.sqrt(nG), gradNormD: Math.sqrt(nD) };
  }
  getState(): EngineState {
    const copyAdam = (a: AdamState): AdamState => ({ t: a.t, m: a.m.map((x) => x.slice()), v: a.v.map((x) => x.slice()) });
    return {
      weights: { G: this.state.weights.G.map((x) => x.slice()), D: this.state.weights.D.map((x) => x.slice()) },
      adam: { G: copyAdam(this.state.adam.G), D: copyAdam(this.state.adam.D) },
    };
  }
  setState(s: EngineState): void {
    this.state = s;
    this.gan.setWeights('G', s.weights.G);
    this.gan.setWeights('D', s.weights.D);
  }
  async dispose(): Promise<void> { /* the GanStep belongs to the trainer */ }
}

export class PoolEngine implements TrainEngine {
  readonly description: string;
  private constructor(private readonly pool: DataParallelPool, private readonly sizes: { G: number[]; D: number[] }) {
    this.description = `data-parallel, ${pool.workerCount} workers on ${pool.engine.backend}`;
  }

  static async create(cfg: { step: StepConfig; optimizer: AdamConfig; workers: number; features?: FeatureSpec; sizes: { G: number[]; D: number[] } }): Promise<PoolEngine> {
    // the user modules this process loaded (--import) register the same generators and loss settings in each worker
    const options: GanModuleOptions = { step: cfg.step, features: cfg.features, modules: userModules() };
    const pool = await DataParallelPool.create({
      module: new URL('./step-module.ts', import.meta.url),
      workers: cfg.workers,
      backend: engineInfo()?.backend ?? 'auto',
      options: options as unknown as Record<string, unknown>,
      optimizer: cfg.optimizer,
    });
    for (const net of ['G', 'D'] as const) {
      const got = pool.layout(net).weights.map((w) => w.size).join();
      if (got !== cfg.sizes[net].join()) {
        await pool.close();
        throw new HarmoniaError(`data-parallel pool built a different ${net} than this process (${got} vs ${cfg.sizes[net].join()})`);
      }
    }
    return new PoolEngine(pool, cfg.sizes);
  }

  async step(batch: TrainBatch): Promise<StepOutcome> {
    checkBatch(batch);
    const { n, height: h, width: w } = batch;
    const rep = await this.pool.step({
      input: { data: batch.input, shape: [n, h, w, 3] },
      real: { data: batch.real, shape: [n, h, w, 3] },
      mask: { data: batch.mask, shape: [n, h, w, 1] },
    });
    const losses = { ...rep.G.losses, ...rep.D.losses };
    // Adam already ran in the pool: detect a bad update from the losses and the new weights
    for (const net of ['G', 'D'] as const) {
      const lossesOk = finite(net === 'G' ? rep.G.losses : rep.D.losses);
      const weightsOk = Number.isFinite(gradSquaredNorm([this.pool.getWeights(net)]));
      if (!lossesOk || !weightsOk) return { ok: false, phase: net, losses, detail: lossesOk ? 'weights became non-finite' : 'non-finite loss' };
    }
    return { ok: true, losses };
  }

  getState(): EngineState {
    const adam = (net: 'G' | 'D'): AdamState => {
      const s = this.pool.getOptimizerState(net);
      return { t: s.t, m: splitFlat(s.m, this.sizes[net]), v: splitFlat(s.v, this.sizes[net]) };
    };
    return {
      weights: { G: splitFlat(this.pool.getWeights('G'), this.sizes.G), D: splitFlat(this.pool.getWeights('D'), this.sizes.D) },
      adam: { G: adam('G'), D: adam('D') },
    };
  }

  setState(s: EngineState): void {
    for (const net of ['G', 'D'] as const) {
      this.pool.setWeights(net, joinFlat(s.weights[net]));
      this.pool.setOptimizerState(net, { t: s.adam[net].t, m: joinFlat(s.adam[net].m), v: joinFlat(s.adam[net].v) });
    }
  }

  async dispose(): Promise<void> {
    await this.pool.close();
  }
}
