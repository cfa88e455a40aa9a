/** Sample grids: one row per image, columns input | output | real (PNG). */
import { createImage } from '../image/types.ts';
import type { FloatImage } from '../image/types.ts';
import { writeImage } from '../image/io.ts';

/** NHWC arrays of `n` images of h×w×3 → a grid with `columns.length` columns and a 2-px white gap. */
export function renderGrid(columns: readonly Float32Array[], n: number, h: number, w: number, gap = 2): FloatImage {
  const cols = columns.length;
  const W = cols * w + (cols + 1) * gap, H = n * h + (n + 1) * gap;
  const img = createImage(W, H, 3, 1);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < cols; c++) {
      const src = columns[c];
      const x0 = gap + c * (w + gap), y0 = gap + r * (h + gap);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = ((r * h + y) * w + x) * 3, d = ((y0 + y) * W + x0 + x) * 3;
          for (let k = 0; k < 3; k++) img.data[d + k] = Math.min(1, Math.max(0, src[s + k]));
        }
      }
    }
  }
  return img;
}

export async function writeSampleGrid(path: string, input: Float32Array, output: Float32Array, real: Float32Array, n: number, h: number, w: number): Promise<void> {
  await writeImage(path, renderGrid([input, output, real], n, h, w), { mkdir: true });
}
