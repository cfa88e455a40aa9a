/**
 * Batch pre-computation of semi-harmonized images into the training cache (cache.ts: the folder the
 * trainer reads; Node only: file I/O). Not re-exported from the browser-safe src/intrinsic/index.ts.
 *
 * Finished files are skipped, so an interrupted run resumes where it stopped.
 */
import { existsSync } from 'node:fs';
import { HarmoniaError } from '../errors.ts';
import { readImage, readMask } from '../image/io.ts';
import { readIHarmonyDataset, type Split } from '../data/iharmony4.ts';
import { Progress } from '../util/progress.ts';
import type { IntrinsicOptions } from './index.ts';
import { semiCacheDir, semiCacheFile, openSemiCache, resizeForCache, cachedSemiHarmonize } from './cache.ts';

export interface PrecomputeOptions {
  /** iHarmony4-layout dataset root (or one subset folder). */
  data: string;
  /** List file (path, or relative to the root); default: the dataset's own lists. */
  list?: string;
  split?: Split;
  /** Cache root (the trainer's --cache); the files go into its intrinsic-<size>-<hash> folder. */
  cache: string;
  /** Resize composite and mask to size×size first, as the trainer does (its --config preset's image size); default: full resolution. */
  size?: number;
  /** Process at most this many samples (after the list order). */
  limit?: number;
  intrinsic?: IntrinsicOptions;
  quiet?: boolean;
}

export interface PrecomputeResult {
  total: number;
  written: number;
  skipped: number;
  /** The cache folder written (semiCacheDir). */
  dir: string;
  /** cache file of every sample, in list order */
  files: string[];
}

export async function precomputeSemiHarmonized(opts: PrecomputeOptions): Promise<PrecomputeResult> {
  if (!opts.cache) throw new HarmoniaError('precompute: a cache folder is required');
  let samples = await readIHarmonyDataset(opts.data, { list: opts.list, split: opts.split });
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new HarmoniaError(`precompute: limit must be a positive integer, got ${opts.limit}`);
    samples = samples.slice(0, opts.limit);
  }
  const intrinsic = opts.intrinsic ?? {};
  const dir = semiCacheDir(opts.cache, opts.size ?? 'full', intrinsic);
  const files = samples.map((s) => semiCacheFile(dir, s.id));
  await openSemiCache(dir); // temp files of writes that a killed run left unfinished
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
    const full = await readImage(s.composite);
    const fullMask = await readMask(s.mask, { expect: { width: full.width, height: full.height, what: `composite ${s.composite}` } });
    const { composite, mask } = opts.size === undefined ? { composite: full, mask: fullMask } : resizeForCache(full, fullMask, opts.size);
    const r = await cachedSemiHarmonize(out, composite, mask, intrinsic);
    written++;
    bar.tick(1, `${(r.ms ?? 0).toFixed(0)} ms`);
  }
  bar.finish();
  return { total: samples.length, written, skipped, dir, files };
}
