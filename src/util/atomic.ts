import { promises as fsp, openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, mkdirSync, statSync, chmodSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { HarmoniaError } from '../errors.ts';

let counter = 0;
/** Temp files are `.<name>.<pid>.<time>.<n>.tmp` beside the target (same file system, so rename is atomic). */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
}

/** Matches the temp files written by writeFileAtomic(Sync); group 1 is the writer's pid. */
export const TEMP_FILE_PATTERN = /^\..+\.(\d+)\.\d+\.\d+\.tmp$/;

/** Data for writeFileAtomic: bytes, text, or chunks produced while writing (streamed, never held whole). */
export type AtomicData = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Keeps the permission bits of a file being replaced (a fresh temp file would otherwise get 0666 & ~umask). */
async function copyMode(from: string, to: string): Promise<void> {
  try {
    const st = await fsp.stat(from);
    if (st.isFile()) await fsp.chmod(to, st.mode & 0o7777);
  } catch {
    /* target does not exist yet: keep the default mode */
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable; not supported everywhere (e.g. some network file systems), so best effort.
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Writes `data` to `path` atomically: a temp file in the same folder (created exclusively), fsync'd,
 * then renamed over the target. A reader never sees a half-written file, and an existing file at
 * `path` is untouched unless the whole write succeeded. On any failure (including an error thrown by
 * a chunk iterator midway) the temp file is removed and a HarmoniaError naming `path` is thrown.
 */
export async function writeFileAtomic(path: string, data: AtomicData, opts: { mkdir?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  if (opts.mkdir) {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new HarmoniaError(`cannot create folder ${dir}: ${describeMkdirError(dir, err)}`, { file: path, cause: err });
    }
  }
  const tmp = tempName(path);
  let fh: fsp.FileHandle | undefined;
  let created = false;
  try {
    fh = await fsp.open(tmp, 'wx');
    created = true;
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await fh.writeFile(data);
    } else {
      for await (const chunk of data) {
        if (!(chunk instanceof Uint8Array)) throw new HarmoniaError('writeFileAtomic: chunks must be Uint8Array');
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      }
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await copyMode(path, tmp);
    await fsp.rename(tmp, path);
    created = false;
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    throw new HarmoniaError(`cannot write: ${describeFsError(err)}`, { file: path, cause: err });
  }
  await syncDir(dir);
}

/** Synchronous twin of writeFileAtomic (for exit handlers and small JSON state files). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw new HarmoniaError(`cannot create folder ${dirname(path)}: ${describeMkdirError(dirname(path), err)}`, { file: path, cause: err });
    }
  }
  const tmp = tempName(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx');
    created = true;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    try {
      const st = statSync(path);
      if (st.isFile()) chmodSync(tmp, st.mode & 0o7777);
    } catch {
      /* new file */
    }
    renameSync(tmp, path);
    created = false;
  } catch (err) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already closed */ }
    if (created) try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new HarmoniaError(`cannot write: ${describeFsError(err)}`, { file: path, cause: err });
  }
}

/** Whether process `pid` exists on this machine (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files left in `dir` by writers that were killed mid-write (kill -9, power loss): files
 * matching TEMP_FILE_PATTERN whose writer process is gone, or that are older than `olderThanMs`
 * (default 1 hour) regardless. Never touches other files. Returns the removed names.
 */
export async function removeStaleTempFiles(dir: string, opts: { olderThanMs?: number } = {}): Promise<string[]> {
  const olderThan = opts.olderThanMs ?? 3_600_000;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    throw new HarmoniaError(`cannot list folder: ${describeFsError(err)}`, { file: dir, cause: err });
  }
  const removed: string[] = [];
  for (const name of names.sort()) {
    const m = TEMP_FILE_PATTERN.exec(name);
    if (!m) continue;
    const p = join(dir, name);
    try {
      const st = await fsp.stat(p);
      if (!st.isFile()) continue;
      const stale = !pidAlive(Number(m[1])) || Date.now() - st.mtimeMs > olderThan;
      if (!stale) continue;
      await fsp.unlink(p);
      removed.push(name);
    } catch {
      /* raced with another cleaner or the writer: leave it */
    }
  }
  return removed;
}

/**
 * Why `mkdir -p dir` failed, in words: when a path component exists but is a file (EEXIST / ENOTDIR),
 * names that file instead of the bare "already exists".
 */
export function describeMkdirError(dir: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    let cur = dir;
    for (;;) {
      try {
        if (!statSync(cur).isDirectory()) return `${cur} is a file, not a folder`;
        break;
      } catch {
        const parent = dirname(cur);
        if (parent === cur) break;
        cur = parent;
      }
    }
  }
  return describeFsError(err);
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT': return 'no such file or folder';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'EISDIR': return 'is a folder, not a file';
    case 'ENOTDIR': return 'a path component is not a folder';
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EFBIG': return 'file too large';
    case 'ENAMETOOLONG': return 'file name too long';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'EMFILE': case 'ENFILE': return 'too many open files';
    case 'EEXIST': return 'already exists';
    case 'EIO': return 'input/output error';
    case 'ERR_INVALID_ARG_VALUE': case 'ERR_INVALID_ARG_TYPE': return 'invalid path (contains a NUL byte or is not a string)';
    default: return e?.message ?? String(err);
  }
}

const heldLocks = new Map<string, number>();
let exitHookInstalled = false;

/**
 * Takes the lock file `path` (the holder's pid, created exclusively) for one writer: a second process
 * is refused with `busy(pid)` (a HarmoniaError naming `path`); a lock whose process is gone (kill -9)
 * is taken over. Re-entrant within one process (counted). The returned function releases it; locks
 * still held when the process exits are removed then.
 */
export function acquireLock(path: string, busy: (pid: number | undefined) => string): () => void {
  const held = heldLocks.get(path);
  if (held !== undefined) {
    heldLocks.set(path, held + 1);
    return once(() => release(path));
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      heldLocks.set(path, 1);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => { for (const p of heldLocks.keys()) try { unlinkSync(p); } catch { /* gone */ } });
      }
      return once(() => release(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new HarmoniaError(`cannot create the lock: ${describeFsError(err)}`, { file: path, cause: err });
    }
    let pid = NaN;
    try { pid = Number(readFileSyncText(path).trim()); } catch { /* removed meanwhile */ }
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw new HarmoniaError(busy(pid), { file: path });
    if (!(Number.isSafeInteger(pid) && pid > 0)) {
      // no pid yet: a writer that has just created it (between its open and its write), unless it is old
      let young = false;
      try { young = Date.now() - statSync(path).mtimeMs < 10_000; } catch { /* removed meanwhile */ }
      if (young) throw new HarmoniaError(busy(undefined), { file: path });
    }
    try { unlinkSync(path); } catch { /* removed meanwhile */ } // left by a killed process (or written half by one)
  }
  throw new HarmoniaError('cannot take the lock (it keeps reappearing)', { file: path });
}

function release(path: string): void {
  const n = heldLocks.get(path);
  if (n === undefined) return;
  if (n > 1) { heldLocks.set(path, n - 1); return; }
  heldLocks.delete(path);
  try { unlinkSync(path); } catch { /* already gone */ }
}

function once(f: () => void): () => void {
  let done = false;
  return () => { if (!done) { done = true; f(); } };
}

function readFileSyncText(p: string): string {
  return readFileSync(p, 'utf8');
}
