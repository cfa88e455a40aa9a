/**
 * The training data path: a BatchSource is what the trainer reads, deterministic in (epoch, batch
 * index) so resuming replays exactly. Two sources implement it: `memorySource` here (a fixed set of
 * equally sized samples in memory, float or 8-bit: order shuffled per epoch, an optional random crop
 * and horizontal flip per sample, all derived only from (seed, epoch, sample)) and `CompositeStream`
 * (stream.ts: unlimited composites synthesised on the fly). Both yield StreamBatch.
 */
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import type { StreamBatch } from './stream.ts';

type TrainBatch = StreamBatch;

/** Where training batches come from: deterministic in (epoch, batch index), so resuming replays exactly. */
export interface BatchSource {
  readonly batchesPerEpoch: number;
  /** The batches of `epoch` (0-based) starting at batch index `start`. */
  epoch(epoch: number, start: number): AsyncIterable<StreamBatch>;
}

type Pixels = Float32Array | Uint8Array;

export interface MemorySample {
  id: string;
  /** h×w×3 (what G sees), values in [0,1] (Float32Array) or 0..255 (Uint8Array) */
  input: Pixels;
  /** h×w×3 ground truth */
  real: Pixels;
  /** h×w, 1 / 255 = foreground */
  mask: Pixels;
}

export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return new Rng(seed).fork(`epoch:${epoch}`).shuffle(order);
}

interface Window { x0: number; y0: number; flip: boolean }

function copyWindow(dst: Float32Array, dOff: number, src: Pixels, w: number, c: number, crop: number, win: Window): void {
  const scale = src instanceof Uint8Array ? 1 / 255 : 1;
  for (let y = 0; y < crop; y++) {
    for (let x = 0; x < crop; x++) {
      const sx = win.x0 + (win.flip ? crop - 1 - x : x);
      const s = ((win.y0 + y) * w + sx) * c, d = dOff + (y * crop + x) * c;
      for (let k = 0; k < c; k++) dst[d + k] = src[s + k] * scale;
    }
  }
}

/** Assembles samples (all h×w) into one NHWC batch of crop×crop windows. */
export function makeBatch(samples: readonly MemorySample[], h: number, w: number, windows?: readonly Window[], crop = Math.min(h, w)): TrainBatch {
  const n = samples.length, px = crop * crop;
  const b: TrainBatch = { n, height: crop, width: crop, input: new Float32Array(n * px * 3), real: new Float32Array(n * px * 3), mask: new Float32Array(n * px), ids: [] };
  samples.forEach((s, i) => {
    if (s.input.length !== h * w * 3 || s.real.length !== h * w * 3 || s.mask.length !== h * w) {
      throw new HarmoniaError(`sample "${s.id}": expected ${w}×${h} input, real and mask`);
    }
    const win = windows?.[i] ?? { x0: Math.floor((w - crop) / 2), y0: Math.floor((h - crop) / 2), flip: false };
    copyWindow(b.input, i * px * 3, s.input, w, 3, crop, win);
    copyWindow(b.real, i * px * 3, s.real, w, 3, crop, win);
    copyWindow(b.mask, i * px, s.mask, w, 1, crop, win);
    b.ids.push(s.id);
  });
  return b;
}

export function memorySource(
  samples: readonly MemorySample[],
  opts: { height: number; width: number; batchSize: number; seed: number; flip?: boolean; crop?: number },
): BatchSource {
  const { height: h, width: w, batchSize, seed } = opts;
  const crop = opts.crop ?? Math.min(h, w);
  if (!(batchSize > 0)) throw new HarmoniaError(`memorySource: batchSize must be ≥ 1, got ${batchSize}`);
  if (!(crop > 0 && crop <= h && crop <= w)) throw new HarmoniaError(`memorySource: crop ${crop} must fit in ${w}×${h}`);
  const batchesPerEpoch = Math.floor(samples.length / batchSize);
  if (batchesPerEpoch < 1) throw new HarmoniaError(`training data: ${samples.length} samples is fewer than one batch of ${batchSize}`);
  return {
    batchesPerEpoch,
    async *epoch(epoch: number, start: number) {
      const order = epochOrder(samples.length, seed, epoch);
      for (let b = start; b < batchesPerEpoch; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const windows = idx.map((i) => {
          const r = new Rng(seed).fork(`window:${epoch}:${i}`);
          return { x0: r.int(0, w - crop), y0: r.int(0, h - crop), flip: Boolean(opts.flip) && r.next() < 0.5 };
        });
        yield makeBatch(idx.map((i) => samples[i]), h, w, windows, crop);
      }
    },
  };
}
