import { after } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The shared data folder (../shared beside the repository), or HARMONIA_SHARED. */
export const SHARED = process.env.HARMONIA_SHARED ?? resolve(new URL('../..', import.meta.url).pathname, 'shared');

export function sharedAvailable(): boolean {
  return existsSync(resolve(SHARED, 'data'));
}

/** Skip reason for tests needing ../shared, or false when it is there. */
export function needsShared(): string | false {
  return sharedAvailable() ? false : `skipped: shared data not found at ${SHARED} (set HARMONIA_SHARED)`;
}

/**
 * Returns `tempDir(prefix)`: a fresh temp folder per call, all removed when the calling test file ends.
 * Call it once at the top level of a test file.
 */
export function tempDirFactory(): (prefix: string) => string {
  const temps: string[] = [];
  after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });
  return (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    temps.push(d);
    return d;
  };
}
