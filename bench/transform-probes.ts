/**
 * Probes of a colour-transform model (`global`/`pct`) on the test list of an iHarmony4-layout dataset:
 * test-time views averaged, a uniform shrink of the predicted change toward the identity, and a shrink by
 * the size of the change. Also dumps, per image, the composite's fMSE, the prediction's, the size of the
 * change, the blend gate and the spread of the views, and prints the ROC AUC of each for "made worse".
 * Metrics as `harmonia evaluate` (0–255 scale, per-image means, output quantised to 8 bits), computed at
 * the dataset's own size (the Lalonde composites are 256², the protocol size).
 *
 *   node --import tsx bench/transform-probes.ts --data data/lalonde --model models/default \
 *     [--views f,fv,fc,fvc] [--shrink 1,0.9] [--tau 0,30,60,100] [--dump per-image.json]
 *
 * Views: '' = the image alone, f = + its mirror, v = + vertical flip, c = + four 87.5 % corner crops.
 * The product's inference is `--views f --shrink 1 --tau 0` (transformAtFullResolution with flipAverage).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../src/engine/index.ts';
import { tf } from '../src/engine/tf.ts';
import { loadHarmonizationModel } from '../src/pipeline/model.ts';
import { readImage, readMask } from '../src/image/io.ts';
import { resizeImage, resizeMask } from '../src/image/resize.ts';
import { parseCompositeName } from '../src/data/index.ts';
import { predictColorTransform, applyColorTransformArrays, TRANSFORM_PARAMS } from '../src/models/color-transform.ts';
import { fmse, mse, psnrFromMse } from '../src/metrics/pixel.ts';
import type { FloatImage, Mask } from '../src/image/types.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' }, model: { type: 'string', default: 'models/default' },
    views: { type: 'string', default: 'f' }, shrink: { type: 'string', default: '1' }, tau: { type: 'string', default: '0' },
    dump: { type: 'string' },
  },
});
if (!values.data) throw new Error('--data <iHarmony4 folder> is required');
await initEngine({});
const model = await loadHarmonizationModel(values.model);
const S = model.config.analysisSize ?? 128;

interface Sample { c: FloatImage; m: Mask; gt: FloatImage }
const samples: Sample[] = [];
for (const list of readFileSync(join(values.data, 'IHD_test.txt'), 'utf8').trim().split('\n')) {
  const subset = list.split('/')[0];
  const p = parseCompositeName(list.split('/').pop()!);
  samples.push({
    c: await readImage(join(values.data, list)),
    m: await readMask(join(values.data, subset, 'masks', `${p.realName}_${p.maskIndex}.png`)),
    gt: await readImage(join(values.data, subset, 'real_images', `${p.realName}.png`)),
  });
}

function analysisCopy(x: FloatImage, m: Mask): tf.Tensor4D {
  return tf.tidy(() => tf.concat([
    tf.tensor4d(resizeImage(x, S, S, 'area').data, [1, S, S, 3]), tf.tensor4d(resizeMask(m, S, S, 'area').data, [1, S, S, 1]),
  ], 3) as tf.Tensor4D);
}

function crop(x: FloatImage, m: Mask, ox: number, oy: number, w: number, h: number): { x: FloatImage; m: Mask } {
  const cx = new Float32Array(w * h * 3), cm = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const si = (y + oy) * x.width + xx + ox, di = y * w + xx;
      cm[di] = m.data[si];
      for (let k = 0; k < 3; k++) cx[di * 3 + k] = x.data[si * 3 + k];
    }
  }
  return { x: { width: w, height: h, channels: 3, data: cx }, m: { width: w, height: h, data: cm } };
}

/** θ of every view of one composite. */
function viewThetas(s: Sample, kind: string): Float32Array[] {
  const base = analysisCopy(s.c, s.m);
  const inputs = [base];
  if (kind.includes('f')) inputs.push(tf.reverse(base, 2) as tf.Tensor4D);
  if (kind.includes('v')) inputs.push(tf.reverse(base, 1) as tf.Tensor4D);
  if (kind.includes('c')) {
    const w = Math.round(s.c.width * 0.875), h = Math.round(s.c.height * 0.875);
    for (const [ox, oy] of [[0, 0], [s.c.width - w, 0], [0, s.c.height - h], [s.c.width - w, s.c.height - h]]) {
      const v = crop(s.c, s.m, ox, oy, w, h);
      if (v.m.data.reduce((a, b) => a + b, 0) > 20) inputs.push(analysisCopy(v.x, v.m));
    }
  }
  const out = inputs.map((t) => predictColorTransform(model.generator, t).theta);
  tf.dispose(inputs);
  return out;
}

const apply = (s: Sample, theta: Float32Array) => applyColorTransformArrays(s.c.data, s.m.data, s.c.width, s.c.height, { theta });
const image = (s: Sample, data: Float32Array): FloatImage => ({ ...s.c, data });
const quantised = (data: Float32Array) => data.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);

interface Row { f0: number; f: number; change: number; gate: number; spread: number }
function auc(rows: Row[], key: keyof Row): number {
  const pos = rows.filter((r) => r.f > r.f0).map((r) => r[key]), neg = rows.filter((r) => r.f <= r.f0).map((r) => r[key]);
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / Math.max(1, pos.length * neg.length);
}

console.log(`${samples.length} test composites of ${values.data}, model ${values.model} (analysis ${S}²)`);
console.log('| views | shrink | tau | PSNR | fMSE | worse-share |\n|---|---:|---:|---:|---:|---:|');
for (const kind of values.views.split(',')) {
  const thetas = samples.map((s) => viewThetas(s, kind));
  for (const shrink of values.shrink.split(',').map(Number)) {
    for (const tau of values.tau.split(',').map(Number)) {
      const rows: Row[] = [];
      let psnr = 0;
      samples.forEach((s, i) => {
        const theta = new Float32Array(TRANSFORM_PARAMS);
        for (const t of thetas[i]) for (let k = 0; k < theta.length; k++) theta[k] += t[k] / thetas[i].length;
        let out = apply(s, theta);
        const change = fmse(image(s, out), s.c, s.m) ?? 0;
        const k = shrink * (tau > 0 ? change * change / (change * change + tau * tau) : 1);
        if (k !== 1) out = out.map((v, j) => s.c.data[j] + k * (v - s.c.data[j]));
        const pred = image(s, quantised(out));
        psnr += psnrFromMse(mse(pred, s.gt));
        const views = thetas[i].map((t) => apply(s, t));
        const mean = views[0].map((_, j) => views.reduce((a, v) => a + v[j], 0) / views.length);
        const spread = views.reduce((a, v) => a + (fmse(image(s, v), image(s, mean), s.m) ?? 0), 0) / views.length;
        rows.push({ f0: fmse(s.c, s.gt, s.m) ?? 0, f: fmse(pred, s.gt, s.m) ?? 0, change, gate: 1 / (1 + Math.exp(-theta[TRANSFORM_PARAMS - 1])), spread });
      });
      const n = rows.length, worse = rows.filter((r) => r.f > r.f0).length;
      console.log(`| ${kind || 'none'} | ${shrink} | ${tau} | ${(psnr / n).toFixed(2)} | ${(rows.reduce((a, r) => a + r.f, 0) / n).toFixed(1)} | ${(100 * worse / n).toFixed(1)} % (${worse}) |`);
      if (values.dump) {
        writeFileSync(values.dump, JSON.stringify(rows));
        console.log(`  ROC AUC for "made worse": change ${auc(rows, 'change').toFixed(3)}, gate ${auc(rows, 'gate').toFixed(3)}, view spread ${auc(rows, 'spread').toFixed(3)}; gate range ${Math.min(...rows.map((r) => r.gate)).toFixed(3)}–${Math.max(...rows.map((r) => r.gate)).toFixed(3)}`);
      }
    }
  }
}
