/**
 * An in-memory BatchSource over equally sized samples: order shuffled per epoch and optional
 * horizontal flips, both derived only from (seed, epoch, position), so any (epoch, start) replays
 * the same batches: what exact resume needs. Used for small data sets and tests.
 */
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import type { TrainBatch } from './step.ts';
import type { BatchSource } from './trainer.ts';

export interface MemorySample {
  id: string;
  /** h×w×3 */
  input: Float32Array;
  real: Float32Array;
  /** h×w */
  mask: Float32Array;
}

export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return new Rng(seed).fork(`epoch:${epoch}`).shuffle(order);
}

function flipInto(dst: Float32Array, dOff: number, src: Float32Array, h: number, w: number, c: number, flip: boolean): void {
  if (!flip) { dst.set(src, dOff); return; }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + (w - 1 - x)) * c, d = dOff + (y * w + x) * c;
      for (let k = 0; k < c; k++) dst[d + k] = src[s + k];
    }
  }
}

/** Assembles samples into one NHWC batch (optionally flipping some horizontally). */
export function makeBatch(samples: readonly MemorySample[], h: number, w: number, flips?: readonly boolean[]): TrainBatch {
  const n = samples.length, px = h * w;
  const b: TrainBatch = { n, height: h, width: w, input: new Float32Array(n * px * 3), real: new Float32Array(n * px * 3), mask: new Float32Array(n * px), ids: [] };
  samples.forEach((s, i) => {
    if (s.input.length !== px * 3 || s.real.length !== px * 3 || s.mask.length !== px) {
      throw new HarmoniaError(`sample "${s.id}": expected ${w}×${h} input, real and mask`);
    }
    const f = flips?.[i] ?? false;
    flipInto(b.input, i * px * 3, s.input, h, w, 3, f);
    flipInto(b.real, i * px * 3, s.real, h, w, 3, f);
    flipInto(b.mask, i * px, s.mask, h, w, 1, f);
    b.ids.push(s.id);
  });
  return b;
}

export function memorySource(
  samples: readonly MemorySample[],
  opts: { height: number; width: number; batchSize: number; seed: number; flip?: boolean },
): BatchSource {
  const { height: h, width: w, batchSize, seed } = opts;
  if (!(batchSize > 0)) throw new HarmoniaError(`memorySource: batchSize must be ≥ 1, got ${batchSize}`);
  const batchesPerEpoch = Math.floor(samples.length / batchSize);
  if (batchesPerEpoch < 1) throw new HarmoniaError(`training data: ${samples.length} samples is fewer than one batch of ${batchSize}`);
  return {
    batchesPerEpoch,
    async *epoch(epoch: number, start: number) {
      const order = epochOrder(samples.length, seed, epoch);
      for (let b = start; b < batchesPerEpoch; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const flips = idx.map((i) => Boolean(opts.flip) && new Rng(seed).fork(`flip:${epoch}:${i}`).next() < 0.5);
        yield makeBatch(idx.map((i) => samples[i]), h, w, flips);
      }
    },
  };
}
