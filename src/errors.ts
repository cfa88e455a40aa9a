/**
 * One error type for everything a user can get wrong: bad files, bad arguments, bad data.
 * The CLI prints `message` (never a stack trace) and exits with `exitCode`.
 */
export class HarmoniaError extends Error {
  readonly file?: string;
  readonly exitCode: number;
  constructor(message: string, options: { file?: string; cause?: unknown; exitCode?: number } = {}) {
    super(options.file ? `${options.file}: ${message}` : message, { cause: options.cause });
    this.name = 'HarmoniaError';
    this.file = options.file;
    this.exitCode = options.exitCode ?? 2;
  }
}

/** Throws a HarmoniaError naming the argument when `ok` is false. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new HarmoniaError(message);
}
