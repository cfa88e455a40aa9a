/** Runs the CLI's main() in this process, capturing what it prints (one line per console call). */
import { main } from '../src/cli/main.ts';

export async function runCli(args: string[]): Promise<{ code: number; stderr: string[]; stdout: string[] }> {
  const stderr: string[] = [];
  const stdout: string[] = [];
  const origErr = console.error, origLog = console.log;
  console.error = (...a: unknown[]) => { stderr.push(a.map(String).join(' ')); };
  console.log = (...a: unknown[]) => { stdout.push(a.map(String).join(' ')); };
  try {
    return { code: await main(args), stderr, stdout };
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
}
