/**
 * Output-path safety: never overwrite an input, fail before a long computation when the output
 * cannot be written.
 */
import { statSync, accessSync, mkdirSync, constants, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalPath } from './output-safety.ts';
import { HarmoniaError } from '../errors.ts';
import { describeFsError, describeMkdirError } from './atomic.ts';

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

export { canonicalPath };

/**
 * Throws a HarmoniaError naming `output` when writing it would overwrite one of `inputs`: the same path
 * after resolving `.`/`..` and symbolic links, or (when both exist) the same file under another name
 * (hard link, case-insensitive file system), compared by device and inode. Call it before doing any work.
 */
export function assertNotSamePath(inputs: string | readonly string[], output: string, what = 'output'): void {
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  const out = canonicalPath(output);
  const outStat = statOrUndefined(out);
  for (const input of list) {
    const inp = canonicalPath(input);
    let same = inp === out;
    if (!same && outStat) {
      const inStat = statOrUndefined(inp);
      same = !!inStat && inStat.dev === outStat.dev && inStat.ino === outStat.ino;
    }
    if (same) {
      throw new HarmoniaError(`${what} is the same file as the input ${input}; refusing to overwrite an input (choose another ${what} path)`, { file: output });
    }
  }
}

/**
 * Checks, before any work, that `output` can be written: its folder exists (or is created with
 * `mkdir`), is a folder, and is writable; `output` itself is not a folder; and it is not one of
 * `inputs`. Throws a HarmoniaError naming `output` and the problem.
 */
export function assertWritableOutput(output: string, opts: { inputs?: readonly string[]; mkdir?: boolean; what?: string } = {}): void {
  const what = opts.what ?? 'output';
  const abs = canonicalPath(output);
  const dir = dirname(abs);
  if (opts.mkdir) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new HarmoniaError(`cannot create the ${what} folder ${dir}: ${describeMkdirError(dir, err)}`, { file: output, cause: err });
    }
  }
  const dst = statOrUndefined(dir);
  if (!dst) throw new HarmoniaError(`the ${what} folder ${dir} does not exist`, { file: output });
  if (!dst.isDirectory()) throw new HarmoniaError(`${dir} is not a folder`, { file: output });
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new HarmoniaError(`the ${what} folder ${dir} is not writable: ${describeFsError(err)}`, { file: output, cause: err });
  }
  if (statOrUndefined(abs)?.isDirectory()) throw new HarmoniaError(`${what} is a folder, not a file`, { file: output });
  if (opts.inputs) assertNotSamePath(opts.inputs, output, what);
}
