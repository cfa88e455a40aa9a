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

const LUT_SIZE = 4096;
let gammaLut: Float64Array | null = null;

/**
 * v^2.2 for v in [0, 1] by linear interpolation in a 4097-entry table (absolute error < 3e-8, far
 * below float32 resolution of the result's use), Math.pow outside [0, 1], 0 for v ≤ 0.
 * Every linearisation in the stage goes through this one function, so A·S = I_lin stays exact.
 */
export function toLinear(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return v === 1 ? 1 : Math.pow(v, GAMMA);
  const lut = gammaLut ?? buildLut();
  const t = v * LUT_SIZE;
  const i = Math.floor(t);
  return lut[i] + (lut[i + 1] - lut[i]) * (t - i);
}

function buildLut(): Float64Array {
  const lut = new Float64Array(LUT_SIZE + 2);
  for (let i = 0; i <= LUT_SIZE + 1; i++) lut[i] = Math.pow(Math.min(1, i / LUT_SIZE), GAMMA);
  gammaLut = lut;
  return lut;
}

/** lin = max(0, v)^2.2 for every value (any channel count), via toLinear. */
export function linearize(srgb: Float32Array): Float32Array {
  const out = new Float32Array(srgb.length);
  for (let i = 0; i < srgb.length; i++) out[i] = toLinear(srgb[i]);
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
