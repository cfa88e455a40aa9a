/**
 * Folder batch mode: harmonize every image of a folder with the mask of the same stem from a mask
 * folder. Memory stays bounded: one image at a time, tensors disposed.
 *
 * Resume checks what is there (docs/RELIABILITY.md, issue 17): an existing output counts as done only
 * when the manifest next to the outputs (`harmonia-manifest.jsonl`, one JSON line per output: input
 * names, sizes and mtimes, output size and SHA-256) says it came from these inputs and the file is
 * unchanged, or, when its entry's size or SHA-256 differs, when it decodes completely at the composite's
 * size. A 0-byte, truncated or wrong-size output is redone, and so is one without any entry when the run
 * has a recipe (always, from harmonizeBatch): nothing says what made it.
 *
 * Outputs remember what made them (issue 28): each manifest entry also holds the recipe — the effective
 * stage, the model's identity (its folder's name and the SHA-256 of model.json, weights.bin and
 * harmonia.json), --harmonize-background, --max-side and --quality. An output made with another
 * recipe is redone, and the reason names the difference ("--stage intrinsic, was full"). With
 * `continueOnError` (the CLI's --keep-going) a failing image is recorded and skipped.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, extname, basename, dirname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, removeStaleTempFiles, describeFsError } from '../util/atomic.ts';
import { formatFromPath, probeImage, readImage } from '../image/io.ts';
import { isModelDir, DEFAULT_MODEL_DIR } from '../models/folder-meta.ts';
import { Progress } from '../util/progress.ts';
import { harmonizeWithReport, resolveModel, type HarmonizeOptions } from './harmonize.ts';

export const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'];

/** The per-folder resume manifest written next to the outputs. */
export const MANIFEST_NAME = 'harmonia-manifest.jsonl';

export interface BatchItem { name: string; composite: string; mask: string; output: string }

export interface BatchTiming { name: string; ms: number; stages: Record<string, number>; skipped?: boolean; width?: number; height?: number; error?: string; redone?: string }

/** A file of an input folder that is not harmonized, and why. */
export interface SkippedFile { file: string; reason: string }

/** True for names that are masks by the naming rule (`<stem>_mask.<ext>`). */
export function isMaskName(file: string): boolean {
  return /_mask$/i.test(basename(file, extname(file)));
}

function listFolder(d: string, skipped: SkippedFile[] | undefined): string[] {
  let names: string[];
  try {
    names = readdirSync(d);
  } catch (err) {
    throw new HarmoniaError(`cannot list the folder: ${describeFsError(err)}`, { file: d, cause: err });
  }
  const out: string[] = [];
  for (const f of names.sort()) {
    if (f.startsWith('.')) continue; // hidden files, temp files of atomic writes
    let st;
    try {
      st = statSync(join(d, f));
    } catch (err) {
      skipped?.push({ file: f, reason: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'broken symbolic link' : `cannot read: ${describeFsError(err)}` });
      continue;
    }
    if (st.isDirectory()) continue;
    if (!st.isFile()) { skipped?.push({ file: f, reason: 'not a regular file' }); continue; }
    if (!IMAGE_EXTS.includes(extname(f).toLowerCase())) {
      if (f !== MANIFEST_NAME) skipped?.push({ file: f, reason: 'not an image (jpg, jpeg, png, webp, tif, tiff)' });
      continue;
    }
    out.push(f);
  }
  return out;
}

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Pairs images with masks by stem (mask stems may also be `<stem>_mask`). Files of the composite
 * folder that are not images, or are masks by name (`x_mask.png`), are skipped and listed. Two
 * composites with the same stem (their outputs would collide), or two masks for one stem, are an
 * error before any work.
 */
export function pairFolderDetailed(compositeDir: string, maskDir: string, outDir: string, outExt = '.png'): { items: BatchItem[]; skipped: SkippedFile[] } {
  const skipped: SkippedFile[] = [];
  const same = sameFolder(compositeDir, maskDir);
  const byStem = (files: string[]): Map<string, string[]> => {
    const m = new Map<string, string[]>();
    for (const f of files) {
      const k = basename(f, extname(f));
      m.set(k, [...(m.get(k) ?? []), f]);
    }
    return m;
  };
  const masks = byStem(listFolder(maskDir, undefined).filter((f) => !same || isMaskName(f)));
  const composites: string[] = [];
  for (const f of listFolder(compositeDir, skipped)) {
    if (isMaskName(f)) skipped.push({ file: f, reason: 'a mask by its name (<stem>_mask)' });
    else composites.push(f);
  }
  const stems = byStem(composites);
  const dup = [...stems.entries()].filter(([, v]) => v.length > 1);
  if (dup.length) {
    const [stem, files] = dup[0];
    throw new HarmoniaError(`${dup.length} stem(s) shared by several composites, whose outputs would collide: ${files.join(', ')} → ${stem}${outExt}${dup.length > 1 ? `, and ${dup.length - 1} more` : ''} (rename or move one)`, { file: compositeDir });
  }
  const items: BatchItem[] = [];
  const missing: string[] = [];
  for (const f of composites) {
    const stem = basename(f, extname(f));
    const cands = same ? masks.get(`${stem}_mask`) : (masks.get(stem) ?? masks.get(`${stem}_mask`));
    if (!cands) { missing.push(f); continue; }
    if (cands.length > 1) throw new HarmoniaError(`several masks for ${f}: ${cands.join(', ')} (keep one)`, { file: maskDir });
    items.push({ name: stem, composite: join(compositeDir, f), mask: join(maskDir, cands[0]), output: join(outDir, stem + outExt) });
  }
  if (missing.length) {
    throw new HarmoniaError(`no mask with the same name in ${maskDir} for ${missing.length} image(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`, { file: compositeDir });
  }
  if (items.length === 0) throw new HarmoniaError(`no images (jpg, png, webp, tif) found${skipped.length ? ` (skipped ${skipped.length} file(s): ${skipped.slice(0, 3).map((s) => s.file).join(', ')})` : ''}`, { file: compositeDir });
  return { items, skipped };
}

/** Pairs images with masks by stem (mask stems may also be `<stem>_mask`); see pairFolderDetailed. */
export function pairFolder(compositeDir: string, maskDir: string, outDir: string, outExt = '.png'): BatchItem[] {
  return pairFolderDetailed(compositeDir, maskDir, outDir, outExt).items;
}

/** What made an output: the options and the model that change it (issue 28). */
export interface BatchRecipe {
  /** The stage that ran: intrinsic, gan or full. */
  stage: string;
  /** The model: `<folder name>@<sha256 of its files, 16 hex>`, or null (intrinsic stage alone). */
  model: string | null;
  harmonizeBackground: boolean;
  maxSide: number | null;
  quality: number | null;
}

/** The flag that sets each recipe field, for the message naming a difference. */
const RECIPE_FLAGS: Record<keyof BatchRecipe, string> = { stage: '--stage', model: '--model', harmonizeBackground: '--harmonize-background', maxSide: '--max-side', quality: '--quality' };

const identities = new Map<string, string>();

/** A model folder's identity: its name and the SHA-256 (16 hex) of model.json, weights.bin and harmonia.json (memoised by path, size and mtime). */
export function modelIdentity(dir: string): string {
  const files = ['model.json', 'weights.bin', 'harmonia.json'].map((f) => join(dir, f));
  const key = files.map((f) => { try { const st = statSync(f); return `${f}:${st.size}:${st.mtimeMs}`; } catch { return `${f}:-`; } }).join('|');
  const hit = identities.get(key);
  if (hit) return hit;
  const h = createHash('sha256');
  for (const f of files) {
    try { h.update(readFileSync(f)); } catch { h.update('-'); }
    h.update('\0');
  }
  const id = `${basename(dir)}@${h.digest('hex').slice(0, 16)}`;
  identities.set(key, id);
  return id;
}

/**
 * The recipe a run with these options writes, decided without loading the model: stage intrinsic (or
 * `model: null`, or no --model and no shipped model) runs no model; otherwise the model folder's
 * identity (a model passed loaded is named by its card).
 */
export function batchRecipe(opts: Pick<HarmonizeOptions, 'stage' | 'model' | 'harmonizeBackground' | 'analysisMaxSide' | 'quality'>): BatchRecipe {
  const base = { harmonizeBackground: Boolean(opts.harmonizeBackground), maxSide: opts.analysisMaxSide ?? null, quality: opts.quality ?? null };
  const model = opts.model;
  if (opts.stage === 'intrinsic' || model === null) return { stage: 'intrinsic', model: null, ...base };
  if (model !== undefined && typeof model !== 'string') return { stage: opts.stage ?? 'full', model: `loaded:${model.card?.name ?? 'model'}`, ...base };
  const dir = model ?? DEFAULT_MODEL_DIR;
  if (!model && !opts.stage && !isModelDir(dir)) return { stage: 'intrinsic', model: null, ...base };
  return { stage: opts.stage ?? 'full', model: isModelDir(dir) ? modelIdentity(dir) : dir, ...base };
}

/** The differences between the recipe an output was made with and this run's, in words ('' when none). */
export function recipeDifference(was: Partial<BatchRecipe> | undefined, now: BatchRecipe): string {
  if (!was) return 'it was made by an older version (no options recorded)';
  const show = (v: unknown, k: keyof BatchRecipe): string => (v === null || v === undefined ? (k === 'model' ? 'none' : 'default') : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));
  const diffs: string[] = [];
  for (const k of Object.keys(RECIPE_FLAGS) as (keyof BatchRecipe)[]) {
    if ((was[k] ?? null) !== (now[k] ?? null)) diffs.push(`${RECIPE_FLAGS[k]} ${show(now[k], k)}, was ${show(was[k], k)}`);
  }
  return diffs.join('; ');
}

/** One line of the manifest. */
export interface ManifestEntry {
  output: string;
  composite: string; compositeSize: number; compositeMtimeMs: number;
  mask: string; maskSize: number; maskMtimeMs: number;
  width: number; height: number;
  outputSize: number; outputSha256: string;
  /** What made it (absent: an output verified by decoding, whose options are unknown, or an older version's entry). */
  recipe?: BatchRecipe;
}

function inputFacts(it: BatchItem): Pick<ManifestEntry, 'composite' | 'compositeSize' | 'compositeMtimeMs' | 'mask' | 'maskSize' | 'maskMtimeMs'> {
  const c = statSync(it.composite);
  const m = statSync(it.mask);
  return { composite: basename(it.composite), compositeSize: c.size, compositeMtimeMs: Math.round(c.mtimeMs), mask: basename(it.mask), maskSize: m.size, maskMtimeMs: Math.round(m.mtimeMs) };
}

/** Reads the manifest of a folder (last entry per output wins; an unterminated last line is ignored). */
export function readManifest(dir: string): Map<string, ManifestEntry> {
  const out = new Map<string, ManifestEntry>();
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_NAME), 'utf8');
  } catch {
    return out;
  }
  const lines = text.split('\n');
  lines.pop(); // '' after the final newline, or an unterminated line of a killed append
  for (const l of lines) {
    try {
      const e = JSON.parse(l) as ManifestEntry;
      if (e && typeof e.output === 'string') out.set(e.output, e);
    } catch {
      /* a damaged line: that output is verified by decoding instead */
    }
  }
  return out;
}

/** Drops an unterminated last line (a killed append) so the next append starts on its own line. */
async function repairManifest(dir: string): Promise<void> {
  const p = join(dir, MANIFEST_NAME);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch {
    return;
  }
  if (text === '' || text.endsWith('\n')) return;
  await writeFileAtomic(p, text.slice(0, text.lastIndexOf('\n') + 1));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function appendManifest(it: BatchItem, entry: ManifestEntry): void {
  const p = join(dirname(it.output), MANIFEST_NAME);
  try {
    appendFileSync(p, JSON.stringify(entry) + '\n');
  } catch (err) {
    throw new HarmoniaError(`cannot record the output in the manifest: ${describeFsError(err)}`, { file: p, cause: err });
  }
}

export interface BatchPlan {
  /** Items to harmonize (with the reason when an existing output is redone). */
  todo: { item: BatchItem; redo?: string }[];
  /** Items whose complete output from these inputs is already there. */
  done: BatchItem[];
  /** Outputs verified by decoding that had no manifest entry yet (recorded when the batch runs). */
  verified: ManifestEntry[];
}

/** Decides, before any work, which outputs are done (see the module comment) and which are (re)done. */
export async function planBatch(items: readonly BatchItem[], opts: { overwrite?: boolean; recipe?: BatchRecipe } = {}): Promise<BatchPlan> {
  const plan: BatchPlan = { todo: [], done: [], verified: [] };
  const manifests = new Map<string, Map<string, ManifestEntry>>();
  for (const it of items) {
    if (opts.overwrite || !existsSync(it.output)) { plan.todo.push({ item: it }); continue; }
    const dir = dirname(it.output);
    let man = manifests.get(dir);
    if (!man) { man = readManifest(dir); manifests.set(dir, man); }
    const facts = inputFacts(it);
    const e = man.get(basename(it.output));
    let bytes: Buffer;
    try {
      bytes = readFileSync(it.output);
    } catch (err) {
      plan.todo.push({ item: it, redo: `existing output cannot be read: ${describeFsError(err)}` });
      continue;
    }
    const sameInputs = !!e && e.composite === facts.composite && e.compositeSize === facts.compositeSize && e.compositeMtimeMs === facts.compositeMtimeMs &&
      e.mask === facts.mask && e.maskSize === facts.maskSize && e.maskMtimeMs === facts.maskMtimeMs;
    if (e && !sameInputs) { plan.todo.push({ item: it, redo: 'the composite or mask changed since this output was written' }); continue; }
    // no entry at all (e.g. a run killed between the output's rename and its manifest line): the options it was
    // made with are unknown, so it is redone rather than recorded as made with this run's (issue 28)
    if (!e && opts.recipe) { plan.todo.push({ item: it, redo: 'existing output has no manifest entry (the options it was made with are unknown)' }); continue; }
    // made with other options or another model: redone, naming the difference (an entry without a recipe: verified by decoding, options unknown)
    const diff = e && opts.recipe && e.recipe !== undefined ? recipeDifference(e.recipe, opts.recipe) : '';
    if (diff) { plan.todo.push({ item: it, redo: `made with other options: ${diff}` }); continue; }
    if (e && e.outputSize === bytes.length && e.outputSha256 === sha256(bytes)) { plan.done.push(it); continue; }
    // no manifest entry (or the output file was replaced): done only if it decodes completely at the composite's size
    if (bytes.length === 0) { plan.todo.push({ item: it, redo: 'existing output is empty (0 bytes)' }); continue; }
    let w: number, h: number;
    try {
      const img = await readImage(bytes);
      w = img.width; h = img.height;
    } catch (err) {
      plan.todo.push({ item: it, redo: `existing output is not a complete image (${err instanceof Error ? err.message : String(err)})` });
      continue;
    }
    const c = await probeImage(it.composite);
    if (w !== c.width || h !== c.height) { plan.todo.push({ item: it, redo: `existing output is ${w}×${h} but the composite is ${c.width}×${c.height}` }); continue; }
    plan.done.push(it);
    plan.verified.push({ output: basename(it.output), ...facts, width: w, height: h, outputSize: bytes.length, outputSha256: sha256(bytes) });
  }
  return plan;
}

/** Harmonizes a list of items (resuming: see planBatch); returns per-image timings in item order. */
export async function harmonizeBatch(
  items: readonly BatchItem[],
  opts: Omit<HarmonizeOptions, 'composite' | 'mask' | 'format'> & { overwrite?: boolean; quiet?: boolean; continueOnError?: boolean; plan?: BatchPlan },
): Promise<BatchTiming[]> {
  const model = await resolveModel(opts.model, opts.stage);
  // temp files of a run that was killed mid-write (kill -9, power loss): never complete, remove them
  for (const dir of new Set(items.map((it) => dirname(it.output)))) {
    if (existsSync(dir)) {
      await removeStaleTempFiles(dir);
      await repairManifest(dir);
    }
  }
  const recipe = batchRecipe(opts);
  const plan = opts.plan ?? await planBatch(items, { overwrite: opts.overwrite, recipe });
  const redo = new Map(plan.todo.map((t) => [t.item, t.redo]));
  const verified = new Map(plan.verified.map((e) => [e.output, e]));
  const progress = new Progress('harmonize', items.length, { quiet: opts.quiet });
  const timings: BatchTiming[] = [];
  for (const it of items) {
    if (!redo.has(it)) {
      const v = verified.get(basename(it.output));
      if (v) appendManifest(it, v);
      timings.push({ name: it.name, ms: 0, stages: {}, skipped: true });
      progress.tick(1, 'skip');
      continue;
    }
    const t0 = performance.now();
    try {
      const facts = inputFacts(it);
      const r = await harmonizeWithReport({ ...opts, model: model ?? null, composite: it.composite, mask: it.mask, format: formatFromPath(it.output) });
      await writeFileAtomic(it.output, r.image);
      appendManifest(it, { output: basename(it.output), ...facts, width: r.width, height: r.height, outputSize: r.image.length, outputSha256: sha256(r.image), recipe });
      const why = redo.get(it);
      timings.push({ name: it.name, ms: performance.now() - t0, stages: r.timings, width: r.width, height: r.height, ...(why ? { redone: why } : {}) });
    } catch (err) {
      if (!opts.continueOnError || !(err instanceof HarmoniaError)) throw err;
      timings.push({ name: it.name, ms: performance.now() - t0, stages: {}, error: err.message });
    }
    progress.tick(1);
  }
  // a complete run leaves the manifest canonical (one line per output, sorted), whatever order and
  // interruptions the work went through: reruns after a kill end with the same bytes
  for (const dir of new Set(items.map((it) => dirname(it.output)))) await canonicalManifest(dir);
  progress.finish();
  return timings;
}

/** Rewrites a folder's manifest atomically with its last entry per output, sorted by output name. */
async function canonicalManifest(dir: string): Promise<void> {
  const entries = [...readManifest(dir).values()].sort((a, b) => (a.output < b.output ? -1 : a.output > b.output ? 1 : 0));
  if (entries.length === 0) return;
  const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
  let old = '';
  try { old = readFileSync(join(dir, MANIFEST_NAME), 'utf8'); } catch { /* none yet */ }
  if (old !== text) await writeFileAtomic(join(dir, MANIFEST_NAME), text);
}
