/**
 * Loss trajectories of a small conditional GAN trained on wasm (with the project's kernels) and on
 * cpu from identical initial weights and data agree within 1e-4 relative per step, and so do the
 * final weights. G: conv 3→8→16 (4×4, stride 2, ReLU) then convT 16→8→3 (4×4, stride 2; ReLU, sigmoid).
 * D: conv 3→8→16→16 (4×4, stride 2, leakyReLU 0.2), global average pool, dense → logit.
 * G loss = BCE(D(G(x)), 1) + 100·L1(G(x), y); D loss = ½(BCE(D(y), 1) + BCE(D(G(x)), 0));
 * Adam(lr 2e-4, β1 0.5, β2 0.999), one G then one D update per step, 5 steps on one fixed batch of 2 at 16×16.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.ts';
import { Rng } from '../../src/util/random.ts';
import { backendDataIds, useBackend } from './gradcheck.ts';

const STEPS = 5;
const REL_TOL = 1e-4;

interface Spec { name: string; shape: number[] }
const G_SPECS: Spec[] = [
  { name: 'g1w', shape: [4, 4, 3, 8] }, { name: 'g1b', shape: [8] },
  { name: 'g2w', shape: [4, 4, 8, 16] }, { name: 'g2b', shape: [16] },
  { name: 'g3w', shape: [4, 4, 8, 16] }, { name: 'g3b', shape: [8] }, // convT filters are [kh, kw, out, in]
  { name: 'g4w', shape: [4, 4, 3, 8] }, { name: 'g4b', shape: [3] },
];
const D_SPECS: Spec[] = [
  { name: 'd1w', shape: [4, 4, 3, 8] }, { name: 'd1b', shape: [8] },
  { name: 'd2w', shape: [4, 4, 8, 16] }, { name: 'd2b', shape: [16] },
  { name: 'd3w', shape: [4, 4, 16, 16] }, { name: 'd3b', shape: [16] },
  { name: 'dw', shape: [16, 1] }, { name: 'db', shape: [1] },
];

/** Glorot-uniform weights and small biases from a seeded Rng: identical arrays for both backends. */
function initialWeights(specs: Spec[], seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const fan = s.shape.length === 4 ? s.shape[0] * s.shape[1] * (s.shape[2] + s.shape[3]) : s.shape.length === 2 ? s.shape[0] + s.shape[1] : 0;
    const lim = fan ? Math.sqrt(6 / fan) : 0.05;
    out.set(s.name, Float32Array.from({ length: n }, () => rng.uniform(-lim, lim)));
  }
  return out;
}

function batch(seed: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  const n = 2 * 16 * 16 * 3;
  const y = Float32Array.from({ length: n }, () => rng.next());
  // The "composite": a colour-shifted, contrast-reduced copy of the target.
  const x = y.map((v, i) => Math.min(1, Math.max(0, 0.7 * v + 0.15 + (i % 3 === 0 ? 0.1 : -0.05))));
  return { x, y };
}

interface Run { g: number[]; d: number[]; weights: Float32Array[] }

async function train(backend: 'wasm' | 'cpu'): Promise<Run> {
  await useBackend(backend);
  const gInit = initialWeights(G_SPECS, 1), dInit = initialWeights(D_SPECS, 2);
  const vars = new Map<string, tf.Variable>();
  for (const s of [...G_SPECS, ...D_SPECS]) {
    const init = (s.name.startsWith('g') ? gInit : dInit).get(s.name) as Float32Array;
    const t = tf.tensor(init, s.shape);
    vars.set(s.name, tf.variable(t, true, `${backend}_${s.name}`));
    t.dispose();
  }
  const v = (name: string): tf.Tensor => vars.get(name) as tf.Variable;
  const conv = (x: tf.Tensor4D, w: string, b: string, act: 'relu' | 'leakyrelu'): tf.Tensor4D =>
    tf.fused.conv2d({ x, filter: v(w) as tf.Tensor4D, bias: v(b), strides: 2, pad: 'same', activation: act, leakyreluAlpha: 0.2 });
  const G = (x: tf.Tensor4D): tf.Tensor4D => {
    const [n, h, w] = x.shape;
    const e1 = conv(x, 'g1w', 'g1b', 'relu');
    const e2 = conv(e1, 'g2w', 'g2b', 'relu');
    const u1 = tf.relu(tf.add(tf.conv2dTranspose(e2, v('g3w') as tf.Tensor4D, [n, h / 2, w / 2, 8], 2, 'same'), v('g3b'))) as tf.Tensor4D;
    return tf.sigmoid(tf.add(tf.conv2dTranspose(u1, v('g4w') as tf.Tensor4D, [n, h, w, 3], 2, 'same'), v('g4b'))) as tf.Tensor4D;
  };
  const D = (x: tf.Tensor4D): tf.Tensor2D => {
    const h = conv(conv(conv(x, 'd1w', 'd1b', 'leakyrelu'), 'd2w', 'd2b', 'leakyrelu'), 'd3w', 'd3b', 'leakyrelu');
    return tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, v('dw') as tf.Tensor2D), v('db')) as tf.Tensor2D;
  };
  const gVars = G_SPECS.map((s) => vars.get(s.name) as tf.Variable);
  const dVars = D_SPECS.map((s) => vars.get(s.name) as tf.Variable);
  const optG = tf.train.adam(2e-4, 0.5, 0.999), optD = tf.train.adam(2e-4, 0.5, 0.999);
  const run: Run = { g: [], d: [], weights: [] };
  for (let step = 0; step < STEPS; step++) {
    const data = batch(100); // one fixed batch: the generator loss must fall
    const x = tf.tensor4d(data.x, [2, 16, 16, 3]), y = tf.tensor4d(data.y, [2, 16, 16, 3]);
    const ones = tf.ones([2, 1]), zeros = tf.zeros([2, 1]);
    const gl = optG.minimize(() => {
      const fake = G(x);
      return tf.add(tf.losses.sigmoidCrossEntropy(ones, D(fake)), tf.mul(100, tf.mean(tf.abs(tf.sub(fake, y))))) as tf.Scalar;
    }, true, gVars) as tf.Scalar;
    const fake = tf.tidy(() => G(x));
    const dl = optD.minimize(() => tf.mul(0.5, tf.add(
      tf.losses.sigmoidCrossEntropy(ones, D(y)), tf.losses.sigmoidCrossEntropy(zeros, D(fake)))) as tf.Scalar, true, dVars) as tf.Scalar;
    run.g.push(gl.dataSync()[0]);
    run.d.push(dl.dataSync()[0]);
    tf.dispose([x, y, ones, zeros, gl, dl, fake]);
  }
  run.weights = [...gVars, ...dVars].map((t) => t.dataSync() as Float32Array);
  optG.dispose();
  optD.dispose();
  tf.dispose([...vars.values()]);
  return run;
}

test('GAN loss trajectory: wasm equals cpu within 1e-4 relative over 5 Adam steps', async (t) => {
  const cpu = await train('cpu');
  await useBackend('wasm');
  const ids0 = backendDataIds();
  const wasm = await train('wasm');
  assert.equal(backendDataIds(), ids0, 'wasm heap tensors leaked during training');
  let worstLoss = 0;
  for (let s = 0; s < STEPS; s++) {
    for (const [name, a, b] of [['G', wasm.g[s], cpu.g[s]], ['D', wasm.d[s], cpu.d[s]]] as const) {
      assert.ok(Number.isFinite(a), `${name} loss step ${s} is finite`);
      const rel = Math.abs(a - b) / Math.abs(b);
      worstLoss = Math.max(worstLoss, rel);
      assert.ok(rel <= REL_TOL, `${name} loss step ${s}: wasm ${a} vs cpu ${b} (rel ${rel.toExponential(2)})`);
    }
  }
  // Training moved the weights, identically on both backends.
  const w0 = [...initialWeights(G_SPECS, 1).values(), ...initialWeights(D_SPECS, 2).values()];
  let moved = 0, worst = 0;
  wasm.weights.forEach((w, k) => {
    let ref = 0;
    for (let i = 0; i < w.length; i++) {
      moved = Math.max(moved, Math.abs(w[i] - w0[k][i]));
      ref = Math.max(ref, Math.abs(cpu.weights[k][i]));
    }
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - cpu.weights[k][i]) / ref);
  });
  t.diagnostic(`G loss ${wasm.g.map((v) => v.toFixed(5)).join(' → ')}; D loss ${wasm.d.map((v) => v.toFixed(5)).join(' → ')}`);
  t.diagnostic(`max rel diff wasm vs cpu: losses ${worstLoss.toExponential(2)}, final weights ${worst.toExponential(2)}`);
  assert.ok(moved > 5e-4, `weights moved by ${moved}`);
  assert.ok(worst <= REL_TOL, `final weights wasm vs cpu: rel ${worst.toExponential(2)}`);
  // The L1-dominated generator loss falls over the 5 steps.
  assert.ok(wasm.g[STEPS - 1] < wasm.g[0], `G loss fell: ${wasm.g.map((v) => v.toFixed(4)).join(' → ')}`);
});
