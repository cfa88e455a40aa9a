/**
 * The one output-safety rule (issue 17), checked before any compute by every command that writes:
 *
 * - An output (file, folder, report, intermediates, cache) never resolves to an input, a mask, or a
 *   file inside an input folder: compared after resolving `.`/`..` and symbolic links, and, for files
 *   that exist, by device + inode (hard links).
 * - An output folder is never an input folder, nor inside one.
 * - Two outputs of one command are never the same file.
 * - An existing read-only output is refused unless `overwrite` is set; even then it is never chmod-ed
 *   (atomic writes replace the directory entry and keep its permission bits).
 * - The output's folder exists (or can be created when `mkdir` is allowed: its nearest existing
 *   ancestor is a writable folder), an existing output file is a regular file (never a device node,
 *   FIFO or socket, even with `overwrite`), an existing output folder is a folder.
 * - Never a file of a project artifact the command is not rebuilding (issue 28): a model folder
 *   (model.json, weights.bin or harmonia.json), a dataset (IHD_*.txt lists, or a subset with
 *   composite_images/ and masks/, or a `build.json` of src/data/atomic-subset.ts) or a training run
 *   folder (log.jsonl, checkpoint/state.json, or config.json with generator/): its own files and, for a
 *   run, its checkpoint/, generator/ and samples/. An output that rebuilds one names it (`rebuilds`).
 * - The extension matches the format written (`ext`).
 *
 * Pure node:fs (util is the bottom layer): no import from image/ or higher. Errors are HarmoniaError
 * naming the path and the flag as the user typed it.
 */
import { accessSync, constants, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { HarmoniaError } from '../errors.ts';

export type PathKind = 'file' | 'folder';

export interface SafetyInput {
  path: string;
  /** What the input is, in words, for messages: "composite", "mask folder", "dataset". */
  what: string;
  /** 'folder': no output may be inside it. Default: taken from the file system ('file' when missing). */
  kind?: PathKind;
}

export interface SafetyOutput {
  path: string;
  /** The flag as the user typed it (`-o`, `--report`, `--intermediates`); or a phrase for files inside one. */
  flag: string;
  kind: PathKind;
  /** Missing parent folders (or the folder itself, for a folder output) may be created by prepareOutputs. */
  mkdir?: boolean;
  /**
   * The artifact folder this output (re)builds: artifacts inside `path` may be written, and `path`
   * itself when it is one of `kinds` (a train run folder is a 'run', train-light's folder a 'model', a
   * dataset writer's --out a 'dataset').
   */
  rebuilds?: { path: string; kinds: readonly ArtifactKind[] };
  /** What to do instead, in refusals (default: "choose another <flag>"), for outputs whose path the user does not type. */
  hint?: string;
  /** Accepted extensions (lower case, with the dot) and the format's name, for files: `{ list: ['.onnx'], format: 'ONNX' }`. */
  ext?: { list: readonly string[]; format: string };
}

/** The kinds of folder the project builds and the output rule protects. */
export type ArtifactKind = 'model' | 'dataset' | 'run';

export interface Artifact {
  kind: ArtifactKind;
  /** The artifact's folder (canonical). */
  dir: string;
  /** The marker that identified it, for messages ("model.json"). */
  marker: string;
}

/** The parts of a run folder that belong to the run (besides its own files): an output in them is a file of the run. */
export const RUN_PARTS: readonly string[] = ['checkpoint', '.checkpoint.old', 'generator', 'samples'];

const isFileAt = (p: string): boolean => { try { return statSync(p).isFile(); } catch { return false; } };
const isDirAt = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };

/**
 * What project artifact `dir` is, from its marker files, or undefined: a model folder (model.json,
 * weights.bin or harmonia.json), a training run folder (log.jsonl, checkpoint/state.json, or
 * config.json + generator/), a dataset (IHD_train.txt / IHD_test.txt, a subset's composite_images/
 * + masks/, or the build.json of a subset built by Harmonia).
 */
export function artifactAt(dir: string): Artifact | undefined {
  const has = (m: string): boolean => isFileAt(join(dir, m));
  // model files at the top make a model folder (a run keeps its models in generator/ and checkpoint/)
  for (const m of ['model.json', 'weights.bin', 'harmonia.json']) if (has(m)) return { kind: 'model', dir, marker: m };
  if (has('log.jsonl')) return { kind: 'run', dir, marker: 'log.jsonl' };
  if (has(join('checkpoint', 'state.json'))) return { kind: 'run', dir, marker: 'checkpoint/state.json' };
  if (has('config.json') && isDirAt(join(dir, 'generator'))) return { kind: 'run', dir, marker: 'config.json + generator/' };
  for (const m of ['IHD_train.txt', 'IHD_test.txt', 'build.json']) if (has(m)) return { kind: 'dataset', dir, marker: m };
  if (isDirAt(join(dir, 'composite_images')) && isDirAt(join(dir, 'masks'))) return { kind: 'dataset', dir, marker: 'composite_images/ + masks/' };
  return undefined;
}

const ARTICLE: Record<ArtifactKind, string> = { model: 'a model folder', dataset: 'a dataset', run: 'a training run folder' };

/**
 * The artifact whose file (or folder) the canonical path `canon` would be, or undefined: the nearest
 * existing ancestors (and `canon` itself for a folder) are looked at; for a run only its own files and
 * RUN_PARTS count (a new subfolder of a run, `run/eval`, is not the run's). `cache` memoises artifactAt.
 */
export function owningArtifact(canon: string, kind: PathKind, cache: Map<string, Artifact | undefined> = new Map(), rebuilds?: SafetyOutput['rebuilds']): Artifact | undefined {
  const rb = rebuilds ? canonicalPath(rebuilds.path) : undefined;
  let cur = kind === 'folder' ? canon : dirname(canon);
  for (;;) {
    if (isDirAt(cur)) {
      let a = cache.get(cur);
      if (!cache.has(cur)) { a = artifactAt(cur); cache.set(cur, a); }
      if (a) {
        const rel = canon === cur ? '' : canon.slice(cur.length + (cur.endsWith(sep) ? 0 : 1));
        const parts = rel === '' ? [] : rel.split(sep);
        const ownsIt = a.kind !== 'run' || parts.length === 0 || RUN_PARTS.includes(parts[0]) || (parts.length === 1 && kind === 'file');
        const exempt = !!rb && !!rebuilds && isInside(cur, rb) && (cur !== rb || rebuilds.kinds.includes(a.kind));
        if (ownsIt && !exempt) return a;
      }
    }
    const up = dirname(cur);
    if (up === cur) return undefined;
    cur = up;
  }
}


export interface SafetyOptions {
  /** Replace existing read-only output files (never chmod-ed). Default false. */
  overwrite?: boolean;
  /** The flag that allows it, named in the refusal (default `--overwrite`). */
  overwriteFlag?: string;
  /** What to do about a read-only output, for writers that never replace one (no such flag); replaces "pass --overwrite …". */
  readOnlyHint?: string;
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function checkPathString(p: unknown, flag: string): asserts p is string {
  if (typeof p !== 'string' || p === '' || p.includes('\0')) {
    throw new HarmoniaError(`${flag}: invalid path ${JSON.stringify(p)}: must be a non-empty string without NUL bytes`);
  }
}

/**
 * The canonical absolute form of `p`: symbolic links resolved. For a path that does not exist yet,
 * the deepest existing ancestor is resolved and the rest appended (so `out/../a.png` and a link to
 * the folder of `a.png` both compare equal to `a.png`). A dangling symbolic link resolves to its target.
 */
export function canonicalPath(p: string): string {
  checkPathString(p, 'path');
  const abs = resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (let hops = 0; ; ) {
    try {
      const real = realpathSync(cur);
      return rest.length ? join(real, ...rest.slice().reverse()) : real;
    } catch {
      // a dangling symlink: follow it by hand (bounded), so writing through it is seen as writing its target
      try {
        if (hops < 32 && lstatSync(cur).isSymbolicLink()) {
          hops++;
          const target = readlinkSafe(cur);
          if (target !== undefined) {
            cur = resolve(dirname(cur), target);
            continue;
          }
        }
      } catch {
        /* not there at all */
      }
      const parent = dirname(cur);
      if (parent === cur) return abs;
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

function readlinkSafe(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** True when `child` (canonical) is `parent` (canonical) or inside it. */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const p = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(p);
}

/** Finds a file under `dir` (recursively, at most `limit` entries) with the given device + inode. */
function findInode(dir: string, dev: number, ino: number, limit = 200_000): string | undefined {
  const stack = [dir];
  let seen = 0;
  while (stack.length) {
    const d = stack.pop() as string;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (++seen > limit) return undefined;
      const p = join(d, n);
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) stack.push(p);
      else if (st.isFile() && st.dev === dev && st.ino === ino) return p;
    }
  }
  return undefined;
}

interface ResolvedInput { input: SafetyInput; canon: string; stat?: Stats; kind: PathKind }

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  return (e as Error)?.message ?? String(e);
}

/** The nearest existing ancestor of `abs` (itself excluded) and whether each step up was missing. */
function nearestExisting(abs: string): { dir: string; stat: Stats } | undefined {
  let cur = dirname(abs);
  for (;;) {
    const st = statOrUndefined(cur);
    if (st) return { dir: cur, stat: st };
    const parent = dirname(cur);
    if (parent === cur) return undefined;
    cur = parent;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isReadOnly(p: string, st: Stats): boolean {
  if ((st.mode & 0o222) === 0) return true; // no write bit for anyone (root would otherwise ignore it)
  try {
    accessSync(p, constants.W_OK);
    return false;
  } catch {
    return true;
  }
}

/**
 * Checks every output against every input and against each other. Call it before any compute;
 * it creates nothing. Throws a HarmoniaError `<path>: <flag> <problem>` on the first violation.
 */
export function checkOutputs(inputs: readonly SafetyInput[], outputs: readonly SafetyOutput[], opts: SafetyOptions = {}): void {
  const resolved: ResolvedInput[] = inputs.map((input) => {
    checkPathString(input.path, input.what);
    const canon = canonicalPath(input.path);
    const stat = statOrUndefined(canon);
    return { input, canon, stat, kind: input.kind ?? (stat?.isDirectory() ? 'folder' : 'file') };
  });
  const seen = new Map<string, SafetyOutput>();
  const artifacts = new Map<string, Artifact | undefined>();
  for (const out of outputs) {
    checkPathString(out.path, out.flag);
    const fail = (problem: string): never => { throw new HarmoniaError(`${out.flag} ${problem}`, { file: out.path }); };
    const another = out.hint ?? `choose another ${out.flag}`;
    const canon = canonicalPath(out.path);
    const st = statOrUndefined(canon);
    // 1. never an input
    for (const r of resolved) {
      if (r.kind === 'folder') {
        if (isInside(canon, r.canon) || (st && r.stat && st.dev === r.stat.dev && st.ino === r.stat.ino)) {
          fail(canon === r.canon || (st && r.stat && st.ino === r.stat.ino && st.dev === r.stat.dev)
            ? `is the ${r.input.what} ${r.input.path}; refusing to write into an input folder (${another})`
            : `is inside the ${r.input.what} ${r.input.path}; refusing to write into an input folder (${another})`);
        }
        if (st && st.isFile() && st.nlink > 1 && r.stat?.isDirectory()) {
          const hit = findInode(r.canon, st.dev, st.ino);
          if (hit) fail(`is a hard link to ${hit} in the ${r.input.what} ${r.input.path}; refusing to overwrite an input (${another})`);
        }
      } else {
        const same = canon === r.canon || (!!st && !!r.stat && st.dev === r.stat.dev && st.ino === r.stat.ino);
        if (same) fail(`is the same file as the input ${r.input.what} ${r.input.path}; refusing to overwrite an input (${another})`);
      }
    }
    // 1b. never a file of a model, dataset or run this output does not rebuild
    const owner = owningArtifact(canon, out.kind, artifacts, out.rebuilds);
    if (owner) {
      fail(canon === owner.dir
        ? `is ${ARTICLE[owner.kind]} (${owner.dir} has ${owner.marker}); refusing to write into it (${another})`
        : `is inside ${ARTICLE[owner.kind]}, ${owner.dir} (it has ${owner.marker}); refusing to write over its files (${another})`);
    }
    // 2. never two outputs on one file
    const prev = seen.get(canon);
    if (prev) fail(`is the same path as ${prev.flag} ${prev.path}; give each output its own path`);
    seen.set(canon, out);
    // 2b. the extension matches the format written
    if (out.ext && out.kind === 'file') {
      const e = extname(out.path).toLowerCase();
      if (!out.ext.list.includes(e)) fail(`must end in ${out.ext.list.join(' or ')} (it is written as ${out.ext.format}), got ${e ? `"${e}"` : 'no extension'}`);
    }
    // 3. the thing itself
    if (st) {
      if (out.kind === 'file') {
        if (st.isDirectory()) fail('is a folder, not a file');
        if (!st.isFile()) fail('exists and is not a regular file (device, FIFO or socket); refusing to replace it');
        if (isReadOnly(canon, st) && !opts.overwrite) {
          fail(`exists and is read-only; refusing to replace it (${opts.readOnlyHint ?? `pass ${opts.overwriteFlag ?? '--overwrite'} to replace it; its permissions are kept`})`);
        }
      } else {
        if (!st.isDirectory()) fail(st.isFile() ? 'is a file, not a folder' : 'is a device, FIFO or socket, not a folder');
        if (!writable(canon)) fail('is a folder that is not writable (permission denied)');
        continue;
      }
    }
    // 4. its folder
    const parent = dirname(canon);
    const pst = statOrUndefined(parent);
    if (pst) {
      if (!pst.isDirectory()) fail(`cannot be written: ${parent} is ${pst.isFile() ? 'a file' : 'a device, FIFO or socket'}, not a folder`);
      if (!writable(parent)) fail(`cannot be written: the folder ${parent} is not writable (permission denied)`);
      continue;
    }
    const near = nearestExisting(canon);
    if (!near) fail('has no existing ancestor folder');
    const { dir, stat } = near as { dir: string; stat: Stats };
    if (!stat.isDirectory()) fail(`cannot be written: ${dir} is ${stat.isFile() ? 'a file' : 'a device, FIFO or socket'}, not a folder`);
    if (!out.mkdir) fail(`cannot be written: the folder ${parent} does not exist (create it first)`);
    if (!writable(dir)) fail(`cannot be written: cannot create ${parent}: the folder ${dir} is not writable (permission denied)`);
  }
}

/**
 * The first read-only regular file or not-writable folder under `dir` (walked in name order, symbolic
 * links not followed), or undefined (also when `dir` does not exist): for outputs that are whole folders
 * of files the command rewrites (a dataset subset).
 */
export function firstReadOnlyFile(dir: string): string | undefined {
  let names: string[];
  try { names = readdirSync(dir).sort(); } catch { return undefined; }
  for (const n of names) {
    const p = join(dir, n);
    let st: Stats;
    try { st = lstatSync(p); } catch { continue; }
    if (st.isDirectory()) {
      if (!writable(p) || (st.mode & 0o222) === 0) return p;
      const hit = firstReadOnlyFile(p);
      if (hit) return hit;
    } else if (st.isFile() && isReadOnly(p, st)) {
      return p;
    }
  }
  return undefined;
}

/** Creates the folders the outputs need (after checkOutputs passed). Errors name the flag. */
export function prepareOutputs(outputs: readonly SafetyOutput[]): void {
  for (const out of outputs) {
    if (!out.mkdir) continue;
    const dir = out.kind === 'folder' ? out.path : dirname(out.path);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new HarmoniaError(`${out.flag}: cannot create the folder ${dir}: ${describe(e)}`, { file: out.path, cause: e });
    }
  }
}

/** checkOutputs, then prepareOutputs. */
export function assertSafeOutputs(inputs: readonly SafetyInput[], outputs: readonly SafetyOutput[], opts: SafetyOptions = {}): void {
  checkOutputs(inputs, outputs, opts);
  prepareOutputs(outputs);
}
