/**
 * SSIM (Wang et al. 2004) as the evaluation protocol uses it (docs/METRICS.md):
 * - Gaussian window 11×11, σ = 1.5 (separable, weights normalised to sum 1);
 * - K1 = 0.01, K2 = 0.03, data range 255 (images in [0,1] are scaled by 255);
 * - population (biased) local variances/covariance (skimage `use_sample_covariance=False`);
 * - computed per channel, the SSIM map averaged over the "valid" region (pixels whose whole window
 *   lies inside the image; skimage crops the same 5-pixel border), then averaged over channels
 *   (like skimage `structural_similarity(..., channel_axis=-1, gaussian_weights=True)`).
 * Identical images give exactly 1. Images smaller than the window (11 px) are rejected.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage } from '../image/types.ts';
import { assertComparable, PEAK } from './pixel.ts';

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;

/** Normalised 1-D Gaussian taps of odd length `size`. */
export function gaussianWindow(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const w = new Float64Array(size);
  const r = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    s += w[i];
  }
  for (let i = 0; i < size; i++) w[i] /= s;
  return w;
}

/** "Valid" separable filtering of one plane: (h−size+1)×(w−size+1) output. */
function filterValid(src: Float64Array, w: number, h: number, taps: Float64Array): Float64Array {
  const k = taps.length;
  const ow = w - k + 1, oh = h - k + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += taps[t] * src[row + x + t];
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += taps[t] * tmp[(y + t) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of one channel plane (values on the 0–255 scale). */
export function ssimPlane(a: Float64Array, b: Float64Array, width: number, height: number): number {
  const taps = gaussianWindow();
  const n = width * height;
  const aa = new Float64Array(n), bb = new Float64Array(n), ab = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    aa[i] = a[i] * a[i];
    bb[i] = b[i] * b[i];
    ab[i] = a[i] * b[i];
  }
  const mx = filterValid(a, width, height, taps);
  const my = filterValid(b, width, height, taps);
  const mxx = filterValid(aa, width, height, taps);
  const myy = filterValid(bb, width, height, taps);
  const mxy = filterValid(ab, width, height, taps);
  const c1 = (SSIM_K1 * PEAK) ** 2;
  const c2 = (SSIM_K2 * PEAK) ** 2;
  let s = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i], uy = my[i];
    const vx = mxx[i] - ux * ux;
    const vy = myy[i] - uy * uy;
    const vxy = mxy[i] - ux * uy;
    s += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return s / mx.length;
}

/** SSIM per channel (0–255 scale, Gaussian 11/1.5, K1 .01, K2 .03), averaged over channels. */
export function ssim(pred: FloatImage, gt: FloatImage): number {
  assertComparable(pred, gt, 'ssim');
  if (pred.width < SSIM_WINDOW || pred.height < SSIM_WINDOW) {
    throw new HarmoniaError(`ssim: images must be at least ${SSIM_WINDOW}×${SSIM_WINDOW}, got ${pred.width}×${pred.height}`);
  }
  const c = pred.channels;
  const n = pred.width * pred.height;
  let total = 0;
  const a = new Float64Array(n), b = new Float64Array(n);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < n; i++) {
      a[i] = pred.data[i * c + k] * PEAK;
      b[i] = gt.data[i * c + k] * PEAK;
    }
    total += ssimPlane(a, b, pred.width, pred.height);
  }
  return total / c;
}
