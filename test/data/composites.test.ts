import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeComposites, synthesizeComposite, foregroundMse255, type SynthesisRecord } from '../../src/data/composites.ts';
import { readRealSource, normalizeCategory } from '../../src/data/sources.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { renderScene } from '../../src/data/procedural.ts';
import { readImage, readMask, writeImage, writeMask } from '../../src/image/io.ts';
import { Rng } from '../../src/util/random.ts';
import { TRANSFER_METHODS } from '../../src/data/transfer/index.ts';
import { HarmoniaError } from '../../src/errors.ts';

/** A small real-image source built from procedural scenes: 8 train + 4 test images, categories by object kind. */
async function makeSource(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'harmonia-src-'));
  mkdirSync(join(root, 'real_images'));
  mkdirSync(join(root, 'masks'));
  const index: { name: string; objectName: string }[] = [];
  const train: string[] = [], testL: string[] = [];
  for (let i = 0; i < 12; i++) {
    const s = renderScene({ seed: 100 + i, width: 48, height: 40 });
    let k = 0;
    s.objectMasks.forEach((m, j) => { if (m.data.reduce((a, v) => a + v, 0) > s.objectMasks[k].data.reduce((a, v) => a + v, 0)) k = j; });
    const name = `img_${i}`;
    await writeImage(join(root, 'real_images', `${name}.jpg`), s.image);
    await writeMask(join(root, 'masks', `${name}_1.png`), s.objectMasks[k]);
    index.push({ name, objectName: s.objectKinds[k] === 'sphere' ? 'balls' : 'boxLeft' });
    (i % 3 === 0 ? testL : train).push(`${name}_1_1.jpg`);
  }
  writeFileSync(join(root, 'index.json'), JSON.stringify(index));
  writeFileSync(join(root, 'src_train.txt'), train.join('\n') + '\n');
  writeFileSync(join(root, 'src_test.txt'), testL.join('\n') + '\n');
  return root;
}

const files = (d: string): string[] => (readdirSync(d, { recursive: true }) as string[]).filter((f) => /\.(png|jpg|txt|json)$/.test(f)).sort();

test('category names normalise to coarse classes', () => {
  assert.equal(normalizeCategory('carLeft'), 'car');
  assert.equal(normalizeCategory('car side az180deg'), 'car');
  assert.equal(normalizeCategory('trees'), 'tree');
  assert.equal(normalizeCategory('sea water'), 'water');
  assert.equal(normalizeCategory('snowy mountain'), 'mountain');
  assert.equal(normalizeCategory('buildings'), 'building');
  assert.equal(normalizeCategory(''), 'any');
});

test('synthesizeComposite: every method changes the foreground and keeps the background exactly', async () => {
  const s = renderScene({ seed: 1, width: 40, height: 32 });
  const ref = renderScene({ seed: 2, width: 40, height: 32 });
  const mask = s.objectMasks[s.objectMasks.length - 1];
  const refColors = new Float32Array(ref.image.data);
  for (const method of TRANSFER_METHODS) {
    const c = synthesizeComposite(s.image, mask, refColors, method, new Rng(1));
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] <= 0.5) for (let k = 0; k < 3; k++) assert.equal(c.data[i * 3 + k], s.image.data[i * 3 + k]);
    }
    assert.ok(foregroundMse255(c, s.image, mask) > 10, method);
  }
});

test('makeComposites: layout, background identical after decoding, fMSE bounds, split-respecting references', async () => {
  const src = await makeSource();
  const source = await readRealSource(src);
  assert.equal(source.entries.length, 12);
  const splitOf = new Map(source.entries.map((e) => [e.realName, e.split]));
  const out = mkdtempSync(join(tmpdir(), 'harmonia-comp-'));
  const sum = await makeComposites(src, out, { variants: 2, seed: 5, minFmse: 20, maxFmse: 20000, subset: 'Syn', illumination: true });
  assert.equal(sum.train + sum.test + sum.rejected, 24);
  assert.ok(sum.train > 0 && sum.test > 0);
  const samples = await readIHarmonyDataset(out, { check: true });
  assert.equal(samples.length, sum.train + sum.test);
  for (const s of samples) {
    assert.ok(s.composite.endsWith('.png') && s.real.endsWith('.png'));
    const [c, r, m] = [await readImage(s.composite), await readImage(s.real), await readMask(s.mask)];
    let fg = 0;
    for (let i = 0; i < m.data.length; i++) {
      if (m.data[i] > 0.5) { fg++; continue; }
      for (let k = 0; k < 3; k++) assert.equal(c.data[i * 3 + k], r.data[i * 3 + k], `${s.id} background pixel ${i}`);
    }
    assert.ok(fg > 0);
    const f = foregroundMse255(c, r, m);
    assert.ok(f >= 20 && f <= 20000, `${s.id} fMSE ${f}`);
  }
  for (const rec of sum.records.filter((r) => !r.rejected)) {
    const refReal = rec.reference!.replace(/_\d+$/, '');
    assert.notEqual(refReal, rec.realName);
    assert.equal(splitOf.get(refReal), rec.split, `${rec.name}: reference ${refReal} from another split`);
    const side = JSON.parse(readFileSync(join(out, 'Syn/synthesis', rec.name.replace('.png', '.json')), 'utf8')) as SynthesisRecord;
    assert.deepEqual(side, rec);
    assert.ok(rec.illumination && Number.isFinite(rec.illumination.exposure));
  }
});

test('makeComposites is deterministic, resumable and independent of concurrency; --limit caps each split', async () => {
  const src = await makeSource();
  const a = mkdtempSync(join(tmpdir(), 'harmonia-det-a-'));
  const b = mkdtempSync(join(tmpdir(), 'harmonia-det-b-'));
  const opts = { seed: 9, limit: 3, minFmse: 20, maxFmse: 20000 };
  const sa = await makeComposites(src, a, { ...opts, concurrency: 1 });
  await makeComposites(src, b, { ...opts, concurrency: 4 });
  assert.equal(sa.train + sa.test + sa.rejected, 6);
  assert.deepEqual(files(a), files(b));
  for (const f of files(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
  const again = await makeComposites(src, a, opts);
  assert.equal(again.skippedExisting, 6);
  for (const f of files(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} after resume`);
  await assert.rejects(makeComposites(src, a, { method: 'bogus' as 'idt' }), (e: unknown) => e instanceof HarmoniaError && /method must be/.test(e.message));
  await assert.rejects(makeComposites(src, a, { minFmse: 50, maxFmse: 10 }), /fMSE bounds/);
});

test('a source whose lists put one real image in both splits is refused', async () => {
  const src = await makeSource();
  writeFileSync(join(src, 'src_test.txt'), 'img_0_1_1.jpg\nimg_1_1_1.jpg\n');
  await assert.rejects(readRealSource(src), (e: unknown) => e instanceof HarmoniaError && /img_1" is in the (train|test) list and also in the (test|train) list/.test(e.message) && /src_test\.txt:2/.test(e.message) && /src_train\.txt:1/.test(e.message));
});
