/**
 * Image grids (contact sheets): rows × columns of images tiled into one RGB image, no labels. Each image
 * is resized to fit its cell keeping its aspect ratio (area filter when shrinking, bilinear when growing)
 * and centred; 1-channel images are shown as gray, alpha is dropped.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from './types.ts';
import { resizeImage } from './resize.ts';

export interface GridOptions {
  /** Cell size in pixels (default: the largest image's size in the grid). */
  cellWidth?: number;
  cellHeight?: number;
  /** Gap between cells and around the border, in pixels (default 4). */
  gap?: number;
  /** Background gray level in [0,1] (default 1, white). */
  background?: number;
}

/** A mask as a 1-channel image (for grids). */
export function maskToImage(m: Mask): FloatImage {
  return { width: m.width, height: m.height, channels: 1, data: m.data };
}

function toRgb(img: FloatImage): FloatImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (img.channels === 1 || img.channels === 2) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = img.data[i * img.channels];
    else for (let k = 0; k < 3; k++) out[i * 3 + k] = img.data[i * img.channels + k];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Tiles `images[row][col]` into one RGB image. Rows may have different lengths (missing cells stay empty). */
export function imageGrid(images: FloatImage[][], opts: GridOptions = {}): FloatImage {
  const rows = images.length;
  const cols = Math.max(0, ...images.map((r) => r.length));
  if (rows === 0 || cols === 0) throw new HarmoniaError('imageGrid: no images');
  const all = images.flat();
  const cw = opts.cellWidth ?? Math.max(...all.map((i) => i.width));
  const ch = opts.cellHeight ?? Math.max(...all.map((i) => i.height));
  const gap = opts.gap ?? 4;
  if (!Number.isInteger(cw) || !Number.isInteger(ch) || cw < 1 || ch < 1 || !Number.isInteger(gap) || gap < 0) {
    throw new HarmoniaError(`imageGrid: cell size must be positive integers and gap ≥ 0, got ${cw}×${ch}, gap ${gap}`);
  }
  const W = cols * cw + (cols + 1) * gap;
  const H = rows * ch + (rows + 1) * gap;
  const out = new Float32Array(W * H * 3).fill(opts.background ?? 1);
  images.forEach((row, r) => row.forEach((img, c) => {
    const scale = Math.min(cw / img.width, ch / img.height);
    const w = Math.max(1, Math.round(img.width * scale));
    const h = Math.max(1, Math.round(img.height * scale));
    const rgb = toRgb(img);
    const fitted = w === img.width && h === img.height ? rgb : resizeImage(rgb, w, h, scale < 1 ? 'area' : 'bilinear');
    const x0 = gap + c * (cw + gap) + Math.floor((cw - w) / 2);
    const y0 = gap + r * (ch + gap) + Math.floor((ch - h) / 2);
    for (let y = 0; y < h; y++) {
      const src = y * w * 3;
      out.set(fitted.data.subarray(src, src + w * 3), ((y0 + y) * W + x0) * 3);
    }
  }));
  return { width: W, height: H, channels: 3, data: out };
}
