/**
 * `harmonia train-light`: trains the learned background-light estimator of the intrinsic stage
 * (src/intrinsic/light-net.ts) on procedural composites with known light and saves it in the TF.js
 * layers format (default models/light/). Training seeds start at --seed0 (default 1,000,000), far
 * from the evaluation seeds (bench: 1000.., tests: 2000..); a --val-fraction of them is held out
 * for model selection. Every scene also contributes its mirror image (x negated).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { Progress } from '../../util/progress.ts';
import { Rng } from '../../util/random.ts';
import { writeFileAtomic } from '../../image/atomic.ts';
import { initEngine } from '../../engine/index.ts';
import { tf } from '../../engine/tf.ts';
import { saveModel } from '../../models/io.ts';
import { makeProceduralComposite } from '../../data/procedural.ts';
import { resizeImage } from '../../image/resize.ts';
import {
  backgroundShading, buildLightNet, foldStandardization, lightFeatures, lightModelFromLayers, lightTargets, mirrorHorizontal,
  runLightModel, angleBetweenDeg, LIGHT_FEATURE_COUNT, LIGHT_NET_OUTPUTS, LIGHT_NET_INPUT_SIDE,
} from '../../intrinsic/index.ts';

function intArg(v: unknown, name: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new HarmoniaError(`--${name} must be an integer ≥ ${min}, got "${String(v)}"`);
  return n;
}

const ROW = LIGHT_FEATURE_COUNT + LIGHT_NET_OUTPUTS;

/**
 * Feature rows (features then targets) of one procedural composite rendered at `renderSize` and
 * analysed, as at inference, on a copy of long side LIGHT_NET_INPUT_SIDE; plus its mirror image.
 */
export function lightTrainingRows(seed: number, renderSize: number): Float32Array {
  const pc = makeProceduralComposite({ seed, width: renderSize, height: renderSize });
  const bg = backgroundShading(pc.composite, pc.mask, { analysisMaxSide: LIGHT_NET_INPUT_SIDE });
  const { width: w, height: h } = bg;
  const trueS = w === renderSize && h === renderSize
    ? pc.scene.shading.data
    : resizeImage(pc.scene.shading, w, h, 'bilinear').data;
  const l = pc.scene.light;
  // scale between the decomposed and the true shading over the valid background (median log ratio)
  const ratios: number[] = [];
  for (let i = 0; i < w * h; i++) if (bg.valid[i]) ratios.push(Math.log(bg.shading[i] / trueS[i]));
  ratios.sort((a, b) => a - b);
  const k = ratios.length ? Math.exp(ratios[ratios.length >> 1]) : 1;
  const out = new Float32Array(2 * ROW);
  const views: Array<[Float32Array, Uint8Array, number]> = [
    [bg.shading, bg.valid, 1],
    [mirrorHorizontal(bg.shading, w, h), mirrorHorizontal(bg.valid, w, h), -1],
  ];
  views.forEach(([s, v, sx], j) => {
    const f = lightFeatures(s, v, w, h);
    out.set(f.features, j * ROW);
    out.set(lightTargets([sx * l.direction[0], l.direction[1], l.direction[2]], l.strength * k, l.ambient * k, f.medianShading), j * ROW + LIGHT_FEATURE_COUNT);
  });
  return out;
}

export const trainLightCommand: Command = {
  name: 'train-light',
  summary: 'train the learned background-light estimator of the intrinsic stage on procedural scenes',
  usage: 'harmonia train-light [--out models/light] [--count 3000] [--seed0 1000000] [--render-sizes 128,256] [--epochs 400] [--hidden 64,64] [--dropout 0] [--l2 0] [--lr 0.001] [--features cache.bin]',
  options: {
    out: { type: 'string', default: 'models/light', description: 'output folder (model.json + weights.bin)' },
    count: { type: 'string', default: '3000', description: 'procedural training scenes (each also mirrored)' },
    seed0: { type: 'string', default: '1000000', description: 'first training seed' },
    epochs: { type: 'string', default: '400', description: 'training epochs' },
    'render-sizes': { type: 'string', default: '128', description: 'scene sizes, used in turn (each analysed on a 128-px copy)' },
    hidden: { type: 'string', default: '64,64', description: 'hidden layer widths' },
    dropout: { type: 'string', default: '0', description: 'dropout rate after each hidden layer (training only)' },
    l2: { type: 'string', default: '0', description: 'L2 penalty on the kernels' },
    lr: { type: 'string', default: '0.001', description: 'Adam learning rate' },
    'val-fraction': { type: 'string', default: '0.1', description: 'share of the training scenes held out for model selection' },
    features: { type: 'string', description: 'feature cache file (read when it exists, else written)' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values }) {
    const count = intArg(values.count, 'count', 20);
    const sizes = String(values['render-sizes']).split(',').map((v) => intArg(v, 'render-sizes', LIGHT_NET_INPUT_SIDE));
    const seed0 = intArg(values.seed0, 'seed0', 0);
    const epochs = intArg(values.epochs, 'epochs', 1);
    const hidden = String(values.hidden).split(',').map((v) => intArg(v, 'hidden', 1));
    const valFraction = Number(values['val-fraction']);
    if (!(valFraction > 0 && valFraction < 0.5)) throw new HarmoniaError(`--val-fraction must be in (0, 0.5), got "${String(values['val-fraction'])}"`);
    const dropout = Number(values.dropout);
    const l2 = Number(values.l2);
    const lr = Number(values.lr);
    if (!(dropout >= 0 && dropout < 1)) throw new HarmoniaError(`--dropout must be in [0, 1), got "${String(values.dropout)}"`);
    if (!(l2 >= 0)) throw new HarmoniaError(`--l2 must be ≥ 0, got "${String(values.l2)}"`);
    if (!(lr > 0)) throw new HarmoniaError(`--lr must be > 0, got "${String(values.lr)}"`);
    const out = String(values.out);
    const cacheFile = typeof values.features === 'string' ? values.features : undefined;
    let rows: Float32Array;
    const expectLen = count * 2 * ROW;
    if (cacheFile && existsSync(cacheFile)) {
      const buf = readFileSync(cacheFile);
      rows = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      if (rows.length !== expectLen) throw new HarmoniaError(`feature cache has ${rows.length} values, expected ${expectLen} (--count/--size changed?)`, { file: cacheFile });
    } else {
      rows = new Float32Array(expectLen);
      const bar = new Progress('scenes', count, { quiet: Boolean(values.quiet) });
      for (let i = 0; i < count; i++) {
        rows.set(lightTrainingRows(seed0 + i, sizes[i % sizes.length]), i * 2 * ROW);
        bar.tick(1);
      }
      bar.finish();
      if (cacheFile) await writeFileAtomic(cacheFile, new Uint8Array(rows.buffer), { mkdir: true });
    }
    // split by scene (a scene and its mirror stay together)
    const order = new Rng(`train-light:${seed0}`).shuffle(Array.from({ length: count }, (_, i) => i));
    const nVal = Math.max(1, Math.round(count * valFraction));
    const valScenes = order.slice(0, nVal);
    const trainScenes = order.slice(nVal);
    const gather = (scenes: number[]): { x: Float32Array; y: Float32Array; n: number } => {
      const n = scenes.length * 2;
      const x = new Float32Array(n * LIGHT_FEATURE_COUNT);
      const y = new Float32Array(n * LIGHT_NET_OUTPUTS);
      scenes.forEach((s, j) => {
        for (let m = 0; m < 2; m++) {
          const r = (s * 2 + m) * ROW;
          x.set(rows.subarray(r, r + LIGHT_FEATURE_COUNT), (j * 2 + m) * LIGHT_FEATURE_COUNT);
          y.set(rows.subarray(r + LIGHT_FEATURE_COUNT, r + ROW), (j * 2 + m) * LIGHT_NET_OUTPUTS);
        }
      });
      return { x, y, n };
    };
    const tr = gather(trainScenes);
    const va = gather(valScenes);
    const mean = new Float32Array(LIGHT_FEATURE_COUNT);
    const std = new Float32Array(LIGHT_FEATURE_COUNT);
    for (let i = 0; i < tr.n; i++) for (let f = 0; f < LIGHT_FEATURE_COUNT; f++) mean[f] += tr.x[i * LIGHT_FEATURE_COUNT + f] / tr.n;
    for (let i = 0; i < tr.n; i++) for (let f = 0; f < LIGHT_FEATURE_COUNT; f++) std[f] += (tr.x[i * LIGHT_FEATURE_COUNT + f] - mean[f]) ** 2 / tr.n;
    // (nearly) constant features (std < 1e-3, e.g. the valid share of the top regions, almost always 1
    // here) get std = ∞: the network never sees them and folding zeroes their weights, so a different
    // value at inference (a real photo with a saturated sky) cannot blow up an activation
    for (let f = 0; f < LIGHT_FEATURE_COUNT; f++) std[f] = std[f] < 1e-6 ? Infinity : Math.sqrt(std[f]);
    const standardize = (x: Float32Array): Float32Array => x.map((v, i) => (v - mean[i % LIGHT_FEATURE_COUNT]) / std[i % LIGHT_FEATURE_COUNT]);

    await initEngine({ quiet: true });
    const model = buildLightNet(hidden, seed0, { dropout, l2 });
    const lossWeights = tf.tensor1d([1, 1, 1, 0.25, 0.25]);
    model.compile({
      optimizer: tf.train.adam(lr),
      loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.mean(tf.mul(tf.square(tf.sub(yt, yp)), lossWeights)),
    });
    const xt = tf.tensor2d(standardize(tr.x), [tr.n, LIGHT_FEATURE_COUNT]);
    const yt = tf.tensor2d(tr.y, [tr.n, LIGHT_NET_OUTPUTS]);
    const xv = tf.tensor2d(standardize(va.x), [va.n, LIGHT_FEATURE_COUNT]);
    const valAngles = (): number[] => {
      const p = (model.predict(xv) as tf.Tensor).arraySync() as number[][];
      return p.map((q, i) => angleBetweenDeg(q, va.y.subarray(i * LIGHT_NET_OUTPUTS, i * LIGHT_NET_OUTPUTS + 3)));
    };
    const median = (a: number[]): number => { const s = [...a].sort((u, v) => u - v); return s[s.length >> 1]; };
    let best = { median: Infinity, epoch: 0, weights: model.getWeights().map((w) => w.clone()) };
    const bar = new Progress('epochs', epochs, { quiet: Boolean(values.quiet) });
    const every = Math.max(1, Math.floor(epochs / 40));
    for (let e = 0; e < epochs; e += every) {
      const h = await model.fit(xt, yt, { epochs: Math.min(every, epochs - e), batchSize: 64, shuffle: true, verbose: 0 });
      const m = median(valAngles());
      if (m < best.median) {
        best.weights.forEach((w) => w.dispose());
        best = { median: m, epoch: e + every, weights: model.getWeights().map((w) => w.clone()) };
      }
      const loss = h.history.loss[h.history.loss.length - 1] as number;
      bar.tick(Math.min(every, epochs - e), `loss ${loss.toFixed(4)} val median ${m.toFixed(1)}° (best ${best.median.toFixed(1)}° @${best.epoch})`);
    }
    bar.finish();
    model.setWeights(best.weights);
    foldStandardization(model, mean, std);
    // check: the folded model on raw features gives the same validation error in the TypeScript forward pass
    const lm = lightModelFromLayers(model);
    const tsAngles: number[] = [];
    for (let i = 0; i < va.n; i++) {
      const out2 = runLightModel(lm, va.x.subarray(i * LIGHT_FEATURE_COUNT, (i + 1) * LIGHT_FEATURE_COUNT));
      tsAngles.push(angleBetweenDeg(out2, va.y.subarray(i * LIGHT_NET_OUTPUTS, i * LIGHT_NET_OUTPUTS + 3)));
    }
    await saveModel(model, out);
    tf.dispose([xt, yt, xv, lossWeights, ...best.weights]);
    console.log(`train-light: ${trainScenes.length} training scenes (+ mirrors), ${valScenes.length} held out; best epoch ${best.epoch}: ` +
      `validation median light error ${best.median.toFixed(1)}° (TypeScript forward ${median(tsAngles).toFixed(1)}°); saved ${out}`);
    return 0;
  },
};
