/** Helpers for tests that compare against the Python/numpy/torch references in test/reference/. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const REFERENCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'reference');

function probe(mod: string): boolean {
  const r = spawnSync(PYTHON, ['-c', `import ${mod}`], { stdio: 'ignore' });
  return r.status === 0;
}

let numpyOk: boolean | undefined;
let torchOk: boolean | undefined;

/** Skip reason for tests needing numpy, or false when it is importable. */
export function needsNumpy(): string | false {
  numpyOk ??= probe('numpy');
  return numpyOk ? false : `skipped: ${PYTHON} -c "import numpy" failed (install python3-numpy)`;
}

/** Skip reason for tests needing PyTorch, or false when it is importable. */
export function needsTorch(): string | false {
  torchOk ??= probe('torch');
  return torchOk ? false : `skipped: ${PYTHON} -c "import torch" failed (install python3-torch)`;
}

/** Runs a reference script; returns stdout, throws with stderr on failure. */
export function runPython(script: string, args: string[], timeoutMs = 120_000): string {
  const r = spawnSync(PYTHON, [join(REFERENCE_DIR, script), ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} failed (status ${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}
