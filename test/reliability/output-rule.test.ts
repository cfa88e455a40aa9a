/**
 * Issue 28, the one output rule: a test per fault it names for the commands that write (faults 2, 3,
 * 4, 5, 7 and 11), each reproducing the case and asserting the fix — the exit code, the one
 * message naming the flag or file, and the bytes of what must not change. docs/RELIABILITY.md,
 * "Output safety", lists them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../src/engine/index.ts';
import { buildGenerator, type GeneratorConfig } from '../../src/models/generator.ts';
import { saveHarmonizationModel } from '../../src/models/folder.ts';
import { saveModel } from '../../src/models/io.ts';
import { buildLightNet } from '../../src/intrinsic/light-net-tf.ts';
import { onnxChecks } from '../../src/cli/commands/export-onnx.ts';
import { planTrainLight, lightFolderKind } from '../../src/cli/commands/train-light.ts';
import { readManifest, batchRecipe, recipeDifference } from '../../src/pipeline/batch.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { makeComposites } from '../../src/data/composites.ts';
import { acquireLock } from '../../src/util/atomic.ts';
import { RUN_LOCK } from '../../src/train/checkpoint.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { patternRgb, rawToPng, rawToJpeg } from '../fixtures-gen/images.ts';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';

const tempDir = tempDirFactory();
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const W = 32, H = 24;

/** Every file under `d` → sha256 + mode (symbolic links → their target; FIFOs → "fifo"). */
function tree(d: string): Map<string, string> {
  const t = new Map<string, string>();
  const walk = (p: string): void => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      if (lstatSync(f).isSymbolicLink()) { t.set(relative(d, f), `link:${readlinkSync(f)}`); continue; }
      const st = statSync(f);
      if (st.isDirectory()) { walk(f); continue; }
      t.set(relative(d, f), st.isFile() ? `${createHash('sha256').update(readFileSync(f)).digest('hex')}:${(st.mode & 0o777).toString(8)}` : 'special');
    }
  };
  walk(d);
  return t;
}

const mkfifo = (p: string): void => { const r = spawnSync('mkfifo', [p]); assert.equal(r.status, 0, `mkfifo ${p}`); };

async function refused(args: string[], msg: RegExp, d: string): Promise<void> {
  const r = await runCli(args);
  const where = `${args.join(' ')}: ${r.stderr.join(' | ')}`;
  assert.equal(r.code, 2, where);
  assert.equal(r.stderr.length, 1, where);
  const prefix = `harmonia ${args[0]}: `;
  assert.ok(r.stderr[0].startsWith(prefix), where);
  assert.match(r.stderr[0].slice(prefix.length).split(d).join('@'), msg, where);
  assert.doesNotMatch(r.stderr[0], /internal error|\n\s+at /, where);
}

async function modelFolder(dir: string): Promise<void> {
  await initEngine({ quiet: true });
  const cfg: GeneratorConfig = { maskInput: true, base: 8, seed: 9 };
  const g = buildGenerator(cfg);
  await saveHarmonizationModel(dir, g, cfg, { name: 'rule', input: 'semiHarmonized' });
  g.dispose();
}

test('fault 2: export-onnx --out never replaces a model file, a read-only file, a FIFO, a device or a file of another format; a failing --check writes nothing', async () => {
  const d = tempDir('harmonia-rule-onnx-');
  const m = join(d, 'm');
  await modelFolder(m);
  rmSync(join(m, 'model.onnx'), { force: true });
  writeFileSync(join(d, 'x.jpg'), await rawToJpeg(patternRgb(W, H), W, H, 3));
  writeFileSync(join(d, 'ro.onnx'), 'old');
  chmodSync(join(d, 'ro.onnx'), 0o444);
  mkfifo(join(d, 'fifo.onnx'));
  symlinkSync('/dev/null', join(d, 'null.onnx'));
  symlinkSync(join(m, 'weights.bin'), join(d, 'lw.onnx'));
  symlinkSync(d, join(d, 'here'));
  const before = tree(d);
  // the cases: the weights, model.json and harmonia.json of the model itself
  await refused(['export-onnx', m, '--out', join(m, 'weights.bin')], /^@\/m\/weights\.bin: --out is the same file as the input model file @\/m\/weights\.bin; refusing to overwrite an input/, d);
  await refused(['export-onnx', m, '--out', join(m, 'model.json')], /--out is the same file as the input model file/, d);
  await refused(['export-onnx', m, '--out', join(m, 'harmonia.json'), '--overwrite'], /--out is the same file as the input model file/, d);
  await refused(['export-onnx', m, '--out', join(d, 'new.bin')], /^@\/new\.bin: --out must end in \.onnx \(it is written as ONNX\), got "\.bin"$/, d);
  await refused(['export-onnx', m, '--out', join(m, 'other.onnx')], /^@\/m\/other\.onnx: --out is inside a model folder, @\/m \(it has model\.json\); refusing to write over its files/, d);
  await refused(['export-onnx', m, '--out', join(d, 'x.jpg')], /^@\/x\.jpg: --out must end in \.onnx .*got "\.jpg"$/, d);
  await refused(['export-onnx', m, '--out', join(d, 'ro.onnx')], /^@\/ro\.onnx: --out exists and is read-only; refusing to replace it \(pass --overwrite/, d);
  await refused(['export-onnx', m, '--out', join(d, 'fifo.onnx'), '--overwrite'], /--out exists and is not a regular file \(device, FIFO or socket\)/, d);
  await refused(['export-onnx', m, '--out', join(d, 'null.onnx'), '--overwrite'], /--out exists and is not a regular file/, d);
  await refused(['export-onnx', m, '--out', join(d, 'lw.onnx')], /^@\/lw\.onnx: --out is the same file as the input model file .*weights\.bin; refusing to overwrite an input/, d);
  await refused(['export-onnx', m, '--out', join(d, 'here/m/../m/weights.onnx')], /--out is inside a model folder/, d);
  assert.deepEqual(tree(d), before, 'nothing changed');
  // a failing --check: exit 1, neither the default model.onnx nor --out written (nothing tagged fresh)
  const orig = onnxChecks.generator;
  onnxChecks.generator = async () => 1;
  try {
    for (const extra of [[], ['--out', join(d, 'new.onnx')]]) {
      const r = await runCli(['export-onnx', m, '--check', ...extra]);
      assert.equal(r.code, 1, r.stderr.join(' | '));
      assert.match(r.stderr.join('\n'), /does not match TensorFlow\.js .*nothing written/);
    }
  } finally {
    onnxChecks.generator = orig;
  }
  assert.ok(!existsSync(join(m, 'model.onnx')) && !existsSync(join(d, 'new.onnx')), 'a failing --check wrote nothing');
  assert.deepEqual(tree(d), before);
  // read-only with --overwrite: replaced, its mode kept; the default target is the model's own model.onnx
  const ok = await runCli(['export-onnx', m, '--out', join(d, 'ro.onnx'), '--overwrite']);
  assert.equal(ok.code, 0, ok.stderr.join(' | '));
  assert.equal(statSync(join(d, 'ro.onnx')).mode & 0o777, 0o444);
  assert.ok(readFileSync(join(d, 'ro.onnx')).length > 1000);
  assert.equal((await runCli(['export-onnx', m])).code, 0);
  assert.ok(existsSync(join(m, 'model.onnx')));
  for (const f of ['weights.bin', 'model.json', 'harmonia.json']) assert.equal(tree(d).get(`m/${f}`), before.get(`m/${f}`), `m/${f} unchanged`);
});

/** A real-photo source for make-composites (3 train, 2 test photos with masks). */
async function compositeSource(d: string): Promise<string> {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  const src = join(d, 'src');
  mkdirSync(join(src, 'real_images'), { recursive: true });
  mkdirSync(join(src, 'masks'), { recursive: true });
  for (const n of ['a', 'b', 'c', 'e', 'f']) {
    writeFileSync(join(src, 'real_images', `${n}.png`), await rawToPng(patternRgb(W, H).map((v, i) => (v + 37 * n.charCodeAt(0) * (i % 3 + 1)) % 256), W, H, 3));
    writeFileSync(join(src, 'masks', `${n}_1.png`), await rawToPng(m, W, H, 1));
  }
  writeFileSync(join(src, 'src_train.txt'), 'a_1_1.png\nb_1_1.png\nc_1_1.png\n');
  writeFileSync(join(src, 'src_test.txt'), 'e_1_1.png\nf_1_1.png\n');
  return src;
}

test('fault 3: make-composites --subset X and make-procedural never delete a subset folder Harmonia did not build (even with --overwrite); an empty one or their own is rebuilt', async () => {
  const d = tempDir('harmonia-rule-subset-');
  const src = await compositeSource(d);
  // an iHarmony4 root with the user's HCOCO (no build.json) and Procedural
  const root = join(d, 'iharmony');
  for (const s of ['HCOCO/composite_images', 'HCOCO/masks', 'HCOCO/real_images', 'Procedural/real_images']) mkdirSync(join(root, s), { recursive: true });
  writeFileSync(join(root, 'HCOCO/composite_images/c_1_1.jpg'), 'user data');
  writeFileSync(join(root, 'HCOCO/HCOCO_train.txt'), 'c_1_1.jpg\n');
  writeFileSync(join(root, 'Procedural/real_images/p.png'), 'user data');
  writeFileSync(join(root, 'IHD_train.txt'), 'HCOCO/composite_images/c_1_1.jpg\n');
  const before = tree(d);
  for (const extra of [[], ['--overwrite']]) {
    await refused(['make-composites', '--real', src, '--out', root, '--subset', 'HCOCO', '--min-fmse', '0', '--quiet', ...extra],
      /^@\/iharmony\/HCOCO: --out: the subset folder HCOCO was not built by Harmonia \(it has no build\.json\); refusing to replace or delete it, even with --overwrite/, d);
    await refused(['make-procedural', '--out', root, '--count', '2', '--size', '32', '--quiet', ...extra], /^@\/iharmony\/Procedural: --out: the subset folder Procedural was not built by Harmonia/, d);
  }
  assert.deepEqual(tree(d), before, 'the user\'s subsets are byte-identical');
  // a file named like the subset is refused too; an empty folder is built into; a subset Harmonia built is rebuilt
  writeFileSync(join(root, 'Mine'), 'a file');
  await refused(['make-composites', '--real', src, '--out', root, '--subset', 'Mine', '--quiet'], /--out: Mine there is a file, not a subset folder/, d);
  mkdirSync(join(root, 'Empty'));
  const r = await runCli(['make-composites', '--real', src, '--out', root, '--subset', 'Empty', '--min-fmse', '0', '--quiet']);
  assert.equal(r.code, 0, r.stderr.join(' | '));
  assert.ok(existsSync(join(root, 'Empty/build.json')) && readdirSync(join(root, 'Empty/composite_images')).length > 0);
  const again = await runCli(['make-composites', '--real', src, '--out', root, '--subset', 'Empty', '--min-fmse', '0', '--seed', '4', '--quiet']);
  assert.equal(again.code, 0, again.stderr.join(' | '));
  assert.equal(readFileSync(join(root, 'HCOCO/composite_images/c_1_1.jpg'), 'utf8'), 'user data');
  assert.match(readFileSync(join(root, 'IHD_train.txt'), 'utf8'), /^HCOCO\/composite_images\/c_1_1\.jpg$/m, 'the IHD list keeps the user\'s lines');
  // the library refuses as well (the check sits in buildSubsetAtomically)
  await assert.rejects(makeComposites(src, root, { subset: 'HCOCO', minFmse: 0 }), (e: Error) => e instanceof HarmoniaError && /not built by Harmonia/.test(e.message));
  await assert.rejects(writeProceduralDataset(root, { count: 2, seed: 1, width: 32, height: 32 }), /not built by Harmonia/);
  assert.equal(readFileSync(join(root, 'Procedural/real_images/p.png'), 'utf8'), 'user data');
});

test('fault 4: train-light --out never overwrites a generator or another model folder (even with --overwrite), nor the shipped models/light without --overwrite', async () => {
  const d = tempDir('harmonia-rule-light-');
  const g = join(d, 'gen');
  await modelFolder(g);
  const light = join(d, 'light');
  const net = buildLightNet([4], 1);
  await saveModel(net, light);
  net.dispose();
  mkdirSync(join(d, 'other'));
  writeFileSync(join(d, 'other/model.json'), JSON.stringify({ modelTopology: { config: { layers: [{ config: { name: 'dense_1' } }] } } }));
  const before = tree(d);
  assert.equal(lightFolderKind(light), 'light');
  assert.match(lightFolderKind(g), /harmonization generator/);
  for (const extra of [[], ['--overwrite']]) {
    await refused(['train-light', '--out', g, '--count', '20', '--epochs', '1', '--quiet', ...extra], /^@\/gen: --out is a harmonization generator \(it has harmonia\.json\); train-light never overwrites it, even with --overwrite/, d);
    await refused(['train-light', '--out', join(d, 'other'), '--count', '20', '--epochs', '1', '--quiet', ...extra], /--out is a model train-light did not make \(layers dense_1\)/, d);
  }
  await refused(['train-light', '--out', light, '--count', '20', '--epochs', '1', '--quiet'], /^@\/light: --out already holds a trained light model; pass --overwrite to replace it/, d);
  assert.deepEqual(tree(d), before);
  // the default --out is the shipped models/light: planned only with --overwrite
  if (existsSync('models/light/model.json')) {
    assert.throws(() => planTrainLight({}), /already holds a trained light model; pass --overwrite/);
    assert.equal(planTrainLight({ overwrite: true }).out, 'models/light');
  }
  assert.equal(planTrainLight({ out: light, overwrite: true }).out, light);
  assert.equal(planTrainLight({ out: join(d, 'fresh') }).out, join(d, 'fresh'));
});

async function folderFixture(d: string): Promise<void> {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  mkdirSync(join(d, 'F/comp'), { recursive: true });
  mkdirSync(join(d, 'F/mask'), { recursive: true });
  for (const n of ['a', 'b', 'c']) {
    writeFileSync(join(d, 'F/comp', `${n}.png`), await rawToPng(patternRgb(W, H).map((v, i) => (v + n.charCodeAt(0) * (i % 3)) % 256), W, H, 3));
    writeFileSync(join(d, 'F/mask', `${n}.png`), await rawToPng(m, W, H, 1));
  }
}

test('fault 5: a folder rerun with other options (--stage, --model, --harmonize-background) redoes the outputs and names the difference; --keep-going reports a bad image and exits 1', async () => {
  const d = tempDir('harmonia-rule-manifest-');
  await folderFixture(d);
  const m = join(d, 'm');
  await modelFolder(m);
  const args = [join(d, 'F/comp'), '-m', join(d, 'F/mask'), '-o', join(d, 'Fo')];
  const first = await runCli(['harmonize', ...args, '--stage', 'intrinsic']);
  assert.equal(first.code, 0, first.stderr.join(' | '));
  assert.match(first.stdout.join('\n'), /harmonized 3 image\(s\) \(0 already done\)/);
  const man1 = readManifest(join(d, 'Fo'));
  assert.deepEqual(man1.get('a.png')?.recipe, { stage: 'intrinsic', model: null, harmonizeBackground: false, maxSide: 1024, quality: null });
  // the case: another --stage is not "already done"
  const second = await runCli(['harmonize', ...args, '--model', m, '--stage', 'full']);
  assert.equal(second.code, 0, second.stderr.join(' | '));
  const out2 = second.stdout.join('\n');
  assert.match(out2, /harmonized 3 image\(s\) \(0 already done\)/);
  assert.match(out2, /redid a: made with other options: --stage full, was intrinsic; --model m@[0-9a-f]{16}, was none/);
  // the same options again: all done; then --harmonize-background: redone, named
  const third = await runCli(['harmonize', ...args, '--model', m, '--stage', 'full']);
  assert.match(third.stdout.join('\n'), /harmonized 0 image\(s\) \(3 already done\)/);
  const fourth = await runCli(['harmonize', ...args, '--model', m, '--stage', 'full', '--harmonize-background']);
  assert.match(fourth.stdout.join('\n'), /redid b: made with other options: --harmonize-background on, was off/);
  // another model (other weights) is another recipe
  const m2 = join(d, 'm2');
  await initEngine({ quiet: true });
  const g2 = buildGenerator({ maskInput: true, base: 8, seed: 10 });
  await saveHarmonizationModel(m2, g2, { maskInput: true, base: 8, seed: 10 }, { name: 'rule2', input: 'semiHarmonized' });
  g2.dispose();
  const was = batchRecipe({ model: m, stage: 'full' }), now = batchRecipe({ model: m2, stage: 'full' });
  assert.match(recipeDifference(was, now), /^--model m2@[0-9a-f]{16}, was m@[0-9a-f]{16}$/);
  assert.equal(recipeDifference(was, batchRecipe({ model: `${m}/`, stage: 'full' })), '', 'the same model by another path is the same recipe');
  // --keep-going: a corrupt composite is reported and skipped; the others are written; exit 1 at the end
  writeFileSync(join(d, 'F/comp/b.png'), Buffer.from('not a png'));
  const noKeep = await runCli(['harmonize', ...args, '--stage', 'intrinsic']);
  assert.equal(noKeep.code, 2);
  rmSync(join(d, 'Fo'), { recursive: true });
  const keep = await runCli(['harmonize', ...args, '--stage', 'intrinsic', '--keep-going']);
  assert.equal(keep.code, 1, keep.stderr.join(' | '));
  assert.match(keep.stderr.join('\n'), /^failed b: .*b\.png/m);
  assert.match(keep.stderr.join('\n'), /1 of 3 image\(s\) failed \(--keep-going\): b$/m);
  assert.match(keep.stdout.join('\n'), /harmonized 2 image\(s\) \(0 already done, 1 failed\)/);
  assert.deepEqual(readdirSync(join(d, 'Fo')).sort(), ['a.png', 'c.png', 'harmonia-manifest.jsonl']);
  await refused(['harmonize', join(d, 'F/comp/a.png'), '-m', join(d, 'F/mask/a.png'), '-o', join(d, 'one.png'), '--keep-going', '--stage', 'intrinsic'], /^--keep-going: only for folder runs/, d);
});

const TRAIN = (data: string, out: string): string[] => ['train', '--config', 'smoke', '--data', data, '--out', out, '--setting', 'mask', '--epochs', '2', '--backend', 'cpu', '--quiet', '--cache', join(data, '..', 'cache')];

test('fault 7 and 11: one train per run folder (a second one fails fast), a finished run is not trained over, read-only/FIFO run files and losses.html are refused', { timeout: 600_000 }, async () => {
  const d = tempDir('harmonia-rule-train-');
  const data = join(d, 'data');
  await writeProceduralDataset(data, { count: 10, seed: 5, width: 64, height: 64, testFraction: 0.2 });
  const run = join(d, 'run');
  // a second train into the same --out while the first runs: refused at once, naming the other pid
  const a = spawn(process.execPath, [BIN, ...TRAIN(data, run)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errA = '';
  a.stderr.on('data', (c: Buffer) => { errA += c.toString(); });
  const exited = new Promise<number | null>((res) => a.on('exit', (code) => res(code)));
  let sawLock = false;
  for (let i = 0; i < 12_000 && a.exitCode === null; i++) {
    if (existsSync(join(run, RUN_LOCK))) { sawLock = true; break; }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(sawLock, `the first train took the lock (${errA})`);
  const t0 = Date.now();
  const b = await runCli(TRAIN(data, run));
  const ms = Date.now() - t0;
  assert.equal(b.code, 2, b.stderr.join(' | '));
  assert.match(b.stderr[0], new RegExp(`^harmonia train: .*${RUN_LOCK}: --out: another harmonia train \\(pid ${a.pid}\\) is training into .*run; one run folder takes one run at a time`));
  // "fails fast" (the acceptance): before the engine, the data or the cache; the first train needs
  // is still running (it trains for about 15 s here), so 60 s is a generous bound on a loaded 2-core box
  assert.ok(ms < 60_000, `refused before any work (${ms} ms)`);
  assert.equal(await exited, 0, errA);
  assert.ok(!existsSync(join(run, RUN_LOCK)), 'the lock is released at the end');
  const log = readFileSync(join(run, 'log.jsonl'), 'utf8');
  const gen = tree(join(run, 'generator'));
  // a lock left by a killed process is taken over; one held by a live process (this one) is not
  writeFileSync(join(run, RUN_LOCK), '999999999\n');
  const release = acquireLock(join(run, RUN_LOCK), () => 'busy');
  release();
  assert.ok(!existsSync(join(run, RUN_LOCK)));
  // a finished run whose checkpoint/ was deleted: not trained over without --overwrite (nor "resumed")
  rmSync(join(run, 'checkpoint'), { recursive: true, force: true });
  await refused(TRAIN(data, run), /^@\/run is a finished training run \(its generator\/ is there\): pass --overwrite to train over it/, d);
  await refused([...TRAIN(data, run), '--resume'], /^--resume: nothing to resume: @\/run is a finished run \(generator\/ is there, no checkpoint\); pass --overwrite/, d);
  assert.deepEqual(tree(join(run, 'generator')), gen);
  assert.equal(readFileSync(join(run, 'log.jsonl'), 'utf8'), log, 'one run\'s log, untouched');
  // fault 11: read-only config.json and a FIFO log.jsonl / losses.html of a new run folder are refused before any work
  const r2 = join(d, 'run2');
  mkdirSync(r2);
  writeFileSync(join(r2, 'config.json'), '{}');
  chmodSync(join(r2, 'config.json'), 0o444);
  await refused(TRAIN(data, r2), /^@\/run2\/config\.json: --out \(config\.json\) exists and is read-only; refusing to replace it \(pass --overwrite/, d);
  const r3 = join(d, 'run3');
  mkdirSync(r3);
  mkfifo(join(r3, 'losses.html'));
  await refused([...TRAIN(data, r3), '--overwrite'], /^@\/run3\/losses\.html: --out \(losses\.html\) exists and is not a regular file \(device, FIFO or socket\)/, d);
  // train --out a model folder or a dataset: refused
  await refused(TRAIN(data, join(run, 'generator')), /--out is a model folder .*refusing to write into it/, d);
  await refused(TRAIN(data, data), /--out is the data folder/, d);
  // report: read-only losses.html refused, replaced with --overwrite (mode kept); a FIFO never
  chmodSync(join(run, 'losses.html'), 0o444);
  const html = readFileSync(join(run, 'losses.html'));
  await refused(['report', run], /^@\/run\/losses\.html: the report exists and is read-only; refusing to replace it \(pass --overwrite/, d);
  assert.deepEqual(readFileSync(join(run, 'losses.html')), html);
  const rep = await runCli(['report', run, '--overwrite']);
  assert.equal(rep.code, 0, rep.stderr.join(' | '));
  assert.equal(statSync(join(run, 'losses.html')).mode & 0o777, 0o444);
  rmSync(join(run, 'losses.html'));
  mkfifo(join(run, 'losses.html'));
  await refused(['report', run, '--overwrite'], /losses\.html: the report exists and is not a regular file/, d);
  assert.ok(!statSync(join(run, 'losses.html')).isFile(), 'the FIFO is left alone');
});
