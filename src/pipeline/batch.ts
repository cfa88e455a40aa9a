/**
 * Folder batch mode: harmonize every image of a folder with the mask of the same stem from a mask
 * folder. Resumable: outputs that already exist are skipped (writes are atomic, so an existing
 * output is always complete). Memory stays bounded: one image at a time, tensors disposed.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, extname, basename, dirname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, removeStaleTempFiles } from '../image/atomic.ts';
import { formatFromPath } from '../image/io.ts';
import { Progress } from '../util/progress.ts';
import { harmonizeWithReport, resolveModel, type HarmonizeOptions } from './harmonize.ts';

export const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'];

export interface BatchItem { name: string; composite: string; mask: string; output: string }

export interface BatchTiming { name: string; ms: number; stages: Record<string, number>; skipped?: boolean; width?: number; height?: number; error?: string }

/** Pairs images with masks by stem (mask stems may also be `<stem>_mask`). */
export function pairFolder(compositeDir: string, maskDir: string, outDir: string, outExt = '.png'): BatchItem[] {
  const list = (d: string): string[] => {
    try {
      return readdirSync(d).filter((f) => IMAGE_EXTS.includes(extname(f).toLowerCase()) && statSync(join(d, f)).isFile()).sort();
    } catch (err) {
      throw new HarmoniaError(`cannot list the folder: ${(err as Error).message}`, { file: d });
    }
  };
  const masks = new Map<string, string>();
  for (const f of list(maskDir)) masks.set(basename(f, extname(f)), join(maskDir, f));
  const items: BatchItem[] = [];
  const missing: string[] = [];
  for (const f of list(compositeDir)) {
    const stem = basename(f, extname(f));
    const m = masks.get(stem) ?? masks.get(`${stem}_mask`);
    if (!m) { missing.push(f); continue; }
    items.push({ name: stem, composite: join(compositeDir, f), mask: m, output: join(outDir, stem + outExt) });
  }
  if (missing.length) {
    throw new HarmoniaError(`no mask with the same name in ${maskDir} for ${missing.length} image(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`, { file: compositeDir });
  }
  if (items.length === 0) throw new HarmoniaError('no images (jpg, png, webp, tif) found', { file: compositeDir });
  return items;
}

/** Harmonizes a list of items; returns per-image timings. */
export async function harmonizeBatch(
  items: readonly BatchItem[],
  opts: Omit<HarmonizeOptions, 'composite' | 'mask' | 'format'> & { overwrite?: boolean; quiet?: boolean; continueOnError?: boolean },
): Promise<BatchTiming[]> {
  const model = await resolveModel(opts.model, opts.stage);
  // temp files of a run that was killed mid-write (kill -9, power loss): never complete, remove them
  for (const dir of new Set(items.map((it) => dirname(it.output)))) if (existsSync(dir)) await removeStaleTempFiles(dir);
  const progress = new Progress('harmonize', items.length, { quiet: opts.quiet });
  const timings: BatchTiming[] = [];
  for (const it of items) {
    if (!opts.overwrite && existsSync(it.output)) {
      timings.push({ name: it.name, ms: 0, stages: {}, skipped: true });
      progress.tick(1, 'skip');
      continue;
    }
    const t0 = performance.now();
    try {
      const r = await harmonizeWithReport({ ...opts, model: model ?? null, composite: it.composite, mask: it.mask, format: formatFromPath(it.output) });
      await writeFileAtomic(it.output, r.image);
      timings.push({ name: it.name, ms: performance.now() - t0, stages: r.timings, width: r.width, height: r.height });
    } catch (err) {
      if (!opts.continueOnError || !(err instanceof HarmoniaError)) throw err;
      timings.push({ name: it.name, ms: performance.now() - t0, stages: {}, error: err.message });
    }
    progress.tick(1);
  }
  progress.finish();
  return timings;
}
