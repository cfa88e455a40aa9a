/**
 * File-system IOHandler for TensorFlow.js models in the standard browser format: a folder with
 * `model.json` (topology + weightsManifest) and `weights.bin` (all weights, little-endian float32,
 * in manifest order). The same folder loads in a browser with tf.loadLayersModel(url/model.json).
 *
 * Writes are atomic per file (temp + rename), weights first, so `model.json` only ever points to
 * a complete weights file; loading checks the weights' byte length against the manifest.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeFsError } from '../util/atomic.ts';
import './layers.ts';
import { MODEL_JSON, WEIGHTS_BIN } from './folder-meta.ts';

export { MODEL_JSON, WEIGHTS_BIN }; // defined in folder-meta.ts (no TensorFlow.js)

function toBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buf = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return new Uint8Array(buf);
}

function specBytes(specs: tf.io.WeightsManifestEntry[]): number {
  const sizes: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };
  let total = 0;
  for (const s of specs) {
    const bytesPer = s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : s.quantization.dtype === 'float16' ? 2 : 4) : sizes[s.dtype];
    if (bytesPer === undefined) throw new HarmoniaError(`weight "${s.name}": unsupported dtype ${s.dtype}`);
    total += bytesPer * s.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** An IOHandler that saves to / loads from folder `dir` (created on save). */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new HarmoniaError('saving binary (non-JSON) model topologies is not supported', { file: dir });
      const weights = toBytes(artifacts.weightData);
      await fsp.mkdir(dir, { recursive: true }).catch((err: unknown) => {
        throw new HarmoniaError(`cannot create folder: ${describeFsError(err)}`, { file: dir, cause: err });
      });
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFileAtomic(join(dir, WEIGHTS_BIN), weights);
      await writeFileAtomic(join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(dir, MODEL_JSON);
      let text: string;
      try {
        text = await fsp.readFile(jsonPath, 'utf8');
      } catch (err) {
        throw new HarmoniaError(`cannot read model: ${describeFsError(err)}`, { file: jsonPath, cause: err });
      }
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new HarmoniaError(`not valid JSON: ${(err as Error).message}`, { file: jsonPath, cause: err });
      }
      if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new HarmoniaError('not a TensorFlow.js model.json (needs modelTopology and weightsManifest)', { file: jsonPath });
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const chunks: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = join(dir, p);
          try {
            chunks.push(new Uint8Array(await fsp.readFile(file)));
          } catch (err) {
            throw new HarmoniaError(`cannot read weights: ${describeFsError(err)}`, { file, cause: err });
          }
        }
      }
      const total = chunks.reduce((a, c) => a + c.byteLength, 0);
      const expected = specBytes(specs);
      if (total !== expected) {
        throw new HarmoniaError(`weights are ${total} bytes but model.json describes ${expected} (incomplete or mismatched weights file)`, { file: dir });
      }
      const weightData = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        weightData.set(c, off);
        off += c.byteLength;
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: weightData.buffer,
      };
    },
  };
}

/** Saves a LayersModel to folder `dir` (model.json + weights.bin), atomically per file. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileSystemHandler(dir));
}

/** Loads a LayersModel saved by saveModel (or any single-folder tfjs layers model). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(fileSystemHandler(dir));
  } catch (err) {
    if (err instanceof HarmoniaError) throw err;
    throw new HarmoniaError(`cannot load model: ${(err as Error).message}`, { file: dir, cause: err });
  }
}
