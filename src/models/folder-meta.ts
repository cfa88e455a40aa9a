/**
 * What a harmonization model folder is, without loading it: its file names, where the shipped model
 * is, and its description (`harmonia.json`: generator config + model card). No TensorFlow.js here, so
 * the ONNX Runtime path (src/models/onnx.ts, src/pipeline/harmonize.ts) reads a folder without it;
 * folder.ts loads and saves the TF.js generator and re-exports these.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarmoniaError } from '../errors.ts';
import type { GeneratorConfig } from './generator.ts';
import type { ModelCard } from './harmonization.ts';

/** The TF.js layers-format files (io.ts). */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** The model description. */
export const MODEL_META = 'harmonia.json';

/** The folder of the model shipped with Harmonia. */
export const DEFAULT_MODEL_DIR = resolve(fileURLToPath(new URL('../../models/default', import.meta.url)));

export interface ModelMeta {
  format: 'harmonia-generator';
  version: 1;
  generator: GeneratorConfig;
  card: ModelCard;
}

/** True when `dir` holds a loadable harmonization model. */
export function isModelDir(dir: string): boolean {
  return existsSync(join(dir, MODEL_JSON)) && existsSync(join(dir, MODEL_META));
}

/** The description of model folder `dir`, checked the way loadHarmonizationModel checks it (same errors). */
export async function readModelMeta(dir: string = DEFAULT_MODEL_DIR): Promise<ModelMeta> {
  const metaPath = join(dir, MODEL_META);
  if (!existsSync(join(dir, MODEL_JSON))) {
    throw new HarmoniaError(`no model here (model.json missing)${dir === DEFAULT_MODEL_DIR ? '; the default model has not been trained into models/default yet: use --stage intrinsic' : ''}`, { file: dir });
  }
  let meta: ModelMeta;
  try {
    meta = JSON.parse(await fsp.readFile(metaPath, 'utf8')) as ModelMeta;
  } catch (err) {
    throw new HarmoniaError(`cannot read the model description (${(err as Error).message})`, { file: metaPath, cause: err });
  }
  if (meta.format !== 'harmonia-generator' || !meta.generator || !meta.card) {
    throw new HarmoniaError('not a Harmonia model description (format must be "harmonia-generator")', { file: metaPath });
  }
  return meta;
}
