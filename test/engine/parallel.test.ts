import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { DataParallelPool, adamUpdate, weightedAverage, resolveAdam, layoutOf } from '../../src/engine/parallel/index.ts';
import type { BatchArray } from '../../src/engine/parallel/index.ts';
// The trainer's GAN step module (the one the pool runs in training), also run in this process as the reference.
import * as ganStep from '../../src/train/step-module.ts';
import { GAN_STEP_MODULE, paperGanOptions } from '../../src/train/step-module.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { Rng } from '../../src/util/random.ts';

// The project's wasm kernels make conv training fast enough for a test (the stock cpu backend's
// Conv2DBackpropFilter takes seconds per call); the reference runs on the same backend as the workers.
const BACKEND = 'wasm' as const;
before(async () => {
  await initEngine({ backend: BACKEND });
});

function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next();
  return a;
}

function makeBatch(n: number, size: number, seed: number): Record<string, BatchArray> {
  const rng = new Rng(seed);
  const shape = [n, size, size, 3];
  const mask = new Float32Array(n * size * size).map(() => (rng.next() < 0.3 ? 1 : 0));
  return { input: { data: randomArray(n * size * size * 3, rng), shape }, real: { data: randomArray(n * size * size * 3, rng), shape }, mask: { data: mask, shape: [n, size, size, 1] } };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function fractionAbove(a: Float32Array, b: Float32Array, tol: number): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol) k++;
  return k / a.length;
}

function flatWeights(model: tf.LayersModel): Float32Array {
  const l = layoutOf('m', model);
  const out = new Float32Array(l.size);
  model.trainableWeights.forEach((w, i) => out.set(w.read().dataSync() as Float32Array, l.weights[i].offset));
  return out;
}

/** Single process, full batch, tf.train.adam: the reference the pool must reproduce. */
// Paper architecture at a quarter of the width (base 8) keeps the test fast; the maths is the same.
const OPTIONS = paperGanOptions({ generator: { base: 8 }, discriminator: { base: 8 } });

async function referenceRun(batches: Record<string, BatchArray>[]): Promise<{ G: Float32Array; D: Float32Array; G0: Float32Array; D0: Float32Array; losses: Record<string, number>[] }> {
  const models = await ganStep.createModels(OPTIONS);
  const G0 = flatWeights(models.G), D0 = flatWeights(models.D);
  // ε 1e-8: the project's Adam (engine/parallel/adam.ts); tf.train.adam's own default is 1e-7
  const optG = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const optD = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const state = new Map<string, unknown>();
  const losses: Record<string, number>[] = [];
  batches.forEach((b, step) => {
    const batch = { input: tf.tensor(b.input.data, b.input.shape), real: tf.tensor(b.real.data, b.real.shape), mask: tf.tensor(b.mask.data, b.mask.shape) };
    const ctx = { models, batch, shardSize: b.input.shape[0], state, options: OPTIONS, step, worker: 0, workers: 1 };
    const rec: Record<string, number> = {};
    for (const [phase, opt] of [['G', optG], ['D', optD]] as const) {
      const r = ganStep.runPhase(phase, ctx);
      const vars = models[phase].trainableWeights.map((w) => w.read() as tf.Variable);
      const grads = r.grads[phase] as tf.Tensor[];
      opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
      for (const [k, v] of Object.entries(r.losses)) rec[k] = typeof v === 'number' ? v : v.dataSync()[0];
      tf.dispose([...grads, ...Object.values(r.losses).filter((v): v is tf.Scalar => typeof v !== 'number')]);
    }
    losses.push(rec);
    tf.dispose(Object.values(batch));
  });
  const out = { G: flatWeights(models.G), D: flatWeights(models.D), G0, D0, losses };
  optG.dispose();
  optD.dispose();
  models.G.dispose();
  models.D.dispose();
  return out;
}

// Batch 4 then batch 3 (uneven shards 1 + 2: checks the shard-size weighting), 32x32.
const batches = [makeBatch(4, 32, 1), makeBatch(3, 32, 2), makeBatch(4, 32, 3)];
let reference: Awaited<ReturnType<typeof referenceRun>>;
before(async () => {
  reference = await referenceRun(batches);
});

test('Adam on flat arrays matches tf.train.adam over 5 steps', () => {
  const rng = new Rng(7);
  const n = 1000;
  const w0 = new Float32Array(n).map(() => rng.normal() * 0.1);
  const grads = Array.from({ length: 5 }, () => new Float32Array(n).map(() => rng.normal() * (rng.next() < 0.1 ? 1e-3 : 1)));
  const hp = resolveAdam({ lr: 1e-3, beta1: 0.5, beta2: 0.999 });
  const w = w0.slice(), m = new Float32Array(n), v = new Float32Array(n);
  const tv = tf.variable(tf.tensor1d(w0), true, 'adamtest_w');
  const opt = tf.train.adam(1e-3, 0.5, 0.999, 1e-8);
  grads.forEach((g, i) => {
    // two halves, as two workers would do
    adamUpdate(w, g, m, v, i + 1, hp, 0, 400);
    adamUpdate(w, g, m, v, i + 1, hp, 400, n);
    const gt = tf.tensor1d(g);
    opt.applyGradients([{ name: 'adamtest_w', tensor: gt }]);
    gt.dispose();
  });
  const diff = maxAbsDiff(w, tv.dataSync() as Float32Array);
  const moved = maxAbsDiff(w, w0);
  assert.ok(moved > 4e-3, `weights moved ${moved}`);
  assert.ok(diff < 1e-7, `max |w_js - w_tf| = ${diff}`);
  tv.dispose();
  opt.dispose();
});

test('weightedAverage weights gradients by shard size', () => {
  const out = new Float32Array(3);
  weightedAverage([new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6])], [1 / 3, 2 / 3], out);
  assert.deepEqual(Array.from(out).map((x) => Math.round(x * 1e6) / 1e6), [3, 4, 5]);
});

for (const [workers, adamIn] of [[2, 'workers'], [2, 'main'], [1, 'workers']] as const) {
  test(`${workers} worker(s) (Adam in ${adamIn}) reproduce the single-process full-batch GAN steps within 1e-5`, async (t) => {
    const pool = await DataParallelPool.create({ module: GAN_STEP_MODULE, workers, backend: BACKEND, adamIn, options: OPTIONS });
    try {
      assert.deepEqual(pool.modelNames, ['G', 'D']);
      assert.deepEqual(Object.keys(pool.phases), ['G', 'D']);
      assert.equal(pool.layout('G').size, reference.G0.length);
      assert.equal(pool.layout('D').size, reference.D0.length);
      // initial weights are the seeded ones
      assert.equal(maxAbsDiff(pool.getWeights('G'), reference.G0), 0);
      assert.equal(maxAbsDiff(pool.getWeights('D'), reference.D0), 0);
      for (let s = 0; s < batches.length; s++) {
        const r = await pool.step(batches[s]);
        for (const [k, v] of Object.entries(reference.losses[s])) {
          const got = r.G.losses[k] ?? r.D.losses[k];
          assert.ok(Math.abs(got - v) <= 1e-5 * Math.max(1, Math.abs(v)), `step ${s} ${k}: pool ${got} vs reference ${v}`);
        }
        assert.equal(r.G.workers.length, workers);
      }
      const dG = maxAbsDiff(pool.getWeights('G'), reference.G);
      const dD = maxAbsDiff(pool.getWeights('D'), reference.D);
      const movedG = maxAbsDiff(reference.G, reference.G0);
      assert.ok(movedG > 3e-4, `G moved ${movedG}`);
      // Gradients agree to float32 rounding; Adam in JS (float64 arithmetic, stored as float32) vs
      // tf.train.adam (float32 ops) differs most where |g| is tiny and m/sqrt(v) is ill-conditioned.
      // Max tolerance 1e-5 (an Adam step here is at most lr = 2e-4); 99.9% of weights within 1e-7.
      const fG = fractionAbove(pool.getWeights('G'), reference.G, 1e-7);
      const fD = fractionAbove(pool.getWeights('D'), reference.D, 1e-7);
      const msg = `max |pool - reference|: G ${dG}, D ${dD}; share > 1e-7: G ${fG}, D ${fD} (G moved ${movedG})`;
      t.diagnostic(msg);
      assert.ok(dG < 1e-5 && dD < 1e-5, msg);
      assert.ok(fG < 1e-3 && fD < 1e-3, msg);
      const st = pool.getOptimizerState('G');
      assert.equal(st.t, 3);
    } finally {
      await pool.close();
    }
  });
}

test('weights and optimiser state round-trip through the pool; copyToModel fills a main-thread model', async () => {
  const pool = await DataParallelPool.create({ module: GAN_STEP_MODULE, workers: 2, backend: BACKEND, options: OPTIONS });
  try {
    await pool.step(batches[0]);
    const w = pool.getWeights('G');
    const opt = pool.getOptimizerState('G');
    const g = (await ganStep.createModels(OPTIONS)).G;
    pool.copyToModel('G', g);
    assert.equal(maxAbsDiff(flatWeights(g), w), 0);
    // restore a checkpoint into a fresh pool: the next step matches exactly
    const pool2 = await DataParallelPool.create({ module: GAN_STEP_MODULE, workers: 2, backend: BACKEND, options: OPTIONS });
    try {
      pool2.copyFromModel('G', g);
      pool2.setWeights('D', pool.getWeights('D'));
      pool2.setOptimizerState('G', opt);
      pool2.setOptimizerState('D', pool.getOptimizerState('D'));
      const a = await pool.step(batches[1]);
      const b = await pool2.step(batches[1]);
      assert.equal(a.G.losses.g, b.G.losses.g);
      assert.equal(maxAbsDiff(pool.getWeights('G'), pool2.getWeights('G')), 0);
      assert.equal(maxAbsDiff(pool.getWeights('D'), pool2.getWeights('D')), 0);
    } finally {
      await pool2.close();
    }
    assert.throws(() => pool.setWeights('G', new Float32Array(3)), /weights, got 3/);
    assert.throws(() => pool.setBatch({ input: { data: new Float32Array(5), shape: [1, 2, 2, 1] } }), /needs 4/);
    await assert.rejects(pool.runPhase('X'), /unknown phase "X"/);
  } finally {
    await pool.close();
  }
});

test('mask batches are sharded too: residual G + mask-input D give the full-batch losses', async () => {
  const options = paperGanOptions({ generator: { base: 4, residual: true }, discriminator: { base: 4, maskInput: true }, loss: { setting: 'mask' } });
  const batch = makeBatch(4, 24, 9);
  const models = await ganStep.createModels(options);
  const tensors = { input: tf.tensor(batch.input.data, batch.input.shape), real: tf.tensor(batch.real.data, batch.real.shape), mask: tf.tensor(batch.mask.data, batch.mask.shape) };
  const r = ganStep.runPhase('G', { models, batch: tensors, shardSize: 4, state: new Map(), options, step: 0, worker: 0, workers: 1 });
  const want = (r.losses.g as tf.Scalar).dataSync()[0];
  tf.dispose([...(r.grads.G as tf.Tensor[]), ...Object.values(r.losses).filter((v): v is tf.Scalar => typeof v !== 'number'), ...Object.values(tensors)]);
  const pool = await DataParallelPool.create({ module: GAN_STEP_MODULE, workers: 2, backend: BACKEND, options });
  try {
    const got = await pool.step(batch);
    assert.ok(Math.abs(got.G.losses.g - want) < 1e-5 * Math.max(1, want), `pool ${got.G.losses.g} vs full batch ${want}`);
    assert.ok(Number.isFinite(got.D.losses.d));
  } finally {
    await pool.close();
  }
});

test('a failing step module is reported as a HarmoniaError naming the worker; the pool then refuses work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-dp-'));
  const bad = join(dir, 'badStart.mjs');
  writeFileSync(bad, "export const phases = { A: ['M'] };\nexport function createModels() { throw new Error('boom at start'); }\nexport function runPhase() {}\n");
  await assert.rejects(DataParallelPool.create({ module: bad, workers: 2, backend: BACKEND }), (e: unknown) => e instanceof HarmoniaError && /boom at start/.test((e as Error).message));
  const genUrl = new URL('../../src/models/generator.ts', import.meta.url).href;
  const failing = join(dir, 'failPhase.mjs');
  writeFileSync(failing, `import { buildGenerator } from ${JSON.stringify(genUrl)};
export const phases = { A: ['M'] };
export function createModels() { return { M: buildGenerator({ base: 2 }) }; }
export function runPhase(phase, ctx) { if (ctx.worker === 1) throw new Error('phase exploded'); return { grads: { M: [] }, losses: {} }; }
`);
  const pool = await DataParallelPool.create({ module: failing, workers: 2, backend: BACKEND });
  try {
    pool.setBatch({ x: { data: new Float32Array(4), shape: [4, 1] } });
    // worker 0 returns no gradients (its own error), worker 1 throws: both are real failures
    await assert.rejects(pool.runPhase('A'), (e: unknown) => e instanceof HarmoniaError && /worker \d failed: .*(phase exploded|no gradient)/.test((e as Error).message));
    await assert.rejects(pool.runPhase('A'), /unusable after a worker failure/);
  } finally {
    await pool.close();
  }
});

