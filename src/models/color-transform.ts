/**
 * Colour-transform generators (beyond the paper): G predicts the parameters of a colour transform
 * from a small copy of the whole scene and applies that transform to the foreground at the input's
 * own resolution, so the output is sharp, the background bit-exact, and nothing is re-synthesised.
 *
 *   [RGB, mask] at any size ──AreaDownscale──▶ S×S copy ──4 stride-2 3×3 convs──▶ feature map F
 *   F and the S×S RGB are pooled separately over the foreground and the background (MaskedStats)
 *   ──MLP──▶ θ = per-channel monotone curves (K knots) + one 3×4 affine + a blend gate α
 *   result = x + m·(clip(x + α·(T_θ(x) − x)) − x)   (ColorTransformApply, at full resolution)
 *
 * `global`: θ as above (one transform per image). `pct` adds a spatially varying 3×4 affine field
 * predicted at the resolution of F (S/16) from F and the pooled context, upsampled bilinearly to the
 * input size and added to the global affine (PCT-Net style). The last layers are zero-initialised,
 * so a fresh model is exactly the identity.
 *
 * The whole thing is one tf.LayersModel (custom layers registered on import), so it saves, loads and
 * trains like the paper's G: input [N,H,W,4] (RGB + mask), output [N,H,W,3].
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { layerSeed } from './seed.ts';
import { fusedColorApply, piecewiseLinearCurves, sliceChannels as channels } from '../engine/ops.ts';
import { CURVE_KNOTS, TRANSFORM_PARAMS, FIELD_CHANNELS, type ColorTransformParams } from './color-transform-apply.ts';
import { DEFAULT_ANALYSIS_SIZE, type GeneratorImplementation } from './registry.ts';
import type { GeneratorConfig } from './generator-config.ts';
import { exportColorTransformToOnnx } from '../export/color-transform.ts';

// θ's layout and the array apply live in color-transform-apply.ts (no TensorFlow.js), for inference
export { CURVE_KNOTS, TRANSFORM_PARAMS, FIELD_CHANNELS, applyColorTransformArrays, type ColorTransformParams } from './color-transform-apply.ts';

type Shape = (number | null)[];

export interface ColorTransformConfig {
  /** With the per-pixel affine field (the `pct` entry) or without (one transform: `global`). */
  field: boolean;
  /** Side of the square analysis copy the backbone sees (≤ 256). Default 128. */
  analysisSize?: number;
  /** Channels of the first backbone layer (then 2×, 4×, 4×). Default 32. */
  base?: number;
  /** Width of the MLP hidden layer. Default 128. */
  hidden?: number;
  /** Initial blend gate α = sigmoid(gateBias). Default 2 (α ≈ 0.88). */
  gateBias?: number;
  /** Bins per channel of the foreground/background colour histograms fed to the MLP (0 = off, the v3 layout). Default 0. */
  histogramBins?: number;
  /** Hidden layers of the MLP (1 = the v3 layout, 2 = one more of the same width). Default 1. */
  mlpLayers?: number;
  seed?: number;
}

function single(shape: Shape | Shape[]): Shape {
  return Array.isArray(shape[0]) ? (shape as Shape[])[0] : (shape as Shape);
}

/**
 * Area-style downscale of NHWC to S×S: an average pool by the integer factors ⌊H/S⌋, ⌊W/S⌋ (exact
 * box filter), then bilinear to S×S. A 2048×1536 image and its exact 4× box downscale give the same
 * S×S copy up to float rounding: what makes the predicted transform resolution independent.
 */
export class AreaDownscale extends tf.layers.Layer {
  static className = 'HarmoniaAreaDownscale';
  readonly size: number;
  constructor(config: { size: number; name?: string }) {
    super({ name: config.name, trainable: false });
    if (!Number.isInteger(config.size) || config.size < 8 || config.size > 1024) throw new HarmoniaError(`AreaDownscale: size must be an integer in 8..1024, got ${config.size}`);
    this.size = config.size;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = single(inputShape);
    return [s[0], this.size, this.size, s[3]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return tf.tidy(() => areaDownscale(x, this.size));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), size: this.size };
  }
}

/** The arithmetic of AreaDownscale as a function. */
export function areaDownscale(x: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const y = areaDownscaleTo(x, size, size);
    return y === x ? x.clone() : y;
  });
}

/**
 * Foreground/background pooling: inputs [F [N,h,w,C], small [N,S,S,4]] → [N, 2C + 12 (+ 6·bins)]: the mean
 * of F over the foreground and over the background (mask resized to h×w by box averaging), then the
 * foreground and background RGB mean and standard deviation of the S×S copy, then (when `bins` > 0) the
 * foreground and background colour histograms of the S×S copy: per channel, `bins` triangular bins with
 * centres k/(bins − 1) (a partition of unity on [0, 1], so each histogram sums to 1), laid out channel-major.
 * The histograms are the explicit colour statistics that let the MLP compare the object with its scene.
 */
export class MaskedStats extends tf.layers.Layer {
  static className = 'HarmoniaMaskedStats';
  readonly bins: number;
  constructor(config: { name?: string; bins?: number } = {}) {
    super({ name: config.name, trainable: false });
    const bins = config.bins ?? 0;
    if (!Number.isInteger(bins) || bins < 0 || bins === 1 || bins > 64) throw new HarmoniaError(`MaskedStats: bins must be 0 (off) or an integer in 2..64, got ${config.bins}`);
    this.bins = bins;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [f] = inputShape as Shape[];
    const c = f[3];
    return [f[0], c === null ? null : 2 * c + 12 + 6 * this.bins];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new HarmoniaError('MaskedStats: expects [features, small input]');
    const [f, small] = inputs as [tf.Tensor4D, tf.Tensor4D];
    return tf.tidy(() => {
      const rgb = channels(small, 0, 3);
      const m = channels(small, 3, 1);
      const fm = areaDownscaleTo(m, f.shape[1], f.shape[2]);
      const pool = (v: tf.Tensor4D, w: tf.Tensor4D) => tf.div(tf.sum(tf.mul(v, w), [1, 2]), tf.add(tf.sum(w, [1, 2]), 1e-4)) as tf.Tensor2D;
      const inv = (w: tf.Tensor4D) => tf.sub(1, w) as tf.Tensor4D;
      const meanFg = pool(rgb, m), meanBg = pool(rgb, inv(m));
      const sq = tf.square(rgb) as tf.Tensor4D;
      const std = (mean: tf.Tensor2D, w: tf.Tensor4D) => tf.sqrt(tf.relu(tf.sub(pool(sq, w), tf.square(mean))).add(1e-6));
      const parts: tf.Tensor[] = [pool(f, fm), pool(f, inv(fm)), meanFg, std(meanFg, m), meanBg, std(meanBg, inv(m))];
      if (this.bins > 0) parts.push(...colorHistograms(rgb, m, this.bins));
      return tf.concat(parts, 1);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.bins > 0 ? { bins: this.bins } : {}) };
  }
}

/**
 * Masked colour histograms of rgb [N,S,S,3] with weights m [N,S,S,1]: [foreground [N,3·bins], background
 * [N,3·bins]], each bin the weighted mean of the triangular kernel relu(1 − |x·(bins − 1) − k|).
 */
export function colorHistograms(rgb: tf.Tensor4D, m: tf.Tensor4D, bins: number): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const [n, h, w] = rgb.shape;
    const centres = tf.range(0, bins, 1, 'float32');
    const kernel = tf.relu(tf.sub(1, tf.abs(tf.sub(tf.mul(rgb.reshape([n, h, w, 3, 1]), bins - 1), centres)))); // [N,S,S,3,K]
    const hist = (wt: tf.Tensor4D) => tf.div(tf.sum(tf.mul(kernel, wt.reshape([n, h, w, 1, 1])), [1, 2]), tf.add(tf.sum(wt, [1, 2, 3]).reshape([n, 1, 1]), 1e-4)).reshape([n, 3 * bins]) as tf.Tensor2D;
    return [hist(m), hist(tf.sub(1, m) as tf.Tensor4D)];
  });
}

/** Box average by the integer factors ⌊H/h⌋, ⌊W/w⌋, then bilinear to h×w (returns `m` itself when nothing changes). */
function areaDownscaleTo(m: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const kh = Math.max(1, Math.floor(m.shape[1] / h)), kw = Math.max(1, Math.floor(m.shape[2] / w));
  let y = kh > 1 || kw > 1 ? tf.avgPool(m, [kh, kw], [kh, kw], 'valid') : m;
  if (y.shape[1] !== h || y.shape[2] !== w) y = tf.image.resizeBilinear(y, [h, w], false, true);
  return y;
}

/**
 * Applies θ (and, for pct, the low-resolution affine field) to the full-resolution input.
 * inputs: [x [N,H,W,4], θ [N,P]] or [x, θ, field [N,h,w,12]].
 */
export class ColorTransformApply extends tf.layers.Layer {
  static className = 'HarmoniaColorTransformApply';
  constructor(config: { name?: string } = {}) {
    super({ name: config.name, trainable: false });
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (inputShape as Shape[])[0];
    return [s[0], s[1], s[2], 3];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || (inputs.length !== 2 && inputs.length !== 3)) throw new HarmoniaError('ColorTransformApply: expects [input, params] or [input, params, field]');
    const [x, theta, field] = inputs as [tf.Tensor4D, tf.Tensor2D, tf.Tensor4D | undefined];
    return tf.tidy(() => applyColorTransform(x, theta, field));
  }
}

/**
 * The transform itself (pure tensor maths, differentiable): curves, then the affine (global, plus
 * the upsampled field when given), blended toward the input by α, clipped, and blended by the mask.
 * Pixels whose mask is exactly 0 come back bit-identical.
 */
export function applyColorTransform(x: tf.Tensor4D, theta: tf.Tensor2D, field?: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (x.shape[3] !== 4) throw new HarmoniaError(`applyColorTransform: input needs 4 channels (RGB + mask), got ${x.shape[3]}`);
    if (theta.shape[1] !== TRANSFORM_PARAMS) throw new HarmoniaError(`applyColorTransform: expected ${TRANSFORM_PARAMS} parameters, got ${theta.shape[1]}`);
    // the global transform as one kernel where the backend has it (native: one pass forward, one for
    // θ's gradient); elsewhere, and with a field (pct), the ops below (same values to float rounding)
    const fused = field ? undefined : fusedColorApply(x, theta, CURVE_KNOTS);
    if (fused) return fused;
    const n = x.shape[0];
    const rgb = channels(x, 0, 3);
    const m = channels(x, 3, 1);
    const K = CURVE_KNOTS;
    // curves: y_c = Σ_k s_ck · clip(x_c − k/K, 0, 1/K), s = exp(log-slope) (identity at 0)
    const slopes = tf.exp(tf.clipByValue(tf.slice(theta, [0, 0], [-1, 3 * K]), -4, 4)) as tf.Tensor2D;
    const curved = piecewiseLinearCurves(rgb, slopes, K);
    // global affine: A = I + ΔA, b
    const dA = tf.slice(theta, [0, 3 * K], [-1, 9]).reshape([n, 3, 3]);
    const b = tf.slice(theta, [0, 3 * K + 9], [-1, 3]).reshape([n, 1, 1, 3]);
    const gate = tf.sigmoid(tf.slice(theta, [0, 3 * K + 12], [-1, 1])).reshape([n, 1, 1, 1]);
    const h = rgb.shape[1], w = rgb.shape[2];
    const flat = curved.reshape([n, h * w, 3]);
    // y = x + x·ΔAᵀ + b   (row-vector convention: out_c = Σ_j (δ_cj + ΔA_cj) y_j + b_c)
    let out = tf.add(tf.add(curved, tf.matMul(flat, dA, false, true).reshape([n, h, w, 3])), b) as tf.Tensor4D;
    if (field) {
      if (field.shape[3] !== FIELD_CHANNELS) throw new HarmoniaError(`applyColorTransform: field needs ${FIELD_CHANNELS} channels, got ${field.shape[3]}`);
      const up = field.shape[1] === h && field.shape[2] === w ? field : tf.image.resizeBilinear(field, [h, w], false, true);
      // per-pixel ΔA (9, row-major) and offset (3), applied to the curved colours
      const dAp = channels(up as tf.Tensor4D, 0, 9).reshape([n, h, w, 3, 3]);
      const moved = tf.sum(tf.mul(dAp, curved.reshape([n, h, w, 1, 3])), 4) as tf.Tensor4D;
      out = tf.add(tf.add(out, moved), channels(up as tf.Tensor4D, 9, 3)) as tf.Tensor4D;
    }
    const moved = tf.clipByValue(tf.add(rgb, tf.mul(gate, tf.sub(out, rgb))), 0, 1);
    return tf.add(rgb, tf.mul(m, tf.sub(moved, rgb))) as tf.Tensor4D;
  });
}

/** Tiles a [N,C] vector over an [N,h,w,·] map: inputs [map, vector] → [N,h,w,C]. */
export class BroadcastVector extends tf.layers.Layer {
  static className = 'HarmoniaBroadcastVector';
  constructor(config: { name?: string } = {}) {
    super({ name: config.name, trainable: false });
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [map, vec] = inputShape as Shape[];
    return [map[0], map[1], map[2], vec[1]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [map, vec] = inputs as [tf.Tensor4D, tf.Tensor2D];
    return tf.tidy(() => tf.tile(vec.reshape([vec.shape[0], 1, 1, vec.shape[1]]), [1, map.shape[1], map.shape[2], 1]));
  }
}

for (const c of [AreaDownscale, MaskedStats, ColorTransformApply, BroadcastVector]) tf.serialization.registerClass(c);

interface Resolved { field: boolean; analysisSize: number; base: number; hidden: number; gateBias: number; histogramBins: number; mlpLayers: number; seed: number }

export function resolveColorTransform(cfg: ColorTransformConfig): Resolved {
  const analysisSize = cfg.analysisSize ?? DEFAULT_ANALYSIS_SIZE;
  if (!Number.isInteger(analysisSize) || analysisSize < 32 || analysisSize > 256 || analysisSize % 16 !== 0) {
    throw new HarmoniaError(`generator.analysisSize: must be a multiple of 16 in 32..256, got ${cfg.analysisSize}`);
  }
  const base = cfg.base ?? 32;
  if (!Number.isInteger(base) || base < 1 || base > 256) throw new HarmoniaError(`generator.base: must be an integer in 1..256, got ${cfg.base}`);
  const hidden = cfg.hidden ?? 128;
  if (!Number.isInteger(hidden) || hidden < 1 || hidden > 4096) throw new HarmoniaError(`generator.hidden: must be an integer in 1..4096, got ${cfg.hidden}`);
  const gateBias = cfg.gateBias ?? 2;
  if (!Number.isFinite(gateBias) || Math.abs(gateBias) > 20) throw new HarmoniaError(`generator.gateBias: must be a finite number in [-20, 20], got ${cfg.gateBias}`);
  if (typeof cfg.field !== 'boolean') throw new HarmoniaError(`colour-transform generator: field must be true or false, got ${JSON.stringify(cfg.field)}`);
  const histogramBins = cfg.histogramBins ?? 0;
  if (!Number.isInteger(histogramBins) || histogramBins < 0 || histogramBins === 1 || histogramBins > 64) throw new HarmoniaError(`generator.histogramBins: must be 0 (off) or an integer in 2..64, got ${cfg.histogramBins}`);
  const mlpLayers = cfg.mlpLayers ?? 1;
  if (!Number.isInteger(mlpLayers) || mlpLayers < 1 || mlpLayers > 4) throw new HarmoniaError(`generator.mlpLayers: must be an integer in 1..4, got ${cfg.mlpLayers}`);
  return { field: cfg.field, analysisSize, base, hidden, gateBias, histogramBins, mlpLayers, seed: cfg.seed ?? 0 };
}

/** Builds a `global` or `pct` generator: input [N,H,W,4] (any H, W), output [N,H,W,3]. */
export function buildColorTransformGenerator(cfg: ColorTransformConfig): tf.LayersModel {
  const c = resolveColorTransform(cfg);
  const he = (name: string) => tf.initializers.heUniform({ seed: layerSeed(c.seed, name) });
  const input = tf.input({ shape: [null, null, 4], name: 'g_input' });
  const small = new AreaDownscale({ size: c.analysisSize, name: 'g_analysis' }).apply(input) as tf.SymbolicTensor;
  let h: tf.SymbolicTensor = small;
  const widths = [c.base, 2 * c.base, 4 * c.base, 4 * c.base];
  widths.forEach((filters, i) => {
    const name = `g_enc${i + 1}`;
    h = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: he(name), name }).apply(h) as tf.SymbolicTensor;
  });
  const stats = new MaskedStats({ name: 'g_pool', bins: c.histogramBins }).apply([h, small]) as tf.SymbolicTensor;
  let hid = stats;
  for (let k = 1; k <= c.mlpLayers; k++) {
    hid = tf.layers.dense({ units: c.hidden, activation: 'relu', kernelInitializer: he(`g_mlp${k}`), name: `g_mlp${k}` }).apply(hid) as tf.SymbolicTensor;
  }
  const theta = tf.layers.dense({
    units: TRANSFORM_PARAMS, kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0 }), name: 'g_theta',
  }).apply(hid) as tf.SymbolicTensor;
  const withGate = new GateBias({ bias: c.gateBias, name: 'g_gate' }).apply(theta) as tf.SymbolicTensor;
  let out: tf.SymbolicTensor;
  if (c.field) {
    const ctx = new BroadcastVector({ name: 'g_context' }).apply([h, hid]) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate({ axis: -1, name: 'g_field_in' }).apply([h, ctx]) as tf.SymbolicTensor;
    const f1 = tf.layers.conv2d({ filters: 2 * c.base, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he('g_field1'), name: 'g_field1' }).apply(joined) as tf.SymbolicTensor;
    const field = tf.layers.conv2d({ filters: FIELD_CHANNELS, kernelSize: 1, kernelInitializer: 'zeros', name: 'g_field' }).apply(f1) as tf.SymbolicTensor;
    out = new ColorTransformApply({ name: 'g_apply' }).apply([input, withGate, field]) as tf.SymbolicTensor;
  } else {
    out = new ColorTransformApply({ name: 'g_apply' }).apply([input, withGate]) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: out, name: 'generator' });
}

/** Adds a constant to the last parameter (the gate logit), so the zero-initialised θ starts at α = sigmoid(bias). */
export class GateBias extends tf.layers.Layer {
  static className = 'HarmoniaGateBias';
  readonly bias: number;
  constructor(config: { bias: number; name?: string }) {
    super({ name: config.name, trainable: false });
    this.bias = config.bias;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return single(inputShape);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const t = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
    return tf.tidy(() => {
      const p = t.shape[1];
      const add = new Float32Array(p);
      add[p - 1] = this.bias;
      return tf.add(t, tf.tensor2d(add, [1, p]));
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), bias: this.bias };
  }
}
tf.serialization.registerClass(GateBias);

const predictors = new WeakMap<tf.LayersModel, tf.LayersModel>();

/**
 * θ (and the field) for one analysis copy `small` [1,S,S,4] (RGB + mask; any size works, the model's
 * AreaDownscale brings it to S×S): a sub-model of the trained generator that stops before the apply.
 */
export function predictColorTransform(model: tf.LayersModel, small: tf.Tensor4D): ColorTransformParams {
  let sub = predictors.get(model);
  if (!sub) {
    const outputs = [model.getLayer('g_gate').output as tf.SymbolicTensor];
    if (model.layers.some((l) => l.name === 'g_field')) outputs.push(model.getLayer('g_field').output as tf.SymbolicTensor);
    sub = tf.model({ inputs: model.inputs, outputs, name: 'generator_parameters' });
    predictors.set(model, sub);
  }
  const out = sub.predict(small) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(out) ? out : [out];
  try {
    const theta = new Float32Array(list[0].dataSync() as Float32Array);
    if (list.length < 2) return { theta };
    const [, h, w] = list[1].shape as number[];
    return { theta, field: { width: w, height: h, data: new Float32Array(list[1].dataSync() as Float32Array) } };
  } finally {
    tf.dispose(list);
  }
}

/**
 * The implementation of the colour-transform entries (src/models/registry.ts: `global`, and `pct`
 * with `field`): the builder and the parameter-network ONNX exporter.
 */
export function colorTransformImplementation(field: boolean): GeneratorImplementation {
  return {
    build: (cfg: GeneratorConfig) => buildColorTransformGenerator({ field, analysisSize: cfg.analysisSize, base: cfg.base, hidden: cfg.hidden, gateBias: cfg.gateBias, histogramBins: cfg.histogramBins, mlpLayers: cfg.mlpLayers, seed: cfg.seed }),
    exportOnnx: (model, cfg, opts) => exportColorTransformToOnnx(model, cfg, opts),
  };
}
