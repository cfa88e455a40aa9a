/**
 * Data-parallel training on several cores: a pool of worker threads, each with its own
 * TensorFlow.js engine and its own copy of the models, each computing gradients on a contiguous
 * shard of every batch. Gradients are averaged (weighted by shard size, so the result is the
 * full-batch gradient) and ONE Adam update is applied, identical to a single process on the full
 * batch up to float32 rounding.
 *
 * Everything heavy travels through SharedArrayBuffers (weights, Adam moments, per-worker
 * gradients, the batch); messages carry only names, versions and timings. By default Adam runs
 * in the workers: after a phase each worker averages the gradients and updates its own slice of
 * the flat weight vector (a reduce-scatter), then all reload the changed weights (`adamIn:
 * 'main'` runs it on the main thread instead, for comparison). The training logic lives in a
 * step module (contract.ts; docs/ENGINE.md § Data-parallel).
 *
 *   const pool = await DataParallelPool.create({ module: GAN_STEP_MODULE, options: paperGanOptions(), workers: 2 }); // src/train/step-module.ts
 *   const losses = await pool.step({ input: { data, shape: [4, 256, 256, 3] }, real: { … }, mask: { … } });
 *   pool.copyToModel('G', generator);   // e.g. before saving a checkpoint
 *   await pool.close();
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { HarmoniaError } from '../../errors.ts';
import { tf } from '../tf.ts';
import type { BackendRequest, EngineInfo } from '../index.ts';
import type { BatchArray, ModelLayout, StepOptions } from './contract.ts';
import type { FromWorker, PhaseTiming, SharedBatchArray, SharedModel, ToWorker, WorkerInit } from './protocol.ts';
import { createControl, fence } from './barrier.ts';
import { adamUpdate, resolveAdam, weightedAverage } from './adam.ts';
import type { AdamConfig } from './adam.ts';

export interface PoolOptions {
  /** The step module: a file path or URL of a .ts/.js module following contract.ts. */
  module: string | URL;
  /** Worker threads (default: min(2, available cores)). */
  workers?: number;
  /** Backend each worker initialises (default 'auto'; tests use 'cpu'). */
  backend?: BackendRequest;
  /** JSON-serialisable options for the step module's createModels/runPhase. */
  options?: StepOptions;
  /** Adam hyper-parameters, one config for all models or per model name (missing fields from DEFAULT_ADAM: Adam(2e-4, 0.5, 0.999), ε 1e-8). */
  optimizer?: Partial<AdamConfig> | Record<string, Partial<AdamConfig>>;
  /** Where Adam runs: 'workers' (default, each updates a slice in parallel) or 'main'. */
  adamIn?: 'workers' | 'main';
}

export interface PhaseReport {
  /** Losses averaged over the batch (shard-size weighted). */
  losses: Record<string, number>;
  /** Wall time of the phase seen from the main thread, ms. */
  wallMs: number;
  /** Per-worker timings. */
  workers: PhaseTiming[];
  /** Main-thread averaging + Adam, ms (0 when Adam runs in the workers). */
  mainAdamMs: number;
}

export interface OptimizerState {
  t: number;
  m: Float32Array;
  v: Float32Array;
}

interface MainModel {
  layout: ModelLayout;
  weights: Float32Array;
  m: Float32Array;
  v: Float32Array;
  grads: Float32Array[];
  shared: SharedModel;
  version: number;
  t: number;
  hp: AdamConfig;
  lr: number;
  scratch?: Float32Array;
}

interface Pending {
  results: (FromWorker | undefined)[];
  left: number;
  resolve: (r: FromWorker[]) => void;
}

/** '.ts' when this file runs from the sources (through tsx), '.js' in the built package (dist/). */
const OWN_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_URL = new URL(`./worker${OWN_EXT}`, import.meta.url).href;

function moduleUrl(m: string | URL): string {
  let href = m instanceof URL ? m.href : /^(file|data):/.test(m) ? m : pathToFileURL(isAbsolute(m) ? m : resolve(m)).href;
  // Step modules are named by their source file (`new URL('./x.ts', import.meta.url)`); in the built
  // package that file is x.js beside the caller.
  if (OWN_EXT === '.js' && href.startsWith('file:') && href.endsWith('.ts') && !existsSync(fileURLToPath(href))) {
    const js = `${href.slice(0, -3)}.js`;
    if (existsSync(fileURLToPath(js))) href = js;
  }
  return href;
}

/** The worker's boot script: plain import of the built worker, or through tsx when TypeScript is involved. */
function bootScript(stepModule: string): string {
  if (!WORKER_URL.endsWith('.ts') && !stepModule.endsWith('.ts')) return `import(${JSON.stringify(WORKER_URL)})`;
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch (err) {
    throw new HarmoniaError(`data-parallel pool: step module ${stepModule} is TypeScript, which needs the tsx package (not installed)`, { cause: err });
  }
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); })`;
}

function sab(floats: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, floats) * 4);
}

export class DataParallelPool {
  private readonly workers: Worker[];
  private readonly models = new Map<string, MainModel>();
  private pending?: Pending;
  private broken?: string;
  private closed = false;
  private batch: Record<string, SharedBatchArray> = {};
  private batchSize = 0;
  private batchVersion = -1;
  private stepCount = 0;
  private readonly adamIn: 'workers' | 'main';
  private readonly control: Int32Array;

  /** Phase name → models it updates, in declaration order. */
  readonly phases: Readonly<Record<string, readonly string[]>>;
  /** What each worker's engine runs on. */
  readonly engine: EngineInfo;

  private constructor(workers: Worker[], control: Int32Array, layouts: ModelLayout[], phases: Record<string, string[]>, engine: EngineInfo, opts: PoolOptions) {
    this.workers = workers;
    this.control = control;
    this.phases = phases;
    this.engine = engine;
    this.adamIn = opts.adamIn ?? 'workers';
    const perModel = (name: string): Partial<AdamConfig> => {
      const o = opts.optimizer;
      if (!o) return {};
      const keys = Object.keys(o);
      const isPer = keys.length > 0 && keys.every((k) => layouts.some((l) => l.name === k));
      return isPer ? ((o as Record<string, Partial<AdamConfig>>)[name] ?? {}) : (o as Partial<AdamConfig>);
    };
    for (const layout of layouts) {
      const shared: SharedModel = { weights: sab(layout.size), m: sab(layout.size), v: sab(layout.size), grads: workers.map(() => sab(layout.size)) };
      const hp = resolveAdam(perModel(layout.name), `optimizer for model "${layout.name}"`);
      this.models.set(layout.name, {
        layout, shared, hp, lr: hp.lr, version: 0, t: 0,
        weights: new Float32Array(shared.weights), m: new Float32Array(shared.m), v: new Float32Array(shared.v),
        grads: shared.grads.map((g) => new Float32Array(g)),
      });
    }
  }

  /** Starts the workers, builds the models in each, shares worker 0's initial weights. */
  static async create(opts: PoolOptions): Promise<DataParallelPool> {
    const n = opts.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new HarmoniaError(`DataParallelPool: workers must be an integer in 1..64, got ${opts.workers}`);
    if (opts.adamIn !== undefined && opts.adamIn !== 'workers' && opts.adamIn !== 'main') {
      throw new HarmoniaError(`DataParallelPool: adamIn must be workers or main, got "${String(opts.adamIn)}"`);
    }
    const url = moduleUrl(opts.module);
    const control = createControl();
    const boot = bootScript(url);
    const workers: Worker[] = [];
    const first: Promise<FromWorker>[] = [];
    for (let i = 0; i < n; i++) {
      const init: WorkerInit = { index: i, workers: n, backend: opts.backend ?? 'auto', moduleUrl: url, options: opts.options ?? {}, control: control.buffer as SharedArrayBuffer };
      const w = new Worker(boot, { eval: true, workerData: init, stdout: false, stderr: false });
      workers.push(w);
      first.push(new Promise((res) => {
        const onMsg = (m: FromWorker) => { w.off('error', onErr); w.off('exit', onExit); res(m); };
        const onErr = (e: Error) => { w.off('message', onMsg); w.off('exit', onExit); res({ type: 'error', message: e.message, stack: e.stack, aborted: false }); };
        const onExit = (code: number) => { w.off('message', onMsg); w.off('error', onErr); res({ type: 'error', message: `worker exited with code ${code} during start-up`, aborted: false }); };
        w.once('message', onMsg);
        w.once('error', onErr);
        w.once('exit', onExit);
      }));
    }
    const msgs = await Promise.all(first);
    const failed = msgs.find((m) => m.type === 'error' && !m.aborted) ?? msgs.find((m) => m.type === 'error');
    if (failed && failed.type === 'error') {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new HarmoniaError(`data-parallel worker failed to start (step module ${url}): ${failed.message}`);
    }
    const layouts = msgs.map((m) => (m.type === 'layout' ? m : undefined));
    const l0 = layouts[0]!;
    for (let i = 1; i < n; i++) {
      if (JSON.stringify(layouts[i]!.layouts) !== JSON.stringify(l0.layouts)) {
        await Promise.all(workers.map((w) => w.terminate()));
        throw new HarmoniaError(`data-parallel workers 0 and ${i} built different models (step module ${url}); createModels must be deterministic`);
      }
    }
    const pool = new DataParallelPool(workers, control, l0.layouts, l0.phases, l0.engine, opts);
    pool.listen();
    const models: Record<string, SharedModel> = {};
    for (const [name, mm] of pool.models) models[name] = mm.shared;
    await pool.broadcast(() => ({ type: 'buffers', models }));
    return pool;
  }

  private listen(): void {
    this.workers.forEach((w, i) => {
      w.on('message', (m: FromWorker) => this.receive(i, m));
      w.on('error', (e: Error) => this.receive(i, { type: 'error', message: e.message, stack: e.stack, aborted: false }));
      w.on('exit', (code: number) => {
        if (!this.closed) this.receive(i, { type: 'error', message: `worker ${i} exited unexpectedly (code ${code})`, aborted: false });
      });
    });
  }

  private receive(i: number, m: FromWorker): void {
    const p = this.pending;
    if (!p) {
      if (m.type === 'error') this.broken ??= `worker ${i}: ${m.message}`;
      return;
    }
    if (p.results[i] !== undefined) return;
    p.results[i] = m;
    if (--p.left === 0) {
      this.pending = undefined;
      p.resolve(p.results as FromWorker[]);
    }
  }

  private async broadcast(make: (i: number) => ToWorker): Promise<FromWorker[]> {
    if (this.closed) throw new HarmoniaError('DataParallelPool: used after close()');
    if (this.broken) throw new HarmoniaError(`DataParallelPool is unusable after a worker failure: ${this.broken}`);
    if (this.pending) throw new HarmoniaError('DataParallelPool: one operation at a time (await the previous call)');
    const res = new Promise<FromWorker[]>((resolve) => {
      this.pending = { results: this.workers.map(() => undefined), left: this.workers.length, resolve };
    });
    this.workers.forEach((w, i) => w.postMessage(make(i)));
    const out = await res;
    fence(this.control);
    const errors = out.filter((m): m is Extract<FromWorker, { type: 'error' }> => m.type === 'error');
    if (errors.length) {
      const first = errors.find((e) => !e.aborted) ?? errors[0];
      const idx = out.indexOf(first);
      this.broken = `worker ${idx}: ${first.message}`;
      throw new HarmoniaError(`data-parallel worker ${idx} failed: ${first.message}`);
    }
    return out;
  }

  /** Model names, in the order the step module created them. */
  get modelNames(): string[] {
    return [...this.models.keys()];
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Flat layout (names, shapes, offsets) of a model's trainable weights. */
  layout(model: string): ModelLayout {
    return this.model(model).layout;
  }

  private model(name: string): MainModel {
    const m = this.models.get(name);
    if (!m) throw new HarmoniaError(`DataParallelPool: no model "${name}" (have ${this.modelNames.join(', ')})`);
    return m;
  }

  /**
   * Sets the batch for the following phases: arrays whose first axis is the sample axis (all the
   * same length N ≥ 1). The data is copied into shared memory; the caller's arrays stay untouched.
   */
  setBatch(batch: Record<string, BatchArray>): void {
    const keys = Object.keys(batch);
    if (keys.length === 0) throw new HarmoniaError('DataParallelPool.setBatch: batch has no arrays');
    let n = -1;
    const next: Record<string, SharedBatchArray> = {};
    for (const k of keys) {
      const { data, shape } = batch[k];
      if (!(data instanceof Float32Array)) throw new HarmoniaError(`DataParallelPool.setBatch: "${k}" must be a Float32Array`);
      if (!Array.isArray(shape) || shape.length < 1 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
        throw new HarmoniaError(`DataParallelPool.setBatch: "${k}" has an invalid shape [${String(shape)}]`);
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (size !== data.length) throw new HarmoniaError(`DataParallelPool.setBatch: "${k}" has ${data.length} values but shape [${shape.join(',')}] needs ${size}`);
      if (n === -1) n = shape[0];
      else if (shape[0] !== n) throw new HarmoniaError(`DataParallelPool.setBatch: "${k}" has ${shape[0]} samples, "${keys[0]}" has ${n}`);
      const old = this.batch[k];
      const buffer = old && old.buffer.byteLength === size * 4 ? old.buffer : sab(size);
      new Float32Array(buffer).set(data);
      next[k] = { buffer, shape: [...shape] };
    }
    this.batch = next;
    this.batchSize = n;
    this.batchVersion++;
  }

  private shardWeights(): number[] {
    const w = this.workers.length;
    const n = this.batchSize;
    return this.workers.map((_, k) => (Math.floor(((k + 1) * n) / w) - Math.floor((k * n) / w)) / n);
  }

  /** Sets the learning rate of a model's optimiser from the next phase on (schedules). */
  setLearningRate(model: string, lr: number): void {
    if (!(lr >= 0 && Number.isFinite(lr))) throw new HarmoniaError(`DataParallelPool.setLearningRate: lr must be a finite number >= 0, got ${lr}`);
    this.model(model).lr = lr;
  }

  /** Runs one phase on the current batch and applies the optimiser to the phase's models. */
  async runPhase(phase: string): Promise<PhaseReport> {
    const targets = this.phases[phase];
    if (!targets) throw new HarmoniaError(`DataParallelPool: unknown phase "${phase}" (step module has ${Object.keys(this.phases).join(', ')})`);
    if (this.batchVersion < 0) throw new HarmoniaError('DataParallelPool: call setBatch() before runPhase()');
    const t0 = performance.now();
    const shardWeights = this.shardWeights();
    const versions: Record<string, number> = {};
    for (const [name, m] of this.models) versions[name] = m.version;
    let adam: Record<string, { t: number; lr: number; hp: AdamConfig }> | undefined;
    if (this.adamIn === 'workers') {
      adam = {};
      for (const name of targets) {
        const m = this.model(name);
        adam[name] = { t: m.t + 1, lr: m.lr, hp: m.hp };
      }
    }
    const msg: ToWorker = { type: 'phase', phase, step: this.stepCount, batchVersion: this.batchVersion, batch: this.batch, versions, shardWeights, adam };
    const out = await this.broadcast(() => msg);
    let mainAdamMs = 0;
    const t1 = performance.now();
    for (const name of targets) {
      const m = this.model(name);
      m.t++;
      m.version++;
      if (this.adamIn === 'main') {
        m.scratch ??= new Float32Array(m.layout.size);
        weightedAverage(m.grads, shardWeights, m.scratch);
        adamUpdate(m.weights, m.scratch, m.m, m.v, m.t, m.hp, 0, m.layout.size, m.lr);
      }
    }
    mainAdamMs = performance.now() - t1;
    const losses: Record<string, number> = {};
    const workers: PhaseTiming[] = [];
    out.forEach((r, k) => {
      if (r.type !== 'done') return;
      workers.push(r.timing);
      for (const [name, l] of Object.entries(r.losses)) losses[name] = (losses[name] ?? 0) + shardWeights[k] * l;
    });
    return { losses, wallMs: performance.now() - t0, workers, mainAdamMs };
  }

  /** setBatch + every phase in declaration order; returns the losses of each phase. */
  async step(batch: Record<string, BatchArray>): Promise<Record<string, PhaseReport>> {
    this.setBatch(batch);
    const out: Record<string, PhaseReport> = {};
    for (const phase of Object.keys(this.phases)) out[phase] = await this.runPhase(phase);
    this.stepCount++;
    return out;
  }

  /** A copy of a model's current flat weights (layout(model) order). */
  getWeights(model: string): Float32Array {
    return this.model(model).weights.slice();
  }

  /** Replaces a model's weights (e.g. from a checkpoint); workers reload them before the next phase. */
  setWeights(model: string, data: Float32Array): void {
    const m = this.model(model);
    if (data.length !== m.layout.size) throw new HarmoniaError(`DataParallelPool.setWeights: model "${model}" has ${m.layout.size} weights, got ${data.length}`);
    if (this.pending) throw new HarmoniaError('DataParallelPool.setWeights: a phase is running');
    m.weights.set(data);
    m.version++;
    fence(this.control);
  }

  /** Copies the pool's weights of `name` into a main-thread model of the same architecture. */
  copyToModel(name: string, model: tf.LayersModel): void {
    const m = this.model(name);
    this.checkArch(name, model);
    tf.tidy(() => {
      model.trainableWeights.forEach((lv, i) => {
        const e = m.layout.weights[i];
        lv.write(tf.tensor(m.weights.slice(e.offset, e.offset + e.size), e.shape));
      });
    });
  }

  /** Loads the weights of a main-thread model (same architecture) into the pool. */
  copyFromModel(name: string, model: tf.LayersModel): void {
    const m = this.model(name);
    this.checkArch(name, model);
    const flat = new Float32Array(m.layout.size);
    model.trainableWeights.forEach((lv, i) => flat.set(lv.read().dataSync() as Float32Array, m.layout.weights[i].offset));
    this.setWeights(name, flat);
  }

  private checkArch(name: string, model: tf.LayersModel): void {
    const m = this.model(name);
    const tw = model.trainableWeights;
    const ok = tw.length === m.layout.weights.length && tw.every((lv, i) => lv.shape.join(',') === m.layout.weights[i].shape.join(','));
    if (!ok) throw new HarmoniaError(`DataParallelPool: model "${model.name}" does not match the architecture of pool model "${name}"`);
  }

  /** The Adam state of a model (copies), for checkpoints. */
  getOptimizerState(model: string): OptimizerState {
    const m = this.model(model);
    return { t: m.t, m: m.m.slice(), v: m.v.slice() };
  }

  /** Restores the Adam state of a model (from getOptimizerState). */
  setOptimizerState(model: string, s: OptimizerState): void {
    const m = this.model(model);
    if (s.m.length !== m.layout.size || s.v.length !== m.layout.size) throw new HarmoniaError(`DataParallelPool.setOptimizerState: model "${model}" needs moments of length ${m.layout.size}`);
    if (!(Number.isInteger(s.t) && s.t >= 0)) throw new HarmoniaError(`DataParallelPool.setOptimizerState: t must be an integer >= 0, got ${s.t}`);
    m.m.set(s.m);
    m.v.set(s.v);
    m.t = s.t;
    fence(this.control);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
