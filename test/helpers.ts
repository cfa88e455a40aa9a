import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared data folder (../shared beside the repository), or HARMONIA_SHARED. */
export const SHARED = process.env.HARMONIA_SHARED ?? resolve(new URL('../..', import.meta.url).pathname, 'shared');

export function sharedAvailable(): boolean {
  return existsSync(resolve(SHARED, 'data'));
}

/** Skip reason for tests needing ../shared, or false when it is there. */
export function needsShared(): string | false {
  return sharedAvailable() ? false : `skipped: shared data not found at ${SHARED} (set HARMONIA_SHARED)`;
}
