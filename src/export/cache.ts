/**
 * The ONNX file of a model folder is derived, never a source: `model.onnx` is written next to
 * model.json / weights.bin and records in its metadata the SHA-256 of the tfjs model it came from
 * (model.json + every weights file of its manifest) and the exporter version. `ensureOnnxModel`
 * reuses it while both match and re-exports (atomically) when the model was retrained or the
 * exporter changed. A folder that cannot be written (read-only install) gets an in-memory export.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeFsError } from '../util/atomic.ts';
import { MODEL_JSON } from '../models/io.ts';
import type { HarmonizationModel } from '../pipeline/refine.ts';
import { loadHarmonizationModel } from '../pipeline/model.ts';
import { readOnnxSummary } from './onnx-proto.ts';
import { exportGeneratorToOnnx, ONNX_EXPORTER_VERSION, META_EXPORTER, META_SOURCE } from './generator.ts';

export const ONNX_FILE = 'model.onnx';

export interface OnnxArtifact {
  /** The ONNX ModelProto bytes. */
  bytes: Uint8Array;
  /** Where they are on disk, or null when the folder could not be written (in-memory export). */
  path: string | null;
  /** True when this call exported (no cache, stale cache, or unreadable cache). */
  regenerated: boolean;
  /** SHA-256 (hex) of the tfjs model the bytes were exported from. */
  digest: string;
  /** Why the cache was not used or not written, if so. */
  note?: string;
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

/** Reads a cached model.onnx and says whether it matches `digest` (false for a missing or unreadable file). */
async function readFresh(path: string, digest: string): Promise<{ bytes: Uint8Array } | { stale: string }> {
  if (!existsSync(path)) return { stale: 'no cached model.onnx' };
  try {
    const bytes = new Uint8Array(await fsp.readFile(path));
    const meta = readOnnxSummary(bytes).metadata;
    if (meta[META_EXPORTER] !== ONNX_EXPORTER_VERSION) return { stale: `cached model.onnx is from exporter ${meta[META_EXPORTER] ?? '?'}, now ${ONNX_EXPORTER_VERSION}` };
    if (meta[META_SOURCE] !== digest) return { stale: 'cached model.onnx is stale (the tfjs model changed)' };
    return { bytes };
  } catch (err) {
    return { stale: `cached model.onnx is unreadable (${(err as Error).message})` };
  }
}

/**
 * The ONNX export of model folder `dir`, from the cache when fresh, otherwise exported and cached
 * (unless `write` is false). Pass `model` when it is already loaded to avoid loading it again;
 * loading needs an initialised TensorFlow.js backend.
 */
export async function ensureOnnxModel(dir: string, opts: { model?: HarmonizationModel; write?: boolean } = {}): Promise<OnnxArtifact> {
  const digest = await modelSourceDigest(dir);
  const path = join(dir, ONNX_FILE);
  const cached = await readFresh(path, digest);
  if ('bytes' in cached) return { bytes: cached.bytes, path, regenerated: false, digest };
  const model = opts.model ?? (await loadHarmonizationModel(dir));
  const bytes = exportGeneratorToOnnx(model.generator, model.config, { metadata: { [META_SOURCE]: digest } });
  if (opts.write === false) return { bytes, path: null, regenerated: true, digest, note: cached.stale };
  try {
    await writeFileAtomic(path, bytes);
    return { bytes, path, regenerated: true, digest, note: cached.stale };
  } catch (err) {
    return { bytes, path: null, regenerated: true, digest, note: `${cached.stale}; not cached: ${(err as Error).message}` };
  }
}
