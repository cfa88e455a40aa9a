/**
 * Harmonization model folders: the generator in standard TensorFlow.js layers format
 * (model.json + weights.bin, loadable in Node and browsers; the source of truth), `harmonia.json`,
 * which records the generator config and the model card, and — for generators with an ONNX export —
 * `model.onnx`, derived from the TF.js files when the folder is saved and tagged with their SHA-256
 * (src/export/cache.ts; checked on load, `harmonia export-onnx <folder>` re-exports it). The default
 * model ships in the repository at models/default/. In models/ (not pipeline/) so the trainer saves its
 * generator without importing the pipeline; src/pipeline/model.ts re-exports it.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { loadModel, saveModel } from './io.ts';
import type { GeneratorConfig } from './generator.ts';
import type { tf } from '../engine/tf.ts';
import type { HarmonizationModel, ModelCard } from './harmonization.ts';
import { hasOnnxExport, writeOnnxModel, ONNX_FILE } from '../export/cache.ts';
import { MODEL_META, DEFAULT_MODEL_DIR, readModelMeta, type ModelMeta } from './folder-meta.ts';

// the folder's file names, the shipped model's folder and the description live in folder-meta.ts (no TensorFlow.js)
export { MODEL_META, DEFAULT_MODEL_DIR, isModelDir, readModelMeta, type ModelMeta } from './folder-meta.ts';

/** Loads a harmonization model folder (default: the shipped model). */
export async function loadHarmonizationModel(dir: string = DEFAULT_MODEL_DIR): Promise<HarmonizationModel> {
  const meta = await readModelMeta(dir);
  const generator = await loadModel(dir);
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
