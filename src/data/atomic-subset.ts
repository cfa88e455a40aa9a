/**
 * Datasets built atomically (issue 17), for every dataset writer (make-composites, make-procedural):
 * a subset `<out>/<subset>/` is built in `<out>/.<subset>.building/` and renamed into place only when
 * complete (its files, its `<subset>_{train,test}.txt` lists and `build.json` inside); `<out>/IHD_*.txt`
 * are updated after that.
 *
 * - `build.json` holds the recipe (the options that decide the files' contents). A staging folder of the
 *   same recipe left by a killed run is finished; one of another recipe is removed (the run starts
 *   cleanly). A complete subset in place with the same recipe is hard-linked into the staging folder and
 *   its files are reused; with another recipe (or none: built by an older version) nothing is reused.
 * - The swap: `<subset>` → `.<subset>.replaced`, `.building` → `<subset>`, the old copy removed. A run
 *   killed between the two renames is finished by the next one (or the old copy restored when there is
 *   nothing to finish).
 * - `<out>/.<subset>.lock` (the builder's pid, created exclusively) refuses a second build of the same
 *   subset into the same folder while the first runs; a lock whose process is gone is taken over.
 * - A subset in place holding a read-only file is refused before anything is written unless
 *   `overwrite` is set (its files are replaced or removed by the swap; reused ones keep their mode).
 * - A run that stops on an error (bad input, disk full) removes its staging folder and the `--out`
 *   folders it created: the subset that was there stays byte-identical; a kill leaves the staging
 *   folder for the next run.
 * - A folder Harmonia did not build is never replaced or deleted (issue 28): `<out>/<subset>` in place
 *   without a `build.json` holding a recipe (the project's own marker, written into every subset built
 *   here) is refused, even with `overwrite`, unless it is empty; so is a file of that name.
 */
import { promises as fsp, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, removeStaleTempFiles, describeFsError, TEMP_FILE_PATTERN } from '../util/atomic.ts';
import { firstReadOnlyFile } from '../util/output-safety.ts';
import { writeSubsetListFiles, updateIhdLists } from './iharmony4.ts';

/** Staging and swap folders and the lock of a subset build, beside the subset: `.<subset>.building`, `.<subset>.replaced`, `.<subset>.lock`. */
export const DATASET_TEMP_DIR_PATTERN = /^\.[^/\\]+\.(building|replaced|lock)$/;

/** The recipe file kept in a built subset. */
export const BUILD_FILE = 'build.json';

export interface SubsetBuildResult<T> {
  /** Composite file names per split: written to `<subset>_{train,test}.txt` and the IHD lists. */
  names: { train: string[]; test: string[] };
  result: T;
}

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

async function readRecipe(dir: string): Promise<string | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(join(dir, BUILD_FILE), 'utf8')) as { recipe?: unknown };
    return typeof v.recipe === 'string' ? v.recipe : undefined;
  } catch {
    return undefined;
  }
}

/** Hard-links (or copies, where links are not possible) every file of `src` into `dst`; existing files and temp files are skipped. */
async function linkTree(src: string, dst: string): Promise<void> {
  await fsp.mkdir(dst, { recursive: true });
  for (const ent of await fsp.readdir(src, { withFileTypes: true })) {
    const a = join(src, ent.name), b = join(dst, ent.name);
    if (ent.isDirectory()) { await linkTree(a, b); continue; }
    if (!ent.isFile() || TEMP_FILE_PATTERN.test(ent.name)) continue;
    try {
      await fsp.link(a, b);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      await fsp.copyFile(a, b, 1 /* COPYFILE_EXCL */).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
    }
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function lockSubset(outDir: string, subset: string, tool: string): Promise<() => Promise<void>> {
  const p = join(outDir, `.${subset}.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(p, `${process.pid}\n`, { flag: 'wx' });
      return async () => { await fsp.rm(p, { force: true }); };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new HarmoniaError(`cannot create the build lock: ${describeFsError(err)}`, { file: p, cause: err });
    }
    const pid = Number((await fsp.readFile(p, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pidAlive(pid)) {
      throw new HarmoniaError(`another ${tool} (pid ${pid}) is building the subset "${subset}" here; wait for it to finish (or delete ${p} if that process is not ${tool})`, { file: outDir });
    }
    await fsp.rm(p, { force: true }); // left by a killed run
  }
  throw new HarmoniaError('cannot take the build lock (it keeps reappearing)', { file: p });
}

/** Removes the previous copy of a swapped subset; a failure (a folder in it not writable) names the folder. */
async function removeReplaced(replaced: string): Promise<void> {
  try {
    await fsp.rm(replaced, { recursive: true, force: true });
  } catch (err) {
    throw new HarmoniaError(`cannot remove the previous copy of the subset: ${describeFsError(err)} (remove it by hand; the new subset is in place)`, { file: replaced, cause: err });
  }
}

async function syncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r').catch(() => undefined);
  if (!h) return;
  await h.sync().catch(() => undefined);
  await h.close();
}

/** The recipe in `<dir>/build.json`, read synchronously, or undefined (no such file, not ours). */
function readRecipeSync(dir: string): string | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, BUILD_FILE), 'utf8')) as { recipe?: unknown };
    return typeof v.recipe === 'string' ? v.recipe : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `<outDir>/<subset>` may be replaced by a build, checked before any work (the dataset
 * writers' CLI commands call it while validating, buildSubsetAtomically again): a subset in place must
 * be one Harmonia built (its build.json), or an empty folder; without `overwrite` it holds no
 * read-only file. Throws a HarmoniaError naming the folder or file and `--out` / `--subset`.
 */
export function checkSubsetReplaceable(outDir: string, subset: string, opts: { overwrite?: boolean } = {}): void {
  const final = join(outDir, subset);
  let st;
  try { st = statSync(final); } catch { return; }
  if (!st.isDirectory()) throw new HarmoniaError(`--out: ${subset} there is a file, not a subset folder; refusing to replace it (choose another --out or --subset)`, { file: final });
  let names: string[];
  try { names = readdirSync(final); } catch (err) { throw new HarmoniaError(`--out: cannot list the subset folder: ${describeFsError(err)}`, { file: final, cause: err }); }
  if (names.length > 0 && readRecipeSync(final) === undefined) {
    throw new HarmoniaError(`--out: the subset folder ${subset} was not built by Harmonia (it has no ${BUILD_FILE}); refusing to replace or delete it, even with --overwrite (move it away, or choose another --out or --subset)`, { file: final });
  }
  if (!opts.overwrite) {
    const ro = firstReadOnlyFile(final);
    if (ro) throw new HarmoniaError(`--out (${relative(outDir, ro)}) exists and is read-only; refusing to rebuild the subset over it (pass --overwrite to rebuild it anyway; files reused keep their permissions)`, { file: ro });
  }
}

/**
 * Builds `<outDir>/<subset>` atomically (see the file comment). `build(stage)` writes or finishes the
 * subset's files inside `stage` (reusing what is there: same recipe) and removes those it does not
 * name; this function writes the lists, swaps the folder in and updates the IHD lists.
 */
export async function buildSubsetAtomically<T>(
  outDir: string,
  subset: string,
  recipe: string,
  tool: string,
  build: (stage: string) => Promise<SubsetBuildResult<T>>,
  opts: { overwrite?: boolean } = {},
): Promise<T> {
  const final = join(outDir, subset);
  const stage = join(outDir, `.${subset}.building`);
  const replaced = join(outDir, `.${subset}.replaced`);
  checkSubsetReplaceable(outDir, subset, opts);
  let createdOut: string | undefined;
  try {
    createdOut = await fsp.mkdir(outDir, { recursive: true });
  } catch (err) {
    throw new HarmoniaError(`cannot create the output folder: ${describeFsError(err)}`, { file: outDir, cause: err });
  }
  let unlock: (() => Promise<void>) | undefined;
  try {
    unlock = await lockSubset(outDir, subset, tool);
    // a swap killed between its two renames: the staging folder is complete and is finished below
    if (await exists(replaced)) {
      if (!(await exists(final)) && !(await exists(stage))) await fsp.rename(replaced, final);
      else await removeReplaced(replaced);
    }
    if (await exists(stage) && (await readRecipe(stage)) !== recipe) await fsp.rm(stage, { recursive: true, force: true }); // another recipe: start cleanly
    if (!(await exists(stage))) {
      await fsp.mkdir(stage, { recursive: true });
      await writeFileAtomic(join(stage, BUILD_FILE), `${JSON.stringify({ recipe }, null, 1)}\n`);
      if (await exists(final) && (await readRecipe(final)) === recipe) await linkTree(final, stage);
    }
    await removeStaleTempFiles(outDir);
    const { names, result } = await build(stage);
    await writeSubsetListFiles(stage, subset, names);
    await syncDir(stage);
    if (await exists(final)) await fsp.rename(final, replaced);
    await fsp.rename(stage, final);
    await syncDir(outDir);
    await removeReplaced(replaced);
    await updateIhdLists(outDir, subset, names);
    await unlock();
    return result;
  } catch (err) {
    if (unlock) {
      await fsp.rm(stage, { recursive: true, force: true }).catch(() => undefined);
      await unlock().catch(() => undefined);
    }
    if (createdOut !== undefined) {
      for (let d = outDir; ; d = dirname(d)) {
        try { await fsp.rmdir(d); } catch { break; }
        if (d === createdOut || dirname(d) === d) break;
      }
    }
    throw err;
  }
}

/** Removes every entry of `dir` whose name `keep` does not accept (orphans of killed or earlier runs). */
export async function pruneFolder(dir: string, keep: (name: string) => boolean): Promise<void> {
  let names: string[];
  try { names = await fsp.readdir(dir); } catch { return; }
  for (const n of names) if (!keep(n)) await fsp.rm(join(dir, n), { recursive: true, force: true });
}
