import { parseArgs } from 'node:util';
import { HarmoniaError } from '../errors.ts';
import { commandList, findCommand } from './commands/index.ts';
import type { Command } from './types.ts';

function help(): string {
  const w = Math.max(...commandList.map((c) => c.name.length));
  return [
    'harmonia: image harmonization (Intrinsic Compositing + GAN refinement) on TensorFlow.js',
    '',
    'usage: harmonia <command> [options]',
    '',
    ...commandList.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'harmonia <command> --help shows the options of a command.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const lines = [`usage: ${c.usage}`, '', c.summary, ''];
  for (const [name, o] of Object.entries(c.options)) {
    const flag = `--${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${o.description}${o.default !== undefined ? ` (default: ${o.default})` : ''}`);
  }
  return lines.join('\n');
}

/** Parses a command's arguments exactly as main() does (strict: unknown flags are a HarmoniaError). */
export function parseCommandArgs(cmd: Command, args: string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {};
  for (const [k, o] of Object.entries(cmd.options)) {
    options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new HarmoniaError(`${(err as Error).message}\n\n${commandHelp(cmd)}`);
  }
  return { values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals };
}

/** Runs the CLI; returns the exit code. Errors a user can fix print one line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  const entry = findCommand(name);
  if (!entry) {
    console.error(`harmonia: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    // only the chosen command's module (and what it imports) is loaded
    const cmd = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(commandHelp(cmd));
      return 0;
    }
    const parsed = parseCommandArgs(cmd, rest);
    return await cmd.run(parsed);
  } catch (err) {
    if (err instanceof HarmoniaError) {
      console.error(`harmonia ${name}: ${err.message}`);
      return err.exitCode;
    }
    const e = err as Error;
    console.error(`harmonia ${name}: internal error: ${e?.message ?? String(err)}`);
    if (process.env.HARMONIA_DEBUG) console.error(e?.stack);
    else console.error('(set HARMONIA_DEBUG=1 for a stack trace; please report this)');
    return 70;
  }
}
