/**
 * The on-the-fly sample mix (data/stream.ts): identity samples (the real crop is input and target),
 * mild composites (foreground MSE pulled below the ordinary range) and the seeded draw between them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompositeSynthesizer, checkStreamOptions, pullToward, sampleKind, MILD_MIN_FMSE } from '../../src/data/stream.ts';
import { foregroundMse255, DEFAULT_MIN_FMSE } from '../../src/data/composites.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { photoSource } from '../fixtures-gen/photos.ts';
import { tempDirFactory } from '../helpers.ts';

const tempDir = tempDirFactory();

function slice(data: Float32Array, i: number, len: number): Float32Array {
  return data.slice(i * len, (i + 1) * len);
}

test('sampleKind: seeded, shares respected, and no draw at all without identity or mild samples', () => {
  assert.equal(sampleKind(1, 0, 0, 0, 0, 0), 'composite');
  const n = 4000;
  const counts = { composite: 0, identity: 0, mild: 0 };
  for (let i = 0; i < n; i++) counts[sampleKind(7, 3, Math.floor(i / 16), i % 16, 0.3, 0.2)]++;
  assert.ok(Math.abs(counts.identity / n - 0.3) < 0.03, `identity share ${counts.identity / n}`);
  assert.ok(Math.abs(counts.mild / n - 0.2) < 0.03, `mild share ${counts.mild / n}`);
  assert.equal(sampleKind(7, 3, 2, 5, 0.3, 0.2), sampleKind(7, 3, 2, 5, 0.3, 0.2));
  assert.equal(sampleKind(7, 0, 0, 0, 1, 0), 'identity');
});

test('pullToward: lands exactly on the target fMSE along the line to the real photo', () => {
  const px = 64;
  const real: FloatImage = { width: 8, height: 8, channels: 3, data: new Float32Array(px * 3).map((_, k) => (k % 7) / 7) };
  const comp: FloatImage = { ...real, data: real.data.map((v, k) => Math.min(1, v + 0.25 + 0.01 * (k % 3))) };
  const mask: Mask = { width: 8, height: 8, channels: 1, data: new Float32Array(px).fill(1) } as Mask;
  // continuous fMSE on the 0–255 scale (foregroundMse255 quantises to 8 bits)
  const f = (a: FloatImage) => { let s = 0; for (let k = 0; k < a.data.length; k++) s += ((a.data[k] - real.data[k]) * 255) ** 2; return s / a.data.length; };
  const before = f(comp);
  const pulled = pullToward(real, comp, before, 50);
  assert.ok(Math.abs(f(pulled) - 50) < 1e-2, `fMSE after the pull ${f(pulled)}`);
  assert.equal(pullToward(real, comp, before, before + 1), comp, 'already within the target: unchanged');
});

test('checkStreamOptions: identity and mild shares validated, naming the option', () => {
  const base = { real: '/x', size: 32, batchSize: 2, seed: 1 };
  assert.throws(() => checkStreamOptions({ ...base, identity: 1.5 }), /stream\.identity: must be a share in \[0, 1\]/);
  assert.throws(() => checkStreamOptions({ ...base, mild: -0.1 }), /stream\.mild/);
  assert.throws(() => checkStreamOptions({ ...base, identity: 0.7, mild: 0.5 }), /add up to 1\.2/);
  assert.throws(() => checkStreamOptions({ ...base, mild: 0.2, minFmse: 3 }), /needs stream\.minFmse above 4/);
  const o = checkStreamOptions(base);
  assert.equal(o.identity, 0);
  assert.equal(o.mild, 0);
});

test('identity samples are the real crop; mild composites lie below the ordinary fMSE range; batches replay exactly', async () => {
  const dir = tempDir('harmonia-mix-');
  await photoSource(dir, 6, 48);
  const syn = await CompositeSynthesizer.load({ real: dir, size: 32, batchSize: 16, seed: 5, identity: 0.4, mild: 0.3, prefetch: 0, split: 'train' });
  const s = 32, px = s * s;
  let identity = 0, mild = 0, ordinary = 0;
  for (let b = 0; b < 4; b++) {
    const batch = syn.batch(1, b);
    const again = syn.batch(1, b);
    assert.deepEqual(again.input, batch.input, 'deterministic in (seed, epoch, batch)');
    assert.deepEqual(again.ids, batch.ids);
    for (let i = 0; i < batch.n; i++) {
      const input: FloatImage = { width: s, height: s, channels: 3, data: slice(batch.input, i, px * 3) };
      const real: FloatImage = { width: s, height: s, channels: 3, data: slice(batch.real, i, px * 3) };
      const mask = { width: s, height: s, channels: 1, data: slice(batch.mask, i, px) } as Mask;
      const f = foregroundMse255(input, real, mask);
      const id = batch.ids[i];
      if (id.endsWith(':identity')) {
        identity++;
        assert.deepEqual(input.data, real.data, `${id}: input is the real crop`);
      } else if (id.endsWith(':mild')) {
        mild++;
        assert.ok(f < DEFAULT_MIN_FMSE + 2 && f >= MILD_MIN_FMSE - 2, `${id}: mild fMSE ${f.toFixed(1)} outside [${MILD_MIN_FMSE}, ${DEFAULT_MIN_FMSE})`);
      } else {
        ordinary++;
      }
    }
  }
  assert.ok(identity > 10 && mild > 8 && ordinary > 8, `a mix of all three kinds (identity ${identity}, mild ${mild}, ordinary ${ordinary} of 64)`);
});
