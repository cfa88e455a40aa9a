/**
 * The paper's G (PAPER_GENERATOR in generator.ts): conv 3→32→64→128 (4×4, stride 2, 'same', bias,
 * ReLU), then conv2dTranspose 128→64→32→3 (4×4, stride 2, 'same', bias; ReLU, ReLU, sigmoid), with the
 * switches beyond the paper (base width, U-Net skips, mask input, residual output). Its registry
 * entry (stride, input channels, options) is in registry.ts; PAPER_IMPLEMENTATION is what it loads.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { layerSeed } from './seed.ts';
import { ChannelSlice, ResidualBlend } from './layers.ts';
import type { GeneratorConfig } from './generator-config.ts';
import type { GeneratorImplementation } from './registry.ts';
import { exportGeneratorToOnnx } from '../export/generator.ts';

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

/** Input channels of the paper's G. */
export function paperInputChannels(cfg: GeneratorConfig = {}): 3 | 4 {
  return cfg.maskInput || cfg.residual ? 4 : 3;
}

/** Builds the paper's G. Input [N,H,W,3|4] in [0,1] (4th channel = mask), H and W multiples of 8; output [N,H,W,3] in [0,1]. */
export function buildPaperGenerator(cfg: GeneratorConfig = {}): tf.LayersModel {
  const c = resolve(cfg);
  const inC = paperInputChannels(c);
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

/** The paper entry's implementation (src/models/registry.ts loads it): the builder and the whole-G ONNX exporter. */
export const PAPER_IMPLEMENTATION: GeneratorImplementation = {
  build: (cfg) => buildPaperGenerator(cfg),
  exportOnnx: (model, cfg, opts) => exportGeneratorToOnnx(model, cfg, opts),
};
