/**
 * Loads an iHarmony4-layout split into memory at a fixed square size, with the Intrinsic
 * Compositing stage (semi-harmonization) pre-computed once and cached as PNGs keyed by the size
 * and the intrinsic options, so later runs (and resumed runs) skip it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { hashString } from '../util/random.ts';
import { Progress } from '../util/progress.ts';
import { readImage, readMask, writeImage } from '../image/io.ts';
import { removeStaleTempFiles } from '../util/atomic.ts';
import { resizeImage, resizeMask } from '../image/resize.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readIHarmonyDataset } from '../data/iharmony4.ts';
import type { HarmonizationSample, Split } from '../data/iharmony4.ts';
import { semiHarmonize } from '../intrinsic/index.ts';
import type { IntrinsicOptions } from '../intrinsic/index.ts';
import type { MemorySample } from './memory.ts';

/** One sample at size×size, 8-bit (HWC; mask 0/255). */
export interface PreparedSample {
  id: string;
  size: number;
  composite: Uint8Array;
  semi: Uint8Array;
  real: Uint8Array;
  mask: Uint8Array;
}

export function toBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, data[i])) * 255);
  return out;
}

export function toImage(bytes: Uint8Array, size: number, channels = 3): FloatImage {
  const data = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) data[i] = bytes[i] / 255;
  return { width: size, height: size, channels, data };
}

export function toMask(bytes: Uint8Array, size: number): Mask {
  const data = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) data[i] = bytes[i] / 255;
  return { width: size, height: size, data };
}

/** Cache folder for one (size, intrinsic options) combination. */
export function intrinsicCacheDir(cacheRoot: string, size: number, intrinsic: IntrinsicOptions): string {
  return join(cacheRoot, `intrinsic-${size}-${hashString(JSON.stringify(intrinsic)).toString(16)}`);
}

function cacheName(id: string): string {
  return `${id.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`;
}

export async function prepareSample(s: HarmonizationSample, size: number, cacheDir: string, intrinsic: IntrinsicOptions): Promise<PreparedSample> {
  const compositeFull = await readImage(s.composite);
  const maskFull = await readMask(s.mask, { expect: { width: compositeFull.width, height: compositeFull.height, what: `composite ${s.composite}` } });
  const realFull = await readImage(s.real);
  if (realFull.width !== compositeFull.width || realFull.height !== compositeFull.height) {
    throw new HarmoniaError(`real image is ${realFull.width}×${realFull.height} but the composite is ${compositeFull.width}×${compositeFull.height}`, { file: s.real });
  }
  const composite = resizeImage(compositeFull, size, size, 'bilinear');
  const real = resizeImage(realFull, size, size, 'bilinear');
  const m = resizeMask(maskFull, size, size, 'nearest');
  const hard = new Float32Array(m.data.length);
  for (let i = 0; i < hard.length; i++) hard[i] = m.data[i] > 0.5 ? 1 : 0;
  const mask: Mask = { width: size, height: size, data: hard };
  const cached = join(cacheDir, cacheName(s.id));
  let semi: FloatImage;
  if (existsSync(cached)) {
    semi = await readImage(cached);
    if (semi.width !== size || semi.height !== size) throw new HarmoniaError(`cached semi-harmonized image is ${semi.width}×${semi.height}, expected ${size}×${size}; delete the cache folder`, { file: cached });
  } else {
    semi = semiHarmonize(composite, mask, intrinsic).semiHarmonized;
    await writeImage(cached, semi, { mkdir: true });
  }
  return { id: s.id, size, composite: toBytes(composite.data), semi: toBytes(semi.data), real: toBytes(real.data), mask: toBytes(hard) };
}

/** Reads a split (at most `limit` samples, in list order) and prepares every sample. */
export async function prepareSplit(
  root: string,
  split: Split,
  opts: { size: number; cacheRoot: string; intrinsic: IntrinsicOptions; limit?: number; quiet?: boolean },
): Promise<PreparedSample[]> {
  let samples = await readIHarmonyDataset(root, { split });
  if (samples.length === 0) throw new HarmoniaError(`no ${split} samples in ${root} (needs ${split} lists or composite_images/)`);
  if (opts.limit !== undefined) samples = samples.slice(0, opts.limit);
  const dir = intrinsicCacheDir(opts.cacheRoot, opts.size, opts.intrinsic);
  if (existsSync(dir)) await removeStaleTempFiles(dir); // left by a run killed mid-write
  const progress = new Progress(`prepare ${split} (intrinsic stage, cached in ${dir})`, samples.length, { quiet: opts.quiet });
  const out: PreparedSample[] = [];
  for (const s of samples) {
    out.push(await prepareSample(s, opts.size, dir, opts.intrinsic));
    progress.tick();
  }
  progress.finish();
  return out;
}

/** Training samples for the memory source: G sees the semi-harmonized image. */
export function toMemorySamples(p: readonly PreparedSample[], input: 'semi' | 'composite' = 'semi'): MemorySample[] {
  return p.map((s) => ({ id: s.id, input: input === 'semi' ? s.semi : s.composite, real: s.real, mask: s.mask }));
}
