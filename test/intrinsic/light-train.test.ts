import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { lightTrainingRows, trainLightNet, LIGHT_ROW } from '../../src/intrinsic/light-train.ts';

before(async () => {
  await initEngine({ backend: 'cpu', quiet: true });
});

const COUNT = 12;
let rows: Float32Array;
before(() => {
  rows = new Float32Array(COUNT * 2 * LIGHT_ROW);
  for (let i = 0; i < COUNT; i++) rows.set(lightTrainingRows(3_000_000 + i, 128), i * 2 * LIGHT_ROW);
});

test('trainLightNet: the loss falls, runs are deterministic, the folded model agrees with the TypeScript forward pass', async () => {
  const before0 = tf.memory().numTensors;
  const losses: number[] = [];
  const run = () => trainLightNet(rows, COUNT, { seed: 5, epochs: 40, hidden: [16], lr: 3e-3, batchSize: 8, valFraction: 0.25, onProgress: (p) => losses.push(p.loss) });
  const a = await run();
  const firstRun = losses.splice(0);
  const b = await run();
  assert.equal(a.trainScenes, 9);
  assert.equal(a.valScenes, 3);
  assert.ok(firstRun[firstRun.length - 1] < firstRun[0] * 0.8, `loss ${firstRun[0]} → ${firstRun[firstRun.length - 1]}`);
  const wa = a.model.getWeights().map((w) => Array.from(w.dataSync()));
  const wb = b.model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(wa, wb, 'same seed, same weights');
  assert.equal(a.bestEpoch, b.bestEpoch);
  assert.ok(Math.abs(a.valMedianDeg - a.tsValMedianDeg) < 0.1, `tf ${a.valMedianDeg}° vs ts ${a.tsValMedianDeg}°`);
  a.model.dispose();
  b.model.dispose();
  assert.equal(tf.memory().numTensors, before0);
});

test('trainLightNet refuses rows that do not match the scene count', async () => {
  await assert.rejects(trainLightNet(rows.subarray(1), COUNT, { seed: 1, epochs: 1 }), /values for 12 scenes/);
});
