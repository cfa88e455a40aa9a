import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/index.ts';
import { tf } from '../../src/engine/tf.ts';
import { train } from '../../src/train/trainer.ts';
import { memorySource, makeBatch } from '../../src/data/memory.ts';
import { DEFAULT_TRAIN, mergeTrainConfig } from '../../src/train/config.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { loadModel } from '../../src/models/index.ts';
import { readImage } from '../../src/image/io.ts';
import { JsonlLog, stepRecords } from '../../src/train/log.ts';
import { syntheticSamples } from './synthetic.ts';

await initEngine({ backend: 'cpu' });

const SIZE = 16;
const samples = syntheticSamples(8, SIZE);
const cfg = mergeTrainConfig(DEFAULT_TRAIN, {
  generator: { base: 4 }, discriminator: { base: 4 }, epochs: 2, batchSize: 2, size: SIZE, crop: SIZE,
  checkpointEvery: 3, seed: 3, optimizer: { lr: 2e-3 }, loss: { setting: 'mask', lambdaMask: 50, lambdaUnmask: 100 },
});
const source = () => memorySource(samples, { height: SIZE, width: SIZE, batchSize: 2, seed: cfg.seed, flip: true });
const root = mkdtempSync(join(tmpdir(), 'harmonia-trainer-'));

test('trains, logs every step, checkpoints, writes sample grids, loss curves and a loadable generator', async () => {
  const dir = join(root, 'a');
  const r = await train({ config: cfg, runDir: dir, data: source(), samples: makeBatch(samples.slice(0, 2), SIZE, SIZE), quiet: true });
  assert.equal(r.status, 'done');
  assert.equal(r.steps, 8);
  const steps = stepRecords(new JsonlLog(join(dir, 'log.jsonl')).read());
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const s of steps) {
    for (const k of ['g', 'adv', 'l1_fg', 'l1_bg', 'd', 'd_real', 'd_fake']) assert.ok(Number.isFinite(s.losses[k]), `${k} logged`);
    assert.ok(Math.abs(s.losses.g - (s.losses.adv + s.losses.l1_fg + s.losses.l1_bg)) < 1e-4);
  }
  assert.deepEqual(readdirSync(join(dir, 'samples')).sort(), ['epoch-001.png', 'epoch-002.png']);
  const grid = await readImage(join(dir, 'samples', 'epoch-001.png'));
  assert.equal(grid.width, 3 * SIZE + 4 * 2);
  assert.equal(grid.height, 2 * SIZE + 3 * 2);
  assert.ok(existsSync(join(dir, 'losses.html')));
  const ck = await loadCheckpoint(join(dir, 'checkpoint'));
  assert.equal(ck.state.step, 8);
  assert.equal(ck.state.epoch, 2);
  assert.equal(ck.adam.G.t, 8);
  // the saved generator (TF.js format) reproduces the trained one
  const g = await loadModel(join(dir, 'generator'));
  const x = tf.randomUniform([1, SIZE, SIZE, 3], 0, 1, 'float32', 1);
  const a = (r.generator.predict(x) as tf.Tensor).dataSync(), b = (g.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(a), Array.from(b));
  r.generator.dispose(); g.dispose(); x.dispose();
  // it learns: the content part of L_G over epoch 2 (the same 8 images) is below epoch 1's
  const content = (e: number) => steps.filter((s) => s.epoch === e).reduce((a, s) => a + s.losses.l1_fg + s.losses.l1_bg, 0);
  assert.ok(content(1) < content(0), `content loss epoch 1 ${content(0)} → epoch 2 ${content(1)}`);
});

test('stopping and resuming gives bit-identical weights and optimizer state', async () => {
  const full = join(root, 'full'), part = join(root, 'part');
  const r1 = await train({ config: cfg, runDir: full, data: source(), quiet: true });
  r1.generator.dispose();
  const r2 = await train({ config: cfg, runDir: part, data: source(), quiet: true, maxSteps: 5 });
  assert.equal(r2.status, 'stopped');
  r2.generator.dispose();
  await assert.rejects(train({ config: cfg, runDir: part, data: source(), quiet: true }), /already has a checkpoint/);
  const r3 = await train({ config: cfg, runDir: part, data: source(), quiet: true, resume: true });
  assert.equal(r3.status, 'done');
  r3.generator.dispose();
  const a = await loadCheckpoint(join(full, 'checkpoint')), b = await loadCheckpoint(join(part, 'checkpoint'));
  for (const net of ['G', 'D'] as const) {
    a.weights[net].forEach((w, i) => assert.deepEqual(Buffer.from(w.buffer), Buffer.from(b.weights[net][i].buffer), `${net} weight ${i}`));
    a.adam[net].m.forEach((m, i) => assert.deepEqual(Buffer.from(m.buffer), Buffer.from(b.adam[net].m[i].buffer)));
    a.adam[net].v.forEach((v, i) => assert.deepEqual(Buffer.from(v.buffer), Buffer.from(b.adam[net].v[i].buffer)));
  }
  // the resumed log holds each step exactly once
  const steps = stepRecords(new JsonlLog(join(part, 'log.jsonl')).read()).map((s) => s.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  const la = stepRecords(new JsonlLog(join(full, 'log.jsonl')).read()), lb = stepRecords(new JsonlLog(join(part, 'log.jsonl')).read());
  assert.deepEqual(la.map((s) => s.losses), lb.map((s) => s.losses));
});

test('a non-finite loss stops training without applying the update and keeps the last good checkpoint', async () => {
  const dir = join(root, 'nan');
  const bad = samples.map((s, i) => (i === 5 ? { ...s, input: new Float32Array(s.input.length).fill(NaN) } : s));
  const data = memorySource(bad, { height: SIZE, width: SIZE, batchSize: 2, seed: cfg.seed, flip: false });
  const r = await train({ config: cfg, runDir: dir, data, quiet: true });
  r.generator.dispose();
  assert.equal(r.status, 'nonfinite');
  assert.match(r.message, /non-finite G loss/);
  const ck = await loadCheckpoint(join(dir, 'checkpoint'));
  for (const net of ['G', 'D'] as const) for (const w of ck.weights[net]) assert.ok(w.every(Number.isFinite));
  assert.ok(ck.state.step < r.steps + 1);
  const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
  assert.match(log, /"event":"nonfinite"/);
  assert.ok(!existsSync(join(dir, 'generator')), 'no final generator from a failed run');
});

test('2 data-parallel workers train like 1 process (same data, same seed; float32 averaging tolerance)', async () => {
  const one = join(root, 'w1'), two = join(root, 'w2');
  const c1 = { ...cfg, epochs: 1 };
  const r1 = await train({ config: c1, runDir: one, data: source(), quiet: true });
  r1.generator.dispose();
  const r2 = await train({ config: { ...c1, workers: 2 }, runDir: two, data: source(), quiet: true });
  r2.generator.dispose();
  assert.equal(r2.status, 'done');
  const a = await loadCheckpoint(join(one, 'checkpoint')), b = await loadCheckpoint(join(two, 'checkpoint'));
  assert.equal(b.adam.G.t, 4);
  let maxDiff = 0, maxAbs = 0;
  a.weights.G.forEach((w, i) => w.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - b.weights.G[i][j])); maxAbs = Math.max(maxAbs, Math.abs(v)); }));
  assert.ok(maxDiff < 1e-3 * maxAbs, `max |ΔG| ${maxDiff} vs max |G| ${maxAbs}`);
  const la = stepRecords(new JsonlLog(join(one, 'log.jsonl')).read()), lb = stepRecords(new JsonlLog(join(two, 'log.jsonl')).read());
  la.forEach((s, i) => assert.ok(Math.abs(s.losses.g - lb[i].losses.g) < 1e-3 * Math.abs(s.losses.g), `step ${i + 1} L_G ${s.losses.g} vs ${lb[i].losses.g}`));
});
