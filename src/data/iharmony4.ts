/**
 * iHarmony4 dataset layout: naming, reading list files, and writing lists.
 *
 * Layout (docs/DATA.md § iHarmony4 layout): a root with subset folders `<Subset>/{composite_images,masks,real_images}`,
 * per-subset lists `<Subset>/<Subset>_{train,test}.txt` (bare composite names, e.g. `f1234_1_2.jpg`) and
 * root lists `IHD_{train,test}.txt` (`HFlickr/composite_images/f1234_1_2.jpg`). Composite
 * `<real>_<maskIdx>_<variant>.<ext>` → mask `<real>_<maskIdx>.png` → real `<real>.<ext>` (any image
 * extension; `.jpg` in the published data, `.png` in what Harmonia generates).
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { HarmoniaError } from '../errors.ts';
import { describeFsError, writeFileAtomic } from '../util/atomic.ts';

export type Split = 'train' | 'test';

export interface HarmonizationSample {
  /** Unique id: `<subset>/<composite name without extension>`. */
  id: string;
  subset: string;
  composite: string;
  mask: string;
  real: string;
  realName: string;
  maskIndex: number;
  variant: number;
  split?: Split;
  /** Where the sample came from: `<list file>:<line>`, or the composite_images folder when listed from disk. */
  source?: string;
}

const IMAGE_EXT = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'];

/**
 * Splits a composite file name `<real>_<maskIdx>_<variant>.<ext>` from the right (real names may contain
 * `_`). Folders and the extension are ignored. Throws when the name does not end in two integers.
 */
export function parseCompositeName(fileName: string): { realName: string; maskIndex: number; variant: number } {
  const base = basename(fileName);
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  const parts = stem.split('_');
  if (parts.length < 3) {
    throw new HarmoniaError(`composite name "${base}" is not <real>_<maskIndex>_<variant>`);
  }
  const v = parts[parts.length - 1];
  const m = parts[parts.length - 2];
  const realName = parts.slice(0, -2).join('_');
  if (!/^\d+$/.test(v) || !/^\d+$/.test(m) || realName === '') {
    throw new HarmoniaError(`composite name "${base}" is not <real>_<maskIndex>_<variant> (mask index and variant must be integers)`);
  }
  if (!Number.isSafeInteger(Number(m)) || !Number.isSafeInteger(Number(v))) {
    throw new HarmoniaError(`composite name "${base}": mask index or variant is too large`);
  }
  return { realName, maskIndex: Number(m), variant: Number(v) };
}

/** `<real>_<maskIdx>_<variant><ext>` (ext includes the dot). */
export function compositeFileName(realName: string, maskIndex: number, variant: number, ext = '.jpg'): string {
  return `${realName}_${maskIndex}_${variant}${ext}`;
}

/** `<real>_<maskIdx>.png`. */
export function maskFileName(realName: string, maskIndex: number): string {
  return `${realName}_${maskIndex}.png`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** File names of a folder, cached per read (one readdir per folder, not one stat per sample). */
class DirCache {
  /** Identity mode: the real photos are the inputs (no composite files needed; see readIHarmonyDataset). */
  constructor(readonly identity = false) {}
  private readonly cache = new Map<string, Promise<Set<string>>>();
  list(dir: string): Promise<Set<string>> {
    let p = this.cache.get(dir);
    if (!p) {
      p = fsp.readdir(dir).then((names) => new Set(names), () => new Set<string>());
      this.cache.set(dir, p);
    }
    return p;
  }
}

/** A real image file `<realName>.<ext>` in `dir`: prefers `preferExt`, then .jpg, .png, … */
async function findImage(cache: DirCache, dir: string, realName: string, preferExt: string): Promise<string | undefined> {
  const names = await cache.list(dir);
  for (const ext of [preferExt.toLowerCase(), ...IMAGE_EXT]) {
    if (names.has(realName + ext)) return join(dir, realName + ext);
    const up = realName + ext.toUpperCase();
    if (names.has(up)) return join(dir, up);
  }
  return undefined;
}

interface ListLine { text: string; where: string }

async function readList(path: string): Promise<ListLine[]> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    throw new HarmoniaError(`cannot read list: ${describeFsError(err)}`, { file: path, cause: err });
  }
  const out: ListLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    out.push({ text: t, where: `${path}:${i + 1}` });
  });
  return out;
}

/**
 * Resolves one list line to a sample. Bare names live in `<subsetDir>/composite_images/`; lines with
 * folders (`HFlickr/composite_images/x.jpg`) are resolved against the list's folder, then its parent.
 */
async function sampleFromLine(line: ListLine, listPath: string, cache: DirCache, split: Split | undefined): Promise<HarmonizationSample> {
  const listDir = dirname(listPath);
  const parts = line.text.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  const file = parts[parts.length - 1];
  let parsed;
  try {
    parsed = parseCompositeName(file);
  } catch (err) {
    throw new HarmoniaError(`${(err as Error).message}`, { file: line.where });
  }
  let subsetDir: string;
  if (parts.length === 1) {
    subsetDir = listDir;
  } else {
    const ci = parts.lastIndexOf('composite_images');
    if (ci !== parts.length - 2) {
      throw new HarmoniaError(`"${line.text}" is not <Subset>/composite_images/<name> or a bare composite name`, { file: line.where });
    }
    const rel = parts.slice(0, ci);
    const candidates = [join(listDir, ...rel), join(dirname(listDir), ...rel)];
    let found: string | undefined;
    for (const c of candidates) if (await isDir(join(c, 'composite_images'))) { found = c; break; }
    if (!found) throw new HarmoniaError(`"${line.text}" points nowhere: no folder ${join(candidates[0], 'composite_images')}`, { file: line.where });
    subsetDir = found;
  }
  return resolveSample(subsetDir, file, parsed, cache, split, line.where);
}

async function resolveSample(
  subsetDir: string,
  file: string,
  parsed: { realName: string; maskIndex: number; variant: number },
  cache: DirCache,
  split: Split | undefined,
  where: string,
): Promise<HarmonizationSample> {
  const subset = basename(resolve(subsetDir));
  const compDir = join(subsetDir, 'composite_images');
  const composite = join(compDir, file);
  if (!cache.identity && !(await cache.list(compDir)).has(file)) {
    throw new HarmoniaError(`"${file}" points nowhere: composite ${composite} does not exist`, { file: where });
  }
  const maskDir = join(subsetDir, 'masks');
  const maskName = maskFileName(parsed.realName, parsed.maskIndex);
  if (!(await cache.list(maskDir)).has(maskName)) {
    throw new HarmoniaError(`mask ${join(maskDir, maskName)} for "${file}" does not exist`, { file: where });
  }
  const real = await findImage(cache, join(subsetDir, 'real_images'), parsed.realName, extname(file));
  if (!real) {
    throw new HarmoniaError(`real image ${join(subsetDir, 'real_images', parsed.realName)}.(jpg|png) for "${file}" does not exist`, { file: where });
  }
  const stem = file.slice(0, file.length - extname(file).length);
  return {
    id: `${subset}/${stem}`,
    subset,
    composite: cache.identity ? real : composite,
    mask: join(maskDir, maskName),
    real,
    ...parsed,
    ...(split ? { split } : {}),
    source: where,
  };
}

function splitsOf(split: Split | undefined): Split[] {
  return split ? [split] : ['train', 'test'];
}

/** Samples of one subset folder: its `<Subset>_<split>.txt` lists, or every file in composite_images/. */
async function readSubset(subsetDir: string, split: Split | undefined, cache: DirCache): Promise<HarmonizationSample[]> {
  const name = basename(resolve(subsetDir));
  const lists = [];
  for (const s of splitsOf(split)) {
    const p = join(subsetDir, `${name}_${s}.txt`);
    if (await exists(p)) lists.push({ p, s });
  }
  if (lists.length > 0) {
    const out: HarmonizationSample[] = [];
    for (const { p, s } of lists) out.push(...(await samplesFromList(p, cache, s)));
    return out;
  }
  const anyList = (await exists(join(subsetDir, `${name}_train.txt`))) || (await exists(join(subsetDir, `${name}_test.txt`)));
  if (anyList) return []; // lists exist, just not for the requested split
  // No list file (e.g. the single-triplet sample): every image in composite_images/ is a sample.
  const compDir = join(subsetDir, 'composite_images');
  const files = [...(await cache.list(compDir))]
    .filter((f) => IMAGE_EXT.includes(extname(f).toLowerCase()) && !f.startsWith('.'))
    .sort();
  const out: HarmonizationSample[] = [];
  for (const f of files) {
    let parsed;
    try {
      parsed = parseCompositeName(f);
    } catch (err) {
      throw new HarmoniaError((err as Error).message, { file: join(compDir, f) });
    }
    out.push(await resolveSample(subsetDir, f, parsed, cache, undefined, compDir));
  }
  return out;
}

async function samplesFromList(listPath: string, cache: DirCache, split: Split | undefined): Promise<HarmonizationSample[]> {
  const lines = await readList(listPath);
  const out: HarmonizationSample[] = [];
  for (const line of lines) out.push(await sampleFromLine(line, listPath, cache, split));
  return out;
}

function splitFromListName(path: string): Split | undefined {
  const b = basename(path).toLowerCase();
  if (/_train\.txt$/.test(b)) return 'train';
  if (/_test\.txt$/.test(b)) return 'test';
  return undefined;
}

/** Width × height from the header only (EXIF orientation applied). */
async function headerSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    let { width = 0, height = 0 } = meta;
    if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
    return { width, height };
  } catch (err) {
    throw new HarmoniaError(`not a readable image: ${(err as Error).message.split('\n')[0]}`, { file: path, cause: err });
  }
}

/** Checks that composite, mask and real image of each sample have the same size (headers only). */
export async function checkSampleSizes(samples: HarmonizationSample[], concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < samples.length) {
      const s = samples[next++];
      const [c, m, r] = await Promise.all([headerSize(s.composite), headerSize(s.mask), headerSize(s.real)]);
      const where = s.source ?? s.composite;
      if (m.width !== c.width || m.height !== c.height) {
        throw new HarmoniaError(`mask ${s.mask} is ${m.width}×${m.height} but composite ${s.composite} is ${c.width}×${c.height}`, { file: where });
      }
      if (r.width !== c.width || r.height !== c.height) {
        throw new HarmoniaError(`real image ${s.real} is ${r.width}×${r.height} but composite ${s.composite} is ${c.width}×${c.height}`, { file: where });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));
}

/**
 * Reads an iHarmony4-layout dataset. `root` is either an IHD root (subset folders, optional
 * `IHD_{train,test}.txt`) or one subset folder. With `list`, exactly that list file is read. Without a
 * list, the IHD root lists are used when present, else each subset's own lists, else (no list at all)
 * every composite in composite_images/. Every line must resolve to an existing composite, mask and real
 * image; errors name `<list>:<line>`. `check: true` also reads the image headers and rejects masks or
 * real images whose size differs from the composite.
 * `identity: true` reads the real photos themselves as the inputs (do-no-harm evaluation): every sample's
 * `composite` is its real image, so no composite file is needed, and a folder of real photos with masks and
 * lists (real_images/, masks/, `<name>_{train,test}.txt`, e.g. ../shared/data/lalonde-real) is a subset.
 */
export async function readIHarmonyDataset(
  root: string,
  opts: { split?: Split; list?: string; subsets?: string[]; check?: boolean; identity?: boolean } = {},
): Promise<HarmonizationSample[]> {
  if (!(await isDir(root))) throw new HarmoniaError('dataset folder does not exist', { file: root });
  const cache = new DirCache(Boolean(opts.identity));
  // a subset folder: composite_images/, or in identity mode real_images/ (a folder of real photos + masks + lists)
  const isSubset = async (dir: string) => (await isDir(join(dir, 'composite_images'))) || (cache.identity && (await isDir(join(dir, 'real_images'))));
  let samples: HarmonizationSample[];
  if (opts.list) {
    const p = (await exists(opts.list)) ? opts.list : join(root, opts.list);
    samples = await samplesFromList(p, cache, opts.split ?? splitFromListName(p));
  } else if (await isSubset(root)) {
    samples = await readSubset(root, opts.split, cache);
  } else {
    const rootLists = [];
    for (const s of splitsOf(opts.split)) {
      const p = join(root, `IHD_${s}.txt`);
      if (await exists(p)) rootLists.push({ p, s });
    }
    if (rootLists.length > 0) {
      samples = [];
      for (const { p, s } of rootLists) samples.push(...(await samplesFromList(p, cache, s)));
    } else {
      const entries = (await fsp.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
      samples = [];
      let subsetsFound = 0;
      for (const e of entries) {
        const dir = join(root, e);
        if (!(await isSubset(dir))) continue;
        subsetsFound++;
        samples.push(...(await readSubset(dir, opts.split, cache)));
      }
      if (subsetsFound === 0) {
        throw new HarmoniaError('not an iHarmony4 dataset: no composite_images/ folder, no subset folders and no IHD_train.txt/IHD_test.txt', { file: root });
      }
    }
  }
  if (opts.subsets && opts.subsets.length > 0) {
    const want = new Set(opts.subsets);
    samples = samples.filter((s) => want.has(s.subset));
  }
  const seen = new Map<string, string>();
  for (const s of samples) {
    const prev = seen.get(s.id);
    if (prev) throw new HarmoniaError(`composite ${s.id} is listed twice (first at ${prev})`, { file: s.source });
    seen.set(s.id, s.source ?? s.composite);
  }
  if (opts.check) await checkSampleSizes(samples);
  return samples;
}

/**
 * Writes the lists of a generated subset atomically: `<root>/<subset>/<subset>_{train,test}.txt` with bare
 * composite names and `<root>/IHD_{train,test}.txt` with `<subset>/composite_images/<name>` lines
 * (sorted, one per line, trailing newline). Other subsets' lines already in the IHD lists are kept.
 */
export async function writeSubsetLists(root: string, subset: string, names: { train: string[]; test: string[] }): Promise<void> {
  await writeSubsetListFiles(join(root, subset), subset, names);
  await updateIhdLists(root, subset, names);
}

function checkNoSplitLeak(subset: string, names: { train: string[]; test: string[] }): void {
  const trainReal = new Set(names.train.map((n) => parseCompositeName(n).realName));
  for (const n of names.test) {
    const r = parseCompositeName(n).realName;
    if (trainReal.has(r)) throw new HarmoniaError(`split leak: real image "${r}" would appear in both the train and test lists of ${subset}`);
  }
}

/** `<subsetDir>/<subset>_{train,test}.txt` only (a subset being built in a staging folder). */
export async function writeSubsetListFiles(subsetDir: string, subset: string, names: { train: string[]; test: string[] }): Promise<void> {
  checkNoSplitLeak(subset, names);
  for (const s of ['train', 'test'] as const) {
    const sorted = [...names[s]].sort();
    await writeFileAtomic(join(subsetDir, `${subset}_${s}.txt`), sorted.map((n) => `${n}\n`).join(''), { mkdir: true });
  }
}

/** `<root>/IHD_{train,test}.txt`: this subset's lines replaced by `names`, other subsets' kept. */
export async function updateIhdLists(root: string, subset: string, names: { train: string[]; test: string[] }): Promise<void> {
  checkNoSplitLeak(subset, names);
  for (const s of ['train', 'test'] as const) {
    const sorted = [...names[s]].sort();
    const ihd = join(root, `IHD_${s}.txt`);
    let keep: string[] = [];
    if (await exists(ihd)) {
      keep = (await fsp.readFile(ihd, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(`${subset}/`));
    }
    const lines = [...keep, ...sorted.map((n) => `${subset}/composite_images/${n}`)].sort();
    await writeFileAtomic(ihd, lines.map((l) => `${l}\n`).join(''));
  }
}
