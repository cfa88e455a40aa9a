/**
 * Queue job names and where their outputs may go (docs/SERVICE.md § Job names; issue 28, fault 1).
 *
 * A job's name becomes part of the worker's output path (`<-o>/<name>.<ext>`, or `{name}` in a
 * template), and anyone who can write to Redis can put a job in a queue. So a name is checked twice,
 * with the same rule: at `enqueue` (before anything is added) and in the worker (before anything is
 * created or written):
 *
 * - a relative path of `/`-separated segments: never absolute, no drive letter (`C:`), no backslash;
 * - no `..` or `.` segment and no empty segment (`a//b`, a trailing `/`);
 * - no NUL or other control character; at most 1024 bytes, each segment at most 255 bytes.
 *
 * The worker then resolves the output path with symbolic links followed (util/output-safety.ts
 * canonicalPath) and refuses it unless it lies inside the output root: the `-o` folder, or for a
 * template the folder before its first placeholder. An output path that is itself a symbolic link is
 * refused too (the worker never writes through or replaces a link).
 */
import { lstatSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { canonicalPath, isInside } from '../util/output-safety.ts';

export const MAX_JOB_NAME_BYTES = 1024;
export const MAX_JOB_NAME_SEGMENT_BYTES = 255;

/** Why `name` is not an acceptable job name (a phrase after the name), or undefined when it is one. */
export function jobNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `is not a string (${name === null ? 'null' : typeof name})`;
  if (name === '') return 'is empty';
  if (Buffer.byteLength(name) > MAX_JOB_NAME_BYTES) return `is longer than ${MAX_JOB_NAME_BYTES} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character (NUL, tab, newline, …)';
  if (name.includes('\\')) return 'contains a backslash (separate folders with /)';
  if (name.startsWith('/')) return 'is an absolute path (a name is relative to the output folder)';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter (a name is relative to the output folder)';
  for (const seg of name.split('/')) {
    if (seg === '') return 'has an empty segment ("//", or a leading or trailing "/")';
    if (seg === '..') return 'has a ".." segment (it would leave the output folder)';
    if (seg === '.') return 'has a "." segment';
    if (Buffer.byteLength(seg) > MAX_JOB_NAME_SEGMENT_BYTES) return `has a segment longer than ${MAX_JOB_NAME_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** The rule in one line, for messages. */
export const JOB_NAME_RULE = 'a job name must be a relative path inside the output folder: no "..", ".", empty or absolute part, no backslash, drive letter or control character';

/** Checks a job name; `where` names its origin ("line 3", a file). Returns the name. */
export function checkJobName(name: unknown, where: string, opts: { file?: string } = {}): string {
  const problem = jobNameProblem(name);
  if (problem) throw new HarmoniaError(`${where}: the job name ${JSON.stringify(name)} ${problem}; ${JOB_NAME_RULE}`, opts.file ? { file: opts.file } : {});
  return name as string;
}

/**
 * The folder every output of a worker must stay inside: the `-o` folder, or for a template the
 * folder before its first placeholder (`/shared/out/{name}.{ext}` → `/shared/out`,
 * `/shared/out/img-{name}.{ext}` → `/shared/out`).
 */
export function outputRoot(output: string): string {
  const i = output.indexOf('{');
  if (i < 0) return resolve(output);
  const prefix = output.slice(0, i);
  if (prefix === '') return resolve('.');
  return resolve(prefix.endsWith('/') || prefix.endsWith(sep) ? prefix : dirname(prefix));
}

/**
 * Refuses an output path (absolute, already built from a checked name) that leaves the output root
 * once symbolic links are followed, that is the root itself, or that is a symbolic link.
 */
export function checkConfinedOutput(out: string, output: string, jobName: string): void {
  const root = canonicalPath(outputRoot(output));
  const canon = canonicalPath(out);
  if (canon === root || !isInside(canon, root)) {
    throw new HarmoniaError(`-o ${output}: the output of job ${JSON.stringify(jobName)} resolves to ${canon}, outside ${root} (through a symbolic link or the template); refusing to write it`);
  }
  let isLink = false;
  try {
    isLink = lstatSync(out).isSymbolicLink();
  } catch {
    /* not there yet */
  }
  if (isLink) throw new HarmoniaError(`-o ${output}: the output ${out} of job ${JSON.stringify(jobName)} is a symbolic link; the worker never writes through or replaces a link (remove it)`);
}
