/**
 * Training loader: seeded epoch-indexed shuffling, identical random crops/flips for composite, mask and
 * real image, resize-then-crop to a fixed size (aspect kept), NHWC Float32Array batches ready for
 * `tf.tensor4d(batch.input, [size, height, width, 3])`, prefetching a bounded number of batches ahead, and
 * an optional on-disk cache of a per-sample input transform (e.g. the intrinsic stage's semi-harmonized
 * image).
 *
 * Decoding, resizing, cropping and flipping of the files run in sharp's (libvips) own thread pool, off
 * the training thread; up to `prefetch` batches are in flight while the consumer works. An input
 * transform runs on the loader's thread (it is the caller's function) and its results are cached.
 *
 * Randomness per sample depends only on (seed, epoch, sample id), and the order only on (seed, epoch),
 * so a run resumed at (epoch, startBatch) sees exactly the batches the uninterrupted run would have.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { readImage, readMask, DEFAULT_MAX_PIXELS } from '../image/io.ts';
import { resizeImage } from '../image/resize.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import type { HarmonizationSample } from './iharmony4.ts';

export interface Batch {
  size: number;
  height: number;
  width: number;
  /** Network input, NHWC RGB in [0,1]: the transform's output (semi-harmonized), or the composite. */
  input: Float32Array;
  composite: Float32Array;
  real: Float32Array;
  /** NHW1, foreground = 1 (soft values as stored, nearest-resized). */
  mask: Float32Array;
  ids: string[];
}

export interface InputTransform {
  /** Cache key: name and version of the transform (e.g. "semi-v3"); change it when the transform changes. */
  key: string;
  /** Folder for cached results (`<cacheDir>/<key>/<id>.f32`); no caching when omitted. */
  cacheDir?: string;
  /** Computes the network input from the full-resolution composite and mask. */
  fn: (sample: HarmonizationSample, composite: FloatImage, mask: Mask) => Promise<FloatImage>;
}

export type CropMode = 'random' | 'center' | 'none';

export interface LoaderOptions {
  batchSize: number;
  /** Output size: a square side or width × height. */
  size: number | { width: number; height: number };
  /** 'random' / 'center': resize so the image covers the size (aspect kept), then crop; 'none': resize to the size. */
  crop?: CropMode;
  /** Random horizontal flips (probability 0.5, same for all three images). */
  flip?: boolean;
  seed: number;
  epoch?: number;
  /** First batch to produce (resume inside an epoch). */
  startBatch?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Shuffle with orderForEpoch (default true); false keeps the given order. */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  inputTransform?: InputTransform;
  maxPixels?: number;
}

export interface Loader extends AsyncIterable<Batch> {
  /** Number of batches in the epoch (including those skipped by startBatch). */
  readonly batches: number;
  readonly epoch: number;
}

/** The sample order of an epoch: a permutation of 0..n−1 that depends only on (seed, epoch). */
export function orderForEpoch(seed: number, epoch: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new HarmoniaError(`orderForEpoch: n must be a non-negative integer, got ${n}`);
  return new Rng(`loader-order:${seed}:${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i));
}

export function batchesPerEpoch(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** Resize-then-crop geometry: resize to rw×rh, take the outW×outH window at (left, top), then maybe flip. */
export interface Geometry { rw: number; rh: number; left: number; top: number; width: number; height: number; flip: boolean }

/** Geometry for one sample (pure; `rng` draws the crop offset and then the flip). */
export function cropGeometry(srcW: number, srcH: number, outW: number, outH: number, crop: CropMode, flip: boolean, rng: Rng): Geometry {
  if (crop === 'none') return { rw: outW, rh: outH, left: 0, top: 0, width: outW, height: outH, flip: flip && rng.next() < 0.5 };
  const scale = Math.max(outW / srcW, outH / srcH);
  const rw = Math.max(outW, Math.round(srcW * scale));
  const rh = Math.max(outH, Math.round(srcH * scale));
  let left: number, top: number;
  if (crop === 'random') {
    left = rng.int(0, rw - outW);
    top = rng.int(0, rh - outH);
  } else {
    left = Math.floor((rw - outW) / 2);
    top = Math.floor((rh - outH) / 2);
  }
  return { rw, rh, left, top, width: outW, height: outH, flip: flip && rng.next() < 0.5 };
}

/** Applies a geometry to a float image in JS (bilinear resize, crop, flip). */
export function applyGeometry(img: FloatImage, g: Geometry): FloatImage {
  const r = img.width === g.rw && img.height === g.rh ? img : resizeImage(img, g.rw, g.rh, 'bilinear');
  const c = r.channels;
  const out = new Float32Array(g.width * g.height * c);
  for (let y = 0; y < g.height; y++) {
    for (let x = 0; x < g.width; x++) {
      const sx = g.flip ? g.left + g.width - 1 - x : g.left + x;
      const si = ((g.top + y) * r.width + sx) * c;
      const di = (y * g.width + x) * c;
      for (let k = 0; k < c; k++) out[di + k] = r.data[si + k];
    }
  }
  return { width: g.width, height: g.height, channels: c, data: out };
}

async function headerSize(path: string, maxPixels: number, where: string): Promise<{ width: number; height: number }> {
  try {
    const meta = await sharp(path, { limitInputPixels: maxPixels }).metadata();
    let { width = 0, height = 0 } = meta;
    if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
    if (!width || !height) throw new Error('no image dimensions');
    return { width, height };
  } catch (err) {
    throw new HarmoniaError(`cannot read ${path}: ${(err as Error).message.split('\n')[0]}`, { file: where, cause: err });
  }
}

/** Decodes a file through sharp with the geometry applied; returns HWC floats (3 channels, or 1 for masks). */
async function decodeWithGeometry(path: string, g: Geometry, kind: 'rgb' | 'mask', maxPixels: number, where: string): Promise<Float32Array> {
  let data: Buffer;
  let channels: number;
  try {
    let p = sharp(path, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .resize(g.rw, g.rh, { fit: 'fill', kernel: kind === 'mask' ? 'nearest' : 'linear' })
      .extract({ left: g.left, top: g.top, width: g.width, height: g.height });
    if (g.flip) p = p.flop();
    const r = await p.raw().toBuffer({ resolveWithObject: true });
    data = r.data;
    channels = r.info.channels;
  } catch (err) {
    throw new HarmoniaError(`cannot decode ${path}: ${(err as Error).message.split('\n')[0]}`, { file: where, cause: err });
  }
  const n = g.width * g.height;
  if (kind === 'rgb') {
    const out = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      if (channels < 3) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[i * channels] / 255;
      else for (let k = 0; k < 3; k++) out[i * 3 + k] = data[i * channels + k] / 255;
    }
    return out;
  }
  // mask: alpha when the file has a varying alpha channel, else the mean of the colour channels
  const out = new Float32Array(n);
  const hasAlpha = channels === 2 || channels === 4;
  let alphaVaries = false;
  if (hasAlpha) for (let i = 0; i < n && !alphaVaries; i++) if (data[i * channels + channels - 1] < 255) alphaVaries = true;
  const colour = hasAlpha ? channels - 1 : channels;
  for (let i = 0; i < n; i++) {
    if (alphaVaries) { out[i] = data[i * channels + channels - 1] / 255; continue; }
    let s = 0;
    for (let k = 0; k < colour; k++) s += data[i * channels + k];
    out[i] = s / (255 * colour);
  }
  return out;
}

const CACHE_MAGIC = 0x464d5248; // "HRMF"

function cachePath(t: InputTransform, id: string): string {
  const safeKey = t.key.replace(/[^A-Za-z0-9._-]/g, '_');
  const safeId = id.replace(/[\\/]/g, '__').replace(/[^A-Za-z0-9._-]/g, '_');
  return join(t.cacheDir as string, safeKey, `${safeId}.f32`);
}

/** Serialises a float image: magic, width, height, channels (u32 LE), then float32 LE data. */
export function encodeFloatImage(img: FloatImage): Uint8Array {
  const buf = new ArrayBuffer(16 + img.data.length * 4);
  const dv = new DataView(buf);
  dv.setUint32(0, CACHE_MAGIC, true);
  dv.setUint32(4, img.width, true);
  dv.setUint32(8, img.height, true);
  dv.setUint32(12, img.channels, true);
  for (let i = 0; i < img.data.length; i++) dv.setFloat32(16 + i * 4, img.data[i], true);
  return new Uint8Array(buf);
}

/** Parses encodeFloatImage's format; undefined when the bytes are not a complete cache entry. */
export function decodeFloatImage(bytes: Uint8Array): FloatImage | undefined {
  if (bytes.byteLength < 16) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== CACHE_MAGIC) return undefined;
  const width = dv.getUint32(4, true), height = dv.getUint32(8, true), channels = dv.getUint32(12, true);
  const n = width * height * channels;
  if (!width || !height || channels < 1 || channels > 4 || bytes.byteLength !== 16 + n * 4) return undefined;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = dv.getFloat32(16 + i * 4, true);
  return { width, height, channels, data };
}

/** The transform's output for a sample, from the cache when present (and valid), else computed and cached. */
export async function transformedInput(t: InputTransform, s: HarmonizationSample, maxPixels = DEFAULT_MAX_PIXELS): Promise<FloatImage> {
  const path = t.cacheDir ? cachePath(t, s.id) : undefined;
  if (path) {
    try {
      const hit = decodeFloatImage(new Uint8Array(await fsp.readFile(path)));
      if (hit) return hit;
    } catch {
      // not cached yet
    }
  }
  const comp = await readImage(s.composite, { maxPixels });
  const mask = await readMask(s.mask, { maxPixels, expect: { ...comp, what: `composite ${s.composite}` } });
  const out = await t.fn(s, comp, mask);
  if (out.channels !== 3) throw new HarmoniaError(`input transform "${t.key}" returned ${out.channels} channels, expected 3`, { file: s.source ?? s.composite });
  if (path) await writeFileAtomic(path, encodeFloatImage(out), { mkdir: true });
  return out;
}

interface LoadedSample { input: Float32Array; composite: Float32Array; real: Float32Array; mask: Float32Array }

async function loadSample(s: HarmonizationSample, o: Required<Pick<LoaderOptions, 'seed' | 'epoch' | 'crop' | 'flip' | 'maxPixels'>> & { outW: number; outH: number; transform?: InputTransform }): Promise<LoadedSample> {
  const where = s.source ?? s.composite;
  const [c, m, r] = await Promise.all([
    headerSize(s.composite, o.maxPixels, where), headerSize(s.mask, o.maxPixels, where), headerSize(s.real, o.maxPixels, where),
  ]);
  if (m.width !== c.width || m.height !== c.height) throw new HarmoniaError(`mask ${s.mask} is ${m.width}×${m.height} but composite ${s.composite} is ${c.width}×${c.height}`, { file: where });
  if (r.width !== c.width || r.height !== c.height) throw new HarmoniaError(`real image ${s.real} is ${r.width}×${r.height} but composite ${s.composite} is ${c.width}×${c.height}`, { file: where });
  const rng = new Rng(`loader-sample:${o.seed}:${o.epoch}:${s.id}`);
  const g = cropGeometry(c.width, c.height, o.outW, o.outH, o.crop, o.flip, rng);
  const [composite, real, mask] = await Promise.all([
    decodeWithGeometry(s.composite, g, 'rgb', o.maxPixels, where),
    decodeWithGeometry(s.real, g, 'rgb', o.maxPixels, where),
    decodeWithGeometry(s.mask, g, 'mask', o.maxPixels, where),
  ]);
  let input: Float32Array = composite.slice();
  if (o.transform) {
    const t = await transformedInput(o.transform, s, o.maxPixels);
    // the transform's output covers the composite's field of view, whatever its resolution
    input = applyGeometry(t, g).data;
  }
  return { input, composite, real, mask };
}

/**
 * One epoch of batches. Iterating twice re-reads the same epoch. Errors (missing or unreadable files,
 * size mismatches) name the sample's list line.
 */
export function createLoader(samples: HarmonizationSample[], opts: LoaderOptions): Loader {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new HarmoniaError(`createLoader: batchSize must be a positive integer, got ${batchSize}`);
  const outW = typeof opts.size === 'number' ? opts.size : opts.size.width;
  const outH = typeof opts.size === 'number' ? opts.size : opts.size.height;
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) throw new HarmoniaError(`createLoader: size must be positive integers, got ${outW}×${outH}`);
  const crop = opts.crop ?? 'random';
  if (!['random', 'center', 'none'].includes(crop)) throw new HarmoniaError(`createLoader: crop must be random, center or none, got "${crop}"`);
  const epoch = opts.epoch ?? 0;
  const prefetch = opts.prefetch ?? 2;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new HarmoniaError(`createLoader: prefetch must be an integer ≥ 1, got ${prefetch}`);
  if (samples.length === 0) throw new HarmoniaError('createLoader: no samples');
  const batches = batchesPerEpoch(samples.length, batchSize, opts.dropLast);
  const startBatch = opts.startBatch ?? 0;
  if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > batches) throw new HarmoniaError(`createLoader: startBatch must be in 0..${batches}, got ${startBatch}`);
  const so = { seed: opts.seed, epoch, crop, flip: opts.flip ?? false, maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS, outW, outH, transform: opts.inputTransform };
  const order = opts.shuffle === false ? samples.map((_, i) => i) : orderForEpoch(opts.seed, epoch, samples.length);
  const plane = outW * outH;

  async function loadBatch(b: number): Promise<Batch> {
    const idx = order.slice(b * batchSize, Math.min(samples.length, (b + 1) * batchSize));
    const loaded = await Promise.all(idx.map((i) => loadSample(samples[i], so)));
    const n = loaded.length;
    const batch: Batch = {
      size: n, height: outH, width: outW,
      input: new Float32Array(n * plane * 3), composite: new Float32Array(n * plane * 3),
      real: new Float32Array(n * plane * 3), mask: new Float32Array(n * plane),
      ids: idx.map((i) => samples[i].id),
    };
    loaded.forEach((l, j) => {
      batch.input.set(l.input, j * plane * 3);
      batch.composite.set(l.composite, j * plane * 3);
      batch.real.set(l.real, j * plane * 3);
      batch.mask.set(l.mask, j * plane);
    });
    return batch;
  }

  return {
    batches,
    epoch,
    async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
      const queue: Promise<Batch>[] = [];
      let next = startBatch;
      const fill = (): void => {
        while (queue.length < prefetch && next < batches) {
          const p = loadBatch(next++);
          p.catch(() => undefined); // surfaced when awaited below; avoids an unhandled rejection meanwhile
          queue.push(p);
        }
      };
      fill();
      while (queue.length > 0) {
        const b = await (queue.shift() as Promise<Batch>);
        fill();
        yield b;
      }
    },
  };
}
