/**
 * The CLI's manners, shared by every command (main.ts applies them; no command module is loaded here):
 *  - the options every command has: `--quiet` (only errors and warnings) and `--json` (one JSON
 *    document on stdout), added to each command's own options (GLOBAL_OPTIONS);
 *  - usage errors in the one error format (UsageError: `harmonia <command>: <problem>; see "harmonia help
 *    <command>"`, one line), flags named exactly as the user typed them, with a did-you-mean for commands
 *    and flags (checkFlags runs before node's parseArgs, so its raw messages never reach the user);
 *  - notes (`note()`): said once per command run on stderr (in the document with --json), silenced by --quiet.
 */
import { HarmoniaError } from '../errors.ts';
import type { Command, OptionSpec } from './types.ts';

/** A mistake in how a command was called: printed with the command's usage line. */
export class UsageError extends HarmoniaError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Options every command has (a command's own option of the same name keeps its own description). */
export const GLOBAL_OPTIONS: Readonly<Record<'quiet' | 'json', OptionSpec>> = {
  quiet: { type: 'boolean', default: false, description: 'print only errors and warnings (no progress bar, notes or summary lines)' },
  json: { type: 'boolean', default: false, description: 'print the result as one JSON document on stdout (notes and progress stay on stderr)' },
};

/** A command's options with the global ones added. */
export function commandOptions(cmd: Command): Record<string, OptionSpec> {
  return { ...cmd.options, ...Object.fromEntries(Object.entries(GLOBAL_OPTIONS).filter(([k]) => !(k in cmd.options))) };
}

/** Optimal-string-alignment distance (Levenshtein + adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate `typed` most likely meant: the closest by edit distance (at most a third of its length,
 * at least 1, ignoring case), else the only candidate it is a prefix of; undefined when none is close.
 */
export function didYouMean(typed: string, candidates: readonly string[]): string | undefined {
  const t = typed.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(t, c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(typed.length / 3))) return best;
  const prefixed = candidates.filter((c) => t.length >= 2 && c.toLowerCase().startsWith(t));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function flagName(name: string, o: OptionSpec): string {
  return `--${name}${o.short ? `/-${o.short}` : ''}`;
}

/**
 * Checks a command's arguments the way node's parseArgs (strict) reads them, before it does, so every
 * mistake is one UsageError naming the flag as typed: unknown flags (with a did-you-mean), a value
 * given to a switch, a missing value, a value that looks like a flag (`--lr -1`: write `--lr=-1`).
 * `-` alone is a value (stdin/stdout), `--` ends the flags.
 */
export function checkFlags(options: Readonly<Record<string, OptionSpec>>, args: readonly string[]): void {
  const longs = Object.keys(options);
  const shorts = new Map(Object.entries(options).filter(([, o]) => o.short).map(([k, o]) => [o.short as string, k]));
  const unknown = (typed: string): never => {
    const name = typed.replace(/^-+/, '').split('=')[0];
    const guess = typed.startsWith('--') ? didYouMean(name, longs) : undefined;
    throw new UsageError(`unknown flag ${typed.split('=')[0]}${guess ? ` (did you mean --${guess}?)` : ''}`);
  };
  const needsValue = (typed: string, next: string | undefined): number => {
    if (next === undefined) throw new UsageError(`${typed} needs a value`);
    if (next.length > 1 && next.startsWith('-')) {
      throw new UsageError(`${typed} needs a value, but the next argument is "${next}"${/^-[\d.]/.test(next) ? ` (for a value that starts with "-", write ${typed}=${next})` : ''}`);
    }
    return 1;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return;
    if (a === '-' || !a.startsWith('-')) continue;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const o = options[name];
      if (!o) unknown(a);
      if (o.type === 'boolean') {
        if (eq >= 0) throw new UsageError(`--${name} is a switch and takes no value (got "${a.slice(eq + 1)}")`);
      } else if (eq < 0) {
        i += needsValue(a, args[i + 1]);
      }
      continue;
    }
    // a long name after one dash (-mask) would read as -m with the value "ask": say what was meant
    const bare = a.slice(1).split('=')[0];
    if (bare.length > 1 && options[bare]) throw new UsageError(`${a.split('=')[0]}: did you mean --${bare}? (one dash takes one-letter flags${options[bare].short ? `: -${options[bare].short}` : ''})`);
    // short flags: -o value, -ovalue, or grouped switches -qv
    for (let j = 1; j < a.length; j++) {
      const s = a[j];
      const name = shorts.get(s);
      if (name === undefined) {
        throw new UsageError(`unknown flag -${s}${a.length > 2 ? ` (in ${a})` : ''}`);
      }
      const o = options[name];
      if (o.type === 'string') {
        if (j === a.length - 1) i += needsValue(`-${s}`, args[i + 1]);
        break; // the rest of the token is the value
      }
    }
  }
}

/**
 * The value of `--<name>`, which must be one of `choices` (undefined when absent): a UsageError naming
 * the flag, the choices and the closest one otherwise (`--backend must be one of auto, …, got "wsam" (did you mean wasm?)`, the format of src/util/is.ts).
 */
export function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[]): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  const guess = typeof v === 'string' ? didYouMean(v, choices) : undefined;
  throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${String(v)}"${guess ? ` (did you mean ${guess}?)` : ''}`);
}

/**
 * The usage error text, one line like every CLI error (`harmonia <command>: <problem>`), ending with
 * where the command's usage and options are.
 */
export function formatUsageError(commandName: string, message: string): string {
  return `harmonia ${commandName}: ${message}; see "harmonia help ${commandName}"`;
}

/** The help of one command: usage, summary, and its options (the global ones last). */
export function commandHelp(c: Command): string {
  const lines = [`usage: ${c.usage}`, '', c.summary, ''];
  for (const [name, o] of Object.entries(commandOptions(c))) {
    const flag = `${flagName(name, o).replace('/', ', ')}${o.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${o.description}${o.default !== undefined ? ` (default: ${o.default})` : ''}`);
  }
  return lines.join('\n');
}

/** How the command that is running reports (set by main.ts for the length of one command); `notes` collects notes for --json. */
export const output: { quiet: boolean; json: boolean; notes: string[] } = { quiet: false, json: false, notes: [] };

const said = new Set<string>();

/** Starts one command's reporting (main.ts): its --quiet and --json, no notes said yet. */
export function beginOutput(quiet: boolean, json: boolean): void {
  output.quiet = quiet;
  output.json = json;
  output.notes = [];
  said.clear();
}

/**
 * A note for the user (what ran, what was skipped, a label to read with care): once per command run, on
 * stderr as `note: …`; with --json it goes into the JSON document instead, with --quiet nowhere.
 */
export function note(message: string): void {
  if (said.has(message)) return;
  said.add(message);
  if (output.quiet) return;
  if (output.json) output.notes.push(message);
  else console.error(`note: ${message}`);
}
