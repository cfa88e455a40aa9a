/**
 * Data-parallel worker (one per core): its own TensorFlow.js engine, the step module's models,
 * gradients for its shard of each batch. Started by pool.ts; see contract.ts for the protocol.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { tf } from '../tf.ts';
import { initEngine } from '../index.ts';
import { layoutOf } from './contract.ts';
import type { ModelLayout, PhaseContext, StepModule } from './contract.ts';
import type { FromWorker, SharedModel, ToWorker, WorkerInit } from './protocol.ts';
import { barrier, fence, signalAbort, WorkerAborted } from './barrier.ts';
import { adamUpdate, weightedAverage } from './adam.ts';

if (!parentPort) throw new Error('engine/parallel/worker.ts must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const ctl = new Int32Array(init.control);

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

interface LocalModel {
  model: tf.LayersModel;
  layout: ModelLayout;
  version: number;
  shared?: { weights: Float32Array; m: Float32Array; v: Float32Array; grads: Float32Array[] };
  scratch?: Float32Array;
}

async function main(): Promise<void> {
  const engine = await initEngine({ backend: init.backend });
  const mod = (await import(init.moduleUrl)) as Partial<StepModule>;
  if (typeof mod.createModels !== 'function' || typeof mod.runPhase !== 'function' || typeof mod.phases !== 'object' || mod.phases === null) {
    throw new Error(`step module ${init.moduleUrl} must export phases, createModels() and runPhase()`);
  }
  const step = mod as StepModule;
  const built = await step.createModels(init.options);
  const models = new Map<string, LocalModel>();
  for (const [name, model] of Object.entries(built)) {
    if (model.nonTrainableWeights.length > 0) {
      throw new Error(`model "${name}" has non-trainable weights (${model.nonTrainableWeights.map((w) => w.name).join(', ')}); the data-parallel pool only synchronises trainable weights`);
    }
    models.set(name, { model, layout: layoutOf(name, model), version: -1 });
  }
  const phases: Record<string, string[]> = {};
  for (const [p, names] of Object.entries(step.phases)) {
    for (const n of names) if (!models.has(n)) throw new Error(`phase "${p}" lists model "${n}", but createModels() returned only ${[...models.keys()].join(', ')}`);
    phases[p] = [...names];
  }
  post({ type: 'layout', layouts: [...models.values()].map((m) => m.layout), phases, engine });

  const state = new Map<string, unknown>();
  let batchVersion = -1;
  let batch: Record<string, tf.Tensor> = {};
  let shardSize = 0;

  const writeWeights = (lm: LocalModel): void => {
    const w = lm.shared!.weights;
    lm.model.trainableWeights.forEach((lv, i) => {
      const e = lm.layout.weights[i];
      w.set(lv.read().dataSync() as Float32Array, e.offset);
    });
  };
  const loadWeights = (lm: LocalModel): void => {
    const w = lm.shared!.weights;
    tf.tidy(() => {
      lm.model.trainableWeights.forEach((lv, i) => {
        const e = lm.layout.weights[i];
        lv.write(tf.tensor(w.slice(e.offset, e.offset + e.size), e.shape));
      });
    });
  };

  const handle = (msg: ToWorker): FromWorker => {
    if (msg.type === 'buffers') {
      for (const [name, sm] of Object.entries(msg.models) as [string, SharedModel][]) {
        const lm = models.get(name)!;
        lm.shared = {
          weights: new Float32Array(sm.weights),
          m: new Float32Array(sm.m),
          v: new Float32Array(sm.v),
          grads: sm.grads.map((g) => new Float32Array(g)),
        };
        if (init.index === 0) writeWeights(lm);
      }
      barrier(ctl, init.workers);
      for (const lm of models.values()) {
        loadWeights(lm);
        lm.version = 0;
      }
      return { type: 'ready' };
    }
    // phase
    const t0 = performance.now();
    fence(ctl);
    if (msg.batchVersion !== batchVersion) {
      tf.dispose(Object.values(batch));
      batch = {};
      batchVersion = msg.batchVersion;
      shardSize = -1;
      for (const [key, arr] of Object.entries(msg.batch)) {
        const n = arr.shape[0];
        const row = arr.shape.slice(1).reduce((a, b) => a * b, 1);
        const begin = Math.floor((init.index * n) / init.workers);
        const end = Math.floor(((init.index + 1) * n) / init.workers);
        if (shardSize === -1) shardSize = end - begin;
        const view = new Float32Array(arr.buffer, begin * row * 4, (end - begin) * row);
        batch[key] = tf.tensor(view.slice(), [end - begin, ...arr.shape.slice(1)]);
      }
      if (shardSize < 0) shardSize = 0;
    }
    for (const [name, version] of Object.entries(msg.versions)) {
      const lm = models.get(name)!;
      if (lm.version !== version) {
        loadWeights(lm);
        lm.version = version;
      }
    }
    const t1 = performance.now();
    const targets = phases[msg.phase];
    if (!targets) throw new Error(`unknown phase "${msg.phase}" (module has ${Object.keys(phases).join(', ')})`);
    const losses: Record<string, number> = {};
    if (shardSize > 0) {
      const ctx: PhaseContext = {
        models: Object.fromEntries([...models].map(([k, v]) => [k, v.model])),
        batch, shardSize, state, options: init.options, step: msg.step, worker: init.index, workers: init.workers,
      };
      const res = step.runPhase(msg.phase, ctx);
      try {
        for (const name of targets) {
          const lm = models.get(name)!;
          const g = res.grads[name];
          if (!g) throw new Error(`phase "${msg.phase}" returned no gradients for model "${name}"`);
          const out = lm.shared!.grads[init.index];
          lm.model.trainableWeights.forEach((lv, i) => {
            const e = lm.layout.weights[i];
            const t = Array.isArray(g) ? g[i] : g[lv.name];
            if (!t) throw new Error(`phase "${msg.phase}": no gradient for weight "${lv.name}" of model "${name}"`);
            if (t.size !== e.size) throw new Error(`phase "${msg.phase}": gradient for "${e.name}" has ${t.size} values, expected ${e.size}`);
            out.set(t.dataSync() as Float32Array, e.offset);
          });
        }
        for (const [k, l] of Object.entries(res.losses)) losses[k] = typeof l === 'number' ? l : l.dataSync()[0];
      } finally {
        for (const g of Object.values(res.grads)) tf.dispose(Array.isArray(g) ? g : Object.values(g));
        for (const l of Object.values(res.losses)) if (typeof l !== 'number') l.dispose();
      }
    } else {
      for (const name of targets) models.get(name)!.shared!.grads[init.index].fill(0);
    }
    const t2 = performance.now();
    let waitMs = 0;
    let adamMs = 0;
    if (msg.adam) {
      barrier(ctl, init.workers);
      const t3 = performance.now();
      for (const [name, a] of Object.entries(msg.adam)) {
        const lm = models.get(name)!;
        const sh = lm.shared!;
        const n = lm.layout.size;
        const begin = Math.floor((init.index * n) / init.workers);
        const end = Math.floor(((init.index + 1) * n) / init.workers);
        lm.scratch ??= new Float32Array(n);
        weightedAverage(sh.grads, msg.shardWeights, lm.scratch, begin, end);
        adamUpdate(sh.weights, lm.scratch, sh.m, sh.v, a.t, a.hp, begin, end, a.lr);
      }
      // No second barrier: the main thread sends the next phase (whose weight loads read every
      // worker's slice) only after all workers have reported 'done'.
      waitMs = t3 - t2;
      adamMs = performance.now() - t3;
    }
    fence(ctl);
    return { type: 'done', losses, timing: { loadMs: t1 - t0, computeMs: t2 - t1, waitMs, adamMs } };
  };

  port.on('message', (msg: ToWorker) => {
    try {
      post(handle(msg));
    } catch (err) {
      const aborted = err instanceof WorkerAborted;
      if (!aborted) signalAbort(ctl, init.index);
      const e = err as Error;
      post({ type: 'error', message: e?.message ?? String(err), stack: e?.stack, aborted });
    }
  });
}

main().catch((err: unknown) => {
  signalAbort(ctl, init.index);
  const e = err as Error;
  post({ type: 'error', message: e?.message ?? String(err), stack: e?.stack, aborted: false });
});
