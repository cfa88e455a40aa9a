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

/**
 * Mean SSIM of one channel plane (values on the 0–255 scale). One fused pass: the five local
 * moments (μx, μy, E[x²], E[y²], E[xy]) are filtered together, horizontally then vertically, over
 * the "valid" region only.
 */
export function ssimPlane(a: Float64Array, b: Float64Array, width: number, height: number): number {
  const taps = gaussianWindow();
  const k = taps.length;
  const ow = width - k + 1, oh = height - k + 1;
  const n = height * ow;
  const hx = new Float64Array(n), hy = new Float64Array(n), hxx = new Float64Array(n), hyy = new Float64Array(n), hxy = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < ow; x++) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let t = 0; t < k; t++) {
        const w = taps[t];
        const u = a[row + x + t], v = b[row + x + t];
        const wu = w * u, wv = w * v;
        sx += wu; sy += wv; sxx += wu * u; syy += wv * v; sxy += wu * v;
      }
      const o = y * ow + x;
      hx[o] = sx; hy[o] = sy; hxx[o] = sxx; hyy[o] = syy; hxy[o] = sxy;
    }
  }
  const c1 = (SSIM_K1 * PEAK) ** 2;
  const c2 = (SSIM_K2 * PEAK) ** 2;
  let total = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let ux = 0, uy = 0, mxx = 0, myy = 0, mxy = 0;
      for (let t = 0; t < k; t++) {
        const w = taps[t];
        const o = (y + t) * ow + x;
        ux += w * hx[o]; uy += w * hy[o]; mxx += w * hxx[o]; myy += w * hyy[o]; mxy += w * hxy[o];
      }
      const vx = mxx - ux * ux;
      const vy = myy - uy * uy;
      const vxy = mxy - ux * uy;
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / (oh * ow);
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
