/**
 * Resource limits (docs/RELIABILITY.md): harmonizing a folder of 1,000 images through harmonizeBatch
 * (full pipeline: intrinsic stage + a generator on TensorFlow.js, PNG encode, atomic write) leaks no
 * tensor (tf.memory() identical before and after) and keeps memory flat: after a 100-image warm-up,
 * heap in use (after a forced GC) grows by ≤ 8 MiB and RSS by ≤ 64 MiB over the remaining 900 images.
 * A leak of one 48×48 float image per item would add 26 MiB of heap; one tensor per item, 1,000 tensors.
 * Then 300 images through a model folder path (the CLI's route: G on ONNX Runtime when installed), same bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { writeImage } from '../../src/image/io.ts';
import { Rng } from '../../src/util/random.ts';
import { buildGenerator } from '../../src/models/generator.ts';
import { saveHarmonizationModel, loadHarmonizationModel } from '../../src/pipeline/model.ts';
import { harmonizeBatch, pairFolder } from '../../src/pipeline/batch.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): { heap: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}

test('harmonizeBatch over 1,000 images (48×48, full pipeline with a tfjs generator, then 300 through the model path): no tensor leak, heap and RSS flat', { timeout: 240_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-memory-'));
  try {
    const engine = await initEngine();
    t.diagnostic(`backend ${engine.backend}`);
    const N = 1000, S = 48;
    const rng = new Rng('memory-1000');
    for (let i = 0; i < N; i++) {
      const img = new Float32Array(S * S * 3);
      const m = new Float32Array(S * S * 3);
      const c = [rng.next(), rng.next(), rng.next()];
      const x0 = rng.int(4, 18), y0 = rng.int(4, 18), x1 = rng.int(28, 44), y1 = rng.int(28, 44);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const fg = x >= x0 && x < x1 && y >= y0 && y < y1;
          for (let k = 0; k < 3; k++) {
            img[(y * S + x) * 3 + k] = Math.min(1, Math.max(0, (fg ? c[k] : 0.45) + 0.15 * Math.sin((x + 5 * k + i) / 4) * Math.cos(y / 6) + 0.05 * rng.next()));
            m[(y * S + x) * 3 + k] = fg ? 1 : 0;
          }
        }
      }
      const name = `im${String(i).padStart(4, '0')}.png`;
      await writeImage(join(root, 'in', name), { width: S, height: S, channels: 3, data: img }, { mkdir: true });
      await writeImage(join(root, 'masks', name), { width: S, height: S, channels: 3, data: m }, { mkdir: true });
    }
    const cfg = { base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 5 };
    const g = buildGenerator(cfg);
    await saveHarmonizationModel(join(root, 'model'), g, cfg, { name: 'memory-random', input: 'semiHarmonized' });
    g.dispose();
    // a loaded model object: G runs on TensorFlow.js (a folder path would use ONNX Runtime when installed)
    const model = await loadHarmonizationModel(join(root, 'model'));
    const items = pairFolder(join(root, 'in'), join(root, 'masks'), join(root, 'out'));
    assert.equal(items.length, N);
    const opts = { model, stage: 'full' as const, quiet: true };
    // warm-up: kernels compiled, caches and pools filled
    mkdirSync(join(root, 'out'));
    await harmonizeBatch(items.slice(0, 100), opts);
    const tensors0 = tf.memory().numTensors, bytes0 = tf.memory().numBytes;
    const base = heapMiB();
    const samples: string[] = [];
    let peakRss = base.rss, peakHeap = base.heap;
    const t0 = performance.now();
    for (let s = 100; s < N; s += 100) {
      const timings = await harmonizeBatch(items.slice(s, s + 100), opts);
      assert.equal(timings.filter((x) => !x.skipped && !x.error).length, 100);
      const m = heapMiB();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heap);
      samples.push(`${s + 100}: heap ${m.heap.toFixed(1)} MiB, rss ${m.rss.toFixed(0)} MiB, tensors ${tf.memory().numTensors}`);
      assert.equal(tf.memory().numTensors, tensors0, `tensor count after ${s + 100} images`);
    }
    const ms = (performance.now() - t0) / (N - 100);
    t.diagnostic(`after warm-up: heap ${base.heap.toFixed(1)} MiB, rss ${base.rss.toFixed(0)} MiB, ${tensors0} tensors (${bytes0} bytes); ${ms.toFixed(1)} ms/image`);
    for (const line of samples) t.diagnostic(line);
    assert.equal(tf.memory().numTensors, tensors0, 'no tensor leaked over 1,000 images');
    assert.equal(tf.memory().numBytes, bytes0, 'tensor bytes unchanged');
    assert.equal(readdirSync(join(root, 'out')).filter((f) => f.endsWith('.png')).length, N, 'every output written');
    const end = heapMiB();
    assert.ok(peakHeap - base.heap <= 8, `heap grew by ${(peakHeap - base.heap).toFixed(1)} MiB (bound 8 MiB)`);
    assert.ok(peakRss - base.rss <= 64, `RSS grew by ${(peakRss - base.rss).toFixed(0)} MiB (bound 64 MiB)`);
    t.diagnostic(`growth over 900 images: heap ${(end.heap - base.heap).toFixed(2)} MiB (peak +${(peakHeap - base.heap).toFixed(2)}), rss peak +${(peakRss - base.rss).toFixed(0)} MiB`);
    model.generator.dispose();

    // the same folder through a model *path*: the product's default, G on ONNX Runtime when installed
    const items2 = pairFolder(join(root, 'in'), join(root, 'masks'), join(root, 'out2')).slice(0, 300);
    mkdirSync(join(root, 'out2'));
    const opts2 = { model: join(root, 'model'), stage: 'full' as const, quiet: true };
    await harmonizeBatch(items2.slice(0, 50), opts2);
    const tensors2 = tf.memory().numTensors;
    const base2 = heapMiB();
    let peak2 = base2;
    for (let s = 50; s < items2.length; s += 50) {
      await harmonizeBatch(items2.slice(s, s + 50), opts2);
      const m = heapMiB();
      peak2 = { heap: Math.max(peak2.heap, m.heap), rss: Math.max(peak2.rss, m.rss) };
    }
    t.diagnostic(`model path (ONNX Runtime when installed), 250 images after a 50-image warm-up: heap ${base2.heap.toFixed(1)} → peak ${peak2.heap.toFixed(1)} MiB, rss ${base2.rss.toFixed(0)} → peak ${peak2.rss.toFixed(0)} MiB`);
    assert.equal(tf.memory().numTensors, tensors2);
    assert.ok(peak2.heap - base2.heap <= 8, `heap grew by ${(peak2.heap - base2.heap).toFixed(1)} MiB (bound 8 MiB)`);
    assert.ok(peak2.rss - base2.rss <= 64, `RSS grew by ${(peak2.rss - base2.rss).toFixed(0)} MiB (bound 64 MiB)`);
    assert.equal(readdirSync(join(root, 'out2')).filter((f) => f.endsWith('.png')).length, 300);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
