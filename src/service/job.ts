/**
 * One harmonization request, as the HTTP server's worker threads and the queue workers run it:
 * a composite + mask, or a background + RGBA cut-out placed at a position and scale, plus options.
 * Inputs are paths (already checked against the server's root) or encoded bytes (uploads). Runs the
 * library's stages on the decoded images (the same decoding, validation, model and arithmetic as
 * `harmonia harmonize`, so the same pixels) and encodes the result once: with `pngLevel` a PNG is
 * compressed at that zlib level (the server's fast default), otherwise exactly as the library does
 * (byte-identical to `harmonia harmonize`).
 */
import sharp from 'sharp';
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readImage, readMask, readCutout, probeImage, encodeImage, DEFAULT_MAX_PIXELS, type OutputFormat } from '../image/io.ts';
import { placeForeground, defaultPlacement } from '../pipeline/compose.ts';
import { checkHarmonizeOptions, OUTPUT_FORMATS } from '../pipeline/harmonize.ts';
import type { RefineResult, Stage } from '../pipeline/stages.ts';
import { resolveInference } from '../pipeline/driver.ts';

export type JobInput = string | Uint8Array;

export interface ImageJob {
  composite?: JobInput;
  mask?: JobInput;
  background?: JobInput;
  /** An RGBA cut-out whose alpha is the mask. */
  foreground?: JobInput;
  /** Top-left corner of the cut-out in background pixels (default: centred on the lower half). */
  at?: [number, number];
  /** Scale of the cut-out, in (0, 16] (the `harmonia harmonize --scale` range). */
  scale?: number;
  stage?: Stage;
  /** A model folder, or null for the intrinsic stage alone; undefined = the shipped default. */
  model?: string | null;
  format?: OutputFormat;
  quality?: number;
  harmonizeBackground?: boolean;
  /** Decompression-bomb guard for each input (pixels). */
  maxPixels?: number;
  /**
   * PNG output only: zlib compression level 0–9 (no filter, as the library). The pixels are the same at
   * every level; undefined = the library's encoding (level 6), byte-identical to `harmonia harmonize`.
   */
  pngLevel?: number;
  /** Names for the inputs in error messages (the queue worker's paths), instead of `<buffer>`. */
  labels?: { composite?: string; mask?: string };
}

export interface JobResult {
  image: Uint8Array;
  width: number;
  height: number;
  format: OutputFormat;
  stage: Stage;
  model?: string;
  /** Milliseconds: decode (and cut-out placement), the pipeline's stages, encode, total. */
  timings: Record<string, number>;
  notes: string[];
}

/** The largest `scale` of a cut-out, as `harmonia harmonize --scale` (src/cli/flags.ts). */
export const MAX_CUTOUT_SCALE = 16;

/** Checks the shape of a job (which inputs, option types and ranges) before any decoding. */
export function checkJob(job: ImageJob): void {
  const hasComposite = job.composite !== undefined || job.mask !== undefined;
  const hasCutout = job.background !== undefined || job.foreground !== undefined;
  if (hasComposite && hasCutout) throw new HarmoniaError('give either composite + mask, or background + foreground, not both');
  if (hasCutout) {
    if (job.background === undefined || job.foreground === undefined) throw new HarmoniaError('cut-out mode needs both background and foreground');
  } else {
    if (job.composite === undefined) throw new HarmoniaError('composite is required (or background + foreground)');
    if (job.mask === undefined) throw new HarmoniaError('mask is required with a composite');
    if (job.at !== undefined || job.scale !== undefined) throw new HarmoniaError('at and scale are for cut-out mode (background + foreground)');
  }
  if (job.scale !== undefined && !(typeof job.scale === 'number' && Number.isFinite(job.scale) && job.scale > 0 && job.scale <= MAX_CUTOUT_SCALE)) {
    throw new HarmoniaError(`scale must be in (0, ${MAX_CUTOUT_SCALE}]: got ${JSON.stringify(job.scale)}`);
  }
  if (job.at !== undefined && !(Array.isArray(job.at) && job.at.length === 2 && job.at.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new HarmoniaError(`at must be two numbers [x, y]: got ${JSON.stringify(job.at)}`);
  }
  if (job.format !== undefined && !OUTPUT_FORMATS.includes(job.format)) {
    throw new HarmoniaError(`format must be ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(job.format)}`);
  }
  if (job.pngLevel !== undefined && !(Number.isInteger(job.pngLevel) && job.pngLevel >= 0 && job.pngLevel <= 9)) {
    throw new HarmoniaError(`pngLevel must be an integer in [0, 9], got ${JSON.stringify(job.pngLevel)}`);
  }
  // the library's own option checks (stage, quality, maxPixels, model), with placeholders for the inputs
  checkHarmonizeOptions({ composite: '-', mask: '-', stage: job.stage, quality: job.quality, maxPixels: job.maxPixels, model: job.model, format: job.format });
}

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 100) / 100;
}

/** A decoding error of job bytes, named by the input's label when there is one (as the queue worker's messages). */
function named(e: unknown, label: string | undefined): unknown {
  if (!label || !(e instanceof HarmoniaError)) return e;
  return new HarmoniaError(e.message.replace(/^<buffer>: /, ''), { file: label, cause: e });
}

/**
 * Decodes a composite and its mask at once (two libvips decodes in flight), with the library's
 * readImage/readMask and its messages: the composite's error first when both fail, and a mask of
 * another size named as readMask's `expect` names it.
 */
async function decodePair(job: ImageJob, maxPixels: number): Promise<{ composite: FloatImage; mask: Mask }> {
  const src = job.composite as JobInput, msrc = job.mask as JobInput;
  const labels = job.labels ?? {};
  const [c, m] = await Promise.allSettled([readImage(src, { maxPixels }), readMask(msrc, { maxPixels })]);
  if (c.status === 'rejected') throw named(c.reason, labels.composite);
  if (m.status === 'rejected') throw named(m.reason, labels.mask);
  const composite = c.value, mask = m.value;
  if (mask.width !== composite.width || mask.height !== composite.height) {
    const what = labels.composite ? `the composite ${labels.composite}` : typeof src === 'string' ? `the composite ${src}` : 'the composite';
    const file = labels.mask ?? (typeof msrc === 'string' ? msrc : '<buffer>');
    throw new HarmoniaError(`mask is ${mask.width}×${mask.height} but ${what} is ${composite.width}×${composite.height}`, { file });
  }
  return { composite, mask };
}

/**
 * The library's harmonize (src/pipeline/harmonize.ts harmonizeWithReport) on decoded images, without
 * its encode: the generator on ONNX Runtime when the folder has a fresh export (the shipped model),
 * else onnxruntime-web, else TensorFlow.js, in the same order and with the same stages.
 */
export async function harmonizeDecoded(composite: FloatImage, mask: Mask, job: Pick<ImageJob, 'model' | 'stage' | 'harmonizeBackground'>): Promise<{ r: RefineResult; model?: string }> {
  // the library's one inference driver (src/pipeline/driver.ts)
  const driver = await resolveInference(job.model, job.stage);
  return { r: await driver.run(composite, mask, { stage: job.stage, harmonizeBackground: job.harmonizeBackground }), model: driver.name };
}

/**
 * 8-bit bytes of a float image, equal to the library's toUint8 (clamp to [0, 1], ×255, round half
 * up; NaN → 0) for every input: for 0 < v < 1, v·255 is exact in a double and v·255 + 0.5 rounds
 * only when v·255 < 2⁻²², where both give 0. About 3× faster than Math.round per value.
 */
export function quantize(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < out.length; i++) {
    const v = data[i];
    out[i] = v >= 1 ? 255 : v > 0 ? (v * 255 + 0.5) | 0 : 0;
  }
  return out;
}

/**
 * Encodes a result: PNG at zlib level `pngLevel` (no filter, as the library) when given, otherwise
 * the library's encodeImage. The decoded pixels are the same either way (the same 8-bit bytes).
 */
export async function encodeResult(img: FloatImage, format: OutputFormat, opts: { quality?: number; pngLevel?: number } = {}): Promise<Uint8Array> {
  if (format !== 'png' || opts.pngLevel === undefined) return encodeImage(img, format, { quality: opts.quality });
  const bytes = quantize(img.data);
  try {
    return await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 | 4 }, limitInputPixels: false,
    }).png({ compressionLevel: opts.pngLevel, adaptiveFiltering: false }).toBuffer();
  } catch (err) {
    throw new HarmoniaError(`encodeImage: cannot encode ${img.width}×${img.height}×${img.channels} as PNG: ${((err as Error)?.message ?? String(err)).split('\n')[0]}`, { cause: err });
  }
}

/**
 * Runs one job: decode (composite and mask at once; or place the cut-out), harmonize, encode. Bad
 * input throws a HarmoniaError. `onDecoded` is told the pixel count once the inputs are decoded (the
 * pool then lets the thread take its next request, whose decode overlaps this one's compute).
 */
export async function runImageJob(job: ImageJob, onDecoded?: (pixels: number) => void): Promise<JobResult> {
  checkJob(job);
  const t0 = performance.now();
  const maxPixels = job.maxPixels ?? DEFAULT_MAX_PIXELS;
  let composite: FloatImage, mask: Mask;
  const timings: Record<string, number> = {};
  if (job.background !== undefined && job.foreground !== undefined) {
    if (job.scale !== undefined) {
      // the scaled cut-out is bounded by the input pixel limit, from the header, before decoding
      const fg = await probeImage(job.foreground);
      const px = Math.max(1, Math.round(fg.width * job.scale)) * Math.max(1, Math.round(fg.height * job.scale));
      if (px > maxPixels) throw new HarmoniaError(`scale ${job.scale} makes the ${fg.width}×${fg.height} cut-out ${(px / 1e6).toFixed(1)} megapixels, over the ${maxPixels / 1e6} MP limit`);
    }
    const bg = await readImage(job.background, { maxPixels });
    const cut = await readCutout(job.foreground, { maxPixels });
    const place = defaultPlacement(bg, cut.image);
    if (job.scale !== undefined) place.scale = job.scale;
    if (job.at) [place.x, place.y] = job.at;
    ({ composite, mask } = placeForeground(bg, cut.image, cut.mask, place));
  } else {
    ({ composite, mask } = await decodePair(job, maxPixels));
  }
  timings.decode = ms(t0);
  onDecoded?.(composite.width * composite.height);
  const { r, model } = await harmonizeDecoded(composite, mask, job);
  for (const [k, v] of Object.entries(r.timings)) timings[k] = Math.round(v * 100) / 100;
  const format = job.format ?? 'png';
  const te = performance.now();
  const image = await encodeResult(r.result, format, { quality: job.quality, pngLevel: job.pngLevel });
  timings.encode = ms(te);
  timings.total = ms(t0);
  return { image, width: composite.width, height: composite.height, format, stage: r.stage, model, timings, notes: r.notes };
}
