/**
 * Loads an iHarmony4-layout split into memory at a fixed square size, with the Intrinsic
 * Compositing stage (semi-harmonization) read from the semi-harmonized cache (src/intrinsic/cache.ts,
 * keyed by the size and the intrinsic options; `harmonia intrinsic --data … --size N` fills the same
 * folders), computed and cached for the samples it lacks, so later runs (and resumed runs) skip it.
 */
import { HarmoniaError } from '../errors.ts';
import { Progress } from '../util/progress.ts';
import { readImage, readMask } from '../image/io.ts';
import { resizeImage } from '../image/resize.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { readIHarmonyDataset } from '../data/iharmony4.ts';
import type { HarmonizationSample, Split } from '../data/iharmony4.ts';
import type { IntrinsicOptions } from '../intrinsic/index.ts';
import { semiCacheDir, semiCacheFile, openSemiCache, resizeForCache, cachedSemiHarmonize } from '../intrinsic/cache.ts';
import type { MemorySample } from '../data/memory.ts';

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

/** Cache folder for one (size, intrinsic options) combination (the semi-harmonized cache). */
export function intrinsicCacheDir(cacheRoot: string, size: number, intrinsic: IntrinsicOptions): string {
  return semiCacheDir(cacheRoot, size, intrinsic);
}

export async function prepareSample(s: HarmonizationSample, size: number, cacheDir: string, intrinsic: IntrinsicOptions): Promise<PreparedSample> {
  const compositeFull = await readImage(s.composite);
  const maskFull = await readMask(s.mask, { expect: { width: compositeFull.width, height: compositeFull.height, what: `composite ${s.composite}` } });
  const realFull = await readImage(s.real);
  if (realFull.width !== compositeFull.width || realFull.height !== compositeFull.height) {
    throw new HarmoniaError(`real image is ${realFull.width}×${realFull.height} but the composite is ${compositeFull.width}×${compositeFull.height}`, { file: s.real });
  }
  const { composite, mask } = resizeForCache(compositeFull, maskFull, size);
  const real = resizeImage(realFull, size, size, 'bilinear');
  const semi = (await cachedSemiHarmonize(semiCacheFile(cacheDir, s.id), composite, mask, intrinsic)).image;
  return { id: s.id, size, composite: toBytes(composite.data), semi: toBytes(semi.data), real: toBytes(real.data), mask: toBytes(mask.data) };
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
  await openSemiCache(dir); // temp files left by a run killed mid-write
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
