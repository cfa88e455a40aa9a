/**
 * The Node API: `await harmonize({ composite, mask })` → encoded image bytes.
 * Inputs are file paths, encoded bytes, or in-memory images; the model defaults to the one shipped
 * in models/default (the intrinsic stage alone runs when there is none and `stage` is not forced).
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readImage, readMask, encodeImage, assertValidImage, type ImageSource, type OutputFormat } from '../image/io.ts';
import type { HarmonizationModel, RefineOptions, RefineResult, Stage } from './refine.ts';
import { harmonizeWithHooks, intrinsicRuns, type HookedModel } from './stages.ts';
import { isModelDir, readModelMeta, DEFAULT_MODEL_DIR } from '../models/folder-meta.ts';
import { inferenceMode, onnxHookIfReady, withOnnxRunner } from '../models/onnx.ts';
// TensorFlow.js (the engine, refine.ts, the TF.js model loader) is imported only when it runs: a model
// folder whose generator runs on ONNX Runtime (the shipped one, by default) is harmonized without it

export interface HarmonizeOptions extends RefineOptions {
  /** The composite: a path, encoded bytes (JPEG/PNG/WebP/TIFF), or a FloatImage. */
  composite: ImageSource | FloatImage;
  /** The mask (white = foreground, any channel count; a non-opaque alpha channel is used as the mask). */
  mask: ImageSource | Mask;
  /** A loaded model, a model folder, or undefined for the shipped default. `null` = no GAN. */
  model?: HarmonizationModel | string | null;
  /** Output encoding (default png). */
  format?: OutputFormat;
  quality?: number;
  /** Decompression-bomb guard for the inputs (pixels). */
  maxPixels?: number;
}

export interface HarmonizeReport extends RefineResult {
  /** The encoded result. */
  image: Buffer;
  width: number;
  height: number;
  format: OutputFormat;
  /** Model used, or undefined for the intrinsic stage alone. */
  model?: string;
}

const modelCache = new Map<string, Promise<HarmonizationModel>>();

/** Loads (once per process) a model folder. */
export function cachedModel(dir: string): Promise<HarmonizationModel> {
  let p = modelCache.get(dir);
  if (!p) {
    p = import('./model.ts').then((m) => m.loadHarmonizationModel(dir));
    modelCache.set(dir, p);
    p.catch(() => modelCache.delete(dir));
  }
  return p;
}

function isFloatImage(x: unknown): x is FloatImage {
  return typeof x === 'object' && x !== null && 'data' in x && 'channels' in x && (x as FloatImage).data instanceof Float32Array;
}
function isMask(x: unknown): x is Mask {
  return typeof x === 'object' && x !== null && 'data' in x && !('channels' in x) && (x as Mask).data instanceof Float32Array;
}

/** Resolves which model a call uses, honouring `stage`. */
export async function resolveModel(model: HarmonizeOptions['model'], stage: Stage | undefined): Promise<HarmonizationModel | undefined> {
  if (stage === 'intrinsic' || model === null) return undefined;
  if (model && typeof model !== 'string') return model;
  const dir = model ?? DEFAULT_MODEL_DIR;
  if (!model && !stage && !isModelDir(dir)) return undefined; // no shipped model: intrinsic stage alone
  const { initEngine } = await import('../engine/index.ts');
  await initEngine();
  // G on ONNX Runtime when installed, unless HARMONIA_INFERENCE=tfjs (src/models/onnx.ts).
  return withOnnxRunner(dir, await cachedModel(dir));
}

/**
 * The registry's `fullResolution` flag of the built-in generator kinds (src/models/registry.ts, which
 * loads TensorFlow.js, so it is not imported here; test/pipeline/onnx-first.test.ts checks the two
 * agree). A kind not listed takes the TensorFlow.js path.
 */
export const ONNX_FIRST_KINDS: Readonly<Record<string, boolean>> = { paper: false, global: true, pct: true };

const hookedCache = new Map<string, HookedModel>();

/**
 * The model `resolveModel` would give, when its generator runs on ONNX Runtime, made without
 * TensorFlow.js: the folder's description (harmonia.json) + the ONNX Runtime hook from its fresh
 * model.onnx (once per folder and process, shared with withOnnxRunner). undefined whenever that is not
 * certain — no model or a loaded one, stage intrinsic, HARMONIA_INFERENCE=tfjs, HARMONIA_BACKEND set
 * (initEngine honours and checks it), a kind not in ONNX_FIRST_KINDS, any error, no hook — and the
 * caller then takes resolveModel's path, which behaves (and fails, and reports) exactly as before.
 */
export async function resolveOnnxFirstModel(model: HarmonizeOptions['model'], stage: Stage | undefined): Promise<HookedModel | undefined> {
  if (stage === 'intrinsic' || model === null || (model !== undefined && typeof model !== 'string')) return undefined;
  if (process.env.HARMONIA_BACKEND) return undefined;
  const dir = model ?? DEFAULT_MODEL_DIR;
  try {
    if (!model && !stage && !isModelDir(dir)) return undefined;
    if (inferenceMode() === 'tfjs') return undefined;
    const known = hookedCache.get(dir);
    if (known) return known;
    const meta = await readModelMeta(dir);
    const fullResolution = ONNX_FIRST_KINDS[meta.generator.kind ?? 'paper'];
    if (fullResolution === undefined) return undefined;
    const h = await onnxHookIfReady(dir, fullResolution);
    if (!h) return undefined;
    const hooked: HookedModel = h.transformParams
      ? { config: meta.generator, card: meta.card, transformParams: h.transformParams }
      : { config: meta.generator, card: meta.card, runner: h.runner };
    hookedCache.set(dir, hooked);
    return hooked;
  } catch {
    return undefined;
  }
}

/** The output formats `format` accepts. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp', 'tiff'];

/** Throws a HarmoniaError naming the first non-finite value of an in-memory image or mask. */
function assertFinite(data: Float32Array, what: string, channels: number, width: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) { // NaN or ±Infinity
      const p = Math.floor(i / channels);
      throw new HarmoniaError(`harmonize: ${what} has a non-finite value (${v}) at pixel (${p % width}, ${Math.floor(p / width)}); pixel values must be finite (nominally in [0, 1])`);
    }
  }
}

/**
 * Checks every option of harmonize()/harmonizeWithReport() before any work (no file is read):
 * `format`, `quality`, `maxPixels`, `stage`, `analysisMaxSide`, `model`, and in-memory inputs
 * (shape and finite values). Throws a HarmoniaError naming the option.
 */
export function checkHarmonizeOptions(opts: HarmonizeOptions): void {
  if (!opts || typeof opts !== 'object') throw new HarmoniaError('harmonize: options must be an object with composite and mask');
  if (opts.composite === undefined || opts.mask === undefined) throw new HarmoniaError('harmonize: both composite and mask are required');
  if (opts.format !== undefined && !OUTPUT_FORMATS.includes(opts.format)) {
    throw new HarmoniaError(`harmonize: format must be ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}${String(opts.format) === 'jpg' ? ' (use "jpeg")' : ''}`);
  }
  if (opts.quality !== undefined && !(Number.isInteger(opts.quality) && opts.quality >= 1 && opts.quality <= 100)) {
    throw new HarmoniaError(`harmonize: quality must be an integer in [1, 100], got ${JSON.stringify(opts.quality)}`);
  }
  if (opts.maxPixels !== undefined && !(Number.isSafeInteger(opts.maxPixels) && opts.maxPixels >= 1)) {
    throw new HarmoniaError(`harmonize: maxPixels must be a positive integer, got ${JSON.stringify(opts.maxPixels)}`);
  }
  if (opts.stage !== undefined && !['intrinsic', 'gan', 'full'].includes(opts.stage)) {
    throw new HarmoniaError(`harmonize: stage must be intrinsic, gan or full, got ${JSON.stringify(opts.stage)}`);
  }
  if (opts.analysisMaxSide !== undefined && !(Number.isInteger(opts.analysisMaxSide) && opts.analysisMaxSide >= 16 && opts.analysisMaxSide <= 4096)) {
    throw new HarmoniaError(`harmonize: analysisMaxSide must be an integer in [16, 4096], got ${JSON.stringify(opts.analysisMaxSide)}`);
  }
  const m = opts.model;
  if (m !== undefined && m !== null && typeof m !== 'string') {
    const ok = typeof m === 'object' && !!m.config && typeof m.config === 'object' &&
      ((!!m.generator && typeof (m.generator as { predict?: unknown }).predict === 'function') || typeof m.runner === 'function');
    if (!ok) throw new HarmoniaError('harmonize: model must be a model folder path, a loaded HarmonizationModel ({ generator, config }), or null for no GAN stage');
  }
  if (typeof m === 'string' && m === '') throw new HarmoniaError('harmonize: model must not be an empty path');
  const c = opts.composite;
  if (typeof c === 'object' && c !== null && !(c instanceof Uint8Array)) {
    if (!isFloatImage(c)) throw new HarmoniaError('harmonize: composite must be a path, encoded bytes, or a FloatImage { width, height, channels, data: Float32Array }');
    assertValidImage(c, 'harmonize: composite');
    if (c.channels !== 3) throw new HarmoniaError(`harmonize: composite must have 3 channels (RGB), got ${c.channels}`);
    assertFinite(c.data, 'composite', c.channels, c.width);
  } else if (typeof c !== 'string' && !(c instanceof Uint8Array)) {
    throw new HarmoniaError(`harmonize: composite must be a path, encoded bytes, or a FloatImage, got ${c === null ? 'null' : typeof c}`);
  }
  const k = opts.mask;
  if (typeof k === 'object' && k !== null && !(k instanceof Uint8Array)) {
    if (!isMask(k)) throw new HarmoniaError('harmonize: mask must be a path, encoded bytes, or a Mask { width, height, data: Float32Array }');
    if (!(Number.isInteger(k.width) && Number.isInteger(k.height) && k.width >= 1 && k.height >= 1) || k.data.length !== k.width * k.height) {
      throw new HarmoniaError(`harmonize: mask must have width×height values, got ${k.data.length} for ${k.width}×${k.height}`);
    }
    assertFinite(k.data, 'mask', 1, k.width);
  } else if (typeof k !== 'string' && !(k instanceof Uint8Array)) {
    throw new HarmoniaError(`harmonize: mask must be a path, encoded bytes, or a Mask, got ${k === null ? 'null' : typeof k}`);
  }
}

/** Full report: result bytes plus intermediates, timings and notes. */
export async function harmonizeWithReport(opts: HarmonizeOptions): Promise<HarmonizeReport> {
  checkHarmonizeOptions(opts);
  const composite = isFloatImage(opts.composite) ? opts.composite : await readImage(opts.composite, { maxPixels: opts.maxPixels });
  const what = typeof opts.composite === 'string' ? `the composite ${opts.composite}` : 'the composite';
  const mask = isMask(opts.mask)
    ? opts.mask
    : await readMask(opts.mask, { maxPixels: opts.maxPixels, expect: { width: composite.width, height: composite.height, what } });
  if (mask.width !== composite.width || mask.height !== composite.height) {
    throw new HarmoniaError(`harmonize: mask is ${mask.width}×${mask.height} but the composite is ${composite.width}×${composite.height}`);
  }
  let r: RefineResult;
  let model: { card?: HarmonizationModel['card'] } | undefined;
  const hooked = await resolveOnnxFirstModel(opts.model, opts.stage);
  if (hooked) {
    // G on ONNX Runtime without TensorFlow.js (the intrinsic stage, when it runs, loads its own modules)
    const intrinsic = intrinsicRuns(hooked, opts) ? await import('../intrinsic/index.ts') : undefined;
    r = harmonizeWithHooks(composite, mask, hooked, opts, intrinsic);
    model = hooked;
  } else {
    const resolved = await resolveModel(opts.model, opts.stage);
    const { harmonizeImage } = await import('./refine.ts');
    r = harmonizeImage(composite, mask, resolved, opts);
    model = resolved;
  }
  const format = opts.format ?? 'png';
  const image = await encodeImage(r.result, format, { quality: opts.quality });
  return { ...r, image, width: composite.width, height: composite.height, format, model: model?.card?.name };
}

/** Harmonizes a composite and returns the encoded result (PNG unless `format` says otherwise). */
export async function harmonize(opts: HarmonizeOptions): Promise<Buffer> {
  return (await harmonizeWithReport(opts)).image;
}
