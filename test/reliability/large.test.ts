/**
 * Large inputs (docs/RELIABILITY.md, "Resource limits"): the full-resolution application of the GAN
 * correction runs row by row (src/pipeline/apply.ts) with results bit-identical to the straightforward
 * upsample → add → clip → blend, and a 3000×2000 input stays within the stated memory budget
 * (peak RSS − start-up RSS ≤ 256 MiB + 64 bytes per pixel) in a fresh process.
 * The 24-megapixel measurement lives in `npm run bench:large` (too slow for a test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { Rng } from '../../src/util/random.ts';
import { resizeImage } from '../../src/image/resize.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { applyCorrection, bilinearTaps } from '../../src/pipeline/apply.ts';
import { harmonizeImage, generatorCorrection, blendByMask, type HarmonizationModel } from '../../src/pipeline/refine.ts';
import { buildGenerator } from '../../src/models/generator.ts';
import { saveHarmonizationModel } from '../../src/pipeline/model.ts';
import { writeLargeInputs, measureStage } from '../../bench/large-input.ts';

function randomImage(rng: Rng, w: number, h: number, lo = -0.2, hi = 1.2): FloatImage {
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.next();
  return { width: w, height: h, channels: 3, data };
}

function softMask(rng: Rng, w: number, h: number): Mask {
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) {
    const r = rng.next();
    data[i] = r < 0.4 ? 0 : r < 0.75 ? 1 : rng.next();
  }
  return { width: w, height: h, data };
}

/** The pre-fix composition: full-size upsampled delta, clipped sum, then the mask blend. */
function reference(base: FloatImage, delta: FloatImage, composite: FloatImage, mask: Mask, harmonizeBackground: boolean): FloatImage {
  const up = delta.width === base.width && delta.height === base.height ? delta : resizeImage(delta, base.width, base.height, 'bilinear');
  const data = new Float32Array(base.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = base.data[i] + up.data[i];
    data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  const out = { width: base.width, height: base.height, channels: 3, data };
  return harmonizeBackground ? out : blendByMask(composite, out, mask);
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -2;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

test('applyCorrection is bit-identical to upsample + add + clip + blend (16 size pairs, soft masks, with and without background)', () => {
  const rng = new Rng('large-apply');
  const pairs: [number, number, number, number][] = [
    [7, 5, 7, 5], [7, 5, 23, 19], [16, 9, 97, 61], [1, 1, 13, 8], [3, 40, 10, 203], [40, 3, 211, 11],
    [32, 21, 64, 42], [100, 67, 101, 68], [5, 8, 5, 31], [9, 4, 50, 4], [64, 43, 300, 200], [2, 2, 3, 3],
    [11, 13, 121, 169], [25, 17, 26, 200], [17, 25, 200, 26], [31, 20, 155, 100],
  ];
  for (const [dw, dh, W, H] of pairs) {
    const base = randomImage(rng, W, H, 0, 1);
    const composite = randomImage(rng, W, H, 0, 1);
    const mask = softMask(rng, W, H);
    const delta = randomImage(rng, dw, dh, -0.6, 0.6);
    for (const hb of [false, true]) {
      const got = applyCorrection(base, delta, hb ? undefined : { composite, mask });
      const want = reference(base, delta, composite, mask, hb);
      assert.equal(firstDifference(got.data, want.data), -1, `${dw}×${dh} → ${W}×${H}, harmonizeBackground ${hb}`);
    }
  }
  // (the exact match above covers the taps; here their shape: one per output row, weights summing to 1)
  for (const [n, m] of [[4, 17], [683, 4000], [10, 10], [9, 3]]) {
    const taps = bilinearTaps(n, m);
    assert.equal(taps.length, m);
    for (const t of taps) assert.ok(Math.abs(t.w.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'weights sum to 1');
  }
  assert.throws(() => applyCorrection(randomImage(rng, 4, 4), randomImage(rng, 5, 4)), /larger than the image/);
  assert.throws(() => applyCorrection(randomImage(rng, 4, 4), randomImage(rng, 2, 2), { composite: randomImage(rng, 4, 3), mask: softMask(rng, 4, 4) }), /must be 4×4/);
});

test('harmonizeImage (gan and full) gives bit-identical results to the unfused pipeline, tensors not leaked', async () => {
  await initEngine({ backend: 'cpu' });
  const rng = new Rng('large-pipeline');
  const cfg = { base: 4, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
  const model: HarmonizationModel = { generator: buildGenerator(cfg), config: cfg, card: { name: 't', input: 'semiHarmonized' } };
  const composite = randomImage(rng, 150, 97, 0, 1);
  const mask = softMask(rng, 150, 97);
  const before = tf.memory().numTensors;
  for (const [stage, maxSide] of [['gan', 64], ['gan', 150], ['full', 48]] as const) {
    for (const hb of [false, true]) {
      const r = harmonizeImage(composite, mask, model, { stage, analysisMaxSide: maxSide, harmonizeBackground: hb });
      const base = stage === 'full' ? r.semiHarmonized! : composite;
      const want = reference(base, generatorCorrection(model, base, mask, maxSide), composite, mask, hb);
      assert.equal(firstDifference(r.result.data, want.data), -1, `${stage} at ≤${maxSide}, harmonizeBackground ${hb}`);
    }
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  model.generator.dispose();
});

test('a 3000×2000 input stays within the memory budget (peak RSS − start-up ≤ 256 MiB + 64 B/pixel) for the intrinsic and full stages', { timeout: 120_000 }, async (t) => {
  if (process.platform !== 'linux') { t.skip('needs /proc/self/status (Linux)'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-large-test-'));
  try {
    const W = 3000, H = 2000;
    const files = await writeLargeInputs(dir, W, H);
    const cfg = { base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
    const g = buildGenerator(cfg);
    await saveHarmonizationModel(join(dir, 'model'), g, cfg, { name: 'test-random', input: 'semiHarmonized' });
    g.dispose();
    const budget = 256 + (64 * W * H) / 2 ** 20;
    for (const stage of ['intrinsic', 'full'] as const) {
      const r = measureStage(stage, { ...files, model: join(dir, 'model') }, join(dir, `out-${stage}.png`));
      const over = r.peakMiB - r.startupMiB;
      t.diagnostic(`${stage}: start-up ${r.startupMiB.toFixed(0)} MiB, peak ${r.peakMiB.toFixed(0)} MiB (+${over.toFixed(0)}; budget +${budget.toFixed(0)}), ${(r.ms / 1000).toFixed(1)} s`);
      assert.equal(r.width, W);
      assert.equal(r.height, H);
      assert.ok(r.outBytes > 1000, 'an output was written');
      assert.ok(over <= budget, `${stage}: peak ${over.toFixed(0)} MiB above start-up exceeds the budget of ${budget.toFixed(0)} MiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
