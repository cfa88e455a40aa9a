/**
 * Models are checked before use (issue 28 point 4, faults 6 and 10): a model folder with non-finite
 * weights, a model.json of one architecture with a harmonia.json of another, a discriminator folder
 * given as a generator, or weights whose smoke output is not finite, is one HarmoniaError naming the
 * folder and the problem — in the CLI (exit 2, never rc 70, no output written), the Node API
 * (loadHarmonizationModel, harmonize) and `harmonia serve --model` (refuses to start). Also fault 10's
 * path cases: `train-light --features <an image>` and `demo -o <a file>`.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { patternRgb, rawToPng } from '../fixtures-gen/images.ts';
import { DEFAULT_MODEL_DIR, isModelDir, MODEL_META } from '../../src/models/folder-meta.ts';

const tempDir = tempDirFactory();
const dir = tempDir('harmonia-model-check-');
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const W = 32;
const H = 24;
let comp = '';
let mask = '';
const shipped = isModelDir(DEFAULT_MODEL_DIR);
const noShipped = 'skipped: no shipped model in models/default';

/** A copy of the shipped model folder whose weights.bin is changed by `edit` (model.onnx then is stale). */
function copyWithWeights(name: string, edit: (w: Float32Array) => void): string {
  const d = join(dir, name);
  cpSync(DEFAULT_MODEL_DIR, d, { recursive: true });
  const bytes = readFileSync(join(d, 'weights.bin'));
  const w = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  edit(w);
  writeFileSync(join(d, 'weights.bin'), new Uint8Array(w.buffer));
  return d;
}

/** A copy of the shipped model folder whose harmonia.json's generator config is replaced. */
function copyWithConfig(name: string, generator: Record<string, unknown>): string {
  const d = join(dir, name);
  cpSync(DEFAULT_MODEL_DIR, d, { recursive: true });
  const meta = JSON.parse(readFileSync(join(d, MODEL_META), 'utf8')) as { generator: Record<string, unknown> };
  meta.generator = generator;
  writeFileSync(join(d, MODEL_META), JSON.stringify(meta, null, 2));
  return d;
}

before(async () => {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  comp = join(dir, 'comp.png');
  mask = join(dir, 'mask.png');
  writeFileSync(comp, await rawToPng(patternRgb(W, H), W, H, 3));
  writeFileSync(mask, await rawToPng(m, W, H, 1));
});

/** `harmonia harmonize` with `--model <model>`: exit 2, one stderr line naming the folder and matching `re`, no output file. */
async function assertCliRefuses(model: string, re: RegExp): Promise<string> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}.png`);
  const r = await runCli(['harmonize', comp, '--mask', mask, '-o', out, '--model', model]);
  const err = r.stderr.join('\n');
  assert.equal(r.code, 2, `exit 2 (a HarmoniaError, not rc 70): ${err}`);
  assert.equal(r.stderr.length, 1, `one line: ${err}`);
  assert.ok(err.startsWith(`harmonia harmonize: ${model}: not a usable harmonization model: `), err);
  assert.match(err, re);
  assert.doesNotMatch(err, /internal error|at .*\.ts:\d+/);
  assert.ok(!existsSync(out), 'no output written');
  return err;
}

test('fault 6: non-finite weights (NaN) are refused by the CLI, loadHarmonizationModel and harmonize(), naming the weight', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const nan = copyWithWeights('nan', (w) => { w[5] = NaN; });
  const err = await assertCliRefuses(nan, /weight "g_enc1\/kernel" holds a non-finite value \(NaN at index 5\)/);
  assert.match(err, /black/);
  const inf = copyWithWeights('inf', (w) => { w[w.length - 1] = -Infinity; });
  await assertCliRefuses(inf, /weight "g_theta\/bias" holds a non-finite value \(-Infinity at index 36\)/);
  const { loadHarmonizationModel, ModelCheckError } = await import('../../src/pipeline/model.ts');
  await assert.rejects(loadHarmonizationModel(nan), (e: Error) => e instanceof ModelCheckError && e.message.startsWith(`${nan}: `) && /NaN/.test(e.message));
  const { harmonize } = await import('../../src/index.ts');
  await assert.rejects(harmonize({ composite: comp, mask, model: nan }), /non-finite value \(NaN/);
});

test('fault 6: finite weights whose smoke output overflows (Infinity/NaN) are refused; the shipped model passes', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const huge = copyWithWeights('huge', (w) => { for (let i = 0; i < w.length; i++) w[i] = w[i] >= 0 ? 3e38 : -3e38; });
  await assertCliRefuses(huge, /the generator's output on a 16×16 test input is not finite/);
  const { loadHarmonizationModel } = await import('../../src/pipeline/model.ts');
  const m = await loadHarmonizationModel(DEFAULT_MODEL_DIR);
  assert.equal(m.config.kind, 'global');
  m.generator.dispose();
});

test('fault 6, ONNX Runtime first: a folder saved with NaN weights (model.onnx fresh, exported from them) is refused too', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const { onnxAvailable } = await import('../../src/models/onnx.ts');
  if (!(await onnxAvailable())) return t.skip('onnxruntime-node is not installed');
  const { initEngine } = await import('../../src/engine/index.ts');
  await initEngine({ quiet: true });
  const { tf } = await import('../../src/engine/tf.ts');
  const { loadHarmonizationModel, saveHarmonizationModel } = await import('../../src/pipeline/model.ts');
  const good = await loadHarmonizationModel(DEFAULT_MODEL_DIR);
  const d = join(dir, 'nan-fresh');
  good.generator.setWeights(good.generator.getWeights().map((w, i) => (i === 0 ? tf.fill(w.shape, NaN) : w)));
  await saveHarmonizationModel(d, good.generator, good.config, good.card!);
  good.generator.dispose();
  const { readOnnxModel } = await import('../../src/onnx/file.ts');
  assert.equal((await readOnnxModel(d)).status, 'fresh', 'model.onnx is tied to these (broken) weights');
  await assertCliRefuses(d, /weight "g_enc1\/kernel" holds a non-finite value \(NaN at index 0\)/);
  // the hook alone (what harmonize's ONNX-first path uses) gives no runner for it
  const { onnxHookIfReady } = await import('../../src/models/onnx.ts');
  assert.equal(await onnxHookIfReady(d, 'analysis-apply'), null);
});

test('fault 10: model.json of one architecture with harmonia.json of another is a clean error (both ways, and config fields)', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const paper = copyWithConfig('as-paper', { kind: 'paper', base: 32, unet: false, maskInput: false, residual: false });
  await assertCliRefuses(paper, /harmonia\.json describes a "paper" generator, but model\.json holds another network \(weights not in that generator: .*g_mlp1\/kernel.*weights of that generator missing: .*g_dec1\/kernel.*\): model\.json and harmonia\.json come from different models/);
  const pct = copyWithConfig('as-pct', { kind: 'pct', base: 32, analysisSize: 64, hidden: 128, gateBias: 2 });
  await assertCliRefuses(pct, /"pct" generator, but model\.json holds another network \(weights of that generator missing: g_field1\/kernel/);
  const wide = copyWithConfig('as-wide', { kind: 'global', base: 32, analysisSize: 64, hidden: 256, gateBias: 2 });
  await assertCliRefuses(wide, /"global" generator whose weight shapes differ from model\.json's: g_mlp1\/kernel is 268×128 in model\.json, 268×256 in that generator/);
  const unknown = copyWithConfig('as-unknown', { kind: 'transformer' });
  await assertCliRefuses(unknown, /harmonia\.json describes a generator that cannot be built \(generator: unknown kind "transformer"/);
  // same weights, another blend-gate bias: model.onnx (fresh) was exported from another config than harmonia.json says
  const { onnxAvailable } = await import('../../src/models/onnx.ts');
  if (await onnxAvailable()) {
    const gate = copyWithConfig('as-gate', { kind: 'global', base: 32, analysisSize: 64, hidden: 128, gateBias: 5 });
    await assertCliRefuses(gate, /model\.onnx holds another generator than harmonia\.json describes \(gateBias: 2 vs 5\)/);
  }
  const { loadHarmonizationModel, saveHarmonizationModel } = await import('../../src/pipeline/model.ts');
  await assert.rejects(loadHarmonizationModel(paper), /not a usable harmonization model: harmonia\.json describes a "paper" generator/);
  // the other way: a paper G's model.json with a colour-transform harmonia.json; and a mask-input flag that changes the input channels
  const { initEngine } = await import('../../src/engine/index.ts');
  await initEngine({ quiet: true });
  const { buildGenerator } = await import('../../src/models/generator.ts');
  const g = buildGenerator({ base: 8, seed: 1 });
  const pg = join(dir, 'paper-g');
  await saveHarmonizationModel(pg, g, { kind: 'paper', base: 8, seed: 1 }, { name: 'p', input: 'composite' });
  g.dispose();
  const meta = JSON.parse(readFileSync(join(pg, MODEL_META), 'utf8')) as { generator: Record<string, unknown> };
  writeFileSync(join(pg, MODEL_META), JSON.stringify({ ...meta, generator: { kind: 'global', base: 8, analysisSize: 64 } }));
  await assertCliRefuses(pg, /harmonia\.json describes a "global" generator, but model\.json holds another network/);
  writeFileSync(join(pg, MODEL_META), JSON.stringify({ ...meta, generator: { kind: 'paper', base: 8, seed: 1, maskInput: true } }));
  await assertCliRefuses(pg, /"paper" generator whose weight shapes differ from model\.json's: g_enc1\/kernel is 4×4×3×8 in model\.json, 4×4×4×8 in that generator/);
  // export-onnx reads the folder the same way: a clean error, nothing written
  const ex = await runCli(['export-onnx', paper, '--out', join(dir, 'x.onnx')]);
  assert.equal(ex.code, 2, ex.stderr.join('\n'));
  assert.match(ex.stderr.join('\n'), /not a usable harmonization model/);
  assert.ok(!existsSync(join(dir, 'x.onnx')));
});

test('fault 10: a discriminator folder given as a generator is a clean error (with or without a harmonia.json)', async () => {
  const { initEngine } = await import('../../src/engine/index.ts');
  await initEngine({ quiet: true });
  const { buildDiscriminator } = await import('../../src/models/discriminator.ts');
  const { saveModel } = await import('../../src/models/io.ts');
  const d = buildDiscriminator({ base: 8 });
  const bare = join(dir, 'run', 'checkpoint', 'discriminator');
  await saveModel(d, bare);
  const withMeta = join(dir, 'disc-meta');
  await saveModel(d, withMeta);
  d.dispose();
  writeFileSync(join(withMeta, MODEL_META), JSON.stringify({ format: 'harmonia-generator', version: 1, generator: { kind: 'paper' }, card: { name: 'x', input: 'composite' } }));
  for (const f of [bare, withMeta]) {
    await assertCliRefuses(f, /model\.json holds a discriminator \(model "discriminator"\), not a generator; give the generator folder of the run/);
  }
  const { loadHarmonizationModel } = await import('../../src/pipeline/model.ts');
  await assert.rejects(loadHarmonizationModel(withMeta), /holds a discriminator/);
  // the checkpoint folder itself names the generator inside it; a bare TF.js generator says what is missing
  const { buildGenerator } = await import('../../src/models/generator.ts');
  const g = buildGenerator({ base: 8 });
  await saveModel(g, join(dir, 'run', 'checkpoint', 'generator'));
  g.dispose();
  const ck = join(dir, 'run', 'checkpoint');
  const r = await runCli(['harmonize', comp, '--mask', mask, '-o', join(dir, 'ck.png'), '--model', ck]);
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr, [`harmonia harmonize: ${ck}: no model here (model.json missing); the generator is in ${join(ck, 'generator')}`]);
  const bareG = await runCli(['harmonize', comp, '--mask', mask, '-o', join(dir, 'ck.png'), '--model', join(ck, 'generator')]);
  assert.equal(bareG.code, 2);
  assert.match(bareG.stderr[0], /checkpoint\/generator\/harmonia\.json: harmonia\.json is missing: model\.json alone is a TensorFlow\.js network without Harmonia's description/);
});

test('train --init <a folder with NaN weights> is refused before training, naming the folder and the weight', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const { photoSource } = await import('../fixtures-gen/photos.ts');
  const photos = join(dir, 'photos');
  await photoSource(photos, 10, 32);
  const nan = existsSync(join(dir, 'nan')) ? join(dir, 'nan') : copyWithWeights('nan-init', (w) => { w[5] = NaN; });
  const out = join(dir, 'init-run');
  const r = await runCli(['train', '--config', 'global-cpu', '--real', photos, '--size', '32', '--out', out, '--max-steps', '1', '--workers', '1', '--init', nan, '--quiet']);
  assert.equal(r.code, 2, r.stderr.join('\n'));
  assert.match(r.stderr.join('\n'), new RegExp(`harmonia train: ${nan}: not a usable harmonization model: weight "g_enc1/kernel" holds a non-finite value \\(NaN at index 5\\)`));
  assert.ok(!existsSync(join(out, 'generator')), 'no generator written');
});

test('fault 10: train-light --features <an image> and demo -o <a file> are one-line errors (exit 2), not rc 70', async () => {
  const before = readFileSync(comp);
  const tl = await runCli(['train-light', '--features', comp, '--out', join(dir, 'light'), '--count', '20', '--epochs', '1', '--quiet']);
  assert.equal(tl.code, 2, tl.stderr.join('\n'));
  assert.match(tl.stderr.join('\n'), new RegExp(`^harmonia train-light: ${comp}: --features: not a feature cache of this run: \\d+ bytes, expected 19680`));
  const tld = await runCli(['train-light', '--features', dir, '--out', join(dir, 'light'), '--count', '20', '--epochs', '1', '--quiet']);
  assert.equal(tld.code, 2);
  assert.match(tld.stderr.join('\n'), /--features (must name a feature cache file|is a folder)/);
  assert.deepEqual(readFileSync(comp), before, 'the image given as --features is untouched');
  assert.ok(!existsSync(join(dir, 'light')));
  for (const o of [comp, join(comp, 'sub')]) {
    const r = await runCli(['demo', '-o', o, '--count', '1', '--size', '32', '--no-real', '--model', join(dir, 'none')]);
    assert.equal(r.code, 2, r.stderr.join('\n'));
    assert.equal(r.stderr.length, 1, r.stderr.join('\n'));
    assert.ok(r.stderr[0].startsWith(`harmonia demo: ${o}`) || r.stderr[0].startsWith(`harmonia demo: ${comp}`), r.stderr[0]);
    assert.match(r.stderr[0], /is a file, not a folder/);
  }
  assert.deepEqual(readFileSync(comp), before, 'the file given as -o is untouched');
});

test('faults 6 and 10 in serve: `harmonia serve --model <bad>` refuses to start with the message, exit 2', async (t) => {
  if (!shipped) return t.skip(noShipped);
  const nan = existsSync(join(dir, 'nan')) ? join(dir, 'nan') : copyWithWeights('nan-serve', (w) => { w[5] = NaN; });
  const paper = existsSync(join(dir, 'as-paper')) ? join(dir, 'as-paper') : copyWithConfig('as-paper', { kind: 'paper' });
  const disc = join(dir, 'disc-meta');
  mkdirSync(join(dir, 'serve-root'), { recursive: true });
  const cases: [string, RegExp][] = [
    [nan, /weight "g_enc1\/kernel" holds a non-finite value \(NaN at index 5\)/],
    [paper, /harmonia\.json describes a "paper" generator, but model\.json holds another network/],
    ...(existsSync(disc) ? [[disc, /model\.json holds a discriminator/] as [string, RegExp]] : []),
  ];
  for (const [bad, re] of cases) {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--model', bad, '--port', '0', '--threads', '1', '--root', join(dir, 'serve-root')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 2, `serve must not start: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${bad}: not a usable harmonization model: `));
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.doesNotMatch(r.stdout, /listening/i);
  }
});
