/**
 * Generators by name (like pytorch-CycleGAN-and-pix2pix's `find_model_using_name` +
 * `modify_commandline_options`, and transformers.js's `SUPPORTED_TASKS`). Each entry carries the
 * generator's behaviour:
 *  - its description: stride (what inputs are padded to), input channels, inference family,
 *    analysis size, its own options (each with its CLI flag and default), the config its name stands for;
 *  - its implementation (build, ONNX exporter), loaded only when a network is built or exported:
 *    a user entry gives it (or a loader of it); the built-in ones are provided by src/models/generator.ts,
 *    the TF.js side, so that this file and everything the browser bundles stay free of TF.js.
 * This file and the entries' descriptions load without TensorFlow.js, so the ONNX Runtime path asks
 * them too. Everything that asks "which kind?" asks here: the trainer, the CLI, the exporter, the
 * model-folder checks and the inference driver.
 *
 * Adding a generator: one file that calls `registerGenerator({...})` (the "registry line"), loaded
 * with `harmonia <command> --import <file>` (src/config/modules.ts: the pool's worker threads import
 * it too).
 */
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { ExportConfig, ExportOptions } from '../export/generator.ts';
import type { GeneratorConfig } from './generator-config.ts';

/**
 * How the pipeline runs a generator at inference:
 *  - 'full-image': the network maps the (working-size) image to the harmonized image; the pipeline
 *    upsamples G(x) − x to full resolution (the paper's G);
 *  - 'analysis-apply': the network predicts colour-transform parameters θ (and a field) from an
 *    analysis copy of analysisSize² pixels, and the transform is applied at full resolution
 *    (applyColorTransformArrays; global, pct).
 */
export type InferenceFamily = 'full-image' | 'analysis-apply';

/** A generator option: a GeneratorConfig field with its CLI flag and default. */
export interface GeneratorOption {
  /** The GeneratorConfig field. */
  key: keyof GeneratorConfig & string;
  /** CLI flag without the dashes (`harmonia train --<flag>`). */
  flag: string;
  type: 'integer' | 'number' | 'boolean';
  description: string;
  /** The value an absent field means. */
  default: number | boolean;
  /** Changes the network's layers or shapes (compared between harmonia.json and model.onnx). Default true. */
  architecture?: boolean;
  /** The CLI's range for a number (inclusive). */
  min?: number;
  max?: number;
  /** A check beyond the range: the problem in words ("must be a multiple of 16"), or undefined. */
  check?(value: number): string | undefined;
}

/** What builds and exports the network (TensorFlow.js); loaded when needed. */
export interface GeneratorImplementation {
  build(cfg: GeneratorConfig): tf.LayersModel;
  /** The ONNX export (present exactly when the entry says `onnx: true`). */
  exportOnnx?(model: tf.LayersModel, cfg: ExportConfig, opts: ExportOptions): Uint8Array;
}

export interface GeneratorEntry {
  name: string;
  description: string;
  /** H and W of the network's input must be multiples of this (inputs are padded); 1 = any size. */
  stride: number;
  /** Input channels: 3 (RGB) or 4 (RGB + mask). */
  inputChannels(cfg: GeneratorConfig): 3 | 4;
  family: InferenceFamily;
  /** 'analysis-apply': side of the square analysis copy. */
  analysisSize?(cfg: GeneratorConfig): number;
  /** 'analysis-apply': the network also predicts a per-pixel field (ONNX output `field`). */
  field?: boolean;
  /** The implementation has an ONNX exporter (model.onnx is written when a folder is saved). */
  onnx: boolean;
  /** Its own options (CLI flags of `harmonia train`), with their defaults. */
  options: readonly GeneratorOption[];
  /** Config this name stands for (merged under the user's options). */
  defaults: Readonly<GeneratorConfig>;
  /**
   * The implementation, or a loader of it (`() => import('./my-generator.ts').then((m) => m.impl)`).
   * Absent for the built-in entries: src/models/generator.ts provides theirs (provideGeneratorImplementation).
   */
  implementation?: GeneratorImplementation | (() => Promise<GeneratorImplementation>);
}

const GENERATORS = new Map<string, GeneratorEntry>();
const LOADED = new Map<string, GeneratorImplementation>();

/** Registers a generator (a new name; re-registering a name is an error). */
export function registerGenerator(entry: GeneratorEntry): void {
  const where = `registerGenerator("${entry?.name}")`;
  if (!/^[a-z][a-z0-9-]*$/.test(entry.name)) throw new HarmoniaError(`registerGenerator: name must be lower-case letters, digits or "-", got "${entry.name}"`);
  if (GENERATORS.has(entry.name)) throw new HarmoniaError(`registerGenerator: "${entry.name}" is already registered`);
  if (!Number.isInteger(entry.stride) || entry.stride < 1) throw new HarmoniaError(`${where}: stride must be a positive integer, got ${entry.stride}`);
  if (entry.family !== 'full-image' && entry.family !== 'analysis-apply') throw new HarmoniaError(`${where}: family must be full-image or analysis-apply, got ${JSON.stringify(entry.family)}`);
  if (entry.family === 'analysis-apply' && typeof entry.analysisSize !== 'function') throw new HarmoniaError(`${where}: an analysis-apply generator needs analysisSize(cfg)`);
  if (!Array.isArray(entry.options)) throw new HarmoniaError(`${where}: options must be an array (may be empty)`);
  if (entry.implementation !== undefined && typeof entry.implementation !== 'function' && typeof entry.implementation.build !== 'function') throw new HarmoniaError(`${where}: implementation must have build(cfg), or be a function that loads it`);
  GENERATORS.set(entry.name, entry);
  if (entry.implementation !== undefined && typeof entry.implementation !== 'function') LOADED.set(entry.name, entry.implementation);
}

/** The entry of generator `name`; unknown names list the registered ones. */
export function generatorEntry(name: string): GeneratorEntry {
  const e = GENERATORS.get(name);
  if (!e) throw new HarmoniaError(`generator: unknown kind "${name}" (registered: ${generatorNames().join(', ')}; a generator of your own is registered by a module given with --import)`);
  return e;
}

/** The kind a config names (the default generator when it names none). */
export function generatorKind(cfg: GeneratorConfig): string {
  return cfg.kind ?? DEFAULT_GENERATOR;
}

/** The entry of the generator a config describes. */
export function generatorEntryOf(cfg: GeneratorConfig): GeneratorEntry {
  return generatorEntry(generatorKind(cfg));
}

export function generatorNames(): string[] {
  return [...GENERATORS.keys()];
}

/** The config a generator name stands for, with `over` on top (kind set to the name). */
export function generatorConfig(name: string, over: GeneratorConfig = {}): GeneratorConfig {
  const e = generatorEntry(name);
  return { ...e.defaults, ...over, kind: name };
}

/** Input channels of the generator a config describes. */
export function generatorInputChannels(cfg: GeneratorConfig = {}): 3 | 4 {
  return generatorEntryOf(cfg).inputChannels(cfg);
}

/** Side of the analysis copy of an 'analysis-apply' generator's config. */
export function analysisSizeOf(cfg: GeneratorConfig): number {
  const e = generatorEntryOf(cfg);
  if (e.family !== 'analysis-apply' || !e.analysisSize) throw new HarmoniaError(`generator "${e.name}" is a ${e.family} generator: it has no analysis copy`);
  return e.analysisSize(cfg);
}

/** The implementation of generator `name`, loading it on first use. */
export async function loadGeneratorImplementation(name: string): Promise<GeneratorImplementation> {
  const known = LOADED.get(name);
  if (known) return known;
  const e = generatorEntry(name);
  if (!e.implementation) return generatorImplementation(name);
  const impl = typeof e.implementation === 'function' ? await e.implementation() : e.implementation;
  if (typeof impl?.build !== 'function') throw new HarmoniaError(`generator "${name}": its implementation has no build(cfg)`);
  LOADED.set(name, impl);
  return impl;
}

/**
 * The implementation of generator `name`, synchronously: registered as an object, provided by
 * provideGeneratorImplementation (generator.ts does so for the built-in ones), or loaded earlier.
 */
export function generatorImplementation(name: string): GeneratorImplementation {
  const known = LOADED.get(name);
  if (known) return known;
  const e = generatorEntry(name);
  if (!e.implementation) throw new HarmoniaError(`generator "${name}": its implementation is provided by src/models/generator.ts (TensorFlow.js), which is not loaded`);
  throw new HarmoniaError(`generator "${name}": its implementation is not loaded yet (await loadGeneratorImplementation("${name}") first)`);
}

/** Supplies a loaded implementation for a registered entry (what its loader would give). */
export function provideGeneratorImplementation(name: string, impl: GeneratorImplementation): void {
  generatorEntry(name);
  LOADED.set(name, impl);
}

/**
 * The config with each option of its entry filled in with its default, and its kind named: two
 * configs that build the same network normalise to the same values.
 */
export function normalizedGeneratorConfig(cfg: GeneratorConfig): GeneratorConfig {
  const kind = generatorKind(cfg);
  const e = GENERATORS.get(kind);
  const out: Record<string, unknown> = { ...cfg, kind };
  for (const o of e?.options ?? []) if (out[o.key] === undefined) out[o.key] = o.default;
  return out as GeneratorConfig;
}

/** The option keys that change a generator's network (its entry's, or every key given when the kind is not registered). */
export function architectureKeys(cfg: GeneratorConfig): string[] {
  const e = GENERATORS.get(generatorKind(cfg));
  if (!e) return Object.keys(cfg).filter((k) => k !== 'seed' && k !== 'kind');
  return e.options.filter((o) => o.architecture !== false).map((o) => o.key);
}

/** Every generator option by CLI flag, with the generators that have it (options of several entries share a flag). */
export function generatorOptionsByFlag(): Map<string, { option: GeneratorOption; kinds: string[] }> {
  const out = new Map<string, { option: GeneratorOption; kinds: string[] }>();
  for (const e of GENERATORS.values()) {
    for (const o of e.options) {
      const known = out.get(o.flag);
      if (known) known.kinds.push(e.name);
      else out.set(o.flag, { option: o, kinds: [e.name] });
    }
  }
  return out;
}

// --- the built-in generators -----------------------------------------------------------------

const PAPER: GeneratorEntry = {
  name: 'paper',
  description: "the paper's G: 3 stride-2 convs down, 3 transposed convs up, ReLU (switches: U-Net, mask input, residual)",
  // three stride-2 convolutions: H and W must be multiples of 2³
  stride: 8,
  inputChannels: (cfg) => (cfg.maskInput || cfg.residual ? 4 : 3),
  family: 'full-image',
  onnx: true,
  options: [
    { key: 'base', flag: 'width', type: 'integer', default: 32, min: 1, max: 256, description: 'channels of the first generator layer (the encoder doubles them)' },
    { key: 'unet', flag: 'unet', type: 'boolean', default: false, description: 'U-Net skip connections in G' },
    { key: 'maskInput', flag: 'mask-input', type: 'boolean', default: false, description: 'mask as a 4th input channel of G' },
    { key: 'residual', flag: 'residual', type: 'boolean', default: false, description: 'residual G output blended by the mask' },
    { key: 'residualScale', flag: 'residual-scale', type: 'number', default: 1, min: 0, max: 1, check: (v) => (v > 0 ? undefined : 'must be in (0, 1]'), description: 'largest change the residual output makes (tanh scale, in (0, 1])' },
  ],
  defaults: { base: 32, unet: false, maskInput: false, residual: false },
  // implementation: PAPER_IMPLEMENTATION (paper.ts), provided by generator.ts
};

/** The default generator: what a config without `kind` means. */
export const DEFAULT_GENERATOR: string = PAPER.name;

/** The colour-transform generators' analysis copy side when a config gives none. */
export const DEFAULT_ANALYSIS_SIZE = 128;

const COLOR_TRANSFORM_OPTIONS: readonly GeneratorOption[] = [
  { key: 'analysisSize', flag: 'analysis-size', type: 'integer', default: DEFAULT_ANALYSIS_SIZE, min: 32, max: 256, check: (v) => (v % 16 === 0 ? undefined : 'must be a multiple of 16'), description: 'side of the analysis copy, a multiple of 16 in 32..256' },
  { key: 'base', flag: 'width', type: 'integer', default: 32, min: 1, max: 256, description: 'channels of the first backbone layer (then 2×, 4×, 4×)' },
  { key: 'hidden', flag: 'hidden', type: 'integer', default: 128, min: 1, max: 4096, description: 'width of the MLP' },
  { key: 'mlpLayers', flag: 'mlp-layers', type: 'integer', default: 1, min: 1, max: 4, description: 'hidden layers of the MLP' },
  { key: 'histogramBins', flag: 'histogram', type: 'integer', default: 0, min: 0, max: 64, check: (v) => (v === 1 ? 'must be 0 (off) or at least 2 bins' : undefined), description: 'bins per channel of the foreground/background colour histograms fed to the MLP (0 = off)' },
  { key: 'gateBias', flag: 'gate-bias', type: 'number', default: 2, min: -20, max: 20, description: 'initial blend-gate logit' },
];

/** The registry entry of a colour-transform generator (`global`, or `pct` with its per-pixel field). */
function colorTransformEntry(name: string, field: boolean, description: string): GeneratorEntry {
  return {
    name,
    description,
    stride: 1,
    inputChannels: () => 4,
    family: 'analysis-apply',
    analysisSize: (cfg) => cfg.analysisSize ?? DEFAULT_ANALYSIS_SIZE,
    field,
    // the parameter network (analysis copy → θ, + the field) exports; the apply stays in JavaScript
    onnx: true,
    options: COLOR_TRANSFORM_OPTIONS,
    defaults: { base: 32, analysisSize: DEFAULT_ANALYSIS_SIZE, hidden: 128, gateBias: 2 },
    // implementation: colorTransformImplementation(field) (color-transform.ts), provided by generator.ts
  };
}

registerGenerator(PAPER);
registerGenerator(colorTransformEntry('global', false, 'global colour transform: a CNN on a small copy of [RGB, mask], foreground/background pooling, an MLP → per-channel curves + one 3×4 affine + a blend gate, applied at full resolution'));
registerGenerator(colorTransformEntry('pct', true, 'global transform + a per-pixel 3×4 affine field predicted at 1/16 of the analysis copy and upsampled to full resolution (PCT-Net style)'));
