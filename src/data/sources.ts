/**
 * Real-image sources for composite synthesis: folders with `real_images/<real>.<ext>` and
 * `masks/<real>_<m>.png` (an iHarmony4 subset, or /work/shared/data/lalonde-real), optional split lists
 * `*_train.txt` / `*_test.txt` naming composite-style `<real>_<m>_<v>.jpg` entries (the composites need not
 * exist), and an optional `index.json` (`[{ name, objectName }]`) giving each real image's object category.
 */
import { promises as fsp } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { hashString } from '../util/random.ts';
import { parseCompositeName, type Split } from './iharmony4.ts';

export interface RealEntry {
  realName: string;
  maskIndex: number;
  /** Path of the real image. */
  real: string;
  /** Path of the mask. */
  mask: string;
  split: Split;
  /** Normalised object category ('any' when unknown). */
  category: string;
  /** Where the split came from: `<list>:<line>` or 'hash'. */
  source: string;
}

export interface RealSource {
  root: string;
  /** Folder name of the source (e.g. "lalonde-real"). */
  name: string;
  entries: RealEntry[];
}

const IMAGE_EXT = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'];
const DIRECTION_WORDS = new Set(['left', 'right', 'rear', 'side', 'frontal', 'front', 'back', 'top', 'view', 'occluded', 'crop', 'part', 'whole']);
const SYNONYMS: Record<string, string> = {
  sea: 'water', river: 'water', lake: 'water', waterfall: 'water', ocean: 'water',
  highway: 'road', street: 'road', sidewalk: 'road',
  house: 'building', skyscraper: 'building',
  trunk: 'tree', foliage: 'tree', plant: 'tree', bush: 'tree',
  grass: 'field', meadow: 'field',
  rocky: 'rock', stone: 'rock',
  beach: 'sand', desert: 'sand',
  cloud: 'sky',
};

/**
 * Normalises a LabelMe-style object name to a coarse category: lower case, camelCase split, view words
 * (`left`, `side`, `az180deg`, …) dropped, plurals singularised, the last remaining word, then a small
 * synonym table (`sea water` → water, `carLeft` → car, `trees` → tree, `snowy mountain` → mountain).
 */
export function normalizeCategory(objectName: string): string {
  const words = objectName
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w !== '' && !DIRECTION_WORDS.has(w) && !/^az\d*deg$/.test(w) && !/^(az|deg)$/.test(w));
  if (words.length === 0) return 'any';
  let w = words[words.length - 1];
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  return SYNONYMS[w] ?? w;
}

async function listDir(dir: string): Promise<Set<string>> {
  try {
    return new Set(await fsp.readdir(dir));
  } catch (err) {
    throw new HarmoniaError(`cannot read folder: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (err as Error).message}`, { file: dir, cause: err });
  }
}

async function readCategories(root: string): Promise<Map<string, string>> {
  const p = join(root, 'index.json');
  const cats = new Map<string, string>();
  let text: string;
  try {
    text = await fsp.readFile(p, 'utf8');
  } catch {
    return cats;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new HarmoniaError(`not valid JSON: ${(err as Error).message}`, { file: p, cause: err });
  }
  const items = Array.isArray(data) ? data : (data as { images?: unknown }).images;
  if (!Array.isArray(items)) throw new HarmoniaError('expected an array of { name, objectName }', { file: p });
  items.forEach((it: unknown, i) => {
    const o = it as { name?: unknown; objectName?: unknown };
    if (typeof o?.name !== 'string') throw new HarmoniaError(`entry ${i} has no "name"`, { file: p });
    if (typeof o.objectName === 'string') cats.set(o.name, normalizeCategory(o.objectName));
  });
  return cats;
}

function findReal(names: Set<string>, realName: string): string | undefined {
  for (const ext of IMAGE_EXT) {
    if (names.has(realName + ext)) return realName + ext;
    if (names.has(realName + ext.toUpperCase())) return realName + ext.toUpperCase();
  }
  return undefined;
}

/**
 * Reads a real-image source. With split lists, each `(real, mask)` pair takes its list's split and a
 * real image listed in both splits is an error; without lists, every mask in masks/ is used and the
 * split is a stable hash of the real name (share `testFraction`, default 0.1). Missing real images or
 * masks are errors naming `<list>:<line>`. Entries are sorted by real name, then mask index.
 */
export async function readRealSource(root: string, opts: { testFraction?: number } = {}): Promise<RealSource> {
  const realDir = join(root, 'real_images');
  const maskDir = join(root, 'masks');
  const reals = await listDir(realDir);
  const masks = await listDir(maskDir);
  const cats = await readCategories(root);
  const files = (await fsp.readdir(root)).sort();
  const lists = files.filter((f) => /_(train|test)\.txt$/i.test(f));
  const entries = new Map<string, RealEntry>();
  const splitOfReal = new Map<string, { split: Split; where: string }>();
  const add = (realName: string, maskIndex: number, split: Split, where: string): void => {
    const key = `${realName}_${maskIndex}`;
    const prev = splitOfReal.get(realName);
    if (prev && prev.split !== split) {
      throw new HarmoniaError(`real image "${realName}" is in the ${split} list and also in the ${prev.split} list (${prev.where}): the source split leaks`, { file: where });
    }
    splitOfReal.set(realName, { split, where });
    if (entries.has(key)) return; // several variants of one mask: one entry
    const realFile = findReal(reals, realName);
    if (!realFile) throw new HarmoniaError(`real image ${join(realDir, realName)}.(jpg|png) does not exist`, { file: where });
    const maskFile = `${realName}_${maskIndex}.png`;
    if (!masks.has(maskFile)) throw new HarmoniaError(`mask ${join(maskDir, maskFile)} does not exist`, { file: where });
    entries.set(key, {
      realName, maskIndex, split,
      real: join(realDir, realFile), mask: join(maskDir, maskFile),
      category: cats.get(realName) ?? 'any', source: where,
    });
  };
  if (lists.length > 0) {
    for (const f of lists) {
      const split: Split = /_train\.txt$/i.test(f) ? 'train' : 'test';
      const p = join(root, f);
      const lines = (await fsp.readFile(p, 'utf8')).split(/\r?\n/);
      lines.forEach((raw, i) => {
        const t = raw.trim();
        if (t === '' || t.startsWith('#')) return;
        const where = `${p}:${i + 1}`;
        let parsed;
        try {
          parsed = parseCompositeName(t);
        } catch (err) {
          throw new HarmoniaError((err as Error).message, { file: where });
        }
        add(parsed.realName, parsed.maskIndex, split, where);
      });
    }
  } else {
    const tf = opts.testFraction ?? 0.1;
    for (const m of [...masks].sort()) {
      if (extname(m).toLowerCase() !== '.png' || m.startsWith('.')) continue;
      const stem = m.slice(0, -4);
      const us = stem.lastIndexOf('_');
      if (us <= 0 || !/^\d+$/.test(stem.slice(us + 1))) continue;
      const realName = stem.slice(0, us);
      const split: Split = hashString(`split:${realName}`) / 4294967296 < tf ? 'test' : 'train';
      add(realName, Number(stem.slice(us + 1)), split, join(maskDir, m));
    }
  }
  const sorted = [...entries.values()].sort((a, b) => (a.realName < b.realName ? -1 : a.realName > b.realName ? 1 : a.maskIndex - b.maskIndex));
  if (sorted.length === 0) throw new HarmoniaError('no real image with a mask found', { file: root });
  return { root, name: basename(resolve(root)), entries: sorted };
}

/** The entries of at most `limit` photos per split (every mask of a kept photo; source order), or all of them. */
export function limitPhotosPerSplit(entries: readonly RealEntry[], limit: number | undefined): RealEntry[] {
  if (limit === undefined) return [...entries];
  const seen: Record<Split, Set<string>> = { train: new Set(), test: new Set() };
  return entries.filter((e) => {
    const s = seen[e.split];
    if (!s.has(e.realName) && s.size >= limit) return false;
    s.add(e.realName);
    return true;
  });
}
