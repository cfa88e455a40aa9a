/**
 * Property test of the one output rule (issues 17 and 28): random command lines for every command that
 * writes — harmonize (folder and single), intrinsic, evaluate, export-onnx, report, train, train-light,
 * make-composites, make-procedural, demo, sweep, experiment — with every path drawn from one small pool
 * that includes the inputs themselves, symbolic and hard links to them and to their folders, existing
 * read-only files, a FIFO, a device node (a link to /dev/null), files inside input folders, a model
 * folder, a light model, training run folders, datasets (one with a subset Harmonia did not build),
 * missing folders and plain files.
 *
 * - 1200 command lines (≥ 600 required, ≥ 40 per command) through the commands' own path validation
 *   (planHarmonize, planIntrinsicPaths, planEvaluatePaths, planExportOnnx, planReport, checkTrainOutputs,
 *   planTrainLight, planMakeCompositesPaths, planMakeProcedural, planDemo, planStudy) in-process: each is
 *   refused with a HarmoniaError, or every output it plans passes an independent oracle — no planned
 *   file is one of that command's input files or a file in its input folders (by device + inode), none
 *   is inside an input folder, none is a device or FIFO, none is a read-only file without --overwrite,
 *   none is a file of a model, dataset or run folder the command does not rebuild, and every file's
 *   extension matches what is written there.
 * - 506 more run for real (500 through main(), 6 as real processes): no input file of the run (its
 *   files, and every file in its input folders) and no file outside the plan changes; an exit-0 run
 *   wrote every output it claims, complete and decodable (images decode, JSON parses, ONNX parses, a
 *   dataset subset has its build.json and lists); a refusal is one stderr line without a stack trace.
 *   Lines of the commands that train or render for minutes (train, train-light, demo, sweep,
 *   experiment) run for real only when their validation refuses them (the run must refuse too, changing
 *   nothing); their accepted lines are covered by the validation above.
 * - The queue worker (second test): 600 random `-o` targets (folders and templates, from the same pool)
 *   and job names (plain, nested, hostile: `..`, absolute, case variants, links, FIFO, device link,
 *   read-only, inputs, model/run/dataset files) through the worker's own checks (`checkOutputTemplate`,
 *   then `planJobOutput`), each accepted output held to the same oracle plus the worker's own rules
 *   (inside `-o` after links, never itself a link, the job format's extension); then 30 of them run for
 *   real on a redis-server (each a fresh queue, so no file there was made by it) and 3 as `harmonia
 *   worker --exit-after 1` processes: no input and no pre-existing file changes (the worker has no
 *   --overwrite), a job is done only with its output new, complete and decodable in its format, and a
 *   process exits 0 only then.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, parseCommandArgs } from '../../src/cli/main.ts';
import { harmonizeCommand, planHarmonize } from '../../src/cli/commands/harmonize.ts';
import { intrinsicCommand, planIntrinsicPaths } from '../../src/cli/commands/intrinsic.ts';
import { evaluateCommand, planEvaluatePaths } from '../../src/cli/commands/evaluate.ts';
import { exportOnnxCommand, planExportOnnx } from '../../src/cli/commands/export-onnx.ts';
import { reportCommand, planReport } from '../../src/cli/commands/report.ts';
import { trainCommand, checkTrainOutputs } from '../../src/cli/commands/train.ts';
import { trainLightCommand, planTrainLight } from '../../src/cli/commands/train-light.ts';
import { makeCompositesCommand, planMakeCompositesPaths } from '../../src/cli/commands/make-composites.ts';
import { makeProcedural, planMakeProcedural } from '../../src/cli/commands/make-procedural.ts';
import { demoCommand, planDemo } from '../../src/cli/commands/demo.ts';
import { sweepCommand, SWEEP_FILES } from '../../src/cli/commands/sweep.ts';
import { experimentCommand, planStudy, EXPERIMENT_FILES } from '../../src/cli/commands/experiment.ts';
import { workerCommand } from '../../src/cli/commands/worker.ts';
import { checkOutputTemplate, planJobOutput, jobHash, parseRedisUrl, queueProgress, startBatchWorker, type BatchJobData, type BatchJobResult } from '../../src/service/queue.ts';
import { needsRedis, startRedis, type RedisHandle } from '../service/helpers.ts';
import { Queue } from 'bullmq';
import type { Command } from '../../src/cli/types.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { readImage } from '../../src/image/io.ts';
import type { SafetyInput, SafetyOutput } from '../../src/util/output-safety.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { initEngine } from '../../src/engine/index.ts';
import { buildGenerator, type GeneratorConfig } from '../../src/models/generator.ts';
import { saveHarmonizationModel } from '../../src/models/folder.ts';
import { saveModel } from '../../src/models/io.ts';
import { buildLightNet } from '../../src/intrinsic/light-net-tf.ts';
import { readOnnxSummary } from '../../src/onnx/proto.ts';
import { Rng } from '../../src/util/random.ts';
import { patternRgb, rawToPng, rawToJpeg } from '../fixtures-gen/images.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const VALIDATIONS = 1200;
const IN_PROCESS_RUNS = 500;
const SPAWNED_RUNS = 6;

const W = 32, H = 24;
const root = tempDir('harmonia-property-');
chmodSync(root, 0o755);
const P = (p: string): string => join(root, p);

/** The artifact folders of the pool, for the oracle (its own list, not the rule's markers). */
const MODELS = ['model', 'light'], RUNS = ['run', 'runro', 'runfifo', 'runlink'], DATASETS = ['ds', 'ihd'];

async function buildPool(): Promise<void> {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  const png = await rawToPng(patternRgb(W, H), W, H, 3);
  const jpg = await rawToJpeg(patternRgb(W, H), W, H, 3);
  const mask = await rawToPng(m, W, H, 1);
  for (const d of ['f/c', 'f/m', 'exist', 'src/real_images', 'src/masks', 'ihd/User/composite_images', 'ihd/User/masks']) mkdirSync(P(d), { recursive: true });
  const put = (p: string, b: Uint8Array | string): void => { writeFileSync(P(p), b); };
  put('c.png', png);
  put('m.png', mask);
  put('f/c/a.jpg', jpg);
  put('f/c/b.jpg', jpg);
  put('f/m/a.png', mask);
  put('f/m/b.png', mask);
  put('f/m/x.png', mask); // the mask of f/c/x.png, a pool output other commands may write into f/c
  await writeProceduralDataset(P('ds'), { count: 4, seed: 3, width: 32, height: 32, testFraction: 0.5 });
  // a composite source (make-composites --real) and an iHarmony4 root holding a subset Harmonia did not build
  for (const n of ['a', 'b', 'e', 'g']) {
    put(`src/real_images/${n}.png`, await rawToPng(patternRgb(W, H).map((v, i) => (v + 41 * n.charCodeAt(0) * (i % 3 + 1)) % 256), W, H, 3));
    put(`src/masks/${n}_1.png`, mask);
  }
  put('src/src_train.txt', 'a_1_1.png\nb_1_1.png\n');
  put('src/src_test.txt', 'e_1_1.png\ng_1_1.png\n');
  put('ihd/User/composite_images/u_1_1.png', png);
  put('ihd/User/masks/u_1.png', mask);
  put('ihd/IHD_train.txt', 'User/composite_images/u_1_1.png\n');
  // a harmonization model, a light model, training run folders (losses.html fine, read-only, a FIFO, a link to the log)
  await initEngine({ quiet: true });
  const cfg: GeneratorConfig = { maskInput: true, base: 8, seed: 9 };
  const g = buildGenerator(cfg);
  await saveHarmonizationModel(P('model'), g, cfg, { name: 'property', input: 'semiHarmonized' });
  g.dispose();
  const net = buildLightNet([4], 1);
  await saveModel(net, P('light'));
  net.dispose();
  const log = '{"type":"step","step":1,"epoch":0,"losses":{"G":1}}\n{"type":"step","step":2,"epoch":0,"losses":{"G":0.5}}\n';
  for (const r of RUNS) { mkdirSync(P(r)); put(`${r}/log.jsonl`, log); }
  put('runro/losses.html', 'old');
  chmodSync(P('runro/losses.html'), 0o444);
  assert.equal(spawnSync('mkfifo', [P('runfifo/losses.html')]).status, 0);
  symlinkSync('log.jsonl', P('runlink/losses.html'));
  symlinkSync(P('c.png'), P('lc.png'));
  symlinkSync(P('f/m'), P('lmdir'));
  symlinkSync(root, P('here'));
  symlinkSync(P('model/weights.bin'), P('lw.onnx'));
  symlinkSync('/dev/null', P('null.png'));
  symlinkSync('/dev/null', P('null.onnx'));
  linkSync(P('m.png'), P('hm.png'));
  linkSync(P('f/c/a.jpg'), P('hca.jpg'));
  put('plain.txt', 'plain\n');
  for (const [f, b] of [['ro.png', png], ['ro.json', '{}'], ['ro.onnx', 'old']] as const) { put(f, b); chmodSync(P(f), 0o444); }
  assert.equal(spawnSync('mkfifo', [P('fifo.png')]).status, 0);
  assert.equal(spawnSync('mkfifo', [P('fifo.onnx')]).status, 0);
}

let pooled: Promise<void> | undefined;
/** Builds the pool once per process (the worker's test reuses it, with whatever the first test wrote there). */
const ensurePool = (): Promise<void> => (pooled ??= buildPool());

const POOL = {
  file: ['c.png', 'm.png', 'lc.png', 'hm.png', 'hca.jpg', 'f/c/a.jpg', 'f/m/b.png', 'here/c.png', 'lmdir/a.png', 'ro.png', 'o1.png', 'o2.jpg', 'exist/o.png', 'new/o.png', 'f/c/x.png', 'ds/x.png', 'plain.txt', 'fifo.png', 'null.png', 'model/o.png', 'run/o.png', 'ihd/o.png', 'model/weights.bin'],
  json: ['r.json', 'ro.json', 'c.png', 'o1.png', 'f/m/r.json', 'exist/r.json', 'nodir/r.json', 'here/m.png', 'lc.png', 'out/r.json', 'model/harmonia.json', 'run/r.json', 'null.png'],
  onnx: ['x.onnx', 'exist/x.onnx', 'new/x.onnx', 'model/model.onnx', 'model/x.onnx', 'model/weights.bin', 'model/model.json', 'ro.onnx', 'fifo.onnx', 'null.onnx', 'lw.onnx', 'c.png', 'run/x.onnx', 'ds/x.onnx', 'here/model/model.onnx'],
  folder: ['f/c', 'f/m', 'lmdir', 'out', 'exist', 'it', 'ds', 'ds/sub', 'plain.txt', 'f', 'here/f/m', 'new/deeper', 'model', 'light', 'run', 'runro', 'ihd', 'fifo.png', 'null.png', 'src', 'here/model', 'model/sub'],
};

/** A command line, the input paths (files or folders) it names, and the folders it may rebuild. */
type Gen = { cmd: Command; args: string[]; inputs: string[]; expensive?: boolean };

function generate(rng: Rng): Gen {
  const file = (): string => P(rng.pick(POOL.file));
  const json = (): string => P(rng.pick(POOL.json));
  const folder = (): string => P(rng.pick(POOL.folder));
  const onnx = (): string => P(rng.pick(POOL.onnx));
  const maybe = (p: number, a: string[]): string[] => (rng.next() < p ? a : []);
  const ow = (): string[] => maybe(0.4, ['--overwrite']);
  const kind = rng.int(0, 12);
  if (kind === 0) {
    const c = rng.pick([P('c.png'), P('lc.png'), P('f/c/a.jpg'), P('hca.jpg')]), m = rng.pick([P('m.png'), P('hm.png'), P('f/m/a.png')]);
    return { cmd: harmonizeCommand, inputs: [c, m], args: [c, '-m', m, '-o', file(), ...maybe(0.5, ['--report', json()]), ...ow(), '--stage', 'intrinsic'] };
  }
  if (kind === 1) {
    const c = rng.pick([P('f/c'), P('f/c'), P('here/f/c')]), m = rng.pick([P('f/m'), P('lmdir'), P('f/c')]);
    return { cmd: harmonizeCommand, inputs: [c, m], args: [c, '-m', m, '-o', rng.next() < 0.8 ? folder() : file(), ...maybe(0.4, ['--report', json()]), ...ow(), '--stage', 'intrinsic'] };
  }
  if (kind === 2) {
    const c = rng.pick([P('c.png'), P('lc.png'), P('f/c/b.jpg')]), m = rng.pick([P('m.png'), P('hm.png'), P('f/m/b.png')]);
    return { cmd: intrinsicCommand, inputs: [c, m], args: [c, '-m', m, '-o', file(), ...maybe(0.5, ['--intermediates', rng.next() < 0.8 ? folder() : file()]), ...ow()] };
  }
  if (kind === 3) {
    const data = rng.pick([P('ds'), P('ds'), P('f')]);
    const pred = maybe(0.3, ['--pred', P('f/c')]);
    return { cmd: evaluateCommand, inputs: [data, ...pred.slice(1)], args: ['--data', data, ...pred, ...maybe(0.8, ['--out', rng.next() < 0.8 ? folder() : file()]), ...ow(), '--lpips', 'none', '--size', '32', '--quiet'] };
  }
  if (kind === 4) {
    const m = rng.pick([P('model'), P('model'), P('here/model'), P('light'), P('f/m')]);
    const modelFiles = ['model.json', 'weights.bin', 'harmonia.json'].map((f) => join(m, f)).filter((f) => existsSync(f));
    return { cmd: exportOnnxCommand, inputs: modelFiles, args: [m, ...maybe(0.85, ['--out', rng.next() < 0.85 ? onnx() : file()]), ...ow()] };
  }
  if (kind === 5) {
    const r = rng.pick([P('run'), P('run'), P('runro'), P('runfifo'), P('runlink'), P('model'), P('exist')]);
    return { cmd: reportCommand, inputs: [join(r, 'log.jsonl')], args: [r, ...ow()] };
  }
  if (kind === 6) {
    const data = rng.pick([P('ds'), P('f')]);
    return { cmd: trainCommand, expensive: true, inputs: [data], args: ['--config', 'smoke', '--data', data, '--out', rng.next() < 0.9 ? folder() : file(), ...ow(), '--quiet'] };
  }
  if (kind === 7) {
    const out = rng.pick([...POOL.folder.map(P), P('light'), P('light')]);
    return { cmd: trainLightCommand, expensive: true, inputs: [], args: ['--out', out, ...maybe(0.4, ['--features', rng.next() < 0.5 ? file() : P('feat.bin')]), ...ow(), '--count', '20', '--epochs', '1', '--quiet'] };
  }
  if (kind === 8) {
    const real = rng.pick([P('src'), P('src'), P('ds')]);
    return { cmd: makeCompositesCommand, inputs: [real], args: ['--real', real, '--out', rng.pick([folder(), P('mc'), P('ihd'), P('mc')]), '--subset', rng.pick(['Synthetic', 'Synthetic', 'User', 'Procedural']), ...maybe(0.3, ['--sheet', file()]), ...ow(), '--min-fmse', '0', '--quiet'] };
  }
  if (kind === 9) {
    return { cmd: makeProcedural, inputs: [], args: ['--out', rng.pick([folder(), P('mp'), P('ihd'), P('ds')]), '--count', '2', '--size', '16', '--test-fraction', '0.5', '--seed', String(rng.int(0, 2)), ...ow(), '--quiet'] };
  }
  if (kind === 10) {
    const model = maybe(0.6, ['--model', rng.pick([P('model'), P('here/model')])]);
    return { cmd: demoCommand, expensive: true, inputs: model.slice(1), args: ['-o', rng.next() < 0.9 ? folder() : file(), '--no-real', ...model, ...ow(), '--count', '1', '--size', '32'] };
  }
  const data = rng.pick([P('ds'), P('f')]);
  const weights = maybe(0.3, ['--weights', P('f/m')]);
  const cmd = kind === 11 ? sweepCommand : experimentCommand;
  return { cmd, expensive: true, inputs: [data, ...weights.slice(1)], args: ['--config', 'smoke', '--data', data, '--out', folder(), ...weights, ...maybe(0.3, ['--cache', folder()]), ...ow(), '--quiet'] };
}

/** The files a command line reads: its input files, and every file under its input folders. */
function inputFilesOf(g: Gen): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const f = join(d, n);
      const l = lstatSync(f);
      if (l.isSymbolicLink()) continue;
      if (l.isDirectory()) walk(f); else if (l.isFile()) out.push(f);
    }
  };
  for (const p of g.inputs) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) walk(p);
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

interface Planned { inputs: SafetyInput[]; outputs: SafetyOutput[]; overwrite: boolean }

/** Runs the command's own path validation; returns the plan or the HarmoniaError. */
function validate(g: Gen): Planned | HarmoniaError {
  try {
    const { values, positionals } = parseCommandArgs(g.cmd, g.args);
    const overwrite = Boolean(values.overwrite);
    const plan = ((): { inputs: SafetyInput[]; outputs: SafetyOutput[] } => {
      switch (g.cmd) {
        case harmonizeCommand: return planHarmonize(values, positionals);
        case intrinsicCommand: return planIntrinsicPaths(values, positionals);
        case evaluateCommand: return planEvaluatePaths(values);
        case exportOnnxCommand: return planExportOnnx(values, positionals);
        case reportCommand: return planReport(values, positionals);
        case trainCommand: return checkTrainOutputs(values, String(values.out), String(values.data));
        case trainLightCommand: return planTrainLight(values);
        case makeCompositesCommand: return planMakeCompositesPaths(values, String(values.subset));
        case makeProcedural: return planMakeProcedural(values);
        case demoCommand: return planDemo(values);
        case sweepCommand: return planStudy(values, SWEEP_FILES);
        default: return planStudy(values, EXPERIMENT_FILES);
      }
    })();
    return { ...plan, overwrite };
  } catch (e) {
    if (e instanceof HarmoniaError) return e;
    throw e;
  }
}

const inode = (p: string): string | undefined => { try { const s = statSync(p); return `${s.dev}:${s.ino}`; } catch { return undefined; } };
const real = (p: string): string => { let cur = p; const rest: string[] = []; for (;;) { try { return join(realpathSync(cur), ...rest.reverse()); } catch { rest.push(cur.slice(dirname(cur).length + 1)); const up = dirname(cur); if (up === cur) return p; cur = up; } } };
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + sep);
const FORMATS: Record<string, string[]> = { '.png': ['png'], '.jpg': ['jpg'], '.json': ['json'], '.onnx': ['onnx'] };

/** The pool artifact an output lands in that its command does not rebuild, or undefined (the oracle's own reading of the rule). */
function foreignArtifact(g: Gen, o: SafetyOutput, values: Record<string, unknown>, positionals: string[]): string | undefined {
  const r = real(o.path);
  const rootReal = realpathSync(root);
  const arts = [...MODELS, ...RUNS, ...DATASETS].map((a) => join(rootReal, a));
  const out = typeof values.out === 'string' ? real(values.out) : undefined;
  for (const a of arts) {
    const name = a.slice(rootReal.length + 1);
    const isRun = RUNS.includes(name);
    if (!under(r, a)) continue;
    // a run's own files are those directly in it (the pool's runs have no subfolders; a new subfolder is not the run's)
    if (isRun && !(r === a || (o.kind === 'file' && dirname(r) === a))) continue;
    const cmd = g.cmd;
    if (cmd === trainCommand && isRun && out === a) continue;
    if (cmd === reportCommand && isRun && positionals.some((p) => real(p) === a) && r === join(a, 'losses.html')) continue;
    if (cmd === trainLightCommand && name === 'light' && out === a && values.overwrite) continue;
    if ((cmd === makeCompositesCommand || cmd === makeProcedural) && DATASETS.includes(name) && out !== undefined && under(a, out)) continue;
    if (cmd === exportOnnxCommand && MODELS.includes(name) && r === join(a, 'model.onnx') && positionals.some((p) => real(p) === a)) continue;
    return a;
  }
  return undefined;
}

/** The independent oracle: returns the first violation of a plan, or undefined. */
function violation(g: Gen, plan: Planned): string | undefined {
  const { values, positionals } = parseCommandArgs(g.cmd, g.args);
  const protectedInodes = new Set(inputFilesOf(g).map(inode));
  const inputFolders = g.inputs.filter((p) => existsSync(p) && statSync(p).isDirectory()).map((p) => realpathSync(p));
  for (const o of plan.outputs) {
    const ino = inode(o.path);
    const st = statSync(o.path, { throwIfNoEntry: false });
    if (o.kind === 'file' && ino && protectedInodes.has(ino)) return `${o.flag} ${o.path} is an input file`;
    const r = real(o.path);
    for (const f of inputFolders) if (under(r, f)) return `${o.flag} ${o.path} is inside the input folder ${f}`;
    if (st && o.kind === 'file' && !st.isFile()) return `${o.flag} ${o.path} is a device, FIFO or folder`;
    if (st && o.kind === 'folder' && !st.isDirectory()) return `${o.flag} ${o.path} is not a folder`;
    if (o.kind === 'file' && st && !plan.overwrite && !o.flag.includes('folder mode') && !o.flag.includes('manifest') && (st.mode & 0o222) === 0) {
      return `${o.flag} ${o.path} is read-only and planned without --overwrite`;
    }
    const art = foreignArtifact(g, o, values, positionals);
    if (art) return `${o.flag} ${o.path} is a file of ${art}, which ${g.cmd.name} does not rebuild`;
    const want = o.flag === '--report' ? '.json' : g.cmd === exportOnnxCommand ? '.onnx' : undefined;
    if (o.kind === 'file' && want && extname(o.path).toLowerCase() !== want) return `${o.flag} ${o.path} does not end in ${want}`;
  }
  return undefined;
}

function hashes(files: readonly string[]): Map<string, string> {
  return new Map(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

/** Every regular file under the pool (symbolic links and FIFOs are never read). */
function tree(): Map<string, string> {
  const t = new Map<string, string>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const f = join(d, n);
      const st = lstatSync(f);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) walk(f);
      else if (st.isFile()) t.set(f, `${st.size}:${st.mtimeMs}:${st.ino}:${(st.mode & 0o777).toString(8)}:${createHash('sha256').update(readFileSync(f)).digest('hex')}`);
    }
  };
  walk(root);
  return t;
}

/** Checks an exit-0 run: every output the plan claims exists and is complete. */
async function assertClaimedOutputs(g: Gen, plan: Planned, label: string): Promise<void> {
  for (const o of plan.outputs) {
    if (o.kind === 'folder') {
      assert.ok(statSync(o.path).isDirectory(), `${label}: ${o.flag} ${o.path} missing`);
      if (g.cmd === makeCompositesCommand || g.cmd === makeProcedural) {
        const { values } = parseCommandArgs(g.cmd, g.args);
        const sub = join(o.path, g.cmd === makeProcedural ? 'Procedural' : String(values.subset));
        assert.ok(existsSync(join(sub, 'build.json')), `${label}: ${sub} has no build.json`);
        const listed = readFileSync(join(sub, `${sub.slice(sub.lastIndexOf(sep) + 1)}_train.txt`), 'utf8').split('\n').filter(Boolean);
        for (const n of listed) await readImage(join(sub, 'composite_images', n));
      }
      continue;
    }
    if (o.flag.includes('manifest')) continue;
    assert.ok(existsSync(o.path), `${label}: claimed ${o.flag} ${o.path} was not written`);
    const ext = extname(o.path).toLowerCase();
    if (/\.(png|jpe?g)$/.test(ext) && !o.flag.startsWith('--report') && !o.flag.startsWith('--out')) {
      const img = await readImage(o.path);
      assert.ok(img.width > 0, label);
    } else if (ext === '.json') {
      JSON.parse(readFileSync(o.path, 'utf8'));
    } else if (ext === '.onnx') {
      assert.ok(readOnnxSummary(readFileSync(o.path)).ops.length > 0, `${label}: ${o.path} is not a complete ONNX model`);
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

const ALL = ['harmonize', 'intrinsic', 'evaluate', 'export-onnx', 'report', 'train', 'train-light', 'make-composites', 'make-procedural', 'demo', 'sweep', 'experiment'];

test(`output rule property: ${VALIDATIONS} random command lines of every writing command validated, ${IN_PROCESS_RUNS} + ${SPAWNED_RUNS} run; no input or other file ever changes, no exit-0 run lacks a complete claimed output`, { timeout: 1_500_000 }, async () => {
  await ensurePool();
  const rng = new Rng('issue-28-output-property');
  let refused = 0, accepted = 0;
  const byCommand = new Map<string, number>(), acceptedBy = new Map<string, number>();
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
    acceptedBy.set(g.cmd.name, (acceptedBy.get(g.cmd.name) ?? 0) + 1);
    const v = violation(g, r);
    assert.equal(v, undefined, `${g.cmd.name} ${g.args.map((a) => a.replace(root, '@')).join(' ')}: ${v}`);
  }
  assert.ok(refused > 100 && accepted > 100, `refused ${refused}, accepted ${accepted}`);
  for (const c of ALL) assert.ok((byCommand.get(c) ?? 0) >= 40 && (acceptedBy.get(c) ?? 0) >= 3, `${c}: ${byCommand.get(c)} validated, ${acceptedBy.get(c)} accepted`);

  // real runs: in-process through main(), and a few as separate processes
  let ok = 0, runs = 0, skipped = 0;
  const runsByCommand = new Map<string, number>(), okByCommand = new Map<string, number>();
  while (runs < IN_PROCESS_RUNS + SPAWNED_RUNS) {
    const g = generate(rng);
    const plan = validate(g);
    if (g.expensive && !(plan instanceof HarmoniaError)) { skipped++; continue; } // accepted training/rendering: validated above
    const kindKey = g.cmd === harmonizeCommand ? (/\/f\/c$/.test(g.args[0]) ? 'harmonize-folder' : 'harmonize-single') : g.cmd.name;
    runsByCommand.set(kindKey, (runsByCommand.get(kindKey) ?? 0) + 1);
    const t0 = tree();
    const mine = inputFilesOf(g);
    const mineBefore = hashes(mine);
    const label = `${g.cmd.name} ${g.args.map((a) => a.replace(root, '@')).join(' ')}`;
    let code: number, err: string[];
    if (runs < IN_PROCESS_RUNS) {
      ({ code, stderr: err } = await runInProcess([g.cmd.name, ...g.args]));
    } else {
      const r = spawnSync(process.execPath, [BIN, g.cmd.name, ...g.args], { encoding: 'utf8', timeout: 120_000 });
      code = r.status ?? -1;
      err = r.stderr.split('\n').filter((l) => l.trim() && !/^npm warn/i.test(l) && !/█|░/.test(l));
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: stack trace`);
    }
    runs++;
    assert.deepEqual(hashes(mine), mineBefore, `${label}: one of its inputs changed`);
    const t1 = tree();
    const touched = [...t1.keys()].filter((f) => t0.get(f) !== t1.get(f));
    const removed = [...t0.keys()].filter((f) => !t1.has(f));
    if (code === 0) {
      ok++;
      okByCommand.set(kindKey, (okByCommand.get(kindKey) ?? 0) + 1);
      assert.ok(!(plan instanceof HarmoniaError), `${label}: exit 0 but validation refused it: ${(plan as HarmoniaError).message}`);
      await assertClaimedOutputs(g, plan as Planned, label);
      const files = new Set((plan as Planned).outputs.filter((o) => o.kind === 'file').map((o) => real(o.path)));
      const folders = (plan as Planned).outputs.filter((o) => o.kind === 'folder').map((o) => real(o.path));
      for (const f of [...touched, ...removed]) {
        assert.ok(files.has(real(f)) || folders.some((d) => under(real(f), d)), `${label}: wrote or removed ${relative(root, f)}, which the plan did not list`);
      }
    } else {
      if (process.env.PROPERTY_DEBUG) console.log(`${label}: ${err.join(' | ').split(root).join('@')}`);
      assert.equal(code, 2, `${label}: exit ${code}: ${err.join(' | ')}`);
      assert.equal(err.length, 1, `${label}: ${err.join(' | ')}`);
      assert.doesNotMatch(err[0], /internal error/, label);
      if (plan instanceof HarmoniaError) assert.deepEqual([...touched, ...removed], [], `${label}: refused but wrote ${touched.join(', ')}`);
    }
  }
  if (process.env.PROPERTY_STATS) console.log(JSON.stringify({ refused, accepted, byCommand: [...byCommand], acceptedBy: [...acceptedBy], ok, skipped, runsByCommand: [...runsByCommand], okByCommand: [...okByCommand] }));
  assert.ok(runs >= 500);
  for (const c of ['harmonize-single', 'harmonize-folder', 'intrinsic', 'evaluate', 'export-onnx', 'report', 'make-composites', 'make-procedural']) {
    assert.ok((runsByCommand.get(c) ?? 0) >= 20 && (okByCommand.get(c) ?? 0) >= 2, `${c}: ${runsByCommand.get(c)} runs, ${okByCommand.get(c)} exit 0`);
  }
  for (const c of ['train', 'train-light', 'demo', 'sweep', 'experiment']) assert.ok((runsByCommand.get(c) ?? 0) >= 10, `${c}: ${runsByCommand.get(c)} refused lines run`);
  assert.ok(ok >= 50, `only ${ok} runs succeeded`);
});


/** The worker's random lines: an -o (folder or template), a job (name, format, inputs). */
const WORKER_DIRS = ['out', 'exist', 'f/c', 'f/m', 'lmdir', 'here', 'here/f/m', 'new/deeper', 'model', 'model/sub', 'light', 'run', 'runro', 'ds', 'ihd', 'src', 'plain.txt', 'fifo.png', 'null.png', 'c.png', '.'];
const WORKER_TEMPLATES = ['{name}.{ext}', '{name}.{ext}', 'h-{name}.{ext}', '{hash}.{ext}', '{name}.png', '{name}.jpg', '{name}', '{name}.{ext}/', 'sub/{name}.{ext}'];
const WORKER_NAMES = ['o1', 'o2', 'c', 'm', 'lc', 'hm', 'hca', 'ro', 'fifo', 'null', 'exist/o', 'new/o', 'f/c/x', 'f/m/b', 'f/m/a', 'model/o', 'model/weights', 'run/o', 'run/log', 'ihd/o', 'ds/x', 'here/c', 'here/o', 'lmdir/a', 'sub/deep/o', 'C', 'RO', 'O1',
  '../c', '../../x', 'a/../c', '/tmp/harmonia-property-abs', 'a//b', 'theirs/', '.', './o', 'x\0y', 'a\\b', 'C:x'];
const EXTS: Record<string, string[]> = { png: ['.png'], jpeg: ['.jpg', '.jpeg'], webp: ['.webp'], tiff: ['.tif', '.tiff'] };
type WorkerLine = { output: string; data: BatchJobData; inputs: string[] };

async function workerLine(rng: Rng): Promise<WorkerLine> {
  const dir = rng.pick(WORKER_DIRS);
  const output = rng.next() < 0.45
    ? P(dir) + (rng.next() < 0.1 ? '/' : '')
    : `${P(dir)}/${rng.pick(WORKER_TEMPLATES)}`;
  const c = rng.pick([P('c.png'), P('lc.png'), P('f/c/a.jpg'), P('hca.jpg')]), m = rng.pick([P('m.png'), P('hm.png'), P('f/m/a.png')]);
  const format = rng.next() < 0.6 ? 'png' : rng.pick(['jpeg', 'webp', 'tiff'] as const);
  const name = rng.pick(WORKER_NAMES);
  const hash = jobHash(readFileSync(c), readFileSync(m), { format }, name);
  return { output, inputs: [c, m], data: { name, composite: c, mask: m, format, hash } };
}

/** The worker's own checks, as the worker runs them: -o at start-up, then the job. */
function planWorker(l: WorkerLine): string | HarmoniaError {
  try {
    checkOutputTemplate(l.output);
    return planJobOutput(l.output, l.data, 'property');
  } catch (e) {
    if (e instanceof HarmoniaError) return e;
    throw e;
  }
}

/** The oracle for an accepted worker line: the shared one (inputs, artifacts, devices, read-only) plus the worker's own rules. */
function workerViolation(l: WorkerLine, out: string): string | undefined {
  const g: Gen = { cmd: workerCommand, args: ['--redis', 'redis://127.0.0.1:6379', '-o', l.output], inputs: l.inputs };
  const v = violation(g, { inputs: [], outputs: [{ path: out, flag: '-o', kind: 'file' }], overwrite: false });
  if (v) return v;
  const i = l.output.indexOf('{');
  const prefix = i < 0 ? l.output : l.output.slice(0, i);
  const rootDir = i < 0 || prefix.endsWith('/') ? prefix : dirname(prefix);
  const r = real(out), rr = real(resolve(rootDir));
  if (r === rr || !under(r, rr)) return `${out} is not inside -o ${l.output} (${rr}) once links are followed`;
  if (lstatSync(out, { throwIfNoEntry: false })?.isSymbolicLink()) return `${out} is a symbolic link`;
  if (l.data.name.split('/').some((seg) => seg === '..' || seg === '.' || seg === '') || l.data.name.startsWith('/') || /[\u0000-\u001f\\]/.test(l.data.name)) return `the job name ${JSON.stringify(l.data.name)} is not a plain relative path`;
  if (!EXTS[l.data.format].includes(extname(out).toLowerCase())) return `${out} does not end in the extension of ${l.data.format}`;
  return undefined;
}

const WORKER_VALIDATIONS = 600, WORKER_RUNS = 30, WORKER_SPAWNED = 3;
const redisSkip = needsRedis();
let redis: RedisHandle | undefined;
after(async () => { await redis?.stop(); });

test(`output rule property, the queue worker: ${WORKER_VALIDATIONS} random -o targets and job names through the worker's own checks, ${WORKER_RUNS} + ${WORKER_SPAWNED} run on redis-server; no input or pre-existing file changes, no done job or exit 0 without a complete, decodable output`, { skip: redisSkip, timeout: 900_000 }, async () => {
  await ensurePool();
  const rng = new Rng('issue-28-output-property-worker');
  let refused = 0, accepted = 0;
  const acceptedNames = new Set<string>();
  for (let k = 0; k < WORKER_VALIDATIONS; k++) {
    const l = await workerLine(rng);
    const r = planWorker(l);
    const label = `worker -o ${l.output.split(root).join('@')} job ${JSON.stringify(l.data.name)} (${l.data.format}, ${l.inputs.map((p) => relative(root, p)).join(' ')})`;
    if (r instanceof HarmoniaError) {
      refused++;
      assert.doesNotMatch(r.message, /internal error|undefined|\[object|probe\./, `${label}: ${r.message}`);
      assert.match(r.message, /-o|job name/, `${label}: ${r.message}`);
      continue;
    }
    accepted++;
    acceptedNames.add(l.data.name);
    assert.equal(workerViolation(l, r), undefined, label);
  }
  assert.ok(refused > 100 && accepted > 60, `refused ${refused}, accepted ${accepted}`);
  assert.ok(acceptedNames.size >= 8, `accepted names: ${[...acceptedNames].join(', ')}`);

  // real runs: each line on a fresh queue (no record: nothing in the pool was made by it), in-process or as `harmonia worker`
  redis = await startRedis(tempDir('harmonia-property-redis-'));
  const url: string = redis.url;
  let runs = 0, done = 0, refusedAtStart = 0;
  for (let k = 0; runs < WORKER_RUNS + WORKER_SPAWNED; k++) {
    const l = await workerLine(rng);
    const planned = planWorker(l);
    const label = `worker run ${runs}: -o ${l.output.split(root).join('@')} job ${JSON.stringify(l.data.name)} (${l.data.format})`;
    // keep the sample varied: at most a third of the runs on lines refused before the worker starts
    let startOk = true;
    try { checkOutputTemplate(l.output); } catch { startOk = false; }
    if (!startOk && refusedAtStart >= (WORKER_RUNS + WORKER_SPAWNED) / 3) continue;
    const t0 = tree();
    const inputsBefore = hashes(l.inputs);
    const queue = `wprop${k}`;
    let outFile: string | undefined, jobDone = false, code: number | undefined;
    if (runs >= WORKER_RUNS || !startOk) {
      // as a real process: exit 0 only with the job done
      if (startOk) {
        const q = new Queue<BatchJobData>(queue, { connection: parseRedisUrl(url) });
        await q.add(l.data.name.slice(0, 50), l.data, { jobId: 'j', attempts: 2, backoff: { type: 'fixed', delay: 50 } });
        await q.close();
      }
      if (runs >= WORKER_RUNS) {
        const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, 'worker', '--redis', url, '--queue', queue, '-o', l.output, '--threads', '1', '--exit-after', '1', '--lock-ms', '2000'], { encoding: 'utf8', timeout: 180_000 });
        code = r.status ?? -1;
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: stack trace`);
        if (!startOk) assert.equal(r.stderr.trim().split('\n').filter((x: string) => !/^npm warn/i.test(x)).length, 1, `${label}: ${r.stderr}`);
      } else {
        const r = await runInProcess(['worker', '--redis', url, '--queue', queue, '-o', l.output, '--exit-after', '1']);
        code = r.code;
        assert.equal(r.stderr.length, 1, `${label}: ${r.stderr.join(' | ')}`);
        assert.match(r.stderr[0], /^harmonia worker: .*-o/, label);
      }
      if (!startOk) {
        refusedAtStart++;
        assert.equal(code, 2, `${label}: refused at start but exit ${code}`);
      } else {
        assert.ok(code === 0 || code === 1, `${label}: exit ${code}`);
      }
    } else {
      const q = new Queue<BatchJobData>(queue, { connection: parseRedisUrl(url) });
      await q.add(l.data.name.slice(0, 50), l.data, { jobId: 'j', attempts: 2, backoff: { type: 'fixed', delay: 50 } });
      const w = await startBatchWorker({ redis: url, queue, output: l.output, lockMs: 2000 });
      try {
        for (const t = Date.now(); ;) {
          const p = await queueProgress(url, queue);
          if (p.done + p.failed >= 1 && p.waiting + p.active + p.delayed === 0) break;
          assert.ok(Date.now() - t < 120_000, `${label}: not settled: ${JSON.stringify(p)}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      } finally {
        await w.close();
      }
      await q.close();
    }
    if (startOk) {
      const q = new Queue<BatchJobData, BatchJobResult>(queue, { connection: parseRedisUrl(url) });
      const j = await q.getJob('j');
      jobDone = (await j?.getState()) === 'completed';
      outFile = j?.returnvalue?.output;
      await q.close();
      if (code !== undefined) assert.equal(code, jobDone ? 0 : 1, `${label}: exit ${code} with the job ${jobDone ? 'done' : 'failed'}`);
    }
    runs++;
    assert.deepEqual(hashes(l.inputs), inputsBefore, `${label}: an input changed`);
    const t1 = tree();
    const changed = [...t0.keys()].filter((f) => t1.get(f) !== t0.get(f));
    assert.deepEqual(changed.map((f) => relative(root, f)), [], `${label}: a pre-existing file changed or vanished`);
    const created = [...t1.keys()].filter((f) => !t0.has(f));
    if (jobDone) {
      done++;
      assert.ok(!(planned instanceof HarmoniaError), `${label}: done, but the worker's checks refuse it: ${(planned as HarmoniaError).message}`);
      assert.equal(outFile, planned, label);
      assert.deepEqual(created.map(real), [real(planned as string)], `${label}: created ${created.map((f) => relative(root, f)).join(', ')}`);
      const img = await readImage(planned as string);
      assert.ok(img.width > 0 && img.height > 0, label);
      const magic = readFileSync(planned as string).subarray(0, 4).toString('hex');
      const want = { png: /^89504e47/, jpeg: /^ffd8ff/, webp: /^52494646/, tiff: /^(49492a00|4d4d002a)/ }[l.data.format];
      assert.match(magic, want, `${label}: the output is not ${l.data.format}`);
    } else {
      assert.deepEqual(created.map((f) => relative(root, f)), [], `${label}: the job failed but wrote files`);
    }
  }
  if (process.env.PROPERTY_STATS) console.log(JSON.stringify({ refused, accepted, acceptedNames: [...acceptedNames], runs, done, refusedAtStart }));
  assert.ok(done >= 5 && done <= runs - 5, `${done} of ${runs} worker runs done: the sample should hold both outcomes`);
});
