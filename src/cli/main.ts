import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HarmoniaError } from '../errors.ts';
import { installCommand, missingOptionalPackage } from '../util/optional.ts';
import { commandList, findCommand } from './commands/index.ts';
import type { Command } from './types.ts';
import { UsageError, checkFlags, commandHelp, commandOptions, didYouMean, formatUsageError, beginOutput, output } from './usage.ts';
import { env } from '../config/index.ts';

/** The package version (package.json beside src/ or dist/). */
export function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function help(): string {
  const w = Math.max(...commandList.map((c) => c.name.length));
  return [
    `harmonia ${version()}: image harmonization (a learned colour harmonizer on ONNX Runtime or TensorFlow.js, optionally after the Intrinsic Compositing stage)`,
    '',
    'usage: harmonia <command> [options]',
    '',
    ...commandList.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'harmonia help <command> (or harmonia <command> --help) shows the options of a command.',
    'Every command takes --quiet (only errors and warnings), --json (one JSON document on stdout) and --import <file>',
    '(a module that registers a generator or a loss setting; training workers import it too).',
    'harmonia --version prints the version.',
  ].join('\n');
}

/** The "unknown command" message, with a did-you-mean. */
function unknownCommand(name: string): string {
  const guess = didYouMean(name, commandList.map((c) => c.name));
  return `harmonia: unknown command "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}; see "harmonia --help" for the commands`;
}

/**
 * Parses a command's arguments exactly as main() does: its own options plus --quiet and --json, strict.
 * Every mistake (unknown flag, missing value, a value given to a switch) is a UsageError naming the flag
 * as typed.
 */
export function parseCommandArgs(cmd: Command, args: string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const specs = commandOptions(cmd);
  checkFlags(specs, args);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {};
  for (const [k, o] of Object.entries(specs)) {
    options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // checkFlags catches what parseArgs refuses; this is the net under it, without parseArgs' own wording
    const m = /'(-[^']*)'/.exec((err as Error).message);
    throw new UsageError(`cannot read the arguments${m ? ` at ${m[1]}` : ''}`);
  }
  return { values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals };
}

/** --quiet / --json given before `--` (read before parsing, for errors in parsing itself). */
function flagGiven(args: readonly string[], flag: string): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes(flag);
}

/**
 * Takes `--import <file>` / `--import=<file>` (any command, repeatable; before `--`) out of `args`:
 * user modules that register generators or loss settings (src/config/modules.ts).
 */
export function takeImports(args: readonly string[]): { imports: string[]; rest: string[] } {
  const imports: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (a === '--import') {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('-')) throw new UsageError('--import needs a module file (one that registers a generator or a loss setting)');
      imports.push(v);
      i++;
    } else if (a.startsWith('--import=')) imports.push(a.slice('--import='.length));
    else rest.push(a);
  }
  return { imports, rest };
}

/** Runs the CLI; returns the exit code. Errors a user can fix print one line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // --quiet / --json may also come before the command
  let k = 0;
  while (k < argv.length && (argv[k] === '--quiet' || argv[k] === '--json')) k++;
  const lead = argv.slice(0, k);
  const [name, ...restArgs] = argv.slice(k);
  let rest = [...restArgs, ...lead];
  if (!name) {
    console.log(help());
    return argv.length ? 0 : 1;
  }
  if (name === '--help' || name === '-h') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-V' || name === '-v') {
    console.log(`harmonia ${version()}`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    if (!topic) {
      console.log(help());
      return 0;
    }
    const entry = findCommand(topic);
    if (!entry) {
      console.error(unknownCommand(topic));
      return 2;
    }
    console.log(commandHelp(await entry.load()));
    return 0;
  }
  if (name.startsWith('-')) {
    const guess = didYouMean(name.replace(/^-+/, ''), ['help', 'version']);
    console.error(`harmonia: unknown flag ${name}${guess ? ` (did you mean --${guess}?)` : ''}; usage: harmonia <command> [options], harmonia --version, harmonia --help`);
    return 2;
  }
  const entry = findCommand(name);
  if (!entry) {
    console.error(unknownCommand(name));
    return 2;
  }
  let cmd: Command | undefined;
  // the command prints its own JSON when it has a --json option of its own; main wraps the others
  let wrapJson = false;
  const lines: string[] = [];
  const log = console.log;
  const info = console.info;
  const quietBefore = env.quiet;
  const restore = (): void => {
    console.log = log;
    console.info = info;
    env.quiet = quietBefore;
  };
  const document = (exitCode: number, error?: string): void => {
    if (!wrapJson) return;
    log(JSON.stringify({ command: name, exitCode, ...(error !== undefined ? { error } : {}), output: lines, notes: output.notes }));
  };
  try {
    // user modules first (--import): the command's flags and checks then see what they register
    const taken = takeImports(rest);
    rest = taken.rest;
    if (taken.imports.length) {
      const { importUserModules } = await import('../config/modules.ts');
      await importUserModules(taken.imports);
    }
    // only the chosen command's module (and what it imports) is loaded
    cmd = await entry.load();
    const end = rest.indexOf('--');
    if ((end < 0 ? rest : rest.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
      console.log(commandHelp(cmd));
      return 0;
    }
    wrapJson = flagGiven(rest, '--json') && !('json' in cmd.options);
    const parsed = parseCommandArgs(cmd, rest);
    const quiet = Boolean(parsed.values.quiet);
    const json = Boolean(parsed.values.json);
    if (json && parsed.values.output === '-') throw new UsageError('--json prints a JSON document on stdout, so -o - (the image on stdout) cannot go with it');
    beginOutput(quiet, json);
    if (quiet) {
      // only errors and warnings: no notes or progress bars (util/progress.ts reads env.quiet), and no
      // summary lines unless the command has a --quiet of its own (then its help says what it keeps)
      if (!('quiet' in cmd.options) && !json) { // --json: the document is the output asked for
        console.log = () => {};
        console.info = () => {};
      }
      env.quiet = true;
    }
    if (wrapJson && console.log === log) {
      console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
      console.info = console.log;
    }
    const code = await cmd.run(parsed);
    restore();
    document(code);
    return code;
  } catch (caught) {
    restore();
    // an optional extra (TF.js, the service stack) that is not installed: one line naming it and the install command
    const missing = missingOptionalPackage(caught);
    const err = missing ? new HarmoniaError(`needs ${missing.name}, which is not installed (an optional extra for ${missing.extra.purpose}): ${installCommand(missing.extra)}`) : caught;
    let code: number;
    let message: string;
    if (err instanceof UsageError) {
      message = err.message;
      console.error(formatUsageError(name, err.message));
      code = err.exitCode;
    } else if (err instanceof HarmoniaError) {
      message = err.message;
      console.error(`harmonia ${name}: ${err.message}`);
      code = err.exitCode;
    } else {
      const e = err as Error;
      message = `internal error: ${e?.message ?? String(err)}`;
      console.error(`harmonia ${name}: ${message}`);
      if (env.debug) console.error(e?.stack);
      else console.error('(set HARMONIA_DEBUG=1 for a stack trace; please report this)');
      code = 70;
    }
    document(code, message);
    return code;
  } finally {
    beginOutput(false, false);
  }
}
