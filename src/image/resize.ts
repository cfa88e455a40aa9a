import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from './types.ts';

export type ResizeKernel = 'nearest' | 'bilinear' | 'bicubic' | 'area';

/**
 * Resizes a float image. Separable resampling with half-pixel centres (the convention of PIL,
 * OpenCV and PyTorch `align_corners=False`). When shrinking, 'bilinear' and 'bicubic' widen their
 * support by the scale factor (anti-aliasing, as PIL does) unless `antialias: false`; 'area' is a
 * box filter (exact pixel-area averaging); 'nearest' picks floor((i + 0.5) · scale).
 */
export function resizeImage(
  img: FloatImage,
  width: number,
  height: number,
  kernel: ResizeKernel = 'bilinear',
  opts: { antialias?: boolean } = {},
): FloatImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new HarmoniaError(`resizeImage: target size must be positive integers, got ${width}×${height}`);
  }
  if (width === img.width && height === img.height) {
    return { ...img, data: new Float32Array(img.data) };
  }
  const c = img.channels;
  if (kernel === 'nearest') {
    const out = new Float32Array(width * height * c);
    const sx = img.width / width;
    const sy = img.height / height;
    for (let y = 0; y < height; y++) {
      const yy = Math.min(img.height - 1, Math.floor((y + 0.5) * sy));
      for (let x = 0; x < width; x++) {
        const xx = Math.min(img.width - 1, Math.floor((x + 0.5) * sx));
        const si = (yy * img.width + xx) * c;
        const di = (y * width + x) * c;
        for (let k = 0; k < c; k++) out[di + k] = img.data[si + k];
      }
    }
    return { width, height, channels: c, data: out };
  }
  const antialias = opts.antialias ?? true;
  const horiz = weights(img.width, width, kernel, antialias);
  const vert = weights(img.height, height, kernel, antialias);
  // Horizontal pass: img.height × width
  const tmp = new Float32Array(img.height * width * c);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * c;
    for (let x = 0; x < width; x++) {
      const { start, w } = horiz[x];
      const di = (y * width + x) * c;
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < w.length; t++) s += w[t] * img.data[row + (start + t) * c + k];
        tmp[di + k] = s;
      }
    }
  }
  const out = new Float32Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const { start, w } = vert[y];
    for (let x = 0; x < width; x++) {
      const di = (y * width + x) * c;
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < w.length; t++) s += w[t] * tmp[((start + t) * width + x) * c + k];
        out[di + k] = s;
      }
    }
  }
  return { width, height, channels: c, data: out };
}

/** Resizes a mask; soft masks keep soft values (bilinear), or use 'nearest' to keep them binary. */
export function resizeMask(m: Mask, width: number, height: number, kernel: ResizeKernel = 'nearest'): Mask {
  const r = resizeImage({ width: m.width, height: m.height, channels: 1, data: m.data }, width, height, kernel);
  return { width, height, data: r.data };
}

/** Size with the long side at most `maxSide` (never upscaled), keeping the aspect ratio. */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
    scale,
  };
}

/** One output pixel's source taps along an axis: weights `w` (sum 1) from source index `start` on. */
export interface Tap { start: number; w: Float64Array }

function filterFn(kernel: Exclude<ResizeKernel, 'nearest'>): { support: number; f: (x: number) => number } {
  switch (kernel) {
    case 'bilinear':
      return { support: 1, f: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } };
    case 'bicubic': {
      const a = -0.5;
      return {
        support: 2,
        f: (x) => {
          x = Math.abs(x);
          if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
          if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
          return 0;
        },
      };
    }
    case 'area':
      return { support: 0.5, f: (x) => (x >= -0.5 && x < 0.5 ? 1 : 0) };
  }
}

/**
 * The taps resizeImage uses along one axis (inSize → outSize), for code that must reproduce its
 * arithmetic exactly (e.g. upsampling a correction row by row: src/pipeline/apply.ts).
 */
export function resampleTaps(inSize: number, outSize: number, kernel: Exclude<ResizeKernel, 'nearest'> = 'bilinear', antialias = true): Tap[] {
  return weights(inSize, outSize, kernel, antialias);
}

function weights(inSize: number, outSize: number, kernel: Exclude<ResizeKernel, 'nearest'>, antialias: boolean): Tap[] {
  const scale = inSize / outSize;
  const { support, f } = filterFn(kernel);
  const fscale = (kernel === 'area' || antialias) && scale > 1 ? scale : 1;
  const sup = support * fscale;
  const taps: Tap[] = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    let lo = Math.floor(centre - sup);
    let hi = Math.ceil(centre + sup);
    lo = Math.max(lo, 0);
    hi = Math.min(hi, inSize);
    const w = new Float64Array(Math.max(1, hi - lo));
    let total = 0;
    for (let j = lo; j < hi; j++) {
      let v: number;
      if (kernel === 'area' && scale > 1) {
        // exact overlap of source pixel [j, j+1) with the destination footprint
        const a = Math.max(j, centre - scale / 2);
        const b = Math.min(j + 1, centre + scale / 2);
        v = Math.max(0, b - a);
      } else {
        v = f((j + 0.5 - centre) / fscale);
      }
      w[j - lo] = v;
      total += v;
    }
    if (total === 0) {
      // degenerate: fall back to nearest source pixel
      const j = Math.min(inSize - 1, Math.max(0, Math.floor(centre)));
      taps.push({ start: j, w: Float64Array.of(1) });
      continue;
    }
    for (let t = 0; t < w.length; t++) w[t] /= total;
    taps.push({ start: lo, w });
  }
  return taps;
}
