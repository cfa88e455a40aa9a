import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/util/random.ts';
import { rawToPng } from './images.ts';

/** A real-photo source in the iHarmony4-style layout: real_images/<name>.png + masks/<name>_1.png (a tinted disc on a ramp). */
export async function photoSource(dir: string, count: number, size: number): Promise<void> {
  mkdirSync(join(dir, 'real_images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  for (let k = 0; k < count; k++) {
    const rng = new Rng(k);
    const rgb = new Uint8Array(size * size * 3), m = new Uint8Array(size * size);
    const tint = [rng.uniform(0.3, 1), rng.uniform(0.3, 1), rng.uniform(0.3, 1)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const inside = Math.hypot(x - size / 2, y - size / 2) < size / 4;
        m[i] = inside ? 255 : 0;
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(255 * (inside ? tint[c] : 0.2 + 0.6 * ((x + 2 * y + 40 * c) % size) / size));
      }
    }
    writeFileSync(join(dir, 'real_images', `photo${k}.png`), await rawToPng(rgb, size, size, 3));
    writeFileSync(join(dir, 'masks', `photo${k}_1.png`), await rawToPng(m, size, size, 1));
  }
}
