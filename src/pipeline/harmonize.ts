/**
 * The Node API: `await harmonize({ composite, mask })` → encoded image bytes, or the cut-out mode
 * `await harmonize({ background, foreground, at, scale })` (an RGBA foreground whose alpha is the mask,
 * placed on the background as the CLI's --background/--foreground/--at/--scale do).
 * Inputs are file paths, encoded bytes, or in-memory images; the model defaults to the one shipped
 * in models/default (the intrinsic stage alone runs when there is none and `stage` is not forced).
 * The generator runs on onnxruntime-node; when that is not installed, on onnxruntime-web's WebAssembly
 * build (said once on stderr, with the command that adds onnxruntime-node); TensorFlow.js only for
 * models without an ONNX export or when HARMONIA_INFERENCE=tfjs.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readImage, readMask, readCutout, probeImage, encodeImage, assertValidImage, DEFAULT_MAX_PIXELS, type ImageSource, type OutputFormat } from '../image/io.ts';
import type { HarmonizationModel, RefineOptions, RefineResult } from './refine.ts';
import { defaultPlacement, placeForeground, placedShare, type Placement } from './compose.ts';
import { STAGES } from '../config/index.ts';
import { is } from '../util/is.ts';
import { resolveInference } from './driver.ts';
// which engine runs the generator (TensorFlow.js only when needed) is the driver's (driver.ts); these
// were defined here and are re-exported for their callers
export { cachedModel, resolveModel, resolveOnnxFirstModel, resolveWasmFallbackModel, resolveInference, type InferenceDriver, type InferenceEngine } from './driver.ts';

/**
 * harmonize()'s options: a composite and its mask, or (cut-out mode) a background and a foreground
 * with `at` and `scale`, plus the model and output settings. checkHarmonizeOptions says which argument
 * is missing or wrong.
 */
export interface HarmonizeOptions extends RefineOptions {
  /** The composite: a path, encoded bytes (JPEG/PNG/WebP/TIFF), or a FloatImage. */
  composite?: ImageSource | FloatImage;
  /** The composite's mask (white = foreground, any channel count; a non-opaque alpha channel is used as the mask). */
  mask?: ImageSource | Mask;
  /** Cut-out mode: the background, a path, encoded bytes, or a FloatImage (RGB). */
  background?: ImageSource | FloatImage;
  /** Cut-out mode: an RGBA cut-out (path or encoded bytes; its alpha is the mask), or an in-memory { image, mask }. */
  foreground?: ImageSource | { image: FloatImage; mask: Mask };
  /** Cut-out mode: top-left corner of the scaled cut-out in background pixels, [x, y] or { x, y }; default: centred on the lower half. */
  at?: readonly [number, number] | { x: number; y: number };
  /** Cut-out mode: scale of the cut-out, in (0, 16] (the scaled cut-out at most maxPixels); default: about 45% of the background's short side. */
  scale?: number;
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

function isFloatImage(x: unknown): x is FloatImage {
  return typeof x === 'object' && x !== null && 'data' in x && 'channels' in x && (x as FloatImage).data instanceof Float32Array;
}
function isMask(x: unknown): x is Mask {
  return typeof x === 'object' && x !== null && 'data' in x && !('channels' in x) && (x as Mask).data instanceof Float32Array;
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

/** The [x, y] of the `at` option, or undefined. */
function atXY(at: HarmonizeOptions['at']): [number, number] | undefined {
  if (at === undefined) return undefined;
  return Array.isArray(at) ? [at[0], at[1]] : [(at as { x: number }).x, (at as { y: number }).y];
}

function checkImageArg(v: unknown, name: string): void {
  if (typeof v === 'string') {
    if (v === '') throw new HarmoniaError(`harmonize: ${name} must not be an empty path`);
    return;
  }
  if (v instanceof Uint8Array) return;
  if (!isFloatImage(v)) throw new HarmoniaError(`harmonize: ${name} must be a path, encoded bytes, or a FloatImage { width, height, channels: 3, data: Float32Array }, got ${v === null ? 'null' : typeof v}`);
  assertValidImage(v, `harmonize: ${name}`);
  if (v.channels !== 3) throw new HarmoniaError(`harmonize: ${name} must have 3 channels (RGB), got ${v.channels}`);
  assertFinite(v.data, name, v.channels, v.width);
}

/** The cut-out mode's arguments: background, foreground, at, scale (and no composite or mask). */
function checkCutoutOptions(opts: HarmonizeOptions): void {
  if (opts.composite !== undefined || opts.mask !== undefined) throw new HarmoniaError('harmonize: give either composite + mask or background + foreground (a cut-out), not both');
  if (opts.background === undefined) throw new HarmoniaError('harmonize: cut-out mode needs background (a path, encoded bytes, or a FloatImage)');
  if (opts.foreground === undefined) throw new HarmoniaError('harmonize: cut-out mode needs foreground (an RGBA cut-out: a path or encoded bytes, or { image, mask })');
  checkImageArg(opts.background, 'background');
  const f = opts.foreground as unknown;
  if (typeof f === 'object' && f !== null && !(f instanceof Uint8Array)) {
    const fm = f as { image?: unknown; mask?: unknown };
    if (!isFloatImage(fm.image) || !isMask(fm.mask)) throw new HarmoniaError('harmonize: foreground must be a path, encoded bytes (an RGBA cut-out), or { image: FloatImage, mask: Mask }');
    checkImageArg(fm.image, 'foreground.image');
    const m = fm.mask;
    if (m.width !== fm.image.width || m.height !== fm.image.height || m.data.length !== m.width * m.height) {
      throw new HarmoniaError(`harmonize: foreground.mask is ${m.width}×${m.height} (${m.data.length} values) but foreground.image is ${fm.image.width}×${fm.image.height}`);
    }
    assertFinite(m.data, 'foreground.mask', 1, m.width);
  } else checkImageArg(f, 'foreground');
  const at = opts.at as unknown;
  if (at !== undefined) {
    const xy = Array.isArray(at) ? (at.length === 2 ? at : undefined) : typeof at === 'object' && at !== null ? [(at as { x?: unknown }).x, (at as { y?: unknown }).y] : undefined;
    if (!xy || !xy.every((v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 1e6)) {
      throw new HarmoniaError(`harmonize: at must be [x, y] or { x, y } with finite numbers (background pixels, |v| ≤ 1e6), got ${JSON.stringify(at)}`);
    }
  }
  const sc = opts.scale as unknown;
  if (sc !== undefined && !(typeof sc === 'number' && Number.isFinite(sc) && sc > 0 && sc <= 16)) {
    throw new HarmoniaError(`harmonize: scale must be a number in (0, 16], got ${JSON.stringify(sc)}`);
  }
}

/** Places the cut-out on the background (cut-out mode): the composite and its mask, as the CLI does. */
async function placeCutout(opts: HarmonizeOptions): Promise<{ composite: FloatImage; mask: Mask; notes: string[] }> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const bg = isFloatImage(opts.background) ? opts.background : await readImage(opts.background as ImageSource, { maxPixels });
  const f = opts.foreground as ImageSource | { image: FloatImage; mask: Mask };
  let cut: { image: FloatImage; mask: Mask };
  if (typeof f === 'object' && !(f instanceof Uint8Array)) cut = f as { image: FloatImage; mask: Mask };
  else {
    if (opts.scale !== undefined) {
      // bound the scaled cut-out by the pixel limit from the header, before decoding
      const d = await probeImage(f);
      const px = Math.max(1, Math.round(d.width * opts.scale)) * Math.max(1, Math.round(d.height * opts.scale));
      if (px > maxPixels) throw new HarmoniaError(`harmonize: scale ${opts.scale} makes the ${d.width}×${d.height} cut-out ${(px / 1e6).toFixed(0)} megapixels, over the ${maxPixels / 1e6} MP limit (maxPixels)`);
    }
    cut = await readCutout(f, { maxPixels });
  }
  const place: Placement = defaultPlacement(bg, cut.image);
  if (opts.scale !== undefined) place.scale = opts.scale;
  const xy = atXY(opts.at);
  if (xy) [place.x, place.y] = xy;
  const placed = placeForeground(bg, cut.image, cut.mask, place);
  // a placement that harmonizes nothing is an error, a partly cut-off one a note (issue 28; as the CLI's --at/--scale)
  const on = placedShare(cut.mask, place, placed.mask);
  const where = `the ${cut.image.width}×${cut.image.height} cut-out placed ${xy ? `with at [${xy.join(', ')}]` : 'at its default position (no at)'} and scale ${opts.scale !== undefined ? String(opts.scale) : `${place.scale.toFixed(3)} (the default)`}`;
  if (on.cutoutArea === 0) throw new HarmoniaError('harmonize: the foreground cut-out is fully transparent (no alpha above 0.5): nothing to harmonize');
  if (on.placedArea === 0) throw new HarmoniaError(`harmonize: ${where} lies outside the ${bg.width}×${bg.height} background: nothing to harmonize (choose at and scale that put it on the background)`);
  const notes = on.share < 0.99 ? [`only ${(on.share * 100).toFixed(0)} % of ${where} lies on the ${bg.width}×${bg.height} background; the rest is cut off`] : [];
  return { ...placed, notes };
}

/**
 * Checks every option of harmonize()/harmonizeWithReport() before any work (no file is read):
 * `format`, `quality`, `maxPixels`, `stage`, `analysisMaxSide`, `model`, and in-memory inputs
 * (shape and finite values). Throws a HarmoniaError naming the option.
 */
export function checkHarmonizeOptions(opts: HarmonizeOptions): void {
  if (!opts || typeof opts !== 'object') throw new HarmoniaError('harmonize: options must be an object with composite and mask, or background and foreground');
  const cutout = opts.background !== undefined || opts.foreground !== undefined || opts.at !== undefined || opts.scale !== undefined;
  if (cutout) checkCutoutOptions(opts as HarmonizeOptions);
  else if (opts.composite === undefined || opts.mask === undefined) throw new HarmoniaError('harmonize: give composite and mask (or background and foreground for a cut-out); both composite and mask are required');
  if (opts.format !== undefined && !OUTPUT_FORMATS.includes(opts.format)) {
    throw new HarmoniaError(`harmonize: format must be ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}${String(opts.format) === 'jpg' ? ' (use "jpeg")' : ''}`);
  }
  if (opts.quality !== undefined) is.integer('harmonize: quality', opts.quality, { min: 1, max: 100 });
  if (opts.maxPixels !== undefined && !(Number.isSafeInteger(opts.maxPixels) && opts.maxPixels >= 1)) {
    throw new HarmoniaError(`harmonize: maxPixels must be a positive integer, got ${JSON.stringify(opts.maxPixels)}`);
  }
  if (opts.stage !== undefined) is.oneOf('harmonize: stage', opts.stage, STAGES);
  if (opts.analysisMaxSide !== undefined) is.integer('harmonize: analysisMaxSide', opts.analysisMaxSide, { min: 16, max: 4096 });
  const m = opts.model;
  if (m !== undefined && m !== null && typeof m !== 'string') {
    const ok = typeof m === 'object' && !!m.config && typeof m.config === 'object' &&
      ((!!m.generator && typeof (m.generator as { predict?: unknown }).predict === 'function') || typeof m.runner === 'function');
    if (!ok) throw new HarmoniaError('harmonize: model must be a model folder path, a loaded HarmonizationModel ({ generator, config }), or null for no GAN stage');
  }
  if (typeof m === 'string' && m === '') throw new HarmoniaError('harmonize: model must not be an empty path');
  if (cutout) return;
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
  let composite: FloatImage, mask: Mask;
  let placementNotes: string[] = [];
  if (opts.composite === undefined) ({ composite, mask, notes: placementNotes } = await placeCutout(opts));
  else {
    composite = isFloatImage(opts.composite) ? opts.composite : await readImage(opts.composite, { maxPixels: opts.maxPixels });
    const what = typeof opts.composite === 'string' ? `the composite ${opts.composite}` : 'the composite';
    mask = isMask(opts.mask)
      ? opts.mask
      : await readMask(opts.mask as ImageSource, { maxPixels: opts.maxPixels, expect: { width: composite.width, height: composite.height, what } });
    if (mask.width !== composite.width || mask.height !== composite.height) {
      throw new HarmoniaError(`harmonize: mask is ${mask.width}×${mask.height} but the composite is ${composite.width}×${composite.height}`);
    }
  }
  // the one inference driver (src/pipeline/driver.ts): the model resolved once, on the engine that runs it
  const driver = await resolveInference(opts.model, opts.stage);
  const r = await driver.run(composite, mask, opts);
  const format = opts.format ?? 'png';
  const image = await encodeImage(r.result, format, { quality: opts.quality });
  return { ...r, notes: [...placementNotes, ...r.notes], image, width: composite.width, height: composite.height, format, model: driver.name };
}

/** Harmonizes a composite and returns the encoded result (PNG unless `format` says otherwise). */
export async function harmonize(opts: HarmonizeOptions): Promise<Buffer> {
  return (await harmonizeWithReport(opts)).image;
}
