/** Display helpers for the intrinsic stage's intermediates (in the worker): scalar maps, normals, clamped albedo. */
import type { FloatImage } from 'harmonia/browser';

/** Grey image from one value per pixel, scaled so the 99th percentile maps to 1, gamma-encoded. */
export function visualizeScalar(values: Float32Array, width: number, height: number, gamma = 1 / 2.2): FloatImage {
  const sorted = Float32Array.from(values).filter(Number.isFinite).sort();
  const hi = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] : 1;
  const scale = hi > 0 ? 1 / hi : 1;
  const data = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const v = Math.min(1, Math.max(0, values[p] * scale)) ** gamma;
    data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = v;
  }
  return { width, height, channels: 3, data };
}

/** Unit normals (x right, y up, z toward the camera, interleaved) as the usual (n + 1)/2 colour image. */
export function visualizeNormals(normals: Float32Array, width: number, height: number): FloatImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, (normals[i] + 1) / 2));
  return { width, height, channels: 3, data };
}

/** Clamps an image to [0,1] for display (albedo may exceed 1). */
export function clampImage(img: FloatImage): FloatImage {
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, img.data[i]));
  return { width: img.width, height: img.height, channels: img.channels, data };
}
