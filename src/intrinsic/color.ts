/**
 * Colour conventions of the Intrinsic Compositing stage (spec §1), browser-safe:
 * linearisation is the pure power law lin = srgb^2.2 (not the piecewise sRGB curve) and
 * brightness is 0.3R + 0.59G + 0.11B.
 */

export const GAMMA = 2.2;
export const INV_GAMMA = 1 / 2.2;

/** Brightness weights of `get_brightness` in the official code. */
export const LUMA_R = 0.3;
export const LUMA_G = 0.59;
export const LUMA_B = 0.11;

/** lin = max(0, v)^2.2 for every value (any channel count). */
export function linearize(srgb: Float32Array): Float32Array {
  const out = new Float32Array(srgb.length);
  for (let i = 0; i < srgb.length; i++) {
    const v = srgb[i];
    out[i] = v > 0 ? Math.pow(v, GAMMA) : 0;
  }
  return out;
}

/** srgb = clip(lin, 0, 1)^(1/2.2). */
export function delinearize(lin: Float32Array): Float32Array {
  const out = new Float32Array(lin.length);
  for (let i = 0; i < lin.length; i++) {
    const v = lin[i];
    out[i] = v <= 0 ? 0 : v >= 1 ? 1 : Math.pow(v, INV_GAMMA);
  }
  return out;
}

/** Brightness 0.3R+0.59G+0.11B of an interleaved RGB array. */
export function brightness(rgb: Float32Array, pixels: number): Float32Array {
  const out = new Float32Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) out[i] = LUMA_R * rgb[j] + LUMA_G * rgb[j + 1] + LUMA_B * rgb[j + 2];
  return out;
}
