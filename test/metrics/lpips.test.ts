import { tempDirFactory } from '../helpers.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { loadLpips, lpipsFiles, linWeightsFromStateDict, type LpipsNet } from '../../src/models/lpips.ts';
import { loadStateDict } from '../../src/models/torch/checkpoint.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { readImage } from '../../src/image/io.ts';
import { readIHarmonyDataset } from '../../src/data/iharmony4.ts';
import { toEvalImage } from '../../src/metrics/index.ts';
import { evaluateSamples, resultMarkdown } from '../../src/eval/evaluate.ts';
import { writeSplit } from './fixtures.ts';
import { main } from '../../src/cli/main.ts';
import { sha256File, weightsDir } from '../../src/models/weights.ts';
import { needsTorch, runPython } from './python.ts';
import { env } from '../../src/config/index.ts';

/** A fresh temp folder, removed when the file's tests end. */
const tempDir = tempDirFactory();

function readBin(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

type Ref = Record<LpipsNet, { shape: [number, number, number, number]; lpips: number[] }>;
let generated: { dir: string; ref: Ref } | undefined;
/** Deterministic torchvision-layout backbones + lin files + inputs + reference distances (made once). */
function reference(): { dir: string; ref: Ref } {
  if (!generated) {
    const dir = tempDir('harmonia-lpips-');
    generated = { dir, ref: JSON.parse(runPython('lpips_ref.py', ['lpips', dir])) as Ref };
  }
  return generated;
}

test('LPIPS v0.1 (alex, vgg, squeeze) matches a PyTorch implementation on the same weights (≤1e-4)', { skip: needsTorch() }, async (t) => {
  const engine = await initEngine();
  const { dir, ref } = reference();
  const backbones: Record<LpipsNet, string> = { alex: 'alexnet.pth', vgg: 'vgg16.pth', squeeze: 'squeezenet1_1.pth' };
  const before = tf.memory().numTensors;
  for (const net of ['alex', 'vgg', 'squeeze'] as const) {
    const lp = await loadLpips(net, { backbone: join(dir, backbones[net]), lin: join(dir, 'lpips', `${net}.pth`) });
    const { shape, lpips: want } = ref[net];
    const a = tf.tensor4d(readBin(join(dir, `${net}_a.bin`)), shape);
    const b = tf.tensor4d(readBin(join(dir, `${net}_b.bin`)), shape);
    const got = Array.from(await lp.distanceTensor(a, b).data());
    t.diagnostic(`${engine.backend} ${net}: ts ${got.map((v) => v.toFixed(6)).join(', ')} torch ${want.map((v) => v.toFixed(6)).join(', ')} max|diff| ${Math.max(...got.map((v, i) => Math.abs(v - want[i]))).toExponential(2)}`);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= 1e-4, `${net} pair ${i}: ts ${got[i]} vs torch ${want[i]}`);
    }
    assert.ok(want[1] > want[0], `${net}: unrelated pair is farther than the noisy pair`);
    // identical images are at distance 0; the FloatImage API agrees with the tensor API
    const img = { width: shape[2], height: shape[1], channels: 3, data: readBin(join(dir, `${net}_a.bin`)).slice(0, shape[1] * shape[2] * 3) };
    assert.equal(await lp.distance(img, img), 0);
    tf.dispose([a, b]);
    lp.dispose();
    tf.disposeVariables();
  }
  assert.ok(tf.memory().numTensors <= before + 3, `tensors leaked: ${tf.memory().numTensors - before}`);
});

test('LPIPS files: default paths under the weights folder, clear errors when missing or wrong', { skip: needsTorch() }, async (t) => {
  const dir = tempDir('harmonia-lpipsw-');
  const p = lpipsFiles('alex', { dir });
  assert.equal(p.backbone, join(dir, 'alexnet-owt-7be5be79.pth'));
  assert.equal(p.lin, join(dir, 'lpips', 'v0.1', 'alex.pth'));
  assert.equal(p.available, false);
  await assert.rejects(loadLpips('alex', { dir }), (e: unknown) => e instanceof HarmoniaError && /alexnet-owt-7be5be79\.pth/.test(e.message) && /harmonia weights/.test(e.message));
  // a lin file for the wrong network is rejected with the key and shapes
  const gen = reference().dir;
  const sd = await loadStateDict(join(gen, 'lpips', 'vgg.pth'));
  assert.throws(() => linWeightsFromStateDict(sd, 'alex', 'vgg.pth'), /lin1\.model\.1\.weight" has shape \[1, 128, 1, 1\], expected \[1, 192, 1, 1\]/);
  mkdirSync(join(dir, 'lpips', 'v0.1'), { recursive: true });
  copyFileSync(join(gen, 'alexnet.pth'), p.backbone);
  copyFileSync(join(gen, 'lpips', 'alex.pth'), p.lin);
  assert.equal(lpipsFiles('alex', { dir }).available, true);
  // `harmonia weights`: the lin file loads; the generated backbone fails the SHA-256 check of its name
  const logs: string[] = [];
  const errs: string[] = [];
  t.mock.method(console, 'log', (...a: unknown[]) => { logs.push(a.join(' ')); });
  t.mock.method(console, 'error', (...a: unknown[]) => { errs.push(a.join(' ')); });
  const code = await main(['weights', '--dir', dir]);
  t.mock.restoreAll();
  const text = logs.join('\n');
  assert.equal(code, 1, text);
  assert.match(text, /\| lpips\/v0\.1\/alex\.pth \| present \([\d.]+ kB\) \| ok \(loads, shapes match\) \|/);
  assert.match(text, /\| alexnet-owt-7be5be79\.pth \| present \([\d.]+ MB\) \| MISMATCH: sha256 [0-9a-f]{8}…, name says 7be5be79 \|/);
  assert.match(text, /\| vgg19-dcbb9e9d\.pth \| missing \|/);
  assert.match(text, /https:\/\/download\.pytorch\.org\/models\/vgg19-dcbb9e9d\.pth\n\s+-> .*vgg19-dcbb9e9d\.pth/);
  assert.match(errs.join('\n'), /1 file\(s\) failed verification/);
  // the evaluator picks the weights up from the folder and reports real LPIPS numbers
  const data = join(dir, 'data');
  await writeSplit(data);
  const samples = (await readIHarmonyDataset(join(data, 'Gen'), { split: 'test' })).slice(0, 3);
  const r = await evaluateSamples(samples, { oracle: (s) => readImage(s.real) }, { quiet: true, lpips: 'alex', weightsDir: dir });
  assert.equal(r.lpips.available, true);
  const lp = await loadLpips('alex', { dir });
  for (const s of samples) {
    const comp = r.rows.find((x) => x.id === s.id && x.method === 'composite')!;
    const oracle = r.rows.find((x) => x.id === s.id && x.method === 'oracle')!;
    assert.equal(oracle.lpips, 0);
    const direct = await lp.distance(toEvalImage(await readImage(s.composite)), toEvalImage(await readImage(s.real)));
    assert.ok(comp.lpips! > 0 && Math.abs(comp.lpips! - direct) < 1e-6, `${s.id}: evaluator ${comp.lpips} vs direct ${direct}`);
  }
  assert.match(resultMarkdown(r), /LPIPS \(alex\) ↓/);
  // batched scoring against one reference equals pairwise scoring
  const ref = tf.randomUniform([1, 40, 36, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const cands = tf.randomUniform([3, 40, 36, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const batched = await lp.distancesToReference(ref, cands).data();
  const pairwise = await lp.distanceTensor(tf.tile(ref, [3, 1, 1, 1]) as tf.Tensor4D, cands).data();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(batched[i] - pairwise[i]) < 1e-6);
  tf.dispose([ref, cands]);
  lp.dispose();
});

test('weights folder resolution and SHA-256 of a known input', async () => {
  const dir = tempDir('harmonia-sha-');
  const f = join(dir, 'abc.txt');
  writeFileSync(f, 'abc');
  assert.equal(await sha256File(f), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const saved = env.weights;
  env.weights = dir;
  try {
    assert.equal(weightsDir(), dir);
    assert.equal(weightsDir('/x/y'), '/x/y');
    env.weights = undefined;
    assert.match(weightsDir(), /\.cache\/harmonia\/weights$/);
  } finally {
    env.weights = saved;
  }
});
