import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The shared data folder (../shared beside the repository), or HARMONIA_SHARED. */
export const SHARED = process.env.HARMONIA_SHARED ?? resolve(new URL('../..', import.meta.url).pathname, 'shared');

export function sharedAvailable(): boolean {
  return existsSync(resolve(SHARED, 'data'));
}

/** Skip reason for tests needing ../shared, or false when it is there. */
export function needsShared(): string | false {
  return sharedAvailable() ? false : `skipped: shared data not found at ${SHARED} (set HARMONIA_SHARED)`;
}

/**
 * Returns `tempDir(prefix)`: a fresh temp folder per call, all removed when the calling test file ends.
 * Call it once at the top level of a test file.
 */
export function tempDirFactory(): (prefix: string) => string {
  const temps: string[] = [];
  after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });
  return (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    temps.push(d);
    return d;
  };
}

/**
 * Runs the CLI's main(args) in a fresh process with a module-resolution hook and returns its exit
 * code, the URL of every module it loaded, and its stdout (empty when `quiet`: the CLI's console.log
 * is silenced while main runs). For tests that check what a command does not load.
 */
export function cliModulesLoaded(args: readonly string[], opts: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {}): { code: number; seen: string[]; stdout: string; stderr: string; status: number | null } {
  const root = new URL('..', import.meta.url).pathname;
  const script = `
    import { register } from 'node:module';
    const seen = [];
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (u) => seen.push(u));
    port1.unref();
    register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function resolve(s, c, n) { const r = await n(s, c); p.postMessage(r.url); return r; }'), { data: { port: port2 }, transferList: [port2] });
    const { main } = await import(${JSON.stringify(resolve(root, 'src/cli/main.ts'))});
    const log = console.log;
    if (${opts.quiet ? 'true' : 'false'}) console.log = () => {};
    const code = await main(${JSON.stringify(args)});
    console.log = log;
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify({ code, seen }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: opts.env ?? process.env });
  if (r.status !== 0) return { code: -1, seen: [], stdout: r.stdout, stderr: r.stderr, status: r.status };
  const { code, seen } = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { code: number; seen: string[] };
  return { code, seen, stdout: r.stdout, stderr: r.stderr, status: r.status };
}
