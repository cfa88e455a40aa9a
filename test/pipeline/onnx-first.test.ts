/**
 * The ONNX Runtime path of harmonize() without TensorFlow.js (src/pipeline/harmonize.ts
 * resolveOnnxFirstModel + src/pipeline/stages.ts harmonizeWithHooks): it must agree with the registry,
 * give bit-for-bit what the TF.js-loaded model with the same ONNX Runtime hook gives, and `harmonia
 * harmonize` with the shipped model must not load TensorFlow.js at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatorEntry, generatorNames } from '../../src/models/registry.ts';
import { onnxAvailable } from '../../src/models/onnx.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../../src/models/folder-meta.ts';
import { resolveOnnxFirstModel, resolveModel } from '../../src/pipeline/harmonize.ts';
import { harmonizeWithHooks } from '../../src/pipeline/stages.ts';
import { harmonizeImage } from '../../src/pipeline/refine.ts';
import { writeImage, writeMask } from '../../src/image/io.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';
import { cliModulesLoaded } from '../helpers.ts';
import { env } from '../../src/config/index.ts';

const skip = async (): Promise<string | false> => {
  if (!(await onnxAvailable())) return 'onnxruntime-node is not installed';
  if (!isModelDir(DEFAULT_MODEL_DIR)) return 'no shipped model';
  return false;
};

test('the ONNX-first path asks the registry, whose descriptions load without TensorFlow.js', () => {
  for (const kind of generatorNames()) {
    const e = generatorEntry(kind);
    assert.equal(e.onnx, true, `${kind} exports to ONNX`);
    assert.ok(e.family === 'full-image' || e.family === 'analysis-apply', kind);
  }
});

test('the shipped model without TensorFlow.js gives exactly what the TF.js-loaded model with the same hook gives', async (t) => {
  const why = await skip();
  if (why) return t.skip(why);
  const { composite, mask } = makeProceduralComposite({ seed: 11, width: 96, height: 80 });
  const hooked = await resolveOnnxFirstModel(undefined, undefined);
  assert.ok(hooked?.transformParams || hooked?.runner, 'the shipped model resolves to an ONNX Runtime hook');
  const loaded = await resolveModel(undefined, undefined);
  assert.ok(loaded && (loaded.transformParams ?? loaded.runner), 'resolveModel attaches the ONNX Runtime hook too');
  for (const opts of [{}, { flipAverage: false }, { harmonizeBackground: true }, { stage: 'gan' as const }]) {
    const a = harmonizeWithHooks(composite, mask, hooked!, opts);
    const b = harmonizeImage(composite, mask, loaded, opts);
    assert.equal(a.stage, b.stage);
    assert.deepEqual(a.notes, b.notes);
    assert.deepEqual(Object.keys(a.timings), Object.keys(b.timings));
    assert.ok(Buffer.from(a.result.data.buffer).equals(Buffer.from(b.result.data.buffer)), `bit-identical result for ${JSON.stringify(opts)}`);
  }
  // what makes the path fall back to TF.js: no hook for it
  assert.equal(await resolveOnnxFirstModel(undefined, 'intrinsic'), undefined);
  assert.equal(await resolveOnnxFirstModel(null, undefined), undefined);
  assert.equal(await resolveOnnxFirstModel(loaded, undefined), undefined);
  const old = env.inference;
  env.inference = 'tfjs';
  try {
    assert.equal(await resolveOnnxFirstModel(undefined, undefined), undefined);
  } finally {
    env.inference = old;
  }
});

test('harmonia harmonize with the shipped model loads no TensorFlow.js module', { timeout: 120_000 }, async (t) => {
  const why = await skip();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-onnx-first-'));
  try {
    const { composite, mask } = makeProceduralComposite({ seed: 4, width: 64, height: 48 });
    await writeImage(join(dir, 'c.png'), composite);
    await writeMask(join(dir, 'm.png'), mask);
    const env = { ...process.env };
    delete env.HARMONIA_INFERENCE;
    delete env.HARMONIA_BACKEND;
    const r = cliModulesLoaded(['harmonize', join(dir, 'c.png'), '--mask', join(dir, 'm.png'), '-o', join(dir, 'out.png')], { env });
    assert.equal(r.status, 0, r.stderr);
    const { code, seen } = r;
    assert.equal(code, 0, r.stdout);
    assert.match(r.stdout, /^wrote .*out\.png \(64×48, stage full/m);
    assert.ok(seen.some((u) => u.includes('onnxruntime-node')), 'ONNX Runtime ran the generator');
    const tfjs = seen.filter((u) => /@tensorflow|\/src\/engine\/(tf|index)\.ts|\/src\/pipeline\/refine\.ts/.test(u));
    assert.deepEqual(tfjs, [], `loaded:\n  ${tfjs.join('\n  ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
