/**
 * Adding a generator or a loss setting is one file with one registry line (issue 27): a user module
 * (test/fixtures-gen/toy-generator.ts, toy-loss.ts), loaded with `--import`, trains with
 * `--workers 2` (the pool's worker threads import the module too), exports to ONNX and harmonizes
 * through the CLI on ONNX Runtime, with no other file changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { onnxAvailable } from '../../src/models/onnx.ts';
import { readImage, writeImage, writeMask } from '../../src/image/io.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { cliModulesLoaded, tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();
const TOY_GENERATOR = new URL('../fixtures-gen/toy-generator.ts', import.meta.url).pathname;
const TOY_LOSS = new URL('../fixtures-gen/toy-loss.ts', import.meta.url).pathname;

function steps(run: string): { losses?: Record<string, number> }[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; losses?: Record<string, number> }).filter((r) => r.type === 'step');
}

test('a generator from a user module trains with --workers 2, exports to ONNX and harmonizes through the CLI', { timeout: 300_000 }, async (t) => {
  const dir = tempDir('harmonia-user-gen-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 10, 32);
  const run = join(dir, 'run');
  const code = await main(['train', '--import', TOY_GENERATOR, '--config', 'smoke', '--generator', 'toy-user', '--real', photos, '--size', '32', '--out', run, '--max-steps', '2', '--workers', '2', '--quiet']);
  assert.equal(code, 0);
  const state = JSON.parse(readFileSync(join(run, 'checkpoint', 'state.json'), 'utf8')) as { step: number; config: { generator: { kind: string } } };
  assert.equal(state.step, 2);
  assert.equal(state.config.generator.kind, 'toy-user');
  assert.ok(steps(run).every((s) => Number.isFinite(s.losses?.g)), 'finite generator losses');
  // the trained generator as a model folder of its own (export-onnx writes nothing inside a run folder),
  // its model.onnx removed so that the export through the CLI writes it again
  const model = join(dir, 'toy-model');
  cpSync(join(run, 'generator'), model, { recursive: true });
  rmSync(join(model, 'model.onnx'), { force: true });
  if (!(await onnxAvailable())) return t.skip('onnxruntime-node is not installed: trained, export and ONNX harmonize not checked');
  assert.equal(await main(['export-onnx', '--import', TOY_GENERATOR, model, '--check', '--quiet']), 0);
  assert.ok(existsSync(join(model, 'model.onnx')));
  // harmonize through the CLI, in a fresh process: the registry learns the kind from --import, ONNX Runtime runs it
  const { composite, mask } = makeProceduralComposite({ seed: 3, width: 40, height: 30 });
  await writeImage(join(dir, 'c.png'), composite);
  await writeMask(join(dir, 'm.png'), mask);
  const out = join(dir, 'out.png');
  const r = cliModulesLoaded(['harmonize', '--import', TOY_GENERATOR, join(dir, 'c.png'), '--mask', join(dir, 'm.png'), '--model', model, '-o', out], { env: { ...process.env, HARMONIA_DEBUG: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /generator on ONNX Runtime/);
  const img = await readImage(out);
  assert.deepEqual([img.width, img.height], [40, 30]);
  // without --import the kind is unknown: a one-line error naming it and --import
  const bad = cliModulesLoaded(['harmonize', join(dir, 'c.png'), '--mask', join(dir, 'm.png'), '--model', model, '-o', join(dir, 'bad.png')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown kind "toy-user".*--import/);
});

test('a loss setting from a user module gets its flag and trains with --workers 2', { timeout: 300_000 }, async () => {
  const dir = tempDir('harmonia-user-loss-');
  const photos = join(dir, 'photos');
  await photoSource(photos, 10, 32);
  const run = join(dir, 'run');
  const code = await main(['train', '--import', TOY_LOSS, '--config', 'smoke', '--generator', 'global', '--setting', 'toy-l2', '--toy-l2-weight', '7', '--real', photos, '--size', '32', '--out', run, '--max-steps', '2', '--workers', '2', '--quiet']);
  assert.equal(code, 0);
  const state = JSON.parse(readFileSync(join(run, 'checkpoint', 'state.json'), 'utf8')) as { step: number; config: { loss: { setting: string; toyL2Weight?: number } } };
  assert.equal(state.step, 2);
  assert.equal(state.config.loss.setting, 'toy-l2');
  assert.equal(state.config.loss.toyL2Weight, 7);
  assert.ok(steps(run).every((s) => Number.isFinite(s.losses?.toyl2)), 'the toy term is in every step\'s losses');
});
