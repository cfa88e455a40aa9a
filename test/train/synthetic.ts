/** Tiny synthetic harmonization samples for trainer tests: real = smooth gradients, input = real with the masked box recoloured. */
import { Rng } from '../../src/util/random.ts';
import type { MemorySample } from '../../src/data/memory.ts';

export function syntheticSamples(count: number, size: number, seed = 7): MemorySample[] {
  const out: MemorySample[] = [];
  for (let i = 0; i < count; i++) {
    const rng = new Rng(seed).fork(i);
    const px = size * size;
    const real = new Float32Array(px * 3), input = new Float32Array(px * 3), mask = new Float32Array(px);
    const base = [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)];
    const x0 = rng.int(0, size / 2), y0 = rng.int(0, size / 2), bw = rng.int(size / 4, size / 2);
    const gain = [rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        const inBox = x >= x0 && x < x0 + bw && y >= y0 && y < y0 + bw;
        mask[p] = inBox ? 1 : 0;
        for (let c = 0; c < 3; c++) {
          const v = Math.min(1, Math.max(0, base[c] + 0.3 * Math.sin((x + 2 * c) / 3) * Math.cos(y / 4) + (inBox ? 0.15 : 0)));
          real[p * 3 + c] = v;
          input[p * 3 + c] = inBox ? Math.min(1, v * gain[c]) : v;
        }
      }
    }
    out.push({ id: `s${i}`, input, real, mask });
  }
  return out;
}
