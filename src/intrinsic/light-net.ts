/**
 * Learned background light from shading statistics: a small MLP over a fixed, resolution-independent
 * feature vector of the decomposed background shading (a learned Pentland / Lee–Rosenfeld estimator,
 * trained on procedural scenes by `harmonia train-light`; weights in models/light/ in the TF.js layers
 * format). Browser-safe: the forward pass is plain TypeScript on typed arrays (synchronous, so
 * semiHarmonize can use it); TensorFlow.js is only needed to build/train the model (light-net-tf.ts) and to convert a
 * loaded tf.LayersModel (tf.loadLayersModel in a browser, src/models/light.ts in Node).
 *
 * Features (LIGHT_FEATURE_COUNT values) of s = log S − median(log S) on a GRID×GRID resampling of the
 * valid background (cells ≥ 75 % valid), with central-difference gradients (y up) where all four
 * neighbours are valid:
 *   4×4 regions × (valid share, mean s, mean ∂s/∂x, mean ∂s/∂y, mean |∇s|)            80
 *   mean ∂s/∂x, ∂s/∂y, |∇s|; mean gx², gy², gx·gy; mean gx, gy over |∇s| < 0.05          8
 *   12-bin orientation histogram weighted by |∇s| (sums to 1)                            12
 *   s quantiles 0.1, 0.25, 0.75, 0.9; std of s; valid share                                6
 *   mean s in 6 row bands (top→bottom) and 6 column bands (left→right)                    12
 * Outputs: (dx, dy, dz) normalised to the light direction (any direction, also from behind),
 * log(r / m) and log(c / m) with m = the median background shading, so r and c follow the shading scale.
 */
import { HarmoniaError } from '../errors.ts';
import type { tf } from '../engine/tf.ts';
import type { LightCoeffs } from './light.ts';

export const LIGHT_FEATURE_GRID = 48;
/**
 * Long side of the copy the learned estimator decomposes (the training scenes' size): its features then
 * come from the same decomposition scale whatever the input resolution.
 */
export const LIGHT_NET_INPUT_SIDE = 128;
export const LIGHT_FEATURE_COUNT = 118;
export const LIGHT_NET_OUTPUTS = 5;

export interface DenseLayer {
  /** row-major [inputs][outputs] */
  kernel: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
  activation: 'relu' | 'linear';
}

/** A loaded light estimator: dense layers applied in order to the raw feature vector. */
export interface LightModel {
  layers: DenseLayer[];
}

/** Mirrors a single-channel image (and its mask) horizontally, for training augmentation. */
export function mirrorHorizontal<T extends Float32Array | Uint8Array>(src: T, width: number, height: number): T {
  const out = src.slice() as T;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = src[row + width - 1 - x];
  }
  return out;
}

interface Grid { s: Float32Array; v: Uint8Array; median: number }

/** Resamples log S over valid pixels onto a GRID×GRID grid; s is relative to the median of the valid cells. */
function resampleLog(shading: Float32Array, valid: Uint8Array, width: number, height: number): Grid {
  const G = LIGHT_FEATURE_GRID;
  const sum = new Float64Array(G * G);
  const cnt = new Float64Array(G * G);
  const tot = new Float64Array(G * G);
  for (let y = 0; y < height; y++) {
    const ty = Math.min(G - 1, Math.floor((y * G) / height));
    for (let x = 0; x < width; x++) {
      const t = ty * G + Math.min(G - 1, Math.floor((x * G) / width));
      const i = y * width + x;
      tot[t]++;
      if (valid[i] && shading[i] > 0) { sum[t] += Math.log(shading[i]); cnt[t]++; }
    }
  }
  const s = new Float32Array(G * G);
  const v = new Uint8Array(G * G);
  const vals: number[] = [];
  for (let t = 0; t < G * G; t++) {
    if (tot[t] > 0 && cnt[t] >= 0.75 * tot[t]) { v[t] = 1; s[t] = sum[t] / cnt[t]; vals.push(s[t]); }
  }
  vals.sort((a, b) => a - b);
  const median = vals.length ? vals[vals.length >> 1] : 0;
  for (let t = 0; t < G * G; t++) if (v[t]) s[t] -= median;
  return { s, v, median };
}

function quantileSorted(a: number[], q: number): number {
  if (!a.length) return 0;
  return a[Math.min(a.length - 1, Math.max(0, Math.round(q * (a.length - 1))))];
}

/**
 * The feature vector of the background shading `shading` (linear, > 0) over the pixels where `valid`
 * is non-zero, plus the median background shading m (linear) the outputs are relative to.
 */
export function lightFeatures(shading: Float32Array, valid: Uint8Array, width: number, height: number): { features: Float32Array; medianShading: number; validCells: number } {
  if (shading.length !== width * height || valid.length !== width * height) {
    throw new HarmoniaError(`lightFeatures: shading (${shading.length}) and valid (${valid.length}) must both have ${width}×${height} values`);
  }
  const G = LIGHT_FEATURE_GRID;
  const { s, v, median } = resampleLog(shading, valid, width, height);
  const f = new Float32Array(LIGHT_FEATURE_COUNT);
  const reg = new Float64Array(16 * 5);
  const regN = new Float64Array(16);
  const regG = new Float64Array(16);
  const hist = new Float64Array(12);
  let gxs = 0, gys = 0, gms = 0, gxx = 0, gyy = 0, gxy = 0, ng = 0, sgx = 0, sgy = 0, nsmall = 0;
  const vals: number[] = [];
  const rows = new Float64Array(12);
  const rowsN = new Float64Array(12);
  for (let y = 0; y < G; y++) {
    for (let x = 0; x < G; x++) {
      const t = y * G + x;
      const r = Math.min(3, Math.floor((y * 4) / G)) * 4 + Math.min(3, Math.floor((x * 4) / G));
      regN[r]++;
      if (!v[t]) continue;
      const sv = s[t];
      vals.push(sv);
      reg[r * 5] += 1;
      reg[r * 5 + 1] += sv;
      const rb = Math.min(5, Math.floor((y * 6) / G));
      const cb = 6 + Math.min(5, Math.floor((x * 6) / G));
      rows[rb] += sv; rowsN[rb]++;
      rows[cb] += sv; rowsN[cb]++;
      if (x === 0 || y === 0 || x === G - 1 || y === G - 1 || !v[t - 1] || !v[t + 1] || !v[t - G] || !v[t + G]) continue;
      const gx = 0.5 * (s[t + 1] - s[t - 1]);
      const gy = 0.5 * (s[t - G] - s[t + G]);
      const gm = Math.hypot(gx, gy);
      reg[r * 5 + 2] += gx; reg[r * 5 + 3] += gy; reg[r * 5 + 4] += gm; regG[r]++;
      gxs += gx; gys += gy; gms += gm; gxx += gx * gx; gyy += gy * gy; gxy += gx * gy; ng++;
      if (gm < 0.05) { sgx += gx; sgy += gy; nsmall++; }
      if (gm > 0) {
        let a = Math.atan2(gy, gx);
        if (a < 0) a += 2 * Math.PI;
        hist[Math.min(11, Math.floor((a * 12) / (2 * Math.PI)))] += gm;
      }
    }
  }
  let k = 0;
  for (let r = 0; r < 16; r++) {
    const nv = reg[r * 5];
    f[k++] = regN[r] > 0 ? nv / regN[r] : 0;
    f[k++] = nv > 0 ? reg[r * 5 + 1] / nv : 0;
    f[k++] = regG[r] > 0 ? reg[r * 5 + 2] / regG[r] : 0;
    f[k++] = regG[r] > 0 ? reg[r * 5 + 3] / regG[r] : 0;
    f[k++] = regG[r] > 0 ? reg[r * 5 + 4] / regG[r] : 0;
  }
  const dn = Math.max(1, ng);
  f[k++] = gxs / dn; f[k++] = gys / dn; f[k++] = gms / dn;
  f[k++] = gxx / dn; f[k++] = gyy / dn; f[k++] = gxy / dn;
  f[k++] = nsmall ? sgx / nsmall : 0; f[k++] = nsmall ? sgy / nsmall : 0;
  for (let b = 0; b < 12; b++) f[k++] = gms > 0 ? hist[b] / gms : 0;
  vals.sort((a, b) => a - b);
  f[k++] = quantileSorted(vals, 0.1); f[k++] = quantileSorted(vals, 0.25);
  f[k++] = quantileSorted(vals, 0.75); f[k++] = quantileSorted(vals, 0.9);
  let var2 = 0;
  for (const x of vals) var2 += x * x;
  f[k++] = vals.length ? Math.sqrt(var2 / vals.length) : 0;
  f[k++] = vals.length / (G * G);
  for (let b = 0; b < 12; b++) f[k++] = rowsN[b] > 0 ? rows[b] / rowsN[b] : 0;
  if (k !== LIGHT_FEATURE_COUNT) throw new HarmoniaError(`lightFeatures: internal feature count ${k} ≠ ${LIGHT_FEATURE_COUNT}`);
  return { features: f, medianShading: Math.exp(median), validCells: vals.length };
}

/** Forward pass of the MLP on one feature vector. */
export function runLightModel(model: LightModel, features: Float32Array): Float32Array {
  let x: Float32Array = features;
  for (const l of model.layers) {
    if (x.length !== l.inputs) throw new HarmoniaError(`light model: layer expects ${l.inputs} inputs, got ${x.length}`);
    const y = new Float32Array(l.outputs);
    y.set(l.bias);
    for (let i = 0; i < l.inputs; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const row = i * l.outputs;
      for (let o = 0; o < l.outputs; o++) y[o] += xi * l.kernel[row + o];
    }
    if (l.activation === 'relu') for (let o = 0; o < l.outputs; o++) if (y[o] < 0) y[o] = 0;
    x = y;
  }
  return x;
}

export interface LearnedLightEstimate {
  coeffs: LightCoeffs;
  direction: [number, number, number];
  validCells: number;
}

/**
 * Light coefficients [x, y, z, c] from the background shading with a learned model. With fewer than
 * 32 valid grid cells the estimate is not trusted and null is returned.
 */
export function estimateLightLearned(model: LightModel, shading: Float32Array, valid: Uint8Array, width: number, height: number): LearnedLightEstimate | null {
  const { features, medianShading, validCells } = lightFeatures(shading, valid, width, height);
  if (validCells < 32) return null;
  const out = runLightModel(model, features);
  if (out.length !== LIGHT_NET_OUTPUTS) throw new HarmoniaError(`light model: expected ${LIGHT_NET_OUTPUTS} outputs, got ${out.length}`);
  const len = Math.hypot(out[0], out[1], out[2]);
  const direction: [number, number, number] = len > 0 ? [out[0] / len, out[1] / len, out[2] / len] : [0, 0, 1];
  const clampLog = (v: number): number => Math.exp(Math.min(3, Math.max(-5, v)));
  const r = clampLog(out[3]) * medianShading;
  const c = Math.max(0.1, clampLog(out[4]) * medianShading);
  return { coeffs: [r * direction[0], r * direction[1], r * direction[2], c], direction, validCells };
}

/** Training targets for a known light: direction, log(strength/m), log(ambient/m). */
export function lightTargets(direction: readonly number[], strength: number, ambient: number, medianShading: number): Float32Array {
  const m = Math.max(1e-6, medianShading);
  return Float32Array.from([direction[0], direction[1], direction[2], Math.log(Math.max(1e-4, strength) / m), Math.log(Math.max(1e-4, ambient) / m)]);
}

// buildLightNet and foldStandardization (TensorFlow.js at run time) are in light-net-tf.ts, so the
// intrinsic stage needs no TensorFlow.js: this file only names its types.

/** Converts a loaded tf.LayersModel of dense layers (relu / linear) into a LightModel. */
export function lightModelFromLayers(model: tf.LayersModel): LightModel {
  const layers: DenseLayer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Dropout') continue; // identity at inference
    const cfg = layer.getConfig();
    if (layer.getClassName() !== 'Dense') throw new HarmoniaError(`light model: layer "${layer.name}" is ${layer.getClassName()}, only Dense layers are supported`);
    const act = String(cfg.activation ?? 'linear');
    if (act !== 'relu' && act !== 'linear') throw new HarmoniaError(`light model: layer "${layer.name}" has activation ${act}, only relu and linear are supported`);
    const w = layer.getWeights();
    if (w.length !== 2) throw new HarmoniaError(`light model: layer "${layer.name}" needs a kernel and a bias`);
    const [nin, nout] = w[0].shape;
    layers.push({ kernel: Float32Array.from(w[0].dataSync()), bias: Float32Array.from(w[1].dataSync()), inputs: nin, outputs: nout, activation: act });
  }
  if (!layers.length || layers[0].inputs !== LIGHT_FEATURE_COUNT || layers[layers.length - 1].outputs !== LIGHT_NET_OUTPUTS) {
    throw new HarmoniaError(`light model: expected ${LIGHT_FEATURE_COUNT} inputs and ${LIGHT_NET_OUTPUTS} outputs`);
  }
  for (let i = 1; i < layers.length; i++) if (layers[i].inputs !== layers[i - 1].outputs) throw new HarmoniaError(`light model: layer ${i} input size does not match the previous layer`);
  return { layers };
}
