/**
 * One harmonization request, as the HTTP server's worker threads and the queue workers run it:
 * a composite + mask, or a background + RGBA cut-out placed at a position and scale, plus options.
 * Inputs are paths (already checked against the server's root) or encoded bytes (uploads). Runs the
 * library (harmonizeWithReport): the same decoding, validation and model as `harmonia harmonize`.
 */
import { HarmoniaError } from '../errors.ts';
import { readImage, readCutout, probeImage, DEFAULT_MAX_PIXELS, type OutputFormat } from '../image/io.ts';
import { placeForeground, defaultPlacement } from '../pipeline/compose.ts';
import { harmonizeWithReport, checkHarmonizeOptions, OUTPUT_FORMATS } from '../pipeline/harmonize.ts';
import type { Stage } from '../pipeline/refine.ts';

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
  // the library's own option checks (stage, quality, maxPixels, model), with placeholders for the inputs
  checkHarmonizeOptions({ composite: '-', mask: '-', stage: job.stage, quality: job.quality, maxPixels: job.maxPixels, model: job.model, format: job.format });
}

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 100) / 100;
}

/** Runs one job: decode, (place the cut-out), harmonize, encode. Bad input throws a HarmoniaError. */
export async function runImageJob(job: ImageJob): Promise<JobResult> {
  checkJob(job);
  const t0 = performance.now();
  const maxPixels = job.maxPixels ?? DEFAULT_MAX_PIXELS;
  let composite: JobInput | Awaited<ReturnType<typeof placeForeground>>['composite'];
  let mask: JobInput | Awaited<ReturnType<typeof placeForeground>>['mask'];
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
    const placed = placeForeground(bg, cut.image, cut.mask, place);
    composite = placed.composite;
    mask = placed.mask;
    timings.decode = ms(t0);
  } else {
    composite = job.composite as JobInput;
    mask = job.mask as JobInput;
  }
  const r = await harmonizeWithReport({
    composite, mask, stage: job.stage, model: job.model, format: job.format, quality: job.quality,
    maxPixels, harmonizeBackground: job.harmonizeBackground,
  });
  for (const [k, v] of Object.entries(r.timings)) timings[k] = Math.round(v * 100) / 100;
  timings.total = ms(t0);
  return { image: r.image, width: r.width, height: r.height, format: r.format, stage: r.stage, model: r.model, timings, notes: r.notes };
}
