import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readdirSync, readFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { readImage, writeImage, writeMask } from '../../src/image/io.ts';
import { createImage, createMask, type FloatImage, type Mask } from '../../src/image/types.ts';
import { buildGenerator } from '../../src/models/generator.ts';
import { harmonize, harmonizeWithReport } from '../../src/pipeline/harmonize.ts';
import { harmonizeImage, type HarmonizationModel } from '../../src/pipeline/refine.ts';
import { saveHarmonizationModel, loadHarmonizationModel } from '../../src/pipeline/model.ts';
import { harmonizeBatch, pairFolder } from '../../src/pipeline/batch.ts';
import { runDemo } from '../../src/pipeline/demo.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';
import { SHARED, needsShared } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-pipeline-'));
const root = new URL('../..', import.meta.url).pathname;
let model: HarmonizationModel;

function scene(width: number, height: number): { composite: FloatImage; mask: Mask } {
  const pc = makeProceduralComposite({ seed: 5, width: 64, height: 64 });
  // non-square, not a multiple of 8: upsample the procedural composite
  const composite = createImage(width, height, 3);
  const mask = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const sx = Math.floor((x * 64) / width), sy = Math.floor((y * 64) / height);
    for (let k = 0; k < 3; k++) composite.data[(y * width + x) * 3 + k] = pc.composite.data[(sy * 64 + sx) * 3 + k];
    mask.data[y * width + x] = pc.mask.data[sy * 64 + sx];
  }
  return { composite, mask };
}

function assertBackgroundExact(out: FloatImage, input: FloatImage, mask: Mask): number {
  let bg = 0;
  for (let p = 0; p < mask.data.length; p++) {
    if (mask.data[p] > 0) continue;
    bg++;
    for (let k = 0; k < 3; k++) assert.equal(out.data[p * 3 + k], input.data[p * 3 + k], `background pixel ${p} changed`);
  }
  return bg;
}

before(async () => {
  await initEngine();
  const generator = buildGenerator({ base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 3 });
  model = { generator, config: { base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 3 }, card: { name: 'test-random', input: 'semiHarmonized' } };
  await saveHarmonizationModel(join(dir, 'model'), generator, model.config, model.card!);
});

test('intrinsic stage: output at input size, background bit-exact, foreground changed', () => {
  const { composite, mask } = scene(75, 53);
  const r = harmonizeImage(composite, mask, undefined, { stage: 'intrinsic' });
  assert.equal(r.result.width, 75);
  assert.equal(r.result.height, 53);
  assert.ok(assertBackgroundExact(r.result, composite, mask) > 100);
  let changed = 0;
  for (let p = 0; p < mask.data.length; p++) if (mask.data[p] > 0.5 && Math.abs(r.result.data[p * 3] - composite.data[p * 3]) > 1 / 255) changed++;
  assert.ok(changed > 10, `only ${changed} foreground pixels changed`);
});

test('full pipeline with a saved model: odd sizes, analysis downscale, background exact, no tensor leak', async () => {
  const loaded = await loadHarmonizationModel(join(dir, 'model'));
  const { composite, mask } = scene(203, 141);
  const before = tf.memory().numTensors;
  for (const maxSide of [1024, 64]) {
    const r = harmonizeImage(composite, mask, loaded, { stage: 'full', analysisMaxSide: maxSide });
    assert.equal(r.result.width, 203);
    assert.ok(r.timings.gan >= 0);
    assertBackgroundExact(r.result, composite, mask);
    for (const v of r.result.data) assert.ok(v >= 0 && v <= 1);
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  // harmonizeBackground lets the background change (GAN on the whole frame)
  const all = harmonizeImage(composite, mask, loaded, { stage: 'gan', harmonizeBackground: true });
  assert.equal(all.result.width, 203);
});

test('Node API: harmonize({composite, mask}) returns PNG bytes of the input size', async () => {
  const { composite, mask } = scene(96, 80);
  const cPath = join(dir, 'c.png');
  const mPath = join(dir, 'm.png');
  await writeImage(cPath, composite);
  await writeMask(mPath, mask);
  const buf = await harmonize({ composite: cPath, mask: mPath, model: join(dir, 'model') });
  assert.equal(buf.subarray(1, 4).toString(), 'PNG');
  const back = await readImage(buf);
  assert.equal(back.width, 96);
  assert.equal(back.height, 80);
  const rep = await harmonizeWithReport({ composite, mask, stage: 'intrinsic', format: 'jpeg' });
  assert.equal(rep.image[0], 0xff);
  assert.equal(rep.model, undefined);
  await assert.rejects(harmonize({ composite: cPath, mask: createMask(5, 5) }), /mask is 5×5 but the composite is 96×80/);
  await assert.rejects(harmonize({ composite: cPath, mask: mPath, stage: 'gan', model: join(dir, 'nomodel') }), /no model here/);
});

test('folder batch: pairs by name, resumes (skips finished outputs), reports timings', async () => {
  const cd = join(dir, 'batch', 'comp'), md = join(dir, 'batch', 'mask'), od = join(dir, 'batch', 'out');
  mkdirSync(cd, { recursive: true }); mkdirSync(md, { recursive: true }); mkdirSync(od, { recursive: true });
  for (let i = 0; i < 3; i++) {
    const { composite, mask } = scene(40 + i, 32);
    await writeImage(join(cd, `img${i}.jpg`), composite);
    await writeMask(join(md, `img${i}.png`), mask);
  }
  const items = pairFolder(cd, md, od);
  assert.equal(items.length, 3);
  const t1 = await harmonizeBatch(items, { stage: 'intrinsic', quiet: true });
  assert.equal(t1.filter((t) => !t.skipped).length, 3);
  const t2 = await harmonizeBatch(items, { stage: 'intrinsic', quiet: true });
  assert.equal(t2.filter((t) => t.skipped).length, 3);
  assert.deepEqual(readdirSync(od).sort(), ['harmonia-manifest.jsonl', 'img0.png', 'img1.png', 'img2.png']);
});

test('CLI: harmonize a genuine Lalonde composite at full resolution, and cut-out mode', { skip: needsShared() }, () => {
  const L = join(SHARED, 'data/lalonde-composites');
  const name = readdirSync(join(L, 'composite_images')).sort().find((f) => f.endsWith('.jpg')) as string;
  const out = join(dir, 'lalonde.png');
  const r = spawnSync(process.execPath, [join(root, 'bin/harmonia.mjs'), 'harmonize', join(L, 'composite_images', name), '--mask', join(L, 'masks', name.replace('.jpg', '.png')), '-o', out, '--stage', 'intrinsic', '--report', join(dir, 'r.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*lalonde\.png/);
  assert.ok(statSync(out).size > 1000);
  const rep = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
  assert.ok(rep.images[0].stages.intrinsic > 0);
  const bad = spawnSync(process.execPath, [join(root, 'bin/harmonia.mjs'), 'harmonize', join(L, 'composite_images', name), '--mask', join(L, 'masks', name.replace('.jpg', '.png')), '-o', join(L, 'composite_images', name)], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('CLI cut-out mode: background + RGBA foreground', async () => {
  const bg = createImage(120, 90, 3, 0.4);
  const fg = createImage(40, 30, 4, 0.8);
  for (let p = 0; p < 40 * 30; p++) fg.data[p * 4 + 3] = (p % 40) > 5 && (p % 40) < 35 ? 1 : 0;
  await writeImage(join(dir, 'bg.png'), bg);
  await writeImage(join(dir, 'fg.png'), fg);
  const out = join(dir, 'cut.png');
  const r = spawnSync(process.execPath, [join(root, 'bin/harmonia.mjs'), 'harmonize', '--background', join(dir, 'bg.png'), '--foreground', join(dir, 'fg.png'), '--at', '10,20', '--scale', '1', '-o', out, '--stage', 'intrinsic'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const img = await readImage(out);
  assert.equal(img.width, 120);
  assert.ok(Math.abs(img.data[0] - 0.4) < 1 / 255, 'background corner untouched');
});

test('demo writes an HTML report with a metrics table', async () => {
  const s = await runDemo({ outDir: join(dir, 'demo'), count: 2, size: 64, realComposites: null, realPhotos: null, quiet: true, modelDir: join(dir, 'model') });
  assert.ok(existsSync(s.report));
  const html = readFileSync(s.report, 'utf8');
  assert.match(html, /<table>/);
  assert.match(html, /harmonized \(default model\)/);
  assert.match(html, /Summary: procedural scenes \(2\): mean fMSE [0-9.]+ \(composite\) → [0-9.]+/);
  assert.equal(s.procedural, 2);
  assert.equal(s.realScored, 0);
  assert.match(s.summary[1], /real photos: none/);
  assert.ok(Number.isFinite(s.means.composite.psnr));
});
