/**
 * A model folder's model.onnx against its TF.js files (src/models/folder-onnx.ts says why the file is
 * derived, never a source): `readOnnxModel` returns the file only while its recorded exporter version
 * and SHA-256 of model.json + weights match. The read side of ONNX (with meta.ts and proto.ts): no
 * TensorFlow.js and nothing from models/ or export/, so both import it and ONNX Runtime inference
 * (src/models/onnx.ts) loads without TF.js.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { describeFsError } from '../util/atomic.ts';
import { readOnnxSummary } from './proto.ts';
import { ONNX_EXPORTER_VERSION, META_EXPORTER, META_SOURCE } from './meta.ts';

/** A model folder's TF.js layers-format model (the source model.onnx is derived from). */
export const MODEL_JSON = 'model.json';
/** A model folder's ONNX export. */
export const ONNX_FILE = 'model.onnx';

/** The state of a folder's model.onnx against its TF.js files. */
export type OnnxFileState =
  | { status: 'fresh'; path: string; digest: string; bytes: Uint8Array }
  | { status: 'missing' | 'stale' | 'unreadable'; path: string; digest: string; reason: string };

/** The command that (re-)exports a folder's model.onnx, for messages. */
export function reexportCommand(dir: string): string {
  return `harmonia export-onnx ${/\s/.test(dir) ? JSON.stringify(dir) : dir}`;
}

/** SHA-256 (hex) of a tfjs model folder's model.json followed by its weight files in manifest order. */
export async function modelSourceDigest(dir: string): Promise<string> {
  const jsonPath = join(dir, MODEL_JSON);
  let text: Buffer;
  try {
    text = await fsp.readFile(jsonPath);
  } catch (err) {
    throw new HarmoniaError(`cannot read model: ${describeFsError(err)}`, { file: jsonPath, cause: err });
  }
  let manifest: { paths?: unknown }[];
  try {
    manifest = (JSON.parse(text.toString('utf8')) as { weightsManifest?: { paths?: unknown }[] }).weightsManifest ?? [];
  } catch (err) {
    throw new HarmoniaError(`not valid JSON: ${(err as Error).message}`, { file: jsonPath, cause: err });
  }
  const h = createHash('sha256').update(text);
  for (const group of manifest) {
    for (const p of Array.isArray(group.paths) ? group.paths : []) {
      const file = join(dir, String(p));
      try {
        h.update(await fsp.readFile(file));
      } catch (err) {
        throw new HarmoniaError(`cannot read weights: ${describeFsError(err)}`, { file, cause: err });
      }
    }
  }
  return h.digest('hex');
}

/** Reads a folder's model.onnx and says whether it was exported from the folder's current TF.js files. */
export async function readOnnxModel(dir: string): Promise<OnnxFileState> {
  const digest = await modelSourceDigest(dir);
  const path = join(dir, ONNX_FILE);
  const redo = `re-export it with \`${reexportCommand(dir)}\``;
  if (!existsSync(path)) return { status: 'missing', path, digest, reason: `${path} does not exist; ${redo}` };
  try {
    const bytes = new Uint8Array(await fsp.readFile(path));
    const meta = readOnnxSummary(bytes).metadata;
    if (meta[META_EXPORTER] !== ONNX_EXPORTER_VERSION) return { status: 'stale', path, digest, reason: `${path} was written by ONNX exporter ${meta[META_EXPORTER] ?? '?'}, this is ${ONNX_EXPORTER_VERSION}; ${redo}` };
    if (meta[META_SOURCE] !== digest) {
      const was = (meta[META_SOURCE] ?? '?').slice(0, 12);
      return { status: 'stale', path, digest, reason: `${path} is stale: it was exported from other weights (sha256 ${was}…) than model.json + weights.bin now (${digest.slice(0, 12)}…); ${redo}` };
    }
    return { status: 'fresh', path, digest, bytes };
  } catch (err) {
    return { status: 'unreadable', path, digest, reason: `${path} is unreadable (${(err as Error).message}); ${redo}` };
  }
}
