/**
 * The Node API: `await harmonize({ composite, mask })` → encoded image bytes.
 * Inputs are file paths, encoded bytes, or in-memory images; the model defaults to the one shipped
 * in models/default (the intrinsic stage alone runs when there is none and `stage` is not forced).
 */
import { HarmoniaError } from '../errors.ts';
import { initEngine } from '../engine/index.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readImage, readMask, encodeImage, type ImageSource, type OutputFormat } from '../image/io.ts';
import { harmonizeImage, type HarmonizationModel, type RefineOptions, type RefineResult, type Stage } from './refine.ts';
import { loadHarmonizationModel, isModelDir, DEFAULT_MODEL_DIR } from './model.ts';
import { withOnnxRunner } from '../models/onnx.ts';

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
    p = loadHarmonizationModel(dir);
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
  await initEngine();
  // G on ONNX Runtime when installed, unless HARMONIA_INFERENCE=tfjs (src/models/onnx.ts).
  return withOnnxRunner(dir, await cachedModel(dir));
}

/** Full report: result bytes plus intermediates, timings and notes. */
export async function harmonizeWithReport(opts: HarmonizeOptions): Promise<HarmonizeReport> {
  if (!opts || opts.composite === undefined || opts.mask === undefined) throw new HarmoniaError('harmonize: both composite and mask are required');
  const composite = isFloatImage(opts.composite) ? opts.composite : await readImage(opts.composite, { maxPixels: opts.maxPixels });
  const what = typeof opts.composite === 'string' ? `the composite ${opts.composite}` : 'the composite';
  const mask = isMask(opts.mask)
    ? opts.mask
    : await readMask(opts.mask, { maxPixels: opts.maxPixels, expect: { width: composite.width, height: composite.height, what } });
  if (mask.width !== composite.width || mask.height !== composite.height) {
    throw new HarmoniaError(`harmonize: mask is ${mask.width}×${mask.height} but the composite is ${composite.width}×${composite.height}`);
  }
  const model = await resolveModel(opts.model, opts.stage);
  const r = harmonizeImage(composite, mask, model, opts);
  const format = opts.format ?? 'png';
  const image = await encodeImage(r.result, format, { quality: opts.quality });
  return { ...r, image, width: composite.width, height: composite.height, format, model: model?.card?.name };
}

/** Harmonizes a composite and returns the encoded result (PNG unless `format` says otherwise). */
export async function harmonize(opts: HarmonizeOptions): Promise<Buffer> {
  return (await harmonizeWithReport(opts)).image;
}
