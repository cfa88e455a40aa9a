/**
 * Illumination perturbations for synthetic composites, so the lighting stage has something to fix:
 * exposure (in stops, applied in linear light), a soft shading gradient across the object (linear
 * light, multiplicative), contrast around the object's mean and a gamma change (sRGB-encoded). Only
 * foreground pixels (mask > 0.5) change. Linear light uses the pure 2.2 power law of the intrinsic spec.
 */
import type { Rng } from '../util/random.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { HarmoniaError } from '../errors.ts';

export interface IlluminationParams {
  /** Exposure change in stops (linear light × 2^exposure). */
  exposure: number;
  /** Contrast factor around the foreground mean (sRGB-encoded values). */
  contrast: number;
  /** Gamma applied to sRGB-encoded values (v^gamma). */
  gamma: number;
  /** Soft shading ramp across the object: direction (radians, image x right / y down) and strength (±). */
  gradientAngle: number;
  gradientStrength: number;
}

/** A random perturbation: exposure ±0.8 stop, contrast 0.75–1.3, gamma 0.8–1.25, ramp strength 0.15–0.5. */
export function randomIllumination(rng: Rng): IlluminationParams {
  return {
    exposure: rng.uniform(-0.8, 0.8),
    contrast: rng.uniform(0.75, 1.3),
    gamma: Math.exp(rng.uniform(Math.log(0.8), Math.log(1.25))),
    gradientAngle: rng.uniform(0, 2 * Math.PI),
    gradientStrength: rng.uniform(0.15, 0.5),
  };
}

/** The identity perturbation. */
export const NO_ILLUMINATION_CHANGE: IlluminationParams = { exposure: 0, contrast: 1, gamma: 1, gradientAngle: 0, gradientStrength: 0 };

/** Applies `p` to the foreground of `img` (sRGB RGB); returns a new image, clipped to [0,1]. */
export function applyIllumination(img: FloatImage, mask: Mask, p: IlluminationParams): FloatImage {
  if (img.channels !== 3 || mask.width !== img.width || mask.height !== img.height) {
    throw new HarmoniaError('applyIllumination: needs an RGB image and a mask of the same size');
  }
  const W = img.width, H = img.height;
  const out = new Float32Array(img.data);
  // foreground extent along the ramp direction
  const dx = Math.cos(p.gradientAngle), dy = Math.sin(p.gradientAngle);
  let lo = Infinity, hi = -Infinity, n = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    if (mask.data[y * W + x] <= 0.5) continue;
    const t = x * dx + y * dy;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
    n++;
  }
  if (n === 0) return { width: W, height: H, channels: 3, data: out };
  const mid = (lo + hi) / 2, half = Math.max(1, (hi - lo) / 2);
  const gain = Math.pow(2, p.exposure);
  const norm = Math.tanh(1.5);
  let mean = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x;
    if (mask.data[i] <= 0.5) continue;
    const t = (x * dx + y * dy - mid) / half; // −1 … 1 across the object
    const ramp = Math.max(0.05, 1 + p.gradientStrength * Math.tanh(1.5 * t) / norm);
    for (let k = 0; k < 3; k++) {
      const lin = Math.pow(Math.max(0, img.data[i * 3 + k]), 2.2) * gain * ramp;
      const v = Math.pow(Math.min(1, lin), 1 / 2.2);
      out[i * 3 + k] = v;
      mean += v;
    }
  }
  mean /= 3 * n;
  for (let i = 0; i < W * H; i++) {
    if (mask.data[i] <= 0.5) continue;
    for (let k = 0; k < 3; k++) {
      const c = (out[i * 3 + k] - mean) * p.contrast + mean;
      const v = c <= 0 ? 0 : Math.pow(Math.min(1, c), p.gamma);
      out[i * 3 + k] = v;
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}
