/**
 * Property test of the output-safety rule (issue 17): random command lines for `harmonize` (folder and
 * single), `intrinsic` and `evaluate`, with every path drawn from one small pool that includes the
 * inputs themselves, symbolic and hard links to them and to their folders, existing read-only files,
 * files inside input folders, missing folders and plain files.
 *
 * - 600 command lines through the commands' path validation (planHarmonize, planIntrinsicPaths,
 *   planEvaluatePaths) in-process: each is refused with a HarmoniaError, or every output it plans
 *   passes an independent oracle (no planned file is one of that command's input files or a file in
 *   its input folders, by device + inode, none is inside an
 *   input folder of that command, no existing read-only file is planned without --overwrite).
 * - 506 more run for real (issue 17: at least 500 in CI), 500 through main() and 6 as real processes: no input file of the run
 *   (its files, and every file in its input folders) changes its hash; an exit-0 run wrote every output it claims (decodable images, parseable JSON); every file
 *   created or changed is one the plan listed; a refusal is one stderr line without a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, parseCommandArgs } from '../../src/cli/main.ts';
import { harmonizeCommand, planHarmonize } from '../../src/cli/commands/harmonize.ts';
import { intrinsicCommand, planIntrinsicPaths } from '../../src/cli/commands/intrinsic.ts';
import { evaluateCommand, planEvaluatePaths } from '../../src/cli/commands/evaluate.ts';
import type { Command } from '../../src/cli/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { readImage } from '../../src/image/io.ts';
import type { SafetyInput, SafetyOutput } from '../../src/util/output-safety.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { Rng } from '../../src/util/random.ts';
import { patternRgb, rawToPng, rawToJpeg } from '../fixtures-gen/images.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const VALIDATIONS = 600;
const IN_PROCESS_RUNS = 500;
const SPAWNED_RUNS = 6;

const W = 32, H = 24;
const root = tempDir('harmonia-property-');
chmodSync(root, 0o755);
const P = (p: string): string => join(root, p);

async function buildPool(): Promise<void> {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  const png = await rawToPng(patternRgb(W, H), W, H, 3);
  const jpg = await rawToJpeg(patternRgb(W, H), W, H, 3);
  const mask = await rawToPng(m, W, H, 1);
  for (const d of ['f/c', 'f/m', 'exist']) mkdirSync(P(d), { recursive: true });
  const put = (p: string, b: Uint8Array | string, _input = true): void => { writeFileSync(P(p), b); };
  put('c.png', png);
  put('m.png', mask);
  put('f/c/a.jpg', jpg);
  put('f/c/b.jpg', jpg);
  put('f/m/a.png', mask);
  put('f/m/b.png', mask);
  await writeProceduralDataset(P('ds'), { count: 4, seed: 3, width: 32, height: 32, testFraction: 0.5 });
  symlinkSync(P('c.png'), P('lc.png'));
  symlinkSync(P('f/m'), P('lmdir'));
  symlinkSync(root, P('here'));
  linkSync(P('m.png'), P('hm.png'));
  linkSync(P('f/c/a.jpg'), P('hca.jpg'));
  put('plain.txt', 'plain\n', false);
  put('ro.png', png, false);
  chmodSync(P('ro.png'), 0o444);
  put('ro.json', '{}', false);
  chmodSync(P('ro.json'), 0o444);
}

const POOL = {
  file: ['c.png', 'm.png', 'lc.png', 'hm.png', 'hca.jpg', 'f/c/a.jpg', 'f/m/b.png', 'here/c.png', 'lmdir/a.png', 'ro.png', 'o1.png', 'o2.jpg', 'exist/o.png', 'new/o.png', 'f/c/x.png', 'ds/x.png', 'plain.txt'],
  json: ['r.json', 'ro.json', 'c.png', 'o1.png', 'f/m/r.json', 'exist/r.json', 'nodir/r.json', 'here/m.png', 'lc.png', 'out/r.json'],
  folder: ['f/c', 'f/m', 'lmdir', 'out', 'exist', 'it', 'ds', 'ds/sub', 'plain.txt', 'f', 'here/f/m', 'new/deeper'],
};

/** A command line and the input paths (files or folders) it names. */
type Gen = { cmd: Command; args: string[]; inputs: string[] };

function generate(rng: Rng): Gen {
  const file = (): string => P(rng.pick(POOL.file));
  const json = (): string => P(rng.pick(POOL.json));
  const folder = (): string => P(rng.pick(POOL.folder));
  const maybe = (p: number, a: string[]): string[] => (rng.next() < p ? a : []);
  const kind = rng.int(0, 3);
  if (kind === 0) {
    const c = rng.pick([P('c.png'), P('lc.png'), P('f/c/a.jpg'), P('hca.jpg')]), m = rng.pick([P('m.png'), P('hm.png'), P('f/m/a.png')]);
    return { cmd: harmonizeCommand, inputs: [c, m], args: [c, '-m', m, '-o', file(), ...maybe(0.5, ['--report', json()]), ...maybe(0.4, ['--overwrite']), '--stage', 'intrinsic'] };
  }
  if (kind === 1) {
    const c = rng.pick([P('f/c'), P('f/c'), P('here/f/c')]), m = rng.pick([P('f/m'), P('lmdir'), P('f/c')]);
    return { cmd: harmonizeCommand, inputs: [c, m], args: [c, '-m', m, '-o', rng.next() < 0.8 ? folder() : file(), ...maybe(0.4, ['--report', json()]), ...maybe(0.4, ['--overwrite']), '--stage', 'intrinsic'] };
  }
  if (kind === 2) {
    const c = rng.pick([P('c.png'), P('lc.png'), P('f/c/b.jpg')]), m = rng.pick([P('m.png'), P('hm.png'), P('f/m/b.png')]);
    return { cmd: intrinsicCommand, inputs: [c, m], args: [c, '-m', m, '-o', file(), ...maybe(0.5, ['--intermediates', rng.next() < 0.8 ? folder() : file()]), ...maybe(0.4, ['--overwrite'])] };
  }
  const data = rng.pick([P('ds'), P('ds'), P('f')]);
  const pred = maybe(0.3, ['--pred', P('f/c')]);
  return { cmd: evaluateCommand, inputs: [data, ...pred.slice(1)], args: ['--data', data, ...pred, ...maybe(0.8, ['--out', rng.next() < 0.8 ? folder() : file()]), ...maybe(0.4, ['--overwrite']), '--lpips', 'none', '--size', '32', '--quiet'] };
}

/** The files a command line reads: its input files, and every file under its input folders. */
function inputFilesOf(g: Gen): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) { const f = join(d, n); const st = statSync(f, { throwIfNoEntry: false }); if (!st) continue; if (st.isDirectory()) walk(f); else out.push(f); }
  };
  for (const p of g.inputs) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) walk(p);
    else if (st) out.push(p);
  }
  return out;
}

interface Planned { inputs: SafetyInput[]; outputs: SafetyOutput[]; overwrite: boolean }

/** Runs the command's own path validation; returns the plan or the HarmoniaError. */
function validate(g: Gen): Planned | HarmoniaError {
  try {
    const { values, positionals } = parseCommandArgs(g.cmd, g.args);
    const overwrite = Boolean(values.overwrite);
    if (g.cmd === harmonizeCommand) return { ...planHarmonize(values, positionals), overwrite };
    if (g.cmd === intrinsicCommand) return { ...planIntrinsicPaths(values, positionals), overwrite };
    return { ...planEvaluatePaths(values), overwrite };
  } catch (e) {
    if (e instanceof HarmoniaError) return e;
    throw e;
  }
}

const inode = (p: string): string | undefined => { try { const s = statSync(p); return `${s.dev}:${s.ino}`; } catch { return undefined; } };
const real = (p: string): string => { let cur = p; const rest: string[] = []; for (;;) { try { return join(realpathSync(cur), ...rest.reverse()); } catch { rest.push(cur.slice(dirname(cur).length + 1)); const up = dirname(cur); if (up === cur) return p; cur = up; } } };

/** The independent oracle: returns the first violation of a plan, or undefined. */
function violation(g: Gen, plan: Planned): string | undefined {
  const protectedInodes = new Set(inputFilesOf(g).map(inode));
  const inputFolders = g.inputs.filter((p) => existsSync(p) && statSync(p).isDirectory()).map((p) => realpathSync(p));
  for (const o of plan.outputs) {
    const ino = inode(o.path);
    if (o.kind === 'file' && ino && protectedInodes.has(ino)) return `${o.flag} ${o.path} is an input file`;
    const r = real(o.path);
    for (const f of inputFolders) if (r === f || r.startsWith(f + sep)) return `${o.flag} ${o.path} is inside the input folder ${f}`;
    if (o.kind === 'file' && ino && !plan.overwrite && !o.flag.includes('folder mode') && !o.flag.includes('manifest') && (statSync(o.path).mode & 0o222) === 0) {
      return `${o.flag} ${o.path} is read-only and planned without --overwrite`;
    }
  }
  return undefined;
}

function hashes(files: readonly string[]): Map<string, string> {
  return new Map(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

function tree(): Map<string, string> {
  const t = new Map<string, string>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const f = join(d, n);
      const st = lstatSync(f);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) walk(f);
      else t.set(f, `${st.size}:${st.mtimeMs}:${st.ino}:${createHash('sha256').update(readFileSync(f)).digest('hex')}`);
    }
  };
  walk(root);
  return t;
}

/** Checks an exit-0 run: every output the plan claims for this mode exists and is complete. */
async function assertClaimedOutputs(g: Gen, plan: Planned, label: string): Promise<void> {
  for (const o of plan.outputs) {
    if (o.kind === 'folder') { assert.ok(statSync(o.path).isDirectory(), `${label}: ${o.flag} ${o.path} missing`); continue; }
    if (o.flag.includes('manifest')) continue;
    assert.ok(existsSync(o.path), `${label}: claimed ${o.flag} ${o.path} was not written`);
    if (/\.(png|jpe?g)$/.test(o.path) && !o.flag.startsWith('--report') && !o.flag.startsWith('--out')) {
      const img = await readImage(o.path);
      assert.ok(img.width > 0, label);
    } else if (o.path.endsWith('.json')) {
      JSON.parse(readFileSync(o.path, 'utf8'));
    } else {
      assert.ok(statSync(o.path).size > 0, `${label}: ${o.path} is empty`);
    }
  }
}

async function runInProcess(args: string[]): Promise<{ code: number; stderr: string[] }> {
  const stderr: string[] = [];
  const origErr = console.error, origLog = console.log;
  console.error = (...a: unknown[]) => { stderr.push(a.map(String).join(' ')); };
  console.log = () => undefined;
  try {
    return { code: await main(args), stderr };
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
}

test(`output safety property: ${VALIDATIONS} random command lines validated, ${IN_PROCESS_RUNS} + ${SPAWNED_RUNS} run; no input ever changes, no exit-0 run lacks a claimed output`, { timeout: 900_000 }, async () => {
  await buildPool();
  const rng = new Rng('issue-17-output-property');
  let refused = 0, accepted = 0;
  const byCommand = new Map<string, number>();
  for (let k = 0; k < VALIDATIONS; k++) {
    const g = generate(rng);
    byCommand.set(g.cmd.name, (byCommand.get(g.cmd.name) ?? 0) + 1);
    const r = validate(g);
    if (r instanceof HarmoniaError) {
      refused++;
      assert.doesNotMatch(r.message, /internal error|undefined|\[object/, r.message);
      continue;
    }
    accepted++;
    const v = violation(g, r);
    assert.equal(v, undefined, `${g.cmd.name} ${g.args.map((a) => a.replace(root, '@')).join(' ')}: ${v}`);
  }
  assert.ok(refused > 50 && accepted > 50, `refused ${refused}, accepted ${accepted}`);
  for (const c of ['harmonize', 'intrinsic', 'evaluate']) assert.ok((byCommand.get(c) ?? 0) >= 100, `${c}: ${byCommand.get(c)}`);

  // real runs: in-process through main(), and a few as separate processes
  let ok = 0;
  const runsByCommand = new Map<string, number>(), okByCommand = new Map<string, number>();
  for (let k = 0; k < IN_PROCESS_RUNS + SPAWNED_RUNS; k++) {
    const g = generate(rng);
    const kindKey = g.cmd === harmonizeCommand ? (/\/f\/c$/.test(g.args[0]) ? 'harmonize-folder' : 'harmonize-single') : g.cmd.name;
    runsByCommand.set(kindKey, (runsByCommand.get(kindKey) ?? 0) + 1);
    const plan = validate(g);
    const t0 = tree();
    const mine = inputFilesOf(g);
    const mineBefore = hashes(mine);
    const label = `${g.cmd.name} ${g.args.map((a) => a.replace(root, '@')).join(' ')}`;
    let code: number, err: string[];
    if (k < IN_PROCESS_RUNS) {
      ({ code, stderr: err } = await runInProcess([g.cmd.name, ...g.args]));
    } else {
      const r = spawnSync(process.execPath, [BIN, g.cmd.name, ...g.args], { encoding: 'utf8', timeout: 120_000 });
      code = r.status ?? -1;
      err = r.stderr.split('\n').filter((l) => l.trim() && !/^npm warn/i.test(l) && !/█|░/.test(l));
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: stack trace`);
    }
    assert.deepEqual(hashes(mine), mineBefore, `${label}: one of its inputs changed`);
    const t1 = tree();
    const touched = [...t1.keys()].filter((f) => t0.get(f) !== t1.get(f));
    if (code === 0) {
      ok++;
      okByCommand.set(kindKey, (okByCommand.get(kindKey) ?? 0) + 1);
      assert.ok(!(plan instanceof HarmoniaError), `${label}: exit 0 but validation refused it: ${(plan as HarmoniaError).message}`);
      await assertClaimedOutputs(g, plan as Planned, label);
      const planned = new Set((plan as Planned).outputs.map((o) => real(o.path)));
      for (const f of touched) assert.ok(planned.has(real(f)), `${label}: wrote ${relative(root, f)}, which the plan did not list`);
    } else {
      assert.equal(code, 2, `${label}: exit ${code}: ${err.join(' | ')}`);
      assert.equal(err.length, 1, `${label}: ${err.join(' | ')}`);
      assert.doesNotMatch(err[0], /internal error/, label);
      if (plan instanceof HarmoniaError) assert.deepEqual(touched, [], `${label}: refused but wrote ${touched.join(', ')}`);
    }
  }
  if (process.env.PROPERTY_STATS) console.log(JSON.stringify({ refused, accepted, byCommand: [...byCommand], ok, runsByCommand: [...runsByCommand], okByCommand: [...okByCommand] }));
  assert.ok(IN_PROCESS_RUNS + SPAWNED_RUNS >= 500);
  for (const c of ['harmonize-single', 'harmonize-folder', 'intrinsic', 'evaluate']) assert.ok((runsByCommand.get(c) ?? 0) >= 80 && (okByCommand.get(c) ?? 0) >= 5, `${c}: ${runsByCommand.get(c)} runs, ${okByCommand.get(c)} exit 0`);
  assert.ok(ok >= 50, `only ${ok} runs succeeded`);
});
