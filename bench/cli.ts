/**
 * CLI process wall time, as a user sees it (start-up, decode, harmonize, encode, exit), for
 *   help       `harmonia --help`
 *   info       `harmonia info`
 *   harmonize  `harmonia harmonize <1024² composite> --mask <mask> -o <out.png>` (the shipped model)
 * from the built package (dist/, as an npm user runs it: `HARMONIA_DIST=1`), or with --src from the
 * TypeScript sources through tsx. Each round runs every command once (in turn, so that load changes
 * hit all of them alike); min, median and max over the rounds are printed with the date, the load
 * average before and after, the CPU, and the versions. The composite is a 1024² procedural scene
 * (seed 7) written to a temporary folder; pass --composite/--mask to use your own.
 *
 *   npm run build && node --import tsx bench/cli.ts [--runs 7] [--src] [--commands help,info,harmonize]
 *                                                  [--composite c.png --mask m.png] [--size 1024]
 *
 * Issue 16's target: the harmonize row ≤ 600 ms (median, quiet machine: load average well under 1).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'harmonia.mjs');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    src: { type: 'boolean', default: false },
    commands: { type: 'string', default: 'help,info,harmonize' },
    composite: { type: 'string' },
    mask: { type: 'string' },
    size: { type: 'string', default: '1024' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error(`--runs must be an integer in 1..100, got ${values.runs}`);
const size = Number(values.size);
if (!Number.isInteger(size) || size < 16 || size > 4096) throw new Error(`--size must be an integer in 16..4096, got ${values.size}`);
const names = values.commands.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names) if (!['help', 'info', 'harmonize'].includes(n)) throw new Error(`--commands: unknown "${n}" (help, info, harmonize)`);
if ((values.composite === undefined) !== (values.mask === undefined)) throw new Error('--composite and --mask go together');

function newestMtime(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) if (f.endsWith('.ts')) t = Math.max(t, statSync(join(dir, f)).mtimeMs);
  return t;
}

if (!values.src) {
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` first (or pass --src)');
  if (statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'))) console.warn('warning: dist/ is older than src/: run `npm run build` to measure the current sources');
}

const work = mkdtempSync(join(tmpdir(), 'harmonia-bench-cli-'));
let composite = values.composite, mask = values.mask;
if (names.includes('harmonize') && composite === undefined) {
  const { makeProceduralComposite } = await import('../src/data/procedural.ts');
  const { writeImage, writeMask } = await import('../src/image/io.ts');
  const pc = makeProceduralComposite({ seed: 7, width: size, height: size });
  composite = join(work, 'composite.png');
  mask = join(work, 'mask.png');
  await writeImage(composite, pc.composite);
  await writeMask(mask, pc.mask);
}

const env: NodeJS.ProcessEnv = { ...process.env, HARMONIA_DIST: values.src ? '0' : '1' };
const argv: Record<string, string[]> = {
  help: ['--help'],
  info: ['info'],
  harmonize: ['harmonize', composite ?? '', '--mask', mask ?? '', '-o', join(work, 'out.png'), '--overwrite'],
};

function once(name: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...argv[name]], { cwd: ROOT, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`harmonia ${argv[name].join(' ')} exited ${r.status}:\n${r.stderr}`);
  return ms;
}

/** A dependency's installed version (its package.json, found above its entry point: not every package exports it). */
function version(pkg: string): string {
  try {
    let dir = dirname(createRequire(join(ROOT, 'package.json')).resolve(pkg));
    for (; dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version ?? '?';
    }
    return '?';
  } catch {
    return 'not installed';
  }
}

const la = (): string => loadavg().map((v) => v.toFixed(2)).join(' ');
const load0 = la();
const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
for (const n of names) once(n); // warm the file cache
const times = new Map<string, number[]>(names.map((n) => [n, []]));
for (let i = 0; i < runs; i++) for (const n of names) times.get(n)!.push(once(n));
const load1 = la();
rmSync(work, { recursive: true, force: true });

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`harmonia CLI process wall time, ${values.src ? 'sources through tsx' : 'dist/ (HARMONIA_DIST=1)'}, ${runs} runs each`);
console.log(`date ${new Date().toISOString()}; load average (1, 5, 15 min) ${load0} before, ${load1} after`);
console.log(`CPU ${cpus()[0]?.model ?? '?'} × ${cpus().length}; node ${process.version}; harmonia ${own.version}; onnxruntime-node ${version('onnxruntime-node')}; @tensorflow/tfjs ${version('@tensorflow/tfjs')}; sharp ${version('sharp')}`);
if (names.includes('harmonize')) console.log(`harmonize input: ${values.composite ?? `${size}² procedural composite (seed 7)`}`);
console.log('');
console.log('| command | min ms | median ms | max ms |');
console.log('|---|---:|---:|---:|');
for (const n of names) {
  const a = times.get(n)!;
  console.log(`| ${argv[n][0] === '--help' ? 'harmonia --help' : `harmonia ${argv[n][0]}`} | ${Math.min(...a).toFixed(0)} | ${median(a).toFixed(0)} | ${Math.max(...a).toFixed(0)} |`);
}
