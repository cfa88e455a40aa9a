/**
 * Applying a low-resolution correction at full resolution without materialising full-size
 * intermediates (browser-safe, no node:* imports).
 *
 * The GAN correction δ = G(x) − x is computed at analysis size (≤ 1024 px). The result is
 * clip(base + upsample(δ)) blended with the composite by the mask. Done naively this allocates the
 * upsampled δ, the clipped sum and the blend: three full-size float copies (288 MB each at 24 MP).
 * `applyCorrection` writes the final pixels row by row into one output array: δ is resampled to the
 * full width once (analysis height × full width, e.g. 683 × 6000 × 3 floats = 49 MB for 6000×4000),
 * and each output row is interpolated from two of those rows on the fly. The values are bit-identical
 * to `blendByMask(composite, clip(base + resizeImage(δ, W, H, 'bilinear')), mask)`.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { resizeImage, resampleTaps } from '../image/resize.ts';
import type { Tap } from '../image/resize.ts';

export type RowTap = Tap;

/**
 * The vertical taps of resizeImage's 'bilinear' kernel (half-pixel centres, antialiased when
 * shrinking, weights normalised to sum 1): resizeImage's own (resampleTaps), so sums over them
 * reproduce resizeImage exactly.
 */
export function bilinearTaps(inSize: number, outSize: number): RowTap[] {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new HarmoniaError(`bilinearTaps: sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  return resampleTaps(inSize, outSize, 'bilinear', true);
}

/**
 * clip(base + bilinear-upsampled `delta`, 0, 1), then (with `blend`) m·that + (1−m)·composite per pixel,
 * pixels with m ≤ 0 copied from the composite exactly. `delta` may be smaller than `base` (any size);
 * the output has `base`'s size. Peak extra memory: one output image plus `delta` at full width.
 */
export function applyCorrection(base: FloatImage, delta: FloatImage, blend?: { composite: FloatImage; mask: Mask }): FloatImage {
  const W = base.width, H = base.height;
  if (base.channels !== 3 || delta.channels !== 3) throw new HarmoniaError(`applyCorrection: base and delta must be RGB, got ${base.channels} and ${delta.channels} channels`);
  if (delta.width > W || delta.height > H) throw new HarmoniaError(`applyCorrection: delta ${delta.width}×${delta.height} is larger than the image ${W}×${H}`);
  if (blend && (blend.composite.width !== W || blend.composite.height !== H || blend.composite.channels !== 3 || blend.mask.width !== W || blend.mask.height !== H)) {
    throw new HarmoniaError(`applyCorrection: composite and mask must be ${W}×${H} (RGB), got ${blend.composite.width}×${blend.composite.height}×${blend.composite.channels} and ${blend.mask.width}×${blend.mask.height}`);
  }
  // horizontal pass once (the same Float32 values resizeImage's first pass holds), vertical per row
  const dw = delta.width === W ? delta : resizeImage(delta, W, delta.height, 'bilinear');
  const taps = delta.height === H ? undefined : bilinearTaps(delta.height, H);
  const out = new Float32Array(W * H * 3);
  const row = new Float32Array(W * 3);
  const b = base.data;
  const comp = blend?.composite.data;
  const mask = blend?.mask.data;
  for (let y = 0; y < H; y++) {
    if (taps) {
      const { start, w } = taps[y];
      for (let j = 0; j < row.length; j++) {
        let s = 0;
        for (let t = 0; t < w.length; t++) s += w[t] * dw.data[(start + t) * W * 3 + j];
        row[j] = s;
      }
    } else {
      row.set(dw.data.subarray(y * W * 3, (y + 1) * W * 3));
    }
    const o = y * W * 3;
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const m = mask ? mask[p] : 1;
      for (let k = 0; k < 3; k++) {
        const i = o + x * 3 + k;
        if (m <= 0) { out[i] = (comp as Float32Array)[i]; continue; }
        const v = b[i] + row[x * 3 + k];
        const c = Math.fround(v < 0 ? 0 : v > 1 ? 1 : v);
        out[i] = m >= 1 || !comp ? c : m * c + (1 - m) * comp[i];
      }
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}
