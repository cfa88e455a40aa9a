/**
 * No behaviour change (issue 27): the bytes harmonize() encodes for the shipped default model, a
 * paper G and a pct generator (seeded, saved as model folders, so on ONNX Runtime) and a paper G
 * passed as a loaded model (TensorFlow.js), on a few generated inputs, are pinned by SHA-256. The
 * hashes were recorded from the code before the issue-27 refactor; a refactor that changes one byte
 * of any output fails here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/index.ts';
import { tf } from '../../src/engine/tf.ts';
import { Rng } from '../../src/util/random.ts';
import { buildGenerator } from '../../src/models/generator.ts';
import { buildColorTransformGenerator } from '../../src/models/color-transform.ts';
import { saveHarmonizationModel, loadHarmonizationModel } from '../../src/models/folder.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../../src/models/folder-meta.ts';
import { onnxAvailable } from '../../src/models/onnx.ts';
import { harmonize, type HarmonizeOptions } from '../../src/pipeline/harmonize.ts';
import { makeProceduralComposite } from '../../src/data/procedural.ts';

const dir = mkdtempSync(join(tmpdir(), 'harmonia-lock-'));
const PAPER = join(dir, 'paper');
const PCT = join(dir, 'pct');

before(async () => {
  await initEngine({ backend: 'cpu' });
  const paperCfg = { kind: 'paper', base: 8, maskInput: true, residual: true, residualScale: 0.3, seed: 3 };
  const g = buildGenerator(paperCfg);
  perturb(g, 7, 0.02);
  await saveHarmonizationModel(PAPER, g, paperCfg, { name: 'lock-paper', input: 'composite' });
  g.dispose();
  const pctCfg = { kind: 'pct', base: 8, analysisSize: 32, hidden: 16, gateBias: 0, seed: 5 };
  const p = buildColorTransformGenerator({ field: true, base: 8, analysisSize: 32, hidden: 16, gateBias: 0, seed: 5 });
  perturb(p, 8, 0.05);
  await saveHarmonizationModel(PCT, p, pctCfg, { name: 'lock-pct', input: 'composite' });
  p.dispose();
});

/** Adds seeded noise to every weight (fresh colour-transform heads start at the identity). */
function perturb(model: tf.LayersModel, seed: number, scale: number): void {
  const rng = new Rng(seed);
  model.setWeights(model.getWeights().map((w) => {
    const v = w.dataSync();
    const n = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) n[i] = v[i] + rng.uniform(-scale, scale);
    return tf.tensor(n, w.shape);
  }));
}

after(() => rmSync(dir, { recursive: true, force: true }));

function inputs(): { name: string; composite: HarmonizeOptions['composite']; mask: HarmonizeOptions['mask'] }[] {
  return [
    { ...makeProceduralComposite({ seed: 11, width: 96, height: 80 }), name: 's11-96x80' },
    { ...makeProceduralComposite({ seed: 4, width: 75, height: 53 }), name: 's4-75x53' },
  ];
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 24);

async function hashes(model: HarmonizeOptions['model'], extra: Partial<HarmonizeOptions> = {}): Promise<string[]> {
  const out: string[] = [];
  for (const i of inputs()) out.push(`${i.name} ${sha(await harmonize({ composite: i.composite, mask: i.mask, model, ...extra }))}`);
  return out;
}

/** SHA-256 (first 24 hex digits) of each output, recorded from the code before the refactor. */
const EXPECTED: Record<string, string[]> = {
  default: ['s11-96x80 45c3c717e6ffaf8c5cbf7bae', 's4-75x53 e7624559c78237a775edc336'],
  'default gan jpeg': ['s11-96x80 6aa28e69fa3d400cfad86fa2', 's4-75x53 3678e7b54e2a56913599a8a9'],
  paper: ['s11-96x80 a919af6cb5b574148aacabca', 's4-75x53 58632da067501585c6c71ff7'],
  'paper tfjs': ['s11-96x80 a919af6cb5b574148aacabca', 's4-75x53 58632da067501585c6c71ff7'],
  pct: ['s11-96x80 4e860a2e63fb4315a43c3f4f', 's4-75x53 c14023cf5298a14e5b1c758c'],
  'pct no-flip': ['s11-96x80 d902595cea3c27cd9f07cc11', 's4-75x53 d49190d11635d87e5ccd63da'],
};

test('harmonize output bytes of the default, paper and pct models are unchanged', { timeout: 300_000 }, async (t) => {
  if (!(await onnxAvailable())) return t.skip('onnxruntime-node is not installed');
  if (!isModelDir(DEFAULT_MODEL_DIR)) return t.skip('no shipped model');
  const got: Record<string, string[]> = {
    default: await hashes(undefined),
    'default gan jpeg': await hashes(undefined, { stage: 'gan', format: 'jpeg', quality: 90 }),
    paper: await hashes(PAPER),
    'paper tfjs': await hashes(await loadHarmonizationModel(PAPER)),
    pct: await hashes(PCT),
    'pct no-flip': await hashes(PCT, { flipAverage: false }),
  };
  assert.deepEqual(got, EXPECTED);
});
