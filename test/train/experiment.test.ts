import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/index.ts';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { runExperiment, runSweep, methodColumns } from '../../src/eval/experiment.ts';
import type { Table1 } from '../../src/eval/experiment.ts';
import { SMOKE_PRESET } from '../../src/train/presets.ts';
import { RANDOM_FEATURES_NOTE } from '../../src/train/features.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { relativizePaths } from '../../src/util/html.ts';
import { loadHarmonizationModel } from '../../src/pipeline/model.ts';
import { env } from '../../src/config/index.ts';

await initEngine();
const root = mkdtempSync(join(tmpdir(), 'harmonia-experiment-'));
const data = join(root, 'data');
await writeProceduralDataset(data, { count: 16, seed: 5, width: 64, height: 64, testFraction: 0.25 });

test('the feature setting refuses to run without VGG-19 weights unless random features are allowed (the smoke preset allows them)', async () => {
  const prev = env.vgg19;
  env.vgg19 = join(root, 'missing-vgg19.pth');
  try {
    assert.equal(SMOKE_PRESET.train.allowRandomFeatures, true);
    await assert.rejects(runExperiment({ preset: SMOKE_PRESET, data, out: join(root, 'refuse'), settings: ['feature'], overrides: { allowRandomFeatures: false }, quiet: true }),
      (e: unknown) => e instanceof HarmoniaError && /VGG-19 weights not found/.test(e.message) && /--allow-random-features/.test(e.message));
    assert.ok(!existsSync(join(root, 'refuse', 'runs')), 'nothing trained');
  } finally {
    env.vgg19 = prev;
  }
});

test('smoke experiment end to end: intrinsic cache, three settings, Table 1 with all five columns (md, json, html)', async () => {
  const out = join(root, 'exp');
  env.vgg19 = join(root, 'missing-vgg19.pth');
  // the smoke preset runs anywhere: no weights, no flag
  const t = await runExperiment({ preset: SMOKE_PRESET, data, out, quiet: true });
  env.vgg19 = undefined;
  assert.deepEqual(t.columns.map((c) => c.method), methodColumns());
  for (const c of t.columns) {
    assert.equal(c.images, 4, c.method);
    assert.ok(Number.isFinite(c.psnr) && c.psnr > 10 && c.psnr < 80, `${c.method} PSNR ${c.psnr}`);
    assert.ok(c.fmse !== null && c.fmse >= 0);
    assert.ok(c.ssim > 0 && c.ssim <= 1);
  }
  // composite metrics are the same code path as everything else: worse-share is defined for the rest
  assert.equal(t.columns[0].fmseWorseThanComposite, null);
  for (const c of t.columns.slice(1)) assert.ok(c.fmseWorseThanComposite !== null && c.fmseWorseThanComposite >= 0 && c.fmseWorseThanComposite <= 1);
  assert.deepEqual(t.runs.map((r) => [r.setting, r.status, r.steps]), [['content', 'done', 6], ['mask', 'done', 6], ['feature', 'done', 6]]);
  assert.ok(t.notes.includes(RANDOM_FEATURES_NOTE), 'random features are announced');
  assert.equal(t.notes.filter((n) => n === RANDOM_FEATURES_NOTE).length, 1, 'once');
  const md = readFileSync(join(out, 'table1.md'), 'utf8');
  assert.match(md, /\| Metric \| Composite \| Intrinsic Compositing \| GAN \+ Content \| GAN \+ Mask \| GAN \+ Feature \|/);
  assert.match(md, /\| PSNR \(dB\) ↑ \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|/);
  assert.match(md, /RANDOMLY INITIALISED VGG-19/);
  const json = JSON.parse(readFileSync(join(out, 'table1.json'), 'utf8')) as Table1;
  assert.equal(json.columns.length, 5);
  const html = readFileSync(join(out, 'table1.html'), 'utf8');
  assert.match(html, /RANDOMLY INITIALISED VGG-19/);
  // each warning once, a table of contents, relative paths only, every image linking to its full-size file
  for (const n of t.notes) assert.equal(html.split(relativizePaths(n, out).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')).length - 1, 1, `once: ${n}`);
  assert.match(html, /<nav class="toc"[^>]*>.*href="#charts".*href="#training-runs".*href="#fig4"/s);
  assert.ok(!html.includes(root) && !md.includes(root), 'no absolute paths of the machine');
  assert.match(md, /\| content \| done \| 6 \| \d+ \| .* \| `runs\/content` \|/);
  assert.match(html, /<a href="figures\/0-composite\.png"[^>]*><img src="figures\/0-composite\.png"/);
  assert.equal((html.match(/<img /g) ?? []).length, 2 * 6 * SMOKE_PRESET.figureCount, 'full + zoomed image per method and real, per figure row');
  assert.equal(readdirSync(join(out, 'figures')).length, 2 * 6 * SMOKE_PRESET.figureCount);
  for (const s of ['content', 'mask', 'feature']) {
    for (const f of ['generator/model.json', 'generator/weights.bin', 'checkpoint/state.json', 'log.jsonl', 'losses.html', 'samples/epoch-002.png']) {
      assert.ok(existsSync(join(out, 'runs', s, f)), `${s}/${f}`);
    }
  }
  assert.match(readFileSync(join(out, 'runs', 'feature', 'log.jsonl'), 'utf8'), /RANDOMLY INITIALISED VGG-19/);
  // each final generator is a harmonization model folder the harmonize pipeline loads
  const model = await loadHarmonizationModel(join(out, 'runs', 'feature', 'generator'));
  assert.equal(model.card?.input, 'semiHarmonized');
  assert.ok(model.card?.notes?.includes(RANDOM_FEATURES_NOTE));
  assert.equal(model.config.residual, true);
  model.generator.dispose();
  // the intrinsic stage is cached: one PNG per train + test sample
  const cache = readdirSync(join(out, 'cache'));
  assert.equal(cache.length, 1);
  assert.equal(readdirSync(join(out, 'cache', cache[0])).length, 16);
  // a second run reuses the finished runs (no retraining) and gives the same table
  const t2 = await runExperiment({ preset: SMOKE_PRESET, data, out, settings: ['content'], overrides: { allowRandomFeatures: true }, quiet: true });
  assert.equal(t2.runs[0].status, 'reused');
  assert.equal(t2.columns[2].psnr, t.columns[2].psnr);
  assert.equal(t2.columns[3].images, 0, 'untrained settings are n/a, the column stays');
});

test('sweep over λ_mask writes one row per value', async () => {
  const out = join(root, 'sweep');
  const preset = { ...SMOKE_PRESET, epochs: { ...SMOKE_PRESET.epochs, mask: 1 } };
  const t = await runSweep({ preset, data, out, setting: 'mask', grid: { lambdaMask: [10, 1000] }, quiet: true, cacheDir: join(root, 'exp', 'cache') });
  assert.deepEqual(t.rows.map((r) => r.weights), [{ lambdaMask: 10 }, { lambdaMask: 1000 }]);
  for (const r of t.rows) assert.ok(Number.isFinite(r.summary.psnr));
  assert.notEqual(t.rows[0].summary.psnr, t.rows[1].summary.psnr, 'different weights train different generators');
  const md = readFileSync(join(out, 'sweep.md'), 'utf8');
  assert.match(md, /lambdaMask=10 \|/);
  assert.match(md, /lambdaMask=1000 \|/);
  assert.match(md, /\| Composite \|/);
});
