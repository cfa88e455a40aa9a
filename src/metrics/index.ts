/**
 * Per-image metrics of the evaluation protocol (docs/METRICS.md § Protocol) and the
 * protocol's pre-processing (resize to 256×256: images bilinear, mask nearest).
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { resizeImage, resizeMask } from '../image/resize.ts';
import { mse, fmse, bmse, psnrFromMse, foregroundRatio } from './pixel.ts';
import { ssim } from './ssim.ts';

export * from './pixel.ts';
export { ssim, gaussianWindow, SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 } from './ssim.ts';

/** Side of the square the protocol evaluates at. */
export const EVAL_SIZE = 256;

export interface ImageMetrics {
  mse: number;
  psnr: number;
  /** null when the foreground is empty. */
  fmse: number | null;
  /** null when the foreground is empty. */
  fpsnr: number | null;
  /** Background-only MSE; null when the foreground covers everything. */
  bmse: number | null;
  ssim: number;
  /** Foreground share of the pixels (mask > 0.5), in [0,1]. */
  fgRatio: number;
}

/** All pixel metrics of one prediction against its ground truth (images already at eval size). */
export function imageMetrics(pred: FloatImage, gt: FloatImage, mask: Mask): ImageMetrics {
  const m = mse(pred, gt);
  const f = fmse(pred, gt, mask);
  return {
    mse: m,
    psnr: psnrFromMse(m),
    fmse: f,
    fpsnr: f === null ? null : psnrFromMse(f),
    bmse: bmse(pred, gt, mask),
    ssim: ssim(pred, gt),
    fgRatio: foregroundRatio(mask),
  };
}

/**
 * The protocol's pre-processing: RGB image resized to size×size with bilinear (anti-aliased when
 * shrinking, PIL-style, half-pixel centres); a 4-channel image is rejected.
 */
export function toEvalImage(img: FloatImage, size = EVAL_SIZE, what = 'image'): FloatImage {
  if (img.channels !== 3) throw new HarmoniaError(`${what}: evaluation needs an RGB image, got ${img.channels} channels`);
  return resizeImage(img, size, size, 'bilinear');
}

/** The protocol's mask pre-processing: nearest-neighbour resize, then hard threshold at 0.5 (8-bit > 127). */
export function toEvalMask(mask: Mask, size = EVAL_SIZE): Mask {
  const r = resizeMask(mask, size, size, 'nearest');
  const out = new Float32Array(r.data.length);
  for (let i = 0; i < out.length; i++) out[i] = r.data[i] > 0.5 ? 1 : 0;
  return { width: size, height: size, data: out };
}

/** Foreground-ratio bins as the field reports them: <5%, 5–15%, ≥15%. */
export const FG_BINS = [
  { name: '0-5%', lo: 0, hi: 0.05 },
  { name: '5-15%', lo: 0.05, hi: 0.15 },
  { name: '15-100%', lo: 0.15, hi: Infinity },
] as const;
export type FgBinName = (typeof FG_BINS)[number]['name'];

/** The bin of a foreground ratio (lo inclusive, hi exclusive). */
export function fgBin(ratio: number): FgBinName {
  for (const b of FG_BINS) if (ratio >= b.lo && ratio < b.hi) return b.name;
  return FG_BINS[FG_BINS.length - 1].name;
}
