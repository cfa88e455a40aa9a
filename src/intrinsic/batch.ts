/**
 * Batch pre-computation of semi-harmonized images for a training cache (Node only: file I/O).
 * Not re-exported from the browser-safe src/intrinsic/index.ts.
 *
 * One PNG per sample id (`<cache>/<subset>/<composite name>.png`), written atomically; finished
 * files are skipped, so an interrupted run resumes where it stopped.
 */
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarmoniaError } from '../errors.ts';
import { readImage, readMask, writeImage } from '../image/io.ts';
import { removeStaleTempFiles } from '../util/atomic.ts';
import { readIHarmonyDataset, type HarmonizationSample, type Split } from '../data/iharmony4.ts';
import { Progress } from '../util/progress.ts';
import { semiHarmonize, type IntrinsicOptions } from './index.ts';
import { lightModelFromLayers, type LightModel } from './light-net.ts';
import { loadModel } from '../models/io.ts';

/** Folder of the shipped learned light estimator (models/light/ at the package root). */
export const DEFAULT_LIGHT_MODEL_DIR = fileURLToPath(new URL('../../models/light/', import.meta.url));

/**
 * Loads the learned background-light estimator (TF.js layers format: model.json + weights.bin) from
 * `dir` (default: the shipped models/light/) for `semiHarmonize(..., { lightModel })`.
 */
export async function loadLightModel(dir: string = DEFAULT_LIGHT_MODEL_DIR): Promise<LightModel> {
  const model = await loadModel(dir);
  try {
    return lightModelFromLayers(model);
  } catch (err) {
    throw new HarmoniaError(`not a light model: ${(err as Error).message}`, { file: dir, cause: err });
  } finally {
    model.dispose();
  }
}

export interface PrecomputeOptions {
  /** iHarmony4-layout dataset root (or one subset folder). */
  data: string;
  /** List file (path, or relative to the root); default: the dataset's own lists. */
  list?: string;
  split?: Split;
  /** Cache folder. */
  cache: string;
  /** Process at most this many samples (after the list order). */
  limit?: number;
  intrinsic?: IntrinsicOptions;
  quiet?: boolean;
}

export interface PrecomputeResult {
  total: number;
  written: number;
  skipped: number;
  /** cache file of every sample, in list order */
  files: string[];
}

/** Cache path of a sample's semi-harmonized image. */
export function semiHarmonizedCachePath(cache: string, sample: Pick<HarmonizationSample, 'id'>): string {
  return join(cache, `${sample.id}.png`);
}

export async function precomputeSemiHarmonized(opts: PrecomputeOptions): Promise<PrecomputeResult> {
  if (!opts.cache) throw new HarmoniaError('precompute: a cache folder is required');
  let samples = await readIHarmonyDataset(opts.data, { list: opts.list, split: opts.split });
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new HarmoniaError(`precompute: limit must be a positive integer, got ${opts.limit}`);
    samples = samples.slice(0, opts.limit);
  }
  const files = samples.map((s) => semiHarmonizedCachePath(opts.cache, s));
  // temp files of writes that a killed run left unfinished
  for (const dir of new Set(files.map((f) => dirname(f)))) if (existsSync(dir)) await removeStaleTempFiles(dir);
  const bar = new Progress('intrinsic', samples.length, { quiet: opts.quiet });
  let written = 0;
  let skipped = 0;
  for (let k = 0; k < samples.length; k++) {
    const s = samples[k];
    const out = files[k];
    if (existsSync(out)) {
      skipped++;
      bar.tick(1, 'cached');
      continue;
    }
    const composite = await readImage(s.composite);
    const mask = await readMask(s.mask, { expect: { width: composite.width, height: composite.height, what: `composite ${s.composite}` } });
    const r = semiHarmonize(composite, mask, opts.intrinsic);
    await writeImage(out, r.semiHarmonized, { mkdir: true });
    written++;
    bar.tick(1, `${r.intermediates.timings.total.toFixed(0)} ms`);
  }
  bar.finish();
  return { total: samples.length, written, skipped, files };
}
