/**
 * The learned background-light estimator of the intrinsic stage, loaded from a TF.js layers-model
 * folder (Node only: file I/O). In a browser, `lightModelFromLayers(await tf.loadLayersModel(url))`.
 */
import { fileURLToPath } from 'node:url';
import { HarmoniaError } from '../errors.ts';
import { lightModelFromLayers, type LightModel } from '../intrinsic/light-net.ts';
import { loadModel } from './io.ts';

/** Folder of the shipped learned light estimator (models/light/ at the package root). */
export const DEFAULT_LIGHT_MODEL_DIR = fileURLToPath(new URL('../../models/light/', import.meta.url));

/**
 * Loads the learned background-light estimator (TF.js layers format: model.json + weights.bin) from
 * `dir` (default: the shipped models/light/) for `semiHarmonize(..., { lightModel })`.
 */
export async function loadLightModel(dir: string = DEFAULT_LIGHT_MODEL_DIR): Promise<LightModel> {
  const model = await loadModel(dir);
  try {
    return lightModelFromLayers(model);
  } catch (err) {
    throw new HarmoniaError(`not a light model: ${(err as Error).message}`, { file: dir, cause: err });
  } finally {
    model.dispose();
  }
}
