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
 * The model itself needs H, W multiples of its registry entry's stride; `runGenerator` takes any size
 * (pads, then crops). buildGenerator and runGenerator ask the registry (src/models/registry.ts), whose
 * built-in implementations this file provides, so importing it makes them build synchronously.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { generatorEntryOf, generatorImplementation, generatorKind, provideGeneratorImplementation } from './registry.ts';
// with the built-in implementations provided (below): what TF.js-side code asks for a generator's build/exporter
export { generatorImplementation };
import { PAPER_IMPLEMENTATION } from './paper.ts';
import { colorTransformImplementation } from './color-transform.ts';
import type { PadMode } from './pad.ts';

// the config type is in generator-config.ts (no TensorFlow.js), for the registry and the folder description
export type { GeneratorConfig } from './generator-config.ts';
import type { GeneratorConfig } from './generator-config.ts';

export const PAPER_GENERATOR: Readonly<GeneratorConfig> = Object.freeze({ base: 32, unet: false, maskInput: false, residual: false });

export type { PadMode } from './pad.ts';

export interface RunGeneratorOptions extends GeneratorConfig {
  /** How runGenerator pads to a multiple of the generator's stride. Default 'reflect' (replicate when a side is too small). */
  pad?: PadMode;
}

// the built-in entries' implementations, so that buildGenerator works synchronously once this file is loaded
provideGeneratorImplementation('paper', PAPER_IMPLEMENTATION);
provideGeneratorImplementation('global', colorTransformImplementation(false));
provideGeneratorImplementation('pct', colorTransformImplementation(true));

// input channels are a registry fact (no TensorFlow.js): re-exported for the TF.js callers
export { generatorInputChannels } from './registry.ts';
import { generatorInputChannels } from './registry.ts';

export { layerSeed } from './seed.ts';
// the paper's G (its builder; the registry entry is in registry.ts)
export { buildPaperGenerator, paperInputChannels } from './paper.ts';

/** Builds the generator named by `cfg.kind` (the default generator when none) with its registry entry's implementation. */
export function buildGenerator(cfg: GeneratorConfig = {}): tf.LayersModel {
  return generatorImplementation(generatorKind(cfg)).build(cfg);
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
  // checked when the options describe the network (a kind, or one of its entry's options)
  const describes = opts.kind !== undefined || generatorEntryOf(opts).options.some((o) => opts[o.key] !== undefined);
  const cfgChannels = describes ? generatorInputChannels(opts) : undefined;
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
  const stride = generatorEntryOf(opts).stride;
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
