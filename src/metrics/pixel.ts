/**
 * Pixel metrics of the evaluation protocol (docs/METRICS.md), as small pure functions.
 *
 * Inputs are `FloatImage`s in [0,1] (as Harmonia decodes them); every metric is computed on
 * 0–255 floats (value × 255), so the numbers are comparable with the iHarmony4 literature.
 * Masks are soft; the foreground is value > 0.5 (8-bit: > 127).
 *
 * Degenerate cases never give NaN or Infinity:
 * - an empty foreground makes fMSE / fPSNR undefined → `null` (excluded from means, counted);
 * - a full foreground makes bMSE undefined → `null`;
 * - identical images give MSE 0 and PSNR = PSNR_CAP_DB (100 dB); every PSNR is capped there.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';

/** Peak value for PSNR: metrics work on 0–255 floats. */
export const PEAK = 255;
/** PSNR of identical (or nearly identical) images is reported as this many dB, never Infinity. */
export const PSNR_CAP_DB = 100;

/** Which pixels a masked metric covers: the foreground (mask > 0.5) or the background. */
export type Region = 'fg' | 'bg';

export function assertComparable(a: FloatImage, b: FloatImage, what: string): void {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new HarmoniaError(
      `${what}: images differ in size (${a.width}×${a.height}×${a.channels} vs ${b.width}×${b.height}×${b.channels})`,
    );
  }
}

function assertMask(img: FloatImage, mask: Mask, what: string): void {
  if (mask.width !== img.width || mask.height !== img.height) {
    throw new HarmoniaError(`${what}: mask is ${mask.width}×${mask.height} but the image is ${img.width}×${img.height}`);
  }
}

/** Mean squared error over all C·H·W values, on the 0–255 scale. */
export function mse(pred: FloatImage, gt: FloatImage): number {
  assertComparable(pred, gt, 'mse');
  const a = pred.data, b = gt.data;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] - b[i]) * PEAK;
    s += d * d;
  }
  return s / a.length;
}

/** Sum of squared errors (0–255 scale) and pixel count inside one region of the mask. */
export function regionSse(pred: FloatImage, gt: FloatImage, mask: Mask, region: Region): { sse: number; pixels: number } {
  assertComparable(pred, gt, 'regionSse');
  assertMask(pred, mask, 'regionSse');
  const c = pred.channels;
  const a = pred.data, b = gt.data, m = mask.data;
  let s = 0;
  let n = 0;
  const wantFg = region === 'fg';
  for (let p = 0; p < m.length; p++) {
    if ((m[p] > 0.5) !== wantFg) continue;
    n++;
    for (let k = 0; k < c; k++) {
      const d = (a[p * c + k] - b[p * c + k]) * PEAK;
      s += d * d;
    }
  }
  return { sse: s, pixels: n };
}

/** MSE over one region: Σ_region (pred−gt)² / (C·n_region); null when the region is empty. */
export function maskedMse(pred: FloatImage, gt: FloatImage, mask: Mask, region: Region): number | null {
  const { sse, pixels } = regionSse(pred, gt, mask, region);
  return pixels === 0 ? null : sse / (pred.channels * pixels);
}

/** Foreground MSE (fMSE); null when the mask has no foreground pixel. */
export function fmse(pred: FloatImage, gt: FloatImage, mask: Mask): number | null {
  return maskedMse(pred, gt, mask, 'fg');
}

/** Background-only MSE (bMSE); null when the mask covers the whole image. */
export function bmse(pred: FloatImage, gt: FloatImage, mask: Mask): number | null {
  return maskedMse(pred, gt, mask, 'bg');
}

/** PSNR from an MSE on the 0–255 scale: 10·log10(255²/MSE), capped at PSNR_CAP_DB (MSE 0 → cap). */
export function psnrFromMse(m: number): number {
  if (!(m >= 0)) throw new HarmoniaError(`psnrFromMse: MSE must be a non-negative number, got ${m}`);
  if (m === 0) return PSNR_CAP_DB;
  return Math.min(PSNR_CAP_DB, 10 * Math.log10((PEAK * PEAK) / m));
}

/** PSNR over all values (peak 255), capped at PSNR_CAP_DB. */
export function psnr(pred: FloatImage, gt: FloatImage): number {
  return psnrFromMse(mse(pred, gt));
}

/** Foreground PSNR (peak 255) from fMSE; null when the foreground is empty. */
export function fpsnr(pred: FloatImage, gt: FloatImage, mask: Mask): number | null {
  const f = fmse(pred, gt, mask);
  return f === null ? null : psnrFromMse(f);
}

/** Share of the pixels that are foreground (mask > 0.5), in [0,1]. */
export function foregroundRatio(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] > 0.5) n++;
  return n / mask.data.length;
}

/**
 * Share of images whose fMSE got worse than the composite's: pred fMSE > composite fMSE (strictly).
 * Pairs where either is null (empty foreground) are left out; `count` says how many pairs were used.
 * Returns share null when no pair is usable.
 */
export function worseThanCompositeShare(
  predFmse: readonly (number | null)[],
  compositeFmse: readonly (number | null)[],
): { share: number | null; worse: number; count: number } {
  if (predFmse.length !== compositeFmse.length) {
    throw new HarmoniaError(`worseThanCompositeShare: ${predFmse.length} predictions but ${compositeFmse.length} composites`);
  }
  let worse = 0;
  let count = 0;
  for (let i = 0; i < predFmse.length; i++) {
    const p = predFmse[i], c = compositeFmse[i];
    if (p === null || c === null) continue;
    count++;
    if (p > c) worse++;
  }
  return { share: count === 0 ? null : worse / count, worse, count };
}

/** Mean of the non-null values and how many there were; mean null when none. */
export function meanOf(values: readonly (number | null)[]): { mean: number | null; count: number } {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (v === null) continue;
    s += v;
    n++;
  }
  return { mean: n === 0 ? null : s / n, count: n };
}
