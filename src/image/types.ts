import { HarmoniaError } from '../errors.ts';

/**
 * A float image, row-major, interleaved channels (HWC), values nominally in [0, 1]
 * (sRGB-encoded unless a function says it is linear).
 */
export interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Float32Array;
}

/** A soft mask in [0, 1], one value per pixel; foreground = 1. */
export interface Mask {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export function createImage(width: number, height: number, channels = 3, fill = 0): FloatImage {
  assertDims(width, height, 'createImage');
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new HarmoniaError(`createImage: channels must be 1..4, got ${channels}`);
  }
  const data = new Float32Array(width * height * channels);
  if (fill !== 0) data.fill(fill);
  return { width, height, channels, data };
}

export function createMask(width: number, height: number, fill = 0): Mask {
  assertDims(width, height, 'createMask');
  const data = new Float32Array(width * height);
  if (fill !== 0) data.fill(fill);
  return { width, height, data };
}

export function cloneImage(img: FloatImage): FloatImage {
  return { width: img.width, height: img.height, channels: img.channels, data: new Float32Array(img.data) };
}

export function cloneMask(m: Mask): Mask {
  return { width: m.width, height: m.height, data: new Float32Array(m.data) };
}

/** Hard (binary) version of a soft mask: 1 where value > threshold (default 0.5). */
export function hardMask(m: Mask, threshold = 0.5): Mask {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = m.data[i] > threshold ? 1 : 0;
  return { width: m.width, height: m.height, data: out };
}

/** Number of pixels with mask value > 0.5. */
export function maskArea(m: Mask): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] > 0.5) n++;
  return n;
}

export function assertSameSize(
  a: { width: number; height: number },
  b: { width: number; height: number },
  what: string,
  file?: string,
): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new HarmoniaError(
      `${what}: size ${b.width}×${b.height} does not match ${a.width}×${a.height}`,
      { file },
    );
  }
}

function assertDims(width: number, height: number, fn: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new HarmoniaError(`${fn}: width and height must be positive integers, got ${width}×${height}`);
  }
}
