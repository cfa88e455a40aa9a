import { tempDirFactory } from '../helpers.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readImage, readMask, writeImage } from '../../src/image/io.ts';
import { createImage } from '../../src/image/types.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { toEvalImage, toEvalMask } from '../../src/metrics/index.ts';
import { evaluateDataset, evaluateSamples, COMPOSITE_METHOD, LPIPS_NO_WEIGHTS, type EvalResult } from '../../src/eval/evaluate.ts';
import { parseCsv } from '../../src/util/table.ts';
import { writeSplit } from './fixtures.ts';
import { needsNumpy, runPython } from './python.ts';

/** A fresh temp folder, removed when the file's tests end. */
const tempDir = tempDirFactory();

const root = tempDir('harmonia-eval-');
const data = join(root, 'data');
let ready: Promise<void> | undefined;
/** The generated split plus a prediction folder: the real image for even items, the inverted real image for odd ones. */
function setup(): Promise<void> {
  ready ??= (async () => {
    const items = await writeSplit(data);
    mkdirSync(join(root, 'pred'), { recursive: true });
    for (const [i, it] of items.entries()) {
      const real = await readImage(it.real);
      const pred = i % 2 === 0 ? real : { ...real, data: real.data.map((v) => 1 - v) };
      await writeImage(join(root, 'pred', `${it.base}${i % 3 === 0 ? '.jpg' : '.png'}`), pred, { quality: 100 });
    }
  })();
  return ready;
}

test('evaluateDataset: composite baseline matches numpy per image and in the means; files written', { skip: needsNumpy() }, async () => {
  await setup();
  const out = join(root, 'out');
  const r = await evaluateDataset({ data: join(data, 'Gen'), pred: join(root, 'pred'), name: 'mixed', out, lpips: 'none', quiet: true, weightsDir: join(root, 'no-weights') });
  assert.deepEqual(r.methods, [COMPOSITE_METHOD, 'mixed']);
  assert.equal(r.images, 10);
  // numpy reference on the same decoded + resized arrays
  const samples = await readIHarmonyDataset(join(data, 'Gen'), { split: 'test' });
  const manifest = { size: 256, items: [] as { name: string; pred: string; gt: string; mask: string }[] };
  for (const s of samples) {
    const f = { pred: join(root, `${s.realName}.c.bin`), gt: join(root, `${s.realName}.r.bin`), mask: join(root, `${s.realName}.m.bin`) };
    writeFileSync(f.pred, toEvalImage(await readImage(s.composite)).data);
    writeFileSync(f.gt, toEvalImage(await readImage(s.real)).data);
    writeFileSync(f.mask, toEvalMask(await readMask(s.mask)).data);
    manifest.items.push({ name: s.id, ...f });
  }
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest));
  const ref = JSON.parse(runPython('metrics_ref.py', [join(root, 'manifest.json')])) as Record<string, Record<string, number | null>>;
  // per image, read back from the CSV the command wrote
  const csv = parseCsv(readFileSync(r.files!.csv, 'utf8'));
  const head = csv[0];
  const col = (name: string): number => head.indexOf(name);
  const baseRows = csv.slice(1).filter((row) => row[col('method')] === COMPOSITE_METHOD);
  assert.equal(baseRows.length, 10);
  for (const row of baseRows) {
    const want = ref[row[col('id')]];
    for (const k of ['mse', 'psnr', 'fmse', 'ssim'] as const) {
      const got = row[col(k)] === '' ? null : Number(row[col(k)]);
      if (want[k] === null || got === null) { assert.equal(got, want[k], `${row[0]} ${k}`); continue; }
      assert.ok(Math.abs(got - want[k]!) <= 1e-3, `${row[0]} ${k}: ${got} vs numpy ${want[k]}`);
    }
  }
  const mean = (k: string): number => {
    const v = Object.values(ref).map((x) => x[k]).filter((x): x is number => x !== null);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  const all = r.summary[COMPOSITE_METHOD].All;
  for (const k of ['mse', 'psnr', 'fmse', 'ssim'] as const) assert.ok(Math.abs(all[k]! - mean(k)) <= 1e-3, `All ${k}: ${all[k]} vs ${mean(k)}`);
  assert.equal(all.fmseCount, 9);
  // predictions: real image on even items (fMSE better), inverted on odd ones (worse); item 3 has no foreground
  const mixed = r.summary.mixed.All;
  assert.equal(mixed.worseFmse!.count, 9);
  assert.equal(mixed.worseFmse!.worse, 4, 'the four inverted predictions with a foreground are worse than their composites');
  const json = JSON.parse(readFileSync(r.files!.json, 'utf8')) as EvalResult;
  assert.equal(json.summary.mixed.All.worseFmse!.worse, 4);
  assert.equal(json.lpips.available, false);
  const md = readFileSync(r.files!.markdown, 'utf8');
  assert.match(md, /\| composite \| [\d.]+ \| [\d.]+ \|/);
  assert.match(md, /## By foreground ratio/);
  assert.match(md, /\| 0-5% \| composite \| 3 \|/);
  assert.match(md, /not computed/);
});

test('evaluateSamples in memory: oracle and broken predictors; LPIPS without weights is "n/a (no weights)"', async () => {
  await setup();
  const samples = await readIHarmonyDataset(join(data, 'Gen'), { split: 'test' });
  const reals = new Map<string, string>(samples.map((s) => [s.id, s.real]));
  const r = await evaluateSamples(samples.slice(0, 4), {
    oracle: (s) => readImage(reals.get(s.id)!),
    inverted: (_s, { composite }) => ({ ...composite, data: composite.data.map((v) => 1 - v) }),
  }, { quiet: true, lpips: 'alex', weightsDir: join(root, 'no-weights') });
  assert.equal(r.summary.oracle.All.mse, 0);
  assert.equal(r.summary.oracle.All.psnr, 100);
  assert.equal(r.summary.oracle.All.worseFmse!.share, 0);
  assert.equal(r.summary.inverted.All.worseFmse!.share, 1);
  assert.equal(r.lpips.available, false);
  assert.ok(r.lpips.note.startsWith(LPIPS_NO_WEIGHTS));
  assert.ok(r.rows.every((row) => row.lpips === null));
  await assert.rejects(evaluateSamples(samples, { composite: (_s, i) => i.composite }), /built-in baseline/);
  await assert.rejects(evaluateSamples(samples.slice(0, 1), { bad: () => createImage(4, 4, 1) }, { quiet: true, lpips: 'none' }), /must return an RGB image/);
  await assert.rejects(evaluateDataset({ data: join(data, 'Gen'), pred: join(root, 'nowhere'), quiet: true, lpips: 'none' }), /prediction folder does not exist/);
  await assert.rejects(evaluateDataset({ data: join(data, 'Gen'), pred: join(data, 'Gen', 'masks'), quiet: true, lpips: 'none' }), /no prediction for Gen\/img_00_1_3: tried .*\{Gen\/,\}img_00_1_3\.\{png,jpg,jpeg,webp\}/);
});

test('harmonia evaluate prints the table; bad flags exit 2 with one line', async () => {
  await setup();
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'harmonia.mjs');
  const env = { ...process.env, HARMONIA_WEIGHTS: join(root, 'no-weights') };
  const ok = spawnSync(process.execPath, [bin, 'evaluate', '--data', join(data, 'Gen'), '--pred', join(root, 'pred'), '--quiet'], { encoding: 'utf8', env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /10 images, 256×256 protocol/);
  assert.match(ok.stdout, /\| prediction \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| n\/a \(no weights\) \| 44\.4% \|/);
  const bad = spawnSync(process.execPath, [bin, 'evaluate', '--data', join(data, 'Gen'), '--lpips', 'resnet'], { encoding: 'utf8', env });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), 'harmonia evaluate: --lpips must be alex, vgg, squeeze or none, got "resnet"');
});
