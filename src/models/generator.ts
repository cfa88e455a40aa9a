/**
 * The refinement generator G (paper: a fully convolutional network with 3 down-sampling and 3
 * up-sampling layers, each followed by ReLU), as a tf.LayersModel so it saves and loads in the
 * standard TensorFlow.js format (Node and browser).
 *
 * Paper G (PAPER_GENERATOR): conv 3→32→64→128 (4×4, stride 2, 'same', bias, ReLU), then
 * conv2dTranspose 128→64→32→3 (4×4, stride 2, 'same', bias; ReLU, ReLU, sigmoid). 331,075 params.
 * Options beyond the paper: `base` width, U-Net skip connections (encoder features concatenated
 * into the decoder), the mask as a 4th input channel, and a residual output blended by the mask
 * so the background is untouched.
 *
 * The model itself needs H, W multiples of 8; `runGenerator` takes any size (pads, then crops).
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { layerSeed } from './seed.ts';
import { generatorEntry } from './registry.ts';
import { ChannelSlice, ResidualBlend } from './layers.ts';
import { GENERATOR_STRIDE } from './pad.ts';

export interface GeneratorConfig {
  /** Registered generator name (src/models/registry.ts): 'paper' (default), 'global', 'pct', … */
  kind?: string;
  /** Colour-transform generators: side of the square analysis copy the backbone sees. Default 128. */
  analysisSize?: number;
  /** Colour-transform generators: MLP width. Default 128. */
  hidden?: number;
  /** Colour-transform generators: bins per channel of the foreground/background colour histograms fed to the MLP (0 = off). Default 0. */
  histogramBins?: number;
  /** Colour-transform generators: hidden layers of the MLP. Default 1. */
  mlpLayers?: number;
  /** Colour-transform generators: initial blend-gate logit. Default 2. */
  gateBias?: number;
  /** Channels of the first layer; the encoder has base, 2·base, 4·base. Default 32. */
  base?: number;
  /** U-Net skip connections (encoder features concatenated into the decoder). Default false. */
  unet?: boolean;
  /** The mask is a 4th input channel seen by the convolutions. Default false. */
  maskInput?: boolean;
  /**
   * Output = input + scale·tanh(delta), clipped to [0,1], blended by the mask so pixels with
   * mask 0 are returned unchanged. Needs the mask (the model input then has 4 channels even when
   * `maskInput` is false; the convolutions then see RGB only). Default false.
   */
  residual?: boolean;
  /** Largest change the residual output can make (tanh scale). Default 1. */
  residualScale?: number;
  /** Seed for the weight initialisers: the same config and seed give identical weights. Default 0. */
  seed?: number;
}

export const PAPER_GENERATOR: Readonly<GeneratorConfig> = Object.freeze({ base: 32, unet: false, maskInput: false, residual: false });

export { GENERATOR_STRIDE } from './pad.ts'; // defined there (no TensorFlow.js), for ONNX Runtime inference

export type PadMode = 'reflect' | 'replicate';

export interface RunGeneratorOptions extends GeneratorConfig {
  /** How runGenerator pads to a multiple of 8. Default 'reflect' (replicate when a side is too small). */
  pad?: PadMode;
}

interface ResolvedGenerator {
  base: number;
  unet: boolean;
  maskInput: boolean;
  residual: boolean;
  residualScale: number;
  seed: number;
}

function resolve(cfg: GeneratorConfig = {}): ResolvedGenerator {
  const base = cfg.base ?? 32;
  if (!Number.isInteger(base) || base < 1 || base > 1024) throw new HarmoniaError(`buildGenerator: base must be an integer in 1..1024, got ${cfg.base}`);
  const residualScale = cfg.residualScale ?? 1;
  if (!(residualScale > 0 && residualScale <= 1)) throw new HarmoniaError(`buildGenerator: residualScale must be in (0, 1], got ${cfg.residualScale}`);
  const seed = cfg.seed ?? 0;
  if (!Number.isFinite(seed)) throw new HarmoniaError(`buildGenerator: seed must be a finite number, got ${cfg.seed}`);
  return { base, unet: cfg.unet ?? false, maskInput: cfg.maskInput ?? false, residual: cfg.residual ?? false, residualScale, seed };
}

/** Input channels of a generator built from `cfg` (paper G: 4 when the mask is an input or the output is residual). */
export function generatorInputChannels(cfg: GeneratorConfig = {}): 3 | 4 {
  return generatorEntry(cfg.kind ?? 'paper').inputChannels(cfg);
}

/** Input channels of the paper's G. */
export function paperInputChannels(cfg: GeneratorConfig = {}): 3 | 4 {
  return cfg.maskInput || cfg.residual ? 4 : 3;
}

export { layerSeed } from './seed.ts';

/** Builds the generator named by `cfg.kind` (default 'paper') from the registry. */
export function buildGenerator(cfg: GeneratorConfig = {}): tf.LayersModel {
  return generatorEntry(cfg.kind ?? 'paper').build(cfg);
}

/** Builds the paper's G. Input [N,H,W,3|4] in [0,1] (4th channel = mask), H and W multiples of 8; output [N,H,W,3] in [0,1]. */
export function buildPaperGenerator(cfg: GeneratorConfig = {}): tf.LayersModel {
  const c = resolve(cfg);
  const inC = generatorInputChannels(c);
  const he = (name: string) => tf.initializers.heUniform({ seed: layerSeed(c.seed, name) });
  const glorot = (name: string) => tf.initializers.glorotUniform({ seed: layerSeed(c.seed, name) });
  const input = tf.input({ shape: [null, null, inC], name: 'g_input' });
  let h: tf.SymbolicTensor = input;
  if (inC === 4 && !c.maskInput) h = new ChannelSlice({ begin: 0, size: 3, name: 'g_rgb' }).apply(h) as tf.SymbolicTensor;
  const widths = [c.base, 2 * c.base, 4 * c.base];
  const skips: tf.SymbolicTensor[] = [];
  widths.forEach((filters, i) => {
    const name = `g_enc${i + 1}`;
    h = tf.layers.conv2d({ filters, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: he(name), name }).apply(h) as tf.SymbolicTensor;
    skips.push(h);
  });
  const decWidths = [2 * c.base, c.base];
  decWidths.forEach((filters, i) => {
    const name = `g_dec${i + 1}`;
    h = tf.layers.conv2dTranspose({ filters, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: he(name), name }).apply(h) as tf.SymbolicTensor;
    if (c.unet) h = tf.layers.concatenate({ axis: -1, name: `g_skip${i + 1}` }).apply([h, skips[1 - i]]) as tf.SymbolicTensor;
  });
  const outAct = c.residual ? 'linear' : 'sigmoid';
  h = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: outAct, kernelInitializer: glorot('g_out'), name: 'g_out' }).apply(h) as tf.SymbolicTensor;
  if (c.residual) h = new ResidualBlend({ scale: c.residualScale, name: 'g_residual' }).apply([input, h]) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: h, name: 'generator' });
}

/** Total number of weights (trainable and not) of a model. */
export function countParams(model: tf.LayersModel): number {
  return model.countParams();
}

/** Input channels the model expects (last axis of its input). */
export function modelInputChannels(model: tf.LayersModel): number {
  const shape = model.inputs[0].shape;
  const c = shape[shape.length - 1];
  if (typeof c !== 'number') throw new HarmoniaError(`model "${model.name}": input channel count is not fixed`);
  return c;
}

/**
 * Pads `x` along `axis` by `before`/`after` using slices (gradient-safe; tf.mirrorPad's gradient
 * is wrong in tfjs 4.22). 'reflect' mirrors without repeating the edge (needs size > pad),
 * otherwise falls back to 'replicate' (repeats the edge).
 */
export function padAxis(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number, mode: PadMode = 'reflect'): tf.Tensor4D {
  if (before === 0 && after === 0) return x.clone();
  return tf.tidy(() => {
    const n = x.shape[axis];
    const take = (start: number, len: number): tf.Tensor4D => {
      const b = [0, 0, 0, 0];
      const s = [-1, -1, -1, -1];
      b[axis] = start;
      s[axis] = len;
      return tf.slice(x, b, s);
    };
    const reflect = mode === 'reflect' && n > Math.max(before, after);
    const parts: tf.Tensor4D[] = [];
    if (before > 0) {
      if (reflect) parts.push(tf.reverse(take(1, before), axis));
      else {
        const reps = [1, 1, 1, 1];
        reps[axis] = before;
        parts.push(tf.tile(take(0, 1), reps));
      }
    }
    parts.push(x);
    if (after > 0) {
      if (reflect) parts.push(tf.reverse(take(n - 1 - after, after), axis));
      else {
        const reps = [1, 1, 1, 1];
        reps[axis] = after;
        parts.push(tf.tile(take(n - 1, 1), reps));
      }
    }
    return tf.concat(parts, axis);
  });
}

/**
 * Runs G on any size: pads input (and mask) to a multiple of the generator's stride (8 for the
 * paper's G, 1 = no padding for the colour-transform generators; reflect by default, centred),
 * appends the mask channel when the model takes one, then crops the output back, so the output
 * is [N,H,W,3] for an input [N,H,W,3]. Gradient-safe (usable inside tf.variableGrads).
 * `mask` is [N,H,W,1] in [0,1]; it is required when the model has 4 input channels.
 */
export function runGenerator(model: tf.LayersModel, input: tf.Tensor4D, mask?: tf.Tensor4D, opts: RunGeneratorOptions = {}): tf.Tensor4D {
  if (input.rank !== 4 || input.shape[3] !== 3) throw new HarmoniaError(`runGenerator: input must be [N,H,W,3], got [${input.shape.join(',')}]`);
  const [n, hgt, wid] = input.shape;
  const want = modelInputChannels(model);
  if (want !== 3 && want !== 4) throw new HarmoniaError(`runGenerator: model "${model.name}" takes ${want} channels; expected 3 or 4`);
  const cfgChannels = opts.kind !== undefined || opts.maskInput !== undefined || opts.residual !== undefined ? generatorInputChannels(opts) : undefined;
  if (cfgChannels !== undefined && cfgChannels !== want) {
    throw new HarmoniaError(`runGenerator: config implies ${cfgChannels} input channels but model "${model.name}" takes ${want}`);
  }
  if (want === 4) {
    if (!mask) throw new HarmoniaError(`runGenerator: model "${model.name}" needs a mask (it takes RGB + mask)`);
  }
  if (mask && (mask.rank !== 4 || mask.shape[0] !== n || mask.shape[1] !== hgt || mask.shape[2] !== wid || mask.shape[3] !== 1)) {
    throw new HarmoniaError(`runGenerator: mask must be [${n},${hgt},${wid},1], got [${mask.shape.join(',')}]`);
  }
  const mode = opts.pad ?? 'reflect';
  if (mode !== 'reflect' && mode !== 'replicate') throw new HarmoniaError(`runGenerator: pad must be reflect or replicate, got "${String(mode)}"`);
  const stride = generatorEntry(opts.kind ?? 'paper').stride;
  return tf.tidy(() => {
    let x: tf.Tensor4D = want === 4 ? tf.concat([input, mask as tf.Tensor4D], 3) : input;
    const ph = (stride - (hgt % stride)) % stride;
    const pw = (stride - (wid % stride)) % stride;
    const top = Math.floor(ph / 2);
    const left = Math.floor(pw / 2);
    if (ph > 0) x = padAxis(x, 1, top, ph - top, mode);
    if (pw > 0) x = padAxis(x, 2, left, pw - left, mode);
    const y = model.apply(x) as tf.Tensor4D;
    if (ph === 0 && pw === 0) return y;
    return tf.slice(y, [0, top, left, 0], [n, hgt, wid, 3]);
  });
}
