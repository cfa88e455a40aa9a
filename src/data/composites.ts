/**
 * HFlickr-style composite synthesis ("backward adjustment", docs/DATA.md § Composite synthesis): the foreground of a real
 * photo is recoloured with the colour statistics of a reference foreground of the same category (from
 * the same split), with one of the four HFlickr methods; optionally its illumination is perturbed too.
 * The background stays pixel-identical to the real image.
 *
 * Output (iHarmony4 layout under `<out>/<subset>/`): composite_images/<real>_<m>_<v>.png, masks/ (copied
 * bytes), real_images/<real>.png (the decoded real pixels, so composite and real backgrounds are equal
 * after decoding), synthesis/<real>_<m>_<v>.json (method, reference, fMSE, …), lists, and IHD_*.txt at
 * `<out>`. PNG by default; `format: 'jpg'` writes JPEG quality 95 (real images then keep their original
 * bytes), where JPEG re-encoding changes the background slightly: use it only when size matters.
 *
 * Atomic (issue 17; src/data/atomic-subset.ts): the subset is built in `<out>/.<subset>.building/` and
 * renamed to `<out>/<subset>/` only when complete (lists, synthesis.json and build.json, the recipe,
 * inside; no file that no record names); IHD_*.txt at `<out>` are updated after that. A run killed at any
 * moment leaves the previous subset (or none) in place and the staging folder, which the next run with
 * the same recipe finishes; with another recipe it starts cleanly. Bad input (an unreadable real image, a
 * mask of the wrong size) is found from the headers before anything is written; a run that stops while
 * building removes its staging folder: no half-built dataset is ever left.
 */
import { promises as fsp } from 'node:fs';
import { join, extname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { Rng } from '../util/random.ts';
import { readImage, readMask, writeImage, toUint8, probeImage } from '../image/io.ts';
import { writeFileAtomic, removeStaleTempFiles, TEMP_FILE_PATTERN } from '../util/atomic.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { transferColors, regrain, type TransferMethod, TRANSFER_METHODS } from './transfer/index.ts';
import { applyIllumination, randomIllumination, type IlluminationParams } from './illumination.ts';
import { readRealSource, limitPhotosPerSplit, type RealEntry } from './sources.ts';
import { compositeFileName, maskFileName, type Split } from './iharmony4.ts';
import { buildSubsetAtomically, pruneFolder } from './atomic-subset.ts';

export interface SynthesisOptions {
  method?: TransferMethod | 'mixed';
  /** Composites per (real, mask) pair. */
  variants?: number;
  seed?: number;
  /** Also perturb exposure/contrast/gamma/shading gradient of the foreground. */
  illumination?: boolean;
  /** Accepted foreground change, fMSE on the 0–255 scale (after 8-bit quantisation). */
  minFmse?: number;
  maxFmse?: number;
  /** At most this many real images per split (in name order). */
  limit?: number;
  format?: 'png' | 'jpg';
  /** Output subset folder name. */
  subset?: string;
  /** Real images processed at once (default 4; results do not depend on it). */
  concurrency?: number;
  /** References tried per composite before the variant is given up. */
  maxAttempts?: number;
  /** Reference foregrounds larger than this are subsampled (statistics only). */
  maxRefPixels?: number;
  onProgress?: (done: number, total: number, note: string) => void;
  /** Rebuild a subset in place even when it holds read-only files (default: refused). */
  overwrite?: boolean;
}

export interface SynthesisRecord {
  name: string;
  realName: string;
  maskIndex: number;
  variant: number;
  split: Split;
  category: string;
  method?: TransferMethod;
  reference?: string;
  sameCategory?: boolean;
  illumination?: IlluminationParams;
  /** Foreground MSE of composite vs real, 0–255 scale. */
  fmse?: number;
  attempts: number;
  /** True when every attempt fell outside [minFmse, maxFmse]: no composite was written. */
  rejected: boolean;
}

export interface SynthesisSummary {
  subset: string;
  train: number;
  test: number;
  rejected: number;
  skippedExisting: number;
  byMethod: Record<string, number>;
  records: SynthesisRecord[];
}

export const DEFAULT_MIN_FMSE = 100;
export const DEFAULT_MAX_FMSE = 6000;

/** Foreground pixels (mask > 0.5) of an RGB image as n×3 values, and their pixel indices. */
export function foregroundPixels(img: FloatImage, mask: Mask): { colors: Float32Array; index: Int32Array } {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] > 0.5) n++;
  const colors = new Float32Array(n * 3);
  const index = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i] <= 0.5) continue;
    index[j] = i;
    colors[j * 3] = img.data[i * 3]; colors[j * 3 + 1] = img.data[i * 3 + 1]; colors[j * 3 + 2] = img.data[i * 3 + 2];
    j++;
  }
  return { colors, index };
}

/** Every `step`-th colour of an n×3 array so that at most `max` remain (deterministic). */
export function subsampleColors(colors: Float32Array, max: number): Float32Array {
  const n = colors.length / 3;
  if (n <= max) return colors;
  const step = n / max;
  const out = new Float32Array(max * 3);
  for (let k = 0; k < max; k++) {
    const i = Math.floor(k * step);
    out[k * 3] = colors[i * 3]; out[k * 3 + 1] = colors[i * 3 + 1]; out[k * 3 + 2] = colors[i * 3 + 2];
  }
  return out;
}

/** fMSE on the 0–255 scale between two 8-bit-quantised images over mask > 0.5 (NaN when empty). */
export function foregroundMse255(a: FloatImage, b: FloatImage, mask: Mask): number {
  const qa = toUint8(a), qb = toUint8(b);
  let s = 0, n = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i] <= 0.5) continue;
    for (let k = 0; k < 3; k++) { const d = qa[i * 3 + k] - qb[i * 3 + k]; s += d * d; }
    n++;
  }
  return n > 0 ? s / (3 * n) : NaN;
}

/**
 * One composite from a real image, its mask and reference foreground colours: the foreground is
 * recoloured with `method` (IDT is followed by regraining), then optionally re-lit. Pixels with
 * mask ≤ 0.5 are exactly the real image's.
 */
export function synthesizeComposite(
  real: FloatImage,
  mask: Mask,
  refColors: Float32Array,
  method: TransferMethod,
  rng: Rng,
  illumination?: IlluminationParams,
): FloatImage {
  if (real.channels !== 3 || mask.width !== real.width || mask.height !== real.height) {
    throw new HarmoniaError('synthesizeComposite: needs an RGB image and a mask of the same size');
  }
  const { colors, index } = foregroundPixels(real, mask);
  if (index.length === 0) throw new HarmoniaError('synthesizeComposite: the mask has no foreground pixel');
  const moved = transferColors(method, colors, refColors, rng);
  let out: FloatImage = { width: real.width, height: real.height, channels: 3, data: new Float32Array(real.data) };
  for (let j = 0; j < index.length; j++) {
    const i = index[j];
    out.data[i * 3] = moved[j * 3]; out.data[i * 3 + 1] = moved[j * 3 + 1]; out.data[i * 3 + 2] = moved[j * 3 + 2];
  }
  if (method === 'idt') out = regrain(real, out, mask);
  if (illumination) out = applyIllumination(out, mask, illumination);
  return out;
}

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

/** Small LRU of decoded reference foreground colours. */
class RefCache {
  private readonly map = new Map<string, Float32Array>();
  constructor(private readonly cap: number, private readonly maxPixels: number) {}
  async get(e: RealEntry): Promise<Float32Array> {
    const key = `${e.realName}_${e.maskIndex}`;
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const img = await readImage(e.real);
    const m = await readMask(e.mask, { expect: { ...img, what: `real image ${e.real}` } });
    const colors = subsampleColors(foregroundPixels(img, m).colors, this.maxPixels);
    this.map.set(key, colors);
    if (this.map.size > this.cap) this.map.delete(this.map.keys().next().value as string);
    return colors;
  }
}

/** Pools of candidate references per split and category (sorted, deterministic). */
export function buildPools(entries: RealEntry[]): Map<string, RealEntry[]> {
  const pools = new Map<string, RealEntry[]>();
  for (const e of entries) {
    for (const key of [`${e.split}:*`, `${e.split}:${e.category}`]) {
      const p = pools.get(key) ?? [];
      p.push(e);
      pools.set(key, p);
    }
  }
  return pools;
}

export function pickReference(e: RealEntry, pools: Map<string, RealEntry[]>, rng: Rng): { ref: RealEntry; sameCategory: boolean } | undefined {
  const same = (pools.get(`${e.split}:${e.category}`) ?? []).filter((r) => r.realName !== e.realName);
  if (e.category !== 'any' && same.length > 0) return { ref: rng.pick(same), sameCategory: true };
  const any = (pools.get(`${e.split}:*`) ?? []).filter((r) => r.realName !== e.realName);
  if (any.length === 0) return undefined;
  return { ref: rng.pick(any), sameCategory: false };
}

function checkOptions(o: SynthesisOptions): Required<Omit<SynthesisOptions, 'onProgress' | 'limit' | 'overwrite'>> & { limit?: number } {
  const variants = o.variants ?? 1;
  if (!Number.isInteger(variants) || variants < 1) throw new HarmoniaError(`variants must be a positive integer, got ${variants}`);
  const method = o.method ?? 'mixed';
  if (method !== 'mixed' && !TRANSFER_METHODS.includes(method)) throw new HarmoniaError(`method must be ${TRANSFER_METHODS.join(', ')} or mixed, got "${method}"`);
  const minFmse = o.minFmse ?? DEFAULT_MIN_FMSE;
  const maxFmse = o.maxFmse ?? DEFAULT_MAX_FMSE;
  if (!(minFmse >= 0) || !(maxFmse > minFmse)) throw new HarmoniaError(`fMSE bounds must satisfy 0 ≤ min < max, got ${minFmse} and ${maxFmse}`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new HarmoniaError(`limit must be a positive integer, got ${o.limit}`);
  const format = o.format ?? 'png';
  if (format !== 'png' && format !== 'jpg') throw new HarmoniaError(`format must be png or jpg, got "${String(format)}"`);
  const subset = o.subset ?? 'Synthetic';
  if (!/^[A-Za-z0-9._-]+$/.test(subset)) throw new HarmoniaError(`subset name must be letters, digits, ".", "_" or "-", got "${subset}"`);
  return {
    method, variants, minFmse, maxFmse, format, subset,
    seed: o.seed ?? 0,
    illumination: o.illumination ?? false,
    limit: o.limit,
    maxAttempts: o.maxAttempts ?? 8,
    concurrency: Math.max(1, Math.floor(o.concurrency ?? 4)),
    maxRefPixels: o.maxRefPixels ?? 65536,
  };
}

const SUBSET_DIRS = ['composite_images', 'masks', 'real_images', 'synthesis'] as const;

/** The options that decide the files' contents: files built under another recipe are never reused. */
function recipeOf(o: ReturnType<typeof checkOptions>, sourceName: string): string {
  return JSON.stringify({
    source: sourceName, method: o.method, seed: o.seed, illumination: o.illumination, minFmse: o.minFmse, maxFmse: o.maxFmse,
    format: o.format, maxAttempts: o.maxAttempts, maxRefPixels: o.maxRefPixels,
  });
}

async function readJson(p: string): Promise<unknown> {
  try { return JSON.parse(await fsp.readFile(p, 'utf8')); } catch { return undefined; }
}

/**
 * Every real image and mask of `work` is a readable image, and each mask has its real image's size:
 * checked from the headers before anything is written, so bad input stops the run before it starts.
 */
async function checkSourceHeaders(work: readonly RealEntry[]): Promise<void> {
  const seen = new Map<string, { width: number; height: number }>();
  const probe = async (p: string) => {
    let v = seen.get(p);
    if (!v) { v = await probeImage(p); seen.set(p, v); }
    return v;
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < work.length) {
      const e = work[next++];
      const r = await probe(e.real);
      const m = await probe(e.mask);
      if (m.width !== r.width || m.height !== r.height) {
        throw new HarmoniaError(`mask is ${m.width}×${m.height} but real image ${e.real} is ${r.width}×${r.height}`, { file: e.mask });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, work.length) }, worker));
}

/** Removes every file in the staging subfolders that no record names (orphans of killed or earlier runs). */
async function pruneOrphans(stage: string, records: readonly SynthesisRecord[], ext: string): Promise<void> {
  const keep: Record<(typeof SUBSET_DIRS)[number], Set<string>> = { composite_images: new Set(), masks: new Set(), real_images: new Set(), synthesis: new Set() };
  for (const r of records) {
    keep.synthesis.add(`${r.name.slice(0, -ext.length)}.json`);
    if (r.rejected) continue;
    keep.composite_images.add(r.name);
    keep.masks.add(maskFileName(r.realName, r.maskIndex));
    keep.real_images.add(`${r.realName}${ext}`);
  }
  for (const d of SUBSET_DIRS) await pruneFolder(join(stage, d), (n) => keep[d].has(n));
  await pruneFolder(stage, (n) => !TEMP_FILE_PATTERN.test(n));
}

/**
 * Builds a synthetic iHarmony4 subset from a real-image source (see sources.ts). Deterministic: each
 * composite's randomness depends only on (seed, real, mask, variant, attempt), so reruns, resumed runs
 * and runs with another `limit` produce identical files. Atomic and resumable (see the file comment):
 * built in `<out>/.<subset>.building`, renamed into place when complete; composites already written
 * (and variants already rejected) under the same recipe are reused. References come from the same
 * split only.
 */
export async function makeComposites(sourceRoot: string, outDir: string, options: SynthesisOptions = {}): Promise<SynthesisSummary> {
  const o = checkOptions(options);
  const source = await readRealSource(sourceRoot);
  const pools = buildPools(source.entries);
  const work = limitPhotosPerSplit(source.entries, o.limit);
  // bad input stops the run before anything is written
  await checkSourceHeaders(work);
  return buildSubsetAtomically(outDir, o.subset, recipeOf(o, source.name), 'make-composites', async (stage) => {
    for (const d of SUBSET_DIRS) await fsp.mkdir(join(stage, d), { recursive: true });
    for (const d of [stage, ...SUBSET_DIRS.map((x) => join(stage, x))]) await removeStaleTempFiles(d);
    const sub = stage;
    const cache = new RefCache(64, o.maxRefPixels);
    const ext = o.format === 'png' ? '.png' : '.jpg';
    const total = work.length * o.variants;
    const records: SynthesisRecord[] = [];
    let done = 0, skippedExisting = 0;
    const processEntry = async (e: RealEntry): Promise<void> => {
      let real: FloatImage | undefined;
      let mask: Mask | undefined;
      const load = async (): Promise<{ real: FloatImage; mask: Mask }> => {
        if (!real || !mask) {
          real = await readImage(e.real);
          mask = await readMask(e.mask, { expect: { ...real, what: `real image ${e.real}` } });
        }
        return { real, mask };
      };
      for (let v = 1; v <= o.variants; v++) {
        const name = compositeFileName(e.realName, e.maskIndex, v, ext);
        const stem = name.slice(0, -ext.length);
        const sidecar = join(sub, 'synthesis', `${stem}.json`);
        const compPath = join(sub, 'composite_images', name);
        if (await exists(sidecar)) {
          const rec = (await readJson(sidecar)) as SynthesisRecord | undefined;
          if (rec && rec.name === name && (rec.rejected || (await exists(compPath)))) {
            records.push(rec);
            skippedExisting++;
            options.onProgress?.(++done, total, 'existing');
            continue;
          }
        }
        const { real: r, mask: m } = await load();
        let best: { img: FloatImage; rec: SynthesisRecord } | undefined;
        let attempts = 0;
        for (let a = 0; a < o.maxAttempts; a++) {
          attempts++;
          const rng = new Rng(`composite:${o.seed}:${e.realName}:${e.maskIndex}:${v}:${a}`);
          const method = o.method === 'mixed' ? rng.pick(TRANSFER_METHODS) : o.method;
          const pick = pickReference(e, pools, rng.fork('reference'));
          if (!pick) throw new HarmoniaError(`no reference image in the ${e.split} split other than "${e.realName}"`, { file: source.root });
          const refColors = await cache.get(pick.ref);
          const illum = o.illumination ? randomIllumination(rng.fork('illumination')) : undefined;
          const img = synthesizeComposite(r, m, refColors, method, rng.fork('transfer'), illum);
          const fmse = foregroundMse255(img, r, m);
          const rec: SynthesisRecord = {
            name, realName: e.realName, maskIndex: e.maskIndex, variant: v, split: e.split, category: e.category,
            method, reference: `${pick.ref.realName}_${pick.ref.maskIndex}`, sameCategory: pick.sameCategory,
            ...(illum ? { illumination: illum } : {}),
            fmse: Math.round(fmse * 1000) / 1000, attempts, rejected: false,
          };
          if (fmse >= o.minFmse && fmse <= o.maxFmse) { best = { img, rec }; break; }
        }
        if (!best) {
          const rec: SynthesisRecord = { name, realName: e.realName, maskIndex: e.maskIndex, variant: v, split: e.split, category: e.category, attempts, rejected: true };
          await writeFileAtomic(sidecar, `${JSON.stringify(rec, null, 1)}\n`);
          records.push(rec);
          options.onProgress?.(++done, total, 'rejected');
          continue;
        }
        const realOut = join(sub, 'real_images', `${e.realName}${ext}`);
        if (!(await exists(realOut))) {
          if (o.format === 'jpg' && /\.jpe?g$/i.test(extname(e.real))) await writeFileAtomic(realOut, await fsp.readFile(e.real));
          else await writeImage(realOut, r, { quality: 95 });
        }
        const maskOut = join(sub, 'masks', maskFileName(e.realName, e.maskIndex));
        if (!(await exists(maskOut))) await writeFileAtomic(maskOut, await fsp.readFile(e.mask));
        await writeFileAtomic(sidecar, `${JSON.stringify(best.rec, null, 1)}\n`);
        await writeImage(compPath, best.img, { quality: 95 });
        records.push(best.rec);
        options.onProgress?.(++done, total, `${best.rec.method} fMSE ${best.rec.fmse?.toFixed(0)}`);
      }
    };
    // A few entries in flight at once: decoding, encoding and fsync overlap; results do not depend on order.
    // The first failure stops the others from taking new work; it is thrown once all have settled.
    let nextEntry = 0;
    let failure: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (!failure && nextEntry < work.length) {
        try { await processEntry(work[nextEntry++]); } catch (err) { failure ??= { err }; }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, work.length) }, worker));
    if (failure) throw failure.err;
    records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = { train: [] as string[], test: [] as string[] };
    const byMethod: Record<string, number> = {};
    let rejected = 0;
    for (const rec of records) {
      if (rec.rejected) { rejected++; continue; }
      names[rec.split].push(rec.name);
      byMethod[rec.method ?? '?'] = (byMethod[rec.method ?? '?'] ?? 0) + 1;
    }
    await pruneOrphans(stage, records, ext);
    const summary: SynthesisSummary = { subset: o.subset, train: names.train.length, test: names.test.length, rejected, skippedExisting, byMethod, records };
    const { concurrency: _c, ...recorded } = o;
    const manifest = {
      source: source.name,
      options: { ...recorded, limit: o.limit ?? null },
      counts: { train: summary.train, test: summary.test, rejected, byMethod },
    };
    await writeFileAtomic(join(stage, 'synthesis.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return { names, result: summary };
  }, { overwrite: options.overwrite });
}
