import { tempDirFactory } from '../helpers.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, createMask } from '../../src/image/types.ts';
import { readImage, readMask } from '../../src/image/io.ts';
import {
  mse, psnr, fmse, bmse, fpsnr, ssim, psnrFromMse, worseThanCompositeShare, meanOf, imageMetrics,
  toEvalImage, toEvalMask, fgBin, PSNR_CAP_DB, type ImageMetrics,
} from '../../src/metrics/index.ts';
import { writeSplit } from './fixtures.ts';
import { needsNumpy, runPython } from './python.ts';

/** A fresh temp folder, removed when the file's tests end. */
const tempDir = tempDirFactory();

test('MSE/PSNR/fMSE/bMSE on hand-computable images (0–255 scale)', () => {
  const gt = createImage(4, 4, 3, 0.5);
  const pred = createImage(4, 4, 3, 0.5);
  const mask = createMask(4, 4);
  for (let p = 0; p < 4; p++) mask.data[p] = 1; // first row is foreground
  for (let p = 0; p < 4; p++) for (let k = 0; k < 3; k++) pred.data[p * 3 + k] += 20 / 255; // fg off by 20
  for (let p = 4; p < 16; p++) for (let k = 0; k < 3; k++) pred.data[p * 3 + k] -= 5 / 255; // bg off by 5
  assert.ok(Math.abs(fmse(pred, gt, mask)! - 400) < 1e-3);
  assert.ok(Math.abs(bmse(pred, gt, mask)! - 25) < 1e-3);
  const m = (4 * 400 + 12 * 25) / 16;
  assert.ok(Math.abs(mse(pred, gt) - m) < 1e-3);
  assert.ok(Math.abs(psnr(pred, gt) - 10 * Math.log10(65025 / m)) < 1e-6);
  assert.ok(Math.abs(fpsnr(pred, gt, mask)! - 10 * Math.log10(65025 / 400)) < 1e-4);
});

test('degenerate cases: identical images, empty and full masks never give NaN/Infinity', () => {
  const a = createImage(16, 16, 3, 0.3);
  assert.equal(mse(a, a), 0);
  assert.equal(psnr(a, a), PSNR_CAP_DB);
  assert.equal(psnrFromMse(1e-12), PSNR_CAP_DB);
  assert.equal(ssim(a, a), 1);
  const empty = createMask(16, 16);
  const full = createMask(16, 16, 1);
  const m: ImageMetrics = imageMetrics(a, a, empty);
  assert.equal(m.fmse, null);
  assert.equal(m.fpsnr, null);
  assert.equal(m.bmse, 0);
  assert.equal(m.fgRatio, 0);
  const f = imageMetrics(a, a, full);
  assert.equal(f.bmse, null);
  assert.equal(f.fmse, 0);
  assert.equal(f.fpsnr, PSNR_CAP_DB);
  for (const v of Object.values(m)) if (v !== null) assert.ok(Number.isFinite(v));
  assert.throws(() => psnrFromMse(Number.NaN), /non-negative/);
  assert.throws(() => mse(a, createImage(8, 16, 3)), /differ in size/);
  assert.throws(() => ssim(createImage(8, 8, 3), createImage(8, 8, 3)), /at least 11/);
});

test('worse-than-composite share and means skip nulls and count them', () => {
  const r = worseThanCompositeShare([10, 50, null, 30, 5], [20, 40, 10, null, 5]);
  assert.deepEqual(r, { share: 1 / 3, worse: 1, count: 3 });
  assert.deepEqual(worseThanCompositeShare([null], [1]), { share: null, worse: 0, count: 0 });
  assert.deepEqual(meanOf([1, null, 3]), { mean: 2, count: 2 });
  assert.deepEqual(meanOf([null]), { mean: null, count: 0 });
  assert.equal(fgBin(0), '0-5%');
  assert.equal(fgBin(0.05), '5-15%');
  assert.equal(fgBin(0.149), '5-15%');
  assert.equal(fgBin(0.15), '15-100%');
  assert.equal(fgBin(1), '15-100%');
});

test('SSIM drops with noise and blur, and is symmetric', () => {
  const a = createImage(32, 32, 3);
  for (let i = 0; i < a.data.length; i++) a.data[i] = ((i * 7919) % 97) / 97;
  const b = createImage(32, 32, 3);
  for (let i = 0; i < b.data.length; i++) b.data[i] = Math.min(1, a.data[i] * 0.8 + 0.1);
  const s = ssim(a, b);
  assert.ok(s < 1 && s > 0, `ssim ${s}`);
  assert.ok(Math.abs(s - ssim(b, a)) < 1e-12);
});

test('composite baseline on a generated split matches an independent numpy reference (≤1e-3)', { skip: needsNumpy() }, async () => {
  const dir = tempDir('harmonia-metrics-');
  const items = await writeSplit(dir);
  const manifest: { size: number; items: { name: string; pred: string; gt: string; mask: string }[] } = { size: 256, items: [] };
  const ts: Record<string, ImageMetrics> = {};
  for (const it of items) {
    const comp = toEvalImage(await readImage(it.composite));
    const real = toEvalImage(await readImage(it.real));
    const mask = toEvalMask(await readMask(it.mask));
    ts[it.base] = imageMetrics(comp, real, mask);
    const files = { pred: join(dir, `${it.base}.pred.bin`), gt: join(dir, `${it.base}.gt.bin`), mask: join(dir, `${it.base}.mask.bin`) };
    writeFileSync(files.pred, comp.data);
    writeFileSync(files.gt, real.data);
    writeFileSync(files.mask, mask.data);
    manifest.items.push({ name: it.base, ...files });
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const ref = JSON.parse(runPython('metrics_ref.py', [join(dir, 'manifest.json')])) as Record<string, Record<string, number | null>>;
  let nullF = 0, nullB = 0;
  for (const it of items) {
    const a = ts[it.base], b = ref[it.base];
    for (const key of ['mse', 'psnr', 'fmse', 'fpsnr', 'bmse', 'ssim'] as const) {
      const x = a[key], y = b[key];
      if (x === null || y === null) {
        assert.equal(x, y, `${it.base} ${key}: ${x} vs ${y}`);
        if (key === 'fmse') nullF++;
        if (key === 'bmse') nullB++;
        continue;
      }
      assert.ok(Math.abs(x - y) <= 1e-3, `${it.base} ${key}: ts ${x} vs numpy ${y}`);
    }
    if (a.fmse === null) assert.equal(a.psnr, 100, 'empty mask: composite is the real image, PSNR capped');
    else assert.ok(a.mse > 0, `${it.base}: composite differs from real`);
  }
  assert.equal(nullF, 1, 'one empty-mask image');
  assert.equal(nullB, 1, 'one full-mask image');
});
