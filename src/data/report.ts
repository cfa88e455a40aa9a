/**
 * Dataset reports: the composite-copy baseline of a split (the composite scored as if it were the
 * prediction, docs/METRICS.md § Protocol: 256×256, bilinear images, nearest mask, 0–255 scale, per-image
 * means) and a contact sheet of composite / real / mask triplets.
 */
import { readImage, readMask } from '../image/io.ts';
import type { FloatImage } from '../image/types.ts';
import { mse, fmse, psnrFromMse, toEvalImage, toEvalMask } from '../metrics/index.ts';
import { imageGrid, maskToImage } from '../image/grid.ts';
import type { HarmonizationSample } from './iharmony4.ts';

export interface BaselineStats {
  count: number;
  /** Per-image means. */
  mse: number;
  psnr: number;
  fmse: number;
  /** Median per-image fMSE. */
  fmseMedian: number;
}

/** Composite-copy MSE / PSNR / fMSE of `samples` under the evaluation protocol. */
export async function compositeCopyBaseline(samples: HarmonizationSample[], size = 256): Promise<BaselineStats> {
  const m: number[] = [], p: number[] = [], f: number[] = [];
  for (const s of samples) {
    const comp = toEvalImage(await readImage(s.composite), size, s.composite);
    const real = toEvalImage(await readImage(s.real), size, s.real);
    const mask = toEvalMask(await readMask(s.mask), size);
    const e = mse(comp, real);
    m.push(e);
    p.push(psnrFromMse(e));
    const fe = fmse(comp, real, mask);
    if (fe !== null) f.push(fe);
  }
  const mean = (a: number[]): number => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
  const sorted = [...f].sort((a, b) => a - b);
  const med = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2) : NaN;
  return { count: samples.length, mse: mean(m), psnr: mean(p), fmse: mean(f), fmseMedian: med };
}

/** A contact sheet: one row per sample (composite, real, mask), `cell` pixels per image. */
export async function contactSheet(samples: HarmonizationSample[], cell = 160): Promise<FloatImage> {
  const rows: FloatImage[][] = [];
  for (const s of samples) {
    rows.push([await readImage(s.composite), await readImage(s.real), maskToImage(await readMask(s.mask))]);
  }
  return imageGrid(rows, { cellWidth: cell, cellHeight: cell, gap: 4 });
}
