/**
 * Unlimited training composites: HFlickr-style composites synthesised on the fly from real photos and
 * masks (the training split of a real-image source, e.g. ../shared/data/lalonde-real). Each sample is
 * a random crop (and flip) of a real photo, recoloured with one of the four HFlickr transfer methods
 * from a random reference object of the same category (optionally re-lit by the illumination/exposure
 * perturbation), kept only when its foreground change lies in the accepted fMSE range — the same
 * generator as `make-composites`, so the training distribution is the test one's.
 *
 * Deterministic: sample i of batch b of epoch e depends only on (seed, e, b, i), so `--resume` replays
 * exactly and a run is reproducible. `epoch()` prefetches batches in a worker thread (stream-worker.ts),
 * so synthesis does not eat the training step's time.
 */
import { Worker } from 'node:worker_threads';
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { readImage, readMask } from '../image/io.ts';
import { resizeImage, resizeMask } from '../image/resize.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { TRANSFER_METHODS } from './transfer/index.ts';
import type { TransferMethod } from './transfer/index.ts';
import { randomIllumination } from './illumination.ts';
import { synthesizeComposite, foregroundPixels, subsampleColors, foregroundMse255, buildPools, pickReference, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from './composites.ts';
import { readRealSource } from './sources.ts';
import { makeProceduralComposite } from './procedural.ts';
import type { RealEntry } from './sources.ts';

/** A training batch as plain NHWC arrays (the trainer's TrainBatch): `input` = what G sees, `real` = ground truth, `mask` 1 = foreground. */
export interface StreamBatch {
  n: number;
  height: number;
  width: number;
  /** [n,h,w,3] */
  input: Float32Array;
  /** [n,h,w,3] ground truth */
  real: Float32Array;
  /** [n,h,w,1], 1 = foreground */
  mask: Float32Array;
  ids: string[];
}

export interface StreamOptions {
  /** Real-image source folder (iHarmony4-style real_images/ + masks/, lists, index.json). */
  real: string;
  /** Side of the square training samples. */
  size: number;
  batchSize: number;
  seed: number;
  /** Batches per epoch (an epoch is just a unit for checkpoints and logs). Default ⌊train photos / batch⌋. */
  batchesPerEpoch?: number;
  flip?: boolean;
  /** Crop side as a fraction of the short side, drawn uniformly from [min, 1]. Default 0.6. */
  minCrop?: number;
  /** Probability that a sample's foreground is also re-lit (exposure, contrast, gamma, gradient). Default 0.2. */
  illumination?: number;
  /** Accepted foreground change (fMSE, 0–255 scale); defaults as make-composites. */
  minFmse?: number;
  maxFmse?: number;
  /** Transfer methods drawn from (default all four). */
  methods?: readonly TransferMethod[];
  /** At most this many photos (name order). */
  limit?: number;
  /**
   * Share of samples that are procedural scenes (data/procedural.ts: an object re-lit by a foreign light
   * of another colour and exposure, ground truth known) instead of photo composites. Default 0.
   * Procedural seeds start at 1,000,000, apart from the demo's and the tests' scenes.
   */
  procedural?: number;
  /**
   * Share of samples that are **identity** samples: the real crop is both G's input and the target, so
   * the model learns to leave an already harmonious foreground alone (do no harm). Default 0.
   */
  identity?: number;
  /**
   * Share of samples that are **mild** composites: a composite pulled back toward its real photo so that
   * its foreground MSE (0–255 scale) is drawn log-uniformly from [MILD_MIN_FMSE, minFmse), below the range
   * of ordinary composites. Default 0.
   */
  mild?: number;
  /** Which split of the source the photos come from (default 'train'; references come from the same split). */
  split?: 'train' | 'test';
  /** Batches computed ahead in the worker (0 = synthesise in this thread). Default 3. */
  prefetch?: number;
}

interface Photo { entry: RealEntry; real: FloatImage; mask: Mask; refColors: Float32Array }

const MAX_REF_PIXELS = 4096;
/** The lower end of the mild composites' foreground MSE (0–255 scale): barely visible changes. */
export const MILD_MIN_FMSE = 4;

/** What a photo sample is: an ordinary composite, an identity sample or a mild composite. */
export type SampleKind = 'composite' | 'identity' | 'mild';

/**
 * The kind of sample i of batch b of an epoch, drawn from its own seeded stream (independent of the
 * procedural draw, so runs without identity or mild samples replay exactly as before).
 */
export function sampleKind(seed: number, epoch: number, b: number, i: number, identity: number, mild: number): SampleKind {
  if (identity <= 0 && mild <= 0) return 'composite';
  const u = new Rng(seed).fork(`kind:${epoch}:${b}:${i}`).next();
  if (u < identity) return 'identity';
  if (u < identity + mild) return 'mild';
  return 'composite';
}

/**
 * Pulls a composite back toward its real photo along the straight line between them, so that its
 * foreground MSE becomes `target` (fMSE scales with the square of the step). Returns the composite
 * itself when it is already within the target.
 */
export function pullToward(real: FloatImage, composite: FloatImage, currentFmse: number, target: number): FloatImage {
  if (!(currentFmse > target)) return composite;
  const t = Math.sqrt(target / currentFmse);
  const data = new Float32Array(real.data.length);
  for (let k = 0; k < data.length; k++) data[k] = real.data[k] + t * (composite.data[k] - real.data[k]);
  return { ...composite, data };
}
const ATTEMPTS = 6;

export function checkStreamOptions(o: StreamOptions): Required<Omit<StreamOptions, 'limit' | 'batchesPerEpoch'>> & Pick<StreamOptions, 'limit' | 'batchesPerEpoch'> {
  if (o.split !== undefined && o.split !== 'train' && o.split !== 'test') throw new HarmoniaError(`stream.split: must be train or test, got "${String(o.split)}"`);
  const int = (v: number, name: string, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new HarmoniaError(`stream.${name}: must be an integer in ${lo}..${hi}, got ${v}`);
  };
  int(o.size, 'size', 16, 1024);
  int(o.batchSize, 'batchSize', 1, 1024);
  if (!Number.isInteger(o.seed)) throw new HarmoniaError(`stream.seed: must be an integer, got ${o.seed}`);
  if (o.batchesPerEpoch !== undefined) int(o.batchesPerEpoch, 'batchesPerEpoch', 1, 1e7);
  if (o.limit !== undefined) int(o.limit, 'limit', 2, 1e7);
  const minCrop = o.minCrop ?? 0.6;
  if (!(minCrop > 0 && minCrop <= 1)) throw new HarmoniaError(`stream.minCrop: must be in (0, 1], got ${o.minCrop}`);
  const illumination = o.illumination ?? 0.2;
  if (!(illumination >= 0 && illumination <= 1)) throw new HarmoniaError(`stream.illumination: must be a probability in [0, 1], got ${o.illumination}`);
  const minFmse = o.minFmse ?? DEFAULT_MIN_FMSE, maxFmse = o.maxFmse ?? DEFAULT_MAX_FMSE;
  if (!(minFmse >= 0 && maxFmse > minFmse)) throw new HarmoniaError(`stream fMSE bounds must satisfy 0 ≤ min < max, got ${minFmse} and ${maxFmse}`);
  const methods = o.methods ?? TRANSFER_METHODS;
  if (methods.length === 0 || methods.some((m) => !TRANSFER_METHODS.includes(m))) throw new HarmoniaError(`stream.methods: must be among ${TRANSFER_METHODS.join(', ')}`);
  const procedural = o.procedural ?? 0;
  if (!(procedural >= 0 && procedural <= 1)) throw new HarmoniaError(`stream.procedural: must be a share in [0, 1], got ${o.procedural}`);
  const identity = o.identity ?? 0, mild = o.mild ?? 0;
  if (!(identity >= 0 && identity <= 1)) throw new HarmoniaError(`stream.identity: must be a share in [0, 1], got ${o.identity}`);
  if (!(mild >= 0 && mild <= 1)) throw new HarmoniaError(`stream.mild: must be a share in [0, 1], got ${o.mild}`);
  if (identity + mild > 1) throw new HarmoniaError(`stream.identity + stream.mild: the shares add up to ${identity + mild}, more than 1`);
  if (mild > 0 && minFmse <= MILD_MIN_FMSE) throw new HarmoniaError(`stream.mild: needs stream.minFmse above ${MILD_MIN_FMSE} (mild composites lie below it), got ${minFmse}`);
  const prefetch = o.prefetch ?? 3;
  int(prefetch, 'prefetch', 0, 64);
  return { ...o, flip: o.flip ?? true, minCrop, illumination, minFmse, maxFmse, methods, prefetch, procedural, identity, mild, split: o.split ?? 'train' };
}

/** The synthesis itself (this thread): photos decoded once, then any (epoch, batch) on demand. */
export class CompositeSynthesizer {
  private readonly byEntry: Map<RealEntry, Photo>;
  private constructor(private readonly o: ReturnType<typeof checkStreamOptions>, private readonly photos: Photo[], private readonly pools: Map<string, RealEntry[]>) {
    this.byEntry = new Map(photos.map((p) => [p.entry, p]));
  }

  static async load(opts: StreamOptions): Promise<CompositeSynthesizer> {
    const o = checkStreamOptions(opts);
    const source = await readRealSource(o.real);
    let entries = source.entries.filter((e) => e.split === o.split);
    if (o.limit !== undefined) entries = entries.slice(0, o.limit);
    if (entries.length < 2) throw new HarmoniaError(`${o.real}: needs at least 2 ${o.split} photos with masks for on-the-fly composites, found ${entries.length}`, { file: o.real });
    const photos: Photo[] = [];
    for (const entry of entries) {
      const real = await readImage(entry.real);
      const mask = await readMask(entry.mask, { expect: { ...real, what: `real image ${entry.real}` } });
      const refColors = subsampleColors(foregroundPixels(real, mask).colors, MAX_REF_PIXELS);
      if (refColors.length === 0) continue;
      photos.push({ entry, real, mask, refColors });
    }
    return new CompositeSynthesizer(o, photos, buildPools(photos.map((p) => p.entry)));
  }

  get photoCount(): number { return this.photos.length; }

  get batchesPerEpoch(): number {
    return this.o.batchesPerEpoch ?? Math.max(1, Math.floor(this.photos.length / this.o.batchSize));
  }

  private order(epoch: number): number[] {
    return new Rng(this.o.seed).fork(`stream-epoch:${epoch}`).shuffle(Array.from({ length: this.photos.length }, (_, i) => i));
  }

  /** One sample: composite, real and mask at size×size. */
  sample(photoIndex: number, rng: Rng, kind: SampleKind = 'composite'): { input: FloatImage; real: FloatImage; mask: Mask; id: string } {
    const p = this.photos[photoIndex];
    const s = this.o.size;
    // a random square crop that keeps some foreground
    let real = p.real, mask = p.mask;
    const side0 = Math.min(p.real.width, p.real.height);
    for (let a = 0; a < 4; a++) {
      const side = Math.max(8, Math.round(side0 * rng.uniform(this.o.minCrop, 1)));
      const x0 = rng.int(0, p.real.width - side), y0 = rng.int(0, p.real.height - side);
      const cm = cropMask(p.mask, x0, y0, side);
      const kept = foregroundShare(cm) >= 0.01;
      if (kept) { real = cropImage(p.real, x0, y0, side); mask = cm; }
      if (kept || a === 3) break; // after 4 crops without foreground: the whole photo
    }
    if (real.width !== s || real.height !== s) {
      real = resizeImage(real, s, s, 'area');
      mask = resizeMask(mask, s, s, 'area');
    }
    if (this.o.flip && rng.next() < 0.5) { real = flipImage(real); mask = flipImage(mask as unknown as FloatImage) as unknown as Mask; }
    const name = `${p.entry.realName}_${p.entry.maskIndex}`;
    if (kind === 'identity') return { input: real, real, mask, id: `${name}:identity` };
    let composite = real;
    let method: TransferMethod = this.o.methods[0];
    const hasForeground = foregroundPixels(real, mask).index.length > 0;
    for (let a = 0; a < ATTEMPTS; a++) {
      const r = rng.fork(`attempt:${a}`);
      method = r.pick(this.o.methods);
      const pick = pickReference(p.entry, this.pools, r.fork('reference'));
      if (!pick) break;
      const ref = this.byEntry.get(pick.ref) as Photo;
      const illum = r.next() < this.o.illumination ? randomIllumination(r.fork('illumination')) : undefined;
      if (!hasForeground) break;
      const img = synthesizeComposite(real, mask, ref.refColors, method, r.fork('transfer'), illum);
      composite = img;
      const f = foregroundMse255(img, real, mask);
      if (kind === 'mild') {
        // any visible change will do: pull it back to a log-uniform target below the ordinary range
        if (f < MILD_MIN_FMSE) continue;
        const target = Math.exp(rng.fork('mild').uniform(Math.log(MILD_MIN_FMSE), Math.log(this.o.minFmse)));
        composite = pullToward(real, img, f, target);
        return { input: composite, real, mask, id: `${name}:${method}:mild` };
      }
      if (f >= this.o.minFmse && f <= this.o.maxFmse) break;
    }
    return { input: composite, real, mask, id: `${name}:${method}` };
  }

  /** Batch `b` of `epoch`, deterministic in (seed, epoch, b). */
  batch(epoch: number, b: number): StreamBatch {
    const { size: s, batchSize: n } = this.o;
    const order = this.order(epoch);
    const px = s * s;
    const out: StreamBatch = { n, height: s, width: s, input: new Float32Array(n * px * 3), real: new Float32Array(n * px * 3), mask: new Float32Array(n * px), ids: [] };
    for (let i = 0; i < n; i++) {
      const idx = order[(b * n + i) % order.length];
      const proc = this.o.procedural > 0 ? new Rng(this.o.seed).fork(`procedural:${epoch}:${b}:${i}`) : undefined;
      const smp = proc && proc.next() < this.o.procedural
        ? proceduralSample(1_000_000 + proc.int(0, 0x3fffffff), s)
        : this.sample(idx, new Rng(this.o.seed).fork(`stream:${epoch}:${b}:${i}`), sampleKind(this.o.seed, epoch, b, i, this.o.identity, this.o.mild));
      out.input.set(smp.input.data, i * px * 3);
      out.real.set(smp.real.data, i * px * 3);
      out.mask.set(smp.mask.data, i * px);
      out.ids.push(smp.id);
    }
    return out;
  }
}

/** A procedural composite rendered at size×size (about 100 ms at 64²). */
function proceduralSample(seed: number, size: number): { input: FloatImage; real: FloatImage; mask: Mask; id: string } {
  const pc = makeProceduralComposite({ seed, width: size, height: size });
  return { input: pc.composite, real: pc.real, mask: pc.mask, id: `procedural:${seed}` };
}

function foregroundShare(m: Mask): number {
  let k = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] > 0.5) k++;
  return k / m.data.length;
}

function cropImage(img: FloatImage, x0: number, y0: number, side: number): FloatImage {
  const c = img.channels, data = new Float32Array(side * side * c);
  for (let y = 0; y < side; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * c, ((y0 + y) * img.width + x0 + side) * c), y * side * c);
  return { width: side, height: side, channels: c, data };
}

function cropMask(m: Mask, x0: number, y0: number, side: number): Mask {
  const data = new Float32Array(side * side);
  for (let y = 0; y < side; y++) data.set(m.data.subarray((y0 + y) * m.width + x0, (y0 + y) * m.width + x0 + side), y * side);
  return { ...m, width: side, height: side, data };
}

function flipImage(img: FloatImage): FloatImage {
  const c = img.channels ?? 1, w = img.width, data = new Float32Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * c, d = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) data[d + k] = img.data[s + k];
    }
  }
  return { ...img, data };
}

/** The worker's own extension: `.ts` from the sources (through tsx), `.js` in the built package. */
const OWN_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_URL = new URL(`./stream-worker${OWN_EXT}`, import.meta.url).href;

/**
 * The training data source over on-the-fly composites: `epoch(e, start)` yields batches in order,
 * computed ahead by a worker thread (`prefetch` > 0) or here. Satisfies the trainer's BatchSource.
 */
export class CompositeStream {
  private constructor(private readonly o: ReturnType<typeof checkStreamOptions>, readonly batchesPerEpoch: number, readonly photoCount: number, private readonly local?: CompositeSynthesizer) {}

  static async create(opts: StreamOptions): Promise<CompositeStream> {
    const o = checkStreamOptions(opts);
    // the photos are decoded here too: the first batch (samples grid) and the photo count need them
    const syn = await CompositeSynthesizer.load(o);
    return new CompositeStream(o, syn.batchesPerEpoch, syn.photoCount, syn);
  }

  /** One batch, computed in this thread (e.g. a fixed sample grid). */
  batch(epoch: number, b: number): StreamBatch {
    return (this.local as CompositeSynthesizer).batch(epoch, b);
  }

  private worker?: Worker;
  private failure?: Error;
  private readonly waiting = new Map<string, { resolve: (b: StreamBatch) => void; reject: (e: Error) => void }>();
  private readonly ready = new Map<string, StreamBatch>();

  /** The synthesis worker, started once and kept for all epochs (it decodes the photos once). */
  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const boot = OWN_EXT === '.ts'
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); })`
      : `import(${JSON.stringify(WORKER_URL)})`;
    const worker = new Worker(boot, { eval: true, workerData: { options: this.o } });
    worker.unref();
    const fail = (e: Error) => { this.failure = e; for (const w of this.waiting.values()) w.reject(e); this.waiting.clear(); };
    worker.on('message', (m: { type: 'batch'; key: string; batch: StreamBatch } | { type: 'error'; message: string }) => {
      if (m.type === 'error') return fail(new HarmoniaError(`composite synthesis worker: ${m.message}`));
      const w = this.waiting.get(m.key);
      if (w) { this.waiting.delete(m.key); w.resolve(m.batch); } else this.ready.set(m.key, m.batch);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => { if (code !== 0 && !this.failure) fail(new HarmoniaError(`composite synthesis worker exited with code ${code}`)); });
    this.worker = worker;
    return worker;
  }

  async *epoch(epoch: number, start: number): AsyncGenerator<StreamBatch> {
    if (this.o.prefetch === 0) {
      for (let b = start; b < this.batchesPerEpoch; b++) yield this.batch(epoch, b);
      return;
    }
    const worker = this.ensureWorker();
    let requested = start;
    const request = () => { if (requested < this.batchesPerEpoch) { worker.postMessage({ epoch, b: requested, key: `${epoch}:${requested}` }); requested++; } };
    for (let k = 0; k < this.o.prefetch; k++) request();
    for (let b = start; b < this.batchesPerEpoch; b++) {
      if (this.failure) throw this.failure;
      const key = `${epoch}:${b}`;
      const got = this.ready.get(key);
      const batch = got ?? (await new Promise<StreamBatch>((resolve, reject) => this.waiting.set(key, { resolve, reject })));
      this.ready.delete(key);
      request();
      yield batch;
    }
  }

  /** Stops the synthesis worker. */
  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.ready.clear();
    if (w) await w.terminate();
  }
}
