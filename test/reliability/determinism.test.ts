/**
 * Determinism helpers (src/util/determinism.ts) and the reproducibility they guard: seeded streams,
 * order-independent per-item seeds, byte-identical encodes, identical decodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  sha256Hex, digestFile, digestImage, stableStringify, compareCodeUnits, sortedNames, deriveSeed, firstDifference, checkDeterministic, digestValue,
} from '../../src/util/determinism.ts';
import { Rng } from '../../src/util/random.ts';
import { readImage, writeImage, toUint8 } from '../../src/image/io.ts';
import { resizeImage } from '../../src/image/resize.ts';
import { createImage, type FloatImage } from '../../src/image/types.ts';
import { HarmoniaError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-determinism-'));

function randomImage(seed: number, w: number, h: number, c = 3): FloatImage {
  const rng = new Rng(seed);
  const img = createImage(w, h, c);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.next();
  return img;
}

test('sha256Hex matches the FIPS 180-2 test vector; digestFile streams the same hash', async () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const p = join(dir, 'a.png');
  await writeImage(p, randomImage(1, 50, 40));
  assert.equal(await digestFile(p), createHash('sha256').update(readFileSync(p)).digest('hex'));
  await assert.rejects(digestFile(join(dir, 'missing.bin')), (e: unknown) => e instanceof HarmoniaError && /missing\.bin: cannot read for hashing: no such file/.test(e.message));
});

test('digestImage: exact float bits by default (−0 = 0, all NaNs equal), 8-bit quantised on request, size-aware', () => {
  const a = randomImage(7, 6, 5);
  a.data[3] = 0.5;
  const b = { ...a, data: new Float32Array(a.data) };
  assert.equal(digestImage(a), digestImage(b));
  b.data[3] = 0.5 + 1e-6; // a few float32 ulps: same 8-bit value, different bits
  assert.notEqual(digestImage(a), digestImage(b));
  assert.equal(digestImage(a, { quantize: 8 }), digestImage(b, { quantize: 8 }));
  // the 8-bit digest is the hash of a header and exactly the bytes a PNG would hold
  const expect = createHash('sha256').update('image:6x5x3:8\n').update(toUint8(a)).digest('hex');
  assert.equal(digestImage(a, { quantize: 8 }), expect);
  const z = createImage(2, 1, 1);
  const nz = { ...z, data: Float32Array.of(-0, NaN) };
  const n2 = { ...z, data: new Float32Array(new Uint32Array([0, 0x7fc00001]).buffer) };
  z.data[1] = NaN;
  assert.equal(digestImage(nz), digestImage(z));
  assert.equal(digestImage(n2), digestImage(z));
  // same values, different shape or kind → different digest
  const t = createImage(3, 2, 1, 0.5);
  assert.notEqual(digestImage(t), digestImage({ ...t, width: 2, height: 3 }));
  assert.notEqual(digestImage(t), digestImage({ width: 3, height: 2, data: t.data }));
  assert.notEqual(digestImage(a, { quantize: 8 }), digestImage(a, { quantize: 16 }));
  assert.throws(() => digestImage({ ...t, width: 4 }), /data has 6 values, expected 4×2×1 = 8/);
});

test('stableStringify: key order never matters; refuses what JSON would silently change', () => {
  const x = { b: 1, a: { d: [1, { z: 0, y: 'é' }], c: null }, e: undefined };
  const y = { a: { c: null, d: [1, { y: 'é', z: 0 }] }, b: 1 };
  assert.equal(stableStringify(x), stableStringify(y));
  assert.equal(stableStringify(x), '{"a":{"c":null,"d":[1,{"y":"é","z":0}]},"b":1}');
  assert.deepEqual(JSON.parse(stableStringify(y)), y);
  assert.equal(stableStringify({ when: new Date(0) }), '{"when":"1970-01-01T00:00:00.000Z"}');
  assert.equal(stableStringify(Float32Array.of(0.5, 2)), '[0.5,2]');
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  for (const [bad, re] of [[{ a: NaN }, /\$\.a is NaN/], [[1, Infinity], /\$\[1\] is Infinity/], [cyc, /\$\.self is a circular reference/],
    [{ f: () => 1 }, /\$\.f is a function/], [{ n: 10n }, /\$\.n is a bigint/], [[undefined], /\$\[0\] is undefined/]] as const) {
    assert.throws(() => stableStringify(bad), (e: unknown) => e instanceof HarmoniaError && re.test(e.message));
  }
  // shared (non-circular) references are fine
  const shared = { v: 1 };
  assert.equal(stableStringify({ p: shared, q: shared }), '{"p":{"v":1},"q":{"v":1}}');
});

test('compareCodeUnits / sortedNames: locale-independent order', () => {
  const names = ['b_1_1.jpg', 'a_10_1.jpg', 'B_1_1.jpg', 'a_2_1.jpg', 'é.jpg', '_x.jpg', 'a_1_1.jpg'];
  assert.deepEqual(sortedNames(names), ['B_1_1.jpg', '_x.jpg', 'a_10_1.jpg', 'a_1_1.jpg', 'a_2_1.jpg', 'b_1_1.jpg', 'é.jpg']);
  assert.deepEqual(sortedNames(new Set(names)), [...names].sort());
  assert.equal(compareCodeUnits('a', 'a'), 0);
  assert.equal(compareCodeUnits('Z', 'a'), -1);
});

test('Rng and deriveSeed streams are pinned (a change here breaks every seeded result)', () => {
  const r = new Rng(1);
  assert.deepEqual([r.next(), r.next(), r.next()].map((v) => v.toFixed(10)), GOLDEN_RNG_1);
  assert.equal(deriveSeed(42, 'HFlickr/f1234_1_2', 3), GOLDEN_DERIVE);
  assert.notEqual(deriveSeed(42, 'a', 1), deriveSeed(42, 'a', 2));
  assert.notEqual(deriveSeed(42, 'a', 1), deriveSeed(43, 'a', 1));
  assert.notEqual(deriveSeed(42, 'a1'), deriveSeed(42, 'a', 1));
  assert.throws(() => deriveSeed(1, NaN), /not finite/);
});

test('deriveSeed gives every item the same numbers whatever the processing order (parallel / resumed runs)', () => {
  const ids = Array.from({ length: 50 }, (_, i) => `S/img${i}_1_1`);
  const draw = (order: string[]): Map<string, number[]> => {
    const out = new Map<string, number[]>();
    for (const id of order) {
      const rng = new Rng(deriveSeed(7, id, 0));
      out.set(id, [rng.next(), rng.normal(), rng.int(0, 1000)]);
    }
    return out;
  };
  const forward = draw(ids);
  const shuffled = draw(new Rng(99).shuffle([...ids]));
  const resumed = draw(ids.slice(30)); // a resume that starts at item 30
  for (const id of ids) assert.deepEqual(shuffled.get(id), forward.get(id));
  for (const id of ids.slice(30)) assert.deepEqual(resumed.get(id), forward.get(id));
  // distinct items get distinct streams
  assert.equal(new Set([...forward.values()].map((v) => v[0])).size, ids.length);
});

test('checkDeterministic: identical encodes/decodes/resizes pass; a varying computation fails with the first difference', async () => {
  const img = randomImage(3, 33, 21);
  for (const ext of ['png', 'jpg', 'webp', 'tif']) {
    const d = await checkDeterministic(async (i) => {
      const p = join(dir, `enc-${i}.${ext}`);
      await writeImage(p, img);
      return new Uint8Array(readFileSync(p));
    }, { runs: 3, what: `${ext} encode` });
    assert.match(d, /^[0-9a-f]{64}$/);
  }
  const p = join(dir, 'dec.jpg');
  await writeImage(p, img);
  await checkDeterministic(() => readImage(p), { what: 'JPEG decode' });
  await checkDeterministic(() => resizeImage(img, 17, 40, 'bicubic'), { what: 'bicubic resize' });
  await checkDeterministic(() => ({ b: [1, 2], a: 'x' }), { digest: (v) => stableStringify(v) });
  await assert.rejects(
    checkDeterministic((i) => ({ ...img, data: Float32Array.from(img.data, (v, k) => (k === 5 && i === 1 ? v + 0.25 : v)) }), { what: 'noisy step', runs: 3 }),
    (e: unknown) => e instanceof HarmoniaError && /noisy step is not deterministic: run 2 of 3 differs from run 1 .*first difference at index 5/.test(e.message),
  );
  await assert.rejects(checkDeterministic(() => 1 as unknown as string, { runs: 1 }), /runs must be an integer ≥ 2/);
  assert.deepEqual(firstDifference([1, NaN, 3], [1, NaN, 4]), { index: 2, a: 3, b: 4 });
  assert.equal(firstDifference(Float32Array.of(1, 2), [1, 2]), undefined);
  assert.deepEqual(firstDifference([1], [1, 2]), { index: 1, a: NaN, b: 2 });
  assert.notEqual(digestValue('abc'), digestValue(new TextEncoder().encode('abc')));
});

const GOLDEN_RNG_1 = ['0.1896772885', '0.3177876356', '0.7830808095'];
const GOLDEN_DERIVE = 3548573589;
