/**
 * Harmonization model folders: the generator in standard TensorFlow.js layers format
 * (model.json + weights.bin, loadable in Node and browsers; the source of truth), `harmonia.json`,
 * which records the generator config and the model card, and — for generators with an ONNX export —
 * `model.onnx`, derived from the TF.js files when the folder is saved and tagged with their SHA-256
 * (src/models/folder-onnx.ts; checked on load, `harmonia export-onnx <folder>` re-exports it). The default
 * model ships in the repository at models/default/. In models/ (not pipeline/) so the trainer saves its
 * generator without importing the pipeline; src/pipeline/model.ts re-exports it.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { HarmoniaError } from '../errors.ts';
import { loadModel, saveModel } from './io.ts';
import { buildGenerator, type GeneratorConfig } from './generator.ts';
import { tf } from '../engine/tf.ts';
import type { HarmonizationModel, ModelCard } from './harmonization.ts';
import { hasOnnxExport, writeOnnxModel, ONNX_FILE } from './folder-onnx.ts';
import { generatorConfig, generatorKind } from './registry.ts';
import {
  MODEL_META, DEFAULT_MODEL_DIR, readModelMeta, checkModelFiles, checkFiniteOutput, smokeInput, ModelCheckError,
  type ModelMeta, type ModelFiles,
} from './folder-meta.ts';

// the folder's file names, the shipped model's folder and the description live in folder-meta.ts (no TensorFlow.js)
export { MODEL_META, DEFAULT_MODEL_DIR, isModelDir, readModelMeta, ModelCheckError, type ModelMeta } from './folder-meta.ts';

/** Side of the smoke input (a multiple of every registered stride; colour-transform generators take any size). */
const SMOKE_SIZE = 16;

function listed(items: readonly string[]): string {
  return items.length <= 4 ? items.join(', ') : `${items.slice(0, 4).join(', ')} and ${items.length - 4} more`;
}

/**
 * Checks a loaded generator against its folder's description before use: the network harmonia.json
 * describes (built from its config by the registry) must have model.json's layers, weight names and
 * shapes and input channels; then one smoke run on a small input must give a finite image of the
 * input's size. Throws a ModelCheckError naming the folder and the problem.
 */
function checkGenerator(dir: string, meta: ModelMeta, files: ModelFiles, generator: tf.LayersModel): void {
  const kind = generatorKind(meta.generator);
  let expected: tf.LayersModel;
  try {
    expected = buildGenerator(generatorConfig(kind, meta.generator));
  } catch (err) {
    throw new ModelCheckError(dir, `${MODEL_META} describes a generator that cannot be built (${(err as Error).message})`, err);
  }
  try {
    const described = `${MODEL_META} describes a "${kind}" generator`;
    const want = new Map(expected.weights.map((w) => [w.originalName, w.shape.join('×')]));
    const have = new Map(files.specs.map((s) => [s.name, s.shape.join('×')]));
    const missing = [...want.keys()].filter((n) => !have.has(n));
    const extra = [...have.keys()].filter((n) => !want.has(n));
    if (missing.length || extra.length) {
      const parts = [
        ...(extra.length ? [`weights not in that generator: ${listed(extra)}`] : []),
        ...(missing.length ? [`weights of that generator missing: ${listed(missing)}`] : []),
      ];
      throw new ModelCheckError(dir, `${described}, but model.json holds another network (${parts.join('; ')}): model.json and ${MODEL_META} come from different models`);
    }
    const shapes = [...want].filter(([n, s]) => have.get(n) !== s).map(([n, s]) => `${n} is ${have.get(n)} in model.json, ${s} in that generator`);
    if (shapes.length) throw new ModelCheckError(dir, `${described} whose weight shapes differ from model.json's: ${listed(shapes)}; model.json and ${MODEL_META} come from different models`);
    const wantLayers = new Set(expected.layers.map((l) => l.name));
    const layerDiff = [...generator.layers.map((l) => l.name).filter((n) => !wantLayers.has(n)), ...[...wantLayers].filter((n) => !generator.layers.some((l) => l.name === n))];
    if (layerDiff.length) throw new ModelCheckError(dir, `${described} whose layers differ from model.json's (${listed(layerDiff)}); model.json and ${MODEL_META} come from different models`);
    const cin = expected.inputs[0]?.shape[3];
    const gin = generator.inputs.length === 1 ? generator.inputs[0].shape[3] : undefined;
    if (cin !== gin) throw new ModelCheckError(dir, `${described} taking ${cin} input channels, but model.json's network takes ${gin ?? `${generator.inputs.length} inputs`}`);
  } finally {
    expected.dispose();
  }
  // one smoke run: a finite image of the input's size
  const channels = generator.inputs[0].shape[3] as number;
  const out = tf.tidy(() => {
    const y = generator.predict(tf.tensor4d(smokeInput(SMOKE_SIZE, channels), [1, SMOKE_SIZE, SMOKE_SIZE, channels]));
    const ys = Array.isArray(y) ? y : [y];
    return { shapes: ys.map((t) => t.shape.join('×')), data: ys.map((t) => t.dataSync() as Float32Array) };
  });
  const want = `1×${SMOKE_SIZE}×${SMOKE_SIZE}×3`;
  if (out.shapes.length !== 1 || out.shapes[0] !== want) {
    throw new ModelCheckError(dir, `the generator gives ${out.shapes.join(' + ')} for a ${SMOKE_SIZE}×${SMOKE_SIZE} input, not an RGB image of that size (${want})`);
  }
  checkFiniteOutput(dir, out.data[0], `the generator's output on a ${SMOKE_SIZE}×${SMOKE_SIZE} test input`);
}

/**
 * Loads a harmonization model folder (default: the shipped model), checked before use: harmonia.json,
 * the weight files (complete, finite), model.json against the architecture harmonia.json describes,
 * and one smoke run whose output must be finite. A bad folder is one ModelCheckError (a HarmoniaError)
 * naming the folder and the problem.
 */
export async function loadHarmonizationModel(dir: string = DEFAULT_MODEL_DIR): Promise<HarmonizationModel> {
  const meta = await readModelMeta(dir);
  const files = await checkModelFiles(dir);
  let generator: tf.LayersModel;
  try {
    generator = await loadModel(dir);
  } catch (err) {
    if (err instanceof HarmoniaError) throw err;
    throw new ModelCheckError(dir, `model.json cannot be loaded as a TensorFlow.js model (${(err as Error).message})`, err);
  }
  try {
    checkGenerator(dir, meta, files, generator);
  } catch (err) {
    generator.dispose();
    throw err;
  }
  return { generator, config: meta.generator, card: meta.card };
}

/**
 * Saves a generator + its config + card as a model folder: model.json + weights.bin, then model.onnx
 * (exported from them, when the generator has an ONNX export; an older model.onnx is removed
 * otherwise), then harmonia.json.
 */
export async function saveHarmonizationModel(dir: string, generator: tf.LayersModel, config: GeneratorConfig, card: ModelCard): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await saveModel(generator, dir);
  await fsp.rm(join(dir, ONNX_FILE), { force: true }); // never leave one derived from other weights
  if (hasOnnxExport(config)) {
    try {
      await writeOnnxModel(dir, { generator, config });
    } catch (err) {
      // a graph the exporter does not handle: the folder still works, on TensorFlow.js
      console.error(`harmonia: no ${ONNX_FILE} written for ${dir} (${(err as Error).message}); the generator will run on TensorFlow.js`);
    }
  }
  const meta: ModelMeta = { format: 'harmonia-generator', version: 1, generator: config, card };
  await writeFileAtomic(join(dir, MODEL_META), JSON.stringify(meta, null, 2) + '\n');
}
