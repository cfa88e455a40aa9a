/**
 * Issue 26 point 5: every training run leaves a usable model. generator/ is written at the end of every
 * epoch, when --max-steps stops the run and when SIGINT interrupts it, and `harmonia harmonize --model`
 * loads it; the progress bar's total and ETA follow --max-steps.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { initEngine } from '../../src/engine/index.ts';
import { train } from '../../src/train/trainer.ts';
import { memorySource } from '../../src/data/memory.ts';
import { DEFAULT_TRAIN, mergeTrainConfig } from '../../src/train/config.ts';
import { loadHarmonizationModel, readModelMeta } from '../../src/models/folder.ts';
import { readImage } from '../../src/image/io.ts';
import { Progress } from '../../src/util/progress.ts';
import { main } from '../../src/cli/main.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { tempDirFactory } from '../helpers.ts';
import { syntheticSamples } from './synthetic.ts';

await initEngine({ backend: 'cpu' });
const tempDir = tempDirFactory();
const repo = resolve(new URL('../..', import.meta.url).pathname);
const cli = join(repo, 'bin', 'harmonia.mjs');

test('generator/ is written at the end of every epoch, marked partial until the run is done', async () => {
  const SIZE = 16;
  const samples = syntheticSamples(4, SIZE);
  const cfg = mergeTrainConfig(DEFAULT_TRAIN, {
    generator: { base: 4 }, discriminator: { base: 4 }, epochs: 2, batchSize: 2, size: SIZE, crop: SIZE, checkpointEvery: 100, seed: 3,
    loss: { setting: 'mask', lambdaMask: 50, lambdaUnmask: 100 },
  });
  const dir = join(tempDir('harmonia-usable-'), 'run');
  const seen: { step: number; notes: string[]; planned: unknown }[] = [];
  const pending: Promise<void>[] = [];
  const r = await train({
    config: cfg, runDir: dir, data: memorySource(samples, { height: SIZE, width: SIZE, batchSize: 2, seed: 3, flip: false }), quiet: true,
    // step 3 is the first of epoch 2: epoch 1's generator/ is there
    onStep: ({ step }) => { if (step === 3) pending.push(readModelMeta(join(dir, 'generator')).then((m) => { seen.push({ step, notes: m.card.notes ?? [], planned: m.card.metrics?.train_steps_planned }); })); },
  });
  await Promise.all(pending);
  r.generator.dispose();
  assert.equal(r.status, 'done');
  assert.equal(seen.length, 1, 'generator/ existed during epoch 2');
  assert.match(seen[0].notes[0], /^partial model: end of epoch 1 at step 2 of 4 \(epoch 1 of 2\); continue with harmonia train --resume --out /);
  assert.equal(seen[0].planned, 4);
  const final = await readModelMeta(join(dir, 'generator'));
  assert.ok(!(final.card.notes ?? []).some((n) => n.startsWith('partial')), 'the final model is not marked partial');
  assert.equal(final.card.metrics?.train_steps_planned, undefined);
  assert.match(readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').at(-1)!, /"event":"done"/);
});

test('train --max-steps leaves a generator/ that harmonize --model uses; the bar counts to --max-steps', async () => {
  const dir = tempDir('harmonia-maxsteps-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 8, 32);
  const out = join(dir, 'run');
  const errs: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => { errs.push(String(chunk)); return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['train', '--config', 'smoke', '--real', photos, '--size', '32', '--batches-per-epoch', '10', '--out', out, '--max-steps', '3', '--workers', '1']);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(code, 0, errs.join(''));
  // 2 epochs × 10 batches planned, but the run stops at 3: the bar's total is 3, not 20
  const bar = errs.join('').split('\n').filter((l) => l.startsWith('train '));
  assert.ok(bar.length > 0, errs.join(''));
  assert.match(bar.at(-1)!, / 3\/3 100% /);
  assert.ok(!errs.join('').includes('/20 '), 'no bar over the whole preset');
  const meta = await readModelMeta(join(out, 'generator'));
  assert.match(meta.card.notes?.[0] ?? '', /^partial model: stopped by --max-steps at step 3 of 20 /);
  assert.equal(meta.card.metrics?.train_step, 3);
  assert.equal(meta.card.input, 'composite');
  // generator/ holds the checkpoint's weights
  assert.ok(readFileSync(join(out, 'generator', 'weights.bin')).equals(readFileSync(join(out, 'checkpoint', 'generator', 'weights.bin'))));
  const img = join(photos, 'real_images', 'photo0.png'), mask = join(photos, 'masks', 'photo0_1.png'), result = join(dir, 'result.png');
  assert.equal(await main(['harmonize', img, '--mask', mask, '--model', join(out, 'generator'), '-o', result]), 0);
  const res = await readImage(result);
  assert.deepEqual([res.width, res.height], [32, 32]);
  const model = await loadHarmonizationModel(join(out, 'generator'));
  assert.equal(model.config.base, 8);
  model.generator.dispose();
});

test('SIGINT stops the CLI run after the step in progress with a checkpoint and a loadable generator/; --resume continues', async () => {
  const dir = tempDir('harmonia-sigint-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 8, 32);
  const out = join(dir, 'run');
  const args = ['train', '--config', 'smoke', '--real', photos, '--size', '32', '--batches-per-epoch', '1000', '--epochs', '1', '--out', out, '--workers', '1', '--checkpoint-every', '1', '--backend', 'cpu'];
  const child = spawn(process.execPath, [cli, ...args, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  let sent = false;
  for (let i = 0; i < 12000 && child.exitCode === null; i++) {
    if (existsSync(join(out, 'checkpoint', 'state.json'))) { child.kill('SIGINT'); sent = true; break; }
    await new Promise((r) => setTimeout(r, 10));
  }
  const code = await exited;
  assert.ok(sent, `a checkpoint appeared before the run ended: ${stderr}`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping after this step/);
  assert.match(stdout, /^interrupted by SIGINT after (\d+) steps; generator saved to .*generator; continue with --resume/);
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number };
  assert.ok(state.step >= 1 && state.step < 1000, `stopped early, at step ${state.step}`);
  const meta = await readModelMeta(join(out, 'generator'));
  assert.equal(meta.card.notes?.[0], `partial model: interrupted by SIGINT at step ${state.step} of 1000 (epoch 1 of 1); continue with harmonia train --resume --out ${out}`);
  assert.ok(readFileSync(join(out, 'generator', 'weights.bin')).equals(readFileSync(join(out, 'checkpoint', 'generator', 'weights.bin'))), 'generator/ = the checkpoint');
  const model = await loadHarmonizationModel(join(out, 'generator'));
  model.generator.dispose();
  // the interrupted run continues where it stopped
  const more = state.step + 2;
  assert.equal(await main([...args, '--resume', '--max-steps', String(more), '--quiet']), 0);
  const after = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number };
  assert.equal(after.step, more);
  assert.equal((await readModelMeta(join(out, 'generator'))).card.metrics?.train_step, more);
});

test('a killed swap of generator/ is recovered: the previous complete folder comes back', async () => {
  const SIZE = 16;
  const samples = syntheticSamples(4, SIZE);
  const cfg = mergeTrainConfig(DEFAULT_TRAIN, { generator: { base: 4 }, discriminator: { base: 4 }, epochs: 1, batchSize: 2, size: SIZE, crop: SIZE, checkpointEvery: 100, seed: 3 });
  const dir = join(tempDir('harmonia-swap-'), 'run');
  const src = () => memorySource(samples, { height: SIZE, width: SIZE, batchSize: 2, seed: 3, flip: false });
  const r = await train({ config: { ...cfg, epochs: 2 }, runDir: dir, data: src(), quiet: true, maxSteps: 1 });
  r.generator.dispose();
  const { renameSync, mkdirSync } = await import('node:fs');
  // killed between the two renames: generator/ moved to .generator.old, the new one still a temp folder
  renameSync(join(dir, 'generator'), join(dir, '.generator.old'));
  mkdirSync(join(dir, '.generator.tmp-99999'));
  writeFileSync(join(dir, '.generator.tmp-99999', 'model.json'), '{"trunc');
  const before = readFileSync(join(dir, '.generator.old', 'weights.bin'));
  // the next start recovers the folder first (here it then refuses: another seed cannot resume this run)
  await assert.rejects(train({ config: { ...cfg, epochs: 2, seed: 4 }, runDir: dir, data: src(), quiet: true, resume: true }), /different configuration/);
  assert.ok(readFileSync(join(dir, 'generator', 'weights.bin')).equals(before));
  assert.ok(!existsSync(join(dir, '.generator.old')) && !existsSync(join(dir, '.generator.tmp-99999')));
  (await loadHarmonizationModel(join(dir, 'generator'))).generator.dispose();
});

test('the ETA of a resumed bar counts only the work of this run', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  try {
    const p = new Progress('train', 100, { quiet: true });
    p.set(50); // 50 steps done by an earlier run
    mock.timers.tick(10_000);
    p.tick(10); // 10 steps in 10 s: 1 step/s, 40 left
    assert.match(p.render(), /^train \S+ 60\/100 60% 10s elapsed, ETA 40s$/);
  } finally {
    mock.timers.reset();
  }
});
