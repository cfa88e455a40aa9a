/**
 * Argument predicates in the style of sharp's `is` (lib/is.js), with one error format for every
 * boundary — the Node API, the CLI flags and the service's request fields:
 *
 *   <name> must be <what is accepted>, got <the value as given>[ (<why>)]
 *
 * `name` is what the caller typed or passed (`harmonize: quality`, `--crop`, `stage`). Each `is.*`
 * check returns the value, narrowed, or throws a HarmoniaError (the service maps it to HTTP 400).
 */
import { HarmoniaError } from '../errors.ts';

/** A numeric range: [min, max], either end excluded on request; integers only with `integer`. */
export interface Range {
  min: number;
  max: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
  /** Why the bound exists, appended to the error ("memory"). */
  why?: string;
}

/** "an integer in [1, 1000]", "in (0, 16]". */
export function describeRange(r: Range): string {
  const hi = r.max === Number.MAX_SAFE_INTEGER ? '∞)' : r.maxExclusive ? `${r.max})` : `${r.max}]`;
  return `${r.integer ? 'an integer in ' : 'in '}${r.minExclusive ? '(' : '['}${r.min}, ${hi}`;
}

/** A value as it appears in messages: JSON where it has one ("3", "\"abc\"", "null"), else its type. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return typeof v;
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof v;
  }
}

/** The one error format: `<name> must be <expected>, got <value>[ (<why>)]`. */
export function invalidParameter(name: string, expected: string, value: unknown, why?: string): HarmoniaError {
  return new HarmoniaError(`${name} must be ${expected}, got ${describeValue(value)}${why ? ` (${why})` : ''}`);
}

/** True when `n` is a number inside `r`. */
export function inRange(n: number, r: Range): boolean {
  return Number.isFinite(n) && (!r.integer || Number.isInteger(n)) &&
    (r.minExclusive ? n > r.min : n >= r.min) && (r.maxExclusive ? n < r.max : n <= r.max);
}

export const is = {
  /** A finite number, optionally in a range. */
  number(name: string, value: unknown, range?: Omit<Range, 'integer'>): number {
    if (typeof value === 'number' && (range ? inRange(value, range) : Number.isFinite(value))) return value;
    throw invalidParameter(name, range ? describeRange(range) : 'a finite number', value, range?.why);
  },
  /** An integer, optionally in a range. */
  integer(name: string, value: unknown, range?: Omit<Range, 'integer'>): number {
    const r: Range = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, ...range, integer: true };
    if (typeof value === 'number' && inRange(value, r)) return value;
    throw invalidParameter(name, range ? describeRange(r) : 'an integer', value, range?.why);
  },
  /** One of `list` ("png, jpeg, webp or tiff"). */
  oneOf<T extends string>(name: string, value: unknown, list: readonly T[], hint?: string): T {
    if (typeof value === 'string' && (list as readonly string[]).includes(value)) return value as T;
    const words = list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
    throw invalidParameter(name, words, value, hint);
  },
  /** true or false. */
  bool(name: string, value: unknown): boolean {
    if (typeof value === 'boolean') return value;
    throw invalidParameter(name, 'true or false', value);
  },
  /** A non-empty string. */
  nonEmptyString(name: string, value: unknown): string {
    if (typeof value === 'string' && value !== '') return value;
    throw invalidParameter(name, 'a non-empty string', value);
  },
};
