import { promises as fsp, writeFileSync, renameSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { HarmoniaError } from '../errors.ts';

let counter = 0;
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
}

/**
 * Writes `data` to `path` atomically: a temp file in the same folder, fsync'd, then renamed over
 * the target. A reader never sees a half-written file; on failure the temp file is removed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: { mkdir?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  if (opts.mkdir) await fsp.mkdir(dir, { recursive: true });
  const tmp = tempName(path);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'w');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw new HarmoniaError(`cannot write: ${describeFsError(err)}`, { file: path, cause: err });
  }
}

/** Synchronous twin of writeFileAtomic (for exit handlers and small JSON state files). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new HarmoniaError(`cannot write: ${describeFsError(err)}`, { file: path, cause: err });
  }
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
    default: return e?.message ?? String(err);
  }
}
