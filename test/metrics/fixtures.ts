/** Generated test data for the metrics/evaluation tests: a small iHarmony4-style split written as PNG. */
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Rng } from '../../src/util/random.ts';
import { createImage, createMask, type FloatImage, type Mask } from '../../src/image/types.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';

export interface GeneratedItem {
  real: string;
  composite: string;
  mask: string;
  /** composite name without extension, e.g. `img03_1_2` */
  base: string;
}

/** A smooth random scene with a little noise. */
export function scene(rng: Rng, w: number, h: number): FloatImage {
  const img = createImage(w, h, 3);
  const a = [rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)];
  const gx = [rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4)];
  const gy = [rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4)];
  const fx = rng.uniform(0.02, 0.2), fy = rng.uniform(0.02, 0.2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < 3; k++) {
        const v = a[k] + gx[k] * (x / w - 0.5) + gy[k] * (y / h - 0.5) + 0.08 * Math.sin(fx * x + k) * Math.cos(fy * y) + 0.03 * rng.normal();
        img.data[(y * w + x) * 3 + k] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return img;
}

/** Ellipse mask covering roughly `share` of the image (0 → empty, 1 → full). */
export function ellipseMask(w: number, h: number, share: number, cx = 0.5, cy = 0.5): Mask {
  const m = createMask(w, h);
  if (share >= 1) { m.data.fill(1); return m; }
  if (share <= 0) return m;
  const r = Math.sqrt(share / Math.PI);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x / w - cx, dy = y / h - cy;
      if (dx * dx + dy * dy < r * r) m.data[y * w + x] = 1;
    }
  }
  return m;
}

/** The real image with the foreground recoloured (gain + offset per channel): a composite. */
export function recolour(real: FloatImage, mask: Mask, rng: Rng): FloatImage {
  const out = createImage(real.width, real.height, 3);
  const gain = [rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4)];
  const off = [rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15)];
  for (let p = 0; p < mask.data.length; p++) {
    for (let k = 0; k < 3; k++) {
      const v = real.data[p * 3 + k];
      out.data[p * 3 + k] = mask.data[p] > 0.5 ? Math.min(1, Math.max(0, v * gain[k] + off[k])) : v;
    }
  }
  return out;
}

const SIZES: [number, number][] = [[300, 240], [256, 256], [320, 200], [200, 280], [256, 192]];
/** Foreground shares: a tiny one, medium ones, large ones, plus an empty and a full mask. */
const SHARES = [0.02, 0.1, 0.3, 0.0, 0.5, 0.08, 1.0, 0.04, 0.2, 0.12];

/**
 * Writes an iHarmony4-style subset `<root>/<subset>/{composite_images,masks,real_images}` with
 * `<subset>_test.txt`, 10 images (one with an empty mask, one with a full mask, one with mask index 2).
 */
export async function writeSplit(root: string, subset = 'Gen', seed = 7): Promise<GeneratedItem[]> {
  const rng = new Rng(seed);
  const dir = join(root, subset);
  for (const d of ['composite_images', 'masks', 'real_images']) mkdirSync(join(dir, d), { recursive: true });
  const items: GeneratedItem[] = [];
  for (let i = 0; i < SHARES.length; i++) {
    const [w, h] = SIZES[i % SIZES.length];
    const name = `img_${String(i).padStart(2, '0')}`;
    const maskIdx = i === 5 ? 2 : 1;
    const real = scene(rng, w, h);
    const mask = ellipseMask(w, h, SHARES[i], rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65));
    const comp = recolour(real, mask, rng);
    const realP = join(dir, 'real_images', `${name}.jpg`);
    const maskP = join(dir, 'masks', `${name}_${maskIdx}.png`);
    const compP = join(dir, 'composite_images', `${name}_${maskIdx}_3.jpg`);
    await writeImage(realP, real, { quality: 97 });
    await writeMask(maskP, mask);
    await writeImage(compP, comp, { quality: 97 });
    items.push({ real: realP, composite: compP, mask: maskP, base: `${name}_${maskIdx}_3` });
  }
  writeFileSync(join(dir, `${subset}_test.txt`), items.map((it) => `${it.base}.jpg`).join('\n') + '\n');
  return items;
}
