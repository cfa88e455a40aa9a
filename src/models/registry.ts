/**
 * Generators by name (like pytorch-CycleGAN-and-pix2pix's `find_model_using_name`): each entry says
 * how to build the model from a GeneratorConfig, its stride (what runGenerator pads to), its input
 * channels, whether it exports to ONNX, whether it applies its output at any resolution, and the
 * config defaults its CLI name stands for. The trainer, experiment, export, pipeline and web app look
 * a generator up here. Adding one: a builder file plus one `registerGenerator` call.
 */
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { GeneratorConfig } from './generator-config.ts';
import { buildPaperGenerator, paperInputChannels } from './paper.ts';
import { buildColorTransformGenerator } from './color-transform.ts';

export interface GeneratorEntry {
  name: string;
  description: string;
  build(cfg: GeneratorConfig): tf.LayersModel;
  /** H and W must be multiples of this (runGenerator pads); 1 = any size. */
  stride: number;
  inputChannels(cfg: GeneratorConfig): 3 | 4;
  /**
   * The ONNX exporter (src/export) handles this generator: the whole G, or for `fullResolution`
   * generators the parameter network before the apply (which stays in JavaScript).
   */
  onnx: boolean;
  /**
   * The model applies its change at the input's own resolution (it downsizes internally for the
   * analysis), so the pipeline runs it on the full-resolution image instead of upsampling G(x) − x.
   */
  fullResolution: boolean;
  /** Config this name stands for (merged under the user's options). */
  defaults: Readonly<GeneratorConfig>;
}

const GENERATORS = new Map<string, GeneratorEntry>();

/** Registers a generator (a new name; re-registering a name is an error). */
export function registerGenerator(entry: GeneratorEntry): void {
  if (!/^[a-z][a-z0-9-]*$/.test(entry.name)) throw new HarmoniaError(`registerGenerator: name must be lower-case letters, digits or "-", got "${entry.name}"`);
  if (GENERATORS.has(entry.name)) throw new HarmoniaError(`registerGenerator: "${entry.name}" is already registered`);
  if (!Number.isInteger(entry.stride) || entry.stride < 1) throw new HarmoniaError(`registerGenerator: stride must be a positive integer, got ${entry.stride}`);
  GENERATORS.set(entry.name, entry);
}

/** The entry of generator `name`; unknown names list the registered ones. */
export function generatorEntry(name: string): GeneratorEntry {
  const e = GENERATORS.get(name);
  if (!e) throw new HarmoniaError(`generator: unknown kind "${name}" (registered: ${generatorNames().join(', ')})`);
  return e;
}

export function generatorNames(): string[] {
  return [...GENERATORS.keys()];
}

/** The config a generator name stands for, with `over` on top (kind set to the name). */
export function generatorConfig(name: string, over: GeneratorConfig = {}): GeneratorConfig {
  const e = generatorEntry(name);
  return { ...e.defaults, ...over, kind: name };
}

registerGenerator({
  name: 'paper',
  description: "the paper's G: 3 stride-2 convs down, 3 transposed convs up, ReLU (switches: U-Net, mask input, residual)",
  build: (cfg) => buildPaperGenerator(cfg),
  stride: 8,
  inputChannels: (cfg) => paperInputChannels(cfg),
  onnx: true,
  fullResolution: false,
  defaults: { base: 32, unet: false, maskInput: false, residual: false },
});

/** The registry entry of a colour-transform generator (`global` or `pct`). */
function colorTransformEntry(kind: 'global' | 'pct', description: string): GeneratorEntry {
  return {
    name: kind,
    description,
    build: (cfg) => buildColorTransformGenerator({ kind, analysisSize: cfg.analysisSize, base: cfg.base, hidden: cfg.hidden, gateBias: cfg.gateBias, histogramBins: cfg.histogramBins, mlpLayers: cfg.mlpLayers, seed: cfg.seed }),
    stride: 1,
    inputChannels: () => 4,
    // the parameter network (analysis copy → θ, + the pct field) exports; the apply stays in JavaScript
    onnx: true,
    fullResolution: true,
    defaults: { base: 32, analysisSize: 128, hidden: 128, gateBias: 2 },
  };
}

registerGenerator(colorTransformEntry('global', 'global colour transform: a CNN on a small copy of [RGB, mask], foreground/background pooling, an MLP → per-channel curves + one 3×4 affine + a blend gate, applied at full resolution'));
registerGenerator(colorTransformEntry('pct', 'global transform + a per-pixel 3×4 affine field predicted at 1/16 of the analysis copy and upsampled to full resolution (PCT-Net style)'));
