/**
 * The ONNX file of a model folder is derived, never a source: `model.onnx` is written next to
 * model.json / weights.bin when the folder is saved (saveHarmonizationModel) or by
 * `harmonia export-onnx <folder>`, and records in its metadata the SHA-256 of the tfjs model it came
 * from (model.json + every weights file of its manifest) and the exporter version.
 *
 * Loading never exports: `readOnnxModel` returns the file only while both match, and otherwise says
 * why not (missing, stale, other exporter, unreadable) with the one command that re-exports it, so a
 * stale model.onnx is never used silently and no ONNX is encoded on the request path.
 *
 * This file writes (through the exporters of src/export/, picked by the generator registry); the
 * reading and checking is src/onnx/file.ts (no TensorFlow.js).
 */
import { join } from 'node:path';
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { generatorEntryOf } from './registry.ts';
import { generatorImplementation } from './generator.ts';
import type { GeneratorConfig } from './generator.ts';
import { META_SOURCE } from '../onnx/meta.ts';
import { ONNX_FILE, modelSourceDigest, readOnnxModel } from '../onnx/file.ts';

// reading and checking model.onnx lives in src/onnx/file.ts (no TensorFlow.js), for ONNX Runtime inference
export { ONNX_FILE, modelSourceDigest, readOnnxModel, reexportCommand, type OnnxFileState } from '../onnx/file.ts';

/** What an export needs: the TF.js generator and the config it was built with. */
export interface ExportableModel {
  generator: tf.LayersModel;
  config: GeneratorConfig;
}

export interface OnnxArtifact {
  /** The ONNX ModelProto bytes. */
  bytes: Uint8Array;
  /** Where they are on disk, or null when not written. */
  path: string | null;
  /** True when this call exported (no file, stale file, or unreadable file). */
  regenerated: boolean;
  /** SHA-256 (hex) of the tfjs model the bytes were exported from. */
  digest: string;
  /** Why the file on disk was not used or not written, if so. */
  note?: string;
}

/** True when the generator `config` names has an ONNX export (registry `onnx`). */
export function hasOnnxExport(config: GeneratorConfig): boolean {
  return generatorEntryOf(config).onnx;
}

/**
 * The ONNX export of a generator, by its registry entry's exporter (the whole G for the paper's, the
 * parameter network, θ and the field, for the colour-transform ones). `digest` is recorded as the
 * source hash.
 */
export function exportModelToOnnx(model: ExportableModel, digest?: string): Uint8Array {
  const entry = generatorEntryOf(model.config);
  const exporter = entry.onnx ? generatorImplementation(entry.name).exportOnnx : undefined;
  if (!exporter) throw new HarmoniaError(`ONNX export: generator "${entry.name}" has no ONNX export (registry)`);
  const metadata = digest ? { [META_SOURCE]: digest } : undefined;
  return exporter(model.generator, model.config, { metadata, inputChannels: entry.inputChannels(model.config) });
}

/** Exports `model` (the TF.js files already saved in `dir`) and writes `dir`/model.onnx atomically. */
export async function writeOnnxModel(dir: string, model: ExportableModel): Promise<OnnxArtifact> {
  const digest = await modelSourceDigest(dir);
  const bytes = exportModelToOnnx(model, digest);
  const path = join(dir, ONNX_FILE);
  await writeFileAtomic(path, bytes);
  return { bytes, path, regenerated: true, digest };
}

/**
 * The ONNX export of model folder `dir` (loaded as `model`): the file when fresh, otherwise exported
 * and written (unless `write` is false). Used by `harmonia export-onnx`; inference uses readOnnxModel.
 */
export async function ensureOnnxModel(dir: string, model: ExportableModel, opts: { write?: boolean } = {}): Promise<OnnxArtifact> {
  const state = await readOnnxModel(dir);
  if (state.status === 'fresh') return { bytes: state.bytes, path: state.path, regenerated: false, digest: state.digest };
  const bytes = exportModelToOnnx(model, state.digest);
  const note = state.status === 'missing' ? 'no model.onnx' : state.reason.replace(/; re-export it with .*$/, '');
  if (opts.write === false) return { bytes, path: null, regenerated: true, digest: state.digest, note };
  try {
    await writeFileAtomic(state.path, bytes);
    return { bytes, path: state.path, regenerated: true, digest: state.digest, note };
  } catch (err) {
    return { bytes, path: null, regenerated: true, digest: state.digest, note: `${note}; not written: ${(err as Error).message}` };
  }
}
