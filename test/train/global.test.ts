/**
 * The `global` generator learns: trained for a few dozen steps on composites synthesised on the fly
 * from 24 real photos (../shared/data/lalonde-real), it lowers the foreground MSE of fresh composites
 * of those photos by a real amount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { CompositeStream } from '../../src/data/stream.ts';
import { train } from '../../src/train/trainer.ts';
import { GLOBAL_CPU_PRESET } from '../../src/train/presets.ts';
import { mergeTrainConfig } from '../../src/train/config.ts';
import { runGenerator } from '../../src/models/index.ts';
import { SHARED, needsShared, tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

/** Mean fMSE (0–255 scale, per image over mask > 0.5) of `a` against `real`. */
function meanFmse(a: Float32Array, real: Float32Array, mask: Float32Array, n: number, px: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0, k = 0;
    for (let p = 0; p < px; p++) {
      if (mask[i * px + p] <= 0.5) continue;
      k++;
      for (let c = 0; c < 3; c++) { const d = (a[(i * px + p) * 3 + c] - real[(i * px + p) * 3 + c]) * 255; s += d * d; }
    }
    if (k > 0) out.push(s / (3 * k));
  }
  return out;
}

test('global generator: 120 steps on 24 photos lower the fMSE of fresh composites of them by at least 15 %', { skip: needsShared() }, async () => {
  await initEngine({});
  const size = 64;
  const cfg = mergeTrainConfig(GLOBAL_CPU_PRESET.train, { workers: 1, batchSize: 8, size, crop: size, epochs: 40, checkpointEvery: 1000 });
  const stream = await CompositeStream.create({ real: join(SHARED, 'data', 'lalonde-real'), size, batchSize: 8, seed: 3, limit: 24, prefetch: 2 });
  try {
    assert.equal(stream.photoCount, 24);
    const r = await train({ config: cfg, runDir: tempDir('harmonia-global-'), data: stream, quiet: true, maxSteps: 120 });
    assert.equal(r.steps, 120);
    const before: number[] = [], after: number[] = [];
    for (let b = 0; b < 3; b++) {
      const bt = stream.batch(5000, b);
      const y = tf.tidy(() => runGenerator(r.generator, tf.tensor4d(bt.input, [bt.n, size, size, 3]), tf.tensor4d(bt.mask, [bt.n, size, size, 1]), cfg.generator));
      const out = new Float32Array(y.dataSync() as Float32Array);
      y.dispose();
      before.push(...meanFmse(bt.input, bt.real, bt.mask, bt.n, size * size));
      after.push(...meanFmse(out, bt.real, bt.mask, bt.n, size * size));
    }
    const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
    const ratio = mean(after) / mean(before);
    console.log(`global, 120 steps on 24 photos: fMSE ${mean(before).toFixed(1)} → ${mean(after).toFixed(1)} (ratio ${ratio.toFixed(3)}) on ${before.length} fresh composites`);
    assert.ok(mean(before) > 300, `the composites differ from the photos (fMSE ${mean(before).toFixed(1)})`);
    assert.ok(ratio < 0.85, `fMSE ratio after training ${ratio.toFixed(3)} (must be < 0.85)`);
    r.generator.dispose();
  } finally {
    await stream.dispose();
  }
});
