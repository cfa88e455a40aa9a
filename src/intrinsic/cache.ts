/**
 * The one semi-harmonized cache (Node only: file I/O). `harmonia intrinsic --data … --cache <dir>`
 * (precomputeSemiHarmonized) writes it and the trainer (`prepareSplit`, behind `harmonia train --data`,
 * `experiment` and `sweep` with `--cache <dir>`) reads it, both through these functions:
 *
 *   <cache>/intrinsic-<size>-<options hash>/<sample id, "/" → "_">.png
 *
 * <size> is the square side the composite and mask were resized to before the intrinsic stage ran
 * (the training size: composite bilinear, mask nearest and thresholded at 0.5), or `full` for full
 * resolution; the hash is over the intrinsic options with default values dropped, so the CLI's
 * defaults (`--max-side 512 --decomposition poisson --stages albedo,shading`) and no option share a folder. Files are written atomically; an existing file is reused as is.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { hashString } from '../util/random.ts';
import { readImage, writeImage } from '../image/io.ts';
import { removeStaleTempFiles } from '../util/atomic.ts';
import { resizeImage, resizeMask } from '../image/resize.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { semiHarmonize, DEFAULT_INTRINSIC_ANALYSIS_SIDE } from './index.ts';
import type { IntrinsicOptions } from './index.ts';

/** The resolution of a cache folder: a square training side, or the composites' own size. */
export type CacheResolution = number | 'full';

/** The options as the cache key sees them: undefined values and defaults (analysis side 512, poisson, both stages) dropped. */
function canonicalOptions(o: IntrinsicOptions): IntrinsicOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (k === 'analysisMaxSide' && v === DEFAULT_INTRINSIC_ANALYSIS_SIDE) continue;
    if (k === 'decomposition' && v === 'poisson') continue;
    if (k === 'stages' && (v as IntrinsicOptions['stages'])?.albedo !== false && (v as IntrinsicOptions['stages'])?.shading !== false) continue;
    out[k] = v;
  }
  return out as IntrinsicOptions;
}

/** The cache folder of one (resolution, intrinsic options) combination under `root`. */
export function semiCacheDir(root: string, resolution: CacheResolution, intrinsic: IntrinsicOptions): string {
  if (resolution !== 'full' && !(Number.isInteger(resolution) && resolution > 0)) {
    throw new HarmoniaError(`semi-harmonized cache: size must be a positive integer or "full", got ${resolution}`);
  }
  return join(root, `intrinsic-${resolution}-${hashString(JSON.stringify(canonicalOptions(intrinsic))).toString(16)}`);
}

/** The cache file of a sample id in a cache folder. */
export function semiCacheFile(dir: string, id: string): string {
  return join(dir, `${id.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
}

/** Removes the temp files a killed run left in a cache folder (call once before using it). */
export async function openSemiCache(dir: string): Promise<void> {
  if (existsSync(dir)) await removeStaleTempFiles(dir);
}

/**
 * The intrinsic stage's inputs at a training size: the composite resized bilinearly, the mask with
 * nearest neighbour and thresholded at 0.5 (hard 0/1), both `size`×`size`.
 */
export function resizeForCache(composite: FloatImage, mask: Mask, size: number): { composite: FloatImage; mask: Mask } {
  const c = resizeImage(composite, size, size, 'bilinear');
  const m = resizeMask(mask, size, size, 'nearest');
  const hard = new Float32Array(m.data.length);
  for (let i = 0; i < hard.length; i++) hard[i] = m.data[i] > 0.5 ? 1 : 0;
  return { composite: c, mask: { width: size, height: size, data: hard } };
}

/**
 * The semi-harmonized image of (composite, mask) from cache file `file`: read when it exists (it must
 * be the composite's size), else computed with `intrinsic` and written. `computed` says which.
 */
export async function cachedSemiHarmonize(file: string, composite: FloatImage, mask: Mask, intrinsic: IntrinsicOptions): Promise<{ image: FloatImage; computed: boolean; ms?: number }> {
  if (existsSync(file)) {
    const image = await readImage(file);
    if (image.width !== composite.width || image.height !== composite.height) {
      throw new HarmoniaError(`cached semi-harmonized image is ${image.width}×${image.height}, expected ${composite.width}×${composite.height}; delete the cache folder`, { file });
    }
    return { image, computed: false };
  }
  const r = semiHarmonize(composite, mask, intrinsic);
  await writeImage(file, r.semiHarmonized, { mkdir: true });
  return { image: r.semiHarmonized, computed: true, ms: r.intermediates.timings.total };
}
