import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoader, orderForEpoch, cropGeometry, applyGeometry, encodeFloatImage, decodeFloatImage, type Batch } from '../../src/data/loader.ts';
import { readIHarmonyDataset, type HarmonizationSample } from '../../src/data/iharmony4.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';
import { createImage, type FloatImage } from '../../src/image/types.ts';
import { Rng } from '../../src/util/random.ts';
import { tf } from '../../src/engine/tf.ts';

/**
 * A dataset whose images encode their own coordinates: red = x / (w−1), green = y / (h−1) (composite and
 * real), blue = 0.2 (composite) / 0.8 (real); the mask is white on the right half. Sizes vary per sample.
 */
async function makeDataset(sizes: [number, number][]): Promise<HarmonizationSample[]> {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-loader-'));
  const sub = join(root, 'L');
  for (const d of ['composite_images', 'masks', 'real_images']) mkdirSync(join(sub, d), { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const [w, h] = sizes[i];
    const mk = (blue: number): FloatImage => {
      const img = createImage(w, h, 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data.set([x / (w - 1), y / (h - 1), blue], (y * w + x) * 3);
      return img;
    };
    const mask = { width: w, height: h, data: new Float32Array(w * h).map((_, j) => (j % w >= w / 2 ? 1 : 0)) };
    await writeImage(join(sub, 'composite_images', `s${i}_1_1.png`), mk(0.2));
    await writeImage(join(sub, 'real_images', `s${i}.png`), mk(0.8));
    await writeMask(join(sub, 'masks', `s${i}_1.png`), mask);
    names.push(`s${i}_1_1.png`);
  }
  writeFileSync(join(sub, 'L_train.txt'), names.join('\n') + '\n');
  return readIHarmonyDataset(root, { split: 'train' });
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

test('orderForEpoch: a permutation that depends only on (seed, epoch)', () => {
  const a = orderForEpoch(1, 0, 50);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(orderForEpoch(1, 0, 50), a);
  assert.notDeepEqual(orderForEpoch(1, 1, 50), a);
  assert.notDeepEqual(orderForEpoch(2, 0, 50), a);
});

test('cropGeometry: resize keeps the aspect and covers the output; centre and random crops stay inside', () => {
  const g = cropGeometry(400, 200, 64, 64, 'center', false, new Rng(1));
  assert.deepEqual(g, { rw: 128, rh: 64, left: 32, top: 0, width: 64, height: 64, flip: false });
  for (let s = 0; s < 50; s++) {
    const r = cropGeometry(300, 500, 96, 64, 'random', true, new Rng(s));
    assert.ok(r.rw >= 96 && r.rh >= 64 && r.left >= 0 && r.top >= 0 && r.left + 96 <= r.rw && r.top + 64 <= r.rh);
    assert.ok(Math.abs(r.rw / r.rh - 300 / 500) < 0.02);
  }
  const flips = Array.from({ length: 40 }, (_, s) => cropGeometry(10, 10, 10, 10, 'none', true, new Rng(s)).flip);
  assert.ok(flips.includes(true) && flips.includes(false));
  const img: FloatImage = { width: 3, height: 1, channels: 1, data: Float32Array.of(1, 2, 3) };
  assert.deepEqual(Array.from(applyGeometry(img, { rw: 3, rh: 1, left: 1, top: 0, width: 2, height: 1, flip: true }).data), [3, 2]);
});

test('loader: NHWC batches, identical crops and flips on composite / real / mask, variable input sizes', async () => {
  const samples = await makeDataset([[64, 48], [40, 80], [50, 50], [90, 30], [33, 47]]);
  const loader = createLoader(samples, { batchSize: 2, size: 24, crop: 'random', flip: true, seed: 3 });
  assert.equal(loader.batches, 3);
  const batches = await collect(loader);
  assert.deepEqual(batches.map((b) => b.size), [2, 2, 1]);
  assert.deepEqual(batches.flatMap((b) => b.ids).sort(), samples.map((s) => s.id).sort());
  let flipped = 0, total = 0;
  for (const b of batches) {
    assert.equal(b.input.length, b.size * 24 * 24 * 3);
    assert.equal(b.mask.length, b.size * 24 * 24);
    for (let n = 0; n < b.size; n++) {
      total++;
      const px = (x: number, y: number, k: number, arr: Float32Array): number => arr[((n * 24 + y) * 24 + x) * 3 + k];
      // composite and real share the geometry: same red/green coordinates everywhere (PNG 8-bit)
      for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) {
        for (const k of [0, 1]) assert.ok(Math.abs(px(x, y, k, b.composite) - px(x, y, k, b.real)) < 1.5 / 255);
        assert.ok(Math.abs(px(x, y, 2, b.composite) - 0.2) < 1.5 / 255 && Math.abs(px(x, y, 2, b.real) - 0.8) < 1.5 / 255);
        // the mask is foreground exactly where the source x coordinate (red) is in the right half
        const m = b.mask[(n * 24 + y) * 24 + x];
        const red = px(x, y, 0, b.composite);
        if (Math.abs(red - 0.5) > 0.06) assert.equal(m > 0.5, red > 0.5, `mask vs red ${red} at ${x},${y}`);
      }
      assert.deepEqual(b.input.subarray(n * 1728, (n + 1) * 1728), b.composite.subarray(n * 1728, (n + 1) * 1728));
      if (px(0, 12, 0, b.composite) > px(23, 12, 0, b.composite)) flipped++;
    }
    const t = tf.tensor4d(b.input, [b.size, b.height, b.width, 3]);
    assert.deepEqual(t.shape, [b.size, 24, 24, 3]);
    t.dispose();
  }
  assert.ok(flipped > 0 && flipped < total, `flipped ${flipped}/${total}`);
});

test('loader: resuming at (epoch, startBatch) reproduces the uninterrupted run; epochs differ', async () => {
  const samples = await makeDataset([[30, 20], [20, 30], [25, 25], [40, 20], [20, 20], [31, 29], [22, 26]]);
  const opts = { batchSize: 2, size: 16, crop: 'random' as const, flip: true, seed: 11, epoch: 4 };
  const full = await collect(createLoader(samples, opts));
  const resumed = await collect(createLoader(samples, { ...opts, startBatch: 2, prefetch: 3 }));
  assert.equal(resumed.length, full.length - 2);
  resumed.forEach((b, i) => {
    assert.deepEqual(b.ids, full[i + 2].ids);
    assert.deepEqual(b.composite, full[i + 2].composite);
    assert.deepEqual(b.mask, full[i + 2].mask);
  });
  const other = await collect(createLoader(samples, { ...opts, epoch: 5 }));
  assert.notDeepEqual(other.map((b) => b.ids), full.map((b) => b.ids));
  const ordered = await collect(createLoader(samples, { ...opts, shuffle: false, crop: 'center', flip: false }));
  assert.deepEqual(ordered.flatMap((b) => b.ids), samples.map((s) => s.id));
});

test('loader: input transform is cached per (key, sample) and reused; prefetch stays bounded', async () => {
  const samples = await makeDataset([[32, 24], [24, 32], [28, 28], [30, 30], [26, 20], [20, 26]]);
  const cacheDir = mkdtempSync(join(tmpdir(), 'harmonia-cache-'));
  let calls = 0;
  const fn = async (_s: HarmonizationSample, comp: FloatImage): Promise<FloatImage> => {
    calls++;
    return { ...comp, data: comp.data.map((v) => 1 - v) }; // a visible, checkable transform
  };
  const opts = { batchSize: 2, size: 16, crop: 'center' as const, seed: 1, prefetch: 1, inputTransform: { key: 'invert-v1', cacheDir, fn } };
  const it = createLoader(samples, opts)[Symbol.asyncIterator]();
  const first = await it.next();
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(calls <= 4, `with prefetch 1 at most two batches are loaded after the first next(): ${calls} transform calls`);
  const rest: Batch[] = [first.value as Batch];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  assert.equal(calls, 6);
  assert.equal(readdirSync(join(cacheDir, 'invert-v1')).length, 6);
  for (const b of rest) for (let i = 0; i < b.input.length; i++) assert.ok(Math.abs(b.input[i] - (1 - b.composite[i])) < 0.02, 'input = transform(composite) with the same crop');
  const again = await collect(createLoader(samples, opts));
  assert.equal(calls, 6, 'second epoch reads the cache');
  assert.deepEqual(again.map((b) => b.input), rest.map((b) => b.input));
  await collect(createLoader(samples, { ...opts, inputTransform: { ...opts.inputTransform, key: 'invert-v2' } }));
  assert.equal(calls, 12, 'a new key recomputes');
  const img: FloatImage = { width: 2, height: 1, channels: 3, data: Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6) };
  assert.deepEqual(decodeFloatImage(encodeFloatImage(img)), img);
  assert.equal(decodeFloatImage(encodeFloatImage(img).subarray(0, 20)), undefined);
});

test('loader: a wrong-size mask is an error naming the list line', async () => {
  const samples = await makeDataset([[20, 20], [20, 20]]);
  await writeMask(samples[1].mask, { width: 19, height: 20, data: new Float32Array(380) });
  await assert.rejects(collect(createLoader(samples, { batchSize: 1, size: 8, seed: 0, shuffle: false })),
    (e: unknown) => e instanceof Error && e.message.includes(`L_train.txt:2`) && /is 19×20 but composite/.test(e.message));
});
